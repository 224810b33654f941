//! A step for the real-time engine: one token in, logits out, with no heap allocation, lock or
//! syscall.
//!
//! candle allocates a few hundred times per [`Network::step`]. [`FastNetwork`] copies the weights
//! out of candle once, at construction, and [`FastState`] preallocates everything a step writes.
//! The maths is [`Cell::update`]'s term for term: same gate order, same formulas, same
//! `1 / (e⁻ˣ + 1)` sigmoid. Two things differ, both far below what sampling can notice: the order
//! of the additions inside the matrix–vector products, and, on AVX2, `exp` and `tanh`, which are
//! polynomials within 3e-7 relative of std's. Tests hold the logits to 1e-5 of candle's.
//!
//! The products and activations are [`super::kernel`]'s.
//!
//! Layer 0's input projection depends on the token alone, so it is tabulated at construction:
//! one row per token (bias included) replaces the embedding lookup and a product.
//!
//! [`Cell::update`]: super::cell::Cell::update

use super::cell::CellKind;
use super::kernel::{Kernel, Packed, padded, relu, values, zip_with};
use super::network::Network;
use candle_core::Result;

/// A recurrent network ready to run one token at a time without allocating; see the module doc.
#[derive(Clone)]
pub struct FastNetwork {
    kind: CellKind,
    hidden: usize,
    vocab_size: usize,
    /// Layer 0's input projection `W·embedding[token] + b_ih` for every token, one padded row each.
    token_projection: Vec<f32>,
    layers: Vec<FastLayer>,
    head: Packed,
    kernel: Kernel,
}

#[derive(Clone)]
struct FastLayer {
    /// `weight_ih` and `bias_ih`; `None` for layer 0, whose projection is tabulated.
    input: Option<Packed>,
    /// `weight_hh` and `bias_hh`.
    recurrent: Packed,
}

/// Everything one step reads and writes: each layer's `h` (and `c` for LSTM and NAS), plus
/// scratch for the gates and the logits. Allocated once, by [`FastNetwork::new_state`].
#[derive(Debug, Clone)]
pub struct FastState {
    /// Every layer's output, layer after layer.
    h: Vec<f32>,
    /// Every layer's memory, layer after layer; empty for cells without one.
    c: Vec<f32>,
    /// Scratch: the current layer's input projection `W·x + b_ih` (padded G·H).
    input: Vec<f32>,
    /// Scratch: the current layer's recurrent projection `U·h + b_hh` (padded G·H).
    recurrent: Vec<f32>,
    /// The last step's logits (padded vocabulary).
    logits: Vec<f32>,
}

impl FastState {
    /// Makes `self` a copy of `other` (a state of the same network) without allocating: the
    /// engine snapshots states to roll back to. The gate scratch is not copied; the last logits
    /// are.
    ///
    /// Panics if the states belong to networks of different shapes.
    pub fn copy_from(&mut self, other: &FastState) {
        self.h.copy_from_slice(&other.h);
        self.c.copy_from_slice(&other.c);
        self.logits.copy_from_slice(&other.logits);
    }
}

impl FastNetwork {
    /// Copies `network`'s weights out of candle (any device) and packs them.
    pub fn from_network(network: &Network) -> Result<FastNetwork> {
        Self::with_kernel(network, Kernel::detect())
    }

