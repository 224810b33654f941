//! `cantus generate` as a user runs it: a random-weight melody model continuing a folk tune.

use cantus::music::Encoding;
use cantus::music::text::CharVocab;
use std::path::{Path, PathBuf};

#[path = "support/cli.rs"]
mod cli;
use cli::{cantus, save_random_model};

fn primer() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/ryans/train/7thRegimentReel.mid")
}

#[test]
fn generates_a_checkable_file_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    save_random_model(&model, Encoding::melody_events(4));
    let out = dir.path().join("out.mid");
    let (model_arg, primer_arg, out_arg) = (
        model.to_str().unwrap(),
        primer(),
        out.to_str().unwrap().to_string(),
    );
    let mut args = vec![
        "generate",
        "--model",
        model_arg,
        "--primer",
        primer_arg.to_str().unwrap(),
        "--steps",
        "64",
        "--seed",
        "7",
        "--top-p",
        "0.95",
        "-o",
        &out_arg,
    ];

    let first = cantus(&args);
    assert!(first.status.success(), "{first:?}");
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains("wrote") && stdout.contains("64 steps"),
        "{stdout}"
    );
    let written = std::fs::read(&out).expect("out.mid written");

    let check = cantus(&["data", "check", &out_arg]);
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && report.starts_with("OK "),
        "{report}"
    );

    let again = cantus(&args);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("exists"), "{stderr}");
    assert_eq!(std::fs::read(&out).unwrap(), written);

    args.push("--auto-name");
    let renamed = cantus(&args);
    assert!(renamed.status.success(), "{renamed:?}");
    let out_1 = dir.path().join("out-1.mid");
    assert_eq!(
        std::fs::read(&out_1).expect("out-1.mid written"),
        written,
        "the same seed gives the same file"
    );
    assert_eq!(std::fs::read(&out).unwrap(), written);

    // Another seed, another continuation; the next free name.
    *args.iter_mut().find(|a| **a == "7").unwrap() = "8";
    assert!(cantus(&args).status.success());
    assert_ne!(
        std::fs::read(dir.path().join("out-2.mid")).unwrap(),
        written
    );
}

