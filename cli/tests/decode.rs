//! `stressbeat decode`: JSON shapes, human output and errors for BLE values given in hex.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

fn decode(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stressbeat"))
        .arg("decode")
        .args(args)
        .output()
        .unwrap()
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = decode(args);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON on stdout")
}

fn fails(args: &[&str], needle: &str) {
    let out = decode(args);
    let code = out.status.code().unwrap();
    assert!(code == 1 || code == 2, "exit {code}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(needle), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn hrm_json_worked_example() {
    let v = json(&["hrm", "10 3C 37 04 07 03", "--json"]);
    assert_eq!(v["bpm"], 60);
    assert_eq!(v["contact"], serde_json::Value::Null);
    assert_eq!(v["energy_kj"], serde_json::Value::Null);
    let rr: Vec<f64> = v["rr_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(rr.len(), 2);
    assert!(
        (rr[0] - 1053.7).abs() < 0.05 && (rr[1] - 756.8).abs() < 0.05,
        "{rr:?}"
    );
    // colons, lower case, separate arguments
    assert_eq!(json(&["hrm", "10:3c:37:04:07:03", "--json"]), v);
    assert_eq!(
        json(&["hrm", "--json", "10", "3c", "37", "04", "07", "03"]),
        v
    );
    // u16 HR, contact detected, energy
    let v = json(&["hrm", "0F2C010201", "--json"]);
    assert_eq!(
        (
            v["bpm"].as_u64(),
            v["contact"].as_bool(),
            v["energy_kj"].as_u64()
        ),
        (Some(300), Some(true), Some(258))
    );
    assert_eq!(json(&["hrm", "04 46", "--json"])["contact"], false);
}

#[test]
fn hrm_human() {
    let out = decode(&["hrm", "10 3C 37 04 07 03"]);
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("heart rate: 60 bpm"), "{s}");
    assert!(s.contains("1053.7 ms") && s.contains("756.8 ms"), "{s}");
    assert!(s.contains("not a medical device"), "{s}");
}

#[test]
fn pmd_ecg_and_acc_json() {
    let v = json(&[
        "pmd",
        "00 E8 03 00 00 00 00 00 00 00 02 80 FF 10 00 00",
        "--json",
    ]);
    assert_eq!(v["measurement"], "ecg");
    assert_eq!(v["timestamp_ns"], 1000);
    assert_eq!(v["frame_type"], 0);
    assert_eq!(v["samples_uv"], serde_json::json!([-32766, 16]));
    // the delta-compressed ACC example of ../shared/docs/protocols.md
    let v = json(&[
        "pmd",
        "02 07 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 01 7B 0F 08",
        "--json",
    ]);
    assert_eq!(v["measurement"], "acc");
    assert_eq!(v["frame_type"], 1);
    assert_eq!(
        v["samples_mg"],
        serde_json::json!([[-15, 20, 1008], [-20, 17, 1008]])
    );
    let out = decode(&["pmd", "00 E8 03 00 00 00 00 00 00 00 02 80 FF"]);
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(
        s.contains("ECG frame type 0, 1 samples (µV)") && s.contains("-32766"),
        "{s}"
    );
}

#[test]
fn pmd_control_point_json() {
    let v = json(&["pmd", "F0 01 00 00 00 00 01 82 00 01 01 0E 00", "--json"]);
    assert_eq!(v["message"], "response");
    assert_eq!(v["status"], "Success");
    assert_eq!(v["measurement"], "ecg");
    assert_eq!(v["settings"]["sample_rates_hz"], serde_json::json!([130]));
    assert_eq!(v["settings"]["resolutions_bits"], serde_json::json!([14]));
    let v = json(&["pmd", "F0 02 00 0A 00", "--json"]);
    assert_eq!(
        (v["status"].as_str(), v["status_code"].as_u64()),
        (Some("InvalidMtu"), Some(10))
    );
    let v = json(&["pmd", "0F 05 00", "--json"]);
    assert_eq!(v["measurements"], serde_json::json!(["ecg", "acc"]));
}

#[test]
fn malformed_input_is_a_clear_error() {
    fails(&["hrm", "zz"], "invalid hex");
    fails(&["hrm", "1"], "odd number of digits");
    fails(&["hrm", ""], "no bytes");
    fails(&["hrm", "10 3C 37"], "byte 2: truncated");
    fails(
        &["pmd", "00 01 02"],
        "invalid PMD data frame: byte 1: truncated",
    );
    fails(
        &["pmd", "00 00 00 00 00 00 00 00 00 01 00 00 00"],
        "unsupported ECG frame type 1",
    );
    fails(
        &["pmd", "07 00 00 00 00 00 00 00 00 00 00"],
        "unknown PMD measurement type 7",
    );
    fails(&["pmd", "F0 01"], "invalid PMD control-point value");
}

/// Options that would decode nonsense (a NaN or huge factor, a resolution outside 1-32 bits)
/// are refused, not silently ignored or clamped.
#[test]
fn pmd_options_out_of_range_are_refused() {
    for (option, value) in [
        ("--factor", "nan"),
        ("--factor", "inf"),
        ("--factor", "1e30"),
        ("--factor", "0"),
        ("--resolution", "0"),
        ("--resolution", "33"),
    ] {
        fails(
            &["pmd", "000000000000000000000280ff", option, value],
            option,
        );
    }
}
