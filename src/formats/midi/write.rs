//! [`Piece`] → Standard MIDI File bytes.

use midly::num::{u4, u7, u15, u24, u28};
use midly::{Format, Header, MetaMessage, MidiMessage, Timing, TrackEvent, TrackEventKind};

use crate::music::Melody;
use crate::music::score::{Bpm, Key, Mode, Part, Piece, TimeSignature, Timed};

/// Resolution of written files: divisible by 2, 3, 4, 5, 6, 8, 10, 12, 15, 16…, so every common
/// grid and tuplet lands on a whole tick.
pub const TICKS_PER_QUARTER: u16 = 480;

/// Velocity of the notes [`melody_piece`] writes (a firm mezzo-forte).
pub const MELODY_VELOCITY: u8 = 90;

/// Latest tick written: MIDI delta times have 28 bits, so no gap may be longer.
const MAX_TICK: u32 = (1 << 28) - 1;

/// Longest track name written: far beyond any real one, far below MIDI's 256 MiB event limit.
const MAX_NAME_BYTES: usize = 1 << 16;

/// Channels given to parts without one, in order: all but the drum channel (9).
const AUTO_CHANNELS: [u8; 15] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15];

/// Writes a type-1 file at [`TICKS_PER_QUARTER`] ticks per quarter note.
///
/// Track 0 is the conductor track: the title as track name, every tempo change (120 BPM if there is
/// none), time signature (4/4 if none) and key signature. Then one track per part, named after it,
/// on the part's channel, or for parts without a valid one, channels 1, 2, … skipping channel 10
/// (drums). Times are rounded to ticks (and kept within 0..2^28 ticks); a note keeps at least one
/// tick so it is not lost; at equal ticks note-offs come before note-ons, so repeated notes stay
/// separate. Velocities are clamped to 1..=127, since velocity 0 would mean note-off.
///
/// MIDI can only say major or minor: other modes are written as their key signature, major.
/// Metre denominators that are not powers of two become the nearest one (x/6 → x/8).
/// Past the format's limits, names are cut to 64 KiB and parts after the 65,534th left out.
pub fn write_midi(piece: &Piece) -> Vec<u8> {
    let mut tracks = vec![conductor_track(piece)];
    let part_tracks = usize::from(u16::MAX) - 1;
    tracks.extend(
        piece
            .parts
            .iter()
            .take(part_tracks)
            .enumerate()
            .map(|(index, part)| part_track(index, part)),
    );
    let header = Header::new(
        Format::Parallel,
        Timing::Metrical(u15::new(TICKS_PER_QUARTER)),
    );
    let mut bytes = Vec::new();
    midly::write_std(&header, &tracks, &mut bytes)
        .expect("writing to memory fails only past MIDI's limits, which the tracks keep within");
    bytes
}

/// A one-part piece holding `melody` ("Melody", channel 1), for writing generated melodies.
pub fn melody_piece(
    melody: &Melody,
    bpm: Bpm,
    time_signature: TimeSignature,
    key: Option<Key>,
) -> Piece {
    fn at_start<T>(value: T) -> Timed<T> {
        Timed { at: 0.0, value }
    }
    Piece {
        title: None,
        tempos: vec![at_start(bpm)],
        time_signatures: vec![at_start(time_signature)],
        keys: key.map(at_start).into_iter().collect(),
        parts: vec![Part::new(
            Some("Melody".into()),
            Some(0),
            melody.to_notes(MELODY_VELOCITY),
        )],
    }
}

/// A track's events at absolute ticks; `rank` orders events that share a tick.
struct TrackBuilder<'a> {
    events: Vec<(u32, u8, TrackEventKind<'a>)>,
}

impl<'a> TrackBuilder<'a> {
    fn new(name: Option<&'a str>) -> Self {
        let mut track = Self { events: Vec::new() };
        if let Some(name) = name.map(shortened) {
            track.push(
                0,
                0,
                TrackEventKind::Meta(MetaMessage::TrackName(name.as_bytes())),
            );
        }
        track
    }

    fn push(&mut self, tick: u32, rank: u8, kind: TrackEventKind<'a>) {
        self.events.push((tick, rank, kind));
    }

    /// Delta-timed events, ending with end-of-track.
    fn finish(mut self) -> Vec<TrackEvent<'a>> {
        self.events.sort_by_key(|&(tick, rank, _)| (tick, rank));
        let mut previous = 0;
        let mut track: Vec<TrackEvent<'a>> = self
            .events
            .into_iter()
            .map(|(tick, _, kind)| {
                let delta = u28::new(tick - previous);
                previous = tick;
                TrackEvent { delta, kind }
            })
            .collect();
        track.push(TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
        });
        track
    }
}

