//! The training loop: truncated BPTT with Adam, validation after every epoch, early stopping,
//! the best model kept, and a checkpoint that lets a killed run continue exactly.

use super::adam::Adam;
use super::batches::Batches;
use super::checkpoint::{self, EpochRecord, Progress};
use super::config::TrainConfig;
use super::data::{Corpus, epoch_pieces, load_corpus};
use super::report;
use crate::eval::{EvalResult, evaluate};
use crate::model::folder::save_model;
use crate::model::network::{DTYPE, initial_weights, network, sequence_nll};
use crate::model::{ModelCard, Network, NetworkConfig, NetworkState, TrainingRecord};
use crate::rng::Rng;
use candle_core::{Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::time::Instant;

/// Pieces scored side by side in validation.
const EVAL_BATCH: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{0}")]
    Setup(String),
    #[error(
        "the loss became {value} at step {step} (epoch {epoch}); stopped. {kept}: lower the \
         learning rate or set clip_norm, then --resume"
    )]
    NotFinite {
        value: f32,
        step: u64,
        epoch: usize,
        /// What is left to resume from.
        kept: String,
    },
    #[error(
        "weight {name} overflowed at step {step}; stopped. {kept}: lower the learning rate or set \
         clip_norm, then --resume"
    )]
    Overflow {
        name: String,
        step: u64,
        kept: String,
    },
    #[error("saving failed, the previous files are intact: {0}")]
    Save(#[from] crate::model::ModelError),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Options from the command line rather than the configuration.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub resume: bool,
    /// The command line, recorded in the model card.
    pub command: String,
    /// Print a line per epoch (the progress bar shows only on a terminal).
    pub quiet: bool,
}

/// What a finished (or step-limited) run reports.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub epochs: usize,
    pub steps: u64,
    pub best_valid: Option<EvalResult>,
    pub finished: bool,
}

struct Run {
    config: TrainConfig,
    corpus: Corpus,
    device: Device,
    varmap: VarMap,
    network: Network,
    adam: Adam,
    progress: Progress,
    carried: NetworkState,
    options: RunOptions,
    last_checkpoint_step: u64,
}

pub fn train(
    config: TrainConfig,
    device: Device,
    options: RunOptions,
) -> Result<RunSummary, TrainError> {
    let setup = TrainError::Setup;
    let corpus = load_corpus(&config.data).map_err(|e| setup(e.to_string()))?;
    let checkpoint_exists = checkpoint::checkpoint_path(&config.output).exists();
    if checkpoint_exists && !options.resume {
        return Err(setup(format!(
            "{} already holds a training run: pass --resume to continue it, or choose another \
             output",
            config.output.display()
        )));
    }
    if options.resume && !checkpoint_exists {
        return Err(setup(format!(
            "nothing to resume: no {} in {}",
            checkpoint::CHECKPOINT_FILE,
            config.output.display()
        )));
    }
    std::fs::create_dir_all(&config.output)
        .map_err(|e| setup(format!("{}: {e}", config.output.display())))?;
    let mut run = Run::start(config, corpus, device, options)?;
    run.train()
}

/// Training throughput in tokens per second: `steps` training steps on the configuration's data
/// (after two warm-up steps), nothing written to disk. For benchmarks.
pub fn measure_throughput(
    config: TrainConfig,
    device: Device,
    steps: usize,
) -> Result<f64, TrainError> {
    let corpus = load_corpus(&config.data).map_err(|e| TrainError::Setup(e.to_string()))?;
    let mut run = Run::start(config, corpus, device, RunOptions::default())?;
    let t = run.config.training.clone();
    let mut shuffle = Rng::new(t.seed);
    let pieces = epoch_pieces(&run.corpus.train, run.config.data.augment, &mut shuffle);
    let batches =
        Batches::new(&pieces, t.batch_size, t.sequence_length).map_err(TrainError::Setup)?;
    let mut started = Instant::now();
    let mut tokens = 0;
    for i in 0..steps + 2 {
        if i == 2 {
            started = Instant::now();
            tokens = 0;
        }
        let chunk = batches.chunk(i % batches.len());
        tokens += chunk.inputs.len();
        run.train_step(chunk.inputs, chunk.targets, chunk.len)?;
    }
    Ok(tokens as f64 / started.elapsed().as_secs_f64())
}

