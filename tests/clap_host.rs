//! The bundled CLAP plugin, loaded by a real host library (`clack-host`): identity, MIDI
//! thru at every sample rate and block size, the `enabled` switch, state, reactivation, and the
//! embedded model playing in time with the host's transport.
//!
//! Needs `target/bundled/cantus.clap`: `cargo xtask test` builds it before running the tests.

mod common;

use cantus::plugin::Cantus;
use common::clap_host::{
    Event, Instance, OUTPUT_CHANNELS, PARAM_IS_STEPPED, ProcessOutput, TestHost, TimedEvent,
    TransportInfo,
};
use common::{PLUGIN_ID, XorShift, bundled, instance};
use nice_plug::prelude::{ClapFeature, ClapPlugin, Plugin};

const SAMPLE_RATES: [f64; 3] = [44_100.0, 48_000.0, 96_000.0];
const MAX_BLOCK: u32 = 4096;

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
            // Channel 0 carries the generated line; thru is checked on the others.
            let (channel, key) = (rng.range(1, 15) as u8, rng.range(0, 127) as u8);
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
/// forwards exactly its input (same events, offsets and order; the generated line on channel 0
/// aside) in time order. Returns the number of events forwarded, so callers can tell the run was
/// not vacuous.
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
        let thru: Vec<_> = output
            .events
            .iter()
            .filter(|e| channel(e) != Some(GENERATED_CHANNEL))
            .copied()
            .collect();
        assert_eq!(
            thru, input,
            "block {block} ({frames} frames at {sample_rate} Hz)"
        );
        assert!(
            output.events.is_sorted_by_key(|e| e.time),
            "unsorted output in block {block}"
        );
        forwarded += thru.len();
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
    let enabled = params
        .iter()
        .find(|p| p.name == "Enabled")
        .expect("an Enabled parameter");
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
    // Non-default values, so loading has something to restore.
    original.set_param(enabled, 0.0);
    let key = original.param_id("Key");
    let temperature = original.param_id("Temperature");
    original.set_param(key, 5.0);
    original.set_param(temperature, 0.25);
    let saved = original.save_state();
    assert!(!saved.is_empty());

    let mut restored = instance();
    assert_eq!(restored.param_value(enabled), 1.0);
    restored.load_state(&saved).expect("loading a saved state");
    assert_eq!(restored.param_value(enabled), 0.0);
    // nice-plug keeps values as `f32`.
    assert!((restored.param_value(key) - 5.0).abs() < 1e-5);
    // A continuous value snaps to the parameter's 0.01 step.
    assert!((restored.param_value(temperature) - 0.25).abs() < 0.01);
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

/// The channel of the generated line: the "Output channel" parameter's default (1, zero-based 0).
const GENERATED_CHANNEL: u8 = 0;
const TEMPO: f64 = 120.0;

fn channel(event: &TimedEvent) -> Option<u8> {
    match event.event {
        Event::NoteOn(note) | Event::NoteOff(note) => Some(note.channel),
        _ => None,
    }
}

/// A generated event at its absolute sample position from the transport's start.
#[derive(Debug, Clone, Copy)]
struct Placed {
    sample: u64,
    key: u8,
    on: bool,
}

/// Plays `blocks` blocks (no input) from `transport` on, checking that every block's events are
/// sorted, and returns the generated events placed on the timeline and the transport after them.
/// Sleeps `pace` of each block's duration, so the engine's worker (a debug build sharing the CPU)
/// keeps up as it would in real time.
fn play(
    plugin: &mut Instance,
    sample_rate: f64,
    blocks: usize,
    mut transport: TransportInfo,
    mut block_len: impl FnMut() -> u32,
    pace: f64,
) -> (Vec<Placed>, TransportInfo) {
    let mut placed = Vec::new();
    let mut start = (transport.position_beats * 60.0 / TEMPO * sample_rate).round() as u64;
    for block in 0..blocks {
        let frames = block_len();
        let output = plugin.process(frames, &[], Some(&transport));
        assert!(
            output.events.is_sorted_by_key(|e| e.time),
            "unsorted output in block {block}: {:?}",
            output.events
        );
        for (time, note, on) in output.notes() {
            assert_eq!(note.channel, GENERATED_CHANNEL, "{note:?} at {time}");
            placed.push(Placed {
                sample: start + u64::from(time),
                key: note.key,
                on,
            });
        }
        if transport.playing {
            start += u64::from(frames);
        }
        transport = transport.advanced(frames, sample_rate);
        let seconds = f64::from(frames) / sample_rate * pace;
        std::thread::sleep(std::time::Duration::from_secs_f64(seconds));
    }
    (placed, transport)
}

