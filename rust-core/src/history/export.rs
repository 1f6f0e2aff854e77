//! Export of a session: CSV of windows and of RR intervals, EDF+ of the raw ECG.
//!
//! CSV (RFC 4180): a header line, one record per line, CRLF line ends, fields quoted (with `"`
//! doubled) when they hold a comma, quote, CR or LF; an empty field is a missing value; times as
//! both ISO 8601 UTC (`2026-11-21T18:05:00.250Z`) and Unix milliseconds.
//!
//! Windows CSV columns: `session_id, start_utc, end_utc, start_ms, end_ms, usable_fraction,
//! mean_hr_bpm, rmssd_ms, sdnn_ms, pnn50_pct, lf_hf, stress_probability, score, confidence,
//! state, scored_by, beats_n, beats_s, beats_v, beats_f, beats_q, rr_only` (see [`WindowRecord`]
//! for units; `rr_only` 1 for a window computed from the strap's RR intervals, else 0). RR CSV
//! columns: `session_id, at_utc, at_ms, rr_ms`.
//!
//! EDF+C: one "ECG" signal in µV at the session's rate (values beyond ±32767 µV clipped), each
//! chunk following the previous one unless its timestamp is more than a couple of samples off
//! where they ended (a strap slightly off its stored whole-Hz rate adds up to no gap or
//! overlap: [`EdfTimeline`]); a stretch with no ECG is filled with [`GAP_FILL_UV`] and annotated
//! `no ECG…`, which StressBeat reads back as missing samples; alerts and recorded gaps are
//! annotations too. Start date/time in the header are UTC.
//! A stretch longer than [`MAX_GAP_FILL_S`] (a long disconnection, or a jump of the strap's
//! clock) is filled for that long only and annotated with its real length; what follows it keeps
//! its place relative to the stretch's end, so the file stays bounded. The export streams: it
//! holds one data record and the annotations, never the session's ECG (`EdfPlusWriter`).
//!
//! [`WindowRecord`]: super::WindowRecord

use std::io::Write;

use rusqlite::params;

use super::{
    History, SessionId,
    store::{decode_samples, storage_error},
    time::{format_utc_iso, utc_fields},
};
use crate::{
    Error, Result,
    formats::edf::{EdfAnnotation, EdfPlusWriter, EdfSignal, EdfStart, NO_ECG_ANNOTATION},
};

/// Value (µV) written in place of missing ECG in an EDF+ export.
pub const GAP_FILL_UV: i32 = 0;
/// Highest stored ECG sampling rate an export accepts (straps stream at 130-1000 Hz).
const MAX_EXPORT_RATE_HZ: u32 = 10_000;
/// A chunk that starts within this many samples of where the previous one ended is joined as
/// contiguous (timestamp jitter, a strap slightly off its stored whole-Hz rate); farther ahead is
/// a gap, farther back an overlap (skipped).
const JOIN_TOLERANCE_SAMPLES: i64 = 2;
/// A joined chunk more than this many samples off where [`EdfTimeline`] puts it re-bases the
/// timeline on it, so a rate slightly off never adds up to a gap or an overlap.
const REBASE_AFTER_SAMPLES: f64 = 1.0;
/// Longest stretch without ECG filled in an EDF+ export, s (1 h).
pub const MAX_GAP_FILL_S: i64 = 3600;

/// What [`History::export_edf`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdfExport {
    /// ECG samples in the file (gap fill included, record padding excluded).
    pub samples: u64,
    /// Samples filled with [`GAP_FILL_UV`].
    pub filled_samples: u64,
    /// Samples dropped because their chunk overlapped earlier data.
    pub overlapping_samples: u64,
    /// Annotations written.
    pub annotations: u64,
    /// When each sample of the file's ECG signal was taken.
    pub timeline: EdfTimeline,
}

