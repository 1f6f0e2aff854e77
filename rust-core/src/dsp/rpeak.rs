//! Streaming R-peak detector: one sample in, at most one [`Peak`] out, no allocation per sample.
//!
//! Detection follows Pan & Tompkins, "A real-time QRS detection algorithm",
//! IEEE Trans. Biomed. Eng. 32(3):230–236, 1985:
//! band-pass (5–15 Hz) → derivative → square → moving-window integration (150 ms) → peaks of
//! the integrated signal classified against adaptive thresholds
//! (`THR1 = NPK + 0.25 (SPK − NPK)`, `THR2 = THR1 / 2`, running estimates updated with weight
//! 1/8), 200 ms refractory period, T-wave rejection within 360 ms by slope (< ½ of the previous
//! QRS slope), and search-back with `THR2` when no QRS was found for 1.66 × the mean RR.
//!
//! Deviations from the paper, and why:
//! - the filters are Butterworth biquads designed for any sampling rate (the paper's integer
//!   filters assume 200 Hz), and all windows are in seconds;
//! - only the integrated signal is thresholded (the paper also thresholds the band-passed
//!   signal); the band-passed signal is used to *locate* the QRS instead;
//! - a feature peak is the largest local maximum with no larger one within `peak_hold_s`
//!   (= the 200 ms refractory period) after it: a bounded decision delay instead of the paper's
//!   "peak when the signal falls", and a large QRS right after a sharp P-wave wins over it
//!   instead of being blanked by the refractory period;
//! - the peak value entering the signal-level estimate is capped at 3 × the current estimate,
//!   so one large artefact cannot lift the threshold above normal beats for long;
//! - learning phase: thresholds start from the first `warmup_s` (signal level = 2nd-largest
//!   feature peak among those with at least half the steepest slope: robust to one artefact
//!   and to tall T-waves at slow rates), then the peaks seen during learning are classified,
//!   so the first beats are not lost; the state says [`DetectorState::WarmingUp`] meanwhile,
//!   and stays so while the input shows no peak at all (flat line);
//!   the detector re-learns after `relearn_after_s` without any QRS (amplitude change, lead
//!   re-attached) or after a gap of invalid (NaN/inf) samples longer than `max_invalid_gap_s`;
//!   without a rhythm yet (fewer than two RR intervals since learning: no search-back), it
//!   re-learns already after `searchback_rr_factor × max_rr_s` (3.3 s) without a QRS, from the
//!   peaks held since the last one (an artefact while learning set a level no beat reaches;
//!   those beats are found, late, instead of lost);
//! - search-back only considers candidates at least `max(refractory, RR/2)` after the
//!   previous beat (skips T-waves) and may recover several missed beats in a row; when even
//!   `THR2` finds nothing, the signal level is halved once per mean RR of silence (at most
//!   twice) and the search repeated (recovers quickly from a sudden amplitude drop);
//! - an absolute floor (the only one; the input is in mV): a feature peak whose steepest
//!   slope is under `min_slope_mv_per_s` (0.1 mV/s; real QRS complexes have ~1-100 mV/s, a
//!   QRS of 2 µV about 0.1) is never a QRS, only noise: the relative thresholds otherwise find
//!   "beats" in a flat line's resampling ripple or a held value's filter tail (~1e-5 mV/s);
//! - the paper's halving of thresholds for irregular rhythms is *not* used: on noisy records
//!   it feeds back (false beats → irregular RR → lower thresholds → more false beats);
//! - localisation (not in the paper, whose fiducial point is ≈ 45 ms late): the R-peak is the
//!   extremum of the input (0.5 Hz high-passed: negligible delay at QRS frequencies) inside
//!   the stretch whose energy the integration window summed — moved back by the band-pass
//!   group delay at 10 Hz (computed from the design) and the derivative's 1 sample, widened by
//!   `refine_margin_s` (10 ms) — measured from the local median (± 200 ms around the largest
//!   |band-passed| sample). The positive extremum (R-wave) is taken unless the
//!   negative one is `negative_preference` (1.5) times larger (inverted leads, QS complexes,
//!   many PVCs). So `Peak::index` is in the input's own sampling and sits on the R-wave, or
//!   on the dominant deflection of inverted / ventricular beats, as MIT-BIH annotates them.
//!   The lead's polarity is remembered: a beat whose two deflections are about equal (an RS
//!   complex, common on a chest strap) takes the one its predecessors took, so that the fiducial
//!   does not jump between R and S from beat to beat (a jump of 20-40 ms that every RR interval
//!   and HRV figure inherits). The lead is "negative" while the median log ratio
//!   |negative| / positive of the last [`POLARITY_BEATS`] beats is above log `negative_preference`
//!   (with a hysteresis of [`POLARITY_HYSTERESIS`]; the first beat sets it); only a beat whose
//!   ratio is [`POLARITY_OWN_SHAPE`] times off that median (another shape: a PVC) is judged on
//!   its own ratio.
//!
//! Latency: a peak is reported at most [`RPeakDetector::nominal_latency_samples`] after the
//! R-wave in normal operation: band-pass delay + integration window + hold ≈ 0.39 s
//! (386 ms at 360 Hz, 400 ms at 130 Hz). Peaks recovered by search-back come about
//! 1.66 × mean RR after the previous beat (later after signal-level halvings), peaks of the
//! learning phase when it ends (2 s), peaks held while there was no rhythm when it re-learns
//! (3.3 s after the last QRS); none later than [`RPeakDetector::max_latency_samples`]
//! (≈ 7.7 s, reached only with RR ≥ 2 s and two halvings). [`Peak::reported_at`] tells each
//! peak's actual delay.

use crate::dsp::filter::{EcgFilter, EcgFilterConfig, validate_sampling_rate};
use crate::error::{Error, Result};

/// Parameters of the detector (all times in seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorConfig {
    /// Detection band-pass corners (Pan–Tompkins: 5–15 Hz).
    pub band_low_hz: f64,
    pub band_high_hz: f64,
    /// Moving-window integration length (Pan–Tompkins: 150 ms).
    pub integration_window_s: f64,
    /// A feature peak is final when no larger one follows within this time.
    pub peak_hold_s: f64,
    /// No second QRS within this time (200 ms).
    pub refractory_s: f64,
    /// Inside this time after a QRS, a candidate needs ≥ ½ of the previous QRS slope.
    pub t_wave_window_s: f64,
    /// Learning phase at the start (and after re-learning).
    pub warmup_s: f64,
    /// Search back when no QRS for this multiple of the mean RR (1.66).
    pub searchback_rr_factor: f64,
    /// RR intervals are clamped to this when averaged (bounds the search-back latency).
    pub max_rr_s: f64,
    /// Re-learn thresholds when no QRS was found for this long.
    pub relearn_after_s: f64,
    /// Re-learn after this many seconds of invalid (non-finite) input.
    pub max_invalid_gap_s: f64,
    /// The R-peak is searched on the input inside the integration window's stretch (moved back
    /// by the filter delay), widened by this margin on both sides.
    pub refine_margin_s: f64,
    /// The negative extremum is taken as the R-peak only when it exceeds the positive one by
    /// this factor (R-waves are annotated on the positive deflection when there is one).
    pub negative_preference: f32,
    /// A feature peak whose steepest slope (of the band-passed input, mV/s) is below this is
    /// not a QRS (flat line, resampling ripple, a held value's filter tail).
    pub min_slope_mv_per_s: f32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            band_low_hz: 5.0,
            band_high_hz: 15.0,
            integration_window_s: 0.15,
            peak_hold_s: 0.2,
            refractory_s: 0.2,
            t_wave_window_s: 0.36,
            warmup_s: 2.0,
            searchback_rr_factor: 1.66,
            max_rr_s: 2.0,
            relearn_after_s: 8.0,
            max_invalid_gap_s: 1.0,
            refine_margin_s: 0.01,
            negative_preference: 1.5,
            min_slope_mv_per_s: 0.1,
        }
    }
}

