//! The harmony model for sampling, on the vector kernels of the real-time step instead of candle.
//!
//! Every redraw of one voice-step runs the past and the future LSTM over `context` steps each.
//! Through candle, a 16-bar chorale at 100 sweeps took about a minute: per-operation overhead
//! and scalar activations on small matrices. Here the weights are copied out once
//! ([`FastHarmony::new`]) and run on [`crate::model::kernel`], the same kernels (and the same
//! cell maths) as the melody engine's zero-allocation step.
//!
//! A step's input to either LSTM is `W_ih · [embed₀(s₀), …, embed₃(s₃), meta(m)] + b_ih`, a sum
//! of one term per voice and one for the metadata, each depending on one token only; so each
//! term is tabulated per token ([`Table`]), and so is the heads' present layer.
//! [`FastHarmony::project`] sums the terms for every step of a piece once per batch of the
//! sampler, and a redraw then costs only the two recurrent passes and its head. The results are
//! candle's up to the order of additions (a test holds the logits to 1e-4).

use candle_core::{Result, Tensor};

use crate::model::CellKind;
use crate::model::cell::Cell;
use crate::model::fast::cell_update;
use crate::model::kernel::{Kernel, Packed, padded, relu, values};
use crate::music::melody::VOCAB_SIZE;

use super::data::VoiceSteps;
use super::model::{HarmonyModel, META_PAD, PAD, VOICES, VoiceHead};

/// One row per token of `embedding · Wᵀ (+ b)`: what a token adds to a layer's input product.
/// Rows are padded to whole vectors with zeros.
struct Table {
    stride: usize,
    values: Vec<f32>,
}

impl Table {
    /// `embedding` `[tokens, e]`, `weight` `[out, e]` (the columns of a layer that read it).
    fn new(embedding: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Table> {
        let mut product = embedding.matmul(&weight.t()?)?;
        if let Some(bias) = bias {
            product = product.broadcast_add(bias)?;
        }
        let (rows, out) = product.dims2()?;
        let stride = padded(out);
        let mut table = vec![0.0; rows * stride];
        for (row, products) in table
            .chunks_exact_mut(stride)
            .zip(values(&product)?.chunks_exact(out))
        {
            row[..out].copy_from_slice(products);
        }
        Ok(Table {
            stride,
            values: table,
        })
    }

    fn row(&self, token: u32) -> &[f32] {
        &self.values[token as usize * self.stride..][..self.stride]
    }
}

/// Columns `start..start + len` of `weight`: the block of a layer that reads one part of a
/// concatenated input.
fn columns(weight: &Tensor, start: usize, len: usize) -> Result<Tensor> {
    weight.narrow(1, start, len)?.contiguous()
}

/// `out = Σ tables[j].row(tokens[j]) + last.row(last_token)`, over `out`'s length.
fn sum_rows<'t>(rows: impl Iterator<Item = &'t [f32]>, out: &mut [f32]) {
    out.fill(0.0);
    for row in rows {
        for (o, r) in out.iter_mut().zip(row) {
            *o += r;
        }
    }
}

/// The past or the future layer: tabulated input terms and the packed recurrent product.
struct Recurrent {
    voices: Vec<Table>,
    /// The metadata's term, with `b_ih`.
    meta: Table,
    recurrent: Packed,
    /// The input of a step outside the piece.
    outside: Vec<f32>,
}

impl Recurrent {
    fn new(cell: &Cell, model: &HarmonyModel) -> Result<Recurrent> {
        let [weight_ih, weight_hh, bias_ih, bias_hh] = cell.weights();
        let e = model.shape.embedding;
        let voices = (0..VOICES)
            .map(|j| {
                let embedding = model.tokens[j].embeddings();
                Table::new(embedding, &columns(weight_ih, j * e, e)?, None)
            })
            .collect::<Result<Vec<_>>>()?;
        let meta_columns = columns(weight_ih, VOICES * e, model.shape.metadata)?;
        let meta = Table::new(model.meta.embeddings(), &meta_columns, Some(bias_ih))?;
        let mut layer = Recurrent {
            voices,
            meta,
            recurrent: Packed::from_tensors(weight_hh, Some(bias_hh))?,
            outside: Vec::new(),
        };
        let mut outside = vec![0.0; layer.meta.stride];
        layer.project([PAD; VOICES], META_PAD, &mut outside);
        layer.outside = outside;
        Ok(layer)
    }

