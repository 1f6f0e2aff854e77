//! Antialiased drawing primitives on a `IMAGE_SIZE`² u8 canvas (row-major, row 0 at the top).
//!
//! Coordinates are pixel centres in f32. Intensities are added with saturation, so the pieces of a
//! polyline sum to a continuous line (Xiaolin Wu's endpoint weights are designed for that).

use super::IMAGE_SIZE;

/// Add `coverage` (0..=1) × `level` to pixel (`x`, `y`); pixels outside the canvas are ignored.
#[inline]
fn plot(canvas: &mut [u8], x: i32, y: i32, coverage: f32, level: f32) {
    if x < 0 || y < 0 || x >= IMAGE_SIZE as i32 || y >= IMAGE_SIZE as i32 || coverage <= 0.0 {
        return;
    }
    let i = y as usize * IMAGE_SIZE + x as usize;
    if let Some(p) = canvas.get_mut(i) {
        let add = (coverage * level + 0.5) as u8; // float→int casts saturate
        *p = p.saturating_add(add);
    }
}

#[inline]
fn fpart(v: f32) -> f32 {
    v - v.floor()
}

#[inline]
fn rfpart(v: f32) -> f32 {
    1.0 - fpart(v)
}

/// Xiaolin Wu's antialiased line from (`x0`, `y0`) to (`x1`, `y1`), both inside the canvas.
pub(crate) fn wu_line(canvas: &mut [u8], (x0, y0): (f32, f32), (x1, y1): (f32, f32), level: f32) {
    let steep = (y1 - y0).abs() > (x1 - x0).abs();
    // Work along the major axis `a` (minor axis `b`); `put` maps back to (x, y).
    let (mut a0, mut b0, mut a1, mut b1) = if steep {
        (y0, x0, y1, x1)
    } else {
        (x0, y0, x1, y1)
    };
    if a0 > a1 {
        std::mem::swap(&mut a0, &mut a1);
        std::mem::swap(&mut b0, &mut b1);
    }
    let mut put = |a: i32, b: i32, c: f32| {
        if steep {
            plot(canvas, b, a, c, level)
        } else {
            plot(canvas, a, b, c, level)
        }
    };
    let da = a1 - a0;
    let gradient = if da < 1e-6 { 0.0 } else { (b1 - b0) / da };

    // First endpoint.
    let a_end = a0.round();
    let b_end = b0 + gradient * (a_end - a0);
    let gap = rfpart(a0 + 0.5);
    let a_px1 = a_end as i32;
    put(a_px1, b_end.floor() as i32, rfpart(b_end) * gap);
    put(a_px1, b_end.floor() as i32 + 1, fpart(b_end) * gap);
    let mut inter_b = b_end + gradient;

    // Second endpoint.
    let a_end = a1.round();
    let b_end = b1 + gradient * (a_end - a1);
    let gap = fpart(a1 + 0.5);
    let a_px2 = a_end as i32;
    if a_px2 != a_px1 {
        put(a_px2, b_end.floor() as i32, rfpart(b_end) * gap);
        put(a_px2, b_end.floor() as i32 + 1, fpart(b_end) * gap);
    }

    // Between the endpoints: two pixels per step of the major axis.
    for a in a_px1 + 1..a_px2 {
        let b = inter_b.floor();
        put(a, b as i32, rfpart(inter_b));
        put(a, b as i32 + 1, fpart(inter_b));
        inter_b += gradient;
    }
}

/// Radius (pixels) of an antialiased dot.
pub(crate) const DOT_RADIUS: f32 = 1.5;

/// An antialiased disc of radius [`DOT_RADIUS`] centred at (`cx`, `cy`).
pub(crate) fn dot(canvas: &mut [u8], (cx, cy): (f32, f32), level: f32) {
    let reach = DOT_RADIUS.ceil() as i32 + 1;
    let (px, py) = (cx.round() as i32, cy.round() as i32);
    for y in py - reach..=py + reach {
        for x in px - reach..=px + reach {
            let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
            // Coverage falls from 1 to 0 across the one-pixel-wide rim.
            let coverage = (DOT_RADIUS + 0.5 - d).clamp(0.0, 1.0);
            plot(canvas, x, y, coverage, level);
        }
    }
}
