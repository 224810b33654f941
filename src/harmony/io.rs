//! What to harmonise, read from a MIDI or ABC file, and the four voices written back as MIDI.
//!
//! A file with four voices (see [`four_voices`]) gives all four, for re-harmonising parts of a
//! chorale; any other file gives its melody as the soprano, made fit by [`prepare_soprano`].

use super::voices::{HarmonyInputError, VOICE_RANGES, in_range, prepare_soprano};
use crate::formats::ReadError;
use crate::formats::abc::read_abc;
use crate::formats::corpus::{FileKind, decode_text};
use crate::formats::midi::{
    MelodySource, four_voices, melody_notes, read_midi_with_report, write_midi,
};
use crate::music::chorale::VOICE_NAMES;
use crate::music::encoding::pitch_name;
use crate::music::score::Bpm;
use crate::music::{Key, Note, Part, Piece, TimeSignature, Timed};
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::Path;

/// The music to harmonise: the voices given (soprano, alto, tenor, bass), and how to write the
/// result.
#[derive(Debug, Clone, PartialEq)]
pub struct HarmonyInput {
    /// `Some` for each voice the file gives; the soprano always is.
    pub voices: [Option<Vec<Note>>; 4],
    /// The tempo at the start of the file.
    pub bpm: Bpm,
    pub time_signature: TimeSignature,
    /// The key at the start, moved with the melody if it was transposed.
    pub key: Option<Key>,
    pub title: Option<String>,
    /// What was changed or skipped while reading, one sentence each, for the user.
    pub warnings: Vec<String>,
}

impl HarmonyInput {
    /// The soprano's notes.
    pub fn soprano(&self) -> &[Note] {
        self.voices[0].as_deref().unwrap_or_default()
    }

    /// Whether the file gave all four voices.
    pub fn is_complete(&self) -> bool {
        self.voices.iter().all(Option::is_some)
    }
}

/// Reads what to harmonise from a `.mid`, `.midi` or `.abc` file (the first tune of an ABC file).
///
/// Every error names the file: an unknown extension, an unreadable file, one without notes, a
/// melody no voice could hold.
pub fn read_harmony_input(path: &Path) -> Result<HarmonyInput, HarmonyInputError> {
    let read_error = |source: ReadError| match source {
        ReadError::NoNotes => in_file(path, HarmonyInputError::NoNotes),
        source => HarmonyInputError::Read {
            path: path.to_path_buf(),
            source,
        },
    };
    let kind = FileKind::of(path).ok_or_else(|| HarmonyInputError::UnknownFileType {
        path: path.to_path_buf(),
    })?;
    let bytes = std::fs::read(path).map_err(|e| read_error(e.into()))?;
    let mut warnings = Vec::new();
    let (piece, title) = match kind {
        FileKind::Midi => {
            let (piece, report) = read_midi_with_report(&bytes).map_err(read_error)?;
            for damage in report.damage {
                warnings.push(format!(
                    "damaged at byte {}: {} (kept the notes before it)",
                    damage.offset, damage.message
                ));
            }
            let title = piece.title.clone();
            (piece, title)
        }
        FileKind::Abc => {
            let text = decode_text(&bytes).map_err(read_error)?;
            let mut tunes = read_abc(&text).map_err(read_error)?;
            if tunes.len() > 1 {
                warnings.push(format!(
                    "the file holds {} tunes: harmonising the first",
                    tunes.len()
                ));
            }
            let tune = tunes.swap_remove(0);
            for w in &tune.warnings {
                warnings.push(format!(
                    "line {}, column {}: {}",
                    w.line, w.column, w.message
                ));
            }
            let title = tune.title.or(tune.piece.title.clone());
            (tune.piece, title)
        }
    };
    let mut key = piece.initial_key();
    let voices = match four_voices(&piece) {
        Ok(parts) => {
            for (voice, part) in parts.iter().enumerate() {
                let outside = part
                    .notes
                    .iter()
                    .filter(|n| !in_range(voice, n.pitch))
                    .count();
                if outside > 0 {
                    let (low, high) = VOICE_RANGES[voice];
                    warnings.push(format!(
                        "the {} has {outside} notes outside its range ({}–{})",
                        VOICE_NAMES[voice].to_lowercase(),
                        pitch_name(low),
                        pitch_name(high)
                    ));
                }
            }
            parts.map(|part| Some(part.notes))
        }
        Err(_) => {
            let notes = melody_notes(&piece, &MelodySource::auto(&piece)).map_err(read_error)?;
            let prepared = prepare_soprano(&notes).map_err(|e| in_file(path, e))?;
            warnings.extend(prepared.warnings);
            key = key.map(|k| Key {
                tonic: (i32::from(k.tonic) + prepared.transposition).rem_euclid(12) as u8,
                mode: k.mode,
            });
            [Some(prepared.notes), None, None, None]
        }
    };
    Ok(HarmonyInput {
        voices,
        bpm: piece.initial_bpm(),
        time_signature: piece.initial_time_signature(),
        key,
        title,
        warnings,
    })
}

