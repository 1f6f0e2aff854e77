//! The seams between the pipeline and the parts it joins: window analysis (model inputs and
//! models), the stress engine and the history. Each is a small trait so the pipeline can be
//! tested with fakes and the parts can be swapped.

use super::events::{Degradation, MonitorEvent};
use crate::sensor::GapCause;

/// One closed analysis window of the 130 Hz signal.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSignal {
    /// Absolute 130 Hz index of the first sample.
    pub start_index: u64,
    /// Phone time of the first and one-past-last sample, ms.
    pub start_ms: i64,
    /// Phone time of the window's end, ms.
    pub end_ms: i64,
    /// The samples, mV (NaN where missing).
    pub samples_mv: Vec<f32>,
    /// R-peaks, indices into `samples_mv`.
    pub peaks: Vec<usize>,
    /// Peaks at or after this index into `samples_mv` were not in the previous window (the
    /// ones to classify).
    pub new_from: usize,
}

/// Beats by AAMI class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BeatCounts {
    /// Normal.
    pub n: u32,
    /// Supraventricular ectopic.
    pub s: u32,
    /// Ventricular ectopic.
    pub v: u32,
    /// Fusion.
    pub f: u32,
    /// Unclassifiable.
    pub q: u32,
}

/// What produced a window's stress probability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreSource {
    /// The stress model.
    Model,
    /// The HRV fallback (the model is unavailable).
    HrvFallback,
    /// Nothing (the window is not usable).
    None,
}

/// The analysis of one window (model inputs and model outputs).
#[derive(Debug, Clone, PartialEq)]
pub struct WindowAnalysis {
    /// Fraction (0–1) of the window with usable signal.
    pub usable_fraction: f64,
    /// Mean heart rate, bpm.
    pub hr_bpm: Option<f64>,
    /// RMSSD, ms.
    pub rmssd_ms: Option<f64>,
    /// Stress probability (0–1).
    pub stress_probability: Option<f64>,
    /// What produced the probability.
    pub source: ScoreSource,
    /// The new beats of the window by class (empty when no classifier is available).
    pub beats: BeatCounts,
}

/// Stress level with hysteresis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StressLevel {
    /// No score (bad signal or not enough data).
    Unknown,
    /// Calm.
    Calm,
    /// Elevated.
    Elevated,
    /// High.
    High,
}

/// The stress result of one window.
#[derive(Debug, Clone, PartialEq)]
pub struct StressUpdate {
    /// Phone time of the window's start and end, ms.
    pub window_start_ms: i64,
    /// Phone time of the window's end, ms.
    pub at_ms: i64,
    /// 0–100 relative to the baseline; `None` when no score (see `reason`).
    pub score: Option<f64>,
    /// Confidence 0–1.
    pub confidence: f64,
    /// Level.
    pub level: StressLevel,
    /// Why there is no score, if there is none.
    pub reason: Option<String>,
    /// The window's analysis.
    pub analysis: WindowAnalysis,
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// High stress for a sustained time.
    SustainedStress,
    /// The signal has been lost or unusable.
    SignalLost,
    /// The strap's battery is low.
    BatteryLow,
}

/// An alert, with why it was raised.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Phone time, ms.
    pub at_ms: i64,
    /// Kind.
    pub kind: AlertKind,
    /// Why (a short sentence without personal data).
    pub message: String,
}

/// Model inputs + models for a batch of windows.
pub trait WindowAnalyzer: Send {
    /// Analyse `windows` (in order), appending one result per window to `out`.
    fn analyze(&mut self, windows: &[WindowSignal], out: &mut Vec<WindowAnalysis>);
    /// Parts that could not be loaded (reported once when the session starts).
    fn degradations(&self) -> Vec<Degradation>;
}

/// The stress engine: windows to scores, and alerts.
pub trait StressEngine: Send {
    /// Score one analysed window.
    fn on_window(&mut self, window: &WindowSignal, analysis: WindowAnalysis) -> StressUpdate;
    /// Alerts due after an event (a stress update, battery, connection, gap …).
    fn alerts(&mut self, event: &MonitorEvent, out: &mut Vec<Alert>);
}

/// Facts about a session for the history.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// "simulator", "replay", "platform-bridge", "ble".
    pub source: String,
    /// Device description without identifiers (e.g. "Polar H10", "simulated H10").
    pub device: String,
    /// Wall-clock start, ms since the Unix epoch.
    pub started_unix_ms: i64,
    /// Phone monotonic time matching `started_unix_ms`.
    pub started_phone_ms: i64,
}

/// Where the monitor stores what happened.
pub trait HistoryWriter: Send {
    /// Open a session; returns its id.
    fn begin_session(&mut self, info: &SessionInfo) -> crate::Result<i64>;
    /// Store one scored window.
    fn window(&mut self, session: i64, update: &StressUpdate) -> crate::Result<()>;
    /// Store an alert.
    fn alert(&mut self, session: i64, alert: &Alert) -> crate::Result<()>;
    /// Store a gap in the ECG.
    fn gap(&mut self, session: i64, from_ms: f64, to_ms: f64, cause: GapCause)
    -> crate::Result<()>;
    /// Close the session at phone time `end_ms` and make everything durable.
    fn end_session(&mut self, session: i64, end_ms: i64) -> crate::Result<()>;
    /// Make everything written so far durable (called about once per second of data).
    fn flush(&mut self) -> crate::Result<()>;
}
