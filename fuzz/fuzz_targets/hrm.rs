#![no_main]
//! Heart Rate Measurement and Battery Level decoders; a decoded HRM re-encodes to a value that
//! decodes to the same measurement.
use libfuzzer_sys::fuzz_target;
use stressbeat_core::protocol::hrs::{HeartRateMeasurement, decode_battery};

fuzz_target!(|data: &[u8]| {
    let _ = decode_battery(data);
    if let Ok(m) = HeartRateMeasurement::decode(data) {
        let again = HeartRateMeasurement::decode(&m.encode()).expect("re-encoded HRM decodes");
        assert_eq!(again, m);
    }
});
