//! What the editor shows, published by the audio thread without locks or allocation: the
//! playhead, a ring of recent notes (the player's, Cantus's, the harmony's), the lookahead's
//! upcoming tokens, the engine's step latency and how full its lookahead is.
//!
//! # Why every record is one atomic word
//!
//! A note is packed into one `u64` ([`pack`]), so the editor reads a note whole or not at all: no
//! seqlock, no retry, nothing the audio thread could ever wait on. The audio thread is the only
//! writer; it keeps its own bookkeeping (which slot holds which sounding note) in [`Publisher`],
//! which it owns. Every store and load is `Relaxed`: each word is self-contained, and the editor
//! needs no ordering between words (a note drawn a frame before the playhead moves past it is
//! harmless).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

use crate::engine::messages::MAX_LOOKAHEAD;
use crate::music::melody::MelodyEvent;

/// Notes kept for the editor: many bars of a busy line in four voices.
pub const SHOWN_NOTES: usize = 256;

/// Who plays a note, and so its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Player,
    Cantus,
    Harmony,
}

impl Source {
    const ALL: [Source; 3] = [Source::Player, Source::Cantus, Source::Harmony];
}

/// A note as the editor sees it, in steps of the clock. `end` is `None` while it sounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShownNote {
    pub start: u64,
    pub end: Option<u64>,
    pub pitch: u8,
    pub source: Source,
}

/// A sounding note's length field: the note has not ended.
const OPEN: u64 = 0xFFFF;
const OCCUPIED: u64 = 1 << 63;
/// An upcoming step's token field when the engine has not sent the step.
const NOT_READY: u32 = u32::MAX;

/// Packs a note: start step (low 32 bits), length (16 bits, [`OPEN`] while it sounds), pitch (7),
/// source (2), the take it belongs to (6), occupied (1). Steps are kept modulo 2³², which at 32
/// steps a second wraps after four years; lengths are capped one below [`OPEN`].
fn pack(start: u64, length: Option<u64>, pitch: u8, source: Source, take: u32) -> u64 {
    let length = length.map_or(OPEN, |l| l.min(OPEN - 1));
    OCCUPIED
        | (start & 0xFFFF_FFFF)
        | (length << 32)
        | (u64::from(pitch & 0x7F) << 48)
        | ((source as u64) << 55)
        | (u64::from(take & 0x3F) << 57)
}

/// Unpacks a word of the current `take`, its start placed in the 2³²-step window ending at
/// `playhead`.
fn unpack(word: u64, playhead: u64, take: u32) -> Option<ShownNote> {
    if word & OCCUPIED == 0 || (word >> 57) & 0x3F != u64::from(take & 0x3F) {
        return None;
    }
    let behind = (playhead as u32).wrapping_sub(word as u32);
    let start = playhead.checked_sub(u64::from(behind))?;
    let length = (word >> 32) & 0xFFFF;
    Some(ShownNote {
        start,
        end: (length != OPEN).then(|| start + length),
        pitch: ((word >> 48) & 0x7F) as u8,
        source: Source::ALL[((word >> 55) & 0x3) as usize % 3],
    })
}

/// The shared, published state. The plugin holds it in an `Arc`; the audio thread writes it
/// through its [`Publisher`], the editor reads it.
#[derive(Debug)]
pub struct Display {
    notes: [AtomicU64; SHOWN_NOTES],
    /// Upcoming tokens, slot `step % MAX_LOOKAHEAD`: the step's low 32 bits, then the token.
    upcoming: [AtomicU64; MAX_LOOKAHEAD as usize],
    /// The playhead in steps, as `f64` bits.
    playhead: AtomicU64,
    /// Counts transport jumps, loops and stops: notes of an older take are not shown.
    take: AtomicU32,
    lookahead: AtomicU32,
    /// Steps of the lookahead the engine has ready.
    ready: AtomicU32,
    /// The engine's time per model step, smoothed, in nanoseconds (0: not measured).
    step_nanos: AtomicU32,
    /// Steps played as HOLD because the engine had not sent them.
    late_steps: AtomicU64,
}

impl Default for Display {
    fn default() -> Self {
        Self {
            notes: std::array::from_fn(|_| AtomicU64::new(0)),
            upcoming: std::array::from_fn(|_| AtomicU64::new(u64::from(NOT_READY))),
            playhead: AtomicU64::new(0f64.to_bits()),
            take: AtomicU32::new(0),
            lookahead: AtomicU32::new(0),
            ready: AtomicU32::new(0),
            step_nanos: AtomicU32::new(0),
            late_steps: AtomicU64::new(0),
        }
    }
}

