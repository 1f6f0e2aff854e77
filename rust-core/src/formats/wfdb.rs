//! WFDB (PhysioNet) records: `.hea` headers, signal formats 212 and 16, MIT-format annotations.
//!
//! References: WFDB Programmer's Guide, `header(5)`, `signal(5)`, `annot(5)` man pages.

use crate::{
    error::ParseError,
    record::{Annotation, Signal},
};

/// Parsed record line and signal lines of a `.hea` header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub record_name: String,
    /// Frame rate in Hz (the "sampling frequency" of the record line).
    pub frame_rate_hz: f64,
    /// Counter frequency, if given (`fs/counter`); informational.
    pub counter_freq_hz: Option<f64>,
    /// Frames in the record, if given and non-zero (header(5): 0 means "unspecified").
    pub frames: Option<u64>,
    pub signals: Vec<SignalSpec>,
    /// `#` comment lines (without the `#`).
    pub comments: Vec<String>,
}

impl Header {
    /// The distinct signal file names, in header order.
    pub fn signal_files(&self) -> Vec<&str> {
        let mut files: Vec<&str> = Vec::new();
        for s in &self.signals {
            if !files.contains(&s.file_name.as_str()) {
                files.push(&s.file_name);
            }
        }
        files
    }
}

/// One signal line of a header.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalSpec {
    pub file_name: String,
    pub format: u16,
    /// Samples of this signal per frame (multi-frequency records; default 1).
    pub samples_per_frame: u32,
    /// Frames by which this signal's samples precede the others' (signal(5) "skew").
    pub skew: u32,
    pub byte_offset: u64,
    /// ADC units per physical unit (0 in the file means the default, 200).
    pub gain: f64,
    pub baseline: i32,
    pub units: String,
    pub adc_resolution: u32,
    pub adc_zero: i32,
    pub initial_value: i32,
    pub checksum: Option<i32>,
    pub block_size: u32,
    pub description: String,
}

impl SignalSpec {
    /// Convert one stored ADC value to physical units; invalid samples become NaN.
    #[inline]
    pub fn to_physical(&self, adc: i32) -> f32 {
        if adc == invalid_sample(self.format) {
            f32::NAN
        } else {
            // in f64: `adc - baseline` may overflow i32 for a hostile baseline
            ((f64::from(adc) - f64::from(self.baseline)) / self.gain) as f32
        }
    }
}

/// Default gain of WFDB (`WFDB_DEFGAIN`).
pub const DEFAULT_GAIN: f64 = 200.0;
/// Formats this reader decodes.
pub const SUPPORTED_FORMATS: &[u16] = &[212, 16];
/// Most signals a header may declare (a sanity bound, far above any real record).
const MAX_SIGNALS: usize = 4096;
/// Most samples per frame of one signal (a sanity bound).
const MAX_SAMPLES_PER_FRAME: u32 = 1 << 16;

/// The "invalid sample" marker of a format.
pub fn invalid_sample(format: u16) -> i32 {
    match format {
        212 => -2048,
        _ => -32768,
    }
}

fn num<T: std::str::FromStr>(line: usize, field: &str, what: &str) -> Result<T, ParseError> {
    field
        .parse::<T>()
        .map_err(|_| ParseError::at_line(line, format!("bad {what} {field:?}")))
}

fn comment(line: &str) -> Option<String> {
    line.trim_start()
        .strip_prefix('#')
        .map(|c| c.trim().to_string())
}

