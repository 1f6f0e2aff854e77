//! Every WFDB record in the shared data loads, checksums verify, and annotations parse.

use std::path::Path;

use stressbeat_core::io::{LoadOptions, load_recording};
use stressbeat_e2e::dataset;

fn headers(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hea"))
        .collect();
    v.sort();
    v
}

#[test]
fn mitdb_records_load_with_checksums_and_annotations() {
    let Some(dir) = dataset("mitdb") else { return };
    let hs = headers(&dir);
    assert_eq!(hs.len(), 26);
    for h in hs {
        let r = load_recording(&h, &LoadOptions::default()).unwrap();
        assert_eq!(r.signals.len(), 2, "{}", h.display());
        assert_eq!(r.signals[0].samples.len(), 650_000);
        assert_eq!(r.annotation_rate_hz, 360.0);
        let beats = r.beat_annotations().count();
        assert!((1000..4000).contains(&beats), "{}: {beats} beats", r.name);
        assert!(r.default_ecg_channel().is_some());
    }
}

#[test]
fn mitdb_101_reference_values() {
    let Some(dir) = dataset("mitdb") else { return };
    // 101: 1865 beats per the MIT-BIH Arrhythmia Database Directory (1860 N, 3 A, 2 Q)
    let r = load_recording(&dir.join("101.hea"), &LoadOptions::default()).unwrap();
    assert_eq!(r.signals[0].label, "MLII");
    assert_eq!(r.default_ecg_channel(), Some(0));
    assert_eq!(r.beat_annotations().count(), 1865);
    // first sample of MLII: ADC 955, baseline 1024, gain 200 -> -0.345 mV
    assert!((r.signals[0].samples[0] - (-0.345)).abs() < 1e-6);
}

#[test]
fn qtdb_and_nstdb_records_load() {
    for sub in ["qtdb", "nstdb"] {
        let Some(dir) = dataset(sub) else { return };
        let mut n = 0;
        for h in headers(&dir) {
            let r = load_recording(&h, &LoadOptions::default())
                .unwrap_or_else(|e| panic!("{}: {e}", h.display()));
            assert!(!r.signals.is_empty());
            n += 1;
        }
        assert!(n > 0);
    }
}