impl Run {
    fn start(
        config: TrainConfig,
        corpus: Corpus,
        device: Device,
        options: RunOptions,
    ) -> Result<Run, TrainError> {
        let network_config = NetworkConfig {
            cell: config.model.cell,
            layers: config.model.layers,
            embedding: config.model.embedding,
            hidden: config.model.hidden,
            vocab_size: corpus.encoding.vocab_size(),
            dropout: config.model.dropout,
        };
        network_config.validate().map_err(TrainError::Setup)?;
        let varmap = VarMap::new();
        let mut init_rng = Rng::new(config.training.seed);
        {
            let mut vars = varmap
                .data()
                .lock()
                .expect("no other thread holds the varmap");
            for (name, tensor) in initial_weights(&network_config, &mut init_rng, &device)? {
                vars.insert(name, Var::from_tensor(&tensor)?);
            }
        }
        let network = network(
            network_config,
            VarBuilder::from_varmap(&varmap, DTYPE, &device),
        )?;
        let adam = Adam::new(varmap.data().lock().expect("unshared").clone())?;
        let carried = network.zero_state(config.training.batch_size)?;
        let progress = Progress {
            config: config.clone(),
            encoding: corpus.encoding.clone(),
            epoch: 0,
            chunk: 0,
            global_step: 0,
            adam_steps: 0,
            learning_rate: config.training.learning_rate,
            dropout_rng: Rng::new(config.training.seed ^ 0xD20F_0D20),
            epoch_loss_sum: 0.0,
            epoch_loss_count: 0,
            best_valid_nll: None,
            epochs_since_best: 0,
            history: Vec::new(),
            finished: false,
        };
        let mut run = Run {
            config,
            corpus,
            device,
            varmap,
            network,
            adam,
            progress,
            carried,
            options,
            last_checkpoint_step: 0,
        };
        if run.options.resume {
            run.restore()?;
        }
        Ok(run)
    }

    /// Loads the checkpoint into weights, moments, carried state and progress.
    fn restore(&mut self) -> Result<(), TrainError> {
        let (tensors, progress) =
            checkpoint::load(&self.config.output, &self.device).map_err(TrainError::Setup)?;
        let same_run = progress.config.model == self.config.model
            && progress.config.data == self.config.data
            && progress.config.training.seed == self.config.training.seed
            && progress.config.training.batch_size == self.config.training.batch_size
            && progress.config.training.sequence_length == self.config.training.sequence_length
            && progress.encoding == self.corpus.encoding;
        if !same_run {
            return Err(TrainError::Setup(
                "the checkpoint was made with another model, data or batch configuration; \
                 only epochs, patience, schedule and max_steps may change on --resume"
                    .into(),
            ));
        }
        for (name, var) in self.varmap.data().lock().expect("unshared").iter() {
            let saved = tensors
                .get(name)
                .ok_or_else(|| TrainError::Setup(format!("checkpoint lacks weight {name}")))?;
            if saved.dims() != var.dims() {
                return Err(TrainError::Setup(format!(
                    "checkpoint weight {name} has shape {:?}, the model needs {:?}",
                    saved.dims(),
                    var.dims()
                )));
            }
            var.set(saved)?;
        }
        self.adam
            .restore(&tensors, progress.adam_steps)
            .map_err(TrainError::Setup)?;
        for (k, layer) in self.carried.layers.iter_mut().enumerate() {
            let h = tensors.get(&format!("carried.l{k}.h"));
            let c = tensors.get(&format!("carried.l{k}.c"));
            let shape_ok = h.is_some_and(|h| h.dims() == layer.h.dims());
            if !shape_ok || layer.c.is_some() != c.is_some() {
                return Err(TrainError::Setup(format!(
                    "checkpoint lacks carried state of layer {k}"
                )));
            }
            layer.h = h.expect("checked").clone();
            layer.c = c.cloned();
        }
        self.last_checkpoint_step = progress.global_step;
        self.progress = Progress {
            config: self.config.clone(),
            ..progress
        };
        Ok(())
    }

    fn what_is_kept(&self) -> String {
        if checkpoint::checkpoint_path(&self.config.output).exists() {
            format!(
                "The last good checkpoint (step {}) is kept",
                self.last_checkpoint_step
            )
        } else {
            "No checkpoint had been written yet".to_string()
        }
    }

