//! The streaming front end: ECG chunks in (any rate, µV), the 130 Hz model signal out into the
//! ring buffers, R-peaks, signal quality, drawing batches and ECG-derived heart rate.
//! Constructed once per stream; per sample nothing is allocated.

use super::events::{EcgBatch, HeartRateSource, HeartRateUpdate, MonitorEvent, QualityUpdate};
use super::rate::RateAdapter;
use super::ring::{PeakRing, SampleRing};
use crate::dsp::rpeak::peak_offset;
use crate::dsp::{QualityConfig, RPeakDetector, SignalQuality, WindowQuality};
use crate::sensor::EcgChunk;
use std::collections::VecDeque;

pub use crate::model_input::MODEL_RATE_HZ;
/// Samples per drawing batch (0.5 s at 130 Hz).
pub const DRAW_BATCH: usize = 65;
/// At most this much of a gap is filled with invalid samples (s); longer gaps only shift time.
pub const MAX_GAP_FILL_S: f64 = 35.0;
/// RR intervals outside this range (ms) are not beat-to-beat intervals (gap, missed beat).
const RR_RANGE_MS: (f64, f64) = (250.0, 2500.0);
/// RR intervals averaged for the ECG-derived heart rate.
const HR_RR_COUNT: usize = 8;
/// A gap longer than this (s) restarts the ECG-derived heart rate's average.
const HR_RESTART_GAP_S: f64 = 5.0;
/// An interval across a gap is an RR interval when at least this many recent intervals are
/// known and it is under [`MAX_BRIDGED_RATIO`] times their mean (a hidden beat makes it about
/// twice as long).
const MIN_RR_TO_BRIDGE: usize = 3;
/// Peaks this soon after a gap (s) may answer the step where the signal resumes (the detector
/// holds the last value through a gap): their intervals do not count.
const GAP_GUARD_S: f64 = 0.05;
const MAX_BRIDGED_RATIO: f64 = 1.4;
/// Recent gaps remembered (more than can fall between a peak and its late detection).
const RECENT_GAPS: usize = 8;

/// Streaming ECG front end at 130 Hz. See the module documentation.
#[derive(Debug)]
pub struct EcgFrontEnd {
    rate: Option<RateAdapter>,
    detector: RPeakDetector,
    quality: SignalQuality,
    /// Recent quality windows: (first sample, end, usable), oldest first; as many as the ring
    /// of samples spans.
    quality_windows: VecDeque<(u64, u64, bool)>,
    /// The 130 Hz signal (mV).
    pub samples: SampleRing,
    /// R-peaks (absolute 130 Hz indices).
    pub peaks: PeakRing,
    /// Phone time (ms) of a reference sample: (index, ms).
    anchor: (u64, f64),
    draw: Vec<f32>,
    draw_first_index: u64,
    resampled: Vec<f32>,
    /// Recent RR intervals (ms), newest last, and how many are new since the last HR update.
    rr: [f64; HR_RR_COUNT],
    rr_len: usize,
    rr_new: [f64; HR_RR_COUNT],
    rr_new_len: usize,
    /// The peak ending the newest interval in `rr_new` (the update's time).
    rr_new_end: u64,
    /// Recent gaps (130 Hz indices: first missing sample, first sample after), round robin: an
    /// interval across one is not known to be an RR interval (a beat may be lost in it).
    recent_gaps: [Option<(u64, u64)>; RECENT_GAPS],
    next_gap: usize,
    unusable_reported: bool,
    /// Added to the source's clock: Unix ms.
    offset_ms: f64,
}

impl EcgFrontEnd {
    /// A front end keeping `ring_s` seconds of signal.
    pub fn new(ring_s: f64) -> crate::Result<Self> {
        let n = (ring_s * MODEL_RATE_HZ).ceil() as usize;
        Ok(Self {
            rate: None,
            detector: RPeakDetector::new(MODEL_RATE_HZ)?,
            quality: SignalQuality::new(MODEL_RATE_HZ, QualityConfig::default())?,
            quality_windows: VecDeque::with_capacity(
                (ring_s / QualityConfig::default().window_s).ceil() as usize + 2,
            ),
            samples: SampleRing::new(n),
            // 300 bpm over the ring.
            peaks: PeakRing::new((ring_s * 5.0).ceil() as usize + 8),
            anchor: (0, 0.0),
            draw: Vec::with_capacity(DRAW_BATCH),
            draw_first_index: 0,
            resampled: Vec::with_capacity(1024),
            rr: [0.0; HR_RR_COUNT],
            rr_len: 0,
            rr_new: [0.0; HR_RR_COUNT],
            rr_new_len: 0,
            rr_new_end: 0,
            recent_gaps: [None; RECENT_GAPS],
            next_gap: 0,
            unusable_reported: false,
            offset_ms: 0.0,
        })
    }

