//! Melody events → one ABC tune.
//!
//! The unit length is one grid step, so every length is a whole number. Bar lines fall every bar
//! of the metre from the first step (the melody starts on a downbeat); a note that crosses one is
//! split and tied, a rest just split. Pitches are spelt from the key: scale notes by their letter,
//! others as a natural or, off the white keys, as a sharp in sharp keys and a flat in flat keys.
//! Accidentals are written where the key signature and the accidentals earlier in the bar would
//! give another pitch, and also where the same letter was altered in another octave of the bar,
//! so that readers that carry accidentals across octaves agree.

use super::fields::{KeySignature, LETTERS, NATURAL_PITCH_CLASSES, parse_key};
use super::lexer::MAX_NUMBER;
use crate::music::score::pitch_class_name;
use crate::music::{Key, Melody, MelodyEvent, Mode, TimeSignature};
use std::fmt::Write;

/// What the header of a written tune says.
#[derive(Debug, Clone, PartialEq)]
pub struct AbcHeader {
    /// `X:`
    pub reference: u32,
    /// `T:` (line breaks become spaces).
    pub title: String,
    pub time_signature: TimeSignature,
    /// Spells the notes and gives the `K:` field.
    pub key: Key,
    /// Quarter notes per minute.
    pub bpm: f64,
}

impl Default for AbcHeader {
    fn default() -> Self {
        Self {
            reference: 1,
            title: "Untitled".into(),
            time_signature: TimeSignature::COMMON,
            key: Key::C_MAJOR,
            bpm: 120.0,
        }
    }
}

/// Bars per line of music.
const BARS_PER_LINE: u32 = 4;

/// Writes `melody` as one tune: `X:`, `T:`, `M:`, `L:`, `Q:`, `K:`, then the body.
pub fn write_abc(melody: &Melody, header: &AbcHeader) -> String {
    let steps_per_quarter = melody.grid.steps_per_quarter;
    let (key_field, signature) = key_spelling(header.key);
    let ts = header.time_signature;
    let mut text = String::new();
    let title = header.title.replace(['\r', '\n'], " ");
    let _ = writeln!(text, "X:{}\nT:{title}", header.reference);
    let _ = writeln!(text, "M:{}/{}", ts.numerator, ts.denominator);
    let _ = writeln!(text, "L:1/{}", 4 * steps_per_quarter);
    let _ = writeln!(text, "Q:1/4={}", format_bpm(header.bpm));
    let _ = writeln!(text, "K:{key_field}");

    // A bar that is not a whole number of steps (3/8 on a triplet grid) gets the nearest one.
    let bar_steps = (ts.bar_quarters() * f64::from(steps_per_quarter))
        .round()
        .max(1.0) as u32;
    let compound = ts.denominator == 8 && ts.numerator.is_multiple_of(3) && ts.numerator > 3;
    let beat_quarters = if compound {
        1.5
    } else {
        4.0 / f64::from(ts.denominator)
    };
    let beat_steps = whole_steps(beat_quarters, steps_per_quarter).filter(|&b| b > 0);

    let mut body = Body {
        text: String::new(),
        spelling: Spelling::new(signature),
    };
    let mut position = 0u32;
    for (pitch, length) in runs(&melody.events) {
        let mut remaining = length;
        while remaining > 0 {
            if position > 0 && position.is_multiple_of(bar_steps) {
                body.bar_line(position / bar_steps);
            } else if position > 0 && beat_steps.is_some_and(|beat| position.is_multiple_of(beat)) {
                body.text.push(' ');
            }
            // Up to the bar line, and never longer than a reader accepts.
            let part = remaining
                .min(bar_steps - position % bar_steps)
                .min(MAX_NUMBER);
            body.sound(pitch, part);
            remaining -= part;
            position += part;
            if remaining > 0 && pitch.is_some() {
                body.text.push('-');
            }
        }
    }
    text.push_str(&body.text);
    text.push_str(" |]\n");
    text
}

/// The body being written, and the accidentals of its current bar.
struct Body {
    text: String,
    spelling: Spelling,
}

impl Body {
    /// The bar line before bar `bar` (0-based), and a line break every [`BARS_PER_LINE`] bars.
    fn bar_line(&mut self, bar: u32) {
        self.text.push_str(if bar.is_multiple_of(BARS_PER_LINE) {
            " |\n"
        } else {
            " | "
        });
        self.spelling.new_bar();
    }

