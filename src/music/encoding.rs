//! The description of an encoding, stored in a model's card so a model file says how to decode
//! what it outputs. Magenta's split: this is the encoding; models never look inside it beyond
//! [`Encoding::vocab_size`].

use super::melody::{self, MAX_PITCH, MIN_PITCH, MelodyEvent};
use super::sequence::{INTERVAL_VOCAB_SIZE, MAX_INTERVAL, PITCH_VOCAB_SIZE};
use super::text::CharVocab;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Encoding {
    /// One token per grid step: HOLD, REST or NOTE_ON(pitch) ([`super::melody`]).
    MelodyEvents {
        steps_per_quarter: u32,
        min_pitch: u8,
        max_pitch: u8,
    },
    /// One token per note onset: its pitch ([`super::sequence`]).
    PitchSequence { min_pitch: u8, max_pitch: u8 },
    /// First pitch, then semitone steps ([`super::sequence`]).
    Intervals { min_pitch: u8, max_pitch: u8 },
    /// Four melody-event streams, soprano to bass ([`super::chorale`]).
    ChoraleVoices {
        steps_per_quarter: u32,
        min_pitch: u8,
        max_pitch: u8,
    },
    /// One token per character of ABC text ([`super::text`]).
    Chars { vocabulary: CharVocab },
}

/// Why a stored encoding cannot be used by this build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("encoding pitch range {min}..={max} differs from this build's {MIN_PITCH}..={MAX_PITCH}")]
pub struct RangeMismatch {
    pub min: u8,
    pub max: u8,
}

impl Encoding {
    pub fn melody_events(steps_per_quarter: u32) -> Self {
        Encoding::MelodyEvents {
            steps_per_quarter,
            min_pitch: MIN_PITCH,
            max_pitch: MAX_PITCH,
        }
    }

    /// Number of distinct tokens a model over this encoding must handle.
    pub fn vocab_size(&self) -> usize {
        match self {
            Encoding::MelodyEvents { .. } | Encoding::ChoraleVoices { .. } => melody::VOCAB_SIZE,
            Encoding::PitchSequence { .. } => PITCH_VOCAB_SIZE,
            Encoding::Intervals { .. } => INTERVAL_VOCAB_SIZE,
            Encoding::Chars { vocabulary } => vocabulary.len(),
        }
    }

    /// Checks that a stored description uses the pitch range the code implements.
    pub fn validate(&self) -> Result<(), RangeMismatch> {
        match *self {
            Encoding::MelodyEvents {
                min_pitch,
                max_pitch,
                ..
            }
            | Encoding::PitchSequence {
                min_pitch,
                max_pitch,
            }
            | Encoding::Intervals {
                min_pitch,
                max_pitch,
            }
            | Encoding::ChoraleVoices {
                min_pitch,
                max_pitch,
                ..
            } if (min_pitch, max_pitch) != (MIN_PITCH, MAX_PITCH) => Err(RangeMismatch {
                min: min_pitch,
                max: max_pitch,
            }),
            _ => Ok(()),
        }
    }

    /// A readable name for a token, for logs and the editor: `HOLD`, `C4`, `+3`, `'a'`.
    pub fn token_label(&self, token: u32) -> String {
        match self {
            Encoding::MelodyEvents { .. } | Encoding::ChoraleVoices { .. } => {
                match MelodyEvent::from_token(token) {
                    Some(MelodyEvent::Hold) => "HOLD".into(),
                    Some(MelodyEvent::Rest) => "REST".into(),
                    Some(MelodyEvent::NoteOn(p)) => pitch_name(p),
                    None => format!("?{token}"),
                }
            }
            Encoding::PitchSequence { .. } => pitch_label(token),
            Encoding::Intervals { .. } if (token as usize) < PITCH_VOCAB_SIZE => pitch_label(token),
            Encoding::Intervals { .. } if (token as usize) < INTERVAL_VOCAB_SIZE => {
                format!(
                    "{:+}",
                    token as i32 - PITCH_VOCAB_SIZE as i32 - MAX_INTERVAL
                )
            }
            Encoding::Intervals { .. } => format!("?{token}"),
            Encoding::Chars { vocabulary } => match vocabulary.decode(&[token]) {
                Some(text) => format!("{text:?}"),
                None => format!("?{token}"),
            },
        }
    }
}

fn pitch_label(token: u32) -> String {
    if (token as usize) < PITCH_VOCAB_SIZE {
        pitch_name(MIN_PITCH + token as u8)
    } else {
        format!("?{token}")
    }
}

/// Scientific pitch name with sharps: 60 → `C4`.
pub fn pitch_name(pitch: u8) -> String {
    let octave = i32::from(pitch) / 12 - 1;
    format!(
        "{}{octave}",
        super::score::pitch_class_name(pitch % 12, false)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_into_a_card_and_back() {
        let encodings = [
            Encoding::melody_events(4),
            Encoding::Intervals {
                min_pitch: 36,
                max_pitch: 96,
            },
            Encoding::Chars {
                vocabulary: CharVocab::from_corpus(["abc|"]),
            },
        ];
        for encoding in encodings {
            let json = serde_json::to_string(&encoding).unwrap();
            let back: Encoding = serde_json::from_str(&json).unwrap();
            assert_eq!(back, encoding);
        }
        let json = serde_json::to_string(&Encoding::melody_events(4)).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"melody_events","steps_per_quarter":4,"min_pitch":36,"max_pitch":96}"#
        );
    }

    #[test]
    fn labels_and_sizes() {
        let melody = Encoding::melody_events(4);
        assert_eq!(melody.vocab_size(), 63);
        assert_eq!(melody.token_label(0), "HOLD");
        assert_eq!(melody.token_label(2 + 24), "C4");
        let intervals = Encoding::Intervals {
            min_pitch: 36,
            max_pitch: 96,
        };
        assert_eq!(intervals.token_label(61 + 63), "+3");
        assert_eq!(
            Encoding::PitchSequence {
                min_pitch: 30,
                max_pitch: 96
            }
            .validate(),
            Err(RangeMismatch { min: 30, max: 96 })
        );
    }
}
