//! The stress engine (pure: no I/O, no clock; every call carries its time in ms).
//!
//! Per analysis window (30 s, sliding by 5 s; the monitor computes the inputs) the
//! [`StressEngine`] turns a [`WindowObservation`] into a [`StressUpdate`]: a 0-100 score relative
//! to the person's [`PersonalBaseline`], a confidence, a calm / elevated / high state with
//! hysteresis, or the reason there is no score. [`alerts::AlertEngine`] turns updates and strap
//! events into [`alerts::Alert`]s. All state is serde-serialisable. Choices and measured lag:
//! `docs/adr/0005-stress-engine.md`.
//!
//! Times: any monotonic millisecond clock for the stress engine; the alert engine needs Unix epoch
//! milliseconds (quiet hours are local minutes of the day).

pub mod alerts;
pub mod baseline;
pub mod score;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model_input::stress::StressWindow;

pub use alerts::{
    Alert, AlertEngine, AlertKind, AlertOutput, AlertPolicy, AlertState, LinkStatus, NOT_MEDICAL,
    QuietHours, Severity, SuppressedAlert, SuppressionCause, SuppressionCounts,
};
pub use baseline::{
    BaselineConfig, BaselineOrigin, BaselineRejection, Calibration, CalibrationError,
    PersonalBaseline, RejectedWindows, RunningStat,
};
pub use score::{Hysteresis, StressState, logit, sigmoid};

use score::{ConfidenceInputs, Smoother, StateMachine, valid_probability};

/// Beats in a window by AAMI class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BeatCounts {
    /// Normal (and bundle-branch) beats.
    pub n: u32,
    /// Supraventricular ectopic.
    pub s: u32,
    /// Ventricular ectopic.
    pub v: u32,
    /// Fusion.
    pub f: u32,
    /// Unknown / paced.
    pub q: u32,
}

impl BeatCounts {
    /// All beats. Without a beat classifier the monitor counts every detected beat as N.
    pub fn total(&self) -> u32 {
        self.n
            .saturating_add(self.s)
            .saturating_add(self.v)
            .saturating_add(self.f)
            .saturating_add(self.q)
    }

    /// Count one beat of class `index` in the beat model's output order (0 N, 1 S, 2 V, 3 F,
    /// 4 Q); anything else counts as N.
    pub fn add_class(&mut self, index: u8) {
        let count = match index {
            1 => &mut self.s,
            2 => &mut self.v,
            3 => &mut self.f,
            4 => &mut self.q,
            _ => &mut self.n,
        };
        *count = count.saturating_add(1);
    }

    /// Share of non-N beats (0 when there are none).
    pub fn ectopic_fraction(&self) -> f32 {
        let total = self.total();
        if total == 0 {
            0.0
        } else {
            (total - self.n.min(total)) as f32 / total as f32
        }
    }
}

/// What the monitor measured in one window.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WindowObservation {
    /// Window start, ms.
    pub start_ms: i64,
    /// Window end, ms (the update's time).
    pub end_ms: i64,
    /// Fraction (0-1) of the window judged usable by the signal-quality index.
    pub usable_fraction: f32,
    /// Mean heart rate, bpm ([`crate::model_input::stress::StressWindow::heart_rate_bpm`]; the
    /// model's `hr_bpm` feature is in `features`).
    pub hr_bpm: Option<f32>,
    /// RMSSD, ms.
    pub rmssd_ms: Option<f32>,
    /// SDNN, ms.
    pub sdnn_ms: Option<f32>,
    /// Stress probability from the stress model (`None` when the model is absent or unusable).
    pub model_probability: Option<f32>,
    /// Stress probability from the HRV-only logistic regression (the model's `hrv_fallback`).
    pub fallback_probability: Option<f32>,
    /// Beats in the window by class.
    pub beat_counts: BeatCounts,
    /// The model's feature vector for this window (opaque; empty when not computed). Its running
    /// mean over calm windows becomes the model's `baseline` input.
    pub features: Vec<f32>,
    /// The window holds the strap's RR intervals, no ECG (a heart-rate-only strap, or an H10
    /// whose ECG stream stopped).
    #[serde(default)]
    pub rr_only: bool,
    /// [`crate::hrv::rr_irregularity`] of the window's raw RR intervals (`None`: too few).
    #[serde(default)]
    pub rr_irregularity: Option<f32>,
}

