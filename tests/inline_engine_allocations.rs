//! Offline rendering runs the engine's composer on the audio thread, so nothing it does there
//! may allocate. Its own test binary: the threaded engine's test (`engine_allocations.rs`) needs
//! its worker to keep up in real time, which a busy neighbour test would spoil.

use cantus::engine::clock::TransportEvent;
use cantus::engine::inline::{InlineEngine, LiveEngine};
use cantus::engine::messages::{Mode, Params, PlayerNote};
use cantus::engine::worker::live_model;
use cantus::model::CellKind;
use cantus::music::melody::HOLD_TOKEN;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/small_model.rs"]
mod small_model;
use counting_alloc::allocations;
use small_model::small_melody_model;

/// Offline rendering runs the whole composer on the audio thread: generating, rolling back for
/// notes and parameter changes, following loops and restarts, in every mode, with no allocation.
#[test]
fn the_inline_engine_never_allocates() {
    let model = small_melody_model(CellKind::Gru, 2);
    let params = Params::default();
    let mut engine = InlineEngine::new(live_model(&model).unwrap(), params).unwrap();
    let modes = [Mode::Continue, Mode::Answer, Mode::Solo];

    let before = allocations();
    let mut notes = 0usize;
    engine
        .push_transport(TransportEvent::Started { step: 0 })
        .unwrap();
    let mut step = 0u64;
    for round in 0..600u64 {
        notes += usize::from(engine.play_step(step) != HOLD_TOKEN);
        step += 1;
        match round % 100 {
            10 => engine
                .push_note(PlayerNote::On { step, pitch: 67 })
                .unwrap(),
            14 => engine
                .push_note(PlayerNote::Off { step, pitch: 67 })
                .unwrap(),
            40 => engine
                .push_params(Params {
                    mode: modes[(round / 100 % 3) as usize],
                    seed: round,
                    answer_at_bar: true,
                    ..params
                })
                .unwrap(),
            70 => {
                let to = step / 2;
                engine
                    .push_transport(TransportEvent::Loop {
                        from_step: step,
                        to_step: to,
                    })
                    .unwrap();
                step = to;
            }
            99 => {
                engine.push_transport(TransportEvent::Stopped).unwrap();
                engine
                    .push_transport(TransportEvent::Started { step })
                    .unwrap();
            }
            _ => {}
        }
    }
    let during = allocations() - before;
    assert_eq!(during, 0, "{during} allocations while rendering inline");
    assert!(notes > 50, "only {notes} notes played");
    assert_eq!(engine.late_steps(), 0);
}
