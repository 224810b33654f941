//! The line the model and the player compose together, and the machinery that keeps it ready
//! ahead of the playhead. [`Composer`] is single-threaded and allocates only when it is made: the
//! worker thread drives one behind the queues ([`super::worker`]), and offline rendering drives
//! one directly inside `process()` ([`super::inline`]). Both see the same inputs in the same
//! order, so both make the same music.
//!
//! # The line
//!
//! One monophonic melody-event line, one token per step, which is what the model has heard: its
//! own steps and, unless in [`Mode::Solo`], the player's. Each step goes into a ring of [`RING`]
//! entries, preallocated, holding the token, whether it was sampled or given, and the recurrent
//! state, logits and sampler memory from just *before* that step. So rolling back to any step in
//! the ring is three copies, and regenerating from there draws the same random numbers: a
//! rollback changes only what the change it answers changes. The ring spans [`HISTORY`] steps
//! behind the playhead and the lookahead ahead.
//!
//! Which steps are given rather than sampled is a pure function of the player's last note (a
//! [`Phrase`]) and the parameters ([`Composer::given_token`]): the note's onset is NOTE_ON, the
//! steps while the key is held HOLD, the release REST, then HOLD for [`Params::reply_after`]
//! steps; in [`Mode::Answer`] the model is silent outside its answer. Because it is a function,
//! any regeneration reproduces the given steps exactly. A played note rolls back to its step (or
//! its release's), a parameter change to the first step not yet played, and a report of a step
//! that sounded differently from the line (a regenerated step came too late) to that step, which
//! takes the token that sounded.
//!
//! # Transport
//!
//! A composer starts stopped, with a take prepared from the zero state at steps `0..K`. `Started
//! { step }` moves that take to `step`; `Jump` and `Loop` move the steps ready past the old
//! playhead to the new one, the recurrent state going on as if the song had: the music continues
//! across a loop instead of restarting. `Stopped` prepares the next take (zero state, sampler
//! reseeded), so that pressing play again in a host gives the same take.

use super::clock::TransportEvent;
use super::messages::{GeneratedStep, Input, MAX_LOOKAHEAD, Mode, Params, PlayerNote};
use super::sampler::{Sampler, SamplerMemory, fill_melody_mask};
use crate::model::fast::{FastNetwork, FastState};
use crate::music::melody::{
    HOLD_TOKEN, MAX_PITCH, MIN_PITCH, MelodyEvent, REST_TOKEN, VOCAB_SIZE, fold_pitch,
};

/// Steps kept behind the playhead, to roll back to: notes land on the step being played or the
/// next, and reports of played steps come a block late at most.
pub const HISTORY: u64 = 16;

/// Entries in the ring: the history and the longest lookahead.
pub const RING: usize = HISTORY as usize + MAX_LOOKAHEAD as usize;

/// The narrowest register an answer gets, in semitones: a call of one repeated note still gets
/// an octave to answer in.
pub const MIN_ANSWER_SPAN: u8 = 12;

/// What the composer needs of a model: one token in, next-token logits out, on a state it can
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// Sampled from the model.
    Model,
    /// Given by the rules: the player's note, a gap, silence outside an answer.
    Given,
}

/// One step of the line, with what the model and sampler looked like just before it.
struct Entry<S> {
    token: u32,
    owner: Owner,
    before: S,
    logits: Vec<f32>,
    memory: SamplerMemory,
}

/// The player's last note: it owns the steps from its onset to the gap after its release (see
/// the module documentation). It also carries the register of the call it belongs to.
#[derive(Debug, Clone, Copy)]
struct Phrase {
    /// The key as played, to match its release.
    pitch: u8,
    /// Its NOTE_ON token (the pitch folded into range).
    token: u32,
    onset: u64,
    release: Option<u64>,
    /// The lowest and highest (folded) pitch of the call: the notes since the last answer began.
    low: u8,
    high: u8,
}

/// The line and everything needed to extend it, roll it back and send it.
pub struct Composer<M: StepModel> {
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
    /// The mask of the step being sampled, filled per step (it depends on the phrase).
    mask: Vec<bool>,
    sampler: Sampler,
    /// The player's last note, and the one before it (for steps before the last one's onset).
    phrase: Option<Phrase>,
    previous: Option<Phrase>,
}