/// Parse the text of a `.hea` file (single-segment records only).
pub fn parse_header(text: &str) -> Result<Header, ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let mut comments = Vec::new();
    let (rec_line_no, rec_line) = loop {
        let Some((ln, l)) = lines.next() else {
            return Err(ParseError::at_line(1, "no record line"));
        };
        match comment(l) {
            Some(c) => comments.push(c),
            None => break (ln, l),
        }
    };
    // record line: name[/nseg] nsig [fs[/counter[(base)]] [nsamp [time [date]]]]
    let ln = rec_line_no;
    let mut f = rec_line.split_whitespace();
    let name_field = f.next().unwrap_or_default();
    if name_field.contains('/') {
        return Err(ParseError::at_line(
            ln,
            "multi-segment records are not supported",
        ));
    }
    let nsig: usize = num(ln, f.next().unwrap_or(""), "number of signals")?;
    if nsig > MAX_SIGNALS {
        return Err(ParseError::at_line(
            ln,
            format!("implausible number of signals {nsig}"),
        ));
    }
    let (mut frame_rate_hz, mut counter_freq_hz): (f64, Option<f64>) = (250.0, None);
    if let Some(fs_field) = f.next() {
        let (fs, counter) = match fs_field.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (fs_field, None),
        };
        frame_rate_hz = num(ln, fs, "sampling frequency")?;
        if let Some(c) = counter {
            let c = c.split('(').next().unwrap_or(c);
            counter_freq_hz = Some(num(ln, c, "counter frequency")?);
        }
    }
    if !(frame_rate_hz.is_finite() && frame_rate_hz > 0.0) {
        return Err(ParseError::at_line(
            ln,
            format!("sampling frequency {frame_rate_hz} is not positive"),
        ));
    }
    let frames = match f.next() {
        Some(n) => Some(num::<u64>(ln, n, "number of samples")?).filter(|&n| n > 0),
        None => None,
    };

    let mut signals = Vec::with_capacity(nsig);
    while signals.len() < nsig {
        let Some((ln, line)) = lines.next() else {
            return Err(ParseError::at_line(
                rec_line_no + signals.len() + 1,
                format!(
                    "header declares {nsig} signals but has {} signal lines",
                    signals.len()
                ),
            ));
        };
        match comment(line) {
            Some(c) => comments.push(c),
            None => signals.push(parse_signal_line(ln, line)?),
        }
    }
    comments.extend(lines.filter_map(|(_, l)| comment(l)));
    Ok(Header {
        record_name: name_field.to_string(),
        frame_rate_hz,
        counter_freq_hz,
        frames,
        signals,
        comments,
    })
}

/// One signal line: `file format[xspf][:skew][+offset] [gain[(baseline)][/units] [adcres [adczero
/// [initval [checksum [blocksize [description]]]]]]]` (header(5)).
fn parse_signal_line(ln: usize, line: &str) -> Result<SignalSpec, ParseError> {
    let mut it = line.split_whitespace();
    let file_name = it.next().unwrap_or_default().to_string();
    let fmt_field = it
        .next()
        .ok_or_else(|| ParseError::at_line(ln, "signal line has no format"))?;
    let (fmt_field, byte_offset) = match fmt_field.split_once('+') {
        Some((a, b)) => (a, num::<u64>(ln, b, "byte offset")?),
        None => (fmt_field, 0),
    };
    let (fmt_field, skew) = match fmt_field.split_once(':') {
        Some((a, b)) => (a, num::<u32>(ln, b, "skew")?),
        None => (fmt_field, 0),
    };
    let (fmt_field, samples_per_frame) = match fmt_field.split_once('x') {
        Some((a, b)) => (a, num::<u32>(ln, b, "samples per frame")?),
        None => (fmt_field, 1),
    };
    let format: u16 = num(ln, fmt_field, "signal format")?;
    if samples_per_frame == 0 || samples_per_frame > MAX_SAMPLES_PER_FRAME {
        return Err(ParseError::at_line(
            ln,
            format!("bad samples per frame {samples_per_frame}"),
        ));
    }

    let (mut gain, mut baseline, mut units) = (DEFAULT_GAIN, None, "mV".to_string());
    if let Some(g) = it.next() {
        let (g, u) = match g.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (g, None),
        };
        let (g, b) = match g.split_once('(') {
            Some((a, b)) => (a, Some(b.trim_end_matches(')'))),
            None => (g, None),
        };
        gain = num(ln, g, "ADC gain")?;
        if gain == 0.0 {
            gain = DEFAULT_GAIN; // header(5): a gain of 0 means "uncalibrated", use the default
        }
        // a negative gain (inverted polarity) is legal; NaN/inf is not
        if !gain.is_finite() {
            return Err(ParseError::at_line(ln, format!("bad ADC gain {gain}")));
        }
        if let Some(b) = b {
            baseline = Some(num(ln, b, "baseline")?);
        }
        if let Some(u) = u {
            units = u.to_string();
        }
    }
    let adc_resolution = match it.next() {
        Some(x) => num(ln, x, "ADC resolution")?,
        None if format == 212 => 12,
        None => 16,
    };
    let adc_zero = match it.next() {
        Some(x) => num(ln, x, "ADC zero")?,
        None => 0,
    };
    let initial_value = match it.next() {
        Some(x) => num(ln, x, "initial value")?,
        None => adc_zero,
    };
    let checksum = match it.next() {
        Some(x) => Some(num(ln, x, "checksum")?),
        None => None,
    };
    let block_size = match it.next() {
        Some(x) => num(ln, x, "block size")?,
        None => 0,
    };
    let description = it.collect::<Vec<_>>().join(" ");
    Ok(SignalSpec {
        file_name,
        format,
        samples_per_frame,
        skew,
        byte_offset,
        gain,
        baseline: baseline.unwrap_or(adc_zero),
        units,
        adc_resolution,
        adc_zero,
        initial_value,
        checksum,
        block_size,
        description,
    })
}

