//! Drawing for the CLI's PNG figures (the session report, `stress --plot`, `peaks --plot`): a
//! few primitives on an RGB buffer and the 8×8 bitmap font (`font8x8`) scaled up; no system
//! fonts, so a figure is the same on every machine.

use std::path::Path;

use font8x8::legacy::BASIC_LEGACY;
use image::{Rgb, RgbImage};
use stressbeat_core::{
    dsp::filter::{EcgFilter, EcgFilterConfig},
    imaging::{IMAGE_PIXELS, IMAGE_SIZE},
};

pub const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
pub const INK: Rgb<u8> = Rgb([30, 30, 40]);
pub const MUTED: Rgb<u8> = Rgb([110, 110, 120]);
pub const GRID: Rgb<u8> = Rgb([225, 225, 230]);
pub const GAP: Rgb<u8> = Rgb([200, 200, 205]);
pub const HR_LINE: Rgb<u8> = Rgb([200, 40, 60]);
pub const SCORE_LINE: Rgb<u8> = Rgb([30, 60, 160]);
pub const ALERT: Rgb<u8> = Rgb([230, 90, 0]);
/// The footer every figure carries.
pub const NOT_MEDICAL_FOOTER: &str =
    "Not a medical device. For personal insight only, not for diagnosis.";

/// A plot's area on the canvas, pixels (left, top, width, height).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlotArea {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

/// Save `img` as PNG at `path`, readable by the user only (a figure of health data, like the
/// history); an existing file is replaced only once the new one is whole.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<(), String> {
    let cannot = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", path.display());
    stressbeat_core::io::write_replacing(
        path,
        |out| {
            img.write_to(out, image::ImageFormat::Png)
                .map_err(|e| cannot(&e))
        },
        |e| cannot(&e),
    )
}

/// An RGB canvas with the drawing primitives the plots need (clipped at the edges).
pub struct Canvas {
    img: RgbImage,
}

impl Canvas {
    pub fn new(w: u32, h: u32) -> Self {
        Self {
            img: RgbImage::from_pixel(w, h, WHITE),
        }
    }

    pub fn width(&self) -> u32 {
        self.img.width()
    }

    pub fn into_image(self) -> RgbImage {
        self.img
    }

    /// The grey band at the bottom with [`NOT_MEDICAL_FOOTER`].
    pub fn footer(&mut self) {
        let (w, h) = (self.img.width(), self.img.height());
        self.fill_rect(0, h.saturating_sub(44), w, 44, Rgb([240, 240, 244]));
        self.text(20, h.saturating_sub(30), NOT_MEDICAL_FOOTER, 2, INK);
    }

    pub fn put(&mut self, x: u32, y: u32, color: Rgb<u8>) {
        if x < self.img.width() && y < self.img.height() {
            self.img.put_pixel(x, y, color);
        }
    }

    pub fn fill_rect(&mut self, x: u32, y: u32, w: u32, h: u32, color: Rgb<u8>) {
        for yy in y..y.saturating_add(h).min(self.img.height()) {
            for xx in x..x.saturating_add(w).min(self.img.width()) {
                self.img.put_pixel(xx, yy, color);
            }
        }
    }

    pub fn hline(&mut self, x0: u32, x1: u32, y: u32, color: Rgb<u8>) {
        self.fill_rect(x0, y, x1.saturating_sub(x0), 1, color);
    }

    pub fn vline(&mut self, x: u32, y0: u32, y1: u32, color: Rgb<u8>) {
        self.fill_rect(x, y0, 1, y1.saturating_sub(y0), color);
    }

    pub fn frame(&mut self, a: PlotArea, color: Rgb<u8>) {
        self.hline(a.x, a.x + a.w, a.y, color);
        self.hline(a.x, a.x + a.w, a.y + a.h - 1, color);
        self.vline(a.x, a.y, a.y + a.h, color);
        self.vline(a.x + a.w - 1, a.y, a.y + a.h, color);
    }

