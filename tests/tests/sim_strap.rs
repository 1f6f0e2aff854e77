//! The simulated H10 driven by a minimal phone: its bytes decode with the protocol decoders, and
//! every fault class is injected (no panic) with a log that matches what a consumer sees.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may unwrap and panic

use stressbeat_core::dsp::rpeak::detect_peaks;
use stressbeat_core::eval::{EvalOptions, score_record};
use stressbeat_core::protocol::hrs::{HeartRateMeasurement, SensorContact};
use stressbeat_core::protocol::pmd::{FrameContext, decode_ecg_into};
use stressbeat_core::sensor::transport::{Characteristic, TransportEvent, TransportEventKind};
use stressbeat_core::sim::ecgsyn::{EcgConfig, annotations};
use stressbeat_core::sim::faults::{FaultConfig, FaultKind};
use stressbeat_core::sim::strap::{
    BasicPhone, ECG_FRAME_BYTES, GroundTruth, NS_2019, SimStrap, StrapConfig,
};

fn run(spec: &str, minutes: f64, seed: u64) -> (Vec<TransportEvent>, GroundTruth) {
    let cfg = StrapConfig {
        faults: FaultConfig::parse(spec).unwrap(),
        seed,
        ecg: EcgConfig {
            seed,
            ..EcgConfig::default()
        },
        ..StrapConfig::default()
    };
    let mut strap = SimStrap::new(cfg);
    let mut phone = BasicPhone::new();
    let mut events = Vec::new();
    let end = (minutes * 60_000.0) as i64;
    let mut t = 0;
    while t <= end {
        events.extend(phone.step(&mut strap, t));
        t += 20;
    }
    (events, strap.truth().clone())
}

fn frames(events: &[TransportEvent]) -> Vec<(i64, &[u8])> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            TransportEventKind::Notification {
                characteristic: Characteristic::PmdData,
                value,
            } => Some((e.at_ms, value.as_slice())),
            _ => None,
        })
        .collect()
}

fn ts(frame: &[u8]) -> u64 {
    u64::from_le_bytes(frame[1..9].try_into().unwrap())
}

fn hr(events: &[TransportEvent]) -> Vec<(i64, HeartRateMeasurement)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            TransportEventKind::Notification {
                characteristic: Characteristic::HeartRateMeasurement,
                value,
            } => Some((e.at_ms, HeartRateMeasurement::decode(value).unwrap())),
            _ => None,
        })
        .collect()
}

fn count(t: &GroundTruth, k: FaultKind) -> usize {
    t.faults_of(k).count()
}

#[test]
fn deterministic_for_a_seed() {
    let spec = "loss=5%,dup=1%,reorder=1%,corrupt=1%,disconnect=1m/5s";
    let (a, ta) = run(spec, 3.0, 7);
    let (b, tb) = run(spec, 3.0, 7);
    assert_eq!(a, b);
    assert_eq!(ta, tb);
    let (c, _) = run(spec, 3.0, 8);
    assert_ne!(a, c);
}

#[test]
fn clean_stream_decodes_and_detector_keeps_accuracy() {
    let (ev, truth) = run("", 5.0, 1);
    let fr = frames(&ev);
    // 5 min at 130 Hz = 1.78 frames/s, minus the connection set-up
    assert!(fr.len() > 520 && fr.len() <= 535, "{}", fr.len());
    let mut ecg = Vec::new();
    let mut buf = Vec::new();
    let mut prev_ts = None;
    for (_, f) in &fr {
        assert_eq!(f.len(), ECG_FRAME_BYTES);
        let h = decode_ecg_into(f, &FrameContext::default(), &mut buf).unwrap();
        assert_eq!(buf.len(), 73);
        if let Some(p) = prev_ts {
            let d = h.timestamp_ns - p;
            assert!((d as f64 - 73e9 / 130.0).abs() < 2.0);
        }
        prev_ts = Some(h.timestamp_ns);
        ecg.extend(buf.iter().map(|&v| v as f32 / 1000.0));
    }
    assert!(truth.gaps().is_empty());
    // detector on the delivered samples vs the true beats (shifted to the first delivered sample)
    let first = truth.delivered_frames()[0].first_sample;
    let fs = truth.fs_hz;
    let dets: Vec<f64> = detect_peaks(&ecg, fs)
        .into_iter()
        .map(|i| (i as u64 + first) as f64)
        .collect();
    let refs: Vec<_> = annotations(&truth.beats)
        .into_iter()
        .filter(|a| a.sample >= first as i64 && a.sample < first as i64 + ecg.len() as i64)
        .collect();
    let s = score_record("strap", &refs, fs, &dets, &EvalOptions::default());
    eprintln!("delivered frames: {}", s.summary());
    assert!(s.sensitivity() >= 0.995 && s.positive_predictivity() >= 0.995);
    // arrival: frames come in order; bursts after stalls
    let gaps: Vec<i64> = fr.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(gaps.iter().all(|&g| g >= 0));
    eprintln!(
        "inter-arrival ms: min {} max {}",
        gaps.iter().min().unwrap(),
        gaps.iter().max().unwrap()
    );
}

