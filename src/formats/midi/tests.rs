//! Reader, writer and selection tests on hand-made files, plus round-trip and no-panic properties.

use super::*;
use crate::formats::ReadError;
use crate::music::melody::MelodyEvent;
use crate::music::{Key, Melody, Mode, Note, Part, Piece, StepGrid, TimeSignature, Timed};
use crate::testing::canonical_events;
use proptest::prelude::*;

// ---- Hand-made files ----

/// A file from raw track bodies (each gets its `MTrk` header).
fn smf(format: u16, division: u16, tracks: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = b"MThd\0\0\0\x06".to_vec();
    for field in [format, tracks.len() as u16, division] {
        bytes.extend(field.to_be_bytes());
    }
    for track in tracks {
        bytes.extend(b"MTrk");
        bytes.extend((track.len() as u32).to_be_bytes());
        bytes.extend(track);
    }
    bytes
}

/// A track body: the events (delta times included) followed by end-of-track.
fn track(events: &[&[u8]]) -> Vec<u8> {
    let mut body = events.concat();
    body.extend([0x00, 0xFF, 0x2F, 0x00]);
    body
}

/// A delta time as a variable-length quantity.
fn delta(ticks: u32) -> Vec<u8> {
    let mut bytes = vec![(ticks & 0x7F) as u8];
    let mut rest = ticks >> 7;
    while rest > 0 {
        bytes.insert(0, 0x80 | (rest & 0x7F) as u8);
        rest >>= 7;
    }
    bytes
}

/// A meta event `ticks` after the previous event.
fn meta(ticks: u32, kind: u8, data: &[u8]) -> Vec<u8> {
    let mut event = delta(ticks);
    event.extend([0xFF, kind, data.len() as u8]);
    event.extend(data);
    event
}

fn name(text: &str) -> Vec<u8> {
    meta(0, 0x03, text.as_bytes())
}

fn at<T>(at: f64, value: T) -> Timed<T> {
    Timed { at, value }
}

fn metre(numerator: u8, denominator: u8) -> TimeSignature {
    TimeSignature {
        numerator,
        denominator,
    }
}

fn key(tonic: u8, mode: Mode) -> Key {
    Key { tonic, mode }
}

fn note(pitch: u8, start: f64, end: f64, velocity: u8) -> Note {
    Note {
        pitch,
        start,
        end,
        velocity,
    }
}

/// Pitch, onset, release and velocity of each note, for compact comparisons.
fn shape(part: &Part) -> Vec<(u8, f64, f64, u8)> {
    part.notes
        .iter()
        .map(|n| (n.pitch, n.start, n.end, n.velocity))
        .collect()
}

/// 96 ticks per quarter, so a delta of 0x60 is one quarter note.
const TPQ: u16 = 96;

#[test]
fn running_status_and_velocity_zero_note_offs() {
    let notes = track(&[
        &[0x00, 0x90, 60, 64],
        &[0x60, 60, 0], // running status: note-on, velocity 0 = note-off
        &[0x00, 62, 70],
        &[0x60, 0x80, 62, 0],
    ]);
    let piece = read_midi(&smf(1, TPQ, &[notes])).unwrap();
    assert_eq!(piece.parts.len(), 1);
    assert_eq!(piece.parts[0].channel, Some(0));
    assert_eq!(
        shape(&piece.parts[0]),
        [(60, 0.0, 1.0, 64), (62, 1.0, 2.0, 70)]
    );
}

#[test]
fn overlapping_unterminated_zero_length_and_stray_notes() {
    let notes = track(&[
        &[0x00, 0x90, 60, 10],
        &[0x00, 0x90, 64, 50], // never switched off
        &[0x30, 0x90, 60, 20], // same pitch again, while the first still sounds
        &[0x30, 0x80, 60, 0],  // ends the earliest C (first in, first out)
        &[0x00, 0x90, 67, 30],
        &[0x00, 0x80, 67, 0], // zero length: dropped
        &[0x00, 0x80, 70, 0], // nothing to end
        &[0x30, 0x80, 60, 0],
        &[0x30, 0xFF, 0x01, 0x00], // an empty text event: the track ends at tick 192
    ]);
    let (piece, report) = read_midi_with_report(&smf(1, TPQ, &[notes])).unwrap();
    assert_eq!(
        shape(&piece.parts[0]),
        [(64, 0.0, 2.0, 50), (60, 0.0, 1.0, 10), (60, 0.5, 1.5, 20)]
    );
    let expected = ReadReport {
        zero_length: 1,
        unterminated: 1,
        stray_note_offs: 1,
        damage: vec![],
    };
    assert_eq!(report, expected);
}

