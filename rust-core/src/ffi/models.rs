//! Loading the models for a [`super::monitor::StressMonitor`]: what cannot be loaded is either
//! an error (strict) or a reported degradation (the HRV fallback takes over).

use std::sync::Arc;

use super::StressBeatError;
use crate::monitor::analyzer::{BeatTyper, FallbackScorer, ModelAnalyzer, StressScorer};
use crate::monitor::{Degradation, Parts, WindowAnalyzer};

/// The models, loaded once per monitor and shared by its sessions.
pub(crate) struct LoadedParts {
    stress: Option<Arc<dyn StressScorer>>,
    fallback: Option<Arc<dyn FallbackScorer>>,
    beats: Option<Arc<dyn BeatTyper>>,
    problems: Vec<Degradation>,
}

impl Parts for LoadedParts {
    fn analyzer(&self) -> Box<dyn WindowAnalyzer> {
        Box::new(ModelAnalyzer::new(
            self.stress.clone(),
            self.fallback.clone(),
            self.beats.clone(),
            self.problems.clone(),
        ))
    }
}

/// Load the stress and beat models (`None`: the built-in ones).
pub(crate) fn load_parts(
    stress_path: Option<&str>,
    beat_path: Option<&str>,
    strict: bool,
) -> Result<LoadedParts, StressBeatError> {
    let mut problems = Vec::new();
    for (task, path) in [("stress", stress_path), ("beat_type", beat_path)] {
        if path.is_some() {
            let reason = "model files are not supported by this build".to_owned();
            if strict {
                return Err(StressBeatError::Model {
                    message: format!("{task} model: {reason}"),
                });
            }
            log::warn!("monitor: {task} model unavailable: {reason}");
            problems.push(Degradation::ModelUnavailable {
                task: task.into(),
                reason,
            });
        }
    }
    Ok(LoadedParts {
        stress: None,
        fallback: Some(Arc::new(crate::monitor::interim::CrudeFallback)),
        beats: None,
        problems,
    })
}
