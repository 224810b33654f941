//! Musical representation: notes and pieces, the step grid, tokens and encodings.
//!
//! Pure data and arithmetic, std only (plus serde for descriptions stored in model cards):
//! nothing here reads files or knows about models or hosts.

pub mod chorale;
pub mod encoding;
pub mod grid;
pub mod melody;
pub mod score;
pub mod sequence;
pub mod stats;
pub mod text;
pub mod tonality;
pub mod transpose;

pub use chorale::Chorale;
pub use encoding::Encoding;
pub use grid::StepGrid;
pub use melody::{EncodeReport, Melody, MelodyEvent};
pub use score::{Key, Mode, Note, Part, Piece, TimeSignature, Timed};
