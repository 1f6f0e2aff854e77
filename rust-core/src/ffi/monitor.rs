//! The live monitor for the apps: one [`StressMonitor`] object (sessions, listeners, history).
//!
//! StressBeat is not a medical device: scores and alerts are for personal insight, not
//! diagnosis; apps must say so wherever they show them.

#![warn(missing_docs)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};

use super::strap::{ConnectionStateRecord, GapCauseRecord, StrapSession};
use super::{StressBeatError, guard};
use crate::engine::{self, AlertEngine, AlertPolicy, EngineConfig, QuietHours, StressEngine};
use crate::history::{self, History, HistoryOptions, HistorySink, SessionStart, SourceKind};
use crate::monitor::{self, EventKind, MonitorEvent, Pacing, SessionInfo};
use crate::sensor::SensorSource;

// ---------------------------------------------------------------------------------------------
// Configuration and sources
// ---------------------------------------------------------------------------------------------

/// When to raise alerts. Every field has a default (`AlertConfig()` / `AlertConfig()` in Swift).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct AlertConfig {
    /// High stress must last this long before an alert, seconds.
    #[uniffi(default = 300)]
    pub sustained_high_s: u32,
    /// Minimum time between two stress alerts, seconds.
    #[uniffi(default = 1800)]
    pub stress_cooldown_s: u32,
    /// At most this many alerts in any rolling hour.
    #[uniffi(default = 4)]
    pub max_per_hour: u32,
    /// At most this many alerts in any rolling day.
    #[uniffi(default = 12)]
    pub max_per_day: u32,
    /// Quiet hours start, minutes after local midnight (`null`/`nil`: no quiet hours). Set
    /// both ends or neither.
    #[uniffi(default)]
    pub quiet_start_minute: Option<u16>,
    /// Quiet hours end (exclusive), minutes after local midnight.
    #[uniffi(default)]
    pub quiet_end_minute: Option<u16>,
    /// No usable signal while streaming for this long → alert, seconds.
    #[uniffi(default = 120)]
    pub lost_signal_after_s: u32,
    /// Strap battery at or below this → alert, percent.
    #[uniffi(default = 15)]
    pub battery_low_percent: u8,
    /// Strap disconnected for this long → alert, seconds.
    #[uniffi(default = 60)]
    pub disconnected_after_s: u32,
}

impl Default for AlertConfig {
    fn default() -> Self {
        Self {
            sustained_high_s: 300,
            stress_cooldown_s: 1800,
            max_per_hour: 4,
            max_per_day: 12,
            quiet_start_minute: None,
            quiet_end_minute: None,
            lost_signal_after_s: 120,
            battery_low_percent: 15,
            disconnected_after_s: 60,
        }
    }
}

impl AlertConfig {
    fn policy(&self) -> Result<AlertPolicy, StressBeatError> {
        let ms = |s: u32| i64::from(s) * 1000;
        let d = AlertPolicy::default();
        if self.quiet_start_minute.is_some() != self.quiet_end_minute.is_some() {
            return Err(StressBeatError::InvalidArgument {
                message: "alerts: quietStartMinute and quietEndMinute must be set together".into(),
            });
        }
        Ok(AlertPolicy {
            sustained_high_ms: ms(self.sustained_high_s),
            stress_cooldown_ms: ms(self.stress_cooldown_s),
            max_per_hour: self.max_per_hour,
            max_per_day: self.max_per_day,
            quiet_hours: match (self.quiet_start_minute, self.quiet_end_minute) {
                (Some(start_minute), Some(end_minute)) => Some(QuietHours {
                    start_minute,
                    end_minute,
                }),
                _ => None,
            },
            lost_signal_after_ms: ms(self.lost_signal_after_s),
            battery_low_percent: self.battery_low_percent,
            battery_rearm_percent: self.battery_low_percent.saturating_add(10).min(100),
            disconnected_after_ms: ms(self.disconnected_after_s),
            ..d
        })
    }
}

/// How long the history keeps data. Raw ECG is the bulk (about 22 MB per day of wear with a
/// Polar H10), so it is kept for a shorter time than the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct RetentionConfig {
    /// Windows, RR intervals, alerts, gaps and sessions older than this many days are deleted.
    #[uniffi(default = 365)]
    pub keep_days: u32,
    /// Raw ECG older than this many days is deleted (at most `keepDays`).
    #[uniffi(default = 7)]
    pub keep_raw_ecg_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            keep_days: 365,
            keep_raw_ecg_days: 7,
        }
    }
}

impl RetentionConfig {
    fn policy(self) -> Result<history::RetentionPolicy, StressBeatError> {
        if self.keep_days == 0 || self.keep_raw_ecg_days == 0 {
            // 0 would delete the running session's data
            return Err(StressBeatError::InvalidArgument {
                message: "retention: keepDays and keepRawEcgDays must be at least 1".into(),
            });
        }
        Ok(history::RetentionPolicy {
            keep_days: self.keep_days,
            keep_raw_ecg_days: self.keep_raw_ecg_days,
        })
    }
}

/// Rows `applyRetention` deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, uniffi::Record)]
pub struct RetentionSummary {
    /// Stress windows (scored or not).
    pub windows: u64,
    /// RR intervals.
    pub rr_intervals: u64,
    /// Raw ECG chunks.
    pub ecg_chunks: u64,
    /// Alerts.
    pub alerts: u64,
    /// Gaps in the ECG.
    pub gaps: u64,
    /// Sessions (those left with no data).
    pub sessions: u64,
}

/// How a [`StressMonitor`] is set up.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct StressMonitorConfig {
    /// The history database file (created when missing). Its directory must exist.
    pub database_path: String,
    /// A stress model (`.onnx`, with its `.json` beside it); `null`/`nil`: the built-in one.
    #[uniffi(default)]
    pub stress_model_path: Option<String>,
    /// A beat-type model (`.onnx` + `.json`); `null`/`nil`: the built-in one.
    #[uniffi(default)]
    pub beat_model_path: Option<String>,
    /// `true`: a model that cannot be loaded is an error (`StressBeatError.Model`);
    /// `false` (default): it is reported (status `ModelUnavailable`) and scores come from the
    /// HRV fallback.
    #[uniffi(default = false)]
    pub strict_models: bool,
    /// Alert policy; `null`/`nil`: the defaults.
    #[uniffi(default)]
    pub alerts: Option<AlertConfig>,
    /// Local time zone offset in minutes east of UTC (quiet hours, daily summaries); update it
    /// with `setUtcOffsetMinutes` when the time zone changes.
    #[uniffi(default = 0)]
    pub utc_offset_minutes: i32,
    /// How long the history keeps data; `null`/`nil`: the defaults (a year; raw ECG a week).
    /// Applied when the monitor is created and by `applyRetention`.
    #[uniffi(default)]
    pub retention: Option<RetentionConfig>,
}

/// A stress episode of the simulated wearer.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct SimulatedStress {
    /// Start, seconds from the beginning of the session.
    pub start_s: f64,
    /// Length, seconds.
    pub duration_s: f64,
    /// 0–1.
    pub intensity: f64,
}

