//! Harmonise mode in the jam: alto, tenor and bass from the harmony worker
//! ([`crate::engine::harmony`]), each a monophonic line on its own MIDI channel, played as the
//! plugin plays them. A step's chord sounds when the step is due; when the worker sends a newer
//! chord for the step sounding (the player's note changed the soprano after the chord went out),
//! the voices that now differ move at once.

use crate::engine::clock::TransportEvent;
use crate::engine::harmony::{HarmonyHandle, chord_notes};
use crate::engine::messages::PlayerNote;
use crate::harmony::live::Chord;

use super::ports::MidiSink;
use super::record::{Recording, Side};
use super::session::NoteMessage;

/// The three voices under the player, and the worker drawing them.
pub struct JamHarmony {
    handle: HarmonyHandle,
    channels: [u8; 3],
    velocity: u8,
    /// The note each voice sounds.
    sounding: [Option<u8>; 3],
    /// The step sounding, the chord it played, and what the voices sounded before it.
    current: Option<(u64, Option<Chord>, [Option<u8>; 3])>,
}

impl JamHarmony {
    /// Voices on `channels` (zero-based) at `velocity`, drawn by the worker behind `handle`.
    pub fn new(handle: HarmonyHandle, channels: [u8; 3], velocity: u8) -> Self {
        Self {
            handle,
            channels,
            velocity,
            sounding: [None; 3],
            current: None,
        }
    }

    pub fn channels(&self) -> [u8; 3] {
        self.channels
    }

    /// The player's note, for the soprano. A full queue loses it for the harmony only.
    pub fn note(&mut self, note: PlayerNote) {
        let _ = self.handle.push_note(note);
    }

    pub fn transport(&mut self, event: TransportEvent) {
        let _ = self.handle.push_transport(event);
    }

    /// `step` is due at `at` seconds: its chord plays (every voice holds if it is not ready).
    pub fn play(
        &mut self,
        step: u64,
        at: f64,
        out: &mut dyn MidiSink,
        recording: Option<&mut Recording>,
    ) -> Result<(), String> {
        let before = self.sounding;
        let chord = self.handle.play_step(step);
        self.current = Some((step, chord, before));
        match chord {
            Some(chord) => self.sound(chord_notes(chord, before), at, out, recording),
            None => Ok(()),
        }
    }

    /// Moves the voices to a newer chord for the step sounding, if the worker sent one.
    pub fn follow(
        &mut self,
        at: f64,
        out: &mut dyn MidiSink,
        recording: Option<&mut Recording>,
    ) -> Result<(), String> {
        let Some((step, played, before)) = self.current else {
            return Ok(());
        };
        let newest = self.handle.chord(step);
        if newest.is_none() || newest == played {
            return Ok(());
        }
        self.current = Some((step, newest, before));
        let chord = newest.expect("checked above");
        self.sound(chord_notes(chord, before), at, out, recording)
    }

    /// Ends every voice's note; the next step starts afresh.
    pub fn release(
        &mut self,
        at: f64,
        out: &mut dyn MidiSink,
        recording: Option<&mut Recording>,
    ) -> Result<(), String> {
        self.current = None;
        self.sound([None; 3], at, out, recording)
    }

    /// Makes each voice sound `notes`: the voices that differ end their note and start the
    /// new one. Sends everything even when a send fails; returns the first failure.
    fn sound(
        &mut self,
        notes: [Option<u8>; 3],
        at: f64,
        out: &mut dyn MidiSink,
        mut recording: Option<&mut Recording>,
    ) -> Result<(), String> {
        let mut result = Ok(());
        for ((sounding, next), channel) in self.sounding.iter_mut().zip(notes).zip(self.channels) {
            let now = *sounding;
            if now == next {
                continue;
            }
            if let Some(pitch) = now {
                if let Some(recording) = recording.as_deref_mut() {
                    recording.note_off(Side::Cantus, pitch, at);
                }
                result = result.and(out.send(&NoteMessage::Off { channel, pitch }.bytes()));
            }
            if let Some(pitch) = next {
                if let Some(recording) = recording.as_deref_mut() {
                    recording.note_on(Side::Cantus, pitch, self.velocity, at);
                }
                let on = NoteMessage::On {
                    channel,
                    pitch,
                    velocity: self.velocity,
                };
                result = result.and(out.send(&on.bytes()));
            }
            *sounding = next;
        }
        result
    }
}
