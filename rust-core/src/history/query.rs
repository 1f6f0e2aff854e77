//! Queries for the apps and the retention policy. Queries see committed data only.

use rusqlite::{OptionalExtension, Row, params};

use super::{
    BeatCounts, EndReason, GapRecord, History, HistorySink, SessionId, SourceKind,
    store::storage_error, time::local_day,
};
use crate::{Error, Result};

/// One bucket of [`History::timeline`]. Aggregates are over the windows whose end falls in the
/// bucket; `None` when none of them had the value.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelinePoint {
    /// Bucket start (ms, UTC).
    pub start_ms: i64,
    /// Bucket end (ms, UTC, exclusive).
    pub end_ms: i64,
    /// Windows in the bucket.
    pub windows: u32,
    /// Mean heart rate, bpm.
    pub mean_hr_bpm: Option<f64>,
    /// Mean stress score.
    pub mean_score: Option<f64>,
    /// Highest stress score.
    pub max_score: Option<f64>,
    /// Lowest usable fraction (signal quality) in the bucket.
    pub min_usable_fraction: Option<f64>,
}

/// Time spent in one engine state.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMinutes {
    /// State name as stored.
    pub state: String,
    /// Minutes.
    pub minutes: f64,
}

/// One local day of [`History::daily_summaries`].
#[derive(Debug, Clone, PartialEq)]
pub struct DailySummary {
    /// Local date, "YYYY-MM-DD".
    pub date: String,
    /// Start of the local day (ms, UTC).
    pub day_start_ms: i64,
    /// Windows that ended that day.
    pub windows: u32,
    /// Mean stress score.
    pub mean_score: Option<f64>,
    /// Highest stress score.
    pub max_score: Option<f64>,
    /// Minutes in each state (each window counts from its end to the next window's end, at most
    /// its own length, so overlapping windows are not counted twice), by state name.
    pub minutes_by_state: Vec<StateMinutes>,
    /// Alerts raised that day.
    pub alerts: u32,
    /// Mean heart rate, bpm.
    pub mean_hr_bpm: Option<f64>,
    /// Mean RMSSD, ms.
    pub mean_rmssd_ms: Option<f64>,
}

/// A local day by its bounds ([`History::summaries_of_days`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayBounds {
    /// Its date as the caller names it ("YYYY-MM-DD").
    pub date: String,
    /// Its first instant (ms, UTC).
    pub start_ms: i64,
    /// The next day's first instant (ms, UTC).
    pub end_ms: i64,
}

/// An alert as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    /// Alert id (for [`History::acknowledge_alert`]).
    pub id: i64,
    /// Its session.
    pub session_id: SessionId,
    /// When (ms, UTC).
    pub at_ms: i64,
    /// Kind.
    pub kind: String,
    /// Severity (0 = info).
    pub severity: u8,
    /// Reason shown to the user.
    pub reason: String,
    /// Whether the user acknowledged it.
    pub acknowledged: bool,
}

/// A session with its counts ([`History::sessions`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    /// Id.
    pub id: SessionId,
    /// Start (ms, UTC).
    pub started_at_ms: i64,
    /// End (ms, UTC); `None` for a running session or one whose process was killed.
    pub ended_at_ms: Option<i64>,
    /// Stored end reason ("stopped", …); `None` when not ended.
    pub end_reason: Option<String>,
    /// From start to the end, or to the last stored window/RR when not ended.
    pub duration_ms: i64,
    /// Source.
    pub source: SourceKind,
    /// Device model (clear).
    pub device_model: Option<String>,
    /// Salted hash of the device identity.
    pub device_hash: Option<String>,
    /// Windows stored.
    pub windows: u32,
    /// RR intervals stored.
    pub rr_intervals: u32,
    /// Raw ECG samples stored.
    pub ecg_samples: u64,
    /// Alerts.
    pub alerts: u32,
    /// Gaps.
    pub gaps: u32,
}

