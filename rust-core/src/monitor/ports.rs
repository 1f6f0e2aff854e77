//! The seams between the pipeline and the parts it joins that own resources: window analysis
//! (model inputs and models) and the history. Each is a small trait so the pipeline can be
//! tested with fakes and the parts can be swapped. The stress and alert engines are used
//! directly ([`crate::engine`]).

use super::events::Degradation;
use crate::engine::{Alert, StressUpdate, WindowObservation};
use crate::sensor::GapCause;

/// One closed analysis window of the 130 Hz signal. Times are Unix ms.
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
    /// Parts that could not be loaded (reported once when the session starts).
    fn degradations(&self) -> Vec<Degradation>;
}

/// Facts about a session for the history.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// "simulator", "replay", "platform-bridge", "ble".
    pub source: String,
    /// Device description without identifiers (e.g. "Polar H10", "simulated H10").
    pub device: String,
    /// Wall-clock start, Unix ms.
    pub started_unix_ms: i64,
    /// The source's (monotonic) clock at `started_unix_ms`.
    pub started_phone_ms: i64,
}

/// Where the monitor stores what happened. Times are Unix ms.
pub trait HistoryWriter: Send {
    /// Open a session; returns its id.
    fn begin_session(&mut self, info: &SessionInfo) -> crate::Result<i64>;
    /// Store one analysed and scored window.
    fn window(
        &mut self,
        session: i64,
        observation: &WindowObservation,
        update: &StressUpdate,
    ) -> crate::Result<()>;
    /// Store an alert.
    fn alert(&mut self, session: i64, alert: &Alert) -> crate::Result<()>;
    /// Store a gap in the ECG.
    fn gap(&mut self, session: i64, from_ms: i64, to_ms: i64, cause: GapCause)
    -> crate::Result<()>;
    /// Close the session at `end_ms` and make everything durable.
    fn end_session(&mut self, session: i64, end_ms: i64) -> crate::Result<()>;
    /// Make everything written so far durable (called about once per second of data).
    fn flush(&mut self) -> crate::Result<()>;
}
