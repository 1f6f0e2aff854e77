//! Platform bridge: the phone's own BLE stack (Android `BluetoothGatt`, iOS CoreBluetooth) moves
//! the bytes, the core decides. The uniffi surface is in `crate::ffi` (`StrapSession`,
//! `BleTransport`, in `ffi/strap.rs`); this module holds the FFI-independent part: the session behind a mutex and a
//! command dispatcher that never calls the foreign transport while holding the lock (so the
//! transport may call back into the session synchronously from `execute`) and keeps command order.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::events::{GapCause, SensorEvent};
use super::session::{Session, SessionConfig};
use super::transport::{TransportCommand, TransportEvent};

/// Something that carries out transport commands (the foreign transport behind the FFI).
pub trait CommandSink: Send + Sync {
    fn execute(&self, command: TransportCommand);
}

/// Decoded events kept for the app or the monitor to take (about 10 min of an H10's ECG frames
/// and heart rate); beyond it the oldest are dropped, so a session nobody drains stays bounded
/// (their ECG comes back as one gap).
pub const MAX_PENDING_EVENTS: usize = 2_048;

/// The session with its decoded events waiting to be taken, and the ECG dropped from them.
type Queued = (Session, Vec<SensorEvent>, Option<DroppedEcg>);

/// ECG dropped from a full queue (and gaps dropped with it): told as one gap before the next
/// events taken, so the samples either side are not joined as if they were continuous.
#[derive(Debug, Clone, Copy, PartialEq)]
struct DroppedEcg {
    from_ms: f64,
    to_ms: f64,
    samples: u64,
}

impl DroppedEcg {
    /// Add a dropped event's ECG or gap (other events hold no samples).
    fn add(this: &mut Option<Self>, event: &SensorEvent) {
        let (from_ms, to_ms, samples) = match event {
            SensorEvent::Ecg(c) => (
                c.first_sample_ms,
                c.last_sample_ms() + c.sample_interval_ms,
                c.samples_uv.len() as u64,
            ),
            SensorEvent::Gap {
                from_ms,
                to_ms,
                missing_samples,
                ..
            } => (*from_ms, *to_ms, *missing_samples),
            _ => return,
        };
        let d = this.get_or_insert(Self {
            from_ms,
            to_ms,
            samples: 0,
        });
        d.from_ms = d.from_ms.min(from_ms);
        d.to_ms = d.to_ms.max(to_ms);
        d.samples += samples;
    }
}

/// The queued events, with the dropped ECG first as a gap.
fn take_queued(queue: &mut Queued) -> Vec<SensorEvent> {
    let mut events = std::mem::take(&mut queue.1);
    if let Some(d) = queue.2.take() {
        events.insert(
            0,
            SensorEvent::Gap {
                from_ms: d.from_ms,
                to_ms: d.to_ms,
                missing_samples: d.samples,
                cause: GapCause::FramesMissing,
            },
        );
    }
    events
}

/// A poisoned lock (a panic happened while it was held) — reported, never unwrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poisoned;

/// A [`Session`] shared between the app's BLE callbacks, its timer and its UI thread.
#[derive(Debug)]
pub struct BridgeCore {
    session: Mutex<Queued>,
    pending: Mutex<VecDeque<TransportCommand>>,
    dispatching: AtomicBool,
    /// Decoded events were dropped because nobody took them (warned once).
    dropped_events: AtomicBool,
    /// A monitor takes the decoded events (then the app may not).
    attached: AtomicBool,
}

impl BridgeCore {
    pub fn new(cfg: SessionConfig) -> Self {
        Self {
            session: Mutex::new((Session::new(cfg), Vec::new(), None)),
            pending: Mutex::new(VecDeque::new()),
            dispatching: AtomicBool::new(false),
            dropped_events: AtomicBool::new(false),
            attached: AtomicBool::new(false),
        }
    }

    /// Run `f` on the session, then hand the commands it produced to `sink` (outside the lock).
    pub fn with_session<R>(
        &self,
        sink: &dyn CommandSink,
        f: impl FnOnce(&mut Session) -> R,
    ) -> Result<R, Poisoned> {
        let r = {
            let mut g = self.session.lock().map_err(|_| Poisoned)?;
            let (s, ev, dropped) = &mut *g;
            let r = f(s);
            s.drain_events_into(ev);
            if ev.len() > MAX_PENDING_EVENTS {
                let excess = ev.len() - MAX_PENDING_EVENTS;
                for e in ev.drain(..excess) {
                    DroppedEcg::add(dropped, &e);
                }
                if !self.dropped_events.swap(true, Ordering::Relaxed) {
                    log::warn!("bridge: decoded events dropped: nobody takes them");
                }
            }
            let cmds = s.drain_commands();
            if !cmds.is_empty() {
                self.pending.lock().map_err(|_| Poisoned)?.extend(cmds);
            }
            r
        };
        self.dispatch(sink)?;
        Ok(r)
    }

