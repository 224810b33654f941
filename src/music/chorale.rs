//! Four-voice chorale encoding (DeepBach): soprano, alto, tenor and bass on one step grid, one
//! melody-event token stream per voice, all of the same length, with the key and metre beside them.

use super::grid::StepGrid;
use super::melody::{EncodeReport, Melody, MelodyEvent};
use super::score::{Key, Note, TimeSignature};

/// Voice names in stream order.
pub const VOICE_NAMES: [&str; 4] = ["Soprano", "Alto", "Tenor", "Bass"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chorale {
    pub key: Option<Key>,
    pub time_signature: TimeSignature,
    /// Soprano, alto, tenor, bass; every voice has the same number of steps.
    pub voices: [Melody; 4],
}

impl Chorale {
    /// Encodes four voices (each monophonic; a chord inside a voice keeps its top note).
    pub fn from_voices(
        voices: [&[Note]; 4],
        key: Option<Key>,
        time_signature: TimeSignature,
        grid: StepGrid,
    ) -> (Chorale, EncodeReport) {
        let mut report = EncodeReport::default();
        let mut melodies = voices.map(|notes| {
            let (melody, r) = Melody::from_notes(notes, grid);
            report.folded += r.folded;
            report.hidden += r.hidden;
            melody
        });
        let length = melodies.iter().map(|m| m.events.len()).max().unwrap_or(0);
        for melody in &mut melodies {
            pad_with_silence(melody, length);
        }
        let chorale = Chorale {
            key,
            time_signature,
            voices: melodies,
        };
        (chorale, report)
    }

    pub fn grid(&self) -> StepGrid {
        self.voices[0].grid
    }

    /// Steps in every voice.
    pub fn len(&self) -> usize {
        self.voices[0].events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One token stream per voice.
    pub fn tokens(&self) -> [Vec<u32>; 4] {
        self.voices.each_ref().map(|v| v.tokens())
    }

    /// Position of every step inside its bar, counted in steps from the downbeat (DeepBach's
    /// "tick" metadata). Assumes the piece starts on a downbeat.
    pub fn bar_positions(&self) -> Vec<u32> {
        let steps_per_bar = (self.time_signature.bar_quarters()
            * f64::from(self.grid().steps_per_quarter))
        .round()
        .max(1.0) as u32;
        (0..self.len() as u32).map(|s| s % steps_per_bar).collect()
    }

    /// All four voices moved by `semitones`, or `None` if any note would leave the range.
    pub fn transposed(&self, semitones: i32) -> Option<Chorale> {
        let [s, a, t, b] = &self.voices;
        Some(Chorale {
            key: self.key.map(|k| Key {
                tonic: (i32::from(k.tonic) + semitones).rem_euclid(12) as u8,
                mode: k.mode,
            }),
            time_signature: self.time_signature,
            voices: [
                s.transposed(semitones)?,
                a.transposed(semitones)?,
                t.transposed(semitones)?,
                b.transposed(semitones)?,
            ],
        })
    }
}

/// Extends a melody to `length` steps without extending its last note.
fn pad_with_silence(melody: &mut Melody, length: usize) {
    if melody.events.len() >= length {
        return;
    }
    let sounding = melody
        .events
        .iter()
        .rev()
        .find(|e| **e != MelodyEvent::Hold)
        .is_some_and(|e| matches!(e, MelodyEvent::NoteOn(_)));
    if sounding || melody.events.is_empty() {
        melody.events.push(MelodyEvent::Rest);
    }
    melody.events.resize(length, MelodyEvent::Hold);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::note;
    use MelodyEvent::*;

    #[test]
    fn voices_are_aligned_and_padded_with_silence() {
        let soprano = [note(72, 0.0, 1.0)];
        let alto = [note(67, 0.0, 0.5)];
        let tenor = [note(64, 0.0, 1.0)];
        let bass: [Note; 0] = [];
        let (chorale, _) = Chorale::from_voices(
            [&soprano, &alto, &tenor, &bass],
            Some(Key::C_MAJOR),
            TimeSignature::COMMON,
            StepGrid::SIXTEENTHS,
        );
        assert_eq!(chorale.len(), 4);
        assert_eq!(chorale.voices[1].events, vec![NoteOn(67), Hold, Rest, Hold]);
        assert_eq!(chorale.voices[3].events, vec![Rest, Hold, Hold, Hold]);
        assert_eq!(chorale.voices[1].to_notes(100), alto.to_vec());
        assert_eq!(chorale.bar_positions(), vec![0, 1, 2, 3]);
        let up = chorale.transposed(2).unwrap();
        assert_eq!(up.key.unwrap().tonic, 2);
        assert_eq!(up.voices[0].pitches(), vec![74]);
    }
}
