//! Which model the plugin plays, and changing it while it plays.
//!
//! The plugin plays the compiled-in `folk` model unless its state names a model folder (or a
//! preset file naming one). [`Running`] is an engine playing a model: a worker thread in real
//! time, or an inline composer when the host renders offline. The [`Loader`] thread watches the
//! requested path; when it changes, it loads the model, starts a new engine and hands it to the
//! audio thread through a lock-free queue; the audio thread hands the old engine back through a
//! second queue for the loader to stop (dropping it, which frees memory, must not happen on the
//! audio thread). A load that fails is logged and reported in the status text, and the old model
//! keeps playing.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use candle_core::Device;
use nice_plug::prelude::{ProcessMode, nice_error, nice_log};
use rtrb::{Consumer, Producer, RingBuffer};

use crate::engine::inline::{InlineEngine, LiveEngine};
use crate::engine::messages::Params as EngineParams;
use crate::engine::worker::{Engine, EngineHandle, WorkerJoin, live_model};
use crate::model::Model;
use crate::model::fast::FastNetwork;

const EMBEDDED_CARD: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/folk/model.json"
));
const EMBEDDED_WEIGHTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/folk/model.safetensors"
));

/// Messages each way between the audio thread and a worker: many blocks' worth.
const QUEUE_CAPACITY: usize = 1024;

/// How often the loader looks at the requested path.
const LOADER_POLL: Duration = Duration::from_millis(50);

/// The compiled-in model (cheap to call again: the weights are parsed from a static slice).
pub fn embedded_model() -> Result<Model, String> {
    Model::from_parts(EMBEDDED_CARD, EMBEDDED_WEIGHTS, &Device::Cpu)
        .map_err(|e| format!("the embedded model: {e}"))
}

/// The model a path names: empty for the embedded model, a model folder, or a preset file
/// (`.toml`) naming one. The error says what is wrong, with the path.
pub fn load_model(path: &str) -> Result<Model, String> {
    let path = path.trim();
    if path.is_empty() {
        return embedded_model();
    }
    let path = Path::new(path);
    if path.extension().is_some_and(|e| e == "toml") {
        return match preset_model(path)? {
            Some(folder) => Model::load(&folder, &Device::Cpu).map_err(|e| e.to_string()),
            None => embedded_model(),
        };
    }
    Model::load(path, &Device::Cpu).map_err(|e| e.to_string())
}

/// The model folder a preset names, `None` for the embedded model.
fn preset_model(path: &Path) -> Result<Option<std::path::PathBuf>, String> {
    let preset = crate::preset::Preset::load(path).map_err(|e| e.to_string())?;
    Ok(preset.model_path())
}

/// An engine playing one model. The threaded variant carries the audio side's received-steps
/// table inline; the plugin keeps a `Running` boxed, so the size difference costs nothing.
#[expect(clippy::large_enum_variant, reason = "always held in a Box")]
pub enum Running {
    /// In real time: the model runs on a worker thread.
    Threaded(EngineHandle, WorkerJoin),
    /// Rendering offline: the model runs inside `process()`.
    Inline(Box<InlineEngine<FastNetwork>>),
}

impl Running {
    /// Starts an engine for `model`, threaded or inline as the process mode asks.
    pub fn start(model: &Model, params: EngineParams, mode: ProcessMode) -> Result<Self, String> {
        let engine = match mode {
            ProcessMode::Offline => live_model(model)
                .and_then(|fast| InlineEngine::new(fast, params))
                .map(|inline| Running::Inline(Box::new(inline))),
            ProcessMode::Realtime | ProcessMode::Buffered => {
                Engine::spawn(model, params, QUEUE_CAPACITY)
                    .map(|(handle, worker)| Running::Threaded(handle, worker))
            }
        };
        engine.map_err(|e| format!("cannot play the model: {e}"))
    }

    pub fn engine(&mut self) -> &mut dyn LiveEngine {
        match self {
            Running::Threaded(handle, _) => handle,
            Running::Inline(inline) => inline.as_mut(),
        }
    }

    /// Stops the worker, if any, and waits for it. Not on the audio thread.
    pub fn stop(self) {
        if let Running::Threaded(handle, worker) = self {
            // Dropping the handle tells the worker to exit.
            drop(handle);
            let _ = worker.join();
        }
    }
}

/// The loader's state shared with the plugin: the requested path is the plugin's persisted
/// `model_path`; the status is what it last did; the card describes the model playing; the
/// failure says why the last failed load failed. The editor reads the last three.
#[derive(Clone)]
pub struct Requests {
    pub path: Arc<Mutex<String>>,
    pub status: Arc<Mutex<String>>,
    pub card: Arc<Mutex<String>>,
    pub failure: Arc<Mutex<String>>,
}

