//! What the monitor reports while it runs (to listeners and, where it matters, to the history).
//! Every time is Unix ms (the source's monotonic clock mapped at the session's start).

use crate::dsp::QualityIssue;
use crate::model::Task;
use crate::sensor::{ConnectionState, GapCause};

/// Where a heart-rate value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartRateSource {
    /// The strap's own Heart Rate service (bpm + RR as the strap computed them).
    Strap,
    /// R-peaks detected by the core in the ECG.
    Ecg,
}

/// Live heart rate and the RR intervals since the last update.
#[derive(Debug, Clone, PartialEq)]
pub struct HeartRateUpdate {
    /// Time (Unix ms), ms. From the ECG: the beat ending the last of `rr_ms`.
    pub at_ms: i64,
    /// Beats per minute.
    pub bpm: f64,
    /// RR intervals since the previous update of the same source, ms, oldest first. From the
    /// ECG they are consecutive (an interval that does not follow on starts a new update).
    pub rr_ms: Vec<f64>,
    /// Skin contact as the strap reports it (`None`: not reported / ECG source).
    pub contact: Option<bool>,
    /// Strap or ECG.
    pub source: HeartRateSource,
}

/// A batch of ECG for drawing: the 130 Hz signal in millivolts, a few batches per second.
#[derive(Debug, Clone, PartialEq)]
pub struct EcgBatch {
    /// Time (Unix ms) of the first sample, ms.
    pub first_sample_ms: f64,
    /// Time between samples, ms.
    pub sample_interval_ms: f64,
    /// Samples, mV (NaN where the signal was missing).
    pub samples_mv: Vec<f32>,
}

/// Signal quality of the latest quality window (4 s).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityUpdate {
    /// Time (Unix ms) of the end of the quality window, ms.
    pub at_ms: i64,
    /// 0 (unusable) … 1 (clean).
    pub score: f32,
    /// Usable for analysis.
    pub usable: bool,
    /// The main problem when the score is low.
    pub issue: QualityIssue,
}

/// A part of the monitor that could not be used; the monitor keeps going without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Degradation {
    /// A model file is missing or corrupt: scores come from the HRV fallback.
    ModelUnavailable {
        /// Which model.
        task: Task,
        /// Short reason without paths or data.
        reason: String,
    },
    /// The history could not be written (disk full, database locked …); live results continue.
    StorageFailed {
        /// Short reason without paths or data.
        reason: String,
    },
    /// No ECG analysis: the source's sampling rate could not be handled (e.g. no resampler), or
    /// the strap refused the ECG stream (then scored from its RR intervals until ECG returns).
    EcgUnusable {
        /// Short reason.
        reason: String,
    },
}

/// A sentence for people: what does not work and what the monitor does instead.
impl std::fmt::Display for Degradation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ModelUnavailable { task, reason } => {
                write!(
                    f,
                    "{} model unavailable: {reason}",
                    task.as_str().replace('_', "-")
                )
            }
            Self::StorageFailed { reason } => write!(f, "{reason}; live results go on"),
            Self::EcgUnusable { reason } => write!(f, "ECG not analysed: {reason}"),
        }
    }
}

/// One thing the monitor reports. Ordered: events reach listeners in the order produced.
#[derive(Debug, Clone, PartialEq)]
pub enum MonitorEvent {
    /// A session began.
    SessionStarted {
        /// History id when stored, else 0.
        session_id: i64,
    },
    /// The connection to the strap changed state.
    Connection {
        /// Unix ms.
        at_ms: i64,
        /// The new state.
        state: ConnectionState,
    },
    /// Heart rate and RR.
    HeartRate(HeartRateUpdate),
    /// ECG for drawing.
    Ecg(EcgBatch),
    /// Signal quality.
    Quality(QualityUpdate),
    /// Strap battery.
    Battery {
        /// Unix ms.
        at_ms: i64,
        /// Percent.
        percent: u8,
    },
    /// Missing ECG.
    Gap {
        /// Last sample before, Unix ms.
        from_ms: f64,
        /// First sample after, Unix ms.
        to_ms: f64,
        /// Samples missing at the source's rate.
        missing_samples: u64,
        /// Why.
        cause: GapCause,
    },
    /// A stress result for one window, with what was measured in it.
    Stress {
        /// The engine's result.
        update: crate::engine::StressUpdate,
        /// The window's measurements.
        observation: crate::engine::WindowObservation,
    },
    /// An alert.
    Alert {
        /// The alert.
        alert: crate::engine::Alert,
        /// Its id in the history (for acknowledging it); `None` without a history or while
        /// the history cannot be written.
        stored_id: Option<i64>,
    },
    /// Something is degraded (reported once per cause).
    Degraded(Degradation),
    /// ECG streams again after the strap refused it ([`Degradation::EcgUnusable`]): stress
    /// comes from the ECG again, and a later refusal is reported again.
    EcgResumed {
        /// First sample of the resumed stream, Unix ms.
        at_ms: i64,
    },
    /// A calibration still running when the session ended ended with it, on the windows it had
    /// taken (before [`MonitorEvent::Finished`]; a completed one's baseline is stored with
    /// the session). One that ends within the session is reported on its window's
    /// [`MonitorEvent::Stress`] instead.
    CalibrationEnded(crate::engine::CalibrationEvent),
    /// The session ended (source finished or stopped) and is stored.
    Finished {
        /// History id (0 when not stored).
        session_id: i64,
        /// Windows analysed (one [`MonitorEvent::Stress`] each, scored or not).
        windows: u64,
        /// Why it ended (as stored).
        reason: crate::history::EndReason,
    },
}