#[test]
fn zero_length_notes_written_off_first_do_not_shift_later_notes() {
    let notes = track(&[
        &[0x00, 0x90, 60, 64],
        &[0x60, 0x80, 60, 0],
        &[0x00, 0x80, 60, 0], // a duplicate note-off: the next C is a real note
        &[0x00, 0x90, 60, 64],
        &[0x60, 0x80, 60, 0],
        &[0x00, 0x80, 62, 0],  // a zero-length D written off first…
        &[0x00, 0x90, 62, 64], // …then its on
        &[0x00, 0x90, 64, 64],
        &[0x60, 0x80, 64, 0],
        &[0x00, 0x90, 62, 64],
        &[0x60, 0x80, 62, 0], // ends the real D, not the zero-length one
    ]);
    let (piece, report) = read_midi_with_report(&smf(1, TPQ, &[notes])).unwrap();
    assert_eq!(
        shape(&piece.parts[0]),
        [
            (60, 0.0, 1.0, 64),
            (60, 1.0, 2.0, 64),
            (64, 2.0, 3.0, 64),
            (62, 3.0, 4.0, 64)
        ]
    );
    let expected = ReadReport {
        zero_length: 1,
        unterminated: 0,
        stray_note_offs: 1,
        damage: vec![],
    };
    assert_eq!(report, expected);
}

#[test]
fn tempo_map_and_time_signatures_at_quarter_positions() {
    let conductor = track(&[
        &meta(0, 0x51, &[0x07, 0xA1, 0x20]),   // 500,000 µs: 120 BPM
        &meta(0, 0x58, &[3, 2, 24, 8]),        // 3/4
        &meta(192, 0x51, &[0x09, 0x27, 0xC0]), // 600,000 µs: 100 BPM at quarter 2
        &meta(96, 0x58, &[6, 3, 36, 8]),       // 6/8 at quarter 3
        &meta(96, 0x51, &[0x09, 0x27, 0xC0]),  // no change: dropped
    ]);
    let notes = track(&[&[0x00, 0x90, 60, 64], &[0x60, 0x80, 60, 0]]);
    let piece = read_midi(&smf(1, TPQ, &[conductor, notes])).unwrap();
    assert_eq!(piece.tempos, [at(0.0, 120.0), at(2.0, 100.0)]);
    assert_eq!(
        piece.time_signatures,
        [at(0.0, metre(3, 4)), at(3.0, metre(6, 8))]
    );
    assert_eq!(piece.parts.len(), 1, "the conductor track is not a part");
}

#[test]
fn key_signatures_are_read() {
    let conductor = track(&[
        &meta(0, 0x59, &[0xFD, 1]), // three flats, minor: C minor
        &meta(96, 0x59, &[2, 0]),   // two sharps, major: D major
        &meta(96, 0x59, &[20, 0]),  // nonsense: ignored
    ]);
    let notes = track(&[&[0x00, 0x90, 60, 64], &[0x60, 0x80, 60, 0]]);
    let piece = read_midi(&smf(1, TPQ, &[conductor, notes])).unwrap();
    let c_minor = key(0, Mode::Minor);
    let d_major = key(2, Mode::Major);
    assert_eq!(piece.keys, [at(0.0, c_minor), at(1.0, d_major)]);
}

