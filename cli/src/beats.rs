//! `stressbeat beats`: the AAMI class of every beat of a recording (beat-type model, tract).

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use stressbeat_core::{
    analysis,
    dsp::rpeak::{DetectorConfig, detect_peaks_with},
    model::{BeatClass, BeatClassifier},
    model_input::{MODEL_RATE_HZ, beat::beat_inputs, resample_to_model_rate},
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
pub(crate) struct ModelSignal {
    /// The recording's own sampling rate, Hz.
    pub sampling_rate_hz: f64,
    /// Index (recording's sampling) of the span's first sample.
    pub start_sample: usize,
    /// The span in mV at [`MODEL_RATE_HZ`].
    pub samples_130hz: Vec<f32>,
    /// R-peaks of `samples_130hz` (indices at 130 Hz).
    pub peaks_130hz: Vec<usize>,
}

impl ModelSignal {
    /// Load, select the span, resample to 130 Hz and detect R-peaks there (as the phone does).
    pub fn load(args: &RecordingArgs) -> Result<Self, String> {
        let rec = args.load()?;
        let span =
            analysis::select_span(&rec, &args.analysis_options()).map_err(|e| e.to_string())?;
        let samples_130hz = resample_to_model_rate(&span.samples_mv, span.sampling_rate_hz)
            .map_err(|e| e.to_string())?;
        let peaks_130hz =
            detect_peaks_with(&samples_130hz, MODEL_RATE_HZ, DetectorConfig::default())
                .map_err(|e| e.to_string())?;
        Ok(Self {
            sampling_rate_hz: span.sampling_rate_hz,
            start_sample: span.start_sample,
            samples_130hz,
            peaks_130hz,
        })
    }

    /// Seconds from the start of the recording of the span's first sample.
    pub fn offset_s(&self) -> f64 {
        self.start_sample as f64 / self.sampling_rate_hz
    }

    /// A 130 Hz index of the span as a sample index of the whole recording (its own sampling).
    pub fn record_sample(&self, index_130hz: usize) -> usize {
        self.start_sample
            + (index_130hz as f64 * self.sampling_rate_hz / MODEL_RATE_HZ).round() as usize
    }
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
    let signal = ModelSignal::load(&args.recording)?;
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
