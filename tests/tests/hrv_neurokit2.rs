//! HRV agreement with NeuroKit2 on the same RR series.
//!
//! Fixture: `tests/fixtures/hrv_neurokit2.json`, made by `scripts/hrv_reference/make_fixture.py`
//! (NeuroKit2 0.2.13; RR from MIT-BIH 101/118/122 reference annotations and a synthetic series).
//! Needs no shared data: the fixture holds the (derived) RR series.
//!
//! Asserted: MeanNN, SDNN, RMSSD, pNN50, mean HR, SD1, SD2 within 1 % (relative); LF/HF against
//! NeuroKit2's Lomb–Scargle (`psd_method="lomb"`, no interpolation, astropy "psd" normalisation)
//! within [`LFHF_LOMB_TOL`]. NeuroKit2's default (Welch on RR interpolated at 100 Hz) is only
//! reported: a different estimator. Absolute LF/HF in ms² are not compared: NeuroKit2's "lomb"
//! power is in astropy's PSD units, not ms²/Hz.
//! Artefact correction: our Lipponen–Tarvainen classification must flag the same beats as
//! NeuroKit2 `signal_fixpeaks(method="Kubios", iterative=False)`, and the iterated correction must
//! give the same RR series (±1 ms: NeuroKit2 truncates beat times to integer samples).

// Test-only helpers (not `#[test]` fns, which clippy.toml already covers) may unwrap.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use stressbeat_core::hrv::{clean_rr, correction::find_artifacts, hrv_metrics};

/// Relative tolerance of LF/HF against NeuroKit2's Lomb–Scargle (different normalisation of the
/// periodogram — astropy fits a floating mean — and a different frequency grid).
const LFHF_LOMB_TOL: f64 = 0.05;

fn fixture() -> Value {
    let p = stressbeat_e2e::repo_file("tests/fixtures/hrv_neurokit2.json");
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / b.abs().max(1e-12)
    }
}

#[test]
fn time_domain_and_poincare_within_1_percent_of_neurokit2() {
    let fx = fixture();
    let metrics = [
        "MeanNN",
        "SDNN",
        "RMSSD",
        "pNN50",
        "MeanHR",
        "SD1",
        "SD2",
        "LFHF_lomb",
        "LFHF_welch",
    ];
    let mut worst = vec![0.0f64; metrics.len()];
    for s in fx["series"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        let rr = f64s(&s["rr_ms"]);
        let nk = &s["nk"];
        let m = hrv_metrics(&rr).unwrap();
        let ours = [
            Some(m.mean_nn_ms),
            Some(m.sdnn_ms),
            Some(m.rmssd_ms),
            Some(m.pnn50_pct),
            Some(m.mean_hr_bpm),
            m.sd1_ms,
            m.sd2_ms,
            m.lf_hf,
            m.lf_hf,
        ];
        let keys = [
            "MeanNN",
            "SDNN",
            "RMSSD",
            "pNN50",
            "MeanHR_numpy",
            "SD1",
            "SD2",
            "LFHF_lomb",
            "LFHF_welch",
        ];
        for (k, ((key, ours), w)) in keys.iter().zip(ours).zip(worst.iter_mut()).enumerate() {
            let theirs = nk[*key].as_f64().unwrap();
            let Some(ours) = ours else {
                eprintln!(
                    "{name:>18} {:>10}: ours None (window {:.0} s) vs NK {theirs:.4}",
                    metrics[k],
                    rr.iter().sum::<f64>() / 1000.0
                );
                continue;
            };
            let r = rel(ours, theirs);
            *w = w.max(r);
            eprintln!(
                "{name:>18} {:>10}: ours {ours:>10.4} NK {theirs:>10.4} rel {:.2e}",
                metrics[k], r
            );
            if k < 7 {
                assert!(
                    r < 0.01,
                    "{name} {}: ours {ours} vs NeuroKit2 {theirs}",
                    metrics[k]
                );
            } else if k == 7 {
                assert!(
                    r < LFHF_LOMB_TOL,
                    "{name} LF/HF: ours {ours} vs NeuroKit2 lomb {theirs}"
                );
            }
        }
    }
    for (k, w) in metrics.iter().zip(&worst) {
        eprintln!("max relative difference {k:>10}: {w:.2e}");
    }
}

#[test]
fn artefact_classification_matches_neurokit2_kubios() {
    let fx = fixture();
    for f in fx["fixpeaks"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        let peaks = f64s(&f["peaks_ms"]);
        let idx = |k: &str| -> Vec<usize> {
            f["artifacts"][k]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect()
        };
        if !f["iterative"].as_bool().unwrap() {
            let a = find_artifacts(&peaks);
            assert_eq!(a.ectopic, idx("ectopic"), "{name} ectopic");
            assert_eq!(a.missed, idx("missed"), "{name} missed");
            assert_eq!(a.extra, idx("extra"), "{name} extra");
            assert_eq!(a.longshort, idx("longshort"), "{name} longshort");
        } else {
            let rr: Vec<f64> = peaks.windows(2).map(|w| w[1] - w[0]).collect();
            let (clean, corr) = clean_rr(&rr);
            let nk_peaks = f64s(&f["peaks_clean_ms"]);
            let nk_rr: Vec<f64> = nk_peaks.windows(2).map(|w| w[1] - w[0]).collect();
            eprintln!(
                "{name}: {corr:?}, {} → {} intervals (NK {})",
                rr.len(),
                clean.len(),
                nk_rr.len()
            );
            assert_eq!(clean.len(), nk_rr.len(), "{name}");
            for (i, (a, b)) in clean.iter().zip(&nk_rr).enumerate() {
                assert!(
                    (a - b).abs() <= 1.0 + 1e-9,
                    "{name} interval {i}: ours {a} NK {b}"
                );
            }
        }
    }
}
