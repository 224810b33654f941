//! Whether the engine's worker keeps its steps ready when it must share its CPU core: 16 steps
//! per quarter at 300 BPM (80 steps a second) for 10 simulated minutes (48,000 steps), the
//! worker pinned to one core with a thread that spins there without pause, and a simulated audio
//! thread on another core that drives the engine as the plugin's `schedule()` does, one
//! 512-sample block at 48 kHz at a time, in real time. A step is *late* when its token has not
//! arrived by the block that plays it (`EngineHandle::token_at` is `None`; the plugin then plays
//! HOLD). The player plays a short phrase every two bars and the parameters change every eight,
//! which make the worker roll back and regenerate. A baseline run without the busy thread comes
//! first, in the same invocation.
//!
//! ```text
//! cargo bench --bench stress                        # 10 simulated minutes, real time (twice)
//! cargo bench --bench stress -- --minutes 1 --speed 4
//! CANTUS_STRESS_MINUTES=1 CANTUS_STRESS_SPEED=16 cargo xtask bench
//! ```
//!
//! Options (or the environment variables in brackets): `--minutes M` simulated minutes per run
//! [CANTUS_STRESS_MINUTES], default 10; `--speed S` runs S times faster than real time, which
//! gives the worker S times less time per step [CANTUS_STRESS_SPEED], default 1; `--lookahead N`
//! steps kept ready [CANTUS_STRESS_LOOKAHEAD], default 8 (the plugin's default);
//! `--no-baseline` skips the run without the busy thread. The issue's bar: 0 late steps at
//! speed 1. Under `cargo test --benches` (no `--bench` argument) it runs 3 simulated seconds.

use candle_core::Device;
use cantus::engine::clock::{BlockTiming, Clock};
use cantus::engine::messages::{MAX_LOOKAHEAD, Params, PlayerNote};
use cantus::engine::worker::Engine;
use cantus::model::Model;
use cantus::music::grid::StepGrid;
use cantus::music::melody::MelodyEvent;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const SAMPLE_RATE: f64 = 48_000.0;
const BLOCK: u32 = 512;
const TEMPO: f64 = 300.0;
const STEPS_PER_QUARTER: u32 = 16;
/// Samples a step lasts: 48 000 · 60 / (300 · 16).
const SAMPLES_PER_STEP: u64 = 600;
/// Steps in a 4/4 bar on this grid.
const BAR: u64 = 4 * STEPS_PER_QUARTER as u64;
/// Messages each way, as in the plugin.
const QUEUE_CAPACITY: usize = 1024;

struct Options {
    minutes: f64,
    speed: f64,
    lookahead: u32,
    baseline: bool,
}

fn usage(error: &str) -> ! {
    eprintln!(
        "stress: {error}\nusage: cargo bench --bench stress -- [--minutes M] [--speed S] \
         [--lookahead N] [--no-baseline]"
    );
    std::process::exit(2)
}

fn options() -> Options {
    let number = |name: &str, text: &str| -> f64 {
        match text.parse::<f64>() {
            Ok(value) if value > 0.0 && value.is_finite() => value,
            _ => usage(&format!("{name} wants a positive number, not {text:?}")),
        }
    };
    let env = |name: &str| std::env::var(name).ok();
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let mut options = Options {
        minutes: env("CANTUS_STRESS_MINUTES").map_or(if benchmarking { 10.0 } else { 0.05 }, |v| {
            number("CANTUS_STRESS_MINUTES", &v)
        }),
        speed: env("CANTUS_STRESS_SPEED").map_or(1.0, |v| number("CANTUS_STRESS_SPEED", &v)),
        lookahead: env("CANTUS_STRESS_LOOKAHEAD")
            .map_or(8.0, |v| number("CANTUS_STRESS_LOOKAHEAD", &v)) as u32,
        baseline: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{arg} wants a value")))
        };
        match arg.as_str() {
            "--minutes" => options.minutes = number("--minutes", &value()),
            "--speed" => options.speed = number("--speed", &value()),
            "--lookahead" => options.lookahead = number("--lookahead", &value()) as u32,
            "--no-baseline" => options.baseline = false,
            // What cargo passes to every benchmark.
            "--bench" => {}
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    if !(1..=MAX_LOOKAHEAD).contains(&options.lookahead) {
        usage(&format!("the lookahead must be 1..={MAX_LOOKAHEAD}"));
    }
    options
}

/// The cores this process may run on, from its affinity mask.
fn allowed_cores() -> Vec<usize> {
    // SAFETY: a zeroed `cpu_set_t` is a valid empty set, and the size passed is its own.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect()
    }
}

