//! Pseudo-Gibbs sampling (DeepBach): the free voices start at random, then each sweep redraws
//! every step of every free voice from the network of that voice, given everything else as it
//! stands, with a temperature that falls from 1.5·T to T over the sweeps (hot early, to get away
//! from the random start; cooler late, to settle).
//!
//! Steps `gap` apart are redrawn together, as one batch: they see each other's old values,
//! which is what makes this *pseudo*-Gibbs (and lets candle run them as one batch). A larger gap
//! is closer to one-at-a-time sampling.
//!
//! The logits come from [`FastHarmony`] (the vector kernels, the default) or from candle
//! ([`Scoring::Candle`], the reference, on any device); they agree up to rounding.

use candle_core::{Device, Result};

use crate::music::melody::{HOLD_TOKEN, MelodyEvent, REST_TOKEN, VOCAB_SIZE};
use crate::rng::Rng;

use super::data::VoiceSteps;
use super::fast::{FastHarmony, Scratch};
use super::model::{HarmonyModel, VOICES, window_tensors};
use super::voices::VOICE_RANGES;

/// How to sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GibbsOptions {
    pub sweeps: usize,
    /// The final temperature (1 samples the network as it is; below 1 is safer).
    pub temperature: f64,
    /// Steps redrawn together are this far apart (≥ 1).
    pub gap: usize,
    pub seed: u64,
    pub scoring: Scoring,
}

/// What computes the logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scoring {
    /// [`FastHarmony`] on this CPU, one core.
    #[default]
    Kernels,
    /// candle, on the device given to [`harmonise`]: each batch as one set of tensors.
    Candle,
}

/// Harmonises `piece`: the voices marked in `keep` stay as they are, the others are sampled.
/// Every note drawn lies inside its voice's range. `device` is candle's ([`Scoring::Candle`]).
pub fn harmonise(
    model: &HarmonyModel,
    piece: &VoiceSteps,
    keep: [bool; VOICES],
    options: &GibbsOptions,
    device: &Device,
) -> Result<VoiceSteps> {
    let mut rng = Rng::new(options.seed);
    let mut steps = piece.clone();
    let free: Vec<usize> = (0..VOICES).filter(|&v| !keep[v]).collect();
    for &v in &free {
        steps.voices[v] = random_start(v, steps.len(), &mut rng);
    }
    let gap = options.gap.max(1);
    let masks = VOICE_RANGES.map(|(low, high)| range_mask(low, high));
    let mut scorer = Scorer::new(model, options.scoring, device)?;
    let mut logits = Vec::new();
    for sweep in 0..options.sweeps {
        let progress = sweep as f64 / (options.sweeps.max(2) - 1) as f64;
        let temperature = options.temperature * (1.5 - 0.5 * progress);
        let mut order = free.clone();
        rng.shuffle(&mut order);
        for &v in &order {
            let mut groups: Vec<usize> = (0..gap.min(steps.len())).collect();
            rng.shuffle(&mut groups);
            for r in groups {
                let positions: Vec<usize> = (r..steps.len()).step_by(gap).collect();
                scorer.batch(v, &steps, &positions, &mut logits)?;
                for (&t, row) in positions.iter().zip(logits.chunks_exact(VOCAB_SIZE)) {
                    steps.voices[v][t] = draw(row, &masks[v], temperature, &mut rng);
                }
            }
        }
    }
    Ok(steps)
}

/// One way of scoring, with its buffers.
enum Scorer<'m> {
    Kernels(Box<FastHarmony>, Box<Scratch>),
    Candle {
        model: &'m HarmonyModel,
        device: Device,
        tokens: Vec<u32>,
        meta: Vec<u32>,
    },
}

impl<'m> Scorer<'m> {
    fn new(model: &'m HarmonyModel, scoring: Scoring, device: &Device) -> Result<Self> {
        Ok(match scoring {
            Scoring::Kernels => {
                let fast = FastHarmony::new(model)?;
                let scratch = fast.scratch();
                Scorer::Kernels(Box::new(fast), Box::new(scratch))
            }
            Scoring::Candle => Scorer::Candle {
                model,
                device: device.clone(),
                tokens: Vec::new(),
                meta: Vec::new(),
            },
        })
    }

    /// Voice `v`'s logits at each of `positions`, one row of [`VOCAB_SIZE`] each, into `out`,
    /// all from `steps` as it is now.
    fn batch(
        &mut self,
        v: usize,
        steps: &VoiceSteps,
        positions: &[usize],
        out: &mut Vec<f32>,
    ) -> Result<()> {
        out.clear();
        match self {
            Scorer::Kernels(fast, scratch) => {
                fast.project(steps, scratch);
                for &t in positions {
                    out.extend_from_slice(fast.logits(v, steps, t, scratch));
                }
            }
            Scorer::Candle {
                model,
                device,
                tokens,
                meta,
            } => {
                tokens.clear();
                meta.clear();
                for &t in positions {
                    steps.push_window(t, model.shape.context, tokens, meta);
                }
                let window = model.shape.window();
                let (t, m) = window_tensors(tokens, meta, positions.len(), window, device)?;
                let encoded = model.encode(&t, &m, true)?;
                let logits = model.offline[v].logits(&encoded, None)?;
                out.extend(logits.flatten_all()?.to_vec1::<f32>()?);
            }
        }
        Ok(())
    }
}