    /// Bresenham line.
    pub fn line(&mut self, x0: u32, y0: u32, x1: u32, y1: u32, color: Rgb<u8>) {
        let (mut x, mut y) = (i64::from(x0), i64::from(y0));
        let (x1, y1) = (i64::from(x1), i64::from(y1));
        let (dx, dy) = ((x1 - x).abs(), -(y1 - y).abs());
        let (sx, sy) = (if x < x1 { 1 } else { -1 }, if y < y1 { 1 } else { -1 });
        let mut err = dx + dy;
        loop {
            self.put(x as u32, y as u32, color);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// ASCII text from the 8×8 font at `scale` (other characters print as '?').
    pub fn text(&mut self, x: u32, y: u32, s: &str, scale: u32, color: Rgb<u8>) {
        for (i, ch) in s.chars().enumerate() {
            let code = if ch.is_ascii() {
                ch as usize
            } else {
                '?' as usize
            };
            let glyph = BASIC_LEGACY[code];
            let gx = x + i as u32 * 8 * scale;
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8u32 {
                    if bits >> col & 1 == 1 {
                        self.fill_rect(
                            gx + col * scale,
                            y + row as u32 * scale,
                            scale,
                            scale,
                            color,
                        );
                    }
                }
            }
        }
    }

    /// Text wrapped at spaces into lines that end before `right` (a word longer than a line is
    /// cut); returns the y under its last line.
    pub fn text_wrapped(
        &mut self,
        x: u32,
        y: u32,
        right: u32,
        s: &str,
        scale: u32,
        color: Rgb<u8>,
    ) -> u32 {
        let max_chars = (right.saturating_sub(x) / (8 * scale)).max(1) as usize;
        let line_height = 11 * scale;
        let mut y = y;
        let mut line = String::new();
        for word in s.split(' ') {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > max_chars {
                self.text(x, y, &line, scale, color);
                y += line_height;
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        let line: String = line.chars().take(max_chars).collect();
        self.text(x, y, &line, scale, color);
        y + line_height
    }

    /// Text ending at `right`.
    pub fn text_right(&mut self, right: u32, y: u32, s: &str, scale: u32, color: Rgb<u8>) {
        let w = s.len() as u32 * 8 * scale;
        self.text(right.saturating_sub(w), y, s, scale, color);
    }

    /// A 128×128 grayscale image, inverted (dark line on white), scaled by `scale`.
    pub fn gray_image(&mut self, x: u32, y: u32, pixels: &[u8], scale: u32) {
        let n = IMAGE_SIZE as u32;
        for (i, &p) in pixels.iter().enumerate().take(IMAGE_PIXELS) {
            let (px, py) = (i as u32 % n, i as u32 / n);
            let v = 255 - p;
            self.fill_rect(x + px * scale, y + py * scale, scale, scale, Rgb([v, v, v]));
        }
        self.frame(
            PlotArea {
                x,
                y,
                w: n * scale,
                h: n * scale,
            },
            GRID,
        );
    }
}

/// A heart-rate axis around `hr`'s values: whole tens, at least 20 bpm (40–120 when empty).
pub fn hr_range(hr: &[(i64, f64)]) -> (f64, f64) {
    let (lo, hi) = hr
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, v)| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (40.0, 120.0);
    }
    let lo = ((lo - 5.0) / 10.0).floor() * 10.0;
    let hi = ((hi + 5.0) / 10.0).ceil() * 10.0;
    (lo.max(0.0), hi.max(lo + 20.0))
}

/// Tick values every 10 (20 over a range of 80) between `lo` and `hi`.
pub fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let step = if hi - lo > 80.0 { 20.0 } else { 10.0 };
    let mut v = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while v <= hi + 1e-9 {
        out.push(v);
        v += step;
    }
    out
}

/// Value labels left of `a` at `values` (with `decimals`), each with a grid line across `a` when
/// `grid`.
pub fn value_axis(
    c: &mut Canvas,
    a: PlotArea,
    values: &[f64],
    (lo, hi): (f64, f64),
    decimals: usize,
    grid: bool,
) {
    for &v in values {
        let y = y_of(a, v, lo, hi);
        if grid {
            c.hline(a.x, a.x + a.w, y, GRID);
        }
        let label = format!("{v:.decimals$}");
        c.text_right(a.x - 8, y.saturating_sub(7), &label, 2, MUTED);
    }
}

