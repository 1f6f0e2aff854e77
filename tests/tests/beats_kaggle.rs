//! The Kachuee et al. (2018) beat representation (`dsp::beats::kachuee_beats`) of MIT-BIH records
//! against the Kaggle "MIT-BIH heartbeat" rows in ../shared/data/kaggle_heartbeat_samples.
//!
//! What is checked: the same *properties* on both sides (187 values in [0, 1], max exactly 1,
//! zero padding after the beat, beat starting at an R-peak, similar beat lengths), that our beats
//! start at annotated beats, and — reported, plus a loose assertion — the best correlation of
//! Kaggle rows with our beats. The Kaggle rows do not say which record/beat they come from, so
//! a match is searched over all beats of all 26 records present.

// Test-only helpers (not `#[test]` fns, which clippy.toml already covers) may unwrap.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use stressbeat_core::dsp::beats::{KACHUEE_LEN, KachueeBeat, kachuee_beats};
use stressbeat_core::io::{LoadOptions, load_recording};
use stressbeat_e2e::dataset;

/// Kaggle rows: 187 values + label; the `rows1-999` file has a header and an index column.
fn kaggle_rows(path: &Path) -> Vec<[f32; KACHUEE_LEN]> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut rows = Vec::new();
    for line in text.lines() {
        let v: Vec<&str> = line.split(',').collect();
        if v.len() < 188 || v[0].is_empty() {
            continue; // header (",0,1,…,187"): its column names parse as numbers
        }
        let Ok(vals) = v[v.len() - 188..]
            .iter()
            .map(|x| x.parse::<f32>())
            .collect::<Result<Vec<_>, _>>()
        else {
            continue; // header
        };
        let mut r = [0.0; KACHUEE_LEN];
        r.copy_from_slice(&vals[..KACHUEE_LEN]);
        rows.push(r);
    }
    rows
}

/// Index after the last non-zero value.
fn signal_len(x: &[f32]) -> usize {
    x.iter().rposition(|&v| v != 0.0).map_or(0, |i| i + 1)
}

fn pearson(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (
        a.iter().map(|&v| f64::from(v)).sum::<f64>() / n,
        b.iter().map(|&v| f64::from(v)).sum::<f64>() / n,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x) - ma, f64::from(y) - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    if saa > 0.0 && sbb > 0.0 {
        sab / (saa * sbb).sqrt()
    } else {
        0.0
    }
}

/// Share of rows/beats whose first value is ≥ 0.9, and the median signal length.
fn stats(rows: &[&[f32; KACHUEE_LEN]]) -> (f64, usize) {
    let first = rows.iter().filter(|r| r[0] >= 0.9).count() as f64 / rows.len() as f64;
    let mut lens: Vec<usize> = rows.iter().map(|r| signal_len(&r[..])).collect();
    lens.sort_unstable();
    (first, lens[lens.len() / 2])
}

fn check_properties(name: &str, r: &[f32; KACHUEE_LEN]) {
    assert!(
        r.iter().all(|v| (0.0..=1.0).contains(v)),
        "{name}: outside [0,1]"
    );
    let max = r.iter().copied().fold(f32::MIN, f32::max);
    assert_eq!(max, 1.0, "{name}: max {max}");
}

fn load_mlii(h: &Path) -> (Vec<f32>, f64, Vec<i64>) {
    let r = load_recording(h, &LoadOptions::default()).unwrap();
    let ch = r.default_ecg_channel().unwrap();
    let beats = r.beat_annotations().map(|a| a.sample).collect();
    (
        r.signals[ch].samples.clone(),
        r.signals[ch].sampling_rate_hz,
        beats,
    )
}

