//! Beat segmentation around R-peaks: fixed windows, RR-relative windows, and the Kachuee et al.
//! (2018) 187-sample representation of the Kaggle "MIT-BIH heartbeat" set.
//!
//! All segmentations resample a window `[start, end]` (fractional sample positions) to a caller-
//! chosen length by linear interpolation ([`resample_window`]); positions outside the signal take
//! the nearest edge sample (so every R-peak yields a beat and indices stay 1:1 with the peaks).
//! The hot path writes into a caller-provided buffer: [`segment_beats`] sizes `out` once per call
//! (reusing its capacity across calls) and allocates nothing per beat.

use crate::error::{Error, Result};

/// How the window around each R-peak is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BeatWindow {
    /// `[R − pre_s, R + post_s]`.
    Fixed { pre_s: f64, post_s: f64 },
    /// `[R − pre_frac · RR_prev, R + post_frac · RR_next]`: adapts to heart rate, e.g.
    /// `pre_frac = 1/3, post_frac = 2/3` (P wave … T wave), or `0, 1` (R to next R).
    /// The first beat uses RR_next for RR_prev and the last RR_prev for RR_next.
    RrRelative { pre_frac: f64, post_frac: f64 },
}

impl BeatWindow {
    /// Common choice: 1/3 of the previous RR before R, 2/3 of the next RR after it.
    pub const RR_THIRDS: BeatWindow = BeatWindow::RrRelative {
        pre_frac: 1.0 / 3.0,
        post_frac: 2.0 / 3.0,
    };
}

/// Linearly interpolated samples of `signal` at `out.len()` evenly spaced positions from `start`
/// to `end` (inclusive, in fractional samples). Positions outside the signal clamp to the edge.
/// An empty signal yields zeros.
pub fn resample_window(signal: &[f32], start: f64, end: f64, out: &mut [f32]) {
    let n = out.len();
    if signal.is_empty() {
        out.fill(0.0);
        return;
    }
    let step = if n > 1 {
        (end - start) / (n - 1) as f64
    } else {
        0.0
    };
    let last = (signal.len() - 1) as f64;
    for (k, o) in out.iter_mut().enumerate() {
        let pos = (start + k as f64 * step).clamp(0.0, last);
        let i = pos.floor() as usize;
        let frac = (pos - i as f64) as f32;
        let a = signal[i];
        let b = signal.get(i + 1).copied().unwrap_or(a);
        *o = a + (b - a) * frac;
    }
}

/// Segments one beat per R-peak (sample indices into `signal`, increasing) with `window`, each
/// resampled to `len` samples, into `out` (resized to `r_peaks.len() · len`; beat `i` is
/// `out[i·len .. (i+1)·len]`).
///
/// Errors ([`Error::InvalidArgument`]): `fs_hz` not positive/finite, `len` = 0, negative window
/// sizes, peaks not strictly increasing, or `RrRelative` with fewer than two peaks.
pub fn segment_beats(
    signal: &[f32],
    fs_hz: f64,
    r_peaks: &[usize],
    window: BeatWindow,
    len: usize,
    out: &mut Vec<f32>,
) -> Result<()> {
    if !(fs_hz.is_finite() && fs_hz > 0.0) {
        return Err(Error::InvalidArgument(format!("sampling rate {fs_hz} Hz")));
    }
    if len == 0 {
        return Err(Error::InvalidArgument("beat length 0".into()));
    }
    if r_peaks.windows(2).any(|w| w[1] <= w[0]) {
        return Err(Error::InvalidArgument(
            "R-peaks must be strictly increasing".into(),
        ));
    }
    let (a, b) = match window {
        BeatWindow::Fixed { pre_s, post_s } => (pre_s, post_s),
        BeatWindow::RrRelative {
            pre_frac,
            post_frac,
        } => (pre_frac, post_frac),
    };
    if !(a.is_finite() && b.is_finite() && a >= 0.0 && b >= 0.0) {
        return Err(Error::InvalidArgument(format!("window {window:?}")));
    }
    if matches!(window, BeatWindow::RrRelative { .. }) && r_peaks.len() < 2 {
        return Err(Error::InvalidArgument(
            "an RR-relative window needs at least two R-peaks".into(),
        ));
    }
    out.clear();
    out.resize(r_peaks.len() * len, 0.0);
    for (i, (&r, dst)) in r_peaks.iter().zip(out.chunks_exact_mut(len)).enumerate() {
        let r = r as f64;
        let (start, end) = match window {
            BeatWindow::Fixed { pre_s, post_s } => (r - pre_s * fs_hz, r + post_s * fs_hz),
            BeatWindow::RrRelative {
                pre_frac,
                post_frac,
            } => {
                let prev = i.checked_sub(1).map(|p| r - r_peaks[p] as f64);
                let next = r_peaks.get(i + 1).map(|&q| q as f64 - r);
                let rr_prev = prev.or(next).unwrap_or(0.0);
                let rr_next = next.or(prev).unwrap_or(0.0);
                (r - pre_frac * rr_prev, r + post_frac * rr_next)
            }
        };
        resample_window(signal, start, end, dst);
    }
    Ok(())
}

