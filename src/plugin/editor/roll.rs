//! What the piano roll draws, decided without a window: which notes are in view, where their
//! rectangles go, and their colours. Time runs left to right in steps, the playhead fixed at a
//! point of the width so the roll scrolls under it; pitch runs bottom to top.

use egui::{Color32, Pos2, Rect, pos2};

use crate::music::melody::MelodyEvent;
use crate::plugin::display::{ShownNote, Snapshot, Source};

/// Steps shown behind the playhead.
pub const HISTORY_STEPS: f64 = 48.0;

/// Steps shown ahead of the playhead at the least (more when the lookahead is longer).
pub const MIN_AHEAD_STEPS: f64 = 16.0;

/// The fewest semitones the roll spans: two octaves.
pub const MIN_SPAN: u8 = 24;

/// How a note is coloured: by who plays it, and whether it is still to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shade {
    Player,
    Cantus,
    Harmony,
    /// Cantus's notes in the lookahead: ready, not yet played.
    Upcoming,
}

impl Shade {
    /// The colours: the player's blue and Cantus's orange are far apart in hue, so a screenshot
    /// test can tell them apart by pixel; the lookahead is a paler orange.
    pub const fn colour(self) -> Color32 {
        match self {
            Shade::Player => Color32::from_rgb(70, 160, 255),
            Shade::Cantus => Color32::from_rgb(255, 150, 40),
            Shade::Harmony => Color32::from_rgb(120, 210, 110),
            Shade::Upcoming => Color32::from_rgb(255, 215, 150),
        }
    }
}

impl From<Source> for Shade {
    fn from(source: Source) -> Self {
        match source {
            Source::Player => Shade::Player,
            Source::Cantus => Shade::Cantus,
            Source::Harmony => Shade::Harmony,
        }
    }
}

/// A note to draw: its rectangle on screen and its shade.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoteRect {
    pub rect: Rect,
    pub shade: Shade,
}

/// The roll's window on the music: the steps and pitches in view, mapped onto `area`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    pub area: Rect,
    /// The step at the left edge, and the steps across.
    pub first_step: f64,
    pub steps: f64,
    /// The lowest and highest pitch shown, inclusive.
    pub low: u8,
    pub high: u8,
}

impl View {
    /// The view around `snapshot`'s playhead, spanning the pitches of the notes in view.
    pub fn around(snapshot: &Snapshot, notes: &[ShownNote], area: Rect) -> View {
        let ahead = MIN_AHEAD_STEPS.max(f64::from(snapshot.lookahead) + 2.0);
        let first_step = snapshot.playhead - HISTORY_STEPS;
        let (low, high) = pitch_span(notes);
        View {
            area,
            first_step,
            steps: HISTORY_STEPS + ahead,
            low,
            high,
        }
    }

    /// The x of the playhead (or any step).
    pub fn x(&self, step: f64) -> f32 {
        let fraction = (step - self.first_step) / self.steps;
        self.area.left() + (fraction as f32) * self.area.width()
    }

    /// The height of one semitone's row.
    pub fn row_height(&self) -> f32 {
        self.area.height() / f32::from(self.high - self.low + 1)
    }

    /// The top of `pitch`'s row.
    pub fn y(&self, pitch: u8) -> f32 {
        let rows_above = f32::from(self.high.saturating_sub(pitch));
        self.area.top() + rows_above * self.row_height()
    }

    /// The rectangle of a note from `start` to `end` (steps), clipped to the area; `None` when
    /// it is out of view or empty.
    pub fn rect(&self, start: f64, end: f64, pitch: u8) -> Option<Rect> {
        if !(self.low..=self.high).contains(&pitch) {
            return None;
        }
        let left = self.x(start).max(self.area.left());
        let right = self.x(end).min(self.area.right());
        if right <= left {
            return None;
        }
        let top = self.y(pitch);
        // A one-pixel gap between rows keeps neighbouring notes apart.
        let bottom = top + (self.row_height() - 1.0).max(1.0);
        Some(Rect::from_min_max(pos2(left, top), pos2(right, bottom)))
    }

