//! Loading the models for a [`super::monitor::StressMonitor`]: what cannot be loaded is either
//! an error (strict) or a reported degradation (the HRV fallback and unclassified beats take
//! over).

use std::path::Path;

use super::StressBeatError;
use crate::monitor::ModelParts;

/// Load the stress and beat models (`None`: the ones built into the library); with `strict`,
/// the first model that cannot be loaded is the error.
pub(crate) fn load_parts(
    stress_path: Option<&str>,
    beat_path: Option<&str>,
    strict: bool,
) -> Result<ModelParts, StressBeatError> {
    let (parts, failures) = ModelParts::load(stress_path.map(Path::new), beat_path.map(Path::new));
    match failures.into_iter().next() {
        Some(failure) if strict => {
            let task = failure.task.as_str();
            Err(match StressBeatError::from(failure.error) {
                e @ (StressBeatError::FileNotFound { .. }
                | StressBeatError::CannotReadFile { .. }) => StressBeatError::Model {
                    message: format!("{task} model: {e}"),
                },
                StressBeatError::Model { message } => StressBeatError::Model {
                    message: format!("{task} model: {message}"),
                },
                other => other,
            })
        }
        _ => Ok(parts),
    }
}