impl Requests {
    fn requested(&self) -> String {
        self.path.lock().map(|p| p.clone()).unwrap_or_default()
    }

    fn report(&self, status: String) {
        set(&self.status, status);
    }

    /// A load failed: says why, in the status and as the last failure.
    fn report_failure(&self, status: String) {
        set(&self.failure, status.clone());
        self.report(status);
    }

    /// `model` plays now.
    fn report_card(&self, model: &Model) {
        let card = &model.card;
        let description = card.description.lines().next().unwrap_or_default();
        set(&self.card, format!("{}: {description}", card.name));
    }
}

fn set(text: &Mutex<String>, value: String) {
    if let Ok(mut text) = text.lock() {
        *text = value;
    }
}

/// Loads the requested model synchronously (for activation), falling back to the embedded one
/// when it fails. Returns the engine, and the path it plays (so the loader does not retry a
/// failed path until it changes).
pub fn start_requested(
    requests: &Requests,
    params: EngineParams,
    mode: ProcessMode,
) -> Result<Running, String> {
    let path = requests.requested();
    let start = |model: Model| {
        let running = Running::start(&model, params, mode)?;
        requests.report_card(&model);
        Ok(running)
    };
    match load_model(&path).and_then(start) {
        Ok(running) => {
            nice_log!("Cantus: {} ({mode:?})", describe(&path));
            requests.report(describe(&path));
            Ok(running)
        }
        Err(error) if !path.trim().is_empty() => {
            nice_error!("cannot load {path}: {error}; playing the embedded model");
            requests.report_failure(format!("{path}: {error} (playing the embedded model)"));
            start(embedded_model()?)
        }
        Err(error) => Err(error),
    }
}

fn describe(path: &str) -> String {
    if path.trim().is_empty() {
        "playing the embedded folk model".into()
    } else {
        format!("playing {path}")
    }
}

/// The loader thread and the audio thread's ends of its two queues.
pub struct Loader {
    fresh: Consumer<Box<Running>>,
    stale: Producer<Box<Running>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Loader {
    /// Starts watching `requests.path`; `loaded` is the path already playing. New engines start
    /// with `params()` and the process `mode`.
    pub fn start(
        requests: Requests,
        params: impl Fn() -> EngineParams + Send + 'static,
        mode: ProcessMode,
    ) -> Loader {
        let (mut fresh_in, fresh) = RingBuffer::new(2);
        let (stale, mut stale_out) = RingBuffer::<Box<Running>>::new(4);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let mut loaded = requests.requested();
        let thread = thread::Builder::new()
            .name("cantus-loader".into())
            .spawn(move || {
                while !stopping.load(Ordering::Acquire) {
                    while let Ok(old) = stale_out.pop() {
                        old.stop();
                    }
                    let path = requests.requested();
                    if path != loaded && !fresh_in.is_full() {
                        loaded = path.clone();
                        let loaded = load_model(&path).and_then(|model| {
                            Running::start(&model, params(), mode).map(|r| (r, model))
                        });
                        match loaded {
                            Ok((running, model)) => {
                                nice_log!("Cantus: {}", describe(&path));
                                requests.report(describe(&path));
                                requests.report_card(&model);
                                let _ = fresh_in.push(Box::new(running));
                            }
                            Err(error) => {
                                nice_error!("cannot load {path}: {error}; the old model plays on");
                                requests.report_failure(format!(
                                    "{path}: {error} (the old model plays on)"
                                ));
                            }
                        }
                    }
                    thread::sleep(LOADER_POLL);
                }
                // Engines handed back since the last look stop with the loader (fresh ones not yet
                // taken are stopped by `Loader::stop`, which holds that queue's consumer).
                while let Ok(old) = stale_out.pop() {
                    old.stop();
                }
            })
            .ok();
        Loader {
            fresh,
            stale,
            stop,
            thread,
        }
    }

    /// On the audio thread: puts a newly loaded engine in `running`, if one is ready, and hands
    /// the old one back to the loader. Says whether it swapped. Never allocates or blocks.
    pub fn swap(&mut self, running: &mut Option<Box<Running>>) -> bool {
        if self.stale.is_full() {
            return false; // the loader has not stopped the last ones yet
        }
        let Ok(new) = self.fresh.pop() else {
            return false;
        };
        if let Some(old) = running.replace(new) {
            let _ = self.stale.push(old);
        }
        true
    }

    /// Stops the loader thread, and with it any engine still in its queues. Not on the audio
    /// thread.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        while let Ok(new) = self.fresh.pop() {
            new.stop();
        }
    }
}
