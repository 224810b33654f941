//! Harmonising as the player plays: alto, tenor and bass for one step at a time, drawn from the
//! model's causal heads (past and present only: the soprano's future has not been played yet).
//!
//! A [`LiveHarmoniser`] remembers the take's last steps, all four voices, as the context of the
//! next chord. Asking again for a step it already harmonised (the player's note turned out to
//! start there) forgets that step and everything after it first, so a correction redraws the
//! chord from the same context the first draw saw.

use std::collections::VecDeque;

use candle_core::{Device, Result};

use crate::music::melody::HOLD_TOKEN;
use crate::rng::Rng;

use super::fast::{FastHarmony, Scratch};
use super::gibbs::{draw, range_mask};
use super::model::{HarmonyModel, PAD, TICKS, VOICES};
use super::train::harmony_model_from_parts;
use super::voices::VOICE_RANGES;

/// Alto, tenor and bass tokens (melody events) at one step.
pub type Chord = [u32; 3];

/// The chorale model compiled in, so Harmonise mode plays with no files around it.
const EMBEDDED_CARD: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/chorale/model.json"
));
const EMBEDDED_WEIGHTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/chorale/model.safetensors"
));

/// Steps kept beyond the model's context, so a redo that far back still finds its context.
const SPARE_STEPS: usize = 64;

/// The causal half of the harmony model, played one step at a time.
pub struct LiveHarmoniser {
    /// The model on the vector kernels: a chord costs a fraction of a millisecond.
    model: FastHarmony,
    scratch: Scratch,
    /// The steps harmonised so far, soprano first; `history[0]` is step `first`.
    history: VecDeque<[u32; VOICES]>,
    first: u64,
    /// Where the take began: steps before it are outside the piece.
    origin: u64,
    masks: [Vec<bool>; VOICES],
    /// Each step draws from its own stream, `seed` and the step's number: a redo draws what
    /// the first draw would have drawn from the same context, however many steps ahead were
    /// drawn in between (so offline renders repeat exactly).
    seed: u64,
    pub temperature: f64,
}

impl LiveHarmoniser {
    /// A harmoniser on `model`'s causal heads (its weights are copied out of candle).
    pub fn new(model: &HarmonyModel, seed: u64) -> Result<Self> {
        let model = FastHarmony::new(model)?;
        Ok(Self {
            scratch: model.scratch(),
            model,
            history: VecDeque::new(),
            first: 0,
            origin: 0,
            masks: VOICE_RANGES.map(|(low, high)| range_mask(low, high)),
            seed,
            temperature: 1.0,
        })
    }

    /// A harmoniser on the compiled-in `models/chorale`, on the CPU.
    pub fn embedded(seed: u64) -> std::result::Result<Self, String> {
        let (model, _) = harmony_model_from_parts(EMBEDDED_CARD, EMBEDDED_WEIGHTS, &Device::Cpu)
            .map_err(|e| format!("the embedded chorale model: {e:#}"))?;
        Self::new(&model, seed).map_err(|e| format!("the embedded chorale model: {e}"))
    }

    /// Starts a new take at `origin`, with nothing before it, drawing from `seed`.
    pub fn restart(&mut self, origin: u64, seed: u64) {
        self.history.clear();
        self.first = origin;
        self.origin = origin;
        self.seed = seed;
    }

    /// The first step of the take.
    pub fn origin(&self) -> u64 {
        self.origin
    }

    /// The step after the last one harmonised.
    pub fn next_step(&self) -> u64 {
        self.first + self.history.len() as u64
    }

    /// Draws alto, tenor and bass for `step` under `soprano`, given the steps before it. A step
    /// at or before one already harmonised is a redo: that step and the ones after it are
    /// forgotten first. Steps skipped since the last one (a step nobody asked about) count as
    /// held by every voice.
    pub fn chord(&mut self, step: u64, soprano: u32) -> Chord {
        if step < self.first {
            // Older than anything remembered: a fresh take from here.
            self.restart(step, self.seed);
        }
        let keep = (step - self.first) as usize;
        self.history.truncate(keep);
        while self.next_step() < step {
            self.history.push_back([HOLD_TOKEN; VOICES]);
        }
        let chord = self.draw_chord(step, soprano);
        self.history
            .push_back([soprano, chord[0], chord[1], chord[2]]);
        let limit = self.model.context() + SPARE_STEPS;
        while self.history.len() > limit {
            self.history.pop_front();
            self.first += 1;
        }
        chord
    }

