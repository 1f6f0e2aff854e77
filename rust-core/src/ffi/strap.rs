//! The platform bridge's uniffi surface: `StrapSession` (the app's BLE callbacks in, decoded
//! events out) and the `BleTransport` the app implements. The session logic is in
//! [`crate::sensor::bridge`].
use std::sync::Arc;

use crate::ffi::{StressBeatError, guard};
use crate::sensor::bridge::{BridgeCore, CommandSink, Poisoned};
use crate::sensor::events::SensorEvent;
use crate::sensor::events::{ConnectionState, GapCause};
use crate::sensor::session::{Session, SessionConfig};
use crate::sensor::transport::{Characteristic, Subscription, TransportEventKind};
use crate::sensor::transport::{TransportCommand, TransportEvent};

/// What the core asks the app's BLE code to do. Characteristics are 128-bit UUID strings
/// (lowercase, hyphenated). Carry commands out in the order given; report results back through
/// the [`StrapSession`] methods (`onConnected`, `onNotification`, `onReadResult`,
/// `onCommandFailed`, `onDisconnected`).
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum BleCommand {
    /// Connect (or reconnect) to the strap and discover its services; then call `onConnected`.
    Connect,
    /// Close the link.
    Disconnect,
    /// Enable notifications (`indicate = false`, CCCD `01 00`) or indications (`indicate = true`,
    /// CCCD `02 00`: the PMD control point) — Android: write the CCCD descriptor yourself.
    Subscribe {
        characteristic_uuid: String,
        indicate: bool,
    },
    /// Write with response.
    Write {
        characteristic_uuid: String,
        value: Vec<u8>,
    },
    /// Read; answer with `onReadResult`.
    Read { characteristic_uuid: String },
    /// Request a larger ATT MTU (Android `requestMtu`; iOS negotiates on its own: ignore).
    RequestMtu { mtu: u16 },
}

impl From<TransportCommand> for BleCommand {
    fn from(c: TransportCommand) -> Self {
        match c {
            TransportCommand::Connect => BleCommand::Connect,
            TransportCommand::Disconnect => BleCommand::Disconnect,
            TransportCommand::Subscribe {
                characteristic,
                how,
            } => BleCommand::Subscribe {
                characteristic_uuid: characteristic.uuid().to_string(),
                indicate: how == Subscription::Indicate,
            },
            TransportCommand::Write {
                characteristic,
                value,
            } => BleCommand::Write {
                characteristic_uuid: characteristic.uuid().to_string(),
                value,
            },
            TransportCommand::Read { characteristic } => BleCommand::Read {
                characteristic_uuid: characteristic.uuid().to_string(),
            },
            TransportCommand::RequestMtu { mtu } => BleCommand::RequestMtu { mtu },
        }
    }
}

impl BleCommand {
    fn to_transport(&self) -> Option<TransportCommand> {
        let ch = |u: &str| Characteristic::from_uuid(u);
        Some(match self {
            BleCommand::Connect => TransportCommand::Connect,
            BleCommand::Disconnect => TransportCommand::Disconnect,
            BleCommand::Subscribe {
                characteristic_uuid,
                indicate,
            } => TransportCommand::Subscribe {
                characteristic: ch(characteristic_uuid)?,
                how: if *indicate {
                    Subscription::Indicate
                } else {
                    Subscription::Notify
                },
            },
            BleCommand::Write {
                characteristic_uuid,
                value,
            } => TransportCommand::Write {
                characteristic: ch(characteristic_uuid)?,
                value: value.clone(),
            },
            BleCommand::Read {
                characteristic_uuid,
            } => TransportCommand::Read {
                characteristic: ch(characteristic_uuid)?,
            },
            BleCommand::RequestMtu { mtu } => TransportCommand::RequestMtu { mtu: *mtu },
        })
    }
}

/// Implemented by the app (Kotlin/Swift) over the platform's BLE stack. `execute` must not
/// block for long (queue the GATT operation and return); it may call back into the
/// [`StrapSession`] synchronously (a reply is then handled before the next command is issued).
#[uniffi::export(with_foreign)]
pub trait BleTransport: Send + Sync {
    fn execute(&self, command: BleCommand);
}

