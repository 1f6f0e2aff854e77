//! Value parsers for numeric options: clap rejects NaN, infinities and out-of-range numbers at
//! parse time, naming the option.

use stressbeat_core::{
    dsp::filter::{MAX_SAMPLING_RATE_HZ, MIN_SAMPLING_RATE_HZ},
    text::compact_number,
};

/// A finite number ≥ 0 (seconds, minutes, rates of events, noise levels).
pub fn non_negative(s: &str) -> Result<f64, String> {
    let v = finite(s)?;
    if v < 0.0 {
        return Err(format!("{s} is negative; give a number ≥ 0"));
    }
    Ok(v)
}

/// A finite number > 0 (durations, sampling rates).
pub fn positive(s: &str) -> Result<f64, String> {
    let v = finite(s)?;
    if v <= 0.0 {
        return Err(format!("{s} is not positive; give a number > 0"));
    }
    Ok(v)
}

/// A sampling rate the analyses support, Hz (`--fs`).
pub fn sampling_rate(s: &str) -> Result<f64, String> {
    in_range(MIN_SAMPLING_RATE_HZ, MAX_SAMPLING_RATE_HZ, " Hz")(s)
}

/// The parser of a finite number in `lo..=hi`; `unit` (e.g. " ms") follows the range in the
/// message.
pub fn in_range(
    lo: f64,
    hi: f64,
    unit: &'static str,
) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync + 'static {
    move |s| {
        let v = finite(s)?;
        if !(lo..=hi).contains(&v) {
            return Err(format!("{} is outside {lo}–{hi}{unit}", compact_number(v)));
        }
        Ok(v)
    }
}

/// Shortest session `demo` runs, minutes: a few 30 s stress windows.
pub const MIN_SESSION_MINUTES: f64 = 1.0;
/// Longest session `demo` runs, minutes (a week).
pub const MAX_SESSION_MINUTES: f64 = 7.0 * 24.0 * 60.0;

/// Minutes of a monitored session (`demo --minutes`).
pub fn session_minutes(s: &str) -> Result<f64, String> {
    let v = finite(s)?;
    if v < MIN_SESSION_MINUTES {
        return Err(format!(
            "{} min is too short: a session needs at least {MIN_SESSION_MINUTES} minute \
             (stress is scored per 30 s window)",
            compact_number(v)
        ));
    }
    if v > MAX_SESSION_MINUTES {
        return Err(format!(
            "{} min is longer than a week ({MAX_SESSION_MINUTES} min)",
            compact_number(v)
        ));
    }
    Ok(v)
}

fn finite(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("{s} is not a finite number")),
        Err(_) => Err(format!("{s:?} is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_no_option_can_mean() {
        assert_eq!(non_negative("0"), Ok(0.0));
        assert_eq!(non_negative(" 12.5"), Ok(12.5));
        for bad in ["NaN", "inf", "-inf", "-10", "ten", ""] {
            assert!(non_negative(bad).is_err(), "{bad}");
        }
        assert_eq!(positive("130"), Ok(130.0));
        assert!(positive("0").is_err() && positive("-1").is_err() && positive("nan").is_err());
    }

    #[test]
    fn out_of_range_values_are_refused_in_a_few_characters() {
        assert_eq!(sampling_rate("130"), Ok(130.0));
        assert_eq!(
            sampling_rate("1e300"),
            Err("1e300 is outside 50–5000 Hz".into())
        );
        let hrv = in_range(0.0, 200.0, " ms");
        assert_eq!(hrv("1e6"), Err("1000000 is outside 0–200 ms".into()));
        assert_eq!(hrv("50"), Ok(50.0));
    }

    #[test]
    fn a_session_lasts_at_least_a_minute_and_at_most_a_week() {
        assert_eq!(session_minutes("1"), Ok(1.0));
        let short = session_minutes("0.1").unwrap_err();
        assert!(short.contains("at least 1 minute"), "{short}");
        assert!(
            session_minutes("1e300")
                .unwrap_err()
                .starts_with("1e300 min")
        );
    }
}
