//! Rendering any channel allocates nothing once the `Imager` exists (counted by a global
//! allocator wrapper, on the test's own thread only: the test harness's threads allocate too).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use stressbeat_core::imaging::{Channel, IMAGE_PIXELS, Imager, WindowData};

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

    COUNTING.with(|c| c.set(true));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
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
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(
        after - before,
        0,
        "rendering allocated {} times",
        after - before
    );
    // The counter does count: building a new imager allocates.
    let _another = std::hint::black_box(Imager::new());
    assert!(ALLOCATIONS.load(Ordering::Relaxed) > after);
    COUNTING.with(|c| c.set(false));
}
