//! `cantus harmonize` and `cantus eval --harmony` as a user runs them, on a small chorale model
//! trained here (a few seconds) on the validation chorales.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cantus::formats::midi::{four_voices, melody_piece, read_midi, write_midi};
use cantus::harmony::train::{HarmonyConfig, HarmonyRun, train_harmony};
use cantus::harmony::voices::VOICE_RANGES;
use cantus::music::score::{Note, Piece, TimeSignature, Timed};
use cantus::music::{Melody, StepGrid};

#[path = "support/cli.rs"]
mod cli;
use cli::cantus;

fn valid_chorales() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/bach/valid")
}

/// The small model, trained once for every test here.
fn model() -> &'static Path {
    static MODEL: OnceLock<tempfile::TempDir> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let text = format!(
                r#"
kind = "chorale"
name = "tiny"
output = "{}"
[data]
train = ["{}"]
transpose = false
[model]
embedding = 4
metadata = 2
hidden = 16
context = 4
gap = 2
[training]
steps = 30
batch_size = 32
learning_rate = 0.01
validate_every = 30
seed = 1
"#,
                dir.path().display(),
                valid_chorales().display()
            );
            let config = HarmonyConfig::parse(&text, Path::new(".")).unwrap();
            let run = HarmonyRun {
                quiet: true,
                ..HarmonyRun::default()
            };
            train_harmony(config, &candle_core::Device::Cpu, &run).unwrap();
            dir
        })
        .path()
}

/// A melody in 3/4 at 90 BPM: quarter notes up and down a D major scale.
fn write_melody(path: &Path) -> Vec<u8> {
    let pitches = [62u8, 64, 66, 67, 69, 71, 73, 74, 71, 69, 67, 66, 64, 62, 62];
    let notes: Vec<Note> = pitches
        .iter()
        .enumerate()
        .map(|(i, &pitch)| Note {
            pitch,
            start: i as f64,
            end: i as f64 + 1.0,
            velocity: 90,
        })
        .collect();
    let (melody, _) = Melody::from_notes(&notes, StepGrid::SIXTEENTHS);
    let three_four = TimeSignature {
        numerator: 3,
        denominator: 4,
    };
    let piece = melody_piece(&melody, 90.0, three_four, None);
    std::fs::write(path, write_midi(&piece)).unwrap();
    pitches.to_vec()
}

fn read(path: &Path) -> Piece {
    read_midi(&std::fs::read(path).unwrap()).unwrap()
}

fn voices(path: &Path) -> [Vec<Note>; 4] {
    four_voices(&read(path)).unwrap().map(|part| part.notes)
}

