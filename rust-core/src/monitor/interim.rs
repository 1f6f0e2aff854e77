//! An interim HRV fallback used until the models' own `hrv_fallback` is joined: a crude
//! logistic of heart rate and RMSSD. Test fake only.

use super::analyzer::FallbackScorer;
use crate::model_input::stress::HRV_FEATURE_NAMES;

/// `p = σ((HR − 75)/8 − ln(RMSSD/40))` on raw features (no baseline).
#[derive(Debug, Default, Clone, Copy)]
pub struct CrudeFallback;

impl FallbackScorer for CrudeFallback {
    fn probability(&self, features: &[f32], _baseline: Option<&[f32]>) -> Option<f32> {
        let at = |name: &str| {
            HRV_FEATURE_NAMES
                .iter()
                .position(|n| *n == name)
                .and_then(|i| features.get(i).copied())
                .filter(|v| v.is_finite())
        };
        let (hr, rmssd) = (at("hr_bpm")?, at("rmssd_ms")?);
        let z = (hr - 75.0) / 8.0 - (rmssd.max(1.0) / 40.0).ln();
        Some(1.0 / (1.0 + (-z).exp()))
    }
}
