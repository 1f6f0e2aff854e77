//! The few byte layouts the session needs (docs/protocols.md). Kept minimal and private to the
//! sensor module: the full decoders live in `crate::protocol`.

/// Nanoseconds between 2000-01-01 and 1970-01-01 are irrelevant here: the session only uses
/// differences of sensor timestamps.
/// PMD ECG frame header length.
pub(crate) const PMD_HEADER: usize = 10;

/// A parsed PMD ECG data frame (type 0, uncompressed int24 µV).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EcgFrame {
    /// Sensor timestamp of the last sample, ns.
    pub timestamp_ns: u64,
    pub samples_uv: Vec<i32>,
}

/// Parse an ECG data frame; `None` for anything else (other measurement, compressed, bad length).
pub(crate) fn ecg_frame(bytes: &[u8]) -> Option<EcgFrame> {
    if bytes.len() < PMD_HEADER + 3 || (bytes.len() - PMD_HEADER) % 3 != 0 {
        return None;
    }
    if bytes[0] & 0x3F != 0 || bytes[9] != 0 {
        return None;
    }
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&bytes[1..9]);
    let timestamp_ns = u64::from_le_bytes(ts);
    let samples_uv = bytes[PMD_HEADER..]
        .chunks_exact(3)
        .map(|c| (i32::from_le_bytes([0, c[0], c[1], c[2]])) >> 8)
        .collect();
    Some(EcgFrame {
        timestamp_ns,
        samples_uv,
    })
}

/// A decoded Heart Rate Measurement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HeartRate {
    pub bpm: u16,
    pub contact: Option<bool>,
    pub rr_ms: Vec<f64>,
}

pub(crate) fn heart_rate(b: &[u8]) -> Option<HeartRate> {
    let flags = *b.first()?;
    let mut i = 1;
    let bpm = if flags & 1 != 0 {
        let v = u16::from_le_bytes([*b.get(1)?, *b.get(2)?]);
        i += 2;
        v
    } else {
        i += 1;
        u16::from(*b.get(1)?)
    };
    let contact = match (flags >> 1) & 3 {
        2 => Some(false),
        3 => Some(true),
        _ => None,
    };
    if flags & 0x08 != 0 {
        i += 2;
    }
    let mut rr_ms = Vec::new();
    if flags & 0x10 != 0 {
        while i + 1 < b.len() {
            let raw = u16::from_le_bytes([b[i], b[i + 1]]);
            rr_ms.push(f64::from(raw) * 1000.0 / 1024.0);
            i += 2;
        }
    }
    Some(HeartRate {
        bpm,
        contact,
        rr_ms,
    })
}

/// A control-point reply `F0 <op> <type> <status> <more> <params…>`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CpReply<'a> {
    pub opcode: u8,
    pub measurement: u8,
    pub status: u8,
    pub params: &'a [u8],
}

pub(crate) fn cp_reply(b: &[u8]) -> Option<CpReply<'_>> {
    if b.len() < 4 || b[0] != 0xF0 {
        return None;
    }
    Some(CpReply {
        opcode: b[1],
        measurement: b[2],
        status: b[3],
        params: b.get(5..).unwrap_or(&[]),
    })
}

/// Settings TLVs → (sample rates, resolutions). Unknown types are skipped by their width.
pub(crate) fn settings(params: &[u8]) -> (Vec<u16>, Vec<u16>) {
    let (mut rates, mut res) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i + 2 <= params.len() {
        let (ty, count) = (params[i], params[i + 1] as usize);
        i += 2;
        let width = match ty {
            3 | 5 => 4,
            4 => 1,
            _ => 2,
        };
        for k in 0..count {
            let at = i + k * width;
            if width == 2 && at + 2 <= params.len() {
                let v = u16::from_le_bytes([params[at], params[at + 1]]);
                match ty {
                    0 => rates.push(v),
                    1 => res.push(v),
                    _ => {}
                }
            }
        }
        i += count * width;
    }
    (rates, res)
}

/// `02 00` + sample rate + resolution TLVs.
pub(crate) fn start_ecg_command(rate: u16, resolution: u16) -> Vec<u8> {
    let r = rate.to_le_bytes();
    let s = resolution.to_le_bytes();
    vec![0x02, 0x00, 0x00, 0x01, r[0], r[1], 0x01, 0x01, s[0], s[1]]
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
        let r = cp_reply(&reply).unwrap();
        assert_eq!((r.opcode, r.status), (1, 0));
        assert_eq!(settings(r.params), (vec![130], vec![14]));
        let hr = heart_rate(&[0x10, 0x3C, 0x37, 0x04, 0x07, 0x03]).unwrap();
        assert_eq!(hr.bpm, 60);
        assert!((hr.rr_ms[0] - 1053.7).abs() < 0.1 && (hr.rr_ms[1] - 756.8).abs() < 0.1);
        let mut f = vec![0u8; 10];
        f.extend([0x02, 0x80, 0xFF]);
        assert_eq!(ecg_frame(&f).unwrap().samples_uv, [-32766]);
    }
}