    fn save_checkpoint(&mut self) -> Result<(), TrainError> {
        // A checkpoint is only worth keeping if it can be resumed: never write broken weights
        // over a good one.
        for (name, var) in self.varmap.data().lock().expect("unshared").iter() {
            let total = var.as_tensor().abs()?.sum_all()?.to_scalar::<f32>()?;
            if !total.is_finite() {
                return Err(TrainError::Overflow {
                    name: name.clone(),
                    step: self.progress.global_step,
                    kept: self.what_is_kept(),
                });
            }
        }
        let mut tensors: HashMap<String, Tensor> = self
            .varmap
            .data()
            .lock()
            .expect("unshared")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect();
        tensors.extend(self.adam.moments());
        for (k, layer) in self.carried.layers.iter().enumerate() {
            tensors.insert(format!("carried.l{k}.h"), layer.h.clone());
            if let Some(c) = &layer.c {
                tensors.insert(format!("carried.l{k}.c"), c.clone());
            }
        }
        self.progress.adam_steps = self.adam.steps;
        checkpoint::save(&self.config.output, &tensors, &self.progress)?;
        self.last_checkpoint_step = self.progress.global_step;
        Ok(())
    }

    fn train(&mut self) -> Result<RunSummary, TrainError> {
        let t = self.config.training.clone();
        let mut best_valid = None;
        while !self.progress.finished && self.progress.epoch < t.epochs {
            let epoch = self.progress.epoch;
            let mut shuffle =
                Rng::new(t.seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let pieces = epoch_pieces(&self.corpus.train, self.config.data.augment, &mut shuffle);
            let batches = Batches::new(&pieces, t.batch_size, t.sequence_length)
                .map_err(TrainError::Setup)?;
            let bar = self.progress_bar(&batches, epoch);
            let started = Instant::now();
            let mut tokens_this_run = 0usize;
            while self.progress.chunk < batches.len() {
                let chunk = batches.chunk(self.progress.chunk);
                tokens_this_run += chunk.inputs.len();
                let loss = self.train_step(chunk.inputs, chunk.targets, chunk.len)?;
                self.progress.chunk += 1;
                self.progress.global_step += 1;
                self.progress.epoch_loss_sum += f64::from(loss);
                self.progress.epoch_loss_count += 1;
                let rate = tokens_this_run as f64 / started.elapsed().as_secs_f64().max(1e-9);
                bar.set_position(self.progress.chunk as u64);
                bar.set_message(format!("loss {loss:.3}, {:.0} tokens/s", rate));
                if self.progress.global_step.is_multiple_of(t.checkpoint_every) {
                    self.save_checkpoint()?;
                }
                if t.max_steps > 0 && self.progress.global_step >= t.max_steps {
                    bar.abandon();
                    self.save_checkpoint()?;
                    return Ok(self.summary(best_valid));
                }
            }
            bar.finish_and_clear();
            let tokens_per_second =
                tokens_this_run as f64 / started.elapsed().as_secs_f64().max(1e-9);
            best_valid = self.end_epoch(tokens_per_second)?.or(best_valid);
        }
        self.progress.finished = true;
        self.save_checkpoint()?;
        Ok(self.summary(best_valid))
    }

    fn summary(&self, best_valid: Option<EvalResult>) -> RunSummary {
        RunSummary {
            epochs: self.progress.history.len(),
            steps: self.progress.global_step,
            best_valid,
            finished: self.progress.finished,
        }
    }

    fn progress_bar(&self, batches: &Batches, epoch: usize) -> ProgressBar {
        let bar = ProgressBar::new(batches.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} (eta {eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{}/{}", epoch + 1, self.config.training.epochs));
        bar.set_position(self.progress.chunk as u64);
        bar
    }

    /// One chunk: forward, loss, backward, clipped Adam update; returns the loss.
    fn train_step(
        &mut self,
        inputs: Vec<u32>,
        targets: Vec<u32>,
        len: usize,
    ) -> Result<f32, TrainError> {
        let shape = (self.config.training.batch_size, len);
        let inputs = Tensor::from_vec(inputs, shape, &self.device)?;
        let targets = Tensor::from_vec(targets, shape, &self.device)?;
        let (logits, next) =
            self.network
                .forward(&inputs, &self.carried, Some(&mut self.progress.dropout_rng))?;
        let loss = sequence_nll(&logits, &targets)?;
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
        self.carried = next.detach();
        Ok(value)
    }

    /// Validation, the best model, early stopping, the learning-rate schedule, logs, checkpoint.
    fn end_epoch(&mut self, tokens_per_second: f64) -> Result<Option<EvalResult>, TrainError> {
        let t = &self.config.training;
        let train_nll = self.progress.epoch_loss_sum / self.progress.epoch_loss_count.max(1) as f64;
        let valid = if self.corpus.valid.is_empty() {
            None
        } else {
            Some(evaluate(
                &self.frozen_network()?,
                &self.corpus.valid,
                EVAL_BATCH,
            )?)
        };
        let record = EpochRecord {
            epoch: self.progress.epoch,
            steps: self.progress.global_step,
            train_nll,
            valid_nll: valid.map(|v| v.nll),
            valid_accuracy: valid.map(|v| v.accuracy),
            learning_rate: self.progress.learning_rate,
            tokens_per_second,
        };
        // Without validation data, the latest model is the best one.
        let score = valid.map_or(f64::NEG_INFINITY, |v| v.nll);
        let improved = self.progress.best_valid_nll.is_none_or(|best| score < best);
        self.progress.history.push(record.clone());
        if improved {
            self.progress.best_valid_nll = Some(score).filter(|s| s.is_finite());
            self.progress.epochs_since_best = 0;
            self.save_model(valid, tokens_per_second)?;
        } else {
            self.progress.epochs_since_best += 1;
        }
        if !self.options.quiet {
            let v = valid.map_or(String::new(), |v| {
                format!(
                    ", valid NLL {:.4} (accuracy {:.1}%)",
                    v.nll,
                    100.0 * v.accuracy
                )
            });
            println!(
                "epoch {}/{}: train NLL {train_nll:.4}{v}, {tokens_per_second:.0} tokens/s{}",
                self.progress.epoch + 1,
                t.epochs,
                if improved { ", saved" } else { "" }
            );
        }
        self.progress.epoch += 1;
        self.progress.chunk = 0;
        self.progress.epoch_loss_sum = 0.0;
        self.progress.epoch_loss_count = 0;
        self.progress.learning_rate *= t.lr_decay;
        self.carried = self.network.zero_state(t.batch_size)?;
        if t.patience > 0 && self.progress.epochs_since_best >= t.patience {
            if !self.options.quiet {
                println!(
                    "no better validation NLL for {} epochs: stopping early",
                    t.patience
                );
            }
            self.progress.finished = true;
        }
        let output = &self.config.output;
        report::write_log(output, &self.progress.history)
            .map_err(|e| TrainError::Setup(format!("{}: {e}", output.display())))?;
        if let Err(error) = report::plot_losses(output, &self.config.name, &self.progress.history) {
            eprintln!("warning: no loss plot: {error}");
        }
        self.save_checkpoint()?;
        Ok(valid.filter(|_| improved))
    }

    /// The network on plain tensors (no gradient tracking), for validation.
    fn frozen_network(&self) -> Result<Network, TrainError> {
        Ok(network(
            self.network.config,
            VarBuilder::from_tensors(self.weights(), DTYPE, &self.device),
        )?)
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

    fn save_model(
        &self,
        valid: Option<EvalResult>,
        tokens_per_second: f64,
    ) -> Result<(), TrainError> {
        let c = &self.config;
        let folders =
            |paths: &[std::path::PathBuf]| paths.iter().map(|p| p.display().to_string()).collect();
        let mut card = ModelCard::new(
            c.name.clone(),
            self.network.config,
            self.corpus.encoding.clone(),
        );
        card.description = c.description.clone();
        card.training = Some(TrainingRecord {
            command: self.options.command.clone(),
            data: folders(&c.data_as_written.0),
            valid_data: folders(&c.data_as_written.1),
            augmentation: format!("{:?}", c.data.augment),
            epochs: self.progress.epoch + 1,
            steps: self.progress.global_step,
            train_tokens: self.corpus.train_tokens() as u64,
            valid_nll: valid.map(|v| v.nll),
            valid_accuracy: valid.map(|v| v.accuracy),
            tokens_per_second: Some(tokens_per_second),
            device: device_name(&self.device),
            seed: c.training.seed,
            date: now_utc(),
        });
        save_model(&c.output, &card, &self.weights())?;
        Ok(())
    }
}

pub fn device_name(device: &Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Current UTC time as RFC 3339, from the system clock (no date crate needed for one line).
fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}
