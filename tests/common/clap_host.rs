//! A small CLAP host on top of `clack-host`, driving the bundled plugin the way a DAW does:
//! load the bundle, list and instantiate plugins, activate, process blocks of events, save and
//! load state, read and write parameters.
//!
//! The calling thread is both the host's main thread and its audio thread; CLAP allows that, and
//! it keeps tests deterministic. Harness calls panic with context when the plugin misbehaves,
//! except [`Instance::load_state`], whose failure is something tests assert on.
//!
//! `clack-host` has no extensions of its own; `clap.gui` comes from `clack-extensions`, and
//! `clap.state`, `clap.params` and `clap.render` are declared here from the CLAP headers.

use clack_extensions::gui::{
    GuiApiType, GuiConfiguration, GuiError, GuiSize, HostGui, HostGuiImpl, PluginGui, Window,
};
use clack_host::events::event_types::{
    NoteOffEvent, NoteOnEvent, ParamValueEvent, TransportEvent, TransportFlags,
};
use clack_host::events::spaces::CoreEventSpace;
use clack_host::events::{EventFlags, Match};
use clack_host::extensions::prelude::*;
use clack_host::prelude::*;
use clack_host::stream::{InputStream, OutputStream};
use clack_host::utils::FixedPoint;
use std::ffi::{CStr, CString, c_char, c_void};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The plugin's one output port is stereo (its `AUDIO_IO_LAYOUTS`).
pub const OUTPUT_CHANNELS: usize = 2;

/// A loaded `.clap` bundle (on Linux, the shared library itself).
pub struct TestHost {
    entry: PluginEntry,
}

/// What the bundle's factory says about one plugin.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginInfo {
    pub id: String,
    pub name: String,
    pub vendor: String,
    pub version: String,
    pub description: String,
    pub features: Vec<String>,
}

impl TestHost {
    pub fn load(path: &Path) -> Self {
        // SAFETY: the bundle is this crate's own plugin, built by `cargo xtask bundle`.
        let entry = unsafe { PluginEntry::load(path) }
            .unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()));
        // Keep the library loaded for the whole test process, as DAWs do. clack unloads it when
        // its last entry handle drops, but threads that ran plugin code still hold thread-exit
        // destructors pointing into it: parallel tests then crash (SIGSEGV) as their threads end.
        std::mem::forget(entry.clone());
        Self { entry }
    }

    pub fn plugins(&self) -> Vec<PluginInfo> {
        let factory = self
            .entry
            .get_plugin_factory()
            .expect("the bundle has no plugin factory");
        factory
            .plugin_descriptors()
            .map(|d| PluginInfo {
                id: text(d.id()),
                name: text(d.name()),
                vendor: text(d.vendor()),
                version: text(d.version()),
                description: text(d.description()),
                features: d.features().map(|f| text(Some(f))).collect(),
            })
            .collect()
    }

    pub fn instantiate(&self, plugin_id: &str) -> Instance {
        let id = CString::new(plugin_id).expect("plugin id with a NUL byte");
        let host_info = HostInfo::new("cantus-tests", "Cantus", "", env!("CARGO_PKG_VERSION"))
            .expect("host info");
        let plugin = PluginInstance::<Handlers>::new(
            |_| SharedHandlers::default(),
            |_| (),
            &self.entry,
            &id,
            &host_info,
        )
        .unwrap_or_else(|e| panic!("cannot instantiate {plugin_id}: {e}"));
        let shared = plugin.plugin_shared_handle();
        let (state, params) = (shared.get_extension(), shared.get_extension());
        Instance {
            plugin,
            processor: None,
            block_range: (0, 0),
            state,
            params,
            pending_params: Vec::new(),
            steady_time: 0,
            editor_open: false,
        }
    }
}

fn text(s: Option<&CStr>) -> String {
    s.map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A note on the plugin's note port 0. Note ids are not modelled: the harness sends none (-1)
/// and ignores those the plugin sends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Note {
    pub channel: u8,
    pub key: u8,
    pub velocity: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    NoteOn(Note),
    NoteOff(Note),
    /// A parameter's plain CLAP value (for nice-plug: normalized × step count).
    ParamValue {
        param_id: u32,
        value: f64,
    },
    /// Output only: an event the harness does not decode, by CLAP core event type.
    Other {
        type_id: u16,
    },
}

