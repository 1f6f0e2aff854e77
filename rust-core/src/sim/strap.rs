//! A simulated Polar H10 on the sans-I/O transport contract: commands in through
//! [`SimStrap::handle`], events out through [`SimStrap::poll`], both with the phone clock (ms).
//!
//! What it speaks (see `../shared/docs/protocols.md`): Connect / Disconnect, RequestMtu (no event, like the
//! platform stacks: the new MTU only matters to a later ECG start), Subscribe (HR notify, battery,
//! PMD control point indicate, PMD data notify), reads of battery (`[pct]`) and the control point
//! (`0F 05 00`: ECG + ACC), control-point writes answered by an indication:
//! get ECG settings `01 00` → `F0 01 00 00 00 00 01 82 00 01 01 0E 00`; start ECG
//! `02 00 00 01 82 00 01 01 0E 00` → `F0 02 00 00 00`, then 229-byte ECG frames (73 samples,
//! timestamp = sensor ns since 2000 of the last sample); a start on an MTU < 232 → status 10; a
//! start while streaming → 6; other settings → 5; stop `03 00` → `F0 03 00 00 00`; other types
//! → 3 (not supported: the simulator has no ACC); with `split_replies`, a reply comes in several
//! whole reply packets (`more` set on all but the last). Heart-rate notifications every ~1 s with the RR
//! of the beats since the last one (1/1024 s) and the contact bits (lead-off: "no contact", no
//! RR, flat ECG; 45 s off the body and the strap drops the link until contact returns). A link
//! loss stops the stream (a real H10 needs a new start after reconnecting).
//!
//! Timing: the strap samples at 130 Hz on its own clock (drift: `faults.drift_ppm`); frames are
//! sent at the next BLE connection event after their last sample, with link stalls (radio
//! interference, the phone's scheduler) after which the queued frames arrive in a burst, always
//! in order (BLE is reliable and in-order; loss/reorder come from the fault model).
//!
//! Ground truth ([`GroundTruth`]): true beats, every frame with its generator sample range and
//! fate, and every injected fault; [`GroundTruth::gaps`] lists the sample ranges never delivered.

use super::Rng;
use super::ecgsyn::{EcgConfig, EcgSynth, LeadOff, TrueBeat};
use super::faults::{FaultConfig, FaultKind, FaultRecord, LinkFaults};
use crate::protocol::hrs::{HeartRateMeasurement, SensorContact, rr_from_ms};
use crate::protocol::pmd;
use crate::sensor::transport::{
    Characteristic, TransportCommand, TransportEvent, TransportEventKind,
};

/// Samples in one H10 ECG frame.
pub const ECG_SAMPLES_PER_FRAME: usize = 73;
/// Bytes in one H10 ECG frame (10 header + 73 × 3).
pub const ECG_FRAME_BYTES: usize = 10 + 3 * ECG_SAMPLES_PER_FRAME;
/// MTU needed for an ECG frame.
pub const MIN_ECG_MTU: u16 = 232;
/// An H10 off the body drops the link after about this long.
pub const OFF_BODY_LINK_DROP_MS: i64 = 45_000;
/// Nominal H10 ECG rate (in the strap's own clock).
pub const H10_FS_HZ: f64 = 130.0;
/// 2019-01-01T00:00:00Z in ns since 2000-01-01 (where the H10 clock restarts after power-down).
pub const NS_2019: u64 = 599_616_000 * 1_000_000_000;
/// 2026-01-01T00:00:00Z in ns since 2000-01-01.
pub const NS_2026: u64 = 820_540_800 * 1_000_000_000;

/// The exact get-settings reply of an H10 for ECG.
pub const ECG_SETTINGS_REPLY: [u8; 13] = [
    0xF0, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E, 0x00,
];
/// Start ECG 130 Hz, 14-bit.
pub const START_ECG: [u8; 10] = [0x02, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E, 0x00];

/// Simulated strap settings.
#[derive(Debug, Clone, PartialEq)]
pub struct StrapConfig {
    /// The wearer's ECG (its `fs_hz` is the nominal strap rate; drift is applied on top).
    pub ecg: EcgConfig,
    pub faults: FaultConfig,
    pub seed: u64,
    /// Phone time at which the simulation (and the heart) starts.
    pub start_ms: i64,
    /// MTU of a fresh link (btleplug on Android stays at 23).
    pub connect_mtu: u16,
    /// Largest MTU the strap accepts.
    pub max_mtu: u16,
    /// BLE connection interval.
    pub conn_interval_ms: f64,
    /// Link stalls per minute (frames queue, then arrive in a burst).
    pub stalls_per_min: f64,
    /// Longest stall.
    pub max_stall_ms: f64,
    /// Sensor clock at the first sample (ns since 2000).
    pub sensor_clock_start_ns: u64,
    pub battery_pct: u8,
    pub lead_off_style: LeadOff,
    /// A connect the strap cannot answer fails after this long.
    pub connect_timeout_ms: i64,
    /// Send control-point replies in packets of at most this many parameter bytes, each a whole
    /// reply packet with `more` set on all but the last (as a strap does whose reply does not fit
    /// one indication); `None`: one packet.
    pub split_replies: Option<usize>,
}

