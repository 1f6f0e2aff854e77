//! The stress monitor end to end on the simulated strap: a session with a stress episode runs
//! through the whole pipeline (as fast as possible, on a virtual clock) into the history and
//! the listeners.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Instant;

use stressbeat_core::engine::{AlertEngine, AlertPolicy, EngineConfig, ScoreSource, StressEngine};
use stressbeat_core::history::{MemoryHistory, SessionStart, SourceKind};
use stressbeat_core::model::{BeatClassifier, HrvFallback, StressModel};
use stressbeat_core::monitor::analyzer::ModelAnalyzer;
use stressbeat_core::monitor::sources::simulator_source;
use stressbeat_core::monitor::{
    Degradation, Engines, EventKind, Monitor, MonitorEvent, Pacing, Parts, PipelineConfig,
    SessionInfo, SimulatorSpec, WindowAnalyzer,
};
use stressbeat_core::sensor::{ConnectionState, GapCause};
use stressbeat_core::sim::ecgsyn::StressEpisode;
use stressbeat_core::sim::faults::FaultConfig;

struct Interim;
impl Parts for Interim {
    fn analyzer(&self) -> Box<dyn WindowAnalyzer> {
        Box::new(ModelAnalyzer::new(
            Some(Arc::new(StressModel::embedded().unwrap().clone())),
            Some(Arc::new(HrvFallback::embedded().unwrap())),
            Some(Arc::new(BeatClassifier::embedded().unwrap().clone())),
            Vec::new(),
        ))
    }
}

const T0: i64 = 1_800_000_000_000;

fn monitor(history: Arc<Mutex<MemoryHistory>>) -> Monitor {
    let engines = Engines {
        stress: StressEngine::new(EngineConfig::default()).unwrap(),
        alerts: AlertEngine::new(AlertPolicy::default()).unwrap(),
    };
    Monitor::new(
        PipelineConfig::default(),
        Box::new(Interim),
        engines,
        Some(history),
    )
}

fn info() -> SessionInfo {
    SessionInfo {
        start: SessionStart {
            started_at_ms: T0,
            source: SourceKind::Simulator,
            device_model: Some("simulated H10".into()),
            device_identity: None,
        },
        started_phone_ms: 0,
    }
}

/// Subscribe to every kind; events land in one list in delivery order.
fn record_all(
    m: &Monitor,
) -> (
    Arc<Mutex<Vec<MonitorEvent>>>,
    Vec<stressbeat_core::monitor::Subscription>,
) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let subs = [
        EventKind::HeartRate,
        EventKind::Ecg,
        EventKind::Quality,
        EventKind::Stress,
        EventKind::Alert,
        EventKind::Connection,
        EventKind::Status,
    ]
    .into_iter()
    .map(|k| {
        let l = log.clone();
        m.subscribe(
            k,
            Arc::new(move |e: &MonitorEvent| l.lock().unwrap().push(e.clone())),
        )
    })
    .collect();
    (log, subs)
}

/// A simulated calm session (no stress, no noise, no faults).
fn calm(minutes: f64, seed: u64) -> SimulatorSpec {
    SimulatorSpec {
        minutes,
        seed,
        stress: Vec::new(),
        faults: FaultConfig::default(),
        noisy: false,
        heart_rate_only: false,
    }
}

/// A simulated session on `m`, as fast as possible, to its end.
fn run_on(m: &Monitor, spec: &SimulatorSpec) {
    m.start(
        Box::new(simulator_source(spec)),
        Pacing::AsFastAsPossible { step_ms: 250 },
        info(),
    )
    .unwrap();
    m.wait();
}

fn run(spec: &SimulatorSpec) -> (Vec<MonitorEvent>, Arc<Mutex<MemoryHistory>>, f64) {
    let history = Arc::new(Mutex::new(MemoryHistory::default()));
    let m = monitor(history.clone());
    let (log, _subs) = record_all(&m);
    let t = Instant::now();
    run_on(&m, spec);
    let secs = t.elapsed().as_secs_f64();
    let events = log.lock().unwrap().clone();
    (events, history, secs)
}