/// Sampling rate of the Kaggle MIT-BIH heartbeat representation.
pub const KACHUEE_FS_HZ: f64 = 125.0;
/// Samples per beat (zero padded).
pub const KACHUEE_LEN: usize = 187;
/// Window length used to normalise and find R-peak candidates.
pub const KACHUEE_WINDOW_S: f64 = 10.0;
/// Threshold on the [0,1]-normalised local maxima for R-peak candidates.
pub const KACHUEE_R_THRESHOLD: f32 = 0.9;
/// Beat length as a multiple of the window's median RR.
pub const KACHUEE_PERIOD_FACTOR: f64 = 1.2;

/// One beat of the Kachuee representation.
#[derive(Debug, Clone, PartialEq)]
pub struct KachueeBeat {
    /// R-peak position in the 125 Hz resampled signal.
    pub r_index: usize,
    /// The same in samples of the input signal (nearest).
    pub r_index_input: usize,
    /// Number of signal samples before the zero padding (round(1.2 · T), ≤ 187).
    pub n_signal: usize,
    /// The 187 values: beat from R onwards in [0, 1], then zeros.
    pub samples: [f32; KACHUEE_LEN],
}

/// The beat representation of Kachuee, Fazeli & Sarrafzadeh (2018) "ECG Heartbeat Classification:
/// A Deep Transferable Representation", IEEE ICHI, §III-A — the one of the Kaggle "ECG Heartbeat
/// Categorization Dataset" (MIT-BIH, 187 samples at 125 Hz):
/// 1. resample to 125 Hz (here: linear interpolation without an anti-alias filter; MIT-BIH's
///    0.1–100 Hz pass band leaves little ECG energy above 62.5 Hz, but some noise may alias —
///    the paper does not say how it resampled);
/// 2. split into consecutive 10 s windows (a trailing part shorter than 10 s is dropped);
/// 3. normalise each window to [0, 1] (min–max);
/// 4. R-peak candidates: local maxima (zero crossings of the first difference) ≥ 0.9;
/// 5. T = median of the candidates' RR intervals (window skipped with < 2 candidates);
/// 6. from each candidate take round(1.2 · T) samples (cut at the window end and at 187);
/// 7. zero-pad to 187.
///
/// Deviation, taken from the published data rather than the paper: in every Kaggle row we checked
/// (999 of `mitbih_test`) the beat's maximum is exactly 1.0 and its minimum 0, i.e. each selected
/// beat was min–max rescaled again after step 6 — we do the same (`rescale_beat = true`).
/// Their values are also multiples of 1/(max − min) in ADC units (e.g. row 0: k/273), which suggests
/// original samples were picked rather than interpolated; our linear interpolation does not
/// reproduce that, so rows are similar in shape (r > 0.9 for 19 of 20 tested), never bit-identical.
/// Windows containing NaN (invalid samples) are skipped.
pub fn kachuee_beats(signal: &[f32], fs_hz: f64, rescale_beat: bool) -> Result<Vec<KachueeBeat>> {
    if !(fs_hz.is_finite() && fs_hz > 0.0) {
        return Err(Error::InvalidArgument(format!("sampling rate {fs_hz} Hz")));
    }
    if signal.is_empty() {
        return Ok(Vec::new());
    }
    let ratio = fs_hz / KACHUEE_FS_HZ;
    let n125 = ((signal.len() - 1) as f64 / ratio).floor() as usize + 1;
    let mut x = vec![0.0f32; n125];
    resample_window(signal, 0.0, (n125 - 1) as f64 * ratio, &mut x);

    let win = (KACHUEE_WINDOW_S * KACHUEE_FS_HZ) as usize;
    let mut beats = Vec::new();
    let mut norm = vec![0.0f32; win];
    let mut cand = Vec::new();
    let mut rr = Vec::new();
    for (w, chunk) in x.chunks_exact(win).enumerate() {
        if chunk.iter().any(|v| !v.is_finite()) {
            continue;
        }
        let (lo, hi) = min_max(chunk);
        if hi <= lo {
            continue;
        }
        for (d, s) in norm.iter_mut().zip(chunk) {
            *d = (s - lo) / (hi - lo);
        }
        cand.clear();
        cand.extend((1..win - 1).filter(|&i| {
            norm[i] >= KACHUEE_R_THRESHOLD && norm[i] > norm[i - 1] && norm[i] >= norm[i + 1]
        }));
        if cand.len() < 2 {
            continue;
        }
        rr.clear();
        rr.extend(cand.windows(2).map(|c| (c[1] - c[0]) as f64));
        rr.sort_by(f64::total_cmp);
        let m = rr.len();
        let t = if m % 2 == 1 {
            rr[m / 2]
        } else {
            0.5 * (rr[m / 2 - 1] + rr[m / 2])
        };
        let seg_len = ((KACHUEE_PERIOD_FACTOR * t).round() as usize).min(KACHUEE_LEN);
        for &c in &cand {
            let n_signal = seg_len.min(win - c);
            let mut samples = [0.0f32; KACHUEE_LEN];
            samples[..n_signal].copy_from_slice(&norm[c..c + n_signal]);
            if rescale_beat {
                let (blo, bhi) = min_max(&samples[..n_signal]);
                if bhi > blo {
                    for v in &mut samples[..n_signal] {
                        *v = (*v - blo) / (bhi - blo);
                    }
                }
            }
            let r_index = w * win + c;
            beats.push(KachueeBeat {
                r_index,
                r_index_input: (r_index as f64 * ratio).round() as usize,
                n_signal,
                samples,
            });
        }
    }
    Ok(beats)
}

