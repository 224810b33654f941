//! Training data: folders of music files → token sequences, with key augmentation.

use super::config::{Augmentation, DataConfig, EncodingKind};
use crate::formats::corpus::{self, FileKind};
use crate::music::text::CharVocab;
use crate::music::{Encoding, Melody, StepGrid, sequence, transpose};
use crate::rng::Rng;
use std::path::{Path, PathBuf};

/// A training piece: its token sequence in every key augmentation may pick (the first is the
/// piece as written).
pub type Variants = Vec<Vec<u32>>;

#[derive(Debug)]
pub struct Corpus {
    pub encoding: Encoding,
    pub train: Vec<Variants>,
    /// Validation pieces as written (never augmented).
    pub valid: Vec<Vec<u32>>,
    /// Files that could not be used, with the reason.
    pub rejected: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(
        "no usable piece in {folders} ({rejected} files rejected; run `cantus data check` on it)"
    )]
    Empty { folders: String, rejected: usize },
}

impl Corpus {
    pub fn train_tokens(&self) -> usize {
        self.train.iter().map(|v| v[0].len()).sum()
    }
}

/// Reads the training and validation folders with the configured encoding.
pub fn load_corpus(config: &DataConfig) -> Result<Corpus, DataError> {
    let mut rejected = Vec::new();
    let train_files = music_files(&config.train, &config.extensions, &mut rejected);
    let valid_files = music_files(&config.valid, &config.extensions, &mut rejected);
    let grid = StepGrid::new(config.steps_per_quarter);
    let (encoding, train, valid) = match config.encoding {
        EncodingKind::Chars => {
            let train_texts = abc_texts(&train_files, &mut rejected);
            let vocabulary = CharVocab::from_corpus(train_texts.iter().map(String::as_str));
            let encode = |text: &String| vocabulary.encode(text).tokens;
            let train: Vec<Variants> = train_texts.iter().map(|t| vec![encode(t)]).collect();
            let valid: Vec<Vec<u32>> = abc_texts(&valid_files, &mut rejected)
                .iter()
                .map(encode)
                .collect();
            (Encoding::Chars { vocabulary }, train, valid)
        }
        kind => {
            let encoding = note_encoding(kind, config.steps_per_quarter);
            let tokens = |m: &Melody| note_tokens(kind, m);
            let train: Vec<Variants> = melodies(&train_files, grid, &mut rejected)
                .iter()
                .map(|m| match config.augment {
                    Augmentation::None => vec![tokens(m)],
                    _ => transpose::all_keys(m)
                        .iter()
                        .map(|(_, m)| tokens(m))
                        .collect(),
                })
                .collect();
            let valid: Vec<Vec<u32>> = melodies(&valid_files, grid, &mut rejected)
                .iter()
                .map(tokens)
                .collect();
            (encoding, train, valid)
        }
    };
    let train: Vec<Variants> = train
        .into_iter()
        .filter(|v: &Variants| v[0].len() >= 2)
        .collect();
    if train.is_empty() {
        return Err(DataError::Empty {
            folders: folder_list(&config.train),
            rejected: rejected.len(),
        });
    }
    let valid = valid
        .into_iter()
        .filter(|v: &Vec<u32>| v.len() >= 2)
        .collect();
    Ok(Corpus {
        encoding,
        train,
        valid,
        rejected,
    })
}

