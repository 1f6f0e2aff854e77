//! Synthetic ECG after McSharry, Clifford, Tarassenko & Smith (2003), "A dynamical model for
//! generating synthetic electrocardiogram signals", IEEE TBME 50(3):289-294 (ECGSYN).
//!
//! - RR tachogram (paper §II-A): a bimodal spectrum, Gaussian Mayer-wave (LF, ~0.1 Hz) and
//!   respiratory sinus arrhythmia (HF, ~0.25 Hz) peaks, LF/HF = σ1²/σ2². The paper draws random
//!   phases on the spectrum and inverse-FFTs it; to stream 24-hour runs we realise the same
//!   spectrum as a sum of sinusoids whose frequencies are drawn from each Gaussian peak (random
//!   frequency method), evaluated at each beat: no whole-record FFT, O(1) memory.
//! - Morphology (paper eq. 2-3): the 3-D ODE, a limit cycle of unit radius in (x, y) travelled at
//!   ω = 2π/RR, and z pushed by five Gaussians P, Q, R, S, T at angles θᵢ with weights aᵢ and
//!   widths bᵢ; θᵢ and bᵢ scale with heart rate as in ECGSYN's reference code. RK4 integration at
//!   `fs × oversample` (520 Hz by default), every `oversample`-th point is output (the ECG has no
//!   energy near the output Nyquist frequency, so no filter is needed).
//! - Extensions (not in the paper): stress episodes, ectopic beats (phase jumps), noise, lead-off.
//!   The TRUE R-peak time of each beat is the instant θ crosses θ_R = 0.
//!
//! Stress (physiological basis): acute mental stress withdraws vagal tone and raises sympathetic
//! drive (Task Force of the ESC/NASPE 1996; Kim et al. 2018, Psychiatry Investig 15:235): heart
//! rate rises, RR variability and its high-frequency (RSA) part shrink — RMSSD falls — and LF/HF
//! rises. Onset is fast (sympathetic, ~1 min ramp here), recovery slower (vagal return, 2 min).
//!
//! Ectopic beats: a PVC comes early (coupling ~0.6 RR), has no P wave, a wide QRS and a discordant
//! T wave, and is followed by a full compensatory pause (the two intervals around it sum to 2 RR).
//! A PAC comes early (~0.7 RR) with an abnormal P wave and a normal QRS and resets the sinus node
//! (no compensatory pause). Both are made by jumping the phase θ forward at the right moment: z is
//! a state of the ODE, so the waveform stays continuous.

use std::f64::consts::{PI, TAU};

use super::Rng;

/// A period of stress with its intensity (0 = none, 1 = full effect).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StressEpisode {
    pub start_s: f64,
    pub duration_s: f64,
    pub intensity: f64,
}

/// Additive noise and artefacts (all amplitudes in µV; 0 disables).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseConfig {
    /// Baseline wander amplitude (respiration, electrode movement), 0.15-0.3 Hz.
    pub baseline_uv: f64,
    /// EMG-like broadband noise, standard deviation.
    pub emg_uv: f64,
    /// Mains interference amplitude.
    pub mains_uv: f64,
    /// Mains frequency (50 or 60 Hz).
    pub mains_hz: f64,
    /// Motion artefact bursts per minute (Poisson).
    pub motion_per_min: f64,
    /// Motion artefact amplitude.
    pub motion_uv: f64,
}

impl NoiseConfig {
    /// No noise at all.
    pub fn clean() -> Self {
        NoiseConfig {
            baseline_uv: 0.0,
            emg_uv: 0.0,
            mains_uv: 0.0,
            mains_hz: 50.0,
            motion_per_min: 0.0,
            motion_uv: 0.0,
        }
    }

    /// A chest strap at rest: some wander, a little EMG, rare motion bursts.
    pub fn typical() -> Self {
        NoiseConfig {
            baseline_uv: 150.0,
            emg_uv: 15.0,
            mains_uv: 0.0,
            mains_hz: 50.0,
            motion_per_min: 0.2,
            motion_uv: 600.0,
        }
    }

    /// `typical()` scaled by `k` (a noise "level" for degradation curves).
    pub fn scaled(k: f64) -> Self {
        let t = Self::typical();
        NoiseConfig {
            baseline_uv: t.baseline_uv * k,
            emg_uv: t.emg_uv * k,
            motion_uv: t.motion_uv * k,
            ..t
        }
    }
}

