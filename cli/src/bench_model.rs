//! `stressbeat bench-model`: tract latency of an ONNX model on one thread, random inputs.

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use clap::Args;
use serde::Serialize;
use stressbeat_core::model::{LoadedModel, ModelMetadata, OnnxGraph, OnnxModel, TensorSpec};

use crate::print_json;

/// Largest `--batch`: 4 096 stress windows of 3 × 128 × 128 floats are 800 MB of input.
const MAX_BATCH: usize = 4096;

/// Arguments of `stressbeat bench-model`.
#[derive(Args, Debug)]
pub struct BenchModelArgs {
    /// ONNX model. Its metadata (same name, `.json`) is used and checked when present; without
    /// it the input shapes come from the graph (first dimension = batch).
    path: PathBuf,
    /// Rows (windows or beats) per run.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Timed runs (after 10 % untimed warm-up runs).
    #[arg(long, default_value_t = 200)]
    iterations: usize,
    /// Ignore the metadata file even if present.
    #[arg(long)]
    no_metadata: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct BenchJson {
    model: String,
    file_bytes: usize,
    metadata_checked: bool,
    inputs: Vec<TensorSpec>,
    batch: usize,
    iterations: usize,
    threads: usize,
    load_ms: f64,
    median_us_per_inference: f64,
    p95_us_per_inference: f64,
    median_us_per_batch: f64,
    p95_us_per_batch: f64,
}

/// Input shapes from the graph: the first dimension is the batch; any other unknown one is an error.
fn shapes_from_graph(graph: &OnnxGraph) -> Result<Vec<TensorSpec>, String> {
    graph
        .inputs()
        .into_iter()
        .map(|mut spec| {
            if spec.shape.is_empty() || spec.shape[1..].iter().any(|&d| d < 0) {
                return Err(format!(
                    "input {} has shape {:?}: only the first (batch) dimension may be unknown; \
                     put the model's .json beside it",
                    spec.name, spec.shape
                ));
            }
            spec.shape[0] = -1;
            Ok(spec)
        })
        .collect()
}

fn load(path: &Path, bytes: &[u8], use_metadata: bool) -> Result<(OnnxModel, bool), String> {
    let json_path = path.with_extension("json");
    if use_metadata && json_path.is_file() {
        let json =
            std::fs::read(&json_path).map_err(|e| format!("{}: {e}", json_path.display()))?;
        let meta = ModelMetadata::from_json(&json).map_err(|e| e.to_string())?;
        let loaded = LoadedModel::load(bytes, &json, meta.task).map_err(|e| e.to_string())?;
        return Ok((loaded.model().clone(), true));
    }
    let graph = OnnxGraph::parse(bytes).map_err(|e| e.to_string())?;
    let shapes = shapes_from_graph(&graph)?;
    let model = graph.optimise(&shapes).map_err(|e| e.to_string())?;
    Ok((model, false))
}

/// Deterministic pseudo-random values in [0, 1) (xorshift; no dependency for benchmark noise).
fn random_values(n: usize, seed: &mut u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

/// The `q`-quantile (nearest rank) of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Run the benchmark and print the result.
pub fn bench_model(args: &BenchModelArgs) -> Result<(), String> {
    if args.batch == 0 || args.iterations == 0 {
        return Err("--batch and --iterations must be at least 1".into());
    }
    if args.batch > MAX_BATCH {
        return Err(format!("--batch is at most {MAX_BATCH}"));
    }
    let bytes = std::fs::read(&args.path).map_err(|e| format!("{}: {e}", args.path.display()))?;
    let started = Instant::now();
    let (model, metadata_checked) = load(&args.path, &bytes, !args.no_metadata)?;
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;

    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let data: Vec<Vec<f32>> = (0..model.inputs().len())
        .map(|i| random_values(args.batch * model.row_len(i), &mut seed))
        .collect();
    let slices: Vec<&[f32]> = data.iter().map(Vec::as_slice).collect();
    for _ in 0..args.iterations.div_ceil(10) {
        model.run(args.batch, &slices).map_err(|e| e.to_string())?;
    }
    let mut batch_us = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations {
        let t = Instant::now();
        model.run(args.batch, &slices).map_err(|e| e.to_string())?;
        batch_us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    batch_us.sort_by(f64::total_cmp);
    let (median, p95) = (quantile(&batch_us, 0.5), quantile(&batch_us, 0.95));
    let per = args.batch as f64;
    let result = BenchJson {
        model: args
            .path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        file_bytes: bytes.len(),
        metadata_checked,
        inputs: model.inputs().to_vec(),
        batch: args.batch,
        iterations: args.iterations,
        threads: 1,
        load_ms,
        median_us_per_inference: median / per,
        p95_us_per_inference: p95 / per,
        median_us_per_batch: median,
        p95_us_per_batch: p95,
    };
    if args.json {
        return print_json(&result);
    }
    println!(
        "{}: {} bytes, metadata {}, inputs {}",
        result.model,
        result.file_bytes,
        if metadata_checked {
            "checked"
        } else {
            "absent (shapes from the graph)"
        },
        result
            .inputs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "tract, 1 thread, batch {}, {} runs: load+optimise {load_ms:.1} ms; per inference \
         median {:.1} µs, p95 {:.1} µs (per batch median {median:.1} µs, p95 {p95:.1} µs)",
        args.batch, args.iterations, result.median_us_per_inference, result.p95_us_per_inference
    );
    Ok(())
}