    /// The playhead's line, top to bottom.
    pub fn playhead(&self, steps: f64) -> [Pos2; 2] {
        let x = self.x(steps);
        [pos2(x, self.area.top()), pos2(x, self.area.bottom())]
    }
}

/// The pitches to show: those of `notes` with a semitone to spare each side, widened evenly to
/// [`MIN_SPAN`], middle C's two octaves when there are none.
pub fn pitch_span(notes: &[ShownNote]) -> (u8, u8) {
    let low = notes.iter().map(|n| n.pitch).min().unwrap_or(60);
    let high = notes.iter().map(|n| n.pitch).max().unwrap_or(60);
    let (mut low, mut high) = (low.saturating_sub(1), high.saturating_add(1).min(127));
    while high - low < MIN_SPAN {
        low = low.saturating_sub(1);
        if high - low < MIN_SPAN && high < 127 {
            high += 1;
        }
    }
    (low, high)
}

/// Cantus's notes still to come, from the lookahead's tokens (the first for the step after the
/// playhead's): the note sounding at the playhead, `sounding`, goes on through HOLDs; a NOTE_ON
/// starts a note, REST ends one; a step not ready ends what is known.
pub fn upcoming_notes(snapshot: &Snapshot, sounding: Option<u8>) -> Vec<ShownNote> {
    let first = snapshot.playhead.max(0.0) as u64 + 1;
    let mut notes = Vec::new();
    // The sounding note goes on from the playhead's step.
    let mut open = sounding.map(|pitch| (first - 1, pitch));
    let mut end = first;
    for (step, token) in (first..).zip(&snapshot.upcoming) {
        end = step;
        let event = match token {
            Some(token) => MelodyEvent::from_token(*token),
            None => break,
        };
        if let Some(MelodyEvent::NoteOn(_) | MelodyEvent::Rest) = event
            && let Some((start, pitch)) = open.take()
        {
            notes.push(upcoming(start, step, pitch));
        }
        if let Some(MelodyEvent::NoteOn(pitch)) = event {
            open = Some((step, pitch));
        }
        end = step + 1;
    }
    notes.extend(open.map(|(start, pitch)| upcoming(start, end, pitch)));
    notes.retain(|n| n.end > Some(n.start));
    notes
}

fn upcoming(start: u64, end: u64, pitch: u8) -> ShownNote {
    ShownNote {
        start,
        end: Some(end),
        pitch,
        source: Source::Cantus,
    }
}

/// The pitch of Cantus's note sounding at the playhead, if any.
pub fn sounding_cantus(notes: &[ShownNote]) -> Option<u8> {
    notes
        .iter()
        .filter(|n| n.source == Source::Cantus && n.end.is_none())
        .max_by_key(|n| n.start)
        .map(|n| n.pitch)
}

