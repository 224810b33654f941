//! Turns the engine's tokens into note events for one monophonic line, into a fixed-size list
//! (the audio thread must not allocate).

use nice_plug::midi::{Channel, Key, VoiceID};
use nice_plug::prelude::*;

use crate::music::melody::MelodyEvent;

/// Generated events per block. A block of 4096 samples at 8 kHz and 300 BPM holds ~35 steps of
/// two events each; anything past the capacity is dropped rather than allocated.
pub const MAX_EVENTS: usize = 512;

/// A generated note event: `on` or off, `key` at sample `timing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Generated {
    pub timing: u32,
    pub key: u8,
    pub on: bool,
}

/// The events generated in the current block, in time order.
pub struct Events {
    list: [Generated; MAX_EVENTS],
    len: usize,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            list: [Generated::default(); MAX_EVENTS],
            len: 0,
        }
    }
}

impl Events {
    pub fn clear(&mut self) {
        self.len = 0;
    }

    fn push(&mut self, event: Generated) {
        if let Some(slot) = self.list.get_mut(self.len) {
            *slot = event;
            self.len += 1;
        }
    }

    pub fn as_slice(&self) -> &[Generated] {
        &self.list[..self.len]
    }
}

/// The sounding note of the generated line, if any.
#[derive(Debug, Default)]
pub struct Player {
    sounding: Option<u8>,
}

impl Player {
    /// Applies a token at `timing`: NOTE_ON ends the previous note and starts its own, REST ends
    /// it, HOLD changes nothing.
    pub fn play(&mut self, token: u32, timing: u32, out: &mut Events) {
        match MelodyEvent::from_token(token) {
            None | Some(MelodyEvent::Hold) => {}
            Some(MelodyEvent::Rest) => self.release(timing, out),
            Some(MelodyEvent::NoteOn(key)) => {
                self.release(timing, out);
                out.push(Generated {
                    timing,
                    key,
                    on: true,
                });
                self.sounding = Some(key);
            }
        }
    }

    /// Ends the sounding note, if any, at `timing`.
    pub fn release(&mut self, timing: u32, out: &mut Events) {
        if let Some(key) = self.sounding.take() {
            out.push(Generated {
                timing,
                key,
                on: false,
            });
        }
    }
}

impl Generated {
    /// The event as nice-plug sends it.
    pub fn to_note_event<S>(self, channel: u8, velocity: f32) -> NoteEvent<S> {
        let (timing, voice_id, channel, key) = (
            self.timing,
            VoiceID::Wildcard,
            Channel::Number(channel),
            Key::Number(self.key),
        );
        if self.on {
            NoteEvent::NoteOn {
                timing,
                voice_id,
                channel,
                key,
                velocity,
            }
        } else {
            NoteEvent::NoteOff {
                timing,
                voice_id,
                channel,
                key,
                velocity: 0.0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::melody::{HOLD_TOKEN, REST_TOKEN};

    fn ev(timing: u32, key: u8, on: bool) -> Generated {
        Generated { timing, key, on }
    }

    #[test]
    fn note_on_ends_the_previous_note_rest_ends_it_hold_keeps_it() {
        let (mut player, mut out) = (Player::default(), Events::default());
        let c4 = MelodyEvent::NoteOn(60).token();
        let d4 = MelodyEvent::NoteOn(62).token();
        player.play(c4, 0, &mut out);
        player.play(HOLD_TOKEN, 10, &mut out);
        player.play(d4, 20, &mut out);
        player.play(REST_TOKEN, 30, &mut out);
        player.play(REST_TOKEN, 40, &mut out);
        player.play(c4, 50, &mut out);
        player.release(60, &mut out);
        player.release(70, &mut out);
        let expected = [
            ev(0, 60, true),
            ev(20, 60, false),
            ev(20, 62, true),
            ev(30, 62, false),
            ev(50, 60, true),
            ev(60, 60, false),
        ];
        assert_eq!(out.as_slice(), expected);
    }
}
