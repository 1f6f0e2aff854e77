//! Interim: the monitor's [`HistoryWriter`] on the SQLite [`History`], until the monitor ships
//! its own adapter. Windows, alerts and gaps come through the pipeline; the raw ECG and the RR
//! intervals through listener events ([`SqliteWriter::on_event`]).

use std::sync::{Arc, Mutex};

use stressbeat_core::monitor::HistoryWriter;
use stressbeat_core::{
    engine::{Alert, AlertKind, ScoreSource, Severity, StressUpdate, WindowObservation},
    history::{
        AlertRecord, BeatCounts, EcgChunk, EndReason, GapRecord, History, HistorySink,
        SessionStart, SourceKind, WindowRecord,
    },
    monitor::{MonitorEvent, SessionInfo, SharedHistory},
    sensor::GapCause,
};

/// ECG stored at this rate (the monitor's drawing batches are the 130 Hz model signal).
const ECG_RATE_HZ: u32 = 130;

/// The history plus what the current session needs.
#[derive(Debug)]
pub struct SqliteWriter {
    history: History,
    source: SourceKind,
    session: i64,
    ecg_uv: Vec<i32>,
}

impl SqliteWriter {
    /// Write sessions of `source` into `history`.
    pub fn new(history: History, source: SourceKind) -> Self {
        Self {
            history,
            source,
            session: 0,
            ecg_uv: Vec::with_capacity(1024),
        }
    }

    /// The history (for queries once the session has ended).
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Shared: the concrete handle (for events and queries) and the monitor's view of it.
    pub fn shared(self) -> (Arc<Mutex<SqliteWriter>>, SharedHistory) {
        let concrete = Arc::new(Mutex::new(self));
        let port: SharedHistory = concrete.clone();
        (concrete, port)
    }

    /// Store the raw ECG and RR intervals of a listener event.
    pub fn on_event(&mut self, ev: &MonitorEvent) -> stressbeat_core::Result<()> {
        if self.session == 0 {
            return Ok(());
        }
        match ev {
            MonitorEvent::Ecg(batch) => {
                self.ecg_uv.clear();
                if batch.samples_mv.iter().any(|x| !x.is_finite()) {
                    // Missing stretches are stored as gaps, not as samples.
                    return Ok(());
                }
                self.ecg_uv.extend(
                    batch
                        .samples_mv
                        .iter()
                        .map(|&x| (f64::from(x) * 1000.0).round() as i32),
                );
                self.history.append_ecg(
                    self.session,
                    &EcgChunk {
                        first_sample_ms: batch.first_sample_ms.round() as i64,
                        sampling_rate_hz: ECG_RATE_HZ,
                        samples_uv: &self.ecg_uv,
                    },
                )
            }
            MonitorEvent::HeartRate(hr) => {
                // RR intervals end at the update, oldest first.
                let mut at = hr.at_ms as f64 - hr.rr_ms.iter().sum::<f64>();
                for &rr in &hr.rr_ms {
                    at += rr;
                    self.history
                        .append_rr(self.session, at.round() as i64, rr)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn alert_kind(k: AlertKind) -> &'static str {
    match k {
        AlertKind::SustainedHighStress => "sustained_high_stress",
        AlertKind::SignalLost => "signal_lost",
        AlertKind::SignalBack => "signal_back",
        AlertKind::BatteryLow => "battery_low",
        AlertKind::StrapDisconnected => "strap_disconnected",
        AlertKind::StrapReconnected => "strap_reconnected",
    }
}

fn gap_cause(c: GapCause) -> &'static str {
    match c {
        GapCause::FramesMissing => "frames_missing",
        GapCause::LinkLost => "link_lost",
        GapCause::StreamRestarted => "stream_restarted",
        GapCause::ClockJump => "clock_jump",
    }
}

impl HistoryWriter for SqliteWriter {
    fn begin_session(&mut self, info: &SessionInfo) -> stressbeat_core::Result<i64> {
        self.session = self.history.begin_session(&SessionStart {
            started_at_ms: info.started_unix_ms,
            source: self.source.clone(),
            device_model: Some(info.device.clone()),
            device_identity: None,
        })?;
        Ok(self.session)
    }

    fn window(
        &mut self,
        session: i64,
        o: &WindowObservation,
        u: &StressUpdate,
    ) -> stressbeat_core::Result<()> {
        let record = WindowRecord {
            start_ms: o.start_ms,
            end_ms: o.end_ms,
            usable_fraction: f64::from(o.usable_fraction),
            mean_hr_bpm: o.hr_bpm.map(f64::from),
            rmssd_ms: o.rmssd_ms.map(f64::from),
            sdnn_ms: o.sdnn_ms.map(f64::from),
            pnn50_pct: None,
            lf_hf: None,
            stress_probability: o
                .model_probability
                .or(o.fallback_probability)
                .map(f64::from),
            score: u.score.map(f64::from),
            confidence: u.score.map(|_| f64::from(u.confidence)),
            state: u.state.map_or("unknown", |s| s.name()).to_string(),
            scored_by: match u.source {
                Some(ScoreSource::Model) => "model",
                Some(ScoreSource::HrvFallback) => "hrv_fallback",
                None => "",
            }
            .to_string(),
            beats: BeatCounts {
                normal: o.beat_counts.n,
                supraventricular: o.beat_counts.s,
                ventricular: o.beat_counts.v,
                fusion: o.beat_counts.f,
                unknown: o.beat_counts.q,
            },
        };
        self.history.append_window(session, &record)
    }

    fn alert(&mut self, session: i64, a: &Alert) -> stressbeat_core::Result<()> {
        self.history.append_alert(
            session,
            &AlertRecord {
                at_ms: a.at_ms,
                kind: alert_kind(a.kind).to_string(),
                severity: match a.severity {
                    Severity::Info => 0,
                    Severity::Warning => 1,
                },
                reason: a.reason.clone(),
            },
        )
    }

    fn gap(
        &mut self,
        session: i64,
        from_ms: i64,
        to_ms: i64,
        cause: GapCause,
    ) -> stressbeat_core::Result<()> {
        let missing = ((to_ms - from_ms).max(0) as f64 * f64::from(ECG_RATE_HZ) / 1000.0) as u64;
        self.history.append_gap(
            session,
            &GapRecord {
                from_ms,
                to_ms,
                missing_samples: missing,
                cause: gap_cause(cause).to_string(),
            },
        )
    }

    fn end_session(&mut self, session: i64, end_ms: i64) -> stressbeat_core::Result<()> {
        self.history
            .end_session(session, end_ms, EndReason::SourceEnded)
    }

    fn flush(&mut self) -> stressbeat_core::Result<()> {
        HistorySink::flush(&mut self.history)
    }
}