/// The folders, comma-separated, for messages.
pub fn folder_list(folders: &[PathBuf]) -> String {
    folders
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn note_encoding(kind: EncodingKind, steps_per_quarter: u32) -> Encoding {
    use crate::music::melody::{MAX_PITCH, MIN_PITCH};
    match kind {
        EncodingKind::MelodyEvents => Encoding::melody_events(steps_per_quarter),
        EncodingKind::PitchSequence => Encoding::PitchSequence {
            min_pitch: MIN_PITCH,
            max_pitch: MAX_PITCH,
        },
        EncodingKind::Intervals => Encoding::Intervals {
            min_pitch: MIN_PITCH,
            max_pitch: MAX_PITCH,
        },
        EncodingKind::Chars => unreachable!("chars is not a note encoding"),
    }
}

/// A melody's tokens in a note encoding.
pub fn note_tokens(kind: EncodingKind, melody: &Melody) -> Vec<u32> {
    match kind {
        EncodingKind::MelodyEvents => melody.tokens(),
        EncodingKind::PitchSequence => sequence::pitch_tokens(&melody.pitches()),
        EncodingKind::Intervals => sequence::interval_tokens(&melody.pitches()),
        EncodingKind::Chars => unreachable!("chars is not a note encoding"),
    }
}

/// The music files below the folders, filtered by extension; folders that cannot be read are
/// recorded as rejected.
pub fn music_files(
    folders: &[PathBuf],
    extensions: &[String],
    rejected: &mut Vec<String>,
) -> Vec<PathBuf> {
    let wanted = |path: &Path| {
        extensions.is_empty()
            || path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
    };
    let mut files = Vec::new();
    for folder in folders {
        if !folder.exists() {
            rejected.push(format!("{}: no such folder", folder.display()));
            continue;
        }
        for found in corpus::find_music_files(folder) {
            match found {
                Ok(path) if wanted(&path) => files.push(path),
                Ok(_) => {}
                Err((path, error)) => rejected.push(format!("{}: {error}", path.display())),
            }
        }
    }
    files
}

/// Every readable piece's melody, quantised to the grid.
pub fn melodies(files: &[PathBuf], grid: StepGrid, rejected: &mut Vec<String>) -> Vec<Melody> {
    let mut melodies = Vec::new();
    for path in files {
        let loaded = corpus::load_file(path);
        for error in &loaded.errors {
            rejected.push(format!("{}: {error}", path.display()));
        }
        for piece in &loaded.pieces {
            match corpus::melody_of(&piece.piece, grid) {
                Ok((melody, _)) if melody.note_count() > 0 => melodies.push(melody),
                Ok(_) => rejected.push(format!("{}: no notes", piece.label)),
                Err(error) => rejected.push(format!("{}: {error}", piece.label)),
            }
        }
    }
    melodies
}

/// Header fields a char-level model learns; the rest (sources, contributors, notes) is left out.
const KEPT_FIELDS: [&str; 6] = ["X:", "T:", "M:", "L:", "Q:", "K:"];

/// The ABC text of every tune in the files, reduced to the fields that make the music, one
/// string per tune ending in a blank line (so the model learns where a tune ends).
pub fn abc_texts(files: &[PathBuf], rejected: &mut Vec<String>) -> Vec<String> {
    let mut tunes = Vec::new();
    for path in files {
        if FileKind::of(path) != Some(FileKind::Abc) {
            continue;
        }
        let text = match std::fs::read(path)
            .map_err(crate::formats::ReadError::from)
            .and_then(|b| corpus::decode_text(&b).map(|t| t.into_owned()))
        {
            Ok(text) => text,
            Err(error) => {
                rejected.push(format!("{}: {error}", path.display()));
                continue;
            }
        };
        tunes.extend(split_tunes(&text));
    }
    tunes
}

/// Splits ABC text into tunes (each starting at `X:`), keeping only music-bearing lines.
pub fn split_tunes(text: &str) -> Vec<String> {
    let mut tunes = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim_end();
        if line.starts_with("X:") {
            tunes.extend(current.take());
            current = Some(String::new());
        }
        let Some(tune) = current.as_mut() else {
            continue;
        };
        let is_field = line.len() >= 2
            && line.as_bytes()[1] == b':'
            && line.as_bytes()[0].is_ascii_alphabetic();
        let keep = if is_field {
            KEPT_FIELDS.iter().any(|f| line.starts_with(f))
        } else {
            !line.is_empty() && !line.starts_with('%')
        };
        if keep {
            tune.push_str(line);
            tune.push('\n');
        }
    }
    tunes.extend(current);
    for tune in &mut tunes {
        tune.push('\n');
    }
    tunes
}

/// The pieces of one epoch in a shuffled order, each in the key(s) augmentation picks.
pub fn epoch_pieces<'a>(
    train: &'a [Variants],
    augment: Augmentation,
    rng: &mut Rng,
) -> Vec<&'a [u32]> {
    let mut pieces: Vec<&[u32]> = match augment {
        Augmentation::None => train.iter().map(|v| v[0].as_slice()).collect(),
        Augmentation::AllKeys => train.iter().flatten().map(Vec::as_slice).collect(),
        Augmentation::RandomKey => train
            .iter()
            .map(|v| v[rng.below(v.len())].as_slice())
            .collect(),
    };
    rng.shuffle(&mut pieces);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunes_keep_only_music_fields() {
        let text =
            "%abc\nX:1\nT:Reel\nZ:someone@example\nN:note\nM:4/4\nK:G\nGABc|\n\nX:2\nK:D\nDEF|\n";
        assert_eq!(
            split_tunes(text),
            vec!["X:1\nT:Reel\nM:4/4\nK:G\nGABc|\n\n", "X:2\nK:D\nDEF|\n\n"]
        );
    }

    #[test]
    fn the_folk_corpus_loads_with_augmentation() {
        let data = crate::testing::data_dir();
        let config = DataConfig {
            train: vec![data.join("ryans/valid")],
            valid: vec![],
            extensions: vec!["abc".into()],
            encoding: EncodingKind::MelodyEvents,
            steps_per_quarter: 4,
            augment: Augmentation::AllKeys,
        };
        let corpus = load_corpus(&config).unwrap();
        assert_eq!(corpus.train.len(), 112);
        assert!(corpus.train.iter().all(|v| v.len() == 12));
        let mut rng = Rng::new(3);
        assert_eq!(
            epoch_pieces(&corpus.train, Augmentation::AllKeys, &mut rng).len(),
            112 * 12
        );
        assert_eq!(
            epoch_pieces(&corpus.train, Augmentation::RandomKey, &mut rng).len(),
            112
        );
    }

    #[test]
    fn an_empty_folder_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let config = DataConfig {
            train: vec![dir.path().to_path_buf()],
            valid: vec![],
            extensions: vec![],
            encoding: EncodingKind::MelodyEvents,
            steps_per_quarter: 4,
            augment: Augmentation::None,
        };
        let error = load_corpus(&config).unwrap_err().to_string();
        assert!(error.starts_with("no usable piece in "), "{error}");
    }
}
