//! `cantus eval` as a user runs it: a random-weight melody model scored on the folk corpus.

use cantus::eval::pieces::encode_pieces;
use cantus::music::Encoding;
use serde_json::Value;
use std::path::{Path, PathBuf};

#[path = "support/cli.rs"]
mod cli;
use cli::{cantus, save_random_model};

fn valid_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/ryans/valid")
}

const METRICS: [&str; 3] = ["conjunct_motion", "limited_macroharmony", "centricity"];

#[test]
fn scores_the_corpus_as_the_library_does() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    save_random_model(&model, Encoding::melody_events(4));
    let data = valid_data();
    let base = [
        "eval",
        "--model",
        model.to_str().unwrap(),
        data.to_str().unwrap(),
        "--ext",
        "abc",
        "--json",
    ];

    let output = cantus(&base);
    assert!(output.status.success(), "{output:?}");
    let json: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    let object = json.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["accuracy", "nll", "perplexity", "tokens"]);
    let pieces = encode_pieces(
        std::slice::from_ref(&data),
        &["abc".into()],
        &Encoding::melody_events(4),
    )
    .unwrap()
    .pieces;
    let predicted: usize = pieces.iter().map(|p| p.len() - 1).sum();
    assert_eq!(json["tokens"].as_u64(), Some(predicted as u64));
    // An untrained model is close to uniform over the 63 melody events.
    let nll = json["nll"].as_f64().unwrap();
    assert!((nll - 63f64.ln()).abs() < 0.5, "{nll}");
    let perplexity = json["perplexity"].as_f64().unwrap();
    assert!((perplexity - nll.exp()).abs() < 1e-9 * perplexity);
    let accuracy = json["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy));

    let mut generating = base.to_vec();
    generating.extend(["--generate", "3", "--steps", "64"]);
    let output = cantus(&generating);
    assert!(output.status.success(), "{output:?}");
    let with_tonality: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(with_tonality["tokens"], json["tokens"]);
    assert_eq!(with_tonality["nll"], json["nll"]);
    for side in ["generated", "data"] {
        let metrics = with_tonality["tonality"][side].as_object().unwrap();
        assert_eq!(metrics.len(), 3, "{metrics:?}");
        for metric in METRICS {
            assert!(metrics[metric].as_f64().unwrap() >= 0.0, "{side} {metric}");
        }
    }

    generating.retain(|a| *a != "--json");
    let output = cantus(&generating);
    assert!(output.status.success(), "{output:?}");
    let table = String::from_utf8(output.stdout).unwrap();
    for label in ["nll", "perplexity", "accuracy", "tokens"] {
        assert!(table.contains(label), "{table}");
    }
    assert!(
        table.contains("generated") && table.contains("data"),
        "{table}"
    );
    for row in ["conjunct motion", "limited macroharmony", "centricity"] {
        let line = table.lines().find(|l| l.starts_with(row)).expect(row);
        let numbers = line[row.len()..]
            .split_whitespace()
            .filter(|v| v.parse::<f64>().is_ok())
            .count();
        assert_eq!(numbers, 2, "{line}");
    }
}

#[test]
fn bad_model_or_data_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-model");
    let data = valid_data();
    let output = cantus(&[
        "eval",
        "--model",
        missing.to_str().unwrap(),
        data.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(missing.to_str().unwrap()), "{stderr}");

    let model = dir.path().join("model");
    save_random_model(&model, Encoding::melody_events(4));
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = cantus(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        empty.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no usable piece"), "{stderr}");
}
