//! `cantus`: the command-line tools. Argument parsing and printing only; the work lives in the
//! library.

use anyhow::Result;
use cantus::formats::corpus::{self, LoadedFile};
use cantus::music::StepGrid;
use cantus::music::stats::CorpusStats;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cantus", version, about = "A neural melody instrument: tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect training data.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
}

#[derive(Subcommand)]
enum DataCommand {
    /// Read every .mid, .midi and .abc file below DIR; print one line per file and a summary.
    Check {
        /// Folders or files to check.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Grid used to count melody events.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=96))]
        steps_per_quarter: u32,
    },
    /// Corpus statistics: pieces, steps, pitch range, keys, metres, tonality metrics.
    Stats {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=96))]
        steps_per_quarter: u32,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Data { command } => match command {
            DataCommand::Check {
                paths,
                steps_per_quarter,
            } => data_check(&paths, StepGrid::new(steps_per_quarter)),
            DataCommand::Stats {
                paths,
                steps_per_quarter,
            } => data_stats(&paths, StepGrid::new(steps_per_quarter)),
        },
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Every file below the given paths, read; unreadable folders become rejected entries.
fn load_all(paths: &[PathBuf]) -> Vec<LoadedFile> {
    paths
        .iter()
        .flat_map(|p| corpus::find_music_files(p))
        .map(|found| match found {
            Ok(path) => corpus::load_file(&path),
            Err((path, error)) => LoadedFile {
                path,
                pieces: Vec::new(),
                errors: vec![cantus::formats::ReadError::from(error).into()],
                warnings: Vec::new(),
            },
        })
        .collect()
}

fn data_check(paths: &[PathBuf], grid: StepGrid) -> Result<ExitCode> {
    let files = load_all(paths);
    let mut usable = 0;
    for file in &files {
        let mut events = 0;
        let mut notes = 0;
        let mut errors: Vec<String> = file.errors.iter().map(|e| e.to_string()).collect();
        for loaded in &file.pieces {
            match corpus::melody_of(&loaded.piece, grid) {
                Ok((melody, _)) => {
                    events += melody.events.len();
                    notes += melody.note_count();
                }
                Err(error) => errors.push(format!("{}: {error}", loaded.label)),
            }
        }
        let path = file.path.display();
        if file.is_usable() && notes > 0 {
            usable += 1;
            let tunes = match file.pieces.len() {
                1 => String::new(),
                n => format!(", {n} tunes"),
            };
            let skipped = match errors.len() {
                0 => String::new(),
                n => format!("; {n} skipped: {}", errors.join("; ")),
            };
            let warnings = match file.warnings.len() {
                0 => String::new(),
                n => format!("; {n} warnings, first: {}", file.warnings[0]),
            };
            println!("OK      {path}: {events} events, {notes} notes{tunes}{skipped}{warnings}");
        } else {
            let why = if errors.is_empty() {
                "no notes".to_string()
            } else {
                errors.join("; ")
            };
            println!("REJECT  {path}: {why}");
        }
    }
    let rejected = files.len() - usable;
    println!(
        "checked {} files: {usable} usable, {rejected} rejected",
        files.len()
    );
    Ok(if usable > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn data_stats(paths: &[PathBuf], grid: StepGrid) -> Result<ExitCode> {
    let mut stats = CorpusStats::default();
    let mut rejected = 0;
    for file in load_all(paths) {
        rejected += usize::from(!file.is_usable());
        for loaded in file.pieces {
            if let Ok((melody, report)) = corpus::melody_of(&loaded.piece, grid) {
                let piece = &loaded.piece;
                let metre = piece.time_signatures.first().map(|t| t.value);
                stats.add(&melody, report, piece.initial_key(), metre);
            }
        }
    }
    if stats.pieces == 0 {
        anyhow::bail!("no usable piece found ({rejected} files rejected; see `cantus data check`)");
    }
    println!("{stats}");
    if rejected > 0 {
        println!("({rejected} unreadable files left out)");
    }
    Ok(ExitCode::SUCCESS)
}
