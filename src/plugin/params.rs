//! The plugin's parameters. Hosts store automation and state by these `#[id]`s: never rename one.

use nice_plug::prelude::*;

use crate::engine::messages::{MAX_LOOKAHEAD, Params as EngineParams};
use crate::music::melody::{MAX_PITCH, MIN_PITCH};

/// The key's tonic, C = 0.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tonic {
    C,
    #[name = "C#"]
    Cs,
    D,
    #[name = "D#"]
    Ds,
    E,
    F,
    #[name = "F#"]
    Fs,
    G,
    #[name = "G#"]
    Gs,
    A,
    #[name = "A#"]
    As,
    B,
}

/// Which pitch classes, counted from the tonic, the model may start.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Major,
    Minor,
    Dorian,
    Mixolydian,
    Pentatonic,
    Chromatic,
}

impl Scale {
    fn degrees(self) -> &'static [usize] {
        match self {
            Scale::Major => &[0, 2, 4, 5, 7, 9, 11],
            Scale::Minor => &[0, 2, 3, 5, 7, 8, 10],
            Scale::Dorian => &[0, 2, 3, 5, 7, 9, 10],
            Scale::Mixolydian => &[0, 2, 4, 5, 7, 9, 10],
            Scale::Pentatonic => &[0, 2, 4, 7, 9],
            Scale::Chromatic => &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        }
    }
}

/// The voice level's floor: at or below it the voice is silent.
pub const SILENT_DB: f32 = -60.0;

#[derive(Params)]
pub struct CantusParams {
    /// When off, nothing is forwarded or generated (a musician's "mute").
    #[id = "enabled"]
    pub enabled: BoolParam,
    #[id = "temperature"]
    pub temperature: FloatParam,
    /// 0 keeps every token.
    #[id = "top_k"]
    pub top_k: IntParam,
    /// −1..=1: fewer or more note onsets.
    #[id = "density"]
    pub density: FloatParam,
    #[id = "key"]
    pub key: EnumParam<Tonic>,
    #[id = "scale"]
    pub scale: EnumParam<Scale>,
    #[id = "lowest"]
    pub lowest: IntParam,
    #[id = "highest"]
    pub highest: IntParam,
    /// Steps the engine keeps ready ahead of the playhead.
    #[id = "lookahead"]
    pub lookahead: IntParam,
    /// Velocity of the generated notes, 1..=127.
    #[id = "velocity"]
    pub velocity: IntParam,
    /// MIDI channel of the generated notes, 1..=16.
    #[id = "channel"]
    pub channel: IntParam,
    /// The built-in voice's level in dB; [`SILENT_DB`] is −∞.
    #[id = "level"]
    pub level: FloatParam,
    /// On: follow the host's transport (nothing plays before it does). Off: run on `tempo` from
    /// the moment the plugin processes, whatever the host's transport does.
    #[id = "sync"]
    pub sync: BoolParam,
    /// The tempo in BPM when not synced.
    #[id = "tempo"]
    pub tempo: FloatParam,
}

impl Default for CantusParams {
    fn default() -> Self {
        let int =
            |name, default, min, max| IntParam::new(name, default, IntRange::Linear { min, max });
        Self {
            enabled: BoolParam::new("Enabled", true),
            temperature: FloatParam::new(
                "Temperature",
                1.0,
                FloatRange::Linear {
                    min: 0.05,
                    max: 2.0,
                },
            )
            .with_step_size(0.01),
            top_k: int("Top K", 0, 0, 62),
            density: FloatParam::new(
                "Density",
                0.0,
                FloatRange::Linear {
                    min: -1.0,
                    max: 1.0,
                },
            )
            .with_step_size(0.01),
            key: EnumParam::new("Key", Tonic::C),
            scale: EnumParam::new("Scale", Scale::Chromatic),
            lowest: int("Lowest pitch", 48, MIN_PITCH.into(), MAX_PITCH.into()),
            highest: int("Highest pitch", 84, MIN_PITCH.into(), MAX_PITCH.into()),
            lookahead: int("Lookahead", 8, 1, MAX_LOOKAHEAD as i32),
            velocity: int("Velocity", 100, 1, 127),
            channel: int("Output channel", 1, 1, 16),
            sync: BoolParam::new("Sync to host", true),
            tempo: FloatParam::new(
                "Free tempo",
                120.0,
                FloatRange::Linear {
                    min: 40.0,
                    max: 300.0,
                },
            )
            .with_step_size(0.1)
            .with_unit(" BPM"),
            level: FloatParam::new(
                "Voice level",
                -12.0,
                FloatRange::Linear {
                    min: SILENT_DB,
                    max: 0.0,
                },
            )
            .with_step_size(0.1)
            .with_unit(" dB")
            .with_value_to_string(std::sync::Arc::new(|db| {
                if db <= SILENT_DB {
                    "-inf".into()
                } else {
                    format!("{db:.1}")
                }
            })),
        }
    }
}

impl CantusParams {
    /// The engine's snapshot of the current values; compared each block, pushed when changed.
    pub fn engine_params(&self) -> EngineParams {
        let mut pitch_classes = [false; 12];
        let tonic = self.key.value() as usize;
        for degree in self.scale.value().degrees() {
            pitch_classes[(tonic + degree) % 12] = true;
        }
        let (a, b) = (self.lowest.value() as u8, self.highest.value() as u8);
        let mut params = EngineParams {
            pitch_classes,
            lowest: a.min(b),
            highest: a.max(b),
            lookahead: self.lookahead.value() as u32,
            ..EngineParams::default()
        };
        params.sampling.temperature = self.temperature.value();
        params.sampling.top_k = self.top_k.value() as usize;
        params.sampling.density = self.density.value();
        params
    }

    /// The voice's linear gain: 0 at the floor.
    pub fn voice_gain(&self) -> f32 {
        let db = self.level.value();
        if db <= SILENT_DB {
            0.0
        } else {
            util::db_to_gain(db)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_scale_give_the_pitch_classes() {
        let params = CantusParams::default();
        assert_eq!(params.engine_params().pitch_classes, [true; 12]);
        let classes = |tonic: usize, scale: Scale| {
            let mut classes = [false; 12];
            scale
                .degrees()
                .iter()
                .for_each(|d| classes[(tonic + d) % 12] = true);
            classes
        };
        // D dorian is the white keys.
        let white = [
            true, false, true, false, true, true, false, true, false, true, false, true,
        ];
        assert_eq!(classes(2, Scale::Dorian), white);
        assert_eq!(classes(7, Scale::Mixolydian), white);
        assert_eq!(classes(9, Scale::Minor), white);
    }
}
