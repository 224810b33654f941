//! The format-neutral picture of a piece of music that every reader produces and every writer
//! consumes: parts of timed notes plus the tempo, metre and key maps.
//!
//! Time is measured in quarter notes from the start of the piece (`f64`), so MIDI ticks and ABC
//! note lengths meet in one unit without either format leaking into the other.

/// One sounding note.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Note {
    /// MIDI pitch, 0..=127 (60 = middle C).
    pub pitch: u8,
    /// Onset, in quarter notes from the start of the piece.
    pub start: f64,
    /// Release, in quarter notes; always greater than `start`.
    pub end: f64,
    /// MIDI velocity, 1..=127.
    pub velocity: u8,
}

impl Note {
    pub fn duration(&self) -> f64 {
        self.end - self.start
    }
}

/// A voice or instrument: a MIDI track, one ABC tune's melody, one chorale voice.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Part {
    pub name: Option<String>,
    /// Zero-based MIDI channel the part was read from or should be written to.
    pub channel: Option<u8>,
    /// Notes sorted by onset (then by pitch, highest first).
    pub notes: Vec<Note>,
}

impl Part {
    pub fn new(name: Option<String>, channel: Option<u8>, mut notes: Vec<Note>) -> Self {
        sort_notes(&mut notes);
        Self {
            name,
            channel,
            notes,
        }
    }
}

/// Orders notes by onset, the highest pitch first among simultaneous ones (what skyline wants).
pub fn sort_notes(notes: &mut [Note]) {
    notes.sort_by(|a, b| {
        a.start
            .total_cmp(&b.start)
            .then(b.pitch.cmp(&a.pitch))
            .then(a.end.total_cmp(&b.end))
    });
}

/// The mode of a key; the church modes matter for folk tunes (`K:Ador`, `K:Dmix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    Major,
    Minor,
    Dorian,
    Phrygian,
    Lydian,
    Mixolydian,
    Locrian,
}

impl Mode {
    /// Semitones from the relative major's tonic down to this mode's tonic (Dorian: 2, D in C).
    fn offset_from_major(self) -> i32 {
        match self {
            Mode::Major => 0,
            Mode::Dorian => 2,
            Mode::Phrygian => 4,
            Mode::Lydian => 5,
            Mode::Mixolydian => 7,
            Mode::Minor => 9,
            Mode::Locrian => 11,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Major => "major",
            Mode::Minor => "minor",
            Mode::Dorian => "dorian",
            Mode::Phrygian => "phrygian",
            Mode::Lydian => "lydian",
            Mode::Mixolydian => "mixolydian",
            Mode::Locrian => "locrian",
        }
    }
}

/// A key: tonic pitch class (0 = C) and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Key {
    pub tonic: u8,
    pub mode: Mode,
}

impl Key {
    pub const C_MAJOR: Key = Key {
        tonic: 0,
        mode: Mode::Major,
    };

    /// The key with `fifths` sharps (positive) or flats (negative), major or minor, as MIDI stores it.
    pub fn from_fifths(fifths: i8, minor: bool) -> Key {
        let major_tonic = (i32::from(fifths) * 7).rem_euclid(12);
        let mode = if minor { Mode::Minor } else { Mode::Major };
        Key {
            tonic: ((major_tonic + mode.offset_from_major()) % 12) as u8,
            mode,
        }
    }

    /// Sharps (positive) or flats (negative) in the key signature, in -7..=7.
    ///
    /// Spelling is ambiguous for enharmonic keys; the simpler signature wins (F# major is 6 sharps
    /// rather than Gb's 6 flats: a tie, broken towards sharps).
    pub fn fifths(&self) -> i8 {
        let major_tonic = (i32::from(self.tonic) - self.mode.offset_from_major()).rem_euclid(12);
        // Fifths such that 7 * fifths ≡ major_tonic (mod 12); 7 is its own inverse mod 12.
        let fifths = (major_tonic * 7).rem_euclid(12);
        (if fifths > 6 { fifths - 12 } else { fifths }) as i8
    }

    /// Pitch classes of the scale (7 of them), starting on the tonic.
    pub fn scale(&self) -> [u8; 7] {
        const MAJOR_STEPS: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];
        let major_tonic = i32::from(self.tonic) - self.mode.offset_from_major();
        let degree = MAJOR_STEPS
            .iter()
            .position(|&s| s == self.mode.offset_from_major())
            .unwrap_or(0);
        std::array::from_fn(|i| (major_tonic + MAJOR_STEPS[(degree + i) % 7]).rem_euclid(12) as u8)
    }

    pub fn name(&self) -> String {
        format!(
            "{} {}",
            pitch_class_name(self.tonic, self.fifths() < 0),
            self.mode.name()
        )
    }
}

