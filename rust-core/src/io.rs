//! File adapter: opens recordings from disk and hands the bytes to the pure parsers in
//! [`crate::formats`]. Every error names the file.

use std::path::{Path, PathBuf};

use crate::{
    error::{Error, ParseError, Result},
    formats::{csv, edf, pmd_capture, rr_log, wfdb},
    model::{BeatClassifier, ModelError, StressModel},
    record::{MAX_HOLES_S, Recording, Signal},
    sensor::{SensorEvent, replay},
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

/// Largest model or metadata file read: the shipped ones are a few KB; a file this big (or a
/// device such as `/dev/zero`) is not a model and would only fill the memory.
pub const MAX_MODEL_FILE_BYTES: u64 = 64 << 20;

/// The bytes of `onnx_path` and of the metadata beside it (same stem, `.json`).
pub fn read_model_files(onnx_path: &Path) -> Result<(Vec<u8>, Vec<u8>)> {
    let onnx = read_model_file(onnx_path)?;
    Ok((onnx, read_model_metadata(onnx_path)?))
}

/// The bytes of the metadata beside `onnx_path` (same stem, `.json`);
/// [`ModelError::MissingMetadata`] when there is none.
pub fn read_model_metadata(onnx_path: &Path) -> Result<Vec<u8>> {
    let json_path = onnx_path.with_extension("json");
    read_model_file(&json_path).map_err(|e| match e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            ModelError::MissingMetadata {
                path: json_path.display().to_string(),
            }
            .into()
        }
        e => e,
    })
}

/// A regular file of at most [`MAX_MODEL_FILE_BYTES`].
fn read_model_file(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let refused = if !meta.is_file() {
        "not a regular file"
    } else if meta.len() > MAX_MODEL_FILE_BYTES {
        "larger than 64 MiB: not a model file"
    } else {
        return read_bytes(path);
    };
    Err(Error::Unsupported {
        file: path.display().to_string(),
        what: refused.into(),
    })
}

impl StressModel {
    /// Load `path` (`.onnx`) and the `.json` beside it.
    pub fn load_from_path(onnx_path: &Path) -> Result<Self> {
        let (onnx, json) = read_model_files(onnx_path)?;
        Ok(Self::load(&onnx, &json)?)
    }
}

impl BeatClassifier {
    /// Load `path` (`.onnx`) and the `.json` beside it.
    pub fn load_from_path(onnx_path: &Path) -> Result<Self> {
        let (onnx, json) = read_model_files(onnx_path)?;
        Ok(Self::load(&onnx, &json)?)
    }
}

/// Load a recording; the format is chosen by extension: `.hea`/`.dat`/`.atr` (or no extension
/// beside a `.hea`) → WFDB, `.edf` → EDF/EDF+, `.csv`/`.tsv`/`.txt` → delimited text; any other
/// file that is a Polar capture (its magic, or `.bin`) → [`read_pmd_capture`].
pub fn load_recording(path: &Path, opts: &LoadOptions) -> Result<Recording> {
    refuse_directory(path)?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if ext.is_none() && !path.exists() && !path.with_extension("hea").is_file() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    // A capture is known by its magic, whatever its name says.
    if file_start(path, pmd_capture::MAGIC.len()).starts_with(pmd_capture::MAGIC) {
        return read_pmd_capture(path);
    }
    match ext.as_deref() {
        Some("hea") => read_wfdb(path),
        Some(e @ ("dat" | "atr")) => {
            let header = path.with_extension("hea");
            if !header.is_file() {
                let name = header.file_name().unwrap_or_default().to_string_lossy();
                return Err(Error::io(
                    path,
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!(
                            "a WFDB .{e} needs its .hea header beside it ({name} not found); \
                             pass the record's .hea"
                        ),
                    ),
                ));
            }
            read_wfdb(&header)
        }
        Some("edf") => read_edf(path),
        Some("csv") | Some("tsv") | Some("txt") => read_csv(path, opts),
        None if path.with_extension("hea").is_file() => read_wfdb(&path.with_extension("hea")),
        _ if replay::is_capture(path, &file_start(path, pmd_capture::MAGIC.len())) => {
            read_pmd_capture(path)
        }
        _ => Err(Error::Unsupported {
            file: path.display().to_string(),
            what: format!(
                "unknown extension {:?} (expected .hea, .edf, .csv or a Polar capture)",
                ext.unwrap_or_default()
            ),
        }),
    }
}

