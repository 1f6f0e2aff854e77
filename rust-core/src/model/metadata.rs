//! The model metadata file (`<name>.json` beside `<name>.onnx`, `docs/model-format.md`) and the
//! load-time checks that need no graph: task, labels, channels, features, implied input shapes.

use serde::{Deserialize, Serialize};

use super::error::ModelError;
use crate::imaging::Channel;
use crate::model_input::beat::TemplateRule;

/// The `format` string of every metadata file this core reads.
pub const FORMAT: &str = "stressbeat-model/1";
/// Output labels of a stress model, in order.
pub const STRESS_LABELS: [&str; 2] = ["calm", "stress"];
/// Output labels of a beat-type model, in order (AAMI classes).
pub const BEAT_LABELS: [&str; 5] = ["N", "S", "V", "F", "Q"];

/// What a model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Calm vs stress per window.
    Stress,
    /// AAMI beat class per beat.
    BeatType,
}

impl Task {
    /// The name used in the metadata file.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Stress => "stress",
            Task::BeatType => "beat_type",
        }
    }

    /// The output labels the core interprets for this task.
    pub fn labels(self) -> &'static [&'static str] {
        match self {
            Task::Stress => &STRESS_LABELS,
            Task::BeatType => &BEAT_LABELS,
        }
    }
}

/// A named graph input or output and its shape (`-1` = the batch dimension).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSpec {
    /// Name in the ONNX graph.
    pub name: String,
    /// Dimensions; `-1` is the batch.
    pub shape: Vec<i64>,
}

impl TensorSpec {
    /// A spec from a name and shape.
    pub fn new(name: &str, shape: &[i64]) -> Self {
        Self {
            name: name.to_owned(),
            shape: shape.to_vec(),
        }
    }
}

impl std::fmt::Display for TensorSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?}", self.name, self.shape)
    }
}

/// The graph output: softmax probabilities in `labels` order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputSpec {
    /// Name in the ONNX graph.
    pub name: String,
    /// Class labels, in the order of the output's last dimension.
    pub labels: Vec<String>,
}

/// The beat window a beat-type model was trained on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeatSpec {
    /// Samples per beat (at the model rate).
    pub length: usize,
    /// Samples before the R-peak.
    pub pre: usize,
    /// Names of the `rr` input columns, in order.
    pub rr_features: Vec<String>,
    /// The core's beat-input rules the model was trained on
    /// ([`crate::model_input::beat::BEAT_INPUTS_REVISION`]); 1 when absent (older files).
    #[serde(default = "first_inputs_revision")]
    pub inputs_revision: u32,
    /// Which beats the template channel is the median of; [`TemplateRule::Previous`] when
    /// absent (every model up to v8.0.1).
    #[serde(default)]
    pub template: TemplateRule,
}

fn first_inputs_revision() -> u32 {
    1
}

/// A logistic regression on standardised HRV features that the core evaluates itself
/// (see [`super::HrvFallback`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HrvFallbackSpec {
    /// Feature names (a subset of the model's `features`).
    pub features: Vec<String>,
    /// Per feature: use `x - baseline` instead of `x`.
    pub baseline_relative: Vec<bool>,
    /// Standardisation mean per feature.
    pub mean: Vec<f64>,
    /// Standardisation standard deviation per feature (> 0).
    pub std: Vec<f64>,
    /// Coefficient per standardised feature.
    pub coef: Vec<f64>,
    /// Intercept of the logit.
    pub intercept: f64,
}

/// The metadata of one shipped model, exactly the JSON of `docs/model-format.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    /// Always [`FORMAT`].
    pub format: String,
    /// What the model predicts.
    pub task: Task,
    /// Model name (e.g. `stress-fusion`).
    pub name: String,
    /// Model version.
    pub version: String,
    /// Lower-case hex sha256 of the `.onnx` file.
    pub onnx_sha256: String,
    /// Rate of the signal the inputs are computed from (the core's model rate).
    pub sampling_rate_hz: f64,
    /// Graph inputs in graph order.
    pub inputs: Vec<TensorSpec>,
    /// The graph output.
    pub output: OutputSpec,
    /// Stress only: the image channels, in the order of the image input's channel dimension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_channels: Option<Vec<String>>,
    /// Stress only: HRV feature names of the `features` and `baseline` inputs, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
    /// Stress only: the `features` the graph's output depends on (absent: all of them). A window
    /// is scorable when these are finite; for the others the core passes the population value
    /// where a window has none (e.g. R/T amplitudes of an RR-only strap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_features: Option<Vec<String>>,
    /// Stress only: the baseline used when the person has none (same order as `features`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub population_baseline: Option<Vec<f32>>,
    /// Beat type only: the beat window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beat: Option<BeatSpec>,
    /// Decision threshold on the positive class probability (stress) or confidence.
    pub threshold: f32,
    /// Stress only: the HRV-only fallback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hrv_fallback: Option<HrvFallbackSpec>,
    /// How the weights are stored (free text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<String>,
    /// Evaluation figures (free form).
    #[serde(default)]
    pub metrics: serde_json::Value,
}

