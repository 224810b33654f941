//! Audio models as a user runs them: `cantus-train train audio.toml` on generated sine and square
//! waves, `cantus generate` continuing them as WAV, and resuming a stopped or killed run.

use cantus::audio::decode::{decode_file, wav_bytes};
use cantus::train::audio::AUDIO_PROGRESS_KEY;
use cantus::train::audio::AudioProgress;
use cantus::train::checkpoint;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const TRAIN: &str = env!("CARGO_BIN_EXE_cantus-train");
const CANTUS: &str = env!("CARGO_BIN_EXE_cantus");
const RATE: u32 = 8000;

#[derive(Clone, Copy)]
enum Wave {
    Sine { hz: f64, amplitude: f64 },
    Square { hz: f64, amplitude: f64 },
}

impl Wave {
    /// Sample `i` of the wave, starting at `phase` (in periods).
    fn at(self, i: usize, phase: f64) -> f32 {
        let t = i as f64 / f64::from(RATE);
        (match self {
            Wave::Sine { hz, amplitude } => {
                amplitude * (std::f64::consts::TAU * (hz * t + phase)).sin()
            }
            Wave::Square { hz, amplitude } => {
                if (hz * t + phase).rem_euclid(1.0) < 0.5 {
                    amplitude
                } else {
                    -amplitude
                }
            }
        }) as f32
    }

    fn samples(self, count: usize, phase: f64) -> Vec<f32> {
        (0..count).map(|i| self.at(i, phase)).collect()
    }
}

const SINE: Wave = Wave::Sine {
    hz: 220.0,
    amplitude: 0.6,
};
const SQUARE: Wave = Wave::Square {
    hz: 150.0,
    amplitude: 0.5,
};

fn write_wav(path: &Path, samples: &[f32]) {
    std::fs::write(path, wav_bytes(samples, RATE)).unwrap();
}

fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program).args(args).output().expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{program} panicked: {stderr}");
    output
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Pearson correlation of two equally long signals.
fn correlation(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let n = a.len() as f64;
    let mean = |x: &[f32]| x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (ma, mb) = (mean(a), mean(b));
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x) - ma, f64::from(y) - mb);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa * bb).sqrt().max(1e-12)
}

/// An audio configuration over `data`, writing to `output`; `extra` goes into `[training]`.
fn config(data: &Path, output: &Path, model: &str, training: &str) -> String {
    format!(
        r#"kind = "audio"
name = "waves"
output = "{output}"
[data]
train = ["{data}"]
sample_rate = {RATE}
block_size = 32
[model]
{model}
[training]
iterations = 100
epochs = 2
batch_size = 8
sequence_length = 16
learning_rate = 0.01
lr_decay = 0.7
input_noise = 0.05
seed = 1
{training}
"#,
        output = output.display(),
        data = data.display()
    )
}

fn waves_folder(root: &Path) -> PathBuf {
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    write_wav(
        &data.join("sine.wav"),
        &SINE.samples(2 * RATE as usize, 0.0),
    );
    write_wav(
        &data.join("square.wav"),
        &SQUARE.samples(2 * RATE as usize, 0.0),
    );
    data
}