    /// The input product of a step with these tokens and metadata, into `out` (one row).
    fn project(&self, tokens: [u32; VOICES], meta: u32, out: &mut [f32]) {
        let voices = self
            .voices
            .iter()
            .zip(tokens)
            .map(|(t, token)| t.row(token));
        sum_rows(voices.chain([self.meta.row(meta)]), out);
    }
}

/// One voice's head: the present layer tabulated, the mixing and output layers packed.
struct Head {
    /// The voices it sees at the present step, each with its table.
    present: Vec<(usize, Table)>,
    /// The metadata's term of the present layer, with its bias.
    meta: Table,
    /// Width of the present layer (the model's hidden width).
    hidden: usize,
    mix: Packed,
    out: Packed,
}

impl Head {
    fn new(head: &VoiceHead, model: &HarmonyModel) -> Result<Head> {
        let e = model.shape.embedding;
        let weight = head.present.weight();
        let present = head
            .present_voices
            .iter()
            .enumerate()
            .map(|(k, &j)| {
                let table = Table::new(
                    model.tokens[j].embeddings(),
                    &columns(weight, k * e, e)?,
                    None,
                )?;
                Ok((j, table))
            })
            .collect::<Result<Vec<_>>>()?;
        let meta_columns = columns(weight, present.len() * e, model.shape.metadata)?;
        Ok(Head {
            meta: Table::new(model.meta.embeddings(), &meta_columns, head.present.bias())?,
            present,
            hidden: model.shape.hidden,
            mix: Packed::from_tensors(head.mix.weight(), head.mix.bias())?,
            out: Packed::from_tensors(head.head.weight(), head.head.bias())?,
        })
    }
}

impl Head {
    /// The head's logits. `sides` holds the recurrent summaries this head reads (`n` values
    /// each) and room for its present layer after them; `tokens` and `meta` are the step's.
    fn logits<'s>(
        &self,
        kernel: Kernel,
        tokens: [u32; VOICES],
        meta: u32,
        sides: &mut [f32],
        out: &'s mut HeadScratch,
    ) -> &'s [f32] {
        let (n, width) = (self.hidden, self.mix.cols());
        let terms = self.present.iter().map(|(j, table)| table.row(tokens[*j]));
        sum_rows(terms.chain([self.meta.row(meta)]), &mut out.present);
        relu(&mut out.present);
        sides[width - n..width].copy_from_slice(&out.present[..n]);
        kernel.product(&self.mix, &sides[..width], &mut out.mixed);
        relu(&mut out.mixed);
        kernel.product(&self.out, &out.mixed[..n], &mut out.logits);
        &out.logits[..VOCAB_SIZE]
    }
}

/// A head's vectors.
struct HeadScratch {
    present: Vec<f32>,
    mixed: Vec<f32>,
    logits: Vec<f32>,
}

/// What sampling writes: the projected steps of a piece and one redraw's vectors. Allocated by
/// [`FastHarmony::scratch`]; the projections grow with the piece.
pub struct Scratch {
    /// Row `s` is step `s`'s input product for the past layer (for the future layer).
    past_inputs: Vec<f32>,
    future_inputs: Vec<f32>,
    /// One step's input product, for the live past.
    input: Vec<f32>,
    h: Vec<f32>,
    c: Vec<f32>,
    gates: Vec<f32>,
    /// `[past h, future h, present]` (causal: `[past h, present]`), what a head's mixing
    /// layer reads.
    sides: Vec<f32>,
    head: HeadScratch,
}

/// The harmony model ready to draw one voice-step at a time: the offline heads for sampling a
/// whole piece, the causal ones for live chords; see the module doc.
pub struct FastHarmony {
    context: usize,
    hidden: usize,
    kernel: Kernel,
    past: Recurrent,
    future: Recurrent,
    offline: Vec<Head>,
    /// Alto, tenor and bass.
    causal: Vec<Head>,
}

impl FastHarmony {
    /// Copies `model`'s weights out of candle (any device) and tabulates them.
    pub fn new(model: &HarmonyModel) -> Result<FastHarmony> {
        Self::with_kernel(model, Kernel::detect())
    }

