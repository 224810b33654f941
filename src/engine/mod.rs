//! The engine room: what runs while the instrument plays. The worker thread that steps the model,
//! the queues between it and the audio thread, the sampler that turns logits into tokens, the
//! lookahead that keeps tokens ready ahead of the playhead, and the clock maths that places steps
//! in samples. Code here may run in real time: it allocates up front, never per step.

pub mod clock;
pub mod composer;
pub mod harmony;
pub mod inline;
pub mod messages;
pub mod sampler;
pub mod worker;
