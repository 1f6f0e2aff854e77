//! Helpers for the end-to-end tests: where the shared data lives, and skipping clearly when absent.

use std::path::PathBuf;

/// Median of a non-empty slice, as the core computes it.
pub use stressbeat_core::hrv::median;

/// `../shared/data` relative to the workspace root (override with `STRESSBEAT_DATA`).
pub fn data_dir() -> PathBuf {
    if let Ok(d) = std::env::var("STRESSBEAT_DATA") {
        return PathBuf::from(d);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
}

/// A file of this repository by its path from the root (`models/stress.json`,
/// `tests/fixtures/…`). The root is `STRESSBEAT_REPO` when set, so test executables run away from
/// the source tree (on a device: scripts/device/android-runner.sh pushes `models/` and
/// `tests/fixtures/` beside them), else the workspace they were built in.
pub fn repo_file(relative: &str) -> PathBuf {
    std::env::var_os("STRESSBEAT_REPO")
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."),
            PathBuf::from,
        )
        .join(relative)
}

/// The path of a data subfolder, or `None` (after printing why) when the shared data is absent.
/// In CI (`CI` set) a missing folder is a failure, not a skip.
pub fn dataset(sub: &str) -> Option<PathBuf> {
    let p = data_dir().join(sub);
    if p.is_dir() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must have the shared data: {} is missing",
        p.display()
    );
    eprintln!(
        "SKIP: {} not found; put the shared data beside the repository to run this test",
        p.display()
    );
    None
}

/// The files in `dir` whose extension is `ext`, sorted by name (a test fails on an unreadable
/// folder).
#[allow(clippy::panic)]
pub fn files_with_extension(dir: &std::path::Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// The stress updates of a monitor's events, each with the window observation it came from.
pub fn stress_updates(
    events: &[stressbeat_core::monitor::MonitorEvent],
) -> Vec<(
    &stressbeat_core::engine::StressUpdate,
    &stressbeat_core::engine::WindowObservation,
)> {
    events
        .iter()
        .filter_map(|e| match e {
            stressbeat_core::monitor::MonitorEvent::Stress {
                update,
                observation,
            } => Some((update, observation)),
            _ => None,
        })
        .collect()
}

/// Atrial fibrillation or flutter spans (s) of a MIT-BIH record, from its rhythm annotations.
pub fn af_spans(rec: &stressbeat_core::record::Recording) -> Vec<(f64, f64)> {
    let fs = rec.annotation_rate_hz;
    let end_s = rec.signals[0].samples.len() as f64 / rec.signals[0].sampling_rate_hz;
    let mut spans = Vec::new();
    let mut open: Option<f64> = None;
    for a in &rec.annotations {
        let Some(rhythm) = a.aux.as_deref().filter(|s| s.starts_with('(')) else {
            continue;
        };
        let t = a.sample as f64 / fs;
        if let Some(s) = open.take() {
            spans.push((s, t));
        }
        if rhythm.starts_with("(AFIB") || rhythm.starts_with("(AFL") {
            open = Some(t);
        }
    }
    spans.extend(open.map(|s| (s, end_s)));
    spans
}
