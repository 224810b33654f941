//! The audio trainer: random windows of the training audio, cut into blocks, teach the block
//! model ([`crate::audio::model`]) to predict each next block (mean squared error), with the
//! symbolic trainer's Adam, checkpoint file format and loss plot.
//!
//! An epoch is `iterations` steps of `batch_size` windows of `sequence_length + 1` blocks, drawn
//! at random sample offsets from a seeded generator kept in the checkpoint, so a killed run
//! resumed from its last checkpoint continues exactly as if it had not stopped.
//!
//! The output folder holds the model (`model.safetensors`, `model.json`, `primer.wav`),
//! `checkpoint.safetensors` (the latest), `checkpoints/epoch-NNN.safetensors` (one per epoch,
//! any of which `--resume PATH` continues from), `log.csv` and `loss.png`.

use super::adam::Adam;
use super::audio_config::AudioTrainConfig;
use super::checkpoint::{self, CHECKPOINT_FILE};
use super::report;
use super::trainer::{TrainError, device_name};
use crate::audio::blocks::Clips;
use crate::audio::decode::{find_audio_files, load_mono};
use crate::audio::model::{
    AudioCard, AudioTrainingRecord, BlockModel, block_model, mse, save_audio_model,
};
use crate::model::network::DTYPE;
use crate::rng::Rng;
use candle_core::{Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The metadata key of the audio trainer's progress inside a checkpoint file.
pub const AUDIO_PROGRESS_KEY: &str = "cantus.audio_progress";
/// The folder (inside the output) that keeps one checkpoint per finished epoch.
pub const EPOCH_CHECKPOINTS: &str = "checkpoints";
/// Validation windows scored at most, side by side in batches of [`VALID_BATCH`].
const VALID_WINDOWS: usize = 256;
const VALID_BATCH: usize = 32;
/// Training-loss points plotted per epoch (each the mean over its share of the steps).
const PLOT_POINTS_PER_EPOCH: usize = 20;
/// Openings of the training audio stored with the model as `primer.wav`.
const PRIMERS_KEPT: usize = 8;

/// Where a run starts from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Resume {
    /// A new run; refused if the output already holds one.
    #[default]
    No,
    /// The output folder's latest `checkpoint.safetensors`.
    Latest,
    /// Any checkpoint file of an audio run (e.g. `checkpoints/epoch-003.safetensors`).
    From(PathBuf),
}

/// Options from the command line rather than the configuration.
#[derive(Debug, Clone, Default)]
pub struct AudioRunOptions {
    pub resume: Resume,
    /// The command line, recorded in the model card.
    pub command: String,
    /// No line per epoch and no warnings on stderr (the progress bar shows only on a terminal).
    pub quiet: bool,
}

/// What a finished (or step-limited) run reports.
#[derive(Debug, Clone)]
pub struct AudioRunSummary {
    pub epochs: usize,
    pub steps: u64,
    /// The last finished epoch's mean training loss.
    pub train_mse: Option<f64>,
    pub best_valid_mse: Option<f64>,
    pub finished: bool,
    /// Files left out of the data, each with the reason.
    pub skipped: Vec<String>,
}

/// One finished epoch, as logged to `log.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioEpochRecord {
    pub epoch: usize,
    pub steps: u64,
    pub train_mse: f64,
    pub valid_mse: Option<f64>,
    pub learning_rate: f64,
    pub blocks_per_second: f64,
}

/// Where training stands; everything needed to continue exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioProgress {
    /// The configuration the run was last started with.
    pub config: AudioTrainConfig,
    /// Current epoch, from 0.
    pub epoch: usize,
    /// Next step of the epoch.
    pub iteration: usize,
    pub global_step: u64,
    pub adam_steps: u64,
    pub learning_rate: f64,
    /// Draws the training windows.
    pub windows_rng: Rng,
    pub epoch_loss_sum: f64,
    pub epoch_loss_count: u64,
    /// Plotted training loss: (step, mean loss of the steps since the previous point).
    pub curve: Vec<(u64, f64)>,
    pub curve_sum: f64,
    pub curve_count: u64,
    pub history: Vec<AudioEpochRecord>,
    pub best_valid_mse: Option<f64>,
    pub finished: bool,
}

