//! The monitor through its FFI object in Rust (what Kotlin and Swift call): typed errors, a
//! corrupt model reported while scoring continues from HRV, gaps stored under faults.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use stressbeat_core::ffi::{
    CalibrationProgress, ModelTask, MonitorSource, MonitorStatus, SessionEndReason, StatusListener,
    StressBeatError, StressListener, StressMonitor, StressMonitorConfig, StressUpdate,
};

#[derive(Default)]
struct Log {
    status: Mutex<Vec<MonitorStatus>>,
    stress: Mutex<Vec<StressUpdate>>,
}
impl StatusListener for Log {
    fn on_status(&self, s: MonitorStatus) {
        self.status.lock().unwrap().push(s);
    }
}
impl StressListener for Log {
    fn on_stress(&self, u: StressUpdate) {
        self.stress.lock().unwrap().push(u);
    }
}

fn config(db: &std::path::Path) -> StressMonitorConfig {
    StressMonitorConfig {
        database_path: db.to_string_lossy().into_owned(),
        stress_model_path: None,
        beat_model_path: None,
        strict_models: false,
        alerts: None,
        utc_offset_minutes: 0,
        retention: None,
    }
}

/// A simulated strap in real time for 30 minutes: a session that runs until stopped.
fn live_simulator() -> MonitorSource {
    MonitorSource::Simulator {
        minutes: 30.0,
        seed: 11,
        stress: Vec::new(),
        faults: String::new(),
        realtime: true,
        heart_rate_only: false,
    }
}

fn simulator(minutes: f64, faults: &str) -> MonitorSource {
    MonitorSource::Simulator {
        minutes,
        seed: 11,
        stress: Vec::new(),
        faults: faults.into(),
        realtime: false,
        heart_rate_only: false,
    }
}

#[test]
fn bad_database_path_is_a_storage_error_without_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("private-user/none/history.db");
    let err = StressMonitor::new(config(&db)).unwrap_err();
    let StressBeatError::Storage { message } = err else {
        panic!("{err:?}")
    };
    assert!(!message.contains("private-user"), "{message}");
}

#[test]
fn corrupt_model_is_reported_and_scores_come_from_hrv() {
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("stress.onnx");
    std::fs::write(&onnx, b"definitely not an onnx graph").unwrap();
    std::fs::write(dir.path().join("stress.json"), b"{\"format\": 1").unwrap();
    let mut strict = config(&dir.path().join("h.db"));
    strict.stress_model_path = Some(onnx.to_string_lossy().into_owned());
    strict.strict_models = true;
    assert!(matches!(
        StressMonitor::new(strict.clone()),
        Err(StressBeatError::Model { .. })
    ));

    let lenient = StressMonitorConfig {
        strict_models: false,
        ..strict
    };
    let m = StressMonitor::new(lenient).unwrap();
    let log = Arc::new(Log::default());
    let _a = m.subscribe_status(log.clone());
    let _b = m.subscribe_stress(log.clone());
    m.start(simulator(3.0, "")).unwrap();
    m.wait_until_finished().unwrap();
    let status = log.status.lock().unwrap().clone();
    assert!(
        status
            .iter()
            .any(|s| matches!(s, MonitorStatus::ModelUnavailable { task, .. } if *task == ModelTask::Stress)),
        "{status:?}"
    );
    {
        let stress = log.stress.lock().unwrap();
        let scored: Vec<&StressUpdate> = stress.iter().filter(|u| u.score.is_some()).collect();
        assert!(scored.len() > 10, "{} scored windows", scored.len());
        assert!(scored.iter().all(|u| u.from_hrv_fallback));
    }
    // a strap that sends only RR intervals gets fallback scores too (no R/T amplitudes)
    log.stress.lock().unwrap().clear();
    m.start(MonitorSource::Simulator {
        minutes: 3.0,
        seed: 11,
        stress: Vec::new(),
        faults: String::new(),
        realtime: false,
        heart_rate_only: true,
    })
    .unwrap();
    m.wait_until_finished().unwrap();
    let stress = log.stress.lock().unwrap().clone();
    let scored: Vec<&StressUpdate> = stress.iter().filter(|u| u.score.is_some()).collect();
    assert!(
        scored.len() * 10 >= stress.len() * 9 && scored.len() > 10,
        "{} of {} RR windows scored",
        scored.len(),
        stress.len()
    );
    assert!(scored.iter().all(|u| u.from_hrv_fallback && u.rr_only));
    m.shutdown().unwrap();
}

#[test]
fn faults_gaps_reach_listeners_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let m = StressMonitor::new(config(&dir.path().join("h.db"))).unwrap();
    let log = Arc::new(Log::default());
    let _a = m.subscribe_status(log.clone());
    m.start(simulator(6.0, "loss=3%,disconnect=2m/10s"))
        .unwrap();
    m.wait_until_finished().unwrap();
    let gaps = log
        .status
        .lock()
        .unwrap()
        .iter()
        .filter(|s| matches!(s, MonitorStatus::Gap { .. }))
        .count();
    assert!(gaps >= 5, "{gaps} gaps");
    let sessions = m.sessions(5).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].gaps as usize, gaps, "every gap stored");
    // Two sessions in a row on one monitor; the second is refused while the first runs.
    m.start(simulator(60.0, "")).unwrap();
    assert!(matches!(
        m.start(simulator(1.0, "")),
        Err(StressBeatError::InvalidState { .. })
    ));
    m.stop().unwrap();
    let sessions = m.sessions(5).unwrap();
    assert_eq!(sessions.len(), 2);
    // run ahead of real time, the second is stored before the first: the newer id
    let second = sessions.iter().max_by_key(|s| s.id).unwrap();
    assert_eq!(second.end_reason, Some(SessionEndReason::Stopped));
    m.shutdown().unwrap();
    assert!(matches!(
        m.sessions(1),
        Err(StressBeatError::InvalidState { .. })
    ));
}

