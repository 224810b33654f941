//! Tonality metrics of the RNN-cells paper, over a sequence of note pitches.
//! They compare generated melodies with real ones; none is "better" on its own.

/// Notes in the sliding window of the macroharmony and centricity metrics.
pub const WINDOW: usize = 12;

/// Conjunct melodic motion: mean absolute interval, in semitones, between consecutive notes.
/// `None` for fewer than two notes.
pub fn conjunct_motion(pitches: &[u8]) -> Option<f64> {
    let steps = pitches.windows(2).map(|w| f64::from(w[0].abs_diff(w[1])));
    mean(steps)
}

/// Limited macroharmony: over every window of 12 consecutive notes, 1 when the window holds
/// 5..=8 distinct pitches, else 1 + the count's distance from 5; averaged over windows.
/// 1.0 is the tonal ideal. `None` for fewer than 12 notes.
pub fn limited_macroharmony(pitches: &[u8]) -> Option<f64> {
    mean(pitches.windows(WINDOW).map(|window| {
        let mut distinct = window.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let count = distinct.len();
        if (5..=8).contains(&count) {
            1.0
        } else {
            1.0 + count.abs_diff(5) as f64
        }
    }))
}

/// Centricity: over every window of 12 consecutive notes, the largest share of the window taken
/// by one run of a repeated pitch; averaged over windows. `None` for fewer than 12 notes.
pub fn centricity(pitches: &[u8]) -> Option<f64> {
    mean(pitches.windows(WINDOW).map(|window| {
        let longest_run = window
            .chunk_by(|a, b| a == b)
            .map(<[u8]>::len)
            .max()
            .unwrap_or(0);
        longest_run as f64 / WINDOW as f64
    }))
}

/// The three metrics together.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Tonality {
    pub conjunct_motion: Option<f64>,
    pub limited_macroharmony: Option<f64>,
    pub centricity: Option<f64>,
}

impl Tonality {
    pub fn of(pitches: &[u8]) -> Self {
        Self {
            conjunct_motion: conjunct_motion(pitches),
            limited_macroharmony: limited_macroharmony(pitches),
            centricity: centricity(pitches),
        }
    }

    /// Means of each metric over many pieces (pieces too short for a metric are left out of it).
    pub fn mean_of(pieces: &[Tonality]) -> Self {
        Self {
            conjunct_motion: mean(pieces.iter().filter_map(|t| t.conjunct_motion)),
            limited_macroharmony: mean(pieces.iter().filter_map(|t| t.limited_macroharmony)),
            centricity: mean(pieces.iter().filter_map(|t| t.centricity)),
        }
    }
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, count) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (count > 0).then(|| sum / count as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conjunct_motion_is_the_mean_leap() {
        assert_eq!(conjunct_motion(&[60, 62, 59]), Some(2.5));
        assert_eq!(conjunct_motion(&[60]), None);
    }

    #[test]
    fn macroharmony_rewards_five_to_eight_pitches() {
        let scale = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65];
        assert_eq!(limited_macroharmony(&scale), Some(1.0));
        let drone = [60; 12];
        assert_eq!(limited_macroharmony(&drone), Some(5.0));
        let chromatic: Vec<u8> = (60..72).collect();
        assert_eq!(limited_macroharmony(&chromatic), Some(8.0));
        assert_eq!(limited_macroharmony(&scale[..11]), None);
    }

    #[test]
    fn centricity_measures_the_longest_repeated_run() {
        let mut pitches = vec![60, 60, 60, 62, 64, 62, 60, 67, 67, 65, 64, 62];
        assert_eq!(centricity(&pitches), Some(0.25));
        pitches.push(62); // second window: [60,60,62,...] → longest run 2
        let both = centricity(&pitches).unwrap();
        assert!((both - (3.0 + 2.0) / 2.0 / 12.0).abs() < 1e-12);
    }
}