    fn sound(&mut self, pitch: Option<u8>, length: u32) {
        match pitch {
            Some(pitch) => self.spelling.write(&mut self.text, pitch),
            None => self.text.push('z'),
        }
        if length != 1 {
            let _ = write!(self.text, "{length}");
        }
    }
}

/// Spells pitches in a key and remembers the accidentals written in the current bar.
struct Spelling {
    signature: KeySignature,
    prefer_flats: bool,
    /// (letter, octave) → alteration written in this bar.
    bar: Vec<((usize, i32), i8)>,
}

impl Spelling {
    fn new(signature: KeySignature) -> Self {
        Self {
            signature,
            prefer_flats: fifths(&signature) < 0,
            bar: Vec::new(),
        }
    }

    fn new_bar(&mut self) {
        self.bar.clear();
    }

    /// Letter and alteration for a pitch class: the scale's own letter if it has one.
    fn letter_for(&self, pitch_class: i32) -> (usize, i8) {
        let in_key = (0..7).find(|&letter| {
            (NATURAL_PITCH_CLASSES[letter] + i32::from(self.signature.alterations[letter]))
                .rem_euclid(12)
                == pitch_class
        });
        if let Some(letter) = in_key {
            return (letter, self.signature.alterations[letter]);
        }
        let natural = |pc: i32| {
            NATURAL_PITCH_CLASSES
                .iter()
                .position(|&n| n == pc.rem_euclid(12))
        };
        if let Some(letter) = natural(pitch_class) {
            return (letter, 0);
        }
        match (
            self.prefer_flats,
            natural(pitch_class + 1),
            natural(pitch_class - 1),
        ) {
            (true, Some(above), _) => (above, -1),
            (_, _, Some(below)) => (below, 1),
            // Unreachable: a black key always has white neighbours.
            (_, Some(above), None) => (above, -1),
            (_, None, None) => (0, 0),
        }
    }

    fn write(&mut self, text: &mut String, pitch: u8) {
        let (letter, alteration) = self.letter_for(i32::from(pitch) % 12);
        let octave =
            (i32::from(pitch) - i32::from(alteration) - NATURAL_PITCH_CLASSES[letter]) / 12 - 1;
        let place = (letter, octave);
        let in_force = self
            .bar
            .iter()
            .find(|(p, _)| *p == place)
            .map_or(self.signature.alterations[letter], |(_, a)| *a);
        let other_octave_differs = self
            .bar
            .iter()
            .any(|&((l, o), a)| l == letter && o != octave && a != alteration);
        if in_force != alteration || other_octave_differs {
            text.push_str(match alteration {
                2 => "^^",
                1 => "^",
                0 => "=",
                -1 => "_",
                _ => "__",
            });
            self.bar.retain(|(p, _)| *p != place);
            self.bar.push((place, alteration));
        }
        let name = LETTERS.as_bytes()[letter] as char;
        if octave >= 5 {
            text.push(name.to_ascii_lowercase());
            text.extend(std::iter::repeat_n('\'', (octave - 5) as usize));
        } else {
            text.push(name);
            text.extend(std::iter::repeat_n(',', (4 - octave) as usize));
        }
    }
}

/// The melody as (pitch or rest, length in steps) runs. Holds before the first event are silence.
fn runs(events: &[MelodyEvent]) -> Vec<(Option<u8>, u32)> {
    let mut runs: Vec<(Option<u8>, u32)> = Vec::new();
    for event in events {
        match (event, runs.last_mut()) {
            (MelodyEvent::Hold, Some(last)) => last.1 += 1,
            (MelodyEvent::Hold | MelodyEvent::Rest, _) => runs.push((None, 1)),
            (MelodyEvent::NoteOn(pitch), _) => runs.push((Some(*pitch), 1)),
        }
    }
    runs
}

/// `quarters` as a whole number of steps, if it is one.
fn whole_steps(quarters: f64, steps_per_quarter: u32) -> Option<u32> {
    let steps = quarters * f64::from(steps_per_quarter);
    (steps.fract() == 0.0 && steps >= 0.0 && steps <= f64::from(u32::MAX)).then_some(steps as u32)
}

/// `120`, or `92.5` when the tempo is not whole.
fn format_bpm(bpm: f64) -> String {
    let bpm = if bpm.is_finite() && bpm > 0.0 {
        bpm
    } else {
        120.0
    };
    let rounded = (bpm * 1000.0).round() / 1000.0;
    format!("{rounded}")
}

