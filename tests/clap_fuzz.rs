//! The bundled CLAP plugin fuzzed the way clap-validator exercises plugins: random parameter
//! values (in range, out of range, non-finite) as in-block events and through `params.flush`;
//! random transports (tempo changes and ramps, jumps, loops, pre-roll, stop/start, missing
//! fields or no transport at all, time signatures); random notes (edge keys and channels, note ids
//! and the -1 wildcard, note-offs without note-ons, doubled note-ons); every sample rate and
//! block size with deactivation, reactivation and resets in between; state round trips and
//! malformed state blobs.
//!
//! Invariants checked after every block: audio finite and within ±[`AUDIO_BOUND`]; output events
//! sorted and inside the block, notes on valid channels and keys; every parameter's value finite,
//! in its range and what was last set (clamped, non-finite values ignored). At the end of each run
//! (defaults restored, held keys released, transport stopped) no note may still sound on the
//! output, tracked per (channel, key) across deactivations.
//!
//! Seeds are fixed; `CANTUS_FUZZ_SEED=<n>` runs one seed instead (failures print theirs).
//! Needs `target/bundled/cantus.clap`: `cargo xtask test` builds it before running the tests.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use clack_host::events::event_types::{
    NoteOffEvent, NoteOnEvent, ParamValueEvent, TransportEvent, TransportFlags,
};
use clack_host::events::{EventFlags, Match, Pckn};
use clack_host::prelude::*;
use clack_host::utils::FixedPoint;
use common::clap_host::{
    Event, Instance, OUTPUT_CHANNELS, PARAM_IS_STEPPED, ParamInfo, ProcessOutput, TimedEvent,
    TransportInfo,
};
use common::{XorShift, instance};

const SEEDS: [u64; 3] = [1, 0x00C0_FFEE, 0xDEAD_BEEF];
/// How many of [`SEEDS`] the slowest test (every rate and block size) runs.
const RATE_SEEDS: usize = 2;
const SAMPLE_RATES: [f64; 5] = [22_050.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0];
/// The fixed block sizes every rate is run with; a random size within the activated range too.
const BLOCK_SIZES: [u32; 5] = [1, 2, 17, 512, 4096];
const MAX_BLOCK: u32 = 4096;
/// The loudest sample allowed: full scale.
const AUDIO_BOUND: f32 = 1.0;
/// How far a read-back value may be from the one set, as a fraction of the range (continuous
/// parameters snap to their step size).
const VALUE_TOLERANCE: f64 = 0.01;

fn seeds() -> Vec<u64> {
    match std::env::var("CANTUS_FUZZ_SEED") {
        Ok(seed) => {
            let seed = seed.trim();
            let parsed = match seed.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => seed.parse(),
            };
            vec![parsed.unwrap_or_else(|_| panic!("CANTUS_FUZZ_SEED={seed:?} is not a number"))]
        }
        Err(_) => SEEDS.to_vec(),
    }
}

fn unit(rng: &mut XorShift) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn chance(rng: &mut XorShift, percent: u32) -> bool {
    rng.range(0, 99) < percent
}

fn pick<T: Copy>(rng: &mut XorShift, items: &[T]) -> T {
    items[rng.range(0, items.len() as u32 - 1) as usize]
}

/// A random in-range value: an integer for stepped parameters, any real otherwise.
fn in_range_value(rng: &mut XorShift, param: &ParamInfo) -> f64 {
    if param.flags & PARAM_IS_STEPPED != 0 {
        let (min, max) = (param.min.round() as i64, param.max.round() as i64);
        (min + (rng.next_u64() % (max - min + 1) as u64) as i64) as f64
    } else {
        param.min + unit(rng) * (param.max - param.min)
    }
}

/// A value a well-behaved host never sends: out of range, huge, or not finite.
fn wild_value(rng: &mut XorShift, param: &ParamInfo) -> f64 {
    pick(
        rng,
        &[
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN,
            param.min - 1.0,
            param.max + 1.0,
            param.max + 0.5,
            param.min - 1e9,
            param.max + 1e9,
            -0.0,
        ],
    )
}

