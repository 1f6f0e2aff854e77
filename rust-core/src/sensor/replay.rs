//! Replay: a recorded file as a [`SensorSource`] yielding the same [`SensorEvent`]s as a live
//! strap, as fast as possible or paced in real time (`speed` factor) by an injected [`Clock`].
//! Pure: the file adapter ([`crate::io::replay_events`]) reads the file and calls the
//! conversions here.
//!
//! - Polar capture files (`H10 ECG v1.0 binary data` + `[u32 LE length][notification]`*): the
//!   notifications go through the real [`Session`] (after a scripted H10 handshake), so timing,
//!   gap and jump handling are exactly the live ones. The capture holds no phone times; arrival
//!   times are taken from the sensor timestamps, a jump ahead opening at most [`MAX_HOLE_S`].
//! - WFDB/EDF/CSV recordings (via [`crate::io::load_recording`]): the default ECG channel in
//!   73-sample chunks, times from 0; missing (NaN) samples replay as gaps.
//! - RR logs ([`crate::formats::rr_log`]): Heart Rate Measurement events only, as a strap
//!   without ECG (the monitor scores them from RR windows).

use std::collections::VecDeque;
use std::path::Path;

use super::events::{EcgChunk, GapCause, SensorEvent};
use super::session::{Session, SessionConfig};
use super::source::SensorSource;
use super::transport::{Characteristic, TransportEvent, TransportEventKind};
use crate::error::ParseError;
use crate::formats::pmd_capture;
use crate::formats::rr_log::RrEntry;
use crate::{Error, Result};

/// The notifications of a Polar capture file. A capture cut off mid-write (recorder killed)
/// keeps its complete records: a truncated last record is dropped. A damaged record length
/// ends the readable part too (records carry no marker to resynchronise on): warned, with the
/// share of the file dropped.
pub fn parse_capture(bytes: &[u8]) -> std::result::Result<Vec<Vec<u8>>, ParseError> {
    let mut out = Vec::new();
    let mut end = pmd_capture::MAGIC.len();
    for record in pmd_capture::records(bytes)? {
        match record {
            Ok((at, notification)) => {
                out.push(notification.to_vec());
                end = at as usize + 4 + notification.len();
            }
            Err(e) => {
                let dropped = bytes.len().saturating_sub(end);
                // a record cut off by a killed recorder is the usual, harmless case
                let level = if dropped > 4 + 1024 {
                    log::Level::Warn
                } else {
                    log::Level::Debug
                };
                log::log!(
                    level,
                    "capture: {e}; the {} records before it are kept, the last {dropped} bytes \
                     ({:.0} % of the file) are dropped",
                    out.len(),
                    dropped as f64 * 100.0 / bytes.len().max(1) as f64
                );
            }
        }
    }
    Ok(out)
}

/// Whether a file is a Polar capture: by its magic, or by the `.bin` extension that
/// `stressbeat record` and `simulate` write (without the magic it is a damaged capture, not a
/// file of unknown type).
pub fn is_capture(path: &Path, bytes: &[u8]) -> bool {
    bytes.starts_with(pmd_capture::MAGIC)
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("bin"))
}

/// The events of a Polar capture's bytes (`path` names it in errors), through the live
/// [`Session`]. Errors: a damaged capture, or one without any ECG frame.
pub fn capture_events(path: &Path, bytes: &[u8]) -> Result<Vec<(i64, SensorEvent)>> {
    let n = parse_capture(bytes).map_err(|e| Error::format(path, e))?;
    let events = session_events_for_notifications(&n, SessionConfig::default());
    if !events.iter().any(|(_, e)| matches!(e, SensorEvent::Ecg(_))) {
        return Err(Error::InsufficientSignal(format!(
            "{}: the capture holds no ECG frames ({} notifications)",
            path.file_name().unwrap_or_default().to_string_lossy(),
            n.len()
        )));
    }
    Ok(events)
}

