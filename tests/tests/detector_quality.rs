//! The signal-quality index on real recordings: clean MIT-BIH records are mostly usable, and the
//! noise stress test records lose usable time as the added noise grows (24 → 12 → 0 dB SNR).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may unwrap and panic

use stressbeat_core::dsp::quality::{QualityConfig, assess_quality};
use stressbeat_core::io::{LoadOptions, load_recording};
use stressbeat_e2e::dataset;

fn usable(path: &std::path::Path) -> f64 {
    let r = load_recording(path, &LoadOptions::default()).unwrap();
    let s = &r.signals[r.default_ecg_channel().unwrap()];
    let q = assess_quality(&s.samples, s.sampling_rate_hz, QualityConfig::default()).unwrap();
    let bad = q.windows.iter().filter(|w| !w.usable).count();
    println!(
        "{}: usable {:.3} ({} of {} windows flagged)",
        r.name,
        q.usable_fraction,
        bad,
        q.windows.len()
    );
    q.usable_fraction
}

#[test]
fn clean_records_are_usable_and_noise_lowers_usability() {
    let (Some(mit), Some(nst)) = (dataset("mitdb"), dataset("nstdb")) else {
        return;
    };
    for rec in ["101", "112", "115", "118", "122"] {
        let u = usable(&mit.join(format!("{rec}.hea")));
        assert!(u > 0.95, "{rec} {u}");
    }
    let u24 = usable(&nst.join("118e24.hea"));
    let u12 = usable(&nst.join("118e12.hea"));
    let u00 = usable(&nst.join("118e00.hea"));
    assert!(u24 > 0.9, "118e24 {u24}");
    assert!(u24 >= u12 && u12 >= u00, "{u24} {u12} {u00}");
    // 118e00: noise (0 dB) in half of the record after the first 5 minutes
    assert!(u00 < 0.8, "118e00 {u00}");
}