fn stress_scores(events: &[MonitorEvent], from_s: f64, to_s: f64) -> Vec<f64> {
    events
        .iter()
        .filter_map(|e| match e {
            MonitorEvent::Stress { update, .. } => {
                let t = (update.at_ms - T0) as f64 / 1000.0;
                ((from_s..to_s).contains(&t)).then_some(update.score.map(f64::from))?
            }
            _ => None,
        })
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// 14 clean minutes with a 5 min stress episode from minute 6.
fn episode_spec(heart_rate_only: bool) -> SimulatorSpec {
    SimulatorSpec {
        minutes: 14.0,
        seed: 7,
        stress: vec![StressEpisode {
            start_s: 360.0,
            duration_s: 300.0,
            intensity: 1.0,
        }],
        faults: FaultConfig::default(),
        noisy: false,
        heart_rate_only,
    }
}

/// A strap that sends only Heart Rate Service RR intervals (no ECG stream) gets stress scores
/// from the model, from its RR windows: the same 14 minutes and episode as the ECG session above.
#[test]
fn heart_rate_only_strap_is_scored_from_its_rr_intervals() {
    let (events, history, _) = run(&episode_spec(true));
    assert!(
        !events.iter().any(|e| matches!(e, MonitorEvent::Ecg(_))),
        "no ECG was asked for"
    );
    let updates = stressbeat_e2e::stress_updates(&events);
    // windows every 5 s from the first interval, as for ECG
    assert!(
        (150..=165).contains(&updates.len()),
        "{} windows",
        updates.len()
    );
    let scored: Vec<_> = updates.iter().filter(|(u, _)| u.score.is_some()).collect();
    assert!(
        scored.len() * 10 >= updates.len() * 9,
        "{} of {} scored",
        scored.len(),
        updates.len()
    );
    assert!(
        scored
            .iter()
            .all(|(u, _)| u.source == Some(ScoreSource::Model))
    );
    for (_, o) in &scored {
        assert!(
            o.usable_fraction >= 0.75 && o.beat_counts.total() > 20,
            "{o:?}"
        );
        assert!(
            o.rr_only && o.features[7].is_nan() && o.features[8].is_nan(),
            "no R/T amplitude without ECG"
        );
    }
    let (b, d, a) = (
        mean(&stress_scores(&events, 120.0, 355.0)),
        mean(&stress_scores(&events, 450.0, 660.0)),
        mean(&stress_scores(&events, 780.0, 840.0)),
    );
    eprintln!("RR only: mean score before {b:.1}, during {d:.1}, after {a:.1}");
    assert!(d > b + 25.0, "before {b:.1}, during {d:.1}");
    assert!(a < d, "after {a:.1}, during {d:.1}");
    let h = history.lock().unwrap();
    let s = &h.sessions[0];
    assert_eq!(s.windows.len(), updates.len());
    assert!(s.rr.len() > 14 * 60 - 60, "{} RR stored", s.rr.len());
}

/// An H10 whose ECG stream stops and is refused for 4 minutes (another app holds it) while its
/// heart rate goes on: the strap's RR intervals score those minutes, and ECG takes over again
/// when the strap accepts a start. No span is scored twice and windows stay in time order.
#[test]
fn refused_ecg_stream_is_scored_from_rr_until_ecg_returns() {
    let spec = SimulatorSpec {
        minutes: 16.0,
        seed: 7,
        stress: vec![StressEpisode {
            start_s: 360.0,
            duration_s: 300.0,
            intensity: 1.0,
        }],
        faults: FaultConfig::parse("ecgrefused=8m/4m").unwrap(),
        noisy: false,
        heart_rate_only: false,
    };
    let (events, history, _) = run(&spec);
    let refusals: Vec<_> = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                MonitorEvent::Degraded(Degradation::EcgUnusable { reason }) if reason.contains("refused")
            )
        })
        .collect();
    assert_eq!(refusals.len(), 1, "reported once: {refusals:?}");
    let resumed: Vec<f64> = events
        .iter()
        .filter_map(|e| match e {
            MonitorEvent::EcgResumed { at_ms } => Some((at_ms - T0) as f64 / 1000.0),
            _ => None,
        })
        .collect();
    assert!(
        resumed.len() == 1 && (720.0..=790.0).contains(&resumed[0]),
        "the return of ECG reported once, when the strap accepts a start: {resumed:?}"
    );
    let ecg_at = |t_s: f64| {
        events.iter().any(|e| {
            matches!(e, MonitorEvent::Ecg(c)
                if ((c.first_sample_ms - T0 as f64) / 1000.0 - t_s).abs() < 2.0
                    && c.samples_mv.iter().any(|v| v.is_finite()))
        })
    };
    assert!(
        ecg_at(470.0) && !ecg_at(600.0) && ecg_at(900.0),
        "ECG away from 8 to 12-13 min"
    );

    let updates = stressbeat_e2e::stress_updates(&events);
    let t = |ms: i64| (ms - T0) as f64 / 1000.0;
    let (rr, ecg): (Vec<_>, Vec<_>) = updates.iter().partition(|(_, o)| o.rr_only);
    assert!(
        rr.iter()
            .all(|(_, o)| o.features[7].is_nan() && o.features[8].is_nan()),
        "RR windows have no R/T amplitude"
    );
    let rr_ends: Vec<f64> = rr.iter().map(|(_, o)| t(o.end_ms)).collect();
    eprintln!(
        "{} ECG windows, {} RR windows from {:.0} to {:.0} s",
        ecg.len(),
        rr.len(),
        rr_ends.first().unwrap(),
        rr_ends.last().unwrap()
    );
    // ECG stops at 480 s; the strap accepts a start again between 720 and 780 s
    assert!(
        rr_ends.iter().all(|&e| (480.0..=790.0).contains(&e)),
        "{rr_ends:?}"
    );
    assert!(rr.len() >= 40, "{} RR windows", rr.len());
    assert!(
        rr_ends[0] < 487.0,
        "the next window after the last ECG one is an RR window: {}",
        rr_ends[0]
    );
    let scored_rr = rr.iter().filter(|(u, _)| u.score.is_some()).count();
    assert!(
        scored_rr * 10 >= rr.len() * 9,
        "{scored_rr} of {} RR windows scored",
        rr.len()
    );
    assert!(
        ecg.iter()
            .any(|(u, o)| t(o.end_ms) > 840.0 && u.score.is_some()),
        "ECG windows are scored again"
    );
    // one window per end, in time order, whatever its source
    let ends: Vec<i64> = updates.iter().map(|(_, o)| o.end_ms).collect();
    assert!(ends.windows(2).all(|p| p[0] < p[1]), "{ends:?}");
    let steps: Vec<i64> = ends.windows(2).map(|p| p[1] - p[0]).collect();
    // (the two kinds' 5 s grids differ in phase: a step at a handover may be shorter)
    assert!(
        steps.iter().all(|&d| d <= 6_000),
        "a window at least every 5 s, also at both handovers: {:?}",
        steps.iter().filter(|&&d| d > 6_000).collect::<Vec<_>>()
    );
    // the episode (6-11 min) is seen in the RR minutes as in the ECG ones
    let (before, rr_stress) = (
        mean(&stress_scores(&events, 120.0, 355.0)),
        mean(&stress_scores(&events, 520.0, 660.0)),
    );
    eprintln!("mean score before {before:.1}, during the episode from RR {rr_stress:.1}");
    assert!(
        rr_stress > before + 25.0,
        "before {before:.1}, RR {rr_stress:.1}"
    );

    let h = history.lock().unwrap();
    let s = &h.sessions[0];
    assert_eq!(s.windows.len(), updates.len());
    assert_eq!(s.windows.iter().filter(|w| w.rr_only).count(), rr.len());
    // the strap's RR is stored while the ECG is away (about 4-5 minutes of beats)
    let stored_in = |from_s: f64, to_s: f64| {
        s.rr.iter()
            .filter(|&&(at_ms, _)| (from_s..to_s).contains(&t(at_ms)))
            .count()
    };
    assert!(
        stored_in(500.0, 700.0) > 150,
        "{} RR stored",
        stored_in(500.0, 700.0)
    );
}

