//! Standard MIDI File bytes → [`Piece`].
//!
//! Parsing is midly's default, lenient mode (the `strict` feature stays off): a damaged track
//! ends where the damage starts and keeps the events before it, and unreadable chunks are skipped.
//! A cut-off download or a sloppy sequencer then still gives its notes; what was lost is listed in
//! the [`ReadReport`], and a file that yields no note because of damage is
//! [`ReadError::Malformed`] rather than [`ReadError::NoNotes`].

use std::collections::{BTreeMap, HashMap, VecDeque};

use midly::{EventIter, Format, MetaMessage, MidiMessage, Timing, TrackEventKind};

use crate::formats::ReadError;
use crate::music::score::{Bpm, Key, Note, Part, Piece, TimeSignature, Timed};

/// What [`read_midi_with_report`] tolerated or dropped on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// Notes switched off on the tick they started: nothing to hear, so dropped.
    pub zero_length: usize,
    /// Notes never switched off; they end with their track.
    pub unterminated: usize,
    /// Note-offs with no sounding note of that pitch and channel to end.
    pub stray_note_offs: usize,
    /// Places where the file stopped making sense; reading kept what came before each.
    pub damage: Vec<Damage>,
}

/// A damaged spot in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset in the file (where the bad event starts, or where the data ran out).
    pub offset: usize,
    pub message: String,
}

/// Reads a type-0 or type-1 file; see [`read_midi_with_report`].
pub fn read_midi(bytes: &[u8]) -> Result<Piece, ReadError> {
    read_midi_with_report(bytes).map(|(piece, _)| piece)
}

/// Reads every track of a type-0 or type-1 file into a [`Piece`], saying what was dropped.
///
/// Each track gives one part per channel it plays on: a part named after the track when it uses
/// one channel, `"<track name> ch N"` (N counted from 1, as DAWs show it) when it uses several (a
/// type-0 file, say). Tracks without notes (conductor tracks) give no part; the first track's name
/// is the title. Tempo, metre and key changes are collected from all tracks; a change at the same
/// tick as an earlier one replaces it, and one that changes nothing is dropped.
///
/// Notes: a note-on with velocity 0 is a note-off; a note-off ends the earliest sounding note of
/// its pitch and channel (first in, first out), so overlapping repeats keep both onsets; notes still
/// sounding at the end of the track end there; zero-length notes are dropped, including those
/// written note-off first (a note-off that finds nothing sounding, then a note-on of its key at the
/// same tick, as music21 writes grace notes), which would otherwise pair with a later note-off.
///
/// Errors: type-2 files and SMPTE (frames per second) timing are [`ReadError::Unsupported`]; bytes
/// that are not a MIDI file, or damage that leaves no note, are [`ReadError::Malformed`]; a readable
/// file without notes is [`ReadError::NoNotes`]. Never panics.
pub fn read_midi_with_report(bytes: &[u8]) -> Result<(Piece, ReadReport), ReadError> {
    // SMPTE timing is refused before midly sees it: midly negates the frame-rate byte, which
    // overflows (a panic in debug builds) for the byte 0x80.
    if bytes.starts_with(b"MThd") && bytes.get(12).is_some_and(|b| b & 0x80 != 0) {
        return Err(ReadError::Unsupported(
            "SMPTE (frames per second) timing; Cantus needs ticks per quarter note".into(),
        ));
    }
    // And should midly panic on some other input, that is a damaged file, not a crash.
    let parsed =
        std::panic::catch_unwind(|| midly::parse(bytes)).map_err(|_| ReadError::Malformed {
            offset: 0,
            message: "the MIDI parser gave up on this file".into(),
        })?;
    let (header, tracks) = parsed.map_err(|error| ReadError::Malformed {
        offset: 0,
        message: format!("cannot read the MIDI header: {error}"),
    })?;
    // Offset of the timing field in a plain (not RIFF-wrapped) file.
    let timing_offset = if bytes.starts_with(b"MThd") { 12 } else { 0 };
    if header.format == Format::Sequential {
        return Err(ReadError::Unsupported(
            "type-2 MIDI file (independent sequences, not one piece)".into(),
        ));
    }
    let ticks_per_quarter = match header.timing {
        Timing::Metrical(ticks) if ticks.as_int() > 0 => u32::from(ticks.as_int()),
        Timing::Metrical(_) => {
            return Err(ReadError::Malformed {
                offset: timing_offset,
                message: "zero ticks per quarter note".into(),
            });
        }
        Timing::Timecode(fps, _) => {
            return Err(ReadError::Unsupported(format!(
                "SMPTE timing ({} frames per second) instead of ticks per quarter note",
                fps.as_int()
            )));
        }
    };

    let declared_tracks = tracks.size_hint().0;
    let mut reader = Reader::new(bytes);
    let mut tracks_read = Vec::new();
    // In lenient mode midly skips unreadable chunks instead of returning errors for them.
    for events in tracks.flatten() {
        let track = reader.read_track(tracks_read.len(), events);
        tracks_read.push(track);
    }
    if tracks_read.len() < declared_tracks {
        reader.report.damage.push(Damage {
            offset: bytes.len(),
            message: format!(
                "the header declares {declared_tracks} tracks, {} could be read",
                tracks_read.len()
            ),
        });
    }

    let quarters = |tick: u64| tick as f64 / f64::from(ticks_per_quarter);
    let title = tracks_read.first().and_then(|track| track.name.clone());
    let parts: Vec<Part> = tracks_read
        .into_iter()
        .flat_map(|track| track.into_parts(quarters))
        .collect();
    let piece = Piece {
        title,
        tempos: settle(reader.tempos, quarters),
        time_signatures: settle(reader.time_signatures, quarters),
        keys: settle(reader.keys, quarters),
        parts,
    };
    if piece.note_count() == 0 {
        return Err(match reader.report.damage.into_iter().next() {
            Some(Damage { offset, message }) => ReadError::Malformed { offset, message },
            None => ReadError::NoNotes,
        });
    }
    Ok((piece, reader.report))
}

