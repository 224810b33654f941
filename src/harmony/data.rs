//! Chorales as the harmony networks see them: four token streams on the sixteenth grid with each
//! step's metadata, and windows cut around a step for training and sampling.

use std::path::{Path, PathBuf};

use crate::formats::corpus::{FileKind, find_music_files};
use crate::formats::midi::{four_voices, read_midi};
use crate::music::chorale::Chorale;
use crate::music::grid::StepGrid;
use crate::music::melody::Melody;
use crate::rng::Rng;

use super::model::{META_PAD, PAD, TICKS, VOICES};
use super::voices::transposition_choices;

/// One chorale's four voices as tokens (soprano first), all the same length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceSteps {
    pub voices: [Vec<u32>; VOICES],
}

impl VoiceSteps {
    pub fn from_chorale(chorale: &Chorale) -> Self {
        Self {
            voices: chorale.tokens(),
        }
    }

    pub fn len(&self) -> usize {
        self.voices[0].len()
    }

    /// The four voices as melodies on the sixteenth grid.
    pub fn melodies(&self) -> [Melody; VOICES] {
        self.voices.each_ref().map(|tokens| {
            Melody::from_tokens(tokens, StepGrid::SIXTEENTHS).expect("melody tokens only")
        })
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The metadata of step `t`: its position inside the beat.
    pub fn meta(t: usize) -> u32 {
        t as u32 % TICKS
    }

    /// Appends the window of `context` steps either side of `t` to `tokens` (step-major, four
    /// voices per step) and `meta`, padding outside the piece.
    pub fn push_window(
        &self,
        t: usize,
        context: usize,
        tokens: &mut Vec<u32>,
        meta: &mut Vec<u32>,
    ) {
        for k in 0..2 * context + 1 {
            let s = (t + k).checked_sub(context).filter(|&s| s < self.len());
            match s {
                Some(s) => {
                    tokens.extend(self.voices.iter().map(|v| v[s]));
                    meta.push(Self::meta(s));
                }
                None => {
                    tokens.extend([PAD; VOICES]);
                    meta.push(META_PAD);
                }
            }
        }
    }
}

/// Reads every `.mid`/`.midi` chorale below `folders` into four voices on the sixteenth grid.
/// Files that are not four-voice chorales are skipped and named in the returned warnings.
pub fn load_chorales(folders: &[PathBuf]) -> (Vec<Chorale>, Vec<String>) {
    let mut chorales = Vec::new();
    let mut warnings = Vec::new();
    for found in folders.iter().flat_map(|folder| find_music_files(folder)) {
        match found {
            Ok(file) if FileKind::of(&file) == Some(FileKind::Midi) => match read_chorale(&file) {
                Ok(chorale) => chorales.push(chorale),
                Err(why) => warnings.push(format!("{}: skipped: {why}", file.display())),
            },
            Ok(_) => {}
            Err((folder, error)) => {
                warnings.push(format!("{}: skipped: {error}", folder.display()))
            }
        }
    }
    (chorales, warnings)
}

/// One chorale file on the sixteenth grid.
pub fn read_chorale(path: &Path) -> Result<Chorale, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let piece = read_midi(&bytes).map_err(|e| e.to_string())?;
    let parts = four_voices(&piece).map_err(|e| e.to_string())?;
    let (chorale, _) = Chorale::from_voices(
        parts.each_ref().map(|p| p.notes.as_slice()),
        piece.initial_key(),
        piece.initial_time_signature(),
        StepGrid::SIXTEENTHS,
    );
    if chorale.is_empty() {
        return Err("no notes".into());
    }
    Ok(chorale)
}

/// The training set: every chorale in every transposition that keeps each voice in its range
/// (`transpose`), else as written.
pub fn training_set(chorales: &[Chorale], transpose: bool) -> Vec<VoiceSteps> {
    let mut set = Vec::new();
    for chorale in chorales {
        let shifts = if transpose {
            transposition_choices(chorale)
        } else {
            vec![0]
        };
        for shift in shifts {
            if let Some(moved) = chorale.transposed(shift) {
                set.push(VoiceSteps::from_chorale(&moved));
            }
        }
    }
    set
}

/// Picks `batch` random (piece, step) positions, each piece weighted by its length.
pub struct PositionSampler {
    /// Cumulative step counts.
    ends: Vec<usize>,
}

impl PositionSampler {
    pub fn new(set: &[VoiceSteps]) -> Self {
        let mut total = 0;
        let ends = set
            .iter()
            .map(|p| {
                total += p.len();
                total
            })
            .collect();
        Self { ends }
    }

    pub fn total(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    pub fn sample(&self, rng: &mut Rng) -> (usize, usize) {
        let at = rng.below(self.total());
        let piece = self.ends.partition_point(|&end| end <= at);
        let start = if piece == 0 { 0 } else { self.ends[piece - 1] };
        (piece, at - start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_pad_outside_the_piece() {
        let steps = VoiceSteps {
            voices: [vec![10, 0, 11], vec![5, 0, 0], vec![3, 0, 4], vec![2, 0, 0]],
        };
        let (mut tokens, mut meta) = (Vec::new(), Vec::new());
        steps.push_window(0, 2, &mut tokens, &mut meta);
        assert_eq!(meta, vec![META_PAD, META_PAD, 0, 1, 2]);
        assert_eq!(&tokens[..8], &[PAD; 8]);
        assert_eq!(&tokens[8..12], &[10, 5, 3, 2]);
        assert_eq!(&tokens[16..20], &[11, 0, 4, 0]);
        tokens.clear();
        meta.clear();
        steps.push_window(2, 1, &mut tokens, &mut meta);
        assert_eq!(meta, vec![1, 2, META_PAD]);
    }

    #[test]
    fn positions_cover_every_step_of_every_piece() {
        let piece = |n| VoiceSteps {
            voices: [vec![0; n], vec![0; n], vec![0; n], vec![0; n]],
        };
        let set = vec![piece(2), piece(3)];
        let sampler = PositionSampler::new(&set);
        let mut rng = Rng::new(1);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.insert(sampler.sample(&mut rng));
        }
        let expected: std::collections::BTreeSet<_> =
            [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)].into();
        assert_eq!(seen, expected);
    }

    #[test]
    fn the_corpus_gives_chorales_in_many_keys() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/bach/valid");
        let (chorales, warnings) = load_chorales(&[folder]);
        assert!(
            chorales.len() >= 45,
            "{} chorales: {warnings:?}",
            chorales.len()
        );
        let set = training_set(&chorales, true);
        assert!(set.len() > 4 * chorales.len(), "{} transposed", set.len());
    }
}