/// The times of an EDF+ export's ECG samples: from each base (a sample of the file and the time
/// it was taken) on, one sample per period of the stored rate. A base starts the file, follows
/// every filled or skipped stretch, and follows a drift of the strap's clock from the stored
/// rate by more than a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdfTimeline {
    rate_hz: u32,
    /// (sample of the file, its time, ms UTC), in the file's order; never empty
    bases: Vec<(u64, i64)>,
}

/// Where [`EdfTimeline::place`] puts a chunk.
struct Placement {
    /// Samples of [`GAP_FILL_UV`] before it.
    fill: i64,
    /// Samples missing before it (more than `fill` when the stretch was shortened).
    missing: i64,
    /// Its first samples dropped as overlapping the file's end.
    skip: usize,
}

impl EdfTimeline {
    fn new(rate_hz: u32, first_sample_ms: i64) -> Self {
        Self {
            rate_hz,
            bases: vec![(0, first_sample_ms)],
        }
    }

    /// Time of the file's first sample, ms UTC.
    pub fn first_sample_ms(&self) -> i64 {
        self.bases.first().map_or(0, |b| b.1)
    }

    /// Time sample `index` of the file's ECG signal was taken, ms UTC (in a filled stretch:
    /// counted on from the data before it).
    pub fn sample_time_ms(&self, index: u64) -> i64 {
        let i = self
            .bases
            .partition_point(|b| b.0 <= index)
            .saturating_sub(1);
        let (at, ms) = self.bases.get(i).copied().unwrap_or_default();
        let periods = index.saturating_sub(at) as f64;
        ms.saturating_add((periods * 1000.0 / f64::from(self.rate_hz)).round() as i64)
    }

    /// Place in the file of the time `ms`, s after its first sample.
    fn offset_s(&self, ms: i64) -> f64 {
        let i = self.bases.partition_point(|b| b.1 <= ms).saturating_sub(1);
        let (at, base_ms) = self.bases.get(i).copied().unwrap_or_default();
        at as f64 / f64::from(self.rate_hz) + ms.saturating_sub(base_ms) as f64 / 1000.0
    }

    /// Place a chunk of `len` samples taken from `first_ms` on, the file holding `end` samples.
    fn place(&mut self, first_ms: i64, end: i64, len: usize) -> Placement {
        let rate = f64::from(self.rate_hz);
        let (base_at, base_ms) = self.bases.last().copied().unwrap_or_default();
        let since_base_ms = first_ms.saturating_sub(base_ms) as f64;
        let ahead = base_at as f64 + since_base_ms * rate / 1000.0 - end as f64;
        let whole = ahead.round() as i64;
        let mut place = Placement {
            fill: 0,
            missing: 0,
            skip: 0,
        };
        if whole > JOIN_TOLERANCE_SAMPLES {
            place.missing = whole;
            place.fill = whole.min(MAX_GAP_FILL_S * i64::from(self.rate_hz));
            self.bases.push(((end + place.fill) as u64, first_ms));
        } else if whole < -JOIN_TOLERANCE_SAMPLES {
            place.skip = (whole.unsigned_abs() as usize).min(len);
            if place.skip < len {
                let kept_ms = first_ms + (place.skip as f64 * 1000.0 / rate).round() as i64;
                self.bases.push((end as u64, kept_ms));
            }
        } else if ahead.abs() > REBASE_AFTER_SAMPLES {
            self.bases.push((end as u64, first_ms));
        }
        place
    }
}

/// Refuse an export to `out` that would replace the history at `database` or one of its files
/// (`-wal`, `-shm`, `.lock`): an export is written beside `out` and renamed over it.
pub fn check_export_path(database: &std::path::Path, out: &std::path::Path) -> Result<()> {
    let Ok(out) = out.canonicalize() else {
        return Ok(()); // not there yet: not the database
    };
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        if std::path::Path::new(&name)
            .canonicalize()
            .is_ok_and(|f| f == out)
        {
            return Err(Error::InvalidArgument(format!(
                "{} is the history database itself or one of its files",
                out.display()
            )));
        }
    }
    Ok(())
}

