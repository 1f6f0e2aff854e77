//! History queries, retention and export against hand-computed expectations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use stressbeat_core::{
    formats::edf,
    history::{
        AlertRecord, DayBounds, EcgChunk, EndReason, GapRecord, History, HistoryOptions,
        HistorySink, RetentionPolicy, SessionStart, SourceKind, WindowRecord,
    },
};

const DAY: i64 = 86_400_000;
/// 2026-11-21T00:00:00Z
const T0: i64 = 1_795_219_200_000;

fn open() -> (tempfile::TempDir, History) {
    let dir = tempfile::tempdir().unwrap();
    let h = History::open(dir.path().join("h.db"), HistoryOptions::default()).unwrap();
    (dir, h)
}

fn session(h: &mut History, at: i64) -> i64 {
    h.begin_session(&SessionStart {
        started_at_ms: at,
        source: SourceKind::Simulator,
        device_model: Some("Polar H10".into()),
        device_identity: None,
    })
    .unwrap()
}

/// A "signal lost" alert (the strap is off) at `at_ms`.
fn append_strap_off_alert(h: &mut History, s: i64, at_ms: i64) {
    h.append_alert(
        s,
        &AlertRecord {
            at_ms,
            kind: "signal_lost".into(),
            severity: 1,
            reason: "strap off".into(),
        },
    )
    .unwrap();
}

/// A 60 s window ending at `end`, every field derived from `k`.
fn window(end: i64, k: i64, state: &str) -> WindowRecord {
    WindowRecord {
        start_ms: end - 60_000,
        end_ms: end,
        usable_fraction: 0.5 + (k % 5) as f64 / 10.0,
        mean_hr_bpm: Some(60.0 + k as f64),
        rmssd_ms: Some(30.0 + k as f64),
        sdnn_ms: Some(50.0),
        pnn50_pct: None,
        lf_hf: Some(1.5),
        stress_probability: Some(k as f64 / 100.0),
        score: Some(k as f64),
        confidence: Some(0.8),
        state: state.into(),
        scored_by: "model \"v1\", int8".into(),
        beats: stressbeat_core::history::BeatCounts {
            normal: 60,
            supraventricular: 1,
            ventricular: u32::from(k % 2 == 0),
            fusion: 0,
            unknown: 0,
        },
        rr_only: k % 2 == 1,
    }
}

#[test]
fn timeline_buckets_windows_and_aggregates() {
    let (_d, mut h) = open();
    let s = session(&mut h, T0);
    // windows end every 10 s for 10 minutes: 60 windows, scores 0..59
    for k in 0..60 {
        h.append_window(s, &window(T0 + 10_000 * (k + 1), k, "calm"))
            .unwrap();
    }
    h.flush().unwrap();
    // 10 minutes in 6 buckets of 100 s
    let t = h.timeline(T0, T0 + 600_000, 6).unwrap();
    assert_eq!(t.len(), 6);
    assert_eq!((t[0].start_ms, t[0].end_ms), (T0, T0 + 100_000));
    // bucket 0 holds ends 10 s..90 s (k = 0..=8), bucket 1 ends 100..190 s (k = 9..=17)
    assert_eq!(t[0].windows, 9);
    assert_eq!(t[0].mean_score, Some(4.0));
    assert_eq!(t[0].max_score, Some(8.0));
    assert_eq!(t[0].mean_hr_bpm, Some(64.0));
    assert_eq!(t[0].min_usable_fraction, Some(0.5));
    assert_eq!(t[1].windows, 10);
    assert_eq!(t[1].max_score, Some(18.0));
    // the last window ends at 600 s, outside [T0, T0 + 600 s)
    assert_eq!(t.iter().map(|p| p.windows).sum::<u32>(), 59);
    // more points than windows: one point per window, empty buckets omitted
    assert_eq!(h.timeline(T0, T0 + 600_000, 6000).unwrap().len(), 59);
    // 7 buckets of ceil(600 s / 7) = 85.715 s; the last is clipped to the range end
    let uneven = h.timeline(T0, T0 + 600_000, 7).unwrap();
    assert_eq!(uneven.len(), 7);
    assert_eq!(uneven[1].start_ms, T0 + 85_715);
    assert_eq!(uneven[6].end_ms, T0 + 600_000);
    assert_eq!(uneven.iter().map(|p| p.windows).sum::<u32>(), 59);
    assert!(h.timeline(T0, T0, 10).is_err());
    assert!(h.timeline(i64::MIN, i64::MAX, 10).is_err());
    assert!(h.timeline(T0, T0 + 1, 0).is_err());
}

