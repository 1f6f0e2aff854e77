//! The history: sessions, per-window stress and HRV, RR intervals, raw ECG, alerts, gaps and the
//! engine's baseline, stored in SQLite (see `docs/adr/0006-history-sqlite.md`).
//!
//! - Write side: the [`HistorySink`] trait, used by the monitor; [`History`] is the SQLite
//!   implementation (writes buffered and committed in one transaction at most every
//!   [`HistoryOptions::commit_interval`], so a killed process loses at most that much), and
//!   [`MemoryHistory`] an in-memory fake for tests of other modules.
//! - Read side (on [`History`]): [`History::timeline`], [`History::daily_summaries`],
//!   [`History::alerts`], [`History::sessions`], [`History::session_detail`], retention
//!   ([`History::apply_retention`]) and export ([`History::export_windows_csv`],
//!   [`History::export_rr_csv`], [`History::export_edf`]).
//!
//! Times are milliseconds since the Unix epoch (UTC) throughout.

mod export;
mod memory;
mod query;
mod schema;
mod store;
mod time;

pub use export::{EdfExport, EdfTimeline, GAP_FILL_UV, MAX_GAP_FILL_S, check_export_path};
pub use memory::{MemoryHistory, MemorySession};
pub use query::{
    AlertRow, DailySummary, DayBounds, RetentionPolicy, RetentionReport, SessionDetail,
    SessionSummary, StateMinutes, TimelinePoint,
};
pub use schema::SCHEMA_VERSION;
pub use store::{History, HistoryOptions, WriterLock};
pub use time::{format_utc_iso, local_day};

use crate::Result;

/// Row id of a session in the history.
pub type SessionId = i64;

/// Where a session's ECG comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// A strap over btleplug (desktop).
    Ble,
    /// A strap over the phone's own BLE stack (platform bridge).
    Bridge,
    /// The built-in simulator.
    Simulator,
    /// A recording replayed from a file; only the file name is stored, never the directory.
    Replay {
        /// File name (without directory).
        file_name: String,
    },
}

impl SourceKind {
    /// Stored text of the kind ("ble", "bridge", "simulator", "replay").
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ble => "ble",
            Self::Bridge => "bridge",
            Self::Simulator => "simulator",
            Self::Replay { .. } => "replay",
        }
    }

    /// Rebuild from the stored kind and detail (unknown kinds read as the simulator).
    pub(crate) fn from_stored(kind: &str, detail: Option<String>) -> Self {
        match kind {
            "ble" => Self::Ble,
            "bridge" => Self::Bridge,
            "replay" => Self::Replay {
                file_name: detail.unwrap_or_default(),
            },
            _ => Self::Simulator,
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            Self::Replay { file_name } => Some(file_name),
            _ => None,
        }
    }
}

/// What the monitor knows when a session starts.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionStart {
    /// Wall-clock start (ms since the epoch, UTC).
    pub started_at_ms: i64,
    /// Where the ECG comes from.
    pub source: SourceKind,
    /// Device model, stored in clear (e.g. "Polar H10"); must not include a serial number.
    pub device_model: Option<String>,
    /// Anything that identifies the very device (advertised name with its serial, BLE address,
    /// serial number): stored only as a salted hash (per-database salt), never in clear.
    pub device_identity: Option<String>,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The user or app stopped it.
    Stopped,
    /// The strap was lost and not recovered.
    Disconnected,
    /// The source reached its end (replay, finite simulation).
    SourceEnded,
    /// The monitor stopped on an error.
    Error,
    /// The app was killed before it could end the session; the history closed it at its last
    /// stored data (`History::close_interrupted_sessions`).
    Interrupted,
}

impl EndReason {
    /// Every reason, in declaration order.
    pub const ALL: [Self; 5] = [
        Self::Stopped,
        Self::Disconnected,
        Self::SourceEnded,
        Self::Error,
        Self::Interrupted,
    ];

    /// Stored text ("stopped", "disconnected", "source_ended", "error", "interrupted").
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stopped => "stopped",
            Self::Disconnected => "disconnected",
            Self::SourceEnded => "source_ended",
            Self::Error => "error",
            Self::Interrupted => "interrupted",
        }
    }

    /// The reason a stored text names (`None`: a text this version does not write).
    pub fn from_stored(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// Beats of a window by AAMI class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BeatCounts {
    /// Normal (N).
    pub normal: u32,
    /// Supraventricular ectopic (S).
    pub supraventricular: u32,
    /// Ventricular ectopic (V).
    pub ventricular: u32,
    /// Fusion (F).
    pub fusion: u32,
    /// Unknown / unclassifiable (Q).
    pub unknown: u32,
}

