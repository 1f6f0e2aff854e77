//! The real-time paths allocate nothing per sample once built: the streaming DSP (filter,
//! R-peak detector, signal quality), the live front end (apart from the events it reports) and
//! the imaging. Counted by a global allocator wrapper, on each test's own thread only (the test
//! harness's threads allocate too).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use stressbeat_core::dsp::{
    EcgFilter, EcgFilterConfig, QualityConfig, RPeakDetector, SignalQuality,
};
use stressbeat_core::imaging::{Channel, IMAGE_PIXELS, Imager, WindowData};
use stressbeat_core::monitor::MonitorEvent;
use stressbeat_core::monitor::front::EcgFrontEnd;
use stressbeat_core::sensor::EcgChunk;
use stressbeat_core::sim::ecgsyn::{EcgConfig, NoiseConfig, generate};

/// The system allocator, counting allocations and reallocations made by a thread that set
/// `COUNTING`.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call unchanged to `System`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations `f` makes on this thread.
fn allocations_in(f: impl FnOnce()) -> usize {
    COUNTING.with(|c| c.set(true));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(false));
    after - before
}

/// `seconds` of a strap-like ECG at `fs_hz` (µV): typical noise and motion, a PVC and a PAC
/// a minute, so that the detector also meets artefacts and early beats.
fn strap_ecg(fs_hz: f64, seconds: f64) -> Vec<f32> {
    let cfg = EcgConfig {
        fs_hz,
        pvc_per_min: 1.0,
        pac_per_min: 1.0,
        noise: NoiseConfig::typical(),
        seed: 7,
        ..EcgConfig::default()
    };
    generate(cfg, seconds).0
}

#[test]
fn streaming_dsp_does_not_allocate_per_sample() {
    for fs in [130.0, 250.0, 500.0] {
        let signal_mv: Vec<f32> = strap_ecg(fs, 180.0).iter().map(|x| x / 1000.0).collect();
        let mut filter = EcgFilter::new(fs, &EcgFilterConfig::default()).unwrap();
        let mut detector = RPeakDetector::new(fs).unwrap();
        let mut quality = SignalQuality::new(fs, QualityConfig::default()).unwrap();
        let (mut peaks, mut windows) = (0usize, 0usize);
        let mut run = |samples: &[f32]| {
            for &x in samples {
                std::hint::black_box(filter.push(x));
                peaks += usize::from(detector.push(x).is_some());
                windows += usize::from(quality.push(x).is_some());
            }
        };
        // warmed up (thresholds learnt) before counting
        let warm_up = (30.0 * fs) as usize;
        run(&signal_mv[..warm_up]);
        let allocations = allocations_in(|| run(&signal_mv[warm_up..]));
        assert_eq!(allocations, 0, "{fs} Hz: {allocations} allocations");
        // it did work: 150 s at about 60-80 bpm, quality windows every few seconds
        assert!(peaks > 180, "{fs} Hz: {peaks} peaks");
        assert!(windows > 30, "{fs} Hz: {windows} quality windows");
    }
}

/// The monitor's front end (rate adapter, detector, quality, rings) per ECG chunk allocates
/// only for the events it reports (a drawing batch's samples, a heart rate's intervals), never
/// per sample: an H10's 130 Hz frames and a 500 Hz source resampled to 130 Hz.
#[test]
fn the_live_front_end_allocates_only_for_the_events_it_reports() {
    for (fs, per_chunk) in [(130.0, 73), (500.0, 250)] {
        let interval_ms = 1000.0 / fs;
        let chunks: Vec<EcgChunk> = strap_ecg(fs, 300.0)
            .chunks(per_chunk)
            .enumerate()
            .map(|(i, c)| EcgChunk {
                first_sample_ms: (i * per_chunk) as f64 * interval_ms,
                sample_interval_ms: interval_ms,
                sensor_timestamp_ns: 0,
                samples_uv: c.iter().map(|&x| x.round() as i32).collect(),
            })
            .collect();
        let mut front = EcgFrontEnd::new(60.0).unwrap();
        let mut out: Vec<MonitorEvent> = Vec::with_capacity(256);
        let warm_up = chunks.len() / 5;
        for c in &chunks[..warm_up] {
            front.push_chunk(c, &mut out);
            out.clear();
        }
        let (mut events, mut heart_rates) = (0usize, 0usize);
        let allocations = allocations_in(|| {
            for c in &chunks[warm_up..] {
                front.push_chunk(c, &mut out);
                events += out.len();
                heart_rates += out
                    .iter()
                    .filter(|e| matches!(e, MonitorEvent::HeartRate(_)))
                    .count();
                out.clear();
            }
        });
        let samples: usize = chunks[warm_up..].iter().map(|c| c.samples_uv.len()).sum();
        assert!(heart_rates > 100, "{fs} Hz: {heart_rates} heart rates");
        assert!(
            allocations <= events,
            "{fs} Hz: {allocations} allocations for {events} events ({samples} samples)"
        );
    }
}

#[test]
fn rendering_does_not_allocate() {
    // Inputs and the imager are built before counting.
    let signal: Vec<f32> = (0..3900)
        .map(|i| {
            let t = (i % 104) as f32 / 104.0;
            (-((t - 0.4) / 0.03).powi(2)).exp() + 0.1 * (i as f32 * 0.01).sin()
        })
        .collect();
    let peaks: Vec<usize> = (0..37).map(|k| 42 + k * 104).collect();
    let rr: Vec<f32> = (0..36).map(|k| 0.8 + 0.01 * (k % 5) as f32).collect();
    let window = WindowData {
        signal: &signal,
        peaks: &peaks,
        rr_s: &rr,
    };
    let mut imager = Imager::new();
    let mut out = vec![0u8; IMAGE_PIXELS];
    let long_beat = vec![0.5f32; 5000];

    let allocations = allocations_in(|| {
        for _ in 0..3 {
            for channel in Channel::ALL {
                imager.render(channel, &window, &mut out).unwrap();
            }
            imager.render_beat(&signal[..96], &mut out).unwrap();
            imager.render_beat(&long_beat, &mut out).unwrap();
            imager
                .render_beat_overlay(&signal, &peaks, 900, 900, &mut out)
                .unwrap();
        }
    });
    assert_eq!(allocations, 0, "rendering allocated {allocations} times");
    // The counter does count: building a new imager allocates.
    assert!(allocations_in(|| drop(std::hint::black_box(Imager::new()))) > 0);
}
