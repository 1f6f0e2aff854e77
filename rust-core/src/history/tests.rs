//! Unit tests of the store: migrations, batching, device hashing, typed errors.

use std::time::Duration;

use super::*;
use crate::{Error, StorageErrorKind};

pub(crate) fn start(at: i64) -> SessionStart {
    SessionStart {
        started_at_ms: at,
        source: SourceKind::Replay {
            file_name: "/home/alice/recordings/rec.edf".into(),
        },
        device_model: Some("Polar H10".into()),
        device_identity: Some("Polar H10 A1B2C3D4 / AA:BB:CC:DD:EE:FF".into()),
    }
}

pub(crate) fn window(start_ms: i64, score: f64) -> WindowRecord {
    WindowRecord {
        start_ms,
        end_ms: start_ms + 60_000,
        usable_fraction: 0.9,
        mean_hr_bpm: Some(70.0),
        rmssd_ms: Some(40.0),
        score: Some(score),
        state: "calm".into(),
        scored_by: "hrv-fallback".into(),
        ..Default::default()
    }
}

fn kind(e: Error) -> StorageErrorKind {
    match e {
        Error::Storage { kind, .. } => kind,
        other => panic!("not a storage error: {other}"),
    }
}

#[test]
fn migrates_a_version_1_database_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    {
        let mut old = History::open_at_version(&path, 1).unwrap();
        assert_eq!(schema::version(&old.conn).unwrap(), 1);
        let id = old.begin_session(&start(1_000)).unwrap();
        // version 1 has no `acknowledged` column: insert the way version 1 did
        old.conn
            .execute(
                "INSERT INTO alerts (session_id, at_ms, kind, severity, reason)
                 VALUES (?1, 5000, 'stress_high', 2, 'high score')",
                [id],
            )
            .unwrap();
        // nor the windows' `rr_only` (version 3)
        old.conn
            .execute(
                "INSERT INTO windows (session_id, start_ms, end_ms, usable_fraction, state,
                 scored_by, beats_n, beats_s, beats_v, beats_f, beats_q)
                 VALUES (?1, 1000, 61000, 0.9, 'calm', 'hrv-fallback', 60, 0, 0, 0, 0)",
                [id],
            )
            .unwrap();
        old.flush().unwrap();
    }
    let mut h = History::open(&path, HistoryOptions::default()).unwrap();
    assert_eq!(schema::version(&h.conn).unwrap(), SCHEMA_VERSION);
    assert_session_list_sums_ecg_from_the_index(&h);
    let alerts = h.alerts(0, 10_000, 10).unwrap();
    assert_eq!(alerts.len(), 1);
    assert!(!alerts[0].acknowledged);
    assert!(h.acknowledge_alert(alerts[0].id).unwrap());
    assert!(h.alerts(0, 10_000, 10).unwrap()[0].acknowledged);
    h.save_baseline("default", "{\"rmssd\":40}", 9).unwrap();
    h.flush().unwrap();
    assert_eq!(
        h.load_baseline("default").unwrap(),
        Some(("{\"rmssd\":40}".into(), 9))
    );
    assert_eq!(h.sessions(10).unwrap()[0].windows, 1);
    let mut csv = Vec::new();
    h.export_windows_csv(h.sessions(10).unwrap()[0].id, &mut csv)
        .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.lines().nth(1).unwrap().ends_with(",0"), "{csv}");
    // pragmas the crash safety relies on
    let mode: String = h
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let vacuum: i64 = h
        .conn
        .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
        .unwrap();
    assert_eq!(vacuum, 2, "incremental auto-vacuum");
}

/// Two processes opening an old database at once (the app and a background job after an
/// update): both migrate it without an error, once.
#[test]
fn concurrent_opens_migrate_once() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        drop(History::open_at_version(&path, 1).unwrap());
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let openers: Vec<_> = (0..2)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    History::open(&path, HistoryOptions::default()).map(drop)
                })
            })
            .collect();
        for o in openers {
            let opened = o.join().unwrap();
            assert!(opened.is_ok(), "round {round}: {opened:?}");
        }
        let h = History::open(&path, HistoryOptions::default()).unwrap();
        assert_eq!(schema::version(&h.conn).unwrap(), SCHEMA_VERSION);
    }
}

