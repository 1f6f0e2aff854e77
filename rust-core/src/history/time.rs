//! Calendar arithmetic on Unix milliseconds (proleptic Gregorian, no time-zone database).

const MS_PER_DAY: i64 = 86_400_000;

/// (year, month 1–12, day 1–31) of a day counted from 1970-01-01 (H. Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Calendar fields of a UTC instant: (year, month, day, hour, minute, second, millisecond).
pub(crate) fn utc_fields(ms: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let (y, mo, d) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let s = in_day / 1000;
    (
        y,
        mo,
        d,
        (s / 3600) as u32,
        (s / 60 % 60) as u32,
        (s % 60) as u32,
        (in_day % 1000) as u32,
    )
}

/// ISO 8601 UTC with milliseconds, e.g. `2026-11-21T18:05:00.250Z`.
pub fn format_utc_iso(ms: i64) -> String {
    let (y, mo, d, h, mi, s, milli) = utc_fields(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// The local day of a UTC instant with a fixed offset from UTC (minutes, east positive):
/// (day number since 1970-01-01 local, "YYYY-MM-DD").
pub fn local_day(ms: i64, utc_offset_minutes: i32) -> (i64, String) {
    let days = (ms + i64::from(utc_offset_minutes) * 60_000).div_euclid(MS_PER_DAY);
    let (y, mo, d) = civil_from_days(days);
    (days, format!("{y:04}-{mo:02}-{d:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(format_utc_iso(0), "1970-01-01T00:00:00.000Z");
        // 2024-02-29T23:59:59.999Z (leap day)
        assert_eq!(
            format_utc_iso(1_709_251_199_999),
            "2024-02-29T23:59:59.999Z"
        );
        assert_eq!(format_utc_iso(-1), "1969-12-31T23:59:59.999Z");
        // 23:30 UTC is the next day at UTC+1, the same day at UTC-5
        let t = 1_709_249_400_000; // 2024-02-29T23:30Z
        assert_eq!(local_day(t, 60).1, "2024-03-01");
        assert_eq!(local_day(t, -300).1, "2024-02-29");
    }
}
