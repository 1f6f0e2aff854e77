//! WFDB (PhysioNet) records: `.hea` headers, signal formats 212 and 16, MIT-format annotations.
//!
//! References: WFDB Programmer's Guide, `header(5)`, `signal(5)`, `annot(5)` man pages.

use crate::{
    error::{Location, ParseError},
    record::Annotation,
};

/// Parsed record line and signal lines of a `.hea` header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub record_name: String,
    /// Frame rate in Hz (the "sampling frequency" of the record line).
    pub frame_rate_hz: f64,
    /// Counter frequency, if given (`fs/counter`); informational.
    pub counter_freq_hz: Option<f64>,
    /// Frames in the record, if given.
    pub frames: Option<u64>,
    pub signals: Vec<SignalSpec>,
    /// `#` comment lines (without the `#`).
    pub comments: Vec<String>,
}

/// One signal line of a header.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalSpec {
    pub file_name: String,
    pub format: u16,
    /// Samples of this signal per frame (multi-frequency records; default 1).
    pub samples_per_frame: u32,
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
            ((adc - self.baseline) as f64 / self.gain) as f32
        }
    }
}

/// Default gain of WFDB (`WFDB_DEFGAIN`).
pub const DEFAULT_GAIN: f64 = 200.0;
/// Formats this reader decodes.
pub const SUPPORTED_FORMATS: &[u16] = &[212, 16];

/// The "invalid sample" marker of a format.
pub fn invalid_sample(format: u16) -> i32 {
    match format {
        212 => -2048,
        _ => -32768,
    }
}

fn num<T: std::str::FromStr>(line: usize, field: &str, what: &str) -> Result<T, ParseError> {
    field.parse::<T>().map_err(|_| ParseError::at_line(line, format!("bad {what} {field:?}")))
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
        match lines.next() {
            Some((_, l)) if l.trim_start().starts_with('#') => {
                comments.push(l.trim_start()[1..].trim().to_string())
            }
            Some(x) => break x,
            None => return Err(ParseError::at_line(1, "no record line")),
        }
    };
    let f: Vec<&str> = rec_line.split_whitespace().collect();
    let ln = rec_line_no;
    let name_field = f[0];
    if name_field.contains('/') {
        return Err(ParseError::at_line(ln, "multi-segment records are not supported"));
    }
    let nsig: usize = num(ln, f.get(1).copied().unwrap_or(""), "number of signals")?;
    if nsig > 4096 {
        return Err(ParseError::at_line(ln, format!("implausible number of signals {nsig}")));
    }
    let (mut frame_rate_hz, mut counter_freq_hz): (f64, Option<f64>) = (250.0, None);
    if let Some(fs_field) = f.get(2) {
        // fs[/counter[(base)]]
        let (fs, rest) = match fs_field.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (*fs_field, None),
        };
        frame_rate_hz = num(ln, fs, "sampling frequency")?;
        if let Some(c) = rest {
            let c = c.split('(').next().unwrap_or(c);
            counter_freq_hz = Some(num(ln, c, "counter frequency")?);
        }
    }
    if !(frame_rate_hz.is_finite() && frame_rate_hz > 0.0) {
        return Err(ParseError::at_line(ln, format!("sampling frequency {frame_rate_hz} is not positive")));
    }
    let frames = match f.get(3) {
        Some(n) => Some(num::<u64>(ln, n, "number of samples")?),
        None => None,
    };

    let mut signals = Vec::with_capacity(nsig);
    while signals.len() < nsig {
        let Some((ln, line)) = lines.next() else {
            return Err(ParseError::at_line(
                rec_line_no + signals.len() + 1,
                format!("header declares {nsig} signals but has {} signal lines", signals.len()),
            ));
        };
        if line.trim_start().starts_with('#') {
            comments.push(line.trim_start()[1..].trim().to_string());
            continue;
        }
        signals.push(parse_signal_line(ln, line)?);
    }
    for (_, l) in lines {
        if let Some(c) = l.trim_start().strip_prefix('#') {
            comments.push(c.trim().to_string());
        }
    }
    Ok(Header {
        record_name: name_field.to_string(),
        frame_rate_hz,
        counter_freq_hz,
        frames,
        signals,
        comments,
    })
}

