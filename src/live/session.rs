//! One jam, without ports or threads: the player's messages go in, the clock says which steps
//! are due, the engine says what Cantus plays on each, and MIDI bytes come out through a
//! [`MidiSink`]. [`super::run`] drives it from a loop; the tests drive it directly.
//!
//! Cantus's line is played exactly as the plugin's player plays it: NOTE_ON ends the sounding
//! note and starts its own, REST ends it, HOLD changes nothing. Every note it starts (and every
//! note it forwards with `thru`) is remembered until it ends, so [`Jam::all_notes_off`] can end
//! them all when the jam stops.

use crate::engine::clock::TransportEvent;
use crate::engine::inline::LiveEngine;
use crate::engine::messages::PlayerNote;
use crate::music::melody::MelodyEvent;

use super::clock::{Due, Timekeeper};
use super::harmony::JamHarmony;
use super::ports::MidiSink;
use super::record::{Recording, Side};
use super::settings::JamSettings;

/// A MIDI note message, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteMessage {
    On {
        channel: u8,
        pitch: u8,
        velocity: u8,
    },
    Off {
        channel: u8,
        pitch: u8,
    },
}

impl NoteMessage {
    /// A note-on or note-off (a note-on at velocity 0 is a note-off); `None` for anything else.
    pub fn parse(message: &[u8]) -> Option<NoteMessage> {
        let &[status, pitch, velocity] = message else {
            return None;
        };
        let (channel, pitch) = (status & 0x0F, pitch & 0x7F);
        match status & 0xF0 {
            0x90 if velocity > 0 => Some(NoteMessage::On {
                channel,
                pitch,
                velocity: velocity & 0x7F,
            }),
            0x80 | 0x90 => Some(NoteMessage::Off { channel, pitch }),
            _ => None,
        }
    }

    pub fn bytes(self) -> [u8; 3] {
        match self {
            NoteMessage::On {
                channel,
                pitch,
                velocity,
            } => [0x90 | channel, pitch, velocity],
            NoteMessage::Off { channel, pitch } => [0x80 | channel, pitch, 0],
        }
    }
}

/// Control change 123: All Notes Off, for synths that missed a note-off.
const ALL_NOTES_OFF: u8 = 123;

/// The jam's state between wake-ups.
pub struct Jam<E: LiveEngine> {
    engine: E,
    keeper: Timekeeper,
    settings: JamSettings,
    /// Forward the player's notes to the output.
    thru: bool,
    /// Cantus's sounding note.
    sounding: Option<u8>,
    /// Notes forwarded and not yet released, by channel and pitch.
    forwarded: [[bool; 128]; 16],
    recording: Option<Recording>,
    due: Vec<Due>,
    /// Harmonise mode: the voices under the player (Cantus's own line is then not played).
    harmony: Option<JamHarmony>,
}

impl<E: LiveEngine> Jam<E> {
    /// A jam on `engine` (already given `settings.params`), timed by `keeper`.
    pub fn new(engine: E, keeper: Timekeeper, settings: JamSettings, thru: bool) -> Self {
        Self {
            engine,
            keeper,
            settings,
            thru,
            sounding: None,
            forwarded: [[false; 128]; 16],
            recording: None,
            due: Vec::with_capacity(64),
            harmony: None,
        }
    }

    /// Harmonise mode: `harmony` plays under the player instead of Cantus's line.
    pub fn harmonise(&mut self, harmony: JamHarmony) {
        self.harmony = Some(harmony);
    }

    /// Keeps every note played from now on, for [`Jam::recording`].
    pub fn record(&mut self, player_channel: u8) {
        self.recording = Some(Recording::new(player_channel, self.settings.channel));
    }

    pub fn recording(&self) -> Option<&Recording> {
        self.recording.as_ref()
    }

    pub fn keeper(&self) -> &Timekeeper {
        &self.keeper
    }

    pub fn engine(&self) -> &E {
        &self.engine
    }

    /// A message from the player, `at` seconds into the jam: clock messages go to the clock,
    /// notes to the engine (on the step containing `at`), the recording and, with thru, the
    /// output.
    pub fn inbound(
        &mut self,
        message: &[u8],
        at: f64,
        out: &mut dyn MidiSink,
    ) -> Result<(), String> {
        if self.keeper.message(message, at) {
            return Ok(());
        }
        let Some(note) = NoteMessage::parse(message) else {
            return Ok(());
        };
        let step = self.keeper.step_at(at);
        let (player_note, channel, pitch) = match note {
            NoteMessage::On {
                channel,
                pitch,
                velocity,
            } => {
                if let Some(recording) = self.recording.as_mut() {
                    recording.note_on(Side::Player, pitch, velocity, at);
                }
                (PlayerNote::On { step, pitch }, channel, pitch)
            }
            NoteMessage::Off { channel, pitch } => {
                if let Some(recording) = self.recording.as_mut() {
                    recording.note_off(Side::Player, pitch, at);
                }
                (PlayerNote::Off { step, pitch }, channel, pitch)
            }
        };
        // A full queue loses the note for the model only; the player still hears it.
        let _ = self.engine.push_note(player_note);
        if let Some(harmony) = self.harmony.as_mut() {
            harmony.note(player_note);
        }
        if self.thru {
            let held = &mut self.forwarded[usize::from(channel)][usize::from(pitch)];
            *held = matches!(note, NoteMessage::On { .. });
            out.send(&note.bytes())?;
        }
        Ok(())
    }

