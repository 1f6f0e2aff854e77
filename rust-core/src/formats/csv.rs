//! Delimited text recordings (CSV, TSV, `;`-separated): an ECG column, and any other signal
//! columns as further channels.
//!
//! Layout: optional `#` comment lines, one header row (optional: a first row of numbers only is
//! data, its columns named `column 1`, `column 2`, …), then one row per sample. Delimiter
//! `,`, `;` or tab (whichever the header row uses most); `"quoted"` fields with `""` escapes;
//! blank lines and CRLF line ends are ignored.
//!
//! - Samples: the column named `ecg` (case-insensitive, a unit suffix allowed, e.g. `ECG (uV)`,
//!   `ecg_mV`), else the first whose name is an ECG lead's ([`is_ecg_label`]: `EKG`,
//!   `ECG Lead II`, `ecg_raw`), else the last numeric column that is not a time column.
//! - Unit: the caller's (`--unit`), else the one stated in the column name or in a units row
//!   under the header (`s,mV`); a column named `…raw…` without a stated unit is kept in raw ADC
//!   units (`"raw"`). Otherwise the amplitude decides ([`infer_unit`]): µV when the typical 2 s
//!   peak-to-peak is at least [`crate::record::MICROVOLT_PEAK_TO_PEAK`] (no ECG spans 50 mV),
//!   else mV.
//! - Sampling rate: the caller's (`--fs`; a warning is logged when it differs by more than 2 %
//!   from the time column's estimate); else **estimated** from a time column (`time`,
//!   `timestamp`, `*datetime*`, …; of several, the one with the fewest repeated times in the
//!   first rows, e.g. a sensor's per-sample time rather than a phone's per-packet time) as rows
//!   per second over its steps. Numeric times are seconds unless the name says `ms`/`us`/`ns`,
//!   or their size says epoch ms/µs/ns; text times are `[YYYY-MM-DD[ T]]HH:MM:SS[.frac]`, with
//!   an optional ISO 8601 zone (`Z`, `+02:00`). With neither, [`CsvError::NeedsSamplingRate`].
//! - Lost rows: a step of the time column longer than [`GAP_STEPS`] typical steps is a gap; the
//!   rate is taken from the other steps, and the gap's missing samples are NaN (a strap's lost
//!   packets in a Polar Sensor Logger export), unless a given `--fs` disagrees with the time
//!   column (then the rows are taken as contiguous) or the other steps give no plausible rate
//!   (bursts: a logger stamping each packet's samples at arrival).
//! - An empty cell in the ECG column, or `NaN`/`NA`/`null`, is a missing sample (NaN); any other
//!   non-number is an error.
//! - Channels: every column that is neither a time column nor a heart-rate / RR column and holds a
//!   number (or a missing sample) in the first data row, in file order (`time,ch1,ch2` gives two,
//!   `ch1` and `ch2`); [`CsvRecording::ecg`] is the ECG column above, the one analysed unless the
//!   caller names another. A column other than the ECG one with a non-number further down is left
//!   out (logged), not an error. Each channel gets its unit as above.

use crate::{
    dsp::filter::{MAX_SAMPLING_RATE_HZ, MIN_SAMPLING_RATE_HZ},
    error::ParseError,
    record::{MAX_HOLES_S, Signal, infer_unit, is_ecg_label, millivolt_factor},
    text::compact_number,
};

/// What the caller knows about a CSV file.
#[derive(Debug, Clone, Default)]
pub struct CsvOptions<'a> {
    pub sampling_rate_hz: Option<f64>,
    /// "mV" or "uV" (any unit [`millivolt_factor`] knows).
    pub unit: Option<&'a str>,
}

/// Why a CSV file could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CsvError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// No `--fs` and no time column to estimate it from.
    #[error("no sampling rate: the file has no time column; pass --fs HZ")]
    NeedsSamplingRate,
    /// The file holds no ECG samples (e.g. a heart-rate or RR export).
    #[error("not an ECG recording: {0}")]
    NotEcg(String),
    /// The caller's options are unusable.
    #[error("{0}")]
    BadOption(String),
}

/// Plausible ECG sampling rates (those the analysis takes); an estimate outside them means the
/// time column was misread (e.g. ms without a unit in its name).
const PLAUSIBLE_RATE_HZ: std::ops::RangeInclusive<f64> =
    MIN_SAMPLING_RATE_HZ..=MAX_SAMPLING_RATE_HZ;

/// The signals of a delimited text file.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvRecording {
    /// One per signal column, in file order.
    pub signals: Vec<Signal>,
    /// Index in `signals` of the ECG column (see the module docs).
    pub ecg: usize,
}

