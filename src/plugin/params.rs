//! The plugin's parameters. Hosts store automation and state by these `#[id]`s: never rename one.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use nice_plug::prelude::*;

use crate::engine::messages::{MAX_LOOKAHEAD, Mode as EngineMode, Params as EngineParams};
use crate::harmony::model::TICKS;
use crate::music::melody::{MAX_PITCH, MIN_PITCH};
use crate::preset;

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

/// How the model shares the line with the player (see [`EngineMode`]).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayMode {
    /// Plays on, primed by what the player plays.
    Continue,
    /// Call and response: waits for the player's phrase, answers it, falls quiet.
    Answer,
    /// Plays on its own, deaf to the player.
    Solo,
    /// Adds alto, tenor and bass under what the player plays, Bach-chorale style, on a
    /// sixteenth grid whatever *Steps per quarter* says.
    Harmonise,
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

/// The two scale lists name the same scales in the same order: the plugin's is a parameter, the
/// preset module's knows the degrees.
impl From<Scale> for preset::Scale {
    fn from(scale: Scale) -> Self {
        match scale {
            Scale::Major => preset::Scale::Major,
            Scale::Minor => preset::Scale::Minor,
            Scale::Dorian => preset::Scale::Dorian,
            Scale::Mixolydian => preset::Scale::Mixolydian,
            Scale::Pentatonic => preset::Scale::Pentatonic,
            Scale::Chromatic => preset::Scale::Chromatic,
        }
    }
}

impl From<preset::Scale> for Scale {
    fn from(scale: preset::Scale) -> Self {
        (0..Scale::variants().len())
            .map(Scale::from_index)
            .find(|&s| preset::Scale::from(s) == scale)
            .unwrap_or(Scale::Chromatic)
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
    #[id = "mode"]
    pub mode: EnumParam<PlayMode>,
    /// The grid: 4 is sixteenth notes, what the default model learned.
    #[id = "steps_per_quarter"]
    pub steps_per_quarter: IntParam,
    /// Steps of silence between the player's last release and the model's reply.
    #[id = "answer_gap"]
    pub answer_gap: IntParam,
    /// In Answer mode, the reply starts on a bar line (after the gap).
    #[id = "answer_at_bar"]
    pub answer_at_bar: BoolParam,
    /// In Answer mode, the reply's length in bars.
    #[id = "answer_bars"]
    pub answer_bars: IntParam,
    /// Harmonise mode's MIDI channels (1..=16) for alto, tenor and bass.
    #[id = "alto_channel"]
    pub alto_channel: IntParam,
    #[id = "tenor_channel"]
    pub tenor_channel: IntParam,
    #[id = "bass_channel"]
    pub bass_channel: IntParam,
    /// 0..=1: random lateness (up to [`MAX_HUMANISE_MS`]) and velocity spread of the notes.
    #[id = "humanise"]
    pub humanise: FloatParam,

    /// The model folder or preset file to play; empty for the compiled-in `folk` model. Saved
    /// with the state; a change is picked up by the plugin's loader thread. A new instance takes
    /// it from the [`MODEL_ENV`] environment variable, if set.
    #[persist = "model_path"]
    pub model_path: Arc<Mutex<String>>,
    /// The preset file whose settings this state already has (see `preset_state`).
    #[persist = "preset_applied"]
    pub preset_applied: Arc<Mutex<String>>,
    /// Seeds the model's sampling, so a saved project replays the same takes. Chosen at random
    /// when the plugin is created.
    #[persist = "seed"]
    pub seed: AtomicU64,
    /// What the loader last did: the model playing, or why a load failed. For the log and the
    /// editor; not saved.
    pub model_status: Arc<Mutex<String>>,
    /// The playing model's card in one line, name and description, and why the last load that
    /// failed did; for the editor, not saved. The loader writes them, never the audio thread.
    pub model_card: Arc<Mutex<String>>,
    pub model_failure: Arc<Mutex<String>>,
    /// The editor window's logical size, width and height, as the musician left it.
    #[persist = "editor-size"]
    pub editor_size: Arc<Mutex<(u32, u32)>>,
}

/// The environment variable that names the model (folder or preset) new instances play.
pub const MODEL_ENV: &str = "CANTUS_MODEL";

/// The largest lateness humanise adds, at 1.
pub const MAX_HUMANISE_MS: f32 = 20.0;

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
            mode: EnumParam::new("Mode", PlayMode::Continue),
            steps_per_quarter: int("Steps per quarter", 4, 1, 8),
            answer_gap: int("Answer gap", 0, 0, 32).with_unit(" steps"),
            answer_at_bar: BoolParam::new("Answer at bar", true),
            answer_bars: int("Answer length", 2, 1, 16).with_unit(" bars"),
            alto_channel: int("Alto channel", 2, 1, 16),
            tenor_channel: int("Tenor channel", 3, 1, 16),
            bass_channel: int("Bass channel", 4, 1, 16),
            humanise: FloatParam::new("Humanise", 0.0, FloatRange::Linear { min: 0.0, max: 1.0 })
                .with_step_size(0.01),
            model_path: Arc::new(Mutex::new(std::env::var(MODEL_ENV).unwrap_or_default())),
            preset_applied: Arc::new(Mutex::new(String::new())),
            seed: AtomicU64::new(random_seed()),
            model_status: Arc::new(Mutex::new(String::new())),
            model_card: Arc::new(Mutex::new(String::new())),
            model_failure: Arc::new(Mutex::new(String::new())),
            editor_size: Arc::new(Mutex::new(crate::plugin::EDITOR_SIZE)),
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

/// A seed that differs between plugin instances: the clock's nanoseconds, mixed with the address
/// of a local (two instances made in the same nanosecond still differ).
fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let local = 0u8;
    nanos ^ (std::ptr::addr_of!(local) as u64).rotate_left(32)
}

