//! Brings a source's ECG to the 130 Hz model rate (only when needed) and to millivolts.

use super::front::MODEL_RATE_HZ;

/// A source within this relative distance of 130 Hz is taken as 130 Hz (a Polar H10 runs at
/// ≈ 130.05 Hz on the phone clock; the clock is re-anchored on every chunk).
pub const RATE_TOLERANCE: f64 = 0.01;

/// Pass-through or streaming resampler.
#[derive(Debug)]
pub enum RateAdapter {
    /// Already (close enough to) 130 Hz.
    PassThrough {
        /// The source's rate, Hz.
        source_hz: f64,
    },
}

impl RateAdapter {
    /// The adapter for a source at `source_hz`; `Err(reason)` when the rate cannot be handled.
    pub fn new(source_hz: f64) -> Result<Self, String> {
        if !source_hz.is_finite() || source_hz <= 0.0 {
            return Err("invalid sampling rate".into());
        }
        if ((source_hz - MODEL_RATE_HZ) / MODEL_RATE_HZ).abs() <= RATE_TOLERANCE {
            return Ok(Self::PassThrough { source_hz });
        }
        Err(format!(
            "sampling rate {source_hz:.1} Hz: resampling to 130 Hz not available"
        ))
    }

    /// The source's rate, Hz.
    pub fn source_rate_hz(&self) -> f64 {
        match self {
            Self::PassThrough { source_hz } => *source_hz,
        }
    }

    /// Delay of the output behind the input, in source samples.
    pub fn delay_samples(&self) -> f64 {
        match self {
            Self::PassThrough { .. } => 0.0,
        }
    }

    /// Convert µV samples and append the 130 Hz mV samples to `out`.
    pub fn push_uv(&mut self, samples_uv: &[i32], out: &mut Vec<f32>) {
        match self {
            Self::PassThrough { .. } => out.extend(samples_uv.iter().map(|&v| v as f32 / 1000.0)),
        }
    }

    /// Forget filter state (after a gap).
    pub fn reset(&mut self) {}
}
