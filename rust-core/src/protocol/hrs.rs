//! Heart Rate Measurement 0x2A37 and Battery Level 0x2A19 (Bluetooth SIG Heart Rate / Battery
//! services; layout in `../shared/docs/protocols.md`).

use super::{ProtocolError, Reader, Result};

/// Flag bits of the Heart Rate Measurement (`../shared/docs/protocols.md`).
const FLAG_U16: u8 = 0x01;
const FLAG_CONTACT_SUPPORTED: u8 = 0x04;
const FLAG_CONTACT: u8 = 0x02;
const FLAG_ENERGY: u8 = 0x08;
const FLAG_RR: u8 = 0x10;

/// The sensor-contact status (flag bits 1-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SensorContact {
    /// Bits 1-2 = 0 or 1: the sensor does not report contact.
    NotSupported,
    /// Bits 1-2 = 2.
    NoContact,
    /// Bits 1-2 = 3.
    Contact,
}

impl SensorContact {
    /// `Some(true/false)` when the sensor reports contact, `None` when it cannot tell.
    pub fn detected(self) -> Option<bool> {
        match self {
            SensorContact::NotSupported => None,
            SensorContact::NoContact => Some(false),
            SensorContact::Contact => Some(true),
        }
    }
}

/// One Heart Rate Measurement notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartRateMeasurement {
    pub bpm: u16,
    /// True when the value carried the heart rate as u16 (flag bit 0); kept for byte-exact re-encoding.
    pub bpm_u16: bool,
    pub contact: SensorContact,
    /// Energy expended, kJ (flag bit 3).
    pub energy_kj: Option<u16>,
    /// RR intervals in 1/1024 s, oldest first.
    pub rr_1024: Vec<u16>,
}

/// RR interval 1/1024 s → ms (raw × 1000 / 1024, not raw × 1.024).
pub fn rr_to_ms(raw: u16) -> f64 {
    f64::from(raw) * 1000.0 / 1024.0
}

/// ms → RR interval in 1/1024 s (rounded, saturating).
pub fn rr_from_ms(ms: f64) -> u16 {
    (ms * 1024.0 / 1000.0)
        .round()
        .clamp(0.0, f64::from(u16::MAX)) as u16
}

