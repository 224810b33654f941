//! `cantus`: the command-line tools. Argument parsing and printing only; the work lives in the
//! library.

use anyhow::{Context, Result, bail};
use cantus::audio::decode::{find_audio_files, wav_bytes};
use cantus::audio::plot::plot_waveform;
use cantus::audio::{
    AudioFormat, AudioModel, FolderKind, continue_audio, decode_file, folder_kind, load_mono,
};
use cantus::engine::sampler::SamplingSettings;
use cantus::eval::pieces::{encode_pieces, generate_pieces};
use cantus::formats::abc::{AbcHeader, read_abc, write_abc};
use cantus::formats::corpus::{self, FileKind, LoadedFile};
use cantus::formats::midi::{melody_piece, write_midi};
use cantus::generate::{self, Decoded};
use cantus::harmony::evaluate::evaluate_harmony;
use cantus::harmony::gibbs::{GibbsOptions, Scoring};
use cantus::harmony::harmonize::harmonize;
use cantus::harmony::io::{chorale_piece, read_harmony_input};
use cantus::harmony::train::load_harmony_model;
use cantus::live::clock::{InternalClock, MidiClock, Timekeeper};
use cantus::live::ports::Backend;
use cantus::live::run::{Ended, JamOptions};
use cantus::live::settings::{merge, resolve};
use cantus::model::Model;
use cantus::music::stats::CorpusStats;
use cantus::music::tonality::Tonality;
use cantus::music::{Encoding, Key, Piece, StepGrid, TimeSignature, Timed};
use cantus::preset::{Mode as PresetMode, Preset, PresetError, Scale, Settings, Tonic};
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
    /// Continue a primer with a model and write the result as MIDI or ABC (symbolic models) or
    /// WAV (audio models, with a PNG of the waveform beside it).
    ///
    /// The output is a continuation: it holds the primer, then the generated steps (or seconds).
    Generate(GenerateArgs),
    /// Score a model on music files: how well it predicts each piece, from its start.
    ///
    /// Prints the mean negative log-likelihood per predicted token (nats), the perplexity
    /// (e^nll), the top-1 accuracy and the number of predicted tokens.
    Eval(EvalArgs),
    /// List the MIDI inputs and outputs `cantus jam` can connect to (JACK or ALSA).
    Ports {
        /// jack, alsa, or auto: JACK when a server is running, else ALSA.
        #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
        backend: BackendArg,
    },
    /// Play with a keyboard and a synth: Cantus listens on one MIDI port and plays on another.
    ///
    /// Runs until Ctrl-C (exit status 130), or until a port or the JACK server goes away
    /// (status 1); either way every sounding note is ended and the recording is written.
    Jam(JamArgs),
    /// Four-part harmony in the style of Bach's chorales: keeps the soprano of IN (and any voices
    /// named by --keep), samples the others by pseudo-Gibbs sampling, and writes a four-track
    /// MIDI file (Soprano, Alto, Tenor, Bass) with the source's tempo and time signature.
    Harmonize(HarmonizeArgs),
}