/// Which estimate a score came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScoreSource {
    /// The stress model.
    Model,
    /// The HRV-only fallback (model absent or unusable): less confident.
    HrvFallback,
}

/// Which baseline a score was made relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BaselineUsed {
    /// None (population level): the raw probability.
    Population,
    /// An explicit calibration (possibly updated since).
    Calibrated,
    /// A baseline learned from calm windows.
    Learned,
}

/// Why a window has no score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum NoScoreReason {
    /// Too little of the window was usable ECG.
    PoorSignal {
        /// The window's usable fraction.
        usable_fraction: f32,
        /// The gate.
        required: f32,
    },
    /// Too few beats for HRV.
    TooFewBeats {
        /// Beats found.
        beats: u32,
        /// The gate.
        required: u32,
    },
    /// The heart rate is outside the plausible range (detection failure).
    ImplausibleHeartRate {
        /// The reported rate, bpm (0 for a non-finite value).
        bpm: f32,
    },
    /// Too many of the window's beats are not normal (N) for HRV, which assumes a regular rhythm.
    IrregularRhythm {
        /// Share of non-N beats.
        ectopic_fraction: f32,
        /// The gate.
        allowed: f32,
    },
    /// The RR intervals are too irregular for HRV (atrial fibrillation, frequent ectopic beats
    /// a heart-rate-only strap cannot tell apart).
    IrregularIntervals {
        /// The window's [`crate::hrv::rr_irregularity`].
        irregularity: f32,
        /// The gate.
        allowed: f32,
    },
    /// Neither the model nor the HRV fallback gave a probability.
    NoEstimate,
    /// A calibration is running: windows feed it instead of being scored.
    Calibrating {
        /// Time left, ms.
        remaining_ms: i64,
    },
    /// The window ends before or at the previous one, or ends before it starts.
    OutOfOrder,
}

impl NoScoreReason {
    /// Whether the reason is the signal itself (lost contact, noise): used for lost-signal alerts.
    pub fn is_signal_problem(&self) -> bool {
        matches!(
            self,
            NoScoreReason::PoorSignal { .. }
                | NoScoreReason::TooFewBeats { .. }
                | NoScoreReason::ImplausibleHeartRate { .. }
        )
    }

    /// A short human explanation (no personal data).
    pub fn message(&self) -> String {
        match self {
            NoScoreReason::PoorSignal {
                usable_fraction,
                required,
            } => format!(
                "signal too poor: {:.0} % usable, {:.0} % needed (check strap contact)",
                usable_fraction * 100.0,
                required * 100.0
            ),
            NoScoreReason::TooFewBeats { beats, required } => {
                format!("too few heartbeats detected ({beats}, {required} needed)")
            }
            NoScoreReason::ImplausibleHeartRate { bpm } => {
                format!("implausible heart rate ({bpm:.0} bpm): beat detection unreliable")
            }
            NoScoreReason::IrregularRhythm {
                ectopic_fraction,
                allowed,
            } => format!(
                "too many irregular beats for a stress estimate: {:.0} % of the beats are not \
                 normal, up to {:.0} % allowed (StressBeat is not a medical device)",
                ectopic_fraction * 100.0,
                allowed * 100.0
            ),
            NoScoreReason::IrregularIntervals {
                irregularity,
                allowed,
            } => format!(
                "heart rhythm too irregular for a stress estimate: successive beats differ by \
                 {:.0} % of the interval (median), up to {:.0} % allowed (StressBeat is not a \
                 medical device)",
                irregularity * 100.0,
                allowed * 100.0
            ),
            NoScoreReason::NoEstimate => "no stress estimate available for this window".into(),
            NoScoreReason::Calibrating { remaining_ms } => format!(
                "calibrating the personal baseline ({} s left)",
                (remaining_ms + 999) / 1000
            ),
            NoScoreReason::OutOfOrder => "window out of order; ignored".into(),
        }
    }
}

/// Progress or end of a calibration, reported on the update that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum CalibrationEvent {
    /// Still running.
    Progress {
        /// Windows accepted so far.
        accepted_windows: u32,
        /// Windows rejected so far, by cause.
        #[serde(default)]
        rejected: RejectedWindows,
        /// Time left, ms.
        remaining_ms: i64,
        /// Planned duration, ms.
        #[serde(default)]
        duration_ms: i64,
    },
    /// Finished; the new baseline is in use.
    Completed {
        /// Windows it was built from.
        windows: u32,
    },
    /// Finished without a baseline (the previous one, if any, stays in use).
    Failed(CalibrationError),
}

