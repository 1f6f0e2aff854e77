//! Heart-rate variability over a window of RR intervals (pure).
//!
//! CONTRACT (the hrv helper fills in the implementation; field names are used by analysis/ffi/cli):
//! [`HrvMetrics`] and [`RrCorrection`].
//!
//! Entry points:
//! - [`hrv_metrics`]: metrics of an RR series exactly as given (no correction);
//! - [`nn_metrics`]: metrics of an NN series with gaps, where intervals touching beats not of
//!   normal type were left out ([`nn`]);
//! - [`clean_rr`]: artefact/ectopic correction (Lipponen & Tarvainen 2019, see [`correction`]);
//! - [`analyze_rr`]: [`clean_rr`] then [`hrv_metrics`], with the correction counts filled in.
//!
//! Definitions (RR in ms, `n` intervals):
//! - MeanNN, SDNN (sample SD, ddof = 1, as NeuroKit2 `hrv_time`), RMSSD = sqrt(mean(ΔRR²)),
//!   pNN50 = #(|ΔRR| > 50 ms) / n · 100 — NOTE: NeuroKit2 divides by the number of *intervals*
//!   `n`, not by the `n − 1` successive differences; we follow NeuroKit2 so the two agree.
//! - Mean HR = mean(60000 / RR_i) (mean of instantaneous rates, as Kubios; not 60000 / MeanNN).
//! - SD1 = SD((RR_i − RR_{i+1}) / √2), SD2 = SD((RR_i + RR_{i+1}) / √2), ddof = 1 (Brennan et al.
//!   2001, IEEE TBME 48:1342; same as NeuroKit2 `hrv_nonlinear`).
//! - Baevsky stress index SI = AMo / (2 · Mo · MxDMn) (Baevsky & Chernikova 2017, Cardiometry 10:66;
//!   Baevsky & Berseneva 2008 methodological recommendations): 50 ms histogram bins aligned at
//!   multiples of 50 ms, Mo = centre of the most populated bin (lowest on ties) in s, AMo = share of
//!   intervals in that bin in %, MxDMn = max − min RR in s. We report SI itself (Kubios shows √SI).
//! - LF (0.04–0.15 Hz), HF (0.15–0.4 Hz) in ms² from a Lomb–Scargle periodogram of the unevenly
//!   sampled RR series (no resampling), see [`frequency`].

pub mod correction;
pub mod frequency;
pub mod nn;

pub use correction::{CleanOptions, clean_rr, clean_rr_with};
pub use frequency::{BandPowers, lomb_scargle_band_powers};
pub use nn::{LeftOut, NnSelection, NnSeries, normal_to_normal};

use crate::dsp::rpeak::refined_position;
use crate::error::{Error, Result};

/// What the RR cleaning changed, in beats (each counted once, by its first correction).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct RrCorrection {
    /// Ectopic beats (short-long pairs) whose intervals were replaced.
    pub ectopic: u32,
    /// Missed beats (one interval ≈ two) split.
    pub missed: u32,
    /// Extra beats (two intervals ≈ one) merged.
    pub extra: u32,
    /// Physiologically impossible intervals (artefacts) removed or interpolated.
    pub artefacts: u32,
}

impl RrCorrection {
    /// Total number of corrections of any kind.
    pub fn total(&self) -> u32 {
        self.ectopic + self.missed + self.extra + self.artefacts
    }
}

/// HRV metrics of one window. Frequency-domain and non-linear values are `None` when the window
/// is too short for them.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct HrvMetrics {
    /// NN intervals the metrics are computed from: after artefact correction, which deletes
    /// extra beats and inserts missed ones, so it can exceed the intervals given; or the
    /// normal-to-normal intervals kept ([`Self::left_out`]).
    pub n_intervals: u32,
    pub mean_nn_ms: f64,
    pub sdnn_ms: f64,
    pub rmssd_ms: f64,
    pub pnn50_pct: f64,
    /// Mean of the beat-to-beat heart rate (60000 / NN): above 60000 / `mean_nn_ms` when the
    /// intervals vary (by under 1 % in sinus rhythm, far more in arrhythmia). The stress model's
    /// heart-rate input.
    pub mean_hr_bpm: f64,
    pub lf_ms2: Option<f64>,
    pub hf_ms2: Option<f64>,
    pub lf_hf: Option<f64>,
    pub sd1_ms: Option<f64>,
    pub sd2_ms: Option<f64>,
    pub baevsky_stress_index: Option<f64>,
    /// What the artefact correction changed (all zero for an NN series of typed beats, which
    /// leaves out instead of correcting).
    pub correction: RrCorrection,
    /// For an NN series of typed beats ([`nn::normal_to_normal`]): the intervals left out, and
    /// why. `None` when the series was corrected instead (no beat types: RR logs, stress windows).
    pub left_out: Option<LeftOut>,
}

