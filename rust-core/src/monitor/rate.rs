//! Brings a source's ECG to the 130 Hz model rate (only when needed) and to millivolts.

use crate::model_input::{MODEL_RATE_HZ, Resampler};

/// A source within this relative distance of 130 Hz is taken as 130 Hz (a Polar H10 runs at
/// ≈ 130.05 Hz on the phone clock; the clock is re-anchored on every chunk).
pub const RATE_TOLERANCE: f64 = 0.01;

/// Pass-through or streaming resampler, plus the µV → mV conversion.
#[derive(Debug)]
pub struct RateAdapter {
    source_hz: f64,
    /// `None`: pass-through.
    resampler: Option<Resampler>,
    scratch: Vec<f32>,
    fresh: bool,
}

impl RateAdapter {
    /// The adapter for a source at `source_hz`; `Err(reason)` when the rate cannot be handled.
    pub fn new(source_hz: f64) -> Result<Self, String> {
        if !source_hz.is_finite() || source_hz <= 0.0 {
            return Err("invalid sampling rate".into());
        }
        let resampler = if ((source_hz - MODEL_RATE_HZ) / MODEL_RATE_HZ).abs() <= RATE_TOLERANCE {
            None
        } else {
            Some(Resampler::new(source_hz).map_err(|_| {
                format!("sampling rate {source_hz:.1} Hz cannot be resampled to 130 Hz")
            })?)
        };
        Ok(Self {
            source_hz,
            resampler,
            scratch: Vec::with_capacity(1024),
            fresh: true,
        })
    }

    /// The source's rate, Hz.
    pub fn source_rate_hz(&self) -> f64 {
        self.source_hz
    }

    /// Whether the output clock should be re-anchored on this chunk: every chunk when passing
    /// through (follows the strap's clock), only the first after a (re)start when resampling
    /// (outputs are evenly spaced from there).
    pub fn anchor_on_next_chunk(&self) -> bool {
        self.resampler.is_none() || self.fresh
    }

    /// Convert µV samples and append the 130 Hz mV samples to `out`.
    pub fn push_uv(&mut self, samples_uv: &[i32], out: &mut Vec<f32>) {
        self.fresh = false;
        let mv = samples_uv.iter().map(|&v| v as f32 / 1000.0);
        match &mut self.resampler {
            None => out.extend(mv),
            Some(r) => {
                self.scratch.clear();
                self.scratch.extend(mv);
                r.push(&self.scratch, out);
            }
        }
    }

    /// Forget the signal so far (after a gap): the next chunk starts a new stream.
    pub fn reset(&mut self) {
        if let Some(r) = &mut self.resampler {
            // Only after a gap: rebuilding the kernel table is not per-sample work.
            if let Ok(fresh) = Resampler::new(self.source_hz) {
                *r = fresh;
            }
        }
        self.fresh = true;
    }
}
