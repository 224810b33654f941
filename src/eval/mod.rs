//! Evaluation: how well a model predicts real music (negative log-likelihood, accuracy).
//!
//! Each piece is scored on its own from the zero state: fed tokens 0..n−2, it predicts tokens
//! 1..n−1. Pieces are batched (padded and masked) for speed; the figures are the same as one at
//! a time. [`pieces`] reads the music files to score (`cantus eval`).

pub mod pieces;

use crate::model::Network;
use candle_core::{D, DType, Result, Tensor};
use serde::Serialize;

/// Positions run through the network at once; the state carries across, so this only bounds
/// memory.
const CHUNK: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EvalResult {
    /// Mean −ln p per predicted token, nats.
    pub nll: f64,
    pub perplexity: f64,
    /// Share of tokens the most likely prediction got right.
    pub accuracy: f64,
    /// Predicted tokens.
    pub tokens: usize,
}

pub fn evaluate(network: &Network, pieces: &[Vec<u32>], batch_size: usize) -> Result<EvalResult> {
    let mut order: Vec<&Vec<u32>> = pieces.iter().filter(|p| p.len() >= 2).collect();
    order.sort_by_key(|p| p.len());
    let (mut nll_sum, mut correct, mut tokens) = (0.0f64, 0.0f64, 0usize);
    for group in order.chunks(batch_size.max(1)) {
        let (nll, right, count) = score_group(network, group)?;
        nll_sum += nll;
        correct += right;
        tokens += count;
    }
    let nll = if tokens > 0 {
        nll_sum / tokens as f64
    } else {
        f64::NAN
    };
    Ok(EvalResult {
        nll,
        perplexity: nll.exp(),
        accuracy: if tokens > 0 {
            correct / tokens as f64
        } else {
            f64::NAN
        },
        tokens,
    })
}

/// Summed NLL, correct predictions and predicted tokens of pieces scored side by side.
fn score_group(network: &Network, pieces: &[&Vec<u32>]) -> Result<(f64, f64, usize)> {
    let device = network.device();
    let predictions = pieces.iter().map(|p| p.len() - 1).max().unwrap_or(0);
    let mut state = network.zero_state(pieces.len())?;
    let (mut nll, mut correct, mut count) = (0.0, 0.0, 0);
    for start in (0..predictions).step_by(CHUNK) {
        let len = CHUNK.min(predictions - start);
        let mut inputs = Vec::with_capacity(pieces.len() * len);
        let mut targets = Vec::with_capacity(pieces.len() * len);
        let mut mask = Vec::with_capacity(pieces.len() * len);
        for piece in pieces {
            for t in start..start + len {
                let real = t + 1 < piece.len();
                inputs.push(if real { piece[t] } else { 0 });
                targets.push(if real { piece[t + 1] } else { 0 });
                mask.push(if real { 1.0f32 } else { 0.0 });
                count += usize::from(real);
            }
        }
        let shape = (pieces.len(), len);
        let inputs = Tensor::from_vec(inputs, shape, device)?;
        let targets = Tensor::from_vec(targets, shape, device)?;
        let mask = Tensor::from_vec(mask, shape, device)?;
        let (logits, next) = network.forward(&inputs, &state, None)?;
        state = next;
        let log_probs = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        let picked = log_probs.gather(&targets.unsqueeze(2)?, 2)?.squeeze(2)?;
        nll -= (picked * &mask)?.sum_all()?.to_scalar::<f32>()? as f64;
        let hits = logits
            .argmax(D::Minus1)?
            .eq(&targets)?
            .to_dtype(DType::F32)?;
        correct += (hits * &mask)?.sum_all()?.to_scalar::<f32>()? as f64;
    }
    Ok((nll, correct, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CellKind, NetworkConfig, network::network};
    use candle_core::Device;
    use candle_nn::{VarBuilder, VarMap};

    #[test]
    fn batched_scores_equal_one_piece_at_a_time() {
        let config = NetworkConfig {
            cell: CellKind::Gru,
            layers: 2,
            embedding: 8,
            hidden: 16,
            vocab_size: 20,
            dropout: 0.0,
        };
        let varmap = VarMap::new();
        let net = network(
            config,
            VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
        )
        .unwrap();
        let pieces: Vec<Vec<u32>> = (0..5)
            .map(|i| {
                (0..(3 + i * 140))
                    .map(|t| ((t * 7 + i) % 20) as u32)
                    .collect()
            })
            .collect();
        let together = evaluate(&net, &pieces, 4).unwrap();
        let mut nll = 0.0;
        let mut tokens = 0;
        for piece in &pieces {
            let alone = evaluate(&net, std::slice::from_ref(piece), 1).unwrap();
            nll += alone.nll * alone.tokens as f64;
            tokens += alone.tokens;
        }
        assert_eq!(together.tokens, tokens);
        assert!((together.nll - nll / tokens as f64).abs() < 1e-5);
        assert!((together.perplexity - together.nll.exp()).abs() < 1e-9);
        // An untrained network is close to uniform over 20 tokens.
        assert!((together.nll - 20f64.ln()).abs() < 0.5, "{}", together.nll);
    }
}