/// An event at a sample offset within its block, in both directions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimedEvent {
    pub time: u32,
    pub event: Event,
}

impl TimedEvent {
    pub fn note_on(time: u32, channel: u8, key: u8, velocity: f64) -> Self {
        let note = Note {
            channel,
            key,
            velocity,
        };
        Self {
            time,
            event: Event::NoteOn(note),
        }
    }

    pub fn note_off(time: u32, channel: u8, key: u8, velocity: f64) -> Self {
        let note = Note {
            channel,
            key,
            velocity,
        };
        Self {
            time,
            event: Event::NoteOff(note),
        }
    }

    pub fn param(time: u32, param_id: u32, value: f64) -> Self {
        Self {
            time,
            event: Event::ParamValue { param_id, value },
        }
    }
}

/// The host's transport at the start of a block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TransportInfo {
    pub playing: bool,
    pub tempo: f64,
    pub time_signature: (u16, u16),
    pub position_beats: f64,
}

impl TransportInfo {
    /// A playing 4/4 transport at the song's start.
    pub fn playing(tempo: f64) -> Self {
        Self {
            playing: true,
            tempo,
            time_signature: (4, 4),
            position_beats: 0.0,
        }
    }

    /// The transport `frames` later, as a host computes the next block's position.
    pub fn advanced(self, frames: u32, sample_rate: f64) -> Self {
        let beats = if self.playing {
            f64::from(frames) / sample_rate * self.tempo / 60.0
        } else {
            0.0
        };
        Self {
            position_beats: self.position_beats + beats,
            ..self
        }
    }

    fn to_event(self) -> TransportEvent {
        let (numerator, denominator) = self.time_signature;
        let beats_per_bar = f64::from(numerator) * 4.0 / f64::from(denominator);
        let bar = (self.position_beats / beats_per_bar).floor();
        let mut flags = TransportFlags::HAS_TEMPO
            | TransportFlags::HAS_BEATS_TIMELINE
            | TransportFlags::HAS_SECONDS_TIMELINE
            | TransportFlags::HAS_TIME_SIGNATURE;
        flags.set(TransportFlags::IS_PLAYING, self.playing);
        TransportEvent {
            header: EventHeader::new_core(0, EventFlags::empty()),
            flags,
            song_pos_beats: FixedPoint::from_float(self.position_beats),
            song_pos_seconds: FixedPoint::from_float(self.position_beats * 60.0 / self.tempo),
            tempo: self.tempo,
            tempo_inc: 0.0,
            loop_start_beats: FixedPoint::from_int(0),
            loop_end_beats: FixedPoint::from_int(0),
            loop_start_seconds: FixedPoint::from_int(0),
            loop_end_seconds: FixedPoint::from_int(0),
            bar_start: FixedPoint::from_float(bar * beats_per_bar),
            bar_number: bar as i32,
            time_signature_numerator: numerator,
            time_signature_denominator: denominator,
        }
    }
}

/// One block's results.
#[derive(Debug)]
pub struct ProcessOutput {
    pub status: ProcessStatus,
    /// One `Vec` per output channel. The harness fills them with NaN before the call, so a
    /// plugin that leaves them unwritten shows up.
    pub audio: Vec<Vec<f32>>,
    /// What the plugin pushed to the output event queue, in push order.
    pub events: Vec<TimedEvent>,
}

impl ProcessOutput {
    /// The note events among [`ProcessOutput::events`], in order: time, note, and whether it
    /// is a note-on.
    pub fn notes(&self) -> impl Iterator<Item = (u32, Note, bool)> + '_ {
        self.events.iter().filter_map(|event| match event.event {
            Event::NoteOn(note) => Some((event.time, note, true)),
            Event::NoteOff(note) => Some((event.time, note, false)),
            _ => None,
        })
    }
}

/// Buffers reused from block to block by [`Instance::process_timed`].
pub struct Block {
    frames: u32,
    audio: Vec<Vec<f32>>,
    ports: AudioPorts,
    input: EventBuffer,
    output: EventBuffer,
}