fn in_file(path: &Path, error: HarmonyInputError) -> HarmonyInputError {
    HarmonyInputError::InFile {
        path: path.to_path_buf(),
        source: Box::new(error),
    }
}

/// A piece holding the four voices as parts named Soprano, Alto, Tenor, Bass on channels 1–4
/// (zero-based 0–3), as the corpus files have them, so [`four_voices`] reads them back.
pub fn chorale_piece(
    voices: &[Vec<Note>; 4],
    bpm: Bpm,
    time_signature: TimeSignature,
    key: Option<Key>,
    title: Option<&str>,
) -> Piece {
    fn at_start<T>(value: T) -> Timed<T> {
        Timed { at: 0.0, value }
    }
    Piece {
        title: title.map(str::to_owned),
        tempos: vec![at_start(bpm)],
        time_signatures: vec![at_start(time_signature)],
        keys: key.map(at_start).into_iter().collect(),
        parts: (0..4)
            .map(|voice| {
                Part::new(
                    Some(VOICE_NAMES[voice].into()),
                    Some(voice as u8),
                    voices[voice].clone(),
                )
            })
            .collect(),
    }
}

/// Writes the four voices ([`chorale_piece`]) to a new MIDI file at `path`.
///
/// Never overwrites: an existing file is an error that says so, and creating with `create_new`
/// means a file appearing meanwhile is safe too. (For `cantus generate`'s `--auto-name`, write
/// `write_midi(&chorale_piece(..))` through its own helper instead.)
pub fn write_chorale_midi(
    path: &Path,
    voices: &[Vec<Note>; 4],
    bpm: Bpm,
    time_signature: TimeSignature,
    key: Option<Key>,
    title: Option<&str>,
) -> Result<()> {
    if FileKind::of(path) != Some(FileKind::Midi) {
        bail!("{}: the output must end in .mid or .midi", path.display());
    }
    let bytes = write_midi(&chorale_piece(voices, bpm, time_signature, key, title));
    let mut file = match std::fs::File::create_new(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!(
                "{} exists: not overwriting it (choose another name)",
                path.display()
            )
        }
        Err(error) => return Err(error).with_context(|| path.display().to_string()),
    };
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::midi::{melody_piece, read_midi};
    use crate::music::{Melody, MelodyEvent::*, Mode, StepGrid};
    use crate::testing::note;
    use std::path::PathBuf;

    fn voices() -> [Vec<Note>; 4] {
        [
            vec![note(72, 0.0, 1.0), note(74, 1.0, 1.5), note(76, 1.5, 2.0)],
            vec![note(67, 0.0, 2.0)],
            vec![note(64, 0.0, 1.0), note(62, 1.0, 2.0)],
            vec![note(48, 0.0, 1.0), note(43, 1.0, 2.0)],
        ]
    }

    /// Notes as (pitch, start, end): velocities are the writer's business.
    fn timing(notes: &[Note]) -> Vec<(u8, f64, f64)> {
        notes.iter().map(|n| (n.pitch, n.start, n.end)).collect()
    }

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn chorales_round_trip_through_midi() {
        let key = Some(Key {
            tonic: 7,
            mode: Mode::Major,
        });
        let piece = chorale_piece(&voices(), 80.0, TimeSignature::COMMON, key, Some("Test"));
        let read = read_midi(&write_midi(&piece)).unwrap();
        let parts = four_voices(&read).unwrap();
        for (voice, part) in parts.iter().enumerate() {
            assert_eq!(part.name.as_deref(), Some(VOICE_NAMES[voice]));
            assert_eq!(part.channel, Some(voice as u8));
            assert_eq!(timing(&part.notes), timing(&voices()[voice]));
        }
        assert_eq!(read.initial_bpm(), 80.0);
        assert_eq!(read.initial_key(), key);
        assert_eq!(read.title.as_deref(), Some("Test"));

        // And through a file: all four voices come back, no warnings.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.mid");
        write_chorale_midi(&path, &voices(), 80.0, TimeSignature::COMMON, key, None).unwrap();
        let input = read_harmony_input(&path).unwrap();
        assert!(input.is_complete());
        for voice in 0..4 {
            assert_eq!(
                timing(input.voices[voice].as_ref().unwrap()),
                timing(&voices()[voice])
            );
        }
        assert_eq!(input.key, key);
        assert!(input.warnings.is_empty(), "{:?}", input.warnings);
    }

    #[test]
    fn writing_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "taken.mid", b"mine");
        let error = write_chorale_midi(&path, &voices(), 120.0, TimeSignature::COMMON, None, None)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{} exists: not overwriting it (choose another name)",
                path.display()
            )
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"mine");
        let error = write_chorale_midi(
            &dir.path().join("out.abc"),
            &voices(),
            120.0,
            TimeSignature::COMMON,
            None,
            None,
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("the output must end in .mid or .midi")
        );
    }

    #[test]
    fn a_melody_file_gives_the_soprano_only() {
        let melody = Melody {
            grid: StepGrid::SIXTEENTHS,
            events: vec![
                NoteOn(67),
                Hold,
                Hold,
                Hold,
                NoteOn(69),
                Hold,
                Rest,
                Hold,
                NoteOn(71),
            ],
        };
        let piece = melody_piece(&melody, 96.0, TimeSignature::COMMON, Some(Key::C_MAJOR));
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "tune.MID", &write_midi(&piece));
        let input = read_harmony_input(&path).unwrap();
        assert_eq!(timing(input.soprano()), timing(&melody.to_notes(100)));
        assert_eq!(input.voices[1..], [None, None, None]);
        assert!(!input.is_complete());
        assert_eq!(input.bpm, 96.0);
        assert_eq!(input.key, Some(Key::C_MAJOR));
        assert!(input.warnings.is_empty(), "{:?}", input.warnings);
    }

    #[test]
    fn an_abc_tune_gives_the_soprano() {
        let dir = tempfile::tempdir().unwrap();
        let text =
            "X:1\nT:Little tune\nM:3/4\nL:1/4\nQ:1/4=90\nK:G\nGAB|d2B|G3|]\n\nX:2\nK:C\nC|]\n";
        let path = write(&dir, "tunes.abc", text.as_bytes());
        let input = read_harmony_input(&path).unwrap();
        let pitches: Vec<u8> = input.soprano().iter().map(|n| n.pitch).collect();
        assert_eq!(pitches, vec![67, 69, 71, 74, 71, 67]);
        assert_eq!(input.soprano()[3].duration(), 2.0);
        assert_eq!(input.voices[1..], [None, None, None]);
        assert_eq!(input.title.as_deref(), Some("Little tune"));
        assert_eq!(input.time_signature.numerator, 3);
        assert_eq!(input.bpm, 90.0);
        assert_eq!(input.key.map(|k| k.tonic), Some(7));
        assert_eq!(
            input.warnings,
            vec!["the file holds 2 tunes: harmonising the first"]
        );
    }

    #[test]
    fn chords_in_a_melody_keep_their_top_note() {
        let piece = Piece {
            parts: vec![Part::new(
                Some("Piano".into()),
                Some(0),
                vec![
                    note(60, 0.0, 1.0),
                    note(64, 0.0, 1.0),
                    note(67, 0.0, 1.0),
                    note(72, 1.0, 2.0),
                ],
            )],
            ..Piece::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "chords.mid", &write_midi(&piece));
        let input = read_harmony_input(&path).unwrap();
        assert_eq!(
            timing(input.soprano()),
            vec![(67, 0.0, 1.0), (72, 1.0, 2.0)]
        );
        assert_eq!(
            input.warnings,
            vec!["the melody has chords: kept the top note of each (2 notes dropped)"]
        );
    }

    #[test]
    fn a_melody_two_octaves_too_high_is_transposed() {
        // G6..B6 lies two octaves above G4..B4; the key moves with it (not at all, by octaves).
        let notes = vec![note(91, 0.0, 1.0), note(93, 1.0, 2.0), note(95, 2.0, 3.0)];
        let piece = Piece {
            keys: vec![Timed {
                at: 0.0,
                value: Key::C_MAJOR,
            }],
            parts: vec![Part::new(Some("Melody".into()), Some(0), notes)],
            ..Piece::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "high.mid", &write_midi(&piece));
        let input = read_harmony_input(&path).unwrap();
        let pitches: Vec<u8> = input.soprano().iter().map(|n| n.pitch).collect();
        assert_eq!(pitches, vec![67, 69, 71]);
        assert_eq!(input.key, Some(Key::C_MAJOR));
        assert_eq!(
            input.warnings,
            vec!["the melody lies outside the soprano range (A3–A5): transposed by -24 semitones"]
        );
    }

    #[test]
    fn a_semitone_transposition_moves_the_key() {
        // A3..A5 is exactly the range; A#3..A#5 fits nowhere by octaves: down a semitone.
        let notes = vec![note(58, 0.0, 1.0), note(82, 1.0, 2.0)];
        let piece = Piece {
            keys: vec![Timed {
                at: 0.0,
                value: Key::from_fifths(-2, false),
            }],
            parts: vec![Part::new(None, Some(0), notes)],
            ..Piece::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "b-flat.mid", &write_midi(&piece));
        let input = read_harmony_input(&path).unwrap();
        assert_eq!(input.key.map(|k| k.tonic), Some(9));
        assert_eq!(input.soprano()[0].pitch, 57);
    }

    #[test]
    fn unreadable_files_are_clear_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let empty = write(&dir, "empty.mid", &write_midi(&Piece::default()));
        let error = read_harmony_input(&empty).unwrap_err();
        assert!(matches!(&error, HarmonyInputError::InFile { source, .. }
            if matches!(**source, HarmonyInputError::NoNotes)));
        assert_eq!(
            error.to_string(),
            format!("{}: no notes to harmonise", empty.display())
        );

        let garbage = write(&dir, "garbage.mid", b"not a midi file");
        let error = read_harmony_input(&garbage).unwrap_err();
        assert!(matches!(error, HarmonyInputError::Read { .. }));
        assert!(
            error
                .to_string()
                .starts_with(&format!("{}: ", garbage.display()))
        );

        let missing = dir.path().join("missing.abc");
        let error = read_harmony_input(&missing).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("{}: ", missing.display()))
        );

        let text = write(&dir, "notes.txt", b"C D E");
        let error = read_harmony_input(&text).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{}: unknown file type: expected .mid, .midi or .abc",
                text.display()
            )
        );
    }

    #[test]
    fn a_bach_chorale_gives_four_voices() {
        let path = crate::testing::data_dir().join("bach/valid");
        let file = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "mid"))
            .unwrap();
        let input = read_harmony_input(&file).unwrap();
        assert!(input.is_complete());
        assert!(input.warnings.is_empty(), "{:?}", input.warnings);
        let expected = four_voices(&read_midi(&std::fs::read(&file).unwrap()).unwrap()).unwrap();
        for (given, part) in input.voices.iter().zip(&expected) {
            assert_eq!(given.as_ref().unwrap(), &part.notes);
        }
    }
}
