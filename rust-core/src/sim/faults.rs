//! Fault injection for the simulated strap, its CLI spec parser and the ground-truth fault log.
//!
//! Two families:
//! - per-frame link faults on PMD data notifications, drawn with the seeded RNG: loss,
//!   duplicates, reordering (a frame delivered after its successor), corrupted bytes;
//! - scheduled faults, periodic `every/for` windows starting at `every` (deterministic, so a test
//!   can predict them): disconnects (the link drops; the strap stops streaming and needs a start
//!   after reconnecting, like a real H10), power-downs (link down, then the sensor clock restarts
//!   at 2019-01-01), lead-off (contact bits "no contact", flat ECG), silence (the strap stops
//!   replying and notifying while the link stays up), a refused ECG stream (the strap stops it
//!   and answers every start with "invalid state" while heart rate goes on, as when another app
//!   holds it), sensor timestamp jumps, clock drift.
//!
//! Every fault injected is written to the log with its phone time and length, and for data faults
//! the generator samples it concerned, so tests can check that each gap is reported with its length.

use std::fmt;

use super::Rng;

/// A periodic window: active in `[k·every, k·every + len)` for k ≥ 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periodic {
    pub every_ms: i64,
    pub len_ms: i64,
}

impl Periodic {
    /// The window containing `t_ms`, as (start, end), if any.
    pub fn window_at(&self, t_ms: i64) -> Option<(i64, i64)> {
        if self.every_ms <= 0 || self.len_ms <= 0 || t_ms < self.every_ms {
            return None;
        }
        let start = t_ms - t_ms.rem_euclid(self.every_ms);
        (t_ms < start + self.len_ms).then_some((start, start + self.len_ms))
    }

    pub fn active(&self, t_ms: i64) -> bool {
        self.window_at(t_ms).is_some()
    }
}

/// What to inject. `Default` injects nothing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FaultConfig {
    /// Probability that a PMD data notification is lost.
    pub loss: f64,
    /// Probability that it is delivered twice.
    pub dup: f64,
    /// Probability that it is delivered after the next one.
    pub reorder: f64,
    /// Probability that one of its bytes is corrupted.
    pub corrupt: f64,
    /// A sensor timestamp jump (random size, ±1 s…10 min) every this many ms.
    pub jump_every_ms: Option<i64>,
    /// Strap clock error in parts per million (positive: strap clock fast, more samples per
    /// phone second, sensor timestamps run ahead).
    pub drift_ppm: f64,
    pub disconnect: Option<Periodic>,
    /// Strap powers down (battery change / reset); its clock restarts at 2019-01-01.
    pub power_down: Option<Periodic>,
    pub leadoff: Option<Periodic>,
    pub silent: Option<Periodic>,
    pub ecg_refused: Option<Periodic>,
}

/// A bad `--faults` spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSpecError(pub String);

impl fmt::Display for FaultSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad fault spec: {}", self.0)
    }
}

impl std::error::Error for FaultSpecError {}

/// Spec syntax, e.g. `loss=5%,dup=1%,reorder=0.5%,corrupt=0.1%,jump=30m,drift=50ppm,
/// disconnect=2m/10s,powerdown=1h/20s,leadoff=5m/20s,silent=10m/30s,ecgrefused=10m/3m`.
pub const SPEC_HELP: &str = "comma-separated key=value: loss|dup|reorder|corrupt=P% (per PMD frame), \
jump=EVERY (sensor timestamp jump), drift=Nppm, disconnect|powerdown|leadoff|silent|ecgrefused=EVERY/FOR; \
durations like 500ms, 10s, 2m, 1h";

