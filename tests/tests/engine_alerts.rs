//! Alert policy scenarios: sustained high stress fires once after T, cooldown, quiet hours across
//! midnight, rate limit, lost signal and its resolution, strap disconnected, battery low once per
//! session. Stress alerts are driven through the real stress engine.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may unwrap and panic

mod engine_common;

use engine_common::{STEP_MS, window};
use stressbeat_core::engine::alerts::NOT_MEDICAL;
use stressbeat_core::engine::{
    Alert, AlertEngine, AlertKind, AlertPolicy, EngineConfig, LinkStatus, QuietHours, Severity,
    StressEngine, StressState, SuppressedAlert, SuppressionCause, WindowObservation,
};

const MIN: i64 = 60_000;
/// 2026-11-21 00:00 UTC, Unix ms.
const DAY0: i64 = 1_795_219_200_000;

/// A stress engine and an alert engine fed together, collecting everything.
struct Rig {
    stress: StressEngine,
    alerts: AlertEngine,
    t: i64,
    shown: Vec<Alert>,
    suppressed: Vec<SuppressedAlert>,
    high_entered: Vec<i64>,
}

impl Rig {
    fn new(policy: AlertPolicy, start_ms: i64) -> Self {
        let mut alerts = AlertEngine::new(policy).unwrap();
        alerts.start_session(start_ms);
        let mut rig = Self {
            stress: StressEngine::new(EngineConfig::default()).unwrap(),
            alerts,
            t: start_ms,
            shown: Vec::new(),
            suppressed: Vec::new(),
            high_entered: Vec::new(),
        };
        let out = rig.alerts.on_link(start_ms, LinkStatus::Streaming);
        rig.collect(out);
        rig
    }

    /// A new session at `start_ms` (on the alert engine kept from the last one), streaming.
    fn next_session(&mut self, start_ms: i64) {
        self.alerts.start_session(start_ms);
        let out = self.alerts.on_link(start_ms, LinkStatus::Streaming);
        self.collect(out);
        self.stress = StressEngine::new(EngineConfig::default()).unwrap();
        self.t = start_ms;
    }

    fn collect(&mut self, out: stressbeat_core::engine::AlertOutput) {
        self.shown.extend(out.alerts);
        self.suppressed.extend(out.suppressed);
    }

    /// `minutes` of windows built by `make`, every 5 s.
    fn run(&mut self, minutes: i64, make: impl Fn(i64) -> WindowObservation) {
        let end = self.t + minutes * MIN;
        while self.t < end {
            self.t += STEP_MS;
            let u = self.stress.update(&make(self.t));
            if u.state_changed && u.state == Some(StressState::High) {
                self.high_entered.push(u.at_ms);
            }
            let out = self.alerts.on_stress(&u);
            self.collect(out);
        }
    }

    fn stress(&mut self, minutes: i64, p: f32) {
        self.run(minutes, |t| window(t, p));
    }

    fn kinds(&self) -> Vec<AlertKind> {
        self.shown.iter().map(|a| a.kind).collect()
    }
}

fn poor(t: i64) -> WindowObservation {
    WindowObservation {
        usable_fraction: 0.1,
        ..window(t, 0.5)
    }
}

#[test]
fn sustained_high_stress_fires_once_after_t() {
    let mut rig = Rig::new(AlertPolicy::default(), DAY0 + 12 * 60 * MIN);
    rig.stress(5, 0.1);
    rig.stress(15, 0.95);
    assert_eq!(rig.kinds(), [AlertKind::SustainedHighStress]);
    let a = &rig.shown[0];
    let entered = rig.high_entered[0];
    assert_eq!(a.from_ms, entered);
    assert_eq!(a.at_ms - entered, 5 * MIN, "fires exactly T after High");
    assert_eq!(a.severity, Severity::Warning);
    assert!(
        a.reason.contains("5 min") && a.reason.contains(NOT_MEDICAL),
        "{}",
        a.reason
    );
    assert!(rig.suppressed.is_empty());
}

