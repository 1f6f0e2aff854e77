//! The stress model (calm vs stress per window) and its HRV-only fallback.

use once_cell::sync::Lazy;

use super::{
    CORE_VOCABULARY, LoadedModel, ModelError, ModelMetadata, Task, embedded_files,
    metadata::{HrvFallbackSpec, indices_in},
};
use crate::{
    error::Result,
    imaging::Channel,
    model_input::stress::{RR_FEATURES, StressWindow, WindowRenderer, scores_rr_windows},
};

/// Windows per tract run (bounds the image buffer: 64 × channels × 128² f32).
const MAX_BATCH: usize = 64;

/// The logistic regression of a stress model's `hrv_fallback`, evaluated in pure Rust.
/// Usable on its own (e.g. when the ONNX file is corrupt but its metadata is fine).
#[derive(Debug, Clone, PartialEq)]
pub struct HrvFallback {
    spec: HrvFallbackSpec,
    /// Per fallback feature: its index in [`CORE_VOCABULARY`]`.hrv_features`.
    feature_index: Vec<usize>,
    /// The population baseline in [`CORE_VOCABULARY`] order (NaN for features the model lacks).
    population_baseline: Vec<f32>,
    /// The model's decision threshold.
    threshold: f32,
}

impl HrvFallback {
    /// The fallback of a stress model's metadata (checked as at model load, without the graph).
    pub fn from_metadata(meta: &ModelMetadata) -> Result<Self, ModelError> {
        meta.validate(Task::Stress, &CORE_VOCABULARY)?;
        let (Some(spec), Some(features), Some(population)) = (
            &meta.hrv_fallback,
            &meta.features,
            &meta.population_baseline,
        ) else {
            // validate() requires all three for a stress model
            return Err(ModelError::BadMetadata {
                detail: "stress metadata without hrv_fallback".into(),
            });
        };
        let vocab = CORE_VOCABULARY.hrv_features;
        let mut population_baseline = vec![f32::NAN; vocab.len()];
        for (i, v) in indices_in("features", features, vocab)?
            .into_iter()
            .zip(population)
        {
            population_baseline[i] = *v;
        }
        Ok(Self {
            feature_index: indices_in("hrv_fallback.features", &spec.features, vocab)?,
            spec: spec.clone(),
            population_baseline,
            threshold: meta.threshold,
        })
    }

    /// The fallback from a metadata file's bytes.
    pub fn from_json(metadata_json: &[u8]) -> Result<Self, ModelError> {
        Self::from_metadata(&ModelMetadata::from_json(metadata_json)?)
    }

    /// The embedded stress model's fallback (reads only the embedded metadata, not the ONNX).
    pub fn embedded() -> Result<Self, ModelError> {
        Self::from_json(embedded_files(Task::Stress)?.1)
    }

    /// Probability at or above which a window counts as stressed.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Stress probability from one window's features (in [`CORE_VOCABULARY`]`.hrv_features`
    /// order) and the person's baseline (same order; `None` = the population baseline).
    /// `None` when an RR feature it uses is not finite. A feature only ECG gives (the R/T
    /// amplitudes: a window of a strap's RR intervals, or a baseline learnt from one) that is
    /// not finite, in the window or the baseline, takes its training mean: its term is 0.
    pub fn probability(&self, features: &[f32], baseline: Option<&[f32]>) -> Option<f32> {
        let baseline = baseline.unwrap_or(&self.population_baseline);
        let mut logit = self.spec.intercept;
        for (j, &i) in self.feature_index.iter().enumerate() {
            let mut x = f64::from(*features.get(i)?);
            if self.spec.baseline_relative[j] {
                x -= f64::from(*baseline.get(i)?);
            }
            if !x.is_finite() && i >= RR_FEATURES {
                continue;
            }
            logit += self.spec.coef[j] * (x - self.spec.mean[j]) / self.spec.std[j];
        }
        logit
            .is_finite()
            .then(|| (1.0 / (1.0 + (-logit).exp())) as f32)
    }
}

/// The stress model: per window, the probability of `stress`.
#[derive(Debug, Clone)]
pub struct StressModel {
    loaded: LoadedModel,
    /// The image channels, in input order.
    channels: Vec<Channel>,
    /// Per model feature: its index in [`CORE_VOCABULARY`]`.hrv_features`.
    feature_index: Vec<usize>,
    /// Per model feature: whether the output depends on it (`required_features`).
    required: Vec<bool>,
    /// Whether it scores RR-only windows ([`scores_rr_windows`]).
    scores_rr: bool,
    fallback: HrvFallback,
}

