//! Truncated, corrupt and inconsistent copies of real recordings give typed errors that name the
//! file and the place, never a panic or a silently wrong recording.

// Test helpers outside #[test] fns may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use stressbeat_core::{
    Error,
    io::{LoadOptions, load_recording},
};
use stressbeat_e2e::dataset;

/// A fresh, empty temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!(
            "stressbeat-corrupt-{}-{tag}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn copy(&self, from: &Path) -> PathBuf {
        let to = self.0.join(from.file_name().unwrap());
        std::fs::copy(from, &to).unwrap();
        // the shared data is read-only; the copy must be writable
        let mut perm = std::fs::metadata(&to).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perm.set_readonly(false);
        std::fs::set_permissions(&to, perm).unwrap();
        to
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn load(p: &Path) -> Result<stressbeat_core::record::Recording, Error> {
    load_recording(p, &LoadOptions::default())
}

/// Assert a Format error on the file named `file_name` whose message contains `what`.
fn assert_format_error(
    r: Result<stressbeat_core::record::Recording, Error>,
    file_name: &str,
    what: &str,
) {
    match r {
        Err(e @ Error::Format { .. }) => {
            let msg = e.to_string();
            let Error::Format { file, .. } = &e else {
                unreachable!()
            };
            assert!(
                file.ends_with(file_name),
                "error names {file}, expected {file_name}"
            );
            assert!(
                msg.contains(file_name) && msg.contains(what),
                "message {msg:?} lacks {what:?}"
            );
        }
        other => panic!("expected a Format error on {file_name} ({what}), got {other:?}"),
    }
}

/// Copy MIT-BIH record 101 (header, signals, annotations) into a temp dir.
fn mitdb_101(tag: &str) -> Option<(TempDir, PathBuf)> {
    let dir = dataset("mitdb")?;
    let tmp = TempDir::new(tag);
    for ext in ["hea", "dat", "atr"] {
        tmp.copy(&dir.join(format!("101.{ext}")));
    }
    let hea = tmp.0.join("101.hea");
    Some((tmp, hea))
}

