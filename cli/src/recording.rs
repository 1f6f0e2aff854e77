//! What `stressbeat record` writes from a strap's events, apart from the BLE link (so that it is
//! tested on the simulated strap): the Polar capture of the ECG frames, an EDF of the ECG, and
//! an RR log of the strap's Heart Rate Service intervals (`formats::rr_log`), the one output a
//! strap without ECG (or one that refused the ECG stream) gives. Nothing is ever overwritten; a
//! file left without data is removed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use stressbeat_core::formats::{edf, pmd_capture::CaptureWriter, rr_log};
use stressbeat_core::history::GAP_FILL_UV;
use stressbeat_core::protocol::pmd;
use stressbeat_core::sensor::SensorEvent;

/// A gap in the strap's stream is filled with zeros in the EDF up to this many samples (35 s at
/// 130 Hz, as the monitor does); longer ones only shorten the EDF's time axis.
const MAX_EDF_GAP_FILL_SAMPLES: u64 = 35 * 130;

/// The files of one recording, written as events arrive.
pub struct Recording {
    capture_path: PathBuf,
    edf_path: PathBuf,
    rr_path: PathBuf,
    capture: CaptureWriter<BufWriter<File>>,
    rr: BufWriter<File>,
    ecg: Vec<i32>,
    /// Stretches of `ecg` filled for gaps: (first sample, samples).
    filled: Vec<(usize, usize)>,
    rr_intervals: usize,
    /// Unix ms minus the session clock, set at the first heart-rate notification.
    unix_offset_ms: Option<i64>,
    write_err: Option<String>,
}

/// What a finished recording wrote.
#[derive(Debug)]
pub struct Written {
    /// The capture and the EDF, when the strap sent ECG.
    pub ecg: Option<(PathBuf, PathBuf)>,
    /// The RR log, when it sent RR intervals.
    pub rr: Option<PathBuf>,
    /// ECG samples and RR intervals recorded.
    pub ecg_samples: usize,
    pub rr_intervals: usize,
}

fn create_new(path: &Path) -> Result<File, String> {
    stressbeat_core::io::private_file()
        .create_new(true)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))
}

impl Recording {
    /// Create `out` (the capture), and next to it `.edf` and `.rr.csv` paths; none may exist.
    pub fn create(out: &Path) -> Result<Self, String> {
        let edf_path = out.with_extension("edf");
        let rr_path = out.with_extension("rr.csv");
        for path in [out, &edf_path, &rr_path] {
            if path.exists() {
                return Err(format!(
                    "{} already exists: choose another --out (a recording is never overwritten)",
                    path.display()
                ));
            }
        }
        let capture = CaptureWriter::new(BufWriter::new(create_new(out)?))
            .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        let rr_file = create_new(&rr_path).inspect_err(|_| {
            let _ = std::fs::remove_file(out);
        })?;
        let mut rr = BufWriter::new(rr_file);
        if let Err(e) = writeln!(rr, "{}", rr_log::HEADER) {
            return Err(format!("cannot write {}: {e}", rr_path.display()));
        }
        Ok(Self {
            capture_path: out.to_path_buf(),
            edf_path,
            rr_path,
            capture,
            rr,
            ecg: Vec::new(),
            filled: Vec::new(),
            rr_intervals: 0,
            unix_offset_ms: None,
            write_err: None,
        })
    }

    /// Seconds of ECG so far (at 130 Hz).
    pub fn ecg_seconds(&self) -> usize {
        self.ecg.len() / 130
    }

    /// Record one event (the first write error is kept for [`Self::finish`]).
    pub fn on_event(&mut self, e: &SensorEvent) {
        let result = match e {
            SensorEvent::Ecg(c) => {
                self.ecg.extend_from_slice(&c.samples_uv);
                pmd::encode_ecg_frame(c.sensor_timestamp_ns, &c.samples_uv)
                    .map_err(|e| e.to_string())
                    .and_then(|frame| {
                        self.capture
                            .write_record(&frame)
                            .map_err(|e| format!("{}: {e}", self.capture_path.display()))
                    })
            }
            SensorEvent::Gap {
                missing_samples, ..
            } => {
                // a jump in the sensor's clock must not become gigabytes of zeros
                let filled = (*missing_samples).min(MAX_EDF_GAP_FILL_SAMPLES);
                eprintln!(
                    "gap: {missing_samples} samples missing ({filled} filled with {GAP_FILL_UV} \
                     in the EDF)"
                );
                self.filled.push((self.ecg.len(), filled as usize));
                self.ecg
                    .extend(std::iter::repeat_n(GAP_FILL_UV, filled as usize));
                Ok(())
            }
            SensorEvent::HeartRate {
                at_ms,
                bpm,
                rr_ms,
                contact,
            } if *contact != Some(false) && !rr_ms.is_empty() => {
                let offset = *self.unix_offset_ms.get_or_insert_with(|| {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as i64);
                    now - at_ms
                });
                self.rr_intervals += rr_ms.len();
                rr_log::write(&mut self.rr, (at_ms + offset) as f64 / 1000.0, rr_ms, *bpm)
                    .map_err(|e| format!("{}: {e}", self.rr_path.display()))
            }
            SensorEvent::EcgRefused { status, .. } => {
                eprintln!(
                    "\nthe strap refused the ECG stream (status {status}; another app may hold it): \
                     recording heart rate and RR intervals, asking again every minute"
                );
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.write_err.get_or_insert(e);
        }
    }