#[test]
fn type_0_files_split_by_channel() {
    let body = track(&[
        &name("Band"),
        &[0x00, 0x90, 72, 80],
        &[0x00, 0x92, 48, 60],
        &[0x60, 0x80, 72, 0],
        &[0x00, 0x82, 48, 0],
    ]);
    let piece = read_midi(&smf(0, TPQ, &[body])).unwrap();
    assert_eq!(piece.title.as_deref(), Some("Band"));
    let parts: Vec<_> = piece
        .parts
        .iter()
        .map(|p| (p.name.as_deref(), p.channel))
        .collect();
    assert_eq!(
        parts,
        [(Some("Band ch 1"), Some(0)), (Some("Band ch 3"), Some(2))]
    );
    assert_eq!(shape(&piece.parts[1]), [(48, 0.0, 1.0, 60)]);
}

#[test]
fn track_names_name_parts_and_the_first_names_the_piece() {
    let conductor = track(&[&name("Chorale")]);
    let voice = track(&[
        &name(" Soprano "),
        &[0x00, 0x91, 72, 80],
        &[0x60, 0x81, 72, 0],
    ]);
    let piece = read_midi(&smf(1, TPQ, &[conductor, voice])).unwrap();
    assert_eq!(piece.title.as_deref(), Some("Chorale"));
    assert_eq!(piece.parts[0].name.as_deref(), Some("Soprano"));
    assert_eq!(piece.parts[0].channel, Some(1));
}

#[test]
fn smpte_timing_and_type_2_are_refused() {
    let notes = track(&[&[0x00, 0x90, 60, 64], &[0x60, 0x80, 60, 0]]);
    let smpte = smf(1, 0xE728, std::slice::from_ref(&notes)); // 25 fps, 40 ticks per frame
    assert!(matches!(read_midi(&smpte), Err(ReadError::Unsupported(_))));
    let sequences = smf(2, TPQ, &[notes]);
    assert!(matches!(
        read_midi(&sequences),
        Err(ReadError::Unsupported(_))
    ));
}

#[test]
fn bad_bytes_are_errors() {
    for bytes in [&b""[..], b"MThd", b"hello, world", b"MThd\0\0\0\x06\0\x01"] {
        assert!(
            matches!(read_midi(bytes), Err(ReadError::Malformed { .. })),
            "{bytes:?}"
        );
    }
    // Ticks per quarter of zero would put every note at infinity.
    assert!(matches!(
        read_midi(&smf(1, 0, &[])),
        Err(ReadError::Malformed { offset: 12, .. })
    ));
    // A header promising a track that is not there.
    let mut promised = smf(1, TPQ, &[]);
    promised[11] = 1;
    assert!(matches!(
        read_midi(&promised),
        Err(ReadError::Malformed { .. })
    ));
    // Readable, but silent.
    let conductor = track(&[&meta(0, 0x51, &[0x07, 0xA1, 0x20])]);
    assert!(matches!(
        read_midi(&smf(1, TPQ, &[conductor])),
        Err(ReadError::NoNotes)
    ));
}

#[test]
fn a_truncated_track_keeps_the_notes_before_the_damage() {
    let notes = track(&[
        &[0x00, 0x90, 60, 64],
        &[0x60, 0x80, 60, 0],
        &[0x00, 0x90, 62, 64],
        &[0x60, 0x80, 62, 0],
        &[0x00, 0x90, 64, 64],
        &[0x60, 0x80, 64, 0],
    ]);
    let whole = smf(1, TPQ, &[notes]);
    let cut = &whole[..whole.len() - 6]; // inside the last note-off
    let (piece, report) = read_midi_with_report(cut).unwrap();
    // The last note lost its note-off, so it ends where the track broke off: at its onset.
    assert_eq!(
        shape(&piece.parts[0]),
        [(60, 0.0, 1.0, 64), (62, 1.0, 2.0, 64)]
    );
    assert_eq!(report.damage.len(), 1, "{report:?}");
    assert_eq!(report.damage[0].offset, cut.len() - 2);
    // Cut so early that no note survives: the damage is the error.
    assert!(matches!(
        read_midi(&whole[..26]),
        Err(ReadError::Malformed { .. })
    ));
}

// ---- Writer ----

