//! The signal both models' inputs are computed from: a span at the model rate and its R-peaks.

use crate::{
    analysis::EcgSpan,
    dsp::rpeak::{DetectorConfig, detect_peaks_with},
    error::Result,
    model_input::{MODEL_RATE_HZ, passes_through, resample_to_model_rate},
};

/// An analysed span resampled to [`MODEL_RATE_HZ`], with R-peaks detected there (as the phone
/// does), and the mapping back to the recording's own sampling.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSignal {
    /// The recording's own sampling rate, Hz.
    pub sampling_rate_hz: f64,
    /// Index (recording's sampling) of the span's first sample.
    pub start_sample: usize,
    /// The span in mV at [`MODEL_RATE_HZ`].
    pub samples_130hz: Vec<f32>,
    /// R-peaks of `samples_130hz` (indices at 130 Hz).
    pub peaks_130hz: Vec<usize>,
}

impl ModelSignal {
    /// Resample `span` and detect its R-peaks at the model rate.
    pub fn from_span(span: &EcgSpan) -> Result<Self> {
        let samples_130hz = resample_to_model_rate(&span.samples_mv, span.sampling_rate_hz)?;
        let peaks_130hz =
            detect_peaks_with(&samples_130hz, MODEL_RATE_HZ, DetectorConfig::default())?;
        Ok(Self {
            sampling_rate_hz: span.sampling_rate_hz,
            start_sample: span.start_sample,
            samples_130hz,
            peaks_130hz,
        })
    }

    /// Seconds from the start of the recording to the span's first sample.
    pub fn offset_s(&self) -> f64 {
        self.start_sample as f64 / self.sampling_rate_hz
    }

    /// A 130 Hz index of the span as a sample index of the whole recording (its own sampling;
    /// the same index where the signal was taken as it is, [`passes_through`]).
    pub fn record_sample(&self, index_130hz: usize) -> usize {
        if passes_through(self.sampling_rate_hz) {
            return self.start_sample + index_130hz;
        }
        self.start_sample
            + (index_130hz as f64 * self.sampling_rate_hz / MODEL_RATE_HZ).round() as usize
    }
}
