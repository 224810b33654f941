//! The five recurrent cells of the RNN-cells paper, in candle.
//!
//! Every cell holds PyTorch-named weights, so a PyTorch-trained `nn.RNN`/`nn.LSTM`/`nn.GRU` imports
//! by name: `weight_ih_l{k}` (G·H × I), `weight_hh_l{k}` (G·H × H), `bias_ih_l{k}` and
//! `bias_hh_l{k}` (G·H), where G is the number of gate blocks:
//!
//! | cell  | G | blocks, in order | update |
//! |-------|---|------------------|--------|
//! | RNN   | 1 | —                | h' = tanh(Wx + Uh) |
//! | LSTM  | 4 | i, f, g, o       | c' = σf·c + σi·tanh g, h' = σo·tanh c' (PyTorch) |
//! | GRU   | 3 | r, z, n          | n = tanh(Wₙx + r·Uₙh), h' = (1−z)·n + z·h (PyTorch) |
//! | UGRNN | 2 | g, c             | g = σ(·+1), h' = g·h + (1−g)·tanh c (Collins et al. 2017, TF `UGRNNCell`) |
//! | NAS   | 8 | eight branches   | TensorFlow's `NASCell` (Zoph & Le 2017), with biases on both sides |
//!
//! (Wx includes `bias_ih`, Uh includes `bias_hh`.)
//!
//! The input projection is separate from the recurrent update, so the real-time step can keep
//! its own fast path for each half.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use candle_nn::ops::sigmoid;
use serde::{Deserialize, Serialize};

/// Which recurrent cell a layer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellKind {
    Rnn,
    Lstm,
    Gru,
    Ugrnn,
    Nas,
}

impl CellKind {
    pub const ALL: [CellKind; 5] = [
        CellKind::Rnn,
        CellKind::Lstm,
        CellKind::Gru,
        CellKind::Ugrnn,
        CellKind::Nas,
    ];

    /// Gate blocks stacked in the weight matrices.
    pub fn gate_blocks(self) -> usize {
        match self {
            CellKind::Rnn => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
            CellKind::Ugrnn => 2,
            CellKind::Nas => 8,
        }
    }

    /// Whether the cell carries a memory `c` beside its output `h`.
    pub fn has_memory(self) -> bool {
        matches!(self, CellKind::Lstm | CellKind::Nas)
    }

    pub fn name(self) -> &'static str {
        match self {
            CellKind::Rnn => "rnn",
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
            CellKind::Ugrnn => "ugrnn",
            CellKind::Nas => "nas",
        }
    }
}

impl std::str::FromStr for CellKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        CellKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown cell {s:?}: expected rnn, lstm, gru, ugrnn or nas"))
    }
}

/// One layer's recurrent state: output `h` (batch × hidden) and, for LSTM and NAS, memory `c`.
#[derive(Debug, Clone)]
pub struct LayerState {
    pub h: Tensor,
    pub c: Option<Tensor>,
}

/// One recurrent layer's weights.
#[derive(Debug, Clone)]
pub struct Cell {
    pub kind: CellKind,
    pub hidden: usize,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor,
    bias_hh: Tensor,
}

/// The weight names and shapes of layer `layer` (PyTorch names).
pub fn cell_shapes(
    kind: CellKind,
    input: usize,
    hidden: usize,
    layer: usize,
) -> [(String, Vec<usize>); 4] {
    let rows = kind.gate_blocks() * hidden;
    [
        (format!("weight_ih_l{layer}"), vec![rows, input]),
        (format!("weight_hh_l{layer}"), vec![rows, hidden]),
        (format!("bias_ih_l{layer}"), vec![rows]),
        (format!("bias_hh_l{layer}"), vec![rows]),
    ]
}

/// Builds layer `layer` from `vb` (candle's `VarBuilder` style: names mirror the weight file).
/// Fresh weights are uniform in ±1/√hidden, PyTorch's initialisation for its recurrent layers.
pub fn cell(
    kind: CellKind,
    input: usize,
    hidden: usize,
    layer: usize,
    vb: VarBuilder,
) -> Result<Cell> {
    let bound = 1.0 / (hidden as f64).sqrt();
    let init = candle_nn::Init::Uniform {
        lo: -bound,
        up: bound,
    };
    let [wih, whh, bih, bhh] = cell_shapes(kind, input, hidden, layer);
    Ok(Cell {
        kind,
        hidden,
        weight_ih: vb.get_with_hints(wih.1, &wih.0, init)?,
        weight_hh: vb.get_with_hints(whh.1, &whh.0, init)?,
        bias_ih: vb.get_with_hints(bih.1, &bih.0, init)?,
        bias_hh: vb.get_with_hints(bhh.1, &bhh.0, init)?,
    })
}

impl Cell {
    pub fn zero_state(&self, batch: usize, device: &candle_core::Device) -> Result<LayerState> {
        let zeros = Tensor::zeros((batch, self.hidden), self.weight_hh.dtype(), device)?;
        Ok(LayerState {
            c: self.kind.has_memory().then(|| zeros.clone()),
            h: zeros,
        })
    }

