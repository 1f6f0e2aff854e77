//! A strap that sends only Heart Rate Service RR intervals, on real ECG. Each EEGMAT subject's
//! R-peaks (detected at the recording's own rate) become the notifications such a strap sends (RR
//! in 1/1024 s; one notification a second with the beats that ended since the last) and run
//! through the monitor's pipeline: a calibration on the first 60 s of rest, then the rest of the
//! rest recording and the mental-arithmetic recording. The same spans go through the ECG path
//! (`stress_windows`, `select_baseline`, `score_windows`, as `stressbeat stress --baseline`), and
//! the two paths' windows are compared. Every subject is in the stress model's training data: this
//! checks the RR-only path (windowing, quality, features, the baseline without R/T amplitudes),
//! not the model. A second run sends the rest recording's ECG as well, as an H10 whose ECG stream
//! then stops while its heart rate goes on (the task's notifications follow the rest's within
//! 3 s): the task is scored from RR against the baseline the ECG windows calibrated.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};

use stressbeat_core::analysis::{AnalysisOptions, select_span};
use stressbeat_core::dsp::rpeak::detect_peaks;
use stressbeat_core::engine::{
    AlertEngine, AlertPolicy, BaselineConfig, EngineConfig, StressEngine, WindowObservation,
};
use stressbeat_core::history::{EndReason, SessionStart, SourceKind};
use stressbeat_core::io::{LoadOptions, load_recording};
use stressbeat_core::model::{HrvFallback, ModelSignal, StressModel};
use stressbeat_core::model_input::stress::{StressWindowConfig, select_baseline, stress_windows};
use stressbeat_core::monitor::analyzer::ModelAnalyzer;
use stressbeat_core::monitor::{Engines, MonitorEvent, Pipeline, PipelineConfig, SessionInfo};
use stressbeat_core::sensor::replay::recording_events;
use stressbeat_core::sensor::{SensorEvent, SensorSource};
use stressbeat_e2e::{dataset, median};

/// Seconds of rest used as the baseline (as in the model card's evaluation).
const BASELINE_S: f64 = 60.0;
/// Silence between the rest and the task recording in the simulated session (RR only).
const PAUSE_S: f64 = 600.0;
/// With the rest's ECG: the task's heart rate follows the rest's within this (the ECG stream
/// stops, the strap's heart rate goes on).
const HANDOVER_S: f64 = 3.0;

/// One window of either path: end (s from the rest recording's start), HR, stress probability.
#[derive(Debug, Clone, Copy)]
struct Scored {
    end_s: f64,
    hr_bpm: Option<f32>,
    p: Option<f32>,
    /// The HRV fallback's stress probability.
    fallback: Option<f32>,
    /// A window of RR intervals (no R/T amplitude).
    rr_only: bool,
}

fn span(path: &Path, from_s: Option<f64>, to_s: Option<f64>) -> stressbeat_core::analysis::EcgSpan {
    let rec = load_recording(path, &LoadOptions::default()).unwrap();
    let opts = AnalysisOptions {
        from_s,
        to_s,
        ..AnalysisOptions::default()
    };
    select_span(&rec, &opts).unwrap()
}

/// Heart Rate Measurement notifications of a recording starting at `t0_s` of the session: RR
/// values in 1/1024 s units, delivered on the next whole second after the beat.
fn notifications(path: &Path, t0_s: f64, out: &mut Vec<(i64, SensorEvent)>) {
    let s = span(path, None, None);
    let fs = s.sampling_rate_hz;
    let peaks = detect_peaks(&s.samples_mv, fs);
    let mut by_second: Vec<Vec<f64>> = vec![Vec::new(); (s.duration_s().ceil() as usize) + 2];
    for w in peaks.windows(2) {
        let rr_1024 = ((w[1] - w[0]) as f64 / fs * 1024.0).round();
        by_second[(w[1] as f64 / fs).floor() as usize + 1].push(rr_1024 * 1000.0 / 1024.0);
    }
    for (sec, rr_ms) in by_second.into_iter().enumerate() {
        let bpm = rr_ms.last().map_or(0, |rr| (60_000.0 / rr).round() as u16);
        let at_ms = ((t0_s + sec as f64) * 1000.0).round() as i64;
        out.push((
            at_ms,
            SensorEvent::HeartRate {
                at_ms,
                bpm,
                rr_ms,
                contact: Some(true),
            },
        ));
    }
}