/// One detected R-peak.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Peak {
    /// Sample index of the R-peak in the input's own sampling (0 = first pushed sample).
    pub index: u64,
    /// Signed deflection at the peak relative to the local median, in input units
    /// (negative for inverted / QS beats).
    pub amplitude: f32,
    /// Found by search-back (lower confidence).
    pub searchback: bool,
    /// Index of the sample whose `push` reported this peak (latency = `reported_at - index`).
    pub reported_at: u64,
}

/// What the detector is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectorState {
    /// Learning thresholds; peaks of this phase are reported when it ends.
    WarmingUp { remaining_samples: u32 },
    /// Detecting.
    Running,
    /// The input is currently invalid (NaN/inf); held at the last valid value.
    InvalidInput { samples: u32 },
}

#[derive(Debug, Clone, Copy, Default)]
struct FeaturePeak {
    /// Index in the integrated-signal domain.
    k: u64,
    value: f64,
    slope: f32,
}

/// Beats whose deflection ratios decide the lead's polarity.
pub const POLARITY_BEATS: usize = 9;
/// The median log ratio must pass log `negative_preference` by this to switch the lead.
pub const POLARITY_HYSTERESIS: f32 = 0.15;
/// A beat whose ratio differs from the lead's median ratio by more than this factor has another
/// shape (a PVC): its own dominant deflection is taken, whatever the lead's polarity.
pub const POLARITY_OWN_SHAPE: f32 = 2.0;

const MAX_CANDIDATES: usize = 64;
const MAX_PENDING: usize = 32;
const RR_HISTORY: usize = 8;
/// At most this many halvings of the signal level per silence (then re-learning takes over),
/// so a genuine long pause does not lower the threshold into P-waves and noise.
const MAX_DECAYS: u32 = 2;

/// The streaming detector. See the module docs.
#[derive(Debug, Clone)]
pub struct RPeakDetector {
    cfg: DetectorConfig,
    fs: f64,
    // derived lengths in samples
    win: usize,
    hold: u64,
    refractory: u64,
    t_wave: u64,
    warmup: u64,
    relearn: u64,
    max_gap: u32,
    refine: usize,
    baseline_half: usize,
    bp_delay: f64,
    decay_at: u64,
    decays: u32,
    finishing: bool,
    // filters
    bp: EcgFilter,
    hp: EcgFilter,
    // rings (power-of-two length)
    mask: usize,
    ring_in: Vec<f32>,
    ring_bp: Vec<f32>,
    ring_d: Vec<f32>,
    scratch: Vec<f32>,
    // integration
    mwi_sum: f64,
    f1: f64,
    f2: f64,
    cand: Option<FeaturePeak>,
    // state
    n: u64,
    learn_until: u64,
    learning: bool,
    learn_sum: f64,
    learn_count: u64,
    /// Sum and count of the integrated signal since the last QRS (re-learning from held peaks).
    quiet_sum: f64,
    quiet_count: u64,
    /// Silence after a QRS that re-learns while there is no rhythm yet.
    no_rhythm_relearn: u64,
    spk: f64,
    npk: f64,
    last_qrs: Option<u64>,
    last_slope: f32,
    last_reported: Option<u64>,
    rr: [f64; RR_HISTORY],
    rr_len: usize,
    rr_pos: usize,
    sb_dirty: bool,
    /// Sample at which the search-back must be evaluated again even without news.
    sb_wake: u64,
    cands: [FeaturePeak; MAX_CANDIDATES],
    cands_len: usize,
    pending: [Peak; MAX_PENDING],
    pending_head: usize,
    pending_len: usize,
    last_valid: f32,
    invalid_run: u32,
    /// ln(|negative| / positive deflection) of the last located beats (ring).
    polarity_logs: [f32; POLARITY_BEATS],
    polarity_len: usize,
    polarity_pos: usize,
    negative_lead: bool,
}

/// How many (mean) RR intervals after a beat the search-back may still report a peak:
/// the search-back point plus one RR per signal-level halving.
fn searchback_horizon_rr(cfg: &DetectorConfig) -> f64 {
    cfg.searchback_rr_factor + f64::from(MAX_DECAYS)
}

fn secs(fs: f64, s: f64) -> usize {
    (s * fs).round().max(1.0) as usize
}

impl RPeakDetector {
    /// A detector for sampling rate `fs` (Hz) with default parameters.
    pub fn new(fs: f64) -> Result<Self> {
        Self::with_config(fs, DetectorConfig::default())
    }