/// Above this share of corrected intervals HRV figures are unreliable: they assume sinus rhythm,
/// and frequent ectopic beats (bigeminy, trigeminy) partly escape correction (Kubios' rule of
/// thumb, 5 %).
pub const MAX_RELIABLE_CORRECTED_FRACTION: f64 = 0.05;

impl HrvMetrics {
    /// Share (0–1) of the intervals that artefact or ectopic correction changed (beats counted
    /// once each; inserted and removed beats can make the count exceed the intervals kept).
    pub fn corrected_fraction(&self) -> f64 {
        (f64::from(self.correction.total()) / f64::from(self.n_intervals.max(1))).min(1.0)
    }
}

/// Fewest intervals for any metric (SDNN with ddof = 1 and RMSSD need two).
pub const MIN_INTERVALS: usize = 2;
/// Fewest intervals for SD1/SD2 (an SD with ddof = 1 of n − 1 successive pairs).
pub const MIN_NONLINEAR_INTERVALS: usize = 5;
/// Fewest intervals for the Baevsky index (a histogram of fewer beats has no meaningful mode).
pub const MIN_STRESS_INDEX_INTERVALS: usize = 20;
/// Shortest window (s) for HF: ≥ ~10 cycles of its lowest frequency, 0.15 Hz → 67 s; we accept
/// 60 s, the usual "ultra-short" minimum (Task Force 1996; Shaffer & Ginsberg 2017).
pub const MIN_HF_WINDOW_S: f64 = 60.0;
/// Shortest window (s) for LF and LF/HF: the Task Force (1996) recommends ≥ 2 min for LF
/// (0.04 Hz is one cycle per 25 s, so 2 min hold ~5 cycles only; 5 min is the standard).
pub const MIN_LF_WINDOW_S: f64 = 120.0;
/// Successive-difference threshold of pNN50 (ms).
const NN50_MS: f64 = 50.0;
/// Histogram bin width of the Baevsky index (ms).
const SI_BIN_MS: f64 = 50.0;

/// Checks an RR series: non-empty is the caller's concern, but every value must be a finite,
/// positive number of milliseconds.
fn validate(rr_ms: &[f64]) -> Result<()> {
    if let Some((i, v)) = rr_ms
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && **v > 0.0))
    {
        return Err(Error::InvalidArgument(format!(
            "RR interval {i} is {v} ms; RR intervals must be finite and positive"
        )));
    }
    Ok(())
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample standard deviation (ddof = 1) of the values of an iterator with a known mean.
fn sample_sd(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let n = values.clone().count();
    if n < 2 {
        return 0.0;
    }
    let m = values.clone().sum::<f64>() / n as f64;
    (values.map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1) as f64).sqrt()
}

/// Fewest intervals [`rr_irregularity`] reads.
pub const MIN_IRREGULARITY_INTERVALS: usize = 8;

/// How irregular a rhythm is: the median absolute difference of successive RR intervals over
/// the median interval (0 for a metronome). A sinus rhythm stays low even with a strong
/// respiratory arrhythmia (its intervals change smoothly) and with a few ectopic beats or
/// artefacts (the medians ignore them); atrial fibrillation, bigeminy and frequent ectopy are
/// high. `None` with fewer than [`MIN_IRREGULARITY_INTERVALS`] finite positive intervals.
pub fn rr_irregularity(rr_ms: &[f64]) -> Option<f64> {
    let rr: Vec<f64> = rr_ms
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    nn_irregularity(&NnSeries::contiguous(&rr))
}

