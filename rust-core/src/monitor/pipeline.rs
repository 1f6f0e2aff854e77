//! The streaming pipeline, one step at a time: sensor events in, monitor events out, history
//! written. Pure apart from what its parts do (the history writes); driven by the caller's
//! clock, so a simulated session runs as fast as the CPU allows.

use std::sync::{Arc, Mutex, MutexGuard};

use super::events::{Degradation, HeartRateSource, HeartRateUpdate, MonitorEvent};
use super::front::{EcgFrontEnd, MAX_GAP_FILL_S, MODEL_RATE_HZ};
use super::ports::{SessionInfo, WindowAnalyzer, WindowSignal};
use super::rr_windows::{Closing, RrWindows};
use crate::engine::{
    Alert, AlertEngine, AlertKind, AlertOutput, CalibrationEvent, LinkStatus, ScoreSource,
    Severity, StressEngine, StressUpdate, WindowObservation,
};
use crate::history::{
    AlertRecord, BeatCounts, EcgChunk, EndReason, GapRecord, HistorySink, WindowRecord,
};
use crate::sensor::{ConnectionState, GapCause, SensorEvent, SensorSource};

/// Profile name under which the engine's baseline is kept in the history.
pub const BASELINE_PROFILE: &str = "default";

/// The stress and alert engines; shared so the baseline outlives a session and the app can
/// start a calibration.
#[derive(Debug)]
pub struct Engines {
    /// Scores windows against the personal baseline.
    pub stress: StressEngine,
    /// Raises alerts.
    pub alerts: AlertEngine,
}

/// Engines shared between sessions and the app.
pub type SharedEngines = Arc<Mutex<Engines>>;

/// Window settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PipelineConfig {
    /// Analysis window, s.
    pub window_s: f64,
    /// A window closes every `step_s` seconds of signal.
    pub step_s: f64,
    /// A window is analysed this long after its end, s: late R-peaks are final by then, and
    /// with 4 s or more the quality window of every beat in it is complete.
    pub lag_s: f64,
    /// Windows analysed together at most (fast replay closes many per step).
    pub max_batch: usize,
    /// History made durable at least this often (phone ms).
    pub flush_every_ms: i64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            window_s: 30.0,
            step_s: 5.0,
            lag_s: 4.0,
            max_batch: 16,
            flush_every_ms: 1_000,
        }
    }
}

/// A run of ECG in a session (Unix ms): a pause longer than the lag and a step starts a new one.
#[derive(Debug, Clone, Copy)]
struct EcgRun {
    /// Its first and its latest sample.
    since_ms: i64,
    until_ms: i64,
    /// When its latest chunk arrived.
    arrived_ms: i64,
    /// RR windows were being scored when it began: they go on until its first ECG window that
    /// starts with it, which ends at this sample index and time.
    rr_until: Option<(u64, i64)>,
}

/// The history shared between the pipeline (writes) and the app (queries).
pub type SharedHistory = Arc<Mutex<dyn HistorySink>>;

/// Lock the engines or the history even after a panic poisoned the lock (the worker counted
/// that panic): their state stays valid values, while refusing the lock from then on would stop
/// scoring, alerts or storage for the rest of the monitor's life without a word.
pub(crate) fn relock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| {
        log::warn!("monitor: a lock poisoned by an earlier panic is used again");
        poisoned.into_inner()
    })
}

