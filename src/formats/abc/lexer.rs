//! Music lines → tokens that carry their 1-based line and column.
//!
//! The lexer knows ABC's spelling but not its meaning: a note is its letter, accidental, octave
//! and written length, untouched by key, unit length or rhythm. Everything that does not change
//! what sounds (decorations, chord symbols, slurs, spacers) is consumed here and never reaches
//! the interpreter, which keeps its rules about neighbouring notes (`A>.B` is still
//! a broken rhythm) simple. Characters that mean nothing in ABC are skipped with a warning and
//! counted, so that the caller can tell a tune with a stray typo from text that is not music.

use super::AbcWarning;
use super::fields::letter_index;
use crate::formats::ReadError;

/// A written length: a multiple of the unit note length (`A3/2` is 3/2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Length {
    pub numerator: u32,
    pub denominator: u32,
}

impl Length {
    pub fn value(self) -> f64 {
        f64::from(self.numerator) / f64::from(self.denominator)
    }
}

/// A note as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct WrittenNote {
    /// Explicit accidental in semitones (`^` 1, `__` -2, `=` 0), if any.
    pub accidental: Option<i8>,
    /// Letter index, C = 0 … B = 6.
    pub letter: usize,
    /// Octave in scientific pitch notation: `C` is 4, `c` 5, `c'` 6, `C,` 3.
    pub octave: i32,
    pub length: Length,
}

/// A bar line, reduced to what matters for playing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct BarLine {
    /// `:|`, `::`, `:||`: go back to the start of the repeated section.
    pub repeat_end: bool,
    /// `|:`, `::`, `||:`: a repeated section starts here.
    pub repeat_start: bool,
    /// `||`, `|]`, `[|`: a section boundary.
    pub double: bool,
}