    /// The weights in PyTorch layout, `[weight_ih, weight_hh, bias_ih, bias_hh]`, for code that
    /// runs the cell outside candle (the real-time step, [`super::fast`]).
    pub fn weights(&self) -> [&Tensor; 4] {
        [
            &self.weight_ih,
            &self.weight_hh,
            &self.bias_ih,
            &self.bias_hh,
        ]
    }

    /// Input projection `x·Wᵀ + b_ih` for any leading shape (… × input → … × G·H).
    pub fn project_input(&self, x: &Tensor) -> Result<Tensor> {
        x.broadcast_matmul(&self.weight_ih.t()?)?
            .broadcast_add(&self.bias_ih)
    }

    /// One recurrent update from an already projected input (batch × G·H).
    pub fn update(&self, projected: &Tensor, state: &LayerState) -> Result<LayerState> {
        let recurrent = state
            .h
            .matmul(&self.weight_hh.t()?)?
            .broadcast_add(&self.bias_hh)?;
        let h = &state.h;
        match self.kind {
            CellKind::Rnn => Ok(LayerState {
                h: (projected + recurrent)?.tanh()?,
                c: None,
            }),
            CellKind::Lstm => {
                let gates = (projected + recurrent)?.chunk(4, 1)?;
                let (i, f) = (sigmoid(&gates[0])?, sigmoid(&gates[1])?);
                let (g, o) = (gates[2].tanh()?, sigmoid(&gates[3])?);
                let c_prev = state.c.as_ref().expect("LSTM state has a memory");
                let c = ((f * c_prev)? + (i * g)?)?;
                Ok(LayerState {
                    h: (o * c.tanh()?)?,
                    c: Some(c),
                })
            }
            CellKind::Gru => {
                let x = projected.chunk(3, 1)?;
                let u = recurrent.chunk(3, 1)?;
                let r = sigmoid(&(&x[0] + &u[0])?)?;
                let z = sigmoid(&(&x[1] + &u[1])?)?;
                let n = (&x[2] + (r * &u[2])?)?.tanh()?;
                // h' = (1 − z)·n + z·h = n + z·(h − n)
                let h = (&n + (z * (h - &n)?)?)?;
                Ok(LayerState { h, c: None })
            }
            CellKind::Ugrnn => {
                let blocks = (projected + recurrent)?.chunk(2, 1)?;
                let g = sigmoid(&(&blocks[0] + 1.0)?)?;
                let candidate = blocks[1].tanh()?;
                // h' = g·h + (1 − g)·c = c + g·(h − c)
                let h = (&candidate + (g * (h - &candidate)?)?)?;
                Ok(LayerState { h, c: None })
            }
            CellKind::Nas => {
                let c_prev = state.c.as_ref().expect("NAS state has a memory");
                nas_update(projected, &recurrent, c_prev)
            }
        }
    }

    /// Runs the layer over a sequence given as one tensor per step (batch × input each),
    /// returning every step's output and the final state.
    ///
    /// Steps are kept as separate tensors rather than slices of one: the gradient of a slice is
    /// a zero-padded copy of the whole tensor, which would make backpropagation through a
    /// sequence of T steps cost O(T²).
    pub fn forward_sequence(
        &self,
        xs: &[Tensor],
        state: &LayerState,
    ) -> Result<(Vec<Tensor>, LayerState)> {
        let mut state = state.clone();
        let mut outputs = Vec::with_capacity(xs.len());
        for x in xs {
            state = self.update(&self.project_input(x)?, &state)?;
            outputs.push(state.h.clone());
        }
        Ok((outputs, state))
    }
}

/// TensorFlow's `NASCell` update: eight branches combined in a fixed tree.
fn nas_update(x: &Tensor, m: &Tensor, c_prev: &Tensor) -> Result<LayerState> {
    let x = x.chunk(8, 1)?;
    let m = m.chunk(8, 1)?;
    let l1_0 = sigmoid(&(&x[0] + &m[0])?)?;
    let l1_1 = (&x[1] + &m[1])?.relu()?;
    let l1_2 = sigmoid(&(&x[2] + &m[2])?)?;
    let l1_3 = (&x[3] * &m[3])?.relu()?;
    let l1_4 = (&x[4] + &m[4])?.tanh()?;
    let l1_5 = sigmoid(&(&x[5] + &m[5])?)?;
    let l1_6 = (&x[6] + &m[6])?.tanh()?;
    let l1_7 = sigmoid(&(&x[7] + &m[7])?)?;
    let l2_0 = (l1_0 * l1_1)?.tanh()?;
    let l2_1 = (l1_2 + l1_3)?.tanh()?;
    let l2_2 = (l1_4 * l1_5)?.tanh()?;
    let l2_3 = sigmoid(&(l1_6 + l1_7)?)?;
    let l2_0 = (l2_0 + c_prev)?.tanh()?;
    let c = (l2_0 * l2_1)?;
    let l3_1 = (l2_2 + l2_3)?.tanh()?;
    let h = (&c * l3_1)?.tanh()?;
    Ok(LayerState { h, c: Some(c) })
}
