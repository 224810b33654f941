//! Continuing a waveform: prime the block model with the last whole blocks of a primer, then
//! feed each predicted block back in as the next input.

use super::blocks::last_whole_blocks;
use super::model::AudioModel;

/// Why a waveform could not be continued.
#[derive(Debug, thiserror::Error)]
pub enum AudioGenerateError {
    #[error(
        "the primer holds {samples} samples, less than one block of {block} ({millis:.1} ms at \
         {rate} Hz)"
    )]
    PrimerTooShort {
        samples: usize,
        block: usize,
        millis: f64,
        rate: u32,
    },
    #[error("the model folder stores no primer audio: give --primer FILE.wav")]
    NoPrimer,
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// The primer and what the model generated after it, both at the model's rate.
#[derive(Debug, Clone)]
pub struct Continuation {
    pub primer: Vec<f32>,
    pub generated: Vec<f32>,
}

impl Continuation {
    /// Primer then continuation, as written to the output file.
    pub fn joined(&self) -> Vec<f32> {
        [self.primer.as_slice(), &self.generated].concat()
    }
}

/// The primer a run starts from: `primer` if given (already at the model's rate), else one of
/// the openings stored with the model, chosen by `seed`.
pub fn choose_primer(
    model: &AudioModel,
    primer: Option<Vec<f32>>,
    seed: u64,
) -> Result<Vec<f32>, AudioGenerateError> {
    match primer {
        Some(samples) => Ok(samples),
        None if model.primers.is_empty() => Err(AudioGenerateError::NoPrimer),
        None => Ok(model.primers[(seed % model.primers.len() as u64) as usize].clone()),
    }
}

/// Continues `primer` by `samples` samples, one block at a time. Each block is predicted from
/// the last `sequence_length` blocks (primer, then generated audio) run through the model from a
/// zero state: exactly the context the model was trained on, so a long continuation never runs
/// the recurrent state beyond what training taught it (free-running it does drift: a sine wave
/// turned into a square one within a tenth of a second in the tests).
pub fn continue_audio(
    model: &AudioModel,
    primer: &[f32],
    samples: usize,
) -> Result<Continuation, AudioGenerateError> {
    let config = model.card.model;
    let block = config.block_size;
    let context_blocks = model.card.sequence_length.max(1);
    let context = last_whole_blocks(primer, block, context_blocks);
    if context.is_empty() {
        return Err(AudioGenerateError::PrimerTooShort {
            samples: primer.len(),
            block,
            millis: 1000.0 * block as f64 / f64::from(config.sample_rate),
            rate: config.sample_rate,
        });
    }
    let network = &model.network;
    let mut window: Vec<f32> = context.to_vec();
    let mut generated = Vec::with_capacity(samples + block);
    while generated.len() < samples {
        let mut state = network.zero_state(1)?;
        let mut next = Vec::new();
        for chunk in window.chunks_exact(block) {
            next = network.step(chunk, &mut state)?;
        }
        generated.extend_from_slice(&next);
        window.extend_from_slice(&next);
        if window.len() > context_blocks * block {
            window.drain(..window.len() - context_blocks * block);
        }
    }
    generated.truncate(samples);
    Ok(Continuation {
        primer: primer.to_vec(),
        generated,
    })
}