/// Everything to draw: the played notes (a sounding one up to the playhead), then the upcoming
/// ones over them.
pub fn note_rects(snapshot: &Snapshot, area: Rect) -> (View, Vec<NoteRect>) {
    let upcoming = upcoming_notes(snapshot, sounding_cantus(&snapshot.notes));
    let in_view: Vec<ShownNote> = snapshot.notes.iter().chain(&upcoming).copied().collect();
    let view = View::around(snapshot, &in_view, area);
    let played = snapshot.notes.iter().filter_map(|note| {
        let end = note.end.map_or(snapshot.playhead, |e| e as f64);
        let rect = view.rect(note.start as f64, end, note.pitch)?;
        Some(NoteRect {
            rect,
            shade: note.source.into(),
        })
    });
    let to_come = upcoming.iter().filter_map(|note| {
        let start = (note.start as f64).max(snapshot.playhead);
        let rect = view.rect(start, note.end? as f64, note.pitch)?;
        Some(NoteRect {
            rect,
            shade: Shade::Upcoming,
        })
    });
    let rects = played.chain(to_come).collect();
    (view, rects)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(start: u64, end: Option<u64>, pitch: u8, source: Source) -> ShownNote {
        ShownNote {
            start,
            end,
            pitch,
            source,
        }
    }

    fn on(pitch: u8) -> Option<u32> {
        Some(MelodyEvent::NoteOn(pitch).token())
    }

    const HOLD: Option<u32> = Some(crate::music::melody::HOLD_TOKEN);
    const REST: Option<u32> = Some(crate::music::melody::REST_TOKEN);

    fn area() -> Rect {
        Rect::from_min_max(pos2(0.0, 0.0), pos2(640.0, 250.0))
    }

    #[test]
    fn the_lookahead_becomes_upcoming_notes() {
        let snapshot = Snapshot {
            playhead: 10.4,
            upcoming: vec![HOLD, on(64), HOLD, REST, on(67), None, on(70)],
            lookahead: 7,
            ..Snapshot::default()
        };
        let notes = upcoming_notes(&snapshot, Some(62));
        let spans: Vec<_> = notes.iter().map(|n| (n.start, n.end, n.pitch)).collect();
        // 62 sounds on from the playhead's step through step 11; 64 from 12 to the REST at 14; 67 from 15 until the
        // step not ready (16), past which nothing is known.
        assert_eq!(
            spans,
            [(10, Some(12), 62), (12, Some(14), 64), (15, Some(16), 67)]
        );
        assert!(upcoming_notes(&Snapshot::default(), None).is_empty());
    }

    #[test]
    fn notes_get_rectangles_in_time_and_pitch_and_colours_by_source() {
        let snapshot = Snapshot {
            playhead: 50.0,
            notes: vec![
                note(40, Some(44), 60, Source::Player),
                note(46, None, 67, Source::Cantus),
                note(0, Some(1), 72, Source::Harmony), // scrolled out of view
            ],
            upcoming: vec![HOLD, on(65)],
            lookahead: 2,
            ..Snapshot::default()
        };
        let (view, rects) = note_rects(&snapshot, area());
        assert_eq!(view.first_step, 2.0);
        let shades: Vec<_> = rects.iter().map(|r| r.shade).collect();
        assert_eq!(
            shades,
            [
                Shade::Player,
                Shade::Cantus,
                Shade::Upcoming,
                Shade::Upcoming
            ]
        );
        let [player, cantus, held, next] = [0, 1, 2, 3].map(|i| rects[i].rect);
        // Later steps lie further right; the sounding note reaches the playhead, where its
        // upcoming continuation takes over.
        assert!(player.right() < cantus.left());
        assert_eq!(cantus.right(), view.x(50.0));
        assert_eq!(held.left(), cantus.right());
        assert!(next.left() > held.left());
        // Higher pitches lie higher up.
        assert!(cantus.top() < player.top());
        assert!(cantus.top() < next.top() && next.top() < player.top());
        assert!(rects.iter().all(|r| area().contains_rect(r.rect)));
        assert_ne!(Shade::Player.colour(), Shade::Cantus.colour());
        assert_ne!(Shade::Cantus.colour(), Shade::Upcoming.colour());
    }

    #[test]
    fn the_pitch_span_fits_the_notes_and_is_at_least_two_octaves() {
        assert_eq!(pitch_span(&[]), (48, 72));
        let wide = [
            note(0, None, 40, Source::Player),
            note(0, None, 90, Source::Cantus),
        ];
        assert_eq!(pitch_span(&wide), (39, 91));
        let (low, high) = pitch_span(&[note(0, None, 1, Source::Player)]);
        assert_eq!((low, high - low), (0, MIN_SPAN));
    }

    #[test]
    fn notes_outside_the_view_are_not_drawn() {
        let snapshot = Snapshot {
            playhead: 100.0,
            ..Snapshot::default()
        };
        let view = View::around(&snapshot, &[], area());
        assert_eq!(view.rect(0.0, 10.0, 60), None, "long past");
        assert_eq!(view.rect(90.0, 95.0, 20), None, "below the span");
        assert_eq!(view.rect(95.0, 95.0, 60), None, "empty");
        let clipped = view.rect(40.0, 60.0, 60).unwrap();
        assert_eq!(clipped.left(), area().left());
    }
}
