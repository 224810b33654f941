//! One tune, from its `X:` line to the blank line (or next `X:`) that ends it: the header fields,
//! the body lines, and the passes that turn them into a [`Piece`].

use super::interpret::interpret;
use super::lexer::{Lexed, TokenKind};
use super::repeats::play_order;
use super::timeline::lay_out;
use super::{AbcOptions, AbcTune};
use crate::formats::ReadError;
use crate::music::{Part, Piece};

/// Reads one tune from its lines, each with its 1-based line number in the file.
pub(super) fn read_tune(
    lines: &[(usize, &str)],
    options: AbcOptions,
) -> Result<AbcTune, ReadError> {
    let mut tune = AbcTune {
        reference: None,
        title: None,
        piece: Piece::default(),
        line: lines.first().map_or(1, |&(number, _)| number),
        other_fields: Vec::new(),
        warnings: Vec::new(),
    };
    let mut lexed = Lexed::default();
    let header = read_header(lines, &mut tune, &mut lexed);
    read_body(&lines[header.body_start..], &mut lexed)?;
    reject_junk(&lexed, tune.line)?;

    tune.warnings = std::mem::take(&mut lexed.warnings);
    let items = interpret(&lexed.tokens, header.kept_voice, &mut tune.warnings)?;
    let timeline = if options.unroll_repeats {
        lay_out(play_order(&items).into_iter().map(|i| &items[i]))
    } else {
        lay_out(&items)
    };
    if timeline.notes.is_empty() {
        return Err(ReadError::NoNotes);
    }
    tune.piece = Piece {
        title: tune.title.clone(),
        tempos: timeline.tempos,
        time_signatures: timeline.time_signatures,
        keys: timeline.keys,
        parts: vec![Part::new(Some("Melody".into()), None, timeline.notes)],
    };
    Ok(tune)
}

/// What the header leaves for the body.
struct Header {
    /// Index of the first body line.
    body_start: usize,
    /// The first voice the header declares: the one a melody is read from.
    kept_voice: Option<String>,
}

/// Reads the header: up to the `K:` field, or to the first line that is not a field at all (a
/// tune without `K:`). Fields that shape the music become tokens; `Q:` and `K:` go last, so that
/// an old-style `Q:120` counts in an `L:` given after it.
fn read_header(lines: &[(usize, &str)], tune: &mut AbcTune, lexed: &mut Lexed) -> Header {
    let mut header = Header {
        body_start: lines.len(),
        kept_voice: None,
    };
    let mut last = Vec::new();
    for (index, &(number, text)) in lines.iter().enumerate() {
        if let Some(directive) = text.strip_prefix("%%") {
            push_field(lexed, 'I', directive.trim(), number);
            continue;
        }
        if text.trim().is_empty() || text.starts_with('%') {
            continue;
        }
        let Some((name, value)) = field(text) else {
            header.body_start = index;
            break;
        };
        match name {
            'X' => tune.reference = value.split_whitespace().next().and_then(|x| x.parse().ok()),
            'T' if tune.title.is_none() && !value.is_empty() => {
                tune.title = Some(value.to_string());
            }
            'V' => {
                let voice = value.split_whitespace().next().unwrap_or("");
                header.kept_voice.get_or_insert_with(|| voice.to_string());
            }
            'Q' => last.push(('Q', value, number)),
            'M' | 'L' | 'I' => push_field(lexed, name, value, number),
            'K' => {
                last.push(('K', value, number));
                header.body_start = index + 1;
                break;
            }
            '+' => {}
            _ => tune.other_fields.push((name, value.to_string())),
        }
    }
    for (name, value, number) in last {
        push_field(lexed, name, value, number);
    }
    header
}

/// Lexes the body up to the blank line that ends the tune; field lines become field tokens,
/// `%%` directives `I:` fields.
fn read_body(lines: &[(usize, &str)], lexed: &mut Lexed) -> Result<(), ReadError> {
    for &(number, text) in lines {
        if text.trim().is_empty() {
            break;
        }
        if let Some(directive) = text.strip_prefix("%%") {
            push_field(lexed, 'I', directive.trim(), number);
        } else if text.starts_with('%') {
            continue;
        } else if let Some((name, value)) = field(text) {
            push_field(lexed, name, value, number);
        } else {
            lexed.lex_music_line(text, number)?;
        }
    }
    Ok(())
}

/// Text in which more than a quarter of the characters mean nothing in ABC is not music.
fn reject_junk(lexed: &Lexed, tune_line: usize) -> Result<(), ReadError> {
    if lexed.unknown == 0 || lexed.unknown * 4 <= lexed.characters {
        return Ok(());
    }
    let (line, column) = lexed.first_unknown.unwrap_or((tune_line, 1));
    Err(ReadError::Syntax {
        line,
        column,
        message: format!(
            "not ABC music: {} of {} characters mean nothing in ABC",
            lexed.unknown, lexed.characters
        ),
    })
}

/// `K:G` → (`K`, `G`): a field line, its value trimmed and without a trailing comment. A letter
/// and a colon that start a bar line (`A:|`) are music, not a field.
pub(super) fn field(line: &str) -> Option<(char, &str)> {
    let mut chars = line.chars();
    let name = chars
        .next()
        .filter(|c| c.is_ascii_alphabetic() || *c == '+')?;
    let value = chars.as_str().strip_prefix(':')?;
    if value.starts_with(['|', ':']) {
        return None;
    }
    let value = value.split('%').next().unwrap_or("");
    Some((name, value.trim()))
}

fn push_field(lexed: &mut Lexed, name: char, value: &str, line: usize) {
    let value = value.to_string();
    lexed.push(TokenKind::Field { name, value }, line, 1);
}
