//! The CLAP/VST3 instrument: plays the embedded `folk` model in time with the host's transport,
//! forwards the player's notes (MIDI thru) and feeds them to the model, and sounds the generated
//! line on a built-in voice. Synced to the host's transport (nothing plays before it does), or,
//! with *Sync to host* off, free-running on its own tempo.

mod params;
mod player;
mod voice;

use std::sync::Arc;

use candle_core::Device;
use nice_plug::midi::Key;
use nice_plug::prelude::*;

use crate::engine::clock::{BlockTiming, Clock, TransportEvent, step_at_sample};
use crate::engine::messages::{Params as EngineParams, PlayerNote};
use crate::engine::worker::{Engine, EngineHandle, WorkerJoin};
use crate::model::Model;
pub use params::CantusParams;
use player::{Events, Player};
use voice::Synth;

const MODEL_CARD: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/folk/model.json"
));
const MODEL_WEIGHTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/folk/model.safetensors"
));
/// Messages each way between the audio thread and the engine: many blocks' worth.
const QUEUE_CAPACITY: usize = 1024;

/// One plugin struct, as in NIH-plug's examples. Everything `process` touches is fixed-size.
#[derive(Default)]
pub struct Cantus {
    params: Arc<CantusParams>,
    /// Loaded on the first activation (not at construction: hosts construct to scan).
    model: Option<Model>,
    engine: Option<(EngineHandle, WorkerJoin)>,
    /// The engine parameters last pushed; pushed again only when they change.
    sent: Option<EngineParams>,
    clock: Clock,
    player: Player,
    generated: Events,
    synth: Synth,
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
    type Editor = ();
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn activate(
        &mut self,
        _: &AudioIOLayout,
        config: &BufferConfig,
        _: &mut impl ActivateContext<Self>,
    ) -> bool {
        self.synth.set_sample_rate(config.sample_rate);
        if self.model.is_none() {
            match Model::from_parts(MODEL_CARD, MODEL_WEIGHTS, &Device::Cpu) {
                Ok(model) => self.model = Some(model),
                Err(error) => {
                    nice_error!("cannot load the embedded model: {error}");
                    return false;
                }
            }
        }
        if self.engine.is_none() {
            let params = self.params.engine_params();
            let model = self.model.as_ref().expect("loaded above");
            match Engine::spawn(model, params, QUEUE_CAPACITY) {
                Ok(engine) => (self.engine, self.sent) = (Some(engine), Some(params)),
                Err(error) => {
                    nice_error!("cannot start the engine: {error}");
                    return false;
                }
            }
        }
        true
    }

    /// Called after every activation and on host resets: the sounding note's note-off goes out at
    /// the start of the next block, the take ends, the voice falls silent.
    fn reset(&mut self) {
        if self.clock.is_running()
            && let Some((engine, _)) = self.engine.as_mut()
        {
            let _ = engine.push_transport(TransportEvent::Stopped);
        }
        self.clock.reset();
        self.synth.reset();
    }

    fn deactivate(&mut self) {
        // Dropping the handle tells the worker to exit; we are on the main thread, so we may wait.
        if let Some((handle, worker)) = self.engine.take() {
            drop(handle);
            let _ = worker.join();
        }
        // The next engine starts a fresh take; the sounding note, if any, ends on the next block.
        self.clock.reset();
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let timing = self.schedule(buffer.samples() as u32, context.transport());
        self.send_events(timing, context);
        self.render(buffer);
        ProcessStatus::Normal
    }
}

impl Cantus {
    /// Pushes changed parameters, advances the clock, tells the engine about transport changes
    /// and fills `generated` with this block's note events. Returns the block's timing while the
    /// transport plays.
    fn schedule(&mut self, len: u32, transport: &Transport) -> Option<BlockTiming> {
        let enabled = self.params.enabled.value();
        self.generated.clear();
        if !enabled || !self.clock.is_running() {
            // Disabled, or reset since the last block: the sounding note ends now.
            self.player.release(0, &mut self.generated);
        }
        let (engine, _) = self.engine.as_mut()?;
        let params = self.params.engine_params();
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
        for event in plan.events {
            if !matches!(event, TransportEvent::Started { .. }) {
                self.player.release(0, &mut self.generated);
            }
            let _ = engine.push_transport(event);
        }
        for scheduled in plan.steps {
            // Played even when disabled, so the engine's playhead keeps moving.
            let token = engine.play_step(scheduled.step);
            if enabled {
                self.player
                    .play(token, scheduled.offset, &mut self.generated);
            }
        }
        plan.timing
    }

    /// Forwards the input (MIDI thru) merged in time order with the generated events (both lists
    /// are sorted; nice-plug does not sort output), and pushes the player's notes to the engine.
    fn send_events(
        &mut self,
        timing: Option<BlockTiming>,
        context: &mut impl ProcessContext<Self>,
    ) {
        let enabled = self.params.enabled.value();
        let channel = (self.params.channel.value() - 1) as u8;
        let velocity = self.params.velocity.value() as f32 / 127.0;
        let grid = self.clock.grid();
        let mut generated = self.generated.as_slice().iter().peekable();
        // A full output queue drops events rather than block the audio thread.
        while let Some(event) = context.next_event() {
            while let Some(g) = generated.next_if(|g| g.timing <= event.timing()) {
                let _ = context.try_send_event(g.to_note_event(channel, velocity));
            }
            if let (Some(timing), Some((engine, _))) = (timing.as_ref(), self.engine.as_mut()) {
                let step = |at| step_at_sample(timing, at, grid).step;
                let note = match event {
                    NoteEvent::NoteOn {
                        timing: at,
                        key: Key::Number(pitch),
                        ..
                    } => Some(PlayerNote::On {
                        step: step(at),
                        pitch,
                    }),
                    NoteEvent::NoteOff {
                        timing: at,
                        key: Key::Number(pitch),
                        ..
                    } => Some(PlayerNote::Off {
                        step: step(at),
                        pitch,
                    }),
                    _ => None,
                };
                if let Some(note) = note {
                    let _ = engine.push_note(note);
                }
            }
            if enabled {
                let _ = context.try_send_event(event);
            }
        }
        for g in generated {
            let _ = context.try_send_event(g.to_note_event(channel, velocity));
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
