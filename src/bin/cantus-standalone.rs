//! The full instrument without a DAW: nice-plug's standalone wrapper around the plugin, with its
//! built-in voice, on JACK, ALSA or no audio at all (`--backend jack|alsa|dummy`; `--help` lists
//! the rest). Built with `cargo build --features standalone --bin cantus-standalone`.
//!
//! The plugin is synced to the host by default, and here the host is JACK: it plays once JACK's
//! transport rolls (`jack_transport`, then `play`, or any transport master such as a sequencer).
//! The dummy backend's transport always rolls. The model comes from `CANTUS_MODEL` (a model
//! folder or a preset file), else the compiled-in `folk` model plays.
//!
//! With a display (`DISPLAY` or `WAYLAND_DISPLAY` set) the plugin's editor opens, and closing it
//! quits; without one the instrument runs headless until Ctrl-C.

use std::process::ExitCode;

use cantus::plugin::Cantus;
use nice_plug::prelude::nice_export_standalone;

fn main() -> ExitCode {
    let display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    if !display {
        cantus::plugin::without_editor();
    }
    if nice_export_standalone::<Cantus>() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