impl BarLine {
    /// Reads a run of bar characters such as `|`, `:|`, `||:`, `[|]`, `::` or `[|]:|`: a colon
    /// before the last `|` (or `]`) ends a repeat, a colon at the end starts one.
    fn from_text(text: &str) -> BarLine {
        let Some(last_bar) = text.rfind(['|', ']']) else {
            let both = text.len() >= 2;
            return BarLine {
                repeat_end: both,
                repeat_start: both,
                double: false,
            };
        };
        BarLine {
            repeat_end: text[..last_bar].contains(':'),
            repeat_start: text.ends_with(':'),
            double: text.matches('|').count() >= 2 || text.contains(['[', ']']),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum TokenKind {
    Note(WrittenNote),
    /// `z` (or `x`, an invisible rest, which takes time all the same).
    Rest(Length),
    /// `Z4`: whole bars of silence.
    MeasureRest(u32),
    /// `[ceg]2`: all the notes, and the length written after the bracket.
    Chord {
        notes: Vec<WrittenNote>,
        length: Length,
        tied: bool,
    },
    Bar(BarLine),
    /// `[1`, `|2`, `:|2`, `[1,3`, `[1-3`: the passes this ending is played on.
    Ending(Vec<u32>),
    Tie,
    /// `>` (`first_longer`) or `<`, repeated `strength` times.
    BrokenRhythm {
        first_longer: bool,
        strength: u32,
    },
    /// `(p:q:r`: the next `r` notes take the time of `q` (defaults are the caller's).
    Tuplet {
        p: u32,
        q: Option<u32>,
        r: Option<u32>,
    },
    /// An information field, on its own line (`K:G`) or inline (`[K:G]`).
    Field {
        name: char,
        value: String,
    },
    /// `&`: a second voice overlaid on the rest of the bar.
    Overlay,
    /// `{g}`, `{/ag}`: grace notes. They take no time, but their accidentals hold to the bar line.
    Grace(Vec<WrittenNote>),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub kind: TokenKind,
    pub line: usize,
    pub column: usize,
}

/// The tokens of a tune body, and what the lexer thought of its characters.
#[derive(Debug, Default)]
pub(super) struct Lexed {
    pub tokens: Vec<Token>,
    pub warnings: Vec<AbcWarning>,
    /// Non-blank characters lexed, and how many of them meant nothing in ABC.
    pub characters: usize,
    pub unknown: usize,
    /// Position of the first character that meant nothing.
    pub first_unknown: Option<(usize, usize)>,
}

/// The most warnings one tune keeps; junk would otherwise produce one per character.
pub(super) const MAX_WARNINGS: usize = 64;
/// Written numbers above this are typos, not music (and would overflow the arithmetic).
pub(super) const MAX_NUMBER: u32 = 9999;
/// The shortest note: 1/4096 of the unit length.
const MAX_DENOMINATOR: u32 = 4096;

impl Lexed {
    pub fn warn(&mut self, line: usize, column: usize, message: impl Into<String>) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(AbcWarning {
                line,
                column,
                message: message.into(),
            });
        }
    }

    pub fn push(&mut self, kind: TokenKind, line: usize, column: usize) {
        self.tokens.push(Token { kind, line, column });
    }

    /// Lexes one line of music; `line` is its 1-based number in the file.
    pub fn lex_music_line(&mut self, text: &str, line: usize) -> Result<(), ReadError> {
        let mut cursor = Cursor {
            chars: text.chars().collect(),
            pos: 0,
            line,
            out: self,
        };
        cursor.run()
    }
}

/// Walks the characters of one line.
struct Cursor<'a> {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    out: &'a mut Lexed,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        self.pos += usize::from(found);
        found
    }

    fn column(&self) -> usize {
        self.pos + 1
    }

    fn error(&self, column: usize, message: impl Into<String>) -> ReadError {
        ReadError::Syntax {
            line: self.line,
            column,
            message: message.into(),
        }
    }

    fn push(&mut self, kind: TokenKind, column: usize) {
        self.out.push(kind, self.line, column);
    }

    fn warn(&mut self, column: usize, message: impl Into<String>) {
        self.out.warn(self.line, column, message);
    }

    fn run(&mut self) -> Result<(), ReadError> {
        while let Some(c) = self.peek() {
            let column = self.column();
            if !c.is_whitespace() {
                self.out.characters += 1;
            }
            match c {
                '%' => break,
                c if c.is_whitespace() => self.pos += 1,
                'A'..='G' | 'a'..='g' | '^' | '_' | '=' => match self.note()? {
                    Some(note) => self.push(TokenKind::Note(note), column),
                    None => self.unknown(column),
                },
                'z' | 'x' => {
                    self.pos += 1;
                    let length = self.length()?;
                    self.push(TokenKind::Rest(length), column);
                }
                'Z' | 'X' => {
                    self.pos += 1;
                    let bars = self.number()?.unwrap_or(1);
                    self.push(TokenKind::MeasureRest(bars), column);
                }
                '|' | ':' => self.bar()?,
                '.' if self.peek_at(1) == Some('|') => self.bar()?,
                '[' => self.bracket()?,
                '(' if self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) => self.tuplet()?,
                '{' => self.grace()?,
                '"' => self.skip_group('"', "chord symbol or annotation"),
                '!' | '+' => {
                    // `!trill!`; a `!` that does not close like a decoration is an old line break.
                    self.pos += 1;
                    self.skip_decoration(c);
                }
                '<' | '>' => {
                    let mut strength = 0;
                    while self.eat(c) {
                        strength += 1;
                    }
                    let first_longer = c == '>';
                    self.push(
                        TokenKind::BrokenRhythm {
                            first_longer,
                            strength,
                        },
                        column,
                    );
                }
                '-' => {
                    self.pos += 1;
                    self.push(TokenKind::Tie, column);
                }
                '&' => {
                    self.pos += 1;
                    self.push(TokenKind::Overlay, column);
                }
                'y' => {
                    // Spacer, possibly with a width.
                    self.pos += 1;
                    while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        self.pos += 1;
                    }
                }
                // Decorations and their shorthands, slurs, spacers and line-break marks.
                '.' | '~' | 'H'..='W' | 'h'..='w' | '(' | ')' | '`' | '$' | '\\' => self.pos += 1,
                _ => self.unknown(column),
            }
        }
        Ok(())
    }

    fn unknown(&mut self, column: usize) {
        let c = self.peek().unwrap_or(' ');
        self.pos += 1;
        self.out.unknown += 1;
        self.out.first_unknown.get_or_insert((self.line, column));
        self.warn(column, format!("unexpected character {c:?} skipped"));
    }

    /// Accidental, letter, octave marks and length; `None` (nothing consumed) if the accidental
    /// is not followed by a note letter.
    fn note(&mut self) -> Result<Option<WrittenNote>, ReadError> {
        let start = self.pos;
        let accidental: Option<i8> = match self.peek() {
            Some('^') => Some(if self.peek_at(1) == Some('^') { 2 } else { 1 }),
            Some('_') => Some(if self.peek_at(1) == Some('_') { -2 } else { -1 }),
            Some('=') => Some(0),
            _ => None,
        };
        if let Some(alteration) = accidental {
            self.pos += if alteration == 0 {
                1
            } else {
                alteration.unsigned_abs() as usize
            };
        }
        let letter_char = self.peek().unwrap_or(' ');
        let Some(letter) = letter_index(letter_char) else {
            self.pos = start;
            return Ok(None);
        };
        self.pos += 1;
        let mut octave = if letter_char.is_ascii_lowercase() {
            5
        } else {
            4
        };
        loop {
            match self.peek() {
                Some('\'') => octave += 1,
                Some(',') => octave -= 1,
                _ => break,
            }
            self.pos += 1;
        }
        let length = self.length()?;
        Ok(Some(WrittenNote {
            accidental,
            letter,
            octave,
            length,
        }))
    }

    /// `2`, `/`, `//`, `3/2`, `3/`, `/4`: a multiple of the unit length (1 when nothing is written).
    fn length(&mut self) -> Result<Length, ReadError> {
        let column = self.column();
        let numerator = self.number()?.unwrap_or(1);
        let mut denominator = 1u32;
        while self.eat('/') {
            let divisor = self.number()?.unwrap_or(2);
            denominator = denominator.saturating_mul(divisor);
            if divisor == 0 || denominator > MAX_DENOMINATOR {
                return Err(self.error(column, "note length too short"));
            }
        }
        Ok(Length {
            numerator,
            denominator,
        })
    }

    /// Digits, if there are any here.
    fn number(&mut self) -> Result<Option<u32>, ReadError> {
        let column = self.column();
        let mut value: Option<u32> = None;
        while let Some(digit) = self.peek().and_then(|c| c.to_digit(10)) {
            self.pos += 1;
            let next = value.unwrap_or(0) * 10 + digit;
            if next > MAX_NUMBER {
                return Err(self.error(column, "number too large"));
            }
            value = Some(next);
        }
        Ok(value)
    }

    /// A bar line (`|`, `||`, `|]`, `[|`, `:|`, `|:`, `::`, `.|`, …) and an ending number after it.
    fn bar(&mut self) -> Result<(), ReadError> {
        let column = self.column();
        self.eat('.');
        let mut text = String::new();
        while let Some(c) = self.peek() {
            let part_of_bar = match c {
                '|' | ':' => true,
                ']' => !text.is_empty(),
                '[' => self.peek_at(1) == Some('|'),
                _ => false,
            };
            if !part_of_bar {
                break;
            }
            text.push(c);
            self.pos += 1;
        }
        let bar = if text.is_empty() {
            BarLine::default()
        } else {
            BarLine::from_text(&text)
        };
        self.push(TokenKind::Bar(bar), column);
        if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            let column = self.column();
            let passes = self.ending_numbers()?;
            self.push(TokenKind::Ending(passes), column);
        }
        Ok(())
    }

    /// `1`, `1,3`, `1-3`, `1,3-4`: the passes of an ending.
    fn ending_numbers(&mut self) -> Result<Vec<u32>, ReadError> {
        let column = self.column();
        let mut passes = Vec::new();
        while let Some(first) = self.number()? {
            let last = if self.peek() == Some('-')
                && self.peek_at(1).is_some_and(|c| c.is_ascii_digit())
            {
                self.pos += 1;
                self.number()?.unwrap_or(first)
            } else {
                first
            };
            if last.saturating_sub(first) > 16 || passes.len() > 16 {
                return Err(self.error(column, "ending numbers out of range"));
            }
            passes.extend(first..=last);
            if !(self.peek() == Some(',') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit())) {
                break;
            }
            self.pos += 1;
        }
        Ok(passes)
    }

    /// `[` starts a bar (`[|`), an ending (`[2`), an inline field (`[K:G]`) or a chord (`[ceg]`).
    fn bracket(&mut self) -> Result<(), ReadError> {
        let column = self.column();
        match (self.peek_at(1), self.peek_at(2)) {
            (Some('|'), _) => self.bar(),
            (Some(c), _) if c.is_ascii_digit() => {
                self.pos += 1;
                let passes = self.ending_numbers()?;
                self.push(TokenKind::Ending(passes), column);
                Ok(())
            }
            (Some(name), Some(':')) if name.is_ascii_alphabetic() => {
                self.pos += 3;
                let rest: String = self.chars[self.pos..].iter().collect();
                let value = match rest.find(']') {
                    Some(end) => &rest[..end],
                    None => {
                        self.warn(column, "inline field without a closing ']'");
                        &rest[..]
                    }
                };
                self.pos += value.chars().count() + 1;
                let value = value.to_string();
                self.push(TokenKind::Field { name, value }, column);
                Ok(())
            }
            _ => {
                let start = self.pos;
                if let Some(kind) = self.chord()? {
                    self.push(kind, column);
                } else {
                    self.pos = start + 1;
                    self.warn(column, "'[' that starts no chord, field or ending skipped");
                }
                Ok(())
            }
        }
    }

    /// The chord starting at `[`; `None` if what follows is not a well-formed chord.
    fn chord(&mut self) -> Result<Option<TokenKind>, ReadError> {
        self.pos += 1;
        let mut notes = Vec::new();
        let mut tied = false;
        loop {
            match self.peek() {
                None => return Ok(None),
                Some(']') => {
                    self.pos += 1;
                    break;
                }
                Some('-') => {
                    tied = true;
                    self.pos += 1;
                }
                Some('"') => {
                    if !self.skip_to_closing('"') {
                        return Ok(None);
                    }
                }
                Some(c @ ('!' | '+')) => {
                    self.pos += 1;
                    if !self.skip_decoration(c) {
                        return Ok(None);
                    }
                }
                Some(c) if c.is_whitespace() || matches!(c, '.' | '~' | 'H'..='W' | 'h'..='w') => {
                    self.pos += 1;
                }
                // Not ABC, but found in tune books (`[C2z2]`): the rest adds nothing.
                Some('z' | 'x') => {
                    self.pos += 1;
                    self.length()?;
                }
                Some(_) => match self.note()? {
                    Some(note) => notes.push(note),
                    None => return Ok(None),
                },
            }
        }
        if notes.is_empty() {
            return Ok(None);
        }
        let length = self.length()?;
        Ok(Some(TokenKind::Chord {
            notes,
            length,
            tied,
        }))
    }

    /// `{…}`: the notes of a grace group; anything else inside (`/`, decorations) is skipped.
    fn grace(&mut self) -> Result<(), ReadError> {
        let column = self.column();
        let Some(close) = self.chars[self.pos..].iter().position(|&c| c == '}') else {
            self.skip_group('}', "grace notes");
            return Ok(());
        };
        let end = self.pos + close;
        self.pos += 1;
        let mut notes = Vec::new();
        while self.pos < end {
            match self.note()? {
                Some(note) => notes.push(note),
                None => self.pos += 1,
            }
        }
        self.pos = end + 1;
        self.push(TokenKind::Grace(notes), column);
        Ok(())
    }

    /// `(3`, `(3:2`, `(3:2:4`, `(3::4`.
    fn tuplet(&mut self) -> Result<(), ReadError> {
        let column = self.column();
        self.pos += 1;
        let p = self.number()?.unwrap_or(0);
        let mut q = None;
        let mut r = None;
        if self.eat(':') {
            q = self.number()?;
            if self.eat(':') {
                r = self.number()?;
            }
        }
        if p == 0 || q == Some(0) {
            self.warn(column, "tuplet with a zero count skipped");
        } else {
            self.push(TokenKind::Tuplet { p, q, r }, column);
        }
        Ok(())
    }

    /// Skips from an opening character to its closing one on this line, or warns and skips the
    /// rest of the line when it never closes.
    fn skip_group(&mut self, closing: char, what: &str) {
        let column = self.column();
        if !self.skip_to_closing(closing) {
            self.warn(column, format!("unclosed {what}: rest of the line skipped"));
            self.pos = self.chars.len();
        }
    }

    /// Moves past the `closing` character after the current one; false if there is none.
    fn skip_to_closing(&mut self, closing: char) -> bool {
        match self.chars[self.pos + 1..]
            .iter()
            .position(|&c| c == closing)
        {
            Some(offset) => {
                self.pos += offset + 2;
                true
            }
            None => false,
        }
    }

    /// After an opening `!` or `+`: skips a decoration name and its closing mark. A name holds no
    /// spaces or bar lines; when there is none, only the opening mark goes (returns false).
    fn skip_decoration(&mut self, mark: char) -> bool {
        let rest = &self.chars[self.pos..];
        let name_length = rest
            .iter()
            .position(|&c| c == mark || c.is_whitespace() || c == '|')
            .filter(|&end| rest[end] == mark && end > 0);
        match name_length {
            Some(length) => {
                self.pos += length + 1;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(text: &str) -> Vec<TokenKind> {
        let mut lexed = Lexed::default();
        lexed.lex_music_line(text, 1).unwrap();
        lexed.tokens.into_iter().map(|t| t.kind).collect()
    }

    fn note(letter: usize, octave: i32, numerator: u32, denominator: u32) -> TokenKind {
        TokenKind::Note(WrittenNote {
            accidental: None,
            letter,
            octave,
            length: Length {
                numerator,
                denominator,
            },
        })
    }

    #[test]
    fn notes_octaves_and_lengths() {
        assert_eq!(
            lex("C, c'' A2 B/ c// d3/2 e3/ f/4"),
            vec![
                note(0, 3, 1, 1),
                note(0, 7, 1, 1),
                note(5, 4, 2, 1),
                note(6, 4, 1, 2),
                note(0, 5, 1, 4),
                note(1, 5, 3, 2),
                note(2, 5, 3, 2),
                note(3, 5, 1, 4),
            ]
        );
    }

    #[test]
    fn accidentals() {
        let accidentals: Vec<_> = lex("^c ^^c _c __c =c c")
            .into_iter()
            .map(|t| match t {
                TokenKind::Note(n) => n.accidental,
                _ => panic!("{t:?}"),
            })
            .collect();
        assert_eq!(
            accidentals,
            [Some(1), Some(2), Some(-1), Some(-2), Some(0), None]
        );
    }

    #[test]
    fn decorations_and_symbols_leave_no_tokens() {
        let grace = |letter| WrittenNote {
            accidental: None,
            letter,
            octave: 5,
            length: Length {
                numerator: 1,
                denominator: 1,
            },
        };
        assert_eq!(
            lex("!trill!c +fermata+ \"G7\"~T.uv{/ag}Hc y`$"),
            vec![
                note(0, 5, 1, 1),
                TokenKind::Grace(vec![grace(5), grace(4)]),
                note(0, 5, 1, 1)
            ]
        );
    }

    #[test]
    fn an_unclosed_bang_is_a_line_break() {
        assert_eq!(
            lex("ab!cd"),
            vec![
                note(5, 5, 1, 1),
                note(6, 5, 1, 1),
                note(0, 5, 1, 1),
                note(1, 5, 1, 1)
            ]
        );
    }

    #[test]
    fn bar_lines() {
        let bar = |repeat_end, repeat_start, double| {
            TokenKind::Bar(BarLine {
                repeat_end,
                repeat_start,
                double,
            })
        };
        assert_eq!(lex("|"), [bar(false, false, false)]);
        assert_eq!(lex("||"), [bar(false, false, true)]);
        assert_eq!(lex("|]"), [bar(false, false, true)]);
        assert_eq!(lex("[|"), [bar(false, false, true)]);
        assert_eq!(lex(":|"), [bar(true, false, false)]);
        assert_eq!(lex("|:"), [bar(false, true, false)]);
        assert_eq!(lex("::"), [bar(true, true, false)]);
        assert_eq!(lex(":|:"), [bar(true, true, false)]);
        assert_eq!(lex("::|"), [bar(true, false, false)]);
        assert_eq!(lex(":||"), [bar(true, false, true)]);
        assert_eq!(lex(".|"), [bar(false, false, false)]);
        assert_eq!(lex("[|]"), [bar(false, false, true)]);
        assert_eq!(lex("[|]:|"), [bar(true, false, true)]);
        assert_eq!(lex(":[|]|]"), [bar(true, false, true)]);
        assert_eq!(lex(":]"), [bar(true, false, true)]);
        assert_eq!(
            lex("|1"),
            [bar(false, false, false), TokenKind::Ending(vec![1])]
        );
        assert_eq!(
            lex(":|2"),
            [bar(true, false, false), TokenKind::Ending(vec![2])]
        );
        assert_eq!(lex("[1,3"), [TokenKind::Ending(vec![1, 3])]);
        assert_eq!(lex("[1-3"), [TokenKind::Ending(vec![1, 2, 3])]);
    }

    #[test]
    fn brackets_start_chords_fields_and_endings() {
        assert_eq!(
            lex("[K:Am][c2e2]3"),
            vec![
                TokenKind::Field {
                    name: 'K',
                    value: "Am".into()
                },
                TokenKind::Chord {
                    notes: vec![
                        WrittenNote {
                            accidental: None,
                            letter: 0,
                            octave: 5,
                            length: Length {
                                numerator: 2,
                                denominator: 1
                            }
                        },
                        WrittenNote {
                            accidental: None,
                            letter: 2,
                            octave: 5,
                            length: Length {
                                numerator: 2,
                                denominator: 1
                            }
                        },
                    ],
                    length: Length {
                        numerator: 3,
                        denominator: 1
                    },
                    tied: false,
                },
            ]
        );
        // A stray bracket is skipped with a warning; what follows is still read.
        let mut lexed = Lexed::default();
        lexed.lex_music_line("[\"Coda\" e (d", 4).unwrap();
        assert_eq!(lexed.tokens.len(), 2);
        assert_eq!(lexed.warnings[0].line, 4);
    }

    #[test]
    fn rhythm_marks() {
        assert_eq!(
            lex("(3 (3:2:4 >> < -"),
            vec![
                TokenKind::Tuplet {
                    p: 3,
                    q: None,
                    r: None
                },
                TokenKind::Tuplet {
                    p: 3,
                    q: Some(2),
                    r: Some(4)
                },
                TokenKind::BrokenRhythm {
                    first_longer: true,
                    strength: 2
                },
                TokenKind::BrokenRhythm {
                    first_longer: false,
                    strength: 1
                },
                TokenKind::Tie,
            ]
        );
    }

    #[test]
    fn unknown_characters_are_counted_with_their_position() {
        let mut lexed = Lexed::default();
        lexed.lex_music_line("ab # c", 7).unwrap();
        assert_eq!(lexed.unknown, 1);
        assert_eq!(lexed.first_unknown, Some((7, 4)));
        assert_eq!(lexed.tokens.len(), 3);
    }

    #[test]
    fn huge_numbers_are_errors() {
        let mut lexed = Lexed::default();
        let error = lexed.lex_music_line("a99999999", 2).unwrap_err();
        assert!(
            matches!(
                error,
                ReadError::Syntax {
                    line: 2,
                    column: 2,
                    ..
                }
            ),
            "{error}"
        );
    }
}
