//! The CLAP/VST3 instrument: plays the embedded `folk` model in time with the host's transport,
//! forwards the player's notes (MIDI thru) and feeds them to the model, and sounds the generated
//! line on a built-in voice. In Harmonise mode it adds alto, tenor and bass under the player's
//! notes instead, from the compiled-in chorale model, on their own channels. Synced to the
//! host's transport (nothing plays before it does), or, with *Sync to host* off, free-running on
//! its own tempo.

mod display;
mod editor;
mod fixed;
mod harmony;
mod models;
mod params;
mod player;
mod preset_state;
mod voice;

use std::sync::Arc;

use nice_plug::midi::Key;
use nice_plug::prelude::*;

use crate::engine::clock::{BlockTiming, Clock, TransportEvent, step_at_sample};
use crate::engine::harmony::HarmonySettings;
use crate::engine::messages::{MAX_LOOKAHEAD, Params as EngineParams, PlayerNote};
use crate::music::grid::StepGrid;
use crate::music::melody::{HOLD_TOKEN, REST_TOKEN};
pub use display::{Display, Publisher, ShownNote, Snapshot, Source};
pub use editor::{EDITOR_SIZE, without_editor};
use harmony::{DueSteps, HarmonyVoices, HarmonyWorker};
use models::{Loader, Requests, Running};
pub use models::{embedded_model, load_model};
pub use params::{CantusParams, MAX_HUMANISE_MS, PlayMode};
use player::{Events, Feel, Inbox, Player, Thru};
use voice::Synth;

/// Velocity varies by up to this much either way at full humanise.
const MAX_VELOCITY_SPREAD: f32 = 24.0;

/// Rendering offline, the audio thread waits this long at most for a chord (the host waits for
/// the plugin then; in real time it never waits).
const OFFLINE_CHORD_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// One plugin struct, as in NIH-plug's examples. Everything `process` touches is fixed-size.
pub struct Cantus {
    params: Arc<CantusParams>,
    /// The engine playing now: on a worker thread, or inline when the host renders offline.
    /// Started on activation (not at construction: hosts construct to scan).
    running: Option<Box<Running>>,
    /// Watches the model path and hands over engines for new models.
    loader: Option<Loader>,
    /// The engine parameters last pushed; pushed again only when they change.
    sent: Option<EngineParams>,
    clock: Clock,
    /// Quarter notes per bar, from the host's time signature (4/4 until it says otherwise).
    quarters_per_bar: f64,
    player: Player,
    thru: Thru,
    /// This block's generated events, and those humanised past its end.
    generated: Events,
    carried: Events,
    synth: Synth,
    /// Harmonise mode: the worker drawing chords, and the three voices playing them.
    harmony: Option<HarmonyWorker>,
    harmony_sent: Option<HarmonySettings>,
    voices: HarmonyVoices,
    /// This block's input events.
    inbox: Inbox,
    /// This block's steps, for the chords.
    due_chords: DueSteps,
    /// The host renders offline: waiting for the harmony worker is allowed.
    offline: bool,
    /// What the editor shows, and the audio thread's pen for it.
    display: Arc<Display>,
    publisher: Publisher,
}

impl Default for Cantus {
    fn default() -> Self {
        Self {
            params: Arc::default(),
            running: None,
            loader: None,
            sent: None,
            clock: Clock::default(),
            quarters_per_bar: 4.0,
            player: Player::default(),
            thru: Thru::default(),
            generated: Events::default(),
            carried: Events::default(),
            synth: Synth::default(),
            harmony: None,
            harmony_sent: None,
            voices: HarmonyVoices::default(),
            inbox: Inbox::default(),
            due_chords: DueSteps::default(),
            offline: false,
            display: Arc::default(),
            publisher: Publisher::default(),
        }
    }
}

