//! Pure parsers of recording formats: bytes or text in, typed values or [`crate::ParseError`] out.
//! No file access here; [`crate::io`] opens the files.

pub mod csv;
pub mod edf;
pub mod pmd_capture;
pub mod rr_log;
pub mod wfdb;
