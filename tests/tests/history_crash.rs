//! Kill-during-write: a writer process (`history-writer`) is killed with SIGKILL at a random
//! moment, 20 times on the same database file. After every kill the database must open, pass
//! `PRAGMA integrity_check`, and hold everything up to the last commit the writer reported, with
//! that commit at most one second before the kill.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use stressbeat_core::history::{History, HistoryOptions};

const KILLS: usize = 20;
const COMMIT_INTERVAL_MS: u64 = 250;
/// The writer appends as fast as it can, far faster than a strap; this keeps each commit short
/// enough that "at most one second lost" is about the store, not about a debug build's speed.
const MAX_PENDING_RECORDS: usize = 3000;

/// SplitMix64: a fixed sequence of kill delays.
struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn killed_writer_leaves_an_intact_database_missing_at_most_the_last_second() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let mut rng = SplitMix(0x5eed_2026);
    let mut stored_before = 0u64;
    let mut worst_gap = Duration::ZERO;
    let mut commits_seen = 0usize;
    let mut busy_shares: Vec<f64> = Vec::new();
    // on a device the runner pushes the writer beside the tests and names it
    let writer = std::env::var_os("STRESSBEAT_HISTORY_WRITER")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_history-writer").into());
    for run in 0..KILLS {
        let mut child = Command::new(&writer)
            .arg(&db)
            .arg(COMMIT_INTERVAL_MS.to_string())
            .arg(MAX_PENDING_RECORDS.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = rx.recv_timeout(Duration::from_secs(60)).unwrap();
        let started = std::time::Instant::now();
        let started_ms = wall_ms();
        let session: i64 = first.strip_prefix("session ").unwrap().parse().unwrap();
        // kill 0.05–2.5 s after the session started
        let delay = Duration::from_millis(50 + rng.next() % 2450);
        std::thread::sleep(delay.saturating_sub(started.elapsed()));
        child.kill().unwrap(); // SIGKILL
        let killed_ms = wall_ms();
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "run {run}: the writer exited by itself: {status}"
        );
        reader.join().unwrap();
        let mut last: Option<(u64, i64)> = None;
        let mut in_commits = Duration::ZERO;
        for line in rx.try_iter() {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 4, "{line}");
            assert_eq!(fields[0], "committed");
            last = Some((fields[2].parse().unwrap(), fields[1].parse().unwrap()));
            in_commits = Duration::from_micros(fields[3].parse().unwrap());
            commits_seen += 1;
        }

        let h = History::open(&db, HistoryOptions::default()).unwrap();
        assert_eq!(h.integrity_check().unwrap(), "ok", "run {run}");
        let detail = h.session_detail(session).unwrap().unwrap();
        let s = &detail.summary;
        // everything through the last reported second is there, and nothing is torn: the
        // windows are exactly seconds 0..n (scores 0..n-1)
        let n = i64::from(s.windows);
        if let Some((_, k)) = last {
            assert!(
                n > k,
                "run {run}: {n} windows stored, second {k} was committed"
            );
            assert!(i64::from(s.rr_intervals) > k && s.ecg_samples > k as u64 * 130);
        }
        if n > 0 {
            assert_eq!(detail.max_score, Some((n - 1) as f64), "run {run}");
            assert_eq!(detail.mean_score, Some((n - 1) as f64 / 2.0), "run {run}");
        }
        // the share of the writer's time spent committing: the chance a kill lands mid-commit
        if let Some((at, _)) = last {
            let busy = in_commits.as_secs_f64() / (at.saturating_sub(started_ms) as f64 / 1000.0);
            busy_shares.push(busy.min(1.0));
        }
        // at most one second (the commit interval plus scheduling) lost
        let since_commit =
            Duration::from_millis(killed_ms.saturating_sub(last.map_or(started_ms, |(at, _)| at)));
        worst_gap = worst_gap.max(since_commit);
        assert!(
            since_commit <= Duration::from_secs(1),
            "run {run}: last commit {since_commit:?} before the kill"
        );
        // earlier sessions are untouched
        let all: u64 = h
            .sessions(1000)
            .unwrap()
            .iter()
            .map(|x| u64::from(x.windows))
            .sum();
        assert_eq!(all, stored_before + n as u64, "run {run}");
        stored_before = all;
        println!(
            "run {run:2}: kill after {delay:?}: last reported commit second {:?}, stored {n} windows / {} RR / {} ECG samples, last commit {since_commit:?} before the kill",
            last.map(|(_, k)| k),
            s.rr_intervals,
            s.ecg_samples
        );
    }
    let busy = busy_shares.iter().sum::<f64>() / busy_shares.len().max(1) as f64;
    println!(
        "{KILLS} kills: integrity ok every time; {commits_seen} commits reported; {stored_before} windows in the database; worst time from last commit to kill {worst_gap:?}; the writer spent {:.0} % of its time committing (≈ {:.1} kills expected mid-commit)",
        100.0 * busy,
        busy * KILLS as f64
    );
    assert!(
        commits_seen > KILLS,
        "the writer must have committed between kills"
    );
}
