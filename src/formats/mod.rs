//! File formats ↔ [`crate::music::Piece`]: MIDI (midly) and ABC.
//!
//! Readers never panic on bad input: they return a [`ReadError`] that says where and why.

/// Why a file could not be read, with the position where one is known.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Text formats: a syntax error at a 1-based line and column.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// Binary formats: malformed data at a byte offset.
    #[error("byte {offset}: {message}")]
    Malformed { offset: usize, message: String },
    /// Readable, but holds no note to play.
    #[error("no notes")]
    NoNotes,
    /// Well-formed, but uses something Cantus cannot represent.
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
pub mod abc;
pub mod corpus;
pub mod midi;
