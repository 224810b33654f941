//! Generation: a model and its encoding, turned into new tokens.
//!
//! Magenta's split: the [`Encoding`] says what tokens mean, the [`Model`] predicts them, and this
//! module runs the loop between the two and the [`Sampler`]. It reads and writes no files:
//! `cantus generate` turns files into primers and results into files.

use crate::engine::sampler::{Sampler, SamplingSettings};
use crate::formats::abc::{AbcHeader, write_abc};
use crate::model::{Model, NetworkState};
use crate::music::melody::{MAX_PITCH, MIN_PITCH, REST_TOKEN};
use crate::music::sequence;
use crate::music::{Encoding, Melody, MelodyEvent, StepGrid};

/// The pitch note-sequence models start from without a primer (middle C).
pub const START_PITCH: u8 = 60;

/// The grid of melodies decoded from note-sequence encodings, which keep no durations: every
/// note becomes an eighth note.
pub const SEQUENCE_GRID: StepGrid = StepGrid {
    steps_per_quarter: 2,
};

/// Why tokens and music could not be converted for an encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodingError {
    #[error("chorale models generate four voices at once; only single-melody models can be used")]
    Chorale,
    #[error("a text primer needs a char-level (ABC text) model")]
    NotText,
    #[error("the melody is on a grid of {melody} steps per quarter, the model's has {model}")]
    Grid { melody: u32, model: u32 },
    #[error("pitch {0} is outside {MIN_PITCH}..={MAX_PITCH}")]
    Pitch(u8),
    #[error("token {0} is outside the vocabulary")]
    Token(u32),
}

/// The first input when there is no primer: a context the model has seen at the start of pieces.
///
/// * Melody events: REST (silence before the music).
/// * Pitch sequence and intervals: [`START_PITCH`] (a first-pitch token in both).
/// * Chars: `'X'` (every ABC tune begins `X:`), else `'\n'`, else token 0.
pub fn start_token(encoding: &Encoding) -> u32 {
    match encoding {
        Encoding::MelodyEvents { .. } | Encoding::ChoraleVoices { .. } => REST_TOKEN,
        Encoding::PitchSequence { .. } | Encoding::Intervals { .. } => {
            u32::from(START_PITCH - MIN_PITCH)
        }
        Encoding::Chars { vocabulary } => vocabulary
            .token('X')
            .or_else(|| vocabulary.token('\n'))
            .unwrap_or(0),
    }
}

/// The primer to continue when the user gives none: nothing for melody events (the REST start
/// token is context, and would be a silent step in the output), the start token otherwise (a
/// first note or character that belongs to the result).
pub fn default_primer(encoding: &Encoding) -> Vec<u32> {
    match encoding {
        Encoding::MelodyEvents { .. } | Encoding::ChoraleVoices { .. } => Vec::new(),
        _ => vec![start_token(encoding)],
    }
}

/// Steps a model token by token and samples each next token.
///
/// A sampled token is fed to the network only when the next token is asked for, so the last
/// token of a run costs no network step.
pub struct Generator<'a> {
    model: &'a Model,
    sampler: Sampler,
    state: NetworkState,
    /// The distribution of the next token, when the network has seen every token so far.
    logits: Option<Vec<f32>>,
    /// The last sampled token, not yet fed to the network.
    pending: Option<u32>,
}

impl<'a> Generator<'a> {
    pub fn new(model: &'a Model, seed: u64) -> candle_core::Result<Self> {
        let melody_events = matches!(model.card.encoding, Encoding::MelodyEvents { .. });
        Ok(Self {
            model,
            sampler: Sampler::new(model.card.network.vocab_size, seed)
                .with_melody_events(melody_events),
            state: model.network.zero_state(1)?,
            logits: None,
            pending: None,
        })
    }

    /// Feeds tokens to continue from; the sampler remembers them for its repetition penalty.
    pub fn prime(&mut self, tokens: &[u32]) -> candle_core::Result<()> {
        if let Some(token) = self.pending.take() {
            self.feed(token)?;
        }
        for &token in tokens {
            self.feed(token)?;
            self.sampler.observe(token);
        }
        Ok(())
    }

    /// The logits of the next token (feeding [`start_token`] first if nothing was fed yet).
    pub fn next_logits(&mut self) -> candle_core::Result<&[f32]> {
        let logits = self.take_logits()?;
        Ok(self.logits.insert(logits))
    }

