//! ABC notation (2.1, and the older habits found in real tune books) to and from melodies.
//!
//! * [`read_abc`], [`read_abc_with`], [`read_abc_tunes`]: every tune of a file as an [`AbcTune`],
//!   whose [`Piece`] holds one part, `Melody`.
//! * [`write_abc`]: a [`Melody`](crate::music::Melody) as one tune, bar lines and accidentals
//!   written as an engraver would.
//!
//! Reading goes lexer (characters → tokens) → interpreter (pitches and durations in written
//! order) → repeats (playing order) → timeline (notes in quarter notes, tempo/metre/key maps).
//! What a melody does not need is read and dropped: decorations, chord symbols and annotations,
//! slurs, lyrics, all voices but the first, and grace notes (the corpus MIDI drops them too),
//! though a grace note's accidental holds to the bar line like any other. Chords sound their top
//! note. Every note gets velocity [`ABC_VELOCITY`].
//!
//! An accidental holds to the bar line for its letter in every octave: the default of ABC 2.1
//! (§11.3), and how music21 read the corpus. `%%propagate-accidentals octave` (or `not`) narrows
//! it to the same octave (or to the note itself).
//!
//! Readers never panic. A character that means nothing in ABC is skipped with a warning in
//! [`AbcTune::warnings`]; a tune in which they are more than a quarter of the music is rejected as
//! not being ABC at all, with the position of the first one.
//!
//! Known gaps: `P:` part orders are not followed, `U:` redefinitions are ignored, a `:|` sends the
//! music back once (so `[1,2` … `[3` plays two passes, then ending 3), and `K:` clef and
//! transposition settings do not move notes.

mod fields;
mod interpret;
mod lexer;
mod repeats;
mod timeline;
mod tune;
mod writer;

#[cfg(test)]
mod tests;

pub use timeline::ABC_VELOCITY;
pub use writer::{AbcHeader, write_abc};

use super::ReadError;
use crate::music::Piece;

/// How to read a tune.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbcOptions {
    /// Play repeats and first/second endings as a musician would (the default). Off, every
    /// written bar is played once in written order, which is how the corpus MIDI files were made.
    pub unroll_repeats: bool,
}

impl Default for AbcOptions {
    fn default() -> Self {
        Self {
            unroll_repeats: true,
        }
    }
}

/// One tune of an ABC file.
#[derive(Debug, Clone, PartialEq)]
pub struct AbcTune {
    /// The `X:` reference number.
    pub reference: Option<u32>,
    /// The first `T:` title.
    pub title: Option<String>,
    /// The music: one part named `Melody`, tempo (120 until a `Q:`), metre and key maps.
    pub piece: Piece,
    /// 1-based line of the tune's first line (its `X:`) in the file.
    pub line: usize,
    /// Header fields the reader does not interpret (`C:` composer, `R:` rhythm, `N:` notes, …),
    /// in order, values trimmed.
    pub other_fields: Vec<(char, String)>,
    /// What was skipped or ignored, and where.
    pub warnings: Vec<AbcWarning>,
}

/// Something in a tune that was skipped rather than read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbcWarning {
    /// 1-based line and column in the file.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Every tune of a file with repeats unrolled; see [`read_abc_with`].
pub fn read_abc(text: &str) -> Result<Vec<AbcTune>, ReadError> {
    read_abc_with(text, AbcOptions::default())
}

/// Every tune of a file that could be read. A tune that fails does not lose the others: the
/// error is returned only when no tune could be read (the first tune's error, or
/// [`ReadError::NoNotes`] for a file with no tune at all). Use [`read_abc_tunes_with`] to see
/// every tune's error.
pub fn read_abc_with(text: &str, options: AbcOptions) -> Result<Vec<AbcTune>, ReadError> {
    let mut tunes = Vec::new();
    let mut first_error = None;
    for result in read_abc_tunes_with(text, options) {
        match result {
            Ok(tune) => tunes.push(tune),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    if tunes.is_empty() {
        return Err(first_error.unwrap_or(ReadError::NoNotes));
    }
    Ok(tunes)
}

/// One result per tune, repeats unrolled; see [`read_abc_tunes_with`].
pub fn read_abc_tunes(text: &str) -> Vec<Result<AbcTune, ReadError>> {
    read_abc_tunes_with(text, AbcOptions::default())
}

/// One result per tune of the file, in order.
///
/// A tune starts at an `X:` line and ends at the first blank line after its header, or at the
/// next `X:`; text before the first `X:` (the file header) and between tunes is not read. A text
/// without any `X:` line is read as one tune if it has a field line (`K:G`); blank text has no
/// tunes, and other text is one [`ReadError::Syntax`].
pub fn read_abc_tunes_with(text: &str, options: AbcOptions) -> Vec<Result<AbcTune, ReadError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = numbered_lines(text);
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, (_, line))| line.starts_with("X:"))
        .map(|(index, _)| index)
        .collect();
    if starts.is_empty() {
        if lines.iter().all(|(_, line)| line.trim().is_empty()) {
            return Vec::new();
        }
        if !lines.iter().any(|(_, line)| tune::field(line).is_some()) {
            return vec![Err(ReadError::Syntax {
                line: 1,
                column: 1,
                message: "no ABC tune: no X: or other field line".into(),
            })];
        }
        return vec![tune::read_tune(&lines, options)];
    }
    let ends = starts.iter().skip(1).copied().chain([lines.len()]);
    starts
        .iter()
        .zip(ends)
        .map(|(&start, end)| tune::read_tune(&lines[start..end], options))
        .collect()
}

/// Lines with their 1-based numbers; `\n`, `\r\n` and lone `\r` all end a line.
fn numbered_lines(text: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = if text.contains('\n') {
        text.lines().collect()
    } else {
        text.split('\r').collect()
    };
    lines
        .into_iter()
        .enumerate()
        .map(|(i, line)| (i + 1, line))
        .collect()
}
