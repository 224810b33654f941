//! Logits → one token: temperature, top-k, nucleus (top-p), the char-RNN confidence exponent,
//! caller-supplied masks, note density and a repetition penalty.
//!
//! [`Sampler::sample`] runs on the real-time worker thread and inside the audio callback when
//! rendering offline, so it never allocates: it works in scratch buffers sized once by
//! [`Sampler::new`], and sorts them in place.
//!
//! The order of operations, on the logits of one step:
//! 1. non-finite logits are clamped into the `f32` range (NaN counts as the lowest), so no
//!    input can make a NaN probability;
//! 2. repetition penalty on the logits of recently played tokens (CTRL's rule);
//! 3. scaling by `A / temperature`, `A` the confidence exponent (1 when off): raising
//!    probabilities to `A` is the same as multiplying logits by it;
//! 4. the density bias (melody events only), in log-probability units after scaling, so its push
//!    does not depend on the temperature;
//! 5. the mask; greedy stops here with the argmax;
//! 6. softmax, top-k, then top-p on what top-k kept, then one uniform draw.

use crate::music::melody::{HOLD_TOKEN, MAX_PITCH, MIN_PITCH, MelodyEvent, REST_TOKEN, VOCAB_SIZE};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// How many recent note-on tokens the repetition penalty remembers (about a bar of notes).
pub const RECENT_TOKENS: usize = 16;

/// The smallest confidence exponent drawn: below it the distribution is flat for any purpose, and
/// zero or negative exponents would invert or erase the model's preferences.
pub const MIN_CONFIDENCE: f64 = 0.05;

/// The largest confidence exponent: far past argmax-like, and keeps the scaled logits finite.
pub const MAX_CONFIDENCE: f64 = 1000.0;

/// Log-probability added to note-ons (and taken from HOLD and REST) at density ±1: ln(10)/2, so
/// density +1 multiplies the odds of "a note starts now" against "hold or rest" by 10 and −1
/// divides them by 10. Strong enough to turn a sparse model busy (or the reverse), never absolute:
/// a model that is sure still gets its way.
pub const DENSITY_SCALE: f64 = std::f64::consts::LN_10 / 2.0;

/// How to pick a token. Neutral by default: plain sampling from the model's distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingSettings {
    /// Logits are divided by it; ≤ 0 (or NaN) means greedy.
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens; 0 = off.
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability reaches `top_p`; ≥ 1 = off.
    pub top_p: f32,
    /// Always take the most likely token.
    pub greedy: bool,
    /// The char-RNN confidence exponent, `(mu, sigma)`: each step draws `A ~ N(mu, sigma)`,
    /// clamped to [`MIN_CONFIDENCE`]..=[`MAX_CONFIDENCE`], and samples from `p^A` renormalised.
    /// `A < 1` flattens (adventurous), `A > 1` sharpens (safe); a varying `A` makes phrases
    /// alternate between the two.
    pub confidence: Option<(f32, f32)>,
    /// −1..=1: fewer or more note onsets (melody events only; see [`DENSITY_SCALE`]).
    pub density: f32,
    /// Positive logits of recent tokens are divided by it, negative ones multiplied; 1 = off,
    /// below 1 encourages repetition, ≤ 0 or NaN = off.
    pub repetition_penalty: f32,
}

impl Default for SamplingSettings {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            greedy: false,
            confidence: None,
            density: 0.0,
            repetition_penalty: 1.0,
        }
    }
}

/// What a [`Sampler`] remembers between picks: its random stream and its recent tokens. Saved
/// and restored around a rollback, so that regenerating a step draws the same random numbers as
/// generating it the first time did (a rollback is then invisible in the music).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamplerMemory {
    rng: Rng,
    recent: [u32; RECENT_TOKENS],
    recent_len: usize,
    recent_next: usize,
}

/// Picks tokens from logits; owns its random stream, scratch buffers and recent-token memory.
#[derive(Debug, Clone)]
pub struct Sampler {
    rng: Rng,
    melody_events: bool,
    /// Scores, then probabilities, one per token.
    scores: Vec<f64>,
    /// Token indices, sorted by probability for top-k and top-p.
    order: Vec<u32>,
    /// Ring buffer of the last [`RECENT_TOKENS`] observed tokens.
    recent: [u32; RECENT_TOKENS],
    recent_len: usize,
    recent_next: usize,
}

