//! Stress-model inputs: sliding windows (30 s, 5 s step by default) of the 130 Hz ECG, each with
//! its signal quality, HRV features ([`HRV_FEATURE_NAMES`]) and the R-peaks / RR series its images
//! are rendered from.
//!
//! Features of a window, from the R-peaks inside it (RR intervals between consecutive peaks,
//! artefact-corrected by [`crate::hrv::clean_rr`] over the window alone, as the phone does):
//! - `hr_bpm`, `mean_nn_ms`, `sdnn_ms`, `rmssd_ms`, `pnn50` (%), `sd1_ms`, `sd2_ms`: see
//!   [`crate::hrv`] for the definitions;
//! - `r_amp_mv`: median R amplitude above the beat window's median (see
//!   [`super::beat::beat_window`]);
//! - `t_amp_mv`: median signed T-wave amplitude, the extremum 0.15–0.40 s after R relative to the
//!   same median. T-wave amplitude falls with sympathetic (β-adrenergic) activation during mental
//!   stress, and both amplitudes are cheap and robust over ~30 beats.
//!
//! Not included: LF, HF and LF/HF. 30 s hold 1.2 cycles of 0.04 Hz and 4.5 of 0.15 Hz; the Task
//! Force (1996) asks for ≥ 2 min for LF and ~1 min for HF, and [`crate::hrv::hrv_metrics`] refuses
//! them below that. Baevsky's index needs a histogram of ≥ 20 intervals and is unstable at 30 s.
//!
//! A feature that cannot be computed (too few intervals or beats) is NaN; such a window is not
//! [`StressWindow::is_scorable`].

use super::MODEL_RATE_HZ;
use super::beat::{BEAT_LEN, BEAT_PRE, beat_window, median_in_place};
use crate::dsp::quality::{QualityConfig, WindowQuality, assess_quality};
use crate::engine::baseline::DEFAULT_MAX_RR_IRREGULARITY;
use crate::engine::{BaselineRejection, BeatCounts, EngineConfig};
use crate::error::{Error, Result};
use crate::hrv::{CleanOptions, RrCorrection, clean_rr, hrv_metrics, rr_usable_fraction};
use crate::imaging::{Channel, IMAGE_PIXELS, Imager, WindowData};
use crate::model::BeatClass;
use std::ops::Range;

/// Names of [`StressWindow::features`], in column order.
pub const HRV_FEATURE_NAMES: [&str; 9] = [
    "hr_bpm",
    "mean_nn_ms",
    "sdnn_ms",
    "rmssd_ms",
    "pnn50",
    "sd1_ms",
    "sd2_ms",
    "r_amp_mv",
    "t_amp_mv",
];

/// Least [`StressWindow::usable_fraction`] for a window to be scored (and to enter a baseline).
pub const MIN_USABLE_FRACTION: f32 = 0.75;

/// T-wave search span after R, in samples at 130 Hz (0.154–0.400 s).
const T_FROM: usize = 20;
const T_TO: usize = 52;

/// Window length and step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StressWindowConfig {
    /// Window length, seconds.
    pub window_s: f64,
    /// Step between window starts, seconds.
    pub step_s: f64,
}

impl Default for StressWindowConfig {
    fn default() -> Self {
        StressWindowConfig {
            window_s: 30.0,
            step_s: 5.0,
        }
    }
}

/// One stress window of a 130 Hz signal.
#[derive(Debug, Clone, PartialEq)]
pub struct StressWindow {
    /// Start, seconds from the start of the signal.
    pub start_s: f64,
    /// End (exclusive), seconds.
    pub end_s: f64,
    /// First sample (130 Hz).
    pub start_sample: usize,
    /// One past the last sample.
    pub end_sample: usize,
    /// Fraction (0–1) of the window's samples that are valid (not NaN) and in usable
    /// signal-quality windows ([`crate::dsp::quality`], 4 s windows from the window's own start, as
    /// the live monitor assesses a window).
    pub usable_fraction: f32,
    /// [`HRV_FEATURE_NAMES`] values (NaN where not computable).
    pub features: Vec<f32>,
    /// R-peaks inside the window (indices in the whole 130 Hz signal).
    pub peaks: Vec<usize>,
    /// Artefact-corrected RR intervals (s) of the window, for tachogram / Poincaré images.
    pub rr_s: Vec<f32>,
    /// RR-only windows ([`rr_window`]): their intervals as beats, the ones the artefact
    /// correction changed as Q (no beat types without ECG). `None` for ECG windows.
    pub rr_beat_counts: Option<BeatCounts>,
    /// [`crate::hrv::rr_irregularity`] of the window's raw intervals (before any correction).
    pub rr_irregularity: Option<f32>,
    /// Heart rate counting every detected beat: 60 000 / the mean raw RR interval (ms, those in
    /// the plausible range, no correction); `None` without one.
    pub beat_rate_bpm: Option<f32>,
}

