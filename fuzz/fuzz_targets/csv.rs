#![no_main]
//! First byte picks the options (rate given or not, unit given or not); the rest is the text.
//! A parsed signal has a positive finite rate.
use libfuzzer_sys::fuzz_target;
use stressbeat_core::formats::csv::{CsvOptions, parse};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let opts = CsvOptions {
        sampling_rate_hz: (flags & 1 != 0).then_some(250.0),
        unit: (flags & 2 != 0).then_some("uV"),
    };
    if let Ok(signal) = parse(text, &opts) {
        assert!(signal.sampling_rate_hz.is_finite() && signal.sampling_rate_hz > 0.0);
        assert!(!signal.samples.is_empty());
    }
});