#[test]
fn simulated_session_with_stress_episode_end_to_end() {
    let (events, history, secs) = run(&episode_spec(false));
    eprintln!(
        "14 simulated minutes in {secs:.2} s, {} events",
        events.len()
    );
    assert!(
        stressbeat_e2e::stress_updates(&events)
            .iter()
            .all(|(_, o)| !o.rr_only),
        "an H10 streaming ECG: every window from the ECG"
    );

    // Order: started first, finished last; connection goes to streaming and ends stopped.
    assert!(
        matches!(events.first(), Some(MonitorEvent::SessionStarted { .. })),
        "{:?}",
        events.first()
    );
    let Some(MonitorEvent::Finished {
        session_id,
        windows,
        reason: stressbeat_core::history::EndReason::SourceEnded,
    }) = events.last()
    else {
        panic!("last event {:?}", events.last())
    };
    let states: Vec<&ConnectionState> = events
        .iter()
        .filter_map(|e| match e {
            MonitorEvent::Connection { state, .. } => Some(state),
            _ => None,
        })
        .collect();
    assert!(states.contains(&&ConnectionState::Streaming), "{states:?}");
    assert_eq!(states.last(), Some(&&ConnectionState::Stopped));

    // ECG batches: a few per second, in time order, never per sample.
    let ecg: Vec<(f64, usize)> = events
        .iter()
        .filter_map(|e| match e {
            MonitorEvent::Ecg(b) => Some((b.first_sample_ms, b.samples_mv.len())),
            _ => None,
        })
        .collect();
    assert!(
        ecg.windows(2).all(|w| w[1].0 > w[0].0),
        "ECG batches out of order"
    );
    let per_s = ecg.len() as f64 / (14.0 * 60.0);
    assert!((1.0..=4.0).contains(&per_s), "{per_s} batches/s");
    assert!(ecg.iter().all(|(_, n)| *n >= 20), "tiny batches");

    // Stress updates every 5 s in order, each one stored.
    let at: Vec<i64> = events
        .iter()
        .filter_map(|e| match e {
            MonitorEvent::Stress { update, .. } => Some(update.at_ms),
            _ => None,
        })
        .collect();
    assert!(
        at.windows(2)
            .all(|w| w[1] - w[0] >= 4_900 && w[1] - w[0] <= 5_100),
        "{:?}",
        &at[..5]
    );
    assert_eq!(at.len() as u64, *windows);
    // ≈ (14 min - 30 s window - connection set-up) / 5 s
    assert!((150..=163).contains(&at.len()), "{} windows", at.len());
    let h = history.lock().unwrap();
    let s = h.sessions.iter().find(|s| s.id == *session_id).unwrap();
    assert_eq!(s.windows.len(), at.len());
    assert!(s.ended.is_some());
    assert!(s.gaps.is_empty(), "no faults, no gaps: {:?}", s.gaps);
    // RR and raw ECG stored for export: about one RR per beat, every ECG sample.
    assert!(s.rr.len() > 14 * 60, "{} RR", s.rr.len());
    let samples: usize = s.ecg.iter().map(|c| c.2.len()).sum();
    assert!(
        samples as f64 > 0.95 * 130.0 * 14.0 * 60.0 - 130.0 * 10.0,
        "{samples} samples"
    );

    // Heart rate from the strap and from the ECG.
    let hr: Vec<f64> = events
        .iter()
        .filter_map(|e| match e {
            MonitorEvent::HeartRate(h) => Some(h.bpm),
            _ => None,
        })
        .collect();
    assert!(hr.len() > 14 * 60, "{} HR updates", hr.len());

    for e in events
        .iter()
        .filter(|e| matches!(e, MonitorEvent::Stress { .. }))
        .step_by(20)
    {
        if let MonitorEvent::Stress {
            update,
            observation,
        } = e
        {
            eprintln!(
                "{:?} {:?} {:?} {:?} {:?}",
                update.score,
                update.reason,
                observation.usable_fraction,
                observation.hr_bpm,
                observation.fallback_probability
            );
        }
    }
    // Stress rises during the episode (ramp excluded) and falls after it.
    let before = stress_scores(&events, 120.0, 355.0);
    let during = stress_scores(&events, 450.0, 660.0);
    let after = stress_scores(&events, 780.0, 840.0);
    assert!(
        before.len() > 30 && during.len() > 30,
        "{} / {}",
        before.len(),
        during.len()
    );
    let (b, d, a) = (mean(&before), mean(&during), mean(&after));
    eprintln!("mean score before {b:.1}, during {d:.1}, after {a:.1}");
    assert!(d > b + 25.0, "before {b:.1}, during {d:.1}");
    assert!(a < d, "after {a:.1}, during {d:.1}");
    // Scored by the embedded stress model; beats classified (a sinus rhythm: mostly N).
    let scored: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            MonitorEvent::Stress { update, .. } if update.score.is_some() => Some(update.source),
            _ => None,
        })
        .collect();
    assert!(
        scored.iter().all(|s| *s == Some(ScoreSource::Model)),
        "{scored:?}"
    );
    let (n, total) = s.windows.iter().fold((0, 0), |(n, t), w| {
        let b = w.beats;
        (
            n + b.normal,
            t + b.normal + b.supraventricular + b.ventricular + b.fusion + b.unknown,
        )
    });
    assert!(
        total > 0 && f64::from(n) / f64::from(total) > 0.9,
        "{n} N of {total}"
    );
}

