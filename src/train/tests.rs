//! The trainer learns: a tiny model memorises a three-tune corpus.

use super::config::*;
use super::{RunOptions, train};
use crate::engine::sampler::SamplingSettings;
use crate::generate::Generator;
use crate::model::{CellKind, Model};
use candle_core::Device;

const TUNES: [&str; 3] = [
    "X:1\nT:One\nM:4/4\nL:1/8\nK:G\nGABc dBAG|FGAB cAFD|\n",
    "X:2\nT:Two\nM:4/4\nL:1/8\nK:D\nd2fd AdfA|g2ec Acea|\n",
    "X:3\nT:Three\nM:4/4\nL:1/8\nK:C\nE2C2 G2C2|c4 G4|\n",
];

pub(crate) fn tiny_config(data: &std::path::Path, output: &std::path::Path) -> TrainConfig {
    TrainConfig {
        name: "tiny".into(),
        output: output.to_path_buf(),
        data: DataConfig {
            train: vec![data.to_path_buf()],
            valid: vec![data.to_path_buf()],
            extensions: vec![],
            encoding: EncodingKind::MelodyEvents,
            steps_per_quarter: 4,
            augment: Augmentation::None,
        },
        model: ModelConfig {
            cell: CellKind::Lstm,
            layers: 1,
            embedding: 16,
            hidden: 64,
            dropout: 0.0,
        },
        training: TrainingConfig {
            sequence_length: 32,
            batch_size: 1,
            learning_rate: 0.01,
            lr_decay: 1.0,
            epochs: 300,
            patience: 0,
            clip_norm: 5.0,
            seed: 3,
            checkpoint_every: 1000,
            max_steps: 0,
        },
        description: String::new(),
        data_as_written: Default::default(),
    }
}

#[test]
fn a_tiny_model_learns_three_tunes_by_heart() {
    let data = tempfile::tempdir().unwrap();
    for (i, tune) in TUNES.iter().enumerate() {
        std::fs::write(data.path().join(format!("{i}.abc")), tune).unwrap();
    }
    let output = tempfile::tempdir().unwrap();
    let config = tiny_config(data.path(), output.path());
    let options = RunOptions {
        quiet: true,
        ..RunOptions::default()
    };
    let summary = train(config, Device::Cpu, options).unwrap();
    let best = summary.best_valid.expect("validation ran");
    assert!(
        best.nll < 0.05,
        "validation NLL {} is not near zero",
        best.nll
    );
    assert!(best.accuracy > 0.99, "accuracy {}", best.accuracy);

    // Greedy continuation from each tune's first token plays the tune back.
    let model = Model::load(output.path(), &Device::Cpu).unwrap();
    let greedy = SamplingSettings {
        greedy: true,
        ..SamplingSettings::default()
    };
    for tune in TUNES {
        let piece = &crate::formats::abc::read_abc(tune).unwrap()[0].piece;
        let (melody, _) = crate::music::Melody::from_notes(
            &piece.parts[0].notes,
            crate::music::StepGrid::SIXTEENTHS,
        );
        let tokens = melody.tokens();
        let mut generator = Generator::new(&model, 1).unwrap();
        generator.prime(&tokens[..1]).unwrap();
        let played: Vec<u32> = (1..tokens.len())
            .map(|_| generator.next(&greedy, None).unwrap())
            .collect();
        assert_eq!(played, tokens[1..], "tune {tune:?}");
    }
}
