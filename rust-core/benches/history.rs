//! The history queries the apps' screens make, on a week of heavy use stored on disk: seven
//! sessions of 16 h each with a window every 5 s, an RR interval a second, raw ECG as an H10
//! sends it (73 samples a frame, 130 Hz; the default retention keeps 7 days of it) and a few
//! alerts: 80 605 windows, 403 200 intervals, about 718 000 ECG chunks.
//!
//! - `history/sessions_20`: the session list (`StressMonitor.sessions(20)`);
//! - `history/timeline_week_200`: a week's chart in 200 points;
//! - `history/days_7`: seven daily summaries (`dailySummariesForDays`);
//! - `history/alerts_100`: the alert list.
//!
//! Building the database takes a while (printed); it is made once per run.
//! `taskset -c 0 cargo bench -p stressbeat-core --bench history`
#![allow(clippy::unwrap_used)] // a benchmark harness: setup failures should stop it

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use stressbeat_core::history::{
    AlertRecord, DayBounds, EcgChunk, EndReason, History, HistoryOptions, HistorySink,
    SessionStart, SourceKind, WindowRecord,
};

const DAY_MS: i64 = 86_400_000;
const WEAR_MS: i64 = 16 * 3_600_000;
const DAYS: i64 = 7;
/// 2026-11-16 00:00 UTC.
const FIRST_DAY_MS: i64 = 1_763_251_200_000;
/// An H10 ECG frame: 73 samples at 130 Hz.
const FRAME_SAMPLES: usize = 73;
const FRAME_MS: f64 = FRAME_SAMPLES as f64 * 1000.0 / 130.0;

fn fill(h: &mut History) {
    let frame: Vec<i32> = (0..FRAME_SAMPLES as i32)
        .map(|i| (i * 37) % 900 - 300)
        .collect();
    for day in 0..DAYS {
        let start = FIRST_DAY_MS + day * DAY_MS + 7 * 3_600_000;
        let s = h
            .begin_session(&SessionStart {
                started_at_ms: start,
                source: SourceKind::Bridge,
                device_model: Some("Polar H10".into()),
                device_identity: None,
            })
            .unwrap();
        let mut t = start;
        let mut next_window = start + 30_000;
        let mut next_frame = start as f64;
        while t < start + WEAR_MS {
            t += 1_000;
            h.append_rr(s, t, 950.0 + (t % 7_000) as f64 / 100.0)
                .unwrap();
            while next_frame < t as f64 {
                let chunk = EcgChunk {
                    first_sample_ms: next_frame as i64,
                    sampling_rate_hz: 130,
                    samples_uv: &frame,
                };
                h.append_ecg(s, &chunk).unwrap();
                next_frame += FRAME_MS;
            }
            if t >= next_window {
                let high = (t / 600_000) % 9 == 0;
                let window = WindowRecord {
                    start_ms: t - 30_000,
                    end_ms: t,
                    usable_fraction: 0.95,
                    mean_hr_bpm: Some(if high { 88.0 } else { 64.0 }),
                    rmssd_ms: Some(if high { 18.0 } else { 42.0 }),
                    score: Some(if high { 0.85 } else { 0.25 }),
                    state: if high { "high" } else { "calm" }.into(),
                    scored_by: "model".into(),
                    ..Default::default()
                };
                h.append_window(s, &window).unwrap();
                next_window += 5_000;
            }
            if t % 10_000 == 0 {
                h.flush().unwrap();
            }
        }
        for k in 0..6 {
            let alert = AlertRecord {
                at_ms: start + k * 2 * 3_600_000,
                kind: "stress_high".into(),
                severity: 1,
                reason: "Stress has stayed high for 5 min".into(),
            };
            h.append_alert(s, &alert).unwrap();
        }
        h.end_session(s, start + WEAR_MS, EndReason::Stopped)
            .unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let built = Instant::now();
    {
        let mut h = History::open(&path, HistoryOptions::default()).unwrap();
        fill(&mut h);
    }
    let size_mb = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
    eprintln!(
        "history: built a week of data in {:.1} s ({size_mb:.0} MB)",
        built.elapsed().as_secs_f64()
    );
    let h = History::open(&path, HistoryOptions::default()).unwrap();
    let week_end = FIRST_DAY_MS + DAYS * DAY_MS;
    let days: Vec<DayBounds> = (0..DAYS)
        .map(|d| DayBounds {
            date: format!("2026-11-{:02}", 16 + d),
            start_ms: FIRST_DAY_MS + d * DAY_MS,
            end_ms: FIRST_DAY_MS + (d + 1) * DAY_MS,
        })
        .collect();
    assert_eq!(h.sessions(20).unwrap().len(), DAYS as usize);

    let mut g = c.benchmark_group("history");
    g.sample_size(20);
    g.bench_function("sessions_20", |b| {
        b.iter(|| black_box(h.sessions(20).unwrap()))
    });
    g.bench_function("timeline_week_200", |b| {
        b.iter(|| black_box(h.timeline(FIRST_DAY_MS, week_end, 200).unwrap()))
    });
    g.bench_function("days_7", |b| {
        b.iter(|| black_box(h.summaries_of_days(&days).unwrap()))
    });
    g.bench_function("alerts_100", |b| {
        b.iter(|| black_box(h.alerts(FIRST_DAY_MS, week_end, 100).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
