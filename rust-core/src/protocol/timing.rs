//! PMD time (`../shared/docs/protocols.md`): frame timestamps are ns since 2000-01-01T00:00:00 UTC on the
//! sensor's clock, of the LAST sample in the frame. The clock resets to 2019-01-01 when an H10
//! powers down, so it is aligned to the phone clock and watched for gaps, duplicates and jumps.

use std::collections::VecDeque;

/// Seconds from the Unix epoch to the PMD epoch 2000-01-01T00:00:00 UTC.
pub const PMD_EPOCH_UNIX_S: u64 = 946_684_800;
const NS: u64 = 1_000_000_000;
/// 2019-01-01T00:00:00 UTC on the PMD clock (where an H10's clock restarts after power-down).
pub const H10_RESET_PMD_NS: u64 = (1_546_300_800 - PMD_EPOCH_UNIX_S) * NS;

/// PMD timestamp → ns since the Unix epoch (saturating).
pub fn pmd_to_unix_ns(pmd_ns: u64) -> u64 {
    pmd_ns.saturating_add(PMD_EPOCH_UNIX_S * NS)
}

/// ns since the Unix epoch → PMD timestamp (`None` before 2000).
pub fn unix_to_pmd_ns(unix_ns: u64) -> Option<u64> {
    unix_ns.checked_sub(PMD_EPOCH_UNIX_S * NS)
}

/// The times of the `n` samples of a frame whose last sample is at `last_ns`, `step_ns` apart.
/// Computed from the end, so the last sample carries the frame timestamp exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameTimes {
    pub last_ns: u64,
    pub step_ns: f64,
    pub n: usize,
}

impl FrameTimes {
    /// Evenly between the previous frame's timestamp and this one's; the first frame (or one
    /// whose previous timestamp is not earlier) uses 1/fs.
    pub fn new(prev_ns: Option<u64>, last_ns: u64, n: usize, fs_hz: f64) -> Self {
        let step_ns = match prev_ns {
            Some(p) if p < last_ns && n > 0 => (last_ns - p) as f64 / n as f64,
            _ => 1e9 / fs_hz,
        };
        Self {
            last_ns,
            step_ns,
            n,
        }
    }

    /// Time of sample `i` (0 = oldest), ns on the same clock as the timestamps.
    pub fn time_ns(&self, i: usize) -> u64 {
        let back = self.n.saturating_sub(1).saturating_sub(i) as f64 * self.step_ns;
        // Offsets in f64, absolute times in u64: a 2000-epoch ns timestamp exceeds f64 precision.
        self.last_ns.saturating_sub(back.round() as u64)
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.n).map(|i| self.time_ns(i))
    }
}

/// Sensor-to-phone clock estimate: `phone ≈ sensor + offset + drift × (sensor − sensor₀)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockEstimate {
    /// Phone time minus sensor time at the reference point, ns (includes the minimum BLE latency).
    pub offset_ns: f64,
    /// Sensor clock drift relative to the phone, parts per million (positive: sensor slow).
    pub drift_ppm: f64,
}

/// Estimates the clock offset and drift from (sensor timestamp, phone receive time) pairs.
/// BLE delivery only adds latency, so it keeps the smallest offset per `bucket_s` of sensor time
/// (a lower envelope) and fits a line through the last `max_buckets` minima (least squares;
/// default 10 s × 360 = the last hour).
#[derive(Debug, Clone)]
pub struct ClockSync {
    bucket_s: f64,
    max_buckets: usize,
    origin: Option<(u64, i64)>,
    /// (sensor s since origin, offset s) minima of finished buckets.
    minima: VecDeque<(f64, f64)>,
    current: Option<(i64, f64, f64)>,
}

impl Default for ClockSync {
    fn default() -> Self {
        Self::new(10.0, 360)
    }
}

impl ClockSync {
    pub fn new(bucket_s: f64, max_buckets: usize) -> Self {
        Self {
            bucket_s: if bucket_s > 0.0 { bucket_s } else { 10.0 },
            max_buckets: max_buckets.max(2),
            origin: None,
            minima: VecDeque::new(),
            current: None,
        }
    }

    /// Forget everything (after a sensor clock jump).
    pub fn reset(&mut self) {
        self.origin = None;
        self.minima.clear();
        self.current = None;
    }