/// Checks that notes never overlap and every note-on is followed by its note-off; returns the
/// number of notes.
fn assert_monophonic_and_closed(events: &[Placed]) -> usize {
    let mut sounding: Option<u8> = None;
    let mut notes = 0;
    for event in events {
        match (event.on, sounding) {
            (true, None) => (sounding, notes) = (Some(event.key), notes + 1),
            (false, Some(key)) if key == event.key => sounding = None,
            _ => panic!("{event:?} while {sounding:?} sounds"),
        }
    }
    assert_eq!(sounding, None, "a note was left sounding");
    notes
}

/// The grid the clock places step `k` on: `ceil(k × samples per step)`, snapped by the clock's
/// 1e-3 sample.
fn assert_on_grid(events: &[Placed], sample_rate: f64) {
    let per_step = sample_rate * 60.0 / TEMPO / 4.0;
    for event in events {
        let k = (event.sample as f64 / per_step).round();
        let grid = (k * per_step - 1e-3).ceil();
        assert!(
            (event.sample as f64 - grid).abs() <= 1.0,
            "{event:?} is off the grid (step {k} at {grid})"
        );
    }
}

fn stop(transport: TransportInfo) -> TransportInfo {
    TransportInfo {
        playing: false,
        ..transport
    }
}

#[test]
fn generated_notes_sit_on_the_grid_and_close_on_stop() {
    let sample_rate = 48_000.0;
    let mut rng = XorShift::new(11);
    let sizes: [&mut dyn FnMut() -> u32; 3] =
        [&mut || 64, &mut || 512, &mut || rng.range(1, MAX_BLOCK)];
    for block_len in sizes {
        let mut plugin = instance();
        plugin.activate(sample_rate, 1, MAX_BLOCK);
        // Stopped: nothing plays, nothing sounds.
        let stopped = stop(TransportInfo::playing(TEMPO));
        let (events, _) = play(&mut plugin, sample_rate, 20, stopped, &mut *block_len, 0.0);
        assert!(events.is_empty(), "played while stopped: {events:?}");

        // Fifteen seconds of playing, then the transport stops.
        let blocks = (15.0 * sample_rate / 512.0) as usize;
        let playing = TransportInfo::playing(TEMPO);
        let (mut events, transport) = play(
            &mut plugin,
            sample_rate,
            blocks,
            playing,
            &mut *block_len,
            0.5,
        );
        assert_on_grid(&events, sample_rate);
        let stop_at = events.last().map(|e| e.sample);
        let (after, _) = play(
            &mut plugin,
            sample_rate,
            20,
            stop(transport),
            &mut *block_len,
            0.0,
        );
        assert!(
            after.iter().all(|e| !e.on),
            "played after the stop: {after:?}"
        );
        assert!(after.len() <= 1, "{after:?}");
        events.extend(after);
        let notes = assert_monophonic_and_closed(&events);
        assert!(
            notes > 0,
            "the model played nothing (last event at {stop_at:?})"
        );
    }
}