/// A session with its aggregates, alerts and gaps ([`History::session_detail`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionDetail {
    /// The session and its counts.
    pub summary: SessionSummary,
    /// Mean heart rate over its windows, bpm.
    pub mean_hr_bpm: Option<f64>,
    /// Mean RMSSD, ms.
    pub mean_rmssd_ms: Option<f64>,
    /// Mean stress score.
    pub mean_score: Option<f64>,
    /// Highest stress score.
    pub max_score: Option<f64>,
    /// Beats by class over all windows.
    pub beats: BeatCounts,
    /// Windows computed from the strap's RR intervals (no ECG).
    pub rr_only_windows: u64,
    /// Minutes in each state (as in [`DailySummary::minutes_by_state`]).
    pub minutes_by_state: Vec<StateMinutes>,
    /// Alerts, oldest first.
    pub alerts: Vec<AlertRow>,
    /// Gaps, oldest first.
    pub gaps: Vec<GapRecord>,
}

/// How long data is kept ([`History::apply_retention`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Windows, RR, alerts, gaps and sessions older than this many days are deleted.
    pub keep_days: u32,
    /// Raw ECG older than this many days is deleted (usually much shorter: it is the bulk).
    pub keep_raw_ecg_days: u32,
}

/// Rows deleted by [`History::apply_retention`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Windows.
    pub windows: u64,
    /// RR intervals.
    pub rr_intervals: u64,
    /// Raw ECG chunks.
    pub ecg_chunks: u64,
    /// Alerts.
    pub alerts: u64,
    /// Gaps.
    pub gaps: u64,
    /// Sessions left with no data.
    pub sessions: u64,
}

/// Milliseconds a window stands for: from its end to the next window's end in the same session, at
/// most its own length (SQL expression over `windows`, needs `session_id`, `start_ms`, `end_ms`).
const WINDOW_SPAN_MS: &str = "MIN(end_ms - start_ms,
     COALESCE(LEAD(end_ms) OVER (PARTITION BY session_id ORDER BY end_ms), end_ms + (end_ms - start_ms))
     - end_ms)";

pub(super) const SESSION_SUMMARY_SQL: &str =
    "SELECT s.id, s.started_at_ms, s.ended_at_ms, s.end_reason,
     s.source_kind, s.source_detail, s.device_model, s.device_hash,
     (SELECT COUNT(*) FROM windows WHERE session_id = s.id),
     (SELECT COUNT(*) FROM rr WHERE session_id = s.id),
     (SELECT COALESCE(SUM(sample_count), 0) FROM ecg_chunks WHERE session_id = s.id),
     (SELECT COUNT(*) FROM alerts WHERE session_id = s.id),
     (SELECT COUNT(*) FROM gaps WHERE session_id = s.id),
     MAX(COALESCE((SELECT MAX(end_ms) FROM windows WHERE session_id = s.id), s.started_at_ms),
         COALESCE((SELECT MAX(at_ms) FROM rr WHERE session_id = s.id), s.started_at_ms))
     FROM sessions s";

fn session_summary(r: &Row<'_>) -> rusqlite::Result<SessionSummary> {
    let started_at_ms: i64 = r.get(1)?;
    let ended_at_ms: Option<i64> = r.get(2)?;
    let last_data_ms: i64 = r.get(13)?;
    let kind: String = r.get(4)?;
    Ok(SessionSummary {
        id: r.get(0)?,
        started_at_ms,
        ended_at_ms,
        end_reason: r.get(3)?,
        duration_ms: ended_at_ms.unwrap_or(last_data_ms) - started_at_ms,
        source: SourceKind::from_stored(&kind, r.get(5)?),
        device_model: r.get(6)?,
        device_hash: r.get(7)?,
        windows: r.get(8)?,
        rr_intervals: r.get(9)?,
        ecg_samples: r.get::<_, i64>(10)?.max(0) as u64,
        alerts: r.get(11)?,
        gaps: r.get(12)?,
    })
}

/// [`History::past_start_ms`] among sessions given as (start, end) ms, latest start first.
pub(crate) fn start_before(
    sessions: impl IntoIterator<Item = (i64, i64)>,
    length_ms: i64,
    now_ms: i64,
) -> i64 {
    const SPACING_MS: i64 = 1_000;
    let length = length_ms.max(0);
    let mut end = now_ms;
    // latest start first: a session that moves the slot moves it below every later start, so
    // one pass suffices (an earlier session may still end late: no early exit)
    for (start, session_end) in sessions {
        if session_end.max(start).saturating_add(SPACING_MS) > end - length {
            end = end.min(start - SPACING_MS);
        }
    }
    end - length
}

