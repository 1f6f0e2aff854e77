#![no_main]
//! First byte picks the options (rate given or not, unit given or not); the rest is the text.
//! Parsed channels share one positive finite rate and one length, and the ECG one is among them.
use libfuzzer_sys::fuzz_target;
use stressbeat_core::formats::csv::{CsvOptions, parse_channels};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let opts = CsvOptions {
        sampling_rate_hz: (flags & 1 != 0).then_some(250.0),
        unit: (flags & 2 != 0).then_some("uV"),
    };
    if let Ok(rec) = parse_channels(text, &opts) {
        let ecg = &rec.signals[rec.ecg];
        assert!(ecg.sampling_rate_hz.is_finite() && ecg.sampling_rate_hz > 0.0);
        assert!(!ecg.samples.is_empty());
        for s in &rec.signals {
            assert_eq!(s.sampling_rate_hz, ecg.sampling_rate_hz);
            assert_eq!(s.samples.len(), ecg.samples.len());
        }
    }
});