/// What the plugin should hold after being sent `value`: clamped, or unchanged if not finite.
fn applied(param: &ParamInfo, current: f64, value: f64) -> f64 {
    if value.is_finite() {
        value.clamp(param.min, param.max)
    } else {
        current
    }
}

/// One input event, built as raw CLAP events so note ids and wildcards can be sent.
#[derive(Clone, Copy, Debug)]
enum Input {
    On {
        channel: u8,
        key: u8,
        note_id: Option<u32>,
        velocity: f64,
    },
    Off {
        channel: u8,
        key: u8,
        note_id: Option<u32>,
        velocity: f64,
    },
    Param {
        index: usize,
        value: f64,
    },
}

/// The host's transport, as the fuzzer drives it.
#[derive(Clone, Copy, Debug)]
struct Song {
    playing: bool,
    tempo: f64,
    /// Tempo change per sample (CLAP's `tempo_inc`).
    tempo_inc: f64,
    time_signature: (u16, u16),
    beats: f64,
    /// The active loop, in beats.
    looped: Option<(f64, f64)>,
    /// The flags the host leaves out (e.g. no tempo while loading).
    missing: TransportFlags,
    /// No transport event at all (some hosts, offline renders).
    absent: bool,
}

impl Song {
    fn new() -> Self {
        Self {
            playing: true,
            tempo: 120.0,
            tempo_inc: 0.0,
            time_signature: (4, 4),
            beats: 0.0,
            looped: None,
            missing: TransportFlags::empty(),
            absent: false,
        }
    }

    fn to_event(self) -> TransportEvent {
        let (numerator, denominator) = self.time_signature;
        let beats_per_bar = f64::from(numerator) * 4.0 / f64::from(denominator);
        let bar = (self.beats / beats_per_bar).floor();
        let seconds = |beats: f64| beats * 60.0 / self.tempo.max(1.0);
        let mut flags = TransportFlags::HAS_TEMPO
            | TransportFlags::HAS_BEATS_TIMELINE
            | TransportFlags::HAS_SECONDS_TIMELINE
            | TransportFlags::HAS_TIME_SIGNATURE;
        flags.set(TransportFlags::IS_PLAYING, self.playing);
        flags.set(TransportFlags::IS_LOOP_ACTIVE, self.looped.is_some());
        flags.remove(self.missing);
        let (loop_start, loop_end) = self.looped.unwrap_or((0.0, 0.0));
        TransportEvent {
            header: EventHeader::new_core(0, EventFlags::empty()),
            flags,
            song_pos_beats: FixedPoint::from_float(self.beats),
            song_pos_seconds: FixedPoint::from_float(seconds(self.beats)),
            tempo: self.tempo,
            tempo_inc: self.tempo_inc,
            loop_start_beats: FixedPoint::from_float(loop_start),
            loop_end_beats: FixedPoint::from_float(loop_end),
            loop_start_seconds: FixedPoint::from_float(seconds(loop_start)),
            loop_end_seconds: FixedPoint::from_float(seconds(loop_end)),
            bar_start: FixedPoint::from_float(bar * beats_per_bar),
            bar_number: bar as i32,
            time_signature_numerator: numerator,
            time_signature_denominator: denominator,
        }
    }

    /// The song `frames` later, as a host computes the next block: ramped tempo, wrapped loop.
    fn advance(&mut self, frames: u32, sample_rate: f64) {
        if !self.playing {
            return;
        }
        self.beats += f64::from(frames) / sample_rate * self.tempo / 60.0;
        self.tempo = (self.tempo + self.tempo_inc * f64::from(frames)).clamp(1.0, 999.0);
        if let Some((start, end)) = self.looped
            && self.beats >= end
        {
            self.beats = start + (self.beats - end) % (end - start);
        }
    }

