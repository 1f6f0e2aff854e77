//! The seam between the pipeline and the models: window analysis is a small trait so the
//! pipeline can be tested with fakes. The stress and alert engines ([`crate::engine`]) and the
//! history ([`crate::history::HistorySink`]) are used directly.

use super::events::Degradation;
use crate::engine::WindowObservation;

/// One closed analysis window: of the 130 Hz ECG, or, for a strap that sends only RR intervals,
/// of those intervals (no samples; see [`super::rr_windows`]). Times are Unix ms.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSignal {
    /// Absolute 130 Hz index of the first sample.
    pub start_index: u64,
    /// Time of the first sample, Unix ms.
    pub start_ms: i64,
    /// Time of the window's end, Unix ms.
    pub end_ms: i64,
    /// The samples, mV (NaN where missing).
    pub samples_mv: Vec<f32>,
    /// R-peaks, indices into `samples_mv`.
    pub peaks: Vec<usize>,
    /// Peaks from this position in `peaks` on were not in the previous window (the ones to
    /// classify and count).
    pub new_from: usize,
    /// Per peak: whether its 4 s signal-quality window (aligned to the session start) was usable
    /// (true where not assessed). Only beats in clean signal enter the rhythm history.
    pub clean: Vec<bool>,
    /// RR-only windows: the strap's RR intervals (ms) ending in the window; empty for ECG.
    pub rr_ms: Vec<f64>,
}

impl WindowSignal {
    /// Whether it is a window of RR intervals only (no ECG samples).
    pub fn is_rr_only(&self) -> bool {
        self.samples_mv.is_empty()
    }
}

/// Model inputs + models for a batch of windows.
pub trait WindowAnalyzer: Send {
    /// Analyse `windows` (in order), appending one observation per window to `out`.
    /// `baseline_features`: the personal baseline of the model's features, when known.
    fn analyze(
        &mut self,
        windows: &[WindowSignal],
        baseline_features: Option<&[f32]>,
        out: &mut Vec<WindowObservation>,
    );
    /// Problems since the last call (a model that could not be loaded or failed); reported
    /// once each.
    fn take_degradations(&mut self) -> Vec<Degradation>;
    /// Name and version of the stress model (stored with each model-scored window).
    fn model_name(&self) -> String;
}

/// Facts about a session for the history.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// What the history stores about the start (wall-clock start, source, device model).
    pub start: crate::history::SessionStart,
    /// The source's (monotonic) clock at `start.started_at_ms`.
    pub started_phone_ms: i64,
}
