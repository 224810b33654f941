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
//! # Layout
//!
//! A step is a few matrix–vector products, bound by streaming the weights from cache or memory,
//! so every weight is read once per step, in address order, into one multiply–add. Rows are
//! packed in panels of up to 64 (eight 8-float vectors), column after column within a panel:
//! the kernel broadcasts `x[j]` and multiply–adds the next 64 weights into eight accumulators
//! that stay in registers for the whole panel. Row-major dot products would instead need a
//! horizontal sum per output and would keep fewer independent FMA chains in flight. Rows are
//! padded with zero weights to a multiple of 8, so no product has a scalar tail.
//!
//! Layer 0's input projection depends on the token alone, so it is tabulated at construction:
//! one row per token (bias included) replaces the embedding lookup and a product.
//!
//! Products and activations run on AVX2 + FMA where the CPU has them (checked once, at
//! construction), else on portable code that the compiler vectorises for the baseline target,
//! with std's `exp` and `tanh`.
//!
//! [`Cell::update`]: super::cell::Cell::update

use super::cell::CellKind;
use super::network::Network;
use candle_core::{DType, Result, Tensor};

/// Floats in one SIMD vector, and the multiple that rows are padded to.
const LANES: usize = 8;
/// Vectors of accumulators a panel keeps in registers.
const PANEL_VECTORS: usize = 8;
/// Rows in a full panel.
const PANEL_ROWS: usize = LANES * PANEL_VECTORS;

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
            self.update(x, &mut recurrent[..gates], h, memory);
        }
        self.kernel.product(&self.head, &h[h.len() - n..], logits);
        &logits[..self.vocab_size]
    }

    /// One layer's update from its projections `x = W·input + b_ih` and `u = U·h + b_hh` (G·H each,
    /// gate blocks in PyTorch order), exactly as [`Cell::update`](super::cell::Cell::update), as
    /// passes over whole blocks so that the activations run on vectors. `u` is spent as scratch.
    fn update(&self, x: &[f32], u: &mut [f32], h: &mut [f32], c: &mut [f32]) {
        let (kernel, n) = (self.kernel, h.len());
        match self.kind {
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

    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The matrix–vector kernel in use: `"avx2+fma"` or `"portable"`.
    pub fn kernel_name(&self) -> &'static str {
        self.kernel.name
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
            .field("kernel", &self.kernel.name)
            .finish_non_exhaustive()
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

/// `a[k] = f(a[k], b[k])`.
fn zip_with(a: &mut [f32], b: &[f32], f: impl Fn(f32, f32) -> f32) {
    assert_eq!(a.len(), b.len());
    for (a, &b) in a.iter_mut().zip(b) {
        *a = f(*a, b);
    }
}

/// candle's relu, `max(x, 0)`.
fn relu(values: &mut [f32]) {
    for v in values {
        *v = v.max(0.0);
    }
}

/// A tensor's values as f32, row-major.
fn values(tensor: &Tensor) -> Result<Vec<f32>> {
    tensor.to_dtype(DType::F32)?.flatten_all()?.to_vec1()
}

/// Rows padded to whole vectors.
fn padded(rows: usize) -> usize {
    rows.next_multiple_of(LANES)
}

/// The panels of `padded` rows: `(first row, rows)`, a multiple of [`LANES`] up to [`PANEL_ROWS`].
fn panels(padded: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..padded)
        .step_by(PANEL_ROWS)
        .map(move |start| (start, (padded - start).min(PANEL_ROWS)))
}

/// A matrix and bias packed for `y = W·x + b` (see the module doc).
#[derive(Clone)]
struct Packed {
    cols: usize,
    /// Panels in row order; within a panel, column after column; padding rows are zero.
    weights: Vec<f32>,
    /// `b`, zero-padded to the padded row count.
    bias: Vec<f32>,
}

impl Packed {
    /// Packs a `rows × cols` weight tensor and its bias (zero if there is none).
    fn from_tensors(weight: &Tensor, bias: Option<&Tensor>) -> Result<Packed> {
        let (rows, cols) = weight.dims2()?;
        let matrix = values(weight)?;
        let mut bias = match bias {
            Some(bias) => values(bias)?,
            None => vec![0.0; rows],
        };
        bias.resize(padded(rows), 0.0);
        let mut weights = Vec::with_capacity(bias.len() * cols);
        for (start, width) in panels(bias.len()) {
            for col in 0..cols {
                weights.extend((start..start + width).map(|row| {
                    if row < rows {
                        matrix[row * cols + col]
                    } else {
                        0.0
                    }
                }));
            }
        }
        Ok(Packed {
            cols,
            weights,
            bias,
        })
    }

    fn padded_rows(&self) -> usize {
        self.bias.len()
    }

    fn bytes(&self) -> usize {
        (self.weights.len() + self.bias.len()) * size_of::<f32>()
    }
}

/// One panel's product: `out = W·x + bias` for a panel of `V` vectors of rows, its weights
/// column after column (`weights.len() == V·LANES·x.len()`). Unsafe to call only because a
/// kernel may need CPU features.
type PanelFn = unsafe fn(weights: &[f32], bias: &[f32], x: &[f32], out: &mut [f32]);

/// An activation applied in place; unsafe for the same reason.
type ActivationFn = unsafe fn(values: &mut [f32]);

/// The vector code of a step: one panel function per panel width (1..=8 vectors) and the two
/// activations.
#[derive(Clone, Copy)]
struct Kernel {
    name: &'static str,
    /// Invariant of all three: safe to call on this CPU ([`Kernel::detect`] checks).
    panels: [PanelFn; PANEL_VECTORS],
    sigmoid: ActivationFn,
    tanh: ActivationFn,
}

impl Kernel {
    const PORTABLE: Kernel = Kernel {
        name: "portable",
        panels: [
            portable::panel::<1>,
            portable::panel::<2>,
            portable::panel::<3>,
            portable::panel::<4>,
            portable::panel::<5>,
            portable::panel::<6>,
            portable::panel::<7>,
            portable::panel::<8>,
        ],
        sigmoid: portable::sigmoid,
        tanh: portable::tanh,
    };

    #[cfg(target_arch = "x86_64")]
    const AVX2_FMA: Kernel = Kernel {
        name: "avx2+fma",
        panels: [
            avx2::panel::<1>,
            avx2::panel::<2>,
            avx2::panel::<3>,
            avx2::panel::<4>,
            avx2::panel::<5>,
            avx2::panel::<6>,
            avx2::panel::<7>,
            avx2::panel::<8>,
        ],
        sigmoid: avx2::sigmoid,
        tanh: avx2::tanh,
    };

    /// The fastest kernel this CPU runs.
    fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Kernel::AVX2_FMA;
        }
        Kernel::PORTABLE
    }

    /// `y[..padded rows] = W·x + b`.
    fn product(self, matrix: &Packed, x: &[f32], y: &mut [f32]) {
        assert_eq!(x.len(), matrix.cols, "input length");
        for (start, rows) in panels(matrix.padded_rows()) {
            let weights = &matrix.weights[start * matrix.cols..(start + rows) * matrix.cols];
            let bias = &matrix.bias[start..start + rows];
            let out = &mut y[start..start + rows];
            // SAFETY: the panel functions check their slices' lengths, and this kernel's CPU
            // features were detected (the invariant).
            unsafe { self.panels[rows / LANES - 1](weights, bias, x, out) };
        }
    }

    /// candle's sigmoid, `1 / (e⁻ˣ + 1)`, in place.
    fn sigmoid(self, values: &mut [f32]) {
        // SAFETY: this kernel's CPU features were detected (the invariant).
        unsafe { (self.sigmoid)(values) }
    }

    fn tanh(self, values: &mut [f32]) {
        // SAFETY: as for `sigmoid`.
        unsafe { (self.tanh)(values) }
    }
}