/// The connection state (mirror of the core's).
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum ConnectionStateRecord {
    Idle,
    Connecting,
    Configuring,
    Streaming,
    Reconnecting { attempt: u32 },
    Stopped,
    Failed { reason: String },
}

impl From<ConnectionState> for ConnectionStateRecord {
    fn from(s: ConnectionState) -> Self {
        match s {
            ConnectionState::Idle => Self::Idle,
            ConnectionState::Connecting => Self::Connecting,
            ConnectionState::Configuring => Self::Configuring,
            ConnectionState::Streaming => Self::Streaming,
            ConnectionState::Reconnecting { attempt } => Self::Reconnecting { attempt },
            ConnectionState::Stopped => Self::Stopped,
            ConnectionState::Failed { reason } => Self::Failed { reason },
        }
    }
}

/// Why ECG samples are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum GapCauseRecord {
    FramesMissing,
    LinkLost,
    StreamRestarted,
    ClockJump,
}

impl From<GapCause> for GapCauseRecord {
    fn from(c: GapCause) -> Self {
        match c {
            GapCause::FramesMissing => Self::FramesMissing,
            GapCause::LinkLost => Self::LinkLost,
            GapCause::StreamRestarted => Self::StreamRestarted,
            GapCause::ClockJump => Self::ClockJump,
        }
    }
}

/// A decoded sensor event. Times are the app's monotonic clock in ms (the clock it passes as
/// `atMs`/`nowMs`).
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum SensorEventRecord {
    Connection {
        state: ConnectionStateRecord,
    },
    /// One ECG frame: sample i at `firstSampleMs + i * sampleIntervalMs`, values µV.
    Ecg {
        first_sample_ms: f64,
        sample_interval_ms: f64,
        sensor_timestamp_ns: u64,
        samples_uv: Vec<i32>,
    },
    HeartRate {
        at_ms: i64,
        bpm: u16,
        rr_ms: Vec<f64>,
        contact: Option<bool>,
    },
    Battery {
        at_ms: i64,
        percent: u8,
    },
    Contact {
        at_ms: i64,
        contact: Option<bool>,
    },
    Gap {
        from_ms: f64,
        to_ms: f64,
        missing_samples: u64,
        cause: GapCauseRecord,
    },
    TimestampJump {
        at_ms: i64,
        jump_ms: i64,
    },
    StreamStarted {
        at_ms: i64,
        sample_rate_hz: u16,
        resolution_bits: u16,
    },
    /// The strap refused the ECG stream (status of its reply); heart rate goes on.
    EcgRefused {
        at_ms: i64,
        status: u8,
    },
}

impl From<SensorEvent> for SensorEventRecord {
    fn from(e: SensorEvent) -> Self {
        match e {
            SensorEvent::Connection(s) => Self::Connection { state: s.into() },
            SensorEvent::Ecg(c) => Self::Ecg {
                first_sample_ms: c.first_sample_ms,
                sample_interval_ms: c.sample_interval_ms,
                sensor_timestamp_ns: c.sensor_timestamp_ns,
                samples_uv: c.samples_uv,
            },
            SensorEvent::HeartRate {
                at_ms,
                bpm,
                rr_ms,
                contact,
            } => Self::HeartRate {
                at_ms,
                bpm,
                rr_ms,
                contact,
            },
            SensorEvent::Battery { at_ms, percent } => Self::Battery { at_ms, percent },
            SensorEvent::Contact { at_ms, contact } => Self::Contact { at_ms, contact },
            SensorEvent::Gap {
                from_ms,
                to_ms,
                missing_samples,
                cause,
            } => Self::Gap {
                from_ms,
                to_ms,
                missing_samples,
                cause: cause.into(),
            },
            SensorEvent::TimestampJump { at_ms, jump_ms } => Self::TimestampJump { at_ms, jump_ms },
            SensorEvent::EcgRefused { at_ms, status } => Self::EcgRefused { at_ms, status },
            SensorEvent::StreamStarted {
                at_ms,
                sample_rate_hz,
                resolution_bits,
            } => Self::StreamStarted {
                at_ms,
                sample_rate_hz,
                resolution_bits,
            },
        }
    }
}