impl Block {
    pub fn new(frames: u32) -> Self {
        Self {
            frames,
            audio: vec![vec![0.0; frames as usize]; OUTPUT_CHANNELS],
            ports: AudioPorts::with_capacity(OUTPUT_CHANNELS, 1),
            input: EventBuffer::with_capacity(64),
            output: EventBuffer::with_capacity(64),
        }
    }

    /// What the plugin pushed to the output event queue in the last block, in push order.
    pub fn events(&self) -> impl Iterator<Item = TimedEvent> + '_ {
        self.output.iter().map(decode)
    }

    pub fn audio(&self) -> &[Vec<f32>] {
        &self.audio
    }
}

/// One plugin instance and, while active, its (started) audio processor.
pub struct Instance {
    plugin: PluginInstance<Handlers>,
    processor: Option<StartedPluginAudioProcessor<Handlers>>,
    /// The `(min, max)` block lengths promised at activation.
    block_range: (u32, u32),
    state: Option<PluginState>,
    params: Option<PluginParams>,
    /// Parameter changes made while active; CLAP hosts deliver those with the next block.
    pending_params: Vec<ParamValueEvent>,
    steady_time: u64,
    /// Whether the editor is open: it must be destroyed before the plugin is.
    editor_open: bool,
}

impl Instance {
    pub fn is_active(&self) -> bool {
        self.processor.is_some()
    }

    /// Activates and starts processing, promising blocks of `min_block..=max_block` frames.
    pub fn activate(&mut self, sample_rate: f64, min_block: u32, max_block: u32) {
        assert!(!self.is_active(), "activate() on an active instance");
        let config = PluginAudioConfiguration {
            sample_rate,
            min_frames_count: min_block,
            max_frames_count: max_block,
        };
        let stopped = self
            .plugin
            .activate(|_, _| (), config)
            .unwrap_or_else(|e| panic!("activation at {sample_rate} Hz failed: {e}"));
        let started = stopped
            .start_processing()
            .unwrap_or_else(|_| panic!("start_processing failed"));
        self.processor = Some(started);
        self.block_range = (min_block, max_block);
        self.steady_time = 0;
        self.serve_callbacks();
    }

    /// Stops processing and deactivates, as a host does before changing the sample rate.
    pub fn deactivate(&mut self) {
        let started = self
            .processor
            .take()
            .expect("deactivate() on an inactive instance");
        self.plugin.deactivate(started.stop_processing());
        self.serve_callbacks();
    }

    /// The plugin's `reset()`: the host jumped (seek, loop) and wants the plugin's state cleared.
    pub fn reset(&mut self) {
        self.started().reset();
        self.steady_time = 0;
    }

