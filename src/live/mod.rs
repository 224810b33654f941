//! `cantus jam`: Cantus plays with a keyboard and a synth through MIDI ports, on its own clock or
//! an external MIDI clock, and can record both sides.
//!
//! The plugin's engine does the music; this room only moves MIDI in and out in time:
//! * [`ports`]: listing, matching and connecting ports (JACK, or ALSA's sequencer through
//!   [`alsa`]), and noticing when they go away ([`jack`]: when the JACK server does);
//! * [`clock`]: which steps are due, from the jam's tempo or from MIDI clock pulses;
//! * [`session`]: one jam's state: notes in, steps played, notes out, all notes off;
//! * [`harmony`]: Harmonise mode's alto, tenor and bass;
//! * [`record`]: the `--record` MIDI file;
//! * [`settings`]: preset and flags into engine parameters;
//! * [`run`]: the loop that ties them together until Ctrl-C or a lost port.

pub mod alsa;
pub mod clock;
pub mod harmony;
pub mod jack;
pub mod ports;
pub mod record;
pub mod run;
pub mod session;
pub mod settings;
