//! `--plot` of `peaks` and `stress`: the PNG a user opens, checked against the numbers printed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may unwrap and panic

use std::process::Command;

use stressbeat_e2e::dataset;

fn stressbeat() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stressbeat"))
}

/// Run `cmd`, which must succeed; its stdout.
fn stdout_of(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    out.stdout
}

/// The strip's layout (cli/src/peaks.rs): rows of 10 s from y = 150 every 130 px, 1070 px wide
/// from x = 90; each R-peak ticked at the top of its row.
const STRIP_TOP: u32 = 150;
const ROW_PITCH: u32 = 130;
const PEAK_TICK: image::Rgb<u8> = image::Rgb([200, 40, 60]);

#[test]
fn the_peaks_strip_marks_every_peak_the_json_lists() {
    let Some(hea) = dataset("mitdb").map(|d| d.join("101.hea")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("strip.png");
    let out = stdout_of(
        stressbeat()
            .args(["peaks", hea.to_str().unwrap(), "--from", "60", "--to", "90"])
            .args(["--json", "--plot", png.to_str().unwrap()]),
    );
    let v: serde_json::Value = serde_json::from_slice(&out).expect("JSON on stdout");
    let peaks: Vec<u64> = v["peaks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert!(peaks.len() > 25, "{} peaks", peaks.len());
    let img = image::open(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (1200, STRIP_TOP + 3 * ROW_PITCH + 64));
    for p in peaks {
        let i = p - 60 * 360; // in the span
        let (row, at) = (i / 3600, (i % 3600) as f64);
        let x = 90 + (at / 3599.0 * 1069.0).round() as u32;
        let y = STRIP_TOP + row as u32 * ROW_PITCH + 4;
        assert_eq!(*img.get_pixel(x, y), PEAK_TICK, "R-peak at sample {p}");
    }
}

#[test]
fn the_stress_plot_is_written_and_named() {
    let Some(dir) = dataset("eegmat") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let png = tmp.path().join("stress.png");
    let out = stdout_of(
        stressbeat()
            .args(["stress", dir.join("Subject03_2.edf").to_str().unwrap()])
            .args(["--baseline", dir.join("Subject03_1.edf").to_str().unwrap()])
            .args(["--plot", png.to_str().unwrap()]),
    );
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(&format!("Plot: {}", png.display())), "{text}");
    let img = image::open(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (1200, 860));
    // the 7 scored windows' probability line (SCORE_LINE) is drawn
    let blue = img.pixels().filter(|p| p.0 == [30, 60, 160]).count();
    assert!(blue > 200, "{blue} pixels of the probability line");
}

#[test]
fn a_plot_that_cannot_be_written_is_an_error_before_any_output() {
    let Some(hea) = dataset("mitdb").map(|d| d.join("101.hea")) else {
        return;
    };
    let out = stressbeat()
        .args(["peaks", hea.to_str().unwrap(), "--to", "20"])
        .args(["--plot", "/nonexistent-dir/strip.png"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot write /nonexistent-dir/strip.png"),
        "{err}"
    );
}
