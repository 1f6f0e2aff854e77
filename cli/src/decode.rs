//! `stressbeat decode`: one BLE value given as hex → its fields (`../shared/docs/protocols.md`).

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use stressbeat_core::protocol::{
    hrs::HeartRateMeasurement,
    pmd::{
        self, ControlPointMessage, ControlResponse, FrameContext, FrameData, PmdFrame, Settings,
    },
    timing::PMD_EPOCH_UNIX_S,
};

#[derive(Subcommand, Debug)]
pub enum DecodeCommand {
    /// A Heart Rate Measurement (0x2A37) value, e.g. "10 3C 37 04 07 03".
    Hrm(HexArgs),
    /// A Polar PMD data frame, or a control-point value (reply `F0 …`, features `0F …`, stop `01 …`).
    Pmd {
        #[command(flatten)]
        hex: HexArgs,
        /// Resolution in bits of delta-compressed frames, 1-32 (default: the H10's, ECG 14,
        /// ACC 16).
        #[arg(long, value_name = "BITS", value_parser = clap::value_parser!(u16).range(1..=32))]
        resolution: Option<u16>,
        /// Conversion factor applied to delta-compressed samples (above 0, at most 1000).
        #[arg(long, value_parser = factor, allow_negative_numbers = true)]
        factor: Option<f64>,
    },
}

/// `--factor`: a finite number above 0 and at most 1000.
fn factor(s: &str) -> Result<f64, String> {
    let v = crate::args::positive(s)?;
    if v > 1000.0 {
        return Err(format!("{s} is above 1000"));
    }
    Ok(v)
}

#[derive(Args, Debug)]
pub struct HexArgs {
    /// The bytes in hex; spaces, colons and dashes between bytes are ignored; case-insensitive.
    #[arg(required = true, num_args = 1.., value_name = "HEX")]
    hex: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Hex digits with optional separators (spaces, colons, dashes, an optional `0x`) → bytes.
pub fn parse_hex(parts: &[String]) -> Result<Vec<u8>, String> {
    let joined = parts.join(" ");
    let digits: String = joined
        .split(|c: char| c.is_whitespace() || c == ':' || c == '-' || c == ',')
        .map(|t| {
            t.strip_prefix("0x")
                .or_else(|| t.strip_prefix("0X"))
                .unwrap_or(t)
        })
        .collect();
    if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!("invalid hex: unexpected character {bad:?}"));
    }
    if digits.is_empty() {
        return Err("invalid hex: no bytes given".into());
    }
    if !digits.len().is_multiple_of(2) {
        return Err(format!(
            "invalid hex: odd number of digits ({}); give two digits per byte",
            digits.len()
        ));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|e| format!("invalid hex: {e}")))
        .collect()
}

pub fn run(cmd: &DecodeCommand) -> Result<(), String> {
    match cmd {
        DecodeCommand::Hrm(args) => hrm(args),
        DecodeCommand::Pmd {
            hex,
            resolution,
            factor,
        } => pmd(
            hex,
            &FrameContext {
                resolution_bits: *resolution,
                factor: factor.map(|f| f as f32),
            },
        ),
    }
}

fn print(value: &Value) -> Result<(), String> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn hrm(args: &HexArgs) -> Result<(), String> {
    let bytes = parse_hex(&args.hex)?;
    let m = HeartRateMeasurement::decode(&bytes)
        .map_err(|e| format!("invalid Heart Rate Measurement: {e}"))?;
    let rr: Vec<f64> = m.rr_ms().collect();
    if args.json {
        return print(&json!({
            "bpm": m.bpm,
            "rr_ms": rr,
            "contact": m.contact.detected(),
            "energy_kj": m.energy_kj,
        }));
    }
    println!("heart rate: {} bpm", m.bpm);
    let contact = match m.contact.detected() {
        None => "not supported by the sensor",
        Some(true) => "yes",
        Some(false) => "no",
    };
    println!("skin contact: {contact}");
    if let Some(e) = m.energy_kj {
        println!("energy expended: {e} kJ");
    }
    if rr.is_empty() {
        println!("RR intervals: none");
    } else {
        let list: Vec<String> = rr
            .iter()
            .zip(&m.rr_1024)
            .map(|(ms, raw)| format!("{ms:.1} ms ({raw}/1024 s)"))
            .collect();
        println!("RR intervals: {}", list.join(", "));
    }
    println!("{}", crate::NOT_MEDICAL);
    Ok(())
}

