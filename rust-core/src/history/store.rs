//! [`History`]: the SQLite store and its batched writer.

use std::{
    fs::{File, OpenOptions, TryLockError},
    path::Path,
    time::{Duration, Instant},
};

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{
    AlertRecord, EcgChunk, EndReason, GapRecord, HistorySink, SessionId, SessionStart,
    WindowRecord, schema,
};
use crate::{Error, Result, StorageErrorKind};

/// How a [`History`] is opened.
#[derive(Debug, Clone)]
pub struct HistoryOptions {
    /// Appends are committed in one transaction when this much time has passed since the last
    /// commit (checked on each append), and on flush/close. A kill loses at most this much.
    pub commit_interval: Duration,
    /// How long to wait for another connection's lock before failing with `Busy`.
    pub busy_timeout: Duration,
    /// Commit early when this many records are waiting (bounds memory between commits).
    pub max_pending_records: usize,
    /// Cap on the database size; writes beyond it fail with [`StorageErrorKind::Full`].
    pub max_size_bytes: Option<u64>,
    /// Open for queries and export only; every write fails with [`StorageErrorKind::ReadOnly`].
    pub read_only: bool,
}

impl Default for HistoryOptions {
    fn default() -> Self {
        Self {
            commit_interval: Duration::from_secs(1),
            busy_timeout: Duration::from_secs(5),
            max_pending_records: 20_000,
            max_size_bytes: None,
            read_only: false,
        }
    }
}

/// A record waiting for the next commit.
#[derive(Debug)]
enum Pending {
    Window(SessionId, WindowRecord),
    Rr(SessionId, i64, f64),
    Ecg {
        session: SessionId,
        first_sample_ms: i64,
        sampling_rate_hz: u32,
        sample_count: usize,
        bytes_per_sample: u8,
        blob: Vec<u8>,
    },
    Alert(SessionId, AlertRecord),
    Gap(SessionId, GapRecord),
    End(SessionId, i64, EndReason),
    Baseline(String, String, i64),
}

/// The history database: one SQLite connection (WAL, `synchronous=NORMAL`), a buffer of
/// pending writes, and the queries (see the module docs). `Send`, not `Sync`: share it behind a
/// mutex, or open a second, read-only `History` on the same file for queries (WAL lets readers
/// run beside the writer).
///
/// Queries see committed data only; call [`HistorySink::flush`] first to include pending writes.
#[derive(Debug)]
pub struct History {
    pub(super) conn: Connection,
    options: HistoryOptions,
    pending: Vec<Pending>,
    last_commit: Instant,
    /// The latest commit attempt failed.
    last_commit_failed: bool,
    commits: u64,
    dropped: u64,
    known_sessions: Vec<SessionId>,
    salt: Option<Vec<u8>>,
}

/// Map a SQLite failure to [`Error::Storage`] with its kind.
pub(crate) fn storage_error(e: rusqlite::Error) -> Error {
    let kind = match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => StorageErrorKind::Full,
        Some(ErrorCode::ReadOnly) => StorageErrorKind::ReadOnly,
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StorageErrorKind::Corrupt,
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StorageErrorKind::Busy,
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => StorageErrorKind::CannotOpen,
        _ => StorageErrorKind::Other,
    };
    Error::Storage {
        kind,
        message: e.to_string(),
    }
}

/// One writer's exclusive hold on a history file: an advisory lock on `<database>.lock` beside
/// it, released when dropped or when the process ends (even by a kill). A monitor takes it
/// before closing the sessions a killed app left open, so it never closes another monitor's
/// running session.
#[derive(Debug)]
pub struct WriterLock {
    /// `None` for a database SQLite keeps in memory (`:memory:`, or `""` for a temporary one):
    /// no other connection can open it.
    _file: Option<File>,
}

impl WriterLock {
    /// Take the hold on the history at `database`. Errors: [`StorageErrorKind::InUse`] while
    /// another holder (this process or another) has it; [`StorageErrorKind::CannotOpen`] when
    /// the lock file cannot be created. A file system without file locks gives a hold that
    /// excludes nobody (logged).
    pub fn acquire(database: impl AsRef<Path>) -> Result<Self> {
        let name = database.as_ref().as_os_str();
        if name.is_empty() || name == ":memory:" {
            return Ok(Self { _file: None });
        }
        let mut path = name.to_owned();
        path.push(".lock");
        let cannot = |e: std::io::Error| Error::Storage {
            kind: StorageErrorKind::CannotOpen,
            message: format!("the history's lock file: {}", e.kind()),
        };
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(cannot)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: Some(file) }),
            Err(TryLockError::WouldBlock) => Err(Error::Storage {
                kind: StorageErrorKind::InUse,
                message: "another monitor has this history open".into(),
            }),
            Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
                log::warn!("history: no file locks here; a second monitor would not be detected");
                Ok(Self { _file: Some(file) })
            }
            Err(TryLockError::Error(e)) => Err(cannot(e)),
        }
    }
}

