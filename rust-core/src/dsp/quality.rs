//! Signal-quality index per fixed window (default 4 s), streaming and allocation-free per sample.
//!
//! Each window gets a score in 0..1 and the main reason when it is low:
//! - lead off: mostly invalid (NaN/inf) samples, or a flat line (standard deviation below
//!   `flat_std`, input units — mV by default);
//! - saturation: samples sitting in flat runs (≥ 20 ms of identical values) at the window's
//!   running maximum or minimum, i.e. clipped at an amplifier rail;
//! - noise: from kurtosis (a clean ECG is peaky, kurtosis ≫ 3; Gaussian-like noise ≈ 3; Li,
//!   Rajagopalan & Clifford, Physiol. Meas. 2008, "kSQI") and the ratio of power above 40 Hz to
//!   power in 5–40 Hz (muscle/EMG). Kurtosis is taken of the 0.5–40 Hz signal and of the 5–40 Hz
//!   (QRS band) signal, and the better of the two scores counts: a clean lead with a small R wave
//!   and large T waves or baseline sway has a 0.5–40 Hz kurtosis near 3.5 (EEGMAT's ECG channel:
//!   0 % usable on records whose beats correlate 0.99 with their median beat), while its QRS-band
//!   kurtosis stays ≥ 8; broadband noise lowers both. (The high-frequency ratio is skipped when
//!   40 Hz is too close to Nyquist, e.g. 100 Hz.)
//! - recurrence: kurtosis falls with the QRS's share of the cycle, so clean ECG with wide
//!   complexes or a fast rate (paced beats, bundle branch block: MIT-BIH 107, QT DB sel38) scores
//!   like noise on it. Such a window is still usable when its beats repeat: QRS-band beats (found
//!   on the band's energy) whose shape matches another beat of the window (correlation ≥ 0.95;
//!   template matching as in Orphanidou et al., IEEE JBHI 2015), while the QRS band stays peakier
//!   than noise. Noise has no repeating shape; flutter waves repeat but are not peaky.
//!
//! A window is *usable* when its score ≥ `usable_threshold` (0.5).

use crate::dsp::filter::{EcgFilter, EcgFilterConfig, validate_sampling_rate};
use crate::error::{Error, Result};

/// Why a window scored low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum QualityIssue {
    /// Nothing wrong.
    Good,
    /// Muscle / motion noise.
    Noise,
    /// Clipped at the amplifier's rail.
    Saturation,
    /// Flat line or invalid samples: electrode off.
    LeadOff,
}

/// Parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityConfig {
    pub window_s: f64,
    /// Standard deviation below which a window is a flat line (input units).
    pub flat_std: f64,
    /// Score at or above which a window counts as usable.
    pub usable_threshold: f32,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            window_s: 4.0,
            flat_std: 0.005,
            usable_threshold: 0.5,
        }
    }
}

/// Quality of one window.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct WindowQuality {
    /// First sample of the window.
    pub start: u64,
    /// Samples in the window.
    pub len: u32,
    /// 0 (unusable) … 1 (clean).
    pub score: f32,
    pub issue: QualityIssue,
    pub usable: bool,
    /// Kurtosis of the 0.5–40 Hz signal.
    pub kurtosis: f32,
    /// Kurtosis of the 5–40 Hz (QRS band) signal.
    pub qrs_kurtosis: f32,
    /// Power above 40 Hz / power 5–40 Hz (0 when not measured).
    pub hf_ratio: f32,
    /// Share of the window's QRS-band beats whose shape another of its beats repeats (0 when
    /// fewer than two beats, or a gap over 2 s between them).
    pub recurrence: f32,
    pub clipped_fraction: f32,
    /// Share of NaN / infinite samples (lost frames, lead off).
    pub invalid_fraction: f32,
}

impl WindowQuality {
    /// Share of the window's samples that are valid (finite).
    pub fn valid_fraction(&self) -> f64 {
        (1.0 - f64::from(self.invalid_fraction)).clamp(0.0, 1.0)
    }
}

