//! Detector scoring in the manner of WFDB `bxb` / ANSI/AAMI EC57 (beat-by-beat comparison).
//!
//! - Reference beats are the annotations whose symbol is a beat label
//!   ([`crate::record::is_beat_symbol`]); detections are sample positions at the annotation
//!   rate, fractional where the detector refines its peaks between samples.
//! - A detection matches a reference beat if they are at most `tolerance_s` apart (150 ms as in
//!   EC57). Each reference and each detection matches at most once; matching is greedy in time
//!   order, each reference taking the nearest still-unmatched detection, except that a detection
//!   closer to the following reference is left for it.
//! - Ventricular flutter/fibrillation episodes (from a `[` annotation to the next `]`, or to the
//!   end of the record) are excluded, as EC57 prescribes for QRS detection scoring: references
//!   and detections inside them are not counted.
//! - Scoring starts at `start_s` (bxb's default is 5 minutes, EC57's learning period; ours is 0:
//!   the whole record is scored, which is stricter for a detector with a 2 s learning phase).
//! - Timing error = detection − reference of each matched pair; statistics on its absolute value.
//! - RR error = detected RR − reference RR of two consecutive reference beats both matched (the
//!   change of timing error from one beat to the next): a constant offset from the reference's
//!   fiducial convention cancels, a fiducial that jumps between deflections (the R-wave of one
//!   beat, the S-wave of the next) does not; it is what the HRV figures inherit.
//! - RMSSD, reference and detected: over the successive differences of NN intervals (two
//!   consecutive reference beats of the AAMI class N, both matched), each interval once from the
//!   reference beat times and once from their detections' times. The detector's own false or
//!   missed beats are left out (they break the run), so the two differ only by the fiducials.
//!
//! Totals are gross: counts summed over records, timing errors and NN differences pooled.

use crate::model_input::beat::{AamiClass, aami_class};
use crate::record::{Annotation, is_beat_symbol};

/// Scoring options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalOptions {
    /// Match window half-width in seconds (EC57: 0.15).
    pub tolerance_s: f64,
    /// Ignore everything before this time (seconds).
    pub start_s: f64,
    /// Exclude ventricular flutter/fibrillation episodes (`[` … `]`).
    pub exclude_vf: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            tolerance_s: 0.15,
            start_s: 0.0,
            exclude_vf: true,
        }
    }
}

/// Counts and timing errors of one record (or of a set of records, see [`gross`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Score {
    pub name: String,
    pub tp: usize,
    pub fn_: usize,
    pub fp: usize,
    /// Signed timing errors (detection − reference) of matched pairs, ms.
    pub timing_errors_ms: Vec<f64>,
    /// Detected RR − reference RR of consecutive reference beats both matched, ms.
    pub rr_errors_ms: Vec<f64>,
    /// Successive differences of NN intervals, (from the reference times, from the
    /// detections' times), ms.
    pub nn_successive_ms: Vec<(f64, f64)>,
    /// Reference beats without a detection (annotation samples).
    pub missed: Vec<i64>,
    /// Detections without a reference beat (positions at the annotation rate).
    pub false_positives: Vec<f64>,
}

/// `a / b`; NaN when `b` is 0 (nothing to score: no reference beats, or no detections).
fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

/// The `q`-quantile (0..1) of `v` (nearest-rank on the sorted absolute values); NaN when empty.
fn abs_quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut a: Vec<f64> = v.iter().map(|x| x.abs()).collect();
    a.sort_by(f64::total_cmp);
    let i = ((q * a.len() as f64).ceil() as usize).clamp(1, a.len()) - 1;
    a[i]
}

fn root_mean_square(v: impl ExactSizeIterator<Item = f64>) -> f64 {
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    (v.map(|x| x * x).sum::<f64>() / n as f64).sqrt()
}

