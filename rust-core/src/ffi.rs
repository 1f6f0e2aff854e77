//! The public API for the apps, exported with uniffi proc-macros (no UDL).
//!
//! Bindings are generated in *library mode* from the built `libstressbeat_core` (see
//! `scripts/gen-bindings.sh`); the doc comments below (`///`) are carried into the generated
//! Kotlin (`com.stressbeat.core`) and Swift (`StressBeatCore`) sources.
//!
//! Rules of this layer:
//! - The core types ([`crate::analysis`], [`crate::hrv`]) carry no uniffi derives; this module
//!   defines mirror records and converts with `From`.
//! - Every failure reaches the apps as a typed [`StressBeatError`]. Internal [`crate::Error`]s are
//!   converted in exactly one place (`impl From<crate::Error> for StressBeatError`).
//! - Error messages never contain health data: only a fixed sentence, the file *name* and, for
//!   corrupt files, where the parser stopped (byte/line/part). Internal details go to `log::debug!`.
//! - No panic crosses the FFI: uniffi already turns a panic into a generic internal error, but each
//!   exported function additionally runs under [`std::panic::catch_unwind`] so a panic becomes the
//!   typed [`StressBeatError::Internal`]. (This relies on `panic = "unwind"`, which every profile,
//!   including `mobile`, uses.)

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

mod logging;
mod models;
mod monitor;
mod strap;

pub use logging::init_logging;
pub use monitor::{
    AlertConfig, AlertKind, AlertListener, BeatCounts, CalibrationProgress, ConnectionListener,
    ConnectionUpdate, DailySummary, EcgBatch, EcgListener, ExportFormat, HeartRateListener,
    HeartRateUpdate, LocalDay, ModelTask, MonitorAlert, MonitorSource, MonitorStatus,
    PersonalBaselineSummary, RetentionConfig, RetentionSummary, SessionEndReason, SessionSource,
    SessionSummary, SignalIssue, SignalQualityListener, SignalQualityUpdate, SimulatedStress,
    StatusListener, StoredAlert, StressLevel, StressListener, StressMonitor, StressMonitorConfig,
    StressUpdate, Subscription, TimelinePoint,
};

use crate::{StorageErrorKind, analysis, error::Location, hrv, io};

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

/// What to analyse. Every field is optional; `null`/`nil` (or no options at all) means
/// "the default ECG channel, the whole recording".
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct AnalysisOptions {
    /// Channel index (0-based); `null` = the default ECG channel (MLII where present).
    #[uniffi(default)]
    pub channel: Option<u32>,
    /// Start of the analysed span, seconds from the beginning of the recording.
    #[uniffi(default)]
    pub from_s: Option<f64>,
    /// End of the analysed span, seconds from the beginning of the recording.
    #[uniffi(default)]
    pub to_s: Option<f64>,
}

/// How the RR-interval cleaning changed the beat series before HRV was computed.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct RrCorrection {
    /// Ectopic beats (short-long pairs) whose intervals were replaced.
    pub ectopic: u32,
    /// Missed beats (one interval ≈ two) that were split.
    pub missed: u32,
    /// Extra beats (two intervals ≈ one) that were merged.
    pub extra: u32,
    /// Physiologically impossible intervals (artefacts) removed or interpolated.
    pub artefacts: u32,
}

/// RR intervals left out of the normal-to-normal series, and why.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct NnLeftOut {
    /// Intervals beside a beat not of normal type (ectopic, fusion, unknown, or not typed).
    pub not_normal: u32,
    /// Intervals between normal beats that are detection errors (implausible, a missed beat,
    /// an extra detection).
    pub artefacts: u32,
    /// Intervals between normal beats more than 20 % off the mean of the NN intervals around.
    pub outliers: u32,
}