/// The `K:` value for a key and the signature it reads as. A black-key tonic is spelt as a sharp
/// or a flat, whichever gives the smaller signature (sharps on a tie: `F#`, not `Gb`).
fn key_spelling(key: Key) -> (String, KeySignature) {
    let mode = match key.mode {
        Mode::Major => "",
        Mode::Minor => "m",
        Mode::Dorian => "dor",
        Mode::Phrygian => "phr",
        Mode::Lydian => "lyd",
        Mode::Mixolydian => "mix",
        Mode::Locrian => "loc",
    };
    let spelt = |flats| {
        let field = format!("{}{mode}", pitch_class_name(key.tonic, flats));
        let signature = parse_key(&field);
        (field, signature)
    };
    let (sharps, flats) = (spelt(false), spelt(true));
    if fifths(&flats.1).abs() < fifths(&sharps.1).abs() {
        flats
    } else {
        sharps
    }
}

/// Sharps (positive) or flats (negative) in a signature.
fn fifths(signature: &KeySignature) -> i32 {
    signature.alterations.iter().map(|&a| i32::from(a)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::StepGrid;
    use MelodyEvent::{Hold, NoteOn, Rest};

    fn body(events: Vec<MelodyEvent>, header: &AbcHeader) -> String {
        let melody = Melody {
            grid: StepGrid::SIXTEENTHS,
            events,
        };
        let text = write_abc(&melody, header);
        let body = text.lines().skip(6).collect::<Vec<_>>().join("\n");
        body.trim_end_matches(" |]").to_string()
    }

    #[test]
    fn header_fields() {
        let melody = Melody {
            grid: StepGrid::new(2),
            events: vec![NoteOn(60)],
        };
        let header = AbcHeader {
            reference: 7,
            title: "Two\nlines".into(),
            time_signature: TimeSignature {
                numerator: 6,
                denominator: 8,
            },
            key: Key {
                tonic: 10,
                mode: Mode::Minor,
            },
            bpm: 92.5,
        };
        let text = write_abc(&melody, &header);
        assert!(
            text.starts_with("X:7\nT:Two lines\nM:6/8\nL:1/8\nQ:1/4=92.5\nK:Bbm\n"),
            "{text}"
        );
    }

    #[test]
    fn notes_cross_bar_lines_tied_and_rests_split() {
        let mut events = vec![NoteOn(60)];
        events.extend([Hold; 19]);
        events.push(Rest);
        events.extend([Hold; 13]);
        events.push(NoteOn(72));
        assert_eq!(body(events, &AbcHeader::default()), "C16- | C4 z12 | z2c");
    }

    #[test]
    fn a_line_break_every_four_bars() {
        let bar = || std::iter::once(NoteOn(60)).chain([Hold; 15]);
        let events: Vec<_> = (0..6).flat_map(|_| bar()).collect();
        assert_eq!(
            body(events, &AbcHeader::default()),
            "C16 | C16 | C16 | C16 |\nC16 | C16"
        );
    }

    #[test]
    fn accidentals_are_written_against_key_and_bar() {
        let header = AbcHeader {
            key: Key {
                tonic: 7,
                mode: Mode::Major,
            },
            ..AbcHeader::default()
        };
        // F#, F natural, F natural again, F# (needs a sharp again), then a new bar.
        let events = vec![
            NoteOn(66),
            Hold,
            Hold,
            Hold,
            NoteOn(65),
            Hold,
            Hold,
            Hold,
            NoteOn(65),
            Hold,
            Hold,
            Hold,
            NoteOn(66),
            Hold,
            Hold,
            Hold,
            NoteOn(65),
            Hold,
            Hold,
            Hold,
            NoteOn(78),
            Hold,
            Hold,
            Hold,
            NoteOn(61),
            Hold,
            Hold,
            Hold,
            NoteOn(49),
        ];
        assert_eq!(body(events, &header), "F4 =F4 F4 ^F4 | =F4 ^f4 ^C4 ^C,");
    }

    #[test]
    fn flats_in_flat_keys_and_octave_marks() {
        let header = AbcHeader {
            key: Key {
                tonic: 5,
                mode: Mode::Major,
            },
            ..AbcHeader::default()
        };
        let events = vec![NoteOn(70), NoteOn(63), NoteOn(36), NoteOn(96), NoteOn(71)];
        assert_eq!(body(events, &header), "B_EC,,c'' =B");
    }
}
