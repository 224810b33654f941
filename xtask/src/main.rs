//! Project tasks, run as `cargo xtask <command>`:
//!
//! * `bundle cantus [--release]`: the CLAP and VST3 bundles in `target/bundled/` (nice-plug-xtask).
//! * `demo`: the main job: bundle the plugin in release mode, then generate a tune with the
//!   default `folk` model (primed by a tune from the validation split) into `out/`, and check it.
//! * `test`: what CI runs: bundle in debug mode with nice-plug's `assert_process_allocs` check
//!   (the host tests load that bundle, so any allocation in `process` aborts them), then
//!   `cargo test` for the whole workspace, with the `standalone` feature (`cantus-standalone`).
//! * `bench`: the benchmarks, on a release bundle: bundle in release mode, copy the CLAP bundle
//!   to `target/bench/` (the process benchmark loads it from there, never the debug test bundle,
//!   which is put back in `target/bundled/` afterwards), then `cargo bench` for the `process`,
//!   `stress`, `step` and `harmonise` benchmarks. The stress run's length and speed come from
//!   `CANTUS_STRESS_MINUTES` and `CANTUS_STRESS_SPEED` (see benches/stress.rs).

use std::path::Path;
use std::process::Command;

type Result<T> = nice_plug_xtask::Result<T>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("demo") => demo(),
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
        _ => nice_plug_xtask::main_with_args("cargo xtask", args),
    }
}

fn bundle(profile_args: &[&str]) -> Result<()> {
    let args = ["bundle", "cantus"].iter().chain(profile_args);
    nice_plug_xtask::main_with_args("cargo xtask", args.map(|s| s.to_string()))
}

fn run(program: &str, args: &[&str]) -> Result<()> {
    println!("$ {program} {}", args.join(" "));
    let status = Command::new(program).args(args).status()?;
    if !status.success() {
        anyhow::bail!("`{program} {}` failed: {status}", args.join(" "));
    }
    Ok(())
}

fn demo() -> Result<()> {
    bundle(&["--release"])?;
    let cantus = "target/release/cantus";
    std::fs::create_dir_all("out")?;
    let primer = "data/ryans/valid/BanjoReel.mid";
    for output in ["out/demo.mid", "out/demo.abc"] {
        run(
            cantus,
            &[
                "generate",
                "--model",
                "models/folk",
                "--primer",
                primer,
                "--steps",
                "256",
                "--temperature",
                "0.9",
                "--seed",
                "1",
                "--auto-name",
                "-o",
                output,
            ],
        )?;
    }
    run(cantus, &["data", "check", "out"])?;
    println!("\nPlugin bundles: target/bundled/cantus.clap, target/bundled/cantus.vst3");
    println!("Generated music: out/ (the primer, then 256 steps of the folk model)");
    Ok(())
}

fn test(extra: &[String]) -> Result<()> {
    bundle(&["--features", "assert_process_allocs"])?;
    // With the standalone (`cantus-standalone`), so tests/jam_standalone.rs can run it.
    let mut args = vec!["test", "--workspace", "--features", "cantus/standalone"];
    args.extend(extra.iter().map(String::as_str));
    run("cargo", &args)
}

fn bench(extra: &[String]) -> Result<()> {
    let bundled = Path::new("target/bundled");
    let bench_dir = Path::new("target/bench");
    std::fs::create_dir_all(bench_dir)?;
    // Keep a copy of the bundles already there (the debug test bundle, usually) to put back
    // after: copied, not moved, so tests running meanwhile still find one.
    let names = ["cantus.clap", "cantus.vst3", "cantus"];
    let kept = bench_dir.join("kept");
    remove_all(&kept)?;
    std::fs::create_dir_all(&kept)?;
    for name in names {
        if bundled.join(name).exists() {
            copy_all(&bundled.join(name), &kept.join(name))?;
        }
    }
    let built = bundle(&["--release"]).and_then(|()| {
        let target = bench_dir.join("cantus.clap");
        copy_all(&bundled.join("cantus.clap"), &target)?;
        println!("Release bundle for the benchmarks: {}", target.display());
        Ok(())
    });
    for name in names {
        if kept.join(name).exists() {
            remove_all(&bundled.join(name))?;
            std::fs::rename(kept.join(name), bundled.join(name))?;
        }
    }
    built?;
    let mut args = vec![
        "bench",
        "--bench",
        "process",
        "--bench",
        "stress",
        "--bench",
        "step",
        "--bench",
        "harmonise",
    ];
    args.extend(extra.iter().map(String::as_str));
    run("cargo", &args)
}

/// Copies a file or a folder (a bundle is either, by platform), replacing what is at `to`.
fn copy_all(from: &Path, to: &Path) -> Result<()> {
    remove_all(to)?;
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_all(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else {
        std::fs::copy(from, to)?;
    }
    Ok(())
}

fn remove_all(path: &Path) -> Result<()> {
    if path.is_dir() {
        std::fs::remove_dir_all(path)?;
    } else if path.exists() {
        std::fs::remove_file(path)?;
    }
    Ok(())
}