fn min_max(x: &[f32]) -> (f32, f32) {
    x.iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resample_is_linear_and_clamps() {
        let s = [0.0, 10.0, 20.0, 30.0];
        let mut o = [0.0f32; 7];
        resample_window(&s, 0.0, 3.0, &mut o);
        assert_eq!(o, [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0]);
        let mut o = [0.0f32; 3];
        resample_window(&s, -2.0, 5.0, &mut o); // positions −2, 1.5, 5
        assert_eq!(o, [0.0, 15.0, 30.0]);
        let mut o = [1.0f32; 2];
        resample_window(&[], 0.0, 1.0, &mut o);
        assert_eq!(o, [0.0, 0.0]);
    }

    #[test]
    fn fixed_and_rr_windows() {
        let s: Vec<f32> = (0..100).map(|i| i as f32).collect(); // value = index
        let mut out = Vec::new();
        // fs 10 Hz, 0.2 s before / 0.4 s after → [r−2, r+4] in 4 samples: r−2, r, r+2, r+4
        segment_beats(
            &s,
            10.0,
            &[20, 50],
            BeatWindow::Fixed {
                pre_s: 0.2,
                post_s: 0.4,
            },
            4,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, [18.0, 20.0, 22.0, 24.0, 48.0, 50.0, 52.0, 54.0]);
        // RR thirds: peaks 30, 60, 90 → beat 1: [60 − 10, 60 + 20]
        let cap = out.capacity();
        segment_beats(&s, 10.0, &[30, 60, 90], BeatWindow::RR_THIRDS, 4, &mut out).unwrap();
        assert_eq!(&out[4..8], &[50.0, 60.0, 70.0, 80.0]);
        assert_eq!(&out[..4], &[20.0, 30.0, 40.0, 50.0]); // first beat: RR_prev := RR_next
        assert_eq!(&out[8..], &[80.0, 90.0, 99.0, 99.0]); // last: clamped at the signal end
        assert!(out.capacity() >= cap);
    }

    #[test]
    fn segment_errors() {
        let mut out = Vec::new();
        let s = [0.0f32; 10];
        assert!(segment_beats(&s, 0.0, &[1], BeatWindow::RR_THIRDS, 4, &mut out).is_err());
        assert!(segment_beats(&s, 10.0, &[1], BeatWindow::RR_THIRDS, 4, &mut out).is_err());
        assert!(segment_beats(&s, 10.0, &[5, 5], BeatWindow::RR_THIRDS, 4, &mut out).is_err());
        assert!(
            segment_beats(
                &s,
                10.0,
                &[5],
                BeatWindow::Fixed {
                    pre_s: 0.1,
                    post_s: 0.1
                },
                0,
                &mut out
            )
            .is_err()
        );
        assert!(
            segment_beats(
                &s,
                10.0,
                &[5],
                BeatWindow::Fixed {
                    pre_s: f64::NAN,
                    post_s: 0.1
                },
                4,
                &mut out
            )
            .is_err()
        );
        segment_beats(
            &s,
            10.0,
            &[],
            BeatWindow::Fixed {
                pre_s: 0.1,
                post_s: 0.1,
            },
            4,
            &mut out,
        )
        .unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn kachuee_on_a_spike_train() {
        // 125 Hz input, spikes every 100 samples (0.8 s): T = 100 → 120 signal samples per beat.
        let mut s = vec![0.0f32; 2500];
        for i in (50..2500).step_by(100) {
            s[i] = 1.0;
            s[i + 1] = 0.5;
        }
        let beats = kachuee_beats(&s, 125.0, true).unwrap();
        assert!(!beats.is_empty());
        let b = &beats[0];
        assert_eq!(b.r_index, 50);
        assert_eq!(b.n_signal, 120);
        assert_eq!(b.samples[0], 1.0);
        assert_eq!(b.samples[1], 0.5);
        assert_eq!(b.samples[100], 1.0); // next R inside 1.2·T
        assert!(b.samples[120..].iter().all(|&v| v == 0.0));
        // the last beat of each window is cut at the window end
        assert!(beats.iter().all(|b| b.n_signal <= 120));
        assert!(kachuee_beats(&[], 360.0, true).unwrap().is_empty());
        assert!(kachuee_beats(&s, -1.0, true).is_err());
    }
}
