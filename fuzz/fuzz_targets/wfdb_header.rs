#![no_main]
//! Any text must parse to a header or a ParseError, never panic.
use libfuzzer_sys::fuzz_target;
use stressbeat_core::formats::wfdb;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = wfdb::parse_header(text);
    }
});