    /// Map the source's clock to Unix ms: `unix = source + offset_ms`.
    pub fn set_time_offset(&mut self, offset_ms: f64) {
        self.offset_ms = offset_ms;
    }

    /// Time of a 130 Hz sample index, Unix ms.
    pub fn time_of(&self, index: u64) -> f64 {
        self.anchor.1 + (index as f64 - self.anchor.0 as f64) * 1000.0 / MODEL_RATE_HZ
    }

    /// Absolute index of the next sample.
    pub fn next_index(&self) -> u64 {
        self.samples.next_index()
    }

    /// Feed one ECG chunk; appends drawing batches, quality and heart-rate events to `out`.
    pub fn push_chunk(&mut self, chunk: &EcgChunk, out: &mut Vec<MonitorEvent>) {
        if chunk.samples_uv.is_empty() {
            return;
        }
        let fs = 1000.0 / chunk.sample_interval_ms;
        let first = self.next_index();
        let rate = match &mut self.rate {
            Some(r) => r,
            None => match RateAdapter::new(fs) {
                Ok(r) => self.rate.insert(r),
                Err(reason) => {
                    if !self.unusable_reported {
                        self.unusable_reported = true;
                        log::warn!("monitor: ECG not analysed: {reason}");
                        out.push(MonitorEvent::Degraded(
                            super::events::Degradation::EcgUnusable { reason },
                        ));
                    }
                    return;
                }
            },
        };
        if rate.anchor_on_next_chunk() {
            self.anchor = (first, chunk.first_sample_ms + self.offset_ms);
        }
        self.resampled.clear();
        rate.push_uv(&chunk.samples_uv, &mut self.resampled);
        self.push_resampled(out);
        self.emit_heart_rate(out);
    }

    /// Push the samples waiting in `self.resampled`.
    fn push_resampled(&mut self, out: &mut Vec<MonitorEvent>) {
        let resampled = std::mem::take(&mut self.resampled);
        for &x in &resampled {
            self.push_sample(x, true, out);
        }
        self.resampled = resampled;
    }

    /// The signal before a gap or the end: the samples the resampler still holds back.
    fn finish_stretch(&mut self, out: &mut Vec<MonitorEvent>) {
        if let Some(r) = &mut self.rate {
            self.resampled.clear();
            r.finish_stretch(&mut self.resampled);
            self.push_resampled(out);
        }
    }

    /// Missing ECG: fill up to [`MAX_GAP_FILL_S`] with invalid samples so that windows over the
    /// gap are judged unusable and the detector re-learns; the drawing batch is flushed.
    pub fn push_gap(&mut self, missing_samples_src: u64, out: &mut Vec<MonitorEvent>) {
        self.finish_stretch(out);
        self.flush_draw(out);
        let gap_start = self.next_index();
        let src_fs = self
            .rate
            .as_ref()
            .map_or(MODEL_RATE_HZ, RateAdapter::source_rate_hz);
        let n = (missing_samples_src as f64 * MODEL_RATE_HZ / src_fs)
            .min(MAX_GAP_FILL_S * MODEL_RATE_HZ)
            .round() as u64;
        // known before the fill: the detector may place a peak inside it
        self.recent_gaps[self.next_gap] = Some((gap_start, gap_start + n));
        self.next_gap = (self.next_gap + 1) % RECENT_GAPS;
        for _ in 0..n {
            self.push_sample(f32::NAN, false, out);
        }
        // intervals decided in the fill are reported now, timed before the next chunk re-anchors
        self.emit_heart_rate(out);
        // the heart rate restarts after a long gap; a lost frame or two leave its average
        if n as f64 > HR_RESTART_GAP_S * MODEL_RATE_HZ {
            self.rr_len = 0;
        }
        self.draw_first_index = self.next_index();
    }

