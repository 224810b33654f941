//! Voice-leading counts over four voices: parallel fifths and octaves, voice crossings and notes
//! outside each voice's range. The textbook faults a harmonisation is judged by, counted the same
//! way over generated chorales and over Bach's, so the two can be compared.
//!
//! Everything is read on the step grid from the *sounding* pitch of each voice: a note sounds from
//! its onset through its holds until the next note or rest; a rest is silence.
//!
//! **Parallel fifths and octaves.** Between two voices, at step `t` (comparing the sonority at
//! `t − 1` with the one at `t`): both voices sound at both steps, *both* change pitch, in the same
//! direction, and the interval between them is the same perfect interval class before and after:
//! a fifth (interval mod 12 = 7: fifths, twelfths, …) or an octave (mod 12 = 0: unisons, octaves,
//! double octaves). Comparing each step with the one before is comparing consecutive vertical
//! sonorities: between two steps where nothing changes nothing is counted, and a repeated or held
//! fifth is no parallel (the voices do not move). One voice moving while the other holds, or the
//! two moving in contrary motion into the same class (contrary fifths, an octave to a unison the
//! other way), is not counted; nor are hidden (direct) fifths, nor motion across a rest.
//!
//! **Crossings.** Steps at which a lower voice sounds strictly above the next higher one
//! (alto over soprano, tenor over alto, bass over tenor), both sounding.
//!
//! **Out of range.** Note onsets outside [`VOICE_RANGES`] for their voice.

use super::voices::{VOICE_RANGES, in_range};
use crate::music::chorale::VOICE_NAMES;
use crate::music::{Chorale, Melody, MelodyEvent};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The six voice pairs, upper voice first, in the order of the per-pair counts.
pub const PAIRS: [(usize, usize); 6] = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)];
/// Names of [`PAIRS`].
pub const PAIR_NAMES: [&str; 6] = ["S-A", "S-T", "S-B", "A-T", "A-B", "T-B"];
/// Names of the adjacent pairs, in the order of [`HarmonyMetrics::crossings`].
pub const ADJACENT_NAMES: [&str; 3] = ["S-A", "A-T", "T-B"];

/// Voice-leading counts over one or more chorales; sum them with `+=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HarmonyMetrics {
    /// Chorales counted.
    pub chorales: usize,
    /// Steps counted (each chorale's longest voice).
    pub steps: usize,
    /// Parallel fifths per pair, in [`PAIRS`] order.
    pub parallel_fifths: [usize; 6],
    /// Parallel octaves and unisons per pair, in [`PAIRS`] order.
    pub parallel_octaves: [usize; 6],
    /// Steps with the lower voice above the higher, per adjacent pair (S-A, A-T, T-B).
    pub crossings: [usize; 3],
    /// Note onsets per voice (soprano … bass).
    pub notes: [usize; 4],
    /// Note onsets outside their voice's range, per voice.
    pub out_of_range: [usize; 4],
}

impl HarmonyMetrics {
    /// The counts for one chorale.
    pub fn of(chorale: &Chorale) -> HarmonyMetrics {
        Self::of_voices(&chorale.voices)
    }

    /// The counts for four voices on one grid (soprano … bass). Voices of unequal length are
    /// silent past their end.
    pub fn of_voices(voices: &[Melody; 4]) -> HarmonyMetrics {
        let steps = voices.iter().map(|v| v.events.len()).max().unwrap_or(0);
        let sounding = voices.each_ref().map(|v| sounding_pitches(v, steps));
        let mut metrics = HarmonyMetrics {
            chorales: 1,
            steps,
            ..HarmonyMetrics::default()
        };
        for (pair, &(upper, lower)) in PAIRS.iter().enumerate() {
            for t in 1..steps {
                let (Some(u0), Some(l0), Some(u1), Some(l1)) = (
                    sounding[upper][t - 1],
                    sounding[lower][t - 1],
                    sounding[upper][t],
                    sounding[lower][t],
                ) else {
                    continue;
                };
                let (du, dl) = (i32::from(u1) - i32::from(u0), i32::from(l1) - i32::from(l0));
                if du == 0 || dl == 0 || du.signum() != dl.signum() {
                    continue;
                }
                let class = |a: u8, b: u8| (i32::from(a) - i32::from(b)).abs() % 12;
                match (class(u0, l0), class(u1, l1)) {
                    (7, 7) => metrics.parallel_fifths[pair] += 1,
                    (0, 0) => metrics.parallel_octaves[pair] += 1,
                    _ => {}
                }
            }
        }
        for (pair, crossings) in metrics.crossings.iter_mut().enumerate() {
            *crossings = (0..steps)
                .filter(|&t| match (sounding[pair][t], sounding[pair + 1][t]) {
                    (Some(upper), Some(lower)) => lower > upper,
                    _ => false,
                })
                .count();
        }
        for (voice, melody) in voices.iter().enumerate() {
            let pitches = melody.pitches();
            metrics.notes[voice] = pitches.len();
            metrics.out_of_range[voice] = pitches.iter().filter(|&&p| !in_range(voice, p)).count();
        }
        metrics
    }