    /// One frame: its sensor timestamp and the phone's receive time (any monotonic ns clock).
    pub fn observe(&mut self, sensor_ns: u64, phone_ns: i64) {
        let (s0, p0) = *self.origin.get_or_insert((sensor_ns, phone_ns));
        let x = (i128::from(sensor_ns) - i128::from(s0)) as f64 / 1e9;
        let y = (i128::from(phone_ns) - i128::from(p0)) as f64 / 1e9 - x;
        let bucket = (x / self.bucket_s).floor() as i64;
        match &mut self.current {
            Some((b, bx, by)) if *b == bucket => {
                if y < *by {
                    (*bx, *by) = (x, y);
                }
            }
            cur => {
                if let Some((_, bx, by)) = cur.take() {
                    self.minima.push_back((bx, by));
                    if self.minima.len() > self.max_buckets {
                        self.minima.pop_front();
                    }
                }
                *cur = Some((bucket, x, y));
            }
        }
    }

    fn points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.minima
            .iter()
            .copied()
            .chain(self.current.map(|(_, x, y)| (x, y)))
    }

    /// The current line (`None` before the first observation).
    pub fn estimate(&self) -> Option<ClockEstimate> {
        let (s0, p0) = self.origin?;
        let n = self.points().count() as f64;
        let (mx, my) = self
            .points()
            .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
        let (sxy, sxx) = self.points().fold((0.0, 0.0), |(a, b), (x, y)| {
            (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
        });
        // Drift needs at least a minute of sensor time to mean anything.
        let slope = if sxx > 0.0 && self.points().map(|p| p.0).fold(0.0, f64::max) >= 60.0 {
            sxy / sxx
        } else {
            0.0
        };
        let intercept = my - slope * mx;
        Some(ClockEstimate {
            offset_ns: (p0 as f64 - s0 as f64) + intercept * 1e9,
            drift_ppm: slope * 1e6,
        })
    }

    /// The phone time of a sensor timestamp on the current estimate.
    pub fn phone_ns(&self, sensor_ns: u64) -> Option<i64> {
        let (s0, _) = self.origin?;
        let e = self.estimate()?;
        let x = (i128::from(sensor_ns) - i128::from(s0)) as f64;
        Some((sensor_ns as f64 + e.offset_ns + e.drift_ppm * 1e-6 * x).round() as i64)
    }
}

/// Tuning of [`EcgFrameTracker`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerConfig {
    /// Sampling rate until enough frames give an estimate (H10 ECG: 130 Hz).
    pub nominal_fs_hz: f64,
    /// A frame later than (1 + this) × its own span after the previous one means frames were lost.
    pub gap_tolerance: f64,
    /// Sensor-time steps disagreeing with phone-time steps by more than this are clock jumps (s).
    pub jump_tolerance_s: f64,
    /// Without phone times: a forward step longer than this is a jump, not a gap (s).
    pub max_gap_s: f64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            nominal_fs_hz: 130.0,
            gap_tolerance: 0.5,
            jump_tolerance_s: 2.0,
            max_gap_s: 120.0,
        }
    }
}

/// Something the tracker noticed about a frame's timing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimingEvent {
    /// Frames were lost between the previous frame (`after_ns`) and this one.
    Gap {
        after_ns: u64,
        missing_samples: u64,
        missing_s: f64,
    },
    /// Same timestamp and samples as a recent frame: dropped.
    Duplicate { timestamp_ns: u64 },
    /// Not later than the last accepted frame (within the jump tolerance): dropped.
    OutOfOrder { timestamp_ns: u64, last_ns: u64 },
    /// The sensor clock jumped (`delta_s` signed); a new segment starts with this frame.
    /// `reset`: it jumped back to the H10's power-down epoch (2019).
    Jump {
        from_ns: u64,
        to_ns: u64,
        delta_s: f64,
        reset: bool,
    },
}

/// The result of one frame: its sample times if accepted, and what was noticed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameOutcome {
    pub times: Option<FrameTimes>,
    pub event: Option<TimingEvent>,
}

/// Counters over a stream.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TrackerStats {
    pub frames_accepted: u64,
    pub samples_accepted: u64,
    pub gaps: u64,
    pub missing_samples: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub jumps: u64,
}