#[test]
fn short_high_stretches_do_not_fire() {
    let mut rig = Rig::new(AlertPolicy::default(), DAY0 + 12 * 60 * MIN);
    for _ in 0..6 {
        rig.stress(3, 0.95);
        rig.stress(3, 0.1);
    }
    assert!(rig.high_entered.len() >= 5, "{:?}", rig.high_entered);
    assert!(rig.shown.is_empty() && rig.suppressed.is_empty());
}

#[test]
fn a_high_state_held_through_unscored_windows_does_not_fire() {
    let mut rig = Rig::new(AlertPolicy::default(), DAY0 + 12 * 60 * MIN);
    rig.stress(5, 0.1);
    rig.stress(2, 0.95);
    let entered = rig.high_entered[0];
    // Then one window in four scored: the rest have too many ectopic beats for a score, and the
    // engine holds its state across them.
    rig.run(10, |t| {
        let mut w = window(t, 0.95);
        if t % (4 * STEP_MS) != 0 {
            w.beat_counts.v = 15;
        }
        w
    });
    assert_eq!(rig.high_entered, [entered], "High was held throughout");
    assert!(rig.shown.is_empty(), "{:?}", rig.kinds());
    // Scored windows again: it fires once they make up half of the episode's windows (about 4
    // more minutes: 2 + 2.5 scored minutes against 2 + 10 in all).
    let sparse_end = rig.t;
    rig.stress(15, 0.95);
    assert_eq!(rig.kinds(), [AlertKind::SustainedHighStress]);
    let after = rig.shown[0].at_ms - sparse_end;
    assert!((3 * MIN..5 * MIN).contains(&after), "{after} ms");
    assert_eq!(rig.shown[0].from_ms, entered);
}

#[test]
fn cooldown_suppresses_a_new_episode_then_fires_when_it_ends() {
    let mut rig = Rig::new(AlertPolicy::default(), DAY0 + 12 * 60 * MIN);
    rig.stress(5, 0.1);
    rig.stress(7, 0.95);
    rig.stress(5, 0.1);
    rig.stress(28, 0.95);
    assert_eq!(
        rig.kinds(),
        [
            AlertKind::SustainedHighStress,
            AlertKind::SustainedHighStress
        ]
    );
    let first = rig.shown[0].at_ms;
    assert_eq!(
        rig.shown[1].at_ms,
        first + 30 * MIN,
        "fires when the cooldown ends"
    );
    assert_eq!(rig.suppressed.len(), 1);
    assert_eq!(rig.suppressed[0].cause, SuppressionCause::Cooldown);
    assert_eq!(rig.suppressed[0].at_ms, rig.high_entered[1] + 5 * MIN);
    assert_eq!(rig.alerts.suppression_counts().cooldown, 1);
}

#[test]
fn quiet_hours_across_midnight() {
    let quiet = QuietHours {
        start_minute: 22 * 60,
        end_minute: 7 * 60,
    };
    // UTC+1: local 23:00 is 22:00 UTC.
    let local = |h: i64, m: i64| DAY0 + (h - 1) * 60 * MIN + m * MIN;
    for (h, m, inside) in [
        (21, 59, false),
        (22, 0, true),
        (23, 59, true),
        (24, 0, true),
        (30, 59, true),
        (31, 0, false),
        (12, 0, false),
    ] {
        assert_eq!(quiet.contains(local(h, m), 60), inside, "{h}:{m:02}");
    }
    // UTC−5: 03:00 UTC is 22:00 local.
    assert!(quiet.contains(DAY0 + 3 * 60 * MIN, -300));
    assert!(!quiet.contains(DAY0 + 2 * 60 * MIN, -300));

    let policy = AlertPolicy {
        quiet_hours: Some(quiet),
        ..AlertPolicy::default()
    };
    for (h, m, shown) in [(23, 0, false), (24, 30, false), (31, 10, true)] {
        let mut rig = Rig::new(policy.clone(), local(h, m));
        rig.alerts.set_utc_offset_minutes(60).unwrap();
        rig.stress(2, 0.1);
        rig.stress(10, 0.95);
        if shown {
            assert_eq!(rig.kinds(), [AlertKind::SustainedHighStress]);
            assert!(rig.suppressed.is_empty());
        } else {
            assert!(rig.shown.is_empty(), "{h}:{m:02}: {:?}", rig.shown);
            assert_eq!(rig.suppressed.len(), 1, "counted once per episode");
            assert_eq!(rig.suppressed[0].cause, SuppressionCause::QuietHours);
            assert_eq!(rig.alerts.suppression_counts().quiet_hours, 1);
        }
    }
    assert!(rig_offset_is_checked());
}

