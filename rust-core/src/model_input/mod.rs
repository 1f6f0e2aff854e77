//! Model inputs, computed exactly as the phone computes them (issue #4): the same code feeds
//! training (`stressbeat dataset ...`) and inference. Contract: `docs/model-format.md`.
//!
//! - [`resample_to_model_rate`] / [`Resampler`]: any ECG to [`MODEL_RATE_HZ`] (anti-aliased);
//! - [`beat`]: fixed beat windows and RR features per R-peak (beat-type model);
//! - [`stress`]: 30 s windows with signal quality, HRV features and the data for their images.

pub mod beat;
pub mod stress;

use crate::dsp::filter::validate_sampling_rate;
use crate::error::Result;

/// The rate every model input is computed at (the Polar H10's ECG rate), Hz.
pub const MODEL_RATE_HZ: f64 = 130.0;

/// A signal within this relative distance of [`MODEL_RATE_HZ`] is taken as it is, not resampled:
/// a Polar H10 runs at ≈ 130.05 Hz by its own timestamps. The live monitor and the offline paths
/// (a capture read from a file) alike, so both see the same samples and R-peaks.
pub const PASS_THROUGH_TOLERANCE: f64 = 0.01;

/// Whether a signal at `fs` Hz is taken at the model rate as it is ([`PASS_THROUGH_TOLERANCE`]).
pub fn passes_through(fs: f64) -> bool {
    ((fs - MODEL_RATE_HZ) / MODEL_RATE_HZ).abs() <= PASS_THROUGH_TOLERANCE
}

/// Half-width of the interpolation kernel in output samples (per side).
const HALF_WIDTH_OUT: f64 = 24.0;
/// Low-pass corner as a fraction of the lower of the two rates: 0.4423 · 130 Hz = 57.5 Hz, midway
/// between the ECG's useful band (≤ 50 Hz) and the output Nyquist frequency (65 Hz).
const CUTOFF_FRACTION: f64 = 0.4423;
/// Kaiser window β (≈ 80 dB stop band).
const KAISER_BETA: f64 = 8.0;
/// Kernel table phases per input sample (linear interpolation between them; error < 1e-5).
const PHASES: usize = 256;

/// Streaming resampler from any rate to [`MODEL_RATE_HZ`]: windowed-sinc interpolation (Kaiser
/// window, β = 8, ±24 output samples, low-pass at 57.5 Hz when downsampling) of a kernel table
/// built once at construction.
///
/// Output sample `k` is the signal at input position `k · fs / 130`; outputs run while that
/// position is within the input (`k · fs/130 ≤ n − 1`). The signal is extended by repeating its
/// first and last sample. [`Resampler::push`] emits an output as soon as every input under its
/// kernel has arrived (latency ≈ 24 output samples, 185 ms); [`Resampler::finish`] flushes the
/// tail. Pushing a signal in any chunking gives exactly the output of [`resample_to_model_rate`].
/// Within 1 % of 130 Hz ([`passes_through`]) it is the identity (samples copied unchanged). A non-finite sample spoils
/// the outputs under its kernel (they become NaN), which downstream quality code counts as invalid.
/// Nothing is allocated per sample: buffers only grow to the largest chunk pushed.
#[derive(Debug, Clone)]
pub struct Resampler {
    /// Input samples per output sample (`fs / 130`; 1 where the signal is taken as it is).
    step: f64,
    identity: bool,
    /// Half-width in input samples; the kernel has `2·half` taps.
    half: usize,
    /// `(PHASES + 1) × 2·half` taps; row `p` is the kernel at fractional position `p / PHASES`.
    table: Vec<f32>,
    /// Input samples from absolute index `buf_start` on (negative: the replicated first sample).
    buf: Vec<f32>,
    buf_start: i64,
    /// Input samples pushed so far.
    n_in: i64,
    /// Next output index.
    k: u64,
    finished: bool,
}

