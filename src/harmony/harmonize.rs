//! `cantus harmonize`: what was read from a file, harmonised by the model, as four voices of
//! notes ready to write.

use anyhow::{Result, bail};
use candle_core::Device;

use crate::music::Note;
use crate::music::chorale::{Chorale, VOICE_NAMES};
use crate::music::grid::StepGrid;

use super::data::VoiceSteps;
use super::gibbs::{GibbsOptions, harmonise};
use super::io::HarmonyInput;
use super::metrics::HarmonyMetrics;
use super::model::{HarmonyModel, VOICES};

/// Velocity of the written voices.
const VELOCITY: u8 = 80;

/// The harmonised piece.
pub struct Harmonised {
    /// Soprano, alto, tenor, bass.
    pub voices: [Vec<Note>; VOICES],
    /// Which voices were kept from the input (the others were sampled).
    pub kept: [bool; VOICES],
    /// What the user should know: voices asked to be kept that the file lacks, and the like.
    pub warnings: Vec<String>,
    pub metrics: HarmonyMetrics,
}

/// Harmonises `input`: keeps the soprano and the voices in `keep` that the file has, samples
/// the rest. Asking to keep every voice leaves nothing to do, and is refused.
pub fn harmonize(
    model: &HarmonyModel,
    input: &HarmonyInput,
    keep: [bool; VOICES],
    options: &GibbsOptions,
    device: &Device,
) -> Result<Harmonised> {
    let mut warnings = Vec::new();
    let mut kept = [false; VOICES];
    for v in 0..VOICES {
        let wanted = keep[v] || (v == 0 && input.voices[0].is_some() && !input.is_complete());
        match (&input.voices[v], wanted) {
            (Some(_), true) => kept[v] = true,
            (None, true) => warnings.push(format!(
                "the file has no {} to keep: it is harmonised too",
                VOICE_NAMES[v].to_lowercase()
            )),
            _ => {}
        }
    }
    if kept.iter().all(|&k| k) {
        bail!("every voice is kept: name fewer voices with --keep");
    }
    if !kept.iter().any(|&k| k) {
        bail!("nothing to harmonise against: keep at least one voice the file has (--keep)");
    }
    let empty = Vec::new();
    let notes = [0, 1, 2, 3].map(|v| match (&input.voices[v], kept[v]) {
        (Some(notes), true) => notes.as_slice(),
        _ => empty.as_slice(),
    });
    let (chorale, _) =
        Chorale::from_voices(notes, input.key, input.time_signature, StepGrid::SIXTEENTHS);
    let steps = harmonise(
        model,
        &VoiceSteps::from_chorale(&chorale),
        kept,
        options,
        device,
    )?;
    let melodies = steps.melodies();
    let metrics = HarmonyMetrics::of_voices(&melodies);
    Ok(Harmonised {
        voices: melodies.map(|m| m.to_notes(VELOCITY)),
        kept,
        warnings,
        metrics,
    })
}
