//! Analysis windows of the strap's RR intervals (Heart Rate Service) where there is no ECG: most
//! chest straps, a Polar H10 without PMD, and an H10 whose ECG stream stopped while its heart rate
//! goes on.
//!
//! RR values carry no timestamp and arrive 1-4 s late: where each ends is
//! [`crate::protocol::hrs::interval_ends`]. Windows of `window_s` every `step_s` (the ECG path's
//! grid, started at the first interval) close `lag_s` after their end on the strap's clock; a
//! window that holds no interval (the strap was silent or had no skin contact) is left out, and
//! the caller decides for each of the others ([`Closing`]: ECG may cover it).

use std::collections::VecDeque;

use super::pipeline::PipelineConfig;
use super::ports::WindowSignal;
use crate::formats::rr_log::RrEntry;
use crate::model_input::stress::{StressWindow, rr_window};
use crate::protocol::hrs::interval_ends;
use crate::sensor::SensorEvent;
use crate::sensor::replay::rr_log_events;

/// Intervals kept at most (about 8 minutes at 200 bpm): bounds memory if windows stop closing.
const MAX_INTERVALS: usize = 1_600;

/// What to do with a window that is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// Hand it over.
    Emit,
    /// Leave it out for good.
    Skip,
    /// Not yet: it and the later ones stay pending.
    Wait,
}

/// Collects RR intervals and cuts them into windows. See the module documentation.
#[derive(Debug, Clone)]
pub struct RrWindows {
    window_ms: f64,
    step_ms: f64,
    lag_ms: f64,
    /// (end, RR) in ms of the source clock, ends non-decreasing.
    intervals: VecDeque<(f64, f64)>,
    /// End of the next window to close; `None` before the first interval.
    next_end_ms: Option<f64>,
    /// Latest notification time seen.
    latest_ms: f64,
}

impl RrWindows {
    /// Windows as the pipeline's ECG windows (`window_s`, `step_s`, `lag_s` of `cfg`).
    pub fn new(cfg: &PipelineConfig) -> Self {
        Self {
            window_ms: cfg.window_s * 1000.0,
            // at least 1 ms (the pipeline checks its own step)
            step_ms: (cfg.step_s * 1000.0).max(1.0),
            lag_ms: cfg.lag_s * 1000.0,
            intervals: VecDeque::with_capacity(256),
            next_end_ms: None,
            latest_ms: f64::NEG_INFINITY,
        }
    }

    /// The intervals (ms, oldest first) of one notification received at `at_ms` (source clock).
    /// Intervals without skin contact (`contact` = `Some(false)`) or not finite and positive are
    /// left out: the window they fall in has less coverage.
    pub fn push(&mut self, at_ms: i64, rr_ms: &[f64], contact: Option<bool>) {
        let at = at_ms as f64;
        self.latest_ms = self.latest_ms.max(at);
        if contact == Some(false) {
            return;
        }
        let after = self.intervals.back().map_or(f64::NEG_INFINITY, |&(e, _)| e);
        for (end, rr) in interval_ends(at, rr_ms, after) {
            if self.intervals.len() == MAX_INTERVALS {
                self.intervals.pop_front();
            }
            self.intervals.push_back((end, rr));
            self.next_end_ms.get_or_insert(end - rr + self.window_ms);
        }
    }

    /// Append to `out` the windows ending `lag_s` or more before the latest notification (at or
    /// before it when `finish`) that `decide(start, end)` (Unix ms) emits, up to the first it
    /// makes wait. `offset_ms` turns source ms into Unix ms.
    pub fn close(
        &mut self,
        finish: bool,
        offset_ms: i64,
        decide: impl Fn(i64, i64) -> Closing,
        out: &mut Vec<WindowSignal>,
    ) {
        let Some(mut end) = self.next_end_ms else {
            return;
        };
        let lag = if finish { 0.0 } else { self.lag_ms };
        let due = |end: f64| end + lag <= self.latest_ms;
        while due(end) {
            let start = end - self.window_ms;
            while self.intervals.front().is_some_and(|&(e, _)| e < start) {
                self.intervals.pop_front();
            }
            let Some(&(first, _)) = self.intervals.front() else {
                break;
            };
            if first >= end {
                // Silent span: jump to the first window holding the next interval.
                let next = end + self.step_ms * (((first - end) / self.step_ms).floor() + 1.0);
                if next <= end {
                    break; // times beyond f64's ms resolution
                }
                end = next;
                continue;
            }
            let (start_ms, end_ms) = (
                (start + offset_ms as f64).round() as i64,
                (end + offset_ms as f64).round() as i64,
            );
            let decision = decide(start_ms, end_ms);
            if decision == Closing::Wait {
                break;
            }
            if decision == Closing::Emit {
                let rr_ms: Vec<f64> = self
                    .intervals
                    .iter()
                    .take_while(|&&(e, _)| e < end)
                    .map(|&(_, rr)| rr)
                    .collect();
                out.push(WindowSignal {
                    start_index: 0,
                    start_ms,
                    end_ms,
                    samples_mv: Vec::new(),
                    peaks: Vec::new(),
                    new_from: 0,
                    clean: Vec::new(),
                    rr_ms,
                });
            }
            if end + self.step_ms <= end {
                break;
            }
            end += self.step_ms;
        }
        self.next_end_ms = Some(end);
    }
}