#[test]
fn pitch_primers_abc_output_and_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    save_random_model(&model, Encoding::melody_events(4));
    let out = dir.path().join("tune.abc");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "generate",
            "--model",
            model.to_str().unwrap(),
            "--steps",
            "32",
        ];
        args.extend_from_slice(extra);
        cantus(&args)
    };
    let ok = run(&[
        "--primer",
        "60 62 64",
        "--greedy",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(ok.status.success(), "{ok:?}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.starts_with("X:1\n") && text.contains("L:1/16"),
        "{text}"
    );
    // The primer's three quarter notes open the tune.
    assert!(text.contains("C4 D4 E4"), "{text}");

    let bad_extension = run(&["-o", dir.path().join("x.wav").to_str().unwrap()]);
    assert!(!bad_extension.status.success());
    let bad_pitch = run(&[
        "--primer",
        "60 200",
        "-o",
        dir.path().join("y.mid").to_str().unwrap(),
    ]);
    assert!(!bad_pitch.status.success());
    assert!(String::from_utf8_lossy(&bad_pitch.stderr).contains("200"));
    assert!(!dir.path().join("y.mid").exists());
}

#[test]
fn char_and_interval_models_write_what_they_can() {
    let dir = tempfile::tempdir().unwrap();
    let chars = dir.path().join("chars");
    let vocabulary = CharVocab::from_corpus(["X:1\nT:Reel\nM:4/4\nL:1/8\nK:D\nABcd efga|]"]);
    save_random_model(&chars, Encoding::Chars { vocabulary });
    let run = |model: &Path, extra: &[&str]| {
        let mut args = vec![
            "generate",
            "--model",
            model.to_str().unwrap(),
            "--seed",
            "3",
        ];
        args.extend_from_slice(extra);
        cantus(&args)
    };

    // ABC text is written as generated, readable or not, and starts where the primer said.
    let text_out = dir.path().join("text.abc");
    let primer = "X:1\nT:Reel\nK:D\n";
    let written = run(
        &chars,
        &[
            "--primer",
            primer,
            "--steps",
            "40",
            "-o",
            text_out.to_str().unwrap(),
        ],
    );
    // A quoted primer that is neither pitches nor a file is refused.
    assert!(!written.status.success());
    let abc_primer = dir.path().join("primer.abc");
    std::fs::write(&abc_primer, primer).unwrap();
    let written = run(
        &chars,
        &[
            "--primer",
            abc_primer.to_str().unwrap(),
            "--steps",
            "40",
            "-o",
            text_out.to_str().unwrap(),
        ],
    );
    assert!(written.status.success(), "{written:?}");
    let text = std::fs::read_to_string(&text_out).unwrap();
    assert!(
        text.starts_with(primer) && text.chars().count() == primer.len() + 40,
        "{text:?}"
    );

    // MIDI needs readable ABC: either it was, or the error says why not.
    let midi_out = dir.path().join("text.mid");
    let converted = run(&chars, &["--steps", "40", "-o", midi_out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&converted.stderr);
    assert!(
        converted.status.success() == midi_out.exists()
            && (converted.status.success() || stderr.contains("not readable ABC")),
        "{converted:?}"
    );

    let intervals = dir.path().join("intervals");
    save_random_model(
        &intervals,
        Encoding::Intervals {
            min_pitch: 36,
            max_pitch: 96,
        },
    );
    let notes_out = dir.path().join("intervals.mid");
    let played = run(
        &intervals,
        &[
            "--primer",
            &primer_path(),
            "--steps",
            "30",
            "-o",
            notes_out.to_str().unwrap(),
        ],
    );
    assert!(played.status.success(), "{played:?}");
    let check = cantus(&["data", "check", notes_out.to_str().unwrap()]);
    assert!(check.status.success(), "{check:?}");
}

fn primer_path() -> String {
    primer().to_str().unwrap().to_string()
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .to_str()
        .unwrap()
        .to_string()
}

/// The notes count `generate` prints: "wrote …, N notes (seed …)".
fn notes_written(stdout: &str) -> usize {
    let before = stdout.split(" notes").next().unwrap_or_default();
    before.rsplit(' ').next().unwrap().parse().expect(stdout)
}

#[test]
fn a_shipped_preset_supplies_the_model_settings_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    let preset = repo("presets/folk-continue.toml");
    let run = |out: &str, extra: &[&str]| {
        let out = dir.path().join(out);
        let mut args = vec!["generate", "--preset", &preset, "--steps", "48"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-o", out.to_str().unwrap()]);
        (cantus(&args), out)
    };

    let (first, out) = run("a.mid", &["--seed", "5"]);
    assert!(first.status.success(), "{first:?}");
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(notes_written(&stdout) > 0, "{stdout}");
    let check = cantus(&["data", "check", out.to_str().unwrap()]);
    assert!(check.status.success(), "{check:?}");

    // A flag wins over the preset's temperature: greedy, so the seed no longer matters.
    let greedy = ["5", "6"].map(|seed| {
        let (output, out) = run(
            &format!("greedy-{seed}.mid"),
            &["--temperature", "0", "--seed", seed],
        );
        assert!(output.status.success(), "{output:?}");
        std::fs::read(out).unwrap()
    });
    assert_eq!(greedy[0], greedy[1]);
}

#[test]
fn a_broken_preset_or_no_model_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mid");
    let run = |preset_text: Option<&str>| {
        let mut args = vec!["generate", "-o", out.to_str().unwrap()];
        let file = dir.path().join("broken.toml");
        if let Some(text) = preset_text {
            std::fs::write(&file, text).unwrap();
            args.extend_from_slice(&["--preset", file.to_str().unwrap()]);
        }
        let output = cantus(&args);
        assert!(!output.status.success() && !out.exists(), "{output:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };

    let folk = repo("models/folk");
    let typo = run(Some(&format!(
        "name = \"t\"\nmodel = {folk:?}\n[settings]\ntempreature = 0.9\n"
    )));
    assert!(
        typo.contains("broken.toml:4") && typo.contains("unknown field `tempreature`"),
        "{typo}"
    );
    let missing = run(Some("name = \"m\"\nmodel = \"no-such-model\"\n"));
    assert!(
        missing.contains("broken.toml") && missing.contains("no-such-model: no such folder"),
        "{missing}"
    );
    let embedded = run(Some("name = \"e\"\n"));
    assert!(embedded.contains("--model"), "{embedded}");
    let neither = run(None);
    assert!(
        neither.contains("--model") && neither.contains("required"),
        "{neither}"
    );
}