/// One monitoring session's pipeline. See the module documentation.
pub struct Pipeline {
    cfg: PipelineConfig,
    front: EcgFrontEnd,
    analyzer: Box<dyn WindowAnalyzer>,
    engines: SharedEngines,
    history: Option<SharedHistory>,
    session_id: i64,
    window_len: u64,
    step_len: u64,
    lag_len: u64,
    next_end: u64,
    classified_until: u64,
    sensor_events: Vec<SensorEvent>,
    windows: Vec<WindowSignal>,
    observations: Vec<WindowObservation>,
    windows_analysed: u64,
    /// Unix ms = source ms + offset.
    offset_ms: i64,
    last_ms: i64,
    last_flush_ms: i64,
    storage_failed: bool,
    /// The current run of ECG, if any came.
    ecg: Option<EcgRun>,
    /// Windows of the strap's RR intervals, where there is no ECG.
    rr_windows: RrWindows,
    /// The latest heart-rate notification's arrival (Unix ms).
    heart_rate_at_ms: i64,
    /// End of the latest ECG window and of the latest RR window handed to analysis (Unix ms):
    /// each kind takes over only after the other's last window, so windows reach the engine in
    /// time order and no span is scored twice.
    ecg_windows_until_ms: i64,
    rr_windows_until_ms: i64,
    /// A refused ECG stream was reported (again once ECG has come back).
    ecg_refusal_reported: bool,
    /// The session's start while it is not in the history yet (its first write failed, e.g.
    /// another connection held the lock): retried every flush interval; what comes before is
    /// lost.
    unbegun: Option<crate::history::SessionStart>,
    /// The strap was lost for good (the source's last connection state is `Failed`).
    link_failed: bool,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("session_id", &self.session_id)
            .field("windows_analysed", &self.windows_analysed)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// A pipeline over the given parts; `history` = `None` keeps nothing.
    pub fn new(
        cfg: PipelineConfig,
        analyzer: Box<dyn WindowAnalyzer>,
        engines: SharedEngines,
        history: Option<SharedHistory>,
    ) -> crate::Result<Self> {
        if !(cfg.window_s > 0.0 && cfg.step_s > 0.0 && cfg.lag_s >= 0.0) {
            return Err(crate::Error::InvalidArgument(
                "window, step and lag must be positive".into(),
            ));
        }
        let samples = |s: f64| (s * MODEL_RATE_HZ).round() as u64;
        Ok(Self {
            // The windows still waiting for their lag when the strap drops must be in the ring
            // after the gap's fill: they are closed (and stored, unscored) when ECG returns.
            front: EcgFrontEnd::new(cfg.window_s + cfg.lag_s + cfg.step_s + 2.0 + MAX_GAP_FILL_S)?,
            window_len: samples(cfg.window_s),
            step_len: samples(cfg.step_s).max(1),
            lag_len: samples(cfg.lag_s),
            next_end: samples(cfg.window_s),
            classified_until: 0,
            cfg,
            analyzer,
            engines,
            history,
            session_id: 0,
            sensor_events: Vec::with_capacity(256),
            windows: Vec::with_capacity(cfg.max_batch),
            observations: Vec::with_capacity(cfg.max_batch),
            windows_analysed: 0,
            offset_ms: 0,
            last_ms: 0,
            last_flush_ms: 0,
            storage_failed: false,
            ecg: None,
            rr_windows: RrWindows::new(&cfg),
            heart_rate_at_ms: i64::MIN,
            ecg_windows_until_ms: i64::MIN,
            rr_windows_until_ms: i64::MIN,
            ecg_refusal_reported: false,
            link_failed: false,
            unbegun: None,
        })
    }

    /// Windows analysed so far (one [`MonitorEvent::Stress`] each, scored or not).
    pub fn windows_analysed(&self) -> u64 {
        self.windows_analysed
    }

    /// The history id of the session (0 when not stored).
    pub fn session_id(&self) -> i64 {
        self.session_id
    }

    /// Open the session in the history and report what is degraded.
    pub fn begin(&mut self, info: &SessionInfo, out: &mut Vec<MonitorEvent>) {
        let started = info.start.started_at_ms;
        self.offset_ms = started.saturating_sub(info.started_phone_ms);
        self.front.set_time_offset(self.offset_ms as f64);
        self.last_ms = started;
        self.last_flush_ms = started;
        {
            let mut e = relock(&self.engines);
            e.stress.reset_stream();
            e.stress.anchor_calibration(started);
            e.alerts.start_session(started);
        }
        self.unbegun = self.history.is_some().then(|| info.start.clone());
        let failure = self.open_session().err();
        out.push(MonitorEvent::SessionStarted {
            session_id: self.session_id,
        });
        if let Some(e) = failure {
            self.storage_failure(&e, out);
        }
        self.report_degradations(out);
    }

