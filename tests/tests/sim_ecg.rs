//! The ECGSYN simulator (McSharry et al. 2003) against the detector and the HRV code: realism
//! sanity, true R-peaks, stress episodes, ectopic beats, noise degradation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may unwrap and panic

use stressbeat_core::dsp::rpeak::detect_peaks;
use stressbeat_core::eval::{EvalOptions, Score, score_record};
use stressbeat_core::hrv::hrv_metrics;
use stressbeat_core::sim::ecgsyn::{
    BeatLabel, EcgConfig, EcgSynth, NoiseConfig, StressEpisode, TrueBeat, annotations, generate,
};

fn score(x: &[f32], beats: &[TrueBeat], fs: f64) -> Score {
    let mv: Vec<f32> = x.iter().map(|v| v / 1000.0).collect();
    let dets: Vec<f64> = detect_peaks(&mv, fs)
        .into_iter()
        .map(|i| i as f64)
        .collect();
    score_record(
        "sim",
        &annotations(beats),
        fs,
        &dets,
        &EvalOptions::default(),
    )
}

#[test]
fn same_seed_same_signal_other_seed_other_signal() {
    let cfg = EcgConfig {
        noise: NoiseConfig::typical(),
        pvc_per_min: 1.0,
        seed: 42,
        ..EcgConfig::default()
    };
    let (a, ba) = generate(cfg.clone(), 120.0);
    let (b, bb) = generate(cfg.clone(), 120.0);
    assert_eq!(a, b);
    assert_eq!(ba, bb);
    let (c, _) = generate(EcgConfig { seed: 43, ..cfg }, 120.0);
    assert_ne!(a, c);
}

#[test]
fn chunked_streaming_equals_one_shot() {
    let cfg = EcgConfig {
        noise: NoiseConfig::typical(),
        seed: 5,
        ..EcgConfig::default()
    };
    let (whole, beats) = generate(cfg.clone(), 60.0);
    let mut g = EcgSynth::new(cfg);
    let mut buf = [0f32; 97]; // an odd chunk size
    let mut got = Vec::new();
    let mut got_beats = Vec::new();
    while got.len() < whole.len() {
        let n = buf.len().min(whole.len() - got.len());
        g.fill(&mut buf[..n]);
        got.extend_from_slice(&buf[..n]);
        g.drain_beats_into(&mut got_beats);
    }
    assert_eq!(got, whole);
    assert_eq!(got_beats, beats);
}

#[test]
fn detector_heart_rate_matches_configured_rate() {
    for (hr, seed) in [(50.0, 1), (65.0, 2), (80.0, 3), (110.0, 4), (150.0, 5)] {
        let cfg = EcgConfig {
            hr_bpm: hr,
            seed,
            ..EcgConfig::default()
        };
        let fs = cfg.fs_hz;
        let (x, beats) = generate(cfg, 300.0);
        let true_rr: Vec<f64> = beats.iter().filter_map(|b| b.rr_s).collect();
        let hr_true = 60.0 * true_rr.len() as f64 / true_rr.iter().sum::<f64>();
        let mv: Vec<f32> = x.iter().map(|v| v / 1000.0).collect();
        let p = detect_peaks(&mv, fs);
        let rr: Vec<f64> = p.windows(2).map(|w| (w[1] - w[0]) as f64 / fs).collect();
        let mean_rr = rr.iter().sum::<f64>() / rr.len() as f64;
        let hr_det = 60.0 / mean_rr;
        eprintln!("configured {hr} bpm, true {hr_true:.2}, detected {hr_det:.2} bpm");
        assert!((hr_det - hr).abs() < 1.0, "{hr} vs {hr_det}");
    }
}

#[test]
fn detector_on_clean_signal_scores_above_99_5() {
    let cfg = EcgConfig {
        pvc_per_min: 0.5,
        pac_per_min: 0.5,
        seed: 11,
        ..EcgConfig::default()
    };
    let fs = cfg.fs_hz;
    let (x, beats) = generate(cfg, 600.0);
    let s = score(&x, &beats, fs);
    eprintln!("clean: {}", s.summary());
    assert!(s.sensitivity() >= 0.995, "{}", s.summary());
    assert!(s.positive_predictivity() >= 0.995, "{}", s.summary());
    assert!(beats.iter().any(|b| b.label == BeatLabel::V));
    assert!(beats.iter().any(|b| b.label == BeatLabel::S));
}