    /// One random change, as a user or an automation lane makes it.
    fn mutate(&mut self, rng: &mut XorShift) {
        match rng.range(0, 9) {
            0 => self.playing = !self.playing,
            1 => self.tempo = pick(rng, &[1.0, 20.0, 60.0, 97.3, 120.0, 174.0, 300.0, 999.0]),
            2 => self.tempo_inc = pick(rng, &[0.0, 0.0, 1e-4, -1e-4, 1e-2]),
            3 => {
                self.beats = pick(rng, &[0.0, -4.0, -0.3, 7.25, 1e3, 1e8]) + unit(rng);
                self.looped = None;
            }
            4 => self.beats = (self.beats - unit(rng) * 8.0).max(0.0), // back a little
            5 => {
                let start = self.beats.max(0.0).floor();
                self.looped = match self.looped {
                    Some(_) => None,
                    None => Some((start, start + f64::from(rng.range(1, 16)) / 4.0)),
                };
            }
            6 => {
                self.time_signature = pick(
                    rng,
                    &[(4, 4), (3, 4), (6, 8), (7, 8), (5, 4), (2, 2), (12, 16)],
                )
            }
            7 => {
                self.missing = pick(
                    rng,
                    &[
                        TransportFlags::empty(),
                        TransportFlags::HAS_TEMPO,
                        TransportFlags::HAS_BEATS_TIMELINE,
                        TransportFlags::HAS_TIME_SIGNATURE,
                        TransportFlags::HAS_TEMPO | TransportFlags::HAS_BEATS_TIMELINE,
                    ],
                )
            }
            8 => self.absent = !self.absent,
            _ => *self = Self::new(),
        }
    }
}

/// One plugin instance under fuzzing, with everything needed to check it and to say where it
/// failed.
struct Fuzz {
    seed: u64,
    rng: XorShift,
    plugin: Instance,
    params: Vec<ParamInfo>,
    /// What each parameter (same order as `params`) should read back.
    expected: Vec<f64>,
    song: Song,
    sample_rate: f64,
    /// The activated `(min, max)` block sizes.
    range: (u32, u32),
    /// Input notes the host holds, released at the end of the run.
    held: BTreeSet<(u8, u8)>,
    /// Output notes sounding, by (channel, key), with where they started.
    sounding: BTreeMap<(u8, u8), String>,
    phase: String,
    block: usize,
    note_ons: usize,
    /// Sleep this fraction of each block's duration, so the debug engine worker keeps up.
    pace: f64,
}

impl Fuzz {
    fn new(seed: u64) -> Self {
        let mut plugin = instance();
        let params = plugin.params();
        assert!(!params.is_empty(), "the plugin lists no parameters");
        let expected = params.iter().map(|p| plugin.param_value(p.id)).collect();
        Self {
            seed,
            rng: XorShift::new(seed),
            plugin,
            params,
            expected,
            song: Song::new(),
            sample_rate: 48_000.0,
            range: (1, MAX_BLOCK),
            held: BTreeSet::new(),
            sounding: BTreeMap::new(),
            phase: "start".into(),
            block: 0,
            note_ons: 0,
            pace: 0.0,
        }
    }

    /// Where we are, for failure messages.
    fn at(&self) -> String {
        format!(
            "seed {:#x} (rerun with CANTUS_FUZZ_SEED={}), {}, block {} at {} Hz",
            self.seed, self.seed, self.phase, self.block, self.sample_rate
        )
    }

    fn phase(&mut self, phase: String) {
        self.phase = phase;
        self.block = 0;
    }

    fn activate(&mut self, sample_rate: f64, min: u32, max: u32) {
        self.sample_rate = sample_rate;
        self.range = (min, max);
        self.plugin.activate(sample_rate, min, max);
    }

    fn deactivate(&mut self) {
        self.plugin.deactivate();
    }

    /// A random block length within the activated range.
    fn random_frames(&mut self) -> u32 {
        let (min, max) = self.range;
        match self.rng.range(0, 3) {
            0 => min,
            1 => max,
            _ => self.rng.range(min, max),
        }
    }

