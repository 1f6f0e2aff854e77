//! Score arithmetic: baseline-relative probability, smoothing, hysteresis states, confidence.

use serde::{Deserialize, Serialize};

/// Probabilities are clamped to `[P_EPS, 1 - P_EPS]` before taking a logit.
const P_EPS: f32 = 1e-4;

/// `Some(p)` when `p` is a finite probability in 0-1.
pub(crate) fn valid_probability(p: f32) -> Option<f32> {
    (p.is_finite() && (0.0..=1.0).contains(&p)).then_some(p)
}

/// Log-odds of `p` (clamped away from 0 and 1).
pub fn logit(p: f32) -> f32 {
    let p = p.clamp(P_EPS, 1.0 - P_EPS);
    (p / (1.0 - p)).ln()
}

/// Inverse of [`logit`].
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Calm, elevated or high stress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum StressState {
    /// Score below the elevated band.
    Calm,
    /// Between the calm and high bands.
    Elevated,
    /// Score in the high band.
    High,
}

impl StressState {
    /// Lower-case name (`calm`, `elevated`, `high`).
    pub fn name(self) -> &'static str {
        match self {
            StressState::Calm => "calm",
            StressState::Elevated => "elevated",
            StressState::High => "high",
        }
    }
}

/// Enter/exit thresholds (score 0-100) and minimum dwell of the state machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hysteresis {
    /// Calm → Elevated at or above this score (default 50).
    pub elevated_enter: f32,
    /// Elevated → Calm below this score (default 40).
    pub elevated_exit: f32,
    /// → High at or above this score (default 70).
    pub high_enter: f32,
    /// High → lower below this score (default 60).
    pub high_exit: f32,
    /// A state is held at least this long before it may change, ms (default 30 s).
    pub min_dwell_ms: i64,
}

impl Default for Hysteresis {
    fn default() -> Self {
        Self {
            elevated_enter: 50.0,
            elevated_exit: 40.0,
            high_enter: 70.0,
            high_exit: 60.0,
            min_dwell_ms: 30_000,
        }
    }
}

impl Hysteresis {
    /// Thresholds ordered `elevated_exit ≤ elevated_enter ≤ high_enter`, `high_exit ≤
    /// high_enter`, `elevated_exit ≤ high_exit`, all in 0-100, dwell ≥ 0.
    pub(crate) fn is_valid(&self) -> bool {
        let in_range = [
            self.elevated_enter,
            self.elevated_exit,
            self.high_enter,
            self.high_exit,
        ]
        .iter()
        .all(|t| (0.0..=100.0).contains(t));
        in_range
            && self.elevated_exit <= self.elevated_enter
            && self.elevated_enter <= self.high_enter
            && self.high_exit <= self.high_enter
            && self.elevated_exit <= self.high_exit
            && self.min_dwell_ms >= 0
    }

    /// The state `score` asks for, given the current state (the hysteresis bands).
    fn target(&self, current: StressState, score: f32) -> StressState {
        use StressState::*;
        let from_below = |s: f32| {
            if s >= self.high_enter {
                High
            } else if s >= self.elevated_enter {
                Elevated
            } else {
                Calm
            }
        };
        match current {
            Calm => from_below(score),
            Elevated if score >= self.high_enter => High,
            Elevated if score < self.elevated_exit => Calm,
            Elevated => Elevated,
            High if score >= self.high_exit => High,
            High if score >= self.elevated_exit => Elevated,
            High => Calm,
        }
    }
}

/// The held state and when it was entered.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct StateMachine {
    pub state: Option<(StressState, i64)>,
}

impl StateMachine {
    /// Feed a smoothed score at `at_ms`; returns whether the state changed.
    pub fn step(&mut self, h: &Hysteresis, score: f32, at_ms: i64) -> bool {
        match self.state {
            None => {
                // First score after a reset: no previous state to hold, take the plain band.
                self.state = Some((h.target(StressState::Calm, score), at_ms));
                true
            }
            Some((current, since)) => {
                let target = h.target(current, score);
                if target != current && at_ms.saturating_sub(since) >= h.min_dwell_ms {
                    self.state = Some((target, at_ms));
                    true
                } else {
                    false
                }
            }
        }
    }
}