/// One frame's worth of what [`Display`] holds, read by the editor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The playhead, in steps (fractional).
    pub playhead: f64,
    pub notes: Vec<ShownNote>,
    /// The lookahead's tokens from the step after the playhead's, `None` where not ready.
    pub upcoming: Vec<Option<u32>>,
    pub lookahead: u32,
    pub ready: u32,
    pub step_nanos: u32,
    pub late_steps: u64,
}

impl Display {
    /// Reads everything into `snapshot`, reusing its buffers. Not for the audio thread.
    pub fn read(&self, snapshot: &mut Snapshot) {
        let playhead = f64::from_bits(self.playhead.load(Relaxed));
        let step = playhead.max(0.0) as u64;
        let take = self.take.load(Relaxed);
        snapshot.playhead = playhead;
        snapshot.notes.clear();
        snapshot.notes.extend(
            self.notes
                .iter()
                .filter_map(|word| unpack(word.load(Relaxed), step, take)),
        );
        snapshot.lookahead = self.lookahead.load(Relaxed);
        snapshot.ready = self.ready.load(Relaxed);
        snapshot.step_nanos = self.step_nanos.load(Relaxed);
        snapshot.late_steps = self.late_steps.load(Relaxed);
        snapshot.upcoming.clear();
        snapshot
            .upcoming
            .extend((1..=u64::from(snapshot.lookahead)).map(|ahead| {
                let at = step + ahead;
                let word = self.upcoming[(at % u64::from(MAX_LOOKAHEAD)) as usize].load(Relaxed);
                let token = word as u32;
                ((word >> 32) as u32 == at as u32 && token != NOT_READY).then_some(token)
            }));
    }
}

/// One monophonic line's note being shown: its slot and what it was packed with.
#[derive(Debug, Clone, Copy, Default)]
struct Open {
    slot: usize,
    start: u64,
    pitch: u8,
}

/// The lines the audio thread follows: the player's keys (any number at once), Cantus's line
/// and the three harmony voices.
const LINES: usize = 4;

/// The audio thread's writer: owned by the plugin, it keeps which slot holds each sounding note.
/// Nothing here allocates.
#[derive(Debug)]
pub struct Publisher {
    next_slot: usize,
    take: u32,
    /// The player's sounding keys, by pitch.
    keys: [Option<Open>; 128],
    /// Cantus's line, then alto, tenor and bass.
    lines: [Option<Open>; LINES],
}

impl Default for Publisher {
    fn default() -> Self {
        Self {
            next_slot: 0,
            take: 0,
            keys: [None; 128],
            lines: [None; LINES],
        }
    }
}

impl Publisher {
    fn start(&mut self, display: &Display, step: u64, pitch: u8, source: Source) -> Open {
        let slot = self.next_slot;
        self.next_slot = (self.next_slot + 1) % SHOWN_NOTES;
        display.notes[slot].store(pack(step, None, pitch, source, self.take), Relaxed);
        Open {
            slot,
            start: step,
            pitch,
        }
    }

    fn end(&self, display: &Display, open: Open, step: u64, source: Source) {
        let slot = &display.notes[open.slot];
        let sounding = pack(open.start, None, open.pitch, source, self.take);
        // A note held while the ring went round has lost its slot to a newer one.
        if slot.load(Relaxed) == sounding {
            let length = step.saturating_sub(open.start);
            slot.store(
                pack(open.start, Some(length), open.pitch, source, self.take),
                Relaxed,
            );
        }
    }

    /// The player pressed `pitch` at `step`.
    pub fn key_on(&mut self, display: &Display, step: u64, pitch: u8) {
        if let Some(open) = self.keys[usize::from(pitch & 0x7F)].take() {
            self.end(display, open, step, Source::Player);
        }
        self.keys[usize::from(pitch & 0x7F)] =
            Some(self.start(display, step, pitch, Source::Player));
    }

    /// The player released `pitch` at `step`.
    pub fn key_off(&mut self, display: &Display, step: u64, pitch: u8) {
        if let Some(open) = self.keys[usize::from(pitch & 0x7F)].take() {
            self.end(display, open, step, Source::Player);
        }
    }

    /// Line `line` (0: Cantus, 1..=3: alto, tenor, bass) played `token` at `step`.
    pub fn line_step(&mut self, display: &Display, line: usize, step: u64, token: u32) {
        let source = if line == 0 {
            Source::Cantus
        } else {
            Source::Harmony
        };
        if line >= LINES {
            return;
        }
        let event = MelodyEvent::from_token(token);
        if matches!(event, Some(MelodyEvent::NoteOn(_) | MelodyEvent::Rest))
            && let Some(open) = self.lines[line].take()
        {
            self.end(display, open, step, source);
        }
        if let Some(MelodyEvent::NoteOn(pitch)) = event {
            self.lines[line] = Some(self.start(display, step, pitch, source));
        }
    }