    fn random_param_change(&mut self) -> (usize, f64) {
        let index = self.rng.range(0, self.params.len() as u32 - 1) as usize;
        let param = &self.params[index];
        let value = if chance(&mut self.rng, 80) {
            in_range_value(&mut self.rng, param)
        } else {
            wild_value(&mut self.rng, param)
        };
        (index, value)
    }

    /// Sets a parameter through `params.flush` (inactive) or the next block (active).
    fn set_param(&mut self, index: usize, value: f64) {
        let param = &self.params[index];
        self.expected[index] = applied(param, self.expected[index], value);
        self.plugin.set_param(param.id, value);
    }

    /// Random notes with edge keys, channels and note ids, and parameter changes, sorted.
    fn random_input(&mut self, frames: u32, params: bool) -> Vec<(u32, Input)> {
        let rng = &mut self.rng;
        let mut input = Vec::new();
        // Sparse: every played note costs the debug engine model steps, and a backlog of them
        // makes deactivation wait for the worker.
        let notes = if chance(rng, 40) { rng.range(1, 3) } else { 0 };
        for _ in 0..notes {
            let (any_channel, any_key) = (rng.range(0, 15) as u8, rng.range(0, 127) as u8);
            let channel = pick(rng, &[0, 15, any_channel, any_channel]);
            let key = pick(rng, &[0, 127, any_key, any_key]);
            // `None` is the -1 wildcard.
            let note_id = chance(rng, 50).then(|| rng.range(0, i32::MAX as u32));
            let any_velocity = unit(rng);
            let velocity = pick(rng, &[0.0, 1.0, any_velocity, any_velocity]);
            let on = Input::On {
                channel,
                key,
                note_id,
                velocity,
            };
            let off = Input::Off {
                channel,
                key,
                note_id,
                velocity,
            };
            let time = rng.range(0, frames - 1);
            match rng.range(0, 3) {
                0 => input.push((time, on)),
                1 => input.push((time, off)), // often without a note-on
                // A doubled note-on, at the same time or later.
                2 => input.extend([(time, on), (rng.range(time, frames - 1), on)]),
                _ => input.extend([(time, on), (rng.range(time, frames - 1), off)]),
            }
        }
        if params && chance(&mut self.rng, 40) {
            for _ in 0..self.rng.range(1, 3) {
                let (index, value) = self.random_param_change();
                let time = self.rng.range(0, frames - 1);
                input.push((time, Input::Param { index, value }));
            }
        }
        // Stable: events at the same time keep their order (a note-on before its note-off).
        input.sort_by_key(|&(time, _)| time);
        input
    }

    /// Processes one block of `input`, then checks every invariant.
    fn process(&mut self, frames: u32, input: &[(u32, Input)]) -> ProcessOutput {
        let mut buffer = EventBuffer::with_capacity(input.len());
        for &(time, event) in input {
            let pckn = |channel: u8, key: u8, note_id: Option<u32>| {
                let note_id = note_id.map_or(Match::All, Match::Specific);
                Pckn::new(0u16, channel, key, note_id)
            };
            match event {
                Input::On {
                    channel,
                    key,
                    note_id,
                    velocity,
                } => {
                    buffer.push(&NoteOnEvent::new(
                        time,
                        pckn(channel, key, note_id),
                        velocity,
                    ));
                    self.held.insert((channel, key));
                }
                Input::Off {
                    channel,
                    key,
                    note_id,
                    velocity,
                } => {
                    buffer.push(&NoteOffEvent::new(
                        time,
                        pckn(channel, key, note_id),
                        velocity,
                    ));
                    self.held.remove(&(channel, key));
                }
                Input::Param { index, value } => {
                    let param = &self.params[index];
                    let id = ClapId::new(param.id);
                    buffer.push(&ParamValueEvent::new(time, id, Pckn::match_all(), value));
                    self.expected[index] = applied(param, self.expected[index], value);
                }
            }
        }
        let transport = (!self.song.absent).then(|| self.song.to_event());
        let output = self.plugin.process_raw(frames, &buffer, transport.as_ref());
        self.check_block(&output, frames, input);
        self.check_params();
        self.song.advance(frames, self.sample_rate);
        self.block += 1;
        if self.pace > 0.0 {
            let seconds = f64::from(frames) / self.sample_rate * self.pace;
            std::thread::sleep(Duration::from_secs_f64(seconds));
        }
        output
    }