    /// Flush and close: the EDF is written when there was ECG; a file without data is removed.
    pub fn finish(mut self) -> Result<Written, String> {
        if let Some(e) = self.write_err.take() {
            return Err(format!("cannot write {e}"));
        }
        self.capture
            .flush()
            .map_err(|e| format!("cannot write {}: {e}", self.capture_path.display()))?;
        self.rr
            .flush()
            .map_err(|e| format!("cannot write {}: {e}", self.rr_path.display()))?;
        let ecg = if self.ecg.is_empty() {
            let _ = std::fs::remove_file(&self.capture_path);
            None
        } else {
            let mut f = BufWriter::new(create_new(&self.edf_path)?);
            // annotated as an export's gaps, so that StressBeat reads them back as missing
            let text = format!("{} (filled with {GAP_FILL_UV} uV)", edf::NO_ECG_ANNOTATION);
            let notes: Vec<edf::EdfAnnotation<'_>> = self
                .filled
                .iter()
                .map(|&(first, n)| edf::EdfAnnotation {
                    onset_s: first as f64 / 130.0,
                    duration_s: Some(n as f64 / 130.0),
                    text: &text,
                })
                .collect();
            let signal = edf::EdfSignal {
                label: "ECG",
                unit: "uV",
                sampling_rate_hz: 130,
            };
            // no wall-clock start in the file (the capture holds the strap's own times)
            let start = edf::EdfStart {
                year: 2000,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0,
            };
            edf::write_edf_plus(&mut f, &signal, &self.ecg, &start, 0.0, &notes)
                .and_then(|_| f.flush())
                .map_err(|e| format!("cannot write {}: {e}", self.edf_path.display()))?;
            Some((self.capture_path.clone(), self.edf_path.clone()))
        };
        let rr = if self.rr_intervals == 0 {
            let _ = std::fs::remove_file(&self.rr_path);
            None
        } else {
            Some(self.rr_path.clone())
        };
        Ok(Written {
            ecg,
            rr,
            ecg_samples: self.ecg.len(),
            rr_intervals: self.rr_intervals,
        })
    }
}

impl Written {
    /// The files kept (none when nothing was recorded).
    pub fn files(&self) -> Vec<&Path> {
        let mut files: Vec<&Path> = Vec::new();
        if let Some((capture, edf)) = &self.ecg {
            files.extend([capture.as_path(), edf.as_path()]);
        }
        files.extend(self.rr.as_deref());
        files
    }
}

