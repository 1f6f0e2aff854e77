//! The window analyzer: model inputs and images ([`crate::model_input`]), the
//! stress model with its HRV fallback, and the beat classifier. The models sit behind two small
//! traits ([`StressScorer`], [`BeatTyper`]) so a missing or corrupt model degrades to the HRV
//! fallback / unclassified beats instead of stopping the monitor.

use std::collections::VecDeque;

use super::events::Degradation;
use super::ports::{WindowAnalyzer, WindowSignal};
use crate::engine::{BeatCounts, WindowObservation};
use crate::imaging::{Channel, IMAGE_PIXELS};
use crate::model::{BeatClass, BeatClassifier, HrvFallback, StressModel, Task};
use crate::model_input::MODEL_RATE_HZ;
use crate::model_input::beat::{BeatContext, TemplateOfN, TemplateRule, beat_inputs_after};
use crate::model_input::stress::{
    HRV_FEATURE_NAMES, StressWindowConfig, WindowRenderer, rr_window, stress_windows,
};

/// The stress model as the analyzer uses it.
pub trait StressScorer: Send + Sync {
    /// Name and version (stored with each model-scored window).
    fn name(&self) -> String;
    /// Image channels per window, in input order.
    fn image_channels(&self) -> Vec<Channel>;
    /// Whether it scores RR-only windows (no ECG; see `model_input::stress::scores_rr_windows`).
    fn scores_rr_windows(&self) -> bool;
    /// Stress probability per window: `images` = per window the channels' `IMAGE_PIXELS` bytes;
    /// `features` = per window the [`HRV_FEATURE_NAMES`] values; `baseline` the person's.
    fn predict(
        &self,
        images: &[u8],
        features: &[f32],
        baseline: Option<&[f32]>,
    ) -> Result<Vec<f32>, String>;
}

/// The HRV-only fallback probability (a logistic regression on the features).
pub trait FallbackScorer: Send + Sync {
    /// Stress probability from one window's [`HRV_FEATURE_NAMES`] values.
    fn probability(&self, features: &[f32], baseline: Option<&[f32]>) -> Option<f32>;
}

/// The beat classifier as the analyzer uses it.
pub trait BeatTyper: Send + Sync {
    /// AAMI class index (0 N, 1 S, 2 V, 3 F, 4 Q) per beat.
    fn classify(&self, beats: &[f32], rr: &[f32]) -> Result<Vec<u8>, String>;
    /// Which beats the template channel is the median of.
    fn template_rule(&self) -> TemplateRule {
        TemplateRule::Previous
    }
}

/// Classified beats remembered (absolute 130 Hz index, class), about two windows' worth.
const CLASS_CACHE: usize = 512;

/// Model inputs and models for windows. See the module documentation.
pub struct ModelAnalyzer {
    stress: Option<std::sync::Arc<dyn StressScorer>>,
    fallback: Option<std::sync::Arc<dyn FallbackScorer>>,
    beats: Option<std::sync::Arc<dyn BeatTyper>>,
    channels: Vec<Channel>,
    /// Whether the stress model scores RR-only windows.
    scores_rr_windows: bool,
    renderer: WindowRenderer,
    images: Vec<u8>,
    features: Vec<f32>,
    classes: VecDeque<(u64, u8)>,
    /// The session's beat history (templates, long RR), fed each beat once, in order.
    beat_context: BeatContext,
    /// The session's beats classified N, for a [`TemplateRule::ClassifiedN`] beat model.
    template_of_n: Option<TemplateOfN>,
    /// Absolute 130 Hz index of the last beat fed to `beat_context`.
    last_fed: Option<u64>,
    degradations: Vec<Degradation>,
}

impl std::fmt::Debug for ModelAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelAnalyzer")
            .field("stress_model", &self.stress.is_some())
            .field("fallback", &self.fallback.is_some())
            .field("beat_model", &self.beats.is_some())
            .finish_non_exhaustive()
    }
}

