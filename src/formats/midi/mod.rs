//! Standard MIDI Files (via `midly`) to and from [`Piece`](crate::music::Piece), and picking the
//! line to learn from: one melody, or the four voices of a chorale.
//!
//! * [`read_midi`]: type-0 and type-1 files, every track, one part per track and channel.
//! * [`write_midi`]: a type-1 file at [`TICKS_PER_QUARTER`] that DAWs open.
//! * [`MelodySource`], [`melody_notes`], [`extract_melody`]: the melody of a piece.
//! * [`four_voices`]: soprano, alto, tenor and bass of a chorale.

mod read;
mod select;
mod write;

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod tests;

pub use read::{Damage, ReadReport, read_midi, read_midi_with_report};
pub use select::{MelodySource, extract_melody, four_voices, melody_notes};
pub use write::{MELODY_VELOCITY, TICKS_PER_QUARTER, melody_piece, write_midi};

/// Zero-based channel 10, which General MIDI reserves for drums: never a melody.
pub const DRUM_CHANNEL: u8 = 9;