/// Parse a delimited text file into its signal columns.
pub fn parse_channels(text: &str, opts: &CsvOptions) -> Result<CsvRecording, CsvError> {
    if let Some(u) = opts.unit
        && millivolt_factor(u).is_none()
    {
        return Err(CsvError::BadOption(format!(
            "unit {u:?} is not a voltage (use mV or uV)"
        )));
    }
    if let Some(fs) = opts.sampling_rate_hz
        && !(fs.is_finite() && fs > 0.0)
    {
        return Err(CsvError::BadOption(format!(
            "sampling rate {} is not positive",
            compact_number(fs)
        )));
    }
    let mut lines = text
        .trim_start_matches('\u{feff}')
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .peekable();
    let (header_line, header) = lines
        .next()
        .ok_or_else(|| ParseError::at_line(1, "no header row"))?;
    let delimiter = delimiter(header);
    let mut row = Row::default();
    row.split(header, delimiter)
        .map_err(|e| ParseError::at_line(header_line, e))?;
    // A first row of numbers only is data: the file has no header.
    let headerless = row.cells().all(|c| parse_number(c, delimiter).is_some());
    let names: Vec<String> = if headerless {
        (1..=row.len()).map(|i| format!("column {i}")).collect()
    } else {
        row.cells().map(String::from).collect()
    };
    if names.first().is_some_and(|n| n == "Name") && names.get(1).is_some_and(|n| n == "Sport") {
        return Err(CsvError::NotEcg(
            "a Polar Flow training export (1 Hz heart rate), without ECG samples".into(),
        ));
    }
    // A units row right under the header (`s,mV`): no numbers, at least one voltage unit.
    let mut units_row = None;
    if let Some(&(ln, line)) = lines.peek().filter(|_| !headerless) {
        row.split(line, delimiter)
            .map_err(|e| ParseError::at_line(ln, e))?;
        if row.cells().all(|c| parse_number(c, delimiter).is_none())
            && row.cells().any(|c| canonical_unit(c).is_some())
        {
            units_row = Some(row.cells().map(String::from).collect::<Vec<_>>());
            lines.next();
        }
    }
    let mut data = headerless
        .then_some((header_line, header))
        .into_iter()
        .chain(lines);
    let Some((first_line, first)) = data.next() else {
        return Err(ParseError::at_line(header_line + 1, "no data rows after the header").into());
    };
    row.split(first, delimiter)
        .map_err(|e| ParseError::at_line(first_line, e))?;

    let time_cols: Vec<usize> = (0..names.len())
        .filter(|&c| !headerless && is_time_name(&names[c]))
        .collect();
    let ecg_col = names
        .iter()
        .position(|n| base_name(n).eq_ignore_ascii_case("ecg"))
        .or_else(|| {
            (0..names.len()).find(|&c| {
                !time_cols.contains(&c) && is_ecg_label(&names[c]) && !is_heart_rate_name(&names[c])
            })
        });
    let col = match ecg_col {
        Some(c) => c,
        None => (0..names.len())
            .rev()
            .find(|&c| {
                !time_cols.contains(&c)
                    && row
                        .get(c)
                        .is_some_and(|v| parse_number(v, delimiter).is_some())
            })
            .ok_or_else(|| {
                ParseError::at_line(first_line, "no numeric column (and none named \"ecg\")")
            })?,
    };
    let name = names.get(col).cloned().unwrap_or_default();
    if ecg_col.is_none() && is_heart_rate_name(&name) {
        return Err(CsvError::NotEcg(format!(
            "column {name:?} holds heart rate / RR intervals, not ECG samples"
        )));
    }

    // The signal columns: the ECG one, and the others holding a number (or nothing) in the first
    // row; a column is dropped (None) at its first non-number, except the ECG one, which errors.
    let capacity = text.len() / (first.len() + 1);
    let mut channels: Vec<(usize, Option<Vec<f32>>)> = (0..names.len())
        .filter(|&c| {
            c == col
                || (!time_cols.contains(&c)
                    && !is_heart_rate_name(&names[c])
                    && row
                        .get(c)
                        .is_some_and(|v| is_missing(v) || parse_number(v, delimiter).is_some()))
        })
        .map(|c| (c, Some(Vec::with_capacity(capacity))))
        .collect();

    // One pass over the rows, keeping only the samples (and the time columns' steps).
    let mut rows = 0usize;
    let mut time_axes: Vec<TimeAxis> = time_cols
        .iter()
        .map(|&c| TimeAxis::new(&names[c], c, delimiter))
        .collect();
    let mut line = (first_line, first);
    loop {
        let ln = line.0;
        if row.len() != names.len() {
            return Err(ParseError::at_line(
                ln,
                format!("{} fields, the header has {}", row.len(), names.len()),
            )
            .into());
        }
        for (c, column) in &mut channels {
            let Some(samples) = column.as_mut() else {
                continue;
            };
            let cell = row.get(*c).unwrap_or_default();
            let v = if is_missing(cell) {
                f32::NAN
            } else if let Some(v) = parse_number(cell, delimiter) {
                v as f32
            } else if *c == col {
                return Err(ParseError::at_line(
                    ln,
                    format!("{name:?} value {cell:?} is not a number"),
                )
                .into());
            } else {
                // (its position, not its name: a header may hold anything)
                log::info!("column {} left out: line {ln} is not a number", *c + 1);
                *column = None;
                continue;
            };
            samples.push(v);
        }
        for axis in &mut time_axes {
            axis.push(row.get(axis.column).unwrap_or_default(), ln);
        }
        rows += 1;
        if rows == TIME_COLUMN_CHOICE_ROWS {
            keep_best_time_axis(&mut time_axes);
        }
        let Some(next) = data.next() else { break };
        line = next;
        row.split(line.1, delimiter)
            .map_err(|e| ParseError::at_line(line.0, e))?;
    }

    keep_best_time_axis(&mut time_axes);
    let time_axis = time_axes.pop();
    let column = time_axis.as_ref().map_or("", |a| a.name);
    let (sampling_rate_hz, gaps) = match (opts.sampling_rate_hz, time_axis.map(TimeAxis::timing)) {
        // the given rate wins (a time column may hold indices), but not silently
        (Some(fs), Some(Ok(t))) if (fs / t.rate_hz - 1.0).abs() > RATE_DISAGREEMENT => {
            let given = compact_number(fs);
            log::warn!(
                "the given sampling rate {given} Hz differs from the time column {column:?} \
                 ({:.3} Hz from its rows); using {given} Hz, rows taken as contiguous",
                t.rate_hz
            );
            (fs, Vec::new())
        }
        (Some(fs), Some(Ok(t))) => (fs, t.gaps),
        // a given rate also stands in for a time column that cannot be read
        (Some(fs), _) => (fs, Vec::new()),
        (None, Some(timing)) => {
            let t = timing?;
            (t.rate_hz, t.gaps)
        }
        (None, None) => return Err(CsvError::NeedsSamplingRate),
    };
    check_gaps(&gaps, sampling_rate_hz, column)?;
    // the ECG column is never dropped; its index counts the kept columns before it
    let ecg = channels
        .iter()
        .filter(|(c, samples)| *c < col && samples.is_some())
        .count();
    let signals: Vec<Signal> = channels
        .into_iter()
        .filter_map(|(c, samples)| Some((c, samples?)))
        .map(|(c, samples)| {
            let samples = fill_gaps(samples, &gaps, sampling_rate_hz);
            let name = names[c].clone();
            let stated = units_row
                .as_ref()
                .and_then(|r| r.get(c))
                .and_then(|u| canonical_unit(u));
            let unit = match (opts.unit, stated.or_else(|| unit_in_name(&name))) {
                (Some(u), _) => u.to_string(),
                (None, Some(u)) => u.to_string(),
                (None, None) if name.to_ascii_lowercase().contains("raw") => "raw".to_string(),
                (None, None) => infer_unit(&samples, sampling_rate_hz).to_string(),
            };
            Signal {
                label: name,
                unit,
                sampling_rate_hz,
                samples,
            }
        })
        .collect();
    Ok(CsvRecording { signals, ecg })
}