impl HeartRateMeasurement {
    /// RR intervals in ms, oldest first.
    pub fn rr_ms(&self) -> impl Iterator<Item = f64> + '_ {
        self.rr_1024.iter().map(|&r| rr_to_ms(r))
    }

    /// Decode a 0x2A37 value strictly. Reserved flag bits 5-7 are ignored; an odd trailing RR
    /// byte, or bytes after the heart rate (and energy) without the RR flag, are an error.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        match Self::decode_lenient(bytes)? {
            (m, None) => Ok(m),
            (_, Some(tail)) => Err(tail),
        }
    }

    /// Decode a 0x2A37 value as Polar's iOS SDK reads it (polar-ble-sdk `BleHrClient.swift`):
    /// a malformed tail (an odd byte after the RR intervals, bytes after the heart rate without
    /// the RR flag) does not lose the heart rate and the whole RR intervals; it is left out and
    /// returned as the error [`Self::decode`] gives for it. A value whose flags, heart rate or
    /// announced energy are truncated is an error.
    pub fn decode_lenient(bytes: &[u8]) -> Result<(Self, Option<ProtocolError>)> {
        let mut r = Reader::new(bytes);
        let flags = r.u8("flags")?;
        let bpm_u16 = flags & FLAG_U16 != 0;
        let bpm = if bpm_u16 {
            r.u16("heart rate (u16)")?
        } else {
            u16::from(r.u8("heart rate (u8)")?)
        };
        let contact = match (
            flags & FLAG_CONTACT_SUPPORTED != 0,
            flags & FLAG_CONTACT != 0,
        ) {
            (false, _) => SensorContact::NotSupported,
            (true, false) => SensorContact::NoContact,
            (true, true) => SensorContact::Contact,
        };
        let energy_kj = if flags & FLAG_ENERGY != 0 {
            Some(r.u16("energy expended")?)
        } else {
            None
        };
        let mut rr_1024 = Vec::new();
        let tail = if flags & FLAG_RR != 0 {
            rr_1024.reserve(r.remaining() / 2);
            while r.remaining() >= 2 {
                rr_1024.push(r.u16("RR interval")?);
            }
            r.u16("RR interval").err().filter(|_| r.remaining() > 0)
        } else {
            r.finish().err()
        };
        Ok((
            Self {
                bpm,
                bpm_u16,
                contact,
                energy_kj,
                rr_1024,
            },
            tail,
        ))
    }

    /// Encode as a 0x2A37 value. The heart rate is written as u16 when `bpm_u16` is set or it
    /// exceeds 255; the RR flag is set when there are RR intervals.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(5 + 2 * self.rr_1024.len());
        self.encode_into(&mut out);
        out
    }

    /// Append the encoded value to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let wide = self.bpm_u16 || self.bpm > 255;
        let mut flags = 0u8;
        if wide {
            flags |= FLAG_U16;
        }
        flags |= match self.contact {
            SensorContact::NotSupported => 0,
            SensorContact::NoContact => FLAG_CONTACT_SUPPORTED,
            SensorContact::Contact => FLAG_CONTACT_SUPPORTED | FLAG_CONTACT,
        };
        if self.energy_kj.is_some() {
            flags |= FLAG_ENERGY;
        }
        if !self.rr_1024.is_empty() {
            flags |= FLAG_RR;
        }
        out.push(flags);
        if wide {
            out.extend_from_slice(&self.bpm.to_le_bytes());
        } else {
            out.push(self.bpm as u8);
        }
        if let Some(e) = self.energy_kj {
            out.extend_from_slice(&e.to_le_bytes());
        }
        for rr in &self.rr_1024 {
            out.extend_from_slice(&rr.to_le_bytes());
        }
    }
}

/// Decode a Battery Level 0x2A19 value: one byte, percent 0-100.
pub fn decode_battery(bytes: &[u8]) -> Result<u8> {
    let mut r = Reader::new(bytes);
    let level = r.u8("battery level")?;
    r.finish()?;
    if level > 100 {
        return Err(ProtocolError::Invalid {
            at: 0,
            what: "battery level (percent)",
            value: u64::from(level),
        });
    }
    Ok(level)
}

/// Encode a Battery Level value (clamped to 100 %).
pub fn encode_battery(percent: u8) -> [u8; 1] {
    [percent.min(100)]
}

