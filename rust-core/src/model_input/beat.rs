//! Beat-type model inputs: a fixed window of the 130 Hz ECG around each R-peak plus RR features,
//! and the AAMI (ANSI/AAMI EC57) grouping of MIT-BIH beat labels.
//!
//! Window: [`BEAT_PRE`] = 36 samples (0.277 s) before the R-peak to 59 samples (0.454 s) after it,
//! [`BEAT_LEN`] = 96 samples at 130 Hz: P wave, QRS and T wave at rates up to ~130 bpm.
//! Normalisation: the window's median is subtracted (it sits on the isoelectric line for most
//! beats, removing baseline offset and wander); amplitudes stay in mV, because amplitude itself
//! separates classes (ventricular beats are larger and wider).
//!
//! RR features ([`RR_FEATURE_NAMES`], seconds and ratios): the RR before and after the beat, the
//! local mean RR (mean of up to 10 RR intervals ending at this beat, the pre-RR included), and
//! pre/local and post/pre (prematurity and compensatory pause, which mark S and V beats).

use super::MODEL_RATE_HZ;

/// Samples per beat window (130 Hz).
pub const BEAT_LEN: usize = 96;
/// Samples before the R-peak; the R-peak is at index `BEAT_PRE` of the window.
pub const BEAT_PRE: usize = 36;
/// RR feature names, in column order.
pub const RR_FEATURE_NAMES: [&str; 5] = [
    "pre_rr_s",
    "post_rr_s",
    "local_rr_s",
    "pre_local_ratio",
    "post_pre_ratio",
];
/// Number of RR intervals averaged for `local_rr_s`.
pub const LOCAL_RR_BEATS: usize = 10;

/// Beat inputs of a signal; row `i` of `beats` and `rr` belongs to `peaks[i]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BeatInputs {
    /// R-peak index (in the 130 Hz signal) of each row.
    pub peaks: Vec<usize>,
    /// `peaks.len() × BEAT_LEN`, row-major, mV minus the window median.
    pub beats: Vec<f32>,
    /// `peaks.len() × RR_FEATURE_NAMES.len()`, row-major.
    pub rr: Vec<f32>,
}

impl BeatInputs {
    /// Number of beats.
    pub fn len(&self) -> usize {
        self.peaks.len()
    }

    /// Whether there are no beats.
    pub fn is_empty(&self) -> bool {
        self.peaks.is_empty()
    }

    /// The window of beat `i` (`BEAT_LEN` samples); `None` out of range.
    pub fn beat(&self, i: usize) -> Option<&[f32]> {
        self.beats.get(i * BEAT_LEN..(i + 1) * BEAT_LEN)
    }

    /// The RR features of beat `i`; `None` out of range.
    pub fn rr_features(&self, i: usize) -> Option<&[f32]> {
        let r = RR_FEATURE_NAMES.len();
        self.rr.get(i * r..(i + 1) * r)
    }
}

/// Writes the normalised window of the beat at R-peak `peak` into `out` (`BEAT_LEN` samples).
/// Returns false (and leaves `out` unspecified) when the window does not fit in `samples`,
/// contains a non-finite sample, or `out` has the wrong length. `scratch` (any length; resized
/// once) holds a copy for the median. Allocation-free after the first call.
pub fn beat_window(samples: &[f32], peak: usize, out: &mut [f32], scratch: &mut Vec<f32>) -> bool {
    if out.len() != BEAT_LEN || peak < BEAT_PRE {
        return false;
    }
    let start = peak - BEAT_PRE;
    let Some(w) = samples.get(start..start + BEAT_LEN) else {
        return false;
    };
    if w.iter().any(|v| !v.is_finite()) {
        return false;
    }
    scratch.clear();
    scratch.extend_from_slice(w);
    let med = median_in_place(scratch);
    for (o, v) in out.iter_mut().zip(w) {
        *o = v - med;
    }
    true
}

/// Median of finite values (sorts them); 0 for an empty slice.
pub(crate) fn median_in_place(v: &mut [f32]) -> f32 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    v.sort_unstable_by(f32::total_cmp);
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// RR features (see [`RR_FEATURE_NAMES`]) of beat `i` of `peaks` (130 Hz indices) into `out`.
/// Returns false when the beat lacks a neighbour on either side, the peaks around it are not
/// increasing, or `out` has the wrong length.
pub fn rr_features(peaks: &[usize], i: usize, out: &mut [f32]) -> bool {
    if out.len() != RR_FEATURE_NAMES.len() || i == 0 || i + 1 >= peaks.len() {
        return false;
    }
    let rr = |j: usize| -> Option<f64> {
        // interval ending at peak j
        (peaks[j] > peaks[j - 1]).then(|| (peaks[j] - peaks[j - 1]) as f64 / MODEL_RATE_HZ)
    };
    let (Some(pre), Some(post)) = (rr(i), rr(i + 1)) else {
        return false;
    };
    let first = i.saturating_sub(LOCAL_RR_BEATS - 1).max(1);
    let mut sum = 0.0;
    for j in first..=i {
        let Some(r) = rr(j) else { return false };
        sum += r;
    }
    let local = sum / (i + 1 - first) as f64;
    out.copy_from_slice(&[
        pre as f32,
        post as f32,
        local as f32,
        (pre / local) as f32,
        (post / pre) as f32,
    ]);
    true
}