#[test]
fn audio_model_learns_and_continues_sine_and_square_waves() {
    let work = tempfile::tempdir().unwrap();
    let data = waves_folder(work.path());
    let output = work.path().join("waves");
    let path = work.path().join("audio.toml");
    std::fs::write(
        &path,
        config(
            &data,
            &output,
            "cell = \"lstm\"\nhidden = 48",
            "checkpoint_every = 50",
        ),
    )
    .unwrap();

    // The flags replace the file's 100 iterations × 2 epochs × batch 8.
    let started = Instant::now();
    let trained = run(
        TRAIN,
        &[
            "train",
            path.to_str().unwrap(),
            "--iterations",
            "150",
            "--epochs",
            "4",
            "--batch-size",
            "16",
        ],
    );
    assert!(trained.status.success(), "{}", text(&trained));
    let training_time = started.elapsed();
    let log = std::fs::read_to_string(output.join("log.csv")).unwrap();
    let rows: Vec<&str> = log.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "{log}");
    assert!(rows[3].starts_with("4,600,"), "{log}");
    let mse = |row: &str| row.split(',').nth(2).unwrap().parse::<f64>().unwrap();
    assert!(mse(rows[3]) < mse(rows[0]), "the loss did not fall: {log}");
    for file in [
        "model.json",
        "model.safetensors",
        "primer.wav",
        "loss.png",
        "checkpoint.safetensors",
        "checkpoints/epoch-004.safetensors",
    ] {
        assert!(output.join(file).is_file(), "{file} missing");
    }
    let card = std::fs::read_to_string(output.join("model.json")).unwrap();
    assert!(card.contains("\"kind\": \"audio\""), "{card}");

    // Each wave, primed with 8 blocks at a phase of its own, continues as itself.
    let seconds = 0.25;
    let primer_length = 8 * 32;
    let continuation = (seconds * f64::from(RATE)) as usize;
    let mut report = Vec::new();
    for (name, wave) in [("sine", SINE), ("square", SQUARE)] {
        let primer = work.path().join(format!("{name}-primer.wav"));
        write_wav(&primer, &wave.samples(primer_length, 0.3));
        let out = work.path().join(format!("{name}-out.wav"));
        let generated = run(
            CANTUS,
            &[
                "generate",
                "--model",
                output.to_str().unwrap(),
                "--seconds",
                &seconds.to_string(),
                "--primer",
                primer.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
        );
        assert!(generated.status.success(), "{}", text(&generated));
        assert!(out.with_extension("png").is_file(), "no waveform picture");
        let written = decode_file(&out).unwrap();
        assert_eq!(written.info.sample_rate, RATE);
        assert_eq!(written.mono.len(), primer_length + continuation);
        let truth = wave.samples(primer_length + continuation, 0.3);
        let r = correlation(&written.mono[primer_length..], &truth[primer_length..]);
        report.push(format!("{name} {r:.4}"));
        assert!(
            r > 0.9,
            "{name}: correlation {r:.4} with the true continuation"
        );
    }
    eprintln!(
        "trained in {:.1} s ({}); correlations: {}",
        training_time.as_secs_f64(),
        rows[3],
        report.join(", ")
    );

    // The output is never overwritten; --auto-name finds a free name, picture included.
    let out = work.path().join("sine-out.wav");
    let before = std::fs::read(&out).unwrap();
    let mut args = vec![
        "generate",
        "--model",
        output.to_str().unwrap(),
        "--seconds",
        "0.1",
        "--seed",
        "3",
        "-o",
        out.to_str().unwrap(),
    ];
    let again = run(CANTUS, &args);
    assert!(!again.status.success());
    assert!(text(&again).contains("not overwriting"), "{}", text(&again));
    assert_eq!(std::fs::read(&out).unwrap(), before);
    args.push("--auto-name");
    // Without --primer, an excerpt of the training audio stored with the model starts it.
    let numbered = run(CANTUS, &args);
    assert!(numbered.status.success(), "{}", text(&numbered));
    let second = work.path().join("sine-out-1.wav");
    assert!(second.with_extension("png").is_file());
    let written = decode_file(&second).unwrap();
    assert_eq!(written.mono.len(), 2 * 16 * 32 + 800);
    assert_eq!(std::fs::read(&out).unwrap(), before);
}

/// Every tensor of an audio checkpoint file, sorted by name, and its progress.
fn checkpoint_contents(path: &Path) -> (Vec<(String, Vec<f32>)>, AudioProgress) {
    let (tensors, progress): (HashMap<String, candle_core::Tensor>, AudioProgress) =
        checkpoint::load_file(path, &candle_core::Device::Cpu, AUDIO_PROGRESS_KEY).unwrap();
    let mut flat: Vec<(String, Vec<f32>)> = tensors
        .into_iter()
        .map(|(k, t)| (k, t.flatten_all().unwrap().to_vec1().unwrap()))
        .collect();
    flat.sort_by(|a, b| a.0.cmp(&b.0));
    (flat, progress)
}