/// What a file holds: an ECG recording, or an RR-interval log (a strap without ECG).
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A recording [`load_recording`] reads.
    Recording(Recording),
    /// An RR-interval log ([`rr_log`]).
    RrLog(Vec<rr_log::RrEntry>),
}

/// [`load_recording`]; a delimited text whose header names an RR column and no ECG column
/// ([`rr_log::is_rr_log`]) is read as an RR log.
pub fn load_input(path: &Path, opts: &LoadOptions) -> Result<Input> {
    refuse_directory(path)?;
    if takes_csv_options(path) {
        let text = read_text(path)?;
        if rr_log::is_rr_log(&text) {
            return match rr_log::parse(&text) {
                Ok(log) => Ok(Input::RrLog(log)),
                Err(rr_log::RrLogError::Parse(p)) => Err(Error::format(path, p)),
                Err(e @ rr_log::RrLogError::NotRrLog) => Err(Error::Unsupported {
                    file: path.display().to_string(),
                    what: e.to_string(),
                }),
            };
        }
    }
    load_recording(path, opts).map(Input::Recording)
}

/// A file as the events a live strap would have sent (phone ms from its start): a Polar capture
/// (by its magic or `.bin`), any recording [`load_recording`] reads, or an RR log (a
/// heart-rate-only strap), a CSV read as `opts` says. See [`replay`]. `channel`: the recording's
/// channel to replay (default: its ECG channel); a capture and an RR log have channel 0 only.
pub fn replay_events(
    path: &Path,
    opts: &LoadOptions,
    channel: Option<usize>,
) -> Result<Vec<(i64, SensorEvent)>> {
    refuse_directory(path)?;
    let bytes = read_bytes(path)?;
    let one_channel = |what: &str| match channel {
        Some(c) if c != 0 => Err(Error::InvalidArgument(format!(
            "channel {c} does not exist ({what} has one channel, 0)"
        ))),
        _ => Ok(()),
    };
    if replay::is_capture(path, &bytes) {
        one_channel("a Polar capture")?;
        return replay::capture_events(path, &bytes);
    }
    match load_input(path, opts)? {
        Input::Recording(rec) => replay::recording_events(&rec, channel),
        Input::RrLog(log) => {
            one_channel("an RR-interval log")?;
            Ok(replay::rr_log_events(&log))
        }
    }
}

/// A directory given where a recording is expected: say so (reading it fails with a vague error).
fn refuse_directory(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a directory, not a recording file",
            ),
        ));
    }
    Ok(())
}

/// Whether the CSV options ([`LoadOptions`]: `--fs`, `--unit`) apply to `path`: a delimited
/// text file, not a Polar capture whatever its name.
pub fn takes_csv_options(path: &Path) -> bool {
    is_text(path) && !file_start(path, pmd_capture::MAGIC.len()).starts_with(pmd_capture::MAGIC)
}

/// Whether `path` is an RR-interval log ([`rr_log::is_rr_log`] on its first line), read as such
/// by [`load_input`]: the CSV options (a sampling rate, a unit) do not apply to it.
pub fn is_rr_log_file(path: &Path) -> bool {
    takes_csv_options(path) && rr_log::is_rr_log(&String::from_utf8_lossy(&file_start(path, 4096)))
}

/// Whether `path` has a delimited-text extension ([`read_csv`]).
fn is_text(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["csv", "tsv", "txt"].contains(&e.to_ascii_lowercase().as_str()))
}

/// Up to the first `n` bytes of a file (none when it cannot be read).
fn file_start(path: &Path, n: usize) -> Vec<u8> {
    use std::io::Read;
    let mut start = Vec::with_capacity(n);
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(n as u64).read_to_end(&mut start);
    }
    start
}

