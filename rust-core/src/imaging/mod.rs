//! Heartbeat and window images for the models: 128×128 grayscale, deterministic, no allocation per
//! image once an [`Imager`] exists.
//!
//! Every channel is drawn with intensity on a 0 background, row 0 at the top, inside a margin of
//! [`MARGIN`] pixels. What each channel shows and on which scale:
//! - [`Channel::Beat`]: one beat as an antialiased line (Xiaolin Wu) **scaled to fill** the drawing
//!   area: first sample at the left margin, last at the right, maximum at the top, minimum at the
//!   bottom (a flat beat is a horizontal line in the middle). Shape only, no amplitude: the paper's
//!   representation. For a window it is the ensemble average of the window's beats.
//! - [`Channel::BeatOverlay`]: all beats of a window, aligned at the R-peak (x = time from
//!   `pre` before to `post` after R), each minus its median (baseline), on a **fixed** amplitude
//!   scale of ±[`OVERLAY_HALF_RANGE_MV`] mV (clipped). Pixel = 255·sqrt(fraction of beats crossing
//!   it): the typical shape is bright, a single odd beat among 40 still shows (≈ 40).
//! - [`Channel::Tachogram`]: the RR series as a line, x = beat index stretched over the width,
//!   y = RR on a **fixed** axis [`RR_MIN_S`] (bottom) to [`RR_MAX_S`] s (top), clipped.
//! - [`Channel::Poincare`]: one antialiased dot per pair (RR_n on x, RR_n+1 on y, upwards), both on
//!   the fixed axis [`RR_MIN_S`]–[`RR_MAX_S`] s; dots add up (two coincident dots saturate).
//!
//! Fixed scales make windows comparable across time and people; only `Beat` is self-scaled.
//! Non-finite samples break a line (or drop the beat / pair); nothing valid gives a blank image.

mod raster;

use std::fmt;

use crate::error::{Error, Result};

/// Width and height of every image, pixels.
pub const IMAGE_SIZE: usize = 128;
/// Pixels per image (`IMAGE_SIZE²`), the length every `out` buffer must have.
pub const IMAGE_PIXELS: usize = IMAGE_SIZE * IMAGE_SIZE;
/// Empty border (pixels) around the drawing area; coordinates span `MARGIN..=IMAGE_SIZE-1-MARGIN`.
pub const MARGIN: f32 = 4.0;
/// Sampling rate (Hz) of the window signal [`Imager::new`] expects: the model rate (130 Hz).
pub const DEFAULT_SAMPLING_RATE_HZ: f64 = 130.0;
/// Seconds before the R-peak in a beat window (overlay and window-average beat).
pub const BEAT_PRE_S: f64 = 0.3;
/// Seconds after the R-peak in a beat window.
pub const BEAT_POST_S: f64 = 0.5;
/// The beat overlay shows ±this many mV around each beat's median.
pub const OVERLAY_HALF_RANGE_MV: f32 = 2.0;
/// Bottom of the RR axis (tachogram y, Poincaré x and y), seconds (200 bpm).
pub const RR_MIN_S: f32 = 0.3;
/// Top of the RR axis, seconds (40 bpm).
pub const RR_MAX_S: f32 = 1.5;

/// Intensity of a fully covered pixel of a line.
const LINE_LEVEL: f32 = 255.0;
/// Intensity added by one Poincaré dot at full coverage (two coincident dots saturate).
const DOT_LEVEL: f32 = 128.0;
/// At most this many samples enter a beat's median (longer beats are subsampled evenly).
const MEDIAN_SCRATCH: usize = 512;

/// A named image channel. The names are stable: they appear in model metadata
/// (`image_channels`, see `docs/model-format.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// One beat, self-scaled to fill the image (`"beat"`).
    Beat,
    /// All beats of a window, aligned at R, fixed ±2 mV scale (`"beat_overlay"`).
    BeatOverlay,
    /// RR series on a fixed 0.3–1.5 s axis (`"tachogram"`).
    Tachogram,
    /// RR_n vs RR_n+1 on fixed 0.3–1.5 s axes (`"poincare"`).
    Poincare,
}

impl Channel {
    /// Every channel, in a fixed order.
    pub const ALL: [Channel; 4] = [
        Channel::Beat,
        Channel::BeatOverlay,
        Channel::Tachogram,
        Channel::Poincare,
    ];

    /// Whether it is drawn from the ECG samples (not from the RR series alone).
    pub fn needs_ecg(self) -> bool {
        matches!(self, Channel::Beat | Channel::BeatOverlay)
    }

