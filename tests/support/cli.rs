//! Shared by the command-line tests: running `cantus` and making a model folder to run it on.
//! Include it with `#[path = "support/cli.rs"] mod cli;`.

#![allow(dead_code)]

use cantus::model::folder::save_untrained;
use cantus::model::{CellKind, ModelCard, NetworkConfig};
use cantus::music::Encoding;
use std::path::Path;
use std::process::{Command, Output};

/// A small untrained (seeded, random-weight) GRU model over `encoding`, saved in `dir`.
pub fn save_random_model(dir: &Path, encoding: Encoding) {
    let config = NetworkConfig {
        cell: CellKind::Gru,
        layers: 2,
        embedding: 8,
        hidden: 16,
        vocab_size: encoding.vocab_size(),
        dropout: 0.0,
    };
    save_untrained(dir, &ModelCard::new("random", config, encoding), 1).unwrap();
}

/// Runs the `cantus` binary; a panic is a test failure whatever the exit status.
pub fn cantus(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_cantus"))
        .args(args)
        .output()
        .expect("run cantus");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "cantus panicked: {stderr}");
    output
}