const SMALL_MODEL: &str = "cell = \"gru\"\nlayers = 2\nhidden = 12";

#[test]
fn audio_run_stopped_or_resumed_from_any_checkpoint_ends_with_the_same_weights() {
    let work = tempfile::tempdir().unwrap();
    let data = waves_folder(work.path());
    let train_with = |name: &str, extra: &str, args: &[&str]| -> (PathBuf, Output) {
        let output = work.path().join(name);
        let path = work.path().join(format!("{name}.toml"));
        let training = format!("iterations = 12\nepochs = 3\ncheckpoint_every = 5\n{extra}");
        let text = config(&data, &output, SMALL_MODEL, &training)
            .replace("iterations = 100\nepochs = 2\n", "");
        std::fs::write(&path, text).unwrap();
        let mut all = vec!["train", path.to_str().unwrap()];
        all.extend_from_slice(args);
        (output, run(TRAIN, &all))
    };
    let (whole, done) = train_with("whole", "", &[]);
    assert!(done.status.success(), "{}", text(&done));

    // Stopped mid-epoch by max_steps, then resumed from the latest checkpoint.
    let (paused, stopped) = train_with("paused", "max_steps = 17", &[]);
    assert!(text(&stopped).contains("paused"), "{}", text(&stopped));
    let (_, at_stop) = checkpoint_contents(&paused.join("checkpoint.safetensors"));
    assert_eq!(
        (at_stop.global_step, at_stop.epoch, at_stop.finished),
        (17, 1, false)
    );
    let (_, resumed) = train_with("paused", "", &["--resume"]);
    assert!(resumed.status.success(), "{}", text(&resumed));

    // Resumed again from the first epoch's checkpoint, given by path, after finishing.
    let epoch_one = paused.join("checkpoints/epoch-001.safetensors");
    let (_, again) = train_with("paused", "", &["--resume", epoch_one.to_str().unwrap()]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains("step 12"), "{}", text(&again));

    let (a, progress_a) = checkpoint_contents(&whole.join("checkpoint.safetensors"));
    let (b, progress_b) = checkpoint_contents(&paused.join("checkpoint.safetensors"));
    assert_eq!(progress_a.global_step, 36);
    assert_eq!(without_rates(&progress_a), without_rates(&progress_b));
    assert_eq!(a, b, "weights or moments differ after resuming");
    assert_eq!(
        std::fs::read(whole.join("model.safetensors")).unwrap(),
        std::fs::read(paused.join("model.safetensors")).unwrap()
    );
}

/// The history without throughput, which differs from run to run.
fn without_rates(progress: &AudioProgress) -> Vec<(usize, u64, f64, Option<f64>, f64)> {
    progress
        .history
        .iter()
        .map(|r| (r.epoch, r.steps, r.train_mse, r.valid_mse, r.learning_rate))
        .collect()
}

