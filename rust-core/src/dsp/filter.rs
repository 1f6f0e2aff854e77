//! Streaming IIR filters: second-order sections (biquads) designed for the record's own
//! sampling rate at construction time (RBJ "Audio EQ Cookbook" formulas, i.e. the bilinear
//! transform with pre-warping), and an ECG band-pass + optional power-line notch built from them.
//!
//! Design (coefficients, immutable) is kept apart from state (two delay values per section), so
//! one design can drive many channels and a reset never needs a redesign. Processing a sample
//! never allocates. Coefficients and state are `f64`: low corner frequencies at high sampling
//! rates (0.5 Hz at 1 kHz) put the poles very close to the unit circle, where `f32` loses accuracy.

use crate::error::{Error, Result};

/// Lowest / highest sampling rate accepted by the constructors in [`crate::dsp`].
/// (Tested on 100–1000 Hz; the Polar H10 strap streams at 130 Hz.)
pub const MIN_SAMPLING_RATE_HZ: f64 = 50.0;
/// See [`MIN_SAMPLING_RATE_HZ`].
pub const MAX_SAMPLING_RATE_HZ: f64 = 5000.0;

/// Check a sampling rate; every DSP constructor calls this.
pub fn validate_sampling_rate(fs: f64) -> Result<()> {
    if !fs.is_finite() || !(MIN_SAMPLING_RATE_HZ..=MAX_SAMPLING_RATE_HZ).contains(&fs) {
        return Err(Error::InvalidArgument(format!(
            "sampling rate {} Hz outside {MIN_SAMPLING_RATE_HZ}–{MAX_SAMPLING_RATE_HZ} Hz",
            crate::text::compact_number(fs)
        )));
    }
    Ok(())
}

/// Coefficients of one second-order section, normalised so that `a0 = 1`:
/// `y[n] = b0 x[n] + b1 x[n-1] + b2 x[n-2] - a1 y[n-1] - a2 y[n-2]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Biquad {
    pub b0: f64,
    pub b1: f64,
    pub b2: f64,
    pub a1: f64,
    pub a2: f64,
}

/// Butterworth Q of a single second-order section.
pub const BUTTERWORTH_Q: f64 = std::f64::consts::FRAC_1_SQRT_2;

fn check_corner(fs: f64, f0: f64, q: f64) -> Result<()> {
    validate_sampling_rate(fs)?;
    if !(f0.is_finite() && f0 > 0.0 && f0 < 0.5 * fs) {
        return Err(Error::InvalidArgument(format!(
            "corner frequency {f0} Hz must lie in (0, {}) Hz for a sampling rate of {fs} Hz",
            0.5 * fs
        )));
    }
    if !(q.is_finite() && q > 0.0) {
        return Err(Error::InvalidArgument(format!(
            "filter Q {q} must be positive"
        )));
    }
    Ok(())
}

impl Biquad {
    fn from_raw(b0: f64, b1: f64, b2: f64, a0: f64, a1: f64, a2: f64) -> Self {
        Biquad {
            b0: b0 / a0,
            b1: b1 / a0,
            b2: b2 / a0,
            a1: a1 / a0,
            a2: a2 / a0,
        }
    }

    /// RBJ low-pass at `f0` Hz with quality `q`.
    pub fn lowpass(fs: f64, f0: f64, q: f64) -> Result<Self> {
        check_corner(fs, f0, q)?;
        let w = 2.0 * std::f64::consts::PI * f0 / fs;
        let (s, c) = w.sin_cos();
        let alpha = s / (2.0 * q);
        Ok(Self::from_raw(
            (1.0 - c) / 2.0,
            1.0 - c,
            (1.0 - c) / 2.0,
            1.0 + alpha,
            -2.0 * c,
            1.0 - alpha,
        ))
    }

    /// RBJ high-pass at `f0` Hz with quality `q`.
    pub fn highpass(fs: f64, f0: f64, q: f64) -> Result<Self> {
        check_corner(fs, f0, q)?;
        let w = 2.0 * std::f64::consts::PI * f0 / fs;
        let (s, c) = w.sin_cos();
        let alpha = s / (2.0 * q);
        Ok(Self::from_raw(
            (1.0 + c) / 2.0,
            -(1.0 + c),
            (1.0 + c) / 2.0,
            1.0 + alpha,
            -2.0 * c,
            1.0 - alpha,
        ))
    }