/// Bytes needed to store `values` samples in `format` (212 packs two 12-bit samples into 3 bytes;
/// a trailing odd sample takes 2 bytes).
fn bytes_for_values(format: u16, values: u64) -> u128 {
    let v = u128::from(values);
    match format {
        212 => v / 2 * 3 + (v % 2) * 2,
        _ => v * 2,
    }
}

/// Whole samples in `len` bytes of `format`.
fn values_in_bytes(format: u16, len: usize) -> u64 {
    let len = len as u64;
    match format {
        212 => len / 3 * 2 + u64::from(len % 3 == 2),
        _ => len / 2,
    }
}

/// Decode the signals stored together in one signal file.
///
/// `specs` are the header's signal lines that name this file, in header order; all must share
/// one format and byte offset. Returns one vector of ADC values per spec
/// (`samples_per_frame × frames` each). `frames` (from the header) bounds the read; a file
/// shorter than that is an error (checked before anything is allocated).
pub fn decode_signal_file(
    specs: &[&SignalSpec],
    bytes: &[u8],
    frames: Option<u64>,
) -> Result<Vec<Vec<i32>>, ParseError> {
    let Some(first) = specs.first() else {
        return Ok(Vec::new());
    };
    let part = || format!("signal file {}", first.file_name);
    let format = first.format;
    if specs.iter().any(|s| s.format != format) {
        return Err(ParseError::in_part(
            part(),
            "signals in one file use different formats",
        ));
    }
    if specs.iter().any(|s| s.byte_offset != first.byte_offset) {
        return Err(ParseError::in_part(
            part(),
            "signals in one file use different byte offsets",
        ));
    }
    if !SUPPORTED_FORMATS.contains(&format) {
        return Err(ParseError::in_part(
            part(),
            format!("signal format {format} is not supported (supported: 212, 16)"),
        ));
    }
    let offset = first.byte_offset;
    let data = usize::try_from(offset)
        .ok()
        .and_then(|o| bytes.get(o..))
        .ok_or_else(|| {
            ParseError::at_byte(
                bytes.len() as u64,
                format!("byte offset {offset} is past the end"),
            )
        })?;
    let spf: Vec<usize> = specs.iter().map(|s| s.samples_per_frame as usize).collect();
    // at most MAX_SIGNALS × MAX_SAMPLES_PER_FRAME = 2^28: no overflow
    let per_frame: usize = spf.iter().sum();
    let available_frames = values_in_bytes(format, data.len()) / per_frame as u64;
    let n_frames = match frames {
        Some(n) if n > available_frames => {
            let needed = bytes_for_values(format, n).saturating_mul(per_frame as u128);
            return Err(ParseError::at_byte(
                offset + data.len() as u64,
                format!(
                    "truncated: header promises {n} frames ({needed} bytes) but the file holds {available_frames} frames"
                ),
            ));
        }
        Some(n) => n,
        None => available_frames,
    } as usize; // ≤ available_frames, which fits the data in memory

    let mut out: Vec<Vec<i32>> = spf
        .iter()
        .map(|&k| Vec::with_capacity(k * n_frames))
        .collect();
    let mut values = ValueReader {
        format,
        data,
        pos: 0,
        pending: None,
    };
    for _ in 0..n_frames {
        for (column, &k) in out.iter_mut().zip(&spf) {
            for _ in 0..k {
                // counts were checked above, so `next` never runs out here
                column.push(values.next().unwrap_or(invalid_sample(format)));
            }
        }
    }
    Ok(out)
}