/// Heart-rate variability of the analysed span. Frequency-domain and non-linear values are
/// `null`/`nil` when the span is too short for them.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct HrvMetrics {
    /// NN intervals the metrics come from: the normal-to-normal intervals kept (see
    /// `leftOut`), or, where beats could not be typed, all intervals after artefact correction
    /// (which deletes extra beats and inserts missed ones, so it can exceed the intervals
    /// detected).
    pub n_intervals: u32,
    /// Mean NN interval, milliseconds.
    pub mean_nn_ms: f64,
    /// Standard deviation of NN intervals, milliseconds.
    pub sdnn_ms: f64,
    /// Root mean square of successive differences, milliseconds.
    pub rmssd_ms: f64,
    /// Percentage of successive differences above 50 ms.
    pub pnn50_pct: f64,
    /// Mean heart rate, beats per minute.
    pub mean_hr_bpm: f64,
    /// Low-frequency power (0.04–0.15 Hz), ms².
    pub lf_ms2: Option<f64>,
    /// High-frequency power (0.15–0.4 Hz), ms².
    pub hf_ms2: Option<f64>,
    /// LF/HF ratio.
    pub lf_hf: Option<f64>,
    /// Poincaré SD1, milliseconds.
    pub sd1_ms: Option<f64>,
    /// Poincaré SD2, milliseconds.
    pub sd2_ms: Option<f64>,
    /// Baevsky stress index.
    pub baevsky_stress_index: Option<f64>,
    /// What the RR cleaning changed (all zero where `leftOut` is set).
    pub correction: RrCorrection,
    /// The intervals left out of the normal-to-normal series; `null`/`nil` where the beats could
    /// not be typed and the intervals were corrected instead.
    pub left_out: Option<NnLeftOut>,
}

/// The summary of one analysed recording.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RecordingSummary {
    /// Record name as written in the file (e.g. "101").
    pub record_name: String,
    /// Label of the analysed channel (e.g. "MLII").
    pub channel_label: String,
    /// Sampling rate of the analysed channel, Hz.
    pub sampling_rate_hz: f64,
    /// Length of the analysed span, seconds.
    pub duration_s: f64,
    /// Detected beats (R-peaks) in the analysed span.
    pub beat_count: u32,
    /// Mean heart rate over the span, beats per minute; `null`/`nil` when HRV could not be
    /// computed (same value as `hrv.meanHrBpm`).
    pub mean_hr_bpm: Option<f64>,
    /// Fraction (0–1) of the span judged usable by the signal-quality index.
    pub usable_fraction: f64,
    /// HRV over the span's normal-to-normal intervals; `null`/`nil` if too few.
    pub hrv: Option<HrvMetrics>,
    /// Why these figures may be unreliable (little usable signal, many corrected RR intervals),
    /// in plain sentences to show with them; empty when nothing stands out.
    pub warnings: Vec<String>,
}

impl From<hrv::RrCorrection> for RrCorrection {
    fn from(c: hrv::RrCorrection) -> Self {
        Self {
            ectopic: c.ectopic,
            missed: c.missed,
            extra: c.extra,
            artefacts: c.artefacts,
        }
    }
}

impl From<hrv::HrvMetrics> for HrvMetrics {
    fn from(m: hrv::HrvMetrics) -> Self {
        Self {
            n_intervals: m.n_intervals,
            mean_nn_ms: m.mean_nn_ms,
            sdnn_ms: m.sdnn_ms,
            rmssd_ms: m.rmssd_ms,
            pnn50_pct: m.pnn50_pct,
            mean_hr_bpm: m.mean_hr_bpm,
            lf_ms2: m.lf_ms2,
            hf_ms2: m.hf_ms2,
            lf_hf: m.lf_hf,
            sd1_ms: m.sd1_ms,
            sd2_ms: m.sd2_ms,
            baevsky_stress_index: m.baevsky_stress_index,
            correction: m.correction.into(),
            left_out: m.left_out.map(|l| NnLeftOut {
                not_normal: l.not_normal,
                artefacts: l.artefacts,
                outliers: l.outliers,
            }),
        }
    }
}