/// `C`, `C#`/`Db`, … for a pitch class.
pub fn pitch_class_name(pitch_class: u8, prefer_flats: bool) -> &'static str {
    const SHARPS: [&str; 12] = [
        "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
    ];
    const FLATS: [&str; 12] = [
        "C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B",
    ];
    let names = if prefer_flats { &FLATS } else { &SHARPS };
    names[usize::from(pitch_class % 12)]
}

/// A metre such as 4/4 or 6/8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TimeSignature {
    pub numerator: u8,
    /// The written denominator (4 for x/4, 8 for x/8).
    pub denominator: u8,
}

impl TimeSignature {
    pub const COMMON: TimeSignature = TimeSignature {
        numerator: 4,
        denominator: 4,
    };

    /// Length of one bar in quarter notes.
    pub fn bar_quarters(&self) -> f64 {
        f64::from(self.numerator) * 4.0 / f64::from(self.denominator)
    }
}

/// Something that holds from a point in time on (a tempo, metre or key change).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timed<T> {
    /// Position in quarter notes.
    pub at: f64,
    pub value: T,
}

/// Tempo in quarter notes per minute.
pub type Bpm = f64;

/// A whole piece: parts plus the maps that place them in time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Piece {
    pub title: Option<String>,
    /// Tempo changes sorted by position; empty means 120 BPM.
    pub tempos: Vec<Timed<Bpm>>,
    /// Metre changes sorted by position; empty means 4/4.
    pub time_signatures: Vec<Timed<TimeSignature>>,
    /// Key changes sorted by position; empty means unknown.
    pub keys: Vec<Timed<Key>>,
    pub parts: Vec<Part>,
}

impl Piece {
    pub const DEFAULT_BPM: Bpm = 120.0;

    pub fn note_count(&self) -> usize {
        self.parts.iter().map(|p| p.notes.len()).sum()
    }

    /// The tempo in force at the start.
    pub fn initial_bpm(&self) -> Bpm {
        self.tempos.first().map_or(Self::DEFAULT_BPM, |t| t.value)
    }

    pub fn initial_time_signature(&self) -> TimeSignature {
        self.time_signatures
            .first()
            .map_or(TimeSignature::COMMON, |t| t.value)
    }

    pub fn initial_key(&self) -> Option<Key> {
        self.keys.first().map(|k| k.value)
    }

    /// End of the last note, in quarter notes.
    pub fn end(&self) -> f64 {
        self.parts
            .iter()
            .flat_map(|p| p.notes.iter().map(|n| n.end))
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_signatures_round_trip_through_fifths() {
        for fifths in -7..=7i8 {
            for minor in [false, true] {
                let key = Key::from_fifths(fifths, minor);
                // Enharmonic keys come back with the simpler signature, sharps on a tie (-5..=6).
                let expected = (fifths + 5).rem_euclid(12) - 5;
                assert_eq!(key.fifths(), expected, "{fifths} {minor}");
            }
        }
        assert_eq!(
            Key::from_fifths(1, false),
            Key {
                tonic: 7,
                mode: Mode::Major
            }
        );
        assert_eq!(
            Key::from_fifths(0, true),
            Key {
                tonic: 9,
                mode: Mode::Minor
            }
        );
        assert_eq!(
            Key {
                tonic: 2,
                mode: Mode::Dorian
            }
            .fifths(),
            0
        );
        assert_eq!(
            Key {
                tonic: 2,
                mode: Mode::Mixolydian
            }
            .fifths(),
            1
        );
    }

    #[test]
    fn scales_start_on_the_tonic() {
        assert_eq!(
            Key {
                tonic: 2,
                mode: Mode::Dorian
            }
            .scale(),
            [2, 4, 5, 7, 9, 11, 0]
        );
        assert_eq!(
            Key {
                tonic: 9,
                mode: Mode::Minor
            }
            .scale(),
            [9, 11, 0, 2, 4, 5, 7]
        );
        assert_eq!(
            Key {
                tonic: 7,
                mode: Mode::Major
            }
            .scale(),
            [7, 9, 11, 0, 2, 4, 6]
        );
    }

    #[test]
    fn bar_lengths() {
        assert_eq!(
            TimeSignature {
                numerator: 6,
                denominator: 8
            }
            .bar_quarters(),
            3.0
        );
        assert_eq!(TimeSignature::COMMON.bar_quarters(), 4.0);
    }
}
