//! The stress engine's score (baseline-relative, smoothed: what the app shows) on real people:
//! EEGMAT subjects calibrate on the first 90 s of their rest recording; the score is then read on
//! the rest of that recording (calm, never calibrated on) and on their mental arithmetic.
//! Windows are cut as the monitor cuts them and go through the app's analyzer (the embedded
//! models) and the real engine; unlike a live session, the R-peaks come from the batch detector
//! and every beat counts as in clean signal. The models were trained on these subjects: this
//! checks the engine's arithmetic on top of them (baseline shift, smoothing, thresholds), not the
//! models' generalisation (see the model card). Skips when the shared data is absent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use stressbeat_core::analysis::{AnalysisOptions, select_span};
use stressbeat_core::engine::{EngineConfig, StressEngine, StressUpdate, WindowObservation};
use stressbeat_core::io::{LoadOptions, load_recording};
use stressbeat_core::model::ModelSignal;
use stressbeat_core::model_input::MODEL_RATE_HZ;
use stressbeat_core::monitor::models::ModelParts;
use stressbeat_core::monitor::{Parts, PipelineConfig, WindowSignal};

const CALIBRATION_S: f64 = 90.0;
/// The score from which the app reads "elevated" (the default hysteresis' entry).
const ELEVATED: u8 = 50;

fn signal(path: &Path, from_s: Option<f64>, to_s: Option<f64>) -> Option<ModelSignal> {
    let rec = load_recording(path, &LoadOptions::default()).unwrap();
    let opts = AnalysisOptions {
        from_s,
        to_s,
        ..AnalysisOptions::default()
    };
    ModelSignal::from_span(&select_span(&rec, &opts).ok()?).ok()
}

/// The monitor's windows (30 s every 5 s) over `s`, starting at `t0_ms`, analysed as one session.
fn observations(s: &ModelSignal, t0_ms: i64, baseline: Option<&[f32]>) -> Vec<WindowObservation> {
    let (parts, failures) = ModelParts::embedded();
    assert!(failures.is_empty(), "the embedded models load");
    let mut analyzer = parts.analyzer();
    let cfg = PipelineConfig::default();
    let samples = |s: f64| (s * MODEL_RATE_HZ).round() as usize;
    let (len, step) = (samples(cfg.window_s), samples(cfg.step_s));
    let ms = |i: usize| t0_ms + (i as f64 * 1000.0 / MODEL_RATE_HZ).round() as i64;
    let mut windows = Vec::new();
    let mut start = 0;
    while start + len <= s.samples_130hz.len() {
        let end = start + len;
        let peaks: Vec<usize> = s
            .peaks_130hz
            .iter()
            .filter(|&&p| (start..end).contains(&p))
            .map(|&p| p - start)
            .collect();
        // the beats after the previous window's end are new
        let seen = if start == 0 { 0 } else { len - step };
        windows.push(WindowSignal {
            start_index: start as u64,
            start_ms: ms(start),
            end_ms: ms(end),
            samples_mv: s.samples_130hz[start..end].to_vec(),
            new_from: peaks.iter().take_while(|&&p| p < seen).count(),
            clean: vec![true; peaks.len()],
            peaks,
            rr_ms: Vec::new(),
        });
        start += step;
    }
    let mut out = Vec::new();
    for w in &windows {
        analyzer.analyze(std::slice::from_ref(w), baseline, &mut out);
    }
    out
}

/// Scores of a session of windows (the stream restarts, the baseline stays).
fn scores(engine: &mut StressEngine, obs: &[WindowObservation]) -> Vec<Option<u8>> {
    engine.reset_stream();
    obs.iter()
        .map(|o| engine.update(o))
        .map(|u: StressUpdate| u.score)
        .collect()
}

/// Share of the scored windows reading at least [`ELEVATED`], and how many were scored.
fn elevated(scores: &[Option<u8>]) -> (usize, usize) {
    let scored: Vec<u8> = scores.iter().flatten().copied().collect();
    (
        scored.iter().filter(|&&s| s >= ELEVATED).count(),
        scored.len(),
    )
}

#[test]
fn calibrated_engine_reads_held_out_rest_calm_and_arithmetic_elevated() {
    let Some(dir) = stressbeat_e2e::dataset("eegmat") else {
        return;
    };
    let mut subjects: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix("_1.edf").map(str::to_owned)
        })
        .collect();
    subjects.sort();
    assert_eq!(subjects.len(), 26);
    // [elevated, scored] pooled: rest, task; with the default engine and without its shift
    let mut pooled = [[0usize; 4]; 2];
    let mut calibrated = 0;
    for subject in &subjects {
        let rest = dir.join(format!("{subject}_1.edf"));
        let task = dir.join(format!("{subject}_2.edf"));
        let (Some(calibration), Some(held_out), Some(task)) = (
            signal(&rest, None, Some(CALIBRATION_S)),
            signal(&rest, Some(CALIBRATION_S), None),
            signal(&task, None, None),
        ) else {
            eprintln!("{subject}: no usable span");
            continue;
        };
        let mut line = format!("{subject}:");
        for (k, max_shift_logit) in [EngineConfig::default().max_shift_logit, 0.0]
            .into_iter()
            .enumerate()
        {
            let mut engine = StressEngine::new(EngineConfig {
                max_shift_logit,
                ..EngineConfig::default()
            })
            .unwrap();
            // the calibration sees the model without a baseline, as in the app
            engine.start_calibration(0, (CALIBRATION_S * 1000.0) as i64);
            for o in observations(&calibration, 0, None) {
                engine.update(&o);
            }
            if engine.baseline().is_none() {
                line += " calibration failed";
                break;
            }
            calibrated += usize::from(k == 0);
            let baseline = engine.baseline_features().map(<[f32]>::to_vec);
            let held_out = scores(
                &mut engine,
                &observations(&held_out, 200_000, baseline.as_deref()),
            );
            let task = scores(
                &mut engine,
                &observations(&task, 400_000, baseline.as_deref()),
            );
            let (r, t) = (elevated(&held_out), elevated(&task));
            pooled[k][0] += r.0;
            pooled[k][1] += r.1;
            pooled[k][2] += t.0;
            pooled[k][3] += t.1;
            line += &format!(
                " | shift ≤ {max_shift_logit}: rest {}/{}, task {}/{}",
                r.0, r.1, t.0, t.1
            );
        }
        eprintln!("{line}");
    }
    let share = |a: usize, b: usize| a as f64 / b.max(1) as f64;
    for (k, p) in pooled.iter().enumerate() {
        eprintln!(
            "{}: held-out rest windows reading ≥ {ELEVATED}: {}/{} ({:.1} %); arithmetic: {}/{} \
             ({:.1} %)",
            ["default engine", "no baseline shift"][k],
            p[0],
            p[1],
            100.0 * share(p[0], p[1]),
            p[2],
            p[3],
            100.0 * share(p[2], p[3])
        );
    }
    eprintln!("{calibrated} of 26 subjects calibrated");
    let [rest_up, rest_n, task_up, task_n] = pooled[0];
    assert!(calibrated >= 20, "{calibrated} subjects calibrated");
    assert!(
        rest_n >= 200 && task_n >= 100,
        "{rest_n} rest, {task_n} task windows scored"
    );
    assert!(
        share(rest_up, rest_n) <= 0.05,
        "calm rest read as elevated: {rest_up}/{rest_n}"
    );
    assert!(
        share(task_up, task_n) >= 0.7,
        "arithmetic read as elevated: {task_up}/{task_n}"
    );
}
