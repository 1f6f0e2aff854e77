//! Polar Measurement Data (PMD): feature read, control-point commands and replies, settings TLVs
//! and data frames (`../shared/docs/protocols.md`, Polar's PMD specification in polar-ble-sdk).

use std::fmt;

use super::{ProtocolError, Reader, Result};

/// Bytes before the payload of a data frame: type, u64 timestamp, frame type.
pub const FRAME_HEADER_LEN: usize = 10;
/// First byte of a control-point reply.
pub const RESPONSE_ID: u8 = 0xF0;
/// First byte of the control-point read value (feature bits follow).
pub const FEATURES_ID: u8 = 0x0F;
/// First byte of a device-initiated "online measurement stopped" indication.
pub const STOPPED_ID: u8 = 0x01;

/// PMD measurement types (byte 1 of a command, byte 0 of a frame, masked with 0x3F).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MeasurementType {
    Ecg = 0,
    Ppg = 1,
    Acc = 2,
    Ppi = 3,
    Gyro = 5,
    Mag = 6,
}

impl MeasurementType {
    pub const ALL: [MeasurementType; 6] = [
        Self::Ecg,
        Self::Ppg,
        Self::Acc,
        Self::Ppi,
        Self::Gyro,
        Self::Mag,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.code() == code)
    }

    /// Channels per sample in a data frame, where documented.
    pub fn channels(self) -> Option<usize> {
        match self {
            Self::Ecg => Some(1),
            Self::Acc | Self::Gyro | Self::Mag => Some(3),
            Self::Ppg | Self::Ppi => None,
        }
    }

    /// Lowercase name ("ecg", "acc", …) as used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ecg => "ecg",
            Self::Ppg => "ppg",
            Self::Acc => "acc",
            Self::Ppi => "ppi",
            Self::Gyro => "gyro",
            Self::Mag => "mag",
        }
    }
}

impl fmt::Display for MeasurementType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name().to_uppercase())
    }
}

/// The measurements a device offers (feature bits of the control-point read `0F b1 b2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MeasurementSet(pub u16);

impl MeasurementSet {
    pub fn contains(self, m: MeasurementType) -> bool {
        self.0 & (1 << m.code()) != 0
    }
    pub fn insert(&mut self, m: MeasurementType) {
        self.0 |= 1 << m.code();
    }
    /// The known measurement types in the set.
    pub fn iter(self) -> impl Iterator<Item = MeasurementType> {
        MeasurementType::ALL
            .into_iter()
            .filter(move |&m| self.contains(m))
    }
}

/// Decode the control-point read value `0F b1 b2` (further bytes, if any, are ignored).
pub fn decode_features(bytes: &[u8]) -> Result<MeasurementSet> {
    let mut r = Reader::new(bytes);
    let id = r.u8("features id")?;
    if id != FEATURES_ID {
        return Err(ProtocolError::Invalid {
            at: 0,
            what: "features id (expected 0x0F)",
            value: u64::from(id),
        });
    }
    let b = r.array::<2>("feature bits")?;
    Ok(MeasurementSet(u16::from_le_bytes(b)))
}

/// Encode the control-point read value for a set of measurements (for the simulator).
pub fn encode_features(set: MeasurementSet) -> [u8; 3] {
    let [b1, b2] = set.0.to_le_bytes();
    [FEATURES_ID, b1, b2]
}

/// Settings TLV types (`type u8, count u8, count × value`).
mod tlv {
    pub const SAMPLE_RATE: u8 = 0;
    pub const RESOLUTION: u8 = 1;
    pub const RANGE: u8 = 2;
    pub const RANGE_MILLIUNIT: u8 = 3;
    pub const CHANNELS: u8 = 4;
    pub const FACTOR: u8 = 5;
}

/// Measurement settings: the choices a device offers (settings reply) or the ones requested
/// (start command, one value each).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    /// Hz.
    pub sample_rates: Vec<u16>,
    /// Bits.
    pub resolutions: Vec<u16>,
    /// Measurement range (ACC: g).
    pub ranges: Vec<u16>,
    /// Range in milli-units.
    pub ranges_milli: Vec<u32>,
    pub channels: Vec<u8>,
    /// Conversion factor: multiply samples by it.
    pub factor: Option<f32>,
}

impl Settings {
    /// One sample rate and resolution (and range where the measurement has one), for a start command.
    pub fn select(sample_rate_hz: u16, resolution_bits: u16, range: Option<u16>) -> Self {
        Self {
            sample_rates: vec![sample_rate_hz],
            resolutions: vec![resolution_bits],
            ranges: range.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Polar H10 ECG: 130 Hz, 14 bit.
    pub fn h10_ecg() -> Self {
        Self::select(130, 14, None)
    }

    /// Decode settings TLVs. An unknown TLV type is an error (its value size is unknown).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut s = Settings::default();
        let mut r = Reader::new(bytes);
        while r.remaining() > 0 {
            let at = r.pos();
            let ty = r.u8("setting type")?;
            let count = usize::from(r.u8("setting count")?);
            match ty {
                tlv::SAMPLE_RATE => {
                    read_n(&mut r, count, &mut s.sample_rates, |r| r.u16("sample rate"))?
                }
                tlv::RESOLUTION => {
                    read_n(&mut r, count, &mut s.resolutions, |r| r.u16("resolution"))?
                }
                tlv::RANGE => read_n(&mut r, count, &mut s.ranges, |r| r.u16("range"))?,
                tlv::RANGE_MILLIUNIT => read_n(&mut r, count, &mut s.ranges_milli, |r| {
                    r.u32("range (milli-unit)")
                })?,
                tlv::CHANNELS => read_n(&mut r, count, &mut s.channels, |r| r.u8("channels"))?,
                tlv::FACTOR => {
                    let mut f = Vec::new();
                    read_n(&mut r, count, &mut f, |r| {
                        Ok(f32::from_bits(r.u32("conversion factor")?))
                    })?;
                    s.factor = f.first().copied();
                }
                _ => {
                    return Err(ProtocolError::Invalid {
                        at,
                        what: "setting type",
                        value: u64::from(ty),
                    });
                }
            }
        }
        Ok(s)
    }

    /// Append the TLVs in type order, skipping empty ones.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        fn put<T: Copy>(out: &mut Vec<u8>, ty: u8, values: &[T], le: impl Fn(T) -> Vec<u8>) {
            // A TLV holds at most 255 values.
            for chunk in values.chunks(255) {
                out.push(ty);
                out.push(chunk.len() as u8);
                for &v in chunk {
                    out.extend(le(v));
                }
            }
        }
        put(out, tlv::SAMPLE_RATE, &self.sample_rates, |v: u16| {
            v.to_le_bytes().to_vec()
        });
        put(out, tlv::RESOLUTION, &self.resolutions, |v: u16| {
            v.to_le_bytes().to_vec()
        });
        put(out, tlv::RANGE, &self.ranges, |v: u16| {
            v.to_le_bytes().to_vec()
        });
        put(out, tlv::RANGE_MILLIUNIT, &self.ranges_milli, |v: u32| {
            v.to_le_bytes().to_vec()
        });
        put(out, tlv::CHANNELS, &self.channels, |v: u8| vec![v]);
        if let Some(f) = self.factor {
            put(out, tlv::FACTOR, &[f], |v: f32| v.to_le_bytes().to_vec());
        }
    }
}