/// Decode the signals of one signal file into physical [`Signal`]s, verifying the header's
/// checksums and applying skew. Returns `(index in header, signal)` pairs.
pub fn read_signal_file(
    header: &Header,
    file_name: &str,
    bytes: &[u8],
) -> Result<Vec<(usize, Signal)>, ParseError> {
    let idx: Vec<usize> = (0..header.signals.len())
        .filter(|&i| header.signals[i].file_name == file_name)
        .collect();
    let specs: Vec<&SignalSpec> = idx.iter().filter_map(|&i| header.signals.get(i)).collect();
    let adc = decode_signal_file(&specs, bytes, header.frames)?;
    let mut out = Vec::with_capacity(idx.len());
    for ((&i, spec), values) in idx.iter().zip(&specs).zip(adc) {
        // header(5): the checksum covers the `nsamp` samples, so only a known length is checked
        if let (Some(expected), Some(_)) = (spec.checksum, header.frames) {
            let got = checksum(&values);
            if got != expected {
                return Err(ParseError::in_part(
                    format!("signal {i} ({})", spec.description),
                    format!(
                        "checksum mismatch (header {expected}, data {got}): corrupt signal file"
                    ),
                ));
            }
        }
        // signal(5): with skew s, this signal's sample for frame t is stored at frame t + s
        let skip = (spec.skew as usize).saturating_mul(spec.samples_per_frame as usize);
        let mut samples: Vec<f32> = values
            .iter()
            .skip(skip)
            .map(|&v| spec.to_physical(v))
            .collect();
        samples.resize(values.len(), f32::NAN);
        let label = if spec.description.is_empty() {
            format!("signal {i}")
        } else {
            spec.description.clone()
        };
        out.push((
            i,
            Signal {
                label,
                unit: spec.units.clone(),
                sampling_rate_hz: header.frame_rate_hz * f64::from(spec.samples_per_frame),
                samples,
            },
        ));
    }
    Ok(out)
}

struct ValueReader<'a> {
    format: u16,
    data: &'a [u8],
    pos: usize,
    pending: Option<i32>,
}

impl ValueReader<'_> {
    #[inline]
    fn next(&mut self) -> Option<i32> {
        match self.format {
            // signal(5) format 212: byte 0 = low 8 bits of s0, byte 1 = high nibbles (s1 << 4 | s0),
            // byte 2 = low 8 bits of s1
            212 => {
                if let Some(v) = self.pending.take() {
                    return Some(v);
                }
                let &[b0, b1] = self.data.get(self.pos..self.pos + 2)? else {
                    return None;
                };
                let v0 = i32::from(b0) | (i32::from(b1 & 0x0f) << 8);
                if let Some(&b2) = self.data.get(self.pos + 2) {
                    self.pending = Some(sign12(i32::from(b2) | (i32::from(b1 & 0xf0) << 4)));
                }
                self.pos += 3;
                Some(sign12(v0))
            }
            // format 16: little-endian two's complement
            _ => {
                let &[lo, hi] = self.data.get(self.pos..self.pos + 2)? else {
                    return None;
                };
                self.pos += 2;
                Some(i32::from(i16::from_le_bytes([lo, hi])))
            }
        }
    }
}

