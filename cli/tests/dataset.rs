//! `stressbeat dataset beats` accounts for every reference beat and every detection the way WFDB
//! `bxb` scores them, so that the beat-type evaluation can count the classifier's calls on extra
//! detections and the beats the detector missed. Record 207 has all three kinds plus a ventricular
//! flutter episode (excluded from scoring, as in EC57).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may unwrap and panic

use std::process::Command;

use stressbeat_core::model_input::beat::{BEAT_CHANNELS, BEAT_LEN, RR_FEATURE_NAMES};
use stressbeat_e2e::dataset;

/// The shape in an `.npy` header, e.g. `(5, 2, 96)`.
fn npy_shape(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let header = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]).to_string();
    let start = header.find("'shape': (").unwrap() + "'shape': ".len();
    let end = start + header[start..].find(')').unwrap() + 1;
    header[start..end].to_string()
}

#[test]
fn beat_export_accounts_for_every_reference_beat_and_detection() {
    let Some(mitdb) = dataset("mitdb") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("stressbeat-dataset-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("mitdb");
    std::fs::create_dir_all(&data).unwrap();
    for ext in ["hea", "dat", "atr"] {
        std::fs::copy(
            mitdb.join(format!("207.{ext}")),
            data.join(format!("207.{ext}")),
        )
        .unwrap();
    }
    let out = dir.join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_stressbeat"))
        .args(["dataset", "beats", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("meta.json")).unwrap()).unwrap();
    let rec = &meta["records"][0];
    let n = |key: &str| rec[key].as_u64().unwrap();
    let sum = |key: &str| -> u64 {
        rec[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum()
    };
    assert_eq!(rec["record"], "207");
    // every detection with a window is labelled, extra (scored) or inside the flutter episode
    assert_eq!(
        n("labelled") + n("extra_detections") + n("extra_detections_in_vf"),
        n("beats_with_window_and_neighbours")
    );
    assert_eq!(sum("class_counts"), n("labelled"));
    // 207's flutter episode holds no beat labels, so every reference beat is labelled or missed
    assert_eq!(
        n("labelled") + sum("missed_reference_class_counts"),
        n("reference_beats")
    );
    // the flutter waves are detected as beats (hundreds), and are set apart
    assert!(n("extra_detections_in_vf") > 300, "{rec}");
    assert!(n("extra_detections") > 0, "{rec}");
    let extra = n("extra_detections");
    assert_eq!(meta["extra_count"].as_u64().unwrap(), extra);
    assert_eq!(
        npy_shape(&out.join("extra_records.npy")),
        format!("({extra},)")
    );
    assert_eq!(
        npy_shape(&out.join("extra_beats.npy")),
        format!("({extra}, {BEAT_CHANNELS}, {BEAT_LEN})")
    );
    assert_eq!(
        npy_shape(&out.join("extra_rr.npy")),
        format!("({extra}, {})", RR_FEATURE_NAMES.len())
    );
    assert_eq!(
        npy_shape(&out.join("extra_quality.npy")),
        format!("({extra},)")
    );
    let labelled = n("labelled");
    assert_eq!(
        npy_shape(&out.join("quality.npy")),
        format!("({labelled},)")
    );
    let scores = npy_f32(&out.join("quality.npy"));
    assert!(scores.iter().all(|q| (0.0..=1.0).contains(q)));
    // 207 is mostly clean: most beats sit in windows the core scores usable
    let usable = scores.iter().filter(|&&q| q >= 0.5).count();
    assert!(
        usable * 10 > scores.len() * 9,
        "{usable} of {}",
        scores.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The values of a little-endian f32 `.npy` file (version 1 header).
fn npy_f32(path: &std::path::Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    let header = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    bytes[10 + header..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// A failed export leaves no folder behind when it created it, and keeps one that existed.
#[test]
fn a_failed_export_removes_only_the_folder_it_created() {
    let dir = std::env::temp_dir().join(format!("stressbeat-dataset-fail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |out: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_stressbeat"))
            .args(["dataset", "stress", "--data"])
            .arg(dir.join("no-such-data"))
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let new = dir.join("new-export");
    assert_eq!(run(&new).status.code(), Some(2));
    assert!(!new.exists());
    let existing = dir.join("existing");
    std::fs::create_dir_all(&existing).unwrap();
    assert_eq!(run(&existing).status.code(), Some(2));
    assert!(existing.is_dir());
    let _ = std::fs::remove_dir_all(&dir);
}