/// How far (relative) a caller's sampling rate may be from a time column's estimate.
const RATE_DISAGREEMENT: f64 = 0.02;

/// A step of the time column longer than this many typical (median) steps skips rows.
pub const GAP_STEPS: f64 = 3.0;

/// Rows after which, of several time columns, only the one with the fewest repeated times is
/// kept.
const TIME_COLUMN_CHOICE_ROWS: usize = 1000;

/// A cell that stands for a missing sample: empty, `NaN`, `NA` or `null`.
fn is_missing(cell: &str) -> bool {
    cell.is_empty()
        || ["nan", "na", "null"]
            .iter()
            .any(|m| cell.eq_ignore_ascii_case(m))
}

/// Of several time columns, keep the readable one with the fewest repeated times (the first
/// of equals); a phone's per-packet time repeats, a sensor's per-sample time does not.
fn keep_best_time_axis(axes: &mut Vec<TimeAxis>) {
    if axes.len() > 1
        && let Some(best) =
            (0..axes.len()).min_by_key(|&i| (axes[i].error.is_some(), axes[i].repeated))
    {
        let axis = axes.swap_remove(best);
        axes.clear();
        axes.push(axis);
    }
}

/// `samples` with each gap's missing samples (at `fs`) inserted as NaN before its row.
/// Errors when `gaps` add up to more than [`MAX_HOLES_S`]; logs them.
fn check_gaps(gaps: &[TimeGap], fs: f64, column: &str) -> Result<(), CsvError> {
    if gaps.is_empty() {
        return Ok(());
    }
    let total: usize = gaps
        .iter()
        .map(|g| missing_samples(g, fs))
        .fold(0, usize::saturating_add);
    let total_s = total as f64 / fs;
    if total_s > MAX_HOLES_S {
        return Err(ParseError::in_part(
            format!("column {column:?}"),
            format!(
                "its gaps add up to more than {:.0} h; pass --fs HZ to read the rows as contiguous",
                MAX_HOLES_S / 3600.0
            ),
        )
        .into());
    }
    log::warn!(
        "column {column:?} skips rows {} times ({total_s:.1} s in all): read as missing samples",
        gaps.len()
    );
    Ok(())
}

/// Samples a gap leaves out.
fn missing_samples(g: &TimeGap, fs: f64) -> usize {
    ((g.seconds * fs).round() as usize).saturating_sub(1)
}

/// `samples` with NaN for the rows each gap left out (checked by [`check_gaps`]).
fn fill_gaps(samples: Vec<f32>, gaps: &[TimeGap], fs: f64) -> Vec<f32> {
    if gaps.is_empty() {
        return samples;
    }
    let total: usize = gaps.iter().map(|g| missing_samples(g, fs)).sum();
    let mut out = Vec::with_capacity(samples.len() + total);
    let mut from = 0;
    for g in gaps {
        let row = g.row.min(samples.len());
        out.extend_from_slice(&samples[from..row]);
        out.extend(std::iter::repeat_n(f32::NAN, missing_samples(g, fs)));
        from = row;
    }
    out.extend_from_slice(&samples[from..]);
    out
}

/// One row's fields, kept in one reused buffer (no allocation per row once it has grown).
#[derive(Debug, Default)]
struct Row {
    text: String,
    /// End (in `text`) of each field.
    ends: Vec<usize>,
}

