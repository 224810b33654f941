//! The block model: a many-to-many LSTM or GRU over blocks of N samples, with a time-distributed
//! linear layer that predicts the next block from each step's output; and its folder on disk.
//!
//! ```text
//! block t (N samples) ─▶ LSTM/GRU layers (hidden H) ─▶ linear H → N ─▶ prediction of block t+1
//! ```
//!
//! The recurrent layers are the symbolic models' own cells ([`crate::model::cell`]) with a block
//! as their input instead of a token embedding, so the weight names are PyTorch's
//! (`rnn.weight_ih_l0`, …) plus `head.weight` and `head.bias`.
//!
//! An audio model folder holds `model.safetensors`, `model.json` (an [`AudioCard`], marked
//! `"kind": "audio"` so it is never mistaken for a symbolic model) and `primer.wav` (openings
//! of the training audio to start generation from).

use super::decode::{self, wav_bytes};
use crate::model::cell::{Cell, CellKind, LayerState, cell, cell_shapes};
use crate::model::folder::{
    CARD_FILE, ModelError, WEIGHTS_FILE, safetensors_bytes, write_atomically,
};
use crate::model::network::DTYPE;
use crate::rng::Rng;
use candle_core::{Device, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The card's `kind` for audio models; symbolic cards have no `kind`.
pub const AUDIO_KIND: &str = "audio";
/// Version of the audio card format; bumped when a field changes meaning.
pub const AUDIO_CARD_FORMAT: u32 = 1;
/// Openings of the training audio kept in the folder, to seed generation without a primer.
pub const PRIMER_FILE: &str = "primer.wav";

/// The recurrent cells an audio model may use (the issue asks for LSTM or GRU).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioCell {
    Lstm,
    Gru,
}

impl AudioCell {
    /// The shared cell implementation this maps to.
    pub fn kind(self) -> CellKind {
        match self {
            AudioCell::Lstm => CellKind::Lstm,
            AudioCell::Gru => CellKind::Gru,
        }
    }
}

/// The shape of an audio model; stored in its card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioModelConfig {
    pub cell: AudioCell,
    /// Recurrent layers, 1..=5.
    pub layers: usize,
    /// Units in every recurrent layer.
    pub hidden: usize,
    /// Samples per block: the model's input and output width.
    pub block_size: usize,
    /// The rate every input is resampled to, and the output's rate.
    pub sample_rate: u32,
}

impl AudioModelConfig {
    /// Every weight's name and shape, as stored in `model.safetensors`.
    pub fn weight_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut shapes = Vec::new();
        for layer in 0..self.layers {
            let input = if layer == 0 {
                self.block_size
            } else {
                self.hidden
            };
            for (name, shape) in cell_shapes(self.cell.kind(), input, self.hidden, layer) {
                shapes.push((format!("rnn.{name}"), shape));
            }
        }
        shapes.push(("head.weight".into(), vec![self.block_size, self.hidden]));
        shapes.push(("head.bias".into(), vec![self.block_size]));
        shapes
    }

    /// Sizes that make a model.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !(1..=5).contains(&self.layers) {
            return Err(format!("layers must be 1..=5, not {}", self.layers));
        }
        if self.hidden == 0 || self.block_size == 0 {
            return Err("hidden and block_size must be positive".into());
        }
        if !(1000..=384_000).contains(&self.sample_rate) {
            return Err(format!(
                "sample_rate must be 1000..=384000 Hz, not {}",
                self.sample_rate
            ));
        }
        Ok(())
    }

    /// Fresh weights from a seed, uniform in ±1/√hidden (PyTorch's rule for recurrent and
    /// linear layers), seeded here because candle's CPU generator cannot be.
    pub fn initial_weights(&self, seed: u64, device: &Device) -> Result<HashMap<String, Tensor>> {
        let mut rng = Rng::new(seed);
        let bound = 1.0 / (self.hidden as f64).sqrt();
        self.weight_shapes()
            .into_iter()
            .map(|(name, shape)| {
                let count: usize = shape.iter().product();
                let values: Vec<f32> = (0..count)
                    .map(|_| ((rng.uniform() * 2.0 - 1.0) * bound) as f32)
                    .collect();
                Ok((name, Tensor::from_vec(values, shape, device)?))
            })
            .collect()
    }
}