/// A strap that refuses the ECG stream (another app holds it) is reported to the status listener,
/// stress updates go on from its RR intervals, the status listener hears when ECG streams again,
/// and a second refusal is reported again.
#[test]
fn refused_ecg_stream_is_reported_and_scored_from_rr() {
    let dir = tempfile::tempdir().unwrap();
    let m = StressMonitor::new(config(&dir.path().join("h.db"))).unwrap();
    let log = Arc::new(Log::default());
    let _a = m.subscribe_status(log.clone());
    let _b = m.subscribe_stress(log.clone());
    // refused from 3:00 to 4:40 and from 6:00 on; the start is retried every minute
    m.start(simulator(7.0, "ecgrefused=3m/100s")).unwrap();
    m.wait_until_finished().unwrap();
    let status = log.status.lock().unwrap();
    let pick = |f: fn(&MonitorStatus) -> bool| -> Vec<usize> {
        (0..status.len()).filter(|&i| f(&status[i])).collect()
    };
    let refused =
        pick(|s| matches!(s, MonitorStatus::EcgUnusable { reason } if reason.contains("refused")));
    let resumed = pick(|s| matches!(s, MonitorStatus::EcgResumed { .. }));
    assert!(
        refused.len() == 2
            && resumed.len() == 1
            && refused[0] < resumed[0]
            && resumed[0] < refused[1],
        "refused, resumed, refused again: {status:?}"
    );
    let stress = log.stress.lock().unwrap();
    let t0 = stress.first().unwrap().window_start_ms;
    // windows ending from 3:40 to 4:40 are the strap's RR windows; ECG windows follow again
    let late: Vec<_> = stress
        .iter()
        .filter(|u| (220_000..=280_000).contains(&(u.at_ms - t0)) && u.hr_bpm.is_some())
        .collect();
    assert!(late.iter().all(|u| u.rr_only), "{late:?}");
    assert!(stress.iter().any(|u| !u.rr_only), "ECG windows before");
    assert!(
        stress.iter().any(|u| !u.rr_only && u.at_ms - t0 > 330_000),
        "ECG windows after"
    );
    assert!(late.len() >= 10, "{} updates from 3:40 to 4:40", late.len());
    assert!(
        late.iter().filter(|u| u.score.is_some()).count() * 10 >= late.len() * 9,
        "{late:?}"
    );
    m.shutdown().unwrap();
}

/// A calibration as the apps see it: progress on each window, then the outcome; the baseline
/// is then queryable, survives the monitor, and a second calibration can be cancelled.
#[test]
fn calibration_progress_outcome_and_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let m = StressMonitor::new(config(&db)).unwrap();
    assert_eq!(m.personal_baseline().unwrap(), None);
    let log = Arc::new(Log::default());
    let _s = m.subscribe_stress(log.clone());
    assert!(matches!(
        m.start_calibration(60),
        Err(StressBeatError::InvalidArgument { .. })
    ));
    m.start_calibration(120).unwrap();
    m.start(simulator(4.0, "")).unwrap();
    m.wait_until_finished().unwrap();
    let updates = log.stress.lock().unwrap().clone();
    let running: Vec<(u32, u32)> = updates
        .iter()
        .filter_map(|u| match u.calibration {
            Some(CalibrationProgress::Running {
                accepted_windows,
                remaining_s,
                duration_s,
                ..
            }) => {
                assert_eq!(duration_s, 120);
                Some((accepted_windows, remaining_s))
            }
            _ => None,
        })
        .collect();
    assert!(running.len() >= 10, "{running:?}");
    assert!(running.iter().all(|&(_, remaining)| remaining <= 120));
    assert!(
        running
            .windows(2)
            .all(|w| w[1].0 >= w[0].0 && w[1].1 <= w[0].1)
    );
    let done: Vec<&StressUpdate> = updates
        .iter()
        .filter(|u| matches!(u.calibration, Some(CalibrationProgress::Completed { .. })))
        .collect();
    assert_eq!(done.len(), 1);
    let Some(CalibrationProgress::Completed { windows }) = done[0].calibration else {
        unreachable!()
    };
    assert!(windows >= 12, "{windows}");
    // no score while calibrating, scores after
    let first_scored = updates.iter().position(|u| u.score.is_some()).unwrap();
    assert!(
        updates[..first_scored]
            .iter()
            .all(|u| u.calibration.is_some())
    );
    let b = m
        .personal_baseline()
        .unwrap()
        .expect("a baseline after calibrating");
    assert!(b.calibrated && b.mature, "{b:?}");
    assert!(b.windows >= u64::from(windows), "{b:?}");
    assert!(
        b.hr_bpm.is_some_and(|hr| (45.0..110.0).contains(&hr)),
        "{b:?}"
    );
    assert!(b.rmssd_ms.is_some_and(|v| v > 0.0), "{b:?}");
    m.shutdown().unwrap();
    assert!(matches!(
        m.personal_baseline(),
        Err(StressBeatError::InvalidState { .. })
    ));

    // the next monitor on the same history starts from it; a cancelled calibration changes
    // nothing
    let m = StressMonitor::new(config(&db)).unwrap();
    assert_eq!(m.personal_baseline().unwrap(), Some(b.clone()));
    let log = Arc::new(Log::default());
    let _s = m.subscribe_stress(log.clone());
    m.start_calibration(600).unwrap();
    m.cancel_calibration().unwrap();
    m.start(simulator(1.0, "")).unwrap();
    m.wait_until_finished().unwrap();
    let updates = log.stress.lock().unwrap();
    assert!(!updates.is_empty());
    assert!(updates.iter().all(|u| u.calibration.is_none()));
    let after = m.personal_baseline().unwrap().unwrap();
    assert!(after.calibrated && after.windows >= b.windows, "{after:?}");
    // during a session a window ends every 5 s: 60 s hold the 12 windows
    m.start(live_simulator()).unwrap();
    assert!(matches!(
        m.start_calibration(59),
        Err(StressBeatError::InvalidArgument { .. })
    ));
    m.start_calibration(60).unwrap();
    m.cancel_calibration().unwrap();
    m.stop().unwrap();
    m.shutdown().unwrap();
}

