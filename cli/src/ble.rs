//! `stressbeat scan` and `stressbeat record`: a live strap over btleplug (the core's `ble`
//! feature; docs/adr/0003). All connection logic is the core's `sensor::session`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use stressbeat_core::formats::{edf, pmd_capture::CaptureWriter};
use stressbeat_core::protocol::pmd;
use stressbeat_core::sensor::{SensorEvent, SessionConfig, ble};

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// How long to scan.
    #[arg(long, default_value_t = 5.0, value_parser = crate::args::positive, allow_negative_numbers = true)]
    seconds: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// Device name (or its prefix, e.g. "Polar H10") or id from `stressbeat scan`.
    #[arg(long)]
    device: String,
    /// Output capture file (Polar capture format); an EDF with the same stem is written next to it.
    #[arg(long)]
    out: PathBuf,
    /// Stop after this many minutes (default: until Ctrl-C).
    #[arg(long, value_parser = crate::args::positive, allow_negative_numbers = true)]
    minutes: Option<f64>,
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

#[derive(Serialize)]
struct Row<'a> {
    name: &'a str,
    id: &'a str,
    rssi: Option<i16>,
    ecg: bool,
    services: &'a [String],
}

pub fn scan(a: &ScanArgs) -> Result<(), String> {
    let devices = runtime()?.block_on(async {
        let adapter = ble::first_adapter().await.map_err(|e| e.to_string())?;
        ble::scan(&adapter, a.seconds)
            .await
            .map_err(|e| e.to_string())
    })?;
    let rows: Vec<Row> = devices
        .iter()
        .map(|d| Row {
            name: d.name.as_deref().unwrap_or("?"),
            id: &d.id,
            rssi: d.rssi,
            ecg: ble::has_pmd(d),
            services: &d.services,
        })
        .collect();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?
        );
    } else if rows.is_empty() {
        println!("no heart-rate devices found in {} s", a.seconds);
    } else {
        println!("{:<28} {:<20} {:>5}  ECG", "name", "id", "rssi");
        for r in &rows {
            let rssi = r.rssi.map_or("-".into(), |v| v.to_string());
            println!(
                "{:<28} {:<20} {:>5}  {}",
                r.name,
                r.id,
                rssi,
                if r.ecg { "yes" } else { "no" }
            );
        }
    }
    Ok(())
}

/// A gap in the strap's stream is filled with zeros in the EDF up to this many samples (35 s at
/// 130 Hz, as the monitor does); longer ones only shorten the EDF's time axis.
const MAX_EDF_GAP_FILL_SAMPLES: u64 = 35 * 130;

pub fn record(a: &RecordArgs) -> Result<(), String> {
    let edf_path = a.out.with_extension("edf");
    for path in [&a.out, &edf_path] {
        if path.exists() {
            return Err(format!(
                "{} already exists: choose another --out (a recording is never overwritten)",
                path.display()
            ));
        }
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&a.out)
        .map_err(|e| format!("cannot create {}: {e}", a.out.display()))?;
    let mut capture = CaptureWriter::new(std::io::BufWriter::new(file))
        .map_err(|e| format!("cannot write {}: {e}", a.out.display()))?;
    let mut ecg: Vec<i32> = Vec::new();
    let mut write_err: Option<String> = None;
    let minutes = a.minutes;
    let session = runtime()?.block_on(async {
        let adapter = ble::first_adapter().await.map_err(|e| e.to_string())?;
        eprintln!("looking for {} …", a.device);
        let p = ble::find(&adapter, &a.device, 20.0)
            .await
            .map_err(|e| e.to_string())?;
        let stop = async move {
            match minutes {
                Some(m) => {
                    tokio::select! {
                        _ = tokio::time::sleep(std::time::Duration::from_secs_f64(m * 60.0)) => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                }
                None => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        };
        ble::run_session(&adapter, p, SessionConfig::default(), stop, |e| match e {
            SensorEvent::Ecg(c) => {
                match pmd::encode_ecg_frame(c.sensor_timestamp_ns, &c.samples_uv) {
                    Ok(frame) => {
                        if let Err(err) = capture.write_record(&frame) {
                            write_err.get_or_insert(err.to_string());
                        }
                    }
                    Err(err) => {
                        write_err.get_or_insert(err.to_string());
                    }
                }
                ecg.extend_from_slice(&c.samples_uv);
            }
            SensorEvent::Gap {
                missing_samples, ..
            } => {
                // a jump in the sensor's clock must not become gigabytes of zeros
                let filled = missing_samples.min(MAX_EDF_GAP_FILL_SAMPLES);
                eprintln!(
                    "gap: {missing_samples} samples missing ({filled} filled with 0 in the EDF)"
                );
                ecg.extend(std::iter::repeat_n(0, filled as usize));
            }
            SensorEvent::Connection(s) => eprintln!("{s:?}"),
            SensorEvent::HeartRate { bpm, .. } => {
                eprint!("\r{bpm} bpm, {} s of ECG   ", ecg.len() / 130)
            }
            _ => {}
        })
        .await
        .map_err(|e| e.to_string())
    });
    if let Err(e) = session {
        if ecg.is_empty() {
            // nothing was recorded: leave no header-only file behind
            drop(capture);
            let _ = std::fs::remove_file(&a.out);
        }
        return Err(e);
    }
    if let Some(e) = write_err {
        return Err(format!("cannot write {}: {e}", a.out.display()));
    }
    capture.flush().map_err(|e| e.to_string())?;
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(&edf_path)
            .map_err(|e| format!("cannot create {}: {e}", edf_path.display()))?,
    );
    edf::write_edf(&mut f, "ECG", "uV", 130, &ecg, ("01.01.00", "00.00.00"))
        .and_then(|_| f.flush())
        .map_err(|e| format!("cannot write {}: {e}", edf_path.display()))?;
    eprintln!("\nwrote {} and {}", a.out.display(), edf_path.display());
    Ok(())
}
