//! The connection state machine (`sensor::session`) against the simulated H10 (`sim::strap`),
//! one fault class at a time: no panic, every gap reported with its length (vs the simulator's
//! ground truth), reconnect and resume, and R-peak detection on the delivered ECG keeps its
//! accuracy against the true beats (Se, +P ≥ 99 % on the frames that arrived).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may unwrap and panic

use stressbeat_core::dsp::rpeak::detect_peaks;
use stressbeat_core::sensor::source::{SensorSource, SessionSource};
use stressbeat_core::sensor::{
    ConnectionState, EcgChunk, GapCause, SensorEvent, Session, SessionConfig,
};
use stressbeat_core::sim::faults::{FaultConfig, FaultKind};
use stressbeat_core::sim::strap::{GroundTruth, SimStrap, StrapConfig};

struct Run {
    events: Vec<SensorEvent>,
    truth: GroundTruth,
    stats: stressbeat_core::sensor::SessionStats,
    strap_streaming_after_stop: bool,
    final_state: ConnectionState,
}

fn run(spec: &str, seconds: i64, seed: u64) -> Run {
    run_strap(spec, seconds, seed, StrapConfig::default())
}

/// [`run`] against a strap configured otherwise (`faults` and `seed` are set from the others).
fn run_strap(spec: &str, seconds: i64, seed: u64, strap: StrapConfig) -> Run {
    let faults = FaultConfig::parse(spec).expect("spec");
    let strap = SimStrap::new(StrapConfig {
        faults,
        seed,
        ..strap
    });
    let mut src = SessionSource::new(
        Session::new(SessionConfig {
            seed,
            ..SessionConfig::default()
        }),
        strap,
    );
    let mut events = Vec::new();
    let end = seconds * 1000;
    let mut now = 0;
    while now <= end {
        src.poll(now, &mut events);
        now += 10;
    }
    src.stop(now);
    src.poll(now + 2000, &mut events);
    // Let the strap process the stop (its replies come a few connection events later).
    let _ = src.peripheral.poll(now + 5000);
    Run {
        stats: src.session.stats().clone(),
        final_state: src.session.state().clone(),
        strap_streaming_after_stop: src.peripheral.is_streaming(),
        truth: src.peripheral.take_truth(),
        events,
    }
}

fn gaps(r: &Run) -> Vec<(f64, f64, u64, GapCause)> {
    r.events
        .iter()
        .filter_map(|e| match e {
            SensorEvent::Gap {
                from_ms,
                to_ms,
                missing_samples,
                cause,
            } => Some((*from_ms, *to_ms, *missing_samples, *cause)),
            _ => None,
        })
        .collect()
}

fn samples(r: &Run) -> u64 {
    r.events
        .iter()
        .map(|e| match e {
            SensorEvent::Ecg(c) => c.samples_uv.len() as u64,
            _ => 0,
        })
        .sum()
}

/// Every true gap is reported at its place with its length (± `tol` samples), and every
/// reported gap is a true one.
fn assert_gaps_match(r: &Run, tol: u64, time_tol_ms: f64) {
    let truth = r.truth.gaps();
    let got = gaps(r);
    for g in &truth {
        let hit = got.iter().find(|(from, to, _, _)| {
            *from - time_tol_ms <= g.at_ms && g.at_ms <= *to + time_tol_ms
        });
        let Some(&(_, _, n, _)) = hit else {
            panic!("true gap {g:?} not reported; reported: {got:?}");
        };
        assert!(
            n.abs_diff(g.n_samples) <= tol,
            "gap at {:.0} ms: reported {n} samples, true {}",
            g.at_ms,
            g.n_samples
        );
    }
    assert_eq!(
        got.len(),
        truth.len(),
        "reported gaps {got:?} vs true {truth:?}"
    );
}

