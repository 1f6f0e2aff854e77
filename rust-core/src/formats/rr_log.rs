//! RR-interval logs: delimited text (`,` `;` or tab) with a header, one interval per row, as
//! phone apps log a strap's Heart Rate Service, e.g. `timestamp,rri_ms,hr_bpm`.
//!
//! - The RR column is the first whose name has the word `rr`, `rri`, `ibi` or `nn`
//!   (`rri_ms`, `RR-interval (ms)`, `IBI`). Its unit is ms when the name says `ms`, s when it
//!   says `s`, else ms when the median value is above 3.
//! - An optional numeric time column (a name with `timestamp`, `time`, `unix` or `epoch`):
//!   seconds, or ms when the values are Unix milliseconds (above 10¹¹). Rows with the same time
//!   came in one notification. Times must not go backwards.
//! - Rows with an empty RR cell are skipped.

use crate::error::ParseError;

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

const RR_WORDS: [&str; 4] = ["rr", "rri", "ibi", "nn"];
const TIME_WORDS: [&str; 4] = ["timestamp", "time", "unix", "epoch"];

fn words(name: &str) -> Vec<String> {
    name.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn delimiter(header: &str) -> char {
    [',', ';', '\t']
        .into_iter()
        .max_by_key(|d| header.matches(*d).count())
        .unwrap_or(',')
}

/// The RR column's index in a header line, when it names one (a cheap check before parsing).
pub fn rr_column(header: &str) -> Option<usize> {
    header
        .split(delimiter(header))
        .position(|name| words(name).iter().any(|w| RR_WORDS.contains(&w.as_str())))
}

/// Parse an RR log. See the module documentation.
pub fn parse(text: &str) -> Result<Vec<RrEntry>, RrLogError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(RrLogError::NotRrLog)?;
    let header = header.trim_start_matches('\u{feff}');
    let delim = delimiter(header);
    let names: Vec<Vec<String>> = header.split(delim).map(words).collect();
    let rr_col = rr_column(header).ok_or(RrLogError::NotRrLog)?;
    let time_col = names
        .iter()
        .position(|w| w.iter().any(|w| TIME_WORDS.contains(&w.as_str())));
    let rr_words = &names[rr_col];
    let unit_ms = if rr_words.iter().any(|w| w == "ms") {
        Some(true)
    } else if rr_words.iter().any(|w| w == "s" || w == "sec") {
        Some(false)
    } else {
        None
    };

    let mut rows: Vec<(Option<f64>, f64)> = Vec::new();
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
        let time = match time_col.and_then(|c| cells.get(c)) {
            Some(cell) => Some(
                cell.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        ParseError::at_line(ln, format!("time {cell:?} is not a number"))
                    })?,
            ),
            None => None,
        };
        if let (Some(t), Some((Some(prev), _))) = (time, rows.last())
            && t < *prev
        {
            return Err(ParseError::at_line(ln, "time goes backwards").into());
        }
        rows.push((time, rr));
    }
    if rows.is_empty() {
        return Err(ParseError::in_part("data", "no RR interval").into());
    }
    let ms = unit_ms.unwrap_or_else(|| {
        let mut v: Vec<f64> = rows.iter().map(|r| r.1).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2] > 3.0
    });
    let epoch_ms = rows.iter().any(|r| r.0.is_some_and(|t| t > 1e11));
    Ok(rows
        .into_iter()
        .map(|(t, rr)| RrEntry {
            time_s: t.map(|t| if epoch_ms { t / 1000.0 } else { t }),
            rr_ms: if ms { rr } else { rr * 1000.0 },
        })
        .collect())
}

/// When each interval of `log` ends, ms from the start of its first interval. Rows with a time
/// end at it minus the intervals logged after them at the same time (an interval arrives after
/// it ends), never before the previous one; without times, intervals lie end to end.
pub fn interval_ends_ms(log: &[RrEntry]) -> Vec<f64> {
    let mut ends = Vec::with_capacity(log.len());
    let mut i = 0;
    while i < log.len() {
        let j = (i..log.len())
            .find(|&j| log[j].time_s != log[i].time_s || log[i].time_s.is_none() && j > i)
            .unwrap_or(log.len());
        let mut later: f64 = log[i..j].iter().map(|e| e.rr_ms).sum();
        for e in &log[i..j] {
            later -= e.rr_ms;
            let prev = ends.last().copied().unwrap_or(f64::NEG_INFINITY);
            let end = match e.time_s {
                Some(t) => t * 1000.0 - later,
                None => prev.max(0.0) + e.rr_ms,
            };
            ends.push(end.max(prev));
        }
        i = j;
    }
    if let (Some(&first), Some(e)) = (ends.first(), log.first()) {
        let start = first - e.rr_ms;
        for t in &mut ends {
            *t -= start;
        }
    }
    ends
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn columns_units_and_times() {
        let log =
            parse("timestamp,rri_ms,hr_bpm\n1782140968.12,891,67.34\n1782140968.12,863,69.5\n")
                .unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[1].rr_ms, 863.0);
        assert_eq!(log[0].time_s, log[1].time_s);

        let s = parse("Time;RR (s)\n0;0.8\n1;0.82\n").unwrap();
        assert_eq!((s[1].time_s, s[1].rr_ms), (Some(1.0), 820.0));
        let guessed = parse("ibi\n0.9\n\n1.1\n").unwrap();
        assert_eq!(
            guessed.iter().map(|e| e.rr_ms).collect::<Vec<_>>(),
            [900.0, 1100.0]
        );
        assert!(guessed.iter().all(|e| e.time_s.is_none()));
        let epoch_ms = parse("unix_ms\tRR\n1782140968120\t800\n").unwrap();
        assert_eq!(epoch_ms[0].time_s, Some(1_782_140_968.12));
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
        assert!(err("rr\n").contains("no RR"));
    }
}