    /// Poll `source` at `now_ms` and process what it yields. Returns `false` once the source
    /// has finished.
    pub fn step(
        &mut self,
        source: &mut dyn SensorSource,
        now_ms: i64,
        out: &mut Vec<MonitorEvent>,
    ) -> bool {
        let first = out.len();
        // a calibration asked for since the last step starts now on the session's clock
        relock(&self.engines)
            .stress
            .anchor_calibration(self.last_ms);
        let mut events = std::mem::take(&mut self.sensor_events);
        let alive = source.poll(now_ms, &mut events);
        // From here on, the clock the events are stamped with (the offset maps it to Unix time).
        let now_ms = source.clock_ms(now_ms);
        for ev in events.drain(..) {
            self.handle(ev, now_ms, out);
        }
        self.sensor_events = events;
        self.analyze_pending(out);
        self.after(first, now_ms.saturating_add(self.offset_ms), out);
        alive
    }

    /// Process one sensor event (`now_ms`: the source's clock when it was taken).
    pub fn handle(&mut self, ev: SensorEvent, now_ms: i64, out: &mut Vec<MonitorEvent>) {
        let off = self.offset_ms;
        match ev {
            SensorEvent::Ecg(chunk) => {
                let before = self.front.next_index();
                self.front.push_chunk(&chunk, out);
                if self.front.next_index() > before {
                    if self.ecg_refusal_reported {
                        log::info!("monitor: the strap streams ECG again");
                        out.push(MonitorEvent::EcgResumed {
                            at_ms: (chunk.first_sample_ms + off as f64).round() as i64,
                        });
                    }
                    self.ecg_refusal_reported = false;
                    self.ecg_arrived(&chunk, before, now_ms + off);
                }
                self.store_raw_ecg(&chunk, out);
                self.close_due_windows(out);
            }
            SensorEvent::Gap {
                from_ms,
                to_ms,
                missing_samples,
                cause,
            } => {
                self.front.push_gap(missing_samples, out);
                out.push(MonitorEvent::Gap {
                    from_ms: from_ms + off as f64,
                    to_ms: to_ms + off as f64,
                    missing_samples,
                    cause,
                });
                self.close_due_windows(out);
            }
            SensorEvent::Connection(state) => {
                self.link_failed = matches!(state, ConnectionState::Failed { .. });
                out.push(MonitorEvent::Connection {
                    at_ms: now_ms + off,
                    state,
                });
            }
            SensorEvent::HeartRate {
                at_ms,
                bpm,
                rr_ms,
                contact,
            } => {
                self.heart_rate_at_ms = self.heart_rate_at_ms.max(at_ms + off);
                self.rr_windows.push(at_ms, &rr_ms, contact);
                self.close_rr_windows(at_ms + off, false, out);
                out.push(MonitorEvent::HeartRate(HeartRateUpdate {
                    at_ms: at_ms + off,
                    bpm: f64::from(bpm),
                    rr_ms,
                    contact,
                    source: HeartRateSource::Strap,
                }))
            }
            SensorEvent::Battery { at_ms, percent } => out.push(MonitorEvent::Battery {
                at_ms: at_ms + off,
                percent,
            }),
            SensorEvent::EcgRefused { status, .. } => {
                if !self.ecg_refusal_reported {
                    self.ecg_refusal_reported = true;
                    log::warn!("monitor: the strap refused the ECG stream; heart rate only");
                    out.push(MonitorEvent::Degraded(Degradation::EcgUnusable {
                        reason: format!(
                            "the strap refused the ECG stream (status {status}); stress comes \
                             from its RR intervals until it streams ECG again"
                        ),
                    }));
                }
            }
            SensorEvent::Contact { .. }
            | SensorEvent::TimestampJump { .. }
            | SensorEvent::StreamStarted { .. } => {}
        }
    }