impl History {
    /// Open (creating if needed, unless read-only) the database at `path` and migrate it to
    /// [`schema::SCHEMA_VERSION`]. A file that is not a database gives
    /// [`StorageErrorKind::Corrupt`]; one from a newer build [`StorageErrorKind::NewerSchema`];
    /// a directory [`StorageErrorKind::CannotOpen`]; another program's database (whatever its
    /// `user_version`), or read-only a file without the schema (empty),
    /// [`StorageErrorKind::NotAHistory`]. A file refused is left unchanged.
    pub fn open(path: impl AsRef<Path>, options: HistoryOptions) -> Result<Self> {
        // SQLite reports a directory as a disk I/O error
        if path.as_ref().is_dir() {
            return Err(Error::Storage {
                kind: StorageErrorKind::CannotOpen,
                message: "it is a directory, not a database file".into(),
            });
        }
        let flags = if options.read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let conn = Connection::open_with_flags(path, flags).map_err(storage_error)?;
        Self::from_connection(conn, options, schema::SCHEMA_VERSION)
    }

    /// A private in-memory database (tests, previews).
    pub fn open_in_memory(options: HistoryOptions) -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(storage_error)?;
        Self::from_connection(conn, options, schema::SCHEMA_VERSION)
    }

    /// Open at an older schema version (migration tests only).
    #[cfg(test)]
    pub(crate) fn open_at_version(path: impl AsRef<Path>, version: u32) -> Result<Self> {
        let conn = Connection::open(path).map_err(storage_error)?;
        Self::from_connection(conn, HistoryOptions::default(), version)
    }

    fn from_connection(
        mut conn: Connection,
        options: HistoryOptions,
        version: u32,
    ) -> Result<Self> {
        conn.busy_timeout(options.busy_timeout)
            .map_err(storage_error)?;
        // the first statement that reads the file: a non-database fails here
        let current = schema::version(&conn)?;
        // no StressBeat build ever wrote this file: nothing to read, and another program's
        // tables (whatever its `user_version`) are not ours to add to
        let foreign = if current == 0 {
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(storage_error)?
                > 0
        } else {
            !schema::has_history_tables(&conn)?
        };
        if foreign || (options.read_only && current == 0) {
            return Err(Error::Storage {
                kind: StorageErrorKind::NotAHistory,
                message: "not a StressBeat history (an empty file, or another program's database)"
                    .into(),
            });
        }
        // a newer build's file is refused before anything (even the journal mode) is changed
        if current > schema::SCHEMA_VERSION {
            return Err(Error::Storage {
                kind: StorageErrorKind::NewerSchema,
                message: format!(
                    "database schema version {current} is newer than this build's {}: a newer \
                     version of the app wrote it",
                    schema::SCHEMA_VERSION
                ),
            });
        }
        if options.read_only {
            if current != schema::SCHEMA_VERSION {
                return Err(Error::Storage {
                    kind: StorageErrorKind::ReadOnly,
                    message: format!(
                        "schema version {current}, this build reads {}: open it writable once to migrate",
                        schema::SCHEMA_VERSION
                    ),
                });
            }
        } else {
            if current == 0 {
                // must precede the first page written (even WAL's) to take effect without VACUUM
                conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
                    .map_err(storage_error)?;
            }
            // WAL: readers beside the writer, and a killed writer leaves a consistent file
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
                .map_err(storage_error)?;
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(storage_error)?;
            // a checkpointed WAL is cut back to this size (it would keep its largest size)
            conn.pragma_update(None, "journal_size_limit", 4 * 1024 * 1024)
                .map_err(storage_error)?;
        }
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(storage_error)?;
        if let Some(max) = options.max_size_bytes {
            let page: i64 = conn
                .pragma_query_value(None, "page_size", |r| r.get(0))
                .map_err(storage_error)?;
            conn.pragma_update(
                None,
                "max_page_count",
                (i64::try_from(max).unwrap_or(i64::MAX) / page.max(1)).max(1),
            )
            .map_err(storage_error)?;
        }
        if !options.read_only {
            schema::migrate_to(&mut conn, version)?;
        }
        Ok(Self {
            conn,
            options,
            pending: Vec::new(),
            last_commit: Instant::now(),
            last_commit_failed: false,
            commits: 0,
            dropped: 0,
            known_sessions: Vec::new(),
            salt: None,
        })
    }

    /// Number of successful commits of appended records since opening.
    pub fn commit_count(&self) -> u64 {
        self.commits
    }

    /// Records appended but not yet committed.
    pub fn pending_records(&self) -> usize {
        self.pending.len()
    }

    /// Records discarded because commits kept failing (e.g. disk full) while the buffer reached
    /// [`HistoryOptions::max_pending_records`] twice over.
    pub fn dropped_records(&self) -> u64 {
        self.dropped
    }

    /// Forget which sessions exist (after deleting some).
    pub(super) fn forget_sessions(&mut self) {
        self.known_sessions.clear();
    }

    /// `PRAGMA integrity_check`: "ok" for a sound database, else SQLite's first complaint.
    pub fn integrity_check(&self) -> Result<String> {
        self.conn
            .pragma_query_value(None, "integrity_check", |r| r.get(0))
            .map_err(storage_error)
    }

    /// Flush, then close the connection (checkpointing the WAL), reporting any failure.
    pub fn close(mut self) -> Result<()> {
        self.release()
    }

    /// [`Self::close`] for a history others still hold: flush and close the database file,
    /// closed even when the flush fails (what it could not commit is lost, and the error
    /// returned); what is appended afterwards goes to an empty in-memory database and is lost.
    pub fn release(&mut self) -> Result<()> {
        let flushed = self.flush();
        self.pending.clear();
        // `Drop` needs a connection to flush into: leave an empty in-memory one behind
        let conn = std::mem::replace(
            &mut self.conn,
            Connection::open_in_memory().map_err(storage_error)?,
        );
        self.known_sessions.clear();
        let closed = conn.close().map_err(|(_, e)| storage_error(e));
        flushed.and(closed)
    }

    /// The salted hash that stands for a device identity (hex, 128 bits).
    fn device_hash(&mut self, identity: &str) -> Result<String> {
        let salt = match &self.salt {
            Some(s) => s.clone(),
            None => {
                let s = self.load_or_create_salt()?;
                self.salt = Some(s.clone());
                s
            }
        };
        let digest = Sha256::new()
            .chain_update(&salt)
            .chain_update(identity.as_bytes())
            .finalize();
        Ok(digest.iter().take(16).map(|b| format!("{b:02x}")).collect())
    }

    fn load_or_create_salt(&self) -> Result<Vec<u8>> {
        let stored: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'device_salt'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(storage_error)?;
        if let Some(s) = stored {
            return Ok(s);
        }
        let salt = random_salt();
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES ('device_salt', ?1)",
                [&salt],
            )
            .map_err(storage_error)?;
        Ok(salt)
    }

    /// Fail unless `session` exists (checked once per session), so that one bad id cannot make
    /// every later batch fail on its foreign key.
    fn check_session(&mut self, session: SessionId) -> Result<()> {
        if self.known_sessions.contains(&session) {
            return Ok(());
        }
        let exists = self
            .conn
            .query_row(
                "SELECT 1 FROM sessions WHERE id = ?1",
                [session],
                |_| Ok(()),
            )
            .optional()
            .map_err(storage_error)?
            .is_some();
        if !exists {
            return Err(Error::InvalidArgument(format!(
                "history session {session} does not exist"
            )));
        }
        self.known_sessions.push(session);
        Ok(())
    }

    fn push(&mut self, record: Pending) -> Result<()> {
        if self.options.read_only {
            return Err(Error::Storage {
                kind: StorageErrorKind::ReadOnly,
                message: "history opened read-only".into(),
            });
        }
        self.pending.push(record);
        // a full buffer commits early, but after a failed commit only once per interval: each
        // attempt rewrites the whole batch
        let due = self.last_commit.elapsed() >= self.options.commit_interval
            || (self.pending.len() >= self.options.max_pending_records && !self.last_commit_failed);
        if due { self.commit() } else { Ok(()) }
    }

    /// Write every pending record in one transaction. On failure nothing of the batch is
    /// written, the batch is kept for the next attempt, and it is dropped (and counted) only
    /// when it has grown to twice `max_pending_records`.
    fn commit(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let result = write_batch(&mut self.conn, &self.pending);
        self.last_commit = Instant::now();
        self.last_commit_failed = result.is_err();
        match result {
            Ok(()) => {
                self.pending.clear();
                self.commits += 1;
                Ok(())
            }
            Err(e) => {
                if self.pending.len() >= 2 * self.options.max_pending_records.max(1) {
                    self.dropped += self.pending.len() as u64;
                    self.pending.clear();
                }
                Err(e)
            }
        }
    }
}