    /// A detector with explicit parameters. All buffers are allocated here.
    pub fn with_config(fs: f64, cfg: DetectorConfig) -> Result<Self> {
        validate_sampling_rate(fs)?;
        let times = [
            cfg.integration_window_s,
            cfg.peak_hold_s,
            cfg.refractory_s,
            cfg.t_wave_window_s,
            cfg.warmup_s,
            cfg.searchback_rr_factor,
            cfg.max_rr_s,
            cfg.relearn_after_s,
            cfg.max_invalid_gap_s,
            cfg.refine_margin_s,
        ];
        if times.iter().any(|t| !(t.is_finite() && *t > 0.0))
            || !(cfg.min_slope_mv_per_s.is_finite() && cfg.min_slope_mv_per_s >= 0.0)
            || cfg.integration_window_s > 1.0
            || cfg.max_rr_s > 5.0
        {
            return Err(Error::InvalidArgument(format!(
                "detector parameters out of range: {cfg:?}"
            )));
        }
        let bp_cfg = EcgFilterConfig {
            highpass_hz: Some(cfg.band_low_hz),
            lowpass_hz: Some(cfg.band_high_hz),
            order: 2,
            notch_hz: None,
            notch_q: 30.0,
        };
        let bp = EcgFilter::new(fs, &bp_cfg)?;
        let hp = EcgFilter::new(
            fs,
            &EcgFilterConfig {
                lowpass_hz: None,
                ..EcgFilterConfig::default()
            },
        )?;
        let bp_delay = bp.design().group_delay_samples(10.0).max(0.0);
        let win = secs(fs, cfg.integration_window_s);
        let hold = secs(fs, cfg.peak_hold_s) as u64;
        let refine = secs(fs, cfg.refine_margin_s);
        let baseline_half = secs(fs, 0.2);
        // history must cover learning and the search-back horizon plus the pipeline delay
        let horizon_s = cfg.warmup_s.max(searchback_horizon_rr(&cfg) * cfg.max_rr_s) + 1.0;
        let len = (secs(fs, horizon_s) + win + bp_delay.ceil() as usize + 2 * baseline_half)
            .next_power_of_two();
        Ok(RPeakDetector {
            cfg,
            fs,
            win,
            hold,
            refractory: secs(fs, cfg.refractory_s) as u64,
            t_wave: secs(fs, cfg.t_wave_window_s) as u64,
            warmup: secs(fs, cfg.warmup_s) as u64,
            relearn: secs(fs, cfg.relearn_after_s) as u64,
            max_gap: secs(fs, cfg.max_invalid_gap_s).min(u32::MAX as usize) as u32,
            refine,
            baseline_half,
            bp_delay,
            decay_at: u64::MAX,
            decays: 0,
            finishing: false,
            bp,
            hp,
            mask: len - 1,
            ring_in: vec![0.0; len],
            ring_bp: vec![0.0; len],
            ring_d: vec![0.0; len],
            scratch: vec![0.0; 2 * baseline_half + 1],
            mwi_sum: 0.0,
            f1: 0.0,
            f2: 0.0,
            cand: None,
            n: 0,
            learn_until: secs(fs, cfg.warmup_s) as u64,
            learning: true,
            learn_sum: 0.0,
            learn_count: 0,
            quiet_sum: 0.0,
            quiet_count: 0,
            no_rhythm_relearn: (cfg.searchback_rr_factor * cfg.max_rr_s * fs).ceil() as u64,
            spk: 0.0,
            npk: 0.0,
            last_qrs: None,
            last_slope: 0.0,
            last_reported: None,
            rr: [0.0; RR_HISTORY],
            rr_len: 0,
            rr_pos: 0,
            sb_dirty: false,
            sb_wake: u64::MAX,
            cands: [FeaturePeak::default(); MAX_CANDIDATES],
            cands_len: 0,
            pending: [Peak::default(); MAX_PENDING],
            pending_head: 0,
            pending_len: 0,
            last_valid: 0.0,
            invalid_run: 0,
            polarity_logs: [0.0; POLARITY_BEATS],
            polarity_len: 0,
            polarity_pos: 0,
            negative_lead: false,
        })
    }

    /// The parameters.
    pub fn config(&self) -> &DetectorConfig {
        &self.cfg
    }

    /// Sampling rate in Hz.
    pub fn sampling_rate_hz(&self) -> f64 {
        self.fs
    }

    /// Typical delay, in samples, between an R-wave and the `push` that reports it:
    /// band-pass group delay + integration window + hold time.
    pub fn nominal_latency_samples(&self) -> u64 {
        self.bp_delay.ceil() as u64 + self.win as u64 + self.hold + 1
    }

    /// Upper bound on the report delay (search-back / learning), in samples.
    pub fn max_latency_samples(&self) -> u64 {
        let horizon = (searchback_horizon_rr(&self.cfg) * self.cfg.max_rr_s).max(self.cfg.warmup_s);
        (horizon * self.fs).ceil() as u64 + self.nominal_latency_samples()
    }

    /// What the detector is doing now.
    pub fn state(&self) -> DetectorState {
        if self.invalid_run > 0 {
            DetectorState::InvalidInput {
                samples: self.invalid_run,
            }
        } else if self.learning {
            DetectorState::WarmingUp {
                remaining_samples: self
                    .learn_until
                    .saturating_sub(self.n)
                    .min(u64::from(u32::MAX)) as u32,
            }
        } else {
            DetectorState::Running
        }
    }

    /// Number of samples pushed so far.
    pub fn samples_seen(&self) -> u64 {
        self.n
    }

    /// Push one sample; returns the next reported peak, if any. Non-finite samples are invalid:
    /// the last valid value is held and a long run of them restarts learning.
    #[inline]
    pub fn push(&mut self, x: f32) -> Option<Peak> {
        let x = if x.is_finite() {
            if self.invalid_run > self.max_gap {
                self.restart_learning();
            }
            self.invalid_run = 0;
            self.last_valid = x;
            x
        } else {
            self.invalid_run = self.invalid_run.saturating_add(1);
            self.last_valid
        };
        self.step(x);
        self.n += 1;
        self.pop()
    }

    /// Take a reported peak that is still queued (when several became final at once).
    pub fn pop(&mut self) -> Option<Peak> {
        if self.pending_len == 0 {
            return None;
        }
        let p = self.pending[self.pending_head];
        self.pending_head = (self.pending_head + 1) % MAX_PENDING;
        self.pending_len -= 1;
        Some(p)
    }

    /// End of input: decide the pending candidate and learning phase now. Drain with [`Self::pop`].
    pub fn finish(&mut self) {
        self.finishing = true;
        if let Some(c) = self.cand.take() {
            self.on_feature_peak(self.with_slope(c));
        }
        if self.learning {
            self.end_learning();
        }
        self.searchback();
    }

    fn restart_learning(&mut self) {
        self.bp.reset();
        self.hp.reset();
        self.mwi_sum = 0.0;
        self.f1 = 0.0;
        self.f2 = 0.0;
        self.cand = None;
        // the integrator subtracts old derivative values: forget them with the filter state
        self.ring_d.iter_mut().for_each(|v| *v = 0.0);
        self.restart_learning_keep_filters();
    }

    #[inline]
    fn step(&mut self, x: f32) {
        let n = self.n as usize;
        let i = n & self.mask;
        self.ring_in[i] = self.hp.push(x);
        let b = self.bp.push(x);
        self.ring_bp[i] = b;
        // central difference (delay 1 sample), in units/s
        let d = if n >= 2 {
            (b - self.ring_bp[(n - 2) & self.mask]) * (0.5 * self.fs) as f32
        } else {
            0.0
        };
        self.ring_d[i] = d;
        let old = if n >= self.win {
            self.ring_d[(n - self.win) & self.mask]
        } else {
            0.0
        };
        self.mwi_sum += f64::from(d) * f64::from(d) - f64::from(old) * f64::from(old);
        if self.mwi_sum < 0.0 {
            self.mwi_sum = 0.0;
        }
        let f = self.mwi_sum / self.win as f64;
        if self.learning {
            self.learn_sum += f;
            self.learn_count += 1;
        } else {
            self.quiet_sum += f;
            self.quiet_count += 1;
        }
        // local maximum at n-1?
        if self.f1 > self.f2 && self.f1 >= f && self.cand.is_none_or(|c| self.f1 > c.value) {
            self.cand = Some(FeaturePeak {
                k: self.n - 1,
                value: self.f1,
                slope: 0.0,
            });
        }
        self.f2 = self.f1;
        self.f1 = f;
        if let Some(c) = self.cand
            && self.n >= c.k + self.hold
        {
            self.cand = None;
            self.on_feature_peak(self.with_slope(c));
        }
        if self.learning && self.n + 1 >= self.learn_until {
            self.end_learning();
        }
        if !self.learning {
            if self.sb_dirty || self.n >= self.sb_wake {
                self.searchback();
            }
            if let Some(q) = self.last_qrs {
                if self.rr_len < 2 && self.n > q + self.no_rhythm_relearn {
                    self.relearn_from_held_peaks();
                } else if self.n > q + self.relearn {
                    self.restart_learning_keep_filters();
                }
            }
        }
    }

