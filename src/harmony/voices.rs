//! The four voices' ranges, the keys a chorale may be moved to without leaving them, and a melody
//! made fit to be harmonised as a soprano.

use crate::music::encoding::pitch_name;
use crate::music::melody::{MAX_PITCH, MIN_PITCH};
use crate::music::{Chorale, Note};
use std::collections::BTreeSet;

/// Inclusive MIDI pitch range of soprano, alto, tenor and bass.
///
/// The full lowest-to-highest of each voice over the 319 training chorales (`data/bach/train`,
/// measured by the test `ranges_hold_the_training_chorales`): S 57–81 (A3–A5), A 53–74 (F3–D5),
/// T 48–69 (C3–A4), B 36–64 (C2–E4). The full extent rather than a percentile, so that every
/// training chorale fits untransposed and the model never sees a voice outside what it may
/// write; the 0.5th–99.5th percentiles (S 62–79, A 57–72, T 52–67, B 38–62) would reject the
/// original key of dozens of chorales. All lie inside the melody tokens' 36..=96.
pub const VOICE_RANGES: [(u8, u8); 4] = [(57, 81), (53, 74), (48, 69), (36, 64)];

/// The shifts [`transposition_choices`] tries: each of the 12 keys once, as near the original as
/// possible. Within the ranges a Bach chorale fits 7.3 of them on average (at least 3); trying
/// -12..=12 would reach only 7.5 distinct keys, so a wider window buys almost nothing.
pub const TRANSPOSITIONS: std::ops::RangeInclusive<i32> = -6..=5;

/// Whether `pitch` lies in the range of `voice` (0 soprano … 3 bass).
///
/// # Panics
/// If `voice` is not 0..=3.
pub fn in_range(voice: usize, pitch: u8) -> bool {
    let (low, high) = VOICE_RANGES[voice];
    (low..=high).contains(&pitch)
}

/// The shifts in [`TRANSPOSITIONS`] (ascending) that keep every note of every voice inside that
/// voice's range: the keys a training chorale may be moved to for augmentation. A voice without
/// notes constrains nothing. Empty when even the original key does not fit.
pub fn transposition_choices(chorale: &Chorale) -> Vec<i32> {
    // The shifts each voice allows form an interval; their intersection is the answer.
    let (mut lowest, mut highest) = (i32::MIN, i32::MAX);
    for (voice, melody) in chorale.voices.iter().enumerate() {
        if let Some((low, high)) = melody.pitch_range() {
            let (range_low, range_high) = VOICE_RANGES[voice];
            lowest = lowest.max(i32::from(range_low) - i32::from(low));
            highest = highest.min(i32::from(range_high) - i32::from(high));
        }
    }
    TRANSPOSITIONS
        .filter(|shift| (lowest..=highest).contains(shift))
        .collect()
}

/// Why a melody (or a file) cannot be harmonised.
#[derive(Debug, thiserror::Error)]
pub enum HarmonyInputError {
    #[error("no notes to harmonise")]
    NoNotes,
    /// No transposition brings every note within the pitches a voice can be written in.
    #[error(
        "the melody spans {low_name}–{high_name} ({span} semitones): no transposition fits it into \
         the pitches a voice can hold ({min_name}–{max_name}, {max_span} semitones)",
        low_name = pitch_name(*low),
        high_name = pitch_name(*high),
        span = high - low,
        min_name = pitch_name(MIN_PITCH),
        max_name = pitch_name(MAX_PITCH),
        max_span = MAX_PITCH - MIN_PITCH
    )]
    TooWide { low: u8, high: u8 },
    #[error("{}: unknown file type: expected .mid, .midi or .abc", path.display())]
    UnknownFileType { path: std::path::PathBuf },
    #[error("{}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: crate::formats::ReadError,
    },
    /// A file that reads but whose music cannot be harmonised.
    #[error("{}: {source}", path.display())]
    InFile {
        path: std::path::PathBuf,
        source: Box<HarmonyInputError>,
    },
}

