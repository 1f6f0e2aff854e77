//! Whole monitor pipeline on one thread (one core): ECG chunks → 130 Hz front end (filter,
//! R-peaks, quality) → 30 s windows every 5 s → window analysis → stress engine → alerts →
//! history. The input is a pre-recorded simulated H10 session (10 min, a stress
//! episode, 5 % frame loss and a disconnect every 2 min), so the simulator's own cost is not
//! counted. The history is the real SQLite store (in memory: no disk latency); the models are
//! the embedded stress model (with its HRV fallback) and beat classifier, run by tract.
//!
//! - `pipeline/session_10min`: the session as fast as possible (1 s of signal per step); the
//!   multiple of real time is 600 s / the time per iteration (also printed at the start).
//! - `pipeline/window_step`: latency of one step that closes and scores a window, at the
//!   real-time cadence (250 ms of signal per step); percentiles are printed at the start.
//!
//! `taskset -c 0 cargo bench -p stressbeat-core --bench pipeline`
#![allow(clippy::unwrap_used)] // a benchmark harness: setup failures should stop it

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use stressbeat_core::engine::{AlertEngine, AlertPolicy, EngineConfig, StressEngine};
use stressbeat_core::history::{EndReason, History, HistoryOptions, SessionStart, SourceKind};
use stressbeat_core::monitor::sources::simulator_source;
use stressbeat_core::monitor::{
    Engines, ModelParts, MonitorEvent, Parts, Pipeline, PipelineConfig, SessionInfo, SimulatorSpec,
};
use stressbeat_core::sensor::replay::{ManualClock, ReplaySource};
use stressbeat_core::sensor::{SensorEvent, SensorSource};
use stressbeat_core::sim::ecgsyn::StressEpisode;
use stressbeat_core::sim::faults::FaultConfig;

const MINUTES: f64 = 10.0;

/// The simulated session's events with the phone time they were polled at.
fn recorded_events() -> Vec<(i64, SensorEvent)> {
    let faults = FaultConfig::parse("loss=5%,disconnect=2m/10s").unwrap_or_default();
    let mut src = simulator_source(&SimulatorSpec {
        minutes: MINUTES,
        seed: 9,
        stress: vec![StressEpisode {
            start_s: 200.0,
            duration_s: 200.0,
            intensity: 1.0,
        }],
        faults,
        noisy: true,
        heart_rate_only: false,
    });
    let (mut all, mut batch, mut now) = (Vec::new(), Vec::new(), 0i64);
    while src.poll(now, &mut batch) {
        all.extend(batch.drain(..).map(|e| (now, e)));
        now += 50;
    }
    all.extend(batch.drain(..).map(|e| (now, e)));
    all
}

/// One pipeline over a replay of `events` (real-time pacing of the replay clock).
struct Runner {
    pipeline: Pipeline,
    source: ReplaySource<ManualClock>,
    now: i64,
    out: Vec<MonitorEvent>,
}

impl Runner {
    fn new(events: &[(i64, SensorEvent)]) -> Self {
        let engines = Engines {
            stress: StressEngine::new(EngineConfig::default()).unwrap(),
            alerts: AlertEngine::new(AlertPolicy::default()).unwrap(),
        };
        let history = History::open_in_memory(HistoryOptions::default()).unwrap();
        let mut pipeline = Pipeline::new(
            PipelineConfig::default(),
            ModelParts::embedded().0.analyzer(),
            Arc::new(Mutex::new(engines)),
            Some(Arc::new(Mutex::new(history))),
        )
        .unwrap();
        let mut out = Vec::with_capacity(1024);
        pipeline.begin(
            &SessionInfo {
                start: SessionStart {
                    started_at_ms: 1_800_000_000_000,
                    source: SourceKind::Simulator,
                    device_model: Some("simulated H10".into()),
                    device_identity: None,
                },
                started_phone_ms: 0,
            },
            &mut out,
        );
        out.clear();
        Self {
            pipeline,
            source: ReplaySource::from_events(events.to_vec(), Some(1.0), ManualClock::default()),
            now: 0,
            out,
        }
    }

    /// One step of `step_ms`; returns (alive, windows analysed in it).
    fn step(&mut self, step_ms: i64) -> (bool, usize) {
        let alive = self
            .pipeline
            .step(&mut self.source, self.now, &mut self.out);
        self.now += step_ms;
        let windows = self
            .out
            .iter()
            .filter(|e| matches!(e, MonitorEvent::Stress { .. }))
            .count();
        self.out.clear();
        (alive, windows)
    }

    /// The whole session; returns the windows analysed.
    fn run(mut self, step_ms: i64) -> u64 {
        while self.step(step_ms).0 {}
        self.pipeline.finish(EndReason::SourceEnded, &mut self.out);
        self.pipeline.windows_analysed()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(events: &[(i64, SensorEvent)]) {
    let t = Instant::now();
    let windows = Runner::new(events).run(1_000);
    let s = t.elapsed().as_secs_f64();
    eprintln!(
        "pipeline: {MINUTES} simulated min ({windows} windows) in {:.1} ms = {:.0}x real time",
        s * 1e3,
        MINUTES * 60.0 / s
    );
    let mut r = Runner::new(events);
    let mut lat = Vec::new();
    loop {
        let t = Instant::now();
        let (alive, w) = r.step(250);
        if w > 0 {
            lat.push(t.elapsed());
        }
        if !alive {
            break;
        }
    }
    lat.sort();
    if !lat.is_empty() {
        eprintln!(
            "window step latency (250 ms steps that scored a window, n={}): p50 {:?}, p99 {:?}, max {:?}",
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat[lat.len() - 1]
        );
    }
}

fn bench(c: &mut Criterion) {
    let events = recorded_events();
    report(&events);
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    g.bench_function("session_10min", |b| {
        b.iter(|| black_box(Runner::new(&events).run(1_000)))
    });
    g.bench_function("window_step", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut got = 0;
            let mut r = Runner::new(&events);
            while got < iters {
                let t = Instant::now();
                let (alive, w) = r.step(250);
                let dt = t.elapsed();
                if w > 0 {
                    total += dt;
                    got += 1;
                }
                if !alive {
                    r = Runner::new(&events);
                }
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
