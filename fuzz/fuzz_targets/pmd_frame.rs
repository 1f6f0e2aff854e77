#![no_main]
//! PMD data frames (ECG/ACC, uncompressed and delta). First byte picks the context (resolution
//! 8/14/16/24 bits, with or without a conversion factor); the rest is the frame. A decoded frame
//! has samples, and the ECG fast path agrees with the general decoder.
use libfuzzer_sys::fuzz_target;
use stressbeat_core::protocol::pmd::{FrameContext, FrameData, decode_ecg_into, decode_frame};

fuzz_target!(|data: &[u8]| {
    let Some((&opts, frame)) = data.split_first() else { return };
    let ctx = FrameContext {
        resolution_bits: match opts & 3 {
            0 => None,
            1 => Some(8),
            2 => Some(16),
            _ => Some(24),
        },
        factor: (opts & 4 != 0).then_some(0.5),
    };
    let decoded = decode_frame(frame, &ctx);
    let mut ecg = Vec::new();
    let fast = decode_ecg_into(frame, &ctx, &mut ecg);
    if let Ok(f) = &decoded {
        assert!(!f.data.is_empty());
        if let FrameData::Ecg(s) = &f.data {
            assert_eq!(fast.as_ref().ok(), Some(&f.header));
            assert_eq!(&ecg, s);
        }
    }
});