#[inline]
fn sign12(v: i32) -> i32 {
    if v & 0x800 != 0 { v - 0x1000 } else { v }
}

/// WFDB checksum: the low 16 bits of the sum of all samples, as a signed 16-bit value.
pub fn checksum(samples: &[i32]) -> i32 {
    let sum = samples
        .iter()
        .fold(0i64, |acc, &v| acc.wrapping_add(i64::from(v)));
    i32::from(sum as u16 as i16)
}

/// Mnemonics of the standard WFDB annotation codes (index = code).
const ANN_MNEMONICS: [&str; 50] = [
    " ", "N", "L", "R", "a", "V", "F", "J", "A", "S", "E", "j", "/", "Q", "~", "[15]", "|", "[17]",
    "s", "T", "*", "D", "\"", "=", "p", "B", "^", "t", "+", "u", "?", "!", "[", "]", "e", "n", "@",
    "x", "f", "(", ")", "r", "[42]", "[43]", "[44]", "[45]", "[46]", "[47]", "[48]", "[49]",
];

/// Mnemonic of an annotation code.
pub fn annotation_mnemonic(code: u8) -> &'static str {
    ANN_MNEMONICS.get(code as usize).copied().unwrap_or("?")
}

/// annot(5): codes 1..=ACMAX are annotations; 59..=63 are pseudo-annotations that modify them.
const ACMAX: u8 = 49;
/// Next 4 bytes: a signed 32-bit interval (high word first, each word little-endian).
const SKIP: u8 = 59;
/// `num` of this and later annotations.
const NUM: u8 = 60;
/// `subtyp` of this annotation only.
const SUB: u8 = 61;
/// `chan` of this and later annotations.
const CHN: u8 = 62;
/// Field = byte count of the aux string that follows (padded to even length).
const AUX: u8 = 63;

