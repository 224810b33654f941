//! The cost of the plugin's `process()` per 512-sample block at 48 kHz, through the real CLAP
//! bundle driven by the test host (tests/common/clap_host.rs): transport playing at 120 BPM,
//! the built-in voice silent ("level" at its minimum), the MIDI out on. The target is a median of
//! 2 µs per block or less.
//!
//! It loads the *release* bundle `target/bench/cantus.clap`, which `cargo xtask bench` builds and
//! copies there before running this (target/bundled/ holds the debug test bundle).
//!
//! Blocks are issued at [`SPEED`]× real time, spinning between them outside the timed region,
//! so the engine's worker keeps its steps ready as in a DAW; back to back, the playhead would
//! outrun the worker and every step would be late (a cheaper block than the real one). Only the
//! plugin's `process` call is timed. Baselines in the same run: the timer's own cost, the host
//! loop around the call, and the same loop with the plugin's "enabled" parameter off.
//!
//! `cargo xtask bench` (or, with the bundle in place, `cargo bench --bench process`)

#[path = "../tests/common/mod.rs"]
mod common;

use common::clap_host::{Block, Event, Instance, TestHost, TransportInfo};
use criterion::Criterion;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const SAMPLE_RATE: f64 = 48_000.0;
const FRAMES: u32 = 512;
const TEMPO: f64 = 120.0;
/// How much faster than real time blocks are issued: a block every 53 µs, a sixteenth-note step
/// every 625 µs, which leaves the worker ample time to keep its lookahead full.
const SPEED: f64 = 200.0;
/// The target median per block.
const TARGET: Duration = Duration::from_micros(2);
/// Blocks per measured round; rounds alternate "enabled" on and off to share any drift.
const ROUND: usize = 4_000;
const ROUNDS: usize = 6;

fn bundle() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench/cantus.clap");
    if !path.exists() {
        eprintln!(
            "{} is missing: run `cargo xtask bench`, which builds the release bundle, copies it \
             there and runs the benchmarks (or `cargo xtask bundle cantus --release`, then copy \
             target/bundled/cantus.clap to target/bench/cantus.clap)",
            path.display()
        );
        std::process::exit(2);
    }
    path
}

/// The host's side: one instance, its transport, its reused buffers, and the pace of blocks.
struct Session {
    plugin: Instance,
    block: Block,
    transport: TransportInfo,
    /// The "enabled" parameter's id, off and on values, and whether it is on.
    enabled: (u32, f64, f64),
    on: bool,
    period: Duration,
    next_due: Instant,
}

impl Session {
    fn new(host: &TestHost) -> Self {
        let id = host.plugins()[0].id.clone();
        let mut plugin = host.instantiate(&id);
        let level = plugin.param_by_string_id("level");
        plugin.set_param(level.id, level.min);
        let enabled = plugin.param_by_string_id("enabled");
        plugin.activate(SAMPLE_RATE, FRAMES, FRAMES);
        Session {
            plugin,
            block: Block::new(FRAMES),
            transport: TransportInfo::playing(TEMPO),
            enabled: (enabled.id, enabled.min, enabled.max),
            on: true,
            period: Duration::from_secs_f64(f64::from(FRAMES) / SAMPLE_RATE / SPEED),
            next_due: Instant::now(),
        }
    }

    fn set_enabled(&mut self, on: bool) {
        let (id, off_value, on_value) = self.enabled;
        self.on = on;
        self.plugin
            .set_param(id, if on { on_value } else { off_value });
    }

    /// Waits (spinning, outside the timed region) until the next block is due and runs it.
    fn block(&mut self) -> Duration {
        self.timed_block().0
    }

    /// [`Session::block`], returning the plugin's time and the whole host loop's (the harness,
    /// the plugin and the timer, less the wait).
    fn timed_block(&mut self) -> (Duration, Duration) {
        while Instant::now() < self.next_due {
            std::hint::spin_loop();
        }
        self.next_due += self.period;
        let start = Instant::now();
        let plugin = self
            .plugin
            .process_timed(&mut self.block, Some(&self.transport));
        self.transport = self.transport.advanced(FRAMES, SAMPLE_RATE);
        (plugin, start.elapsed())
    }