/// `model.json` of an audio model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioCard {
    /// Always [`AUDIO_KIND`]: what tells an audio folder from a symbolic one.
    pub kind: String,
    pub format: u32,
    pub name: String,
    pub model: AudioModelConfig,
    /// Blocks per training sequence; generation primes with at most twice as many.
    pub sequence_length: usize,
    /// Samples in each opening stored in `primer.wav` (0 when there is none).
    #[serde(default)]
    pub primer_samples: usize,
    #[serde(default)]
    pub training: Option<AudioTrainingRecord>,
    #[serde(default)]
    pub description: String,
}

/// How an audio model was trained, so anyone can train it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AudioTrainingRecord {
    pub command: String,
    pub data: Vec<String>,
    #[serde(default)]
    pub valid_data: Vec<String>,
    pub epochs: usize,
    pub iterations: usize,
    pub batch_size: usize,
    pub steps: u64,
    /// Seconds of training audio (after resampling).
    pub train_seconds: f64,
    /// Mean squared error per sample of the last epoch's training batches.
    pub train_mse: f64,
    pub valid_mse: Option<f64>,
    pub device: String,
    pub seed: u64,
}

impl AudioCard {
    /// A card for a model of this shape, with no training record yet.
    pub fn new(name: impl Into<String>, model: AudioModelConfig, sequence_length: usize) -> Self {
        AudioCard {
            kind: AUDIO_KIND.into(),
            format: AUDIO_CARD_FORMAT,
            name: name.into(),
            model,
            sequence_length,
            primer_samples: 0,
            training: None,
            description: String::new(),
        }
    }
}

/// What a model folder holds, judged from its card alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderKind {
    /// Tokens in, tokens out (MIDI/ABC): [`crate::model::Model`].
    Symbolic,
    /// Waveform blocks in and out: [`AudioModel`].
    Audio,
}

/// Reads `dir/model.json` just far enough to tell an audio model from a symbolic one.
pub fn folder_kind(dir: &Path) -> std::result::Result<FolderKind, ModelError> {
    let path = dir.join(CARD_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Io {
        path: path.clone(),
        source,
    })?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| ModelError::Card {
        path: path.clone(),
        message: e.to_string(),
    })?;
    match json.get("kind") {
        None => Ok(FolderKind::Symbolic),
        Some(serde_json::Value::String(kind)) if kind == AUDIO_KIND => Ok(FolderKind::Audio),
        Some(other) => Err(ModelError::Card {
            path,
            message: format!("unknown model kind {other}: expected \"audio\" or none"),
        }),
    }
}

/// The block model's weights, ready to run.
#[derive(Debug, Clone)]
pub struct BlockModel {
    pub config: AudioModelConfig,
    cells: Vec<Cell>,
    head: Linear,
    device: Device,
}

/// Builds the block model from `vb` (`rnn.weight_ih_l{k}`…, `head.weight`, `head.bias`).
pub fn block_model(config: AudioModelConfig, vb: VarBuilder) -> Result<BlockModel> {
    let cells = (0..config.layers)
        .map(|layer| {
            let input = if layer == 0 {
                config.block_size
            } else {
                config.hidden
            };
            cell(
                config.cell.kind(),
                input,
                config.hidden,
                layer,
                vb.pp("rnn"),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let head = candle_nn::linear(config.hidden, config.block_size, vb.pp("head"))?;
    Ok(BlockModel {
        config,
        cells,
        head,
        device: vb.device().clone(),
    })
}

impl BlockModel {
    /// Every layer's zero state for `batch` sequences.
    pub fn zero_state(&self, batch: usize) -> Result<Vec<LayerState>> {
        self.cells
            .iter()
            .map(|c| c.zero_state(batch, &self.device))
            .collect()
    }

    /// Predictions of the next block after each of `blocks` (one batch × N tensor per step; kept
    /// apart so backpropagation stays linear in the length), stacked as batch × T × N, and the
    /// state after the last step.
    pub fn forward_blocks(
        &self,
        blocks: &[Tensor],
        state: &[LayerState],
    ) -> Result<(Tensor, Vec<LayerState>)> {
        let mut xs = blocks.to_vec();
        let mut next = Vec::with_capacity(self.cells.len());
        for (cell, layer_state) in self.cells.iter().zip(state) {
            let (outputs, last) = cell.forward_sequence(&xs, layer_state)?;
            next.push(last);
            xs = outputs;
        }
        let predictions = Tensor::stack(&xs, 1)?.apply(&self.head)?;
        Ok((predictions, next))
    }

    /// The prediction of the block after `block` (N samples), advancing `state` (batch 1).
    pub fn step(&self, block: &[f32], state: &mut [LayerState]) -> Result<Vec<f32>> {
        let mut x = Tensor::from_slice(block, (1, block.len()), &self.device)?;
        for (cell, layer_state) in self.cells.iter().zip(state.iter_mut()) {
            *layer_state = cell.update(&cell.project_input(&x)?, layer_state)?;
            x = layer_state.h.clone();
        }
        x.apply(&self.head)?.squeeze(0)?.to_vec1()
    }
}

impl Module for BlockModel {
    /// batch × T × N blocks → batch × T × N predictions of each next block, from a zero state.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let steps = xs.dim(1)?;
        let blocks = (0..steps)
            .map(|t| xs.narrow(1, t, 1)?.squeeze(1))
            .collect::<Result<Vec<_>>>()?;
        let state = self.zero_state(xs.dim(0)?)?;
        Ok(self.forward_blocks(&blocks, &state)?.0)
    }
}

/// Mean squared error per sample: the training loss.
pub fn mse(predictions: &Tensor, targets: &Tensor) -> Result<Tensor> {
    (predictions - targets)?.sqr()?.mean_all()
}

/// Why an audio model folder could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AudioModelError {
    #[error(
        "{0}: holds a symbolic (MIDI/ABC) model, not an audio model (its model.json has no \
         \"kind\": \"audio\")"
    )]
    Symbolic(PathBuf),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("{path}: {message}")]
    Primer { path: PathBuf, message: String },
}

