//! Calendar arithmetic in UTC, on Unix seconds, with no clock and no time zone database.
//!
//! The engine never reads the clock: callers pass `now`. These helpers turn dates into
//! instants and back, for `valid from … until …` bounds and for the reset windows of counters.

/// Whether `year` is a leap year in the proleptic Gregorian calendar.
pub const fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The number of days in `month` (1–12) of `year`; 0 for a month out of range.
pub const fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1–12, day 1–31).
///
/// The classic era-based algorithm: exact for every representable year, no loops, no tables.
pub const fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = month as i64;
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `(year, month, day)` of a day count since 1970-01-01; the inverse of
/// [`days_from_civil`].
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the algorithm keeps `day` in 1..=31 and `month` in 1..=12"
)]
pub const fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

// Branch-free civil-date arithmetic for the query path (counter windows), after Neri and
// Schneider, "Euclidean affine functions and their application to calendar algorithms" (2022):
// a handful of multiplications and shifts on 32-bit unsigned numbers, with the years shifted by
// `SHIFT_YEARS` so that every date the engine computes windows for is positive. The era-based
// functions above serve everything else (any `i64`), and a test checks that both agree on every
// day of years 1 to 9999.

/// Years added so that the computational calendar stays positive: 82 × 400 years.
const SHIFT_YEARS: u32 = 400 * 82;
/// Days from the shifted calendar's origin (a March 1st) to 1970-01-01.
const SHIFT_DAYS: u32 = 719_468 + 146_097 * 82;

/// The date `(year, month, day)` of a day number (days since 1970-01-01), for days in years 1
/// to 9999.
#[expect(
    clippy::cast_sign_loss,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    reason = "in years 1–9999 the shifted day number and every intermediate fit u32 (Neri–Schneider's bounds), and the year fits i32"
)]
#[inline]
pub(crate) const fn date_of_day(day: i32) -> (i32, u32, u32) {
    let n = (day as u32).wrapping_add(SHIFT_DAYS);
    // Century, then the day within it.
    let n1 = 4 * n + 3;
    let century = n1 / 146_097;
    let day_of_century = n1 % 146_097 / 4;
    // Year, then the day within it (a year starting on March 1st).
    let n2 = 4 * day_of_century + 3;
    let p2 = 2_939_745u64 * n2 as u64;
    let year_of_century = (p2 >> 32) as u32;
    let day_of_year = (p2 as u32) / 2_939_745 / 4;
    let year = 100 * century + year_of_century;
    // Month and day (March is month 3, February of the next year month 14).
    let n3 = 2_141 * day_of_year + 197_913;
    let month = n3 >> 16;
    let day = (n3 & 0xffff) / 2_141 + 1;
    // Back to January-based years.
    let january_or_february = (day_of_year >= 306) as u32;
    let year = year.wrapping_sub(SHIFT_YEARS).wrapping_add(january_or_february) as i32;
    let month = month - 12 * january_or_february;
    (year, month, day)
}

/// Whether `year` (1 to 9999) is a leap year: [`is_leap_year`] on 32-bit unsigned numbers,
/// whose remainders by constants compile to a multiplication each.
#[expect(clippy::cast_sign_loss, reason = "years 1–9999 are positive")]
#[inline]
pub(crate) const fn is_leap(year: i32) -> bool {
    let year = year as u32;
    // A year divisible by 100 is a leap year when divisible by 400, that is by 16.
    if year.is_multiple_of(100) {
        year.is_multiple_of(16)
    } else {
        year.is_multiple_of(4)
    }
}

/// The number of days in `month` (1–12) of a year that is a leap year or not, without a branch
/// on the month: odd months before August and even months from August have 31 days.
#[inline]
pub(crate) const fn month_length(leap: bool, month: u32) -> u32 {
    if month == 2 {
        28 + leap as u32
    } else {
        30 | (month ^ (month >> 3))
    }
}

/// Seconds in a day.
pub const SECONDS_PER_DAY: i64 = 86_400;

/// A [`std::time::SystemTime`] in Unix seconds. Times before 1970 count back from it, rounded
/// toward the past (so an instant just before the epoch is second -1); times past the range
/// of `i64` seconds clamp.
pub(crate) fn unix_seconds(time: std::time::SystemTime) -> i64 {
    match time.duration_since(std::time::SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let duration = before.duration();
            let whole = i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
            let partial = i64::from(duration.subsec_nanos() > 0);
            whole.saturating_add(partial).saturating_neg()
        }
    }
}