/// Above this share of non-N beats (the share a calibration window may hold,
/// `BaselineConfig::max_ectopic_fraction`'s default) a window's heart rate is
/// [`StressWindow::beat_rate_bpm`]: the artefact correction assumes rare ectopy, and on runs of
/// bigeminy or trigeminy it merges or misplaces beats (a real H10 recording at 88 bpm gave
/// 49.7 bpm, and ~100 bpm where 86 beats a minute were detected).
pub const CORRECTED_HR_MAX_NON_N: f32 = 0.1;

/// The [`HRV_FEATURE_NAMES`] computed from RR intervals alone (all but the two amplitudes).
pub const RR_FEATURES: usize = 7;

impl StressWindow {
    /// Whether the window gets a score: quality at least [`MIN_USABLE_FRACTION`] and every
    /// feature finite (an RR-only window: every RR feature, [`RR_FEATURES`]).
    pub fn is_scorable(&self) -> bool {
        let computable = if self.is_rr_only() {
            &self.features[..RR_FEATURES.min(self.features.len())]
        } else {
            &self.features[..]
        };
        self.usable_fraction >= MIN_USABLE_FRACTION && computable.iter().all(|v| v.is_finite())
    }

    /// Its heart rate (the `hr_bpm` feature), bpm; `None` where it could not be computed.
    pub fn hr_bpm(&self) -> Option<f32> {
        self.features.first().copied().filter(|v| v.is_finite())
    }

    /// Its heart rate to show and store, with its beats `beat_counts`
    /// ([`Self::beat_counts`]): the `hr_bpm` feature (corrected NN intervals) in a sinus-like
    /// rhythm, else [`Self::beat_rate_bpm`], which counts every beat. Not sinus-like: more than
    /// [`CORRECTED_HR_MAX_NON_N`] of the beats not N (an RR-only window: corrected intervals), or
    /// raw intervals more irregular than the rhythm gate's default allows (atrial fibrillation, a
    /// regular trigeminy the correction cannot see), where the mean of instantaneous rates is
    /// pulled up by the short intervals.
    pub fn heart_rate_bpm(&self, beat_counts: &BeatCounts) -> Option<f32> {
        let irregular = self
            .rr_irregularity
            .is_some_and(|v| v > DEFAULT_MAX_RR_IRREGULARITY);
        if irregular || beat_counts.ectopic_fraction() > CORRECTED_HR_MAX_NON_N {
            self.beat_rate_bpm
        } else {
            self.hr_bpm()
        }
    }

    /// Its beats by class: an RR-only window's own counts, else its peaks looked up in
    /// `peak_classes` ([`window_beat_counts`]).
    pub fn beat_counts(&self, peak_classes: &[(usize, BeatClass)]) -> BeatCounts {
        self.rr_beat_counts
            .unwrap_or_else(|| window_beat_counts(&self.peaks, peak_classes))
    }

    /// Whether it is a window of a strap's RR intervals (no ECG samples, [`rr_window`]).
    pub fn is_rr_only(&self) -> bool {
        self.rr_beat_counts.is_some()
    }

    /// Whether a model scores it: [`Self::is_scorable`], and an RR-only window only by a model
    /// that [`scores_rr_windows`].
    pub fn is_scorable_by(&self, model_scores_rr_windows: bool) -> bool {
        self.is_scorable() && (!self.is_rr_only() || model_scores_rr_windows)
    }
}

/// Whether a model that depends on the `required` features (indices in [`HRV_FEATURE_NAMES`]) and
/// draws `channels` can score RR-only windows: every required feature is an RR feature and no
/// image needs ECG.
pub fn scores_rr_windows(required: &[usize], channels: &[Channel]) -> bool {
    required.iter().all(|&i| i < RR_FEATURES) && !channels.iter().any(|c| c.needs_ecg())
}