impl Plugin for Cantus {
    const NAME: &'static str = "Cantus";
    const VENDOR: &'static str = "Cantus";
    const URL: &'static str = "";
    const EMAIL: &'static str = "";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[AudioIOLayout {
        main_input_channels: None,
        main_output_channels: NonZeroU32::new(2),
        ..AudioIOLayout::const_default()
    }];
    const MIDI_INPUT: MidiConfig = MidiConfig::Basic;
    const MIDI_OUTPUT: MidiConfig = MidiConfig::Basic;
    const SAMPLE_ACCURATE_AUTOMATION: bool = false;
    type Editor = editor::CantusEditor;
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::CantusEditor::new(self.params.clone(), self.display.clone())
    }

    /// A state naming a preset file gets the preset's settings (once; see `preset_state`).
    fn filter_state(state: &mut PluginState) {
        preset_state::apply_named_preset(state);
    }

    /// Loads the model the state names (the embedded one when it names none, or when it fails
    /// to load), starts its engine (inline when the host renders offline) and the loader.
    fn activate(
        &mut self,
        _: &AudioIOLayout,
        config: &BufferConfig,
        _: &mut impl ActivateContext<Self>,
    ) -> bool {
        self.stop_engine();
        self.synth.set_sample_rate(config.sample_rate);
        let requests = Requests {
            path: self.params.model_path.clone(),
            status: self.params.model_status.clone(),
            card: self.params.model_card.clone(),
            failure: self.params.model_failure.clone(),
        };
        let params = self.params.engine_params(self.quarters_per_bar);
        match models::start_requested(&requests, params, config.process_mode) {
            Ok(running) => (self.running, self.sent) = (Some(Box::new(running)), Some(params)),
            Err(error) => {
                nice_error!("cannot start the engine: {error}");
                return false;
            }
        }
        let harmony = self.harmony_settings();
        match HarmonyWorker::start(harmony) {
            Ok(worker) => (self.harmony, self.harmony_sent) = (Some(worker), Some(harmony)),
            // The melody modes play on without it.
            Err(error) => nice_error!("cannot start the harmony worker: {error}"),
        }
        self.offline = config.process_mode == ProcessMode::Offline;
        let plugin_params = self.params.clone();
        self.loader = Some(Loader::start(
            requests,
            // The audio thread pushes the real bar length after the swap.
            move || plugin_params.engine_params(4.0),
            config.process_mode,
        ));
        true
    }

    /// Called after every activation and on host resets: the sounding note's note-off goes out at
    /// the start of the next block, the take ends, the voice falls silent.
    fn reset(&mut self) {
        if self.clock.is_running()
            && let Some(running) = self.running.as_mut()
        {
            let _ = running.engine().push_transport(TransportEvent::Stopped);
            if let Some(harmony) = self.harmony.as_mut() {
                let _ = harmony.handle.push_transport(TransportEvent::Stopped);
            }
        }
        self.clock.reset();
        self.synth.reset();
    }

    fn deactivate(&mut self) {
        self.stop_engine();
        // The next engine starts a fresh take; the sounding note, if any, ends on the next block.
        self.clock.reset();
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        if let Some(loader) = self.loader.as_mut()
            && loader.swap(&mut self.running)
        {
            // A new model: its take starts where the song is (the clock restarts), and the
            // sounding note ends.
            self.clock.reset();
            self.sent = None;
        }
        let len = buffer.samples() as u32;
        let timing = self.schedule(len, context.transport());
        // The player's notes reach the engines before the chords are looked up, so a note on a
        // step's first sample is harmonised on it when the worker is quick enough (and always
        // when rendering offline).
        self.inbox.fill(context);
        let first_note = self.push_player_notes(timing);
        let harmonise = self.params.harmonising();
        self.advance_harmony(harmonise && self.params.enabled.value(), first_note);
        // Four lines, each humanised on its own: merge them into one time order.
        self.generated.sort();
        self.generated.carry_over(len, &mut self.carried);
        self.player.end_block(len);
        self.voices.end_block(len);
        self.send_events(context);
        self.render(buffer);
        ProcessStatus::Normal
    }
}