    /// RBJ notch at `f0` Hz; `q` = f0 / bandwidth (e.g. 30 → 2 Hz wide at 60 Hz).
    pub fn notch(fs: f64, f0: f64, q: f64) -> Result<Self> {
        check_corner(fs, f0, q)?;
        let w = 2.0 * std::f64::consts::PI * f0 / fs;
        let (s, c) = w.sin_cos();
        let alpha = s / (2.0 * q);
        Ok(Self::from_raw(
            1.0,
            -2.0 * c,
            1.0,
            1.0 + alpha,
            -2.0 * c,
            1.0 - alpha,
        ))
    }

    /// Complex response at `f_hz` as (re, im).
    fn response(&self, fs: f64, f_hz: f64) -> (f64, f64) {
        let w = 2.0 * std::f64::consts::PI * f_hz / fs;
        // H = (b0 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 + a2 z^-2), z^-1 = e^{-jw}
        let (c1, s1) = (w.cos(), -w.sin());
        let (c2, s2) = ((2.0 * w).cos(), -(2.0 * w).sin());
        let (nr, ni) = (
            self.b0 + self.b1 * c1 + self.b2 * c2,
            self.b1 * s1 + self.b2 * s2,
        );
        let (dr, di) = (
            1.0 + self.a1 * c1 + self.a2 * c2,
            self.a1 * s1 + self.a2 * s2,
        );
        let d = dr * dr + di * di;
        ((nr * dr + ni * di) / d, (ni * dr - nr * di) / d)
    }

    /// Magnitude of the response at `f_hz`.
    pub fn gain(&self, fs: f64, f_hz: f64) -> f64 {
        let (r, i) = self.response(fs, f_hz);
        r.hypot(i)
    }

    /// Group delay in samples at `f_hz` (numerical derivative of the phase).
    pub fn group_delay_samples(&self, fs: f64, f_hz: f64) -> f64 {
        let df = 1e-3 * fs;
        let phase = |f: f64| {
            let (r, i) = self.response(fs, f);
            i.atan2(r)
        };
        let (f1, f2) = ((f_hz - df).max(1e-6), (f_hz + df).min(0.5 * fs - 1e-6));
        let mut dphi = phase(f2) - phase(f1);
        while dphi > std::f64::consts::PI {
            dphi -= 2.0 * std::f64::consts::PI;
        }
        while dphi < -std::f64::consts::PI {
            dphi += 2.0 * std::f64::consts::PI;
        }
        let dw = 2.0 * std::f64::consts::PI * (f2 - f1) / fs;
        -dphi / dw
    }
}

/// Delay state of one section (transposed direct form II).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BiquadState {
    z1: f64,
    z2: f64,
}

impl BiquadState {
    /// Filter one sample.
    #[inline]
    pub fn process(&mut self, c: &Biquad, x: f64) -> f64 {
        let y = c.b0 * x + self.z1;
        self.z1 = c.b1 * x - c.a1 * y + self.z2;
        self.z2 = c.b2 * x - c.a2 * y;
        y
    }

    /// Set the state to the steady state for a constant input `x` (avoids a start-up step).
    pub fn settle(&mut self, c: &Biquad, x: f64) {
        let dc = (c.b0 + c.b1 + c.b2) / (1.0 + c.a1 + c.a2);
        let y = dc * x;
        self.z2 = c.b2 * x - c.a2 * y;
        self.z1 = c.b1 * x - c.a1 * y + self.z2;
    }
}

/// What the ECG filter should do. Frequencies in Hz.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EcgFilterConfig {
    /// High-pass corner (baseline wander removal); `None` = no high-pass.
    pub highpass_hz: Option<f64>,
    /// Low-pass corner (muscle noise); `None` = no low-pass. Clamped to 0.45 × fs.
    pub lowpass_hz: Option<f64>,
    /// Order of the high- and low-pass Butterworth parts: 2 or 4.
    pub order: u8,
    /// Power-line frequency to notch (50 or 60 Hz), `None` = no notch. The notch is skipped
    /// (see [`EcgFilter::notch_active`]) when `notch_hz ≥ 0.45 × fs`, i.e. too close to Nyquist
    /// for a useful notch — e.g. 60 Hz at the Polar H10's 130 Hz (Nyquist 65 Hz); there the
    /// low-pass already removes the mains and a notch would eat the band edge.
    pub notch_hz: Option<f64>,
    /// Notch quality f0/bandwidth.
    pub notch_q: f64,
}