/// Streaming quality assessor.
#[derive(Debug, Clone)]
pub struct SignalQuality {
    cfg: QualityConfig,
    win: u32,
    band: EcgFilter,
    hf: Option<EcgFilter>,
    qrs: EcgFilter,
    n: u64,
    start: u64,
    count: u32,
    invalid: u32,
    // raw moments for the flat-line test
    s1: f64,
    s2: f64,
    // moments of the band signal
    m1: f64,
    m2: f64,
    m3: f64,
    m4: f64,
    hf_pow: f64,
    // moments of the QRS-band signal (the 2nd is its power)
    q1: f64,
    qrs_pow: f64,
    q3: f64,
    q4: f64,
    // clipping
    wmax: f32,
    wmin: f32,
    prev: f32,
    run: u32,
    min_run: u32,
    clipped: u32,
    valid: u32,
    // the window's QRS-band signal (0 for invalid samples) and scratch for the recurrence test
    qrs_window: Vec<f32>,
    recurrence: Recurrence,
}

impl SignalQuality {
    /// An assessor for sampling rate `fs`.
    pub fn new(fs: f64, cfg: QualityConfig) -> Result<Self> {
        validate_sampling_rate(fs)?;
        if !(cfg.window_s.is_finite()
            && cfg.window_s >= 1.0
            && cfg.window_s * fs < f64::from(u32::MAX))
        {
            return Err(Error::InvalidArgument(format!(
                "quality window {} s (need ≥ 1 s)",
                cfg.window_s
            )));
        }
        let band = EcgFilter::new(fs, &EcgFilterConfig::default())?;
        let hf = if 40.0 < 0.4 * fs {
            Some(EcgFilter::new(
                fs,
                &EcgFilterConfig {
                    highpass_hz: Some(40.0),
                    lowpass_hz: None,
                    ..Default::default()
                },
            )?)
        } else {
            None
        };
        let qrs = EcgFilter::new(
            fs,
            &EcgFilterConfig {
                highpass_hz: Some(5.0),
                lowpass_hz: Some(40.0),
                ..Default::default()
            },
        )?;
        let win = (cfg.window_s * fs).round() as u32;
        let mut q = SignalQuality {
            cfg,
            win,
            band,
            hf,
            qrs,
            n: 0,
            start: 0,
            count: 0,
            invalid: 0,
            s1: 0.0,
            s2: 0.0,
            m1: 0.0,
            m2: 0.0,
            m3: 0.0,
            m4: 0.0,
            hf_pow: 0.0,
            q1: 0.0,
            qrs_pow: 0.0,
            q3: 0.0,
            q4: 0.0,
            wmax: f32::MIN,
            wmin: f32::MAX,
            prev: f32::NAN,
            run: 0,
            min_run: (0.02 * fs).round().max(3.0) as u32,
            clipped: 0,
            valid: 0,
            qrs_window: Vec::with_capacity(win as usize),
            recurrence: Recurrence::new(fs, win as usize),
        };
        q.clear(0);
        Ok(q)
    }

    fn clear(&mut self, start: u64) {
        self.start = start;
        self.count = 0;
        self.invalid = 0;
        self.valid = 0;
        (self.s1, self.s2, self.m1, self.m2, self.m3, self.m4) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        (self.hf_pow, self.q1, self.qrs_pow, self.q3, self.q4) = (0.0, 0.0, 0.0, 0.0, 0.0);
        (self.wmax, self.wmin) = (f32::MIN, f32::MAX);
        self.clipped = 0;
        self.qrs_window.clear();
    }