    fn with_kernel(model: &HarmonyModel, kernel: Kernel) -> Result<FastHarmony> {
        let heads = |heads: &[VoiceHead]| {
            heads
                .iter()
                .map(|head| Head::new(head, model))
                .collect::<Result<Vec<_>>>()
        };
        Ok(FastHarmony {
            context: model.shape.context,
            hidden: model.shape.hidden,
            kernel,
            past: Recurrent::new(&model.past, model)?,
            future: Recurrent::new(&model.future, model)?,
            offline: heads(&model.offline)?,
            causal: heads(&model.causal)?,
        })
    }

    pub fn context(&self) -> usize {
        self.context
    }

    pub fn scratch(&self) -> Scratch {
        let hidden = self.hidden;
        Scratch {
            past_inputs: Vec::new(),
            future_inputs: Vec::new(),
            input: vec![0.0; self.past.meta.stride],
            h: vec![0.0; hidden],
            c: vec![0.0; hidden],
            gates: vec![0.0; self.past.meta.stride],
            sides: vec![0.0; 3 * hidden],
            head: HeadScratch {
                present: vec![0.0; padded(hidden)],
                mixed: vec![0.0; padded(hidden)],
                logits: vec![0.0; padded(VOCAB_SIZE)],
            },
        }
    }

    /// Projects every step of `steps` for both layers: what [`FastHarmony::logits`] reads of the
    /// context until the next call.
    pub fn project(&self, steps: &VoiceSteps, scratch: &mut Scratch) {
        let stride = self.past.meta.stride;
        for (layer, inputs) in [
            (&self.past, &mut scratch.past_inputs),
            (&self.future, &mut scratch.future_inputs),
        ] {
            inputs.resize(steps.len() * stride, 0.0);
            for (s, row) in inputs.chunks_exact_mut(stride).enumerate() {
                layer.project(
                    steps.voices.each_ref().map(|v| v[s]),
                    VoiceSteps::meta(s),
                    row,
                );
            }
        }
    }

    /// Logits of `voice`'s offline head at step `t`: the context as last projected, the other
    /// voices at `t` as they are in `steps`.
    pub fn logits<'s>(
        &self,
        voice: usize,
        steps: &VoiceSteps,
        t: usize,
        scratch: &'s mut Scratch,
    ) -> &'s [f32] {
        let (c, n, len) = (self.context, self.hidden, steps.len());
        let Scratch {
            past_inputs,
            future_inputs,
            h,
            c: memory,
            gates,
            sides,
            head,
            ..
        } = scratch;
        h.fill(0.0);
        memory.fill(0.0);
        for k in 0..c {
            let x = step_row(past_inputs, &self.past.outside, (t + k).checked_sub(c), len);
            self.step(&self.past, x, h, memory, gates);
        }
        sides[..n].copy_from_slice(h);
        h.fill(0.0);
        memory.fill(0.0);
        for k in (1..=c).rev() {
            let x = step_row(future_inputs, &self.future.outside, Some(t + k), len);
            self.step(&self.future, x, h, memory, gates);
        }
        sides[n..2 * n].copy_from_slice(h);
        let tokens = steps.voices.each_ref().map(|v| v[t]);
        self.offline[voice].logits(self.kernel, tokens, VoiceSteps::meta(t), sides, head)
    }

    /// Runs the past layer over the `context` steps before a live step, oldest first: each
    /// step's tokens and metadata, or `None` outside the take. What
    /// [`FastHarmony::causal_logits`] reads until the next call.
    pub fn encode_past(
        &self,
        window: impl Iterator<Item = Option<([u32; VOICES], u32)>>,
        scratch: &mut Scratch,
    ) {
        let Scratch {
            input,
            h,
            c: memory,
            gates,
            sides,
            ..
        } = scratch;
        h.fill(0.0);
        memory.fill(0.0);
        for step in window {
            let x = match step {
                Some((tokens, meta)) => {
                    self.past.project(tokens, meta, input);
                    &input[..]
                }
                None => &self.past.outside[..],
            };
            self.step(&self.past, x, h, memory, gates);
        }
        sides[..self.hidden].copy_from_slice(h);
    }

    /// Logits of `voice`'s causal head (1..=3) at the step after the encoded past, `present`
    /// its tokens (the head reads only the voices above `voice`) and `meta` its metadata.
    pub fn causal_logits<'s>(
        &self,
        voice: usize,
        present: [u32; VOICES],
        meta: u32,
        scratch: &'s mut Scratch,
    ) -> &'s [f32] {
        let sides = &mut scratch.sides[..2 * self.hidden];
        self.causal[voice - 1].logits(self.kernel, present, meta, sides, &mut scratch.head)
    }

    /// One LSTM step of `layer` from its input product `x`.
    fn step(
        &self,
        layer: &Recurrent,
        x: &[f32],
        h: &mut [f32],
        memory: &mut [f32],
        gates: &mut [f32],
    ) {
        let width = 4 * self.hidden;
        self.kernel.product(&layer.recurrent, h, gates);
        cell_update(
            self.kernel,
            CellKind::Lstm,
            &x[..width],
            &mut gates[..width],
            h,
            memory,
        );
    }
}