#[test]
fn daily_summaries_use_the_local_day_and_do_not_double_count_overlaps() {
    let (_d, mut h) = open();
    let s = session(&mut h, T0 - 3_600_000);
    // 60 s windows every 30 s from 22:30 to 01:30 UTC (overlapping by half)
    let first_end = T0 - 90 * 60_000;
    let n = 6 * 60 * 2 / 2; // 3 h at 2 per minute
    for k in 0..n {
        let state = if k % 3 == 0 { "stressed" } else { "calm" };
        h.append_window(s, &window(first_end + 30_000 * k, k, state))
            .unwrap();
    }
    for (i, at) in [T0 - 60_000, T0 + 60_000, T0 + 120_000].iter().enumerate() {
        h.append_alert(
            s,
            &AlertRecord {
                at_ms: *at,
                kind: "stress_high".into(),
                severity: 2,
                reason: format!("score above threshold #{i}"),
            },
        )
        .unwrap();
    }
    h.flush().unwrap();
    let utc = h.daily_summaries(T0 - DAY, T0 + DAY, 0).unwrap();
    assert_eq!(utc.len(), 2);
    assert_eq!(
        (utc[0].date.as_str(), utc[1].date.as_str()),
        ("2026-11-20", "2026-11-21")
    );
    assert_eq!(utc[1].day_start_ms, T0);
    // ends before midnight: 22:30:00 .. 23:59:30 → 180 windows
    assert_eq!(utc[0].windows, 180);
    assert_eq!(utc[0].alerts, 1);
    assert_eq!(utc[1].alerts, 2);
    // each window stands for 30 s (the last one of the session for its full 60 s)
    let minutes = |d: &stressbeat_core::history::DailySummary| -> f64 {
        d.minutes_by_state.iter().map(|m| m.minutes).sum()
    };
    assert!(
        (minutes(&utc[0]) - 90.0).abs() < 1e-9,
        "{}",
        minutes(&utc[0])
    );
    assert!((minutes(&utc[1]) - (89.5 + 1.0)).abs() < 1e-9);
    let stressed = utc[0]
        .minutes_by_state
        .iter()
        .find(|m| m.state == "stressed")
        .unwrap();
    assert!((stressed.minutes - 30.0).abs() < 1e-9);
    // mean score of k = 0..179
    assert_eq!(utc[0].mean_score, Some(89.5));
    assert_eq!(utc[0].max_score, Some(179.0));
    assert_eq!(utc[0].mean_hr_bpm, Some(149.5));
    // at UTC+2 everything (00:30..03:30 local) falls on the 21st
    let east = h.daily_summaries(T0 - DAY, T0 + DAY, 120).unwrap();
    assert_eq!(east.len(), 1);
    assert_eq!(east[0].date, "2026-11-21");
    assert_eq!(east[0].day_start_ms, T0 - 2 * 3_600_000);
    assert_eq!((east[0].windows, east[0].alerts), (360, 3));
    // at UTC-5 it is the evening of the 20th
    let west = h.daily_summaries(T0 - DAY, T0 + DAY, -300).unwrap();
    assert_eq!(west.len(), 1);
    assert_eq!(west[0].date, "2026-11-20");

    // days the app's calendar bounds: the same days give the same summaries ...
    let day = |date: &str, start_ms: i64, end_ms: i64| DayBounds {
        date: date.into(),
        start_ms,
        end_ms,
    };
    let utc_days = [
        day("2026-11-20", T0 - DAY, T0),
        day("2026-11-21", T0, T0 + DAY),
    ];
    assert_eq!(h.summaries_of_days(&utc_days).unwrap(), utc);
    // ... and a 25-hour day (clocks going back from UTC+2 to UTC+1) keeps the night whole,
    // where one fixed offset would cut it; empty days are listed too
    let fall_back = [
        day("2026-11-20", T0 - DAY - 2 * 3_600_000, T0 - 2 * 3_600_000),
        day("2026-11-21", T0 - 2 * 3_600_000, T0 + DAY - 3_600_000),
        day("2026-11-22", T0 + DAY - 3_600_000, T0 + 2 * DAY - 3_600_000),
    ];
    let counts: Vec<(u32, u32)> = h
        .summaries_of_days(&fall_back)
        .unwrap()
        .iter()
        .map(|d| (d.windows, d.alerts))
        .collect();
    assert_eq!(counts, [(0, 0), (360, 3), (0, 0)]);
    assert!(matches!(
        h.summaries_of_days(&[day("2026-11-21", T0, T0)]),
        Err(stressbeat_core::Error::InvalidArgument(_))
    ));
}