/// The column of time `t` in `a` spanning `t0..t1` (clamped).
pub fn x_of(a: PlotArea, t: i64, t0: i64, t1: i64) -> u32 {
    let f = ((t - t0) as f64 / (t1 - t0).max(1) as f64).clamp(0.0, 1.0);
    a.x + (f * f64::from(a.w - 1)).round() as u32
}

/// The row of value `v` in `a` spanning `lo..hi` (clamped).
pub fn y_of(a: PlotArea, v: f64, lo: f64, hi: f64) -> u32 {
    let f = ((v - lo) / (hi - lo)).clamp(0.0, 1.0);
    a.y + a.h - 1 - (f * f64::from(a.h - 1)).round() as u32
}

/// A 2-pixel line through `pts` (time ms, value); steps longer than `max_step_ms` are left open
/// and a single point is a dot.
#[allow(clippy::too_many_arguments)]
pub fn plot_series(
    c: &mut Canvas,
    a: PlotArea,
    pts: &[(i64, f64)],
    t0: i64,
    t1: i64,
    lo: f64,
    hi: f64,
    max_step_ms: i64,
    color: Rgb<u8>,
) {
    for w in pts.windows(2) {
        let ((ta, va), (tb, vb)) = (w[0], w[1]);
        if tb - ta > max_step_ms {
            continue;
        }
        let (xa, ya) = (x_of(a, ta, t0, t1), y_of(a, va, lo, hi));
        let (xb, yb) = (x_of(a, tb, t0, t1), y_of(a, vb, lo, hi));
        c.line(xa, ya, xb, yb, color);
        c.line(xa, ya + 1, xb, yb + 1, color);
    }
    if let [(t, v)] = pts {
        let (x, y) = (x_of(a, *t, t0, t1), y_of(a, *v, lo, hi));
        c.fill_rect(x.saturating_sub(2), y.saturating_sub(2), 5, 5, color);
    }
}

/// Ticks and time labels under `a` spanning `t0..t1`: at round steps (at most 9) of the time
/// since `origin` (the session's or the recording's start), labelled with that time.
pub fn time_axis(c: &mut Canvas, a: PlotArea, t0: i64, t1: i64, origin: i64) {
    let span = t1 - t0;
    let step = [
        10_000i64, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000, 7_200_000,
        14_400_000,
    ]
    .into_iter()
    .find(|s| span / s <= 8)
    .unwrap_or(14_400_000);
    // the first round time at or after t0
    let mut t = origin + ((t0 - origin).max(0) + step - 1) / step * step;
    while t <= t1 {
        let x = x_of(a, t, t0, t1);
        c.vline(x, a.y + a.h, a.y + a.h + 5, MUTED);
        let label = clock_text(t - origin);
        let half = 8 * label.len() as u32;
        let lx = x
            .saturating_sub(half)
            .max(a.x)
            .min(c.width().saturating_sub(2 * half + 2));
        c.text(lx, a.y + a.h + 10, &label, 2, MUTED);
        t += step;
    }
}

/// `mv` band-passed (0.5–40 Hz, the detector's monitoring band) forward and backward, so without
/// phase shift or baseline wander: for drawing. Missing samples (NaN) stay missing.
pub fn display_filtered(mv: &[f32], fs: f64) -> Result<Vec<f32>, String> {
    let mut out = mv.to_vec();
    let mut filter = EcgFilter::new(fs, &EcgFilterConfig::default()).map_err(|e| e.to_string())?;
    for _ in 0..2 {
        filter.reset();
        filter.process_in_place(&mut out);
        out.reverse();
    }
    for (y, x) in out.iter_mut().zip(mv) {
        if !x.is_finite() {
            *y = f32::NAN;
        }
    }
    Ok(out)
}

/// Elapsed time as "m:ss" or "h:mm:ss".
pub fn clock_text(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}
