//! Whole-tune tests: reading features end to end, the Ryan's Mammoth corpus against its MIDI,
//! write → read round trips, and junk that must not panic.

use super::*;
use crate::music::{Key, Melody, MelodyEvent, Mode, StepGrid, TimeSignature, Timed};
use crate::testing::canonical_events;
use proptest::prelude::*;
use std::path::PathBuf;

fn tune(text: &str) -> AbcTune {
    read_abc(text).unwrap().remove(0)
}

fn written(text: &str) -> AbcTune {
    read_abc_with(
        text,
        AbcOptions {
            unroll_repeats: false,
        },
    )
    .unwrap()
    .remove(0)
}

/// (pitch, start, end) of the melody.
fn notes(tune: &AbcTune) -> Vec<(u8, f64, f64)> {
    tune.piece.parts[0]
        .notes
        .iter()
        .map(|n| (n.pitch, n.start, n.end))
        .collect()
}

fn pitches(tune: &AbcTune) -> Vec<u8> {
    tune.piece.parts[0].notes.iter().map(|n| n.pitch).collect()
}

fn syntax_position(error: &ReadError) -> (usize, usize) {
    match error {
        ReadError::Syntax { line, column, .. } => (*line, *column),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn header_fields_fill_the_piece() {
    let tune = tune(
        "%abc-2.1\nX:12\nT:The Tune\nT:Subtitle\nC:Trad.\nM:6/8\nL:1/8\nQ:3/8=80\nK:Ador\nABc|\n",
    );
    assert_eq!(tune.reference, Some(12));
    assert_eq!(tune.title.as_deref(), Some("The Tune"));
    assert_eq!(tune.piece.title.as_deref(), Some("The Tune"));
    assert_eq!(tune.line, 2);
    assert_eq!(
        tune.other_fields,
        [('T', "Subtitle".to_string()), ('C', "Trad.".to_string())]
    );
    assert_eq!(
        tune.piece.tempos,
        [Timed {
            at: 0.0,
            value: 120.0
        }]
    );
    let six_eight = TimeSignature {
        numerator: 6,
        denominator: 8,
    };
    assert_eq!(
        tune.piece.time_signatures,
        [Timed {
            at: 0.0,
            value: six_eight
        }]
    );
    assert_eq!(
        tune.piece.keys,
        [Timed {
            at: 0.0,
            value: Key {
                tonic: 9,
                mode: Mode::Dorian
            }
        }]
    );
    let part = &tune.piece.parts[0];
    assert_eq!(part.name.as_deref(), Some("Melody"));
    assert!(part.notes.iter().all(|n| n.velocity == ABC_VELOCITY));
    assert_eq!(
        notes(&tune),
        [(69, 0.0, 0.5), (71, 0.5, 1.0), (72, 1.0, 1.5)]
    );
}

#[test]
fn defaults_and_metre_symbols() {
    let plain = tune("X:1\nK:C\nC\n");
    assert_eq!(
        plain.piece.tempos,
        [Timed {
            at: 0.0,
            value: 120.0
        }]
    );
    assert!(plain.piece.time_signatures.is_empty());
    let cut = tune("X:1\nM:C|\nK:C\nC\n");
    assert_eq!(
        cut.piece.initial_time_signature(),
        TimeSignature {
            numerator: 2,
            denominator: 2
        }
    );
    let common = tune("X:1\nM:C\nQ:1/4=100\nK:C\nC\n");
    assert_eq!(common.piece.initial_time_signature(), TimeSignature::COMMON);
    assert_eq!(common.piece.initial_bpm(), 100.0);
    assert!(
        tune("X:1\nM:none\nK:none\nC\n")
            .piece
            .time_signatures
            .is_empty()
    );
}

#[test]
fn old_style_tempo_counts_unit_notes() {
    assert_eq!(
        tune("X:1\nQ:120\nL:1/4\nK:C\nC\n").piece.initial_bpm(),
        120.0
    );
    assert_eq!(
        tune("X:1\nL:1/8\nQ:120\nK:C\nC\n").piece.initial_bpm(),
        60.0
    );
}

#[test]
fn accidentals_reach_every_octave_unless_a_directive_says_otherwise() {
    assert_eq!(pitches(&tune("X:1\nK:C\n^c C c'|C\n")), [73, 61, 85, 60]);
    let octave = "X:1\n%%propagate-accidentals octave\nK:C\n^c C c|C\n";
    assert_eq!(pitches(&tune(octave)), [73, 60, 73, 60]);
}

#[test]
fn body_fields_change_things_where_they_stand() {
    let tune = tune("X:1\nM:2/4\nL:1/8\nK:G\nF2 F2|\nM:3/4\nK:C\nF2 [L:1/4] F [Q:1/4=60] F|\n");
    assert_eq!(pitches(&tune), [66, 66, 65, 65, 65]);
    assert_eq!(notes(&tune)[4], (65, 4.0, 5.0));
    let three_four = TimeSignature {
        numerator: 3,
        denominator: 4,
    };
    assert_eq!(
        tune.piece.time_signatures[1],
        Timed {
            at: 2.0,
            value: three_four
        }
    );
    assert_eq!(
        tune.piece.keys[1],
        Timed {
            at: 2.0,
            value: Key::C_MAJOR
        }
    );
    assert_eq!(
        tune.piece.tempos[1],
        Timed {
            at: 4.0,
            value: 60.0
        }
    );
}

#[test]
fn lyrics_parts_and_other_voices_are_skipped() {
    let text = "X:1\nL:1/4\nV:1\nV:2\nK:C\nV:1\nC D|\nw:la la\nP:B\nV:2\nE, F,|\nV:1\nE F|\n";
    assert_eq!(pitches(&tune(text)), [60, 62, 64, 65]);
}

#[test]
fn ties_join_notes_across_bar_lines() {
    let tune = tune("X:1\nL:1/4\nK:C\nc2-|c2 d-e|\n");
    assert_eq!(
        notes(&tune),
        [(72, 0.0, 4.0), (74, 4.0, 5.0), (76, 5.0, 6.0)]
    );
}

#[test]
fn grace_notes_chord_symbols_and_decorations_take_no_time() {
    let tune = tune("X:1\nL:1/8\nK:D\n\"D\"{g}A !trill!B {/ag}.c \"^Segno\"~d TuvHe|\n");
    assert_eq!(
        notes(&tune),
        [
            (69, 0.0, 0.5),
            (71, 0.5, 1.0),
            (73, 1.0, 1.5),
            (74, 1.5, 2.0),
            (76, 2.0, 2.5)
        ]
    );
}

#[test]
fn repeats_unroll_or_stay_as_written() {
    let text = "X:1\nL:1/4\nK:C\n|:C D|1 E:|2 F|]\n";
    assert_eq!(pitches(&tune(text)), [60, 62, 64, 60, 62, 65]);
    assert_eq!(pitches(&written(text)), [60, 62, 64, 65]);
    let starts: Vec<f64> = notes(&tune(text)).iter().map(|n| n.1).collect();
    assert_eq!(starts, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
}

#[test]
fn every_tune_of_a_file_and_errors_that_do_not_lose_the_others() {
    let text = "%%header\nL:1/8\n\nX:1\nT:One\nK:C\nC\n\nfree text\n\nX:2\nT:Two\nK:C\nz4\n\nX:3\nT:Three\nK:C\nG\n";
    let results = read_abc_tunes(text);
    assert_eq!(results.len(), 3);
    assert!(matches!(results[1], Err(ReadError::NoNotes)));
    let tunes = read_abc(text).unwrap();
    assert_eq!(tunes.len(), 2);
    assert_eq!(tunes[1].title.as_deref(), Some("Three"));
    assert_eq!(tunes[1].line, 16);
    assert_eq!(
        pitches(&tunes[0]),
        [60],
        "the free text after the blank line is not music"
    );
}

#[test]
fn a_tune_without_x_or_k() {
    assert_eq!(pitches(&tune("K:G\nF")), [66]);
    assert_eq!(pitches(&tune("X:1\nT:No key\nABc\n")), [69, 71, 72]);
}

#[test]
fn errors_carry_line_and_column() {
    let error = read_abc("X:1\nK:C\nabc|\nde f99999|\n").unwrap_err();
    assert_eq!(syntax_position(&error), (4, 5));
    let error = read_abc("X:1\nL:1/x\nK:C\nabc\n").unwrap_err();
    assert_eq!(syntax_position(&error), (2, 1));
    let error = read_abc("X:1\nK:C\nc''''''''\n").unwrap_err();
    assert_eq!(syntax_position(&error), (3, 1));
}

#[test]
fn empty_and_junk_input_are_rejected() {
    assert!(matches!(read_abc(""), Err(ReadError::NoNotes)));
    assert!(matches!(read_abc("\n  \n"), Err(ReadError::NoNotes)));
    assert!(matches!(
        read_abc("X:1\nT:Only a header\nK:G\n"),
        Err(ReadError::NoNotes)
    ));
    let error = read_abc("just some words\nno fields").unwrap_err();
    assert_eq!(syntax_position(&error), (1, 1));
    let error = read_abc("X:1\nK:C\n#@#@ {} 8 ### ?\n").unwrap_err();
    assert_eq!(syntax_position(&error), (3, 1));
}

#[test]
fn a_stray_character_is_a_warning() {
    let tune = tune("X:1\nK:C\nC D # E|\n");
    assert_eq!(pitches(&tune), [60, 62, 64]);
    assert_eq!((tune.warnings[0].line, tune.warnings[0].column), (3, 5));
}

// ---------------------------------------------------------------------------------------------
// Round trips: melody events → ABC → melody events.

const MODES: [Mode; 7] = [
    Mode::Major,
    Mode::Minor,
    Mode::Dorian,
    Mode::Phrygian,
    Mode::Lydian,
    Mode::Mixolydian,
    Mode::Locrian,
];

const METRES: [(u8, u8); 9] = [
    (4, 4),
    (3, 4),
    (2, 4),
    (2, 2),
    (6, 8),
    (9, 8),
    (3, 8),
    (5, 8),
    (7, 4),
];

/// The melody `text` reads back as, on `grid`.
fn events_of(text: &str, grid: StepGrid) -> Vec<MelodyEvent> {
    let tune = read_abc(text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .remove(0);
    Melody::from_notes(&tune.piece.parts[0].notes, grid)
        .0
        .events
}

proptest! {
    #[test]
    fn melodies_survive_writing_and_reading(
        events in canonical_events(),
        steps_per_quarter in prop::sample::select(vec![1u32, 2, 3, 4, 6, 8]),
        tonic in 0u8..12,
        mode in prop::sample::select(MODES.to_vec()),
        (numerator, denominator) in prop::sample::select(METRES.to_vec()),
    ) {
        let melody = Melody { grid: StepGrid::new(steps_per_quarter), events };
        let header = AbcHeader {
            time_signature: TimeSignature { numerator, denominator },
            key: Key { tonic, mode },
            ..AbcHeader::default()
        };
        let text = write_abc(&melody, &header);
        prop_assert_eq!(events_of(&text, melody.grid), melody.events, "{}", text);
    }

    #[test]
    fn random_text_never_panics(text in ".{0,300}") {
        let _ = read_abc_tunes(&text);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = read_abc_tunes(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_abc_looking_text_never_panics(
        body in "[A-Ga-gzxZ|:\\[\\]()<>0-9/^_=,'\\-{}\"!+ .~&\nKLMQV]{0,300}",
        unroll in any::<bool>(),
    ) {
        let text = format!("X:1\nM:6/8\nK:G\n{body}");
        let _ = read_abc_tunes_with(&text, AbcOptions { unroll_repeats: unroll });
    }
}

// ---------------------------------------------------------------------------------------------
// The corpus: Ryan's Mammoth Collection, each tune as ABC and as the MIDI music21 made of it.

/// The `.abc` files of the fiddle tunes, train and valid, sorted.
fn corpus_files() -> Option<Vec<PathBuf>> {
    let data = crate::testing::data_dir();
    let mut files: Vec<PathBuf> = ["train", "valid"]
        .iter()
        .filter_map(|split| std::fs::read_dir(data.join("ryans").join(split)).ok())
        .flatten()
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "abc"))
        .collect();
    files.sort();
    Some(files)
}

/// (pitch, onset in quarters) of the notes of the track named `Melody`, by onset.
fn midi_onsets(bytes: &[u8]) -> Vec<(u8, f64)> {
    use midly::{MetaMessage, MidiMessage, Smf, Timing, TrackEventKind};
    let smf = Smf::parse(bytes).unwrap();
    let Timing::Metrical(ticks) = smf.header.timing else {
        panic!("timecode MIDI");
    };
    let ticks_per_quarter = f64::from(ticks.as_int());
    let melody = smf
        .tracks
        .iter()
        .find(|track| {
            track
                .iter()
                .any(|event| event.kind == TrackEventKind::Meta(MetaMessage::TrackName(b"Melody")))
        })
        .expect("a track named Melody");
    let mut onsets = Vec::new();
    let mut now = 0u64;
    for event in melody {
        now += u64::from(event.delta.as_int());
        if let TrackEventKind::Midi {
            message: MidiMessage::NoteOn { key, vel },
            ..
        } = event.kind
            && vel > 0
        {
            onsets.push((key.as_int(), now as f64 / ticks_per_quarter));
        }
    }
    onsets.sort_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
    onsets
}

/// Where two (pitch, onset) sequences first differ, if they do.
fn first_difference(abc: &[(u8, f64)], midi: &[(u8, f64)]) -> Option<String> {
    let same = |a: &(u8, f64), b: &(u8, f64)| a.0 == b.0 && (a.1 - b.1).abs() < 1e-3;
    match abc.iter().zip(midi).position(|(a, b)| !same(a, b)) {
        Some(i) => Some(format!("note {i}: ABC {:?}, MIDI {:?}", abc[i], midi[i])),
        None if abc.len() != midi.len() => Some(format!(
            "{} notes in ABC, {} in MIDI",
            abc.len(),
            midi.len()
        )),
        None => None,
    }
}

/// The tune as music21 (which made the corpus MIDI) reads it, where that departs from ABC:
///
/// * its tokenizer applies a broken rhythm only when the tokens on both sides are notes, so
///   `A>.B`, `A>uB`, `A>(B` and `(AB)>c` are played evenly: those `>`/`<` marks are removed;
/// * a note whose (first) chord symbol starts with `>` (`">4"A`, a fingering), a note that starts
///   with `H` (a fermata) and an invisible rest `x` are dropped, time and all: they are removed;
/// * a capital letter followed by a colon (`G::`, a bar line after a note) starts a field that
///   runs to the end of the line: the line is cut there;
/// * chords are never tied: ties inside and after `[…]` are removed.
///
/// Lines are rewritten character by character; quoted text and `!…!` decorations are copied.
fn music21_dialect(text: &str) -> String {
    let mut in_body = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if !in_body || tune::field(line).is_some() {
            in_body |= line.starts_with("K:");
            lines.push(line.to_string());
        } else {
            lines.push(music21_line(line));
        }
    }
    lines.join("\n")
}

fn music21_line(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut kept = String::new();
    let mut drop_next_note = false;
    // Whether the first chord symbol since the last note starts with `>`.
    let mut fingering: Option<bool> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '!' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == c)
                    .map_or(chars.len(), |e| i + e + 2);
                let quoted: String = chars[i..end].iter().collect();
                if c == '"' {
                    fingering.get_or_insert(quoted[1..].trim_start().starts_with('>'));
                }
                kept.push_str(&quoted);
                i = end;
            }
            'A'..='Z'
                if chars.get(i + 1) == Some(&':')
                    && chars.get(i + 2).is_none_or(|&n| n != '|')
                    && (i == 0 || chars[i - 1] != '[') =>
            {
                break;
            }
            'x' => i += note_length_in_chars(&chars[i..]),
            '>' | '<' => {
                let run = chars[i..].iter().take_while(|&&r| r == c).count();
                if note_before(&chars[..i]) && note_after(&chars[i + run..]) {
                    kept.extend(&chars[i..i + run]);
                }
                i += run;
            }
            'H' if chars
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || "^_=".contains(*n)) =>
            {
                drop_next_note = true;
                i += 1;
            }
            '^' | '_' | '=' | 'A'..='G' | 'a'..='g' | 'z' | '['
                if c != '[' || chars.get(i + 2) != Some(&':') =>
            {
                let length = note_length_in_chars(&chars[i..]);
                let dropped =
                    std::mem::take(&mut drop_next_note) | (fingering.take() == Some(true));
                if !dropped && c == '[' {
                    kept.extend(chars[i..i + length].iter().filter(|&&c| c != '-'));
                    if chars.get(i + length) == Some(&'-') {
                        i += 1;
                    }
                } else if !dropped {
                    kept.extend(&chars[i..i + length]);
                }
                i += length;
            }
            _ => {
                kept.push(c);
                i += 1;
            }
        }
    }
    kept
}

