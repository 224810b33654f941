//! Sounds in playing order → notes placed in time, tied notes joined, and the tempo, metre and
//! key maps.

use super::interpret::Item;
use crate::music::score::Bpm;
use crate::music::{Key, Note, Piece, TimeSignature, Timed};

/// Every note read from ABC gets this velocity: the notation has no dynamics worth playing.
pub const ABC_VELOCITY: u8 = 80;

/// The notes and maps of a tune.
#[derive(Debug, Default)]
pub(super) struct Timeline {
    pub notes: Vec<Note>,
    pub tempos: Vec<Timed<Bpm>>,
    pub time_signatures: Vec<Timed<TimeSignature>>,
    pub keys: Vec<Timed<Key>>,
}

/// Lays `items` end to end from time 0. A tie joins a note to the next sound when that has the
/// same pitch; otherwise the tie is dropped. Tempo defaults to [`Piece::DEFAULT_BPM`] until the
/// first `Q:`.
pub(super) fn lay_out<'a>(items: impl IntoIterator<Item = &'a Item>) -> Timeline {
    let mut timeline = Timeline::default();
    let mut now = 0.0;
    // The note the last tie started from, if it is still open.
    let mut tied_from: Option<usize> = None;
    for item in items {
        match item {
            Item::Sound(sound) => {
                let start = now;
                now += sound.duration;
                let Some(pitch) = sound.pitch else {
                    tied_from = None;
                    continue;
                };
                match tied_from.filter(|&i| timeline.notes[i].pitch == pitch) {
                    Some(i) => timeline.notes[i].end = now,
                    None => timeline.notes.push(Note {
                        pitch,
                        start,
                        end: now,
                        velocity: ABC_VELOCITY,
                    }),
                }
                tied_from = sound.tied.then(|| timeline.notes.len() - 1);
            }
            Item::Meter(meter) => set(&mut timeline.time_signatures, now, *meter),
            Item::Key(key) => set(&mut timeline.keys, now, *key),
            Item::Tempo(bpm) => set(&mut timeline.tempos, now, *bpm),
            Item::Bar(_) | Item::Ending(_) => {}
        }
    }
    if timeline.tempos.first().is_none_or(|t| t.at > 0.0) {
        timeline.tempos.insert(
            0,
            Timed {
                at: 0.0,
                value: Piece::DEFAULT_BPM,
            },
        );
    }
    timeline
}

/// Records a change at `at`: it replaces one made at the same moment, and is dropped when it
/// changes nothing.
fn set<T: PartialEq>(map: &mut Vec<Timed<T>>, at: f64, value: T) {
    if map.last().is_some_and(|last| last.at == at) {
        map.pop();
    }
    if map.last().is_none_or(|last| last.value != value) {
        map.push(Timed { at, value });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::abc::interpret::Sound;

    fn sound(pitch: Option<u8>, duration: f64, tied: bool) -> Item {
        Item::Sound(Sound {
            pitch,
            duration,
            tied,
        })
    }

    #[test]
    fn ties_join_only_the_same_pitch() {
        let items = [
            sound(Some(60), 1.0, true),
            sound(Some(60), 0.5, true),
            sound(Some(62), 0.5, true),
            sound(None, 1.0, false),
            sound(Some(62), 1.0, false),
        ];
        let timeline = lay_out(&items);
        let notes: Vec<_> = timeline
            .notes
            .iter()
            .map(|n| (n.pitch, n.start, n.end))
            .collect();
        assert_eq!(notes, [(60, 0.0, 1.5), (62, 1.5, 2.0), (62, 3.0, 4.0)]);
        assert_eq!(
            timeline.tempos,
            [Timed {
                at: 0.0,
                value: 120.0
            }]
        );
    }

    #[test]
    fn changes_are_placed_where_they_happen() {
        let items = [
            Item::Tempo(90.0),
            Item::Tempo(100.0),
            sound(Some(60), 2.0, false),
            Item::Tempo(100.0),
            Item::Tempo(80.0),
        ];
        let timeline = lay_out(&items);
        assert_eq!(
            timeline.tempos,
            [
                Timed {
                    at: 0.0,
                    value: 100.0
                },
                Timed {
                    at: 2.0,
                    value: 80.0
                }
            ]
        );
    }
}
