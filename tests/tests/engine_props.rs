//! Property tests: arbitrary observation sequences (NaN, out-of-range and out-of-order values,
//! gaps, calibrations, strap events) never panic, scores stay 0-100, confidence 0-1, state changes
//! respect the minimum dwell, and a saved state resumes identically.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may unwrap and panic

use proptest::prelude::*;
use stressbeat_core::engine::{
    AlertEngine, AlertPolicy, BeatCounts, EngineConfig, EngineState, LinkStatus, QuietHours,
    StressEngine, StressUpdate, WindowObservation,
};

/// Any f32, biased towards the interesting range.
fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => 0.0f32..1.0,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(-1.0f32),
        1 => any::<f32>(),
    ]
}

fn opt_f32() -> impl Strategy<Value = Option<f32>> {
    prop_oneof![1 => Just(None), 4 => any_f32().prop_map(Some)]
}

#[derive(Debug, Clone)]
enum Step {
    Window(WindowObservation),
    Calibrate(i64),
    Link(u8),
    Battery(u8),
}

fn observation() -> impl Strategy<Value = (i64, WindowObservation)> {
    let rates = prop_oneof![4 => 40.0f32..160.0, 1 => any_f32()];
    (
        prop_oneof![6 => Just(5_000i64), 2 => 0i64..400_000, 1 => -60_000i64..0],
        any_f32(),
        prop::option::of(rates),
        opt_f32(),
        opt_f32(),
        opt_f32(),
        (0u32..60, 0u32..5, 0u32..5, any::<u32>()),
        prop::collection::vec(any_f32(), 0..4),
        opt_f32(),
    )
        .prop_map(
            |(dt, usable, hr, rmssd, model, fallback, (n, s, v, q), features, irregularity)| {
                let w = WindowObservation {
                    start_ms: 0,
                    end_ms: 0,
                    usable_fraction: usable,
                    hr_bpm: hr,
                    rmssd_ms: rmssd,
                    sdnn_ms: rmssd,
                    model_probability: model,
                    fallback_probability: fallback,
                    beat_counts: BeatCounts {
                        n,
                        s,
                        v,
                        f: 0,
                        q: q % 3 + if q % 97 == 0 { q } else { 0 },
                    },
                    features,
                    rr_only: q % 2 == 0,
                    rr_irregularity: irregularity,
                };
                (dt, w)
            },
        )
}

fn steps() -> impl Strategy<Value = Vec<(i64, Step)>> {
    let step = prop_oneof![
        20 => observation().prop_map(|(dt, w)| (dt, Step::Window(w))),
        1 => (0i64..600_000).prop_map(|d| (5_000, Step::Calibrate(d))),
        1 => (0u8..3).prop_map(|l| (5_000, Step::Link(l))),
        1 => any::<u8>().prop_map(|b| (5_000, Step::Battery(b))),
    ];
    prop::collection::vec(step, 1..400)
}

/// Run the steps; check the per-update invariants; return the updates.
fn run(
    engine: &mut StressEngine,
    alerts: &mut AlertEngine,
    steps: &[(i64, Step)],
    t0: i64,
) -> Vec<StressUpdate> {
    let dwell = engine.config().hysteresis.min_dwell_ms;
    let mut t = t0;
    let mut updates = Vec::new();
    let mut last_change: Option<i64> = None;
    let mut prev_state = None;
    for (dt, step) in steps {
        t += dt;
        let out = match step {
            Step::Window(w) => {
                let mut w = w.clone();
                w.end_ms = t;
                w.start_ms = t - 30_000;
                let u = engine.update(&w);
                if let Some(s) = u.score {
                    assert!(s <= 100);
                    assert!(u.reason.is_none() && u.source.is_some());
                } else {
                    assert!(u.reason.is_some(), "{u:?}");
                    assert_eq!(u.confidence, 0.0);
                }
                assert!(u.raw_score.is_none_or(|s| s <= 100));
                assert!((0.0..=1.0).contains(&u.confidence), "{u:?}");
                if u.state_changed {
                    // After a reset the first state is free; any later change respects the dwell.
                    // (A run resumed from a saved state does not know the earlier change time.)
                    if let (Some(_), Some(since)) = (prev_state, last_change) {
                        assert!(
                            u.at_ms - since >= dwell,
                            "change {} ms after the last",
                            u.at_ms - since
                        );
                    }
                    last_change = Some(u.at_ms);
                }
                prev_state = u.state;
                let _ = u.message();
                let out = alerts.on_stress(&u);
                updates.push(u);
                out
            }
            Step::Calibrate(d) => {
                engine.start_calibration(t, *d);
                alerts.tick(t)
            }
            Step::Link(l) => {
                let status = [
                    LinkStatus::Streaming,
                    LinkStatus::Disconnected,
                    LinkStatus::Stopped,
                ][usize::from(*l)];
                alerts.on_link(t, status)
            }
            Step::Battery(b) => alerts.on_battery(t, *b),
        };
        for a in &out.alerts {
            assert!(!a.reason.is_empty() && a.from_ms <= a.to_ms && a.to_ms == a.at_ms);
        }
    }
    updates
}

fn engines() -> (StressEngine, AlertEngine) {
    let policy = AlertPolicy {
        sustained_high_ms: 60_000,
        quiet_hours: Some(QuietHours {
            start_minute: 1380,
            end_minute: 60,
        }),
        ..AlertPolicy::default()
    };
    (
        StressEngine::new(EngineConfig::default()).unwrap(),
        AlertEngine::new(policy).unwrap(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_sequences_keep_the_invariants(steps in steps(), t0 in -1_000_000_000i64..2_000_000_000_000) {
        let (mut e, mut a) = engines();
        run(&mut e, &mut a, &steps, t0);
        if let Some(b) = e.baseline() {
            prop_assert!(b.hr_bpm.mean.is_finite() && b.model_logit.mean.is_finite());
            // a feature is NaN only while no window had it finite
            prop_assert!(b.features.iter().enumerate().all(|(i, v)| {
                v.is_finite() || (v.is_nan() && b.feature_counts.get(i) == Some(&0))
            }), "{:?} {:?}", b.features, b.feature_counts);
        }
    }

    #[test]
    fn a_saved_state_resumes_identically(steps in steps(), split in 0usize..400) {
        let split = split.min(steps.len());
        let (mut e, mut a) = engines();
        run(&mut e, &mut a, &steps[..split], 0);
        let json = serde_json::to_string(e.state()).unwrap();
        let restored: EngineState = serde_json::from_str(&json).unwrap();
        let mut e2 = StressEngine::restore(e.config().clone(), restored).unwrap();
        let mut a2 = a.clone();
        let t = steps[..split].iter().map(|s| s.0).sum();
        let u1 = run(&mut e, &mut a, &steps[split..], t);
        let u2 = run(&mut e2, &mut a2, &steps[split..], t);
        prop_assert_eq!(u1, u2);
    }
}
