//! Models: recurrent networks over tokens, in candle, and the model folder on disk.
//!
//! Knows tokens and encodings (from [`crate::music`]) but nothing of files' musical formats,
//! hosts or real time.

pub mod card;
pub mod cell;
pub mod fast;
pub mod folder;
pub mod kernel;
pub mod network;

pub use card::{ModelCard, TrainingRecord};
pub use cell::CellKind;
pub use folder::{Model, ModelError};
pub use network::{Network, NetworkConfig, NetworkState};

#[cfg(test)]
mod tests;
