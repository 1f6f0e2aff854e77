//! An EDF+ export never holds the session's ECG whole: its heap peak grows with the data records
//! and the annotations, not with the hours of ECG (a phone exports day-long sessions). Measured by
//! a global allocator wrapper on this test's thread (SQLite's own cache is not Rust's heap).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use stressbeat_core::history::{
    EcgChunk, History, HistoryOptions, HistorySink, SessionStart, SourceKind,
};

/// The system allocator, keeping the live bytes (and their peak) of the threads that set
/// `TRACKING`.
struct PeakTracking;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    // `try_with`: the allocator also runs while thread-locals are torn down
    let _ = TRACKING.try_with(|t| {
        if t.get() {
            let live = LIVE.with(|l| {
                l.set(l.get() + delta);
                l.get()
            });
            PEAK.with(|p| p.set(p.get().max(live)));
        }
    });
}

// SAFETY: forwards every call unchanged to `System`.
unsafe impl GlobalAlloc for PeakTracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(new_size as isize - layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: PeakTracking = PeakTracking;

/// The most heap `f` held at once on this thread, above what was live when it started.
fn heap_peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    TRACKING.with(|t| t.set(true));
    let out = f();
    TRACKING.with(|t| t.set(false));
    (out, PEAK.with(Cell::get).max(0) as usize)
}

/// 2026-11-21T00:00:00Z
const T0: i64 = 1_795_219_200_000;
const RATE_HZ: u32 = 130;
/// Samples per stored chunk: one Polar H10 ECG frame.
const FRAME: usize = 73;

#[test]
fn an_edf_export_of_hours_of_ecg_holds_only_records_and_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path().join("h.db"), HistoryOptions::default()).unwrap();
    let session = h
        .begin_session(&SessionStart {
            started_at_ms: T0,
            source: SourceKind::Simulator,
            device_model: Some("Polar H10".into()),
            device_identity: None,
        })
        .unwrap();
    // three hours of ECG with a 10-minute hole in the middle
    let frames = 3 * 3600 * RATE_HZ as usize / FRAME;
    let hole = frames / 2..frames / 2 + 600 * RATE_HZ as usize / FRAME;
    let mut frame = vec![0i32; FRAME];
    for k in (0..frames).filter(|k| !hole.contains(k)) {
        for (i, v) in frame.iter_mut().enumerate() {
            *v = ((k * FRAME + i) % 400) as i32 - 200;
        }
        let first_sample_ms = T0 + (k * FRAME) as i64 * 1000 / i64::from(RATE_HZ);
        h.append_ecg(
            session,
            &EcgChunk {
                first_sample_ms,
                sampling_rate_hz: RATE_HZ,
                samples_uv: &frame,
            },
        )
        .unwrap();
    }
    h.flush().unwrap();

    let (report, peak) = heap_peak_of(|| h.export_edf(session, &mut std::io::sink()).unwrap());
    let ecg_bytes = report.samples as usize * std::mem::size_of::<i32>();
    assert_eq!(report.samples as usize, frames * FRAME);
    assert!(report.filled_samples > 0, "{report:?}");
    // the samples alone are 5.6 MB as i32 (holding them whole peaked at 9.9 MB); a record and
    // the annotations are a few kB
    assert!(
        peak < 256 << 10,
        "the export held {peak} bytes at once for {ecg_bytes} bytes of ECG"
    );
}