impl Sampler {
    /// A sampler for a vocabulary of `vocab_size` tokens (its only allocation), seeded.
    pub fn new(vocab_size: usize, seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
            melody_events: false,
            scores: vec![0.0; vocab_size],
            order: vec![0; vocab_size],
            recent: [0; RECENT_TOKENS],
            recent_len: 0,
            recent_next: 0,
        }
    }

    /// Says the vocabulary is melody events: turns on density, and limits the repetition penalty
    /// to note-ons (a melody holds most of the time; penalising HOLD would make it twitch).
    pub fn with_melody_events(mut self, melody_events: bool) -> Self {
        self.melody_events = melody_events;
        self
    }

    pub fn vocab_size(&self) -> usize {
        self.scores.len()
    }

    /// Restarts the random stream; the recent-token memory is kept (see [`Sampler::forget`]).
    pub fn reseed(&mut self, seed: u64) {
        self.rng = Rng::new(seed);
    }

    /// The random stream and recent tokens, to [`Sampler::restore`] later. Never allocates.
    pub fn memory(&self) -> SamplerMemory {
        SamplerMemory {
            rng: self.rng,
            recent: self.recent,
            recent_len: self.recent_len,
            recent_next: self.recent_next,
        }
    }

    /// Goes back to a saved [`SamplerMemory`].
    pub fn restore(&mut self, memory: &SamplerMemory) {
        self.rng = memory.rng;
        self.recent = memory.recent;
        (self.recent_len, self.recent_next) = (memory.recent_len, memory.recent_next);
    }

    /// Clears the recent-token memory (a new piece).
    pub fn forget(&mut self) {
        self.recent_len = 0;
        self.recent_next = 0;
    }

    /// Remembers a token for the repetition penalty: call it for tokens the human plays.
    /// [`Sampler::sample`] calls it for its own picks. For melody events only note-ons count.
    pub fn observe(&mut self, token: u32) {
        if self.melody_events && (token == HOLD_TOKEN || token == REST_TOKEN) {
            return;
        }
        self.recent[self.recent_next] = token;
        self.recent_next = (self.recent_next + 1) % RECENT_TOKENS;
        self.recent_len = (self.recent_len + 1).min(RECENT_TOKENS);
    }

    /// Picks a token from `logits` (one per token of the vocabulary; extra ones are ignored).
    ///
    /// `allowed` masks tokens out (`false`); tokens beyond its length count as masked. If the mask
    /// leaves nothing, it is ignored and the token comes from the unmasked distribution: the
    /// music must go on, and a wrong-key note beats a panic or silence. Never allocates, never
    /// panics; returns 0 for an empty vocabulary.
    pub fn sample(
        &mut self,
        logits: &[f32],
        allowed: Option<&[bool]>,
        settings: &SamplingSettings,
    ) -> u32 {
        let n = logits.len().min(self.scores.len());
        if n == 0 {
            return 0;
        }
        let greedy =
            settings.greedy || settings.temperature.is_nan() || settings.temperature <= 0.0;
        let scale = if greedy {
            1.0
        } else {
            let exponent = match settings.confidence {
                Some((mu, sigma)) => {
                    let drawn = self.rng.normal(f64::from(mu), f64::from(sigma));
                    if drawn.is_nan() {
                        MIN_CONFIDENCE
                    } else {
                        drawn.clamp(MIN_CONFIDENCE, MAX_CONFIDENCE)
                    }
                }
                None => 1.0,
            };
            exponent / f64::from(settings.temperature)
        };
        let density = if self.melody_events && settings.density.is_finite() {
            f64::from(settings.density.clamp(-1.0, 1.0)) * DENSITY_SCALE
        } else {
            0.0
        };

        let scores = &mut self.scores[..n];
        for (score, &logit) in scores.iter_mut().zip(logits) {
            *score = if logit.is_nan() {
                f64::from(f32::MIN)
            } else {
                f64::from(logit.clamp(f32::MIN, f32::MAX))
            };
        }
        let penalty = f64::from(settings.repetition_penalty);
        if penalty > 0.0 && penalty.is_finite() && penalty != 1.0 {
            for j in 0..self.recent_len {
                let token = self.recent[j];
                // Once per token, however often it recurs.
                if self.recent[..j].contains(&token) {
                    continue;
                }
                if let Some(score) = scores.get_mut(token as usize) {
                    *score = if *score > 0.0 {
                        *score / penalty
                    } else {
                        *score * penalty
                    };
                }
            }
        }
        for (token, score) in scores.iter_mut().enumerate() {
            *score *= scale;
            if density != 0.0 {
                let note_on = token != HOLD_TOKEN as usize && token != REST_TOKEN as usize;
                *score += if note_on { density } else { -density };
            }
        }
        if let Some(allowed) = allowed {
            let is_allowed = |token: usize| allowed.get(token).copied().unwrap_or(false);
            if self.melody_events {
                // The model decides *when* a note starts, the mask only *which*: the allowed
                // note-ons share the probability of all note-ons, so a narrow range or scale
                // moves the notes instead of silencing the line.
                let is_note_on = |t: usize| t != HOLD_TOKEN as usize && t != REST_TOKEN as usize;
                let log_sum = |keep: &dyn Fn(usize) -> bool| {
                    let max = (0..n)
                        .filter(|&t| keep(t))
                        .map(|t| scores[t])
                        .fold(f64::NEG_INFINITY, f64::max);
                    let sum: f64 = (0..n)
                        .filter(|&t| keep(t))
                        .map(|t| (scores[t] - max).exp())
                        .sum();
                    max + sum.ln()
                };
                let all = log_sum(&|t| is_note_on(t));
                let kept = log_sum(&|t| is_note_on(t) && is_allowed(t));
                let shift = all - kept;
                if shift.is_finite() {
                    for (token, score) in scores.iter_mut().enumerate() {
                        if is_note_on(token) && is_allowed(token) {
                            *score += shift;
                        }
                    }
                }
            }
            if (0..n).any(is_allowed) {
                for (token, score) in scores.iter_mut().enumerate() {
                    if !is_allowed(token) {
                        *score = f64::NEG_INFINITY;
                    }
                }
            }
        }
        // Every score is finite or −∞, and at least one is finite.
        let (best, max) =
            scores
                .iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |(bi, bs), (i, &s)| {
                    if s > bs { (i, s) } else { (bi, bs) }
                });
        if greedy {
            self.observe(best as u32);
            return best as u32;
        }

        for score in scores.iter_mut() {
            *score = (*score - max).exp();
        }
        let top_k = settings.top_k;
        let top_p = f64::from(settings.top_p);
        let cut_k = top_k > 0 && top_k < n;
        if cut_k || top_p < 1.0 {
            let order = &mut self.order[..n];
            for (i, slot) in order.iter_mut().enumerate() {
                *slot = i as u32;
            }
            // Ties broken by token, so the order (and the stream) is reproducible.
            order.sort_unstable_by(|&a, &b| {
                scores[b as usize]
                    .total_cmp(&scores[a as usize])
                    .then(a.cmp(&b))
            });
            if cut_k {
                for &token in &order[top_k..] {
                    scores[token as usize] = 0.0;
                }
            }
            if top_p < 1.0 {
                let threshold = top_p * scores.iter().sum::<f64>();
                let mut before = 0.0;
                for (rank, &token) in order.iter().enumerate() {
                    let p = &mut scores[token as usize];
                    // Keep a token while the ones before it fall short of the threshold.
                    if rank > 0 && before >= threshold {
                        *p = 0.0;
                    }
                    before += *p;
                }
            }
        }

        let total: f64 = scores.iter().sum();
        let target = self.rng.uniform() * total;
        let mut cumulative = 0.0;
        let mut chosen = best;
        for (token, &p) in scores.iter().enumerate() {
            if p > 0.0 {
                chosen = token;
                cumulative += p;
                if target < cumulative {
                    break;
                }
            }
        }
        self.observe(chosen as u32);
        chosen as u32
    }
}

