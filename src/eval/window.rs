//! The current window of a counter, aligned in UTC as `docs/language.md` documents.

use crate::engine::WindowSpan;
use crate::model::{Period, Window};
use crate::time::{
    civil_from_days, date_of_day, days_from_civil, days_in_month, is_leap, month_length, SECONDS_PER_DAY,
};

/// The first instant windows are computed for: 0001-01-01T00:00:00Z.
pub(crate) const FIRST_INSTANT: i64 = -62_135_596_800;
/// The last instant windows are computed for: 9999-12-31T23:59:59Z.
pub(crate) const LAST_INSTANT: i64 = 253_402_300_799;

/// The window of `period` that contains `now`, for a subject whose monthly windows start on
/// `anchor` (1–31, clamped to each month's length). Windows of N units are aligned as
/// [`Period`] documents: to the epoch for fixed lengths, to Mondays from 1969-12-29 for weeks,
/// and to months a multiple of N after January 1970 for months.
///
/// `now` is first clamped to years 1–9999: a caller may pass any `i64`, and calendar arithmetic
/// near `i64`'s ends would overflow.
#[inline]
pub(crate) fn current(period: Period, now: i64, anchor: u8) -> WindowSpan {
    let now = now.clamp(FIRST_INSTANT, LAST_INSTANT);
    let every = i64::from(period.every.max(1));
    let fixed = |length: i64| {
        let length = length * every;
        let start = now - now.rem_euclid(length);
        WindowSpan { start, end: start.saturating_add(length) }
    };
    match period.unit {
        Window::Second => fixed(1),
        Window::Minute => fixed(60),
        Window::Hour => fixed(3_600),
        Window::Day => fixed(SECONDS_PER_DAY),
        Window::Week => {
            // 1970-01-01 was a Thursday: day 0 is 3 days after the Monday 1969-12-29, from
            // which weeks are counted.
            let week = (now.div_euclid(SECONDS_PER_DAY) + 3).div_euclid(7);
            let first = week - week.rem_euclid(every);
            let start = (first * 7 - 3) * SECONDS_PER_DAY;
            WindowSpan { start, end: start + every * 7 * SECONDS_PER_DAY }
        }
        Window::Month if every == 1 => month(now, anchor),
        Window::Month => months(month(now, anchor), every, anchor),
    }
}

/// The rolling window of `period` that ends at `now`: `[now − length, now)`, the span whose
/// usage a caller supplies for a `rolling` limit. `now` is clamped to years 1–9999 as for
/// [`current`]. A month has no fixed length, so a rolling window of months (which the checker
/// and the bundle reader refuse) is answered as one of 31 days, never as a panic.
#[inline]
pub(crate) fn trailing(period: Period, now: i64) -> WindowSpan {
    let now = now.clamp(FIRST_INSTANT, LAST_INSTANT);
    let length = period.seconds().unwrap_or(31 * SECONDS_PER_DAY * i64::from(period.every));
    WindowSpan { start: now - length, end: now }
}

/// The window of `every` months that holds the one-month window `one`: it starts on the
/// anchor day of the month a multiple of `every` months after January 1970 at or before
/// `one`'s, and ends `every` months later.
#[cold]
fn months(one: WindowSpan, every: i64, anchor: u8) -> WindowSpan {
    let (year, month, _) = civil_from_days(one.start.div_euclid(SECONDS_PER_DAY));
    let index = (year - 1970) * 12 + i64::from(month) - 1;
    let first = index - index.rem_euclid(every);
    let on_anchor = |index: i64| {
        let (year, month) = (1970 + index.div_euclid(12), index.rem_euclid(12) + 1);
        #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "rem_euclid(12) + 1 is 1–12")]
        let month = month as u32;
        days_from_civil(year, month, u32::from(anchor.max(1)).min(days_in_month(year, month))) * SECONDS_PER_DAY
    };
    WindowSpan { start: on_anchor(first), end: on_anchor(first + every) }
}