/// What the output looks like while the electrodes have no skin contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadOff {
    /// Flat at 0 µV.
    Flat,
    /// Stuck at the positive rail (+20 000 µV, the H10 range).
    Rail,
}

impl LeadOff {
    pub fn level_uv(self) -> f32 {
        match self {
            LeadOff::Flat => 0.0,
            LeadOff::Rail => 20_000.0,
        }
    }
}

/// Generator settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EcgConfig {
    /// Output sampling rate (H10: 130 Hz; a drifting strap clock samples slightly off).
    pub fs_hz: f64,
    /// Internal integration points per output sample.
    pub oversample: u32,
    /// Mean heart rate at rest.
    pub hr_bpm: f64,
    /// Standard deviation of RR at rest, ms (paper: hrstd).
    pub hrv_std_ms: f64,
    /// LF/HF power ratio at rest (paper: σ1²/σ2², default 0.5 there; 1.5 for a seated adult).
    pub lf_hf: f64,
    /// LF and HF peak centres and widths, Hz (paper: 0.1, 0.25, 0.01, 0.01).
    pub lf_hz: f64,
    pub hf_hz: f64,
    pub lf_width_hz: f64,
    pub hf_width_hz: f64,
    /// Output scale: 1.0 gives ECGSYN's 1.6 mV peak-to-peak beat (R ≈ 1.2 mV).
    pub amplitude: f64,
    pub stress: Vec<StressEpisode>,
    /// At full stress: HR increase (bpm), factor on RR std, factor on LF/HF.
    pub stress_hr_delta_bpm: f64,
    pub stress_hrv_factor: f64,
    pub stress_lf_hf_factor: f64,
    /// Ectopic beats per minute.
    pub pvc_per_min: f64,
    pub pac_per_min: f64,
    pub noise: NoiseConfig,
    pub seed: u64,
}

impl Default for EcgConfig {
    fn default() -> Self {
        EcgConfig {
            fs_hz: 130.0,
            oversample: 4,
            hr_bpm: 65.0,
            hrv_std_ms: 50.0,
            lf_hf: 1.5,
            lf_hz: 0.1,
            hf_hz: 0.25,
            lf_width_hz: 0.01,
            hf_width_hz: 0.01,
            amplitude: 1.0,
            stress: Vec::new(),
            stress_hr_delta_bpm: 20.0,
            stress_hrv_factor: 0.5,
            stress_lf_hf_factor: 3.0,
            pvc_per_min: 0.0,
            pac_per_min: 0.0,
            noise: NoiseConfig::clean(),
            seed: 1,
        }
    }
}

/// Beat class, as in MIT-BIH/AAMI: normal, supraventricular (PAC), ventricular (PVC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BeatLabel {
    N,
    S,
    V,
}

impl BeatLabel {
    pub fn symbol(self) -> &'static str {
        match self {
            BeatLabel::N => "N",
            BeatLabel::S => "S",
            BeatLabel::V => "V",
        }
    }
}

/// A true beat: the instant θ crossed θ_R.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrueBeat {
    /// Seconds since the generator started.
    pub time_s: f64,
    /// Nearest output sample index.
    pub sample: u64,
    pub label: BeatLabel,
    /// Interval from the previous beat, seconds (`None` for the first).
    pub rr_s: Option<f64>,
    /// The electrodes had no contact (the beat is not visible in the output).
    pub lead_off: bool,
}

/// A motion artefact burst that was added.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArtefactBurst {
    pub start_s: f64,
    pub duration_s: f64,
}

/// ECGSYN default wave parameters (paper Table I): P, Q, R, S, T.
const THETA: [f64; 5] = [-PI / 3.0, -PI / 12.0, 0.0, PI / 12.0, PI / 2.0];
const A: [f64; 5] = [1.2, -5.0, 30.0, -7.5, 0.75];
const B: [f64; 5] = [0.25, 0.1, 0.1, 0.1, 0.4];
/// Phase a PVC jumps to (just before its wide Q): its P wave is skipped.
const PVC_JUMP: f64 = -0.7;
/// Phase a PAC jumps to (before its P wave).
const PAC_JUMP: f64 = -1.85;
const PVC_COUPLING: f64 = 0.6;
const PAC_COUPLING: f64 = 0.7;
/// Sinusoids per spectral peak.
const N_TONES: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Morph {
    theta: [f64; 5],
    a: [f64; 5],
    b: [f64; 5],
}