#[test]
fn alerts_sessions_and_detail() {
    let (_d, mut h) = open();
    let a = session(&mut h, T0);
    for k in 0..10 {
        h.append_window(a, &window(T0 + 60_000 * (k + 1), k, "calm"))
            .unwrap();
        h.append_rr(a, T0 + 1000 * k, 800.0 + k as f64).unwrap();
        h.append_alert(
            a,
            &AlertRecord {
                at_ms: T0 + 1000 * k,
                kind: "stress_high".into(),
                severity: (k % 3) as u8,
                reason: "score".into(),
            },
        )
        .unwrap();
    }
    h.append_gap(
        a,
        &GapRecord {
            from_ms: T0 + 5000,
            to_ms: T0 + 7000,
            missing_samples: 260,
            cause: "disconnect".into(),
        },
    )
    .unwrap();
    h.end_session(a, T0 + 700_000, EndReason::Stopped).unwrap();
    // a second session whose process "died": not ended
    let b = session(&mut h, T0 + DAY);
    h.append_window(b, &window(T0 + DAY + 120_000, 1, "stressed"))
        .unwrap();
    h.flush().unwrap();

    let alerts = h.alerts(T0, T0 + DAY, 4).unwrap();
    assert_eq!(alerts.len(), 4);
    assert_eq!(alerts[0].at_ms, T0 + 9000, "newest first");
    assert_eq!(alerts[3].at_ms, T0 + 6000);
    assert_eq!(h.alerts(T0 + 2000, T0 + 4000, 100).unwrap().len(), 2);

    let sessions = h.sessions(10).unwrap();
    assert_eq!(sessions.iter().map(|s| s.id).collect::<Vec<_>>(), [b, a]);
    assert_eq!(sessions[1].duration_ms, 700_000);
    assert_eq!(sessions[1].end_reason.as_deref(), Some("stopped"));
    assert_eq!(
        (
            sessions[1].windows,
            sessions[1].rr_intervals,
            sessions[1].alerts,
            sessions[1].gaps
        ),
        (10, 10, 10, 1)
    );
    assert_eq!(sessions[0].ended_at_ms, None);
    assert_eq!(sessions[0].duration_ms, 120_000, "to the last window");
    assert_eq!(h.sessions(1).unwrap().len(), 1);

    let d = h.session_detail(a).unwrap().unwrap();
    assert_eq!(d.mean_hr_bpm, Some(64.5));
    assert_eq!(d.max_score, Some(9.0));
    assert_eq!(
        (
            d.beats.normal,
            d.beats.supraventricular,
            d.beats.ventricular
        ),
        (600, 10, 5)
    );
    assert_eq!(d.alerts.len(), 10);
    assert_eq!(d.gaps[0].missing_samples, 260);
    // ten 60 s windows ending 60 s apart: 10 minutes
    assert_eq!(d.minutes_by_state.len(), 1);
    assert!((d.minutes_by_state[0].minutes - 10.0).abs() < 1e-9);
    assert!(h.session_detail(999).unwrap().is_none());
}

