//! Every WFDB record in the shared data loads, checksums verify, and annotations parse.

// Test helpers outside #[test] fns may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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

#[test]
fn eegmat_edf_files_load_with_their_ecg_channel() {
    let Some(dir) = dataset("eegmat") else { return };
    let files = stressbeat_e2e::files_with_extension(&dir, "edf");
    assert!(files.len() >= 20, "{} EDF files", files.len());
    for f in files {
        let r = load_recording(&f, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let ch = r.default_ecg_channel().unwrap();
        let ecg = &r.signals[ch];
        assert!(
            ecg.is_ecg_like(),
            "{}: channel {ch} is {:?}",
            r.name,
            ecg.label
        );
        assert_eq!(ecg.sampling_rate_hz, 500.0, "{}", r.name);
        assert_eq!(r.annotation_rate_hz, 500.0);
        // the EEGMAT segments are 60 s (…_1: baseline, may be longer) or longer
        assert!(
            (30.0..=300.0).contains(&r.duration_s()),
            "{}: {} s",
            r.name,
            r.duration_s()
        );
        let mv = ecg.to_millivolts().expect("ECG unit is a voltage");
        let (lo, hi) = mv
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &x| (l.min(x), h.max(x)));
        // a limb-lead ECG spans a tenth of a mV (Subject20_2: 0.13) to a few mV
        assert!(
            hi - lo > 0.1 && hi - lo < 20.0,
            "{}: range {lo}..{hi} mV",
            r.name
        );
    }
}

#[test]
fn eegmat_subject01_1_header_values() {
    let Some(dir) = dataset("eegmat") else { return };
    let r = load_recording(&dir.join("Subject01_1.edf"), &LoadOptions::default()).unwrap();
    assert_eq!(r.name, "Subject01_1");
    assert_eq!(r.signals.len(), 1);
    let s = &r.signals[0];
    assert_eq!((s.label.as_str(), s.unit.as_str()), ("ECG ECG", "mV"));
    // 182 records of 1 s, 500 samples each
    assert_eq!(s.samples.len(), 182 * 500);
    // physical range in the header: -0.46309 .. 0.916526 mV
    assert!(s.samples.iter().all(|&x| (-0.4632..=0.9166).contains(&x)));
}

fn csv_file(rel: &str) -> Option<std::path::PathBuf> {
    let (sub, file) = rel.split_once('/').unwrap();
    dataset(sub).map(|d| d.join(file))
}

#[test]
fn polar_h10_csv_loads_in_mv_at_130_hz() {
    let Some(f) = csv_file("polar_h10/detectpvc/polar_h10.csv") else {
        return;
    };
    let r = load_recording(&f, &LoadOptions::default()).unwrap();
    let s = &r.signals[0];
    assert_eq!(s.label, "ecg");
    // the Polar H10 samples ECG at a nominal 130 Hz; the rate is estimated from the ns timestamps
    assert!(
        (s.sampling_rate_hz - 130.0).abs() < 1.0,
        "{}",
        s.sampling_rate_hz
    );
    assert!(
        (550.0..650.0).contains(&r.duration_s()),
        "{}",
        r.duration_s()
    );
    // values like -0.098: millivolts (the H10's µV, divided by 1000 by the exporter)
    assert_eq!(s.unit, "mV");
    let max = s.samples.iter().fold(0f32, |m, &x| m.max(x.abs()));
    assert!((0.3..5.0).contains(&max), "max |x| = {max} mV");
}

