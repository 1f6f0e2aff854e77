//! Why a model could not be loaded or run.

use std::fmt;

/// The step of the tract pipeline that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TractStage {
    /// Turning the parsed ONNX graph into a typed, optimised plan.
    Optimise,
    /// Running the optimised plan on a batch.
    Run,
}

impl fmt::Display for TractStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TractStage::Optimise => "optimise",
            TractStage::Run => "run",
        })
    }
}

/// A model file that is damaged, does not match its metadata, or does not match what the core
/// computes. Every check at load time has its own variant, with what was expected and found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// The ONNX bytes end in the middle of a protobuf field.
    #[error("the ONNX file is truncated ({detail})")]
    Truncated {
        /// The decoder's message.
        detail: String,
    },
    /// The ONNX bytes are not a valid ONNX model (bad protobuf, or a graph tract cannot read).
    #[error("the ONNX file is corrupt ({detail})")]
    Corrupt {
        /// The decoder's or tract's message.
        detail: String,
    },
    /// The ONNX file is not the one its metadata describes.
    #[error("ONNX sha256 mismatch: the metadata expects {expected}, the file has {found}")]
    ChecksumMismatch {
        /// `onnx_sha256` from the metadata.
        expected: String,
        /// The sha256 of the bytes given.
        found: String,
    },
    /// The metadata file (the `.json` beside the `.onnx`) does not exist.
    #[error("no model metadata at {path}")]
    MissingMetadata {
        /// Where it was looked for.
        path: String,
    },
    /// The metadata is not valid JSON of the contract's shape, or holds impossible values.
    #[error("bad model metadata: {detail}")]
    BadMetadata {
        /// What is wrong.
        detail: String,
    },
    /// The model is for another task than the one asked for.
    #[error("model task mismatch: expected {expected}, found {found}")]
    TaskMismatch {
        /// The task asked for.
        expected: String,
        /// The metadata's task.
        found: String,
    },
    /// The output labels are not exactly the ones (in order) the core interprets.
    #[error("model label mismatch: expected {expected:?}, found {found:?}")]
    LabelMismatch {
        /// The labels the core expects, in order.
        expected: Vec<String>,
        /// The metadata's labels.
        found: Vec<String>,
    },
    /// An image channel the core cannot render.
    #[error("unknown image channel {found:?} (the core renders {expected:?})")]
    ChannelMismatch {
        /// The channels the core can render.
        expected: Vec<String>,
        /// The offending channel name.
        found: String,
    },
    /// A feature the core cannot compute, or feature lists of inconsistent lengths.
    #[error("model feature mismatch in {field}: expected {expected}, found {found}")]
    FeatureMismatch {
        /// The metadata field (e.g. `features`, `population_baseline`, `hrv_fallback.coef`).
        field: String,
        /// What the core needs there.
        expected: String,
        /// What the metadata has.
        found: String,
    },
    /// A graph input or output whose name or shape differs from the metadata (or from what the
    /// metadata's channels/features/beat length imply). `-1` is the batch dimension.
    #[error("model input/output mismatch at {name}: expected {expected}, found {found}")]
    ShapeMismatch {
        /// Input or output name (or position, e.g. `input 2`).
        name: String,
        /// Expected name and shape.
        expected: String,
        /// The name and shape found.
        found: String,
    },
    /// tract failed while optimising or running the graph.
    #[error("tract failed to {stage} the model: {detail}")]
    Tract {
        /// Which step failed.
        stage: TractStage,
        /// tract's message.
        detail: String,
    },
    /// This build of the library has no embedded model for the task (its files were missing
    /// from `models/` at build time).
    #[error("no embedded {task} model in this build")]
    NotEmbedded {
        /// The task (`stress` or `beat_type`).
        task: &'static str,
    },
    /// The caller passed a batch whose sizes do not fit the model (a bug in the caller).
    #[error("bad model input batch: {0}")]
    BadBatch(String),
}

impl ModelError {
    /// A [`ModelError::Tract`] from a tract error (its whole context chain, on one line).
    pub(crate) fn tract(stage: TractStage, e: &tract_onnx::prelude::TractError) -> Self {
        ModelError::Tract {
            stage,
            detail: format!("{e:#}"),
        }
    }
}
