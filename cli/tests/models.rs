//! `stressbeat beats`, `stress` and `bench-model` on real recordings: JSON shapes, sample and time
//! frames, classes against MIT-BIH reference labels.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may unwrap and panic

use std::{path::PathBuf, process::Command};

use stressbeat_e2e::dataset;

use serde_json::Value;
use stressbeat_core::{
    io::{LoadOptions, load_recording},
    model_input::{
        beat::{AamiClass, aami_class},
        passes_through,
    },
};

fn stressbeat() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stressbeat"))
}

fn run_json(args: &[&str]) -> Value {
    let out = stressbeat().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON on stdout")
}

fn model(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../models")
        .join(name)
}

/// Record 119 (MIT-BIH DS1, frequent ventricular bigeminy). DS1 is the beat model's training set,
/// so this checks the pipeline (sampling frames, beat alignment, labels), not generalisation.
#[test]
fn beats_finds_v_where_the_reference_says_v() {
    let Some(hea) = dataset("mitdb").map(|d| d.join("119.hea")) else {
        return;
    };
    let (from_s, to_s) = (60.0, 660.0);
    let v = run_json(&[
        "beats",
        hea.to_str().unwrap(),
        "--from",
        "60",
        "--to",
        "660",
        "--json",
    ]);
    let fs = v["sampling_rate_hz"].as_f64().unwrap();
    assert_eq!(fs, 360.0);
    let beats: Vec<(i64, String, f64)> = v["beats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            assert_eq!(b.as_object().unwrap().len(), 3, "{b}");
            (
                b["sample"].as_i64().unwrap(),
                b["class"].as_str().unwrap().to_owned(),
                b["confidence"].as_f64().unwrap(),
            )
        })
        .collect();
    for (s, class, c) in &beats {
        assert!((from_s * fs) as i64 <= *s && *s < (to_s * fs) as i64, "{s}");
        assert!(["N", "S", "V", "F", "Q"].contains(&class.as_str()));
        assert!((0.2..=1.0).contains(c), "{c}");
    }
    let rec = load_recording(&hea, &LoadOptions::default()).unwrap();
    let reference: Vec<(i64, AamiClass)> = rec
        .annotations
        .iter()
        .filter(|a| (from_s * fs) as i64 + 100 <= a.sample && a.sample < (to_s * fs) as i64 - 100)
        .filter_map(|a| aami_class(&a.symbol).map(|c| (a.sample, c)))
        .collect();
    let tolerance = (0.15 * fs) as i64;
    let nearest = |s: i64| {
        beats
            .iter()
            .min_by_key(|b| (b.0 - s).abs())
            .filter(|b| (b.0 - s).abs() <= tolerance)
    };
    let matched = reference.iter().filter(|r| nearest(r.0).is_some()).count();
    let ref_v: Vec<i64> = reference
        .iter()
        .filter(|r| r.1 == AamiClass::V)
        .map(|r| r.0)
        .collect();
    let v_found = ref_v
        .iter()
        .filter(|&&s| nearest(s).is_some_and(|b| b.1 == "V"))
        .count();
    let called_v: Vec<i64> = beats.iter().filter(|b| b.1 == "V").map(|b| b.0).collect();
    let v_right = called_v
        .iter()
        .filter(|&&s| ref_v.iter().any(|r| (r - s).abs() <= tolerance))
        .count();
    let se = v_found as f64 / ref_v.len() as f64;
    let ppv = v_right as f64 / called_v.len() as f64;
    eprintln!(
        "119 [{from_s}, {to_s}) s: {} reference beats, {matched} matched; V: {} reference, Se {se:.3}, \
         {} called, +P {ppv:.3}",
        reference.len(),
        ref_v.len(),
        called_v.len()
    );
    assert!(ref_v.len() > 100, "{}", ref_v.len());
    assert!(matched as f64 >= 0.98 * reference.len() as f64);
    assert!(se >= 0.95, "V sensitivity {se}");
    assert!(ppv >= 0.95, "V positive predictivity {ppv}");
}

