#![no_main]
//! PMD capture reader (the input gets the magic prepended half of the time so records are
//! reached), each record through the frame decoder and the timing tracker.
use libfuzzer_sys::fuzz_target;
use stressbeat_core::formats::pmd_capture::{MAGIC, records};
use stressbeat_core::protocol::{pmd, timing::EcgFrameTracker};

fuzz_target!(|data: &[u8]| {
    let Some((&opts, rest)) = data.split_first() else { return };
    let bytes: Vec<u8> = if opts & 1 != 0 {
        MAGIC.iter().chain(rest).copied().collect()
    } else {
        rest.to_vec()
    };
    let Ok(recs) = records(&bytes) else { return };
    let mut tracker = EcgFrameTracker::default();
    let mut samples = Vec::new();
    for (i, rec) in recs.enumerate() {
        let Ok((_, body)) = rec else { break };
        if let Ok(h) = pmd::decode_ecg_into(body, &pmd::FrameContext::default(), &mut samples) {
            let out = tracker.push(h.timestamp_ns, &samples, (opts & 2 != 0).then_some(i as i64 * 561_000_000));
            if let Some(t) = out.times {
                assert_eq!(t.n, samples.len());
                assert_eq!(t.time_ns(t.n - 1), h.timestamp_ns);
            }
        }
    }
});
