//! Tokens → what sounds, in written order.
//!
//! Here the notation gets its meaning: pitches from the key signature and from accidentals that
//! last to the bar line, durations from the unit length, broken rhythms and tuplets, ties marked
//! on the note they start from. Bar lines
//! and endings stay in the output as markers for the repeat pass; metre, key and tempo changes
//! stay as markers for the timeline.

use super::AbcWarning;
use super::fields::{
    KeySignature, NATURAL_PITCH_CLASSES, default_unit_length, parse_key, parse_meter, parse_tempo,
    parse_unit_length,
};
use super::lexer::{BarLine, Length, MAX_WARNINGS, Token, TokenKind, WrittenNote};
use crate::formats::ReadError;
use crate::music::{Key, TimeSignature};

/// One element of a tune in written order.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Item {
    Sound(Sound),
    Bar(BarLine),
    Ending(Vec<u32>),
    Meter(TimeSignature),
    Key(Key),
    /// Quarter notes per minute.
    Tempo(f64),
}

/// A note (or, with no pitch, a rest) with its duration in quarter notes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Sound {
    pub pitch: Option<u8>,
    pub duration: f64,
    /// Tied to the next sound: if that has the same pitch, the two are one note.
    pub tied: bool,
}

/// The tuplet in force: how many notes it still covers, and their time factor (`q/p`).
#[derive(Debug, Clone, Copy)]
struct Tuplet {
    factor: f64,
    remaining: u32,
}

/// A note that a tie carries over: its written letter and octave, and the pitch it sounded.
#[derive(Debug, Clone, Copy)]
struct TiedNote {
    letter: usize,
    octave: i32,
    pitch: u8,
}

/// How far an accidental reaches until the bar line (`%%propagate-accidentals`, ABC 2.1 §11.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum AccidentalScope {
    /// `not`: only the note it is written on.
    Note,
    /// `octave`: later notes of the same letter in the same octave.
    Octave,
    /// `pitch`, the standard's default (and music21's): the same letter in every octave.
    #[default]
    Letter,
}

impl AccidentalScope {
    fn named(name: &str) -> Option<Self> {
        match name {
            "not" => Some(Self::Note),
            "octave" => Some(Self::Octave),
            "pitch" => Some(Self::Letter),
            _ => None,
        }
    }
}

/// The accidentals written in the current bar.
#[derive(Debug, Default)]
struct BarAccidentals {
    scope: AccidentalScope,
    /// (letter, octave, alteration), the latest last.
    written: Vec<(usize, i32, i8)>,
}

impl BarAccidentals {
    fn write(&mut self, (letter, octave): (usize, i32), alteration: i8) {
        if self.scope != AccidentalScope::Note {
            self.written.retain(|w| (w.0, w.1) != (letter, octave));
            self.written.push((letter, octave, alteration));
        }
    }

    /// The alteration an unmarked note at (letter, octave) takes from earlier in the bar, if any.
    fn in_force(&self, (letter, octave): (usize, i32)) -> Option<i8> {
        let reaches = |w: &&(usize, i32, i8)| {
            w.0 == letter && (self.scope == AccidentalScope::Letter || w.1 == octave)
        };
        self.written.iter().rev().find(reaches).map(|w| w.2)
    }

    fn clear(&mut self) {
        self.written.clear();
    }
}

/// Interprets the tokens of one tune (header fields included). Only the voice named
/// `kept_voice` (the first one declared) is read; others are skipped.
pub(super) fn interpret(
    tokens: &[Token],
    kept_voice: Option<String>,
    warnings: &mut Vec<AbcWarning>,
) -> Result<Vec<Item>, ReadError> {
    let mut interpreter = Interpreter {
        warnings,
        items: Vec::new(),
        unit: None,
        meter: None,
        signature: KeySignature::NONE,
        bar_accidentals: BarAccidentals::default(),
        tuplet: None,
        broken_next: None,
        tied: None,
        last_note: None,
        kept_voice,
        in_other_voice: false,
        in_overlay: false,
    };
    for token in tokens {
        interpreter.token(token)?;
    }
    Ok(interpreter.items)
}