#[derive(Subcommand)]
enum DataCommand {
    /// Read every .mid, .midi and .abc file below DIR, and every .wav, .mp3, .flac and .ogg
    /// file (duration, rate, channels); print one line per file and a summary.
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
    /// Model folder (model.json + model.safetensors); default: the preset's.
    #[arg(long, required_unless_present = "preset")]
    model: Option<PathBuf>,
    /// A preset (presets/*.toml): its model folder, sampling settings and seed. Flags given here
    /// override its values; its other settings (key, scale, range, …) are the instrument's.
    #[arg(long, value_name = "FILE")]
    preset: Option<PathBuf>,
    /// What to continue: a .mid/.midi or .abc file (its melody, on the model's grid), or MIDI
    /// pitches in quotes ("60 62 64"), each a quarter note. Without it the model starts from
    /// silence (melody models) or from a first note or `X` (the others). Audio models: a .wav,
    /// .mp3, .flac or .ogg file; without it, an excerpt of the training audio.
    #[arg(long)]
    primer: Option<String>,
    /// Audio models: seconds of audio to generate after the primer.
    #[arg(long, value_name = "S")]
    seconds: Option<f64>,
    /// Tokens to generate: grid steps, notes or characters, as the model's encoding counts.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    steps: u32,
    /// Divides the logits: below 1 is safer, above 1 wilder; 0 is greedy [default: 1].
    #[arg(long)]
    temperature: Option<f32>,
    /// Sample among the K most likely tokens only (0 = all) [default: 0].
    #[arg(long)]
    top_k: Option<usize>,
    /// Sample among the most likely tokens whose probability reaches P (1 = all) [default: 1].
    #[arg(long)]
    top_p: Option<f32>,
    /// Always take the most likely token.
    #[arg(long)]
    greedy: bool,
    /// Confidence exponent mean: each step raises probabilities to A ~ N(mu, sigma).
    #[arg(long)]
    confidence_mu: Option<f32>,
    /// Confidence exponent spread (0 if left out).
    #[arg(long, requires = "confidence_mu")]
    confidence_sigma: Option<f32>,
    /// Melody models: −1 (fewer note onsets) to 1 (more) [default: 0].
    #[arg(long, allow_negative_numbers = true)]
    density: Option<f32>,
    /// Discourages the last 16 notes (1 = off) [default: 1].
    #[arg(long)]
    repetition_penalty: Option<f32>,
    /// Random seed; the same seed, model and options give the same file (default: the preset's,
    /// else from the clock, and printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Tempo of the output (default: the primer file's, else 120).
    #[arg(long)]
    bpm: Option<f64>,
    /// Output file, .mid/.midi or .abc (.wav for audio models): the primer, then the
    /// continuation. An existing file is never overwritten.
    #[arg(short, long)]
    output: PathBuf,
    /// If the output exists, write OUT-1, OUT-2, … (the first free name) instead of failing.
    #[arg(long)]
    auto_name: bool,
}