/// The decoded data: training clips, fixed validation windows, and what was left out.
struct AudioData {
    train: Clips,
    valid: Vec<Vec<f32>>,
    skipped: Vec<String>,
}

/// Trains (or continues training) the model `config` describes.
pub fn train_audio(
    config: AudioTrainConfig,
    device: Device,
    options: AudioRunOptions,
) -> Result<AudioRunSummary, TrainError> {
    let setup = TrainError::Setup;
    let latest = config.output.join(CHECKPOINT_FILE);
    let resume_from = match &options.resume {
        Resume::No if latest.exists() => {
            return Err(setup(format!(
                "{} already holds a training run: pass --resume to continue it (or --resume \
                 CHECKPOINT for an earlier one), or choose another output",
                config.output.display()
            )));
        }
        Resume::No => None,
        Resume::Latest if !latest.exists() => {
            return Err(setup(format!(
                "nothing to resume: no {CHECKPOINT_FILE} in {}",
                config.output.display()
            )));
        }
        Resume::Latest => Some(latest),
        Resume::From(path) => Some(path.clone()),
    };
    let data = load_data(&config)?;
    if !options.quiet {
        for why in &data.skipped {
            eprintln!("warning: left out {why}");
        }
    }
    std::fs::create_dir_all(&config.output)
        .map_err(|e| setup(format!("{}: {e}", config.output.display())))?;
    let mut run = AudioRun::start(config, data, device, options)?;
    if let Some(path) = resume_from {
        run.restore(&path)?;
    }
    run.train()
}

/// Decodes every file of `data.train` and `data.valid` at the configured rate. Unreadable or
/// too short files are left out with the reason; a path that does not exist, or no usable
/// training audio at all, is an error.
fn load_data(config: &AudioTrainConfig) -> Result<AudioData, TrainError> {
    let d = &config.data;
    let window = (config.training.sequence_length + 1) * d.block_size;
    let mut skipped = Vec::new();
    let mut read = |paths: &[PathBuf], field: &str| -> Result<Vec<Vec<f32>>, TrainError> {
        let mut clips = Vec::new();
        for root in paths {
            if !root.exists() {
                return Err(TrainError::Setup(format!(
                    "data.{field}: {} does not exist",
                    root.display()
                )));
            }
            for found in find_audio_files(root) {
                match found.and_then(|path| Ok((load_mono(&path, d.sample_rate)?, path))) {
                    Ok((samples, _)) if samples.len() >= window => clips.push(samples),
                    Ok((samples, path)) => skipped.push(format!(
                        "{}: {:.3} s, shorter than one training window ({} blocks of {} \
                         samples = {:.3} s)",
                        path.display(),
                        samples.len() as f64 / f64::from(d.sample_rate),
                        config.training.sequence_length + 1,
                        d.block_size,
                        window as f64 / f64::from(d.sample_rate)
                    )),
                    Err(error) => skipped.push(error.to_string()),
                }
            }
        }
        Ok(clips)
    };
    let train = read(&d.train, "train")?;
    let valid = read(&d.valid, "valid")?;
    let (train, _) = Clips::new(train, window);
    if train.is_empty() {
        let why = if skipped.is_empty() {
            "no .wav, .mp3, .flac or .ogg file found".to_string()
        } else {
            skipped.join("; ")
        };
        return Err(TrainError::Setup(format!(
            "no usable training audio in data.train: {why}"
        )));
    }
    let (valid, _) = Clips::new(valid, window);
    Ok(AudioData {
        train,
        valid: valid.fixed_windows(window, VALID_WINDOWS),
        skipped,
    })
}

struct AudioRun {
    config: AudioTrainConfig,
    data: AudioData,
    device: Device,
    varmap: VarMap,
    model: BlockModel,
    adam: Adam,
    progress: AudioProgress,
    options: AudioRunOptions,
    last_checkpoint_step: Option<u64>,
}

