//! Personal baseline: an explicit calibration session and a slowly updated rolling baseline.
//!
//! A [`PersonalBaseline`] holds the person's calm level: heart rate, RMSSD, SDNN, the stress
//! probability of each source (kept as logits) and the element-wise mean of the model's feature
//! vector (opaque here; see `docs/model-format.md`). It is built by a [`Calibration`] (a few
//! minutes of calm windows, equal weights) and then, or from scratch, updated by
//! [`PersonalBaseline::update_rolling`] from calm, good-quality windows only, with a time constant of
//! days and a bounded drift from its *anchor* (the values when it became mature), so a stressful
//! week cannot become "normal".

use serde::{Deserialize, Serialize};

use super::score::{logit, valid_probability};
use super::{BeatCounts, WindowObservation};

/// Mean and variance of one quantity, equal-weighted (Welford) until `n` reaches the warm-up
/// count, exponentially weighted after that.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RunningStat {
    /// Number of values that went in.
    pub n: u64,
    /// Current mean.
    pub mean: f64,
    /// Current (population) variance.
    pub var: f64,
}

impl RunningStat {
    /// Standard deviation.
    pub fn std(&self) -> f64 {
        self.var.max(0.0).sqrt()
    }

    /// Equal-weight update (Welford).
    fn push_equal(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        let n = self.n as f64;
        self.var = ((n - 1.0) * self.var + d * (x - self.mean)) / n;
    }

    /// Exponentially weighted update with weight `alpha` (0-1), equal weights while `n < warmup`.
    fn push_weighted(&mut self, x: f64, alpha: f64, warmup: u64) {
        if self.n < warmup {
            self.push_equal(x);
            return;
        }
        self.n += 1;
        let d = x - self.mean;
        self.mean += alpha * d;
        self.var = (1.0 - alpha) * (self.var + alpha * d * d);
    }

    fn clamp_mean(&mut self, lo: f64, hi: f64) {
        self.mean = self.mean.clamp(lo, hi);
    }
}

/// How a baseline came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BaselineOrigin {
    /// From an explicit calibration session (then possibly updated by the rolling baseline).
    Calibrated,
    /// Learned from calm windows only (no calibration yet).
    Learned,
}

/// The values drift is measured against (the baseline when it became mature).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BaselineAnchor {
    /// Heart rate, bpm.
    pub hr_bpm: Option<f64>,
    /// RMSSD, ms.
    pub rmssd_ms: Option<f64>,
    /// Model probability logit.
    pub model_logit: Option<f64>,
    /// Fallback probability logit.
    pub fallback_logit: Option<f64>,
    /// Feature means (empty when unknown; NaN for a feature no window had).
    #[serde(with = "nan_as_null")]
    pub features: Vec<f32>,
}

/// A person's calm level. Serialisable (the monitor stores it in the history).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonalBaseline {
    /// Calibration or learned.
    pub origin: BaselineOrigin,
    /// Time it was created, ms (caller's clock).
    pub created_ms: i64,
    /// End of the last window that updated it, ms.
    pub updated_ms: i64,
    /// Windows that went into it (calibration and rolling).
    pub windows: u64,
    /// Heart rate, bpm.
    pub hr_bpm: RunningStat,
    /// RMSSD, ms.
    pub rmssd_ms: RunningStat,
    /// SDNN, ms.
    pub sdnn_ms: RunningStat,
    /// Logit of the stress model's probability on calm windows.
    pub model_logit: RunningStat,
    /// Logit of the HRV fallback's probability on calm windows.
    pub fallback_logit: RunningStat,
    /// Element-wise mean of the model feature vectors (the model's `baseline` input) over the
    /// windows where each was finite; empty when no window carried features, NaN for a feature no
    /// window had (e.g. R/T amplitudes when only an RR strap was worn). Stored as `null`.
    #[serde(with = "nan_as_null")]
    pub features: Vec<f32>,
    /// Windows that went into `features`.
    pub feature_windows: u64,
    /// Per feature: windows where it was finite (empty in baselines stored before it existed:
    /// then every feature counts `feature_windows`).
    #[serde(default)]
    pub feature_counts: Vec<u64>,
    /// Drift reference; `None` until the baseline is mature.
    pub anchor: Option<BaselineAnchor>,
}

