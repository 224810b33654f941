//! The jam's loop: connect, then wake every millisecond to hand the player's messages to the
//! [`Jam`] and play the steps due, until Ctrl-C or a lost port; then end every note, write the
//! recording and disconnect.
//!
//! The loop is the jam's "audio thread": it never waits on the engine (the worker runs on its own
//! thread, as in the plugin) and looks at the ports' health only through a flag that a watcher
//! thread sets, since listing JACK ports is a round trip to the server.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rtrb::RingBuffer;

use crate::engine::harmony::{HarmonyHandle, HarmonySettings, spawn_harmony};
use crate::engine::worker::Engine;
use crate::harmony::live::LiveHarmoniser;
use crate::model::Model;

use super::clock::Timekeeper;
use super::harmony::JamHarmony;
use super::ports::{Backend, Connections, Inbound, Lost, PortError, Watcher};
use super::session::Jam;
use super::settings::JamSettings;

/// How often the loop wakes: a step is sent at most this late (plus the sleep's own slack).
pub const TICK: Duration = Duration::from_millis(1);

/// How often the watcher lists the ports.
const WATCH: Duration = Duration::from_millis(200);

/// How long the last notes-off are given to leave: JACK sends what midir queued at its next
/// period (10.7 ms at 512 frames and 48 kHz; 43 ms at 2048), but midir cannot say when that has
/// happened, and on a loaded machine JACK's process thread can be kept waiting for tens of
/// milliseconds (a 100 ms wait lost two notes-off in a test run with 95 ms stalls). Half a
/// second at the end of a jam costs the player nothing.
const FLUSH: Duration = Duration::from_millis(500);

/// Player messages waiting for the loop: far more than a millisecond's worth.
const INBOUND_CAPACITY: usize = 4096;

/// Engine queue capacity, as in the plugin.
const QUEUE_CAPACITY: usize = 1024;

/// What to jam with.
pub struct JamOptions {
    /// JACK, ALSA, or whichever is there.
    pub backend: Backend,
    pub input: String,
    pub output: String,
    pub settings: JamSettings,
    pub keeper: Timekeeper,
    /// Forward the player's notes to the output.
    pub thru: bool,
    pub record: Option<PathBuf>,
    /// Tempo the recording is written at when the clock gives none.
    pub record_bpm: f64,
}

/// How a jam ended, once it was under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Ctrl-C (or whoever set the stop flag).
    Stopped,
    /// A port or the JACK server went away.
    Lost(String),
}

/// What happened at the end, for the command line to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub ended: Ended,
    /// Steps the engine had not prepared in time (played as HOLD).
    pub late_steps: u64,
    /// The recording written, or why it could not be.
    pub recording: Option<Result<PathBuf, String>>,
}

/// Connects and jams until `stop` is set or a port goes away. `connected` is called once the
/// ports are connected, with their full names. Errors before the jam starts (no server, no such
/// port, a model the engine cannot play) are returned as `Err`.
pub fn run(
    model: &Model,
    options: JamOptions,
    stop: Arc<AtomicBool>,
    connected: impl FnOnce(&str, &str),
) -> Result<Report, String> {
    let (engine, worker) = Engine::spawn(model, options.settings.params, QUEUE_CAPACITY)
        .map_err(|e| format!("cannot play the model: {e}"))?;
    let (producer, mut inbound) = RingBuffer::<Inbound>::new(INBOUND_CAPACITY);
    let mut connections =
        Connections::open(options.backend, &options.input, &options.output, producer)
            .map_err(|e: PortError| e.to_string())?;
    let lost = watch(
        Watcher::new(&connections).map_err(|e| e.to_string())?,
        stop.clone(),
    );

    let mut jam = Jam::new(engine, options.keeper, options.settings, options.thru);
    let harmony_thread = match options.settings.harmony {
        Some(channels) => {
            let (handle, thread) = start_harmony(&options.settings)?;
            jam.harmonise(JamHarmony::new(handle, channels, options.settings.velocity));
            Some(thread)
        }
        None => None,
    };
    if options.record.is_some() {
        jam.record(0);
    }
    connected(&connections.input_name, &connections.output_name);
    let start = Instant::now();
    let seconds = |at: Instant| at.saturating_duration_since(start).as_secs_f64();
    let mut failed_send = None;
    while !stop.load(Ordering::Acquire) {
        while let Ok(message) = inbound.pop() {
            if let Err(e) = jam.inbound(message.message(), seconds(message.at), connections.sink())
            {
                failed_send.get_or_insert(e);
            }
        }
        if let Err(e) = jam.tick(seconds(Instant::now()), connections.sink()) {
            failed_send.get_or_insert(e);
        }
        if failed_send.is_some() {
            break;
        }
        thread::sleep(TICK);
    }
    let end = seconds(Instant::now());

    // Why it ended: a lost port (the watcher may have seen it first), else Ctrl-C.
    let loss = lost.lock().ok().and_then(|l| l.clone());
    let output_alive = loss.as_ref().is_none_or(|l| l.output_alive) && failed_send.is_none();
    if output_alive {
        let _ = jam.all_notes_off(end, connections.sink());
        thread::sleep(FLUSH);
    }
    let ended = match (loss, failed_send) {
        (Some(loss), _) => Ended::Lost(loss.message),
        (None, Some(e)) => Ended::Lost(format!("cannot send to the MIDI output: {e}")),
        (None, None) => Ended::Stopped,
    };
    let recording = options.record.map(|path| {
        let bpm = jam.keeper().bpm().unwrap_or(options.record_bpm);
        let recording = jam.recording().expect("recording was switched on");
        recording.write(&path, bpm, end).map(|()| path)
    });
    let late_steps = crate::engine::inline::LiveEngine::late_steps(jam.engine());
    // After a server died, closing its clients could wait on it: leave them to the process's end.
    if matches!(&ended, Ended::Lost(_)) {
        std::mem::forget(connections);
    } else {
        drop(connections);
    }
    drop(jam);
    let _ = worker.join();
    if let Some(thread) = harmony_thread {
        let _ = thread.join();
    }
    Ok(Report {
        ended,
        late_steps,
        recording,
    })
}

/// Starts the harmony worker on the compiled-in chorale model, drawing from the jam's seed.
fn start_harmony(settings: &JamSettings) -> Result<(HarmonyHandle, JoinHandle<()>), String> {
    let seed = settings.params.seed;
    let harmony = HarmonySettings {
        active: true,
        temperature: f64::from(settings.params.sampling.temperature),
        seed,
    };
    let harmoniser = LiveHarmoniser::embedded(seed)?;
    spawn_harmony(harmoniser, harmony, QUEUE_CAPACITY)
        .map_err(|e| format!("cannot start the harmony thread: {e}"))
}

/// Starts the watcher thread; what it finds lost appears in the returned slot, and it sets
/// `stop` so the loop ends.
fn watch(watcher: Watcher, stop: Arc<AtomicBool>) -> Arc<Mutex<Option<Lost>>> {
    let slot = Arc::new(Mutex::new(None));
    let found = slot.clone();
    thread::Builder::new()
        .name("cantus-watch".into())
        .spawn(move || {
            while !stop.load(Ordering::Acquire) {
                if let Some(lost) = watcher.check() {
                    if let Ok(mut slot) = found.lock() {
                        *slot = Some(lost);
                    }
                    stop.store(true, Ordering::Release);
                    // The watcher's clients are as stale as the jam's: never close them.
                    std::mem::forget(watcher);
                    return;
                }
                thread::sleep(WATCH);
            }
        })
        .expect("cannot start the port watcher thread");
    slot
}
