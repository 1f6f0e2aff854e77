//! The schema and its numbered migrations (`PRAGMA user_version` = the last one applied).
//!
//! Each migration runs in its own transaction together with the `user_version` bump, so a crash
//! leaves the database at one version or the next, never between. Never edit a released migration:
//! add a new one.

use rusqlite::Connection;

use super::store::storage_error;
use crate::{Error, Result, StorageErrorKind};

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: sessions and the time series
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;
     CREATE TABLE sessions (
         id INTEGER PRIMARY KEY,
         started_at_ms INTEGER NOT NULL,
         ended_at_ms INTEGER,
         end_reason TEXT,
         source_kind TEXT NOT NULL,
         source_detail TEXT,
         device_model TEXT,
         device_hash TEXT
     ) STRICT;
     CREATE TABLE windows (
         session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
         start_ms INTEGER NOT NULL,
         end_ms INTEGER NOT NULL,
         usable_fraction REAL NOT NULL,
         mean_hr_bpm REAL, rmssd_ms REAL, sdnn_ms REAL, pnn50_pct REAL, lf_hf REAL,
         stress_probability REAL, score REAL, confidence REAL,
         state TEXT NOT NULL,
         scored_by TEXT NOT NULL,
         beats_n INTEGER NOT NULL, beats_s INTEGER NOT NULL, beats_v INTEGER NOT NULL,
         beats_f INTEGER NOT NULL, beats_q INTEGER NOT NULL
     ) STRICT;
     CREATE TABLE rr (
         session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
         at_ms INTEGER NOT NULL,
         rr_ms REAL NOT NULL
     ) STRICT;
     CREATE TABLE ecg_chunks (
         session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
         first_sample_ms INTEGER NOT NULL,
         sampling_rate_hz INTEGER NOT NULL,
         sample_count INTEGER NOT NULL,
         bytes_per_sample INTEGER NOT NULL,
         samples BLOB NOT NULL
     ) STRICT;
     CREATE TABLE alerts (
         id INTEGER PRIMARY KEY,
         session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
         at_ms INTEGER NOT NULL,
         kind TEXT NOT NULL,
         severity INTEGER NOT NULL,
         reason TEXT NOT NULL
     ) STRICT;
     CREATE TABLE gaps (
         session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
         from_ms INTEGER NOT NULL,
         to_ms INTEGER NOT NULL,
         missing_samples INTEGER NOT NULL,
         cause TEXT NOT NULL
     ) STRICT;
     CREATE INDEX windows_by_time ON windows(end_ms);
     CREATE INDEX windows_by_session ON windows(session_id, end_ms);
     CREATE INDEX rr_by_session ON rr(session_id, at_ms);
     CREATE INDEX ecg_by_session ON ecg_chunks(session_id, first_sample_ms);
     CREATE INDEX alerts_by_time ON alerts(at_ms);
     CREATE INDEX alerts_by_session ON alerts(session_id, at_ms);
     CREATE INDEX gaps_by_session ON gaps(session_id, from_ms);
     CREATE INDEX sessions_by_start ON sessions(started_at_ms);",
    // 2: acknowledging alerts; the engine's baseline per profile; time indexes for retention
    "ALTER TABLE alerts ADD COLUMN acknowledged INTEGER NOT NULL DEFAULT 0;
     CREATE TABLE baselines (
         profile TEXT PRIMARY KEY,
         json TEXT NOT NULL,
         updated_at_ms INTEGER NOT NULL
     ) STRICT;
     CREATE INDEX rr_by_time ON rr(at_ms);
     CREATE INDEX ecg_by_time ON ecg_chunks(first_sample_ms);
     CREATE INDEX gaps_by_time ON gaps(to_ms);",
    // 3: windows computed from the strap's RR intervals (no ECG)
    "ALTER TABLE windows ADD COLUMN rr_only INTEGER NOT NULL DEFAULT 0;",
    // 4: the session list sums a session's ECG samples from the index alone, without reading
    // every chunk's row (a week of raw ECG is about 700 000 chunks)
    "DROP INDEX ecg_by_session;
     CREATE INDEX ecg_by_session ON ecg_chunks(session_id, first_sample_ms, sample_count);",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The tables of every schema version (migration 1 creates them; none drops one).
const HISTORY_TABLES: [&str; 7] = [
    "meta",
    "sessions",
    "windows",
    "rr",
    "ecg_chunks",
    "alerts",
    "gaps",
];

/// Whether the database has every table of [`HISTORY_TABLES`] (another program's database with
/// a `user_version` of its own has not).
pub(crate) fn has_history_tables(conn: &Connection) -> Result<bool> {
    for name in HISTORY_TABLES {
        let found: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |r| r.get(0),
            )
            .map_err(storage_error)?;
        if found == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The database's `user_version`.
pub(crate) fn version(conn: &Connection) -> Result<u32> {
    conn.pragma_query_value(None, "user_version", |r| r.get::<_, u32>(0))
        .map_err(storage_error)
}

/// Apply the migrations from the current version up to `target` (≤ [`SCHEMA_VERSION`]).
/// A database from a newer build is refused rather than touched.
pub(crate) fn migrate_to(conn: &mut Connection, target: u32) -> Result<()> {
    let current = version(conn)?;
    if current > SCHEMA_VERSION {
        return Err(Error::Storage {
            kind: StorageErrorKind::NewerSchema,
            message: format!(
                "database schema version {current} is newer than this build's {SCHEMA_VERSION}"
            ),
        });
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(target as usize)
        .skip(current as usize)
    {
        let step = i as u32 + 1;
        // the write lock first, then the version again: another process (the app beside a
        // background job after an update) may have run this step while we waited
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(storage_error)?;
        let now = version(&tx)?;
        if now > SCHEMA_VERSION {
            return Err(Error::Storage {
                kind: StorageErrorKind::NewerSchema,
                message: format!(
                    "database schema version {now} is newer than this build's {SCHEMA_VERSION}"
                ),
            });
        }
        if now >= step {
            continue;
        }
        tx.execute_batch(sql).map_err(storage_error)?;
        tx.pragma_update(None, "user_version", step)
            .map_err(storage_error)?;
        tx.commit().map_err(storage_error)?;
    }
    Ok(())
}