/// A calibration still running when its session ends ends with it (`CalibrationEnded` just
/// before `Finished`): one with enough windows completes and its baseline is kept, one asked
/// for seconds before a stop fails; neither carries into the next session, here a simulation
/// run ahead of real time and so stamped before the one it follows.
#[test]
fn a_calibration_ends_with_its_session() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let m = StressMonitor::new(config(&db)).unwrap();
    let log = Arc::new(Log::default());
    let _s = m.subscribe_stress(log.clone());
    let _t = m.subscribe_status(log.clone());
    let take = || {
        let stress = std::mem::take(&mut *log.stress.lock().unwrap());
        let status = std::mem::take(&mut *log.status.lock().unwrap());
        let n = status.len();
        // every window analysed counts, scored or not (none is while calibrating)
        let MonitorStatus::Finished { windows, .. } = status[n - 1] else {
            panic!("{status:?}")
        };
        assert_eq!(windows, stress.len() as u64);
        let outcome = match status[n - 2] {
            MonitorStatus::CalibrationEnded { outcome } => Some(outcome),
            _ => None,
        };
        (stress, outcome)
    };
    let scored_without_calibration = |stress: &[StressUpdate]| {
        stress.iter().all(|u| u.calibration.is_none()) && stress.iter().any(|u| u.score.is_some())
    };

    // 5 min asked for, the session ends after 2
    m.start_calibration(300).unwrap();
    m.start(simulator(2.0, "")).unwrap();
    m.wait_until_finished().unwrap();
    let (stress, outcome) = take();
    assert!(matches!(
        stress.last().unwrap().calibration,
        Some(CalibrationProgress::Running { .. })
    ));
    let Some(CalibrationProgress::Completed { windows }) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(windows >= 12, "{windows}");
    let baseline = m
        .personal_baseline()
        .unwrap()
        .expect("the calibrated baseline");
    assert!(baseline.calibrated, "{baseline:?}");

    m.start(simulator(3.0, "")).unwrap();
    m.wait_until_finished().unwrap();
    let (stress, outcome) = take();
    assert_eq!(outcome, None);
    assert!(scored_without_calibration(&stress));

    // asked for during a live session stopped before its first window
    m.start(live_simulator()).unwrap();
    m.start_calibration(120).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    m.stop().unwrap();
    let (stress, outcome) = take();
    assert!(stress.is_empty(), "{stress:?}");
    assert!(
        matches!(
            outcome,
            Some(CalibrationProgress::Failed {
                accepted_windows: 0,
                ..
            })
        ),
        "{outcome:?}"
    );
    m.start(simulator(3.0, "")).unwrap();
    m.wait_until_finished().unwrap();
    let (stress, outcome) = take();
    assert_eq!(outcome, None);
    assert!(scored_without_calibration(&stress));
    m.shutdown().unwrap();
    // the completed calibration was stored
    let m = StressMonitor::new(config(&db)).unwrap();
    assert!(m.personal_baseline().unwrap().unwrap().calibrated);
    m.shutdown().unwrap();
}

/// A fake platform BLE stack answering like an H10 (the replies of ../shared/docs/protocols.md).
struct FakeH10 {
    session: Mutex<Option<Arc<stressbeat_core::ffi::StrapSession>>>,
}

const CP: &str = "fb005c81-02e7-f387-1cad-8acd2d8df0c8";
const DATA: &str = "fb005c82-02e7-f387-1cad-8acd2d8df0c8";

impl stressbeat_core::ffi::BleTransport for FakeH10 {
    fn execute(&self, command: stressbeat_core::ffi::BleCommand) {
        use stressbeat_core::ffi::BleCommand as C;
        let Some(s) = self.session.lock().unwrap().clone() else {
            return;
        };
        match command {
            C::Connect => s.on_connected(512, 0).unwrap(),
            C::Read {
                characteristic_uuid,
            } if characteristic_uuid == CP => s
                .on_read_result(CP.into(), vec![0x0F, 0x05, 0x00], 0)
                .unwrap(),
            C::Write { value, .. } if value == [1, 0] => s
                .on_notification(
                    CP.into(),
                    vec![0xF0, 0x01, 0, 0, 0, 0, 0x01, 0x82, 0, 0x01, 0x01, 0x0E, 0],
                    0,
                )
                .unwrap(),
            C::Write { value, .. } if value.first() == Some(&2) => s
                .on_notification(CP.into(), vec![0xF0, 0x02, 0, 0, 0], 0)
                .unwrap(),
            _ => {}
        }
    }
}

/// An ECG strap session whose transport is a [`FakeH10`] answering it.
fn fake_h10_session() -> Arc<stressbeat_core::ffi::StrapSession> {
    let h10 = Arc::new(FakeH10 {
        session: Mutex::new(None),
    });
    let session = stressbeat_core::ffi::StrapSession::new(h10.clone(), true);
    *h10.session.lock().unwrap() = Some(session.clone());
    session
}

/// A real H10 capture through the platform bridge, the app's clock reading `origin_ms` when the
/// monitor starts (Android's `elapsedRealtime` is days after a boot). Returns the stress updates
/// and the stored session.
fn bridge_session(
    frames: &[Vec<u8>],
    origin_ms: i64,
) -> (Vec<StressUpdate>, stressbeat_core::ffi::SessionSummary) {
    let tmp = tempfile::tempdir().unwrap();
    let m = StressMonitor::new(config(&tmp.path().join("h.db"))).unwrap();
    let log = Arc::new(Log::default());
    let _a = m.subscribe_stress(log.clone());
    let session = fake_h10_session();
    m.start(MonitorSource::PlatformBridge {
        session: session.clone(),
        now_ms: origin_ms,
    })
    .unwrap();
    session.start(origin_ms).unwrap();
    // Three minutes of real notifications at their sensor times (the app's clock), handed over
    // faster than real time.
    let ts = |f: &[u8]| u64::from_le_bytes(f[1..9].try_into().unwrap());
    let t0 = ts(&frames[0]);
    for f in frames.iter().take(320) {
        let at = origin_ms + 1_000 + ((ts(f) - t0) / 1_000_000) as i64;
        session.on_notification(DATA.into(), f.clone(), at).unwrap();
        session.tick(at).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(400));
    m.stop().unwrap();
    let stress = log.stress.lock().unwrap().clone();
    let stored = m.sessions(1).unwrap().remove(0);
    m.shutdown().unwrap();
    (stress, stored)
}

#[test]
fn platform_bridge_session_is_monitored_and_stored() {
    let Some(dir) = stressbeat_e2e::dataset("polar_h10/pmd_capture") else {
        return;
    };
    let bytes = std::fs::read(dir.join("hr_data_2023-01-13_11-40-07.bin")).unwrap();
    let frames = stressbeat_core::sensor::replay::parse_capture(&bytes).unwrap();
    let (stress, stored) = bridge_session(&frames, 0);
    // (≈ 180 s − 30 s window − 3 s lag) / 5 s
    assert!(
        (27..=31).contains(&stress.len()),
        "{} windows",
        stress.len()
    );
    assert!(
        stress
            .iter()
            .all(|u| u.hr_bpm.is_some_and(|hr| (60.0..200.0).contains(&hr)))
    );
    assert_eq!(stored.windows as usize, stress.len());
    assert_eq!(stored.end_reason, Some(SessionEndReason::Stopped));
    // The session lasts as long as the app's clock says, not as long as the test took.
    let length_ms = stored.ended_at_ms.unwrap() - stored.started_at_ms;
    assert!((175_000..=190_000).contains(&length_ms), "{length_ms} ms");

    // The same with the app's clock 3 days after boot: the same windows and the same length.
    let (later, stored_later) = bridge_session(&frames, 3 * 24 * 3_600_000);
    assert_eq!(
        stored_later.ended_at_ms.unwrap() - stored_later.started_at_ms,
        length_ms
    );
    let scores = |u: &[StressUpdate], started: i64| -> Vec<_> {
        u.iter()
            .map(|u| (u.at_ms - started, u.score, u.hr_bpm.map(f32::to_bits)))
            .collect()
    };
    assert_eq!(
        scores(&later, stored_later.started_at_ms),
        scores(&stress, stored.started_at_ms)
    );
}