/// [`rr_irregularity`] of an NN series with gaps: the successive differences are those of
/// intervals that share a beat. `None` with fewer than [`MIN_IRREGULARITY_INTERVALS`]
/// intervals or no successive pair.
pub fn nn_irregularity(nn: &NnSeries) -> Option<f64> {
    if nn.intervals_ms().len() < MIN_IRREGULARITY_INTERVALS {
        return None;
    }
    let mut diffs: Vec<f64> = nn.successive_pairs().map(|(a, b)| (b - a).abs()).collect();
    if diffs.is_empty() {
        return None;
    }
    let spread = median(&mut diffs);
    Some(spread / median(&mut nn.intervals_ms().to_vec()))
}

/// Median of a non-empty, NaN-free slice (sorts it in place). Panics on an empty slice.
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// RR intervals (ms) between consecutive peaks (indices into `samples` at `fs`, each refined to
/// a fractional sample by [`refined_position`]), except those that span missing signal
/// (non-finite samples: a gap, lost frames), whose beats in between were not seen.
pub fn rr_intervals_ms(samples: &[f32], peaks: &[usize], fs: f64) -> Vec<f64> {
    peaks
        .windows(2)
        .filter(|w| spans_only_signal(samples, w[0], w[1]))
        .map(|w| (refined_position(samples, w[1]) - refined_position(samples, w[0])) * 1000.0 / fs)
        .collect()
}

/// Whether peak `from` comes before peak `to` and `samples[from..=to]` exist and are all finite
/// (no missing signal between the two peaks).
pub fn spans_only_signal(samples: &[f32], from: usize, to: usize) -> bool {
    from < to
        && samples
            .get(from..=to)
            .is_some_and(|s| s.iter().all(|x| x.is_finite()))
}

/// HRV metrics of `rr_ms` as given (no artefact correction; see [`analyze_rr`]).
///
/// Errors: [`Error::InvalidArgument`] for a NaN, infinite, zero or negative interval;
/// [`Error::InsufficientSignal`] for fewer than [`MIN_INTERVALS`] intervals.
pub fn hrv_metrics(rr_ms: &[f64]) -> Result<HrvMetrics> {
    nn_metrics(&NnSeries::contiguous(rr_ms))
}

/// HRV metrics of an NN series that may have gaps ([`nn`]): MeanNN, SDNN, mean HR and the
/// Baevsky index over all its intervals; RMSSD, pNN50 and SD1/SD2 over the successive pairs
/// that share a beat; LF/HF by Lomb–Scargle at the intervals' own times. Without gaps it is
/// [`hrv_metrics`] exactly.
///
/// pNN50 is the share of successive differences over 50 ms times (n − 1) / n: NeuroKit2's
/// NN50 / n where there are no gaps (see the module doc), and not diluted by the gaps where
/// there are.
///
/// Errors: as [`hrv_metrics`]; [`Error::InsufficientSignal`] also without a successive pair.
pub fn nn_metrics(nn: &NnSeries) -> Result<HrvMetrics> {
    let rr_ms = nn.intervals_ms();
    validate(rr_ms)?;
    let n = rr_ms.len();
    let pairs = nn.successive_pairs();
    let n_pairs = pairs.clone().count();
    if n < MIN_INTERVALS || n_pairs == 0 {
        return Err(Error::InsufficientSignal(format!(
            "{n} RR interval(s), {n_pairs} of them successive; HRV needs at least \
             {MIN_INTERVALS} successive intervals"
        )));
    }
    let mean_nn = mean(rr_ms);
    let sdnn = sample_sd(rr_ms.iter().copied());
    let diffs = pairs.clone().map(|(a, b)| b - a);
    let rmssd = (diffs.clone().map(|d| d * d).sum::<f64>() / n_pairs as f64).sqrt();
    let nn50 = diffs.filter(|d| d.abs() > NN50_MS).count();
    // NeuroKit2's n without gaps; the pairs scaled by n / (n − 1) with them
    let per = if n_pairs == n - 1 {
        n as f64
    } else {
        n_pairs as f64 * n as f64 / (n - 1) as f64
    };
    let pnn50 = nn50 as f64 / per * 100.0;
    let mean_hr = rr_ms.iter().map(|r| 60_000.0 / r).sum::<f64>() / n as f64;

    let (sd1, sd2) = if n_pairs + 1 >= MIN_NONLINEAR_INTERVALS {
        let inv_sqrt2 = std::f64::consts::FRAC_1_SQRT_2;
        let sd1 = sample_sd(pairs.clone().map(|(a, b)| (a - b) * inv_sqrt2));
        let sd2 = sample_sd(pairs.map(|(a, b)| (a + b) * inv_sqrt2));
        (Some(sd1), Some(sd2))
    } else {
        (None, None)
    };

    let duration_s = nn.span_s();
    let (mut lf, mut hf, mut lf_hf) = (None, None, None);
    if duration_s >= MIN_HF_WINDOW_S
        && let Some(p) = frequency::band_powers_of(nn)
    {
        hf = Some(p.hf_ms2);
        if duration_s >= MIN_LF_WINDOW_S {
            lf = Some(p.lf_ms2);
            lf_hf = (p.hf_ms2 > 0.0).then(|| p.lf_ms2 / p.hf_ms2);
        }
    }

    Ok(HrvMetrics {
        n_intervals: u32::try_from(n).unwrap_or(u32::MAX),
        mean_nn_ms: mean_nn,
        sdnn_ms: sdnn,
        rmssd_ms: rmssd,
        pnn50_pct: pnn50,
        mean_hr_bpm: mean_hr,
        lf_ms2: lf,
        hf_ms2: hf,
        lf_hf,
        sd1_ms: sd1,
        sd2_ms: sd2,
        baevsky_stress_index: baevsky_stress_index(rr_ms),
        correction: RrCorrection::default(),
        left_out: None,
    })
}

