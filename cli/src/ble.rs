//! `stressbeat scan` and `stressbeat record`: a live strap over btleplug (the core's `ble`
//! feature; docs/adr/0003). All connection logic is the core's `sensor::session`.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde::Serialize;
use stressbeat_core::sensor::{SensorEvent, SessionConfig, ble};

use crate::recording::{Recording, record_outcome};

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
    /// Output capture file (Polar capture format) of the ECG; next to it, an EDF of the ECG and
    /// an RR log (`.rr.csv`, the strap's heart-rate intervals: the one output of a strap without
    /// ECG). Nothing is overwritten.
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

pub fn record(a: &RecordArgs) -> Result<(), String> {
    let mut rec = Recording::create(&a.out)?;
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
        ble::run_session(
            &adapter,
            p,
            SessionConfig::default(),
            Instant::now(),
            stop,
            |e| {
                rec.on_event(&e);
                match e {
                    SensorEvent::Connection(s) => eprintln!("{s:?}"),
                    SensorEvent::HeartRate { bpm, .. } => {
                        eprint!("\r{bpm} bpm, {} s of ECG   ", rec.ecg_seconds())
                    }
                    _ => {}
                }
            },
        )
        .await
        .map_err(|e| e.to_string())
    });
    let line = record_outcome(session, rec.finish())?;
    eprintln!("\n{line}");
    Ok(())
}
