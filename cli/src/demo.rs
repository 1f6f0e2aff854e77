//! `stressbeat demo` (a simulated H10 with a stress episode) and `stressbeat replay` (a real
//! recording): the whole monitor pipeline into the history, a live view, a summary and the PNG
//! report.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use stressbeat_core::{
    engine::{
        AlertEngine, AlertPolicy, BaselineOrigin, CalibrationError, CalibrationEvent, EngineConfig,
        Hysteresis, PersonalBaseline, StressEngine,
    },
    history::{History, HistorySink, SessionDetail, SessionStart, SourceKind},
    io::LoadOptions,
    monitor::{
        Engines, EventKind, ModelParts, Monitor, MonitorEvent, Pacing, PipelineConfig, SessionInfo,
        SharedHistory, SimulatorSpec, Subscription,
        sources::{replay_source, simulator_source},
    },
    sensor::SensorSource,
    sim::{ecgsyn::StressEpisode, faults::FaultConfig},
};

use crate::{
    NOT_MEDICAL,
    history::{open_rw, resolve_db},
    live_view::{LiveCounts, LiveView},
    report::write_report,
};

/// `stressbeat demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Simulated minutes, at least 1 (a stress episode fills the middle third).
    #[arg(long, default_value_t = 20.0, value_parser = crate::args::session_minutes, allow_negative_numbers = true)]
    minutes: f64,
    /// History database (default: a file in the user's data directory, printed).
    #[arg(long)]
    db: Option<PathBuf>,
    /// PNG report (default: next to the database, named after it and the session).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Run in real time instead of as fast as possible.
    #[arg(long)]
    realtime: bool,
    /// Simulator seed (same seed, same signal).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Link and signal faults, e.g. "loss=5%,dup=1%,disconnect=2m/10s" (see docs/simulator.md).
    #[arg(long)]
    faults: Option<String>,
    /// A strap with the Heart Rate Service only (RR intervals, no ECG), as most chest straps:
    /// stress is scored from the RR intervals.
    #[arg(long)]
    heart_rate_only: bool,
}

/// `stressbeat replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Recording: WFDB (.hea), EDF/EDF+, CSV, a Polar capture, or an RR-interval log (a
    /// heart-rate-only strap: scored from its RR windows).
    file: PathBuf,
    /// History database (default: a file in the user's data directory, printed).
    #[arg(long)]
    db: Option<PathBuf>,
    /// PNG report (default: next to the database, named after it and the session).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Channel index of FILE to replay (default: the first ECG-like lead, MLII where present;
    /// never one labelled as another signal, e.g. EEG or Resp).
    #[arg(long)]
    channel: Option<usize>,
    /// A calm recording of the same person: calibrates the personal baseline first.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// The baseline's channel index (`--channel` applies to FILE only).
    #[arg(long, requires = "baseline")]
    baseline_channel: Option<usize>,
    /// CSV only: sampling rate in Hz (otherwise taken from a time column).
    #[arg(long, value_name = "HZ", value_parser = crate::args::sampling_rate, allow_negative_numbers = true)]
    fs: Option<f64>,
    /// CSV only: unit of the samples (default: the unit the file states, else µV or mV by amplitude).
    #[arg(long, value_enum)]
    unit: Option<crate::Unit>,
    /// CSV baseline only: its sampling rate in Hz (`--fs` applies to FILE only).
    #[arg(long, value_name = "HZ", requires = "baseline", value_parser = crate::args::sampling_rate, allow_negative_numbers = true)]
    baseline_fs: Option<f64>,
    /// CSV baseline only: the unit of its samples (`--unit` applies to FILE only).
    #[arg(long, value_enum, requires = "baseline")]
    baseline_unit: Option<crate::Unit>,
}

/// Fresh engines with the default configuration.
pub fn new_engines() -> Result<Engines, String> {
    Ok(Engines {
        stress: StressEngine::new(EngineConfig::default()).map_err(|e| e.to_string())?,
        alerts: AlertEngine::new(AlertPolicy::default()).map_err(|e| e.to_string())?,
    })
}