    /// Samples the next token.
    pub fn next(
        &mut self,
        settings: &SamplingSettings,
        allowed: Option<&[bool]>,
    ) -> candle_core::Result<u32> {
        let logits = self.take_logits()?;
        let token = self.sampler.sample(&logits, allowed, settings);
        self.pending = Some(token);
        Ok(token)
    }

    pub fn sampler_mut(&mut self) -> &mut Sampler {
        &mut self.sampler
    }

    fn take_logits(&mut self) -> candle_core::Result<Vec<f32>> {
        let input = match (self.pending.take(), self.logits.take()) {
            (Some(token), _) => token,
            (None, Some(logits)) => return Ok(logits),
            (None, None) => start_token(&self.model.card.encoding),
        };
        self.feed(input)?;
        Ok(self.logits.take().unwrap_or_default())
    }

    fn feed(&mut self, token: u32) -> candle_core::Result<()> {
        let logits = self.model.network.step(token, &mut self.state)?;
        self.logits = Some(logits.to_vec1()?);
        Ok(())
    }
}

/// `steps` tokens continuing `primer` (which is not repeated in the result).
pub fn generate(
    model: &Model,
    primer: &[u32],
    steps: usize,
    settings: &SamplingSettings,
    seed: u64,
) -> candle_core::Result<Vec<u32>> {
    let mut generator = Generator::new(model, seed)?;
    generator.prime(primer)?;
    (0..steps).map(|_| generator.next(settings, None)).collect()
}

/// A melody as primer tokens. Melody events need the model's grid; note sequences keep the
/// pitches of the onsets; char models get the melody written as ABC, without its final bar line
/// so that the tune goes on (characters the vocabulary lacks are left out).
pub fn melody_primer(encoding: &Encoding, melody: &Melody) -> Result<Vec<u32>, EncodingError> {
    match encoding {
        Encoding::MelodyEvents {
            steps_per_quarter, ..
        } => {
            if melody.grid.steps_per_quarter != *steps_per_quarter {
                return Err(EncodingError::Grid {
                    melody: melody.grid.steps_per_quarter,
                    model: *steps_per_quarter,
                });
            }
            Ok(melody.tokens())
        }
        Encoding::PitchSequence { .. } => Ok(sequence::pitch_tokens(&melody.pitches())),
        Encoding::Intervals { .. } => Ok(sequence::interval_tokens(&melody.pitches())),
        Encoding::Chars { vocabulary } => Ok(vocabulary.encode(&abc_primer_text(melody)).tokens),
        Encoding::ChoraleVoices { .. } => Err(EncodingError::Chorale),
    }
}

/// A melody written as an ABC tune left open (no final `|]`), for a char model to go on with.
pub fn abc_primer_text(melody: &Melody) -> String {
    let text = write_abc(melody, &AbcHeader::default());
    let open = text.trim_end().trim_end_matches("|]").trim_end();
    format!("{open} |")
}

/// ABC text as primer tokens for a char model, with the characters its vocabulary lacks.
pub fn text_primer(
    encoding: &Encoding,
    text: &str,
) -> Result<crate::music::text::EncodedText, EncodingError> {
    match encoding {
        Encoding::Chars { vocabulary } => Ok(vocabulary.encode(text)),
        _ => Err(EncodingError::NotText),
    }
}

/// Pitches played one after another, each a quarter note (a NOTE_ON, then HOLDs).
pub fn quarter_notes(pitches: &[u8], grid: StepGrid) -> Result<Melody, EncodingError> {
    let mut events = Vec::with_capacity(pitches.len() * grid.steps_per_quarter as usize);
    for &pitch in pitches {
        if !(MIN_PITCH..=MAX_PITCH).contains(&pitch) {
            return Err(EncodingError::Pitch(pitch));
        }
        events.push(MelodyEvent::NoteOn(pitch));
        events.extend((1..grid.steps_per_quarter).map(|_| MelodyEvent::Hold));
    }
    Ok(Melody { grid, events })
}

/// Tokens turned back into music.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// `dropped`: interval tokens that could not be played (a step out of the pitch range, or
    /// an interval before any pitch).
    Melody { melody: Melody, dropped: usize },
    /// A char model's text (ABC, if the model learnt it well).
    Text(String),
}

