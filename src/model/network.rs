//! The layer stack: token embedding → N recurrent layers → dropout → linear → logits.
//!
//! Two ways to run the same weights: [`Network::forward`] over a batch of sequences (training,
//! evaluation) and [`Network::step`], one token at a time with a state the caller keeps
//! (generation). Both go through [`Cell::update`], and a test holds them to 1e-5 of each other.

use super::cell::{Cell, CellKind, LayerState, cell, cell_shapes};
use crate::rng::Rng;
use candle_core::{D, DType, Device, Result, Tensor};
use candle_nn::{Embedding, Linear, Module, VarBuilder};
use serde::{Deserialize, Serialize};

/// The shape of a network; stored in the model card.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NetworkConfig {
    pub cell: CellKind,
    /// Recurrent layers, 1..=5.
    pub layers: usize,
    /// Width of the token embedding.
    pub embedding: usize,
    /// Units in every recurrent layer.
    pub hidden: usize,
    pub vocab_size: usize,
    /// Dropout between layers and before the output, in training only.
    pub dropout: f32,
}

impl NetworkConfig {
    /// Every weight's name and shape, as stored in `model.safetensors`.
    pub fn weight_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut shapes = vec![(
            "embedding.weight".to_string(),
            vec![self.vocab_size, self.embedding],
        )];
        for layer in 0..self.layers {
            let input = if layer == 0 {
                self.embedding
            } else {
                self.hidden
            };
            for (name, shape) in cell_shapes(self.cell, input, self.hidden, layer) {
                shapes.push((format!("rnn.{name}"), shape));
            }
        }
        shapes.push(("head.weight".into(), vec![self.vocab_size, self.hidden]));
        shapes.push(("head.bias".into(), vec![self.vocab_size]));
        shapes
    }

    /// Number of weights (parameters).
    pub fn parameter_count(&self) -> usize {
        self.weight_shapes()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }

    pub fn validate(&self) -> std::result::Result<(), String> {
        if !(1..=5).contains(&self.layers) {
            return Err(format!("layers must be 1..=5, not {}", self.layers));
        }
        if self.embedding == 0 || self.hidden == 0 || self.vocab_size == 0 {
            return Err("embedding, hidden and vocabulary sizes must be positive".into());
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout must be in [0, 1), not {}", self.dropout));
        }
        Ok(())
    }
}

/// The recurrent state of every layer.
#[derive(Debug, Clone)]
pub struct NetworkState {
    pub layers: Vec<LayerState>,
}