fn sample_piece() -> Piece {
    Piece {
        title: Some("Sample".into()),
        tempos: vec![at(0.0, 90.0), at(4.0, 60.0)],
        time_signatures: vec![at(0.0, metre(3, 4))],
        keys: vec![at(0.0, key(7, Mode::Major))],
        parts: vec![
            Part::new(
                Some("Melody".into()),
                Some(0),
                vec![
                    note(67, 0.0, 1.0, 100),
                    note(67, 1.0, 1.5, 90),
                    note(71, 1.5, 3.0, 80),
                ],
            ),
            Part::new(Some("Bass".into()), Some(1), vec![note(43, 0.0, 3.0, 70)]),
        ],
    }
}

#[test]
fn written_files_have_a_conductor_track_and_offs_before_ons() {
    use midly::{MetaMessage, MidiMessage, Smf, Timing, TrackEventKind};
    let bytes = write_midi(&sample_piece());
    let smf = Smf::parse(&bytes).unwrap();
    assert_eq!(smf.header.format, midly::Format::Parallel);
    assert_eq!(
        smf.header.timing,
        Timing::Metrical(TICKS_PER_QUARTER.into())
    );
    assert_eq!(smf.tracks.len(), 3);
    let metas: Vec<_> = smf.tracks[0]
        .iter()
        .map(|e| match e.kind {
            TrackEventKind::Meta(meta) => meta,
            other => panic!("conductor track holds {other:?}"),
        })
        .collect();
    assert_eq!(metas[0], MetaMessage::TrackName(b"Sample"));
    assert!(metas.contains(&MetaMessage::Tempo(666_667.into())));
    assert!(metas.contains(&MetaMessage::Tempo(1_000_000.into())));
    assert!(metas.contains(&MetaMessage::TimeSignature(3, 2, 24, 8)));
    assert!(metas.contains(&MetaMessage::KeySignature(1, false)));
    assert_eq!(metas.last(), Some(&MetaMessage::EndOfTrack));

    let melody: Vec<_> = smf.tracks[1]
        .iter()
        .filter_map(|e| match e.kind {
            TrackEventKind::Midi {
                message: MidiMessage::NoteOn { key, .. },
                ..
            } => Some(("on", key.as_int(), e.delta.as_int())),
            TrackEventKind::Midi {
                message: MidiMessage::NoteOff { key, .. },
                ..
            } => Some(("off", key.as_int(), e.delta.as_int())),
            _ => None,
        })
        .collect();
    let expected = [
        ("on", 67, 0),
        ("off", 67, 480),
        ("on", 67, 0),
        ("off", 67, 240),
        ("on", 71, 0),
        ("off", 71, 720),
    ];
    assert_eq!(melody, expected);
    assert_eq!(read_midi(&bytes).unwrap().parts, sample_piece().parts);
}

#[test]
fn empty_maps_get_midi_defaults() {
    let mut piece = sample_piece();
    piece.tempos.clear();
    piece.time_signatures.clear();
    piece.keys.clear();
    let back = read_midi(&write_midi(&piece)).unwrap();
    assert_eq!(back.tempos, [at(0.0, 120.0)]);
    assert_eq!(back.time_signatures, [at(0.0, TimeSignature::COMMON)]);
    assert!(back.keys.is_empty());
}

#[test]
fn denominators_round_to_powers_of_two_and_modes_to_major() {
    let mut piece = sample_piece();
    piece.time_signatures = vec![
        at(0.0, metre(5, 6)),
        at(4.0, metre(7, 3)),
        at(8.0, metre(4, 0)), // meaningless: left out
    ];
    piece.keys = vec![at(0.0, key(2, Mode::Dorian))];
    let back = read_midi(&write_midi(&piece)).unwrap();
    assert_eq!(
        back.time_signatures,
        [at(0.0, metre(5, 8)), at(4.0, metre(7, 4))]
    );
    assert_eq!(back.keys, [at(0.0, Key::C_MAJOR)]);
}