/// Parameters of calibration and of the rolling baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineConfig {
    /// A calibration needs at least this many accepted windows (default 12, = 1 min of 5 s steps).
    pub min_calibration_windows: u32,
    /// Minimum usable fraction for a window to enter a baseline (default 0.8).
    pub min_usable_fraction: f32,
    /// Maximum share of non-N beats for a window to enter a baseline (default 0.1).
    pub max_ectopic_fraction: f32,
    /// Most RR irregularity ([`crate::hrv::rr_irregularity`]) for a window to enter a baseline
    /// or be scored (default [`DEFAULT_MAX_RR_IRREGULARITY`]).
    #[serde(default = "default_max_rr_irregularity")]
    pub max_rr_irregularity: f32,
    /// Update the baseline from calm windows during monitoring (default true).
    pub rolling_enabled: bool,
    /// Rolling time constant, ms (default 3 days).
    pub rolling_tau_ms: i64,
    /// Time credited per rolling window at most, ms (default 5 s, the window step).
    pub rolling_max_step_ms: i64,
    /// A learned baseline becomes mature (anchored, used at full confidence) after this many
    /// windows (default 60, = 5 min of 5 s steps).
    pub mature_windows: u64,
    /// Bounded drift from the anchor: heart rate, bpm (default 10).
    pub max_drift_hr_bpm: f64,
    /// Bounded drift: RMSSD and features, as a fraction of the anchor (default 0.3).
    pub max_drift_relative: f64,
    /// Bounded drift: probability logits (default 1.0).
    pub max_drift_logit: f64,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        Self {
            min_calibration_windows: 12,
            min_usable_fraction: 0.8,
            max_ectopic_fraction: 0.1,
            max_rr_irregularity: DEFAULT_MAX_RR_IRREGULARITY,
            rolling_enabled: true,
            rolling_tau_ms: 3 * 24 * 3_600_000,
            rolling_max_step_ms: 5_000,
            mature_windows: 60,
            max_drift_hr_bpm: 10.0,
            max_drift_relative: 0.3,
            max_drift_logit: 1.0,
        }
    }
}

/// Default [`BaselineConfig::max_rr_irregularity`]. Median |ΔRR| / median RR of 30 s windows,
/// measured over the data in `../shared/data` (docs/adr/0005): windows wholly inside atrial
/// fibrillation in MIT-BIH 201, 203 and 217 are above 0.12 in 344 of 346; the scorable windows
/// of healthy people (EEGMAT, BioPsyKit, Polar H10) in 0-0.2 %.
pub const DEFAULT_MAX_RR_IRREGULARITY: f32 = 0.12;

fn default_max_rr_irregularity() -> f32 {
    DEFAULT_MAX_RR_IRREGULARITY
}

impl BaselineConfig {
    /// Whether a window of this signal quality, these beats and this RR irregularity may enter
    /// a baseline: usable fraction at least [`Self::min_usable_fraction`], non-N beats at most
    /// [`Self::max_ectopic_fraction`], irregularity at most [`Self::max_rr_irregularity`]
    /// (unknown passes). The one rule for calibration, the rolling baseline and
    /// `stressbeat stress --baseline`.
    pub fn admits(
        &self,
        usable_fraction: f32,
        beat_counts: &BeatCounts,
        rr_irregularity: Option<f32>,
    ) -> Result<(), BaselineRejection> {
        if !(usable_fraction >= self.min_usable_fraction && usable_fraction <= 1.0) {
            return Err(BaselineRejection::PoorSignal);
        }
        if beat_counts.ectopic_fraction() > self.max_ectopic_fraction
            || self.rr_too_irregular(rr_irregularity)
        {
            return Err(BaselineRejection::IrregularRhythm);
        }
        Ok(())
    }

    /// Whether `rr_irregularity` is above [`Self::max_rr_irregularity`] (unknown: no).
    pub fn rr_too_irregular(&self, rr_irregularity: Option<f32>) -> bool {
        rr_irregularity.is_some_and(|v| v > self.max_rr_irregularity)
    }
}

/// Why a window was not used for a baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum BaselineRejection {
    /// Usable fraction below [`BaselineConfig::min_usable_fraction`].
    PoorSignal,
    /// Too many non-N beats, or RR intervals too irregular.
    IrregularRhythm,
    /// Neither heart rate nor a probability nor features.
    NothingToLearn,
}

/// Why a calibration produced no baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CalibrationError {
    /// Too few windows were calm and clean enough.
    #[error(
        "calibration needs {needed} clean windows, got {accepted} ({} with a poor signal, {} with \
         an irregular rhythm)",
        rejected.poor_signal,
        rejected.ectopy
    )]
    TooFewWindows {
        /// Windows accepted.
        accepted: u32,
        /// Windows needed.
        needed: u32,
        /// Windows rejected, by cause.
        #[serde(default)]
        rejected: RejectedWindows,
    },
}