#[test]
fn retention_deletes_old_data_raw_ecg_first_and_shrinks_the_file() {
    let (_d, mut h) = open();
    let now = T0 + 40 * DAY;
    let ecg: Vec<i32> = (0..130 * 60).map(|i| (i % 400) - 200).collect();
    // one session per day for 40 days, each with a minute of ECG
    let mut ids = Vec::new();
    for day in 0..40 {
        let t = T0 + day * DAY;
        let s = session(&mut h, t);
        ids.push(s);
        h.append_window(s, &window(t + 60_000, day, "calm"))
            .unwrap();
        h.append_rr(s, t + 1000, 800.0).unwrap();
        h.append_ecg(
            s,
            &EcgChunk {
                first_sample_ms: t,
                sampling_rate_hz: 130,
                samples_uv: &ecg,
            },
        )
        .unwrap();
        h.end_session(s, t + 120_000, EndReason::Stopped).unwrap();
    }
    let before = h.size_bytes().unwrap();
    let report = h
        .apply_retention(
            now,
            RetentionPolicy {
                keep_days: 30,
                keep_raw_ecg_days: 7,
            },
        )
        .unwrap();
    // sessions of days 0..=9 end before now - 30 d; ECG of days 0..=32 starts before now - 7 d
    assert_eq!(report.windows, 10);
    assert_eq!(report.rr_intervals, 10);
    assert_eq!(report.sessions, 10);
    assert_eq!(report.ecg_chunks, 33);
    let sessions = h.sessions(100).unwrap();
    assert_eq!(sessions.len(), 30);
    assert!(sessions.iter().all(|s| s.started_at_ms >= now - 30 * DAY));
    assert_eq!(
        sessions.iter().filter(|s| s.ecg_samples > 0).count(),
        7,
        "raw ECG only for the last 7 days"
    );
    let after = h.size_bytes().unwrap();
    assert!(
        after < before / 2,
        "incremental vacuum gave pages back: {before} → {after} bytes"
    );
    assert_eq!(h.integrity_check().unwrap(), "ok");
    // a deleted session cannot be written to any more
    assert!(h.append_rr(ids[0], now, 800.0).is_err());
    // an idempotent second pass
    let again = h
        .apply_retention(
            now,
            RetentionPolicy {
                keep_days: 30,
                keep_raw_ecg_days: 7,
            },
        )
        .unwrap();
    assert_eq!(again, Default::default());
}

/// RFC 4180 reader for the test: fields of each record.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CRLF line ends");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && record.is_empty(),
        "last line ends with CRLF"
    );
    records
}

