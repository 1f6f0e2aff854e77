#![no_main]
//! Text → `rr_log::parse`, then everything that consumes a log: interval ends, replay events and
//! the monitor's windows. Parsed intervals lie in (0, 65 536] ms, ends never go backwards, and
//! every window is 30 s long.
use libfuzzer_sys::fuzz_target;
use stressbeat_core::formats::rr_log::{interval_ends_ms, is_rr_log, parse};
use stressbeat_core::monitor::{PipelineConfig, rr_windows::log_windows};
use stressbeat_core::sensor::replay::rr_log_events;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = is_rr_log(text);
    let Ok(log) = parse(text) else { return };
    assert!(!log.is_empty());
    assert!(log.iter().all(|e| e.rr_ms > 0.0 && e.rr_ms <= 65_536.0));
    let ends = interval_ends_ms(&log);
    assert_eq!(ends.len(), log.len());
    assert!(ends.windows(2).all(|w| w[0] <= w[1]));
    let _ = rr_log_events(&log);
    for w in log_windows(&log, &PipelineConfig::default()) {
        assert!((w.end_s - w.start_s - 30.0).abs() < 0.01, "{w:?}");
    }
});