    fn restart_learning_keep_filters(&mut self) {
        self.learning = true;
        self.learn_until = self.n + self.warmup;
        self.learn_sum = 0.0;
        self.learn_count = 0;
        self.cands_len = 0;
        self.forget_rhythm();
    }

    /// No rhythm since learning: the level came from an artefact (or the amplitude fell at
    /// once). Learn again from the peaks held since the last QRS and classify them.
    fn relearn_from_held_peaks(&mut self) {
        if self.cands_len == 0 {
            self.restart_learning_keep_filters();
            return;
        }
        self.learn_sum = self.quiet_sum;
        self.learn_count = self.quiet_count;
        self.forget_rhythm();
        self.end_learning();
    }

    /// Before learning again: no last QRS, no RR history, no search-back pending.
    fn forget_rhythm(&mut self) {
        self.last_qrs = None;
        self.rr_len = 0;
        self.sb_dirty = false;
        self.sb_wake = u64::MAX;
        self.decay_at = u64::MAX;
        self.decays = 0;
    }

    fn max_abs(&self, ring: &[f32], from: u64, to: u64) -> f32 {
        let mut m = 0.0f32;
        for k in from..=to {
            m = m.max(ring[(k as usize) & self.mask].abs());
        }
        m
    }

    /// `p` with its slope: the steepest derivative inside the integration window ending at it.
    fn with_slope(&self, p: FeaturePeak) -> FeaturePeak {
        let slope = self.max_abs(&self.ring_d, p.k.saturating_sub(self.win as u64), p.k);
        FeaturePeak { slope, ..p }
    }

    fn on_feature_peak(&mut self, p: FeaturePeak) {
        if p.slope < self.cfg.min_slope_mv_per_s {
            // too flat to be a QRS: noise for the thresholds once running, never a candidate
            if !self.learning {
                self.track_noise(p.value);
            }
            return;
        }
        if self.learning {
            self.add_candidate(p);
        } else {
            self.classify(p);
        }
    }

    fn add_candidate(&mut self, p: FeaturePeak) {
        if self.cands_len == MAX_CANDIDATES {
            self.cands.copy_within(1.., 0);
            self.cands_len -= 1;
        }
        self.cands[self.cands_len] = p;
        self.cands_len += 1;
        self.sb_dirty = true;
    }

    fn end_learning(&mut self) {
        if self.cands_len == 0 && !self.finishing {
            // nothing that looks like a beat yet (flat line, lead off): keep warming up
            self.learn_until = self.n + self.warmup;
            self.learn_sum = 0.0;
            self.learn_count = 0;
            return;
        }
        self.learning = false;
        // signal level: 2nd-largest of the QRS-like peaks of the learning phase (robust to one
        // artefact); QRS-like = at least half the steepest slope (T- and P-waves are flatter)
        let steepest = self.cands[..self.cands_len]
            .iter()
            .fold(0.0f32, |m, c| m.max(c.slope));
        let (mut a, mut b) = (0.0f64, 0.0f64);
        for c in self.cands[..self.cands_len]
            .iter()
            .filter(|c| c.slope >= 0.5 * steepest)
        {
            if c.value > a {
                b = a;
                a = c.value;
            } else if c.value > b {
                b = c.value;
            }
        }
        let mean = if self.learn_count > 0 {
            self.learn_sum / self.learn_count as f64
        } else {
            0.0
        };
        self.spk = if b > 0.0 { b } else { a };
        self.npk = 0.5 * mean.min(self.spk);
        self.quiet_sum = 0.0;
        self.quiet_count = 0;
        // classify what was seen while learning, in order
        let n = self.cands_len;
        let mut tmp = [FeaturePeak::default(); MAX_CANDIDATES];
        tmp[..n].copy_from_slice(&self.cands[..n]);
        self.cands_len = 0;
        for c in &tmp[..n] {
            self.classify(*c);
        }
    }

    fn thr1(&self) -> f64 {
        self.npk + 0.25 * (self.spk - self.npk)
    }

    fn classify(&mut self, p: FeaturePeak) {
        if let Some(last) = self.last_qrs {
            if p.k < last + self.refractory {
                return;
            }
            if p.value > self.thr1() {
                if p.k < last + self.t_wave && p.slope < 0.5 * self.last_slope {
                    self.noise(p);
                } else {
                    self.accept(p, false);
                }
                return;
            }
        } else if p.value > self.thr1() {
            self.accept(p, false);
            return;
        }
        self.noise(p);
    }

    fn noise(&mut self, p: FeaturePeak) {
        self.track_noise(p.value);
        self.add_candidate(p);
    }

    fn track_noise(&mut self, value: f64) {
        self.npk = 0.125 * value + 0.875 * self.npk;
    }

    fn rr_mean(&self) -> Option<f64> {
        (self.rr_len >= 2).then(|| self.rr[..self.rr_len].iter().sum::<f64>() / self.rr_len as f64)
    }

    /// Search-back (evaluated only when due, when a candidate arrives, or to decay; so the
    /// per-sample cost stays constant).
    fn searchback(&mut self) {
        self.sb_dirty = false;
        self.sb_wake = u64::MAX;
        loop {
            let (Some(last), Some(rr)) = (self.last_qrs, self.rr_mean()) else {
                return;
            };
            let due = (last as f64 + self.cfg.searchback_rr_factor * rr).ceil() as u64;
            if self.n < due {
                self.sb_wake = due;
                return;
            }
            let min_gap = (self.refractory as f64).max(0.5 * rr);
            let thr2 = 0.5 * self.thr1();
            let mut best: Option<FeaturePeak> = None;
            for c in &self.cands[..self.cands_len] {
                if (c.k as f64) >= last as f64 + min_gap
                    && c.value > thr2
                    && best.is_none_or(|b| c.value > b.value)
                {
                    best = Some(*c);
                }
            }
            match best {
                Some(b) => self.accept(b, true),
                None => {
                    // nothing even at THR2: the amplitude may have dropped; lower the signal
                    // level by half once per mean RR of silence and look again
                    if self.n >= self.decay_at && self.decays < MAX_DECAYS {
                        self.spk = (0.5 * self.spk).max(self.npk);
                        self.decays += 1;
                        self.decay_at = self.n + rr as u64;
                        continue;
                    }
                    if self.decay_at == u64::MAX {
                        self.decay_at = self.n + rr as u64;
                    }
                    if self.decays < MAX_DECAYS {
                        self.sb_wake = self.decay_at;
                    }
                    return;
                }
            }
        }
    }