#[test]
fn refuses_a_newer_schema_and_a_non_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    {
        let h = History::open(&path, HistoryOptions::default()).unwrap();
        h.conn
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        // as a newer build might leave it: not in WAL mode
        h.conn
            .pragma_update_and_check(None, "journal_mode", "DELETE", |_| Ok(()))
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    for read_only in [false, true] {
        let e = History::open(
            &path,
            HistoryOptions {
                read_only,
                ..HistoryOptions::default()
            },
        )
        .unwrap_err();
        assert_eq!(kind(e), StorageErrorKind::NewerSchema);
    }
    // refused untouched (an older build must not change a newer one's file)
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(!dir.path().join("h.db-wal").exists());

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![0x5a; 8192]).unwrap();
    let e = History::open(&junk, HistoryOptions::default()).unwrap_err();
    assert_eq!(kind(e), StorageErrorKind::Corrupt);
    // the file is left as it was
    assert_eq!(std::fs::read(&junk).unwrap(), vec![0x5a; 8192]);

    let e = History::open(
        dir.path().join("no/such/dir/h.db"),
        HistoryOptions::default(),
    )
    .unwrap_err();
    assert_eq!(kind(e), StorageErrorKind::CannotOpen);
}

#[test]
fn a_directory_or_a_file_without_the_schema_says_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let read_only = HistoryOptions {
        read_only: true,
        ..Default::default()
    };
    for options in [HistoryOptions::default(), read_only.clone()] {
        let e = History::open(dir.path(), options).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
        assert_eq!(kind(e), StorageErrorKind::CannotOpen);
    }

    // an empty file, and another program's database: nothing to query, nothing to migrate
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE notes (text TEXT)")
        .unwrap();
    for path in [&empty, &other] {
        let e = History::open(path, read_only.clone()).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("not a StressBeat history") && !text.contains("migrate"),
            "{text}"
        );
        assert_eq!(kind(e), StorageErrorKind::NotAHistory);
    }
    assert_eq!(
        std::fs::metadata(&empty).unwrap().len(),
        0,
        "left untouched"
    );
    // opened writable, an empty file becomes a history; another program's database is refused
    // and left as it was
    History::open(&empty, HistoryOptions::default()).unwrap();
    assert!(History::open(&empty, read_only).is_ok());
    let e = History::open(&other, HistoryOptions::default()).unwrap_err();
    assert_eq!(kind(e), StorageErrorKind::NotAHistory);
    let tables: i64 = rusqlite::Connection::open(&other)
        .unwrap()
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1);
}

/// Another program's database with a `user_version` of its own (Android's Room sets one) is
/// refused as not a history, writable or read-only, and left byte for byte as it was (before, it
/// was switched to WAL, then failed with "no such table" or opened as an empty history).
#[test]
fn another_programs_database_with_a_user_version_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    for user_version in [1, SCHEMA_VERSION, SCHEMA_VERSION + 3] {
        let path = dir.path().join(format!("other{user_version}.db"));
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            // one of its tables has a name of ours
            c.execute_batch("CREATE TABLE sessions (id INTEGER PRIMARY KEY, note TEXT);")
                .unwrap();
            c.pragma_update(None, "user_version", user_version).unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        for read_only in [false, true] {
            let options = HistoryOptions {
                read_only,
                ..Default::default()
            };
            let e = History::open(&path, options).unwrap_err();
            assert!(e.to_string().contains("not a StressBeat history"), "{e}");
            assert_eq!(kind(e), StorageErrorKind::NotAHistory, "v{user_version}");
        }
        assert_eq!(std::fs::read(&path).unwrap(), before, "v{user_version}");
        assert!(
            !dir.path()
                .join(format!("other{user_version}.db-wal"))
                .exists()
        );
    }
}

#[test]
fn appends_wait_for_the_commit_interval_then_commit_together() {
    let mut h = History::open_in_memory(HistoryOptions {
        commit_interval: Duration::from_secs(3600),
        ..Default::default()
    })
    .unwrap();
    let id = h.begin_session(&start(0)).unwrap();
    for i in 0..10 {
        h.append_rr(id, i * 1000, 800.0).unwrap();
    }
    assert_eq!((h.commit_count(), h.pending_records()), (0, 10));
    assert_eq!(h.sessions(1).unwrap()[0].rr_intervals, 0, "not yet visible");
    h.flush().unwrap();
    assert_eq!((h.commit_count(), h.pending_records()), (1, 0));
    assert_eq!(h.sessions(1).unwrap()[0].rr_intervals, 10);

    // an interval of zero commits on every append; a full buffer commits early
    let mut eager = History::open_in_memory(HistoryOptions {
        commit_interval: Duration::ZERO,
        ..Default::default()
    })
    .unwrap();
    let id = eager.begin_session(&start(0)).unwrap();
    eager.append_rr(id, 0, 800.0).unwrap();
    assert_eq!(eager.commit_count(), 1);
    let mut small = History::open_in_memory(HistoryOptions {
        commit_interval: Duration::from_secs(3600),
        max_pending_records: 4,
        ..Default::default()
    })
    .unwrap();
    let id = small.begin_session(&start(0)).unwrap();
    for i in 0..9 {
        small.append_rr(id, i, 800.0).unwrap();
    }
    assert_eq!((small.commit_count(), small.pending_records()), (2, 1));
}

