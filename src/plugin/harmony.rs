//! Harmonise mode on the audio thread: alto, tenor and bass, each a monophonic [`Player`] on
//! its own MIDI channel, fed by the harmony worker ([`crate::engine::harmony`]).
//!
//! A step's chord plays on the step's first sample. If the worker sends that step again while
//! it sounds (the player's note changed the soprano after the chord went out), the voices that
//! now sound differently change at once: the correction.

use std::thread::JoinHandle;

use super::fixed::FixedList;
use super::player::{Events, Feel, Player};
use crate::engine::harmony::{HarmonyHandle, HarmonySettings, chord_notes, spawn_harmony};
use crate::harmony::live::{Chord, LiveHarmoniser};
use crate::music::melody::{MelodyEvent, REST_TOKEN};

/// Messages each way between the audio thread and the harmony worker.
const QUEUE_CAPACITY: usize = 1024;

/// Steps kept per block for the chords; a block holds a few dozen at the most.
const MAX_DUE_STEPS: usize = 128;

/// The steps that fall in one block, with their sample offsets, for the chords to follow the
/// melody engine's steps.
pub type DueSteps = FixedList<(u64, u32), MAX_DUE_STEPS>;

/// The three voices under the player's soprano.
#[derive(Debug, Default)]
pub struct HarmonyVoices {
    voices: [Player; 3],
    /// The step sounding now, the chord it played, and what each voice sounded just before it.
    current: Option<Sounding>,
}

#[derive(Debug, Clone, Copy)]
struct Sounding {
    step: u64,
    chord: Option<Chord>,
    before: [Option<u8>; 3],
}

impl HarmonyVoices {
    /// Sets each voice's feel: the shared one, on the voice's own channel.
    pub fn set_feel(&mut self, feel: Feel, channels: [u8; 3]) {
        for (voice, channel) in self.voices.iter_mut().zip(channels) {
            voice.feel = Feel { channel, ..feel };
        }
    }

    /// Plays `step`'s chord (`None`: not ready, every voice holds) at sample `timing`.
    pub fn play(&mut self, step: u64, chord: Option<Chord>, timing: u32, out: &mut Events) {
        let before = self.voices.each_ref().map(Player::sounding_key);
        if let Some(chord) = chord {
            for (voice, token) in self.voices.iter_mut().zip(chord) {
                voice.play(token, timing, out);
            }
        }
        self.current = Some(Sounding {
            step,
            chord,
            before,
        });
    }

    /// The step sounding now has a newer chord: moves the voices that now sound differently
    /// to their new notes at `timing`.
    pub fn correct(&mut self, chord: Chord, timing: u32, out: &mut Events) {
        let Some(sounding) = self.current.as_mut() else {
            return;
        };
        if sounding.chord == Some(chord) {
            return;
        }
        sounding.chord = Some(chord);
        let targets = chord_notes(chord, sounding.before);
        for (voice, target) in self.voices.iter_mut().zip(targets) {
            if voice.sounding_key() != target {
                let token = target.map_or(REST_TOKEN, |p| MelodyEvent::NoteOn(p).token());
                voice.play(token, timing, out);
            }
        }
    }

    /// The step that is sounding, if any.
    pub fn current_step(&self) -> Option<u64> {
        self.current.map(|s| s.step)
    }

    /// Ends every voice's note at `timing`; the next step starts afresh.
    pub fn release(&mut self, timing: u32, out: &mut Events) {
        for voice in &mut self.voices {
            voice.release(timing, out);
        }
        self.current = None;
    }

    pub fn end_block(&mut self, len: u32) {
        for voice in &mut self.voices {
            voice.end_block(len);
        }
    }
}

/// The harmony worker, as the plugin holds it.
pub struct HarmonyWorker {
    pub handle: HarmonyHandle,
    pub thread: JoinHandle<()>,
}

impl HarmonyWorker {
    /// Starts a worker on the compiled-in chorale model, idle until `settings` make it active.
    pub fn start(settings: HarmonySettings) -> Result<Self, String> {
        let harmoniser = LiveHarmoniser::embedded(settings.seed)?;
        let (handle, thread) = spawn_harmony(harmoniser, settings, QUEUE_CAPACITY)
            .map_err(|e| format!("could not start the harmony thread: {e}"))?;
        Ok(Self { handle, thread })
    }

    /// Stops the worker (on the main thread: it waits for it).
    pub fn stop(self) {
        drop(self.handle);
        let _ = self.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(pitch: u8) -> u32 {
        MelodyEvent::NoteOn(pitch).token()
    }

    fn sounding(voices: &HarmonyVoices) -> [Option<u8>; 3] {
        voices.voices.each_ref().map(Player::sounding_key)
    }

    #[test]
    fn a_correction_moves_only_the_voices_that_changed() {
        let mut voices = HarmonyVoices::default();
        voices.set_feel(Feel::default(), [1, 2, 3]);
        let mut out = Events::default();
        voices.play(0, Some([note(64), note(55), note(48)]), 0, &mut out);
        let hold = crate::music::melody::HOLD_TOKEN;
        // Step 1 held everything; then the player's note arrives and the worker redraws it:
        // the alto moves, the tenor holds, the bass rests.
        voices.play(1, Some([hold, hold, hold]), 100, &mut out);
        let before = out.as_slice().len();
        voices.correct([note(65), hold, REST_TOKEN], 130, &mut out);
        assert_eq!(sounding(&voices), [Some(65), Some(55), None]);
        let changes: Vec<_> = out.as_slice()[before..]
            .iter()
            .map(|e| (e.timing, e.channel, e.key, e.on))
            .collect();
        assert_eq!(
            changes,
            [(130, 1, 64, false), (130, 1, 65, true), (130, 3, 48, false)]
        );
        // The same chord again changes nothing.
        voices.correct([note(65), hold, REST_TOKEN], 140, &mut out);
        assert_eq!(out.as_slice().len(), before + 3);
        // A correction back to holding restores what sounded before the step.
        voices.correct([hold, hold, hold], 150, &mut out);
        assert_eq!(sounding(&voices), [Some(64), Some(55), Some(48)]);
    }
}