/// Longest hole, s, that a replayed capture's sensor clock may open between two frames. A
/// capture holds no phone times, so a jump of the sensor clock cannot be told from a real hole:
/// up to this a hole keeps its length (lost frames, a dropped link); a longer jump opens a hole
/// of this length only (a clock jump of years would otherwise make a session of years).
pub const MAX_HOLE_S: u64 = 3600;

/// Arrival times of a capture's frames, made from their sensor timestamps (ns): the sensor
/// clock, except that no time passes for a reordered or repeated frame, at most
/// [`MAX_HOLE_S`] passes on a jump forward, and one frame's spacing on a jump back (more than the
/// session's jump threshold; reordered frames are late by a frame or two), after which the clock
/// follows the new time base. The session then sees the jump against these times and bridges it
/// as a live one.
#[derive(Debug, Default)]
struct ArrivalClock {
    /// A step back longer than this, ns, is a jump.
    jump_back_ns: u64,
    newest_ts: Option<u64>,
    elapsed_ns: u64,
    /// The last step forward that was not a hole: one frame's spacing.
    frame_ns: u64,
}

impl ArrivalClock {
    /// Arrival time, ms (the first frame at 1 s), of a frame stamped `ts` (`None`: unstamped).
    fn arrival_ms(&mut self, ts: Option<u64>) -> i64 {
        const NS: u64 = 1_000_000_000;
        let Some(ts) = ts else {
            return self.now_ms();
        };
        match self.newest_ts {
            None => self.newest_ts = Some(ts),
            Some(newest) if ts > newest => {
                let step = ts - newest;
                if step > MAX_HOLE_S * NS {
                    log::warn!(
                        "capture: the sensor clock jumps {} s ahead between two frames; taken as \
                         a clock jump with a {MAX_HOLE_S} s hole (a capture has no phone times)",
                        step / NS
                    );
                }
                if step < NS {
                    self.frame_ns = step;
                }
                self.elapsed_ns = self.elapsed_ns.saturating_add(step.min(MAX_HOLE_S * NS));
                self.newest_ts = Some(ts);
            }
            Some(newest) if newest - ts > self.jump_back_ns => {
                log::warn!(
                    "capture: the sensor clock goes back {} s; the frames continue",
                    (newest - ts) / NS
                );
                self.elapsed_ns = self.elapsed_ns.saturating_add(self.frame_ns);
                self.newest_ts = Some(ts);
            }
            Some(_) => {}
        }
        self.now_ms()
    }

    fn now_ms(&self) -> i64 {
        (self.elapsed_ns / 1_000_000) as i64 + 1_000
    }
}

/// The H10 replies used to script the handshake for a replayed capture.
pub const H10_FEATURES: [u8; 3] = [0x0F, 0x05, 0x00];
pub const H10_ECG_SETTINGS_REPLY: [u8; 13] = [
    0xF0, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E, 0x00,
];
pub const H10_START_REPLY: [u8; 5] = [0xF0, 0x02, 0x00, 0x00, 0x00];

