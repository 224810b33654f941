//! The values of the information fields that change how notes sound: `M:` (metre), `L:` (unit
//! note length), `Q:` (tempo) and `K:` (key signature). Everything is lenient about spacing and
//! case, as hand-typed tune books are; a value that cannot be read is `None` and the caller
//! decides whether that is worth a warning or an error.

use crate::music::{Key, Mode, TimeSignature};

/// Letters as indices C=0 … B=6, the order [`NATURAL_PITCH_CLASSES`] follows.
pub(super) const LETTERS: &str = "CDEFGAB";
/// Pitch class of each natural letter, C to B.
pub(super) const NATURAL_PITCH_CLASSES: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];
/// Position of each letter on the circle of fifths, C = 0 (F = -1, B = 5).
const LETTER_FIFTHS: [i32; 7] = [0, 2, 4, -1, 1, 3, 5];

/// Index of a note letter (either case) into [`LETTERS`].
pub(super) fn letter_index(letter: char) -> Option<usize> {
    LETTERS.find(letter.to_ascii_uppercase())
}

/// What a `M:` field says: a metre, or explicitly none (`M:none`, free metre).
pub(super) fn parse_meter(value: &str) -> Option<Option<TimeSignature>> {
    let value = value.trim();
    match value {
        "C" => return Some(Some(TimeSignature::COMMON)),
        "C|" => {
            return Some(Some(TimeSignature {
                numerator: 2,
                denominator: 2,
            }));
        }
        _ if value.is_empty() || value.eq_ignore_ascii_case("none") => return Some(None),
        _ => {}
    }
    let (top, bottom) = value.split_once('/')?;
    // Additive metres such as `3+2/8` or `(2+2+3)/8` count their beats together.
    let mut numerator = 0u32;
    for term in top
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split('+')
    {
        numerator += leading_number(term.trim())?;
    }
    let denominator = leading_number(bottom.trim())?;
    Some(Some(TimeSignature {
        numerator: u8::try_from(numerator).ok().filter(|&n| n > 0)?,
        denominator: u8::try_from(denominator).ok().filter(|&d| d > 0)?,
    }))
}

/// The unit note length of an `L:` field (`1/8`, `1/16`, `1`), in quarter notes.
pub(super) fn parse_unit_length(value: &str) -> Option<f64> {
    let value = value.trim();
    let (top, bottom) = value.split_once('/').unwrap_or((value, "1"));
    let top = whole_number(top.trim())?;
    let bottom = whole_number(bottom.trim())?;
    (top > 0 && bottom > 0).then(|| 4.0 * f64::from(top) / f64::from(bottom))
}

/// The unit length ABC 2.1 implies when a tune has no `L:`: a sixteenth for metres shorter than
/// 3/4, an eighth otherwise (and for free metre).
pub(super) fn default_unit_length(meter: Option<TimeSignature>) -> f64 {
    match meter {
        Some(m) if f64::from(m.numerator) / f64::from(m.denominator) < 0.75 => 0.25,
        _ => 0.5,
    }
}

/// The tempo of a `Q:` field in quarter notes per minute.
///
/// Reads `1/4=100`, `3/8=80` (dotted quarters), `1/4 3/8=40` (beats added up), `C2=120` and
/// `"Allegro" 1/4=120`. A bare number (`Q:100`) is the old form: that many unit notes (`L:`) per
/// minute, which is what ABC 1.6 and abc2midi mean by it.
pub(super) fn parse_tempo(value: &str, unit_length: f64) -> Option<f64> {
    let without_text: String = value.split('"').step_by(2).collect();
    let without_text = without_text.trim();
    let (beats, rate) = match without_text.split_once('=') {
        Some((beats, rate)) => (beats.trim(), rate.trim()),
        None => ("", without_text),
    };
    let rate: f64 = rate.split_whitespace().next()?.parse().ok()?;
    let beat_quarters = if beats.is_empty() {
        unit_length
    } else if let Some(length) = beats.strip_prefix(['C', 'c']) {
        // `C2=120`: the beat is a note of that many unit lengths.
        unit_length * fraction(length.trim()).unwrap_or(1.0)
    } else {
        let mut total = 0.0;
        for beat in beats.split_whitespace() {
            total += 4.0 * fraction(beat)?;
        }
        total
    };
    let bpm = rate * beat_quarters;
    (bpm.is_finite() && bpm > 0.0).then_some(bpm)
}

/// A key signature: the key it names (if any) and the alteration it gives each letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KeySignature {
    /// `None` for `K:none`, `K:HP` or a `K:` without a tonic.
    pub key: Option<Key>,
    /// Semitones added to each natural letter, C to B.
    pub alterations: [i8; 7],
}

impl KeySignature {
    pub const NONE: KeySignature = KeySignature {
        key: None,
        alterations: [0; 7],
    };