    fn push_sample(&mut self, x: f32, draw: bool, out: &mut Vec<MonitorEvent>) {
        let index = self.next_index();
        self.samples.push(x);
        if let Some(peak) = self.detector.push(x) {
            self.on_peak(peak.index, out);
            while let Some(p) = self.detector.pop() {
                self.on_peak(p.index, out);
            }
        }
        if let Some(q) = self.quality.push(x) {
            let end = self.remember_quality(&q);
            out.push(MonitorEvent::Quality(QualityUpdate {
                at_ms: self.time_of(end) as i64,
                score: q.score,
                usable: q.usable,
                issue: q.issue,
            }));
        }
        if draw {
            if self.draw.is_empty() {
                self.draw_first_index = index;
            }
            self.draw.push(x);
            if self.draw.len() >= DRAW_BATCH {
                self.flush_draw(out);
            }
        }
    }

    /// Keeps `q` among the recent quality windows; returns its end.
    fn remember_quality(&mut self, q: &WindowQuality) -> u64 {
        let end = q.start + u64::from(q.len);
        if self.quality_windows.len() == self.quality_windows.capacity() {
            self.quality_windows.pop_front();
        }
        self.quality_windows.push_back((q.start, end, q.usable));
        end
    }

    /// Whether the quality window holding sample `index` was usable; `None` while that window is
    /// not complete (or already forgotten).
    pub fn usable_at(&self, index: u64) -> Option<bool> {
        self.quality_windows
            .iter()
            .rev()
            .find(|&&(start, end, _)| (start..end).contains(&index))
            .map(|&(_, _, usable)| usable)
    }

    fn on_peak(&mut self, index: u64, out: &mut Vec<MonitorEvent>) {
        if let Some(prev) = self.peaks.last() {
            let samples = index.saturating_sub(prev) as f64;
            let rr = (samples + self.peak_offset(index) - self.peak_offset(prev)).max(0.0) * 1000.0
                / MODEL_RATE_HZ;
            // a peak just after a gap may be the detector's response to the step where the
            // signal resumes: its intervals are not bridged
            let guard = (GAP_GUARD_S * MODEL_RATE_HZ).ceil() as u64;
            let near_gap = |p: u64| {
                self.recent_gaps
                    .iter()
                    .flatten()
                    .any(|&(start, end)| (start..end + guard).contains(&p))
            };
            let across_gap = self
                .recent_gaps
                .iter()
                .flatten()
                .any(|&(start, _)| prev < start && start <= index);
            let bridgeable = !near_gap(prev) && !near_gap(index);
            // across a gap only an interval near the recent ones is known to hide no beat
            let hides_no_beat = || {
                bridgeable
                    && self.rr_len >= MIN_RR_TO_BRIDGE
                    && rr
                        < MAX_BRIDGED_RATIO * self.rr[..self.rr_len].iter().sum::<f64>()
                            / self.rr_len as f64
            };
            let whole = bridgeable && !across_gap;
            if (whole || hides_no_beat()) && (RR_RANGE_MS.0..=RR_RANGE_MS.1).contains(&rr) {
                // a long chunk, or an interval not joined to the pending ones (a skipped interval
                // or a gap between them): report those first, so that an update's intervals are
                // consecutive and the last one ends at its time
                if self.rr_new_len == HR_RR_COUNT
                    || (self.rr_new_len > 0 && self.rr_new_end != prev)
                {
                    self.emit_heart_rate(out);
                }
                push_bounded(&mut self.rr, &mut self.rr_len, rr);
                push_bounded(&mut self.rr_new, &mut self.rr_new_len, rr);
                self.rr_new_end = index;
            }
        }
        self.peaks.push(index);
    }

    /// How far the R-peak at `index` lies from that sample, as the offline analysis refines it
    /// ([`peak_offset`]).
    fn peak_offset(&self, index: u64) -> f64 {
        peak_offset(index, |i| self.samples.get(i))
    }

