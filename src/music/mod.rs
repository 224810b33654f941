//! Musical representation: notes and pieces, the step grid, tokens and encodings.
//!
//! Pure data and arithmetic, std only (plus serde for descriptions stored in model cards):
//! nothing here reads files or knows about models or hosts.

pub mod grid;
pub mod melody;
pub mod score;

pub use grid::StepGrid;
pub use melody::{Melody, MelodyEvent};
pub use score::{Key, Mode, Note, Part, Piece, TimeSignature, Timed};