/// A note as read, timed in ticks.
#[derive(Debug, Clone, Copy)]
struct TickNote {
    pitch: u8,
    start: u64,
    end: u64,
    velocity: u8,
}

/// One track's name and notes, by channel.
struct TrackData {
    name: Option<String>,
    notes: BTreeMap<u8, Vec<TickNote>>,
}

impl TrackData {
    fn into_parts(self, quarters: impl Fn(u64) -> f64) -> Vec<Part> {
        let split = self.notes.len() > 1;
        self.notes
            .into_iter()
            .map(|(channel, notes)| {
                let name = if split {
                    let number = channel + 1;
                    Some(match &self.name {
                        Some(name) => format!("{name} ch {number}"),
                        None => format!("ch {number}"),
                    })
                } else {
                    self.name.clone()
                };
                let notes = notes
                    .into_iter()
                    .map(|n| Note {
                        pitch: n.pitch,
                        start: quarters(n.start),
                        end: quarters(n.end),
                        velocity: n.velocity,
                    })
                    .collect();
                Part::new(name, Some(channel), notes)
            })
            .collect()
    }
}

/// State shared by all tracks of one file: the maps and the report.
struct Reader<'a> {
    file: &'a [u8],
    tempos: Vec<(u64, Bpm)>,
    time_signatures: Vec<(u64, TimeSignature)>,
    keys: Vec<(u64, Key)>,
    report: ReadReport,
}

impl<'a> Reader<'a> {
    fn new(file: &'a [u8]) -> Self {
        Self {
            file,
            tempos: Vec::new(),
            time_signatures: Vec::new(),
            keys: Vec::new(),
            report: ReadReport::default(),
        }
    }

