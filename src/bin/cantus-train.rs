//! `cantus-train`: trains models. Argument parsing and printing only.

use anyhow::{Context, Result, bail};
use candle_core::Device;
use cantus::train::grid::{self, GridConfig, GridEvent, ResultRow, RunState};
use cantus::train::{RunOptions, TrainConfig, measure_throughput, train};
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
    /// Train a model as CONFIG.toml describes (see models/*/train.toml for examples).
    Train {
        config: PathBuf,
        /// Continue the run in the output folder from its last checkpoint.
        #[arg(long)]
        resume: bool,
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
            device,
        } => {
            let device = parse_device(&device)?;
            let config = TrainConfig::load(&config)?;
            let output = config.output.clone();
            let command = std::env::args().collect::<Vec<_>>().join(" ");
            let summary = train(
                config,
                device,
                RunOptions {
                    resume,
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
            let state = if summary.finished {
                "finished"
            } else {
                "paused (max_steps)"
            };
            println!(
                "{state} after {} epochs, {} steps; model in {}",
                summary.epochs,
                summary.steps,
                output.display()
            );
            Ok(())
        }
        Command::Bench {
            config,
            steps,
            device,
        } => {
            let device_name = device.clone();
            let config = TrainConfig::load(&config)?;
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