fn run_ok(args: &[&str]) -> String {
    let output = cantus(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?}: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn harmonize_writes_four_voices_in_range_under_the_melody() {
    let dir = tempfile::tempdir().unwrap();
    let melody = dir.path().join("melody.mid");
    let pitches = write_melody(&melody);
    let out = dir.path().join("out.mid");
    let model = model().to_str().unwrap();
    let args = |out: &Path| {
        [
            "harmonize",
            melody.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--model",
            model,
            "--sweeps",
            "4",
            "--seed",
            "5",
        ]
        .map(String::from)
    };
    let said = run_ok(&args(&out).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(said.contains("keeping soprano"), "{said}");
    assert!(
        said.contains("fifths") && said.contains("octaves"),
        "{said}"
    );

    let written = read(&out);
    let [soprano, alto, tenor, bass] = voices(&out);
    let sung: Vec<u8> = soprano.iter().map(|n| n.pitch).collect();
    assert_eq!(sung, pitches, "the soprano is the melody");
    for (v, notes) in [&soprano, &alto, &tenor, &bass].into_iter().enumerate() {
        let (low, high) = VOICE_RANGES[v];
        assert!(v == 0 || !notes.is_empty(), "voice {v} is silent");
        for note in notes {
            assert!((low..=high).contains(&note.pitch), "voice {v}: {note:?}");
            assert!(
                note.end <= 15.0 + 1e-9,
                "voice {v} runs past the melody: {note:?}"
            );
        }
    }
    // The source's tempo and metre.
    assert_eq!(written.initial_time_signature().numerator, 3);
    assert!((written.initial_bpm() - 90.0).abs() < 0.01);

    // The same seed gives the same file; an existing file is never overwritten.
    let again = dir.path().join("again.mid");
    run_ok(&args(&again).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&out).unwrap());
    let refused = cantus(&args(&out).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("exists"));
    let mut numbered: Vec<String> = args(&out).to_vec();
    numbered.push("--auto-name".into());
    run_ok(&numbered.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(dir.path().join("out-1.mid").exists());
}

#[test]
fn harmonize_reharmonises_the_voices_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let chorale = valid_chorales().join("bwv110.7.mid");
    let out = dir.path().join("re.mid");
    let said = run_ok(&[
        "harmonize",
        chorale.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--model",
        model().to_str().unwrap(),
        "--sweeps",
        "2",
        "--keep",
        "soprano,bass",
        "--seed",
        "1",
    ]);
    assert!(said.contains("keeping soprano, bass"), "{said}");
    let pitches = |notes: &[Note]| notes.iter().map(|n| n.pitch).collect::<Vec<_>>();
    let before = voices(&chorale);
    let after = voices(&out);
    assert_eq!(pitches(&after[0]), pitches(&before[0]));
    assert_eq!(pitches(&after[3]), pitches(&before[3]));
    assert_ne!(
        (pitches(&after[1]), pitches(&after[2])),
        (pitches(&before[1]), pitches(&before[2])),
        "alto and tenor were resampled"
    );
}

#[test]
fn harmonize_explains_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let model = model().to_str().unwrap();
    let out = dir.path().join("out.mid");
    let run = |input: &Path, extra: &[&str]| {
        let mut args = vec![
            "harmonize",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--model",
            model,
            "--sweeps",
            "1",
        ];
        args.extend(extra);
        cantus(&args)
    };

    // A file with no notes.
    let empty = dir.path().join("empty.mid");
    let silent = Piece {
        title: None,
        tempos: vec![Timed {
            at: 0.0,
            value: 120.0,
        }],
        time_signatures: vec![],
        keys: vec![],
        parts: vec![],
    };
    std::fs::write(&empty, write_midi(&silent)).unwrap();
    let output = run(&empty, &[]);
    assert_eq!(output.status.code(), Some(1));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("empty.mid") && said.contains("no notes"),
        "{said}"
    );

    // Chords in a melody two octaves too high: the top notes, moved into the soprano's range,
    // and both said.
    let chords = dir.path().join("chords.mid");
    let notes: Vec<Note> = [(96u8, 0.0), (91, 0.0), (93, 1.0), (95, 2.0), (88, 2.0)]
        .iter()
        .map(|&(pitch, start)| Note {
            pitch,
            start,
            end: start + 1.0,
            velocity: 80,
        })
        .collect();
    let mut piece = melody_piece(
        &Melody::from_notes(&notes[..1], StepGrid::SIXTEENTHS).0,
        120.0,
        TimeSignature {
            numerator: 4,
            denominator: 4,
        },
        None,
    );
    piece.parts[0].notes = notes;
    std::fs::write(&chords, write_midi(&piece)).unwrap();
    let output = run(&chords, &["--seed", "2"]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains("chords") && said.contains("top note"),
        "{said}"
    );
    assert!(said.contains("transposed"), "{said}");
    let soprano: Vec<u8> = voices(&out)[0].iter().map(|n| n.pitch).collect();
    assert_eq!(soprano, [72, 69, 71], "{said}");

    // Keeping every voice leaves nothing to do.
    let chorale = valid_chorales().join("bwv110.7.mid");
    let output = run(&chorale, &["--keep", "soprano,alto,tenor,bass"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("every voice is kept"));
}

#[test]
fn eval_harmony_scores_every_voice_and_counts_voice_leading() {
    let report = run_ok(&[
        "eval",
        "--harmony",
        valid_chorales().to_str().unwrap(),
        "--model",
        model().to_str().unwrap(),
        "--generate",
        "2",
        "--sweeps",
        "2",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["chorales"], 50);
    assert_eq!(report["offline"].as_array().unwrap().len(), 4);
    assert_eq!(report["causal"].as_array().unwrap().len(), 3);
    for score in report["offline"].as_array().unwrap() {
        let nll = score["nll"].as_f64().unwrap();
        // Trained a little: better than guessing among the 63 tokens (ln 63 ≈ 4.14).
        assert!(nll > 0.0 && nll < 4.14, "{score}");
    }
    assert_eq!(report["generated"]["chorales"], 2);
    assert_eq!(report["real"]["chorales"], 2);
    assert_eq!(
        report["generated"]["parallel_fifths"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    // A folder of something else is refused with a reason.
    let output = cantus(&[
        "eval",
        "--harmony",
        valid_chorales().to_str().unwrap(),
        "--model",
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("models/folk")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("not a chorale model"), "{said}");
}
