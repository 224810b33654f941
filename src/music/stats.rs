//! Corpus statistics (`cantus data stats`): size, range, keys, metres and tonality of a set of
//! melodies.

use super::melody::{EncodeReport, Melody};
use super::score::{Key, TimeSignature};
use super::tonality::Tonality;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Default)]
pub struct CorpusStats {
    pub pieces: usize,
    pub steps: usize,
    pub notes: usize,
    pub lowest: Option<u8>,
    pub highest: Option<u8>,
    /// Notes octave-folded into the token range, and notes hidden under higher ones.
    pub folded: usize,
    pub hidden: usize,
    /// Notated key name ("G major", "unknown") → pieces.
    pub keys: BTreeMap<String, usize>,
    /// "6/8" → pieces.
    pub metres: BTreeMap<String, usize>,
    tonality: Vec<Tonality>,
}

impl CorpusStats {
    pub fn add(
        &mut self,
        melody: &Melody,
        report: EncodeReport,
        key: Option<Key>,
        metre: Option<TimeSignature>,
    ) {
        self.pieces += 1;
        self.steps += melody.events.len();
        self.notes += melody.note_count();
        self.folded += report.folded;
        self.hidden += report.hidden;
        if let Some((low, high)) = melody.pitch_range() {
            self.lowest = Some(self.lowest.map_or(low, |l| l.min(low)));
            self.highest = Some(self.highest.map_or(high, |h| h.max(high)));
        }
        let key = key.map_or_else(|| "unknown".to_string(), |k| k.name());
        *self.keys.entry(key).or_default() += 1;
        let metre = metre.map_or_else(
            || "none".to_string(),
            |m| format!("{}/{}", m.numerator, m.denominator),
        );
        *self.metres.entry(metre).or_default() += 1;
        self.tonality.push(Tonality::of(&melody.pitches()));
    }

    /// Mean tonality metrics over the pieces long enough for each.
    pub fn tonality(&self) -> Tonality {
        Tonality::mean_of(&self.tonality)
    }
}

fn optional(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}"))
}

/// Entries sorted by count, largest first, as "name count".
fn by_count(counts: &BTreeMap<String, usize>) -> String {
    let mut entries: Vec<_> = counts.iter().collect();
    entries.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    entries
        .iter()
        .map(|(name, count)| format!("{name} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for CorpusStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use super::encoding::pitch_name;
        writeln!(f, "pieces: {}", self.pieces)?;
        writeln!(f, "steps: {}", self.steps)?;
        writeln!(f, "notes: {}", self.notes)?;
        match (self.lowest, self.highest) {
            (Some(low), Some(high)) => writeln!(
                f,
                "pitch range: {}..{} ({low}..{high})",
                pitch_name(low),
                pitch_name(high)
            )?,
            _ => writeln!(f, "pitch range: none")?,
        }
        writeln!(f, "folded into range: {} notes", self.folded)?;
        writeln!(f, "hidden under higher notes: {} notes", self.hidden)?;
        writeln!(f, "keys: {}", by_count(&self.keys))?;
        writeln!(f, "metres: {}", by_count(&self.metres))?;
        let tonality = self.tonality();
        writeln!(
            f,
            "conjunct motion (mean |interval|, semitones): {}",
            optional(tonality.conjunct_motion)
        )?;
        writeln!(
            f,
            "limited macroharmony (1 = 5..8 pitches per 12 notes): {}",
            optional(tonality.limited_macroharmony)
        )?;
        write!(
            f,
            "centricity (longest repeated run per 12 notes): {}",
            optional(tonality.centricity)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::{MelodyEvent::*, StepGrid};

    #[test]
    fn counts_pieces_steps_range_and_keys() {
        let mut stats = CorpusStats::default();
        let melody = Melody {
            grid: StepGrid::SIXTEENTHS,
            events: vec![NoteOn(60), Hold, NoteOn(67), Rest],
        };
        stats.add(&melody, EncodeReport::default(), Some(Key::C_MAJOR), None);
        stats.add(
            &melody.transposed(-2).unwrap(),
            EncodeReport::default(),
            None,
            None,
        );
        assert_eq!((stats.pieces, stats.steps, stats.notes), (2, 8, 4));
        assert_eq!((stats.lowest, stats.highest), (Some(58), Some(67)));
        assert_eq!(stats.keys["C major"], 1);
        assert_eq!(stats.keys["unknown"], 1);
        assert_eq!(stats.tonality().conjunct_motion, Some(7.0));
        let text = stats.to_string();
        assert!(text.contains("pitch range: A#3..G4 (58..67)"), "{text}");
    }
}