/// A strap with the Heart Rate Service only (most chest straps; an H10 without PMD) through the
/// app's own BLE stack: the app hands the core raw Heart Rate Measurement notifications (here
/// the intervals of a real H10 log, re-encoded in 1/1024 s), and the monitor scores stress from
/// the RR intervals.
#[test]
fn heart_rate_only_strap_through_the_platform_bridge_is_scored() {
    let Some(dir) = stressbeat_e2e::dataset("polar_h10/rr_log") else {
        return;
    };
    let text = std::fs::read_to_string(dir.join("polar_rri_20260623_001651.csv")).unwrap();
    // (time s, RR ms) rows; rows with the same time came in one notification
    let rows: Vec<(f64, f64)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<f64> = l.split(',').map(|c| c.parse().unwrap()).collect();
            (c[0], c[1])
        })
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let m = StressMonitor::new(config(&tmp.path().join("h.db"))).unwrap();
    let log = Arc::new(Log::default());
    let _a = m.subscribe_stress(log.clone());
    let strap = Arc::new(FakeH10 {
        session: Mutex::new(None),
    });
    let session = stressbeat_core::ffi::StrapSession::new(strap.clone(), false);
    *strap.session.lock().unwrap() = Some(session.clone());
    m.start(MonitorSource::PlatformBridge {
        session: session.clone(),
        now_ms: 0,
    })
    .unwrap();
    session.start(0).unwrap();
    const HR: &str = "00002a37-0000-1000-8000-00805f9b34fb";
    let t0 = rows[0].0;
    let mut k = 0;
    while k < rows.len() {
        let t = rows[k].0;
        // flags: 8-bit HR, contact detected, RR present
        let mut bytes = vec![0x16, (60_000.0 / rows[k].1).round() as u8];
        while k < rows.len() && rows[k].0 == t {
            let rr = (rows[k].1 * 1.024).round() as u16;
            bytes.extend_from_slice(&rr.to_le_bytes());
            k += 1;
        }
        let at = 1_000 + ((t - t0) * 1000.0).round() as i64;
        session.on_notification(HR.into(), bytes, at).unwrap();
        session.tick(at).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(400));
    m.stop().unwrap();
    let stress = log.stress.lock().unwrap();
    let scored = stress
        .iter()
        .filter(|u| u.score.is_some() && !u.from_hrv_fallback)
        .count();
    eprintln!("{} windows, {scored} scored by the model", stress.len());
    // 7.6 min of intervals: a window every 5 s after the first 30 s (the last ones still
    // waiting for their lag when the app stops)
    assert!(
        (78..=88).contains(&stress.len()),
        "{} windows",
        stress.len()
    );
    assert!(
        scored * 10 >= stress.len() * 9,
        "{scored} of {}",
        stress.len()
    );
    assert!(
        stress
            .iter()
            .all(|u| u.hr_bpm.is_some_and(|hr| (50.0..100.0).contains(&hr)))
    );
    let sessions = m.sessions(1).unwrap();
    assert_eq!(sessions[0].windows as usize, stress.len());
    m.shutdown().unwrap();
}