    fn with_kernel(network: &Network, kernel: Kernel) -> Result<FastNetwork> {
        let config = network.config;
        let mut layers = network
            .cells()
            .iter()
            .map(|cell| {
                let [weight_ih, weight_hh, bias_ih, bias_hh] = cell.weights();
                Ok(FastLayer {
                    input: Some(Packed::from_tensors(weight_ih, Some(bias_ih))?),
                    recurrent: Packed::from_tensors(weight_hh, Some(bias_hh))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let first = layers[0].input.take().expect("every layer has an input");
        let embedding = values(network.embedding_weight())?;
        let mut token_projection = vec![0.0; config.vocab_size * first.padded_rows()];
        for (row, vector) in token_projection
            .chunks_exact_mut(first.padded_rows())
            .zip(embedding.chunks_exact(config.embedding))
        {
            kernel.product(&first, vector, row);
        }
        let head = network.head();
        Ok(FastNetwork {
            kind: config.cell,
            hidden: config.hidden,
            vocab_size: config.vocab_size,
            token_projection,
            layers,
            head: Packed::from_tensors(head.weight(), head.bias())?,
            kernel,
        })
    }

    /// A zero state with all the scratch a step needs; the only allocation.
    pub fn new_state(&self) -> FastState {
        let layers = self.layers.len() * self.hidden;
        let gates = padded(self.kind.gate_blocks() * self.hidden);
        FastState {
            h: vec![0.0; layers],
            c: if self.kind.has_memory() {
                vec![0.0; layers]
            } else {
                Vec::new()
            },
            input: vec![0.0; gates],
            recurrent: vec![0.0; gates],
            logits: vec![0.0; self.head.padded_rows()],
        }
    }

    /// Back to the zero state, as [`Network::zero_state`].
    pub fn reset(&self, state: &mut FastState) {
        state.h.fill(0.0);
        state.c.fill(0.0);
        state.logits.fill(0.0);
    }

    /// Logits for the token after `token`, advancing `state` (one of this network's), as
    /// [`Network::step`]. Allocates nothing.
    ///
    /// Panics if `token` is outside the vocabulary.
    pub fn step<'s>(&self, token: u32, state: &'s mut FastState) -> &'s [f32] {
        let token = token as usize;
        assert!(
            token < self.vocab_size,
            "token {token} is outside the vocabulary of {}",
            self.vocab_size
        );
        let n = self.hidden;
        let gates = self.kind.gate_blocks() * n;
        let FastState {
            h,
            c,
            input,
            recurrent,
            logits,
        } = state;
        let stride = padded(gates);
        let first = &self.token_projection[token * stride..][..gates];
        for (l, layer) in self.layers.iter().enumerate() {
            let (below, this) = h.split_at_mut(l * n);
            let h = &mut this[..n];
            let x = match &layer.input {
                Some(weights) => {
                    self.kernel
                        .product(weights, &below[below.len() - n..], input);
                    &input[..gates]
                }
                None => first,
            };
            self.kernel.product(&layer.recurrent, h, recurrent);
            let memory = c.get_mut(l * n..(l + 1) * n).unwrap_or_default();
            cell_update(
                self.kernel,
                self.kind,
                x,
                &mut recurrent[..gates],
                h,
                memory,
            );
        }
        self.kernel.product(&self.head, &h[h.len() - n..], logits);
        &logits[..self.vocab_size]
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The matrix–vector kernel in use: `"avx2+fma"` or `"portable"`.
    pub fn kernel_name(&self) -> &'static str {
        self.kernel.name()
    }

    /// Bytes of weights one step reads (padding and layer 0's table row included): the memory
    /// traffic that bounds a step from below.
    pub fn bytes_per_step(&self) -> usize {
        let layers: usize = self
            .layers
            .iter()
            .map(|l| l.recurrent.bytes() + l.input.as_ref().map_or(0, Packed::bytes))
            .sum();
        let table_row = self.token_projection.len() / self.vocab_size * size_of::<f32>();
        layers + table_row + self.head.bytes()
    }
}

impl std::fmt::Debug for FastNetwork {
    /// The shape only: the weights run to megabytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastNetwork")
            .field("kind", &self.kind)
            .field("layers", &self.layers.len())
            .field("hidden", &self.hidden)
            .field("vocab_size", &self.vocab_size)
            .field("kernel", &self.kernel.name())
            .finish_non_exhaustive()
    }
}

/// One layer's update from its projections `x = W·input + b_ih` and `u = U·h + b_hh` (G·H each,
/// gate blocks in PyTorch order), exactly as [`Cell::update`](super::cell::Cell::update), as
/// passes over whole blocks so that the activations run on vectors. `u` is spent as scratch.
pub(crate) fn cell_update(
    kernel: Kernel,
    kind: CellKind,
    x: &[f32],
    u: &mut [f32],
    h: &mut [f32],
    c: &mut [f32],
) {
    let n = h.len();
    match kind {
        CellKind::Rnn => {
            zip_with(u, x, |u, x| x + u);
            kernel.tanh(u);
            h.copy_from_slice(u);
        }
        CellKind::Lstm => {
            zip_with(u, x, |u, x| x + u);
            let [i, f, g, o] = blocks(u, n);
            kernel.sigmoid(i);
            kernel.sigmoid(f);
            kernel.tanh(g);
            kernel.sigmoid(o);
            for (c, ((f, i), g)) in c.iter_mut().zip(f.iter().zip(&*i).zip(&*g)) {
                *c = f * *c + i * g;
            }
            // tanh c', in the spent input gate.
            i.copy_from_slice(c);
            kernel.tanh(i);
            for (h, (o, tanh_c)) in h.iter_mut().zip(o.iter().zip(&*i)) {
                *h = o * tanh_c;
            }
        }
        CellKind::Gru => {
            zip_with(&mut u[..2 * n], &x[..2 * n], |u, x| x + u);
            let [r, z, m] = blocks(u, n);
            kernel.sigmoid(r);
            kernel.sigmoid(z);
            // n = tanh(Wₙx + r·Uₙh), in place of Uₙh.
            for (m, (r, x)) in m.iter_mut().zip(r.iter().zip(&x[2 * n..])) {
                *m = x + r * *m;
            }
            kernel.tanh(m);
            // h' = (1 − z)·n + z·h = n + z·(h − n)
            for (h, (z, n)) in h.iter_mut().zip(z.iter().zip(&*m)) {
                *h = n + z * (*h - n);
            }
        }
        CellKind::Ugrnn => {
            zip_with(u, x, |u, x| x + u);
            let [g, candidate] = blocks(u, n);
            for g in g.iter_mut() {
                *g += 1.0;
            }
            kernel.sigmoid(g);
            kernel.tanh(candidate);
            // h' = g·h + (1 − g)·c = c + g·(h − c)
            for (h, (g, candidate)) in h.iter_mut().zip(g.iter().zip(&*candidate)) {
                *h = candidate + g * (*h - candidate);
            }
        }
        CellKind::Nas => {
            for (block, (m, x)) in u.chunks_exact_mut(n).zip(x.chunks_exact(n)).enumerate() {
                match block {
                    3 => zip_with(m, x, |m, x| x * m),
                    _ => zip_with(m, x, |m, x| x + m),
                }
            }
            nas(kernel, blocks(u, n), h, c);
        }
    }
}

/// TensorFlow's `NASCell` tree, as `nas_update` in the cell module, from the eight sums (the
/// fourth a product) of the two projections; each level's results are kept in blocks that the
/// level consumed.
fn nas(kernel: Kernel, blocks: [&mut [f32]; 8], h: &mut [f32], c: &mut [f32]) {
    let [b0, b1, b2, b3, b4, b5, b6, b7] = blocks;
    // Level 1.
    kernel.sigmoid(b0);
    relu(b1);
    kernel.sigmoid(b2);
    relu(b3);
    kernel.tanh(b4);
    kernel.sigmoid(b5);
    kernel.tanh(b6);
    kernel.sigmoid(b7);
    // Level 2: l2_0 in b0, l2_1 in b2, l2_2 in b4, l2_3 in b6.
    zip_with(b0, b1, |a, b| a * b);
    zip_with(b2, b3, |a, b| a + b);
    zip_with(b4, b5, |a, b| a * b);
    zip_with(b6, b7, |a, b| a + b);
    kernel.tanh(b0);
    kernel.tanh(b2);
    kernel.tanh(b4);
    kernel.sigmoid(b6);
    // Level 3: c' = tanh(l2_0 + c)·l2_1, h' = tanh(c'·tanh(l2_2 + l2_3)).
    zip_with(b0, c, |a, c| a + c);
    kernel.tanh(b0);
    for (c, (a, b)) in c.iter_mut().zip(b0.iter().zip(&*b2)) {
        *c = a * b;
    }
    zip_with(b4, b6, |a, b| a + b);
    kernel.tanh(b4);
    for (h, (c, b)) in h.iter_mut().zip(c.iter().zip(&*b4)) {
        *h = c * b;
    }
    kernel.tanh(h);
}

/// The first `G` blocks of `n` values of `values`.
fn blocks<const G: usize>(values: &mut [f32], n: usize) -> [&mut [f32]; G] {
    let mut blocks = values.chunks_exact_mut(n);
    std::array::from_fn(|_| blocks.next().expect("G·n values"))
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::network::{NetworkConfig, network};
    use candle_core::{DType, Device};
    use candle_nn::{VarBuilder, VarMap};

    fn random_network(
        cell: CellKind,
        layers: usize,
        embedding: usize,
        hidden: usize,
        vocab_size: usize,
    ) -> Network {
        let config = NetworkConfig {
            cell,
            layers,
            embedding,
            hidden,
            vocab_size,
            dropout: 0.0,
        };
        let varmap = VarMap::new();
        network(
            config,
            VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
        )
        .unwrap()
    }

    fn tokens(vocab_size: usize) -> impl Iterator<Item = u32> {
        (0..50).map(move |i| ((i * 37 + 11) % vocab_size) as u32)
    }

    fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    }