/// Baevsky stress index of `rr_ms` (see the module doc), `None` for fewer than
/// [`MIN_STRESS_INDEX_INTERVALS`] intervals, invalid values or a constant series (MxDMn = 0).
pub fn baevsky_stress_index(rr_ms: &[f64]) -> Option<f64> {
    if rr_ms.len() < MIN_STRESS_INDEX_INTERVALS || validate(rr_ms).is_err() {
        return None;
    }
    let min = rr_ms.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rr_ms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mxdmn_s = (max - min) / 1000.0;
    if mxdmn_s <= 0.0 {
        return None;
    }
    // Bins k·50 ms ≤ RR < (k+1)·50 ms, counted relative to the lowest bin.
    let first = (min / SI_BIN_MS).floor();
    let n_bins = ((max / SI_BIN_MS).floor() - first) as usize + 1;
    let mut counts = vec![0u32; n_bins];
    for r in rr_ms {
        let k = ((r / SI_BIN_MS).floor() - first) as usize;
        if let Some(c) = counts.get_mut(k) {
            *c += 1;
        }
    }
    let (mode_bin, &mode_count) = counts.iter().enumerate().rev().max_by_key(|(_, c)| **c)?; // rev: lowest bin wins ties
    let mo_s = (first + mode_bin as f64 + 0.5) * SI_BIN_MS / 1000.0;
    let amo_pct = f64::from(mode_count) / rr_ms.len() as f64 * 100.0;
    Some(amo_pct / (2.0 * mo_s * mxdmn_s))
}

/// [`clean_rr`] (default options) then [`hrv_metrics`] of the cleaned series, with
/// [`HrvMetrics::correction`] telling what was changed.
pub fn analyze_rr(rr_ms: &[f64]) -> Result<HrvMetrics> {
    let (clean, correction) = clean_rr(rr_ms);
    let mut m = hrv_metrics(&clean)?;
    m.correction = correction;
    Ok(m)
}