impl Default for StrapConfig {
    fn default() -> Self {
        StrapConfig {
            ecg: EcgConfig::default(),
            faults: FaultConfig::default(),
            seed: 1,
            start_ms: 0,
            connect_mtu: 23,
            max_mtu: 232,
            conn_interval_ms: 30.0,
            stalls_per_min: 1.0,
            max_stall_ms: 1200.0,
            sensor_clock_start_ns: NS_2026,
            battery_pct: 87,
            lead_off_style: LeadOff::Flat,
            connect_timeout_ms: 30_000,
            split_replies: None,
        }
    }
}

/// One ECG frame the strap produced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameTruth {
    pub seq: u64,
    /// Generator sample index of its first sample (see [`GroundTruth::sample_time_ms`]).
    pub first_sample: u64,
    pub n_samples: u16,
    /// The timestamp in the frame (sensor clock, ns since 2000, last sample).
    pub sensor_ts_ns: u64,
    /// Phone time of its last sample.
    pub ready_ms: i64,
    /// Phone time it was (first) delivered; `None`: lost, never sent or dropped with the link.
    pub delivered_ms: Option<i64>,
    /// Delivered with a corrupted byte.
    pub corrupted: bool,
}

/// A run of generator samples the consumer never received.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gap {
    pub first_sample: u64,
    pub n_samples: u64,
    /// Phone time of the first missing sample, ms.
    pub at_ms: f64,
    /// n_samples / fs, ms.
    pub len_ms: f64,
}

/// What really happened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroundTruth {
    /// Generator (true) sampling rate in phone time, Hz.
    pub fs_hz: f64,
    pub start_ms: i64,
    pub beats: Vec<TrueBeat>,
    pub frames: Vec<FrameTruth>,
    pub faults: Vec<FaultRecord>,
}

impl GroundTruth {
    /// Phone time of generator sample k.
    pub fn sample_time_ms(&self, k: u64) -> f64 {
        self.start_ms as f64 + k as f64 * 1000.0 / self.fs_hz
    }

    /// Frames that arrived intact (first copy), in sample order.
    pub fn delivered_frames(&self) -> Vec<FrameTruth> {
        let mut v: Vec<FrameTruth> = self
            .frames
            .iter()
            .filter(|f| f.delivered_ms.is_some() && !f.corrupted)
            .copied()
            .collect();
        v.sort_by_key(|f| f.first_sample);
        v
    }

    /// Sample ranges between delivered intact frames that never arrived intact (from the first
    /// delivered frame to the last one).
    pub fn gaps(&self) -> Vec<Gap> {
        let mut out = Vec::new();
        let mut next: Option<u64> = None;
        for f in self.delivered_frames() {
            if let Some(n) = next
                && f.first_sample > n
            {
                out.push(Gap {
                    first_sample: n,
                    n_samples: f.first_sample - n,
                    at_ms: self.sample_time_ms(n),
                    len_ms: (f.first_sample - n) as f64 * 1000.0 / self.fs_hz,
                });
            }
            next = Some(f.first_sample + u64::from(f.n_samples));
        }
        out
    }

    /// Injected faults of one kind.
    pub fn faults_of(&self, kind: FaultKind) -> impl Iterator<Item = &FaultRecord> {
        self.faults.iter().filter(move |f| f.kind == kind)
    }
}

#[derive(Debug, Clone)]
struct Queued {
    at_ms: i64,
    /// Index into truth.frames for PMD frames.
    frame: Option<usize>,
    event: TransportEventKind,
}

#[derive(Debug, Clone, Copy, Default)]
struct Subs {
    hr: bool,
    battery: bool,
    cp: bool,
    data: bool,
}

/// The simulated H10.
#[derive(Debug)]
pub struct SimStrap {
    cfg: StrapConfig,
    ecg: EcgSynth,
    fs_true: f64,
    rng: Rng,
    link: LinkFaults,
    truth: GroundTruth,
    queue: Vec<Queued>,
    connected: bool,
    mtu: u16,
    subs: Subs,
    streaming: bool,
    pending_connect: Option<i64>,
    frame: [i32; ECG_SAMPLES_PER_FRAME],
    frame_len: usize,
    frame_first: u64,
    seq: u64,
    /// Sensor clock: ns at generator sample k_base.
    ns_base: u64,
    k_base: u64,
    ce_anchor_ms: f64,
    last_delivery_ms: f64,
    stall_until_ms: f64,
    next_hr_ms: i64,
    hr_beats: Vec<TrueBeat>,
    last_hr: u8,
    next_jump_ms: Option<i64>,
    in_disconnect: bool,
    powered_down: bool,
    lead_off: bool,
    /// Phone time the current lead-off began (the H10 drops the link 45 s later).
    lead_off_since: Option<i64>,
    /// Off the body for longer than [`OFF_BODY_LINK_DROP_MS`]: the strap dropped the link.
    off_body_asleep: bool,
    silent: Option<usize>,
    /// In an `ecg_refused` window: the stream is stopped and starts are refused.
    ecg_refused: bool,
    /// Index of the open window record per scheduled kind (disconnect, power, leadoff).
    open_records: [Option<usize>; 3],
}

