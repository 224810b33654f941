//! Twelve-key augmentation: each training piece in all 12 keys, inside the pitch range.

use super::melody::Melody;

/// The melody in each of the 12 keys: for each pitch-class shift 0..12, the nearest transposition
/// (up or down, whichever moves less) that keeps every note in range, else the other direction.
/// A shift that fits neither way (a melody spanning almost all five octaves) is left out.
/// Returns `(semitones, melody)` pairs; the untransposed melody comes first.
pub fn all_keys(melody: &Melody) -> Vec<(i32, Melody)> {
    (0..12)
        .filter_map(|shift| {
            let mut candidates = [shift, shift - 12];
            candidates.sort_by_key(|s: &i32| s.abs());
            candidates
                .into_iter()
                .find_map(|s| melody.transposed(s).map(|m| (s, m)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::{MelodyEvent::*, StepGrid};

    #[test]
    fn twelve_distinct_keys_inside_the_range() {
        let melody = Melody {
            grid: StepGrid::SIXTEENTHS,
            events: vec![NoteOn(50), Hold, NoteOn(90), Rest],
        };
        let keys = all_keys(&melody);
        assert_eq!(keys.len(), 12);
        assert_eq!(keys[0], (0, melody.clone()));
        let mut classes: Vec<i32> = keys.iter().map(|(s, _)| s.rem_euclid(12)).collect();
        classes.sort();
        assert_eq!(classes, (0..12).collect::<Vec<_>>());
        for (_, m) in &keys {
            let (low, high) = m.pitch_range().unwrap();
            assert!(low >= 36 && high <= 96);
        }
        // 50..90 cannot go up 7 (97), so that key comes from going down 5.
        assert!(keys.iter().any(|(s, _)| *s == -5));
    }

    #[test]
    fn a_melody_wider_than_the_range_allows_only_some_keys() {
        let melody = Melody {
            grid: StepGrid::SIXTEENTHS,
            events: vec![NoteOn(36), NoteOn(96)],
        };
        assert_eq!(all_keys(&melody).len(), 1);
    }
}
