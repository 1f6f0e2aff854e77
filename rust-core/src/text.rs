//! Numbers in messages: a value a person typed or a file holds, however large, in a few
//! characters.

/// `x` as `{}` prints it when that is short, in scientific notation when it is very large or very
/// small (`1e300`, not 301 digits); zero is `0` (never `-0`).
pub fn compact_number(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if !x.is_finite() || (1e-4..1e7).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::compact_number;

    #[test]
    fn huge_and_tiny_values_stay_short() {
        assert_eq!(compact_number(1e300), "1e300");
        assert_eq!(compact_number(-2.5e12), "-2.5e12");
        assert_eq!(compact_number(3e-9), "3e-9");
        assert_eq!(compact_number(130.0), "130");
        assert_eq!(compact_number(0.25), "0.25");
        assert_eq!(compact_number(-0.0), "0");
        assert_eq!(compact_number(f64::NAN), "NaN");
    }
}
