//! The model's promises: step and sequence agree, folders round-trip, bad folders are refused
//! with the tensor named.

use super::folder::{CARD_FILE, WEIGHTS_FILE, save_model};
use super::*;
use crate::music::Encoding;
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

fn config(cell: CellKind, layers: usize) -> NetworkConfig {
    NetworkConfig {
        cell,
        layers,
        embedding: 8,
        hidden: 12,
        vocab_size: 63,
        dropout: 0.0,
    }
}

/// A freshly initialised network and the variables holding its weights.
fn fresh(config: NetworkConfig) -> (Network, VarMap) {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    (network::network(config, vb).unwrap(), varmap)
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar()
        .unwrap()
}

#[test]
fn step_and_sequence_agree_for_every_cell_and_depth() {
    let tokens: Vec<u32> = (0..20).map(|i| (i * 7 + 3) % 63).collect();
    for cell in CellKind::ALL {
        for layers in 1..=5 {
            let (net, _) = fresh(config(cell, layers));
            let batch = Tensor::new(tokens.as_slice(), &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let (logits, _) = net
                .forward(&batch, &net.zero_state(1).unwrap(), None)
                .unwrap();
            let mut state = net.zero_state(1).unwrap();
            for (t, &token) in tokens.iter().enumerate() {
                let stepped = net.step(token, &mut state).unwrap();
                let sequenced = logits.get(0).unwrap().get(t).unwrap();
                let diff = max_abs_diff(&stepped, &sequenced);
                assert!(
                    diff < 1e-5,
                    "{cell:?} × {layers}: step {t} differs by {diff}"
                );
            }
        }
    }
}

#[test]
fn a_sequence_can_continue_from_a_carried_state() {
    let (net, _) = fresh(config(CellKind::Lstm, 2));
    let tokens = Tensor::new(&[[5u32, 9, 13, 2, 40, 41]], &Device::Cpu).unwrap();
    let zero = net.zero_state(1).unwrap();
    let (whole, _) = net.forward(&tokens, &zero, None).unwrap();
    let (_, middle) = net
        .forward(&tokens.narrow(1, 0, 3).unwrap(), &zero, None)
        .unwrap();
    let (rest, _) = net
        .forward(&tokens.narrow(1, 3, 3).unwrap(), &middle, None)
        .unwrap();
    assert!(max_abs_diff(&whole.narrow(1, 3, 3).unwrap(), &rest) < 1e-6);
}

fn saved_model(dir: &std::path::Path, cell: CellKind) -> (ModelCard, VarMap) {
    let (net, varmap) = fresh(config(cell, 2));
    let card = ModelCard::new("test", net.config, Encoding::melody_events(4));
    let tensors = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    save_model(dir, &card, &tensors).unwrap();
    (card, varmap)
}

#[test]
fn a_saved_folder_loads_with_the_same_outputs() {
    for cell in CellKind::ALL {
        let dir = tempfile::tempdir().unwrap();
        let (card, varmap) = saved_model(dir.path(), cell);
        let model = Model::load(dir.path(), &Device::Cpu).unwrap();
        assert_eq!(model.card, card);
        let original = network::network(
            card.network,
            VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
        )
        .unwrap();
        let (mut a, mut b) = (
            original.zero_state(1).unwrap(),
            model.network.zero_state(1).unwrap(),
        );
        for token in [3, 20, 20, 1, 0, 62] {
            let (x, y) = (
                original.step(token, &mut a).unwrap(),
                model.network.step(token, &mut b).unwrap(),
            );
            assert_eq!(max_abs_diff(&x, &y), 0.0);
        }
    }
}

#[test]
fn pytorch_names_are_used_for_the_weights() {
    let names: Vec<String> = config(CellKind::Gru, 2)
        .weight_shapes()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "embedding.weight",
            "rnn.weight_ih_l0",
            "rnn.weight_hh_l0",
            "rnn.bias_ih_l0",
            "rnn.bias_hh_l0",
            "rnn.weight_ih_l1",
            "rnn.weight_hh_l1",
            "rnn.bias_ih_l1",
            "rnn.bias_hh_l1",
            "head.weight",
            "head.bias"
        ]
    );
    let shapes = config(CellKind::Lstm, 1).weight_shapes();
    assert_eq!(shapes[1], ("rnn.weight_ih_l0".into(), vec![48, 8]));
}

/// Writes `card` over the folder's card and returns why loading the folder now fails.
fn load_error_with(dir: &std::path::Path, card: &ModelCard) -> String {
    std::fs::write(dir.join(CARD_FILE), serde_json::to_string(card).unwrap()).unwrap();
    Model::load(dir, &Device::Cpu).unwrap_err().to_string()
}

#[test]
fn a_wrong_shape_is_refused_naming_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let (mut card, _) = saved_model(dir.path(), CellKind::Lstm);
    card.network.hidden = 16;
    let error = load_error_with(dir.path(), &card);
    assert!(
        error.contains("rnn.weight_ih_l0") && error.contains("[64, 8]"),
        "{error}"
    );

    card.network.hidden = 12;
    card.network.layers = 3;
    let error = load_error_with(dir.path(), &card);
    assert!(error.contains("rnn.weight_ih_l2 is missing"), "{error}");

    card.network.layers = 1;
    let error = load_error_with(dir.path(), &card);
    assert!(
        error.contains("unexpected tensor rnn.bias_hh_l1"),
        "{error}"
    );
}

#[test]
fn corrupt_files_are_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    saved_model(dir.path(), CellKind::Gru);
    let weights = dir.path().join(WEIGHTS_FILE);
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let error = Model::load(dir.path(), &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(error.contains("not a safetensors file"), "{error}");

    std::fs::write(dir.path().join(CARD_FILE), "{ not json").unwrap();
    let error = Model::load(dir.path(), &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("model.json: not a valid model card"),
        "{error}"
    );

    let error = Model::load(&dir.path().join("nowhere"), &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(error.contains("nowhere/model.json"), "{error}");

    // A chorale or audio folder is named for what it is.
    saved_model(dir.path(), CellKind::Gru);
    std::fs::write(
        dir.path().join(CARD_FILE),
        r#"{"kind": "chorale", "format": 1}"#,
    )
    .unwrap();
    let error = Model::load(dir.path(), &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("a chorale model, not a token model"),
        "{error}"
    );
}

#[test]
fn a_card_whose_vocabulary_disagrees_with_its_encoding_is_refused() {
    let mut card = ModelCard::new("x", config(CellKind::Rnn, 1), Encoding::melody_events(4));
    card.network.vocab_size = 62;
    assert!(card.validate().unwrap_err().contains("vocabulary 62"));
}
