//! Note-sequence encodings of the RNN-cells paper: one token per note onset, durations dropped.
//!
//! * Pitch sequence: token = pitch − 36, for pitches 36..=96 (61 tokens).
//! * Intervals: the first token is the first pitch as above; every later token is the step in
//!   semitones from the previous note, −60..=60, stored as 61 + (step + 60). Transposing a melody
//!   changes only its first token, which is why the paper tried it.

use super::melody::{MAX_PITCH, MIN_PITCH};

/// Tokens in the pitch-sequence vocabulary.
pub const PITCH_VOCAB_SIZE: usize = (MAX_PITCH - MIN_PITCH) as usize + 1;
/// Largest interval the interval encoding can express (the width of the pitch range).
pub const MAX_INTERVAL: i32 = (MAX_PITCH - MIN_PITCH) as i32;
/// Tokens in the interval vocabulary: first pitches, then intervals.
pub const INTERVAL_VOCAB_SIZE: usize = PITCH_VOCAB_SIZE + 2 * MAX_INTERVAL as usize + 1;

fn pitch_token(pitch: u8) -> u32 {
    assert!(
        (MIN_PITCH..=MAX_PITCH).contains(&pitch),
        "pitch {pitch} outside {MIN_PITCH}..={MAX_PITCH}: fold it first"
    );
    u32::from(pitch - MIN_PITCH)
}

fn token_pitch(token: u32) -> Option<u8> {
    ((token as usize) < PITCH_VOCAB_SIZE).then(|| MIN_PITCH + token as u8)
}

/// One token per pitch. Pitches must lie in 36..=96 (melodies from [`super::Melody`] do).
pub fn pitch_tokens(pitches: &[u8]) -> Vec<u32> {
    pitches.iter().map(|&p| pitch_token(p)).collect()
}

/// Decodes pitch tokens; `None` for a token outside the vocabulary.
pub fn pitches_from_tokens(tokens: &[u32]) -> Option<Vec<u8>> {
    tokens.iter().map(|&t| token_pitch(t)).collect()
}

/// First pitch, then intervals. Pitches must lie in 36..=96.
pub fn interval_tokens(pitches: &[u8]) -> Vec<u32> {
    let Some((&first, _)) = pitches.split_first() else {
        return Vec::new();
    };
    let steps = pitches.windows(2).map(|pair| {
        let step = pitch_token(pair[1]) as i32 - pitch_token(pair[0]) as i32;
        (PITCH_VOCAB_SIZE as i32 + step + MAX_INTERVAL) as u32
    });
    std::iter::once(pitch_token(first)).chain(steps).collect()
}

/// Decodes interval tokens; `None` if a token is out of place or a step leaves the pitch range.
pub fn pitches_from_interval_tokens(tokens: &[u32]) -> Option<Vec<u8>> {
    let (&first, rest) = tokens.split_first()?;
    let mut pitch = token_pitch(first)?;
    let mut pitches = vec![pitch];
    for &token in rest {
        let step = i64::from(token) - PITCH_VOCAB_SIZE as i64 - i64::from(MAX_INTERVAL);
        if token < PITCH_VOCAB_SIZE as u32 || step > i64::from(MAX_INTERVAL) {
            return None;
        }
        let next = i64::from(pitch) + step;
        if !(i64::from(MIN_PITCH)..=i64::from(MAX_PITCH)).contains(&next) {
            return None;
        }
        pitch = next as u8;
        pitches.push(pitch);
    }
    Some(pitches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn vocabulary_sizes() {
        assert_eq!(PITCH_VOCAB_SIZE, 61);
        assert_eq!(INTERVAL_VOCAB_SIZE, 61 + 121);
    }

    #[test]
    fn intervals_start_with_the_pitch() {
        assert_eq!(interval_tokens(&[60, 62, 59]), vec![24, 61 + 62, 61 + 57]);
        assert_eq!(
            pitches_from_interval_tokens(&[24, 61 + 62, 61 + 57]),
            Some(vec![60, 62, 59])
        );
        // A step that leaves the range, and a pitch token where an interval belongs, are refused.
        assert_eq!(pitches_from_interval_tokens(&[60, 61 + 61]), None);
        assert_eq!(pitches_from_interval_tokens(&[24, 3]), None);
    }

    proptest! {
        #[test]
        fn both_encodings_round_trip(pitches in proptest::collection::vec(MIN_PITCH..=MAX_PITCH, 0..100)) {
            prop_assert_eq!(pitches_from_tokens(&pitch_tokens(&pitches)), Some(pitches.clone()));
            let decoded = pitches_from_interval_tokens(&interval_tokens(&pitches));
            prop_assert_eq!(decoded.unwrap_or_default(), pitches);
        }
    }
}