/// Where a monitoring session's ECG comes from.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum MonitorSource {
    /// A simulated Polar H10 (synthetic ECG, real protocol and connection logic).
    Simulator {
        /// Length, minutes.
        minutes: f64,
        /// Same seed, same session.
        seed: u64,
        /// Stress episodes.
        stress: Vec<SimulatedStress>,
        /// Fault specification, e.g. `"loss=5%,dup=1%,disconnect=2m/10s"`; empty: none.
        faults: String,
        /// `true`: run in real time, stored from now; `false`: as fast as possible, stored so
        /// that it ends now (or just before the stored sessions it would overlap), never in
        /// the future.
        realtime: bool,
        /// `true`: a strap with the Heart Rate Service only (RR intervals, no ECG stream), as
        /// most chest straps; stress is scored from the RR intervals.
        #[uniffi(default)]
        heart_rate_only: bool,
    },
    /// A recording (WFDB `.hea`, EDF, CSV, or a Polar capture) replayed.
    ReplayFile {
        /// The file.
        path: String,
        /// Multiple of real time (`1.0` = real time, at most 1000); `null`/`nil`: as fast as
        /// possible.
        /// Faster than real time, the session is stored as the simulator's is (ending now or
        /// before the sessions it would overlap); at most real time, from now.
        speed: Option<f64>,
    },
    /// A strap driven by the app's own BLE stack (the app keeps calling the session's
    /// callbacks and `tick`). The monitor takes the session's events (its `pollEvents` refuses
    /// until the monitor session ends) and stops it when the monitor session ends; a stopped
    /// session cannot start another (`start` fails with `InvalidState`): create a new one.
    PlatformBridge {
        /// The session.
        session: Arc<StrapSession>,
        /// The app's monotonic clock now, ms (the clock it passes to the session; one that
        /// counts during sleep, see `StrapSession`), so the monitor can map it to wall time.
        now_ms: i64,
    },
    /// A strap over the core's own Bluetooth (desktop builds with feature `ble`; otherwise
    /// `start` fails with `Unsupported`).
    Ble {
        /// Device name or address as shown by a scan.
        device: String,
    },
}

// ---------------------------------------------------------------------------------------------
// Listener records
// ---------------------------------------------------------------------------------------------

/// Live heart rate.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct HeartRateUpdate {
    /// Unix time, ms. From the ECG: the beat ending the last of `rr_ms`.
    pub at_ms: i64,
    /// Beats per minute; 0 from a strap that has no reading yet (no skin contact): show none.
    pub bpm: f64,
    /// RR intervals since the previous update of the same origin, ms, oldest first; from the
    /// ECG, consecutive.
    pub rr_ms: Vec<f64>,
    /// Skin contact as the strap reports it (`null`: not reported).
    pub contact: Option<bool>,
    /// `true`: from R-peaks in the ECG; `false`: the strap's Heart Rate service.
    pub from_ecg: bool,
}

/// ECG for drawing: a few batches per second of the 130 Hz signal.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct EcgBatch {
    /// Unix time of the first sample, ms.
    pub first_sample_ms: f64,
    /// Time between samples, ms.
    pub sample_interval_ms: f64,
    /// Samples, mV; NaN where the signal is missing (lost frames, a short disconnection):
    /// break the trace there rather than drawing a line through it.
    pub samples_mv: Vec<f32>,
}

/// The main problem of a poor signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SignalIssue {
    /// Nothing wrong.
    Good,
    /// Muscle or motion noise.
    Noise,
    /// Clipped at the amplifier's rail.
    Saturation,
    /// Electrode off / no signal.
    LeadOff,
}

/// Signal quality of the latest 4 s.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct SignalQualityUpdate {
    /// Unix time, ms.
    pub at_ms: i64,
    /// 0 (unusable) … 1 (clean).
    pub score: f32,
    /// Usable for analysis.
    pub usable: bool,
    /// The main problem.
    pub issue: SignalIssue,
}

/// Held stress state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum StressLevel {
    /// Calm.
    Calm,
    /// Elevated.
    Elevated,
    /// High.
    High,
}

/// Beats in a window by AAMI class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct BeatCounts {
    /// Normal.
    pub normal: u32,
    /// Supraventricular ectopic.
    pub supraventricular: u32,
    /// Ventricular ectopic.
    pub ventricular: u32,
    /// Fusion.
    pub fusion: u32,
    /// Unclassifiable.
    pub unknown: u32,
}

/// The stress result of one 30 s window (every 5 s). Not a medical device.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct StressUpdate {
    /// Window start, Unix ms.
    pub window_start_ms: i64,
    /// Window end, Unix ms.
    pub at_ms: i64,
    /// 0–100 relative to the personal baseline; `null`: see `noScoreReason`.
    pub score: Option<u8>,
    /// 0–1.
    pub confidence: f32,
    /// Held state (`null` before the first score and after 2 min without one). It is held across
    /// unscored windows: show it with `noScoreReason` when `score` is `null`.
    pub level: Option<StressLevel>,
    /// The level changed on this update.
    pub level_changed: bool,
    /// Why there is no score (a short sentence): poor signal, too few beats, too many irregular
    /// beats or a too irregular rhythm for HRV, calibrating, ...
    pub no_score_reason: Option<String>,
    /// `true` when the score comes from the HRV fallback (no usable stress model).
    pub from_hrv_fallback: bool,
    /// `true` when the window was computed from the strap's RR intervals, without ECG (a
    /// heart-rate-only strap, or an H10 whose ECG stream stopped): no beat types, and the
    /// usable fraction is the intervals' coverage.
    pub rr_only: bool,
    /// Usable signal fraction of the window, 0–1.
    pub usable_fraction: f32,
    /// Mean heart rate, bpm: of the corrected NN intervals, or, where beats are often not
    /// normal or the intervals irregular, of every detected beat (`StressWindow::heart_rate_bpm`).
    pub hr_bpm: Option<f32>,
    /// RMSSD, ms.
    pub rmssd_ms: Option<f32>,
    /// Beats of the window by class.
    pub beats: BeatCounts,
    /// While a calibration runs (see `startCalibration`): its progress, then its outcome (one
    /// the session's end cuts short: `MonitorStatus.CalibrationEnded`).
    pub calibration: Option<CalibrationProgress>,
}

/// A calibration of the personal baseline, as of one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CalibrationProgress {
    /// Running: calm, clean windows so far, the windows left out and why, and the time left.
    Running {
        /// Windows accepted so far.
        accepted_windows: u32,
        /// Windows left out for a poor signal (contact, movement).
        poor_signal_windows: u32,
        /// Windows left out for an irregular rhythm: too many non-N beats, or too irregular
        /// intervals (e.g. atrial fibrillation).
        irregular_rhythm_windows: u32,
        /// Time left, seconds.
        remaining_s: u32,
        /// The calibration's whole duration, seconds (for a progress bar).
        duration_s: u32,
    },
    /// Finished: the new personal baseline is in use and stored.
    Completed {
        /// Windows it was built from.
        windows: u32,
    },
    /// Finished without a baseline: too few calm, clean windows; the counts say whether the
    /// signal (contact, movement) or an irregular rhythm kept them out. The previous
    /// baseline, if any, stays in use.
    Failed {
        /// Windows accepted.
        accepted_windows: u32,
        /// Windows needed.
        needed_windows: u32,
        /// Windows left out for a poor signal.
        poor_signal_windows: u32,
        /// Windows left out for an irregular rhythm: too many non-N beats, or too irregular
        /// intervals (e.g. atrial fibrillation).
        irregular_rhythm_windows: u32,
    },
}

/// The personal baseline that scores are relative to.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PersonalBaselineSummary {
    /// `true`: from a calibration (then kept up to date by calm windows); `false`: learned from
    /// calm windows alone.
    pub calibrated: bool,
    /// `true` once it holds enough windows to be used at full confidence.
    pub mature: bool,
    /// Windows it was built from.
    pub windows: u64,
    /// Calm heart rate, bpm.
    pub hr_bpm: Option<f64>,
    /// Calm RMSSD, ms.
    pub rmssd_ms: Option<f64>,
    /// End of the last window that updated it, Unix ms.
    pub updated_at_ms: i64,
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum AlertKind {
    /// Stress stayed high.
    SustainedHighStress,
    /// No usable ECG while the strap streams.
    SignalLost,
    /// Usable ECG is back.
    SignalBack,
    /// Strap battery low.
    BatteryLow,
    /// The strap has been disconnected for a while.
    StrapDisconnected,
    /// The strap is back.
    StrapReconnected,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SessionEndReason {
    /// `stop()` ended it.
    Stopped,
    /// The strap was lost and did not come back.
    Disconnected,
    /// The source ended (a replay or a finite simulation).
    SourceEnded,
    /// The monitor stopped on an error.
    Error,
    /// The app was killed before it could end the session (found at the next start): it ends
    /// at its last stored data.
    Interrupted,
}

/// A model of the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ModelTask {
    /// The stress model.
    Stress,
    /// The beat-type (AAMI class) model.
    BeatType,
}