    /// Sums the counts of many chorales.
    pub fn sum<'a>(chorales: impl IntoIterator<Item = &'a Chorale>) -> HarmonyMetrics {
        let mut total = HarmonyMetrics::default();
        for chorale in chorales {
            total += HarmonyMetrics::of(chorale);
        }
        total
    }

    fn per_100_steps(&self, count: usize) -> f64 {
        if self.steps == 0 {
            0.0
        } else {
            100.0 * count as f64 / self.steps as f64
        }
    }

    /// Parallel fifths over all pairs, per 100 steps.
    pub fn fifths_per_100_steps(&self) -> f64 {
        self.per_100_steps(self.parallel_fifths.iter().sum())
    }

    /// Parallel octaves and unisons over all pairs, per 100 steps.
    pub fn octaves_per_100_steps(&self) -> f64 {
        self.per_100_steps(self.parallel_octaves.iter().sum())
    }

    /// Crossed steps over the three adjacent pairs, per 100 steps.
    pub fn crossings_per_100_steps(&self) -> f64 {
        self.per_100_steps(self.crossings.iter().sum())
    }

    /// Notes out of range over all voices, per 100 steps.
    pub fn out_of_range_per_100_steps(&self) -> f64 {
        self.per_100_steps(self.out_of_range.iter().sum())
    }

    /// A readable table: per pair the parallels (count and per 100 steps), then crossings and
    /// notes out of range.
    pub fn table(&self) -> String {
        self.to_string()
    }
}

impl std::ops::AddAssign for HarmonyMetrics {
    fn add_assign(&mut self, other: HarmonyMetrics) {
        fn add<const N: usize>(a: &mut [usize; N], b: [usize; N]) {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        }
        self.chorales += other.chorales;
        self.steps += other.steps;
        add(&mut self.parallel_fifths, other.parallel_fifths);
        add(&mut self.parallel_octaves, other.parallel_octaves);
        add(&mut self.crossings, other.crossings);
        add(&mut self.notes, other.notes);
        add(&mut self.out_of_range, other.out_of_range);
    }
}

/// Rates are per 100 steps.
impl fmt::Display for HarmonyMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = |count: usize| self.per_100_steps(count);
        writeln!(f, "{} chorales, {} steps", self.chorales, self.steps)?;
        writeln!(
            f,
            "{:<6}{:>8}{:>10}{:>9}{:>10}",
            "pair", "fifths", "/100", "octaves", "/100"
        )?;
        for (pair, name) in PAIR_NAMES.iter().enumerate() {
            let (fifths, octaves) = (self.parallel_fifths[pair], self.parallel_octaves[pair]);
            writeln!(
                f,
                "{:<6}{fifths:>8}{:>10.3}{octaves:>9}{:>10.3}",
                name,
                rate(fifths),
                rate(octaves)
            )?;
        }
        let (fifths, octaves) = (
            self.parallel_fifths.iter().sum(),
            self.parallel_octaves.iter().sum(),
        );
        writeln!(
            f,
            "{:<6}{fifths:>8}{:>10.3}{octaves:>9}{:>10.3}",
            "all",
            rate(fifths),
            rate(octaves)
        )?;
        write!(f, "crossed steps:")?;
        for (name, count) in ADJACENT_NAMES.iter().zip(self.crossings) {
            write!(f, "  {name} {count} ({:.3})", rate(count))?;
        }
        writeln!(f)?;
        write!(f, "notes out of range:")?;
        for voice in 0..4 {
            let (low, high) = VOICE_RANGES[voice];
            write!(
                f,
                "  {} {} of {} ({low}–{high})",
                &VOICE_NAMES[voice][..1],
                self.out_of_range[voice],
                self.notes[voice]
            )?;
        }
        writeln!(f)
    }
}

