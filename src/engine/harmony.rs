//! Live harmony: a second worker, beside the melody engine's, that keeps alto, tenor and bass
//! ready under the player's soprano (the plugin's Harmonise mode).
//!
//! The soprano of a step is only known when the player plays it, and a chord must sound on the
//! step's first sample. So the worker keeps the next few steps ready assuming the player's line
//! goes on as it is (the note held, or the rest continued). When a note arrives that changes a
//! step already sent, it draws that step again, and the steps after it, and sends them again:
//! the audio thread plays the new chord at once if that step is sounding, a few milliseconds
//! after the player's note, as an accompanist reacts.
//!
//! The audio thread talks to the worker through [`HarmonyHandle`] only: two rtrb queues and a
//! fixed array of slots, so nothing it calls allocates, locks or blocks (except
//! [`HarmonyHandle::wait_for`], for offline rendering, which sleeps). Transport events are
//! counted on both sides, as in [`super::messages`]: chords carry the count the worker had seen,
//! and the audio side keeps only chords of its own count.

use std::collections::BTreeMap;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rtrb::{Consumer, Producer, RingBuffer};

use super::clock::TransportEvent;
use super::messages::{PlayerNote, QueueFull};
use super::worker::POLL;
use crate::harmony::live::{Chord, LiveHarmoniser};
use crate::harmony::voices::VOICE_RANGES;
use crate::music::melody::{HOLD_TOKEN, MelodyEvent, REST_TOKEN};

/// Steps kept ready past the last one played.
pub const HARMONY_LOOKAHEAD: u64 = 2;

/// Chord slots on the audio side, indexed by step: far more than the lookahead.
const SLOTS: usize = 64;

/// How the worker draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HarmonySettings {
    /// Off: the worker draws nothing (another mode is playing).
    pub active: bool,
    pub temperature: f64,
    /// Seeds each take.
    pub seed: u64,
}

impl Default for HarmonySettings {
    fn default() -> Self {
        Self {
            active: false,
            temperature: 1.0,
            seed: 0,
        }
    }
}

/// From the audio thread to the worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HarmonyInput {
    Note(PlayerNote),
    Transport(TransportEvent),
    /// The audio thread played this step: keep the lookahead ahead of it.
    Played(u64),
    Settings(HarmonySettings),
}

/// Alto, tenor and bass (melody-event tokens) for `step`, drawn after `epoch` transport events
/// and `heard` player notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChordStep {
    pub step: u64,
    pub chord: Chord,
    pub epoch: u32,
    /// Every note the worker takes redraws the step playing and those after it, so a chord
    /// that heard as many notes as were pushed is final until the next note.
    pub heard: u32,
}

/// Starts the harmony worker around `harmoniser`; the worker ends when the handle is dropped.
pub fn spawn_harmony(
    harmoniser: LiveHarmoniser,
    settings: HarmonySettings,
    capacity: usize,
) -> std::io::Result<(HarmonyHandle, JoinHandle<()>)> {
    let (to_worker, inputs) = RingBuffer::new(capacity);
    let (outputs, from_worker) = RingBuffer::new(capacity);
    let mut worker = Worker::new(harmoniser, settings);
    let thread = thread::Builder::new()
        .name("cantus-harmony".into())
        .spawn(move || worker.run(inputs, outputs))?;
    let handle = HarmonyHandle {
        to_worker,
        from_worker,
        slots: [None; SLOTS],
        epoch: 0,
        notes_sent: 0,
    };
    Ok((handle, thread))
}

/// The audio thread's side. Nothing here allocates.
pub struct HarmonyHandle {
    to_worker: Producer<HarmonyInput>,
    from_worker: Consumer<ChordStep>,
    slots: [Option<ChordStep>; SLOTS],
    epoch: u32,
    notes_sent: u32,
}

impl HarmonyHandle {
    pub fn push_note(&mut self, note: PlayerNote) -> Result<(), QueueFull> {
        self.push(HarmonyInput::Note(note))?;
        self.notes_sent = self.notes_sent.wrapping_add(1);
        Ok(())
    }

    pub fn push_settings(&mut self, settings: HarmonySettings) -> Result<(), QueueFull> {
        self.push(HarmonyInput::Settings(settings))
    }

    /// A transport event: every chord held or still on its way belongs to the old run.
    pub fn push_transport(&mut self, event: TransportEvent) -> Result<(), QueueFull> {
        self.push(HarmonyInput::Transport(event))?;
        self.epoch = self.epoch.wrapping_add(1);
        self.slots = [None; SLOTS];
        Ok(())
    }

    fn push(&mut self, input: HarmonyInput) -> Result<(), QueueFull> {
        self.to_worker.push(input).map_err(|_| QueueFull)
    }

    /// Files the chords that have arrived.
    fn receive(&mut self) {
        while let Ok(chord) = self.from_worker.pop() {
            if chord.epoch == self.epoch {
                self.slots[chord.step as usize % SLOTS] = Some(chord);
            }
        }
    }