/// How `record` ends, from how the strap session ended (`session`) and what
/// [`Recording::finish`] wrote: the line to print on success, else the error. Nothing recorded is
/// an error ("no data recorded: …"); a session that failed after recording names the files kept.
pub fn record_outcome(
    session: Result<(), String>,
    written: Result<Written, String>,
) -> Result<String, String> {
    let w = written.map_err(|e| match &session {
        Err(s) => format!("{s}; {e}"),
        Ok(()) => e,
    })?;
    let files = w.files();
    let kept = || {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        format!(
            "{} ({} ECG samples, {} RR intervals)",
            names.join(", "),
            w.ecg_samples,
            w.rr_intervals
        )
    };
    match session {
        Err(e) if files.is_empty() => Err(format!("no data recorded: {e}")),
        Err(e) => Err(format!("{e}; kept what was recorded: {}", kept())),
        Ok(()) if files.is_empty() => {
            Err("no data recorded: the strap sent neither ECG nor RR intervals".into())
        }
        Ok(()) => Ok(format!("wrote {}", kept())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use stressbeat_core::io::{Input, LoadOptions, load_input, load_recording};
    use stressbeat_core::monitor::SimulatorSpec;
    use stressbeat_core::monitor::sources::simulator_source;
    use stressbeat_core::sensor::SensorSource;
    use stressbeat_core::sim::faults::FaultConfig;

    /// A simulated strap's session into a recording, as `record` does with a real one.
    fn record(spec: &SimulatorSpec, out: &Path) -> Written {
        let mut rec = Recording::create(out).unwrap();
        let mut source = simulator_source(spec);
        let mut events = Vec::new();
        let mut now = 0;
        while source.poll(now, &mut events) {
            for e in events.drain(..) {
                rec.on_event(&e);
            }
            now += 250;
        }
        rec.finish().unwrap()
    }

    fn spec(heart_rate_only: bool, faults: &str) -> SimulatorSpec {
        SimulatorSpec {
            minutes: 3.0,
            seed: 5,
            stress: Vec::new(),
            faults: FaultConfig::parse(faults).unwrap(),
            noisy: false,
            heart_rate_only,
        }
    }

    #[test]
    fn an_h10_gives_a_capture_an_edf_and_an_rr_log_that_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("s.bin");
        let w = record(&spec(false, ""), &out);
        let (capture, edf) = w.ecg.unwrap();
        assert!(w.ecg_samples > 170 * 130, "{} samples", w.ecg_samples);
        for path in [&capture, &edf] {
            let rec = load_recording(path, &LoadOptions::default()).unwrap();
            let s = &rec.signals[rec.default_ecg_channel().unwrap()];
            assert!(s.samples.len() >= 170 * 130, "{}", path.display());
        }
        let Input::RrLog(log) = load_input(&w.rr.unwrap(), &LoadOptions::default()).unwrap() else {
            panic!("not an RR log")
        };
        assert_eq!(log.len(), w.rr_intervals);
        assert!(log.len() > 150, "{} intervals", log.len());
        assert!(Recording::create(&out).is_err(), "never overwritten");
    }

    /// The EDF's gap fill is annotated, so StressBeat reads it back as missing signal (a flat
    /// line would be read as missed beats).
    #[test]
    fn gaps_in_the_edf_read_back_as_missing() {
        let dir = tempfile::tempdir().unwrap();
        let w = record(&spec(false, "disconnect=1m/10s"), &dir.path().join("g.bin"));
        let (_, edf) = w.ecg.unwrap();
        let rec = load_recording(&edf, &LoadOptions::default()).unwrap();
        let samples = &rec.signals[0].samples;
        let missing = samples.iter().filter(|v| v.is_nan()).count();
        // two 10 s disconnections, each a gap of about 10-13 s after reconnecting
        assert!(
            (2 * 10 * 130..=2 * 15 * 130).contains(&missing),
            "{missing} missing"
        );
        assert!(samples.iter().filter(|v| v.is_finite()).count() > 150 * 130);
    }

    #[test]
    fn nothing_recorded_is_an_error_that_claims_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("rec.bin");
        let no_adapter = || Err("no Bluetooth adapter found".to_string());
        // the session failed before any event (no adapter): no file kept, none claimed
        let rec = Recording::create(&out).unwrap();
        let e = record_outcome(no_adapter(), rec.finish()).unwrap_err();
        assert_eq!(e, "no data recorded: no Bluetooth adapter found");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "files left"
        );
        // a session that ended without data
        let rec = Recording::create(&out).unwrap();
        let e = record_outcome(Ok(()), rec.finish()).unwrap_err();
        assert!(e.starts_with("no data recorded: "), "{e}");
        // a session that failed after recording keeps and names its files
        let w = record(&spec(true, ""), &out);
        let rr = w.rr.clone().unwrap();
        let e = record_outcome(no_adapter(), Ok(w)).unwrap_err();
        assert!(e.contains("kept what was recorded") && e.contains(&rr.display().to_string()));
        assert!(rr.exists());
    }

    #[test]
    fn a_strap_without_ecg_gives_only_its_rr_log() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("hr.bin");
        let w = record(&spec(true, ""), &out);
        assert!(w.ecg.is_none() && w.ecg_samples == 0);
        assert!(!out.exists(), "no empty capture left");
        assert!(load_input(&w.rr.unwrap(), &LoadOptions::default()).is_ok());
        assert!(w.rr_intervals > 150, "{}", w.rr_intervals);
    }

    #[test]
    fn a_refused_ecg_stream_keeps_the_rr_log_going() {
        let dir = tempfile::tempdir().unwrap();
        // refused from 1:00 to 1:50 and from 2:00 on; asked again about every minute
        let w = record(&spec(false, "ecgrefused=1m/50s"), &dir.path().join("r.bin"));
        // ECG for about the first minute only, RR intervals all along
        assert!(
            (55 * 130..80 * 130).contains(&w.ecg_samples),
            "{} samples",
            w.ecg_samples
        );
        assert!(w.rr_intervals > 150, "{}", w.rr_intervals);
    }
}