/// Parse an MIT-format annotation file (`.atr`, `.qrs`, …).
///
/// Times are in frames of the record. `num` and `chan` carry over from the previous annotation,
/// `subtype` and `aux` do not (as in the WFDB library's `getann`).
pub fn parse_annotations(bytes: &[u8]) -> Result<Vec<Annotation>, ParseError> {
    let mut out: Vec<Annotation> = Vec::new();
    let mut pos = 0usize;
    let mut time: i64 = 0;
    let (mut chan, mut num) = (0u8, 0i8);
    let word = |pos: usize| -> Option<u16> {
        match bytes.get(pos..pos.checked_add(2)?)? {
            &[lo, hi] => Some(u16::from_le_bytes([lo, hi])),
            _ => None,
        }
    };
    loop {
        let Some(w) = word(pos) else {
            if pos == bytes.len() {
                // an empty file is an empty annotation list; otherwise annot(5) requires the
                // end marker, and its absence means the file was cut
                if bytes.is_empty() {
                    return Ok(out);
                }
                return Err(ParseError::at_byte(
                    pos as u64,
                    "truncated: no end-of-annotations marker",
                ));
            }
            return Err(ParseError::at_byte(
                pos as u64,
                "truncated: odd number of bytes",
            ));
        };
        let code = (w >> 10) as u8;
        let field = (w & 0x3ff) as i64;
        match code {
            0 if field == 0 => {
                return Ok(out);
            }
            SKIP => {
                let (Some(hi), Some(lo)) = (word(pos + 2), word(pos + 4)) else {
                    return Err(ParseError::at_byte(pos as u64, "truncated SKIP record"));
                };
                let skip = (((hi as u32) << 16) | lo as u32) as i32 as i64;
                time = time
                    .checked_add(skip)
                    .ok_or_else(|| ParseError::at_byte(pos as u64, "time overflow"))?;
                if time < 0 {
                    return Err(ParseError::at_byte(
                        pos as u64,
                        format!("SKIP makes the time negative ({time})"),
                    ));
                }
                pos += 6;
            }
            NUM | SUB | CHN | AUX => {
                let Some(last) = out.last_mut() else {
                    return Err(ParseError::at_byte(
                        pos as u64,
                        format!("modifier code {code} before any annotation"),
                    ));
                };
                match code {
                    NUM => {
                        num = field as u16 as i16 as i8;
                        last.num = num;
                    }
                    SUB => last.subtype = field as i8,
                    CHN => {
                        chan = field as u8;
                        last.chan = chan;
                    }
                    _ => {
                        let len = field as usize; // ≤ 1023
                        let text = bytes.get(pos + 2..pos + 2 + len).ok_or_else(|| {
                            ParseError::at_byte(
                                pos as u64,
                                format!("truncated AUX string of {len} bytes"),
                            )
                        })?;
                        let text = text.split(|&b| b == 0).next().unwrap_or(text);
                        last.aux = Some(String::from_utf8_lossy(text).into_owned());
                        pos += len + (len & 1);
                    }
                }
                pos += 2;
            }
            c if c <= ACMAX => {
                time = time
                    .checked_add(field)
                    .ok_or_else(|| ParseError::at_byte(pos as u64, "time overflow"))?;
                out.push(Annotation {
                    sample: time,
                    symbol: annotation_mnemonic(c).to_string(),
                    code: c,
                    subtype: 0,
                    chan,
                    num,
                    aux: None,
                    duration_s: None,
                });
                pos += 2;
            }
            c => {
                return Err(ParseError::at_byte(
                    pos as u64,
                    format!("unknown annotation code {c}"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_mitdb_style() {
        let h = parse_header(
            "101 2 360 650000\n101.dat 212 200 11 1024 955 29832 0 MLII\n101.dat 212 200 11 1024 992 19589 0 V1\n# 75 F 1011 654 x1\n",
        )
        .unwrap();
        assert_eq!(h.frame_rate_hz, 360.0);
        assert_eq!(h.frames, Some(650000));
        assert_eq!(h.signals.len(), 2);
        let s = &h.signals[0];
        assert_eq!(
            (s.format, s.gain, s.baseline, s.adc_zero, s.initial_value),
            (212, 200.0, 1024, 1024, 955)
        );
        assert_eq!(s.checksum, Some(29832));
        assert_eq!(s.description, "MLII");
        assert_eq!(h.comments, vec!["75 F 1011 654 x1".to_string()]);
    }

    #[test]
    fn header_baseline_counter_and_spf() {
        let h = parse_header(
            "sel102 2 250/360 225000\nsel102.dat 212x2:3+10 200(0)/uV 11 1024 962 22865 0 V5\nsel102.dat 212 0 11 1024 1262 15193 0 V2\n",
        )
        .unwrap();
        assert_eq!(h.counter_freq_hz, Some(360.0));
        let s = &h.signals[0];
        assert_eq!(
            (
                s.samples_per_frame,
                s.skew,
                s.byte_offset,
                s.baseline,
                s.units.as_str()
            ),
            (2, 3, 10, 0, "uV")
        );
        assert_eq!(h.signals[1].gain, DEFAULT_GAIN);
        assert_eq!(h.signals[1].baseline, 1024);
    }

    #[test]
    fn header_errors() {
        assert!(parse_header("").is_err());
        assert!(parse_header("r 2 360 100\nr.dat 212 200\n").is_err());
        assert!(parse_header("r 1 abc\n").is_err());
        assert!(parse_header("r 1 360\nr.dat 212 abc\n").is_err());
        assert!(parse_header("r 1 360\nr.dat 212 inf\n").is_err());
        assert!(parse_header("r 1 360\nr.dat 212x0\n").is_err());
    }

    #[test]
    fn format_212_roundtrip() {
        // values 1, -1, 2047, -2048 packed as two pairs
        let pack = |a: i32, b: i32| {
            let (a, b) = ((a & 0xfff) as u32, (b & 0xfff) as u32);
            [
                (a & 0xff) as u8,
                ((a >> 8) | ((b >> 8) << 4)) as u8,
                (b & 0xff) as u8,
            ]
        };
        let mut bytes = Vec::new();
        bytes.extend(pack(1, -1));
        bytes.extend(pack(2047, -2047));
        let h = parse_header("r 2 360 2\nr.dat 212\nr.dat 212\n").unwrap();
        let specs: Vec<&SignalSpec> = h.signals.iter().collect();
        let out = decode_signal_file(&specs, &bytes, Some(2)).unwrap();
        assert_eq!(out, vec![vec![1, 2047], vec![-1, -2047]]);
        assert!(decode_signal_file(&specs, &bytes, Some(3)).is_err());
    }

    #[test]
    fn format_16() {
        let h = parse_header("r 1 100 3\nr.dat 16 1000/uV\n").unwrap();
        let specs: Vec<&SignalSpec> = h.signals.iter().collect();
        let bytes: Vec<u8> = [5i16, -300, 32767]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let out = decode_signal_file(&specs, &bytes, Some(3)).unwrap();
        assert_eq!(out, vec![vec![5, -300, 32767]]);
        assert_eq!(h.signals[0].to_physical(-300), -0.3);
        assert!(h.signals[0].to_physical(-32768).is_nan());
    }

    /// One annotation word: 6-bit code, 10-bit field, little-endian.
    fn word(code: u8, field: u16) -> [u8; 2] {
        ((u16::from(code) << 10) | field).to_le_bytes()
    }

    /// A SKIP record: the word, then the interval as high word, low word (annot(5)).
    fn skip(interval: i32) -> Vec<u8> {
        let v = interval as u32;
        let mut b = word(SKIP, 0).to_vec();
        b.extend(((v >> 16) as u16).to_le_bytes());
        b.extend(((v & 0xffff) as u16).to_le_bytes());
        b
    }

    #[test]
    fn annotations_with_modifiers() {
        let mut b = Vec::new();
        b.extend(word(1, 100)); // N at 100
        b.extend(word(SUB, 3));
        b.extend(word(5, 50)); // V at 150
        b.extend(word(CHN, 1));
        b.extend(word(AUX, 3));
        b.extend(*b"(N\0\0"); // 3 bytes + pad
        b.extend(skip(100_000));
        b.extend(word(28, 0)); // + at 100150
        b.extend(word(NUM, 7));
        b.extend(word(1, 10)); // N at 100160, inherits chan 1 and num 7
        b.extend([0, 0]);
        let a = parse_annotations(&b).unwrap();
        assert_eq!(a.len(), 4);
        assert_eq!(
            (a[0].sample, a[0].symbol.as_str(), a[0].subtype),
            (100, "N", 3)
        );
        assert_eq!(
            (a[1].sample, a[1].symbol.as_str(), a[1].chan, a[1].subtype),
            (150, "V", 1, 0)
        );
        assert_eq!(a[1].aux.as_deref(), Some("(N"));
        assert_eq!(
            (a[2].sample, a[2].symbol.as_str(), a[2].chan, a[2].num),
            (100_150, "+", 1, 7)
        );
        assert_eq!(
            (a[3].sample, a[3].chan, a[3].num, a[3].aux.as_deref()),
            (100_160, 1, 7, None)
        );
        assert!(
            parse_annotations(&b[..b.len() - 2]).is_err(),
            "no end marker"
        );
        assert!(parse_annotations(&b[..5]).is_err(), "odd length");
        assert_eq!(parse_annotations(&[]).unwrap(), vec![]);
    }

    #[test]
    fn annotation_errors() {
        let mut b = skip(-5);
        b.extend(word(1, 0));
        b.extend([0, 0]);
        assert!(parse_annotations(&b).unwrap_err().what.contains("negative"));
        assert!(
            parse_annotations(&word(SUB, 1))
                .unwrap_err()
                .what
                .contains("before any")
        );
        assert!(
            parse_annotations(&word(55, 1))
                .unwrap_err()
                .what
                .contains("unknown")
        );
        let mut b = word(1, 1).to_vec();
        b.extend(word(AUX, 10));
        b.extend(*b"abc");
        assert!(parse_annotations(&b).unwrap_err().what.contains("AUX"));
        assert!(
            parse_annotations(&skip(1)[..4])
                .unwrap_err()
                .what
                .contains("SKIP")
        );
    }

    #[test]
    fn huge_frame_count_is_checked_before_allocating() {
        let h = parse_header("r 2 360 18446744073709551615\nr.dat 212x65536\nr.dat 212x65536\n")
            .unwrap();
        let specs: Vec<&SignalSpec> = h.signals.iter().collect();
        let e = decode_signal_file(&specs, &[0; 30], h.frames).unwrap_err();
        assert!(e.what.contains("truncated"), "{e}");
    }

    #[test]
    fn format_212_odd_tail_sample() {
        // 3 samples: one full group plus a 2-byte tail holding the third sample
        let h = parse_header("r 1 360 3\nr.dat 212\n").unwrap();
        let specs: Vec<&SignalSpec> = h.signals.iter().collect();
        let out = decode_signal_file(&specs, &[1, 0x20, 2, 0xff, 0x07], Some(3)).unwrap();
        assert_eq!(out, vec![vec![1, 2 | (2 << 8), 2047]]);
    }

    #[test]
    fn checksum_and_skew() {
        let bytes: Vec<u8> = [10i16, 20, 30]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let h = parse_header("r 1 100 3\nr.dat 16:1 10(0)/mV 16 0 10 60 0 ECG\n").unwrap();
        let s = read_signal_file(&h, "r.dat", &bytes).unwrap();
        assert_eq!(s[0].1.samples[..2], [2.0, 3.0]);
        assert!(s[0].1.samples[2].is_nan(), "skewed tail is padded with NaN");
        let bad = parse_header("r 1 100 3\nr.dat 16 10(0)/mV 16 0 10 61 0 ECG\n").unwrap();
        let e = read_signal_file(&bad, "r.dat", &bytes).unwrap_err();
        assert!(
            e.what.contains("checksum mismatch") && e.to_string().contains("signal 0"),
            "{e}"
        );
    }

    #[test]
    fn multi_frequency_frames_interleave_signals() {
        // frame = 2 samples of signal 0, then 1 of signal 1 (signal(5))
        let h = parse_header("r 2 100 2\nr.dat 16x2 1(0)/mV\nr.dat 16 1(0)/mV\n").unwrap();
        let bytes: Vec<u8> = [1i16, 2, 10, 3, 4, 20]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let s = read_signal_file(&h, "r.dat", &bytes).unwrap();
        assert_eq!(
            (s[0].1.samples.clone(), s[0].1.sampling_rate_hz),
            (vec![1.0, 2.0, 3.0, 4.0], 200.0)
        );
        assert_eq!(
            (s[1].1.samples.clone(), s[1].1.sampling_rate_hz),
            (vec![10.0, 20.0], 100.0)
        );
        let mixed = parse_header("r 2 100\nr.dat 16\nr.dat 212\n").unwrap();
        assert!(
            read_signal_file(&mixed, "r.dat", &bytes)
                .unwrap_err()
                .what
                .contains("different formats")
        );
    }

    #[test]
    fn hostile_baseline_does_not_overflow() {
        let h = parse_header("r 1 100\nr.dat 16 1(-2147483648)\n").unwrap();
        assert_eq!(h.signals[0].to_physical(32767), 32767.0 + 2147483648.0);
    }
}