/// One CSV field per RFC 4180.
fn csv_field(out: &mut String, v: &str) {
    if v.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

fn csv_line(out: &mut impl Write, fields: &[String]) -> Result<()> {
    let mut line = String::with_capacity(256);
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        csv_field(&mut line, f);
    }
    line.push_str("\r\n");
    out.write_all(line.as_bytes()).map_err(write_error)
}

fn write_error(e: std::io::Error) -> Error {
    Error::io("export output", e)
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

impl History {
    fn require_session(&self, session: SessionId) -> Result<()> {
        let found: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM sessions WHERE id = ?1",
                [session],
                |r| r.get(0),
            )
            .map_err(storage_error)?;
        if found == 0 {
            return Err(Error::InvalidArgument(format!(
                "history session {session} does not exist"
            )));
        }
        Ok(())
    }

    /// Write a session's windows as CSV (columns in the module docs); returns the row count.
    pub fn export_windows_csv(&self, session: SessionId, out: &mut impl Write) -> Result<u64> {
        self.require_session(session)?;
        const COLUMNS: [&str; 22] = [
            "session_id",
            "start_utc",
            "end_utc",
            "start_ms",
            "end_ms",
            "usable_fraction",
            "mean_hr_bpm",
            "rmssd_ms",
            "sdnn_ms",
            "pnn50_pct",
            "lf_hf",
            "stress_probability",
            "score",
            "confidence",
            "state",
            "scored_by",
            "beats_n",
            "beats_s",
            "beats_v",
            "beats_f",
            "beats_q",
            "rr_only",
        ];
        csv_line(out, &COLUMNS.map(String::from))?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT start_ms, end_ms, usable_fraction, mean_hr_bpm, rmssd_ms, sdnn_ms,
                 pnn50_pct, lf_hf, stress_probability, score, confidence, state, scored_by,
                 beats_n, beats_s, beats_v, beats_f, beats_q, rr_only
                 FROM windows WHERE session_id = ?1 ORDER BY end_ms",
            )
            .map_err(storage_error)?;
        let mut rows = stmt.query([session]).map_err(storage_error)?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(storage_error)? {
            let get_f = |i| r.get::<_, Option<f64>>(i).map_err(storage_error);
            let get_i = |i| r.get::<_, i64>(i).map_err(storage_error);
            let get_s = |i| r.get::<_, String>(i).map_err(storage_error);
            let (start, end) = (get_i(0)?, get_i(1)?);
            let mut fields = vec![
                session.to_string(),
                format_utc_iso(start),
                format_utc_iso(end),
                start.to_string(),
                end.to_string(),
            ];
            for i in 2..=10 {
                fields.push(opt(get_f(i)?));
            }
            fields.push(get_s(11)?);
            fields.push(get_s(12)?);
            for i in 13..=18 {
                fields.push(get_i(i)?.to_string());
            }
            csv_line(out, &fields)?;
            n += 1;
        }
        Ok(n)
    }

    /// Write a session's RR intervals as CSV (columns in the module docs); returns the row count.
    pub fn export_rr_csv(&self, session: SessionId, out: &mut impl Write) -> Result<u64> {
        self.require_session(session)?;
        csv_line(
            out,
            &["session_id", "at_utc", "at_ms", "rr_ms"].map(String::from),
        )?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT at_ms, rr_ms FROM rr WHERE session_id = ?1 ORDER BY at_ms")
            .map_err(storage_error)?;
        let mut rows = stmt.query([session]).map_err(storage_error)?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(storage_error)? {
            let at: i64 = r.get(0).map_err(storage_error)?;
            let rr: f64 = r.get(1).map_err(storage_error)?;
            csv_line(
                out,
                &[
                    session.to_string(),
                    format_utc_iso(at),
                    at.to_string(),
                    rr.to_string(),
                ],
            )?;
            n += 1;
        }
        Ok(n)
    }

    /// Write a session's raw ECG as EDF+C with annotations (see the module docs). Fails with
    /// [`Error::InvalidArgument`] when the session has no raw ECG (none recorded, or removed by
    /// retention) or its chunks have different sampling rates.
    ///
    /// Two passes over the stored chunks in one read transaction, so that the ECG is never held
    /// whole (about 45 MB a day at 130 Hz): the first lays them out (length, filled stretches,
    /// timeline: the header and the annotations need them), the second writes them as laid out.
    pub fn export_edf(&self, session: SessionId, out: &mut impl Write) -> Result<EdfExport> {
        self.require_session(session)?;
        // one snapshot for both passes, unless the connection is already inside a transaction
        let _snapshot = if self.conn.is_autocommit() {
            Some(self.conn.unchecked_transaction().map_err(storage_error)?)
        } else {
            None
        };
        let mut layout = EdfLayout::default();
        self.for_each_ecg_chunk(session, |first_ms, rate, chunk| {
            layout.place(first_ms, rate, chunk.len()).map(drop)
        })?;
        let Some(timeline) = layout.timeline.clone() else {
            return Err(Error::InvalidArgument(format!(
                "EDF export: session {session} has no raw ECG"
            )));
        };
        let (rate, t0) = (timeline.rate_hz, timeline.first_sample_ms());
        // the header holds whole seconds; the first record starts `sub_s` later
        let start_ms = t0.div_euclid(1000) * 1000;
        let sub_s = (t0 - start_ms) as f64 / 1000.0;
        let (year, month, day, hour, minute, second, _) = utc_fields(start_ms);
        // real time → place in the file, s from the header's start
        let onset = |ms: i64| sub_s + timeline.offset_s(ms);
        let mut texts: Vec<(f64, Option<f64>, String)> = vec![(
            sub_s,
            None,
            "StressBeat export, not a medical device".to_string(),
        )];
        for &(first, count, real) in &layout.filled {
            let text = if real > count {
                let secs = |n: i64| n as f64 / f64::from(rate);
                format!(
                    "{NO_ECG_ANNOTATION} for {:.0} s (filled with {GAP_FILL_UV} uV for {:.0} s \
                     only: what follows happened {:.0} s later than its place in this file)",
                    secs(real),
                    secs(count),
                    secs(real - count)
                )
            } else {
                format!("{NO_ECG_ANNOTATION} (filled with {GAP_FILL_UV} uV)")
            };
            texts.push((
                sub_s + first as f64 / f64::from(rate),
                Some(count as f64 / f64::from(rate)),
                text,
            ));
        }
        for g in self.session_gaps(session)? {
            texts.push((
                onset(g.from_ms),
                Some((g.to_ms - g.from_ms).max(0) as f64 / 1000.0),
                format!("gap: {} ({} samples missing)", g.cause, g.missing_samples),
            ));
        }
        for a in self.session_alerts(session)? {
            texts.push((
                onset(a.at_ms),
                None,
                format!("alert: {} (severity {}): {}", a.kind, a.severity, a.reason),
            ));
        }
        let annotations: Vec<EdfAnnotation<'_>> = texts
            .iter()
            .map(|(onset_s, duration_s, text)| EdfAnnotation {
                onset_s: *onset_s,
                duration_s: *duration_s,
                text,
            })
            .collect();
        let signal = EdfSignal {
            label: "ECG",
            unit: "uV",
            sampling_rate_hz: rate,
        };
        let start = EdfStart {
            year,
            month,
            day,
            hour,
            minute,
            second,
        };
        let mut writer = EdfPlusWriter::new(
            out,
            &signal,
            layout.samples as u64,
            &start,
            sub_s,
            &annotations,
        )
        .map_err(write_error)?;
        let mut written = EdfLayout::default();
        self.for_each_ecg_chunk(session, |first_ms, rate, chunk| {
            let place = written.place(first_ms, rate, chunk.len())?;
            writer
                .push_repeated(GAP_FILL_UV, place.fill as u64)
                .and_then(|()| writer.push(chunk.get(place.skip..).unwrap_or_default()))
                .map_err(write_error)
        })?;
        if written != layout {
            return Err(Error::Storage {
                kind: crate::StorageErrorKind::Corrupt,
                message: "EDF export: the session's ECG read differently the second time".into(),
            });
        }
        writer.finish().map_err(write_error)?;
        Ok(EdfExport {
            samples: layout.samples as u64,
            filled_samples: layout.filled.iter().map(|(_, n, _)| *n as u64).sum(),
            overlapping_samples: layout.overlapping,
            annotations: annotations.len() as u64,
            timeline,
        })
    }

    /// Call `f(first_sample_ms, sampling_rate_hz, samples)` for each of a session's ECG chunks in
    /// time order, leaving out those stored without a rate (no timing to place them by).
    fn for_each_ecg_chunk(
        &self,
        session: SessionId,
        mut f: impl FnMut(i64, u32, &[i32]) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT first_sample_ms, sampling_rate_hz, bytes_per_sample, samples
                 FROM ecg_chunks WHERE session_id = ?1 ORDER BY first_sample_ms, rowid",
            )
            .map_err(storage_error)?;
        let mut rows = stmt.query(params![session]).map_err(storage_error)?;
        while let Some(r) = rows.next().map_err(storage_error)? {
            let first_ms: i64 = r.get(0).map_err(storage_error)?;
            let rate: u32 = r.get(1).map_err(storage_error)?;
            let width: u8 = r.get(2).map_err(storage_error)?;
            let blob = r
                .get_ref(3)
                .map_err(storage_error)?
                .as_blob()
                .map_err(|e| storage_error(e.into()))?;
            let chunk = decode_samples(width, blob).ok_or_else(|| Error::Storage {
                kind: crate::StorageErrorKind::Corrupt,
                message: "ECG chunk with a malformed sample blob".into(),
            })?;
            if rate != 0 {
                f(first_ms, rate, &chunk)?;
            }
        }
        Ok(())
    }
}

