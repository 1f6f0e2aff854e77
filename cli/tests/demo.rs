//! `stressbeat demo`, `history`, `export` and `replay` end to end: a short simulated session is
//! stored, reported and exported, and the exports read back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may unwrap and panic

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use stressbeat_core::{
    history::{History, HistoryOptions},
    io::read_edf,
};

fn stressbeat() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stressbeat"))
}

fn tmp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stressbeat-demo-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn open(db: &Path) -> History {
    History::open(
        db,
        HistoryOptions {
            read_only: true,
            ..HistoryOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn short_demo_stores_reports_and_exports() {
    let dir = tmp_dir("demo");
    let db = dir.join("history.sqlite");
    let report = dir.join("report.png");
    let stdout = ok(stressbeat()
        .args(["demo", "--minutes", "3", "--seed", "3", "--db"])
        .arg(&db)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap());
    assert!(stdout.contains("not a medical device"), "{stdout}");

    let h = open(&db);
    let sessions = h.sessions(10).unwrap();
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    // 3 min, 30 s windows every 5 s: about 31 windows.
    assert!((28..=34).contains(&s.windows), "windows {}", s.windows);
    assert!(s.rr_intervals > 150, "RR {}", s.rr_intervals);
    assert!(s.ecg_samples > 170 * 130, "ECG samples {}", s.ecg_samples);
    assert_eq!(s.end_reason.as_deref(), Some("source_ended"));
    let detail = h.session_detail(s.id).unwrap().unwrap();
    let hr = detail.mean_hr_bpm.unwrap();
    assert!((50.0..100.0).contains(&hr), "mean HR {hr}");

    let png = image::open(&report).unwrap();
    assert_eq!((png.width(), png.height()), (1200, 1250));

    // Exports.
    let csv = dir.join("windows.csv");
    let edf = dir.join("ecg.edf");
    let id = s.id.to_string();
    ok(stressbeat()
        .args(["export", "--session", &id, "--format", "csv", "--db"])
        .arg(&db)
        .arg("--out")
        .arg(&csv)
        .output()
        .unwrap());
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), s.windows as usize + 1);
    assert!(text.starts_with("session_id,start_utc,"));
    // to standard output (a link to the pipe): written directly
    let piped = ok(stressbeat()
        .args(["export", "--session", &id, "--format", "csv", "--db"])
        .arg(&db)
        .args(["--out", "/dev/stdout"])
        .output()
        .unwrap());
    assert!(piped.starts_with(&text), "{piped}");
    ok(stressbeat()
        .args(["export", "--session", &id, "--format", "edf", "--db"])
        .arg(&db)
        .arg("--out")
        .arg(&edf)
        .output()
        .unwrap());
    let rec = read_edf(&edf).unwrap();
    let ecg = rec.default_ecg_channel().unwrap();
    let secs = rec.signals[ecg].duration_s();
    assert!((170.0..=185.0).contains(&secs), "EDF holds {secs} s");
    assert_eq!(rec.signals[ecg].sampling_rate_hz, 130.0);

    // History listing.
    let json: serde_json::Value = serde_json::from_str(&ok(stressbeat()
        .args(["history", "--json", "--db"])
        .arg(&db)
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(json["sessions"][0]["windows"], s.windows);
    assert_eq!(json["daily_summaries_utc"][0]["windows"], s.windows);

    // An unknown session is a typed error, not a panic, and the file at --out stays as it was.
    let bad = stressbeat()
        .args(["export", "--session", "999", "--format", "csv", "--db"])
        .arg(&db)
        .arg("--out")
        .arg(&csv)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("999"));
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), text);
    // Exporting over the database itself is refused; the history is intact.
    let over = stressbeat()
        .args(["export", "--session", &id, "--format", "csv", "--db"])
        .arg(&db)
        .arg("--out")
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(over.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&over.stderr).contains("history database itself"));
    assert_eq!(open(&db).sessions(10).unwrap().len(), 1);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn history_of_a_missing_database_is_an_error() {
    let dir = tmp_dir("missing");
    let out = stressbeat()
        .args(["history", "--db"])
        .arg(dir.join("none.sqlite"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no history"));
}

#[test]
fn replay_of_eegmat_with_baseline() {
    let Some(data) = stressbeat_e2e::dataset("eegmat") else {
        return;
    };
    let (task, rest) = (data.join("Subject01_2.edf"), data.join("Subject01_1.edf"));
    let dir = tmp_dir("replay");
    let db = dir.join("history.sqlite");
    let report = dir.join("replay.png");
    let stdout = ok(stressbeat()
        .arg("replay")
        .arg(&task)
        .arg("--baseline")
        .arg(&rest)
        .arg("--db")
        .arg(&db)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap());
    assert!(stdout.contains("Personal baseline"), "{stdout}");
    let h = open(&db);
    let s = &h.sessions(10).unwrap()[0];
    assert!(s.windows >= 5, "windows {}", s.windows);
    assert!(matches!(
        &s.source,
        stressbeat_core::history::SourceKind::Replay { file_name } if file_name == "Subject01_2.edf"
    ));
    assert!(image::open(&report).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replay_with_a_missing_baseline_names_the_file_and_the_cause() {
    let Some(data) = stressbeat_e2e::dataset("eegmat") else {
        return;
    };
    let dir = tmp_dir("missing-baseline");
    let missing = dir.join("no-such-rest.edf");
    let out = stressbeat()
        .arg("replay")
        .arg(data.join("Subject03_2.edf"))
        .arg("--baseline")
        .arg(&missing)
        .arg("--db")
        .arg(dir.join("history.sqlite"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-rest.edf"), "{err}");
    assert!(err.contains("No such file"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `demo --heart-rate-only`: a strap without ECG; every window after the first 30 s is stored,
/// the stress scores come from the RR intervals, and the report says why it shows no beats.
#[test]
fn heart_rate_only_demo_is_scored_without_ecg() {
    let dir = tmp_dir("hr-only");
    let db = dir.join("history.sqlite");
    let stdout = ok(stressbeat()
        .args(["demo", "--minutes", "3", "--heart-rate-only", "--db"])
        .arg(&db)
        .arg("--report")
        .arg(dir.join("report.png"))
        .output()
        .unwrap());
    let h = open(&db);
    let s = &h.sessions(1).unwrap()[0];
    assert_eq!(s.ecg_samples, 0, "{stdout}");
    assert!(s.rr_intervals > 150 && s.windows >= 25, "{s:?}");
    let scored = h
        .session_detail(s.id)
        .unwrap()
        .unwrap()
        .mean_score
        .is_some();
    assert!(scored, "{stdout}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A CSV without a time column replays with `--fs` (and says to pass it without).
#[test]
fn replay_of_a_csv_without_time_column_takes_fs() {
    let dir = tmp_dir("replay-fs");
    let sim = dir.join("sim.csv");
    ok(stressbeat()
        .args(["simulate", "--minutes", "1.5", "--out"])
        .arg(&sim)
        .output()
        .unwrap());
    let text = std::fs::read_to_string(&sim).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("time_s,ecg_uv"));
    let values: String = lines
        .map(|l| format!("{}\n", l.split(',').nth(1).unwrap()))
        .collect();
    let bare = dir.join("bare.csv");
    std::fs::write(&bare, format!("ecg_uv\n{values}")).unwrap();
    let db = dir.join("history.sqlite");
    let replay = |extra: &[&str]| {
        stressbeat()
            .arg("replay")
            .arg(&bare)
            .arg("--db")
            .arg(&db)
            .arg("--report")
            .arg(dir.join("r.png"))
            .args(extra)
            .output()
            .unwrap()
    };
    let out = replay(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--fs"), "{err}");
    assert!(!db.exists(), "a failed replay created the database");
    ok(replay(&["--fs", "130", "--unit", "uV"]));
    let s = &open(&db).sessions(10).unwrap()[0];
    assert!(s.windows >= 10, "windows {}", s.windows);
    let _ = std::fs::remove_dir_all(&dir);
}