#[test]
fn heart_rate_notifications_carry_the_true_rr() {
    let (ev, truth) = run("", 2.0, 3);
    let h = hr(&ev);
    assert!(h.len() >= 110, "{}", h.len());
    let got: Vec<u16> = h.iter().flat_map(|(_, m)| m.rr_1024.clone()).collect();
    assert!(h.iter().all(|(_, m)| m.contact == SensorContact::Contact));
    let want: Vec<u16> = truth
        .beats
        .iter()
        .filter_map(|b| b.rr_s)
        .map(|r| (r * 1024.0).round() as u16)
        .collect();
    // the notifications start after connecting: `got` is a contiguous run of `want`
    let pos = want
        .windows(got.len().min(20))
        .position(|w| w == &got[..got.len().min(20)]);
    assert!(pos.is_some());
    let p = pos.unwrap();
    assert_eq!(&want[p..p + got.len()], &got[..]);
}

#[test]
fn lost_frames_match_the_log() {
    let (ev, truth) = run("loss=5%", 10.0, 4);
    let lost = count(&truth, FaultKind::FrameLost);
    let seen = frames(&ev).len();
    let produced = truth.frames.len();
    eprintln!("produced {produced}, lost {lost}, seen {seen}");
    assert!(lost > 30);
    assert_eq!(seen + lost, produced);
    let gap_samples: u64 = truth.gaps().iter().map(|g| g.n_samples).sum();
    // every gap is whole lost frames (except a loss at the very end, not bounded by a frame)
    let last_lost = truth
        .faults_of(FaultKind::FrameLost)
        .filter(|f| f.frame_seq.is_some_and(|s| s as usize + 1 == produced))
        .count();
    assert_eq!(gap_samples, 73 * (lost - last_lost) as u64);
    for g in truth.gaps() {
        assert_eq!(g.n_samples % 73, 0);
        assert!((g.len_ms - g.n_samples as f64 * 1000.0 / 130.0).abs() < 1e-6);
    }
}

#[test]
fn duplicates_and_reorders_match_the_log() {
    let (ev, truth) = run("dup=3%,reorder=3%", 10.0, 5);
    let fr = frames(&ev);
    let dups = count(&truth, FaultKind::FrameDuplicated);
    let reorders = count(&truth, FaultKind::FrameReordered);
    assert_eq!(fr.len(), truth.frames.len() + dups);
    let mut seen_ts: Vec<u64> = fr.iter().map(|(_, f)| ts(f)).collect();
    let descending = seen_ts.windows(2).filter(|w| w[1] < w[0]).count();
    eprintln!("dups {dups} reorders {reorders} descending steps {descending}");
    assert!(dups > 10 && reorders > 10);
    // a reordered frame shows up as one step back (two adjacent reorders can merge)
    assert!(descending <= reorders && descending * 10 >= reorders * 8);
    seen_ts.sort_unstable();
    seen_ts.dedup();
    assert_eq!(seen_ts.len(), truth.frames.len());
    assert!(truth.gaps().is_empty());
}

