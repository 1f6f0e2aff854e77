//! Helpers for the end-to-end tests: where the shared data lives, and skipping clearly when absent.

use std::path::PathBuf;

/// `../shared/data` relative to the workspace root (override with `STRESSBEAT_DATA`).
pub fn data_dir() -> PathBuf {
    if let Ok(d) = std::env::var("STRESSBEAT_DATA") {
        return PathBuf::from(d);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
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

/// Median of `v` (sorts it in place); NaN-free input expected. Panics on an empty slice.
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
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