/// Pins the calling thread to `core`; threads it spawns afterwards inherit that.
fn pin_to(core: usize) {
    // SAFETY: as above; `pid` 0 is the calling thread.
    let result = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set)
    };
    if result != 0 {
        panic!(
            "cannot pin a thread to core {core}: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// A thread pinned to `core` that computes without pause until `stop` is set.
fn busy_thread(core: usize, stop: Arc<AtomicBool>) -> thread::JoinHandle<()> {
    thread::Builder::new()
        .name("busy".into())
        .spawn(move || {
            pin_to(core);
            let mut x = 1u64;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..1000 {
                    x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
                }
            }
        })
        .expect("cannot start the busy thread")
}

/// The plugin's default engine parameters (`CantusParams::default().engine_params()`).
fn plugin_defaults(lookahead: u32) -> Params {
    Params {
        lowest: 48,
        highest: 84,
        lookahead,
        ..Params::default()
    }
}

/// The parameters after the `n`th change: temperature and key alternate, as a player turning
/// knobs would (each change regenerates the lookahead).
fn changed(base: Params, n: u64) -> Params {
    let mut params = base;
    params.sampling.temperature = if n.is_multiple_of(2) { 0.9 } else { 1.1 };
    // A major scale whose tonic moves by fifths.
    let tonic = (n * 7 % 12) as usize;
    params.pitch_classes = [false; 12];
    for degree in [0, 2, 4, 5, 7, 9, 11] {
        params.pitch_classes[(tonic + degree) % 12] = true;
    }
    params
}

/// The player's phrase, every two bars: four eighth notes, each held three quarters of its
/// length, on the step given as an offset into the two bars.
fn player_note(step: u64) -> Option<PlayerNote> {
    const PITCHES: [u8; 4] = [67, 71, 74, 72];
    let at = step % (2 * BAR);
    let (index, within) = ((at / 8) as usize, at % 8);
    if index >= PITCHES.len() {
        return None;
    }
    let pitch = PITCHES[index];
    match within {
        0 => Some(PlayerNote::On { step, pitch }),
        6 => Some(PlayerNote::Off { step, pitch }),
        _ => None,
    }
}

#[derive(Default)]
struct Report {
    steps: u64,
    late: u64,
    first_late: Option<u64>,
    /// The margin: the fewest steps a block found ready beyond those it played (negative when
    /// some of its steps were late).
    min_spare: Option<i64>,
    /// Blocks that found no step ready beyond those they played.
    no_spare: u64,
    model_notes: u64,
    player_notes: u64,
    param_changes: u64,
    queue_full: u64,
    /// How late the simulated audio thread woke for a block, at worst, and how many blocks it
    /// started more than half a block period late.
    worst_wake: Duration,
    slow_wakes: u64,
    wall: Duration,
}

/// One run: an engine with the default `folk` model, its worker (and the busy thread, if any)
/// on `worker_core`, the simulated audio thread on `audio_core`.
fn run(
    model: &Model,
    options: &Options,
    busy: bool,
    (worker_core, audio_core): (usize, usize),
) -> Report {
    let base = plugin_defaults(options.lookahead);
    pin_to(worker_core);
    let (mut engine, worker) =
        Engine::spawn(model, base, QUEUE_CAPACITY).expect("the engine starts");
    let stop = Arc::new(AtomicBool::new(false));
    let busy = busy.then(|| busy_thread(worker_core, stop.clone()));
    pin_to(audio_core);

    // As when a user presses play some time after loading: the first take is ready.
    let deadline = Instant::now() + Duration::from_secs(10);
    while (0..u64::from(options.lookahead)).any(|s| engine.token_at(s).is_none()) {
        assert!(
            Instant::now() < deadline,
            "the worker did not prepare its first take within 10 s"
        );
        thread::sleep(Duration::from_millis(1));
    }

    let grid = StepGrid::new(STEPS_PER_QUARTER);
    let mut clock = Clock::new(grid);
    let samples = (options.minutes * 60.0 * SAMPLE_RATE).round() as u64;
    let blocks = samples.div_ceil(u64::from(BLOCK));
    let period = Duration::from_secs_f64(f64::from(BLOCK) / SAMPLE_RATE / options.speed);
    let quarters_per_block = f64::from(BLOCK) * TEMPO / (60.0 * SAMPLE_RATE);
    let mut report = Report::default();
    let mut params = base;
    let mut sent = base;
    let mut changes = 0;
    let start = Instant::now();
    for block in 0..blocks {
        let due = start + period.mul_f64(block as f64);
        let now = Instant::now();
        if now < due {
            thread::sleep(due - now);
        }
        let woke = Instant::now().saturating_duration_since(due);
        report.worst_wake = report.worst_wake.max(woke);
        report.slow_wakes += u64::from(woke > period / 2);

        // Knobs turn every eight bars (at the block where a new bar starts).
        let next = clock.next_step();
        if next > 0 && next / (8 * BAR) > changes {
            changes = next / (8 * BAR);
            params = changed(base, changes);
            report.param_changes += 1;
        }
        // Pushed when changed, as the plugin does; a full queue retries next block.
        if sent != params {
            match engine.push_params(params) {
                Ok(()) => sent = params,
                Err(_) => report.queue_full += 1,
            }
        }
        let timing = BlockTiming::new(SAMPLE_RATE, BLOCK, TEMPO, block as f64 * quarters_per_block);
        // What is ready when the block starts, before it plays anything.
        let playhead = clock.next_step();
        let ready = (0..MAX_LOOKAHEAD)
            .take_while(|&k| engine.token_at(playhead + u64::from(k)).is_some())
            .count() as i64;
        let plan = clock.advance(timing);
        let needed = plan.steps.indices();
        let spare = ready - (needed.end - needed.start) as i64;
        if block > 0 {
            report.min_spare = Some(report.min_spare.map_or(spare, |m| m.min(spare)));
            report.no_spare += u64::from(spare <= 0);
        }
        for event in plan.events {
            if engine.push_transport(event).is_err() {
                report.queue_full += 1;
            }
        }
        for scheduled in plan.steps {
            let step = scheduled.step;
            if step * SAMPLES_PER_STEP >= samples {
                break;
            }
            if engine.token_at(step).is_none() {
                report.late += 1;
                report.first_late.get_or_insert(step);
            }
            let token = engine.play_step(step);
            report.steps += 1;
            if matches!(MelodyEvent::from_token(token), Some(MelodyEvent::NoteOn(_))) {
                report.model_notes += 1;
            }
            // The player's note lands on the step just played, as a key pressed a little after
            // a boundary does: the worker rolls back to a step it has already sent.
            if let Some(note) = player_note(step) {
                if engine.push_note(note).is_err() {
                    report.queue_full += 1;
                }
                report.player_notes += 1;
            }
        }
    }
    report.wall = start.elapsed();

    stop.store(true, Ordering::Relaxed);
    drop(engine);
    worker.join().expect("the worker panicked");
    if let Some(busy) = busy {
        busy.join().expect("the busy thread panicked");
    }
    report
}

fn print(name: &str, r: &Report, speed: f64) {
    // One step lasts 60 / (300 · 16) s = 12.5 ms of music; at speed S, 12.5 / S ms of wall time.
    let step_ms = 60_000.0 / (TEMPO * f64::from(STEPS_PER_QUARTER));
    let spare = r.min_spare.unwrap_or(0);
    println!(
        "  {name:<24} {:>6} {:>5} {:>10} {:>10} {:>11.2} {:>10} {:>11.2} {:>6.1}",
        r.steps,
        r.late,
        r.first_late.map_or("-".to_string(), |s| s.to_string()),
        spare,
        spare as f64 * step_ms / speed,
        r.no_spare,
        r.worst_wake.as_secs_f64() * 1e3,
        r.wall.as_secs_f64(),
    );
}

fn main() {
    let options = options();
    let model = Model::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("models/folk"),
        &Device::Cpu,
    )
    .expect("the default model models/folk loads");
    let cores = allowed_cores();
    let (worker_core, audio_core) = match cores.as_slice() {
        [a, b, ..] => (*a, *b),
        [a] => {
            eprintln!("stress: only core {a} is available: the audio thread shares it too");
            (*a, *a)
        }
        [] => panic!("cannot read this process's CPU affinity"),
    };
    let steps = (options.minutes * 60.0 * TEMPO / 60.0 * f64::from(STEPS_PER_QUARTER)).round();
    println!(
        "stress: {STEPS_PER_QUARTER} steps a quarter at {TEMPO} BPM, {} simulated minutes \
         ({steps} steps) per run at {}× real time ({:.0} s of wall time each), lookahead {}, \
         {BLOCK}-sample blocks at 48 kHz; worker on core {worker_core}, audio thread on core \
         {audio_core}",
        options.minutes,
        options.speed,
        options.minutes * 60.0 / options.speed,
        options.lookahead
    );
    let mut runs = Vec::new();
    if options.baseline {
        runs.push(("baseline (core alone)", false));
    }
    runs.push(("busy thread on its core", true));
    let reports: Vec<(&str, Report)> = runs
        .into_iter()
        .map(|(name, busy)| (name, run(&model, &options, busy, (worker_core, audio_core))))
        .collect();
    println!(
        "  {:<24} {:>6} {:>5} {:>10} {:>10} {:>11} {:>10} {:>11} {:>6}",
        "run",
        "steps",
        "late",
        "first late",
        "min spare",
        "(wall ms)",
        "no spare",
        "worst wake",
        "wall s"
    );
    for (name, report) in &reports {
        print(name, report, options.speed);
    }
    for (name, r) in &reports {
        println!(
            "  {name}: {} model note-ons, {} player note events, {} parameter changes, {} \
             pushes refused (queue full), {} blocks started over half a period late",
            r.model_notes, r.player_notes, r.param_changes, r.queue_full, r.slow_wakes
        );
    }
    let stressed = &reports.last().expect("one run at least").1;
    println!(
        "  min spare: the fewest steps a block found ready beyond those it played (and that in \
         wall time at this speed); no spare: blocks that found none; worst wake: the simulated \
         audio thread's worst delay (ms) past a block's due time.\n  Late steps with the busy \
         thread at {}× real time: {} (the issue asks for 0 at 1×{})",
        options.speed,
        stressed.late,
        match (options.speed == 1.0, stressed.late == 0) {
            (true, true) => ": met",
            (true, false) => ": NOT met",
            _ => "",
        }
    );
}
