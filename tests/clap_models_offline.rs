//! The bundled CLAP plugin rendering offline and changing models, through `clack-host`:
//!
//! * an offline bounce (CLAP's `render` extension set to offline, blocks as fast as the host
//!   can go) contains exactly the notes a real-time play of the same state does;
//! * a state naming a model folder plays that model; one naming a broken model keeps playing the
//!   model it had, live and on activation.
//!
//! Needs `target/bundled/cantus.clap`: `cargo xtask test` builds it before running the tests.

mod common;

use cantus::model::folder::save_untrained;
use cantus::model::{CellKind, ModelCard, NetworkConfig};
use cantus::music::Encoding;
use cantus::music::melody::VOCAB_SIZE;
use common::clap_host::{Instance, TransportInfo};
use common::instance;
use std::time::Duration;

const SAMPLE_RATE: f64 = 48_000.0;
const TEMPO: f64 = 120.0;
const BLOCK: u32 = 512;

/// A generated or forwarded note event at its absolute sample: `(sample, key, on)`.
type Placed = (u64, u8, bool);

/// Plays `seconds` of a playing transport from the song's start, sleeping `pace` of each
/// block's duration (0 renders as fast as the host can), then stops; returns the note events.
fn play(plugin: &mut Instance, seconds: f64, pace: f64) -> Vec<Placed> {
    // Stopped for a while first, as a host is before its user presses play: the worker
    // prepares the take's first steps meanwhile (in real time; offline it needs no time).
    let stopped = TransportInfo {
        playing: false,
        ..TransportInfo::playing(TEMPO)
    };
    for _ in 0..8 {
        plugin.process(BLOCK, &[], Some(&stopped));
        std::thread::sleep(Duration::from_secs_f64(0.2 * pace));
    }
    let mut transport = TransportInfo::playing(TEMPO);
    let mut placed = Vec::new();
    let blocks = (seconds * SAMPLE_RATE / f64::from(BLOCK)) as u64;
    for block in 0..=blocks {
        if block == blocks {
            transport.playing = false;
        }
        let output = plugin.process(BLOCK, &[], Some(&transport));
        for (time, note, on) in output.notes() {
            placed.push((block * u64::from(BLOCK) + u64::from(time), note.key, on));
        }
        transport = transport.advanced(BLOCK, SAMPLE_RATE);
        std::thread::sleep(Duration::from_secs_f64(
            f64::from(BLOCK) / SAMPLE_RATE * pace,
        ));
    }
    placed
}

/// The JSON inside a state blob: nice-plug writes its length as a little-endian `u64`, then
/// the JSON text.
fn state_json(state: &[u8]) -> serde_json::Value {
    let (len, json) = state.split_at(8);
    assert_eq!(
        u64::from_le_bytes(len.try_into().unwrap()),
        json.len() as u64
    );
    serde_json::from_slice(json).expect("the state is JSON")
}

/// The state blob with its `model_path` field set to `path`. nice-plug saves persistent fields
/// as JSON text inside the JSON state.
fn with_model_path(state: &[u8], path: &str) -> Vec<u8> {
    let mut json = state_json(state);
    let fields = json["fields"]
        .as_object_mut()
        .expect("the state has persistent fields");
    assert!(fields.contains_key("model_path"), "{fields:?}");
    fields.insert(
        "model_path".into(),
        serde_json::Value::String(serde_json::to_string(path).unwrap()),
    );
    let json = serde_json::to_vec(&json).unwrap();
    let mut blob = (json.len() as u64).to_le_bytes().to_vec();
    blob.extend(json);
    blob
}

/// A small untrained melody-event model in a temporary folder: plays different music from the
/// embedded one.
fn untrained_model() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = NetworkConfig {
        cell: CellKind::Gru,
        layers: 1,
        embedding: 8,
        hidden: 16,
        vocab_size: VOCAB_SIZE,
        dropout: 0.0,
    };
    let card = ModelCard::new("untrained", config, Encoding::melody_events(4));
    save_untrained(dir.path(), &card, 5).unwrap();
    dir
}