#[test]
fn kachuee_representation_matches_kaggle_properties() {
    let Some(kdir) = dataset("kaggle_heartbeat_samples") else {
        return;
    };
    let Some(mdir) = dataset("mitdb") else { return };
    let kaggle = kaggle_rows(&kdir.join("ECGInterpolation_mitbih_test_rows1-999.csv"));
    assert_eq!(kaggle.len(), 999);
    for (i, r) in kaggle.iter().enumerate() {
        check_properties(&format!("kaggle row {i}"), r);
    }

    // Ours on 101 (mostly normal beats, like the label-0 Kaggle rows)
    let (x, fs, ann) = load_mlii(&mdir.join("101.hea"));
    let ours: Vec<KachueeBeat> = kachuee_beats(&x, fs, true).unwrap();
    // The paper's fixed 0.9 threshold on the window-normalised signal misses beats whose R amplitude
    // is < 90 % of the window's range (baseline wander, amplitude changes): on 101 ~62 % of the
    // 1865 annotated beats are found. A property of the method, kept as published.
    eprintln!("mitdb 101: {} beats of {} annotated", ours.len(), ann.len());
    assert!(ours.len() * 2 > ann.len(), "{} beats", ours.len());
    let mut near = 0;
    for b in &ours {
        check_properties("ours", &b.samples);
        assert!(b.samples[b.n_signal..].iter().all(|&v| v == 0.0));
        // R-peak candidate at the start: within 100 ms of an annotated beat
        let r = b.r_index_input as i64;
        let i = ann.partition_point(|&a| a < r);
        let d = [i.checked_sub(1), Some(i)]
            .iter()
            .flatten()
            .filter_map(|&j| ann.get(j))
            .map(|a| (a - r).abs())
            .min()
            .unwrap_or(i64::MAX);
        if (d as f64) < 0.1 * fs {
            near += 1;
        }
    }
    let near_share = near as f64 / ours.len() as f64;
    let (k_first, k_len) = stats(&kaggle.iter().collect::<Vec<_>>());
    let (o_first, o_len) = stats(&ours.iter().map(|b| &b.samples).collect::<Vec<_>>());
    eprintln!(
        "Kaggle test rows: first value ≥ 0.9 in {:.1} %, median beat length {k_len}",
        100.0 * k_first
    );
    eprintln!(
        "ours (mitdb 101): first value ≥ 0.9 in {:.1} %, median beat length {o_len}; \
        {:.1} % start within 100 ms of an annotated beat",
        100.0 * o_first,
        100.0 * near_share
    );
    assert!(near_share > 0.95);
    assert!(k_first > 0.7 && o_first > 0.7);
    // 1.2·T at 125 Hz for 40–150 bpm
    assert!((60..=187).contains(&o_len) && (60..=187).contains(&k_len));
}

#[test]
fn kaggle_rows_best_correlation_with_our_beats() {
    let Some(kdir) = dataset("kaggle_heartbeat_samples") else {
        return;
    };
    let Some(mdir) = dataset("mitdb") else { return };
    let mut rows = kaggle_rows(&kdir.join("ECGformer_mitbih_test_first10rows.csv"));
    rows.extend(kaggle_rows(
        &kdir.join("ECGformer_mitbih_train_first10rows.csv"),
    ));
    let hs = stressbeat_e2e::files_with_extension(&mdir, "hea");
    let mut best = vec![(f64::MIN, String::new(), 0usize); rows.len()];
    for h in &hs {
        let (x, fs, _) = load_mlii(h);
        let name = h.file_stem().unwrap().to_string_lossy().to_string();
        for b in kachuee_beats(&x, fs, true).unwrap() {
            for (r, bst) in rows.iter().zip(best.iter_mut()) {
                let n = signal_len(&r[..]).min(b.n_signal);
                if n < 20 {
                    continue;
                }
                let c = pearson(&r[..n], &b.samples[..n]);
                if c > bst.0 {
                    *bst = (c, name.clone(), b.r_index_input);
                }
            }
        }
    }
    let (mut strong, mut similar) = (0, 0);
    for (i, (c, rec, at)) in best.iter().enumerate() {
        eprintln!("kaggle row {i:>2}: best r = {c:.4} (mitdb {rec}, R at sample {at})");
        strong += usize::from(*c > 0.99);
        similar += usize::from(*c > 0.9);
    }
    eprintln!(
        "{strong} of {} rows have a beat with r > 0.99, {similar} with r > 0.9",
        rows.len()
    );
    // This is shape similarity, not identification: the same beat of ours is often the best match
    // of several rows, and only 26 of the 48 MIT-BIH records are here. Loose bound only.
    assert!(
        similar * 4 >= rows.len() * 3,
        "{similar} of {} rows with r > 0.9",
        rows.len()
    );
}