impl Score {
    /// Sensitivity TP / (TP + FN); NaN without reference beats. The ratios and timing
    /// statistics are NaN when undefined, never a flattering 100 % or 0 ms.
    pub fn sensitivity(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    /// Positive predictivity TP / (TP + FP).
    pub fn positive_predictivity(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    /// F1 = 2 TP / (2 TP + FP + FN).
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
    /// Median absolute timing error, ms.
    pub fn median_abs_error_ms(&self) -> f64 {
        abs_quantile(&self.timing_errors_ms, 0.5)
    }
    /// 95th percentile of the absolute timing error, ms.
    pub fn p95_abs_error_ms(&self) -> f64 {
        abs_quantile(&self.timing_errors_ms, 0.95)
    }
    /// 95th percentile of the absolute RR error, ms.
    pub fn p95_abs_rr_error_ms(&self) -> f64 {
        abs_quantile(&self.rr_errors_ms, 0.95)
    }
    /// RR errors larger than `ms` in absolute value (a fiducial that jumped).
    pub fn rr_errors_over(&self, ms: f64) -> usize {
        self.rr_errors_ms.iter().filter(|e| e.abs() > ms).count()
    }
    /// RMSSD of the NN intervals by the reference beat times, ms; NaN without any.
    pub fn rmssd_reference_ms(&self) -> f64 {
        root_mean_square(self.nn_successive_ms.iter().map(|d| d.0))
    }
    /// RMSSD of the same NN intervals by their detections' times, ms; NaN without any.
    pub fn rmssd_detected_ms(&self) -> f64 {
        root_mean_square(self.nn_successive_ms.iter().map(|d| d.1))
    }
    /// Mean signed timing error (bias), ms.
    pub fn mean_error_ms(&self) -> f64 {
        if self.timing_errors_ms.is_empty() {
            f64::NAN
        } else {
            self.timing_errors_ms.iter().sum::<f64>() / self.timing_errors_ms.len() as f64
        }
    }
    /// One line summary.
    pub fn summary(&self) -> String {
        format!(
            "{:>8} TP {:>6} FN {:>4} FP {:>4}  Se {:.3}% +P {:.3}% F1 {:.3}%  |err| median {:.1} ms p95 {:.1} ms bias {:+.1} ms  |RR err| p95 {:.1} ms, > 20 ms {}  RMSSD {:.1} / {:.1} ms",
            self.name,
            self.tp,
            self.fn_,
            self.fp,
            100.0 * self.sensitivity(),
            100.0 * self.positive_predictivity(),
            100.0 * self.f1(),
            self.median_abs_error_ms(),
            self.p95_abs_error_ms(),
            self.mean_error_ms(),
            self.p95_abs_rr_error_ms(),
            self.rr_errors_over(20.0),
            self.rmssd_reference_ms(),
            self.rmssd_detected_ms()
        )
    }
}

/// Excluded (VF/flutter) spans `[from, to)` in annotation samples.
pub fn vf_spans(ann: &[Annotation]) -> Vec<(i64, i64)> {
    let mut spans = Vec::new();
    let mut open: Option<i64> = None;
    for a in ann {
        match a.symbol.as_str() {
            "[" => open = open.or(Some(a.sample)),
            "]" => {
                if let Some(s) = open.take() {
                    spans.push((s, a.sample + 1));
                }
            }
            _ => {}
        }
    }
    if let Some(s) = open {
        spans.push((s, i64::MAX));
    }
    spans
}

/// Score `detections` (sample positions at `annotation_rate_hz`) against the beat annotations.
pub fn score_record(
    name: &str,
    annotations: &[Annotation],
    annotation_rate_hz: f64,
    detections: &[f64],
    opts: &EvalOptions,
) -> Score {
    let spans = if opts.exclude_vf {
        vf_spans(annotations)
    } else {
        Vec::new()
    };
    let start = opts.start_s * annotation_rate_hz;
    let keep = |t: f64| t >= start && !spans.iter().any(|&(a, b)| t >= a as f64 && t < b as f64);
    // (sample, AAMI class N)
    let mut refs: Vec<(i64, bool)> = annotations
        .iter()
        .filter(|a| is_beat_symbol(&a.symbol) && keep(a.sample as f64))
        .map(|a| (a.sample, aami_class(&a.symbol) == Some(AamiClass::N)))
        .collect();
    refs.sort_unstable();
    let mut dets: Vec<f64> = detections.iter().copied().filter(|&t| keep(t)).collect();
    dets.sort_unstable_by(f64::total_cmp);
    let tol = (opts.tolerance_s * annotation_rate_hz).round();
    let mut used = vec![false; dets.len()];
    let mut score = Score {
        name: name.to_string(),
        ..Score::default()
    };
    let mut lo = 0usize; // first detection that can still match
    let ms = 1000.0 / annotation_rate_hz;
    // the previous reference when matched: (its sample, its detection, N), and the NN interval
    // ending at it, (reference, detected) ms
    let mut previous: Option<(f64, f64, bool)> = None;
    let mut previous_nn: Option<(f64, f64)> = None;
    for (ri, &(reference, normal)) in refs.iter().enumerate() {
        let r = reference as f64;
        while lo < dets.len() && dets[lo] < r - tol {
            lo += 1;
        }
        let next_ref = refs.get(ri + 1).map(|&(t, _)| t as f64);
        let mut best: Option<usize> = None;
        let mut j = lo;
        while j < dets.len() && dets[j] <= r + tol {
            if !used[j] {
                let d = (dets[j] - r).abs();
                // leave a detection to the next reference when it is closer to that one
                let closer_to_next = next_ref.is_some_and(|nr| (dets[j] - nr).abs() < d);
                if !closer_to_next && best.is_none_or(|b| d < (dets[b] - r).abs()) {
                    best = Some(j);
                }
            }
            j += 1;
        }
        match best {
            Some(b) => {
                used[b] = true;
                score.tp += 1;
                let d = dets[b];
                score.timing_errors_ms.push((d - r) * ms);
                let mut nn = None;
                if let Some((pr, pd, previous_normal)) = previous {
                    let (reference_rr, detected_rr) = ((r - pr) * ms, (d - pd) * ms);
                    score.rr_errors_ms.push(detected_rr - reference_rr);
                    if previous_normal && normal {
                        if let Some((pr_rr, pd_rr)) = previous_nn {
                            score
                                .nn_successive_ms
                                .push((reference_rr - pr_rr, detected_rr - pd_rr));
                        }
                        nn = Some((reference_rr, detected_rr));
                    }
                }
                previous = Some((r, d, normal));
                previous_nn = nn;
            }
            None => {
                score.fn_ += 1;
                score.missed.push(reference);
                previous = None;
                previous_nn = None;
            }
        }
    }
    score.false_positives = dets
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(d, _)| *d)
        .collect();
    score.fp = score.false_positives.len();
    score
}

/// Gross totals: counts summed, timing errors pooled.
pub fn gross(name: &str, scores: &[Score]) -> Score {
    let mut t = Score {
        name: name.to_string(),
        ..Score::default()
    };
    for s in scores {
        t.tp += s.tp;
        t.fn_ += s.fn_;
        t.fp += s.fp;
        t.timing_errors_ms.extend_from_slice(&s.timing_errors_ms);
        t.rr_errors_ms.extend_from_slice(&s.rr_errors_ms);
        t.nn_successive_ms.extend_from_slice(&s.nn_successive_ms);
        t.missed.extend_from_slice(&s.missed);
        t.false_positives.extend_from_slice(&s.false_positives);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(sample: i64, symbol: &str) -> Annotation {
        Annotation {
            sample,
            symbol: symbol.into(),
            code: 0,
            subtype: 0,
            chan: 0,
            num: 0,
            aux: None,
            duration_s: None,
        }
    }

    #[test]
    fn counts_and_timing() {
        let a = vec![ann(100, "N"), ann(400, "V"), ann(700, "+"), ann(1000, "N")];
        // 100 → 102 (TP), 400 missed, 1000 → 990 (TP), 2000 FP; "+" is not a beat
        let s = score_record(
            "x",
            &a,
            1000.0,
            &[102.0, 990.0, 2000.0],
            &EvalOptions::default(),
        );
        assert_eq!((s.tp, s.fn_, s.fp), (2, 1, 1));
        assert_eq!(s.timing_errors_ms, vec![2.0, -10.0]);
        assert!((s.sensitivity() - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.f1() - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(s.median_abs_error_ms(), 2.0);
        assert_eq!(s.p95_abs_error_ms(), 10.0);
    }

    #[test]
    fn rr_error_is_the_change_of_timing_error_between_consecutive_matched_beats() {
        let a: Vec<Annotation> = (1..=6).map(|i| ann(i * 800, "N")).collect();
        // a constant 40 ms offset cancels
        let offset: Vec<f64> = (1..=6).map(|i| (i * 800 + 40) as f64).collect();
        let s = score_record("x", &a, 1000.0, &offset, &EvalOptions::default());
        assert_eq!(s.rr_errors_ms, vec![0.0; 5]);
        assert_eq!(s.p95_abs_rr_error_ms(), 0.0);
        // a fiducial alternating between +0 and +40 ms does not; the missed 4th beat (no
        // detection near 3200) breaks the pairs 3-4 and 4-5
        let jumping = [800.0, 1640.0, 2400.0, 4040.0, 4800.0];
        let s = score_record("x", &a, 1000.0, &jumping, &EvalOptions::default());
        assert_eq!(s.fn_, 1);
        assert_eq!(s.rr_errors_ms, vec![40.0, -40.0, -40.0]);
        assert_eq!(s.p95_abs_rr_error_ms(), 40.0);
        assert_eq!((s.rr_errors_over(20.0), s.rr_errors_over(40.0)), (3, 0));
    }

    #[test]
    fn rmssd_over_nn_intervals_by_reference_and_by_detection_times() {
        // N beats 800 ms apart, one 900 ms interval, a V beat (no NN interval beside it)
        let times = [0, 800, 1600, 2500, 3300, 3800, 4900, 5700, 6500];
        let a: Vec<Annotation> = times
            .iter()
            .map(|&t| ann(1000 + t, if t == 3800 { "V" } else { "N" }))
            .collect();
        // detections exact except the 3rd beat's fiducial 20 ms late
        let dets: Vec<f64> = times
            .iter()
            .map(|&t| (1000 + t + if t == 1600 { 20 } else { 0 }) as f64)
            .collect();
        let s = score_record("x", &a, 1000.0, &dets, &EvalOptions::default());
        // NN runs 800, 800, 900, 800 | V | 800, 800; detected 800, 820, 880, 800 | 800, 800
        assert_eq!(
            s.nn_successive_ms,
            vec![(0.0, 20.0), (100.0, 60.0), (-100.0, -80.0), (0.0, 0.0)]
        );
        assert!((s.rmssd_reference_ms() - (20_000.0f64 / 4.0).sqrt()).abs() < 1e-9);
        assert!((s.rmssd_detected_ms() - (10_400.0f64 / 4.0).sqrt()).abs() < 1e-9);
        assert!(
            score_record("x", &a[..2], 1000.0, &dets, &EvalOptions::default())
                .rmssd_reference_ms()
                .is_nan()
        );
    }

    #[test]
    fn nothing_to_score_is_undefined_not_perfect() {
        let s = score_record("x", &[ann(100, "+")], 1000.0, &[], &EvalOptions::default());
        assert_eq!((s.tp, s.fn_, s.fp), (0, 0, 0));
        assert!(s.sensitivity().is_nan() && s.positive_predictivity().is_nan() && s.f1().is_nan());
        assert!(s.median_abs_error_ms().is_nan());
        let only_false = score_record("x", &[], 1000.0, &[5.0], &EvalOptions::default());
        assert!(only_false.sensitivity().is_nan());
        assert_eq!(only_false.positive_predictivity(), 0.0);
    }

    #[test]
    fn each_reference_matched_once_and_vf_excluded() {
        let a = vec![
            ann(100, "N"),
            ann(200, "["),
            ann(300, "!"),
            ann(500, "]"),
            ann(800, "N"),
        ];
        let s = score_record(
            "x",
            &a,
            1000.0,
            &[99.0, 101.0, 300.0, 450.0, 805.0],
            &EvalOptions::default(),
        );
        // 99 matches 100; 101 is an extra (FP); 300 and 450 lie in VF; 805 matches 800
        assert_eq!((s.tp, s.fn_, s.fp), (2, 0, 1));
    }

    #[test]
    fn tolerance_is_150_ms() {
        let a = vec![ann(1000, "N")];
        let s = score_record("x", &a, 1000.0, &[1150.0], &EvalOptions::default());
        assert_eq!(s.tp, 1);
        let s = score_record("x", &a, 1000.0, &[1151.0], &EvalOptions::default());
        assert_eq!((s.tp, s.fn_, s.fp), (0, 1, 1));
    }
}