/// A monitor over the demo parts.
pub fn new_monitor(engines: Engines, history: Option<SharedHistory>) -> Monitor {
    Monitor::new(
        PipelineConfig::default(),
        Box::new(ModelParts::embedded().0),
        engines,
        history,
    )
}

/// Device model stored for simulated sessions.
pub const SIMULATED_DEVICE: &str = "simulated Polar H10";
/// Device model stored for replayed recordings.
const RECORDING_DEVICE: &str = "recording";

/// A session of `source` starting at `started_at_ms` (Unix), phone clock 0.
pub fn session_info(source: SourceKind, device: &str, started_at_ms: i64) -> SessionInfo {
    SessionInfo {
        start: SessionStart {
            started_at_ms,
            source,
            device_model: Some(device.into()),
            device_identity: None,
        },
        started_phone_ms: 0,
    }
}

fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// [`History::past_start_ms`] now (`now - length_ms` when the history cannot be read).
fn placed_start_ms(history: &History, length_ms: i64) -> i64 {
    let now = now_unix_ms();
    history
        .past_start_ms(length_ms, now)
        .unwrap_or(now - length_ms.max(0))
}

/// A finished monitored session.
pub(crate) struct Outcome {
    /// Its history id.
    pub session: i64,
    counts: LiveCounts,
    wall_s: f64,
    /// The history it was written to.
    pub history: Arc<Mutex<History>>,
}

/// Run `source` through a monitor writing into `history`, with the live view; waits for the
/// end.
pub(crate) fn run_session(
    history: History,
    engines: Engines,
    source: Box<dyn SensorSource + Send>,
    pacing: Pacing,
    info: SessionInfo,
    length_ms: i64,
) -> Result<Outcome, String> {
    let history = Arc::new(Mutex::new(history));
    let port: SharedHistory = history.clone();
    let monitor = new_monitor(engines, Some(port));
    let view = LiveView::new(info.start.started_at_ms, length_ms);
    let session = Arc::new(Mutex::new(0i64));
    let mut subs: Vec<Subscription> = [
        EventKind::HeartRate,
        EventKind::Stress,
        EventKind::Alert,
        EventKind::Status,
    ]
    .into_iter()
    .map(|k| monitor.subscribe(k, view.callback()))
    .collect();
    let s = session.clone();
    subs.push(monitor.subscribe(
        EventKind::Status,
        Arc::new(move |ev: &MonitorEvent| {
            if let MonitorEvent::SessionStarted { session_id } = ev
                && let Ok(mut s) = s.lock()
            {
                *s = *session_id;
            }
        }),
    ));
    let t = Instant::now();
    monitor
        .start(source, pacing, info)
        .map_err(|e| e.to_string())?;
    monitor.wait();
    let wall_s = t.elapsed().as_secs_f64();
    drop(subs);
    let counts = view.finish();
    history
        .lock()
        .map_err(|_| "history lock poisoned")?
        .flush()
        .map_err(|e| e.to_string())?;
    let session = *session.lock().map_err(|_| "session lock poisoned")?;
    if session == 0 {
        return Err("the session was not stored in the history".into());
    }
    Ok(Outcome {
        session,
        counts,
        wall_s,
        history,
    })
}

/// Refuse a `--report` path that cannot be written before the session runs and is stored.
fn check_report_path(report: Option<&Path>) -> Result<(), String> {
    let Some(path) = report else { return Ok(()) };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "--report {}: the folder {} does not exist",
            path.display(),
            dir.display()
        ));
    }
    if path.is_dir() {
        return Err(format!(
            "--report {}: is a folder, not a file",
            path.display()
        ));
    }
    Ok(())
}