    /// Runs one block of `frames` frames with `events` (sorted by time, all within the block).
    pub fn process(
        &mut self,
        frames: u32,
        events: &[TimedEvent],
        transport: Option<&TransportInfo>,
    ) -> ProcessOutput {
        let (min, max) = self.block_range;
        assert!(
            (min..=max).contains(&frames),
            "{frames} frames is outside the activated {min}..={max}"
        );
        assert!(
            events.is_sorted_by_key(|e| e.time),
            "CLAP input events must be sorted by time"
        );
        assert!(
            events.iter().all(|e| e.time < frames),
            "an input event lies past the block"
        );

        let input = self.input_events(events);
        let mut output = EventBuffer::new();
        let mut audio = vec![vec![f32::NAN; frames as usize]; OUTPUT_CHANNELS];
        let transport = transport.map(|t| t.to_event());
        let steady_time = self.steady_time;

        let mut ports = AudioPorts::with_capacity(OUTPUT_CHANNELS, 1);
        let mut outputs = ports.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(audio.iter_mut().map(Vec::as_mut_slice)),
        }]);
        let status = self
            .started()
            .process(
                &InputAudioBuffers::empty(),
                &mut outputs,
                &input.as_input(),
                &mut output.as_output(),
                Some(steady_time),
                transport.as_ref(),
            )
            .unwrap_or_else(|e| panic!("process() failed: {e}"));

        self.steady_time += u64::from(frames);
        self.serve_callbacks();
        let events = output.iter().map(decode).collect();
        ProcessOutput {
            status,
            audio,
            events,
        }
    }

    /// Runs one block of `block`'s length with no input events (parameter changes made with
    /// [`Instance::set_param`] still go with it) into `block`'s reused buffers, and returns how
    /// long the plugin's `process` call alone took. For benchmarks: [`Instance::process`]
    /// allocates its buffers every call, which would cost more than the plugin does.
    pub fn process_timed(
        &mut self,
        block: &mut Block,
        transport: Option<&TransportInfo>,
    ) -> Duration {
        let frames = block.frames;
        block.input.clear();
        for event in self.pending_params.drain(..) {
            block.input.push(&event);
        }
        block.output.clear();
        let transport = transport.map(|t| t.to_event());
        let steady_time = self.steady_time;
        let Block {
            audio,
            ports,
            input,
            output,
            ..
        } = block;
        let mut outputs = ports.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(audio.iter_mut().map(Vec::as_mut_slice)),
        }]);
        let processor = self
            .processor
            .as_mut()
            .expect("the instance is not active: call activate() first");
        let start = Instant::now();
        let status = processor.process(
            &InputAudioBuffers::empty(),
            &mut outputs,
            &input.as_input(),
            &mut output.as_output(),
            Some(steady_time),
            transport.as_ref(),
        );
        let elapsed = start.elapsed();
        status.unwrap_or_else(|e| panic!("process() failed: {e}"));
        self.steady_time += u64::from(frames);
        self.serve_callbacks();
        elapsed
    }

    /// The parameter nice-plug registers under the string id `id` (its `#[id = "..."]`): its
    /// CLAP id is nice-plug's hash of the string, looked up in the plugin's own list, so a
    /// renamed display name does not break the caller.
    pub fn param_by_string_id(&mut self, id: &str) -> ParamInfo {
        // nice-plug's `hash_param_id`: a Rabin fingerprint with the top bit cleared (VST3
        // reserves it for the host).
        let hash = id
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
            & !(1 << 31);
        let params = self.params();
        params
            .iter()
            .find(|p| p.id == hash)
            .unwrap_or_else(|| panic!("no parameter with string id {id:?} in {params:?}"))
            .clone()
    }

    /// The plugin's state, as a host stores it in a project.
    pub fn save_state(&mut self) -> Vec<u8> {
        let state = self.state.expect("the plugin has no state extension");
        let mut bytes = Vec::new();
        let saved = {
            let plugin = self.plugin.plugin_handle();
            let save = plugin
                .use_extension(&state.0)
                .save
                .expect("state.save is NULL");
            let mut stream = OutputStream::from_writer(&mut bytes);
            // SAFETY: a valid plugin and stream, on the main thread, as `clap.state` requires.
            unsafe {
                save(
                    plugin.as_raw_ptr().cast(),
                    std::ptr::from_mut(stream.as_raw_mut()).cast(),
                )
            }
        };
        assert!(saved, "the plugin failed to save its state");
        self.serve_callbacks();
        bytes
    }

    /// Loads a state blob; `Err` when the plugin rejects it.
    pub fn load_state(&mut self, bytes: &[u8]) -> Result<(), String> {
        let state = self.state.expect("the plugin has no state extension");
        let loaded = {
            let plugin = self.plugin.plugin_handle();
            let load = plugin
                .use_extension(&state.0)
                .load
                .expect("state.load is NULL");
            let mut reader = bytes;
            let mut stream = InputStream::from_reader(&mut reader);
            // SAFETY: a valid plugin and stream, on the main thread, as `clap.state` requires.
            unsafe {
                load(
                    plugin.as_raw_ptr().cast(),
                    std::ptr::from_mut(stream.as_raw_mut()).cast(),
                )
            }
        };
        self.serve_callbacks();
        if loaded {
            Ok(())
        } else {
            Err(format!("the plugin rejected a {}-byte state", bytes.len()))
        }
    }

    pub fn params(&mut self) -> Vec<ParamInfo> {
        let params = self.params_ext();
        let plugin = self.plugin.plugin_handle();
        let raw = plugin.use_extension(&params.0);
        let (count, get_info) = (
            raw.count.expect("params.count is NULL"),
            raw.get_info.expect("params.get_info is NULL"),
        );
        // SAFETY: a valid plugin, on the main thread; `info` is a writable `clap_param_info`.
        let count = unsafe { count(plugin.as_raw_ptr().cast()) };
        (0..count)
            .map(|index| {
                let mut info = RawParamInfo::zeroed();
                let found = unsafe { get_info(plugin.as_raw_ptr().cast(), index, &mut info) };
                assert!(found, "params.get_info({index}) failed");
                info.to_param_info()
            })
            .collect()
    }

    /// The id of the parameter whose display name is `name`.
    pub fn param_id(&mut self, name: &str) -> u32 {
        let params = self.params();
        let param = params.iter().find(|p| p.name == name);
        param
            .unwrap_or_else(|| panic!("no parameter named {name:?} in {params:?}"))
            .id
    }

    /// A parameter's current plain value.
    pub fn param_value(&mut self, param_id: u32) -> f64 {
        let params = self.params_ext();
        let plugin = self.plugin.plugin_handle();
        let get_value = plugin
            .use_extension(&params.0)
            .get_value
            .expect("params.get_value is NULL");
        let mut value = f64::NAN;
        // SAFETY: a valid plugin, on the main thread, and a writable `double`.
        let found = unsafe { get_value(plugin.as_raw_ptr().cast(), param_id, &mut value) };
        assert!(found, "params.get_value({param_id}) failed");
        value
    }

    /// Sets a parameter as a host's automation or knob does: while active, with the next block's
    /// input events (CLAP forbids `flush` then); while inactive, through `params.flush`.
    pub fn set_param(&mut self, param_id: u32, value: f64) {
        let event = param_value_event(0, param_id, value);
        if self.is_active() {
            self.pending_params.push(event);
            return;
        }
        let params = self.params_ext();
        {
            let plugin = self.plugin.plugin_handle();
            let flush = plugin
                .use_extension(&params.0)
                .flush
                .expect("params.flush is NULL");
            let input = [event];
            let input = InputEvents::from_buffer(&input);
            let mut output = EventBuffer::new();
            let mut output = output.as_output();
            // SAFETY: a valid plugin and event lists, on the main thread of an inactive plugin.
            unsafe {
                flush(
                    plugin.as_raw_ptr().cast(),
                    std::ptr::from_ref(input.as_raw()).cast(),
                    std::ptr::from_ref(output.as_raw()).cast(),
                );
            }
        }
        self.serve_callbacks();
    }

    fn started(&mut self) -> &mut StartedPluginAudioProcessor<Handlers> {
        self.processor
            .as_mut()
            .expect("the instance is not active: call activate() first")
    }

    fn params_ext(&self) -> PluginParams {
        self.params.expect("the plugin has no params extension")
    }

    fn input_events(&mut self, events: &[TimedEvent]) -> EventBuffer {
        let mut buffer = EventBuffer::with_capacity(self.pending_params.len() + events.len());
        for event in self.pending_params.drain(..) {
            buffer.push(&event);
        }
        for event in events {
            push_event(&mut buffer, event);
        }
        buffer
    }

    /// Runs the plugin's main-thread callback if it asked for one, as a host's event loop would.
    fn serve_callbacks(&mut self) {
        let requested = self.plugin.access_shared_handler(|shared| {
            shared.callback_requested.swap(false, Ordering::SeqCst)
        });
        if requested {
            self.plugin.call_on_main_thread_callback();
        }
    }
}