/// Stops the monitor from inside its first ECG delivery, after the worker has had time to
/// publish the next batch (which waits for this very call).
struct StopOnFirstEcg {
    monitor: std::sync::Weak<StressMonitor>,
    called: std::sync::atomic::AtomicBool,
    running_after_stop: std::sync::atomic::AtomicBool,
    refusals: Mutex<Vec<StressBeatError>>,
}
impl stressbeat_core::ffi::EcgListener for StopOnFirstEcg {
    fn on_ecg(&self, _: stressbeat_core::ffi::EcgBatch) {
        if self.called.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let Some(m) = self.monitor.upgrade() else {
            return;
        };
        std::thread::sleep(std::time::Duration::from_millis(1200));
        let mut refusals = self.refusals.lock().unwrap();
        refusals.extend(m.wait_until_finished().err());
        refusals.extend(m.shutdown().err());
        m.stop().unwrap();
        // only asked to stop: the session is stored after this call returns
        self.running_after_stop
            .store(m.is_running(), std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn stop_from_inside_a_listener_returns_and_the_session_ends_and_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let monitor = Arc::new(StressMonitor::new(config(&dir.path().join("h.db"))).unwrap());
    let mut source = simulator(3.0, "");
    if let MonitorSource::Simulator { realtime, .. } = &mut source {
        *realtime = true;
    }
    monitor.start(source).unwrap();
    // wait until an ECG batch is the current state
    let (first, got_first) = std::sync::mpsc::sync_channel(1);
    let probe = monitor.subscribe_ecg(Arc::new(FirstEcg(first)));
    got_first
        .recv_timeout(std::time::Duration::from_secs(20))
        .unwrap();
    probe.cancel();
    let listener = Arc::new(StopOnFirstEcg {
        monitor: Arc::downgrade(&monitor),
        called: Default::default(),
        running_after_stop: Default::default(),
        refusals: Mutex::new(Vec::new()),
    });
    let (done, subscribed) = std::sync::mpsc::channel();
    let (m, l) = (monitor.clone(), listener.clone());
    // The first-state delivery runs on the subscribing thread.
    std::thread::spawn(move || {
        let sub = m.subscribe_ecg(l);
        sub.cancel();
        done.send(()).unwrap();
    });
    assert!(
        subscribed
            .recv_timeout(std::time::Duration::from_secs(20))
            .is_ok(),
        "stop() inside a first-state delivery deadlocked"
    );
    assert!(
        listener
            .running_after_stop
            .load(std::sync::atomic::Ordering::SeqCst)
    );
    let refusals = listener.refusals.lock().unwrap();
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    assert!(
        refusals
            .iter()
            .all(|e| matches!(e, StressBeatError::InvalidState { message } if message.contains("listener"))),
        "{refusals:?}"
    );
    // the stop asked for inside the listener ends the 3-minute session (no stop() here)
    wait_until_stopped(&monitor);
    let sessions = monitor.sessions(10).unwrap();
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(s.end_reason, Some(SessionEndReason::Stopped), "{s:?}");
    let stored_ms = s.ended_at_ms.unwrap() - s.started_at_ms;
    assert!((0..60_000).contains(&stored_ms), "{s:?}");
}

struct FirstEcg(std::sync::mpsc::SyncSender<()>);
impl stressbeat_core::ffi::EcgListener for FirstEcg {
    fn on_ecg(&self, _: stressbeat_core::ffi::EcgBatch) {
        let _ = self.0.try_send(());
    }
}

/// Counts the stress updates and, at each, the windows the history shows for the session.
struct StoredSoFar {
    monitor: std::sync::Weak<StressMonitor>,
    seen: Mutex<Vec<(u32, u32)>>,
}
impl StressListener for StoredSoFar {
    fn on_stress(&self, _: StressUpdate) {
        let Some(m) = self.monitor.upgrade() else {
            return;
        };
        let stored = m.sessions(1).unwrap()[0].windows;
        let mut seen = self.seen.lock().unwrap();
        let updates = seen.len() as u32 + 1;
        seen.push((updates, stored));
    }
}

/// Queries read through their own connection after the worker's pending writes are committed:
/// during a session (here from a listener, on the worker's thread) they see every window
/// delivered so far.
#[test]
fn queries_during_a_session_see_what_was_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let monitor = Arc::new(StressMonitor::new(config(&dir.path().join("h.db"))).unwrap());
    let listener = Arc::new(StoredSoFar {
        monitor: Arc::downgrade(&monitor),
        seen: Mutex::new(Vec::new()),
    });
    let _sub = monitor.subscribe_stress(listener.clone());
    monitor.start(simulator(4.0, "")).unwrap();
    monitor.wait_until_finished().unwrap();
    let seen = listener.seen.lock().unwrap();
    assert!(seen.len() >= 30, "{}", seen.len());
    for &(updates, stored) in seen.iter() {
        assert!(
            stored >= updates,
            "update {updates}: {stored} windows stored"
        );
    }
    let finished = monitor.sessions(1).unwrap()[0].windows;
    assert_eq!(finished, seen.last().unwrap().1);
}

/// Waits (at most 20 s) until `monitor` has no session running.
fn wait_until_stopped(monitor: &StressMonitor) {
    let t0 = std::time::Instant::now();
    while monitor.is_running() {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(20),
            "the session did not stop"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// On the worker's thread: stops the monitor at the first stress update, then tries to start
/// another session at once.
struct StopOnWorker {
    monitor: std::sync::Weak<StressMonitor>,
    outcome: Mutex<Option<(bool, Result<(), StressBeatError>)>>,
}
impl StressListener for StopOnWorker {
    fn on_stress(&self, _: StressUpdate) {
        let mut outcome = self.outcome.lock().unwrap();
        let Some(m) = self.monitor.upgrade().filter(|_| outcome.is_none()) else {
            return;
        };
        m.stop().unwrap();
        *outcome = Some((m.is_running(), m.start(simulator(1.0, ""))));
    }
}

/// `stop()` from a listener on the worker's thread: the session stays running (and `start`
/// refuses) until it has ended and been stored; no second session runs beside it.
#[test]
fn stop_on_the_worker_thread_keeps_the_session_until_it_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let monitor = Arc::new(StressMonitor::new(config(&dir.path().join("h.db"))).unwrap());
    let listener = Arc::new(StopOnWorker {
        monitor: Arc::downgrade(&monitor),
        outcome: Mutex::new(None),
    });
    let _sub = monitor.subscribe_stress(listener.clone());
    monitor.start(simulator(10.0, "")).unwrap();
    wait_until_stopped(&monitor);
    let (running, restart) = listener.outcome.lock().unwrap().take().unwrap();
    assert!(running);
    assert!(
        matches!(restart, Err(StressBeatError::InvalidState { .. })),
        "{restart:?}"
    );
    let sessions = monitor.sessions(10).unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0].end_reason, Some(SessionEndReason::Stopped));
    // stopped at the first window, not after the 10 simulated minutes
    assert!(sessions[0].windows <= 2, "{:?}", sessions[0]);
}

/// A thread waiting in `waitUntilFinished` does not hide the session: it stays running,
/// `start` refuses, and `stop` from another thread ends it and releases the waiter.
#[test]
fn stop_ends_a_session_another_thread_waits_for() {
    let dir = tempfile::tempdir().unwrap();
    let monitor = Arc::new(StressMonitor::new(config(&dir.path().join("h.db"))).unwrap());
    monitor.start(live_simulator()).unwrap();
    let (returned, waited) = std::sync::mpsc::channel();
    {
        let monitor = monitor.clone();
        std::thread::spawn(move || returned.send(monitor.wait_until_finished()));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(monitor.is_running());
    let second = monitor.start(simulator(1.0, ""));
    assert!(
        matches!(second, Err(StressBeatError::InvalidState { .. })),
        "{second:?}"
    );
    monitor.stop().unwrap();
    assert!(!monitor.is_running());
    waited
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("waitUntilFinished returned")
        .unwrap();
    let sessions = monitor.sessions(10).unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0].end_reason, Some(SessionEndReason::Stopped));
}

/// One monitor per history: a second one on the same database is refused while the first has
/// it (it would have closed the first's running session as one a killed app left open), and
/// is created once the first is shut down or destroyed.
#[test]
fn a_second_monitor_on_the_same_history_is_refused_and_the_running_session_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let first = StressMonitor::new(config(&db)).unwrap();
    first.start(live_simulator()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let second = StressMonitor::new(config(&db));
    assert!(
        matches!(&second, Err(StressBeatError::InvalidState { message }) if message.contains("another StressMonitor")),
        "{second:?}"
    );
    assert!(first.is_running());
    let sessions = first.sessions(10).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].end_reason, None, "still running");
    first.stop().unwrap();
    first.wait_until_finished().unwrap();
    first.shutdown().unwrap();
    let second = StressMonitor::new(config(&db)).unwrap();
    let sessions = second.sessions(10).unwrap();
    assert_eq!(sessions[0].end_reason, Some(SessionEndReason::Stopped));
    // destroyed without a shutdown: the hold goes with it
    drop(second);
    StressMonitor::new(config(&db)).unwrap();
}

/// A monitor is the only taker of a platform session's events (an app polling beside it would
/// take frames from it), and a session the monitor has stopped cannot start another.
#[test]
fn a_platform_session_feeds_one_monitor_session_only() {
    let tmp = tempfile::tempdir().unwrap();
    let m = StressMonitor::new(config(&tmp.path().join("h.db"))).unwrap();
    let other = StressMonitor::new(config(&tmp.path().join("other.db"))).unwrap();
    let session = fake_h10_session();
    let bridge = |now_ms| MonitorSource::PlatformBridge {
        session: session.clone(),
        now_ms,
    };
    session.start(0).unwrap();
    session.poll_events().unwrap();
    m.start(bridge(0)).unwrap();
    let polled = session.poll_events();
    assert!(
        matches!(polled, Err(StressBeatError::InvalidState { .. })),
        "{polled:?}"
    );
    let second = other.start(bridge(0));
    assert!(
        matches!(second, Err(StressBeatError::InvalidState { .. })),
        "{second:?}"
    );
    m.stop().unwrap();
    assert_eq!(
        session.state().unwrap(),
        stressbeat_core::ffi::ConnectionStateRecord::Stopped
    );
    // the monitor has let go; the stopped session cannot start another monitor session
    session.poll_events().unwrap();
    let again = m.start(bridge(1_000));
    assert!(
        matches!(again, Err(StressBeatError::InvalidState { .. })),
        "{again:?}"
    );
    assert!(!m.is_running());
    assert_eq!(m.sessions(10).unwrap().len(), 1);
}

