//! `stressbeat beats`: the AAMI class of every beat of a recording (beat-type model, tract).

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use stressbeat_core::{
    analysis,
    dsp::{QualityConfig, assess_quality},
    model::{BeatClass, BeatClassifier, ModelSignal},
};

use crate::{NOT_MEDICAL, RecordingArgs, model_file_error, print_result_json, table};

/// Arguments of `stressbeat beats`.
#[derive(Args, Debug)]
pub struct BeatsArgs {
    #[command(flatten)]
    recording: RecordingArgs,
    /// A beat-type model (`.onnx` with its `.json` beside it) instead of the embedded one.
    #[arg(long, value_name = "FILE.onnx")]
    model: Option<PathBuf>,
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
    /// Share (0-1) of the span the signal-quality index calls usable.
    usable_fraction: f64,
}

/// Classify every beat with a full window and both neighbours, and print them.
pub fn beats(args: &BeatsArgs) -> Result<(), String> {
    let loaded;
    let model = match &args.model {
        Some(path) => {
            loaded = BeatClassifier::load_from_path(path).map_err(|e| model_file_error(path, e))?;
            &loaded
        }
        None => BeatClassifier::embedded().map_err(|e| e.to_string())?,
    };
    let span = args.recording.select_span(&args.recording.load()?)?;
    let signal = ModelSignal::from_span(&span).map_err(|e| args.recording.error(e))?;
    let native_peaks = analysis::detect_peaks(&span).map_err(|e| args.recording.error(e))?;
    let usable_fraction = assess_quality(
        &span.samples_mv,
        span.sampling_rate_hz,
        QualityConfig::default(),
    )
    .map_err(|e| args.recording.error(e))?
    .usable_fraction;
    if let Some(w) = analysis::little_usable_signal(
        usable_fraction,
        "the beats found there, and their classes, are",
    ) {
        eprintln!("stressbeat: warning: {w}");
    }
    let beats: Vec<BeatJson> = model
        .classify_signal(&signal)
        .map_err(|e| e.to_string())?
        .iter()
        .map(|&(p, pred)| BeatJson {
            // the beat's sample agrees with `peaks` exactly, instead of carrying the 130 Hz
            // grid's rounding (±1.4 samples at 360 Hz)
            sample: {
                let sample = signal.record_sample(p);
                analysis::nearest_peak(&native_peaks, sample, span.sampling_rate_hz)
                    .map_or(sample, |i| native_peaks[i])
            },
            class: pred.class.as_str(),
            confidence: pred.confidence,
        })
        .collect();
    if args.recording.json {
        return print_result_json(&BeatsJson {
            sampling_rate_hz: signal.sampling_rate_hz,
            beats,
            usable_fraction,
        });
    }
    let meta = model.metadata();
    println!(
        "{}: {} beats classified at {} Hz by {} {} ({} R-peaks; beats without a full window or \
         both neighbours are skipped)",
        args.recording.path.display(),
        beats.len(),
        crate::fmt_hz(signal.sampling_rate_hz),
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
