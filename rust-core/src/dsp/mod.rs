//! Streaming signal processing: filters, R-peak detection, signal quality, beat segmentation.
pub mod beats;
