//! StressBeat core.
//!
//! Layout (see `docs/ARCHITECTURE.md`):
//! - pure logic, no I/O: [`formats`] (byte parsers), [`protocol`] (BLE values), [`dsp`] (filters, R-peaks, quality, beats),
//!   [`hrv`], [`eval`] (detector scoring), [`analysis`] (the recording pipeline), [`imaging`] (model
//!   images), [`model_input`], [`engine`] (stress score, baseline, alerts);
//! - models: [`model`] (the stress and beat-type models through tract, embedded);
//! - adapters at the edge: [`io`] (files), [`history`] (the SQLite history);
//! - the streaming [`monitor`] (one worker thread) joining sources, models, engine and history;
//! - one thin FFI layer: [`ffi`] (uniffi proc-macros).

pub mod analysis;
pub mod dsp;
pub mod engine;
pub mod error;
pub mod eval;
pub mod ffi;
pub mod formats;
pub mod history;
pub mod hrv;
pub mod imaging;
pub mod io;
pub mod model;
pub mod model_input;
pub mod monitor;
pub mod protocol;
pub mod record;
pub mod sensor;
pub mod sim;
pub mod text;

pub use error::{Error, ParseError, Result, StorageErrorKind};

uniffi::setup_scaffolding!();
