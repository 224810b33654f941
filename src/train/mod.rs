//! Training: folders of music → token streams → a model folder, with checkpoints that survive a
//! kill, validation, early stopping, a CSV log and a loss plot; and the same for waveform models
//! ([`audio`]).

pub mod adam;
pub mod audio;
pub mod audio_config;
pub mod batches;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod grid;
pub mod report;
pub mod trainer;

pub use audio::{AudioRunOptions, AudioRunSummary, Resume, train_audio};
pub use audio_config::{AnyConfig, AudioTrainConfig, Overrides, load_any};
pub use config::TrainConfig;
pub use trainer::{RunOptions, RunSummary, TrainError, measure_throughput, train};

#[cfg(test)]
mod tests;