impl SimStrap {
    pub fn new(cfg: StrapConfig) -> Self {
        let drift = cfg.faults.drift_ppm * 1e-6;
        let fs_true = cfg.ecg.fs_hz * (1.0 + drift);
        let ecg_cfg = EcgConfig {
            fs_hz: fs_true,
            seed: cfg.ecg.seed ^ cfg.seed.rotate_left(17),
            ..cfg.ecg.clone()
        };
        let ecg = EcgSynth::new(ecg_cfg);
        let mut rng = Rng::fork(cfg.seed, 10);
        let ce_anchor_ms = rng.range(0.0, cfg.conn_interval_ms.max(1.0));
        let link = LinkFaults::new(cfg.faults, cfg.seed);
        let next_jump_ms = cfg.faults.jump_every_ms.map(|j| cfg.start_ms + j);
        let truth = GroundTruth {
            fs_hz: ecg.fs_hz(),
            start_ms: cfg.start_ms,
            ..GroundTruth::default()
        };
        SimStrap {
            ecg,
            fs_true,
            rng,
            link,
            truth,
            queue: Vec::new(),
            connected: false,
            mtu: cfg.connect_mtu,
            subs: Subs::default(),
            streaming: false,
            pending_connect: None,
            frame: [0; ECG_SAMPLES_PER_FRAME],
            frame_len: 0,
            frame_first: 0,
            seq: 0,
            ns_base: cfg.sensor_clock_start_ns,
            k_base: 0,
            ce_anchor_ms,
            last_delivery_ms: f64::MIN,
            stall_until_ms: f64::MIN,
            next_hr_ms: cfg.start_ms + 1000,
            hr_beats: Vec::with_capacity(16),
            last_hr: 0,
            next_jump_ms,
            in_disconnect: false,
            powered_down: false,
            lead_off: false,
            lead_off_since: None,
            off_body_asleep: false,
            silent: None,
            ecg_refused: false,
            open_records: [None; 3],
            cfg,
        }
    }

    pub fn config(&self) -> &StrapConfig {
        &self.cfg
    }

    /// The ground truth so far.
    pub fn truth(&self) -> &GroundTruth {
        &self.truth
    }

