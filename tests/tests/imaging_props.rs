//! Property tests of `imaging`: arbitrary inputs (NaN, infinities, huge values, any length, any
//! peaks) never panic, always fill exactly the image, and render deterministically.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use stressbeat_core::imaging::{Channel, IMAGE_PIXELS, Imager, WindowData};

/// Any f32 including NaN and ±inf, biased towards ECG-like values.
fn sample() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -5.0f32..5.0,
        1 => any::<f32>(),
        1 => Just(f32::NAN),
        1 => prop_oneof![Just(f32::INFINITY), Just(f32::NEG_INFINITY), Just(f32::MAX)],
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_input_renders_without_panicking(
        signal in prop::collection::vec(sample(), 0..1500),
        peaks in prop::collection::vec(prop_oneof![0usize..1600, any::<usize>()], 0..30),
        rr in prop::collection::vec(prop_oneof![4 => 0.0f32..3.0, 1 => sample()], 0..60),
        pre in 0usize..300,
        post in 0usize..300,
    ) {
        let mut imager = Imager::new();
        let window = WindowData { signal: &signal, peaks: &peaks, rr_s: &rr };
        let mut a = vec![1u8; IMAGE_PIXELS];
        let mut b = vec![2u8; IMAGE_PIXELS];
        for channel in Channel::ALL {
            imager.render(channel, &window, &mut a).unwrap();
            imager.render(channel, &window, &mut b).unwrap();
            prop_assert_eq!(&a, &b);
        }
        imager.render_beat(&signal, &mut a).unwrap();
        imager.render_beat_overlay(&signal, &peaks, pre, post, &mut a).unwrap();
        // A finite, non-empty beat is never blank.
        let finite: Vec<f32> = signal.iter().copied().filter(|v| v.is_finite()).collect();
        if !finite.is_empty() {
            imager.render_beat(&finite, &mut a).unwrap();
            prop_assert!(a.iter().any(|&v| v > 0));
        }
    }
}