/// Files under `dir` this process holds open.
#[cfg(target_os = "linux")]
fn open_files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |fds| {
        fds.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|p| p.starts_with(dir))
            .count()
    })
}

/// `shutdown` closes the database (the app may then delete or copy it), refuses what would
/// use it, and keeps what was stored.
#[test]
fn shutdown_closes_the_database_and_keeps_what_was_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let m = StressMonitor::new(config(&db)).unwrap();
    m.start(simulator(1.0, "")).unwrap();
    m.wait_until_finished().unwrap();
    #[cfg(target_os = "linux")]
    assert!(open_files_under(dir.path()) > 0);
    m.shutdown().unwrap();
    #[cfg(target_os = "linux")]
    assert_eq!(open_files_under(dir.path()), 0);
    for refused in [
        m.sessions(1).map(drop),
        m.start(simulator(1.0, "")),
        m.start_calibration(120),
    ] {
        assert!(
            matches!(refused, Err(StressBeatError::InvalidState { .. })),
            "{refused:?}"
        );
    }
    m.stop().unwrap();
    m.wait_until_finished().unwrap();
    assert!(!m.is_running());
    m.shutdown().unwrap();
    let reopened = StressMonitor::new(config(&db)).unwrap();
    assert_eq!(reopened.sessions(10).unwrap().len(), 1);
}

/// A wrong export request leaves the file the user chose as it was, and says what was wrong.
#[test]
fn a_failed_export_leaves_the_chosen_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let m = StressMonitor::new(config(&dir.path().join("h.db"))).unwrap();
    m.start(simulator(1.0, "")).unwrap();
    m.wait_until_finished().unwrap();
    let chosen = dir.path().join("mine.csv");
    std::fs::write(&chosen, "keep me").unwrap();
    let err = m
        .export_session(
            999,
            stressbeat_core::ffi::ExportFormat::WindowsCsv,
            chosen.to_string_lossy().into_owned(),
        )
        .unwrap_err();
    let StressBeatError::InvalidArgument { message } = err else {
        panic!("{err:?}")
    };
    assert!(message.contains("session 999"), "{message}");
    assert_eq!(std::fs::read_to_string(&chosen).unwrap(), "keep me");
    assert_eq!(
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".partial")
            })
            .count(),
        0
    );
    // a good export replaces it
    let id = m.sessions(1).unwrap()[0].id;
    let rows = m
        .export_session(
            id,
            stressbeat_core::ffi::ExportFormat::WindowsCsv,
            chosen.to_string_lossy().into_owned(),
        )
        .unwrap();
    assert!(rows > 0);
    assert_ne!(std::fs::read_to_string(&chosen).unwrap(), "keep me");
    // an export over the history's own files is refused, and the history stays readable
    for own in ["h.db", "h.db-wal", "h.db.lock"] {
        let own = dir.path().join(own);
        let before = std::fs::metadata(&own).unwrap().len();
        let err = m
            .export_session(
                id,
                stressbeat_core::ffi::ExportFormat::WindowsCsv,
                own.to_string_lossy().into_owned(),
            )
            .unwrap_err();
        assert!(
            matches!(&err, StressBeatError::InvalidArgument { message } if message.contains("history database")),
            "{err:?}"
        );
        assert!(std::fs::metadata(&own).unwrap().len() >= before);
    }
    assert_eq!(m.sessions(10).unwrap().len(), 1);
    // a query's own mistake is named as such
    let StressBeatError::InvalidArgument { message } = m.timeline(5, 5, 10).unwrap_err() else {
        panic!()
    };
    assert!(message.contains("range"), "{message}");
}

/// The history does not grow for ever: creating the monitor deletes what the retention policy
/// no longer keeps (raw ECG sooner than the rest), and `applyRetention` does it on demand.
#[test]
fn retention_is_applied_when_the_monitor_is_created() {
    use stressbeat_core::ffi::{ExportFormat, RetentionConfig};
    use stressbeat_core::history::{
        EcgChunk, EndReason, History, HistoryOptions, HistorySink, SessionStart, SourceKind,
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut old_sessions = Vec::new();
    {
        let mut h = History::open(&db, HistoryOptions::default()).unwrap();
        for days_ago in [400, 10] {
            let at = now - days_ago * 86_400_000;
            let id = h
                .begin_session(&SessionStart {
                    started_at_ms: at,
                    source: SourceKind::Simulator,
                    device_model: None,
                    device_identity: None,
                })
                .unwrap();
            h.append_rr(id, at + 1_000, 800.0).unwrap();
            let samples = [100; 130];
            h.append_ecg(
                id,
                &EcgChunk {
                    first_sample_ms: at,
                    sampling_rate_hz: 130,
                    samples_uv: &samples,
                },
            )
            .unwrap();
            h.end_session(id, at + 2_000, EndReason::Stopped).unwrap();
            old_sessions.push(id);
        }
    }
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let keep_30_days = StressMonitorConfig {
        retention: Some(RetentionConfig {
            keep_days: 30,
            keep_raw_ecg_days: 7,
        }),
        ..config(&db)
    };
    let keep_none = StressMonitorConfig {
        retention: Some(RetentionConfig {
            keep_days: 0,
            keep_raw_ecg_days: 7,
        }),
        ..config(&db)
    };
    assert!(matches!(
        StressMonitor::new(keep_none),
        Err(StressBeatError::InvalidArgument { .. })
    ));
    let m = StressMonitor::new(keep_30_days).unwrap();
    let left: Vec<i64> = m.sessions(10).unwrap().iter().map(|s| s.id).collect();
    assert_eq!(left, [old_sessions[1]]);
    // of the 10-day-old session the raw ECG is gone, its RR intervals stay
    assert!(matches!(
        m.export_session(left[0], ExportFormat::Edf, path("s.edf")),
        Err(StressBeatError::InvalidArgument { .. })
    ));
    assert_eq!(
        m.export_session(left[0], ExportFormat::RrCsv, path("s.csv"))
            .unwrap(),
        1
    );
    assert_eq!(m.apply_retention().unwrap(), Default::default());
}

/// A history from a newer app version and a damaged one are told apart from a storage problem
/// (the app must never offer to delete the first); both files are left as they were.
#[test]
fn newer_and_damaged_histories_are_typed_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    StressMonitor::new(config(&db)).unwrap().shutdown().unwrap();
    // the SQLite header's user_version (bytes 60..64, big-endian): the schema version
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[60..64].copy_from_slice(&99u32.to_be_bytes());
    std::fs::write(&db, &bytes).unwrap();
    let newer = StressMonitor::new(config(&db)).unwrap_err();
    assert!(
        matches!(newer, StressBeatError::HistoryFromNewerApp { .. }),
        "{newer:?}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), bytes);

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![0x5a; 8192]).unwrap();
    let damaged = StressMonitor::new(config(&junk)).unwrap_err();
    assert!(
        matches!(damaged, StressBeatError::HistoryDamaged { .. }),
        "{damaged:?}"
    );
    assert_eq!(std::fs::read(&junk).unwrap(), vec![0x5a; 8192]);
}