#[test]
fn corrupted_frames_match_the_log_and_never_panic_the_decoder() {
    let (ev, truth) = run("corrupt=5%", 10.0, 6);
    let n = count(&truth, FaultKind::FrameCorrupted);
    let mut buf = Vec::new();
    let mut decode_errors = 0;
    for (_, f) in frames(&ev) {
        if decode_ecg_into(f, &FrameContext::default(), &mut buf).is_err() {
            decode_errors += 1;
        }
    }
    let flagged = truth.frames.iter().filter(|f| f.corrupted).count();
    eprintln!("corrupted {n}, decode errors {decode_errors}");
    assert!(n > 30);
    assert_eq!(flagged, n);
    assert!(decode_errors <= n);
}

#[test]
fn timestamp_jumps_and_drift_match_the_log() {
    let (ev, truth) = run("jump=3m,drift=200ppm", 10.0, 7);
    let jumps: Vec<i64> = truth
        .faults_of(FaultKind::TimestampJump)
        .map(|f| f.len_ms)
        .collect();
    assert_eq!(jumps.len(), 3);
    let fr = frames(&ev);
    let period_ns = 73e9 / 130.0;
    let seen: Vec<i64> = fr
        .windows(2)
        .map(|w| ts(w[1].1) as i64 - ts(w[0].1) as i64)
        .filter(|d| (*d as f64 - period_ns).abs() > 1e6)
        .map(|d| ((d as f64 - period_ns) / 1e6).round() as i64)
        .collect();
    eprintln!("jumps logged {jumps:?}, seen {seen:?}");
    assert_eq!(seen.len(), 3);
    for (a, b) in jumps.iter().zip(&seen) {
        assert!((a - b).abs() <= 1, "{a} vs {b}");
    }
    // drift: 130 Hz in the strap clock is 130.026 Hz on the phone
    assert!((truth.fs_hz - 130.0 * (1.0 + 200e-6)).abs() < 1e-9);
}

#[test]
fn disconnects_drop_the_stream_and_the_phone_restarts_it() {
    let (ev, truth) = run("disconnect=2m/10s", 9.5, 8);
    let logged = count(&truth, FaultKind::Disconnect);
    let seen = ev
        .iter()
        .filter(|e| matches!(e.kind, TransportEventKind::Disconnected { .. }))
        .count();
    assert_eq!(logged, 4);
    assert_eq!(seen, logged);
    let gaps = truth.gaps();
    eprintln!(
        "gaps: {:?}",
        gaps.iter().map(|g| (g.at_ms, g.len_ms)).collect::<Vec<_>>()
    );
    assert_eq!(gaps.len(), 4);
    for (g, d) in gaps.iter().zip(truth.faults_of(FaultKind::Disconnect)) {
        // the gap covers the outage, plus reconnect and restart (< 5 s), minus < 1 frame
        assert!(g.at_ms <= d.at_ms as f64 && g.at_ms > d.at_ms as f64 - 600.0);
        assert!(g.len_ms >= d.len_ms as f64 && g.len_ms < d.len_ms as f64 + 5000.0);
    }
}

#[test]
fn power_down_resets_the_sensor_clock_to_2019() {
    let (ev, truth) = run("powerdown=3m/20s", 5.0, 9);
    assert_eq!(count(&truth, FaultKind::PowerDown), 1);
    assert_eq!(count(&truth, FaultKind::ClockReset), 1);
    let fr = frames(&ev);
    let before = ts(fr[0].1);
    let after = ts(fr[fr.len() - 1].1);
    assert!(before > NS_2019 + 365 * 86_400 * 1_000_000_000);
    assert!((NS_2019..NS_2019 + 300 * 1_000_000_000).contains(&after));
}

#[test]
fn lead_off_clears_contact_and_flattens_the_ecg() {
    let (ev, truth) = run("leadoff=2m/20s", 5.0, 10);
    let lo: Vec<_> = truth.faults_of(FaultKind::LeadOff).copied().collect();
    assert_eq!(lo.len(), 2);
    let h = hr(&ev);
    for (at, m) in &h {
        let inside = lo
            .iter()
            .any(|w| *at > w.at_ms + 1100 && *at < w.at_ms + w.len_ms);
        if inside {
            assert_eq!(m.contact, SensorContact::NoContact);
            assert!(m.rr_1024.is_empty());
        }
    }
    assert!(h.iter().any(|(_, m)| m.contact == SensorContact::NoContact));
    let mut buf = Vec::new();
    let mut flat_frames = 0;
    for (_, f) in frames(&ev) {
        decode_ecg_into(f, &FrameContext::default(), &mut buf).unwrap();
        if buf.iter().all(|&v| v == 0) {
            flat_frames += 1;
        }
    }
    // 2 × 20 s = 40 s ≈ 71 frames fully inside the windows
    assert!((68..=73).contains(&flat_frames), "{flat_frames}");
    assert_eq!(lo[0].n_samples, 2600);
}

