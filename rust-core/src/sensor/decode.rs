//! The few byte layouts the session needs (../shared/docs/protocols.md). Kept minimal and private to the
//! sensor module, delegating to `crate::protocol`.

use crate::protocol::{ProtocolError, hrs, pmd};

/// A parsed PMD ECG data frame (µV samples).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EcgFrame {
    /// Sensor timestamp of the last sample, ns.
    pub timestamp_ns: u64,
    pub samples_uv: Vec<i32>,
}

/// Parse an ECG data frame with [`pmd::decode_ecg_into`]; `None` for anything else (other
/// measurement, bad length, no samples).
pub(crate) fn ecg_frame(bytes: &[u8]) -> Option<EcgFrame> {
    let mut samples_uv = Vec::with_capacity(73);
    let h = pmd::decode_ecg_into(bytes, &pmd::FrameContext::default(), &mut samples_uv).ok()?;
    (!samples_uv.is_empty()).then_some(EcgFrame {
        timestamp_ns: h.timestamp_ns,
        samples_uv,
    })
}

/// A data frame of another measurement than ECG (what an ACC stream started by another app
/// on the phone sends to every subscriber): the header is whole and names a known type.
pub(crate) fn other_measurement_frame(bytes: &[u8]) -> bool {
    bytes.len() > pmd::FRAME_HEADER_LEN
        && pmd::MeasurementType::from_code(bytes[0] & 0x3F)
            .is_some_and(|m| m != pmd::MeasurementType::Ecg)
}

/// A decoded Heart Rate Measurement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HeartRate {
    pub bpm: u16,
    pub contact: Option<bool>,
    pub rr_ms: Vec<f64>,
    /// The malformed tail left out (an odd byte after the RR intervals, …).
    pub tail_error: Option<ProtocolError>,
}

/// Decode a Heart Rate Measurement, keeping the heart rate and whole intervals of a value with a
/// malformed tail ([`hrs::HeartRateMeasurement::decode_lenient`]).
pub(crate) fn heart_rate(b: &[u8]) -> Result<HeartRate, ProtocolError> {
    let (m, tail_error) = hrs::HeartRateMeasurement::decode_lenient(b)?;
    Ok(HeartRate {
        bpm: m.bpm,
        contact: m.contact.detected(),
        // an RR of 0 is no interval (seen from straps losing the beat); it would fail every
        // consumer downstream (HRV, the history's positive-interval check)
        rr_ms: m.rr_ms().filter(|&ms| ms > 0.0).collect(),
        tail_error,
    })
}

/// A Battery Level value (0-100 %, one byte); anything else is malformed.
pub(crate) fn battery(b: &[u8]) -> Option<u8> {
    hrs::decode_battery(b).ok()
}

/// A control-point message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cp {
    Reply {
        opcode: u8,
        measurement: u8,
        status: u8,
        /// (sample rates, resolutions) offered / accepted, when the parameters hold settings.
        settings: (Vec<u16>, Vec<u16>),
    },
    /// Features read: ECG supported?
    Features { ecg: bool },
    /// The strap stopped a stream itself: the ECG one among them? (`01 <types…>`; without types,
    /// taken to be ours.)
    Stopped { ecg: bool },
}

/// Feed a control-point value to `replies` (which assembles replies of several indications):
/// `Ok(None)` while a reply is incomplete; an error for a malformed value or a reply that cannot
/// be assembled.
pub(crate) fn control_point(
    replies: &mut pmd::ReplyAssembler,
    b: &[u8],
) -> Result<Option<Cp>, ProtocolError> {
    Ok(replies.push(b)?.map(|msg| match msg {
        pmd::ControlPointMessage::Response(r) => {
            let settings = r
                .settings()
                .map(|s| (s.sample_rates, s.resolutions))
                .unwrap_or_default();
            Cp::Reply {
                opcode: r.opcode,
                measurement: r.measurement_byte & 0x3F,
                status: r.status.code(),
                settings,
            }
        }
        pmd::ControlPointMessage::Features(set) => Cp::Features {
            ecg: set.contains(pmd::MeasurementType::Ecg),
        },
        // the measurement types stopped, as Polar's SDK reads them (BlePMDClient.kt,
        // BlePmdClient.swift: each byte after `01` closes that type's stream)
        pmd::ControlPointMessage::MeasurementStopped { params } => Cp::Stopped {
            ecg: params.is_empty() || params.contains(&pmd::MeasurementType::Ecg.code()),
        },
    }))
}

/// `02 00` + sample rate + resolution TLVs.
pub(crate) fn start_ecg_command(rate: u16, resolution: u16) -> Vec<u8> {
    pmd::Command::Start {
        measurement: pmd::MeasurementType::Ecg,
        settings: pmd::Settings::select(rate, resolution, None),
    }
    .encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h10_sequences() {
        assert_eq!(
            start_ecg_command(130, 14),
            [0x02, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E, 0x00]
        );
        let reply = [
            0xF0, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E, 0x00,
        ];
        let mut replies = pmd::ReplyAssembler::new();
        assert_eq!(
            control_point(&mut replies, &reply).unwrap().unwrap(),
            Cp::Reply {
                opcode: 1,
                measurement: 0,
                status: 0,
                settings: (vec![130], vec![14])
            }
        );
        assert_eq!(
            control_point(&mut replies, &[0x0F, 0x05, 0x00]),
            Ok(Some(Cp::Features { ecg: true }))
        );
        assert_eq!(
            control_point(&mut replies, &[0x01, 0x00]),
            Ok(Some(Cp::Stopped { ecg: true }))
        );
        assert_eq!(
            control_point(&mut replies, &[0x01, 0x02]),
            Ok(Some(Cp::Stopped { ecg: false }))
        );
        let hr = heart_rate(&[0x10, 0x3C, 0x37, 0x04, 0x07, 0x03]).unwrap();
        assert_eq!(hr.bpm, 60);
        assert!((hr.rr_ms[0] - 1053.7).abs() < 0.1 && (hr.rr_ms[1] - 756.8).abs() < 0.1);
        // an RR of 0 is left out, the rest of the value kept
        let hr = heart_rate(&[0x10, 0x3C, 0x00, 0x00, 0x00, 0x04]).unwrap();
        assert_eq!((hr.bpm, hr.rr_ms, hr.tail_error), (60, vec![1000.0], None));
        // an odd trailing byte: the heart rate and the whole interval kept, the tail told
        let hr = heart_rate(&[0x10, 0x3C, 0x00, 0x04, 0x07]).unwrap();
        assert_eq!((hr.bpm, hr.rr_ms), (60, vec![1000.0]));
        assert!(hr.tail_error.is_some());
        assert!(heart_rate(&[0x01, 0x3C]).is_err());
        let mut f = vec![0u8; 10];
        f.extend([0x02, 0x80, 0xFF]);
        assert_eq!(ecg_frame(&f).unwrap().samples_uv, [-32766]);
    }
}
