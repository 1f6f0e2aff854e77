//! Pure decoders and encoders of the chest-strap BLE protocols (bytes in, typed values out; no I/O).
//! Byte layouts: `../shared/docs/protocols.md` (Bluetooth SIG Heart Rate Service, Polar PMD specification).
//!
//! - [`hrs`]: Heart Rate Measurement 0x2A37 and Battery Level 0x2A19;
//! - [`pmd`]: Polar Measurement Data: features, control point commands/replies, settings, data frames;
//! - [`timing`]: PMD timestamps, per-sample times, clock offset/drift, gap/duplicate/jump tracking.

pub mod hrs;
pub mod pmd;
pub mod timing;

use crate::ParseError;

/// A malformed or unsupported BLE value. `at` is the byte offset in the value where decoding stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The value ends before a field that its header announces.
    #[error("byte {at}: truncated: {what} needs {needed} more byte(s)")]
    Truncated {
        at: usize,
        needed: usize,
        what: &'static str,
    },
    /// A field holds a value the protocol does not allow.
    #[error("byte {at}: invalid {what}: {value}")]
    Invalid {
        at: usize,
        what: &'static str,
        value: u64,
    },
    /// A PMD measurement type this decoder does not know.
    #[error("byte {at}: unknown PMD measurement type {value}")]
    UnknownMeasurement { at: usize, value: u8 },
    /// A frame type that is documented elsewhere or not at all; not decoded rather than guessed.
    #[error("byte {at}: unsupported {measurement} frame type {frame_type}{}", if *.delta { " (delta-compressed)" } else { "" })]
    UnsupportedFrameType {
        at: usize,
        measurement: pmd::MeasurementType,
        frame_type: u8,
        delta: bool,
    },
    /// Bytes left over after the last field.
    #[error("byte {at}: {count} unexpected trailing byte(s)")]
    Trailing { at: usize, count: usize },
    /// A multi-packet control-point reply that cannot be assembled ([`pmd::ReplyAssembler`]).
    #[error("byte {at}: {problem}")]
    Reassembly {
        at: usize,
        problem: pmd::ReassemblyError,
    },
}

impl ProtocolError {
    /// Byte offset in the value where decoding stopped.
    pub fn offset(&self) -> usize {
        match *self {
            ProtocolError::Truncated { at, .. }
            | ProtocolError::Invalid { at, .. }
            | ProtocolError::UnknownMeasurement { at, .. }
            | ProtocolError::UnsupportedFrameType { at, .. }
            | ProtocolError::Trailing { at, .. }
            | ProtocolError::Reassembly { at, .. } => at,
        }
    }

    /// The same error with its offset moved by `base` (for values embedded in a larger buffer).
    pub(crate) fn shifted(mut self, base: usize) -> Self {
        match &mut self {
            ProtocolError::Truncated { at, .. }
            | ProtocolError::Invalid { at, .. }
            | ProtocolError::UnknownMeasurement { at, .. }
            | ProtocolError::UnsupportedFrameType { at, .. }
            | ProtocolError::Trailing { at, .. }
            | ProtocolError::Reassembly { at, .. } => *at += base,
        }
        self
    }
}

impl From<ProtocolError> for ParseError {
    fn from(e: ProtocolError) -> Self {
        let at = e.offset() as u64;
        let msg = e.to_string();
        // The message already starts with "byte N: "; keep only the description.
        let what = msg.split_once(": ").map_or(msg.as_str(), |(_, w)| w);
        ParseError::at_byte(at, what)
    }
}

pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;

/// A little-endian reader over a BLE value that reports offsets in its errors.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos..]
    }
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(ProtocolError::Truncated {
                at: self.pos,
                needed: n - self.remaining(),
                what,
            });
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub(crate) fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn finish(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(ProtocolError::Trailing {
                at: self.pos,
                count,
            }),
        }
    }
}
