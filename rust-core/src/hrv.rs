//! Heart-rate variability over a window of RR intervals (pure).
//!
//! CONTRACT (the hrv helper fills in the implementation; field names are used by analysis/ffi/cli):

/// What the RR cleaning changed.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct RrCorrection {
    /// Ectopic beats (short-long pairs) whose intervals were replaced.
    pub ectopic: u32,
    /// Missed beats (one interval ≈ two) split.
    pub missed: u32,
    /// Extra beats (two intervals ≈ one) merged.
    pub extra: u32,
    /// Physiologically impossible intervals (artefacts) removed or interpolated.
    pub artefacts: u32,
}

/// HRV metrics of one window. Frequency-domain and non-linear values are `None` when the window
/// is too short for them.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct HrvMetrics {
    pub n_intervals: u32,
    pub mean_nn_ms: f64,
    pub sdnn_ms: f64,
    pub rmssd_ms: f64,
    pub pnn50_pct: f64,
    pub mean_hr_bpm: f64,
    pub lf_ms2: Option<f64>,
    pub hf_ms2: Option<f64>,
    pub lf_hf: Option<f64>,
    pub sd1_ms: Option<f64>,
    pub sd2_ms: Option<f64>,
    pub baevsky_stress_index: Option<f64>,
    pub correction: RrCorrection,
}