/// Hands over the events due by each poll.
struct Scripted(VecDeque<(i64, SensorEvent)>);

impl SensorSource for Scripted {
    fn poll(&mut self, now_ms: i64, out: &mut Vec<SensorEvent>) -> bool {
        while self.0.front().is_some_and(|(at, _)| *at <= now_ms) {
            out.extend(self.0.pop_front().map(|(_, e)| e));
        }
        !self.0.is_empty()
    }

    fn stop(&mut self, _now_ms: i64) {}
}

/// The monitor on the RR-only path: rest (calibrating over its first 60 s), a pause, the task.
/// `polled`: the source is polled every 250 ms as by the monitor's worker; else every event is
/// handed over at once, so windows close in batches (as in a fast replay). `rest_ecg`: the rest
/// recording's ECG is sent too (its windows are then ECG windows).
fn monitor_path(rest: &Path, task: &Path, polled: bool, rest_ecg: bool) -> Vec<Scored> {
    let rest_s = span(rest, None, None).duration_s();
    let mut events = Vec::new();
    notifications(rest, 0.0, &mut events);
    let pause_s = if rest_ecg { HANDOVER_S } else { PAUSE_S };
    let task_t0 = rest_s + pause_s;
    notifications(task, task_t0, &mut events);
    if rest_ecg {
        let rec = load_recording(rest, &LoadOptions::default()).unwrap();
        events.extend(recording_events(&rec, None).unwrap());
        events.sort_by_key(|(at, _)| *at);
    }

    let config = EngineConfig {
        baseline: BaselineConfig {
            // the ECG path's baseline: the admissible windows inside the first 60 s (7 windows;
            // RR windows all pass the quality gate, ECG windows need not)
            min_calibration_windows: if rest_ecg { 1 } else { 5 },
            rolling_enabled: false,
            ..BaselineConfig::default()
        },
        ..EngineConfig::default()
    };
    let engines = Arc::new(Mutex::new(Engines {
        stress: StressEngine::new(config).unwrap(),
        alerts: AlertEngine::new(AlertPolicy::default()).unwrap(),
    }));
    let analyzer = ModelAnalyzer::new(
        Some(Arc::new(StressModel::embedded().unwrap().clone())),
        Some(Arc::new(HrvFallback::embedded().unwrap())),
        None,
        Vec::new(),
    );
    let mut pipeline = Pipeline::new(
        PipelineConfig::default(),
        Box::new(analyzer),
        engines.clone(),
        None,
    )
    .unwrap();
    let mut out = Vec::new();
    pipeline.begin(
        &SessionInfo {
            start: SessionStart {
                started_at_ms: 0,
                source: SourceKind::Bridge,
                device_model: None,
                device_identity: None,
            },
            started_phone_ms: 0,
        },
        &mut out,
    );
    // the first interval starts with the first beat: windows end 0.5-2 s after the ECG path's
    engines
        .lock()
        .unwrap()
        .stress
        .start_calibration(0, ((BASELINE_S + 2.5) * 1000.0) as i64);
    if polled {
        let end_ms = (task_t0 + span(task, None, None).duration_s() + 2.0) as i64 * 1000;
        let mut source = Scripted(events.into());
        for now in (0..=end_ms).step_by(250) {
            pipeline.step(&mut source, now, &mut out);
        }
    } else {
        for (now, ev) in events {
            pipeline.handle(ev, now, &mut out);
        }
    }
    pipeline.finish(EndReason::SourceEnded, &mut out);
    assert!(
        engines.lock().unwrap().stress.baseline().is_some(),
        "{}: the calibration failed",
        rest.display()
    );
    out.iter()
        .filter_map(|e| match e {
            MonitorEvent::Stress { observation, .. } => Some(observation),
            _ => None,
        })
        .filter(|o: &&WindowObservation| o.start_ms >= (BASELINE_S * 1000.0) as i64)
        .map(|o| {
            let end_s = o.end_ms as f64 / 1000.0;
            Scored {
                // task windows on the task recording's own time axis, shifted after the rest
                end_s: if end_s > task_t0 {
                    end_s - pause_s
                } else {
                    end_s
                },
                hr_bpm: o.hr_bpm,
                p: o.model_probability,
                fallback: o.fallback_probability,
                rr_only: o.rr_only,
            }
        })
        .collect()
}