/// The windows the monitor cuts from an RR log replayed ([`rr_log_events`]), as RR-only stress
/// windows ([`rr_window`]) with times in s from the start of the first window (that of the log's
/// first usable interval).
pub fn log_windows(log: &[RrEntry], cfg: &PipelineConfig) -> Vec<StressWindow> {
    let mut windows = RrWindows::new(cfg);
    let mut cut = Vec::new();
    for (_, ev) in rr_log_events(log) {
        if let SensorEvent::HeartRate {
            at_ms,
            rr_ms,
            contact,
            ..
        } = ev
        {
            windows.push(at_ms, &rr_ms, contact);
            windows.close(false, 0, |_, _| Closing::Emit, &mut cut);
        }
    }
    windows.close(true, 0, |_, _| Closing::Emit, &mut cut);
    let origin = cut.first().map_or(0, |w| w.start_ms);
    cut.iter()
        .map(|w| {
            let mut sw = rr_window(&w.rr_ms, (w.end_ms - w.start_ms) as f64 / 1000.0);
            sw.start_s = w.start_ms.saturating_sub(origin) as f64 / 1000.0;
            sw.end_s = w.end_ms.saturating_sub(origin) as f64 / 1000.0;
            sw
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn windows(rr: &mut RrWindows, finish: bool) -> Vec<WindowSignal> {
        let mut out = Vec::new();
        rr.close(finish, 1_000_000, |_, _| Closing::Emit, &mut out);
        out
    }

    /// One notification a second, each carrying the beats that ended since the last one.
    fn feed(rr: &mut RrWindows, from_ms: i64, to_ms: i64, rr_ms: f64, contact: Option<bool>) {
        let mut beat = from_ms as f64;
        let mut pending = Vec::new();
        for t in (from_ms + 1000..=to_ms).step_by(1000) {
            while beat + rr_ms <= t as f64 {
                beat += rr_ms;
                pending.push(rr_ms);
            }
            rr.push(t, &pending, contact);
            pending.clear();
        }
    }

    #[test]
    fn windows_follow_the_ecg_grid_and_hold_the_intervals_ending_in_them() {
        let mut rr = RrWindows::new(&PipelineConfig::default());
        feed(&mut rr, 0, 40_000, 800.0, None);
        let w = windows(&mut rr, false);
        // the first interval is taken to end on arrival (1 s), so it starts at 0.2 s: windows
        // end at 30.2 and 35.2 s; 40.2 s is past the last notification
        assert_eq!(
            w.iter().map(|w| w.end_ms).collect::<Vec<_>>(),
            [1_030_200, 1_035_200]
        );
        assert!(
            w.iter()
                .all(|w| w.samples_mv.is_empty() && w.end_ms - w.start_ms == 30_000)
        );
        let covered: f64 = w[0].rr_ms.iter().sum();
        assert!((28_000.0..=30_000.0).contains(&covered), "{covered}");
        assert!(
            windows(&mut rr, false).is_empty(),
            "each window closes once"
        );
        rr.push(41_000, &[800.0], None);
        assert_eq!(
            windows(&mut rr, true).len(),
            1,
            "finish closes the 40.2 s window"
        );
    }

    #[test]
    fn silence_and_lost_contact_skip_windows_without_looping_over_them() {
        let mut rr = RrWindows::new(&PipelineConfig::default());
        feed(&mut rr, 0, 60_000, 1000.0, None);
        feed(&mut rr, 60_000, 120_000, 1000.0, Some(false));
        // ten hours of silence, then the strap is back
        feed(&mut rr, 36_000_000, 36_060_000, 1000.0, Some(true));
        let w = windows(&mut rr, true);
        let before: Vec<_> = w.iter().filter(|w| w.end_ms < 2_000_000).collect();
        let after: Vec<_> = w.iter().filter(|w| w.end_ms > 30_000_000).collect();
        assert_eq!(before.len() + after.len(), w.len());
        // windows overlapping the contact loss hold fewer intervals; none is empty
        assert!(w.iter().all(|w| !w.rr_ms.is_empty()));
        assert!(before.iter().any(|w| w.rr_ms.len() < 10));
        assert!(
            after.iter().any(|w| w.rr_ms.len() >= 29),
            "{:?}",
            after.len()
        );
        assert!(w.len() < 40, "{} windows", w.len());
    }

    #[test]
    fn late_and_bunched_intervals_keep_their_order() {
        let mut rr = RrWindows::new(&PipelineConfig::default());
        rr.push(5_000, &[900.0, 900.0, 900.0, 900.0], None);
        rr.push(5_500, &[900.0], None); // arrives "before" the previous ones ended
        rr.push(6_000, &[f64::NAN, -1.0, 900.0], None);
        let ends: Vec<f64> = rr.intervals.iter().map(|&(e, _)| e).collect();
        assert_eq!(ends.len(), 6);
        assert!(ends.windows(2).all(|p| p[0] <= p[1]), "{ends:?}");
    }
}
