//! Scripted scenarios for the stress engine: step response and its lag, no flicker on noise,
//! the quality gate, the fallback's confidence, calibration and the bounded rolling baseline,
//! persistence. Numbers printed with `--nocapture` are the ones in docs/adr/0005-stress-engine.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may unwrap and panic

mod engine_common;

use engine_common::{Noise, STEP_MS, WINDOW_MS, drive, window};
use stressbeat_core::engine::{
    BaselineConfig, BaselineOrigin, BaselineRejection, BaselineUsed, CalibrationError,
    CalibrationEvent, EngineConfig, EngineState, Hysteresis, NoScoreReason, PersonalBaseline,
    RejectedWindows, ScoreSource, StressEngine, StressState, StressUpdate, WindowObservation,
};

const MIN: i64 = 60_000;

fn engine() -> StressEngine {
    StressEngine::new(EngineConfig::default()).unwrap()
}

/// A window's probability when the underlying state steps from `calm` to `stress` at `step_ms`:
/// proportional to the part of the 30 s window after the step.
fn stepped(end_ms: i64, step_ms: i64, calm: f32, stress: f32) -> f32 {
    let frac = ((end_ms - step_ms) as f32 / WINDOW_MS as f32).clamp(0.0, 1.0);
    calm + (stress - calm) * frac
}

fn first_time(updates: &[StressUpdate], pred: impl Fn(&StressUpdate) -> bool) -> Option<i64> {
    updates.iter().find(|u| pred(u)).map(|u| u.at_ms)
}

fn state_changes(updates: &[StressUpdate]) -> usize {
    updates
        .windows(2)
        .filter(|w| w[0].state != w[1].state)
        .count()
}

#[test]
fn calm_step_stress_calm_transitions_and_lag() {
    let mut e = engine();
    let up = 10 * MIN;
    let down = 20 * MIN;
    let p = |t: i64| {
        if t <= down {
            stepped(t, up, 0.1, 0.9)
        } else {
            stepped(t, down, 0.9, 0.1)
        }
    };
    let updates = drive(&mut e, 0, 30 * MIN, |t| window(t, p(t)));

    // Calm before the step, High during the episode, Calm at the end.
    assert!(
        updates
            .iter()
            .filter(|u| u.at_ms <= up)
            .all(|u| u.state == Some(StressState::Calm))
    );
    let states: Vec<_> = updates
        .windows(2)
        .filter(|w| w[0].state != w[1].state)
        .map(|w| (w[1].at_ms, w[1].state.unwrap()))
        .collect();
    let path: Vec<_> = states.iter().map(|s| s.1).collect();
    assert_eq!(
        path,
        [
            StressState::Elevated,
            StressState::High,
            StressState::Elevated,
            StressState::Calm
        ],
        "{states:?}"
    );
    let score_70 = first_time(&updates, |u| u.at_ms > up && u.score >= Some(70)).unwrap() - up;
    let to_high = states[1].0 - up;
    let score_40 = first_time(&updates, |u| u.at_ms > down && u.score < Some(40)).unwrap() - down;
    let to_calm = states[3].0 - down;
    println!(
        "step 0.1→0.9: score ≥ 70 after {} s, High after {} s; step back: score < 40 after {} s, \
         Calm after {} s",
        score_70 / 1000,
        to_high / 1000,
        score_40 / 1000,
        to_calm / 1000
    );
    // The 30 s window itself accounts for up to 30 s; smoothing (τ 30 s) and the 30 s dwell for
    // the rest. "Does not lag by minutes": both directions well under 2 min.
    assert!(score_70 <= 60_000, "{score_70}");
    assert!(to_high <= 90_000, "{to_high}");
    assert!(to_calm <= 90_000, "{to_calm}");
    // Learned from the calm windows, the person's calm level (0.1) now maps to the calm target.
    let last = updates.last().unwrap();
    assert_eq!(last.baseline, BaselineUsed::Learned);
    assert_eq!(last.score, Some(20), "{last:?}");
}