/// Drive a [`Session`] through connect/configure with the H10's real replies, then feed the
/// PMD data notifications; returns every event with its phone time.
pub fn session_events_for_notifications(
    notifications: &[Vec<u8>],
    cfg: SessionConfig,
) -> Vec<(i64, SensorEvent)> {
    let jump_back_ns = cfg
        .jump_threshold_ms
        .max(0)
        .unsigned_abs()
        .saturating_mul(1_000_000);
    let mut s = Session::new(cfg);
    let mut out = Vec::new();
    let feed = |s: &mut Session, at: i64, c: Characteristic, v: &[u8], read: bool| {
        let kind = if read {
            TransportEventKind::ReadResult {
                characteristic: c,
                value: v.to_vec(),
            }
        } else {
            TransportEventKind::Notification {
                characteristic: c,
                value: v.to_vec(),
            }
        };
        s.handle(TransportEvent { at_ms: at, kind });
    };
    s.start(0);
    s.handle(TransportEvent {
        at_ms: 0,
        kind: TransportEventKind::Connected { mtu: 512 },
    });
    let cp = Characteristic::PmdControlPoint;
    feed(&mut s, 0, cp, &H10_FEATURES, true);
    feed(&mut s, 0, cp, &H10_ECG_SETTINGS_REPLY, false);
    feed(&mut s, 0, cp, &H10_START_REPLY, false);
    let _ = s.drain_commands();
    let mut clock = ArrivalClock {
        jump_back_ns,
        ..ArrivalClock::default()
    };
    let mut evs = Vec::new();
    let mut last_at = 0;
    for n in notifications {
        // a record too short to hold a timestamp moves no clock (the session drops it)
        let ts = n
            .get(1..9)
            .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]));
        last_at = clock.arrival_ms(ts);
        feed(&mut s, last_at, Characteristic::PmdData, n, false);
        s.tick(last_at);
        s.drain_events_into(&mut evs);
        out.extend(evs.drain(..).map(|e| (last_at, e)));
    }
    s.stop(last_at);
    s.drain_events_into(&mut evs);
    out.extend(evs.drain(..).map(|e| (last_at, e)));
    out
}

/// Time for paced replay. Tests inject a manual clock so nothing sleeps.
pub trait Clock {
    fn now_ms(&mut self) -> i64;
    fn sleep_until_ms(&mut self, t_ms: i64);
}

/// The real monotonic clock.
#[derive(Debug)]
pub struct SystemClock(std::time::Instant);

impl Default for SystemClock {
    fn default() -> Self {
        Self(std::time::Instant::now())
    }
}

impl Clock for SystemClock {
    fn now_ms(&mut self) -> i64 {
        self.0.elapsed().as_millis() as i64
    }
    fn sleep_until_ms(&mut self, t_ms: i64) {
        let now = self.now_ms();
        if t_ms > now {
            std::thread::sleep(std::time::Duration::from_millis((t_ms - now) as u64));
        }
    }
}

/// A clock that only moves when slept on (tests).
#[derive(Debug, Default)]
pub struct ManualClock {
    pub now: i64,
    pub slept_ms: i64,
}

impl Clock for ManualClock {
    fn now_ms(&mut self) -> i64 {
        self.now
    }
    fn sleep_until_ms(&mut self, t_ms: i64) {
        if t_ms > self.now {
            self.slept_ms += t_ms - self.now;
            self.now = t_ms;
        }
    }
}

/// A replayed file. `speed`: `None` = as fast as possible, `Some(1.0)` = real time, `Some(10.0)`
/// = ten times faster.
#[derive(Debug)]
pub struct ReplaySource<C: Clock> {
    events: VecDeque<(i64, SensorEvent)>,
    speed: Option<f64>,
    clock: C,
    start: Option<(i64, i64)>,
}

impl<C: Clock> ReplaySource<C> {
    /// Replay `events` (phone ms, event; e.g. [`crate::io::replay_events`] of a file).
    pub fn from_events(events: Vec<(i64, SensorEvent)>, speed: Option<f64>, clock: C) -> Self {
        Self {
            events: events.into(),
            speed: speed.filter(|s| *s > 0.0),
            clock,
            start: None,
        }
    }

