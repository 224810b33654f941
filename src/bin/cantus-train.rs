//! `cantus-train`: trains models. Argument parsing and printing only.

use anyhow::{Context, Result, bail};
use candle_core::Device;
use cantus::train::{RunOptions, TrainConfig, train};
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
    /// Train a model as CONFIG.toml describes (see configs/ for examples).
    Train {
        config: PathBuf,
        /// Continue the run in the output folder from its last checkpoint.
        #[arg(long)]
        resume: bool,
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