#[derive(Debug, Clone, Copy)]
struct Last {
    ts: u64,
    rx: Option<i64>,
}

const RECENT: usize = 8;

/// Streaming timing of ECG (or any PMD) frames: takes each decoded frame with its phone receive
/// time and yields per-sample times plus gap / duplicate / out-of-order / jump events.
/// Allocation-free per frame; samples are not copied.
#[derive(Debug, Clone)]
pub struct EcgFrameTracker {
    cfg: TrackerConfig,
    last: Option<Last>,
    recent: [(u64, u64); RECENT],
    recent_at: usize,
    /// Samples and ns over continuous frame pairs (for the rate estimate).
    cont_samples: u64,
    cont_ns: u128,
    clock: ClockSync,
    stats: TrackerStats,
}

impl Default for EcgFrameTracker {
    fn default() -> Self {
        Self::new(TrackerConfig::default())
    }
}

/// FNV-1a over the samples (duplicate detection).
fn payload_hash(samples: &[i32]) -> u64 {
    samples
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}

impl EcgFrameTracker {
    pub fn new(cfg: TrackerConfig) -> Self {
        Self {
            cfg,
            last: None,
            recent: [(u64::MAX, 0); RECENT],
            recent_at: 0,
            cont_samples: 0,
            cont_ns: 0,
            clock: ClockSync::default(),
            stats: TrackerStats::default(),
        }
    }

    pub fn stats(&self) -> TrackerStats {
        self.stats
    }

    /// The sensor-to-phone clock estimate (from frames pushed with a receive time).
    pub fn clock(&self) -> &ClockSync {
        &self.clock
    }

    /// Sampling rate measured on the sensor clock over continuous frames (nominal until 5 s).
    pub fn sampling_rate_hz(&self) -> f64 {
        if self.cont_ns >= 5 * u128::from(NS) {
            self.cont_samples as f64 * 1e9 / self.cont_ns as f64
        } else {
            self.cfg.nominal_fs_hz
        }
    }

    /// One frame: the header timestamp (last sample), its samples and the phone receive time (ns
    /// on any monotonic clock) if known. A frame without samples is ignored.
    pub fn push(&mut self, timestamp_ns: u64, samples: &[i32], rx_ns: Option<i64>) -> FrameOutcome {
        let n = samples.len();
        if n == 0 {
            return FrameOutcome {
                times: None,
                event: None,
            };
        }
        let hash = payload_hash(samples);
        if self.recent.contains(&(timestamp_ns, hash)) {
            self.stats.duplicates += 1;
            return FrameOutcome {
                times: None,
                event: Some(TimingEvent::Duplicate { timestamp_ns }),
            };
        }
        let fs = self.sampling_rate_hz();
        let Some(last) = self.last else {
            return self.accept(timestamp_ns, n, rx_ns, hash, None, None);
        };
        let sensor_dt_s = (i128::from(timestamp_ns) - i128::from(last.ts)) as f64 / 1e9;
        let phone_dt_s = match (rx_ns, last.rx) {
            (Some(a), Some(b)) => Some((i128::from(a) - i128::from(b)) as f64 / 1e9),
            _ => None,
        };
        let jumped = match phone_dt_s {
            Some(p) => (sensor_dt_s - p).abs() > self.cfg.jump_tolerance_s,
            None => sensor_dt_s > self.cfg.max_gap_s || sensor_dt_s < -self.cfg.jump_tolerance_s,
        };
        if jumped {
            self.stats.jumps += 1;
            self.clock.reset();
            let event = TimingEvent::Jump {
                from_ns: last.ts,
                to_ns: timestamp_ns,
                delta_s: sensor_dt_s,
                reset: timestamp_ns < last.ts
                    && timestamp_ns.abs_diff(H10_RESET_PMD_NS) < 366 * 86_400 * NS,
            };
            return self.accept(timestamp_ns, n, rx_ns, hash, None, Some(event));
        }
        if timestamp_ns <= last.ts {
            self.stats.out_of_order += 1;
            return FrameOutcome {
                times: None,
                event: Some(TimingEvent::OutOfOrder {
                    timestamp_ns,
                    last_ns: last.ts,
                }),
            };
        }
        let span_s = n as f64 / fs;
        if sensor_dt_s > span_s * (1.0 + self.cfg.gap_tolerance) {
            let missing_samples = ((sensor_dt_s - span_s) * fs).round().max(1.0) as u64;
            self.stats.gaps += 1;
            self.stats.missing_samples += missing_samples;
            let event = TimingEvent::Gap {
                after_ns: last.ts,
                missing_samples,
                missing_s: missing_samples as f64 / fs,
            };
            return self.accept(timestamp_ns, n, rx_ns, hash, None, Some(event));
        }
        self.cont_samples += n as u64;
        self.cont_ns += u128::from(timestamp_ns - last.ts);
        self.accept(timestamp_ns, n, rx_ns, hash, Some(last.ts), None)
    }