#[test]
fn faults_every_gap_stored_and_session_survives() {
    let spec = SimulatorSpec {
        minutes: 10.0,
        seed: 3,
        stress: Vec::new(),
        faults: FaultConfig::parse("loss=5%,dup=2%,disconnect=2m/10s").unwrap(),
        noisy: true,
        heart_rate_only: false,
    };
    let (events, history, _) = run(&spec);
    let gaps: Vec<(i64, GapCause)> = events
        .iter()
        .filter_map(|e| match e {
            MonitorEvent::Gap { from_ms, cause, .. } => Some((from_ms.round() as i64, *cause)),
            _ => None,
        })
        .collect();
    let h = history.lock().unwrap();
    let stored: Vec<(i64, &str)> = h.sessions[0]
        .gaps
        .iter()
        .map(|g| (g.from_ms, g.cause.as_str()))
        .collect();
    let reported: Vec<(i64, &str)> = gaps
        .iter()
        .map(|&(t, c)| (t, stressbeat_core::monitor::pipeline::gap_cause_name(c)))
        .collect();
    assert_eq!(stored, reported, "every gap reported is stored");
    let link = gaps.iter().filter(|g| g.1 == GapCause::LinkLost).count();
    assert!(
        link >= 4,
        "4 disconnects in 10 minutes, {link} link-loss gaps"
    );
    assert!(gaps.len() > 20, "5 % frame loss: {} gaps", gaps.len());
    let windows = h.sessions[0].windows.len();
    assert!(windows > 100, "{windows} windows");
    // None is skipped at a disconnect: the windows waiting for their lag when the strap drops
    // are closed (unscored) when ECG returns.
    let ends: Vec<i64> = h.sessions[0].windows.iter().map(|w| w.end_ms).collect();
    let steps: Vec<i64> = ends.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        steps.iter().all(|&d| (4_000..=6_000).contains(&d)),
        "windows skipped: steps {:?}",
        steps
            .iter()
            .filter(|&&d| !(4_000..=6_000).contains(&d))
            .collect::<Vec<_>>()
    );
    // A window holding a whole 10 s hole has at most ≈ 2/3 of its signal.
    for &(from, cause) in &gaps {
        if cause != GapCause::LinkLost {
            continue;
        }
        let over = h.sessions[0]
            .windows
            .iter()
            .find(|w| w.start_ms <= from && w.end_ms >= from + 12_000)
            .unwrap_or_else(|| panic!("no window over the gap at {from}"));
        assert!(over.usable_fraction < 0.75, "{over:?}");
        assert!(
            over.score.is_none(),
            "a window over a 10 s hole is not scored: {over:?}"
        );
    }
    assert!(matches!(events.last(), Some(MonitorEvent::Finished { .. })));
}

#[test]
fn panicking_listener_does_not_stop_the_session_and_cancel_stops_delivery() {
    let history = Arc::new(Mutex::new(MemoryHistory::default()));
    let m = monitor(history.clone());
    // Panics on its first three calls (the output stays readable), then keeps being called.
    let bad_calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let b = bad_calls.clone();
    let _bad = m.subscribe(
        EventKind::Ecg,
        Arc::new(move |_: &MonitorEvent| {
            if b.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 3 {
                panic!("listener bug")
            }
        }),
    );
    let count = Arc::new(Mutex::new(0u32));
    let c = count.clone();
    let sub = Arc::new(Mutex::new(None::<stressbeat_core::monitor::Subscription>));
    let s2 = sub.clone();
    let handle = m.subscribe(
        EventKind::Ecg,
        Arc::new(move |_: &MonitorEvent| {
            let mut n = c.lock().unwrap();
            *n += 1;
            if *n == 10 {
                // Cancel from inside the listener (on the worker thread).
                if let Some(s) = s2.lock().unwrap().as_ref() {
                    s.cancel();
                }
            }
        }),
    );
    *sub.lock().unwrap() = Some(handle);
    let (log, _subs) = record_all(&m);
    let spec = calm(2.0, 1);
    run_on(&m, &spec);
    assert_eq!(*count.lock().unwrap(), 10, "no event after cancel");
    let bad = bad_calls.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        bad > 100,
        "the panicking listener stays subscribed: {bad} calls"
    );
    let events = log.lock().unwrap();
    assert!(matches!(events.last(), Some(MonitorEvent::Finished { windows, .. }) if *windows > 10));
    assert_eq!(history.lock().unwrap().sessions.len(), 1);
}