impl Row {
    /// Split `line` at `delimiter`, honouring `"quoted"` fields with `""` escapes (RFC 4180).
    fn split(&mut self, line: &str, delimiter: char) -> Result<(), String> {
        self.text.clear();
        self.ends.clear();
        let mut field_start = 0;
        let mut chars = line.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    self.text.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => self.text.push(c),
                (false, '"') if self.text[field_start..].trim().is_empty() => {
                    self.text.truncate(field_start);
                    quoted = true;
                }
                (false, c) if c == delimiter => {
                    self.ends.push(self.text.len());
                    field_start = self.text.len();
                }
                (false, c) => self.text.push(c),
            }
        }
        if quoted {
            return Err("unterminated quoted field".into());
        }
        self.ends.push(self.text.len());
        Ok(())
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Field `i`, trimmed.
    fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(self.text[start..end].trim())
    }

    fn cells(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

/// A number; with `;` as delimiter a decimal comma is accepted too.
fn parse_number(s: &str, delimiter: char) -> Option<f64> {
    let s = s.trim();
    let v = match s.parse::<f64>() {
        Ok(v) => v,
        Err(_) if delimiter == ';' => s.replacen(',', ".", 1).parse::<f64>().ok()?,
        Err(_) => return None,
    };
    v.is_finite().then_some(v)
}

/// The delimiter of a header line: `,`, `;` or tab, whichever it has most of.
pub(crate) fn delimiter(header: &str) -> char {
    [',', ';', '\t']
        .into_iter()
        .max_by_key(|&d| header.matches(d).count())
        .unwrap_or(',')
}

/// The column name without a unit suffix: `ECG (uV)`, `ecg [mV]`, `ecg_uv` → `ECG`, `ecg`.
fn base_name(name: &str) -> &str {
    let n = name.split(['(', '[']).next().unwrap_or(name).trim();
    match n.rsplit_once(['_', ' ']) {
        Some((base, unit)) if millivolt_factor(unit).is_some() => base.trim(),
        _ => n,
    }
}

/// A voltage unit stated in a column name (`ECG (µV)`, `ecg_uV`), in our spelling.
fn unit_in_name(name: &str) -> Option<&'static str> {
    let tokens = name
        .split(['(', ')', '[', ']', '_', ' '])
        .filter(|t| !t.is_empty());
    tokens.skip(1).find_map(canonical_unit)
}

/// A voltage unit in our spelling (`µV`, `microvolt`, `(uV)` → `uV`).
fn canonical_unit(text: &str) -> Option<&'static str> {
    let t = text
        .trim()
        .trim_start_matches(['(', '['])
        .trim_end_matches([')', ']']);
    let k = millivolt_factor(t)?;
    ["mV", "uV", "V", "nV"]
        .into_iter()
        .find(|u| millivolt_factor(u) == Some(k))
}

fn is_time_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let base = n.split(['(', '[']).next().unwrap_or(&n).trim();
    base.contains("time") || base.contains("date") || matches!(base, "t" | "ts" | "t_s" | "t_ms")
}

fn is_heart_rate_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["bpm", "hr", "heart", "pulse"]
        .iter()
        .chain(&super::rr_log::RR_WORDS)
        .any(|k| {
            n.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|t| t == *k)
        })
        || n.contains("bpm")
}

/// Seconds per unit of a numeric time column, from its name or (for epoch times) its size.
pub(crate) fn time_unit_s(name: &str, first: f64) -> f64 {
    let n = name.to_ascii_lowercase();
    let says = |u: &str| {
        n.ends_with(&format!("_{u}"))
            || n.contains(&format!("({u})"))
            || n.contains(&format!("[{u}]"))
    };
    match () {
        _ if says("ns") => 1e-9,
        _ if says("us") || says("µs") => 1e-6,
        _ if says("ms") => 1e-3,
        _ if says("s") => 1.0,
        // epoch times since 1970: ~1.7e9 s, 1.7e12 ms, 1.7e15 µs, 1.7e18 ns
        _ if first.abs() > 1e17 => 1e-9,
        _ if first.abs() > 1e14 => 1e-6,
        _ if first.abs() > 1e11 => 1e-3,
        _ => 1.0,
    }
}

/// A text time `[YYYY-MM-DD[ T]]HH:MM:SS[.frac][Z|±HH[:MM]]` as (days since 1970, seconds of
/// the day, UTC when an offset is given); kept apart so that differences stay exact to the
/// microsecond.
fn parse_clock_time(s: &str) -> Option<(i64, f64)> {
    let s = s.trim();
    let (date, clock) = match s.rsplit_once([' ', 'T']) {
        Some((d, c)) => (Some(d.trim()), c),
        None => (None, s),
    };
    let (clock, offset_s) = split_utc_offset(clock)?;
    let mut hms = clock.split(':');
    let h: u32 = hms.next()?.parse().ok()?;
    let m: u32 = hms.next()?.parse().ok()?;
    let sec: f64 = hms.next()?.parse().ok()?;
    if hms.next().is_some() || m > 59 || !(0.0..61.0).contains(&sec) {
        return None;
    }
    let days = match date {
        Some(d) => {
            let mut ymd = d.split('-');
            let y: i64 = ymd.next()?.parse().ok()?;
            let mo: i64 = ymd.next()?.parse().ok()?;
            let dd: i64 = ymd.next()?.parse().ok()?;
            if ymd.next().is_some()
                || !(1..=12).contains(&mo)
                || !(1..=31).contains(&dd)
                || !(0..=9999).contains(&y)
            {
                return None;
            }
            days_from_civil(y, mo, dd)
        }
        None => 0,
    };
    Some((
        days,
        f64::from(h) * 3600.0 + f64::from(m) * 60.0 + sec - offset_s,
    ))
}