#[test]
fn noisy_input_near_a_threshold_does_not_flicker() {
    // Probabilities scattered ±0.2 around the elevated threshold for one hour.
    // No rolling baseline here: it would learn the noise as this person's calm level.
    let fixed = |config: EngineConfig| EngineConfig {
        baseline: BaselineConfig {
            rolling_enabled: false,
            ..BaselineConfig::default()
        },
        ..config
    };
    let run = |config: EngineConfig| {
        let mut e = StressEngine::new(fixed(config)).unwrap();
        let mut noise = Noise::new(7);
        let updates = drive(&mut e, 0, 60 * MIN, |t| {
            window(t, 0.5 + 0.4 * (noise.next() - 0.5))
        });
        state_changes(&updates)
    };
    let with = run(EngineConfig::default());
    let without = run(EngineConfig {
        smoothing_tau_ms: 0,
        hysteresis: Hysteresis {
            elevated_exit: 50.0,
            high_exit: 70.0,
            min_dwell_ms: 0,
            ..Hysteresis::default()
        },
        ..EngineConfig::default()
    });
    println!("noisy hour: {with} state changes (raw thresholds alone: {without})");
    assert!(
        without > 100,
        "the input must be noisy enough to matter: {without}"
    );
    assert!(with <= 12, "{with} state changes in an hour");
}

#[test]
fn poor_signal_gives_no_score_and_says_why() {
    let mut e = engine();
    let mut w = window(30_000, 0.9);
    w.usable_fraction = 0.3;
    let u = e.update(&w);
    assert_eq!(u.score, None);
    assert_eq!(u.confidence, 0.0);
    assert_eq!(
        u.reason,
        Some(NoScoreReason::PoorSignal {
            usable_fraction: 0.3,
            required: 0.75
        })
    );
    assert!(
        u.message().contains("30 % usable, 75 % needed"),
        "{}",
        u.message()
    );
    assert!(!u.has_usable_signal());

    let mut w = window(35_000, 0.9);
    w.beat_counts.n = 4;
    let u = e.update(&w);
    assert!(matches!(
        u.reason,
        Some(NoScoreReason::TooFewBeats { beats: 4, .. })
    ));

    let mut w = window(40_000, 0.9);
    w.usable_fraction = f32::NAN;
    assert!(matches!(
        e.update(&w).reason,
        Some(NoScoreReason::PoorSignal { .. })
    ));

    let mut w = window(45_000, 0.9);
    w.hr_bpm = Some(400.0);
    assert!(matches!(
        e.update(&w).reason,
        Some(NoScoreReason::ImplausibleHeartRate { .. })
    ));

    let mut w = window(50_000, 0.9);
    w.model_probability = Some(f32::NAN);
    w.fallback_probability = None;
    let u = e.update(&w);
    assert_eq!(u.reason, Some(NoScoreReason::NoEstimate));
    assert!(u.has_usable_signal(), "no estimate is not a signal problem");

    // The same window with good signal is scored.
    let u = e.update(&window(55_000, 0.9));
    assert_eq!(u.reason, None);
    assert_eq!(u.score, Some(90));
}

#[test]
fn fallback_source_lowers_confidence_and_disagreement_too() {
    let with = |model: Option<f32>, fallback: Option<f32>| {
        let mut w = window(30_000, 0.0);
        w.model_probability = model;
        w.fallback_probability = fallback;
        engine().update(&w)
    };
    let agree = with(Some(0.6), Some(0.6));
    let model_only = with(Some(0.6), None);
    let fallback_only = with(None, Some(0.6));
    let disagree = with(Some(0.6), Some(0.1));
    assert_eq!(agree.source, Some(ScoreSource::Model));
    assert_eq!(fallback_only.source, Some(ScoreSource::HrvFallback));
    assert_eq!(fallback_only.score, agree.score);
    assert!(fallback_only.confidence < model_only.confidence);
    assert!(disagree.confidence < agree.confidence);
    assert_eq!(agree.confidence, model_only.confidence);
    // An unusable model output falls back too.
    let broken = with(Some(f32::INFINITY), Some(0.6));
    assert_eq!(broken.source, Some(ScoreSource::HrvFallback));

    // Worse signal (above the gate) lowers confidence.
    let mut w = window(30_000, 0.6);
    w.usable_fraction = 0.7;
    assert!(engine().update(&w).confidence < agree.confidence);
}

