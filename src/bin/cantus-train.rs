//! `cantus-train`: trains models. Argument parsing and printing only.

use anyhow::{Context, Result, bail};
use candle_core::Device;
use cantus::harmony::train::{HarmonyConfig, HarmonyRun, train_harmony};
use cantus::train::checkpoint;
use cantus::train::grid::{self, GridConfig, GridEvent, ResultRow, RunState};
use cantus::train::{
    AnyConfig, AudioRunOptions, AudioTrainConfig, Overrides, Resume, RunOptions, TrainConfig,
    load_any, measure_throughput, train, train_audio,
};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "cantus-train", version, about = "Train Cantus models")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model as CONFIG.toml describes (see models/*/train.toml for examples; a file
    /// with `kind = "audio"` at the top trains a waveform model on audio files).
    Train {
        config: PathBuf,
        /// Continue the run in the output folder from its last checkpoint; audio runs also take
        /// the path of any checkpoint file (e.g. OUTPUT/checkpoints/epoch-003.safetensors).
        #[arg(long, value_name = "CHECKPOINT", num_args = 0..=1)]
        resume: Option<Option<PathBuf>>,
        /// Steps per epoch (audio configurations), replacing training.iterations.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        iterations: Option<u64>,
        /// Replaces training.epochs.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        epochs: Option<u64>,
        /// Replaces training.batch_size.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        batch_size: Option<u64>,
        /// cpu, cuda or cuda:N (cuda needs a build with `--features cuda`).
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Measure training throughput on CONFIG.toml's data: prints one JSON object with
    /// tokens_per_second (nothing is written; used by benches/train_throughput.py).
    Bench {
        config: PathBuf,
        /// Timed training steps (after two warm-up steps).
        #[arg(long, default_value_t = 20)]
        steps: usize,
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Train and score the RNN-cells paper's grid of cells × layers × data variants as GRID.toml
    /// describes (see models/grid.toml). A rerun resumes unfinished runs and skips finished ones.
    Grid {
        grid: PathBuf,
        /// cpu, cuda or cuda:N (cuda needs a build with `--features cuda`).
        #[arg(long, default_value = "cpu")]
        device: String,
    },
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train {
            config,
            resume,
            iterations,
            epochs,
            batch_size,
            device,
        } => {
            let device = parse_device(&device)?;
            let overrides = Overrides {
                iterations: iterations.map(|n| n as usize),
                epochs: epochs.map(|n| n as usize),
                batch_size: batch_size.map(|n| n as usize),
            };
            if HarmonyConfig::is_chorale_file(&config) {
                return train_chorale(&config, resume, overrides, device);
            }
            match load_any(&config)? {
                AnyConfig::Symbolic(config) => train_symbolic(config, resume, overrides, device),
                AnyConfig::Audio(config) => train_waveform(config, resume, overrides, device),
            }
        }
        Command::Bench {
            config,
            steps,
            device,
        } => {
            let device_name = device.clone();
            let AnyConfig::Symbolic(config) = load_any(&config)? else {
                bail!(
                    "{}: bench measures symbolic configurations only",
                    config.display()
                );
            };
            let tokens_per_second = measure_throughput(config, parse_device(&device)?, steps)?;
            println!(
                "{}",
                serde_json::json!({
                    "tokens_per_second": tokens_per_second,
                    "steps": steps,
                    "device": device_name,
                })
            );
            Ok(())
        }
        Command::Grid { grid, device } => {
            let device = parse_device(&device)?;
            let config = GridConfig::load(&grid)?;
            let command = std::env::args().collect::<Vec<_>>().join(" ");
            grid::run_grid(&config, &device, &command, print_grid_event)
                .context("the grid stopped")?;
            let output = &config.grid.output;
            println!(
                "results in {} and {}",
                output.join(grid::RESULTS_MD).display(),
                output.join(grid::RESULTS_CSV).display()
            );
            Ok(())
        }
    }
}

/// A chorale (harmony) run: `--resume` continues the output folder's checkpoint; `--batch-size`
/// replaces training.batch_size.
fn train_chorale(
    path: &std::path::Path,
    resume: Option<Option<PathBuf>>,
    overrides: Overrides,
    device: Device,
) -> Result<()> {
    if overrides.iterations.is_some() || overrides.epochs.is_some() {
        bail!(
            "--iterations and --epochs apply to audio and symbolic runs; a chorale run counts training.steps"
        );
    }
    if let Some(Some(checkpoint)) = &resume {
        bail!(
            "--resume {}: chorale runs continue from their output folder's checkpoint; give --resume alone",
            checkpoint.display()
        );
    }
    let mut config = HarmonyConfig::load(path)?;
    config.training.batch_size = overrides.batch_size.unwrap_or(config.training.batch_size);
    let output = config.output.clone();
    let run = HarmonyRun {
        resume: resume.is_some(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        quiet: false,
        stop_after: None,
    };
    let summary = train_harmony(config, &device, &run).context("training stopped")?;
    println!(
        "{} steps on {} chorales ({} with their transpositions)",
        summary.steps, summary.chorales, summary.examples
    );
    let names = ["soprano", "alto", "tenor", "bass"];
    if let Some(valid) = summary.valid {
        for (name, score) in names.iter().zip(valid) {
            println!(
                "  {name:<8} validation NLL {:.3}, accuracy {:.1}%",
                score.nll,
                100.0 * score.accuracy
            );
        }
    }
    if let Some(causal) = summary.valid_causal {
        for (name, score) in names[1..].iter().zip(causal) {
            println!(
                "  {name:<8} (live, causal) validation NLL {:.3}, accuracy {:.1}%",
                score.nll,
                100.0 * score.accuracy
            );
        }
    }
    println!("model in {}", output.display());
    Ok(())
}

/// A symbolic run: `--resume` continues the output folder's checkpoint (the only one it keeps).
fn train_symbolic(
    mut config: TrainConfig,
    resume: Option<Option<PathBuf>>,
    overrides: Overrides,
    device: Device,
) -> Result<()> {
    if overrides.iterations.is_some() {
        bail!(
            "--iterations applies to audio configurations; a symbolic epoch is one pass over the data"
        );
    }
    if let Some(Some(path)) = &resume {
        let latest = checkpoint::checkpoint_path(&config.output);
        let same = |a: &std::path::Path, b: &std::path::Path| {
            a.canonicalize()
                .ok()
                .is_some_and(|a| Some(a) == b.canonicalize().ok())
        };
        if !same(path, &latest) {
            bail!(
                "--resume {}: symbolic runs continue from their output's {} only",
                path.display(),
                latest.display()
            );
        }
    }
    config.training.epochs = overrides.epochs.unwrap_or(config.training.epochs);
    config.training.batch_size = overrides.batch_size.unwrap_or(config.training.batch_size);
    let output = config.output.clone();
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let summary = train(
        config,
        device,
        RunOptions {
            resume: resume.is_some(),
            command,
            quiet: false,
        },
    )
    .context("training stopped")?;
    match summary.best_valid {
        Some(v) => println!(
            "best validation NLL {:.4} (perplexity {:.2}, accuracy {:.1}%)",
            v.nll,
            v.perplexity,
            100.0 * v.accuracy
        ),
        None => println!("no validation data: the last epoch's model was kept"),
    }
    print_end(summary.finished, summary.epochs, summary.steps, &output);
    Ok(())
}

/// The last line of a symbolic or audio run.
fn print_end(finished: bool, epochs: usize, steps: u64, output: &std::path::Path) {
    let state = if finished {
        "finished"
    } else {
        "paused (max_steps)"
    };
    println!(
        "{state} after {epochs} epochs, {steps} steps; model in {}",
        output.display()
    );
}

/// An audio run: `--resume` continues the latest checkpoint, `--resume PATH` any checkpoint file.
fn train_waveform(
    mut config: AudioTrainConfig,
    resume: Option<Option<PathBuf>>,
    overrides: Overrides,
    device: Device,
) -> Result<()> {
    config
        .apply(overrides)
        .map_err(|message| anyhow::anyhow!("{message} (from the command line)"))?;
    let output = config.output.clone();
    let resume = match resume {
        None => Resume::No,
        Some(None) => Resume::Latest,
        Some(Some(path)) => Resume::From(path),
    };
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let options = AudioRunOptions {
        resume,
        command,
        quiet: false,
    };
    let summary = train_audio(config, device, options).context("training stopped")?;
    if let Some(mse) = summary.best_valid_mse {
        println!("best validation MSE {mse:.6}");
    } else if let Some(mse) = summary.train_mse {
        println!(
            "last epoch's training MSE {mse:.6} (no validation data: the last epoch's model was kept)"
        );
    }
    print_end(summary.finished, summary.epochs, summary.steps, &output);
    Ok(())
}

fn print_grid_event(event: GridEvent) {
    match event {
        GridEvent::Run {
            index,
            total,
            name,
            state,
        } => {
            let state = match state {
                RunState::Fresh => "training".to_string(),
                RunState::Resume { step } => format!("resuming from step {step}"),
                RunState::Finished => "finished earlier, skipped".to_string(),
            };
            println!("[{index}/{total}] {name}: {state}");
        }
        GridEvent::Row(row) => println!("{}: {}", row.name(), row_summary(row)),
    }
}

/// A result row in words, leaving out what it lacks.
fn row_summary(row: &ResultRow) -> String {
    let parts = [
        row.valid_nll.map(|v| format!("valid NLL {v:.4}")),
        row.accuracy.map(|v| format!("accuracy {:.1}%", 100.0 * v)),
        row.conjunct_motion
            .map(|v| format!("conjunct motion {v:.2}")),
        row.macroharmony.map(|v| format!("macroharmony {v:.2}")),
        row.centricity.map(|v| format!("centricity {v:.3}")),
        row.tokens_per_second.map(|v| format!("{v:.0} tokens/s")),
    ];
    let parts: Vec<String> = parts.into_iter().flatten().collect();
    if parts.is_empty() {
        "no model yet".into()
    } else {
        parts.join(", ")
    }
}

/// `cpu`, `cuda`, `cuda:N`.
fn parse_device(name: &str) -> Result<Device> {
    let ordinal = match name {
        "cpu" => return Ok(Device::Cpu),
        "cuda" => 0,
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => n,
            _ => bail!("unknown device {name:?}: expected cpu, cuda or cuda:N"),
        },
    };
    if !cfg!(feature = "cuda") {
        bail!(
            "this cantus-train was built without CUDA: rebuild it with --features cuda, or use --device cpu"
        );
    }
    Device::new_cuda(ordinal)
        .map_err(|e| anyhow::anyhow!("no CUDA device {ordinal} ({e}): use --device cpu"))
}