/// R-peaks detected on each contiguous delivered segment vs the true beats in it.
fn assert_peaks(r: &Run, min: f64) {
    // contiguous segments of (time, µV)
    let mut segs: Vec<(Vec<f64>, Vec<f32>)> = vec![(Vec::new(), Vec::new())];
    for e in &r.events {
        match e {
            SensorEvent::Gap { .. } | SensorEvent::TimestampJump { .. } => {
                segs.push((Vec::new(), Vec::new()))
            }
            SensorEvent::Ecg(c) => {
                let s = segs.last_mut().expect("segment");
                for (i, v) in c.samples_uv.iter().enumerate() {
                    s.0.push(c.first_sample_ms + i as f64 * c.sample_interval_ms);
                    s.1.push(*v as f32 / 1000.0);
                }
            }
            _ => {}
        }
    }
    let beats: Vec<f64> = r
        .truth
        .beats
        .iter()
        .filter(|b| !b.lead_off)
        .map(|b| r.truth.sample_time_ms(b.sample))
        .collect();
    let lead_off: Vec<f64> = r
        .truth
        .beats
        .iter()
        .filter(|b| b.lead_off)
        .map(|b| r.truth.sample_time_ms(b.sample))
        .collect();
    let (mut tp, mut fn_, mut fp) = (0usize, 0usize, 0usize);
    for (t, x) in segs.iter().filter(|s| s.0.len() > 130 * 5) {
        // skip 1.5 s at each end (detector warm-up / cut beats)
        let (lo, hi) = (t[0] + 1500.0, t[t.len() - 1] - 1500.0);
        let peaks: Vec<f64> = detect_peaks(x, 130.0)
            .into_iter()
            .map(|i| t[i])
            .filter(|&p| p >= lo && p <= hi)
            .filter(|&p| !lead_off.iter().any(|b| (b - p).abs() < 2000.0))
            .collect();
        let truth: Vec<f64> = beats
            .iter()
            .copied()
            .filter(|&b| b >= lo && b <= hi)
            .filter(|&b| !lead_off.iter().any(|l| (l - b).abs() < 2000.0))
            .collect();
        let mut used = vec![false; peaks.len()];
        for b in &truth {
            match peaks
                .iter()
                .enumerate()
                .filter(|(i, p)| !used[*i] && (*p - b).abs() <= 150.0)
                .min_by(|a, c| (a.1 - b).abs().total_cmp(&(c.1 - b).abs()))
            {
                Some((i, _)) => {
                    used[i] = true;
                    tp += 1
                }
                None => fn_ += 1,
            }
        }
        fp += used.iter().filter(|u| !**u).count();
    }
    let se = tp as f64 / (tp + fn_).max(1) as f64;
    let pp = tp as f64 / (tp + fp).max(1) as f64;
    assert!(tp > 50, "too few beats scored: {tp}");
    assert!(
        se >= min && pp >= min,
        "Se {se:.4} +P {pp:.4} (tp {tp}, fn {fn_}, fp {fp})"
    );
}

fn assert_clean_stop(r: &Run) {
    assert_eq!(r.final_state, ConnectionState::Stopped);
    assert!(
        !r.strap_streaming_after_stop,
        "stream left running after stop"
    );
}

fn streaming_count(r: &Run) -> usize {
    r.events
        .iter()
        .filter(|e| matches!(e, SensorEvent::Connection(ConnectionState::Streaming)))
        .count()
}

#[test]
fn clean_link_no_gaps_and_accurate() {
    let r = run("", 120, 1);
    assert_clean_stop(&r);
    assert!(gaps(&r).is_empty(), "{:?}", gaps(&r));
    assert_eq!(streaming_count(&r), 1);
    assert!(samples(&r) > 130 * 115, "{}", samples(&r));
    assert!(
        r.events
            .iter()
            .any(|e| matches!(e, SensorEvent::HeartRate { .. }))
    );
    assert!(
        r.events
            .iter()
            .any(|e| matches!(e, SensorEvent::Battery { .. }))
    );
    assert_peaks(&r, 0.99);
}

#[test]
fn frame_loss_reported_per_gap() {
    let r = run("loss=5%", 150, 2);
    assert_clean_stop(&r);
    assert!(r.truth.faults_of(FaultKind::FrameLost).count() > 5);
    assert_gaps_match(&r, 1, 50.0);
    assert_peaks(&r, 0.99);
}

#[test]
fn duplicates_dropped_without_gaps() {
    let r = run("dup=5%", 120, 3);
    assert_clean_stop(&r);
    assert!(r.stats.duplicates_dropped > 0);
    assert_gaps_match(&r, 0, 50.0);
    assert_peaks(&r, 0.99);
}

#[test]
fn reordering_put_back_in_order() {
    let r = run("reorder=5%", 120, 5);
    assert_clean_stop(&r);
    assert!(r.truth.faults_of(FaultKind::FrameReordered).count() > 3);
    assert_gaps_match(&r, 0, 50.0);
    assert_peaks(&r, 0.99);
}

#[test]
fn corruption_never_panics_and_gaps_are_near_corrupt_frames() {
    let r = run("corrupt=3%", 150, 5);
    assert_clean_stop(&r);
    let truth = r.truth.gaps();
    for (from, to, _, _) in gaps(&r) {
        assert!(
            truth
                .iter()
                .any(|g| g.at_ms >= from - 1500.0 && g.at_ms <= to + 1500.0),
            "gap {from:.0}..{to:.0} not near a corrupted frame"
        );
    }
    // Corrupted sample bytes cannot be detected (no CRC above the link layer); the detector
    // must still hold up.
    assert_peaks(&r, 0.98);
}

