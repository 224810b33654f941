//! The model card (`model.json`): what a model is, how to decode its tokens, and how it was made.

use super::network::NetworkConfig;
use crate::music::Encoding;
use serde::{Deserialize, Serialize};

/// Version of the card format; bumped when a field changes meaning.
pub const CARD_FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub format: u32,
    pub name: String,
    pub network: NetworkConfig,
    /// How tokens map to music; the network's vocabulary size must equal the encoding's.
    pub encoding: Encoding,
    #[serde(default)]
    pub training: Option<TrainingRecord>,
    /// Free text: what the model is good for, known weaknesses.
    #[serde(default)]
    pub description: String,
}

/// How a model was trained, so anyone can train it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TrainingRecord {
    /// The exact command line.
    pub command: String,
    /// Training and validation data folders.
    pub data: Vec<String>,
    #[serde(default)]
    pub valid_data: Vec<String>,
    pub augmentation: String,
    pub epochs: usize,
    pub steps: u64,
    pub train_tokens: u64,
    /// Mean negative log-likelihood per token on the validation split, nats.
    pub valid_nll: Option<f64>,
    pub valid_accuracy: Option<f64>,
    pub tokens_per_second: Option<f64>,
    pub device: String,
    pub seed: u64,
    /// When training finished (UTC, RFC 3339).
    pub date: String,
}

impl ModelCard {
    pub fn new(name: impl Into<String>, network: NetworkConfig, encoding: Encoding) -> Self {
        Self {
            format: CARD_FORMAT,
            name: name.into(),
            network,
            encoding,
            training: None,
            description: String::new(),
        }
    }

    /// Checks the card against itself: sizes that agree, an encoding this build implements.
    pub fn validate(&self) -> Result<(), String> {
        if self.format != CARD_FORMAT {
            return Err(format!(
                "card format {} is not the supported {CARD_FORMAT}",
                self.format
            ));
        }
        self.network.validate()?;
        self.encoding.validate().map_err(|e| e.to_string())?;
        if self.network.vocab_size != self.encoding.vocab_size() {
            return Err(format!(
                "network vocabulary {} differs from the encoding's {}",
                self.network.vocab_size,
                self.encoding.vocab_size()
            ));
        }
        Ok(())
    }
}