impl Morph {
    /// ECGSYN's heart-rate scaling: bᵢ × √(HR/60), θᵢ × (HR/60)^{1/4 or 1/2}.
    fn for_rr(label: BeatLabel, rr_s: f64) -> Morph {
        let hrfact = (60.0 / rr_s.max(0.25) / 60.0).sqrt();
        let hrfact2 = hrfact.sqrt();
        let tf = [hrfact2, hrfact, 1.0, hrfact, hrfact2];
        let mut m = Morph {
            theta: [0.0; 5],
            a: A,
            b: [0.0; 5],
        };
        for ((th, b), (t0, (b0, f))) in m
            .theta
            .iter_mut()
            .zip(m.b.iter_mut())
            .zip(THETA.iter().zip(B.iter().zip(tf)))
        {
            *th = t0 * f;
            *b = b0 * hrfact;
        }
        match label {
            BeatLabel::N => {}
            BeatLabel::S => {
                // ectopic atrial focus: a smaller, inverted P wave
                m.a[0] = -0.6;
                m.b[0] *= 0.8;
            }
            BeatLabel::V => {
                // no P wave, QRS ~2.2× wider (amplitude ~ a·b², kept ~1.3× normal), discordant T
                let w = 2.2;
                m.a[0] = 0.0;
                for (b, a) in m.b[1..4].iter_mut().zip(m.a[1..4].iter_mut()) {
                    *b *= w;
                    *a *= 1.3 / (w * w);
                }
                m.theta[1] *= 1.6;
                m.theta[3] *= 1.6;
                m.a[4] = -1.1;
                m.b[4] *= 1.2;
            }
        }
        m
    }
}

/// The ODE state and its right-hand side (paper eq. 3).
#[derive(Debug, Clone)]
struct Oscillator {
    x: f64,
    y: f64,
    z: f64,
    omega: f64,
    morph: Morph,
}

impl Oscillator {
    fn deriv(&self, x: f64, y: f64, z: f64) -> (f64, f64, f64) {
        let alpha = 1.0 - (x * x + y * y).sqrt();
        let th = y.atan2(x);
        let m = &self.morph;
        let mut zd = 0.0;
        for ((&ti, &ai), &bi) in m.theta.iter().zip(&m.a).zip(&m.b) {
            let mut d = th - ti;
            // Δθᵢ = (θ − θᵢ) mod 2π, in [−π, π)
            d -= TAU * ((d + PI) / TAU).floor();
            if ai != 0.0 && d.abs() < 6.0 * bi {
                zd -= ai * d * (-0.5 * d * d / (bi * bi)).exp();
            }
        }
        zd -= z; // z0 = 0: baseline wander is added outside the ODE
        (alpha * x - self.omega * y, alpha * y + self.omega * x, zd)
    }

    /// One RK4 step of length h.
    fn step(&mut self, h: f64) {
        let (x, y, z) = (self.x, self.y, self.z);
        let k1 = self.deriv(x, y, z);
        let k2 = self.deriv(x + 0.5 * h * k1.0, y + 0.5 * h * k1.1, z + 0.5 * h * k1.2);
        let k3 = self.deriv(x + 0.5 * h * k2.0, y + 0.5 * h * k2.1, z + 0.5 * h * k2.2);
        let k4 = self.deriv(x + h * k3.0, y + h * k3.1, z + h * k3.2);
        self.x += h / 6.0 * (k1.0 + 2.0 * k2.0 + 2.0 * k3.0 + k4.0);
        self.y += h / 6.0 * (k1.1 + 2.0 * k2.1 + 2.0 * k3.1 + k4.1);
        self.z += h / 6.0 * (k1.2 + 2.0 * k2.2 + 2.0 * k3.2 + k4.2);
    }

    fn phase(&self) -> f64 {
        self.y.atan2(self.x)
    }
}

/// A bank of sinusoids with unit total variance whose frequencies are drawn from N(f, c²).
#[derive(Debug, Clone)]
struct ToneBank {
    freq: [f64; N_TONES],
    phase: [f64; N_TONES],
}

impl ToneBank {
    fn new(rng: &mut Rng, f: f64, c: f64) -> Self {
        let mut t = ToneBank {
            freq: [0.0; N_TONES],
            phase: [0.0; N_TONES],
        };
        for (fr, ph) in t.freq.iter_mut().zip(t.phase.iter_mut()) {
            *fr = (f + c * rng.normal()).max(0.003);
            *ph = rng.range(0.0, TAU);
        }
        t
    }