#[test]
fn silent_strap_keeps_the_link_but_stops_talking() {
    let (ev, truth) = run("silent=3m/30s", 5.0, 11);
    let s: Vec<_> = truth.faults_of(FaultKind::Silent).copied().collect();
    assert_eq!(s.len(), 1);
    let w = s[0];
    // nothing from the strap's GATT server inside the window; the link layer still answers
    // (the phone gives up after 5 s without data, drops the link and reconnects)
    let inside: Vec<_> = ev
        .iter()
        .filter(|e| e.at_ms > w.at_ms + 100 && e.at_ms < w.at_ms + w.len_ms)
        .filter(|e| {
            !matches!(
                e.kind,
                TransportEventKind::Disconnected { .. } | TransportEventKind::Connected { .. }
            )
        })
        .collect();
    assert!(inside.is_empty(), "{inside:?}");
    assert!(count(&truth, FaultKind::SamplesNotSent) > 0);
    // the stream is back after the window
    assert!(
        frames(&ev)
            .iter()
            .any(|(t, _)| *t > w.at_ms + w.len_ms + 10_000)
    );
}

#[test]
fn the_issue_spec_runs_without_panic_and_every_gap_is_explained() {
    let spec = "loss=5%,dup=1%,reorder=0.5%,corrupt=0.1%,jump=30m,drift=50ppm,disconnect=2m/10s,leadoff=5m/20s,silent=10m/30s";
    let (ev, truth) = run(spec, 31.0, 12);
    let mut buf = Vec::new();
    for (_, f) in frames(&ev) {
        let _ = decode_ecg_into(f, &FrameContext::default(), &mut buf);
    }
    for (_, m) in hr(&ev) {
        assert!(m.bpm < 250);
    }
    let kinds = [
        FaultKind::FrameLost,
        FaultKind::FrameDuplicated,
        FaultKind::FrameReordered,
        FaultKind::TimestampJump,
        FaultKind::Disconnect,
        FaultKind::LeadOff,
        FaultKind::Silent,
    ];
    for k in kinds {
        assert!(count(&truth, k) > 0, "{k:?}");
    }
    // each gap in the delivered samples starts where a frame was lost/corrupted/not sent or a
    // link went down
    let fs = truth.fs_hz;
    for g in truth.gaps() {
        let explained = truth.faults.iter().any(|f| match f.kind {
            FaultKind::FrameLost
            | FaultKind::FrameCorrupted
            | FaultKind::SamplesNotSent
            | FaultKind::LostWithLink => f.first_sample == Some(g.first_sample),
            FaultKind::Disconnect | FaultKind::Silent => {
                let t = g.at_ms;
                t <= (f.at_ms + f.len_ms) as f64 && t >= f.at_ms as f64 - 73_000.0 / fs - 50.0
            }
            _ => false,
        });
        assert!(explained, "unexplained gap {g:?}");
    }
}

#[test]
fn a_strap_off_the_body_for_long_drops_the_link() {
    let (ev, truth) = run("leadoff=2m/60s", 3.5, 13);
    let lo = truth.faults_of(FaultKind::LeadOff).next().copied().unwrap();
    let drop = ev
        .iter()
        .find(|e| matches!(e.kind, TransportEventKind::Disconnected { .. }))
        .unwrap();
    assert!(
        (drop.at_ms - (lo.at_ms + 45_000)).abs() < 100,
        "{}",
        drop.at_ms
    );
    // back after contact returns
    let fr = frames(&ev);
    assert!(fr.iter().any(|(t, _)| *t > lo.at_ms + lo.len_ms + 5_000));
    assert!(
        !fr.iter()
            .any(|(t, _)| *t > drop.at_ms + 100 && *t < lo.at_ms + lo.len_ms)
    );
}