static EMBEDDED: Lazy<Result<StressModel, ModelError>> = Lazy::new(|| {
    let (onnx, json) = embedded_files(Task::Stress)?;
    StressModel::load(onnx, json)
});

impl StressModel {
    /// Check and optimise a stress model from its ONNX and metadata bytes.
    pub fn load(onnx: &[u8], metadata_json: &[u8]) -> Result<Self, ModelError> {
        let loaded = LoadedModel::load(onnx, metadata_json, Task::Stress)?;
        let fallback = HrvFallback::from_metadata(loaded.metadata())?;
        let features = loaded.metadata().features.as_deref().unwrap_or_default();
        let feature_index = indices_in("features", features, CORE_VOCABULARY.hrv_features)?;
        let required = match &loaded.metadata().required_features {
            Some(names) => features.iter().map(|f| names.contains(f)).collect(),
            None => vec![true; features.len()],
        };
        let channels = loaded
            .metadata()
            .channels()
            .iter()
            .map(|name| {
                Channel::from_name(name).map_err(|_| ModelError::ChannelMismatch {
                    expected: Channel::ALL.iter().map(|c| c.name().to_owned()).collect(),
                    found: name.clone(),
                })
            })
            .collect::<Result<_, _>>()?;
        let mut model = Self {
            loaded,
            channels,
            feature_index,
            required,
            scores_rr: false,
            fallback,
        };
        model.scores_rr = scores_rr_windows(&model.required_features(), &model.channels);
        Ok(model)
    }