impl Default for EcgFilterConfig {
    /// 0.5–40 Hz, 2nd order, no notch: the usual "monitoring" band.
    fn default() -> Self {
        EcgFilterConfig {
            highpass_hz: Some(0.5),
            lowpass_hz: Some(40.0),
            order: 2,
            notch_hz: None,
            notch_q: 30.0,
        }
    }
}

/// The designed filter (immutable coefficients of a cascade of biquads).
#[derive(Debug, Clone, PartialEq)]
pub struct EcgFilterDesign {
    sampling_rate_hz: f64,
    sections: Vec<Biquad>,
    notch_active: bool,
}

/// Butterworth Qs of the 2nd-order sections of an order-`order` filter.
fn butterworth_qs(order: u8) -> &'static [f64] {
    match order {
        4 => &[0.541_196_100_146_197, 1.306_562_964_876_376_7],
        _ => &[BUTTERWORTH_Q],
    }
}

impl EcgFilterDesign {
    /// Design the cascade for sampling rate `fs`.
    pub fn new(fs: f64, cfg: &EcgFilterConfig) -> Result<Self> {
        validate_sampling_rate(fs)?;
        if cfg.order != 2 && cfg.order != 4 {
            return Err(Error::InvalidArgument(format!(
                "filter order {} (expected 2 or 4)",
                cfg.order
            )));
        }
        let mut sections = Vec::new();
        if let Some(f) = cfg.highpass_hz {
            for &q in butterworth_qs(cfg.order) {
                sections.push(Biquad::highpass(fs, f, q)?);
            }
        }
        if let Some(f) = cfg.lowpass_hz {
            let f = f.min(0.45 * fs);
            if let (Some(h), true) = (cfg.highpass_hz, f.is_finite())
                && f <= h
            {
                return Err(Error::InvalidArgument(format!(
                    "low-pass {f} Hz must exceed high-pass {h} Hz"
                )));
            }
            for &q in butterworth_qs(cfg.order) {
                sections.push(Biquad::lowpass(fs, f, q)?);
            }
        }
        let mut notch_active = false;
        if let Some(f) = cfg.notch_hz {
            if f < 0.45 * fs {
                sections.push(Biquad::notch(fs, f, cfg.notch_q)?);
                notch_active = true;
            } else if !(f.is_finite() && f > 0.0) {
                return Err(Error::InvalidArgument(format!("notch frequency {f} Hz")));
            }
        }
        Ok(EcgFilterDesign {
            sampling_rate_hz: fs,
            sections,
            notch_active,
        })
    }

    /// Whether the mains notch is part of the cascade (false when asked for none, or skipped
    /// because it sits too close to Nyquist).
    pub fn notch_active(&self) -> bool {
        self.notch_active
    }

    /// The sections, in processing order.
    pub fn sections(&self) -> &[Biquad] {
        &self.sections
    }

    /// Sampling rate the design is for.
    pub fn sampling_rate_hz(&self) -> f64 {
        self.sampling_rate_hz
    }

    /// Total group delay in samples at `f_hz`.
    pub fn group_delay_samples(&self, f_hz: f64) -> f64 {
        self.sections
            .iter()
            .map(|s| s.group_delay_samples(self.sampling_rate_hz, f_hz))
            .sum()
    }

    /// Magnitude response at `f_hz`.
    pub fn gain(&self, f_hz: f64) -> f64 {
        self.sections
            .iter()
            .map(|s| s.gain(self.sampling_rate_hz, f_hz))
            .product()
    }
}

/// A running ECG filter: a design plus its state. `push` is allocation-free.
#[derive(Debug, Clone)]
pub struct EcgFilter {
    design: EcgFilterDesign,
    state: Vec<BiquadState>,
    started: bool,
}

impl EcgFilter {
    /// Design and initialise.
    pub fn new(fs: f64, cfg: &EcgFilterConfig) -> Result<Self> {
        Ok(Self::from_design(EcgFilterDesign::new(fs, cfg)?))
    }

    /// Wrap an existing design with fresh state.
    pub fn from_design(design: EcgFilterDesign) -> Self {
        let state = vec![BiquadState::default(); design.sections.len()];
        EcgFilter {
            design,
            state,
            started: false,
        }
    }

    /// The design.
    pub fn design(&self) -> &EcgFilterDesign {
        &self.design
    }

    /// Whether the notch runs; see [`EcgFilterConfig::notch_hz`].
    pub fn notch_active(&self) -> bool {
        self.design.notch_active
    }

    /// Forget the past; the next sample re-initialises the state to its steady state.
    pub fn reset(&mut self) {
        self.started = false;
    }