/// The ECG path, as `stressbeat stress REST --from 60 --baseline REST --baseline-to 60` and the
/// same for the task; `None` when the first 60 s hold no admissible baseline window.
fn ecg_path(rest: &Path, task: &Path) -> Option<Vec<Scored>> {
    let model = StressModel::embedded().unwrap();
    let fallback = HrvFallback::embedded().unwrap();
    let windows_of = |s: &ModelSignal| {
        stress_windows(
            &s.samples_130hz,
            &s.peaks_130hz,
            &StressWindowConfig::default(),
        )
        .unwrap()
    };
    let signal = |p: &Path, from: Option<f64>, to: Option<f64>| {
        ModelSignal::from_span(&span(p, from, to)).unwrap()
    };
    let base = signal(rest, None, Some(BASELINE_S));
    let baseline = select_baseline(&windows_of(&base), &[], &EngineConfig::default()).features?;
    let rest_s = span(rest, None, None).duration_s();
    let mut out = Vec::new();
    for (path, from, offset) in [(rest, Some(BASELINE_S), BASELINE_S), (task, None, rest_s)] {
        let s = signal(path, from, None);
        let w = windows_of(&s);
        let p = model
            .score_windows(&s.samples_130hz, &w, Some(&baseline))
            .unwrap();
        out.extend(w.iter().zip(p).map(|(w, p)| {
            Scored {
                end_s: w.end_s + offset,
                hr_bpm: w.features[0].is_finite().then_some(w.features[0]),
                p,
                fallback: w
                    .is_scorable()
                    .then(|| fallback.probability(&w.features, Some(&baseline)))
                    .flatten(),
                rr_only: false,
            }
        }));
    }
    Some(out)
}

/// What the monitor's windows gave against the ECG path's, over the EEGMAT subjects.
#[derive(Debug, Default)]
struct Agreement {
    subjects: usize,
    matched: usize,
    ecg_scored: usize,
    both: usize,
    agree: usize,
    /// The same for the HRV fallback's decisions.
    fallback_ecg_scored: usize,
    fallback_both: usize,
    fallback_agree: usize,
    median_dhr: f64,
}

/// Runs every subject through [`monitor_path`] and [`ecg_path`] and matches their windows (ends
/// within 2.5 s); with `rest_ecg`, only the task's windows, which must all be RR windows, while
/// the rest's must all be ECG windows.
fn agreement(dir: &Path, rest_ecg: bool) -> Agreement {
    let mut subjects: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().ok()?;
            name.strip_suffix("_1.edf").map(str::to_owned)
        })
        .collect();
    subjects.sort();
    assert_eq!(subjects.len(), 26, "{subjects:?}");
    let mut a = Agreement::default();
    let mut dhr = Vec::new();
    let mut dp = Vec::new();
    for s in &subjects {
        let rest = dir.join(format!("{s}_1.edf"));
        let task = dir.join(format!("{s}_2.edf"));
        let Some(ecg) = ecg_path(&rest, &task) else {
            eprintln!("{s}: no baseline window in the first 60 s of ECG (as in the model card)");
            continue;
        };
        a.subjects += 1;
        let rest_s = span(&rest, None, None).duration_s();
        let mut monitor = monitor_path(&rest, &task, true, rest_ecg);
        if rest_ecg {
            // ECG stops at the end of the rest; RR windows ending after it take over
            let (task_windows, rest_windows): (Vec<Scored>, Vec<Scored>) =
                monitor.into_iter().partition(|w| w.end_s > rest_s);
            // windows starting after the 60 s of calibration
            let expected = ((rest_s - BASELINE_S - 30.0) / 5.0) as usize;
            assert!(
                rest_windows.len() >= expected,
                "{s}: {} rest windows",
                rest_windows.len()
            );
            assert!(
                rest_windows.iter().all(|w| !w.rr_only),
                "{s}: rest from ECG"
            );
            assert!(task_windows.iter().all(|w| w.rr_only), "{s}: task from RR");
            monitor = task_windows;
        }
        for e in ecg.iter().filter(|e| !rest_ecg || e.end_s > rest_s + 1.0) {
            let Some(r) = monitor
                .iter()
                .filter(|r| (r.end_s - e.end_s).abs() <= 2.5)
                .min_by(|a, b| {
                    (a.end_s - e.end_s)
                        .abs()
                        .total_cmp(&(b.end_s - e.end_s).abs())
                })
            else {
                continue;
            };
            a.matched += 1;
            if let (Some(x), Some(y)) = (e.hr_bpm, r.hr_bpm) {
                dhr.push(f64::from((x - y).abs()));
            }
            if let Some(fe) = e.fallback {
                a.fallback_ecg_scored += 1;
                if let Some(fr) = r.fallback {
                    a.fallback_both += 1;
                    let t = HrvFallback::embedded().unwrap().threshold();
                    a.fallback_agree += usize::from((fe >= t) == (fr >= t));
                }
            }
            if let Some(pe) = e.p {
                a.ecg_scored += 1;
                if let Some(pr) = r.p {
                    a.both += 1;
                    a.agree += usize::from((pe >= 0.5) == (pr >= 0.5));
                    dp.push(f64::from((pe - pr).abs()));
                }
            }
        }
    }
    a.median_dhr = median(&mut dhr);
    eprintln!(
        "{} subjects, {} matched windows: ECG path scored {}, the monitor {} of those; decisions \
         agree in {} ({:.1} %); median |ΔHR| {:.2} bpm, median |Δp| {:.3}",
        a.subjects,
        a.matched,
        a.ecg_scored,
        a.both,
        a.agree,
        100.0 * a.agree as f64 / a.both.max(1) as f64,
        a.median_dhr,
        median(&mut dp)
    );
    eprintln!(
        "HRV fallback: ECG path scored {}, the monitor {} of those; decisions agree in {} ({:.1} %)",
        a.fallback_ecg_scored,
        a.fallback_both,
        a.fallback_agree,
        100.0 * a.fallback_agree as f64 / a.fallback_both.max(1) as f64
    );
    a
}