#[test]
fn the_model_plays_for_a_minute_at_every_rate() {
    for sample_rate in SAMPLE_RATES {
        let mut plugin = instance();
        plugin.activate(sample_rate, 1, 1024);
        let blocks = (60.0 * sample_rate / 1024.0) as usize;
        let playing = TransportInfo::playing(TEMPO);
        let (mut events, transport) =
            play(&mut plugin, sample_rate, blocks, playing, || 1024, 0.25);
        assert_on_grid(&events, sample_rate);
        let (after, _) = play(&mut plugin, sample_rate, 4, stop(transport), || 1024, 0.0);
        events.extend(after);
        let notes = assert_monophonic_and_closed(&events);
        eprintln!("{notes} notes in a minute at {sample_rate} Hz");
        assert!(
            notes >= 20,
            "only {notes} notes in a minute at {sample_rate} Hz"
        );
    }
}

#[test]
fn reset_and_disabling_end_the_sounding_note() {
    let sample_rate = 48_000.0;
    let mut plugin = instance();
    plugin.activate(sample_rate, 1, 512);
    let enabled = plugin.param_id("Enabled");
    let mut transport = TransportInfo::playing(TEMPO);
    for end in ["reset", "disable"] {
        let mut events = Vec::new();
        // Play until a note sounds, then end it the other way.
        for _ in 0..2000 {
            let played;
            (played, transport) = play(&mut plugin, sample_rate, 1, transport, || 512, 1.0);
            events.extend(played);
            if events.last().is_some_and(|e| e.on) {
                break;
            }
        }
        assert!(events.last().is_some_and(|e| e.on), "no note to end");
        match end {
            "reset" => plugin.reset(),
            _ => plugin.set_param(enabled, 0.0),
        }
        let (after, next) = play(&mut plugin, sample_rate, 1, transport, || 512, 0.0);
        transport = next;
        assert!(
            after.first().is_some_and(|e| !e.on && e.sample % 512 == 0),
            "{end}: {after:?}"
        );
        events.extend(after);
        if end == "disable" {
            let (after, _) = play(&mut plugin, sample_rate, 200, transport, || 512, 0.0);
            assert!(after.is_empty(), "played while disabled: {after:?}");
        }
        assert_monophonic_and_closed(&events);
    }
}

/// Every path through `process` in one run: played notes, in-block parameter changes, the
/// transport starting, jumping, looping back and stopping, disabling and resetting. Under
/// `--features assert_process_allocs` (see Cargo.toml) the plugin aborts on any allocation in it.
#[test]
fn process_survives_every_path() {
    let sample_rate = 44_100.0;
    let mut rng = XorShift::new(77);
    let mut plugin = instance();
    plugin.activate(sample_rate, 1, 1024);
    let [enabled, key, scale, temperature, lookahead] =
        ["Enabled", "Key", "Scale", "Temperature", "Lookahead"].map(|n| plugin.param_id(n));
    let mut transport = TransportInfo::playing(TEMPO);
    for block in 0..600u32 {
        let frames = rng.range(1, 1024);
        let mut input = random_notes(&mut rng, frames);
        match block % 50 {
            5 => input.insert(0, TimedEvent::param(0, key, f64::from(rng.range(0, 11)))),
            10 => input.insert(0, TimedEvent::param(0, scale, f64::from(rng.range(0, 5)))),
            15 => input.insert(0, TimedEvent::param(0, temperature, 0.1)),
            20 => input.insert(0, TimedEvent::param(0, lookahead, 0.5)),
            25 => input.insert(0, TimedEvent::param(0, enabled, 0.0)),
            30 => input.insert(0, TimedEvent::param(0, enabled, 1.0)),
            _ => {}
        }
        match block % 100 {
            40 => transport.position_beats += 7.0, // a jump
            60 => transport.position_beats = 0.0,  // back to the start
            80 => transport.playing = false,
            85 => transport.playing = true,
            95 => plugin.reset(),
            _ => {}
        }
        let output = plugin.process(frames, &input, Some(&transport));
        assert!(output.events.is_sorted_by_key(|e| e.time), "block {block}");
        assert!(output.audio.iter().flatten().all(|s| s.is_finite()));
        transport = transport.advanced(frames, sample_rate);
        std::thread::sleep(std::time::Duration::from_micros(500));
    }
}

