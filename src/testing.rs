//! Helpers shared by the unit tests.

use crate::music::melody::VOCAB_SIZE;
use crate::music::{MelodyEvent, Note};
use proptest::prelude::*;
use std::path::PathBuf;

/// The corpora shipped in `data/` (part of the repository, so never missing in a checkout).
pub(crate) fn data_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data");
    assert!(
        dir.join("manifest.csv").is_file(),
        "no corpus in {}",
        dir.display()
    );
    dir
}

/// Canonical melody-event lists: a note first, one Rest per silence, and no trailing silence
/// (it carries no note, so no file keeps it). Exactly the lists that survive a trip through notes.
pub(crate) fn canonical_events() -> impl Strategy<Value = Vec<MelodyEvent>> {
    proptest::collection::vec(0u32..VOCAB_SIZE as u32, 1..200).prop_map(|tokens| {
        let mut events = vec![MelodyEvent::NoteOn(60)];
        let mut silent = false;
        for t in tokens {
            let mut event = MelodyEvent::from_token(t).unwrap();
            if event == MelodyEvent::Rest && silent {
                event = MelodyEvent::Hold;
            }
            silent = match event {
                MelodyEvent::Rest => true,
                MelodyEvent::NoteOn(_) => false,
                MelodyEvent::Hold => silent,
            };
            events.push(event);
        }
        let last_note = events
            .iter()
            .rposition(|e| matches!(e, MelodyEvent::NoteOn(_)))
            .expect("starts with a note");
        if let Some(rest) = events[last_note..]
            .iter()
            .position(|e| *e == MelodyEvent::Rest)
        {
            events.truncate(last_note + rest);
        }
        events
    })
}

/// A note at velocity 100, timed in quarter notes.
pub(crate) fn note(pitch: u8, start: f64, end: f64) -> Note {
    Note {
        pitch,
        start,
        end,
        velocity: 100,
    }
}