    fn accept(
        &mut self,
        ts: u64,
        n: usize,
        rx: Option<i64>,
        hash: u64,
        prev: Option<u64>,
        event: Option<TimingEvent>,
    ) -> FrameOutcome {
        let times = FrameTimes::new(prev, ts, n, self.sampling_rate_hz());
        self.last = Some(Last { ts, rx });
        self.recent[self.recent_at] = (ts, hash);
        self.recent_at = (self.recent_at + 1) % RECENT;
        if let Some(rx) = rx {
            self.clock.observe(ts, rx);
        }
        self.stats.frames_accepted += 1;
        self.stats.samples_accepted += n as u64;
        FrameOutcome {
            times: Some(times),
            event,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    /// 73 samples at 130 Hz: 561.538 ms per H10 frame.
    const SPAN: u64 = 73 * NS / 130;

    fn frames(tr: &mut EcgFrameTracker, ts: &[u64], rx: Option<&[i64]>) -> Vec<FrameOutcome> {
        ts.iter()
            .enumerate()
            .map(|(i, &t)| tr.push(t, &[i as i32; 73], rx.map(|r| r[i])))
            .collect()
    }

    #[test]
    fn epochs() {
        assert_eq!(pmd_to_unix_ns(0), 946_684_800 * NS);
        assert_eq!(unix_to_pmd_ns(946_684_800 * NS + 5), Some(5));
        assert_eq!(unix_to_pmd_ns(0), None);
        assert_eq!(H10_RESET_PMD_NS, 599_616_000 * NS);
    }

    #[test]
    fn per_sample_times() {
        // first frame: 1/fs, last sample exactly at the timestamp (even beyond f64 precision)
        let big = 727_000_000_000_000_123;
        let t = FrameTimes::new(None, big, 3, 100.0);
        assert_eq!(
            t.iter().collect::<Vec<_>>(),
            vec![big - 20 * MS, big - 10 * MS, big]
        );
        // later frames: spread between the previous timestamp and this one
        let t = FrameTimes::new(Some(1000), 1300, 3, 100.0);
        assert_eq!(t.iter().collect::<Vec<_>>(), vec![1100, 1200, 1300]);
        // a previous timestamp that is not earlier falls back to 1/fs
        assert_eq!(FrameTimes::new(Some(1300), 1300, 1, 1e9).step_ns, 1.0);
    }

    #[test]
    fn continuous_stream_and_rate() {
        let mut tr = EcgFrameTracker::default();
        let ts: Vec<u64> = (0..40).map(|i| 1_000 * NS + i * SPAN).collect();
        let out = frames(&mut tr, &ts, None);
        assert!(out.iter().all(|o| o.times.is_some() && o.event.is_none()));
        assert!((out[5].times.unwrap().step_ns - 1e9 / 130.0).abs() < 0.01);
        assert!((tr.sampling_rate_hz() - 130.0).abs() < 1e-3);
        assert_eq!(tr.stats().frames_accepted, 40);
    }

    #[test]
    fn gap_duplicate_out_of_order() {
        let mut tr = EcgFrameTracker::default();
        let t0 = 1_000 * NS;
        assert!(tr.push(t0, &[1; 73], None).event.is_none());
        // duplicate
        let o = tr.push(t0, &[1; 73], None);
        assert_eq!(
            (o.times, o.event),
            (None, Some(TimingEvent::Duplicate { timestamp_ns: t0 }))
        );
        // same timestamp, other samples: out of order
        assert!(matches!(
            tr.push(t0, &[2; 73], None).event,
            Some(TimingEvent::OutOfOrder { .. })
        ));
        // two frames lost
        let o = tr.push(t0 + 3 * SPAN, &[3; 73], None);
        let Some(TimingEvent::Gap {
            after_ns,
            missing_samples,
            missing_s,
        }) = o.event
        else {
            panic!("{o:?}")
        };
        assert_eq!((after_ns, missing_samples), (t0, 146));
        assert!((missing_s - 146.0 / 130.0).abs() < 1e-9);
        assert!(o.times.is_some());
        // an older frame arriving late
        assert!(matches!(
            tr.push(t0 + 2 * SPAN, &[4; 73], None).event,
            Some(TimingEvent::OutOfOrder { .. })
        ));
        let s = tr.stats();
        assert_eq!(
            (
                s.duplicates,
                s.out_of_order,
                s.gaps,
                s.missing_samples,
                s.frames_accepted
            ),
            (1, 2, 1, 146, 2)
        );
    }

    #[test]
    fn jumps_with_and_without_phone_times() {
        // sensor clock reset to 2019 after power-down
        let mut tr = EcgFrameTracker::default();
        let t0 = 727_000_000 * NS;
        tr.push(t0, &[1; 73], Some(0));
        let o = tr.push(H10_RESET_PMD_NS + 5 * NS, &[2; 73], Some(600_000_000));
        assert!(
            matches!(o.event, Some(TimingEvent::Jump { reset: true, .. })),
            "{o:?}"
        );
        assert!(o.times.is_some());
        // forward jump: the sensor says 10 s passed, the phone 0.56 s
        let mut tr = EcgFrameTracker::default();
        tr.push(t0, &[1; 73], Some(0));
        let o = tr.push(t0 + 10 * NS, &[2; 73], Some(561_000_000));
        assert!(
            matches!(o.event, Some(TimingEvent::Jump { reset: false, .. })),
            "{o:?}"
        );
        // both clocks agree that 10 s passed: frames were lost, not a jump
        let mut tr = EcgFrameTracker::default();
        tr.push(t0, &[1; 73], Some(0));
        let o = tr.push(t0 + 10 * NS, &[2; 73], Some(10_100_000_000));
        assert!(matches!(o.event, Some(TimingEvent::Gap { .. })), "{o:?}");
        // without phone times a very long forward step is a jump
        let mut tr = EcgFrameTracker::default();
        tr.push(t0, &[1; 73], None);
        assert!(matches!(
            tr.push(t0 + 3600 * NS, &[2; 73], None).event,
            Some(TimingEvent::Jump { .. })
        ));
    }

    #[test]
    fn clock_offset_and_drift() {
        // sensor runs 50 ppm fast relative to the phone; latency 20 ms + up to 200 ms jitter
        let mut c = ClockSync::default();
        let sensor0 = 727_000_000 * NS;
        let phone0: i64 = 5_000_000_000;
        let mut lcg: u64 = 1;
        for i in 0..2000u64 {
            let phone_true = i * SPAN; // phone-clock ns since start
            let sensor = sensor0 + (phone_true as f64 * (1.0 + 50e-6)) as u64;
            lcg = lcg.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let jitter = (lcg >> 33) % (200 * MS);
            let rx = phone0 + (phone_true + 20 * MS + jitter) as i64;
            c.observe(sensor, rx);
        }
        let e = c.estimate().unwrap();
        // phone = sensor·(1 − 50e−6)…: drift ≈ −50 ppm
        assert!((e.drift_ppm + 50.0).abs() < 10.0, "{e:?}");
        // a sensor time maps to its phone time + the minimum latency (20 ms) + the bias of a
        // per-bucket minimum of ~18 uniform jitters (≈ 10 ms)
        let s = sensor0 + (1000.0 * SPAN as f64 * (1.0 + 50e-6)) as u64;
        let want = phone0 + (1000 * SPAN + 20 * MS) as i64;
        let got = c.phone_ns(s).unwrap();
        assert!(
            (0..25 * MS as i64).contains(&(got - want)),
            "{got} vs {want}"
        );
    }
}