/// The engine's output for one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StressUpdate {
    /// The window's end, ms.
    pub at_ms: i64,
    /// The window's start, ms.
    pub window_start_ms: i64,
    /// Smoothed score 0-100 (`None`: see `reason`).
    pub score: Option<u8>,
    /// This window's unsmoothed, baseline-relative score 0-100.
    pub raw_score: Option<u8>,
    /// Confidence 0-1 (0 without a score).
    pub confidence: f32,
    /// The held state (`None` before the first score and after a long gap).
    pub state: Option<StressState>,
    /// A new state was entered on this update (a reset to `None` is not a change).
    pub state_changed: bool,
    /// Why there is no score.
    pub reason: Option<NoScoreReason>,
    /// Where the probability came from.
    pub source: Option<ScoreSource>,
    /// The baseline the score is relative to.
    pub baseline: BaselineUsed,
    /// The window's usable fraction (echoed for the history; a non-finite or out-of-range input
    /// reads 0).
    pub usable_fraction: f32,
    /// Calibration progress or outcome, while one runs.
    pub calibration: Option<CalibrationEvent>,
}

impl StressUpdate {
    /// Whether the window had usable signal (scored, or unscored for a non-signal reason).
    pub fn has_usable_signal(&self) -> bool {
        !self.reason.is_some_and(|r| r.is_signal_problem())
    }

    /// A one-line human summary.
    pub fn message(&self) -> String {
        match (self.score, self.reason, self.state) {
            (Some(s), _, Some(st)) => format!(
                "stress {s}/100 ({}), confidence {:.0} %",
                st.name(),
                self.confidence * 100.0
            ),
            (_, Some(r), _) => r.message(),
            _ => "no score".into(),
        }
    }
}

/// Engine parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineConfig {
    /// Quality gate: minimum usable fraction (default
    /// [`MIN_USABLE_FRACTION`](crate::model_input::stress::MIN_USABLE_FRACTION), 0.75: the
    /// fraction under which a window's features are not computed for the model either).
    pub min_usable_fraction: f32,
    /// Quality gate: minimum beats per window (default 15, = 30 bpm over 30 s).
    pub min_beats: u32,
    /// Rhythm gate: largest share of non-N beats in a scored window (default 0.2).
    #[serde(default = "default_max_ectopic_fraction")]
    pub max_ectopic_fraction: f32,
    /// Plausible heart rate, bpm (default 30-220).
    pub hr_range_bpm: (f32, f32),
    /// EMA time constant of the score, ms (default 30 s). 0 disables smoothing.
    pub smoothing_tau_ms: i64,
    /// Without a scored window for this long, smoothing and state restart, ms (default 120 s).
    pub reset_after_ms: i64,
    /// The person's calm level maps to this probability (default 0.2: score 20).
    pub calm_target: f32,
    /// Largest baseline shift, in logits (default 1.5).
    pub max_shift_logit: f32,
    /// A source's baseline level is used once this many windows had it (default 12).
    pub min_baseline_windows: u64,
    /// Confidence factor of the HRV fallback (default 0.7).
    pub fallback_confidence: f32,
    /// State thresholds and dwell.
    pub hysteresis: Hysteresis,
    /// Calibration and rolling-baseline parameters.
    pub baseline: BaselineConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            min_usable_fraction: crate::model_input::stress::MIN_USABLE_FRACTION,
            min_beats: 15,
            max_ectopic_fraction: default_max_ectopic_fraction(),
            hr_range_bpm: (30.0, 220.0),
            smoothing_tau_ms: 30_000,
            reset_after_ms: 120_000,
            calm_target: 0.2,
            max_shift_logit: 1.5,
            min_baseline_windows: 12,
            fallback_confidence: 0.7,
            hysteresis: Hysteresis::default(),
            baseline: BaselineConfig::default(),
        }
    }
}

fn default_max_ectopic_fraction() -> f32 {
    0.2
}