    /// The model embedded in the library, loaded and optimised on first use.
    pub fn embedded() -> Result<&'static Self, ModelError> {
        EMBEDDED.as_ref().map_err(Clone::clone)
    }

    /// The model's metadata.
    pub fn metadata(&self) -> &ModelMetadata {
        self.loaded.metadata()
    }

    /// The image channels to render per window, in input order (may be empty).
    pub fn image_channels(&self) -> &[Channel] {
        &self.channels
    }

    /// Bytes of one window's images (`channels × side × side`).
    pub fn image_len(&self) -> usize {
        self.image_channels().len() * CORE_VOCABULARY.image_side * CORE_VOCABULARY.image_side
    }

    /// Probability at or above which a window counts as stressed.
    pub fn threshold(&self) -> f32 {
        self.loaded.metadata().threshold
    }

    /// The [`CORE_VOCABULARY`]`.hrv_features` indices the output depends on (the others may be
    /// NaN: the population value is fed).
    pub fn required_features(&self) -> Vec<usize> {
        self.feature_index
            .iter()
            .zip(&self.required)
            .filter_map(|(&i, &r)| r.then_some(i))
            .collect()
    }

    /// Input value of model feature `j` (vocabulary index `i`) from `row`: a feature the output
    /// does not depend on gets the population value where `row` has none (NaN would poison the
    /// graph's arithmetic even with zero weight).
    fn input_value(&self, row: &[f32], j: usize, i: usize) -> f32 {
        let v = row[i];
        if v.is_finite() || self.required[j] {
            v
        } else {
            self.fallback.population_baseline[i]
        }
    }

    /// Baseline value of vocabulary feature `i` from `baseline`: the population
    /// value where the baseline has none (NaN: e.g. the R/T amplitudes of a baseline learnt from
    /// a strap's RR intervals), whether or not the output depends on it. A window's own required
    /// features are checked before scoring ([`StressWindow::is_scorable`]); its baseline's are not.
    fn baseline_value(&self, baseline: &[f32], i: usize) -> f32 {
        let v = baseline[i];
        if v.is_finite() {
            v
        } else {
            self.fallback.population_baseline[i]
        }
    }

    /// The model's HRV-only fallback.
    pub fn fallback(&self) -> &HrvFallback {
        &self.fallback
    }

    /// The fallback's stress probability (see [`HrvFallback::probability`]).
    pub fn fallback_probability(&self, features: &[f32], baseline: Option<&[f32]>) -> Option<f32> {
        self.fallback.probability(features, baseline)
    }

    /// Stress probability of each of a batch of windows.
    ///
    /// - `images`: per window, [`Self::image_len`] bytes (channels in [`Self::image_channels`]
    ///   order, each `side × side` row-major);
    /// - `features`: per window, the [`CORE_VOCABULARY`]`.hrv_features` values, raw;
    /// - `baseline`: the person's baseline in the same order, or `None` for the population one;
    ///   a feature it lacks (NaN) takes the population value.
    pub fn predict(
        &self,
        images: &[u8],
        features: &[f32],
        baseline: Option<&[f32]>,
    ) -> Result<Vec<f32>, ModelError> {
        let n_all = CORE_VOCABULARY.hrv_features.len();
        let rows = features.len() / n_all;
        if !features.len().is_multiple_of(n_all) || images.len() != rows * self.image_len() {
            return Err(ModelError::BadBatch(format!(
                "{} feature values and {} image bytes do not make whole windows \
                 ({n_all} features and {} bytes each)",
                features.len(),
                images.len(),
                self.image_len()
            )));
        }
        if baseline.is_some_and(|b| b.len() != n_all) {
            return Err(ModelError::BadBatch(format!(
                "the baseline needs {n_all} values"
            )));
        }
        let population = &self.fallback.population_baseline;
        let base: Vec<f32> = self
            .feature_index
            .iter()
            .map(|&i| baseline.map_or(population[i], |b| self.baseline_value(b, i)))
            .collect();
        let has_baseline = if baseline.is_some() { 1.0 } else { 0.0 };
        let mut out = Vec::with_capacity(rows);
        for start in (0..rows).step_by(MAX_BATCH) {
            let n = MAX_BATCH.min(rows - start);
            let img_len = self.image_len();
            let pixels: Vec<f32> = images[start * img_len..(start + n) * img_len]
                .iter()
                .map(|&p| f32::from(p) / 255.0)
                .collect();
            let feats: Vec<f32> = features[start * n_all..(start + n) * n_all]
                .chunks_exact(n_all)
                .flat_map(|row| {
                    self.feature_index
                        .iter()
                        .enumerate()
                        .map(move |(j, &i)| self.input_value(row, j, i))
                })
                .collect();
            let bases: Vec<f32> = std::iter::repeat_n(&base, n).flatten().copied().collect();
            let flags = vec![has_baseline; n];
            let mut inputs: Vec<&[f32]> = Vec::with_capacity(4);
            if img_len > 0 {
                inputs.push(&pixels);
            }
            inputs.extend([&feats[..], &bases[..], &flags[..]]);
            let probs = self.loaded.run(n, &inputs)?;
            out.extend(probs.chunks_exact(2).map(|p| p[1]));
        }
        Ok(out)
    }

    /// Whether it scores RR-only windows (it depends on RR features only and draws no ECG
    /// image; see [`scores_rr_windows`]).
    pub fn scores_rr_windows(&self) -> bool {
        self.scores_rr
    }

    /// Whether it scores `w`: [`StressWindow::is_scorable`], and for an RR-only window
    /// [`Self::scores_rr_windows`].
    pub fn scores(&self, w: &StressWindow) -> bool {
        w.is_scorable_by(self.scores_rr_windows())
    }

    /// Stress probability of each window of a 130 Hz signal, or of RR-only windows
    /// (`samples_130hz` unused; `None` for a window it does not [`Self::scores`]): renders the
    /// model's image channels, then predicts in batches. `baseline` as in [`Self::predict`].
    pub fn score_windows(
        &self,
        samples_130hz: &[f32],
        windows: &[StressWindow],
        baseline: Option<&[f32]>,
    ) -> Result<Vec<Option<f32>>> {
        let scorable: Vec<&StressWindow> = windows.iter().filter(|w| self.scores(w)).collect();
        let mut renderer = WindowRenderer::new();
        let mut probabilities = Vec::with_capacity(scorable.len());
        for chunk in scorable.chunks(MAX_BATCH) {
            let mut images = vec![0u8; chunk.len() * self.image_len()];
            let mut features = Vec::with_capacity(chunk.len() * CORE_VOCABULARY.hrv_features.len());
            let len = self.image_len();
            for (i, w) in chunk.iter().enumerate() {
                let img = &mut images[i * len..(i + 1) * len];
                renderer.render_window(samples_130hz, w, &self.channels, img)?;
                features.extend_from_slice(&w.features);
            }
            probabilities.extend(self.predict(&images, &features, baseline)?);
        }
        let mut scored = probabilities.into_iter();
        Ok(windows
            .iter()
            .map(|w| if self.scores(w) { scored.next() } else { None })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Windows around the population baseline (deterministic), in vocabulary order.
    fn rows(model: &StressModel, n: usize) -> Vec<f32> {
        let pop = &model.fallback.population_baseline;
        let mut state = 12_345u32;
        let mut out = Vec::new();
        for _ in 0..n {
            for &p in pop {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let u = (state >> 8) as f32 / (1u32 << 24) as f32; // 0..1
                out.push(p * (0.7 + 0.6 * u));
            }
        }
        out
    }

    /// A personal baseline learnt from a strap's RR intervals has no R/T amplitudes (NaN). A
    /// model whose output depends on every feature (no `required_features`) still scores ECG
    /// windows against it: the amplitudes' baseline is the population value, not NaN (which made
    /// every probability NaN, printed as `"stress_probability": null` with `"stressed": false`).
    #[test]
    fn a_baseline_without_amplitudes_takes_their_population_values() {
        let (onnx, json) = embedded_files(Task::Stress).unwrap();
        let mut meta: serde_json::Value = serde_json::from_slice(json).unwrap();
        meta.as_object_mut().unwrap().remove("required_features");
        let model = StressModel::load(onnx, &serde_json::to_vec(&meta).unwrap()).unwrap();
        assert_eq!(
            model.required_features().len(),
            CORE_VOCABULARY.hrv_features.len()
        );
        let x = rows(&model, 8);
        let mut b = rows(&model, 1);
        b[7] *= 1.2;
        let p = model.predict(&[], &x, Some(&b)).unwrap();
        assert!(p.iter().all(|v| v.is_finite()), "{p:?}");
        let mut rr_only = b.clone();
        rr_only[7..].fill(f32::NAN);
        let q = model.predict(&[], &x, Some(&rr_only)).unwrap();
        let mut with_population = b.clone();
        with_population[7..].copy_from_slice(&model.fallback.population_baseline[7..]);
        let expected = model.predict(&[], &x, Some(&with_population)).unwrap();
        assert_eq!(q, expected);
    }

    /// The embedded model's `required_features` declaration is checked against its graph: what
    /// it leaves out may be NaN, negative or huge (in the window and in the baseline) without
    /// changing any output, while changing a required feature does change it.
    #[test]
    fn the_embedded_stress_model_depends_only_on_its_required_features() {
        let model = StressModel::embedded().unwrap();
        let required = model.required_features();
        let nf = CORE_VOCABULARY.hrv_features.len();
        let names: Vec<&str> = required
            .iter()
            .map(|&i| CORE_VOCABULARY.hrv_features[i])
            .collect();
        assert_eq!(names, ["hr_bpm", "mean_nn_ms", "sdnn_ms"]);
        let n = 16;
        let x = rows(model, n);
        let b = rows(model, 1);
        for baseline in [None, Some(&b[..])] {
            let p = model.predict(&[], &x, baseline).unwrap();
            assert!(p.iter().all(|v| v.is_finite()));
            for odd in [f32::NAN, -3.0, 1e30] {
                let set = |v: &[f32]| -> Vec<f32> {
                    v.iter()
                        .enumerate()
                        .map(|(k, &f)| if required.contains(&(k % nf)) { f } else { odd })
                        .collect()
                };
                let odd_b = set(&b);
                let q = model
                    .predict(&[], &set(&x), baseline.map(|_| &odd_b[..]))
                    .unwrap();
                assert_eq!(p, q, "non-required features = {odd}");
            }
            let mut moved = x.clone();
            for row in moved.chunks_exact_mut(nf) {
                row[required[0]] += 25.0;
            }
            let q = model.predict(&[], &moved, baseline).unwrap();
            assert!(p.iter().zip(&q).all(|(a, b)| a != b), "{p:?} vs {q:?}");
            let mut missing = x.clone();
            missing[required[2]] = f32::NAN;
            let q = model.predict(&[], &missing, baseline).unwrap();
            assert!(
                !q[0].is_finite(),
                "a missing required feature must not score"
            );
        }
    }
}