fn bessel_i0(x: f64) -> f64 {
    // power series; converges quickly for the β used here
    let (mut sum, mut term) = (1.0, 1.0);
    let q = x * x / 4.0;
    for m in 1..64 {
        term *= q / (m as f64 * m as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

impl Resampler {
    /// A resampler from `fs` Hz (validated like every DSP rate) to [`MODEL_RATE_HZ`].
    pub fn new(fs: f64) -> Result<Self> {
        validate_sampling_rate(fs)?;
        let identity = passes_through(fs);
        // taken as it is, one input sample per output sample
        let step = if identity { 1.0 } else { fs / MODEL_RATE_HZ };
        let half = (HALF_WIDTH_OUT * step.max(1.0)).ceil() as usize;
        // cutoff in cycles per input sample
        let fc = CUTOFF_FRACTION * fs.min(MODEL_RATE_HZ) / fs;
        let taps = 2 * half;
        let mut table = vec![0.0f32; if identity { 0 } else { (PHASES + 1) * taps }];
        let i0_beta = bessel_i0(KAISER_BETA);
        let mut vals = Vec::with_capacity(taps);
        for (p, row) in table.chunks_exact_mut(taps.max(1)).enumerate() {
            let frac = p as f64 / PHASES as f64;
            let mut sum = 0.0;
            vals.clear();
            for j in 0..taps {
                // distance from the output position to input tap j
                let d = frac + half as f64 - 1.0 - j as f64;
                let r = d / half as f64;
                let w = if r.abs() < 1.0 {
                    bessel_i0(KAISER_BETA * (1.0 - r * r).sqrt()) / i0_beta
                } else {
                    0.0
                };
                let x = 2.0 * fc * d;
                let sinc = if x.abs() < 1e-12 {
                    1.0
                } else {
                    (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
                };
                let h = 2.0 * fc * sinc * w;
                sum += h;
                vals.push(h);
            }
            // unit DC gain at every phase
            for (o, v) in row.iter_mut().zip(&vals) {
                *o = (v / sum) as f32;
            }
        }
        Ok(Resampler {
            step,
            identity,
            half,
            table,
            buf: Vec::new(),
            buf_start: 0,
            n_in: 0,
            k: 0,
            finished: false,
        })
    }

    /// Input sampling rate / output rate.
    pub fn ratio(&self) -> f64 {
        self.step
    }

    /// Delay (in output samples) between an input sample arriving and the last output it
    /// influences being emitted, at most.
    pub fn latency_samples(&self) -> usize {
        (self.half as f64 / self.step).ceil() as usize + 1
    }

    /// Push a chunk of input; the outputs it completes are appended to `out`.
    /// Pushing after [`Resampler::finish`] is ignored.
    pub fn push(&mut self, chunk: &[f32], out: &mut Vec<f32>) {
        if self.finished || chunk.is_empty() {
            return;
        }
        if self.identity {
            out.extend_from_slice(chunk);
            self.n_in += chunk.len() as i64;
            return;
        }
        if self.n_in == 0 {
            // the signal before its first sample repeats the first sample
            self.buf.clear();
            self.buf.resize(self.half, chunk[0]);
            self.buf_start = -(self.half as i64);
        }
        self.buf.extend_from_slice(chunk);
        self.n_in += chunk.len() as i64;
        self.emit(self.n_in - 1, out);
        self.compact();
    }

    /// End of input: the outputs still pending (their kernels reach past the last sample,
    /// which is repeated) are appended to `out`. Later pushes are ignored.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if self.finished {
            return;
        }
        self.finished = true;
        if self.identity || self.n_in == 0 {
            return;
        }
        let last = self.buf.last().copied().unwrap_or(0.0);
        let len = self.buf.len() + self.half;
        self.buf.resize(len, last);
        let avail = self.buf_start + self.buf.len() as i64 - 1;
        self.emit_until(avail, self.n_in - 1, out);
    }

    /// Emit every output whose kernel lies within the inputs received (up to index `avail`).
    fn emit(&mut self, avail: i64, out: &mut Vec<f32>) {
        self.emit_until(avail, i64::MAX, out);
    }

    /// Emit outputs whose kernel ends at or before input `avail` and whose position is at most
    /// `last_pos`.
    fn emit_until(&mut self, avail: i64, last_pos: i64, out: &mut Vec<f32>) {
        let taps = 2 * self.half;
        loop {
            let t = self.k as f64 * self.step;
            let base = t.floor();
            let ib = base as i64;
            if t > last_pos as f64 || ib + self.half as i64 > avail {
                break;
            }
            let pos = (t - base) * PHASES as f64;
            let p = (pos.floor() as usize).min(PHASES - 1);
            let a = (pos - p as f64) as f32;
            let first = (ib - self.half as i64 + 1 - self.buf_start) as usize;
            let x = &self.buf[first..first + taps];
            let r0 = &self.table[p * taps..(p + 1) * taps];
            let r1 = &self.table[(p + 1) * taps..(p + 2) * taps];
            let mut acc = 0.0f32;
            for ((&xv, &h0), &h1) in x.iter().zip(r0).zip(r1) {
                acc += xv * (h0 + a * (h1 - h0));
            }
            out.push(acc);
            self.k += 1;
        }
    }

    /// Drop inputs no future output needs (keeps the buffer's capacity).
    fn compact(&mut self) {
        let next_base = (self.k as f64 * self.step).floor() as i64;
        let keep_from = next_base - self.half as i64 + 1;
        let drop = (keep_from - self.buf_start).clamp(0, self.buf.len() as i64) as usize;
        if drop > 0 {
            self.buf.copy_within(drop.., 0);
            self.buf.truncate(self.buf.len() - drop);
            self.buf_start += drop as i64;
        }
    }
}

/// `samples` (at `fs` Hz) resampled to [`MODEL_RATE_HZ`] with anti-aliasing (see [`Resampler`];
/// identical to streaming the signal through one). Within 1 % of 130 Hz ([`passes_through`]) a
/// copy, as the live monitor takes it.
///
/// Errors: an invalid sampling rate ([`crate::Error::InvalidArgument`]).
pub fn resample_to_model_rate(samples: &[f32], fs: f64) -> Result<Vec<f32>> {
    let mut r = Resampler::new(fs)?;
    let mut out = Vec::with_capacity((samples.len() as f64 / r.ratio()).ceil() as usize + 1);
    r.push(samples, &mut out);
    r.finish(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(fs: f64, f: f64, n: usize, phase: f64) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / fs + phase).sin() as f32)
            .collect()
    }

    /// A Polar H10's 130.05 Hz (by its timestamps) is taken as it is, as the live monitor does;
    /// 1.5 % off is resampled.
    #[test]
    fn within_one_percent_of_130_hz_passes_through() {
        let x = sine(130.05, 1.3, 1000, 0.2);
        assert_eq!(resample_to_model_rate(&x, 130.05).unwrap(), x);
        assert_eq!(resample_to_model_rate(&x, 128.8).unwrap(), x);
        assert!(passes_through(131.2) && !passes_through(132.0) && !passes_through(f64::NAN));
        assert_ne!(resample_to_model_rate(&x, 132.0).unwrap().len(), x.len());
    }

    #[test]
    fn identity_at_130_hz() {
        let x = sine(130.0, 3.0, 1000, 0.3);
        assert_eq!(resample_to_model_rate(&x, 130.0).unwrap(), x);
    }

    #[test]
    fn output_length_covers_the_input_span() {
        for (fs, n) in [(500.0, 5000usize), (360.0, 3601), (250.0, 7), (100.0, 1000)] {
            let y = resample_to_model_rate(&vec![1.0; n], fs).unwrap();
            let step = fs / MODEL_RATE_HZ;
            assert_eq!(
                y.len(),
                ((n - 1) as f64 / step).floor() as usize + 1,
                "fs {fs}"
            );
            // unit DC gain, edges included
            assert!(y.iter().all(|v| (v - 1.0).abs() < 1e-5), "fs {fs}");
        }
        assert!(resample_to_model_rate(&[], 500.0).unwrap().is_empty());
    }

    #[test]
    fn sine_keeps_amplitude_and_phase() {
        for fs in [500.0, 360.0, 250.0, 1000.0, 100.0] {
            for f in [1.0, 10.0, 30.0, 45.0] {
                if f > 0.4 * fs {
                    continue;
                }
                let x = sine(fs, f, (fs * 20.0) as usize, 0.7);
                let y = resample_to_model_rate(&x, fs).unwrap();
                let want = sine(MODEL_RATE_HZ, f, y.len(), 0.7);
                // away from the edges, the output is the sine sampled at 130 Hz
                let err = y[200..y.len() - 200]
                    .iter()
                    .zip(&want[200..y.len() - 200])
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                assert!(err < 2e-3, "fs {fs} f {f}: max error {err}");
            }
        }
    }

    #[test]
    fn frequencies_above_the_output_nyquist_are_removed() {
        // 80 Hz at 500 Hz would alias to 50 Hz at 130 Hz without the low-pass
        let x = sine(500.0, 80.0, 10_000, 0.0);
        let y = resample_to_model_rate(&x, 500.0).unwrap();
        let peak = y[200..y.len() - 200]
            .iter()
            .fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak < 1e-3, "aliased amplitude {peak}");
    }

    #[test]
    fn streaming_equals_batch_for_any_chunking() {
        for fs in [500.0, 360.0, 250.0, 130.0, 128.0] {
            let x: Vec<f32> = (0..7000)
                .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
                .collect();
            let batch = resample_to_model_rate(&x, fs).unwrap();
            for chunk in [1usize, 7, 73, 1000, 7000] {
                let mut r = Resampler::new(fs).unwrap();
                let mut out = Vec::new();
                for c in x.chunks(chunk) {
                    r.push(c, &mut out);
                }
                r.finish(&mut out);
                r.push(&[1.0], &mut out); // ignored after finish
                assert_eq!(out, batch, "fs {fs} chunk {chunk}");
            }
        }
    }

    #[test]
    fn bad_rates_are_errors() {
        for fs in [0.0, -1.0, f64::NAN, 1e9] {
            assert!(resample_to_model_rate(&[0.0; 10], fs).is_err());
            assert!(Resampler::new(fs).is_err());
        }
    }
}
