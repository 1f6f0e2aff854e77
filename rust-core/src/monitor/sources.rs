//! The sources a monitor session can run on, and their pacing.

use std::path::Path;
use std::sync::Arc;

use crate::sensor::replay::{Clock, ManualClock, ReplaySource, SystemClock};
use crate::sensor::source::SessionSource;
use crate::sensor::{ConnectionState, SensorEvent, SensorSource, Session, SessionConfig};
use crate::sim::ecgsyn::{EcgConfig, NoiseConfig, StressEpisode};
use crate::sim::faults::FaultConfig;
use crate::sim::strap::{SimStrap, StrapConfig};

/// How the worker advances time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// A virtual clock that jumps `step_ms` per step: as fast as the CPU allows, deterministic.
    AsFastAsPossible {
        /// Virtual time per step, ms.
        step_ms: i64,
    },
    /// The real monotonic clock, one step every `step_ms`.
    RealTime {
        /// Time per step, ms.
        step_ms: i64,
    },
}

impl Pacing {
    /// The clock and the step for this pacing.
    pub fn clock(self) -> (Box<dyn Clock + Send>, i64) {
        match self {
            Pacing::AsFastAsPossible { step_ms } => {
                (Box::new(ManualClock::default()), step_ms.max(1))
            }
            Pacing::RealTime { step_ms } => (Box::new(SystemClock::default()), step_ms.max(1)),
        }
    }
}

/// A simulated strap session.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatorSpec {
    /// Length, minutes.
    pub minutes: f64,
    /// Seed (same seed, same session).
    pub seed: u64,
    /// Stress episodes.
    pub stress: Vec<StressEpisode>,
    /// Link and signal faults.
    pub faults: FaultConfig,
    /// Typical (motion, muscle, mains) noise instead of a clean signal.
    pub noisy: bool,
    /// Heart Rate Service only (RR intervals, no ECG stream), as most chest straps.
    pub heart_rate_only: bool,
}

/// The simulated H10 behind a real [`Session`], ending after `spec.minutes`.
pub fn simulator_source(spec: &SimulatorSpec) -> TimeLimited<SessionSource<SimStrap>> {
    let strap = SimStrap::new(StrapConfig {
        ecg: EcgConfig {
            stress: spec.stress.clone(),
            noise: if spec.noisy {
                NoiseConfig::typical()
            } else {
                NoiseConfig::clean()
            },
            seed: spec.seed,
            ..EcgConfig::default()
        },
        faults: spec.faults,
        seed: spec.seed,
        ..StrapConfig::default()
    });
    let session = Session::new(SessionConfig {
        seed: spec.seed,
        ecg: !spec.heart_rate_only,
        ..SessionConfig::default()
    });
    TimeLimited::new(
        SessionSource::new(session, strap),
        (spec.minutes * 60_000.0).round() as i64,
    )
}

/// The fastest paced replay, × real time (a day in under 90 s); faster: as fast as possible.
pub const MAX_REPLAY_SPEED: f64 = 1_000.0;

/// A file replayed: `speed` `None` = as fast as possible (virtual clock), else that multiple
/// of real time, at most [`MAX_REPLAY_SPEED`]; `opts` for a CSV; `channel` the recording's
/// channel (default: its ECG channel, [`crate::io::replay_events`]). Returns the source and the
/// pacing to run it with.
pub fn replay_source(
    path: &Path,
    speed: Option<f64>,
    opts: &crate::io::LoadOptions,
    channel: Option<usize>,
) -> crate::Result<(ReplaySource<ManualClock>, Pacing)> {
    let paced = speed.filter(|s| s.is_finite() && *s > 0.0 && *s <= MAX_REPLAY_SPEED);
    let (source_speed, pacing) = match paced {
        // Released 1 s of recording per virtual second: bounded work per step.
        None => (Some(1.0), Pacing::AsFastAsPossible { step_ms: 1_000 }),
        Some(s) => (Some(s), Pacing::RealTime { step_ms: 100 }),
    };
    let source = ReplaySource::from_events(
        crate::io::replay_events(path, opts, channel)?,
        source_speed,
        ManualClock::default(),
    );
    Ok((source, pacing))
}

/// A source that ends at phone time `end_ms` (the inner source is stopped then).
#[derive(Debug)]
pub struct TimeLimited<S> {
    inner: S,
    end_ms: i64,
    stopped: bool,
}

impl<S: SensorSource> TimeLimited<S> {
    /// `inner` until `end_ms`.
    pub fn new(inner: S, end_ms: i64) -> Self {
        Self {
            inner,
            end_ms,
            stopped: false,
        }
    }