    fn read_track(&mut self, index: usize, mut events: EventIter<'a>) -> TrackData {
        let track_end = self.offset_of(events.unread()) + events.unread().len();
        let mut tick: u64 = 0;
        let mut name = None;
        let mut pairing = NotePairing::default();
        let mut ended = false;
        let mut damaged = false;
        loop {
            let before = events.unread();
            let event = match events.next() {
                Some(Ok(event)) => event,
                // Lenient midly ends the track silently on a bad event; strict would say why.
                Some(Err(_)) | None => {
                    if !before.is_empty() {
                        damaged = true;
                        self.report.damage.push(Damage {
                            offset: self.offset_of(before),
                            message: format!("track {index}: unreadable event after tick {tick}"),
                        });
                    }
                    break;
                }
            };
            tick += u64::from(event.delta.as_int());
            match event.kind {
                TrackEventKind::Midi { channel, message } => {
                    let report = &mut self.report;
                    let channel = channel.as_int();
                    match message {
                        MidiMessage::NoteOn { key, vel } if vel > 0 => {
                            pairing.on(channel, key.as_int(), vel.as_int(), tick, report);
                        }
                        MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                            pairing.off(channel, key.as_int(), tick, report);
                        }
                        _ => {}
                    }
                }
                TrackEventKind::Meta(meta) => match meta {
                    MetaMessage::TrackName(text) if name.is_none() => name = clean_text(text),
                    MetaMessage::Tempo(micros) if micros.as_int() > 0 => self
                        .tempos
                        .push((tick, 60_000_000.0 / f64::from(micros.as_int()))),
                    // Denominators are stored as powers of two; 2^7 is the largest a u8 holds.
                    MetaMessage::TimeSignature(numerator, power, _, _)
                        if numerator > 0 && power <= 7 =>
                    {
                        let denominator = 1 << power;
                        let value = TimeSignature {
                            numerator,
                            denominator,
                        };
                        self.time_signatures.push((tick, value));
                    }
                    MetaMessage::KeySignature(fifths, minor) if (-7..=7).contains(&fifths) => {
                        self.keys.push((tick, Key::from_fifths(fifths, minor)));
                    }
                    MetaMessage::EndOfTrack => {
                        ended = true;
                        break;
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        if !ended && !damaged {
            self.report.damage.push(Damage {
                offset: track_end,
                message: format!("track {index} ends without an end-of-track event (truncated?)"),
            });
        }
        let notes = pairing.finish(tick, &mut self.report);
        TrackData { name, notes }
    }

    /// Where a slice of the file starts (midly hands out slices of the input).
    fn offset_of(&self, part: &[u8]) -> usize {
        (part.as_ptr() as usize)
            .saturating_sub(self.file.as_ptr() as usize)
            .min(self.file.len())
    }
}

/// Pairs note-ons with note-offs within one track.
#[derive(Default)]
struct NotePairing {
    by_key: HashMap<(u8, u8), KeyState>,
    notes: BTreeMap<u8, Vec<TickNote>>,
}

/// One key of one channel.
#[derive(Default)]
struct KeyState {
    /// Onset tick and velocity of the sounding notes, oldest first.
    sounding: VecDeque<(u64, u8)>,
    /// Tick of the last note-off that ended a note.
    last_end: Option<u64>,
    /// Note-offs that found nothing to end, and their tick: a note-on at that tick is taken as
    /// their zero-length note (writers that sort note-offs first at a tick, as music21 does,
    /// write a zero-length note off-then-on; pairing its on with a later off would shift every
    /// following note of that key).
    unmatched_offs: (u64, usize),
}

impl NotePairing {
    fn on(&mut self, channel: u8, pitch: u8, velocity: u8, tick: u64, report: &mut ReadReport) {
        let key = self.by_key.entry((channel, pitch)).or_default();
        match &mut key.unmatched_offs {
            (at, count) if *at == tick && *count > 0 => {
                *count -= 1;
                report.stray_note_offs -= 1;
                report.zero_length += 1;
            }
            _ => key.sounding.push_back((tick, velocity)),
        }
    }

    fn off(&mut self, channel: u8, pitch: u8, tick: u64, report: &mut ReadReport) {
        let key = self.by_key.entry((channel, pitch)).or_default();
        match key.sounding.pop_front() {
            Some((start, velocity)) => {
                key.last_end = Some(tick);
                let note = TickNote {
                    pitch,
                    start,
                    end: tick,
                    velocity,
                };
                Self::keep(self.notes.entry(channel).or_default(), note, report);
            }
            None => {
                report.stray_note_offs += 1;
                // A second note-off for a note that just ended is a duplicate, not a zero-length note.
                if key.last_end != Some(tick) {
                    let (at, count) = &mut key.unmatched_offs;
                    *count = if *at == tick { *count + 1 } else { 1 };
                    *at = tick;
                }
            }
        }
    }

    /// The notes by channel, those still sounding ended at `end`.
    fn finish(mut self, end: u64, report: &mut ReadReport) -> BTreeMap<u8, Vec<TickNote>> {
        for ((channel, pitch), key) in self.by_key {
            for (start, velocity) in key.sounding {
                report.unterminated += 1;
                let note = TickNote {
                    pitch,
                    start,
                    end,
                    velocity,
                };
                Self::keep(self.notes.entry(channel).or_default(), note, report);
            }
        }
        self.notes.retain(|_, notes| !notes.is_empty());
        self.notes
    }

    /// Adds a note unless it has no length.
    fn keep(notes: &mut Vec<TickNote>, note: TickNote, report: &mut ReadReport) {
        if note.end > note.start {
            notes.push(note);
        } else {
            report.zero_length += 1;
        }
    }
}

/// Text from a meta event: lossy UTF-8 (old files use Latin-1), trimmed; `None` if blank.
fn clean_text(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!text.is_empty()).then(|| text.to_string())
}

/// Orders map changes by tick (file order among equal ticks), lets the last change at a tick win,
/// and drops changes to the value already in force.
fn settle<T: Copy + PartialEq>(
    mut changes: Vec<(u64, T)>,
    quarters: impl Fn(u64) -> f64,
) -> Vec<Timed<T>> {
    changes.sort_by_key(|&(tick, _)| tick);
    let mut last_per_tick: Vec<(u64, T)> = Vec::with_capacity(changes.len());
    for (tick, value) in changes {
        match last_per_tick.last_mut() {
            Some(last) if last.0 == tick => last.1 = value,
            _ => last_per_tick.push((tick, value)),
        }
    }
    let mut settled: Vec<Timed<T>> = Vec::with_capacity(last_per_tick.len());
    for (tick, value) in last_per_tick {
        if settled
            .last()
            .is_none_or(|previous| previous.value != value)
        {
            settled.push(Timed {
                at: quarters(tick),
                value,
            });
        }
    }
    settled
}