/// An alert to show, with why.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct MonitorAlert {
    /// Its id in the history, for `acknowledgeAlert`; `null`/`nil` when the history could not
    /// be written at that moment (`alerts(...)` lists it if it was stored later).
    pub id: Option<i64>,
    /// Unix time, ms.
    pub at_ms: i64,
    /// Kind.
    pub kind: AlertKind,
    /// `true`: needs attention; `false`: information (e.g. a resolution).
    pub warning: bool,
    /// Why, in words (no personal data).
    pub reason: String,
    /// Start of the time range it is about, Unix ms.
    pub from_ms: i64,
    /// End of that range, Unix ms.
    pub to_ms: i64,
}

/// The strap connection changed.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ConnectionUpdate {
    /// Unix time, ms.
    pub at_ms: i64,
    /// New state.
    pub state: ConnectionStateRecord,
}

/// Session-level news.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum MonitorStatus {
    /// A session began.
    SessionStarted {
        /// Its history id; 0 when the history could not open it yet (it is opened later and
        /// `Finished` carries the id; what came before is not stored).
        session_id: i64,
    },
    /// Strap battery.
    Battery {
        /// Unix time, ms.
        at_ms: i64,
        /// Percent.
        percent: u8,
    },
    /// ECG is missing between two times.
    Gap {
        /// Last sample before the gap, Unix ms.
        from_ms: f64,
        /// First sample after the gap, Unix ms.
        to_ms: f64,
        /// Samples missing (at the strap's rate).
        missing_samples: u64,
        /// Why.
        cause: GapCauseRecord,
    },
    /// A model could not be used: without the stress model scores come from the HRV fallback;
    /// without the beat-type model beats are not classified (they count as normal).
    ModelUnavailable {
        /// Which model.
        task: ModelTask,
        /// Why (no paths).
        reason: String,
    },
    /// The history could not be written; live results continue.
    StorageFailed {
        /// Why.
        reason: String,
    },
    /// The source's ECG cannot be analysed (an unsupported sampling rate), or the strap refused
    /// the ECG stream: stress then comes from its RR intervals until ECG returns.
    EcgUnusable {
        /// Why.
        reason: String,
    },
    /// ECG streams again after the strap refused it (`EcgUnusable`): stress comes from the ECG
    /// again; a later refusal is reported again.
    EcgResumed {
        /// First sample of the resumed stream, Unix ms.
        at_ms: i64,
    },
    /// A calibration still running when the session ended ended with it, on the windows it had
    /// taken: `Completed` (the new baseline is in use and stored) or `Failed`. It comes before
    /// `Finished`; one that ends within the session is reported on its
    /// `StressUpdate.calibration` instead.
    CalibrationEnded {
        /// `Completed` or `Failed`.
        outcome: CalibrationProgress,
    },
    /// The session ended and is stored.
    Finished {
        /// Its history id.
        session_id: i64,
        /// Windows analysed (one `StressUpdate` each, scored or not).
        windows: u64,
        /// Why (never `Interrupted`).
        end_reason: SessionEndReason,
    },
}

/// Receives heart rate updates (on the monitor's thread, see [`StressMonitor`]: return quickly).
#[uniffi::export(with_foreign)]
pub trait HeartRateListener: Send + Sync {
    /// A heart rate update.
    fn on_heart_rate(&self, update: HeartRateUpdate);
}

/// Receives ECG batches for drawing (on the monitor's thread, see [`StressMonitor`]: return quickly).
#[uniffi::export(with_foreign)]
pub trait EcgListener: Send + Sync {
    /// A batch of ECG.
    fn on_ecg(&self, batch: EcgBatch);
}

/// Receives signal quality (on the monitor's thread, see [`StressMonitor`]: return quickly).
#[uniffi::export(with_foreign)]
pub trait SignalQualityListener: Send + Sync {
    /// A quality update.
    fn on_signal_quality(&self, update: SignalQualityUpdate);
}

/// Receives stress updates (on the monitor's thread, see [`StressMonitor`]: return quickly).
#[uniffi::export(with_foreign)]
pub trait StressListener: Send + Sync {
    /// A stress update.
    fn on_stress(&self, update: StressUpdate);
}

/// Receives alerts (on the monitor's thread, see [`StressMonitor`]: return quickly).
#[uniffi::export(with_foreign)]
pub trait AlertListener: Send + Sync {
    /// An alert.
    fn on_alert(&self, alert: MonitorAlert);
}

/// Receives connection changes (on the monitor's thread, see [`StressMonitor`]: return quickly).
#[uniffi::export(with_foreign)]
pub trait ConnectionListener: Send + Sync {
    /// A connection change.
    fn on_connection(&self, update: ConnectionUpdate);
}

/// Receives session-level news (on the monitor's thread, see [`StressMonitor`]: return quickly).
#[uniffi::export(with_foreign)]
pub trait StatusListener: Send + Sync {
    /// A status event.
    fn on_status(&self, status: MonitorStatus);
}

/// A listener's subscription. Events stop after `cancel()` returns, or when the subscription
/// is released (Kotlin: `close()`/garbage collection; Swift: last reference dropped): keep a
/// reference for as long as the listener should hear.
#[derive(uniffi::Object)]
pub struct Subscription {
    inner: monitor::Subscription,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

#[uniffi::export]
impl Subscription {
    /// Stop delivering events to the listener (idempotent). Outside a listener it waits until
    /// a delivery already running on the monitor's thread has returned, so never cancel on a
    /// thread that delivery is itself waiting for (a listener blocked on the main thread while
    /// the main thread cancels would never return).
    pub fn cancel(&self) {
        self.inner.cancel();
    }

    /// Whether events are still delivered.
    pub fn is_active(&self) -> bool {
        self.inner.is_active()
    }
}

// ---------------------------------------------------------------------------------------------
// History records
// ---------------------------------------------------------------------------------------------

/// Where a stored session's ECG came from.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SessionSource {
    /// A strap over the core's Bluetooth.
    Ble,
    /// A strap over the app's BLE stack.
    PlatformBridge,
    /// The simulator.
    Simulator,
    /// A replayed file.
    Replay {
        /// Its name (never the folder).
        file_name: String,
    },
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SessionSummary {
    /// History id.
    pub id: i64,
    /// Start, Unix ms.
    pub started_at_ms: i64,
    /// End, Unix ms (`null` while running or after a crash).
    pub ended_at_ms: Option<i64>,
    /// Why it ended (`null` while running, or a reason written by a newer version).
    pub end_reason: Option<SessionEndReason>,
    /// Where the ECG came from.
    pub source: SessionSource,
    /// Device model (never a serial number).
    pub device_model: Option<String>,
    /// Windows stored.
    pub windows: u32,
    /// Alerts stored.
    pub alerts: u32,
    /// Gaps stored.
    pub gaps: u32,
}

/// A point of a downsampled stress timeline.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TimelinePoint {
    /// Bucket start, Unix ms.
    pub start_ms: i64,
    /// Bucket end, Unix ms.
    pub end_ms: i64,
    /// Windows in the bucket.
    pub windows: u32,
    /// Mean heart rate, bpm.
    pub mean_hr_bpm: Option<f64>,
    /// Mean score.
    pub mean_score: Option<f64>,
    /// Highest score.
    pub max_score: Option<f64>,
}