impl Drop for History {
    fn drop(&mut self) {
        if let Err(e) = self.commit() {
            log::warn!("history: {} records lost on close: {e}", self.pending.len());
        }
    }
}

/// The last component of a path (a replay's directory may hold a user name).
fn file_name_only(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned())
}

/// 16 bytes from the standard library's per-process random hash keys and the clock.
fn random_salt() -> Vec<u8> {
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    (0..2u64)
        .flat_map(|i| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(i);
            h.write_u128(nanos);
            h.finish().to_le_bytes()
        })
        .collect()
}

/// ECG samples as little-endian i16 when they all fit, else i32: (bytes per sample, blob).
pub(super) fn encode_samples(samples: &[i32]) -> (u8, Vec<u8>) {
    let fits_i16 = samples.iter().all(|&v| i16::try_from(v).is_ok());
    if fits_i16 {
        let blob = samples
            .iter()
            .flat_map(|&v| (v as i16).to_le_bytes())
            .collect();
        (2, blob)
    } else {
        (4, samples.iter().flat_map(|v| v.to_le_bytes()).collect())
    }
}

/// Inverse of [`encode_samples`]; `None` for an unknown width or a ragged blob.
pub(super) fn decode_samples(bytes_per_sample: u8, blob: &[u8]) -> Option<Vec<i32>> {
    match bytes_per_sample {
        2 if blob.len().is_multiple_of(2) => Some(
            blob.chunks_exact(2)
                .map(|b| i32::from(i16::from_le_bytes([b[0], b[1]])))
                .collect(),
        ),
        4 if blob.len().is_multiple_of(4) => Some(
            blob.chunks_exact(4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        _ => None,
    }
}

fn write_batch(conn: &mut Connection, batch: &[Pending]) -> Result<()> {
    let tx = conn.transaction().map_err(storage_error)?;
    for record in batch {
        write_one(&tx, record).map_err(storage_error)?;
    }
    tx.commit().map_err(storage_error)
}

fn write_one(tx: &rusqlite::Transaction<'_>, record: &Pending) -> rusqlite::Result<()> {
    match record {
        Pending::Window(s, w) => {
            tx.prepare_cached(
                "INSERT INTO windows (session_id, start_ms, end_ms, usable_fraction, mean_hr_bpm,
                 rmssd_ms, sdnn_ms, pnn50_pct, lf_hf, stress_probability, score, confidence,
                 state, scored_by, beats_n, beats_s, beats_v, beats_f, beats_q, rr_only)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                 ?17, ?18, ?19, ?20)",
            )?
            .execute(params![
                s,
                w.start_ms,
                w.end_ms,
                w.usable_fraction,
                w.mean_hr_bpm,
                w.rmssd_ms,
                w.sdnn_ms,
                w.pnn50_pct,
                w.lf_hf,
                w.stress_probability,
                w.score,
                w.confidence,
                w.state,
                w.scored_by,
                w.beats.normal,
                w.beats.supraventricular,
                w.beats.ventricular,
                w.beats.fusion,
                w.beats.unknown,
                w.rr_only,
            ])?;
        }
        Pending::Rr(s, at, rr) => {
            tx.prepare_cached("INSERT INTO rr (session_id, at_ms, rr_ms) VALUES (?1, ?2, ?3)")?
                .execute(params![s, at, rr])?;
        }
        Pending::Ecg {
            session,
            first_sample_ms,
            sampling_rate_hz,
            sample_count,
            bytes_per_sample,
            blob,
        } => {
            tx.prepare_cached(
                "INSERT INTO ecg_chunks (session_id, first_sample_ms, sampling_rate_hz,
                 sample_count, bytes_per_sample, samples) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                session,
                first_sample_ms,
                sampling_rate_hz,
                *sample_count as i64,
                bytes_per_sample,
                blob
            ])?;
        }
        Pending::Alert(s, a) => {
            tx.prepare_cached(
                "INSERT INTO alerts (session_id, at_ms, kind, severity, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![s, a.at_ms, a.kind, a.severity, a.reason])?;
        }
        Pending::Gap(s, g) => {
            tx.prepare_cached(
                "INSERT INTO gaps (session_id, from_ms, to_ms, missing_samples, cause)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                s,
                g.from_ms,
                g.to_ms,
                i64::try_from(g.missing_samples).unwrap_or(i64::MAX),
                g.cause
            ])?;
        }
        Pending::End(s, at, reason) => {
            tx.prepare_cached(
                "UPDATE sessions SET ended_at_ms = ?2, end_reason = ?3 WHERE id = ?1",
            )?
            .execute(params![s, at, reason.as_str()])?;
        }
        Pending::Baseline(profile, json, at) => {
            tx.prepare_cached(
                "INSERT INTO baselines (profile, json, updated_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT(profile) DO UPDATE SET json = excluded.json,
                 updated_at_ms = excluded.updated_at_ms",
            )?
            .execute(params![profile, json, at])?;
        }
    }
    Ok(())
}

