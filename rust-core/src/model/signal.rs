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

    /// Seconds from the start of the recording to 130 Hz index `index_130hz` of the span. A
    /// signal taken as it is ([`passes_through`], e.g. a Polar H10 at ≈ 130.05 Hz) runs at the
    /// recording's own rate, so its index is not `index / 130` s: that drifts by ≈ 1.4 s an hour.
    pub fn record_time_s(&self, index_130hz: usize) -> f64 {
        let rate = if passes_through(self.sampling_rate_hz) {
            self.sampling_rate_hz
        } else {
            MODEL_RATE_HZ
        };
        self.offset_s() + index_130hz as f64 / rate
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

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(fs: f64, start_sample: usize) -> ModelSignal {
        ModelSignal {
            sampling_rate_hz: fs,
            start_sample,
            samples_130hz: Vec::new(),
            peaks_130hz: Vec::new(),
        }
    }

    /// A 130 Hz index is at the same time as the recording sample it maps to.
    #[test]
    fn a_model_rate_index_has_the_time_of_its_recording_sample() {
        // resampled: index k is at k / 130 s; taken as it is (a Polar H10's 130.05 Hz): k / fs
        for (fs, start) in [(360.0, 0), (500.0, 5150), (130.0, 260), (130.05, 1300)] {
            let s = signal(fs, start);
            let k = 130 * 3600;
            let at_sample = s.record_sample(k) as f64 / fs;
            assert!(
                (s.record_time_s(k) - at_sample).abs() < 0.5 / fs,
                "{fs} Hz: {} s vs sample {} at {at_sample} s",
                s.record_time_s(k),
                s.record_sample(k)
            );
        }
        assert_eq!(signal(500.0, 5150).record_time_s(650), 10.3 + 5.0);
    }
}