/// The usable (finite, positive) RR intervals (ms) of one notification received at `at_ms`, each
/// with when it ended: RR values carry no time and arrive after their beat, so the last is taken
/// to end on arrival and each earlier one where the next began; none before `after_ms` (the
/// previous interval's end), so the ends never go backwards.
pub fn interval_ends(
    at_ms: f64,
    rr_ms: &[f64],
    mut after_ms: f64,
) -> impl Iterator<Item = (f64, f64)> + '_ {
    let usable = |v: &&f64| v.is_finite() && **v > 0.0;
    let mut later: f64 = rr_ms.iter().filter(usable).sum();
    rr_ms.iter().filter(usable).map(move |&rr| {
        later -= rr;
        let end = (at_ms - later).max(after_ms);
        after_ms = end;
        (end, rr)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_from_protocols_md() {
        let m = HeartRateMeasurement::decode(&[0x10, 0x3C, 0x37, 0x04, 0x07, 0x03]).unwrap();
        assert_eq!(m.bpm, 60);
        assert_eq!(m.contact, SensorContact::NotSupported);
        assert_eq!(m.energy_kj, None);
        assert_eq!(m.rr_1024, vec![1079, 775]);
        let ms: Vec<f64> = m.rr_ms().collect();
        assert!((ms[0] - 1053.7).abs() < 0.05, "{ms:?}");
        assert!((ms[1] - 756.8).abs() < 0.05, "{ms:?}");
        assert_eq!(m.encode(), vec![0x10, 0x3C, 0x37, 0x04, 0x07, 0x03]);
    }

    #[test]
    fn flags_u16_contact_energy() {
        // u16 HR 300, contact supported + detected, energy 0x0102, no RR.
        let bytes = [0x0F, 0x2C, 0x01, 0x02, 0x01];
        let m = HeartRateMeasurement::decode(&bytes).unwrap();
        assert_eq!(m.bpm, 300);
        assert_eq!(m.contact, SensorContact::Contact);
        assert_eq!(m.contact.detected(), Some(true));
        assert_eq!(m.energy_kj, Some(0x0102));
        assert!(m.rr_1024.is_empty());
        assert_eq!(m.encode(), bytes);
        // contact supported, not detected; bit 1 alone means "not supported".
        let m = HeartRateMeasurement::decode(&[0x04, 70]).unwrap();
        assert_eq!(m.contact.detected(), Some(false));
        let m = HeartRateMeasurement::decode(&[0x02, 70]).unwrap();
        assert_eq!(m.contact, SensorContact::NotSupported);
        // reserved bits ignored
        assert_eq!(HeartRateMeasurement::decode(&[0xE0, 70]).unwrap().bpm, 70);
    }

    #[test]
    fn malformed() {
        assert!(matches!(
            HeartRateMeasurement::decode(&[]),
            Err(ProtocolError::Truncated { at: 0, .. })
        ));
        assert!(matches!(
            HeartRateMeasurement::decode(&[0x01, 0x3C]),
            Err(ProtocolError::Truncated { at: 1, .. })
        ));
        assert!(matches!(
            HeartRateMeasurement::decode(&[0x08, 0x3C, 0x01]),
            Err(ProtocolError::Truncated { at: 2, .. })
        ));
        assert!(matches!(
            HeartRateMeasurement::decode(&[0x10, 0x3C, 0x37, 0x04, 0x07]),
            Err(ProtocolError::Truncated { at: 4, .. })
        ));
        // bytes after the HR without the RR flag
        assert!(matches!(
            HeartRateMeasurement::decode(&[0x00, 0x3C, 0x00]),
            Err(ProtocolError::Trailing { at: 2, count: 1 })
        ));
        // leniently, the heart rate and the whole intervals are kept, the tail's error told
        let (m, tail) =
            HeartRateMeasurement::decode_lenient(&[0x10, 0x3C, 0x37, 0x04, 0x07]).unwrap();
        assert_eq!((m.bpm, m.rr_1024), (60, vec![1079]));
        assert!(matches!(
            tail,
            Some(ProtocolError::Truncated {
                at: 4,
                needed: 1,
                ..
            })
        ));
        let (m, tail) = HeartRateMeasurement::decode_lenient(&[0x00, 0x3C, 0x00]).unwrap();
        assert_eq!((m.bpm, m.rr_1024.len()), (60, 0));
        assert_eq!(tail, Some(ProtocolError::Trailing { at: 2, count: 1 }));
        let (m, tail) = HeartRateMeasurement::decode_lenient(&[0x10, 0x3C, 0x37, 0x04]).unwrap();
        assert_eq!((m.rr_1024, tail), (vec![1079], None));
        // a truncated heart rate or energy is not a tail
        assert!(HeartRateMeasurement::decode_lenient(&[0x01, 0x3C]).is_err());
        assert!(HeartRateMeasurement::decode_lenient(&[0x18, 0x3C, 0x01]).is_err());
    }

    #[test]
    fn rr_units() {
        assert_eq!(rr_to_ms(1024), 1000.0);
        assert_eq!(rr_from_ms(1000.0), 1024);
        assert_eq!(rr_from_ms(rr_to_ms(775)), 775);
    }

    #[test]
    fn battery() {
        assert_eq!(decode_battery(&[87]).unwrap(), 87);
        assert_eq!(encode_battery(87), [87]);
        assert!(matches!(
            decode_battery(&[101]),
            Err(ProtocolError::Invalid { at: 0, .. })
        ));
        assert!(decode_battery(&[]).is_err());
        assert!(matches!(
            decode_battery(&[50, 1]),
            Err(ProtocolError::Trailing { at: 1, .. })
        ));
    }
}
