//! `stressbeat history` (sessions, daily summaries, recent alerts) and `stressbeat export` (a
//! session as CSV or EDF+), plus where the history database lives by default.

use std::{
    fs::File,
    io::BufWriter,
    path::{Path, PathBuf},
};

use clap::{Args, ValueEnum};
use serde_json::json;
use stressbeat_core::history::{
    AlertRow, DailySummary, History, HistoryOptions, SessionSummary, SourceKind, format_utc_iso,
};

use crate::{NOT_MEDICAL, print_json, table::Table};

/// Sessions listed by `stressbeat history`.
const SESSIONS_SHOWN: u32 = 20;
/// Alerts listed by `stressbeat history`.
const ALERTS_SHOWN: u32 = 10;

/// The default history database: `$XDG_DATA_HOME/stressbeat/history.sqlite`, else
/// `$HOME/.local/share/…`. Without either there is no private place for health data (a shared
/// temporary directory is not one): an error.
pub fn default_db_path() -> Result<PathBuf, String> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let base = non_empty("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|h| PathBuf::from(h).join(".local").join("share")))
        .ok_or(
            "no data directory for the history: HOME and XDG_DATA_HOME are unset or empty; \
             set one of them, or pass --db FILE",
        )?;
    Ok(base.join("stressbeat").join("history.sqlite"))
}

/// `path`, or the default; the database's folder is created (private: 0700 on unix).
pub fn resolve_db(path: Option<&Path>) -> Result<PathBuf, String> {
    let p = match path {
        Some(p) => p.to_path_buf(),
        None => default_db_path()?,
    };
    if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    Ok(p)
}

/// `dir` and its missing parents; those it creates are readable by the user only (unix).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Create `path` empty, readable and writable by the user only (unix; SQLite gives its journal
/// files the same mode), unless it exists.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    match stressbeat_core::io::private_file()
        .create_new(true)
        .open(path)
    {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Open the history at `path` for writing (created if needed, private to the user).
pub fn open_rw(path: &Path) -> Result<History, String> {
    if !path.exists() {
        create_private_file(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    }
    History::open(path, HistoryOptions::default()).map_err(|e| open_error(path, e))
}

/// Why the history at `path` could not be opened (SQLite's or the store's own words).
fn open_error(path: &Path, e: stressbeat_core::Error) -> String {
    let why = match e {
        stressbeat_core::Error::Storage { message, .. } => message,
        e => e.to_string(),
    };
    format!("cannot open the history {}: {why}", path.display())
}

/// Open an existing history at `path` for queries.
pub fn open_ro(path: &Path) -> Result<History, String> {
    if !path.exists() {
        return Err(format!(
            "no history at {} (run `stressbeat demo` first, or pass --db)",
            path.display()
        ));
    }
    History::open(
        path,
        HistoryOptions {
            read_only: true,
            ..HistoryOptions::default()
        },
    )
    .map_err(|e| open_error(path, e))
}

/// `stressbeat history`.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// History database (default: printed by `stressbeat demo`).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

/// `stressbeat export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Session id (see `stressbeat history`).
    #[arg(long)]
    session: i64,
    /// csv: the session's windows (stress, HRV); edf: its raw ECG as EDF+ with annotations.
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// CSV only: write the RR intervals instead of the windows.
    #[arg(long)]
    rr: bool,
    /// Output file.
    #[arg(long)]
    out: PathBuf,
    /// History database (default: printed by `stressbeat demo`).
    #[arg(long)]
    db: Option<PathBuf>,
}

/// Export formats.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ExportFormat {
    /// RFC 4180 CSV.
    Csv,
    /// EDF+C.
    Edf,
}

/// Source of a session in words.
pub fn source_text(s: &SourceKind) -> String {
    match s {
        SourceKind::Replay { file_name } => format!("replay {file_name}"),
        other => other.as_str().to_string(),
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.1}"))
}

