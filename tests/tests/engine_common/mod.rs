//! Shared builders for the stress-engine tests: clean windows, a scripted driver, seeded noise.

#![allow(dead_code)] // each test file uses a different subset

use stressbeat_core::engine::{BeatCounts, StressEngine, StressUpdate, WindowObservation};

/// Window length and step of the monitor, ms.
pub const WINDOW_MS: i64 = 30_000;
pub const STEP_MS: i64 = 5_000;

/// A clean 30 s window ending at `end_ms` whose model and fallback both say `p`.
pub fn window(end_ms: i64, p: f32) -> WindowObservation {
    WindowObservation {
        start_ms: end_ms - WINDOW_MS,
        end_ms,
        usable_fraction: 1.0,
        hr_bpm: Some(70.0),
        rmssd_ms: Some(40.0),
        sdnn_ms: Some(50.0),
        model_probability: Some(p),
        fallback_probability: Some(p),
        beat_counts: BeatCounts {
            n: 35,
            ..BeatCounts::default()
        },
        features: vec![70.0, 40.0, 50.0],
        rr_only: false,
        rr_irregularity: None,
    }
}

/// Feed one window every 5 s with end times in `(from_ms, to_ms]`, built by `make(end_ms)`.
pub fn drive(
    engine: &mut StressEngine,
    from_ms: i64,
    to_ms: i64,
    mut make: impl FnMut(i64) -> WindowObservation,
) -> Vec<StressUpdate> {
    let mut out = Vec::new();
    let mut t = from_ms + STEP_MS;
    while t <= to_ms {
        out.push(engine.update(&make(t)));
        t += STEP_MS;
    }
    out
}

/// A deterministic xorshift generator of uniform values in 0-1.
#[derive(Debug, Clone)]
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}