#[test]
fn new_listener_gets_current_state_and_second_start_is_refused_while_running() {
    let history = Arc::new(Mutex::new(MemoryHistory::default()));
    let m = monitor(history);
    let spec = calm(1.0, 2);
    m.start(
        Box::new(simulator_source(&spec)),
        Pacing::RealTime { step_ms: 100 },
        info(),
    )
    .unwrap();
    let again = m.start(
        Box::new(simulator_source(&spec)),
        Pacing::AsFastAsPossible { step_ms: 250 },
        info(),
    );
    assert!(again.is_err(), "one session at a time");
    // Wait for the stream to come up (real time: connection takes a few hundred ms).
    let t = Instant::now();
    let got = Arc::new(Mutex::new(Vec::new()));
    loop {
        let g = got.clone();
        let sub = m.subscribe(
            EventKind::Connection,
            Arc::new(move |e: &MonitorEvent| g.lock().unwrap().push(e.clone())),
        );
        let first = got.lock().unwrap().first().cloned();
        drop(sub);
        if matches!(
            first,
            Some(MonitorEvent::Connection {
                state: ConnectionState::Streaming,
                ..
            })
        ) {
            break;
        }
        got.lock().unwrap().clear();
        assert!(t.elapsed().as_secs() < 20, "never streaming: {first:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    m.stop();
    assert!(!m.is_running());
}

#[test]
fn sustained_stress_raises_an_alert_that_is_stored() {
    let spec = SimulatorSpec {
        minutes: 20.0,
        seed: 5,
        stress: vec![StressEpisode {
            start_s: 300.0,
            duration_s: 720.0,
            intensity: 1.0,
        }],
        faults: FaultConfig::default(),
        noisy: false,
        heart_rate_only: false,
    };
    let (events, history, _) = run(&spec);
    let (alerts, ids): (Vec<&stressbeat_core::engine::Alert>, Vec<Option<i64>>) = events
        .iter()
        .filter_map(|e| match e {
            MonitorEvent::Alert { alert, stored_id } => Some((alert, *stored_id)),
            _ => None,
        })
        .unzip();
    // each delivered alert carries its history id (to acknowledge it)
    let expected_ids: Vec<_> = (1..=alerts.len() as i64).map(Some).collect();
    assert_eq!(ids, expected_ids);
    let stress: Vec<_> = alerts
        .iter()
        .filter(|a| a.kind == stressbeat_core::engine::AlertKind::SustainedHighStress)
        .collect();
    assert_eq!(stress.len(), 1, "one alert (then the cooldown): {alerts:?}");
    let at_s = (stress[0].at_ms - T0) as f64 / 1000.0;
    // High for the policy's 5 minutes inside the episode (300-1020 s).
    assert!((600.0..1020.0).contains(&at_s), "alert at {at_s} s");
    assert!(!stress[0].reason.is_empty());
    let h = history.lock().unwrap();
    let stored: Vec<&str> = h.sessions[0]
        .alerts
        .iter()
        .map(|a| a.kind.as_str())
        .collect();
    assert!(stored.contains(&"stress_high"), "{stored:?}");
    assert_eq!(
        h.sessions[0].alerts.len(),
        alerts.len(),
        "every alert stored"
    );
}

/// A calibration that completes mid-session is in the history when its completion is
/// published, not only when the session ends: an app killed after calibrating keeps it.
#[test]
fn a_finished_calibration_is_stored_at_once() {
    use stressbeat_core::engine::{BaselineOrigin, CalibrationEvent, PersonalBaseline};
    use stressbeat_core::history::HistorySink;
    use stressbeat_core::monitor::pipeline::BASELINE_PROFILE;

    let history = Arc::new(Mutex::new(MemoryHistory::default()));
    let m = monitor(history.clone());
    m.engines()
        .lock()
        .unwrap()
        .stress
        .start_calibration(T0, 90_000);
    let seen = Arc::new(Mutex::new(None));
    let (h, s) = (history.clone(), seen.clone());
    let _sub = m.subscribe(
        EventKind::Stress,
        Arc::new(move |e: &MonitorEvent| {
            if let MonitorEvent::Stress { update, .. } = e
                && let Some(CalibrationEvent::Completed { windows }) = update.calibration
            {
                let stored = h.lock().unwrap().load_baseline(BASELINE_PROFILE).unwrap();
                *s.lock().unwrap() = Some((windows, update.at_ms, stored));
            }
        }),
    );
    let spec = calm(4.0, 3);
    run_on(&m, &spec);
    let (windows, at_ms, stored) = seen.lock().unwrap().take().expect("calibration completed");
    assert!(windows >= 12, "{windows} windows");
    let (json, saved_at) = stored.expect("the baseline was stored when the calibration completed");
    assert_eq!(saved_at, at_ms);
    assert!(at_ms < T0 + 150_000, "completed at +{} ms", at_ms - T0);
    let b: PersonalBaseline = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (b.origin, b.windows),
        (BaselineOrigin::Calibrated, u64::from(windows))
    );
}

/// A calibration still running when its session ends ends with it, on the windows it took:
/// reported just before `Finished` (a completed one stored, a failed one leaving the baseline as
/// it was), never carried into the next session, here one stamped before it (a replay).
#[test]
fn a_calibration_running_when_its_session_ends_ends_with_it() {
    use stressbeat_core::engine::{BaselineOrigin, CalibrationError, CalibrationEvent};
    use stressbeat_core::history::HistorySink;
    use stressbeat_core::monitor::pipeline::BASELINE_PROFILE;

    let history = Arc::new(Mutex::new(MemoryHistory::default()));
    let m = monitor(history.clone());
    let (log, _subs) = record_all(&m);
    let session = |minutes: f64| -> Vec<MonitorEvent> {
        log.lock().unwrap().clear();
        run_on(&m, &calm(minutes, 3));
        log.lock().unwrap().clone()
    };
    let ended = |events: &[MonitorEvent]| -> Option<CalibrationEvent> {
        let n = events.len();
        assert!(matches!(events[n - 1], MonitorEvent::Finished { .. }));
        match &events[n - 2] {
            MonitorEvent::CalibrationEnded(outcome) => Some(*outcome),
            _ => None,
        }
    };
    let calibrating = |events: &[MonitorEvent]| {
        events.iter().any(
            |e| matches!(e, MonitorEvent::Stress { update, .. } if update.calibration.is_some()),
        )
    };
    let request = |ms: i64| m.engines().lock().unwrap().stress.request_calibration(ms);

    // 5 min asked for, stopped after 2: completed on the windows it took, and stored
    request(300_000);
    let first = session(2.0);
    let Some(CalibrationEvent::Completed { windows }) = ended(&first) else {
        panic!("{:?}", ended(&first))
    };
    assert!(windows >= 12, "{windows} windows");
    let engines = m.engines();
    let baseline = engines.lock().unwrap().stress.baseline().cloned().unwrap();
    assert_eq!(baseline.origin, BaselineOrigin::Calibrated);
    let (json, _) = history
        .lock()
        .unwrap()
        .load_baseline(BASELINE_PROFILE)
        .unwrap()
        .expect("the calibrated baseline is stored");
    assert_eq!(json, serde_json::to_string(&baseline).unwrap());

    // the next session is scored, not calibrated
    let next = session(1.0);
    assert_eq!(ended(&next), None);
    assert!(!calibrating(&next));
    assert!(
        next.iter()
            .any(|e| matches!(e, MonitorEvent::Stress { update, .. } if update.score.is_some()))
    );

    // stopped after 45 s: too few windows; the baseline stays
    let before = engines.lock().unwrap().stress.baseline().cloned();
    request(300_000);
    let short = session(0.75);
    assert!(matches!(
        ended(&short),
        Some(CalibrationEvent::Failed(
            CalibrationError::TooFewWindows { .. }
        ))
    ));
    assert_eq!(
        engines.lock().unwrap().stress.baseline().cloned(),
        before,
        "a failed calibration changes nothing"
    );
    assert!(!calibrating(&session(1.0)));
}

/// An analyzer that always fails (a bug): every step that closes a window panics.
struct Broken;
impl WindowAnalyzer for Broken {
    fn analyze(
        &mut self,
        _: &[stressbeat_core::monitor::WindowSignal],
        _: Option<&[f32]>,
        _: &mut Vec<stressbeat_core::engine::WindowObservation>,
    ) {
        panic!("analyzer bug");
    }
    fn take_degradations(&mut self) -> Vec<Degradation> {
        Vec::new()
    }
    fn model_name(&self) -> String {
        "broken".into()
    }
}
impl Parts for Broken {
    fn analyzer(&self) -> Box<dyn WindowAnalyzer> {
        Box::new(Broken)
    }
}

/// A source that remembers being stopped.
struct Watched<S> {
    inner: S,
    stopped: Arc<std::sync::atomic::AtomicBool>,
}
impl<S: stressbeat_core::sensor::SensorSource> stressbeat_core::sensor::SensorSource
    for Watched<S>
{
    fn poll(&mut self, now_ms: i64, out: &mut Vec<stressbeat_core::sensor::SensorEvent>) -> bool {
        self.inner.poll(now_ms, out)
    }
    fn stop(&mut self, now_ms: i64) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.stop(now_ms);
    }
}

