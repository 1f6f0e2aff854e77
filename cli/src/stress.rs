//! `stressbeat stress`: stress probability per 30 s window (stress model, tract), optionally
//! relative to a calm recording of the same person.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use stressbeat_core::{
    model::{HrvFallback, StressModel},
    model_input::stress::{StressWindowConfig, baseline_features, stress_windows},
};

use crate::{NOT_MEDICAL, RecordingArgs, beats::ModelSignal, print_json, table};

/// Arguments of `stressbeat stress`.
#[derive(Args, Debug)]
pub struct StressArgs {
    #[command(flatten)]
    recording: RecordingArgs,
    /// The same person's calm recording (WFDB, EDF or CSV): its windows' mean features are the
    /// personal baseline.
    #[arg(long, value_name = "PATH")]
    baseline: Option<PathBuf>,
    /// Start of the baseline span, seconds from the start of the baseline recording.
    #[arg(long, value_name = "S", requires = "baseline")]
    baseline_from: Option<f64>,
    /// End of the baseline span, seconds from the start of the baseline recording.
    #[arg(long, value_name = "S", requires = "baseline")]
    baseline_to: Option<f64>,
    /// A stress model (`.onnx` with its `.json` beside it) instead of the embedded one.
    #[arg(long, value_name = "FILE.onnx")]
    model: Option<PathBuf>,
}

#[derive(Serialize)]
struct WindowJson {
    start_s: f64,
    end_s: f64,
    stress_probability: Option<f32>,
    stressed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
}

#[derive(Serialize)]
struct SummaryJson {
    stress_probability: Option<f32>,
    stressed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
}

#[derive(Serialize)]
struct StressJson {
    windows: Vec<WindowJson>,
    summary: SummaryJson,
}

const UNSCORED: &str = "too little usable signal (noise, lead off or too few beats): no score";

/// How windows are scored: the model, or (when the embedded model cannot be used) its HRV-only
/// fallback.
enum Scorer {
    Model(Box<StressModel>),
    Embedded(&'static StressModel),
    Fallback(HrvFallback),
}

impl Scorer {
    fn new(model: Option<&PathBuf>) -> Result<Self, String> {
        if let Some(path) = model {
            let m = StressModel::load_from_path(path).map_err(|e| e.to_string())?;
            return Ok(Scorer::Model(Box::new(m)));
        }
        match StressModel::embedded() {
            Ok(m) => Ok(Scorer::Embedded(m)),
            Err(e) => {
                let fallback = HrvFallback::embedded().map_err(|f| format!("{e}; {f}"))?;
                eprintln!("stressbeat: warning: {e}; using the HRV-only fallback");
                Ok(Scorer::Fallback(fallback))
            }
        }
    }

    fn threshold(&self) -> f32 {
        match self {
            Scorer::Model(m) => m.threshold(),
            Scorer::Embedded(m) => m.threshold(),
            Scorer::Fallback(f) => f.threshold(),
        }
    }

    fn score(&self, signal: &ModelSignal, baseline: Option<&[f32]>) -> Result<Scored, String> {
        let windows = stress_windows(
            &signal.samples_130hz,
            &signal.peaks_130hz,
            &StressWindowConfig::default(),
        )
        .map_err(|e| e.to_string())?;
        let probabilities = match self {
            Scorer::Model(m) => m.score_windows(&signal.samples_130hz, &windows, baseline),
            Scorer::Embedded(m) => m.score_windows(&signal.samples_130hz, &windows, baseline),
            Scorer::Fallback(f) => Ok(windows
                .iter()
                .map(|w| {
                    w.is_scorable()
                        .then(|| f.probability(&w.features, baseline))
                        .flatten()
                })
                .collect()),
        }
        .map_err(|e| e.to_string())?;
        let offset = signal.offset_s();
        Ok(windows
            .iter()
            .zip(probabilities)
            .map(|(w, p)| (w.start_s + offset, w.end_s + offset, p))
            .collect())
    }
}

/// Per window: start and end (s from the start of the recording) and the probability.
type Scored = Vec<(f64, f64, Option<f32>)>;

/// Score the recording's windows and print them with a summary.
pub fn stress(args: &StressArgs) -> Result<(), String> {
    let scorer = Scorer::new(args.model.as_ref())?;
    let baseline = match &args.baseline {
        Some(path) => {
            let base_args = RecordingArgs {
                path: path.clone(),
                from: args.baseline_from,
                to: args.baseline_to,
                ..args.recording.clone()
            };
            let signal = ModelSignal::load(&base_args)?;
            let windows = stress_windows(
                &signal.samples_130hz,
                &signal.peaks_130hz,
                &StressWindowConfig::default(),
            )
            .map_err(|e| e.to_string())?;
            Some(baseline_features(&windows).ok_or_else(|| {
                format!(
                    "{}: no usable 30 s window for a baseline (too little clean signal)",
                    path.display()
                )
            })?)
        }
        None => None,
    };
    let signal = ModelSignal::load(&args.recording)?;
    let scored = scorer.score(&signal, baseline.as_deref())?;
    let threshold = scorer.threshold();
    let probs: Vec<f32> = scored.iter().filter_map(|w| w.2).collect();
    let mean = (!probs.is_empty()).then(|| probs.iter().sum::<f32>() / probs.len() as f32);
    let summary = SummaryJson {
        stress_probability: mean,
        stressed: mean.map(|p| p >= threshold),
        note: mean.is_none().then_some(if scored.is_empty() {
            "the recording is shorter than one 30 s window"
        } else {
            UNSCORED
        }),
    };
    let windows: Vec<WindowJson> = scored
        .iter()
        .map(|&(start_s, end_s, p)| WindowJson {
            start_s,
            end_s,
            stress_probability: p,
            stressed: p.map(|p| p >= threshold),
            note: p.is_none().then_some(UNSCORED),
        })
        .collect();
    if args.recording.json {
        return print_json(&StressJson { windows, summary });
    }
    let mut t = table::Table::new(&["from (s)", "to (s)", "stress probability", "stressed"]);
    for w in &windows {
        t.row(vec![
            format!("{:.1}", w.start_s),
            format!("{:.1}", w.end_s),
            w.stress_probability
                .map_or_else(|| "n/a".into(), |p| format!("{p:.2}")),
            w.stressed.map_or_else(
                || "no score (too little usable signal)".into(),
                |s| if s { "yes" } else { "no" }.into(),
            ),
        ]);
    }
    print!("{t}");
    println!(
        "Baseline: {}. Windows of 30 s every 5 s; stressed means probability ≥ {threshold}.",
        if baseline.is_some() {
            "personal (from --baseline)"
        } else {
            "population (no --baseline given)"
        }
    );
    match summary.stress_probability {
        Some(p) => println!(
            "Summary: mean stress probability {p:.2} over {} of {} windows: {}.",
            probs.len(),
            windows.len(),
            if p >= threshold {
                "stressed"
            } else {
                "not stressed"
            }
        ),
        None => println!("Summary: no score: {}.", summary.note.unwrap_or(UNSCORED)),
    }
    println!("{NOT_MEDICAL}");
    Ok(())
}