    /// The newest chord received for `step`, if any (after filing what has arrived).
    fn latest(&mut self, step: u64) -> Option<ChordStep> {
        self.receive();
        self.slots[step as usize % SLOTS].filter(|c| c.step == step)
    }

    /// The chord for `step` as it stands now, if the worker has sent one.
    pub fn chord(&mut self, step: u64) -> Option<Chord> {
        self.latest(step).map(|c| c.chord)
    }

    /// Tells the worker `step` is playing, and returns its chord if one is ready (a step not
    /// ready is played as held by every voice).
    pub fn play_step(&mut self, step: u64) -> Option<Chord> {
        let _ = self.push(HarmonyInput::Played(step));
        self.chord(step)
    }

    /// The final chord for `step`, drawn after every note pushed so far, waiting up to
    /// `timeout` for it: for offline rendering, where the host waits for the plugin rather than
    /// the other way round, and the same input must render the same harmony. Sleeps; never call
    /// it in real time.
    pub fn wait_for(&mut self, step: u64, timeout: Duration) -> Option<Chord> {
        let deadline = Instant::now() + timeout;
        loop {
            let sent = self.notes_sent;
            if let Some(chord) = self.latest(step).filter(|c| c.heard == sent) {
                return Some(chord.chord);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_micros(100));
        }
    }
}

/// What alto, tenor and bass should sound under `chord`, given what each sounded before its
/// step (`before`): a note plays, a rest silences, a hold keeps the note from before. Where a
/// newer chord arrives for the step sounding, the voices that now differ move to these.
pub fn chord_notes(chord: Chord, before: [Option<u8>; 3]) -> [Option<u8>; 3] {
    let mut notes = before;
    for (note, token) in notes.iter_mut().zip(chord) {
        match MelodyEvent::from_token(token) {
            Some(MelodyEvent::NoteOn(pitch)) => *note = Some(pitch),
            Some(MelodyEvent::Rest) => *note = None,
            _ => {}
        }
    }
    notes
}

/// The player's line, as the soprano: the latest key still held sounds; tokens are explicit
/// only where something happened.
#[derive(Debug, Default)]
struct Soprano {
    /// Keys held, most recent last.
    held: Vec<u8>,
    /// NOTE_ON or REST at the steps where the line changed.
    changes: BTreeMap<u64, u32>,
}

impl Soprano {
    /// The token at `step`: a change there, or HOLD (the line goes on as it was).
    fn token(&self, step: u64) -> u32 {
        self.changes.get(&step).copied().unwrap_or(HOLD_TOKEN)
    }

    /// Takes a note; returns the step whose token changed, if any.
    fn note(&mut self, note: PlayerNote) -> Option<u64> {
        let before = self.held.last().copied();
        let step = match note {
            PlayerNote::On { step, pitch } => {
                self.held.retain(|&p| p != pitch);
                self.held.push(pitch);
                step
            }
            PlayerNote::Off { step, pitch } => {
                self.held.retain(|&p| p != pitch);
                step
            }
        };
        let now = self.held.last().copied();
        if now == before && !matches!(note, PlayerNote::On { .. }) {
            return None;
        }
        let token = match now {
            Some(pitch) => MelodyEvent::NoteOn(into_soprano_range(pitch)).token(),
            None => REST_TOKEN,
        };
        // A note released in the step it started in still sounds for that step: the rest
        // begins on the next one.
        let at = match (token, self.changes.get(&step)) {
            (REST_TOKEN, Some(&t)) if t != REST_TOKEN && t != HOLD_TOKEN => step + 1,
            _ => step,
        };
        self.changes.insert(at, token);
        Some(at)
    }

    /// Forgets changes before `step`.
    fn forget_before(&mut self, step: u64) {
        self.changes = self.changes.split_off(&step);
    }
}

/// The model knows sopranos in the soprano's range: a key played outside it is moved by
/// octaves into it (the harmony follows the tune, in the voices' own registers).
fn into_soprano_range(pitch: u8) -> u8 {
    let (low, high) = VOICE_RANGES[0];
    let mut pitch = pitch;
    while pitch < low {
        pitch += 12;
    }
    while pitch > high {
        pitch -= 12;
    }
    pitch
}

/// The worker's state: the harmoniser, the soprano, and where the playhead is.
struct Worker {
    harmoniser: LiveHarmoniser,
    settings: HarmonySettings,
    soprano: Soprano,
    epoch: u32,
    /// Player notes taken so far.
    heard: u32,
    /// The run's next step to draw, while the transport plays.
    next: Option<u64>,
    /// The last step the audio thread played.
    played: Option<u64>,
    /// A chord drawn and not yet sent (the output queue was full).
    unsent: Option<ChordStep>,
}

impl Worker {
    fn new(harmoniser: LiveHarmoniser, settings: HarmonySettings) -> Self {
        let mut harmoniser = harmoniser;
        harmoniser.temperature = settings.temperature;
        Self {
            harmoniser,
            settings,
            soprano: Soprano::default(),
            epoch: 0,
            heard: 0,
            next: None,
            played: None,
            unsent: None,
        }
    }

