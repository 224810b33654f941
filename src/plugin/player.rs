//! Turns the engine's tokens into note events for one monophonic line, into a fixed-size list
//! (the audio thread must not allocate).

use nice_plug::midi::{Channel, Key, VoiceID};
use nice_plug::prelude::*;

use super::fixed::FixedList;
use crate::music::melody::MelodyEvent;
use crate::rng::Rng;

/// Generated events per block. A block of 4096 samples at 8 kHz and 300 BPM holds ~35 steps of
/// two events each; anything past the capacity is dropped rather than allocated.
pub const MAX_EVENTS: usize = 512;

/// A generated note event: `on` or off, `key` on MIDI `channel` (0..=15) at sample `timing`,
/// with its `velocity` (1..=127; unused for note-offs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Generated {
    pub timing: u32,
    pub key: u8,
    pub channel: u8,
    pub on: bool,
    pub velocity: u8,
}

/// The events generated in the current block, in time order.
#[derive(Default)]
pub struct Events {
    list: FixedList<Generated, MAX_EVENTS>,
}

impl Events {
    pub fn clear(&mut self) {
        self.list.clear();
    }

    fn push(&mut self, event: Generated) {
        self.list.push(event);
    }

    pub fn as_slice(&self) -> &[Generated] {
        self.list.as_slice()
    }

    /// Moves the events at or after `len` (humanised past the block's end) into `later`, which
    /// must be empty, re-timed from the next block's start.
    pub fn carry_over(&mut self, len: u32, later: &mut Events) {
        let keep = self.as_slice().partition_point(|e| e.timing < len);
        for event in &self.as_slice()[keep..] {
            later.push(Generated {
                timing: event.timing - len,
                ..*event
            });
        }
        self.list.truncate(keep);
    }

    /// Puts the events in time order, keeping the order of events at the same time (a note-off
    /// before the note-on that follows it): an insertion sort, in place, as nothing here may
    /// allocate. Lists are short and nearly sorted.
    pub fn sort(&mut self) {
        let list = self.list.as_mut_slice();
        for i in 1..list.len() {
            let mut j = i;
            while j > 0 && list[j - 1].timing > list[j].timing {
                list.swap(j - 1, j);
                j -= 1;
            }
        }
    }

    /// Appends `earlier`'s events (carried over from the last block) and empties it.
    pub fn take(&mut self, earlier: &mut Events) {
        for &event in earlier.as_slice() {
            self.push(event);
        }
        earlier.clear();
    }
}

/// Input events kept per block; any beyond are dropped (hosts send a handful per block).
pub const MAX_INPUT_EVENTS: usize = 1024;

/// One block's input events, read once from the host and used twice: pushed to the engines
/// before the chords are looked up, then forwarded (MIDI thru).
#[derive(Default)]
pub struct Inbox {
    /// `Option` only because nice-plug's events have no default to fill the array with.
    list: FixedList<Option<NoteEvent<()>>, MAX_INPUT_EVENTS>,
}

impl Inbox {
    /// Takes every input event of this block from the host.
    pub fn fill<P: Plugin<SysExMessage = ()>>(&mut self, context: &mut impl ProcessContext<P>) {
        self.list.clear();
        while let Some(event) = context.next_event() {
            self.list.push(Some(event));
        }
    }

    pub fn events(&self) -> impl Iterator<Item = &NoteEvent<()>> {
        self.list.as_slice().iter().flatten()
    }
}

/// How the notes are played: velocity, and how much it and the timing vary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Feel {
    /// The MIDI channel new notes start on (a note ends on the channel it started on).
    pub channel: u8,
    pub velocity: u8,
    /// Velocity varies by up to this much either way.
    pub velocity_spread: u8,
    /// Notes come up to this many samples late (never early: the grid is the earliest a step is
    /// known to the audio thread).
    pub max_delay: u32,
}

impl Default for Feel {
    fn default() -> Self {
        Self {
            channel: 0,
            velocity: 100,
            velocity_spread: 0,
            max_delay: 0,
        }
    }
}

