//! Detector throughput (samples/s, one core) on the first MIT-BIH record found (MLII, 360 Hz,
//! 650 000 samples) in `../shared/data/mitdb` (or `STRESSBEAT_DATA`); when the data is absent a
//! synthetic 360 Hz signal of the same length is used instead, and the bench says so.
//!
//! `analyze_recording`: the whole recording pipeline on that record (`analysis::analyze`: R-peaks,
//! quality, beat types by the embedded model, HRV of the NN intervals), as `stressbeat hrv` and
//! the apps' `analyzeRecording` run it; skipped without the data.
//!
//! `cargo bench -p stressbeat-core --bench detector`

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stressbeat_core::dsp::filter::{EcgFilter, EcgFilterConfig};
use stressbeat_core::dsp::quality::{QualityConfig, SignalQuality};
use stressbeat_core::dsp::rpeak::RPeakDetector;
use stressbeat_core::io::{LoadOptions, load_recording};
use stressbeat_core::{analysis, record::Recording};

fn mitdb_dir() -> PathBuf {
    let dir = std::env::var("STRESSBEAT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    dir.join("mitdb")
}

/// The first MIT-BIH record found, if any.
fn first_record() -> Option<Recording> {
    let mut heads: Vec<PathBuf> = std::fs::read_dir(mitdb_dir())
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "hea"))
                .collect()
        })
        .unwrap_or_default();
    heads.sort();
    heads
        .first()
        .and_then(|p| load_recording(p, &LoadOptions::default()).ok())
}

fn signal() -> (Vec<f32>, f64, &'static str) {
    let mitdb = mitdb_dir();
    if let Some(r) = first_record()
        && let Some(ch) = r.default_ecg_channel()
    {
        let s = &r.signals[ch];
        let what: &'static str =
            Box::leak(format!("mitdb/{} {}", r.name, s.label).into_boxed_str());
        return (s.samples.clone(), s.sampling_rate_hz, what);
    }
    let path = mitdb;
    eprintln!(
        "NOTE: {} not found; benchmarking a synthetic 360 Hz ECG",
        path.display()
    );
    let fs = 360.0;
    let x = (0..650_000)
        .map(|i| {
            let t = (i as f64 / fs) % 0.8 - 0.4;
            ((-0.5 * (t / 0.01).powi(2)).exp() + 0.2 * (0.3 * i as f64 / fs).sin()) as f32
        })
        .collect();
    (x, fs, "synthetic 360 Hz")
}

fn bench(c: &mut Criterion) {
    let (x, fs, what) = signal();
    let mut g = c.benchmark_group(format!("stream {what}"));
    g.throughput(Throughput::Elements(x.len() as u64));
    g.sample_size(20);
    g.bench_function("rpeak_detector", |b| {
        b.iter(|| {
            let Ok(mut det) = RPeakDetector::new(fs) else {
                return 0;
            };
            let mut n = 0usize;
            for &v in &x {
                if det.push(black_box(v)).is_some() {
                    n += 1;
                }
            }
            black_box(n)
        })
    });
    g.bench_function("bandpass_notch_filter", |b| {
        let cfg = EcgFilterConfig {
            notch_hz: Some(60.0),
            ..Default::default()
        };
        b.iter(|| {
            let Ok(mut f) = EcgFilter::new(fs, &cfg) else {
                return 0.0;
            };
            let mut acc = 0.0f32;
            for &v in &x {
                acc += f.push(black_box(v));
            }
            black_box(acc)
        })
    });
    g.bench_function("quality_index", |b| {
        b.iter(|| {
            let Ok(mut q) = SignalQuality::new(fs, QualityConfig::default()) else {
                return 0;
            };
            let mut n = 0usize;
            for &v in &x {
                if q.push(black_box(v)).is_some() {
                    n += 1;
                }
            }
            black_box(n)
        })
    });
    g.finish();
    match first_record() {
        Some(rec) => {
            let mut g = c.benchmark_group(format!("mitdb/{}", rec.name));
            g.sample_size(10);
            let opts = analysis::AnalysisOptions::default();
            g.bench_function("analyze_recording", |b| {
                b.iter(|| black_box(analysis::analyze(black_box(&rec), &opts).is_ok()))
            });
            g.finish();
        }
        None => eprintln!("NOTE: no MIT-BIH record: analyze_recording skipped"),
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