/// Where an EDF+ export puts a session's ECG chunks, one after the other.
#[derive(Debug, Default, PartialEq)]
struct EdfLayout {
    timeline: Option<EdfTimeline>,
    /// Samples in the file so far (gap fill included).
    samples: i64,
    /// Filled stretches: (first sample, sample count, real length in samples).
    filled: Vec<(i64, i64, i64)>,
    /// Samples dropped as overlapping earlier data.
    overlapping: u64,
}

impl EdfLayout {
    /// Lay out the next chunk: `len` samples at `rate` Hz from `first_ms` on.
    fn place(&mut self, first_ms: i64, rate: u32, len: usize) -> Result<Placement> {
        if rate > MAX_EXPORT_RATE_HZ {
            // a damaged row: its gap fill could ask for more than the file can hold
            return Err(Error::Storage {
                kind: crate::StorageErrorKind::Corrupt,
                message: format!("ECG chunk with an implausible sampling rate ({rate} Hz)"),
            });
        }
        let timeline = self
            .timeline
            .get_or_insert_with(|| EdfTimeline::new(rate, first_ms));
        if rate != timeline.rate_hz {
            return Err(Error::InvalidArgument(
                "EDF export: the session's ECG chunks have different sampling rates".into(),
            ));
        }
        let end = self.samples;
        let place = timeline.place(first_ms, end, len);
        if place.fill > 0 {
            self.filled.push((end, place.fill, place.missing));
        }
        self.overlapping += place.skip as u64;
        self.samples = end + place.fill + (len - place.skip) as i64;
        Ok(place)
    }
}