    /// End of the session: score what can be scored, end a calibration still running on the
    /// windows it took ([`MonitorEvent::CalibrationEnded`]), close the session in the history
    /// (with the engine's baseline). A source that ended because its strap was lost for good
    /// ends the session as [`EndReason::Disconnected`].
    pub fn finish(&mut self, reason: EndReason, out: &mut Vec<MonitorEvent>) {
        let reason = match reason {
            EndReason::SourceEnded if self.link_failed => EndReason::Disconnected,
            other => other,
        };
        let first = out.len();
        // the last windows are stored with the session, not dropped for want of it
        let _ = self.open_session();
        self.front.finish(out);
        // no more signal will come: the windows waiting for their lag close now
        self.close_windows_until(self.front.next_index(), out);
        self.close_rr_windows(self.heart_rate_at_ms, true, out);
        self.analyze_pending(out);
        let calibration = relock(&self.engines).stress.end_stream(self.last_ms);
        out.extend(calibration.map(MonitorEvent::CalibrationEnded));
        self.after(first, self.last_ms, out);
        self.end_stored(reason, out);
        out.push(MonitorEvent::Finished {
            session_id: self.session_id,
            windows: self.windows_analysed,
            reason,
        });
    }

    /// Close the session in the history (with the engine's baseline); also what is left to do
    /// when [`Self::finish`] failed.
    pub fn end_stored(&mut self, reason: EndReason, out: &mut Vec<MonitorEvent>) {
        let begun = self.open_session().is_ok();
        if let Some(h) = self.history.clone() {
            let baseline = self.baseline_json();
            let (id, end) = (self.session_id, self.last_ms);
            let mut h = relock(&h);
            // the session is closed even when the baseline cannot be saved
            let saved = baseline
                .as_ref()
                .map_or(Ok(()), |json| h.save_baseline(BASELINE_PROFILE, json, end))
                .map_err(|e| format!("baseline not saved: {}", e.log_safe()));
            let ended = if begun {
                h.end_session(id, end, reason).map_err(|e| e.log_safe())
            } else {
                Err("the session was never opened in the history".into())
            };
            drop(h);
            if let Err(e) = ended.and(saved) {
                self.storage_failure(&e, out);
            }
        }
    }

    /// The engine's personal baseline, serialised for the history.
    fn baseline_json(&self) -> Option<String> {
        relock(&self.engines)
            .stress
            .baseline()
            .and_then(|b| serde_json::to_string(b).ok())
    }

    /// Close the windows whose end is at least the lag behind the signal.
    fn close_due_windows(&mut self, out: &mut Vec<MonitorEvent>) {
        self.close_windows_until(self.front.next_index().saturating_sub(self.lag_len), out);
    }

    /// Close the windows ending at or before sample `last_end`.
    fn close_windows_until(&mut self, last_end: u64, out: &mut Vec<MonitorEvent>) {
        while last_end >= self.next_end {
            let end = self.next_end;
            let start = end - self.window_len;
            self.next_end += self.step_len;
            let mut samples = Vec::with_capacity(self.window_len as usize);
            if !self.front.samples.copy_span(start, end, &mut samples) {
                continue;
            }
            let mut peaks = Vec::new();
            self.front.peaks.copy_span(start, end, &mut peaks);
            let clean = peaks
                .iter()
                .map(|&p| self.front.usable_at(start + p as u64).unwrap_or(true))
                .collect();
            let new_from_rel = self.classified_until.saturating_sub(start) as usize;
            let new_from = peaks.partition_point(|&p| p < new_from_rel);
            self.classified_until = end;
            self.front.peaks.forget_before(start + self.step_len);
            let (start_ms, end_ms) = (
                self.front.time_of(start).round() as i64,
                self.front.time_of(end).round() as i64,
            );
            let before_run = self
                .ecg
                .and_then(|run| run.rr_until)
                .is_some_and(|(index, _)| end < index);
            if end_ms <= self.rr_windows_until_ms || before_run {
                continue; // scored from the strap's RR while the ECG was away
            }
            self.ecg_windows_until_ms = end_ms;
            self.windows.push(WindowSignal {
                start_index: start,
                start_ms,
                end_ms,
                samples_mv: samples,
                peaks,
                new_from,
                clean,
                rr_ms: Vec::new(),
            });
            if self.windows.len() >= self.cfg.max_batch {
                self.analyze_pending(out);
            }
        }
    }

