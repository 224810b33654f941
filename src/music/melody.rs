//! Melody events: the monophonic, one-token-per-step encoding the instrument plays.
//!
//! Token `0` = HOLD (whatever sounds continues, a note or a silence), `1` = REST (note off),
//! `2 + (pitch − 36)` = NOTE_ON for pitches 36..=96, 63 tokens in all.
//! Encoding is canonical: REST appears only where a note stops and silence begins, so
//! events → notes → events is the identity.

use super::grid::StepGrid;
use super::score::Note;

/// Lowest pitch a melody token can name (C2).
pub const MIN_PITCH: u8 = 36;
/// Highest pitch a melody token can name (C7).
pub const MAX_PITCH: u8 = 96;
pub const HOLD_TOKEN: u32 = 0;
pub const REST_TOKEN: u32 = 1;
const FIRST_NOTE_TOKEN: u32 = 2;
/// Number of distinct melody tokens.
pub const VOCAB_SIZE: usize = (FIRST_NOTE_TOKEN + (MAX_PITCH - MIN_PITCH) as u32 + 1) as usize;

/// What happens at one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MelodyEvent {
    Hold,
    Rest,
    NoteOn(u8),
}

impl MelodyEvent {
    pub fn token(self) -> u32 {
        match self {
            MelodyEvent::Hold => HOLD_TOKEN,
            MelodyEvent::Rest => REST_TOKEN,
            MelodyEvent::NoteOn(pitch) => {
                debug_assert!((MIN_PITCH..=MAX_PITCH).contains(&pitch));
                FIRST_NOTE_TOKEN + u32::from(pitch - MIN_PITCH)
            }
        }
    }

    /// The event a token stands for, or `None` for a token outside the vocabulary.
    pub fn from_token(token: u32) -> Option<Self> {
        match token {
            HOLD_TOKEN => Some(MelodyEvent::Hold),
            REST_TOKEN => Some(MelodyEvent::Rest),
            t if (t as usize) < VOCAB_SIZE => Some(MelodyEvent::NoteOn(
                MIN_PITCH + (t - FIRST_NOTE_TOKEN) as u8,
            )),
            _ => None,
        }
    }
}

/// Moves a pitch by octaves into `MIN_PITCH..=MAX_PITCH`; says whether it had to.
pub fn fold_pitch(pitch: u8) -> (u8, bool) {
    let mut folded = pitch;
    while folded < MIN_PITCH {
        folded += 12;
    }
    while folded > MAX_PITCH {
        folded -= 12;
    }
    (folded, folded != pitch)
}

/// A monophonic melody on a step grid.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Melody {
    pub grid: StepGrid,
    pub events: Vec<MelodyEvent>,
}

/// What [`Melody::from_notes`] had to change to fit the encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncodeReport {
    /// Notes moved by octaves into the pitch range.
    pub folded: usize,
    /// Notes hidden under a higher note (skyline) or lost to quantisation.
    pub hidden: usize,
}

impl Melody {
    /// Quantises notes onto the grid and keeps the highest sounding note at every step (skyline).
    ///
    /// Each note covers the steps from its rounded onset to its rounded release (at least one).
    /// A step starts a note when its top note begins there, or when the top note changes to one
    /// that was already sounding underneath (the lower note is re-struck).
    pub fn from_notes(notes: &[Note], grid: StepGrid) -> (Melody, EncodeReport) {
        let mut report = EncodeReport::default();
        let spans: Vec<(u32, u32, u8)> = notes
            .iter()
            .map(|n| {
                let start = grid.step_at(n.start);
                let end = grid.step_at(n.end).max(start + 1);
                let (pitch, folded) = fold_pitch(n.pitch);
                report.folded += usize::from(folded);
                (start, end, pitch)
            })
            .collect();
        let length = spans.iter().map(|s| s.1).max().unwrap_or(0);
        // For every step, the index of the sounding span with the highest pitch; on equal pitch the
        // latest onset wins, so a re-struck note shows as a new onset.
        let mut top: Vec<Option<usize>> = vec![None; length as usize];
        for (index, &(start, end, pitch)) in spans.iter().enumerate() {
            for slot in &mut top[start as usize..end as usize] {
                let wins = match *slot {
                    None => true,
                    Some(other) => {
                        let (other_start, _, other_pitch) = spans[other];
                        (pitch, start) > (other_pitch, other_start)
                    }
                };
                if wins {
                    *slot = Some(index);
                }
            }
        }
        let mut events = Vec::with_capacity(top.len());
        let mut previous: Option<Option<usize>> = None;
        let mut shown = std::collections::HashSet::new();
        for current in top {
            let event = match (previous, current) {
                (Some(p), c) if p == c => MelodyEvent::Hold,
                (_, Some(index)) => {
                    shown.insert(index);
                    MelodyEvent::NoteOn(spans[index].2)
                }
                (Some(None), None) => MelodyEvent::Hold,
                (_, None) => MelodyEvent::Rest,
            };
            events.push(event);
            previous = Some(current);
        }
        report.hidden = spans.len() - shown.len();
        (Melody { grid, events }, report)
    }