#[test]
fn unknown_session_is_refused_at_append() {
    let mut h = History::open_in_memory(HistoryOptions::default()).unwrap();
    assert!(matches!(
        h.append_rr(42, 0, 800.0),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(h.pending_records(), 0);
}

/// A value the schema cannot hold is refused at append, so it cannot fail every later commit.
#[test]
fn a_non_finite_value_is_refused_and_the_rest_commits() {
    let mut h = History::open_in_memory(HistoryOptions::default()).unwrap();
    let s = h.begin_session(&start(0)).unwrap();
    for bad in [f64::NAN, f64::INFINITY, 0.0, -5.0] {
        assert!(matches!(
            h.append_rr(s, 1_000, bad),
            Err(Error::InvalidArgument(_))
        ));
    }
    h.append_rr(s, 2_000, 800.0).unwrap();
    h.flush().unwrap();
    assert_eq!(h.sessions(1).unwrap()[0].rr_intervals, 1);
}

#[test]
fn device_identity_and_replay_directory_are_not_stored_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let mut h = History::open(&path, HistoryOptions::default()).unwrap();
    let a = h.begin_session(&start(0)).unwrap();
    let b = h.begin_session(&start(1)).unwrap();
    h.close().unwrap();
    let h = History::open(&path, HistoryOptions::default()).unwrap();
    let s = h.sessions(10).unwrap();
    let hash = |id| s.iter().find(|x| x.id == id).unwrap().device_hash.clone();
    assert_eq!(hash(a), hash(b), "same device, same hash");
    assert_eq!(hash(a).unwrap().len(), 32);
    assert_eq!(s[0].device_model.as_deref(), Some("Polar H10"));
    assert_eq!(
        s[0].source,
        SourceKind::Replay {
            file_name: "rec.edf".into()
        }
    );
    drop(h);
    let bytes = std::fs::read(&path).unwrap();
    for secret in ["A1B2C3D4", "AA:BB:CC", "alice"] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in clear"
        );
    }
    // another database has another salt
    let mut other = History::open_in_memory(HistoryOptions::default()).unwrap();
    let c = other.begin_session(&start(0)).unwrap();
    assert_ne!(
        other
            .session_detail(c)
            .unwrap()
            .unwrap()
            .summary
            .device_hash,
        hash(a)
    );
}

#[test]
fn read_only_history_refuses_writes_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let mut w = History::open(&path, HistoryOptions::default()).unwrap();
    let id = w.begin_session(&start(0)).unwrap();
    w.append_window(id, &window(0, 10.0)).unwrap();
    w.close().unwrap();
    let mut r = History::open(
        &path,
        HistoryOptions {
            read_only: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        kind(r.begin_session(&start(5)).unwrap_err()),
        StorageErrorKind::ReadOnly
    );
    assert_eq!(
        kind(r.append_rr(id, 0, 800.0).unwrap_err()),
        StorageErrorKind::ReadOnly
    );
    assert_eq!(
        kind(r.end_session(id, 9, EndReason::Stopped).unwrap_err()),
        StorageErrorKind::ReadOnly
    );
    assert_eq!(r.sessions(5).unwrap()[0].windows, 1, "still readable");
}

#[test]
fn a_full_database_gives_a_typed_error_and_keeps_what_was_committed() {
    let mut h = History::open_in_memory(HistoryOptions {
        commit_interval: Duration::ZERO,
        max_size_bytes: Some(256 * 1024),
        max_pending_records: 8,
        ..Default::default()
    })
    .unwrap();
    let id = h.begin_session(&start(0)).unwrap();
    let samples: Vec<i32> = (0..4096).map(|i| (i * 7919) % 60_000 - 30_000).collect();
    let mut committed = 0;
    let err = loop {
        let chunk = EcgChunk {
            first_sample_ms: committed * 1000,
            sampling_rate_hz: 130,
            samples_uv: &samples,
        };
        match h.append_ecg(id, &chunk) {
            Ok(()) => committed += 1,
            Err(e) => break e,
        }
        assert!(committed < 1000, "the cap was never reached");
    };
    assert_eq!(kind(err), StorageErrorKind::Full);
    assert_eq!(h.integrity_check().unwrap(), "ok");
    let s = h.session_detail(id).unwrap().unwrap().summary;
    assert_eq!(s.ecg_samples, committed as u64 * 4096);
    // failures keep the batch until it reaches twice the cap, then drop and count it
    for _ in 0..20 {
        let _ = h.append_rr(id, 0, 800.0);
    }
    assert!(h.dropped_records() > 0);
    assert!(h.pending_records() < 16);
}