#[test]
fn unsynced_it_plays_on_its_own_tempo_and_stops_when_synced_again() {
    let sample_rate = 48_000.0;
    let mut plugin = instance();
    let sync = plugin.param_id("Sync to host");
    plugin.set_param(sync, 0.0);
    plugin.activate(sample_rate, 1, 512);
    // The host's transport is stopped throughout; the free tempo is its default, 120 BPM.
    let stopped = stop(TransportInfo::playing(TEMPO));
    let mut placed = Vec::new();
    let mut sample = 0u64;
    let mut run = |plugin: &mut Instance, input: &[TimedEvent], placed: &mut Vec<Placed>| {
        let output = plugin.process(512, input, Some(&stopped));
        assert!(output.events.is_sorted_by_key(|e| e.time));
        for (time, note, on) in output.notes() {
            placed.push(Placed {
                sample: sample + u64::from(time),
                key: note.key,
                on,
            });
        }
        sample += 512;
        std::thread::sleep(std::time::Duration::from_secs_f64(
            512.0 / sample_rate * 0.5,
        ));
    };
    for _ in 0..(10.0 * sample_rate / 512.0) as usize {
        run(&mut plugin, &[], &mut placed);
    }
    // From the first processed sample on, steps fall every 6000 samples.
    assert_on_grid(&placed, sample_rate);
    let notes = placed.iter().filter(|e| e.on).count();
    assert!(notes > 0, "nothing played in ten seconds");

    // Synced again with the host stopped: the sounding note ends, nothing more plays.
    let before = placed.len();
    run(&mut plugin, &[TimedEvent::param(0, sync, 1.0)], &mut placed);
    for _ in 0..20 {
        run(&mut plugin, &[], &mut placed);
    }
    assert!(
        placed[before..].iter().all(|e| !e.on),
        "{:?}",
        &placed[before..]
    );
    assert_monophonic_and_closed(&placed);
}

/// Narrowing the range to one octave while playing: within one lookahead window (8 steps, the
/// default) of the change, every note the model starts lies in it. Rendered offline, where the
/// window is exact; the worker's own unit test covers the real-time path.
#[test]
fn a_parameter_change_is_heard_within_one_lookahead_window() {
    let sample_rate = 48_000.0;
    let mut plugin = instance();
    assert!(plugin.set_render_offline(true));
    plugin.activate(sample_rate, 1, 512);
    let (lowest, highest) = (
        plugin.param_id("Lowest pitch"),
        plugin.param_id("Highest pitch"),
    );
    let blocks = (6.0 * sample_rate / 512.0) as usize;
    let playing = TransportInfo::playing(TEMPO);
    let (before, transport) = play(&mut plugin, sample_rate, blocks, playing, || 512, 0.0);
    let changed_at = blocks as u64 * 512;
    // nice-plug exposes a stepped parameter to CLAP as its step index: MIDI 60 and 72 are steps
    // 24 and 36 of the 36..=96 range.
    plugin.set_param(lowest, 24.0);
    plugin.set_param(highest, 36.0);
    let (after, transport) = play(&mut plugin, sample_rate, blocks, transport, || 512, 0.0);
    let (end, _) = play(&mut plugin, sample_rate, 4, stop(transport), || 512, 0.0);
    let per_step = sample_rate * 60.0 / TEMPO / 4.0;
    let window = changed_at + (8.0 * per_step) as u64 + 512;
    assert!(
        before.iter().any(|e| e.on),
        "nothing played before the change"
    );
    let late: Vec<_> = after
        .iter()
        .filter(|e| e.on && e.sample >= window)
        .collect();
    assert!(late.len() >= 3, "too few notes after the change: {after:?}");
    assert!(
        late.iter().all(|e| (60..=72).contains(&e.key)),
        "a note outside the new range after the window (change at {changed_at}): {late:?}"
    );
    let mut all = before;
    all.extend(after);
    all.extend(end);
    assert_monophonic_and_closed(&all);
}