    /// Runs 50 tokens through candle and through every kernel from the zero state, and holds the
    /// logits to 1e-5 of each other at every step.
    fn assert_agrees_with_candle(net: &Network) {
        let config = net.config;
        for kernel in Kernel::available() {
            let fast = FastNetwork::with_kernel(net, kernel).unwrap();
            let mut reference = net.zero_state(1).unwrap();
            let mut state = fast.new_state();
            for (t, token) in tokens(config.vocab_size).enumerate() {
                let expected: Vec<f32> =
                    net.step(token, &mut reference).unwrap().to_vec1().unwrap();
                let diff = max_abs_diff(fast.step(token, &mut state), &expected);
                assert!(
                    diff < 1e-5,
                    "{:?} × {} ({}): step {t} differs by {diff}",
                    config.cell,
                    config.layers,
                    kernel.name()
                );
            }
        }
    }

    #[test]
    fn every_cell_and_depth_agrees_with_candle() {
        // 21 units: gate blocks that straddle panels and rows that need padding.
        for cell in CellKind::ALL {
            for layers in 1..=5 {
                assert_agrees_with_candle(&random_network(cell, layers, 8, 21, 63));
            }
        }
    }

    #[test]
    fn a_realistic_lstm_agrees_with_candle() {
        assert_agrees_with_candle(&random_network(CellKind::Lstm, 2, 32, 256, 130));
    }

