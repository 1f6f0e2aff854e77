//! Interim parts used until the real model inputs / models and history are joined: HRV from
//! the core's existing `hrv` module with a crude heart-rate/RMSSD logistic as the "fallback"
//! probability, and an in-memory history. Kept only as test fakes once replaced.

use super::events::Degradation;
use super::front::MODEL_RATE_HZ;
use super::ports::*;
use crate::engine::{Alert, BeatCounts, StressUpdate, WindowObservation};
use crate::sensor::GapCause;

/// HRV of each window from the core's `hrv` module; no model.
#[derive(Debug, Default)]
pub struct HrvOnlyAnalyzer;

impl WindowAnalyzer for HrvOnlyAnalyzer {
    fn analyze(
        &mut self,
        windows: &[WindowSignal],
        _baseline: Option<&[f32]>,
        out: &mut Vec<WindowObservation>,
    ) {
        for w in windows {
            let usable = crate::dsp::assess_quality(
                &w.samples_mv,
                MODEL_RATE_HZ,
                crate::dsp::QualityConfig::default(),
            )
            .map_or(0.0, |q| q.usable_fraction);
            let rr = crate::analysis::rr_intervals_ms(&w.peaks, MODEL_RATE_HZ);
            let hrv = crate::hrv::analyze_rr(&rr).ok();
            let prob = hrv.as_ref().map(|h| {
                let z = (h.mean_hr_bpm - 75.0) / 8.0 - (h.rmssd_ms.max(1.0) / 40.0).ln();
                (1.0 / (1.0 + (-z).exp())) as f32
            });
            out.push(WindowObservation {
                start_ms: w.start_ms,
                end_ms: w.end_ms,
                usable_fraction: usable as f32,
                hr_bpm: hrv.as_ref().map(|h| h.mean_hr_bpm as f32),
                rmssd_ms: hrv.as_ref().map(|h| h.rmssd_ms as f32),
                sdnn_ms: hrv.as_ref().map(|h| h.sdnn_ms as f32),
                model_probability: None,
                fallback_probability: prob,
                beat_counts: BeatCounts {
                    n: w.peaks.len() as u32,
                    ..BeatCounts::default()
                },
                features: Vec::new(),
            });
        }
    }

    fn degradations(&self) -> Vec<Degradation> {
        Vec::new()
    }
}

/// Everything a [`MemoryHistory`] holds for one session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredSession {
    /// Id.
    pub id: i64,
    /// What was passed at the start.
    pub info: Option<SessionInfo>,
    /// Analysed windows with their updates, in order.
    pub windows: Vec<(WindowObservation, StressUpdate)>,
    /// Alerts.
    pub alerts: Vec<Alert>,
    /// Gaps (from, to, cause), Unix ms.
    pub gaps: Vec<(i64, i64, GapCause)>,
    /// End (Unix ms) once closed.
    pub end_ms: Option<i64>,
}

/// An in-memory history.
#[derive(Debug, Default)]
pub struct MemoryHistory {
    /// Sessions in order.
    pub sessions: Vec<StoredSession>,
}

impl MemoryHistory {
    fn session(&mut self, id: i64) -> crate::Result<&mut StoredSession> {
        self.sessions
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| crate::Error::InvalidArgument("no such session".into()))
    }
}

impl HistoryWriter for MemoryHistory {
    fn begin_session(&mut self, info: &SessionInfo) -> crate::Result<i64> {
        let id = self.sessions.len() as i64 + 1;
        self.sessions.push(StoredSession {
            id,
            info: Some(info.clone()),
            ..StoredSession::default()
        });
        Ok(id)
    }
    fn window(
        &mut self,
        session: i64,
        observation: &WindowObservation,
        update: &StressUpdate,
    ) -> crate::Result<()> {
        self.session(session)?
            .windows
            .push((observation.clone(), update.clone()));
        Ok(())
    }
    fn alert(&mut self, session: i64, alert: &Alert) -> crate::Result<()> {
        self.session(session)?.alerts.push(alert.clone());
        Ok(())
    }
    fn gap(&mut self, session: i64, from_ms: i64, to_ms: i64, cause: GapCause) -> crate::Result<()> {
        self.session(session)?.gaps.push((from_ms, to_ms, cause));
        Ok(())
    }
    fn end_session(&mut self, session: i64, end_ms: i64) -> crate::Result<()> {
        self.session(session)?.end_ms = Some(end_ms);
        Ok(())
    }
    fn flush(&mut self) -> crate::Result<()> {
        Ok(())
    }
}
