//! A model on disk is a folder: `model.safetensors` (weights) + `model.json` (the card).
//!
//! Loading checks the card, then every tensor's name and shape against what the card implies,
//! and refuses a mismatch with a message naming the tensor, before any weight is used.

use super::card::ModelCard;
use super::network::{DTYPE, Network, initial_weights, network};
use crate::rng::Rng;
use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const CARD_FILE: &str = "model.json";

/// Why a model could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid model card: {message}")]
    Card { path: PathBuf, message: String },
    #[error("weights: {0}")]
    Weights(String),
    #[error("weights: tensor {name} has shape {got:?}, the card implies {expected:?}")]
    Shape {
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    #[error("weights: tensor {0} is missing")]
    Missing(String),
    #[error("weights: unexpected tensor {0} (a different architecture?)")]
    Unexpected(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// A loaded model: its card and its network, ready to run.
#[derive(Debug, Clone)]
pub struct Model {
    pub card: ModelCard,
    pub network: Network,
}

impl Model {
    /// Loads `dir/model.json` and `dir/model.safetensors`.
    pub fn load(dir: &Path, device: &Device) -> Result<Model, ModelError> {
        let card_path = dir.join(CARD_FILE);
        let card_text = read(&card_path)?;
        let weights = read(&dir.join(WEIGHTS_FILE))?;
        let card_text = String::from_utf8(card_text).map_err(|_| ModelError::Card {
            path: card_path.clone(),
            message: "not UTF-8 text".into(),
        })?;
        Self::from_parts(&card_text, &weights, device).map_err(|error| match error {
            ModelError::Card { message, .. } => ModelError::Card {
                path: card_path,
                message,
            },
            other => other,
        })
    }

    /// Builds a model from a card's JSON text and safetensors bytes (e.g. compiled into the plugin).
    pub fn from_parts(
        card_json: &str,
        weights: &[u8],
        device: &Device,
    ) -> Result<Model, ModelError> {
        // Audio and chorale folders have cards of their own, marked by `kind`: name it rather
        // than report the first field a melody card would miss.
        if let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(card_json)
            && let Some(kind) = fields.get("kind").and_then(|k| k.as_str())
        {
            return Err(ModelError::Card {
                path: PathBuf::from(CARD_FILE),
                message: format!(
                    "a {kind} model, not a token model: melodies and text come from models without a kind (`cantus harmonize` takes chorale models, `cantus generate --seconds` audio ones)"
                ),
            });
        }
        let card: ModelCard = serde_json::from_str(card_json).map_err(|e| ModelError::Card {
            path: PathBuf::from(CARD_FILE),
            message: e.to_string(),
        })?;
        card.validate().map_err(|message| ModelError::Card {
            path: PathBuf::from(CARD_FILE),
            message,
        })?;
        let tensors = candle_core::safetensors::load_buffer(weights, device)
            .map_err(|e| ModelError::Weights(format!("not a safetensors file: {e}")))?;
        check_shapes(&card, &tensors)?;
        let tensors = tensors
            .into_iter()
            .map(|(name, t)| Ok((name, t.to_dtype(DTYPE)?)))
            .collect::<Result<HashMap<_, _>, candle_core::Error>>()?;
        let vb = VarBuilder::from_tensors(tensors, DTYPE, device);
        let network = network(card.network, vb)?;
        Ok(Model { card, network })
    }
}

impl Model {
    /// A model with fresh weights drawn from `seed` (PyTorch's initialisation, as training
    /// starts): for tests, benchmarks and trying the plumbing before a model is trained.
    pub fn untrained(card: ModelCard, seed: u64, device: &Device) -> Result<Model, ModelError> {
        let weights = initial_weights(&card.network, &mut Rng::new(seed), device)?;
        let vb = VarBuilder::from_tensors(weights.into_iter().collect(), DTYPE, device);
        let network = network(card.network, vb)?;
        Ok(Model { card, network })
    }
}

/// Saves an untrained model (see [`Model::untrained`]) as a model folder.
pub fn save_untrained(dir: &Path, card: &ModelCard, seed: u64) -> Result<(), ModelError> {
    let weights = initial_weights(&card.network, &mut Rng::new(seed), &Device::Cpu)?;
    save_model(dir, card, &weights.into_iter().collect())
}

/// Every tensor the card implies is there with its shape, and nothing else is.
fn check_shapes(card: &ModelCard, tensors: &HashMap<String, Tensor>) -> Result<(), ModelError> {
    check_tensor_shapes(&card.network.weight_shapes(), tensors)
}

/// Every tensor in `expected` is in `tensors` with its shape, and nothing else is: the check
/// every model folder's loader makes.
pub fn check_tensor_shapes(
    expected: &[(String, Vec<usize>)],
    tensors: &HashMap<String, Tensor>,
) -> Result<(), ModelError> {
    for (name, shape) in expected {
        let tensor = tensors
            .get(name)
            .ok_or_else(|| ModelError::Missing(name.clone()))?;
        if tensor.dims() != shape.as_slice() {
            return Err(ModelError::Shape {
                name: name.clone(),
                expected: shape.clone(),
                got: tensor.dims().to_vec(),
            });
        }
    }
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    match names
        .into_iter()
        .find(|n| !expected.iter().any(|(e, _)| e == *n))
    {
        Some(extra) => Err(ModelError::Unexpected(extra.clone())),
        None => Ok(()),
    }
}

/// Saves a card and named weights as a model folder; each file is written atomically, so a crash
/// leaves either the old file or the new one, never half of one.
pub fn save_model(
    dir: &Path,
    card: &ModelCard,
    tensors: &HashMap<String, Tensor>,
) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let weights = safetensors_bytes(tensors)?;
    write_atomically(&dir.join(WEIGHTS_FILE), &weights)?;
    let json = serde_json::to_string_pretty(card).expect("a card always serialises");
    write_atomically(&dir.join(CARD_FILE), json.as_bytes())
}

/// Tensors serialised as safetensors, names sorted so equal weights give equal bytes.
pub fn safetensors_bytes(tensors: &HashMap<String, Tensor>) -> Result<Vec<u8>, ModelError> {
    let mut sorted: Vec<(&String, &Tensor)> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    safetensors::serialize(sorted, None).map_err(|e| ModelError::Weights(e.to_string()))
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, and renames it over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    let io = |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = path.with_file_name(format!(".{file_name}.tmp"));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        if let Some(parent) = path.parent() {
            // Make the rename itself durable; not every filesystem allows syncing a folder.
            let _ = std::fs::File::open(parent).and_then(|d| d.sync_all());
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(io)
}

fn read(path: &Path) -> Result<Vec<u8>, ModelError> {
    std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })
}
