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

// TEMPORARY: replaced at integration (the lead's real pipeline). Minimal body so the FFI and the
// binding tests run: picks the channel and span, reports name/label/rate/duration, no beats/HRV.
pub fn analyze(
    rec: &crate::record::Recording,
    opts: &AnalysisOptions,
) -> crate::error::Result<RecordingSummary> {
    use crate::error::Error;
    let idx = match opts.channel {
        Some(c) if c < rec.signals.len() => c,
        Some(_) => return Err(Error::InvalidArgument("channel index out of range".into())),
        None => rec
            .signals
            .iter()
            .position(|s| s.label.trim().eq_ignore_ascii_case("MLII"))
            .or_else(|| rec.signals.iter().position(|s| s.is_ecg_like()))
            .or(if rec.signals.is_empty() {
                None
            } else {
                Some(0)
            })
            .ok_or_else(|| Error::InsufficientSignal("recording has no signals".into()))?,
    };
    let sig = &rec.signals[idx];
    let total = sig.duration_s();
    let from = opts.from_s.unwrap_or(0.0).max(0.0);
    let to = opts.to_s.unwrap_or(total).min(total);
    if to <= from {
        return Err(Error::InvalidArgument("empty time span".into()));
    }
    Ok(RecordingSummary {
        record_name: rec.name.clone(),
        channel_label: sig.label.clone(),
        sampling_rate_hz: sig.sampling_rate_hz,
        duration_s: to - from,
        beat_count: 0,
        usable_fraction: 0.0,
        hrv: None,
    })
}