    fn emit_heart_rate(&mut self, out: &mut Vec<MonitorEvent>) {
        if self.rr_new_len == 0 || self.rr_len == 0 {
            // pending intervals never outlive an emit (none without an average to report)
            self.rr_new_len = 0;
            return;
        }
        let mean = self.rr[..self.rr_len].iter().sum::<f64>() / self.rr_len as f64;
        out.push(MonitorEvent::HeartRate(HeartRateUpdate {
            at_ms: self.time_of(self.rr_new_end) as i64,
            bpm: 60_000.0 / mean,
            rr_ms: self.rr_new[..self.rr_new_len].to_vec(),
            contact: None,
            source: HeartRateSource::Ecg,
        }));
        self.rr_new_len = 0;
    }

    /// Emit the pending drawing batch, if any.
    pub fn flush_draw(&mut self, out: &mut Vec<MonitorEvent>) {
        if self.draw.is_empty() {
            return;
        }
        out.push(MonitorEvent::Ecg(EcgBatch {
            first_sample_ms: self.time_of(self.draw_first_index),
            sample_interval_ms: 1000.0 / MODEL_RATE_HZ,
            samples_mv: self.draw.clone(),
        }));
        self.draw.clear();
    }

    /// End of the stream: decide pending peaks.
    pub fn finish(&mut self, out: &mut Vec<MonitorEvent>) {
        self.finish_stretch(out);
        self.detector.finish();
        while let Some(p) = self.detector.pop() {
            self.on_peak(p.index, out);
        }
        if let Some(q) = self.quality.finish() {
            self.remember_quality(&q);
        }
        self.flush_draw(out);
        self.emit_heart_rate(out);
    }
}

