//! The VST3 bundle in a real DAW: Ardour 7, headless. Ardour's scanner indexes a copy of the
//! bundle, then `ardour7-lua` (Ardour's session engine driven by Lua, no GUI, no display) puts
//! Cantus on a MIDI track on the dummy audio backend, rolls the transport and measures the
//! track's output and the plugin's MIDI out (`tests/ardour/play.lua`).
//!
//! Needs `target/bundled/cantus.vst3` (`cargo xtask test` builds it with the allocation check,
//! so an allocation in `process()` aborts Ardour and fails this test) and Debian's `ardour`
//! package. Without Ardour the test says it skipped and passes, unless `CANTUS_REQUIRE_ARDOUR=1`
//! (CI sets it, so a broken install cannot pass silently).
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use std::collections::HashMap;
use std::fs::{self, File};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

const ARDOUR_LUA: &str = "ardour7-lua";
const REQUIRE_VAR: &str = "CANTUS_REQUIRE_ARDOUR";
/// Where Debian keeps Ardour's helpers when the `ardour7-lua` wrapper does not say.
const DEFAULT_ARDOUR_LIB_DIR: &str = "/usr/lib/ardour7";
const PLUGIN_NAME: &str = "Cantus";
const TEMPO_BPM: u32 = 120;
/// How long `play.lua` rolls at most waiting for sound and MIDI; it stops one second after both
/// arrive (the debug engine needs a moment to warm up).
const MAX_ROLL_SECONDS: u32 = 15;
const SCAN_TIMEOUT: Duration = Duration::from_secs(30);
const SESSION_TIMEOUT: Duration = Duration::from_secs(60);
/// The built-in voice plays at −12 dB by default; the dummy backend adds no noise, so anything
/// above this is the plugin sounding.
const SILENCE_DB: f64 = -60.0;

