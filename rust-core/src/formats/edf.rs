//! EDF and EDF+ files: the fixed header, the per-signal header, 16-bit data records, and EDF+
//! annotations (time-stamped annotation lists, TALs).
//!
//! References: Kemp et al., "A simple format for exchange of digitized polygraphic recordings"
//! (EDF, 1992) and the EDF+ specification (Kemp & Olivan, 2003), <https://www.edfplus.info/specs/>.

use crate::{
    error::ParseError,
    record::{Annotation, Recording, Signal, infer_unit, is_ecg_label},
};

/// Size of the fixed part of the header and of each signal's part (EDF §2.1).
const BLOCK: usize = 256;
/// Label of the EDF+ annotation signal (EDF+ §2.2.1).
pub const ANNOTATIONS_LABEL: &str = "EDF Annotations";
/// The equipment field of the EDF+ files StressBeat writes (last word of the recording field).
const EQUIPMENT: &str = "StressBeat";
/// Start of the annotation a StressBeat export puts over a stretch without ECG (filled with a
/// constant, since EDF has no missing value): read back, the stretch is missing signal (NaN).
pub const NO_ECG_ANNOTATION: &str = "no ECG";
/// Rate in which annotation samples count when a file has no ordinary signal (milliseconds).
const ANNOTATION_ONLY_RATE_HZ: f64 = 1000.0;

/// Which flavour of EDF the reserved field declares (EDF+ §2.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain EDF (reserved field not starting with "EDF+").
    Edf,
    /// EDF+C: contiguous data records.
    EdfPlusContinuous,
    /// EDF+D: data records may be separated by gaps (their onsets are in the annotations).
    EdfPlusDiscontinuous,
}

/// One signal's part of the header.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalHeader {
    pub label: String,
    pub transducer: String,
    pub physical_dimension: String,
    pub physical_min: f64,
    pub physical_max: f64,
    pub digital_min: i32,
    pub digital_max: i32,
    pub prefiltering: String,
    pub samples_per_record: usize,
}

impl SignalHeader {
    /// Whether this is the EDF+ annotation signal.
    pub fn is_annotations(&self) -> bool {
        self.label == ANNOTATIONS_LABEL
    }

    /// Digital → physical: a straight line through (dig_min, phys_min) and (dig_max, phys_max).
    #[inline]
    pub fn to_physical(&self, digital: i16) -> f32 {
        let (d0, d1) = (f64::from(self.digital_min), f64::from(self.digital_max));
        let scale = (self.physical_max - self.physical_min) / (d1 - d0);
        (self.physical_min + (f64::from(digital) - d0) * scale) as f32
    }
}

/// The whole header: fixed part plus signal parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub kind: Kind,
    pub patient: String,
    pub recording: String,
    pub start_date: String,
    pub start_time: String,
    pub header_bytes: usize,
    /// Number of data records (derived from the file size when the header says -1).
    pub data_records: u64,
    pub record_duration_s: f64,
    pub signals: Vec<SignalHeader>,
}

impl Header {
    /// Bytes of one data record (2 bytes per sample of every signal).
    pub fn record_bytes(&self) -> u64 {
        self.signals
            .iter()
            .map(|s| s.samples_per_record as u64 * 2)
            .sum()
    }

    /// Sampling rate of a signal.
    pub fn rate_hz(&self, s: &SignalHeader) -> f64 {
        s.samples_per_record as f64 / self.record_duration_s
    }
}

/// The `width` header bytes at `offset`, refused (naming the byte) if any is `bad`.
fn raw_field<'a>(
    bytes: &'a [u8],
    offset: usize,
    width: usize,
    bad: impl Fn(u8) -> bool,
    what_bad: &str,
) -> Result<&'a [u8], ParseError> {
    let raw = bytes
        .get(offset..offset + width)
        .ok_or_else(|| ParseError::at_byte(bytes.len() as u64, "truncated header"))?;
    match raw.iter().position(|&b| bad(b)) {
        Some(i) => Err(ParseError::at_byte(
            (offset + i) as u64,
            format!("header byte 0x{:02x} is {what_bad}", raw[i]),
        )),
        None => Ok(raw),
    }
}

/// A fixed-width ASCII field at `offset` (the whole header must be printable ASCII, EDF §2.1).
fn field(bytes: &[u8], offset: usize, width: usize) -> Result<&str, ParseError> {
    let raw = raw_field(
        bytes,
        offset,
        width,
        |b| !(0x20..=0x7e).contains(&b),
        "not printable ASCII",
    )?;
    // printable ASCII is valid UTF-8
    Ok(std::str::from_utf8(raw).unwrap_or_default().trim())
}

/// A fixed-width text field (patient, recording, label, transducer, unit, prefiltering). EDF
/// asks for printable ASCII, but writers put a Latin-1 or UTF-8 `µV` or an accented name there:
/// such bytes are read as UTF-8 when valid, else as Latin-1; NUL is padding. Other control
/// bytes are refused.
fn text_field(bytes: &[u8], offset: usize, width: usize) -> Result<String, ParseError> {
    let raw = raw_field(
        bytes,
        offset,
        width,
        |b| (b < 0x20 && b != 0) || b == 0x7f,
        "a control character",
    )?;
    let text = match std::str::from_utf8(raw) {
        Ok(s) => s.to_string(),
        Err(_) => raw.iter().map(|&b| char::from(b)).collect(),
    };
    Ok(text.replace('\0', " ").trim().to_string())
}

fn number<T: std::str::FromStr>(
    bytes: &[u8],
    offset: usize,
    width: usize,
    what: &str,
) -> Result<T, ParseError> {
    let f = field(bytes, offset, width)?;
    f.parse::<T>()
        .map_err(|_| ParseError::at_byte(offset as u64, format!("bad {what} {f:?}")))
}