/// Read a Polar capture (`H10 ECG v1.0 binary data` + raw PMD notifications): the ECG frames go
/// through the live session (decoding, timing, duplicates, gaps) into one channel "ECG" in µV,
/// at the rate the strap's timestamps show (≈130 Hz). Missing samples are NaN; a sensor clock
/// jump opens a hole of at most [`replay::MAX_HOLE_S`].
pub fn read_pmd_capture(path: &Path) -> Result<Recording> {
    capture_recording(path, &read_bytes(path)?)
}

fn capture_recording(path: &Path, bytes: &[u8]) -> Result<Recording> {
    let mut samples: Vec<f32> = Vec::new();
    let mut holes = 0usize;
    let (mut frame_samples, mut frame_time_ms) = (0usize, 0.0f64);
    let mut interval_ms = 1000.0 / 130.0;
    for (_, event) in replay::capture_events(path, bytes)? {
        match event {
            SensorEvent::Ecg(c) => {
                samples.extend(c.samples_uv.iter().map(|&v| v as f32));
                if c.sample_interval_ms.is_finite() && c.sample_interval_ms > 0.0 {
                    interval_ms = c.sample_interval_ms;
                    frame_samples += c.samples_uv.len();
                    frame_time_ms += c.sample_interval_ms * c.samples_uv.len() as f64;
                }
            }
            SensorEvent::Gap {
                missing_samples, ..
            } => {
                let most = (MAX_HOLES_S * 1000.0 / interval_ms) as usize;
                let missing = usize::try_from(missing_samples).unwrap_or(usize::MAX);
                holes = holes.saturating_add(missing);
                if holes > most {
                    return Err(Error::format(
                        path,
                        ParseError::in_part(
                            "frame timestamps",
                            format!(
                                "its holes add up to more than {:.0} h (sensor clock jumps?)",
                                MAX_HOLES_S / 3600.0
                            ),
                        ),
                    ));
                }
                samples.extend(std::iter::repeat_n(f32::NAN, missing));
            }
            _ => {}
        }
    }
    let rate = if frame_samples > 0 {
        1000.0 * frame_samples as f64 / frame_time_ms
    } else {
        1000.0 / interval_ms
    };
    Ok(Recording {
        name: record_name(path),
        signals: vec![Signal {
            label: "ECG".into(),
            unit: "uV".into(),
            sampling_rate_hz: rate,
            samples,
        }],
        annotations: Vec::new(),
        annotation_rate_hz: rate,
        ecg_channel_hint: None,
    })
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
        ecg_channel_hint: None,
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
    let csv = csv::parse_channels(&text, &csv_opts).map_err(|e| match e {
        csv::CsvError::Parse(p) => Error::format(path, p),
        csv::CsvError::NeedsSamplingRate => Error::FileOption {
            file: file.clone(),
            what: e.to_string(),
        },
        csv::CsvError::BadOption(what) => Error::FileOption {
            file: file.clone(),
            what,
        },
        csv::CsvError::NotEcg(what) => Error::Unsupported {
            file,
            what: format!("not ECG: {what}"),
        },
    })?;
    Ok(Recording {
        name: record_name(path),
        annotation_rate_hz: csv.signals[csv.ecg].sampling_rate_hz,
        signals: csv.signals,
        annotations: Vec::new(),
        ecg_channel_hint: Some(csv.ecg),
    })
}