#[derive(Args)]
struct EvalArgs {
    /// Model folder (model.json + model.safetensors) [with --harmony: models/chorale].
    #[arg(long, required_unless_present = "harmony")]
    model: Option<PathBuf>,
    /// Folders or files to score; each piece is encoded on its own with the model's encoding.
    #[arg(required_unless_present = "harmony", conflicts_with = "harmony")]
    data: Vec<PathBuf>,
    /// Score a chorale model instead, on the four-voice chorales below DIR: per-voice NLL and
    /// accuracy; with --generate N, also harmonise the first N sopranos and count parallel
    /// fifths and octaves, voice crossings and notes out of range against Bach's own voices.
    #[arg(long, value_name = "DIR")]
    harmony: Option<PathBuf>,
    /// With --harmony --generate: pseudo-Gibbs sweeps per chorale.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    sweeps: u32,
    /// With --harmony --generate: the final sampling temperature, as `cantus harmonize`'s.
    #[arg(long, default_value_t = 1.0, value_parser = parse_positive)]
    temperature: f64,
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

#[derive(Args)]
struct HarmonizeArgs {
    /// The melody to harmonise (its top line becomes the soprano), or a four-voice chorale to
    /// reharmonise in part: .mid, .midi or .abc.
    input: PathBuf,
    /// The four-track MIDI file to write (never overwritten; see --auto-name).
    #[arg(short, long)]
    output: PathBuf,
    /// Chorale model folder.
    #[arg(long, default_value = "models/chorale")]
    model: PathBuf,
    /// Pseudo-Gibbs sweeps: each redraws every step of every voice not kept.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    sweeps: u32,
    /// The final temperature; sampling starts at 1.5 times it and cools to it.
    #[arg(long, default_value_t = 1.0, value_parser = parse_positive)]
    temperature: f64,
    /// Voices to keep as the file has them (comma list of soprano, alto, tenor, bass); the
    /// others are sampled [default: soprano].
    #[arg(long, value_enum, value_delimiter = ',')]
    keep: Vec<VoiceArg>,
    /// Steps redrawn together are this far apart [default: the model's].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    gap: Option<u32>,
    /// Seeds the sampling [default: from the clock].
    #[arg(long)]
    seed: Option<u64>,
    /// Number the output's name (take-1.mid, …) instead of refusing when it exists.
    #[arg(long)]
    auto_name: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum VoiceArg {
    Soprano,
    Alto,
    Tenor,
    Bass,
}

#[derive(Args)]
struct JamArgs {
    /// The keyboard: a MIDI input's name, or any unique part of it (see `cantus ports`).
    #[arg(long = "in", value_name = "NAME")]
    input: String,
    /// The synth: a MIDI output's name, or any unique part of it.
    #[arg(long = "out", value_name = "NAME")]
    output: String,
    /// A preset (presets/*.toml): its model and settings; flags given here override them.
    #[arg(long, value_name = "FILE")]
    preset: Option<PathBuf>,
    /// Model folder [default: the preset's, else the embedded folk model].
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// continue: plays on from your phrases; answer: call and response; solo: ignores you;
    /// harmonise: alto, tenor and bass under what you play, from the embedded chorale model
    /// [default: continue].
    #[arg(long, value_parser = parse_mode)]
    mode: Option<PresetMode>,
    /// Tempo of the internal clock, in quarter notes per minute.
    #[arg(long, default_value_t = 120.0, value_parser = parse_bpm)]
    bpm: f64,
    /// internal: play at --bpm from the start; midi: follow the MIDI clock (24 pulses a quarter,
    /// Start, Stop, Continue, Song Position) coming in on --in.
    #[arg(long, value_enum, default_value_t = ClockArg::Internal)]
    clock: ClockArg,
    /// Where the ports are: jack, alsa (the kernel's sequencer), or auto: JACK when a server is
    /// running, else ALSA.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    backend: BackendArg,
    /// Record your notes and Cantus's to a type-1 MIDI file (one track each), written when the
    /// jam ends. An existing file is never overwritten.
    #[arg(long, value_name = "OUT.mid")]
    record: Option<PathBuf>,
    /// Forward your notes to the output too (for a keyboard without its own sound).
    #[arg(long)]
    thru: bool,
    /// 0.05..=2: below 1 safer, above 1 wilder [default: 1].
    #[arg(long)]
    temperature: Option<f64>,
    /// Sample among the K most likely tokens only (0 = all) [default: 0].
    #[arg(long)]
    top_k: Option<u32>,
    /// −1 (fewer notes) ..= 1 (more) [default: 0].
    #[arg(long, allow_negative_numbers = true)]
    density: Option<f64>,
    /// The key's tonic: C, F#, Bb, … [default: C].
    #[arg(long, value_parser = parse_key)]
    key: Option<Tonic>,
    /// major, minor, dorian, mixolydian, pentatonic or chromatic [default: chromatic].
    #[arg(long, value_parser = parse_scale)]
    scale: Option<Scale>,
    /// Lowest pitch Cantus starts, MIDI 36..=96 [default: 48].
    #[arg(long)]
    lowest: Option<u32>,
    /// Highest pitch Cantus starts, MIDI 36..=96 [default: 84].
    #[arg(long)]
    highest: Option<u32>,
    /// The grid, 1..=8 [default: the model's].
    #[arg(long)]
    steps_per_quarter: Option<u32>,
    /// Steps the engine keeps ready, 1..=64 [default: 8].
    #[arg(long)]
    lookahead: Option<u32>,
    /// Steps of silence after your phrase before Cantus answers, 0..=128 [default: 0].
    #[arg(long)]
    answer_gap: Option<u32>,
    /// Answer mode: the answer's length in bars of 4/4, 1..=16 [default: 2].
    #[arg(long)]
    answer_bars: Option<u32>,
    /// Answer mode: answer right after the gap instead of on the next bar line.
    #[arg(long)]
    answer_now: bool,
    /// Velocity of Cantus's notes, 1..=127 [default: 100].
    #[arg(long)]
    velocity: Option<u32>,
    /// MIDI channel of Cantus's notes, 1..=16 [default: 1].
    #[arg(long)]
    channel: Option<u32>,
    /// Harmonise mode: MIDI channel of the alto, 1..=16 [default: 2].
    #[arg(long)]
    alto_channel: Option<u32>,
    /// Harmonise mode: MIDI channel of the tenor, 1..=16 [default: 3].
    #[arg(long)]
    tenor_channel: Option<u32>,
    /// Harmonise mode: MIDI channel of the bass, 1..=16 [default: 4].
    #[arg(long)]
    bass_channel: Option<u32>,
    /// Seeds the sampling, so a jam can be replayed [default: the preset's, else from the clock].
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ClockArg {
    Internal,
    Midi,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BackendArg {
    Auto,
    Jack,
    Alsa,
}

impl From<BackendArg> for Backend {
    fn from(arg: BackendArg) -> Backend {
        match arg {
            BackendArg::Auto => Backend::Auto,
            BackendArg::Jack => Backend::Jack,
            BackendArg::Alsa => Backend::Alsa,
        }
    }
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
        Command::Ports { backend } => ports_command(backend.into()),
        Command::Jam(args) => jam_command(&args),
        Command::Harmonize(args) => harmonize_command(&args),
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
    // Audio files given by name are checked as audio; folders are searched for both kinds.
    let music_paths: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.is_dir() || AudioFormat::of(p).is_none())
        .cloned()
        .collect();
    let files = load_all(&music_paths);
    let (audio_usable, audio_checked) = audio_check(paths);
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
    let checked = files.len() + audio_checked;
    let usable = usable + audio_usable;
    let rejected = checked - usable;
    println!("checked {checked} files: {usable} usable, {rejected} rejected");
    Ok(if usable > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One line per audio file below `paths`: its length, rate and channels, or why it cannot be read.
/// Returns (usable, checked).
fn audio_check(paths: &[PathBuf]) -> (usize, usize) {
    let (mut usable, mut checked) = (0, 0);
    for root in paths {
        if !root.is_dir() && AudioFormat::of(root).is_none() {
            continue;
        }
        for found in find_audio_files(root) {
            checked += 1;
            match found.and_then(|path| Ok((decode_file(&path)?, path))) {
                Ok((decoded, path)) => {
                    usable += 1;
                    let info = decoded.info;
                    let channels = match info.channels {
                        1 => "mono".to_string(),
                        2 => "stereo".to_string(),
                        n => format!("{n} channels"),
                    };
                    println!(
                        "OK      {}: {} audio, {:.2} s, {} Hz, {channels}",
                        path.display(),
                        info.format.name(),
                        info.duration_seconds(),
                        info.sample_rate
                    );
                }
                // The error names the file first.
                Err(error) => println!("REJECT  {error}"),
            }
        }
    }
    (usable, checked)
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
    if let Some(dir) = &args.model
        && matches!(folder_kind(dir), Ok(FolderKind::Audio))
    {
        return generate_audio(args, dir);
    }
    if args.seconds.is_some() {
        bail!("--seconds is for audio models; this model is symbolic: give --steps instead");
    }
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
    let preset = args.preset.as_deref().map(Preset::load).transpose()?;
    let settings = sampling_settings(args, preset.as_ref())?;
    let model_dir = match (&args.model, &preset) {
        (Some(dir), _) => dir.clone(),
        (None, Some(preset)) => preset_model(preset)?,
        (None, None) => bail!("no model: give --model DIR, or --preset FILE"),
    };
    // The error names the file and says why; its chain would repeat the why.
    let model = Model::load(&model_dir, &candle_core::Device::Cpu)
        .map_err(|error| anyhow::anyhow!("cannot load the model: {error}"))?;
    let encoding = &model.card.encoding;
    if let Encoding::ChoraleVoices { .. } = encoding {
        bail!("{}", generate::EncodingError::Chorale);
    }
    let (primer, mut framing) = read_primer(args.primer.as_deref(), encoding)?;
    framing.bpm = args.bpm.or(framing.bpm);

    let preset_seed = preset.as_ref().and_then(|p| p.settings.seed);
    let seed = args.seed.or(preset_seed).unwrap_or_else(clock_seed);
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

/// `cantus generate` with an audio model: primer (a file, or an excerpt of the training audio
/// stored with the model), `--seconds` of continuation, written as WAV with a PNG beside it.
fn generate_audio(args: &GenerateArgs, dir: &Path) -> Result<ExitCode> {
    if AudioFormat::of(&args.output) != Some(AudioFormat::Wav) {
        bail!(
            "{}: {} is an audio model: the output must end in .wav",
            args.output.display(),
            dir.display()
        );
    }
    let not_for_audio = [
        (args.preset.is_some(), "--preset"),
        (args.temperature.is_some(), "--temperature"),
        (args.top_k.is_some(), "--top-k"),
        (args.top_p.is_some(), "--top-p"),
        (args.greedy, "--greedy"),
        (args.confidence_mu.is_some(), "--confidence-mu"),
        (args.density.is_some(), "--density"),
        (args.repetition_penalty.is_some(), "--repetition-penalty"),
        (args.bpm.is_some(), "--bpm"),
    ];
    if let Some((_, flag)) = not_for_audio.iter().find(|(given, _)| *given) {
        bail!("{flag} does not apply to audio models (they predict samples, not notes)");
    }
    let Some(seconds) = args.seconds else {
        bail!(
            "{} is an audio model: say how much to generate with --seconds S",
            dir.display()
        );
    };
    if !(seconds > 0.0 && seconds <= 3600.0) {
        bail!("--seconds {seconds}: must be more than 0 and at most 3600");
    }
    if !args.auto_name && args.output.exists() {
        bail!("{}", exists_message(&args.output));
    }
    let model = AudioModel::load(dir, &candle_core::Device::Cpu)
        .map_err(|error| anyhow::anyhow!("cannot load the model: {error}"))?;
    let rate = model.card.model.sample_rate;
    let primer = match &args.primer {
        Some(file) => Some(load_mono(Path::new(file), rate).context("--primer")?),
        None => None,
    };
    let seed = args.seed.unwrap_or_else(clock_seed);
    let primer = cantus::audio::generate::choose_primer(&model, primer, seed)?;
    let samples = (seconds * f64::from(rate)).round().max(1.0) as usize;
    let continuation = continue_audio(&model, &primer, samples)?;
    let joined = continuation.joined();
    let path = write_new(&args.output, &wav_bytes(&joined, rate), args.auto_name)?;
    let seconds_of = |n: usize| n as f64 / f64::from(rate);
    println!(
        "wrote {}: {:.3} s primer + {:.3} s generated at {rate} Hz",
        path.display(),
        seconds_of(continuation.primer.len()),
        seconds_of(continuation.generated.len())
    );
    let picture = path.with_extension("png");
    if picture.exists() {
        eprintln!(
            "warning: {} exists: not overwriting it, so no waveform picture",
            picture.display()
        );
    } else {
        let title = format!(
            "{}: {}",
            model.card.name,
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        match plot_waveform(&picture, &title, &joined, rate, continuation.primer.len()) {
            Ok(()) => println!("waveform in {}", picture.display()),
            Err(error) => eprintln!("warning: no waveform picture: {error}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Pieces scored at once by `cantus eval`.
const EVAL_BATCH: usize = 32;

fn eval_command(args: &EvalArgs) -> Result<ExitCode> {
    if let Some(dir) = &args.harmony {
        return harmony_eval_command(args, dir);
    }
    let model_path = args
        .model
        .as_ref()
        .expect("clap requires --model without --harmony");
    if matches!(folder_kind(model_path), Ok(FolderKind::Audio)) {
        bail!(
            "{} is an audio model: `cantus eval` scores symbolic (MIDI/ABC) models",
            model_path.display()
        );
    }
    let model = Model::load(model_path, &candle_core::Device::Cpu)
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

/// The preset's model folder, checked (files there, grid matching) before any weight is read.
fn preset_model(preset: &Preset) -> Result<PathBuf> {
    preset.check_model()?;
    match preset.model_path() {
        Some(dir) => Ok(dir),
        None => bail!(
            "{}: the preset plays the plugin's embedded model, which `cantus generate` does not hold: add --model (e.g. models/folk)",
            preset
                .file
                .as_deref()
                .unwrap_or(Path::new("preset"))
                .display()
        ),
    }
}

/// The defaults, then the preset's values, then the flags given.
fn sampling_settings(args: &GenerateArgs, preset: Option<&Preset>) -> Result<SamplingSettings> {
    let mut settings = SamplingSettings::default();
    if let Some(preset) = preset {
        preset.settings.apply_sampling(&mut settings);
    }
    settings.temperature = args.temperature.unwrap_or(settings.temperature);
    settings.top_k = args.top_k.unwrap_or(settings.top_k);
    settings.top_p = args.top_p.unwrap_or(settings.top_p);
    settings.density = args.density.unwrap_or(settings.density);
    settings.repetition_penalty = args
        .repetition_penalty
        .unwrap_or(settings.repetition_penalty);
    settings.greedy = args.greedy;
    settings.confidence = args
        .confidence_mu
        .map(|mu| (mu, args.confidence_sigma.unwrap_or(0.0)));
    if !(settings.temperature >= 0.0 && settings.temperature.is_finite()) {
        bail!("--temperature must be 0 or more");
    }
    if !(settings.top_p > 0.0 && settings.top_p <= 1.0) {
        bail!("--top-p must be in (0, 1]");
    }
    if !(-1.0..=1.0).contains(&settings.density) {
        bail!("--density must be in -1..=1");
    }
    if !(settings.repetition_penalty > 0.0 && settings.repetition_penalty.is_finite()) {
        bail!("--repetition-penalty must be more than 0");
    }
    Ok(settings)
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

fn ports_command(backend: Backend) -> Result<ExitCode> {
    let (inputs, outputs) = cantus::live::ports::list_ports(backend)?;
    let section = |title: &str, ports: &[String]| {
        println!("{title}:");
        if ports.is_empty() {
            println!("  (none)");
        }
        for port in ports {
            println!("  {port}");
        }
    };
    section("MIDI inputs (for --in)", &inputs);
    section("MIDI outputs (for --out)", &outputs);
    Ok(ExitCode::SUCCESS)
}

/// Exit status after Ctrl-C, as shells report a process ended by SIGINT.
const INTERRUPTED: u8 = 130;

fn jam_command(args: &JamArgs) -> Result<ExitCode> {
    if let Some(path) = &args.record
        && path.exists()
    {
        bail!(
            "{} exists: not overwriting it (choose another name for --record)",
            path.display()
        );
    }
    let preset = args.preset.as_deref().map(Preset::load).transpose()?;
    let model_path = match (&args.model, &args.preset) {
        (Some(dir), _) => dir.display().to_string(),
        (None, Some(preset)) => preset.display().to_string(),
        (None, None) => String::new(),
    };
    let model = cantus::plugin::load_model(&model_path)
        .map_err(|error| anyhow::anyhow!("cannot load the model: {error}"))?;
    let model_grid = match model.card.encoding {
        Encoding::MelodyEvents {
            steps_per_quarter, ..
        } => StepGrid::new(steps_per_quarter),
        _ => StepGrid::SIXTEENTHS,
    };
    let flags = Settings {
        mode: args.mode,
        temperature: args.temperature,
        top_k: args.top_k,
        density: args.density,
        key: args.key,
        scale: args.scale,
        lowest: args.lowest,
        highest: args.highest,
        steps_per_quarter: args.steps_per_quarter,
        lookahead: args.lookahead,
        answer_gap: args.answer_gap,
        answer_bars: args.answer_bars,
        velocity: args.velocity,
        channel: args.channel,
        alto_channel: args.alto_channel,
        tenor_channel: args.tenor_channel,
        bass_channel: args.bass_channel,
        seed: args.seed,
        ..Settings::default()
    };
    let settings = merge(&preset.map(|p| p.settings).unwrap_or_default(), &flags);
    check_flags(&settings)?;
    let seed = clock_seed() & (i64::MAX as u64);
    let jam = resolve(&settings, model_grid, !args.answer_now, seed);
    let keeper = match args.clock {
        ClockArg::Internal => Timekeeper::Internal(InternalClock::new(jam.grid, args.bpm)),
        ClockArg::Midi => Timekeeper::Midi(MidiClock::new(jam.grid)),
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let on_signal = stop.clone();
    ctrlc::set_handler(move || on_signal.store(true, std::sync::atomic::Ordering::Release))
        .context("cannot catch Ctrl-C")?;
    let options = JamOptions {
        backend: args.backend.into(),
        input: args.input.clone(),
        output: args.output.clone(),
        settings: jam,
        keeper,
        thru: args.thru,
        record: args.record.clone(),
        record_bpm: args.bpm,
    };
    let mode = settings.mode.unwrap_or(PresetMode::Continue);
    let clock = match args.clock {
        ClockArg::Internal => format!("{} BPM", args.bpm),
        ClockArg::Midi => "the MIDI clock".to_string(),
    };
    let report = cantus::live::run::run(&model, options, stop, |input, output| {
        println!(
            "jamming: {input} -> {output}, {mode:?} mode on {clock}, seed {} (Ctrl-C ends)",
            jam.params.seed
        );
    })
    .map_err(|error| anyhow::anyhow!(error))?;
    if report.late_steps > 0 {
        eprintln!(
            "note: {} steps were not ready in time and held the note before them",
            report.late_steps
        );
    }
    let mut failed = false;
    match report.recording {
        Some(Ok(path)) => println!("recorded the jam to {}", path.display()),
        Some(Err(error)) => {
            eprintln!("error: {error}");
            failed = true;
        }
        None => {}
    }
    match report.ended {
        Ended::Stopped => {
            println!("stopped: all notes off");
            Ok(ExitCode::from(if failed { 1 } else { INTERRUPTED }))
        }
        Ended::Lost(why) => {
            eprintln!("error: the jam stopped: {why}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The merged settings, checked as a preset is, with the problem named as a flag.
fn check_flags(settings: &Settings) -> Result<()> {
    let preset = Preset {
        name: "cantus jam".into(),
        description: None,
        model: Default::default(),
        settings: *settings,
        base_dir: PathBuf::new(),
        file: None,
    };
    match preset.validate() {
        Err(PresetError::Invalid {
            field,
            value,
            expected,
            ..
        }) => {
            let flag = field.trim_start_matches("settings.").replace('_', "-");
            bail!("--{flag} {value}: must be {expected}")
        }
        other => Ok(other?),
    }
}

fn parse_mode(text: &str) -> Result<PresetMode, String> {
    serde_json::from_value(serde_json::Value::String(text.to_lowercase()))
        .map_err(|_| format!("{text:?}: expected continue, answer, solo or harmonise"))
}

fn parse_scale(text: &str) -> Result<Scale, String> {
    serde_json::from_value(serde_json::Value::String(text.to_lowercase())).map_err(|_| {
        format!("{text:?}: expected major, minor, dorian, mixolydian, pentatonic or chromatic")
    })
}

fn parse_key(text: &str) -> Result<Tonic, String> {
    text.parse()
}

fn parse_bpm(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(bpm) if (20.0..=300.0).contains(&bpm) => Ok(bpm),
        _ => Err(format!("{text:?}: expected a tempo from 20 to 300")),
    }
}

/// A positive, finite number.
fn parse_positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        _ => Err(format!("{text:?} is not a positive number")),
    }
}

fn harmonize_command(args: &HarmonizeArgs) -> Result<ExitCode> {
    let device = candle_core::Device::Cpu;
    let (model, card) = load_harmony_model(&args.model, &device)?;
    let input = read_harmony_input(&args.input)?;
    for warning in &input.warnings {
        eprintln!("note: {warning}");
    }
    let mut keep = [false; 4];
    if args.keep.is_empty() {
        keep[0] = true;
    }
    for voice in &args.keep {
        keep[*voice as usize] = true;
    }
    let seed = args
        .seed
        .unwrap_or_else(|| clock_seed() & (i64::MAX as u64));
    let options = GibbsOptions {
        sweeps: args.sweeps as usize,
        temperature: args.temperature,
        gap: args.gap.map_or(card.model.gap, |g| g as usize),
        seed,
        scoring: Scoring::default(),
    };
    let started = std::time::Instant::now();
    let result = harmonize(&model, &input, keep, &options, &device)?;
    for warning in &result.warnings {
        eprintln!("note: {warning}");
    }
    let piece = chorale_piece(
        &result.voices,
        input.bpm,
        input.time_signature,
        input.key,
        input.title.as_deref(),
    );
    let written = write_new(&args.output, &write_midi(&piece), args.auto_name)?;
    let names = ["soprano", "alto", "tenor", "bass"];
    let kept: Vec<&str> = (0..4)
        .filter(|&v| result.kept[v])
        .map(|v| names[v])
        .collect();
    println!(
        "harmonised {} with {} ({} sweeps, temperature {}, seed {seed}) in {:.1} s, keeping {}: {}",
        args.input.display(),
        card.name,
        args.sweeps,
        args.temperature,
        started.elapsed().as_secs_f64(),
        kept.join(", "),
        written.display()
    );
    println!("{}", result.metrics);
    Ok(ExitCode::SUCCESS)
}

fn harmony_eval_command(args: &EvalArgs, dir: &Path) -> Result<ExitCode> {
    let device = candle_core::Device::Cpu;
    let model_path = args
        .model
        .clone()
        .unwrap_or_else(|| PathBuf::from("models/chorale"));
    let (model, card) = load_harmony_model(&model_path, &device)?;
    let options = GibbsOptions {
        sweeps: args.sweeps as usize,
        temperature: args.temperature,
        gap: card.model.gap,
        seed: args.seed,
        scoring: Scoring::default(),
    };
    let report = evaluate_harmony(
        &model,
        &[dir.to_path_buf()],
        args.generate,
        &options,
        &device,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: {} chorales, {} steps, model {}",
        dir.display(),
        report.chorales,
        report.steps,
        model_path.display()
    );
    println!("voice     offline NLL  accuracy   live NLL  accuracy");
    let names = ["soprano", "alto", "tenor", "bass"];
    for (v, name) in names.iter().enumerate() {
        let live = match v {
            0 => "        -         -".to_string(),
            v => format!(
                "{:>9.3} {:>8.1}%",
                report.causal[v - 1].nll,
                100.0 * report.causal[v - 1].accuracy
            ),
        };
        println!(
            "{name:<8} {:>12.3} {:>8.1}% {live}",
            report.offline[v].nll,
            100.0 * report.offline[v].accuracy
        );
    }
    if let (Some(generated), Some(real)) = (&report.generated, &report.real) {
        println!(
            "\nthe model's alto, tenor and bass under {} sopranos ({} sweeps):",
            generated.chorales, args.sweeps
        );
        println!("{generated}");
        println!("Bach's, for the same chorales:");
        println!("{real}");
    }
    Ok(ExitCode::SUCCESS)
}