/// Parse the header and check it against the file length (`bytes` is the whole file).
pub fn parse_header(bytes: &[u8]) -> Result<Header, ParseError> {
    if bytes.len() < BLOCK {
        return Err(ParseError::at_byte(
            bytes.len() as u64,
            format!(
                "truncated: {} bytes, an EDF header has at least 256",
                bytes.len()
            ),
        ));
    }
    // fixed part: version 8, patient 80, recording 80, startdate 8, starttime 8, header bytes 8,
    // reserved 44, number of data records 8, duration of a data record 8, number of signals 4
    if bytes.first() == Some(&0xff) {
        return Err(ParseError::at_byte(0, "BDF (24-bit) files are not EDF"));
    }
    let version = field(bytes, 0, 8)?;
    if version != "0" {
        return Err(ParseError::at_byte(
            0,
            format!("version {version:?} is not EDF's \"0\""),
        ));
    }
    let reserved = field(bytes, 192, 44)?;
    let kind = match reserved.get(..5) {
        Some("EDF+C") => Kind::EdfPlusContinuous,
        Some("EDF+D") => Kind::EdfPlusDiscontinuous,
        _ => Kind::Edf,
    };
    let header_bytes: usize = number(bytes, 184, 8, "header size")?;
    let declared_records: i64 = number(bytes, 236, 8, "number of data records")?;
    let record_duration_s: f64 = number(bytes, 244, 8, "data record duration")?;
    let ns: usize = number(bytes, 252, 4, "number of signals")?;
    if header_bytes != BLOCK * (ns + 1) {
        return Err(ParseError::at_byte(
            184,
            format!(
                "header size {header_bytes} does not match {ns} signals ({} expected)",
                BLOCK * (ns + 1)
            ),
        ));
    }
    if bytes.len() < header_bytes {
        return Err(ParseError::at_byte(
            bytes.len() as u64,
            format!(
                "truncated: header of {header_bytes} bytes, file of {}",
                bytes.len()
            ),
        ));
    }
    if !(record_duration_s.is_finite() && record_duration_s >= 0.0) {
        return Err(ParseError::at_byte(
            244,
            format!("bad data record duration {record_duration_s}"),
        ));
    }

    // signal part: each field for all signals before the next field (EDF §2.1.2)
    let at = |field_start: usize, width: usize, i: usize| BLOCK + field_start * ns + i * width;
    let mut signals = Vec::with_capacity(ns);
    for i in 0..ns {
        let s = SignalHeader {
            label: text_field(bytes, at(0, 16, i), 16)?,
            transducer: text_field(bytes, at(16, 80, i), 80)?,
            physical_dimension: text_field(bytes, at(96, 8, i), 8)?,
            physical_min: number(bytes, at(104, 8, i), 8, "physical minimum")?,
            physical_max: number(bytes, at(112, 8, i), 8, "physical maximum")?,
            digital_min: number(bytes, at(120, 8, i), 8, "digital minimum")?,
            digital_max: number(bytes, at(128, 8, i), 8, "digital maximum")?,
            prefiltering: text_field(bytes, at(136, 80, i), 80)?,
            samples_per_record: number(bytes, at(216, 8, i), 8, "samples per data record")?,
        };
        let offset = at(104, 8, i) as u64;
        if !(s.physical_min.is_finite() && s.physical_max.is_finite())
            || s.physical_min == s.physical_max
        {
            return Err(ParseError::at_byte(
                offset,
                format!(
                    "signal {i} ({}): physical minimum and maximum must differ",
                    s.label
                ),
            ));
        }
        if s.digital_min >= s.digital_max {
            return Err(ParseError::at_byte(
                at(120, 8, i) as u64,
                format!(
                    "signal {i} ({}): digital minimum {} is not below maximum {}",
                    s.label, s.digital_min, s.digital_max
                ),
            ));
        }
        if s.samples_per_record == 0 {
            return Err(ParseError::at_byte(
                at(216, 8, i) as u64,
                format!("signal {i} ({}): no samples per data record", s.label),
            ));
        }
        signals.push(s);
    }
    if record_duration_s == 0.0 && signals.iter().any(|s| !s.is_annotations()) {
        return Err(ParseError::at_byte(
            244,
            "data record duration 0 is allowed only without ordinary signals",
        ));
    }

    let mut header = Header {
        kind,
        patient: text_field(bytes, 8, 80)?,
        recording: text_field(bytes, 88, 80)?,
        start_date: field(bytes, 168, 8)?.to_string(),
        start_time: field(bytes, 176, 8)?.to_string(),
        header_bytes,
        data_records: 0,
        record_duration_s,
        signals,
    };
    // The data records must fill the rest of the file exactly.
    let record_bytes = header.record_bytes();
    let data_bytes = (bytes.len() - header_bytes) as u64;
    header.data_records = match declared_records {
        -1 => {
            // "-1 (unknown)" while recording: derive from the file size (EDF+ §2.1.3)
            if record_bytes == 0 || !data_bytes.is_multiple_of(record_bytes) {
                return Err(ParseError::at_byte(
                    bytes.len() as u64,
                    format!(
                        "number of data records is -1 and the {data_bytes} data bytes are not a whole number of {record_bytes}-byte records"
                    ),
                ));
            }
            data_bytes / record_bytes
        }
        n if n >= 0 => {
            let n = n as u64;
            let needed = u128::from(n) * u128::from(record_bytes);
            if needed != u128::from(data_bytes) {
                let what = if needed > u128::from(data_bytes) {
                    "truncated"
                } else {
                    "inconsistent"
                };
                return Err(ParseError::at_byte(
                    bytes.len() as u64,
                    format!(
                        "{what}: header declares {n} data records of {record_bytes} bytes ({needed} bytes) but the file has {data_bytes} data bytes"
                    ),
                ));
            }
            n
        }
        n => {
            return Err(ParseError::at_byte(
                236,
                format!("bad number of data records {n}"),
            ));
        }
    };
    Ok(header)
}