    /// Plays everything due up to `now` seconds into the jam.
    pub fn tick(&mut self, now: f64, out: &mut dyn MidiSink) -> Result<(), String> {
        self.keeper.poll(now, &mut self.due);
        let mut result = Ok(());
        for due in std::mem::take(&mut self.due) {
            result = result.and(self.play(due, now, out));
        }
        if let Some(harmony) = self.harmony.as_mut() {
            result = result.and(harmony.follow(now, out, self.recording.as_mut()));
        }
        result
    }

    /// Plays one thing due; transport events have no time of their own but `now`.
    fn play(&mut self, due: Due, now: f64, out: &mut dyn MidiSink) -> Result<(), String> {
        match due {
            Due::Transport(event) => {
                let _ = self.engine.push_transport(event);
                if let Some(harmony) = self.harmony.as_mut() {
                    harmony.transport(event);
                }
                if matches!(event, TransportEvent::Started { .. }) {
                    return Ok(());
                }
                let released = self.release(now, out);
                match self.harmony.as_mut() {
                    Some(harmony) => {
                        released.and(harmony.release(now, out, self.recording.as_mut()))
                    }
                    None => released,
                }
            }
            Due::Step { step, at } if self.harmony.is_some() => {
                // The melody engine runs on unheard, so switching modes would be instant.
                self.engine.play_step(step);
                let harmony = self.harmony.as_mut().expect("checked by the guard");
                harmony.play(step, at, out, self.recording.as_mut())
            }
            Due::Step { step, at } => {
                let token = self.engine.play_step(step);
                match MelodyEvent::from_token(token) {
                    Some(MelodyEvent::NoteOn(pitch)) => {
                        self.release(at, out)?;
                        let on = NoteMessage::On {
                            channel: self.settings.channel,
                            pitch,
                            velocity: self.settings.velocity,
                        };
                        self.sounding = Some(pitch);
                        if let Some(recording) = self.recording.as_mut() {
                            recording.note_on(Side::Cantus, pitch, self.settings.velocity, at);
                        }
                        out.send(&on.bytes())
                    }
                    Some(MelodyEvent::Rest) => self.release(at, out),
                    Some(MelodyEvent::Hold) | None => Ok(()),
                }
            }
        }
    }

    /// Ends Cantus's sounding note, if any.
    fn release(&mut self, at: f64, out: &mut dyn MidiSink) -> Result<(), String> {
        let Some(pitch) = self.sounding.take() else {
            return Ok(());
        };
        if let Some(recording) = self.recording.as_mut() {
            recording.note_off(Side::Cantus, pitch, at);
        }
        out.send(
            &NoteMessage::Off {
                channel: self.settings.channel,
                pitch,
            }
            .bytes(),
        )
    }