    fn at(&self, t: f64) -> f64 {
        let amp = (2.0 / N_TONES as f64).sqrt();
        let s: f64 = self
            .freq
            .iter()
            .zip(&self.phase)
            .map(|(f, p)| (TAU * f * t + p).cos())
            .sum();
        s * amp
    }
}

#[derive(Debug, Clone, Copy)]
struct Burst {
    start_s: f64,
    len: u64,
    pos: u64,
    lp: f64,
}

/// Streaming ECGSYN generator: output in µV, chunk by chunk, with the true beats on the side.
#[derive(Debug, Clone)]
pub struct EcgSynth {
    cfg: EcgConfig,
    osc: Oscillator,
    h: f64,
    /// Internal time, seconds.
    t: f64,
    /// Output samples produced.
    n_out: u64,
    scale_uv: f64,
    lf: ToneBank,
    hf: ToneBank,
    rng: Rng,
    noise_rng: Rng,
    prev_phase: f64,
    last_r_s: Option<f64>,
    /// Label of the beat whose R comes next.
    next_label: BeatLabel,
    /// Morphology to switch to at θ = π (or at a jump).
    pending: Option<Morph>,
    /// Phase jump (time, target phase) that makes the next beat premature.
    jump: Option<(f64, f64)>,
    /// Forced interval after the coming beat (compensatory pause after a PVC).
    interval_after: Option<f64>,
    /// Last interval used for a jump computation (the sinus RR).
    beats: Vec<TrueBeat>,
    bursts: Vec<ArtefactBurst>,
    burst: Option<Burst>,
    baseline: [(f64, f64); 2],
    lead_off: Option<LeadOff>,
}

impl EcgSynth {
    pub fn new(cfg: EcgConfig) -> Self {
        let mut cfg = cfg;
        cfg.fs_hz = if cfg.fs_hz.is_finite() && cfg.fs_hz > 1.0 {
            cfg.fs_hz
        } else {
            130.0
        };
        cfg.oversample = cfg.oversample.clamp(1, 64);
        cfg.hr_bpm = if cfg.hr_bpm.is_finite() {
            cfg.hr_bpm.clamp(25.0, 220.0)
        } else {
            65.0
        };
        let h = 1.0 / (cfg.fs_hz * cfg.oversample as f64);
        let mut rng = Rng::fork(cfg.seed, 1);
        let lf = ToneBank::new(&mut rng, cfg.lf_hz, cfg.lf_width_hz);
        let hf = ToneBank::new(&mut rng, cfg.hf_hz, cfg.hf_width_hz);
        let mut noise_rng = Rng::fork(cfg.seed, 2);
        let baseline = [
            (noise_rng.range(0.15, 0.3), noise_rng.range(0.0, TAU)),
            (noise_rng.range(0.15, 0.3), noise_rng.range(0.0, TAU)),
        ];
        let rr0 = 60.0 / cfg.hr_bpm;
        let morph = Morph::for_rr(BeatLabel::N, rr0);
        // start at θ = π (between T and P), on the limit cycle, z at rest
        let osc = Oscillator {
            x: -1.0,
            y: 0.0,
            z: 0.0,
            omega: TAU / rr0,
            morph,
        };
        let scale_uv = 1600.0 / calibrate_range(&osc, h, rr0) * cfg.amplitude;
        let mut s = EcgSynth {
            osc,
            h,
            t: 0.0,
            n_out: 0,
            scale_uv,
            lf,
            hf,
            rng,
            noise_rng,
            prev_phase: PI,
            last_r_s: None,
            next_label: BeatLabel::N,
            pending: None,
            jump: None,
            interval_after: None,
            beats: Vec::with_capacity(256),
            bursts: Vec::new(),
            burst: None,
            baseline,
            lead_off: None,
            cfg,
        };
        let rr = s.sinus_rr(0.0);
        s.osc.omega = TAU / rr;
        s.osc.morph = Morph::for_rr(BeatLabel::N, rr);
        s
    }

    pub fn config(&self) -> &EcgConfig {
        &self.cfg
    }

    pub fn fs_hz(&self) -> f64 {
        self.cfg.fs_hz
    }

    /// Output samples produced so far (= index of the next sample).
    pub fn samples_generated(&self) -> u64 {
        self.n_out
    }