    /// Every generated line falls silent at `step` (disabled, stopped, another mode).
    pub fn silence_lines(&mut self, display: &Display, step: u64) {
        for line in 0..LINES {
            self.line_step(display, line, step, crate::music::melody::REST_TOKEN);
        }
    }

    /// The transport jumped, looped or stopped: what was shown belongs to the last take.
    pub fn new_take(&mut self, display: &Display) {
        self.take = self.take.wrapping_add(1);
        self.keys = [None; 128];
        self.lines = [None; LINES];
        display.take.store(self.take, Relaxed);
    }

    /// The playhead, in steps.
    pub fn playhead(&self, display: &Display, steps: f64) {
        display.playhead.store(steps.to_bits(), Relaxed);
    }

    /// The engine's upcoming token at `step` (`None` when not ready), one of `lookahead`.
    pub fn upcoming(&self, display: &Display, step: u64, token: Option<u32>) {
        let word = (step << 32) | u64::from(token.unwrap_or(NOT_READY));
        display.upcoming[(step % u64::from(MAX_LOOKAHEAD)) as usize].store(word, Relaxed);
    }

    /// The engine's health: lookahead size and fill, step latency, late steps.
    pub fn engine(&self, display: &Display, lookahead: u32, ready: u32, nanos: u32, late: u64) {
        display.lookahead.store(lookahead, Relaxed);
        display.ready.store(ready, Relaxed);
        display.step_nanos.store(nanos, Relaxed);
        display.late_steps.store(late, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(display: &Display) -> Snapshot {
        let mut snapshot = Snapshot::default();
        display.read(&mut snapshot);
        snapshot
    }

    #[test]
    fn notes_round_trip_through_one_word() {
        let word = pack(1234, Some(7), 60, Source::Harmony, 5);
        let note = unpack(word, 2000, 5).unwrap();
        assert_eq!(
            note,
            ShownNote {
                start: 1234,
                end: Some(1241),
                pitch: 60,
                source: Source::Harmony
            }
        );
        assert_eq!(unpack(word, 2000, 6), None, "another take");
        assert_eq!(unpack(0, 2000, 0), None, "an empty slot");
        // Past 2³² steps the start is placed behind the playhead.
        let late = (1u64 << 32) + 10;
        let word = pack(late - 3, None, 70, Source::Player, 0);
        assert_eq!(unpack(word, late, 0).unwrap().start, late - 3);
    }

    #[test]
    fn the_publisher_follows_keys_and_lines() {
        let display = Display::default();
        let mut publisher = Publisher::default();
        publisher.key_on(&display, 0, 60);
        publisher.key_off(&display, 2, 60);
        publisher.line_step(&display, 0, 4, MelodyEvent::NoteOn(67).token());
        publisher.line_step(&display, 0, 5, crate::music::melody::HOLD_TOKEN);
        publisher.line_step(&display, 0, 6, MelodyEvent::NoteOn(69).token());
        publisher.line_step(&display, 2, 6, MelodyEvent::NoteOn(48).token());
        publisher.playhead(&display, 8.5);
        publisher.upcoming(&display, 9, Some(MelodyEvent::NoteOn(72).token()));
        publisher.engine(&display, 2, 1, 40_000, 0);
        let snapshot = read(&display);
        let mut notes = snapshot.notes.clone();
        notes.sort_by_key(|n| (n.start, n.pitch));
        let shown: Vec<_> = notes
            .iter()
            .map(|n| (n.start, n.end, n.pitch, n.source))
            .collect();
        assert_eq!(
            shown,
            [
                (0, Some(2), 60, Source::Player),
                (4, Some(6), 67, Source::Cantus),
                (6, None, 48, Source::Harmony),
                (6, None, 69, Source::Cantus),
            ]
        );
        assert_eq!(snapshot.playhead, 8.5);
        assert_eq!(
            snapshot.upcoming,
            [Some(MelodyEvent::NoteOn(72).token()), None]
        );
        assert_eq!((snapshot.ready, snapshot.step_nanos), (1, 40_000));

        publisher.silence_lines(&display, 10);
        assert!(read(&display).notes.iter().all(|n| n.end.is_some()));
        publisher.new_take(&display);
        assert!(read(&display).notes.is_empty(), "a new take hides the old");
    }

    #[test]
    fn the_ring_keeps_the_newest_notes() {
        let display = Display::default();
        let mut publisher = Publisher::default();
        for step in 0..(SHOWN_NOTES as u64 + 10) {
            publisher.key_on(&display, step, 60 + (step % 12) as u8);
        }
        publisher.playhead(&display, (SHOWN_NOTES + 10) as f64);
        let snapshot = read(&display);
        assert_eq!(snapshot.notes.len(), SHOWN_NOTES);
        assert_eq!(snapshot.notes.iter().map(|n| n.start).min(), Some(10));
    }
}
