//! RR-interval logs: delimited text (`,` `;` or tab) with a header, one interval per row, as
//! phone apps log a strap's Heart Rate Service, e.g. `timestamp,rri_ms,hr_bpm`.
//!
//! - The RR column is the first whose name has the word `rr`, `rri`, `ibi` or `nn`
//!   (`rri_ms`, `RR-interval (ms)`, `IBI`). Its unit is ms when the name says `ms`, s when it
//!   says `s`, else ms when the median value is above 3.
//! - An optional numeric time column (a name with `timestamp`, `time`, `unix` or `epoch`, or
//!   `at` with at most a unit, as StressBeat's RR export's `at_ms`; the first such column whose
//!   first value is a number), in the unit its name states (`_ms`, `(s)`, ...), else seconds, or
//!   the epoch unit its size shows (as CSV recordings' time columns). Rows with the same time
//!   came in one notification. Times must not go backwards.
//! - Rows with an empty RR cell are skipped. An interval must lie in (0, 65 536] ms (the Heart
//!   Rate Service's range), a time within ±10¹¹ s.
//! - A text is an RR log ([`is_rr_log`]) when its header names an RR column and no ECG column.

use super::csv::{delimiter, time_unit_s};
use crate::error::ParseError;
use crate::protocol::hrs::interval_ends;
use crate::record::is_ecg_label;

/// One interval of the log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RrEntry {
    /// When it was logged, s (the file's own origin); `None` without a time column.
    pub time_s: Option<f64>,
    /// The interval, ms.
    pub rr_ms: f64,
}

/// Why a text is not a usable RR log.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RrLogError {
    /// No header with an RR column: not an RR log (maybe ECG).
    #[error("no RR-interval column (a header naming rr, rri, ibi or nn)")]
    NotRrLog,
    /// An RR log with a malformed row.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// Words of a column name that make it an RR column (also read by the CSV reader, which refuses
/// such a column as ECG).
pub const RR_WORDS: [&str; 4] = ["rr", "rri", "ibi", "nn"];
const TIME_WORDS: [&str; 4] = ["timestamp", "time", "unix", "epoch"];