impl EngineConfig {
    /// The signal part of the scoring gate (the monitor's, and `stressbeat stress`'s): why a
    /// window with this usable fraction, this many beats and this heart rate gets no score, or
    /// `None`. A non-finite or above-1 usable fraction is a broken quality index: no usable
    /// signal.
    pub fn signal_gate(
        &self,
        usable_fraction: f32,
        beats: u32,
        hr_bpm: Option<f32>,
    ) -> Option<NoScoreReason> {
        if !(usable_fraction >= self.min_usable_fraction && usable_fraction <= 1.0) {
            return Some(NoScoreReason::PoorSignal {
                usable_fraction: sane_fraction(usable_fraction),
                required: self.min_usable_fraction,
            });
        }
        if beats < self.min_beats {
            return Some(NoScoreReason::TooFewBeats {
                beats,
                required: self.min_beats,
            });
        }
        match hr_bpm {
            Some(bpm) if !(bpm >= self.hr_range_bpm.0 && bpm <= self.hr_range_bpm.1) => {
                let bpm = if bpm.is_finite() { bpm } else { 0.0 };
                Some(NoScoreReason::ImplausibleHeartRate { bpm })
            }
            _ => None,
        }
    }

    /// The whole scoring gate on a window cut offline ([`StressWindow`], its beats
    /// `beat_counts`): [`Self::signal_gate`], then [`Self::rhythm_gate`], as a live window gets.
    pub fn stress_window_gate(
        &self,
        window: &StressWindow,
        beat_counts: &BeatCounts,
    ) -> Option<NoScoreReason> {
        self.signal_gate(
            window.usable_fraction,
            beat_counts.total(),
            window.heart_rate_bpm(beat_counts),
        )
        .or_else(|| self.rhythm_gate(window.is_rr_only(), beat_counts, window.rr_irregularity))
    }

    /// The rhythm part of the scoring gate (the monitor's, and `stressbeat stress`'s): why a
    /// window with these beats and intervals gets no score, or `None`.
    pub fn rhythm_gate(
        &self,
        rr_only: bool,
        beat_counts: &BeatCounts,
        rr_irregularity: Option<f32>,
    ) -> Option<NoScoreReason> {
        // RR-only windows have no beat classes (their non-N count is the corrected intervals,
        // artefacts included): the gate reads the beat-type model's classes only.
        let ectopic_fraction = beat_counts.ectopic_fraction();
        if !rr_only && ectopic_fraction > self.max_ectopic_fraction {
            return Some(NoScoreReason::IrregularRhythm {
                ectopic_fraction,
                allowed: self.max_ectopic_fraction,
            });
        }
        // The intervals themselves, for both kinds of window.
        let irregularity = rr_irregularity?;
        self.baseline
            .rr_too_irregular(Some(irregularity))
            .then_some(NoScoreReason::IrregularIntervals {
                irregularity,
                allowed: self.baseline.max_rr_irregularity,
            })
    }

    /// Checks ranges; [`Error::InvalidArgument`] says which field is wrong.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::InvalidArgument(format!("engine config: {what}")));
        if !(0.0..=1.0).contains(&self.min_usable_fraction) {
            return bad("min_usable_fraction must be in 0-1");
        }
        if !(0.0..=1.0).contains(&self.max_ectopic_fraction) {
            return bad("max_ectopic_fraction must be in 0-1");
        }
        let (lo, hi) = self.hr_range_bpm;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return bad("hr_range_bpm must be a finite, increasing pair");
        }
        if self.smoothing_tau_ms < 0 || self.reset_after_ms < 0 {
            return bad("time constants must not be negative");
        }
        if !(self.calm_target > 0.0 && self.calm_target < 1.0) {
            return bad("calm_target must be in (0, 1)");
        }
        if !(self.max_shift_logit >= 0.0 && self.max_shift_logit.is_finite()) {
            return bad("max_shift_logit must be finite and ≥ 0");
        }
        if !(0.0..=1.0).contains(&self.fallback_confidence) {
            return bad("fallback_confidence must be in 0-1");
        }
        if !self.hysteresis.is_valid() {
            return bad("hysteresis thresholds must be ordered, in 0-100, dwell ≥ 0");
        }
        let b = &self.baseline;
        // NaN would admit every window: `v > NaN` is false
        if !(b.max_rr_irregularity > 0.0 && b.max_rr_irregularity.is_finite()) {
            return bad("baseline.max_rr_irregularity must be finite and > 0");
        }
        if b.rolling_tau_ms <= 0 || b.rolling_max_step_ms < 0 {
            return bad("baseline time constants must be positive");
        }
        if ![b.max_drift_hr_bpm, b.max_drift_relative, b.max_drift_logit]
            .iter()
            .all(|d| d.is_finite() && *d >= 0.0)
        {
            return bad("baseline drift bounds must be finite and ≥ 0");
        }
        Ok(())
    }
}

