//! Cantus: a neural melody instrument.
//!
//! Data flows one way, and the modules follow it:
//! files ─[`formats`]→ pieces/notes ─[`music`]→ tokens → model → tokens → notes → host ([`plugin`]).
//!
//! * [`music`]: notes, the step grid, tokens and encodings. No I/O, std only.
//! * [`formats`]: MIDI and ABC files to and from [`music::Piece`], and the `data check` walk.
//! * [`plugin`]: the CLAP/VST3 instrument (nice-plug).
//! * [`preset`]: a model folder plus the instrument's settings, as a small TOML file.
//! * [`harmony`]: four-part chorale harmonisation (DeepBach-style), offline and live.
//! * [`audio`]: waveform models that train on recordings and continue them as audio.

pub mod audio;
pub mod engine;
pub mod eval;
pub mod formats;
pub mod generate;
pub mod harmony;
pub mod live;
pub mod model;
pub mod music;
pub mod plugin;
pub mod preset;
pub mod rng;
pub mod train;

#[cfg(test)]
pub(crate) mod testing;