#[test]
fn parts_without_channels_skip_the_drum_channel() {
    let parts = (0..12)
        .map(|i| {
            Part::new(
                None,
                if i == 11 { Some(9) } else { None },
                vec![note(60, 0.0, 1.0, 64)],
            )
        })
        .collect();
    let piece = Piece {
        parts,
        ..Piece::default()
    };
    let back = read_midi(&write_midi(&piece)).unwrap();
    let channels: Vec<u8> = back.parts.iter().map(|p| p.channel.unwrap()).collect();
    assert_eq!(channels, [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 9]);
}

#[test]
fn very_short_and_odd_notes_still_sound() {
    let notes = vec![note(200, -1.0, 0.0001, 0), note(60, 1.0, f64::NAN, 127)];
    let piece = Piece {
        parts: vec![Part::new(None, None, notes)],
        ..Piece::default()
    };
    let back = read_midi(&write_midi(&piece)).unwrap();
    let tpq = f64::from(TICKS_PER_QUARTER);
    assert_eq!(
        shape(&back.parts[0]),
        [(127, 0.0, 1.0 / tpq, 1), (60, 1.0, 481.0 / tpq, 127)]
    );
}

#[test]
fn melody_pieces_carry_the_melody_and_maps() {
    use MelodyEvent::*;
    let melody = Melody {
        grid: StepGrid::SIXTEENTHS,
        events: vec![Rest, Hold, NoteOn(60), Hold, NoteOn(64), Rest, NoteOn(67)],
    };
    let a_minor = key(9, Mode::Minor);
    let six_eight = metre(6, 8);
    let piece = melody_piece(&melody, 96.0, six_eight, Some(a_minor));
    let back = read_midi(&write_midi(&piece)).unwrap();
    assert_eq!(back.parts[0].name.as_deref(), Some("Melody"));
    assert!(
        back.parts[0]
            .notes
            .iter()
            .all(|n| n.velocity == MELODY_VELOCITY)
    );
    assert_eq!(back.initial_bpm(), 96.0);
    assert_eq!(back.initial_time_signature(), six_eight);
    assert_eq!(back.initial_key(), Some(a_minor));
    let source = MelodySource::auto(&back);
    let (again, report) = extract_melody(&back, &source, StepGrid::SIXTEENTHS).unwrap();
    assert_eq!(again, melody);
    assert_eq!(report, Default::default());
}

// ---- Selection ----

fn part(name: Option<&str>, channel: Option<u8>, notes: &[(u8, f64, f64)]) -> Part {
    let notes = notes
        .iter()
        .map(|&(pitch, start, end)| note(pitch, start, end, 80))
        .collect();
    Part::new(name.map(String::from), channel, notes)
}

#[test]
fn auto_prefers_named_melodies_then_the_skyline_without_drums() {
    let piano = part(Some("Piano"), Some(0), &[(48, 0.0, 1.0)]);
    let lead = part(Some("Lead Synth"), Some(1), &[(72, 0.0, 1.0)]);
    let drums = part(Some("Drums"), Some(DRUM_CHANNEL), &[(81, 0.0, 1.0)]);
    let with_lead = Piece {
        parts: vec![piano.clone(), lead, drums.clone()],
        ..Piece::default()
    };
    assert_eq!(MelodySource::auto(&with_lead), MelodySource::Track(1));

    let without = Piece {
        parts: vec![piano, drums],
        ..Piece::default()
    };
    assert_eq!(MelodySource::auto(&without), MelodySource::Skyline);
    let notes = melody_notes(&without, &MelodySource::Skyline).unwrap();
    assert_eq!(notes.iter().map(|n| n.pitch).collect::<Vec<_>>(), [48]);
}

