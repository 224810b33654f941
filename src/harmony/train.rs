//! Training the harmony networks on the chorales, and their model folder.
//!
//! ```toml
//! kind = "chorale"
//! name = "chorale"
//! output = "."                      # relative to this file
//! description = "…"
//!
//! [data]
//! train = ["../../data/bach/train"]
//! valid = ["../../data/bach/valid"]
//! transpose = true                  # every key that keeps each voice inside its range
//!
//! [model]
//! embedding = 16                    # per voice
//! metadata = 4
//! hidden = 96
//! context = 16                      # steps each side
//! gap = 4                           # Gibbs: steps redrawn together are this far apart
//!
//! [training]
//! steps = 4000
//! batch_size = 64
//! learning_rate = 0.003             # falls linearly to a tenth over the run
//! dropout = 0.2
//! clip_norm = 5.0
//! validate_every = 500              # steps; also when the checkpoint is written
//! seed = 1
//! ```
//!
//! Every step trains the shared layers and all seven heads (four offline, three causal) on the same random windows
//! of randomly transposed chorales. The output folder gets `model.safetensors` + `model.json`
//! (the best validation so far), `checkpoint.safetensors` (weights, Adam's moments and progress,
//! written atomically: a killed run resumes exactly), `log.csv` and `loss.png`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::model::folder::write_atomically;
use crate::rng::Rng;
use crate::train::adam::Adam;
use crate::train::checkpoint::{EpochRecord, load_file, save_file};
use crate::train::report::{plot_losses, write_log};

use super::data::{PositionSampler, VoiceSteps, load_chorales, training_set};
use super::model::{HarmonyModel, HarmonyShape, VOICES, VoiceHead, loss_and_hits, window_tensors};

pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const CARD_FILE: &str = "model.json";
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
const PROGRESS_KEY: &str = "cantus.harmony.progress";
/// The `kind` of a chorale configuration and card.
pub const KIND: &str = "chorale";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarmonyConfig {
    pub kind: String,
    pub name: String,
    pub output: PathBuf,
    #[serde(default)]
    pub description: String,
    pub data: HarmonyData,
    pub model: HarmonyModelConfig,
    pub training: HarmonyTraining,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarmonyData {
    pub train: Vec<PathBuf>,
    #[serde(default)]
    pub valid: Vec<PathBuf>,
    #[serde(default = "yes")]
    pub transpose: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarmonyModelConfig {
    pub embedding: usize,
    pub metadata: usize,
    pub hidden: usize,
    #[serde(default = "default_context")]
    pub context: usize,
    /// The Gibbs sampler's default stride (see [`super::gibbs`]).
    #[serde(default = "default_gap")]
    pub gap: usize,
}

fn default_context() -> usize {
    16
}

fn default_gap() -> usize {
    4
}

impl HarmonyModelConfig {
    pub fn shape(&self) -> HarmonyShape {
        HarmonyShape {
            embedding: self.embedding,
            metadata: self.metadata,
            hidden: self.hidden,
            context: self.context,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarmonyTraining {
    pub steps: u64,
    pub batch_size: usize,
    pub learning_rate: f64,
    #[serde(default)]
    pub dropout: f32,
    #[serde(default = "default_clip")]
    pub clip_norm: f64,
    pub validate_every: u64,
    #[serde(default)]
    pub seed: u64,
}

fn default_clip() -> f64 {
    5.0
}

impl HarmonyConfig {
    /// Whether the file at `path` is a chorale configuration (`kind = "chorale"` at the top);
    /// false when it cannot be read or parsed, for the other readers to explain.
    pub fn is_chorale_file(path: &Path) -> bool {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.parse::<toml::Table>().ok())
            .is_some_and(|table| table.get("kind").and_then(|k| k.as_str()) == Some(KIND))
    }

    /// Reads a configuration, resolving its paths against the file's folder.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text, path.parent().unwrap_or(Path::new(".")))
            .with_context(|| format!("{}: not a chorale training configuration", path.display()))
    }

    pub fn parse(text: &str, base: &Path) -> Result<Self> {
        let mut config: HarmonyConfig = toml::from_str(text)?;
        if config.kind != KIND {
            bail!("kind is {:?}, expected {KIND:?}", config.kind);
        }
        let m = &config.model;
        if m.embedding == 0 || m.hidden == 0 || m.metadata == 0 || m.context == 0 || m.gap == 0 {
            bail!("model sizes, context and gap must all be at least 1");
        }
        let t = &config.training;
        if t.steps == 0 || t.batch_size == 0 || t.validate_every == 0 || t.learning_rate <= 0.0 {
            bail!("training steps, batch_size, validate_every and learning_rate must be positive");
        }
        if !(0.0..1.0).contains(&t.dropout) {
            bail!("dropout must be in [0, 1)");
        }
        // (Joining an absolute path gives the path itself.)
        config.output = base.join(&config.output);
        config.data.train = config.data.train.iter().map(|p| base.join(p)).collect();
        config.data.valid = config.data.valid.iter().map(|p| base.join(p)).collect();
        Ok(config)
    }
}

/// Held-out scores of one network.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VoiceScore {
    /// Mean negative log-likelihood per step, nats.
    pub nll: f64,
    /// Top-1 accuracy.
    pub accuracy: f64,
}

/// The card of a chorale model folder (`model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HarmonyCard {
    pub format: u32,
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub model: HarmonyModelConfig,
    /// The exact command that trained it.
    pub command: String,
    pub config: HarmonyConfig,
    pub steps: u64,
    /// Offline networks, soprano to bass, on the validation chorales.
    pub valid: Option<[VoiceScore; 4]>,
    /// Causal networks: alto, tenor, bass.
    pub valid_causal: Option<[VoiceScore; 3]>,
}

/// Where training stands, stored in the checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Progress {
    config: HarmonyConfig,
    step: u64,
    adam_steps: u64,
    rng: Rng,
    loss_sum: f64,
    loss_count: u64,
    best: Option<f64>,
    history: Vec<EpochRecord>,
}