#[test]
fn cantus_vst3_plays_in_ardour_7() {
    let Some(ardour_lua) = find_on_path(ARDOUR_LUA) else {
        assert!(
            std::env::var_os(REQUIRE_VAR).is_none_or(|value| value != "1"),
            "{ARDOUR_LUA} is not on PATH but {REQUIRE_VAR}=1: install Ardour 7 \
             (apt-get install --no-install-recommends ardour)"
        );
        println!("skipped: Ardour 7 not installed (apt-get install ardour)");
        return;
    };
    let lib_dir = ardour_lib_dir(&ardour_lua);
    let scanner = lib_dir.join("ardour-vst3-scanner");
    assert!(
        scanner.is_file(),
        "{} is missing although {} exists: a broken Ardour install?",
        scanner.display(),
        ardour_lua.display()
    );

    // A private home: Ardour searches `~/.vst3` and keeps its cache and configuration under the
    // XDG folders, so nothing of the user's Ardour set-up is read or changed.
    let temp = tempfile::tempdir().expect("temporary directory");
    let home = temp.path().join("home");
    let bundle = home.join(".vst3/cantus.vst3");
    copy_dir(&common::bundled("cantus.vst3"), &bundle);
    // Ardour trusts a cache entry only when the module is older than it, to the second, and the
    // scanner stamps the entry with the module's time if that is later: a copy scanned within
    // the second it was made would be "stale" and the plugin silently missing.
    backdate_files(&bundle, Duration::from_secs(60));
    let scripts = home.join(".config/ardour7/scripts");
    fs::create_dir_all(&scripts).expect("create the Lua scripts folder");
    fs::copy(
        tests_dir().join("midi_counter.lua"),
        scripts.join("midi_counter.lua"),
    )
    .expect("copy midi_counter.lua");

    // Ardour only reads its plugin cache when run headless: index the bundle first.
    let mut scan = ardour_command(&scanner, &home);
    scan.env("LD_LIBRARY_PATH", &lib_dir)
        .args(["--force", "--verbose"])
        .arg(&bundle);
    let (status, output) = run(scan, &temp.path().join("scan.log"), SCAN_TIMEOUT);
    assert!(
        status.is_some_and(|status| status.success()),
        "the VST3 scanner failed ({}) on {}:\n{output}",
        describe(status),
        bundle.display()
    );
    let cache = home.join(".cache/ardour7/vst");
    let indexed = fs::read_dir(&cache)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "v3i"))
        .filter_map(|entry| fs::read_to_string(entry.path()).ok())
        .any(|text| text.contains(&format!("name=\"{PLUGIN_NAME}\"")));
    assert!(
        indexed,
        "the scanner wrote no .v3i entry named {PLUGIN_NAME} into {}; its output:\n{output}",
        cache.display()
    );

    let mut session = ardour_command(&ardour_lua, &home);
    session
        .arg("--exit-when-halted")
        .arg(tests_dir().join("play.lua"))
        .arg(temp.path().join("session"))
        .arg(PLUGIN_NAME)
        .arg(TEMPO_BPM.to_string())
        .arg(MAX_ROLL_SECONDS.to_string());
    let started = Instant::now();
    let (status, output) = run(session, &temp.path().join("session.log"), SESSION_TIMEOUT);
    println!(
        "{ARDOUR_LUA} ran {:.1} s:\n{output}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        status.is_some_and(|status| status.success()),
        "{ARDOUR_LUA} failed ({}); its output is above",
        describe(status)
    );

    let results: HashMap<&str, &str> = output
        .lines()
        .filter_map(|line| line.strip_prefix("result: ")?.split_once(' '))
        .collect();
    let result = |key: &str| {
        *results
            .get(key)
            .unwrap_or_else(|| panic!("play.lua printed no `{key}` result; its output is above"))
    };
    let number = |key: &str| -> f64 {
        result(key)
            .parse()
            .unwrap_or_else(|_| panic!("`{key}` is not a number: {}", result(key)))
    };
    assert_eq!(result("found"), PLUGIN_NAME, "Ardour listed another plugin");
    assert_eq!(result("active"), "true", "the Cantus insert is not active");
    assert_eq!(
        number("tempo"),
        f64::from(TEMPO_BPM),
        "the tempo was not set"
    );
    assert_eq!(result("rolling"), "true", "the transport did not roll");
    assert!(
        number("peak-before-roll-db") <= SILENCE_DB,
        "the track sounded before the transport rolled ({} dB): Sync to host is on by default",
        number("peak-before-roll-db")
    );
    assert!(
        number("peak-db") > SILENCE_DB,
        "Cantus stayed silent for {} s of rolling at {TEMPO_BPM} BPM: peak {} dB",
        result("seconds-rolled"),
        number("peak-db")
    );
    assert!(
        number("note-ons") > 0.0,
        "Cantus sounded but sent no note-on to its MIDI output ({} MIDI events)",
        result("midi-events")
    );
    assert_eq!(result("stopped"), "true", "the transport did not stop");
    assert_eq!(result("done"), "true", "the session did not close");
}

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ardour")
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// The folder of Ardour's libraries and helpers, as the `ardour7-lua` shell wrapper exports it.
fn ardour_lib_dir(wrapper: &Path) -> PathBuf {
    fs::read_to_string(wrapper)
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.trim().strip_prefix("export ARDOUR_DLL_PATH="))
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ARDOUR_LIB_DIR))
}

/// A command in the private home, without a display: the test must pass on a headless machine.
fn ardour_command(program: &Path, home: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null());
    command
}

/// Runs `command` with stdout and stderr interleaved into `log`, killing it after `timeout`.
/// Returns its exit status (`None` when killed for the timeout) and everything it printed.
fn run(mut command: Command, log: &Path, timeout: Duration) -> (Option<ExitStatus>, String) {
    let file = File::create(log).expect("create the log file");
    command
        .stdout(file.try_clone().expect("clone the log file"))
        .stderr(file);
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = String::from_utf8_lossy(&fs::read(log).unwrap_or_default()).into_owned();
    (status, output)
}

fn describe(status: Option<ExitStatus>) -> String {
    match status {
        None => "killed after its time limit".to_owned(),
        Some(status) => match status.signal() {
            Some(signal) => format!("killed by signal {signal}"),
            None => format!("exit status {}", status.code().unwrap_or(-1)),
        },
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("cannot create {}: {e}", to.display()));
    for entry in
        fs::read_dir(from).unwrap_or_else(|e| panic!("cannot read {}: {e}", from.display()))
    {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("cannot copy {}: {e}", entry.path().display()));
        }
    }
}

fn backdate_files(dir: &Path, by: Duration) {
    let time = SystemTime::now() - by;
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
    {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            backdate_files(&path, by);
        } else {
            File::options()
                .write(true)
                .open(&path)
                .and_then(|file| file.set_modified(time))
                .unwrap_or_else(|e| panic!("cannot set the time of {}: {e}", path.display()));
        }
    }
}