impl ModelAnalyzer {
    /// An analyzer over the given models (`None`: not available); `degradations` are the
    /// problems met while loading them, reported when the session starts.
    pub fn new(
        stress: Option<std::sync::Arc<dyn StressScorer>>,
        fallback: Option<std::sync::Arc<dyn FallbackScorer>>,
        beats: Option<std::sync::Arc<dyn BeatTyper>>,
        degradations: Vec<Degradation>,
    ) -> Self {
        let channels = stress
            .as_ref()
            .map(|s| s.image_channels())
            .unwrap_or_default();
        let scores_rr_windows = stress.as_ref().is_some_and(|s| s.scores_rr_windows());
        let template_of_n = beats.as_ref().and_then(|b| b.template_rule().ring());
        Self {
            stress,
            fallback,
            beats,
            channels,
            scores_rr_windows,
            renderer: WindowRenderer::new(),
            images: Vec::new(),
            features: Vec::new(),
            classes: VecDeque::with_capacity(CLASS_CACHE),
            beat_context: BeatContext::new(),
            template_of_n,
            last_fed: None,
            degradations,
        }
    }

    fn degrade(&mut self, task: Task, reason: String) {
        log::warn!(
            "monitor: {} model disabled for this session: {reason}",
            task.as_str()
        );
        self.degradations
            .push(Degradation::ModelUnavailable { task, reason });
    }

    /// Classify the window's beats not classified yet (those after the last one fed to the
    /// session's beat context, so each beat's template comes from the session's previous beats,
    /// as in training); count the window's beats by class (unclassified beats count as N).
    fn count_beats(&mut self, w: &WindowSignal) -> BeatCounts {
        let abs = |p: usize| w.start_index + p as u64;
        if let Some(typer) = self.beats.clone() {
            let from = self
                .last_fed
                .map_or(0, |q| (q + 1).saturating_sub(w.start_index) as usize);
            let mut inputs = beat_inputs_after(
                &w.samples_mv,
                &w.peaks,
                from,
                &mut self.beat_context,
                &w.clean,
            );
            if let Some(&last) = inputs.peaks.last() {
                self.last_fed = Some(abs(last));
                let classified = match self.template_of_n.as_mut() {
                    None => typer.classify(&inputs.beats, &inputs.rr),
                    Some(ring) => ring.classify_in_order(
                        &mut inputs,
                        |row, rr| {
                            typer.classify(row, rr)?.pop().ok_or_else(|| {
                                "the beat-type model gave no class for a beat".to_owned()
                            })
                        },
                        |&class| class == 0,
                    ),
                };
                match classified {
                    Ok(classes) => {
                        for (&p, c) in inputs.peaks.iter().zip(classes) {
                            if self.classes.len() == CLASS_CACHE {
                                self.classes.pop_front();
                            }
                            self.classes.push_back((abs(p), c));
                        }
                    }
                    Err(e) => {
                        self.beats = None;
                        self.degrade(Task::BeatType, e);
                    }
                }
            }
        }
        let mut counts = BeatCounts::default();
        for &p in &w.peaks {
            let class = self
                .classes
                .iter()
                .rev()
                .find(|&&(q, _)| q == abs(p))
                .map_or(0, |&(_, c)| c);
            counts.add_class(class);
        }
        counts
    }
}

