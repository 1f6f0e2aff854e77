//! What a sensor source yields: typed events with phone-clock times.

/// The observable state of a strap connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// Not started.
    Idle,
    /// First connection attempt in progress.
    Connecting,
    /// Linked; subscribing, reading features, starting the ECG stream.
    Configuring,
    /// Data is flowing.
    Streaming,
    /// The link was lost (or dropped on purpose after a timeout); waiting for / attempting
    /// reconnection number `attempt` (1-based).
    Reconnecting { attempt: u32 },
    /// Stopped on request (stream stopped, link closed). Terminal.
    Stopped,
    /// Gave up (e.g. reconnection attempts exhausted). Terminal.
    Failed { reason: String },
}

impl ConnectionState {
    /// `Stopped` or `Failed`.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ConnectionState::Stopped | ConnectionState::Failed { .. }
        )
    }
}

/// Why ECG samples are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapCause {
    /// Frames missing while the link stayed up (lost notifications).
    FramesMissing,
    /// The link dropped (or was dropped because the strap stopped replying) and was resumed.
    LinkLost,
    /// The strap stopped the stream itself (or a reply timed out) and it was restarted.
    StreamRestarted,
    /// The sensor clock jumped; the length of the hole is estimated from the phone clock.
    ClockJump,
}

/// One ECG data frame's samples with their phone-clock times.
///
/// Sample `i` was taken at `first_sample_ms + i * sample_interval_ms` (phone monotonic clock,
/// the same clock as the transport's `at_ms`).
#[derive(Debug, Clone, PartialEq)]
pub struct EcgChunk {
    /// Phone-clock time of the first sample, milliseconds.
    pub first_sample_ms: f64,
    /// Time between samples, milliseconds (≈ 7.69 at 130 Hz; follows the strap's real rate).
    pub sample_interval_ms: f64,
    /// The sensor's own timestamp of the last sample (ns since 2000-01-01, sensor clock; not to be
    /// trusted as wall time).
    pub sensor_timestamp_ns: u64,
    /// Samples, microvolts.
    pub samples_uv: Vec<i32>,
}

impl EcgChunk {
    /// Phone-clock time of the last sample, milliseconds.
    pub fn last_sample_ms(&self) -> f64 {
        self.first_sample_ms + self.sample_interval_ms * (self.samples_uv.len().max(1) - 1) as f64
    }
}

/// A typed event from a [`crate::sensor::source::SensorSource`].
#[derive(Debug, Clone, PartialEq)]
pub enum SensorEvent {
    /// The connection changed state.
    Connection(ConnectionState),
    /// One frame of ECG.
    Ecg(EcgChunk),
    /// A Heart Rate Measurement notification.
    HeartRate {
        /// Phone-clock arrival time, milliseconds.
        at_ms: i64,
        bpm: u16,
        /// RR intervals, milliseconds (raw / 1024 s), oldest first; may be 1-4 s late.
        rr_ms: Vec<f64>,
        /// Skin contact, `None` when the strap does not report it.
        contact: Option<bool>,
    },
    /// Battery level, percent.
    Battery { at_ms: i64, percent: u8 },
    /// Skin contact changed (`None`: not reported).
    Contact { at_ms: i64, contact: Option<bool> },
    /// ECG samples are missing between `from_ms` (last sample before) and `to_ms` (first sample
    /// after), phone clock.
    Gap {
        from_ms: f64,
        to_ms: f64,
        missing_samples: u64,
        cause: GapCause,
    },
    /// The sensor clock jumped by `jump_ms` relative to the phone clock (e.g. reset after power
    /// down); sample times were re-aligned to the phone clock.
    TimestampJump { at_ms: i64, jump_ms: i64 },
    /// The strap refused the ECG stream (`status` of its reply, e.g. 12 "invalid state" when
    /// another app holds it): heart rate goes on, the start is asked again later.
    EcgRefused { at_ms: i64, status: u8 },
    /// The stream sampling settings in use (after the start was accepted).
    StreamStarted {
        at_ms: i64,
        sample_rate_hz: u16,
        resolution_bits: u16,
    },
}
