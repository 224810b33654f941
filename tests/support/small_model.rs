//! A small untrained (seeded, random-weight) melody-event model, for the engine's allocation
//! tests: big enough to exercise every path, small enough for a debug build to run in real time.
//! Include it with `#[path = "support/small_model.rs"] mod small_model;`.

use candle_core::Device;
use cantus::model::{CellKind, Model, ModelCard, NetworkConfig};
use cantus::music::Encoding;
use cantus::music::melody::VOCAB_SIZE;

/// Two layers of 32 `cell`s over melody events at 4 steps per quarter.
pub fn small_melody_model(cell: CellKind, seed: u64) -> Model {
    let config = NetworkConfig {
        cell,
        layers: 2,
        embedding: 8,
        hidden: 32,
        vocab_size: VOCAB_SIZE,
        dropout: 0.0,
    };
    let card = ModelCard::new("test", config, Encoding::melody_events(4));
    Model::untrained(card, seed, &Device::Cpu).unwrap()
}