#[test]
fn csv_export_of_windows_and_rr() {
    let (_d, mut h) = open();
    let s = session(&mut h, T0);
    for k in 0..3 {
        h.append_window(
            s,
            &window(T0 + 60_000 * (k + 1) + 250, k, "calm, \"steady\""),
        )
        .unwrap();
        h.append_rr(s, T0 + 800 * k, 812.5).unwrap();
    }
    h.flush().unwrap();
    let mut out = Vec::new();
    assert_eq!(h.export_windows_csv(s, &mut out).unwrap(), 3);
    let rows = parse_csv(std::str::from_utf8(&out).unwrap());
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0].len(), 22);
    assert_eq!(
        &rows[0][..5],
        ["session_id", "start_utc", "end_utc", "start_ms", "end_ms"]
    );
    let r = &rows[1];
    assert_eq!(r.len(), 22);
    assert_eq!(r[1], "2026-11-21T00:00:00.250Z");
    assert_eq!(r[2], "2026-11-21T00:01:00.250Z");
    assert_eq!(r[4], (T0 + 60_250).to_string());
    let col = |name: &str| rows[0].iter().position(|c| c == name).unwrap();
    assert_eq!(r[col("mean_hr_bpm")], "60");
    assert_eq!(r[col("pnn50_pct")], "", "missing value");
    assert_eq!(r[col("state")], "calm, \"steady\"");
    assert_eq!(r[col("scored_by")], "model \"v1\", int8");
    assert_eq!(rows[2][col("beats_v")], "0");
    assert_eq!(rows[3][col("beats_v")], "1");
    assert_eq!(
        rows[1..]
            .iter()
            .map(|r| r[col("rr_only")].as_str())
            .collect::<Vec<_>>(),
        ["0", "1", "0"]
    );

    let mut out = Vec::new();
    assert_eq!(h.export_rr_csv(s, &mut out).unwrap(), 3);
    let rows = parse_csv(std::str::from_utf8(&out).unwrap());
    assert_eq!(rows[0], ["session_id", "at_utc", "at_ms", "rr_ms"]);
    assert_eq!(
        rows[2],
        [
            s.to_string(),
            "2026-11-21T00:00:00.800Z".into(),
            (T0 + 800).to_string(),
            "812.5".into()
        ]
    );
    assert!(h.export_rr_csv(s + 1, &mut Vec::new()).is_err());
}

#[test]
fn edf_export_reads_back_with_gaps_filled_and_annotated() {
    let (_d, mut h) = open();
    let start = T0 + 10_500; // sub-second start
    let s = session(&mut h, start);
    let rate = 130;
    let second = |k: i32| -> Vec<i32> { (0..rate).map(|i| k * 1000 + i).collect() };
    // seconds 0..3, then a 2 s hole, then seconds 5..7; one chunk arrives 5 ms late (jitter)
    for k in [0, 1, 2, 5, 6] {
        let jitter = if k == 2 { 5 } else { 0 };
        h.append_ecg(
            s,
            &EcgChunk {
                first_sample_ms: start + i64::from(k) * 1000 + jitter,
                sampling_rate_hz: rate as u32,
                samples_uv: &second(k),
            },
        )
        .unwrap();
    }
    h.append_gap(
        s,
        &GapRecord {
            from_ms: start + 3000,
            to_ms: start + 5000,
            missing_samples: 260,
            cause: "disconnect".into(),
        },
    )
    .unwrap();
    append_strap_off_alert(&mut h, s, start + 6500);
    h.flush().unwrap();
    let mut buf = Vec::new();
    let report = h.export_edf(s, &mut buf).unwrap();
    assert_eq!(report.samples, 7 * 130);
    assert_eq!(report.filled_samples, 2 * 130);
    assert_eq!(report.overlapping_samples, 0);

    let header = edf::parse_header(&buf).unwrap();
    assert_eq!(header.kind, edf::Kind::EdfPlusContinuous);
    assert_eq!(header.patient, "X X X X");
    assert_eq!(header.recording, "Startdate 21-NOV-2026 X X StressBeat");
    assert_eq!(
        (header.start_date.as_str(), header.start_time.as_str()),
        ("21.11.26", "00.00.10")
    );
    assert_eq!(header.signals[1].label, "EDF Annotations");
    let rec = edf::parse(&buf).unwrap();
    let ecg = &rec.signals[0];
    assert_eq!(
        (ecg.label.as_str(), ecg.unit.as_str(), ecg.sampling_rate_hz),
        ("ECG", "uV", 130.0)
    );
    // the file holds the fill value (as another program reads it); StressBeat reads the
    // annotated stretch back as missing
    let mut foreign = buf.clone();
    let at = foreign[..256]
        .windows(10)
        .position(|w| w == b"StressBeat")
        .unwrap();
    foreign[at..at + 10].copy_from_slice(b"OtherTool ");
    let fill = stressbeat_core::history::GAP_FILL_UV as f32;
    assert!(
        edf::parse(&foreign).unwrap().signals[0].samples[390..650]
            .iter()
            .all(|&v| v == fill)
    );
    let expected: Vec<f32> = [0, 1, 2]
        .into_iter()
        .flat_map(second)
        .map(|v| v as f32)
        .chain(vec![f32::NAN; 260])
        .chain([5, 6].into_iter().flat_map(second).map(|v| v as f32))
        .collect();
    assert_eq!(ecg.samples.len(), expected.len());
    assert!(
        ecg.samples
            .iter()
            .zip(&expected)
            .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()))
    );
    // annotation sample = onset from the first record (start + 0.5 s) × 130 Hz
    let notes: Vec<(i64, &str, Option<f64>)> = rec
        .annotations
        .iter()
        .map(|a| (a.sample, a.symbol.as_str(), a.duration_s))
        .collect();
    assert_eq!(
        notes,
        [
            (0, "StressBeat export, not a medical device", None),
            (390, "no ECG (filled with 0 uV)", Some(2.0)),
            (390, "gap: disconnect (260 samples missing)", Some(2.0)),
            (845, "alert: signal_lost (severity 1): strap off", None),
        ]
    );
    // a session with no ECG is a typed error, not an empty file
    let empty = session(&mut h, T0);
    h.flush().unwrap();
    assert!(matches!(
        h.export_edf(empty, &mut Vec::new()),
        Err(stressbeat_core::Error::InvalidArgument(_))
    ));
}