/// Characters of the note or chord (with its length) that `chars` starts with.
fn note_length_in_chars(chars: &[char]) -> usize {
    let mut i = if chars[0] == '[' {
        chars
            .iter()
            .position(|&c| c == ']')
            .map_or(chars.len(), |e| e + 1)
    } else {
        let accidentals = chars.iter().take_while(|c| "^_=".contains(**c)).count();
        (accidentals + 1).min(chars.len())
    };
    while i < chars.len() && (chars[i].is_ascii_digit() || ",'/".contains(chars[i])) {
        i += 1;
    }
    i
}

/// Whether music21's token before a broken-rhythm mark is a note. Chord symbols, `!…!` and lone
/// accidentals make no token there.
fn note_before(chars: &[char]) -> bool {
    let mut i = chars.len();
    while i > 0 {
        match chars[i - 1] {
            ' ' | '\t' | '^' | '_' | '=' => i -= 1,
            '"' | '!' => {
                let mark = chars[i - 1];
                match chars[..i - 1].iter().rposition(|&c| c == mark) {
                    Some(open) => i = open,
                    None => return false,
                }
            }
            c => return c.is_ascii_alphanumeric() || matches!(c, '/' | ',' | '\'' | ']'),
        }
    }
    false
}

/// Whether music21's token after a broken-rhythm mark is a note.
fn note_after(chars: &[char]) -> bool {
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            ' ' | '\t' => i += 1,
            '"' | '!' => {
                let mark = chars[i];
                match chars[i + 1..].iter().position(|&c| c == mark) {
                    Some(close) => i += close + 2,
                    None => return false,
                }
            }
            c => return !".uv(){MKk-|:".contains(c),
        }
    }
    false
}