impl NetworkState {
    /// A copy cut off from the autograd graph (truncated backpropagation through time).
    pub fn detach(&self) -> NetworkState {
        NetworkState {
            layers: self
                .layers
                .iter()
                .map(|l| LayerState {
                    h: l.h.detach(),
                    c: l.c.as_ref().map(Tensor::detach),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Network {
    pub config: NetworkConfig,
    embedding: Embedding,
    cells: Vec<Cell>,
    head: Linear,
    device: Device,
}

/// Builds a network from `vb`: `embedding.weight`, `rnn.weight_ih_l{k}`…, `head.weight`, `head.bias`.
pub fn network(config: NetworkConfig, vb: VarBuilder) -> Result<Network> {
    let embedding = candle_nn::embedding(config.vocab_size, config.embedding, vb.pp("embedding"))?;
    let cells = (0..config.layers)
        .map(|layer| {
            let input = if layer == 0 {
                config.embedding
            } else {
                config.hidden
            };
            cell(config.cell, input, config.hidden, layer, vb.pp("rnn"))
        })
        .collect::<Result<Vec<_>>>()?;
    let head = candle_nn::linear(config.hidden, config.vocab_size, vb.pp("head"))?;
    Ok(Network {
        config,
        embedding,
        cells,
        head,
        device: vb.device().clone(),
    })
}

impl Network {
    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn cells(&self) -> &[Cell] {
        &self.cells
    }

    pub fn embedding_weight(&self) -> &Tensor {
        self.embedding.embeddings()
    }

    pub fn head(&self) -> &Linear {
        &self.head
    }

    pub fn zero_state(&self, batch: usize) -> Result<NetworkState> {
        Ok(NetworkState {
            layers: self
                .cells
                .iter()
                .map(|c| c.zero_state(batch, &self.device))
                .collect::<Result<_>>()?,
        })
    }

    /// Logits (batch × time × vocab) for a batch of token sequences (batch × time, u32), and the
    /// state after the last step. Passing a random generator turns dropout on (training); the
    /// masks come from it, so a seeded run is reproducible.
    pub fn forward(
        &self,
        tokens: &Tensor,
        state: &NetworkState,
        mut dropout: Option<&mut Rng>,
    ) -> Result<(Tensor, NetworkState)> {
        let steps = tokens.dim(1)?;
        let mut xs = (0..steps)
            .map(|t| self.embedding.forward(&tokens.narrow(1, t, 1)?.squeeze(1)?))
            .collect::<Result<Vec<_>>>()?;
        let mut next = Vec::with_capacity(self.cells.len());
        for (cell, layer_state) in self.cells.iter().zip(&state.layers) {
            let (outputs, last) = cell.forward_sequence(&xs, layer_state)?;
            next.push(last);
            xs = match dropout.as_deref_mut() {
                Some(rng) => outputs
                    .iter()
                    .map(|x| self.dropout(x, rng))
                    .collect::<Result<_>>()?,
                None => outputs,
            };
        }
        let logits = Tensor::stack(&xs, 1)?.apply(&self.head)?;
        Ok((logits, NetworkState { layers: next }))
    }

    /// Logits (vocab) for the next token after `token`, advancing `state` (batch 1).
    pub fn step(&self, token: u32, state: &mut NetworkState) -> Result<Tensor> {
        let token = Tensor::new(&[token], &self.device)?;
        let mut x = self.embedding.forward(&token)?;
        for (cell, layer_state) in self.cells.iter().zip(state.layers.iter_mut()) {
            *layer_state = cell.update(&cell.project_input(&x)?, layer_state)?;
            x = layer_state.h.clone();
        }
        x.apply(&self.head)?.squeeze(0)
    }

    /// Feeds tokens one by one and returns the logits after the last (a primer), or `None` for
    /// no tokens.
    pub fn prime(&self, tokens: &[u32], state: &mut NetworkState) -> Result<Option<Tensor>> {
        let mut logits = None;
        for &token in tokens {
            logits = Some(self.step(token, state)?);
        }
        Ok(logits)
    }

    /// Inverted dropout: zero each value with probability p, scale the rest by 1/(1 − p).
    fn dropout(&self, xs: &Tensor, rng: &mut Rng) -> Result<Tensor> {
        let p = self.config.dropout;
        if p <= 0.0 {
            return Ok(xs.clone());
        }
        let keep = 1.0 / (1.0 - p);
        let mask: Vec<f32> = (0..xs.elem_count())
            .map(|_| if rng.uniform_f32() < p { 0.0 } else { keep })
            .collect();
        xs * Tensor::from_vec(mask, xs.shape(), xs.device())?
    }
}

/// Fresh weights from the run's seed: recurrent and output weights uniform in ±1/√hidden
/// (PyTorch's rule), the embedding standard normal. Seeded here rather than by candle, whose
/// CPU generator cannot be seeded.
pub fn initial_weights(
    config: &NetworkConfig,
    rng: &mut Rng,
    device: &Device,
) -> Result<Vec<(String, Tensor)>> {
    let bound = 1.0 / (config.hidden as f64).sqrt();
    config
        .weight_shapes()
        .into_iter()
        .map(|(name, shape)| {
            let count: usize = shape.iter().product();
            let values: Vec<f32> = if name.starts_with("embedding") {
                (0..count).map(|_| rng.normal(0.0, 1.0) as f32).collect()
            } else {
                (0..count)
                    .map(|_| ((rng.uniform() * 2.0 - 1.0) * bound) as f32)
                    .collect()
            };
            Ok((name, Tensor::from_vec(values, shape, device)?))
        })
        .collect()
}

/// Mean negative log-likelihood (nats) of `targets` (batch × time, u32) under `logits`
/// (batch × time × vocab).
pub fn sequence_nll(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let vocab = logits.dim(D::Minus1)?;
    candle_nn::loss::cross_entropy(&logits.reshape(((), vocab))?, &targets.flatten_all()?)
}

/// The data type every weight is stored and computed in.
pub const DTYPE: DType = DType::F32;