/// Share (0–1) of a span of `span_ms` covered by trustworthy RR intervals, for a series of a
/// strap's RR intervals (no ECG to judge): min(1, Σ plausible intervals / span) × (1 −
/// `corrections` / intervals), plausible as in [`CleanOptions::default`].
pub fn rr_usable_fraction(rr_ms: &[f64], corrections: u32, span_ms: f64) -> f64 {
    if rr_ms.is_empty() || span_ms.is_nan() || span_ms <= 0.0 {
        return 0.0;
    }
    let plausible = CleanOptions::default();
    // a fold from +0.0: `sum()` of nothing is -0.0, which prints as "-0 %"
    let covered = rr_ms
        .iter()
        .filter(|&&v| v >= plausible.min_rr_ms && v <= plausible.max_rr_ms)
        .fold(0.0, |a, b| a + b);
    let kept = 1.0 - f64::from(corrections) / rr_ms.len() as f64;
    (covered / span_ms).min(1.0) * kept.max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::Range;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// `n` intervals drawn uniformly in `range` (ms) by a fixed LCG seeded with `seed`.
    pub(super) fn random_intervals(mut seed: u64, n: usize, range: Range<f64>) -> Vec<f64> {
        (0..n)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let unit = (seed >> 11) as f64 / (1u64 << 53) as f64;
                range.start + (range.end - range.start) * unit
            })
            .collect()
    }

    #[test]
    fn no_plausible_interval_covers_zero_not_negative_zero() {
        let f = rr_usable_fraction(&[5_000.0, 6_000.0], 0, 11_000.0);
        assert_eq!(f.to_bits(), 0.0f64.to_bits());
    }

    #[test]
    fn irregularity_is_low_for_sinus_rhythms_and_high_for_erratic_ones() {
        assert_eq!(rr_irregularity(&[800.0; 7]), None);
        assert_eq!(rr_irregularity(&[800.0; 30]), Some(0.0));
        // a strong respiratory arrhythmia: ±100 ms over a 5-beat breath
        let rsa: Vec<f64> = (0..40)
            .map(|i| 1000.0 + 100.0 * (f64::from(i) * std::f64::consts::TAU / 5.0).sin())
            .collect();
        let v = rr_irregularity(&rsa).unwrap();
        assert!(v < 0.12, "{v}");
        // two premature beats with their compensatory pauses change nothing
        let mut ectopic = vec![800.0; 40];
        for i in [10, 25] {
            ectopic[i] = 500.0;
            ectopic[i + 1] = 1100.0;
        }
        assert_eq!(rr_irregularity(&ectopic), Some(0.0));
        // intervals drawn at random in 600-1000 ms (a fixed LCG): median |ΔRR| ≈ 116 ms of 800
        let erratic = random_intervals(12345, 40, 600.0..1000.0);
        let v = rr_irregularity(&erratic).unwrap();
        assert!(v > 0.12, "{v}");
        // hand-computed: 800, 900, 800, 900, ... (odd count): |ΔRR| = 100, median RR 800
        let alternating: Vec<f64> = (0..9)
            .map(|i| if i % 2 == 0 { 800.0 } else { 900.0 })
            .collect();
        assert_eq!(rr_irregularity(&alternating), Some(100.0 / 800.0));
    }

    #[test]
    fn hand_computed_time_domain_and_poincare() {
        // ΔRR = 10, −20, 30, −40; deviations from 800: 0, 10, −10, 20, −20.
        let rr = [800.0, 810.0, 790.0, 820.0, 780.0];
        let m = hrv_metrics(&rr).unwrap();
        assert_eq!(m.n_intervals, 5);
        assert!(close(m.mean_nn_ms, 800.0, 1e-12));
        assert!(close(m.sdnn_ms, 250f64.sqrt(), 1e-12)); // 1000 / 4
        assert!(close(m.rmssd_ms, 750f64.sqrt(), 1e-12)); // (100+400+900+1600) / 4
        assert_eq!(m.pnn50_pct, 0.0);
        // 60000/rr: 75, 74.0741, 75.9494, 73.1707, 76.9231
        let hr =
            (75.0 + 60000.0 / 810.0 + 60000.0 / 790.0 + 60000.0 / 820.0 + 60000.0 / 780.0) / 5.0;
        assert!(close(m.mean_hr_bpm, hr, 1e-12));
        // SD1: (x−y)/√2 = −10, 20, −30, 40 over √2 → mean 5/√2, SS = 2900/2, /3
        assert!(close(m.sd1_ms.unwrap(), (1450.0f64 / 3.0).sqrt(), 1e-12));
        // SD2: (x+y)/√2 = 1610, 1600, 1610, 1600 over √2 → SS = 100/2, /3
        assert!(close(m.sd2_ms.unwrap(), (50.0f64 / 3.0).sqrt(), 1e-12));
        // too short for frequency and stress index
        assert_eq!(
            (m.lf_ms2, m.hf_ms2, m.lf_hf, m.baevsky_stress_index),
            (None, None, None, None)
        );
    }

    #[test]
    fn pnn50_divides_by_interval_count_like_neurokit2() {
        // |ΔRR| = 60, 60, 10 → 2 of them > 50 ms; 4 intervals → 50 %.
        let m = hrv_metrics(&[800.0, 860.0, 800.0, 810.0]).unwrap();
        assert!(close(m.pnn50_pct, 50.0, 1e-12));
        // exactly 50 ms does not count
        let m = hrv_metrics(&[800.0, 850.0]).unwrap();
        assert_eq!(m.pnn50_pct, 0.0);
    }

    #[test]
    fn baevsky_hand_computed() {
        // 12 × 800, 6 × 810 (bin 800–850), 2 × 760 (bin 750–800) → modal bin centre 825 ms,
        // AMo = 18/20 = 90 %, MxDMn = 50 ms → SI = 90 / (2 · 0.825 · 0.05) = 1090.909…
        let mut rr = vec![800.0; 12];
        rr.extend([810.0; 6]);
        rr.extend([760.0; 2]);
        let si = baevsky_stress_index(&rr).unwrap();
        assert!(close(si, 90.0 / (2.0 * 0.825 * 0.05), 1e-9), "{si}");
        assert_eq!(baevsky_stress_index(&[800.0; 30]), None); // MxDMn = 0
        assert_eq!(baevsky_stress_index(&rr[..10]), None); // too few
    }

    #[test]
    fn typed_errors_never_panics() {
        assert!(matches!(
            hrv_metrics(&[]),
            Err(Error::InsufficientSignal(_))
        ));
        assert!(matches!(
            hrv_metrics(&[800.0]),
            Err(Error::InsufficientSignal(_))
        ));
        for bad in [f64::NAN, f64::INFINITY, -800.0, 0.0] {
            assert!(matches!(
                hrv_metrics(&[800.0, bad, 800.0]),
                Err(Error::InvalidArgument(_))
            ));
        }
        assert!(matches!(analyze_rr(&[]), Err(Error::InsufficientSignal(_))));
        assert!(analyze_rr(&[f64::NAN; 10]).is_err());
    }

    #[test]
    fn frequency_metrics_only_for_long_enough_windows() {
        let rr: Vec<f64> = (0..60)
            .map(|i| 800.0 + 20.0 * (i as f64 * 0.9).sin())
            .collect(); // 48 s
        let m = hrv_metrics(&rr).unwrap();
        assert_eq!((m.lf_ms2, m.hf_ms2), (None, None));
        let rr: Vec<f64> = (0..100)
            .map(|i| 800.0 + 20.0 * (i as f64 * 0.9).sin())
            .collect(); // 80 s
        let m = hrv_metrics(&rr).unwrap();
        assert!(m.hf_ms2.is_some() && m.lf_ms2.is_none() && m.lf_hf.is_none());
        let rr: Vec<f64> = (0..200)
            .map(|i| 800.0 + 20.0 * (i as f64 * 0.9).sin())
            .collect(); // 160 s
        let m = hrv_metrics(&rr).unwrap();
        assert!(m.hf_ms2.is_some() && m.lf_ms2.is_some() && m.lf_hf.is_some());
    }

    #[test]
    fn analyze_reports_corrections() {
        // (a constant series has zero quartile thresholds: Lipponen–Tarvainen then flags nothing)
        let mut rr: Vec<f64> = (0..100)
            .map(|i| 800.0 + 20.0 * (i as f64 * 0.4).sin())
            .collect();
        rr[50] = 1600.0; // a missed beat
        let m = analyze_rr(&rr).unwrap();
        assert_eq!(m.correction.missed, 1);
        assert_eq!(m.n_intervals, 101);
        assert!(m.mean_nn_ms < 810.0, "{m:?}");
    }
}