impl<M: StepModel> Composer<M> {
    /// A composer with every buffer it will ever use, and a take prepared from step 0 on.
    pub fn new(model: M, params: Params) -> Self {
        let vocab = model.vocab_size();
        let sampler = Sampler::new(vocab, params.seed).with_melody_events(true);
        let ring = (0..RING)
            .map(|_| Entry {
                token: HOLD_TOKEN,
                owner: Owner::Model,
                before: model.new_state(),
                logits: vec![0.0; vocab],
                memory: sampler.memory(),
            })
            .collect();
        let mut composer = Composer {
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
            mask: vec![true; VOCAB_SIZE.max(vocab)],
            sampler,
            params,
            phrase: None,
            previous: None,
            model,
        };
        composer.fresh_take();
        composer
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Applies one message from the audio side.
    pub fn handle(&mut self, input: Input) {
        match input {
            Input::Played { step, token } => self.played(step, token),
            Input::Note(note) if self.running && self.params.mode != Mode::Solo => self.note(note),
            Input::Note(_) => {}
            Input::Params(params) => self.set_params(params),
            Input::Transport(event) => self.transport(event),
        }
    }

    /// Whether the lookahead is not yet full.
    pub fn wants_steps(&self) -> bool {
        self.end < self.next_to_play + u64::from(self.params.clamped_lookahead())
    }

    /// Generates one more step of the line.
    pub fn generate_next(&mut self) {
        self.generate();
    }

    /// The token the model's voice plays at `step` (given steps are REST: the voice keeps quiet
    /// while the player has the line), generating up to it first. For the inline engine, which
    /// asks for each step as it plays it; `None` for a step already forgotten.
    pub fn token_at(&mut self, step: u64) -> Option<u32> {
        if step < self.first {
            return None;
        }
        if step >= self.end + RING as u64 {
            self.move_to(self.end, step);
        }
        while self.end <= step {
            self.generate();
        }
        Some(self.voiced(step))
    }

    /// Sends the steps generated and not yet sent, skipping those already played, for as long
    /// as `send` accepts them. Says whether it sent any.
    pub fn send(&mut self, mut send: impl FnMut(GeneratedStep) -> bool) -> bool {
        self.sent = self.sent.max(self.next_to_play).max(self.first);
        let mut any = false;
        while self.sent < self.end {
            let step = GeneratedStep {
                step: self.sent,
                token: self.voiced(self.sent),
                generation: self.generation,
                epoch: self.epoch,
            };
            if !send(step) {
                break;
            }
            self.sent += 1;
            any = true;
        }
        any
    }

    /// What the model's voice plays at a step of the line.
    fn voiced(&self, step: u64) -> u32 {
        let entry = &self.ring[self.slot(step)];
        match entry.owner {
            Owner::Model => entry.token,
            Owner::Given => REST_TOKEN,
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
        (self.phrase, self.previous) = (None, None);
        (
            self.head,
            self.first,
            self.end,
            self.sent,
            self.next_to_play,
        ) = (0, 0, 0, 0, 0);
    }

    /// Renumbers the steps ready from `from` on to start at `to`, as the audio side does, and
    /// sends them again under the new epoch; steps before `from` (played) are forgotten.
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
        (self.phrase, self.previous) = (None, None);
    }

    fn played(&mut self, step: u64, token: u32) {
        if !self.running || step < self.first || token as usize >= self.logits.len() {
            return;
        }
        if step >= self.end + RING as u64 {
            // Far past anything generated (the worker starved, or an event was lost): go on from
            // there with the state the composer has.
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
            let memory = self.sampler.memory();
            self.sampler.observe(token);
            self.push(token, Owner::Model, memory);
        }
        let keep_from = self.next_to_play.saturating_sub(HISTORY).min(self.end);
        if keep_from > self.first {
            self.head = self.slot(keep_from);
            self.first = keep_from;
        }
    }

    fn note(&mut self, note: PlayerNote) {
        let phrase = match note {
            PlayerNote::On { step, pitch } => {
                let folded = fold_pitch(pitch).0;
                let onset = step.max(self.first);
                // Notes before the answer would start belong to the same call.
                let (low, high) = match self.phrase {
                    Some(last) if onset < self.answer_start(&last) => {
                        (last.low.min(folded), last.high.max(folded))
                    }
                    _ => (folded, folded),
                };
                Phrase {
                    pitch,
                    token: MelodyEvent::NoteOn(folded).token(),
                    onset,
                    release: None,
                    low,
                    high,
                }
            }
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
            self.previous = self.phrase;
        }
        self.phrase = Some(phrase);
        self.rollback(at);
    }

    fn set_params(&mut self, params: Params) {
        let old = std::mem::replace(&mut self.params, params);
        if params.seed != old.seed {
            self.sampler.reseed(params.seed);
        }
        if params.mode != old.mode {
            // Keys pressed or released meanwhile went unheard.
            (self.phrase, self.previous) = (None, None);
        }
        if !params.same_music(&old) {
            self.rollback(self.next_to_play);
        }
    }

    /// The first step the model may play after a phrase: after its release and the gap, moved on
    /// to the next bar line in answer mode when asked. Far away while the key is held.
    fn answer_start(&self, phrase: &Phrase) -> u64 {
        let Some(release) = phrase.release else {
            return u64::MAX;
        };
        let after_gap = release + 1 + u64::from(self.params.reply_after);
        let bar = u64::from(self.params.steps_per_bar);
        if self.params.mode == Mode::Answer && self.params.answer_at_bar && bar > 0 {
            after_gap.div_ceil(bar) * bar
        } else {
            after_gap
        }
    }

    /// The phrase that rules `step`: the last note from its onset on, the one before until then.
    fn phrase_at(&self, step: u64) -> Option<Phrase> {
        match self.phrase {
            Some(last) if step >= last.onset => Some(last),
            _ => self.previous.filter(|p| step >= p.onset),
        }
    }

    /// The token the rules give `step`, if they give one; `None` leaves the step to the model.
    fn given_token(&self, step: u64) -> Option<u32> {
        let mode = self.params.mode;
        if mode == Mode::Solo {
            return None;
        }
        let Some(phrase) = self.phrase_at(step) else {
            // Nothing played yet: an answer waits for its call.
            return (mode == Mode::Answer).then_some(HOLD_TOKEN);
        };
        if step == phrase.onset {
            return Some(phrase.token);
        }
        let Some(release) = phrase.release.filter(|&r| step >= r) else {
            return Some(HOLD_TOKEN); // the key is held
        };
        if step == release {
            return Some(REST_TOKEN);
        }
        let start = self.answer_start(&phrase);
        if step < start {
            return Some(HOLD_TOKEN); // the gap
        }
        let end = start.saturating_add(u64::from(self.params.answer_length));
        match mode {
            Mode::Answer if step == end => Some(REST_TOKEN),
            Mode::Answer if step > end => Some(HOLD_TOKEN),
            _ => None,
        }
    }

    /// Fills `mask` for sampling `step`: the key, scale and range; in an answer, the register of
    /// the call instead of the range.
    fn fill_mask(&mut self, step: u64) {
        let (mut lowest, mut highest) = (self.params.lowest, self.params.highest);
        if self.params.mode == Mode::Answer
            && let Some(phrase) = self.phrase_at(step)
        {
            let widen = MIN_ANSWER_SPAN
                .saturating_sub(phrase.high - phrase.low)
                .div_ceil(2);
            lowest = phrase.low.saturating_sub(widen).max(MIN_PITCH);
            highest = phrase.high.saturating_add(widen).min(MAX_PITCH);
        }
        fill_melody_mask(
            &mut self.mask[..VOCAB_SIZE],
            self.params.pitch_classes,
            lowest,
            highest,
        );
    }

    /// Appends the next step of the line: given, or sampled. The sampler hears every note of the
    /// line (for the repetition penalty), the player's too.
    fn generate(&mut self) {
        let memory = self.sampler.memory();
        match self.given_token(self.end) {
            Some(token) => {
                self.sampler.observe(token);
                self.push(token, Owner::Given, memory);
            }
            None => {
                self.fill_mask(self.end);
                let settings = self.params.sampling;
                let token = self
                    .sampler
                    .sample(&self.logits, Some(&self.mask), &settings);
                self.push(token, Owner::Model, memory);
            }
        }
    }

    /// Appends `token` at `end`, saving the model state, logits and sampler `memory` from before
    /// it, and feeds it to the model.
    fn push(&mut self, token: u32, owner: Owner, memory: SamplerMemory) {
        if self.end - self.first == RING as u64 {
            // Only when the audio side stopped reporting: forget the oldest step.
            self.head = (self.head + 1) % RING;
            self.first += 1;
        }
        let slot = self.slot(self.end);
        let entry = &mut self.ring[slot];
        self.model.copy_state(&mut entry.before, &self.state);
        entry.logits.copy_from_slice(&self.logits);
        (entry.token, entry.owner, entry.memory) = (token, owner, memory);
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
            self.sampler.restore(&entry.memory);
            self.end = step;
        }
        self.sent = self.sent.min(step);
        self.generation = self.generation.wrapping_add(1);
    }

