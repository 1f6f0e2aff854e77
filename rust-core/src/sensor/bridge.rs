//! Platform bridge: the phone's own BLE stack (Android `BluetoothGatt`, iOS CoreBluetooth) moves
//! the bytes, the core decides. The uniffi surface is in [`crate::ffi`] (`StrapSession`,
//! `BleTransport`); this module holds the FFI-independent part: the session behind a mutex and a
//! command dispatcher that never calls the foreign transport while holding the lock (so the
//! transport may call back into the session synchronously from `execute`) and keeps command order.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::events::SensorEvent;
use super::session::{Session, SessionConfig};
use super::transport::{TransportCommand, TransportEvent};

/// Something that carries out transport commands (the foreign transport behind the FFI).
pub trait CommandSink: Send + Sync {
    fn execute(&self, command: TransportCommand);
}

/// A poisoned lock (a panic happened while it was held) — reported, never unwrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poisoned;

/// A [`Session`] shared between the app's BLE callbacks, its timer and its UI thread.
#[derive(Debug)]
pub struct BridgeCore {
    session: Mutex<(Session, Vec<SensorEvent>)>,
    pending: Mutex<VecDeque<TransportCommand>>,
    dispatching: AtomicBool,
}

impl BridgeCore {
    pub fn new(cfg: SessionConfig) -> Self {
        Self {
            session: Mutex::new((Session::new(cfg), Vec::new())),
            pending: Mutex::new(VecDeque::new()),
            dispatching: AtomicBool::new(false),
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
            let (s, ev) = &mut *g;
            let r = f(s);
            s.drain_events_into(ev);
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

    /// Decoded events since the last call.
    pub fn take_events(&self) -> Result<Vec<SensorEvent>, Poisoned> {
        let mut g = self.session.lock().map_err(|_| Poisoned)?;
        Ok(std::mem::take(&mut g.1))
    }

    /// Trampoline: the outermost caller executes queued commands in order; a call made from
    /// inside `execute` only queues.
    fn dispatch(&self, sink: &dyn CommandSink) -> Result<(), Poisoned> {
        loop {
            if self.dispatching.swap(true, Ordering::AcqRel) {
                return Ok(());
            }
            loop {
                let next = self.pending.lock().map_err(|_| Poisoned)?.pop_front();
                match next {
                    Some(c) => sink.execute(c),
                    None => break,
                }
            }
            self.dispatching.store(false, Ordering::Release);
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