#[test]
fn calibration_makes_scores_relative_to_the_person() {
    // This person's calm windows read 0.45: without a baseline that is an elevated score.
    let calm = 0.45;
    let mut plain = StressEngine::new(EngineConfig {
        baseline: BaselineConfig {
            rolling_enabled: false,
            ..BaselineConfig::default()
        },
        ..EngineConfig::default()
    })
    .unwrap();
    let plain_updates = drive(&mut plain, 0, 5 * MIN, |t| window(t, calm));
    assert_eq!(plain_updates.last().unwrap().score, Some(45));

    let mut e = engine();
    e.start_calibration(0, 5 * MIN);
    let cal = drive(&mut e, 0, 5 * MIN, |t| {
        let mut w = window(t, calm);
        w.features = vec![(t / STEP_MS % 2) as f32 * 2.0, 1.0];
        w
    });
    assert!(
        cal.iter()
            .all(|u| u.score.is_none()
                && matches!(u.reason, Some(NoScoreReason::Calibrating { .. })))
    );
    assert_eq!(
        cal.last().unwrap().calibration,
        Some(CalibrationEvent::Completed { windows: 60 })
    );
    let b = e.baseline().unwrap();
    assert_eq!(b.origin, BaselineOrigin::Calibrated);
    assert!((b.hr_bpm.mean - 70.0).abs() < 1e-9 && b.is_mature());
    let f = e.baseline_features().unwrap();
    assert!(
        f.len() == 2 && (f[0] - 1.0).abs() < 1e-5 && (f[1] - 1.0).abs() < 1e-6,
        "{f:?}"
    );

    let after = drive(&mut e, 5 * MIN, 10 * MIN, |t| window(t, calm));
    let u = after.last().unwrap();
    assert_eq!(u.baseline, BaselineUsed::Calibrated);
    assert_eq!(u.score, Some(20), "calm level maps to the calm target");
    assert_eq!(u.state, Some(StressState::Calm));
    // Real stress is still high.
    let stress = drive(&mut e, 10 * MIN, 15 * MIN, |t| window(t, 0.95));
    assert_eq!(stress.last().unwrap().state, Some(StressState::High));
}

/// A calibration whose recording ends early (the CLI's `--baseline` file) is finished on the
/// windows it took; too few of them fail it as a full-length one would.
#[test]
fn a_calibration_finished_early_uses_the_windows_it_took() {
    let mut e = engine();
    assert_eq!(e.finish_calibration_now(), None, "no calibration runs");
    e.start_calibration(0, 10 * MIN);
    drive(&mut e, 0, 3 * MIN, |t| window(t, 0.3));
    assert!(e.is_calibrating());
    assert_eq!(
        e.finish_calibration_now(),
        Some(CalibrationEvent::Completed { windows: 36 })
    );
    assert!(!e.is_calibrating());
    assert_eq!(e.baseline().unwrap().origin, BaselineOrigin::Calibrated);

    let mut short = engine();
    short.start_calibration(0, 10 * MIN);
    drive(&mut short, 0, 30_000, |t| window(t, 0.3));
    assert!(matches!(
        short.finish_calibration_now(),
        Some(CalibrationEvent::Failed(CalibrationError::TooFewWindows {
            accepted: 6,
            needed: 12,
            ..
        }))
    ));
    assert!(short.baseline().is_none() && !short.is_calibrating());
}