    /// The next event, sleeping on the clock until it is due (paced mode).
    pub fn next_event(&mut self) -> Option<SensorEvent> {
        let (t, _) = self.events.front()?;
        if let Some(speed) = self.speed {
            let now = self.clock.now_ms();
            let (c0, e0) = *self.start.get_or_insert((now, *t));
            let due = c0 + ((*t - e0) as f64 / speed).round() as i64;
            self.clock.sleep_until_ms(due);
        }
        self.events.pop_front().map(|(_, e)| e)
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Time of the last event, ms from the start of the file (a fresh replay's length).
    pub fn length_ms(&self) -> i64 {
        self.events.back().map_or(0, |(t, _)| (*t).max(0))
    }
}

impl<C: Clock> Iterator for ReplaySource<C> {
    type Item = SensorEvent;
    fn next(&mut self) -> Option<SensorEvent> {
        self.next_event()
    }
}

impl<C: Clock> SensorSource for ReplaySource<C> {
    /// `now_ms` is the caller's clock; events due by then (by `speed`) are appended.
    fn poll(&mut self, now_ms: i64, out: &mut Vec<SensorEvent>) -> bool {
        while let Some((t, _)) = self.events.front() {
            if let Some(speed) = self.speed {
                let (c0, e0) = *self.start.get_or_insert((now_ms, *t));
                if ((*t - e0) as f64 / speed) > (now_ms - c0) as f64 {
                    break;
                }
            }
            if let Some((_, e)) = self.events.pop_front() {
                out.push(e);
            }
        }
        !self.events.is_empty()
    }

    fn stop(&mut self, _now_ms: i64) {
        self.events.clear();
    }

    fn next_due_ms(&self) -> Option<i64> {
        let (t, _) = self.events.front()?;
        let speed = self.speed?;
        let (c0, e0) = self.start?;
        Some(c0 + ((*t - e0) as f64 / speed).ceil() as i64)
    }

    fn clock_ms(&self, now_ms: i64) -> i64 {
        match (self.speed, self.start) {
            (Some(speed), Some((c0, e0))) => {
                e0.saturating_add(((now_ms - c0) as f64 * speed).round() as i64)
            }
            _ => now_ms,
        }
    }
}

/// An RR log as the Heart Rate Measurement notifications of a strap without ECG, times in ms
/// from the log's first time: rows logged at the same time form one notification; without
/// times, each interval is notified when it ends (intervals laid end to end).
pub fn rr_log_events(log: &[RrEntry]) -> Vec<(i64, SensorEvent)> {
    let t0 = log.first().and_then(|e| e.time_s).unwrap_or(0.0);
    let bpm = |rr_ms: f64| (60_000.0 / rr_ms).round().min(f64::from(u16::MAX)) as u16;
    let mut end_ms = 0.0;
    let mut out: Vec<(i64, SensorEvent)> = Vec::new();
    for e in log {
        end_ms += e.rr_ms;
        let at_ms = match e.time_s {
            Some(t) => ((t - t0) * 1000.0).round() as i64,
            None => end_ms.round() as i64,
        };
        match out.last_mut() {
            Some((t, SensorEvent::HeartRate { rr_ms, bpm: b, .. }))
                if *t == at_ms && e.time_s.is_some() =>
            {
                rr_ms.push(e.rr_ms);
                *b = bpm(e.rr_ms);
            }
            _ => out.push((
                at_ms,
                SensorEvent::HeartRate {
                    at_ms,
                    bpm: bpm(e.rr_ms),
                    rr_ms: vec![e.rr_ms],
                    contact: None,
                },
            )),
        }
    }
    out
}

/// Samples per ECG chunk of a replayed recording (an H10 frame's).
const CHUNK: usize = 73;

/// A recording's `channel` (default: its ECG channel,
/// [`Recording::channel_or_default`](crate::record::Recording::channel_or_default)) as 73-sample
/// ECG chunks (µV), times from 0; a stretch of missing (non-finite) samples is a
/// [`GapCause::FramesMissing`] gap, as lost frames are live. A channel whose unit is not a voltage
/// is refused, as the analyses refuse it, and so is one without a single sample (an EDF with no
/// data records): replaying it would store an empty session.
pub fn recording_events(
    rec: &crate::record::Recording,
    channel: Option<usize>,
) -> Result<Vec<(i64, SensorEvent)>> {
    let ch = rec.channel_or_default(channel)?;
    let sig = &rec.signals[ch];
    let to_uv = sig.require_millivolt_factor(ch)? * 1000.0;
    if !sig.samples.iter().any(|x| x.is_finite()) {
        return Err(crate::Error::InsufficientSignal(format!(
            "channel {ch} holds no samples ({} s recorded)",
            sig.duration_s()
        )));
    }
    let interval_ms = 1000.0 / sig.sampling_rate_hz;
    let time = |i: usize| i as f64 * interval_ms;
    let samples = &sig.samples;
    let n = samples.len();
    let mut out = Vec::with_capacity(n / CHUNK + 1);
    let mut i = 0;
    while i < n {
        if !samples[i].is_finite() {
            // a stretch the file marks missing replays as a gap between the samples around it
            let first_missing = i;
            while i < n && !samples[i].is_finite() {
                i += 1;
            }
            if first_missing > 0 && i < n {
                out.push((
                    time(i).ceil() as i64,
                    SensorEvent::Gap {
                        from_ms: time(first_missing - 1),
                        to_ms: time(i),
                        missing_samples: (i - first_missing) as u64,
                        cause: GapCause::FramesMissing,
                    },
                ));
            }
            continue;
        }
        let end = (i..n.min(i + CHUNK))
            .find(|&j| !samples[j].is_finite())
            .unwrap_or(n.min(i + CHUNK));
        let last = time(end - 1);
        out.push((
            last.ceil() as i64,
            SensorEvent::Ecg(EcgChunk {
                first_sample_ms: time(i),
                sample_interval_ms: interval_ms,
                sensor_timestamp_ns: (last * 1e6) as u64,
                samples_uv: samples[i..end]
                    .iter()
                    .map(|x| (x * to_uv).round() as i32)
                    .collect(),
            }),
        ));
        i = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-channel recording at 130 Hz.
    fn recording(label: &str, unit: &str, samples: Vec<f32>) -> crate::record::Recording {
        crate::record::Recording {
            name: "r".into(),
            signals: vec![crate::record::Signal {
                label: label.into(),
                unit: unit.into(),
                sampling_rate_hz: 130.0,
                samples,
            }],
            annotations: Vec::new(),
            annotation_rate_hz: 130.0,
            ecg_channel_hint: None,
        }
    }

    #[test]
    fn a_channel_not_in_a_voltage_is_refused_as_the_analyses_refuse_it() {
        let rec = |unit: &str| recording("ecg_raw", unit, vec![1.0; 146]);
        let e = recording_events(&rec("raw"), None).unwrap_err();
        let analysis = crate::analysis::select_span(&rec("raw"), &Default::default()).unwrap_err();
        assert!(e.to_string().contains("not a voltage"), "{e}");
        assert_eq!(e.to_string(), analysis.to_string());
        let events = recording_events(&rec("mV"), None).unwrap();
        assert!(matches!(&events[0].1, SensorEvent::Ecg(c) if c.samples_uv[0] == 1000));
    }

    /// A channel without a sample (an EDF with no data records) or with only missing ones is
    /// refused: replaying it stored an empty session.
    #[test]
    fn a_channel_without_samples_is_refused() {
        for samples in [Vec::new(), vec![f32::NAN; 300]] {
            let e = recording_events(&recording("ECG", "mV", samples), None).unwrap_err();
            assert!(
                matches!(e, crate::Error::InsufficientSignal(_))
                    && e.to_string().contains("no samples"),
                "{e}"
            );
        }
    }

    /// `replay --channel`: the channel asked for, else the ECG-labelled one; a channel the
    /// recording lacks is refused as the analyses refuse it.
    #[test]
    fn a_recording_replays_the_channel_asked_for() {
        let mut rec = recording("EDA", "mV", vec![2.0; 146]);
        rec.signals.push(crate::record::Signal {
            label: "ECG".into(),
            ..rec.signals[0].clone()
        });
        rec.signals[1].samples.fill(1.0);
        let first_uv = |channel| match &recording_events(&rec, channel).unwrap()[0].1 {
            SensorEvent::Ecg(c) => c.samples_uv[0],
            e => panic!("{e:?}"),
        };
        assert_eq!((first_uv(None), first_uv(Some(0))), (1000, 2000));
        let e = recording_events(&rec, Some(2)).unwrap_err();
        let options = crate::analysis::AnalysisOptions {
            channel: Some(2),
            ..Default::default()
        };
        let analysis = crate::analysis::select_span(&rec, &options).unwrap_err();
        assert_eq!(e.to_string(), analysis.to_string());
        assert!(e.to_string().contains("channel 2 does not exist"), "{e}");
    }

    /// Missing samples in a recording (WFDB's invalid value, an export's unrecorded stretch)
    /// replay as a gap between the samples around them, not as 0 µV.
    #[test]
    fn missing_samples_of_a_recording_replay_as_a_gap() {
        let mut samples = vec![1.0f32; 400];
        samples[100..230].fill(f32::NAN);
        samples[..3].fill(f32::NAN);
        let events = recording_events(&recording("ECG", "mV", samples), None).unwrap();
        let gaps: Vec<(f64, f64, u64)> = events
            .iter()
            .filter_map(|(_, e)| match e {
                SensorEvent::Gap {
                    from_ms,
                    to_ms,
                    missing_samples,
                    ..
                } => Some((*from_ms, *to_ms, *missing_samples)),
                _ => None,
            })
            .collect();
        let ms = |i: usize| i as f64 * (1000.0 / 130.0);
        assert_eq!(
            gaps,
            [(ms(99), ms(230), 130)],
            "the leading stretch is no gap"
        );
        let chunks: Vec<(f64, usize)> = events
            .iter()
            .filter_map(|(_, e)| match e {
                SensorEvent::Ecg(c) => {
                    assert!(c.samples_uv.iter().all(|&v| v == 1000));
                    Some((c.first_sample_ms, c.samples_uv.len()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(chunks.iter().map(|c| c.1).sum::<usize>(), 400 - 130 - 3);
        assert_eq!(chunks[0].0, ms(3));
        assert!(chunks.iter().any(|c| c.0 == ms(230)), "{chunks:?}");
        assert!(events.windows(2).all(|w| w[0].0 <= w[1].0), "in time order");
    }

    fn frame(ts_ns: u64, n: usize) -> Vec<u8> {
        let mut f = vec![0u8];
        f.extend(ts_ns.to_le_bytes());
        f.push(0);
        f.extend(std::iter::repeat_n([0x10, 0, 0], n).flatten());
        f
    }

    fn ecg_samples(events: &[(i64, SensorEvent)]) -> usize {
        events
            .iter()
            .map(|(_, e)| match e {
                SensorEvent::Ecg(c) => c.samples_uv.len(),
                _ => 0,
            })
            .sum()
    }

    /// 200 frames of 73 samples at 130 Hz, the sensor clock moved by `jump_ns` from frame 100.
    fn jumping(jump_ns: u64) -> Vec<Vec<u8>> {
        let step = 73 * 1_000_000_000u64 / 130;
        (0..200u64)
            .map(|f| {
                let ts = 700_000_000_000_000_000 + (f + 1) * step;
                frame(ts.wrapping_add(if f >= 100 { jump_ns } else { 0 }), 73)
            })
            .collect()
    }

    #[test]
    fn a_replayed_clock_jump_opens_an_hour_at_most_and_a_reset_none() {
        let day_ns = 86_400 * 1_000_000_000u64;
        let gaps = |events: &[(i64, SensorEvent)]| -> Vec<(u64, GapCause)> {
            events
                .iter()
                .filter_map(|(_, e)| match e {
                    SensorEvent::Gap {
                        missing_samples,
                        cause,
                        ..
                    } => Some((*missing_samples, *cause)),
                    _ => None,
                })
                .collect()
        };
        let ev = session_events_for_notifications(&jumping(2 * day_ns), SessionConfig::default());
        let g = gaps(&ev);
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!(g[0].1, GapCause::ClockJump);
        assert!(g[0].0.abs_diff(3600 * 130) <= 73, "{g:?}");
        let span_ms = ev.last().unwrap().0 - ev.first().unwrap().0;
        assert!((3_700_000..3_800_000).contains(&span_ms), "{span_ms} ms");

        // a reset to the H10's power-down epoch, years back: no hole, the session goes on
        let ev = session_events_for_notifications(
            &jumping(0u64.wrapping_sub(400 * day_ns)),
            SessionConfig::default(),
        );
        assert_eq!(gaps(&ev), vec![]);
        assert!(
            ev.iter()
                .any(|(_, e)| matches!(e, SensorEvent::TimestampJump { .. }))
        );
        assert_eq!(ecg_samples(&ev), 200 * 73);

        // records without a timestamp (an empty last record, a stray byte) move no clock
        let mut frames = jumping(0);
        frames.insert(50, vec![0]);
        frames.push(Vec::new());
        let ev = session_events_for_notifications(&frames, SessionConfig::default());
        assert_eq!(gaps(&ev), vec![]);
        let span_ms = ev.last().unwrap().0 - ev.first().unwrap().0;
        assert!((111_000..113_000).contains(&span_ms), "{span_ms} ms");
    }

    #[test]
    fn a_capture_cut_off_mid_write_keeps_its_complete_records() {
        let mut bytes = pmd_capture::MAGIC.to_vec();
        for body in [&b"abc"[..], b"defg"] {
            bytes.extend((body.len() as u32).to_le_bytes());
            bytes.extend(body);
        }
        for cut in [1, 3, 6] {
            let n = parse_capture(&bytes[..bytes.len() - cut]).unwrap();
            assert_eq!(n, vec![b"abc".to_vec()], "cut {cut}");
        }
        assert_eq!(parse_capture(&bytes).unwrap().len(), 2);
        assert!(parse_capture(b"H10 ECG").is_err());
        assert!(parse_capture(&[b'x'; 40]).is_err());
    }

    #[test]
    fn capture_round_trip_and_pacing_without_sleeping() {
        let mut bytes = pmd_capture::MAGIC.to_vec();
        let step = 73 * 1_000_000_000u64 / 130;
        for k in 1..=20u64 {
            let f = frame(1_000_000_000_000 + k * step, 73);
            bytes.extend((f.len() as u32).to_le_bytes());
            bytes.extend(f);
        }
        let n = parse_capture(&bytes).unwrap();
        assert_eq!(n.len(), 20);
        let ev = session_events_for_notifications(&n, SessionConfig::default());
        assert_eq!(ecg_samples(&ev), 20 * 73);
        assert!(!ev.iter().any(|(_, e)| matches!(e, SensorEvent::Gap { .. })));
        let mut r = ReplaySource::from_events(ev, Some(2.0), ManualClock::default());
        let count = r.by_ref().count();
        assert!(count > 20);
        // 19 frame steps of ~561.5 ms at double speed ≈ 5.3 s "slept" on the manual clock.
        let slept = r.clock().slept_ms;
        assert!((5000..5700).contains(&slept), "{slept}");
    }

    #[test]
    fn the_next_due_time_is_known_once_polling_started() {
        let years_ms = 30 * 365 * 86_400_000i64;
        let at = |t: i64| {
            (
                t,
                SensorEvent::Contact {
                    at_ms: t,
                    contact: Some(true),
                },
            )
        };
        let mut r =
            ReplaySource::from_events(vec![at(0), at(years_ms)], Some(1.0), ManualClock::default());
        assert_eq!(r.next_due_ms(), None); // no time base before the first poll
        let mut out = Vec::new();
        assert!(r.poll(5_000, &mut out));
        assert_eq!(out.len(), 1);
        assert_eq!(r.next_due_ms(), Some(5_000 + years_ms));
        assert!(!r.poll(5_000 + years_ms, &mut out));
        assert_eq!(r.next_due_ms(), None);
    }
}