    fn run(&mut self, mut inputs: Consumer<HarmonyInput>, mut outputs: Producer<ChordStep>) {
        while !inputs.is_abandoned() {
            let mut busy = false;
            while let Ok(input) = inputs.pop() {
                self.handle(input);
                busy = true;
            }
            if self.unsent.is_none() {
                self.unsent = self.draw_next();
            }
            if let Some(chord) = self.unsent
                && outputs.push(chord).is_ok()
            {
                self.unsent = None;
                busy = true;
            }
            if !busy {
                thread::sleep(POLL);
            }
        }
    }

    fn handle(&mut self, input: HarmonyInput) {
        match input {
            HarmonyInput::Note(note) => {
                self.heard = self.heard.wrapping_add(1);
                let (PlayerNote::On { step, .. } | PlayerNote::Off { step, .. }) = note;
                let changed = self.soprano.note(note).unwrap_or(step);
                // Draw again from the changed step, if it was drawn already, and at least from
                // the step playing (unchanged steps draw the same chord again: see
                // `ChordStep::heard`).
                let from = changed
                    .min(self.played.unwrap_or(u64::MAX))
                    .max(self.harmoniser.origin());
                if let Some(next) = self.next.as_mut() {
                    *next = (*next).min(from);
                }
            }
            HarmonyInput::Transport(event) => {
                self.epoch = self.epoch.wrapping_add(1);
                self.unsent = None;
                self.played = None;
                self.next = match event {
                    TransportEvent::Started { step } => Some(step),
                    TransportEvent::Jump { to_step, .. } | TransportEvent::Loop { to_step, .. } => {
                        Some(to_step)
                    }
                    TransportEvent::Stopped => None,
                };
                // Notes held across a jump keep sounding; what they did before it is gone.
                self.soprano.changes.clear();
                if let Some(step) = self.next {
                    self.restart(step);
                }
            }
            HarmonyInput::Played(step) => {
                self.played = Some(step);
                self.soprano
                    .forget_before(step.saturating_sub(crate::engine::composer::HISTORY));
            }
            HarmonyInput::Settings(settings) => {
                let was_active = self.settings.active;
                self.settings = settings;
                self.harmoniser.temperature = settings.temperature;
                if settings.active
                    && !was_active
                    && let Some(step) = self.played.map(|p| p + 1).or(self.next)
                {
                    // A fresh take from the next step: what played meanwhile was not harmony.
                    self.next = Some(step);
                    self.restart(step);
                }
            }
        }
    }

    fn restart(&mut self, step: u64) {
        self.harmoniser.restart(
            step,
            self.settings.seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
    }

    /// Draws the next step due, if one is: steps up to the lookahead past the last played.
    fn draw_next(&mut self) -> Option<ChordStep> {
        if !self.settings.active {
            return None;
        }
        let step = self.next?;
        let horizon = match self.played {
            Some(played) => played + HARMONY_LOOKAHEAD,
            None => self.harmoniser.origin() + HARMONY_LOOKAHEAD,
        };
        if step > horizon {
            return None;
        }
        let chord = self.harmoniser.chord(step, self.soprano.token(step));
        self.next = Some(step + 1);
        Some(ChordStep {
            step,
            chord,
            epoch: self.epoch,
            heard: self.heard,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soprano_is_the_latest_key_held() {
        let mut soprano = Soprano::default();
        let on = |step, pitch| PlayerNote::On { step, pitch };
        let off = |step, pitch| PlayerNote::Off { step, pitch };
        assert_eq!(soprano.note(on(0, 67)), Some(0));
        // Legato: the next key goes down before the last comes up.
        assert_eq!(soprano.note(on(4, 69)), Some(4));
        assert_eq!(soprano.note(off(4, 67)), None);
        // A short note, released in its own step: the rest starts on the next.
        assert_eq!(soprano.note(off(6, 69)), Some(6));
        assert_eq!(soprano.note(on(8, 71)), Some(8));
        assert_eq!(soprano.note(off(8, 71)), Some(9));
        let tokens: Vec<u32> = (0..10).map(|s| soprano.token(s)).collect();
        let note = |p| MelodyEvent::NoteOn(p).token();
        assert_eq!(
            tokens,
            [
                note(67),
                HOLD_TOKEN,
                HOLD_TOKEN,
                HOLD_TOKEN,
                note(69),
                HOLD_TOKEN,
                REST_TOKEN,
                HOLD_TOKEN,
                note(71),
                REST_TOKEN
            ]
        );
        // Letting go of the top of a held pair returns the line to the other key.
        soprano.note(on(12, 60));
        soprano.note(on(12, 64));
        assert_eq!(soprano.note(off(13, 64)), Some(13));
        assert_eq!(soprano.token(13), note(60));
        // Keys outside the soprano's range (57..=81) sound in it, an octave or more away.
        soprano.note(on(14, 0));
        assert_eq!(soprano.token(14), note(60));
        soprano.note(on(15, 127));
        assert_eq!(soprano.token(15), note(79));
    }
}