    pub fn handle(&self, sink: &dyn CommandSink, ev: TransportEvent) -> Result<(), Poisoned> {
        self.with_session(sink, |s| s.handle(ev))
    }

    /// Read the session without running commands (safe on any thread, e.g. the monitor's).
    pub fn read<R>(&self, f: impl FnOnce(&Session) -> R) -> Result<R, Poisoned> {
        Ok(f(&self.session.lock().map_err(|_| Poisoned)?.0))
    }

    /// The latest time the app gave the session.
    pub fn latest_ms(&self) -> Result<Option<i64>, Poisoned> {
        self.read(Session::latest_ms)
    }

    /// Make one consumer (a monitor) the only taker of decoded events; `false` when one
    /// already is.
    pub fn attach(&self) -> bool {
        // under the session's lock: an app taking events at the same moment takes them before
        // the consumer exists, or not at all
        let _g = self.session.lock();
        !self.attached.swap(true, Ordering::AcqRel)
    }

    /// The consumer has let go.
    pub fn detach(&self) {
        self.attached.store(false, Ordering::Release);
    }

    /// Decoded events since the last call (for the consumer).
    pub fn take_events(&self) -> Result<Vec<SensorEvent>, Poisoned> {
        let mut g = self.session.lock().map_err(|_| Poisoned)?;
        Ok(take_queued(&mut g))
    }

    /// Decoded events since the last call, for the app; `None` while a consumer takes them.
    pub fn take_events_unless_attached(&self) -> Result<Option<Vec<SensorEvent>>, Poisoned> {
        let mut g = self.session.lock().map_err(|_| Poisoned)?;
        if self.attached.load(Ordering::Acquire) {
            return Ok(None);
        }
        Ok(Some(take_queued(&mut g)))
    }

    /// Trampoline: the outermost caller executes queued commands in order; a call made from
    /// inside `execute` only queues. A panic in `execute` (an exception thrown by the app's
    /// transport) loses that command but not the dispatcher: the next call dispatches again.
    fn dispatch(&self, sink: &dyn CommandSink) -> Result<(), Poisoned> {
        /// Clears the flag when dispatching ends, also by unwinding.
        struct Dispatching<'a>(&'a AtomicBool);
        impl Drop for Dispatching<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        loop {
            if self.dispatching.swap(true, Ordering::AcqRel) {
                return Ok(());
            }
            let flag = Dispatching(&self.dispatching);
            loop {
                let next = self.pending.lock().map_err(|_| Poisoned)?.pop_front();
                match next {
                    Some(c) => sink.execute(c),
                    None => break,
                }
            }
            drop(flag);
            // A command queued by another thread between the last pop and the store?
            if self.pending.lock().map_err(|_| Poisoned)?.is_empty() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensor::transport::{Characteristic, TransportEventKind};
    use std::sync::Arc;

    /// Answers synchronously from inside `execute`, like a fake transport in the app tests.
    struct Echo {
        core: Arc<BridgeCore>,
        log: Mutex<Vec<TransportCommand>>,
    }
    impl CommandSink for Echo {
        fn execute(&self, c: TransportCommand) {
            if let Ok(mut l) = self.log.lock() {
                l.push(c.clone());
            }
            let reply = match &c {
                TransportCommand::Connect => Some(TransportEventKind::Connected { mtu: 512 }),
                TransportCommand::Read {
                    characteristic: Characteristic::PmdControlPoint,
                } => Some(TransportEventKind::ReadResult {
                    characteristic: Characteristic::PmdControlPoint,
                    value: vec![0x0F, 0x05, 0x00],
                }),
                TransportCommand::Write { value, .. } if value[..] == [1, 0] => {
                    Some(TransportEventKind::Notification {
                        characteristic: Characteristic::PmdControlPoint,
                        value: vec![
                            0xF0, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E,
                            0x00,
                        ],
                    })
                }
                TransportCommand::Write { value, .. } if value[0] == 2 => {
                    Some(TransportEventKind::Notification {
                        characteristic: Characteristic::PmdControlPoint,
                        value: vec![0xF0, 0x02, 0x00, 0x00, 0x00],
                    })
                }
                _ => None,
            };
            if let Some(kind) = reply {
                let _ = self.core.handle(self, TransportEvent { at_ms: 10, kind });
            }
        }
    }

    /// Throws (panics) on its first command, like an app transport without the permission yet.
    struct ThrowsOnce {
        thrown: AtomicBool,
        log: Mutex<Vec<TransportCommand>>,
    }
    impl CommandSink for ThrowsOnce {
        fn execute(&self, c: TransportCommand) {
            if !self.thrown.swap(true, Ordering::AcqRel) {
                panic!("SecurityException");
            }
            if let Ok(mut l) = self.log.lock() {
                l.push(c);
            }
        }
    }