/// Parses a date (`YYYY-MM-DD`, midnight UTC) or a UTC instant into Unix seconds: RFC 3339
/// in UTC, `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, where `T` and `Z` may be lowercase, `Z` may be
/// written `+00:00`, the seconds may be left out, and a fraction is dropped (instants are whole
/// seconds, rounded down).
///
/// Returns `None` for text of another shape, a date that does not exist, an offset other than
/// UTC's, and a leap second (`:60`), which Unix time cannot name.
///
/// ```
/// assert_eq!(entitle::parse_instant("1970-01-02"), Some(86_400));
/// assert_eq!(entitle::parse_instant("2024-02-29T12:00:00Z"), Some(1_709_208_000));
/// // What RFC 3339 allows for UTC: a fraction (dropped: instants are whole seconds), a
/// // lowercase `t` or `z`, and the offset `+00:00`.
/// assert_eq!(entitle::parse_instant("2024-02-29T12:00:00.999Z"), Some(1_709_208_000));
/// assert_eq!(entitle::parse_instant("2024-02-29t12:00:00+00:00"), Some(1_709_208_000));
/// // Refused: impossible dates, other offsets, and leap seconds.
/// assert_eq!(entitle::parse_instant("2026-02-29"), None);
/// assert_eq!(entitle::parse_instant("2024-02-29T12:00:00+01:00"), None);
/// assert_eq!(entitle::parse_instant("2016-12-31T23:59:60Z"), None);
/// ```
pub fn parse_instant(text: &str) -> Option<i64> {
    let (date, time) = match text.split_once(['T', 't']) {
        Some((date, time)) => {
            let time = time.strip_suffix(['Z', 'z']).or_else(|| time.strip_suffix("+00:00"))?;
            (date, Some(time))
        }
        None => (text, None),
    };
    let mut fields = date.splitn(3, '-');
    let year = digits(fields.next()?, 4)?;
    let month = u32::try_from(digits(fields.next()?, 2)?).ok()?;
    let day = u32::try_from(digits(fields.next()?, 2)?).ok()?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut seconds = days_from_civil(year, month, day) * SECONDS_PER_DAY;
    if let Some(time) = time {
        let mut fields = time.split(':');
        let hour = digits(fields.next()?, 2)?;
        let minute = digits(fields.next()?, 2)?;
        let second = match fields.next() {
            // A fraction needs whole seconds before it and at least one digit after the dot.
            Some(s) => match s.split_once('.') {
                Some((whole, fraction)) if !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit()) => {
                    digits(whole, 2)?
                }
                Some(_) => return None,
                None => digits(s, 2)?,
            },
            None => 0,
        };
        if fields.next().is_some() || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        seconds += hour * 3600 + minute * 60 + second;
    }
    Some(seconds)
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
///
/// ```
/// assert_eq!(entitle::format_instant(1_709_208_000), "2024-02-29T12:00:00Z");
/// ```
pub fn format_instant(seconds: i64) -> String {
    let days = seconds.div_euclid(SECONDS_PER_DAY);
    let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

fn digits(text: &str, len: usize) -> Option<i64> {
    if text.len() != len || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The branch-free functions agree with the era-based ones on every day of years 1–9999.
    #[test]
    fn fast_calendar_agrees_with_the_era_algorithm_on_every_day() {
        let first = days_from_civil(1, 1, 1);
        let last = days_from_civil(9999, 12, 31);
        for day in first..=last {
            let (year, month, date) = civil_from_days(day);
            let fast_day = i32::try_from(day).expect("fits");
            assert_eq!(date_of_day(fast_day), (i32::try_from(year).expect("fits"), month, date), "day {day}");
            if date == 1 {
                let leap = is_leap(i32::try_from(year).expect("fits"));
                assert_eq!(leap, is_leap_year(year), "year {year}");
                assert_eq!(month_length(leap, month), days_in_month(year, month));
            }
        }
    }

    #[test]
    fn civil_round_trips_across_eras_and_leap_days() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn leap_years_follow_the_gregorian_rule() {
        assert!(is_leap_year(2024) && is_leap_year(2000));
        assert!(!is_leap_year(2100) && !is_leap_year(2026));
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
    }

    #[test]
    fn rejects_malformed_instants() {
        for bad in ["2026-13-01", "2026-04-31", "2026-1-01", "2026-01-01T24:00Z", "2026-01-01T10:00", "x"] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
        assert_eq!(parse_instant("2026-11-01T10:30Z"), Some(parse_instant("2026-11-01").unwrap() + 37_800));
    }
}