impl Drop for Instance {
    /// A plugin's editor must be destroyed, and the plugin deactivated, before the plugin is
    /// destroyed (CLAP's rule). nice-plug's editor holds the plugin, so a plugin destroyed with
    /// its window open is freed only later, by the window's thread, which meanwhile still talks
    /// to the X server.
    fn drop(&mut self) {
        if self.editor_open {
            // Its error ignored: a second panic while a failed test unwinds would abort.
            let _ = self.destroy_editor();
        }
        if let Some(started) = self.processor.take() {
            self.plugin.deactivate(started.stop_processing());
        }
    }
}

fn push_event(buffer: &mut EventBuffer, event: &TimedEvent) {
    let pckn = |note: Note| {
        Pckn::new(
            0u16,
            u16::from(note.channel),
            u16::from(note.key),
            Match::All,
        )
    };
    match event.event {
        Event::NoteOn(note) => {
            buffer.push(&NoteOnEvent::new(event.time, pckn(note), note.velocity))
        }
        Event::NoteOff(note) => {
            buffer.push(&NoteOffEvent::new(event.time, pckn(note), note.velocity))
        }
        Event::ParamValue { param_id, value } => {
            buffer.push(&param_value_event(event.time, param_id, value))
        }
        Event::Other { type_id } => panic!("the harness cannot send events of type {type_id}"),
    }
}