    /// A chunk of ECG the front end took (its first sample at `first_index`), arrived at
    /// `now_ms` (Unix).
    fn ecg_arrived(&mut self, chunk: &crate::sensor::EcgChunk, first_index: u64, now_ms: i64) {
        let off = self.offset_ms as f64;
        let (first, last) = (
            (chunk.first_sample_ms + off).round() as i64,
            (chunk.last_sample_ms() + off).round() as i64,
        );
        let away_ms = self.ecg_away_ms();
        if let Some(run) = &mut self.ecg
            && first.saturating_sub(run.until_ms) <= away_ms
        {
            run.until_ms = run.until_ms.max(last);
            run.arrived_ms = run.arrived_ms.max(now_ms);
            return;
        }
        // A new run. If RR windows were being scored, they go on until the first ECG window
        // that starts with the run (the earlier ones hold the gap's fill).
        let rr_until = (self.rr_windows_until_ms > self.ecg_windows_until_ms).then(|| {
            let behind = (first_index + self.window_len).saturating_sub(self.next_end);
            let end = self.next_end + behind.div_ceil(self.step_len) * self.step_len;
            (end, self.front.time_of(end).round() as i64)
        });
        self.ecg = Some(EcgRun {
            since_ms: first,
            until_ms: last,
            arrived_ms: now_ms,
            rr_until,
        });
    }

    /// ECG that last arrived this long ago (ms) is away: RR windows take over.
    fn ecg_away_ms(&self) -> i64 {
        ((self.cfg.lag_s + self.cfg.step_s) * 1000.0).round() as i64
    }

    /// Close the RR windows that are due (all of them when `finish`); `now_ms` (Unix) is the
    /// latest notification's arrival. Windows of either kind reach the engine in time order, one
    /// per end time:
    /// - an RR window ending at or before the last ECG window is left out;
    /// - while ECG arrives, an RR window it covers is left out, one ending after its latest sample
    ///   waits; but if RR windows were being scored when this run of ECG began, they go on until
    ///   the run's first ECG window that starts with it (the earlier ones hold the gap's fill and
    ///   are left out);
    /// - once ECG has been away for the lag and a step, the ECG windows it left waiting close, and
    ///   the RR windows it did not cover are scored.
    fn close_rr_windows(&mut self, now_ms: i64, finish: bool, out: &mut Vec<MonitorEvent>) {
        let away = self
            .ecg
            .is_none_or(|run| now_ms.saturating_sub(run.arrived_ms) >= self.ecg_away_ms());
        if away && self.ecg.is_some() {
            self.close_windows_until(self.front.next_index(), out);
        }
        let (ecg, ecg_windows_until) = (self.ecg, self.ecg_windows_until_ms);
        let decide = |start: i64, end: i64| {
            let Some(run) = ecg else {
                return Closing::Emit;
            };
            if end <= ecg_windows_until {
                Closing::Skip
            } else if run.rr_until.is_some_and(|(_, ms)| end < ms) {
                Closing::Emit
            } else if start >= run.since_ms && end <= run.until_ms {
                Closing::Skip // ECG covers it
            } else if away {
                Closing::Emit
            } else if end <= run.until_ms {
                Closing::Skip
            } else {
                Closing::Wait
            }
        };
        let first = self.windows.len();
        self.rr_windows
            .close(finish, self.offset_ms, decide, &mut self.windows);
        if let Some(w) = self.windows[first..].last() {
            self.rr_windows_until_ms = w.end_ms;
        }
        if self.windows.len() >= self.cfg.max_batch {
            self.analyze_pending(out);
        }
    }

