//! The engine without a thread, for offline rendering: when the host renders faster than real
//! time, a worker could fall behind, so `process()` runs the [`Composer`] itself, step by step,
//! with the zero-allocation model step. It takes the same inputs as the threaded engine and makes
//! the same music (the worker's rollbacks are invisible in the result), with no step ever late.

use super::clock::TransportEvent;
use super::composer::{Composer, StepModel};
use super::messages::{Input, Params, PlayerNote, QueueFull};
use super::worker::{EngineError, EngineHandle};
use crate::music::melody::{HOLD_TOKEN, VOCAB_SIZE};

/// What the audio thread asks of an engine, threaded ([`EngineHandle`]) or inline
/// ([`InlineEngine`]). No method allocates, locks or blocks.
pub trait LiveEngine {
    fn push_note(&mut self, note: PlayerNote) -> Result<(), QueueFull>;
    fn push_transport(&mut self, event: TransportEvent) -> Result<(), QueueFull>;
    fn push_params(&mut self, params: Params) -> Result<(), QueueFull>;
    /// The token the model's voice plays at `step`; call it once per scheduled step, in order.
    fn play_step(&mut self, step: u64) -> u32;
    /// Steps played before they were ready (always 0 inline).
    fn late_steps(&self) -> u64;
    /// The token the engine has ready for a step not yet played, for the editor's lookahead;
    /// never generates (so always `None` inline, which generates each step as it plays).
    fn ready_token(&mut self, step: u64) -> Option<u32>;
    /// How long one model step takes, smoothed, in nanoseconds; 0 where not measured (inline).
    fn step_nanos(&self) -> u32;
}

impl LiveEngine for EngineHandle {
    fn push_note(&mut self, note: PlayerNote) -> Result<(), QueueFull> {
        EngineHandle::push_note(self, note)
    }

    fn push_transport(&mut self, event: TransportEvent) -> Result<(), QueueFull> {
        EngineHandle::push_transport(self, event)
    }

    fn push_params(&mut self, params: Params) -> Result<(), QueueFull> {
        EngineHandle::push_params(self, params)
    }

    fn play_step(&mut self, step: u64) -> u32 {
        EngineHandle::play_step(self, step)
    }

    fn late_steps(&self) -> u64 {
        EngineHandle::late_steps(self)
    }

    fn ready_token(&mut self, step: u64) -> Option<u32> {
        EngineHandle::token_at(self, step)
    }

    fn step_nanos(&self) -> u32 {
        EngineHandle::step_nanos(self)
    }
}

/// A composer driven directly by the audio thread. Make it outside the audio thread (it
/// allocates its buffers once); after that nothing it does allocates.
pub struct InlineEngine<M: StepModel> {
    composer: Composer<M>,
}

impl<M: StepModel> InlineEngine<M> {
    pub fn new(model: M, params: Params) -> Result<Self, EngineError> {
        if model.vocab_size() != VOCAB_SIZE {
            return Err(EngineError::Vocabulary(model.vocab_size()));
        }
        Ok(Self {
            composer: Composer::new(model, params),
        })
    }
}

impl<M: StepModel> LiveEngine for InlineEngine<M> {
    fn push_note(&mut self, note: PlayerNote) -> Result<(), QueueFull> {
        self.composer.handle(Input::Note(note));
        Ok(())
    }

    fn push_transport(&mut self, event: TransportEvent) -> Result<(), QueueFull> {
        self.composer.handle(Input::Transport(event));
        Ok(())
    }

    fn push_params(&mut self, params: Params) -> Result<(), QueueFull> {
        self.composer.handle(Input::Params(params));
        Ok(())
    }

    fn play_step(&mut self, step: u64) -> u32 {
        let token = self.composer.token_at(step).unwrap_or(HOLD_TOKEN);
        self.composer.handle(Input::Played { step, token });
        token
    }

    fn late_steps(&self) -> u64 {
        0
    }

    fn ready_token(&mut self, _step: u64) -> Option<u32> {
        None
    }

    fn step_nanos(&self) -> u32 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::messages::Mode;
    use crate::engine::worker::{Engine, live_model};
    use std::time::{Duration, Instant};

    /// The offline path makes the music the real-time path makes: the same inputs (a transport
    /// start, a phrase, a parameter change) give the same tokens, step for step, from the
    /// embedded model, when the worker keeps up (here it is waited for).
    #[test]
    fn inline_and_threaded_engines_play_the_same_music() {
        let model = crate::plugin::embedded_model().unwrap();
        let params = Params {
            mode: Mode::Continue,
            seed: 11,
            lookahead: 4,
            ..Params::default()
        };
        let warmer = Params {
            sampling: crate::engine::sampler::SamplingSettings {
                temperature: 1.3,
                ..Default::default()
            },
            ..params
        };
        let mut inline = InlineEngine::new(live_model(&model).unwrap(), params).unwrap();
        let (mut threaded, worker) = Engine::spawn(&model, params, 256).unwrap();
        let start = TransportEvent::Started { step: 0 };
        inline.push_transport(start).unwrap();
        threaded.push_transport(start).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for step in 0..96u64 {
            let inputs: Vec<Input> = match step {
                20 => vec![Input::Note(PlayerNote::On { step, pitch: 62 })],
                23 => vec![Input::Note(PlayerNote::Off { step, pitch: 62 })],
                50 => vec![Input::Params(warmer)],
                _ => vec![],
            };
            for input in inputs {
                match input {
                    Input::Note(n) => {
                        inline.push_note(n).unwrap();
                        threaded.push_note(n).unwrap();
                    }
                    Input::Params(p) => {
                        inline.push_params(p).unwrap();
                        threaded.push_params(p).unwrap();
                    }
                    _ => unreachable!(),
                }
                // Let the worker roll back before the step is asked for.
                std::thread::sleep(Duration::from_millis(50));
            }
            a.push(LiveEngine::play_step(&mut inline, step));
            let deadline = Instant::now() + Duration::from_secs(10);
            while threaded.token_at(step).is_none() {
                assert!(
                    Instant::now() < deadline,
                    "the worker never sent step {step}"
                );
                std::thread::sleep(Duration::from_micros(200));
            }
            b.push(threaded.play_step(step));
        }
        assert_eq!(threaded.late_steps(), 0);
        assert_eq!(a, b);
        assert!(
            a.iter().filter(|&&t| t >= 2).count() > 5,
            "the model played almost nothing: {a:?}"
        );
        drop(threaded);
        worker.join().unwrap();
    }
}
