//! The bundled CLAP plugin, loaded by a real host library (`clack-host`): identity, MIDI
//! pass-through at every sample rate and block size, the `enabled` switch, state, reactivation.
//!
//! Needs `target/bundled/cantus.clap`: `cargo xtask test` builds it before running the tests.

mod common;

use cantus::plugin::Cantus;
use common::clap_host::{
    Event, Instance, OUTPUT_CHANNELS, PARAM_IS_STEPPED, ProcessOutput, TestHost, TimedEvent,
    TransportInfo,
};
use common::{XorShift, bundled};
use nice_plug::prelude::{ClapFeature, ClapPlugin, Plugin};

const PLUGIN_ID: &str = "org.cantus.cantus";
const SAMPLE_RATES: [f64; 3] = [44_100.0, 48_000.0, 96_000.0];
const MAX_BLOCK: u32 = 4096;

fn instance() -> Instance {
    TestHost::load(&bundled("cantus.clap")).instantiate(PLUGIN_ID)
}

/// Random note-ons and note-offs at sorted random offsets (repeats included) within the block.
///
/// Velocities are multiples of 1/127 as `f32`: nice-plug carries velocity as `f32`, so only such
/// values survive the round trip exactly.
fn random_notes(rng: &mut XorShift, frames: u32) -> Vec<TimedEvent> {
    let count = rng.range(0, frames.min(8));
    let mut times: Vec<u32> = (0..count).map(|_| rng.range(0, frames - 1)).collect();
    times.sort_unstable();
    times
        .into_iter()
        .map(|time| {
            let (channel, key) = (rng.range(0, 15) as u8, rng.range(0, 127) as u8);
            let velocity = f64::from(rng.range(1, 127) as f32 / 127.0);
            if rng.range(0, 1) == 0 {
                TimedEvent::note_on(time, channel, key, velocity)
            } else {
                TimedEvent::note_off(time, channel, key, velocity)
            }
        })
        .collect()
}

fn assert_silent(output: &ProcessOutput, frames: u32) {
    assert_eq!(output.audio.len(), OUTPUT_CHANNELS);
    for channel in &output.audio {
        assert_eq!(channel.len(), frames as usize);
        assert!(
            channel.iter().all(|&s| s == 0.0),
            "non-silent output: {channel:?}"
        );
    }
}

/// Runs `blocks` blocks of random notes with an advancing transport and checks that each block
/// forwards exactly its input (same events, offsets and order) over silence. Returns the number
/// of events forwarded, so callers can tell the run was not vacuous.
fn check_pass_through(
    plugin: &mut Instance,
    rng: &mut XorShift,
    sample_rate: f64,
    blocks: usize,
    mut block_len: impl FnMut(&mut XorShift) -> u32,
) -> usize {
    let mut transport = TransportInfo::playing(120.0);
    let mut forwarded = 0;
    for block in 0..blocks {
        let frames = block_len(rng);
        let input = random_notes(rng, frames);
        let output = plugin.process(frames, &input, Some(&transport));
        assert_eq!(
            output.events, input,
            "block {block} ({frames} frames at {sample_rate} Hz)"
        );
        assert!(
            output.events.is_sorted_by_key(|e| e.time),
            "unsorted output in block {block}"
        );
        assert_silent(&output, frames);
        forwarded += output.events.len();
        transport = transport.advanced(frames, sample_rate);
    }
    forwarded
}

#[test]
fn bundle_lists_only_cantus_with_the_declared_identity() {
    let plugins = TestHost::load(&bundled("cantus.clap")).plugins();
    assert_eq!(plugins.len(), 1, "{plugins:?}");
    let plugin = &plugins[0];
    assert_eq!(plugin.id, PLUGIN_ID);
    assert_eq!(plugin.id, Cantus::CLAP_ID);
    // Compared with the crate's constants, so a stale bundle fails here.
    assert_eq!(plugin.name, Cantus::NAME);
    assert_eq!(plugin.vendor, Cantus::VENDOR);
    assert_eq!(plugin.version, Cantus::VERSION);
    assert_eq!(
        plugin.description,
        Cantus::CLAP_DESCRIPTION.unwrap_or_default()
    );
    let features: Vec<_> = Cantus::CLAP_FEATURES
        .iter()
        .map(ClapFeature::as_str)
        .collect();
    assert_eq!(plugin.features, features);
    assert!(
        plugin.features.iter().any(|f| f == "instrument"),
        "hosts list it as an instrument"
    );
}

#[test]
fn notes_pass_through_unchanged_at_every_rate_and_block_size() {
    let mut rng = XorShift::new(0x00C0_FFEE);
    for sample_rate in SAMPLE_RATES {
        let mut plugin = instance();
        plugin.activate(sample_rate, 1, MAX_BLOCK);
        for size in [1, 64, 512, MAX_BLOCK] {
            let forwarded = check_pass_through(&mut plugin, &mut rng, sample_rate, 64, |_| size);
            assert!(forwarded > 0, "no notes were sent with {size}-frame blocks");
        }
        let forwarded = check_pass_through(&mut plugin, &mut rng, sample_rate, 300, |rng| {
            rng.range(1, MAX_BLOCK)
        });
        assert!(
            forwarded > 500,
            "only {forwarded} notes with random block sizes"
        );
    }
}

