//! A waveform as blocks of N samples: the unit the audio model reads and predicts.
//!
//! Training cuts windows of `sequence + 1` blocks out of the clips, at any sample offset (so
//! every phase of the signal is seen); the model reads blocks 0..T and is scored on 1..=T.

use crate::rng::Rng;

/// The last whole blocks of `samples`, at most `max_blocks` of them: a partial block at the
/// start is dropped, so the context ends exactly where the audio does.
pub fn last_whole_blocks(samples: &[f32], block_size: usize, max_blocks: usize) -> &[f32] {
    let blocks = (samples.len() / block_size).min(max_blocks);
    &samples[samples.len() - blocks * block_size..]
}

/// Mono clips at the model's rate, from which training windows are drawn.
#[derive(Debug, Clone)]
pub struct Clips {
    clips: Vec<Vec<f32>>,
}

impl Clips {
    /// Keeps the clips; those shorter than `window` samples cannot give a window and are left
    /// out (returned as their indices, so the caller can say which files).
    pub fn new(clips: Vec<Vec<f32>>, window: usize) -> (Clips, Vec<usize>) {
        let mut kept = Vec::new();
        let mut short = Vec::new();
        for (index, clip) in clips.into_iter().enumerate() {
            if clip.len() >= window {
                kept.push(clip);
            } else {
                short.push(index);
            }
        }
        (Clips { clips: kept }, short)
    }

    /// No clip was long enough for one window: nothing to train on.
    pub fn is_empty(&self) -> bool {
        self.clips.is_empty()
    }

    /// Samples in all the clips.
    pub fn total_samples(&self) -> usize {
        self.clips.iter().map(Vec::len).sum()
    }

    /// `samples` samples from the middle of each clip long enough, at most `max` of them:
    /// primers stored with the model, to start generation from training audio (the middle, as
    /// recordings often open with silence).
    pub fn excerpts(&self, samples: usize, max: usize) -> Vec<Vec<f32>> {
        self.clips
            .iter()
            .filter(|c| c.len() >= samples)
            .take(max)
            .map(|c| {
                let start = (c.len() - samples) / 2;
                c[start..start + samples].to_vec()
            })
            .collect()
    }

    /// `batch` windows of `window` samples at random offsets, one after another (batch × window).
    /// A clip is drawn with probability proportional to the windows it holds, so every start
    /// offset of the whole data is equally likely.
    pub fn random_windows(&self, rng: &mut Rng, batch: usize, window: usize) -> Vec<f32> {
        let starts: Vec<usize> = self.clips.iter().map(|c| c.len() + 1 - window).collect();
        let total: usize = starts.iter().sum();
        let mut out = Vec::with_capacity(batch * window);
        for _ in 0..batch {
            let mut pick = rng.below(total);
            let mut clip = 0;
            while pick >= starts[clip] {
                pick -= starts[clip];
                clip += 1;
            }
            out.extend_from_slice(&self.clips[clip][pick..pick + window]);
        }
        out
    }

    /// Windows of `window` samples side by side from the start of each clip, at most `max`:
    /// a fixed set, so validation scores are comparable from epoch to epoch.
    pub fn fixed_windows(&self, window: usize, max: usize) -> Vec<Vec<f32>> {
        self.clips
            .iter()
            .flat_map(|clip| clip.chunks_exact(window).map(<[f32]>::to_vec))
            .take(max)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_last_whole_blocks_end_with_the_audio() {
        let samples: Vec<f32> = (0..10).map(|i| i as f32).collect();
        assert_eq!(last_whole_blocks(&samples, 4, 8), &samples[2..]);
        assert_eq!(last_whole_blocks(&samples, 4, 1), &samples[6..]);
        assert!(last_whole_blocks(&samples, 16, 8).is_empty());
    }

    #[test]
    fn audio_windows_are_contiguous_pieces_of_a_clip() {
        let a: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let b: Vec<f32> = (1000..1050).map(|i| i as f32).collect();
        let (clips, short) = Clips::new(vec![a, vec![0.0; 5], b], 10);
        assert_eq!(short, vec![1]);
        assert_eq!(clips.total_samples(), 150);
        let mut rng = Rng::new(3);
        let windows = clips.random_windows(&mut rng, 200, 10);
        assert_eq!(windows.len(), 2000);
        let mut from_b = 0;
        for w in windows.chunks_exact(10) {
            // Consecutive sample values: one piece of one clip, never across clips.
            assert!(w.windows(2).all(|p| p[1] == p[0] + 1.0), "{w:?}");
            from_b += usize::from(w[0] >= 1000.0);
        }
        // b holds 41 of the 132 start offsets.
        assert!((40..90).contains(&from_b), "{from_b}");
        let fixed = clips.fixed_windows(10, 12);
        assert_eq!(fixed.len(), 12);
        assert_eq!(fixed[10][0], 1000.0);
        assert_eq!(
            clips.excerpts(60, 8),
            vec![(20..80).map(|i| i as f32).collect::<Vec<_>>()]
        );
    }
}