    #[test]
    fn a_copied_state_continues_identically() {
        for cell in CellKind::ALL {
            let fast = FastNetwork::from_network(&random_network(cell, 2, 8, 21, 63)).unwrap();
            let mut state = fast.new_state();
            for token in tokens(63).take(10) {
                fast.step(token, &mut state);
            }
            let mut snapshot = fast.new_state();
            snapshot.copy_from(&state);
            let cloned = state.clone();
            let run = |state: &mut FastState| -> Vec<Vec<f32>> {
                tokens(63)
                    .map(|token| fast.step(token, state).to_vec())
                    .collect()
            };
            let original = run(&mut state);
            assert_eq!(run(&mut snapshot), original, "{cell:?} copy_from");
            assert_eq!(run(&mut cloned.clone()), original, "{cell:?} clone");
            state.copy_from(&cloned);
            assert_eq!(run(&mut state), original, "{cell:?} rolled back");
        }
    }

    #[test]
    fn reset_returns_to_the_zero_state() {
        let fast = FastNetwork::from_network(&random_network(CellKind::Nas, 3, 8, 21, 63)).unwrap();
        let mut state = fast.new_state();
        let first = fast.step(5, &mut state).to_vec();
        for token in tokens(63) {
            fast.step(token, &mut state);
        }
        fast.reset(&mut state);
        assert_eq!(fast.step(5, &mut state), first);
    }

    #[test]
    #[should_panic(expected = "outside the vocabulary")]
    fn a_token_outside_the_vocabulary_is_refused() {
        let fast = FastNetwork::from_network(&random_network(CellKind::Rnn, 1, 8, 21, 63)).unwrap();
        fast.step(63, &mut fast.new_state());
    }
}