    /// One random block: maybe a transport change, random notes and parameter changes.
    fn random_block(&mut self, frames: u32) {
        if chance(&mut self.rng, 5) {
            self.song.mutate(&mut self.rng);
        }
        let input = self.random_input(frames, true);
        self.process(frames, &input);
    }

    fn check_block(&mut self, output: &ProcessOutput, frames: u32, input: &[(u32, Input)]) {
        let at = self.at();
        assert_eq!(output.audio.len(), OUTPUT_CHANNELS, "{at}");
        for (channel, samples) in output.audio.iter().enumerate() {
            assert_eq!(samples.len(), frames as usize, "{at}");
            if let Some((i, x)) = samples
                .iter()
                .enumerate()
                .find(|(_, x)| !x.is_finite() || x.abs() > AUDIO_BOUND)
            {
                panic!("{at}: channel {channel} sample {i} of {frames} is {x}");
            }
        }
        let events = &output.events;
        assert!(
            events.is_sorted_by_key(|e| e.time),
            "{at}: output events out of time order: {events:?}"
        );
        if let Some(late) = events.iter().find(|e| e.time >= frames) {
            panic!("{at}: {late:?} lies past the {frames}-frame block");
        }
        for event in events {
            match event.event {
                Event::NoteOn(note) | Event::NoteOff(note) => {
                    assert!(
                        note.channel < 16 && note.key < 128,
                        "{at}: {event:?} is off the MIDI range"
                    );
                    assert!(
                        (0.0..=1.0).contains(&note.velocity),
                        "{at}: {event:?} has a velocity outside 0..=1"
                    );
                    if matches!(event.event, Event::NoteOn(_)) {
                        let started = format!("{at}, sample {}", event.time);
                        self.sounding.insert((note.channel, note.key), started);
                        self.note_ons += 1;
                    } else {
                        self.sounding.remove(&(note.channel, note.key));
                    }
                }
                // Note events whose channel or key the harness cannot decode (wildcards, or
                // values past 255): the test never sends such.
                Event::Other { type_id: 0 | 1 } => {
                    panic!("{at}: a note event without a valid channel and key; input {input:?}")
                }
                _ => {}
            }
        }
    }

    /// Every parameter reads back finite, in range, on its steps, and as last set.
    fn check_params(&mut self) {
        for (param, &expected) in self.params.iter().zip(&self.expected) {
            let value = self.plugin.param_value(param.id);
            let at = || {
                format!(
                    "{}: parameter {:?} (id {})",
                    self.at(),
                    param.name,
                    param.id
                )
            };
            assert!(
                value.is_finite() && (param.min..=param.max).contains(&value),
                "{}: reads {value}, outside {}..={}",
                at(),
                param.min,
                param.max
            );
            if param.flags & PARAM_IS_STEPPED != 0 {
                assert!(
                    (value - value.round()).abs() < 1e-3,
                    "{}: stepped, yet reads {value}",
                    at()
                );
            }
            let tolerance = VALUE_TOLERANCE * (param.max - param.min) + 1e-9;
            assert!(
                (value - expected).abs() <= tolerance,
                "{}: reads {value}, expected {expected}",
                at()
            );
        }
    }

