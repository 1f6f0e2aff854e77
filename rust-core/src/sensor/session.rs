//! The strap connection state machine. PURE: no I/O, no async, no clock. It consumes
//! [`TransportEvent`]s (stamped with the phone clock) and `tick(now_ms)` calls, and produces
//! [`TransportCommand`]s (for the transport to carry out, in order) and [`SensorEvent`]s.
//!
//! Flow: `start` → Connect → on Connected: RequestMtu (if the link's MTU is < 232), subscribe
//! HR + battery (notify), read battery, subscribe the PMD control point (indicate) and PMD data
//! (notify), read the control point (features), write "get ECG settings" (`01 00`), parse the
//! reply (assembled when the strap sends it in several indications: `pmd::ReplyAssembler`; a
//! value that is malformed or cannot be assembled is dropped and counted), write "start ECG"
//! (130 Hz, 14-bit), stream. A strap without PMD (the subscribe fails, or
//! features lack ECG) streams heart rate only.
//!
//! Every awaited reply has a deadline checked in [`Session::tick`]; a step is retried
//! `max_retries` times, then the link is dropped and re-established. A strap that answers but
//! refuses the ECG stream (an error status, e.g. another app holds it) is not dropped: it streams
//! heart rate only ([`SensorEvent::EcgRefused`]) and the start is retried every `ecg_retry_ms`.
//! Link loss → reconnect with exponential backoff (seeded jitter) and resume (re-subscribe,
//! restart ECG); the samples lost are reported as a [`SensorEvent::Gap`]. An ECG stream that
//! falls silent while heart rate still arrives is restarted over the link first. Once a start was
//! written (answered or not, unless refused), the stream is stopped (`03 00`) before a deliberate
//! disconnect and on [`Session::stop`]. ECG frames that come before the start's reply show that the
//! stream runs: the session streams at the first of them.
//!
//! ECG timing: the sensor timestamp of a frame is the time of its last sample; samples are spread
//! evenly between the previous frame's timestamp and this one's. Sensor time is mapped to the
//! phone clock with an offset aligned at the first frame and tracked (minimum-latency filter) to
//! follow drift; samples are placed with an offset that follows the estimate slowly
//! ([`MAX_SLEW_PPM`]), so consecutive chunks stay contiguous when it moves. Duplicates are
//! dropped, a small reorder buffer puts late frames back in order, a frame whose timestamp
//! follows on from the stream's (by whole frames) is taken however late or early it arrives (the
//! link's latency changed: a stall, a burst; not the sensor clock), a single frame with an
//! implausible timestamp is dropped as corrupt, and a confirmed jump of the sensor clock
//! re-aligns the mapping ([`SensorEvent::TimestampJump`]). A forward jump by a few whole frames
//! cannot be told from frames lost while the latency dropped: it is taken as those.

use std::collections::VecDeque;

use super::decode;
use super::events::{ConnectionState, EcgChunk, GapCause, SensorEvent};
use super::transport::{
    Characteristic, Subscription, TransportCommand, TransportEvent, TransportEventKind,
};
use crate::protocol::pmd;

/// ATT MTU needed for a 229-byte ECG notification.
pub const MIN_ECG_MTU: u16 = 232;

/// Tunables. `Default` is what the apps use.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionConfig {
    /// Ask for raw ECG when the strap has PMD (H10). `false`: heart rate only.
    pub ecg: bool,
    /// MTU requested when the link's MTU is too small for ECG frames.
    pub request_mtu: u16,
    /// Deadline for the link to come up after Connect.
    pub connect_timeout_ms: i64,
    /// Deadline for each control-point reply / read.
    pub reply_timeout_ms: i64,
    /// Retries of one configuration step before reconnecting.
    pub max_retries: u32,
    /// No data for this long while streaming (ECG, once it streams) → the strap is silent →
    /// reconnect. An ECG stream that falls silent while heart rate arrives is restarted first
    /// (stop, start) over the working link; if it stays silent, the link is re-established.
    pub silence_timeout_ms: i64,
    /// Reconnect backoff: first delay, cap, and jitter fraction (± of the delay).
    pub backoff_initial_ms: i64,
    pub backoff_max_ms: i64,
    pub backoff_jitter: f64,
    /// Seed for the jitter (deterministic tests).
    pub seed: u64,
    /// Give up after this many consecutive failed reconnection attempts (`None`: never).
    pub max_reconnect_attempts: Option<u32>,
    /// ECG frames held back to put out-of-order frames back in order (each ≈ 0.56 s of latency).
    pub reorder_depth: usize,
    /// A sensor-vs-phone elapsed-time mismatch above this, in a frame that does not follow on
    /// from the stream, is a clock jump (or a corrupt frame).
    pub jump_threshold_ms: i64,
    /// While the strap refuses the ECG stream, ask again this often (heart rate goes on).
    pub ecg_retry_ms: i64,
    /// Nominal ECG rate requested.
    pub ecg_rate_hz: u16,
    pub ecg_resolution: u16,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            ecg: true,
            request_mtu: 512,
            connect_timeout_ms: 15_000,
            reply_timeout_ms: 5_000,
            max_retries: 2,
            silence_timeout_ms: 5_000,
            backoff_initial_ms: 1_000,
            backoff_max_ms: 30_000,
            backoff_jitter: 0.2,
            seed: 0x5EED_5EED,
            max_reconnect_attempts: None,
            reorder_depth: 2,
            jump_threshold_ms: 3_000,
            ecg_retry_ms: 60_000,
            ecg_rate_hz: 130,
            ecg_resolution: 14,
        }
    }
}

/// Counters for diagnostics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionStats {
    pub frames_delivered: u64,
    pub samples_delivered: u64,
    pub duplicates_dropped: u64,
    pub late_frames_dropped: u64,
    pub corrupt_frames_dropped: u64,
    /// Well-formed data frames of another measurement (ACC that another app on the phone
    /// started): ignored.
    pub other_measurement_frames: u64,
    pub gaps: u64,
    pub missing_samples: u64,
    pub timestamp_jumps: u64,
    pub reconnects: u64,
    pub stream_restarts: u64,
    /// Restarts of an ECG stream that fell silent while heart rate kept arriving (counted in
    /// `stream_restarts` too).
    pub silent_stream_restarts: u64,
    pub step_timeouts: u64,
    /// Control-point values dropped: malformed, or a reply that could not be assembled.
    pub control_point_errors: u64,
    /// Malformed Heart Rate Measurements: dropped (truncated heart rate or energy), or kept
    /// without their malformed tail (an odd byte after the RR intervals, …).
    pub heart_rate_errors: u64,
}

/// The reply the session is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Nothing,
    Link,
    Features,
    Settings,
    Start,
}

/// Sensor-clock → phone-clock mapping and continuity of delivered frames.
#[derive(Debug, Default)]
struct Timeline {
    /// Estimated mapping: phone_ms = sensor_ns / 1e6 + offset_ms.
    offset_ms: Option<f64>,
    /// The offset delivered samples are placed with: it follows `offset_ms` at most
    /// [`MAX_SLEW_PPM`] of the stream's time, so a new latency minimum or a stall never makes
    /// the sample times step back or ahead.
    placed_offset_ms: Option<f64>,
    /// Last delivered frame: sensor timestamp and phone time of its last sample.
    last_ts_ns: Option<u64>,
    last_sample_ms: f64,
    /// Estimated sample interval (ns), follows the strap's real rate.
    interval_ns: f64,
    /// Timestamps of recently accepted frames (duplicate detection).
    recent: VecDeque<u64>,
    /// Newest accepted sensor timestamp and the last frame length (samples).
    newest_ts_ns: Option<u64>,
    frame_len: usize,
    /// Phone times of the first and the latest restart of the stream (over the link, or the
    /// link lost), until a frame sampled after the latest comes: a frame sampled after the first
    /// starts a new phase (not whole frames after the newest) and may come late (a stall's
    /// burst, a slow link after a reconnection); it is no clock jump.
    restarts_ms: Option<(f64, f64)>,
    /// A frame whose timestamp disagreed with the clock, held until the next frame says whether
    /// it is a jump (keep) or a corrupt frame (drop).
    suspect: Option<(i64, decode::EcgFrame)>,
    buffer: Vec<decode::EcgFrame>,
    /// Cause for the next gap (set on link loss / restart), and when it was set: frames sampled
    /// before then (a stall's burst after a restart) do not clear it.
    pending_cause: Option<GapCause>,
    pending_cause_at_ms: f64,
}

/// The connection state machine. See the module documentation.
#[derive(Debug)]
pub struct Session {
    cfg: SessionConfig,
    state: ConnectionState,
    step: Step,
    deadline: Option<i64>,
    retries: u32,
    reconnect_at: Option<i64>,
    attempt: u32,
    rng: u64,
    mtu: u16,
    pmd: bool,
    ecg_started: bool,
    /// A start of the ECG stream was written on this link and neither refused nor stopped since:
    /// the strap may be streaming even if its reply was lost.
    ecg_requested: bool,
    /// When to ask again for the ECG stream the strap refused.
    ecg_retry_at: Option<i64>,
    rate: u16,
    resolution: u16,
    expect_disconnect: bool,
    last_data_ms: i64,
    /// The latest Heart Rate Measurement on this link.
    last_heart_rate_ms: Option<i64>,
    /// The ECG stream was restarted for silence and no frame came since: silence again drops
    /// the link.
    silent_stream_restarted: bool,
    /// The latest time the caller gave (start, an event, a tick).
    latest_ms: Option<i64>,
    contact: Option<Option<bool>>,
    tl: Timeline,
    /// Assembles control-point replies sent in several indications.
    replies: pmd::ReplyAssembler,
    commands: VecDeque<TransportCommand>,
    events: VecDeque<SensorEvent>,
    stats: SessionStats,
}