fn read_n<'a, T>(
    r: &mut Reader<'a>,
    count: usize,
    into: &mut Vec<T>,
    mut one: impl FnMut(&mut Reader<'a>) -> Result<T>,
) -> Result<()> {
    for _ in 0..count {
        into.push(one(r)?);
    }
    Ok(())
}

/// Control-point opcodes (commands written by the phone).
pub mod opcode {
    pub const GET_SETTINGS: u8 = 0x01;
    pub const START: u8 = 0x02;
    pub const STOP: u8 = 0x03;
    pub const GET_STATUS: u8 = 0x05;
}

/// A command written to the PMD control point.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `01 <type>`.
    GetSettings(MeasurementType),
    /// `02 <type> <settings TLVs>`.
    Start {
        measurement: MeasurementType,
        settings: Settings,
    },
    /// `03 <type>`.
    Stop(MeasurementType),
    /// `05`: get measurement status (opcode only, as in Polar's SDK).
    GetStatus,
}

impl Command {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Command::GetSettings(m) => vec![opcode::GET_SETTINGS, m.code()],
            Command::Start {
                measurement,
                settings,
            } => {
                let mut out = vec![opcode::START, measurement.code()];
                settings.encode_into(&mut out);
                out
            }
            Command::Stop(m) => vec![opcode::STOP, m.code()],
            Command::GetStatus => vec![opcode::GET_STATUS],
        }
    }
}

/// Status code of a control-point reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseStatus {
    Success,
    InvalidOpcode,
    InvalidMeasurementType,
    NotSupported,
    InvalidLength,
    InvalidParameter,
    AlreadyInState,
    InvalidResolution,
    InvalidSampleRate,
    InvalidRange,
    /// The ATT MTU is too small for the frames (the H10 needs ≥ 232).
    InvalidMtu,
    InvalidChannels,
    InvalidState,
    DeviceInCharger,
    /// A code newer than `../shared/docs/protocols.md`.
    Other(u8),
}

impl ResponseStatus {
    const KNOWN: [ResponseStatus; 14] = [
        Self::Success,
        Self::InvalidOpcode,
        Self::InvalidMeasurementType,
        Self::NotSupported,
        Self::InvalidLength,
        Self::InvalidParameter,
        Self::AlreadyInState,
        Self::InvalidResolution,
        Self::InvalidSampleRate,
        Self::InvalidRange,
        Self::InvalidMtu,
        Self::InvalidChannels,
        Self::InvalidState,
        Self::DeviceInCharger,
    ];

    pub fn from_code(code: u8) -> Self {
        Self::KNOWN
            .get(usize::from(code))
            .copied()
            .unwrap_or(Self::Other(code))
    }

    pub fn code(self) -> u8 {
        match self {
            Self::Other(c) => c,
            known => Self::KNOWN.iter().position(|&k| k == known).unwrap_or(0) as u8,
        }
    }

    pub fn is_success(self) -> bool {
        self == Self::Success
    }
}

/// A (possibly assembled) control-point reply `F0 <opcode> <type> <status> <more> <params…>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlResponse {
    pub opcode: u8,
    /// The raw measurement-type byte (bit 7: offline recording); see [`Self::measurement`].
    pub measurement_byte: u8,
    pub status: ResponseStatus,
    /// Further packets follow (only set on a single, unassembled packet).
    pub more: bool,
    pub params: Vec<u8>,
}

/// Offset of the parameters in a reply packet.
pub const RESPONSE_PARAMS_AT: usize = 5;

impl ControlResponse {
    pub fn measurement(&self) -> Option<MeasurementType> {
        MeasurementType::from_code(self.measurement_byte & 0x3F)
    }

    /// The settings TLVs in the parameters (of a get-settings or start reply).
    /// Error offsets count from the start of the reply packet.
    pub fn settings(&self) -> Result<Settings> {
        Settings::decode(&self.params).map_err(|e| e.shifted(RESPONSE_PARAMS_AT))
    }

    /// Encode as one reply packet (for the simulator).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![
            RESPONSE_ID,
            self.opcode,
            self.measurement_byte,
            self.status.code(),
            u8::from(self.more),
        ];
        out.extend_from_slice(&self.params);
        out
    }
}