    /// Ends a run as a host stopping playback: parameters back to their defaults (in one
    /// block), held keys released, the transport stopped; then no output note may sound.
    fn finish(&mut self) {
        self.phase(format!("{} (finish)", self.phase));
        let frames = self.range.1.min(512).max(self.range.0);
        if !self.plugin.is_active() {
            self.activate(self.sample_rate, self.range.0, self.range.1);
        }
        let mut input: Vec<(u32, Input)> = (0..self.params.len())
            .map(|index| {
                let value = self.params[index].default;
                (0, Input::Param { index, value })
            })
            .collect();
        input.extend(self.held.iter().map(|&(channel, key)| {
            let off = Input::Off {
                channel,
                key,
                note_id: None,
                velocity: 0.0,
            };
            (0, off)
        }));
        self.song = Song {
            playing: false,
            ..Song::new()
        };
        self.process(frames, &input);
        for _ in 0..3 {
            self.process(frames, &[]);
        }
        assert!(
            self.sounding.is_empty(),
            "{}: still sounding after the stop, by (channel, key) with where each started: {:?}",
            self.at(),
            self.sounding
        );
    }
}

/// Parameters set to random in-range, out-of-range and non-finite values, through
/// `params.flush` while inactive and as in-block events while active, read back after each.
#[test]
fn parameters_stay_in_range_whatever_the_host_sends() {
    for seed in seeds() {
        let mut fuzz = Fuzz::new(seed);
        for param in &fuzz.params {
            assert!(
                param.min.is_finite() && param.max.is_finite() && param.min < param.max,
                "seed {seed:#x}: parameter {param:?} has a bad range"
            );
            assert!(
                (param.min..=param.max).contains(&param.default),
                "seed {seed:#x}: parameter {param:?} has its default out of range"
            );
        }
        fuzz.check_params();

        for round in 0..3 {
            fuzz.phase(format!("flush round {round}"));
            for _ in 0..100 {
                let (index, value) = fuzz.random_param_change();
                fuzz.set_param(index, value);
                fuzz.check_params();
                fuzz.block += 1;
            }
            // Every parameter at every edge, and some values at once.
            for index in 0..fuzz.params.len() {
                let param = fuzz.params[index].clone();
                for value in [
                    param.min,
                    param.max,
                    f64::NAN,
                    param.max + 1.0,
                    param.default,
                ] {
                    fuzz.set_param(index, value);
                    fuzz.check_params();
                }
            }

            fuzz.phase(format!("event round {round}"));
            fuzz.activate(48_000.0, 1, 1024);
            for _ in 0..150 {
                let frames = fuzz.random_frames();
                // Parameters only: many at once, some at the same time.
                let mut input = Vec::new();
                for _ in 0..fuzz.rng.range(0, 8) {
                    let (index, value) = fuzz.random_param_change();
                    let any = fuzz.rng.range(0, frames - 1);
                    let time = pick(&mut fuzz.rng, &[0, frames - 1, any, any]);
                    input.push((time, Input::Param { index, value }));
                }
                input.sort_by_key(|&(time, _)| time);
                fuzz.process(frames, &input);
            }
            // Through the harness's queue (the next block's events), as a host's knob does.
            for _ in 0..20 {
                let (index, value) = fuzz.random_param_change();
                fuzz.set_param(index, value);
                fuzz.process(64, &[]);
            }
            fuzz.deactivate();
        }
        fuzz.finish();
    }
}

/// Random transports, notes and parameter changes at 48 kHz in random block sizes, with resets,
/// paced so the engine plays.
#[test]
fn transport_notes_and_parameters_keep_every_invariant() {
    for seed in seeds() {
        let mut fuzz = Fuzz::new(seed);
        fuzz.pace = 0.2;
        fuzz.activate(48_000.0, 1, MAX_BLOCK);
        for run in 0..3 {
            fuzz.phase(format!("run {run}"));
            fuzz.song = Song::new();
            for _ in 0..100 {
                let frames = fuzz.random_frames();
                if chance(&mut fuzz.rng, 2) {
                    fuzz.plugin.reset();
                }
                fuzz.random_block(frames);
            }
            fuzz.finish();
        }
        eprintln!("seed {seed:#x}: {} note-ons on the output", fuzz.note_ons);
        assert!(
            fuzz.note_ons > 0,
            "{}: no note reached the output",
            fuzz.at()
        );
    }
}