    fn accept(&mut self, p: FeaturePeak, searchback: bool) {
        let v = p.value.min(3.0 * self.spk.max(f64::MIN_POSITIVE));
        let v = if self.spk <= 0.0 { p.value } else { v };
        let w = if searchback { 0.25 } else { 0.125 };
        self.spk = w * v + (1.0 - w) * self.spk;
        self.decay_at = u64::MAX;
        self.decays = 0;
        self.quiet_sum = 0.0;
        self.quiet_count = 0;
        if let Some(last) = self.last_qrs {
            let rr = ((p.k - last) as f64).min(self.cfg.max_rr_s * self.fs);
            self.rr[self.rr_pos] = rr;
            self.rr_pos = (self.rr_pos + 1) % RR_HISTORY;
            self.rr_len = (self.rr_len + 1).min(RR_HISTORY);
        }
        self.last_qrs = Some(p.k);
        self.last_slope = p.slope;
        // candidates up to this beat are spent
        let keep_from = self.cands[..self.cands_len]
            .iter()
            .position(|c| c.k > p.k)
            .unwrap_or(self.cands_len);
        self.cands.copy_within(keep_from..self.cands_len, 0);
        self.cands_len -= keep_from;
        self.sb_dirty = self.cands_len > 0;
        if let Some(peak) = self.locate(p.k, searchback) {
            self.enqueue(peak);
        }
    }

    /// Oldest sample index still in the rings.
    fn oldest(&self) -> u64 {
        (self.n + 1).saturating_sub(self.mask as u64 + 1)
    }

    fn locate(&mut self, k: u64, searchback: bool) -> Option<Peak> {
        let oldest = self.oldest();
        let reach = self.win as u64 + self.bp_delay.ceil() as u64 + self.baseline_half as u64 + 2;
        if oldest > 0 && k < oldest + reach {
            return None; // no longer in the history (cannot happen with the sizes chosen in `new`)
        }
        let newest = self.n;
        // coarse: largest |band-passed| inside the integration window that produced the peak
        let from = k.saturating_sub(self.win as u64 + 1).max(oldest);
        let mut j = from;
        let mut m = -1.0f32;
        for t in from..=k.min(newest) {
            let v = self.ring_bp[(t as usize) & self.mask].abs();
            if v > m {
                m = v;
                j = t;
            }
        }
        let c = (j as f64 - self.bp_delay).round().max(0.0) as u64;
        // local median of the (0.5 Hz high-passed) input as the reference level
        let b_from = c.saturating_sub(self.baseline_half as u64).max(oldest);
        let b_to = (c + self.baseline_half as u64).min(newest);
        let mut cnt = 0;
        for t in b_from..=b_to {
            if cnt < self.scratch.len() {
                self.scratch[cnt] = self.ring_in[(t as usize) & self.mask];
                cnt += 1;
            }
        }
        if cnt == 0 {
            return None;
        }
        let s = &mut self.scratch[..cnt];
        let mid = cnt / 2;
        let (_, med, _) = s.select_nth_unstable_by(mid, f32::total_cmp);
        let base = *med;
        // refine: the extremum of the input inside the stretch whose energy the integration
        // window summed (moved back by band-pass + derivative delay), widened by the margin
        let d = self.bp_delay.round() as u64 + 1;
        let r_from = k
            .saturating_sub(self.win as u64 + d + self.refine as u64)
            .max(oldest);
        let r_to = (k.saturating_sub(d) + self.refine as u64).min(newest);
        let (mut imax, mut vmax, mut imin, mut vmin) = (c, f32::MIN, c, f32::MAX);
        for t in r_from..=r_to {
            let v = self.ring_in[(t as usize) & self.mask] - base;
            if v > vmax {
                vmax = v;
                imax = t;
            }
            if v < vmin {
                vmin = v;
                imin = t;
            }
        }
        let positive = self.take_positive(vmax, vmin);
        let (index, amplitude) = if positive { (imax, vmax) } else { (imin, vmin) };
        if self.last_reported.is_some_and(|l| index <= l) {
            return None;
        }
        self.last_reported = Some(index);
        Some(Peak {
            index,
            amplitude,
            searchback,
            reported_at: self.n,
        })
    }

    /// Which deflection of a beat (`vmax` ≥ 0 ≥ `vmin` around the local median) is its R-peak:
    /// the lead's polarity unless the beat's own ratio clearly says otherwise; then remember
    /// the beat's ratio.
    fn take_positive(&mut self, vmax: f32, vmin: f32) -> bool {
        const FLOOR: f32 = 1e-6;
        let log_ratio = ((-vmin).max(FLOOR) / vmax.max(FLOOR)).ln().clamp(-4.0, 4.0);
        let threshold = self.cfg.negative_preference.max(FLOOR).ln();
        let own_positive = log_ratio <= threshold;
        let positive = if self.polarity_len == 0 {
            self.negative_lead = !own_positive; // the first beat sets the lead's polarity
            own_positive
        } else {
            let mut sorted = self.polarity_logs;
            let recent = &mut sorted[..self.polarity_len];
            recent.sort_unstable_by(f32::total_cmp);
            let median = recent[self.polarity_len / 2];
            if median > threshold + POLARITY_HYSTERESIS {
                self.negative_lead = true;
            } else if median < threshold - POLARITY_HYSTERESIS {
                self.negative_lead = false;
            }
            if (log_ratio - median).abs() > POLARITY_OWN_SHAPE.ln() {
                own_positive // a beat of another shape (a PVC) keeps its own dominant deflection
            } else {
                !self.negative_lead
            }
        };
        self.polarity_logs[self.polarity_pos] = log_ratio;
        self.polarity_pos = (self.polarity_pos + 1) % POLARITY_BEATS;
        self.polarity_len = (self.polarity_len + 1).min(POLARITY_BEATS);
        positive
    }

    fn enqueue(&mut self, p: Peak) {
        if self.pending_len == MAX_PENDING {
            // consumer is not draining: drop the oldest
            self.pending_head = (self.pending_head + 1) % MAX_PENDING;
            self.pending_len -= 1;
        }
        let tail = (self.pending_head + self.pending_len) % MAX_PENDING;
        self.pending[tail] = p;
        self.pending_len += 1;
    }
}