/// A local day as the app's calendar bounds it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LocalDay {
    /// Its date, e.g. `YYYY-MM-DD` (returned as given).
    pub date: String,
    /// Its first instant, Unix ms.
    pub start_ms: i64,
    /// The next day's first instant, Unix ms.
    pub end_ms: i64,
}

/// One local day.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DailySummary {
    /// Local date, `YYYY-MM-DD`.
    pub date: String,
    /// Windows scored or not.
    pub windows: u32,
    /// Mean score.
    pub mean_score: Option<f64>,
    /// Highest score.
    pub max_score: Option<f64>,
    /// Minutes in the high state.
    pub high_minutes: f64,
    /// Alerts.
    pub alerts: u32,
    /// Mean heart rate, bpm.
    pub mean_hr_bpm: Option<f64>,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct StoredAlert {
    /// Alert id.
    pub id: i64,
    /// Session id.
    pub session_id: i64,
    /// Unix time, ms.
    pub at_ms: i64,
    /// Kind.
    pub kind: AlertKind,
    /// `true`: needed attention; `false`: information (e.g. a resolution).
    pub warning: bool,
    /// Why.
    pub reason: String,
    /// Whether `acknowledgeAlert` marked it as seen.
    pub acknowledged: bool,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ExportFormat {
    /// Per-window stress, HR and HRV as CSV.
    WindowsCsv,
    /// RR intervals as CSV.
    RrCsv,
    /// The raw ECG with annotations as EDF+ (opens in EDFbrowser).
    Edf,
}

// ---------------------------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------------------------

fn heart_rate(u: &monitor::HeartRateUpdate) -> HeartRateUpdate {
    HeartRateUpdate {
        at_ms: u.at_ms,
        bpm: u.bpm,
        rr_ms: u.rr_ms.clone(),
        contact: u.contact,
        from_ecg: u.source == monitor::HeartRateSource::Ecg,
    }
}

fn stress_update(u: &engine::StressUpdate, o: &engine::WindowObservation) -> StressUpdate {
    let b = o.beat_counts;
    StressUpdate {
        window_start_ms: u.window_start_ms,
        at_ms: u.at_ms,
        score: u.score,
        confidence: u.confidence,
        level: u.state.map(|s| match s {
            engine::StressState::Calm => StressLevel::Calm,
            engine::StressState::Elevated => StressLevel::Elevated,
            engine::StressState::High => StressLevel::High,
        }),
        level_changed: u.state_changed,
        no_score_reason: u.reason.map(|r| r.message()),
        from_hrv_fallback: u.source == Some(engine::ScoreSource::HrvFallback),
        rr_only: o.rr_only,
        usable_fraction: u.usable_fraction,
        hr_bpm: o.hr_bpm,
        rmssd_ms: o.rmssd_ms,
        beats: BeatCounts {
            normal: b.n,
            supraventricular: b.s,
            ventricular: b.v,
            fusion: b.f,
            unknown: b.q,
        },
        calibration: u.calibration.map(calibration_progress),
    }
}

fn calibration_progress(c: engine::CalibrationEvent) -> CalibrationProgress {
    match c {
        engine::CalibrationEvent::Progress {
            accepted_windows,
            rejected,
            remaining_ms,
            duration_ms,
        } => CalibrationProgress::Running {
            accepted_windows,
            poor_signal_windows: rejected.poor_signal,
            irregular_rhythm_windows: rejected.ectopy,
            remaining_s: whole_seconds(remaining_ms),
            duration_s: whole_seconds(duration_ms),
        },
        engine::CalibrationEvent::Completed { windows } => {
            CalibrationProgress::Completed { windows }
        }
        engine::CalibrationEvent::Failed(engine::CalibrationError::TooFewWindows {
            accepted,
            needed,
            rejected,
        }) => CalibrationProgress::Failed {
            accepted_windows: accepted,
            needed_windows: needed,
            poor_signal_windows: rejected.poor_signal,
            irregular_rhythm_windows: rejected.ectopy,
        },
    }
}

/// Milliseconds as whole seconds, rounded up (negative: 0).
fn whole_seconds(ms: i64) -> u32 {
    u32::try_from(ms.max(0).unsigned_abs().div_ceil(1000)).unwrap_or(u32::MAX)
}

fn baseline_summary(b: &engine::PersonalBaseline) -> PersonalBaselineSummary {
    let mean = |s: &engine::RunningStat| (s.n > 0 && s.mean.is_finite()).then_some(s.mean);
    PersonalBaselineSummary {
        calibrated: b.origin == engine::BaselineOrigin::Calibrated,
        mature: b.is_mature(),
        windows: b.windows,
        hr_bpm: mean(&b.hr_bpm),
        rmssd_ms: mean(&b.rmssd_ms),
        updated_at_ms: b.updated_ms,
    }
}

fn alert_kind(k: engine::AlertKind) -> AlertKind {
    match k {
        engine::AlertKind::SustainedHighStress => AlertKind::SustainedHighStress,
        engine::AlertKind::SignalLost => AlertKind::SignalLost,
        engine::AlertKind::SignalBack => AlertKind::SignalBack,
        engine::AlertKind::BatteryLow => AlertKind::BatteryLow,
        engine::AlertKind::StrapDisconnected => AlertKind::StrapDisconnected,
        engine::AlertKind::StrapReconnected => AlertKind::StrapReconnected,
    }
}

/// `None` for a kind this version does not know (written by a newer one): left out.
fn stored_alert(a: history::AlertRow) -> Option<StoredAlert> {
    let Some(kind) = monitor::pipeline::alert_kind_from_name(&a.kind) else {
        log::warn!("history: an alert of an unknown kind is not listed");
        return None;
    };
    Some(StoredAlert {
        id: a.id,
        session_id: a.session_id,
        at_ms: a.at_ms,
        kind: alert_kind(kind),
        warning: a.severity > 0,
        reason: a.reason,
        acknowledged: a.acknowledged,
    })
}

fn end_reason(r: history::EndReason) -> SessionEndReason {
    match r {
        history::EndReason::Stopped => SessionEndReason::Stopped,
        history::EndReason::Disconnected => SessionEndReason::Disconnected,
        history::EndReason::SourceEnded => SessionEndReason::SourceEnded,
        history::EndReason::Error => SessionEndReason::Error,
        history::EndReason::Interrupted => SessionEndReason::Interrupted,
    }
}

fn alert(a: &engine::Alert, id: Option<i64>) -> MonitorAlert {
    MonitorAlert {
        id,
        at_ms: a.at_ms,
        kind: alert_kind(a.kind),
        warning: a.severity == engine::Severity::Warning,
        reason: a.reason.clone(),
        from_ms: a.from_ms,
        to_ms: a.to_ms,
    }
}

fn status(ev: &MonitorEvent) -> Option<MonitorStatus> {
    use monitor::Degradation as D;
    Some(match ev {
        MonitorEvent::SessionStarted { session_id } => MonitorStatus::SessionStarted {
            session_id: *session_id,
        },
        MonitorEvent::Battery { at_ms, percent } => MonitorStatus::Battery {
            at_ms: *at_ms,
            percent: *percent,
        },
        MonitorEvent::Gap {
            from_ms,
            to_ms,
            missing_samples,
            cause,
        } => MonitorStatus::Gap {
            from_ms: *from_ms,
            to_ms: *to_ms,
            missing_samples: *missing_samples,
            cause: (*cause).into(),
        },
        MonitorEvent::Degraded(D::ModelUnavailable { task, reason }) => {
            MonitorStatus::ModelUnavailable {
                task: match task {
                    crate::model::Task::Stress => ModelTask::Stress,
                    crate::model::Task::BeatType => ModelTask::BeatType,
                },
                reason: reason.clone(),
            }
        }
        MonitorEvent::Degraded(D::StorageFailed { reason }) => MonitorStatus::StorageFailed {
            reason: reason.clone(),
        },
        MonitorEvent::Degraded(D::EcgUnusable { reason }) => MonitorStatus::EcgUnusable {
            reason: reason.clone(),
        },
        MonitorEvent::EcgResumed { at_ms } => MonitorStatus::EcgResumed { at_ms: *at_ms },
        MonitorEvent::CalibrationEnded(outcome) => MonitorStatus::CalibrationEnded {
            outcome: calibration_progress(*outcome),
        },
        MonitorEvent::Finished {
            session_id,
            windows,
            reason,
        } => MonitorStatus::Finished {
            session_id: *session_id,
            windows: *windows,
            end_reason: end_reason(*reason),
        },
        _ => return None,
    })
}

fn daily_summary(d: history::DailySummary) -> DailySummary {
    DailySummary {
        high_minutes: d
            .minutes_by_state
            .iter()
            .filter(|m| m.state == "high")
            .map(|m| m.minutes)
            .sum(),
        date: d.date,
        windows: d.windows,
        mean_score: d.mean_score,
        max_score: d.max_score,
        alerts: d.alerts,
        mean_hr_bpm: d.mean_hr_bpm,
    }
}

fn session_summary(s: history::SessionSummary) -> SessionSummary {
    SessionSummary {
        id: s.id,
        started_at_ms: s.started_at_ms,
        ended_at_ms: s.ended_at_ms,
        end_reason: s
            .end_reason
            .as_deref()
            .and_then(history::EndReason::from_stored)
            .map(end_reason),
        source: match s.source {
            SourceKind::Ble => SessionSource::Ble,
            SourceKind::Bridge => SessionSource::PlatformBridge,
            SourceKind::Simulator => SessionSource::Simulator,
            SourceKind::Replay { file_name } => SessionSource::Replay { file_name },
        },
        device_model: s.device_model,
        windows: s.windows,
        alerts: s.alerts,
        gaps: s.gaps,
    }
}

fn lock_history(history: &Mutex<History>) -> std::sync::MutexGuard<'_, History> {
    monitor::pipeline::relock(history)
}

fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn utc_offset_error() -> StressBeatError {
    StressBeatError::InvalidArgument {
        message: "utcOffsetMinutes must be within ±18 h".into(),
    }
}

fn invalid_state(message: &str) -> StressBeatError {
    StressBeatError::InvalidState {
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// The monitor
// ---------------------------------------------------------------------------------------------

/// The stress monitor: runs one session at a time on its own worker thread (the only thread
/// the core starts), delivers live results to listeners from that thread, and stores
/// everything in the history database. Thread-safe; every method returns quickly except
/// `stop`/`shutdown` (which wait for the session to be stored) and the history queries.
///
/// Threads: listeners are called on the monitor's thread, except that `subscribe…` delivers
/// the current state at once on the calling thread. A listener should return quickly and
/// hand work to the app's own thread without waiting for it (Android `post`, iOS
/// `DispatchQueue.main.async`, never `.sync`): `stop`, `shutdown` and `Subscription.cancel`
/// wait for a running delivery, so a listener waiting for the thread that calls them would
/// never return.
///
/// Results are for personal insight only: StressBeat is not a medical device.
#[derive(uniffi::Object)]
pub struct StressMonitor {
    monitor: monitor::Monitor,
    /// The connection the worker writes through.
    history: Arc<Mutex<History>>,
    /// A read-only connection for the app's queries and exports: they read beside the worker's
    /// writes (WAL) instead of holding its lock, so a long export does not hold up live
    /// results. `None` where the database could not be opened a second time (then queries use
    /// `history`).
    reader: Option<Mutex<History>>,
    /// Where the history is (an export must not replace it).
    database_path: std::path::PathBuf,
    /// Local time zone offset, minutes east of UTC (daily summaries; the alert engine has its
    /// own copy for quiet hours).
    utc_offset_minutes: AtomicI32,
    retention: history::RetentionPolicy,
    shut_down: AtomicBool,
    /// Held by `start` and `shutdown`, so no session starts after a shutdown has begun.
    lifecycle: Mutex<()>,
    /// This monitor's hold on the database (one monitor per history), until `shutdown`.
    writer_lock: Mutex<Option<history::WriterLock>>,
}

impl std::fmt::Debug for StressMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StressMonitor").finish_non_exhaustive()
    }
}

impl StressMonitor {
    fn engines(&self) -> std::sync::MutexGuard<'_, monitor::Engines> {
        monitor::pipeline::relock(self.monitor.engines())
    }

    /// `call` waits for the session: refused on the session's own thread (a listener, or a
    /// transport's `execute` the session called), where it could never end.
    fn refuse_on_session_thread(&self, call: &str) -> Result<(), StressBeatError> {
        if self.monitor.on_session_thread() {
            return Err(invalid_state(&format!(
                "{call} cannot be called from inside a listener or a callback of the session: \
                 it would wait for the session that is calling it (call stop() there)"
            )));
        }
        Ok(())
    }

    fn check_open(&self) -> Result<(), StressBeatError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(invalid_state("the monitor has been shut down"));
        }
        Ok(())
    }

    fn subscribe(
        &self,
        kind: EventKind,
        f: impl Fn(&MonitorEvent) + Send + Sync + 'static,
    ) -> Arc<Subscription> {
        Arc::new(Subscription {
            inner: self.monitor.subscribe(kind, Arc::new(f)),
        })
    }

    /// The writer connection; `InvalidState` once `shutdown` has closed it (checked under its
    /// lock, so a call racing `shutdown` never reaches the closed history).
    fn writer(&self) -> Result<std::sync::MutexGuard<'_, History>, StressBeatError> {
        let h = lock_history(&self.history);
        self.check_open()?;
        Ok(h)
    }

    /// Run the write `f` on the writer connection.
    fn update<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut History) -> crate::Result<T>,
    ) -> Result<T, StressBeatError> {
        guard(what, || Ok(f(&mut *self.writer()?)?))
    }

    /// Run the read `f` on the reader connection after committing the worker's pending writes
    /// (the writer's lock is held only for that commit). When they cannot be committed (a full
    /// disk) it reads what is stored.
    fn query<T>(
        &self,
        what: &str,
        f: impl FnOnce(&History) -> crate::Result<T>,
    ) -> Result<T, StressBeatError> {
        guard(what, || {
            if let Err(e) = self.writer()?.flush() {
                log::warn!(
                    "monitor: {what} without the pending writes: {}",
                    e.log_safe()
                );
            }
            let h = match &self.reader {
                Some(reader) => lock_history(reader),
                None => self.writer()?,
            };
            // `shutdown` may have closed it since the check above
            self.check_open()?;
            Ok(f(&h)?)
        })
    }

    /// A session whose clock runs ahead of real time (a simulation or replay run faster) is
    /// stamped to end before now ([`History::past_start_ms`]): nothing stored in the future.
    fn session_source(&self, source: MonitorSource) -> Result<SourceParts, StressBeatError> {
        let ((src, pacing, mut info), ahead_ms) = self.source_of(source)?;
        if let Some(length_ms) = ahead_ms {
            let now = info.start.started_at_ms;
            info.start.started_at_ms = self
                .query("placing the session", |h| h.past_start_ms(length_ms, now))
                .unwrap_or(now - length_ms.max(0));
        }
        Ok((src, pacing, info))
    }

    /// The source, its pacing, the session stamped now, and its length when its clock runs
    /// ahead of real time.
    fn source_of(
        &self,
        source: MonitorSource,
    ) -> Result<(SourceParts, Option<i64>), StressBeatError> {
        let now_unix = unix_now_ms();
        let start = |source: SourceKind, model: &str| SessionStart {
            started_at_ms: now_unix,
            source,
            device_model: Some(model.into()),
            device_identity: None,
        };
        Ok(match source {
            MonitorSource::Simulator {
                minutes,
                seed,
                stress,
                faults,
                realtime,
                heart_rate_only,
            } => {
                if !(minutes.is_finite() && minutes > 0.0 && minutes <= 7.0 * 24.0 * 60.0) {
                    return Err(StressBeatError::InvalidArgument {
                        message: "minutes must be in (0, 10080]".into(),
                    });
                }
                let faults = crate::sim::faults::FaultConfig::parse(&faults).map_err(|_| {
                    StressBeatError::InvalidArgument {
                        message: "faults: not a valid fault specification".into(),
                    }
                })?;
                let spec = monitor::SimulatorSpec {
                    minutes,
                    seed,
                    stress: stress
                        .iter()
                        .map(|s| crate::sim::ecgsyn::StressEpisode {
                            start_s: s.start_s,
                            duration_s: s.duration_s,
                            intensity: s.intensity,
                        })
                        .collect(),
                    faults,
                    noisy: true,
                    heart_rate_only,
                };
                let pacing = if realtime {
                    Pacing::RealTime { step_ms: 100 }
                } else {
                    Pacing::AsFastAsPossible { step_ms: 250 }
                };
                (
                    (
                        Box::new(monitor::sources::simulator_source(&spec)),
                        pacing,
                        SessionInfo {
                            start: start(SourceKind::Simulator, "simulated Polar H10"),
                            started_phone_ms: 0,
                        },
                    ),
                    (!realtime).then(|| (minutes * 60_000.0).round() as i64),
                )
            }
            MonitorSource::ReplayFile { path, speed } => {
                let fastest = monitor::sources::MAX_REPLAY_SPEED;
                if speed.is_some_and(|s| !(s.is_finite() && s > 0.0 && s <= fastest)) {
                    return Err(StressBeatError::InvalidArgument {
                        message: format!(
                            "speed must be a multiple of real time above 0 and at most \
                             {fastest} (null: as fast as possible)"
                        ),
                    });
                }
                let (src, pacing) = monitor::sources::replay_source(
                    Path::new(&path),
                    speed,
                    &crate::io::LoadOptions::default(),
                    None,
                )?;
                let file_name = super::file_name(&path);
                let ahead_ms = speed.is_none_or(|s| s > 1.0).then(|| src.length_ms());
                (
                    (
                        Box::new(src),
                        pacing,
                        SessionInfo {
                            start: start(SourceKind::Replay { file_name }, "recording"),
                            started_phone_ms: 0,
                        },
                    ),
                    ahead_ms,
                )
            }
            MonitorSource::PlatformBridge { session, now_ms } => (
                (
                    Box::new(monitor::sources::BridgeSource::new(session, now_ms)?),
                    Pacing::RealTime { step_ms: 100 },
                    SessionInfo {
                        start: start(SourceKind::Bridge, "chest strap"),
                        started_phone_ms: now_ms,
                    },
                ),
                None,
            ),
            MonitorSource::Ble { device } => (
                ble_source(&device, start(SourceKind::Ble, "chest strap"))?,
                None,
            ),
        })
    }
}

