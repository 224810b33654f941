//! The worker thread: it owns the model and its recurrent state, keeps generated steps ready a
//! lookahead ahead of the playhead, and rolls back when the player or the parameters change what
//! should come next. The audio thread reaches it only through [`EngineHandle`], whose methods
//! never allocate, lock or block; the queues and the protocol are in [`super::messages`].
//!
//! # The line
//!
//! The worker keeps one monophonic melody-event line, one token per step, which is what the
//! model has heard: its own steps and, in [`Mode::Continue`], the player's. Each step it
//! generates goes into a ring of [`RING`] entries, preallocated, holding the token, whose step it
//! is (model's or player's), and the recurrent state and logits from just *before* that step. So
//! rolling back to any step in the ring is two copies, and regenerating from there is the
//! ordinary loop. The ring spans [`HISTORY`] steps behind the playhead and the lookahead ahead.
//!
//! Who owns a step is a pure function of the player's last note (`Phrase`): its onset is
//! NOTE_ON, the steps while the key is held are HOLD, the release is REST, then HOLD for
//! [`Params::reply_after`] steps; every other step is the model's, sampled. Because it is a
//! function, any regeneration reproduces the player's steps exactly. A played note rolls back to
//! its step (or its release's), a parameter change to the first step not yet played, and a
//! report of a step that sounded differently from the line (a regenerated step came too late)
//! to that step, which takes the token that sounded.
//!
//! # Transport
//!
//! The worker starts stopped, with a take prepared from the zero state at steps `0..K`. `Started
//! { step }` moves that take to `step`; `Jump` and `Loop` move the steps ready past the old
//! playhead to the new one, the recurrent state going on as if the song had: the music continues
//! across a loop instead of restarting. `Stopped` prepares the next take (zero state, sampler
//! reseeded), so that pressing play again in a host gives the same take.
//!
//! # Threads
//!
//! The worker runs until the handle is dropped: it sees rtrb's abandonment flag (see the memory
//! ordering notes in [`super::messages`]). With nothing to do it sleeps [`POLL`]: the audio
//! thread cannot wake it (an unpark is a system call, which `process()` may not make), so it
//! polls: two thousand cheap wake-ups a second, and an answer within a millisecond.

use super::clock::TransportEvent;
use super::messages::{
    GeneratedStep, Input, MAX_LOOKAHEAD, Mode, Params, PlayerNote, QueueFull, Received,
};
use super::sampler::{Sampler, melody_mask};
use crate::model::Model;
use crate::model::fast::{FastNetwork, FastState};
use crate::music::Encoding;
use crate::music::melody::{HOLD_TOKEN, MelodyEvent, REST_TOKEN, VOCAB_SIZE, fold_pitch};
use rtrb::{Consumer, Producer, RingBuffer};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How long the worker sleeps when it has nothing to do.
pub const POLL: Duration = Duration::from_micros(500);

/// Steps kept behind the playhead, to roll back to: notes land on the step being played or the
/// next, and reports of played steps come a block late at most.
pub const HISTORY: u64 = 16;

/// Entries in the worker's ring: the history and the longest lookahead.
pub const RING: usize = HISTORY as usize + MAX_LOOKAHEAD as usize;

/// What the worker needs of a model: one token in, next-token logits out, on a state it can
/// copy. [`FastNetwork`] is the real one; tests use fakes.
pub trait StepModel: Send + 'static {
    type State: Send;
    fn vocab_size(&self) -> usize;
    /// A zero state: the one allocation per state.
    fn new_state(&self) -> Self::State;
    fn reset(&self, state: &mut Self::State);
    /// Makes `to` a copy of `from` without allocating.
    fn copy_state(&self, to: &mut Self::State, from: &Self::State);
    /// Feeds `token` and returns the logits of the next one.
    fn step<'s>(&self, token: u32, state: &'s mut Self::State) -> &'s [f32];
}

impl StepModel for FastNetwork {
    type State = FastState;

    fn vocab_size(&self) -> usize {
        FastNetwork::vocab_size(self)
    }

    fn new_state(&self) -> FastState {
        FastNetwork::new_state(self)
    }

    fn reset(&self, state: &mut FastState) {
        FastNetwork::reset(self, state);
    }