/// Fraction of `[start, end)` covered by usable quality windows, less their missing (NaN)
/// samples: a usable window with 5 % of its samples lost counts 95 %.
pub fn usable_fraction(quality: &[WindowQuality], start: usize, end: usize) -> f32 {
    if end <= start {
        return 0.0;
    }
    let (s, e) = (start as u64, end as u64);
    let covered: f64 = quality
        .iter()
        .filter(|q| q.usable)
        .map(|q| {
            let (qs, qe) = (q.start, q.start + u64::from(q.len));
            qe.min(e).saturating_sub(qs.max(s)) as f64 * q.valid_fraction()
        })
        .sum();
    (covered / (e - s) as f64) as f32
}

/// What a window's RR intervals give.
struct RrFeatures {
    /// [`HRV_FEATURE_NAMES`] (the R/T amplitudes NaN).
    features: Vec<f32>,
    /// The corrected series, s.
    rr_s: Vec<f32>,
    /// What the correction changed.
    correction: RrCorrection,
    /// [`crate::hrv::rr_irregularity`] of the raw intervals.
    irregularity: Option<f32>,
    /// [`StressWindow::beat_rate_bpm`].
    beat_rate_bpm: Option<f32>,
}

/// [`RrFeatures`] of the R-peaks `peaks` (130 Hz indices into `samples_130hz`) of the window
/// `window`, with the R/T amplitudes. The R-peaks are timed between samples on the window's own
/// samples, as the live monitor, which holds only the window, times them.
fn window_features(samples_130hz: &[f32], peaks: &[usize], window: Range<usize>) -> RrFeatures {
    let in_window: Vec<usize> = peaks.iter().map(|p| p - window.start).collect();
    let rr_raw = crate::hrv::rr_intervals_ms(&samples_130hz[window], &in_window, MODEL_RATE_HZ);
    let mut out = rr_features(&rr_raw);
    let (r_amp, t_amp) = beat_amplitudes(samples_130hz, peaks);
    out.features[7] = r_amp;
    out.features[8] = t_amp;
    out
}

/// [`RrFeatures`] of raw RR intervals (ms), artefact-corrected by [`clean_rr`] over these
/// intervals alone.
fn rr_features(rr_raw_ms: &[f64]) -> RrFeatures {
    let (rr, correction) = clean_rr(rr_raw_ms);
    let mut f = vec![f32::NAN; HRV_FEATURE_NAMES.len()];
    if let Ok(m) = hrv_metrics(&rr) {
        let opt = |v: Option<f64>| v.map_or(f32::NAN, |x| x as f32);
        f[0] = m.mean_hr_bpm as f32;
        f[1] = m.mean_nn_ms as f32;
        f[2] = m.sdnn_ms as f32;
        f[3] = m.rmssd_ms as f32;
        f[4] = m.pnn50_pct as f32;
        f[5] = opt(m.sd1_ms);
        f[6] = opt(m.sd2_ms);
    }
    RrFeatures {
        features: f,
        rr_s: rr.iter().map(|&v| (v / 1000.0) as f32).collect(),
        correction,
        irregularity: crate::hrv::rr_irregularity(rr_raw_ms).map(|v| v as f32),
        beat_rate_bpm: beat_rate_bpm(rr_raw_ms),
    }
}

/// [`StressWindow::beat_rate_bpm`] of raw intervals (ms).
fn beat_rate_bpm(rr_raw_ms: &[f64]) -> Option<f32> {
    let o = CleanOptions::default();
    let (sum, n) = rr_raw_ms
        .iter()
        .filter(|&&r| r.is_finite() && (o.min_rr_ms..=o.max_rr_ms).contains(&r))
        .fold((0.0, 0usize), |(sum, n), &r| (sum + r, n + 1));
    (n > 0).then(|| (60_000.0 * n as f64 / sum) as f32)
}