/// Everything the engine remembers; serialise it to resume after a restart.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EngineState {
    /// The personal baseline in use.
    pub baseline: Option<PersonalBaseline>,
    /// A running calibration.
    pub calibration: Option<Calibration>,
    /// A calibration asked for but not yet on the session's clock: its duration, ms
    /// ([`StressEngine::request_calibration`]).
    #[serde(default)]
    pub requested_calibration_ms: Option<i64>,
    /// End of the last accepted window, ms.
    pub last_end_ms: Option<i64>,
    /// End of the last scored window, ms.
    pub last_scored_ms: Option<i64>,
    smoother: Smoother,
    machine: StateMachine,
}

/// The stress engine. See the module docs.
#[derive(Debug, Clone)]
pub struct StressEngine {
    config: EngineConfig,
    state: EngineState,
}

impl StressEngine {
    /// An engine without a baseline. Errors: an invalid config.
    pub fn new(config: EngineConfig) -> Result<Self> {
        Self::restore(config, EngineState::default())
    }

    /// Resume from a saved [`EngineState`]. Errors: an invalid config. If the clock restarted
    /// (e.g. a monotonic clock after a reboot), call [`StressEngine::reset_stream`] before the
    /// first window, or it is taken as out of order.
    pub fn restore(config: EngineConfig, state: EngineState) -> Result<Self> {
        config.validate()?;
        Ok(Self { config, state })
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The state to persist.
    pub fn state(&self) -> &EngineState {
        &self.state
    }

    /// The baseline in use.
    pub fn baseline(&self) -> Option<&PersonalBaseline> {
        self.state.baseline.as_ref()
    }

    /// Replace (or clear) the baseline, e.g. one loaded from the history.
    pub fn set_baseline(&mut self, baseline: Option<PersonalBaseline>) {
        self.state.baseline = baseline;
    }

    /// The model's `baseline` input (mean feature vector of calm windows), when known.
    pub fn baseline_features(&self) -> Option<&[f32]> {
        self.state.baseline.as_ref()?.feature_vector()
    }

    /// Start a calibration at `at_ms` lasting `duration_ms`: until it ends, windows feed it and
    /// get no score ([`NoScoreReason::Calibrating`]).
    pub fn start_calibration(&mut self, at_ms: i64, duration_ms: i64) {
        self.state.requested_calibration_ms = None;
        self.state.calibration = Some(Calibration::new(
            at_ms,
            duration_ms,
            self.config.baseline.clone(),
        ));
    }

    /// Ask for a calibration of `duration_ms` that starts at the next
    /// [`StressEngine::anchor_calibration`] (the monitor calls it when a session begins, at
    /// every step and, through [`StressEngine::end_stream`], when it ends): the caller's clock
    /// (the phone's) may differ from the session's, e.g. a replay stamped in the past, and a
    /// session may begin minutes after the request.
    pub fn request_calibration(&mut self, duration_ms: i64) {
        self.state.calibration = None;
        self.state.requested_calibration_ms = Some(duration_ms);
    }

    /// Start the requested calibration at `at_ms` on the session's clock (nothing when none
    /// waits).
    pub fn anchor_calibration(&mut self, at_ms: i64) {
        if let Some(duration_ms) = self.state.requested_calibration_ms {
            self.start_calibration(at_ms, duration_ms);
        }
    }

    /// Whether a calibration is running or requested.
    pub fn is_calibrating(&self) -> bool {
        self.state.calibration.is_some() || self.state.requested_calibration_ms.is_some()
    }

    /// Abandon a running or requested calibration (the previous baseline stays).
    pub fn cancel_calibration(&mut self) {
        self.state.calibration = None;
        self.state.requested_calibration_ms = None;
    }

    /// End a running calibration now, on the windows it has taken (e.g. its recording ended
    /// before the planned duration). `None` when none runs.
    pub fn finish_calibration_now(&mut self) -> Option<CalibrationEvent> {
        self.state.calibration.as_ref()?;
        Some(self.finish_calibration())
    }

    /// The recording session ended at `at_ms`: a calibration running, or asked for during it
    /// and not started yet, ends now on the windows it took, so none carries into the next
    /// session. Its outcome; `None` when none ran. (One asked for between sessions starts with
    /// the next.)
    pub fn end_stream(&mut self, at_ms: i64) -> Option<CalibrationEvent> {
        self.anchor_calibration(at_ms);
        self.finish_calibration_now()
    }

    /// A new recording session: restart smoothing and state (the baseline stays).
    pub fn reset_stream(&mut self) {
        self.state.smoother = Smoother::default();
        self.state.machine = StateMachine::default();
        self.state.last_end_ms = None;
        self.state.last_scored_ms = None;
    }

    /// Process one window. Never panics; bad inputs give an unscored update with a reason.
    pub fn update(&mut self, obs: &WindowObservation) -> StressUpdate {
        let at = obs.end_ms;
        let mut out = StressUpdate {
            at_ms: at,
            window_start_ms: obs.start_ms,
            score: None,
            raw_score: None,
            confidence: 0.0,
            state: None,
            state_changed: false,
            reason: None,
            source: None,
            baseline: self.baseline_used(),
            usable_fraction: sane_fraction(obs.usable_fraction),
            calibration: None,
        };
        if obs.end_ms < obs.start_ms || self.state.last_end_ms.is_some_and(|t| at <= t) {
            out.reason = Some(NoScoreReason::OutOfOrder);
            out.state = self.held_state();
            return out;
        }
        self.state.last_end_ms = Some(at);
        self.expire_state(at);
        // a request nobody anchored starts with this window
        self.anchor_calibration(at);

        let gate = self.quality_gate(obs);
        if let Some(cal) = self.state.calibration.as_mut() {
            // Rejections are counted in the calibration itself. A window the gate refuses for
            // its signal (too few beats, an implausible heart rate) is not learned either.
            let added = match gate {
                Err(reason) if reason.is_signal_problem() => {
                    cal.reject(BaselineRejection::PoorSignal);
                    Err(BaselineRejection::PoorSignal)
                }
                _ => cal.add(obs),
            };
            let remaining_ms = cal.remaining_ms(at);
            let due = cal.is_due(at);
            out.calibration = Some(CalibrationEvent::Progress {
                accepted_windows: cal.accepted,
                rejected: cal.rejections,
                remaining_ms,
                duration_ms: cal.duration_ms,
            });
            // A bad signal or rhythm is reported as such (lost-signal alerts see the signal);
            // ectopy against the calibration's own (stricter) limit.
            let ectopy = NoScoreReason::IrregularRhythm {
                ectopic_fraction: obs.beat_counts.ectopic_fraction(),
                allowed: self.config.baseline.max_ectopic_fraction,
            };
            out.reason = Some(match gate {
                Err(NoScoreReason::IrregularRhythm { .. }) => ectopy,
                Err(reason) => reason,
                Ok(()) if !obs.rr_only && added == Err(BaselineRejection::IrregularRhythm) => {
                    ectopy
                }
                Ok(()) => NoScoreReason::Calibrating { remaining_ms },
            });
            if due {
                out.calibration = Some(self.finish_calibration());
                out.baseline = self.baseline_used();
            }
            out.state = self.held_state();
            return out;
        }

        match gate.and_then(|()| self.score_window(obs)) {
            Ok(scored) => {
                let tau = self.config.smoothing_tau_ms;
                let smooth = self.state.smoother.push(scored.probability, at, tau);
                let score = (smooth * 100.0).round().clamp(0.0, 100.0);
                out.state_changed = self.state.machine.step(&self.config.hysteresis, score, at);
                out.score = Some(score as u8);
                out.raw_score = Some((scored.probability * 100.0).round().clamp(0.0, 100.0) as u8);
                out.confidence = scored.confidence;
                out.source = Some(scored.source);
                self.state.last_scored_ms = Some(at);
                if self.held_state() == Some(StressState::Calm) {
                    self.learn_rolling(obs);
                }
            }
            Err(reason) => out.reason = Some(reason),
        }
        out.state = self.held_state();
        out
    }

    fn held_state(&self) -> Option<StressState> {
        self.state.machine.state.map(|(s, _)| s)
    }

    fn baseline_used(&self) -> BaselineUsed {
        match self.state.baseline.as_ref().map(|b| b.origin) {
            None => BaselineUsed::Population,
            Some(BaselineOrigin::Calibrated) => BaselineUsed::Calibrated,
            Some(BaselineOrigin::Learned) => BaselineUsed::Learned,
        }
    }

    /// After `reset_after_ms` without a score, forget the smoothed value and the state.
    fn expire_state(&mut self, at: i64) {
        let stale = self
            .state
            .last_scored_ms
            .is_some_and(|t| at.saturating_sub(t) > self.config.reset_after_ms);
        if stale {
            self.state.smoother = Smoother::default();
            self.state.machine = StateMachine::default();
            self.state.last_scored_ms = None;
        }
    }

    fn finish_calibration(&mut self) -> CalibrationEvent {
        let Some(cal) = self.state.calibration.take() else {
            return CalibrationEvent::Failed(CalibrationError::TooFewWindows {
                accepted: 0,
                needed: self.config.baseline.min_calibration_windows,
                rejected: RejectedWindows::default(),
            });
        };
        let windows = cal.accepted;
        match cal.finish() {
            Ok(b) => {
                self.state.baseline = Some(b);
                CalibrationEvent::Completed { windows }
            }
            Err(e) => CalibrationEvent::Failed(e),
        }
    }

    fn learn_rolling(&mut self, obs: &WindowObservation) {
        let cfg = &self.config.baseline;
        if !cfg.rolling_enabled {
            return;
        }
        // A rejected window (noisy, ectopic) simply does not update the baseline, nor start one.
        match &mut self.state.baseline {
            Some(b) => {
                let _ = b.update_rolling(obs, cfg);
            }
            None => {
                let mut b = PersonalBaseline::empty(BaselineOrigin::Learned, obs.end_ms);
                if b.update_rolling(obs, cfg).is_ok() {
                    self.state.baseline = Some(b);
                }
            }
        }
    }

    /// The quality gate before any estimate ([`EngineConfig::signal_gate`], then
    /// [`EngineConfig::rhythm_gate`]).
    fn quality_gate(&self, obs: &WindowObservation) -> std::result::Result<(), NoScoreReason> {
        let c = &self.config;
        let beats = obs.beat_counts.total();
        match c
            .signal_gate(obs.usable_fraction, beats, obs.hr_bpm)
            .or_else(|| c.rhythm_gate(obs.rr_only, &obs.beat_counts, obs.rr_irregularity))
        {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }

    /// The baseline-relative probability of a window the quality gate passed, and its
    /// confidence.
    fn score_window(&self, obs: &WindowObservation) -> std::result::Result<Scored, NoScoreReason> {
        let c = &self.config;
        let pm = obs.model_probability.and_then(valid_probability);
        let pf = obs.fallback_probability.and_then(valid_probability);
        let (p, source) = match (pm, pf) {
            (Some(p), _) => (p, ScoreSource::Model),
            (None, Some(p)) => (p, ScoreSource::HrvFallback),
            (None, None) => return Err(NoScoreReason::NoEstimate),
        };
        let is_model = source == ScoreSource::Model;
        let baseline = self.state.baseline.as_ref();
        let calm = baseline.and_then(|b| b.calm_logit(is_model, c.min_baseline_windows));
        let shift = calm.map_or(0.0, |m| {
            (m as f32 - logit(c.calm_target)).clamp(-c.max_shift_logit, c.max_shift_logit)
        });
        let probability = sigmoid(logit(p) - shift);

        let maturity = match baseline {
            Some(b) if b.is_mature() && calm.is_some() => 1.0,
            Some(b) if calm.is_some() => {
                (b.windows as f32 / c.baseline.mature_windows.max(1) as f32).min(1.0)
            }
            _ => 0.0,
        };
        let gate = c.min_usable_fraction;
        let quality = if gate >= 1.0 {
            1.0
        } else {
            (obs.usable_fraction - gate) / (1.0 - gate)
        };
        let confidence = score::confidence(
            ConfidenceInputs {
                quality,
                fallback: !is_model,
                disagreement: pm.zip(pf).map(|(a, b)| (a - b).abs()),
                baseline_maturity: maturity,
                ectopic_fraction: obs.beat_counts.ectopic_fraction(),
            },
            c.fallback_confidence,
        );
        Ok(Scored {
            probability,
            confidence,
            source,
        })
    }
}

/// One window's baseline-relative probability before smoothing.
#[derive(Debug, Clone, Copy)]
struct Scored {
    probability: f32,
    confidence: f32,
    source: ScoreSource,
}

/// A fraction in 0-1, or 0 for a broken (non-finite, out-of-range) value.
fn sane_fraction(x: f32) -> f32 {
    if (0.0..=1.0).contains(&x) { x } else { 0.0 }
}