impl HistorySink for History {
    fn begin_session(&mut self, start: &SessionStart) -> Result<SessionId> {
        if self.options.read_only {
            return Err(Error::Storage {
                kind: StorageErrorKind::ReadOnly,
                message: "history opened read-only".into(),
            });
        }
        // earlier sessions' records go first, so that ids and times stay in order
        self.commit()?;
        let hash = match &start.device_identity {
            Some(identity) => Some(self.device_hash(identity)?),
            None => None,
        };
        self.conn
            .execute(
                "INSERT INTO sessions (started_at_ms, source_kind, source_detail, device_model,
                 device_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    start.started_at_ms,
                    start.source.as_str(),
                    start.source.detail().map(file_name_only),
                    start.device_model,
                    hash
                ],
            )
            .map_err(storage_error)?;
        let id = self.conn.last_insert_rowid();
        self.known_sessions.push(id);
        Ok(id)
    }

    fn append_window(&mut self, session: SessionId, window: &WindowRecord) -> Result<()> {
        self.check_session(session)?;
        // refused here: in the batch, one NOT NULL violation would fail every commit after it
        if !window.usable_fraction.is_finite() {
            return Err(Error::InvalidArgument(
                "window with a non-finite usable fraction".into(),
            ));
        }
        self.push(Pending::Window(session, window.clone()))
    }

    fn append_rr(&mut self, session: SessionId, at_ms: i64, rr_ms: f64) -> Result<()> {
        self.check_session(session)?;
        if !(rr_ms.is_finite() && rr_ms > 0.0) {
            return Err(Error::InvalidArgument(
                "RR interval that is not a positive number of ms".into(),
            ));
        }
        self.push(Pending::Rr(session, at_ms, rr_ms))
    }

    fn append_ecg(&mut self, session: SessionId, chunk: &EcgChunk<'_>) -> Result<()> {
        self.check_session(session)?;
        if chunk.sampling_rate_hz == 0 {
            return Err(Error::InvalidArgument(
                "ECG chunk with a sampling rate of 0 Hz".into(),
            ));
        }
        if chunk.samples_uv.is_empty() {
            return Ok(());
        }
        let (bytes_per_sample, blob) = encode_samples(chunk.samples_uv);
        self.push(Pending::Ecg {
            session,
            first_sample_ms: chunk.first_sample_ms,
            sampling_rate_hz: chunk.sampling_rate_hz,
            sample_count: chunk.samples_uv.len(),
            bytes_per_sample,
            blob,
        })
    }

    fn append_alert(&mut self, session: SessionId, alert: &AlertRecord) -> Result<i64> {
        self.check_session(session)?;
        self.push(Pending::Alert(session, alert.clone()))?;
        self.commit()?;
        // the alert was the batch's last insert
        Ok(self.conn.last_insert_rowid())
    }

    fn append_gap(&mut self, session: SessionId, gap: &GapRecord) -> Result<()> {
        self.check_session(session)?;
        self.push(Pending::Gap(session, gap.clone()))
    }

    fn end_session(
        &mut self,
        session: SessionId,
        ended_at_ms: i64,
        reason: EndReason,
    ) -> Result<()> {
        self.check_session(session)?;
        self.pending
            .push(Pending::End(session, ended_at_ms, reason));
        self.commit()
    }

    fn save_baseline(&mut self, profile: &str, json: &str, updated_at_ms: i64) -> Result<()> {
        self.push(Pending::Baseline(
            profile.to_string(),
            json.to_string(),
            updated_at_ms,
        ))
    }

    fn load_baseline(&mut self, profile: &str) -> Result<Option<(String, i64)>> {
        if let Some((json, at)) = self.pending.iter().rev().find_map(|p| match p {
            Pending::Baseline(p, j, t) if p == profile => Some((j.clone(), *t)),
            _ => None,
        }) {
            return Ok(Some((json, at)));
        }
        self.conn
            .query_row(
                "SELECT json, updated_at_ms FROM baselines WHERE profile = ?1",
                [profile],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(storage_error)
    }

    fn flush(&mut self) -> Result<()> {
        self.commit()
    }
}