    /// Filter one sample. Non-finite input is filtered as 0 (never poisons the state; a
    /// non-finite result resets the state) — callers that know better, like the R-peak
    /// detector, substitute a value first (it holds the last valid sample).
    #[inline]
    pub fn push(&mut self, x: f32) -> f32 {
        let mut v = if x.is_finite() { f64::from(x) } else { 0.0 };
        if !self.started {
            // start from the steady state of the first sample so a DC offset gives no step
            let mut u = v;
            for (s, c) in self.state.iter_mut().zip(&self.design.sections) {
                s.settle(c, u);
                u *= (c.b0 + c.b1 + c.b2) / (1.0 + c.a1 + c.a2);
            }
            self.started = true;
        }
        for (s, c) in self.state.iter_mut().zip(&self.design.sections) {
            v = s.process(c, v);
        }
        if !v.is_finite() {
            self.started = false;
            return 0.0;
        }
        v as f32
    }

    /// Filter a whole slice in place.
    pub fn process_in_place(&mut self, xs: &mut [f32]) {
        for x in xs {
            *x = self.push(*x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absurd_sampling_rate_is_refused_in_a_short_message() {
        let e = validate_sampling_rate(1e300).unwrap_err().to_string();
        assert!(e.contains("1e300 Hz") && e.len() < 80, "{e}");
        assert!(validate_sampling_rate(130.0).is_ok());
    }

    fn sine_gain(f: &mut EcgFilter, fs: f64, hz: f64) -> f64 {
        let n = (fs * 20.0) as usize;
        let mut peak: f64 = 0.0;
        for i in 0..n {
            let y = f.push((2.0 * std::f64::consts::PI * hz * i as f64 / fs).sin() as f32);
            if i > n / 2 {
                peak = peak.max(f64::from(y).abs());
            }
        }
        peak
    }

    #[test]
    fn bandpass_passes_qrs_band_and_rejects_baseline() {
        for fs in [100.0, 130.0, 250.0, 360.0, 1000.0] {
            let cfg = EcgFilterConfig::default();
            let mut f = EcgFilter::new(fs, &cfg).unwrap();
            assert!((sine_gain(&mut f, fs, 10.0) - 1.0).abs() < 0.05, "fs {fs}");
            let mut f = EcgFilter::new(fs, &cfg).unwrap();
            assert!(sine_gain(&mut f, fs, 0.05) < 0.05, "fs {fs}");
        }
    }

    #[test]
    fn notch_removes_mains_and_is_skipped_near_nyquist() {
        let cfg = EcgFilterConfig {
            lowpass_hz: None,
            notch_hz: Some(50.0),
            ..Default::default()
        };
        let mut f = EcgFilter::new(360.0, &cfg).unwrap();
        assert!(f.notch_active());
        assert!(sine_gain(&mut f, 360.0, 50.0) < 0.02);
        let cfg60 = EcgFilterConfig {
            notch_hz: Some(60.0),
            ..cfg
        };
        assert!(!EcgFilter::new(130.0, &cfg60).unwrap().notch_active());
        assert!(EcgFilter::new(130.0, &cfg).unwrap().notch_active());
    }

    #[test]
    fn bad_configs_are_errors() {
        assert!(EcgFilter::new(f64::NAN, &EcgFilterConfig::default()).is_err());
        assert!(EcgFilter::new(10.0, &EcgFilterConfig::default()).is_err());
        let bad = EcgFilterConfig {
            highpass_hz: Some(50.0),
            lowpass_hz: Some(20.0),
            ..Default::default()
        };
        assert!(EcgFilter::new(360.0, &bad).is_err());
        let bad = EcgFilterConfig {
            order: 3,
            ..Default::default()
        };
        assert!(EcgFilter::new(360.0, &bad).is_err());
    }

    #[test]
    fn non_finite_input_does_not_poison_state() {
        let mut f = EcgFilter::new(250.0, &EcgFilterConfig::default()).unwrap();
        for x in [1.0, f32::NAN, f32::INFINITY, 1.0, 2.0] {
            assert!(f.push(x).is_finite());
        }
    }

    #[test]
    fn group_delay_is_positive_for_lowpass() {
        let d = EcgFilterDesign::new(
            360.0,
            &EcgFilterConfig {
                highpass_hz: None,
                ..Default::default()
            },
        )
        .unwrap();
        let g = d.group_delay_samples(10.0);
        assert!(g > 1.0 && g < 10.0, "{g}");
    }
}