impl Cantus {
    /// Stops the loader and the engine (on the main thread: it waits for their threads).
    fn stop_engine(&mut self) {
        if let Some(loader) = self.loader.take() {
            loader.stop();
        }
        if let Some(running) = self.running.take() {
            running.stop();
        }
        if let Some(harmony) = self.harmony.take() {
            harmony.stop();
        }
    }

    /// What the harmony worker should do now.
    fn harmony_settings(&self) -> HarmonySettings {
        HarmonySettings {
            active: self.params.harmonising() && self.params.enabled.value(),
            temperature: f64::from(self.params.temperature.value()),
            seed: self.params.seed.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Pushes changed parameters, advances the clock, tells the engine about transport changes
    /// and fills `generated` with this block's note events. Returns the block's timing while the
    /// transport plays.
    fn schedule(&mut self, len: u32, transport: &Transport) -> Option<BlockTiming> {
        let enabled = self.params.enabled.value();
        self.generated.clear();
        self.generated.take(&mut self.carried);
        let grid = StepGrid::new(self.params.steps_per_quarter());
        if grid != self.clock.grid() {
            // Step numbers change meaning: a new take on the new grid.
            self.clock = Clock::new(grid);
        }
        if let (Some(numerator), Some(denominator)) =
            (transport.time_sig_numerator, transport.time_sig_denominator)
            && numerator > 0
            && denominator > 0
        {
            self.quarters_per_bar = f64::from(numerator) * 4.0 / f64::from(denominator);
        }
        let params = self.params.engine_params(self.quarters_per_bar);
        let harmonise = self.params.harmonising();
        if !enabled
            || !self.clock.is_running()
            || self.sent.is_some_and(|sent| sent.mode != params.mode)
            || harmonise
        {
            // Disabled, reset since the last block, or another mode: the sounding note ends now.
            self.player.release(0, &mut self.generated);
        }
        if !enabled || !self.clock.is_running() || !harmonise {
            self.voices.release(0, &mut self.generated);
        }
        let humanise = self.params.humanise.value();
        let rate = f64::from(transport.sample_rate);
        self.player.feel = Feel {
            channel: (self.params.channel.value() - 1) as u8,
            velocity: self.params.velocity.value() as u8,
            velocity_spread: (humanise * MAX_VELOCITY_SPREAD) as u8,
            max_delay: (f64::from(humanise * MAX_HUMANISE_MS) / 1000.0 * rate) as u32,
        };
        let channel = |param: &IntParam| (param.value() - 1) as u8;
        self.voices.set_feel(
            self.player.feel,
            [
                channel(&self.params.alto_channel),
                channel(&self.params.tenor_channel),
                channel(&self.params.bass_channel),
            ],
        );
        self.advance_song(len, transport, params, enabled && !harmonise)
    }

    /// The engine's part of [`Cantus::schedule`]: parameters, transport, and the steps due.
    fn advance_song(
        &mut self,
        len: u32,
        transport: &Transport,
        params: EngineParams,
        enabled: bool,
    ) -> Option<BlockTiming> {
        let engine = self.running.as_mut()?.engine();
        if self.sent != Some(params) && engine.push_params(params).is_ok() {
            self.sent = Some(params);
        }
        let rate = f64::from(transport.sample_rate);
        let plan = if self.params.sync.value() {
            // No tempo or position from the host: treat it as stopped.
            let stopped = BlockTiming {
                playing: false,
                ..BlockTiming::new(rate, len, 120.0, 0.0)
            };
            let timing = BlockTiming::from_transport(transport, len).unwrap_or(stopped);
            self.clock.advance(timing)
        } else {
            let tempo = f64::from(self.params.tempo.value());
            self.clock.advance_free(rate, len, tempo)
        };
        let mut harmony = self.harmony.as_mut().map(|h| &mut h.handle);
        for event in plan.events {
            if !matches!(event, TransportEvent::Started { .. }) {
                self.player.release(0, &mut self.generated);
                self.voices.release(0, &mut self.generated);
            }
            // A stop leaves the take on screen; anything else starts a new one.
            match event {
                TransportEvent::Stopped => {
                    let at = self.clock.next_step();
                    self.publisher.silence_lines(&self.display, at);
                }
                _ => self.publisher.new_take(&self.display),
            }
            let _ = engine.push_transport(event);
            if let Some(harmony) = harmony.as_mut() {
                let _ = harmony.push_transport(event);
            }
        }
        for scheduled in plan.steps {
            // Played even when disabled, so the engine's playhead keeps moving.
            let token = engine.play_step(scheduled.step);
            if enabled {
                self.player
                    .play(token, scheduled.offset, &mut self.generated);
            }
            let shown = if enabled { token } else { REST_TOKEN };
            self.publisher
                .line_step(&self.display, 0, scheduled.step, shown);
            self.due_chords.push((scheduled.step, scheduled.offset));
        }
        self.publish_lookahead(params.lookahead.min(MAX_LOOKAHEAD), enabled);
        if let Some(timing) = plan.timing.as_ref() {
            let end = step_at_sample(timing, len, self.clock.grid());
            let steps = end.step as f64 + end.fraction;
            self.publisher.playhead(&self.display, steps);
        }
        plan.timing
    }

    /// Shows the editor the steps the engine has ready past the playhead, and its health.
    fn publish_lookahead(&mut self, lookahead: u32, enabled: bool) {
        let Some(running) = self.running.as_mut() else {
            return;
        };
        let engine = running.engine();
        let next = self.clock.next_step();
        let mut ready = 0;
        for step in next..next + u64::from(lookahead) {
            let token = engine.ready_token(step);
            ready += u32::from(token.is_some());
            self.publisher.upcoming(&self.display, step, token);
        }
        let shown = if enabled { lookahead } else { 0 };
        let (nanos, late) = (engine.step_nanos(), engine.late_steps());
        self.publisher
            .engine(&self.display, shown, ready, nanos, late);
    }

    /// Harmonise mode's part of the block: a newer chord for the step sounding since the last
    /// block goes out at once (or with the block's first player note, which caused it), then
    /// each step due plays its chord.
    fn advance_harmony(&mut self, playing: bool, first_note: Option<u32>) {
        let settings = self.harmony_settings();
        let Some(worker) = self.harmony.as_mut() else {
            self.due_chords.clear();
            return;
        };
        let handle = &mut worker.handle;
        if self.harmony_sent != Some(settings) && handle.push_settings(settings).is_ok() {
            self.harmony_sent = Some(settings);
        }
        if playing && let Some(step) = self.voices.current_step() {
            let chord = if self.offline {
                handle.wait_for(step, OFFLINE_CHORD_WAIT)
            } else {
                handle.chord(step)
            };
            let before_next_step = self.due_chords.as_slice().first().map(|d| d.1);
            let at = first_note
                .unwrap_or(0)
                .min(before_next_step.unwrap_or(u32::MAX));
            if let Some(chord) = chord {
                self.voices.correct(chord, at, &mut self.generated);
            }
        }
        for &(step, offset) in self.due_chords.as_slice() {
            let ready = handle.play_step(step);
            let chord = if self.offline && playing {
                handle.wait_for(step, OFFLINE_CHORD_WAIT)
            } else {
                ready
            };
            if playing {
                self.voices.play(step, chord, offset, &mut self.generated);
            }
            // A chord not ready yet holds the voices, as it does in `play`.
            let shown = match (playing, chord) {
                (true, chord) => chord.unwrap_or([HOLD_TOKEN; 3]),
                (false, _) => [REST_TOKEN; 3],
            };
            for (voice, token) in shown.into_iter().enumerate() {
                self.publisher
                    .line_step(&self.display, voice + 1, step, token);
            }
        }
        self.due_chords.clear();
    }

    /// Pushes the player's notes (this block's input) to the engines, each on its step.
    /// Returns the first one's sample offset.
    fn push_player_notes(&mut self, timing: Option<BlockTiming>) -> Option<u32> {
        let (Some(timing), Some(running)) = (timing.as_ref(), self.running.as_mut()) else {
            return None;
        };
        let mut first = None;
        let grid = self.clock.grid();
        let step = |at| step_at_sample(timing, at, grid).step;
        for event in self.inbox.events() {
            let note = match *event {
                NoteEvent::NoteOn {
                    timing: at,
                    key: Key::Number(pitch),
                    ..
                } => PlayerNote::On {
                    step: step(at),
                    pitch,
                },
                NoteEvent::NoteOff {
                    timing: at,
                    key: Key::Number(pitch),
                    ..
                } => PlayerNote::Off {
                    step: step(at),
                    pitch,
                },
                _ => continue,
            };
            first = first.or(Some(event.timing()));
            match note {
                PlayerNote::On { step, pitch } => self.publisher.key_on(&self.display, step, pitch),
                PlayerNote::Off { step, pitch } => {
                    self.publisher.key_off(&self.display, step, pitch)
                }
            }
            let _ = running.engine().push_note(note);
            if let Some(harmony) = self.harmony.as_mut() {
                let _ = harmony.handle.push_note(note);
            }
        }
        first
    }

    /// Forwards the input (MIDI thru) merged in time order with the generated events (both lists
    /// are sorted; nice-plug does not sort output).
    fn send_events(&mut self, context: &mut impl ProcessContext<Self>) {
        let enabled = self.params.enabled.value();
        let mut generated = self.generated.as_slice().iter().peekable();
        // A full output queue drops events rather than block the audio thread.
        for &event in self.inbox.events() {
            while let Some(g) = generated.next_if(|g| g.timing <= event.timing()) {
                let _ = context.try_send_event(g.to_note_event());
            }
            if self.thru.forward(&event, enabled) {
                let _ = context.try_send_event(event);
            }
        }
        for g in generated {
            let _ = context.try_send_event(g.to_note_event());
        }
    }

    /// Renders the voice, applying the generated events at their sample offsets.
    fn render(&mut self, buffer: &mut Buffer) {
        let gain = self.params.voice_gain();
        let channels = buffer.as_slice();
        channels.iter_mut().for_each(|c| c.fill(0.0));
        let [left, right, ..] = channels else { return };
        let mut from = 0;
        for g in self.generated.as_slice() {
            let to = (g.timing as usize).clamp(from, left.len());
            self.synth
                .render(&mut left[from..to], &mut right[from..to], gain);
            from = to;
            if g.on {
                self.synth.note_on(g.key)
            } else {
                self.synth.note_off(g.key)
            }
        }
        let end = left.len();
        self.synth
            .render(&mut left[from..end], &mut right[from..end], gain);
        if gain > 0.0 {
            voice::saturate(left);
            voice::saturate(right);
        }
    }
}

impl ClapPlugin for Cantus {
    const CLAP_ID: &'static str = "org.cantus.cantus";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("A neural melody instrument that jams with you");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::Instrument,
        ClapFeature::NoteEffect,
        ClapFeature::Synthesizer,
        ClapFeature::Stereo,
    ];
}

impl Vst3Plugin for Cantus {
    const VST3_CLASS_ID: [u8; 16] = *b"CantusMelodyRNN1";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[
        Vst3SubCategory::Instrument,
        Vst3SubCategory::Synth,
        Vst3SubCategory::Generator,
    ];
}

nice_export_clap!(Cantus);
nice_export_vst3!(Cantus);