/// Run `stressbeat history`.
pub fn history(args: &HistoryArgs) -> Result<(), String> {
    let path = match &args.db {
        Some(p) => p.clone(),
        None => default_db_path()?,
    };
    let h = open_ro(&path)?;
    let sessions = h.sessions(SESSIONS_SHOWN).map_err(|e| e.to_string())?;
    let from = sessions.iter().map(|s| s.started_at_ms).min().unwrap_or(0);
    let to = sessions
        .iter()
        .map(|s| s.started_at_ms + s.duration_ms.max(0))
        .max()
        .unwrap_or(0)
        + 1;
    let days = h.daily_summaries(from, to, 0).map_err(|e| e.to_string())?;
    let alerts = h
        .alerts(i64::MIN / 2, i64::MAX / 2, ALERTS_SHOWN)
        .map_err(|e| e.to_string())?;
    if args.json {
        return print_json(&json!({
            "database": path.display().to_string(),
            "sessions": sessions.iter().map(session_json).collect::<Vec<_>>(),
            "daily_summaries_utc": days.iter().map(day_json).collect::<Vec<_>>(),
            "recent_alerts": alerts.iter().map(alert_json).collect::<Vec<_>>(),
            "note": NOT_MEDICAL,
        }));
    }
    println!("History: {}\n", path.display());
    println!("Sessions (newest first)");
    let mut t = Table::new(&[
        "id",
        "started (UTC)",
        "minutes",
        "source",
        "device",
        "windows",
        "alerts",
        "gaps",
        "end",
    ]);
    for s in &sessions {
        t.row(vec![
            s.id.to_string(),
            format_utc_iso(s.started_at_ms),
            format!("{:.1}", s.duration_ms as f64 / 60_000.0),
            source_text(&s.source),
            s.device_model.clone().unwrap_or_else(|| "-".into()),
            s.windows.to_string(),
            s.alerts.to_string(),
            s.gaps.to_string(),
            s.end_reason.clone().unwrap_or_else(|| "open".into()),
        ]);
    }
    print!("{t}");
    println!("\nDaily summaries (UTC days)");
    let mut t = Table::new(&[
        "date",
        "windows",
        "mean score",
        "max score",
        "mean HR",
        "mean RMSSD",
        "alerts",
        "minutes by state",
    ]);
    for d in &days {
        t.row(vec![
            d.date.clone(),
            d.windows.to_string(),
            fmt_opt(d.mean_score),
            fmt_opt(d.max_score),
            fmt_opt(d.mean_hr_bpm),
            fmt_opt(d.mean_rmssd_ms),
            d.alerts.to_string(),
            d.minutes_by_state
                .iter()
                .map(|m| format!("{} {:.1}", m.state, m.minutes))
                .collect::<Vec<_>>()
                .join(", "),
        ]);
    }
    print!("{t}");
    println!("\nRecent alerts (newest first)");
    let mut t = Table::new(&["at (UTC)", "session", "kind", "severity", "reason"]);
    for a in &alerts {
        t.row(vec![
            format_utc_iso(a.at_ms),
            a.session_id.to_string(),
            a.kind.clone(),
            a.severity.to_string(),
            a.reason.clone(),
        ]);
    }
    print!("{t}");
    println!("\n{NOT_MEDICAL}");
    Ok(())
}

fn session_json(s: &SessionSummary) -> serde_json::Value {
    json!({
        "id": s.id,
        "started_at_ms": s.started_at_ms,
        "started_utc": format_utc_iso(s.started_at_ms),
        "ended_at_ms": s.ended_at_ms,
        "end_reason": s.end_reason,
        "duration_ms": s.duration_ms,
        "source": source_text(&s.source),
        "device_model": s.device_model,
        "windows": s.windows,
        "rr_intervals": s.rr_intervals,
        "ecg_samples": s.ecg_samples,
        "alerts": s.alerts,
        "gaps": s.gaps,
    })
}

fn day_json(d: &DailySummary) -> serde_json::Value {
    json!({
        "date": d.date,
        "windows": d.windows,
        "mean_score": d.mean_score,
        "max_score": d.max_score,
        "mean_hr_bpm": d.mean_hr_bpm,
        "mean_rmssd_ms": d.mean_rmssd_ms,
        "alerts": d.alerts,
        "minutes_by_state": d.minutes_by_state.iter().map(|m| (m.state.clone(), json!(m.minutes))).collect::<serde_json::Map<_, _>>(),
    })
}

fn alert_json(a: &AlertRow) -> serde_json::Value {
    json!({
        "id": a.id,
        "session_id": a.session_id,
        "at_ms": a.at_ms,
        "at_utc": format_utc_iso(a.at_ms),
        "kind": a.kind,
        "severity": a.severity,
        "reason": a.reason,
        "acknowledged": a.acknowledged,
    })
}

/// Run `stressbeat export`.
pub fn export(args: &ExportArgs) -> Result<(), String> {
    if args.rr && matches!(args.format, ExportFormat::Edf) {
        return Err("--rr applies to --format csv only (an EDF+ export holds the raw ECG)".into());
    }
    let out = &args.out;
    check_output_folder(out)?;
    let path = match &args.db {
        Some(p) => p.clone(),
        None => default_db_path()?,
    };
    let h = open_ro(&path)?;
    stressbeat_core::history::check_export_path(&path, out).map_err(|e| match e {
        stressbeat_core::Error::InvalidArgument(why) => format!("--out {why}"),
        other => other.to_string(),
    })?;
    // a failed export (an unknown session, a full disk) leaves the file at `out` as it was;
    // the error names the requested file, not the temporary one beside it
    let written = stressbeat_core::io::write_replacing(
        out,
        |w| write_export(&h, args, w),
        |e| format!("cannot write {}: {e}", out.display()),
    );
    println!(
        "session {} -> {}: {}",
        args.session,
        args.out.display(),
        written?
    );
    Ok(())
}

/// Refuse an output file whose folder does not exist, before anything is read.
fn check_output_folder(out: &Path) -> Result<(), String> {
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        Ok(())
    } else {
        Err(format!(
            "cannot write {}: the folder {} does not exist",
            out.display(),
            dir.display()
        ))
    }
}

/// Write the export; what was written, in words.
fn write_export(
    h: &History,
    args: &ExportArgs,
    out: &mut BufWriter<File>,
) -> Result<String, String> {
    let what = match (args.format, args.rr) {
        (ExportFormat::Csv, false) => {
            let n = h
                .export_windows_csv(args.session, out)
                .map_err(|e| e.to_string())?;
            format!("{n} windows")
        }
        (ExportFormat::Csv, true) => {
            let n = h
                .export_rr_csv(args.session, out)
                .map_err(|e| e.to_string())?;
            format!("{n} RR intervals")
        }
        (ExportFormat::Edf, _) => {
            let r = h.export_edf(args.session, out).map_err(|e| e.to_string())?;
            format!(
                "{} ECG samples ({} filled in gaps), {} annotations",
                r.samples, r.filled_samples, r.annotations
            )
        }
    };
    Ok(what)
}