/// A loaded audio model: card, network and the stored openings.
#[derive(Debug, Clone)]
pub struct AudioModel {
    pub card: AudioCard,
    pub network: BlockModel,
    /// Openings of the training audio (each `card.primer_samples` long); may be empty.
    pub primers: Vec<Vec<f32>>,
}

impl AudioModel {
    /// Loads `dir`, checking the card and every tensor's name and shape before use; a symbolic
    /// folder is refused by name.
    pub fn load(dir: &Path, device: &Device) -> std::result::Result<AudioModel, AudioModelError> {
        if folder_kind(dir)? == FolderKind::Symbolic {
            return Err(AudioModelError::Symbolic(dir.to_path_buf()));
        }
        let card_path = dir.join(CARD_FILE);
        let invalid = |message: String| ModelError::Card {
            path: card_path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&card_path).map_err(|source| ModelError::Io {
            path: card_path.clone(),
            source,
        })?;
        let card: AudioCard = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if card.format != AUDIO_CARD_FORMAT {
            return Err(invalid(format!(
                "audio card format {} is not the supported {AUDIO_CARD_FORMAT}",
                card.format
            ))
            .into());
        }
        card.model.validate().map_err(invalid)?;
        let weights_path = dir.join(WEIGHTS_FILE);
        let bytes = std::fs::read(&weights_path).map_err(|source| ModelError::Io {
            path: weights_path.clone(),
            source,
        })?;
        let tensors = candle_core::safetensors::load_buffer(&bytes, device).map_err(|e| {
            ModelError::Weights(format!(
                "{}: not a safetensors file: {e}",
                weights_path.display()
            ))
        })?;
        check_shapes(&card.model, &tensors)?;
        let tensors = tensors
            .into_iter()
            .map(|(name, t)| Ok((name, t.to_dtype(DTYPE)?)))
            .collect::<Result<HashMap<_, _>>>()
            .map_err(ModelError::from)?;
        let network = block_model(card.model, VarBuilder::from_tensors(tensors, DTYPE, device))
            .map_err(ModelError::from)?;
        let primers = read_primers(dir, &card)?;
        Ok(AudioModel {
            card,
            network,
            primers,
        })
    }
}