    /// The signature of `fifths` sharps (positive) or flats (negative), any number of them.
    pub fn from_fifths(key: Option<Key>, fifths: i32) -> KeySignature {
        // A letter is sharpened once the sharps reach it (F first, at one sharp) and again after
        // seven more; flats mirror that from B.
        let alterations = LETTER_FIFTHS.map(|position| (fifths - position + 5).div_euclid(7) as i8);
        KeySignature { key, alterations }
    }
}

/// Reads a `K:` field: tonic, mode, then optional explicit accidentals (`K:D =c`, `K:D exp ^f`);
/// clef and other `name=value` words are ignored. `K:Hp` (Highland pipes) has the D major
/// signature, `K:HP` none; both are recorded as A mixolydian, the pipes' scale.
pub(super) fn parse_key(value: &str) -> KeySignature {
    let value = value.trim();
    let pipes = Key {
        tonic: 9,
        mode: Mode::Mixolydian,
    };
    let mut signature = KeySignature::NONE;
    let mut rest = value;
    if let Some(after) = value.strip_prefix("Hp") {
        signature = KeySignature::from_fifths(Some(pipes), 2);
        rest = after;
    } else if let Some(after) = value.strip_prefix("HP") {
        signature = KeySignature {
            key: Some(pipes),
            alterations: [0; 7],
        };
        rest = after;
    } else if let Some((parsed, after)) = parse_tonic_and_mode(value) {
        signature = parsed;
        rest = after;
    }
    for word in rest.split_whitespace() {
        if word.eq_ignore_ascii_case("exp") {
            signature.alterations = [0; 7];
            continue;
        }
        // Words such as `^f_b` may hold several accidentals; anything else is a clef setting.
        let mut chars = word.chars().peekable();
        while let Some(&c) = chars.peek() {
            let alteration: i8 = match c {
                '^' => 1,
                '_' => -1,
                '=' => 0,
                _ => break,
            };
            chars.next();
            let doubled = c != '=' && chars.next_if_eq(&c).is_some();
            let Some(letter) = chars.next().and_then(letter_index) else {
                break;
            };
            signature.alterations[letter] = alteration * if doubled { 2 } else { 1 };
        }
    }
    signature
}

/// `G`, `F#m`, `Bb`, `Ador`, `E Dorian`, `Am`: the signature and the text after the mode.
fn parse_tonic_and_mode(value: &str) -> Option<(KeySignature, &str)> {
    if value
        .get(..4)
        .is_some_and(|word| word.eq_ignore_ascii_case("none"))
    {
        return None;
    }
    let mut chars = value.char_indices().peekable();
    let (_, tonic_char) = chars.next()?;
    let letter = letter_index(tonic_char)?;
    let mut fifths = LETTER_FIFTHS[letter];
    let mut pitch_class = NATURAL_PITCH_CLASSES[letter];
    if let Some((_, c)) = chars.next_if(|&(_, c)| c == '#' || c == 'b') {
        let sign = if c == '#' { 1 } else { -1 };
        fifths += 7 * sign;
        pitch_class += sign;
    }
    let after_tonic = chars.peek().map_or(value.len(), |&(i, _)| i);
    let rest = &value[after_tonic..];
    let trimmed = rest.trim_start();
    let word_end = trimmed
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(trimmed.len());
    let (mode, after_mode) = match mode_named(&trimmed[..word_end]) {
        Some(mode) => (mode, &trimmed[word_end..]),
        None => (Mode::Major, rest),
    };
    fifths -= fifths_below_major(mode);
    let key = Key {
        tonic: pitch_class.rem_euclid(12) as u8,
        mode,
    };
    Some((KeySignature::from_fifths(Some(key), fifths), after_mode))
}

/// A mode word, matched on its first three letters and in any case (`m` alone is minor).
fn mode_named(word: &str) -> Option<Mode> {
    let lower = word.to_ascii_lowercase();
    if lower == "m" {
        return Some(Mode::Minor);
    }
    let prefix = lower.get(..3)?;
    Some(match prefix {
        "maj" | "ion" => Mode::Major,
        "min" | "aeo" => Mode::Minor,
        "dor" => Mode::Dorian,
        "phr" => Mode::Phrygian,
        "lyd" => Mode::Lydian,
        "mix" => Mode::Mixolydian,
        "loc" => Mode::Locrian,
        _ => return None,
    })
}

/// How many fifths a mode's signature lies below its tonic's major (Dorian: 2, as D dorian has
/// no sharps while D major has two).
pub(super) fn fifths_below_major(mode: Mode) -> i32 {
    match mode {
        Mode::Lydian => -1,
        Mode::Major => 0,
        Mode::Mixolydian => 1,
        Mode::Dorian => 2,
        Mode::Minor => 3,
        Mode::Phrygian => 4,
        Mode::Locrian => 5,
    }
}

/// `3/8` or `1` as a number; `None` for anything else.
fn fraction(text: &str) -> Option<f64> {
    let (top, bottom) = text.split_once('/').unwrap_or((text, "1"));
    let top = whole_number(top.trim())?;
    let bottom = whole_number(bottom.trim())?;
    (bottom > 0).then(|| f64::from(top) / f64::from(bottom))
}

