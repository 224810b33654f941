//! Waveform models: train on recordings, continue them as audio (issue #7).
//!
//! The audio path mirrors the symbolic one without touching it:
//! audio files ─[`decode`]→ mono samples at the model's rate ─[`blocks`]→ blocks of N samples
//! ─[`model`]→ predicted next blocks ─[`generate`]→ WAV (and a [`plot`] of it).
//! Training lives in [`crate::train::audio`], beside the symbolic trainer whose optimiser,
//! checkpoint file and loss plot it shares.

pub mod blocks;
pub mod decode;
pub mod generate;
pub mod model;
pub mod plot;

pub use decode::{AudioError, AudioFormat, AudioInfo, decode_file, load_mono};
pub use generate::{Continuation, continue_audio};
pub use model::{AudioCard, AudioCell, AudioModel, AudioModelConfig, FolderKind, folder_kind};