    /// Whether ECG arrived within the lag before Unix time `at_ms` (the strap's RR is then not
    /// stored).
    fn ecg_at(&self, at_ms: i64) -> bool {
        let lag_ms = (self.cfg.lag_s * 1000.0).round() as i64;
        self.ecg
            .is_some_and(|run| run.arrived_ms >= at_ms.saturating_sub(lag_ms))
    }

    /// Analyse the closed windows in one batch; while a calibration runs, one at a time, so the
    /// windows after it completes are scored against the new baseline.
    fn analyze_pending(&mut self, out: &mut Vec<MonitorEvent>) {
        let mut from = 0;
        while from < self.windows.len() {
            let (baseline, calibrating) = {
                let e = relock(&self.engines);
                let b = e.stress.baseline_features().map(<[f32]>::to_vec);
                (b, e.stress.is_calibrating())
            };
            let to = if calibrating {
                from + 1
            } else {
                self.windows.len()
            };
            self.observations.clear();
            self.analyzer.analyze(
                &self.windows[from..to],
                baseline.as_deref(),
                &mut self.observations,
            );
            self.report_degradations(out);
            let mut engines = relock(&self.engines);
            for observation in self.observations.drain(..) {
                let update = engines.stress.update(&observation);
                self.windows_analysed += 1;
                out.push(MonitorEvent::Stress {
                    update,
                    observation,
                });
            }
            from = to;
        }
        self.windows.clear();
    }

    /// Alerts for the events of this step (`now_ms`: Unix), then history writes.
    fn after(&mut self, first: usize, now_ms: i64, out: &mut Vec<MonitorEvent>) {
        let end = out.len();
        // A finished calibration is stored at once, not only when the session ends: the app may
        // be killed before that.
        let calibrated = out[first..end].iter().any(|ev| {
            matches!(ev, MonitorEvent::Stress { update, .. }
                if matches!(update.calibration, Some(CalibrationEvent::Completed { .. })))
        });
        let new_baseline = if calibrated {
            self.baseline_json()
        } else {
            None
        };
        {
            let mut e = relock(&self.engines);
            let mut alerts = Vec::new();
            let mut take = |o: AlertOutput| {
                for s in &o.suppressed {
                    log::debug!("monitor: alert {:?} suppressed ({:?})", s.kind, s.cause);
                }
                alerts.extend(o.alerts);
            };
            for ev in &out[first..end] {
                match ev {
                    MonitorEvent::Stress { update, .. } => take(e.alerts.on_stress(update)),
                    MonitorEvent::Battery { at_ms, percent } => {
                        take(e.alerts.on_battery(*at_ms, *percent))
                    }
                    MonitorEvent::Connection { at_ms, state } => {
                        take(e.alerts.on_link(*at_ms, link_status(state)))
                    }
                    _ => {}
                }
            }
            take(e.alerts.tick(now_ms));
            out.extend(alerts.into_iter().map(|alert| MonitorEvent::Alert {
                alert,
                stored_id: None,
            }));
        }
        self.last_ms = self.last_ms.max(now_ms);
        let Some(h) = self.history.clone() else {
            return;
        };
        let flush = now_ms - self.last_flush_ms >= self.cfg.flush_every_ms;
        if self.unbegun.is_some() {
            // a finished calibration needs no session: keep it whatever happens
            if let Some(json) = &new_baseline
                && let Err(e) = relock(&h).save_baseline(BASELINE_PROFILE, json, now_ms)
            {
                log::debug!("monitor: baseline not stored: {}", e.log_safe());
            }
            if !flush {
                return;
            }
            self.last_flush_ms = now_ms;
            if let Err(e) = self.open_session() {
                log::debug!("monitor: history session still not opened: {e}");
                return;
            }
            log::info!("monitor: history session opened late");
        }
        let result = {
            let mut h = relock(&h);
            // a failed append is kept for the next commit: the others go on
            let mut r = Ok(());
            let id = self.session_id;
            for ev in &mut out[first..] {
                let appended = match ev {
                    MonitorEvent::Stress {
                        update,
                        observation,
                    } => h
                        .append_window(
                            id,
                            &window_record(observation, update, self.analyzer.as_ref()),
                        )
                        .and_then(|()| match (&update.calibration, &new_baseline) {
                            (Some(CalibrationEvent::Completed { .. }), Some(json)) => {
                                h.save_baseline(BASELINE_PROFILE, json, update.at_ms)
                            }
                            _ => Ok(()),
                        }),
                    MonitorEvent::Alert { alert, stored_id } => h
                        .append_alert(id, &alert_record(alert))
                        .map(|row| *stored_id = Some(row)),
                    MonitorEvent::Gap {
                        from_ms,
                        to_ms,
                        missing_samples,
                        cause,
                    } => h.append_gap(
                        id,
                        &GapRecord {
                            from_ms: from_ms.round() as i64,
                            to_ms: to_ms.round() as i64,
                            missing_samples: *missing_samples,
                            cause: gap_cause_name(*cause).into(),
                        },
                    ),
                    MonitorEvent::HeartRate(hr)
                        if hr.source == HeartRateSource::Ecg || !self.ecg_at(hr.at_ms) =>
                    {
                        // RR i ends at `at_ms` minus the intervals after it.
                        let mut at = hr.at_ms as f64;
                        let mut res = Ok(());
                        for &rr in hr.rr_ms.iter().rev() {
                            let one = h.append_rr(id, at.round() as i64, rr);
                            res = res.and(one);
                            at -= rr;
                        }
                        res
                    }
                    _ => Ok(()),
                };
                r = r.and(not_a_storage_failure(appended));
            }
            if r.is_ok() && flush {
                self.last_flush_ms = now_ms;
                r = h.flush();
            }
            r.map_err(|e| e.log_safe())
        };
        if let Err(e) = result {
            self.storage_failure(&e, out);
        }
    }