/// A message indicated on the control point (or read from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlPointMessage {
    Response(ControlResponse),
    /// `0F b1 b2`: the features (a read of the control point).
    Features(MeasurementSet),
    /// `01 …`: the device stopped a stream itself. The bytes after `01` are kept raw: Polar's
    /// SDK reads each as a measurement type whose stream was stopped (not in
    /// `../shared/docs/protocols.md`).
    MeasurementStopped {
        params: Vec<u8>,
    },
}

/// Decode one control-point value (a single packet; [`ReplyAssembler`] assembles replies of several).
pub fn decode_control_point(bytes: &[u8]) -> Result<ControlPointMessage> {
    let mut r = Reader::new(bytes);
    match r.u8("control point message id")? {
        RESPONSE_ID => {
            let opcode = r.u8("reply opcode")?;
            let measurement_byte = r.u8("reply measurement type")?;
            let status = ResponseStatus::from_code(r.u8("reply status")?);
            // `more` is absent in some short replies; absent means no more.
            let more = if r.remaining() > 0 {
                r.u8("more")? != 0
            } else {
                false
            };
            Ok(ControlPointMessage::Response(ControlResponse {
                opcode,
                measurement_byte,
                status,
                more,
                params: r.rest().to_vec(),
            }))
        }
        FEATURES_ID => decode_features(bytes).map(ControlPointMessage::Features),
        STOPPED_ID => Ok(ControlPointMessage::MeasurementStopped {
            params: r.rest().to_vec(),
        }),
        other => Err(ProtocolError::Invalid {
            at: 0,
            what: "control point message id",
            value: u64::from(other),
        }),
    }
}

/// Why a multi-packet control-point reply cannot be assembled ([`ReplyAssembler`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ReassemblyError {
    /// A reply to another command (opcode or measurement) came before the pending reply's last
    /// packet; both are dropped.
    #[error(
        "reply to opcode {opcode:#04x} (type {measurement:#04x}) before the end of the reply to opcode {pending_opcode:#04x} (type {pending_measurement:#04x})"
    )]
    Interleaved {
        pending_opcode: u8,
        pending_measurement: u8,
        opcode: u8,
        measurement: u8,
    },
    /// The parameters would exceed [`MAX_REPLY_PARAMS`] bytes (a `more` that never ends).
    #[error("reply parameters of {len} bytes exceed {max}")]
    TooLong { len: usize, max: usize },
}

/// Assembles multi-packet replies as Polar's SDK does (polar-ble-sdk `BlePMDClient.kt`
/// `sendPmdCommand`, `BlePmdClient.swift` `sendControlPointCommand`): each packet of a reply is a
/// whole reply packet `F0 <opcode> <type> <status> <more> <params…>`, `more` (read only when the
/// status is success) says another follows, and the parameters of all are appended. A device's
/// stop (`01 …`) and a features read (`0F …`) pass through a pending reply; a reply to another
/// opcode or measurement before the last packet, or more than [`MAX_REPLY_PARAMS`] parameter
/// bytes, is a [`ProtocolError::Reassembly`] and drops the pending reply. A continuation whose
/// start was lost cannot be told from a reply of its own (the packets look alike).
/// Bounded: at most [`MAX_REPLY_PARAMS`] bytes are held.
#[derive(Debug, Clone, Default)]
pub struct ReplyAssembler {
    pending: Option<ControlResponse>,
}

/// The most parameter bytes an assembled reply may hold (settings replies are tens of bytes; a
/// guard against a `more` that never ends).
pub const MAX_REPLY_PARAMS: usize = 4096;

impl ReplyAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// True while a multi-packet reply is incomplete.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Drop an incomplete reply (a new link: its rest will not come).
    pub fn reset(&mut self) {
        self.pending = None;
    }

    /// Feed one control-point value; returns a message once complete. A malformed value is an
    /// error that leaves a pending reply pending.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Option<ControlPointMessage>> {
        let mut packet = match decode_control_point(bytes)? {
            ControlPointMessage::Response(r) => r,
            other => return Ok(Some(other)),
        };
        packet.more &= packet.status.is_success();
        let mut resp = match self.pending.take() {
            None => {
                if packet.params.len() > MAX_REPLY_PARAMS {
                    return Err(too_long(packet.params.len()));
                }
                packet
            }
            Some(p)
                if (p.opcode, p.measurement_byte) != (packet.opcode, packet.measurement_byte) =>
            {
                return Err(ProtocolError::Reassembly {
                    at: 1,
                    problem: ReassemblyError::Interleaved {
                        pending_opcode: p.opcode,
                        pending_measurement: p.measurement_byte,
                        opcode: packet.opcode,
                        measurement: packet.measurement_byte,
                    },
                });
            }
            Some(mut p) => {
                let len = p.params.len() + packet.params.len();
                if len > MAX_REPLY_PARAMS {
                    return Err(too_long(len));
                }
                p.params.extend_from_slice(&packet.params);
                p.more = packet.more;
                p
            }
        };
        if resp.more {
            self.pending = Some(resp);
            return Ok(None);
        }
        resp.more = false;
        Ok(Some(ControlPointMessage::Response(resp)))
    }
}

fn too_long(len: usize) -> ProtocolError {
    ProtocolError::Reassembly {
        at: RESPONSE_PARAMS_AT,
        problem: ReassemblyError::TooLong {
            len,
            max: MAX_REPLY_PARAMS,
        },
    }
}

/// The header of a PMD data frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    pub measurement: MeasurementType,
    /// ns since 2000-01-01T00:00:00 UTC (sensor clock) of the LAST sample in the frame.
    pub timestamp_ns: u64,
    /// Bits 0-6 of byte 9.
    pub frame_type: u8,
    /// Bit 7 of byte 9: delta-compressed.
    pub delta: bool,
}