/// A melody ready to be the soprano: one note at a time, inside the soprano range where it can be.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedMelody {
    /// Sorted by onset, never overlapping.
    pub notes: Vec<Note>,
    /// Semitones the melody was moved by (0 if it already fitted); move the key with it.
    pub transposition: i32,
    /// What was changed, one sentence each, for the user.
    pub warnings: Vec<String>,
}

/// Makes `notes` a soprano line.
///
/// * Chords and overlaps: the top note sounds at each moment (a lower note still held when a
///   higher one ends sounds again from there, as
///   [`Melody::from_notes`](crate::music::Melody::from_notes) does on the grid). Notes that are
///   never the top one are dropped, with a warning.
/// * Range: a melody outside the soprano range ([`VOICE_RANGES`]`[0]`) is moved by the fewest
///   whole octaves that fit it (the key stays), else by the smallest shift in semitones. One
///   spanning more than the range is moved by the octaves that leave the fewest notes outside
///   it, and the warning says how many remain; only one spanning more than the melody tokens
///   (36..=96) is an error.
pub fn prepare_soprano(notes: &[Note]) -> Result<PreparedMelody, HarmonyInputError> {
    if notes.is_empty() {
        return Err(HarmonyInputError::NoNotes);
    }
    let mut warnings = Vec::new();
    let top = top_line(notes);
    if top.dropped > 0 {
        warnings.push(format!(
            "the melody has chords: kept the top note of each ({} notes dropped)",
            top.dropped
        ));
    } else if top.shortened > 0 {
        warnings.push(format!(
            "the melody has overlapping notes: shortened {} so that one sounds at a time",
            top.shortened
        ));
    }
    let mut notes = top.notes;
    let low = notes.iter().map(|n| n.pitch).min().expect("not empty");
    let high = notes.iter().map(|n| n.pitch).max().expect("not empty");
    let (range_low, range_high) = VOICE_RANGES[0];
    let range = format!("{}–{}", pitch_name(range_low), pitch_name(range_high));
    let transposition = if low >= range_low && high <= range_high {
        0
    } else if high - low <= range_high - range_low {
        // Every shift in `fits` puts the whole melody in range: the nearest whole octave, else
        // the nearest shift.
        let fits = i32::from(range_low) - i32::from(low)..=i32::from(range_high) - i32::from(high);
        let shift = octave_shifts(&fits)
            .min_by_key(|s| s.abs())
            .unwrap_or_else(|| 0.clamp(*fits.start(), *fits.end()));
        warnings.push(format!(
            "the melody lies outside the soprano range ({range}): transposed by {shift} semitones"
        ));
        shift
    } else {
        let representable =
            i32::from(MIN_PITCH) - i32::from(low)..=i32::from(MAX_PITCH) - i32::from(high);
        if representable.is_empty() {
            return Err(HarmonyInputError::TooWide { low, high });
        }
        let outside = |shift: i32| {
            notes
                .iter()
                .filter(|n| !in_range(0, (i32::from(n.pitch) + shift) as u8))
                .count()
        };
        let mut candidates: Vec<i32> = octave_shifts(&representable).collect();
        if candidates.is_empty() {
            candidates = representable.collect();
        }
        let shift = candidates
            .into_iter()
            .min_by_key(|&s| (outside(s), s.abs()))
            .expect("the representable shifts are not empty");
        warnings.push(format!(
            "the melody spans {} semitones, more than the soprano range ({range}, {} semitones): \
             transposed by {shift} semitones, {} notes remain outside it",
            high - low,
            range_high - range_low,
            outside(shift)
        ));
        shift
    };
    for note in &mut notes {
        note.pitch = (i32::from(note.pitch) + transposition) as u8;
    }
    Ok(PreparedMelody {
        notes,
        transposition,
        warnings,
    })
}

/// The multiples of 12 in `shifts`.
fn octave_shifts(shifts: &std::ops::RangeInclusive<i32>) -> impl Iterator<Item = i32> {
    (-10..=10)
        .map(|octaves| octaves * 12)
        .filter(move |s| shifts.contains(s))
}

/// The top note at each moment, and how many notes that lost or cut.
struct TopLine {
    notes: Vec<Note>,
    /// Notes that never sound on top.
    dropped: usize,
    /// Notes on top for only part of their length (or in pieces).
    shortened: usize,
}