    /// Time of the next output sample, seconds.
    pub fn time_s(&self) -> f64 {
        self.n_out as f64 / self.cfg.fs_hz
    }

    /// Electrodes off (Some) or on (None) from the next sample on.
    pub fn set_lead_off(&mut self, lead_off: Option<LeadOff>) {
        self.lead_off = lead_off;
    }

    /// Stress level 0..1 at time t (max over episodes; 60 s onset ramp, 120 s recovery).
    pub fn stress_level(&self, t: f64) -> f64 {
        let mut s: f64 = 0.0;
        for e in &self.cfg.stress {
            let end = e.start_s + e.duration_s;
            let onset = 60.0_f64.min(e.duration_s.max(1.0) / 2.0);
            let l = if t < e.start_s {
                0.0
            } else if t < e.start_s + onset {
                (t - e.start_s) / onset
            } else if t < end {
                1.0
            } else if t < end + 120.0 {
                1.0 - (t - end) / 120.0
            } else {
                0.0
            };
            s = s.max(l * e.intensity.clamp(0.0, 1.0));
        }
        s
    }

    /// Sinus RR at time t from the bimodal spectrum (paper §II-A), seconds.
    pub fn sinus_rr(&self, t: f64) -> f64 {
        let c = &self.cfg;
        let s = self.stress_level(t);
        let hr = c.hr_bpm + c.stress_hr_delta_bpm * s;
        let std = c.hrv_std_ms.max(0.0) * 1e-3 * (1.0 - (1.0 - c.stress_hrv_factor) * s);
        let r = c.lf_hf.max(1e-3) * (1.0 + (c.stress_lf_hf_factor - 1.0) * s);
        let sig_lf = std * (r / (1.0 + r)).sqrt();
        let sig_hf = std * (1.0 / (1.0 + r)).sqrt();
        // Sampled at the beats, RR(t) is seen more often where it is short: the beat mean is
        // 1/E_t[1/RR] ≈ m / (1 + σ²/m² + 3σ⁴/m⁴) for a tachogram centred at m. Solve for m so
        // that the mean RR over beats (what a detector measures) is μ = 60/HR.
        let mu = 60.0 / hr.clamp(25.0, 240.0);
        let v = std * std;
        let mut m = mu;
        for _ in 0..4 {
            let q = v / (m * m);
            m = mu * (1.0 + q + 3.0 * q * q);
        }
        let rr = m + sig_lf * self.lf.at(t) + sig_hf * self.hf.at(t);
        rr.clamp(0.25, 2.4)
    }

    /// The true beats found since the last call (appended to `out`).
    pub fn drain_beats_into(&mut self, out: &mut Vec<TrueBeat>) {
        out.append(&mut self.beats);
    }

    /// Take the true beats found since the last call.
    pub fn take_beats(&mut self) -> Vec<TrueBeat> {
        std::mem::take(&mut self.beats)
    }

    /// Motion artefact bursts added so far (drained).
    pub fn take_bursts(&mut self) -> Vec<ArtefactBurst> {
        std::mem::take(&mut self.bursts)
    }

    /// Fill `out` with the next samples (µV). Allocation-free apart from the beat list.
    pub fn fill(&mut self, out: &mut [f32]) {
        for o in out.iter_mut() {
            *o = self.next_sample();
        }
    }

    /// The next output sample in µV.
    pub fn next_sample(&mut self) -> f32 {
        let t_out = self.n_out as f64 / self.cfg.fs_hz;
        let clean = self.osc.z * self.scale_uv;
        let v = clean + self.noise(t_out);
        for _ in 0..self.cfg.oversample {
            self.advance();
        }
        self.n_out += 1;
        match self.lead_off {
            Some(l) => l.level_uv(),
            None => v as f32,
        }
    }

