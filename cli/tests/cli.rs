//! The `stressbeat` binary as a user runs it: JSON shapes, exit codes, help.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may unwrap and panic

use std::{path::PathBuf, process::Command};

use stressbeat_e2e::dataset;

fn stressbeat() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stressbeat"))
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON on stdout")
}

/// The items of JSON array `v`, each read by `read` (a test fails on anything else).
fn items<T>(v: &serde_json::Value, read: impl Fn(&serde_json::Value) -> Option<T>) -> Vec<T> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| read(x).expect("an item of the expected type"))
        .collect()
}

#[test]
fn peaks_json_shape_and_range() {
    let Some(hea) = dataset("mitdb").map(|d| d.join("101.hea")) else {
        return;
    };
    let out = stressbeat()
        .args([
            "peaks",
            hea.to_str().unwrap(),
            "--from",
            "60",
            "--to",
            "120",
            "--json",
        ])
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(v["sampling_rate_hz"], 360.0);
    let peaks = items(&v["peaks"], serde_json::Value::as_u64);
    // record indices, not span-relative: all inside [60 s, 120 s) at 360 Hz
    assert!(
        peaks.iter().all(|&p| (21_600..43_200).contains(&p)),
        "{peaks:?}"
    );
    // 101 runs at ~60-80 bpm: 60-80 beats per minute
    assert!((55..=85).contains(&peaks.len()), "{} peaks", peaks.len());
    assert!(peaks.windows(2).all(|w| w[0] < w[1]));
    // their times, refined between samples: within 1.5 samples of each peak, not all on one
    let times = items(&v["times_s"], serde_json::Value::as_f64);
    assert_eq!(times.len(), peaks.len());
    let offsets: Vec<f64> = times
        .iter()
        .zip(&peaks)
        .map(|(t, &p)| t * 360.0 - p as f64)
        .collect();
    assert!(offsets.iter().all(|o| o.abs() <= 1.5 + 1e-6), "{offsets:?}");
    assert!(offsets.iter().any(|o| o.abs() > 0.01), "{offsets:?}");
}

