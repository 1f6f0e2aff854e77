//! Replay sources on real files: the Polar H10 capture through the live session, and a WFDB
//! record as chunks; paced replay with an injected clock (no sleeping).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may unwrap and panic

use std::path::PathBuf;

use stressbeat_core::sensor::replay::{ManualClock, ReplaySource};
use stressbeat_core::sensor::{SensorEvent, SensorSource};

fn data() -> PathBuf {
    std::env::var_os("STRESSBEAT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"))
}

#[test]
fn polar_capture_replays_every_frame() {
    let p = data().join("polar_h10/pmd_capture/hr_data_2023-01-13_11-40-07.bin");
    if !p.is_file() {
        eprintln!("SKIPPED: {} not available", p.display());
        return;
    }
    let src = ReplaySource::open(&p, None, ManualClock::default()).expect("open");
    let (mut frames, mut samples, mut gaps, mut missing) = (0, 0, 0, 0);
    let mut last = f64::MIN;
    for e in src {
        match e {
            SensorEvent::Ecg(c) => {
                assert_eq!(c.samples_uv.len(), 73);
                assert!(c.first_sample_ms > last);
                last = c.last_sample_ms();
                frames += 1;
                samples += c.samples_uv.len();
            }
            SensorEvent::Gap {
                missing_samples, ..
            } => {
                gaps += 1;
                missing += missing_samples;
            }
            _ => {}
        }
    }
    // 12356 records, the last one truncated by the recorder.
    assert_eq!(frames, 12355);
    assert_eq!(samples, 12355 * 73);
    eprintln!("capture: {frames} frames, {gaps} gaps, {missing} samples missing");
}

#[test]
fn wfdb_record_replays_paced_without_sleeping() {
    let p = data().join("mitdb/101.hea");
    if !p.is_file() {
        eprintln!("SKIPPED: {} not available", p.display());
        return;
    }
    let mut src = ReplaySource::open(&p, Some(60.0), ManualClock::default()).expect("open");
    let mut out = Vec::new();
    // 10 s of caller clock at 60× = 10 min of recording
    for now in (0..=10_000).step_by(100) {
        src.poll(now, &mut out);
    }
    let samples: usize = out
        .iter()
        .map(|e| match e {
            SensorEvent::Ecg(c) => c.samples_uv.len(),
            _ => 0,
        })
        .sum();
    let expect = 600 * 360;
    assert!(samples.abs_diff(expect) <= 73 * 2, "{samples} vs {expect}");
}