    /// Push one sample; returns the window's quality when a window completes.
    #[inline]
    pub fn push(&mut self, x: f32) -> Option<WindowQuality> {
        self.count += 1;
        self.n += 1;
        if x.is_finite() {
            self.valid += 1;
            let xf = f64::from(x);
            self.s1 += xf;
            self.s2 += xf * xf;
            let y = f64::from(self.band.push(x));
            let y2 = y * y;
            self.m1 += y;
            self.m2 += y2;
            self.m3 += y2 * y;
            self.m4 += y2 * y2;
            if let Some(h) = &mut self.hf {
                let v = f64::from(h.push(x));
                self.hf_pow += v * v;
            }
            let v = f64::from(self.qrs.push(x));
            let v2 = v * v;
            self.q1 += v;
            self.qrs_pow += v2;
            self.q3 += v2 * v;
            self.q4 += v2 * v2;
            self.qrs_window.push(v as f32);
            // flat runs at the running extremes = clipping
            if x == self.prev {
                self.run += 1;
                if x >= self.wmax || x <= self.wmin {
                    if self.run == self.min_run {
                        self.clipped += self.min_run;
                    } else if self.run > self.min_run {
                        self.clipped += 1;
                    }
                }
            } else {
                self.run = 1;
            }
            self.prev = x;
            self.wmax = self.wmax.max(x);
            self.wmin = self.wmin.min(x);
        } else {
            self.invalid += 1;
            self.run = 0;
            self.prev = f32::NAN;
            self.qrs_window.push(0.0);
        }
        if self.count >= self.win {
            Some(self.close())
        } else {
            None
        }
    }

    /// Close a partial last window (≥ 1 s of samples are needed to say anything; shorter → None).
    pub fn finish(&mut self) -> Option<WindowQuality> {
        if self.count == 0 || f64::from(self.count) < f64::from(self.win) / self.cfg.window_s {
            return None;
        }
        Some(self.close())
    }

    fn close(&mut self) -> WindowQuality {
        let len = self.count;
        let invalid_fraction = self.invalid as f32 / len as f32;
        let v = f64::from(self.valid.max(1));
        let var_raw = (self.s2 / v - (self.s1 / v).powi(2)).max(0.0);
        let kurtosis = kurtosis_from_moments(v, self.m1, self.m2, self.m3, self.m4);
        let qrs_kurtosis = kurtosis_from_moments(v, self.q1, self.qrs_pow, self.q3, self.q4);
        let hf_ratio = if self.hf.is_some() && self.qrs_pow > 0.0 {
            (self.hf_pow / self.qrs_pow) as f32
        } else {
            0.0
        };
        let clipped_fraction = self.clipped as f32 / len as f32;
        let recurrence = self.recurrence.share(&self.qrs_window);

        let (score, issue) =
            if invalid_fraction > 0.5 || self.valid < 2 || var_raw.sqrt() < self.cfg.flat_std {
                (0.0, QualityIssue::LeadOff)
            } else if clipped_fraction > 0.05 {
                (
                    0.2 * (1.0 - clipped_fraction).max(0.0),
                    QualityIssue::Saturation,
                )
            } else {
                // kurtosis 3 (noise) → 0, ≥ 6 → 1 (QRS band: 6 → 0, ≥ 10 → 1), or the
                // recurrence score; HF ratio ≤ 0.1 → 1, ≥ 0.6 → 0
                let s_k = ((kurtosis - 3.0) / 3.0)
                    .max((qrs_kurtosis - 6.0) / 4.0)
                    .max(recurrence_score(recurrence, qrs_kurtosis))
                    .clamp(0.0, 1.0);
                let s_hf = if self.hf.is_some() {
                    (1.0 - (hf_ratio - 0.1) / 0.5).clamp(0.0, 1.0)
                } else {
                    1.0
                };
                let s = s_k.min(s_hf) * (1.0 - invalid_fraction);
                (
                    s,
                    if s < self.cfg.usable_threshold {
                        QualityIssue::Noise
                    } else {
                        QualityIssue::Good
                    },
                )
            };
        let w = WindowQuality {
            start: self.start,
            len,
            score,
            issue,
            usable: score >= self.cfg.usable_threshold,
            kurtosis,
            qrs_kurtosis,
            hf_ratio,
            recurrence,
            clipped_fraction,
            invalid_fraction,
        };
        self.clear(self.n);
        w
    }
}

/// Score of the recurrence test: share of repeated beats 0.5 → 0, ≥ 0.8 → 1; none while the QRS
/// band is hardly peakier than noise (kurtosis < 4.5: noise ≈ 3, the flutter waves of MIT-BIH
/// 207 2–4, clean wide complexes ≥ 5).
fn recurrence_score(recurrence: f32, qrs_kurtosis: f32) -> f32 {
    if qrs_kurtosis < 4.5 {
        0.0
    } else {
        (recurrence - 0.5) / 0.3
    }
}

