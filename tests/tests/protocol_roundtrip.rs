//! Property tests: encode → decode round trips of the BLE values (HRM, PMD ECG type 0,
//! ACC types 0-2, delta-compressed frames, settings TLVs, capture files).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use stressbeat_core::{
    formats::pmd_capture::{CaptureWriter, parse},
    protocol::{
        hrs::{HeartRateMeasurement, SensorContact},
        pmd::{
            FrameContext, FrameData, MeasurementType, Settings, decode_frame, encode_acc_frame,
            encode_delta_frame, encode_ecg_frame,
        },
    },
};

fn contact() -> impl Strategy<Value = SensorContact> {
    prop_oneof![
        Just(SensorContact::NotSupported),
        Just(SensorContact::NoContact),
        Just(SensorContact::Contact)
    ]
}

const INT24: std::ops::RangeInclusive<i32> = -(1 << 23)..=(1 << 23) - 1;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn hrm_round_trip(
        bpm in any::<u16>(),
        wide in any::<bool>(),
        contact in contact(),
        energy in proptest::option::of(any::<u16>()),
        rr in proptest::collection::vec(any::<u16>(), 0..12),
    ) {
        let m = HeartRateMeasurement { bpm, bpm_u16: wide || bpm > 255, contact, energy_kj: energy, rr_1024: rr };
        let bytes = m.encode();
        prop_assert_eq!(HeartRateMeasurement::decode(&bytes).unwrap(), m);
    }

    #[test]
    fn ecg_type0_round_trip(ts in any::<u64>(), s in proptest::collection::vec(INT24, 1..100)) {
        let f = encode_ecg_frame(ts, &s).unwrap();
        prop_assert_eq!(f.len(), 10 + 3 * s.len());
        let d = decode_frame(&f, &FrameContext::default()).unwrap();
        prop_assert_eq!(d.header.timestamp_ns, ts);
        prop_assert_eq!(d.data, FrameData::Ecg(s));
    }

    #[test]
    fn acc_round_trip(ts in any::<u64>(), t in 0u8..=2, raw in proptest::collection::vec(any::<[i8; 3]>(), 1..50)) {
        let s: Vec<[i32; 3]> = raw.iter().map(|a| a.map(i32::from)).collect();
        let f = encode_acc_frame(ts, t, &s).unwrap();
        prop_assert_eq!(decode_frame(&f, &FrameContext::default()).unwrap().data, FrameData::Acc(s));
    }

    #[test]
    fn delta_ecg_round_trip(ts in any::<u64>(), first in -8192i32..8192, steps in proptest::collection::vec(-3000i32..3000, 0..600)) {
        // 14-bit reference sample (2 bytes), deltas of any width; > 255 samples spans blocks
        let mut s = vec![first];
        for d in steps { s.push(s[s.len() - 1] + d); }
        let ctx = FrameContext { resolution_bits: Some(14), factor: None };
        let f = encode_delta_frame(MeasurementType::Ecg, ts, 0, &s, &ctx).unwrap();
        prop_assert_eq!(decode_frame(&f, &ctx).unwrap().data, FrameData::Ecg(s));
    }

    #[test]
    fn delta_acc_round_trip(ts in any::<u64>(), raw in proptest::collection::vec(any::<[i16; 3]>(), 1..300)) {
        let flat: Vec<i32> = raw.iter().flat_map(|a| a.map(i32::from)).collect();
        let ctx = FrameContext::default();
        let f = encode_delta_frame(MeasurementType::Acc, ts, 1, &flat, &ctx).unwrap();
        let want: Vec<[i32; 3]> = raw.iter().map(|a| a.map(i32::from)).collect();
        prop_assert_eq!(decode_frame(&f, &ctx).unwrap().data, FrameData::Acc(want));
    }

    #[test]
    fn settings_round_trip(
        rates in proptest::collection::vec(any::<u16>(), 0..5),
        res in proptest::collection::vec(any::<u16>(), 0..3),
        ranges in proptest::collection::vec(any::<u16>(), 0..4),
        milli in proptest::collection::vec(any::<u32>(), 0..3),
        channels in proptest::collection::vec(any::<u8>(), 0..2),
        factor in proptest::option::of(-1e6f32..1e6),
    ) {
        let s = Settings { sample_rates: rates, resolutions: res, ranges, ranges_milli: milli, channels, factor };
        let mut b = Vec::new();
        s.encode_into(&mut b);
        prop_assert_eq!(Settings::decode(&b).unwrap(), s);
    }

    #[test]
    fn capture_round_trip(records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20)) {
        let mut w = CaptureWriter::new(Vec::new()).unwrap();
        for r in &records { w.write_record(r).unwrap(); }
        let bytes = w.into_inner();
        let back: Vec<Vec<u8>> = parse(&bytes).unwrap().into_iter().map(<[u8]>::to_vec).collect();
        prop_assert_eq!(back, records);
    }
}