impl WindowAnalyzer for ModelAnalyzer {
    fn analyze(
        &mut self,
        windows: &[WindowSignal],
        baseline: Option<&[f32]>,
        out: &mut Vec<WindowObservation>,
    ) {
        let first = out.len();
        let nf = HRV_FEATURE_NAMES.len();
        let baseline = baseline.filter(|b| b.len() == nf);
        // Observations, and the model batch of the scorable windows.
        self.images.clear();
        self.features.clear();
        let mut scorable = Vec::new();
        for (k, w) in windows.iter().enumerate() {
            let (sw, beat_counts) = if w.is_rr_only() {
                let sw = rr_window(&w.rr_ms, (w.end_ms - w.start_ms) as f64 / 1000.0);
                let counts = sw.rr_beat_counts.unwrap_or_default();
                (Some(sw), counts)
            } else {
                let cfg = StressWindowConfig {
                    window_s: w.samples_mv.len() as f64 / MODEL_RATE_HZ,
                    step_s: w.samples_mv.len() as f64 / MODEL_RATE_HZ,
                };
                let sw = stress_windows(&w.samples_mv, &w.peaks, &cfg)
                    .ok()
                    .and_then(|v| v.into_iter().next());
                (sw, self.count_beats(w))
            };
            let mut obs = WindowObservation {
                start_ms: w.start_ms,
                end_ms: w.end_ms,
                beat_counts,
                rr_only: w.is_rr_only(),
                ..WindowObservation::default()
            };
            if let Some(sw) = sw {
                let f = |name: &str| {
                    HRV_FEATURE_NAMES
                        .iter()
                        .position(|n| *n == name)
                        .and_then(|i| sw.features.get(i).copied())
                        .filter(|v| v.is_finite())
                };
                obs.usable_fraction = sw.usable_fraction;
                obs.rr_irregularity = sw.rr_irregularity;
                obs.hr_bpm = sw.heart_rate_bpm(&obs.beat_counts);
                obs.rmssd_ms = f("rmssd_ms");
                obs.sdnn_ms = f("sdnn_ms");
                if sw.is_scorable() {
                    obs.fallback_probability = self
                        .fallback
                        .as_ref()
                        .and_then(|fb| fb.probability(&sw.features, baseline));
                }
                if self.stress.is_some() && sw.is_scorable_by(self.scores_rr_windows) {
                    let at = self.images.len();
                    self.images
                        .resize(at + self.channels.len() * IMAGE_PIXELS, 0);
                    let drawn = self.renderer.render_window(
                        &w.samples_mv,
                        &sw,
                        &self.channels,
                        &mut self.images[at..],
                    );
                    if drawn.is_ok() {
                        self.features.extend_from_slice(&sw.features);
                        scorable.push(k);
                    } else {
                        self.images.truncate(at);
                    }
                }
                obs.features = sw.features;
            }
            out.push(obs);
        }
        if let (Some(model), false) = (self.stress.clone(), scorable.is_empty()) {
            match model.predict(&self.images, &self.features, baseline) {
                Ok(p) if p.len() == scorable.len() => {
                    for (k, p) in scorable.into_iter().zip(p) {
                        out[first + k].model_probability = p.is_finite().then_some(p);
                    }
                }
                Ok(_) => {
                    self.stress = None;
                    self.degrade(Task::Stress, "wrong number of outputs".into());
                }
                Err(e) => {
                    self.stress = None;
                    self.degrade(Task::Stress, e);
                }
            }
        }
    }

    fn take_degradations(&mut self) -> Vec<Degradation> {
        std::mem::take(&mut self.degradations)
    }

    fn model_name(&self) -> String {
        self.stress.as_ref().map(|s| s.name()).unwrap_or_default()
    }
}

impl StressScorer for StressModel {
    fn name(&self) -> String {
        let m = self.metadata();
        format!("{} {}", m.name, m.version)
    }

    fn image_channels(&self) -> Vec<Channel> {
        StressModel::image_channels(self).to_vec()
    }

    fn scores_rr_windows(&self) -> bool {
        StressModel::scores_rr_windows(self)
    }

    fn predict(
        &self,
        images: &[u8],
        features: &[f32],
        baseline: Option<&[f32]>,
    ) -> Result<Vec<f32>, String> {
        StressModel::predict(self, images, features, baseline).map_err(|e| {
            log::debug!("stress model: {e}");
            "the stress model failed to run".to_owned()
        })
    }
}

impl FallbackScorer for HrvFallback {
    fn probability(&self, features: &[f32], baseline: Option<&[f32]>) -> Option<f32> {
        HrvFallback::probability(self, features, baseline)
    }
}

