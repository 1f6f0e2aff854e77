//! The models a monitor joins, loaded once and shared by its sessions: the stress model with its
//! HRV fallback, and the beat classifier. A model that cannot be loaded is reported as a
//! degradation when each session starts, and the monitor goes on without it (HRV fallback,
//! unclassified beats).

use std::path::Path;
use std::sync::Arc;

use super::analyzer::{BeatTyper, FallbackScorer, ModelAnalyzer, StressScorer};
use super::{Degradation, Parts, WindowAnalyzer};
use crate::model::{BeatClassifier, HrvFallback, StressModel, Task};

/// What a session is told when a model for `task` could not be loaded (no path, no file
/// content), and what the monitor does instead.
fn unavailable_reason(task: Task) -> &'static str {
    if task == Task::Stress {
        "missing, corrupt or incompatible model file; using the HRV fallback"
    } else {
        "missing, corrupt or incompatible model file; beats are not typed (the rhythm gate reads \
         the RR intervals only)"
    }
}

/// A model that could not be loaded.
#[derive(Debug)]
pub struct ModelLoadFailure {
    /// Which model.
    pub task: Task,
    /// Why.
    pub error: crate::Error,
}

/// The loaded models; see the module documentation.
pub struct ModelParts {
    stress: Option<Arc<dyn StressScorer>>,
    fallback: Option<Arc<dyn FallbackScorer>>,
    beats: Option<Arc<dyn BeatTyper>>,
    problems: Vec<Degradation>,
}

impl std::fmt::Debug for ModelParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelParts")
            .field("stress_model", &self.stress.is_some())
            .field("fallback", &self.fallback.is_some())
            .field("beat_model", &self.beats.is_some())
            .field("problems", &self.problems)
            .finish()
    }
}

impl ModelParts {
    /// The models built into the library.
    pub fn embedded() -> (Self, Vec<ModelLoadFailure>) {
        Self::load(None, None)
    }

    /// Load the stress and beat models from files (`None`: the ones built into the library).
    /// Returns the parts (without what failed) and the failures. When the stress model fails,
    /// the HRV fallback comes from its metadata file if that is readable, else the built-in one.
    pub fn load(
        stress_path: Option<&Path>,
        beat_path: Option<&Path>,
    ) -> (Self, Vec<ModelLoadFailure>) {
        let mut failures = Vec::new();
        let stress = match stress_path {
            Some(p) => StressModel::load_from_path(p),
            None => StressModel::embedded().cloned().map_err(crate::Error::from),
        };
        let (stress, fallback): (Option<Arc<dyn StressScorer>>, Option<HrvFallback>) = match stress
        {
            Ok(m) => {
                let fallback = m.fallback().clone();
                (Some(Arc::new(m)), Some(fallback))
            }
            Err(error) => {
                failures.push(ModelLoadFailure {
                    task: Task::Stress,
                    error,
                });
                let own = stress_path
                    .and_then(|p| crate::io::read_model_metadata(p).ok())
                    .and_then(|json| HrvFallback::from_json(&json).ok());
                (None, own.or_else(|| HrvFallback::embedded().ok()))
            }
        };
        let beats = match beat_path {
            Some(p) => BeatClassifier::load_from_path(p),
            None => BeatClassifier::embedded()
                .cloned()
                .map_err(crate::Error::from),
        };
        let beats: Option<Arc<dyn BeatTyper>> = match beats {
            Ok(b) => Some(Arc::new(b)),
            Err(error) => {
                failures.push(ModelLoadFailure {
                    task: Task::BeatType,
                    error,
                });
                None
            }
        };
        let problems = failures
            .iter()
            .map(|f| {
                log::warn!("monitor: {} model unavailable", f.task.as_str());
                Degradation::ModelUnavailable {
                    task: f.task,
                    reason: unavailable_reason(f.task).into(),
                }
            })
            .collect();
        let parts = Self {
            stress,
            fallback: fallback.map(|f| Arc::new(f) as Arc<dyn FallbackScorer>),
            beats,
            problems,
        };
        (parts, failures)
    }
}

impl Parts for ModelParts {
    fn analyzer(&self) -> Box<dyn WindowAnalyzer> {
        Box::new(ModelAnalyzer::new(
            self.stress.clone(),
            self.fallback.clone(),
            self.beats.clone(),
            self.problems.clone(),
        ))
    }
}