fn words(name: &str) -> Vec<String> {
    name.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether a column name (its words) names a time: a time word, or `at` with at most a unit.
fn is_time_name(words: &[String]) -> bool {
    let unit = |w: &String| ["s", "sec", "ms", "us", "ns"].contains(&w.as_str());
    words.iter().any(|w| TIME_WORDS.contains(&w.as_str()))
        || matches!(words, [at] if at == "at")
        || matches!(words, [at, u] if at == "at" && unit(u))
}

/// Longest interval, ms (the Heart Rate Service's 16-bit 1/1024 s field).
const MAX_RR_MS: f64 = 65_536.0;
/// Largest time, s (about 3,000 years from its origin).
const MAX_TIME_S: f64 = 1e11;

/// The RR column's index in a header line, when it names one.
fn rr_column(header: &str) -> Option<usize> {
    header
        .split(delimiter(header))
        .position(|name| words(name).iter().any(|w| RR_WORDS.contains(&w.as_str())))
}

/// The first non-empty line, without a byte-order mark.
fn header_line(text: &str) -> Option<&str> {
    text.trim_start_matches('\u{feff}')
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .find(|l| !l.trim().is_empty())
}

/// Whether `text` is an RR log: its header names an RR column and no ECG column
/// ([`is_ecg_label`]: `ecg`, `EKG`, `ECG Lead II`, …).
pub fn is_rr_log(text: &str) -> bool {
    header_line(text).is_some_and(|h| {
        rr_column(h).is_some()
            && !h
                .split(delimiter(h))
                .any(|n| is_ecg_label(n.trim().trim_matches('"')))
    })
}

/// Parse an RR log. See the module documentation.
pub fn parse(text: &str) -> Result<Vec<RrEntry>, RrLogError> {
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(RrLogError::NotRrLog)?;
    let delim = delimiter(header);
    let columns: Vec<&str> = header.split(delim).collect();
    let names: Vec<Vec<String>> = columns.iter().map(|c| words(c)).collect();
    let rr_col = rr_column(header).ok_or(RrLogError::NotRrLog)?;
    // a time-named column holding text (an ISO time) is not the time column
    let first_value = |c: usize| {
        lines.clone().find_map(|(_, l)| {
            l.split(delim)
                .nth(c)
                .map(str::trim)
                .filter(|v| !v.is_empty())
        })
    };
    let time_col = names.iter().enumerate().position(|(c, w)| {
        is_time_name(w) && first_value(c).is_none_or(|v| v.parse::<f64>().is_ok())
    });
    let rr_words = &names[rr_col];
    let unit_ms = if rr_words.iter().any(|w| w == "ms") {
        Some(true)
    } else if rr_words.iter().any(|w| w == "s" || w == "sec") {
        Some(false)
    } else {
        None
    };

    let mut rows: Vec<(Option<f64>, f64, usize)> = Vec::new();
    let mut last_time: Option<f64> = None;
    for (ln, line) in lines {
        let cells: Vec<&str> = line.split(delim).map(str::trim).collect();
        let rr_cell = cells.get(rr_col).copied().unwrap_or("");
        if rr_cell.is_empty() {
            continue;
        }
        let rr: f64 = rr_cell
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v > 0.0)
            .ok_or_else(|| {
                ParseError::at_line(ln, format!("RR {rr_cell:?} is not a positive number"))
            })?;
        let time = match time_col {
            Some(c) => {
                let cell = cells.get(c).copied().unwrap_or("");
                let t = cell
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        ParseError::at_line(ln, format!("time {cell:?} is not a number"))
                    })?;
                if last_time.is_some_and(|prev| t < prev) {
                    return Err(ParseError::at_line(ln, "time goes backwards").into());
                }
                last_time = Some(t);
                Some(t)
            }
            None => None,
        };
        rows.push((time, rr, ln));
    }
    if rows.is_empty() {
        return Err(ParseError::in_part("data", "no RR interval").into());
    }
    let ms = unit_ms.unwrap_or_else(|| {
        let mut v: Vec<f64> = rows.iter().map(|r| r.1).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2] > 3.0
    });
    let time_unit_s = match (time_col, rows[0].0) {
        (Some(c), Some(first)) => time_unit_s(columns[c], first),
        _ => 1.0,
    };
    rows.into_iter()
        .map(|(t, rr, ln)| {
            let rr_ms = if ms { rr } else { rr * 1000.0 };
            let time_s = t.map(|t| t * time_unit_s);
            if rr_ms > MAX_RR_MS {
                return Err(
                    ParseError::at_line(ln, format!("RR {rr_ms} ms is longer than 65 s")).into(),
                );
            }
            if time_s.is_some_and(|t| t.abs() > MAX_TIME_S) {
                return Err(ParseError::at_line(ln, "time out of range").into());
            }
            Ok(RrEntry { time_s, rr_ms })
        })
        .collect()
}

/// When each interval of `log` ends, ms from the start of its first interval: rows logged at
/// the same time as one notification received then
/// ([`crate::protocol::hrs::interval_ends`]); rows without a time end to end.
pub fn interval_ends_ms(log: &[RrEntry]) -> Vec<f64> {
    let mut ends: Vec<f64> = Vec::with_capacity(log.len());
    for group in log.chunk_by(|a, b| a.time_s.is_some() && a.time_s == b.time_s) {
        let after = ends.last().copied().unwrap_or(f64::NEG_INFINITY);
        let rr: Vec<f64> = group.iter().map(|e| e.rr_ms).collect();
        let at = match group[0].time_s {
            Some(t) => t * 1000.0,
            None => after.max(0.0) + rr[0],
        };
        ends.extend(interval_ends(at, &rr, after).map(|(end, _)| end));
    }
    if let (Some(&first), Some(e)) = (ends.first(), log.first()) {
        let start = first - e.rr_ms;
        for t in &mut ends {
            *t -= start;
        }
    }
    ends
}

/// The header [`write`] gives a log: the time each interval's notification came (s, Unix), the
/// interval (ms) and the strap's heart rate (bpm).
pub const HEADER: &str = "timestamp_s,rr_ms,hr_bpm";