fn alert_row(r: &Row<'_>) -> rusqlite::Result<AlertRow> {
    Ok(AlertRow {
        id: r.get(0)?,
        session_id: r.get(1)?,
        at_ms: r.get(2)?,
        kind: r.get(3)?,
        severity: r.get(4)?,
        reason: r.get(5)?,
        acknowledged: r.get(6)?,
    })
}

const ALERT_COLUMNS: &str = "id, session_id, at_ms, kind, severity, reason, acknowledged";

fn check_range(from_ms: i64, to_ms: i64) -> Result<()> {
    if to_ms <= from_ms {
        return Err(Error::InvalidArgument(
            "history query: the range end must be after its start".into(),
        ));
    }
    Ok(())
}

impl History {
    /// The windows ending in `[from_ms, to_ms)` downsampled to at most `points` buckets of
    /// `ceil((to_ms - from_ms) / points)` ms each (the last one clipped to `to_ms`; empty buckets
    /// are left out), oldest first.
    pub fn timeline(&self, from_ms: i64, to_ms: i64, points: u32) -> Result<Vec<TimelinePoint>> {
        check_range(from_ms, to_ms)?;
        if points == 0 {
            return Err(Error::InvalidArgument(
                "history timeline: at least one point".into(),
            ));
        }
        // buckets of a whole number of ms: `points` or fewer cover the range
        let span = i64::try_from(i128::from(to_ms) - i128::from(from_ms))
            .map_err(|_| Error::InvalidArgument("history timeline: range too long".into()))?;
        let width = (span / i64::from(points)).max(1) + i64::from(span % i64::from(points) != 0);
        let bound = |b: i64| from_ms.saturating_add(b.saturating_mul(width)).min(to_ms);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT (end_ms - ?1) / ?3 AS bucket, COUNT(*), AVG(mean_hr_bpm),
                 AVG(score), MAX(score), MIN(usable_fraction)
                 FROM windows WHERE end_ms >= ?1 AND end_ms < ?2 GROUP BY bucket ORDER BY bucket",
            )
            .map_err(storage_error)?;
        let rows = stmt
            .query_map(params![from_ms, to_ms, width], |r| {
                let b: i64 = r.get(0)?;
                Ok(TimelinePoint {
                    start_ms: bound(b),
                    end_ms: bound(b + 1),
                    windows: r.get(1)?,
                    mean_hr_bpm: r.get(2)?,
                    mean_score: r.get(3)?,
                    max_score: r.get(4)?,
                    min_usable_fraction: r.get(5)?,
                })
            })
            .map_err(storage_error)?;
        rows.collect::<rusqlite::Result<_>>().map_err(storage_error)
    }

    /// One summary per local day (fixed `utc_offset_minutes`, east positive) that has windows or
    /// alerts in `[from_ms, to_ms)`, oldest first. One offset for every day: for days across a
    /// daylight-saving change use [`Self::summaries_of_days`] with the calendar's own bounds.
    pub fn daily_summaries(
        &self,
        from_ms: i64,
        to_ms: i64,
        utc_offset_minutes: i32,
    ) -> Result<Vec<DailySummary>> {
        check_range(from_ms, to_ms)?;
        // only the days between the first and the last record in the range
        let extent: (Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT MIN(t), MAX(t) FROM (
                   SELECT MIN(end_ms) AS t FROM windows WHERE end_ms >= ?1 AND end_ms < ?2
                   UNION ALL SELECT MAX(end_ms) FROM windows WHERE end_ms >= ?1 AND end_ms < ?2
                   UNION ALL SELECT MIN(at_ms) FROM alerts WHERE at_ms >= ?1 AND at_ms < ?2
                   UNION ALL SELECT MAX(at_ms) FROM alerts WHERE at_ms >= ?1 AND at_ms < ?2)",
                params![from_ms, to_ms],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(storage_error)?;
        let (Some(first), Some(last)) = extent else {
            return Ok(Vec::new());
        };
        let offset_ms = i64::from(utc_offset_minutes) * 60_000;
        let (first_day, last_day) = (
            local_day(first, utc_offset_minutes).0,
            local_day(last, utc_offset_minutes).0,
        );
        let days: Vec<DayBounds> = (first_day..=last_day)
            .map(|d| {
                let start_ms = d * 86_400_000 - offset_ms;
                DayBounds {
                    date: local_day(start_ms, utc_offset_minutes).1,
                    start_ms,
                    end_ms: start_ms + 86_400_000,
                }
            })
            .collect();
        let mut summaries = self.summaries_in(&days, from_ms, to_ms)?;
        summaries.retain(|s| s.windows > 0 || s.alerts > 0);
        Ok(summaries)
    }

    /// One summary per day in `days` (in that order, empty days included): the windows that
    /// ended and the alerts raised in `[start_ms, end_ms)` of each (where days overlap, in the
    /// one that starts later). The app computes each local
    /// day's bounds with its calendar, so a day across a daylight-saving change lasts 23 or 25
    /// hours and a day after a move to another time zone starts at its new midnight.
    pub fn summaries_of_days(&self, days: &[DayBounds]) -> Result<Vec<DailySummary>> {
        self.summaries_in(days, i64::MIN, i64::MAX)
    }

    /// [`Self::summaries_of_days`] counting only what lies in `[from_ms, to_ms)` as well. One
    /// pass over the windows and alerts of the whole span, each put in its day by a binary
    /// search (a join with the days would scan the span once per day).
    fn summaries_in(
        &self,
        days: &[DayBounds],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<DailySummary>> {
        let mut bounds = Vec::with_capacity(days.len());
        for d in days {
            check_range(d.start_ms, d.end_ms)?;
            bounds.push((d.start_ms.max(from_ms), d.end_ms.min(to_ms)));
        }
        let mut out: Vec<DailySummary> = days
            .iter()
            .map(|d| DailySummary {
                date: d.date.clone(),
                day_start_ms: d.start_ms,
                windows: 0,
                mean_score: None,
                max_score: None,
                minutes_by_state: Vec::new(),
                alerts: 0,
                mean_hr_bpm: None,
                mean_rmssd_ms: None,
            })
            .collect();
        let (Some(lo), Some(hi)) = (
            bounds.iter().map(|b| b.0).min(),
            bounds.iter().map(|b| b.1).max(),
        ) else {
            return Ok(out);
        };
        // days by start; a time belongs to the latest day starting at or before it, if it has
        // not ended (overlapping days: the later one)
        let mut by_start: Vec<usize> = (0..days.len()).collect();
        by_start.sort_by_key(|&i| bounds[i].0);
        let day_of = |t: i64| -> Option<usize> {
            let n = by_start.partition_point(|&i| bounds[i].0 <= t);
            let i = *by_start.get(n.checked_sub(1)?)?;
            (t < bounds[i].1).then_some(i)
        };
        #[derive(Default, Clone)]
        struct Sums {
            score: (f64, u32),
            hr: (f64, u32),
            rmssd: (f64, u32),
        }
        let add = |acc: &mut (f64, u32), v: Option<f64>| {
            if let Some(v) = v {
                acc.0 += v;
                acc.1 += 1;
            }
        };
        let mean = |acc: (f64, u32)| (acc.1 > 0).then(|| acc.0 / f64::from(acc.1));
        let mut sums = vec![Sums::default(); days.len()];
        let sql = format!(
            "SELECT end_ms, state, {WINDOW_SPAN_MS}, score, mean_hr_bpm, rmssd_ms FROM windows
             WHERE end_ms >= ?1 AND end_ms < ?2"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(storage_error)?;
        let mut rows = stmt.query(params![lo, hi]).map_err(storage_error)?;
        while let Some(r) = rows.next().map_err(storage_error)? {
            let Some(i) = day_of(r.get(0).map_err(storage_error)?) else {
                continue;
            };
            let (day, acc) = (&mut out[i], &mut sums[i]);
            let state: String = r.get(1).map_err(storage_error)?;
            let span_ms: f64 = r.get(2).map_err(storage_error)?;
            let score: Option<f64> = r.get(3).map_err(storage_error)?;
            day.windows += 1;
            day.max_score = match (day.max_score, score) {
                (Some(m), Some(s)) => Some(m.max(s)),
                (m, s) => m.or(s),
            };
            add(&mut acc.score, score);
            add(&mut acc.hr, r.get(4).map_err(storage_error)?);
            add(&mut acc.rmssd, r.get(5).map_err(storage_error)?);
            match day
                .minutes_by_state
                .binary_search_by(|m| m.state.as_str().cmp(&state))
            {
                Ok(k) => day.minutes_by_state[k].minutes += span_ms / 60_000.0,
                Err(k) => day.minutes_by_state.insert(
                    k,
                    StateMinutes {
                        state,
                        minutes: span_ms / 60_000.0,
                    },
                ),
            }
        }
        for (day, acc) in out.iter_mut().zip(sums) {
            day.mean_score = mean(acc.score);
            day.mean_hr_bpm = mean(acc.hr);
            day.mean_rmssd_ms = mean(acc.rmssd);
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT at_ms FROM alerts WHERE at_ms >= ?1 AND at_ms < ?2")
            .map_err(storage_error)?;
        let times = stmt
            .query_map(params![lo, hi], |r| r.get::<_, i64>(0))
            .map_err(storage_error)?;
        for at in times {
            if let Some(i) = day_of(at.map_err(storage_error)?) {
                out[i].alerts += 1;
            }
        }
        Ok(out)
    }

    /// Alerts in `[from_ms, to_ms)`, newest first, at most `limit`.
    pub fn alerts(&self, from_ms: i64, to_ms: i64, limit: u32) -> Result<Vec<AlertRow>> {
        check_range(from_ms, to_ms)?;
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE at_ms >= ?1 AND at_ms < ?2
             ORDER BY at_ms DESC, id DESC LIMIT ?3"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(storage_error)?;
        let rows = stmt
            .query_map(params![from_ms, to_ms, limit], alert_row)
            .map_err(storage_error)?;
        rows.collect::<rusqlite::Result<_>>().map_err(storage_error)
    }

    /// Mark an alert acknowledged (after committing pending writes); false if there is no such
    /// alert.
    pub fn acknowledge_alert(&mut self, alert_id: i64) -> Result<bool> {
        if let Err(e) = self.flush() {
            log::warn!(
                "history: acknowledging before the pending writes: {}",
                e.log_safe()
            );
        }
        let n = self
            .conn
            .execute(
                "UPDATE alerts SET acknowledged = 1 WHERE id = ?1",
                [alert_id],
            )
            .map_err(storage_error)?;
        Ok(n > 0)
    }

    /// Sessions, newest first, at most `limit`.
    pub fn sessions(&self, limit: u32) -> Result<Vec<SessionSummary>> {
        let sql =
            format!("{SESSION_SUMMARY_SQL} ORDER BY s.started_at_ms DESC, s.id DESC LIMIT ?1");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(storage_error)?;
        let rows = stmt
            .query_map([limit], session_summary)
            .map_err(storage_error)?;
        rows.collect::<rusqlite::Result<_>>().map_err(storage_error)
    }

    /// Wall-clock start for a session of `length_ms` whose clock runs faster than real time (a
    /// replay or simulation run ahead): so that it ends at `now_ms`, or, where that would overlap
    /// stored sessions (their timelines would mix), just before the earliest of them; never
    /// later than `now_ms - length_ms`, so nothing is stored in the future.
    pub fn past_start_ms(&self, length_ms: i64, now_ms: i64) -> Result<i64> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT s.started_at_ms, COALESCE(s.ended_at_ms, MAX(
                   COALESCE((SELECT MAX(end_ms) FROM windows WHERE session_id = s.id), s.started_at_ms),
                   COALESCE((SELECT MAX(at_ms) FROM rr WHERE session_id = s.id), s.started_at_ms)))
                 FROM sessions s ORDER BY s.started_at_ms DESC, s.id DESC",
            )
            .map_err(storage_error)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .map_err(storage_error)?;
        let mut failure = None;
        let spans = rows.map_while(|r| r.map_err(|e| failure = Some(e)).ok());
        let start = start_before(spans, length_ms, now_ms);
        match failure {
            Some(e) => Err(storage_error(e)),
            None => Ok(start),
        }
    }

    /// One session with its aggregates, alerts and gaps; `None` if there is no such session.
    pub fn session_detail(&self, id: SessionId) -> Result<Option<SessionDetail>> {
        let sql = format!("{SESSION_SUMMARY_SQL} WHERE s.id = ?1");
        let Some(summary) = self
            .conn
            .query_row(&sql, [id], session_summary)
            .optional()
            .map_err(storage_error)?
        else {
            return Ok(None);
        };
        let (mean_hr_bpm, mean_rmssd_ms, mean_score, max_score, beats, rr_only_windows) = self
            .conn
            .query_row(
                "SELECT AVG(mean_hr_bpm), AVG(rmssd_ms), AVG(score), MAX(score),
                 COALESCE(SUM(beats_n), 0), COALESCE(SUM(beats_s), 0), COALESCE(SUM(beats_v), 0),
                 COALESCE(SUM(beats_f), 0), COALESCE(SUM(beats_q), 0), COALESCE(SUM(rr_only), 0)
                 FROM windows WHERE session_id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        BeatCounts {
                            normal: r.get(4)?,
                            supraventricular: r.get(5)?,
                            ventricular: r.get(6)?,
                            fusion: r.get(7)?,
                            unknown: r.get(8)?,
                        },
                        r.get::<_, i64>(9)?.max(0) as u64,
                    ))
                },
            )
            .map_err(storage_error)?;
        let sql = format!(
            "SELECT state, SUM(span) FROM (SELECT state, {WINDOW_SPAN_MS} AS span FROM windows
             WHERE session_id = ?1) GROUP BY state ORDER BY state"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(storage_error)?;
        let minutes_by_state = stmt
            .query_map([id], |r| {
                Ok(StateMinutes {
                    state: r.get(0)?,
                    minutes: r.get::<_, f64>(1)? / 60_000.0,
                })
            })
            .map_err(storage_error)?
            .collect::<rusqlite::Result<_>>()
            .map_err(storage_error)?;
        let alerts = self.session_alerts(id)?;
        let gaps = self.session_gaps(id)?;
        Ok(Some(SessionDetail {
            summary,
            mean_hr_bpm,
            mean_rmssd_ms,
            mean_score,
            max_score,
            beats,
            rr_only_windows,
            minutes_by_state,
            alerts,
            gaps,
        }))
    }

    /// A session's alerts, oldest first.
    pub(super) fn session_alerts(&self, id: SessionId) -> Result<Vec<AlertRow>> {
        let sql =
            format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE session_id = ?1 ORDER BY at_ms, id");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(storage_error)?;
        let rows = stmt.query_map([id], alert_row).map_err(storage_error)?;
        rows.collect::<rusqlite::Result<_>>().map_err(storage_error)
    }

    /// A session's gaps, oldest first.
    pub(super) fn session_gaps(&self, id: SessionId) -> Result<Vec<GapRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT from_ms, to_ms, missing_samples, cause FROM gaps WHERE session_id = ?1
                 ORDER BY from_ms",
            )
            .map_err(storage_error)?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(GapRecord {
                    from_ms: r.get(0)?,
                    to_ms: r.get(1)?,
                    missing_samples: r.get::<_, i64>(2)?.max(0) as u64,
                    cause: r.get(3)?,
                })
            })
            .map_err(storage_error)?;
        rows.collect::<rusqlite::Result<_>>().map_err(storage_error)
    }

    /// Delete what the policy no longer keeps (relative to `now_ms`), in one transaction, then
    /// give the freed pages back to the file system (`PRAGMA incremental_vacuum`, and the WAL
    /// truncated). Pending writes are committed first when they can be; when they cannot (a
    /// full disk) the old data is deleted anyway, to make room for them.
    pub fn apply_retention(
        &mut self,
        now_ms: i64,
        policy: RetentionPolicy,
    ) -> Result<RetentionReport> {
        const DAY_MS: i64 = 86_400_000;
        if let Err(e) = self.flush() {
            log::warn!(
                "history: retention before the pending writes: {}",
                e.log_safe()
            );
        }
        let cutoff = now_ms - i64::from(policy.keep_days) * DAY_MS;
        let ecg_cutoff =
            now_ms - i64::from(policy.keep_raw_ecg_days.min(policy.keep_days)) * DAY_MS;
        let tx = self.conn.transaction().map_err(storage_error)?;
        let delete = |sql: &str, at: i64| -> Result<u64> {
            tx.execute(sql, [at])
                .map(|n| n as u64)
                .map_err(storage_error)
        };
        let report = RetentionReport {
            ecg_chunks: delete(
                "DELETE FROM ecg_chunks WHERE first_sample_ms < ?1",
                ecg_cutoff,
            )?,
            windows: delete("DELETE FROM windows WHERE end_ms < ?1", cutoff)?,
            rr_intervals: delete("DELETE FROM rr WHERE at_ms < ?1", cutoff)?,
            alerts: delete("DELETE FROM alerts WHERE at_ms < ?1", cutoff)?,
            gaps: delete("DELETE FROM gaps WHERE to_ms < ?1", cutoff)?,
            sessions: delete(
                "DELETE FROM sessions WHERE started_at_ms < ?1
                 AND ended_at_ms IS NOT NULL AND ended_at_ms < ?1
                 AND NOT EXISTS (SELECT 1 FROM windows WHERE session_id = sessions.id)
                 AND NOT EXISTS (SELECT 1 FROM rr WHERE session_id = sessions.id)
                 AND NOT EXISTS (SELECT 1 FROM ecg_chunks WHERE session_id = sessions.id)
                 AND NOT EXISTS (SELECT 1 FROM alerts WHERE session_id = sessions.id)
                 AND NOT EXISTS (SELECT 1 FROM gaps WHERE session_id = sessions.id)",
                cutoff,
            )?,
        };
        tx.commit().map_err(storage_error)?;
        self.forget_sessions();
        // frees one page per step: run it to the end
        let mut stmt = self
            .conn
            .prepare("PRAGMA incremental_vacuum")
            .map_err(storage_error)?;
        let mut rows = stmt.query([]).map_err(storage_error)?;
        while rows.next().map_err(storage_error)?.is_some() {}
        drop(rows);
        drop(stmt);
        // the WAL holds a copy of every page the deletes touched: give that space back too
        // (a reader still in the WAL keeps it for now; the rows are deleted either way)
        let busy = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            });
        if !matches!(busy, Ok(0)) {
            log::info!("history: WAL not truncated after retention (a reader is active)");
        }
        if let Err(e) = self.flush() {
            log::warn!("history: pending writes after retention: {}", e.log_safe());
        }
        Ok(report)
    }

    /// Close the sessions left open by a process that was killed (or lost its storage) before
    /// ending them: reason "interrupted", ended at their last stored data. Only for a writer
    /// that knows no session of its own is running (an app starting up). Returns how many.
    pub fn close_interrupted_sessions(&mut self) -> Result<u64> {
        self.flush()?;
        let n = self
            .conn
            .execute(
                "UPDATE sessions SET end_reason = ?1, ended_at_ms = MAX(started_at_ms,
                   COALESCE((SELECT MAX(end_ms) FROM windows WHERE session_id = sessions.id), 0),
                   COALESCE((SELECT MAX(at_ms) FROM rr WHERE session_id = sessions.id), 0),
                   COALESCE((SELECT MAX(first_sample_ms) FROM ecg_chunks
                             WHERE session_id = sessions.id), 0),
                   COALESCE((SELECT MAX(to_ms) FROM gaps WHERE session_id = sessions.id), 0))
                 WHERE ended_at_ms IS NULL",
                [EndReason::Interrupted.as_str()],
            )
            .map_err(storage_error)?;
        Ok(n as u64)
    }

    /// Size of the database file in bytes (pages × page size, WAL excluded).
    pub fn size_bytes(&self) -> Result<u64> {
        let pages: i64 = self
            .conn
            .pragma_query_value(None, "page_count", |r| r.get(0))
            .map_err(storage_error)?;
        let page: i64 = self
            .conn
            .pragma_query_value(None, "page_size", |r| r.get(0))
            .map_err(storage_error)?;
        Ok((pages * page).max(0) as u64)
    }
}