/// Print the summary and draw the report.
fn finish(outcome: &Outcome, db: &Path, report: Option<&Path>, what: &str) -> Result<(), String> {
    let h = outcome
        .history
        .lock()
        .map_err(|_| "history lock poisoned")?;
    let h = &*h;
    let detail = h
        .session_detail(outcome.session)
        .map_err(|e| e.to_string())?
        .ok_or("the session is missing from the history")?;
    let report_path = report.map_or_else(
        || {
            // named after the database too: two histories in one folder keep their reports
            let stem = db
                .file_stem()
                .map_or("stressbeat".into(), |s| s.to_string_lossy());
            db.with_file_name(format!("{stem}-session-{}.png", outcome.session))
        },
        Path::to_path_buf,
    );
    let drawn = write_report(h, outcome.session, &report_path)?;
    print_summary(&detail, &outcome.counts, outcome.wall_s, what);
    println!("History:  {} (session {})", db.display(), outcome.session);
    println!(
        "Report:   {} ({} timeline points, {} beat images)",
        report_path.display(),
        drawn.points,
        drawn.beats
    );
    println!("\n{NOT_MEDICAL}");
    Ok(())
}

/// The summary's lines about the analysis windows: how many, of what kind, how many got a score
/// and why the others did not (`stored`: windows in the history, `rr_only`: those of them
/// computed from the strap's RR intervals).
fn window_lines(counts: &LiveCounts, stored: u64, rr_only: u64) -> Vec<String> {
    let cfg = PipelineConfig::default();
    let mut kinds = Vec::new();
    if rr_only > 0 {
        kinds.push(format!(
            "{rr_only} of them from the strap's RR intervals, without ECG"
        ));
    }
    if stored != counts.windows {
        kinds.push(format!("{stored} stored in the history"));
    }
    let kinds = if kinds.is_empty() {
        String::new()
    } else {
        format!(" ({})", kinds.join("; "))
    };
    let mut lines = vec![
        format!(
            "analysis windows ({:.0} s, one every {:.0} s): {}{kinds}",
            cfg.window_s, cfg.step_s, counts.windows
        ),
        format!("  with a stress score: {}", counts.scored),
    ];
    if counts.unscored_total() > 0 {
        lines.push(format!("  without: {}", counts.unscored_total()));
        for (reason, n) in &counts.unscored {
            lines.push(format!("    {n}: {reason}"));
        }
    }
    lines
}

fn print_summary(d: &SessionDetail, counts: &LiveCounts, wall_s: f64, what: &str) {
    let s = &d.summary;
    let minutes = s.duration_ms as f64 / 60_000.0;
    println!("\n== {what}: {minutes:.1} min in {wall_s:.1} s");
    for line in window_lines(counts, u64::from(s.windows), d.rr_only_windows) {
        println!("{line}");
    }
    println!(
        "RR intervals {}, ECG samples {}, gaps {}, alerts {}",
        s.rr_intervals, s.ecg_samples, s.gaps, s.alerts
    );
    let f = |v: Option<f64>, unit: &str| v.map_or_else(|| "-".into(), |x| format!("{x:.1}{unit}"));
    println!(
        "mean HR {}, mean RMSSD {}, stress score mean {} / max {}",
        f(d.mean_hr_bpm, " bpm"),
        f(d.mean_rmssd_ms, " ms"),
        f(d.mean_score, ""),
        f(d.max_score, "")
    );
    if !d.minutes_by_state.is_empty() {
        let states: Vec<String> = d
            .minutes_by_state
            .iter()
            .map(|m| format!("{} {:.1} min", m.state, m.minutes))
            .collect();
        println!("time by state: {}", states.join(", "));
    }
    if d.mean_score.is_some() {
        let h = Hysteresis::default();
        println!(
            "(the score, 0-100, is the app's: smoothed and relative to the personal baseline, \
             whose calm level is 20; `stressbeat stress` prints the model's probability per window. \
             A state is entered at {:.0} (elevated) or {:.0} (high), left below {:.0} or {:.0}, and \
             held at least {} s, so a score and its state can differ)",
            h.elevated_enter,
            h.high_enter,
            h.elevated_exit,
            h.high_exit,
            h.min_dwell_ms / 1000
        );
    }
    for a in &d.alerts {
        println!(
            "alert at +{:.1} min: {} ({})",
            (a.at_ms - s.started_at_ms) as f64 / 60_000.0,
            a.kind,
            a.reason
        );
    }
}