/// Every sample rate, with every block size and random ones, deactivated and reactivated
/// between rates (sometimes mid-note), reset between block sizes, parameters flushed while
/// inactive.
#[test]
fn every_rate_and_block_size_with_reactivation_and_reset() {
    for seed in seeds().into_iter().take(RATE_SEEDS) {
        let mut fuzz = Fuzz::new(seed);
        fuzz.pace = 0.05;
        for sample_rate in SAMPLE_RATES {
            for _ in 0..fuzz.rng.range(0, 2) {
                let (index, value) = fuzz.random_param_change();
                fuzz.set_param(index, value);
            }
            fuzz.activate(sample_rate, 1, MAX_BLOCK);
            for size in BLOCK_SIZES.map(Some).into_iter().chain([None]) {
                let name = size.map_or("random".into(), |size| size.to_string());
                fuzz.phase(format!("{name}-frame blocks"));
                // Many tiny blocks (each covers little time), few long ones (each costs the
                // debug engine many steps, which a deactivation then waits for).
                let blocks = match size {
                    None => 24,
                    Some(1..32) => 200,
                    Some(_) => 12,
                };
                for _ in 0..blocks {
                    let frames = match size {
                        Some(size) => size,
                        None => fuzz.random_frames(),
                    };
                    fuzz.random_block(frames);
                }
                if chance(&mut fuzz.rng, 50) {
                    fuzz.plugin.reset();
                }
            }
            // Deactivated without stopping first: a sounding note must end after reactivation.
            fuzz.deactivate();
            // A fixed block size, as some hosts promise.
            let fixed = pick(&mut fuzz.rng, &BLOCK_SIZES);
            fuzz.activate(sample_rate, fixed, fixed);
            fuzz.phase(format!("fixed {fixed}-frame blocks"));
            for _ in 0..(if fixed < 32 { 100 } else { 20 }) {
                fuzz.random_block(fixed);
            }
            fuzz.finish();
            fuzz.deactivate();
        }
    }
}

/// Saving after random parameter changes and loading into another instance round-trips byte for
/// byte; empty, random and truncated blobs are refused and change nothing, active or not.
#[test]
fn state_round_trips_and_bad_blobs_are_refused() {
    for seed in seeds() {
        let mut fuzz = Fuzz::new(seed);
        for round in 0..4 {
            fuzz.phase(format!("state round {round}"));
            for _ in 0..fuzz.params.len() {
                let (index, value) = fuzz.random_param_change();
                fuzz.set_param(index, value);
            }
            let active = round % 2 == 1;
            if active {
                fuzz.activate(44_100.0, 1, 512);
                fuzz.process(256, &[]);
            }
            let saved = fuzz.plugin.save_state();
            let at = fuzz.at();
            assert!(!saved.is_empty(), "{at}: empty state");
            assert_eq!(fuzz.plugin.save_state(), saved, "{at}: two saves differ");

            // Into a fresh instance: same bytes and same values back.
            let mut other = Fuzz::new(seed);
            other
                .plugin
                .load_state(&saved)
                .unwrap_or_else(|e| panic!("{at}: its own state refused: {e}"));
            assert_eq!(
                other.plugin.save_state(),
                saved,
                "{at}: save → load → save differs"
            );
            other.expected.clone_from(&fuzz.expected);
            other.phase(format!("{} (loaded copy)", fuzz.phase));
            other.check_params();
            // And back into itself.
            fuzz.plugin
                .load_state(&saved)
                .expect("reloading its own state");
            fuzz.check_params();

            let noise_len = fuzz.rng.range(9, 4096) as usize;
            let mut blobs = vec![
                Vec::new(),
                fuzz.rng.bytes(1),
                fuzz.rng.bytes(8),
                fuzz.rng.bytes(noise_len),
                // A plausible length prefix, then noise.
                [
                    (saved.len() as u64 - 8).to_le_bytes().to_vec(),
                    fuzz.rng.bytes(saved.len() - 8),
                ]
                .concat(),
                // A length prefix far past the data.
                [u64::MAX.to_le_bytes().to_vec(), saved[8..].to_vec()].concat(),
            ];
            for _ in 0..6 {
                let cut = fuzz.rng.range(0, saved.len() as u32 - 1) as usize;
                blobs.push(saved[..cut].to_vec());
            }
            for blob in &blobs {
                assert!(
                    fuzz.plugin.load_state(blob).is_err(),
                    "{at}: accepted a bad {}-byte state: {:?}",
                    blob.len(),
                    String::from_utf8_lossy(blob)
                );
                fuzz.check_params();
                assert_eq!(
                    fuzz.plugin.save_state(),
                    saved,
                    "{at}: a refused {}-byte state changed the saved one",
                    blob.len()
                );
                if fuzz.plugin.is_active() {
                    let frames = fuzz.random_frames().min(512);
                    let input = fuzz.random_input(frames, false);
                    fuzz.process(frames, &input);
                }
            }
            if active {
                fuzz.finish();
                fuzz.deactivate();
            }
        }
    }
}

