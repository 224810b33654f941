//! What the audio thread and the engine's worker say to each other, and the audio side of the
//! protocol that keeps the two in step.
//!
//! # Two queues, one each way
//!
//! The threads share nothing but two lock-free single-producer single-consumer queues (rtrb):
//! [`Input`]s go from the audio thread to the worker, [`GeneratedStep`]s come back. Every input
//! kind shares one queue so that the worker sees them in the order the audio thread pushed them:
//! a note played just after a loop wrapped is placed on the loop's new steps, a parameter change
//! pushed before a jump applies to the steps after it, and so on. No message needs an answer;
//! when a queue is full the push fails ([`QueueFull`]) instead of waiting.
//!
//! # Why the playhead travels as messages
//!
//! The audio thread reports every step it plays as [`Input::Played`] rather than storing the
//! playhead in an `AtomicU64`. In the same queue as the transport events, a report is always
//! read in the coordinates it was made in: an atomic could show the worker a step from after a
//! jump whose [`Input::Transport`] it has not dequeued yet. The report also carries the token that
//! actually sounded, so the model remembers what was heard even when a regenerated step arrived
//! too late (see below). A lost report costs nothing: the next one carries the absolute step.
//!
//! # The protocol
//!
//! Step indices are absolute, as the clock counts them ([`crate::engine::clock`]). The worker
//! keeps steps ready up to the lookahead `K` past the last step reported played, and sends each
//! once, in order, stamped with two counters:
//!
//! * `generation` changes when the worker *rolls back*: a played note, a parameter change or a
//!   correction may have invalidated steps it had already sent. It regenerates them from the recurrent state
//!   saved at the rollback step and re-sends from there, in increasing order, with a newer
//!   generation. So the first step of a newer generation says "from this step on, forget what I
//!   sent you before". Steps of an older generation that arrive after a newer one are stale.
//!   Counters wrap; "newer" is serial-number arithmetic ([`is_newer`]).
//! * `epoch` counts the transport events the worker has dequeued. A transport event moves the
//!   playhead, not the music: after a loop wraps or the host jumps, the continuation the worker
//!   had ready plays on from the new position, so it is there on the loop's first step instead of
//!   a worker round trip later. Both sides move it the same way: the audio side moves the steps
//!   it holds as it pushes the event ([`Received::transport`]); the worker moves its own copy when
//!   it dequeues the event and sends it again under the new epoch, which also covers steps that
//!   were still in the queue. So the audio side simply drops every step of another epoch.
//!
//! [`Received`] is that audio side, ready made: [`crate::engine::worker::EngineHandle::play_step`]
//! drains the queue into it and looks up each step as the clock reaches it.
//!
//! # Memory ordering
//!
//! This module adds no atomics. Every byte that crosses threads goes through rtrb, whose push
//! writes the slot and then publishes it with a `Release` store of the tail index, and whose pop
//! reads the tail with an `Acquire` load before reading the slot: a message is visible in full
//! before its index is, and the slot is handed back (the head index, the same pairing the other
//! way) only after it was read. Shutdown rides on rtrb's "abandoned" flag: dropping one end sets
//! it with a `Release` read-modify-write, and the worker polls it with an `Acquire` load, so
//! whatever the audio side did before the drop is visible to the worker when it sees the flag.

use super::clock::TransportEvent;
use super::sampler::SamplingSettings;
use crate::music::melody::{MAX_PITCH, MIN_PITCH};

/// The most steps the worker keeps ready ahead of the playhead; [`Params::lookahead`] is clamped
/// to `1..=MAX_LOOKAHEAD`. 64 sixteenths are four bars: far more than any host block.
pub const MAX_LOOKAHEAD: u32 = 64;

/// How the model and the player share the line. In every mode but [`Mode::Solo`], a key the
/// player holds has the line (the model's voice rests and the model hears the note), and so does
/// the gap after its release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The model plays on, primed by whatever the player plays: after the player's release and
    /// [`Params::reply_after`] steps of silence it continues from the end of the player's phrase.
    #[default]
    Continue,
    /// Call and response: the model keeps quiet until the player has played a phrase, then
    /// answers after the gap (or at the next bar line, [`Params::answer_at_bar`]) for
    /// [`Params::answer_length`] steps, in the register of the phrase, and falls quiet again.
    Answer,
    /// The model plays on its own and does not listen to the player.
    Solo,
}