/// A strap that sends only RR intervals has no R/T amplitudes: its windows' feature vectors carry
/// NaN there. The baseline learns every feature from the windows that have it, keeps NaN (stored as
/// `null`) for one no window had, and fills it in when an ECG session brings it.
#[test]
fn a_baseline_from_rr_only_windows_keeps_its_features_and_learns_the_missing_ones_later() {
    let mut e = engine();
    e.start_calibration(0, 2 * MIN);
    drive(&mut e, 0, 2 * MIN, |t| {
        let mut w = window(t, 0.3);
        w.features = vec![70.0, 857.0, 50.0 + (t / STEP_MS % 2) as f32 * 2.0, f32::NAN];
        w
    });
    let b = e
        .baseline()
        .expect("calibrated from RR-only windows")
        .clone();
    let f = b.features.clone();
    assert!(
        (f[0] - 70.0).abs() < 1e-4 && (f[1] - 857.0).abs() < 1e-3 && (f[2] - 51.0).abs() < 1e-4,
        "{f:?}"
    );
    assert!(f[3].is_nan(), "no window had the amplitude: {f:?}");

    let json = serde_json::to_string(&b).unwrap();
    assert!(json.contains("null"), "{json}");
    let back: PersonalBaseline = serde_json::from_str(&json).unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back.features), bits(&f));
    assert_eq!(back.feature_counts, b.feature_counts);
    // a baseline stored before per-feature counts existed still loads and learns
    let counts = serde_json::to_string(&b.feature_counts).unwrap();
    let old = json.replace(&format!(",\"feature_counts\":{counts}"), "");
    assert_ne!(old, json);
    let old: PersonalBaseline = serde_json::from_str(&old).unwrap();
    assert!(old.feature_counts.is_empty());

    // An ECG session (all features) after the mature, anchored calibration: the amplitude, which
    // the anchor lacks, warms up with equal weights over its first 60 windows (not frozen at its
    // first value), then joins the anchor; the anchored features move with the time constant.
    assert!(b.is_mature());
    e.set_baseline(Some(old));
    drive(&mut e, 2 * MIN, 12 * MIN, |t| {
        let mut w = window(t, 0.05);
        w.features = vec![70.0, 857.0, 51.0, 0.3 + 0.2 * (t / STEP_MS % 2) as f32];
        w
    });
    let b = e.baseline().unwrap();
    let f = &b.features;
    assert!((f[3] - 0.4).abs() < 0.01, "{f:?}");
    assert!((f[0] - 70.0).abs() < 1e-3, "{f:?}");
    let anchor = b.anchor.as_ref().unwrap();
    assert!((anchor.features[3] - 0.4).abs() < 0.01, "{anchor:?}");
    assert!((anchor.features[2] - 51.0).abs() < 1e-3, "{anchor:?}");
}

#[test]
fn calibration_from_a_bad_signal_fails_and_keeps_the_old_baseline() {
    let mut e = engine();
    e.start_calibration(0, 2 * MIN);
    let updates = drive(&mut e, 0, 2 * MIN, |t| {
        let mut w = window(t, 0.2);
        w.usable_fraction = 0.4;
        w
    });
    // The bad signal is the reason shown while calibrating, not "calibrating".
    assert!(updates[..updates.len() - 1].iter().all(|u| matches!(
        u.reason,
        Some(NoScoreReason::PoorSignal { .. })
    ) && matches!(
        u.calibration,
        Some(CalibrationEvent::Progress {
            accepted_windows: 0,
            ..
        })
    )));
    assert_eq!(
        updates.last().unwrap().calibration,
        Some(CalibrationEvent::Failed(CalibrationError::TooFewWindows {
            accepted: 0,
            needed: 12,
            rejected: RejectedWindows {
                poor_signal: 24,
                ectopy: 0
            }
        }))
    );
    assert!(e.baseline().is_none());
    // Scoring resumes after the calibration window.
    assert!(e.update(&window(3 * MIN, 0.2)).score.is_some());
}

/// A window the scoring gate refuses for its signal (an implausible heart rate: a detection
/// failure; too few beats) is not learned by a calibration either: it counts as poor signal and
/// its heart rate does not become the calm level.
#[test]
fn calibration_leaves_out_the_windows_the_quality_gate_refuses() {
    let mut e = engine();
    e.start_calibration(0, 2 * MIN);
    let updates = drive(&mut e, 0, 2 * MIN, |t| {
        let mut w = window(t, 0.3);
        match t / STEP_MS % 3 {
            0 => w.hr_bpm = Some(250.0),
            1 => w.beat_counts.n = 10,
            _ => {}
        }
        w
    });
    assert!(matches!(
        updates[2].reason,
        Some(NoScoreReason::ImplausibleHeartRate { bpm }) if bpm == 250.0
    ));
    assert!(matches!(
        updates[0].reason,
        Some(NoScoreReason::TooFewBeats { beats: 10, .. })
    ));
    assert_eq!(
        updates.last().unwrap().calibration,
        Some(CalibrationEvent::Failed(CalibrationError::TooFewWindows {
            accepted: 8,
            needed: 12,
            rejected: RejectedWindows {
                poor_signal: 16,
                ectopy: 0
            }
        }))
    );

    // enough clean windows among them: the calm level is theirs alone
    let mut e = engine();
    e.start_calibration(0, 2 * MIN);
    drive(&mut e, 0, 2 * MIN, |t| {
        let mut w = window(t, 0.3);
        if t / STEP_MS % 4 == 0 {
            w.hr_bpm = Some(250.0);
        }
        w
    });
    let b = e.baseline().expect("calibrated");
    assert_eq!((b.windows, b.hr_bpm.mean), (18, 70.0));
}

