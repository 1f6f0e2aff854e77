//! The real Polar H10 PMD capture (`polar_h10/pmd_capture`): every frame decodes, timestamps are
//! continuous, the sampling rate is measured, and the heart rate from our R-peaks on the decoded
//! ECG tracks the Polar Flow 1 Hz export of the same session.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use stressbeat_core::{
    dsp::rpeak::detect_peaks,
    formats::pmd_capture,
    protocol::{
        pmd::{FrameContext, decode_ecg_into},
        timing::EcgFrameTracker,
    },
};
use stressbeat_e2e::{dataset, median};

const CAPTURE: &str = "pmd_capture/hr_data_2023-01-13_11-40-07.bin";
const EXPORT: &str = "pmd_capture/Philipp_Diethelm_2023-01-13_11-40-07.csv";

/// The decoded capture: µV samples, their sensor times (ns), frame timestamps and the tracker.
struct Decoded {
    uv: Vec<i32>,
    t_ns: Vec<u64>,
    frame_ts: Vec<u64>,
    tracker: EcgFrameTracker,
    trailing_error: Option<String>,
}

fn decode(bytes: &[u8]) -> Decoded {
    let mut d = Decoded {
        uv: Vec::new(),
        t_ns: Vec::new(),
        frame_ts: Vec::new(),
        tracker: EcgFrameTracker::default(),
        trailing_error: None,
    };
    let mut samples = Vec::new();
    for rec in pmd_capture::records(bytes).unwrap() {
        let body = match rec {
            Ok((_, body)) => body,
            Err(e) => {
                d.trailing_error = Some(e.to_string());
                break;
            }
        };
        let h = decode_ecg_into(body, &FrameContext::default(), &mut samples).unwrap();
        assert_eq!((h.frame_type, h.delta, samples.len()), (0, false, 73));
        let out = d.tracker.push(h.timestamp_ns, &samples, None);
        assert!(out.event.is_none(), "{out:?}");
        let times = out.times.unwrap();
        d.frame_ts.push(h.timestamp_ns);
        d.uv.extend_from_slice(&samples);
        d.t_ns.extend(times.iter());
    }
    d
}

/// (end time s since the first sample, RR ms) of each beat from our R-peaks.
fn our_rr(d: &Decoded, fs: f64) -> Vec<(f64, f64)> {
    let mv: Vec<f32> = d.uv.iter().map(|&v| v as f32 / 1000.0).collect();
    let peaks = detect_peaks(&mv, fs);
    let t0 = d.t_ns[0];
    let t = |i: usize| (d.t_ns[i] - t0) as f64 / 1e9;
    peaks
        .windows(2)
        .map(|w| (t(w[1]), (t(w[1]) - t(w[0])) * 1000.0))
        .collect()
}

/// Per-second HR from our RR: 60000 / median RR of the beats ending within ±2.5 s.
fn hr_at(rr: &[(f64, f64)], t: f64) -> Option<f64> {
    let lo = rr.partition_point(|&(e, _)| e < t - 2.5);
    let hi = rr.partition_point(|&(e, _)| e <= t + 2.5);
    let mut w: Vec<f64> = rr[lo..hi]
        .iter()
        .map(|&(_, r)| r)
        .filter(|r| (250.0..2000.0).contains(r))
        .collect();
    (w.len() >= 2).then(|| 60_000.0 / median(&mut w))
}

/// The HR column of the Polar Flow export (rows after the "Sample rate,Time,HR (bpm)" header;
/// the file's first rows hold personal data and are not read).
fn export_hr(text: &str) -> Vec<Option<f64>> {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with("Sample rate,Time,HR"));
    lines.next();
    lines
        .map(|l| l.split(',').nth(2).and_then(|v| v.trim().parse().ok()))
        .collect()
}

#[test]
fn capture_decodes_continuous_at_130_hz_and_hr_tracks_polar_flow() {
    let Some(dir) = dataset("polar_h10") else {
        return;
    };
    let bytes = std::fs::read(dir.join(CAPTURE)).unwrap();
    let d = decode(&bytes);

    // all frames decode; the file ends with a record length and no body (capture cut off)
    assert_eq!(d.frame_ts.len(), 12_355);
    assert_eq!(d.uv.len(), 12_355 * 73);
    let err = d.trailing_error.as_deref().unwrap();
    assert!(
        err.starts_with("byte 2878739: truncated record: length 229, 0 byte(s) left"),
        "{err}"
    );

    // timestamps continuous: 0.5613 s per 73-sample frame, no gaps, duplicates or jumps
    let s = d.tracker.stats();
    assert_eq!(
        (s.gaps, s.duplicates, s.out_of_order, s.jumps),
        (0, 0, 0, 0)
    );
    let mut spacing: Vec<f64> = d
        .frame_ts
        .windows(2)
        .map(|w| (w[1] - w[0]) as f64 / 1e9)
        .collect();
    let (min, max) = spacing
        .iter()
        .fold((f64::MAX, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
    let med = median(&mut spacing);
    let fs = d.tracker.sampling_rate_hz();
    println!("frame spacing: median {med:.6} s, min {min:.6} s, max {max:.6} s");
    println!("sampling rate (sensor clock): {fs:.4} Hz");
    assert!((med - 0.5613).abs() < 0.0001, "{med}");
    assert!(min > 0.56 && max < 0.563);
    assert!((130.0..130.1).contains(&fs), "{fs}");
    // the sensor clock had been reset (2019-01-01 + 9 min): not wall time
    assert!(
        d.frame_ts[0] < stressbeat_core::protocol::timing::H10_RESET_PMD_NS + 3600 * 1_000_000_000
    );

    // heart rate from our R-peaks vs the Polar Flow 1 Hz export of the same session
    let rr = our_rr(&d, fs);
    let text = std::fs::read_to_string(dir.join(EXPORT)).unwrap();
    let flow = export_hr(&text);
    assert_eq!(flow.len(), 6819);
    let mad_at = |lag: i64| {
        let mut diffs: Vec<f64> = flow
            .iter()
            .enumerate()
            .filter_map(|(s, hr)| Some((hr.as_ref()? - hr_at(&rr, s as f64 + lag as f64)?).abs()))
            .collect();
        let n = diffs.len();
        (median(&mut diffs), n)
    };
    // The lag is searched over ±300 s: ±30 s does not contain it (measured: 261 s, i.e. the
    // capture started 4 min 21 s before the Polar Flow session although both files are named
    // 11-40-07; ~11-13 bpm apart at every lag within ±30 s).
    let (best_lag, (best_mad, n)) = (-300..=300)
        .map(|lag| (lag, mad_at(lag)))
        .min_by(|a, b| a.1.0.total_cmp(&b.1.0))
        .unwrap();
    let (mad0, _) = mad_at(0);
    println!(
        "HR vs Polar Flow: {} beats; best lag {best_lag} s (export second s = capture second s + lag): \
         median |ΔHR| {best_mad:.2} bpm over {n} s; at lag 0: {mad0:.2} bpm",
        rr.len()
    );
    assert!((255..=267).contains(&best_lag), "{best_lag}");
    assert!(best_mad <= 1.5, "{best_mad}");
    assert!(n > 6600, "{n}");
}