/// Everything that shapes generation, as one `Copy` snapshot. Push a new one when any field
/// changes; the worker regenerates the steps not yet played unless only the lookahead changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub sampling: SamplingSettings,
    /// Allowed pitch classes, C = 0: the key and scale.
    pub pitch_classes: [bool; 12],
    /// Lowest and highest pitch the model may start (MIDI numbers, inclusive).
    pub lowest: u8,
    pub highest: u8,
    /// Steps kept ready past the last step played, clamped to `1..=`[`MAX_LOOKAHEAD`]. More
    /// absorbs worker hiccups; fewer makes a played note or a parameter reach the output sooner
    /// when the worker is late (normally it answers within a millisecond either way).
    pub lookahead: u32,
    pub mode: Mode,
    /// Steps of silence after the player's release before the model answers; 0 answers on the
    /// step after the release.
    pub reply_after: u32,
    /// In [`Mode::Answer`], the answer starts on the first bar line after the gap.
    pub answer_at_bar: bool,
    /// In [`Mode::Answer`], how many steps the answer lasts.
    pub answer_length: u32,
    /// Steps in a bar, for [`Params::answer_at_bar`]; bar lines fall on multiples of it, counted
    /// from the song's start (step 0). 0 means no bars: the answer starts after the gap.
    pub steps_per_bar: u32,
    /// Seeds the sampler at every start of the transport, and again whenever it changes.
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            sampling: SamplingSettings::default(),
            pitch_classes: [true; 12],
            lowest: MIN_PITCH,
            highest: MAX_PITCH,
            lookahead: 8,
            mode: Mode::Continue,
            reply_after: 0,
            answer_at_bar: false,
            answer_length: 32,
            steps_per_bar: 16,
            seed: 0,
        }
    }
}

impl Params {
    /// The lookahead as the worker uses it.
    pub fn clamped_lookahead(&self) -> u32 {
        self.lookahead.clamp(1, MAX_LOOKAHEAD)
    }

    /// Whether `other` would generate the same music (they differ at most in lookahead).
    pub fn same_music(&self, other: &Params) -> bool {
        Params {
            lookahead: other.lookahead,
            ..*self
        } == *other
    }
}

/// A key the player pressed or released, at the step the clock placed it on
/// ([`crate::engine::clock::step_at_sample`]). Push them in the order they were played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayerNote {
    On { step: u64, pitch: u8 },
    Off { step: u64, pitch: u8 },
}

/// A message from the audio thread to the worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Input {
    Note(PlayerNote),
    Transport(TransportEvent),
    Params(Params),
    /// The audio thread played `step`, sounding `token` (HOLD when it had no step to play).
    Played {
        step: u64,
        token: u32,
    },
}

/// A step the worker generated: what the model's voice does at `step`. A melody-event token:
/// NOTE_ON starts a note (ending the one before), REST ends it, HOLD changes nothing. Steps the
/// player owns come as REST: the model's voice keeps quiet while the player has the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneratedStep {
    pub step: u64,
    pub token: u32,
    /// Which rollback this step belongs to; see the module documentation.
    pub generation: u32,
    /// How many transport events the worker had seen; see the module documentation.
    pub epoch: u32,
}

/// A push refused because the queue was full; the message was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the engine's queue is full")]
pub struct QueueFull;