    /// The stable name (`"beat"`, `"beat_overlay"`, `"tachogram"`, `"poincare"`).
    pub fn name(self) -> &'static str {
        match self {
            Channel::Beat => "beat",
            Channel::BeatOverlay => "beat_overlay",
            Channel::Tachogram => "tachogram",
            Channel::Poincare => "poincare",
        }
    }

    /// The channel called `name`; an unknown name is [`Error::InvalidArgument`].
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|c| c.name()).collect();
                Error::InvalidArgument(format!(
                    "unknown image channel {name:?} (known: {})",
                    known.join(", ")
                ))
            })
    }

    /// True for the channels drawn from a whole window (all but [`Channel::Beat`] of one beat).
    pub fn is_window_channel(self) -> bool {
        self != Channel::Beat
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a window image is drawn from.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowData<'a> {
    /// The window's ECG in mV, at the [`Imager`]'s sampling rate (130 Hz for [`Imager::new`]).
    pub signal: &'a [f32],
    /// R-peak indices into `signal`, ascending.
    pub peaks: &'a [usize],
    /// The window's RR intervals, seconds.
    pub rr_s: &'a [f32],
}

/// Draws channels into caller-owned `IMAGE_PIXELS` buffers; owns all scratch memory, so rendering
/// never allocates. Not thread-safe by sharing: use one per thread.
#[derive(Debug, Clone)]
pub struct Imager {
    pre: usize,
    post: usize,
    /// One beat's coverage (overlay), cleared after each beat.
    layer: Vec<u8>,
    /// Overlay accumulation: sum over beats of coverage (0..=1).
    acc: Vec<f32>,
    /// Window-average beat, `pre + post` samples.
    mean_beat: Vec<f32>,
    /// Median scratch, capacity [`MEDIAN_SCRATCH`].
    median: Vec<f32>,
}

impl Default for Imager {
    fn default() -> Self {
        Self::new()
    }
}

impl Imager {
    /// An imager for window signals at 130 Hz ([`DEFAULT_SAMPLING_RATE_HZ`]).
    pub fn new() -> Self {
        Self::with_beat_window(
            seconds_to_samples(BEAT_PRE_S, DEFAULT_SAMPLING_RATE_HZ),
            seconds_to_samples(BEAT_POST_S, DEFAULT_SAMPLING_RATE_HZ),
        )
    }

    /// An imager for window signals at `fs` Hz (the beat window is [`BEAT_PRE_S`] +
    /// [`BEAT_POST_S`] at that rate). `fs` must be finite and in 1..=10 000 Hz.
    pub fn with_sampling_rate(fs: f64) -> Result<Self> {
        if !(1.0..=10_000.0).contains(&fs) {
            return Err(Error::InvalidArgument(format!(
                "imaging sampling rate {fs} Hz is outside 1..=10000 Hz"
            )));
        }
        Ok(Self::with_beat_window(
            seconds_to_samples(BEAT_PRE_S, fs),
            seconds_to_samples(BEAT_POST_S, fs),
        ))
    }

    fn with_beat_window(pre: usize, post: usize) -> Self {
        Self {
            pre,
            post,
            layer: vec![0; IMAGE_PIXELS],
            acc: vec![0.0; IMAGE_PIXELS],
            mean_beat: vec![0.0; pre + post],
            median: Vec::with_capacity(MEDIAN_SCRATCH),
        }
    }

    /// The beat window `(pre, post)` in samples: a beat is `signal[peak - pre .. peak + post]`.
    pub fn beat_window(&self) -> (usize, usize) {
        (self.pre, self.post)
    }

    /// Draw `channel` of a window into `out` (`IMAGE_PIXELS` bytes). [`Channel::Beat`] draws the
    /// window's ensemble-average beat (each beat minus its median, then averaged).
    pub fn render(
        &mut self,
        channel: Channel,
        window: &WindowData<'_>,
        out: &mut [u8],
    ) -> Result<()> {
        match channel {
            Channel::Beat => {
                check_out(out)?;
                let n = average_beat(
                    &mut self.mean_beat,
                    &mut self.median,
                    window.signal,
                    window.peaks,
                    self.pre,
                );
                out.fill(0);
                if n > 0 {
                    draw_fitted_polyline(&self.mean_beat, out);
                }
                Ok(())
            }
            Channel::BeatOverlay => {
                let (pre, post) = (self.pre, self.post);
                self.render_beat_overlay(window.signal, window.peaks, pre, post, out)
            }
            Channel::Tachogram => self.render_tachogram(window.rr_s, out),
            Channel::Poincare => self.render_poincare(window.rr_s, out),
        }
    }