/// Which tokens voice `v` may take: hold, rest, and the notes inside its range.
pub(super) fn range_mask(low: u8, high: u8) -> Vec<bool> {
    (0..VOCAB_SIZE as u32)
        .map(|token| match MelodyEvent::from_token(token) {
            Some(MelodyEvent::NoteOn(pitch)) => (low..=high).contains(&pitch),
            _ => true,
        })
        .collect()
}

/// A random start: a note in the voice's range on every beat, held in between.
fn random_start(voice: usize, len: usize, rng: &mut Rng) -> Vec<u32> {
    let (low, high) = VOICE_RANGES[voice];
    (0..len)
        .map(|t| {
            if t % 4 == 0 {
                let pitch = low + rng.below(usize::from(high - low) + 1) as u8;
                MelodyEvent::NoteOn(pitch).token()
            } else {
                HOLD_TOKEN
            }
        })
        .collect()
}

/// Samples a token from `logits` at `temperature`, among the allowed ones.
pub(super) fn draw(logits: &[f32], allowed: &[bool], temperature: f64, rng: &mut Rng) -> u32 {
    let scale = 1.0 / temperature.max(1e-3);
    let best = logits
        .iter()
        .zip(allowed)
        .filter(|(_, ok)| **ok)
        .map(|(l, _)| f64::from(*l))
        .fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = logits
        .iter()
        .zip(allowed)
        .map(|(l, ok)| {
            if *ok {
                ((f64::from(*l) - best) * scale).exp()
            } else {
                0.0
            }
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let mut target = rng.uniform() * total;
    for (token, w) in weights.iter().enumerate() {
        if target < *w {
            return token as u32;
        }
        target -= w;
    }
    // Rounding left nothing: the most likely allowed token.
    weights
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(REST_TOKEN, |(token, _)| token as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harmony::model::HarmonyShape;
    use candle_core::DType;
    use candle_nn::{VarBuilder, VarMap};

    #[test]
    fn kept_voices_stay_and_drawn_notes_stay_in_range() {
        let map = VarMap::new();
        let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
        let shape = HarmonyShape {
            embedding: 4,
            metadata: 2,
            hidden: 8,
            context: 4,
        };
        let model = HarmonyModel::new(shape, vb).unwrap();
        let soprano: Vec<u32> = (0..32)
            .map(|t| {
                if t % 4 == 0 {
                    MelodyEvent::NoteOn(67 + (t / 4 % 5) as u8).token()
                } else {
                    HOLD_TOKEN
                }
            })
            .collect();
        let piece = VoiceSteps {
            voices: [soprano.clone(), vec![0; 32], vec![0; 32], vec![0; 32]],
        };
        let options = GibbsOptions {
            sweeps: 3,
            temperature: 1.0,
            gap: 3,
            seed: 7,
            scoring: Scoring::Kernels,
        };
        let keep = [true, false, false, false];
        let out = harmonise(&model, &piece, keep, &options, &Device::Cpu).unwrap();
        assert_eq!(out.voices[0], soprano);
        for (v, &(low, high)) in VOICE_RANGES.iter().enumerate().skip(1) {
            for &token in &out.voices[v] {
                if let Some(MelodyEvent::NoteOn(p)) = MelodyEvent::from_token(token) {
                    assert!((low..=high).contains(&p), "voice {v}: {p}");
                }
            }
        }
        // The same seed gives the same harmony.
        let again = harmonise(&model, &piece, keep, &options, &Device::Cpu).unwrap();
        assert_eq!(again, out);
        // Scored through candle, the logits differ only by rounding: the same draws.
        let candle = GibbsOptions {
            scoring: Scoring::Candle,
            ..options
        };
        let through_candle = harmonise(&model, &piece, keep, &candle, &Device::Cpu).unwrap();
        assert_eq!(through_candle, out);
    }

    #[test]
    fn drawing_respects_the_mask_and_the_temperature() {
        let mut rng = Rng::new(3);
        let logits = [0.0f32, 5.0, 1.0];
        let allowed = [true, false, true];
        let mut counts = [0usize; 3];
        for _ in 0..2000 {
            counts[draw(&logits, &allowed, 1.0, &mut rng) as usize] += 1;
        }
        assert_eq!(counts[1], 0);
        // e^1 : e^0 ≈ 2.7 : 1 between the allowed two.
        let ratio = counts[2] as f64 / counts[0] as f64;
        assert!((2.2..3.3).contains(&ratio), "{counts:?}");
        let cold = (0..200)
            .filter(|_| draw(&logits, &allowed, 0.05, &mut rng) == 2)
            .count();
        assert_eq!(cold, 200);
    }
}