/// A number made of digits only, at most 9999 (larger values are typos, not music).
fn whole_number(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The digits a word starts with (`4` of `4/4`, and of `FREI4` after its letters are skipped).
fn leading_number(text: &str) -> Option<u32> {
    let digits: String = text
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    whole_number(&digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tonic: u8, mode: Mode) -> Option<Key> {
        Some(Key { tonic, mode })
    }

    #[test]
    fn meters() {
        let ts = |numerator, denominator| {
            Some(Some(TimeSignature {
                numerator,
                denominator,
            }))
        };
        assert_eq!(parse_meter("C"), ts(4, 4));
        assert_eq!(parse_meter("C|"), ts(2, 2));
        assert_eq!(parse_meter(" 6/8"), ts(6, 8));
        assert_eq!(parse_meter("3+2/8"), ts(5, 8));
        assert_eq!(parse_meter("none"), Some(None));
        assert_eq!(parse_meter("6/0"), None);
        assert_eq!(parse_meter("waltz"), None);
    }

    #[test]
    fn unit_lengths() {
        assert_eq!(parse_unit_length("1/8"), Some(0.5));
        assert_eq!(parse_unit_length(" 1/16 "), Some(0.25));
        assert_eq!(parse_unit_length("1"), Some(4.0));
        assert_eq!(parse_unit_length("1/0"), None);
        assert_eq!(
            default_unit_length(Some(TimeSignature {
                numerator: 2,
                denominator: 4
            })),
            0.25
        );
        assert_eq!(
            default_unit_length(Some(TimeSignature {
                numerator: 3,
                denominator: 4
            })),
            0.5
        );
        assert_eq!(default_unit_length(None), 0.5);
    }

    #[test]
    fn tempos() {
        assert_eq!(parse_tempo("1/4=100", 0.5), Some(100.0));
        assert_eq!(parse_tempo("1/4 =50", 0.5), Some(50.0));
        assert_eq!(parse_tempo("3/8=80", 0.5), Some(120.0));
        assert_eq!(parse_tempo("\"Allegro\" 1/2=60", 0.5), Some(120.0));
        assert_eq!(parse_tempo("1/4 3/8=40", 0.5), Some(100.0));
        assert_eq!(parse_tempo("100", 0.5), Some(50.0));
        assert_eq!(parse_tempo("C2=60", 0.5), Some(60.0));
        assert_eq!(parse_tempo("\"Slowly\"", 0.5), None);
    }

    #[test]
    fn keys_with_modes() {
        let g = parse_key("G");
        assert_eq!(g.key, key(7, Mode::Major));
        assert_eq!(g.alterations, [0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(parse_key("Am").key, key(9, Mode::Minor));
        assert_eq!(parse_key("Am").alterations, [0; 7]);
        assert_eq!(parse_key("Amin").key, key(9, Mode::Minor));
        assert_eq!(parse_key("A Minor").key, key(9, Mode::Minor));
        assert_eq!(
            parse_key("EM").key,
            key(4, Mode::Minor),
            "mode words ignore case"
        );
        assert_eq!(parse_key("Ador").alterations, [0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(parse_key("Edor").alterations, [1, 0, 0, 1, 0, 0, 0]);
        assert_eq!(parse_key("Dmix").alterations, [0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(parse_key("Glydian").alterations, [1, 0, 0, 1, 0, 0, 0]);
        assert_eq!(parse_key("Bphr").key, key(11, Mode::Phrygian));
        assert_eq!(parse_key("Bb").alterations, [0, 0, -1, 0, 0, 0, -1]);
        assert_eq!(parse_key("F#m").alterations, [1, 0, 0, 1, 1, 0, 0]);
        assert_eq!(parse_key("Gb").alterations, [-1, -1, -1, 0, -1, -1, -1]);
        assert_eq!(parse_key("C clef=treble").key, key(0, Mode::Major));
        assert_eq!(parse_key("Dmix % one sharp").key, key(2, Mode::Mixolydian));
    }

    #[test]
    fn special_keys_and_explicit_accidentals() {
        assert_eq!(parse_key("none"), KeySignature::NONE);
        assert_eq!(parse_key(""), KeySignature::NONE);
        assert_eq!(parse_key("Hp").alterations, [1, 0, 0, 1, 0, 0, 0]);
        assert_eq!(parse_key("HP").alterations, [0; 7]);
        assert_eq!(parse_key("Hp").key, key(9, Mode::Mixolydian));
        assert_eq!(parse_key("D ^g").alterations, [1, 0, 0, 1, 1, 0, 0]);
        assert_eq!(parse_key("D exp ^g").alterations, [0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(parse_key("Dmix=c").alterations, [0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(parse_key("C __b ^^f").alterations, [0, 0, 0, 2, 0, 0, -2]);
    }
}