struct ForeignSink(Arc<dyn BleTransport>);

impl CommandSink for ForeignSink {
    fn execute(&self, command: TransportCommand) {
        self.0.execute(command.into());
    }
}

fn poisoned(_: Poisoned) -> StressBeatError {
    StressBeatError::Internal {
        message: "internal error in the strap session; please report it".into(),
    }
}

/// A live strap session driven by the platform's BLE stack. Thread-safe: BLE callbacks, a
/// timer and the UI may call it from any thread.
///
/// Usage: create with the app's [`BleTransport`]; `start(nowMs)`; forward the stack's callbacks
/// (`onConnected`, `onDisconnected`, `onNotification`, `onReadResult`, `onCommandFailed`); call
/// `tick(nowMs)` about every 100-250 ms (timeouts, reconnection, silent strap); pull decoded
/// events with `pollEvents()`, or hand the session to a monitor
/// (`MonitorSource.PlatformBridge`), which then takes them (and `pollEvents` refuses);
/// `stop(nowMs)` when done (stops the ECG stream, closes the link). A stopped session stays
/// stopped: create a new one for the next connection.
/// All times: one monotonic clock in ms that keeps counting while the phone sleeps (Android
/// `SystemClock.elapsedRealtime()`, iOS `clock_gettime_nsec_np(CLOCK_MONOTONIC) / 1_000_000`;
/// not `ProcessInfo.systemUptime`, which stops during sleep: stored times would fall behind).
///
/// Threads: `BleTransport.execute` runs on whichever thread made the call that produced the
/// command: the app's callbacks and `tick`, and the monitor's thread when it stops the session
/// (`StressMonitor.stop`, a session's end). An iOS transport hands each command to its
/// central's queue; an Android one to its GATT queue.
#[derive(uniffi::Object)]
pub struct StrapSession {
    core: BridgeCore,
    sink: ForeignSink,
}

impl std::fmt::Debug for StrapSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrapSession").finish_non_exhaustive()
    }
}

impl StrapSession {
    fn run<R>(&self, what: &str, f: impl FnOnce(&mut Session) -> R) -> Result<R, StressBeatError> {
        guard(what, || {
            self.core.with_session(&self.sink, f).map_err(poisoned)
        })
    }

    fn event(
        &self,
        what: &str,
        at_ms: i64,
        kind: TransportEventKind,
    ) -> Result<(), StressBeatError> {
        self.run(what, |s| s.handle(TransportEvent { at_ms, kind }))
    }
}

impl StrapSession {
    /// Decoded events since the last call (for the monitor; none when the lock is poisoned).
    pub(crate) fn take_sensor_events(&self) -> Vec<SensorEvent> {
        self.core.take_events().unwrap_or_default()
    }

    /// The latest time the app gave the session (its clock), if any.
    pub(crate) fn latest_ms(&self) -> Option<i64> {
        self.core.latest_ms().ok().flatten()
    }

    /// The session's connection state now (none when the lock is poisoned).
    pub(crate) fn connection_state(&self) -> Option<ConnectionState> {
        self.core.read(|s| s.state().clone()).ok()
    }

    /// Whether the session has stopped or failed (a poisoned lock counts as failed). Runs no
    /// commands (the monitor's thread calls it every step).
    pub(crate) fn is_terminal(&self) -> bool {
        self.core.read(|s| s.state().is_terminal()).unwrap_or(true)
    }

    /// Make the monitor the only taker of this session's events. Errors: `InvalidState` when
    /// the session has ended or another monitor session takes its events.
    pub(crate) fn attach_monitor(&self) -> Result<(), StressBeatError> {
        if self.is_terminal() {
            return Err(StressBeatError::InvalidState {
                message: "this strap session has ended; create a new StrapSession".into(),
            });
        }
        if !self.core.attach() {
            return Err(StressBeatError::InvalidState {
                message: "another monitor session takes this strap session's events".into(),
            });
        }
        Ok(())
    }

    /// The monitor has let go of the session's events.
    pub(crate) fn detach_monitor(&self) {
        self.core.detach();
    }
}

