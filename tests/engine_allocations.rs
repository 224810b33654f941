//! The audio thread talks to the engine through `EngineHandle`, so none of its methods may
//! allocate. A counting global allocator proves it: allocations are counted per thread, so the
//! worker thread (which may allocate) and the test harness's threads cannot disturb the count.

use cantus::engine::clock::TransportEvent;
use cantus::engine::messages::{Params, PlayerNote};
use cantus::engine::worker::Engine;
use cantus::model::CellKind;
use cantus::music::melody::HOLD_TOKEN;
use std::time::Duration;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/small_model.rs"]
mod small_model;
use counting_alloc::allocations;
use small_model::small_melody_model;

#[test]
fn the_audio_side_never_allocates() {
    let model = small_melody_model(CellKind::Lstm, 1);
    let params = Params {
        lookahead: 8,
        ..Params::default()
    };
    let (mut handle, join) = Engine::spawn(&model, params, 64).unwrap();

    let before = allocations();
    let (mut notes, mut raw) = (0usize, 0usize);
    handle
        .push_transport(TransportEvent::Started { step: 0 })
        .unwrap();
    let mut step = 0u64;
    for block in 0..2000u64 {
        // A step every other block, as at a sixteenth of 120 BPM in blocks of 3000 samples.
        if block % 2 == 0 {
            // Give the worker time to have the step ready: on a loaded machine a debug-built
            // worker can fall behind, and late steps (HOLDs) would leave the paths untested.
            // Waiting for a step and finding it are both allocation-free, like `play_step`.
            for _ in 0..500 {
                if handle.token_at(step).is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_micros(100));
            }
            notes += usize::from(handle.play_step(step) != HOLD_TOKEN);
            step += 1;
        }
        match block % 200 {
            50 => {
                let _ = handle.push_note(PlayerNote::On {
                    step,
                    pitch: 60 + (block % 12) as u8,
                });
            }
            60 => {
                let _ = handle.push_note(PlayerNote::Off {
                    step,
                    pitch: 60 + ((block - 10) % 12) as u8,
                });
            }
            100 => {
                let _ = handle.push_params(Params {
                    seed: block,
                    lowest: 48,
                    ..params
                });
            }
            150 => {
                let to = step / 2;
                let _ = handle.push_transport(TransportEvent::Loop {
                    from_step: step,
                    to_step: to,
                });
                step = to;
            }
            199 => {
                let _ = handle.push_transport(TransportEvent::Stopped);
                let _ = handle.push_transport(TransportEvent::Started { step });
            }
            _ => {}
        }
        if block == 1000 {
            let _ = handle.played(step, HOLD_TOKEN);
            let _ = handle.token_at(step);
            raw += usize::from(handle.pop_step().is_some());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let during = allocations() - before;
    assert_eq!(during, 0, "{during} allocations on the audio side");
    // The paths were exercised: the worker answered with notes.
    assert!(
        notes > 100,
        "only {notes} notes played ({raw} raw, {} late)",
        handle.late_steps()
    );

    // The counter works: spawning an engine is seen allocating.
    drop(handle);
    join.join().unwrap();
    let before = allocations();
    let (handle, join) = Engine::spawn(&model, params, 64).unwrap();
    assert!(allocations() > before);
    drop(handle);
    join.join().unwrap();
}