    #[test]
    fn an_exception_in_the_transport_does_not_stop_later_commands() {
        let core = BridgeCore::new(SessionConfig::default());
        let sink = ThrowsOnce {
            thrown: AtomicBool::new(false),
            log: Mutex::new(Vec::new()),
        };
        let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            core.with_session(&sink, |s| s.start(0))
        }));
        assert!(
            first.is_err(),
            "the panic reaches the caller (the FFI guard)"
        );
        // The app retries: the session reconnects after its backoff and the command goes out.
        for t in (0..60_000).step_by(500) {
            core.with_session(&sink, |s| s.tick(t)).unwrap();
        }
        let sent = sink.log.lock().unwrap().clone();
        assert!(sent.contains(&TransportCommand::Connect), "{sent:?}");
    }

    #[test]
    fn events_nobody_takes_stay_bounded() {
        let core = BridgeCore::new(SessionConfig::default());
        let sink = ThrowsOnce {
            thrown: AtomicBool::new(true),
            log: Mutex::new(Vec::new()),
        };
        core.with_session(&sink, |s| s.start(0)).unwrap();
        core.handle(
            &sink,
            TransportEvent {
                at_ms: 10,
                kind: TransportEventKind::Connected { mtu: 23 },
            },
        )
        .unwrap();
        // an hour of heart-rate notifications, never taken
        for t in 0..3_600 {
            core.handle(
                &sink,
                TransportEvent {
                    at_ms: 20 + t * 1_000,
                    kind: TransportEventKind::Notification {
                        characteristic: Characteristic::HeartRateMeasurement,
                        value: vec![0x10, 60, 0x00, 0x04],
                    },
                },
            )
            .unwrap();
        }
        let events = core.take_events().unwrap();
        assert_eq!(events.len(), MAX_PENDING_EVENTS);
        // the newest are kept
        assert!(matches!(
            events.last(),
            Some(SensorEvent::HeartRate { at_ms, .. }) if *at_ms == 20 + 3_599 * 1_000
        ));
    }

    /// ECG nobody took in time is dropped, but told as a gap before the newest frames, so the
    /// consumer does not join the samples either side.
    #[test]
    fn ecg_dropped_from_a_full_queue_comes_back_as_a_gap() {
        let frames = MAX_PENDING_EVENTS + 100;
        // the frames' events, taken after every frame (`drain`) or only at the end
        let run = |drain: bool| {
            let core = Arc::new(BridgeCore::new(SessionConfig::default()));
            let echo = Echo {
                core: core.clone(),
                log: Mutex::new(Vec::new()),
            };
            core.with_session(&echo, |s| s.start(0)).unwrap();
            core.take_events().unwrap();
            let mut events = Vec::new();
            for k in 0..frames as u64 {
                let ts_ns = 1_000_000_000 + k * 73 * 1_000_000_000 / 130;
                let value = crate::protocol::pmd::encode_ecg_frame(ts_ns, &[100; 73]).unwrap();
                core.handle(
                    &echo,
                    TransportEvent {
                        at_ms: 20 + (k * 73 * 1_000 / 130) as i64,
                        kind: TransportEventKind::Notification {
                            characteristic: Characteristic::PmdData,
                            value,
                        },
                    },
                )
                .unwrap();
                if drain {
                    events.extend(core.take_events().unwrap());
                }
            }
            events.extend(core.take_events().unwrap());
            assert!(core.take_events().unwrap().is_empty(), "told once");
            events
        };
        let ecg = |events: &[SensorEvent]| -> Vec<(f64, u64)> {
            events
                .iter()
                .filter_map(|e| match e {
                    SensorEvent::Ecg(c) => Some((c.first_sample_ms, c.samples_uv.len() as u64)),
                    _ => None,
                })
                .collect()
        };
        let all: u64 = ecg(&run(true)).iter().map(|c| c.1).sum();
        let events = run(false);
        let Some(SensorEvent::Gap {
            missing_samples,
            from_ms,
            to_ms,
            cause: GapCause::FramesMissing,
        }) = events.first()
        else {
            panic!("{:?}", events.first());
        };
        let kept = ecg(&events);
        let kept_samples: u64 = kept.iter().map(|c| c.1).sum();
        assert_eq!(missing_samples + kept_samples, all);
        assert!(*missing_samples >= 90 * 73, "{missing_samples}");
        // the gap ends where the kept ECG begins
        assert!((to_ms - kept[0].0).abs() < 1.0, "{to_ms} {}", kept[0].0);
        assert!(from_ms < to_ms);
    }

    #[test]
    fn reentrant_transport_keeps_order_and_reaches_streaming() {
        let core = Arc::new(BridgeCore::new(SessionConfig::default()));
        let echo = Echo {
            core: core.clone(),
            log: Mutex::new(Vec::new()),
        };
        core.with_session(&echo, |s| s.start(0)).unwrap();
        let state = core.with_session(&echo, |s| s.state().clone()).unwrap();
        assert_eq!(state, crate::sensor::ConnectionState::Streaming);
        let writes: Vec<Vec<u8>> = echo
            .log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|c| match c {
                TransportCommand::Write { value, .. } => Some(value.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            writes,
            [vec![1, 0], vec![2, 0, 0, 1, 0x82, 0, 1, 1, 0x0E, 0]]
        );
    }
}