/// The sounding note of the generated line, if any, and the feel it is played with.
#[derive(Debug)]
pub struct Player {
    /// Its key and channel.
    sounding: Option<(u8, u8)>,
    pub feel: Feel,
    rng: Rng,
    /// The time of the last event in this block: events never go out before it, so a humanised
    /// note-on carried into the next block still precedes the note-off that ends it.
    last: u32,
}

impl Default for Player {
    fn default() -> Self {
        Self {
            sounding: None,
            feel: Feel::default(),
            rng: Rng::new(0x6875_6d61_6e69_7365),
            last: 0,
        }
    }
}

impl Player {
    /// Applies a token at `timing`: NOTE_ON ends the previous note and starts its own, REST ends
    /// it, HOLD changes nothing. Both events of one step share one humanised delay.
    pub fn play(&mut self, token: u32, timing: u32, out: &mut Events) {
        let event = MelodyEvent::from_token(token);
        if matches!(event, None | Some(MelodyEvent::Hold)) {
            return;
        }
        let delay = match self.feel.max_delay {
            0 => 0,
            max => self.rng.below(max as usize + 1) as u32,
        };
        let at = timing.saturating_add(delay);
        self.release(at, out);
        if let Some(MelodyEvent::NoteOn(key)) = event {
            let spread = i32::from(self.feel.velocity_spread);
            let jitter = if spread > 0 {
                self.rng.below(2 * spread as usize + 1) as i32 - spread
            } else {
                0
            };
            let velocity = (i32::from(self.feel.velocity) + jitter).clamp(1, 127) as u8;
            self.last = self.last.max(at);
            let channel = self.feel.channel;
            out.push(Generated {
                timing: self.last,
                key,
                channel,
                on: true,
                velocity,
            });
            self.sounding = Some((key, channel));
        }
    }

    /// The key sounding now, if any.
    pub fn sounding_key(&self) -> Option<u8> {
        self.sounding.map(|(key, _)| key)
    }

    /// Ends the sounding note, if any, at `timing` (or after the last event, if that is later).
    pub fn release(&mut self, timing: u32, out: &mut Events) {
        if let Some((key, channel)) = self.sounding.take() {
            self.last = self.last.max(timing);
            out.push(Generated {
                timing: self.last,
                key,
                channel,
                on: false,
                velocity: 0,
            });
        }
    }

    /// The block of `len` samples is over: times now count from the next one.
    pub fn end_block(&mut self, len: u32) {
        self.last = self.last.saturating_sub(len);
    }
}