struct Interpreter<'a> {
    warnings: &'a mut Vec<AbcWarning>,
    items: Vec<Item>,
    /// Unit note length in quarter notes, once `L:` (or the first `M:`) has set it.
    unit: Option<f64>,
    meter: Option<TimeSignature>,
    signature: KeySignature,
    bar_accidentals: BarAccidentals,
    tuplet: Option<Tuplet>,
    /// Factor a broken rhythm left for the next sound.
    broken_next: Option<f64>,
    /// The note the last tie started from, until the next sound.
    tied: Option<TiedNote>,
    /// Letter, octave and pitch of the last note (a chord's top note) emitted.
    last_note: Option<TiedNote>,
    kept_voice: Option<String>,
    in_other_voice: bool,
    /// After `&`, until the bar line: a second voice, skipped.
    in_overlay: bool,
}

impl Interpreter<'_> {
    fn warn(&mut self, token: &Token, message: impl Into<String>) {
        if self.warnings.len() >= MAX_WARNINGS {
            return;
        }
        self.warnings.push(AbcWarning {
            line: token.line,
            column: token.column,
            message: message.into(),
        });
    }

    fn token(&mut self, token: &Token) -> Result<(), ReadError> {
        if let TokenKind::Field { name: 'V', value } = &token.kind {
            self.switch_voice(value);
            return Ok(());
        }
        if self.in_other_voice {
            return Ok(());
        }
        if self.in_overlay {
            if !matches!(token.kind, TokenKind::Bar(_)) {
                return Ok(());
            }
            self.in_overlay = false;
        }
        match &token.kind {
            TokenKind::Note(note) => self.note(token, note)?,
            TokenKind::Chord {
                notes,
                length,
                tied,
            } => self.chord(token, notes, *length, *tied)?,
            TokenKind::Rest(length) => {
                let duration = self.duration(length.value());
                if duration > 0.0 {
                    self.sound(None, duration);
                }
            }
            TokenKind::MeasureRest(bars) => {
                let bar = self.meter.unwrap_or(TimeSignature::COMMON).bar_quarters();
                self.sound(None, f64::from(*bars) * bar);
            }
            TokenKind::Bar(bar) => {
                self.bar_accidentals.clear();
                self.items.push(Item::Bar(*bar));
            }
            TokenKind::Ending(passes) => self.items.push(Item::Ending(passes.clone())),
            TokenKind::Tie => self.tie(token),
            TokenKind::BrokenRhythm {
                first_longer,
                strength,
            } => self.broken_rhythm(token, *first_longer, *strength),
            TokenKind::Tuplet { p, q, r } => self.tuplet(*p, *q, *r),
            TokenKind::Field { name, value } => self.field(token, *name, value)?,
            TokenKind::Overlay => self.in_overlay = true,
            TokenKind::Grace(notes) => {
                for note in notes {
                    if let Some(alteration) = note.accidental {
                        let place = (note.letter, note.octave);
                        self.bar_accidentals.write(place, alteration);
                    }
                }
            }
        }
        Ok(())
    }

    fn note(&mut self, token: &Token, note: &WrittenNote) -> Result<(), ReadError> {
        if note.length.numerator == 0 {
            self.warn(token, "note of zero length skipped");
            return Ok(());
        }
        let pitch = self.pitch(note, token)?;
        self.last_note = Some(TiedNote {
            letter: note.letter,
            octave: note.octave,
            pitch,
        });
        let duration = self.duration(note.length.value());
        self.sound(Some(pitch), duration);
        Ok(())
    }

    /// A chord sounds its top note, for its first note's length times the length after it;
    /// every note still counts for accidentals.
    fn chord(
        &mut self,
        token: &Token,
        notes: &[WrittenNote],
        length: Length,
        tied: bool,
    ) -> Result<(), ReadError> {
        let mut top: Option<TiedNote> = None;
        for note in notes {
            let pitch = self.pitch(note, token)?;
            if top.is_none_or(|t| pitch > t.pitch) {
                top = Some(TiedNote {
                    letter: note.letter,
                    octave: note.octave,
                    pitch,
                });
            }
        }
        let length = notes.first().map_or(0.0, |n| n.length.value()) * length.value();
        if length == 0.0 {
            self.warn(token, "chord of zero length skipped");
            return Ok(());
        }
        self.last_note = top;
        let duration = self.duration(length);
        self.sound(top.map(|t| t.pitch), duration);
        if tied {
            self.tie(token);
        }
        Ok(())
    }

    /// `(p:q:r`: the next `r` notes (default `p`) take the time of `q`; `q` defaults as in
    /// ABC 2.1, 3 for compound metres where it depends on the metre.
    fn tuplet(&mut self, p: u32, q: Option<u32>, r: Option<u32>) {
        let compound = self
            .meter
            .is_some_and(|m| m.numerator.is_multiple_of(3) && m.numerator > 3);
        let q = q.unwrap_or(match p {
            2 | 4 | 8 => 3,
            3 | 6 => 2,
            5 | 7 | 9 if compound => 3,
            _ => 2,
        });
        let remaining = r.unwrap_or(p);
        self.tuplet = (remaining > 0).then(|| Tuplet {
            factor: f64::from(q) / f64::from(p),
            remaining,
        });
    }

    /// `V:` switches voice; the first voice named is the one kept.
    fn switch_voice(&mut self, value: &str) {
        let id = value.split_whitespace().next().unwrap_or("").to_string();
        let kept = self.kept_voice.get_or_insert_with(|| id.clone());
        self.in_other_voice = *kept != id;
    }

    fn field(&mut self, token: &Token, name: char, value: &str) -> Result<(), ReadError> {
        match name {
            'L' => match parse_unit_length(value) {
                Some(unit) => self.unit = Some(unit),
                None => {
                    return Err(ReadError::Syntax {
                        line: token.line,
                        column: token.column,
                        message: format!("unreadable unit note length L:{value}"),
                    });
                }
            },
            'M' => match parse_meter(value) {
                Some(meter) => {
                    self.meter = meter;
                    self.unit.get_or_insert(default_unit_length(meter));
                    if let Some(meter) = meter {
                        self.items.push(Item::Meter(meter));
                    }
                }
                None => self.warn(token, format!("unreadable metre M:{value} ignored")),
            },
            'K' => {
                self.signature = parse_key(value);
                if let Some(key) = self.signature.key {
                    self.items.push(Item::Key(key));
                }
            }
            'Q' => match parse_tempo(value, self.unit()) {
                Some(bpm) => self.items.push(Item::Tempo(bpm)),
                None => self.warn(token, format!("unreadable tempo Q:{value} ignored")),
            },
            'I' => {
                let mut words = value.split_whitespace();
                if words.next() == Some("propagate-accidentals") {
                    match words.next().and_then(AccidentalScope::named) {
                        Some(scope) => self.bar_accidentals.scope = scope,
                        None => self.warn(token, format!("unknown I:{value} ignored")),
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn unit(&self) -> f64 {
        self.unit.unwrap_or(default_unit_length(self.meter))
    }

    /// The MIDI pitch of a written note, applying (and recording) accidentals.
    fn pitch(&mut self, note: &WrittenNote, token: &Token) -> Result<u8, ReadError> {
        let place = (note.letter, note.octave);
        let alteration = match note.accidental {
            Some(alteration) => {
                self.bar_accidentals.write(place, alteration);
                alteration
            }
            None => {
                // A tie carries its note's accidental over the bar line.
                if let Some(tied) = self.tied.filter(|t| (t.letter, t.octave) == place) {
                    return Ok(tied.pitch);
                }
                self.bar_accidentals
                    .in_force(place)
                    .unwrap_or(self.signature.alterations[note.letter])
            }
        };
        let pitch =
            12 * (note.octave + 1) + NATURAL_PITCH_CLASSES[note.letter] + i32::from(alteration);
        u8::try_from(pitch)
            .ok()
            .filter(|&p| p <= 127)
            .ok_or_else(|| ReadError::Syntax {
                line: token.line,
                column: token.column,
                message: "note outside the MIDI pitch range".into(),
            })
    }

    /// Duration in quarter notes of a sound `length` units long, under the rhythm in force.
    fn duration(&mut self, length: f64) -> f64 {
        let mut duration = self.unit() * length;
        if let Some(factor) = self.broken_next.take() {
            duration *= factor;
        }
        if let Some(tuplet) = &mut self.tuplet {
            duration *= tuplet.factor;
            tuplet.remaining -= 1;
            if tuplet.remaining == 0 {
                self.tuplet = None;
            }
        }
        duration
    }

    fn sound(&mut self, pitch: Option<u8>, duration: f64) {
        self.tied = None;
        if pitch.is_none() {
            self.last_note = None;
        }
        self.items.push(Item::Sound(Sound {
            pitch,
            duration,
            tied: false,
        }));
    }

    /// `-`: ties the last note to the next one.
    fn tie(&mut self, token: &Token) {
        match self.items.last_mut() {
            Some(Item::Sound(sound)) if sound.pitch.is_some() => {
                sound.tied = true;
                self.tied = self.last_note;
            }
            _ => self.warn(token, "tie after no note ignored"),
        }
    }

    /// `>` lengthens the sound before and shortens the one after (`<` the other way round).
    fn broken_rhythm(&mut self, token: &Token, first_longer: bool, strength: u32) {
        let short = 0.5f64.powi(strength.min(8) as i32);
        let long = 2.0 - short;
        let (before, after) = if first_longer {
            (long, short)
        } else {
            (short, long)
        };
        match self.items.last_mut() {
            Some(Item::Sound(sound)) => {
                sound.duration *= before;
                self.broken_next = Some(after);
            }
            _ => self.warn(token, "broken rhythm after no note ignored"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::abc::lexer::Lexed;

    /// (pitch, duration) of the sounds of a body, after `header` fields (K:, L:, M: lines).
    fn sounds(header: &[(char, &str)], body: &str) -> Vec<(Option<u8>, f64)> {
        let mut lexed = Lexed::default();
        for (name, value) in header {
            let kind = TokenKind::Field {
                name: *name,
                value: value.to_string(),
            };
            lexed.push(kind, 1, 1);
        }
        lexed.lex_music_line(body, 2).unwrap();
        let mut warnings = Vec::new();
        interpret(&lexed.tokens, None, &mut warnings)
            .unwrap()
            .into_iter()
            .filter_map(|item| match item {
                Item::Sound(s) => Some((s.pitch, s.duration)),
                _ => None,
            })
            .collect()
    }

    fn pitches(header: &[(char, &str)], body: &str) -> Vec<u8> {
        sounds(header, body)
            .into_iter()
            .filter_map(|s| s.0)
            .collect()
    }

    fn durations(header: &[(char, &str)], body: &str) -> Vec<f64> {
        sounds(header, body).into_iter().map(|s| s.1).collect()
    }

    const EIGHTHS: &[(char, &str)] = &[('L', "1/8")];

    #[test]
    fn octaves() {
        assert_eq!(pitches(&[], "C, C c c' c'' B,,"), [48, 60, 72, 84, 96, 47]);
    }

    #[test]
    fn lengths_multiply_the_unit() {
        assert_eq!(
            durations(EIGHTHS, "A A2 A/2 A/ A// A3/2 A3/ z3"),
            [0.5, 1.0, 0.25, 0.25, 0.125, 0.75, 0.75, 1.5]
        );
        assert_eq!(durations(&[('L', "1/16")], "A A4"), [0.25, 1.0]);
    }

    #[test]
    fn unit_length_defaults_from_the_metre() {
        assert_eq!(durations(&[('M', "2/4")], "A"), [0.25]);
        assert_eq!(durations(&[('M', "6/8")], "A"), [0.5]);
        assert_eq!(durations(&[], "A"), [0.5]);
        assert_eq!(
            durations(&[('L', "1/4"), ('M', "2/4")], "A"),
            [1.0],
            "L: wins over M:"
        );
    }

    #[test]
    fn broken_rhythm() {
        assert_eq!(
            durations(EIGHTHS, "A>B A<B A>>B c<<d"),
            [0.75, 0.25, 0.25, 0.75, 0.875, 0.125, 0.125, 0.875]
        );
        // Decorations, slurs and spaces between the notes do not matter.
        assert_eq!(
            durations(EIGHTHS, "(c<A)(A>.B) A > B"),
            [0.25, 0.75, 0.75, 0.25, 0.75, 0.25]
        );
        assert_eq!(durations(EIGHTHS, "G>c/B/"), [0.75, 0.125, 0.25]);
    }

    #[test]
    fn tuplets() {
        let third = 1.0 / 3.0;
        assert_eq!(durations(EIGHTHS, "(3abc d"), [third, third, third, 0.5]);
        assert_eq!(durations(EIGHTHS, "(2ab"), [0.75, 0.75]);
        assert_eq!(durations(EIGHTHS, "(4abcd"), [0.375; 4]);
        assert_eq!(durations(EIGHTHS, "(3:2:2ab c"), [third, third, 0.5]);
        let fifth = 0.5 * 3.0 / 5.0;
        assert_eq!(
            durations(&[('L', "1/8"), ('M', "6/8")], "(5abcde"),
            [fifth; 5]
        );
        assert_eq!(
            durations(&[('L', "1/8"), ('M', "2/4")], "(5abcde"),
            [0.2; 5]
        );
    }

    #[test]
    fn key_signatures_and_modes() {
        assert_eq!(pitches(&[('K', "G")], "F f c"), [66, 78, 72]);
        assert_eq!(pitches(&[('K', "Bb")], "B e"), [70, 75]);
        assert_eq!(pitches(&[('K', "Ador")], "F c"), [66, 72]);
        assert_eq!(pitches(&[('K', "Am")], "F G"), [65, 67]);
        assert_eq!(pitches(&[('K', "F#m")], "c G"), [73, 68]);
        assert_eq!(pitches(&[('K', "none")], "F B"), [65, 71]);
        assert_eq!(pitches(&[('K', "Hp")], "c f g"), [73, 78, 79]);
    }

    #[test]
    fn accidentals_last_to_the_bar_line() {
        assert_eq!(pitches(&[('K', "C")], "^c c C | c"), [73, 73, 61, 72]);
        assert_eq!(pitches(&[('K', "D")], "=f f F | f"), [77, 77, 65, 78]);
        assert_eq!(pitches(&[('K', "C")], "_B B ^^C __E"), [70, 70, 62, 62]);
        assert_eq!(
            pitches(&[('K', "C")], "^c =C c"),
            [73, 60, 72],
            "the latest accidental wins"
        );
    }

    #[test]
    fn grace_notes_take_no_time_but_keep_their_accidentals() {
        assert_eq!(
            sounds(&[('K', "Am"), ('L', "1/8")], "{^g}a G {/=g}G"),
            [(Some(81), 0.5), (Some(68), 0.5), (Some(67), 0.5)]
        );
    }

    #[test]
    fn propagate_accidentals_directive() {
        let octave = ('I', "propagate-accidentals octave");
        assert_eq!(
            pitches(&[('K', "C"), octave], "^c c C ^C =c C"),
            [73, 73, 60, 61, 72, 61]
        );
        let not = ('I', "propagate-accidentals not");
        assert_eq!(pitches(&[('K', "C"), not], "^c c"), [73, 72]);
    }

    #[test]
    fn ties_carry_their_accidental_over_the_bar_line() {
        let sounds = sounds(&[('K', "C")], "^c2-|c2 c");
        assert_eq!(sounds, [(Some(73), 1.0), (Some(73), 1.0), (Some(72), 0.5)]);
    }

    #[test]
    fn chords_sound_their_top_note_for_their_length() {
        assert_eq!(
            sounds(EIGHTHS, "[CEG] [ce]2 [c2e2] [E3/2G,3/2]2 [C2z2]"),
            [
                (Some(67), 0.5),
                (Some(76), 1.0),
                (Some(76), 1.0),
                (Some(64), 1.5),
                (Some(60), 1.0),
            ]
        );
    }

    #[test]
    fn inline_fields_change_key_metre_and_unit() {
        assert_eq!(pitches(&[('K', "C")], "F [K:G] F"), [65, 66]);
        assert_eq!(durations(EIGHTHS, "A [L:1/16] A"), [0.5, 0.25]);
    }

    #[test]
    fn rests_and_measure_rests() {
        assert_eq!(
            sounds(&[('L', "1/8"), ('M', "3/4")], "z2 x Z2"),
            [(None, 1.0), (None, 0.5), (None, 6.0)]
        );
    }

    #[test]
    fn only_the_first_voice_is_kept() {
        let mut lexed = Lexed::default();
        let field = |value: &str| TokenKind::Field {
            name: 'V',
            value: value.into(),
        };
        lexed.push(field("1"), 1, 1);
        lexed.lex_music_line("abc", 2).unwrap();
        lexed.push(field("2 clef=bass"), 3, 1);
        lexed.lex_music_line("CDE", 4).unwrap();
        lexed.push(field("1"), 5, 1);
        lexed.lex_music_line("d & D|e", 6).unwrap();
        let items = interpret(&lexed.tokens, None, &mut Vec::new()).unwrap();
        let pitches: Vec<u8> = items
            .iter()
            .filter_map(|i| match i {
                Item::Sound(s) => s.pitch,
                _ => None,
            })
            .collect();
        assert_eq!(pitches, [81, 83, 72, 74, 76]);
    }
}
