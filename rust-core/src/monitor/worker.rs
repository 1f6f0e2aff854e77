//! The monitor's one worker thread: runs the pipeline step by step on its clock and delivers
//! every event to the listeners from this thread. A panic inside a step is caught and logged;
//! the session goes on (it ends after a few in a row).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{JoinHandle, ThreadId};

use super::hub::Hub;
use super::pipeline::Pipeline;
use super::ports::SessionInfo;
use super::sources::Pacing;
use crate::history::EndReason;
use crate::sensor::SensorSource;

/// Consecutive panicking steps after which the session ends.
const MAX_FAILED_STEPS: u32 = 3;

/// What one session runs.
pub struct Run {
    /// The pipeline (parts, history).
    pub pipeline: Pipeline,
    /// Where the events come from.
    pub source: Box<dyn SensorSource + Send>,
    /// Clock and step.
    pub pacing: Pacing,
    /// For the history.
    pub info: SessionInfo,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("pacing", &self.pacing)
            .finish_non_exhaustive()
    }
}

/// Set once a session's thread has delivered its last event; any number of threads may wait
/// for it.
#[derive(Debug, Default)]
pub struct Ended {
    done: Mutex<bool>,
    changed: Condvar,
}

impl Ended {
    fn set(&self) {
        let mut done = self
            .done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *done = true;
        self.changed.notify_all();
    }

    /// Whether the session has ended.
    pub fn is_set(&self) -> bool {
        *self
            .done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Wait until the session has ended.
    pub fn wait(&self) {
        let mut done = self
            .done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while !*done {
            done = self
                .changed
                .wait(done)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

/// Sets [`Ended`] when the thread's work is over, however it ends.
struct SetOnDrop(Arc<Ended>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// A running (or finished) session's thread.
#[derive(Debug)]
pub struct Worker {
    stop: Arc<AtomicBool>,
    /// Set once the session is stored and its last events (`Finished`) are being delivered.
    over: Arc<AtomicBool>,
    ended: Arc<Ended>,
    thread: ThreadId,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    /// Start the thread.
    pub fn spawn(run: Run, hub: Arc<Hub>) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let over = Arc::new(AtomicBool::new(false));
        let ended = Arc::new(Ended::default());
        let (flag, over_flag, on_end) = (stop.clone(), over.clone(), SetOnDrop(ended.clone()));
        let handle = std::thread::Builder::new()
            .name("stressbeat-monitor".into())
            .spawn(move || {
                let _on_end = on_end;
                run_session(run, &hub, &flag, &over_flag);
            })?;
        Ok(Self {
            stop,
            over,
            ended,
            thread: handle.thread().id(),
            handle: Some(handle),
        })
    }

    /// Set when the session has ended (wait on it without holding the worker).
    pub fn ended(&self) -> Arc<Ended> {
        self.ended.clone()
    }

    /// Whether the caller runs on this worker's thread (e.g. a listener).
    pub fn is_current_thread(&self) -> bool {
        self.thread == std::thread::current().id()
    }

    /// Ask the session to stop (returns at once).
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Wait for the thread to end (from the worker itself, e.g. a listener dropping the last
    /// reference to its monitor, it only detaches: the session ends after this step).
    pub fn join(&mut self) {
        if self.is_current_thread() {
            self.request_stop();
            return;
        }
        if let Some(h) = self.handle.take()
            && h.join().is_err()
        {
            log::error!("monitor: worker thread ended abnormally");
        }
    }

    /// Whether the session has ended (its last event delivered).
    pub fn is_finished(&self) -> bool {
        self.ended.is_set() || self.handle.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Whether the session is over: stored, its `Finished` being delivered or delivered.
    pub fn is_over(&self) -> bool {
        self.over.load(Ordering::Acquire) || self.is_finished()
    }
}

fn run_session(run: Run, hub: &Hub, stop: &AtomicBool, over: &AtomicBool) {
    let Run {
        mut pipeline,
        mut source,
        pacing,
        info,
    } = run;
    let (mut clock, step_ms) = pacing.clock();
    let mut out = Vec::with_capacity(256);
    let mut failed = 0;
    let mut reason = EndReason::SourceEnded;
    if catch_unwind(AssertUnwindSafe(|| pipeline.begin(&info, &mut out))).is_err() {
        log::error!("monitor: internal error while beginning the session");
        out.clear();
        reason = EndReason::Error;
        if catch_unwind(AssertUnwindSafe(|| source.stop(clock.now_ms()))).is_err() {
            log::error!("monitor: internal error while stopping the source");
        }
    } else {
        publish(hub, &mut out);
        loop {
            let now = clock.now_ms();
            let stopping = stop.load(Ordering::Acquire);
            let step = catch_unwind(AssertUnwindSafe(|| {
                if stopping {
                    source.stop(now);
                }
                pipeline.step(source.as_mut(), now, &mut out)
            }));
            match step {
                Ok(alive) => {
                    failed = 0;
                    publish(hub, &mut out);
                    if stopping {
                        reason = EndReason::Stopped;
                        break;
                    }
                    if !alive {
                        break;
                    }
                }
                Err(_) => {
                    failed += 1;
                    out.clear();
                    log::error!("monitor: internal error in a pipeline step ({failed} in a row)");
                    if failed >= MAX_FAILED_STEPS || stopping {
                        reason = EndReason::Error;
                        // a live strap is not left streaming (its battery, its stream for others)
                        let stop = catch_unwind(AssertUnwindSafe(|| source.stop(now)));
                        if stop.is_err() {
                            log::error!("monitor: internal error while stopping the source");
                        }
                        break;
                    }
                }
            }
            let mut next = now + step_ms;
            if matches!(pacing, Pacing::AsFastAsPossible { .. }) {
                // a virtual clock skips idle stretches (a replay whose sensor clock jumped by years
                // would otherwise take a step per virtual second)
                if let Some(due) = source.next_due_ms() {
                    next = next.max(due);
                }
            }
            clock.sleep_until_ms(next);
        }
    }
    if catch_unwind(AssertUnwindSafe(|| pipeline.finish(reason, &mut out))).is_err() {
        log::error!("monitor: internal error while finishing the session");
        out.clear();
        // what was stored stays, and the session is closed
        if catch_unwind(AssertUnwindSafe(|| {
            pipeline.end_stored(EndReason::Error, &mut out)
        }))
        .is_err()
        {
            out.clear();
        }
        out.push(super::events::MonitorEvent::Finished {
            session_id: pipeline.session_id(),
            windows: pipeline.windows_analysed(),
            reason: EndReason::Error,
        });
    }
    // a listener hearing `Finished` may start the next session at once
    over.store(true, Ordering::Release);
    publish(hub, &mut out);
}

fn publish(hub: &Hub, out: &mut Vec<super::events::MonitorEvent>) {
    for ev in out.drain(..) {
        hub.publish(&ev);
    }
}
