//! The harmony network, after DeepBach: for each voice, a prediction of its token at step t from
//! * the **past**: an LSTM over the `context` steps before t (all four voices and the metadata),
//! * the **future**: an LSTM run backwards over the `context` steps after t,
//! * the **present**: the other voices at t (and t's metadata),
//!
//! each voice's tokens through an embedding of its own. Unlike DeepBach, whose four networks each
//! read the context themselves, the past and future layers are shared and each voice has only
//! its own head: the context is the same for every voice, and sharing makes training and
//! sampling several times cheaper. The **causal** heads, for playing live, have no future and
//! see at t only the voices above them (the player's soprano first, then the
//! alto the model chose, …), so alto, tenor and bass can be drawn in that order as the player
//! plays.
//!
//! Inputs are windows of `2·context + 1` steps centred on t, shaped `[batch, window, 4]` for the
//! tokens and `[batch, window]` for the metadata; steps outside the piece hold [`PAD`] and
//! [`META_PAD`].

use candle_core::{D, DType, Device, Result, Tensor};
use candle_nn::{Embedding, Linear, Module, VarBuilder, embedding, linear};
use serde::{Deserialize, Serialize};

use crate::model::CellKind;
use crate::model::cell::{Cell, cell};
use crate::music::melody::VOCAB_SIZE;

/// The token for a step outside the piece (before its start or after its end).
pub const PAD: u32 = VOCAB_SIZE as u32;
/// Steps per beat the metadata tells apart (sixteenths in a quarter: DeepBach's "tick").
pub const TICKS: u32 = 4;
/// The metadata of a step outside the piece.
pub const META_PAD: u32 = TICKS;

pub const VOICES: usize = 4;

/// Sizes of the networks (the `[model]` table of the training configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarmonyShape {
    /// Embedding width of each voice's tokens.
    pub embedding: usize,
    /// Embedding width of the metadata.
    pub metadata: usize,
    /// Width of the recurrent layers and of the hidden layers after them.
    pub hidden: usize,
    /// Steps of context on each side of the predicted step.
    pub context: usize,
}

impl HarmonyShape {
    pub fn window(&self) -> usize {
        2 * self.context + 1
    }

    fn step_input(&self) -> usize {
        VOICES * self.embedding + self.metadata
    }
}

/// What the shared layers make of a batch of windows: each step's embedded voices, and the past
/// and (offline) future summaries.
pub struct Encoded {
    /// Per voice, `[batch, window, embedding]`.
    voices: Vec<Tensor>,
    /// `[batch, window, metadata]`.
    meta: Tensor,
    past: Tensor,
    future: Option<Tensor>,
}

/// The part of the model that belongs to one voice: what it makes of the present and how it
/// mixes the three (or, causal, two) sides into a prediction.
pub struct VoiceHead {
    voice: usize,
    causal: bool,
    /// The voices this head sees at the present step.
    pub(super) present_voices: Vec<usize>,
    pub(super) present: Linear,
    pub(super) mix: Linear,
    pub(super) head: Linear,
}

impl VoiceHead {
    fn new(voice: usize, causal: bool, shape: HarmonyShape, vb: VarBuilder) -> Result<Self> {
        let present_voices: Vec<usize> = (0..VOICES)
            .filter(|&j| j != voice && (!causal || j < voice))
            .collect();
        let present_in = present_voices.len() * shape.embedding + shape.metadata;
        let sides = if causal { 2 } else { 3 };
        Ok(Self {
            voice,
            causal,
            present: linear(present_in, shape.hidden, vb.pp("present"))?,
            mix: linear(sides * shape.hidden, shape.hidden, vb.pp("mix"))?,
            head: linear(shape.hidden, VOCAB_SIZE, vb.pp("head"))?,
            present_voices,
        })
    }

    pub fn voice(&self) -> usize {
        self.voice
    }

