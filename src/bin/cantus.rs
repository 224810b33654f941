//! `cantus`: the command-line tools. Argument parsing and printing only; the work lives in the
//! library.

use anyhow::{Context, Result, bail};
use cantus::engine::sampler::SamplingSettings;
use cantus::eval::pieces::{encode_pieces, generate_pieces};
use cantus::formats::abc::{AbcHeader, read_abc, write_abc};
use cantus::formats::corpus::{self, FileKind, LoadedFile};
use cantus::formats::midi::{melody_piece, write_midi};
use cantus::generate::{self, Decoded};
use cantus::model::Model;
use cantus::music::stats::CorpusStats;
use cantus::music::tonality::Tonality;
use cantus::music::{Encoding, Key, Piece, StepGrid, TimeSignature, Timed};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
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
    /// Continue a primer with a model and write the result as MIDI or ABC.
    ///
    /// The output is a continuation: it holds the primer, then the generated steps.
    Generate(GenerateArgs),
    /// Score a model on music files: how well it predicts each piece, from its start.
    ///
    /// Prints the mean negative log-likelihood per predicted token (nats), the perplexity
    /// (e^nll), the top-1 accuracy and the number of predicted tokens.
    Eval(EvalArgs),
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

#[derive(Args)]
struct GenerateArgs {
    /// Model folder (model.json + model.safetensors).
    #[arg(long)]
    model: PathBuf,
    /// What to continue: a .mid/.midi or .abc file (its melody, on the model's grid), or MIDI
    /// pitches in quotes ("60 62 64"), each a quarter note. Without it the model starts from
    /// silence (melody models) or from a first note or `X` (the others).
    #[arg(long)]
    primer: Option<String>,
    /// Tokens to generate: grid steps, notes or characters, as the model's encoding counts.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    steps: u32,
    /// Divides the logits: below 1 is safer, above 1 wilder; 0 is greedy.
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// Sample among the K most likely tokens only (0 = all).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Sample among the most likely tokens whose probability reaches P (1 = all).
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    /// Always take the most likely token.
    #[arg(long)]
    greedy: bool,
    /// Confidence exponent mean: each step raises probabilities to A ~ N(mu, sigma).
    #[arg(long)]
    confidence_mu: Option<f32>,
    /// Confidence exponent spread (0 if left out).
    #[arg(long, requires = "confidence_mu")]
    confidence_sigma: Option<f32>,
    /// Melody models: −1 (fewer note onsets) to 1 (more).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    density: f32,
    /// Discourages the last 16 notes (1 = off).
    #[arg(long, default_value_t = 1.0)]
    repetition_penalty: f32,
    /// Random seed; the same seed, model and options give the same file (default: from the clock,
    /// and printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Tempo of the output (default: the primer file's, else 120).
    #[arg(long)]
    bpm: Option<f64>,
    /// Output file, .mid/.midi or .abc: the primer, then the continuation. An existing file is
    /// never overwritten.
    #[arg(short, long)]
    output: PathBuf,
    /// If the output exists, write OUT-1, OUT-2, … (the first free name) instead of failing.
    #[arg(long)]
    auto_name: bool,
}