    /// One pass of the past layer over the `context` steps before `step`, then alto, tenor
    /// and bass in turn, each head seeing the voices drawn above it.
    fn draw_chord(&mut self, step: u64, soprano: u32) -> Chord {
        let context = self.model.context() as u64;
        let (history, first, origin) = (&self.history, self.first, self.origin);
        let past = (0..context).map(|k| {
            (step + k)
                .checked_sub(context)
                .filter(|&s| s >= origin && s >= first && s < step)
                .map(|s| (history[(s - first) as usize], (s % u64::from(TICKS)) as u32))
        });
        self.model.encode_past(past, &mut self.scratch);
        let meta = (step % u64::from(TICKS)) as u32;
        let mut rng = Rng::new(self.seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut present = [soprano, PAD, PAD, PAD];
        for voice in 1..VOICES {
            let logits = self
                .model
                .causal_logits(voice, present, meta, &mut self.scratch);
            present[voice] = draw(logits, &self.masks[voice], self.temperature, &mut rng);
        }
        [present[1], present[2], present[3]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harmony::data::read_chorale;
    use crate::harmony::train::load_harmony_model;
    use crate::music::melody::MelodyEvent;
    use std::path::Path;

    fn shipped(seed: u64) -> LiveHarmoniser {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/chorale");
        let (model, _) = load_harmony_model(&dir, &Device::Cpu).unwrap();
        let mut live = LiveHarmoniser::new(&model, seed).unwrap();
        live.temperature = 0.8;
        live
    }

    fn soprano_of_a_valid_chorale() -> Vec<u32> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/bach/valid");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        read_chorale(&files[0]).unwrap().tokens()[0].clone()
    }

    /// The pitch each voice sounds at each step, from its tokens.
    fn sounding(tokens: impl Iterator<Item = u32>) -> Vec<Option<u8>> {
        let mut now = None;
        tokens
            .map(|t| {
                match MelodyEvent::from_token(t) {
                    Some(MelodyEvent::NoteOn(p)) => now = Some(p),
                    Some(MelodyEvent::Rest) => now = None,
                    _ => {}
                }
                now
            })
            .collect()
    }

    /// Share of the steps where a lower voice sounds under the soprano at which the interval
    /// to it is consonant (unison, thirds, fifth, sixths, octave, and compounds).
    fn consonance(soprano: &[u32], lower: &[Vec<u32>]) -> f64 {
        let top = sounding(soprano.iter().copied());
        let (mut consonant, mut total) = (0, 0);
        for voice in lower {
            for (s, v) in top.iter().zip(sounding(voice.iter().copied())) {
                if let (Some(s), Some(v)) = (s, v) {
                    total += 1;
                    let interval = (i32::from(*s) - i32::from(v)).rem_euclid(12);
                    consonant += usize::from([0, 3, 4, 7, 8, 9].contains(&interval));
                }
            }
        }
        consonant as f64 / total.max(1) as f64
    }

    /// Harmonised step by step, a Bach soprano gets voices far more consonant with it than
    /// random notes in the same ranges would be, all inside their ranges.
    #[test]
    fn the_causal_model_harmonises_a_soprano_as_it_is_played() {
        let soprano = soprano_of_a_valid_chorale();
        let mut live = shipped(7);
        let mut voices = vec![Vec::new(); 3];
        for (step, &token) in soprano.iter().enumerate() {
            let chord = live.chord(step as u64, token);
            for (voice, token) in voices.iter_mut().zip(chord) {
                voice.push(token);
            }
        }
        for (v, voice) in voices.iter().enumerate() {
            let (low, high) = VOICE_RANGES[v + 1];
            for pitch in sounding(voice.iter().copied()).into_iter().flatten() {
                assert!(
                    (low..=high).contains(&pitch),
                    "voice {} sang {pitch}",
                    v + 1
                );
            }
        }
        // Random notes in range, changing on every beat: the baseline.
        let mut rng = Rng::new(1);
        let random: Vec<Vec<u32>> = (1..VOICES)
            .map(|v| {
                let (low, high) = VOICE_RANGES[v];
                (0..soprano.len())
                    .map(|t| match t % 4 {
                        0 => {
                            MelodyEvent::NoteOn(low + rng.below(usize::from(high - low) + 1) as u8)
                                .token()
                        }
                        _ => HOLD_TOKEN,
                    })
                    .collect()
            })
            .collect();
        let (model, baseline) = (consonance(&soprano, &voices), consonance(&soprano, &random));
        println!("consonant with the soprano: live {model:.3}, random {baseline:.3}");
        assert!(
            model > baseline + 0.2,
            "live {model:.3}, random {baseline:.3}"
        );
    }

    /// A redo redraws the step from the same context: the same seed and the same soprano give
    /// the same chord, and steps before it are untouched.
    #[test]
    fn a_redo_forgets_the_step_and_what_came_after() {
        let soprano = soprano_of_a_valid_chorale();
        let mut a = shipped(3);
        let mut b = shipped(3);
        let first: Vec<Chord> = (0..12).map(|s| a.chord(s, soprano[s as usize])).collect();
        let again: Vec<Chord> = (0..12).map(|s| b.chord(s, soprano[s as usize])).collect();
        assert_eq!(first, again, "the same seed draws the same chords");
        // The soprano turns out to move at step 10: the chord there is drawn again.
        let moved = MelodyEvent::NoteOn(74).token();
        a.chord(10, moved);
        assert_eq!(a.next_step(), 11);
        assert_eq!(a.history[(9 - a.first) as usize][1..], first[9]);
        assert_eq!(a.history[(10 - a.first) as usize][0], moved);
        // Back to the first soprano: the first chord again.
        assert_eq!(a.chord(10, soprano[10]), first[10]);
    }
}