/// One analysis window as the monitor scored it. `None` fields were not computable.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WindowRecord {
    /// Window start (ms, UTC).
    pub start_ms: i64,
    /// Window end (ms, UTC).
    pub end_ms: i64,
    /// Fraction (0–1) of the window judged usable by the signal-quality index.
    pub usable_fraction: f64,
    /// Mean heart rate, bpm ([`crate::model_input::stress::StressWindow::heart_rate_bpm`]).
    pub mean_hr_bpm: Option<f64>,
    /// RMSSD, ms.
    pub rmssd_ms: Option<f64>,
    /// SDNN, ms.
    pub sdnn_ms: Option<f64>,
    /// pNN50, %.
    pub pnn50_pct: Option<f64>,
    /// LF/HF ratio.
    pub lf_hf: Option<f64>,
    /// Model's stress probability (0–1).
    pub stress_probability: Option<f64>,
    /// Stress score shown to the user (0–100).
    pub score: Option<f64>,
    /// Confidence of the score (0–1).
    pub confidence: Option<f64>,
    /// The engine's state name for the window ("calm", "elevated", "high"; "unknown" for a
    /// window without a score).
    pub state: String,
    /// What produced the score (model name and version, or the HRV fallback's name).
    pub scored_by: String,
    /// Beats in the window by class.
    pub beats: BeatCounts,
    /// Computed from the strap's RR intervals, no ECG (schema 3; older rows: false).
    pub rr_only: bool,
}

/// A contiguous chunk of raw ECG (what the strap sent), kept for export.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EcgChunk<'a> {
    /// Time of the first sample (ms, UTC).
    pub first_sample_ms: i64,
    /// Sampling rate, Hz.
    pub sampling_rate_hz: u32,
    /// Samples in microvolts.
    pub samples_uv: &'a [i32],
}

/// An alert raised by the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    /// When (ms, UTC).
    pub at_ms: i64,
    /// Kind (e.g. "stress_high", "signal_lost").
    pub kind: String,
    /// Severity (0 = info, higher is more severe).
    pub severity: u8,
    /// Short reason shown to the user (no identifying data).
    pub reason: String,
}

/// A stretch with no ECG.
#[derive(Debug, Clone, PartialEq)]
pub struct GapRecord {
    /// Start of the gap (ms, UTC).
    pub from_ms: i64,
    /// End of the gap (ms, UTC).
    pub to_ms: i64,
    /// Samples missing in the gap.
    pub missing_samples: u64,
    /// Cause (e.g. "frame_loss", "disconnect", "timestamp_jump").
    pub cause: String,
}

/// The write side of the history, used by the monitor. Appends may be buffered; [`flush`]
/// (and [`end_session`]) make everything appended so far durable.
///
/// [`flush`]: HistorySink::flush
/// [`end_session`]: HistorySink::end_session
pub trait HistorySink: Send {
    /// Start a session and return its id (written at once).
    fn begin_session(&mut self, start: &SessionStart) -> Result<SessionId>;
    /// Append one scored window.
    fn append_window(&mut self, session: SessionId, window: &WindowRecord) -> Result<()>;
    /// Append one RR interval ending at `at_ms`.
    fn append_rr(&mut self, session: SessionId, at_ms: i64, rr_ms: f64) -> Result<()>;
    /// Append a chunk of raw ECG.
    fn append_ecg(&mut self, session: SessionId, chunk: &EcgChunk<'_>) -> Result<()>;
    /// Append an alert and commit it at once (with everything appended before it: the app
    /// shows it now and may acknowledge it); returns its id. On a failed commit the alert is
    /// kept for the next one, like any record.
    fn append_alert(&mut self, session: SessionId, alert: &AlertRecord) -> Result<i64>;
    /// Append a gap in the ECG.
    fn append_gap(&mut self, session: SessionId, gap: &GapRecord) -> Result<()>;
    /// End a session and flush.
    fn end_session(
        &mut self,
        session: SessionId,
        ended_at_ms: i64,
        reason: EndReason,
    ) -> Result<()>;
    /// Store the engine's baseline (serialised JSON) under `profile`, replacing the previous one.
    fn save_baseline(&mut self, profile: &str, json: &str, updated_at_ms: i64) -> Result<()>;
    /// The stored baseline JSON of `profile` and when it was saved, if any.
    fn load_baseline(&mut self, profile: &str) -> Result<Option<(String, i64)>>;
    /// Commit everything appended so far.
    fn flush(&mut self) -> Result<()>;
}

#[cfg(test)]
mod tests;