/// The demo's simulator: a stress episode over the middle third.
pub fn demo_spec(minutes: f64, seed: u64, faults: FaultConfig) -> SimulatorSpec {
    let total_s = minutes * 60.0;
    SimulatorSpec {
        minutes,
        seed,
        stress: vec![StressEpisode {
            start_s: total_s / 3.0,
            duration_s: total_s / 3.0,
            intensity: 1.0,
        }],
        faults,
        noisy: false,
        heart_rate_only: false,
    }
}

/// Run `stressbeat demo`.
pub fn demo(args: &DemoArgs) -> Result<(), String> {
    check_report_path(args.report.as_deref())?;
    let faults = match &args.faults {
        Some(spec) => FaultConfig::parse(spec).map_err(|e| format!("--faults: {}", e.0))?,
        None => FaultConfig::default(),
    };
    let db = resolve_db(args.db.as_deref())?;
    println!(
        "StressBeat demo: a simulated Polar H10, {} minutes with a stress episode in the middle third.",
        stressbeat_core::text::compact_number(args.minutes)
    );
    println!("History database: {}", db.display());
    let history = open_rw(&db)?;
    let spec = SimulatorSpec {
        heart_rate_only: args.heart_rate_only,
        ..demo_spec(args.minutes, args.seed, faults)
    };
    let pacing = if args.realtime {
        Pacing::RealTime { step_ms: 100 }
    } else {
        Pacing::AsFastAsPossible { step_ms: 250 }
    };
    let length_ms = (args.minutes * 60_000.0) as i64;
    let start = if args.realtime {
        now_unix_ms()
    } else {
        placed_start_ms(&history, length_ms)
    };
    let info = session_info(SourceKind::Simulator, SIMULATED_DEVICE, start);
    let outcome = run_session(
        history,
        new_engines()?,
        Box::new(simulator_source(&spec)),
        pacing,
        info,
        length_ms,
    )?;
    finish(&outcome, &db, args.report.as_deref(), "Simulated session")
}

/// Simulate `minutes` of the demo session (as fast as possible) into `history` (tests).
#[cfg(test)]
pub(crate) fn simulate_into(
    history: stressbeat_core::history::History,
    minutes: f64,
    seed: u64,
) -> Result<Outcome, String> {
    run_session(
        history,
        new_engines()?,
        Box::new(simulator_source(&demo_spec(
            minutes,
            seed,
            FaultConfig::default(),
        ))),
        Pacing::AsFastAsPossible { step_ms: 250 },
        session_info(SourceKind::Simulator, SIMULATED_DEVICE, 1_800_000_000_000),
        (minutes * 60_000.0) as i64,
    )
}

/// Calibrate a baseline on `path`, its `channel` (nothing stored); returns it with a line saying how it went.
fn calibrate(
    path: &Path,
    opts: &LoadOptions,
    channel: Option<usize>,
) -> Result<(PersonalBaseline, u64), String> {
    let (source, pacing) = replay_source(path, None, opts, channel)
        .map_err(|e| format!("baseline recording: {}", crate::recording_error(path, e)))?;
    let length_ms = source.length_ms();
    let mut engines = new_engines()?;
    let start = now_unix_ms();
    // Planned for the whole recording; the session's end closes it on the windows it took.
    engines
        .stress
        .start_calibration(start, length_ms.max(30_000));
    let monitor = new_monitor(engines, None);
    let degraded = Arc::new(Mutex::new(Vec::<String>::new()));
    let failure = Arc::new(Mutex::new(None::<CalibrationError>));
    let (d, f) = (degraded.clone(), failure.clone());
    let _status = monitor.subscribe(
        EventKind::Status,
        Arc::new(move |ev: &MonitorEvent| {
            if let MonitorEvent::Degraded(x) = ev
                && let Ok(mut d) = d.lock()
                && !d.contains(&x.to_string())
            {
                d.push(x.to_string());
            }
            // ended with the recording, on the windows it took
            if let MonitorEvent::CalibrationEnded(CalibrationEvent::Failed(e)) = ev
                && let Ok(mut f) = f.lock()
            {
                *f = Some(*e);
            }
        }),
    );
    let f = failure.clone();
    let _stress = monitor.subscribe(
        EventKind::Stress,
        Arc::new(move |ev: &MonitorEvent| {
            if let MonitorEvent::Stress { update, .. } = ev
                && let Some(CalibrationEvent::Failed(e)) = update.calibration
                && let Ok(mut f) = f.lock()
            {
                *f = Some(e);
            }
        }),
    );
    monitor
        .start(
            Box::new(source),
            pacing,
            session_info(
                SourceKind::Replay {
                    file_name: String::new(),
                },
                RECORDING_DEVICE,
                start,
            ),
        )
        .map_err(|e| e.to_string())?;
    monitor.wait();
    let e = monitor
        .engines()
        .lock()
        .map_err(|_| "engine lock poisoned")?;
    match e.stress.baseline() {
        Some(b) if b.origin == BaselineOrigin::Calibrated => Ok((b.clone(), b.windows)),
        _ => {
            let why = match failure.lock().ok().and_then(|f| *f) {
                Some(e) => e.to_string(),
                None => "the recording is too short".into(),
            };
            Err(format!(
                "{}: calibration failed: {why}{}",
                path.display(),
                degraded
                    .lock()
                    .map(|d| d.iter().map(|x| format!("; {x}")).collect::<String>())
                    .unwrap_or_default()
            ))
        }
    }
}

