//! `cantus eval --harmony DIR`: how well the model predicts held-out chorales, voice by voice,
//! and how its harmonisations of their sopranos compare with Bach's own voice leading.

use std::path::PathBuf;

use anyhow::{Result, bail};
use candle_core::Device;
use serde::Serialize;

use super::data::{VoiceSteps, load_chorales};
use super::gibbs::{GibbsOptions, harmonise};
use super::metrics::HarmonyMetrics;
use super::model::HarmonyModel;
use super::train::{VoiceScore, validate};

/// What `cantus eval --harmony` reports.
#[derive(Debug, Clone, Serialize)]
pub struct HarmonyEvaluation {
    pub chorales: usize,
    pub steps: usize,
    /// Offline heads, soprano to bass: NLL per step (nats) and top-1 accuracy.
    pub offline: [VoiceScore; 4],
    /// Causal heads: alto, tenor, bass.
    pub causal: [VoiceScore; 3],
    /// With `generate`: the model's alto, tenor and bass under the first N sopranos…
    pub generated: Option<HarmonyMetrics>,
    /// …and Bach's, for the same N chorales.
    pub real: Option<HarmonyMetrics>,
}

/// Scores `model` on the chorales below `folders`; with `generate` = N, also harmonises the
/// first N sopranos (`options`, the seed advancing per piece) and counts voice-leading faults.
pub fn evaluate_harmony(
    model: &HarmonyModel,
    folders: &[PathBuf],
    generate: Option<usize>,
    options: &GibbsOptions,
    device: &Device,
) -> Result<HarmonyEvaluation> {
    let (chorales, warnings) = load_chorales(folders);
    if chorales.is_empty() {
        bail!(
            "no four-voice chorales in {folders:?} ({})",
            warnings.join("; ")
        );
    }
    let set: Vec<VoiceSteps> = chorales.iter().map(VoiceSteps::from_chorale).collect();
    let (Some(offline), Some(causal)) = validate(model, &set, device)? else {
        unreachable!("the set is not empty");
    };
    let (mut generated, mut real) = (None, None);
    if let Some(n) = generate {
        let (mut made, mut bach) = (HarmonyMetrics::default(), HarmonyMetrics::default());
        for (i, (chorale, steps)) in chorales.iter().zip(&set).take(n).enumerate() {
            let options = GibbsOptions {
                seed: options.seed + i as u64,
                ..*options
            };
            let out = harmonise(model, steps, [true, false, false, false], &options, device)?;
            made += HarmonyMetrics::of_voices(&out.melodies());
            bach += HarmonyMetrics::of(chorale);
        }
        generated = Some(made);
        real = Some(bach);
    }
    Ok(HarmonyEvaluation {
        chorales: chorales.len(),
        steps: set.iter().map(VoiceSteps::len).sum(),
        offline,
        causal,
        generated,
        real,
    })
}