    /// One beat (any length, any rate) scaled to fill the image.
    pub fn render_beat(&mut self, samples: &[f32], out: &mut [u8]) -> Result<()> {
        check_out(out)?;
        out.fill(0);
        draw_fitted_polyline(samples, out);
        Ok(())
    }

    /// Every beat `signal[p - pre .. p + post]` (for `p` in `peaks`; beats running off the signal
    /// or holding a non-finite sample are skipped), aligned at R, on the fixed ±2 mV scale.
    pub fn render_beat_overlay(
        &mut self,
        signal: &[f32],
        peaks: &[usize],
        pre: usize,
        post: usize,
        out: &mut [u8],
    ) -> Result<()> {
        check_out(out)?;
        out.fill(0);
        let len = pre.saturating_add(post);
        if len == 0 {
            return Ok(());
        }
        self.acc.fill(0.0);
        let span = IMAGE_SIZE as f32 - 1.0 - 2.0 * MARGIN;
        let mid = (IMAGE_SIZE as f32 - 1.0) / 2.0;
        let x_step = if len > 1 {
            span / (len - 1) as f32
        } else {
            0.0
        };
        let y_per_mv = span / (2.0 * OVERLAY_HALF_RANGE_MV);
        let mut beats = 0usize;
        for beat in beat_windows(signal, peaks, pre, post) {
            let baseline = median_of(&mut self.median, beat);
            let y_of = |v: f32| {
                let mv = (v - baseline).clamp(-OVERLAY_HALF_RANGE_MV, OVERLAY_HALF_RANGE_MV);
                mid - mv * y_per_mv
            };
            let points = beat
                .iter()
                .enumerate()
                .map(|(i, &v)| Some((MARGIN + i as f32 * x_step, y_of(v))));
            draw_polyline(&mut self.layer, points);
            // Only the rows this beat can touch (its y extent ± the antialiasing pixel).
            let (lo, hi) = beat.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| {
                let y = y_of(v);
                (lo.min(y), hi.max(y))
            });
            let first_row = (lo.floor() as usize).saturating_sub(1);
            let last_row = ((hi.ceil() as usize) + 2).min(IMAGE_SIZE);
            let rows = first_row * IMAGE_SIZE..last_row * IMAGE_SIZE;
            for (a, l) in self.acc[rows.clone()].iter_mut().zip(&mut self.layer[rows]) {
                *a += f32::from(*l) / 255.0;
                *l = 0;
            }
            beats += 1;
        }
        if beats > 0 {
            let inv = 1.0 / beats as f32;
            for (o, &a) in out.iter_mut().zip(&self.acc) {
                *o = (255.0 * (a * inv).min(1.0).sqrt() + 0.5) as u8;
            }
        }
        Ok(())
    }

    /// The RR series (seconds) as a line on the fixed [`RR_MIN_S`]–[`RR_MAX_S`] axis.
    pub fn render_tachogram(&mut self, rr_s: &[f32], out: &mut [u8]) -> Result<()> {
        check_out(out)?;
        out.fill(0);
        let span = IMAGE_SIZE as f32 - 1.0 - 2.0 * MARGIN;
        let x_step = if rr_s.len() > 1 {
            span / (rr_s.len() - 1) as f32
        } else {
            0.0
        };
        let x0 = if rr_s.len() > 1 {
            MARGIN
        } else {
            (IMAGE_SIZE as f32 - 1.0) / 2.0
        };
        let points = rr_s.iter().enumerate().map(|(i, &rr)| {
            rr.is_finite()
                .then(|| (x0 + i as f32 * x_step, rr_to_y(rr)))
        });
        draw_polyline(out, points);
        Ok(())
    }

    /// One dot per consecutive pair (RR_n, RR_n+1), seconds, on fixed axes.
    pub fn render_poincare(&mut self, rr_s: &[f32], out: &mut [u8]) -> Result<()> {
        check_out(out)?;
        out.fill(0);
        for w in rr_s.windows(2) {
            if w[0].is_finite() && w[1].is_finite() {
                // x grows with RR_n; y (upwards) with RR_n+1: x mirrors the y mapping.
                let x = IMAGE_SIZE as f32 - 1.0 - rr_to_y(w[0]);
                raster::dot(out, (x, rr_to_y(w[1])), DOT_LEVEL);
            }
        }
        Ok(())
    }
}

fn seconds_to_samples(s: f64, fs: f64) -> usize {
    (s * fs).round() as usize
}

