//! Print the R-peaks of a recording as JSON (used by `scripts/compare_detectors.py`):
//! `{"record":..,"sampling_rate_hz":..,"n_samples":..,"seconds":..,"peaks":[...]}`.
//! `seconds` is the detector's own run time (excluding file loading).
//!
//! `cargo run --release -p stressbeat-core --example peaks_json -- PATH.hea [CHANNEL]`

use std::time::Instant;

use stressbeat_core::dsp::rpeak::detect_peaks;
use stressbeat_core::io::{LoadOptions, load_recording};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: peaks_json PATH [CHANNEL]");
        std::process::exit(2);
    };
    let rec = match load_recording(std::path::Path::new(&path), &LoadOptions::default()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let ch = args
        .next()
        .and_then(|c| c.parse().ok())
        .or_else(|| rec.default_ecg_channel())
        .unwrap_or(0);
    let Some(sig) = rec.signals.get(ch) else {
        eprintln!("{path}: no channel {ch}");
        std::process::exit(1);
    };
    let t = Instant::now();
    let peaks = detect_peaks(&sig.samples, sig.sampling_rate_hz);
    let secs = t.elapsed().as_secs_f64();
    let out = serde_json::json!({
        "record": rec.name,
        "channel": ch,
        "sampling_rate_hz": sig.sampling_rate_hz,
        "n_samples": sig.samples.len(),
        "seconds": secs,
        "peaks": peaks,
    });
    println!("{out}");
}