/// Windows a calibration did not take, by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedWindows {
    /// Usable fraction too low, nothing to learn from, or too few beats or an implausible
    /// heart rate (the engine's scoring gate).
    pub poor_signal: u32,
    /// More non-N beats than [`BaselineConfig::max_ectopic_fraction`], or RR intervals more
    /// irregular than [`BaselineConfig::max_rr_irregularity`].
    pub ectopy: u32,
}

/// An explicit calibration session: feed the windows of a few calm minutes, then
/// [`Calibration::finish`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Start time, ms.
    pub started_ms: i64,
    /// Planned duration, ms.
    pub duration_ms: i64,
    /// Windows accepted so far.
    pub accepted: u32,
    /// Windows rejected so far, by cause.
    #[serde(default)]
    pub rejections: RejectedWindows,
    baseline: PersonalBaseline,
    config: BaselineConfig,
}

impl Calibration {
    /// A calibration starting at `started_ms` and lasting `duration_ms`.
    pub fn new(started_ms: i64, duration_ms: i64, config: BaselineConfig) -> Self {
        Self {
            started_ms,
            duration_ms: duration_ms.max(0),
            accepted: 0,
            rejections: RejectedWindows::default(),
            baseline: PersonalBaseline::empty(BaselineOrigin::Calibrated, started_ms),
            config,
        }
    }

    /// Add one window (equal weight). Returns why it was rejected, if it was.
    pub fn add(&mut self, obs: &WindowObservation) -> Result<(), BaselineRejection> {
        let r = self.baseline.learn(obs, &self.config, None);
        match r {
            Ok(()) => self.accepted += 1,
            Err(why) => self.reject(why),
        }
        r
    }

    /// Count a window left out for `why` without adding it (e.g. one the engine's scoring gate
    /// refuses).
    pub fn reject(&mut self, why: BaselineRejection) {
        let count = match why {
            BaselineRejection::IrregularRhythm => &mut self.rejections.ectopy,
            BaselineRejection::PoorSignal | BaselineRejection::NothingToLearn => {
                &mut self.rejections.poor_signal
            }
        };
        *count += 1;
    }

    /// Whether the planned duration has elapsed at `now_ms`.
    pub fn is_due(&self, now_ms: i64) -> bool {
        now_ms.saturating_sub(self.started_ms) >= self.duration_ms
    }

    /// Remaining time at `now_ms`, ms (0 when due).
    pub fn remaining_ms(&self, now_ms: i64) -> i64 {
        (self.duration_ms - now_ms.saturating_sub(self.started_ms)).max(0)
    }

    /// The baseline, anchored at its calibrated values, or why there is none.
    pub fn finish(self) -> Result<PersonalBaseline, CalibrationError> {
        if self.accepted < self.config.min_calibration_windows {
            return Err(CalibrationError::TooFewWindows {
                accepted: self.accepted,
                needed: self.config.min_calibration_windows,
                rejected: self.rejections,
            });
        }
        let mut b = self.baseline;
        b.anchor = Some(b.current_anchor());
        Ok(b)
    }
}

impl PersonalBaseline {
    /// A baseline with nothing in it.
    pub fn empty(origin: BaselineOrigin, created_ms: i64) -> Self {
        Self {
            origin,
            created_ms,
            updated_ms: created_ms,
            windows: 0,
            hr_bpm: RunningStat::default(),
            rmssd_ms: RunningStat::default(),
            sdnn_ms: RunningStat::default(),
            model_logit: RunningStat::default(),
            fallback_logit: RunningStat::default(),
            features: Vec::new(),
            feature_windows: 0,
            feature_counts: Vec::new(),
            anchor: None,
        }
    }

    /// Whether it is anchored (a finished calibration, or a learned baseline with enough windows).
    pub fn is_mature(&self) -> bool {
        self.anchor.is_some()
    }

    /// The calm-level logit of a source's probability, when at least `min_n` windows had one.
    pub fn calm_logit(&self, model: bool, min_n: u64) -> Option<f64> {
        let s = if model {
            &self.model_logit
        } else {
            &self.fallback_logit
        };
        (s.n >= min_n.max(1)).then_some(s.mean)
    }

    /// The model's `baseline` input, when windows carried features.
    pub fn feature_vector(&self) -> Option<&[f32]> {
        (!self.features.is_empty()).then_some(self.features.as_slice())
    }

