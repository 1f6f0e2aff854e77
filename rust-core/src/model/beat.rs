//! The beat-type model: one AAMI class (N, S, V, F, Q) per beat.

use once_cell::sync::Lazy;

use super::ModelSignal;
use super::{
    CORE_VOCABULARY, LoadedModel, ModelError, ModelMetadata, Task, embedded_files,
    metadata::indices_in,
};
use crate::{
    error::Result,
    model_input::beat::{BeatInputs, TemplateOfN, TemplateRule, beat_inputs},
};

/// Beats per tract run.
const MAX_BATCH: usize = 256;

/// AAMI beat classes, in the model's output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BeatClass {
    /// Normal (and bundle branch block, escape) beats.
    N,
    /// Supraventricular ectopic beats.
    S,
    /// Ventricular ectopic beats.
    V,
    /// Fusion of ventricular and normal beats.
    F,
    /// Paced or unclassifiable beats.
    Q,
}

impl BeatClass {
    /// All classes, in output order.
    pub const ALL: [BeatClass; 5] = [
        BeatClass::N,
        BeatClass::S,
        BeatClass::V,
        BeatClass::F,
        BeatClass::Q,
    ];

    /// The one-letter label.
    pub fn as_str(self) -> &'static str {
        match self {
            BeatClass::N => "N",
            BeatClass::S => "S",
            BeatClass::V => "V",
            BeatClass::F => "F",
            BeatClass::Q => "Q",
        }
    }
}

/// The class of one beat and the model's probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeatPrediction {
    /// The most probable class.
    pub class: BeatClass,
    /// Its probability.
    pub confidence: f32,
    /// Every class's probability, in [`BeatClass::ALL`] order.
    pub probabilities: [f32; 5],
}

/// The beat-type classifier.
#[derive(Debug, Clone)]
pub struct BeatClassifier {
    loaded: LoadedModel,
    /// Per model RR column: its index in [`CORE_VOCABULARY`]`.rr_features`.
    rr_index: Vec<usize>,
}

static EMBEDDED: Lazy<Result<BeatClassifier, ModelError>> = Lazy::new(|| {
    let (onnx, json) = embedded_files(Task::BeatType)?;
    BeatClassifier::load(onnx, json)
});

impl BeatClassifier {
    /// Check and optimise a beat-type model from its ONNX and metadata bytes.
    pub fn load(onnx: &[u8], metadata_json: &[u8]) -> Result<Self, ModelError> {
        let loaded = LoadedModel::load(onnx, metadata_json, Task::BeatType)?;
        let beat = loaded.metadata().beat.as_ref();
        // revisions 2 and 3 compute the same inputs under the previous-beats template
        if let Some(revision) = beat.map(|b| b.inputs_revision).filter(|&r| r < 2) {
            log::warn!(
                "the beat-type model was trained on beat inputs of revision {revision}; this core \
                 computes revision {} (they differ in beats during unusable signal)",
                CORE_VOCABULARY.beat_inputs_revision
            );
        }
        let names = beat.map(|b| b.rr_features.as_slice()).unwrap_or_default();
        let rr_index = indices_in("beat.rr_features", names, CORE_VOCABULARY.rr_features)?;
        Ok(Self { loaded, rr_index })
    }

    /// The model embedded in the library, loaded and optimised on first use.
    pub fn embedded() -> Result<&'static Self, ModelError> {
        EMBEDDED.as_ref().map_err(Clone::clone)
    }

    /// The model's metadata.
    pub fn metadata(&self) -> &ModelMetadata {
        self.loaded.metadata()
    }

    /// Which beats the model's template channel is the median of.
    pub fn template_rule(&self) -> TemplateRule {
        self.metadata()
            .beat
            .as_ref()
            .map(|b| b.template)
            .unwrap_or_default()
    }

    /// Classify a batch of beats as given: their template channel must already follow the model's
    /// [`Self::template_rule`] (see [`Self::classify_inputs`]).
    ///
    /// - `beats`: per beat, [`CORE_VOCABULARY`]`.beat_channels` × `.beat_length` samples (the
    ///   window and its template, as [`crate::model_input::beat::beat_inputs`] writes them);
    /// - `rr`: per beat, the [`CORE_VOCABULARY`]`.rr_features` values, raw.
    pub fn classify(&self, beats: &[f32], rr: &[f32]) -> Result<Vec<BeatPrediction>, ModelError> {
        let len = CORE_VOCABULARY.beat_channels * CORE_VOCABULARY.beat_length;
        let n_rr = CORE_VOCABULARY.rr_features.len();
        let rows = beats.len() / len;
        if !beats.len().is_multiple_of(len) || rr.len() != rows * n_rr {
            return Err(ModelError::BadBatch(format!(
                "{} beat samples and {} RR values do not make whole beats \
                 ({len} samples and {n_rr} RR values each)",
                beats.len(),
                rr.len()
            )));
        }
        let mut out = Vec::with_capacity(rows);
        for start in (0..rows).step_by(MAX_BATCH) {
            let n = MAX_BATCH.min(rows - start);
            let rr_cols: Vec<f32> = rr[start * n_rr..(start + n) * n_rr]
                .chunks_exact(n_rr)
                .flat_map(|row| self.rr_index.iter().map(move |&i| row[i]))
                .collect();
            let probs = self
                .loaded
                .run(n, &[&beats[start * len..(start + n) * len], &rr_cols])?;
            out.extend(probs.chunks_exact(5).map(prediction));
        }
        Ok(out)
    }

    /// Classify the beats of one recording, [`crate::model_input::beat::beat_inputs`] (row `i` is
    /// `inputs.peaks[i]`), under the model's template rule: in batches for
    /// [`TemplateRule::Previous`], beat by beat for [`TemplateRule::ClassifiedN`] (which
    /// replaces each row's template channel by the one the model saw).
    pub fn classify_inputs(
        &self,
        inputs: &mut BeatInputs,
    ) -> Result<Vec<BeatPrediction>, ModelError> {
        match self.template_rule().ring() {
            None => self.classify(&inputs.beats, &inputs.rr),
            Some(mut ring) => self.classify_following(inputs, &mut ring),
        }
    }

    /// Classify the next beats of a recording or session whose earlier beats went through
    /// `ring` (a [`TemplateRule::ClassifiedN`] model), beat by beat; each row's template channel
    /// is replaced by the one the model saw.
    pub fn classify_following(
        &self,
        inputs: &mut BeatInputs,
        ring: &mut TemplateOfN,
    ) -> Result<Vec<BeatPrediction>, ModelError> {
        ring.classify_in_order(
            inputs,
            |row, rr| {
                self.classify(row, rr)?.pop().ok_or_else(|| {
                    ModelError::BadBatch("the model gave no class for a beat".to_owned())
                })
            },
            |p| p.class == BeatClass::N,
        )
    }

    /// Every beat of `signal` with a full window and both neighbours: its 130 Hz R-peak and class.
    pub fn classify_signal(
        &self,
        signal: &ModelSignal,
    ) -> Result<Vec<(usize, BeatPrediction)>, ModelError> {
        let mut inputs = beat_inputs(&signal.samples_130hz, &signal.peaks_130hz);
        let predictions = self.classify_inputs(&mut inputs)?;
        Ok(inputs.peaks.into_iter().zip(predictions).collect())
    }
}

fn prediction(p: &[f32]) -> BeatPrediction {
    let mut probabilities = [0.0; 5];
    probabilities.copy_from_slice(p);
    let (best, &confidence) = probabilities
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap_or((0, &0.0));
    BeatPrediction {
        class: BeatClass::ALL[best],
        confidence,
        probabilities,
    }
}
