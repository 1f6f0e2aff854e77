//! The stress monitor: any [`crate::sensor::SensorSource`] through the streaming pipeline to
//! scores, alerts, the history and listeners.
//!
//! ```text
//! source ─► pipeline (one worker thread, injected clock)
//!             ECG chunk ─► 130 Hz (rate) ─► R-peaks + quality ─► ring buffers ─► drawing batches
//!             every 5 s: last 30 s window ─► analyzer (inputs, models) ─► engine ─► update + alerts
//!             HR/RR, battery, connection, gaps ─► engine (alerts) · history · listeners
//!           ─► hub (subscriptions, current state) ─► listeners
//! ```
//!
//! The parts the pipeline joins sit behind small traits ([`ports`]); the worker thread
//! ([`worker`]) is the only thread, and a [`Monitor`] owns at most one session at a time.

#![warn(missing_docs)]

pub mod analyzer;
pub mod events;
pub mod front;
pub mod hub;
pub mod models;
pub mod pipeline;
pub mod ports;
pub mod rate;
pub mod ring;
pub mod rr_windows;
pub mod sources;
pub mod worker;

use std::sync::{Arc, Mutex};

pub use events::{Degradation, EcgBatch, HeartRateSource, HeartRateUpdate, MonitorEvent};
pub use hub::{Callback, EventKind, Hub, Subscription, in_listener};
pub use models::{ModelLoadFailure, ModelParts};
pub use pipeline::{Engines, Pipeline, PipelineConfig, SharedEngines, SharedHistory};
pub use ports::{SessionInfo, WindowAnalyzer, WindowSignal};
pub use sources::{Pacing, SimulatorSpec};

use crate::sensor::SensorSource;

/// Makes the per-session window analyzer (models loaded once, shared).
pub trait Parts: Send + Sync {
    /// Model inputs and models.
    fn analyzer(&self) -> Box<dyn WindowAnalyzer>;
}

/// A monitor: at most one session at a time, listeners, and the history.
pub struct Monitor {
    cfg: PipelineConfig,
    parts: Box<dyn Parts>,
    engines: SharedEngines,
    history: Option<SharedHistory>,
    hub: Arc<Hub>,
    worker: Mutex<Option<worker::Worker>>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A session is running; stop it first.
    #[error("a session is already running")]
    AlreadyRunning,
    /// The pipeline could not be built.
    #[error(transparent)]
    Core(#[from] crate::Error),
    /// The worker thread could not be started.
    #[error("cannot start the worker thread: {0}")]
    Thread(std::io::Error),
}

impl Monitor {
    /// A monitor with the given parts; `history` = `None` keeps nothing.
    pub fn new(
        cfg: PipelineConfig,
        parts: Box<dyn Parts>,
        engines: Engines,
        history: Option<SharedHistory>,
    ) -> Self {
        Self {
            cfg,
            parts,
            engines: Arc::new(Mutex::new(engines)),
            history,
            hub: Hub::new(),
            worker: Mutex::new(None),
        }
    }

    /// The stress and alert engines (baseline, calibration, alert state).
    pub fn engines(&self) -> &SharedEngines {
        &self.engines
    }

    /// The pipeline's configuration (window length and step).
    pub fn config(&self) -> &PipelineConfig {
        &self.cfg
    }

    /// The history this monitor writes.
    pub fn history(&self) -> Option<&SharedHistory> {
        self.history.as_ref()
    }

    /// Subscribe to events of `kind` (the current state first).
    pub fn subscribe(&self, kind: EventKind, callback: Callback) -> Subscription {
        self.hub.subscribe(kind, callback)
    }

    /// Start a session on `source`.
    pub fn start(
        &self,
        source: Box<dyn SensorSource + Send>,
        pacing: Pacing,
        info: SessionInfo,
    ) -> Result<(), StartError> {
        // A session whose `Finished` is being delivered is over: wait for the delivery to end
        // (not holding the slot: its listeners may call the monitor), except on a thread
        // delivering it, where that wait could never end.
        let delivering = {
            let slot = self.worker.lock().map_err(|_| StartError::AlreadyRunning)?;
            match slot.as_ref() {
                Some(w) if !w.is_over() => return Err(StartError::AlreadyRunning),
                Some(w) if !w.is_finished() => {
                    if hub::in_listener() || w.is_current_thread() {
                        return Err(StartError::AlreadyRunning);
                    }
                    Some(w.ended())
                }
                _ => None,
            }
        };
        if let Some(ended) = delivering {
            ended.wait();
        }
        let mut slot = self.worker.lock().map_err(|_| StartError::AlreadyRunning)?;
        if slot.as_ref().is_some_and(|w| !w.is_finished()) {
            return Err(StartError::AlreadyRunning);
        }
        if let Some(mut old) = slot.take() {
            old.join();
        }
        let pipeline = Pipeline::new(
            self.cfg,
            self.parts.analyzer(),
            self.engines.clone(),
            self.history.clone(),
        )?;
        self.hub.reset_state();
        let run = worker::Run {
            pipeline,
            source,
            pacing,
            info,
        };
        *slot = Some(worker::Worker::spawn(run, self.hub.clone()).map_err(StartError::Thread)?);
        Ok(())
    }

    /// Whether the caller runs on the session's thread (a listener, or an app callback such as
    /// a transport's `execute` that the session called): waiting for the session there could
    /// never end.
    pub fn on_session_thread(&self) -> bool {
        hub::in_listener()
            || self
                .worker
                .lock()
                .is_ok_and(|w| w.as_ref().is_some_and(worker::Worker::is_current_thread))
    }

    /// Whether a session is running (false from its `Finished` on).
    pub fn is_running(&self) -> bool {
        self.worker
            .lock()
            .is_ok_and(|w| w.as_ref().is_some_and(|w| !w.is_over()))
    }

    /// Stop the running session (if any) and wait until it has ended and been stored. From
    /// inside a listener it only asks the session to stop: the worker may be waiting to deliver
    /// to this very listener, so waiting for it could never end. The session stays running
    /// (`start` refuses) until it is stored and its `Finished` is being delivered.
    pub fn stop(&self) {
        self.end(true);
    }

    /// Wait until the running session (if any) ends by itself; from inside a listener it
    /// returns at once (see [`Self::stop`]).
    pub fn wait(&self) {
        self.end(false);
    }

    fn end(&self, request: bool) {
        let in_listener = hub::in_listener();
        // the worker stays in its slot while we wait, so `is_running` stays true and `start`
        // refuses until the session has ended; any number of callers may wait
        let ended = {
            let Ok(slot) = self.worker.lock() else { return };
            let Some(w) = slot.as_ref() else { return };
            if request {
                w.request_stop();
            }
            if in_listener || w.is_current_thread() {
                return;
            }
            w.ended()
        };
        ended.wait();
        if let Ok(mut slot) = self.worker.lock()
            && slot
                .as_ref()
                .is_some_and(|w| Arc::ptr_eq(&w.ended(), &ended))
            && let Some(mut w) = slot.take()
        {
            w.join();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop();
    }
}
