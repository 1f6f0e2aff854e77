//! File adapter: opens recordings from disk and hands the bytes to the pure parsers in
//! [`crate::formats`]. Every error names the file.

use std::path::{Path, PathBuf};

use crate::{
    error::{Error, ParseError, Result},
    formats::{csv, edf, wfdb},
    record::{Recording, Signal},
};

/// Options for formats that do not describe themselves (CSV).
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Sampling rate of a CSV file (`--fs`); without it the rate is estimated from a time
    /// column, and a file without one is an [`Error::InvalidArgument`].
    pub csv_sampling_rate_hz: Option<f64>,
    /// Unit of the CSV samples (`--unit`, "mV" or "uV"); overrides a unit in the column name.
    /// Default: the unit the file states, else inferred from the amplitude (µV or mV).
    pub csv_unit: Option<String>,
}

fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

fn read_text(path: &Path) -> Result<String> {
    String::from_utf8(read_bytes(path)?).map_err(|e| {
        let at = e.utf8_error().valid_up_to() as u64;
        Error::format(path, ParseError::at_byte(at, "not UTF-8 text"))
    })
}

/// The record name of a file: its stem.
fn record_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Load a recording; the format is chosen by extension: `.hea`/`.dat`/`.atr` (or no extension
/// beside a `.hea`) → WFDB, `.edf` → EDF/EDF+, `.csv`/`.tsv`/`.txt` → delimited text.
pub fn load_recording(path: &Path, opts: &LoadOptions) -> Result<Recording> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("hea") => read_wfdb(path),
        Some("dat") | Some("atr") => read_wfdb(&path.with_extension("hea")),
        Some("edf") => read_edf(path),
        Some("csv") | Some("tsv") | Some("txt") => read_csv(path, opts),
        None if path.with_extension("hea").is_file() => read_wfdb(&path.with_extension("hea")),
        _ => Err(Error::Unsupported {
            file: path.display().to_string(),
            what: format!(
                "unknown extension {:?} (expected .hea, .edf or .csv)",
                ext.unwrap_or_default()
            ),
        }),
    }
}

/// Read a WFDB record from its `.hea` file, with its `.atr` annotations when present.
pub fn read_wfdb(header_path: &Path) -> Result<Recording> {
    let text = read_text(header_path)?;
    let header = wfdb::parse_header(&text).map_err(|e| Error::format(header_path, e))?;
    let dir = header_path.parent().unwrap_or(Path::new("."));

    let mut signals: Vec<Option<Signal>> = vec![None; header.signals.len()];
    for file in header.signal_files() {
        let data_path = resolve_signal_file(dir, file);
        let bytes = read_bytes(&data_path)?;
        for (i, signal) in wfdb::read_signal_file(&header, file, &bytes)
            .map_err(|e| Error::format(&data_path, e))?
        {
            if let Some(slot) = signals.get_mut(i) {
                *slot = Some(signal);
            }
        }
    }
    let atr = header_path.with_extension("atr");
    let annotations = if atr.is_file() {
        wfdb::parse_annotations(&read_bytes(&atr)?).map_err(|e| Error::format(&atr, e))?
    } else {
        Vec::new()
    };
    Ok(Recording {
        name: header.record_name,
        signals: signals.into_iter().flatten().collect(),
        annotations,
        annotation_rate_hz: header.frame_rate_hz,
    })
}

fn resolve_signal_file(dir: &Path, file: &str) -> PathBuf {
    // WFDB file names are relative to the header's directory; never let them escape it.
    let name = Path::new(file)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(file));
    dir.join(name)
}

/// Read an EDF or EDF+C file. EDF+D (discontinuous) is reported as unsupported.
pub fn read_edf(path: &Path) -> Result<Recording> {
    let bytes = read_bytes(path)?;
    let header = edf::parse_header(&bytes).map_err(|e| Error::format(path, e))?;
    if header.kind == edf::Kind::EdfPlusDiscontinuous {
        return Err(Error::Unsupported {
            file: path.display().to_string(),
            what: "EDF+D (discontinuous) recordings; convert to EDF+C or split at the gaps".into(),
        });
    }
    let mut rec = edf::parse(&bytes).map_err(|e| Error::format(path, e))?;
    rec.name = record_name(path);
    Ok(rec)
}

/// Read a delimited text file (see [`csv`] for the layout, and for how the rate is estimated).
pub fn read_csv(path: &Path, opts: &LoadOptions) -> Result<Recording> {
    let text = read_text(path)?;
    let csv_opts = csv::CsvOptions {
        sampling_rate_hz: opts.csv_sampling_rate_hz,
        unit: opts.csv_unit.as_deref(),
    };
    let file = path.display().to_string();
    let signal = csv::parse(&text, &csv_opts).map_err(|e| match e {
        csv::CsvError::Parse(p) => Error::format(path, p),
        csv::CsvError::NeedsSamplingRate => Error::InvalidArgument(format!("{file}: {e}")),
        csv::CsvError::BadOption(what) => Error::InvalidArgument(format!("{file}: {what}")),
        csv::CsvError::NotEcg(what) => Error::Unsupported {
            file,
            what: format!("not ECG: {what}"),
        },
    })?;
    Ok(Recording {
        name: record_name(path),
        annotation_rate_hz: signal.sampling_rate_hz,
        signals: vec![signal],
        annotations: Vec::new(),
    })
}
