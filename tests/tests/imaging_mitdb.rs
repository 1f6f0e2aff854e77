//! `imaging` on real MIT-BIH beats (record 119: sinus rhythm with frequent PVCs), positioned at
//! the reference annotations, drawn at the record's own 360 Hz.
//!
//! Checked: a V beat's image is clearly farther from the record's average N image than N beats
//! are; the image is stable under a small offset / gain change; the window channels of a real
//! 30 s window are drawn and unchanged by a baseline offset.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use stressbeat_core::imaging::{Channel, IMAGE_PIXELS, Imager, WindowData};
use stressbeat_core::io::{LoadOptions, load_recording};
use stressbeat_e2e::{dataset, median};

const FS: f64 = 360.0;

/// MLII in mV and (annotated sample, symbol) of record 119.
fn record_119() -> Option<(Vec<f32>, Vec<(usize, String)>)> {
    let dir = dataset("mitdb")?;
    let rec = load_recording(&dir.join("119.hea"), &LoadOptions::default()).unwrap();
    assert_eq!(rec.annotation_rate_hz, FS);
    let ch = rec.default_ecg_channel().unwrap();
    let mv = rec.signals[ch].to_millivolts().unwrap();
    let beats = rec
        .beat_annotations()
        .map(|a| (a.sample as usize, a.symbol.clone()))
        .collect();
    Some((mv, beats))
}

/// Mean absolute pixel difference, in intensity levels.
fn distance(a: &[u8], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&p, &q)| (f64::from(p) - f64::from(q)).abs())
        .sum::<f64>()
        / IMAGE_PIXELS as f64
}

#[test]
fn v_beats_look_different_from_n_beats() {
    let Some((mv, beats)) = record_119() else {
        return;
    };
    let mut imager = Imager::with_sampling_rate(FS).unwrap();
    let (pre, post) = imager.beat_window();
    let image_of = |imager: &mut Imager, r: usize| {
        let mut img = vec![0u8; IMAGE_PIXELS];
        imager
            .render_beat(&mv[r - pre..r + post], &mut img)
            .unwrap();
        img
    };
    let inner = beats
        .iter()
        .filter(|(r, _)| *r >= pre && r + post <= mv.len());
    let n_imgs: Vec<Vec<u8>> = inner
        .clone()
        .filter(|(_, s)| s == "N")
        .take(60)
        .map(|(r, _)| image_of(&mut imager, *r))
        .collect();
    let v_imgs: Vec<Vec<u8>> = inner
        .filter(|(_, s)| s == "V")
        .take(20)
        .map(|(r, _)| image_of(&mut imager, *r))
        .collect();
    assert!(n_imgs.len() == 60 && v_imgs.len() == 20);
    // Template: the average of the first 30 N images; the other 30 N are the comparison.
    let mut template = vec![0.0f32; IMAGE_PIXELS];
    for img in &n_imgs[..30] {
        for (t, &p) in template.iter_mut().zip(img) {
            *t += f32::from(p) / 30.0;
        }
    }
    let mut d_n: Vec<f64> = n_imgs[30..]
        .iter()
        .map(|i| distance(i, &template))
        .collect();
    let mut d_v: Vec<f64> = v_imgs.iter().map(|i| distance(i, &template)).collect();
    let max_n = d_n.iter().copied().fold(0.0, f64::max);
    let (med_n, med_v) = (median(&mut d_n), median(&mut d_v));
    println!("distance to the N template: N median {med_n:.2} max {max_n:.2}, V median {med_v:.2}");
    assert!(med_v > 1.5 * med_n, "V {med_v:.2} vs N {med_n:.2}");
    let v_beyond = d_v.iter().filter(|&&d| d > max_n).count();
    assert!(
        v_beyond >= 18,
        "only {v_beyond}/20 V beats farther than every N beat"
    );
}

#[test]
fn beat_image_is_stable_under_small_offset_and_gain() {
    let Some((mv, beats)) = record_119() else {
        return;
    };
    let mut imager = Imager::with_sampling_rate(FS).unwrap();
    let (pre, post) = imager.beat_window();
    let (mut a, mut b) = (vec![0u8; IMAGE_PIXELS], vec![0u8; IMAGE_PIXELS]);
    for (r, _) in beats.iter().filter(|(r, _)| *r >= pre).skip(5).take(20) {
        let beat = &mv[r - pre..r + post];
        imager.render_beat(beat, &mut a).unwrap();
        let shifted: Vec<f32> = beat.iter().map(|v| 1.05 * v + 0.05).collect();
        imager.render_beat(&shifted, &mut b).unwrap();
        let max_diff = a.iter().zip(&b).map(|(p, q)| p.abs_diff(*q)).max().unwrap();
        assert!(max_diff <= 3, "beat at {r}: pixel difference {max_diff}");
    }
}

#[test]
fn window_channels_of_a_real_window() {
    let Some((mv, beats)) = record_119() else {
        return;
    };
    let (from, to) = (60 * 360, 90 * 360);
    let signal = &mv[from..to];
    let peaks: Vec<usize> = beats
        .iter()
        .filter(|(r, _)| (from..to).contains(r))
        .map(|(r, _)| r - from)
        .collect();
    let rr: Vec<f32> = peaks
        .windows(2)
        .map(|w| ((w[1] - w[0]) as f64 / FS) as f32)
        .collect();
    let mut imager = Imager::with_sampling_rate(FS).unwrap();
    let shifted: Vec<f32> = signal.iter().map(|v| v + 0.3).collect();
    for channel in Channel::ALL {
        let (mut a, mut b) = (vec![0u8; IMAGE_PIXELS], vec![0u8; IMAGE_PIXELS]);
        let w = WindowData {
            signal,
            peaks: &peaks,
            rr_s: &rr,
        };
        imager.render(channel, &w, &mut a).unwrap();
        let lit = a.iter().filter(|&&v| v > 0).count();
        println!("{channel}: {lit} lit pixels");
        assert!(lit > 100, "{channel}: only {lit} lit pixels");
        let w = WindowData {
            signal: &shifted,
            peaks: &peaks,
            rr_s: &rr,
        };
        imager.render(channel, &w, &mut b).unwrap();
        let max_diff = a.iter().zip(&b).map(|(p, q)| p.abs_diff(*q)).max().unwrap();
        assert!(
            max_diff <= 3,
            "{channel}: offset changed a pixel by {max_diff}"
        );
    }
}
