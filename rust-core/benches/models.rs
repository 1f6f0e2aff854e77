//! tract latency of the embedded models (one thread): batch 1 and a realistic batch (the
//! windows of a 5-minute recording; the beats of a few minutes). Criterion's time is per run;
//! divide by the batch (or read its throughput, inferences/s) for the time per inference.
//!
//! `cargo bench -p stressbeat-core --bench models`

#![allow(clippy::expect_used)] // a bench without its model has nothing to measure

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use stressbeat_core::model::{BeatClassifier, CORE_VOCABULARY, StressModel};
use stressbeat_core::model_input::beat::BeatInputs;

/// Stress windows in 5 minutes at a 5 s step.
const STRESS_BATCH: usize = 55;
/// Beats in about 4 minutes.
const BEAT_BATCH: usize = 256;

fn stress(c: &mut Criterion) {
    let model = StressModel::embedded().expect("embedded stress model");
    let nf = CORE_VOCABULARY.hrv_features.len();
    let mut group = c.benchmark_group("stress");
    for batch in [1, STRESS_BATCH] {
        let images: Vec<u8> = (0..batch * model.image_len())
            .map(|i| (i % 253) as u8)
            .collect();
        let features: Vec<f32> = (0..batch * nf)
            .map(|i| 10.0 + (i % 17) as f32 * 5.0)
            .collect();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("batch{batch}"), |b| {
            b.iter(|| model.predict(black_box(&images), black_box(&features), None))
        });
    }
    group.finish();
}

fn beat_type(c: &mut Criterion) {
    let model = BeatClassifier::embedded().expect("embedded beat-type model");
    let (len, nrr) = (
        CORE_VOCABULARY.beat_channels * CORE_VOCABULARY.beat_length,
        CORE_VOCABULARY.rr_features.len(),
    );
    let mut group = c.benchmark_group("beat_type");
    for batch in [1, BEAT_BATCH] {
        let beats: Vec<f32> = (0..batch * len)
            .map(|i| ((i % len) as f32 / 7.0).sin())
            .collect();
        let rr: Vec<f32> = (0..batch * nrr)
            .map(|i| 0.7 + (i % 5) as f32 * 0.04)
            .collect();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("batch{batch}"), |b| {
            b.iter(|| model.classify(black_box(&beats), black_box(&rr)))
        });
        // as callers run it, under the model's template rule (classified_n since v10: beat by
        // beat, each row's template from the ring)
        let inputs = BeatInputs {
            peaks: (0..batch).collect(),
            beats: beats.clone(),
            rr: rr.clone(),
        };
        group.bench_function(format!("classified_n_in_order{batch}"), |b| {
            b.iter_batched(
                || inputs.clone(),
                |mut inputs| model.classify_inputs(&mut inputs),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, stress, beat_type);
criterion_main!(benches);