/// A session's source, its pacing and its start.
type SourceParts = (Box<dyn SensorSource + Send>, Pacing, SessionInfo);

#[cfg(not(feature = "ble"))]
fn ble_source(_device: &str, _start: SessionStart) -> Result<SourceParts, StressBeatError> {
    Err(StressBeatError::Unsupported {
        message: "this build has no Bluetooth support (feature `ble`); use the platform bridge"
            .into(),
    })
}

#[cfg(feature = "ble")]
fn ble_source(device: &str, start: SessionStart) -> Result<SourceParts, StressBeatError> {
    let src = monitor::sources::BleSource::connect(device.to_owned()).map_err(|e| {
        log::debug!("ble: {e}");
        StressBeatError::Unsupported {
            message: "Bluetooth is not available on this machine".into(),
        }
    })?;
    Ok((
        Box::new(src),
        Pacing::RealTime { step_ms: 100 },
        SessionInfo {
            start,
            started_phone_ms: 0,
        },
    ))
}

#[uniffi::export]
impl StressMonitor {
    /// Open (or create) the history, close sessions a killed app left open, delete what the
    /// retention policy no longer keeps, and load the models: blocking (the first time after
    /// an update, retention may delete a lot), so create the monitor off the main thread.
    /// One monitor per database: it holds the history (`<database>.lock` beside it) until
    /// `shutdown` (or until it is destroyed; the OS releases it when the process ends).
    /// Errors: `Storage` (the database cannot be opened: bad path, permissions, locked …),
    /// `InvalidState` (another monitor, in this process or another, has this history open),
    /// `HistoryFromNewerApp`, `HistoryDamaged`, `Model` (with `strictModels`, a model file is
    /// missing or corrupt), `InvalidArgument`.
    #[uniffi::constructor]
    pub fn new(config: StressMonitorConfig) -> Result<Arc<Self>, StressBeatError> {
        guard("StressMonitor.new", || {
            let policy = config.alerts.clone().unwrap_or_default().policy()?;
            let mut alerts = AlertEngine::new(policy)?;
            alerts
                .set_utc_offset_minutes(config.utc_offset_minutes)
                .map_err(|_| utc_offset_error())?;
            let mut history = History::open(&config.database_path, HistoryOptions::default())?;
            let writer_lock = history::WriterLock::acquire(&config.database_path)?;
            // no other monitor has the history and none of this one's sessions runs yet: any
            // open session was cut short by a kill
            if let Err(e) = history.close_interrupted_sessions() {
                log::warn!("monitor: interrupted sessions not closed: {}", e.log_safe());
            }
            let retention = config.retention.unwrap_or_default().policy()?;
            if let Err(e) = history.apply_retention(unix_now_ms(), retention) {
                // the history is still usable; the next `applyRetention` tries again
                log::warn!("monitor: retention not applied: {}", e.log_safe());
            }
            let mut stress = StressEngine::new(EngineConfig::default())?;
            match history.load_baseline(monitor::pipeline::BASELINE_PROFILE) {
                Ok(Some((json, _))) => match serde_json::from_str(&json) {
                    Ok(b) => stress.set_baseline(Some(b)),
                    Err(_) => log::warn!("monitor: stored baseline unreadable; starting without"),
                },
                Ok(None) => {}
                Err(e) => log::warn!(
                    "monitor: stored baseline not read ({}); starting without",
                    e.log_safe()
                ),
            }
            let parts = super::models::load_parts(
                config.stress_model_path.as_deref(),
                config.beat_model_path.as_deref(),
                config.strict_models,
            )?;
            let reader = History::open(
                &config.database_path,
                HistoryOptions {
                    read_only: true,
                    ..HistoryOptions::default()
                },
            )
            .map_err(|_| {
                log::warn!("monitor: no read-only history connection; queries share the writer's")
            })
            .ok()
            .map(Mutex::new);
            let history = Arc::new(Mutex::new(history));
            let shared: monitor::SharedHistory = history.clone();
            Ok(Arc::new(Self {
                monitor: monitor::Monitor::new(
                    monitor::PipelineConfig::default(),
                    Box::new(parts),
                    monitor::Engines { stress, alerts },
                    Some(shared),
                ),
                history,
                reader,
                database_path: config.database_path.clone().into(),
                utc_offset_minutes: AtomicI32::new(config.utc_offset_minutes),
                retention,
                shut_down: AtomicBool::new(false),
                lifecycle: Mutex::new(()),
                writer_lock: Mutex::new(Some(writer_lock)),
            }))
        })
    }