    /// The wrapped source (e.g. the simulator's ground truth).
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S: SensorSource> SensorSource for TimeLimited<S> {
    fn poll(&mut self, now_ms: i64, out: &mut Vec<SensorEvent>) -> bool {
        if self.stopped {
            return false;
        }
        let alive = self.inner.poll(now_ms.min(self.end_ms), out);
        if now_ms >= self.end_ms {
            self.stop(self.end_ms);
            self.inner.poll(self.end_ms, out);
            return false;
        }
        alive
    }

    fn stop(&mut self, now_ms: i64) {
        if !self.stopped {
            self.stopped = true;
            self.inner.stop(now_ms);
        }
    }

    fn next_due_ms(&self) -> Option<i64> {
        if self.stopped {
            return None;
        }
        self.inner.next_due_ms().map(|due| due.min(self.end_ms))
    }

    fn clock_ms(&self, now_ms: i64) -> i64 {
        self.inner.clock_ms(now_ms)
    }
}

/// The platform bridge's [`crate::ffi::StrapSession`] as a source: the app drives
/// the session (callbacks, `tick`); the monitor consumes its decoded events.
#[derive(Debug)]
pub struct BridgeSource {
    session: Arc<crate::ffi::StrapSession>,
    last_ms: i64,
    /// The app's clock when the monitor's began (its 0).
    origin_ms: i64,
    /// The session's state when handed over (an app may start it, and drain its events, before
    /// the monitor takes it): told first unless the first events say it themselves.
    handed_over: Option<ConnectionState>,
}

impl BridgeSource {
    /// Take `session`'s events (it refuses `pollEvents` until this source is dropped); `now_ms`:
    /// the app's clock now (the one it gives the session). Errors: `InvalidState` when the
    /// session has ended or another monitor session takes its events.
    pub fn new(
        session: Arc<crate::ffi::StrapSession>,
        now_ms: i64,
    ) -> Result<Self, crate::ffi::StressBeatError> {
        session.attach_monitor()?;
        let handed_over = session
            .connection_state()
            .filter(|s| *s != ConnectionState::Idle);
        Ok(Self {
            session,
            last_ms: 0,
            origin_ms: now_ms,
            handed_over,
        })
    }
}

impl Drop for BridgeSource {
    fn drop(&mut self) {
        self.session.detach_monitor();
    }
}

impl SensorSource for BridgeSource {
    fn poll(&mut self, _now_ms: i64, out: &mut Vec<SensorEvent>) -> bool {
        // terminal first: a session that ends between the two calls keeps its last events
        let terminal = self.session.is_terminal();
        let n = out.len();
        out.extend(self.session.take_sensor_events());
        if let Some(state) = self.handed_over.take()
            && !out[n..]
                .iter()
                .any(|e| matches!(e, SensorEvent::Connection(_)))
        {
            out.insert(n, SensorEvent::Connection(state));
        }
        for e in &out[n..] {
            if let SensorEvent::HeartRate { at_ms, .. } | SensorEvent::Battery { at_ms, .. } = e {
                self.last_ms = self.last_ms.max(*at_ms);
            }
        }
        !terminal
    }

    fn stop(&mut self, _now_ms: i64) {
        // The session's own clock (the app's); `stop` does not depend on the time.
        let _ = self.session.stop(self.last_ms);
    }

    /// The app's clock: its latest time, or the time since the start if that is later (the
    /// app may hand over its notifications in bursts, or faster than real time in tests).
    fn clock_ms(&self, now_ms: i64) -> i64 {
        let elapsed = self.origin_ms.saturating_add(now_ms);
        self.session.latest_ms().map_or(elapsed, |t| t.max(elapsed))
    }
}

/// A strap over btleplug (feature `ble`): a thread with its own single-threaded async runtime
/// finds the device and runs the session; events cross to the monitor through a channel.
#[cfg(feature = "ble")]
#[derive(Debug)]
pub struct BleSource {
    events: std::sync::mpsc::Receiver<SensorEvent>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The events' clock starts here (before the scan).
    origin: std::time::Instant,
}

#[cfg(feature = "ble")]
impl BleSource {
    /// Scan for `device` (name, name prefix or id) for up to 15 s and stream from it.
    pub fn connect(device: String) -> std::io::Result<Self> {
        use crate::sensor::ble;
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let origin = std::time::Instant::now();
        let thread = std::thread::Builder::new()
            .name("stressbeat-ble".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        log::warn!("ble: no runtime: {e}");
                        return;
                    }
                };
                let failed = |reason: String| {
                    let _ = tx.send(SensorEvent::Connection(
                        crate::sensor::ConnectionState::Failed { reason },
                    ));
                };
                rt.block_on(async {
                    // Reasons without the device's name (it may carry its serial number).
                    let adapter = match ble::first_adapter().await {
                        Ok(a) => a,
                        Err(_) => return failed("no Bluetooth adapter".into()),
                    };
                    let p = match ble::find(&adapter, &device, 15.0).await {
                        Ok(p) => p,
                        Err(_) => return failed("strap not found".into()),
                    };
                    let stop = async {
                        let _ = stop_rx.await;
                    };
                    let r = ble::run_session(
                        &adapter,
                        p,
                        SessionConfig::default(),
                        origin,
                        stop,
                        |e| {
                            let _ = tx.send(e);
                        },
                    )
                    .await;
                    if r.is_err() {
                        failed("Bluetooth error".into());
                    }
                });
            })?;
        Ok(Self {
            events: rx,
            stop: Some(stop_tx),
            thread: Some(thread),
            origin,
        })
    }
}

#[cfg(feature = "ble")]
impl SensorSource for BleSource {
    fn poll(&mut self, _now_ms: i64, out: &mut Vec<SensorEvent>) -> bool {
        let mut ended = false;
        loop {
            match self.events.try_recv() {
                Ok(e) => {
                    ended |= matches!(&e, SensorEvent::Connection(s) if s.is_terminal());
                    out.push(e);
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    ended = true;
                    break;
                }
            }
        }
        !ended
    }

    fn stop(&mut self, _now_ms: i64) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    fn clock_ms(&self, _now_ms: i64) -> i64 {
        i64::try_from(self.origin.elapsed().as_millis()).unwrap_or(i64::MAX)
    }
}
