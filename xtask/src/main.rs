//! Project tasks, run as `cargo xtask <command>`:
//!
//! * `bundle cantus [--release]`: the CLAP and VST3 bundles in `target/bundled/` (nice-plug-xtask).
//! * `demo`: the main job: bundle the plugin in release mode, then generate a tune with the
//!   default `folk` model (primed by a tune from the validation split) into `out/`, and check it.
//! * `test`: what CI runs: bundle in debug mode with nice-plug's `assert_process_allocs` check
//!   (the host tests load that bundle, so any allocation in `process` aborts them), then
//!   `cargo test` for the whole workspace.

use std::process::Command;

type Result<T> = nice_plug_xtask::Result<T>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("demo") => demo(),
        Some("test") => test(&args[1..]),
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
    let mut args = vec!["test", "--workspace"];
    args.extend(extra.iter().map(String::as_str));
    run("cargo", &args)
}