#[test]
fn melody_sources_pick_parts() {
    let piece = Piece {
        parts: vec![
            part(Some("Alto"), Some(1), &[(64, 0.0, 1.0)]),
            part(Some("Soprano"), Some(0), &[(72, 0.0, 1.0), (74, 1.0, 2.0)]),
            part(Some("Descant"), Some(0), &[(79, 0.5, 1.0)]),
        ],
        ..Piece::default()
    };
    let pitches = |source: MelodySource| -> Vec<u8> {
        melody_notes(&piece, &source)
            .unwrap()
            .iter()
            .map(|n| n.pitch)
            .collect()
    };
    assert_eq!(pitches(MelodySource::Track(0)), [64]);
    assert_eq!(
        pitches(MelodySource::PartNamed(" soprano".into())),
        [72, 74]
    );
    assert_eq!(pitches(MelodySource::Channel(0)), [72, 79, 74]);
    assert_eq!(MelodySource::auto(&piece), MelodySource::Track(1));
    for missing in [
        MelodySource::Track(3),
        MelodySource::Channel(5),
        MelodySource::PartNamed("Tenor".into()),
    ] {
        assert!(matches!(
            melody_notes(&piece, &missing),
            Err(ReadError::Unsupported(_))
        ));
    }
    let (melody, _) = extract_melody(&piece, &MelodySource::Skyline, StepGrid::SIXTEENTHS).unwrap();
    assert_eq!(melody.pitches(), [72, 79, 74]);
}

#[test]
fn four_voices_by_name_or_by_order() {
    let voice = |name: &str, pitch| part(Some(name), None, &[(pitch, 0.0, 1.0)]);
    let names = |voices: &[Part; 4]| voices.clone().map(|p| p.name.unwrap());

    let shuffled = Piece {
        parts: vec![
            voice("B", 40),
            voice("Continuo", 36),
            voice("Sopran", 72),
            voice("alto", 64),
            voice("Tenor 1", 55),
        ],
        ..Piece::default()
    };
    assert_eq!(
        names(&four_voices(&shuffled).unwrap()),
        ["Sopran", "alto", "Tenor 1", "B"]
    );

    let unnamed = Piece {
        parts: ["One", "Two", "Three", "Four"]
            .map(|n| voice(n, 60))
            .to_vec(),
        ..Piece::default()
    };
    assert_eq!(
        names(&four_voices(&unnamed).unwrap()),
        ["One", "Two", "Three", "Four"]
    );

    let three = Piece {
        parts: unnamed.parts[..3].to_vec(),
        ..Piece::default()
    };
    match four_voices(&three) {
        Err(ReadError::Unsupported(message)) => {
            assert_eq!(message, "expected four voices, found 3")
        }
        other => panic!("{other:?}"),
    }
}

// ---- Properties ----

fn any_metre() -> impl Strategy<Value = TimeSignature> {
    (1u8..=16, 0u32..=5).prop_map(|(numerator, power)| metre(numerator, 1 << power))
}

/// A note of arbitrary (not tick-aligned) timing.
fn any_note() -> impl Strategy<Value = Note> {
    (0u8..=127, 0.0..64.0f64, 0.0..8.0f64, 1u8..=127)
        .prop_map(|(pitch, start, length, velocity)| note(pitch, start, start + length, velocity))
}

fn any_part() -> impl Strategy<Value = Part> {
    let name = proptest::option::of("[A-Za-z][A-Za-z0-9 ]{0,10}[A-Za-z0-9]");
    let channel = proptest::option::of(0u8..16);
    let notes = proptest::collection::vec(any_note(), 1..30);
    (name, channel, notes).prop_map(|(name, channel, notes)| Part::new(name, channel, notes))
}

/// How a note comes back: rounded to ticks, at least one tick long.
fn ticks(note: &Note) -> (i64, i64) {
    let tick = |q: f64| (q * f64::from(TICKS_PER_QUARTER)).round() as i64;
    let start = tick(note.start);
    (start, tick(note.end).max(start + 1))
}

/// Pitch, onset tick and velocity.
type Onset = (u8, i64, u8);
/// Pitch and release tick.
type Release = (u8, i64);

/// Per part, the sorted (pitch, onset, velocity) and (pitch, release) lists: what survives a file
/// even when same-pitch notes overlap and note-offs pair first in, first out.
fn survivors(part: &Part) -> (Vec<Onset>, Vec<Release>) {
    let mut onsets: Vec<_> = part
        .notes
        .iter()
        .map(|n| (n.pitch, ticks(n).0, n.velocity))
        .collect();
    let mut releases: Vec<_> = part.notes.iter().map(|n| (n.pitch, ticks(n).1)).collect();
    onsets.sort_unstable();
    releases.sort_unstable();
    (onsets, releases)
}