#[test]
fn edf_export_bounds_a_jump_of_the_strap_clock() {
    let (_d, mut h) = open();
    let s = session(&mut h, T0);
    let rate = 130;
    let ten_years_ms = 10 * 365 * 86_400_000i64;
    for (k, at) in [
        (1, T0),
        (2, T0 + ten_years_ms),
        (3, T0 + ten_years_ms + 1000),
    ] {
        h.append_ecg(
            s,
            &EcgChunk {
                first_sample_ms: at,
                sampling_rate_hz: rate,
                samples_uv: &vec![k; rate as usize],
            },
        )
        .unwrap();
    }
    append_strap_off_alert(&mut h, s, T0 + ten_years_ms + 1500);
    h.flush().unwrap();
    let mut buf = Vec::new();
    let report = h.export_edf(s, &mut buf).unwrap();
    let fill = stressbeat_core::history::MAX_GAP_FILL_S as u64 * 130;
    assert_eq!(report.filled_samples, fill);
    assert_eq!(report.samples, 3 * 130 + fill);
    let rec = edf::parse(&buf).unwrap();
    assert_eq!(rec.signals[0].samples.len() as u64, report.samples);
    // the shortened fill reads back as missing, exactly
    let missing: Vec<bool> = rec.signals[0].samples.iter().map(|v| v.is_nan()).collect();
    assert!(missing[130..130 + fill as usize].iter().all(|&m| m));
    assert_eq!(missing.iter().filter(|&&m| m).count() as u64, fill);
    let notes: Vec<(i64, &str)> = rec
        .annotations
        .iter()
        .map(|a| (a.sample, a.symbol.as_str()))
        .collect();
    let gap_note = format!(
        "no ECG for {} s (filled with 0 uV for 3600 s only: what follows happened {} s later \
         than its place in this file)",
        ten_years_ms / 1000 - 1,
        ten_years_ms / 1000 - 1 - 3600
    );
    // the alert keeps its place after the data it belongs to
    assert_eq!(
        notes,
        [
            (0, "StressBeat export, not a medical device"),
            (130, gap_note.as_str()),
            (
                130 + fill as i64 + 195,
                "alert: signal_lost (severity 1): strap off"
            ),
        ]
    );
}