/// The names and sizes the core can compute; a model must use only these.
#[derive(Debug, Clone, Copy)]
pub struct Vocabulary<'a> {
    /// The model rate (Hz).
    pub sampling_rate_hz: f64,
    /// Image channels the renderer draws.
    pub image_channels: &'a [Channel],
    /// Side of the square images, pixels.
    pub image_side: usize,
    /// HRV feature names a stress window has, in the order the core computes them.
    pub hrv_features: &'a [&'a str],
    /// RR feature names a beat has, in the order the core computes them.
    pub rr_features: &'a [&'a str],
    /// Beat window length (samples).
    pub beat_length: usize,
    /// Channels per beat (the window, then its template).
    pub beat_channels: usize,
    /// Samples before the R-peak in a beat window.
    pub beat_pre: usize,
    /// Revision of the rules computing a beat's inputs from the beats before it.
    pub beat_inputs_revision: u32,
}

fn bad(detail: impl Into<String>) -> ModelError {
    ModelError::BadMetadata {
        detail: detail.into(),
    }
}

fn feature_mismatch(field: &str, expected: impl ToString, found: impl ToString) -> ModelError {
    ModelError::FeatureMismatch {
        field: field.to_owned(),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

/// Index of each name in `known`, or a [`ModelError::FeatureMismatch`] naming the first unknown one.
pub(crate) fn indices_in(
    field: &str,
    names: &[String],
    known: &[&str],
) -> Result<Vec<usize>, ModelError> {
    names
        .iter()
        .map(|n| {
            known
                .iter()
                .position(|k| k == n)
                .ok_or_else(|| feature_mismatch(field, format!("one of {known:?}"), n))
        })
        .collect()
}

fn require<'m, T>(field: &str, value: &'m Option<T>) -> Result<&'m T, ModelError> {
    value
        .as_ref()
        .ok_or_else(|| bad(format!("`{field}` is required for this task")))
}

fn no_duplicates(field: &str, names: &[String]) -> Result<(), ModelError> {
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(bad(format!("`{field}` lists {n:?} twice")));
        }
    }
    Ok(())
}