/// A clean window whose beats are `ectopic` of 40 non-N (ventricular).
fn with_ectopy(t: i64, p: f32, ectopic: u32) -> WindowObservation {
    let mut w = window(t, p);
    w.beat_counts.n = 40 - ectopic;
    w.beat_counts.v = ectopic;
    w
}

#[test]
fn frequent_ectopic_beats_give_no_score_and_no_baseline_and_say_why() {
    let mut e = engine();
    // 8 of 40 beats (20 %) is at the gate: scored, at a lower confidence than without ectopy.
    let clean = e.update(&window(STEP_MS, 0.5));
    let at_gate = e.update(&with_ectopy(2 * STEP_MS, 0.5, 8));
    assert!(at_gate.score.is_some(), "{:?}", at_gate.reason);
    assert!(at_gate.confidence < clean.confidence);
    // 12 of 40 (30 %): no score, a reason that is not a signal problem (no lost-signal alert).
    let over = e.update(&with_ectopy(3 * STEP_MS, 0.5, 12));
    assert_eq!(over.score, None);
    let Some(reason) = over.reason else {
        panic!("no reason")
    };
    assert_eq!(
        reason,
        NoScoreReason::IrregularRhythm {
            ectopic_fraction: 0.3,
            allowed: 0.2
        }
    );
    assert!(over.has_usable_signal());
    assert!(reason.message().contains("30 %"), "{}", reason.message());
    // An RR-only window has no beat classes (its non-N count is corrected intervals): not gated.
    let mut rr_only = with_ectopy(4 * STEP_MS, 0.5, 12);
    rr_only.rr_only = true;
    assert!(e.update(&rr_only).score.is_some());

    // The rolling baseline neither learns from such windows nor starts from them.
    let mut e = engine();
    drive(&mut e, 0, 10 * MIN, |t| with_ectopy(t, 0.3, 6));
    assert!(e.baseline().is_none(), "{:?}", e.baseline());

    // A calibration says that the rhythm kept the windows out, while it runs and at its end.
    let mut e = engine();
    e.start_calibration(0, 2 * MIN);
    let updates = drive(&mut e, 0, 2 * MIN, |t| {
        if t % (4 * STEP_MS) == 0 {
            poor(t)
        } else {
            with_ectopy(t, 0.3, 6)
        }
    });
    let (last, running) = updates.split_last().unwrap();
    assert!(running.iter().all(|u| match u.reason {
        Some(NoScoreReason::IrregularRhythm { allowed, .. }) => allowed == 0.1,
        Some(NoScoreReason::PoorSignal { .. }) => true,
        _ => false,
    }));
    assert_eq!(
        running.last().unwrap().calibration,
        Some(CalibrationEvent::Progress {
            accepted_windows: 0,
            rejected: RejectedWindows {
                poor_signal: 5,
                ectopy: 18
            },
            remaining_ms: STEP_MS,
            duration_ms: 2 * MIN,
        })
    );
    let Some(CalibrationEvent::Failed(failure)) = last.calibration else {
        panic!("{:?}", last.calibration)
    };
    assert_eq!(
        failure.to_string(),
        "calibration needs 12 clean windows, got 0 (6 with a poor signal, 18 with an \
         irregular rhythm)"
    );
    assert!(e.baseline().is_none());
}