/// Applies a block's note events to the set of sounding (channel, key) pairs.
fn track(sounding: &mut BTreeSet<(u8, u8)>, output: &ProcessOutput) {
    for event in &output.events {
        match event.event {
            Event::NoteOn(note) => sounding.insert((note.channel, note.key)),
            Event::NoteOff(note) => sounding.remove(&(note.channel, note.key)),
            _ => continue,
        };
    }
}

/// A key held through *Enabled* going off: its note-on was forwarded, so its note-off must be
/// too (or the plugin must end it itself), or the synth after it hangs.
#[test]
fn disabling_while_a_key_is_held_does_not_leave_it_sounding() {
    let mut plugin = instance();
    let enabled = plugin.param_id("Enabled");
    plugin.activate(48_000.0, 1, 512);
    let mut sounding = BTreeSet::new();
    let blocks = [
        vec![TimedEvent::note_on(0, 1, 60, 1.0)],
        vec![TimedEvent::param(0, enabled, 0.0)],
        vec![TimedEvent::note_off(10, 1, 60, 0.0)],
        vec![TimedEvent::param(0, enabled, 1.0)],
        vec![],
    ];
    for input in &blocks {
        track(&mut sounding, &plugin.process(64, input, None));
    }
    assert!(
        sounding.is_empty(),
        "still sounding after the key was released: {sounding:?}"
    );
}

/// The generated line's note-off goes out on the channel its note-on went out on, whatever the
/// *Output channel* is by then.
#[test]
fn changing_the_output_channel_does_not_leave_the_sounding_note_on() {
    let sample_rate = 48_000.0;
    let mut plugin = instance();
    let channel = plugin.param_id("Output channel");
    plugin.activate(sample_rate, 1, 512);
    let mut transport = TransportInfo::playing(120.0);
    let mut sounding = BTreeSet::new();
    // Play (paced, so the debug engine keeps up) until the generated line sounds a note.
    for _ in 0..2000 {
        track(&mut sounding, &plugin.process(512, &[], Some(&transport)));
        transport = transport.advanced(512, sample_rate);
        if !sounding.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_secs_f64(512.0 / sample_rate));
    }
    assert!(!sounding.is_empty(), "the model played nothing");
    let before = sounding.clone();
    // Output channel 1 → 5, then the transport stops.
    let input = [TimedEvent::param(0, channel, 4.0)];
    track(
        &mut sounding,
        &plugin.process(512, &input, Some(&transport)),
    );
    transport.playing = false;
    for _ in 0..4 {
        track(&mut sounding, &plugin.process(512, &[], Some(&transport)));
    }
    assert!(
        sounding.is_empty(),
        "{before:?} sounded when the channel changed; after the stop {sounding:?} still sound"
    );
}
