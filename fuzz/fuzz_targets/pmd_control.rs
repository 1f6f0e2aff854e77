#![no_main]
//! PMD control point: single-packet decoder, settings TLVs of replies, and the multi-packet
//! assembler fed with the input split at 0xFF bytes.
use libfuzzer_sys::fuzz_target;
use stressbeat_core::protocol::pmd::{
    ControlPointMessage, ReplyAssembler, Settings, decode_control_point, decode_features,
};

fuzz_target!(|data: &[u8]| {
    let _ = decode_features(data);
    if let Ok(s) = Settings::decode(data) {
        let mut b = Vec::new();
        s.encode_into(&mut b);
        assert!(Settings::decode(&b).is_ok());
    }
    if let Ok(ControlPointMessage::Response(r)) = decode_control_point(data) {
        let _ = r.settings();
    }
    let mut a = ReplyAssembler::new();
    for packet in data.split(|&b| b == 0xFF) {
        if let Ok(Some(ControlPointMessage::Response(r))) = a.push(packet) {
            let _ = r.settings();
        }
    }
});