/// The openings in `primer.wav`, cut back into segments.
fn read_primers(
    dir: &Path,
    card: &AudioCard,
) -> std::result::Result<Vec<Vec<f32>>, AudioModelError> {
    let path = dir.join(PRIMER_FILE);
    if card.primer_samples == 0 || !path.exists() {
        return Ok(Vec::new());
    }
    let decoded = decode::decode_file(&path).map_err(|e| AudioModelError::Primer {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if decoded.info.sample_rate != card.model.sample_rate {
        return Err(AudioModelError::Primer {
            path,
            message: format!(
                "{} Hz, the model runs at {} Hz",
                decoded.info.sample_rate, card.model.sample_rate
            ),
        });
    }
    Ok(decoded
        .mono
        .chunks_exact(card.primer_samples)
        .map(<[f32]>::to_vec)
        .collect())
}

/// Every tensor the configuration implies is there with its shape, and nothing else is.
pub fn check_shapes(
    config: &AudioModelConfig,
    tensors: &HashMap<String, Tensor>,
) -> std::result::Result<(), ModelError> {
    crate::model::folder::check_tensor_shapes(&config.weight_shapes(), tensors)
}

/// Saves an audio model folder: weights, `primer.wav` (the openings, one after another) and the
/// card last, each file atomically, so a folder with a card is always complete.
pub fn save_audio_model(
    dir: &Path,
    card: &AudioCard,
    tensors: &HashMap<String, Tensor>,
    primers: &[Vec<f32>],
) -> std::result::Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    write_atomically(&dir.join(WEIGHTS_FILE), &safetensors_bytes(tensors)?)?;
    let mut card = card.clone();
    card.primer_samples = primers.first().map_or(0, Vec::len);
    if card.primer_samples > 0 {
        let joined: Vec<f32> = primers.concat();
        write_atomically(
            &dir.join(PRIMER_FILE),
            &wav_bytes(&joined, card.model.sample_rate),
        )?;
    }
    let json = serde_json::to_string_pretty(&card).expect("a card always serialises");
    write_atomically(&dir.join(CARD_FILE), json.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AudioModelConfig {
        AudioModelConfig {
            cell: AudioCell::Gru,
            layers: 2,
            hidden: 8,
            block_size: 4,
            sample_rate: 8000,
        }
    }

    #[test]
    fn audio_model_forward_matches_step_by_step() {
        let device = Device::Cpu;
        let config = config();
        let weights = config.initial_weights(5, &device).unwrap();
        let model = block_model(config, VarBuilder::from_tensors(weights, DTYPE, &device)).unwrap();
        let values: Vec<f32> = (0..2 * 3 * 4).map(|i| (i as f32 * 0.37).sin()).collect();
        let xs = Tensor::from_vec(values.clone(), (2, 3, 4), &device).unwrap();
        let all = model.forward(&xs).unwrap();
        assert_eq!(all.dims(), &[2, 3, 4]);
        let mut state = model.zero_state(1).unwrap();
        for t in 0..3 {
            let step = model.step(&values[t * 4..t * 4 + 4], &mut state).unwrap();
            let whole: Vec<f32> = all.get(0).unwrap().get(t).unwrap().to_vec1().unwrap();
            for (a, b) in step.iter().zip(&whole) {
                assert!((a - b).abs() < 1e-5, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn audio_folder_round_trips_and_refuses_other_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let config = config();
        let weights = config.initial_weights(1, &Device::Cpu).unwrap();
        let primers = vec![vec![0.25f32; 16], vec![-0.5f32; 16]];
        let card = AudioCard::new("tiny", config, 8);
        save_audio_model(dir.path(), &card, &weights, &primers).unwrap();
        assert_eq!(folder_kind(dir.path()).unwrap(), FolderKind::Audio);
        let model = AudioModel::load(dir.path(), &Device::Cpu).unwrap();
        assert_eq!(model.card.primer_samples, 16);
        assert_eq!(model.primers.len(), 2);
        assert!((model.primers[1][3] + 0.5).abs() < 1e-4);

        let wider = AudioModelConfig {
            hidden: 9,
            ..config
        };
        let mut card = AudioCard::new("tiny", wider, 8);
        card.primer_samples = 16;
        std::fs::write(
            dir.path().join(CARD_FILE),
            serde_json::to_string(&card).unwrap(),
        )
        .unwrap();
        let error = AudioModel::load(dir.path(), &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("rnn.weight_ih_l0") && error.contains("shape"),
            "{error}"
        );
    }

    #[test]
    fn audio_loader_refuses_a_symbolic_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CARD_FILE),
            r#"{"format": 1, "name": "folk"}"#,
        )
        .unwrap();
        assert_eq!(folder_kind(dir.path()).unwrap(), FolderKind::Symbolic);
        let error = AudioModel::load(dir.path(), &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(error.contains("symbolic"), "{error}");
    }
}
