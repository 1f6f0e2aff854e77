//! `stressbeat beats`: the AAMI class of every beat of a recording (beat-type model, tract).

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use stressbeat_core::{
    analysis,
    model::{BeatClass, BeatClassifier, ModelSignal},
    model_input::beat::beat_inputs,
};

use crate::{NOT_MEDICAL, RecordingArgs, print_json, table};

/// Arguments of `stressbeat beats`.
#[derive(Args, Debug)]
pub struct BeatsArgs {
    #[command(flatten)]
    recording: RecordingArgs,
    /// A beat-type model (`.onnx` with its `.json` beside it) instead of the embedded one.
    #[arg(long, value_name = "FILE.onnx")]
    model: Option<PathBuf>,
}

/// The analysed span of a recording at the model rate, with its R-peaks.
pub(crate) fn model_signal(args: &RecordingArgs) -> Result<ModelSignal, String> {
    let rec = args.load()?;
    let span = analysis::select_span(&rec, &args.analysis_options()).map_err(|e| e.to_string())?;
    ModelSignal::from_span(&span).map_err(|e| e.to_string())
}

#[derive(Serialize)]
struct BeatJson {
    sample: usize,
    class: &'static str,
    confidence: f32,
}

#[derive(Serialize)]
struct BeatsJson {
    sampling_rate_hz: f64,
    beats: Vec<BeatJson>,
}

/// Classify every beat with a full window and both neighbours, and print them.
pub fn beats(args: &BeatsArgs) -> Result<(), String> {
    let loaded;
    let model = match &args.model {
        Some(path) => {
            loaded = BeatClassifier::load_from_path(path).map_err(|e| e.to_string())?;
            &loaded
        }
        None => BeatClassifier::embedded().map_err(|e| e.to_string())?,
    };
    let signal = model_signal(&args.recording)?;
    let inputs = beat_inputs(&signal.samples_130hz, &signal.peaks_130hz);
    let predictions = model.classify_inputs(&inputs).map_err(|e| e.to_string())?;
    let beats: Vec<BeatJson> = inputs
        .peaks
        .iter()
        .zip(&predictions)
        .map(|(&p, pred)| BeatJson {
            sample: signal.record_sample(p),
            class: pred.class.as_str(),
            confidence: pred.confidence,
        })
        .collect();
    if args.recording.json {
        return print_json(&BeatsJson {
            sampling_rate_hz: signal.sampling_rate_hz,
            beats,
        });
    }
    let meta = model.metadata();
    println!(
        "{}: {} beats classified at {} Hz by {} {} ({} R-peaks; beats without a full window or \
         both neighbours are skipped)",
        args.recording.path.display(),
        beats.len(),
        signal.sampling_rate_hz,
        meta.name,
        meta.version,
        signal.peaks_130hz.len()
    );
    let mut counts = table::Table::new(&["class", "beats", "%"]);
    for class in BeatClass::ALL {
        let n = beats.iter().filter(|b| b.class == class.as_str()).count();
        let pct = 100.0 * n as f64 / beats.len().max(1) as f64;
        counts.row(vec![
            class.as_str().into(),
            n.to_string(),
            format!("{pct:.1}"),
        ]);
    }
    print!("{counts}");
    let other: Vec<&BeatJson> = beats.iter().filter(|b| b.class != "N").collect();
    if !other.is_empty() {
        println!("Beats not classed N:");
        let mut t = table::Table::new(&["sample", "time (s)", "class", "confidence"]);
        for b in other {
            t.row(vec![
                b.sample.to_string(),
                format!("{:.3}", b.sample as f64 / signal.sampling_rate_hz),
                b.class.into(),
                format!("{:.2}", b.confidence),
            ]);
        }
        print!("{t}");
    }
    println!("{NOT_MEDICAL}");
    Ok(())
}
