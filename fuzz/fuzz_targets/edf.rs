#![no_main]
use libfuzzer_sys::fuzz_target;
use stressbeat_core::formats::edf;

fuzz_target!(|data: &[u8]| {
    let _ = edf::parse(data);
});