/// Where the extremum near the middle of three consecutive samples lies: the vertex of the
/// parabola through them, as an offset from the middle sample. `None` when the three have no
/// extremum within one sample of the middle (a straight line, a slope, a non-finite sample).
pub fn sub_sample_offset(before: f32, at: f32, after: f32) -> Option<f64> {
    let (b, a, c) = (f64::from(before), f64::from(at), f64::from(after));
    let offset = 0.5 * (b - c) / (b - 2.0 * a + c);
    (offset.is_finite() && offset.abs() <= 1.0).then_some(offset)
}

/// How far (in samples, within ±1.5) the R-peak at sample `index` lies from it: the vertex of
/// the parabola through it and its two neighbours ([`sub_sample_offset`]), fitted around the
/// neighbour instead when the vertex is nearer that one (a detector may pick either of two
/// samples about equally high). `sample(i)` gives sample `i`, `None` where it is not held; 0 when
/// there is no such vertex.
///
/// At 130 Hz one sample is 7.7 ms, and R-peaks on whole samples add that quantisation to every
/// RR interval and to RMSSD; the HRV standard (Task Force of the ESC and NASPE, Circulation
/// 93:1043–1065, 1996) accepts sampling rates down to 100 Hz only with such a parabolic
/// refinement of the R-wave fiducial point.
pub fn peak_offset(index: u64, sample: impl Fn(u64) -> Option<f32>) -> f64 {
    let vertex = |i: u64| sub_sample_offset(sample(i.checked_sub(1)?)?, sample(i)?, sample(i + 1)?);
    match vertex(index) {
        Some(o) if o.abs() <= 0.5 => o,
        Some(o) => {
            let (neighbour, step) = if o > 0.0 {
                (index + 1, 1.0)
            } else {
                (index - 1, -1.0)
            };
            vertex(neighbour)
                .filter(|o| o.abs() <= 0.5)
                .map_or(0.0, |o| step + o)
        }
        None => 0.0,
    }
}

/// The R-peak at `samples[index]` refined to a fractional sample position ([`peak_offset`]).
pub fn refined_position(samples: &[f32], index: usize) -> f64 {
    index as f64 + offset_in(samples, index)
}

/// Samples from the R-peak at `samples[from]` to the one at `samples[to]`, both refined
/// ([`peak_offset`]); whole sample counts and offsets are kept apart, so that beats of one
/// shape give exactly the whole-sample interval.
pub fn refined_interval(samples: &[f32], from: usize, to: usize) -> f64 {
    (to as f64 - from as f64) + (offset_in(samples, to) - offset_in(samples, from))
}

fn offset_in(samples: &[f32], index: usize) -> f64 {
    peak_offset(index as u64, |i| samples.get(i as usize).copied())
}

/// Detect R-peaks in a whole signal (streams through [`RPeakDetector`]); returns sample indices.
/// NaN/inf samples are treated as invalid (see [`RPeakDetector::push`]). An invalid sampling
/// rate gives an empty result.
pub fn detect_peaks(samples: &[f32], fs: f64) -> Vec<usize> {
    let cfg = DetectorConfig::default();
    detect_peaks_with(samples, fs, cfg).unwrap_or_default()
}