/// Segments shorter than this (in quarter notes) are rounding noise, not music.
const EPSILON: f64 = 1e-6;

/// A sweep over every onset and release: between two of them the highest sounding note is on
/// top (on equal pitch the later onset, so a re-struck note shows); consecutive segments of the
/// same note join into one note.
fn top_line(notes: &[Note]) -> TopLine {
    let mut order: Vec<usize> = (0..notes.len()).collect();
    order.sort_by(|&a, &b| notes[a].start.total_cmp(&notes[b].start));
    let mut times: Vec<f64> = notes.iter().flat_map(|n| [n.start, n.end]).collect();
    times.sort_by(f64::total_cmp);
    times.dedup_by(|a, b| (*a - *b).abs() < EPSILON);

    // Active notes as (pitch, rank by onset); the largest is on top.
    let mut active: BTreeSet<(u8, usize)> = BTreeSet::new();
    let mut next_start = 0;
    let mut line: Vec<(usize, Note)> = Vec::new();
    let mut on_top = vec![0.0; notes.len()];
    for window in times.windows(2) {
        let (from, to) = (window[0], window[1]);
        while next_start < order.len() && notes[order[next_start]].start < from + EPSILON {
            active.insert((notes[order[next_start]].pitch, next_start));
            next_start += 1;
        }
        active.retain(|&(_, rank)| notes[order[rank]].end > from + EPSILON);
        let Some(&(_, rank)) = active.last() else {
            continue;
        };
        let index = order[rank];
        on_top[index] += to - from;
        match line.last_mut() {
            Some((last, note)) if *last == index && (note.end - from).abs() < EPSILON => {
                note.end = to;
            }
            _ => line.push((
                index,
                Note {
                    start: from,
                    end: to,
                    ..notes[index]
                },
            )),
        }
    }
    let dropped = on_top.iter().filter(|&&t| t < EPSILON).count();
    let mut pieces = vec![0usize; notes.len()];
    for (index, _) in &line {
        pieces[*index] += 1;
    }
    let shortened = (0..notes.len())
        .filter(|&i| {
            on_top[i] >= EPSILON && (pieces[i] > 1 || on_top[i] < notes[i].duration() - EPSILON)
        })
        .count();
    TopLine {
        notes: line.into_iter().map(|(_, note)| note).collect(),
        dropped,
        shortened,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::midi::{four_voices, read_midi};
    use crate::music::{Key, StepGrid, TimeSignature};
    use crate::testing::{data_dir, note};

    /// Every chorale of a split, as four voices of notes.
    fn chorales(split: &str) -> Vec<[Vec<Note>; 4]> {
        let dir = data_dir().join("bach").join(split);
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "mid"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|path| {
                let piece = read_midi(&std::fs::read(path).unwrap()).unwrap();
                four_voices(&piece)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                    .map(|part| part.notes)
            })
            .collect()
    }

    fn chorale_of(voices: &[Vec<Note>; 4]) -> Chorale {
        let [s, a, t, b] = voices;
        Chorale::from_voices(
            [s, a, t, b],
            Some(Key::C_MAJOR),
            TimeSignature::COMMON,
            StepGrid::SIXTEENTHS,
        )
        .0
    }

    #[test]
    fn ranges_hold_the_training_chorales() {
        for (voice, &(low, high)) in VOICE_RANGES.iter().enumerate() {
            assert!(low < high && low >= MIN_PITCH && high <= MAX_PITCH);
            if voice > 0 {
                assert!(VOICE_RANGES[voice - 1].0 > low && VOICE_RANGES[voice - 1].1 > high);
            }
        }
        for split in ["train", "valid"] {
            let chorales = chorales(split);
            for voice in 0..4 {
                let pitches: Vec<u8> = chorales
                    .iter()
                    .flat_map(|c| c[voice].iter().map(|n| n.pitch))
                    .collect();
                let inside = pitches.iter().filter(|&&p| in_range(voice, p)).count();
                let share = inside as f64 / pitches.len() as f64;
                println!(
                    "{split} voice {voice}: {}–{} measured, {:.2} % of {} notes in {:?}",
                    pitches.iter().min().unwrap(),
                    pitches.iter().max().unwrap(),
                    share * 100.0,
                    pitches.len(),
                    VOICE_RANGES[voice]
                );
                assert!(share >= 0.99, "{split} voice {voice}: {share}");
                if split == "train" {
                    assert_eq!(
                        inside,
                        pitches.len(),
                        "the ranges are the training extremes"
                    );
                }
            }
            let choices: Vec<usize> = chorales
                .iter()
                .map(|c| transposition_choices(&chorale_of(c)).len())
                .collect();
            println!(
                "{split}: {:.2} keys per chorale on average, fewest {}",
                choices.iter().sum::<usize>() as f64 / choices.len() as f64,
                choices.iter().min().unwrap()
            );
            if split == "train" {
                assert!(
                    chorales
                        .iter()
                        .all(|c| transposition_choices(&chorale_of(c)).contains(&0))
                );
            }
        }
    }

    #[test]
    fn in_range_is_inclusive() {
        assert!(in_range(0, 57) && in_range(0, 81));
        assert!(!in_range(0, 56) && !in_range(0, 82));
        assert!(in_range(3, 36) && !in_range(3, 65));
    }

    #[test]
    fn transpositions_keep_every_voice_in_its_range() {
        // Soprano 76..79: up to 81 allows +2; bass 40: down to 36 allows -4.
        let voices = [
            vec![note(76, 0.0, 1.0), note(79, 1.0, 2.0)],
            vec![note(67, 0.0, 2.0)],
            vec![note(60, 0.0, 2.0)],
            vec![note(40, 0.0, 2.0)],
        ];
        let chorale = chorale_of(&voices);
        assert_eq!(
            transposition_choices(&chorale),
            vec![-4, -3, -2, -1, 0, 1, 2]
        );
        for shift in transposition_choices(&chorale) {
            let moved = chorale.transposed(shift).unwrap();
            for (voice, melody) in moved.voices.iter().enumerate() {
                assert!(melody.pitches().iter().all(|&p| in_range(voice, p)));
            }
        }
        // A silent alto constrains nothing; a soprano above its range allows only shifts down.
        let voices = [
            vec![note(83, 0.0, 1.0)],
            vec![],
            vec![note(60, 0.0, 2.0)],
            vec![note(48, 0.0, 2.0)],
        ];
        assert_eq!(
            transposition_choices(&chorale_of(&voices)),
            vec![-6, -5, -4, -3, -2]
        );
        // A soprano wider than its range fits nowhere.
        let voices = [
            vec![note(56, 0.0, 1.0), note(82, 1.0, 2.0)],
            vec![],
            vec![],
            vec![],
        ];
        assert!(transposition_choices(&chorale_of(&voices)).is_empty());
    }

    #[test]
    fn a_melody_in_range_is_unchanged() {
        let notes = [note(67, 0.0, 1.0), note(72, 1.0, 2.0), note(74, 2.5, 3.0)];
        let prepared = prepare_soprano(&notes).unwrap();
        assert_eq!(prepared.notes, notes.to_vec());
        assert_eq!(prepared.transposition, 0);
        assert!(prepared.warnings.is_empty());
    }

    #[test]
    fn chords_keep_their_top_note() {
        // A triad, then a two-note chord, then a single note.
        let notes = [
            note(60, 0.0, 1.0),
            note(64, 0.0, 1.0),
            note(67, 0.0, 1.0),
            note(65, 1.0, 2.0),
            note(69, 1.0, 2.0),
            note(71, 2.0, 3.0),
        ];
        let prepared = prepare_soprano(&notes).unwrap();
        assert_eq!(
            prepared.notes,
            vec![note(67, 0.0, 1.0), note(69, 1.0, 2.0), note(71, 2.0, 3.0)]
        );
        assert_eq!(
            prepared.warnings,
            vec!["the melody has chords: kept the top note of each (3 notes dropped)"]
        );
    }

    #[test]
    fn a_held_lower_note_sounds_again_and_overlaps_are_cut() {
        // A held G4 under a short B4: G4 again from 1.0. Then a legato overlap into a lower note.
        let notes = [
            note(67, 0.0, 2.0),
            note(71, 0.0, 1.0),
            note(72, 2.0, 3.25),
            note(69, 3.0, 4.0),
        ];
        let prepared = prepare_soprano(&notes).unwrap();
        assert_eq!(
            prepared.notes,
            vec![
                note(71, 0.0, 1.0),
                note(67, 1.0, 2.0),
                note(72, 2.0, 3.25),
                note(69, 3.25, 4.0)
            ]
        );
        assert_eq!(
            prepared.warnings,
            vec!["the melody has overlapping notes: shortened 2 so that one sounds at a time"]
        );
    }

    #[test]
    fn a_melody_too_high_moves_down_by_octaves() {
        let notes = [note(91, 0.0, 1.0), note(93, 1.0, 2.0), note(88, 2.0, 3.0)];
        let prepared = prepare_soprano(&notes).unwrap();
        assert_eq!(prepared.transposition, -12);
        let pitches: Vec<u8> = prepared.notes.iter().map(|n| n.pitch).collect();
        assert_eq!(pitches, vec![79, 81, 76]);
        // Two octaves too high (88..95: one octave down still reaches B5).
        let notes = [note(88, 0.0, 1.0), note(95, 1.0, 2.0)];
        assert_eq!(prepare_soprano(&notes).unwrap().transposition, -24);
        assert_eq!(
            prepared.warnings,
            vec!["the melody lies outside the soprano range (A3–A5): transposed by -12 semitones"]
        );
    }

    #[test]
    fn a_melody_no_octave_fits_moves_by_the_fewest_semitones() {
        // 50..74 spans 24 = the range's span: only +7 fits (57..81); no octave does.
        let notes = [note(50, 0.0, 1.0), note(74, 1.0, 2.0)];
        let prepared = prepare_soprano(&notes).unwrap();
        assert_eq!(prepared.transposition, 7);
        assert_eq!(prepared.notes[0].pitch, 57);
        // 52..70 fits from +5 to +11, no whole octave among them: the fewest, +5.
        let notes = [note(52, 0.0, 1.0), note(70, 1.0, 2.0)];
        assert_eq!(prepare_soprano(&notes).unwrap().transposition, 5);
        // 45..60 fits with +12.
        let notes = [note(45, 0.0, 1.0), note(60, 1.0, 2.0)];
        assert_eq!(prepare_soprano(&notes).unwrap().transposition, 12);
    }

    #[test]
    fn a_melody_wider_than_the_range_is_fitted_as_well_as_octaves_allow() {
        // 40..80 spans 40 semitones. As it is, 40 and 50 lie outside (2 notes); an octave up,
        // 52, 82 and 92 would (3); an octave down leaves the tokens' range.
        let notes = [
            note(40, 0.0, 1.0),
            note(50, 1.0, 2.0),
            note(60, 2.0, 3.0),
            note(70, 3.0, 4.0),
            note(80, 4.0, 5.0),
        ];
        let prepared = prepare_soprano(&notes).unwrap();
        assert_eq!(prepared.transposition, 0);
        assert_eq!(prepared.notes.len(), 5);
        assert_eq!(
            prepared.warnings,
            vec![
                "the melody spans 40 semitones, more than the soprano range (A3–A5, 24 semitones): \
                 transposed by 0 semitones, 2 notes remain outside it"
            ]
        );
        // Too wide for any voice: an error that says so.
        let notes = [note(30, 0.0, 1.0), note(100, 1.0, 2.0)];
        let error = prepare_soprano(&notes).unwrap_err();
        assert!(matches!(
            error,
            HarmonyInputError::TooWide { low: 30, high: 100 }
        ));
        assert_eq!(
            error.to_string(),
            "the melody spans F#1–E7 (70 semitones): no transposition fits it into the pitches a \
             voice can hold (C2–C7, 60 semitones)"
        );
    }

    #[test]
    fn no_notes_is_an_error() {
        assert!(matches!(
            prepare_soprano(&[]),
            Err(HarmonyInputError::NoNotes)
        ));
    }
}