    fn report_degradations(&mut self, out: &mut Vec<MonitorEvent>) {
        for d in self.analyzer.take_degradations() {
            log::warn!("monitor: degraded: {d:?}");
            out.push(MonitorEvent::Degraded(d));
        }
    }

    /// The strap's own samples for export (EDF+), at the source rate.
    fn store_raw_ecg(&mut self, chunk: &crate::sensor::EcgChunk, out: &mut Vec<MonitorEvent>) {
        let Some(h) = self.history.clone().filter(|_| self.unbegun.is_none()) else {
            return;
        };
        let rate = (1000.0 / chunk.sample_interval_ms).round();
        let rec = EcgChunk {
            first_sample_ms: (chunk.first_sample_ms + self.offset_ms as f64).round() as i64,
            sampling_rate_hz: if rate.is_finite() && rate >= 1.0 {
                rate as u32
            } else {
                0
            },
            samples_uv: &chunk.samples_uv,
        };
        let r = relock(&h).append_ecg(self.session_id, &rec);
        if let Err(e) = r.map_err(|e| e.log_safe()) {
            self.storage_failure(&e, out);
        }
    }

    /// Open the session in the history if it is not yet (`unbegun`); why it cannot be.
    fn open_session(&mut self) -> Result<(), String> {
        let (Some(start), Some(h)) = (&self.unbegun, &self.history) else {
            return Ok(());
        };
        let id = relock(h).begin_session(start).map_err(|e| e.log_safe())?;
        self.session_id = id;
        self.unbegun = None;
        Ok(())
    }

    fn storage_failure(&mut self, detail: &str, out: &mut Vec<MonitorEvent>) {
        log::debug!("monitor: history write failed: {detail}");
        if !self.storage_failed {
            self.storage_failed = true;
            log::warn!("monitor: history not written; live results continue");
            out.push(MonitorEvent::Degraded(Degradation::StorageFailed {
                reason: "the history could not be written".into(),
            }));
        }
    }
}

/// A record the history refused as invalid is dropped (the history stays writable): only the
/// other errors are storage failures.
fn not_a_storage_failure(r: crate::error::Result<()>) -> crate::error::Result<()> {
    match r {
        Err(crate::Error::InvalidArgument(why)) => {
            log::debug!("monitor: record not stored: {why}");
            Ok(())
        }
        r => r,
    }
}

