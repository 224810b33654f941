//! `--record`: the player's notes and Cantus's notes, kept in memory while the jam runs and
//! written as a type-1 MIDI file (a conductor track, then one track for each side) when it ends.
//! The file is written to a temporary name and renamed, so a jam that ends badly never leaves a
//! half-written file behind.

use std::path::{Path, PathBuf};

use crate::formats::midi::write_midi;
use crate::music::score::{Note, Part, Piece, Timed};

/// Who played a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Player,
    Cantus,
}

/// One side's notes: those finished, and those still sounding (by pitch).
#[derive(Debug, Clone)]
struct Track {
    notes: Vec<Note>,
    /// Start (seconds) and velocity of the note sounding on each pitch.
    open: [Option<(f64, u8)>; 128],
    channel: u8,
}

impl Track {
    fn new(channel: u8) -> Self {
        Self {
            notes: Vec::new(),
            open: [None; 128],
            channel,
        }
    }

    fn close(&mut self, pitch: u8, at: f64) {
        if let Some((start, velocity)) = self.open[usize::from(pitch & 0x7F)].take() {
            self.notes.push(Note {
                pitch,
                start,
                end: at.max(start),
                velocity,
            });
        }
    }
}

/// The jam as it is recorded: times are seconds since the jam started.
#[derive(Debug, Clone)]
pub struct Recording {
    player: Track,
    cantus: Track,
}

impl Recording {
    /// Zero-based MIDI channels for the two tracks.
    pub fn new(player_channel: u8, cantus_channel: u8) -> Self {
        Self {
            player: Track::new(player_channel),
            cantus: Track::new(cantus_channel),
        }
    }

    fn track(&mut self, side: Side) -> &mut Track {
        match side {
            Side::Player => &mut self.player,
            Side::Cantus => &mut self.cantus,
        }
    }

    /// A note starts (ending a note already sounding on that pitch).
    pub fn note_on(&mut self, side: Side, pitch: u8, velocity: u8, at: f64) {
        let track = self.track(side);
        track.close(pitch, at);
        track.open[usize::from(pitch & 0x7F)] = Some((at, velocity.clamp(1, 127)));
    }

    pub fn note_off(&mut self, side: Side, pitch: u8, at: f64) {
        self.track(side).close(pitch, at);
    }

    /// Notes recorded so far on one side, finished ones only.
    pub fn notes(&self, side: Side) -> &[Note] {
        match side {
            Side::Player => &self.player.notes,
            Side::Cantus => &self.cantus.notes,
        }
    }

    /// The jam as a piece at `bpm`, ending at `end` seconds (notes still sounding end there).
    pub fn to_piece(&self, bpm: f64, end: f64) -> Piece {
        let quarters = bpm / 60.0;
        let part = |name: &str, track: &Track| {
            let mut track = track.clone();
            for pitch in 0..128u8 {
                track.close(pitch, end);
            }
            let notes = track
                .notes
                .iter()
                .map(|n| Note {
                    start: n.start * quarters,
                    end: n.end * quarters,
                    ..*n
                })
                .collect();
            Part::new(Some(name.to_string()), Some(track.channel), notes)
        };
        Piece {
            title: Some("Cantus jam".into()),
            tempos: vec![Timed {
                at: 0.0,
                value: bpm,
            }],
            time_signatures: Vec::new(),
            keys: Vec::new(),
            parts: vec![part("Player", &self.player), part("Cantus", &self.cantus)],
        }
    }

    /// Writes the file (through a temporary file beside it, renamed into place).
    pub fn write(&self, path: &Path, bpm: f64, end: f64) -> Result<(), String> {
        let bytes = write_midi(&self.to_piece(bpm, end));
        let mut temporary = PathBuf::from(path);
        temporary.as_mut_os_string().push(".partial");
        std::fs::write(&temporary, &bytes)
            .and_then(|()| std::fs::rename(&temporary, path))
            .map_err(|error| format!("cannot write the recording {}: {error}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::midi::read_midi;

    #[test]
    fn a_recording_is_a_type_1_file_with_a_track_for_each_side() {
        let mut recording = Recording::new(1, 0);
        recording.note_on(Side::Player, 60, 90, 0.0);
        recording.note_off(Side::Player, 60, 0.5);
        recording.note_on(Side::Player, 64, 80, 0.5);
        recording.note_on(Side::Cantus, 67, 100, 1.0);
        recording.note_on(Side::Cantus, 69, 100, 1.25); // a new note: the old one is not ended
        recording.note_off(Side::Cantus, 69, 1.5);
        recording.note_off(Side::Cantus, 67, 1.75);
        // Still sounding at the end: ends with the jam.
        recording.note_on(Side::Cantus, 72, 100, 2.0);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jam.mid");
        recording.write(&path, 120.0, 3.0).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let smf = midly::Smf::parse(&bytes).unwrap();
        assert_eq!(smf.header.format, midly::Format::Parallel);
        assert_eq!(smf.tracks.len(), 3, "a conductor track and two sides");
        assert!(!dir.path().join("jam.mid.partial").exists());

        let piece = read_midi(&bytes).unwrap();
        let parts: Vec<_> = piece
            .parts
            .iter()
            .map(|p| (p.name.as_deref().unwrap(), p.channel))
            .collect();
        assert_eq!(parts, [("Player", Some(1)), ("Cantus", Some(0))]);
        let notes = |i: usize| -> Vec<(u8, f64, f64)> {
            piece.parts[i]
                .notes
                .iter()
                .map(|n| (n.pitch, n.start, n.end))
                .collect()
        };
        // 120 BPM: two quarters a second.
        assert_eq!(notes(0), [(60, 0.0, 1.0), (64, 1.0, 6.0)]);
        assert_eq!(notes(1), [(67, 2.0, 3.5), (69, 2.5, 3.0), (72, 4.0, 6.0)]);
    }
}