fn rig_offset_is_checked() -> bool {
    let mut a = AlertEngine::new(AlertPolicy::default()).unwrap();
    a.set_utc_offset_minutes(19 * 60).is_err() && a.set_utc_offset_minutes(-600).is_ok()
}

#[test]
fn rate_limit_per_rolling_hour() {
    let policy = AlertPolicy {
        sustained_high_ms: MIN,
        stress_cooldown_ms: 0,
        max_per_hour: 2,
        ..AlertPolicy::default()
    };
    let mut rig = Rig::new(policy, DAY0 + 9 * 60 * MIN);
    for _ in 0..4 {
        rig.stress(3, 0.1);
        rig.stress(3, 0.95);
    }
    let n = rig.shown.len();
    assert_eq!(n, 2, "{:?}", rig.shown);
    assert!(!rig.suppressed.is_empty());
    assert!(
        rig.suppressed
            .iter()
            .all(|s| s.cause == SuppressionCause::RateLimit)
    );
    assert_eq!(
        rig.alerts.suppression_counts().rate_limit as usize,
        rig.suppressed.len()
    );
    // An hour after the first alert, alerts are allowed again.
    rig.stress(40, 0.1);
    rig.stress(2, 0.95);
    assert_eq!(rig.shown.len(), 3, "{:?}", rig.shown);
}

#[test]
fn lost_signal_fires_once_and_resolves() {
    let start = DAY0 + 10 * 60 * MIN;
    let mut rig = Rig::new(AlertPolicy::default(), start);
    rig.stress(2, 0.2);
    let last_usable = rig.t;
    rig.run(5, poor);
    assert_eq!(rig.kinds(), [AlertKind::SignalLost]);
    let lost = &rig.shown[0];
    assert_eq!(lost.from_ms, last_usable);
    assert_eq!(lost.at_ms, last_usable + 2 * MIN);
    assert!(lost.reason.contains("No usable ECG"), "{}", lost.reason);
    rig.stress(1, 0.2);
    assert_eq!(rig.kinds(), [AlertKind::SignalLost, AlertKind::SignalBack]);
    let back = &rig.shown[1];
    assert_eq!(
        (back.severity, back.from_ms, back.at_ms),
        (Severity::Info, last_usable, last_usable + 5 * MIN + STEP_MS)
    );
    // A short dropout does not alert.
    rig.run(1, poor);
    rig.stress(1, 0.2);
    assert_eq!(rig.shown.len(), 2);
}

#[test]
fn long_disconnection_alerts_and_reconnection_resolves() {
    let start = DAY0 + 10 * 60 * MIN;
    let mut rig = Rig::new(AlertPolicy::default(), start);
    rig.stress(2, 0.2);
    let gone = rig.t;
    let out = rig.alerts.on_link(gone, LinkStatus::Disconnected);
    rig.collect(out);
    // A short outage: nothing.
    let out = rig.alerts.tick(gone + 30_000);
    rig.collect(out);
    let out = rig.alerts.on_link(gone + 40_000, LinkStatus::Streaming);
    rig.collect(out);
    assert!(rig.shown.is_empty());
    // A long one: one alert after 1 min (ticks every 5 s), no lost-signal alert while down.
    let gone = gone + 60_000;
    let out = rig.alerts.on_link(gone, LinkStatus::Disconnected);
    rig.collect(out);
    for k in 1..=60 {
        let out = rig.alerts.tick(gone + k * STEP_MS);
        rig.collect(out);
    }
    assert_eq!(rig.kinds(), [AlertKind::StrapDisconnected]);
    assert_eq!(rig.shown[0].at_ms, gone + MIN);
    let back_at = gone + 5 * MIN + 1;
    let out = rig.alerts.on_link(back_at, LinkStatus::Streaming);
    rig.collect(out);
    assert_eq!(
        rig.kinds(),
        [AlertKind::StrapDisconnected, AlertKind::StrapReconnected]
    );
    // Lost-signal timing restarts at reconnection.
    let out = rig.alerts.tick(back_at + MIN);
    rig.collect(out);
    assert_eq!(rig.shown.len(), 2);
    // Stopping on purpose never alerts.
    let out = rig.alerts.on_link(back_at + MIN, LinkStatus::Stopped);
    rig.collect(out);
    let out = rig.alerts.tick(back_at + 60 * MIN);
    rig.collect(out);
    assert_eq!(rig.shown.len(), 2);
}