#[derive(Args)]
struct EvalArgs {
    /// Model folder (model.json + model.safetensors).
    #[arg(long)]
    model: PathBuf,
    /// Folders or files to score; each piece is encoded on its own with the model's encoding.
    #[arg(required = true)]
    data: Vec<PathBuf>,
    /// Read only files with these extensions (repeat it, or give a comma list: abc,mid).
    #[arg(long = "ext", value_delimiter = ',')]
    extensions: Vec<String>,
    /// Print one JSON object and nothing else on stdout. Its keys nll, perplexity, accuracy and
    /// tokens are always there; with --generate, so is tonality:
    /// {"generated": {...}, "data": {...}}, each with conjunct_motion, limited_macroharmony and
    /// centricity (null where no piece is long enough).
    #[arg(long)]
    json: bool,
    /// Also generate N pieces (plain sampling) and compare their tonality with the data's.
    #[arg(long, value_name = "N")]
    generate: Option<usize>,
    /// Tokens per generated piece.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    steps: u32,
    /// Seed of the first generated piece; the next ones use the following seeds.
    #[arg(long, default_value_t = 1)]
    seed: u64,
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
        Command::Generate(args) => generate_command(&args),
        Command::Eval(args) => eval_command(&args),
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

/// Tempo, metre and key to write the output with: the primer file's where it has them.
struct Framing {
    bpm: Option<f64>,
    time_signature: TimeSignature,
    key: Option<Key>,
}

impl Framing {
    fn of(piece: &Piece) -> Self {
        Framing {
            bpm: Some(piece.initial_bpm()),
            time_signature: piece.initial_time_signature(),
            key: piece.initial_key(),
        }
    }
}

fn generate_command(args: &GenerateArgs) -> Result<ExitCode> {
    let midi_output = match FileKind::of(&args.output) {
        Some(kind) => kind == FileKind::Midi,
        None => bail!(
            "{}: the output must end in .mid, .midi or .abc",
            args.output.display()
        ),
    };
    if !args.auto_name && args.output.exists() {
        bail!("{}", exists_message(&args.output));
    }
    let settings = sampling_settings(args)?;
    // The error names the file and says why; its chain would repeat the why.
    let model = Model::load(&args.model, &candle_core::Device::Cpu)
        .map_err(|error| anyhow::anyhow!("cannot load the model: {error}"))?;
    let encoding = &model.card.encoding;
    if let Encoding::ChoraleVoices { .. } = encoding {
        bail!("{}", generate::EncodingError::Chorale);
    }
    let (primer, mut framing) = read_primer(args.primer.as_deref(), encoding)?;
    framing.bpm = args.bpm.or(framing.bpm);

    let seed = args.seed.unwrap_or_else(clock_seed);
    let steps = args.steps as usize;
    let mut tokens = primer.clone();
    tokens.extend(generate::generate(&model, &primer, steps, &settings, seed)?);
    let (bytes, notes) = match generate::decode(encoding, &tokens)? {
        Decoded::Melody { melody, dropped } => {
            if dropped > 0 {
                eprintln!(
                    "warning: {dropped} interval tokens left the pitch range and were dropped"
                );
            }
            let bpm = framing.bpm.unwrap_or(Piece::DEFAULT_BPM);
            let bytes = if midi_output {
                write_midi(&melody_piece(
                    &melody,
                    bpm,
                    framing.time_signature,
                    framing.key,
                ))
            } else {
                let header = AbcHeader {
                    title: format!("Cantus: {}", model.card.name),
                    time_signature: framing.time_signature,
                    key: framing.key.unwrap_or(Key::C_MAJOR),
                    bpm,
                    ..AbcHeader::default()
                };
                write_abc(&melody, &header).into_bytes()
            };
            (bytes, Some(melody.note_count()))
        }
        Decoded::Text(text) => text_output(text, midi_output, args.bpm)?,
    };
    let path = write_new(&args.output, &bytes, args.auto_name)?;
    let notes = notes.map_or(String::new(), |n| format!(", {n} notes"));
    println!(
        "wrote {}: {steps} steps after a {}-token primer{notes} (seed {seed})",
        path.display(),
        primer.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Pieces scored at once by `cantus eval`.
const EVAL_BATCH: usize = 32;

fn eval_command(args: &EvalArgs) -> Result<ExitCode> {
    let model = Model::load(&args.model, &candle_core::Device::Cpu)
        .map_err(|error| anyhow::anyhow!("cannot load the model: {error}"))?;
    let extensions: Vec<String> = args
        .extensions
        .iter()
        .map(|e| e.trim().trim_start_matches('.').to_string())
        .filter(|e| !e.is_empty())
        .collect();
    let data = encode_pieces(&args.data, &extensions, &model.card.encoding)?;
    if !data.rejected.is_empty() {
        eprintln!(
            "note: {} files or tunes left out (see `cantus data check`), first: {}",
            data.rejected.len(),
            data.rejected[0]
        );
    }
    if data.unknown_chars > 0 {
        eprintln!(
            "warning: {} characters the model does not know were left out",
            data.unknown_chars
        );
    }
    let result = cantus::eval::evaluate(&model.network, &data.pieces, EVAL_BATCH)?;
    let tonality = match args.generate {
        Some(count) => {
            let generated = generate_pieces(&model, count, args.steps as usize, args.seed)?;
            if generated.unreadable > 0 {
                eprintln!(
                    "note: {} of {count} generated texts are not readable ABC: left out",
                    generated.unreadable
                );
            }
            let mean = |pieces: &[Vec<u8>]| {
                let each: Vec<Tonality> = pieces.iter().map(|p| Tonality::of(p)).collect();
                (Tonality::mean_of(&each), pieces.len())
            };
            Some((
                mean(&generated.pitch_sequences),
                mean(&data.pitch_sequences),
            ))
        }
        None => None,
    };
    if args.json {
        let mut json = serde_json::to_value(result)?;
        if let Some(((generated, _), (data, _))) = tonality {
            json["tonality"] = serde_json::json!({ "generated": generated, "data": data });
        }
        println!("{json}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("pieces       {}", data.pieces.len());
    println!("tokens       {}", result.tokens);
    println!("nll          {:.4} nats/token", result.nll);
    println!("perplexity   {:.3}", result.perplexity);
    println!("accuracy     {:.2}% (top-1)", 100.0 * result.accuracy);
    if let Some(((generated, generated_count), (data, data_count))) = tonality {
        let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        println!();
        println!(
            "{:<22}{:>12}{:>12}",
            "tonality (means)", "generated", "data"
        );
        println!("{:<22}{generated_count:>12}{data_count:>12}", "pieces");
        let rows = [
            (
                "conjunct motion",
                generated.conjunct_motion,
                data.conjunct_motion,
            ),
            (
                "limited macroharmony",
                generated.limited_macroharmony,
                data.limited_macroharmony,
            ),
            ("centricity", generated.centricity, data.centricity),
        ];
        for (name, generated, data) in rows {
            println!("{name:<22}{:>12}{:>12}", cell(generated), cell(data));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn sampling_settings(args: &GenerateArgs) -> Result<SamplingSettings> {
    if !(args.temperature >= 0.0 && args.temperature.is_finite()) {
        bail!("--temperature must be 0 or more");
    }
    if !(args.top_p > 0.0 && args.top_p <= 1.0) {
        bail!("--top-p must be in (0, 1]");
    }
    if !(-1.0..=1.0).contains(&args.density) {
        bail!("--density must be in -1..=1");
    }
    if !(args.repetition_penalty > 0.0 && args.repetition_penalty.is_finite()) {
        bail!("--repetition-penalty must be more than 0");
    }
    Ok(SamplingSettings {
        temperature: args.temperature,
        top_k: args.top_k,
        top_p: args.top_p,
        greedy: args.greedy,
        confidence: args
            .confidence_mu
            .map(|mu| (mu, args.confidence_sigma.unwrap_or(0.0))),
        density: args.density,
        repetition_penalty: args.repetition_penalty,
    })
}

/// The primer's tokens and the context to write the output with.
fn read_primer(primer: Option<&str>, encoding: &Encoding) -> Result<(Vec<u32>, Framing)> {
    let mut framing = Framing {
        bpm: None,
        time_signature: TimeSignature::COMMON,
        key: None,
    };
    let grid = match encoding {
        Encoding::MelodyEvents {
            steps_per_quarter, ..
        } => StepGrid::new(*steps_per_quarter),
        _ => StepGrid::SIXTEENTHS,
    };
    let Some(primer) = primer else {
        return Ok((generate::default_primer(encoding), framing));
    };
    if let Some(pitches) = parse_pitches(primer) {
        let melody = generate::quarter_notes(&pitches?, grid)?;
        return Ok((melody_tokens(encoding, &melody)?, framing));
    }
    let path = Path::new(primer);
    let kind = FileKind::of(path);
    if kind.is_none() {
        bail!(
            "--primer {primer:?}: expected a .mid, .midi or .abc file, or MIDI pitches like \"60 62 64\""
        );
    }
    if kind == Some(FileKind::Abc) && matches!(encoding, Encoding::Chars { .. }) {
        let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
        let text = corpus::decode_text(&bytes).with_context(|| format!("{}", path.display()))?;
        return Ok((text_tokens(encoding, &text)?, framing));
    }
    let file = corpus::load_file(path);
    let Some(loaded) = file.pieces.first() else {
        let why: Vec<String> = file.errors.iter().map(|e| e.to_string()).collect();
        bail!("{}: {}", path.display(), why.join("; "));
    };
    let (melody, _) = corpus::melody_of(&loaded.piece, grid)
        .with_context(|| format!("{}: no melody", loaded.label))?;
    framing = Framing::of(&loaded.piece);
    Ok((melody_tokens(encoding, &melody)?, framing))
}

/// A melody as primer tokens; char models read it as ABC.
fn melody_tokens(encoding: &Encoding, melody: &cantus::music::Melody) -> Result<Vec<u32>> {
    match encoding {
        Encoding::Chars { .. } => text_tokens(encoding, &generate::abc_primer_text(melody)),
        _ => Ok(generate::melody_primer(encoding, melody)?),
    }
}

/// Text as primer tokens, warning about the characters the model does not know.
fn text_tokens(encoding: &Encoding, text: &str) -> Result<Vec<u32>> {
    let encoded = generate::text_primer(encoding, text)?;
    if !encoded.unknown.is_empty() {
        let unknown: String = encoded.unknown.keys().collect();
        eprintln!(
            "warning: the model does not know the characters {unknown:?}: left out of the primer"
        );
    }
    Ok(encoded.tokens)
}

/// `Some` if the text is a list of numbers (separated by blanks or commas): MIDI pitches.
fn parse_pitches(text: &str) -> Option<Result<Vec<u8>>> {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() || !words.iter().all(|w| w.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    Some(
        words
            .iter()
            .map(|w| match w.parse::<u8>() {
                Ok(p) if p < 128 => Ok(p),
                _ => bail!("--primer: {w} is not a MIDI pitch (0..=127)"),
            })
            .collect(),
    )
}

/// A char model's output: the text as is for `.abc` (with a warning if it is not readable ABC);
/// for MIDI, its first readable tune, or an error naming why none is.
fn text_output(
    text: String,
    midi_output: bool,
    bpm: Option<f64>,
) -> Result<(Vec<u8>, Option<usize>)> {
    let tunes = read_abc(&text);
    if !midi_output {
        if let Err(error) = &tunes {
            eprintln!("warning: the generated text is not readable ABC: {error}");
        }
        let notes = tunes.ok().map(|t| t[0].piece.note_count());
        return Ok((text.into_bytes(), notes));
    }
    let mut piece = match tunes {
        Ok(mut tunes) => tunes.swap_remove(0).piece,
        Err(error) => bail!(
            "the generated text is not readable ABC ({error}), so it cannot become MIDI; write it to a .abc file to see it"
        ),
    };
    if let Some(bpm) = bpm {
        piece.tempos = vec![Timed {
            at: 0.0,
            value: bpm,
        }];
    }
    let notes = piece.note_count();
    Ok((write_midi(&piece), Some(notes)))
}

fn exists_message(path: &Path) -> String {
    format!(
        "{} exists: not overwriting it (choose another name, or pass --auto-name)",
        path.display()
    )
}

/// Writes `bytes` to a file that did not exist: `path`, or with `auto_name` the first free of
/// `path`, `STEM-1.EXT`, `STEM-2.EXT`, … Creating with `create_new` means a file that appears
/// meanwhile is never overwritten either.
fn write_new(path: &Path, bytes: &[u8], auto_name: bool) -> Result<PathBuf> {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let extension = path.extension().unwrap_or_default().to_string_lossy();
    for n in 0u32.. {
        let candidate = match n {
            0 => path.to_path_buf(),
            n => path.with_file_name(format!("{stem}-{n}.{extension}")),
        };
        match std::fs::File::create_new(&candidate) {
            Ok(mut file) => {
                file.write_all(bytes)
                    .and_then(|()| file.sync_all())
                    .with_context(|| format!("writing {}", candidate.display()))?;
                return Ok(candidate);
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                if !auto_name {
                    bail!("{}", exists_message(path));
                }
            }
            Err(error) => return Err(error).with_context(|| format!("{}", candidate.display())),
        }
    }
    unreachable!("some name below 2^32 is free")
}

/// A seed that differs from run to run.
fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