/// Write the file `path` with `write`, for exports of health data. A regular file (or a new
/// one) is written to a hidden, unique file beside it, readable by the user only (unix), and
/// renamed over it once complete: a failed write leaves the old file untouched and no partial
/// one. Anything else (a device, a pipe, a link such as `/dev/stdout` or Android's
/// `/proc/self/fd/N`) is written directly. `io_error` turns an I/O failure into `E`.
pub fn write_replacing<T, E>(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::result::Result<T, E>,
    io_error: impl Fn(std::io::Error) -> E,
) -> std::result::Result<T, E> {
    use std::io::Write;
    let direct = path
        .symlink_metadata()
        .is_ok_and(|m| !m.file_type().is_file());
    if direct {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(path)
            .map_err(&io_error)?;
        let mut out = std::io::BufWriter::new(file);
        let t = write(&mut out)?;
        out.flush().map_err(&io_error)?;
        return Ok(t);
    }
    let (file, partial) = create_partial(path).map_err(&io_error)?;
    let written = (|| {
        let mut out = std::io::BufWriter::new(file);
        let t = write(&mut out)?;
        let file = out.into_inner().map_err(|e| io_error(e.into_error()))?;
        file.sync_all().map_err(&io_error)?;
        std::fs::rename(&partial, path).map_err(&io_error)?;
        Ok(t)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// Options to write a file that, when created, is readable and writable by the user only
/// (unix): exports and recordings hold health data.
pub fn private_file() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// A new file `.NAME.<pid>-<n>.partial` beside `path`, private to the user (unix).
pub fn create_partial(path: &Path) -> std::io::Result<(std::fs::File, PathBuf)> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = path
        .file_name()
        .map_or_else(|| "export".into(), |n| n.to_string_lossy().into_owned());
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let partial = path.with_file_name(format!(".{name}.{}-{n}.partial", std::process::id()));
        match private_file().create_new(true).open(&partial) {
            Ok(f) => return Ok((f, partial)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::pmd_capture::CaptureWriter;
    use crate::protocol::pmd::encode_ecg_frame;

    fn write_text(path: &Path, text: &str) -> std::result::Result<(), String> {
        write_replacing(
            path,
            |w| {
                std::io::Write::write_all(w, text.as_bytes()).map_err(|e| e.to_string())?;
                if text.is_empty() {
                    return Err("nothing to write".into());
                }
                Ok(())
            },
            |e| e.to_string(),
        )
    }

    #[test]
    fn write_replacing_replaces_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("export.csv");
        write_text(&out, "first").unwrap();
        write_text(&out, "second").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "second");
        // a failed write leaves the file as it was and nothing beside it
        assert!(write_text(&out, "").is_err());
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            // a link is written through, not replaced by a file
            let link = dir.path().join("link.csv");
            std::os::unix::fs::symlink(&out, &link).unwrap();
            write_text(&link, "through").unwrap();
            assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
            assert_eq!(std::fs::read_to_string(&out).unwrap(), "through");
        }
        // a folder that does not exist: an error naming nothing half-written
        assert!(write_text(&dir.path().join("no/such.csv"), "x").is_err());
    }

    /// A capture of `frames` H10 frames (73 samples at 130 Hz) without the frames in `dropped`,
    /// the sensor clock jumping by `jump_ns` from frame `jump_at` on.
    fn capture(frames: usize, dropped: &[usize], jump_at: usize, jump_ns: u64) -> Vec<u8> {
        let mut w = CaptureWriter::new(Vec::new()).unwrap();
        let t0: u64 = 700_000_000_000_000_000;
        for f in (0..frames).filter(|f| !dropped.contains(f)) {
            let samples: Vec<i32> = (0..73)
                .map(|i| (((f * 73 + i) as f64 * 0.05).sin() * 800.0) as i32)
                .collect();
            let last = ((f + 1) * 73 - 1) as f64 * 1e9 / 130.0;
            let ts = (t0 + last as u64).wrapping_add(if f >= jump_at { jump_ns } else { 0 });
            w.write_record(&encode_ecg_frame(ts, &samples).unwrap())
                .unwrap();
        }
        w.into_inner()
    }

    fn nan_count(r: &Recording) -> usize {
        r.signals[0].samples.iter().filter(|v| v.is_nan()).count()
    }

    #[test]
    fn a_capture_is_read_by_its_magic_whatever_its_name_and_a_missing_file_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let misnamed = dir.path().join("capture.edf");
        std::fs::write(&misnamed, capture(20, &[], usize::MAX, 0)).unwrap();
        let r = load_recording(&misnamed, &LoadOptions::default()).unwrap();
        assert_eq!(r.signals[0].samples.len(), 20 * 73);
        // one channel: `replay --channel 1` is refused, `--channel 0` replays it
        let opts = LoadOptions::default();
        let e = replay_events(&misnamed, &opts, Some(1)).unwrap_err();
        assert!(
            e.to_string().contains("a Polar capture has one channel"),
            "{e}"
        );
        assert!(!replay_events(&misnamed, &opts, Some(0)).unwrap().is_empty());
        let log = dir.path().join("rr.csv");
        std::fs::write(&log, "rr_ms\n800\n810\n790\n").unwrap();
        let e = replay_events(&log, &opts, Some(1)).unwrap_err();
        assert!(
            e.to_string().contains("an RR-interval log has one channel"),
            "{e}"
        );
        let missing = load_recording(&dir.path().join("none"), &LoadOptions::default());
        assert!(
            matches!(&missing, Err(Error::Io { .. }))
                && missing
                    .as_ref()
                    .is_err_and(|e| e.to_string().contains("no such file")),
            "{missing:?}"
        );
    }

    #[test]
    fn a_directory_or_a_dat_without_its_header_says_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let opts = LoadOptions::default();
        let e = load_recording(dir.path(), &opts).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        let e = load_input(dir.path(), &opts).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        let e = replay_events(dir.path(), &opts, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a directory"), "{e}");
        let dat = dir.path().join("only.dat");
        std::fs::write(&dat, [0u8; 64]).unwrap();
        let e = load_recording(&dat, &opts).unwrap_err().to_string();
        assert!(
            e.contains("only.dat") && e.contains("needs its .hea header") && e.contains("only.hea"),
            "{e}"
        );
    }

    #[test]
    fn a_capture_reads_as_one_ecg_channel_with_its_holes_as_nan() {
        let path = Path::new("session.bin");
        let r = capture_recording(path, &capture(200, &[], usize::MAX, 0)).unwrap();
        let s = &r.signals[0];
        assert_eq!((s.label.as_str(), s.unit.as_str()), ("ECG", "uV"));
        assert_eq!((s.samples.len(), nan_count(&r)), (200 * 73, 0));
        assert!(
            (s.sampling_rate_hz - 130.0).abs() < 0.01,
            "{}",
            s.sampling_rate_hz
        );
        assert_eq!(r.name, "session");

        // five lost frames: a hole of their length
        let r =
            capture_recording(path, &capture(200, &[50, 51, 52, 53, 54], usize::MAX, 0)).unwrap();
        assert_eq!(
            (r.signals[0].samples.len(), nan_count(&r)),
            (200 * 73, 5 * 73)
        );
    }

    #[test]
    fn sensor_clock_jumps_open_a_hole_of_at_most_an_hour() {
        let path = Path::new("j.bin");
        let day_ns = 86_400 * 1_000_000_000;
        let r = capture_recording(path, &capture(200, &[], 100, 2 * day_ns)).unwrap();
        let hole = nan_count(&r);
        assert!(hole.abs_diff(3600 * 130) <= 73, "{hole}");
        assert_eq!(r.signals[0].samples.len(), 200 * 73 + hole);
        // back to the H10's power-down epoch (years back): the frames simply continue
        let back = 0u64.wrapping_sub(400 * day_ns);
        let r = capture_recording(path, &capture(200, &[], 100, back)).unwrap();
        assert_eq!((r.signals[0].samples.len(), nan_count(&r)), (200 * 73, 0));
    }

    #[test]
    fn holes_beyond_two_days_are_refused() {
        // a jump of a day at every tenth frame: 60 one-hour holes
        let mut w = CaptureWriter::new(Vec::new()).unwrap();
        for f in 0..600u64 {
            let ts = 700_000_000_000_000_000 + f * 561_538_461 + (f / 10) * 86_400_000_000_000;
            w.write_record(&encode_ecg_frame(ts, &[100; 73]).unwrap())
                .unwrap();
        }
        let err = capture_recording(Path::new("c.bin"), &w.into_inner()).unwrap_err();
        assert!(err.to_string().contains("more than 48 h"), "{err}");
    }

    #[test]
    fn a_damaged_or_empty_capture_is_a_typed_error() {
        let path = Path::new("x.bin");
        assert!(matches!(
            capture_recording(path, b"H10 ECG v1.0 binary"),
            Err(Error::Format { .. })
        ));
        let empty = CaptureWriter::new(Vec::new()).unwrap().into_inner();
        assert!(matches!(
            capture_recording(path, &empty),
            Err(Error::InsufficientSignal(_))
        ));
    }
}