impl Generated {
    /// The event as nice-plug sends it.
    pub fn to_note_event<S>(self) -> NoteEvent<S> {
        let (timing, voice_id, channel, key) = (
            self.timing,
            VoiceID::Wildcard,
            Channel::Number(self.channel),
            Key::Number(self.key),
        );
        if self.on {
            NoteEvent::NoteOn {
                timing,
                voice_id,
                channel,
                key,
                velocity: f32::from(self.velocity) / 127.0,
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
        let velocity = if on { 100 } else { 0 };
        Generated {
            timing,
            key,
            channel: 0,
            on,
            velocity,
        }
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

/// The player's notes forwarded (MIDI thru) and not yet released, by channel and key: when the
/// plugin is disabled it forwards nothing new, but still the note-offs of these, so no key the
/// player held is left sounding downstream.
#[derive(Debug, Default)]
pub struct Thru {
    held: [u128; 16],
}

impl Thru {
    /// Whether to forward `event` (when `enabled`, everything), remembering held keys.
    pub fn forward<S>(&mut self, event: &NoteEvent<S>, enabled: bool) -> bool {
        match *event {
            NoteEvent::NoteOn {
                channel: Channel::Number(channel),
                key: Key::Number(key),
                ..
            } if enabled => {
                self.set(channel, key, true);
                true
            }
            NoteEvent::NoteOff {
                channel: Channel::Number(channel),
                key: Key::Number(key),
                ..
            } => {
                let held = self.is_held(channel, key);
                self.set(channel, key, false);
                enabled || held
            }
            _ => enabled,
        }
    }

    fn is_held(&self, channel: u8, key: u8) -> bool {
        let (c, k) = (usize::from(channel & 15), u32::from(key & 127));
        self.held[c] & (1 << k) != 0
    }

    fn set(&mut self, channel: u8, key: u8, held: bool) {
        let (c, k) = (usize::from(channel & 15), u32::from(key & 127));
        if held {
            self.held[c] |= 1 << k;
        } else {
            self.held[c] &= !(1 << k);
        }
    }
}

#[cfg(test)]
mod humanise_tests {
    use super::*;

    /// Humanised, a line of notes stays in order across blocks, every note-on is followed by its
    /// note-off, delays stay within the maximum, and velocities within the spread.
    #[test]
    fn humanised_notes_stay_ordered_and_paired_across_blocks() {
        let mut player = Player {
            feel: Feel {
                channel: 0,
                velocity: 100,
                velocity_spread: 10,
                max_delay: 40,
            },
            ..Player::default()
        };
        let (mut out, mut carried) = (Events::default(), Events::default());
        let mut absolute = Vec::new();
        let block = 25u32; // shorter than the delay: events carry over
        for b in 0..200u32 {
            out.clear();
            out.take(&mut carried);
            // A step every 30 samples, a note on every other one.
            for t in (0..block).filter(|t| (b * block + t).is_multiple_of(30)) {
                let step = (b * block + t) / 30;
                let token = if step.is_multiple_of(2) {
                    MelodyEvent::NoteOn(60 + (step % 12) as u8).token()
                } else {
                    crate::music::melody::HOLD_TOKEN
                };
                player.play(token, t, &mut out);
            }
            if b == 199 {
                player.release(0, &mut out);
            }
            out.carry_over(block, &mut carried);
            player.end_block(block);
            for e in out.as_slice() {
                assert!(e.timing < block);
                absolute.push((b * block + e.timing, *e));
            }
        }
        out.clear();
        out.take(&mut carried);
        absolute.extend(out.as_slice().iter().map(|e| (200 * block + e.timing, *e)));
        assert!(
            absolute.windows(2).all(|w| w[0].0 <= w[1].0),
            "events out of order"
        );
        let mut sounding = None;
        for (time, e) in &absolute {
            if e.on {
                assert_eq!(sounding, None, "a note-on while another sounds at {time}");
                assert!((90..=110).contains(&e.velocity));
                let grid = time - time % 60;
                assert!(
                    time - grid <= 40,
                    "note at {time} more than 40 samples late"
                );
                sounding = Some(e.key);
            } else {
                assert_eq!(sounding.take(), Some(e.key), "a stray note-off at {time}");
            }
        }
        assert_eq!(sounding, None);
        let velocities: std::collections::BTreeSet<_> = absolute
            .iter()
            .filter(|(_, e)| e.on)
            .map(|(_, e)| e.velocity)
            .collect();
        assert!(
            velocities.len() > 5,
            "velocity does not vary: {velocities:?}"
        );
    }
}

#[cfg(test)]
mod thru_tests {
    use super::*;

    fn note<S>(on: bool, channel: u8, key: u8) -> NoteEvent<S> {
        let velocity = if on { 127 } else { 0 };
        Generated {
            timing: 0,
            key,
            channel,
            on,
            velocity,
        }
        .to_note_event()
    }

    #[test]
    fn disabled_it_forwards_only_the_releases_of_keys_held_thru() {
        let mut thru = Thru::default();
        assert!(thru.forward(&note::<()>(true, 1, 60), true));
        assert!(thru.forward(&note::<()>(true, 2, 64), true));
        // Disabled: new notes are not forwarded, held ones are released once.
        assert!(!thru.forward(&note::<()>(true, 1, 67), false));
        assert!(thru.forward(&note::<()>(false, 1, 60), false));
        assert!(!thru.forward(&note::<()>(false, 1, 60), false));
        assert!(!thru.forward(&note::<()>(false, 1, 67), false));
        assert!(thru.forward(&note::<()>(false, 2, 64), false));
    }
}