impl Session {
    pub fn new(cfg: SessionConfig) -> Self {
        let rng = cfg.seed | 1;
        let rate = cfg.ecg_rate_hz;
        let resolution = cfg.ecg_resolution;
        Self {
            cfg,
            state: ConnectionState::Idle,
            step: Step::Nothing,
            deadline: None,
            retries: 0,
            reconnect_at: None,
            attempt: 0,
            rng,
            mtu: 23,
            pmd: false,
            ecg_started: false,
            ecg_requested: false,
            ecg_retry_at: None,
            rate,
            resolution,
            expect_disconnect: false,
            last_data_ms: 0,
            last_heart_rate_ms: None,
            silent_stream_restarted: false,
            latest_ms: None,
            contact: None,
            tl: Timeline {
                interval_ns: 1e9 / f64::from(rate.max(1)),
                ..Timeline::default()
            },
            replies: pmd::ReplyAssembler::new(),
            commands: VecDeque::new(),
            events: VecDeque::new(),
            stats: SessionStats::default(),
        }
    }

    pub fn state(&self) -> &ConnectionState {
        &self.state
    }

    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// The next time `tick` has something to check (a deadline or a reconnection), if any.
    pub fn next_deadline(&self) -> Option<i64> {
        let silence = (self.state == ConnectionState::Streaming)
            .then_some(self.last_data_ms + self.cfg.silence_timeout_ms);
        [self.deadline, self.reconnect_at, silence, self.ecg_retry_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The latest time given to [`Self::start`], [`Self::handle`] or [`Self::tick`].
    pub fn latest_ms(&self) -> Option<i64> {
        self.latest_ms
    }

    fn note_time(&mut self, now_ms: i64) {
        self.latest_ms = Some(self.latest_ms.map_or(now_ms, |t| t.max(now_ms)));
    }

    /// Begin: ask the transport to connect.
    pub fn start(&mut self, now_ms: i64) {
        self.note_time(now_ms);
        if self.state != ConnectionState::Idle {
            return;
        }
        self.set_state(ConnectionState::Connecting);
        self.connect(now_ms);
    }

    /// Stop on request: stop the ECG stream (a strap left streaming drains its battery), close
    /// the link, deliver buffered frames. Terminal.
    pub fn stop(&mut self, _now_ms: i64) {
        if self.state.is_terminal() {
            return;
        }
        let linked = matches!(
            self.state,
            ConnectionState::Configuring | ConnectionState::Streaming
        );
        if linked {
            self.stop_ecg();
        }
        if linked || self.step == Step::Link {
            self.expect_disconnect = true;
            self.commands.push_back(TransportCommand::Disconnect);
        }
        self.ecg_started = false;
        self.step = Step::Nothing;
        self.deadline = None;
        self.reconnect_at = None;
        self.ecg_retry_at = None;
        self.flush_frames();
        self.set_state(ConnectionState::Stopped);
    }

    /// The next command for the transport, in order.
    pub fn poll_command(&mut self) -> Option<TransportCommand> {
        self.commands.pop_front()
    }

    /// All pending commands, in order.
    pub fn drain_commands(&mut self) -> Vec<TransportCommand> {
        self.commands.drain(..).collect()
    }

    /// The next decoded event.
    pub fn poll_event(&mut self) -> Option<SensorEvent> {
        self.events.pop_front()
    }

    /// Append all pending events to `out`.
    pub fn drain_events_into(&mut self, out: &mut Vec<SensorEvent>) {
        out.extend(self.events.drain(..));
    }

    /// Feed one transport event.
    pub fn handle(&mut self, ev: TransportEvent) {
        let at = ev.at_ms;
        self.note_time(at);
        if self.state.is_terminal() || self.state == ConnectionState::Idle {
            return;
        }
        match ev.kind {
            TransportEventKind::Connected { mtu } => self.on_connected(at, mtu),
            TransportEventKind::Disconnected { .. } => self.on_disconnected(at),
            TransportEventKind::Notification {
                characteristic,
                value,
            }
            | TransportEventKind::ReadResult {
                characteristic,
                value,
            } => self.on_value(at, characteristic, &value),
            // the platform's reason text may name the device: neither logged nor kept
            TransportEventKind::CommandFailed { command, .. } => {
                self.on_command_failed(at, command)
            }
        }
    }

    /// Check deadlines: step timeouts, reconnection time, a silent strap.
    pub fn tick(&mut self, now_ms: i64) {
        self.note_time(now_ms);
        if self.state.is_terminal() || self.state == ConnectionState::Idle {
            return;
        }
        if let Some(t) = self.reconnect_at
            && now_ms >= t
        {
            self.reconnect_at = None;
            self.connect(now_ms);
            return;
        }
        if let Some(d) = self.deadline
            && now_ms >= d
        {
            self.stats.step_timeouts += 1;
            self.on_step_timeout(now_ms);
            return;
        }
        if self.state == ConnectionState::Streaming
            && now_ms - self.last_data_ms >= self.cfg.silence_timeout_ms
        {
            if self.ecg_started && !self.silent_stream_restarted && self.heart_rate_flows(now_ms) {
                // The link works, the ECG stream does not: restart it (stop, start) rather than
                // the link; a stream that stays silent then drops the link.
                log::debug!(
                    "sensor: no ECG for {} ms while heart rate arrives; restarting the stream",
                    now_ms - self.last_data_ms
                );
                self.stats.silent_stream_restarts += 1;
                self.silent_stream_restarted = true;
                self.stop_ecg();
                self.restart_stream(now_ms);
                return;
            }
            log::debug!(
                "sensor: no data for {} ms; reconnecting",
                now_ms - self.last_data_ms
            );
            self.drop_link(now_ms, GapCause::LinkLost);
            return;
        }
        if let Some(t) = self.ecg_retry_at
            && now_ms >= t
            && self.state == ConnectionState::Streaming
        {
            // One try, heart rate going on: a refusal or no answer waits for the next.
            self.ecg_retry_at = None;
            self.start_ecg();
            self.await_step(Step::Start, now_ms);
            self.retries = self.cfg.max_retries;
        }
    }

    /// Did a Heart Rate Measurement arrive within the silence timeout?
    fn heart_rate_flows(&self, now_ms: i64) -> bool {
        self.last_heart_rate_ms
            .is_some_and(|t| now_ms - t < self.cfg.silence_timeout_ms)
    }

    // ---------------------------------------------------------------------------------------

    fn set_state(&mut self, s: ConnectionState) {
        if self.state != s {
            self.state = s.clone();
            self.events.push_back(SensorEvent::Connection(s));
        }
    }

    fn await_step(&mut self, step: Step, now_ms: i64) {
        self.step = step;
        let t = if step == Step::Link {
            self.cfg.connect_timeout_ms
        } else {
            self.cfg.reply_timeout_ms
        };
        self.deadline = Some(now_ms + t);
    }

    fn connect(&mut self, now_ms: i64) {
        self.commands.push_back(TransportCommand::Connect);
        self.retries = 0;
        self.await_step(Step::Link, now_ms);
    }

    fn cmd_write(&mut self, value: Vec<u8>) {
        self.commands.push_back(TransportCommand::Write {
            characteristic: Characteristic::PmdControlPoint,
            value,
        });
    }

    fn start_ecg(&mut self) {
        self.cmd_write(decode::start_ecg_command(self.rate, self.resolution));
        self.ecg_requested = true;
    }

    /// Stop the ECG stream if it was asked for (a strap left streaming drains its battery).
    fn stop_ecg(&mut self) {
        if self.ecg_requested {
            self.cmd_write(STOP_ECG.to_vec());
            self.ecg_requested = false;
        }
    }

    fn on_connected(&mut self, at: i64, mtu: u16) {
        if self.step != Step::Link {
            return;
        }
        self.mtu = mtu;
        // the rest of a reply begun on the last link will not come
        self.replies.reset();
        self.expect_disconnect = false;
        self.ecg_started = false;
        self.last_heart_rate_ms = None;
        self.silent_stream_restarted = false;
        self.ecg_requested = false;
        self.set_state(ConnectionState::Configuring);
        if self.cfg.ecg && mtu < MIN_ECG_MTU {
            self.commands.push_back(TransportCommand::RequestMtu {
                mtu: self.cfg.request_mtu,
            });
        }
        use Characteristic::*;
        for c in [HeartRateMeasurement, BatteryLevel] {
            self.commands.push_back(TransportCommand::Subscribe {
                characteristic: c,
                how: Subscription::Notify,
            });
        }
        self.commands.push_back(TransportCommand::Read {
            characteristic: BatteryLevel,
        });
        self.last_data_ms = at;
        if self.cfg.ecg {
            self.pmd = true;
            self.commands.push_back(TransportCommand::Subscribe {
                characteristic: PmdControlPoint,
                how: Subscription::Indicate,
            });
            self.commands.push_back(TransportCommand::Subscribe {
                characteristic: PmdData,
                how: Subscription::Notify,
            });
            self.commands.push_back(TransportCommand::Read {
                characteristic: PmdControlPoint,
            });
            self.retries = 0;
            self.await_step(Step::Features, at);
        } else {
            self.streaming(at);
        }
    }

    fn streaming(&mut self, at: i64) {
        self.step = Step::Nothing;
        self.deadline = None;
        self.retries = 0;
        self.attempt = 0;
        self.last_data_ms = at;
        self.set_state(ConnectionState::Streaming);
    }

    fn on_disconnected(&mut self, at: i64) {
        if self.expect_disconnect {
            self.expect_disconnect = false;
            return;
        }
        if matches!(self.state, ConnectionState::Reconnecting { .. }) && self.step != Step::Link {
            return; // already waiting to reconnect
        }
        log::debug!("sensor: link lost");
        self.lost(at, GapCause::LinkLost);
    }

    /// Drop the link on purpose (stop the stream first), then reconnect.
    fn drop_link(&mut self, at: i64, cause: GapCause) {
        self.stop_ecg();
        self.expect_disconnect = true;
        self.commands.push_back(TransportCommand::Disconnect);
        self.lost(at, cause);
    }

    fn lost(&mut self, at: i64, cause: GapCause) {
        self.ecg_started = false;
        self.ecg_requested = false;
        self.ecg_retry_at = None;
        self.step = Step::Nothing;
        self.deadline = None;
        self.flush_frames();
        if self.tl.last_ts_ns.is_some() {
            self.tl.pending_cause = Some(cause);
            self.tl.pending_cause_at_ms = at as f64;
        }
        self.tl.recent.clear();
        self.tl.newest_ts_ns = None;
        // the stream will start again in a new phase, its first frames possibly late
        self.tl.restarts_ms = Some((at as f64, at as f64));
        self.attempt += 1;
        if let Some(max) = self.cfg.max_reconnect_attempts
            && self.attempt > max
        {
            self.set_state(ConnectionState::Failed {
                reason: format!("no connection after {max} attempts"),
            });
            return;
        }
        self.stats.reconnects += 1;
        self.set_state(ConnectionState::Reconnecting {
            attempt: self.attempt,
        });
        let delay = self.backoff_ms(self.attempt);
        self.reconnect_at = Some(at + delay);
    }

    fn backoff_ms(&mut self, attempt: u32) -> i64 {
        let exp = attempt.saturating_sub(1).min(20);
        let base =
            (self.cfg.backoff_initial_ms.saturating_mul(1 << exp)).min(self.cfg.backoff_max_ms);
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        let u = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
        let j = (u * 2.0 - 1.0) * self.cfg.backoff_jitter;
        ((base as f64) * (1.0 + j)).round().max(0.0) as i64
    }

    fn on_step_timeout(&mut self, now: i64) {
        let step = self.step;
        self.retries += 1;
        if step == Step::Link {
            // The connect never completed: abandon it and back off.
            self.expect_disconnect = true;
            self.commands.push_back(TransportCommand::Disconnect);
            self.lost(now, GapCause::LinkLost);
            return;
        }
        if self.state == ConnectionState::Streaming {
            // A retry of a refused ECG stream went unanswered; heart rate goes on.
            self.step = Step::Nothing;
            self.deadline = None;
            self.ecg_retry_at = Some(now + self.cfg.ecg_retry_ms);
            return;
        }
        if self.retries > self.cfg.max_retries {
            log::debug!(
                "sensor: step {step:?} timed out {} times; reconnecting",
                self.retries
            );
            self.drop_link(now, GapCause::LinkLost);
            return;
        }
        let retries = self.retries;
        self.resend(step, now);
        self.retries = retries;
    }

    fn resend(&mut self, step: Step, now: i64) {
        match step {
            Step::Features => self.commands.push_back(TransportCommand::Read {
                characteristic: Characteristic::PmdControlPoint,
            }),
            Step::Settings => self.cmd_write(GET_ECG_SETTINGS.to_vec()),
            Step::Start => self.start_ecg(),
            Step::Link | Step::Nothing => return,
        }
        self.await_step(step, now);
    }

    fn on_command_failed(&mut self, at: i64, command: TransportCommand) {
        log::debug!("sensor: command failed: {command:?}");
        match command {
            TransportCommand::Subscribe {
                characteristic: Characteristic::PmdControlPoint | Characteristic::PmdData,
                ..
            }
            | TransportCommand::Read {
                characteristic: Characteristic::PmdControlPoint,
            } if self.step == Step::Features => {
                // No PMD service: a plain heart-rate strap.
                self.pmd = false;
                self.streaming(at);
            }
            TransportCommand::Connect if self.step == Step::Link => {
                self.lost(at, GapCause::LinkLost);
            }
            TransportCommand::Write {
                characteristic: Characteristic::PmdControlPoint,
                ..
            } if matches!(self.step, Step::Settings | Step::Start) => {
                self.retry_or_reconnect(at);
            }
            // MTU, battery, HR subscription failures are not fatal.
            _ => {}
        }
    }

    fn retry_or_reconnect(&mut self, at: i64) {
        if !self.retry(at) {
            self.drop_link(at, GapCause::LinkLost);
        }
    }

    /// Send the awaited step again unless it has been tried `max_retries` times; whether it was.
    fn retry(&mut self, at: i64) -> bool {
        self.retries += 1;
        if self.retries > self.cfg.max_retries {
            return false;
        }
        let r = self.retries;
        self.resend(self.step, at);
        self.retries = r;
        true
    }

    fn on_value(&mut self, at: i64, c: Characteristic, v: &[u8]) {
        match c {
            Characteristic::HeartRateMeasurement => self.on_hr(at, v),
            Characteristic::BatteryLevel => match decode::battery(v) {
                Some(percent) => self
                    .events
                    .push_back(SensorEvent::Battery { at_ms: at, percent }),
                None => log::debug!("session: malformed battery level ({} bytes)", v.len()),
            },
            Characteristic::PmdControlPoint => self.on_control_point(at, v),
            Characteristic::PmdData => self.on_pmd_data(at, v),
        }
    }

    fn on_hr(&mut self, at: i64, v: &[u8]) {
        let hr = match decode::heart_rate(v) {
            Ok(hr) => hr,
            Err(e) => {
                self.stats.heart_rate_errors += 1;
                log::debug!("session: heart rate value dropped: {e}");
                return;
            }
        };
        if let Some(e) = &hr.tail_error {
            self.stats.heart_rate_errors += 1;
            log::debug!("session: heart rate kept without its malformed tail: {e}");
        }
        self.last_heart_rate_ms = Some(at);
        if !self.ecg_started {
            self.last_data_ms = at;
        }
        if self.contact != Some(hr.contact) {
            self.contact = Some(hr.contact);
            self.events.push_back(SensorEvent::Contact {
                at_ms: at,
                contact: hr.contact,
            });
        }
        self.events.push_back(SensorEvent::HeartRate {
            at_ms: at,
            bpm: hr.bpm,
            rr_ms: hr.rr_ms,
            contact: hr.contact,
        });
    }

    fn on_control_point(&mut self, at: i64, v: &[u8]) {
        let msg = match decode::control_point(&mut self.replies, v) {
            Ok(Some(msg)) => msg,
            Ok(None) => return, // more packets of the reply follow
            Err(e) => {
                self.stats.control_point_errors += 1;
                log::debug!("session: control-point value dropped: {e}");
                return;
            }
        };
        let (opcode, status, (rates, res)) = match msg {
            decode::Cp::Features { ecg } => {
                if self.step == Step::Features {
                    if ecg {
                        self.cmd_write(GET_ECG_SETTINGS.to_vec());
                        self.retries = 0;
                        self.await_step(Step::Settings, at);
                    } else {
                        self.pmd = false;
                        self.streaming(at);
                    }
                }
                return;
            }
            decode::Cp::Stopped { ecg } => {
                if ecg && self.state == ConnectionState::Streaming && self.ecg_started {
                    log::debug!("sensor: strap stopped the stream; restarting");
                    self.restart_stream(at);
                }
                return;
            }
            decode::Cp::Reply {
                measurement: 0,
                opcode,
                status,
                settings,
            } => (opcode, status, settings),
            decode::Cp::Reply { .. } => return,
        };
        if opcode == 0x02 && !matches!(status, 0 | 6) {
            // Refused: nothing of ours streams (another app's stream is left alone).
            self.ecg_requested = false;
        }
        match (self.step, opcode) {
            (Step::Settings, 0x01) => {
                if status != 0 {
                    self.refused(at, status);
                    return;
                }
                self.rate = pick(&rates, self.cfg.ecg_rate_hz);
                self.resolution = pick(&res, self.cfg.ecg_resolution);
                // the sample spacing follows the rate the strap offered (not the one asked for)
                let nominal = 1e9 / f64::from(self.rate.max(1));
                if (self.tl.interval_ns - nominal).abs() > nominal * 0.05 {
                    self.tl.interval_ns = nominal;
                }
                self.start_ecg();
                self.retries = 0;
                self.await_step(Step::Start, at);
            }
            // 6 = already in state: the stream is running (e.g. after a quick reconnect). A
            // retry of a refused stream is also accepted after it timed out.
            (Step::Start, 0x02) | (Step::Nothing, 0x02)
                if matches!(status, 0 | 6)
                    && (self.step == Step::Start || self.ecg_retry_at.is_some()) =>
            {
                self.stream_started(at);
            }
            (Step::Start, 0x02) if status == 10 => {
                // Invalid MTU: ask again, then retry the start (while heart rate streams after a
                // refusal, at the next retry).
                self.commands.push_back(TransportCommand::RequestMtu {
                    mtu: self.cfg.request_mtu,
                });
                if self.state == ConnectionState::Streaming {
                    self.refused(at, status);
                } else {
                    self.retry_or_reconnect(at);
                }
            }
            (Step::Start, 0x02) => self.refused(at, status),
            _ => {}
        }
    }

    fn stream_started(&mut self, at: i64) {
        self.ecg_retry_at = None;
        self.ecg_started = true;
        self.events.push_back(SensorEvent::StreamStarted {
            at_ms: at,
            sample_rate_hz: self.rate,
            resolution_bits: self.resolution,
        });
        self.streaming(at);
    }

    /// The strap answered an ECG request with an error `status`: retry; after `max_retries`, it
    /// streams heart rate only and the start is asked again in `ecg_retry_ms`.
    fn refused(&mut self, at: i64, status: u8) {
        if self.retry(at) {
            return;
        }
        log::debug!("sensor: the strap refused the ECG stream (status {status}); heart rate only");
        self.events
            .push_back(SensorEvent::EcgRefused { at_ms: at, status });
        self.ecg_retry_at = Some(at + self.cfg.ecg_retry_ms);
        self.streaming(at);
    }

    fn restart_stream(&mut self, at: i64) {
        self.stats.stream_restarts += 1;
        self.ecg_started = false;
        self.flush_frames();
        self.tl.pending_cause = Some(GapCause::StreamRestarted);
        self.tl.pending_cause_at_ms = at as f64;
        let first = self.tl.restarts_ms.map_or(at as f64, |(first, _)| first);
        self.tl.restarts_ms = Some((first, at as f64));
        self.set_state(ConnectionState::Configuring);
        self.start_ecg();
        self.retries = 0;
        self.await_step(Step::Start, at);
    }

    // --- ECG frames -----------------------------------------------------------------------

    fn on_pmd_data(&mut self, at: i64, v: &[u8]) {
        let awaiting_start = self.step == Step::Start && self.ecg_requested;
        if !self.ecg_started && !awaiting_start {
            return;
        }
        let Some(frame) = decode::ecg_frame(v) else {
            if decode::other_measurement_frame(v) {
                self.stats.other_measurement_frames += 1;
            } else {
                self.stats.corrupt_frames_dropped += 1;
            }
            return;
        };
        if !self.ecg_started {
            // Frames before the start's reply (lost, or still on its way): the stream runs.
            self.stream_started(at);
        }
        self.last_data_ms = at;
        self.silent_stream_restarted = false;
        if self.tl.recent.contains(&frame.timestamp_ns) {
            self.stats.duplicates_dropped += 1;
            return;
        }
        if !self.plausible(at, frame.timestamp_ns) {
            match self.tl.suspect.take() {
                Some((s_at, suspect))
                    if consistent(
                        self.cfg.jump_threshold_ms,
                        s_at,
                        suspect.timestamp_ns,
                        at,
                        frame.timestamp_ns,
                    ) =>
                {
                    // Two frames agree on the new clock: a real jump.
                    let jump_ms = self.tl.offset_ms.map_or(0, |o| {
                        (o - (s_at as f64 - suspect.timestamp_ns as f64 / 1e6)).round() as i64
                    });
                    self.clock_jump(s_at, jump_ms);
                    self.accept(s_at, suspect);
                    self.accept(at, frame);
                }
                Some(_) => {
                    self.stats.corrupt_frames_dropped += 1;
                    self.tl.suspect = Some((at, frame));
                }
                None => self.tl.suspect = Some((at, frame)),
            }
            return;
        }
        self.drop_suspect();
        self.accept(at, frame);
    }

    /// Does a frame's timestamp come after what was delivered, and either fit the stream (a
    /// frame swapped with a few successors, or one following on from the newest: the sensor clock
    /// ran on, whatever the link's latency did) or, if not, the sensor→phone mapping (arrival
    /// latency within [-FORWARD_SLACK, jump_threshold])?
    fn plausible(&self, at: i64, ts_ns: u64) -> bool {
        let Some(offset) = self.tl.offset_ms else {
            return true;
        };
        // Older than what was delivered, or behind the newest frame by anything but a few whole
        // frames: the clock went back.
        if self.tl.last_ts_ns.is_some_and(|l| ts_ns < l) {
            return false;
        }
        if let Some(newest) = self.tl.newest_ts_ns
            && ts_ns < newest
        {
            return self
                .whole_frames(newest - ts_ns)
                .is_some_and(|k| k <= MAX_REORDER_FRAMES);
        }
        let lat = at as f64 - ts_ns as f64 / 1e6 - offset;
        // the first frame of a restarted stream: sampled after the restart, however late
        let after_restart = self
            .tl
            .restarts_ms
            .is_some_and(|(first, _)| at as f64 - lat >= first && lat >= -FORWARD_SLACK_MS);
        self.follows_on(ts_ns)
            || after_restart
            || (-FORWARD_SLACK_MS..=self.cfg.jump_threshold_ms as f64).contains(&lat)
    }

    /// Does a frame stamped `ts_ns` follow on from the newest frame: the next one, or the next
    /// after frames lost (at most a silence timeout's worth)? Then the sensor clock ran on.
    fn follows_on(&self, ts_ns: u64) -> bool {
        let Some(newest) = self.tl.newest_ts_ns else {
            return false;
        };
        let most = self.cfg.silence_timeout_ms as f64 * 1e6 / self.frame_ns();
        ts_ns
            .checked_sub(newest)
            .and_then(|d| self.whole_frames(d))
            .is_some_and(|k| k >= 1.0 && k <= most.max(1.0))
    }

    /// `d_ns` in frames (of the last frame's length), if it is a whole number of them (± 5 %).
    fn whole_frames(&self, d_ns: u64) -> Option<f64> {
        let k = d_ns as f64 / self.frame_ns();
        ((k - k.round()).abs() <= 0.05).then_some(k.round())
    }

    fn frame_ns(&self) -> f64 {
        self.tl.interval_ns * self.tl.frame_len as f64
    }

    fn clock_jump(&mut self, at: i64, jump_ms: i64) {
        self.flush_frames();
        self.stats.timestamp_jumps += 1;
        self.events
            .push_back(SensorEvent::TimestampJump { at_ms: at, jump_ms });
        // Re-align: continuity from the phone clock.
        self.tl.offset_ms = None;
        self.tl.placed_offset_ms = None;
        self.tl.last_ts_ns = None;
        self.tl.recent.clear();
        self.tl.newest_ts_ns = None;
        self.tl.restarts_ms = None;
        self.tl.pending_cause.get_or_insert(GapCause::ClockJump);
    }

    fn accept(&mut self, at: i64, frame: decode::EcgFrame) {
        // Track the sensor→phone offset: minimum latency, slowly released (drift), never faster
        // than the clocks can drift apart over the sensor time this frame adds (so the late
        // frames of a stall do not lift it, and the next on-time frame need not pull times back).
        let obs = at as f64 - frame.timestamp_ns as f64 / 1e6;
        let added_ms = self.tl.newest_ts_ns.map_or(0.0, |newest| {
            frame.timestamp_ns.saturating_sub(newest) as f64 / 1e6
        });
        let offset = match self.tl.offset_ms {
            None => obs,
            Some(o) if obs < o => obs,
            Some(o) => o + ((obs - o) * 0.002).min(added_ms * MAX_DRIFT_PPM * 1e-6),
        };
        self.tl.offset_ms = Some(offset);
        if self
            .tl
            .restarts_ms
            .is_some_and(|(_, latest)| frame.timestamp_ns as f64 / 1e6 + offset >= latest)
        {
            self.tl.restarts_ms = None;
        }
        if self.tl.recent.len() >= 16 {
            self.tl.recent.pop_front();
        }
        self.tl.recent.push_back(frame.timestamp_ns);
        self.tl.frame_len = frame.samples_uv.len();
        self.tl.newest_ts_ns = Some(
            self.tl
                .newest_ts_ns
                .map_or(frame.timestamp_ns, |t| t.max(frame.timestamp_ns)),
        );
        if self.tl.last_ts_ns.is_some_and(|l| frame.timestamp_ns <= l) {
            self.stats.late_frames_dropped += 1;
            return;
        }
        let pos = self
            .tl
            .buffer
            .partition_point(|f| f.timestamp_ns < frame.timestamp_ns);
        self.tl.buffer.insert(pos, frame);
        while self.tl.buffer.len() > self.cfg.reorder_depth {
            let f = self.tl.buffer.remove(0);
            self.deliver(f);
        }
    }

    /// Deliver the frames held for reordering. A frame held undecided (a clock jump or a corrupt
    /// frame) counts as dropped: no later frame will decide it.
    fn flush_frames(&mut self) {
        for f in std::mem::take(&mut self.tl.buffer) {
            self.deliver(f);
        }
        self.drop_suspect();
    }

    fn drop_suspect(&mut self) {
        if self.tl.suspect.take().is_some() {
            self.stats.corrupt_frames_dropped += 1;
        }
    }

    fn deliver(&mut self, f: decode::EcgFrame) {
        let n = f.samples_uv.len();
        if n == 0 {
            return;
        }
        let estimate = self.tl.offset_ms.unwrap_or(0.0);
        let offset = match self.tl.placed_offset_ms {
            Some(placed) => {
                let most = self.frame_ns() / 1e6 * MAX_SLEW_PPM * 1e-6;
                placed + (estimate - placed).clamp(-most, most)
            }
            None => estimate,
        };
        self.tl.placed_offset_ms = Some(offset);
        let mut last_ms = f.timestamp_ns as f64 / 1e6 + offset;
        let nominal = 1e9 / f64::from(self.rate.max(1));
        let mut interval_ns = self.tl.interval_ns;
        match self.tl.last_ts_ns {
            Some(prev) => {
                let d = (f.timestamp_ns - prev) as f64;
                let per = d / n as f64;
                if (per - nominal).abs() <= nominal * 0.05 {
                    interval_ns = per;
                    self.tl.interval_ns += (per - self.tl.interval_ns) * 0.05;
                    if last_ms >= self.tl.pending_cause_at_ms {
                        self.tl.pending_cause = None;
                    }
                } else {
                    let total = (d / self.tl.interval_ns).round() as i64;
                    let missing = (total - n as i64).max(0) as u64;
                    if missing > 0 {
                        let first_ms = last_ms - (n - 1) as f64 * interval_ns / 1e6;
                        let cause = self
                            .tl
                            .pending_cause
                            .take()
                            .unwrap_or(GapCause::FramesMissing);
                        self.gap(self.tl.last_sample_ms, first_ms, missing, cause);
                    }
                }
            }
            None => {
                if let Some(cause) = self.tl.pending_cause.take()
                    && self.tl.last_sample_ms > 0.0
                {
                    // The sensor clock jumped: estimate the hole from the phone clock. A jump
                    // without a link loss loses whole frames (or nothing): round to frames and
                    // re-anchor the mapping so the samples continue seamlessly.
                    let first_ms = last_ms - (n - 1) as f64 * interval_ns / 1e6;
                    let est = (first_ms - self.tl.last_sample_ms) * 1e6 / interval_ns - 1.0;
                    let missing = if cause == GapCause::ClockJump {
                        // The arrival latency of the frames that re-aligned the clock may exceed
                        // the usual minimum by a link stall (≈ 1-2 frames): only a longer hole
                        // counts, in whole frames.
                        let stall = self.cfg.jump_threshold_ms as f64 * 1e6 / interval_ns;
                        if est < stall {
                            0
                        } else {
                            ((est / n as f64).round() as u64) * n as u64
                        }
                    } else {
                        est.round().max(0.0) as u64
                    };
                    let first = self.tl.last_sample_ms + (missing + 1) as f64 * interval_ns / 1e6;
                    let new_last = first + (n - 1) as f64 * interval_ns / 1e6;
                    self.tl.offset_ms = Some(new_last - f.timestamp_ns as f64 / 1e6);
                    self.tl.placed_offset_ms = self.tl.offset_ms;
                    last_ms = new_last;
                    if missing > 0 {
                        self.gap(self.tl.last_sample_ms, first, missing, cause);
                    }
                }
            }
        }
        let interval_ms = interval_ns / 1e6;
        let first_ms = last_ms - (n - 1) as f64 * interval_ms;
        self.tl.last_ts_ns = Some(f.timestamp_ns);
        self.tl.last_sample_ms = last_ms;
        self.stats.frames_delivered += 1;
        self.stats.samples_delivered += n as u64;
        self.events.push_back(SensorEvent::Ecg(EcgChunk {
            first_sample_ms: first_ms,
            sample_interval_ms: interval_ms,
            sensor_timestamp_ns: f.timestamp_ns,
            samples_uv: f.samples_uv,
        }));
    }

    fn gap(&mut self, from_ms: f64, to_ms: f64, missing: u64, cause: GapCause) {
        self.stats.gaps += 1;
        self.stats.missing_samples += missing;
        self.events.push_back(SensorEvent::Gap {
            from_ms,
            to_ms,
            missing_samples: missing,
            cause,
        });
    }
}

/// The most the strap's and the phone's clocks drift apart, ppm (BLE allows a 500 ppm sleep
/// clock; the H10's runs within tens of ppm).
const MAX_DRIFT_PPM: f64 = 500.0;

/// How fast the placement of samples follows the offset estimate, ppm of the stream's time
/// (0.56 ms per 73-sample frame: a 30 ms correction takes 30 s).
const MAX_SLEW_PPM: f64 = 1000.0;

/// A frame that does not follow on from the stream may arrive at most this much "before" the
/// mapped time of its last sample (jitter of the offset estimate) before it counts as a forward
/// clock jump.
const FORWARD_SLACK_MS: f64 = 400.0;

/// How many whole frames a late (reordered) frame may lag the newest one.
const MAX_REORDER_FRAMES: f64 = 3.0;

/// `01 00`: get ECG measurement settings.
pub const GET_ECG_SETTINGS: [u8; 2] = [0x01, 0x00];
/// `03 00`: stop ECG.
pub const STOP_ECG: [u8; 2] = [0x03, 0x00];

fn pick(offered: &[u16], wanted: u16) -> u16 {
    if offered.is_empty() || offered.contains(&wanted) {
        wanted
    } else {
        offered[0]
    }
}

/// Do two arrivals agree on the sensor clock (elapsed sensor time ≈ elapsed phone time)?
fn consistent(threshold_ms: i64, at_a: i64, ts_a: u64, at_b: i64, ts_b: u64) -> bool {
    let ds = (ts_b as i128 - ts_a as i128) / 1_000_000;
    let dp = i128::from(at_b - at_a);
    (ds - dp).abs() <= i128::from(threshold_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensor::replay::{H10_ECG_SETTINGS_REPLY, H10_FEATURES, H10_START_REPLY};

    fn ev(at_ms: i64, kind: TransportEventKind) -> TransportEvent {
        TransportEvent { at_ms, kind }
    }
    fn cp(at: i64, v: &[u8]) -> TransportEvent {
        ev(
            at,
            TransportEventKind::Notification {
                characteristic: Characteristic::PmdControlPoint,
                value: v.to_vec(),
            },
        )
    }
    fn writes(c: &[TransportCommand]) -> Vec<Vec<u8>> {
        c.iter()
            .filter_map(|c| match c {
                TransportCommand::Write { value, .. } => Some(value.clone()),
                _ => None,
            })
            .collect()
    }

    /// Connected, its PMD features read, up to (not including) the settings reply.
    fn features_read(mtu: u16) -> Session {
        let mut s = Session::new(SessionConfig::default());
        s.start(0);
        assert_eq!(s.drain_commands(), [TransportCommand::Connect]);
        s.handle(ev(10, TransportEventKind::Connected { mtu }));
        s.handle(ev(
            20,
            TransportEventKind::ReadResult {
                characteristic: Characteristic::PmdControlPoint,
                value: H10_FEATURES.to_vec(),
            },
        ));
        s
    }

    /// Connected and configured up to (not including) the start reply.
    fn configured(mtu: u16) -> Session {
        let mut s = features_read(mtu);
        s.handle(cp(30, &H10_ECG_SETTINGS_REPLY));
        s
    }

    #[test]
    fn handshake_order_and_small_mtu() {
        let mut s = configured(23);
        let c = s.drain_commands();
        assert_eq!(c[0], TransportCommand::RequestMtu { mtu: 512 });
        assert!(c.contains(&TransportCommand::Subscribe {
            characteristic: Characteristic::PmdControlPoint,
            how: Subscription::Indicate
        }));
        assert_eq!(
            writes(&c),
            [
                GET_ECG_SETTINGS.to_vec(),
                decode::start_ecg_command(130, 14)
            ]
        );
        s.handle(cp(40, &H10_START_REPLY));
        assert_eq!(s.state(), &ConnectionState::Streaming);
    }

    #[test]
    fn a_strap_offering_another_rate_is_timed_at_that_rate() {
        let mut s = features_read(512);
        // settings: 200 Hz only, 14 bits
        s.handle(cp(
            30,
            &[
                0xF0, 0x01, 0, 0, 0, 0x00, 0x01, 0xC8, 0x00, 0x01, 0x01, 0x0E, 0x00,
            ],
        ));
        assert_eq!(
            writes(&s.drain_commands()).last().unwrap(),
            &decode::start_ecg_command(200, 14)
        );
        s.handle(cp(40, &H10_START_REPLY));
        // 50 samples (250 ms at 200 Hz) per frame
        for k in 0..20u64 {
            let ts = 1_000_000_000 + k * 250_000_000;
            let frame = crate::protocol::pmd::encode_ecg_frame(ts, &[10; 50]).unwrap();
            s.handle(ev(
                100 + k as i64 * 250,
                TransportEventKind::Notification {
                    characteristic: Characteristic::PmdData,
                    value: frame,
                },
            ));
        }
        let mut events = Vec::new();
        s.drain_events_into(&mut events);
        let chunk = events
            .iter()
            .find_map(|e| match e {
                SensorEvent::Ecg(c) => Some(c),
                _ => None,
            })
            .expect("an ECG chunk");
        assert!((chunk.sample_interval_ms - 5.0).abs() < 1e-9, "{chunk:?}");
    }

    #[test]
    fn invalid_mtu_requests_mtu_and_retries_start() {
        let mut s = configured(23);
        s.drain_commands();
        s.handle(cp(40, &[0xF0, 0x02, 0x00, 10, 0x00]));
        let c = s.drain_commands();
        assert_eq!(c[0], TransportCommand::RequestMtu { mtu: 512 });
        assert_eq!(writes(&c), [decode::start_ecg_command(130, 14)]);
        s.handle(cp(50, &H10_START_REPLY));
        assert_eq!(s.state(), &ConnectionState::Streaming);
    }

    #[test]
    fn reply_timeouts_retry_then_reconnect_with_backoff() {
        let mut s = configured(512);
        s.drain_commands();
        // no start reply: 2 retries, then drop the link
        s.tick(30 + 5_000);
        s.tick(30 + 10_000);
        assert_eq!(writes(&s.drain_commands()).len(), 2);
        s.tick(30 + 15_000);
        let c = s.drain_commands();
        assert!(c.contains(&TransportCommand::Disconnect));
        assert_eq!(s.state(), &ConnectionState::Reconnecting { attempt: 1 });
        assert_eq!(s.stats().step_timeouts, 3);
        // backoff: ~1 s, then connect; connect times out → attempt 2 after ~2 s
        let t0 = 30 + 15_000;
        s.tick(t0 + 700);
        assert!(s.drain_commands().is_empty());
        s.tick(t0 + 1_300);
        assert_eq!(s.drain_commands(), [TransportCommand::Connect]);
        s.tick(t0 + 1_300 + 15_000);
        assert_eq!(s.state(), &ConnectionState::Reconnecting { attempt: 2 });
        let d = s.next_deadline().unwrap() - (t0 + 1_300 + 15_000);
        assert!((1_600..=2_400).contains(&d), "{d}");
    }

    #[test]
    fn backoff_capped_and_jittered_deterministically() {
        let mut a = Session::new(SessionConfig::default());
        let mut b = Session::new(SessionConfig::default());
        let da: Vec<i64> = (1..12).map(|k| a.backoff_ms(k)).collect();
        let db: Vec<i64> = (1..12).map(|k| b.backoff_ms(k)).collect();
        assert_eq!(da, db);
        assert!(da.iter().all(|&d| d <= 36_000));
        assert!(da[10] >= 24_000);
    }

    #[test]
    fn strap_stop_indication_restarts_stream() {
        let mut s = configured(512);
        s.handle(cp(40, &H10_START_REPLY));
        s.drain_commands();
        s.handle(cp(1_000, &[0x01, 0x00]));
        assert_eq!(
            writes(&s.drain_commands()),
            [decode::start_ecg_command(130, 14)]
        );
        s.handle(cp(1_050, &H10_START_REPLY));
        assert_eq!(s.state(), &ConnectionState::Streaming);
        assert_eq!(s.stats().stream_restarts, 1);
    }

    /// A strap's stop names the measurements it stopped (`01 <types…>`, as Polar's SDK reads
    /// it): a stop of another measurement (ACC) leaves the ECG stream alone.
    #[test]
    fn a_strap_stopping_another_measurement_leaves_the_ecg_stream() {
        let mut s = configured(512);
        s.handle(cp(40, &H10_START_REPLY));
        s.drain_commands();
        s.handle(cp(1_000, &[0x01, 0x02]));
        assert!(writes(&s.drain_commands()).is_empty());
        assert_eq!(s.state(), &ConnectionState::Streaming);
        assert_eq!(s.stats().stream_restarts, 0);
        // ECG among the stopped ones, or no types given: restart
        for (k, stop) in [&[0x01, 0x02, 0x00][..], &[0x01][..]]
            .into_iter()
            .enumerate()
        {
            s.handle(cp(2_000 + 1_000 * k as i64, stop));
            assert_eq!(
                writes(&s.drain_commands()),
                [decode::start_ecg_command(130, 14)]
            );
            s.handle(cp(2_050 + 1_000 * k as i64, &H10_START_REPLY));
            assert_eq!(s.stats().stream_restarts, k as u64 + 1);
        }
    }

    /// A Heart Rate Measurement whose tail is malformed (an odd byte after the RR intervals,
    /// bytes after the heart rate without the RR flag) keeps its heart rate and whole intervals,
    /// as Polar's iOS SDK does.
    #[test]
    fn a_heart_rate_with_a_malformed_tail_keeps_its_rate() {
        let mut s = configured(512);
        s.handle(cp(40, &H10_START_REPLY));
        let hr = |v: &[u8]| {
            ev(
                50,
                TransportEventKind::Notification {
                    characteristic: Characteristic::HeartRateMeasurement,
                    value: v.to_vec(),
                },
            )
        };
        s.handle(hr(&[0x10, 0x3C, 0x37, 0x04, 0x07]));
        s.handle(hr(&[0x00, 0x3D, 0x00]));
        let mut events = Vec::new();
        s.drain_events_into(&mut events);
        let beats: Vec<(u16, Vec<f64>)> = events
            .iter()
            .filter_map(|e| match e {
                SensorEvent::HeartRate { bpm, rr_ms, .. } => Some((*bpm, rr_ms.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(beats.len(), 2, "{events:?}");
        assert_eq!(beats[0].0, 60);
        assert_eq!(beats[0].1.len(), 1);
        assert!((beats[0].1[0] - 1053.7).abs() < 0.1, "{beats:?}");
        assert_eq!(beats[1], (61, vec![]));
        assert_eq!(s.stats().heart_rate_errors, 2);
        // a truncated heart rate is dropped, and counted
        let n = events.len();
        s.handle(hr(&[0x01, 0x3C]));
        s.drain_events_into(&mut events);
        assert_eq!(events.len(), n);
        assert_eq!(s.stats().heart_rate_errors, 3);
    }

    /// A settings reply in several indications (a small MTU, a strap with more settings), here
    /// split inside the sample-rate TLV, starts the stream with the settings of all of them.
    #[test]
    fn a_settings_reply_split_over_indications_is_assembled() {
        let mut s = features_read(512);
        s.drain_commands();
        // 200 Hz, 12 bits
        s.handle(cp(30, &[0xF0, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0xC8]));
        assert!(writes(&s.drain_commands()).is_empty());
        s.handle(cp(
            31,
            &[0xF0, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x0C, 0x00],
        ));
        assert_eq!(
            writes(&s.drain_commands()),
            [decode::start_ecg_command(200, 12)]
        );
        assert_eq!(s.stats().control_point_errors, 0);
        // a reply to another command before the last packet: dropped and counted
        s.handle(cp(40, &[0xF0, 0x01, 0x00, 0x00, 0x01, 0x00]));
        s.handle(cp(41, &H10_START_REPLY));
        assert_eq!(s.stats().control_point_errors, 1);
        assert_eq!(s.state(), &ConnectionState::Configuring);
        // the start is asked again when its reply does not come
        s.tick(10_000);
        assert_eq!(
            writes(&s.drain_commands()),
            [decode::start_ecg_command(200, 12)]
        );
        s.handle(cp(10_010, &H10_START_REPLY));
        assert_eq!(s.state(), &ConnectionState::Streaming);
        assert_eq!(s.stats().control_point_errors, 1);
    }

    /// While heart rate streams after a refusal, a retry answered "invalid MTU" asks for the MTU
    /// and waits for the next retry (the link stays), and a success that comes after the retry
    /// timed out still starts the stream.
    #[test]
    fn refused_stream_retry_survives_an_mtu_reply_and_a_late_success() {
        let mut s = configured(512);
        for at in [40, 50, 60] {
            s.handle(cp(at, &[0xF0, 0x02, 0x00, 12, 0x00]));
        }
        s.drain_commands();
        let heart_rate = |s: &mut Session, t: i64| {
            s.handle(ev(
                t,
                TransportEventKind::Notification {
                    characteristic: Characteristic::HeartRateMeasurement,
                    value: vec![0x10, 60, 0x00, 0x04],
                },
            ));
            s.tick(t);
        };
        for t in (1_000..=60_000).step_by(1_000) {
            heart_rate(&mut s, t);
        }
        s.tick(60_060);
        assert_eq!(writes(&s.drain_commands()).len(), 1, "the retry");
        s.handle(cp(60_100, &[0xF0, 0x02, 0x00, 10, 0x00]));
        let c = s.drain_commands();
        assert!(c.contains(&TransportCommand::RequestMtu { mtu: 512 }));
        assert!(!c.contains(&TransportCommand::Disconnect), "{c:?}");
        assert_eq!(s.state(), &ConnectionState::Streaming);
        assert_eq!(s.ecg_retry_at, Some(120_100));
        for t in (61_000..=126_000).step_by(1_000) {
            heart_rate(&mut s, t);
        }
        // the retry (at the 121 s tick) went unanswered until after its 5 s deadline
        assert_eq!(s.step, Step::Nothing);
        assert!(s.ecg_retry_at.is_some());
        s.handle(cp(126_500, &H10_START_REPLY));
        assert!(s.ecg_started && s.ecg_retry_at.is_none());
        assert!(
            s.events
                .iter()
                .any(|e| matches!(e, SensorEvent::StreamStarted { .. }))
        );
        assert_eq!(s.stats().reconnects, 0);
    }

    /// A strap that answers "invalid state" to every start (another app holds the stream) keeps
    /// its link and streams heart rate; the start is asked again every `ecg_retry_ms`.
    #[test]
    fn refused_ecg_stream_streams_heart_rate_and_asks_again() {
        const INVALID_STATE: [u8; 5] = [0xF0, 0x02, 0x00, 12, 0x00];
        let mut s = configured(512);
        s.drain_commands();
        for at in [40, 50, 60] {
            assert!(
                !s.events
                    .iter()
                    .any(|e| matches!(e, SensorEvent::EcgRefused { .. }))
            );
            s.handle(cp(at, &INVALID_STATE));
        }
        let c = s.drain_commands();
        assert_eq!(writes(&c).len(), 2, "two retries");
        assert!(!c.contains(&TransportCommand::Disconnect));
        assert_eq!(s.state(), &ConnectionState::Streaming);
        assert!(s.events.iter().any(|e| *e
            == SensorEvent::EcgRefused {
                at_ms: 60,
                status: 12
            }));
        // heart rate keeps the link alive; ECG frames are not expected
        let heart_rate = |s: &mut Session, from: i64, to: i64| {
            for t in (from..to).step_by(1_000) {
                s.handle(ev(
                    t,
                    TransportEventKind::Notification {
                        characteristic: Characteristic::HeartRateMeasurement,
                        value: vec![0x10, 60, 0x00, 0x04],
                    },
                ));
                s.tick(t + 500);
            }
        };
        heart_rate(&mut s, 1_000, 60_000);
        assert_eq!(s.state(), &ConnectionState::Streaming);
        assert!(
            s.drain_commands().is_empty(),
            "nothing asked before a minute"
        );
        s.tick(60_060);
        assert_eq!(
            writes(&s.drain_commands()),
            [decode::start_ecg_command(130, 14)]
        );
        // refused again: one try only, then another minute
        s.handle(cp(60_100, &INVALID_STATE));
        assert!(s.drain_commands().is_empty());
        assert_eq!(s.ecg_retry_at, Some(120_100));
        heart_rate(&mut s, 61_000, 120_000);
        // unanswered: heart rate still goes on, no reconnect
        s.tick(120_100);
        assert_eq!(writes(&s.drain_commands()).len(), 1);
        heart_rate(&mut s, 120_000, 185_000);
        assert_eq!(s.state(), &ConnectionState::Streaming);
        assert_eq!(s.stats().reconnects, 0);
        // the unanswered try timed out at 125.5 s (a tick): the next one a minute later
        assert_eq!(s.ecg_retry_at, Some(185_500));
        s.tick(185_500);
        assert_eq!(writes(&s.drain_commands()).len(), 1);
        s.handle(cp(185_600, &H10_START_REPLY));
        assert!(
            s.events
                .iter()
                .any(|e| matches!(e, SensorEvent::StreamStarted { .. }))
        );
        assert_eq!(s.state(), &ConnectionState::Streaming);
    }

    #[test]
    fn stop_stops_stream_before_disconnect() {
        let mut s = configured(512);
        s.handle(cp(40, &H10_START_REPLY));
        s.drain_commands();
        s.stop(100);
        assert_eq!(s.drain_commands(), stop_then_disconnect());
        assert_eq!(s.state(), &ConnectionState::Stopped);
    }

    #[test]
    fn heart_rate_only_strap_and_silence() {
        let mut s = Session::new(SessionConfig::default());
        s.start(0);
        s.handle(ev(10, TransportEventKind::Connected { mtu: 23 }));
        s.handle(ev(
            20,
            TransportEventKind::CommandFailed {
                command: TransportCommand::Subscribe {
                    characteristic: Characteristic::PmdControlPoint,
                    how: Subscription::Indicate,
                },
                reason: "no such characteristic".into(),
            },
        ));
        assert_eq!(s.state(), &ConnectionState::Streaming);
        s.tick(5_100);
        assert_eq!(s.state(), &ConnectionState::Reconnecting { attempt: 1 });
    }

    #[test]
    fn malformed_battery_levels_are_dropped() {
        let mut s = Session::new(SessionConfig::default());
        s.start(0);
        s.handle(ev(10, TransportEventKind::Connected { mtu: 23 }));
        for (t, value) in [
            (20, vec![0xFF]),
            (30, vec![55, 0]),
            (40, vec![]),
            (50, vec![55]),
        ] {
            s.handle(ev(
                t,
                TransportEventKind::Notification {
                    characteristic: Characteristic::BatteryLevel,
                    value,
                },
            ));
        }
        let mut events = Vec::new();
        s.drain_events_into(&mut events);
        let battery: Vec<_> = events
            .into_iter()
            .filter(|e| matches!(e, SensorEvent::Battery { .. }))
            .collect();
        assert_eq!(
            battery,
            [SensorEvent::Battery {
                at_ms: 50,
                percent: 55
            }]
        );
    }

    #[test]
    fn max_reconnect_attempts_fail() {
        let mut s = Session::new(SessionConfig {
            max_reconnect_attempts: Some(1),
            ..SessionConfig::default()
        });
        s.start(0);
        s.handle(ev(
            5,
            TransportEventKind::Disconnected { reason: "x".into() },
        ));
        assert_eq!(s.state(), &ConnectionState::Reconnecting { attempt: 1 });
        s.tick(2_000);
        s.handle(ev(
            2_010,
            TransportEventKind::CommandFailed {
                command: TransportCommand::Connect,
                reason: "unreachable".into(),
            },
        ));
        assert!(matches!(s.state(), ConnectionState::Failed { .. }));
    }

    // --- ECG timing ------------------------------------------------------------------------

    /// Sensor time of one 73-sample frame at 130 Hz, ns.
    const FRAME_NS: u64 = 73 * 1_000_000_000 / 130;

    /// Configured and streaming ECG.
    fn streaming() -> Session {
        let mut s = configured(512);
        s.handle(cp(40, &H10_START_REPLY));
        s.drain_commands();
        s
    }

    /// Sensor timestamp of frame `k` of a continuous stream.
    fn frame_ts(k: u64) -> u64 {
        700_000_000_000_000_000 + k * FRAME_NS
    }

    /// Frame `k` stamped `ts_ns`; its samples are their indices in the stream.
    fn ecg_frame(k: u64, ts_ns: u64) -> TransportEventKind {
        let samples: Vec<i32> = (0..73).map(|i| (k * 73 + i) as i32).collect();
        TransportEventKind::Notification {
            characteristic: Characteristic::PmdData,
            value: crate::protocol::pmd::encode_ecg_frame(ts_ns, &samples).unwrap(),
        }
    }

    /// Phone time of frame `k`'s arrival with the link's usual latency (30 ms), ms.
    fn on_time(k: u64) -> i64 {
        130 + (k * FRAME_NS / 1_000_000) as i64
    }

    /// The gaps among `events`: (missing samples, cause).
    fn gap_lengths(events: &[SensorEvent]) -> Vec<(u64, GapCause)> {
        events
            .iter()
            .filter_map(|e| match e {
                SensorEvent::Gap {
                    missing_samples,
                    cause,
                    ..
                } => Some((*missing_samples, *cause)),
                _ => None,
            })
            .collect()
    }

    fn heart_rate_at(at: i64) -> TransportEvent {
        ev(
            at,
            TransportEventKind::Notification {
                characteristic: Characteristic::HeartRateMeasurement,
                value: vec![0x10, 60, 0x00, 0x04],
            },
        )
    }

    /// ECG that stops while heart rate goes on (the link works): the stream is restarted over
    /// the link, no reconnection; the frames that come after it are kept, the samples between
    /// reported as a gap of the restart. A stream that stays silent then drops the link.
    #[test]
    fn an_ecg_stream_silent_while_heart_rate_arrives_is_restarted_not_the_link() {
        let mut s = streaming();
        for k in 0..5 {
            s.handle(ev(on_time(k), ecg_frame(k, frame_ts(k)))); // the last at 2,376 ms
        }
        for t in (1_000..=8_000).step_by(1_000) {
            s.handle(heart_rate_at(t));
            s.tick(t);
        }
        assert_eq!(
            writes(&s.drain_commands()),
            [STOP_ECG.to_vec(), decode::start_ecg_command(130, 14)]
        );
        assert_eq!(s.stats().reconnects, 0);
        assert_eq!(s.stats().silent_stream_restarts, 1);
        s.handle(cp(8_060, &[0xF0, 0x03, 0x00, 0x00, 0x00]));
        s.handle(cp(8_080, &H10_START_REPLY));
        assert_eq!(s.state(), &ConnectionState::Streaming);
        // frames resume at frame 17: one gap of 12 frames, caused by the restart
        for k in 17..22 {
            s.handle(ev(on_time(k), ecg_frame(k, frame_ts(k))));
        }
        s.stop(13_000);
        let mut events = Vec::new();
        s.drain_events_into(&mut events);
        assert_eq!(gap_lengths(&events), [(12 * 73, GapCause::StreamRestarted)]);
        assert_eq!(s.stats().samples_delivered, 10 * 73);
        assert_eq!(s.stats().timestamp_jumps, 0);

        // silent again after a restart that brought no frame: the link is dropped
        let mut s = streaming();
        s.handle(ev(on_time(0), ecg_frame(0, frame_ts(0))));
        let mut t = 1_000;
        while s.stats().reconnects == 0 && t < 30_000 {
            s.handle(heart_rate_at(t));
            if s.state() == &ConnectionState::Configuring {
                s.handle(cp(t + 50, &H10_START_REPLY));
            }
            s.tick(t + 100);
            t += 1_000;
        }
        assert_eq!(s.stats().silent_stream_restarts, 1);
        assert_eq!(s.stats().reconnects, 1);
        // restarted at the tick of 6,100 ms (5 s after the frame), answered at 7,050, dropped
        // at the tick of 12,100
        assert_eq!(t, 12_000 + 1_000, "dropped at the tick of {} ms", t - 900);
    }

    /// ACC frames (another app started ACC on the strap; notifications go to every subscriber)
    /// are not ECG, and not corrupt either.
    #[test]
    fn frames_of_another_measurement_are_ignored_not_counted_corrupt() {
        let mut s = streaming();
        let data = |at, value| {
            ev(
                at,
                TransportEventKind::Notification {
                    characteristic: Characteristic::PmdData,
                    value,
                },
            )
        };
        s.handle(ev(on_time(0), ecg_frame(0, frame_ts(0))));
        let acc = pmd::encode_acc_frame(frame_ts(1), 1, &[[0, 0, 1000]; 36]).unwrap();
        s.handle(data(on_time(1) - 100, acc));
        let mut truncated = pmd::encode_ecg_frame(frame_ts(1), &[10; 73]).unwrap();
        truncated.truncate(12);
        s.handle(data(on_time(1) - 50, truncated));
        s.handle(ev(on_time(1), ecg_frame(1, frame_ts(1))));
        s.stop(on_time(1) + 10);
        assert_eq!(s.stats().other_measurement_frames, 1);
        assert_eq!(s.stats().corrupt_frames_dropped, 1);
        assert_eq!(s.stats().frames_delivered, 2);
    }

    /// Feed frames `(k, sensor timestamp, arrival)`, then stop; every event.
    fn stream(
        s: &mut Session,
        frames: impl IntoIterator<Item = (u64, u64, i64)>,
    ) -> Vec<SensorEvent> {
        let mut last = 0;
        for (k, ts, at) in frames {
            s.handle(ev(at, ecg_frame(k, ts)));
            s.tick(at);
            last = at;
        }
        s.stop(last + 10);
        let mut events = Vec::new();
        s.drain_events_into(&mut events);
        events
    }

    fn chunks(events: &[SensorEvent]) -> Vec<&EcgChunk> {
        events
            .iter()
            .filter_map(|e| match e {
                SensorEvent::Ecg(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    fn samples(events: &[SensorEvent]) -> Vec<i32> {
        chunks(events)
            .iter()
            .flat_map(|c| c.samples_uv.iter().copied())
            .collect()
    }

    fn jumps_and_gaps(events: &[SensorEvent]) -> Vec<&SensorEvent> {
        events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    SensorEvent::TimestampJump { .. } | SensorEvent::Gap { .. }
                )
            })
            .collect()
    }

    /// Every sample of frames `0..frames`, in order, no jump nor gap, and the last one placed
    /// within 2 ms of its true time (the arrival of its frame on time).
    fn assert_seamless(events: &[SensorEvent], frames: u64) {
        let reported = jumps_and_gaps(events);
        assert!(reported.is_empty(), "{reported:?}");
        assert!(samples(events) == (0..frames as i32 * 73).collect::<Vec<_>>());
        let last = chunks(events).last().unwrap().last_sample_ms();
        let misplaced = last - on_time(frames - 1) as f64;
        assert!(misplaced.abs() < 2.0, "last sample {misplaced:+.1} ms off");
        assert_contiguous(events);
    }

    /// Each chunk starts one sample interval (± a quarter of it) after the previous one ends:
    /// times neither step back nor jump ahead (an export would drop or pad samples there).
    fn assert_contiguous(events: &[SensorEvent]) {
        for w in chunks(events).windows(2) {
            let step = w[1].first_sample_ms - w[0].last_sample_ms();
            assert!(
                (step / w[1].sample_interval_ms - 1.0).abs() < 0.25,
                "chunk at {:.1} ms starts {step:+.1} ms after the previous one ends",
                w[1].first_sample_ms
            );
        }
    }

    /// A first frame that came late (a burst at the stream's start) sets too high an offset; the
    /// next frames, on time, lower it: no clock jump.
    #[test]
    fn a_late_first_frame_is_a_drop_of_latency_not_a_clock_jump() {
        for late_ms in [401, 1_500] {
            let mut s = streaming();
            let late = |k| if k == 0 { late_ms } else { 0 };
            let events = stream(
                &mut s,
                (0..200).map(|k| (k, frame_ts(k), on_time(k) + late(k))),
            );
            assert_seamless(&events, 200);
        }
    }

    /// A link stall of 3.9 s: the frames held back come in a burst (the first two swapped), none
    /// lost; the sensor clock ran on.
    #[test]
    fn a_stall_delivered_in_a_burst_is_not_a_clock_jump() {
        let mut s = streaming();
        let burst = on_time(27) - 10;
        let mut frames: Vec<_> = (0..200)
            .map(|k| {
                let at = match k {
                    20 => burst + 1,
                    21 => burst,
                    22..27 => burst + k as i64 - 20,
                    _ => on_time(k),
                };
                (k, frame_ts(k), at)
            })
            .collect();
        frames.swap(20, 21);
        let events = stream(&mut s, frames);
        assert_seamless(&events, 200);
    }

    /// A stall that lost 6 frames, the two after them 3.5-4 s late: a gap of exactly those.
    #[test]
    fn a_stall_that_lost_frames_reports_just_those() {
        let mut s = streaming();
        let late = on_time(27) + 3_500;
        let frames = (0..20).chain(26..200).map(|k| {
            let at = match k {
                26 | 27 => late + k as i64 - 26,
                28.. => on_time(k).max(late + 2),
                _ => on_time(k),
            };
            (k, frame_ts(k), at)
        });
        let events = stream(&mut s, frames);
        let reported: Vec<_> = jumps_and_gaps(&events)
            .into_iter()
            .map(|e| match e {
                SensorEvent::Gap {
                    missing_samples,
                    cause,
                    ..
                } => (*missing_samples, *cause),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(reported, [(6 * 73, GapCause::FramesMissing)]);
        assert_eq!(samples(&events).len(), 194 * 73);
    }

    /// A sensor clock that jumps forward still makes a jump: by a fraction of a frame, or by
    /// whole frames, more than a silent link would have lost.
    #[test]
    fn a_sensor_clock_jumping_forward_is_still_a_jump() {
        for jump_ns in [1_300_000_000, 20 * FRAME_NS] {
            let mut s = streaming();
            let frames = (0..60).map(|k| {
                let ts = frame_ts(k) + if k >= 30 { jump_ns } else { 0 };
                (k, ts, on_time(k))
            });
            let events = stream(&mut s, frames);
            let reported = jumps_and_gaps(&events);
            assert!(
                matches!(reported[..], [SensorEvent::TimestampJump { .. }]),
                "{reported:?}"
            );
            assert!(samples(&events) == (0..60 * 73).collect::<Vec<_>>());
        }
    }

    /// A frame held undecided (a clock jump or a corrupt frame: here the H10's clock reset) when
    /// the session stops or loses the link counts as dropped: every frame is delivered or counted.
    #[test]
    fn an_undecided_frame_counts_as_dropped_on_stop_and_link_loss() {
        for lose_link in [false, true] {
            let mut s = streaming();
            for k in 0..10 {
                s.handle(ev(on_time(k), ecg_frame(k, frame_ts(k))));
            }
            let reset_ns = crate::protocol::timing::H10_RESET_PMD_NS + 10_000_000_000;
            s.handle(ev(on_time(10), ecg_frame(10, reset_ns)));
            let later = on_time(10) + 100;
            if lose_link {
                s.handle(ev(
                    later,
                    TransportEventKind::Disconnected { reason: "x".into() },
                ));
            } else {
                s.stop(later);
            }
            let stats = s.stats();
            assert_eq!(
                (stats.frames_delivered, stats.corrupt_frames_dropped),
                (10, 1),
                "link lost: {lose_link}"
            );
        }
    }

    /// After a reconnection the stream starts in a new sample phase, and its first frames may
    /// come late (here 3.5 s, beyond the jump threshold: a burst after a slow link). They were
    /// sampled after the link was lost, so they are the stream going on, not a clock jump: the
    /// gap is measured on the sensor clock.
    #[test]
    fn late_first_frames_after_a_reconnection_are_no_clock_jump() {
        let mut s = streaming();
        for k in 0..10 {
            s.handle(ev(on_time(k), ecg_frame(k, frame_ts(k))));
        }
        let lost_at = on_time(9) + 100;
        s.handle(ev(
            lost_at,
            TransportEventKind::Disconnected { reason: "x".into() },
        ));
        s.tick(lost_at + 1_500);
        assert_eq!(s.drain_commands(), [TransportCommand::Connect]);
        s.handle(ev(
            lost_at + 2_000,
            TransportEventKind::Connected { mtu: 512 },
        ));
        s.handle(ev(
            lost_at + 2_010,
            TransportEventKind::ReadResult {
                characteristic: Characteristic::PmdControlPoint,
                value: H10_FEATURES.to_vec(),
            },
        ));
        s.handle(cp(lost_at + 2_020, &H10_ECG_SETTINGS_REPLY));
        s.handle(cp(lost_at + 2_030, &H10_START_REPLY));
        // the new stream: 40 samples off the old phase, frames from k = 15 on, the first six
        // arriving together 3.5 s late
        let shift = 40 * FRAME_NS / 73;
        let ts = |k: u64| frame_ts(k) + shift;
        let burst_at = on_time(20) + 3_500;
        for k in 15..21 {
            s.handle(ev(burst_at, ecg_frame(k, ts(k))));
        }
        for k in 21..40 {
            s.handle(ev(on_time(k).max(burst_at) + 5, ecg_frame(k, ts(k))));
        }
        s.stop(on_time(40));
        let mut events = Vec::new();
        s.drain_events_into(&mut events);
        assert_eq!(s.stats().timestamp_jumps, 0, "{:?}", s.stats());
        assert_eq!(gap_lengths(&events), [(5 * 73 + 40, GapCause::LinkLost)]);
        assert_eq!(s.stats().frames_delivered, 10 + 25);
    }

    // --- starting and stopping the stream ----------------------------------------------------

    fn stop_then_disconnect() -> [TransportCommand; 2] {
        [
            TransportCommand::Write {
                characteristic: Characteristic::PmdControlPoint,
                value: STOP_ECG.to_vec(),
            },
            TransportCommand::Disconnect,
        ]
    }

    /// The start was written and its reply lost: the strap may be streaming, so the stream is
    /// stopped before the link is dropped (the reply timed out three times) and on stop.
    #[test]
    fn an_unanswered_start_is_stopped_before_a_disconnect() {
        let mut s = configured(512);
        s.tick(30 + 5_000);
        s.tick(30 + 10_000);
        s.drain_commands();
        s.tick(30 + 15_000);
        assert_eq!(s.drain_commands(), stop_then_disconnect());
        assert_eq!(s.state(), &ConnectionState::Reconnecting { attempt: 1 });

        let mut s = configured(512);
        s.drain_commands();
        s.stop(100);
        assert_eq!(s.drain_commands(), stop_then_disconnect());
    }

    /// A strap that refused the stream (another app holds it) is not told to stop it.
    #[test]
    fn a_refused_stream_is_not_stopped() {
        let mut s = configured(512);
        for at in [40, 50, 60] {
            s.handle(cp(at, &[0xF0, 0x02, 0x00, 12, 0x00]));
        }
        s.drain_commands();
        s.stop(100);
        assert_eq!(s.drain_commands(), [TransportCommand::Disconnect]);
    }

    /// ECG frames before the start's reply show that the stream runs: they are kept, and the
    /// session streams without waiting for the reply (no retries, no reconnection).
    #[test]
    fn ecg_frames_before_the_start_reply_start_the_stream() {
        let mut s = configured(512);
        s.drain_commands();
        let events = stream(&mut s, (0..40).map(|k| (k, frame_ts(k), on_time(k))));
        let started = events
            .iter()
            .filter(|e| matches!(e, SensorEvent::StreamStarted { .. }))
            .count();
        assert_eq!(started, 1);
        assert_seamless(&events, 40);
        assert_eq!(s.drain_commands(), stop_then_disconnect());
        assert_eq!(s.stats().reconnects, 0);
    }
}
