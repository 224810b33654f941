//! Any bytes into the MIDI reader: it must return, never panic or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(piece) = cantus::formats::midi::read_midi(data) {
        // What was read must also survive extraction and writing.
        let grid = cantus::music::StepGrid::SIXTEENTHS;
        let _ = cantus::formats::corpus::melody_of(&piece, grid);
        let _ = cantus::formats::midi::write_midi(&piece);
    }
});