fn param_value_event(time: u32, param_id: u32, value: f64) -> ParamValueEvent {
    ParamValueEvent::new(time, ClapId::new(param_id), Pckn::match_all(), value)
}

fn decode(event: &UnknownEvent) -> TimedEvent {
    let time = event.header().time();
    let other = Event::Other {
        type_id: event.header().type_id(),
    };
    let note = |pckn: Pckn, velocity| match (pckn.channel, pckn.key) {
        (Match::Specific(channel), Match::Specific(key)) => Some(Note {
            channel: u8::try_from(channel).ok()?,
            key: u8::try_from(key).ok()?,
            velocity,
        }),
        _ => None,
    };
    let event = match event.as_core_event() {
        Some(CoreEventSpace::NoteOn(e)) => {
            note(e.pckn(), e.velocity()).map_or(other, Event::NoteOn)
        }
        Some(CoreEventSpace::NoteOff(e)) => {
            note(e.pckn(), e.velocity()).map_or(other, Event::NoteOff)
        }
        Some(CoreEventSpace::ParamValue(e)) => match e.param_id() {
            Some(id) => Event::ParamValue {
                param_id: id.get(),
                value: e.value(),
            },
            None => other,
        },
        _ => other,
    };
    TimedEvent { time, event }
}

/// What `clap.params` says about one parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamInfo {
    pub id: u32,
    pub flags: u32,
    pub name: String,
    pub module: String,
    pub min: f64,
    pub max: f64,
    pub default: f64,
}

/// `CLAP_PARAM_IS_STEPPED` from `clap/ext/params.h`.
pub const PARAM_IS_STEPPED: u32 = 1 << 0;

/// The host's callback handlers: `clap.host.gui` (as every DAW with plugin windows offers), and
/// requests are recorded so the harness can serve them.
pub struct Handlers;

impl HostHandlers for Handlers {
    type Shared<'a> = SharedHandlers;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder.register::<HostGui>();
    }
}

#[derive(Default)]
pub struct SharedHandlers {
    callback_requested: AtomicBool,
}

impl SharedHandler<'_> for SharedHandlers {
    // The harness never restarts on request: tests activate explicitly.
    fn request_restart(&self) {}
    // Always processing while active, so nothing to wake up.
    fn request_process(&self) {}
    fn request_callback(&self) {
        self.callback_requested.store(true, Ordering::SeqCst);
    }
}

