//! Streaming signal processing: filters, R-peak detection, signal quality, beat segmentation.
//!
//! Everything here is pure (no I/O) and streaming: constructors validate and allocate,
//! `push` per sample never allocates.

pub mod beats;
pub mod filter;
pub mod quality;
pub mod rpeak;

pub use filter::{EcgFilter, EcgFilterConfig, EcgFilterDesign};
pub use quality::{
    QualityConfig, QualityIssue, QualityReport, SignalQuality, WindowQuality, assess_quality,
};
pub use rpeak::{DetectorConfig, DetectorState, Peak, RPeakDetector, detect_peaks};