#[test]
fn audio_killed_run_resumes_from_its_last_checkpoint() {
    let work = tempfile::tempdir().unwrap();
    let data = waves_folder(work.path());
    let output = work.path().join("killed");
    let path = work.path().join("killed.toml");
    let text_config = config(
        &data,
        &output,
        "cell = \"gru\"\nhidden = 8",
        "checkpoint_every = 5",
    )
    .replace(
        "iterations = 100\nepochs = 2",
        "iterations = 400\nepochs = 1",
    )
    .replace("sequence_length = 16", "sequence_length = 4")
    .replace("batch_size = 8", "batch_size = 2");
    std::fs::write(&path, text_config).unwrap();
    let latest = output.join("checkpoint.safetensors");
    let mut child = Command::new(TRAIN)
        .args(["train", path.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let killed_at = loop {
        let progress = checkpoint::load_file::<AudioProgress>(
            &latest,
            &candle_core::Device::Cpu,
            AUDIO_PROGRESS_KEY,
        )
        .ok()
        .map(|(_, p)| p);
        if progress.as_ref().is_some_and(|p| p.global_step >= 10) || Instant::now() > deadline {
            break progress;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_at = killed_at.expect("no checkpoint appeared");
    assert!(
        !killed_at.finished,
        "the run finished before it could be killed"
    );
    // The kill may land after a later checkpoint than the one seen; resuming starts from the
    // one on disk now.
    let (_, on_disk) = checkpoint_contents(&latest);
    let resumed = run(TRAIN, &["train", path.to_str().unwrap(), "--resume"]);
    assert!(resumed.status.success(), "{}", text(&resumed));
    assert!(
        text(&resumed).contains(&format!("step {}", on_disk.global_step)),
        "{}",
        text(&resumed)
    );
    let (_, end) = checkpoint_contents(&latest);
    assert!(end.finished);
    assert_eq!(end.global_step, 400);
    assert!(output.join("model.json").is_file() && output.join("loss.png").is_file());
}

#[test]
fn audio_resume_refuses_what_does_not_fit() {
    let work = tempfile::tempdir().unwrap();
    let data = waves_folder(work.path());
    let output = work.path().join("run");
    let path = work.path().join("audio.toml");
    let training = "checkpoint_every = 5";
    let small = config(&data, &output, SMALL_MODEL, training)
        .replace("iterations = 100\nepochs = 2", "iterations = 5\nepochs = 1");
    std::fs::write(&path, &small).unwrap();
    let first = run(TRAIN, &["train", path.to_str().unwrap()]);
    assert!(first.status.success(), "{}", text(&first));

    // The same output again without --resume: refused, nothing touched.
    let before = std::fs::read(output.join("checkpoint.safetensors")).unwrap();
    let again = run(TRAIN, &["train", path.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("already holds a training run"),
        "{}",
        text(&again)
    );

    // A wider model cannot continue this checkpoint: the tensor and both shapes are named.
    std::fs::write(&path, small.replace("hidden = 12", "hidden = 20")).unwrap();
    let wider = run(TRAIN, &["train", path.to_str().unwrap(), "--resume"]);
    assert!(!wider.status.success());
    let message = text(&wider);
    assert!(
        message.contains(
            "checkpoint.safetensors: weight head.weight has shape [32, 12], this configuration's \
             model needs [32, 20]"
        ),
        "{message}"
    );
    assert_eq!(
        std::fs::read(output.join("checkpoint.safetensors")).unwrap(),
        before
    );

    // Not a checkpoint, and no such file.
    std::fs::write(&path, &small).unwrap();
    let garbage = work.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"not a checkpoint").unwrap();
    let bad = run(
        TRAIN,
        &[
            "train",
            path.to_str().unwrap(),
            "--resume",
            garbage.to_str().unwrap(),
        ],
    );
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains("garbage.safetensors: not a usable checkpoint"),
        "{}",
        text(&bad)
    );
    let missing = run(
        TRAIN,
        &[
            "train",
            path.to_str().unwrap(),
            "--resume",
            "nowhere.safetensors",
        ],
    );
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("nowhere.safetensors"),
        "{}",
        text(&missing)
    );

    // --iterations means nothing to a symbolic configuration.
    let symbolic = work.path().join("symbolic.toml");
    let symbolic_text = "name = \"x\"\noutput = \"o\"\n[data]\ntrain = [\"d\"]\n\
        encoding = \"melody_events\"\n[model]\ncell = \"gru\"\nlayers = 1\nembedding = 4\n\
        hidden = 4\n[training]\nsequence_length = 8\nbatch_size = 2\nlearning_rate = 0.01\n\
        epochs = 1\n";
    std::fs::write(&symbolic, symbolic_text).unwrap();
    let flag = run(
        TRAIN,
        &["train", symbolic.to_str().unwrap(), "--iterations", "3"],
    );
    assert!(!flag.status.success());
    assert!(
        text(&flag).contains("--iterations applies to audio"),
        "{}",
        text(&flag)
    );
}
