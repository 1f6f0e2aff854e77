//! One abstraction over every way events reach the app: a live strap (btleplug, platform
//! bridge), the simulator, a replayed file.

use super::events::SensorEvent;
use super::session::Session;
use super::transport::{TransportCommand, TransportEvent};

/// A source of [`SensorEvent`]s, driven by the caller's clock.
pub trait SensorSource {
    /// Advance to `now_ms` (phone monotonic clock) and append every event available to `out`.
    /// Returns `false` once the source has finished (nothing more will come).
    fn poll(&mut self, now_ms: i64, out: &mut Vec<SensorEvent>) -> bool;
    /// Stop (a live strap stops its stream and disconnects).
    fn stop(&mut self, now_ms: i64);
    /// When the next event will be due on the caller's clock, if the source knows it ahead (a
    /// replayed file); a virtual clock may skip idle time up to it. `None`: unknown.
    fn next_due_ms(&self) -> Option<i64> {
        None
    }
    /// The clock the events are stamped with, at the caller's `now_ms`: the caller's own unless
    /// the source keeps another (a replay at another speed, the app's clock, a Bluetooth thread's).
    fn clock_ms(&self, now_ms: i64) -> i64 {
        now_ms
    }
}

/// An in-process peripheral (the simulator, a scripted fake): carries out commands and
/// produces the transport events due by `now_ms`.
pub trait Peripheral {
    fn handle(&mut self, command: TransportCommand, now_ms: i64);
    fn poll(&mut self, now_ms: i64) -> Vec<TransportEvent>;
}

/// A [`Session`] wired to an in-process [`Peripheral`].
#[derive(Debug)]
pub struct SessionSource<P> {
    pub session: Session,
    pub peripheral: P,
    started: bool,
}

impl<P: Peripheral> SessionSource<P> {
    pub fn new(session: Session, peripheral: P) -> Self {
        Self {
            session,
            peripheral,
            started: false,
        }
    }

    fn pump(&mut self, now_ms: i64) {
        // Commands may produce immediate events which produce commands: bounded loop.
        for _ in 0..64 {
            let mut any = false;
            while let Some(c) = self.session.poll_command() {
                self.peripheral.handle(c, now_ms);
                any = true;
            }
            for ev in self.peripheral.poll(now_ms) {
                self.session.handle(ev);
                any = true;
            }
            if !any {
                break;
            }
        }
    }
}

impl<P: Peripheral> SensorSource for SessionSource<P> {
    fn poll(&mut self, now_ms: i64, out: &mut Vec<SensorEvent>) -> bool {
        if !self.started {
            self.started = true;
            self.session.start(now_ms);
        }
        self.pump(now_ms);
        self.session.tick(now_ms);
        self.pump(now_ms);
        self.session.drain_events_into(out);
        !self.session.state().is_terminal()
    }

    fn stop(&mut self, now_ms: i64) {
        self.session.stop(now_ms);
        self.pump(now_ms);
    }
}

/// The simulated H10 is an in-process peripheral.
impl Peripheral for crate::sim::strap::SimStrap {
    fn handle(&mut self, command: TransportCommand, now_ms: i64) {
        crate::sim::strap::SimStrap::handle(self, command, now_ms);
    }
    fn poll(&mut self, now_ms: i64) -> Vec<TransportEvent> {
        crate::sim::strap::SimStrap::poll(self, now_ms)
    }
}