#[test]
fn battery_low_fires_once_per_session_with_hysteresis() {
    let mut a = AlertEngine::new(AlertPolicy::default()).unwrap();
    let t0 = DAY0 + 12 * 60 * MIN;
    a.start_session(t0);
    let mut shown = Vec::new();
    for (i, pct) in [50u8, 30, 16, 15, 14, 16, 15, 30, 14, 10]
        .into_iter()
        .enumerate()
    {
        shown.extend(a.on_battery(t0 + i as i64 * MIN, pct).alerts);
    }
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0].kind, AlertKind::BatteryLow);
    assert_eq!(shown[0].at_ms, t0 + 3 * MIN);
    assert!(shown[0].reason.contains("15 %"), "{}", shown[0].reason);
    // A new session may warn again.
    a.start_session(t0 + 60 * MIN);
    assert_eq!(a.on_battery(t0 + 61 * MIN, 12).alerts.len(), 1);
    assert!(a.on_battery(t0 + 62 * MIN, 11).alerts.is_empty());
}

#[test]
fn battery_low_at_night_waits_for_the_morning() {
    let policy = AlertPolicy {
        quiet_hours: Some(QuietHours {
            start_minute: 22 * 60,
            end_minute: 7 * 60,
        }),
        ..AlertPolicy::default()
    };
    let mut a = AlertEngine::new(policy).unwrap();
    let night = DAY0 + 2 * 60 * MIN; // 02:00 UTC, offset 0
    a.start_session(night);
    let out = a.on_battery(night, 10);
    assert!(out.alerts.is_empty());
    assert_eq!(out.suppressed.len(), 1);
    assert_eq!(out.suppressed[0].cause, SuppressionCause::QuietHours);
    let mut later = Vec::new();
    let mut suppressed = 0;
    let mut t = night;
    while t < DAY0 + 8 * 60 * MIN {
        t += MIN;
        let out = a.tick(t);
        suppressed += out.suppressed.len();
        later.extend(out.alerts);
    }
    assert_eq!(suppressed, 0, "counted once, not at every tick");
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].kind, AlertKind::BatteryLow);
    assert_eq!(later[0].at_ms, DAY0 + 7 * 60 * MIN);
}

#[test]
fn invalid_policies_are_typed_errors() {
    let bad = [
        AlertPolicy {
            battery_low_percent: 30,
            battery_rearm_percent: 20,
            ..AlertPolicy::default()
        },
        AlertPolicy {
            sustained_high_ms: -1,
            ..AlertPolicy::default()
        },
        AlertPolicy {
            quiet_hours: Some(QuietHours {
                start_minute: 1440,
                end_minute: 0,
            }),
            ..AlertPolicy::default()
        },
    ];
    for p in bad {
        assert!(matches!(
            AlertEngine::new(p),
            Err(stressbeat_core::Error::InvalidArgument(_))
        ));
    }
}

