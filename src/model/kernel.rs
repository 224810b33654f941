//! The vector code under the zero-allocation steps (the melody engine's [`super::fast`] and the
//! chorale sampler's `harmony::fast`): matrix–vector products and the two activations.
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
//! Products and activations run on AVX2 + FMA where the CPU has them (checked once, at
//! construction), else on portable code that the compiler vectorises for the baseline target,
//! with std's `exp` and `tanh`.

use candle_core::{DType, Result, Tensor};

/// Floats in one SIMD vector, and the multiple that rows are padded to.
const LANES: usize = 8;
/// Vectors of accumulators a panel keeps in registers.
const PANEL_VECTORS: usize = 8;
/// Rows in a full panel.
const PANEL_ROWS: usize = LANES * PANEL_VECTORS;

/// `a[k] = f(a[k], b[k])`.
pub(crate) fn zip_with(a: &mut [f32], b: &[f32], f: impl Fn(f32, f32) -> f32) {
    assert_eq!(a.len(), b.len());
    for (a, &b) in a.iter_mut().zip(b) {
        *a = f(*a, b);
    }
}

/// candle's relu, `max(x, 0)`.
pub(crate) fn relu(values: &mut [f32]) {
    for v in values {
        *v = v.max(0.0);
    }
}

/// A tensor's values as f32, row-major.
pub(crate) fn values(tensor: &Tensor) -> Result<Vec<f32>> {
    tensor.to_dtype(DType::F32)?.flatten_all()?.to_vec1()
}

/// Rows padded to whole vectors.
pub(crate) fn padded(rows: usize) -> usize {
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
pub(crate) struct Packed {
    cols: usize,
    /// Panels in row order; within a panel, column after column; padding rows are zero.
    weights: Vec<f32>,
    /// `b`, zero-padded to the padded row count.
    bias: Vec<f32>,
}

impl Packed {
    /// Packs a `rows × cols` weight tensor and its bias (zero if there is none).
    pub(crate) fn from_tensors(weight: &Tensor, bias: Option<&Tensor>) -> Result<Packed> {
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

    /// Length of the `x` it multiplies.
    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    pub(crate) fn padded_rows(&self) -> usize {
        self.bias.len()
    }

    pub(crate) fn bytes(&self) -> usize {
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
pub(crate) struct Kernel {
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
    pub(crate) fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Kernel::AVX2_FMA;
        }
        Kernel::PORTABLE
    }

    /// `"avx2+fma"` or `"portable"`.
    pub(crate) fn name(self) -> &'static str {
        self.name
    }

    /// Every kernel this CPU runs, the portable one included: what tests compare.
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Kernel> {
        let mut kernels = vec![Kernel::PORTABLE];
        if Kernel::detect().name != Kernel::PORTABLE.name {
            kernels.push(Kernel::detect());
        }
        kernels
    }

    /// `y[..padded rows] = W·x + b`.
    pub(crate) fn product(self, matrix: &Packed, x: &[f32], y: &mut [f32]) {
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
    pub(crate) fn sigmoid(self, values: &mut [f32]) {
        // SAFETY: this kernel's CPU features were detected (the invariant).
        unsafe { (self.sigmoid)(values) }
    }

    pub(crate) fn tanh(self, values: &mut [f32]) {
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
        for kernel in Kernel::available() {
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
}