impl FaultConfig {
    /// Parse a CLI spec (see [`SPEC_HELP`]). Empty → no faults.
    pub fn parse(spec: &str) -> Result<Self, FaultSpecError> {
        let mut c = FaultConfig::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| FaultSpecError(format!("`{item}`: expected key=value")))?;
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            match k.as_str() {
                "loss" => c.loss = parse_prob(v)?,
                "dup" | "duplicate" => c.dup = parse_prob(v)?,
                "reorder" => c.reorder = parse_prob(v)?,
                "corrupt" => c.corrupt = parse_prob(v)?,
                "jump" => c.jump_every_ms = Some(parse_duration_ms(v)?),
                "drift" => {
                    let n = v.strip_suffix("ppm").unwrap_or(v).trim();
                    c.drift_ppm = n
                        .parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite() && x.abs() <= 100_000.0)
                        .ok_or_else(|| FaultSpecError(format!("drift `{v}`")))?;
                }
                "disconnect" => c.disconnect = Some(parse_periodic(v)?),
                "powerdown" | "reset" => c.power_down = Some(parse_periodic(v)?),
                "leadoff" => c.leadoff = Some(parse_periodic(v)?),
                "silent" => c.silent = Some(parse_periodic(v)?),
                "ecgrefused" => c.ecg_refused = Some(parse_periodic(v)?),
                _ => return Err(FaultSpecError(format!("unknown fault `{k}`"))),
            }
        }
        Ok(c)
    }

    /// Any per-frame link fault configured.
    pub fn has_link_faults(&self) -> bool {
        self.loss > 0.0 || self.dup > 0.0 || self.reorder > 0.0 || self.corrupt > 0.0
    }
}

fn parse_prob(v: &str) -> Result<f64, FaultSpecError> {
    let (num, pct) = match v.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (v, false),
    };
    let x: f64 = num
        .parse()
        .map_err(|_| FaultSpecError(format!("probability `{v}`")))?;
    let p = if pct { x / 100.0 } else { x };
    if !(0.0..=1.0).contains(&p) {
        return Err(FaultSpecError(format!("probability `{v}` not in 0..100%")));
    }
    Ok(p)
}

/// `500ms`, `10s`, `2m`, `1h`, `1.5m`; a bare number is seconds.
pub fn parse_duration_ms(v: &str) -> Result<i64, FaultSpecError> {
    let v = v.trim();
    let (num, unit) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e3)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60e3)
    } else if let Some(n) = v.strip_suffix('h') {
        (n, 3600e3)
    } else {
        (v, 1e3)
    };
    let x: f64 = num
        .trim()
        .parse()
        .map_err(|_| FaultSpecError(format!("duration `{v}`")))?;
    let ms = x * unit;
    if !ms.is_finite() || ms <= 0.0 || ms > 1e12 {
        return Err(FaultSpecError(format!("duration `{v}`")));
    }
    Ok(ms.round() as i64)
}

fn parse_periodic(v: &str) -> Result<Periodic, FaultSpecError> {
    let (e, l) = v
        .split_once('/')
        .ok_or_else(|| FaultSpecError(format!("`{v}`: expected EVERY/FOR")))?;
    let p = Periodic {
        every_ms: parse_duration_ms(e)?,
        len_ms: parse_duration_ms(l)?,
    };
    if p.len_ms >= p.every_ms {
        return Err(FaultSpecError(format!(
            "`{v}`: FOR must be shorter than EVERY"
        )));
    }
    Ok(p)
}

/// Kinds of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// A PMD data notification dropped.
    FrameLost,
    /// Delivered twice.
    FrameDuplicated,
    /// Delivered after its successor.
    FrameReordered,
    /// One byte changed.
    FrameCorrupted,
    /// The sensor clock jumped (`len_ms` = the jump, signed).
    TimestampJump,
    /// The sensor clock restarted at 2019-01-01 (after a power-down).
    ClockReset,
    /// The link dropped (`len_ms` = until the strap advertises again).
    Disconnect,
    /// The strap was off (`len_ms` = how long).
    PowerDown,
    /// No skin contact.
    LeadOff,
    /// The strap stopped replying and notifying, link up.
    Silent,
    /// The strap stopped the ECG stream and refused to start it (heart rate went on).
    EcgRefused,
    /// Samples generated while streaming was on but never sent (link down, silence, stream
    /// stopped by the link loss): `first_sample`/`n_samples` say which.
    SamplesNotSent,
    /// A frame queued for sending when the link dropped, lost with it.
    LostWithLink,
}

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultRecord {
    pub kind: FaultKind,
    /// Phone time it started, ms.
    pub at_ms: i64,
    /// Its length in ms (for frames: the samples' duration; for a jump: the jump).
    pub len_ms: i64,
    /// Generator sample index of the first sample concerned (data faults).
    pub first_sample: Option<u64>,
    pub n_samples: u64,
    /// PMD frame sequence number (frame faults).
    pub frame_seq: Option<u64>,
}