/// Exponential moving average over irregular times.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct Smoother {
    /// (value, time of the last input).
    pub last: Option<(f32, i64)>,
}

impl Smoother {
    /// Feed `x` at `at_ms` with time constant `tau_ms`; returns the smoothed value.
    pub fn push(&mut self, x: f32, at_ms: i64, tau_ms: i64) -> f32 {
        let y = match self.last {
            Some((prev, t)) if tau_ms > 0 => {
                let dt = at_ms.saturating_sub(t).max(0) as f32;
                let alpha = 1.0 - (-dt / tau_ms as f32).exp();
                prev + alpha * (x - prev)
            }
            _ => x,
        };
        self.last = Some((y, at_ms));
        y
    }
}

/// Inputs of [`confidence`], each already in 0-1 or a flag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ConfidenceInputs {
    /// Usable fraction mapped so that the gate threshold is 0 and a clean window 1.
    pub quality: f32,
    /// The HRV fallback produced the probability.
    pub fallback: bool,
    /// |model − fallback| when both exist.
    pub disagreement: Option<f32>,
    /// Baseline maturity 0 (none) … 1 (mature).
    pub baseline_maturity: f32,
    /// Share of non-N beats.
    pub ectopic_fraction: f32,
}

/// Confidence 0-1: the product of factors for signal quality, source, agreement between the model
/// and the fallback, baseline maturity and ectopy. Documented in `docs/adr/0005-stress-engine.md`.
pub(crate) fn confidence(i: ConfidenceInputs, fallback_factor: f32) -> f32 {
    let quality = 0.5 + 0.5 * i.quality.clamp(0.0, 1.0);
    let source = if i.fallback { fallback_factor } else { 1.0 };
    let agreement = 1.0 - 0.5 * i.disagreement.unwrap_or(0.0).clamp(0.0, 1.0);
    let baseline = 0.7 + 0.3 * i.baseline_maturity.clamp(0.0, 1.0);
    let ectopy = 1.0 - i.ectopic_fraction.clamp(0.0, 0.5);
    (quality * source * agreement * baseline * ectopy).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logit_sigmoid_round_trip_and_clamp() {
        for p in [0.01f32, 0.2, 0.5, 0.8, 0.99] {
            assert!((sigmoid(logit(p)) - p).abs() < 1e-5);
        }
        assert!(logit(0.0).is_finite() && logit(1.0).is_finite());
        assert!(valid_probability(f32::NAN).is_none() && valid_probability(1.5).is_none());
    }

    #[test]
    fn hysteresis_bands() {
        let h = Hysteresis::default();
        assert_eq!(h.target(StressState::Calm, 49.0), StressState::Calm);
        assert_eq!(h.target(StressState::Calm, 50.0), StressState::Elevated);
        assert_eq!(h.target(StressState::Elevated, 45.0), StressState::Elevated);
        assert_eq!(h.target(StressState::Elevated, 39.0), StressState::Calm);
        assert_eq!(h.target(StressState::High, 65.0), StressState::High);
        assert_eq!(h.target(StressState::High, 55.0), StressState::Elevated);
        assert_eq!(h.target(StressState::High, 10.0), StressState::Calm);
        assert!(h.is_valid());
        let bad = Hysteresis {
            elevated_exit: 60.0,
            ..Hysteresis::default()
        };
        assert!(!bad.is_valid());
    }

    #[test]
    fn dwell_holds_a_state() {
        let h = Hysteresis::default();
        let mut m = StateMachine::default();
        assert!(m.step(&h, 10.0, 0));
        assert!(!m.step(&h, 90.0, 0), "no change at dwell 0 s");
        assert!(!m.step(&h, 90.0, 29_999));
        assert!(m.step(&h, 90.0, 30_000));
        assert_eq!(m.state.map(|s| s.0), Some(StressState::High));
    }

    #[test]
    fn ema_step_response() {
        let mut s = Smoother::default();
        s.push(0.0, 0, 30_000);
        let y = s.push(1.0, 30_000, 30_000);
        assert!((y - (1.0 - (-1.0f32).exp())).abs() < 1e-6);
    }
}
