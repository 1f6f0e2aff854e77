use super::*;

fn blank() -> Vec<u8> {
    vec![0; IMAGE_PIXELS]
}

/// (min col, max col, min row, max row) of the lit pixels, or `None` for a blank image.
fn bbox(img: &[u8]) -> Option<(usize, usize, usize, usize)> {
    let lit: Vec<(usize, usize)> = (0..IMAGE_PIXELS)
        .filter(|&i| img[i] > 0)
        .map(|i| (i % IMAGE_SIZE, i / IMAGE_SIZE))
        .collect();
    let cols = lit.iter().map(|p| p.0);
    let rows = lit.iter().map(|p| p.1);
    Some((
        cols.clone().min()?,
        cols.max()?,
        rows.clone().min()?,
        rows.max()?,
    ))
}

fn px(img: &[u8], x: usize, y: usize) -> u8 {
    img[y * IMAGE_SIZE + x]
}

/// A beat-like test shape: a sharp spike on a slow wave, 96 samples.
fn spike_beat() -> Vec<f32> {
    (0..96)
        .map(|i| {
            let t = i as f32 / 95.0;
            0.2 * (6.0 * t).sin() + (-((t - 0.37) / 0.02).powi(2)).exp()
        })
        .collect()
}

#[test]
fn channel_names_round_trip_and_unknown_is_typed_error() {
    for c in Channel::ALL {
        assert_eq!(Channel::from_name(c.name()).ok(), Some(c));
        assert_eq!(c.to_string(), c.name());
    }
    assert!(matches!(
        Channel::from_name("Beat"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(!Channel::Beat.is_window_channel());
    assert!(Channel::Poincare.is_window_channel());
}

#[test]
fn wrong_out_length_is_invalid_argument_for_every_entry_point() {
    let mut im = Imager::new();
    let mut short = vec![0u8; IMAGE_PIXELS - 1];
    let x = spike_beat();
    let w = WindowData {
        signal: &x,
        peaks: &[40],
        rr_s: &[0.8, 0.9],
    };
    assert!(matches!(
        im.render_beat(&x, &mut short),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        im.render_beat_overlay(&x, &[40], 10, 10, &mut short),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        im.render_tachogram(&[0.8], &mut short),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        im.render_poincare(&[0.8], &mut short),
        Err(Error::InvalidArgument(_))
    ));
    for c in Channel::ALL {
        assert!(matches!(
            im.render(c, &w, &mut short),
            Err(Error::InvalidArgument(_))
        ));
    }
}

#[test]
fn beat_line_touches_all_four_margins_and_no_further() {
    let mut im = Imager::new();
    let mut img = blank();
    im.render_beat(&spike_beat(), &mut img).unwrap();
    let (c0, c1, r0, r1) = bbox(&img).unwrap();
    let m = MARGIN as usize;
    let far = IMAGE_SIZE - 1 - m;
    // Endpoints sit on the margin columns; max/min sample on the margin rows (±1 antialias pixel).
    assert_eq!((c0, c1), (m, far));
    assert!(
        (m - 1..=m).contains(&r0) && (far..=far + 1).contains(&r1),
        "{r0} {r1}"
    );
    // The spike (max) is drawn at full intensity on the top margin row.
    assert!((0..IMAGE_SIZE).any(|x| px(&img, x, m) >= 200));
}

#[test]
fn antialiasing_produces_intermediate_values() {
    let mut im = Imager::new();
    let mut img = blank();
    // A parabola: its slope is not a multiple of 45°, so coverage splits between two rows.
    let curve: Vec<f32> = (0..50).map(|i| (i as f32 / 49.0).powi(2)).collect();
    im.render_beat(&curve, &mut img).unwrap();
    let partial = img.iter().filter(|&&v| v > 20 && v < 235).count();
    assert!(partial > 50, "only {partial} partially covered pixels");
    // Where the slope is below 1 each column carries about one pixel's worth of intensity
    // (Wu splits 255 over two rows).
    for x in 10..55 {
        let col: u32 = (0..IMAGE_SIZE).map(|y| u32::from(px(&img, x, y))).sum();
        assert!((250..=260).contains(&col), "column {x}: {col}");
    }
}

#[test]
fn flat_beat_is_a_horizontal_line_in_the_middle() {
    let mut im = Imager::new();
    let mut img = blank();
    im.render_beat(&[0.7; 80], &mut img).unwrap();
    let m = MARGIN as usize;
    for y in 0..IMAGE_SIZE {
        for x in 0..IMAGE_SIZE {
            let v = px(&img, x, y);
            let on_line = (y == 63 || y == 64) && (m..=IMAGE_SIZE - 1 - m).contains(&x);
            if on_line {
                assert!(v > 0, "gap at ({x}, {y})");
            } else {
                assert_eq!(v, 0, "stray pixel at ({x}, {y})");
            }
        }
    }
    // y = 63.5 splits evenly between the two rows.
    assert!((px(&img, 60, 63) as i32 - px(&img, 60, 64) as i32).abs() <= 1);
}

#[test]
fn beat_is_invariant_to_offset_and_gain() {
    let mut im = Imager::new();
    let (mut a, mut b) = (blank(), blank());
    let x = spike_beat();
    let y: Vec<f32> = x.iter().map(|v| 3.0 * v - 1.25).collect();
    im.render_beat(&x, &mut a).unwrap();
    im.render_beat(&y, &mut b).unwrap();
    let max_diff = a.iter().zip(&b).map(|(p, q)| p.abs_diff(*q)).max().unwrap();
    assert!(max_diff <= 2, "max pixel difference {max_diff}");
}

#[test]
fn empty_and_non_finite_input_give_blank_or_broken_lines() {
    let mut im = Imager::new();
    let mut img = vec![7u8; IMAGE_PIXELS];
    im.render_beat(&[], &mut img).unwrap();
    assert!(img.iter().all(|&v| v == 0), "stale pixels left");
    im.render_beat(&[f32::NAN; 50], &mut img).unwrap();
    assert!(img.iter().all(|&v| v == 0));
    im.render_beat(&[f32::INFINITY, f32::NEG_INFINITY], &mut img)
        .unwrap();
    assert!(img.iter().all(|&v| v == 0));
    // A NaN in the middle leaves a gap around its column, the rest is drawn.
    let mut x = vec![0.0f32; 120];
    x[60] = f32::NAN;
    x[0] = 1.0;
    im.render_beat(&x, &mut img).unwrap();
    assert!(bbox(&img).is_some());
    let lit_col = |c: usize| (0..IMAGE_SIZE).any(|y| px(&img, c, y) > 0);
    let gap_x = (MARGIN + 60.0 * (119.0 / 119.0)) as usize;
    assert!(!lit_col(gap_x), "column {gap_x} should be empty");
    assert!(lit_col(gap_x - 3) && lit_col(gap_x + 3));
    // Extreme finite values do not overflow the scale.
    im.render_beat(&[f32::MAX, -f32::MAX, 0.0], &mut img)
        .unwrap();
    assert!(bbox(&img).is_some());
    for rr in [&[][..], &[f32::NAN, f32::NAN][..]] {
        im.render_tachogram(rr, &mut img).unwrap();
        assert!(img.iter().all(|&v| v == 0));
        im.render_poincare(rr, &mut img).unwrap();
        assert!(img.iter().all(|&v| v == 0));
    }
}

#[test]
fn single_sample_is_a_dot_in_the_centre() {
    let mut im = Imager::new();
    let mut img = blank();
    im.render_beat(&[0.3], &mut img).unwrap();
    let (c0, c1, r0, r1) = bbox(&img).unwrap();
    assert!(c0 >= 60 && c1 <= 67 && r0 >= 60 && r1 <= 67);
}

#[test]
fn rendering_is_deterministic() {
    let mut im1 = Imager::new();
    let mut im2 = Imager::new();
    let (sig, peaks) = synthetic_window(0.0);
    let rr = [0.8, 0.82, 0.79, 0.9, 0.75];
    let w = WindowData {
        signal: &sig,
        peaks: &peaks,
        rr_s: &rr,
    };
    for c in Channel::ALL {
        let (mut a, mut b, mut c2) = (blank(), blank(), blank());
        im1.render(c, &w, &mut a).unwrap();
        im1.render(c, &w, &mut b).unwrap(); // same imager again: no state leaks
        im2.render(c, &w, &mut c2).unwrap();
        assert_eq!(a, b, "{c}");
        assert_eq!(a, c2, "{c}");
        assert!(a.iter().any(|&v| v > 0), "{c} is blank");
    }
}

/// 30 s at 130 Hz with a spike every 0.8 s, plus `offset` mV.
fn synthetic_window(offset: f32) -> (Vec<f32>, Vec<usize>) {
    let n = 30 * 130;
    let peaks: Vec<usize> = (1..37).map(|k| k * 104).collect();
    let mut sig = vec![offset; n];
    for &p in &peaks {
        for d in 0..7usize {
            let v = 1.2 * (1.0 - d as f32 / 7.0);
            sig[p + d] += v;
            if d > 0 {
                sig[p - d] += v;
            }
        }
    }
    (sig, peaks)
}

#[test]
fn overlay_of_identical_beats_is_saturated_on_a_fixed_scale() {
    let mut im = Imager::new();
    let (sig, peaks) = synthetic_window(0.0);
    let (pre, post) = im.beat_window();
    let mut a = blank();
    im.render_beat_overlay(&sig, &peaks, pre, post, &mut a)
        .unwrap();
    assert_eq!(*a.iter().max().unwrap(), 255);
    // The flat baseline sits on the middle rows; the 1.2 mV spike reaches 1.2/2 of the half height.
    let mid_col = MARGIN as usize + 10;
    assert!(px(&a, mid_col, 63) > 100 && px(&a, mid_col, 64) > 100);
    let (_, _, top, _) = bbox(&a).unwrap();
    let expect_top = 63.5 - 1.2 / OVERLAY_HALF_RANGE_MV * (119.0 / 2.0);
    assert!(
        (top as f32 - expect_top).abs() <= 1.5,
        "top row {top}, expected {expect_top}"
    );
    // A baseline offset changes nothing (each beat minus its median).
    let (sig2, _) = synthetic_window(0.9);
    let mut b = blank();
    im.render_beat_overlay(&sig2, &peaks, pre, post, &mut b)
        .unwrap();
    assert_eq!(a, b);
    // Doubling the amplitude does change it (fixed scale, unlike `beat`).
    let sig3: Vec<f32> = sig.iter().map(|v| 2.0 * v).collect();
    im.render_beat_overlay(&sig3, &peaks, pre, post, &mut b)
        .unwrap();
    assert_ne!(a, b);
    // The per-beat layer is left clean (the row window covered every touched pixel).
    assert!(im.layer.iter().all(|&v| v == 0));
}

#[test]
fn overlay_shows_a_rare_beat_faintly() {
    let mut im = Imager::new();
    let (mut sig, peaks) = synthetic_window(0.0);
    // One beat gets a deep negative wave after R.
    let odd = peaks[10];
    for d in 20..30 {
        sig[odd + d] -= 1.5;
    }
    let (pre, post) = im.beat_window();
    let mut img = blank();
    im.render_beat_overlay(&sig, &peaks, pre, post, &mut img)
        .unwrap();
    let row = (63.5 + 1.5 / OVERLAY_HALF_RANGE_MV * 59.5).round() as usize;
    let x = (MARGIN + (pre + 25) as f32 * 119.0 / (pre + post - 1) as f32).round() as usize;
    let v = px(&img, x, row);
    // sqrt(1/36) × 255 ≈ 42.
    assert!((25..=60).contains(&v), "odd beat pixel {v}");
}

#[test]
fn overlay_skips_beats_off_the_signal_or_non_finite() {
    let mut im = Imager::new();
    let (mut sig, _) = synthetic_window(0.0);
    sig[500] = f32::NAN;
    let mut img = blank();
    // Peaks too close to either end, past the end, and one covering the NaN: nothing is drawn.
    im.render_beat_overlay(
        &sig,
        &[0, 3, sig.len() - 2, usize::MAX, 510],
        39,
        65,
        &mut img,
    )
    .unwrap();
    assert!(img.iter().all(|&v| v == 0));
    im.render_beat_overlay(&sig, &[104], 0, 0, &mut img)
        .unwrap();
    assert!(img.iter().all(|&v| v == 0));
}

#[test]
fn tachogram_uses_the_fixed_rr_axis() {
    let mut im = Imager::new();
    let mut img = blank();
    let m = MARGIN as usize;
    im.render_tachogram(&[RR_MAX_S; 10], &mut img).unwrap();
    assert_eq!(bbox(&img), Some((m, IMAGE_SIZE - 1 - m, m, m)));
    // Values beyond the axis are clipped to it.
    let mut clipped = blank();
    im.render_tachogram(&[3.0; 10], &mut clipped).unwrap();
    assert_eq!(img, clipped);
    im.render_tachogram(&[RR_MIN_S; 10], &mut img).unwrap();
    let far = IMAGE_SIZE - 1 - m;
    assert_eq!(bbox(&img), Some((m, far, far, far)));
    // A faster heart (shorter RR) is lower in the image.
    let (mut slow, mut fast) = (blank(), blank());
    im.render_tachogram(&[1.0; 20], &mut slow).unwrap();
    im.render_tachogram(&[0.6; 20], &mut fast).unwrap();
    assert!(bbox(&fast).unwrap().2 > bbox(&slow).unwrap().2);
}

#[test]
fn poincare_dot_lands_on_its_coordinates() {
    let mut im = Imager::new();
    let mut img = blank();
    // (0.9, 0.9) is the centre of the 0.3–1.5 s axes.
    im.render_poincare(&[0.9, 0.9], &mut img).unwrap();
    let (c0, c1, r0, r1) = bbox(&img).unwrap();
    assert!(
        (c0 + c1) / 2 == 63 && (r0 + r1) / 2 == 63,
        "{c0}..{c1} x {r0}..{r1}"
    );
    // RR_n long, RR_n+1 short: right and low.
    im.render_poincare(&[1.4, 0.4], &mut img).unwrap();
    let (c0, _, r0, _) = bbox(&img).unwrap();
    assert!(c0 > 100 && r0 > 100);
    // Coincident dots add up.
    let mut one = blank();
    im.render_poincare(&[0.9, 0.9], &mut one).unwrap();
    im.render_poincare(&[0.9, 0.9, 0.9], &mut img).unwrap();
    assert!(img.iter().zip(&one).all(|(a, b)| a >= b));
    assert_ne!(img, one);
}

#[test]
fn scratch_buffers_never_grow() {
    let mut im = Imager::new();
    let caps = |im: &Imager| {
        (
            im.layer.capacity(),
            im.acc.capacity(),
            im.mean_beat.capacity(),
            im.median.capacity(),
        )
    };
    let before = caps(&im);
    let mut img = blank();
    let (sig, peaks) = synthetic_window(0.1);
    // A beat window far longer than the median scratch is subsampled, not grown.
    im.render_beat_overlay(&sig, &[2000], 1500, 1500, &mut img)
        .unwrap();
    assert!(img.iter().any(|&v| v > 0));
    let w = WindowData {
        signal: &sig,
        peaks: &peaks,
        rr_s: &[0.8; 40],
    };
    for c in Channel::ALL {
        im.render(c, &w, &mut img).unwrap();
    }
    assert_eq!(caps(&im), before);
}

#[test]
fn sampling_rate_sets_the_beat_window() {
    assert_eq!(Imager::new().beat_window(), (39, 65));
    assert_eq!(
        Imager::with_sampling_rate(360.0).unwrap().beat_window(),
        (108, 180)
    );
    for bad in [0.0, -5.0, f64::NAN, f64::INFINITY, 1e6] {
        assert!(matches!(
            Imager::with_sampling_rate(bad),
            Err(Error::InvalidArgument(_))
        ));
    }
}