#[test]
fn corpus_tunes_read_and_match_their_midi() {
    let Some(files) = corpus_files() else {
        return;
    };
    assert!(!files.is_empty());
    let as_written = AbcOptions {
        unroll_repeats: false,
    };
    let (mut parsed, mut matched, mut matched_dialect, mut unrolled) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        unrolled += usize::from(read_abc(&text).is_ok());
        let tune = match read_abc_with(&text, as_written) {
            Ok(mut tunes) => tunes.remove(0),
            Err(error) => {
                failures.push(format!("{name}: {error}"));
                continue;
            }
        };
        parsed += 1;
        let onsets = |tune: &AbcTune| -> Vec<(u8, f64)> {
            tune.piece.parts[0]
                .notes
                .iter()
                .map(|n| (n.pitch, n.start))
                .collect()
        };
        let midi = midi_onsets(&std::fs::read(path.with_extension("mid")).unwrap());
        matched += usize::from(first_difference(&onsets(&tune), &midi).is_none());
        let dialect = read_abc_with(&music21_dialect(&text), as_written)
            .unwrap()
            .remove(0);
        match first_difference(&onsets(&dialect), &midi) {
            None => matched_dialect += 1,
            Some(difference) => failures.push(format!("{name}: {difference}")),
        }
    }
    let percent = |count: usize| 100.0 * count as f64 / files.len() as f64;
    println!("{} differences:\n{}", failures.len(), failures.join("\n"));
    println!(
        "{} tunes: {:.1} % read ({:.1} % with repeats unrolled); {:.1} % match their MIDI note for \
         note, {:.1} % when read as music21 does",
        files.len(),
        percent(parsed),
        percent(unrolled),
        percent(matched),
        percent(matched_dialect),
    );
    assert_eq!(
        unrolled,
        files.len(),
        "every tune reads with repeats unrolled"
    );
    assert!(percent(parsed) >= 99.0);
    assert!(percent(matched_dialect) >= 95.0);
    // Standard ABC and music21 part ways on about a tenth of the tunes (mostly `A>.B`).
    assert!(percent(matched) >= 85.0);
}

#[test]
fn corpus_tunes_survive_a_round_trip_through_events() {
    let Some(files) = corpus_files() else {
        return;
    };
    let grid = StepGrid::SIXTEENTHS;
    for path in files.iter().step_by(40) {
        let text = std::fs::read_to_string(path).unwrap();
        let tune = read_abc(&text).unwrap().remove(0);
        let (melody, _) = Melody::from_notes(&tune.piece.parts[0].notes, grid);
        let header = AbcHeader {
            reference: tune.reference.unwrap_or(1),
            title: tune.title.clone().unwrap_or_default(),
            time_signature: tune.piece.initial_time_signature(),
            key: tune.piece.initial_key().unwrap_or(Key::C_MAJOR),
            bpm: tune.piece.initial_bpm(),
        };
        let written = write_abc(&melody, &header);
        assert_eq!(
            events_of(&written, grid),
            melody.events,
            "{}\n{written}",
            path.display()
        );
    }
}