/// A strap 0.05 Hz off the 130 Hz it is stored at (the rate is stored in whole Hz), for an
/// hour: every stored sample exported once and in order, with no fill and no overlap (before,
/// each chunk was placed by its time from the first at the stored rate: the 0.04 % added up to
/// fake gaps or dropped samples); an alert stays beside the sample taken at its time, and the
/// export's timeline dates every sample; a real hole of 18 frames is still filled.
#[test]
fn edf_export_of_a_strap_slightly_off_its_stored_rate() {
    const FRAME: usize = 73;
    const FRAMES: usize = 3600 * 130 / FRAME;
    const HOLE: std::ops::Range<usize> = FRAMES / 2..FRAMES / 2 + 18;
    let value = |i: usize| (i % 1000) as i32;
    for (true_hz, hole) in [(130.05, 0..0), (129.95, 0..0), (129.95, HOLE)] {
        let (_d, mut h) = open();
        let s = session(&mut h, T0);
        let taken_ms = |i: usize| (T0 as f64 + i as f64 * 1000.0 / true_hz).round() as i64;
        for k in (0..FRAMES).filter(|k| !hole.contains(k)) {
            let samples: Vec<i32> = (k * FRAME..(k + 1) * FRAME).map(value).collect();
            h.append_ecg(
                s,
                &EcgChunk {
                    first_sample_ms: taken_ms(k * FRAME),
                    sampling_rate_hz: 130,
                    samples_uv: &samples,
                },
            )
            .unwrap();
        }
        let taken = FRAMES * FRAME;
        append_strap_off_alert(&mut h, s, taken_ms(taken - 100));
        h.flush().unwrap();
        let mut buf = Vec::new();
        let r = h.export_edf(s, &mut buf).unwrap();
        let missing = (hole.len() * FRAME) as i64;
        // a hole is measured against the strap's real rate to within a sample
        let filled = r.filled_samples as i64;
        assert!((filled - missing).abs() <= 1, "{true_hz} Hz: {r:?}");
        assert_eq!(r.overlapping_samples, 0, "{true_hz} Hz: {r:?}");
        assert_eq!(r.samples as i64, taken as i64 - missing + filled);
        // sample i of the strap is sample i of the file (after the hole, shifted by the fill's
        // rounding)
        let rec = edf::parse(&buf).unwrap();
        let ecg = &rec.signals[0].samples;
        let after_hole = hole.end * FRAME;
        let shift = filled - missing;
        for i in (0..taken).filter(|i| !(hole.start * FRAME..after_hole).contains(i)) {
            let at = if i < after_hole {
                i as i64
            } else {
                i as i64 + shift
            };
            assert_eq!(
                ecg[at as usize],
                value(i) as f32,
                "{true_hz} Hz: sample {i}"
            );
            // and the export's timeline knows when it was taken, to within a sample
            let dated = r.timeline.sample_time_ms(at as u64);
            assert!((dated - taken_ms(i)).abs() <= 8, "{true_hz} Hz: sample {i}");
        }
        let alert = rec
            .annotations
            .iter()
            .find(|a| a.symbol.starts_with("alert"))
            .unwrap();
        let expected = taken as i64 - 100 + shift;
        assert!(
            (alert.sample - expected).abs() <= 1,
            "{true_hz} Hz: alert at sample {}, taken at {expected}",
            alert.sample
        );
    }
}

/// A damaged row (a sampling rate of 4 GHz) would have the export fill its gaps with billions of
/// samples: a typed `Corrupt` error instead, and the data stays.
#[test]
fn edf_export_refuses_an_implausible_stored_rate() {
    let (_d, mut h) = open();
    let s = session(&mut h, T0);
    for at in [T0, T0 + 1000] {
        h.append_ecg(
            s,
            &EcgChunk {
                first_sample_ms: at,
                sampling_rate_hz: u32::MAX,
                samples_uv: &[1, 2, 3],
            },
        )
        .unwrap();
    }
    h.flush().unwrap();
    assert!(matches!(
        h.export_edf(s, &mut Vec::new()),
        Err(stressbeat_core::Error::Storage {
            kind: stressbeat_core::StorageErrorKind::Corrupt,
            ..
        })
    ));
    assert_eq!(h.sessions(1).unwrap()[0].ecg_samples, 6);
}