/// The monitor's windows match the ECG path's (at least `per_subject` each), are scored where
/// those are, decide alike, and give the same heart rate; so does the HRV fallback (used when the
/// model cannot be), whose amplitude terms are at their training mean in RR windows.
fn assert_paths_agree(a: &Agreement, per_subject: usize) {
    assert!(a.subjects >= 24, "{} subjects with a baseline", a.subjects);
    assert!(
        a.matched >= a.subjects * per_subject,
        "{} matched windows",
        a.matched
    );
    for (what, ecg, both, agree) in [
        ("model", a.ecg_scored, a.both, a.agree),
        (
            "fallback",
            a.fallback_ecg_scored,
            a.fallback_both,
            a.fallback_agree,
        ),
    ] {
        assert!(both * 10 >= ecg * 9, "{what}: {both} of {ecg} scored");
        assert!(agree * 100 >= both * 90, "{what}: {agree} of {both} agree");
    }
    assert!(a.median_dhr < 1.0, "median |ΔHR| {}", a.median_dhr);
}

#[test]
fn eegmat_rr_only_windows_score_as_the_ecg_windows() {
    let Some(dir) = dataset("eegmat") else {
        return;
    };
    assert_paths_agree(&agreement(&dir, false), 25);
}

/// The ECG stream stops after the rest while heart rate goes on: the task's RR windows, scored
/// against the baseline the rest's ECG windows calibrated, decide as the ECG path does.
#[test]
fn eegmat_task_after_the_ecg_stopped_scores_from_rr_as_from_ecg() {
    let Some(dir) = dataset("eegmat") else {
        return;
    };
    // 60 s of task: 7 windows each
    assert_paths_agree(&agreement(&dir, true), 7);
}

/// Windows that close together (a fast replay hands the pipeline many at once) are scored as when
/// they close one by one: those after a calibration completes use the new baseline. Subjects
/// 16, 23 and 25 have windows whose decision depends on it.
#[test]
fn windows_closed_in_one_batch_score_as_when_polled() {
    let Some(dir) = dataset("eegmat") else {
        return;
    };
    for s in ["Subject16", "Subject23", "Subject25"] {
        let rest = dir.join(format!("{s}_1.edf"));
        let task = dir.join(format!("{s}_2.edf"));
        let p = |v: Vec<Scored>| v.iter().map(|w| (w.end_s, w.p)).collect::<Vec<_>>();
        let (polled, batched) = (
            p(monitor_path(&rest, &task, true, false)),
            p(monitor_path(&rest, &task, false, false)),
        );
        assert!(polled.len() > 30, "{s}: {} windows", polled.len());
        assert_eq!(polled, batched, "{s}");
    }
}