/// Whether generation `a` is newer than `b`, counters wrapping: `a` is newer when it lies less
/// than half the counter's range ahead of `b` (RFC 1982's serial-number arithmetic).
pub fn is_newer(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Slots in [`Received`]: more than a lookahead's span of steps, so a step is never overwritten
/// before it is played.
pub const RECEIVED_SLOTS: usize = 2 * MAX_LOOKAHEAD as usize;

/// The audio side of the protocol: the steps received and not yet superseded, in a fixed array
/// indexed by step (no allocation). See the module documentation for the rules it applies.
#[derive(Debug, Clone)]
pub struct Received {
    slots: [Option<GeneratedStep>; RECEIVED_SLOTS],
    /// Transport events pushed so far: the epoch of the steps worth keeping.
    epoch: u32,
    /// The newest generation seen; `None` before the first step.
    generation: Option<u32>,
}

impl Default for Received {
    fn default() -> Self {
        Self {
            slots: [None; RECEIVED_SLOTS],
            epoch: 0,
            generation: None,
        }
    }
}

impl Received {
    fn slot(step: u64) -> usize {
        (step % RECEIVED_SLOTS as u64) as usize
    }

    /// Files a step from the worker, or drops it when it is stale.
    pub fn receive(&mut self, step: GeneratedStep) {
        if step.epoch != self.epoch {
            return;
        }
        match self.generation {
            Some(latest) if latest == step.generation => {}
            Some(latest) if is_newer(latest, step.generation) => return,
            _ => {
                // The first step of a newer generation: it and everything after it replace what
                // the older generations said.
                self.generation = Some(step.generation);
                for slot in &mut self.slots {
                    if slot.is_some_and(|old| old.step >= step.step) {
                        *slot = None;
                    }
                }
            }
        }
        self.slots[Self::slot(step.step)] = Some(step);
    }

    /// The token received for `step`, if any.
    pub fn get(&self, step: u64) -> Option<u32> {
        self.slots[Self::slot(step)]
            .filter(|s| s.step == step)
            .map(|s| s.token)
    }

    /// Applies a transport event the audio thread is pushing: a new epoch, and the steps ready
    /// past the old playhead move to the new one (a stop drops them: the next start is a new take,
    /// which the worker prepares from step 0 on).
    pub fn transport(&mut self, event: TransportEvent) {
        self.epoch = self.epoch.wrapping_add(1);
        let (from, to) = match event {
            TransportEvent::Stopped => {
                self.slots = [None; RECEIVED_SLOTS];
                return;
            }
            TransportEvent::Started { step } => (0, step),
            TransportEvent::Jump { from_step, to_step }
            | TransportEvent::Loop { from_step, to_step } => (from_step, to_step),
        };
        let old = std::mem::replace(&mut self.slots, [None; RECEIVED_SLOTS]);
        for step in old.into_iter().flatten() {
            if step.step >= from {
                let moved = to + (step.step - from);
                self.slots[Self::slot(moved)] = Some(GeneratedStep {
                    step: moved,
                    epoch: self.epoch,
                    ..step
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(step: u64, token: u32, generation: u32, epoch: u32) -> GeneratedStep {
        GeneratedStep {
            step,
            token,
            generation,
            epoch,
        }
    }

    #[test]
    fn generations_compare_across_the_wrap() {
        assert!(is_newer(1, 0) && !is_newer(0, 1) && !is_newer(5, 5));
        assert!(is_newer(0, u32::MAX) && is_newer(3, u32::MAX - 3));
    }

    #[test]
    fn a_newer_generation_replaces_its_steps_on_and_stale_steps_are_dropped() {
        let mut received = Received::default();
        for s in 0..8 {
            received.receive(step(s, 10 + s as u32, 0, 0));
        }
        received.receive(step(5, 99, 1, 0));
        assert_eq!(received.get(4), Some(14));
        assert_eq!(received.get(5), Some(99));
        assert_eq!(received.get(6), None);
        received.receive(step(6, 16, 0, 0)); // sent before the rollback, arrived after
        assert_eq!(received.get(6), None);
        received.receive(step(6, 98, 1, 0));
        assert_eq!(received.get(6), Some(98));
    }

    #[test]
    fn a_loop_moves_the_steps_ready_and_other_epochs_are_dropped() {
        let mut received = Received::default();
        for s in 30..36 {
            received.receive(step(s, s as u32, 3, 0));
        }
        received.transport(TransportEvent::Loop {
            from_step: 32,
            to_step: 0,
        });
        assert_eq!(received.get(0), Some(32));
        assert_eq!(received.get(3), Some(35));
        assert_eq!(received.get(30), None);
        received.receive(step(36, 36, 3, 0)); // from before the loop: the worker re-sends it
        assert_eq!(received.get(4), None);
        received.receive(step(4, 36, 3, 1));
        assert_eq!(received.get(4), Some(36));
        received.transport(TransportEvent::Stopped);
        assert_eq!(received.get(0), None);
        received.receive(step(0, 7, 3, 2)); // the next take, prepared from step 0
        received.transport(TransportEvent::Started { step: 64 });
        assert_eq!(received.get(64), Some(7));
    }

    #[test]
    fn params_differing_only_in_lookahead_make_the_same_music() {
        let a = Params::default();
        assert!(a.same_music(&Params { lookahead: 30, ..a }));
        assert!(!a.same_music(&Params { seed: 1, ..a }));
        assert_eq!(Params { lookahead: 0, ..a }.clamped_lookahead(), 1);
        assert_eq!(
            Params {
                lookahead: 1000,
                ..a
            }
            .clamped_lookahead(),
            MAX_LOOKAHEAD
        );
    }
}