#[test]
fn ecg_samples_round_trip_in_both_widths() {
    for samples in [vec![0, -32768, 32767, 5], vec![0, 40_000, -70_000, 1]] {
        let (width, blob) = store::encode_samples(&samples);
        assert_eq!(usize::from(width) * samples.len(), blob.len());
        assert_eq!(store::decode_samples(width, &blob).unwrap(), samples);
    }
    assert_eq!(store::decode_samples(3, &[0; 6]), None);
    assert_eq!(store::decode_samples(2, &[0; 5]), None);
}

#[test]
fn a_session_run_ahead_ends_now_or_before_the_sessions_it_would_overlap() {
    use super::query::start_before;
    let now = 10_000_000;
    assert_eq!(start_before([], 60_000, now), now - 60_000);
    // a session that ended long ago: no conflict
    assert_eq!(start_before([(1_000, 6_000)], 60_000, now), now - 60_000);
    // the same replay twice: the second goes before the first, not into the future
    let first = (now - 60_000, now);
    assert_eq!(
        start_before([first], 60_000, now),
        now - 60_000 - 1_000 - 60_000
    );
    // ... and a third before both
    let second = (now - 121_000, now - 61_000);
    assert_eq!(
        start_before([first, second], 60_000, now),
        now - 3 * 60_000 - 2_000
    );
    // a session stored in the future (an older build) still pushes it before its start
    assert_eq!(
        start_before([(now + 5_000, i64::MAX)], 1_000, now),
        now - 1_000
    );
    assert_eq!(
        start_before([(now - 5_000, i64::MAX)], 1_000, now),
        now - 7_000
    );
}

/// The stored spans: an ended session by its end, an open one by its last data.
#[test]
fn a_run_ahead_start_avoids_stored_ended_and_open_sessions() {
    let mut h = History::open_in_memory(HistoryOptions::default()).unwrap();
    let now = 100_000_000;
    assert_eq!(h.past_start_ms(60_000, now).unwrap(), now - 60_000);
    let ended = h.begin_session(&start(now - 50_000)).unwrap();
    h.end_session(ended, now - 40_000, EndReason::Stopped)
        .unwrap();
    assert_eq!(h.past_start_ms(60_000, now).unwrap(), now - 51_000 - 60_000);
    // an open session whose last window ends after `now` (its clock ran ahead)
    let open = h.begin_session(&start(now - 200_000)).unwrap();
    h.append_window(open, &window(now - 30_000, 10.0)).unwrap();
    h.flush().unwrap();
    assert_eq!(
        h.past_start_ms(60_000, now).unwrap(),
        now - 201_000 - 60_000
    );
    // the open session started first but ends last: a short replay goes before it too
    assert_eq!(h.past_start_ms(1_000, now).unwrap(), now - 201_000 - 1_000);
}

#[test]
fn end_reasons_read_back_from_their_stored_text() {
    for r in EndReason::ALL {
        assert_eq!(EndReason::from_stored(r.as_str()), Some(r));
    }
    assert_eq!(EndReason::from_stored("a reason of a later version"), None);
}

/// The session list sums each session's ECG samples from `ecg_by_session` alone (schema 4),
/// without reading every chunk's row: half the time of the list on a week of raw ECG
/// (`cargo bench --bench history`).
fn assert_session_list_sums_ecg_from_the_index(h: &History) {
    let mut stmt = h
        .conn
        .prepare(&format!(
            "EXPLAIN QUERY PLAN {}",
            query::SESSION_SUMMARY_SQL
        ))
        .unwrap();
    let plan: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        plan.iter()
            .any(|step| step.contains("ecg_chunks USING COVERING INDEX ecg_by_session")),
        "{plan:#?}"
    );
}

#[test]
fn a_new_history_sums_ecg_from_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let h = History::open(dir.path().join("h.db"), HistoryOptions::default()).unwrap();
    assert_session_list_sums_ecg_from_the_index(&h);
}

#[test]
fn one_writer_lock_per_history_until_it_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let held = WriterLock::acquire(&db).unwrap();
    let err = WriterLock::acquire(&db).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Storage {
                kind: StorageErrorKind::InUse,
                ..
            }
        ),
        "{err:?}"
    );
    // another history beside it is not held
    WriterLock::acquire(dir.path().join("other.db")).unwrap();
    drop(held);
    WriterLock::acquire(&db).unwrap();
    // an in-memory database has no file to hold, and no other connection to exclude
    let _a = WriterLock::acquire(":memory:").unwrap();
    let _b = WriterLock::acquire(":memory:").unwrap();
    // a folder that does not exist
    let err = WriterLock::acquire(dir.path().join("none/h.db")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Storage {
                kind: StorageErrorKind::CannotOpen,
                ..
            }
        ),
        "{err:?}"
    );
}
