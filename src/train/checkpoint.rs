//! The resumable checkpoint: one safetensors file holding the weights, Adam's moments, the
//! recurrent state carried between chunks, and (as JSON metadata) where training stood.
//! One file written atomically, so a kill at any instant leaves a consistent checkpoint.

use super::config::TrainConfig;
use crate::model::folder::{ModelError, write_atomically};
use crate::music::Encoding;
use crate::rng::Rng;
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
/// The metadata key of the symbolic trainer's progress (the audio trainer uses its own).
pub const PROGRESS_KEY: &str = "cantus.progress";

/// Where training stands; everything needed to continue exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The configuration the run started with (a resume must not change the model or data).
    pub config: TrainConfig,
    pub encoding: Encoding,
    /// Current epoch, from 0.
    pub epoch: usize,
    /// Next chunk of the epoch.
    pub chunk: usize,
    pub global_step: u64,
    pub adam_steps: u64,
    pub learning_rate: f64,
    pub dropout_rng: Rng,
    /// Running sums of the current epoch's training loss.
    pub epoch_loss_sum: f64,
    pub epoch_loss_count: u64,
    pub best_valid_nll: Option<f64>,
    pub epochs_since_best: usize,
    pub history: Vec<EpochRecord>,
    pub finished: bool,
}

/// One finished epoch, as logged to `log.csv` and plotted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub steps: u64,
    pub train_nll: f64,
    pub valid_nll: Option<f64>,
    pub valid_accuracy: Option<f64>,
    pub learning_rate: f64,
    pub tokens_per_second: f64,
}

pub fn checkpoint_path(output: &Path) -> PathBuf {
    output.join(CHECKPOINT_FILE)
}

/// Writes the checkpoint (named tensors + progress) atomically.
pub fn save(
    output: &Path,
    tensors: &HashMap<String, Tensor>,
    progress: &Progress,
) -> Result<(), ModelError> {
    save_file(&checkpoint_path(output), tensors, PROGRESS_KEY, progress)
}

/// Reads a checkpoint back.
pub fn load(output: &Path, device: &Device) -> Result<(HashMap<String, Tensor>, Progress), String> {
    load_file(&checkpoint_path(output), device, PROGRESS_KEY)
}

/// Writes named tensors and one JSON metadata entry (`key`: `progress`) atomically to `path`:
/// the checkpoint format of every trainer (the audio trainer keeps its own progress type).
pub fn save_file<P: Serialize>(
    path: &Path,
    tensors: &HashMap<String, Tensor>,
    key: &str,
    progress: &P,
) -> Result<(), ModelError> {
    let mut sorted: Vec<(&String, &Tensor)> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let progress = serde_json::to_string(progress).expect("progress always serialises");
    let metadata = HashMap::from([(key.to_string(), progress)]);
    let bytes = safetensors::serialize(sorted, Some(metadata))
        .map_err(|e| ModelError::Weights(e.to_string()))?;
    write_atomically(path, &bytes)
}

/// Reads a file written by [`save_file`]: its tensors and the progress stored under `key`.
pub fn load_file<P: serde::de::DeserializeOwned>(
    path: &Path,
    device: &Device,
    key: &str,
) -> Result<(HashMap<String, Tensor>, P), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = |why: String| format!("{}: not a usable checkpoint: {why}", path.display());
    let (_, metadata) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let progress = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get(key))
        .ok_or_else(|| bad("no training progress inside".into()))?;
    let progress: P = serde_json::from_str(progress).map_err(|e| bad(e.to_string()))?;
    let tensors =
        candle_core::safetensors::load_buffer(&bytes, device).map_err(|e| bad(e.to_string()))?;
    Ok((tensors, progress))
}