/// The pitch sounding at each of `steps` steps (`None`: silence).
fn sounding_pitches(melody: &Melody, steps: usize) -> Vec<Option<u8>> {
    let mut pitch = None;
    let mut sounding: Vec<Option<u8>> = melody
        .events
        .iter()
        .map(|event| {
            match *event {
                MelodyEvent::NoteOn(p) => pitch = Some(p),
                MelodyEvent::Rest => pitch = None,
                MelodyEvent::Hold => {}
            }
            pitch
        })
        .collect();
    sounding.resize(steps, None);
    sounding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::{MelodyEvent::*, StepGrid};

    /// A voice from a compact description: a pitch is a note-on, `0` a hold, `-1` a rest.
    fn voice(steps: &[i32]) -> Melody {
        Melody {
            grid: StepGrid::SIXTEENTHS,
            events: steps
                .iter()
                .map(|&s| match s {
                    0 => Hold,
                    -1 => Rest,
                    p => NoteOn(p as u8),
                })
                .collect(),
        }
    }

    /// Four voices with an inert alto and tenor (held, inside their ranges, crossing nothing).
    fn outer_voices(soprano: &[i32], bass: &[i32]) -> [Melody; 4] {
        let held = |pitch: i32| {
            let mut steps = vec![0; soprano.len()];
            steps[0] = pitch;
            voice(&steps)
        };
        [voice(soprano), held(67), held(55), voice(bass)]
    }

    const S_B: usize = 2;

    #[test]
    fn a_textbook_parallel_fifth_is_counted_once() {
        // C5/F3 → D5/G3: both up a tone, a twelfth (fifth class) before and after.
        let m = HarmonyMetrics::of_voices(&outer_voices(&[72, 0, 74, 0], &[53, 0, 55, 0]));
        assert_eq!(m.parallel_fifths, [0, 0, 1, 0, 0, 0]);
        assert_eq!(m.parallel_octaves, [0; 6]);
        assert_eq!(m.steps, 4);
        assert_eq!(m.fifths_per_100_steps(), 25.0);
    }

    #[test]
    fn contrary_and_oblique_motion_and_held_fifths_are_not_parallels() {
        // Contrary motion from a twelfth to a fifth: G4/C3 → D4/G3 (soprano down, bass up).
        let contrary = HarmonyMetrics::of_voices(&outer_voices(&[67, 62], &[48, 55]));
        assert_eq!(contrary.parallel_fifths, [0; 6]);
        // Oblique: the bass holds while the soprano leaves a fifth and comes back.
        let oblique = HarmonyMetrics::of_voices(&outer_voices(&[67, 69, 67], &[48, 0, 0]));
        assert_eq!(oblique.parallel_fifths, [0; 6]);
        // A fifth held, then both re-struck on the same pitches: no motion.
        let held = HarmonyMetrics::of_voices(&outer_voices(&[67, 0, 0, 67], &[48, 0, 0, 48]));
        assert_eq!(held.parallel_fifths, [0; 6]);
        // Staggered: the soprano moves a step before the bass, so no two sonorities in a row
        // have both voices moving.
        let staggered = HarmonyMetrics::of_voices(&outer_voices(&[67, 69, 0], &[48, 0, 50]));
        assert_eq!(staggered.parallel_fifths, [0; 6]);
        // Across a rest: the bass is silent between the fifths.
        let rest = HarmonyMetrics::of_voices(&outer_voices(&[67, 0, 69], &[48, -1, 50]));
        assert_eq!(rest.parallel_fifths, [0; 6]);
    }

    #[test]
    fn parallel_octaves_unisons_and_compound_intervals() {
        // Octaves a double octave apart: C5/C3 → D5/D3.
        let octaves = HarmonyMetrics::of_voices(&outer_voices(&[72, 74], &[48, 50]));
        assert_eq!(octaves.parallel_octaves[S_B], 1);
        assert_eq!(octaves.parallel_fifths, [0; 6]);
        // Unisons between alto and tenor: G4/G4 → A4/A4 → B4/B4 (two parallels), then
        // B4/B4 → G4/C4 (unison to fifth: none), then fifths G4/C4 → F4/Bb3 (one).
        let voices = [
            voice(&[76, 0, 0, 0, 0]),
            voice(&[67, 69, 71, 67, 65]),
            voice(&[67, 69, 71, 60, 58]),
            voice(&[48, 0, 0, 0, 0]),
        ];
        let m = HarmonyMetrics::of_voices(&voices);
        assert_eq!(m.parallel_octaves, [0, 0, 0, 2, 0, 0]);
        assert_eq!(m.parallel_fifths, [0, 0, 0, 1, 0, 0]);
        // Contrary octaves (octave to unison, voices crossing in opposite directions): not counted.
        let contrary = HarmonyMetrics::of_voices(&outer_voices(&[60, 55], &[48, 55]));
        assert_eq!(contrary.parallel_octaves, [0; 6]);
    }

    #[test]
    fn crossings_count_steps_with_the_lower_voice_above() {
        // The alto rises above the soprano for two steps (the second one held).
        let voices = [
            voice(&[72, 0, 0, 0]),
            voice(&[67, 74, 0, 69]),
            voice(&[60, 0, 0, 0]),
            voice(&[48, 0, 0, 0]),
        ];
        let m = HarmonyMetrics::of_voices(&voices);
        assert_eq!(m.crossings, [2, 0, 0]);
        assert_eq!(m.crossings_per_100_steps(), 50.0);
        // A silent voice crosses nothing; the bass over the tenor counts for T-B.
        let voices = [
            voice(&[72, -1]),
            voice(&[-1, 0]),
            voice(&[50, 0]),
            voice(&[52, 0]),
        ];
        assert_eq!(HarmonyMetrics::of_voices(&voices).crossings, [0, 0, 2]);
    }

    #[test]
    fn notes_out_of_range_are_counted_per_voice() {
        // A soprano C6 (84 > 81) twice, and a tenor A#4 (70 > 69) once.
        let voices = [
            voice(&[84, 72, 84]),
            voice(&[67, 0, 0]),
            voice(&[70, 0, 0]),
            voice(&[48, 0, 0]),
        ];
        let m = HarmonyMetrics::of_voices(&voices);
        assert_eq!(m.out_of_range, [2, 0, 1, 0]);
        assert_eq!(m.notes, [3, 1, 1, 1]);
    }

    #[test]
    fn sums_serialise_and_print() {
        let one = HarmonyMetrics::of_voices(&outer_voices(&[72, 74], &[48, 50]));
        let mut total = one;
        total += one;
        assert_eq!(total.chorales, 2);
        assert_eq!(total.steps, 4);
        assert_eq!(total.parallel_octaves[S_B], 2);
        assert_eq!(total.octaves_per_100_steps(), 50.0);
        let json = serde_json::to_string(&total).unwrap();
        assert!(
            json.contains("\"parallel_octaves\":[0,0,2,0,0,0]"),
            "{json}"
        );
        let back: HarmonyMetrics = serde_json::from_str(&json).unwrap();
        assert_eq!(back, total);
        let table = total.table();
        assert!(table.contains("S-B"), "{table}");
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("S-B") && l.contains("50.000"))
        );
        assert_eq!(HarmonyMetrics::default().fifths_per_100_steps(), 0.0);
    }

    #[test]
    fn bach_rarely_writes_parallels() {
        let dir = crate::testing::data_dir().join("bach/valid");
        let (chorales, skipped) = crate::harmony::data::load_chorales(&[dir]);
        assert_eq!(skipped, Vec::<String>::new());
        let m = HarmonyMetrics::sum(&chorales);
        println!("{m}");
        println!("{}", serde_json::to_string(&m).unwrap());
        assert_eq!(m.chorales, 50);
        // Measured: 11 parallel fifths and no octaves in 12,748 steps (0.086 per 100 steps);
        // crossings 0.13, 1.01 and 0.33 per 100 steps (S-A, A-T, T-B).
        assert!(m.fifths_per_100_steps() < 0.25, "{m}");
        assert!(m.octaves_per_100_steps() < 0.1, "{m}");
        assert!(m.crossings_per_100_steps() < 2.0, "{m}");
        assert_eq!(m.out_of_range, [0; 4]);
    }
}