#[test]
fn timestamp_jumps_realigned_without_phantom_gaps() {
    let r = run("jump=40s", 170, 6);
    assert_clean_stop(&r);
    let jumps = r.truth.faults_of(FaultKind::TimestampJump).count();
    assert!(jumps >= 3);
    let reported = r
        .events
        .iter()
        .filter(|e| matches!(e, SensorEvent::TimestampJump { .. }))
        .count();
    assert_eq!(reported, jumps);
    assert_gaps_match(&r, 0, 50.0);
    // Times stay monotonic across jumps.
    let mut last = f64::MIN;
    for e in &r.events {
        if let SensorEvent::Ecg(c) = e {
            assert!(c.first_sample_ms > last, "{} <= {last}", c.first_sample_ms);
            last = c.last_sample_ms();
        }
    }
    assert_peaks(&r, 0.99);
}

/// Between two chunks with nothing reported between them (no gap, jump or connection change),
/// the second starts one sample interval (± a quarter of it) after the first ends: times never
/// step back (a history export would drop samples there) nor jump ahead (it would pad).
fn assert_contiguous(r: &Run) {
    let mut prev: Option<&EcgChunk> = None;
    for e in &r.events {
        match e {
            SensorEvent::Ecg(c) => {
                if let Some(p) = prev {
                    let step = c.first_sample_ms - p.last_sample_ms();
                    assert!(
                        (step / c.sample_interval_ms - 1.0).abs() < 0.25,
                        "chunk at {:.1} ms starts {step:+.1} ms after the previous one ends",
                        c.first_sample_ms
                    );
                }
                prev = Some(c);
            }
            SensorEvent::Gap { .. }
            | SensorEvent::TimestampJump { .. }
            | SensorEvent::Connection(_) => prev = None,
            _ => {}
        }
    }
}

#[test]
fn clock_drift_followed() {
    for (spec, seed) in [("drift=200ppm", 7), ("drift=-200ppm", 8)] {
        let r = run(spec, 150, seed);
        assert_clean_stop(&r);
        assert_gaps_match(&r, 0, 50.0);
        assert_contiguous(&r);
        assert_peaks(&r, 0.99);
    }
}

/// Link stalls of up to 4 s (below the silence timeout), six a minute: the held-back frames
/// come in a burst, late; the sample times run on without a step, and nothing is reported lost.
#[test]
fn link_stalls_keep_sample_times_contiguous() {
    for (spec, seed) in [("", 40), ("drift=200ppm", 41), ("drift=-200ppm", 42)] {
        let strap = StrapConfig {
            stalls_per_min: 6.0,
            max_stall_ms: 4_000.0,
            ..StrapConfig::default()
        };
        let r = run_strap(spec, 180, seed, strap);
        assert_clean_stop(&r);
        assert_gaps_match(&r, 0, 50.0);
        assert_contiguous(&r);
        assert_peaks(&r, 0.99);
    }
}

/// Stalls longer than the silence timeout while heart rate keeps arriving: the ECG stream is
/// restarted over the link, not the link; the stalled frames still count, so each gap is the
/// samples the restart really cost (a true gap), not the stall. Seed 46 has two restarts
/// pending at once (a stall right after a restart).
#[test]
fn ecg_stalls_beyond_the_silence_timeout_restart_the_stream_not_the_link() {
    for seed in [43, 46, 48] {
        let strap = StrapConfig {
            stalls_per_min: 1.5,
            max_stall_ms: 9_000.0,
            ..StrapConfig::default()
        };
        let r = run_strap("", 240, seed, strap);
        assert_clean_stop(&r);
        assert!(r.stats.silent_stream_restarts >= 3, "{:?}", r.stats);
        assert_eq!(
            (r.stats.reconnects, r.stats.timestamp_jumps),
            (0, 0),
            "{:?}",
            r.stats
        );
        assert_gaps_match(&r, 2, 200.0);
        assert!(
            gaps(&r).iter().any(|g| g.3 == GapCause::StreamRestarted),
            "{:?}",
            gaps(&r)
        );
        assert_contiguous(&r);
        assert_peaks(&r, 0.99);
    }
}