/// How the detector degrades with noise (printed; loose floor so it documents rather than gates).
#[test]
fn detector_degradation_with_noise() {
    let mut prev_f1 = 1.0;
    for (i, level) in [0.0, 1.0, 2.0, 4.0, 8.0].into_iter().enumerate() {
        let cfg = EcgConfig {
            noise: NoiseConfig {
                motion_per_min: 1.0,
                ..NoiseConfig::scaled(level)
            },
            seed: 20 + i as u64,
            ..EcgConfig::default()
        };
        let fs = cfg.fs_hz;
        let (x, beats) = generate(cfg, 300.0);
        let s = score(&x, &beats, fs);
        eprintln!(
            "noise ×{level}: Se {:.2}% +P {:.2}% median |err| {:.1} ms",
            100.0 * s.sensitivity(),
            100.0 * s.positive_predictivity(),
            s.median_abs_error_ms()
        );
        if level == 0.0 {
            assert!(s.f1() > 0.995, "{}", s.summary());
        } else if level <= 1.0 {
            assert!(s.f1() > 0.97, "{}", s.summary());
        }
        prev_f1 = f64::min(prev_f1, s.f1());
    }
    assert!(prev_f1 <= 1.0);
}

#[test]
fn stress_episode_raises_hr_and_lowers_rmssd() {
    let cfg = EcgConfig {
        hr_bpm: 65.0,
        hrv_std_ms: 50.0,
        stress: vec![StressEpisode {
            start_s: 600.0,
            duration_s: 600.0,
            intensity: 1.0,
        }],
        seed: 8,
        ..EcgConfig::default()
    };
    let (_, beats) = generate(cfg, 1800.0);
    let rr_in = |a: f64, b: f64| -> Vec<f64> {
        beats
            .iter()
            .filter(|x| x.time_s >= a && x.time_s < b)
            .filter_map(|x| x.rr_s.map(|r| r * 1000.0))
            .collect()
    };
    let rest = hrv_metrics(&rr_in(60.0, 540.0)).unwrap();
    let stress = hrv_metrics(&rr_in(700.0, 1200.0)).unwrap();
    let after = hrv_metrics(&rr_in(1400.0, 1800.0)).unwrap();
    eprintln!(
        "rest HR {:.1} RMSSD {:.1} | stress HR {:.1} RMSSD {:.1} | recovery HR {:.1} RMSSD {:.1}",
        rest.mean_hr_bpm,
        rest.rmssd_ms,
        stress.mean_hr_bpm,
        stress.rmssd_ms,
        after.mean_hr_bpm,
        after.rmssd_ms
    );
    assert!(stress.mean_hr_bpm > rest.mean_hr_bpm + 15.0);
    assert!(stress.rmssd_ms < 0.7 * rest.rmssd_ms);
    assert!((after.mean_hr_bpm - rest.mean_hr_bpm).abs() < 3.0);
    if let (Some(a), Some(b)) = (rest.lf_hf, stress.lf_hf) {
        eprintln!("LF/HF rest {a:.2} stress {b:.2}");
        assert!(b > a);
    }
}

#[test]
fn configured_hrv_is_reproduced() {
    let cfg = EcgConfig {
        hr_bpm: 60.0,
        hrv_std_ms: 40.0,
        seed: 13,
        ..EcgConfig::default()
    };
    let (_, beats) = generate(cfg, 1200.0);
    let rr: Vec<f64> = beats
        .iter()
        .filter_map(|b| b.rr_s.map(|r| r * 1000.0))
        .collect();
    let m = hrv_metrics(&rr).unwrap();
    eprintln!(
        "SDNN {:.1} ms (configured 40), HR {:.1}",
        m.sdnn_ms, m.mean_hr_bpm
    );
    assert!((m.sdnn_ms - 40.0).abs() < 12.0);
    assert!((m.mean_hr_bpm - 60.0).abs() < 1.5);
}

#[test]
fn pvc_morphology_is_wide_and_p_less() {
    let cfg = EcgConfig {
        pvc_per_min: 6.0,
        hrv_std_ms: 5.0,
        seed: 4,
        ..EcgConfig::default()
    };
    let fs = cfg.fs_hz;
    let (x, beats) = generate(cfg, 120.0);
    // QRS width proxy: samples above 30 % of the peak around each R
    let width = |b: &TrueBeat| {
        let s = b.sample as usize;
        let peak = x[s].abs().max(1.0);
        let lo = s.saturating_sub(20);
        let hi = (s + 20).min(x.len());
        x[lo..hi].iter().filter(|v| v.abs() > 0.3 * peak).count()
    };
    let wn: Vec<usize> = beats
        .iter()
        .skip(2)
        .filter(|b| b.label == BeatLabel::N)
        .map(width)
        .collect();
    let wv: Vec<usize> = beats
        .iter()
        .skip(2)
        .filter(|b| b.label == BeatLabel::V)
        .map(width)
        .collect();
    let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len().max(1) as f64;
    eprintln!(
        "QRS width N {:.1} samples, V {:.1} samples at {fs} Hz",
        mean(&wn),
        mean(&wv)
    );
    assert!(!wv.is_empty());
    assert!(mean(&wv) > 1.5 * mean(&wn));
}