    fn copy_state(&self, to: &mut FastState, from: &FastState) {
        to.copy_from(from);
    }

    fn step<'s>(&self, token: u32, state: &'s mut FastState) -> &'s [f32] {
        FastNetwork::step(self, token, state)
    }
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the engine plays melody-event models; this model uses another encoding")]
    NotMelodyEvents,
    #[error("the model has {0} tokens; melody events have {VOCAB_SIZE}")]
    Vocabulary(usize),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error("could not start the engine thread: {0}")]
    Thread(std::io::Error),
}

/// Starts engines.
pub struct Engine;

impl Engine {
    /// Starts a worker for a melody-event model, with `capacity` messages in each queue (a few
    /// blocks' worth of inputs, and at least twice the lookahead). The worker starts stopped,
    /// preparing a take; see the module documentation.
    pub fn spawn(
        model: &Model,
        params: Params,
        capacity: usize,
    ) -> Result<(EngineHandle, WorkerJoin), EngineError> {
        if !matches!(model.card.encoding, Encoding::MelodyEvents { .. }) {
            return Err(EngineError::NotMelodyEvents);
        }
        Self::spawn_with(FastNetwork::from_network(&model.network)?, params, capacity)
    }

    /// [`Engine::spawn`] for any [`StepModel`] over the melody-event vocabulary.
    pub fn spawn_with<M: StepModel>(
        model: M,
        params: Params,
        capacity: usize,
    ) -> Result<(EngineHandle, WorkerJoin), EngineError> {
        if model.vocab_size() != VOCAB_SIZE {
            return Err(EngineError::Vocabulary(model.vocab_size()));
        }
        let (inputs, worker_inputs) = RingBuffer::new(capacity.max(1));
        let (worker_outputs, outputs) = RingBuffer::new(capacity.max(1));
        let worker = Worker::new(model, params, worker_inputs, worker_outputs);
        let thread = thread::Builder::new()
            .name("cantus-engine".into())
            .spawn(move || worker.run())
            .map_err(EngineError::Thread)?;
        let handle = EngineHandle {
            inputs,
            outputs,
            received: Received::default(),
        };
        Ok((handle, WorkerJoin(thread)))
    }
}

/// The audio thread's end of the engine. No method allocates, locks or blocks; pushes fail with
/// [`QueueFull`] instead of waiting. Drop it outside the audio thread: the worker then exits.
pub struct EngineHandle {
    inputs: Producer<Input>,
    outputs: Consumer<GeneratedStep>,
    received: Received,
}

impl EngineHandle {
    /// A key the player pressed or released.
    pub fn push_note(&mut self, note: PlayerNote) -> Result<(), QueueFull> {
        self.push(Input::Note(note))
    }

    /// A transport event from the clock, in the order the clock reported it.
    pub fn push_transport(&mut self, event: TransportEvent) -> Result<(), QueueFull> {
        self.push(Input::Transport(event))?;
        self.received.transport(event);
        Ok(())
    }

    /// New parameters; push only when they change (each change regenerates the lookahead).
    pub fn push_params(&mut self, params: Params) -> Result<(), QueueFull> {
        self.push(Input::Params(params))
    }

    /// Reports that `step` was played, sounding `token`: the playhead. [`EngineHandle::play_step`]
    /// calls it for you.
    pub fn played(&mut self, step: u64, token: u32) -> Result<(), QueueFull> {
        self.push(Input::Played { step, token })
    }

    /// The next raw message from the worker, bypassing the protocol. For tests and tools: the
    /// audio thread uses [`EngineHandle::play_step`], and must not mix the two.
    pub fn pop_step(&mut self) -> Option<GeneratedStep> {
        self.outputs.pop().ok()
    }

    /// The token received for `step`, if it has come: drains the queue, applying the protocol.
    pub fn token_at(&mut self, step: u64) -> Option<u32> {
        while let Ok(step) = self.outputs.pop() {
            self.received.receive(step);
        }
        self.received.get(step)
    }

    /// The token to play at `step` (HOLD when none has come), reported as played. Call it once
    /// per step the clock schedules, in order.
    pub fn play_step(&mut self, step: u64) -> u32 {
        let token = self.token_at(step).unwrap_or(HOLD_TOKEN);
        // A lost report costs nothing: the next one carries the absolute step.
        let _ = self.played(step, token);
        token
    }

