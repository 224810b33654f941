//! The audio training configuration (`cantus-train train audio.toml`), and telling it from a
//! symbolic one.
//!
//! ```toml
//! kind = "audio"                # what makes this an audio configuration
//! name = "cello"
//! output = "models/cello"
//!
//! [data]
//! train = ["recordings/cello"]  # audio files or folders: .wav .mp3 .flac .ogg
//! valid = []                    # optional; scored after every epoch
//! sample_rate = 16000           # everything is mixed to mono and resampled to this
//! block_size = 64               # samples per block: the model's input and output
//!
//! [model]
//! cell = "lstm"                 # lstm | gru
//! layers = 2
//! hidden = 128
//!
//! [training]
//! iterations = 500              # steps (batches) per epoch
//! epochs = 20
//! batch_size = 16
//! sequence_length = 32          # blocks per training sequence
//! learning_rate = 0.002
//! clip_norm = 1.0               # 0 = no clipping
//! input_noise = 0.02            # noise on the inputs (default): steadier continuations
//! checkpoint_every = 100        # steps
//! seed = 1
//! ```
//!
//! Relative paths are resolved against the folder the configuration file is in.

use super::config::{ConfigError, TrainConfig};
use crate::audio::model::{AUDIO_KIND, AudioCell, AudioModelConfig};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A whole audio training configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioTrainConfig {
    /// Always `"audio"`.
    pub kind: String,
    pub name: String,
    pub output: PathBuf,
    pub data: AudioDataConfig,
    pub model: AudioNetConfig,
    pub training: AudioTrainingConfig,
    #[serde(default)]
    pub description: String,
    /// The data paths as written in the file (relative to it), for the model card.
    #[serde(skip)]
    pub data_as_written: (Vec<PathBuf>, Vec<PathBuf>),
}

/// Which audio to learn from, and how to cut it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioDataConfig {
    pub train: Vec<PathBuf>,
    #[serde(default)]
    pub valid: Vec<PathBuf>,
    #[serde(default = "default_sample_rate")]
    pub sample_rate: u32,
    pub block_size: usize,
}

fn default_sample_rate() -> u32 {
    16_000
}

/// The recurrent part of the block model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioNetConfig {
    pub cell: AudioCell,
    #[serde(default = "one_layer")]
    pub layers: usize,
    pub hidden: usize,
}

fn one_layer() -> usize {
    1
}

/// How long and how hard to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioTrainingConfig {
    /// Steps (batches of random windows) per epoch.
    pub iterations: usize,
    pub epochs: usize,
    pub batch_size: usize,
    /// Blocks per training sequence.
    pub sequence_length: usize,
    pub learning_rate: f64,
    /// Learning rate multiplier applied after every epoch (1.0 = constant).
    #[serde(default = "unit")]
    pub lr_decay: f64,
    /// Largest global gradient norm (0 = no clipping).
    #[serde(default = "unit")]
    pub clip_norm: f64,
    /// Standard deviation of Gaussian noise added to the input blocks (not the targets): teaches
    /// the model to correct small errors, as it must when it runs on its own output (without it
    /// a continued sine wave drifted into noise within a tenth of a second in the tests).
    #[serde(default = "default_input_noise")]
    pub input_noise: f64,
    /// Write the resumable checkpoint every this many steps (and after every epoch).
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    #[serde(default)]
    pub seed: u64,
    /// Stop after this many steps in all (0 = no limit): for tests and quick experiments.
    #[serde(default)]
    pub max_steps: u64,
}

fn unit() -> f64 {
    1.0
}

fn default_input_noise() -> f64 {
    0.02
}

fn default_checkpoint_every() -> u64 {
    100
}

/// Command-line values that replace the configuration's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    pub iterations: Option<usize>,
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
}

/// A training configuration of either kind, told apart by a top-level `kind = "audio"`.
#[derive(Debug, Clone)]
pub enum AnyConfig {
    Symbolic(TrainConfig),
    Audio(AudioTrainConfig),
}

/// Reads a configuration of either kind: `kind = "audio"` at the top makes it an audio one,
/// no `kind` a symbolic one; anything else is refused with the reason.
pub fn load_any(path: &Path) -> Result<AnyConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let table: toml::Table = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    match table.get("kind") {
        None => {
            let data = table.get("data").and_then(toml::Value::as_table);
            if data.is_some_and(|d| d.contains_key("block_size") || d.contains_key("sample_rate")) {
                return Err(invalid(
                    "data.block_size and data.sample_rate belong to audio configurations: add \
                     kind = \"audio\" at the top of the file"
                        .into(),
                ));
            }
            Ok(AnyConfig::Symbolic(TrainConfig::load(path)?))
        }
        Some(toml::Value::String(kind)) if kind == AUDIO_KIND => {
            Ok(AnyConfig::Audio(AudioTrainConfig::from_text(&text, path)?))
        }
        Some(other) => Err(invalid(format!(
            "kind = {other} is unknown: write kind = \"audio\" for an audio model, or leave kind \
             out for a symbolic (MIDI/ABC) one"
        ))),
    }
}