    /// Take the ground truth collected so far (for long runs; keeps fs/start).
    pub fn take_truth(&mut self) -> GroundTruth {
        let fresh = GroundTruth {
            fs_hz: self.truth.fs_hz,
            start_ms: self.truth.start_ms,
            ..GroundTruth::default()
        };
        std::mem::replace(&mut self.truth, fresh)
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    pub fn is_streaming(&self) -> bool {
        self.streaming
    }

    /// Phone time of generator sample k.
    pub fn sample_time_ms(&self, k: u64) -> f64 {
        self.cfg.start_ms as f64 + k as f64 * 1000.0 / self.fs_true
    }

    /// Events due by `now_ms` (the simulation is advanced to `now_ms` first).
    pub fn poll(&mut self, now_ms: i64) -> Vec<TransportEvent> {
        self.advance_to(now_ms);
        let n = self.queue.partition_point(|q| q.at_ms <= now_ms);
        self.queue
            .drain(..n)
            .map(|q| TransportEvent {
                at_ms: q.at_ms,
                kind: q.event,
            })
            .collect()
    }

    /// A command from the core, issued at `now_ms`. Answers come out of [`Self::poll`].
    pub fn handle(&mut self, cmd: TransportCommand, now_ms: i64) {
        self.advance_to(now_ms);
        let latency = self.reply_latency_ms(now_ms);
        if !self.connected && cmd != TransportCommand::Connect {
            self.push(now_ms + 1, None, failed(cmd, "not connected"));
            return;
        }
        match cmd {
            TransportCommand::Connect => {
                if self.connected {
                    let mtu = self.mtu;
                    self.push(
                        now_ms + latency,
                        None,
                        TransportEventKind::Connected { mtu },
                    );
                } else {
                    self.pending_connect = Some(now_ms);
                    self.try_connect(now_ms);
                }
            }
            TransportCommand::Disconnect => {
                self.drop_link(now_ms + latency, "disconnected by the phone");
            }
            TransportCommand::RequestMtu { mtu } => {
                self.mtu = mtu.clamp(23, self.cfg.max_mtu);
            }
            TransportCommand::Subscribe { characteristic, .. } => match characteristic {
                Characteristic::HeartRateMeasurement => self.subs.hr = true,
                Characteristic::BatteryLevel => self.subs.battery = true,
                Characteristic::PmdControlPoint => self.subs.cp = true,
                Characteristic::PmdData => self.subs.data = true,
            },
            TransportCommand::Read { characteristic } => {
                if self.silent.is_some() {
                    return;
                }
                let value = match characteristic {
                    Characteristic::BatteryLevel => vec![self.cfg.battery_pct.min(100)],
                    Characteristic::PmdControlPoint => vec![0x0F, 0x05, 0x00],
                    _ => {
                        self.push(
                            now_ms + latency,
                            None,
                            failed(cmd, "read not permitted (ATT error 0x02)"),
                        );
                        return;
                    }
                };
                self.push(
                    now_ms + latency,
                    None,
                    TransportEventKind::ReadResult {
                        characteristic,
                        value,
                    },
                );
            }
            TransportCommand::Write {
                characteristic: Characteristic::PmdControlPoint,
                ref value,
            } => {
                if self.silent.is_some() {
                    return; // the strap stopped answering
                }
                let reply = self.control_point(value);
                if self.subs.cp {
                    for value in split_reply(&reply, self.cfg.split_replies) {
                        self.push(
                            now_ms + latency,
                            None,
                            TransportEventKind::Notification {
                                characteristic: Characteristic::PmdControlPoint,
                                value,
                            },
                        );
                    }
                }
            }
            TransportCommand::Write { .. } => {
                self.push(
                    now_ms + latency,
                    None,
                    failed(cmd, "write not permitted (ATT error 0x03)"),
                );
            }
        }
    }

    /// Run a control-point command, return the indication.
    fn control_point(&mut self, v: &[u8]) -> Vec<u8> {
        let (op, ty) = match v {
            [op, ty, ..] => (*op, *ty),
            [op] => return vec![0xF0, *op, 0x00, 0x04, 0x00],
            [] => return vec![0xF0, 0x00, 0x00, 0x04, 0x00],
        };
        let status = |s: u8| vec![0xF0, op, ty, s, 0x00];
        match (op, ty) {
            (0x01, 0x00) => ECG_SETTINGS_REPLY.to_vec(),
            (0x02, 0x00) => {
                if self.mtu < MIN_ECG_MTU {
                    status(10)
                } else if self.ecg_refused {
                    status(12)
                } else if self.streaming {
                    status(6)
                } else if v != START_ECG {
                    status(5)
                } else {
                    self.streaming = true;
                    self.frame_len = 0;
                    status(0)
                }
            }
            (0x03, 0x00) => {
                self.streaming = false;
                self.frame_len = 0;
                status(0)
            }
            (0x01..=0x03 | 0x05, _) => status(3),
            _ => status(1),
        }
    }

    fn reply_latency_ms(&mut self, now_ms: i64) -> i64 {
        // the reply goes out 1-3 connection events later
        let ce = self.next_ce(now_ms as f64 + 1.0);
        let extra = self.rng.below(3) as f64 * self.cfg.conn_interval_ms;
        ((ce + extra).ceil() as i64 - now_ms).max(1)
    }

    fn next_ce(&self, t: f64) -> f64 {
        let ci = self.cfg.conn_interval_ms.max(1.0);
        self.ce_anchor_ms + ((t - self.ce_anchor_ms) / ci).ceil() * ci
    }

    fn push(&mut self, at_ms: i64, frame: Option<usize>, event: TransportEventKind) {
        let q = Queued {
            at_ms,
            frame,
            event,
        };
        let i = self.queue.partition_point(|x| x.at_ms <= at_ms);
        self.queue.insert(i, q);
    }

    fn available(&self) -> bool {
        !self.in_disconnect && !self.powered_down && !self.off_body_asleep
    }

    fn try_connect(&mut self, t: i64) {
        let Some(req) = self.pending_connect else {
            return;
        };
        if self.available() {
            self.pending_connect = None;
            self.connected = true;
            self.mtu = self.cfg.connect_mtu;
            self.subs = Subs::default();
            self.streaming = false;
            let lat = self.rng.range(200.0, 800.0) as i64;
            let mtu = self.mtu;
            self.push(t + lat, None, TransportEventKind::Connected { mtu });
        } else if t - req >= self.cfg.connect_timeout_ms {
            self.pending_connect = None;
            self.push(
                t,
                None,
                failed(
                    TransportCommand::Connect,
                    "connect timed out (strap not advertising)",
                ),
            );
        }
    }

    /// The link goes down at `at`: frames still queued are lost with it, the stream stops.
    fn drop_link(&mut self, at: i64, reason: &str) {
        if !self.connected {
            return;
        }
        self.connected = false;
        self.streaming = false;
        self.frame_len = 0;
        self.subs = Subs::default();
        let mut kept = Vec::with_capacity(self.queue.len());
        let mut lost = Vec::new();
        let queue = std::mem::take(&mut self.queue);
        for q in queue {
            if q.at_ms >= at && matches!(q.event, TransportEventKind::Notification { .. }) {
                if let Some(i) = q.frame
                    && let Some(f) = self.truth.frames.get_mut(i)
                    && f.delivered_ms.take().is_some()
                {
                    let (first, seq) = (f.first_sample, f.seq);
                    let at_ms = self.sample_time_ms(first).floor() as i64;
                    lost.push(FaultRecord {
                        kind: FaultKind::LostWithLink,
                        at_ms,
                        len_ms: (ECG_SAMPLES_PER_FRAME as f64 * 1000.0 / self.fs_true).round()
                            as i64,
                        first_sample: Some(first),
                        n_samples: ECG_SAMPLES_PER_FRAME as u64,
                        frame_seq: Some(seq),
                    });
                }
            } else {
                kept.push(q);
            }
        }
        self.queue = kept;
        self.truth.faults.append(&mut lost);
        self.push(
            at,
            None,
            TransportEventKind::Disconnected {
                reason: reason.to_string(),
            },
        );
    }

    fn sensor_ns(&self, k: u64) -> u64 {
        let dk = k.saturating_sub(self.k_base) as f64;
        self.ns_base
            .saturating_add((dk * 1e9 / self.cfg.ecg.fs_hz.max(1.0)).round() as u64)
    }

    fn record(&mut self, kind: FaultKind, at_ms: i64, len_ms: i64) -> usize {
        self.truth.faults.push(FaultRecord {
            kind,
            at_ms,
            len_ms,
            first_sample: None,
            n_samples: 0,
            frame_seq: None,
        });
        self.truth.faults.len() - 1
    }

    /// Scheduled faults at phone time t (generator sample k about to be produced).
    fn schedule(&mut self, t: i64, k: u64) {
        let f = self.cfg.faults;
        // power-down: link lost, strap off; the clock restarts at 2019-01-01 when it comes back
        let pd = f
            .power_down
            .and_then(|p| p.window_at(t - self.cfg.start_ms));
        match (pd, self.powered_down) {
            (Some((s, e)), false) => {
                self.powered_down = true;
                self.open_records[1] = Some(self.record(FaultKind::PowerDown, s, e - s));
                self.drop_link(t, "strap powered off");
            }
            (None, true) => {
                self.powered_down = false;
                self.k_base = k;
                self.ns_base = NS_2019;
                self.record(FaultKind::ClockReset, t, 0);
            }
            _ => {}
        }
        let dc = f
            .disconnect
            .and_then(|p| p.window_at(t - self.cfg.start_ms));
        match (dc, self.in_disconnect) {
            (Some((s, e)), false) => {
                self.in_disconnect = true;
                self.open_records[0] = Some(self.record(FaultKind::Disconnect, s, e - s));
                self.drop_link(t, "link lost (supervision timeout)");
            }
            (None, true) => self.in_disconnect = false,
            _ => {}
        }
        if self.pending_connect.is_some() {
            self.try_connect(t);
        }
        let lo = f.leadoff.and_then(|p| p.window_at(t - self.cfg.start_ms));
        match (lo, self.lead_off) {
            (Some((s, e)), false) => {
                self.lead_off = true;
                self.lead_off_since = Some(t);
                self.ecg.set_lead_off(Some(self.cfg.lead_off_style));
                let i = self.record(FaultKind::LeadOff, s, e - s);
                self.truth.faults[i].first_sample = Some(k);
                self.open_records[2] = Some(i);
            }
            (None, true) => {
                self.lead_off = false;
                self.lead_off_since = None;
                self.off_body_asleep = false;
                self.ecg.set_lead_off(None);
                if let Some(i) = self.open_records[2].take()
                    && let Some(r) = self.truth.faults.get_mut(i)
                {
                    r.n_samples = k.saturating_sub(r.first_sample.unwrap_or(k));
                }
            }
            _ => {}
        }
        // a real H10 drops the link ~45 s after it is taken off the body
        if let Some(since) = self.lead_off_since
            && !self.off_body_asleep
            && t - since >= OFF_BODY_LINK_DROP_MS
        {
            self.off_body_asleep = true;
            self.drop_link(t, "no skin contact for 45 s (strap asleep)");
        }
        let si = f.silent.and_then(|p| p.window_at(t - self.cfg.start_ms));
        match (si, self.silent) {
            (Some((s, e)), None) => {
                let i = self.record(FaultKind::Silent, s, e - s);
                self.silent = Some(i);
            }
            (None, Some(_)) => self.silent = None,
            _ => {}
        }
        let refused = f
            .ecg_refused
            .and_then(|p| p.window_at(t - self.cfg.start_ms));
        match (refused, self.ecg_refused) {
            (Some((s, e)), false) => {
                self.ecg_refused = true;
                self.record(FaultKind::EcgRefused, s, e - s);
                if self.streaming {
                    self.streaming = false;
                    self.frame_len = 0;
                    if self.connected && self.subs.cp {
                        // "the device stopped the ECG stream" (an indication starting 01)
                        self.push(
                            t + 1,
                            None,
                            TransportEventKind::Notification {
                                characteristic: Characteristic::PmdControlPoint,
                                value: vec![0x01, 0x00],
                            },
                        );
                    }
                }
            }
            (None, true) => self.ecg_refused = false,
            _ => {}
        }
        if let (Some(j), Some(every)) = (self.next_jump_ms, f.jump_every_ms)
            && t >= j
        {
            self.next_jump_ms = Some(j + every);
            let d = self.link.jump_ns();
            let now_ns = self.sensor_ns(k) as i64;
            self.ns_base = now_ns.saturating_add(d).max(0) as u64;
            self.k_base = k;
            self.record(FaultKind::TimestampJump, t, d / 1_000_000);
        }
    }

    /// Generate the ECG up to phone time `now_ms`, producing frames and HR notifications.
    fn advance_to(&mut self, now_ms: i64) {
        loop {
            let k = self.ecg.samples_generated();
            let t_f = self.sample_time_ms(k);
            if t_f > now_ms as f64 {
                break;
            }
            let t = t_f.floor() as i64;
            self.schedule(t, k);
            while t >= self.next_hr_ms {
                let at = self.next_hr_ms;
                self.next_hr_ms += 1000;
                self.heart_rate(at);
            }
            let v = self.ecg.next_sample();
            if self.ecg.samples_generated().is_multiple_of(256) || self.hr_beats.is_empty() {
                let before = self.truth.beats.len();
                self.ecg.drain_beats_into(&mut self.truth.beats);
                self.hr_beats.extend_from_slice(&self.truth.beats[before..]);
            }
            if self.streaming {
                if self.frame_len == 0 {
                    self.frame_first = k;
                }
                self.frame[self.frame_len] = (v.round() as i32).clamp(-8_388_608, 8_388_607);
                self.frame_len += 1;
                if self.frame_len == ECG_SAMPLES_PER_FRAME {
                    self.frame_len = 0;
                    self.emit_frame(k, t_f);
                }
            }
        }
    }

    fn heart_rate(&mut self, at: i64) {
        let mut beats = std::mem::take(&mut self.hr_beats);
        let before = self.truth.beats.len();
        self.ecg.drain_beats_into(&mut self.truth.beats);
        beats.extend_from_slice(&self.truth.beats[before..]);
        // beats up to `at` go in this notification, later ones wait
        let due = beats.partition_point(|b| self.sample_time_ms(b.sample) <= at as f64);
        self.hr_beats.extend_from_slice(&beats[due..]);
        beats.truncate(due);
        if !self.connected || !self.subs.hr || self.silent.is_some() || self.powered_down {
            return;
        }
        let rr: Vec<f64> = if self.lead_off {
            Vec::new()
        } else {
            beats.iter().filter_map(|b| b.rr_s).collect()
        };
        if let Some(&last) = rr.last() {
            self.last_hr = (60.0 / last).round().clamp(0.0, 255.0) as u8;
        }
        let value = encode_hr(self.last_hr, !self.lead_off, &rr);
        self.push(
            at + 5,
            None,
            TransportEventKind::Notification {
                characteristic: Characteristic::HeartRateMeasurement,
                value,
            },
        );
    }

    fn emit_frame(&mut self, k_last: u64, t_last: f64) {
        let seq = self.seq;
        self.seq += 1;
        let first = self.frame_first;
        let ts = self.sensor_ns(k_last);
        let mut bytes = encode_ecg_frame(ts, &self.frame);
        let ready = t_last.ceil() as i64;
        let idx = self.truth.frames.len();
        self.truth.frames.push(FrameTruth {
            seq,
            first_sample: first,
            n_samples: ECG_SAMPLES_PER_FRAME as u16,
            sensor_ts_ns: ts,
            ready_ms: ready,
            delivered_ms: None,
            corrupted: false,
        });
        let len_ms = (ECG_SAMPLES_PER_FRAME as f64 * 1000.0 / self.fs_true).round() as i64;
        let at0 = self.sample_time_ms(first).floor() as i64;
        let rec = |kind| FaultRecord {
            kind,
            at_ms: at0,
            len_ms,
            first_sample: Some(first),
            n_samples: ECG_SAMPLES_PER_FRAME as u64,
            frame_seq: Some(seq),
        };
        if let Some(i) = self.silent {
            let r = rec(FaultKind::SamplesNotSent);
            if let Some(s) = self.truth.faults.get_mut(i) {
                s.first_sample.get_or_insert(first);
                s.n_samples += ECG_SAMPLES_PER_FRAME as u64;
            }
            self.truth.faults.push(r);
            return;
        }
        if !self.subs.data || !self.connected {
            return;
        }
        // link timing: next connection event, or the end of a stall (then a burst)
        let period_min = ECG_SAMPLES_PER_FRAME as f64 / self.fs_true / 60.0;
        if self.rng.chance(self.cfg.stalls_per_min * period_min) {
            let stall = self.rng.range(100.0, self.cfg.max_stall_ms.max(101.0));
            self.stall_until_ms = t_last + stall;
        }
        let earliest = (t_last + 1.0 + self.rng.range(0.0, 3.0)).max(self.stall_until_ms);
        let ce = self.next_ce(earliest).max(self.last_delivery_ms);
        self.last_delivery_ms = ce;
        let fate = self.link.fate(bytes.len());
        if fate.lost {
            self.truth.faults.push(rec(FaultKind::FrameLost));
            return;
        }
        if let Some((i, m)) = fate.corrupt
            && let Some(b) = bytes.get_mut(i)
        {
            *b ^= m;
            self.truth.frames[idx].corrupted = true;
            self.truth.faults.push(rec(FaultKind::FrameCorrupted));
        }
        let mut at = ce.ceil() as i64;
        if fate.reorder {
            // held back until after the next frame
            at += (ECG_SAMPLES_PER_FRAME as f64 * 1000.0 / self.fs_true) as i64
                + self.cfg.conn_interval_ms as i64
                + 1;
            self.truth.faults.push(rec(FaultKind::FrameReordered));
        }
        self.truth.frames[idx].delivered_ms = Some(at);
        let ev = TransportEventKind::Notification {
            characteristic: Characteristic::PmdData,
            value: bytes,
        };
        if fate.dup {
            self.truth.faults.push(rec(FaultKind::FrameDuplicated));
            self.push(at, Some(idx), ev.clone());
        }
        self.push(at, Some(idx), ev);
    }
}

/// A minimal phone-side driver for the CLI and tests (the real one is `sensor::session`):
/// connect, MTU 512, subscribe, start ECG; reconnect 1 s after a link loss or a failed connect;
/// drop and re-establish the link when data stop for 5 s while streaming (a silent strap).
#[derive(Debug, Default)]
pub struct BasicPhone {
    started: bool,
    connect_at: Option<i64>,
    streaming_since: Option<i64>,
    last_data_ms: i64,
    start_retry_at: Option<i64>,
    /// A start sent and not answered yet (a silent strap): resent after 3 s.
    start_sent_at: Option<i64>,
    /// Times the link was (re)established.
    pub connects: u32,
}

impl BasicPhone {
    pub fn new() -> Self {
        Self::default()
    }