#[test]
fn a_session_ended_by_internal_errors_stops_the_strap_and_is_stored() {
    let history = Arc::new(Mutex::new(MemoryHistory::default()));
    let m = Monitor::new(
        PipelineConfig::default(),
        Box::new(Broken),
        Engines {
            stress: StressEngine::new(EngineConfig::default()).unwrap(),
            alerts: AlertEngine::new(AlertPolicy::default()).unwrap(),
        },
        Some(history.clone()),
    );
    let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spec = SimulatorSpec {
        minutes: 3.0,
        ..episode_spec(false)
    };
    m.start(
        Box::new(Watched {
            inner: simulator_source(&spec),
            stopped: stopped.clone(),
        }),
        Pacing::AsFastAsPossible { step_ms: 250 },
        info(),
    )
    .unwrap();
    m.wait();
    assert!(
        stopped.load(std::sync::atomic::Ordering::SeqCst),
        "the strap was stopped"
    );
    let h = history.lock().unwrap();
    assert_eq!(
        h.sessions[0].ended.map(|(_, reason)| reason),
        Some(stressbeat_core::history::EndReason::Error)
    );
}

/// A strap lost for good (its source ends in `Failed`): the session is stored and reported
/// as disconnected, not as a source that reached its end.
#[test]
fn a_strap_lost_for_good_ends_the_session_as_disconnected() {
    use stressbeat_core::history::EndReason;
    use stressbeat_core::sensor::{SensorEvent, SensorSource};
    struct LostStrap(u32);
    impl SensorSource for LostStrap {
        fn poll(&mut self, _now_ms: i64, out: &mut Vec<SensorEvent>) -> bool {
            self.0 += 1;
            let state = match self.0 {
                1 => ConnectionState::Connecting,
                2 => ConnectionState::Reconnecting { attempt: 1 },
                _ => ConnectionState::Failed {
                    reason: "no connection after 1 attempts".into(),
                },
            };
            let failed = matches!(state, ConnectionState::Failed { .. });
            out.push(SensorEvent::Connection(state));
            !failed
        }
        fn stop(&mut self, _now_ms: i64) {}
    }
    let history = Arc::new(Mutex::new(MemoryHistory::default()));
    let m = monitor(history.clone());
    let (log, _subs) = record_all(&m);
    m.start(
        Box::new(LostStrap(0)),
        Pacing::AsFastAsPossible { step_ms: 250 },
        info(),
    )
    .unwrap();
    m.wait();
    let events = log.lock().unwrap().clone();
    assert!(
        matches!(
            events.last(),
            Some(MonitorEvent::Finished {
                reason: EndReason::Disconnected,
                ..
            })
        ),
        "{:?}",
        events.last()
    );
    let h = history.lock().unwrap();
    assert_eq!(
        h.sessions[0].ended.map(|e| e.1),
        Some(EndReason::Disconnected)
    );
}