/// Plain loops and std's `exp` and `tanh` (candle's own): what any target runs.
mod portable {
    use super::LANES;

    /// See [`super::PanelFn`]; loops over fixed-size accumulators, which the compiler vectorises
    /// for whatever the target guarantees.
    pub fn panel<const V: usize>(weights: &[f32], bias: &[f32], x: &[f32], out: &mut [f32]) {
        let width = V * LANES;
        assert!(bias.len() == width && out.len() == width && weights.len() == width * x.len());
        let mut acc = [[0.0f32; LANES]; V];
        acc.as_flattened_mut().copy_from_slice(bias);
        for (column, &xj) in weights.chunks_exact(width).zip(x) {
            for (a, w) in acc.as_flattened_mut().iter_mut().zip(column) {
                *a += w * xj;
            }
        }
        out.copy_from_slice(acc.as_flattened());
    }

    pub fn sigmoid(values: &mut [f32]) {
        for v in values {
            *v = ((-*v).exp() + 1.0).recip();
        }
    }

    pub fn tanh(values: &mut [f32]) {
        for v in values {
            *v = v.tanh();
        }
    }
}

/// AVX2 + FMA: the products with one fused multiply–add per weight, and the activations eight
/// at a time. std's `exp` and `tanh` cost about as much as all the products of a 2×256 LSTM
/// step, so the activations use Cephes' single-precision polynomials instead, which stay within
/// 1e-6 relative of std (a test checks it).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::LANES;
    use std::arch::x86_64::*;

    /// See [`super::PanelFn`]: `V` accumulators of 8 lanes in registers.
    #[target_feature(enable = "avx2,fma")]
    pub fn panel<const V: usize>(weights: &[f32], bias: &[f32], x: &[f32], out: &mut [f32]) {
        let width = V * LANES;
        assert!(bias.len() == width && out.len() == width && weights.len() == width * x.len());
        let mut acc = [_mm256_setzero_ps(); V];
        // SAFETY: every load and store reads or writes `LANES` floats at `v·LANES < width`,
        // inside slices of `width` floats (checked above); unaligned access is allowed.
        unsafe {
            for (v, a) in acc.iter_mut().enumerate() {
                *a = _mm256_loadu_ps(bias.as_ptr().add(v * LANES));
            }
            for (column, &xj) in weights.chunks_exact(width).zip(x) {
                let xj = _mm256_set1_ps(xj);
                for (v, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_ps(_mm256_loadu_ps(column.as_ptr().add(v * LANES)), xj, *a);
                }
            }
            for (v, a) in acc.iter().enumerate() {
                _mm256_storeu_ps(out.as_mut_ptr().add(v * LANES), *a);
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub fn sigmoid(values: &mut [f32]) {
        let one = _mm256_set1_ps(1.0);
        for chunk in values.chunks_mut(LANES) {
            let x = load(chunk);
            let negated = _mm256_xor_ps(x, _mm256_set1_ps(-0.0));
            store(chunk, _mm256_div_ps(one, _mm256_add_ps(exp(negated), one)));
        }
    }

    /// Cephes' `tanhf`: an odd polynomial below |x| = 0.625, where `1 − 2/(e²ˣ + 1)` would
    /// cancel, and that formula above.
    #[target_feature(enable = "avx2,fma")]
    pub fn tanh(values: &mut [f32]) {
        let (one, sign_bit) = (_mm256_set1_ps(1.0), _mm256_set1_ps(-0.0));
        for chunk in values.chunks_mut(LANES) {
            let x = load(chunk);
            let z = _mm256_mul_ps(x, x);
            let mut p = _mm256_set1_ps(-5.704_988_7e-3);
            for coefficient in [2.063_909e-2, -5.373_971_6e-2, 1.333_144_2e-1, -3.333_328e-1] {
                p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(coefficient));
            }
            let small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
            let magnitude = _mm256_andnot_ps(sign_bit, x);
            let e = exp(_mm256_add_ps(magnitude, magnitude));
            let large = _mm256_sub_ps(
                one,
                _mm256_div_ps(_mm256_set1_ps(2.0), _mm256_add_ps(e, one)),
            );
            let large = _mm256_or_ps(large, _mm256_and_ps(x, sign_bit));
            let is_small = _mm256_cmp_ps::<_CMP_LT_OQ>(magnitude, _mm256_set1_ps(0.625));
            store(chunk, _mm256_blendv_ps(large, small, is_small));
        }
    }

    /// Cephes' `expf`: x = n·ln 2 + r (ln 2 split in two for an exact reduction), a degree-7
    /// polynomial for eʳ, and 2ⁿ built in the exponent bits. Within 2 ulp; the input is clamped
    /// to ±88.376 so that 2ⁿ stays normal, and NaN passes through.
    #[target_feature(enable = "avx2,fma")]
    fn exp(x: __m256) -> __m256 {
        // `min`/`max` return their second operand when either is NaN.
        let x = _mm256_min_ps(_mm256_set1_ps(88.376_26), x);
        let x = _mm256_max_ps(_mm256_set1_ps(-88.376_26), x);
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E)),
        );
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_359_4), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.121_944_4e-4), r);
        let mut p = _mm256_set1_ps(1.987_569_1e-4);
        for coefficient in [
            1.398_2e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            1.666_666_5e-1,
            0.5,
        ] {
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(coefficient));
        }
        let e_r = _mm256_add_ps(
            _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r),
            _mm256_set1_ps(1.0),
        );
        let exponent = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
        _mm256_mul_ps(e_r, _mm256_castsi256_ps(_mm256_slli_epi32::<23>(exponent)))
    }

    /// Lanes past the end of `chunk` (at most 8 floats) read as zero.
    #[target_feature(enable = "avx2,fma")]
    fn load(chunk: &[f32]) -> __m256 {
        // SAFETY: the mask only lets through lanes inside `chunk`; the others are not touched.
        unsafe { _mm256_maskload_ps(chunk.as_ptr(), mask(chunk.len())) }
    }

    /// Stores the lanes that fall inside `chunk` (at most 8 floats).
    #[target_feature(enable = "avx2,fma")]
    fn store(chunk: &mut [f32], values: __m256) {
        // SAFETY: as for `load`.
        unsafe { _mm256_maskstore_ps(chunk.as_mut_ptr(), mask(chunk.len()), values) }
    }

    /// All ones in the first `len` lanes.
    #[target_feature(enable = "avx2,fma")]
    fn mask(len: usize) -> __m256i {
        debug_assert!(len <= LANES);
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(len as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::network::{NetworkConfig, network};
    use candle_core::Device;
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

    /// Every kernel this CPU runs, the portable one included.
    fn kernels() -> Vec<Kernel> {
        let mut kernels = vec![Kernel::PORTABLE];
        if Kernel::detect().name != Kernel::PORTABLE.name {
            kernels.push(Kernel::detect());
        }
        kernels
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
        for kernel in kernels() {
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
                    kernel.name
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

    /// Holds `activation` to 1e-6 relative of `reference` over ±40 in steps of 1e-3, tiny and
    /// huge inputs, zeros, infinities and NaN.
    fn assert_close_to_std(
        name: &str,
        activation: fn(Kernel, &mut [f32]),
        reference: fn(f32) -> f32,
    ) {
        let mut inputs: Vec<f32> = (-40_000..=40_000).map(|i| i as f32 * 1e-3).collect();
        for x in [
            1e-38, 1e-30, 1e-10, 1e-5, 0.1, 0.62, 0.625, 0.63, 88.0, 89.0, 1e4,
        ] {
            inputs.extend([x, -x]);
        }
        inputs.extend([0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY]);
        for kernel in kernels() {
            let mut values = inputs.clone();
            activation(kernel, &mut values);
            for (&x, &got) in inputs.iter().zip(&values) {
                let expected = reference(x);
                // Relative, but for results too small to matter (sigmoid far below 0).
                let tolerance = 1e-6 * expected.abs() + 1e-37;
                assert!(
                    (got - expected).abs() <= tolerance,
                    "{} {name}({x:e}) = {got:e}, std {expected:e}",
                    kernel.name
                );
            }
            let mut nan = [f32::NAN];
            activation(kernel, &mut nan);
            assert!(nan[0].is_nan(), "{} {name}(NaN)", kernel.name);
        }
    }

    #[test]
    fn activations_are_within_a_millionth_of_std() {
        assert_close_to_std("sigmoid", Kernel::sigmoid, |x| ((-x).exp() + 1.0).recip());
        assert_close_to_std("tanh", Kernel::tanh, f32::tanh);
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