    /// The jam ends at `at` seconds: ends Cantus's note and every forwarded note, then sends All
    /// Notes Off on each channel used. Sends everything even when a send fails; returns the first
    /// failure.
    pub fn all_notes_off(&mut self, at: f64, out: &mut dyn MidiSink) -> Result<(), String> {
        let mut result = self.release(at, out);
        let mut channels = [false; 16];
        channels[usize::from(self.settings.channel)] = true;
        if let Some(harmony) = self.harmony.as_mut() {
            result = result.and(harmony.release(at, out, self.recording.as_mut()));
            for channel in harmony.channels() {
                channels[usize::from(channel)] = true;
            }
        }
        for (channel, pitches) in self.forwarded.iter_mut().enumerate() {
            for (pitch, held) in pitches.iter_mut().enumerate() {
                if std::mem::take(held) {
                    channels[channel] = true;
                    let off = NoteMessage::Off {
                        channel: channel as u8,
                        pitch: pitch as u8,
                    };
                    result = result.and(out.send(&off.bytes()));
                }
            }
        }
        for (channel, used) in channels.iter().enumerate() {
            if *used {
                result = result.and(out.send(&[0xB0 | channel as u8, ALL_NOTES_OFF, 0]));
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::composer::StepModel;
    use crate::engine::inline::InlineEngine;
    use crate::engine::messages::{Mode, Params};
    use crate::engine::sampler::SamplingSettings;
    use crate::live::clock::InternalClock;
    use crate::live::settings::JamSettings;
    use crate::music::grid::StepGrid;
    use crate::music::melody::{MelodyEvent, VOCAB_SIZE};

    /// A model that always wants to start middle C again.
    struct MiddleC;

    impl StepModel for MiddleC {
        type State = Vec<f32>;

        fn vocab_size(&self) -> usize {
            VOCAB_SIZE
        }

        fn new_state(&self) -> Vec<f32> {
            let mut logits = vec![0.0; VOCAB_SIZE];
            logits[MelodyEvent::NoteOn(60).token() as usize] = 10.0;
            logits
        }

        fn reset(&self, _: &mut Vec<f32>) {}

        fn copy_state(&self, to: &mut Vec<f32>, from: &Vec<f32>) {
            to.copy_from_slice(from);
        }

        fn step<'s>(&self, _: u32, state: &'s mut Vec<f32>) -> &'s [f32] {
            state
        }
    }

    /// A synth that keeps what it is sent, and can be unplugged.
    #[derive(Default)]
    struct FakeSynth {
        sent: Vec<Vec<u8>>,
        unplugged: bool,
    }

    impl MidiSink for FakeSynth {
        fn send(&mut self, message: &[u8]) -> Result<(), String> {
            if self.unplugged {
                return Err("unplugged".into());
            }
            self.sent.push(message.to_vec());
            Ok(())
        }
    }

    fn jam(thru: bool) -> Jam<InlineEngine<MiddleC>> {
        let params = Params {
            mode: Mode::Solo,
            sampling: SamplingSettings {
                greedy: true,
                ..SamplingSettings::default()
            },
            ..Params::default()
        };
        let settings = JamSettings {
            params,
            grid: StepGrid::new(4),
            velocity: 90,
            channel: 2,
            harmony: None,
        };
        let engine = InlineEngine::new(MiddleC, params).unwrap();
        let keeper = Timekeeper::Internal(InternalClock::new(settings.grid, 120.0));
        Jam::new(engine, keeper, settings, thru)
    }

    #[test]
    fn notes_are_parsed_with_velocity_0_as_note_off() {
        assert_eq!(
            NoteMessage::parse(&[0x93, 60, 100]),
            Some(NoteMessage::On {
                channel: 3,
                pitch: 60,
                velocity: 100
            })
        );
        assert_eq!(
            NoteMessage::parse(&[0x90, 60, 0]),
            Some(NoteMessage::Off {
                channel: 0,
                pitch: 60
            })
        );
        assert_eq!(
            NoteMessage::parse(&[0x8F, 61, 64]),
            Some(NoteMessage::Off {
                channel: 15,
                pitch: 61
            })
        );
        assert_eq!(NoteMessage::parse(&[0xB0, 7, 100]), None);
        assert_eq!(NoteMessage::parse(&[0xF8]), None);
    }

    #[test]
    fn each_step_ends_the_note_before_it_and_the_end_silences_everything() {
        let mut jam = jam(true);
        let mut synth = FakeSynth::default();
        // Steps 0, 1 and 2 (0.25 s at 120 BPM, sixteenths), and a key held through thru.
        for ms in 0..=250 {
            jam.tick(f64::from(ms) / 1000.0, &mut synth).unwrap();
        }
        jam.inbound(&[0x91, 64, 70], 0.26, &mut synth).unwrap();
        let expected: Vec<Vec<u8>> = vec![
            vec![0x92, 60, 90],
            vec![0x82, 60, 0],
            vec![0x92, 60, 90],
            vec![0x82, 60, 0],
            vec![0x92, 60, 90],
            vec![0x91, 64, 70],
        ];
        assert_eq!(synth.sent, expected);
        synth.sent.clear();
        jam.all_notes_off(0.3, &mut synth).unwrap();
        assert_eq!(
            synth.sent,
            [
                vec![0x82, 60, 0],
                vec![0x81, 64, 0],
                vec![0xB1, 123, 0],
                vec![0xB2, 123, 0]
            ]
        );
        // Nothing is left to end.
        synth.sent.clear();
        jam.all_notes_off(0.4, &mut synth).unwrap();
        assert_eq!(synth.sent, [vec![0xB2, 123, 0]]);
    }

    #[test]
    fn a_synth_that_went_away_is_reported_and_the_rest_still_goes_out() {
        let mut jam = jam(false);
        jam.record(0);
        let mut synth = FakeSynth::default();
        jam.tick(0.0, &mut synth).unwrap();
        jam.inbound(&[0x90, 67, 80], 0.01, &mut synth).unwrap();
        jam.inbound(&[0x80, 67, 0], 0.1, &mut synth).unwrap();
        assert_eq!(synth.sent, [vec![0x92, 60, 90]]); // no thru
        synth.unplugged = true;
        assert_eq!(jam.tick(0.2, &mut synth), Err("unplugged".to_string()));
        assert!(jam.all_notes_off(0.2, &mut synth).is_err());
        let recording = jam.recording().unwrap();
        assert_eq!(recording.notes(Side::Player).len(), 1);
        assert_eq!(recording.notes(Side::Cantus)[0].pitch, 60);
    }
}
