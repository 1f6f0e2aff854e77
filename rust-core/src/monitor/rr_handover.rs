//! Which of the strap's RR intervals the history stores when the ECG stops. While ECG arrives,
//! its own intervals are stored and the strap's (the same beats, 1-4 s late, without timestamps)
//! are held back. When the ECG stops, the held ones that follow the ECG's last intervals are
//! stored: found by matching the ECG's last intervals in the strap's sequence by value, so the
//! handover neither loses the beats between the ECG's last and the strap's next notification nor
//! stores a beat twice. Pure; no allocation once the hold has grown.

use std::collections::VecDeque;

/// The ECG's last intervals matched in the strap's sequence (enough that a steady rhythm does
/// not match at the wrong beat; the best match wins).
const MATCHED: usize = 8;
/// How far a strap interval may be from the ECG's (ms): the ECG's 130 Hz grid and detection
/// jitter against the strap's 1/1024 s.
const TOLERANCE_MS: f64 = 25.0;
/// Strap intervals held at most (about 20 s of beats: more than the strap's lag).
const HELD: usize = 24;

/// See the module documentation.
#[derive(Debug)]
pub struct RrHandover {
    /// The ECG's latest intervals (ms), oldest first.
    ecg_tail: VecDeque<f64>,
    /// Strap intervals held back: (end, Unix ms; interval, ms), oldest first.
    held: VecDeque<(f64, f64)>,
}

impl Default for RrHandover {
    fn default() -> Self {
        Self {
            ecg_tail: VecDeque::with_capacity(MATCHED),
            held: VecDeque::with_capacity(HELD),
        }
    }
}

impl RrHandover {
    /// Intervals measured on the ECG (stored by the caller).
    pub fn on_ecg(&mut self, rr_ms: &[f64]) {
        for &rr in rr_ms {
            if self.ecg_tail.len() == MATCHED {
                self.ecg_tail.pop_front();
            }
            self.ecg_tail.push_back(rr);
        }
    }

    /// A strap notification (arrival `at_ms`, Unix) while ECG arrives: not stored, held.
    pub fn hold(&mut self, at_ms: f64, rr_ms: &[f64]) {
        for (end, rr) in rr_with_ends(at_ms, rr_ms) {
            if self.held.len() == HELD {
                self.held.pop_front();
            }
            self.held.push_back((end, rr));
        }
    }

    /// A strap notification with no ECG within the lag: the intervals to store, (end, Unix ms;
    /// interval, ms), oldest first, into `out`. After an ECG stream: the held intervals and these
    /// that follow the ECG's last ones; where those cannot be found, only these (some beats
    /// lost, none twice). The hold and the ECG's tail are then forgotten.
    pub fn release(&mut self, at_ms: f64, rr_ms: &[f64], out: &mut Vec<(f64, f64)>) {
        out.clear();
        if self.held.is_empty() {
            out.extend(rr_with_ends(at_ms, rr_ms));
            self.ecg_tail.clear();
            return;
        }
        self.hold(at_ms, rr_ms);
        let held = self.held.make_contiguous();
        let tail = self.ecg_tail.make_contiguous();
        // where the ECG's tail appears with the least difference (every interval within the
        // tolerance); of equal ones the last, which loses beats rather than storing one twice
        let after = (tail.len() == MATCHED)
            .then(|| {
                (MATCHED..=held.len())
                    .filter_map(|j| {
                        let pairs = held[j - MATCHED..j].iter().zip(tail.iter());
                        let mut total = 0.0;
                        for (&(_, s), &e) in pairs {
                            let d = (s - e).abs();
                            if d > TOLERANCE_MS {
                                return None;
                            }
                            total += d;
                        }
                        Some((j, total))
                    })
                    .min_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
                    .map(|(j, _)| j)
            })
            .flatten();
        match after {
            Some(j) => out.extend_from_slice(&held[j..]),
            None => out.extend(rr_with_ends(at_ms, rr_ms)),
        }
        self.held.clear();
        self.ecg_tail.clear();
    }
}

/// A notification's intervals with their ends: the last ends at its arrival, each earlier one
/// where the next began.
pub fn rr_with_ends(at_ms: f64, rr_ms: &[f64]) -> impl Iterator<Item = (f64, f64)> + '_ {
    let total: f64 = rr_ms.iter().sum();
    let mut end = at_ms - total;
    rr_ms.iter().map(move |&rr| {
        end += rr;
        (end, rr)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(h: &mut RrHandover, at_ms: f64, rr: &[f64]) -> Vec<f64> {
        let mut out = Vec::new();
        h.release(at_ms, rr, &mut out);
        out.iter().map(|&(_, rr)| rr).collect()
    }

    /// Intervals of beat k: a slow sinus arrhythmia.
    fn rr(k: usize) -> f64 {
        800.0 + 60.0 * (k as f64 * 0.7).sin()
    }

    /// ECG measured up to beat 12 (within 6 ms); the strap sent beats 1-14 while ECG arrived
    /// and 15-16 after: 13-16 are stored.
    #[test]
    fn the_strap_intervals_after_the_ecg_are_stored_once() {
        let mut h = RrHandover::default();
        h.on_ecg(
            &(1..=12)
                .map(|k| rr(k) + 6.0 * (k as f64).cos())
                .collect::<Vec<_>>(),
        );
        h.hold(10_000.0, &(1..=7).map(rr).collect::<Vec<_>>());
        h.hold(15_000.0, &(8..=14).map(rr).collect::<Vec<_>>());
        assert_eq!(
            release(&mut h, 17_000.0, &[rr(15), rr(16)]),
            [rr(13), rr(14), rr(15), rr(16)]
        );
        // forgotten: the next notification is stored as it comes
        assert_eq!(release(&mut h, 15_000.0, &[rr(15)]), [rr(15)]);
    }

    #[test]
    fn without_a_match_only_the_new_notification_is_stored() {
        let mut h = RrHandover::default();
        h.on_ecg(&[600.0; 8]);
        h.hold(10_000.0, &[900.0; 9]);
        assert_eq!(release(&mut h, 11_000.0, &[920.0]), [920.0]);
    }

    /// The closest match wins over a later, looser one; of equal ones the last.
    #[test]
    fn the_closest_match_wins_and_ties_take_the_last() {
        let mut h = RrHandover::default();
        h.on_ecg(&(1..=8).map(rr).collect::<Vec<_>>());
        let mut strap: Vec<f64> = (1..=8).map(rr).collect();
        strap.extend((1..=8).map(|k| rr(k) + 20.0)); // within the tolerance, but looser
        strap.push(700.0);
        h.hold(20_000.0, &strap);
        assert_eq!(release(&mut h, 21_000.0, &[710.0]).len(), 8 + 1 + 1);
        h.on_ecg(&[800.0; 8]);
        h.hold(30_000.0, &[800.0; 12]);
        assert!(release(&mut h, 31_000.0, &[800.0]).is_empty());
    }

    #[test]
    fn without_ecg_every_notification_is_stored_with_its_ends() {
        let mut h = RrHandover::default();
        let mut out = Vec::new();
        h.release(5_000.0, &[700.0, 800.0], &mut out);
        assert_eq!(out, [(4_200.0, 700.0), (5_000.0, 800.0)]);
    }
}
