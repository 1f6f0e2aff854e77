//! Loading the models for a [`super::monitor::StressMonitor`]: what cannot be loaded is either
//! an error (strict) or a reported degradation (the HRV fallback and unclassified beats take
//! over).

use std::path::Path;
use std::sync::Arc;

use super::StressBeatError;
use crate::model::{BeatClassifier, HrvFallback, StressModel};
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

/// A model that could not be loaded: an error when `strict`, else noted.
fn unavailable(
    task: &str,
    err: crate::Error,
    strict: bool,
    problems: &mut Vec<Degradation>,
) -> Result<(), StressBeatError> {
    log::warn!("monitor: {task} model unavailable");
    log::debug!("monitor: {task} model: {err}");
    let public: StressBeatError = err.into();
    if strict {
        return Err(match public {
            e @ (StressBeatError::FileNotFound { .. } | StressBeatError::CannotReadFile { .. }) => {
                StressBeatError::Model {
                    message: format!("{task} model: {e}"),
                }
            }
            StressBeatError::Model { message } => StressBeatError::Model {
                message: format!("{task} model: {message}"),
            },
            other => other,
        });
    }
    problems.push(Degradation::ModelUnavailable {
        task: task.into(),
        reason: "missing, corrupt or incompatible model file; using the fallback".into(),
    });
    Ok(())
}

/// Load the stress and beat models (`None`: the ones built into the library).
pub(crate) fn load_parts(
    stress_path: Option<&str>,
    beat_path: Option<&str>,
    strict: bool,
) -> Result<LoadedParts, StressBeatError> {
    let mut problems = Vec::new();
    let stress = match stress_path {
        Some(p) => StressModel::load_from_path(Path::new(p)),
        None => StressModel::embedded().cloned().map_err(crate::Error::from),
    };
    let (stress, fallback): (Option<Arc<dyn StressScorer>>, Option<HrvFallback>) = match stress {
        Ok(m) => {
            let fallback = m.fallback().clone();
            (Some(Arc::new(m)), Some(fallback))
        }
        Err(e) => {
            unavailable("stress", e, strict, &mut problems)?;
            // The fallback from the model's own metadata when only the ONNX is bad, else the
            // built-in one.
            let own = stress_path
                .and_then(|p| std::fs::read(Path::new(p).with_extension("json")).ok())
                .and_then(|json| HrvFallback::from_json(&json).ok());
            (None, own.or_else(|| HrvFallback::embedded().ok()))
        }
    };
    let beats = match beat_path {
        Some(p) => BeatClassifier::load_from_path(Path::new(p)),
        None => BeatClassifier::embedded()
            .cloned()
            .map_err(crate::Error::from),
    };
    let beats: Option<Arc<dyn BeatTyper>> = match beats {
        Ok(b) => Some(Arc::new(b)),
        Err(e) => {
            unavailable("beat_type", e, strict, &mut problems)?;
            None
        }
    };
    Ok(LoadedParts {
        stress,
        fallback: fallback.map(|f| Arc::new(f) as Arc<dyn FallbackScorer>),
        beats,
        problems,
    })
}
