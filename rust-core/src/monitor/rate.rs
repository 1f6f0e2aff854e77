//! Brings a source's ECG to the 130 Hz model rate (only when needed) and to millivolts.

use crate::model_input::{Resampler, passes_through};

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
        // within 1 % of 130 Hz taken as it is (the clock is re-anchored on every chunk)
        let resampler = if passes_through(source_hz) {
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

    /// End of a stretch of signal (a gap, or the end of the stream): append the 130 Hz samples
    /// the resampler still holds back (their kernels reach past the last sample) to `out`; the
    /// next chunk starts a new stream.
    pub fn finish_stretch(&mut self, out: &mut Vec<f32>) {
        if let Some(r) = &mut self.resampler {
            r.finish(out);
            // Only after a gap or at the end: rebuilding the kernel table is not per-sample work.
            if let Ok(fresh) = Resampler::new(self.source_hz) {
                *r = fresh;
            }
        }
        self.fresh = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_input::resample_to_model_rate;

    /// Chunks, then the end of the stretch: the batch resampler's output, to its last sample.
    #[test]
    fn a_finished_stretch_is_the_batch_resampling() {
        let uv: Vec<i32> = (0..5_003)
            .map(|i| (800.0 * (i as f64 * 0.031).sin()) as i32)
            .collect();
        let mv: Vec<f32> = uv.iter().map(|&v| v as f32 / 1000.0).collect();
        let batch = resample_to_model_rate(&mv, 500.0).unwrap();
        let mut rate = RateAdapter::new(500.0).unwrap();
        let mut out = Vec::new();
        for chunk in uv.chunks(73) {
            rate.push_uv(chunk, &mut out);
        }
        assert!(out.len() < batch.len(), "the kernel holds samples back");
        rate.finish_stretch(&mut out);
        assert_eq!(out.len(), batch.len());
        assert!(out.iter().zip(&batch).all(|(a, b)| (a - b).abs() < 1e-4));
        // the next stretch starts afresh
        assert!(rate.anchor_on_next_chunk());
        let mut again = Vec::new();
        for chunk in uv.chunks(97) {
            rate.push_uv(chunk, &mut again);
        }
        rate.finish_stretch(&mut again);
        assert_eq!(again.len(), batch.len());
    }
}
