//! `stressbeat images` on a minute of MIT-BIH record 101: one PNG per beat whose window fits in
//! the span, one per full 30 s window and window channel, all 128×128 grayscale and not blank.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may unwrap and panic

use std::process::Command;

use stressbeat_e2e::dataset;

fn stressbeat() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stressbeat"))
}

#[test]
fn images_writes_one_png_per_beat_and_window() {
    let Some(hea) = dataset("mitdb").map(|d| d.join("101.hea")) else {
        return;
    };
    let hea = hea.to_str().unwrap();
    let out_dir = std::env::temp_dir().join(format!("stressbeat-images-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let out = stressbeat()
        .args(["images", hea, "--from", "60", "--to", "120", "--out"])
        .arg(&out_dir)
        .args([
            "--channel",
            "beat",
            "--channel",
            "tachogram",
            "--channel",
            "beat_overlay",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("not a medical device"));

    // Expected beats: the same detector's peaks whose 0.3 s + 0.5 s window fits in [60 s, 120 s).
    let peaks = stressbeat()
        .args(["peaks", hea, "--from", "60", "--to", "120", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&peaks.stdout).unwrap();
    let expected_beat_files: Vec<String> = v["peaks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .filter(|&p| p >= 60 * 360 + 108 && p + 180 <= 120 * 360)
        .map(|p| format!("beat_{p:09}.png"))
        .collect();
    let expected_beats = expected_beat_files.len();
    assert!(expected_beats > 50, "{expected_beats} beats");

    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let count = |prefix: &str| names.iter().filter(|n| n.starts_with(prefix)).count();
    // files are named by their sample in the record, not renumbered from --from
    let beat_files: Vec<&String> = names.iter().filter(|n| n.starts_with("beat_0")).collect();
    assert_eq!(beat_files, expected_beat_files.iter().collect::<Vec<_>>());
    assert!(
        names.contains(&"tachogram_000021600.png".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"tachogram_000032400.png".to_string()),
        "{names:?}"
    );
    assert_eq!(count("tachogram_"), 2);
    assert_eq!(count("beat_overlay_"), 2);
    assert_eq!(count("poincare_"), 0);
    assert_eq!(names.len(), expected_beats + 4);
    for name in &names {
        let img = image::open(out_dir.join(name)).unwrap();
        assert_eq!((img.width(), img.height()), (128, 128), "{name}");
        let gray = img.as_luma8().expect("8-bit grayscale");
        assert!(gray.pixels().any(|p| p.0[0] > 0), "{name} is blank");
    }
    std::fs::remove_dir_all(&out_dir).unwrap();
}

#[test]
fn images_rejects_an_unknown_channel() {
    let Some(hea) = dataset("mitdb").map(|d| d.join("101.hea")) else {
        return;
    };
    let out = stressbeat()
        .args([
            "images",
            hea.to_str().unwrap(),
            "--out",
            "/nonexistent-never-written",
        ])
        .args(["--channel", "ecg"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown image channel"));
}

/// A channel given twice is drawn once: the count printed is the number of files written (the
/// window channels were written twice over the same files and counted twice).
#[test]
fn images_counts_each_file_once_when_a_channel_is_repeated() {
    let Some(hea) = dataset("mitdb").map(|d| d.join("101.hea")) else {
        return;
    };
    let out_dir =
        std::env::temp_dir().join(format!("stressbeat-images-twice-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let out = stressbeat()
        .args(["images", hea.to_str().unwrap(), "--to", "60", "--out"])
        .arg(&out_dir)
        .args(["--channel", "tachogram", "--channel", "poincare"])
        .args([
            "--channel",
            "tachogram",
            "--channel",
            "beat",
            "--channel",
            "beat",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = std::fs::read_dir(&out_dir).unwrap().count();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("wrote {files} PNG files")),
        "{files} files; {stdout}"
    );
    std::fs::remove_dir_all(&out_dir).unwrap();
}