    /// Logits `[batch, VOCAB_SIZE]` for this head's voice at each window's centre. An offline
    /// head needs `encoded` with its future. `dropout` (training only) is a `[batch, hidden]`
    /// mask, already scaled, multiplied into the mixed layer (the trainer draws it from its own
    /// seeded generator, so a resumed run repeats it).
    pub fn logits(&self, encoded: &Encoded, dropout: Option<&Tensor>) -> Result<Tensor> {
        let centre = encoded.meta.dim(1)? / 2;
        let mut present = Vec::with_capacity(self.present_voices.len() + 1);
        for &j in &self.present_voices {
            present.push(encoded.voices[j].narrow(1, centre, 1)?.squeeze(1)?);
        }
        present.push(encoded.meta.narrow(1, centre, 1)?.squeeze(1)?);
        let mut sides = vec![encoded.past.clone()];
        if !self.causal {
            let future = encoded.future.as_ref().ok_or_else(|| {
                candle_core::Error::Msg("an offline head needs the future encoded".into())
            })?;
            sides.push(future.clone());
        }
        sides.push(self.present.forward(&Tensor::cat(&present, 1)?)?.relu()?);
        let mut mixed = self.mix.forward(&Tensor::cat(&sides, 1)?)?.relu()?;
        if let Some(mask) = dropout {
            mixed = (mixed * mask)?;
        }
        self.head.forward(&mixed)
    }
}

/// The harmony model. The embeddings and the two recurrent layers are shared by every voice
/// (they read the same context); each voice has its own head, for offline harmonisation, and
/// alto, tenor and bass a causal head too (the soprano is the player's).
///
/// Weight names: `embed{voice}`, `meta`, `past`, `future`, `offline.{voice}.*`, `causal.{voice}.*`.
pub struct HarmonyModel {
    pub shape: HarmonyShape,
    pub(super) tokens: Vec<Embedding>,
    pub(super) meta: Embedding,
    pub(super) past: Cell,
    pub(super) future: Cell,
    pub offline: Vec<VoiceHead>,
    pub causal: Vec<VoiceHead>,
}

