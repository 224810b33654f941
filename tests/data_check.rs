//! `cantus data check` as a user runs it: on the shipped corpora and on a folder of bad files.

use std::path::{Path, PathBuf};
use std::process::Command;

fn cantus(args: &[&str]) -> (String, bool) {
    let output = Command::new(env!("CARGO_BIN_EXE_cantus"))
        .args(args)
        .output()
        .expect("run cantus");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "cantus panicked: {stderr}");
    (
        String::from_utf8(output.stdout).expect("UTF-8 output"),
        output.status.success(),
    )
}

fn data_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(sub)
}

/// Lines for files of one extension: (usable, total).
fn count(stdout: &str, extension: &str) -> (usize, usize) {
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.split(':').next().unwrap_or("").ends_with(extension))
        .collect();
    let usable = lines.iter().filter(|l| l.starts_with("OK ")).count();
    (usable, lines.len())
}

#[test]
fn every_chorale_is_usable() {
    let (stdout, ok) = cantus(&["data", "check", data_dir("bach").to_str().unwrap()]);
    assert!(ok);
    assert_eq!(
        stdout.lines().last(),
        Some("checked 369 files: 369 usable, 0 rejected")
    );
}

#[test]
fn at_least_99_percent_of_the_folk_tunes_are_usable() {
    let (stdout, ok) = cantus(&["data", "check", data_dir("ryans").to_str().unwrap()]);
    assert!(ok);
    let (usable_abc, abc) = count(&stdout, ".abc");
    let (usable_midi, midi) = count(&stdout, ".mid");
    assert_eq!((abc, midi), (961, 961));
    assert!(
        usable_abc * 100 >= abc * 99,
        "{usable_abc} of {abc} ABC tunes usable"
    );
    assert_eq!(usable_midi, midi);
    let summary = stdout.lines().last().unwrap();
    assert!(summary.starts_with("checked 1922 files: "), "{summary}");
}

#[test]
fn bad_files_are_rejected_with_a_reason_and_the_rest_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let chorale = std::fs::read(data_dir("bach/train/bwv10.7.mid")).unwrap();
    std::fs::write(path("good.mid"), &chorale).unwrap();
    std::fs::write(path("truncated.mid"), &chorale[..30]).unwrap();
    std::fs::write(path("cut-short.mid"), &chorale[..600]).unwrap();
    std::fs::write(path("empty.mid"), b"").unwrap();
    std::fs::write(
        path("junk.mid"),
        [0x13u8, 0x37, 0xff, 0x00, 0x42].repeat(100),
    )
    .unwrap();
    std::fs::write(path("junk.abc"), [0x00u8, 0xfe, 0x01].repeat(50)).unwrap();
    std::fs::write(
        path("no-notes.abc"),
        "X:1\nT:Silence\nM:4/4\nK:G\nz4 | z4 |]\n",
    )
    .unwrap();
    std::fs::write(
        path("two-tunes.abc"),
        "X:1\nT:Good\nK:D\nDEF|\n\nX:2\nT:Empty\nK:D\n",
    )
    .unwrap();
    std::fs::write(path("not-music.txt"), "ignored").unwrap();
    std::fs::create_dir(path("folder.mid")).unwrap();
    std::fs::write(path("folder.mid/nested.abc"), "X:1\nK:C\nCDE|\n").unwrap();

    let (stdout, ok) = cantus(&["data", "check", dir.path().to_str().unwrap()]);
    assert!(ok, "some files are usable, so exit 0");
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.contains(&format!("/{name}:")))
            .unwrap_or_else(|| panic!("no line for {name} in\n{stdout}"))
    };
    assert!(line("good.mid").starts_with("OK "));
    assert!(line("nested.abc").starts_with("OK "));
    assert!(
        line("two-tunes.abc").contains("tune 2: no notes"),
        "{stdout}"
    );
    for (name, reason) in [
        ("empty.mid", "byte 0"),
        ("junk.mid", "byte 0"),
        ("junk.abc", "line 1, column 1: binary data"),
        ("no-notes.abc", "no notes"),
    ] {
        let l = line(name);
        assert!(l.starts_with("REJECT "), "{l}");
        assert!(l.contains(reason), "{l} should say {reason}");
    }
    assert!(line("truncated.mid").contains("REJECT ") && line("truncated.mid").contains("byte 29"));
    // Damage late in a file keeps what came before it, and says where.
    let cut = line("cut-short.mid");
    assert!(
        cut.starts_with("OK ") && cut.contains("damaged at byte 597"),
        "{cut}"
    );
    assert!(!stdout.contains("not-music.txt"));
    assert_eq!(
        stdout.lines().last(),
        Some("checked 9 files: 4 usable, 5 rejected")
    );
}

#[test]
fn a_folder_with_nothing_usable_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.abc"), "").unwrap();
    let (stdout, ok) = cantus(&["data", "check", dir.path().to_str().unwrap()]);
    assert!(!ok);
    assert_eq!(
        stdout.lines().last(),
        Some("checked 1 files: 0 usable, 1 rejected")
    );
}

#[test]
fn stats_describe_the_corpus() {
    let (stdout, ok) = cantus(&["data", "stats", data_dir("bach/valid").to_str().unwrap()]);
    assert!(ok);
    assert!(stdout.contains("pieces: 50"), "{stdout}");
    for field in [
        "steps: ",
        "pitch range: ",
        "keys: ",
        "conjunct motion",
        "centricity",
    ] {
        assert!(stdout.contains(field), "missing {field} in {stdout}");
    }
}