#[test]
fn disconnects_reconnect_resume_and_report_gaps() {
    let r = run("disconnect=50s/8s", 180, 9);
    assert_clean_stop(&r);
    let drops = r.truth.faults_of(FaultKind::Disconnect).count();
    assert!(drops >= 3);
    assert!(
        streaming_count(&r) > drops,
        "resumed {} times",
        streaming_count(&r)
    );
    assert!(r.events.iter().any(|e| matches!(
        e,
        SensorEvent::Connection(ConnectionState::Reconnecting { .. })
    )));
    assert_gaps_match(&r, 2, 200.0);
    assert!(gaps(&r).iter().all(|g| g.3 == GapCause::LinkLost));
    assert_peaks(&r, 0.99);
}

#[test]
fn power_down_clock_reset_resumes() {
    let r = run("powerdown=60s/15s", 170, 10);
    assert_clean_stop(&r);
    assert!(r.truth.faults_of(FaultKind::PowerDown).count() >= 2);
    assert!(streaming_count(&r) >= 3);
    // Length from the phone clock after a sensor clock reset: ± 1.5 s.
    assert_gaps_match(&r, 195, 1500.0);
    assert_peaks(&r, 0.99);
}

#[test]
fn lead_off_reports_contact_and_keeps_streaming() {
    let r = run("leadoff=40s/10s", 130, 11);
    assert_clean_stop(&r);
    assert!(r.events.iter().any(|e| matches!(
        e,
        SensorEvent::Contact {
            contact: Some(false),
            ..
        }
    )));
    assert_gaps_match(&r, 0, 50.0);
    assert_eq!(streaming_count(&r), 1);
    assert_peaks(&r, 0.99);
}

#[test]
fn silent_strap_dropped_and_reconnected() {
    let r = run("silent=60s/20s", 170, 12);
    assert_clean_stop(&r);
    assert!(r.truth.faults_of(FaultKind::Silent).count() >= 2);
    assert!(streaming_count(&r) >= 3, "{}", streaming_count(&r));
    assert_gaps_match(&r, 2, 200.0);
    assert_peaks(&r, 0.99);
}

#[test]
fn everything_at_once_never_panics() {
    for seed in 20..23 {
        let r = run(
            "loss=3%,dup=2%,reorder=2%,corrupt=1%,jump=70s,drift=80ppm,disconnect=90s/10s,powerdown=150s/20s,leadoff=50s/5s,silent=110s/15s",
            240,
            seed,
        );
        assert_clean_stop(&r);
        assert!(samples(&r) > 130 * 120);
    }
}

#[test]
fn seed_sweep_gaps_match() {
    let cases: [(&str, u64, f64); 7] = [
        ("loss=5%", 1, 50.0),
        ("dup=5%", 0, 50.0),
        ("reorder=5%", 0, 50.0),
        ("jump=30s", 0, 50.0),
        ("drift=150ppm,loss=2%", 1, 50.0),
        ("disconnect=40s/6s", 2, 200.0),
        ("silent=50s/12s", 2, 200.0),
    ];
    for (spec, tol, t_tol) in cases {
        for seed in 30..34 {
            let r = run(spec, 130, seed);
            assert_clean_stop(&r);
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                assert_gaps_match(&r, tol, t_tol);
                assert_contiguous(&r);
                // Many short runs: one spurious peak in ~80 beats is 98.8 %; the single-class
                // tests above hold the 99 % bar.
                assert_peaks(&r, 0.98);
            }));
            assert!(res.is_ok(), "{spec} seed {seed}");
        }
    }
}

/// A strap whose control-point replies come in several indications (3 parameter bytes each):
/// the session assembles the settings reply and streams as with one packet.
#[test]
fn replies_split_over_indications_stream_as_with_one() {
    let strap = SimStrap::new(StrapConfig {
        split_replies: Some(3),
        seed: 7,
        ..StrapConfig::default()
    });
    let mut src = SessionSource::new(
        Session::new(SessionConfig {
            seed: 7,
            ..SessionConfig::default()
        }),
        strap,
    );
    let mut events = Vec::new();
    for now in (0..=30_000).step_by(10) {
        src.poll(now, &mut events);
    }
    let started: Vec<(u16, u16)> = events
        .iter()
        .filter_map(|e| match e {
            SensorEvent::StreamStarted {
                sample_rate_hz,
                resolution_bits,
                ..
            } => Some((*sample_rate_hz, *resolution_bits)),
            _ => None,
        })
        .collect();
    assert_eq!(started, [(130, 14)]);
    let stats = src.session.stats();
    assert_eq!(stats.control_point_errors, 0, "{stats:?}");
    assert!(stats.frames_delivered > 30, "{stats:?}");
}