/// Deterministic file for the mutation property.
fn valid_file() -> Vec<u8> {
    write_midi(&sample_piece())
}

proptest! {
    #[test]
    fn melodies_survive_a_midi_round_trip(
        events in canonical_events(),
        bpm in 30.0..300.0f64,
        metre in any_metre(),
        fifths in -7i8..=7,
        minor: bool,
        steps_per_quarter in prop::sample::select(vec![1u32, 2, 3, 4, 6, 8, 12, 16, 24]),
    ) {
        let melody = Melody { grid: StepGrid::new(steps_per_quarter), events };
        let key = Key::from_fifths(fifths, minor);
        let piece = read_midi(&write_midi(&melody_piece(&melody, bpm, metre, Some(key)))).unwrap();
        let (back, report) = extract_melody(&piece, &MelodySource::auto(&piece), melody.grid).unwrap();
        prop_assert_eq!(report, Default::default());
        prop_assert_eq!(back, melody);
        prop_assert!((piece.initial_bpm() - bpm).abs() / bpm < 1e-5);
        prop_assert_eq!(piece.initial_time_signature(), metre);
        prop_assert_eq!(piece.initial_key(), Some(key));
    }

    #[test]
    fn pieces_survive_write_and_read(
        title in proptest::option::of("[A-Za-z][A-Za-z0-9 ]{0,20}[A-Za-z0-9]"),
        parts in proptest::collection::vec(any_part(), 1..6),
        bpm in 20.0..400.0f64,
        second_bpm in 20.0..400.0f64,
        change_at in 1u32..64,
        metre in any_metre(),
    ) {
        let piece = Piece {
            title: title.clone(),
            tempos: vec![at(0.0, bpm), at(f64::from(change_at), second_bpm)],
            time_signatures: vec![at(0.0, metre)],
            keys: vec![],
            parts,
        };
        let back = read_midi(&write_midi(&piece)).unwrap();
        prop_assert_eq!(&back.title, &title);
        prop_assert_eq!(back.time_signatures, vec![at(0.0, metre)]);
        prop_assert!((back.tempos[0].value - bpm).abs() / bpm < 1e-5);
        let micros = |bpm: f64| (60_000_000.0 / bpm).round();
        let expected_tempos = if micros(second_bpm) == micros(bpm) { 1 } else { 2 };
        prop_assert_eq!(back.tempos.len(), expected_tempos);
        prop_assert_eq!(back.parts.len(), piece.parts.len());
        for (index, (written, read)) in piece.parts.iter().zip(&back.parts).enumerate() {
            // Fewer than 9 parts: automatic channels are the part indices.
            let channel = written.channel.unwrap_or(index as u8);
            prop_assert_eq!(read.channel, Some(channel));
            prop_assert_eq!(&read.name, &written.name);
            prop_assert_eq!(survivors(read), survivors(written));
            prop_assert!(read.notes.iter().all(|n| n.end > n.start));
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = read_midi(&bytes);
        let mut with_header = smf(1, TPQ, &[]);
        with_header[11] = 3;
        with_header.extend(b"MTrk\0\0\x01\0");
        with_header.extend(&bytes);
        let _ = read_midi(&with_header);
    }

    #[test]
    fn damaged_files_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        truncate: bool,
    ) {
        let mut bytes = valid_file();
        for (at, value) in flips {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        let _ = read_midi(&bytes);
    }
}

#[test]
fn a_timing_byte_that_overflows_midly_is_refused_not_a_panic() {
    // MThd, length 6, type 1, one track, timing 0x80 0x00 (SMPTE with frame byte −128).
    let bytes = [
        b'M', b'T', b'h', b'd', 0, 0, 0, 6, 0, 1, 0, 1, 0x80, 0x00, b'M', b'T', b'r', b'k', 0, 0,
        0, 4, 0, 0xff, 0x2f, 0,
    ];
    assert!(matches!(read_midi(&bytes), Err(ReadError::Unsupported(_))));
}