    /// The notes the events describe, at velocity `velocity`, timed in quarter notes.
    pub fn to_notes(&self, velocity: u8) -> Vec<Note> {
        let mut notes = Vec::new();
        let mut sounding: Option<(u8, u32)> = None;
        let close = |sounding: &mut Option<(u8, u32)>, step: u32, notes: &mut Vec<Note>| {
            if let Some((pitch, start)) = sounding.take() {
                notes.push(Note {
                    pitch,
                    start: self.grid.quarters_at(start),
                    end: self.grid.quarters_at(step),
                    velocity,
                });
            }
        };
        for (step, event) in self.events.iter().enumerate() {
            let step = step as u32;
            match *event {
                MelodyEvent::Hold => {}
                MelodyEvent::Rest => close(&mut sounding, step, &mut notes),
                MelodyEvent::NoteOn(pitch) => {
                    close(&mut sounding, step, &mut notes);
                    sounding = Some((pitch, step));
                }
            }
        }
        close(&mut sounding, self.events.len() as u32, &mut notes);
        notes
    }

    pub fn tokens(&self) -> Vec<u32> {
        self.events.iter().map(|e| e.token()).collect()
    }

    /// Decodes tokens; `None` if any token is outside the vocabulary.
    pub fn from_tokens(tokens: &[u32], grid: StepGrid) -> Option<Melody> {
        let events = tokens
            .iter()
            .map(|&t| MelodyEvent::from_token(t))
            .collect::<Option<Vec<_>>>()?;
        Some(Melody { grid, events })
    }

    /// Pitches of the note onsets, in order (the input of the tonality metrics).
    pub fn pitches(&self) -> Vec<u8> {
        self.events
            .iter()
            .filter_map(|e| match e {
                MelodyEvent::NoteOn(p) => Some(*p),
                _ => None,
            })
            .collect()
    }

    /// Number of note onsets.
    pub fn note_count(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, MelodyEvent::NoteOn(_)))
            .count()
    }

    /// Lowest and highest pitch played, if any note is.
    pub fn pitch_range(&self) -> Option<(u8, u8)> {
        let pitches = self.pitches();
        Some((*pitches.iter().min()?, *pitches.iter().max()?))
    }

    /// The same melody moved by `semitones`, or `None` if a note would leave the pitch range.
    pub fn transposed(&self, semitones: i32) -> Option<Melody> {
        let events = self
            .events
            .iter()
            .map(|e| match *e {
                MelodyEvent::NoteOn(p) => {
                    let moved = i32::from(p) + semitones;
                    (i32::from(MIN_PITCH)..=i32::from(MAX_PITCH))
                        .contains(&moved)
                        .then_some(MelodyEvent::NoteOn(moved as u8))
                }
                other => Some(other),
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Melody {
            grid: self.grid,
            events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::canonical_events;
    use crate::testing::note;
    use proptest::prelude::*;

    #[test]
    fn tokens_cover_the_pitch_range() {
        assert_eq!(VOCAB_SIZE, 63);
        assert_eq!(MelodyEvent::NoteOn(36).token(), 2);
        assert_eq!(MelodyEvent::NoteOn(96).token(), 62);
        assert_eq!(MelodyEvent::from_token(63), None);
    }

    #[test]
    fn skyline_keeps_the_top_note_and_restrikes_the_one_beneath() {
        // A held C4 under a short E4: C4 sounds again when the E4 stops.
        let notes = [note(60, 0.0, 2.0), note(64, 0.0, 0.5)];
        let (melody, report) = Melody::from_notes(&notes, StepGrid::SIXTEENTHS);
        use MelodyEvent::*;
        assert_eq!(
            melody.events,
            vec![NoteOn(64), Hold, NoteOn(60), Hold, Hold, Hold, Hold, Hold]
        );
        assert_eq!(report.hidden, 0);
    }

    #[test]
    fn out_of_range_notes_are_folded_and_counted() {
        let notes = [note(24, 0.0, 1.0), note(100, 1.0, 2.0)];
        let (melody, report) = Melody::from_notes(&notes, StepGrid::SIXTEENTHS);
        assert_eq!(melody.pitches(), vec![36, 88]);
        assert_eq!(report.folded, 2);
    }

    #[test]
    fn silence_between_notes_is_one_rest_then_holds() {
        let notes = [note(60, 0.0, 0.25), note(62, 1.0, 1.25)];
        let (melody, _) = Melody::from_notes(&notes, StepGrid::SIXTEENTHS);
        use MelodyEvent::*;
        assert_eq!(
            melody.events,
            vec![NoteOn(60), Rest, Hold, Hold, NoteOn(62)]
        );
    }

    proptest! {
        #[test]
        fn events_survive_notes_and_tokens(events in canonical_events()) {
            let melody = Melody { grid: StepGrid::SIXTEENTHS, events };
            let back = Melody::from_tokens(&melody.tokens(), melody.grid).unwrap();
            prop_assert_eq!(&back, &melody);
            let notes = melody.to_notes(90);
            let (again, report) = Melody::from_notes(&notes, melody.grid);
            prop_assert_eq!(report, EncodeReport::default());
            prop_assert_eq!(again, melody);
        }
    }
}