#[derive(Default)]
struct Alerts(Mutex<Vec<stressbeat_core::ffi::MonitorAlert>>);
impl stressbeat_core::ffi::AlertListener for Alerts {
    fn on_alert(&self, a: stressbeat_core::ffi::MonitorAlert) {
        self.0.lock().unwrap().push(a);
    }
}

/// A live alert carries its history id, so the app can acknowledge the alert it shows, and
/// the stored alerts say which were acknowledged.
#[test]
fn a_live_alert_can_be_acknowledged_by_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let m = StressMonitor::new(config(&dir.path().join("h.db"))).unwrap();
    let alerts = Arc::new(Alerts::default());
    let _s = m.subscribe_alerts(alerts.clone());
    // the strap away for 90 s: "disconnected" after 60 s, then "reconnected"
    m.start(simulator(4.0, "disconnect=2m/90s")).unwrap();
    m.wait_until_finished().unwrap();
    let live = alerts.0.lock().unwrap().clone();
    assert!(live.len() >= 2, "{live:?}");
    let stored = m.alerts(0, i64::MAX, 100).unwrap();
    assert_eq!(stored.len(), live.len());
    for a in &live {
        let id = a.id.expect("stored at once");
        let s = stored.iter().find(|s| s.id == id).unwrap();
        assert_eq!(
            (s.at_ms, s.kind, s.warning, &s.reason, s.acknowledged),
            (a.at_ms, a.kind, a.warning, &a.reason, false)
        );
    }
    let first = live[0].id.unwrap();
    assert!(m.acknowledge_alert(first).unwrap());
    let acknowledged: Vec<i64> = m
        .alerts(0, i64::MAX, 100)
        .unwrap()
        .iter()
        .filter(|s| s.acknowledged)
        .map(|s| s.id)
        .collect();
    assert_eq!(acknowledged, [first]);
    assert!(!m.acknowledge_alert(first + 1_000).unwrap());
}

/// A session the app never ended (it was killed) is closed as "interrupted" at its last data
/// when the app starts again, instead of looking like a running one for ever.
#[test]
fn a_session_cut_short_by_a_kill_is_closed_as_interrupted() {
    use stressbeat_core::history::HistorySink;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    {
        // an hour ago, for a minute
        let (mut h, id, started) = session_an_hour_ago(&db);
        h.append_rr(id, started + 60_000, 800.0).unwrap();
        h.flush().unwrap();
    }
    let m = StressMonitor::new(config(&db)).unwrap();
    let s = m.sessions(1).unwrap().remove(0);
    assert_eq!(s.end_reason, Some(SessionEndReason::Interrupted));
    assert_eq!(s.ended_at_ms, Some(s.started_at_ms + 60_000));
    // sessions this monitor runs end as usual
    m.start(simulator(1.0, "")).unwrap();
    m.wait_until_finished().unwrap();
    assert_eq!(
        m.sessions(1).unwrap()[0].end_reason,
        Some(SessionEndReason::SourceEnded)
    );
}

/// Stored alerts come back typed like live ones; one of a kind this version does not know (a
/// newer version wrote it) is left out of the list instead of failing it.
#[test]
fn stored_alerts_are_typed_and_unknown_kinds_are_left_out() {
    use stressbeat_core::ffi::AlertKind;
    use stressbeat_core::history::{AlertRecord, HistorySink};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let t0 = {
        let (mut h, id, t0) = session_an_hour_ago(&db);
        for (at_ms, kind, severity) in [
            (1_000, "stress_high", 1),
            (2_000, "a_kind_of_a_later_version", 1),
            (3_000, "strap_reconnected", 0),
        ] {
            let alert = AlertRecord {
                at_ms: t0 + at_ms,
                kind: kind.into(),
                severity,
                reason: "why".into(),
            };
            h.append_alert(id, &alert).unwrap();
        }
        h.flush().unwrap();
        t0
    };
    let m = StressMonitor::new(config(&db)).unwrap();
    let listed: Vec<(i64, AlertKind, bool)> = m
        .alerts(0, i64::MAX, 10)
        .unwrap()
        .iter()
        .map(|a| (a.at_ms - t0, a.kind, a.warning))
        .collect();
    assert_eq!(
        listed,
        [
            (3_000, AlertKind::StrapReconnected, false),
            (1_000, AlertKind::SustainedHighStress, true)
        ]
    );
}

/// Daily summaries for days the app's calendar bounds: one per day given, empty days too.
#[test]
fn daily_summaries_for_the_calendars_days() {
    use stressbeat_core::ffi::LocalDay;
    let dir = tempfile::tempdir().unwrap();
    let m = StressMonitor::new(config(&dir.path().join("h.db"))).unwrap();
    m.start(simulator(2.0, "")).unwrap();
    m.wait_until_finished().unwrap();
    let s = m.sessions(1).unwrap().remove(0);
    let day = |date: &str, start_ms: i64, end_ms: i64| LocalDay {
        date: date.into(),
        start_ms,
        end_ms,
    };
    let t = s.started_at_ms;
    let days = m
        .daily_summaries_for_days(vec![
            day("before", t - 86_400_000, t),
            day("of the session", t, t + 86_400_000),
        ])
        .unwrap();
    let got: Vec<(&str, u32)> = days.iter().map(|d| (d.date.as_str(), d.windows)).collect();
    assert_eq!(got, [("before", 0), ("of the session", s.windows)]);
    assert!(matches!(
        m.daily_summaries_for_days(vec![day("backwards", t, t - 1)]),
        Err(StressBeatError::InvalidArgument { .. })
    ));
}