/// A window of a strap that sends only RR intervals (Heart Rate Service, no ECG): `rr_ms` are the
/// intervals (ms) ending inside a window of `window_s` seconds. Features as [`window_features`]
/// without the R/T amplitudes (NaN: no ECG); no samples or peaks (`start_sample` =
/// `end_sample` = 0). Its `usable_fraction` is [`crate::hrv::rr_usable_fraction`] over the window.
pub fn rr_window(rr_ms: &[f64], window_s: f64) -> StressWindow {
    let rr = rr_features(rr_ms);
    let intervals = u32::try_from(rr_ms.len()).unwrap_or(u32::MAX);
    let q = rr.correction.total().min(intervals);
    StressWindow {
        start_s: 0.0,
        end_s: window_s,
        start_sample: 0,
        end_sample: 0,
        usable_fraction: rr_usable_fraction(rr_ms, rr.correction.total(), window_s * 1000.0) as f32,
        features: rr.features,
        peaks: Vec::new(),
        rr_s: rr.rr_s,
        rr_beat_counts: Some(BeatCounts {
            n: intervals - q,
            q,
            ..BeatCounts::default()
        }),
        rr_irregularity: rr.irregularity,
        beat_rate_bpm: rr.beat_rate_bpm,
    }
}

/// Median R and T amplitudes (mV, relative to each beat window's median) of the beats at `peaks`;
/// NaN without any complete beat window.
fn beat_amplitudes(samples: &[f32], peaks: &[usize]) -> (f32, f32) {
    let mut win = [0.0f32; BEAT_LEN];
    let mut scratch = Vec::with_capacity(BEAT_LEN);
    let mut r = Vec::with_capacity(peaks.len());
    let mut t = Vec::with_capacity(peaks.len());
    for &p in peaks {
        if !beat_window(samples, p, &mut win, &mut scratch) {
            continue;
        }
        r.push(win[BEAT_PRE]);
        let seg = &win[BEAT_PRE + T_FROM..BEAT_PRE + T_TO];
        let ext = seg
            .iter()
            .copied()
            .fold(0.0f32, |m, v| if v.abs() > m.abs() { v } else { m });
        t.push(ext);
    }
    if r.is_empty() {
        return (f32::NAN, f32::NAN);
    }
    (median_in_place(&mut r), median_in_place(&mut t))
}

/// Stress windows of a 130 Hz signal (mV) with its R-peaks (increasing indices): every full
/// window `[k · step, k · step + window)` inside the signal.
///
/// Errors: [`Error::InvalidArgument`] for a non-positive or non-finite window or step.
pub fn stress_windows(
    samples_130hz: &[f32],
    peaks: &[usize],
    cfg: &StressWindowConfig,
) -> Result<Vec<StressWindow>> {
    if !(cfg.window_s.is_finite() && cfg.step_s.is_finite() && cfg.window_s > 0.0)
        || cfg.step_s <= 0.0
    {
        return Err(Error::InvalidArgument(format!(
            "stress window {} s, step {} s",
            cfg.window_s, cfg.step_s
        )));
    }
    let win = (cfg.window_s * MODEL_RATE_HZ).round() as usize;
    let n = samples_130hz.len();
    if win == 0 || n < win {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for k in 0.. {
        let start = (k as f64 * cfg.step_s * MODEL_RATE_HZ).round() as usize;
        let end = start + win;
        if end > n {
            break;
        }
        let a = peaks.partition_point(|&p| p < start);
        let b = peaks.partition_point(|&p| p < end);
        let in_window = &peaks[a..b.max(a)];
        let rr = window_features(samples_130hz, in_window, start..end);
        // quality from the window's own samples, as the live monitor sees it
        let quality = assess_quality(
            &samples_130hz[start..end],
            MODEL_RATE_HZ,
            QualityConfig::default(),
        )?
        .windows;
        out.push(StressWindow {
            start_s: start as f64 / MODEL_RATE_HZ,
            end_s: end as f64 / MODEL_RATE_HZ,
            start_sample: start,
            end_sample: end,
            usable_fraction: usable_fraction(&quality, 0, win),
            features: rr.features,
            peaks: in_window.to_vec(),
            rr_beat_counts: None,
            rr_s: rr.rr_s,
            rr_irregularity: rr.irregularity,
            beat_rate_bpm: rr.beat_rate_bpm,
        });
    }
    Ok(out)
}

/// A personal baseline made from the stress windows of a calm recording.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BaselineSelection {
    /// Element-wise mean of the admitted windows' features (the model's `baseline` input);
    /// `None` when no window was admitted.
    pub features: Option<Vec<f32>>,
    /// Windows admitted.
    pub admitted: usize,
    /// Windows left out for poor signal or a feature that could not be computed.
    pub poor_signal: usize,
    /// Windows left out for too many non-N beats or too irregular RR intervals.
    pub irregular_rhythm: usize,
}