/// The test host's window has a fixed size and is always shown.
impl HostGuiImpl for SharedHandlers {
    fn resize_hints_changed(&self) {}
    fn request_resize(&self, _: GuiSize) -> Result<(), HostError> {
        Err(HostError::Message(
            "the test host's window has a fixed size",
        ))
    }
    fn request_show(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn request_hide(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn closed(&self, _was_destroyed: bool) {}
}

/// The plugin's window, as a DAW opens and closes it (`clap.gui`, embedded in a host window).
impl Instance {
    const EMBEDDED_X11: GuiConfiguration<'static> = GuiConfiguration {
        api_type: GuiApiType::X11,
        is_floating: false,
    };

    fn gui(&self) -> PluginGui {
        self.plugin
            .plugin_shared_handle()
            .get_extension()
            .expect("the plugin has no clap.gui extension")
    }

    /// Creates the editor inside the X11 window `parent` and shows it; returns its size.
    /// `parent` must outlive the editor ([`Instance::close_editor`]).
    pub fn open_editor_x11(&mut self, parent: u32) -> GuiSize {
        let gui = self.gui();
        let plugin = self.plugin.plugin_handle();
        assert!(
            gui.is_api_supported(&plugin, Self::EMBEDDED_X11),
            "the plugin cannot embed its window in an X11 one"
        );
        gui.create(&plugin, Self::EMBEDDED_X11)
            .unwrap_or_else(|e| panic!("gui.create failed: {e}"));
        let size = gui.get_size(&plugin).expect("the editor's size");
        // SAFETY: the caller keeps `parent` alive until `close_editor`.
        unsafe { gui.set_parent(&plugin, Window::from_x11_handle(parent.into())) }
            .unwrap_or_else(|e| panic!("gui.set_parent failed: {e}"));
        gui.show(&plugin)
            .unwrap_or_else(|e| panic!("gui.show failed: {e}"));
        self.editor_open = true;
        self.serve_callbacks();
        size
    }

    /// Hides and destroys the editor, as a DAW does when its window is closed.
    pub fn close_editor(&mut self) {
        self.destroy_editor()
            .unwrap_or_else(|e| panic!("gui.hide failed: {e}"));
        self.serve_callbacks();
    }

    /// Hides the editor and destroys it, even if hiding failed; returns how hiding went.
    fn destroy_editor(&mut self) -> Result<(), GuiError> {
        let gui = self.gui();
        let plugin = self.plugin.plugin_handle();
        let hidden = gui.hide(&plugin);
        gui.destroy(&plugin);
        self.editor_open = false;
        hidden
    }
}

// The two plugin extensions, laid out as in the CLAP headers. Plugin, stream and event-list
// pointers are passed as `c_void`: same ABI, and clack does not name those `clap-sys` types.

type PluginPtr = *const c_void;

/// `clap_plugin_state` (`clap/ext/state.h`).
#[repr(C)]
#[derive(Clone, Copy)]
struct RawState {
    save: Option<unsafe extern "C" fn(PluginPtr, *const c_void) -> bool>,
    load: Option<unsafe extern "C" fn(PluginPtr, *const c_void) -> bool>,
}

/// `clap_plugin_params` (`clap/ext/params.h`).
#[repr(C)]
#[derive(Clone, Copy)]
struct RawParams {
    count: Option<unsafe extern "C" fn(PluginPtr) -> u32>,
    get_info: Option<unsafe extern "C" fn(PluginPtr, u32, *mut RawParamInfo) -> bool>,
    get_value: Option<unsafe extern "C" fn(PluginPtr, u32, *mut f64) -> bool>,
    _value_to_text: Option<unsafe extern "C" fn(PluginPtr, u32, f64, *mut c_char, u32) -> bool>,
    _text_to_value: Option<unsafe extern "C" fn(PluginPtr, u32, *const c_char, *mut f64) -> bool>,
    flush: Option<unsafe extern "C" fn(PluginPtr, *const c_void, *const c_void)>,
}

/// `clap_param_info` (`clap/ext/params.h`).
#[repr(C)]
struct RawParamInfo {
    id: u32,
    flags: u32,
    cookie: *mut c_void,
    name: [c_char; 256],
    module: [c_char; 1024],
    min_value: f64,
    max_value: f64,
    default_value: f64,
}

impl RawParamInfo {
    fn zeroed() -> Self {
        Self {
            id: 0,
            flags: 0,
            cookie: std::ptr::null_mut(),
            name: [0; 256],
            module: [0; 1024],
            min_value: 0.0,
            max_value: 0.0,
            default_value: 0.0,
        }
    }