/// [`detect_peaks`] with explicit parameters; errors on invalid parameters.
pub fn detect_peaks_with(samples: &[f32], fs: f64, cfg: DetectorConfig) -> Result<Vec<usize>> {
    let mut det = RPeakDetector::with_config(fs, cfg)?;
    let mut out = Vec::with_capacity(samples.len() / (fs as usize).max(1) * 3 + 8);
    for &x in samples {
        if let Some(p) = det.push(x) {
            out.push(p.index as usize);
            while let Some(p) = det.pop() {
                out.push(p.index as usize);
            }
        }
    }
    det.finish();
    while let Some(p) = det.pop() {
        out.push(p.index as usize);
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Synthetic ECG: Gaussian P, Q, R, S, T waves (mV) at the given beat times (s).
    pub(crate) fn synth(fs: f64, beats: &[f64], dur: f64) -> (Vec<f32>, Vec<usize>) {
        let n = (dur * fs) as usize;
        let mut x = vec![0.0f32; n];
        // (offset s, width s, amplitude mV)
        let waves = [
            (-0.2, 0.025, 0.15),
            (-0.03, 0.008, -0.1),
            (0.0, 0.01, 1.2),
            (0.03, 0.01, -0.25),
            (0.3, 0.06, 0.3),
        ];
        for &b in beats {
            for &(o, w, a) in &waves {
                let c = b + o;
                let lo = ((c - 5.0 * w) * fs).max(0.0) as usize;
                let hi = (((c + 5.0 * w) * fs) as usize).min(n);
                for (i, v) in x.iter_mut().enumerate().take(hi).skip(lo) {
                    let t = i as f64 / fs - c;
                    *v += (a * (-0.5 * (t / w).powi(2)).exp()) as f32;
                }
            }
        }
        (
            x,
            beats.iter().map(|&b| (b * fs).round() as usize).collect(),
        )
    }

    fn regular(rr: f64, dur: f64) -> Vec<f64> {
        let mut v = Vec::new();
        let mut t = 0.5;
        while t < dur - 0.5 {
            v.push(t);
            t += rr;
        }
        v
    }

    /// Every truth beat found within `tol` samples, nothing else.
    fn assert_matches(found: &[usize], truth: &[usize], tol: usize) {
        assert_eq!(found.len(), truth.len(), "found {found:?}\ntruth {truth:?}");
        for (f, t) in found.iter().zip(truth) {
            assert!(
                f.abs_diff(*t) <= tol,
                "found {f} for {t}\nfound {found:?}\ntruth {truth:?}"
            );
        }
    }

    #[test]
    fn clean_signal_at_many_rates() {
        for fs in [100.0, 130.0, 250.0, 360.0, 500.0, 1000.0] {
            let (x, truth) = synth(fs, &regular(0.8, 30.0), 30.0);
            let found = detect_peaks(&x, fs);
            assert_matches(&found, &truth, (0.006 * fs).ceil() as usize);
        }
    }

    #[test]
    fn polar_h10_rate_with_noise_and_wander() {
        let fs = 130.0;
        let (mut x, truth) = synth(fs, &regular(0.7, 60.0), 60.0);
        let mut seed = 12345u32;
        for (i, v) in x.iter_mut().enumerate() {
            let t = i as f64 / fs;
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            *v += (1.5 * (2.0 * std::f64::consts::PI * 0.3 * t).sin()) as f32 + 0.1 * noise;
        }
        let found = detect_peaks(&x, fs);
        assert_matches(&found, &truth, 2);
    }

    #[test]
    fn inverted_polarity() {
        let fs = 250.0;
        let (x, truth) = synth(fs, &regular(0.9, 30.0), 30.0);
        let inv: Vec<f32> = x.iter().map(|v| -v).collect();
        let found = detect_peaks(&inv, fs);
        assert_matches(&found, &truth, 2);
    }

    #[test]
    fn pause_gives_no_false_beats_and_recovers() {
        let fs = 360.0;
        let mut beats = regular(0.8, 20.0);
        let last = *beats.last().unwrap_or(&0.0);
        // 3.5 s sinus pause, then regular again
        let mut t = last + 3.5;
        while t < 40.0 {
            beats.push(t);
            t += 0.8;
        }
        let (x, truth) = synth(fs, &beats, 40.5);
        let found = detect_peaks(&x, fs);
        assert_matches(&found, &truth, 2);
    }

    #[test]
    fn ectopic_beat_with_other_polarity_is_found() {
        let fs = 360.0;
        let beats = regular(0.8, 30.0);
        let (mut x, mut truth) = synth(fs, &beats, 30.0);
        // a wide, negative premature beat between two normal ones
        let pvc = beats[20] + 0.5;
        for (i, v) in x.iter_mut().enumerate() {
            let t = i as f64 / fs - pvc;
            *v += (-1.8 * (-0.5 * (t / 0.03).powi(2)).exp()) as f32;
        }
        truth.push((pvc * fs).round() as usize);
        truth.sort_unstable();
        let found = detect_peaks(&x, fs);
        assert_matches(&found, &truth, 3);
    }

    /// An RS complex whose S wave is now shallower, now deeper than 1.5 × the R wave (as on
    /// a chest lead, or EEGMAT's Subject04): once the lead's polarity is settled (its first
    /// [`POLARITY_BEATS`] beats), every R-peak on the same deflection.
    #[test]
    fn rs_complexes_keep_one_deflection() {
        for fs in [130.0, 250.0, 500.0] {
            let beats = regular(0.75, 60.0);
            let n = (60.0 * fs) as usize;
            let mut x = vec![0.0f32; n];
            let s_depths = [1.25, 1.7, 1.4, 1.8, 1.3, 1.6];
            for (k, &b) in beats.iter().enumerate() {
                for (offset, amplitude) in [(0.0, 1.0), (0.04, -s_depths[k % s_depths.len()])] {
                    let c = b + offset;
                    for (i, v) in x.iter_mut().enumerate() {
                        let t = i as f64 / fs - c;
                        *v += (amplitude * (-0.5 * (t / 0.01).powi(2)).exp()) as f32;
                    }
                }
            }
            let found = detect_peaks(&x, fs);
            assert_eq!(found.len(), beats.len(), "{fs} Hz: {found:?}");
            let on_s: Vec<bool> = found
                .iter()
                .zip(&beats)
                .skip(POLARITY_BEATS)
                .map(|(&f, &b)| f as f64 / fs - b > 0.02)
                .collect();
            assert!(
                on_s.iter().all(|&s| s == on_s[0]),
                "{fs} Hz: R-peaks jump between R and S: {on_s:?}"
            );
        }
    }

    /// The lead's polarity is remembered, not fixed: a strap turned over mid-recording inverts
    /// every beat, whose ratio is then far off the remembered median, so each is judged alone
    /// (on its dominant, now negative, deflection) until the median follows.
    #[test]
    fn an_inverted_lead_is_followed_at_once() {
        let fs = 130.0;
        let (mut x, truth) = synth(fs, &regular(0.8, 60.0), 60.0);
        let half = x.len() / 2;
        x[half..].iter_mut().for_each(|v| *v = -*v);
        let found = detect_peaks(&x, fs);
        assert_matches(&found, &truth, 1);
    }

    /// A movement artefact while learning (as at the start of BioPsyKit's Vp01: 40 mV against
    /// 4 mV beats) sets a level no beat reaches, and no rhythm forms to search back from: the
    /// detector re-learns from the peaks it held and finds those beats (before, it waited 8 s).
    #[test]
    fn artefact_while_learning_does_not_hide_the_following_beats() {
        for fs in [130.0, 256.0, 360.0] {
            let beats = regular(0.75, 20.0);
            let (mut x, truth) = synth(fs, &beats, 20.0);
            for (i, v) in x.iter_mut().enumerate() {
                let t = i as f64 / fs;
                let spike = |c: f64, a: f64| a * (-0.5 * ((t - c) / 0.01).powi(2)).exp();
                *v += (spike(0.15, 40.0) + spike(0.19, -6.0) + spike(0.26, 12.0)) as f32;
            }
            let found = detect_peaks(&x, fs);
            let after: Vec<usize> = found
                .iter()
                .copied()
                .filter(|&k| k as f64 > 0.4 * fs)
                .collect();
            assert_matches(&after, &truth, 2);
        }
    }

    #[test]
    fn missed_low_amplitude_beat_recovered_by_searchback() {
        let fs = 360.0;
        let beats = regular(0.8, 30.0);
        let (mut x, truth) = synth(fs, &beats, 30.0);
        // shrink beat 20 to 40 % (energy 16 %: below THR1, above THR2)
        let c = (beats[20] * fs) as usize;
        for v in &mut x[c - 90..c + 90] {
            *v *= 0.4;
        }
        let mut det = RPeakDetector::new(fs).unwrap();
        let mut peaks = Vec::new();
        for &v in &x {
            if let Some(p) = det.push(v) {
                peaks.push(p);
            }
        }
        det.finish();
        while let Some(p) = det.pop() {
            peaks.push(p);
        }
        let found: Vec<usize> = peaks.iter().map(|p| p.index as usize).collect();
        assert_matches(&found, &truth, 2);
        let p20 = peaks
            .iter()
            .find(|p| p.index as usize == found[20])
            .unwrap();
        assert!(p20.searchback);
    }

    #[test]
    fn warming_up_state_and_latency_bounds() {
        let fs = 360.0;
        let (x, truth) = synth(fs, &regular(0.8, 30.0), 30.0);
        let mut det = RPeakDetector::new(fs).unwrap();
        assert!(matches!(det.state(), DetectorState::WarmingUp { .. }));
        let mut peaks = Vec::new();
        for (i, &v) in x.iter().enumerate() {
            if let Some(p) = det.push(v) {
                peaks.push(p);
            }
            if i == 100 {
                assert!(
                    matches!(det.state(), DetectorState::WarmingUp { remaining_samples } if remaining_samples > 0)
                );
            }
        }
        assert_eq!(det.state(), DetectorState::Running);
        assert_eq!(peaks.len(), truth.len());
        let nominal = det.nominal_latency_samples();
        assert!(nominal as f64 / fs < 0.45, "{nominal}");
        for p in &peaks {
            let lat = p.reported_at - p.index;
            assert!(lat <= det.max_latency_samples());
            // after learning, normal beats come within the nominal latency
            if p.index as f64 > 3.0 * fs && !p.searchback {
                assert!(lat <= nominal, "latency {lat} > {nominal}");
            }
        }
    }

    #[test]
    fn nan_and_inf_are_survived() {
        let fs = 250.0;
        let (mut x, truth) = synth(fs, &regular(0.8, 40.0), 40.0);
        // a short dropout inside the PR interval, and a 3 s lead-off (NaN)
        for v in &mut x[1000..1005] {
            *v = f32::NAN;
        }
        x[3000] = f32::INFINITY;
        x[3001] = f32::NEG_INFINITY;
        for v in &mut x[5000..5750] {
            *v = f32::NAN;
        }
        let found = detect_peaks(&x, fs);
        // every beat outside the NaN stretch (and its re-learning) is still found, in order
        let outside: Vec<usize> = truth
            .iter()
            .copied()
            .filter(|&t| !(4990..5760).contains(&t))
            .collect();
        for t in &outside {
            assert!(
                found.iter().any(|f| f.abs_diff(*t) <= 3),
                "beat at {t} missed: {found:?}"
            );
        }
        assert!(found.windows(2).all(|w| w[0] < w[1]));
        assert!(found.len() <= truth.len());
        let all_nan = vec![f32::NAN; 5000];
        assert!(detect_peaks(&all_nan, fs).is_empty());
        assert!(detect_peaks(&[], fs).is_empty());
        assert!(detect_peaks(&x, f64::NAN).is_empty());
    }

    #[test]
    fn no_beats_in_a_long_hole_nor_on_a_flat_line() {
        for fs in [360.0, 500.0, 1000.0] {
            // 20 s of invalid samples: the held value's filter tail is no QRS
            let (mut x, truth) = synth(fs, &regular(0.8, 60.0), 60.0);
            let hole = (20.0 * fs) as usize..(40.0 * fs) as usize;
            for v in &mut x[hole.clone()] {
                *v = f32::NAN;
            }
            let found = detect_peaks(&x, fs);
            let in_hole = found.iter().filter(|p| hole.contains(p)).count();
            assert_eq!(in_hole, 0, "fs {fs}: {found:?}");
            let outside = truth.iter().filter(|t| !hole.contains(t)).count();
            assert!(
                found.len() + 5 >= outside,
                "fs {fs}: {} of {outside}",
                found.len()
            );
        }
        // a lead-off level with a µV-scale ripple (what resampling a constant leaves)
        let fs = 130.0;
        let flat: Vec<f32> = (0..(60.0 * fs) as usize)
            .map(|i| 1.2 + 1e-5 * (2.0 * std::f32::consts::PI * 10.0 * i as f32 / 130.0).sin())
            .collect();
        assert!(detect_peaks(&flat, fs).is_empty());
    }

    #[test]
    fn flat_start_keeps_warming_up_then_detects() {
        let fs = 130.0;
        let (ecg, truth) = synth(fs, &regular(0.75, 30.0), 30.0);
        let pad = (10.0 * fs) as usize;
        let mut x = vec![0.2f32; pad];
        x.extend_from_slice(&ecg);
        let mut det = RPeakDetector::new(fs).unwrap();
        for &v in &x[..pad] {
            assert!(det.push(v).is_none());
        }
        assert!(matches!(det.state(), DetectorState::WarmingUp { .. }));
        let found = detect_peaks(&x, fs);
        let truth: Vec<usize> = truth.iter().map(|t| t + pad).collect();
        assert_matches(&found, &truth, 2);
    }

    #[test]
    fn stated_latency() {
        for fs in [130.0, 250.0, 360.0, 1000.0] {
            let d = RPeakDetector::new(fs).unwrap();
            let (nom, max) = (
                d.nominal_latency_samples() as f64 / fs,
                d.max_latency_samples() as f64 / fs,
            );
            println!(
                "fs {fs}: nominal latency {:.0} ms, max {:.2} s",
                1000.0 * nom,
                max
            );
            assert!(nom > 0.35 && nom < 0.42, "{nom}");
            assert!(max < 8.0, "{max}");
        }
    }

    #[test]
    fn the_parabola_vertex_lies_between_samples() {
        // y = 1 − (t − 0.3)²: vertex 0.3 samples after the middle one
        let y = |t: f32| 1.0 - (t - 0.3).powi(2);
        let offset = sub_sample_offset(y(-1.0), y(0.0), y(1.0)).unwrap();
        assert!((offset - 0.3).abs() < 1e-6);
        // a trough the same way, mirrored
        let offset = sub_sample_offset(-y(1.0), -y(0.0), -y(-1.0)).unwrap();
        assert!((offset + 0.3).abs() < 1e-6);
        // a straight line, a vertex further than a sample, a missing value
        for (b, a, c) in [
            (0.0, 1.0, 2.0),
            (1.0, 1.0, 1.0),
            (0.0, 1.0, 1.9),
            (0.0, f32::NAN, 0.0),
        ] {
            assert_eq!(sub_sample_offset(b, a, c), None, "{b} {a} {c}");
        }
        // a vertex nearer a neighbour (0.7 after the middle) is fitted around that neighbour
        let y = |t: f32| 1.0 - (t - 1.7).powi(2);
        let x: Vec<f32> = (0..4).map(|i| y(i as f32)).collect();
        assert!((refined_position(&x, 1) - 1.7).abs() < 1e-6);
        // at either end, or without a vertex: the sample itself
        assert_eq!(refined_position(&[1.0, 0.0], 0), 0.0);
        assert_eq!(refined_position(&[0.0, 1.0], 1), 1.0);
        assert_eq!(refined_position(&[0.0, 1.0, 2.0], 1), 1.0);
    }

    /// On a 130 Hz signal, RR intervals from refined R-peaks are off by a fraction of the
    /// 7.7 ms that whole samples are.
    #[test]
    fn refined_peaks_time_rr_intervals_between_samples() {
        let fs = 130.0;
        let mut times = Vec::new();
        let mut t = 0.5;
        for k in 0..80 {
            times.push(t);
            t += 0.8 + 0.03 * (k as f64 * 0.7).sin(); // RR not a whole number of samples
        }
        let (x, _) = synth(fs, &times, t + 0.5);
        let found = detect_peaks(&x, fs);
        assert_eq!(found.len(), times.len());
        let worst = |position: &dyn Fn(usize) -> f64| {
            found
                .windows(2)
                .zip(times.windows(2))
                .map(|(p, t)| ((position(p[1]) - position(p[0])) / fs - (t[1] - t[0])).abs())
                .fold(0.0f64, f64::max)
                * 1000.0
        };
        let refined = worst(&|p| refined_position(&x, p));
        let whole = worst(&|p| p as f64);
        assert!(
            refined < 1.0 && whole > 5.0,
            "worst RR error {refined} ms, whole samples {whole} ms"
        );
    }

    #[test]
    fn invalid_configs_are_errors() {
        assert!(RPeakDetector::new(10.0).is_err());
        assert!(RPeakDetector::new(f64::INFINITY).is_err());
        let bad = DetectorConfig {
            integration_window_s: -1.0,
            ..Default::default()
        };
        assert!(RPeakDetector::with_config(360.0, bad).is_err());
        let bad = DetectorConfig {
            min_slope_mv_per_s: f32::NAN,
            ..Default::default()
        };
        assert!(RPeakDetector::with_config(360.0, bad).is_err());
    }
}