    /// Poll the strap at `now_ms`, react, and return the events seen.
    pub fn step(&mut self, strap: &mut SimStrap, now_ms: i64) -> Vec<TransportEvent> {
        if !self.started {
            self.started = true;
            strap.handle(TransportCommand::Connect, now_ms);
        }
        if self.connect_at.is_some_and(|t| now_ms >= t) {
            self.connect_at = None;
            strap.handle(TransportCommand::Connect, now_ms);
        }
        if self.start_sent_at.is_some_and(|t| now_ms - t > 3000) {
            self.start_retry_at = Some(now_ms);
        }
        if self.start_retry_at.is_some_and(|t| now_ms >= t) {
            self.start_retry_at = None;
            self.start_sent_at = Some(now_ms);
            strap.handle(TransportCommand::RequestMtu { mtu: 512 }, now_ms);
            strap.handle(write_cp(&START_ECG), now_ms);
        }
        if self.streaming_since.is_some() && now_ms - self.last_data_ms > 5000 {
            self.streaming_since = None;
            strap.handle(TransportCommand::Disconnect, now_ms);
        }
        let events = strap.poll(now_ms);
        for e in &events {
            match &e.kind {
                TransportEventKind::Connected { .. } => {
                    self.connects += 1;
                    use crate::sensor::transport::Subscription::*;
                    let cmds = [
                        TransportCommand::RequestMtu { mtu: 512 },
                        TransportCommand::Subscribe {
                            characteristic: Characteristic::HeartRateMeasurement,
                            how: Notify,
                        },
                        TransportCommand::Subscribe {
                            characteristic: Characteristic::PmdControlPoint,
                            how: Indicate,
                        },
                        TransportCommand::Subscribe {
                            characteristic: Characteristic::PmdData,
                            how: Notify,
                        },
                        write_cp(&START_ECG),
                    ];
                    for c in cmds {
                        strap.handle(c, e.at_ms);
                    }
                    self.start_sent_at = Some(e.at_ms);
                    self.last_data_ms = e.at_ms;
                }
                TransportEventKind::Disconnected { .. } => {
                    self.streaming_since = None;
                    self.start_sent_at = None;
                    self.start_retry_at = None;
                    self.connect_at = Some(e.at_ms + 1000);
                }
                TransportEventKind::CommandFailed {
                    command: TransportCommand::Connect,
                    ..
                } => self.connect_at = Some(e.at_ms + 1000),
                TransportEventKind::Notification {
                    characteristic: Characteristic::PmdControlPoint,
                    value,
                } => {
                    if let [0xF0, 0x02, 0x00, st, ..] = value.as_slice() {
                        self.start_sent_at = None;
                        if *st == 0 || *st == 6 {
                            self.streaming_since = Some(e.at_ms);
                            self.last_data_ms = e.at_ms;
                        } else {
                            self.start_retry_at = Some(e.at_ms + 1000);
                        }
                    }
                }
                TransportEventKind::Notification {
                    characteristic: Characteristic::PmdData,
                    ..
                } => self.last_data_ms = e.at_ms,
                _ => {}
            }
        }
        events
    }
}

/// A reply `F0 op type status more params…` as packets of at most `per_packet` parameter bytes.
fn split_reply(reply: &[u8], per_packet: Option<usize>) -> Vec<Vec<u8>> {
    let (Some(n), Some((header, params))) = (per_packet, reply.split_at_checked(5)) else {
        return vec![reply.to_vec()];
    };
    if params.len() <= n || n == 0 {
        return vec![reply.to_vec()];
    }
    let chunks = params.chunks(n);
    let last = chunks.len() - 1;
    chunks
        .enumerate()
        .map(|(i, chunk)| {
            let mut p = header.to_vec();
            p[4] = u8::from(i < last);
            p.extend_from_slice(chunk);
            p
        })
        .collect()
}

fn write_cp(v: &[u8]) -> TransportCommand {
    TransportCommand::Write {
        characteristic: Characteristic::PmdControlPoint,
        value: v.to_vec(),
    }
}

fn failed(command: TransportCommand, reason: &str) -> TransportEventKind {
    TransportEventKind::CommandFailed {
        command,
        reason: reason.to_string(),
    }
}

/// A Heart Rate Measurement notification (the `protocol::hrs` encoder): u8 bpm, contact bits,
/// the RR intervals (latest 9 at most: what fits an MTU-23 notification) in 1/1024 s.
fn encode_hr(hr: u8, contact: bool, rr_s: &[f64]) -> Vec<u8> {
    let skip = rr_s.len().saturating_sub(9);
    HeartRateMeasurement {
        bpm: u16::from(hr),
        bpm_u16: false,
        contact: if contact {
            SensorContact::Contact
        } else {
            SensorContact::NoContact
        },
        energy_kj: None,
        rr_1024: rr_s[skip..]
            .iter()
            .map(|r| rr_from_ms(r * 1000.0))
            .collect(),
    }
    .encode()
}

/// An ECG frame type 0 (the `protocol::pmd` encoder); samples are already clamped to int24.
fn encode_ecg_frame(ts_ns: u64, samples: &[i32; ECG_SAMPLES_PER_FRAME]) -> Vec<u8> {
    pmd::encode_ecg_frame(ts_ns, samples).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensor::transport::Subscription;

    fn cp_replies(ev: &[TransportEvent]) -> Vec<Vec<u8>> {
        ev.iter()
            .filter_map(|e| match &e.kind {
                TransportEventKind::Notification {
                    characteristic: Characteristic::PmdControlPoint,
                    value,
                } => Some(value.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn split_replies_are_whole_reply_packets() {
        assert_eq!(
            split_reply(&ECG_SETTINGS_REPLY, Some(3)),
            [
                vec![0xF0, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x82],
                vec![0xF0, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01],
                vec![0xF0, 0x01, 0x00, 0x00, 0x00, 0x0E, 0x00],
            ]
        );
        let mut a = pmd::ReplyAssembler::new();
        let mut out = Vec::new();
        for p in split_reply(&ECG_SETTINGS_REPLY, Some(3)) {
            out.extend(a.push(&p).unwrap());
        }
        assert_eq!(
            out,
            [pmd::decode_control_point(&ECG_SETTINGS_REPLY).unwrap()]
        );
        assert_eq!(
            split_reply(&[0xF0, 0x02, 0x00, 0x00, 0x00], Some(3)).len(),
            1
        );
        assert_eq!(split_reply(&ECG_SETTINGS_REPLY, None).len(), 1);
    }

    #[test]
    fn speaks_the_h10_control_point() {
        let mut s = SimStrap::new(StrapConfig::default());
        s.handle(TransportCommand::Connect, 0);
        let ev = s.poll(2000);
        assert!(matches!(
            ev[0].kind,
            TransportEventKind::Connected { mtu: 23 }
        ));
        s.handle(
            TransportCommand::Subscribe {
                characteristic: Characteristic::PmdControlPoint,
                how: Subscription::Indicate,
            },
            2000,
        );
        s.handle(
            TransportCommand::Subscribe {
                characteristic: Characteristic::PmdData,
                how: Subscription::Notify,
            },
            2000,
        );
        s.handle(write_cp(&[0x01, 0x00]), 2000);
        s.handle(write_cp(&START_ECG), 2001);
        let r = cp_replies(&s.poll(2500));
        assert_eq!(r[0], ECG_SETTINGS_REPLY.to_vec());
        assert_eq!(r[1], vec![0xF0, 0x02, 0x00, 0x0A, 0x00]); // MTU 23: invalid MTU
        s.handle(TransportCommand::RequestMtu { mtu: 512 }, 2500);
        s.handle(write_cp(&START_ECG), 2500);
        s.handle(
            TransportCommand::Read {
                characteristic: Characteristic::BatteryLevel,
            },
            2500,
        );
        let ev = s.poll(12_500);
        assert_eq!(cp_replies(&ev)[0], vec![0xF0, 0x02, 0x00, 0x00, 0x00]);
        assert!(ev.iter().any(|e| matches!(&e.kind,
            TransportEventKind::ReadResult { characteristic: Characteristic::BatteryLevel, value } if value == &vec![87])));
        let frames: Vec<&TransportEvent> = ev
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    TransportEventKind::Notification {
                        characteristic: Characteristic::PmdData,
                        ..
                    }
                )
            })
            .collect();
        // 10 s at 130 Hz = 17.8 frames
        assert!((16..=19).contains(&frames.len()), "{}", frames.len());
        for f in &frames {
            if let TransportEventKind::Notification { value, .. } = &f.kind {
                assert_eq!(value.len(), ECG_FRAME_BYTES);
                assert_eq!(value[0], 0);
                assert_eq!(value[9], 0);
            }
        }
        let t = s.truth();
        let ts: Vec<u64> = t.frames.iter().map(|f| f.sensor_ts_ns).collect();
        for w in ts.windows(2) {
            let d = w[1] - w[0];
            assert!((d as f64 - 73e9 / 130.0).abs() < 2.0, "{d}");
        }
        s.handle(write_cp(&[0x03, 0x00]), 12_500);
        assert_eq!(
            cp_replies(&s.poll(13_000))[0],
            vec![0xF0, 0x03, 0x00, 0x00, 0x00]
        );
    }

    #[test]
    fn commands_while_disconnected_fail() {
        let mut s = SimStrap::new(StrapConfig::default());
        s.handle(write_cp(&START_ECG), 0);
        let ev = s.poll(100);
        assert!(matches!(
            ev[0].kind,
            TransportEventKind::CommandFailed { .. }
        ));
    }
}