#[uniffi::export]
impl StrapSession {
    /// `ecg`: ask for raw ECG when the strap has it (Polar H10); `false`: heart rate only.
    #[uniffi::constructor]
    pub fn new(transport: Arc<dyn BleTransport>, ecg: bool) -> Arc<Self> {
        Arc::new(Self {
            core: BridgeCore::new(SessionConfig {
                ecg,
                ..SessionConfig::default()
            }),
            sink: ForeignSink(transport),
        })
    }

    /// Begin: the core asks the transport to `Connect`.
    pub fn start(&self, now_ms: i64) -> Result<(), StressBeatError> {
        self.run("start", |s| s.start(now_ms))
    }

    /// Stop: the ECG stream is stopped (`03 00`) and the link closed. Terminal.
    pub fn stop(&self, now_ms: i64) -> Result<(), StressBeatError> {
        self.run("stop", |s| s.stop(now_ms))
    }

    /// The link is up and services are discovered; `mtu` = the current ATT MTU.
    pub fn on_connected(&self, mtu: u16, at_ms: i64) -> Result<(), StressBeatError> {
        self.event("on_connected", at_ms, TransportEventKind::Connected { mtu })
    }

    /// The link went down (for whatever reason).
    pub fn on_disconnected(&self, reason: String, at_ms: i64) -> Result<(), StressBeatError> {
        self.event(
            "on_disconnected",
            at_ms,
            TransportEventKind::Disconnected { reason },
        )
    }

    /// A notification or indication. Unknown characteristics are ignored.
    pub fn on_notification(
        &self,
        characteristic_uuid: String,
        value: Vec<u8>,
        at_ms: i64,
    ) -> Result<(), StressBeatError> {
        let Some(characteristic) = Characteristic::from_uuid(&characteristic_uuid) else {
            return Ok(());
        };
        self.event(
            "on_notification",
            at_ms,
            TransportEventKind::Notification {
                characteristic,
                value,
            },
        )
    }

    /// The result of a `Read` command. Unknown characteristics are ignored.
    pub fn on_read_result(
        &self,
        characteristic_uuid: String,
        value: Vec<u8>,
        at_ms: i64,
    ) -> Result<(), StressBeatError> {
        let Some(characteristic) = Characteristic::from_uuid(&characteristic_uuid) else {
            return Ok(());
        };
        self.event(
            "on_read_result",
            at_ms,
            TransportEventKind::ReadResult {
                characteristic,
                value,
            },
        )
    }

    /// A command could not be carried out (GATT error, characteristic missing, connect failed).
    pub fn on_command_failed(
        &self,
        command: BleCommand,
        reason: String,
        at_ms: i64,
    ) -> Result<(), StressBeatError> {
        let Some(command) = command.to_transport() else {
            return Ok(());
        };
        self.event(
            "on_command_failed",
            at_ms,
            TransportEventKind::CommandFailed { command, reason },
        )
    }

    /// Check deadlines (call every 100-250 ms, and at `nextDeadlineMs`).
    pub fn tick(&self, now_ms: i64) -> Result<(), StressBeatError> {
        self.run("tick", |s| s.tick(now_ms))
    }

    /// Decoded events since the last call, in order (at most the newest 2 048: call it at least
    /// every few minutes). Errors: `InvalidState` while a monitor session takes the events
    /// (listen to the monitor instead).
    pub fn poll_events(&self) -> Result<Vec<SensorEventRecord>, StressBeatError> {
        guard("poll_events", || {
            let Some(events) = self.core.take_events_unless_attached().map_err(poisoned)? else {
                return Err(StressBeatError::InvalidState {
                    message: "a monitor session takes this strap session's events; listen to \
                              the monitor instead"
                        .into(),
                });
            };
            Ok(events.into_iter().map(Into::into).collect())
        })
    }

    /// The current connection state (runs no commands).
    pub fn state(&self) -> Result<ConnectionStateRecord, StressBeatError> {
        guard("state", || {
            self.core
                .read(|s| s.state().clone().into())
                .map_err(poisoned)
        })
    }

    /// When `tick` next has something to check, if anything (runs no commands).
    pub fn next_deadline_ms(&self) -> Result<Option<i64>, StressBeatError> {
        guard("next_deadline_ms", || {
            self.core.read(Session::next_deadline).map_err(poisoned)
        })
    }
}