    fn note_ons(&self) -> usize {
        self.block
            .events()
            .filter(|e| matches!(e.event, Event::NoteOn(_)))
            .count()
    }

    /// Plays about a second in real time, then `blocks` at speed, and checks that the voice is
    /// silent and, when enabled, that notes came out (the engine's steps are ready).
    fn warm_up(&mut self, blocks: usize) {
        let real_time = Duration::from_secs_f64(f64::from(FRAMES) / SAMPLE_RATE);
        let mut notes = 0;
        for _ in 0..94 {
            self.block();
            notes += self.note_ons();
            std::thread::sleep(real_time);
        }
        self.next_due = Instant::now();
        for _ in 0..blocks {
            self.block();
            notes += self.note_ons();
        }
        assert!(
            notes > 0 || !self.on,
            "no note came out during the warm-up: the engine has no steps ready"
        );
        let audio = self.block.audio();
        assert!(
            audio.iter().flatten().all(|&s| s == 0.0),
            "the voice is not silent with \"level\" at its minimum"
        );
    }
}

fn criterion_blocks(c: &mut Criterion, session: &mut Session) {
    let mut group = c.benchmark_group("process 512 samples at 48 kHz, 120 BPM, voice silent");
    for (name, on) in [("plugin", true), ("plugin, enabled off", false)] {
        session.set_enabled(on);
        session.warm_up(200);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| session.block()).sum())
        });
    }
    group.finish();
    session.set_enabled(true);
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(session: &mut Session) {
    let (mut on, mut off, mut host_loop) = (Vec::new(), Vec::new(), Vec::new());
    let (mut notes, mut steps) = (0, 0.0);
    for round in 0..ROUNDS {
        let enabled = round % 2 == 0;
        session.set_enabled(enabled);
        session.warm_up(100);
        for _ in 0..ROUND {
            let (plugin, whole) = session.timed_block();
            if enabled {
                on.push(plugin);
                host_loop.push(whole);
                notes += session.note_ons();
            } else {
                off.push(plugin);
            }
        }
        if enabled {
            steps += ROUND as f64 * f64::from(FRAMES) / (SAMPLE_RATE * 60.0 / TEMPO / 4.0);
        }
    }
    // The timer alone: an empty timed region, the same `Instant` pair as around the plugin.
    let mut timer: Vec<Duration> = (0..ROUND)
        .map(|_| {
            let start = Instant::now();
            black_box(());
            start.elapsed()
        })
        .collect();
    let timer = median(&mut timer);
    let plugin = median(&mut on);
    let disabled = median(&mut off);
    let (p99, max) = (percentile(&on, 0.99), *on.last().unwrap());
    let host = median(&mut host_loop);
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!(
        "\nSummary: process() per {FRAMES}-sample block at 48 kHz, 120 BPM, voice silent, release \
         bundle; medians of {} blocks each, same run, blocks at {SPEED}× real time:",
        on.len()
    );
    println!(
        "  plugin                {:8.3} µs   p99 {:.3} µs, max {:.3} µs",
        micros(plugin),
        micros(p99),
        micros(max)
    );
    println!(
        "  plugin, enabled off   {:8.3} µs   plugin = {:.2}× it",
        micros(disabled),
        ratio(plugin, disabled)
    );
    println!(
        "  timer (empty region)  {:8.3} µs   plugin = {:.1}× it",
        micros(timer),
        ratio(plugin, timer)
    );
    println!(
        "  host loop per block   {:8.3} µs   (harness + plugin; plugin = {:.2}× it)",
        micros(host),
        ratio(plugin, host)
    );
    println!(
        "  target                {:8.3} µs   plugin = {:.2}× it: {}",
        micros(TARGET),
        ratio(plugin, TARGET),
        if plugin <= TARGET { "met" } else { "NOT met" }
    );
    println!(
        "  note-ons out per 100 steps while measured: {:.1} (0 would mean the engine fell behind)",
        100.0 * notes as f64 / steps
    );
}

fn main() {
    let host = TestHost::load(&bundle());
    let mut session = Session::new(&host);
    session.warm_up(1_000);
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(400))
        .configure_from_args();
    criterion_blocks(&mut criterion, &mut session);
    criterion.final_summary();
    // Criterion's rule: `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // runs each benchmark once as a smoke test, with no summary.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test") {
        summary(&mut session);
    }
}