    fn noise(&mut self, t: f64) -> f64 {
        let n = self.cfg.noise;
        let mut v = 0.0;
        if n.baseline_uv > 0.0 {
            let [(f1, p1), (f2, p2)] = self.baseline;
            v +=
                n.baseline_uv * (0.7 * (TAU * f1 * t + p1).sin() + 0.3 * (TAU * f2 * t + p2).sin());
        }
        if n.emg_uv > 0.0 {
            v += n.emg_uv * self.noise_rng.normal();
        }
        if n.mains_uv > 0.0 {
            v += n.mains_uv * (TAU * n.mains_hz * t).sin();
        }
        if n.motion_per_min > 0.0 && n.motion_uv > 0.0 {
            let fs = self.cfg.fs_hz;
            if self.burst.is_none() && self.noise_rng.chance(n.motion_per_min / 60.0 / fs) {
                let dur = self.noise_rng.range(0.5, 3.0);
                self.burst = Some(Burst {
                    start_s: t,
                    len: (dur * fs).round().max(1.0) as u64,
                    pos: 0,
                    lp: 0.0,
                });
            }
            if let Some(b) = self.burst.as_mut() {
                // low-passed (~3 Hz) white noise under a half-sine envelope
                let k = 1.0 - (-TAU * 3.0 / fs).exp();
                b.lp += k * (self.noise_rng.normal() * 4.0 - b.lp);
                let env = (PI * b.pos as f64 / b.len as f64).sin();
                v += n.motion_uv * env * b.lp;
                b.pos += 1;
                if b.pos >= b.len {
                    self.bursts.push(ArtefactBurst {
                        start_s: b.start_s,
                        duration_s: b.len as f64 / fs,
                    });
                    self.burst = None;
                }
            }
        }
        v
    }

    /// One internal integration step with beat bookkeeping.
    fn advance(&mut self) {
        // a premature beat: jump the phase forward (skipping what the ectopic beat lacks)
        if let Some((tj, target)) = self.jump
            && self.t >= tj
        {
            self.jump = None;
            let cur = self.osc.phase().rem_euclid(TAU);
            if cur < target.rem_euclid(TAU) {
                let r = (self.osc.x * self.osc.x + self.osc.y * self.osc.y).sqrt();
                self.osc.x = r * target.cos();
                self.osc.y = r * target.sin();
                self.prev_phase = target;
            }
            if let Some(m) = self.pending.take() {
                self.osc.morph = m;
            }
        }
        self.osc.step(self.h);
        let t_new = self.t + self.h;
        let ph = self.osc.phase();
        let prev = self.prev_phase;
        if prev < 0.0 && ph >= 0.0 && prev > -PI / 2.0 {
            // θ crossed θ_R = 0: an R peak (linear interpolation of the crossing time)
            let frac = -prev / (ph - prev);
            self.on_r_peak(self.t + frac * self.h);
        } else if prev > PI / 2.0 && ph < -PI / 2.0 {
            // θ wrapped through π: the next beat's morphology takes over
            if let Some(m) = self.pending.take() {
                self.osc.morph = m;
            }
        }
        self.prev_phase = ph;
        self.t = t_new;
    }

    fn on_r_peak(&mut self, t_r: f64) {
        let label = self.next_label;
        let rr_s = self.last_r_s.map(|p| t_r - p);
        self.last_r_s = Some(t_r);
        self.beats.push(TrueBeat {
            time_s: t_r,
            sample: (t_r * self.cfg.fs_hz).round().max(0.0) as u64,
            label,
            rr_s,
            lead_off: self.lead_off.is_some(),
        });
        // plan the next beat
        let rr = self.sinus_rr(t_r);
        let forced = self.interval_after.take();
        let mut next = BeatLabel::N;
        if label == BeatLabel::N && forced.is_none() {
            let p_v = self.cfg.pvc_per_min.max(0.0) * rr / 60.0;
            let p_s = self.cfg.pac_per_min.max(0.0) * rr / 60.0;
            let u = self.rng.uniform();
            if u < p_v {
                next = BeatLabel::V;
            } else if u < p_v + p_s {
                next = BeatLabel::S;
            }
        }
        let interval = forced.unwrap_or(rr);
        self.osc.omega = TAU / interval;
        self.next_label = next;
        self.pending = Some(Morph::for_rr(next, interval));
        self.jump = match next {
            BeatLabel::N => None,
            BeatLabel::V => {
                self.interval_after = Some((2.0 - PVC_COUPLING) * rr);
                Some((
                    t_r + PVC_COUPLING * rr - (-PVC_JUMP) / self.osc.omega,
                    PVC_JUMP,
                ))
            }
            BeatLabel::S => Some((
                t_r + PAC_COUPLING * rr - (-PAC_JUMP) / self.osc.omega,
                PAC_JUMP,
            )),
        };
    }
}

