//! Presets in the plugin. A plugin cannot set its own host-visible parameters (only the host and
//! an editor can), so a preset is applied where nice-plug lets a plugin rewrite its parameters:
//! the state being loaded. A state whose `model_path` names a preset file gets that preset's
//! settings, once: the preset's path is then remembered in the `preset_applied` field, so
//! reopening a project keeps whatever the musician changed since. The model the preset names is
//! loaded like any model path ([`super::models::load_model`]).

use std::collections::BTreeMap;
use std::path::Path;

use nice_plug::plugin::ParamValue;
use nice_plug::prelude::{Enum, PluginState, nice_error};

use super::params::{PlayMode, Scale, Tonic};
use crate::preset::{self, Preset, Settings};

/// The persistent fields this module reads and writes (see `CantusParams`).
pub const MODEL_PATH_FIELD: &str = "model_path";
pub const APPLIED_FIELD: &str = "preset_applied";
pub const SEED_FIELD: &str = "seed";

/// Applies the preset the state names, if it names one it has not applied yet.
pub fn apply_named_preset(state: &mut PluginState) {
    let Some(path) = text_field(&state.fields, MODEL_PATH_FIELD) else {
        return;
    };
    let is_preset = Path::new(&path).extension().is_some_and(|e| e == "toml");
    if !is_preset || text_field(&state.fields, APPLIED_FIELD).as_deref() == Some(path.as_str()) {
        return;
    }
    match Preset::load(Path::new(&path)) {
        Ok(preset) => {
            write_settings(&preset.settings, &mut state.params);
            if let Some(seed) = preset.settings.seed {
                state.fields.insert(SEED_FIELD.into(), seed.to_string());
            }
            let applied = serde_json::to_string(&path).unwrap_or_default();
            state.fields.insert(APPLIED_FIELD.into(), applied);
        }
        // The loader reports it again when it tries the model; the parameters stay as saved.
        Err(error) => nice_error!("cannot apply the preset {path}: {error}"),
    }
}

/// A preset's parameter values by parameter id, and its seed, for the editor (which sets them
/// through the host, as a musician's gestures).
pub fn preset_values(path: &Path) -> Result<(BTreeMap<String, ParamValue>, Option<u64>), String> {
    let preset = Preset::load(path).map_err(|e| e.to_string())?;
    let mut values = BTreeMap::new();
    write_settings(&preset.settings, &mut values);
    Ok((values, preset.settings.seed))
}

/// A persistent field holding a JSON string.
fn text_field(fields: &BTreeMap<String, String>, name: &str) -> Option<String> {
    serde_json::from_str(fields.get(name)?).ok()
}

/// The preset's settings as the plugin's parameter values, by parameter id. Settings the plugin
/// has no parameter for (top-p, repetition penalty) are for `cantus generate` and `cantus jam`.
fn write_settings(settings: &Settings, params: &mut BTreeMap<String, ParamValue>) {
    let float = |v: Option<f64>| v.map(|v| ParamValue::F32(v as f32));
    let int = |v: Option<u32>| v.map(|v| ParamValue::I32(v as i32));
    let index = |v: Option<usize>| v.map(|v| ParamValue::I32(v as i32));
    let values = [
        ("temperature", float(settings.temperature)),
        ("density", float(settings.density)),
        ("humanise", float(settings.humanise)),
        ("level", float(settings.level_db)),
        ("top_k", int(settings.top_k)),
        ("lowest", int(settings.lowest)),
        ("highest", int(settings.highest)),
        ("steps_per_quarter", int(settings.steps_per_quarter)),
        ("lookahead", int(settings.lookahead)),
        ("answer_gap", int(settings.answer_gap)),
        ("answer_bars", int(settings.answer_bars)),
        ("velocity", int(settings.velocity)),
        ("channel", int(settings.channel)),
        ("alto_channel", int(settings.alto_channel)),
        ("tenor_channel", int(settings.tenor_channel)),
        ("bass_channel", int(settings.bass_channel)),
        (
            "mode",
            index(settings.mode.map(|m| play_mode(m).to_index())),
        ),
        (
            "scale",
            index(settings.scale.map(|s| Scale::from(s).to_index())),
        ),
        (
            "key",
            index(
                settings
                    .key
                    .map(|k| Tonic::from_index(k.pitch_class().into()).to_index()),
            ),
        ),
    ];
    for (id, value) in values {
        if let Some(value) = value {
            params.insert(id.into(), value);
        }
    }
}

fn play_mode(mode: preset::Mode) -> PlayMode {
    match mode {
        preset::Mode::Continue => PlayMode::Continue,
        preset::Mode::Answer => PlayMode::Answer,
        preset::Mode::Solo => PlayMode::Solo,
        preset::Mode::Harmonise => PlayMode::Harmonise,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_naming(path: &str) -> PluginState {
        let mut fields = BTreeMap::new();
        fields.insert(
            MODEL_PATH_FIELD.into(),
            serde_json::to_string(path).unwrap(),
        );
        fields.insert(SEED_FIELD.into(), "5".into());
        PluginState {
            version: String::new(),
            params: BTreeMap::new(),
            fields,
        }
    }

    /// `ParamValue` has no `PartialEq`; its JSON does.
    fn json<T: serde::Serialize>(value: T) -> serde_json::Value {
        serde_json::to_value(value).unwrap()
    }

    #[test]
    fn a_named_preset_sets_the_parameters_once() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/presets/dorian-modal.toml");
        let preset = Preset::load(Path::new(path)).unwrap();
        let mut state = state_naming(path);
        apply_named_preset(&mut state);
        let settings = &preset.settings;
        let key = settings.key.expect("the dorian preset names its key");
        assert_eq!(
            json(state.params.get("key")),
            json(Some(ParamValue::I32(i32::from(key.pitch_class()))))
        );
        assert_eq!(
            json(state.params.get("scale")),
            json(Some(ParamValue::I32(Scale::Dorian.to_index() as i32)))
        );
        if let Some(t) = settings.temperature {
            assert_eq!(
                json(state.params.get("temperature")),
                json(Some(ParamValue::F32(t as f32)))
            );
        }
        // Applied once: a later change survives the next load of the same state.
        state.params.insert("key".into(), ParamValue::I32(0));
        apply_named_preset(&mut state);
        assert_eq!(
            json(state.params.get("key")),
            json(Some(ParamValue::I32(0)))
        );
    }

    #[test]
    fn the_harmony_preset_selects_harmonise_mode_and_the_voices_channels() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/presets/chorale-harmony.toml");
        let mut state = state_naming(path);
        apply_named_preset(&mut state);
        assert_eq!(
            json(state.params.get("mode")),
            json(Some(ParamValue::I32(PlayMode::Harmonise.to_index() as i32)))
        );
        for (id, channel) in [
            ("alto_channel", 2),
            ("tenor_channel", 3),
            ("bass_channel", 4),
        ] {
            assert_eq!(
                json(state.params.get(id)),
                json(Some(ParamValue::I32(channel))),
                "{id}"
            );
        }
    }

    #[test]
    fn a_model_folder_or_a_broken_preset_leaves_the_state_alone() {
        for path in [
            concat!(env!("CARGO_MANIFEST_DIR"), "/models/folk"),
            "/nonexistent/preset.toml",
        ] {
            let mut state = state_naming(path);
            let before = json((&state.params, &state.fields));
            apply_named_preset(&mut state);
            assert_eq!(json((&state.params, &state.fields)), before, "{path}");
        }
    }
}