/// What a run ended with.
#[derive(Debug, Clone)]
pub struct HarmonySummary {
    pub steps: u64,
    pub valid: Option<[VoiceScore; 4]>,
    pub valid_causal: Option<[VoiceScore; 3]>,
    pub chorales: usize,
    pub examples: usize,
}

/// How to run [`train_harmony`].
#[derive(Debug, Clone, Default)]
pub struct HarmonyRun {
    /// Continue from `OUTPUT/checkpoint.safetensors`.
    pub resume: bool,
    /// The command line, for the card.
    pub command: String,
    /// No progress bar or messages.
    pub quiet: bool,
    /// Stop once this many steps are done and checkpointed, as a killed run would (tests).
    pub stop_after: Option<u64>,
}

/// Trains the chorale networks as `config` says.
pub fn train_harmony(
    config: HarmonyConfig,
    device: &Device,
    run: &HarmonyRun,
) -> Result<HarmonySummary> {
    let HarmonyRun {
        resume,
        ref command,
        quiet,
        stop_after,
    } = *run;
    let output = config.output.clone();
    std::fs::create_dir_all(&output)
        .with_context(|| format!("cannot create {}", output.display()))?;
    let (train_chorales, warnings) = load_chorales(&config.data.train);
    if !quiet {
        for warning in &warnings {
            eprintln!("warning: {warning}");
        }
    }
    if train_chorales.is_empty() {
        bail!("no four-voice chorales found in {:?}", config.data.train);
    }
    let train_set = training_set(&train_chorales, config.data.transpose);
    let (valid_chorales, _) = load_chorales(&config.data.valid);
    let valid_set = training_set(&valid_chorales, false);
    let sampler = PositionSampler::new(&train_set);

    let map = VarMap::new();
    let shape = config.model.shape();
    let model = HarmonyModel::new(shape, VarBuilder::from_varmap(&map, DType::F32, device))?;
    let vars = map.data().lock().expect("a fresh var map").clone();
    seed_weights(&vars, config.training.seed)?;
    let mut adam = Adam::new(vars.clone())?;
    let checkpoint = output.join(CHECKPOINT_FILE);
    let mut progress = if resume {
        let (tensors, progress): (HashMap<String, Tensor>, Progress) =
            load_file(&checkpoint, device, PROGRESS_KEY).map_err(|e| anyhow!(e))?;
        if progress.config.model != config.model {
            bail!(
                "{}: the checkpoint's model ({:?}) differs from the configuration's ({:?})",
                checkpoint.display(),
                progress.config.model,
                config.model
            );
        }
        for (name, var) in &vars {
            let saved = tensors
                .get(name)
                .ok_or_else(|| anyhow!("{}: lacks {name}", checkpoint.display()))?;
            if saved.dims() != var.dims() {
                bail!(
                    "{}: {name} has shape {:?}, the model needs {:?}",
                    checkpoint.display(),
                    saved.dims(),
                    var.dims()
                );
            }
            var.set(saved)?;
        }
        adam.restore(&tensors, progress.adam_steps)
            .map_err(|e| anyhow!("{}: {e}", checkpoint.display()))?;
        Progress {
            config: config.clone(),
            ..progress
        }
    } else {
        Progress {
            config: config.clone(),
            step: 0,
            adam_steps: 0,
            rng: Rng::new(config.training.seed),
            loss_sum: 0.0,
            loss_count: 0,
            best: None,
            history: Vec::new(),
        }
    };

    let t = &config.training;
    let heads: Vec<&VoiceHead> = model.offline.iter().chain(&model.causal).collect();
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(t.steps)
    };
    bar.set_style(
        ProgressStyle::with_template("[{bar:30}] {pos}/{len} steps {msg} (eta {eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_position(progress.step);
    let mut since = Instant::now();
    let mut last_valid = None;
    let (mut tokens, mut meta) = (Vec::new(), Vec::new());
    while progress.step < t.steps {
        tokens.clear();
        meta.clear();
        let mut targets: Vec<Vec<u32>> = (0..VOICES)
            .map(|_| Vec::with_capacity(t.batch_size))
            .collect();
        for _ in 0..t.batch_size {
            let (piece, step) = sampler.sample(&mut progress.rng);
            let piece = &train_set[piece];
            piece.push_window(step, shape.context, &mut tokens, &mut meta);
            for (v, target) in targets.iter_mut().enumerate() {
                target.push(piece.voices[v][step]);
            }
        }
        let (tok, met) = window_tensors(&tokens, &meta, t.batch_size, shape.window(), device)?;
        let targets: Vec<Tensor> = targets
            .into_iter()
            .map(|target| Tensor::from_vec(target, t.batch_size, device))
            .collect::<candle_core::Result<_>>()?;
        let encoded = model.encode(&tok, &met, true)?;
        let mut total: Option<Tensor> = None;
        for head in &heads {
            let mask = dropout_mask(
                t.dropout,
                t.batch_size,
                shape.hidden,
                &mut progress.rng,
                device,
            )?;
            let logits = head.logits(&encoded, mask.as_ref())?;
            let (loss, _) = loss_and_hits(&logits, &targets[head.voice()])?;
            total = Some(match total {
                Some(sum) => (sum + loss)?,
                None => loss,
            });
        }
        let loss = (total.expect("seven heads") / heads.len() as f64)?;
        let value = f64::from(loss.to_scalar::<f32>()?);
        if !value.is_finite() {
            bail!(
                "the loss became {value} at step {}: lower the learning rate (the last checkpoint is kept)",
                progress.step
            );
        }
        let fraction = progress.step as f64 / t.steps as f64;
        let lr = t.learning_rate * (1.0 - 0.9 * fraction);
        adam.step(&loss.backward()?, lr, t.clip_norm)?;
        progress.step += 1;
        progress.adam_steps = adam.steps;
        progress.loss_sum += value;
        progress.loss_count += 1;
        bar.set_position(progress.step);
        bar.set_message(format!("loss {value:.3}"));

        if progress.step % t.validate_every == 0 || progress.step == t.steps {
            let seconds = since.elapsed().as_secs_f64();
            let (valid, causal) = validate(&model, &valid_set, device)?;
            let train_nll = progress.loss_sum / progress.loss_count.max(1) as f64;
            let valid_nll = valid.map(|v| v.iter().map(|s| s.nll).sum::<f64>() / 4.0);
            let valid_accuracy = valid.map(|v| v.iter().map(|s| s.accuracy).sum::<f64>() / 4.0);
            progress.history.push(EpochRecord {
                epoch: progress.history.len(),
                steps: progress.step,
                train_nll,
                valid_nll,
                valid_accuracy,
                learning_rate: lr,
                tokens_per_second: (progress.loss_count as f64 * t.batch_size as f64)
                    / seconds.max(1e-9),
            });
            progress.loss_sum = 0.0;
            progress.loss_count = 0;
            let better = match (valid_nll, progress.best) {
                (Some(now), Some(best)) => now < best,
                _ => true,
            };
            if better {
                progress.best = valid_nll;
                save_model(
                    &output,
                    &map,
                    &config,
                    command,
                    progress.step,
                    valid,
                    causal,
                )?;
                last_valid = Some((valid, causal));
            }
            let mut tensors: HashMap<String, Tensor> = vars
                .iter()
                .map(|(name, var)| (name.clone(), var.as_tensor().clone()))
                .collect();
            tensors.extend(adam.moments());
            save_file(&checkpoint, &tensors, PROGRESS_KEY, &progress)
                .with_context(|| format!("cannot write {}", checkpoint.display()))?;
            write_log(&output, &progress.history)
                .with_context(|| format!("cannot write the log in {}", output.display()))?;
            plot_losses(&output, &config.name, &progress.history).map_err(|e| anyhow!(e))?;
            if !quiet {
                let line = format!(
                    "step {}: train {train_nll:.3}, validation {} nats/step",
                    progress.step,
                    valid_nll.map_or("-".into(), |v| format!("{v:.3}"))
                );
                // A hidden bar (output not a terminal) prints nothing, so print it plainly.
                if bar.is_hidden() {
                    eprintln!("{line}");
                } else {
                    bar.println(line);
                }
            }
            since = Instant::now();
            if stop_after.is_some_and(|stop| progress.step >= stop) {
                break;
            }
        }
    }
    bar.finish_and_clear();
    let (valid, valid_causal) = match last_valid {
        Some(scores) => scores,
        None => read_card(&output).map_or((None, None), |c| (c.valid, c.valid_causal)),
    };
    Ok(HarmonySummary {
        steps: progress.step,
        valid,
        valid_causal,
        chorales: train_chorales.len(),
        examples: train_set.len(),
    })
}

/// An inverted-dropout mask (kept units scaled by 1/(1 − p)) from the trainer's generator, or
/// none when `p` is 0.
fn dropout_mask(
    p: f32,
    batch: usize,
    hidden: usize,
    rng: &mut Rng,
    device: &Device,
) -> candle_core::Result<Option<Tensor>> {
    if p <= 0.0 {
        return Ok(None);
    }
    let keep = 1.0 / (1.0 - p);
    let values: Vec<f32> = (0..batch * hidden)
        .map(|_| if rng.uniform_f32() < p { 0.0 } else { keep })
        .collect();
    Tensor::from_vec(values, (batch, hidden), device).map(Some)
}

/// Replaces candle's initial weights (its CPU generator cannot be seeded) with ones drawn from
/// `seed`, so the same configuration trains the same model: embeddings N(0, 1), matrices and
/// biases uniform in ±1/√(inputs) (PyTorch's rule; a bias counts its own length).
fn seed_weights(vars: &HashMap<String, candle_core::Var>, seed: u64) -> Result<()> {
    let mut rng = Rng::new(seed);
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    for name in names {
        let var = &vars[name];
        let dims = var.dims().to_vec();
        let count: usize = dims.iter().product();
        let values: Vec<f32> = if name.ends_with("embeddings") {
            (0..count).map(|_| rng.normal(0.0, 1.0) as f32).collect()
        } else {
            let inputs = *dims.last().unwrap_or(&1);
            let bound = 1.0 / (inputs.max(1) as f64).sqrt();
            (0..count)
                .map(|_| ((rng.uniform() * 2.0 - 1.0) * bound) as f32)
                .collect()
        };
        var.set(&Tensor::from_vec(values, dims, var.device())?)?;
    }
    Ok(())
}

type Scores = (Option<[VoiceScore; 4]>, Option<[VoiceScore; 3]>);

/// Every network's NLL and accuracy on every step of the validation chorales.
pub fn validate(model: &HarmonyModel, set: &[VoiceSteps], device: &Device) -> Result<Scores> {
    if set.is_empty() {
        return Ok((None, None));
    }
    let heads: Vec<&VoiceHead> = model.offline.iter().chain(&model.causal).collect();
    let mut sums = vec![(0.0f64, 0usize); heads.len()];
    let mut count = 0usize;
    const BATCH: usize = 512;
    let positions: Vec<(usize, usize)> = set
        .iter()
        .enumerate()
        .flat_map(|(p, piece)| (0..piece.len()).map(move |t| (p, t)))
        .collect();
    for chunk in positions.chunks(BATCH) {
        let (mut tokens, mut meta) = (Vec::new(), Vec::new());
        let mut targets: Vec<Vec<u32>> = (0..VOICES)
            .map(|_| Vec::with_capacity(chunk.len()))
            .collect();
        for &(p, t) in chunk {
            set[p].push_window(t, model.shape.context, &mut tokens, &mut meta);
            for (v, target) in targets.iter_mut().enumerate() {
                target.push(set[p].voices[v][t]);
            }
        }
        let (tok, met) = window_tensors(&tokens, &meta, chunk.len(), model.shape.window(), device)?;
        let encoded = model.encode(&tok, &met, true)?;
        for (i, head) in heads.iter().enumerate() {
            let target = Tensor::from_vec(targets[head.voice()].clone(), chunk.len(), device)?;
            let (loss, hits) = loss_and_hits(&head.logits(&encoded, None)?, &target)?;
            sums[i].0 += f64::from(loss.to_scalar::<f32>()?) * chunk.len() as f64;
            sums[i].1 += hits;
        }
        count += chunk.len();
    }
    let score = |(nll, hits): (f64, usize)| VoiceScore {
        nll: nll / count as f64,
        accuracy: hits as f64 / count as f64,
    };
    let offline = [0, 1, 2, 3].map(|i| score(sums[i]));
    let causal = [4, 5, 6].map(|i| score(sums[i]));
    Ok((Some(offline), Some(causal)))
}

fn save_model(
    output: &Path,
    map: &VarMap,
    config: &HarmonyConfig,
    command: &str,
    steps: u64,
    valid: Option<[VoiceScore; 4]>,
    valid_causal: Option<[VoiceScore; 3]>,
) -> Result<()> {
    let data = map.data().lock().expect("the var map");
    let mut named: Vec<(&String, &Tensor)> = data.iter().map(|(n, v)| (n, v.as_tensor())).collect();
    named.sort_by(|a, b| a.0.cmp(b.0));
    let bytes = safetensors::serialize(named, None)?;
    write_atomically(&output.join(WEIGHTS_FILE), &bytes)?;
    let card = HarmonyCard {
        format: 1,
        kind: KIND.into(),
        name: config.name.clone(),
        description: config.description.clone(),
        model: config.model,
        command: command.into(),
        config: config.clone(),
        steps,
        valid,
        valid_causal,
    };
    let json = serde_json::to_string_pretty(&card)?;
    write_atomically(&output.join(CARD_FILE), json.as_bytes())?;
    Ok(())
}

fn read_card(dir: &Path) -> Result<HarmonyCard> {
    let path = dir.join(CARD_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    parse_card(&text).with_context(|| path.display().to_string())
}

fn parse_card(text: &str) -> Result<HarmonyCard> {
    let card: HarmonyCard = serde_json::from_str(text).map_err(|e| {
        anyhow!(
            "not a chorale model card ({e}); chorale models are trained with a `kind = \"chorale\"` configuration"
        )
    })?;
    if card.kind != KIND {
        bail!("a {:?} model, not a chorale model", card.kind);
    }
    Ok(card)
}

/// Loads a chorale model folder: its card and its networks, every weight checked by name and
/// shape.
pub fn load_harmony_model(dir: &Path, device: &Device) -> Result<(HarmonyModel, HarmonyCard)> {
    let card = read_card(dir)?;
    let path = dir.join(WEIGHTS_FILE);
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let model =
        model_from_weights(&card, &bytes, device).with_context(|| path.display().to_string())?;
    Ok((model, card))
}

/// A chorale model from its card's JSON and its weights' bytes (the plugin compiles them in).
pub fn harmony_model_from_parts(
    card: &str,
    weights: &[u8],
    device: &Device,
) -> Result<(HarmonyModel, HarmonyCard)> {
    let card = parse_card(card)?;
    let model = model_from_weights(&card, weights, device)?;
    Ok((model, card))
}

fn model_from_weights(card: &HarmonyCard, weights: &[u8], device: &Device) -> Result<HarmonyModel> {
    let tensors = candle_core::safetensors::load_buffer(weights, device)
        .map_err(|e| anyhow!("not a safetensors file: {e}"))?;
    let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
    HarmonyModel::new(card.model.shape(), vb).map_err(|e| anyhow!("does not fit its card: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_config(output: &Path, steps: u64) -> HarmonyConfig {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/bach/valid");
        let text = format!(
            r#"
kind = "chorale"
name = "tiny"
output = "{}"
[data]
train = ["{}"]
valid = []
transpose = false
[model]
embedding = 4
metadata = 2
hidden = 16
context = 4
[training]
steps = {steps}
batch_size = 16
learning_rate = 0.01
validate_every = 5
dropout = 0.2
seed = 3
"#,
            output.display(),
            data.display()
        );
        HarmonyConfig::parse(&text, Path::new(".")).unwrap()
    }

    #[test]
    fn configuration_mistakes_are_refused() {
        let bad = "kind = \"audio\"\nname=\"x\"\noutput=\".\"\n[data]\ntrain=[]\n[model]\nembedding=1\nmetadata=1\nhidden=1\n[training]\nsteps=1\nbatch_size=1\nlearning_rate=0.1\nvalidate_every=1\n";
        let error = HarmonyConfig::parse(bad, Path::new(".")).unwrap_err();
        assert!(
            error.to_string().contains("expected \"chorale\""),
            "{error}"
        );
        let typo = bad
            .replace("audio", "chorale")
            .replace("hidden=1", "hiden=1");
        assert!(HarmonyConfig::parse(&typo, Path::new(".")).is_err());
    }

    /// A killed run resumes where its checkpoint stood and ends exactly as an uninterrupted run.
    #[test]
    fn a_resumed_run_matches_an_uninterrupted_one() {
        let dir = tempfile::tempdir().unwrap();
        let whole = dir.path().join("whole");
        let split = dir.path().join("split");
        let run = |resume, stop_after| HarmonyRun {
            resume,
            quiet: true,
            stop_after,
            ..HarmonyRun::default()
        };
        train_harmony(tiny_config(&whole, 10), &Device::Cpu, &run(false, None)).unwrap();
        train_harmony(tiny_config(&split, 10), &Device::Cpu, &run(false, Some(5))).unwrap();
        train_harmony(tiny_config(&split, 10), &Device::Cpu, &run(true, None)).unwrap();
        let (a, _) = load_harmony_model(&whole, &Device::Cpu).unwrap();
        let (b, _) = load_harmony_model(&split, &Device::Cpu).unwrap();
        assert_eq!(a.shape, b.shape);
        let (ta, pa): (HashMap<String, Tensor>, Progress) =
            load_file(&whole.join(CHECKPOINT_FILE), &Device::Cpu, PROGRESS_KEY).unwrap();
        let (tb, pb): (HashMap<String, Tensor>, Progress) =
            load_file(&split.join(CHECKPOINT_FILE), &Device::Cpu, PROGRESS_KEY).unwrap();
        assert_eq!(pa.step, 10);
        assert_eq!(pa.rng, pb.rng);
        // The log matches too, except its wall-clock speed (tokens per second).
        let losses = |p: &Progress| {
            let rows = p.history.iter();
            rows.map(|r| (r.steps, r.train_nll, r.valid_nll))
                .collect::<Vec<_>>()
        };
        assert_eq!(losses(&pa), losses(&pb));
        assert_eq!(ta.len(), tb.len());
        for (name, tensor) in &ta {
            let other = tb[name].flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(
                tensor.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                other,
                "{name}"
            );
        }
        // A checkpoint of another shape is refused with a reason.
        let mut other = tiny_config(&split, 12);
        other.model.hidden = 8;
        let error = train_harmony(other, &Device::Cpu, &run(true, None)).unwrap_err();
        assert!(
            error.to_string().contains("differs from the configuration"),
            "{error}"
        );
    }
}