/// A history at `db` with a simulator session begun an hour ago (recent enough for the
/// monitor's retention): the history, the session and its start.
fn session_an_hour_ago(
    db: &std::path::Path,
) -> (
    stressbeat_core::history::History,
    stressbeat_core::history::SessionId,
    i64,
) {
    use stressbeat_core::history::{
        History, HistoryOptions, HistorySink, SessionStart, SourceKind,
    };
    let mut h = History::open(db, HistoryOptions::default()).unwrap();
    let started = unix_now_ms() - 3_600_000;
    let id = h
        .begin_session(&SessionStart {
            started_at_ms: started,
            source: SourceKind::Simulator,
            device_model: None,
            device_identity: None,
        })
        .unwrap();
    (h, id, started)
}

fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A simulation or replay run faster than real time is stamped to end when it started, not
/// hours into the future, and a second one goes before the first instead of mixing with it.
#[test]
fn sessions_run_ahead_of_real_time_are_stored_in_the_past() {
    let dir = tempfile::tempdir().unwrap();
    let m = StressMonitor::new(config(&dir.path().join("h.db"))).unwrap();
    let before = unix_now_ms();
    m.start(simulator(10.0, "")).unwrap();
    m.wait_until_finished().unwrap();
    // three minutes of a crude 75 bpm ECG at 130 Hz, replayed as fast as possible
    let csv = dir.path().join("rec.csv");
    let mut text = String::from("time_s,ecg_mv\n");
    for i in 0..130 * 180 {
        let spike = if i % 104 == 0 { 1.2 } else { 0.0 };
        text.push_str(&format!("{:.5},{spike}\n", f64::from(i) / 130.0));
    }
    std::fs::write(&csv, text).unwrap();
    m.start(MonitorSource::ReplayFile {
        path: csv.to_string_lossy().into_owned(),
        speed: None,
    })
    .unwrap();
    m.wait_until_finished().unwrap();
    let after = unix_now_ms();
    let sessions = m.sessions(10).unwrap();
    let [simulated, replayed] = [&sessions[0], &sessions[1]];
    assert!(matches!(
        simulated.source,
        stressbeat_core::ffi::SessionSource::Simulator
    ));
    let sim_end = simulated.ended_at_ms.unwrap();
    assert!(
        (before - 1_000..=after).contains(&sim_end),
        "{sim_end} {before} {after}"
    );
    assert_eq!(sim_end - simulated.started_at_ms, 600_000);
    assert!(matches!(
        replayed.source,
        stressbeat_core::ffi::SessionSource::Replay { .. }
    ));
    let replay_end = replayed.ended_at_ms.unwrap();
    assert!(
        replay_end < simulated.started_at_ms,
        "{replay_end} overlaps"
    );
    assert!(replay_end - replayed.started_at_ms >= 170_000);
    let stored = |from, to| -> u32 {
        m.timeline(from, to, 1)
            .unwrap()
            .iter()
            .map(|p| p.windows)
            .sum()
    };
    assert!(stored(replayed.started_at_ms, after + 1) > 0);
    assert_eq!(
        stored(after + 1, after + 86_400_000),
        0,
        "windows in the future"
    );
}

/// Tells a channel when a session has finished, then keeps the delivery busy for a while.
struct SlowFinishedListener(Mutex<std::sync::mpsc::Sender<()>>);
impl StatusListener for SlowFinishedListener {
    fn on_status(&self, s: MonitorStatus) {
        if matches!(s, MonitorStatus::Finished { .. }) {
            self.0.lock().unwrap().send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    }
}

/// An app that starts the next session as soon as it hears `Finished` (a Stop/Start button, an
/// automatic restart) is not refused: the session is over from that moment, even while its
/// `Finished` is still being delivered to other listeners.
#[test]
fn a_session_can_start_as_soon_as_the_last_one_is_heard_finished() {
    let dir = tempfile::tempdir().unwrap();
    let m = StressMonitor::new(config(&dir.path().join("h.db"))).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let _s = m.subscribe_status(Arc::new(SlowFinishedListener(Mutex::new(tx))));
    m.start(simulator(1.0, "")).unwrap();
    rx.recv_timeout(std::time::Duration::from_secs(60)).unwrap();
    assert!(!m.is_running(), "over once Finished is heard");
    m.start(simulator(1.0, "")).unwrap();
    m.wait_until_finished().unwrap();
    rx.recv_timeout(std::time::Duration::from_secs(60)).unwrap();
    m.wait_until_finished().unwrap();
    assert_eq!(m.sessions(5).unwrap().len(), 2);
}

/// A replay speed that is not a positive multiple of real time up to 1000 is refused before
/// anything starts (a huge one would overflow the replay's clock).
#[test]
fn replay_speeds_outside_the_range_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = StressMonitor::new(config(&dir.path().join("h.db"))).unwrap();
    for speed in [0.0, -1.0, f64::NAN, f64::INFINITY, 1_000.5, 1e15] {
        let err = m
            .start(MonitorSource::ReplayFile {
                path: "/nonexistent/rec.csv".into(),
                speed: Some(speed),
            })
            .unwrap_err();
        let StressBeatError::InvalidArgument { message } = err else {
            panic!("{speed}: {err:?}");
        };
        assert!(message.contains("at most 1000"), "{message}");
    }
    assert!(!m.is_running());
    m.shutdown().unwrap();
}

#[derive(Default)]
struct Connections(Mutex<Vec<stressbeat_core::ffi::ConnectionStateRecord>>);
impl stressbeat_core::ffi::ConnectionListener for Connections {
    fn on_connection(&self, update: stressbeat_core::ffi::ConnectionUpdate) {
        self.0.lock().unwrap().push(update.state);
    }
}

/// A strap session the app started (and drained) before handing it to the monitor: the monitor
/// still learns that it streams (its alerts watch the link), instead of waiting for a change.
#[test]
fn a_strap_session_handed_over_while_streaming_tells_its_state() {
    use stressbeat_core::ffi::ConnectionStateRecord as S;
    let tmp = tempfile::tempdir().unwrap();
    let m = StressMonitor::new(config(&tmp.path().join("h.db"))).unwrap();
    let connections = Arc::new(Connections::default());
    let _c = m.subscribe_connection(connections.clone());
    let session = fake_h10_session();
    session.start(0).unwrap();
    assert_eq!(session.state().unwrap(), S::Streaming);
    assert!(
        !session.poll_events().unwrap().is_empty(),
        "the app drained them"
    );

    m.start(MonitorSource::PlatformBridge {
        session: session.clone(),
        now_ms: 0,
    })
    .unwrap();
    session.tick(1_000).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    m.stop().unwrap();
    let seen = connections.0.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&S::Streaming), "{seen:?}");
    m.shutdown().unwrap();
}