/// Personal baseline from the stress windows of a calm recording, admitting windows as the live
/// calibration does: scorable, passing the engine's signal gate ([`EngineConfig::signal_gate`]:
/// enough beats, a plausible heart rate) and its baseline rule
/// ([`BaselineConfig::admits`](crate::engine::BaselineConfig::admits): signal quality, ectopy,
/// RR irregularity). The baseline is the element-wise mean of the admitted windows' features.
///
/// `peak_classes`: the beat class of R-peaks (130 Hz index, increasing). A peak without a class
/// counts as N, as in the monitor; with no classes at all only the quality rule applies.
pub fn select_baseline(
    windows: &[StressWindow],
    peak_classes: &[(usize, BeatClass)],
    config: &EngineConfig,
) -> BaselineSelection {
    let mut sum = vec![0.0f64; HRV_FEATURE_NAMES.len()];
    let mut out = BaselineSelection::default();
    for w in windows {
        let counts = w.beat_counts(peak_classes);
        let signal_refused = config
            .stress_window_gate(w, &counts)
            .is_some_and(|reason| reason.is_signal_problem());
        let admitted = if w.is_scorable() && !signal_refused {
            config
                .baseline
                .admits(w.usable_fraction, &counts, w.rr_irregularity)
        } else {
            Err(BaselineRejection::PoorSignal)
        };
        match admitted {
            Ok(()) => {
                for (s, &v) in sum.iter_mut().zip(&w.features) {
                    *s += f64::from(v);
                }
                out.admitted += 1;
            }
            Err(BaselineRejection::IrregularRhythm) => out.irregular_rhythm += 1,
            Err(_) => out.poor_signal += 1,
        }
    }
    let n = out.admitted as f64;
    out.features = (out.admitted > 0).then(|| sum.iter().map(|s| (s / n) as f32).collect());
    out
}

/// Beats by class among `peaks`, looked up in `peak_classes` (both increasing 130 Hz indices); a
/// peak without a class counts as N.
pub fn window_beat_counts(peaks: &[usize], peak_classes: &[(usize, BeatClass)]) -> BeatCounts {
    let mut counts = BeatCounts::default();
    for &p in peaks {
        let class = peak_classes
            .binary_search_by_key(&p, |&(q, _)| q)
            .map_or(BeatClass::N, |i| peak_classes[i].1);
        counts.add_class(class as u8);
    }
    counts
}

/// Renders the image channels of stress windows and single beats with the imaging module's
/// [`Imager`], reusing its buffers (no allocation per image after the first window).
#[derive(Debug)]
pub struct WindowRenderer {
    imager: Imager,
    /// The window's R-peaks relative to its first sample.
    rel_peaks: Vec<usize>,
}

impl Default for WindowRenderer {
    fn default() -> Self {
        Self::new()
    }
}

impl WindowRenderer {
    /// A renderer for 130 Hz windows.
    pub fn new() -> Self {
        WindowRenderer {
            imager: Imager::new(),
            rel_peaks: Vec::new(),
        }
    }

    /// Draws `channels` of `window` (of the 130 Hz signal `samples_130hz` it was cut from) into
    /// `out`, one [`IMAGE_PIXELS`] image per channel in order. The images see only the window's
    /// own samples, R-peaks and corrected RR series.
    ///
    /// Errors: `out` not `channels.len() · IMAGE_PIXELS` long, or a window outside the signal
    /// ([`Error::InvalidArgument`]).
    pub fn render_window(
        &mut self,
        samples_130hz: &[f32],
        window: &StressWindow,
        channels: &[Channel],
        out: &mut [u8],
    ) -> Result<()> {
        if out.len() != channels.len() * IMAGE_PIXELS {
            return Err(Error::InvalidArgument(format!(
                "{} bytes for {} images",
                out.len(),
                channels.len()
            )));
        }
        let signal = samples_130hz
            .get(window.start_sample..window.end_sample)
            .ok_or_else(|| Error::InvalidArgument("window outside the signal".into()))?;
        self.rel_peaks.clear();
        self.rel_peaks.extend(
            window
                .peaks
                .iter()
                .map(|p| p.saturating_sub(window.start_sample)),
        );
        let data = WindowData {
            signal,
            peaks: &self.rel_peaks,
            rr_s: &window.rr_s,
        };
        for (&c, img) in channels.iter().zip(out.chunks_exact_mut(IMAGE_PIXELS)) {
            self.imager.render(c, &data, img)?;
        }
        Ok(())
    }

