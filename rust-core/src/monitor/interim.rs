//! Interim parts used until the real model inputs / models, stress engine and history are
//! joined: HRV from the core's existing `hrv` module, a heart-rate-relative score and an
//! in-memory history. Replaced part by part; kept only as test fakes.

use super::events::{Degradation, MonitorEvent};
use super::front::MODEL_RATE_HZ;
use super::ports::*;
use crate::sensor::GapCause;

/// Minimum usable fraction for a score.
const MIN_USABLE: f64 = 0.8;

/// HRV of each window from the core's `hrv` module; no model.
#[derive(Debug, Default)]
pub struct HrvOnlyAnalyzer;

impl WindowAnalyzer for HrvOnlyAnalyzer {
    fn analyze(&mut self, windows: &[WindowSignal], out: &mut Vec<WindowAnalysis>) {
        for w in windows {
            let usable = crate::dsp::assess_quality(
                &w.samples_mv,
                MODEL_RATE_HZ,
                crate::dsp::QualityConfig::default(),
            )
            .map_or(0.0, |q| q.usable_fraction);
            let rr = crate::analysis::rr_intervals_ms(&w.peaks, MODEL_RATE_HZ);
            let hrv = crate::hrv::analyze_rr(&rr).ok();
            out.push(WindowAnalysis {
                usable_fraction: usable,
                hr_bpm: hrv.as_ref().map(|h| h.mean_hr_bpm),
                rmssd_ms: hrv.as_ref().map(|h| h.rmssd_ms),
                stress_probability: None,
                source: ScoreSource::None,
                beats: BeatCounts::default(),
            });
        }
    }

    fn degradations(&self) -> Vec<Degradation> {
        Vec::new()
    }
}

/// Score = heart rate relative to the first usable windows (50 = baseline, +2.5 per bpm).
#[derive(Debug, Default)]
pub struct HeartRateEngine {
    baseline: Vec<f64>,
    high_since: Option<i64>,
}

impl StressEngine for HeartRateEngine {
    fn on_window(&mut self, w: &WindowSignal, a: WindowAnalysis) -> StressUpdate {
        let hr = a.hr_bpm.filter(|_| a.usable_fraction >= MIN_USABLE);
        let score = hr.and_then(|hr| {
            if self.baseline.len() < 4 {
                self.baseline.push(hr);
            }
            let base = self.baseline.iter().sum::<f64>() / self.baseline.len() as f64;
            (self.baseline.len() >= 4).then(|| (50.0 + (hr - base) * 2.5).clamp(0.0, 100.0))
        });
        let level = match score {
            None => StressLevel::Unknown,
            Some(s) if s >= 75.0 => StressLevel::High,
            Some(s) if s >= 60.0 => StressLevel::Elevated,
            Some(_) => StressLevel::Calm,
        };
        StressUpdate {
            window_start_ms: w.start_ms,
            at_ms: w.end_ms,
            score,
            confidence: if score.is_some() { a.usable_fraction } else { 0.0 },
            level,
            reason: match (hr, score) {
                (None, _) => Some("signal not usable".into()),
                (Some(_), None) => Some("calibrating".into()),
                _ => None,
            },
            analysis: a,
        }
    }

    fn alerts(&mut self, event: &MonitorEvent, out: &mut Vec<Alert>) {
        if let MonitorEvent::Stress(u) = event {
            if u.level == StressLevel::High {
                let since = *self.high_since.get_or_insert(u.at_ms);
                if u.at_ms - since >= 120_000 {
                    out.push(Alert {
                        at_ms: u.at_ms,
                        kind: AlertKind::SustainedStress,
                        message: "high stress for 2 minutes".into(),
                    });
                    self.high_since = Some(u.at_ms);
                }
            } else {
                self.high_since = None;
            }
        }
    }
}

/// Everything a [`MemoryHistory`] holds for one session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredSession {
    /// Id.
    pub id: i64,
    /// What was passed at the start.
    pub info: Option<SessionInfo>,
    /// Scored windows in order.
    pub windows: Vec<StressUpdate>,
    /// Alerts.
    pub alerts: Vec<Alert>,
    /// Gaps (from, to, cause).
    pub gaps: Vec<(f64, f64, GapCause)>,
    /// End (phone ms) once closed.
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
    fn window(&mut self, session: i64, update: &StressUpdate) -> crate::Result<()> {
        self.session(session)?.windows.push(update.clone());
        Ok(())
    }
    fn alert(&mut self, session: i64, alert: &Alert) -> crate::Result<()> {
        self.session(session)?.alerts.push(alert.clone());
        Ok(())
    }
    fn gap(&mut self, session: i64, from_ms: f64, to_ms: f64, cause: GapCause) -> crate::Result<()> {
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
