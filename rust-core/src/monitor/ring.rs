//! Fixed-capacity ring buffers for the last window of samples and R-peaks. Allocated once at
//! construction; `push` never allocates.

use std::collections::VecDeque;

/// The last `capacity` samples of a stream, addressed by their absolute stream index.
#[derive(Debug, Clone)]
pub struct SampleRing {
    buf: Vec<f32>,
    /// Absolute index of the next sample to be pushed.
    next: u64,
}

impl SampleRing {
    /// A ring holding the last `capacity` (≥ 1) samples.
    pub fn new(capacity: usize) -> Self {
        Self {
            buf: vec![0.0; capacity.max(1)],
            next: 0,
        }
    }

    /// Absolute index the next pushed sample will get.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// Oldest absolute index still held.
    pub fn oldest_index(&self) -> u64 {
        self.next.saturating_sub(self.buf.len() as u64)
    }

    /// Append one sample.
    #[inline]
    pub fn push(&mut self, x: f32) {
        let cap = self.buf.len() as u64;
        self.buf[(self.next % cap) as usize] = x;
        self.next += 1;
    }

    /// The sample at absolute index `index`, if still held.
    pub fn get(&self, index: u64) -> Option<f32> {
        (self.oldest_index()..self.next)
            .contains(&index)
            .then(|| self.buf[(index % self.buf.len() as u64) as usize])
    }

    /// Copy samples `[from, to)` into `out` (cleared first). `false` when the span is not (or no
    /// longer) fully held.
    pub fn copy_span(&self, from: u64, to: u64, out: &mut Vec<f32>) -> bool {
        out.clear();
        if from > to || from < self.oldest_index() || to > self.next {
            return false;
        }
        let cap = self.buf.len() as u64;
        out.extend((from..to).map(|i| self.buf[(i % cap) as usize]));
        true
    }
}

/// The last R-peaks (absolute stream indices), oldest first, bounded.
#[derive(Debug, Clone)]
pub struct PeakRing {
    peaks: VecDeque<u64>,
    capacity: usize,
}

impl PeakRing {
    /// A ring of at most `capacity` peaks (the oldest is dropped beyond it).
    pub fn new(capacity: usize) -> Self {
        Self {
            peaks: VecDeque::with_capacity(capacity.max(1)),
            capacity: capacity.max(1),
        }
    }

    /// Append a peak (indices must not go backwards; an out-of-order one is ignored).
    pub fn push(&mut self, index: u64) {
        if self.peaks.back().is_some_and(|&last| index <= last) {
            return;
        }
        if self.peaks.len() == self.capacity {
            self.peaks.pop_front();
        }
        self.peaks.push_back(index);
    }

    /// Drop peaks before `index`.
    pub fn forget_before(&mut self, index: u64) {
        while self.peaks.front().is_some_and(|&p| p < index) {
            self.peaks.pop_front();
        }
    }

    /// Peaks in `[from, to)`, relative to `from`, into `out` (cleared first).
    pub fn copy_span(&self, from: u64, to: u64, out: &mut Vec<usize>) {
        out.clear();
        out.extend(
            self.peaks
                .iter()
                .filter(|&&p| p >= from && p < to)
                .map(|&p| (p - from) as usize),
        );
    }

    /// The newest peak.
    pub fn last(&self) -> Option<u64> {
        self.peaks.back().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_ring_keeps_the_last_capacity_samples() {
        let mut r = SampleRing::new(5);
        for i in 0..12 {
            r.push(i as f32);
        }
        let mut out = Vec::new();
        assert!(r.copy_span(7, 12, &mut out));
        assert_eq!(out, [7.0, 8.0, 9.0, 10.0, 11.0]);
        assert!(!r.copy_span(6, 12, &mut out), "6 was overwritten");
        assert!(!r.copy_span(8, 13, &mut out), "13 not pushed yet");
    }

    #[test]
    fn peak_ring_is_bounded_ordered_and_relative() {
        let mut p = PeakRing::new(3);
        for i in [10, 20, 15, 30, 40] {
            p.push(i);
        }
        let mut out = Vec::new();
        p.copy_span(0, 100, &mut out);
        assert_eq!(out, [20, 30, 40]);
        p.copy_span(25, 40, &mut out);
        assert_eq!(out, [5]);
        p.forget_before(35);
        assert_eq!(p.last(), Some(40));
    }
}
