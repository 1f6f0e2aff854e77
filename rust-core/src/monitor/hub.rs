//! Listeners: subscriptions by kind of event, the current state for newcomers, and dispatch
//! that survives a panicking or slow listener.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::events::MonitorEvent;

/// A call slower than this is logged (once per subscription).
const SLOW_LISTENER: Duration = Duration::from_millis(200);

/// What a subscription receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// [`MonitorEvent::HeartRate`].
    HeartRate,
    /// [`MonitorEvent::Ecg`].
    Ecg,
    /// [`MonitorEvent::Quality`].
    Quality,
    /// [`MonitorEvent::Stress`].
    Stress,
    /// [`MonitorEvent::Alert`].
    Alert,
    /// [`MonitorEvent::Connection`].
    Connection,
    /// Session started/finished, battery, gaps, degradations, ECG resumed, a calibration ended
    /// with its session.
    Status,
}

impl EventKind {
    /// The kind of an event.
    pub fn of(ev: &MonitorEvent) -> Self {
        match ev {
            MonitorEvent::HeartRate(_) => Self::HeartRate,
            MonitorEvent::Ecg(_) => Self::Ecg,
            MonitorEvent::Quality(_) => Self::Quality,
            MonitorEvent::Stress { .. } => Self::Stress,
            MonitorEvent::Alert { .. } => Self::Alert,
            MonitorEvent::Connection { .. } => Self::Connection,
            MonitorEvent::SessionStarted { .. }
            | MonitorEvent::Battery { .. }
            | MonitorEvent::Gap { .. }
            | MonitorEvent::Degraded(_)
            | MonitorEvent::EcgResumed { .. }
            | MonitorEvent::CalibrationEnded(_)
            | MonitorEvent::Finished { .. } => Self::Status,
        }
    }

    /// Whether the latest event of this kind is "current state" for a new listener (alerts and
    /// status news are not replayed).
    fn is_state(self) -> bool {
        !matches!(self, Self::Alert | Self::Status)
    }

    /// Whether `ev` is remembered for a new listener: the latest of a state kind, and the
    /// running session's start (a listener subscribing mid-session learns its id).
    fn is_current(ev: &MonitorEvent) -> bool {
        Self::of(ev).is_state() || matches!(ev, MonitorEvent::SessionStarted { .. })
    }
}

/// A listener callback.
pub type Callback = Arc<dyn Fn(&MonitorEvent) + Send + Sync>;

struct Entry {
    kind: EventKind,
    callback: Callback,
    active: AtomicBool,
    /// Held while the callback runs (cancel waits for an in-flight call).
    calling: Mutex<()>,
    slow_reported: AtomicBool,
    id: u64,
}

