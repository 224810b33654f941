//! The built-in voice, so the plugin sounds in any DAW: a few soft sine-ish voices with a linear
//! attack/release envelope. Fixed voice count; rendering never allocates.

/// Voices; a monophonic line needs two (one releasing, one starting), the rest cover retriggers.
const VOICES: usize = 4;
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

    /// Adds `gain` × the voices to every sample of `left` and `right`.
    pub fn render(&mut self, left: &mut [f32], right: &mut [f32], gain: f32) {
        let attack = 1.0 / (ATTACK_S * self.sample_rate);
        let release = 1.0 / (RELEASE_S * self.sample_rate);
        for voice in self.voices.iter_mut().filter(|v| v.key.is_some()) {
            for (l, r) in left.iter_mut().zip(right.iter_mut()) {
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
