//! Choosing what to learn from in a piece: one melody line, or the four voices of a chorale.

use super::DRUM_CHANNEL;
use crate::formats::ReadError;
use crate::music::melody::EncodeReport;
use crate::music::score::{Note, Part, Piece, sort_notes};
use crate::music::{Melody, StepGrid};

/// Where the melody of a piece is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MelodySource {
    /// One part, by index into `piece.parts`.
    Track(usize),
    /// All parts on a zero-based channel, merged.
    Channel(u8),
    /// The first part with this name (case and surrounding blanks ignored).
    PartNamed(String),
    /// All parts except drums (channel 10), merged: the highest sounding note wins.
    Skyline,
}

/// Words in part names that mark the tune, most telling first.
const MELODY_WORDS: [&str; 7] = [
    "melody", "melodie", "soprano", "sopran", "lead", "vocal", "vocals",
];

impl MelodySource {
    /// The melody of a generic file: the first part named like "Melody", "Soprano" or "Lead"
    /// (a word of its name, in that order of preference), else the skyline.
    pub fn auto(piece: &Piece) -> MelodySource {
        MELODY_WORDS
            .iter()
            .find_map(|&word| {
                piece
                    .parts
                    .iter()
                    .position(|part| !part.notes.is_empty() && name_words(part).any(|w| w == word))
            })
            .map_or(MelodySource::Skyline, MelodySource::Track)
    }
}

/// The notes `source` picks out of `piece`, sorted by onset (highest first when simultaneous).
///
/// A source naming nothing in the piece is [`ReadError::Unsupported`], saying what was missing;
/// one that names only silent parts is [`ReadError::NoNotes`].
pub fn melody_notes(piece: &Piece, source: &MelodySource) -> Result<Vec<Note>, ReadError> {
    let missing = |what: String| ReadError::Unsupported(format!("no {what} in this piece"));
    let parts: Vec<&Part> = match source {
        MelodySource::Track(index) => vec![
            piece
                .parts
                .get(*index)
                .ok_or_else(|| missing(format!("part {index} (it has {})", piece.parts.len())))?,
        ],
        MelodySource::Channel(channel) => {
            let parts: Vec<&Part> = piece
                .parts
                .iter()
                .filter(|part| part.channel == Some(*channel))
                .collect();
            if parts.is_empty() {
                return Err(missing(format!(
                    "part on channel {}",
                    u16::from(*channel) + 1
                )));
            }
            parts
        }
        MelodySource::PartNamed(name) => {
            let wanted = name.trim();
            let part = piece.parts.iter().find(|part| {
                part.name
                    .as_deref()
                    .is_some_and(|name| name.trim().eq_ignore_ascii_case(wanted))
            });
            vec![part.ok_or_else(|| missing(format!("part named {wanted:?}")))?]
        }
        MelodySource::Skyline => piece
            .parts
            .iter()
            .filter(|part| part.channel != Some(DRUM_CHANNEL))
            .collect(),
    };
    let mut notes: Vec<Note> = parts
        .iter()
        .flat_map(|part| part.notes.iter().copied())
        .collect();
    if notes.is_empty() {
        return Err(ReadError::NoNotes);
    }
    sort_notes(&mut notes);
    Ok(notes)
}

/// The melody `source` picks, on `grid` (skyline and quantisation by [`Melody::from_notes`]).
pub fn extract_melody(
    piece: &Piece,
    source: &MelodySource,
    grid: StepGrid,
) -> Result<(Melody, EncodeReport), ReadError> {
    Ok(Melody::from_notes(&melody_notes(piece, source)?, grid))
}

/// First words of part names that identify each voice (soprano, alto, tenor, bass).
const VOICE_NAMES: [&[&str]; 4] = [
    &[
        "soprano",
        "sopran",
        "sop",
        "s",
        "cantus",
        "canto",
        "discantus",
    ],
    &["alto", "alt", "a", "altus", "contralto"],
    &["tenor", "tenore", "ten", "t"],
    &["bass", "basso", "bas", "b", "bassus"],
];

/// Soprano, alto, tenor and bass of a chorale, in that order.
///
/// Parts are matched by the first word of their name ("Soprano", "S", "Sopran 1", "Basso", any
/// case), each voice by exactly one part, other parts ignored; failing that, a piece with exactly
/// four parts that have notes gives them in order; otherwise it is [`ReadError::Unsupported`].
pub fn four_voices(piece: &Piece) -> Result<[Part; 4], ReadError> {
    let sounding: Vec<&Part> = piece.parts.iter().filter(|p| !p.notes.is_empty()).collect();
    let named = VOICE_NAMES.map(|aliases| {
        let matches: Vec<&Part> = sounding
            .iter()
            .copied()
            .filter(|part| {
                name_words(part)
                    .next()
                    .is_some_and(|w| aliases.contains(&w.as_str()))
            })
            .collect();
        match matches[..] {
            [part] => Some(part),
            _ => None,
        }
    });
    if let [Some(s), Some(a), Some(t), Some(b)] = named {
        return Ok([s.clone(), a.clone(), t.clone(), b.clone()]);
    }
    match sounding[..] {
        [s, a, t, b] => Ok([s.clone(), a.clone(), t.clone(), b.clone()]),
        _ => Err(ReadError::Unsupported(format!(
            "expected four voices, found {}",
            sounding.len()
        ))),
    }
}

/// The lower-cased words (runs of letters) of a part's name.
fn name_words(part: &Part) -> impl Iterator<Item = String> + '_ {
    part.name
        .as_deref()
        .unwrap_or("")
        .split(|c: char| !c.is_alphabetic())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
}