/// Irregular RR intervals (atrial fibrillation: its beats are N, so the ectopy gate passes it),
/// from the ECG or from a heart-rate-only strap: no score, a reason that is not a signal
/// problem, no baseline from them, and a calibration that counts them.
#[test]
fn irregular_intervals_give_no_score_and_no_baseline_and_say_why() {
    let irregular = |t: i64, rr_only: bool| WindowObservation {
        rr_irregularity: Some(0.25),
        rr_only,
        ..window(t, 0.5)
    };
    let mut e = engine();
    let at_limit = e.update(&WindowObservation {
        rr_irregularity: Some(0.12),
        ..window(STEP_MS, 0.5)
    });
    assert!(at_limit.score.is_some(), "{:?}", at_limit.reason);
    for (k, rr_only) in [(2, false), (3, true)] {
        let u = e.update(&irregular(k * STEP_MS, rr_only));
        assert_eq!(u.score, None);
        assert_eq!(
            u.reason,
            Some(NoScoreReason::IrregularIntervals {
                irregularity: 0.25,
                allowed: 0.12
            })
        );
        assert!(u.has_usable_signal());
        let message = u.reason.unwrap().message();
        assert!(message.contains("25 %"), "{message}");
    }

    // The baseline rule (calibration, rolling, `stress --baseline`) leaves them out.
    let config = BaselineConfig::default();
    let counts = window(0, 0.5).beat_counts;
    assert_eq!(
        config.admits(1.0, &counts, Some(0.25)),
        Err(BaselineRejection::IrregularRhythm)
    );
    assert_eq!(config.admits(1.0, &counts, Some(0.12)), Ok(()));
    assert_eq!(config.admits(1.0, &counts, None), Ok(()));

    let mut e = engine();
    e.start_calibration(0, 2 * MIN);
    let updates = drive(&mut e, 0, 2 * MIN, |t| irregular(t, true));
    let (last, running) = updates.split_last().unwrap();
    assert!(
        running
            .iter()
            .all(|u| matches!(u.reason, Some(NoScoreReason::IrregularIntervals { .. })))
    );
    let Some(CalibrationEvent::Failed(CalibrationError::TooFewWindows { rejected, .. })) =
        last.calibration
    else {
        panic!("{:?}", last.calibration)
    };
    assert_eq!(rejected.poor_signal, 0);
    assert!(rejected.ectopy >= 18, "{rejected:?}");
}

fn poor(t: i64) -> WindowObservation {
    WindowObservation {
        usable_fraction: 0.1,
        ..window(t, 0.3)
    }
}

#[test]
fn rolling_baseline_moves_slowly_and_a_stressful_week_stays_bounded() {
    let config = BaselineConfig::default();
    let calibrated_for = |minutes: i64, hr: f32| {
        let mut cal =
            stressbeat_core::engine::Calibration::new(0, minutes * MIN, BaselineConfig::default());
        let mut t = 0;
        while t < minutes * MIN {
            t += STEP_MS;
            let mut w = window(t, 0.2);
            w.hr_bpm = Some(hr);
            cal.add(&w).unwrap();
        }
        cal.finish().unwrap()
    };
    let calibrated = |hr: f32| calibrated_for(5, hr);
    let feed = |b: &mut PersonalBaseline, days: i64, hr: f32, p: f32| {
        let start = b.updated_ms;
        let mut t = start;
        while t < start + days * 24 * 60 * MIN {
            t += STEP_MS;
            let mut w = window(t, p);
            w.hr_bpm = Some(hr);
            b.update_rolling(&w, &config).unwrap();
        }
    };
    // One day at +4 bpm: the mean moves 1 − e^(−1/3) ≈ 28 % of the way (τ = 3 days).
    let mut b = calibrated(60.0);
    feed(&mut b, 1, 64.0, 0.2);
    println!("HR baseline 60 → {:.2} after 1 day at 64", b.hr_bpm.mean);
    assert!(
        (b.hr_bpm.mean - (60.0 + 4.0 * 0.2835)).abs() < 0.1,
        "{}",
        b.hr_bpm.mean
    );

    // A short calibration (1 min, 12 windows) is mature: the calm minutes after it move it with
    // the time constant too, not with the equal weights of a learned baseline's warm-up (which
    // would take it to 63.2 after 10 minutes).
    let mut b = calibrated_for(1, 60.0);
    let start = b.updated_ms;
    let mut t = start;
    while t < start + 10 * MIN {
        t += STEP_MS;
        let mut w = window(t, 0.2);
        w.hr_bpm = Some(64.0);
        b.update_rolling(&w, &config).unwrap();
    }
    assert!(b.hr_bpm.mean < 60.05, "{}", b.hr_bpm.mean);

    // A baseline saved under another clock (its last update "in the future") still learns.
    let mut b = calibrated(60.0);
    b.updated_ms = i64::MAX / 2;
    let mut w = window(10 * MIN, 0.2);
    w.hr_bpm = Some(64.0);
    b.update_rolling(&w, &config).unwrap();
    assert!(b.hr_bpm.mean > 60.0 && b.updated_ms == 10 * MIN);

    // A week at +30 bpm and p = 0.6: capped at the drift bounds.
    let mut b = calibrated(60.0);
    feed(&mut b, 7, 90.0, 0.6);
    let anchor = b.anchor.clone().unwrap();
    println!(
        "after a week at 90 bpm / p 0.6: HR {:.1}, model logit {:.2} (anchor {:.2})",
        b.hr_bpm.mean,
        b.model_logit.mean,
        anchor.model_logit.unwrap()
    );
    assert!((b.hr_bpm.mean - 70.0).abs() < 1e-6, "{}", b.hr_bpm.mean);
    assert!((b.model_logit.mean - (anchor.model_logit.unwrap() + 1.0)).abs() < 1e-6);
}