    /// Rolling update from one calm window (the caller decides what is calm). Time-weighted with
    /// the configured time constant; drift bounded once mature. A learned baseline anchors itself
    /// when it reaches [`BaselineConfig::mature_windows`].
    pub fn update_rolling(
        &mut self,
        obs: &WindowObservation,
        config: &BaselineConfig,
    ) -> Result<(), BaselineRejection> {
        let max_step = config.rolling_max_step_ms.max(0);
        // A clock that went backwards (another session's clock) credits one full step.
        let dt = match obs.end_ms.saturating_sub(self.updated_ms) {
            d if d < 0 => max_step,
            d => d.min(max_step),
        } as f64;
        let tau = config.rolling_tau_ms.max(1) as f64;
        let alpha = 1.0 - (-dt / tau).exp();
        self.learn(obs, config, Some(alpha))?;
        if self.anchor.is_none() && self.windows >= config.mature_windows {
            self.anchor = Some(self.current_anchor());
        }
        Ok(())
    }

    /// Add one window: equal weight (`alpha` `None`) or exponential weight `alpha`.
    fn learn(
        &mut self,
        obs: &WindowObservation,
        config: &BaselineConfig,
        alpha: Option<f64>,
    ) -> Result<(), BaselineRejection> {
        config.admits(obs.usable_fraction, &obs.beat_counts, obs.rr_irregularity)?;
        let hr = obs.hr_bpm.filter(|v| v.is_finite() && *v > 0.0);
        let rmssd = obs.rmssd_ms.filter(|v| v.is_finite() && *v >= 0.0);
        let sdnn = obs.sdnn_ms.filter(|v| v.is_finite() && *v >= 0.0);
        let pm = obs.model_probability.and_then(valid_probability);
        let pf = obs.fallback_probability.and_then(valid_probability);
        let features_ok = obs.features.iter().any(|v| v.is_finite())
            && (self.features.is_empty() || self.features.len() == obs.features.len());
        if hr.is_none() && pm.is_none() && pf.is_none() && !features_ok {
            return Err(BaselineRejection::NothingToLearn);
        }
        // Warm-up: a value equal-weights its first `mature_windows` windows, so a learned
        // baseline converges fast. A value the anchor holds (e.g. from a finished calibration)
        // moves with the time constant at once: equal weights would let the first minutes after
        // a short calibration outweigh it. A value the anchor lacks (the R/T amplitudes after a
        // calibration on an RR-only strap) warms up, then joins the anchor.
        let mature = config.mature_windows;
        let anchor = self.anchor.as_ref();
        let warmup = |anchored: bool| if anchored { 1 } else { mature };
        let has = |f: fn(&BaselineAnchor) -> Option<f64>| anchor.and_then(f).is_some();
        let push = |s: &mut RunningStat, x: f64, anchored: bool| match alpha {
            Some(a) => s.push_weighted(x, a, warmup(anchored)),
            None => s.push_equal(x),
        };
        let hr_anchored = has(|a| a.hr_bpm);
        let (rmssd_anchored, model_anchored, fallback_anchored) = (
            has(|a| a.rmssd_ms),
            has(|a| a.model_logit),
            has(|a| a.fallback_logit),
        );
        let anchored_features: Vec<bool> = match anchor {
            Some(a) if a.features.len() == obs.features.len() => {
                a.features.iter().map(|v| v.is_finite()).collect()
            }
            _ => vec![false; obs.features.len()],
        };
        if let Some(v) = hr {
            push(&mut self.hr_bpm, f64::from(v), hr_anchored);
        }
        if let Some(v) = rmssd {
            push(&mut self.rmssd_ms, f64::from(v), rmssd_anchored);
        }
        if let Some(v) = sdnn {
            // comes from the same intervals as the heart rate
            push(&mut self.sdnn_ms, f64::from(v), hr_anchored);
        }
        if let Some(p) = pm {
            push(&mut self.model_logit, f64::from(logit(p)), model_anchored);
        }
        if let Some(p) = pf {
            push(
                &mut self.fallback_logit,
                f64::from(logit(p)),
                fallback_anchored,
            );
        }
        if features_ok {
            self.learn_features(&obs.features, alpha, mature, &anchored_features);
        }
        self.windows += 1;
        self.updated_ms = obs.end_ms;
        if self.anchor.is_some() {
            self.complete_anchor(mature);
        }
        if let Some(anchor) = &self.anchor {
            self.bound_drift(&anchor.clone(), config);
        }
        Ok(())
    }