/// Decodes a whole token stream. Note sequences become eighth notes ([`SEQUENCE_GRID`]); interval
/// streams are read leniently, since a sampled stream need not follow the encoding's grammar:
/// a first-pitch token anywhere restarts from that pitch, and unplayable steps are dropped.
pub fn decode(encoding: &Encoding, tokens: &[u32]) -> Result<Decoded, EncodingError> {
    let out_of_vocabulary = || {
        let token = tokens
            .iter()
            .copied()
            .find(|&t| t as usize >= encoding.vocab_size());
        EncodingError::Token(token.unwrap_or(u32::MAX))
    };
    let eighths = |pitches: Vec<u8>, dropped| Decoded::Melody {
        melody: Melody {
            grid: SEQUENCE_GRID,
            events: pitches.into_iter().map(MelodyEvent::NoteOn).collect(),
        },
        dropped,
    };
    match encoding {
        Encoding::MelodyEvents {
            steps_per_quarter, ..
        } => {
            let melody = Melody::from_tokens(tokens, StepGrid::new(*steps_per_quarter))
                .ok_or_else(out_of_vocabulary)?;
            Ok(Decoded::Melody { melody, dropped: 0 })
        }
        Encoding::PitchSequence { .. } => {
            let pitches = sequence::pitches_from_tokens(tokens).ok_or_else(out_of_vocabulary)?;
            Ok(eighths(pitches, 0))
        }
        Encoding::Intervals { .. } => {
            let mut pitches: Vec<u8> = Vec::with_capacity(tokens.len());
            for &token in tokens {
                let pitch = sequence::pitches_from_tokens(&[token])
                    .or_else(|| {
                        let previous = u32::from(*pitches.last()? - MIN_PITCH);
                        sequence::pitches_from_interval_tokens(&[previous, token])
                    })
                    .and_then(|p| p.last().copied());
                pitches.extend(pitch);
            }
            let dropped = tokens.len() - pitches.len();
            Ok(eighths(pitches, dropped))
        }
        Encoding::Chars { vocabulary } => vocabulary
            .decode(tokens)
            .map(Decoded::Text)
            .ok_or_else(out_of_vocabulary),
        Encoding::ChoraleVoices { .. } => Err(EncodingError::Chorale),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::folder::save_untrained;
    use crate::model::{CellKind, ModelCard, NetworkConfig};
    use crate::music::text::CharVocab;
    use candle_core::Device;

    /// A random-weight model over `encoding`, saved to a folder and loaded back as a user would.
    fn random_model(encoding: Encoding) -> Model {
        let config = NetworkConfig {
            cell: CellKind::Lstm,
            layers: 2,
            embedding: 8,
            hidden: 16,
            vocab_size: encoding.vocab_size(),
            dropout: 0.0,
        };
        let dir = tempfile::tempdir().unwrap();
        save_untrained(dir.path(), &ModelCard::new("test", config, encoding), 1).unwrap();
        Model::load(dir.path(), &Device::Cpu).unwrap()
    }

    fn primer() -> Melody {
        quarter_notes(&[60, 62, 64, 65, 67], StepGrid::SIXTEENTHS).unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_tokens() {
        let model = random_model(Encoding::melody_events(4));
        let settings = SamplingSettings {
            confidence: Some((1.0, 0.3)),
            ..Default::default()
        };
        let tokens = primer().tokens();
        let a = generate(&model, &tokens, 50, &settings, 9).unwrap();
        assert_eq!(a.len(), 50);
        assert_eq!(a, generate(&model, &tokens, 50, &settings, 9).unwrap());
        assert_ne!(a, generate(&model, &tokens, 50, &settings, 10).unwrap());
    }

    #[test]
    fn greedy_ignores_the_seed() {
        let model = random_model(Encoding::melody_events(4));
        let greedy = SamplingSettings {
            greedy: true,
            ..Default::default()
        };
        let a = generate(&model, &[], 30, &greedy, 1).unwrap();
        assert_eq!(a, generate(&model, &[], 30, &greedy, 2).unwrap());
    }

    #[test]
    fn priming_changes_the_continuation() {
        let model = random_model(Encoding::melody_events(4));
        let mut cold = Generator::new(&model, 0).unwrap();
        let mut primed = Generator::new(&model, 0).unwrap();
        primed.prime(&primer().tokens()).unwrap();
        let (a, b) = (
            cold.next_logits().unwrap().to_vec(),
            primed.next_logits().unwrap().to_vec(),
        );
        let diff = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(diff > 1e-4, "{diff}");
    }

    #[test]
    fn logits_and_steps_follow_the_fed_tokens() {
        // Sampling, then priming with the sampled token, is the same as feeding it.
        let model = random_model(Encoding::melody_events(4));
        let mut generator = Generator::new(&model, 3).unwrap();
        let token = generator.next(&Default::default(), None).unwrap();
        let after_sampling = generator.next_logits().unwrap().to_vec();
        let mut fed = Generator::new(&model, 3).unwrap();
        fed.prime(&[REST_TOKEN, token]).unwrap();
        assert_eq!(after_sampling, fed.next_logits().unwrap());
    }

    #[test]
    fn generated_melody_events_decode_with_the_primer() {
        let encoding = Encoding::melody_events(4);
        let model = random_model(encoding.clone());
        let mut tokens = primer().tokens();
        tokens.extend(generate(&model, &tokens, 64, &Default::default(), 5).unwrap());
        let Decoded::Melody { melody, dropped } = decode(&encoding, &tokens).unwrap() else {
            panic!("melody events decode to a melody");
        };
        assert_eq!((melody.events.len(), dropped), (20 + 64, 0));
        assert_eq!(melody.events[..20], primer().events[..]);
        assert!(melody.note_count() >= 5);
    }

    #[test]
    fn note_sequences_decode_as_eighths_and_bad_intervals_are_dropped() {
        let pitches = Encoding::PitchSequence {
            min_pitch: MIN_PITCH,
            max_pitch: MAX_PITCH,
        };
        let tokens = melody_primer(&pitches, &primer()).unwrap();
        assert_eq!(tokens, [24, 26, 28, 29, 31]);
        let Decoded::Melody { melody, .. } = decode(&pitches, &tokens).unwrap() else {
            panic!()
        };
        assert_eq!(melody.grid, SEQUENCE_GRID);
        assert_eq!(melody.pitches(), [60, 62, 64, 65, 67]);

        let intervals = Encoding::Intervals {
            min_pitch: MIN_PITCH,
            max_pitch: MAX_PITCH,
        };
        let up = |semitones: i32| (61 + 60 + semitones) as u32;
        // An interval first (no pitch yet), a leap out of range, then a restart at 48.
        let tokens = [up(2), 24, up(2), up(40), 12, up(-1)];
        let Decoded::Melody { melody, dropped } = decode(&intervals, &tokens).unwrap() else {
            panic!()
        };
        assert_eq!((melody.pitches(), dropped), (vec![60, 62, 48, 47], 2));
    }

    #[test]
    fn start_tokens_and_default_primers() {
        let melody = Encoding::melody_events(4);
        assert_eq!(start_token(&melody), REST_TOKEN);
        assert!(default_primer(&melody).is_empty());
        let chars = Encoding::Chars {
            vocabulary: CharVocab::from_corpus(["X:1\nabc"]),
        };
        assert_eq!(default_primer(&chars), [chars_token(&chars, 'X')]);
        let no_x = Encoding::Chars {
            vocabulary: CharVocab::from_corpus(["abc\n"]),
        };
        assert_eq!(start_token(&no_x), chars_token(&no_x, '\n'));
        assert_eq!(
            decode(&chars, &text_primer(&chars, "X:1\n").unwrap().tokens).unwrap(),
            Decoded::Text("X:1\n".into())
        );
        assert_eq!(text_primer(&melody, "X:1"), Err(EncodingError::NotText));
    }

    fn chars_token(encoding: &Encoding, c: char) -> u32 {
        let Encoding::Chars { vocabulary } = encoding else {
            panic!()
        };
        vocabulary.token(c).unwrap()
    }

    #[test]
    fn a_char_model_continues_text() {
        let text = "X:1\nT:Test\nM:4/4\nL:1/8\nK:G\nGABc dedB|";
        let encoding = Encoding::Chars {
            vocabulary: CharVocab::from_corpus([text]),
        };
        let model = random_model(encoding.clone());
        let primer = melody_primer(&encoding, &primer()).unwrap();
        let tail = generate(&model, &primer, 20, &Default::default(), 1).unwrap();
        let Decoded::Text(text) = decode(&encoding, &tail).unwrap() else {
            panic!()
        };
        assert_eq!(text.chars().count(), 20);
    }

    #[test]
    fn primers_refuse_what_the_encoding_cannot_hold() {
        let melody = Encoding::melody_events(12);
        assert_eq!(
            melody_primer(&melody, &primer()),
            Err(EncodingError::Grid {
                melody: 4,
                model: 12
            })
        );
        assert_eq!(
            quarter_notes(&[60, 20], StepGrid::SIXTEENTHS),
            Err(EncodingError::Pitch(20))
        );
        assert_eq!(
            decode(&Encoding::melody_events(4), &[0, 70]),
            Err(EncodingError::Token(70))
        );
    }
}