impl HarmonyModel {
    pub fn new(shape: HarmonyShape, vb: VarBuilder) -> Result<Self> {
        let tokens = (0..VOICES)
            .map(|j| embedding(VOCAB_SIZE + 1, shape.embedding, vb.pp(format!("embed{j}"))))
            .collect::<Result<Vec<_>>>()?;
        let meta = embedding(TICKS as usize + 1, shape.metadata, vb.pp("meta"))?;
        let past = cell(
            CellKind::Lstm,
            shape.step_input(),
            shape.hidden,
            0,
            vb.pp("past"),
        )?;
        let future = cell(
            CellKind::Lstm,
            shape.step_input(),
            shape.hidden,
            0,
            vb.pp("future"),
        )?;
        let offline = (0..VOICES)
            .map(|v| VoiceHead::new(v, false, shape, vb.pp(format!("offline.{v}"))))
            .collect::<Result<Vec<_>>>()?;
        let causal = (1..VOICES)
            .map(|v| VoiceHead::new(v, true, shape, vb.pp(format!("causal.{v}"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            shape,
            tokens,
            meta,
            past,
            future,
            offline,
            causal,
        })
    }

    /// The causal head of `voice` (1..=3).
    pub fn causal(&self, voice: usize) -> &VoiceHead {
        &self.causal[voice - 1]
    }

    /// Runs the shared layers over windows: `tokens` `[batch, window, 4]` (u32), `meta`
    /// `[batch, window]` (u32). The future is left out when only causal heads will read it.
    pub fn encode(&self, tokens: &Tensor, meta: &Tensor, with_future: bool) -> Result<Encoded> {
        let c = self.shape.context;
        let voices = self
            .tokens
            .iter()
            .enumerate()
            .map(|(j, embed)| embed.forward(&tokens.narrow(2, j, 1)?.squeeze(2)?))
            .collect::<Result<Vec<_>>>()?;
        let meta = self.meta.forward(meta)?;
        let mut parts = voices.clone();
        parts.push(meta.clone());
        let steps = Tensor::cat(&parts, 2)?; // [batch, window, step_input]
        let zero = self.past.zero_state(tokens.dim(0)?, tokens.device())?;
        let (_, past) = self
            .past
            .forward_sequence(&per_step(&steps, 0..c)?, &zero)?;
        let future = if with_future {
            let later = per_step(&steps, (c + 1..2 * c + 1).rev())?;
            Some(self.future.forward_sequence(&later, &zero)?.1.h)
        } else {
            None
        };
        Ok(Encoded {
            voices,
            meta,
            past: past.h,
            future,
        })
    }
}

impl HarmonyModel {
    /// `encoded` (a causal encoding, one window) seen with `present` as the tokens at its centre
    /// step: what a causal head reads when the voices above it were drawn after the encoding.
    /// The past is reused, so drawing alto, tenor and bass one after another costs one pass
    /// of the recurrent layer.
    pub fn at_present(&self, encoded: &Encoded, present: &[u32; VOICES]) -> Result<Encoded> {
        let device = encoded.past.device();
        let centre = encoded.meta.dim(1)? / 2;
        let voices = self
            .tokens
            .iter()
            .zip(present)
            .map(|(embed, &token)| embed.forward(&Tensor::new(&[[token]], device)?))
            .collect::<Result<Vec<_>>>()?;
        Ok(Encoded {
            voices,
            meta: encoded.meta.narrow(1, centre, 1)?,
            past: encoded.past.clone(),
            future: None,
        })
    }
}

/// The window's steps in `range` as separate `[batch, input]` tensors, in that order.
fn per_step(steps: &Tensor, range: impl Iterator<Item = usize>) -> Result<Vec<Tensor>> {
    range.map(|s| steps.narrow(1, s, 1)?.squeeze(1)).collect()
}

/// Mean cross-entropy of `logits` against `targets` (u32), and the number of correct argmaxes.
pub fn loss_and_hits(logits: &Tensor, targets: &Tensor) -> Result<(Tensor, usize)> {
    let loss = candle_nn::loss::cross_entropy(logits, targets)?;
    let hits = logits
        .argmax(D::Minus1)?
        .eq(targets)?
        .to_dtype(DType::F32)?
        .sum_all()?
        .to_scalar::<f32>()? as usize;
    Ok((loss, hits))
}

/// A batch of windows as tensors.
pub fn window_tensors(
    tokens: &[u32],
    meta: &[u32],
    batch: usize,
    window: usize,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    Ok((
        Tensor::from_slice(tokens, (batch, window, VOICES), device)?,
        Tensor::from_slice(meta, (batch, window), device)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::VarMap;

    const SHAPE: HarmonyShape = HarmonyShape {
        embedding: 4,
        metadata: 2,
        hidden: 8,
        context: 3,
    };

    #[test]
    fn every_head_gives_logits_over_the_melody_tokens() {
        let map = VarMap::new();
        let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
        let model = HarmonyModel::new(SHAPE, vb).unwrap();
        let window = SHAPE.window();
        let tokens: Vec<u32> = (0..2 * window * VOICES).map(|i| (i % 60) as u32).collect();
        let meta: Vec<u32> = (0..2 * window).map(|i| (i % 5) as u32).collect();
        let (tokens, meta) = window_tensors(&tokens, &meta, 2, window, &Device::Cpu).unwrap();
        let encoded = model.encode(&tokens, &meta, true).unwrap();
        for head in model.offline.iter().chain(&model.causal) {
            let logits = head.logits(&encoded, None).unwrap();
            assert_eq!(logits.dims(), [2, VOCAB_SIZE]);
        }
        // A causal head runs without the future; an offline one refuses to.
        let causal_only = model.encode(&tokens, &meta, false).unwrap();
        assert!(model.causal(3).logits(&causal_only, None).is_ok());
        assert!(model.offline[3].logits(&causal_only, None).is_err());
    }

    /// The causal heads must not look ahead: changing the future or the voices below leaves
    /// their output unchanged, while the offline head's changes.
    #[test]
    fn causal_heads_see_neither_the_future_nor_the_voices_below() {
        let map = VarMap::new();
        let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
        let model = HarmonyModel::new(SHAPE, vb).unwrap();
        let window = SHAPE.window();
        let c = SHAPE.context;
        let base: Vec<u32> = (0..window * VOICES).map(|i| (i * 7 % 60) as u32).collect();
        let meta = vec![1u32; window];
        let logits = |tokens: &[u32], head: &VoiceHead| {
            let (t, m) = window_tensors(tokens, &meta, 1, window, &Device::Cpu).unwrap();
            let encoded = model.encode(&t, &m, true).unwrap();
            head.logits(&encoded, None)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        // The future of every voice, and the bass at the present, change.
        let mut changed = base.clone();
        for s in c + 1..window {
            for j in 0..VOICES {
                changed[s * VOICES + j] = 30;
            }
        }
        changed[c * VOICES + 3] = 12;
        let tenor = model.causal(2);
        assert_eq!(logits(&base, tenor), logits(&changed, tenor));
        assert_ne!(
            logits(&base, &model.offline[2]),
            logits(&changed, &model.offline[2])
        );
        // The alto at the present does reach the tenor's causal network.
        let mut alto = base.clone();
        alto[c * VOICES + 1] = 50;
        assert_ne!(logits(&base, tenor), logits(&alto, tenor));
    }
}