/// Step `s`'s row of `inputs` (a piece of `len` steps), or `outside` for a step outside it.
fn step_row<'a>(inputs: &'a [f32], outside: &'a [f32], s: Option<usize>, len: usize) -> &'a [f32] {
    let stride = outside.len();
    match s {
        Some(s) if s < len => &inputs[s * stride..][..stride],
        _ => outside,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harmony::model::{HarmonyShape, window_tensors};
    use crate::music::melody::MelodyEvent;
    use candle_core::{DType, Device};
    use candle_nn::{VarBuilder, VarMap};

    /// Every head, offline and causal, at every step of a short piece (windows reaching outside it at both
    /// ends) gives candle's logits, on every kernel this CPU runs. 21 units: products that need
    /// padding.
    #[test]
    fn every_head_agrees_with_candle() {
        let map = VarMap::new();
        let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
        let shape = HarmonyShape {
            embedding: 5,
            metadata: 3,
            hidden: 21,
            context: 4,
        };
        let model = HarmonyModel::new(shape, vb).unwrap();
        let len = 11;
        let voice = |offset: u8| -> Vec<u32> {
            (0..len)
                .map(|t| MelodyEvent::NoteOn(50 + offset + (t * 5 % 7) as u8).token())
                .collect()
        };
        let steps = VoiceSteps {
            voices: [voice(20), voice(14), voice(7), voice(0)],
        };
        let (mut tokens, mut meta) = (Vec::new(), Vec::new());
        for t in 0..len {
            steps.push_window(t, shape.context, &mut tokens, &mut meta);
        }
        let (tokens, meta) =
            window_tensors(&tokens, &meta, len, shape.window(), &Device::Cpu).unwrap();
        let encoded = model.encode(&tokens, &meta, true).unwrap();
        let distance = |got: &[f32], expected: &[f32]| {
            got.iter()
                .zip(expected)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max)
        };
        for kernel in Kernel::available() {
            let fast = FastHarmony::with_kernel(&model, kernel).unwrap();
            let mut scratch = fast.scratch();
            fast.project(&steps, &mut scratch);
            for (v, head) in model.offline.iter().enumerate() {
                let expected = head
                    .logits(&encoded, None)
                    .unwrap()
                    .to_vec2::<f32>()
                    .unwrap();
                for (t, expected) in expected.iter().enumerate() {
                    let diff = distance(fast.logits(v, &steps, t, &mut scratch), expected);
                    assert!(diff < 1e-4, "{}: voice {v} step {t}: {diff}", kernel.name());
                }
            }
            for v in 1..VOICES {
                let expected = model.causal(v).logits(&encoded, None).unwrap();
                for (t, expected) in expected.to_vec2::<f32>().unwrap().iter().enumerate() {
                    let at =
                        |s: usize| (steps.voices.each_ref().map(|v| v[s]), VoiceSteps::meta(s));
                    let c = shape.context;
                    fast.encode_past((0..c).map(|k| (t + k).checked_sub(c).map(at)), &mut scratch);
                    let (present, meta) = at(t);
                    let got = fast.causal_logits(v, present, meta, &mut scratch);
                    let diff = distance(got, expected);
                    assert!(
                        diff < 1e-4,
                        "{}: causal {v} step {t}: {diff}",
                        kernel.name()
                    );
                }
            }
        }
    }
}