#[test]
fn an_offline_bounce_holds_the_notes_of_a_real_time_play() {
    let mut live = instance();
    let state = live.save_state();
    live.activate(SAMPLE_RATE, 1, BLOCK);
    // In real time: the worker (a debug build here) must keep up, so the host does not run ahead.
    let heard = play(&mut live, 12.0, 1.0);

    let mut bounce = instance();
    bounce.load_state(&state).unwrap();
    assert!(
        bounce.set_render_offline(true),
        "the plugin refused offline rendering"
    );
    bounce.activate(SAMPLE_RATE, 1, BLOCK);
    let bounced = play(&mut bounce, 12.0, 0.0);

    let notes = heard.iter().filter(|e| e.2).count();
    assert!(notes > 10, "only {notes} notes in 12 s: {heard:?}");
    assert_eq!(bounced, heard, "the bounce differs from the real-time play");
}

#[test]
fn a_state_naming_a_model_plays_it_and_a_broken_one_keeps_the_embedded_model() {
    let untrained = untrained_model();
    let render = |state: &[u8]| {
        let mut plugin = instance();
        plugin.load_state(state).unwrap();
        plugin.set_render_offline(true);
        plugin.activate(SAMPLE_RATE, 1, BLOCK);
        play(&mut plugin, 8.0, 0.0)
    };
    let state = instance().save_state();
    let embedded = render(&state);
    let other = render(&with_model_path(&state, untrained.path().to_str().unwrap()));
    let missing = render(&with_model_path(&state, "/nonexistent/model"));
    let abc = concat!(env!("CARGO_MANIFEST_DIR"), "/models/abc-char");
    let wrong_kind = render(&with_model_path(&state, abc));
    assert!(
        embedded.iter().any(|e| e.2),
        "the embedded model played nothing"
    );
    assert_ne!(
        other, embedded,
        "the named model played the embedded model's music"
    );
    assert_eq!(
        missing, embedded,
        "a missing model did not fall back to the embedded one"
    );
    assert_eq!(
        wrong_kind, embedded,
        "a char model did not fall back to the embedded one"
    );
}

#[test]
fn a_model_loaded_while_playing_takes_over_and_a_broken_one_changes_nothing() {
    let untrained = untrained_model();
    let mut plugin = instance();
    let state = plugin.save_state();
    plugin.set_render_offline(true);
    plugin.activate(SAMPLE_RATE, 1, BLOCK);
    let embedded = play(&mut plugin, 4.0, 0.0);

    // A broken model, named while active: the loader fails, the embedded model plays on.
    plugin
        .load_state(&with_model_path(&state, "/nonexistent/model"))
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(play(&mut plugin, 4.0, 0.0), embedded);

    // A good one: the loader swaps it in; the next take is the new model's.
    plugin
        .load_state(&with_model_path(&state, untrained.path().to_str().unwrap()))
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let swapped = play(&mut plugin, 4.0, 0.0);
    assert_ne!(swapped, embedded, "the new model did not take over");
    // The saved state names the new model.
    let saved = state_json(&plugin.save_state());
    let path: String =
        serde_json::from_str(saved["fields"]["model_path"].as_str().unwrap()).unwrap();
    assert_eq!(path, untrained.path().to_str().unwrap());
}

#[test]
fn a_state_naming_a_preset_takes_its_settings_once_and_plays_its_model() {
    let preset = concat!(env!("CARGO_MANIFEST_DIR"), "/presets/dorian-modal.toml");
    let mut plugin = instance();
    let state = with_model_path(&plugin.save_state(), preset);
    plugin.load_state(&state).unwrap();
    // D dorian, as the preset says (enum parameters are their variant's index).
    let (key, scale) = (plugin.param_id("Key"), plugin.param_id("Scale"));
    assert_eq!(plugin.param_value(key).round(), 2.0);
    assert_eq!(plugin.param_value(scale).round(), 2.0);
    plugin.set_render_offline(true);
    plugin.activate(SAMPLE_RATE, 1, BLOCK);
    let notes = play(&mut plugin, 8.0, 0.0);
    let white = [0, 2, 4, 5, 7, 9, 11];
    assert!(
        notes.iter().any(|e| e.2),
        "the preset's model played nothing"
    );
    assert!(
        notes.iter().all(|e| white.contains(&(e.1 % 12))),
        "a note outside D dorian: {notes:?}"
    );
    plugin.deactivate();

    // The musician changes the key; the project saved and reopened keeps the change.
    plugin.set_param(key, 0.0);
    let saved = plugin.save_state();
    let mut reopened = instance();
    reopened.load_state(&saved).unwrap();
    assert_eq!(reopened.param_value(key).round(), 0.0);
}