/// Read a whole EDF/EDF+C file into a [`Recording`] (without a name).
///
/// Ordinary signals are scaled to physical units; EDF+ annotations become [`Annotation`]s whose
/// `sample` counts in the fastest ordinary signal's rate from the first record's start. In a file
/// StressBeat wrote, the stretches annotated [`NO_ECG_ANNOTATION`] read as NaN (missing).
/// EDF+D files are rejected: their records are not contiguous (callers should check
/// [`Header::kind`] first to report that as unsupported).
pub fn parse(bytes: &[u8]) -> Result<Recording, ParseError> {
    let header = parse_header(bytes)?;
    if header.kind == Kind::EdfPlusDiscontinuous {
        return Err(ParseError::at_byte(
            192,
            "EDF+D (discontinuous) files are not supported",
        ));
    }
    let n_records = header.data_records as usize; // the data fit in `bytes`, so this fits usize
    let mut signals: Vec<Option<Signal>> = header
        .signals
        .iter()
        .map(|s| {
            (!s.is_annotations()).then(|| Signal {
                label: s.label.clone(),
                unit: s.physical_dimension.clone(),
                sampling_rate_hz: header.rate_hz(s),
                samples: Vec::with_capacity(s.samples_per_record * n_records),
            })
        })
        .collect();
    let annotation_rate_hz = signals
        .iter()
        .flatten()
        .map(|s| s.sampling_rate_hz)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))))
        .unwrap_or(ANNOTATION_ONLY_RATE_HZ);

    let mut annotations = Vec::new();
    let mut first_onset: Option<f64> = None;
    let mut pos = header.header_bytes;
    for record in 0..n_records {
        for (spec, signal) in header.signals.iter().zip(signals.iter_mut()) {
            let len = spec.samples_per_record * 2;
            let block = bytes
                .get(pos..pos + len)
                .ok_or_else(|| ParseError::at_byte(pos as u64, "truncated data record"))?;
            match signal {
                Some(sig) => sig.samples.extend(
                    block
                        .chunks_exact(2)
                        .map(|b| spec.to_physical(i16::from_le_bytes([b[0], b[1]]))),
                ),
                None => {
                    let onset = parse_annotation_block(block, pos, &mut |tal: Tal| {
                        annotations.push(tal);
                    })?;
                    let start = *first_onset.get_or_insert(onset);
                    // EDF+C: record r starts r × duration after the first (EDF+ §2.2.4)
                    let expected = start + record as f64 * header.record_duration_s;
                    // (a duration of 0 marks an annotation-only file, whose records have no span)
                    let contiguous = header.kind != Kind::EdfPlusContinuous
                        || header.record_duration_s == 0.0
                        || (onset - expected).abs() <= 1e-3;
                    if !contiguous {
                        return Err(ParseError::at_byte(
                            pos as u64,
                            format!(
                                "EDF+C record {record} starts at {onset} s, expected {expected} s: the file is discontinuous"
                            ),
                        ));
                    }
                }
            }
            pos += len;
        }
    }
    let origin = first_onset.unwrap_or(0.0);
    let annotations: Vec<Annotation> = annotations
        .into_iter()
        .flat_map(|tal| {
            let sample = ((tal.onset_s - origin) * annotation_rate_hz).round() as i64;
            tal.texts.into_iter().map(move |text| Annotation {
                sample,
                symbol: text,
                code: 0,
                subtype: 0,
                chan: 0,
                num: 0,
                aux: None,
                duration_s: tal.duration_s,
            })
        })
        .collect();
    let mut signals: Vec<Signal> = signals.into_iter().flatten().collect();
    // an ECG lead whose physical dimension is blank: µV or mV by its amplitude, as for CSV
    for s in &mut signals {
        if s.unit.trim().is_empty() && is_ecg_label(&s.label) {
            s.unit = infer_unit(&s.samples, s.sampling_rate_hz).to_string();
        }
    }
    if header.recording.split_whitespace().last() == Some(EQUIPMENT) {
        mark_missing(&mut signals, &annotations, annotation_rate_hz);
    }
    Ok(Recording {
        name: String::new(),
        signals,
        annotations,
        annotation_rate_hz,
        ecg_channel_hint: None,
    })
}

/// Set to NaN the samples of every stretch annotated [`NO_ECG_ANNOTATION`] (with a duration).
fn mark_missing(signals: &mut [Signal], annotations: &[Annotation], annotation_rate_hz: f64) {
    for a in annotations
        .iter()
        .filter(|a| a.symbol.starts_with(NO_ECG_ANNOTATION))
    {
        let Some(duration_s) = a.duration_s.filter(|d| d.is_finite() && *d > 0.0) else {
            continue;
        };
        let onset_s = a.sample as f64 / annotation_rate_hz;
        for s in signals.iter_mut() {
            let at =
                |t: f64| ((t * s.sampling_rate_hz).round().max(0.0) as usize).min(s.samples.len());
            let (from, to) = (at(onset_s), at(onset_s + duration_s));
            s.samples[from..to.max(from)].fill(f32::NAN);
        }
    }
}

/// One time-stamped annotation list: `+onset[\x15duration]\x14text\x14…\x14\0` (EDF+ §2.2.2).
#[derive(Debug, Clone, PartialEq)]
struct Tal {
    onset_s: f64,
    duration_s: Option<f64>,
    texts: Vec<String>,
}

