//! Value parsers for numeric options: clap rejects NaN, infinities and out-of-range numbers at
//! parse time, naming the option.

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
}