/// The monthly window containing `now` (clamped to years 1–9999 by the caller): it starts on
/// the billing anchor day (clamped to each month's length) of this month if today is on or past
/// it, else of the previous month, and ends on the anchor day of the month after its start.
///
/// One branch-free date conversion (`time::date_of_day`) gives today's month and day; every
/// other day number is counted from the first of this month with month lengths alone. Only
/// February's length depends on the year, and neither neighbour of a month is a February of
/// another year (December and January are 31 days long whatever the year), so this year's
/// leapness serves all three months.
#[expect(clippy::cast_possible_truncation, reason = "a day number of years 1–9999 fits i32")]
// Out of line: inlined, it made `current` too large to inline into `check_limit`, and every
// other window kind paid for a call (about 10 instructions a query, measured).
#[inline(never)]
fn month(now: i64, anchor: u8) -> WindowSpan {
    let today = now.div_euclid(SECONDS_PER_DAY) as i32;
    let (year, month, day) = date_of_day(today);
    let leap = is_leap(year);
    let anchor = i64::from(anchor.max(1));
    let length = |month: u32| i64::from(month_length(leap, month));
    let (previous, next) = (if month == 1 { 12 } else { month - 1 }, if month == 12 { 1 } else { month + 1 });
    // Day numbers, each the first of a month plus the anchor day clamped to that month.
    let first = i64::from(today) - i64::from(day) + 1;
    let this_anchor = first + anchor.min(length(month)) - 1;
    let (start, end) = if i64::from(today) >= this_anchor {
        (this_anchor, first + length(month) + anchor.min(length(next)) - 1)
    } else {
        (first - length(previous) + anchor.min(length(previous)) - 1, this_anchor)
    };
    WindowSpan { start: start * SECONDS_PER_DAY, end: end * SECONDS_PER_DAY }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{format_instant, parse_instant};

    #[test]
    fn extreme_instants_never_overflow() {
        for now in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX] {
            for unit in Window::ALL {
                for every in [1, 7, Period::MAX_EVERY] {
                    for anchor in [1, 29, 31] {
                        let w = current(Period { every, unit }, now, anchor);
                        assert!(w.start < w.end, "{unit:?} × {every} at {now}");
                    }
                }
            }
        }
    }

    /// (window, now, billing anchor, expected start, expected end)
    const CASES: &[(Window, &str, u8, &str, &str)] = &[
        // Fixed windows align to the clock, across midnight, the new year and the epoch.
        (Window::Hour, "2026-11-21T10:17:05Z", 1, "2026-11-21T10:00:00Z", "2026-11-21T11:00:00Z"),
        (Window::Day, "2026-12-31T23:59:59Z", 1, "2026-12-31T00:00:00Z", "2027-01-01T00:00:00Z"),
        (Window::Minute, "1969-12-31T23:59:30Z", 1, "1969-12-31T23:59:00Z", "1970-01-01T00:00:00Z"),
        // Weeks start on Monday: 2026-11-21 is a Saturday, 2026-11-16 the Monday before.
        (Window::Week, "2026-11-21T10:00:00Z", 1, "2026-11-16T00:00:00Z", "2026-11-23T00:00:00Z"),
        (Window::Week, "2026-11-16T00:00:00Z", 1, "2026-11-16T00:00:00Z", "2026-11-23T00:00:00Z"),
        // Months follow the anchor, clamped to each month's end, leap years included.
        (Window::Month, "2026-03-15T00:00:00Z", 30, "2026-02-28T00:00:00Z", "2026-03-30T00:00:00Z"),
        (Window::Month, "2024-03-15T00:00:00Z", 31, "2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z"),
        (Window::Month, "2026-01-31T00:00:00Z", 31, "2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z"),
        (Window::Month, "2026-12-20T00:00:00Z", 15, "2026-12-15T00:00:00Z", "2027-01-15T00:00:00Z"),
        (Window::Month, "2026-01-10T00:00:00Z", 15, "2025-12-15T00:00:00Z", "2026-01-15T00:00:00Z"),
    ];

    /// Every day of 2023–2025 (a leap year inside) with every anchor: the month window holds
    /// the instant, starts on the anchor day clamped to its month, and ends one month later.
    #[test]
    fn month_windows_start_on_the_clamped_anchor_and_last_one_month() {
        use crate::time::{civil_from_days, days_in_month};
        let first = parse_instant("2023-01-01").expect("date") / SECONDS_PER_DAY;
        let last = parse_instant("2025-12-31").expect("date") / SECONDS_PER_DAY;
        for day in first..=last {
            for anchor in 1..=31u8 {
                let now = day * SECONDS_PER_DAY + 43_210;
                let w = current(Period::one(Window::Month), now, anchor);
                assert!(w.start <= now && now < w.end, "day {day}, anchor {anchor}");
                let (y, m, d) = civil_from_days(w.start / SECONDS_PER_DAY);
                assert_eq!(d, u32::from(anchor).min(days_in_month(y, m)), "start of day {day}, anchor {anchor}");
                let (ey, em, ed) = civil_from_days(w.end / SECONDS_PER_DAY);
                assert_eq!((ey * 12 + i64::from(em)) - (y * 12 + i64::from(m)), 1);
                assert_eq!(ed, u32::from(anchor).min(days_in_month(ey, em)));
            }
        }
    }

    /// The month window from the calendar spelled out with the era-based functions, against
    /// the fast one, on every 3rd day of years 1–9999 (every weekday, month end and leap day
    /// pattern recurs) with the anchors that clamp differently.
    #[test]
    fn month_windows_agree_with_the_era_calendar_in_every_year() {
        use crate::time::{civil_from_days, days_from_civil, days_in_month};
        let on_anchor = |year: i64, month: u32, anchor: u8| {
            let day = days_from_civil(year, month, u32::from(anchor).min(days_in_month(year, month)));
            day * SECONDS_PER_DAY
        };
        let months_later = |year: i64, month: u32, n: i64| {
            let index = year * 12 + i64::from(month) - 1 + n;
            (index.div_euclid(12), u32::try_from(index.rem_euclid(12) + 1).expect("month"))
        };
        for day in (days_from_civil(1, 1, 1)..=days_from_civil(9999, 12, 31)).step_by(3) {
            let (year, month, date) = civil_from_days(day);
            for anchor in [1, 15, 28, 29, 30, 31] {
                let back = if date >= u32::from(anchor).min(days_in_month(year, month)) { 0 } else { -1 };
                let (start_year, start_month) = months_later(year, month, back);
                let (end_year, end_month) = months_later(year, month, back + 1);
                let expected = WindowSpan {
                    start: on_anchor(start_year, start_month, anchor),
                    end: on_anchor(end_year, end_month, anchor),
                };
                let now = day * SECONDS_PER_DAY + 1_000;
                assert_eq!(current(Period::one(Window::Month), now, anchor), expected, "day {day}, anchor {anchor}");
            }
        }
    }

    /// (units, unit, now, billing anchor, expected start, expected end): windows of several
    /// units, aligned to the epoch, to Mondays from 1969-12-29, or to months counted from
    /// January 1970 on the clamped anchor.
    const LONGER: &[(u16, Window, &str, u8, &str, &str)] = &[
        (5, Window::Hour, "2026-11-21T10:17:05Z", 1, "2026-11-21T08:00:00Z", "2026-11-21T13:00:00Z"),
        (7, Window::Day, "2026-12-31T23:59:59Z", 1, "2026-12-31T00:00:00Z", "2027-01-07T00:00:00Z"),
        (2, Window::Week, "2026-11-21T10:00:00Z", 1, "2026-11-16T00:00:00Z", "2026-11-30T00:00:00Z"),
        (90, Window::Second, "2027-01-01T00:00:00Z", 1, "2027-01-01T00:00:00Z", "2027-01-01T00:01:30Z"),
        (3, Window::Month, "2026-03-15T00:00:00Z", 31, "2026-01-31T00:00:00Z", "2026-04-30T00:00:00Z"),
        (3, Window::Month, "2026-01-30T23:59:59Z", 31, "2025-10-31T00:00:00Z", "2026-01-31T00:00:00Z"),
        (3, Window::Month, "2026-04-30T00:00:00Z", 31, "2026-04-30T00:00:00Z", "2026-07-31T00:00:00Z"),
        (12, Window::Month, "2024-02-29T05:00:00Z", 29, "2024-01-29T00:00:00Z", "2025-01-29T00:00:00Z"),
        (2, Window::Month, "2025-03-01T00:00:00Z", 30, "2025-01-30T00:00:00Z", "2025-03-30T00:00:00Z"),
    ];

    #[test]
    fn windows_of_several_units_align_as_documented() {
        for &(every, unit, now, anchor, start, end) in LONGER {
            let instant = parse_instant(now).expect("valid instant");
            let w = current(Period { every, unit }, instant, anchor);
            let got = (format_instant(w.start), format_instant(w.end));
            assert_eq!(got, (start.to_string(), end.to_string()), "{every} {unit:?} at {now}, anchor {anchor}");
        }
    }

    /// The engine's windows against the reference's, which steps through the calendar month
    /// by month: every unit, lengths from 1 to the most, instants on and around boundaries
    /// from year 1 to 9999, and every clamping anchor.
    #[test]
    fn windows_agree_with_the_reference() {
        let instants = (-40i64..40).map(|k| k * 7_919_999_993 + 17).chain([
            FIRST_INSTANT,
            LAST_INSTANT,
            0,
            -1,
            parse_instant("2024-02-29").expect("date"),
            parse_instant("2027-01-01").expect("date") - 1,
        ]);
        for now in instants {
            for unit in Window::ALL {
                for every in [1, 2, 3, 5, 7, 12, 90, 1_000, Period::MAX_EVERY] {
                    for anchor in [1, 15, 28, 29, 30, 31] {
                        let period = Period { every, unit };
                        let w = current(period, now, anchor);
                        let want = crate::reference::window(period, now, anchor);
                        assert_eq!((w.start, w.end), want, "{every} {unit:?} at {now}, anchor {anchor}");
                    }
                }
            }
        }
    }

    #[test]
    fn windows_contain_now_and_align_to_the_calendar() {
        for &(window, now, anchor, start, end) in CASES {
            let instant = parse_instant(now).expect("valid instant");
            let w = current(Period::one(window), instant, anchor);
            assert!(w.start <= instant && instant < w.end, "{window:?} at {now} does not contain it");
            let got = (format_instant(w.start), format_instant(w.end));
            assert_eq!(got, (start.to_string(), end.to_string()), "{window:?} at {now}, anchor {anchor}");
        }
    }
}