/// After a session has finished, a new listener hears no stale reading as if it were live
/// (the strap's connection state stays current).
#[test]
fn a_finished_session_leaves_no_current_readings() {
    let history = Arc::new(Mutex::new(MemoryHistory::default()));
    let m = monitor(history);
    let spec = calm(1.0, 3);
    run_on(&m, &spec);
    let (log, _subs) = record_all(&m);
    let current: Vec<EventKind> = log.lock().unwrap().iter().map(EventKind::of).collect();
    assert_eq!(current, [EventKind::Connection]);
}

/// A history that cannot open a session at first (another connection holds the lock), then
/// can; whose appends fail while `failing` is set; that refuses every RR interval as invalid
/// (`refuses_rr`, as SQLite refuses one that is not positive) and fails to save a baseline
/// (`refuses_baseline`, counting the attempts).
#[derive(Default)]
struct FlakyHistory {
    inner: MemoryHistory,
    refused_begins: u32,
    failing: bool,
    refuses_rr: bool,
    refuses_baseline: bool,
    baseline_attempts: u32,
}

impl stressbeat_core::history::HistorySink for FlakyHistory {
    fn begin_session(&mut self, start: &SessionStart) -> stressbeat_core::Result<i64> {
        if self.refused_begins > 0 {
            self.refused_begins -= 1;
            return Err(busy());
        }
        self.inner.begin_session(start)
    }
    fn append_window(
        &mut self,
        s: i64,
        w: &stressbeat_core::history::WindowRecord,
    ) -> stressbeat_core::Result<()> {
        self.inner.append_window(s, w)?;
        if self.failing { Err(busy()) } else { Ok(()) }
    }
    fn append_rr(&mut self, s: i64, at_ms: i64, rr_ms: f64) -> stressbeat_core::Result<()> {
        if self.refuses_rr {
            return Err(stressbeat_core::Error::InvalidArgument(
                "RR interval that is not a positive number of ms".into(),
            ));
        }
        self.inner.append_rr(s, at_ms, rr_ms)?;
        if self.failing { Err(busy()) } else { Ok(()) }
    }
    fn append_ecg(
        &mut self,
        s: i64,
        c: &stressbeat_core::history::EcgChunk<'_>,
    ) -> stressbeat_core::Result<()> {
        self.inner.append_ecg(s, c)
    }
    fn append_alert(
        &mut self,
        s: i64,
        a: &stressbeat_core::history::AlertRecord,
    ) -> stressbeat_core::Result<i64> {
        self.inner.append_alert(s, a)
    }
    fn append_gap(
        &mut self,
        s: i64,
        g: &stressbeat_core::history::GapRecord,
    ) -> stressbeat_core::Result<()> {
        self.inner.append_gap(s, g)
    }
    fn end_session(
        &mut self,
        s: i64,
        at: i64,
        r: stressbeat_core::history::EndReason,
    ) -> stressbeat_core::Result<()> {
        self.inner.end_session(s, at, r)
    }
    fn save_baseline(&mut self, p: &str, j: &str, at: i64) -> stressbeat_core::Result<()> {
        self.baseline_attempts += 1;
        if self.refuses_baseline {
            return Err(busy());
        }
        self.inner.save_baseline(p, j, at)
    }
    fn load_baseline(&mut self, p: &str) -> stressbeat_core::Result<Option<(String, i64)>> {
        self.inner.load_baseline(p)
    }
    fn flush(&mut self) -> stressbeat_core::Result<()> {
        if self.failing {
            Err(busy())
        } else {
            self.inner.flush()
        }
    }
}

