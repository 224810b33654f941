//! `cantus-train` as a user runs it: a killed run resumes to the same weights, and bad
//! situations (NaN loss, full disk, wrong invocations) stop with a clear message and lose
//! nothing.

use cantus::train::checkpoint;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const TRAIN: &str = env!("CARGO_BIN_EXE_cantus-train");

/// A folder with the first `count` folk tunes of the validation split.
fn tunes(count: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/ryans/valid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&source)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "abc"))
        .collect();
    files.sort();
    for file in files.iter().take(count) {
        std::fs::copy(file, dir.path().join(file.file_name().unwrap())).unwrap();
    }
    dir
}

/// A small configuration with dropout and random-key augmentation, so that resuming has to
/// restore every random stream.
fn config(data: &Path, output: &Path, training_extra: &str) -> String {
    format!(
        r#"name = "resume"
output = "{output}"
[data]
train = ["{data}"]
valid = ["{data}"]
encoding = "melody_events"
augment = "random_key"
[model]
cell = "lstm"
layers = 2
embedding = 8
hidden = 24
dropout = 0.2
[training]
sequence_length = 16
batch_size = 8
learning_rate = 0.005
lr_decay = 0.9
epochs = 3
clip_norm = 1.0
seed = 7
checkpoint_every = 3
{training_extra}
"#,
        output = output.display(),
        data = data.display()
    )
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("train.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn train(args: &[&str]) -> Output {
    Command::new(TRAIN)
        .args(args)
        .output()
        .expect("run cantus-train")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every tensor of a checkpoint, and its progress.
fn checkpoint_contents(output: &Path) -> (Vec<(String, Vec<f32>)>, checkpoint::Progress) {
    let (tensors, progress) = checkpoint::load(output, &candle_core::Device::Cpu).unwrap();
    let mut named: Vec<(String, Vec<f32>)> = tensors
        .into_iter()
        .map(|(name, t)| (name, t.flatten_all().unwrap().to_vec1().unwrap()))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    (named, progress)
}

#[test]
fn a_killed_run_resumes_to_the_same_weights() {
    let data = tunes(10);
    let work = tempfile::tempdir().unwrap();
    let (whole, killed) = (work.path().join("whole"), work.path().join("killed"));

    let path = write_config(work.path(), &config(data.path(), &whole, ""));
    let done = train(&["train", path.to_str().unwrap()]);
    assert!(done.status.success(), "{}", stderr(&done));

    // The same run, killed (SIGKILL) once a checkpoint shows it mid-way through the first epoch.
    let path = write_config(work.path(), &config(data.path(), &killed, ""));
    let mut child = Command::new(TRAIN)
        .args(["train", path.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let killed_at = loop {
        let progress = checkpoint::load(&killed, &candle_core::Device::Cpu).ok();
        if let Some((_, progress)) = progress.filter(|(_, p)| p.global_step >= 6) {
            break Some(progress);
        }
        if Instant::now() > deadline {
            break None;
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
    let resumed = train(&["train", path.to_str().unwrap(), "--resume"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));

    let (a, progress_a) = checkpoint_contents(&whole);
    let (b, progress_b) = checkpoint_contents(&killed);
    assert_eq!(a.len(), b.len());
    for ((name_a, values_a), (name_b, values_b)) in a.iter().zip(&b) {
        assert_eq!(name_a, name_b);
        assert!(values_a == values_b, "{name_a} differs after resuming");
    }
    assert!(progress_a.finished && progress_b.finished);
    assert_eq!(progress_a.history, {
        // Timing differs between runs; everything else must not.
        let mut h = progress_b.history.clone();
        for (x, y) in h.iter_mut().zip(&progress_a.history) {
            x.tokens_per_second = y.tokens_per_second;
        }
        h
    });
    let best = |dir: &Path| std::fs::read(dir.join("model.safetensors")).unwrap();
    assert_eq!(best(&whole), best(&killed));
    for file in ["model.json", "log.csv", "loss.png"] {
        assert!(killed.join(file).is_file(), "{file} missing");
    }
}

#[test]
fn an_exploding_loss_stops_and_keeps_the_last_good_checkpoint() {
    let data = tunes(4);
    let work = tempfile::tempdir().unwrap();
    let output = work.path().join("out");
    let text = config(data.path(), &output, "")
        .replace("learning_rate = 0.005", "learning_rate = 3e38")
        .replace("clip_norm = 1.0", "clip_norm = 0.0")
        .replace("checkpoint_every = 3", "checkpoint_every = 1");
    let path = write_config(work.path(), &text);
    let run = train(&["train", path.to_str().unwrap()]);
    assert!(!run.status.success());
    let message = stderr(&run);
    let stopped = message.contains("the loss became") || message.contains("overflowed");
    assert!(stopped && message.contains(" at step "), "{message}");
    assert!(!message.contains("panicked"), "{message}");
    // Checkpoints are written after every step here, yet none holds broken weights.
    if output.join(checkpoint::CHECKPOINT_FILE).exists() {
        let (tensors, progress) = checkpoint_contents(&output);
        assert!(tensors.iter().all(|(_, v)| v.iter().all(|x| x.is_finite())));
        assert!(message.contains(&format!(
            "checkpoint (step {}) is kept",
            progress.global_step
        )));
    }
}

#[test]
fn a_full_disk_while_saving_keeps_the_previous_checkpoint() {
    let data = tunes(4);
    let work = tempfile::tempdir().unwrap();
    let output = work.path().join("out");
    let path = write_config(work.path(), &config(data.path(), &output, "max_steps = 3"));
    let first = train(&["train", path.to_str().unwrap()]);
    assert!(first.status.success(), "{}", stderr(&first));
    let saved = std::fs::read(output.join(checkpoint::CHECKPOINT_FILE)).unwrap();

    // Continue with files limited to 8 KiB (the kernel refuses larger writes, as a full disk
    // would), so the next checkpoint cannot be written.
    let path = write_config(work.path(), &config(data.path(), &output, ""));
    let script = format!(
        "trap '' XFSZ; ulimit -f 8; exec {TRAIN} train {} --resume",
        path.display()
    );
    let run = Command::new("bash").args(["-c", &script]).output().unwrap();
    assert!(!run.status.success());
    let message = stderr(&run);
    assert!(
        message.contains("saving failed, the previous files are intact"),
        "{message}"
    );
    assert_eq!(
        std::fs::read(output.join(checkpoint::CHECKPOINT_FILE)).unwrap(),
        saved
    );
    let leftovers: Vec<_> = std::fs::read_dir(&output)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn mistakes_are_refused_before_anything_is_overwritten() {
    let data = tunes(4);
    let work = tempfile::tempdir().unwrap();
    let output = work.path().join("out");
    let path = write_config(work.path(), &config(data.path(), &output, "max_steps = 1"));
    let path = path.to_str().unwrap();

    let nothing = train(&["train", path, "--resume"]);
    assert!(
        stderr(&nothing).contains("nothing to resume"),
        "{}",
        stderr(&nothing)
    );
    assert!(train(&["train", path]).status.success());
    let again = train(&["train", path]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already holds a training run"),
        "{}",
        stderr(&again)
    );

    let empty = tempfile::tempdir().unwrap();
    let path = write_config(
        work.path(),
        &config(empty.path(), &work.path().join("e"), ""),
    );
    let run = train(&["train", path.to_str().unwrap()]);
    assert!(
        stderr(&run).contains("no usable piece in"),
        "{}",
        stderr(&run)
    );

    let text = config(data.path(), &work.path().join("long"), "")
        .replace("sequence_length = 16", "sequence_length = 100000")
        .replace("batch_size = 8", "batch_size = 1");
    let path = write_config(work.path(), &text);
    let run = train(&["train", path.to_str().unwrap()]);
    assert!(
        stderr(&run).contains("longer than every piece"),
        "{}",
        stderr(&run)
    );

    let run = train(&["train", path.to_str().unwrap(), "--device", "cuda"]);
    assert!(!run.status.success());
    assert!(stderr(&run).contains("CUDA"), "{}", stderr(&run));
}