fn conductor_track(piece: &Piece) -> Vec<TrackEvent<'_>> {
    let mut track = TrackBuilder::new(piece.title.as_deref());
    let meta = |message| TrackEventKind::Meta(message);

    let default_tempo = [Timed {
        at: 0.0,
        value: Piece::DEFAULT_BPM,
    }];
    let tempos = if piece.tempos.is_empty() {
        &default_tempo[..]
    } else {
        &piece.tempos[..]
    };
    for change in tempos {
        if let Some(micros) = micros_per_quarter(change.value) {
            track.push(to_tick(change.at), 1, meta(MetaMessage::Tempo(micros)));
        }
    }

    let default_metre = [Timed {
        at: 0.0,
        value: TimeSignature::COMMON,
    }];
    let metres = if piece.time_signatures.is_empty() {
        &default_metre[..]
    } else {
        &piece.time_signatures[..]
    };
    for change in metres {
        if let Some(message) = time_signature_message(change.value) {
            track.push(to_tick(change.at), 1, meta(message));
        }
    }

    for change in &piece.keys {
        let minor = change.value.mode == Mode::Minor;
        let message = MetaMessage::KeySignature(change.value.fifths(), minor);
        track.push(to_tick(change.at), 1, meta(message));
    }
    track.finish()
}

fn part_track(index: usize, part: &Part) -> Vec<TrackEvent<'_>> {
    let mut track = TrackBuilder::new(part.name.as_deref());
    let channel = match part.channel {
        Some(channel) if channel < 16 => channel,
        _ => AUTO_CHANNELS[index % AUTO_CHANNELS.len()],
    };
    let channel = u4::new(channel);
    for note in &part.notes {
        let key = u7::new(note.pitch.min(127));
        let start = to_tick(note.start).min(MAX_TICK - 1);
        let end = to_tick(note.end).max(start + 1);
        let vel = u7::new(note.velocity.clamp(1, 127));
        let on = MidiMessage::NoteOn { key, vel };
        let off = MidiMessage::NoteOff {
            key,
            vel: u7::new(0),
        };
        track.push(
            start,
            2,
            TrackEventKind::Midi {
                channel,
                message: on,
            },
        );
        track.push(
            end,
            1,
            TrackEventKind::Midi {
                channel,
                message: off,
            },
        );
    }
    track.finish()
}

/// A name cut to [`MAX_NAME_BYTES`] at a character boundary.
fn shortened(name: &str) -> &str {
    let mut end = name.len().min(MAX_NAME_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// The nearest tick to a time in quarter notes, within what MIDI can store (NaN → 0).
fn to_tick(quarters: f64) -> u32 {
    let ticks = (quarters * f64::from(TICKS_PER_QUARTER)).round();
    ticks.clamp(0.0, f64::from(MAX_TICK)) as u32
}

/// A tempo as MIDI stores it; `None` for tempos that are not positive and finite.
fn micros_per_quarter(bpm: Bpm) -> Option<u24> {
    if !(bpm.is_finite() && bpm > 0.0) {
        return None;
    }
    let micros = (60_000_000.0 / bpm).round();
    Some(u24::new(
        micros.clamp(1.0, f64::from(u24::max_value().as_int())) as u32,
    ))
}

/// A time-signature event; `None` for a zero numerator or denominator.
///
/// MIDI stores the denominator as a power of two; others are rounded to the nearest power
/// (by ratio), up to 128, the largest a [`TimeSignature`] holds.
fn time_signature_message(metre: TimeSignature) -> Option<MetaMessage<'static>> {
    if metre.numerator == 0 || metre.denominator == 0 {
        return None;
    }
    let power = f64::from(metre.denominator).log2().round().clamp(0.0, 7.0) as u8;
    // MIDI clocks (24 per quarter) per metronome click: the beat, dotted in compound metres.
    let beat_clocks = 96 / (1u32 << power);
    let compound = power >= 3 && metre.numerator > 3 && metre.numerator.is_multiple_of(3);
    let clocks = if compound {
        beat_clocks * 3
    } else {
        beat_clocks
    };
    let clocks = clocks.clamp(1, 255) as u8;
    Some(MetaMessage::TimeSignature(
        metre.numerator,
        power,
        clocks,
        8,
    ))
}