#[test]
fn enabled_param_has_a_stable_id() {
    let params = instance().params();
    assert_eq!(params.len(), 1, "{params:?}");
    let enabled = &params[0];
    assert_eq!(enabled.name, "Enabled");
    // nice-plug's hash of the string id "enabled". Hosts store automation and state by this
    // number, so renaming the `#[id]` breaks users' projects.
    assert_eq!(enabled.id, 537_889_601);
    assert_eq!((enabled.min, enabled.max, enabled.default), (0.0, 1.0, 1.0));
    assert_ne!(
        enabled.flags & PARAM_IS_STEPPED,
        0,
        "a switch is a stepped parameter"
    );
}

#[test]
fn disabled_plugin_forwards_nothing() {
    let mut rng = XorShift::new(3);
    let notes = |rng: &mut XorShift| -> Vec<TimedEvent> {
        (0..8)
            .map(|i| TimedEvent::note_on(i * 8, 0, rng.range(0, 127) as u8, 1.0))
            .collect()
    };
    let mut plugin = instance();
    let enabled = plugin.param_id("Enabled");

    // Off before activation, through `params.flush`.
    plugin.set_param(enabled, 0.0);
    assert_eq!(plugin.param_value(enabled), 0.0);
    plugin.activate(48_000.0, 1, 512);
    let output = plugin.process(64, &notes(&mut rng), None);
    assert_eq!(output.events, [], "forwarded while disabled");
    assert_silent(&output, 64);

    // On, then off again, by parameter events in the block itself (how automation arrives).
    let mut input = vec![TimedEvent::param(0, enabled, 1.0)];
    input.extend(notes(&mut rng));
    let output = plugin.process(64, &input, None);
    assert_eq!(output.events, input[1..], "not forwarded once re-enabled");
    let mut input = vec![TimedEvent::param(0, enabled, 0.0)];
    input.extend(notes(&mut rng));
    assert_eq!(plugin.process(64, &input, None).events, []);
    assert_eq!(plugin.param_value(enabled), 0.0);

    // On, while active, through the harness's queue for the next block.
    plugin.set_param(enabled, 1.0);
    let input = notes(&mut rng);
    assert_eq!(plugin.process(64, &input, None).events, input);
    assert_eq!(plugin.param_value(enabled), 1.0);
}

#[test]
fn state_round_trips_byte_identically() {
    let mut original = instance();
    let enabled = original.param_id("Enabled");
    // A non-default value, so loading has something to restore.
    original.set_param(enabled, 0.0);
    let saved = original.save_state();
    assert!(!saved.is_empty());

    let mut restored = instance();
    assert_eq!(restored.param_value(enabled), 1.0);
    restored.load_state(&saved).expect("loading a saved state");
    assert_eq!(restored.param_value(enabled), 0.0);
    assert_eq!(
        restored.save_state(),
        saved,
        "save → load → save changed the bytes"
    );

    // The restored switch is in force once processing.
    restored.activate(44_100.0, 1, 256);
    let notes = [TimedEvent::note_on(10, 1, 60, 1.0)];
    assert_eq!(restored.process(32, &notes, None).events, []);
}

#[test]
fn malformed_state_is_rejected_and_the_plugin_keeps_working() {
    let mut rng = XorShift::new(99);
    let mut plugin = instance();
    plugin.activate(48_000.0, 1, 512);
    let good = plugin.save_state();

    // nice-plug's format is a little-endian u64 length, then JSON: vary both parts.
    let small_length_then_noise = [10u64.to_le_bytes().to_vec(), rng.bytes(10)].concat();
    let blobs = [
        Vec::new(),
        rng.bytes(7),
        rng.bytes(64),
        rng.bytes(4096),
        small_length_then_noise,
        good[..good.len() / 2].to_vec(),
    ];
    for blob in &blobs {
        assert!(
            plugin.load_state(blob).is_err(),
            "accepted a bad {}-byte state",
            blob.len()
        );
        assert_eq!(
            plugin.save_state(),
            good,
            "a rejected load changed the state"
        );
        let notes = [
            TimedEvent::note_on(3, 2, 64, 1.0),
            TimedEvent::note_off(40, 2, 64, 0.0),
        ];
        assert_eq!(
            plugin.process(64, &notes, None).events,
            notes,
            "stopped forwarding"
        );
    }
}

#[test]
fn reactivation_at_another_rate_keeps_processing() {
    let mut rng = XorShift::new(5);
    let mut plugin = instance();
    plugin.activate(44_100.0, 1, 512);
    assert!(check_pass_through(&mut plugin, &mut rng, 44_100.0, 50, |rng| rng.range(1, 512)) > 0);

    plugin.deactivate();
    assert!(!plugin.is_active());
    // The state stays reachable while inactive, as hosts save projects at any time.
    let state = plugin.save_state();
    plugin.load_state(&state).expect("reloading its own state");

    plugin.activate(96_000.0, 32, 2048);
    assert!(
        check_pass_through(&mut plugin, &mut rng, 96_000.0, 50, |rng| rng
            .range(32, 2048))
            > 0
    );
    plugin.reset();
    assert!(
        check_pass_through(&mut plugin, &mut rng, 96_000.0, 50, |rng| rng
            .range(32, 2048))
            > 0
    );

    // A parameter event is still honoured after the restarts.
    let enabled = plugin.param_id("Enabled");
    let input = [
        TimedEvent::param(0, enabled, 0.0),
        TimedEvent::note_on(5, 0, 60, 1.0),
    ];
    let output = plugin.process(32, &input, None);
    assert!(
        output
            .events
            .iter()
            .all(|e| !matches!(e.event, Event::NoteOn(_)))
    );
}
