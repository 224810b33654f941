//! `FastNetwork::step` runs on the audio thread, so once the network and its state are built it
//! must never allocate; nor may rolling a state back or resetting it. A counting global allocator
//! proves it: allocations are counted per thread, so the test harness's own threads cannot
//! disturb the count.

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use cantus::model::fast::FastNetwork;
use cantus::model::network::network;
use cantus::model::{CellKind, NetworkConfig};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

#[test]
fn step_never_allocates() {
    for cell in CellKind::ALL {
        let config = NetworkConfig {
            cell,
            layers: 3,
            embedding: 16,
            hidden: 40,
            vocab_size: 130,
            dropout: 0.0,
        };
        let varmap = VarMap::new();
        let net = network(
            config,
            VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
        )
        .unwrap();
        let fast = FastNetwork::from_network(&net).unwrap();
        let mut state = fast.new_state();
        let mut snapshot = fast.new_state();

        let before = allocations();
        let mut checksum = 0.0f32;
        for i in 0..1000u32 {
            let logits = fast.step(i * 7 % 130, &mut state);
            checksum += logits[0];
            match i % 100 {
                10 => snapshot.copy_from(&state),
                50 => state.copy_from(&snapshot),
                99 => fast.reset(&mut state),
                _ => {}
            }
        }
        let during = allocations() - before;
        assert_eq!(during, 0, "{cell:?}: {during} allocations in 1000 steps");
        assert!(checksum.is_finite());
    }
    // The counter works: candle's step is seen allocating.
    let config = NetworkConfig {
        cell: CellKind::Lstm,
        layers: 1,
        embedding: 4,
        hidden: 8,
        vocab_size: 10,
        dropout: 0.0,
    };
    let net = network(
        config,
        VarBuilder::from_varmap(&VarMap::new(), DType::F32, &Device::Cpu),
    )
    .unwrap();
    let mut state = net.zero_state(1).unwrap();
    let before = allocations();
    net.step(3, &mut state).unwrap();
    assert!(allocations() > before);
}