/// `beats` on a noise-only record (NSTDB `bw`, electrodes placed where the ECG is not visible)
/// says its beats are unreliable; on a clean record it does not. Its channels are labelled
/// `noise1` and `noise2`: only a channel named with `--channel` is analysed.
#[test]
fn beats_warn_when_little_signal_is_usable() {
    let (Some(nstdb), Some(mitdb)) = (dataset("nstdb"), dataset("mitdb")) else {
        return;
    };
    let bw = nstdb.join("bw.hea");
    let refused = stressbeat()
        .args(["beats", bw.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no ECG channel"), "{stderr}");
    let run = |path: PathBuf, extra: &[&str]| {
        let out = stressbeat()
            .args(["beats", path.to_str().unwrap(), "--json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success());
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let usable = v["usable_fraction"].as_f64().unwrap();
        (usable, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (usable, stderr) = run(bw, &["--channel", "0"]);
    assert!(usable < 0.5, "{usable}");
    assert!(stderr.contains("unreliable"), "{stderr}");
    let (usable, stderr) = run(mitdb.join("101.hea"), &[]);
    assert!(usable > 0.9, "{usable}");
    assert!(!stderr.contains("unreliable"), "{stderr}");
}

/// `beats` and `peaks` name the same beat by the same sample (the recording's own sampling).
#[test]
fn beats_and_peaks_agree_on_every_beats_sample() {
    let Some(hea) = dataset("mitdb").map(|d| d.join("119.hea")) else {
        return;
    };
    let span = ["--from", "60", "--to", "360", "--json"];
    let path = hea.to_str().unwrap();
    let beats = run_json(&[&["beats", path][..], &span[..]].concat());
    let peaks = run_json(&[&["peaks", path][..], &span[..]].concat());
    let peaks: std::collections::HashSet<i64> = peaks["peaks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_i64().unwrap())
        .collect();
    let beats = beats["beats"].as_array().unwrap();
    assert!(beats.len() > 300, "{}", beats.len());
    let off: Vec<i64> = beats
        .iter()
        .map(|b| b["sample"].as_i64().unwrap())
        .filter(|s| !peaks.contains(s))
        .collect();
    assert!(off.is_empty(), "beats not at a `peaks` sample: {off:?}");
}

fn assert_window_shape(w: &Value) {
    let o = w.as_object().unwrap();
    let p = &w["stress_probability"];
    if p.is_null() {
        assert!(w["stressed"].is_null(), "{w}");
        assert!(w["note"].as_str().is_some_and(|n| !n.is_empty()), "{w}");
        assert_eq!(o.len(), 5, "{w}");
    } else {
        let p = p.as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p), "{w}");
        assert_eq!(w["stressed"].as_bool().unwrap(), p >= 0.5, "{w}");
        assert_eq!(o.len(), 4, "{w}");
    }
}

/// EEGMAT subject 3: the rest recording as the personal baseline, then the arithmetic task.
#[test]
fn stress_json_schema_and_times_relative_to_the_file() {
    let Some(dir) = dataset("eegmat") else {
        return;
    };
    let task = dir.join("Subject03_2.edf");
    let rest = dir.join("Subject03_1.edf");
    let v = run_json(&[
        "stress",
        task.to_str().unwrap(),
        "--from",
        "10",
        "--baseline",
        rest.to_str().unwrap(),
        "--baseline-to",
        "60",
        "--json",
    ]);
    assert_eq!(v.as_object().unwrap().len(), 4);
    assert!(v["note"].as_str().unwrap().contains("not a medical device"));
    // the baseline's 7 windows of the first 60 s are all clean (two S beats in 60 s, at most
    // 7 % of a window's beats)
    let b = &v["baseline"];
    let count = |k: &str| b[k].as_u64().unwrap();
    let counts = ["windows", "admitted", "poor_signal", "irregular_rhythm"].map(count);
    assert_eq!(counts, [7, 7, 0, 0], "{b}");
    let windows = v["windows"].as_array().unwrap();
    assert!(!windows.is_empty());
    for (i, w) in windows.iter().enumerate() {
        assert_window_shape(w);
        let (start, end) = (w["start_s"].as_f64().unwrap(), w["end_s"].as_f64().unwrap());
        // relative to the file, not to --from
        assert!((start - (10.0 + 5.0 * i as f64)).abs() < 1e-6, "{start}");
        assert!((end - start - 30.0).abs() < 1e-6);
    }
    let scored: Vec<f64> = windows
        .iter()
        .filter_map(|w| w["stress_probability"].as_f64())
        .collect();
    assert!(!scored.is_empty());
    let mean = scored.iter().sum::<f64>() / scored.len() as f64;
    let s = &v["summary"];
    assert!((s["stress_probability"].as_f64().unwrap() - mean).abs() < 1e-5);
    assert!(2 * scored.len() >= windows.len(), "{s}");
    assert_eq!(s["stressed"].as_bool().unwrap(), mean >= 0.5);
}

/// A Polar H10 capture (≈ 130.05 Hz) is taken at its own rate, not resampled: its windows' times
/// are the times of their samples in the file (at 130 a second they drifted 1.4 s an hour, so
/// the window said to start at 3000 s without `--from` was not the one `--from 3000` gives).
#[test]
fn stress_times_of_a_signal_taken_at_its_own_rate_follow_its_rate() {
    let Some(bin) =
        dataset("polar_h10").map(|d| d.join("pmd_capture/hr_data_2023-01-13_11-40-07.bin"))
    else {
        return;
    };
    let path = bin.to_str().unwrap();
    let peaks = run_json(&["peaks", path, "--to", "10", "--json"]);
    let fs = peaks["sampling_rate_hz"].as_f64().unwrap();
    assert!(passes_through(fs) && (fs - 130.0).abs() > 0.02, "{fs} Hz");
    let starts = |from: &str| -> Vec<f64> {
        let v = run_json(&["stress", path, "--from", from, "--to", "3100", "--json"]);
        v["windows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["start_s"].as_f64().unwrap())
            .collect()
    };
    let whole = starts("0");
    // a window steps 650 samples (5 s at 130 Hz), i.e. 650 / fs s of the file
    for (i, &s) in whole.iter().enumerate() {
        assert!(
            (s - i as f64 * 650.0 / fs).abs() < 1e-6,
            "window {i}: {s} s"
        );
    }
    let from = starts("3000");
    let first = (3000.0 * fs).round() / fs;
    assert!((from[0] - first).abs() < 1e-9, "{}", from[0]);
    assert!((from[1] - first - 650.0 / fs).abs() < 1e-6, "{}", from[1]);
}

/// A calm recording full of PVCs (the Polar H10 capture with a quarter of its beats V) gives no
/// baseline, as the app's calibration would refuse it: a clear error, not a skewed baseline.
#[test]
fn stress_refuses_a_baseline_whose_windows_are_all_ectopic() {
    let Some(csv) = dataset("polar_h10").map(|d| d.join("detectpvc/polar_h10.csv")) else {
        return;
    };
    let path = csv.to_str().unwrap();
    let out = stressbeat()
        .args(["stress", path, "--baseline", path, "--json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    // every window left out, all of them for an irregular rhythm
    let counts = err
        .split_once("no 30 s window fit for a baseline (")
        .map(|(_, rest)| {
            rest.split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .map(|n| n.parse::<u32>().unwrap())
                .take(3)
                .collect::<Vec<_>>()
        });
    let Some([windows, poor, irregular]) = counts.as_deref() else {
        panic!("{err}")
    };
    assert!(
        *windows > 100 && *poor == 0 && irregular == windows,
        "{err}"
    );
}

/// The monitor's rhythm gate applies to `stress` too: windows wholly inside atrial fibrillation
/// (MIT-BIH 201) and the PVC-heavy Polar H10 capture get no score, with the reason; a healthy
/// recording keeps its scores.
#[test]
fn stress_gives_no_score_to_an_irregular_rhythm() {
    let (Some(mitdb), Some(h10), Some(eegmat)) =
        (dataset("mitdb"), dataset("polar_h10"), dataset("eegmat"))
    else {
        return;
    };
    let calm = run_json(&[
        "stress",
        eegmat.join("Subject03_1.edf").to_str().unwrap(),
        "--json",
    ]);
    let calm = calm["windows"].as_array().unwrap();
    assert!(calm.len() > 5);
    assert!(
        calm.iter().all(|w| !w["stress_probability"].is_null()),
        "{calm:?}"
    );
    let rec = load_recording(&mitdb.join("201.hea"), &LoadOptions::default()).unwrap();
    let af = stressbeat_e2e::af_spans(&rec);
    let v = run_json(&["stress", mitdb.join("201.hea").to_str().unwrap(), "--json"]);
    let windows = v["windows"].as_array().unwrap();
    let inside_af: Vec<&Value> = windows
        .iter()
        .filter(|w| {
            let (a, b) = (w["start_s"].as_f64().unwrap(), w["end_s"].as_f64().unwrap());
            af.iter().any(|&(s, e)| a >= s && b <= e)
        })
        .collect();
    let rhythm_note = |w: &Value| {
        w["stress_probability"].is_null()
            && w["stressed"].is_null()
            && w["note"]
                .as_str()
                .is_some_and(|n| n.contains("too irregular"))
    };
    let gated = inside_af.iter().filter(|w| rhythm_note(w)).count();
    assert!(inside_af.len() > 50, "{} windows in AF", inside_af.len());
    assert!(
        gated * 100 >= inside_af.len() * 95,
        "{gated} of {} AF windows gated",
        inside_af.len()
    );

    let pvc = run_json(&[
        "stress",
        h10.join("detectpvc/polar_h10.csv").to_str().unwrap(),
        "--json",
    ]);
    let s = &pvc["summary"];
    assert!(
        s["stress_probability"].is_null() && s["stressed"].is_null(),
        "{s}"
    );
    assert!(s["note"].as_str().unwrap().contains("irregular"), "{s}");
    let windows = pvc["windows"].as_array().unwrap();
    assert!(windows.len() > 100);
    assert!(
        windows.iter().all(|w| w["stress_probability"].is_null()
            && w["note"].as_str().is_some_and(|n| n.contains("irregular"))),
        "{s}"
    );
}

#[test]
fn stress_says_when_a_window_cannot_be_scored() {
    let Some(dir) = dataset("eegmat") else {
        return;
    };
    // subject 1's task recording: most of its ECG is unusable (noise)
    let v = run_json(&[
        "stress",
        dir.join("Subject01_2.edf").to_str().unwrap(),
        "--json",
    ]);
    let windows = v["windows"].as_array().unwrap();
    windows.iter().for_each(assert_window_shape);
    assert!(windows.iter().any(|w| w["stress_probability"].is_null()));
    let scored = windows
        .iter()
        .filter(|w| !w["stress_probability"].is_null())
        .count();
    let s = &v["summary"];
    assert_eq!(s["scored_windows"].as_u64(), Some(scored as u64), "{s}");
    assert_eq!(s["windows"].as_u64(), Some(windows.len() as u64), "{s}");
    // a verdict only from at least half of the windows
    assert_eq!(s["stressed"].is_null(), 2 * scored < windows.len(), "{s}");
    assert_eq!(s["stress_probability"].is_null(), scored == 0, "{s}");
    if s["stressed"].is_null() {
        assert!(s["note"].is_string(), "{s}");
    }
}

#[test]
fn stress_table_ends_with_not_a_medical_device() {
    let Some(dir) = dataset("eegmat") else {
        return;
    };
    let out = stressbeat()
        .args(["stress", dir.join("Subject03_2.edf").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let last = text.lines().last().unwrap().to_lowercase();
    assert!(last.contains("not a medical device"), "{text}");
}

#[test]
fn a_damaged_model_file_is_refused_with_its_reason() {
    let Some(hea) = dataset("mitdb").map(|d| d.join("119.hea")) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("stressbeat-cli-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut onnx = std::fs::read(model("beat-type.onnx")).unwrap();
    let at = onnx.len() / 2;
    onnx[at] ^= 0x10;
    std::fs::write(dir.join("m.onnx"), &onnx).unwrap();
    std::fs::copy(model("beat-type.json"), dir.join("m.json")).unwrap();
    let out = stressbeat()
        .args(["beats", hea.to_str().unwrap(), "--to", "30", "--model"])
        .arg(dir.join("m.onnx"))
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sha256") || err.contains("corrupt"), "{err}");
}

#[test]
fn bench_model_reports_latency_with_and_without_metadata() {
    let v = run_json(&[
        "bench-model",
        model("beat-type.onnx").to_str().unwrap(),
        "--batch",
        "4",
        "--iterations",
        "5",
        "--json",
    ]);
    assert_eq!(v["metadata_checked"], true);
    assert_eq!(v["batch"], 4);
    assert_eq!(v["threads"], 1);
    let median = v["median_us_per_inference"].as_f64().unwrap();
    assert!(median > 0.0 && median <= v["p95_us_per_inference"].as_f64().unwrap());
    assert!(
        (v["median_us_per_batch"].as_f64().unwrap() - 4.0 * median).abs()
            < 1e-6 * median.max(1.0) * 4.0
    );
    // a raw variant without its .json: shapes from the graph
    let dir = std::env::temp_dir().join(format!("stressbeat-bench-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(model("stress.onnx"), dir.join("variant.onnx")).unwrap();
    let v = run_json(&[
        "bench-model",
        dir.join("variant.onnx").to_str().unwrap(),
        "--iterations",
        "3",
        "--json",
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(v["metadata_checked"], false);
    let inputs = v["inputs"].as_array().unwrap();
    // the graph's own inputs are the ones its metadata declares
    let meta: Value =
        serde_json::from_slice(&std::fs::read(model("stress.json")).unwrap()).unwrap();
    let declared = meta["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), declared.len());
    for (found, expected) in inputs.iter().zip(declared) {
        assert_eq!(found["name"], expected["name"]);
        assert_eq!(found["shape"][0], -1);
    }
}

/// An EEGMAT subject's R-peaks (our detector, at the recording's own rate) written as an RR log
/// (`time_s,rr_ms`, one row per beat at its time), as a heart-rate-only strap's app would log it.
fn rr_log_of(edf: &std::path::Path, out: &std::path::Path) {
    use stressbeat_core::analysis::{AnalysisOptions, detect_peaks, select_span};
    let rec = load_recording(edf, &LoadOptions::default()).unwrap();
    let span = select_span(&rec, &AnalysisOptions::default()).unwrap();
    let fs = span.sampling_rate_hz;
    let mut csv = String::from("time_s,rr_ms\n");
    for w in detect_peaks(&span).unwrap().windows(2) {
        let rr = (w[1] - w[0]) as f64 / fs * 1000.0;
        csv.push_str(&format!("{:.3},{rr:.0}\n", w[1] as f64 / fs));
    }
    std::fs::write(out, csv).unwrap();
}

/// `hrv` and `stress` read an RR log (a strap without ECG) and agree with the same recordings'
/// ECG: EEGMAT subject 03 (rest and task), the task scored against the first 60 s of rest.
#[test]
fn hrv_and_stress_of_an_rr_log_agree_with_the_ecg_they_came_from() {
    let Some(dir) = dataset("eegmat") else {
        return;
    };
    let tmp = std::env::temp_dir().join(format!("stressbeat-cli-rr-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let (rest, task) = (dir.join("Subject03_1.edf"), dir.join("Subject03_2.edf"));
    let (rest_rr, task_rr) = (tmp.join("rest_rr.csv"), tmp.join("task_rr.csv"));
    rr_log_of(&rest, &rest_rr);
    rr_log_of(&task, &task_rr);
    let p = |p: &std::path::Path| p.to_str().unwrap().to_owned();

    let ecg = run_json(&["hrv", &p(&rest), "--json"]);
    let rr = run_json(&["hrv", &p(&rest_rr), "--json"]);
    assert_eq!(rr["channel_label"], "RR intervals");
    // the log has the ECG's intervals: those it kept and those it left out (4 beats typed S or
    // V, one outlier); the log, without beat types, corrects 5 of them instead
    let left_out = &ecg["hrv"]["left_out"];
    let ecg_intervals = ["not_normal", "artefacts", "outliers"]
        .iter()
        .map(|k| left_out[k].as_u64().unwrap())
        .sum::<u64>()
        + ecg["hrv"]["n_intervals"].as_u64().unwrap();
    assert_eq!(ecg_intervals, rr["beat_count"].as_u64().unwrap(), "{ecg}");
    // so HRV agrees as far as the two ways of handling those intervals allow (measured: mean
    // HR 62.4 / 62.6 bpm, SDNN 60.1 / 66.9 ms, RMSSD 81.3 / 86.3 ms)
    for (k, tolerance) in [("mean_hr_bpm", 0.02), ("sdnn_ms", 0.15), ("rmssd_ms", 0.1)] {
        let (a, b) = (
            ecg["hrv"][k].as_f64().unwrap(),
            rr["hrv"][k].as_f64().unwrap(),
        );
        assert!(
            (a - b).abs() <= tolerance * a.abs() + 0.5,
            "{k}: ECG {a}, RR log {b}"
        );
    }
    assert!(rr["usable_fraction"].as_f64().unwrap() > 0.9, "{rr}");

    let stress = |task: &str, rest: &str| {
        run_json(&[
            "stress",
            task,
            "--baseline",
            rest,
            "--baseline-to",
            "60",
            "--json",
        ])
    };
    let ecg = stress(&p(&task), &p(&rest));
    let rr = stress(&p(&task_rr), &p(&rest_rr));
    std::fs::remove_dir_all(&tmp).ok();
    let admitted = |v: &Value| v["baseline"]["admitted"].as_u64().unwrap();
    assert!(
        admitted(&rr) >= 6 && admitted(&ecg) == 7,
        "{} / {}",
        rr["baseline"],
        ecg["baseline"]
    );
    let summary = |v: &Value| {
        (
            v["summary"]["stress_probability"].as_f64().unwrap(),
            v["summary"]["stressed"].as_bool(),
        )
    };
    let ((pe, se), (pr, sr)) = (summary(&ecg), summary(&rr));
    eprintln!("Subject03 task: ECG {pe:.3} {se:?}, RR log {pr:.3} {sr:?}");
    assert_eq!(se, sr);
    assert!((pe - pr).abs() < 0.1, "ECG {pe}, RR log {pr}");
    for w in rr["windows"].as_array().unwrap() {
        assert_window_shape(w);
    }
}
