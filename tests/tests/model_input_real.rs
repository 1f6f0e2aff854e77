//! Model inputs on real recordings: the 130 Hz resampler keeps the detector's accuracy on
//! MIT-BIH, beat inputs line up with the reference beats, and EEGMAT's stress windows are usable
//! and show the expected heart-rate rise under mental arithmetic.
//! Run in release mode: `cargo test --release -p stressbeat-e2e --test model_input_real`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use stressbeat_core::analysis::{self, AnalysisOptions};
use stressbeat_core::dsp::rpeak::detect_peaks;
use stressbeat_core::eval::{EvalOptions, gross, score_record};
use stressbeat_core::io::{LoadOptions, load_recording};
use stressbeat_core::model_input::{
    MODEL_RATE_HZ, Resampler,
    beat::{BEAT_LEN, BEAT_PRE, beat_inputs},
    resample_to_model_rate,
    stress::{StressWindowConfig, stress_windows},
};
use stressbeat_e2e::{dataset, median};

#[test]
fn mitdb_resampled_keeps_detector_accuracy() {
    let Some(dir) = dataset("mitdb") else { return };
    let mut scores = Vec::new();
    for name in ["101", "106", "108", "119", "203", "208", "223"] {
        let hea = dir.join(format!("{name}.hea"));
        let rec = load_recording(&hea, &LoadOptions::default()).unwrap();
        let span = analysis::select_span(&rec, &AnalysisOptions::default()).unwrap();
        let x = resample_to_model_rate(&span.samples_mv, span.sampling_rate_hz).unwrap();
        // streaming in odd chunks gives the same signal
        let mut r = Resampler::new(span.sampling_rate_hz).unwrap();
        let mut streamed = Vec::new();
        for c in span.samples_mv.chunks(1237) {
            r.push(c, &mut streamed);
        }
        r.finish(&mut streamed);
        assert_eq!(streamed, x, "{name}");

        let k = rec.annotation_rate_hz / MODEL_RATE_HZ;
        let dets: Vec<f64> = detect_peaks(&x, MODEL_RATE_HZ)
            .iter()
            .map(|&p| p as f64 * k)
            .collect();
        let s = score_record(
            &rec.name,
            &rec.annotations,
            rec.annotation_rate_hz,
            &dets,
            &EvalOptions::default(),
        );
        println!("{}", s.summary());
        scores.push(s);
    }
    assert!(scores.len() >= 4, "expected several MIT-BIH records");
    let t = gross("130 Hz", &scores);
    println!("{}", t.summary());
    assert!(t.sensitivity() >= 0.995, "Se {}", t.sensitivity());
    assert!(
        t.positive_predictivity() >= 0.995,
        "+P {}",
        t.positive_predictivity()
    );
}

#[test]
fn mitdb_beat_windows_centre_on_r() {
    let Some(dir) = dataset("mitdb") else { return };
    let hea = dir.join("101.hea");
    let rec = load_recording(&hea, &LoadOptions::default()).unwrap();
    let span = analysis::select_span(&rec, &AnalysisOptions::default()).unwrap();
    let x = resample_to_model_rate(&span.samples_mv, span.sampling_rate_hz).unwrap();
    let peaks = detect_peaks(&x, MODEL_RATE_HZ);
    let b = beat_inputs(&x, &peaks);
    assert!(
        b.len() + 2 >= peaks.len() && b.len() > 1800,
        "{} of {}",
        b.len(),
        peaks.len()
    );
    // the median beat of a normal record peaks at the R index with about 1 mV
    let mut avg = vec![0.0f64; BEAT_LEN];
    for i in 0..b.len() {
        for (a, v) in avg.iter_mut().zip(b.beat(i).unwrap()) {
            *a += f64::from(*v) / b.len() as f64;
        }
    }
    let argmax = (0..BEAT_LEN)
        .max_by(|&i, &j| avg[i].total_cmp(&avg[j]))
        .unwrap();
    assert!(argmax.abs_diff(BEAT_PRE) <= 1, "max at {argmax}");
    assert!((0.5..3.0).contains(&avg[BEAT_PRE]), "R {}", avg[BEAT_PRE]);
    // RR features: pre-RR around 0.8 s (75 bpm)
    let mut pre: Vec<f64> = (0..b.len())
        .map(|i| f64::from(b.rr_features(i).unwrap()[0]))
        .collect();
    let m = median(&mut pre);
    assert!((0.6..1.1).contains(&m), "median pre-RR {m}");
}

#[test]
fn eegmat_stress_windows() {
    let Some(dir) = dataset("eegmat") else { return };
    let mut hr_rest = Vec::new();
    let mut hr_task = Vec::new();
    let mut usable = Vec::new();
    for s in [3, 8, 9, 12, 16, 19, 21, 29] {
        for r in [1, 2] {
            let p = dir.join(format!("Subject{s:02}_{r}.edf"));
            let rec = load_recording(&p, &LoadOptions::default()).unwrap();
            let span = analysis::select_span(&rec, &AnalysisOptions::default()).unwrap();
            let x = resample_to_model_rate(&span.samples_mv, span.sampling_rate_hz).unwrap();
            let peaks = detect_peaks(&x, MODEL_RATE_HZ);
            let w = stress_windows(&x, &peaks, &StressWindowConfig::default()).unwrap();
            assert!(!w.is_empty());
            let mut hr: Vec<f64> = w
                .iter()
                .filter(|w| w.is_scorable())
                .map(|w| f64::from(w.features[0]))
                .collect();
            usable.push(hr.len() as f64 / w.len() as f64);
            if hr.is_empty() {
                continue;
            }
            let m = median(&mut hr);
            println!("Subject{s:02}_{r}: {} windows, median HR {m:.1}", w.len());
            if r == 1 { &mut hr_rest } else { &mut hr_task }.push((s, m));
        }
    }
    if usable.is_empty() {
        return;
    }
    // these subjects' ECG is clean: nearly every window is scorable
    let mean_usable = usable.iter().sum::<f64>() / usable.len() as f64;
    assert!(mean_usable > 0.9, "scorable fraction {mean_usable}");
    // heart rate rises under mental arithmetic for most subjects
    let pairs: Vec<(f64, f64)> = hr_rest
        .iter()
        .filter_map(|(s, a)| hr_task.iter().find(|(t, _)| t == s).map(|(_, b)| (*a, *b)))
        .collect();
    let rises = pairs.iter().filter(|(a, b)| b > a).count();
    assert!(
        rises * 4 >= pairs.len() * 3,
        "HR rose in {rises} of {}",
        pairs.len()
    );
    assert!(
        pairs
            .iter()
            .all(|(a, b)| (45.0..130.0).contains(a) && (45.0..160.0).contains(b))
    );
}
