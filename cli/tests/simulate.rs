//! `stressbeat simulate`: capture and CSV outputs, side files, determinism, bad specs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may unwrap and panic

use std::{path::PathBuf, process::Command};

use stressbeat_core::formats::pmd_capture;
use stressbeat_core::protocol::pmd::{FrameContext, decode_ecg_into};

fn stressbeat() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stressbeat"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stressbeat-sim-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// `stressbeat simulate ARGS --quiet --out FILE` (a file in the test's folder), which must
/// succeed; returns FILE.
fn simulate(args: &[&str], name: &str) -> PathBuf {
    let out = tmp(name);
    let st = stressbeat()
        .arg("simulate")
        .args(args)
        .args(["--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    out
}

#[test]
fn capture_decodes_and_is_deterministic() {
    let run = |name: &str| {
        let args = ["--minutes", "2", "--seed", "5"];
        simulate(
            &[&args[..], &["--faults", "loss=5%,disconnect=1m/5s"]].concat(),
            name,
        )
    };
    let a = run("a.bin");
    let b = run("b.bin");
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(bytes, std::fs::read(&b).unwrap());
    let recs = pmd_capture::parse(&bytes).unwrap();
    assert!(recs.len() > 150, "{}", recs.len());
    let mut buf = Vec::new();
    for r in recs {
        decode_ecg_into(r, &FrameContext::default(), &mut buf).unwrap();
        assert_eq!(buf.len(), 73);
    }
    let peaks =
        std::fs::read_to_string(PathBuf::from(format!("{}.peaks.csv", a.display()))).unwrap();
    assert!(peaks.lines().count() > 120);
    let faults =
        std::fs::read_to_string(PathBuf::from(format!("{}.faults.csv", a.display()))).unwrap();
    assert!(faults.contains("Disconnect,60000,5000"));
}

/// The ground truth counts samples from the capture's first one, as `peaks` on the capture does
/// (the generator runs from before the phone starts the stream), lost frames included.
#[test]
fn capture_ground_truth_matches_the_detected_peaks() {
    let args = ["--minutes", "2", "--noise", "0", "--faults", "loss=5%"];
    let out = simulate(&args, "truth.bin");
    let peaks = stressbeat()
        .args(["peaks", "--json"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(peaks.status.success());
    let json: serde_json::Value = serde_json::from_slice(&peaks.stdout).unwrap();
    let detected: Vec<i64> = json["peaks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_i64().unwrap())
        .collect();
    let truth =
        std::fs::read_to_string(PathBuf::from(format!("{}.peaks.csv", out.display()))).unwrap();
    let truth: Vec<i64> = truth
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    let found = truth
        .iter()
        .filter(|t| detected.iter().any(|d| (d - *t).abs() <= 2))
        .count();
    // lost frames hide about 5 % of the beats, and the detector re-learns after each
    assert!(
        found * 100 >= truth.len() * 85,
        "{found} of {} true beats",
        truth.len()
    );
}

#[test]
fn csv_output_and_peaks() {
    let out = simulate(&["--minutes", "1", "--hr", "90", "--noise", "0"], "x.csv");
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(csv.starts_with("time_s,ecg_uv\n"));
    assert_eq!(csv.lines().count(), 1 + 60 * 130);
    let peaks =
        std::fs::read_to_string(PathBuf::from(format!("{}.peaks.csv", out.display()))).unwrap();
    let n = peaks.lines().count() - 1;
    assert!((85..=95).contains(&n), "{n}");
}

#[test]
fn bad_fault_spec_is_an_error() {
    let st = stressbeat()
        .args([
            "simulate",
            "--minutes",
            "1",
            "--faults",
            "loss=200%",
            "--out",
        ])
        .arg(tmp("bad.bin"))
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&st.stderr).contains("bad fault spec"));
}

#[test]
fn stress_episode_after_the_end_is_an_error() {
    let out = tmp("late-stress.bin");
    let st = stressbeat()
        .args(["simulate", "--minutes", "5", "--stress-at", "6", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&st.stderr).contains("--stress-at"));
    assert!(!out.exists());
}

/// Values the simulator cannot honour are refused, naming the option and its range.
#[test]
fn values_the_simulator_cannot_honour_are_refused() {
    for (args, needle) in [
        (&["--hrv", "1e6"][..], "1000000 is outside 0–200 ms"),
        (&["--noise", "1e6"], "1000000 is outside 0–10"),
        (
            &["--pvc-per-min", "1000"],
            "1000 is outside 0–30 per minute",
        ),
        (&["--pac-per-min", "-1"], "-1 is outside 0–30 per minute"),
        (&["--hr", "300"], "300 is outside 25–220 bpm"),
        (
            &["--hr", "40", "--pvc-per-min", "15", "--pac-per-min", "10"],
            "more than half the heart rate",
        ),
    ] {
        let out = tmp("refused.bin");
        let st = stressbeat()
            .args(["simulate", "--minutes", "1", "--quiet"])
            .args(args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(st.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&st.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?}");
    }
}

/// `peaks` prints no RR interval between two beats with ECG missing between them (a
/// disconnection), but says "gap".
#[test]
fn peaks_mark_intervals_across_missing_ecg() {
    let out = simulate(
        &["--minutes", "2", "--faults", "disconnect=1m/10s"],
        "gaps.bin",
    );
    let peaks = stressbeat().arg("peaks").arg(&out).output().unwrap();
    assert!(peaks.status.success());
    let table = String::from_utf8(peaks.stdout).unwrap();
    let rr: Vec<f64> = table
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3)?.parse().ok())
        .collect();
    assert!(rr.len() > 100 && rr.iter().all(|&r| r < 2000.0), "{table}");
    assert_eq!(
        table
            .lines()
            .filter(|l| l.trim_end().ends_with(" gap"))
            .count(),
        1,
        "{table}"
    );
}

/// A write that fails part-way (here the file-size limit) leaves no file behind: a cut-off
/// capture would read as a complete, shorter recording.
#[cfg(target_os = "linux")]
#[test]
fn a_failed_write_leaves_no_partial_files() {
    let dir = tmp("cut").with_extension("d");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("cut.bin");
    let st = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 40; exec '{}' simulate --minutes 10 --quiet --out '{}'",
            env!("CARGO_BIN_EXE_stressbeat"),
            out.display()
        ))
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&st.stderr).contains("cut.bin"));
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every frame lost: the summary says the ECG is missing, not "0.0 s".
#[test]
fn a_capture_that_lost_every_frame_reports_its_ecg_missing() {
    let out = stressbeat()
        .args([
            "simulate",
            "--minutes",
            "1",
            "--faults",
            "loss=100%",
            "--quiet",
            "--out",
        ])
        .arg(tmp("all-lost.bin"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let missing: f64 = text
        .lines()
        .next()
        .unwrap_or_default()
        .split(", ")
        .find_map(|part| part.strip_suffix(" s of ECG missing"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(missing > 50.0, "{text}");
}
