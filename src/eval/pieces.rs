//! The pieces a model is evaluated on: music files as one encoding's token sequences, each piece
//! on its own and as written (no augmentation), and pieces the model generates, as pitches for
//! the tonality metrics.
//!
//! Files are read as the trainer reads them ([`crate::train::data`]), so a model's validation
//! folder gives the figures training reported.

use crate::engine::sampler::SamplingSettings;
use crate::formats::abc::read_abc;
use crate::formats::corpus;
use crate::generate::{self, Decoded, EncodingError};
use crate::model::Model;
use crate::music::{Encoding, StepGrid};
use crate::train::config::EncodingKind;
use crate::train::data::{self, DataError};
use std::path::PathBuf;

/// Pieces of music files as token sequences.
#[derive(Debug, Clone, Default)]
pub struct EncodedPieces {
    /// One token sequence per piece (pieces of fewer than two tokens predict nothing, and are
    /// left out).
    pub pieces: Vec<Vec<u32>>,
    /// The note pitches of every piece, for the tonality metrics (char models: of every tune
    /// the ABC reader reads).
    pub pitch_sequences: Vec<Vec<u8>>,
    /// Files and tunes that could not be used, with the reason.
    pub rejected: Vec<String>,
    /// Characters left out because the vocabulary lacks them (char models).
    pub unknown_chars: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PiecesError {
    #[error(transparent)]
    Encoding(#[from] EncodingError),
    #[error(transparent)]
    Empty(#[from] DataError),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Reads every music file below `paths` whose extension is in `extensions` (all when empty) and
/// encodes each piece on its own: melodies on the grid of a melody-event encoding (on
/// sixteenths for the note sequences, whose cards keep no grid), or for char models each ABC
/// tune reduced as for training ([`data::split_tunes`]). Fails when no piece is usable.
pub fn encode_pieces(
    paths: &[PathBuf],
    extensions: &[String],
    encoding: &Encoding,
) -> Result<EncodedPieces, PiecesError> {
    let mut encoded = EncodedPieces::default();
    let files = data::music_files(paths, extensions, &mut encoded.rejected);
    match encoding {
        Encoding::Chars { vocabulary } => {
            for text in data::abc_texts(&files, &mut encoded.rejected) {
                let text_tokens = vocabulary.encode(&text);
                encoded.unknown_chars += text_tokens.unknown.values().sum::<usize>();
                encoded.pieces.push(text_tokens.tokens);
                encoded
                    .pitch_sequences
                    .extend(abc_pitch_sequences(&text).into_iter().flatten());
            }
        }
        Encoding::ChoraleVoices { .. } => return Err(EncodingError::Chorale.into()),
        _ => {
            let (kind, grid) = note_kind(encoding);
            for melody in data::melodies(&files, grid, &mut encoded.rejected) {
                encoded.pieces.push(data::note_tokens(kind, &melody));
                encoded.pitch_sequences.push(melody.pitches());
            }
        }
    }
    encoded.pieces.retain(|p| p.len() >= 2);
    if encoded.pieces.is_empty() {
        return Err(DataError::Empty {
            folders: data::folder_list(paths),
            rejected: encoded.rejected.len(),
        }
        .into());
    }
    Ok(encoded)
}

/// The training encoding kind and melody grid of a note encoding.
fn note_kind(encoding: &Encoding) -> (EncodingKind, StepGrid) {
    match encoding {
        Encoding::MelodyEvents {
            steps_per_quarter, ..
        } => (
            EncodingKind::MelodyEvents,
            StepGrid::new(*steps_per_quarter),
        ),
        Encoding::PitchSequence { .. } => (EncodingKind::PitchSequence, StepGrid::SIXTEENTHS),
        Encoding::Intervals { .. } => (EncodingKind::Intervals, StepGrid::SIXTEENTHS),
        Encoding::Chars { .. } | Encoding::ChoraleVoices { .. } => {
            unreachable!("not a note encoding")
        }
    }
}

/// The note pitches of every tune of ABC text that has a melody; `None` when the ABC reader
/// reads no tune of it.
pub fn abc_pitch_sequences(text: &str) -> Option<Vec<Vec<u8>>> {
    let tunes = read_abc(text).ok()?;
    Some(
        tunes
            .iter()
            .filter_map(|t| corpus::melody_of(&t.piece, StepGrid::SIXTEENTHS).ok())
            .map(|(melody, _)| melody.pitches())
            .collect(),
    )
}

/// Pitches of pieces a model generated.
#[derive(Debug, Clone, Default)]
pub struct GeneratedPieces {
    /// One sequence per generated melody (char models: per tune read from the text).
    pub pitch_sequences: Vec<Vec<u8>>,
    /// Generated texts in which the ABC reader found no tune with a melody (char models).
    pub unreadable: usize,
}

/// Generates `count` pieces of `steps` tokens from the model's default primer with plain
/// sampling (piece `i` with seed `seed + i`), and decodes their pitches.
pub fn generate_pieces(
    model: &Model,
    count: usize,
    steps: usize,
    seed: u64,
) -> Result<GeneratedPieces, PiecesError> {
    let encoding = &model.card.encoding;
    let primer = generate::default_primer(encoding);
    let settings = SamplingSettings::default();
    let mut generated = GeneratedPieces::default();
    for i in 0..count {
        let mut tokens = primer.clone();
        let seed = seed.wrapping_add(i as u64);
        tokens.extend(generate::generate(model, &primer, steps, &settings, seed)?);
        match generate::decode(encoding, &tokens)? {
            Decoded::Melody { melody, .. } => generated.pitch_sequences.push(melody.pitches()),
            Decoded::Text(text) => match abc_pitch_sequences(&text) {
                Some(tunes) if !tunes.is_empty() => generated.pitch_sequences.extend(tunes),
                _ => generated.unreadable += 1,
            },
        }
    }
    Ok(generated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CellKind, ModelCard, NetworkConfig};
    use crate::music::melody::{MAX_PITCH, MIN_PITCH};
    use crate::music::text::CharVocab;
    use crate::music::{Melody, sequence};
    use candle_core::Device;

    fn files() -> Vec<PathBuf> {
        let valid = crate::testing::data_dir().join("ryans/valid");
        vec![
            valid.join("ApolloClubHornpipe.abc"),
            valid.join("BanjoReel.abc"),
        ]
    }

    fn encode(encoding: &Encoding) -> EncodedPieces {
        let encoded = encode_pieces(&files(), &[], encoding).unwrap();
        assert!(encoded.rejected.is_empty(), "{:?}", encoded.rejected);
        assert_eq!(encoded.pieces.len(), 2);
        assert_eq!(encoded.pitch_sequences.len(), 2);
        encoded
    }

    const RANGE: (u8, u8) = (MIN_PITCH, MAX_PITCH);

    #[test]
    fn note_encodings_encode_each_piece_as_written() {
        let events = encode(&Encoding::melody_events(4));
        for (tokens, pitches) in events.pieces.iter().zip(&events.pitch_sequences) {
            let melody = Melody::from_tokens(tokens, StepGrid::SIXTEENTHS).unwrap();
            assert_eq!(&melody.pitches(), pitches);
            assert!(pitches.len() > 50);
        }
        let (min_pitch, max_pitch) = RANGE;
        let notes = encode(&Encoding::PitchSequence {
            min_pitch,
            max_pitch,
        });
        assert_eq!(notes.pitch_sequences, events.pitch_sequences);
        for (tokens, pitches) in notes.pieces.iter().zip(&notes.pitch_sequences) {
            assert_eq!(tokens, &sequence::pitch_tokens(pitches));
        }
        let intervals = encode(&Encoding::Intervals {
            min_pitch,
            max_pitch,
        });
        for (tokens, pitches) in intervals.pieces.iter().zip(&intervals.pitch_sequences) {
            assert_eq!(tokens, &sequence::interval_tokens(pitches));
        }
        // The card's grid: twice the steps (and the triplets' every note, which sixteenths merge).
        let finer = encode(&Encoding::melody_events(8));
        assert!(finer.pieces[0].len() >= 2 * events.pieces[0].len() - 1);
        assert!(finer.pitch_sequences[0].len() > events.pitch_sequences[0].len());
    }

    #[test]
    fn chars_encode_reduced_tunes_and_count_unknown_characters() {
        let texts = data::abc_texts(&files(), &mut Vec::new());
        let all = CharVocab::from_corpus(texts.iter().map(String::as_str));
        let encoded = encode(&Encoding::Chars {
            vocabulary: all.clone(),
        });
        assert_eq!(encoded.unknown_chars, 0);
        assert_eq!(all.decode(&encoded.pieces[0]).unwrap(), texts[0]);
        // The ABC read back has the notes the melody encodings see.
        let events = encode(&Encoding::melody_events(4));
        assert_eq!(encoded.pitch_sequences, events.pitch_sequences);

        let without_bars: String = all.chars().iter().filter(|&&c| c != '|').collect();
        let vocabulary = CharVocab::from_corpus([without_bars.as_str()]);
        let encoded = encode(&Encoding::Chars { vocabulary });
        let bars: usize = texts.iter().map(|t| t.matches('|').count()).sum();
        assert!(bars > 0);
        assert_eq!(encoded.unknown_chars, bars);
    }

    #[test]
    fn extensions_filter_and_unusable_data_is_an_error() {
        let valid = crate::testing::data_dir().join("ryans/valid");
        let mid = valid.join("BanjoReel.mid");
        let paths = vec![files()[1].clone(), mid];
        let both = encode_pieces(&paths, &[], &Encoding::melody_events(4)).unwrap();
        assert_eq!(both.pieces.len(), 2);
        let abc = encode_pieces(&paths, &["ABC".into()], &Encoding::melody_events(4)).unwrap();
        assert_eq!(abc.pieces.len(), 1);

        let empty = tempfile::tempdir().unwrap();
        let error = encode_pieces(
            &[empty.path().to_path_buf()],
            &[],
            &Encoding::melody_events(4),
        )
        .unwrap_err();
        assert!(
            error.to_string().starts_with("no usable piece in "),
            "{error}"
        );
        let chorale = Encoding::ChoraleVoices {
            steps_per_quarter: 4,
            min_pitch: MIN_PITCH,
            max_pitch: MAX_PITCH,
        };
        assert!(matches!(
            encode_pieces(&files(), &[], &chorale),
            Err(PiecesError::Encoding(EncodingError::Chorale))
        ));
    }

    /// A random-weight model over `encoding`.
    fn random_model(encoding: Encoding) -> Model {
        let config = NetworkConfig {
            cell: CellKind::Gru,
            layers: 1,
            embedding: 8,
            hidden: 16,
            vocab_size: encoding.vocab_size(),
            dropout: 0.0,
        };
        Model::untrained(ModelCard::new("random", config, encoding), 1, &Device::Cpu).unwrap()
    }

    #[test]
    fn generated_pieces_are_seeded_and_unreadable_text_is_counted() {
        let model = random_model(Encoding::melody_events(4));
        let generated = generate_pieces(&model, 3, 64, 1).unwrap();
        assert_eq!(
            (generated.pitch_sequences.len(), generated.unreadable),
            (3, 0)
        );
        assert_ne!(generated.pitch_sequences[0], generated.pitch_sequences[1]);
        let again = generate_pieces(&model, 3, 64, 1).unwrap();
        assert_eq!(again.pitch_sequences, generated.pitch_sequences);

        // Random characters are seldom a tune: every text is read or counted, never lost.
        let vocabulary = CharVocab::from_corpus(["X:1\nK:G\nGABc|\n"]);
        let model = random_model(Encoding::Chars { vocabulary });
        let generated = generate_pieces(&model, 4, 40, 1).unwrap();
        assert!(generated.unreadable <= 4);
        assert!(generated.pitch_sequences.len() + generated.unreadable >= 4);
        assert_eq!(abc_pitch_sequences("not ABC at all"), None);
        assert_eq!(
            abc_pitch_sequences("X:1\nL:1/4\nK:C\nCDE|\n"),
            Some(vec![vec![60, 62, 64]])
        );
    }
}