/// Range of z over two clean beats at a steady rate (ECGSYN scales its output to
/// [−0.4, 1.2] mV; streaming, we fix the scale once from a calibration run).
fn calibrate_range(osc: &Oscillator, h: f64, rr: f64) -> f64 {
    let mut o = osc.clone();
    let n = (3.0 * rr / h) as usize;
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for i in 0..n {
        o.step(h);
        if i as f64 * h > rr {
            lo = lo.min(o.z);
            hi = hi.max(o.z);
        }
    }
    if hi - lo > 1e-9 { hi - lo } else { 1.0 }
}

/// The true beats as WFDB-style annotations (sample = output sample index), for
/// [`crate::eval::score_record`]. Beats hidden by lead-off are left out.
pub fn annotations(beats: &[TrueBeat]) -> Vec<crate::record::Annotation> {
    beats
        .iter()
        .filter(|b| !b.lead_off)
        .map(|b| crate::record::Annotation {
            sample: b.sample as i64,
            symbol: b.label.symbol().to_string(),
            code: match b.label {
                BeatLabel::N => 1,
                BeatLabel::V => 5,
                BeatLabel::S => 9,
            },
            subtype: 0,
            chan: 0,
            num: 0,
            aux: None,
            duration_s: None,
        })
        .collect()
}

/// Convenience: `seconds` of signal and its true beats in one go (tests, CSV export).
pub fn generate(cfg: EcgConfig, seconds: f64) -> (Vec<f32>, Vec<TrueBeat>) {
    let mut g = EcgSynth::new(cfg);
    let n = (seconds * g.fs_hz()).max(0.0) as usize;
    let mut out = vec![0.0f32; n];
    g.fill(&mut out);
    (out, g.take_beats())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_beats_at_configured_rate() {
        let cfg = EcgConfig {
            hr_bpm: 72.0,
            seed: 9,
            ..EcgConfig::default()
        };
        let (a, ba) = generate(cfg.clone(), 60.0);
        let (b, bb) = generate(cfg, 60.0);
        assert_eq!(a, b);
        assert_eq!(ba, bb);
        let rr: Vec<f64> = ba.iter().filter_map(|b| b.rr_s).collect();
        let mean_rr = rr.iter().sum::<f64>() / rr.len() as f64;
        assert!((60.0 / mean_rr - 72.0).abs() < 2.0, "{}", 60.0 / mean_rr);
        let max = a.iter().cloned().fold(f32::MIN, f32::max);
        assert!((800.0..2000.0).contains(&max), "R amplitude {max}");
    }

    #[test]
    fn r_peak_truth_is_at_the_maximum() {
        let cfg = EcgConfig {
            hrv_std_ms: 30.0,
            ..EcgConfig::default()
        };
        let (x, beats) = generate(cfg, 30.0);
        for b in beats
            .iter()
            .filter(|b| b.sample > 3 && (b.sample as usize) + 3 < x.len())
        {
            let s = b.sample as usize;
            let (mut arg, mut best) = (s - 3, f32::MIN);
            for (i, &v) in x.iter().enumerate().take(s + 4).skip(s - 3) {
                if v > best {
                    best = v;
                    arg = i;
                }
            }
            assert!((arg as i64 - s as i64).abs() <= 1, "{arg} vs {s}");
        }
    }

    #[test]
    fn ectopics_are_premature_with_compensatory_pause() {
        let cfg = EcgConfig {
            pvc_per_min: 4.0,
            pac_per_min: 4.0,
            hrv_std_ms: 5.0,
            seed: 3,
            ..EcgConfig::default()
        };
        let (_, beats) = generate(cfg, 300.0);
        let rr0 = 60.0 / 65.0;
        let (mut nv, mut ns) = (0, 0);
        for w in beats.windows(2) {
            match w[0].label {
                BeatLabel::V => {
                    let (a, b) = (w[0].rr_s.unwrap_or(0.0), w[1].rr_s.unwrap_or(0.0));
                    nv += 1;
                    assert!((a / rr0 - PVC_COUPLING).abs() < 0.05, "{a}");
                    assert!(((a + b) / rr0 - 2.0).abs() < 0.08, "{a} {b}");
                }
                BeatLabel::S => {
                    let a = w[0].rr_s.unwrap_or(0.0);
                    ns += 1;
                    assert!((a / rr0 - PAC_COUPLING).abs() < 0.05, "{a}");
                }
                _ => {}
            }
        }
        assert!(nv > 5 && ns > 5, "{nv} {ns}");
    }
}