impl BeatTyper for BeatClassifier {
    fn classify(&self, beats: &[f32], rr: &[f32]) -> Result<Vec<u8>, String> {
        let predictions = BeatClassifier::classify(self, beats, rr).map_err(|e| {
            log::debug!("beat model: {e}");
            "the beat-type model failed to run".to_owned()
        })?;
        Ok(predictions
            .iter()
            .map(|p| match p.class {
                BeatClass::N => 0,
                BeatClass::S => 1,
                BeatClass::V => 2,
                BeatClass::F => 3,
                BeatClass::Q => 4,
            })
            .collect())
    }

    fn template_rule(&self) -> TemplateRule {
        BeatClassifier::template_rule(self)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::model_input::beat::{
        BEAT_CHANNELS, BEAT_LEN, BEAT_PRE, beat_inputs, peaks_in_clean_signal,
    };

    /// Records every row it is asked to classify; calls a beat N when its window's R is below
    /// 3.5 mV, V otherwise.
    #[derive(Default)]
    struct Recorder {
        rule: TemplateRule,
        seen: Mutex<(Vec<f32>, Vec<f32>)>,
    }

    fn amplitude_class(row: &[f32]) -> u8 {
        if row[BEAT_PRE] < 3.5 { 0 } else { 2 }
    }

    impl BeatTyper for Recorder {
        fn classify(&self, beats: &[f32], rr: &[f32]) -> Result<Vec<u8>, String> {
            let mut seen = self.seen.lock().map_err(|e| e.to_string())?;
            seen.0.extend_from_slice(beats);
            seen.1.extend_from_slice(rr);
            Ok(beats
                .chunks_exact(BEAT_CHANNELS * BEAT_LEN)
                .map(amplitude_class)
                .collect())
        }

        fn template_rule(&self) -> TemplateRule {
            self.rule
        }
    }

    #[test]
    fn overlapping_windows_classify_each_beat_once_with_session_templates() {
        for rule in [
            TemplateRule::Previous,
            TemplateRule::ClassifiedN { stale: 3 },
        ] {
            overlapping_windows_classify_each_beat_once(rule);
        }
    }

    fn overlapping_windows_classify_each_beat_once(rule: TemplateRule) {
        let peaks: Vec<usize> = (1..60).map(|k| k * 100).collect();
        let mut x = vec![0.0f32; 6100];
        for (k, &p) in peaks.iter().enumerate() {
            x[p] = 1.0 + (k % 5) as f32;
            x[p - BEAT_PRE / 2] = 0.1 * (k % 3) as f32;
        }
        let recorder = Arc::new(Recorder {
            rule,
            ..Recorder::default()
        });
        let mut analyzer = ModelAnalyzer::new(None, None, Some(recorder.clone()), Vec::new());
        let mut out = Vec::new();
        // session-aligned quality, as the pipeline hands it over
        let clean = peaks_in_clean_signal(&x, &peaks);
        for start in (0..x.len()).step_by(1000) {
            let end = (start + 2500).min(x.len());
            let inside = |&(&p, _): &(&usize, &bool)| p >= start && p < end;
            let w = WindowSignal {
                start_index: start as u64,
                start_ms: 0,
                end_ms: 0,
                samples_mv: x[start..end].to_vec(),
                peaks: peaks
                    .iter()
                    .zip(&clean)
                    .filter(inside)
                    .map(|(&p, _)| p - start)
                    .collect(),
                new_from: 0,
                clean: peaks
                    .iter()
                    .zip(&clean)
                    .filter(inside)
                    .map(|(_, &c)| c)
                    .collect(),
                rr_ms: Vec::new(),
            };
            analyzer.analyze(std::slice::from_ref(&w), None, &mut out);
        }
        let mut whole = beat_inputs(&x, &peaks);
        if let Some(mut ring) = rule.ring() {
            let classes = ring
                .classify_in_order(
                    &mut whole,
                    |row, _| Ok::<_, ()>(amplitude_class(row)),
                    |&c| c == 0,
                )
                .unwrap();
            assert!(classes.contains(&0) && classes.contains(&2));
        }
        let seen = recorder.seen.lock().unwrap();
        assert_eq!(seen.1, whole.rr, "{rule:?}");
        assert_eq!(seen.0, whole.beats, "{rule:?}");
    }
}
