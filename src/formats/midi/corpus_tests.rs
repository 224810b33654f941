//! The training corpora: every chorale and fiddle tune reads, and tunes survive a round trip.
//! Skipped, with a message, where the data is not there.

use super::*;
use crate::music::{Melody, StepGrid};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The `.mid` files of `<data>/<collection>/{train,valid}`, sorted.
fn midi_files(data: &Path, collection: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["train", "valid"]
        .iter()
        .filter_map(|split| std::fs::read_dir(data.join(collection).join(split)).ok())
        .flatten()
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "mid"))
        .collect();
    files.sort();
    files
}

/// One CSV line split into fields; commas inside double quotes do not split, `""` is a quote.
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            _ => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// `notes_per_track` of the manifest by `midi_path` (`bach/train/bwv10.7.mid` → `0|43|49|56|58`).
fn notes_per_track(data: &Path) -> HashMap<String, Vec<usize>> {
    let text = std::fs::read_to_string(data.join("manifest.csv")).unwrap();
    let mut lines = text.lines();
    let header = csv_fields(lines.next().unwrap());
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (path_column, counts_column) = (column("midi_path"), column("notes_per_track"));
    lines
        .map(csv_fields)
        .filter(|row| row.len() == header.len() && !row[counts_column].is_empty())
        .map(|row| {
            let counts = row[counts_column]
                .split('|')
                .map(|n| n.parse().unwrap())
                .collect();
            (row[path_column].clone(), counts)
        })
        .collect()
}

#[test]
fn csv_fields_respect_quotes() {
    assert_eq!(
        csv_fields(r#"a,"b,c",,"say ""hi""""#),
        ["a", "b,c", "", r#"say "hi""#]
    );
}

#[test]
fn every_chorale_gives_four_voices_with_the_manifest_note_counts() {
    let data = crate::testing::data_dir();
    let manifest = notes_per_track(&data);
    let files = midi_files(&data, "bach");
    assert!(!files.is_empty(), "no chorales in {}", data.display());
    for path in &files {
        let piece = read_midi(&std::fs::read(path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let voices = four_voices(&piece).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let relative = path
            .strip_prefix(&data)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let expected = &manifest[&relative];
        let counts: Vec<usize> = voices.iter().map(|v| v.notes.len()).collect();
        assert_eq!(
            expected[0], 0,
            "{relative}: the first track is the conductor"
        );
        assert_eq!(counts, expected[1..], "{relative}");
        assert_eq!(
            voices.map(|v| v.channel),
            [Some(0), Some(1), Some(2), Some(3)],
            "{relative}"
        );
    }
    eprintln!("{} chorales read, four voices each", files.len());
}

#[test]
fn every_tune_reads_as_one_melody_and_survives_a_round_trip() {
    let data = crate::testing::data_dir();
    let manifest = notes_per_track(&data);
    let files = midi_files(&data, "ryans");
    assert!(!files.is_empty(), "no tunes in {}", data.display());
    for path in &files {
        let label = path
            .strip_prefix(&data)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let piece =
            read_midi(&std::fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(piece.parts.len(), 1, "{label}");
        assert_eq!(piece.parts[0].name.as_deref(), Some("Melody"), "{label}");
        assert_eq!(
            manifest[&label][1..],
            [piece.parts[0].notes.len()],
            "{label}"
        );

        let source = MelodySource::auto(&piece);
        let (melody, _) = extract_melody(&piece, &source, StepGrid::SIXTEENTHS).unwrap();
        let written = melody_piece(
            &melody,
            piece.initial_bpm(),
            piece.initial_time_signature(),
            piece.initial_key(),
        );
        let back = read_midi(&write_midi(&written)).unwrap_or_else(|e| panic!("{label}: {e}"));
        let (again, report) = extract_melody(&back, &MelodySource::auto(&back), melody.grid)
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(report, Default::default(), "{label}");
        assert_eq!(again, melody, "{label}");
        assert_eq!(
            Melody::from_notes(&melody.to_notes(90), melody.grid).0,
            melody
        );
    }
    eprintln!("{} tunes read and written back", files.len());
}