/// A session stored before the previous one (a replay run as fast as possible is stamped to
/// end before the sessions it would overlap; a clock set back) is not held back by cooldowns
/// and the rate limit of alerts that lie in its future.
#[test]
fn a_session_stamped_before_the_last_one_still_alerts() {
    let start = DAY0 + 10 * 60 * MIN;
    let mut rig = Rig::new(AlertPolicy::default(), start);
    rig.stress(2, 0.2);
    rig.run(5, poor);
    assert_eq!(rig.kinds(), [AlertKind::SignalLost]);
    // the next session begins an hour before the first one
    rig.next_session(start - 60 * MIN);
    rig.stress(2, 0.2);
    rig.run(5, poor);
    assert_eq!(
        rig.kinds(),
        [AlertKind::SignalLost, AlertKind::SignalLost],
        "suppressed: {:?}",
        rig.suppressed
    );
}

/// A session stamped before the last one (a replay) does not make the engine forget the alerts
/// in its future: the next real session is still held back by the stress cooldown and the
/// hourly limit of the alerts shown just before it.
#[test]
fn a_replay_in_between_forgets_no_alert() {
    let start = DAY0 + 10 * 60 * MIN;
    let mut rig = Rig::new(AlertPolicy::default(), start);
    let high_for_7_min = |rig: &mut Rig| {
        rig.stress(2, 0.2);
        rig.stress(7, 0.95);
    };
    high_for_7_min(&mut rig);
    let first = rig.shown[0].at_ms;
    // a replay stored two hours before: alerts as usual
    rig.next_session(start - 120 * MIN);
    high_for_7_min(&mut rig);
    assert_eq!(rig.shown.len(), 2, "{:?}", rig.suppressed);
    // the next real session, 15 min after the first alert
    rig.next_session(first + 15 * MIN);
    high_for_7_min(&mut rig);
    assert_eq!(rig.shown.len(), 2, "the first alert's 30 min cooldown");
    assert_eq!(
        rig.suppressed.last().unwrap().cause,
        SuppressionCause::Cooldown
    );

    // the hourly limit: two disconnections shown, a replay, a third one within the hour
    let policy = AlertPolicy {
        max_per_hour: 2,
        signal_cooldown_ms: 0,
        ..AlertPolicy::default()
    };
    let mut a = AlertEngine::new(policy).unwrap();
    let shown: Vec<usize> = [start, start + 5 * MIN, start - 60 * MIN, start + 15 * MIN]
        .into_iter()
        .map(|t| {
            a.start_session(t);
            disconnection(&mut a, t)
        })
        .collect();
    assert_eq!(shown, [1, 1, 1, 0]);
}

/// A 2-minute disconnection at `t`: the disconnection alerts shown (0 or 1).
fn disconnection(a: &mut AlertEngine, t: i64) -> usize {
    a.on_link(t, LinkStatus::Streaming);
    a.on_link(t, LinkStatus::Disconnected);
    let shown = a.tick(t + 2 * MIN).alerts.len();
    a.on_link(t + 3 * MIN, LinkStatus::Streaming);
    shown
}

/// The alerts remembered for cooldowns and the rate limit stay few: those of the last day, and
/// a bounded number when sessions keep being stamped before the last one.
#[test]
fn the_alerts_remembered_stay_bounded() {
    let remembered = |a: &AlertEngine| {
        let state = serde_json::to_value(a.state()).unwrap();
        state["shown"].as_array().unwrap().len()
    };
    let policy = AlertPolicy {
        signal_cooldown_ms: 0,
        ..AlertPolicy::default()
    };
    let mut a = AlertEngine::new(policy.clone()).unwrap();
    // a week of sessions with a disconnection every 10 min
    let mut t = DAY0;
    while t < DAY0 + 7 * 24 * 60 * MIN {
        a.start_session(t);
        disconnection(&mut a, t);
        t += 10 * MIN;
    }
    assert!(remembered(&a) <= 12, "{}", remembered(&a));
    // after a session, replays each stamped a minute before the last: none is held back by
    // the others, which lie in its future
    let mut a = AlertEngine::new(policy).unwrap();
    let shown: usize = (0..500)
        .map(|i| {
            let at = DAY0 - i * MIN;
            a.start_session(at);
            disconnection(&mut a, at)
        })
        .sum();
    assert_eq!(shown, 500);
    assert!(remembered(&a) <= 2 * 24 * 4, "{}", remembered(&a));
}