    /// Draws the single beat at R-peak `peak` ([`Channel::Beat`], the imager's beat window) into
    /// `out` (`IMAGE_PIXELS`). Returns false, leaving `out` untouched, when the beat window does
    /// not fit in the signal or holds a non-finite sample.
    pub fn render_single_beat(
        &mut self,
        samples_130hz: &[f32],
        peak: usize,
        out: &mut [u8],
    ) -> Result<bool> {
        let (pre, post) = self.imager.beat_window();
        let Some(beat) = peak
            .checked_sub(pre)
            .and_then(|s| samples_130hz.get(s..peak + post))
        else {
            return Ok(false);
        };
        if beat.iter().any(|v| !v.is_finite()) {
            return Ok(false);
        }
        self.imager.render_beat(beat, out)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::rpeak::tests::synth;

    fn beat_times(dur: f64, rr: impl Fn(usize) -> f64) -> Vec<f64> {
        let mut t = vec![0.5];
        let mut i = 0;
        while *t.last().unwrap_or(&dur) < dur - 1.0 {
            let next = t[i] + rr(i);
            t.push(next);
            i += 1;
        }
        t
    }

    #[test]
    fn windows_of_a_clean_synthetic_ecg() {
        // RR alternates 0.8 / 0.9 s: mean 850 ms, RMSSD 100 ms
        let times = beat_times(70.0, |i| if i % 2 == 0 { 0.8 } else { 0.9 });
        let (x, peaks) = synth(MODEL_RATE_HZ, &times, 70.0);
        let w = stress_windows(&x, &peaks, &StressWindowConfig::default()).unwrap();
        assert_eq!(w.len(), 9); // starts 0, 5, ..., 40
        assert_eq!((w[1].start_s, w[1].end_s), (5.0, 35.0));
        for win in &w {
            assert!(win.usable_fraction > 0.99, "{win:?}");
            assert!(win.is_scorable(), "{win:?}");
            let f = &win.features;
            assert!((f[1] - 850.0).abs() < 8.0, "mean NN {f:?}");
            assert!((f[0] - 70.7).abs() < 1.0, "HR {f:?}"); // mean of 75 and 66.7 bpm
            assert!((f[3] - 100.0).abs() < 10.0, "RMSSD {f:?}");
            assert!((f[7] - 1.2).abs() < 0.15, "R amplitude {f:?}");
            assert!((f[8] - 0.3).abs() < 0.1, "T amplitude {f:?}");
            assert!(
                win.peaks
                    .iter()
                    .all(|&p| p >= win.start_sample && p < win.end_sample)
            );
            assert_eq!(win.rr_s.len() + 1, win.peaks.len());
        }
        let base = select_baseline(&w, &[], &EngineConfig::default());
        assert_eq!(
            (base.admitted, base.poor_signal, base.irregular_rhythm),
            (9, 0, 0)
        );
        assert!((base.features.unwrap()[1] - 850.0).abs() < 8.0);
    }

    #[test]
    fn baseline_leaves_out_windows_with_too_many_ectopic_beats() {
        let times = beat_times(70.0, |i| if i % 2 == 0 { 0.8 } else { 0.9 });
        let (x, peaks) = synth(MODEL_RATE_HZ, &times, 70.0);
        let w = stress_windows(&x, &peaks, &StressWindowConfig::default()).unwrap();
        // five V beats between 2 and 6 s: 5 of ~35 beats (14 %) in the first window, at most
        // one (3 %) in the second
        let rate = MODEL_RATE_HZ as usize;
        let classes: Vec<(usize, BeatClass)> = peaks
            .iter()
            .filter(|&&p| p >= 2 * rate && p < 6 * rate)
            .map(|&p| (p, BeatClass::V))
            .collect();
        assert_eq!(classes.len(), 5);
        let base = select_baseline(&w, &classes, &EngineConfig::default());
        assert_eq!(
            (base.admitted, base.poor_signal, base.irregular_rhythm),
            (8, 0, 1)
        );
        let mean_nn = w[1..].iter().map(|w| f64::from(w.features[1])).sum::<f64>() / 8.0;
        assert!((f64::from(base.features.unwrap()[1]) - mean_nn).abs() < 1e-3);
        // peaks without a class count as N
        let unclassified = [(peaks[0] + 1, BeatClass::V)];
        let base = select_baseline(&w, &unclassified, &EngineConfig::default());
        assert_eq!(base.admitted, 9);
    }

    #[test]
    fn baseline_applies_the_engines_signal_gate() {
        let times = beat_times(70.0, |i| if i % 2 == 0 { 0.8 } else { 0.9 });
        let (x, peaks) = synth(MODEL_RATE_HZ, &times, 70.0);
        let w = stress_windows(&x, &peaks, &StressWindowConfig::default()).unwrap();
        assert!(w.iter().all(|w| w.is_scorable() && w.hr_bpm().is_some()));
        // a heart rate of ~71 bpm outside the plausible range, then too few beats: as the live
        // calibration, every window is left out for its signal
        for config in [
            EngineConfig {
                hr_range_bpm: (30.0, 60.0),
                ..EngineConfig::default()
            },
            EngineConfig {
                min_beats: 40,
                ..EngineConfig::default()
            },
        ] {
            let base = select_baseline(&w, &[], &config);
            assert_eq!(
                (base.features, base.admitted, base.poor_signal),
                (None, 0, w.len())
            );
        }
    }

    #[test]
    fn flat_signal_is_not_scorable_and_has_no_baseline() {
        let x = vec![0.0f32; 130 * 40];
        let w = stress_windows(&x, &[], &StressWindowConfig::default()).unwrap();
        assert_eq!(w.len(), 3);
        assert!(
            w.iter()
                .all(|w| !w.is_scorable() && w.usable_fraction == 0.0)
        );
        assert!(w[0].features.iter().all(|v| v.is_nan()));
        let base = select_baseline(&w, &[], &EngineConfig::default());
        assert_eq!(
            (base.features, base.admitted, base.poor_signal),
            (None, 0, 3)
        );
    }

    #[test]
    fn short_signal_and_bad_config() {
        assert!(
            stress_windows(&[0.0; 100], &[], &StressWindowConfig::default())
                .unwrap()
                .is_empty()
        );
        for (window_s, step_s) in [(0.0, 5.0), (30.0, 0.0), (f64::NAN, 5.0), (30.0, -1.0)] {
            let cfg = StressWindowConfig { window_s, step_s };
            assert!(stress_windows(&[0.0; 10_000], &[], &cfg).is_err());
        }
    }

    #[test]
    fn rr_only_windows_are_judged_by_their_intervals() {
        // 37 × 800 ms in a 30 s window: 75 bpm, 98.7 % covered
        let steady = rr_window(&[800.0; 37], 30.0);
        assert!(steady.is_rr_only() && steady.is_scorable(), "{steady:?}");
        assert!((steady.features[0] - 75.0).abs() < 1e-3);
        assert!(steady.features[7].is_nan() && steady.features[8].is_nan());
        assert!((steady.usable_fraction - 29.6 / 30.0).abs() < 1e-6);
        assert_eq!(steady.rr_beat_counts.map(|c| (c.n, c.q)), Some((37, 0)));
        // a missed beat (one 1600 ms interval) is corrected: counted as Q, coverage lowered
        let mut missed: Vec<f64> = (0..35).map(|k| 800.0 + 25.0 * (k as f64).sin()).collect();
        missed[17] = 1600.0;
        let w = rr_window(&missed, 30.0);
        assert_eq!(w.rr_beat_counts.map(|c| c.q), Some(1));
        assert!(w.usable_fraction < steady.usable_fraction && w.is_scorable());
        // the strap was silent half the window
        let half = rr_window(&[800.0; 18], 30.0);
        assert!(half.usable_fraction < 0.5 && !half.is_scorable());
        assert!(!rr_window(&[], 30.0).is_scorable());
        // an ECG window needs its amplitudes as well
        let mut ecg = steady.clone();
        ecg.rr_beat_counts = None;
        assert!(!ecg.is_scorable());
    }

    /// The heart rate shown and stored: the corrected intervals' while ectopy is rare (a missed
    /// beat is put back), every detected beat's when it is not. On the trigeminy of a real H10
    /// recording (`polar_h10/detectpvc` at 160 s: short 430, long 1014, normal 715 ms) the
    /// correction's `hr_bpm` was far from the 83 beats a minute detected.
    #[test]
    fn the_heart_rate_counts_ectopic_beats_when_they_are_frequent() {
        let trigeminy: Vec<f64> = [715.0, 430.0, 1014.0].repeat(14);
        let beat_rate = 60_000.0 * 42.0 / trigeminy.iter().sum::<f64>();
        let w = rr_window(&trigeminy, 30.0);
        assert_eq!(w.beat_rate_bpm, Some(beat_rate as f32));
        let hr = w.heart_rate_bpm(&w.beat_counts(&[])).unwrap();
        assert!(
            (f64::from(hr) - beat_rate).abs() < 1e-3,
            "{hr} vs {beat_rate}"
        );
        // an ECG window of the same beats, a third of them V by the beat-type model
        let classified = BeatCounts {
            n: 28,
            v: 14,
            ..BeatCounts::default()
        };
        assert_eq!(w.heart_rate_bpm(&classified), w.beat_rate_bpm);
        // a missed beat in sinus rhythm: the corrected rate, not the raw one (one beat short)
        let mut missed: Vec<f64> = (0..35).map(|k| 800.0 + 25.0 * (k as f64).sin()).collect();
        missed[17] = 1600.0;
        let w = rr_window(&missed, 30.0);
        let hr = w.heart_rate_bpm(&w.beat_counts(&[])).unwrap();
        assert!((hr - 75.0).abs() < 0.5, "{hr}");
        assert!(w.beat_rate_bpm.unwrap() < 73.5);
        // 10 % ectopic beats (the share a calibration may hold) keep the corrected rate
        let few = BeatCounts {
            n: 36,
            v: 4,
            ..BeatCounts::default()
        };
        assert_eq!(w.heart_rate_bpm(&few), w.hr_bpm());
        assert_eq!(rr_window(&[], 30.0).beat_rate_bpm, None);
    }

    #[test]
    fn usable_fraction_counts_overlap() {
        let q = |start: u64, usable: bool| WindowQuality {
            start,
            len: 100,
            score: if usable { 1.0 } else { 0.0 },
            issue: crate::dsp::quality::QualityIssue::Good,
            usable,
            kurtosis: 0.0,
            qrs_kurtosis: 0.0,
            hf_ratio: 0.0,
            recurrence: 0.0,
            clipped_fraction: 0.0,
            invalid_fraction: 0.0,
        };
        let qs = [q(0, true), q(100, false), q(200, true)];
        assert!((usable_fraction(&qs, 50, 250) - 0.5).abs() < 1e-6);
        assert_eq!(usable_fraction(&qs, 10, 10), 0.0);
    }

    #[test]
    fn renders_every_channel_of_a_window_and_single_beats() {
        let times = beat_times(40.0, |_| 0.8);
        let (x, peaks) = synth(MODEL_RATE_HZ, &times, 40.0);
        let w = stress_windows(&x, &peaks, &StressWindowConfig::default()).unwrap();
        let mut r = WindowRenderer::new();
        let mut out = vec![0u8; Channel::ALL.len() * IMAGE_PIXELS];
        r.render_window(&x, &w[1], &Channel::ALL, &mut out).unwrap();
        for (c, img) in Channel::ALL.iter().zip(out.chunks_exact(IMAGE_PIXELS)) {
            assert!(img.iter().any(|&v| v > 0), "{c} blank");
        }
        assert!(
            r.render_window(&x, &w[1], &Channel::ALL, &mut out[1..])
                .is_err()
        );
        let mut img = vec![0u8; IMAGE_PIXELS];
        assert!(r.render_single_beat(&x, peaks[5], &mut img).unwrap());
        assert!(img.iter().any(|&v| v > 0));
        assert!(!r.render_single_beat(&x, 3, &mut img).unwrap());
        assert!(!r.render_single_beat(&x, x.len() - 2, &mut img).unwrap());
    }
}