fn check_out(out: &[u8]) -> Result<()> {
    if out.len() == IMAGE_PIXELS {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "image buffer has {} bytes, expected {IMAGE_PIXELS}",
            out.len()
        )))
    }
}

/// Row of an RR value on the fixed axis (clipped): `RR_MAX_S` at the top margin.
fn rr_to_y(rr: f32) -> f32 {
    let span = IMAGE_SIZE as f32 - 1.0 - 2.0 * MARGIN;
    let t = (rr.clamp(RR_MIN_S, RR_MAX_S) - RR_MIN_S) / (RR_MAX_S - RR_MIN_S);
    MARGIN + (1.0 - t) * span
}

/// Connect consecutive `Some` points; `None` breaks the line. A lone point with no segment at
/// all becomes a dot.
fn draw_polyline(canvas: &mut [u8], points: impl Iterator<Item = Option<(f32, f32)>>) {
    let mut prev = None;
    let mut last_point = None;
    let mut segments = 0usize;
    for p in points {
        if let (Some(a), Some(b)) = (prev, p) {
            raster::wu_line(canvas, a, b, LINE_LEVEL);
            segments += 1;
        }
        prev = p;
        last_point = p.or(last_point);
    }
    if let (0, Some(p)) = (segments, last_point) {
        raster::dot(canvas, p, LINE_LEVEL);
    }
}

/// `samples` scaled to fill the drawing area (non-finite samples break the line).
fn draw_fitted_polyline(samples: &[f32], canvas: &mut [u8]) {
    let (lo, hi) = samples
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| {
            (lo.min(f64::from(v)), hi.max(f64::from(v)))
        });
    if lo > hi {
        return; // nothing finite
    }
    let span = f64::from(IMAGE_SIZE as f32 - 1.0 - 2.0 * MARGIN);
    let mid = (IMAGE_SIZE as f64 - 1.0) / 2.0;
    let range = hi - lo;
    let y_of = |v: f32| -> f32 {
        if range > 0.0 {
            (f64::from(MARGIN) + (hi - f64::from(v)) / range * span) as f32
        } else {
            mid as f32
        }
    };
    let x_step = if samples.len() > 1 {
        span / (samples.len() - 1) as f64
    } else {
        0.0
    };
    let points = samples.iter().enumerate().map(|(i, &v)| {
        v.is_finite()
            .then(|| ((f64::from(MARGIN) + i as f64 * x_step) as f32, y_of(v)))
    });
    if samples.len() == 1 {
        draw_polyline(canvas, std::iter::once(Some((mid as f32, mid as f32))));
    } else {
        draw_polyline(canvas, points);
    }
}

/// The complete, finite beat windows `signal[p - pre .. p + post]`.
fn beat_windows<'s>(
    signal: &'s [f32],
    peaks: &'s [usize],
    pre: usize,
    post: usize,
) -> impl Iterator<Item = &'s [f32]> + 's {
    peaks.iter().filter_map(move |&p| {
        let start = p.checked_sub(pre)?;
        let beat = signal.get(start..p.checked_add(post)?)?;
        beat.iter().all(|v| v.is_finite()).then_some(beat)
    })
}

/// Median of `values` (finite), using `scratch` (capacity [`MEDIAN_SCRATCH`]; longer inputs are
/// subsampled evenly so it never grows).
fn median_of(scratch: &mut Vec<f32>, values: &[f32]) -> f32 {
    scratch.clear();
    let stride = values.len().div_ceil(MEDIAN_SCRATCH).max(1);
    scratch.extend(values.iter().step_by(stride).copied());
    if scratch.is_empty() {
        return 0.0;
    }
    let k = scratch.len() / 2;
    let (_, m, _) = scratch.select_nth_unstable_by(k, f32::total_cmp);
    *m
}

/// Ensemble average of the window's baseline-corrected beats into `mean` (length `pre + post`);
/// returns how many beats it averages.
fn average_beat(
    mean: &mut [f32],
    scratch: &mut Vec<f32>,
    signal: &[f32],
    peaks: &[usize],
    pre: usize,
) -> usize {
    mean.fill(0.0);
    let post = mean.len().saturating_sub(pre);
    let mut n = 0usize;
    for beat in beat_windows(signal, peaks, pre, post) {
        let baseline = median_of(scratch, beat);
        for (m, &v) in mean.iter_mut().zip(beat) {
            *m += v - baseline;
        }
        n += 1;
    }
    if n > 0 {
        let inv = 1.0 / n as f32;
        mean.iter_mut().for_each(|m| *m *= inv);
    }
    n
}

#[cfg(test)]
mod tests;
