//! The worker thread: it owns the model and a [`Composer`], keeps generated steps ready a
//! lookahead ahead of the playhead, and rolls back when the player or the parameters change what
//! should come next (the line and its rules are in [`super::composer`]). The audio thread reaches
//! it only through [`EngineHandle`], whose methods never allocate, lock or block; the queues and
//! the protocol are in [`super::messages`].
//!
//! # Threads
//!
//! The worker runs until the handle is dropped: it sees rtrb's abandonment flag (see the memory
//! ordering notes in [`super::messages`]). With nothing to do it sleeps [`POLL`]: the audio
//! thread cannot wake it (an unpark is a system call, which `process()` may not make), so it
//! polls: two thousand cheap wake-ups a second, and an answer within a millisecond.

use super::clock::TransportEvent;
use super::composer::Composer;
pub use super::composer::{HISTORY, RING, StepModel};
use super::messages::{GeneratedStep, Input, Params, PlayerNote, QueueFull, Received};
use crate::model::Model;
use crate::model::fast::FastNetwork;
use crate::music::Encoding;
use crate::music::melody::{HOLD_TOKEN, VOCAB_SIZE};
use rtrb::{Consumer, Producer, RingBuffer};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long the worker sleeps when it has nothing to do.
pub const POLL: Duration = Duration::from_micros(500);

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

/// The zero-allocation step model of a melody-event [`Model`], or why it cannot play live.
pub fn live_model(model: &Model) -> Result<FastNetwork, EngineError> {
    if !matches!(model.card.encoding, Encoding::MelodyEvents { .. }) {
        return Err(EngineError::NotMelodyEvents);
    }
    let fast = FastNetwork::from_network(&model.network)?;
    match StepModel::vocab_size(&fast) {
        VOCAB_SIZE => Ok(fast),
        other => Err(EngineError::Vocabulary(other)),
    }
}

/// Starts engines.
pub struct Engine;

impl Engine {
    /// Starts a worker for a melody-event model, with `capacity` messages in each queue (a few
    /// blocks' worth of inputs, and at least twice the lookahead). The worker starts stopped,
    /// preparing a take; see [`super::composer`].
    pub fn spawn(
        model: &Model,
        params: Params,
        capacity: usize,
    ) -> Result<(EngineHandle, WorkerJoin), EngineError> {
        Self::spawn_with(live_model(model)?, params, capacity)
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
        let step_nanos = Arc::new(AtomicU32::new(0));
        let worker = Worker {
            composer: Composer::new(model, params),
            inputs: worker_inputs,
            outputs: worker_outputs,
            step_nanos: step_nanos.clone(),
        };
        let thread = thread::Builder::new()
            .name("cantus-engine".into())
            .spawn(move || worker.run())
            .map_err(EngineError::Thread)?;
        let handle = EngineHandle {
            inputs,
            outputs,
            received: Received::default(),
            late: 0,
            step_nanos,
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
    late: u64,
    /// The worker's time per model step, for the editor (see [`EngineHandle::step_nanos`]).
    step_nanos: Arc<AtomicU32>,
}

impl EngineHandle {
    /// A key the player pressed or released.
    pub fn push_note(&mut self, note: PlayerNote) -> Result<(), QueueFull> {
        self.push(Input::Note(note))
    }

    /// A transport event from the clock, in the order the clock reported it.
    pub fn push_transport(&mut self, event: TransportEvent) -> Result<(), QueueFull> {
        // Steps already sent move with the event; left in the queue, they would arrive under the
        // old epoch and be dropped, and the first steps after a start or a loop would be late.
        self.drain();
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
        self.drain();
        self.received.get(step)
    }

    /// Files every step waiting in the queue.
    fn drain(&mut self) {
        while let Ok(step) = self.outputs.pop() {
            self.received.receive(step);
        }
    }

    /// The token to play at `step` (HOLD when none has come: a late step, counted), reported as
    /// played. Call it once per step the clock schedules, in order.
    pub fn play_step(&mut self, step: u64) -> u32 {
        let token = self.token_at(step).unwrap_or_else(|| {
            self.late += 1;
            HOLD_TOKEN
        });
        // A lost report costs nothing: the next one carries the absolute step.
        let _ = self.played(step, token);
        token
    }

    /// Steps [`EngineHandle::play_step`] had to play before the worker had sent them.
    pub fn late_steps(&self) -> u64 {
        self.late
    }

    /// How long the worker takes per model step, smoothed, in nanoseconds (0 before the first).
    /// A plain atomic load: the value stands alone, so `Relaxed` is enough.
    pub fn step_nanos(&self) -> u32 {
        self.step_nanos.load(Ordering::Relaxed)
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

/// The thread's side: a composer between the two queues.
struct Worker<M: StepModel> {
    composer: Composer<M>,
    inputs: Consumer<Input>,
    outputs: Producer<GeneratedStep>,
    step_nanos: Arc<AtomicU32>,
}

impl<M: StepModel> Worker<M> {
    fn run(mut self) {
        let mut smoothed = 0.0f64;
        while !self.inputs.is_abandoned() {
            let mut busy = false;
            while let Ok(input) = self.inputs.pop() {
                self.composer.handle(input);
                busy = true;
                if self.inputs.is_abandoned() {
                    // Dropped mid-backlog (a debug build far behind): the host waits on us.
                    return;
                }
            }
            let outputs = &mut self.outputs;
            busy |= self.composer.send(|step| outputs.push(step).is_ok());
            // One step at a time, so that inputs are looked at between steps.
            if self.composer.wants_steps() {
                let started = Instant::now();
                self.composer.generate_next();
                // An exponential average over the last ~16 steps.
                let nanos = started.elapsed().as_nanos() as f64;
                smoothed += (nanos - smoothed) / if smoothed == 0.0 { 1.0 } else { 16.0 };
                self.step_nanos
                    .store(smoothed.min(f64::from(u32::MAX)) as u32, Ordering::Relaxed);
                busy = true;
            }
            if !busy {
                thread::sleep(POLL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::messages::is_newer;
    use crate::engine::sampler::SamplingSettings;
    use crate::model::{CellKind, ModelCard, NetworkConfig};
    use crate::music::melody::{MelodyEvent, REST_TOKEN};
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

    /// The take prepared while stopped is there the moment the transport starts, even when the
    /// audio side never looked at the queue before: steps still queued move with the start.
    #[test]
    fn the_prepared_take_is_ready_on_the_first_step_after_a_start() {
        let (mut handle, join) = Engine::spawn_with(Counter, greedy(8), 64).unwrap();
        thread::sleep(Duration::from_millis(300));
        handle
            .push_transport(TransportEvent::Started { step: 100 })
            .unwrap();
        let tokens: Vec<u32> = (100..108).map(|s| handle.play_step(s)).collect();
        assert_eq!(handle.late_steps(), 0, "{tokens:?}");
        assert_eq!(tokens, (0..8).map(count_token).collect::<Vec<_>>());
        drop(handle);
        join.join().unwrap();
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