/// The recurrence test's beats and scratch, sized once for a window.
#[derive(Debug, Clone)]
struct Recurrence {
    /// Energy envelope: the QRS band squared, summed over 100 ms.
    envelope: Vec<f32>,
    beats: Vec<usize>,
    /// Half-width of a beat's segment (150 ms: a wide QRS fits), of the envelope's sum (50 ms),
    /// of the alignment search (25 ms), the refractory period (300 ms) and the longest gap (2 s).
    half_beat: usize,
    half_average: usize,
    max_lag: usize,
    refractory: usize,
    max_gap: usize,
}

impl Recurrence {
    /// Beats whose envelope peak is below this share of the window's highest are not beats.
    const PEAK_SHARE: f32 = 0.3;
    /// Correlation at which two beats have the same shape.
    const SAME_SHAPE: f32 = 0.95;

    fn new(fs: f64, win: usize) -> Self {
        let samples = |s: f64| (s * fs).round().max(1.0) as usize;
        let refractory = samples(0.3);
        Recurrence {
            envelope: Vec::with_capacity(win),
            beats: Vec::with_capacity(win / refractory + 1),
            half_beat: samples(0.15),
            half_average: samples(0.05),
            max_lag: samples(0.025),
            refractory,
            max_gap: samples(2.0),
        }
    }

    /// Share of the beats of `qrs` (one window of the QRS-band signal) that another beat repeats.
    fn share(&mut self, qrs: &[f32]) -> f32 {
        self.find_beats(qrs);
        let beats = &self.beats;
        if beats.len() < 2 || beats.windows(2).any(|b| b[1] - b[0] > self.max_gap) {
            return 0.0;
        }
        let repeated = (0..beats.len())
            .filter(|&i| {
                (0..beats.len()).any(|j| {
                    j != i && self.best_correlation(qrs, beats[i], beats[j]) >= Self::SAME_SHAPE
                })
            })
            .count();
        repeated as f32 / beats.len() as f32
    }

    /// Envelope peaks above [`Self::PEAK_SHARE`] of the highest, each the highest within the
    /// refractory period, with a whole segment (and lag) inside the window.
    fn find_beats(&mut self, qrs: &[f32]) {
        let n = qrs.len();
        self.envelope.clear();
        self.beats.clear();
        if n == 0 {
            return;
        }
        let h = self.half_average;
        let mut sum: f64 = qrs[..h.min(n)].iter().map(|v| f64::from(v * v)).sum();
        for i in 0..n {
            if i + h < n {
                sum += f64::from(qrs[i + h] * qrs[i + h]);
            }
            if i > h {
                sum -= f64::from(qrs[i - h - 1] * qrs[i - h - 1]);
            }
            self.envelope.push(sum.max(0.0) as f32);
        }
        let top = self.envelope.iter().copied().fold(0.0f32, f32::max);
        if top <= 0.0 {
            return;
        }
        let edge = self.half_beat + self.max_lag;
        for i in edge..n.saturating_sub(edge) {
            let e = self.envelope[i];
            let lo = i.saturating_sub(self.refractory);
            let hi = (i + self.refractory + 1).min(n);
            // the first of equal maxima counts
            if e >= Self::PEAK_SHARE * top
                && self.envelope[lo..i].iter().all(|&x| x < e)
                && self.envelope[i + 1..hi].iter().all(|&x| x <= e)
            {
                self.beats.push(i);
            }
        }
    }

    /// Highest Pearson correlation of beat `a`'s segment with beat `b`'s, shifted by up to
    /// `max_lag` either way.
    fn best_correlation(&self, qrs: &[f32], a: usize, b: usize) -> f32 {
        let h = self.half_beat;
        let seg_a = &qrs[a - h..=a + h];
        (0..=2 * self.max_lag)
            .map(|k| {
                let c = b + k - self.max_lag;
                pearson(seg_a, &qrs[c - h..=c + h])
            })
            .fold(f32::MIN, f32::max)
    }
}

