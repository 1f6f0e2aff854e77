//! The two shipped models (stress; AAMI beat type) run through tract, plus the HRV-only fallback.
//!
//! A model is an ONNX file and its metadata JSON (`docs/model-format.md`). Loading checks the
//! metadata against what the core computes and against the graph, then optimises the graph once
//! (symbolic batch dimension, one thread; plus a plan for a single row, which tract runs faster);
//! the plans are reused for every batch. Both models are
//! embedded in the library ([`StressModel::embedded`], [`BeatClassifier::embedded`]) so the core
//! works with no files; `load_from_path` replaces them at run time. Every failure is a typed
//! [`ModelError`] (wrapped as [`crate::Error::Model`]); nothing here panics on bad bytes.

mod beat;
mod error;
mod metadata;
mod runtime;
mod signal;
mod stress;

pub use beat::{BeatClass, BeatClassifier, BeatPrediction};
pub use error::{ModelError, TractStage};
pub use metadata::{
    BEAT_LABELS, BeatSpec, FORMAT, HrvFallbackSpec, ModelMetadata, OutputSpec, STRESS_LABELS, Task,
    TensorSpec, Vocabulary,
};
pub use runtime::{OnnxGraph, OnnxModel};
pub use signal::ModelSignal;
pub use stress::{HrvFallback, StressModel};

use crate::{
    error::Result,
    imaging::{Channel, IMAGE_SIZE},
    model_input::{
        MODEL_RATE_HZ,
        beat::{BEAT_CHANNELS, BEAT_INPUTS_REVISION, BEAT_LEN, BEAT_PRE, RR_FEATURE_NAMES},
        stress::HRV_FEATURE_NAMES,
    },
};

/// What the core computes, by name (the checks at load compare a model's metadata to this).
pub const CORE_VOCABULARY: Vocabulary<'static> = Vocabulary {
    sampling_rate_hz: MODEL_RATE_HZ,
    image_channels: &Channel::ALL,
    image_side: IMAGE_SIZE,
    hrv_features: &HRV_FEATURE_NAMES,
    rr_features: &RR_FEATURE_NAMES,
    beat_length: BEAT_LEN,
    beat_channels: BEAT_CHANNELS,
    beat_pre: BEAT_PRE,
    beat_inputs_revision: BEAT_INPUTS_REVISION,
};

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    use std::fmt::Write;
    sha2::Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A model whose metadata, checksum and graph were checked, optimised and ready to run.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    metadata: ModelMetadata,
    model: OnnxModel,
}

impl LoadedModel {
    /// Check and optimise a model for `task` from its ONNX and metadata bytes.
    pub fn load(onnx: &[u8], metadata_json: &[u8], task: Task) -> Result<Self, ModelError> {
        let metadata = ModelMetadata::from_json(metadata_json)?;
        metadata.validate(task, &CORE_VOCABULARY)?;
        let graph = OnnxGraph::parse(onnx)?;
        let found = sha256_hex(onnx);
        if !found.eq_ignore_ascii_case(&metadata.onnx_sha256) {
            return Err(ModelError::ChecksumMismatch {
                expected: metadata.onnx_sha256.clone(),
                found,
            });
        }
        check_graph_inputs(&graph.inputs(), &metadata.inputs)?;
        let outputs = graph.output_names();
        if outputs.first() != Some(&metadata.output.name) {
            return Err(ModelError::ShapeMismatch {
                name: "output".into(),
                expected: metadata.output.name.clone(),
                found: outputs
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "no output".into()),
            });
        }
        let model = graph.optimise(&metadata.inputs)?;
        let width = metadata.output.labels.len() as i64;
        if model.output_shape() != [-1, width] {
            return Err(ModelError::ShapeMismatch {
                name: metadata.output.name.clone(),
                expected: format!("{:?}", [-1, width]),
                found: format!("{:?}", model.output_shape()),
            });
        }
        Ok(Self { metadata, model })
    }

    /// The checked metadata.
    pub fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }

    /// The optimised model.
    pub fn model(&self) -> &OnnxModel {
        &self.model
    }

    /// Run `batch` rows (see [`OnnxModel::run`]); returns `batch × labels` probabilities.
    pub fn run(&self, batch: usize, data: &[&[f32]]) -> Result<Vec<f32>, ModelError> {
        let out = self.model.run(batch, data)?;
        let expected = batch * self.metadata.output.labels.len();
        if out.len() != expected {
            return Err(ModelError::Tract {
                stage: TractStage::Run,
                detail: format!("the output has {} values, expected {expected}", out.len()),
            });
        }
        Ok(out)
    }
}

/// Graph inputs must match the metadata by name, in order, with the batch (`-1`) symbolic in
/// the graph too; a dimension the graph leaves unknown is accepted.
fn check_graph_inputs(graph: &[TensorSpec], meta: &[TensorSpec]) -> Result<(), ModelError> {
    for i in 0..graph.len().max(meta.len()) {
        let (g, m) = (graph.get(i), meta.get(i));
        let compatible = match (g, m) {
            (Some(g), Some(m)) => {
                g.name == m.name
                    && g.shape.len() == m.shape.len()
                    && g.shape
                        .iter()
                        .zip(&m.shape)
                        .all(|(&gd, &md)| gd == md || (gd == -1 && md >= 0))
            }
            _ => false,
        };
        if !compatible {
            return Err(ModelError::ShapeMismatch {
                name: format!("graph input {i}"),
                expected: m.map_or("nothing".into(), ToString::to_string),
                found: g.map_or("nothing".into(), ToString::to_string),
            });
        }
    }
    Ok(())
}

/// The embedded files of a shipped model: ONNX and metadata bytes, if the build had them.
type Embedded = Option<(&'static [u8], &'static [u8])>;

#[cfg(embedded_stress_model)]
const EMBEDDED_STRESS: Embedded = Some((
    include_bytes!("../../../models/stress.onnx"),
    include_bytes!("../../../models/stress.json"),
));
#[cfg(not(embedded_stress_model))]
const EMBEDDED_STRESS: Embedded = None;

#[cfg(embedded_beat_model)]
const EMBEDDED_BEAT: Embedded = Some((
    include_bytes!("../../../models/beat-type.onnx"),
    include_bytes!("../../../models/beat-type.json"),
));
#[cfg(not(embedded_beat_model))]
const EMBEDDED_BEAT: Embedded = None;

fn embedded_files(task: Task) -> Result<(&'static [u8], &'static [u8]), ModelError> {
    let files = match task {
        Task::Stress => EMBEDDED_STRESS,
        Task::BeatType => EMBEDDED_BEAT,
    };
    files.ok_or(ModelError::NotEmbedded {
        task: task.as_str(),
    })
}