#[test]
fn hrv_json_has_metrics_and_quality() {
    let Some(edf) = dataset("eegmat").map(|d| d.join("Subject01_1.edf")) else {
        return;
    };
    let out = stressbeat()
        .args(["hrv", edf.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let v = json(&out);
    let hr = v["hrv"]["mean_hr_bpm"].as_f64().unwrap();
    assert!((40.0..120.0).contains(&hr), "mean HR {hr}");
    let q = v["usable_fraction"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&q));
    assert!(v["hrv"]["rmssd_ms"].as_f64().unwrap() > 0.0);
}

/// HRV is of the normal-to-normal intervals: the Polar H10 capture with frequent PVCs leaves out
/// the intervals beside them and says how many, in the table and the JSON (before, with all
/// intervals corrected: RMSSD 408 ms, 11.6 % corrected, an irregular rhythm); so does a 30 s span
/// of its trigeminy, whose 22 NN intervals are also too few (before: RMSSD 324 ms). A healthy
/// person's rest recording gets no warning.
#[test]
fn hrv_leaves_out_the_intervals_beside_ectopic_beats_and_says_so() {
    let Some(data) = dataset("polar_h10").zip(dataset("eegmat")) else {
        return;
    };
    let run = |path: &PathBuf, args: &[&str]| {
        let out = stressbeat()
            .args(["hrv", path.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let json = |path: &PathBuf, args: &[&str]| -> serde_json::Value {
        serde_json::from_str(&run(path, &[args, &["--json"]].concat())).unwrap()
    };
    let warnings = |v: &serde_json::Value| items(&v["warnings"], |w| w.as_str().map(str::to_owned));
    let pvcs = data.0.join("detectpvc/polar_h10.csv");
    let text = run(&pvcs, &[]);
    assert!(text.contains("NN intervals (normal-to-normal)"), "{text}");
    assert!(
        text.contains("Warning: 61.8 % of the RR intervals were left out"),
        "{text}"
    );
    let v = json(&pvcs, &[]);
    assert_eq!(warnings(&v).len(), 1, "{v}");
    let left_out = &v["hrv"]["left_out"];
    assert!(left_out["not_normal"].as_u64().unwrap() > 400, "{left_out}");
    let rmssd = v["hrv"]["rmssd_ms"].as_f64().unwrap();
    assert!((10.0..40.0).contains(&rmssd), "RMSSD {rmssd}");
    let trigeminy = json(&pvcs, &["--from", "169.8", "--to", "199.8"]);
    let trigeminy = warnings(&trigeminy);
    assert_eq!(trigeminy.len(), 2, "{trigeminy:?}");
    assert!(trigeminy[0].contains("only 22 RR intervals"));
    assert!(trigeminy[1].contains("were left out"));
    let rest = data.1.join("Subject01_1.edf");
    assert!(!run(&rest, &[]).contains("Warning"));
    assert!(warnings(&json(&rest, &[])).is_empty());
}

#[test]
fn eval_peaks_json_totals() {
    let Some(dir) = dataset("nstdb") else { return };
    let out = stressbeat()
        .args(["eval-peaks", dir.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let v = json(&out);
    let records = v["records"].as_array().unwrap();
    assert_eq!(records.len(), 3, "118e00, 118e12, 118e24 are annotated");
    assert!(v["total"]["true_positives"].as_u64().unwrap() > 5000);
    assert_eq!(v["resampled_to_130_hz"], false);
    assert!(v["total"]["rr_errors_over_20_ms"].as_u64().is_some());
    // at a strap's rate the same beats are found, at the records' own 360 Hz positions
    let out = stressbeat()
        .args([
            "eval-peaks",
            dir.to_str().unwrap(),
            "--strap-rate",
            "--json",
        ])
        .output()
        .unwrap();
    let strap = json(&out);
    assert_eq!(strap["resampled_to_130_hz"], true);
    let se = |v: &serde_json::Value| v["total"]["sensitivity"].as_f64().unwrap();
    assert!(
        se(&strap) > 0.97 && (se(&strap) - se(&v)).abs() < 0.01,
        "{strap}"
    );
    let median = strap["total"]["median_error_ms"].as_f64().unwrap();
    assert!(median < 8.0, "one sample at 130 Hz is 7.7 ms: {median}");
}

#[test]
fn missing_file_is_a_clear_error_not_a_panic() {
    let out = stressbeat()
        .args(["peaks", "/nonexistent/rec.hea"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/rec.hea"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn help_everywhere() {
    for sub in [
        &["--help"][..],
        &["peaks", "--help"],
        &["hrv", "--help"],
        &["eval-peaks", "--help"],
    ] {
        let out = stressbeat().args(sub).output().unwrap();
        assert!(out.status.success(), "{sub:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{sub:?}"
        );
    }
}

#[test]
fn closed_stdout_ends_quietly_like_sigpipe() {
    let Some(hea) = dataset("mitdb").map(|d| d.join("101.hea")) else {
        return;
    };
    let mut child = stressbeat()
        .args(["peaks", hea.to_str().unwrap(), "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // `stressbeat peaks … | head -c0`: the reader goes away before anything is written.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(141), "{err}");
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `--fs`/`--unit` on a WFDB record: a warning each, and the record's own rate is used.
#[test]
fn csv_only_options_warn_for_other_formats() {
    let Some(hea) = dataset("mitdb").map(|d| d.join("101.hea")) else {
        return;
    };
    let out = stressbeat()
        .args(["peaks", hea.to_str().unwrap(), "--to", "10", "--json"])
        .args(["--fs", "130", "--unit", "mV"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(json(&out)["sampling_rate_hz"], 360.0);
    for flag in ["--fs", "--unit"] {
        assert!(
            err.contains(&format!(
                "stressbeat: warning: {flag} applies to CSV files only; ignored for 101.hea"
            )),
            "{err}"
        );
    }
}

#[test]
fn a_directory_or_a_dat_without_its_header_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let out = stressbeat().arg("peaks").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("is a directory"),
        "{}",
        stderr_of(&out)
    );
    let dat = dir.path().join("only.dat");
    std::fs::write(&dat, [0u8; 360]).unwrap();
    let out = stressbeat().arg("peaks").arg(&dat).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("needs its .hea header beside it") && !err.contains("No such file"),
        "{err}"
    );
}

/// One record with a corrupt .atr is skipped with its reason; the others are scored.
#[test]
fn eval_peaks_skips_a_bad_record_and_goes_on() {
    let Some(mitdb) = dataset("mitdb") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for record in ["101", "102"] {
        for ext in ["hea", "dat", "atr"] {
            let name = format!("{record}.{ext}");
            std::fs::copy(mitdb.join(&name), dir.path().join(&name)).unwrap();
        }
    }
    std::fs::write(dir.path().join("102.atr"), [1u8, 2, 3]).unwrap();
    let run = || {
        stressbeat()
            .arg("eval-peaks")
            .arg(dir.path())
            .arg("--json")
            .output()
            .unwrap()
    };
    let out = run();
    let err = stderr_of(&out);
    assert!(err.contains("warning: skipped record 102"), "{err}");
    let v = json(&out);
    assert_eq!(v["records"].as_array().unwrap().len(), 1);
    assert_eq!(v["records"][0]["record"], "101");
    assert_eq!(v["skipped"][0]["record"], "102");
    assert!(
        v["skipped"][0]["error"]
            .as_str()
            .unwrap()
            .contains("102.atr"),
        "{v}"
    );
    // nothing left to evaluate: an error
    std::fs::write(dir.path().join("101.atr"), [1u8, 2, 3]).unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("none of its 2 annotated records"));
}

/// A signal without a usable window: 0 %, never "-0 %" or -0.0.
#[test]
fn hrv_prints_no_negative_zero() {
    let Some(csv) = dataset("kaggle_heartbeat_samples")
        .map(|d| d.join("ECGInterpolation_mitbih_test_rows1-999.csv"))
    else {
        return;
    };
    let run = |json: bool| {
        let mut cmd = stressbeat();
        cmd.arg("hrv").arg(&csv).args(["--fs", "125"]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run(false);
    assert!(
        text.contains(" 0 % of the signal") && !text.contains("-0"),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(&run(true)).unwrap();
    let usable = v["usable_fraction"].as_f64().unwrap();
    assert!(usable == 0.0 && usable.is_sign_positive(), "{usable}");
}

#[test]
fn an_absurd_sampling_rate_is_refused_in_a_few_characters() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("x.csv");
    std::fs::write(&csv, "ecg_uv\n1\n2\n3\n").unwrap();
    let out = stressbeat()
        .arg("peaks")
        .arg(&csv)
        .args(["--fs", "1e300"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("1e300 is outside 50–5000 Hz") && err.len() < 200,
        "{err}"
    );
}

/// A CSV's signal columns are channels: the ECG one by default, another with `--channel`.
#[test]
fn csv_columns_are_channels() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two_leads.csv");
    // 30 s at 250 Hz: column a beats every 0.8 s, column b every 1.0 s (Gaussian R waves, mV)
    let beat = |t: f64, rr: f64| {
        let d = (t % rr) - rr / 2.0;
        1.2 * (-0.5 * (d / 0.012).powi(2)).exp()
    };
    let mut text = String::from("time_s,a,b\n");
    for n in 0..7500 {
        let t = n as f64 / 250.0;
        text.push_str(&format!("{t:.3},{:.4},{:.4}\n", beat(t, 0.8), beat(t, 1.0)));
    }
    std::fs::write(&path, text).unwrap();
    let peaks = |args: &[&str]| -> usize {
        let out = stressbeat()
            .arg("peaks")
            .arg(&path)
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        json(&out)["peaks"].as_array().unwrap().len()
    };
    let (default, a, b) = (
        peaks(&[]),
        peaks(&["--channel", "0"]),
        peaks(&["--channel", "1"]),
    );
    assert_eq!(default, b, "the last numeric column is the ECG one");
    assert!((29..=31).contains(&b) && (36..=38).contains(&a), "{a} {b}");
    let out = stressbeat()
        .args(["peaks", path.to_str().unwrap(), "--channel", "2"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(err.contains("2 channels, 0 to 1"), "{err}");
}