/// Append one notification's intervals to an RR log (rows of [`HEADER`]; write the header
/// first): received at `at_s` (Unix s), with the strap's `bpm`.
pub fn write(
    out: &mut impl std::io::Write,
    at_s: f64,
    rr_ms: &[f64],
    bpm: u16,
) -> std::io::Result<()> {
    for rr in rr_ms {
        writeln!(out, "{at_s:.3},{rr:.3},{bpm}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn written_logs_read_back() {
        let mut out = format!("{HEADER}\n").into_bytes();
        write(
            &mut out,
            1_782_140_956.121,
            &[998.046_875, 1_017.578_125],
            60,
        )
        .unwrap();
        write(&mut out, 1_782_140_957.5, &[], 60).unwrap();
        write(&mut out, 1_782_140_958.0, &[871.09375], 69).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(is_rr_log(&text));
        let log = parse(&text).unwrap();
        assert_eq!(log.len(), 3);
        assert_eq!(log[0].time_s, log[1].time_s, "one notification");
        assert!((log[1].rr_ms - 1017.578).abs() < 1e-3);
        assert!((log[2].time_s.unwrap() - 1_782_140_958.0).abs() < 1e-6);
    }

    #[test]
    fn columns_units_and_times() {
        let log =
            parse("timestamp,rri_ms,hr_bpm\n1782140968.12,891,67.34\n1782140968.12,863,69.5\n")
                .unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[1].rr_ms, 863.0);
        assert_eq!(log[0].time_s, log[1].time_s);

        // StressBeat's RR export: the ISO time is skipped for the numeric one, in ms
        let export = parse(
            "session_id,at_utc,at_ms,rr_ms\n\
             1,2026-11-23T22:44:08.530Z,1795473848530,907.69\n\
             1,2026-11-23T22:44:25.000Z,1795473865000,953.85\n",
        )
        .unwrap();
        assert_eq!(export[1].time_s, Some(1_795_473_865.0));
        assert!(
            parse("rr,heart_rate_at_rest\n800,60\n").unwrap()[0]
                .time_s
                .is_none()
        );
        assert!(parse("rr,at_rest\n800,60\n").unwrap()[0].time_s.is_none());
        // a first row without a time does not lose the column (it is an error, as before)
        assert!(parse("time,rr\n,800\n10,800\n").is_err());

        let s = parse("Time;RR (s)\n0;0.8\n1;0.82\n").unwrap();
        assert_eq!((s[1].time_s, s[1].rr_ms), (Some(1.0), 820.0));
        let guessed = parse("ibi\n0.9\n\n1.1\n").unwrap();
        assert_eq!(
            guessed.iter().map(|e| e.rr_ms).collect::<Vec<_>>(),
            [900.0, 1100.0]
        );
        assert!(guessed.iter().all(|e| e.time_s.is_none()));
        let epoch_ms = parse("unix\tRR\n1782140968120\t800\n").unwrap();
        assert!((epoch_ms[0].time_s.unwrap() - 1_782_140_968.12).abs() < 1e-6);
        let elapsed_ms = parse("time_ms,nn\n0,800\n900,900\n").unwrap();
        assert_eq!(elapsed_ms[1].time_s, Some(0.9));
        let bom = parse("\u{feff}\r\nrr\r\n800\r\n").unwrap();
        assert_eq!(bom[0].rr_ms, 800.0);
        assert!(is_rr_log("\u{feff}timestamp,rri_ms,hr_bpm\r\n1,2,3"));
        assert!(is_rr_log("time,NN (ms)\n"));
        assert!(!is_rr_log("time,ecg,rr\n") && !is_rr_log("time,ecg\n") && !is_rr_log(""));
        assert!(!is_rr_log("time,EKG,rr\n") && !is_rr_log("t;\"ECG Lead II\";ibi\n"));
    }

    #[test]
    fn interval_ends_from_times_or_end_to_end() {
        let timed = parse("time,rr\n10,800\n11,900\n11,300\n11.5,700\n").unwrap();
        assert_eq!(interval_ends_ms(&timed), [800.0, 1500.0, 1800.0, 2300.0]);
        let plain = parse("rr\n800\n900\n").unwrap();
        assert_eq!(interval_ends_ms(&plain), [800.0, 1700.0]);
    }

    #[test]
    fn not_a_log_and_malformed_rows_are_told_apart() {
        assert_eq!(parse("time,ecg\n0,1\n"), Err(RrLogError::NotRrLog));
        assert_eq!(parse(""), Err(RrLogError::NotRrLog));
        let err = |t: &str| match parse(t) {
            Err(RrLogError::Parse(p)) => p.to_string(),
            other => panic!("{other:?}"),
        };
        assert!(err("rr\n800\nabc\n").starts_with("line 3"));
        assert!(err("rr\n-5\n").contains("positive"));
        assert!(err("time,rr\n5,800\n4,800\n").contains("backwards"));
        assert!(err("time,rr\n5,800\n,800\n").contains("time"));
        assert!(err("rr,time\n800,5\n800\n").contains("time"));
        assert!(err("rr (s)\n1e306\n").contains("longer"));
        assert!(err("rr\n70000\n").contains("longer"));
        assert!(err("time,rr\n1e300,800\n").contains("range"));
        assert!(err("rr\n").contains("no RR"));
    }
}