/// Beat windows and RR features of every R-peak of a 130 Hz signal (mV) that has a full window
/// and both neighbours (see [`beat_window`], [`rr_features`]); others are skipped.
pub fn beat_inputs(samples_130hz: &[f32], peaks: &[usize]) -> BeatInputs {
    let r = RR_FEATURE_NAMES.len();
    let mut out = BeatInputs::default();
    let mut win = [0.0f32; BEAT_LEN];
    let mut feats = [0.0f32; RR_FEATURE_NAMES.len()];
    let mut scratch = Vec::with_capacity(BEAT_LEN);
    out.beats.reserve(peaks.len() * BEAT_LEN);
    out.rr.reserve(peaks.len() * r);
    for (i, &p) in peaks.iter().enumerate() {
        if rr_features(peaks, i, &mut feats)
            && beat_window(samples_130hz, p, &mut win, &mut scratch)
        {
            out.peaks.push(p);
            out.beats.extend_from_slice(&win);
            out.rr.extend_from_slice(&feats);
        }
    }
    out
}

/// AAMI EC57 beat classes, in the label order of beat-type models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum AamiClass {
    /// Normal and bundle-branch-block beats (N, L, R, e, j).
    N = 0,
    /// Supraventricular ectopic (A, a, J, S).
    S = 1,
    /// Ventricular ectopic (V, E).
    V = 2,
    /// Fusion of ventricular and normal (F).
    F = 3,
    /// Paced, fusion of paced and normal, unclassifiable and other beats (/, f, Q, ...).
    Q = 4,
}

/// Label order of beat-type models (`AamiClass as usize` indexes it).
pub const AAMI_LABELS: [&str; 5] = ["N", "S", "V", "F", "Q"];

/// The AAMI class of a WFDB beat annotation symbol; `None` for non-beat annotations (rhythm,
/// noise, comments; see [`crate::record::is_beat_symbol`]). Beat symbols outside the N/S/V/F lists
/// (`/`, `f`, `Q`, `?`, `B`, `r`, `n`) are Q.
pub fn aami_class(symbol: &str) -> Option<AamiClass> {
    if !crate::record::is_beat_symbol(symbol) {
        return None;
    }
    Some(match symbol {
        "N" | "L" | "R" | "e" | "j" => AamiClass::N,
        "A" | "a" | "J" | "S" => AamiClass::S,
        "V" | "E" => AamiClass::V,
        "F" => AamiClass::F,
        _ => AamiClass::Q,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_median_free_and_centred_on_r() {
        let mut x: Vec<f32> = vec![0.5; 1000];
        x[300] = 2.5; // R 2 mV above a 0.5 mV baseline
        let peaks = [100usize, 200, 300, 430, 560];
        let b = beat_inputs(&x, &peaks);
        assert_eq!(b.peaks, vec![200, 300, 430]);
        assert_eq!(b.beats.len(), 3 * BEAT_LEN);
        let w = b.beat(1).unwrap();
        assert_eq!(w[BEAT_PRE], 2.0);
        assert!(
            w.iter()
                .enumerate()
                .all(|(i, &v)| i == BEAT_PRE || v == 0.0)
        );
        assert!(b.beat(3).is_none());
    }

    #[test]
    fn rr_features_hand_computed() {
        // RR 130, 130, 65 samples = 1, 1, 0.5 s; then 195 (1.5 s)
        let peaks = [0usize, 130, 260, 325, 520];
        let mut f = [0.0f32; 5];
        assert!(rr_features(&peaks, 3, &mut f));
        let local = (1.0 + 1.0 + 0.5) / 3.0;
        let want = [0.5, 1.5, local, 0.5 / local, 3.0];
        for (a, b) in f.iter().zip(want) {
            assert!((a - b as f32).abs() < 1e-6, "{f:?}");
        }
        assert!(!rr_features(&peaks, 0, &mut f));
        assert!(!rr_features(&peaks, 4, &mut f));
        assert!(!rr_features(&[0, 10, 10], 1, &mut f)); // not increasing
        assert!(!rr_features(&peaks, 2, &mut [0.0; 3]));
    }

    #[test]
    fn local_rr_uses_at_most_ten_intervals() {
        let mut peaks: Vec<usize> = (0..12).map(|i| i * 260).collect(); // 2 s intervals
        peaks.extend((1..=10).map(|i| 11 * 260 + i * 130)); // then 10 × 1 s
        let mut f = [0.0f32; 5];
        assert!(rr_features(&peaks, 21 - 1, &mut f)); // 9 × 1 s + 1 × 2 s
        assert!((f[2] - 1.1).abs() < 1e-6, "{f:?}");
    }

    #[test]
    fn beats_without_room_or_with_nan_are_skipped() {
        let mut x = vec![0.0f32; 400];
        x[250] = f32::NAN;
        let b = beat_inputs(&x, &[10, 30, 200, 280, 360, 399]);
        // 30: window starts before 0; 200 and 280: NaN inside; 360: ends past the signal
        assert!(b.is_empty());
        assert!(beat_inputs(&x, &[]).is_empty());
        let mut s = Vec::new();
        assert!(!beat_window(&x, 100, &mut [0.0; 10], &mut s));
    }

    #[test]
    fn aami_mapping() {
        for (s, c) in [
            ("N", AamiClass::N),
            ("j", AamiClass::N),
            ("A", AamiClass::S),
            ("J", AamiClass::S),
            ("E", AamiClass::V),
            ("F", AamiClass::F),
            ("/", AamiClass::Q),
            ("f", AamiClass::Q),
            ("Q", AamiClass::Q),
        ] {
            assert_eq!(aami_class(s), Some(c), "{s}");
            assert_eq!(AAMI_LABELS[c as usize], format!("{c:?}"));
        }
        for s in ["+", "~", "|", "[", "x"] {
            assert_eq!(aami_class(s), None, "{s}");
        }
    }
}