#[test]
fn engine_learns_a_baseline_from_calm_windows_only() {
    let mut e = engine();
    drive(&mut e, 0, 10 * MIN, |t| window(t, 0.3));
    let b = e.baseline().unwrap();
    assert_eq!(b.origin, BaselineOrigin::Learned);
    assert!(b.is_mature(), "{} windows", b.windows);
    let n = b.windows;
    // High stress adds nothing.
    drive(&mut e, 10 * MIN, 20 * MIN, |t| window(t, 0.95));
    let b = e.baseline().unwrap();
    assert!(b.windows <= n + 3, "{} → {}", n, b.windows);

    let disabled = EngineConfig {
        baseline: BaselineConfig {
            rolling_enabled: false,
            ..BaselineConfig::default()
        },
        ..EngineConfig::default()
    };
    let mut e = StressEngine::new(disabled).unwrap();
    drive(&mut e, 0, 10 * MIN, |t| window(t, 0.3));
    assert!(e.baseline().is_none());
}

#[test]
fn state_round_trips_through_json_and_continues_identically() {
    let mut a = engine();
    let mut noise = Noise::new(3);
    let mut make = move |t: i64| window(t, noise.next());
    drive(&mut a, 0, 15 * MIN, &mut make);
    let json = serde_json::to_string(a.state()).unwrap();
    let state: EngineState = serde_json::from_str(&json).unwrap();
    let mut b = StressEngine::restore(EngineConfig::default(), state).unwrap();
    let ua = drive(&mut a, 15 * MIN, 25 * MIN, make.clone());
    let ub = drive(&mut b, 15 * MIN, 25 * MIN, make);
    assert_eq!(ua, ub);
    let baseline: PersonalBaseline =
        serde_json::from_str(&serde_json::to_string(a.baseline().unwrap()).unwrap()).unwrap();
    assert_eq!(&baseline, a.baseline().unwrap());
}

#[test]
fn out_of_order_and_long_gaps() {
    let mut e = engine();
    drive(&mut e, 0, 5 * MIN, |t| window(t, 0.9));
    let u = e.update(&window(4 * MIN, 0.1));
    assert_eq!(u.reason, Some(NoScoreReason::OutOfOrder));
    assert_eq!(u.state, Some(StressState::High), "state unchanged");
    let mut backwards = window(6 * MIN, 0.1);
    backwards.start_ms = 7 * MIN;
    assert_eq!(e.update(&backwards).reason, Some(NoScoreReason::OutOfOrder));

    // Short poor-signal stretch: the state is held.
    let poor = |t| WindowObservation {
        usable_fraction: 0.0,
        ..window(t, 0.9)
    };
    let held = drive(&mut e, 5 * MIN, 6 * MIN, poor);
    assert!(held.iter().all(|u| u.state == Some(StressState::High)));
    // Over `reset_after_ms` without a score: the state is forgotten, then restarts from the data.
    let gone = drive(&mut e, 6 * MIN, 9 * MIN, poor);
    assert_eq!(gone.last().unwrap().state, None);
    let u = e.update(&window(10 * MIN, 0.1));
    assert_eq!((u.state, u.score), (Some(StressState::Calm), Some(10)));
}

#[test]
fn invalid_configs_are_typed_errors() {
    let bad = [
        EngineConfig {
            min_usable_fraction: 1.5,
            ..EngineConfig::default()
        },
        EngineConfig {
            calm_target: 0.0,
            ..EngineConfig::default()
        },
        EngineConfig {
            hr_range_bpm: (200.0, 40.0),
            ..EngineConfig::default()
        },
        EngineConfig {
            hysteresis: Hysteresis {
                high_enter: 30.0,
                ..Hysteresis::default()
            },
            ..EngineConfig::default()
        },
    ];
    for c in bad {
        assert!(matches!(
            StressEngine::new(c),
            Err(stressbeat_core::Error::InvalidArgument(_))
        ));
    }
}