/// What happens to one PMD frame on the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameFate {
    pub lost: bool,
    pub dup: bool,
    pub reorder: bool,
    /// (byte index, xor mask ≠ 0).
    pub corrupt: Option<(usize, u8)>,
}

/// The per-frame fault draws (own RNG stream, so changing faults does not change the ECG).
#[derive(Debug, Clone)]
pub struct LinkFaults {
    cfg: FaultConfig,
    rng: Rng,
}

impl LinkFaults {
    pub fn new(cfg: FaultConfig, seed: u64) -> Self {
        LinkFaults {
            cfg,
            rng: Rng::fork(seed, 3),
        }
    }

    /// Decide the fate of a frame of `len` bytes.
    pub fn fate(&mut self, len: usize) -> FrameFate {
        let c = self.cfg;
        let mut f = FrameFate {
            lost: self.rng.chance(c.loss),
            ..FrameFate::default()
        };
        if f.lost {
            return f;
        }
        f.dup = self.rng.chance(c.dup);
        f.reorder = self.rng.chance(c.reorder);
        if self.rng.chance(c.corrupt) && len > 0 {
            let i = self.rng.below(len as u64) as usize;
            let m = (self.rng.below(255) + 1) as u8;
            f.corrupt = Some((i, m));
        }
        f
    }

    /// Size of the next timestamp jump, ns (±1 s … 10 min).
    pub fn jump_ns(&mut self) -> i64 {
        let mag = self.rng.range(1.0, 600.0) * 1e9;
        let sign = if self.rng.chance(0.5) { -1.0 } else { 1.0 };
        (sign * mag) as i64
    }

    /// Uniform in [lo, hi) from the fault stream.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        self.rng.range(lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_issue_spec() {
        let c = FaultConfig::parse(
            "loss=5%,dup=1%,reorder=0.5%,corrupt=0.1%,jump=30m,drift=50ppm,disconnect=2m/10s,leadoff=5m/20s,silent=10m/30s",
        )
        .unwrap_or_default();
        assert!((c.loss - 0.05).abs() < 1e-12);
        assert!((c.dup - 0.01).abs() < 1e-12);
        assert!((c.reorder - 0.005).abs() < 1e-12);
        assert!((c.corrupt - 0.001).abs() < 1e-12);
        assert_eq!(c.jump_every_ms, Some(1_800_000));
        assert!((c.drift_ppm - 50.0).abs() < 1e-12);
        assert_eq!(
            c.disconnect,
            Some(Periodic {
                every_ms: 120_000,
                len_ms: 10_000
            })
        );
        assert_eq!(c.leadoff.map(|p| p.len_ms), Some(20_000));
        assert_eq!(c.silent.map(|p| p.every_ms), Some(600_000));
        assert_eq!(FaultConfig::parse(""), Ok(FaultConfig::default()));
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "loss",
            "loss=150%",
            "loss=x",
            "disconnect=2m",
            "disconnect=10s/2m",
            "foo=1",
            "jump=-3s",
            "drift=abc",
        ] {
            assert!(FaultConfig::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn periodic_windows() {
        let p = Periodic {
            every_ms: 1000,
            len_ms: 100,
        };
        assert!(!p.active(50));
        assert!(p.active(1000));
        assert!(p.active(1099));
        assert!(!p.active(1100));
        assert_eq!(p.window_at(2050), Some((2000, 2100)));
    }
}