/// Parse the annotation signal's bytes of one data record (starting at file offset `base`).
/// Hands every annotation TAL to `sink` and returns the record's onset, taken from its first
/// (time-keeping) TAL (EDF+ §2.2.4).
fn parse_annotation_block(
    block: &[u8],
    base: usize,
    sink: &mut dyn FnMut(Tal),
) -> Result<f64, ParseError> {
    let mut record_onset = None;
    let mut start = 0;
    while start < block.len() {
        let rest = block.get(start..).unwrap_or_default();
        if rest.first() == Some(&0) {
            start += 1; // padding between/after TALs
            continue;
        }
        let at = (base + start) as u64;
        let len = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| ParseError::at_byte(at, "TAL is not terminated by a 0 byte"))?;
        let tal = rest.get(..len).unwrap_or_default();
        let body = tal
            .strip_suffix(&[0x14])
            .ok_or_else(|| ParseError::at_byte(at, "TAL does not end with 0x14"))?;
        let mut parts = body.split(|&b| b == 0x14);
        let stamp = parts.next().unwrap_or_default();
        let (onset, duration) = match stamp.iter().position(|&b| b == 0x15) {
            Some(i) => (stamp.get(..i).unwrap_or_default(), stamp.get(i + 1..)),
            None => (stamp, None),
        };
        let onset_s = parse_onset(onset).ok_or_else(|| {
            ParseError::at_byte(
                at,
                format!("bad TAL onset {:?}", String::from_utf8_lossy(onset)),
            )
        })?;
        let duration_s = match duration {
            Some(d) => Some(parse_duration(d).ok_or_else(|| {
                ParseError::at_byte(
                    at,
                    format!("bad TAL duration {:?}", String::from_utf8_lossy(d)),
                )
            })?),
            None => None,
        };
        let texts: Vec<String> = parts
            .filter(|t| !t.is_empty())
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect();
        if record_onset.is_none() {
            record_onset = Some(onset_s);
        }
        if !texts.is_empty() {
            sink(Tal {
                onset_s,
                duration_s,
                texts,
            });
        }
        start += len + 1;
    }
    record_onset
        .ok_or_else(|| ParseError::at_byte(base as u64, "data record has no time-keeping TAL"))
}

/// Onset: `+` or `-`, then a decimal number of seconds (EDF+ §2.2.2).
fn parse_onset(b: &[u8]) -> Option<f64> {
    let (&sign, digits) = b.split_first()?;
    if sign != b'+' && sign != b'-' {
        return None;
    }
    let v = parse_duration(digits)?;
    Some(if sign == b'-' { -v } else { v })
}

/// Duration: an unsigned decimal number of seconds.
fn parse_duration(b: &[u8]) -> Option<f64> {
    if b.is_empty() || !b.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        return None;
    }
    std::str::from_utf8(b)
        .ok()?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// Write one signal as a plain EDF file (1-second data records, 16-bit samples with
/// digital = physical in the given `unit`, clamped to ±32767). The last record is padded with
/// zeros. `start` is the EDF "dd.mm.yy" date and "hh.mm.ss" time.
pub fn write_edf(
    out: &mut impl std::io::Write,
    label: &str,
    unit: &str,
    sampling_rate_hz: u32,
    samples: &[i32],
    start: (&str, &str),
) -> std::io::Result<()> {
    let header = WriteHeader {
        label,
        unit,
        sampling_rate_hz,
        samples: samples.len() as u64,
        start_date: start.0,
        start_time: start.1,
        recording: &format!("Startdate X X X {EQUIPMENT}"),
    };
    let mut w = EdfPlusWriter::start(out, &header, None)?;
    w.push(samples)?;
    w.finish().map(drop)
}

/// One annotation for [`write_edf_plus`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EdfAnnotation<'a> {
    /// Onset in seconds from the file's start time (header date and time).
    pub onset_s: f64,
    /// Duration in seconds, if any.
    pub duration_s: Option<f64>,
    /// Text (UTF-8; the TAL delimiters 0x00, 0x14 and 0x15 are removed).
    pub text: &'a str,
}

/// The one ordinary signal of an EDF+ file ([`write_edf_plus`], [`EdfPlusWriter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdfSignal<'a> {
    /// Label (e.g. "ECG").
    pub label: &'a str,
    /// Physical unit of the samples (e.g. "uV").
    pub unit: &'a str,
    /// Sampling rate, Hz (the samples per 1-second record).
    pub sampling_rate_hz: u32,
}

/// The civil start of an EDF+ file (whole seconds; a sub-second start goes in the first
/// record's onset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdfStart {
    /// Year (four digits; the header's two-digit year follows EDF+ §2.1.3.2: 1985–2084).
    pub year: i64,
    /// Month 1–12.
    pub month: u32,
    /// Day 1–31.
    pub day: u32,
    /// Hour 0–23.
    pub hour: u32,
    /// Minute 0–59.
    pub minute: u32,
    /// Second 0–59.
    pub second: u32,
}

/// Write one signal as an EDF+C file with an "EDF Annotations" signal (EDFbrowser reads it):
/// 1-second data records, samples (digital = physical, clamped to ±32767) as in [`write_edf`],
/// patient "X X X X" (anonymous), record `r` starting `first_record_onset_s + r` seconds after
/// `start`, and each annotation in the record holding its onset (the first record for earlier
/// ones, the last for later ones). [`EdfPlusWriter`] writes the same file piece by piece.
pub fn write_edf_plus(
    out: &mut impl std::io::Write,
    signal: &EdfSignal<'_>,
    samples: &[i32],
    start: &EdfStart,
    first_record_onset_s: f64,
    annotations: &[EdfAnnotation<'_>],
) -> std::io::Result<()> {
    let mut w = EdfPlusWriter::new(
        out,
        signal,
        samples.len() as u64,
        start,
        first_record_onset_s,
        annotations,
    )?;
    w.push(samples)?;
    w.finish().map(drop)
}

/// The fixed header fields of a file [`EdfPlusWriter`] writes.
struct WriteHeader<'a> {
    label: &'a str,
    unit: &'a str,
    sampling_rate_hz: u32,
    /// Samples the file will hold (its record count follows).
    samples: u64,
    start_date: &'a str,
    start_time: &'a str,
    recording: &'a str,
}

/// Seconds as a TAL number: "+" or "-", at most 3 decimals, no trailing zeros (EDF+ §2.2.2).
fn tal_seconds(v: f64, signed: bool) -> String {
    let t = format!("{:.3}", v.abs());
    let t = t.trim_end_matches('0').trim_end_matches('.');
    let t = if t.is_empty() { "0" } else { t };
    match (signed, v < 0.0 && t != "0") {
        (false, _) => t.to_string(),
        (true, true) => format!("-{t}"),
        (true, false) => format!("+{t}"),
    }
}