    fn push(&mut self, input: Input) -> Result<(), QueueFull> {
        self.inputs.push(input).map_err(|_| QueueFull)
    }
}

/// The worker thread, to join after dropping the [`EngineHandle`].
pub struct WorkerJoin(JoinHandle<()>);

impl WorkerJoin {
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }

    /// Waits for the worker to exit; `Err` if it panicked.
    pub fn join(self) -> thread::Result<()> {
        self.0.join()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Model,
    Player,
}

/// One step of the line, with what the model looked like just before it.
struct Entry<S> {
    token: u32,
    owner: Owner,
    before: S,
    logits: Vec<f32>,
}

/// The player's last note: it owns the steps from its onset to `reply_after` steps after its
/// release (see the module documentation).
#[derive(Debug, Clone, Copy)]
struct Phrase {
    /// The key as played, to match its release.
    pitch: u8,
    /// Its NOTE_ON token (the pitch folded into range).
    token: u32,
    onset: u64,
    release: Option<u64>,
}

struct Worker<M: StepModel> {
    model: M,
    /// The state after every step of the line before `end`, and the logits it gave.
    state: M::State,
    logits: Vec<f32>,
    /// Steps `first..end`; step `first` lives at index `head`.
    ring: Vec<Entry<M::State>>,
    head: usize,
    first: u64,
    end: u64,
    /// The next step to send.
    sent: u64,
    /// The step after the last one reported played.
    next_to_play: u64,
    running: bool,
    generation: u32,
    epoch: u32,
    params: Params,
    mask: Vec<bool>,
    sampler: Sampler,
    phrase: Option<Phrase>,
    inputs: Consumer<Input>,
    outputs: Producer<GeneratedStep>,
}

impl<M: StepModel> Worker<M> {
    fn new(
        model: M,
        params: Params,
        inputs: Consumer<Input>,
        outputs: Producer<GeneratedStep>,
    ) -> Self {
        let vocab = model.vocab_size();
        let ring = (0..RING)
            .map(|_| Entry {
                token: HOLD_TOKEN,
                owner: Owner::Model,
                before: model.new_state(),
                logits: vec![0.0; vocab],
            })
            .collect();
        let mut worker = Worker {
            state: model.new_state(),
            logits: vec![0.0; vocab],
            ring,
            head: 0,
            first: 0,
            end: 0,
            sent: 0,
            next_to_play: 0,
            running: false,
            generation: 0,
            epoch: 0,
            mask: melody_mask(params.pitch_classes, params.lowest, params.highest),
            sampler: Sampler::new(vocab, params.seed).with_melody_events(true),
            params,
            phrase: None,
            model,
            inputs,
            outputs,
        };
        worker.fresh_take();
        worker
    }

