//! The training configuration file (`cantus-train train CONFIG.toml`).
//!
//! ```toml
//! name = "folk"
//! output = "models/folk"
//!
//! [data]
//! train = ["data/ryans/train"]
//! valid = ["data/ryans/valid"]
//! extensions = ["abc"]          # which files of those folders to read
//! encoding = "melody_events"    # melody_events | pitch_sequence | intervals | chars
//! steps_per_quarter = 4
//! augment = "random_key"        # none | all_keys | random_key
//!
//! [model]
//! cell = "lstm"                 # rnn | lstm | gru | ugrnn | nas
//! layers = 2
//! embedding = 32
//! hidden = 192
//! dropout = 0.1
//!
//! [training]
//! sequence_length = 64
//! batch_size = 32
//! learning_rate = 0.003
//! lr_decay = 0.9                # per epoch
//! epochs = 20
//! patience = 3                  # epochs without a better validation NLL before stopping
//! clip_norm = 5.0
//! seed = 1
//! checkpoint_every = 200        # steps
//! ```
//!
//! Relative paths are resolved against the folder the configuration file is in.

use crate::model::CellKind;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub name: String,
    pub output: PathBuf,
    pub data: DataConfig,
    pub model: ModelConfig,
    pub training: TrainingConfig,
    #[serde(default)]
    pub description: String,
    /// The data folders as written in the file (relative to it), for the model card.
    #[serde(skip)]
    pub data_as_written: (Vec<PathBuf>, Vec<PathBuf>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub train: Vec<PathBuf>,
    #[serde(default)]
    pub valid: Vec<PathBuf>,
    /// File extensions to read (without the dot); empty reads every music file.
    #[serde(default)]
    pub extensions: Vec<String>,
    pub encoding: EncodingKind,
    #[serde(default = "default_steps_per_quarter")]
    pub steps_per_quarter: u32,
    #[serde(default)]
    pub augment: Augmentation,
}

fn default_steps_per_quarter() -> u32 {
    4
}

/// Which encoding turns the pieces into tokens (see [`crate::music::Encoding`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncodingKind {
    MelodyEvents,
    PitchSequence,
    Intervals,
    Chars,
}

/// Key augmentation of the training split (validation is never augmented).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Augmentation {
    #[default]
    None,
    /// Every piece in all 12 keys, every epoch (12× the data).
    AllKeys,
    /// Every piece in one of its 12 keys, drawn anew each epoch: the same keys over many
    /// epochs at a twelfth of the cost per epoch.
    RandomKey,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub cell: CellKind,
    pub layers: usize,
    pub embedding: usize,
    pub hidden: usize,
    #[serde(default)]
    pub dropout: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    pub sequence_length: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Learning rate multiplier applied after every epoch (1.0 = constant).
    #[serde(default = "one")]
    pub lr_decay: f64,
    pub epochs: usize,
    /// Stop after this many epochs without a better validation NLL (0 = never stop early).
    #[serde(default)]
    pub patience: usize,
    /// Largest global gradient norm (0 = no clipping).
    #[serde(default)]
    pub clip_norm: f64,
    #[serde(default)]
    pub seed: u64,
    /// Write the resumable checkpoint every this many steps (and after every epoch).
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    /// Stop after this many steps in all (0 = no limit): for tests and quick experiments.
    #[serde(default)]
    pub max_steps: u64,
}

fn one() -> f64 {
    1.0
}

fn default_checkpoint_every() -> u64 {
    200
}

/// A configuration that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl TrainConfig {
    /// Reads, validates and resolves relative paths against the file's folder.
    pub fn load(path: &Path) -> Result<TrainConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let mut config: TrainConfig = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        config.validate().map_err(invalid)?;
        config.data_as_written = (config.data.train.clone(), config.data.valid.clone());
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        resolve(&mut self.output);
        self.data.train.iter_mut().for_each(resolve);
        self.data.valid.iter_mut().for_each(resolve);
    }

    pub fn validate(&self) -> Result<(), String> {
        let t = &self.training;
        let m = &self.model;
        let checks = [
            (self.data.train.is_empty(), "data.train names no folder"),
            (!(1..=5).contains(&m.layers), "model.layers must be 1..=5"),
            (
                m.hidden == 0 || m.embedding == 0,
                "model sizes must be positive",
            ),
            (
                !(0.0..1.0).contains(&m.dropout),
                "model.dropout must be in [0, 1)",
            ),
            (
                t.sequence_length == 0,
                "training.sequence_length must be positive",
            ),
            (t.batch_size == 0, "training.batch_size must be positive"),
            (
                t.learning_rate.is_nan() || t.learning_rate <= 0.0,
                "training.learning_rate must be positive",
            ),
            (t.epochs == 0, "training.epochs must be positive"),
            (
                t.checkpoint_every == 0,
                "training.checkpoint_every must be positive",
            ),
            (
                self.data.steps_per_quarter == 0,
                "data.steps_per_quarter must be positive",
            ),
            (
                self.data.encoding == EncodingKind::Chars
                    && self.data.augment != Augmentation::None,
                "key augmentation applies to note encodings, not chars",
            ),
        ];
        match checks.iter().find(|(bad, _)| *bad) {
            Some((_, message)) => Err(message.to_string()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
name = "folk"
output = "out/folk"
[data]
train = ["data/ryans/train"]
valid = ["data/ryans/valid"]
extensions = ["abc"]
encoding = "melody_events"
augment = "random_key"
[model]
cell = "lstm"
layers = 2
embedding = 32
hidden = 64
dropout = 0.1
[training]
sequence_length = 64
batch_size = 16
learning_rate = 0.003
epochs = 3
"#;

    #[test]
    fn reads_the_documented_format_and_resolves_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("folk.toml");
        std::fs::write(&path, EXAMPLE).unwrap();
        let config = TrainConfig::load(&path).unwrap();
        assert_eq!(config.model.cell, CellKind::Lstm);
        assert_eq!(config.data.augment, Augmentation::RandomKey);
        assert_eq!(config.output, dir.path().join("out/folk"));
        assert_eq!(config.training.lr_decay, 1.0);
        assert_eq!(config.training.checkpoint_every, 200);
    }

    #[test]
    fn mistakes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, EXAMPLE.replace("layers = 2", "layers = 9")).unwrap();
        let error = TrainConfig::load(&path).unwrap_err().to_string();
        assert!(error.contains("model.layers must be 1..=5"), "{error}");
        std::fs::write(&path, EXAMPLE.replace("hidden = 64", "hiden = 64")).unwrap();
        let error = TrainConfig::load(&path).unwrap_err().to_string();
        assert!(error.contains("hiden"), "{error}");
        std::fs::write(&path, EXAMPLE.replace("\"lstm\"", "\"transformer\"")).unwrap();
        assert!(TrainConfig::load(&path).is_err());
    }
}