/// Pearson correlation of two equally long slices; 0 when either is constant.
fn pearson(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len() as f64;
    let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        sa += x;
        sb += y;
        saa += x * x;
        sbb += y * y;
        sab += x * y;
    }
    let cov = sab - sa * sb / n;
    let va = saa - sa * sa / n;
    let vb = sbb - sb * sb / n;
    if va > 0.0 && vb > 0.0 {
        (cov / (va * vb).sqrt()) as f32
    } else {
        0.0
    }
}

/// Kurtosis (m4 / m2², not excess) from the raw sums of x, x², x³, x⁴ over `n` values;
/// 0 for a constant signal.
fn kurtosis_from_moments(n: f64, s1: f64, s2: f64, s3: f64, s4: f64) -> f32 {
    let mean = s1 / n;
    let var = (s2 / n - mean * mean).max(0.0);
    let m4c = s4 / n - 4.0 * mean * s3 / n + 6.0 * mean * mean * s2 / n - 3.0 * mean.powi(4);
    if var > 0.0 {
        (m4c / (var * var)) as f32
    } else {
        0.0
    }
}

/// All windows of a signal and the fraction of its samples that are valid (not NaN) and in
/// usable windows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QualityReport {
    pub windows: Vec<WindowQuality>,
    pub usable_fraction: f64,
}

impl QualityReport {
    /// The window holding `sample`, if any.
    pub fn window_at(&self, sample: u64) -> Option<&WindowQuality> {
        self.windows
            .iter()
            .find(|q| (q.start..q.start + u64::from(q.len)).contains(&sample))
    }
}