fn pmd(args: &HexArgs, ctx: &FrameContext) -> Result<(), String> {
    let bytes = parse_hex(&args.hex)?;
    // Control-point values start with F0 / 0F, or 01 and are shorter than a frame header.
    let control = match bytes.first() {
        Some(&pmd::RESPONSE_ID | &pmd::FEATURES_ID) => true,
        Some(&pmd::STOPPED_ID) => bytes.len() <= pmd::FRAME_HEADER_LEN,
        _ => false,
    };
    if control {
        let msg = pmd::decode_control_point(&bytes)
            .map_err(|e| format!("invalid PMD control-point value: {e}"))?;
        return control_point(&msg, args.json);
    }
    let frame =
        pmd::decode_frame(&bytes, ctx).map_err(|e| format!("invalid PMD data frame: {e}"))?;
    frame_out(&frame, args.json)
}

fn frame_out(f: &PmdFrame, as_json: bool) -> Result<(), String> {
    let h = &f.header;
    if as_json {
        let mut v = json!({
            "measurement": h.measurement.name(),
            "timestamp_ns": h.timestamp_ns,
            "frame_type": h.frame_type,
            "delta_compressed": h.delta,
        });
        match &f.data {
            FrameData::Ecg(s) => v["samples_uv"] = json!(s),
            FrameData::Acc(s) => v["samples_mg"] = json!(s),
        }
        return print(&v);
    }
    let unit = match f.data {
        FrameData::Ecg(_) => "µV",
        FrameData::Acc(_) => "mG (x, y, z)",
    };
    println!(
        "{} frame type {}{}, {} samples ({unit})",
        h.measurement,
        h.frame_type,
        if h.delta { " (delta-compressed)" } else { "" },
        f.data.len()
    );
    let secs = h.timestamp_ns / 1_000_000_000;
    println!(
        "last sample at {} ns since 2000-01-01 (sensor clock; Unix {}.{:09} s)",
        h.timestamp_ns,
        secs + PMD_EPOCH_UNIX_S,
        h.timestamp_ns % 1_000_000_000
    );
    let cells: Vec<String> = match &f.data {
        FrameData::Ecg(s) => s.iter().map(i32::to_string).collect(),
        FrameData::Acc(s) => s
            .iter()
            .map(|[x, y, z]| format!("({x}, {y}, {z})"))
            .collect(),
    };
    for chunk in cells.chunks(10) {
        println!("  {}", chunk.join(" "));
    }
    Ok(())
}

fn settings_json(s: &Settings) -> Value {
    json!({
        "sample_rates_hz": s.sample_rates,
        "resolutions_bits": s.resolutions,
        "ranges": s.ranges,
        "ranges_milli": s.ranges_milli,
        "channels": s.channels,
        "factor": s.factor,
    })
}

fn hex_string(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn response_json(r: &ControlResponse) -> Value {
    json!({
        "message": "response",
        "opcode": r.opcode,
        "measurement": r.measurement().map(|m| m.name()),
        "status": format!("{:?}", r.status),
        "status_code": r.status.code(),
        "more": r.more,
        "params_hex": hex_string(&r.params),
        "settings": (r.opcode == pmd::opcode::GET_SETTINGS && r.status.is_success())
            .then(|| r.settings().ok().map(|s| settings_json(&s)))
            .flatten(),
    })
}

fn control_point(msg: &ControlPointMessage, as_json: bool) -> Result<(), String> {
    let v = match msg {
        ControlPointMessage::Response(r) => response_json(r),
        ControlPointMessage::Features(set) => json!({
            "message": "features",
            "measurements": set.iter().map(|m| m.name()).collect::<Vec<_>>(),
        }),
        ControlPointMessage::MeasurementStopped { params } => json!({
            "message": "measurement_stopped",
            "params_hex": hex_string(params),
        }),
    };
    if as_json {
        return print(&v);
    }
    match msg {
        ControlPointMessage::Response(r) => {
            let m = r
                .measurement()
                .map_or_else(|| format!("type {}", r.measurement_byte), |m| m.to_string());
            println!(
                "control-point reply to opcode 0x{:02X} ({m}): {:?} (status {}){}",
                r.opcode,
                r.status,
                r.status.code(),
                if r.more { ", more packets follow" } else { "" }
            );
            if !r.params.is_empty() {
                println!("parameters: {}", hex_string(&r.params));
            }
            if let Some(s) = v["settings"].as_object() {
                for (k, val) in s {
                    if !(val.is_null() || val.as_array().is_some_and(Vec::is_empty)) {
                        println!("  {k}: {val}");
                    }
                }
            }
        }
        ControlPointMessage::Features(set) => {
            let names: Vec<String> = set.iter().map(|m| m.to_string()).collect();
            println!("PMD features: {}", names.join(", "));
        }
        ControlPointMessage::MeasurementStopped { params } => {
            println!(
                "the device stopped a measurement (parameters: {})",
                hex_string(params)
            );
        }
    }
    Ok(())
}