fn truncate(p: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn flip_byte(p: &Path, at: usize) {
    let mut b = std::fs::read(p).unwrap();
    b[at] ^= 0x5a;
    std::fs::write(p, b).unwrap();
}

#[test]
fn wfdb_copy_loads_before_corruption() {
    let Some((_tmp, hea)) = mitdb_101("ok") else {
        return;
    };
    let r = load(&hea).unwrap();
    assert_eq!(r.signals[0].samples.len(), 650_000);
}

#[test]
fn wfdb_truncated_dat() {
    let Some((tmp, hea)) = mitdb_101("trunc-dat") else {
        return;
    };
    truncate(&tmp.0.join("101.dat"), 1_000_000);
    assert_format_error(load(&hea), "101.dat", "truncated");
}

#[test]
fn wfdb_corrupt_dat_fails_the_checksum() {
    let Some((tmp, hea)) = mitdb_101("checksum") else {
        return;
    };
    flip_byte(&tmp.0.join("101.dat"), 500_000);
    assert_format_error(load(&hea), "101.dat", "checksum mismatch");
}

#[test]
fn wfdb_wrong_checksum_in_header() {
    let Some((_tmp, hea)) = mitdb_101("checksum-hea") else {
        return;
    };
    let text = std::fs::read_to_string(&hea).unwrap();
    // 101.hea: "101.dat 212 200 11 1024 955 29832 0 MLII"
    let changed = text.replacen(" 29832 ", " 29833 ", 1);
    assert_ne!(text, changed, "expected checksum field in {text}");
    std::fs::write(&hea, changed).unwrap();
    assert_format_error(load(&hea), "101.dat", "checksum mismatch");
}

#[test]
fn wfdb_garbage_header() {
    let Some((_tmp, hea)) = mitdb_101("garbage-hea") else {
        return;
    };
    std::fs::write(&hea, "101 two 360\n").unwrap();
    assert_format_error(load(&hea), "101.hea", "line 1");
    std::fs::write(&hea, b"101 2 360\n\xff\xfe\x00garbage\n").unwrap();
    assert_format_error(load(&hea), "101.hea", "UTF-8");
    std::fs::write(
        &hea,
        "100 2 360 650000\n101.dat 212 200 11 1024 995 29832 0 MLII\n",
    )
    .unwrap();
    assert_format_error(load(&hea), "101.hea", "2 signals");
}

#[test]
fn wfdb_truncated_atr() {
    let Some((tmp, hea)) = mitdb_101("trunc-atr") else {
        return;
    };
    let atr = tmp.0.join("101.atr");
    let len = std::fs::metadata(&atr).unwrap().len();
    truncate(&atr, (len / 2) & !1);
    assert_format_error(load(&hea), "101.atr", "truncated");
    truncate(&atr, 101);
    assert_format_error(load(&hea), "101.atr", "byte 100");
}

#[test]
fn wfdb_missing_dat_is_an_io_error() {
    let Some((tmp, hea)) = mitdb_101("missing-dat") else {
        return;
    };
    std::fs::remove_file(tmp.0.join("101.dat")).unwrap();
    match load(&hea) {
        Err(Error::Io { path, .. }) => assert!(path.ends_with("101.dat"), "{path}"),
        other => panic!("expected Io, got {other:?}"),
    }
}

fn eegmat(tag: &str) -> Option<(TempDir, PathBuf)> {
    let dir = dataset("eegmat")?;
    let tmp = TempDir::new(tag);
    let f = tmp.copy(&dir.join("Subject01_2.edf"));
    Some((tmp, f))
}

fn patch(p: &Path, at: usize, text: &str) {
    let mut b = std::fs::read(p).unwrap();
    b[at..at + text.len()].copy_from_slice(text.as_bytes());
    std::fs::write(p, b).unwrap();
}

#[test]
fn edf_wrong_record_count() {
    let Some((_tmp, f)) = eegmat("edf-count") else {
        return;
    };
    let good = load(&f).unwrap();
    patch(&f, 236, "999     ");
    assert_format_error(
        load(&f),
        "Subject01_2.edf",
        "truncated: header declares 999 data records",
    );
    patch(&f, 236, "10      ");
    assert_format_error(load(&f), "Subject01_2.edf", "inconsistent");
    // -1 ("unknown") is derived from the file size
    patch(&f, 236, "-1      ");
    assert_eq!(load(&f).unwrap(), good);
}

#[test]
fn edf_truncated_and_garbage() {
    let Some((_tmp, f)) = eegmat("edf-trunc") else {
        return;
    };
    let len = std::fs::metadata(&f).unwrap().len();
    truncate(&f, len - 7);
    assert_format_error(load(&f), "Subject01_2.edf", "truncated");
    truncate(&f, 200);
    assert_format_error(load(&f), "Subject01_2.edf", "byte 200");
    std::fs::write(&f, vec![b'x'; 600]).unwrap();
    assert_format_error(load(&f), "Subject01_2.edf", "version");
}

#[test]
fn edf_plus_d_is_unsupported() {
    let Some((_tmp, f)) = eegmat("edf-d") else {
        return;
    };
    patch(&f, 192, "EDF+D");
    match load(&f) {
        Err(Error::Unsupported { file, what }) => {
            assert!(
                file.ends_with("Subject01_2.edf") && what.contains("EDF+D"),
                "{file}: {what}"
            )
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn csv_non_numeric_row_and_missing_rate() {
    let Some(dir) = dataset("polar_h10") else {
        return;
    };
    let tmp = TempDir::new("csv");
    let text = std::fs::read_to_string(dir.join("detectpvc/polar_h10.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().take(200).collect();
    lines[150] = "1714920601000000000,abc,,";
    let f = tmp.0.join("polar_bad.csv");
    std::fs::write(&f, lines.join("\n")).unwrap();
    assert_format_error(load(&f), "polar_bad.csv", "line 151");

    // only the ECG column: no time column, so the rate must be given
    let ecg_only: String = text
        .lines()
        .take(200)
        .map(|l| l.split(',').nth(1).unwrap_or("").to_string() + "\n")
        .collect();
    let f = tmp.0.join("ecg_only.csv");
    std::fs::write(&f, &ecg_only).unwrap();
    match load(&f) {
        Err(Error::FileOption { file, what }) => {
            assert!(
                file.ends_with("ecg_only.csv") && what.contains("--fs"),
                "{what}"
            )
        }
        other => panic!("expected FileOption, got {other:?}"),
    }
    let opts = LoadOptions {
        csv_sampling_rate_hz: Some(130.0),
        csv_unit: None,
    };
    assert_eq!(
        load_recording(&f, &opts).unwrap().signals[0].samples.len(),
        199
    );

    // a row cut short (truncated file)
    let f = tmp.0.join("cut.csv");
    std::fs::write(&f, "time,ecg,hr,rr\n0,0.1,,\n1000000,0.2").unwrap();
    assert_format_error(load(&f), "cut.csv", "line 3");
}

#[test]
fn unknown_extension_is_unsupported_and_a_capture_is_known_by_its_magic() {
    let tmp = TempDir::new("ext");
    let f = tmp.0.join("x.mp3");
    std::fs::write(&f, b"\0\0").unwrap();
    assert!(matches!(load(&f), Err(Error::Unsupported { .. })));
    // `.bin` is what `record` and `simulate` write: without the magic, a damaged capture
    let f = tmp.0.join("x.bin");
    std::fs::write(&f, b"\0\0").unwrap();
    assert_format_error(load(&f), "x.bin", "truncated magic");
    // the magic makes a capture whatever the name: no frames, nothing to analyse
    let f = tmp.0.join("strap.pmd");
    std::fs::write(&f, b"H10 ECG v1.0 binary data").unwrap();
    assert!(matches!(load(&f), Err(Error::InsufficientSignal(_))));
}
