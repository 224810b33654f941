//! Any text into the ABC reader: it must return, never panic or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = cantus::formats::corpus::decode_text(data) {
        for tune in cantus::formats::abc::read_abc_tunes(&text).into_iter().flatten() {
            let grid = cantus::music::StepGrid::SIXTEENTHS;
            let _ = cantus::formats::corpus::melody_of(&tune.piece, grid);
        }
    }
});