impl AudioRun {
    fn start(
        config: AudioTrainConfig,
        data: AudioData,
        device: Device,
        options: AudioRunOptions,
    ) -> Result<AudioRun, TrainError> {
        let model_config = config.model_config();
        model_config.validate().map_err(TrainError::Setup)?;
        let varmap = VarMap::new();
        {
            let mut vars = varmap
                .data()
                .lock()
                .expect("no other thread holds the varmap");
            for (name, tensor) in model_config.initial_weights(config.training.seed, &device)? {
                vars.insert(name, Var::from_tensor(&tensor)?);
            }
        }
        let model = block_model(
            model_config,
            VarBuilder::from_varmap(&varmap, DTYPE, &device),
        )?;
        let adam = Adam::new(varmap.data().lock().expect("unshared").clone())?;
        let progress = AudioProgress {
            config: config.clone(),
            epoch: 0,
            iteration: 0,
            global_step: 0,
            adam_steps: 0,
            learning_rate: config.training.learning_rate,
            windows_rng: Rng::new(config.training.seed ^ 0xA0D1_0B10_C4B5_0001),
            epoch_loss_sum: 0.0,
            epoch_loss_count: 0,
            curve: Vec::new(),
            curve_sum: 0.0,
            curve_count: 0,
            history: Vec::new(),
            best_valid_mse: None,
            finished: false,
        };
        Ok(AudioRun {
            config,
            data,
            device,
            varmap,
            model,
            adam,
            progress,
            options,
            last_checkpoint_step: None,
        })
    }