/// `HH:MM:SS[.frac]` and its ISO 8601 zone suffix in seconds east of UTC (`Z`: 0; none: 0).
fn split_utc_offset(clock: &str) -> Option<(&str, f64)> {
    if let Some(c) = clock.strip_suffix(['Z', 'z']) {
        return Some((c, 0.0));
    }
    let Some(i) = clock.rfind(['+', '-']) else {
        return Some((clock, 0.0));
    };
    let (c, zone) = clock.split_at(i);
    let sign = if zone.starts_with('-') { -1.0 } else { 1.0 };
    let z = &zone[1..];
    if !z.is_ascii() {
        return None; // (and byte offsets below would split a character)
    }
    let (hh, mm) = match z.len() {
        2 => (z, "00"),
        4 => z.split_at(2),
        5 if z.as_bytes()[2] == b':' => (&z[..2], &z[3..]),
        _ => return None,
    };
    if !(hh.bytes().chain(mm.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes): (f64, f64) = (hh.parse().ok()?, mm.parse().ok()?);
    (hours <= 14.0 && minutes < 60.0).then_some((c, sign * (hours * 3600.0 + minutes * 60.0)))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The first row's time as an integer, a number and a clock time (whichever it parses as).
#[derive(Debug, Clone, Copy)]
struct FirstTime {
    int: Option<i64>,
    number: Option<f64>,
    clock: Option<(i64, f64)>,
}

/// Rows missing from a time column: before row `row` (0-based, of the data), `seconds` passed in
/// one step.
#[derive(Debug, Clone, Copy, PartialEq)]
struct TimeGap {
    row: usize,
    seconds: f64,
}

/// What a time column says: the sampling rate over its steps without gaps, and its gaps.
#[derive(Debug)]
struct Timing {
    rate_hz: f64,
    gaps: Vec<TimeGap>,
}

/// A time column read row by row (keeping its steps).
struct TimeAxis<'a> {
    name: &'a str,
    column: usize,
    delimiter: char,
    first: Option<FirstTime>,
    seconds_per_unit: f64,
    rows: usize,
    /// Seconds since the first row, of the last row read.
    last_s: f64,
    /// Seconds from each row to the next.
    steps: Vec<f32>,
    /// Steps of zero (a time repeated).
    repeated: usize,
    error: Option<CsvError>,
}

impl<'a> TimeAxis<'a> {
    fn new(name: &'a str, column: usize, delimiter: char) -> Self {
        Self {
            name,
            column,
            delimiter,
            first: None,
            seconds_per_unit: 1.0,
            rows: 0,
            last_s: 0.0,
            steps: Vec::new(),
            repeated: 0,
            error: None,
        }
    }

    /// Seconds of `s` since the first row; integers are subtracted exactly (epoch ns exceed
    /// f64's 2^53).
    fn seconds(&self, s: &str) -> Option<f64> {
        let first = self.first?;
        if let (Ok(v), Some(v0)) = (s.parse::<i64>(), first.int) {
            return Some(v.checked_sub(v0).map_or(f64::NAN, |d| d as f64) * self.seconds_per_unit);
        }
        if let (Some(v), Some(v0)) = (parse_number(s, self.delimiter), first.number) {
            return Some((v - v0) * self.seconds_per_unit);
        }
        parse_clock_time(s)
            .zip(first.clock)
            .map(|((d, t), (d0, t0))| (d - d0) as f64 * 86_400.0 + (t - t0))
    }

    /// Read one row's time; every time must parse and never go backwards.
    fn push(&mut self, s: &str, line: usize) {
        if self.error.is_some() {
            return;
        }
        if self.first.is_none() {
            let number = parse_number(s, self.delimiter);
            self.first = Some(FirstTime {
                int: s.parse::<i64>().ok(),
                number,
                clock: parse_clock_time(s),
            });
            self.seconds_per_unit = time_unit_s(self.name, number.unwrap_or(0.0));
        }
        match self.seconds(s) {
            None => {
                self.error = Some(
                    ParseError::at_line(
                        line,
                        format!("time {s:?} is neither a number nor HH:MM:SS"),
                    )
                    .into(),
                );
            }
            Some(t) if t.is_nan() || t < self.last_s => {
                self.error =
                    Some(ParseError::at_line(line, format!("time goes backwards ({s:?})")).into());
            }
            Some(t) => {
                if self.rows > 0 {
                    let step = t - self.last_s;
                    self.steps.push(step as f32);
                    self.repeated += usize::from(step == 0.0);
                }
                self.last_s = t;
                self.rows += 1;
            }
        }
    }

    /// The rate and gaps. A step over [`GAP_STEPS`] median steps is a gap (none when most
    /// times repeat: the column is too coarse to tell); the rate is rows per second over the
    /// other steps.
    fn timing(mut self) -> Result<Timing, CsvError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.rows < 2 {
            return Err(ParseError::in_part(
                format!("column {:?}", self.name),
                "a time column needs at least two rows to give a sampling rate; pass --fs HZ",
            )
            .into());
        }
        let steps = std::mem::take(&mut self.steps);
        let mut sorted = steps.clone();
        let mid = sorted.len() / 2;
        let (_, &mut median, _) = sorted.select_nth_unstable_by(mid, f32::total_cmp);
        drop(sorted);
        let mut gaps = Vec::new();
        let (mut kept, mut kept_s) = (0usize, 0.0f64);
        for (i, &step) in steps.iter().enumerate() {
            let step = f64::from(step);
            if median > 0.0 && step > GAP_STEPS * f64::from(median) {
                gaps.push(TimeGap {
                    row: i + 1,
                    seconds: step,
                });
            } else {
                kept += 1;
                kept_s += step;
            }
        }
        let over_gaps = kept as f64 / kept_s;
        if !PLAUSIBLE_RATE_HZ.contains(&over_gaps) {
            // not lost rows: bursts of times (per-sample arrival stamps of whole packets)
            gaps.clear();
        }
        let fs = if gaps.is_empty() {
            (self.rows - 1) as f64 / self.last_s
        } else {
            over_gaps
        };
        if !PLAUSIBLE_RATE_HZ.contains(&fs) {
            return Err(ParseError::in_part(
                format!("column {:?}", self.name),
                format!(
                    "estimated sampling rate {} Hz is implausible; pass --fs HZ",
                    compact_number(fs)
                ),
            )
            .into());
        }
        Ok(Timing { rate_hz: fs, gaps })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ECG channel of a delimited text file.
    fn parse(text: &str, opts: &CsvOptions) -> Result<Signal, CsvError> {
        let mut rec = parse_channels(text, opts)?;
        Ok(rec.signals.swap_remove(rec.ecg))
    }

    fn opts(fs: Option<f64>, unit: Option<&str>) -> CsvOptions<'_> {
        CsvOptions {
            sampling_rate_hz: fs,
            unit,
        }
    }

    #[test]
    fn ecg_column_with_fs() {
        let s = parse(
            "Time;ECG (uV);x\r\n\r\n0;1,5;7\r\n0,004;2;8\r\n",
            &opts(Some(250.0), None),
        )
        .unwrap();
        assert_eq!(
            (s.label.as_str(), s.unit.as_str(), s.sampling_rate_hz),
            ("ECG (uV)", "uV", 250.0)
        );
        assert_eq!(s.samples, [1.5, 2.0]);
        let s = parse("t,ecg\ns,[uV]\n0,1\n0.01,2\n", &opts(None, None)).unwrap();
        assert_eq!((s.unit.as_str(), s.sampling_rate_hz), ("uV", 100.0));
        assert_eq!(s.samples, [1.0, 2.0]);
    }

    #[test]
    fn last_numeric_column_and_quotes_and_tabs() {
        let s = parse(
            "\"a\"\tb\tc\n\"x, y\"\t1\t\"2\"\n\"q\"\"\"\t3\t4\n",
            &opts(Some(10.0), Some("uV")),
        )
        .unwrap();
        assert_eq!((s.label.as_str(), s.unit.as_str()), ("c", "uV"));
        assert_eq!(s.samples, [2.0, 4.0]);
    }

    #[test]
    fn rate_from_time_columns() {
        let s = parse("time,ecg\n0,1\n0.004,2\n0.008,3\n", &opts(None, None)).unwrap();
        assert!((s.sampling_rate_hz - 250.0).abs() < 1e-9);
        let ns = "time,ecg\n1714920600000000000,1\n1714920600010000000,2\n1714920600020000000,3\n";
        assert!((parse(ns, &opts(None, None)).unwrap().sampling_rate_hz - 100.0).abs() < 1e-3);
        let ms = "t_ms,ecg\n0,1\n4,2\n8,3\n";
        assert!((parse(ms, &opts(None, None)).unwrap().sampling_rate_hz - 250.0).abs() < 1e-9);
        let clock =
            "local_datetime,ecg_raw\n2019-10-23 23:59:59.996,1\n2019-10-24 00:00:00.000,2\n";
        let s = parse(clock, &opts(None, None)).unwrap();
        assert!((s.sampling_rate_hz - 250.0).abs() < 1e-6);
        assert_eq!(s.unit, "raw");
        // ISO 8601 with a zone (UTC, or an offset that changes between rows: DST), and a time
        // column whose name has the word "timestamp" after another one
        for text in [
            "Phone timestamp,ecg [uV]\n2022-06-14T09:00:00.000Z,1\n2022-06-14T09:00:00.004Z,2\n",
            "time,ecg\n2022-03-27T01:59:59.996+01:00,1\n2022-03-27T03:00:00.000+02:00,2\n",
            "time,ecg\n2022-03-27 00:59:59.996-0000,1\n2022-03-27 01:00:00.000+00,2\n",
        ] {
            let s = parse(text, &opts(None, None)).unwrap();
            assert!((s.sampling_rate_hz - 250.0).abs() < 1e-6, "{text}");
        }
        for bad in ["12:00:00+2", "12:00:00+25:00", "12:00:00+0a:00"] {
            assert_eq!(parse_clock_time(bad), None, "{bad}");
        }
    }

    /// A 130 Hz sensor's per-sample times (ns) with 73-sample packets `lost`, as a Polar Sensor
    /// Logger file: a phone time per packet, the sensor's ns, ms since the start, µV.
    fn packets_with_losses(packets: usize, lost: &[usize]) -> String {
        let mut t = String::from("Phone timestamp;sensor timestamp [ns];timestamp [ms];ecg [uV]\n");
        for p in (0..packets).filter(|p| !lost.contains(p)) {
            let phone_ms = 571 + 562 * p;
            for i in 0..73 {
                let n = p * 73 + i;
                let ns = 599_618_417_305_785_419u64 + (n as f64 * 1e9 / 130.0) as u64;
                let ms = n as f64 * 1000.0 / 130.0;
                t.push_str(&format!(
                    "2022-06-14T09:{:02}:{:02}.{:03};{ns};{ms:.3};{}\n",
                    phone_ms / 60_000,
                    phone_ms / 1000 % 60,
                    phone_ms % 1000,
                    n % 97
                ));
            }
        }
        t
    }

    #[test]
    fn lost_rows_are_missing_samples_at_the_time_columns_rate() {
        let lost = [3, 10, 11, 40];
        let s = parse(&packets_with_losses(60, &lost), &opts(None, None)).unwrap();
        // the sensor's time (not the phone's per-packet one) gives the rate
        assert!(
            (s.sampling_rate_hz - 130.0).abs() < 0.01,
            "{}",
            s.sampling_rate_hz
        );
        assert_eq!(s.samples.len(), 60 * 73);
        for (n, v) in s.samples.iter().enumerate() {
            assert_eq!(v.is_nan(), lost.contains(&(n / 73)), "sample {n}");
            if !v.is_nan() {
                assert_eq!(*v, (n % 97) as f32);
            }
        }
        // a given rate that agrees fills the gaps too; one that does not takes the rows as they are
        let text = packets_with_losses(60, &lost);
        assert_eq!(
            parse(&text, &opts(Some(130.0), None))
                .unwrap()
                .samples
                .len(),
            60 * 73
        );
        assert_eq!(
            parse(&text, &opts(Some(250.0), None))
                .unwrap()
                .samples
                .len(),
            56 * 73
        );
        // whole-ms times (steps of 7 and 8 ms) keep their mean rate
        let mut ms = String::from("time_ms,ecg\n");
        for n in (0..2600).filter(|n| !(1000..1100).contains(n)) {
            ms.push_str(&format!("{},{}\n", n * 1000 / 130, n % 7));
        }
        let s = parse(&ms, &opts(None, None)).unwrap();
        assert!(
            (s.sampling_rate_hz - 130.0).abs() < 0.1,
            "{}",
            s.sampling_rate_hz
        );
        assert_eq!(s.samples.len(), 2600);
        assert_eq!(s.samples.iter().filter(|v| v.is_nan()).count(), 100);
        // arrival stamps 10 µs apart within each 73-sample packet: bursts, not lost rows
        let mut bursts = String::from("time,ecg\n");
        for n in 0..(73 * 20) {
            let t = (n / 73) as f64 * 73.0 / 130.0 + (n % 73) as f64 * 1e-5;
            bursts.push_str(&format!("{t:.6},{}\n", n % 7));
        }
        let s = parse(&bursts, &opts(None, None)).unwrap();
        assert_eq!(s.samples.len(), 73 * 20);
        assert!(
            (s.sampling_rate_hz - 130.0).abs() < 7.0,
            "{}",
            s.sampling_rate_hz
        );
    }

    /// Every signal column is a channel, in file order; the ECG one is marked. Time and
    /// heart-rate columns are not channels; a column with a non-number further down is left out;
    /// units and lost rows apply to each channel.
    #[test]
    fn every_signal_column_is_a_channel() {
        let two = "time_s,ch1,ch2 (uV)\n0,0.1,100\n0.01,0.2,200\n0.02,0.3,300\n";
        let r = parse_channels(two, &opts(None, None)).unwrap();
        let labels: Vec<&str> = r.signals.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["ch1", "ch2 (uV)"]);
        assert_eq!(r.ecg, 1); // the last numeric column, as before
        assert_eq!(r.signals[0].samples, [0.1, 0.2, 0.3]);
        assert_eq!(r.signals[1].unit, "uV");
        assert!(r.signals.iter().all(|s| s.sampling_rate_hz == 100.0));

        let strap = "time,ecg,hr,rr\n0,0.1,,\n0.01,0.2,90,421\n0.02,0.3,,\n";
        let r = parse_channels(strap, &opts(None, None)).unwrap();
        assert_eq!(
            (r.signals.len(), r.ecg, r.signals[0].label.as_str()),
            (1, 0, "ecg")
        );

        // `marker` holds text on its second row: left out, and the ECG column's index follows
        let marked = "t,marker,resp,ecg\n0,1,5,0.1\n0.01,start,6,0.2\n0.02,2,7,0.3\n";
        let r = parse_channels(marked, &opts(None, Some("mV"))).unwrap();
        let labels: Vec<&str> = r.signals.iter().map(|s| s.label.as_str()).collect();
        assert_eq!((labels.as_slice(), r.ecg), (["resp", "ecg"].as_slice(), 1));
        assert!(
            r.signals
                .iter()
                .all(|s| s.unit == "mV" && s.samples.len() == 3)
        );
        assert_eq!(
            parse(marked, &opts(None, None)).unwrap().samples,
            [0.1, 0.2, 0.3]
        );

        // lost rows are missing samples in every channel
        let mut lossy = String::from("time,a,ecg\n");
        for n in (0..400).filter(|n| !(100..150).contains(n)) {
            lossy.push_str(&format!("{},{},{}\n", n as f64 / 100.0, n % 5, n % 7));
        }
        let r = parse_channels(&lossy, &opts(None, None)).unwrap();
        for s in &r.signals {
            assert_eq!(s.samples.len(), 400, "{}", s.label);
            assert_eq!(s.samples.iter().filter(|v| v.is_nan()).count(), 50);
        }
    }

    #[test]
    fn ecg_columns_by_their_lead_names() {
        for (header, want) in [
            ("time,EKG,EDA", "EKG"),
            ("time,ECG Lead II,Resp", "ECG Lead II"),
            ("time,ECG1,acc_x", "ECG1"),
            ("time,Lead II,hr", "Lead II"),
        ] {
            let text = format!("{header}\n0,1,5\n0.004,2,6\n");
            let s = parse(&text, &opts(None, Some("mV"))).unwrap();
            assert_eq!(s.label, want);
            assert_eq!(s.samples, [1.0, 2.0]);
        }
    }

    #[test]
    fn nan_cells_are_missing_samples() {
        let s = parse(
            "ecg\n1\nNaN\nnan\nNA\nnull\n\"\"\n2\n",
            &opts(Some(100.0), None),
        )
        .unwrap();
        assert_eq!(s.samples.len(), 7);
        assert_eq!(s.samples.iter().filter(|v| v.is_nan()).count(), 5);
    }

    #[test]
    fn a_file_without_header_keeps_its_first_row() {
        let s = parse("0.5,1.5\n0.6,1.25\n", &opts(Some(100.0), Some("mV"))).unwrap();
        assert_eq!(
            (s.label.as_str(), s.samples.as_slice()),
            ("column 2", &[1.5, 1.25][..])
        );
        assert_eq!(
            parse("1\n2\n3\n", &opts(None, None)),
            Err(CsvError::NeedsSamplingRate)
        );
    }

    #[test]
    fn a_single_row_time_column_says_so() {
        let e = parse("time,ecg\n0,1\n", &opts(None, None)).unwrap_err();
        assert!(e.to_string().contains("needs at least two rows"), "{e}");
        assert_eq!(
            parse("time,ecg\n0,1\n", &opts(Some(130.0), None))
                .unwrap()
                .samples,
            [1.0]
        );
    }

    #[test]
    fn a_given_rate_wins_over_the_time_column() {
        // e.g. a time column that skips lost samples, or holds sample indices (a warning is
        // logged when they disagree)
        let text = "time,ecg\n0,1\n0.004,2\n0.008,3\n";
        let s = parse(text, &opts(Some(500.0), None)).unwrap();
        assert_eq!(s.sampling_rate_hz, 500.0);
        // an unreadable time column: the given rate stands in for it
        let broken = "time,ecg\n0,1\nnoon,2\n0.008,3\n";
        assert!(parse(broken, &opts(None, None)).is_err());
        assert_eq!(
            parse(broken, &opts(Some(250.0), None)).unwrap().samples,
            [1.0, 2.0, 3.0]
        );
    }

    #[test]
    fn unstated_unit_from_amplitude() {
        // 1 s of a spiky beat-like signal at 100 Hz, repeated for 6 s
        let beat = |scale: f32| -> String {
            let mut t = String::from("time,ecg\n");
            for i in 0..600 {
                let v = if i % 100 == 50 {
                    scale
                } else {
                    0.05 * scale * ((i % 7) as f32) / 7.0
                };
                t.push_str(&format!("{},{v}\n", f64::from(i) / 100.0));
            }
            t
        };
        assert_eq!(parse(&beat(1.2), &opts(None, None)).unwrap().unit, "mV");
        assert_eq!(parse(&beat(1200.0), &opts(None, None)).unwrap().unit, "uV");
        // a stated unit or the caller's wins over the amplitude
        assert_eq!(
            parse(
                &beat(1200.0).replacen("ecg", "ecg_mV", 1),
                &opts(None, None)
            )
            .unwrap()
            .unit,
            "mV"
        );
        assert_eq!(
            parse(&beat(1.2), &opts(None, Some("uV"))).unwrap().unit,
            "uV"
        );
        // a dead lead stays mV
        assert_eq!(infer_unit(&[0.0; 1000], 100.0), "mV");
        assert_eq!(infer_unit(&[f32::NAN; 10], 100.0), "mV");
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse("ecg\n1\n2\n", &opts(None, None)),
            Err(CsvError::NeedsSamplingRate)
        );
        let e = parse("ecg\n1\nabc\n", &opts(Some(1.0), None)).unwrap_err();
        assert!(
            matches!(&e, CsvError::Parse(p) if p.at == crate::error::Location::Line(3)),
            "{e}"
        );
        assert!(parse("", &opts(Some(1.0), None)).is_err());
        assert!(parse("ecg\n", &opts(Some(1.0), None)).is_err());
        assert!(parse("a,ecg\n1,2\n3\n", &opts(Some(1.0), None)).is_err());
        assert!(parse("a,ecg\n\"1,2\n", &opts(Some(1.0), None)).is_err());
        // a time whose "zone" holds a multi-byte character (found by the fuzzer: it panicked)
        assert!(parse("time,ecg\n1209708721+0µv,1\n121,2\n", &opts(None, None)).is_err());
        assert!(
            parse("time,ecg\n0,1\n5,2\n", &opts(None, None))
                .unwrap_err()
                .to_string()
                .contains("implausible")
        );
        // ms read as seconds: 1 Hz
        assert!(
            parse("time,ecg\n0,1\n1,2\n2,3\n", &opts(None, None))
                .unwrap_err()
                .to_string()
                .contains("pass --fs")
        );
        assert!(
            parse("time,ecg\n1,1\n0,2\n", &opts(None, None))
                .unwrap_err()
                .to_string()
                .contains("backwards")
        );
        assert!(matches!(
            parse("timestamp,rri_ms,hr_bpm\n1,900,60\n", &opts(None, None)),
            Err(CsvError::NotEcg(_))
        ));
        assert!(matches!(
            parse("ecg\n1\n", &opts(Some(1.0), Some("degC"))),
            Err(CsvError::BadOption(_))
        ));
    }
}