/// Run `stressbeat replay`.
pub fn replay(args: &ReplayArgs) -> Result<(), String> {
    check_report_path(args.report.as_deref())?;
    crate::warn_csv_only(
        &args.file,
        &[("--fs", args.fs.is_some()), ("--unit", args.unit.is_some())],
    );
    if let Some(b) = &args.baseline {
        crate::warn_csv_only(
            b,
            &[
                ("--baseline-fs", args.baseline_fs.is_some()),
                ("--baseline-unit", args.baseline_unit.is_some()),
            ],
        );
    }
    // the recording is read before anything is created
    let opts = crate::load_options(args.fs, args.unit);
    let (source, pacing) = replay_source(&args.file, None, &opts, args.channel)
        .map_err(|e| crate::recording_error(&args.file, e))?;
    let db = resolve_db(args.db.as_deref())?;
    println!("History database: {}", db.display());
    let mut engines = new_engines()?;
    if let Some(b) = &args.baseline {
        let (baseline, windows) = calibrate(
            b,
            &crate::load_options(args.baseline_fs, args.baseline_unit),
            args.baseline_channel,
        )?;
        println!(
            "Personal baseline from {} ({windows} windows): HR {:.1} bpm, RMSSD {:.1} ms",
            b.display(),
            baseline.hr_bpm.mean,
            baseline.rmssd_ms.mean
        );
        engines.stress.set_baseline(Some(baseline));
    }
    let file_name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let history = open_rw(&db)?;
    let length_ms = source.length_ms();
    let start = placed_start_ms(&history, length_ms);
    let info = session_info(SourceKind::Replay { file_name }, RECORDING_DEVICE, start);
    let outcome = run_session(history, engines, Box::new(source), pacing, info, length_ms)?;
    finish(
        &outcome,
        &db,
        args.report.as_deref(),
        &format!("Replay of {}", args.file.display()),
    )
}

#[cfg(test)]
mod summary_tests {
    use super::{LiveCounts, window_lines};

    #[test]
    fn the_window_lines_say_what_each_number_counts_and_add_up() {
        let counts = LiveCounts {
            windows: 18,
            scored: 2,
            unscored: vec![
                ("no stress estimate available for this window".into(), 1),
                ("signal too poor".into(), 15),
            ],
            ..LiveCounts::default()
        };
        assert_eq!(
            window_lines(&counts, 18, 18),
            [
                "analysis windows (30 s, one every 5 s): 18 (18 of them from the strap's RR \
                 intervals, without ECG)",
                "  with a stress score: 2",
                "  without: 16",
                "    1: no stress estimate available for this window",
                "    15: signal too poor",
            ]
        );
        // windows the history failed to store are not hidden
        let lines = window_lines(&counts, 12, 0);
        assert!(
            lines[0].ends_with("18 (12 stored in the history)"),
            "{}",
            lines[0]
        );
    }
}