/// A calibration asked for without a time runs on the clock of the session that anchors it:
/// one asked for an hour before the session (the user took long to put the strap on), or for
/// a session stamped in the past (a replay), lasts its full duration from the anchor.
#[test]
fn a_requested_calibration_is_timed_from_its_anchor_on_the_sessions_clock() {
    for anchor in [60 * MIN, -24 * 60 * MIN] {
        let mut e = engine();
        e.request_calibration(2 * MIN);
        assert!(e.is_calibrating());
        e.anchor_calibration(anchor);
        // a second anchor (the next step) does not restart it
        e.anchor_calibration(anchor + MIN);
        let updates = drive(&mut e, anchor, anchor + 2 * MIN, |t| window(t, 0.3));
        let done = updates
            .iter()
            .position(|u| matches!(u.calibration, Some(CalibrationEvent::Completed { .. })));
        assert_eq!(
            done,
            Some(updates.len() - 1),
            "completed at 2 min, not before"
        );
        assert!(!e.is_calibrating());
        assert_eq!(e.baseline().unwrap().origin, BaselineOrigin::Calibrated);
    }
    // a request no session anchored starts with the next window; a cancel drops it
    let mut e = engine();
    e.request_calibration(2 * MIN);
    let first = e.update(&window(5 * MIN, 0.3));
    assert!(matches!(
        first.calibration,
        Some(CalibrationEvent::Progress { remaining_ms, .. }) if remaining_ms == 2 * MIN
    ));
    e.cancel_calibration();
    e.request_calibration(2 * MIN);
    e.cancel_calibration();
    assert!(!e.is_calibrating());
    assert!(e.update(&window(6 * MIN, 0.3)).score.is_some());
}

/// A calibration does not outlive its session: the session's end finishes it on the windows it
/// took (a request made during the session and not started yet fails with it); the next
/// session, whatever its clock (a day later, or a replay stamped in the past), is scored.
/// A request made between sessions starts with the next one.
#[test]
fn a_calibration_ends_with_its_session() {
    const DAY: i64 = 24 * 60 * MIN;
    let next_session = |e: &mut StressEngine, at: i64| {
        e.reset_stream();
        e.anchor_calibration(at);
        let u = e.update(&window(at + WINDOW_MS, 0.3));
        (u.calibration, u.score.is_some())
    };
    // stopped after 90 s of a 5-minute calibration: 13 windows are enough
    let mut e = engine();
    e.request_calibration(5 * MIN);
    e.reset_stream();
    e.anchor_calibration(0);
    drive(&mut e, 25_000, 90_000, |t| window(t, 0.3));
    assert_eq!(
        e.end_stream(90_000),
        Some(CalibrationEvent::Completed { windows: 13 })
    );
    assert_eq!(e.baseline().unwrap().origin, BaselineOrigin::Calibrated);
    assert_eq!(e.end_stream(90_000), None, "nothing runs any more");
    assert_eq!(next_session(&mut e.clone(), DAY), (None, true));
    assert_eq!(next_session(&mut e, -DAY), (None, true));

    // stopped after 45 s: too few windows; the baseline stays as it was
    let mut e = engine();
    e.start_calibration(0, 5 * MIN);
    drive(&mut e, 25_000, 45_000, |t| window(t, 0.3));
    assert!(matches!(
        e.end_stream(45_000),
        Some(CalibrationEvent::Failed(CalibrationError::TooFewWindows {
            accepted: 4,
            ..
        }))
    ));
    assert!(e.baseline().is_none());
    assert_eq!(next_session(&mut e, DAY), (None, true));

    // asked for in the session's last seconds, after its last window
    let mut e = engine();
    e.request_calibration(2 * MIN);
    assert!(matches!(
        e.end_stream(MIN),
        Some(CalibrationEvent::Failed(CalibrationError::TooFewWindows {
            accepted: 0,
            ..
        }))
    ));
    assert!(!e.is_calibrating());

    // asked for between sessions: runs in the next one, from its start
    e.request_calibration(2 * MIN);
    assert!(matches!(
        next_session(&mut e, DAY),
        (Some(CalibrationEvent::Progress { remaining_ms, .. }), false)
            if remaining_ms == 2 * MIN - WINDOW_MS
    ));
}
