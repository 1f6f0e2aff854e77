#![no_main]
//! Input = header text, a 0 byte, then the signal file's bytes. Every signal file the header
//! names is decoded from those bytes (checksums, skew, physical scaling included); a decoded
//! signal must hold exactly frames × samples-per-frame samples.
use libfuzzer_sys::fuzz_target;
use stressbeat_core::formats::wfdb;

fuzz_target!(|data: &[u8]| {
    let Some(split) = data.iter().position(|&b| b == 0) else { return };
    let (head, rest) = data.split_at(split);
    let Ok(text) = std::str::from_utf8(head) else { return };
    let Ok(header) = wfdb::parse_header(text) else { return };
    let bytes = rest.get(1..).unwrap_or_default();
    for file in header.signal_files() {
        let Ok(signals) = wfdb::read_signal_file(&header, file, bytes) else { continue };
        let lens: Vec<u64> = signals.iter().map(|(_, s)| s.samples.len() as u64).collect();
        for ((i, _), len) in signals.iter().zip(lens) {
            let spf = u64::from(header.signals[*i].samples_per_frame);
            if let Some(frames) = header.frames {
                assert_eq!(len, frames * spf, "signal {i}");
            }
            assert_eq!(len % spf, 0, "signal {i}");
        }
    }
});