    fn run(mut self) {
        while !self.inputs.is_abandoned() {
            let mut busy = false;
            while let Ok(input) = self.inputs.pop() {
                self.handle(input);
                busy = true;
            }
            busy |= self.send();
            // One step at a time, so that inputs are looked at between steps.
            if self.end < self.next_to_play + u64::from(self.params.clamped_lookahead()) {
                self.generate();
                busy = true;
            }
            if !busy {
                thread::sleep(POLL);
            }
        }
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Played { step, token } => self.played(step, token),
            Input::Note(note) if self.running && self.params.mode == Mode::Continue => {
                self.note(note)
            }
            Input::Note(_) => {}
            Input::Params(params) => self.set_params(params),
            Input::Transport(event) => self.transport(event),
        }
    }

    fn transport(&mut self, event: TransportEvent) {
        // The audio side counts the same events in the same order (`Received::transport`).
        self.epoch = self.epoch.wrapping_add(1);
        match event {
            TransportEvent::Stopped => {
                self.running = false;
                self.fresh_take();
            }
            TransportEvent::Started { step } => {
                if self.running {
                    // Started without a stop: the audio side moved the old take; replace it.
                    self.fresh_take();
                    self.generation = self.generation.wrapping_add(1);
                }
                self.move_to(0, step);
                self.running = true;
            }
            TransportEvent::Jump { from_step, to_step }
            | TransportEvent::Loop { from_step, to_step } => self.move_to(from_step, to_step),
        }
    }

    /// A new take from step 0: zero state fed the start context, sampler reseeded.
    fn fresh_take(&mut self) {
        self.model.reset(&mut self.state);
        // REST is the context melody events start from (see `generate::start_token`).
        let logits = self.model.step(REST_TOKEN, &mut self.state);
        self.logits.copy_from_slice(logits);
        self.sampler.reseed(self.params.seed);
        self.sampler.forget();
        self.phrase = None;
        (
            self.head,
            self.first,
            self.end,
            self.sent,
            self.next_to_play,
        ) = (0, 0, 0, 0, 0);
    }

    /// Renumbers the steps ready from `from` on to start at `to`, as the audio side does, and sends
    /// them again under the new epoch; steps before `from` (played) are forgotten.
    fn move_to(&mut self, from: u64, to: u64) {
        let kept_from = from.clamp(self.first, self.end);
        if kept_from != from {
            // Not what the audio side moved: make it drop what it moved.
            self.generation = self.generation.wrapping_add(1);
        }
        self.head = self.slot(kept_from);
        self.end = to + (self.end - kept_from);
        (self.first, self.sent, self.next_to_play) = (to, to, to);
        // A key held across the move is forgotten: its steps are not where they were.
        self.phrase = None;
    }

    fn played(&mut self, step: u64, token: u32) {
        if !self.running || step < self.first || token as usize >= self.logits.len() {
            return;
        }
        if step >= self.end + RING as u64 {
            // Far past anything generated (the worker starved, or an event was lost): go on from
            // there with the state the worker has.
            self.generation = self.generation.wrapping_add(1);
            self.move_to(self.end, step);
        }
        while self.end <= step {
            self.generate();
        }
        self.next_to_play = self.next_to_play.max(step + 1);
        let entry = &self.ring[self.slot(step)];
        if entry.owner == Owner::Model && entry.token != token {
            // What sounded is what the model must remember.
            self.rollback(step);
            self.push(token, Owner::Model);
        }
        let keep_from = self.next_to_play.saturating_sub(HISTORY).min(self.end);
        if keep_from > self.first {
            self.head = self.slot(keep_from);
            self.first = keep_from;
        }
    }

    fn note(&mut self, note: PlayerNote) {
        let phrase = match note {
            PlayerNote::On { step, pitch } => Phrase {
                pitch,
                token: MelodyEvent::NoteOn(fold_pitch(pitch).0).token(),
                onset: step.max(self.first),
                release: None,
            },
            PlayerNote::Off { step, pitch } => match self.phrase {
                Some(held) if held.pitch == pitch && held.release.is_none() => Phrase {
                    // A note shorter than a step still takes its step.
                    release: Some(step.max(held.onset + 1)),
                    ..held
                },
                _ => return, // not the key that has the line
            },
        };
        let at = phrase.release.unwrap_or(phrase.onset);
        if at > self.next_to_play + u64::from(MAX_LOOKAHEAD) {
            return; // not a step the audio thread can be playing
        }
        // Steps before the note follow the phrase as it was.
        while self.end < at {
            self.generate();
        }
        if phrase.release.is_none() {
            self.sampler.observe(phrase.token);
        }
        self.phrase = Some(phrase);
        self.rollback(at);
    }

    fn set_params(&mut self, params: Params) {
        let old = std::mem::replace(&mut self.params, params);
        if params.seed != old.seed {
            self.sampler.reseed(params.seed);
        }
        if (params.pitch_classes, params.lowest, params.highest)
            != (old.pitch_classes, old.lowest, old.highest)
        {
            self.mask = melody_mask(params.pitch_classes, params.lowest, params.highest);
        }
        if params.mode != old.mode {
            // Keys pressed or released meanwhile went unheard.
            self.phrase = None;
        }
        if !params.same_music(&old) {
            self.rollback(self.next_to_play);
        }
    }

    /// The player's token at `step`, if the step is the player's.
    fn player_token(&self, step: u64) -> Option<u32> {
        let phrase = self.phrase.filter(|_| self.params.mode == Mode::Continue)?;
        if step < phrase.onset {
            return None;
        }
        if step == phrase.onset {
            return Some(phrase.token);
        }
        let reply_after = u64::from(self.params.reply_after);
        match phrase.release {
            None => Some(HOLD_TOKEN),
            Some(release) if step < release => Some(HOLD_TOKEN),
            Some(release) if step == release => Some(REST_TOKEN),
            Some(release) if step <= release.saturating_add(reply_after) => Some(HOLD_TOKEN),
            Some(_) => None,
        }
    }

    /// Appends the next step of the line: the player's, or sampled.
    fn generate(&mut self) {
        match self.player_token(self.end) {
            Some(token) => self.push(token, Owner::Player),
            None => {
                let settings = self.params.sampling;
                let token = self
                    .sampler
                    .sample(&self.logits, Some(&self.mask), &settings);
                self.push(token, Owner::Model);
            }
        }
    }

    /// Appends `token` at `end`, saving the state before it, and feeds it to the model.
    fn push(&mut self, token: u32, owner: Owner) {
        if self.end - self.first == RING as u64 {
            // Only when the audio side stopped reporting: forget the oldest step.
            self.head = (self.head + 1) % RING;
            self.first += 1;
        }
        let slot = self.slot(self.end);
        let entry = &mut self.ring[slot];
        self.model.copy_state(&mut entry.before, &self.state);
        entry.logits.copy_from_slice(&self.logits);
        (entry.token, entry.owner) = (token, owner);
        let logits = self.model.step(token, &mut self.state);
        self.logits.copy_from_slice(logits);
        self.end += 1;
    }

    /// Forgets the line from `step` on (clamped to the ring), restoring the state before it, and
    /// starts a new generation. (Only a rollback past the steps sent needs one, but one for every
    /// rollback is a simpler rule and costs nothing: the audio side holds no steps to drop.)
    fn rollback(&mut self, step: u64) {
        let step = step.clamp(self.first, self.end);
        if step < self.end {
            let entry = &self.ring[self.slot(step)];
            self.model.copy_state(&mut self.state, &entry.before);
            self.logits.copy_from_slice(&entry.logits);
            self.end = step;
        }
        self.sent = self.sent.min(step);
        self.generation = self.generation.wrapping_add(1);
    }

    /// Sends the steps generated and not yet sent, skipping those already played, until the
    /// queue is full. Says whether it sent any.
    fn send(&mut self) -> bool {
        self.sent = self.sent.max(self.next_to_play).max(self.first);
        let mut any = false;
        while self.sent < self.end {
            let entry = &self.ring[self.slot(self.sent)];
            let step = GeneratedStep {
                step: self.sent,
                token: match entry.owner {
                    Owner::Model => entry.token,
                    Owner::Player => REST_TOKEN,
                },
                generation: self.generation,
                epoch: self.epoch,
            };
            if self.outputs.push(step).is_err() {
                break;
            }
            self.sent += 1;
            any = true;
        }
        any
    }

    /// The ring index of `step`, one of `first..first + RING`.
    fn slot(&self, step: u64) -> usize {
        (self.head + (step - self.first) as usize) % RING
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::messages::is_newer;
    use crate::engine::sampler::SamplingSettings;
    use crate::model::{CellKind, ModelCard, NetworkConfig};
    use candle_core::Device;
    use std::time::Instant;

    /// A model whose logits favour token `n % 63` after `n` tokens: its output says how many
    /// tokens its state has seen, so it shows whether rollbacks restore the right state.
    struct Counter;

    struct Count {
        fed: u64,
        logits: Vec<f32>,
    }

    impl StepModel for Counter {
        type State = Count;

        fn vocab_size(&self) -> usize {
            VOCAB_SIZE
        }

        fn new_state(&self) -> Count {
            Count {
                fed: 0,
                logits: vec![0.0; VOCAB_SIZE],
            }
        }

        fn reset(&self, state: &mut Count) {
            state.fed = 0;
        }

        fn copy_state(&self, to: &mut Count, from: &Count) {
            to.fed = from.fed;
        }

        fn step<'s>(&self, _token: u32, state: &'s mut Count) -> &'s [f32] {
            state.fed += 1;
            state.logits.fill(0.0);
            state.logits[(state.fed % VOCAB_SIZE as u64) as usize] = 10.0;
            &state.logits
        }
    }

    /// What the counter plays at `step` of a take started at step 0: the REST context and the
    /// `step` tokens before it make `step + 1` tokens.
    fn count_token(step: u64) -> u32 {
        ((step + 1) % VOCAB_SIZE as u64) as u32
    }

    fn greedy(lookahead: u32) -> Params {
        Params {
            sampling: SamplingSettings {
                greedy: true,
                ..SamplingSettings::default()
            },
            lookahead,
            ..Params::default()
        }
    }

    const PATIENCE: Duration = Duration::from_secs(10);

    /// The audio thread, played by the test: it keeps every raw message in `log` and applies the
    /// protocol with its own [`Received`].
    struct Audio {
        handle: EngineHandle,
        join: WorkerJoin,
        received: Received,
        log: Vec<GeneratedStep>,
    }

    impl Audio {
        fn start<M: StepModel>(model: M, params: Params) -> Audio {
            let (handle, join) = Engine::spawn_with(model, params, 256).unwrap();
            Audio {
                handle,
                join,
                received: Received::default(),
                log: Vec::new(),
            }
        }

        fn drain(&mut self) {
            while let Some(step) = self.handle.pop_step() {
                self.log.push(step);
                self.received.receive(step);
            }
        }

        /// Waits until `done` holds of the log.
        fn wait_for(&mut self, what: &str, done: impl Fn(&[GeneratedStep]) -> bool) {
            let deadline = Instant::now() + PATIENCE;
            loop {
                self.drain();
                if done(&self.log) {
                    return;
                }
                assert!(Instant::now() < deadline, "waited in vain for {what}");
                thread::sleep(Duration::from_micros(200));
            }
        }

        /// Waits until a step of a generation newer than `generation` has come.
        fn wait_for_rollback(&mut self, generation: u32) {
            self.wait_for("a rollback", |log| {
                log.iter().any(|s| is_newer(s.generation, generation))
            });
        }

        /// Plays `step` once its token has come, and reports it.
        fn play(&mut self, step: u64) -> u32 {
            let deadline = Instant::now() + PATIENCE;
            loop {
                self.drain();
                if let Some(token) = self.received.get(step) {
                    self.handle.played(step, token).unwrap();
                    return token;
                }
                assert!(Instant::now() < deadline, "no token for step {step}");
                thread::sleep(Duration::from_micros(200));
            }
        }

        fn transport(&mut self, event: TransportEvent) {
            self.handle.push_transport(event).unwrap();
            self.received.transport(event);
        }

        /// Waits a while and returns what came meanwhile: for checking that nothing more does.
        fn quiet(&mut self) -> Vec<GeneratedStep> {
            let seen = self.log.len();
            thread::sleep(Duration::from_millis(100));
            self.drain();
            self.log[seen..].to_vec()
        }

        fn latest_generation(&self) -> u32 {
            self.log.last().expect("steps came").generation
        }
    }

    #[test]
    fn the_worker_fills_the_lookahead_and_no_further_in_order() {
        let mut audio = Audio::start(Counter, greedy(4));
        // Stopped, it prepares a take at steps 0..4.
        audio.wait_for("a take", |log| log.len() == 4);
        assert!(audio.quiet().is_empty());
        audio.transport(TransportEvent::Started { step: 0 });
        audio.wait_for("the take re-sent", |log| log.len() == 8);
        assert!(audio.quiet().is_empty());
        for step in 0..40 {
            assert_eq!(audio.play(step), count_token(step));
            audio.wait_for("one more step", |log| {
                log.last().is_some_and(|s| s.step == step + 4)
            });
        }
        assert!(audio.quiet().is_empty());
        let started: Vec<_> = audio.log.iter().filter(|s| s.epoch == 1).collect();
        assert!(started.iter().map(|s| s.step).eq(0..44));
        assert!(started.iter().all(|s| s.generation == 0));
        assert!(started.iter().all(|s| s.token == count_token(s.step)));
    }

    #[test]
    fn a_played_note_rolls_back_and_the_model_answers_after_it() {
        let mut audio = Audio::start(Counter, greedy(8));
        audio.transport(TransportEvent::Started { step: 0 });
        for step in 0..=3 {
            audio.play(step);
        }
        let before = audio.latest_generation();
        audio
            .handle
            .push_note(PlayerNote::On { step: 3, pitch: 60 })
            .unwrap();
        // While the key is held the line is the player's: the model's voice rests.
        audio.wait_for("the lookahead regenerated", |log| {
            log.iter()
                .any(|s| s.step == 3 + 8 && is_newer(s.generation, before))
        });
        let rolled: Vec<_> = (audio.log.iter())
            .filter(|s| is_newer(s.generation, before))
            .copied()
            .collect();
        assert!(rolled.iter().map(|s| s.step).eq(4..=11), "{rolled:?}");
        assert!(rolled.iter().all(|s| s.token == REST_TOKEN));
        let held = rolled[0].generation;
        assert!(rolled.iter().all(|s| s.generation == held));
        // The release at step 5: the model answers from step 6, its state having seen every step.
        assert_eq!(audio.play(4), REST_TOKEN);
        audio
            .handle
            .push_note(PlayerNote::Off { step: 5, pitch: 60 })
            .unwrap();
        audio.wait_for_rollback(held);
        assert_eq!(audio.play(5), REST_TOKEN);
        for step in 6..30 {
            assert_eq!(audio.play(step), count_token(step), "step {step}");
        }
    }

    #[test]
    fn the_players_notes_prime_the_model() {
        let config = NetworkConfig {
            cell: CellKind::Lstm,
            layers: 2,
            embedding: 8,
            hidden: 16,
            vocab_size: VOCAB_SIZE,
            dropout: 0.0,
        };
        let card = ModelCard::new("test", config, Encoding::melody_events(4));
        let net = Model::untrained(card, 1, &Device::Cpu).unwrap().network;
        let fast = FastNetwork::from_network(&net).unwrap();
        let mut audio = Audio::start(fast.clone(), greedy(6));
        audio.transport(TransportEvent::Started { step: 0 });
        let mut played: Vec<u32> = (0..=5).map(|step| audio.play(step)).collect();
        let generation = audio.latest_generation();
        audio
            .handle
            .push_note(PlayerNote::On { step: 5, pitch: 67 })
            .unwrap();
        audio.wait_for_rollback(generation);
        played.extend([audio.play(6), audio.play(7)]);
        let generation = audio.latest_generation();
        audio
            .handle
            .push_note(PlayerNote::Off { step: 8, pitch: 67 })
            .unwrap();
        audio.wait_for_rollback(generation);
        played.extend((8..40).map(|step| audio.play(step)));

        // What the model heard: its own steps, and the player's note at 5..8.
        let note = MelodyEvent::NoteOn(67).token();
        let line: Vec<u32> = (0..40)
            .map(|step| match step {
                5 => note,
                6 | 7 => HOLD_TOKEN,
                8 => REST_TOKEN,
                _ => played[step],
            })
            .collect();
        assert!(played[6..=8].iter().all(|&t| t == REST_TOKEN));
        // Replayed from scratch, greedy: every model step is the argmax after the line so far.
        let mut state = fast.new_state();
        let mut logits = fast.step(REST_TOKEN, &mut state).to_vec();
        for (step, &token) in line.iter().enumerate() {
            if !(5..=8).contains(&step) {
                let argmax = (0..logits.len())
                    .fold(0, |best, t| if logits[t] > logits[best] { t } else { best });
                assert_eq!(token as usize, argmax, "step {step} of {line:?}");
            }
            logits = fast.step(token, &mut state).to_vec();
        }
    }

    #[test]
    fn a_parameter_change_takes_effect_within_the_lookahead() {
        const K: u32 = 8;
        let params = Params {
            lookahead: K,
            seed: 3,
            ..Params::default()
        };
        let mut audio = Audio::start(Counter, params);
        audio.transport(TransportEvent::Started { step: 0 });
        let pitches = |tokens: &[u32]| -> Vec<u8> {
            tokens
                .iter()
                .filter_map(|&t| match MelodyEvent::from_token(t) {
                    Some(MelodyEvent::NoteOn(pitch)) => Some(pitch),
                    _ => None,
                })
                .collect()
        };
        let before: Vec<u32> = (0..40).map(|step| audio.play(step)).collect();
        assert!(pitches(&before).iter().any(|&p| p != 60));
        audio
            .handle
            .push_params(Params {
                lowest: 60,
                highest: 60,
                ..params
            })
            .unwrap();
        // Played as the audio thread would: whatever has come, without waiting for the rollback.
        let after: Vec<u32> = (40..200).map(|step| audio.play(step)).collect();
        let settled = pitches(&after[K as usize..]);
        assert!(!settled.is_empty() && settled.iter().all(|&p| p == 60));
    }

    #[test]
    fn transport_events_move_the_music_and_a_stop_prepares_a_new_take() {
        let mut audio = Audio::start(Counter, greedy(4));
        audio.transport(TransportEvent::Started { step: 0 });
        for step in 0..10 {
            audio.play(step);
        }
        audio.wait_for("the lookahead", |log| log.iter().any(|s| s.step == 13));
        // The steps ready for 10.. play at 100.. at once, and generation goes on from there.
        audio.transport(TransportEvent::Jump {
            from_step: 10,
            to_step: 100,
        });
        assert_eq!(audio.received.get(100), Some(count_token(10)));
        for step in 100..130 {
            assert_eq!(audio.play(step), count_token(step - 90), "step {step}");
        }
        audio.wait_for("the lookahead", |log| {
            log.iter().any(|s| s.epoch == 2 && s.step == 133)
        });
        // Sent from the jump on, in order (less any steps played before the worker saw the jump).
        let jumped: Vec<u64> = audio
            .log
            .iter()
            .filter(|s| s.epoch == 2)
            .map(|s| s.step)
            .collect();
        assert!(
            jumped[0] >= 100 && jumped.last() == Some(&133),
            "{jumped:?}"
        );
        assert!(jumped.windows(2).all(|w| w[1] == w[0] + 1), "{jumped:?}");
        audio.transport(TransportEvent::Loop {
            from_step: 130,
            to_step: 64,
        });
        for step in 64..70 {
            assert_eq!(audio.play(step), count_token(step - 64 + 40));
        }
        // A stop and a start somewhere else: a new take, from the zero state.
        audio.transport(TransportEvent::Stopped);
        audio.transport(TransportEvent::Started { step: 500 });
        for step in 500..520 {
            assert_eq!(audio.play(step), count_token(step - 500));
        }
    }

    #[test]
    fn a_step_that_sounded_otherwise_is_what_the_model_remembers() {
        let mut audio = Audio::start(Counter, greedy(4));
        audio.transport(TransportEvent::Started { step: 0 });
        for step in 0..3 {
            audio.play(step);
        }
        let generation = audio.latest_generation();
        // Step 3 came too late, say: nothing sounded.
        audio.wait_for("step 3", |log| log.iter().any(|s| s.step == 3));
        audio.handle.played(3, HOLD_TOKEN).unwrap();
        audio.wait_for_rollback(generation);
        let first = audio
            .log
            .iter()
            .find(|s| is_newer(s.generation, generation))
            .unwrap();
        assert_eq!(first.step, 4);
        for step in 4..10 {
            assert_eq!(audio.play(step), count_token(step));
        }
    }

    #[test]
    fn dropping_the_handle_stops_the_worker() {
        let audio = Audio::start(Counter, greedy(8));
        let Audio { handle, join, .. } = audio;
        drop(handle);
        let deadline = Instant::now() + Duration::from_secs(1);
        while !join.is_finished() {
            assert!(Instant::now() < deadline, "the worker still runs");
            thread::sleep(Duration::from_millis(1));
        }
        join.join().unwrap();
    }

    #[test]
    fn a_model_of_another_vocabulary_is_refused() {
        struct Small;
        impl StepModel for Small {
            type State = ();
            fn vocab_size(&self) -> usize {
                10
            }
            fn new_state(&self) {}
            fn reset(&self, _: &mut ()) {}
            fn copy_state(&self, _: &mut (), _: &()) {}
            fn step<'s>(&self, _: u32, _: &'s mut ()) -> &'s [f32] {
                &[]
            }
        }
        assert!(matches!(
            Engine::spawn_with(Small, Params::default(), 16),
            Err(EngineError::Vocabulary(10))
        ));
    }
}
