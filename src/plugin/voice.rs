//! The built-in voice, so the plugin sounds in any DAW: a few soft sine-ish voices with a linear
//! attack/release envelope. Fixed voice count; rendering never allocates.

/// Voices: a monophonic line needs two (one releasing, one starting); Harmonise mode's three
/// lines need six; the rest cover retriggers.
const VOICES: usize = 8;
const ATTACK_S: f32 = 0.005;
const RELEASE_S: f32 = 0.08;

#[derive(Debug, Clone, Copy, Default)]
struct Voice {
    key: Option<u8>,
    phase: f32,
    increment: f32,
    envelope: f32,
    /// Whether the key is still held (the envelope rises to 1) or released (it falls to 0).
    held: bool,
}

/// The voice bank.
#[derive(Debug)]
pub struct Synth {
    voices: [Voice; VOICES],
    sample_rate: f32,
}

impl Default for Synth {
    fn default() -> Self {
        Self {
            voices: [Voice::default(); VOICES],
            sample_rate: 48_000.0,
        }
    }
}

impl Synth {
    pub fn set_sample_rate(&mut self, sample_rate: f32) {
        self.sample_rate = sample_rate;
    }

    /// Silences every voice at once (reset, deactivate).
    pub fn reset(&mut self) {
        self.voices = [Voice::default(); VOICES];
    }

    /// Starts `key` on a free voice, or on the quietest one when none is free.
    pub fn note_on(&mut self, key: u8) {
        let voice = self
            .voices
            .iter_mut()
            .min_by(|a, b| {
                let busy = |v: &Voice| (v.key.is_some(), v.envelope);
                busy(a)
                    .partial_cmp(&busy(b))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .expect("VOICES > 0");
        let hz = 440.0 * 2f32.powf((f32::from(key) - 69.0) / 12.0);
        *voice = Voice {
            key: Some(key),
            phase: 0.0,
            increment: hz / self.sample_rate,
            envelope: voice.envelope,
            held: true,
        };
    }

    pub fn note_off(&mut self, key: u8) {
        for voice in self.voices.iter_mut().filter(|v| v.key == Some(key)) {
            voice.held = false;
        }
    }

    /// Adds `gain` × the voices to every sample of `left` and `right`. Silent (`gain` 0, the voice
    /// level at its floor while the MIDI out drives another synth), it only moves the envelopes
    /// and phases on, in closed form: the oscillators would be most of `process()`'s cost.
    pub fn render(&mut self, left: &mut [f32], right: &mut [f32], gain: f32) {
        let attack = 1.0 / (ATTACK_S * self.sample_rate);
        let release = 1.0 / (RELEASE_S * self.sample_rate);
        for voice in self.voices.iter_mut().filter(|v| v.key.is_some()) {
            if gain == 0.0 {
                let samples = left.len() as f32;
                voice.envelope = if voice.held {
                    (voice.envelope + attack * samples).min(1.0)
                } else {
                    (voice.envelope - release * samples).max(0.0)
                };
                voice.phase = (voice.phase + voice.increment * samples).fract();
            }
            for (l, r) in left
                .iter_mut()
                .zip(right.iter_mut())
                .filter(|_| gain != 0.0)
            {
                voice.envelope = if voice.held {
                    (voice.envelope + attack).min(1.0)
                } else {
                    (voice.envelope - release).max(0.0)
                };
                let x = std::f32::consts::TAU * voice.phase;
                // A touch of second harmonic: warmer than a pure sine, no aliasing to speak of.
                let sample = gain * voice.envelope * (x.sin() + 0.2 * (2.0 * x).sin()) * 0.3;
                *l += sample;
                *r += sample;
                voice.phase = (voice.phase + voice.increment).fract();
            }
            if !voice.held && voice.envelope == 0.0 {
                voice.key = None;
            }
        }
    }
}

/// Soft-clips a rendered channel into ±1. Harmonise mode sounds four lines at once, and with
/// releasing notes up to [`VOICES`] can overlap, whose peaks may add up past full scale; `tanh`
/// rounds them off instead of letting the host clip. One voice (peak about 0.32) is left almost
/// untouched: tanh(0.32) = 0.31.
pub fn saturate(samples: &mut [f32]) {
    samples.iter_mut().for_each(|x| *x = x.tanh());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every voice held at full level, in phase: the sum peaks far past 1, the saturated output
    /// stays inside it.
    #[test]
    fn every_voice_at_once_stays_inside_full_scale() {
        let mut synth = Synth::default();
        for _ in 0..VOICES {
            synth.note_on(69);
        }
        let (mut left, mut right) = (vec![0.0; 4800], vec![0.0; 4800]);
        synth.render(&mut left, &mut right, 1.0);
        let peak = |s: &[f32]| s.iter().fold(0f32, |m, x| m.max(x.abs()));
        assert!(
            peak(&left) > 2.0,
            "the voices did not add up: {}",
            peak(&left)
        );
        saturate(&mut left);
        assert!(peak(&left) < 1.0, "saturated peak {}", peak(&left));
    }

    /// Silent rendering writes nothing, yet its voices attack and release on the same schedule
    /// as audible ones: a note released while silent is free again after the release time.
    #[test]
    fn silent_rendering_keeps_the_envelopes_moving() {
        let (mut silent, mut audible) = (Synth::default(), Synth::default());
        let (mut left, mut right) = (vec![0.0; 480], vec![0.0; 480]);
        for synth in [&mut silent, &mut audible] {
            synth.note_on(60);
        }
        for block in 0..20 {
            if block == 5 {
                silent.note_off(60);
                audible.note_off(60);
            }
            silent.render(&mut left, &mut right, 0.0);
            assert!(left.iter().chain(&right).all(|&x| x == 0.0));
            audible.render(&mut vec![0.0; 480], &mut vec![0.0; 480], 1.0);
            let envelopes = |s: &Synth| s.voices.map(|v| (v.key, v.envelope));
            let (a, b) = (envelopes(&silent), envelopes(&audible));
            for ((key_a, env_a), (key_b, env_b)) in a.iter().zip(&b) {
                // Summed per sample or at once, zero is reached a rounding error apart.
                assert!(key_a == key_b || env_a.max(*env_b) < 1e-3, "block {block}");
                assert!(
                    (env_a - env_b).abs() < 1e-3,
                    "block {block}: {a:?} vs {b:?}"
                );
            }
        }
        // 80 ms of release at 48 kHz is 8 blocks of 480: long over by block 20.
        assert!(silent.voices.iter().all(|v| v.key.is_none()));
    }
}