impl FrameHeader {
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let m = r.u8("measurement type")?;
        let measurement = MeasurementType::from_code(m & 0x3F)
            .ok_or(ProtocolError::UnknownMeasurement { at: 0, value: m })?;
        let timestamp_ns = r.u64("timestamp")?;
        let ft = r.u8("frame type")?;
        Ok(Self {
            measurement,
            timestamp_ns,
            frame_type: ft & 0x7F,
            delta: ft & 0x80 != 0,
        })
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.measurement.code());
        out.extend_from_slice(&self.timestamp_ns.to_le_bytes());
        out.push(self.frame_type | if self.delta { 0x80 } else { 0 });
    }
}

/// What a decoder needs from the measurement settings.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FrameContext {
    /// Resolution in bits (sizes the reference sample of delta frames); default: the H10's
    /// (ECG 14, others 16).
    pub resolution_bits: Option<u16>,
    /// Conversion factor from the settings, applied to delta-compressed samples
    /// (uncompressed ECG type 0 is already µV and ACC types 0-2 already mG).
    pub factor: Option<f32>,
}

impl FrameContext {
    fn ref_bytes(&self, m: MeasurementType) -> usize {
        let bits = self
            .resolution_bits
            .unwrap_or(if m == MeasurementType::Ecg { 14 } else { 16 });
        usize::from(bits.clamp(1, 32)).div_ceil(8)
    }

    fn scale(&self, v: i32) -> i32 {
        match self.factor {
            Some(f) if f.is_finite() && f != 1.0 => (f64::from(v) * f64::from(f))
                .round()
                .clamp(f64::from(i32::MIN), f64::from(i32::MAX))
                as i32,
            _ => v,
        }
    }
}

/// Decoded samples of a data frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameData {
    /// ECG samples, µV.
    Ecg(Vec<i32>),
    /// Accelerometer samples (x, y, z), mG.
    Acc(Vec<[i32; 3]>),
}

