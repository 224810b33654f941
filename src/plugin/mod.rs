//! The CLAP/VST3 instrument.
//!
//! At this stage it is a well-behaved MIDI pass-through: it forwards every note event it receives,
//! in order, and renders silence. The real-time engine replaces the body of `process` later; the
//! identity constants and the bundle layout stay.

use nice_plug::prelude::*;
use std::sync::Arc;

/// One plugin struct, as in NIH-plug's examples.
pub struct Cantus {
    params: Arc<CantusParams>,
}

/// Parameters with stable ids; hosts store automation by these ids, so never rename them.
#[derive(Params)]
pub struct CantusParams {
    /// When off, nothing is forwarded (a musician's "mute" for the generated part).
    #[id = "enabled"]
    pub enabled: BoolParam,
}

impl Default for CantusParams {
    fn default() -> Self {
        Self {
            enabled: BoolParam::new("Enabled", true),
        }
    }
}

impl Default for Cantus {
    fn default() -> Self {
        Self {
            params: Arc::new(CantusParams::default()),
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

    type Editor = ();
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let enabled = self.params.enabled.value();
        // Events arrive sorted by timing and are forwarded unchanged, so the output stays sorted.
        while let Some(event) = context.next_event() {
            if enabled {
                // A full output queue drops the event rather than block the audio thread.
                let _ = context.try_send_event(event);
            }
        }
        for channel in buffer.as_slice() {
            channel.fill(0.0);
        }
        ProcessStatus::Normal
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