    /// The ring index of `step`, one of `first..first + RING`.
    fn slot(&self, step: u64) -> usize {
        (self.head + (step - self.first) as usize) % RING
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sampler::SamplingSettings;

    /// Every token equally likely, whatever the state: what it samples shows the mask alone.
    struct Uniform;

    impl StepModel for Uniform {
        type State = [f32; VOCAB_SIZE];

        fn vocab_size(&self) -> usize {
            VOCAB_SIZE
        }

        fn new_state(&self) -> Self::State {
            [0.0; VOCAB_SIZE]
        }

        fn reset(&self, _: &mut Self::State) {}

        fn copy_state(&self, to: &mut Self::State, from: &Self::State) {
            *to = *from;
        }

        fn step<'s>(&self, _: u32, state: &'s mut Self::State) -> &'s [f32] {
            state
        }
    }

    fn answering(reply_after: u32, at_bar: bool) -> Params {
        Params {
            mode: Mode::Answer,
            reply_after,
            answer_at_bar: at_bar,
            answer_length: 8,
            steps_per_bar: 16,
            seed: 7,
            ..Params::default()
        }
    }

    /// Plays steps `0..steps` with the transport started at 0 and `notes` pushed just before
    /// the step each lands on, as the audio thread would; returns the voice's tokens and which
    /// steps were the model's.
    fn play(params: Params, notes: &[PlayerNote], steps: u64) -> Vec<(u32, Owner)> {
        let mut composer = Composer::new(Uniform, params);
        composer.handle(Input::Transport(TransportEvent::Started { step: 0 }));
        let mut line = Vec::new();
        for step in 0..steps {
            for note in notes {
                let at = match *note {
                    PlayerNote::On { step, .. } | PlayerNote::Off { step, .. } => step,
                };
                if at == step {
                    composer.handle(Input::Note(*note));
                }
            }
            let token = composer.token_at(step).unwrap();
            composer.handle(Input::Played { step, token });
            line.push((token, composer.ring[composer.slot(step)].owner));
        }
        line
    }

    /// The shortest call: C4 held from step 4 to its release at step 6.
    const ONE_NOTE: [PlayerNote; 2] = [
        PlayerNote::On { step: 4, pitch: 60 },
        PlayerNote::Off { step: 6, pitch: 60 },
    ];

    fn model_steps(line: &[(u32, Owner)]) -> Vec<usize> {
        (0..line.len())
            .filter(|&s| line[s].1 == Owner::Model)
            .collect()
    }

    #[test]
    fn an_answer_waits_for_the_call_then_answers_after_the_gap_for_its_length() {
        let line = play(answering(2, false), &ONE_NOTE, 40);
        // Release at 6, two steps of gap (7, 8), the answer at 9..17.
        assert_eq!(model_steps(&line), (9..17).collect::<Vec<_>>());
        // The voice keeps quiet outside the answer: given steps sound as REST.
        assert!(
            line.iter()
                .all(|&(t, o)| o == Owner::Model || t == REST_TOKEN)
        );
    }

    #[test]
    fn an_answer_at_the_bar_starts_on_the_next_bar_line() {
        let line = play(answering(0, true), &ONE_NOTE, 40);
        assert_eq!(model_steps(&line), (16..24).collect::<Vec<_>>());
    }

    #[test]
    fn an_answer_stays_in_the_register_of_the_call() {
        // A call spanning E4..G4; a uniform model may pick any pitch the mask allows.
        let call = [
            PlayerNote::On { step: 2, pitch: 64 },
            PlayerNote::Off { step: 4, pitch: 64 },
            PlayerNote::On { step: 4, pitch: 67 },
            PlayerNote::Off { step: 6, pitch: 67 },
        ];
        let params = Params {
            answer_length: 400,
            ..answering(0, false)
        };
        let line = play(params, &call, 400);
        let pitches: Vec<u8> = model_steps(&line)
            .into_iter()
            .filter_map(|s| match MelodyEvent::from_token(line[s].0) {
                Some(MelodyEvent::NoteOn(p)) => Some(p),
                _ => None,
            })
            .collect();
        assert!(pitches.len() > 50, "too few notes to judge: {pitches:?}");
        // Span 3, widened to an octave: 64 - 5 ..= 67 + 5.
        assert!(pitches.iter().all(|p| (59..=72).contains(p)), "{pitches:?}");
        assert!(pitches.contains(&59) && pitches.contains(&72));
    }

    #[test]
    fn continue_mode_answers_at_once_and_plays_on() {
        let params = Params {
            mode: Mode::Continue,
            ..answering(0, true)
        };
        let line = play(params, &ONE_NOTE, 30);
        let expected: Vec<usize> = (0..4).chain(7..30).collect();
        assert_eq!(model_steps(&line), expected);
    }

    #[test]
    fn a_rollback_is_invisible_when_nothing_changed() {
        let params = Params {
            sampling: SamplingSettings {
                repetition_penalty: 1.5,
                ..SamplingSettings::default()
            },
            mode: Mode::Solo,
            seed: 3,
            ..Params::default()
        };
        let mut straight = Composer::new(Uniform, params);
        let mut rolled = Composer::new(Uniform, params);
        for step in 0..40 {
            straight.token_at(step);
            rolled.token_at(step);
        }
        rolled.rollback(12);
        let tokens = |c: &mut Composer<Uniform>| -> Vec<u32> {
            (0..60).map(|s| c.token_at(s).unwrap()).collect()
        };
        assert_eq!(tokens(&mut rolled), tokens(&mut straight));
    }
}