/// Append to a fixed array, dropping the oldest when full.
fn push_bounded(buf: &mut [f64; HR_RR_COUNT], len: &mut usize, v: f64) {
    if *len == HR_RR_COUNT {
        buf.copy_within(1.., 0);
        buf[HR_RR_COUNT - 1] = v;
    } else {
        buf[*len] = v;
        *len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(first_ms: f64, fs: f64, n: usize, f: impl Fn(usize) -> f32) -> EcgChunk {
        EcgChunk {
            first_sample_ms: first_ms,
            sample_interval_ms: 1000.0 / fs,
            sensor_timestamp_ns: 0,
            samples_uv: (0..n).map(|i| (f(i) * 1000.0) as i32).collect(),
        }
    }

    /// A spike train at 75 bpm (0.8 s), in mV.
    fn beats(fs: f64) -> impl Fn(usize) -> f32 {
        move |i| {
            let t = i as f64 / fs;
            let d = (t % 0.8) - 0.4;
            (1.5 * (-(d * d) / (2.0 * 0.012f64.powi(2))).exp()) as f32
        }
    }

    #[test]
    fn resampled_source_gives_130_hz_times_batches_and_heart_rate() {
        let mut fe = EcgFrontEnd::new(40.0).unwrap();
        fe.set_time_offset(1_000_000.0);
        let fs = 360.0;
        let f = beats(fs);
        let mut out = Vec::new();
        for k in 0..100 {
            let c = chunk(k as f64 * 100.0 * 1000.0 / fs, fs, 100, |i| f(k * 100 + i));
            fe.push_chunk(&c, &mut out);
        }
        // 10 000 samples at 360 Hz ≈ 27.8 s ≈ 3611 samples at 130 Hz (minus the kernel tail).
        let n = fe.next_index();
        assert!((3580..=3612).contains(&n), "{n}");
        assert!((fe.time_of(130) - 1_001_000.0).abs() < 1e-6);
        let batches: Vec<&EcgBatch> = out
            .iter()
            .filter_map(|e| match e {
                MonitorEvent::Ecg(b) => Some(b),
                _ => None,
            })
            .collect();
        assert!(batches.iter().all(|b| b.samples_mv.len() == DRAW_BATCH));
        assert!(
            batches
                .windows(2)
                .all(|w| { (w[1].first_sample_ms - w[0].first_sample_ms - 500.0).abs() < 1e-6 })
        );
        let hr: Vec<f64> = out
            .iter()
            .filter_map(|e| match e {
                MonitorEvent::HeartRate(h) => Some(h.bpm),
                _ => None,
            })
            .collect();
        assert!(hr.len() > 10);
        assert!(
            hr[hr.len() / 2..].iter().all(|b| (b - 75.0).abs() < 1.0),
            "{hr:?}"
        );
    }

    #[test]
    fn gap_is_filled_with_invalid_samples_bounded_and_not_drawn() {
        let mut fe = EcgFrontEnd::new(40.0).unwrap();
        let f = beats(130.0);
        let mut out = Vec::new();
        fe.push_chunk(&chunk(0.0, 130.0, 1300, &f), &mut out);
        out.clear();
        fe.push_gap(130 * 10, &mut out);
        assert_eq!(fe.next_index(), 1300 + 1300);
        assert!(
            !out.iter().any(
                |e| matches!(e, MonitorEvent::Ecg(b) if b.samples_mv.iter().any(|x| x.is_nan()))
            )
        );
        let mut span = Vec::new();
        assert!(fe.samples.copy_span(1300, 2600, &mut span));
        assert!(span.iter().all(|x| x.is_nan()));
        // A day-long gap fills at most MAX_GAP_FILL_S.
        fe.push_gap(130 * 86_400, &mut out);
        assert_eq!(fe.next_index(), 2600 + (MAX_GAP_FILL_S * 130.0) as u64);
    }

    /// A lost frame leaves the heart rate's average; a gap over 5 s restarts it.
    #[test]
    fn only_a_long_gap_restarts_the_heart_rate() {
        let mut fe = EcgFrontEnd::new(40.0).unwrap();
        let mut out = Vec::new();
        fe.push_chunk(&chunk(0.0, 130.0, 130 * 10, beats(130.0)), &mut out);
        assert!(fe.rr_len > 0);
        fe.push_gap(73, &mut out);
        assert!(fe.rr_len > 0);
        fe.push_gap(130 * 6, &mut out);
        assert_eq!(fe.rr_len, 0);
    }

    /// A peak at the sample where the signal resumes after a gap may be the detector's answer to
    /// the step there: neither the interval into it nor the one out of it counts.
    #[test]
    fn a_peak_at_the_end_of_a_gap_bounds_no_rr_interval() {
        let mut fe = EcgFrontEnd::new(40.0).unwrap();
        let mut out = Vec::new();
        fe.push_chunk(&chunk(0.0, 130.0, 130 * 10, beats(130.0)), &mut out);
        fe.push_gap(73, &mut out);
        assert!(
            fe.rr_len >= MIN_RR_TO_BRIDGE && fe.rr_new_len == 0,
            "reported at the gap"
        );
        let resumed = fe.next_index();
        for peak in [resumed, resumed + 104, resumed + 208] {
            fe.on_peak(peak, &mut out);
        }
        assert_eq!(&fe.rr_new[..fe.rr_new_len], &[800.0]);
    }

    /// An interval the detector decides while a gap is filled is reported with its own time, not
    /// with the beats after the gap, however long the gap (the fill stops at 35 s).
    #[test]
    fn heart_rate_updates_time_their_intervals_across_a_gap() {
        for gap_s in [10, 60] {
            let mut fe = EcgFrontEnd::new(40.0).unwrap();
            let f = beats(130.0);
            let mut out = Vec::new();
            let ms = |i: usize| i as f64 * 1000.0 / 130.0;
            // beats at samples 52 + 104 k (400 ms + k 800 ms); the chunk ends 10 samples after
            // the one at 1300, which is decided only during the gap's fill
            fe.push_chunk(&chunk(0.0, 130.0, 1310, &f), &mut out);
            let resume = 1310 + gap_s * 130;
            fe.push_gap((gap_s * 130) as u64, &mut out);
            for k in 0..20 {
                let first = resume + k * 65;
                fe.push_chunk(&chunk(ms(first), 130.0, 65, |i| f(first + i)), &mut out);
            }
            fe.finish(&mut out);
            let mut ends = Vec::new();
            for e in &out {
                if let MonitorEvent::HeartRate(h) = e {
                    let mut end = h.at_ms as f64;
                    for rr in h.rr_ms.iter().rev() {
                        ends.push(end);
                        end -= rr;
                    }
                }
            }
            assert!(ends.len() > 20, "{ends:?}");
            let before_gap = ends.iter().filter(|&&t| t < 10_100.0).count();
            assert_eq!(before_gap, 12, "gap {gap_s} s: {ends:?}");
            for t in ends {
                let phase = (t - 400.0).rem_euclid(800.0);
                assert!(
                    phase.min(800.0 - phase) < 10.0,
                    "gap {gap_s} s: a beat at {t} ms"
                );
            }
        }
    }

    /// An interval that does not follow on from the pending ones (one between them was out of
    /// range) starts a new update, so that each update's intervals walk back from its time.
    #[test]
    fn an_interval_after_a_skipped_one_starts_a_new_update() {
        let mut fe = EcgFrontEnd::new(40.0).unwrap();
        let mut out = Vec::new();
        // 800 ms, 800 ms, 3077 ms (out of range), 800 ms, 800 ms
        for peak in [0, 104, 208, 608, 712, 816] {
            fe.on_peak(peak, &mut out);
        }
        fe.emit_heart_rate(&mut out);
        let updates: Vec<(i64, Vec<f64>)> = out
            .iter()
            .filter_map(|e| match e {
                MonitorEvent::HeartRate(h) => Some((h.at_ms, h.rr_ms.clone())),
                _ => None,
            })
            .collect();
        let at = |i: u64| fe.time_of(i) as i64;
        assert_eq!(
            updates,
            [(at(208), vec![800.0, 800.0]), (at(816), vec![800.0, 800.0])]
        );
    }

    /// A chunk holding more beats than one heart-rate update keeps: every interval is reported.
    #[test]
    fn a_long_chunk_loses_no_rr_interval() {
        let mut fe = EcgFrontEnd::new(40.0).unwrap();
        let mut out = Vec::new();
        fe.push_chunk(&chunk(0.0, 130.0, 130 * 30, beats(130.0)), &mut out);
        fe.finish(&mut out);
        let rr: Vec<f64> = out
            .iter()
            .filter_map(|e| match e {
                MonitorEvent::HeartRate(h) => Some(h.rr_ms.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        let mut peaks = Vec::new();
        fe.peaks.copy_span(0, fe.next_index(), &mut peaks);
        assert!(peaks.len() > 30);
        assert_eq!(rr.len(), peaks.len() - 1, "{rr:?}");
    }

    /// A lost H10 frame that held a beat: the interval across it (two beats long,
    /// within the plausible range) is neither an RR interval nor part of the heart rate. A lost
    /// frame between two beats leaves their interval whole.
    #[test]
    fn no_rr_interval_across_a_lost_frame() {
        let mut fe = EcgFrontEnd::new(40.0).unwrap();
        let f = beats(130.0);
        let mut out = Vec::new();
        let ms = |i: usize| i as f64 * 1000.0 / 130.0;
        // frames of 73 samples, as the H10 sends; frame 36 (samples 2628..2701) holds the beat
        // at 2652 and is lost; frame 45 (3285..3358) falls between beats 3276 and 3380
        for k in 0..70 {
            if k == 36 || k == 45 {
                fe.push_gap(73, &mut out);
            } else {
                fe.push_chunk(&chunk(ms(k * 73), 130.0, 73, |i| f(k * 73 + i)), &mut out);
            }
        }
        fe.finish(&mut out);
        let updates: Vec<&HeartRateUpdate> = out
            .iter()
            .filter_map(|e| match e {
                MonitorEvent::HeartRate(h) => Some(h),
                _ => None,
            })
            .collect();
        let rr: Vec<f64> = updates
            .iter()
            .flat_map(|h| h.rr_ms.iter().copied())
            .collect();
        // every interval but the one across the hidden beat, the one across frame 45 included
        let mut peaks = Vec::new();
        fe.peaks.copy_span(0, fe.next_index(), &mut peaks);
        assert!(peaks.len() > 40);
        assert_eq!(rr.len(), peaks.len() - 2, "{rr:?}");
        assert!(rr.iter().all(|r| (r - 800.0).abs() < 20.0), "{rr:?}");
        assert!(
            updates.iter().all(|h| (h.bpm - 75.0).abs() < 2.0),
            "{:?}",
            updates.iter().map(|h| h.bpm).collect::<Vec<_>>()
        );
    }
}
