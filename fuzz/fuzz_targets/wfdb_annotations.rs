#![no_main]
use libfuzzer_sys::fuzz_target;
use stressbeat_core::formats::wfdb;

fuzz_target!(|data: &[u8]| {
    let _ = wfdb::parse_annotations(data);
});
