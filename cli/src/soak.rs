//! `stressbeat soak` (hidden): a long simulated session with link faults through the whole
//! pipeline into a SQLite history, as fast as possible, checked against the simulator's ground
//! truth: every gap the strap really had must be in the history. Reports peak RSS (VmHWM) after
//! the first hour and at the end, and the time taken. Results: docs/soak.md.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use stressbeat_core::{
    history::{EndReason, GapRecord, HistorySink, SourceKind},
    monitor::{
        ModelParts, MonitorEvent, Parts, Pipeline, PipelineConfig, SharedHistory,
        sources::simulator_source,
    },
    sensor::SensorSource,
    sim::{faults::FaultConfig, strap::GroundTruth},
};

use crate::{
    demo::{SIMULATED_DEVICE, demo_spec, new_engines, session_info},
    history::{open_rw, resolve_db},
};

/// Phone time per pipeline step, ms (the demo's as-fast-as-possible step).
const STEP_MS: i64 = 250;
/// A stored gap matches a true one when they overlap within this tolerance, ms.
const MATCH_TOLERANCE_MS: f64 = 100.0;
/// The default faults: 5 % frame loss, 1 % duplicates, a timestamp jump every 30 min, a 10 s
/// disconnect every 2 min.
const DEFAULT_FAULTS: &str = "loss=5%,dup=1%,jump=30m,disconnect=2m/10s";

/// `stressbeat soak`.
#[derive(Args, Debug)]
pub struct SoakArgs {
    /// Simulated hours.
    #[arg(long, default_value_t = 24.0, value_parser = crate::args::positive, allow_negative_numbers = true)]
    hours: f64,
    /// Faults (see docs/simulator.md).
    #[arg(long, default_value = DEFAULT_FAULTS)]
    faults: String,
    /// History database (default: a new file in the temporary directory).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Simulator seed.
    #[arg(long, default_value_t = 24)]
    seed: u64,
}

/// Peak and current resident memory from /proc/self/status, kB (Linux; `None` elsewhere).
fn memory_kb() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

fn mem_text() -> String {
    memory_kb().map_or_else(
        || "RSS n/a".into(),
        |(hwm, rss)| {
            format!(
                "peak RSS {:.1} MiB, RSS {:.1} MiB",
                hwm as f64 / 1024.0,
                rss as f64 / 1024.0
            )
        },
    )
}

/// True gaps (phone ms: start, end) from delivered frames, carried across truth chunks.
#[derive(Debug, Default)]
struct TruthGaps {
    next_sample: Option<u64>,
    gaps: Vec<(f64, f64)>,
}

impl TruthGaps {
    fn add_chunk(&mut self, chunk: &GroundTruth) {
        for f in chunk.delivered_frames() {
            if let Some(n) = self.next_sample {
                if f.first_sample > n {
                    self.gaps.push((
                        chunk.sample_time_ms(n),
                        chunk.sample_time_ms(f.first_sample),
                    ));
                } else if f.first_sample + u64::from(f.n_samples) <= n {
                    continue; // a duplicate or an older frame
                }
            }
            self.next_sample = Some(f.first_sample + u64::from(f.n_samples));
        }
    }
}

/// What the pipeline reported so far.
#[derive(Debug, Default)]
struct EventTally {
    session: i64,
    windows: u64,
    gaps: u64,
    alerts: u64,
}