/// The annotation signal of an EDF+ file: each record's time-keeping TAL, written as the
/// record is, and the annotations' TALs by record.
#[derive(Debug)]
struct AnnotationSignal {
    first_onset_s: f64,
    /// (record, TAL bytes), by record
    notes: Vec<(u64, Vec<u8>)>,
    next_note: usize,
    /// Samples per record: room for the fullest record.
    samples_per_record: usize,
}

impl AnnotationSignal {
    fn new(first_onset_s: f64, records: u64, notes: &[EdfAnnotation<'_>]) -> Self {
        let mut by_record: Vec<(u64, Vec<u8>)> = notes
            .iter()
            .map(|a| {
                let r = ((a.onset_s - first_onset_s).floor().max(0.0) as u64).min(records - 1);
                let text: String = a
                    .text
                    .chars()
                    .filter(|c| !matches!(c, '\0' | '\x14' | '\x15'))
                    .collect();
                let mut tal = tal_seconds(a.onset_s, true);
                if let Some(d) = a.duration_s {
                    tal.push('\x15');
                    tal.push_str(&tal_seconds(d, false));
                }
                tal.push('\x14');
                tal.push_str(&text);
                tal.push_str("\x14\0");
                (r, tal.into_bytes())
            })
            .collect();
        by_record.sort_by_key(|(r, _)| *r); // stable: a record's notes keep their order
        let mut fullest = 0;
        let mut i = 0;
        for r in 0..records {
            let mut len = Self::time_keeping(first_onset_s, r).len();
            while let Some((_, tal)) = by_record.get(i).filter(|(nr, _)| *nr == r) {
                len += tal.len();
                i += 1;
            }
            fullest = fullest.max(len);
        }
        Self {
            first_onset_s,
            notes: by_record,
            next_note: 0,
            samples_per_record: fullest.div_ceil(2),
        }
    }

    fn time_keeping(first_onset_s: f64, record: u64) -> String {
        format!(
            "{}\x14\x14\0",
            tal_seconds(first_onset_s + record as f64, true)
        )
    }

    /// Append record `r`'s annotation bytes, padded to the signal's size.
    fn append_record(&mut self, r: u64, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend(Self::time_keeping(self.first_onset_s, r).bytes());
        while let Some((_, tal)) = self.notes.get(self.next_note).filter(|(nr, _)| *nr == r) {
            out.extend(tal);
            self.next_note += 1;
        }
        out.resize(start + 2 * self.samples_per_record, 0);
    }
}

/// Writes an EDF+C file ([`write_edf_plus`]) piece by piece, so that a long recording is never
/// held in memory whole: the header first (so the number of samples is given up front), then
/// [`push`](Self::push) the samples in order and [`finish`](Self::finish). Memory: one data
/// record and the annotations.
#[derive(Debug)]
pub struct EdfPlusWriter<W: std::io::Write> {
    out: W,
    samples_per_record: usize,
    /// Samples the header declares.
    declared: u64,
    /// Room in its records (the last one padded with zeros).
    capacity: u64,
    written: u64,
    /// The ECG bytes of the record being filled.
    record: Vec<u8>,
    next_record: u64,
    annotations: Option<AnnotationSignal>,
}

impl<W: std::io::Write> EdfPlusWriter<W> {
    /// Write the header of an EDF+C file of `samples` samples of `signal` (see
    /// [`write_edf_plus`] for the other arguments).
    pub fn new(
        out: W,
        signal: &EdfSignal<'_>,
        samples: u64,
        start: &EdfStart,
        first_record_onset_s: f64,
        annotations: &[EdfAnnotation<'_>],
    ) -> std::io::Result<Self> {
        const MONTHS: [&str; 12] = [
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ];
        let month = MONTHS
            .get(start.month.saturating_sub(1) as usize)
            .copied()
            .unwrap_or("JAN");
        let recording = format!(
            "Startdate {:02}-{month}-{:04} X X {EQUIPMENT}",
            start.day, start.year
        );
        let start_date = format!(
            "{:02}.{:02}.{:02}",
            start.day,
            start.month,
            start.year.rem_euclid(100)
        );
        let start_time = format!("{:02}.{:02}.{:02}", start.hour, start.minute, start.second);
        let header = WriteHeader {
            label: signal.label,
            unit: signal.unit,
            sampling_rate_hz: signal.sampling_rate_hz,
            samples,
            start_date: &start_date,
            start_time: &start_time,
            recording: &recording,
        };
        Self::start(out, &header, Some((first_record_onset_s, annotations)))
    }

    /// Write the header; `plus` = (first record onset, annotations) for EDF+C.
    fn start(
        mut out: W,
        spec: &WriteHeader<'_>,
        plus: Option<(f64, &[EdfAnnotation<'_>])>,
    ) -> std::io::Result<Self> {
        fn field(out: &mut Vec<u8>, v: &str, width: usize) {
            let mut b: Vec<u8> = v
                .bytes()
                .filter(|c| (0x20..0x7F).contains(c))
                .take(width)
                .collect();
            b.resize(width, b' ');
            out.extend(b);
        }
        let n = spec.sampling_rate_hz.max(1) as usize;
        let records = spec.samples.div_ceil(n as u64).max(1);
        let annotations = plus.map(|(onset, notes)| AnnotationSignal::new(onset, records, notes));
        let annotation_spr = annotations.as_ref().map(|a| a.samples_per_record);
        let ns = 1 + usize::from(annotation_spr.is_some());
        let mut h = Vec::with_capacity((ns + 1) * BLOCK);
        field(&mut h, "0", 8);
        field(&mut h, "X X X X", 80);
        field(&mut h, spec.recording, 80);
        field(&mut h, spec.start_date, 8);
        field(&mut h, spec.start_time, 8);
        field(&mut h, &((ns + 1) * BLOCK).to_string(), 8);
        field(&mut h, if plus.is_some() { "EDF+C" } else { "" }, 44);
        field(&mut h, &records.to_string(), 8);
        field(&mut h, "1", 8);
        field(&mut h, &ns.to_string(), 4);
        // each header field for every signal in turn: (ECG, annotations)
        let columns: [(&str, &str, usize); 9] = [
            (spec.label, ANNOTATIONS_LABEL, 16),
            ("ECG electrodes", "", 80),
            (spec.unit, "", 8),
            ("-32768", "-1", 8),
            ("32767", "1", 8),
            ("-32768", "-32768", 8),
            ("32767", "32767", 8),
            ("", "", 80),
            ("", "", 8), // samples per record: below
        ];
        for (i, (ecg, ann, width)) in columns.iter().enumerate() {
            let (ecg, ann) = if i == 8 {
                (n.to_string(), annotation_spr.unwrap_or(0).to_string())
            } else {
                ((*ecg).to_string(), (*ann).to_string())
            };
            field(&mut h, &ecg, *width);
            if annotation_spr.is_some() {
                field(&mut h, &ann, *width);
            }
        }
        for _ in 0..ns {
            field(&mut h, "", 32);
        }
        out.write_all(&h)?;
        Ok(Self {
            out,
            samples_per_record: n,
            declared: spec.samples,
            capacity: records * n as u64,
            written: 0,
            record: Vec::with_capacity(2 * n + 2 * annotation_spr.unwrap_or(0)),
            next_record: 0,
            annotations,
        })
    }

    /// Write the next samples (digital = physical, clamped to ±32767).
    pub fn push(&mut self, samples: &[i32]) -> std::io::Result<()> {
        samples.iter().try_for_each(|&v| self.push_one(v))
    }

    /// Write `count` samples of the value `v` (a filled stretch).
    pub fn push_repeated(&mut self, v: i32, count: u64) -> std::io::Result<()> {
        (0..count).try_for_each(|_| self.push_one(v))
    }

    fn push_one(&mut self, v: i32) -> std::io::Result<()> {
        if self.written >= self.declared {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "EDF writer: more samples than the header declares",
            ));
        }
        self.write_sample(v)
    }

    fn write_sample(&mut self, v: i32) -> std::io::Result<()> {
        self.record
            .extend((v.clamp(-32768, 32767) as i16).to_le_bytes());
        self.written += 1;
        if self.record.len() == 2 * self.samples_per_record {
            if let Some(a) = self.annotations.as_mut() {
                a.append_record(self.next_record, &mut self.record);
            }
            self.out.write_all(&self.record)?;
            self.record.clear();
            self.next_record += 1;
        }
        Ok(())
    }

    /// Pad the last record with zeros and hand the output back. Fails when fewer samples were
    /// pushed than the header declares.
    pub fn finish(mut self) -> std::io::Result<W> {
        if self.written < self.declared {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "EDF writer: {} samples fewer than the header declares",
                    self.declared - self.written
                ),
            ));
        }
        while self.written < self.capacity {
            self.write_sample(0)?;
        }
        Ok(self.out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// (label, unit, phys_min, phys_max, dig_min, dig_max, samples per record)
    type SignalDef<'a> = (&'a str, &'a str, f64, f64, i32, i32, usize);

    /// Build an EDF file: `signals` = (label, unit, phys_min, phys_max, dig_min, dig_max, spr),
    /// `records` = raw bytes of each data record.
    pub(crate) fn build(
        reserved: &str,
        n_records: i64,
        duration: &str,
        signals: &[SignalDef],
        records: &[Vec<u8>],
    ) -> Vec<u8> {
        let pad = |s: &str, w: usize| format!("{s:<w$}");
        let ns = signals.len();
        let mut h = String::new();
        h += &pad("0", 8);
        h += &pad("X X X X", 80);
        h += &pad("Startdate X X X X", 80);
        h += "01.01.11";
        h += "00.00.00";
        h += &pad(&(256 * (ns + 1)).to_string(), 8);
        h += &pad(reserved, 44);
        h += &pad(&n_records.to_string(), 8);
        h += &pad(duration, 8);
        h += &pad(&ns.to_string(), 4);
        let col = |f: &dyn Fn(&SignalDef) -> String, w: usize| -> String {
            signals.iter().map(|s| pad(&f(s), w)).collect()
        };
        h += &col(&|s| s.0.to_string(), 16);
        h += &col(&|_| String::new(), 80);
        h += &col(&|s| s.1.to_string(), 8);
        h += &col(&|s| s.2.to_string(), 8);
        h += &col(&|s| s.3.to_string(), 8);
        h += &col(&|s| s.4.to_string(), 8);
        h += &col(&|s| s.5.to_string(), 8);
        h += &col(&|_| String::new(), 80);
        h += &col(&|s| s.6.to_string(), 8);
        h += &col(&|_| String::new(), 32);
        let mut b = h.into_bytes();
        for r in records {
            b.extend(r);
        }
        b
    }

    fn samples(v: &[i16]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// Annotation signal bytes of one record, padded to `len`.
    fn tals(text: &str, len: usize) -> Vec<u8> {
        let mut b = text.as_bytes().to_vec();
        b.resize(len, 0);
        b
    }

    const ECG: SignalDef = ("ECG", "mV", -1.0, 1.0, -1000, 1000, 4);
    const ANN: SignalDef = ("EDF Annotations", "", -1.0, 1.0, -32768, 32767, 16);

    #[test]
    fn blank_ecg_dimension_is_inferred_from_the_amplitude() {
        let beat: Vec<i16> = (0..100).map(|i| if i == 50 { 1200 } else { 0 }).collect();
        let file = |unit: &str, phys: f64| {
            let sig = ("ECG", unit, -phys, phys, -2000, 2000, 100);
            let other = ("Marker", "", -phys, phys, -2000, 2000, 100);
            let rec = [samples(&beat), samples(&beat)].concat();
            build("", 4, "1", &[sig, other], &vec![rec; 4])
        };
        let units = |bytes: Vec<u8>| -> Vec<String> {
            parse(&bytes)
                .unwrap()
                .signals
                .into_iter()
                .map(|s| s.unit)
                .collect()
        };
        // 1200 digital = 1200 physical: µV by amplitude; = 1.2 physical: mV
        assert_eq!(units(file("", 2000.0)), ["uV", ""]);
        assert_eq!(units(file("", 2.0)), ["mV", ""]);
        // a stated dimension is kept, whatever the amplitude
        assert_eq!(units(file("mV", 2000.0)), ["mV", ""]);
    }

    #[test]
    fn latin1_and_utf8_text_fields_are_read() {
        let latin1 = |text: &str| text.chars().map(|c| c as u8).collect::<Vec<u8>>();
        for micro in [latin1("\u{b5}V"), "µV".as_bytes().to_vec()] {
            let mut b = build("", 1, "1", &[ECG], &[samples(&[1, 2, 3, 4])]);
            b[8..14].copy_from_slice(&latin1("M\u{fc}ller"));
            // the first signal's physical dimension, 8 bytes at 256 + 96
            let unit = 256 + 96;
            b[unit..unit + 8].fill(b' ');
            b[unit..unit + micro.len()].copy_from_slice(&micro);
            let rec = parse(&b).unwrap();
            assert_eq!(rec.signals[0].unit, "µV");
            assert_eq!(rec.signals[0].millivolt_factor(), Some(1e-3));
        }
    }

    #[test]
    fn edf_plus_c_with_annotations_and_two_rates() {
        let slow = ("Resp", "uV", 0.0, 100.0, 0, 100, 2);
        let r0 = [
            samples(&[0, 500, 1000, -1000]),
            samples(&[0, 100]),
            tals("+0\x14\x14\0+0.5\x150.25\x14beat\x14x\x14\0", 32),
        ]
        .concat();
        let r1 = [
            samples(&[1, 2, 3, 4]),
            samples(&[50, 50]),
            tals("+1\x14\x14\0", 32),
        ]
        .concat();
        let b = build("EDF+C", 2, "1", &[ECG, slow, ANN], &[r0, r1]);
        let r = parse(&b).unwrap();
        assert_eq!(r.signals.len(), 2);
        assert_eq!(
            (r.signals[0].sampling_rate_hz, r.signals[1].sampling_rate_hz),
            (4.0, 2.0)
        );
        assert_eq!(r.signals[0].samples[..4], [0.0, 0.5, 1.0, -1.0]);
        assert_eq!(r.signals[1].samples, [0.0, 100.0, 50.0, 50.0]);
        assert_eq!(r.annotation_rate_hz, 4.0);
        assert_eq!(r.annotations.len(), 2);
        assert_eq!(
            (
                r.annotations[0].sample,
                r.annotations[0].symbol.as_str(),
                r.annotations[0].duration_s
            ),
            (2, "beat", Some(0.25))
        );
        assert_eq!(r.annotations[1].symbol, "x");
    }

    #[test]
    fn record_count_minus_one_is_derived() {
        let b = build(
            "",
            -1,
            "1",
            &[ECG],
            &[samples(&[1, 2, 3, 4]), samples(&[5, 6, 7, 8])],
        );
        assert_eq!(parse_header(&b).unwrap().data_records, 2);
        let e = parse_header(&b[..b.len() - 1]).unwrap_err();
        assert!(e.what.contains("whole number"), "{e}");
    }

    #[test]
    fn wrong_record_count_and_truncation() {
        let recs = [samples(&[1, 2, 3, 4]), samples(&[5, 6, 7, 8])];
        assert!(
            parse(&build("", 3, "1", &[ECG], &recs))
                .unwrap_err()
                .what
                .contains("truncated")
        );
        assert!(
            parse(&build("", 1, "1", &[ECG], &recs))
                .unwrap_err()
                .what
                .contains("inconsistent")
        );
        let b = build("", 2, "1", &[ECG], &recs);
        assert!(parse(&b[..300]).is_err());
        assert!(parse(&b[..100]).is_err());
    }

    #[test]
    fn edf_plus_d_and_gaps_are_rejected() {
        let rec = |t: &str| [samples(&[0, 0, 0, 0]), tals(t, 32)].concat();
        let d = build("EDF+D", 1, "1", &[ECG, ANN], &[rec("+0\x14\x14\0")]);
        assert_eq!(parse_header(&d).unwrap().kind, Kind::EdfPlusDiscontinuous);
        assert!(parse(&d).unwrap_err().what.contains("EDF+D"));
        let gap = build(
            "EDF+C",
            2,
            "1",
            &[ECG, ANN],
            &[rec("+0\x14\x14\0"), rec("+5\x14\x14\0")],
        );
        assert!(parse(&gap).unwrap_err().what.contains("discontinuous"));
    }

    #[test]
    fn annotation_only_file_counts_in_milliseconds() {
        let r0 = tals("+10\x14\x14\0", 32);
        let r1 = tals("+30\x14\x14\0+31.5\x14stress\x14\0", 32);
        let r = parse(&build("EDF+C", 2, "0", &[ANN], &[r0, r1])).unwrap();
        assert!(r.signals.is_empty());
        assert_eq!(r.annotation_rate_hz, 1000.0);
        // onsets count from the first record's onset (10 s)
        assert_eq!(
            (r.annotations[0].sample, r.annotations[0].symbol.as_str()),
            (21_500, "stress")
        );
        // duration 0 with an ordinary signal is not allowed
        let b = build("", 1, "0", &[ECG], &[samples(&[1, 2, 3, 4])]);
        assert!(parse(&b).unwrap_err().what.contains("duration 0"));
    }

    #[test]
    fn corrupt_headers() {
        let good = build("", 1, "1", &[ECG], &[samples(&[1, 2, 3, 4])]);
        let with = |off: usize, text: &str| {
            let mut b = good.clone();
            b[off..off + text.len()].copy_from_slice(text.as_bytes());
            b
        };
        assert!(parse(&with(0, "1")).unwrap_err().what.contains("version"));
        assert!(
            parse(&with(184, "999     "))
                .unwrap_err()
                .what
                .contains("header size")
        );
        assert!(parse(&with(244, "-1      ")).is_err());
        assert!(parse(&with(244, "abc     ")).is_err());
        // digital min == max (at 256 + 120 for the first signal)
        assert!(
            parse(&with(256 + 120, "1000    "))
                .unwrap_err()
                .what
                .contains("digital")
        );
        let mut b = good.clone();
        b[10] = 0x01;
        assert_eq!(parse(&b).unwrap_err().at, crate::error::Location::Byte(10));
        let mut b = good.clone();
        b[2] = 0xfc; // in the version field, which must be "0"
        assert!(parse(&b).is_err());
        let bad_tal = build(
            "EDF+C",
            1,
            "1",
            &[ECG, ANN],
            &[[samples(&[0, 0, 0, 0]), tals("0\x14\x14\0", 32)].concat()],
        );
        assert!(parse(&bad_tal).unwrap_err().what.contains("onset"));
        let unterminated = build(
            "EDF+C",
            1,
            "1",
            &[ECG, ANN],
            &[[samples(&[0, 0, 0, 0]), vec![b'+'; 32]].concat()],
        );
        assert!(parse(&unterminated).is_err());
    }

    #[test]
    fn write_edf_reads_back() {
        let samples: Vec<i32> = (0..300).map(|i| (i * 37 % 2000) - 1000).collect();
        let mut buf = Vec::new();
        write_edf(
            &mut buf,
            "ECG",
            "uV",
            130,
            &samples,
            ("13.01.23", "11.40.07"),
        )
        .unwrap();
        let rec = parse(&buf).unwrap();
        assert_eq!(rec.signals.len(), 1);
        let s = &rec.signals[0];
        assert_eq!(s.label, "ECG");
        assert_eq!(s.unit, "uV");
        assert!((s.sampling_rate_hz - 130.0).abs() < 1e-9);
        assert_eq!(s.samples.len(), 390);
        for (a, b) in samples.iter().zip(&s.samples) {
            assert!((*a as f32 - b).abs() < 1e-3, "{a} vs {b}");
        }
    }

    #[test]
    fn the_writer_refuses_more_or_fewer_samples_than_its_header_declares() {
        let signal = EdfSignal {
            label: "ECG",
            unit: "uV",
            sampling_rate_hz: 130,
        };
        let start = EdfStart {
            year: 2026,
            month: 11,
            day: 25,
            hour: 0,
            minute: 0,
            second: 0,
        };
        let mut w = EdfPlusWriter::new(Vec::new(), &signal, 200, &start, 0.0, &[]).unwrap();
        w.push(&[1; 199]).unwrap();
        assert!(w.finish().is_err(), "one sample short");
        // the last record's padding is the writer's, not room for more samples
        let mut w = EdfPlusWriter::new(Vec::new(), &signal, 200, &start, 0.0, &[]).unwrap();
        w.push(&[1; 200]).unwrap();
        assert!(w.push_repeated(1, 1).is_err());
        // no samples: one record of zeros, as before the writer streamed
        let w = EdfPlusWriter::new(Vec::new(), &signal, 0, &start, 0.0, &[]).unwrap();
        let rec = parse(&w.finish().unwrap()).unwrap();
        assert_eq!(rec.signals[0].samples, vec![0.0; 130]);
    }

    #[test]
    fn write_edf_plus_reads_back_with_annotations() {
        let samples: Vec<i32> = (0..650).map(|i| (i * 53 % 3000) - 1500).collect();
        let notes = [
            EdfAnnotation {
                onset_s: 0.25,
                duration_s: None,
                text: "start",
            },
            EdfAnnotation {
                onset_s: 2.5,
                duration_s: Some(1.25),
                text: "gap\x14 filled",
            },
            EdfAnnotation {
                onset_s: 4.9,
                duration_s: None,
                text: "alarm: élevé",
            },
        ];
        let start = EdfStart {
            year: 2026,
            month: 11,
            day: 21,
            hour: 18,
            minute: 5,
            second: 9,
        };
        let mut buf = Vec::new();
        let signal = EdfSignal {
            label: "ECG",
            unit: "uV",
            sampling_rate_hz: 130,
        };
        write_edf_plus(&mut buf, &signal, &samples, &start, 0.25, &notes).unwrap();
        let header = parse_header(&buf).unwrap();
        assert_eq!(header.kind, Kind::EdfPlusContinuous);
        assert_eq!(header.recording, "Startdate 21-NOV-2026 X X StressBeat");
        assert_eq!(
            (header.start_date.as_str(), header.start_time.as_str()),
            ("21.11.26", "18.05.09")
        );
        assert_eq!(header.signals.len(), 2);
        assert!(header.signals[1].is_annotations());
        let rec = parse(&buf).unwrap();
        assert_eq!(rec.signals.len(), 1);
        assert_eq!(rec.signals[0].samples.len(), 650);
        for (a, b) in samples.iter().zip(&rec.signals[0].samples) {
            assert!((*a as f32 - b).abs() < 1e-3);
        }
        // onsets count from the first record (0.25 s after the start time)
        let got: Vec<(i64, &str, Option<f64>)> = rec
            .annotations
            .iter()
            .map(|a| (a.sample, a.symbol.as_str(), a.duration_s))
            .collect();
        assert_eq!(
            got,
            [
                (0, "start", None),
                (293, "gap filled", Some(1.25)),
                (605, "alarm: élevé", None)
            ]
        );
        // written piece by piece (a filled stretch among them), the file is the same
        let mut w = EdfPlusWriter::new(Vec::new(), &signal, 650, &start, 0.25, &notes).unwrap();
        w.push(&samples[..100]).unwrap();
        w.push(&samples[100..130]).unwrap();
        w.push_repeated(samples[130], 1).unwrap();
        w.push(&samples[131..]).unwrap();
        assert_eq!(w.finish().unwrap(), buf);
        assert_eq!(tal_seconds(-0.5, true), "-0.5");
        assert_eq!(tal_seconds(3.0, true), "+3");
        assert_eq!(tal_seconds(1.2345, false), "1.234");
    }
}
