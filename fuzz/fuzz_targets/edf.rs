#![no_main]
//! Any bytes parse to a recording or a ParseError; a parsed recording holds exactly
//! records × samples-per-record samples per ordinary signal.
use libfuzzer_sys::fuzz_target;
use stressbeat_core::formats::edf;

fuzz_target!(|data: &[u8]| {
    let Ok(rec) = edf::parse(data) else { return };
    let Ok(header) = edf::parse_header(data) else { panic!("parse succeeded but parse_header failed") };
    let ordinary = header.signals.iter().filter(|s| !s.is_annotations());
    assert_eq!(rec.signals.len(), ordinary.clone().count());
    for (sig, spec) in rec.signals.iter().zip(ordinary) {
        assert_eq!(sig.samples.len() as u64, header.data_records * spec.samples_per_record as u64);
    }
});
