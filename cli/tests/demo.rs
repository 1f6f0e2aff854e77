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
    // health data: readable by the user only, like the history
    #[cfg(unix)]
    for f in [&csv, &edf, &report] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }

    // History listing.
    let json: serde_json::Value = serde_json::from_str(&ok(stressbeat()
        .args(["history", "--json", "--db"])
        .arg(&db)
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(json["sessions"][0]["windows"], s.windows);
    // a session run just after midnight UTC spans two days: its windows are on both
    let daily: u64 = json["daily_summaries_utc"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["windows"].as_u64().unwrap())
        .sum();
    assert_eq!(daily, u64::from(s.windows));

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

/// `replay --baseline` (calibrated through the live monitor) and `stress --baseline` (batch
/// windows) admit the same windows of a clean rest recording: all of it, to its last window.
#[test]
fn replay_and_stress_calibrate_on_the_same_windows_of_a_clean_baseline() {
    let Some(data) = stressbeat_e2e::dataset("eegmat") else {
        return;
    };
    let (task, rest) = (data.join("Subject26_2.edf"), data.join("Subject26_1.edf"));
    let dir = tmp_dir("same-baseline");
    let replay = ok(stressbeat()
        .arg("replay")
        .arg(&task)
        .arg("--baseline")
        .arg(&rest)
        .arg("--db")
        .arg(dir.join("history.sqlite"))
        .arg("--report")
        .arg(dir.join("replay.png"))
        .output()
        .unwrap());
    let stress: serde_json::Value = serde_json::from_str(&ok(stressbeat()
        .arg("stress")
        .arg(&task)
        .arg("--baseline")
        .arg(&rest)
        .arg("--json")
        .output()
        .unwrap()))
    .unwrap();
    let (windows, admitted) = (
        stress["baseline"]["windows"].as_u64().unwrap(),
        stress["baseline"]["admitted"].as_u64().unwrap(),
    );
    assert_eq!(admitted, windows, "a clean rest recording: {stress}");
    assert!(
        replay.contains(&format!("Subject26_1.edf ({admitted} windows)")),
        "stress admitted {admitted}: {replay}"
    );
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

fn err(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Without HOME or XDG_DATA_HOME there is no private place for the history: refused (it used to
/// go to a shared /tmp/stressbeat/).
#[test]
fn without_a_home_the_default_history_is_refused() {
    for args in [
        &["demo", "--minutes", "1"][..],
        &["history"],
        &[
            "export",
            "--session",
            "1",
            "--format",
            "csv",
            "--out",
            "x.csv",
        ],
    ] {
        for home in [None, Some("")] {
            let mut cmd = stressbeat();
            cmd.args(args).env_remove("XDG_DATA_HOME");
            match home {
                Some(h) => cmd.env("HOME", h),
                None => cmd.env_remove("HOME"),
            };
            let out = cmd.current_dir(std::env::temp_dir()).output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            let e = err(&out);
            assert!(
                e.contains("HOME and XDG_DATA_HOME are unset or empty") && e.contains("--db"),
                "{args:?}: {e}"
            );
        }
    }
}

/// The data folder the CLI creates is the user's alone (0700), and so is the database (0600).
#[cfg(unix)]
#[test]
fn the_default_history_is_private_to_the_user() {
    use std::os::unix::fs::PermissionsExt;
    let home = tmp_dir("private-home");
    ok(stressbeat()
        .args(["demo", "--minutes", "1"])
        .env("HOME", &home)
        .env_remove("XDG_DATA_HOME")
        .output()
        .unwrap());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let data = home.join(".local/share/stressbeat");
    for dir in [home.join(".local"), home.join(".local/share"), data.clone()] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    assert_eq!(mode(&data.join("history.sqlite")), 0o600);
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_demo_lasts_at_least_a_minute() {
    let dir = tmp_dir("short");
    let out = stressbeat()
        .args(["demo", "--minutes", "0.1", "--db"])
        .arg(dir.join("h.sqlite"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(err(&out).contains("at least 1 minute"), "{}", err(&out));
    assert!(!dir.join("h.sqlite").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn history_of_a_directory_or_an_empty_file_says_what_it_is() {
    let dir = tmp_dir("not-a-history");
    let empty = dir.join("empty.sqlite");
    std::fs::write(&empty, b"").unwrap();
    let run = |db: &Path| {
        let out = stressbeat()
            .args(["history", "--db"])
            .arg(db)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        err(&out)
    };
    let e = run(&dir);
    assert!(e.contains("is a directory") && !e.contains("I/O"), "{e}");
    let e = run(&empty);
    assert!(
        e.contains("not a StressBeat history") && !e.contains("migrate"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn export_into_a_missing_folder_names_the_requested_file() {
    let out = stressbeat()
        .args(["export", "--session", "1", "--format", "csv"])
        .args([
            "--out",
            "/nonexistent/x.csv",
            "--db",
            "/nonexistent/h.sqlite",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = err(&out);
    assert!(
        e.contains("cannot write /nonexistent/x.csv: the folder /nonexistent does not exist")
            && !e.contains("partial"),
        "{e}"
    );
}

/// Replay refuses a recording (or a baseline) whose samples are not in a voltage, as `hrv` does,
/// unless the unit is given.
#[test]
fn replay_refuses_a_unit_that_is_not_a_voltage_like_the_analyses() {
    let Some(data) = stressbeat_e2e::dataset("biopsykit") else {
        return;
    };
    let Some(eegmat) = stressbeat_e2e::dataset("eegmat") else {
        return;
    };
    let raw = data.join("ecg_sample_Vp02.csv");
    let dir = tmp_dir("raw-unit");
    let db = dir.join("h.sqlite");
    let hrv = stressbeat().arg("hrv").arg(&raw).output().unwrap();
    let replay = stressbeat()
        .arg("replay")
        .arg(&raw)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(replay.status.code(), Some(2));
    let (e_hrv, e_replay) = (err(&hrv), err(&replay));
    assert!(e_replay.contains("not a voltage"), "{e_replay}");
    assert_eq!(e_replay, e_hrv, "the same message");

    let baseline = stressbeat()
        .arg("replay")
        .arg(eegmat.join("Subject01_2.edf"))
        .arg("--baseline")
        .arg(&raw)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(baseline.status.code(), Some(2));
    let e = err(&baseline);
    assert!(
        e.contains("baseline recording")
            && e.contains("ecg_sample_Vp02.csv")
            && e.contains("not a voltage"),
        "{e}"
    );
    assert!(!db.exists(), "a refused replay created the database");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `replay` warns about the CSV-only options it ignores, for the file and for the baseline.
#[test]
fn replay_warns_about_csv_options_given_for_other_files() {
    let Some(data) = stressbeat_e2e::dataset("eegmat") else {
        return;
    };
    let dir = tmp_dir("replay-warn");
    let out = stressbeat()
        .arg("replay")
        .arg(data.join("Subject01_2.edf"))
        .args(["--fs", "130", "--baseline"])
        .arg(data.join("Subject01_1.edf"))
        .args(["--baseline-unit", "mV", "--db"])
        .arg(dir.join("h.sqlite"))
        .arg("--report")
        .arg(dir.join("r.png"))
        .output()
        .unwrap();
    let e = err(&out);
    ok(out);
    assert!(
        e.contains("warning: --fs applies to CSV files only; ignored for Subject01_2.edf"),
        "{e}"
    );
    assert!(
        e.contains(
            "warning: --baseline-unit applies to CSV files only; ignored for Subject01_1.edf"
        ),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A degradation is one sentence, printed once; the summary's window counts add up.
#[test]
fn degradations_are_sentences_and_the_window_counts_add_up() {
    let dir = tmp_dir("degraded");
    let stdout = ok(stressbeat()
        .args(["demo", "--minutes", "2"])
        .args(["--faults", "silent=30s/20s,ecgrefused=1m/30s", "--db"])
        .arg(dir.join("h.sqlite"))
        .output()
        .unwrap());
    assert_eq!(
        stdout
            .matches("ECG not analysed: the strap refused")
            .count(),
        1,
        "{stdout}"
    );
    assert!(!stdout.contains("EcgUnusable"), "{stdout}");
    let number_after = |label: &str| -> u64 {
        let line = stdout.lines().find(|l| l.contains(label)).unwrap();
        let rest = &line[line.find(label).unwrap() + label.len()..];
        rest.trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let windows = number_after("analysis windows (30 s, one every 5 s):");
    let scored = number_after("with a stress score:");
    let unscored = number_after("without:");
    assert_eq!(scored + unscored, windows, "{stdout}");
    let by_reason: u64 = stdout
        .lines()
        .filter_map(|l| {
            l.strip_prefix("    ")?
                .split(':')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert_eq!(by_reason, unscored, "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A session's exports analyse as the session does: the EDF+ export's unrecorded stretches read
/// back as missing signal (not a flat line with missed beats), and the RR export keeps its
/// times (disconnections stay gaps).
#[test]
fn exports_reanalyse_as_the_session() {
    let dir = tmp_dir("round-trip");
    let (capture, db) = (dir.join("faulty.bin"), dir.join("history.sqlite"));
    ok(stressbeat()
        .args(["simulate", "--minutes", "5", "--quiet", "--faults"])
        .arg("loss=5%,disconnect=2m/15s")
        .arg("--out")
        .arg(&capture)
        .output()
        .unwrap());
    ok(stressbeat()
        .arg("replay")
        .arg(&capture)
        .arg("--db")
        .arg(&db)
        .arg("--report")
        .arg(dir.join("r.png"))
        .output()
        .unwrap());
    let (edf, rr) = (dir.join("s.edf"), dir.join("rr.csv"));
    for (format, out, rr_flag) in [("edf", &edf, false), ("csv", &rr, true)] {
        let mut cmd = stressbeat();
        cmd.args(["export", "--session", "1", "--format", format, "--db"])
            .arg(&db)
            .arg("--out")
            .arg(out);
        if rr_flag {
            cmd.arg("--rr");
        }
        ok(cmd.output().unwrap());
    }
    let hrv = |path: &Path| -> serde_json::Value {
        serde_json::from_str(&ok(stressbeat()
            .arg("hrv")
            .arg(path)
            .arg("--json")
            .output()
            .unwrap()))
        .unwrap()
    };
    let (session, exported) = (hrv(&capture), hrv(&edf));
    for key in ["n_intervals", "sdnn_ms", "rmssd_ms"] {
        let (a, b) = (&session["hrv"][key], &exported["hrv"][key]);
        assert!(
            (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 0.5,
            "{key}: session {a}, EDF export {b}"
        );
    }
    // the RR log spans the session (about 5 min with its two 15 s disconnections)
    let rr_log = hrv(&rr);
    let span = rr_log["duration_s"].as_f64().unwrap();
    assert!(span > 280.0, "the RR export spans {span} s");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A calm simulated strap (no stress episode) reads calm throughout: its motion artefacts (two
/// false R-peaks in a row at 6:29) once read "elevated" for 0.6 min, before the RR correction
/// merged runs of extra beats.
#[test]
fn a_calm_simulation_reads_calm() {
    let dir = tmp_dir("calm");
    let capture = dir.join("calm.bin");
    ok(stressbeat()
        .args(["simulate", "--minutes", "10", "--quiet", "--out"])
        .arg(&capture)
        .output()
        .unwrap());
    let stdout = ok(stressbeat()
        .arg("replay")
        .arg(&capture)
        .arg("--db")
        .arg(dir.join("history.sqlite"))
        .arg("--report")
        .arg(dir.join("r.png"))
        .output()
        .unwrap());
    let states = stdout
        .lines()
        .find(|l| l.starts_with("time by state:"))
        .unwrap();
    assert!(
        states.contains("calm") && !states.contains("elevated") && !states.contains("high"),
        "{states}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