/// The alert engine's view of the connection.
fn link_status(state: &ConnectionState) -> LinkStatus {
    match state {
        ConnectionState::Streaming => LinkStatus::Streaming,
        ConnectionState::Stopped | ConnectionState::Failed { .. } => LinkStatus::Stopped,
        ConnectionState::Idle
        | ConnectionState::Connecting
        | ConnectionState::Configuring
        | ConnectionState::Reconnecting { .. } => LinkStatus::Disconnected,
    }
}

/// What the history keeps of a scored window.
fn window_record(
    o: &WindowObservation,
    u: &StressUpdate,
    analyzer: &dyn WindowAnalyzer,
) -> WindowRecord {
    let feature = |name: &str| {
        crate::model_input::stress::HRV_FEATURE_NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(|i| o.features.get(i))
            .filter(|v| v.is_finite())
            .map(|&v| f64::from(v))
    };
    let b = o.beat_counts;
    WindowRecord {
        start_ms: o.start_ms,
        end_ms: o.end_ms,
        usable_fraction: f64::from(o.usable_fraction),
        mean_hr_bpm: o.hr_bpm.map(f64::from),
        rmssd_ms: o.rmssd_ms.map(f64::from),
        sdnn_ms: o.sdnn_ms.map(f64::from),
        pnn50_pct: feature("pnn50"),
        lf_hf: None,
        stress_probability: match u.source {
            Some(ScoreSource::Model) => o.model_probability,
            Some(ScoreSource::HrvFallback) => o.fallback_probability,
            None => o.model_probability.or(o.fallback_probability),
        }
        .map(f64::from),
        score: u.score.map(f64::from),
        confidence: u.score.map(|_| f64::from(u.confidence)),
        // The engine holds its state across unscored windows; the history keeps what was measured.
        state: u
            .state
            .filter(|_| u.score.is_some())
            .map_or("unknown", |s| s.name())
            .into(),
        scored_by: match u.source {
            Some(ScoreSource::Model) => analyzer.model_name(),
            Some(ScoreSource::HrvFallback) => "hrv-fallback".into(),
            None => String::new(),
        },
        beats: BeatCounts {
            normal: b.n,
            supraventricular: b.s,
            ventricular: b.v,
            fusion: b.f,
            unknown: b.q,
        },
        rr_only: o.rr_only,
    }
}

/// What the history keeps of an alert.
fn alert_record(a: &Alert) -> AlertRecord {
    AlertRecord {
        at_ms: a.at_ms,
        kind: alert_kind_name(a.kind).into(),
        severity: match a.severity {
            Severity::Info => 0,
            Severity::Warning => 1,
        },
        reason: a.reason.clone(),
    }
}

/// Stored name of an alert kind.
pub fn alert_kind_name(k: AlertKind) -> &'static str {
    match k {
        AlertKind::SustainedHighStress => "stress_high",
        AlertKind::SignalLost => "signal_lost",
        AlertKind::SignalBack => "signal_back",
        AlertKind::BatteryLow => "battery_low",
        AlertKind::StrapDisconnected => "strap_disconnected",
        AlertKind::StrapReconnected => "strap_reconnected",
    }
}

/// The alert kind a stored name names (`None`: a name this version does not write).
pub fn alert_kind_from_name(name: &str) -> Option<AlertKind> {
    AlertKind::ALL
        .into_iter()
        .find(|&k| alert_kind_name(k) == name)
}

/// Stored name of a gap cause.
pub fn gap_cause_name(c: GapCause) -> &'static str {
    match c {
        GapCause::FramesMissing => "frame_loss",
        GapCause::LinkLost => "disconnect",
        GapCause::StreamRestarted => "stream_restart",
        GapCause::ClockJump => "timestamp_jump",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_kinds_read_back_from_their_stored_names() {
        for k in AlertKind::ALL {
            assert_eq!(alert_kind_from_name(alert_kind_name(k)), Some(k));
        }
        assert_eq!(alert_kind_from_name("a kind of a later version"), None);
    }
}
