//! Time per 128×128 image: one beat (`render_beat`, 104 samples = 0.8 s at 130 Hz) and each
//! window channel of a 30 s, 130 Hz window with 37 beats (synthetic ECG-like spikes on a slow
//! wave, RR 0.75–0.85 s).
//!
//! `cargo bench -p stressbeat-core --bench imaging`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use stressbeat_core::imaging::{Channel, IMAGE_PIXELS, Imager, WindowData};

const FS: f32 = 130.0;

/// A 30 s window: (signal mV, R-peak indices, RR s).
fn window() -> (Vec<f32>, Vec<usize>, Vec<f32>) {
    let rr: Vec<f32> = (0..37)
        .map(|k| 0.8 + 0.05 * ((k as f32) * 0.7).sin())
        .collect();
    let mut peaks = Vec::new();
    let mut t = 0.4f32;
    for r in &rr {
        peaks.push((t * FS) as usize);
        t += r;
    }
    let n = (30.0 * FS) as usize;
    peaks.retain(|&p| p + 70 < n);
    let mut signal: Vec<f32> = (0..n).map(|i| 0.1 * (i as f32 / FS).sin()).collect();
    for &p in &peaks {
        for (i, s) in signal
            .iter_mut()
            .enumerate()
            .skip(p.saturating_sub(20))
            .take(60)
        {
            let d = (i as f32 - p as f32) / FS;
            *s += (-(d / 0.012).powi(2)).exp() + 0.25 * (-((d - 0.25) / 0.04).powi(2)).exp();
        }
    }
    let rr = peaks
        .windows(2)
        .map(|w| (w[1] - w[0]) as f32 / FS)
        .collect();
    (signal, peaks, rr)
}

fn bench(c: &mut Criterion) {
    let (signal, peaks, rr) = window();
    let mut imager = Imager::new();
    let mut out = vec![0u8; IMAGE_PIXELS];
    let mut g = c.benchmark_group("imaging");
    let beat = &signal[peaks[3] - 39..peaks[3] + 65];
    g.bench_function("render_beat (104 samples)", |b| {
        b.iter(|| imager.render_beat(black_box(beat), &mut out))
    });
    let w = WindowData {
        signal: &signal,
        peaks: &peaks,
        rr_s: &rr,
    };
    for channel in Channel::ALL {
        g.bench_function(format!("window {channel} ({} beats)", peaks.len()), |b| {
            b.iter(|| imager.render(channel, black_box(&w), &mut out))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