impl ModelMetadata {
    /// Parse a metadata file's bytes (no checks beyond the JSON shape; see [`Self::validate`]).
    pub fn from_json(bytes: &[u8]) -> Result<Self, ModelError> {
        serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))
    }

    /// The metadata as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // a struct of strings, numbers and a JSON value always serialises
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Stress only: the image channels (empty for a model without an image input).
    pub fn channels(&self) -> &[String] {
        self.image_channels.as_deref().unwrap_or_default()
    }

    /// The graph inputs this metadata implies for its task (what [`Self::inputs`] must be).
    pub fn implied_inputs(&self, vocab: &Vocabulary<'_>) -> Vec<TensorSpec> {
        let len = |v: &Option<Vec<String>>| v.as_ref().map_or(0, Vec::len) as i64;
        match self.task {
            Task::Stress => {
                let nf = len(&self.features);
                let side = vocab.image_side as i64;
                let channels = self.channels().len() as i64;
                let mut v = Vec::with_capacity(4);
                if channels > 0 {
                    v.push(TensorSpec::new("image", &[-1, channels, side, side]));
                }
                v.push(TensorSpec::new("features", &[-1, nf]));
                v.push(TensorSpec::new("baseline", &[-1, nf]));
                v.push(TensorSpec::new("has_baseline", &[-1, 1]));
                v
            }
            Task::BeatType => {
                let (length, rr) = self
                    .beat
                    .as_ref()
                    .map_or((0, 0), |b| (b.length as i64, b.rr_features.len() as i64));
                vec![
                    TensorSpec::new("beat", &[-1, vocab.beat_channels as i64, length]),
                    TensorSpec::new("rr", &[-1, rr]),
                ]
            }
        }
    }

    /// Every check of the contract that needs no graph: format, task, labels, rate, threshold,
    /// channel/feature names against what the core computes, list lengths, implied inputs.
    pub fn validate(&self, task: Task, vocab: &Vocabulary<'_>) -> Result<(), ModelError> {
        if self.format != FORMAT {
            return Err(bad(format!(
                "format is {:?}, expected {FORMAT:?}",
                self.format
            )));
        }
        if self.task != task {
            return Err(ModelError::TaskMismatch {
                expected: task.as_str().to_owned(),
                found: self.task.as_str().to_owned(),
            });
        }
        if self.output.labels != task.labels() {
            return Err(ModelError::LabelMismatch {
                expected: task.labels().iter().map(|s| s.to_string()).collect(),
                found: self.output.labels.clone(),
            });
        }
        if (self.sampling_rate_hz - vocab.sampling_rate_hz).abs() > 1e-9 {
            return Err(feature_mismatch(
                "sampling_rate_hz",
                vocab.sampling_rate_hz,
                self.sampling_rate_hz,
            ));
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(bad(format!(
                "threshold {} is not in (0, 1)",
                self.threshold
            )));
        }
        match task {
            Task::Stress => self.validate_stress(vocab)?,
            Task::BeatType => self.validate_beat(vocab)?,
        }
        let implied = self.implied_inputs(vocab);
        for i in 0..implied.len().max(self.inputs.len()) {
            let (expected, found) = (implied.get(i), self.inputs.get(i));
            if expected != found {
                return Err(ModelError::ShapeMismatch {
                    name: format!("metadata input {i}"),
                    expected: expected.map_or("nothing".into(), ToString::to_string),
                    found: found.map_or("nothing".into(), ToString::to_string),
                });
            }
        }
        Ok(())
    }

    fn validate_stress(&self, vocab: &Vocabulary<'_>) -> Result<(), ModelError> {
        let channels = require("image_channels", &self.image_channels)?;
        no_duplicates("image_channels", channels)?;
        if let Some(c) = channels
            .iter()
            .find(|c| !vocab.image_channels.iter().any(|k| k.name() == c.as_str()))
        {
            return Err(ModelError::ChannelMismatch {
                expected: vocab
                    .image_channels
                    .iter()
                    .map(|k| k.name().to_owned())
                    .collect(),
                found: c.clone(),
            });
        }
        let features = require("features", &self.features)?;
        if features.is_empty() {
            return Err(bad("`features` is empty"));
        }
        no_duplicates("features", features)?;
        indices_in("features", features, vocab.hrv_features)?;
        if let Some(required) = &self.required_features {
            no_duplicates("required_features", required)?;
            let refs: Vec<&str> = features.iter().map(String::as_str).collect();
            indices_in("required_features", required, &refs)?;
        }
        let population = require("population_baseline", &self.population_baseline)?;
        if population.len() != features.len() {
            return Err(feature_mismatch(
                "population_baseline",
                format!("{} values (one per feature)", features.len()),
                format!("{} values", population.len()),
            ));
        }
        if population.iter().any(|v| !v.is_finite()) {
            return Err(bad("`population_baseline` has a non-finite value"));
        }
        // a fallback feature may appear twice: absolute and baseline-relative
        let fb = require("hrv_fallback", &self.hrv_fallback)?;
        let feature_refs: Vec<&str> = features.iter().map(String::as_str).collect();
        indices_in("hrv_fallback.features", &fb.features, &feature_refs)?;
        let n = fb.features.len();
        for (field, len) in [
            ("hrv_fallback.baseline_relative", fb.baseline_relative.len()),
            ("hrv_fallback.mean", fb.mean.len()),
            ("hrv_fallback.std", fb.std.len()),
            ("hrv_fallback.coef", fb.coef.len()),
        ] {
            if len != n {
                return Err(feature_mismatch(
                    field,
                    format!("{n} values (one per fallback feature)"),
                    format!("{len} values"),
                ));
            }
        }
        let finite = fb.mean.iter().chain(&fb.coef).all(|v| v.is_finite());
        if !finite
            || !fb.intercept.is_finite()
            || fb.std.iter().any(|s| !(*s > 0.0 && s.is_finite()))
        {
            return Err(bad(
                "`hrv_fallback` needs finite mean/coef/intercept and std > 0",
            ));
        }
        Ok(())
    }

    fn validate_beat(&self, vocab: &Vocabulary<'_>) -> Result<(), ModelError> {
        let beat = require("beat", &self.beat)?;
        if beat.length != vocab.beat_length {
            return Err(feature_mismatch(
                "beat.length",
                vocab.beat_length,
                beat.length,
            ));
        }
        if beat.pre != vocab.beat_pre {
            return Err(feature_mismatch("beat.pre", vocab.beat_pre, beat.pre));
        }
        // an older revision loads (its rules differ only in unusable signal; callers may warn),
        // a newer one asks for inputs this core cannot compute
        if beat.inputs_revision > vocab.beat_inputs_revision {
            return Err(feature_mismatch(
                "beat.inputs_revision",
                vocab.beat_inputs_revision,
                beat.inputs_revision,
            ));
        }
        if let TemplateRule::ClassifiedN { stale: 0 } = beat.template {
            return Err(bad("`beat.template.stale` must be at least 1"));
        }
        if beat.template != TemplateRule::Previous && beat.inputs_revision < 3 {
            return Err(bad(
                "`beat.template` other than `previous` needs `beat.inputs_revision` 3 or later",
            ));
        }
        no_duplicates("beat.rr_features", &beat.rr_features)?;
        indices_in("beat.rr_features", &beat.rr_features, vocab.rr_features)?;
        Ok(())
    }
}