impl FrameData {
    pub fn len(&self) -> usize {
        match self {
            FrameData::Ecg(v) => v.len(),
            FrameData::Acc(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A decoded data frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PmdFrame {
    pub header: FrameHeader,
    pub data: FrameData,
}

/// Decode an ECG or ACC data frame. Other measurements and undocumented frame types are a
/// typed [`ProtocolError::UnsupportedFrameType`]; a frame without samples is an error.
pub fn decode_frame(bytes: &[u8], ctx: &FrameContext) -> Result<PmdFrame> {
    let header = FrameHeader::decode(bytes)?;
    let mut flat = Vec::new();
    let channels = decode_samples_into(&header, bytes, ctx, &mut flat)?;
    let data = match header.measurement {
        MeasurementType::Acc if channels == 3 => {
            FrameData::Acc(flat.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect())
        }
        _ => FrameData::Ecg(flat),
    };
    Ok(PmdFrame { header, data })
}

/// Decode an ECG frame's µV samples into `out` (cleared first; no allocation once `out` has
/// grown). Returns the header.
pub fn decode_ecg_into(
    bytes: &[u8],
    ctx: &FrameContext,
    out: &mut Vec<i32>,
) -> Result<FrameHeader> {
    let header = FrameHeader::decode(bytes)?;
    if header.measurement != MeasurementType::Ecg {
        return Err(ProtocolError::Invalid {
            at: 0,
            what: "measurement type (expected ECG 0)",
            value: u64::from(header.measurement.code()),
        });
    }
    decode_samples_into(&header, bytes, ctx, out)?;
    Ok(header)
}

/// Decodes the payload of `bytes` (header already parsed) into channel-interleaved samples.
/// Returns the channel count.
fn decode_samples_into(
    header: &FrameHeader,
    bytes: &[u8],
    ctx: &FrameContext,
    out: &mut Vec<i32>,
) -> Result<usize> {
    out.clear();
    let unsupported = || ProtocolError::UnsupportedFrameType {
        at: FRAME_HEADER_LEN - 1,
        measurement: header.measurement,
        frame_type: header.frame_type,
        delta: header.delta,
    };
    let payload = bytes.get(FRAME_HEADER_LEN..).unwrap_or_default();
    let (channels, width) = match (header.measurement, header.frame_type) {
        // ECG type 0: int24 µV (the H10). Types 1 and 2 exist for other devices and are not decoded.
        (MeasurementType::Ecg, 0) => (1, 3),
        // ACC types 0/1/2: int8/int16/int24 mG, 3 channels.
        (MeasurementType::Acc, t @ 0..=2) => (3, usize::from(t) + 1),
        _ => return Err(unsupported()),
    };
    if header.delta {
        decode_delta_into(
            payload,
            channels,
            ctx.ref_bytes(header.measurement),
            FRAME_HEADER_LEN,
            out,
        )?;
        for v in out.iter_mut() {
            *v = ctx.scale(*v);
        }
    } else {
        let sample = channels * width;
        if payload.len() % sample != 0 {
            let whole = payload.len() / sample * sample;
            return Err(ProtocolError::Truncated {
                at: FRAME_HEADER_LEN + whole,
                needed: sample - (payload.len() - whole),
                what: "sample",
            });
        }
        out.reserve(payload.len() / width);
        out.extend(payload.chunks_exact(width).map(read_signed));
    }
    if out.is_empty() {
        return Err(ProtocolError::Invalid {
            at: FRAME_HEADER_LEN,
            what: "sample count",
            value: 0,
        });
    }
    Ok(channels)
}

/// Little-endian two's-complement integer of 1-4 bytes.
fn read_signed(b: &[u8]) -> i32 {
    if b.is_empty() {
        return 0;
    }
    let mut v: u32 = 0;
    for (i, &x) in b.iter().enumerate().take(4) {
        v |= u32::from(x) << (8 * i);
    }
    sign_extend(v, (b.len().min(4) * 8) as u32)
}

/// Sign-extend the low `bits` (1-32) of `v`.
fn sign_extend(v: u32, bits: u32) -> i32 {
    let shift = 32 - bits;
    ((v << shift) as i32) >> shift
}

/// Delta-compressed payload (`../shared/docs/protocols.md`): a reference sample (`channels` × `ref_bytes`
/// signed), then blocks `[deltaBits u8][count u8][packed deltas]`, LSB-first, accumulated per
/// channel. `base` is the payload's offset in the frame (for error offsets).
pub fn decode_delta_into(
    payload: &[u8],
    channels: usize,
    ref_bytes: usize,
    base: usize,
    out: &mut Vec<i32>,
) -> Result<()> {
    let mut r = Reader::new(payload);
    for _ in 0..channels {
        out.push(read_signed(
            r.take(ref_bytes, "reference sample")
                .map_err(|e| e.shifted(base))?,
        ));
    }
    while r.remaining() > 0 {
        let at = r.pos();
        let bits = r.u8("delta bits").map_err(|e| e.shifted(base))?;
        let count = usize::from(r.u8("delta count").map_err(|e| e.shifted(base))?);
        if bits == 0 || bits > 32 {
            return Err(ProtocolError::Invalid {
                at: base + at,
                what: "delta bit width",
                value: u64::from(bits),
            });
        }
        let total_bits = count * channels * usize::from(bits);
        let packed = r
            .take(total_bits.div_ceil(8), "packed deltas")
            .map_err(|e| e.shifted(base))?;
        let mut bitpos = 0usize;
        out.reserve(count * channels);
        for _ in 0..count {
            for _ in 0..channels {
                let mut v: u64 = 0;
                for k in 0..usize::from(bits) {
                    let p = bitpos + k;
                    v |= u64::from((packed[p / 8] >> (p % 8)) & 1) << k;
                }
                bitpos += usize::from(bits);
                let delta = sign_extend(v as u32, u32::from(bits));
                let prev = out[out.len() - channels];
                out.push(prev.wrapping_add(delta));
            }
        }
    }
    Ok(())
}

/// Signed bit width needed for `v` (1-32).
fn bits_needed(v: i32) -> u8 {
    let magnitude = if v < 0 { !v } else { v } as u32;
    (33 - magnitude.leading_zeros()) as u8
}

/// Encode channel-interleaved samples as a delta-compressed payload (one block per ≤ 255 samples,
/// each at the widest delta it holds). `samples.len()` must be a non-zero multiple of `channels`,
/// and the first sample must fit `ref_bytes`.
pub fn encode_delta_payload(
    samples: &[i32],
    channels: usize,
    ref_bytes: usize,
    out: &mut Vec<u8>,
) -> Result<()> {
    if channels == 0
        || samples.is_empty()
        || !samples.len().is_multiple_of(channels)
        || !(1..=4).contains(&ref_bytes)
    {
        return Err(ProtocolError::Invalid {
            at: 0,
            what: "delta input shape (samples, channels, reference bytes)",
            value: samples.len() as u64,
        });
    }
    for &v in &samples[..channels] {
        if bits_needed(v) as usize > ref_bytes * 8 {
            return Err(ProtocolError::Invalid {
                at: 0,
                what: "reference sample out of range",
                value: v as u64,
            });
        }
        out.extend_from_slice(&v.to_le_bytes()[..ref_bytes]);
    }
    let deltas: Vec<i32> = samples
        .windows(channels + 1)
        .map(|w| w[channels].wrapping_sub(w[0]))
        .collect();
    for block in deltas.chunks(channels * 255) {
        let bits = block.iter().map(|&d| bits_needed(d)).max().unwrap_or(1);
        out.push(bits);
        out.push((block.len() / channels) as u8);
        let mut acc: u64 = 0;
        let mut n = 0u32;
        for &d in block {
            acc |= (u64::from(d as u32) & ((1u64 << bits) - 1)) << n;
            n += u32::from(bits);
            while n >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                n -= 8;
            }
        }
        if n > 0 {
            out.push(acc as u8);
        }
    }
    Ok(())
}

const INT24_MIN: i32 = -(1 << 23);
const INT24_MAX: i32 = (1 << 23) - 1;

/// Encode an ECG frame type 0 (int24 µV samples; the last sample at `timestamp_ns`).
pub fn encode_ecg_frame(timestamp_ns: u64, samples_uv: &[i32]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + 3 * samples_uv.len());
    FrameHeader {
        measurement: MeasurementType::Ecg,
        timestamp_ns,
        frame_type: 0,
        delta: false,
    }
    .encode_into(&mut out);
    put_samples(samples_uv, 3, &mut out)?;
    Ok(out)
}

/// Encode an uncompressed ACC frame of type 0, 1 or 2 (int8/16/24 mG).
pub fn encode_acc_frame(
    timestamp_ns: u64,
    frame_type: u8,
    samples_mg: &[[i32; 3]],
) -> Result<Vec<u8>> {
    if frame_type > 2 {
        return Err(ProtocolError::UnsupportedFrameType {
            at: FRAME_HEADER_LEN - 1,
            measurement: MeasurementType::Acc,
            frame_type,
            delta: false,
        });
    }
    let mut out = Vec::new();
    FrameHeader {
        measurement: MeasurementType::Acc,
        timestamp_ns,
        frame_type,
        delta: false,
    }
    .encode_into(&mut out);
    let flat: Vec<i32> = samples_mg.iter().flatten().copied().collect();
    put_samples(&flat, usize::from(frame_type) + 1, &mut out)?;
    Ok(out)
}

/// Encode a delta-compressed ECG (1 channel) or ACC (3 channels) frame; `samples` are
/// channel-interleaved, the reference sample sized by `ctx` as when decoding.
pub fn encode_delta_frame(
    measurement: MeasurementType,
    timestamp_ns: u64,
    frame_type: u8,
    samples: &[i32],
    ctx: &FrameContext,
) -> Result<Vec<u8>> {
    let channels = match measurement {
        MeasurementType::Ecg | MeasurementType::Acc => measurement.channels().unwrap_or(1),
        _ => {
            return Err(ProtocolError::UnsupportedFrameType {
                at: FRAME_HEADER_LEN - 1,
                measurement,
                frame_type,
                delta: true,
            });
        }
    };
    let mut out = Vec::new();
    FrameHeader {
        measurement,
        timestamp_ns,
        frame_type: frame_type & 0x7F,
        delta: true,
    }
    .encode_into(&mut out);
    encode_delta_payload(samples, channels, ctx.ref_bytes(measurement), &mut out)?;
    Ok(out)
}

fn put_samples(samples: &[i32], width: usize, out: &mut Vec<u8>) -> Result<()> {
    let (lo, hi) = match width {
        1 => (i32::from(i8::MIN), i32::from(i8::MAX)),
        2 => (i32::from(i16::MIN), i32::from(i16::MAX)),
        _ => (INT24_MIN, INT24_MAX),
    };
    if samples.is_empty() {
        return Err(ProtocolError::Invalid {
            at: FRAME_HEADER_LEN,
            what: "sample count",
            value: 0,
        });
    }
    for (i, &v) in samples.iter().enumerate() {
        if !(lo..=hi).contains(&v) {
            return Err(ProtocolError::Invalid {
                at: FRAME_HEADER_LEN + i * width,
                what: "sample out of range for the frame type",
                value: v as u64,
            });
        }
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn features() {
        // An H10 answers ECG + ACC.
        let set = decode_features(&[0x0F, 0x05, 0x00]).unwrap();
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![MeasurementType::Ecg, MeasurementType::Acc]
        );
        assert_eq!(encode_features(set), [0x0F, 0x05, 0x00]);
        let all = decode_features(&[0x0F, 0x6F, 0x00]).unwrap();
        assert_eq!(all.iter().count(), 6);
        assert!(matches!(
            decode_features(&[0x0F, 0x05]),
            Err(ProtocolError::Truncated { at: 1, .. })
        ));
        assert!(matches!(
            decode_features(&[0xF0, 0x05, 0]),
            Err(ProtocolError::Invalid { at: 0, .. })
        ));
    }

    #[test]
    fn h10_ecg_settings_reply_and_commands() {
        assert_eq!(
            Command::GetSettings(MeasurementType::Ecg).encode(),
            hex("01 00")
        );
        let reply = decode_control_point(&hex("F0 01 00 00 00 00 01 82 00 01 01 0E 00")).unwrap();
        let ControlPointMessage::Response(r) = reply else {
            panic!("{reply:?}")
        };
        assert_eq!(
            (r.opcode, r.measurement(), r.status, r.more),
            (
                1,
                Some(MeasurementType::Ecg),
                ResponseStatus::Success,
                false
            )
        );
        let s = r.settings().unwrap();
        assert_eq!(s, Settings::h10_ecg());
        assert_eq!(r.encode(), hex("F0 01 00 00 00 00 01 82 00 01 01 0E 00"));

        let start = Command::Start {
            measurement: MeasurementType::Ecg,
            settings: s,
        };
        assert_eq!(start.encode(), hex("02 00 00 01 82 00 01 01 0E 00"));
        let ok = decode_control_point(&hex("F0 02 00 00 00")).unwrap();
        let ControlPointMessage::Response(ok) = ok else {
            panic!()
        };
        assert!(ok.status.is_success() && ok.params.is_empty());
        assert_eq!(Command::Stop(MeasurementType::Ecg).encode(), hex("03 00"));
        assert_eq!(Command::GetStatus.encode(), hex("05"));
    }

    #[test]
    fn h10_acc_settings_reply_and_start() {
        let bytes =
            hex("F0 01 02 00 00 00 04 19 00 32 00 64 00 C8 00 01 01 10 00 02 03 02 00 04 00 08 00");
        let ControlPointMessage::Response(r) = decode_control_point(&bytes).unwrap() else {
            panic!()
        };
        let s = r.settings().unwrap();
        assert_eq!(s.sample_rates, vec![25, 50, 100, 200]);
        assert_eq!(s.resolutions, vec![16]);
        assert_eq!(s.ranges, vec![2, 4, 8]);
        assert_eq!(r.measurement(), Some(MeasurementType::Acc));
        let start = Command::Start {
            measurement: MeasurementType::Acc,
            settings: Settings::select(200, 16, Some(8)),
        };
        assert_eq!(
            start.encode(),
            hex("02 02 00 01 C8 00 01 01 10 00 02 01 08 00")
        );
    }

    #[test]
    fn settings_tlvs_all_types_round_trip() {
        let s = Settings {
            sample_rates: vec![52],
            resolutions: vec![16],
            ranges: vec![8],
            ranges_milli: vec![2000, 250_000],
            channels: vec![3],
            factor: Some(0.244_140_63),
        };
        let mut b = Vec::new();
        s.encode_into(&mut b);
        assert_eq!(Settings::decode(&b).unwrap(), s);
        // unknown TLV type and truncated values, offsets counted from the reply start
        let ControlPointMessage::Response(r) =
            decode_control_point(&hex("F0 01 00 00 00 09 01 00")).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            r.settings(),
            Err(ProtocolError::Invalid {
                at: 5,
                what: "setting type",
                value: 9
            })
        );
        let ControlPointMessage::Response(r) =
            decode_control_point(&hex("F0 01 00 00 00 00 02 82 00 01")).unwrap()
        else {
            panic!()
        };
        assert!(matches!(
            r.settings(),
            Err(ProtocolError::Truncated { at: 9, .. })
        ));
    }

    #[test]
    fn status_codes() {
        for c in 0..=255u8 {
            assert_eq!(ResponseStatus::from_code(c).code(), c);
        }
        assert_eq!(ResponseStatus::from_code(10), ResponseStatus::InvalidMtu);
        assert_eq!(
            ResponseStatus::from_code(13),
            ResponseStatus::DeviceInCharger
        );
        assert_eq!(ResponseStatus::from_code(14), ResponseStatus::Other(14));
        let ControlPointMessage::Response(r) =
            decode_control_point(&hex("F0 02 00 0A 00")).unwrap()
        else {
            panic!()
        };
        assert_eq!(r.status, ResponseStatus::InvalidMtu);
    }

    /// Polar's SDK reads every packet of a multi-packet reply as a whole reply packet
    /// `F0 <opcode> <type> <status> <more> <params…>` and appends the parameters of each.
    #[test]
    fn multi_packet_reply_as_the_sdk_sends_it() {
        let mut a = ReplyAssembler::new();
        assert_eq!(
            a.push(&hex("F0 01 02 00 01 00 04 19 00 32 00")).unwrap(),
            None
        );
        assert!(a.is_pending());
        assert_eq!(a.push(&hex("F0 01 02 00 01 64 00 C8")).unwrap(), None);
        let Some(ControlPointMessage::Response(r)) =
            a.push(&hex("F0 01 02 00 00 00 01 01 10 00")).unwrap()
        else {
            panic!()
        };
        assert!(!a.is_pending() && !r.more);
        assert_eq!(
            (r.opcode, r.measurement(), r.status),
            (1, Some(MeasurementType::Acc), ResponseStatus::Success)
        );
        let s = r.settings().unwrap();
        assert_eq!(
            (s.sample_rates, s.resolutions),
            (vec![25, 50, 100, 200], vec![16])
        );
        // a single-packet reply passes through
        assert_eq!(
            a.push(&hex("F0 02 00 00 00")).unwrap(),
            decode_control_point(&hex("F0 02 00 00 00")).ok()
        );
    }

    #[test]
    fn device_stop_and_features_pass_through_a_pending_reply() {
        let mut a = ReplyAssembler::new();
        assert_eq!(a.push(&hex("F0 01 00 00 01 00 01 82")).unwrap(), None);
        assert_eq!(
            a.push(&hex("01 00")).unwrap(),
            Some(ControlPointMessage::MeasurementStopped { params: vec![0] })
        );
        assert_eq!(
            a.push(&hex("0F 05 00")).unwrap(),
            Some(ControlPointMessage::Features(MeasurementSet(5)))
        );
        assert!(a.is_pending());
        let Some(ControlPointMessage::Response(r)) =
            a.push(&hex("F0 01 00 00 00 00 01 01 0E 00")).unwrap()
        else {
            panic!()
        };
        assert_eq!(r.settings().unwrap(), Settings::h10_ecg());
    }

    #[test]
    fn an_error_reply_is_complete_whatever_its_more_byte() {
        // As in Polar's SDK: `more` is read only on success.
        let mut a = ReplyAssembler::new();
        let Some(ControlPointMessage::Response(r)) = a.push(&hex("F0 02 00 0A 01")).unwrap() else {
            panic!()
        };
        assert_eq!(r.status, ResponseStatus::InvalidMtu);
        assert!(!a.is_pending());
    }

    #[test]
    fn unassemblable_replies_are_typed_errors() {
        // a reply to another command before the pending one ended: both are dropped
        let mut a = ReplyAssembler::new();
        assert_eq!(a.push(&hex("F0 01 00 00 01 00 01 82")).unwrap(), None);
        let e = a.push(&hex("F0 02 00 00 00")).unwrap_err();
        assert_eq!(
            e,
            ProtocolError::Reassembly {
                at: 1,
                problem: ReassemblyError::Interleaved {
                    pending_opcode: 1,
                    pending_measurement: 0,
                    opcode: 2,
                    measurement: 0,
                },
            }
        );
        assert!(!a.is_pending());
        assert!(e.to_string().starts_with("byte 1: "), "{e}");
        // the same opcode for another measurement is another reply too
        assert_eq!(a.push(&hex("F0 01 00 00 01 00 01 82")).unwrap(), None);
        assert!(matches!(
            a.push(&hex("F0 01 02 00 00 00")),
            Err(ProtocolError::Reassembly {
                problem: ReassemblyError::Interleaved { .. },
                ..
            })
        ));
        // a `more` that never ends stops at MAX_REPLY_PARAMS
        let mut packet = hex("F0 01 00 00 01");
        packet.extend([0u8; 200]);
        let mut err = None;
        for _ in 0..=MAX_REPLY_PARAMS / 200 {
            match a.push(&packet) {
                Ok(None) => {}
                Ok(Some(m)) => panic!("{m:?}"),
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        assert!(
            matches!(
                err,
                Some(ProtocolError::Reassembly {
                    at: RESPONSE_PARAMS_AT,
                    problem: ReassemblyError::TooLong {
                        max: MAX_REPLY_PARAMS,
                        ..
                    },
                })
            ),
            "{err:?}"
        );
        assert!(!a.is_pending());
        // malformed packets: errors, the pending reply kept
        assert_eq!(a.push(&hex("F0 01 00 00 01 00")).unwrap(), None);
        assert!(matches!(
            a.push(&[]),
            Err(ProtocolError::Truncated { at: 0, .. })
        ));
        assert!(matches!(
            a.push(&hex("F0 01")),
            Err(ProtocolError::Truncated { at: 2, .. })
        ));
        assert!(matches!(
            a.push(&hex("77 01")),
            Err(ProtocolError::Invalid { at: 0, .. })
        ));
        assert!(a.is_pending());
        a.reset();
        assert!(!a.is_pending());
        assert!(matches!(
            decode_control_point(&hex("F0 01 00")),
            Err(ProtocolError::Truncated { at: 3, .. })
        ));
        assert!(matches!(
            decode_control_point(&hex("77")),
            Err(ProtocolError::Invalid { at: 0, .. })
        ));
    }

    #[test]
    fn ecg_type0_sample() {
        // `02 80 FF` → −32766 µV.
        let f = hex("00 01 00 00 00 00 00 00 00 00 02 80 FF 00 00 00");
        let frame = decode_frame(&f, &FrameContext::default()).unwrap();
        assert_eq!(frame.header.timestamp_ns, 1);
        assert_eq!(frame.data, FrameData::Ecg(vec![-32766, 0]));
        assert_eq!(encode_ecg_frame(1, &[-32766, 0]).unwrap(), f);
        let mut out = Vec::new();
        assert_eq!(
            decode_ecg_into(&f, &FrameContext::default(), &mut out)
                .unwrap()
                .frame_type,
            0
        );
        assert_eq!(out, vec![-32766, 0]);
    }

    #[test]
    fn acc_delta_worked_example() {
        let mut f = vec![0x02];
        f.extend_from_slice(&7u64.to_le_bytes());
        f.push(0x81);
        f.extend(hex("F1 FF 14 00 F0 03 06 01 7B 0F 08"));
        let frame = decode_frame(&f, &FrameContext::default()).unwrap();
        assert!(frame.header.delta);
        assert_eq!(
            frame.data,
            FrameData::Acc(vec![[-15, 20, 1008], [-20, 17, 1008]])
        );
        // our encoder packs the deltas tighter (4 bits) and decodes to the same samples
        let enc = encode_delta_frame(
            MeasurementType::Acc,
            7,
            1,
            &[-15, 20, 1008, -20, 17, 1008],
            &FrameContext::default(),
        )
        .unwrap();
        assert_eq!(&enc[16..], &hex("04 01 DB 00"));
        assert_eq!(decode_frame(&enc, &FrameContext::default()).unwrap(), frame);
        // conversion factor applies to delta frames
        let ctx = FrameContext {
            resolution_bits: Some(16),
            factor: Some(2.0),
        };
        let frame = decode_frame(&f, &ctx).unwrap();
        assert_eq!(
            frame.data,
            FrameData::Acc(vec![[-30, 40, 2016], [-40, 34, 2016]])
        );
    }

    #[test]
    fn acc_uncompressed_types() {
        for t in 0..=2u8 {
            let s = [[-100, 5, 127], [1, -128, 0]];
            let f = encode_acc_frame(9, t, &s).unwrap();
            assert_eq!(f.len(), 10 + 6 * (usize::from(t) + 1));
            assert_eq!(
                decode_frame(&f, &FrameContext::default()).unwrap().data,
                FrameData::Acc(s.to_vec())
            );
        }
        assert!(encode_acc_frame(9, 0, &[[200, 0, 0]]).is_err());
    }

    #[test]
    fn malformed_frames() {
        let ctx = FrameContext::default();
        assert!(matches!(
            decode_frame(&[], &ctx),
            Err(ProtocolError::Truncated { at: 0, .. })
        ));
        assert!(matches!(
            decode_frame(&[0, 1, 2], &ctx),
            Err(ProtocolError::Truncated { at: 1, .. })
        ));
        assert!(matches!(
            decode_frame(&hex("04 00 00 00 00 00 00 00 00 00"), &ctx),
            Err(ProtocolError::UnknownMeasurement { at: 0, value: 4 })
        ));
        // ECG types 1 and 2 are not decoded (documented for other devices only)
        let e = decode_frame(&hex("00 00 00 00 00 00 00 00 00 01 00 00 00"), &ctx).unwrap_err();
        assert_eq!(
            e,
            ProtocolError::UnsupportedFrameType {
                at: 9,
                measurement: MeasurementType::Ecg,
                frame_type: 1,
                delta: false
            }
        );
        assert_eq!(e.to_string(), "byte 9: unsupported ECG frame type 1");
        assert!(matches!(
            decode_frame(&hex("01 00 00 00 00 00 00 00 00 00 00"), &ctx),
            Err(ProtocolError::UnsupportedFrameType { .. })
        ));
        // a partial sample
        assert_eq!(
            decode_frame(&hex("00 00 00 00 00 00 00 00 00 00 01 02 03 04"), &ctx),
            Err(ProtocolError::Truncated {
                at: 13,
                needed: 2,
                what: "sample"
            })
        );
        // no samples
        assert!(matches!(
            decode_frame(&hex("00 00 00 00 00 00 00 00 00 00"), &ctx),
            Err(ProtocolError::Invalid { at: 10, .. })
        ));
        // delta: bad bit width, truncated block
        assert!(matches!(
            decode_frame(
                &hex("02 00 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 00 01"),
                &ctx
            ),
            Err(ProtocolError::Invalid { at: 16, .. })
        ));
        assert!(matches!(
            decode_frame(
                &hex("02 00 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 01 7B"),
                &ctx
            ),
            Err(ProtocolError::Truncated { at: 18, .. })
        ));
        assert!(matches!(
            decode_frame(&hex("02 00 00 00 00 00 00 00 00 81 F1 FF 14"), &ctx),
            Err(ProtocolError::Truncated { at: 12, .. })
        ));
    }

    #[test]
    fn delta_extremes_round_trip() {
        let s = [i32::MIN, i32::MAX, 0, -1, i32::MAX, i32::MIN];
        let mut b = Vec::new();
        encode_delta_payload(&s, 1, 4, &mut b).unwrap();
        let mut out = Vec::new();
        decode_delta_into(&b, 1, 4, 0, &mut out).unwrap();
        assert_eq!(out, s);
        assert!(encode_delta_payload(&[70_000], 1, 2, &mut b).is_err());
        // degenerate shapes given to the public decoder do not panic
        assert!(decode_delta_into(&[1, 2, 3], 0, 0, 0, &mut out).is_err());
        assert!(decode_delta_into(&[8, 1, 0xFF], 1, 0, 0, &mut out).is_ok());
        assert!(encode_delta_payload(&[1, 2], 3, 2, &mut b).is_err());
    }
}