    fn to_param_info(&self) -> ParamInfo {
        let text = |chars: &[c_char]| {
            let bytes: Vec<u8> = chars
                .iter()
                .map(|&c| c as u8)
                .take_while(|&b| b != 0)
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        ParamInfo {
            id: self.id,
            flags: self.flags,
            name: text(&self.name),
            module: text(&self.module),
            min: self.min_value,
            max: self.max_value,
            default: self.default_value,
        }
    }
}

/// Declares a plugin-side CLAP extension that clack-host 0.2 lacks: a typed handle to the raw
/// function table `$raw` (laid out as the C header's `$header`), found by `$id`.
macro_rules! plugin_extension {
    ($name:ident, $raw:ty, $id:literal, $header:literal) => {
        #[derive(Clone, Copy)]
        struct $name(RawExtension<PluginExtensionSide, $raw>);

        // SAFETY: `$id` is the id of the C extension `$header`, which `$raw` lays out.
        unsafe impl Extension for $name {
            const IDENTIFIERS: &'static [&'static CStr] = &[$id];
            type ExtensionSide = PluginExtensionSide;

            unsafe fn from_raw(raw: RawExtension<Self::ExtensionSide>) -> Self {
                // SAFETY: the caller guarantees `raw` points to the extension named above.
                Self(unsafe { raw.cast() })
            }
        }
    };
}

plugin_extension!(PluginState, RawState, c"clap.state", "clap_plugin_state");
plugin_extension!(
    PluginParams,
    RawParams,
    c"clap.params",
    "clap_plugin_params"
);

/// Raw access for fuzzing (`tests/clap_fuzz.rs`): input the typed [`TimedEvent`]s cannot
/// express (note ids, transport flags and loops, tempo ramps).
impl Instance {
    /// Like [`Instance::process`], with caller-built CLAP `input` events (sorted by time, all
    /// within the block) and a raw `transport`; parameter changes from [`Instance::set_param`]
    /// go first, as in `process`.
    pub fn process_raw(
        &mut self,
        frames: u32,
        input: &EventBuffer,
        transport: Option<&TransportEvent>,
    ) -> ProcessOutput {
        let (min, max) = self.block_range;
        assert!(
            (min..=max).contains(&frames),
            "{frames} frames is outside the activated {min}..={max}"
        );
        let times: Vec<u32> = input.iter().map(|e| e.header().time()).collect();
        assert!(
            times.is_sorted(),
            "CLAP input events must be sorted by time"
        );
        assert!(
            times.iter().all(|&t| t < frames),
            "an input event lies past the block"
        );

        let mut events =
            EventBuffer::with_capacity(self.pending_params.len() + input.len() as usize);
        for event in self.pending_params.drain(..) {
            events.push(&event);
        }
        for event in input {
            events.push(event);
        }
        let mut output = EventBuffer::new();
        let mut audio = vec![vec![f32::NAN; frames as usize]; OUTPUT_CHANNELS];
        let steady_time = self.steady_time;
        let mut ports = AudioPorts::with_capacity(OUTPUT_CHANNELS, 1);
        let mut outputs = ports.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(audio.iter_mut().map(Vec::as_mut_slice)),
        }]);
        let status = self
            .started()
            .process(
                &InputAudioBuffers::empty(),
                &mut outputs,
                &events.as_input(),
                &mut output.as_output(),
                Some(steady_time),
                transport,
            )
            .unwrap_or_else(|e| panic!("process() failed: {e}"));

        self.steady_time += u64::from(frames);
        self.serve_callbacks();
        let events = output.iter().map(decode).collect();
        ProcessOutput {
            status,
            audio,
            events,
        }
    }
}

/// `clap_plugin_render` (`clap/ext/render.h`).
#[repr(C)]
#[derive(Clone, Copy)]
struct RawRender {
    has_hard_realtime_requirement: Option<unsafe extern "C" fn(PluginPtr) -> bool>,
    set: Option<unsafe extern "C" fn(PluginPtr, i32) -> bool>,
}

plugin_extension!(
    PluginRender,
    RawRender,
    c"clap.render",
    "clap_plugin_render"
);

/// Offline rendering, as a DAW's bounce asks for it.
impl Instance {
    /// Sets CLAP's render mode (offline or real time) through `clap.render`; `false` when the
    /// plugin has no such extension or refuses. Call it before activating: a plugin sees the
    /// mode on its next activation.
    pub fn set_render_offline(&mut self, offline: bool) -> bool {
        let Some(render) = self
            .plugin
            .plugin_shared_handle()
            .get_extension::<PluginRender>()
        else {
            return false;
        };
        let plugin = self.plugin.plugin_handle();
        let Some(set) = plugin.use_extension(&render.0).set else {
            return false;
        };
        // CLAP_RENDER_REALTIME = 0, CLAP_RENDER_OFFLINE = 1.
        // SAFETY: a valid plugin, on the main thread, as `clap.render` requires.
        let done = unsafe { set(plugin.as_raw_ptr().cast(), i32::from(offline)) };
        self.serve_callbacks();
        done
    }
}