impl CantusParams {
    /// The engine's snapshot of the current values, for a bar of `beats_per_bar` quarters;
    /// compared each block, pushed when changed.
    pub fn engine_params(&self, quarters_per_bar: f64) -> EngineParams {
        let tonic = preset::Tonic::new(self.key.value() as u8).expect("a pitch class");
        let pitch_classes = preset::Scale::from(self.scale.value()).pitch_classes(tonic);
        let (a, b) = (self.lowest.value() as u8, self.highest.value() as u8);
        let mut params = EngineParams {
            pitch_classes,
            lowest: a.min(b),
            highest: a.max(b),
            lookahead: self.lookahead.value() as u32,
            mode: match self.mode.value() {
                PlayMode::Continue => EngineMode::Continue,
                PlayMode::Answer => EngineMode::Answer,
                // The melody engine plays on unheard under the harmony.
                PlayMode::Solo | PlayMode::Harmonise => EngineMode::Solo,
            },
            reply_after: self.answer_gap.value() as u32,
            answer_at_bar: self.answer_at_bar.value(),
            answer_length: 0,
            steps_per_bar: 0,
            seed: self.seed.load(std::sync::atomic::Ordering::Relaxed),
            ..EngineParams::default()
        };
        let steps_per_bar = (quarters_per_bar * f64::from(self.steps_per_quarter())).round();
        params.steps_per_bar = steps_per_bar.clamp(1.0, 1024.0) as u32;
        params.answer_length = params.steps_per_bar * self.answer_bars.value() as u32;
        params.sampling.temperature = self.temperature.value();
        params.sampling.top_k = self.top_k.value() as usize;
        params.sampling.density = self.density.value();
        params
    }

    /// The grid played on: the *Steps per quarter* knob, but sixteenths in Harmonise mode,
    /// whose chorale model knows beats as four steps.
    pub fn steps_per_quarter(&self) -> u32 {
        if self.harmonising() {
            TICKS
        } else {
            self.steps_per_quarter.value() as u32
        }
    }

    /// Whether Harmonise mode is on.
    pub fn harmonising(&self) -> bool {
        self.mode.value() == PlayMode::Harmonise
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
    fn the_editor_size_is_saved_with_the_state() {
        let params = CantusParams::default();
        *params.editor_size.lock().unwrap() = (1000, 700);
        let fields = params.serialize_fields();
        assert!(fields.contains_key("editor-size"), "{fields:?}");
        let restored = CantusParams::default();
        assert_eq!(
            *restored.editor_size.lock().unwrap(),
            crate::plugin::EDITOR_SIZE
        );
        restored.deserialize_fields(&fields);
        assert_eq!(*restored.editor_size.lock().unwrap(), (1000, 700));
    }

    #[test]
    fn key_and_scale_give_the_pitch_classes() {
        let params = CantusParams::default();
        assert_eq!(params.engine_params(4.0).pitch_classes, [true; 12]);
        let classes = |tonic: u8, scale: Scale| {
            preset::Scale::from(scale).pitch_classes(preset::Tonic::new(tonic).unwrap())
        };
        // D dorian is the white keys.
        let white = [
            true, false, true, false, true, true, false, true, false, true, false, true,
        ];
        assert_eq!(classes(2, Scale::Dorian), white);
        assert_eq!(classes(7, Scale::Mixolydian), white);
        assert_eq!(classes(9, Scale::Minor), white);
        // Every scale maps to the preset's and back.
        for index in 0..Scale::variants().len() {
            let scale = Scale::from_index(index);
            assert_eq!(Scale::from(preset::Scale::from(scale)), scale);
        }
    }
}
