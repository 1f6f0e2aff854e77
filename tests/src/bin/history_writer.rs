//! Writes history continuously until killed, for `tests/tests/history_crash.rs`.
//!
//! `history-writer DB COMMIT_INTERVAL_MS MAX_PENDING_RECORDS`: starts a session, prints `session ID`, then, as fast
//! as it can (so that most of its time is spent committing), per simulated second `k` appends an ECG chunk (130 samples), an RR interval and a window whose
//! score is `k` (an alert every 50 s), and prints `committed K WALL_MS COMMIT_US` each time a commit has made
//! everything through second `K` durable (`WALL_MS`: the wall clock just after the commit;
//! `COMMIT_US`: total time spent in appends that committed, so far).

use std::{
    io::Write,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use stressbeat_core::history::{
    AlertRecord, EcgChunk, History, HistoryOptions, HistorySink, SessionStart, SourceKind,
    WindowRecord,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(db), Some(interval), Some(max_pending)) = (args.next(), args.next(), args.next())
    else {
        return Err("usage: history-writer DB COMMIT_INTERVAL_MS MAX_PENDING_RECORDS".into());
    };
    let mut h = History::open(
        &db,
        HistoryOptions {
            commit_interval: Duration::from_millis(interval.parse()?),
            max_pending_records: max_pending.parse()?,
            ..Default::default()
        },
    )?;
    let t0 = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let session = h.begin_session(&SessionStart {
        started_at_ms: t0,
        source: SourceKind::Simulator,
        device_model: Some("Polar H10".into()),
        device_identity: None,
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "session {session}")?;
    out.flush()?;
    let mut ecg = [0i32; 130];
    let mut commits = h.commit_count();
    let mut in_commits = Duration::ZERO;
    for k in 0i64.. {
        let t = t0 + k * 1000;
        for (i, v) in ecg.iter_mut().enumerate() {
            *v = ((k * 130 + i as i64) % 2000 - 1000) as i32;
        }
        // a commit inside an append of second k makes second k - 1 complete; inside the
        // window's (the last) append, second k
        let mut complete: Option<i64> = None;
        let mut call = Instant::now();
        // after each append: did it commit? (then it took `call.elapsed()` in the commit)
        let mut note = |h: &History, done: i64, call: &mut Instant| {
            if h.commit_count() != commits {
                commits = h.commit_count();
                complete = Some(done);
                in_commits += call.elapsed();
            }
            *call = Instant::now();
        };
        h.append_ecg(
            session,
            &EcgChunk {
                first_sample_ms: t,
                sampling_rate_hz: 130,
                samples_uv: &ecg,
            },
        )?;
        note(&h, k - 1, &mut call);
        h.append_rr(session, t, 800.0 + (k % 50) as f64)?;
        note(&h, k - 1, &mut call);
        if k % 50 == 49 {
            h.append_alert(
                session,
                &AlertRecord {
                    at_ms: t,
                    kind: "stress_high".into(),
                    severity: 2,
                    reason: "test".into(),
                },
            )?;
            note(&h, k - 1, &mut call);
        }
        h.append_window(
            session,
            &WindowRecord {
                start_ms: t - 59_000,
                end_ms: t + 1000,
                usable_fraction: 1.0,
                mean_hr_bpm: Some(75.0),
                score: Some(k as f64),
                state: "calm".into(),
                scored_by: "writer".into(),
                ..Default::default()
            },
        )?;
        note(&h, k, &mut call);
        if let Some(done) = complete.filter(|&d| d >= 0) {
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
            writeln!(out, "committed {done} {now} {}", in_commits.as_micros())?;
            out.flush()?;
        }
    }
    Ok(())
}