impl AudioTrainConfig {
    /// Reads, validates and resolves relative paths against the file's folder.
    pub fn load(path: &Path) -> Result<AudioTrainConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_text(&text, path)
    }

    fn from_text(text: &str, path: &Path) -> Result<AudioTrainConfig, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let mut config: AudioTrainConfig =
            toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        config.validate().map_err(invalid)?;
        config.data_as_written = (config.data.train.clone(), config.data.valid.clone());
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        resolve(&mut config.output);
        config.data.train.iter_mut().for_each(resolve);
        config.data.valid.iter_mut().for_each(resolve);
        Ok(config)
    }

    /// Applies the command line's values, then checks the result again.
    pub fn apply(&mut self, overrides: Overrides) -> Result<(), String> {
        let t = &mut self.training;
        t.iterations = overrides.iterations.unwrap_or(t.iterations);
        t.epochs = overrides.epochs.unwrap_or(t.epochs);
        t.batch_size = overrides.batch_size.unwrap_or(t.batch_size);
        self.validate()
    }

    /// The block model this configuration trains.
    pub fn model_config(&self) -> AudioModelConfig {
        AudioModelConfig {
            cell: self.model.cell,
            layers: self.model.layers,
            hidden: self.model.hidden,
            block_size: self.data.block_size,
            sample_rate: self.data.sample_rate,
        }
    }

    /// Every field in range, or the first that is not, named as in the file.
    pub fn validate(&self) -> Result<(), String> {
        let t = &self.training;
        let checks = [
            (self.kind != AUDIO_KIND, "kind must be \"audio\""),
            (
                self.data.train.is_empty(),
                "data.train names no file or folder",
            ),
            (
                !(1..=8192).contains(&self.data.block_size),
                "data.block_size must be 1..=8192 samples",
            ),
            (
                !(1000..=384_000).contains(&self.data.sample_rate),
                "data.sample_rate must be 1000..=384000 Hz",
            ),
            (
                !(1..=5).contains(&self.model.layers),
                "model.layers must be 1..=5",
            ),
            (self.model.hidden == 0, "model.hidden must be positive"),
            (t.iterations == 0, "training.iterations must be positive"),
            (t.epochs == 0, "training.epochs must be positive"),
            (t.batch_size == 0, "training.batch_size must be positive"),
            (
                t.sequence_length == 0,
                "training.sequence_length must be positive",
            ),
            (
                t.learning_rate.is_nan() || t.learning_rate <= 0.0,
                "training.learning_rate must be positive",
            ),
            (
                t.clip_norm.is_nan() || t.clip_norm < 0.0,
                "training.clip_norm must be 0 or more",
            ),
            (
                !(0.0..1.0).contains(&t.input_noise),
                "training.input_noise must be in [0, 1)",
            ),
            (
                t.lr_decay.is_nan() || t.lr_decay <= 0.0,
                "training.lr_decay must be positive",
            ),
            (
                t.checkpoint_every == 0,
                "training.checkpoint_every must be positive",
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
kind = "audio"
name = "waves"
output = "out/waves"
[data]
train = ["audio"]
block_size = 32
[model]
cell = "gru"
hidden = 48
[training]
iterations = 50
epochs = 2
batch_size = 8
sequence_length = 16
learning_rate = 0.003
"#;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audio.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn audio_config_reads_with_defaults_and_resolves_paths() {
        let (dir, path) = write(EXAMPLE);
        let AnyConfig::Audio(mut config) = load_any(&path).unwrap() else {
            panic!("not read as audio");
        };
        assert_eq!(config.data.sample_rate, 16_000);
        assert_eq!(config.model.layers, 1);
        assert_eq!(config.model.cell, AudioCell::Gru);
        assert_eq!(config.output, dir.path().join("out/waves"));
        assert_eq!(config.data.train, vec![dir.path().join("audio")]);
        assert_eq!(config.data_as_written.0, vec![PathBuf::from("audio")]);
        let overrides = Overrides {
            iterations: Some(7),
            epochs: None,
            batch_size: Some(3),
        };
        config.apply(overrides).unwrap();
        assert_eq!((config.training.iterations, config.training.epochs), (7, 2));
        assert_eq!(config.training.batch_size, 3);
        let zero = Overrides {
            epochs: Some(0),
            ..Overrides::default()
        };
        assert!(config.apply(zero).unwrap_err().contains("epochs"));
    }

    #[test]
    fn audio_config_mistakes_are_named() {
        let cases = [
            (EXAMPLE.replace("\"gru\"", "\"nas\""), "unknown variant"),
            (
                EXAMPLE.replace("block_size = 32", "block_size = 0"),
                "data.block_size",
            ),
            (EXAMPLE.replace("hidden = 48", "hiden = 48"), "hiden"),
            (
                EXAMPLE.replace("kind = \"audio\"", "kind = \"midi\""),
                "kind = \"midi\" is unknown",
            ),
            (
                EXAMPLE.replace("kind = \"audio\"", ""),
                "add kind = \"audio\"",
            ),
            (
                EXAMPLE.replace("iterations = 50", "iterations = 0"),
                "training.iterations",
            ),
        ];
        for (text, expected) in cases {
            let (_dir, path) = write(&text);
            let error = load_any(&path).unwrap_err().to_string();
            assert!(error.contains(expected), "{expected:?} not in {error}");
            assert!(error.contains("audio.toml"), "{error}");
        }
    }
}