impl EventTally {
    /// Count and drain `out`; a degradation ends the soak.
    fn absorb(&mut self, out: &mut Vec<MonitorEvent>) -> Result<(), String> {
        for ev in out.drain(..) {
            match &ev {
                MonitorEvent::SessionStarted { session_id } => self.session = *session_id,
                MonitorEvent::Stress { .. } => self.windows += 1,
                MonitorEvent::Gap { .. } => self.gaps += 1,
                MonitorEvent::Alert { .. } => self.alerts += 1,
                MonitorEvent::Degraded(d) => return Err(format!("degraded: {d:?}")),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Run `stressbeat soak`.
pub fn soak(args: &SoakArgs) -> Result<(), String> {
    if !(args.hours.is_finite() && args.hours > 0.0 && args.hours <= 24.0 * 7.0) {
        return Err("--hours must be between 0 and 168".into());
    }
    let faults = FaultConfig::parse(&args.faults).map_err(|e| format!("--faults: {}", e.0))?;
    let db = match &args.db {
        Some(p) => resolve_db(Some(p))?,
        None => std::env::temp_dir().join(format!("stressbeat-soak-{}.sqlite", std::process::id())),
    };
    let _ = std::fs::remove_file(&db);
    println!(
        "soak: {} h simulated, faults {}, seed {}, history {}",
        args.hours,
        args.faults,
        args.seed,
        db.display()
    );
    let minutes = args.hours * 60.0;
    let mut source = simulator_source(&demo_spec(minutes, args.seed, faults));
    let history = std::sync::Arc::new(std::sync::Mutex::new(open_rw(&db)?));
    let port: SharedHistory = history.clone();
    let mut pipeline = Pipeline::new(
        PipelineConfig::default(),
        ModelParts::embedded().0.analyzer(),
        std::sync::Arc::new(std::sync::Mutex::new(new_engines()?)),
        Some(port),
    )
    .map_err(|e| e.to_string())?;
    let t0_unix = 1_800_000_000_000i64;
    let info = session_info(SourceKind::Simulator, SIMULATED_DEVICE, t0_unix);
    let started = Instant::now();
    let mut out = Vec::with_capacity(1024);
    let mut truth = TruthGaps::default();
    let mut tally = EventTally::default();
    pipeline.begin(&info, &mut out);
    tally.absorb(&mut out)?;
    let end_ms = (minutes * 60_000.0).round() as i64;
    let mut now = 0i64;
    let mut next_report = 3_600_000i64;
    let mut last_take = 0i64;
    let mut hour1 = None;
    loop {
        let alive = pipeline.step(&mut source, now, &mut out);
        tally.absorb(&mut out)?;
        // Take the ground truth while the strap is disconnected (no frame in flight refers
        // to it then), at most once an hour: memory stays flat.
        let strap = &mut source.inner_mut().peripheral;
        if now - last_take >= 3_600_000 && !strap.is_connected() {
            last_take = now;
            truth.add_chunk(&strap.take_truth());
        }
        if now >= next_report {
            let line = format!(
                "  {:>5.1} h simulated in {:>7.1} s: {} windows, {} gaps, {} alerts, {}",
                now as f64 / 3_600_000.0,
                started.elapsed().as_secs_f64(),
                tally.windows,
                tally.gaps,
                tally.alerts,
                mem_text()
            );
            println!("{line}");
            if hour1.is_none() {
                hour1 = memory_kb();
            }
            next_report += 3_600_000;
        }
        if !alive {
            break;
        }
        now += STEP_MS;
        if now > end_ms + 60_000 {
            source.stop(now);
        }
    }
    pipeline.finish(EndReason::SourceEnded, &mut out);
    tally.absorb(&mut out)?;
    truth.add_chunk(&source.inner_mut().peripheral.take_truth());
    let wall_s = started.elapsed().as_secs_f64();
    let end_mem = memory_kb();

    let mut h = history.lock().map_err(|_| "history lock poisoned")?;
    h.flush().map_err(|e| e.to_string())?;
    let h = &*h;
    let detail = h
        .session_detail(tally.session)
        .map_err(|e| e.to_string())?
        .ok_or("the soak session is missing from the history")?;
    let integrity = h.integrity_check().map_err(|e| e.to_string())?;
    let (missed, spurious) = compare_gaps(&truth.gaps, &detail.gaps, t0_unix as f64);
    let s = &detail.summary;
    println!(
        "\nsoak: {:.2} h simulated in {wall_s:.1} s ({:.0}x real time)",
        s.duration_ms as f64 / 3_600_000.0,
        s.duration_ms as f64 / 1000.0 / wall_s
    );
    println!(
        "history: {} windows, {} RR, {} ECG samples, {} gaps, {} alerts; integrity_check: {integrity}; {:.1} MiB",
        s.windows,
        s.rr_intervals,
        s.ecg_samples,
        s.gaps,
        s.alerts,
        h.size_bytes().unwrap_or(0) as f64 / 1_048_576.0
    );
    println!(
        "ground truth: {} gaps; missing from the history: {}; stored gaps matching no true gap: {}",
        truth.gaps.len(),
        missed.len(),
        spurious
    );
    for (a, b) in missed.iter().take(10) {
        println!(
            "  missed: {:.3} s .. {:.3} s (phone time)",
            a / 1000.0,
            b / 1000.0
        );
    }
    let kb = |m: Option<(u64, u64)>| {
        m.map_or_else(
            || "n/a".into(),
            |(h, _)| format!("{:.1} MiB", h as f64 / 1024.0),
        )
    };
    println!(
        "peak RSS (VmHWM): after 1 h {}, at the end {}",
        kb(hour1),
        kb(end_mem)
    );
    if !missed.is_empty() {
        return Err(format!("{} true gaps are not in the history", missed.len()));
    }
    Ok(())
}

/// True gaps (phone ms) with no overlapping stored gap (Unix ms = phone + `offset`), and the
/// number of stored gaps overlapping no true gap.
fn compare_gaps(
    truth: &[(f64, f64)],
    stored: &[GapRecord],
    offset: f64,
) -> (Vec<(f64, f64)>, usize) {
    let mut stored: Vec<(f64, f64)> = stored
        .iter()
        .map(|g| (g.from_ms as f64 - offset, g.to_ms as f64 - offset))
        .collect();
    stored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let overlaps = |a: &(f64, f64), b: &(f64, f64)| {
        a.0 <= b.1 + MATCH_TOLERANCE_MS && b.0 <= a.1 + MATCH_TOLERANCE_MS
    };
    let mut used = vec![false; stored.len()];
    let mut missed = Vec::new();
    for t in truth {
        // Stored gaps are sorted by start: look from the first that may overlap.
        let from = stored.partition_point(|s| s.0 < t.0 - 3_600_000.0);
        let mut found = false;
        for (i, s) in stored.iter().enumerate().skip(from) {
            if s.0 > t.1 + MATCH_TOLERANCE_MS {
                break;
            }
            if overlaps(t, s) {
                found = true;
                used[i] = true;
            }
        }
        if !found {
            missed.push(*t);
        }
    }
    (missed, used.iter().filter(|u| !**u).count())
}