#[test]
fn polar_h10_csv_in_microvolts_without_a_stated_unit_is_read_as_microvolts() {
    let Some(f) = csv_file("polar_h10/detectpvc/polar_h10.csv") else {
        return;
    };
    let mv = load_recording(&f, &LoadOptions::default()).unwrap();
    // the same samples as integer µV in Polar Sensor Logger's layout, the ECG column named
    // plainly `ecg` (no unit stated anywhere)
    let text = std::fs::read_to_string(&f).unwrap();
    let mut out = String::from("Phone timestamp;sensor timestamp [ns];timestamp [ms];ecg\n");
    let mut t0 = None;
    for line in text.lines().skip(1) {
        let mut cells = line.split(',');
        let (t, v) = (cells.next().unwrap(), cells.next().unwrap());
        let ns: i64 = t.parse().unwrap();
        let ms = (ns - *t0.get_or_insert(ns)) as f64 / 1e6;
        let uv = (v.parse::<f64>().unwrap() * 1000.0).round();
        out.push_str(&format!("2024-05-05T15:30:00.000;{t};{ms:.3};{uv}\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("polar_sensor_logger_ecg.csv");
    std::fs::write(&path, out).unwrap();
    let uv = load_recording(&path, &LoadOptions::default()).unwrap();
    assert_eq!(uv.signals[0].unit, "uV");
    let (a, b) = (
        mv.signals[0].to_millivolts().unwrap(),
        uv.signals[0].to_millivolts().unwrap(),
    );
    assert_eq!(a.len(), b.len());
    let worst = a
        .iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(worst < 0.001, "largest difference {worst} mV");
}

#[test]
fn biopsykit_csv_uses_the_datetime_column_and_raw_units() {
    let Some(f) = csv_file("biopsykit/ecg_sample_Vp01.csv") else {
        return;
    };
    let r = load_recording(&f, &LoadOptions::default()).unwrap();
    let s = &r.signals[0];
    assert_eq!(s.label, "ecg_raw");
    assert_eq!(s.unit, "raw", "ADC counts of unknown scale stay raw");
    assert!(
        (s.sampling_rate_hz - 256.0).abs() < 0.5,
        "{}",
        s.sampling_rate_hz
    );
    // with an explicit unit and rate the caller's choice wins
    let opts = LoadOptions {
        csv_sampling_rate_hz: Some(256.0),
        csv_unit: Some("uV".into()),
    };
    let r = load_recording(&f, &opts).unwrap();
    assert_eq!(
        (r.signals[0].unit.as_str(), r.signals[0].sampling_rate_hz),
        ("uV", 256.0)
    );
}

#[test]
fn polar_flow_and_rr_exports_are_reported_as_not_ecg() {
    for rel in [
        "polar_h10/pmd_capture/Philipp_Diethelm_2023-01-13_11-40-07.csv",
        "polar_h10/rr_log/polar_rri_20260623_001651.csv",
    ] {
        let Some(f) = csv_file(rel) else { return };
        match load_recording(&f, &LoadOptions::default()) {
            Err(stressbeat_core::Error::Unsupported { file, what }) => {
                assert!(
                    file.ends_with(".csv") && what.contains("not ECG"),
                    "{file}: {what}"
                );
            }
            other => panic!("{rel}: expected Unsupported, got {other:?}"),
        }
    }
}

/// A raw Polar H10 capture (PMD frames, the strap's own format) reads as a recording like any
/// other: every sample of its 12,355 frames, no hole, at the rate of the strap's timestamps, and
/// the analysis finds the cycling session's heart rate (`protocol_capture.rs` compares the
/// decoded stream's HR with the Polar app's export second by second).
#[test]
fn polar_capture_reads_as_a_recording() {
    use stressbeat_core::analysis::{AnalysisOptions, analyze};
    let Some(dir) = dataset("polar_h10").map(|d| d.join("pmd_capture")) else {
        return;
    };
    let r = load_recording(
        &dir.join("hr_data_2023-01-13_11-40-07.bin"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(r.signals.len(), 1);
    let s = &r.signals[0];
    assert_eq!((s.label.as_str(), s.unit.as_str()), ("ECG", "uV"));
    assert_eq!(s.samples.len(), 12_355 * 73);
    assert!(s.samples.iter().all(|v| v.is_finite()));
    assert!(
        (s.sampling_rate_hz - 130.045).abs() < 0.01,
        "{}",
        s.sampling_rate_hz
    );
    let summary = analyze(&r, &AnalysisOptions::default()).unwrap();
    let hr = summary.hrv.unwrap().mean_hr_bpm;
    assert!((140.0..155.0).contains(&hr), "{hr}");
    assert!(summary.usable_fraction > 0.9, "{}", summary.usable_fraction);
}

/// Holes in a real record (as lost frames or blank CSV cells leave them, NaN) do not lengthen
/// RR intervals: an interval spanning one is left out, and HRV stays that of the whole record
/// (before: MIT-BIH 101 with six holes of 1.2-2.5 s read SDNN 143 ms and RMSSD 131 ms).
#[test]
fn holes_in_a_record_leave_hrv_as_it_was() {
    let Some(dir) = dataset("mitdb") else {
        return;
    };
    let mut r = load_recording(&dir.join("101.hea"), &LoadOptions::default()).unwrap();
    // a span that starts after the record's start (peaks are channel indices)
    let opts = stressbeat_core::analysis::AnalysisOptions {
        from_s: Some(30.0),
        to_s: Some(630.0),
        ..Default::default()
    };
    let whole = stressbeat_core::analysis::analyze(&r, &opts)
        .unwrap()
        .hrv
        .unwrap();
    let fs = r.signals[0].sampling_rate_hz;
    for (k, len_s) in [1.2, 2.5, 1.8, 2.0, 1.5, 2.2].into_iter().enumerate() {
        let from = ((60.0 + 80.0 * k as f64) * fs) as usize;
        for ch in &mut r.signals {
            ch.samples[from..from + (len_s * fs) as usize].fill(f32::NAN);
        }
    }
    let holed = stressbeat_core::analysis::analyze(&r, &opts)
        .unwrap()
        .hrv
        .unwrap();
    eprintln!(
        "101, 30-630 s: SDNN {:.1} → {:.1} ms, RMSSD {:.1} → {:.1} ms",
        whole.sdnn_ms, holed.sdnn_ms, whole.rmssd_ms, holed.rmssd_ms
    );
    // the beats around the holes are still typed (NN intervals, not corrected ones)
    assert!(holed.left_out.is_some());
    assert!((holed.sdnn_ms / whole.sdnn_ms - 1.0).abs() < 0.05);
    assert!((holed.rmssd_ms / whole.rmssd_ms - 1.0).abs() < 0.05);
}
