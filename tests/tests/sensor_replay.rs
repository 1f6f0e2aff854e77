//! Replay sources on real files: the Polar H10 capture through the live session, and a WFDB
//! record as chunks; paced replay with an injected clock (no sleeping).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may unwrap and panic

use stressbeat_core::io::replay_events;
use stressbeat_core::sensor::replay::{ManualClock, ReplaySource};
use stressbeat_core::sensor::{SensorEvent, SensorSource};
use stressbeat_e2e::dataset;

#[test]
fn polar_capture_replays_every_frame() {
    let Some(dir) = dataset("polar_h10") else {
        return;
    };
    let p = dir.join("pmd_capture/hr_data_2023-01-13_11-40-07.bin");
    let src = ReplaySource::from_events(
        replay_events(&p, &Default::default(), None).expect("open"),
        None,
        ManualClock::default(),
    );
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
    let Some(dir) = dataset("mitdb") else {
        return;
    };
    let p = dir.join("101.hea");
    let mut src = ReplaySource::from_events(
        replay_events(&p, &Default::default(), None).expect("open"),
        Some(60.0),
        ManualClock::default(),
    );
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