/// The "allowed" mask for a melody-event vocabulary: note-ons whose pitch class is allowed and
/// whose pitch lies in `lowest..=highest`; HOLD and REST always. Allocates: build it when the
/// settings change, or fill one in place with [`fill_melody_mask`].
pub fn melody_mask(allowed_pitch_classes: [bool; 12], lowest: u8, highest: u8) -> Vec<bool> {
    let mut mask = vec![false; VOCAB_SIZE];
    fill_melody_mask(&mut mask, allowed_pitch_classes, lowest, highest);
    mask
}

/// [`melody_mask`] into an existing mask of [`VOCAB_SIZE`] entries, without allocating.
pub fn fill_melody_mask(
    mask: &mut [bool],
    allowed_pitch_classes: [bool; 12],
    lowest: u8,
    highest: u8,
) {
    for (token, allowed) in mask.iter_mut().enumerate() {
        *allowed = match MelodyEvent::from_token(token as u32) {
            Some(MelodyEvent::NoteOn(pitch)) => {
                allowed_pitch_classes[usize::from(pitch % 12)]
                    && (lowest..=highest).contains(&pitch)
            }
            _ => true,
        };
    }
}

/// Every pitch class allowed over the whole range: the mask that masks nothing.
pub fn open_melody_mask() -> Vec<bool> {
    melody_mask([true; 12], MIN_PITCH, MAX_PITCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How often each token comes out of `draws` samples.
    fn histogram(
        sampler: &mut Sampler,
        logits: &[f32],
        allowed: Option<&[bool]>,
        settings: &SamplingSettings,
        draws: usize,
    ) -> Vec<usize> {
        let mut counts = vec![0; logits.len()];
        for _ in 0..draws {
            counts[sampler.sample(logits, allowed, settings) as usize] += 1;
        }
        counts
    }

    fn softmax(logits: &[f32]) -> Vec<f64> {
        let exps: Vec<f64> = logits.iter().map(|&l| f64::from(l).exp()).collect();
        let total: f64 = exps.iter().sum();
        exps.iter().map(|e| e / total).collect()
    }

    /// A mask moves a melody's notes into range instead of silencing it: the allowed note-ons
    /// keep the probability the model gave all note-ons.
    #[test]
    fn a_melody_mask_keeps_the_chance_of_a_note() {
        let mut logits = [-10.0f32; VOCAB_SIZE];
        logits[HOLD_TOKEN as usize] = 0.0;
        logits[MelodyEvent::NoteOn(72).token() as usize] = 2.0;
        logits[MelodyEvent::NoteOn(60).token() as usize] = -5.0;
        let only_c4 = melody_mask([true; 12], 60, 60);
        let mut sampler = Sampler::new(VOCAB_SIZE, 3).with_melody_events(true);
        let settings = SamplingSettings::default();
        let counts = histogram(&mut sampler, &logits, Some(&only_c4), &settings, 4000);
        let c4 = counts[MelodyEvent::NoteOn(60).token() as usize] as f64 / 4000.0;
        // The model's chance of any note-on: e² / (1 + e² + …) ≈ 0.88.
        assert!((0.84..0.92).contains(&c4), "C4 drawn {c4}");
        assert_eq!(
            counts.iter().sum::<usize>(),
            counts[HOLD_TOKEN as usize]
                + counts[MelodyEvent::NoteOn(60).token() as usize]
                + counts[REST_TOKEN as usize]
        );
    }

    /// Twelve distinct logits with the maximum at token 7.
    const LOGITS: [f32; 12] = [
        0.1, -1.0, 0.5, 1.2, 0.0, -0.3, 0.8, 2.0, 1.5, -2.0, 0.3, 1.0,
    ];

    #[test]
    fn greedy_temperature_zero_and_top_one_are_the_argmax() {
        let mut sampler = Sampler::new(12, 1);
        for settings in [
            SamplingSettings {
                greedy: true,
                ..Default::default()
            },
            SamplingSettings {
                temperature: 0.0,
                ..Default::default()
            },
            SamplingSettings {
                top_k: 1,
                ..Default::default()
            },
            SamplingSettings {
                temperature: 1e-3,
                ..Default::default()
            },
        ] {
            for _ in 0..1000 {
                assert_eq!(sampler.sample(&LOGITS, None, &settings), 7, "{settings:?}");
            }
        }
    }

    #[test]
    fn plain_sampling_follows_the_softmax() {
        let mut sampler = Sampler::new(12, 2);
        let draws = 100_000;
        let counts = histogram(&mut sampler, &LOGITS, None, &Default::default(), draws);
        for (count, p) in counts.iter().zip(softmax(&LOGITS)) {
            assert!(
                (*count as f64 / draws as f64 - p).abs() < 0.01,
                "{counts:?}"
            );
        }
    }

    #[test]
    fn top_k_restricts_the_support_to_the_k_best() {
        let mut sampler = Sampler::new(12, 3);
        let settings = SamplingSettings {
            top_k: 4,
            ..Default::default()
        };
        let counts = histogram(&mut sampler, &LOGITS, None, &settings, 10_000);
        let seen: Vec<usize> = (0..12).filter(|&t| counts[t] > 0).collect();
        assert_eq!(seen, [3, 7, 8, 11]);
    }

    #[test]
    fn top_p_restricts_the_support_to_the_nucleus() {
        let probabilities = softmax(&LOGITS);
        let mut ranked: Vec<usize> = (0..12).collect();
        ranked.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
        let top_p = 0.7;
        let mut nucleus = Vec::new();
        let mut mass = 0.0;
        for &token in &ranked {
            if mass >= top_p {
                break;
            }
            nucleus.push(token);
            mass += probabilities[token];
        }
        nucleus.sort();
        assert!(nucleus.len() > 1 && nucleus.len() < 12, "{nucleus:?}");

        let mut sampler = Sampler::new(12, 4);
        let settings = SamplingSettings {
            top_p: top_p as f32,
            ..Default::default()
        };
        let counts = histogram(&mut sampler, &LOGITS, None, &settings, 10_000);
        let seen: Vec<usize> = (0..12).filter(|&t| counts[t] > 0).collect();
        assert_eq!(seen, nucleus);
    }

    #[test]
    fn masks_are_honoured_and_a_full_mask_falls_back() {
        let mut sampler = Sampler::new(12, 5);
        let even: Vec<bool> = (0..12).map(|t| t % 2 == 0).collect();
        let counts = histogram(
            &mut sampler,
            &LOGITS,
            Some(&even),
            &Default::default(),
            5000,
        );
        assert!(
            counts.iter().skip(1).step_by(2).all(|&c| c == 0),
            "{counts:?}"
        );
        assert!(counts.iter().step_by(2).all(|&c| c > 0), "{counts:?}");

        let nothing = [false; 12];
        let greedy = SamplingSettings {
            greedy: true,
            ..Default::default()
        };
        assert_eq!(sampler.sample(&LOGITS, Some(&nothing), &greedy), 7);
        let counts = histogram(
            &mut sampler,
            &LOGITS,
            Some(&nothing),
            &Default::default(),
            5000,
        );
        assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
        // A short mask masks the tokens it does not reach.
        assert_eq!(sampler.sample(&LOGITS, Some(&[true, false]), &greedy), 0);
    }

    #[test]
    fn broken_logits_give_a_token_not_a_panic() {
        let mut sampler = Sampler::new(4, 6);
        for logits in [
            [f32::NAN; 4],
            [f32::NEG_INFINITY; 4],
            [f32::INFINITY, 0.0, f32::NAN, f32::INFINITY],
        ] {
            for settings in [
                SamplingSettings::default(),
                SamplingSettings {
                    temperature: 1e-30,
                    confidence: Some((f32::NAN, f32::INFINITY)),
                    top_p: 0.5,
                    ..Default::default()
                },
            ] {
                assert!(sampler.sample(&logits, None, &settings) < 4);
            }
        }
        assert_eq!(Sampler::new(0, 0).sample(&[], None, &Default::default()), 0);
    }

    #[test]
    fn a_neutral_confidence_exponent_changes_nothing_and_a_large_one_sharpens() {
        let draws = 50_000;
        let neutral = SamplingSettings {
            confidence: Some((1.0, 0.0)),
            ..Default::default()
        };
        let plain = histogram(
            &mut Sampler::new(12, 7),
            &LOGITS,
            None,
            &Default::default(),
            draws,
        );
        let with = histogram(&mut Sampler::new(12, 8), &LOGITS, None, &neutral, draws);
        for (a, b) in plain.iter().zip(&with) {
            assert!(
                (*a as f64 - *b as f64).abs() / (draws as f64) < 0.01,
                "{plain:?} {with:?}"
            );
        }
        let sharp = SamplingSettings {
            confidence: Some((20.0, 1.0)),
            ..Default::default()
        };
        let counts = histogram(&mut Sampler::new(12, 9), &LOGITS, None, &sharp, 10_000);
        assert!(counts[7] > 9_900, "{counts:?}");
        let flat = SamplingSettings {
            confidence: Some((0.1, 0.0)),
            ..Default::default()
        };
        let counts = histogram(&mut Sampler::new(12, 9), &LOGITS, None, &flat, 10_000);
        assert!(counts[7] < 1500 && counts[9] > 500, "{counts:?}");
    }

    #[test]
    fn density_moves_onsets_only_for_melody_events() {
        let flat = [0.0; VOCAB_SIZE];
        let onsets = |melody_events: bool, density: f32| {
            let mut sampler = Sampler::new(VOCAB_SIZE, 10).with_melody_events(melody_events);
            let settings = SamplingSettings {
                density,
                ..Default::default()
            };
            let counts = histogram(&mut sampler, &flat, None, &settings, 10_000);
            counts[2..].iter().sum::<usize>()
        };
        let (sparse, busy) = (onsets(true, -1.0), onsets(true, 1.0));
        assert!(sparse < 8_000 && busy > 9_900, "{sparse} {busy}");
        let expected = 10_000.0 * 61.0 / 63.0;
        assert!((onsets(false, -1.0) as f64 - expected).abs() < 150.0);
    }

    #[test]
    fn the_repetition_penalty_lowers_recent_tokens() {
        let logits = [1.0; 10];
        let settings = SamplingSettings {
            repetition_penalty: 2.0,
            ..Default::default()
        };
        let frequency_of_3 = |observed: bool| {
            let mut base = Sampler::new(10, 0);
            if observed {
                base.observe(3);
            }
            (0..10_000u64)
                .filter(|&seed| {
                    let mut sampler = base.clone();
                    sampler.reseed(seed);
                    sampler.sample(&logits, None, &settings) == 3
                })
                .count()
        };
        // Weights e^0.5 against e^1: 6.3 % instead of 10 %.
        let (fresh, repeated) = (frequency_of_3(false), frequency_of_3(true));
        assert!(fresh > 900 && repeated < 750, "{fresh} {repeated}");

        // Melody events: HOLD is never remembered, so never penalised.
        let mut sampler = Sampler::new(VOCAB_SIZE, 0).with_melody_events(true);
        sampler.observe(HOLD_TOKEN);
        sampler.observe(REST_TOKEN);
        assert_eq!(sampler.recent_len, 0);
        sampler.observe(30);
        assert_eq!(sampler.recent_len, 1);
        let mut logits = vec![0.0; VOCAB_SIZE];
        logits[30] = 1.0;
        logits[31] = 0.9;
        let greedy = SamplingSettings {
            greedy: true,
            ..settings
        };
        assert_eq!(sampler.sample(&logits, None, &greedy), 31);
    }

    #[test]
    fn the_same_seed_gives_the_same_tokens() {
        let settings = SamplingSettings {
            temperature: 0.9,
            top_p: 0.95,
            confidence: Some((1.0, 0.5)),
            repetition_penalty: 1.3,
            ..Default::default()
        };
        let run = |seed| {
            let mut sampler = Sampler::new(12, seed);
            (0..1000)
                .map(|_| sampler.sample(&LOGITS, None, &settings))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
        let mut sampler = Sampler::new(12, 42);
        sampler.sample(&LOGITS, None, &settings);
        sampler.reseed(42);
        sampler.forget();
        let again: Vec<u32> = (0..1000)
            .map(|_| sampler.sample(&LOGITS, None, &settings))
            .collect();
        assert_eq!(again, run(42));
    }

    #[test]
    fn the_melody_mask_follows_scale_and_range() {
        let mut c_major = [false; 12];
        for pc in [0, 2, 4, 5, 7, 9, 11] {
            c_major[pc] = true;
        }
        let mask = melody_mask(c_major, 60, 72);
        assert_eq!(mask.len(), VOCAB_SIZE);
        assert!(mask[HOLD_TOKEN as usize] && mask[REST_TOKEN as usize]);
        let notes: Vec<u8> = (MIN_PITCH..=MAX_PITCH)
            .filter(|&p| mask[MelodyEvent::NoteOn(p).token() as usize])
            .collect();
        assert_eq!(notes, [60, 62, 64, 65, 67, 69, 71, 72]);
        assert!(open_melody_mask().iter().all(|&a| a));
    }
}