thread_local! {
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is inside a listener call (on the worker, or a first-state delivery on
/// the subscribing thread): joining the worker from here could wait on this very call.
pub fn in_listener() -> bool {
    IN_CALLBACK.with(Cell::get)
}

/// Subscriptions and the current state.
#[derive(Default)]
pub struct Hub {
    entries: Mutex<Vec<Arc<Entry>>>,
    current: Mutex<Vec<(EventKind, MonitorEvent)>>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub {
    /// An empty hub.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Subscribe `callback` to events of `kind`. The current state of that kind (if any) is
    /// delivered at once, on this thread, before any later update; for status, the running
    /// session's `SessionStarted`. After a session has finished only its connection state is
    /// current.
    pub fn subscribe(self: &Arc<Self>, kind: EventKind, callback: Callback) -> Subscription {
        let entry = Arc::new(Entry {
            kind,
            callback,
            active: AtomicBool::new(true),
            calling: Mutex::new(()),
            slow_reported: AtomicBool::new(false),
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
        });
        // Held until the current state is delivered: a concurrent publish waits for it.
        let guard = entry.calling.lock();
        let current = self.current.lock().ok().and_then(|cur| {
            // Register under the state lock: every later publish reaches this entry, every
            // earlier one is in the snapshot.
            if let Ok(mut e) = self.entries.lock() {
                e.push(entry.clone());
            }
            cur.iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, ev)| ev.clone())
        });
        if let (Some(ev), Ok(_)) = (current, &guard) {
            invoke(&entry, &ev);
        }
        drop(guard);
        Subscription {
            hub: Arc::downgrade(self),
            entry,
        }
    }

    /// Deliver `ev` to its subscribers (and remember it as current state).
    pub fn publish(&self, ev: &MonitorEvent) {
        let kind = EventKind::of(ev);
        let targets: Vec<Arc<Entry>> = {
            let Ok(mut cur) = self.current.lock() else {
                return;
            };
            if EventKind::is_current(ev) {
                match cur.iter_mut().find(|(k, _)| *k == kind) {
                    Some(slot) => slot.1 = ev.clone(),
                    None => cur.push((kind, ev.clone())),
                }
            }
            if matches!(ev, MonitorEvent::Finished { .. }) {
                // the session's readings are no longer current (its connection state is)
                cur.retain(|(k, _)| *k == EventKind::Connection);
            }
            let Ok(entries) = self.entries.lock() else {
                return;
            };
            entries.iter().filter(|e| e.kind == kind).cloned().collect()
        };
        for e in &targets {
            call(e, ev);
        }
    }

    /// Number of active subscriptions.
    pub fn subscribers(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    /// Forget the current state (a new session begins).
    pub fn reset_state(&self) {
        if let Ok(mut c) = self.current.lock() {
            c.clear();
        }
    }

    fn remove(&self, id: u64) {
        if let Ok(mut e) = self.entries.lock() {
            e.retain(|x| x.id != id);
        }
    }
}

/// Call a listener: never while cancelled, never letting a panic out.
fn call(entry: &Entry, ev: &MonitorEvent) {
    let Ok(_g) = entry.calling.lock() else {
        return;
    };
    invoke(entry, ev);
}

/// Call a listener (the caller holds `entry.calling`).
fn invoke(entry: &Entry, ev: &MonitorEvent) {
    if !entry.active.load(Ordering::Acquire) {
        return;
    }
    let t0 = Instant::now();
    let was_in = IN_CALLBACK.with(|c| c.replace(true));
    let r = catch_unwind(AssertUnwindSafe(|| (entry.callback)(ev)));
    IN_CALLBACK.with(|c| c.set(was_in));
    if r.is_err() {
        log::warn!(
            "monitor: a {:?} listener panicked; it stays subscribed",
            entry.kind
        );
    }
    if t0.elapsed() > SLOW_LISTENER && !entry.slow_reported.swap(true, Ordering::Relaxed) {
        log::warn!(
            "monitor: a {:?} listener took {} ms; listeners should return quickly",
            entry.kind,
            t0.elapsed().as_millis()
        );
    }
}

/// A subscription: cancelled by [`Subscription::cancel`] or when dropped. Once `cancel`
/// returns, the listener is not called again (when called from inside a listener, the
/// cancelled listener's call in progress, if any, still completes).
pub struct Subscription {
    hub: Weak<Hub>,
    entry: Arc<Entry>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("kind", &self.entry.kind)
            .field("active", &self.is_active())
            .finish()
    }
}

impl Subscription {
    /// Stop delivering events to this listener.
    pub fn cancel(&self) {
        if !self.entry.active.swap(false, Ordering::AcqRel) {
            return;
        }
        if let Some(hub) = self.hub.upgrade() {
            hub.remove(self.entry.id);
        }
        if !in_listener() {
            // Wait for a call in flight on another thread.
            drop(self.entry.calling.lock());
        }
    }

    /// Whether events are still delivered.
    pub fn is_active(&self) -> bool {
        self.entry.active.load(Ordering::Acquire)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::events::QualityUpdate;

    fn quality(score: f32) -> MonitorEvent {
        MonitorEvent::Quality(QualityUpdate {
            at_ms: 0,
            score,
            usable: true,
            issue: crate::dsp::QualityIssue::Good,
        })
    }

    fn recorder() -> (Arc<Mutex<Vec<MonitorEvent>>>, Callback) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        (
            got,
            Arc::new(move |e: &MonitorEvent| g.lock().unwrap().push(e.clone())),
        )
    }

    #[test]
    fn newcomer_gets_current_state_then_updates_and_cancel_stops_them() {
        let hub = Hub::new();
        hub.publish(&quality(0.1));
        hub.publish(&quality(0.2));
        let (got, cb) = recorder();
        let sub = hub.subscribe(EventKind::Quality, cb);
        hub.publish(&quality(0.3));
        assert_eq!(*got.lock().unwrap(), [quality(0.2), quality(0.3)]);
        sub.cancel();
        hub.publish(&quality(0.4));
        assert_eq!(got.lock().unwrap().len(), 2);
        assert_eq!(hub.subscribers(), 0);
    }

    /// Status news is not replayed, but a running session's start is; once it has finished,
    /// nothing.
    #[test]
    fn a_status_newcomer_learns_the_running_session_only() {
        let hub = Hub::new();
        hub.publish(&MonitorEvent::SessionStarted { session_id: 7 });
        hub.publish(&MonitorEvent::Battery {
            at_ms: 1,
            percent: 80,
        });
        let (got, cb) = recorder();
        let _sub = hub.subscribe(EventKind::Status, cb);
        assert_eq!(
            *got.lock().unwrap(),
            [MonitorEvent::SessionStarted { session_id: 7 }]
        );
        hub.publish(&MonitorEvent::Finished {
            session_id: 7,
            windows: 3,
            reason: crate::history::EndReason::Stopped,
        });
        let (late, cb) = recorder();
        let _late = hub.subscribe(EventKind::Status, cb);
        assert!(late.lock().unwrap().is_empty());
        assert_eq!(got.lock().unwrap().len(), 2);
    }

    #[test]
    fn drop_cancels_and_panicking_listener_does_not_stop_others() {
        let hub = Hub::new();
        let _bad = hub.subscribe(EventKind::Quality, Arc::new(|_: &MonitorEvent| panic!("x")));
        let (got, cb) = recorder();
        let sub = hub.subscribe(EventKind::Quality, cb);
        hub.publish(&quality(0.5));
        hub.publish(&quality(0.6));
        assert_eq!(got.lock().unwrap().len(), 2);
        drop(sub);
        hub.publish(&quality(0.7));
        assert_eq!(got.lock().unwrap().len(), 2);
    }
}