fn parse_signal_line(ln: usize, line: &str) -> Result<SignalSpec, ParseError> {
    let mut it = line.split_whitespace();
    let file_name = it.next().unwrap_or_default().to_string();
    let fmt_field = it.next().ok_or_else(|| ParseError::at_line(ln, "signal line has no format"))?;
    // format[xspf][:skew][+offset]
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
    if samples_per_frame == 0 || samples_per_frame > 1 << 16 {
        return Err(ParseError::at_line(ln, format!("bad samples per frame {samples_per_frame}")));
    }

    // gain[(baseline)][/units]
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
            gain = DEFAULT_GAIN;
        }
        if !gain.is_finite() || gain < 0.0 {
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
        None => 12,
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

/// Decode the signals stored together in one signal file.
///
/// `specs` are the header's signal lines that name this file, in header order; all must share
/// one format. Returns one vector of ADC values per spec (`samples_per_frame × frames` each).
/// `frames` (from the header) bounds the read; a file shorter than that is an error.
pub fn decode_signal_file(
    specs: &[&SignalSpec],
    bytes: &[u8],
    frames: Option<u64>,
) -> Result<Vec<Vec<i32>>, ParseError> {
    let Some(first) = specs.first() else { return Ok(Vec::new()) };
    let format = first.format;
    if specs.iter().any(|s| s.format != format) {
        return Err(ParseError::in_part(
            format!("signal file {}", first.file_name),
            "signals in one file use different formats",
        ));
    }
    if !SUPPORTED_FORMATS.contains(&format) {
        return Err(ParseError::in_part(
            format!("signal file {}", first.file_name),
            format!("signal format {format} is not supported (supported: 212, 16)"),
        ));
    }
    let offset = first.byte_offset;
    let data = bytes.get(offset as usize..).ok_or_else(|| {
        ParseError::at_byte(bytes.len() as u64, format!("byte offset {offset} is past the end"))
    })?;
    let spf: Vec<usize> = specs.iter().map(|s| s.samples_per_frame as usize).collect();
    let per_frame: usize = spf.iter().sum();
    let total_values = match format {
        212 => data.len() * 2 / 3,
        _ => data.len() / 2,
    };
    let available_frames = (total_values / per_frame) as u64;
    let n_frames = match frames {
        Some(n) if n > available_frames => {
            let needed = match format {
                212 => (n as usize * per_frame).div_ceil(2) * 3,
                _ => n as usize * per_frame * 2,
            };
            return Err(ParseError::at_byte(
                offset + data.len() as u64,
                format!(
                    "truncated: header promises {n} frames ({needed} bytes) but the file holds {available_frames} frames"
                ),
            ));
        }
        Some(n) => n,
        None => available_frames,
    } as usize;

    let mut out: Vec<Vec<i32>> = spf.iter().map(|&k| Vec::with_capacity(k * n_frames)).collect();
    let mut values = ValueReader { format, data, pos: 0, pending: None };
    for _ in 0..n_frames {
        for (sig, &k) in spf.iter().enumerate() {
            for _ in 0..k {
                // bounds were checked above
                let v = values.next().unwrap_or(invalid_sample(format));
                out[sig].push(v);
            }
        }
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
            212 => {
                if let Some(v) = self.pending.take() {
                    return Some(v);
                }
                let b = self.data.get(self.pos..self.pos + 3)?;
                self.pos += 3;
                let v0 = (b[0] as i32) | (((b[1] & 0x0f) as i32) << 8);
                let v1 = (b[2] as i32) | (((b[1] & 0xf0) as i32) << 4);
                self.pending = Some(sign12(v1));
                Some(sign12(v0))
            }
            _ => {
                let b = self.data.get(self.pos..self.pos + 2)?;
                self.pos += 2;
                Some(i16::from_le_bytes([b[0], b[1]]) as i32)
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
    let sum = samples.iter().fold(0i64, |acc, &v| acc.wrapping_add(v as i64));
    (sum as u16) as i16 as i32
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

const SKIP: u8 = 59;
const NUM: u8 = 60;
const SUB: u8 = 61;
const CHN: u8 = 62;
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
        bytes.get(pos..pos + 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    loop {
        let Some(w) = word(pos) else {
            if pos == bytes.len() {
                // tolerate a missing end marker only on an empty file
                if out.is_empty() && bytes.is_empty() {
                    return Ok(out);
                }
                return Err(ParseError::at_byte(pos as u64, "truncated: no end-of-annotations marker"));
            }
            return Err(ParseError::at_byte(pos as u64, "truncated: odd number of bytes"));
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
                time = time.checked_add(skip).ok_or_else(|| ParseError::at_byte(pos as u64, "time overflow"))?;
                if time < 0 {
                    return Err(ParseError::at_byte(pos as u64, format!("SKIP makes the time negative ({time})")));
                }
                pos += 6;
            }
            NUM | SUB | CHN | AUX => {
                let Some(last) = out.last_mut() else {
                    return Err(ParseError::at_byte(pos as u64, format!("modifier code {code} before any annotation")));
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
                        let len = field as usize;
                        let text = bytes.get(pos + 2..pos + 2 + len).ok_or_else(|| {
                            ParseError::at_byte(pos as u64, format!("truncated AUX string of {len} bytes"))
                        })?;
                        let text = text.split(|&b| b == 0).next().unwrap_or(text);
                        last.aux = Some(String::from_utf8_lossy(text).into_owned());
                        pos += len + (len & 1);
                    }
                }
                pos += 2;
            }
            c if c <= 49 => {
                time += field;
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
                return Err(ParseError::at_byte(pos as u64, format!("unknown annotation code {c}")));
            }
        }
    }
}

/// The location of an error in the header.
pub fn header_part() -> Location {
    Location::Part("header".into())
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
        assert_eq!((s.format, s.gain, s.baseline, s.adc_zero, s.initial_value), (212, 200.0, 1024, 1024, 955));
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
        assert_eq!((s.samples_per_frame, s.skew, s.byte_offset, s.baseline, s.units.as_str()), (2, 3, 10, 0, "uV"));
        assert_eq!(h.signals[1].gain, DEFAULT_GAIN);
        assert_eq!(h.signals[1].baseline, 1024);
    }

    #[test]
    fn header_errors() {
        assert!(parse_header("").is_err());
        assert!(parse_header("r 2 360 100\nr.dat 212 200\n").is_err());
        assert!(parse_header("r 1 abc\n").is_err());
        assert!(parse_header("r 1 360\nr.dat 212 -5\n").is_err());
    }

    #[test]
    fn format_212_roundtrip() {
        // values 1, -1, 2047, -2048 packed as two pairs
        let pack = |a: i32, b: i32| {
            let (a, b) = ((a & 0xfff) as u32, (b & 0xfff) as u32);
            [(a & 0xff) as u8, ((a >> 8) | ((b >> 8) << 4)) as u8, (b & 0xff) as u8]
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
        let bytes: Vec<u8> = [5i16, -300, 32767].iter().flat_map(|v| v.to_le_bytes()).collect();
        let out = decode_signal_file(&specs, &bytes, Some(3)).unwrap();
        assert_eq!(out, vec![vec![5, -300, 32767]]);
        assert_eq!(h.signals[0].to_physical(-300), -0.3);
        assert!(h.signals[0].to_physical(-32768).is_nan());
    }

    #[test]
    fn annotations_with_modifiers() {
        let w = |code: u16, f: u16| ((code << 10) | f).to_le_bytes();
        let mut b = Vec::new();
        b.extend(w(1, 100)); // N at 100
        b.extend(w(SUB as u16, 3));
        b.extend(w(5, 50)); // V at 150
        b.extend(w(CHN as u16, 1));
        b.extend(w(AUX as u16, 3));
        b.extend(*b"(N\0\0");
        b.extend(w(SKIP as u16, 0));
        b.extend(0u16.to_le_bytes());
        b.extend(100_000u32.to_le_bytes()[..2].to_vec()); // low word of 100000
        // fix: SKIP stores high word then low word
        let n = b.len();
        b[n - 4..n - 2].copy_from_slice(&((100_000u32 >> 16) as u16).to_le_bytes());
        b[n - 2..].copy_from_slice(&((100_000u32 & 0xffff) as u16).to_le_bytes());
        b.extend(w(28, 0)); // + at 100150
        b.extend([0, 0]);
        let a = parse_annotations(&b).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!((a[0].sample, a[0].symbol.as_str(), a[0].subtype), (100, "N", 3));
        assert_eq!((a[1].sample, a[1].symbol.as_str(), a[1].chan), (150, "V", 1));
        assert_eq!(a[1].aux.as_deref(), Some("(N"));
        assert_eq!((a[2].sample, a[2].symbol.as_str(), a[2].chan), (100_150, "+", 1));
        assert!(parse_annotations(&b[..b.len() - 2]).is_err());
        assert!(parse_annotations(&b[..5]).is_err());
    }
}
