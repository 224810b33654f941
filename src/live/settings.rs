//! The jam's settings: the preset's [`Settings`], overridden by the flags given, with the
//! plugin's defaults for whatever neither names; and the engine parameters they make.

use crate::engine::messages::{Mode as EngineMode, Params};
use crate::harmony::model::TICKS;
use crate::music::grid::StepGrid;
use crate::preset::{Mode, Scale, Settings, Tonic};

/// Everything the jam needs to know about how to play, resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JamSettings {
    pub params: Params,
    pub grid: StepGrid,
    /// Velocity of Cantus's notes, 1..=127.
    pub velocity: u8,
    /// Zero-based MIDI channel of Cantus's notes.
    pub channel: u8,
    /// Harmonise mode: the zero-based channels of alto, tenor and bass. The melody engine then
    /// runs unheard (as Solo), as in the plugin.
    pub harmony: Option<[u8; 3]>,
}

/// `over`'s values where it has them, `base`'s elsewhere.
pub fn merge(base: &Settings, over: &Settings) -> Settings {
    Settings {
        mode: over.mode.or(base.mode),
        temperature: over.temperature.or(base.temperature),
        top_k: over.top_k.or(base.top_k),
        top_p: over.top_p.or(base.top_p),
        density: over.density.or(base.density),
        repetition_penalty: over.repetition_penalty.or(base.repetition_penalty),
        key: over.key.or(base.key),
        scale: over.scale.or(base.scale),
        lowest: over.lowest.or(base.lowest),
        highest: over.highest.or(base.highest),
        steps_per_quarter: over.steps_per_quarter.or(base.steps_per_quarter),
        lookahead: over.lookahead.or(base.lookahead),
        answer_gap: over.answer_gap.or(base.answer_gap),
        answer_bars: over.answer_bars.or(base.answer_bars),
        velocity: over.velocity.or(base.velocity),
        humanise: over.humanise.or(base.humanise),
        channel: over.channel.or(base.channel),
        alto_channel: over.alto_channel.or(base.alto_channel),
        tenor_channel: over.tenor_channel.or(base.tenor_channel),
        bass_channel: over.bass_channel.or(base.bass_channel),
        level_db: over.level_db.or(base.level_db),
        seed: over.seed.or(base.seed),
    }
}

/// The jam's settings from `settings`, with the plugin's defaults for what it leaves out: the
/// model's own grid (`model_grid`), C chromatic, pitches 48..=84, answers of two 4/4 bars on the
/// next bar line (`answer_at_bar`), velocity 100 on channel 1. `seed` is used when the settings
/// name none.
pub fn resolve(
    settings: &Settings,
    model_grid: StepGrid,
    answer_at_bar: bool,
    seed: u64,
) -> JamSettings {
    let harmonise = settings.mode == Some(Mode::Harmonise);
    // The chorale model knows beats as four steps.
    let grid = match settings.steps_per_quarter {
        _ if harmonise => StepGrid::new(TICKS),
        Some(steps) => StepGrid::new(steps),
        None => model_grid,
    };
    let tonic = settings
        .key
        .unwrap_or(Tonic::new(0).expect("C is a pitch class"));
    let scale = settings.scale.unwrap_or(Scale::Chromatic);
    let (a, b) = (
        settings.lowest.unwrap_or(48) as u8,
        settings.highest.unwrap_or(84) as u8,
    );
    let steps_per_bar = 4 * grid.steps_per_quarter;
    let mut params = Params {
        pitch_classes: scale.pitch_classes(tonic),
        lowest: a.min(b),
        highest: a.max(b),
        lookahead: settings.lookahead.unwrap_or(8),
        mode: match settings.mode.unwrap_or(Mode::Continue) {
            Mode::Continue => EngineMode::Continue,
            Mode::Answer => EngineMode::Answer,
            Mode::Solo | Mode::Harmonise => EngineMode::Solo,
        },
        reply_after: settings.answer_gap.unwrap_or(0),
        answer_at_bar,
        answer_length: steps_per_bar * settings.answer_bars.unwrap_or(2),
        steps_per_bar,
        seed: settings.seed.unwrap_or(seed),
        ..Params::default()
    };
    settings.apply_sampling(&mut params.sampling);
    JamSettings {
        params,
        grid,
        velocity: settings.velocity.unwrap_or(100).clamp(1, 127) as u8,
        channel: zero_based(settings.channel, 1),
        harmony: harmonise.then(|| {
            [
                zero_based(settings.alto_channel, 2),
                zero_based(settings.tenor_channel, 3),
                zero_based(settings.bass_channel, 4),
            ]
        }),
    }
}

/// A 1-based MIDI channel setting (else `default`) as the zero-based channel of a message.
fn zero_based(channel: Option<u32>, default: u32) -> u8 {
    (channel.unwrap_or(default).clamp(1, 16) - 1) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_preset_and_defaults_fill_the_rest() {
        let preset = Settings {
            mode: Some(Mode::Answer),
            temperature: Some(0.5),
            key: Some("D".parse().unwrap()),
            scale: Some(Scale::Dorian),
            answer_bars: Some(1),
            channel: Some(3),
            ..Settings::default()
        };
        let flags = Settings {
            temperature: Some(0.8),
            seed: Some(7),
            ..Settings::default()
        };
        let jam = resolve(&merge(&preset, &flags), StepGrid::new(4), true, 99);
        assert_eq!(jam.params.mode, EngineMode::Answer);
        assert_eq!(jam.params.sampling.temperature, 0.8);
        assert_eq!(jam.params.seed, 7);
        assert_eq!(jam.params.answer_length, 16);
        assert_eq!((jam.params.lowest, jam.params.highest), (48, 84));
        assert_eq!(jam.channel, 2);
        assert_eq!(jam.velocity, 100);
        assert_eq!(jam.harmony, None);
        // D dorian is the white keys.
        let white = [0, 2, 4, 5, 7, 9, 11];
        assert!((0..12).all(|pc| jam.params.pitch_classes[pc] == white.contains(&pc)));
        assert_eq!(
            resolve(&Settings::default(), StepGrid::new(4), true, 99)
                .params
                .seed,
            99
        );
    }

    #[test]
    fn harmonise_mode_silences_the_melody_and_names_the_voices_channels() {
        let settings = Settings {
            mode: Some(Mode::Harmonise),
            tenor_channel: Some(9),
            steps_per_quarter: Some(6),
            ..Settings::default()
        };
        let jam = resolve(&settings, StepGrid::new(2), true, 1);
        assert_eq!(jam.params.mode, EngineMode::Solo);
        // On the chorale model's sixteenths, whatever the grid asked for.
        assert_eq!(jam.grid, StepGrid::new(4));
        assert_eq!(jam.harmony, Some([1, 8, 3]));
    }
}