impl From<analysis::RecordingSummary> for RecordingSummary {
    fn from(s: analysis::RecordingSummary) -> Self {
        Self {
            record_name: s.record_name,
            channel_label: s.channel_label,
            sampling_rate_hz: s.sampling_rate_hz,
            duration_s: s.duration_s,
            beat_count: s.beat_count,
            mean_hr_bpm: s.hrv.as_ref().map(|h| h.mean_hr_bpm),
            usable_fraction: s.usable_fraction,
            hrv: s.hrv.map(Into::into),
            warnings: s.warnings,
        }
    }
}

impl TryFrom<AnalysisOptions> for analysis::AnalysisOptions {
    type Error = StressBeatError;

    /// Validates what the app passed; messages name the field, never a value.
    fn try_from(o: AnalysisOptions) -> Result<Self, StressBeatError> {
        let bad = |message: &str| StressBeatError::InvalidArgument {
            message: message.to_owned(),
        };
        for (name, v) in [("fromS", o.from_s), ("toS", o.to_s)] {
            if let Some(v) = v
                && (!v.is_finite() || v < 0.0)
            {
                return Err(bad(&format!(
                    "{name} must be a finite, non-negative number of seconds"
                )));
            }
        }
        if let (Some(a), Some(b)) = (o.from_s, o.to_s)
            && a >= b
        {
            return Err(bad("fromS must be before toS"));
        }
        Ok(Self {
            channel: o.channel.map(|c| c as usize),
            from_s: o.from_s,
            to_s: o.to_s,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Error
// ---------------------------------------------------------------------------------------------

/// Why a call failed. Each variant is something the app can act on; `message` is a short English
/// sentence for logs/support that names at most the file (never signal or health values).
///
/// Kotlin: `StressBeatException.FileNotFound` etc. (a subclass of `Exception`);
/// Swift: `StressBeatError.FileNotFound(message:)` (conforms to `Error`).
#[derive(Debug, Clone, PartialEq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum StressBeatError {
    /// The file (or a file the recording refers to, e.g. its `.dat`) does not exist.
    /// Action: ask the user to pick the recording again.
    #[error("{message}")]
    FileNotFound { message: String },
    /// The file exists but could not be read (permissions, I/O error).
    /// Action: check storage permissions / retry.
    #[error("{message}")]
    CannotReadFile { message: String },
    /// The file is not a recording format the core reads (expected WFDB `.hea`, EDF, CSV).
    /// Action: tell the user the format is unsupported.
    #[error("{message}")]
    UnsupportedFormat { message: String },
    /// The file is a supported format but truncated, corrupt or inconsistent.
    /// Action: tell the user the recording is damaged; re-export / re-record.
    #[error("{message}")]
    CorruptRecording { message: String },
    /// The app passed impossible options (bad channel, empty or negative time span, …).
    /// Action: a bug in the app; fix the call.
    #[error("{message}")]
    InvalidArgument { message: String },
    /// The recording holds too little usable ECG for the analysis (noise, lead off, too short).
    /// Action: ask the user to check the strap and record longer.
    #[error("{message}")]
    NotEnoughSignal { message: String },
    /// The history database cannot be opened or written (bad path, disk full, read-only, locked
    /// by another process). Action: check free space and permissions; retry.
    #[error("{message}")]
    Storage { message: String },
    /// The history was written by a newer version of the app (the app was downgraded). Its
    /// data is intact. Action: update the app; never delete the history.
    #[error("{message}")]
    HistoryFromNewerApp { message: String },
    /// The history file is damaged, or is not a StressBeat history. Action: keep the file
    /// (much of it may be recoverable); to start a new history, move it aside with its `-wal`
    /// and `-shm` files (after `shutdown` of a monitor that has it open) and create the monitor
    /// again.
    #[error("{message}")]
    HistoryDamaged { message: String },
    /// A model file is missing, corrupt or does not match this core (only with strict model
    /// loading; otherwise the monitor reports it and scores from HRV). Action: reinstall/update.
    #[error("{message}")]
    Model { message: String },
    /// The call does not fit the object's state (a session already running, the monitor shut
    /// down). Action: a bug in the app's flow; stop first / create a new monitor.
    #[error("{message}")]
    InvalidState { message: String },
    /// The feature is not available in this build or on this device (e.g. the core's own
    /// Bluetooth). Action: use another source.
    #[error("{message}")]
    Unsupported { message: String },
    /// A bug in the core (including a caught panic). Action: report it.
    #[error("{message}")]
    Internal { message: String },
}

/// Only the file name (not the directory, which may contain a user name).
fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into())
}

/// THE conversion of internal errors into public ones (the only place).
impl From<crate::Error> for StressBeatError {
    fn from(e: crate::Error) -> Self {
        log::debug!("stressbeat-core error: {}", e.log_safe());
        use crate::Error as E;
        match e {
            E::Io { path, source } => {
                let name = file_name(&path);
                if source.kind() == std::io::ErrorKind::NotFound {
                    Self::FileNotFound {
                        message: format!("{name}: file not found"),
                    }
                } else {
                    Self::CannotReadFile {
                        message: format!("{name}: cannot read file ({})", source.kind()),
                    }
                }
            }
            E::Format { file, source } => {
                let at = match source.at {
                    Location::Byte(b) => format!("byte {b}"),
                    Location::Line(l) => format!("line {l}"),
                    Location::Part(p) => p,
                };
                Self::CorruptRecording {
                    message: format!(
                        "{}: corrupt or truncated recording (at {at})",
                        file_name(&file)
                    ),
                }
            }
            E::Unsupported { file, .. } => Self::UnsupportedFormat {
                message: format!("{}: unsupported recording format", file_name(&file)),
            },
            E::FileOption { file, what } => Self::InvalidArgument {
                message: format!("{}: {what}", file_name(&file)),
            },
            // the core's own sentence (what was asked and why it is impossible; no paths)
            E::InvalidArgument(message) => Self::InvalidArgument { message },
            E::InsufficientSignal(_) => Self::NotEnoughSignal {
                message: "not enough usable ECG signal for the analysis".into(),
            },
            E::Storage {
                kind: StorageErrorKind::NewerSchema,
                ..
            } => Self::HistoryFromNewerApp {
                message: "the history was written by a newer version of the app".into(),
            },
            E::Storage {
                kind: kind @ (StorageErrorKind::Corrupt | StorageErrorKind::NotAHistory),
                ..
            } => Self::HistoryDamaged {
                message: format!("history database error ({kind})"),
            },
            E::Storage {
                kind: StorageErrorKind::InUse,
                ..
            } => Self::InvalidState {
                message: "another StressMonitor (in this app or another process) has this \
                          history open: shut it down first; one monitor per database"
                    .into(),
            },
            E::Storage { kind, .. } => Self::Storage {
                message: format!("history database error ({kind})"),
            },
            E::Model(_) => Self::Model {
                message: "a model file is missing, corrupt or incompatible".into(),
            },
        }
    }
}

/// Run `f`, turning a panic into [`StressBeatError::Internal`] (the payload is not included:
/// it could describe data).
pub(crate) fn guard<T>(
    what: &str,
    f: impl FnOnce() -> Result<T, StressBeatError>,
) -> Result<T, StressBeatError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(StressBeatError::Internal {
            message: format!("internal error in {what}; please report it"),
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Functions
// ---------------------------------------------------------------------------------------------

/// Version of the StressBeat core library (e.g. "0.1.0").
#[uniffi::export]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// Load the recording at `path` (WFDB `.hea`; the format is chosen by extension) and analyse it:
/// beats, their types, heart rate, signal quality and HRV of the normal-to-normal intervals.
/// Blocking and CPU-heavy (a 30-minute recording at 360 Hz: about 0.3 s on one laptop core, not
/// measured on a phone): call it off the main thread.
///
/// `options` = `null`/`nil` analyses the default ECG channel over the whole recording.
///
/// Throws `StressBeatError` (Kotlin: `StressBeatException`): `FileNotFound`, `CannotReadFile`,
/// `UnsupportedFormat`, `CorruptRecording`, `InvalidArgument`, `NotEnoughSignal`, `Internal`.
#[uniffi::export]
pub fn analyze_recording(
    path: String,
    options: Option<AnalysisOptions>,
) -> Result<RecordingSummary, StressBeatError> {
    guard("analyze_recording", || {
        let opts: analysis::AnalysisOptions = options.unwrap_or_default().try_into()?;
        let rec = io::load_recording(Path::new(&path), &io::LoadOptions::default())?;
        let summary = analysis::analyze(&rec, &opts)?;
        Ok(summary.into())
    })
}

// ---------------------------------------------------------------------------------------------
// Platform bridge (live strap through the phone's own BLE stack)
// ---------------------------------------------------------------------------------------------

pub use strap::{
    BleCommand, BleTransport, ConnectionStateRecord, GapCauseRecord, SensorEventRecord,
    StrapSession,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseError;

    #[test]
    fn missing_file_is_file_not_found_without_directory() {
        let err = analyze_recording("/no/such/dir/secret-user/rec.hea".into(), None).unwrap_err();
        match err {
            StressBeatError::FileNotFound { message } => {
                assert!(message.contains("rec.hea"), "{message}");
                assert!(!message.contains("secret-user"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_extension_is_unsupported() {
        let err = analyze_recording("x.mp3".into(), None).unwrap_err();
        assert!(
            matches!(err, StressBeatError::UnsupportedFormat { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn format_error_hides_parser_detail() {
        let e = crate::Error::format(
            "/a/b/100.dat",
            ParseError::in_part("signal 0", "checksum mismatch (header 123, data 456)"),
        );
        let StressBeatError::CorruptRecording { message } = e.into() else {
            panic!("variant")
        };
        assert_eq!(
            message,
            "100.dat: corrupt or truncated recording (at signal 0)"
        );
    }

    #[test]
    fn invalid_span_rejected_before_io() {
        let opts = AnalysisOptions {
            channel: None,
            from_s: Some(10.0),
            to_s: Some(5.0),
        };
        let err = analyze_recording("/no/such.hea".into(), Some(opts)).unwrap_err();
        assert!(
            matches!(err, StressBeatError::InvalidArgument { .. }),
            "{err:?}"
        );
        let opts = AnalysisOptions {
            from_s: Some(f64::NAN),
            ..Default::default()
        };
        assert!(matches!(
            analyze_recording("/no/such.hea".into(), Some(opts)),
            Err(StressBeatError::InvalidArgument { .. })
        ));
    }

    #[test]
    fn panic_becomes_internal() {
        let r: Result<(), _> = guard("test", || panic!("boom with data 72 bpm"));
        let Err(StressBeatError::Internal { message }) = r else {
            panic!("variant")
        };
        assert!(!message.contains("72"));
    }

    /// Another app's database given as the history (a Room database: a `user_version` of its
    /// own) is `HistoryDamaged`, not a storage problem to retry, and is left byte for byte as it
    /// was.
    #[test]
    fn another_apps_database_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        for user_version in [1, crate::history::SCHEMA_VERSION] {
            let db = dir.path().join(format!("room{user_version}.db"));
            {
                let c = rusqlite::Connection::open(&db).unwrap();
                c.execute_batch(
                    "CREATE TABLE room_master_table (id INTEGER PRIMARY KEY, identity_hash TEXT);
                     CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);",
                )
                .unwrap();
                c.pragma_update(None, "user_version", user_version).unwrap();
            }
            let before = std::fs::read(&db).unwrap();
            let config = StressMonitorConfig {
                database_path: db.to_string_lossy().into_owned(),
                stress_model_path: None,
                beat_model_path: None,
                strict_models: false,
                alerts: None,
                utc_offset_minutes: 0,
                retention: None,
            };
            let e = StressMonitor::new(config).map(drop).unwrap_err();
            assert!(
                matches!(e, StressBeatError::HistoryDamaged { .. }),
                "user_version {user_version}: {e:?}"
            );
            assert_eq!(std::fs::read(&db).unwrap(), before);
        }
    }

    #[test]
    fn version_is_set() {
        assert!(!core_version().is_empty());
    }
}