    /// Start a session on `source` (returns at once; results arrive through the listeners).
    /// Errors: `InvalidState` (a session is running, another thread is starting one, or after
    /// `shutdown`; a strap session that has ended or feeds another monitor), `FileNotFound` /
    /// `CorruptRecording` / `UnsupportedFormat` (replay), `InvalidArgument`, `Unsupported`.
    pub fn start(&self, source: MonitorSource) -> Result<(), StressBeatError> {
        guard("StressMonitor.start", || {
            // never waits: a listener starting a session while `shutdown` waits for that very
            // listener's session would wait forever
            let _lifecycle = match self.lifecycle.try_lock() {
                Ok(g) => g,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    return Err(invalid_state(
                        "the monitor is starting a session or shutting down",
                    ));
                }
            };
            self.check_open()?;
            if self.monitor.is_running() {
                return Err(invalid_state("a session is already running; stop it first"));
            }
            let (src, pacing, info) = self.session_source(source)?;
            self.monitor.start(src, pacing, info).map_err(|e| match e {
                monitor::StartError::AlreadyRunning => {
                    invalid_state("a session is already running; stop it first")
                }
                monitor::StartError::Core(e) => e.into(),
                monitor::StartError::Thread(_) => StressBeatError::Internal {
                    message: "cannot start the monitor thread".into(),
                },
            })
        })
    }

    /// Stop the running session (if any) and wait until it is stored (stops the strap's stream).
    /// Called from inside a listener (of any monitor) it only asks the session to stop and
    /// returns at once (the session's thread may be waiting to deliver to that listener);
    /// `isRunning` stays true until the session is stored.
    pub fn stop(&self) -> Result<(), StressBeatError> {
        guard("StressMonitor.stop", || {
            self.monitor.stop();
            Ok(())
        })
    }

    /// Wait until the running session (if any) ends by itself (end of a replay or simulation).
    /// Errors: `InvalidState` from inside a listener (waiting there could never end).
    pub fn wait_until_finished(&self) -> Result<(), StressBeatError> {
        guard("StressMonitor.waitUntilFinished", || {
            self.refuse_on_session_thread("waitUntilFinished")?;
            self.monitor.wait();
            Ok(())
        })
    }

    /// Whether a session is running: false from the moment its `Finished` status is delivered
    /// (a listener hearing it may start the next session at once, from another thread).
    pub fn is_running(&self) -> bool {
        self.monitor.is_running()
    }

    /// Stop the session, commit the history and close the database (then its files may be
    /// deleted or copied). Afterwards `start`, the calibration calls, `personalBaseline` and
    /// the history calls fail with `InvalidState`; `stop` and `waitUntilFinished` return at
    /// once, `isRunning` is false and listeners hear nothing more. Calling it again does
    /// nothing. Errors: `InvalidState` from inside a listener (call `stop` there and
    /// `shutdown` after the listener has returned), `Storage` (the last commit failed).
    pub fn shutdown(&self) -> Result<(), StressBeatError> {
        guard("StressMonitor.shutdown", || {
            self.refuse_on_session_thread("shutdown")?;
            let _lifecycle = self
                .lifecycle
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if self.shut_down.swap(true, Ordering::AcqRel) {
                return Ok(());
            }
            self.monitor.stop();
            // both closed whatever fails (the files may be moved afterwards)
            let reader = match &self.reader {
                Some(reader) => lock_history(reader).release(),
                None => Ok(()),
            };
            let writer = lock_history(&self.history).release();
            *self
                .writer_lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = None;
            Ok(writer.and(reader)?)
        })
    }

    /// Start a calibration of the personal baseline lasting `durationS` seconds (sit calmly):
    /// windows feed it instead of being scored; `StressUpdate.calibration` reports its progress
    /// and outcome. The baseline is stored as soon as it completes and kept for later sessions.
    /// One still running when the session ends ends then, on the windows it took
    /// (`MonitorStatus.CalibrationEnded`): it never carries into the next session.
    /// It needs enough calm, clean windows (12 with the defaults, one every 5 s): at least 60 s
    /// during a session, 85 s before one (its first window ends 30 s in, later still if the
    /// strap takes time to connect); 2–5 minutes leave room for movement or a noisy stretch.
    /// Asked for before a session, it is timed from that session's start; during one, on the
    /// session's clock (a replay's is not the phone's).
    /// Errors: `InvalidArgument` for a duration that cannot give enough windows, `InvalidState`
    /// after `shutdown`.
    pub fn start_calibration(&self, duration_s: u32) -> Result<(), StressBeatError> {
        guard("StressMonitor.startCalibration", || {
            self.check_open()?;
            let mut engines = self.engines();
            let cfg = self.monitor.config();
            let needed = engines.stress.config().baseline.min_calibration_windows;
            // during a session a window ends every step; before one, the first only after a
            // whole window
            let shortest_s = if self.monitor.is_running() {
                cfg.step_s * f64::from(needed)
            } else {
                cfg.window_s + cfg.step_s * f64::from(needed.saturating_sub(1))
            };
            if f64::from(duration_s) < shortest_s {
                return Err(StressBeatError::InvalidArgument {
                    message: format!(
                        "a calibration needs at least {shortest_s:.0} s ({needed} windows of \
                         {:.0} s, one every {:.0} s)",
                        cfg.window_s, cfg.step_s
                    ),
                });
            }
            // timed on the session's clock from its next step (or from the next session's
            // start): a replay's clock is not the phone's
            engines
                .stress
                .request_calibration(i64::from(duration_s) * 1000);
            Ok(())
        })
    }

    /// The local time zone changed (travel, daylight saving time): quiet hours and daily
    /// summaries use `minutes` east of UTC from now on. Errors: `InvalidArgument` beyond ±18 h,
    /// `InvalidState` after `shutdown`.
    pub fn set_utc_offset_minutes(&self, minutes: i32) -> Result<(), StressBeatError> {
        guard("StressMonitor.setUtcOffsetMinutes", || {
            self.check_open()?;
            self.engines()
                .alerts
                .set_utc_offset_minutes(minutes)
                .map_err(|_| utc_offset_error())?;
            self.utc_offset_minutes.store(minutes, Ordering::Release);
            Ok(())
        })
    }

    /// Abandon a running calibration; the previous baseline, if any, stays in use.
    pub fn cancel_calibration(&self) -> Result<(), StressBeatError> {
        guard("StressMonitor.cancelCalibration", || {
            self.check_open()?;
            self.engines().stress.cancel_calibration();
            Ok(())
        })
    }

    /// The personal baseline scores are relative to; `null`/`nil` before a calibration or
    /// enough calm windows.
    pub fn personal_baseline(&self) -> Result<Option<PersonalBaselineSummary>, StressBeatError> {
        guard("StressMonitor.personalBaseline", || {
            self.check_open()?;
            Ok(self.engines().stress.baseline().map(baseline_summary))
        })
    }

    /// Heart rate and RR: the latest at once, then every update.
    pub fn subscribe_heart_rate(&self, listener: Arc<dyn HeartRateListener>) -> Arc<Subscription> {
        self.subscribe(EventKind::HeartRate, move |e| {
            if let MonitorEvent::HeartRate(u) = e {
                listener.on_heart_rate(heart_rate(u));
            }
        })
    }

    /// ECG batches for drawing (about two per second): the latest at once, then every batch.
    pub fn subscribe_ecg(&self, listener: Arc<dyn EcgListener>) -> Arc<Subscription> {
        self.subscribe(EventKind::Ecg, move |e| {
            if let MonitorEvent::Ecg(b) = e {
                listener.on_ecg(EcgBatch {
                    first_sample_ms: b.first_sample_ms,
                    sample_interval_ms: b.sample_interval_ms,
                    samples_mv: b.samples_mv.clone(),
                });
            }
        })
    }

    /// Signal quality (every 4 s): the latest at once, then every update.
    pub fn subscribe_signal_quality(
        &self,
        listener: Arc<dyn SignalQualityListener>,
    ) -> Arc<Subscription> {
        self.subscribe(EventKind::Quality, move |e| {
            if let MonitorEvent::Quality(q) = e {
                listener.on_signal_quality(SignalQualityUpdate {
                    at_ms: q.at_ms,
                    score: q.score,
                    usable: q.usable,
                    issue: match q.issue {
                        crate::dsp::QualityIssue::Good => SignalIssue::Good,
                        crate::dsp::QualityIssue::Noise => SignalIssue::Noise,
                        crate::dsp::QualityIssue::Saturation => SignalIssue::Saturation,
                        crate::dsp::QualityIssue::LeadOff => SignalIssue::LeadOff,
                    },
                });
            }
        })
    }

    /// Stress updates (every 5 s): the latest at once, then every update.
    pub fn subscribe_stress(&self, listener: Arc<dyn StressListener>) -> Arc<Subscription> {
        self.subscribe(EventKind::Stress, move |e| {
            if let MonitorEvent::Stress {
                update,
                observation,
            } = e
            {
                listener.on_stress(stress_update(update, observation));
            }
        })
    }

    /// Alerts as they are raised (past alerts: `alerts(...)`).
    pub fn subscribe_alerts(&self, listener: Arc<dyn AlertListener>) -> Arc<Subscription> {
        self.subscribe(EventKind::Alert, move |e| {
            if let MonitorEvent::Alert {
                alert: a,
                stored_id,
            } = e
            {
                listener.on_alert(alert(a, *stored_id));
            }
        })
    }

    /// Connection state: the current state at once, then every change.
    pub fn subscribe_connection(&self, listener: Arc<dyn ConnectionListener>) -> Arc<Subscription> {
        self.subscribe(EventKind::Connection, move |e| {
            if let MonitorEvent::Connection { at_ms, state } = e {
                listener.on_connection(ConnectionUpdate {
                    at_ms: *at_ms,
                    state: state.clone().into(),
                });
            }
        })
    }

    /// Session news (started, battery, gaps, degraded parts, finished) as it happens; a listener
    /// subscribing while a session runs gets its `SessionStarted` at once.
    pub fn subscribe_status(&self, listener: Arc<dyn StatusListener>) -> Arc<Subscription> {
        self.subscribe(EventKind::Status, move |e| {
            if let Some(s) = status(e) {
                listener.on_status(s);
            }
        })
    }

    /// Stored sessions, newest first, at most `limit`.
    pub fn sessions(&self, limit: u32) -> Result<Vec<SessionSummary>, StressBeatError> {
        self.query("sessions", |h| {
            Ok(h.sessions(limit)?
                .into_iter()
                .map(session_summary)
                .collect())
        })
    }

    /// The stress timeline of `[fromMs, toMs)` (Unix ms) in at most `points` buckets of equal
    /// length (the last one clipped to `toMs`), oldest first; a bucket without windows is left
    /// out: draw a gap there.
    pub fn timeline(
        &self,
        from_ms: i64,
        to_ms: i64,
        points: u32,
    ) -> Result<Vec<TimelinePoint>, StressBeatError> {
        self.query("timeline", |h| {
            Ok(h.timeline(from_ms, to_ms, points)?
                .into_iter()
                .map(|p| TimelinePoint {
                    start_ms: p.start_ms,
                    end_ms: p.end_ms,
                    windows: p.windows,
                    mean_hr_bpm: p.mean_hr_bpm,
                    mean_score: p.mean_score,
                    max_score: p.max_score,
                })
                .collect())
        })
    }

    /// One summary per local day in `[fromMs, toMs)` that has data, days cut at the current
    /// `utcOffsetMinutes` (one offset for every day: a day before a daylight-saving change is
    /// off by an hour; `dailySummariesForDays` takes the calendar's own bounds).
    pub fn daily_summaries(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<DailySummary>, StressBeatError> {
        let offset = self.utc_offset_minutes.load(Ordering::Acquire);
        self.query("daily_summaries", |h| {
            Ok(h.daily_summaries(from_ms, to_ms, offset)?
                .into_iter()
                .map(daily_summary)
                .collect())
        })
    }

    /// One summary per day in `days`, in that order (days without data too). Compute each
    /// day's bounds with the platform calendar (Android `ZonedDateTime`/`Calendar`, iOS
    /// `Calendar.startOfDay`), so days across a daylight-saving change last 23 or 25 hours.
    /// Errors: `InvalidArgument` (a day that ends before it starts).
    pub fn daily_summaries_for_days(
        &self,
        days: Vec<LocalDay>,
    ) -> Result<Vec<DailySummary>, StressBeatError> {
        let days: Vec<history::DayBounds> = days
            .into_iter()
            .map(|d| history::DayBounds {
                date: d.date,
                start_ms: d.start_ms,
                end_ms: d.end_ms,
            })
            .collect();
        self.query("daily_summaries_for_days", |h| {
            Ok(h.summaries_of_days(&days)?
                .into_iter()
                .map(daily_summary)
                .collect())
        })
    }

    /// Stored alerts in `[fromMs, toMs)`, newest first, at most `limit`.
    pub fn alerts(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: u32,
    ) -> Result<Vec<StoredAlert>, StressBeatError> {
        self.query("alerts", |h| {
            Ok(h.alerts(from_ms, to_ms, limit)?
                .into_iter()
                .filter_map(stored_alert)
                .collect())
        })
    }

    /// Delete what the retention policy no longer keeps and give the space back (creating the
    /// monitor does it too; an app running for days calls it, e.g. daily, off the main
    /// thread: it holds the history's writer while it runs, so live results wait for it).
    /// Errors: `Storage`, `InvalidState` after `shutdown`.
    pub fn apply_retention(&self) -> Result<RetentionSummary, StressBeatError> {
        let policy = self.retention;
        self.update("apply_retention", |h| {
            let r = h.apply_retention(unix_now_ms(), policy)?;
            Ok(RetentionSummary {
                windows: r.windows,
                rr_intervals: r.rr_intervals,
                ecg_chunks: r.ecg_chunks,
                alerts: r.alerts,
                gaps: r.gaps,
                sessions: r.sessions,
            })
        })
    }

    /// Mark a stored alert as seen; `false` when there is no such alert.
    pub fn acknowledge_alert(&self, alert_id: i64) -> Result<bool, StressBeatError> {
        self.update("acknowledge_alert", |h| h.acknowledge_alert(alert_id))
    }

    /// Write session `sessionId` to the file `path` in `format`; returns the rows (CSV) or
    /// samples (EDF) written. A regular file is written to a hidden file beside it (readable by
    /// the user only) and renamed over it when complete: on any error an existing file at
    /// `path` is left as it was. A device or link (Android's `/proc/self/fd/N` from the file
    /// picker) is written directly. Errors:
    /// `InvalidArgument` (no such session; EDF: no raw ECG; `path` is the history database or
    /// one of its files), `FileNotFound` (its folder does
    /// not exist), `CannotReadFile` (the file cannot be written), `Storage`.
    pub fn export_session(
        &self,
        session_id: i64,
        format: ExportFormat,
        path: String,
    ) -> Result<u64, StressBeatError> {
        self.query("export_session", |h| {
            history::check_export_path(&self.database_path, Path::new(&path))?;
            crate::io::write_replacing(
                Path::new(&path),
                |out| {
                    Ok(match format {
                        ExportFormat::WindowsCsv => h.export_windows_csv(session_id, out)?,
                        ExportFormat::RrCsv => h.export_rr_csv(session_id, out)?,
                        ExportFormat::Edf => h.export_edf(session_id, out)?.samples,
                    })
                },
                |e| crate::Error::io(&path, e),
            )
        })
    }
}
