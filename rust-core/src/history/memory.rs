//! An in-memory [`HistorySink`] for tests of the modules that write history.

use super::{
    AlertRecord, EcgChunk, EndReason, GapRecord, HistorySink, SessionId, SessionStart, WindowRecord,
};
use crate::Result;

/// One session as [`MemoryHistory`] holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct MemorySession {
    /// Its id.
    pub id: SessionId,
    /// What `begin_session` was given.
    pub start: SessionStart,
    /// End time and reason, once ended.
    pub ended: Option<(i64, EndReason)>,
    /// Windows in append order.
    pub windows: Vec<WindowRecord>,
    /// (at_ms, rr_ms) in append order.
    pub rr: Vec<(i64, f64)>,
    /// ECG chunks: (first_sample_ms, sampling_rate_hz, samples µV).
    pub ecg: Vec<(i64, u32, Vec<i32>)>,
    /// Alerts in append order.
    pub alerts: Vec<AlertRecord>,
    /// Gaps in append order.
    pub gaps: Vec<GapRecord>,
}

/// Keeps everything in memory; `flush` counts calls. Appends to an unknown session fail with
/// [`crate::Error::InvalidArgument`], like the SQLite store's foreign keys would.
#[derive(Debug, Default, Clone)]
pub struct MemoryHistory {
    /// Sessions in creation order (id = index + 1).
    pub sessions: Vec<MemorySession>,
    /// Baselines: (profile, json, updated_at_ms).
    pub baselines: Vec<(String, String, i64)>,
    /// Number of `flush` calls (including those from `end_session`).
    pub flushes: usize,
}

impl MemoryHistory {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    fn session(&mut self, id: SessionId) -> Result<&mut MemorySession> {
        usize::try_from(id - 1)
            .ok()
            .and_then(|i| self.sessions.get_mut(i))
            .ok_or_else(|| crate::Error::InvalidArgument(format!("unknown session {id}")))
    }
}

impl HistorySink for MemoryHistory {
    fn begin_session(&mut self, start: &SessionStart) -> Result<SessionId> {
        let id = self.sessions.len() as SessionId + 1;
        self.sessions.push(MemorySession {
            id,
            start: start.clone(),
            ended: None,
            windows: Vec::new(),
            rr: Vec::new(),
            ecg: Vec::new(),
            alerts: Vec::new(),
            gaps: Vec::new(),
        });
        Ok(id)
    }

    fn append_window(&mut self, session: SessionId, window: &WindowRecord) -> Result<()> {
        self.session(session)?.windows.push(window.clone());
        Ok(())
    }

    fn append_rr(&mut self, session: SessionId, at_ms: i64, rr_ms: f64) -> Result<()> {
        self.session(session)?.rr.push((at_ms, rr_ms));
        Ok(())
    }

    fn append_ecg(&mut self, session: SessionId, chunk: &EcgChunk<'_>) -> Result<()> {
        self.session(session)?.ecg.push((
            chunk.first_sample_ms,
            chunk.sampling_rate_hz,
            chunk.samples_uv.to_vec(),
        ));
        Ok(())
    }

    fn append_alert(&mut self, session: SessionId, alert: &AlertRecord) -> Result<i64> {
        self.session(session)?.alerts.push(alert.clone());
        // ids count alerts over all sessions, from 1
        Ok(self.sessions.iter().map(|s| s.alerts.len() as i64).sum())
    }

    fn append_gap(&mut self, session: SessionId, gap: &GapRecord) -> Result<()> {
        self.session(session)?.gaps.push(gap.clone());
        Ok(())
    }

    fn end_session(
        &mut self,
        session: SessionId,
        ended_at_ms: i64,
        reason: EndReason,
    ) -> Result<()> {
        self.session(session)?.ended = Some((ended_at_ms, reason));
        self.flush()
    }

    fn save_baseline(&mut self, profile: &str, json: &str, updated_at_ms: i64) -> Result<()> {
        self.baselines.retain(|(p, _, _)| p != profile);
        self.baselines
            .push((profile.to_string(), json.to_string(), updated_at_ms));
        Ok(())
    }

    fn load_baseline(&mut self, profile: &str) -> Result<Option<(String, i64)>> {
        Ok(self
            .baselines
            .iter()
            .find(|(p, _, _)| p == profile)
            .map(|(_, j, t)| (j.clone(), *t)))
    }

    fn flush(&mut self) -> Result<()> {
        self.flushes += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::SourceKind;

    #[test]
    fn records_appends_and_rejects_unknown_sessions() {
        let mut h = MemoryHistory::new();
        let id = h
            .begin_session(&SessionStart {
                started_at_ms: 1,
                source: SourceKind::Simulator,
                device_model: None,
                device_identity: None,
            })
            .unwrap();
        h.append_rr(id, 10, 800.0).unwrap();
        h.end_session(id, 20, EndReason::Stopped).unwrap();
        assert_eq!(h.sessions[0].rr, [(10, 800.0)]);
        assert_eq!(h.sessions[0].ended, Some((20, EndReason::Stopped)));
        assert_eq!(h.flushes, 1);
        assert!(h.append_rr(id + 1, 0, 1.0).is_err());
        h.save_baseline("default", "{}", 5).unwrap();
        h.save_baseline("default", "{\"a\":1}", 6).unwrap();
        assert_eq!(
            h.load_baseline("default").unwrap(),
            Some(("{\"a\":1}".into(), 6))
        );
    }
}