fn busy() -> stressbeat_core::Error {
    stressbeat_core::Error::Storage {
        kind: stressbeat_core::StorageErrorKind::Busy,
        message: "database is locked".into(),
    }
}

fn run_flaky(history: FlakyHistory) -> (Vec<MonitorEvent>, Arc<Mutex<FlakyHistory>>) {
    let history = Arc::new(Mutex::new(history));
    let engines = Engines {
        stress: StressEngine::new(EngineConfig::default()).unwrap(),
        alerts: AlertEngine::new(AlertPolicy::default()).unwrap(),
    };
    let m = Monitor::new(
        PipelineConfig::default(),
        Box::new(Interim),
        engines,
        Some(history.clone()),
    );
    let (log, _subs) = record_all(&m);
    let spec = calm(2.0, 7);
    run_on(&m, &spec);
    let events = log.lock().unwrap().clone();
    (events, history)
}

/// The history refusing the session's start for a moment (a lock held elsewhere) costs the
/// first seconds of it, not the whole session.
#[test]
fn a_session_the_history_refuses_at_first_is_stored_once_it_can() {
    let (events, history) = run_flaky(FlakyHistory {
        refused_begins: 3,
        ..FlakyHistory::default()
    });
    let delivered = events
        .iter()
        .filter(|e| matches!(e, MonitorEvent::Stress { .. }))
        .count();
    let h = history.lock().unwrap();
    assert_eq!(h.inner.sessions.len(), 1);
    let s = &h.inner.sessions[0];
    assert_eq!(
        s.ended.map(|e| e.1),
        Some(stressbeat_core::history::EndReason::SourceEnded)
    );
    // opened a few seconds in, before the first 30 s window ends: no window is lost
    assert!(delivered > 10);
    assert_eq!(s.windows.len(), delivered);
    assert!(!s.rr.is_empty());
    assert!(matches!(
        events.last(),
        Some(MonitorEvent::Finished { session_id: 1, .. })
    ));
}

/// A write that fails does not stop the rest of the step's records from being appended (they
/// wait for the next commit).
#[test]
fn a_failing_history_still_gets_every_record_appended() {
    let stored = |failing| {
        let (events, history) = run_flaky(FlakyHistory {
            failing,
            ..FlakyHistory::default()
        });
        let failed = storage_failed(&events);
        let h = history.lock().unwrap();
        let s = &h.inner.sessions[0];
        (failed, s.rr.len(), s.windows.len())
    };
    let (failed, rr, windows) = stored(true);
    assert!(failed);
    let (clean_failed, clean_rr, clean_windows) = stored(false);
    assert!(!clean_failed);
    assert_eq!((rr, windows), (clean_rr, clean_windows));
    assert!(rr > 100 && windows > 10, "{rr} RR, {windows} windows");
}

fn storage_failed(events: &[MonitorEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, MonitorEvent::Degraded(Degradation::StorageFailed { .. })))
}

/// A record the history refuses as invalid (an RR of 0 ms) is dropped, not reported as a
/// storage failure: the rest is stored as usual.
#[test]
fn a_record_refused_as_invalid_is_not_a_storage_failure() {
    let (events, history) = run_flaky(FlakyHistory {
        refuses_rr: true,
        ..FlakyHistory::default()
    });
    assert!(!storage_failed(&events));
    let h = history.lock().unwrap();
    let s = &h.inner.sessions[0];
    assert!(s.rr.is_empty());
    assert!(s.windows.len() > 10, "{} windows", s.windows.len());
    assert_eq!(
        s.ended.map(|e| e.1),
        Some(stressbeat_core::history::EndReason::SourceEnded)
    );
}

/// A baseline the history cannot save at the end is reported, and the session is still closed
/// (it would otherwise show as running until the next start called it interrupted).
#[test]
fn a_session_is_closed_even_when_its_baseline_cannot_be_saved() {
    let (events, history) = run_flaky(FlakyHistory {
        refuses_baseline: true,
        ..FlakyHistory::default()
    });
    assert!(storage_failed(&events));
    let h = history.lock().unwrap();
    assert!(
        h.baseline_attempts > 0,
        "the run must have a baseline to save"
    );
    assert_eq!(
        h.inner.sessions[0].ended.map(|e| e.1),
        Some(stressbeat_core::history::EndReason::SourceEnded)
    );
}

/// A panic while the engines or the history were locked (poisoning both locks) does not stop
/// the next session from scoring and storing its windows.
#[test]
fn poisoned_engine_and_history_locks_still_score_and_store() {
    let history = Arc::new(Mutex::new(MemoryHistory::default()));
    let m = monitor(history.clone());
    let engines = m.engines().clone();
    let h = history.clone();
    let poisoner = std::thread::spawn(move || {
        let _e = engines.lock().unwrap();
        let _h = h.lock().unwrap();
        panic!("poison both locks");
    });
    assert!(poisoner.join().is_err());
    assert!(m.engines().is_poisoned() && history.is_poisoned());

    let (log, _subs) = record_all(&m);
    run_on(&m, &calm(1.5, 11));
    let scored = log
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, MonitorEvent::Stress { update, .. } if update.score.is_some()))
        .count();
    assert!(scored > 5, "{scored} windows scored");
    let h = history
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    assert!(h.sessions[0].windows.len() >= scored);
    assert_eq!(
        h.sessions[0].ended.map(|e| e.1),
        Some(stressbeat_core::history::EndReason::SourceEnded)
    );
}
