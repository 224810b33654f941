//! Training: folders of music → token streams → a model folder, with checkpoints that survive a
//! kill, validation, early stopping, a CSV log and a loss plot.

pub mod adam;
pub mod batches;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod grid;
pub mod report;
pub mod trainer;

pub use config::TrainConfig;
pub use trainer::{RunOptions, RunSummary, TrainError, measure_throughput, train};

#[cfg(test)]
mod tests;
