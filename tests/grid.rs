//! `cantus-train grid` as a user runs it: a tiny grid on ten folk tunes gives one row per run,
//! and running it again skips every finished run and leaves the same table.

use std::path::Path;
use std::process::Command;

const GRID: &str = r#"
[base.data]
train = ["train"]
valid = ["valid"]
extensions = ["abc"]
encoding = "melody_events"
[base.model]
embedding = 4
hidden = 8
[base.training]
sequence_length = 32
batch_size = 4
learning_rate = 0.01
epochs = 1
seed = 3
[grid]
cells = ["lstm", "gru"]
layers = [1, 2]
variants = ["plain", "interval"]
output = "results"
generate = 2
generate_steps = 32
"#;

const RUNS: [&str; 8] = [
    "lstm-l1-plain",
    "lstm-l2-plain",
    "gru-l1-plain",
    "gru-l2-plain",
    "lstm-l1-interval",
    "lstm-l2-interval",
    "gru-l1-interval",
    "gru-l2-interval",
];

fn run_grid(grid: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_cantus-train"))
        .arg("grid")
        .arg(grid)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    stdout
}

/// The ten shortest tunes of the folk validation split: eight to train on, two to validate.
fn copy_tunes(dir: &Path) {
    let valid = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/ryans/valid");
    let mut tunes: Vec<_> = std::fs::read_dir(valid)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "abc"))
        .collect();
    tunes.sort_by_key(|path| (std::fs::metadata(path).unwrap().len(), path.clone()));
    for (i, tune) in tunes[..10].iter().enumerate() {
        let split = dir.join(if i < 8 { "train" } else { "valid" });
        std::fs::create_dir_all(&split).unwrap();
        std::fs::copy(tune, split.join(tune.file_name().unwrap())).unwrap();
    }
}

#[test]
fn a_tiny_grid_scores_every_run_and_a_rerun_skips_them() {
    let dir = tempfile::tempdir().unwrap();
    copy_tunes(dir.path());
    let grid = dir.path().join("grid.toml");
    std::fs::write(&grid, GRID).unwrap();

    let first = run_grid(&grid);
    assert_eq!(first.matches(": training").count(), 8, "{first}");
    let results = dir.path().join("results");
    let csv = std::fs::read_to_string(results.join("results.csv")).unwrap();
    let md = std::fs::read_to_string(results.join("results.md")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "cell,layers,variant,parameters,valid_nll,accuracy,conjunct_motion,macroharmony,\
             centricity,tokens_per_second"
        )
    );
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    let (data, runs): (Vec<_>, Vec<_>) = rows.iter().partition(|row| row[0] == "data");
    let names: Vec<String> = runs
        .iter()
        .map(|row| format!("{}-l{}-{}", row[0], row[1], row[2]))
        .collect();
    assert_eq!(names, RUNS);
    let number = |field: &str| field.parse::<f64>().unwrap();
    for row in &runs {
        assert!(number(row[3]) > 0.0, "{row:?}");
        assert!(
            number(row[4]).is_finite() && number(row[4]) > 0.0,
            "{row:?}"
        );
        assert!((0.0..=1.0).contains(&number(row[5])), "{row:?}");
        assert!(number(row[6]) > 0.0, "{row:?}");
    }
    assert_eq!(data.len(), 2);
    assert!(
        data.iter()
            .all(|row| row[4].is_empty() && number(row[6]) > 0.0)
    );
    assert_eq!(md.lines().filter(|l| l.starts_with("| ")).count(), 2 + 10);
    assert!(
        RUNS.iter()
            .all(|run| first.contains(&format!("{run}: valid NLL")))
    );

    let second = run_grid(&grid);
    assert_eq!(second.matches("finished earlier, skipped").count(), 8);
    assert!(!second.contains(": training"), "{second}");
    assert_eq!(
        std::fs::read_to_string(results.join("results.csv")).unwrap(),
        csv
    );
    assert_eq!(
        std::fs::read_to_string(results.join("results.md")).unwrap(),
        md
    );
}