/// Assess a whole signal.
pub fn assess_quality(samples: &[f32], fs: f64, cfg: QualityConfig) -> Result<QualityReport> {
    let mut q = SignalQuality::new(fs, cfg)?;
    let mut windows = Vec::new();
    for &x in samples {
        if let Some(w) = q.push(x) {
            windows.push(w);
        }
    }
    windows.extend(q.finish());
    let total: u64 = windows.iter().map(|w| u64::from(w.len)).sum();
    // a fold from +0.0: `sum()` of no usable window is -0.0, which prints as "-0 %"
    let usable = windows
        .iter()
        .filter(|w| w.usable)
        .map(|w| f64::from(w.len) * w.valid_fraction())
        .fold(0.0, |a, b| a + b);
    let usable_fraction = if total == 0 {
        0.0
    } else {
        usable / total as f64
    };
    Ok(QualityReport {
        windows,
        usable_fraction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::rpeak::tests::synth;

    fn beats(dur: f64) -> Vec<f64> {
        (0..)
            .map(|i| 0.4 + 0.8 * f64::from(i))
            .take_while(|t| *t < dur - 0.5)
            .collect()
    }

    fn noise(n: usize, amp: f32) -> Vec<f32> {
        let mut seed = 7u32;
        (0..n)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                amp * ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5)
            })
            .collect()
    }

    #[test]
    fn clean_ecg_is_usable_at_several_rates() {
        for fs in [130.0, 250.0, 360.0] {
            let (x, _) = synth(fs, &beats(40.0), 40.0);
            let r = assess_quality(&x, fs, QualityConfig::default()).unwrap();
            assert_eq!(r.windows.len(), 10);
            assert!(r.usable_fraction > 0.99, "fs {fs}: {:?}", r.windows[0]);
            assert!(r.windows.iter().all(|w| w.issue == QualityIssue::Good));
        }
    }

    #[test]
    fn flat_nan_clipped_and_noisy_windows_are_flagged() {
        let fs = 250.0;
        let (mut x, _) = synth(fs, &beats(40.0), 40.0);
        // window 1: flat line; window 3: NaN; window 5: clipped at 0.6 mV; window 7: noise
        for v in &mut x[1000..2000] {
            *v = 0.01;
        }
        for v in &mut x[3000..4000] {
            *v = f32::NAN;
        }
        for v in &mut x[5000..6000] {
            *v = (*v * 3.0).min(0.6);
        }
        let nz = noise(1000, 3.0);
        for (v, n) in x[7000..8000].iter_mut().zip(&nz) {
            *v += n;
        }
        let r = assess_quality(&x, fs, QualityConfig::default()).unwrap();
        let issues: Vec<QualityIssue> = r.windows.iter().map(|w| w.issue).collect();
        use QualityIssue::*;
        assert_eq!(
            issues,
            vec![
                Good, LeadOff, Good, LeadOff, Good, Saturation, Good, Noise, Good, Good
            ]
        );
        assert!((r.usable_fraction - 0.6).abs() < 1e-9);
        assert!(r.windows.iter().all(|w| (0.0..=1.0).contains(&w.score)));
    }

    #[test]
    fn a_signal_without_usable_windows_is_zero_not_negative_zero() {
        let r = assess_quality(&[0.0; 2000], 250.0, QualityConfig::default()).unwrap();
        assert!(r.windows.iter().all(|w| !w.usable));
        assert_eq!(r.usable_fraction.to_bits(), 0.0f64.to_bits());
    }

    #[test]
    fn lost_frames_count_against_the_usable_fraction() {
        // 130 Hz, 73-sample frames (as a Polar H10 sends), every 20th frame lost: 5 %
        let fs = 130.0;
        let (mut x, _) = synth(fs, &beats(40.0), 40.0);
        for frame in x.chunks_mut(73).step_by(20) {
            frame.fill(f32::NAN);
        }
        let lost = x.iter().filter(|v| v.is_nan()).count() as f64 / x.len() as f64;
        let r = assess_quality(&x, fs, QualityConfig::default()).unwrap();
        assert!(r.windows.iter().all(|w| w.usable), "{:?}", r.windows);
        assert!(
            (r.usable_fraction - (1.0 - lost)).abs() < 0.01,
            "{} vs {lost}",
            r.usable_fraction
        );
    }

    /// Wide biphasic complexes (σ 25 ms: 150 ms wide) with a broad T wave at 110 bpm: hardly peaky, so the
    /// kurtoses alone score it as noise, but every beat repeats.
    fn wide_complexes(fs: f64, dur: f64) -> Vec<f32> {
        let rr = 60.0 / 110.0;
        let gauss = |t: f64, s: f64| (-0.5 * (t / s).powi(2)).exp();
        (0..(dur * fs) as usize)
            .map(|i| {
                let t = i as f64 / fs;
                let k = (t / rr).round();
                let d = t - k * rr;
                let qrs = -d / 0.025 * gauss(d, 0.025);
                let tw = 0.5 * gauss(d - 0.25, 0.08);
                (qrs + tw) as f32
            })
            .collect()
    }

    #[test]
    fn clean_wide_complexes_are_usable_by_their_recurrence() {
        for fs in [130.0, 250.0, 360.0] {
            let x = wide_complexes(fs, 40.0);
            let r = assess_quality(&x, fs, QualityConfig::default()).unwrap();
            for w in &r.windows {
                let kurtoses = ((w.kurtosis - 3.0) / 3.0).max((w.qrs_kurtosis - 6.0) / 4.0);
                assert!(kurtoses < 0.5, "fs {fs}: the kurtoses alone pass {w:?}");
                assert!(w.recurrence > 0.99 && w.usable, "fs {fs}: {w:?}");
            }
        }
    }

    #[test]
    fn noise_has_no_recurrence() {
        for fs in [130.0, 250.0, 360.0] {
            let x = noise((40.0 * fs) as usize, 1.0);
            let r = assess_quality(&x, fs, QualityConfig::default()).unwrap();
            for w in &r.windows {
                assert!(w.recurrence < 0.5 && !w.usable, "fs {fs}: {w:?}");
            }
        }
    }

    #[test]
    fn bad_window_length_is_an_error() {
        assert!(
            SignalQuality::new(
                250.0,
                QualityConfig {
                    window_s: 0.1,
                    ..Default::default()
                }
            )
            .is_err()
        );
        assert!(SignalQuality::new(5.0, QualityConfig::default()).is_err());
    }
}
