//! The recording pipeline (pure): a loaded [`Recording`] in, peaks, beats, quality and HRV out.
//!
//! CONTRACT (implemented at integration; the FFI and CLI call these):
//! `pub fn analyze(rec: &Recording, opts: &AnalysisOptions) -> Result<RecordingSummary>`

use crate::hrv::HrvMetrics;

/// What to analyse.
#[derive(Debug, Clone, Default)]
pub struct AnalysisOptions {
    /// Channel index; `None` = the default ECG channel (MLII where present).
    pub channel: Option<usize>,
    /// Start, seconds from the beginning of the recording.
    pub from_s: Option<f64>,
    /// End, seconds from the beginning of the recording.
    pub to_s: Option<f64>,
}

/// The summary of one analysed recording.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecordingSummary {
    pub record_name: String,
    pub channel_label: String,
    pub sampling_rate_hz: f64,
    pub duration_s: f64,
    /// Detected beats (R-peaks) in the analysed span.
    pub beat_count: u32,
    /// Fraction (0–1) of the analysed span judged usable by the signal-quality index.
    pub usable_fraction: f64,
    /// HRV over the whole span after RR cleaning; `None` if too few clean intervals.
    pub hrv: Option<HrvMetrics>,
}
