//! Per-step latency of a 2-layer 256-unit LSTM (embedding 32, vocabulary 130, random weights):
//! candle's `Network::step` against `FastNetwork::step`, then a summary that puts both against
//! the memory-bandwidth bound of a step: the bytes of weights it reads divided by a measured copy
//! bandwidth, once for main memory (256 MiB buffers) and once for a buffer the size of the
//! weights (which then stay in cache, as they do when the model runs step after step).
//!
//! `cargo bench --bench step`

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use cantus::model::fast::FastNetwork;
use cantus::model::network::network;
use cantus::model::{CellKind, Network, NetworkConfig};
use criterion::Criterion;
use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

const VOCAB: usize = 130;

/// Random weights, held as a loaded model holds them: plain tensors, not variables, which
/// would make candle grow an autograd graph step after step.
fn lstm() -> Network {
    let config = NetworkConfig {
        cell: CellKind::Lstm,
        layers: 2,
        embedding: 32,
        hidden: 256,
        vocab_size: VOCAB,
        dropout: 0.0,
    };
    let varmap = VarMap::new();
    network(
        config,
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
    )
    .unwrap();
    let weights: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(name, var)| (name.clone(), var.as_detached_tensor()))
        .collect();
    network(
        config,
        VarBuilder::from_tensors(weights, DType::F32, &Device::Cpu),
    )
    .unwrap()
}

/// A token stream that visits the whole vocabulary.
fn next_token(token: &mut u32) -> u32 {
    *token = (*token + 37) % VOCAB as u32;
    *token
}

fn criterion_steps(c: &mut Criterion, net: &Network, fast: &FastNetwork) {
    let mut group = c.benchmark_group("step 2×256 LSTM");
    let (mut state, mut token) = (net.zero_state(1).unwrap(), 0);
    group.bench_function("candle", |b| {
        b.iter(|| black_box(net.step(next_token(&mut token), &mut state).unwrap()))
    });
    let mut state = fast.new_state();
    group.bench_function("fast", |b| {
        b.iter(|| black_box(fast.step(next_token(&mut token), &mut state)[0]))
    });
    group.finish();
}

/// Median seconds per call of `f`, over `batches` batches of `calls` calls.
fn median_seconds(batches: usize, calls: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..batches)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                f();
            }
            start.elapsed().as_secs_f64() / calls as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[batches / 2]
}

/// STREAM-style copy bandwidth (bytes read + bytes written per second, best of `repeats`) for
/// buffers of `bytes`.
fn copy_bandwidth(bytes: usize, repeats: usize) -> f64 {
    let source = vec![1.0f32; bytes / 4];
    let mut destination = vec![0.0f32; bytes / 4];
    destination.copy_from_slice(&source); // fault the pages in
    let best = (0..repeats)
        .map(|_| {
            let start = Instant::now();
            destination.copy_from_slice(black_box(&source));
            black_box(&destination);
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    2.0 * (source.len() * 4) as f64 / best
}

fn summary(net: &Network, fast: &FastNetwork) {
    let mut token = 0;
    let mut state = net.zero_state(1).unwrap();
    let candle = median_seconds(21, 200, || {
        black_box(net.step(next_token(&mut token), &mut state).unwrap());
    });
    let mut state = fast.new_state();
    let fast_step = median_seconds(21, 2000, || {
        black_box(fast.step(next_token(&mut token), &mut state)[0]);
    });

    let bytes = fast.bytes_per_step();
    let parameters = net.config.parameter_count() * 4;
    let memory = copy_bandwidth(256 << 20, 5);
    let cache = copy_bandwidth(bytes, 200);
    let (memory_bound, cache_bound) = (bytes as f64 / memory, bytes as f64 / cache);
    let micros = |s: f64| s * 1e6;
    println!(
        "\nSummary (medians of 21 batches, same run; kernel {}):",
        fast.kernel_name()
    );
    println!("  candle Network::step    {:9.2} µs", micros(candle));
    println!(
        "  FastNetwork::step       {:9.2} µs   {:.1}× faster than candle",
        micros(fast_step),
        candle / fast_step
    );
    println!(
        "  weights read per step   {:9.0} KiB  (parameters {:.0} KiB)",
        bytes as f64 / 1024.0,
        parameters as f64 / 1024.0
    );
    for (name, bandwidth, bound) in [
        ("main memory (256 MiB copy)", memory, memory_bound),
        ("cache (weights-sized copy)", cache, cache_bound),
    ] {
        println!(
            "  {name}: {:6.1} GB/s -> bound {:8.2} µs; fast = {:.2}× it, candle = {:.1}× it",
            bandwidth / 1e9,
            micros(bound),
            fast_step / bound,
            candle / bound
        );
    }
}

fn main() {
    let net = lstm();
    let fast = FastNetwork::from_network(&net).unwrap();
    let mut criterion = Criterion::default()
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    criterion_steps(&mut criterion, &net, &fast);
    criterion.final_summary();
    // `cargo test --benches` runs each benchmark once, as a smoke test: no summary then.
    if !std::env::args().any(|a| a == "--test") {
        summary(&net, &fast);
    }
}
