//! Harmonising a 16-bar chorale (256 sixteenths) with 100 pseudo-Gibbs sweeps on one core: the
//! issue's target is under 10 s. The model is `models/chorale` when it has been trained, else an
//! untrained one of the shape `models/chorale/train.toml` gives (the time does not depend on the
//! weights). The baseline, in the same run, is the same harmonisation scored through candle
//! (`Scoring::Candle`, what `cantus harmonize` used before the vector kernels), for 10 sweeps
//! (its time per sweep is steady; 100 would take a minute).
//!
//! `cargo bench --bench harmonise`

use std::path::Path;
use std::time::{Duration, Instant};

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use cantus::harmony::data::{VoiceSteps, read_chorale};
use cantus::harmony::gibbs::{GibbsOptions, Scoring, harmonise};
use cantus::harmony::model::HarmonyModel;
use cantus::harmony::train::{HarmonyConfig, load_harmony_model};

const STEPS: usize = 256;
const SWEEPS: usize = 100;
const BASELINE_SWEEPS: usize = 10;
const TARGET: Duration = Duration::from_secs(10);

fn main() {
    // One core: candle's matrix products use as many threads as this allows.
    // Safety: set before any thread starts.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    pin_to_one_core();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let device = Device::Cpu;
    let folder = root.join("models/chorale");
    let (model, what) = match load_harmony_model(&folder, &device) {
        Ok((model, _)) => (model, "models/chorale"),
        Err(_) => {
            let config = HarmonyConfig::load(&folder.join("train.toml")).unwrap();
            let map = VarMap::new();
            let vb = VarBuilder::from_varmap(&map, DType::F32, &device);
            let model = HarmonyModel::new(config.model.shape(), vb).unwrap();
            (model, "an untrained model of models/chorale's shape")
        }
    };
    let chorale = read_chorale(&root.join("data/bach/valid/bwv110.7.mid")).unwrap();
    let mut piece = VoiceSteps::from_chorale(&chorale);
    for voice in &mut piece.voices {
        voice.resize(STEPS, 0);
    }
    let gap = model_gap(root);
    let run = |scoring: Scoring, sweeps: usize, seed: u64| {
        let options = GibbsOptions {
            sweeps,
            temperature: 1.0,
            gap,
            seed,
            scoring,
        };
        let started = Instant::now();
        let out = harmonise(
            &model,
            &piece,
            [true, false, false, false],
            &options,
            &device,
        );
        std::hint::black_box(out.unwrap());
        started.elapsed()
    };
    let mut times: Vec<Duration> = (0..3)
        .map(|seed| run(Scoring::Kernels, SWEEPS, seed))
        .collect();
    times.sort();
    let median = times[1].as_secs_f64();
    let baseline = run(Scoring::Candle, BASELINE_SWEEPS, 9).as_secs_f64();
    let baseline_per_sweep = baseline / BASELINE_SWEEPS as f64;
    let per_sweep = median / SWEEPS as f64;
    println!(
        "harmonise: {what}, {STEPS} steps (16 bars of 4/4), {SWEEPS} sweeps, gap {gap}, one core"
    );
    println!(
        "  vector kernels: median {median:.2} s of 3 (min {:.2}, max {:.2}); target {:.0} s: {:.2}x the target",
        times[0].as_secs_f64(),
        times[2].as_secs_f64(),
        TARGET.as_secs_f64(),
        median / TARGET.as_secs_f64()
    );
    println!(
        "  candle (baseline): {baseline:.2} s for {BASELINE_SWEEPS} sweeps, {:.1} ms a sweep against {:.1} ms: the kernels are {:.1}x faster",
        baseline_per_sweep * 1e3,
        per_sweep * 1e3,
        baseline_per_sweep / per_sweep
    );
}

fn model_gap(root: &Path) -> usize {
    HarmonyConfig::load(&root.join("models/chorale/train.toml"))
        .map_or(4, |config| config.model.gap)
}

/// Keeps this process on the first core it may use.
fn pin_to_one_core() {
    // Safety: plain sched_{get,set}affinity calls on this process with a zeroed, then filled set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return;
        }
        let first = (0..libc::CPU_SETSIZE as usize).find(|&cpu| libc::CPU_ISSET(cpu, &set));
        if let Some(cpu) = first {
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut one);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one);
        }
    }
}