    /// Loads a checkpoint file into weights, moments and progress, after checking that it is an
    /// audio checkpoint whose every tensor fits this configuration's model.
    fn restore(&mut self, path: &Path) -> Result<(), TrainError> {
        let setup = TrainError::Setup;
        let (tensors, progress): (HashMap<String, Tensor>, AudioProgress) =
            match checkpoint::load_file(path, &self.device, AUDIO_PROGRESS_KEY) {
                Ok(loaded) => loaded,
                Err(error) => {
                    let symbolic = checkpoint::load_file::<serde_json::Value>(
                        path,
                        &self.device,
                        checkpoint::PROGRESS_KEY,
                    );
                    return Err(setup(if symbolic.is_ok() {
                        format!(
                            "{}: a checkpoint of a symbolic (MIDI/ABC) run, not of an audio run",
                            path.display()
                        )
                    } else {
                        error
                    }));
                }
            };
        let vars = self.varmap.data().lock().expect("unshared").clone();
        let mut vars: Vec<(String, Var)> = vars.into_iter().collect();
        // By name, so the first mismatch reported is always the same one.
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, var) in &vars {
            let saved = tensors.get(name).ok_or_else(|| {
                setup(format!(
                    "{}: lacks weight {name} (made for another model.cell or model.layers?)",
                    path.display()
                ))
            })?;
            if saved.dims() != var.dims() {
                return Err(setup(format!(
                    "{}: weight {name} has shape {:?}, this configuration's model needs {:?} \
                     (the checkpoint was made with another model.cell, model.hidden or \
                     data.block_size)",
                    path.display(),
                    saved.dims(),
                    var.dims()
                )));
            }
            var.set(saved)?;
        }
        let saved_rate = progress.config.data.sample_rate;
        if saved_rate != self.config.data.sample_rate {
            return Err(setup(format!(
                "{}: made at data.sample_rate = {saved_rate}, this configuration has {}",
                path.display(),
                self.config.data.sample_rate
            )));
        }
        self.adam
            .restore(&tensors, progress.adam_steps)
            .map_err(|e| setup(format!("{}: {e}", path.display())))?;
        self.last_checkpoint_step = Some(progress.global_step);
        self.progress = AudioProgress {
            config: self.config.clone(),
            finished: false,
            ..progress
        };
        if !self.options.quiet {
            println!(
                "resuming from {} (epoch {}, step {})",
                path.display(),
                self.progress.epoch + 1,
                self.progress.global_step
            );
        }
        Ok(())
    }

    fn train(&mut self) -> Result<AudioRunSummary, TrainError> {
        let t = self.config.training.clone();
        let window = (t.sequence_length + 1) * self.config.data.block_size;
        let plot_every = (t.iterations / PLOT_POINTS_PER_EPOCH).max(1) as u64;
        while self.progress.epoch < t.epochs {
            let bar = self.progress_bar();
            let started = Instant::now();
            let mut blocks_this_run = 0usize;
            while self.progress.iteration < t.iterations {
                let windows = self.data.train.random_windows(
                    &mut self.progress.windows_rng,
                    t.batch_size,
                    window,
                );
                let loss = self.train_step(windows)?;
                blocks_this_run += t.batch_size * t.sequence_length;
                let p = &mut self.progress;
                p.iteration += 1;
                p.global_step += 1;
                p.epoch_loss_sum += f64::from(loss);
                p.epoch_loss_count += 1;
                p.curve_sum += f64::from(loss);
                p.curve_count += 1;
                if p.curve_count >= plot_every {
                    p.curve
                        .push((p.global_step, p.curve_sum / p.curve_count as f64));
                    p.curve_sum = 0.0;
                    p.curve_count = 0;
                }
                let rate = blocks_this_run as f64 / started.elapsed().as_secs_f64().max(1e-9);
                bar.set_position(p.iteration as u64);
                bar.set_message(format!("MSE {loss:.5}, {rate:.0} blocks/s"));
                if p.global_step.is_multiple_of(t.checkpoint_every) {
                    self.save_checkpoint()?;
                }
                if t.max_steps > 0 && self.progress.global_step >= t.max_steps {
                    bar.abandon();
                    self.save_checkpoint()?;
                    return Ok(self.summary());
                }
            }
            bar.finish_and_clear();
            let blocks_per_second =
                blocks_this_run as f64 / started.elapsed().as_secs_f64().max(1e-9);
            self.end_epoch(blocks_per_second)?;
        }
        self.progress.finished = true;
        self.save_checkpoint()?;
        Ok(self.summary())
    }

    fn summary(&self) -> AudioRunSummary {
        AudioRunSummary {
            epochs: self.progress.history.len(),
            steps: self.progress.global_step,
            train_mse: self.progress.history.last().map(|r| r.train_mse),
            best_valid_mse: self.progress.best_valid_mse,
            finished: self.progress.finished,
            skipped: self.data.skipped.clone(),
        }
    }

    fn progress_bar(&self) -> ProgressBar {
        let bar = ProgressBar::new(self.config.training.iterations as u64);
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} (eta {eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!(
            "{}/{}",
            self.progress.epoch + 1,
            self.config.training.epochs
        ));
        bar.set_position(self.progress.iteration as u64);
        bar
    }

    /// Splits windows (batch × (T + 1)·N samples, one after another) into T + 1 block tensors.
    fn blocks(&self, windows: Vec<f32>, batch: usize) -> Result<Vec<Tensor>, TrainError> {
        let block = self.config.data.block_size;
        let steps = windows.len() / (batch * block);
        let all = Tensor::from_vec(windows, (batch, steps, block), &self.device)?;
        Ok((0..steps)
            .map(|t| all.narrow(1, t, 1)?.squeeze(1))
            .collect::<candle_core::Result<Vec<_>>>()?)
    }

    /// Predictions of blocks 1..=T from blocks 0..T (`noisy_inputs` if given, else the clean
    /// ones), and the loss against the real blocks.
    fn loss(
        &self,
        windows: Vec<f32>,
        noisy_inputs: Option<Vec<f32>>,
        batch: usize,
    ) -> Result<Tensor, TrainError> {
        let blocks = self.blocks(windows, batch)?;
        let steps = blocks.len() - 1;
        let inputs = match noisy_inputs {
            Some(noisy) => self.blocks(noisy, batch)?,
            None => blocks.clone(),
        };
        let state = self.model.zero_state(batch)?;
        let (predictions, _) = self.model.forward_blocks(&inputs[..steps], &state)?;
        let targets = Tensor::stack(&blocks[1..], 1)?;
        Ok(mse(&predictions, &targets)?)
    }

    /// One batch: forward, loss, backward, clipped Adam update; returns the loss.
    fn train_step(&mut self, windows: Vec<f32>) -> Result<f32, TrainError> {
        let sigma = self.config.training.input_noise;
        let noisy = (sigma > 0.0).then(|| {
            let rng = &mut self.progress.windows_rng;
            windows
                .iter()
                .map(|&s| s + rng.normal(0.0, sigma) as f32)
                .collect()
        });
        let loss = self.loss(windows, noisy, self.config.training.batch_size)?;
        let value = loss.to_scalar::<f32>()?;
        if !value.is_finite() {
            return Err(TrainError::NotFinite {
                value,
                step: self.progress.global_step + 1,
                epoch: self.progress.epoch + 1,
                kept: self.what_is_kept(),
            });
        }
        let grads = loss.backward()?;
        self.adam.step(
            &grads,
            self.progress.learning_rate,
            self.config.training.clip_norm,
        )?;
        Ok(value)
    }

    /// Mean squared error over the fixed validation windows.
    fn validate(&self) -> Result<Option<f64>, TrainError> {
        if self.data.valid.is_empty() {
            return Ok(None);
        }
        let mut sum = 0.0;
        for group in self.data.valid.chunks(VALID_BATCH) {
            let loss = self.loss(group.concat(), None, group.len())?.detach();
            sum += f64::from(loss.to_scalar::<f32>()?) * group.len() as f64;
        }
        Ok(Some(sum / self.data.valid.len() as f64))
    }

    /// Validation, the model kept (the best by validation, else the latest), logs, the plot,
    /// the learning-rate schedule and the checkpoints.
    fn end_epoch(&mut self, blocks_per_second: f64) -> Result<(), TrainError> {
        let p = &self.progress;
        let train_mse = p.epoch_loss_sum / p.epoch_loss_count.max(1) as f64;
        let valid_mse = self.validate()?;
        let improved = match (valid_mse, p.best_valid_mse) {
            (Some(v), Some(best)) => v < best,
            _ => true,
        };
        self.progress.history.push(AudioEpochRecord {
            epoch: p.epoch,
            steps: p.global_step,
            train_mse,
            valid_mse,
            learning_rate: p.learning_rate,
            blocks_per_second,
        });
        if improved {
            self.progress.best_valid_mse = valid_mse;
            self.save_model(train_mse, valid_mse)?;
        }
        if !self.options.quiet {
            let valid = valid_mse.map_or(String::new(), |v| format!(", valid MSE {v:.6}"));
            println!(
                "epoch {}/{}: train MSE {train_mse:.6}{valid}, {blocks_per_second:.0} blocks/s{}",
                self.progress.epoch + 1,
                self.config.training.epochs,
                if improved { ", saved" } else { "" }
            );
        }
        let finished_epoch = self.progress.epoch;
        self.progress.epoch += 1;
        self.progress.iteration = 0;
        self.progress.epoch_loss_sum = 0.0;
        self.progress.epoch_loss_count = 0;
        self.progress.learning_rate *= self.config.training.lr_decay;
        self.write_reports()?;
        self.save_checkpoint()?;
        let folder = self.config.output.join(EPOCH_CHECKPOINTS);
        std::fs::create_dir_all(&folder)
            .map_err(|e| TrainError::Setup(format!("{}: {e}", folder.display())))?;
        let path = folder.join(format!("epoch-{:03}.safetensors", finished_epoch + 1));
        checkpoint::save_file(
            &path,
            &self.checkpoint_tensors(),
            AUDIO_PROGRESS_KEY,
            &self.progress,
        )?;
        Ok(())
    }

    /// `log.csv` from the whole history (a resumed run never duplicates rows) and `loss.png`.
    fn write_reports(&self) -> Result<(), TrainError> {
        let output = &self.config.output;
        let mut csv =
            String::from("epoch,steps,train_mse,valid_mse,learning_rate,blocks_per_second\n");
        for r in &self.progress.history {
            csv.push_str(&format!(
                "{},{},{:.8},{},{:.6e},{:.1}\n",
                r.epoch + 1,
                r.steps,
                r.train_mse,
                r.valid_mse.map_or(String::new(), |v| format!("{v:.8}")),
                r.learning_rate,
                r.blocks_per_second
            ));
        }
        let log = output.join(report::LOG_FILE);
        std::fs::write(&log, csv)
            .map_err(|e| TrainError::Setup(format!("{}: {e}", log.display())))?;
        let train: Vec<(f64, f64)> = self
            .progress
            .curve
            .iter()
            .map(|&(step, loss)| (step as f64, loss))
            .collect();
        let valid: Vec<(f64, f64)> = self
            .progress
            .history
            .iter()
            .filter_map(|r| Some((r.steps as f64, r.valid_mse?)))
            .collect();
        let last = self.progress.global_step.max(2) as f64;
        let plotted = report::plot_curves(
            &output.join(report::PLOT_FILE),
            &format!("{}: mean squared error", self.config.name),
            ("step", "MSE per sample (log scale)"),
            0.0..last,
            true,
            &[("train", &train), ("validation", &valid)],
        );
        if let Err(error) = plotted
            && !self.options.quiet
        {
            eprintln!("warning: no loss plot: {error}");
        }
        Ok(())
    }

    fn what_is_kept(&self) -> String {
        match self.last_checkpoint_step {
            Some(step) => format!("The last good checkpoint (step {step}) is kept"),
            None => "No checkpoint had been written yet".to_string(),
        }
    }

    fn weights(&self) -> HashMap<String, Tensor> {
        self.varmap
            .data()
            .lock()
            .expect("unshared")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().detach()))
            .collect()
    }

    fn checkpoint_tensors(&self) -> HashMap<String, Tensor> {
        let mut tensors = self.weights();
        tensors.extend(self.adam.moments());
        tensors
    }

    fn save_checkpoint(&mut self) -> Result<(), TrainError> {
        // Never write broken weights over a good checkpoint.
        for (name, tensor) in self.weights() {
            let total = tensor.abs()?.sum_all()?.to_scalar::<f32>()?;
            if !total.is_finite() {
                return Err(TrainError::Overflow {
                    name,
                    step: self.progress.global_step,
                    kept: self.what_is_kept(),
                });
            }
        }
        self.progress.adam_steps = self.adam.steps;
        let path = self.config.output.join(CHECKPOINT_FILE);
        checkpoint::save_file(
            &path,
            &self.checkpoint_tensors(),
            AUDIO_PROGRESS_KEY,
            &self.progress,
        )?;
        self.last_checkpoint_step = Some(self.progress.global_step);
        Ok(())
    }

    fn save_model(&self, train_mse: f64, valid_mse: Option<f64>) -> Result<(), TrainError> {
        let c = &self.config;
        let t = &c.training;
        let paths = |paths: &[PathBuf]| paths.iter().map(|p| p.display().to_string()).collect();
        let mut card = AudioCard::new(c.name.clone(), c.model_config(), t.sequence_length);
        card.description = c.description.clone();
        card.training = Some(AudioTrainingRecord {
            command: self.options.command.clone(),
            data: paths(&c.data_as_written.0),
            valid_data: paths(&c.data_as_written.1),
            epochs: self.progress.epoch + 1,
            iterations: t.iterations,
            batch_size: t.batch_size,
            steps: self.progress.global_step,
            train_seconds: self.data.train.total_samples() as f64 / f64::from(c.data.sample_rate),
            train_mse,
            valid_mse,
            device: device_name(&self.device),
            seed: t.seed,
        });
        let primer_samples = 2 * t.sequence_length * c.data.block_size;
        let primers = self.data.train.excerpts(primer_samples, PRIMERS_KEPT);
        save_audio_model(&c.output, &card, &self.weights(), &primers)?;
        Ok(())
    }
}