    /// Values the anchor lacks join it once warm (`mature` windows).
    fn complete_anchor(&mut self, mature: u64) {
        let warm = |s: &RunningStat| (s.n >= mature).then_some(s.mean);
        let (hr, rmssd, model, fallback) = (
            warm(&self.hr_bpm),
            warm(&self.rmssd_ms),
            warm(&self.model_logit),
            warm(&self.fallback_logit),
        );
        let Some(a) = self.anchor.as_mut() else {
            return;
        };
        a.hr_bpm = a.hr_bpm.or(hr);
        a.rmssd_ms = a.rmssd_ms.or(rmssd);
        a.model_logit = a.model_logit.or(model);
        a.fallback_logit = a.fallback_logit.or(fallback);
        if a.features.len() != self.features.len() {
            a.features = vec![f32::NAN; self.features.len()];
        }
        for ((c, &m), &n) in a
            .features
            .iter_mut()
            .zip(&self.features)
            .zip(&self.feature_counts)
        {
            if !c.is_finite() && n >= mature {
                *c = m;
            }
        }
    }

    /// Per feature, equal weights over the windows where it was finite until `mature` of them
    /// (1 for a feature the anchor holds), exponential weight `alpha` after; non-finite values
    /// are skipped.
    fn learn_features(&mut self, x: &[f32], alpha: Option<f64>, mature: u64, anchored: &[bool]) {
        if self.features.is_empty() {
            self.features = vec![f32::NAN; x.len()];
            self.feature_counts = vec![0; x.len()];
        } else if self.feature_counts.len() != self.features.len() {
            self.feature_counts = vec![self.feature_windows; self.features.len()];
        }
        self.feature_windows += 1;
        for (((m, n), &v), &anchored) in self
            .features
            .iter_mut()
            .zip(&mut self.feature_counts)
            .zip(x)
            .zip(anchored.iter().chain(std::iter::repeat(&false)))
        {
            if !v.is_finite() {
                continue;
            }
            let warmup = if anchored { 1 } else { mature };
            *n += 1;
            if !m.is_finite() {
                *m = v;
                *n = 1;
                continue;
            }
            let w = match alpha {
                Some(a) if *n > warmup => a,
                _ => 1.0 / *n as f64,
            };
            // In f64: a convex combination of finite f32 values stays finite.
            let (mf, vf) = (f64::from(*m), f64::from(v));
            *m = (mf + w * (vf - mf)) as f32;
        }
    }

    fn current_anchor(&self) -> BaselineAnchor {
        let mean = |s: &RunningStat| (s.n > 0).then_some(s.mean);
        BaselineAnchor {
            hr_bpm: mean(&self.hr_bpm),
            rmssd_ms: mean(&self.rmssd_ms),
            model_logit: mean(&self.model_logit),
            fallback_logit: mean(&self.fallback_logit),
            features: self.features.clone(),
        }
    }

    fn bound_drift(&mut self, a: &BaselineAnchor, c: &BaselineConfig) {
        let around = |s: &mut RunningStat, centre: Option<f64>, half: f64| {
            if let Some(c) = centre {
                s.clamp_mean(c - half, c + half);
            }
        };
        around(&mut self.hr_bpm, a.hr_bpm, c.max_drift_hr_bpm);
        let rmssd_half = a.rmssd_ms.unwrap_or(0.0).abs() * c.max_drift_relative;
        around(&mut self.rmssd_ms, a.rmssd_ms, rmssd_half);
        around(&mut self.model_logit, a.model_logit, c.max_drift_logit);
        around(
            &mut self.fallback_logit,
            a.fallback_logit,
            c.max_drift_logit,
        );
        if a.features.len() == self.features.len() {
            let rel = c.max_drift_relative as f32;
            for (m, centre) in self.features.iter_mut().zip(&a.features) {
                // a feature the anchor never had is not bounded (clamp panics on NaN bounds)
                if centre.is_finite() && m.is_finite() {
                    let half = centre.abs() * rel;
                    *m = m.clamp(centre - half, centre + half);
                }
            }
        }
    }
}

/// `Vec<f32>` with NaN stored as JSON `null` (serde_json writes NaN as `null` but cannot read it
/// back as `f32`).
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| x.is_finite().then_some(*x)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        let v: Vec<Option<f32>> = Vec::deserialize(d)?;
        Ok(v.into_iter().map(|x| x.unwrap_or(f32::NAN)).collect())
    }
}
