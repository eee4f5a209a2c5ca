//! The current window of a counter, calendar-aligned in UTC (see `docs/language.md`).

use crate::engine::WindowSpan;
use crate::model::Window;
use crate::time::{civil_from_days, days_from_civil, days_in_month, SECONDS_PER_DAY};

/// The first instant windows are computed for: 0001-01-01T00:00:00Z.
pub(crate) const FIRST_INSTANT: i64 = -62_135_596_800;
/// The last instant windows are computed for: 9999-12-31T23:59:59Z.
pub(crate) const LAST_INSTANT: i64 = 253_402_300_799;

/// The window of kind `window` that contains `now`, for a subject whose monthly windows start
/// on `anchor` (1–31, clamped to each month's length).
///
/// `now` is first clamped to years 1–9999: a caller may pass any `i64`, and calendar arithmetic
/// near `i64`'s ends would overflow.
pub(crate) fn current(window: Window, now: i64, anchor: u8) -> WindowSpan {
    let now = now.clamp(FIRST_INSTANT, LAST_INSTANT);
    let fixed = |length: i64| {
        let start = now - now.rem_euclid(length);
        WindowSpan { start, end: start.saturating_add(length) }
    };
    match window {
        Window::Second => fixed(1),
        Window::Minute => fixed(60),
        Window::Hour => fixed(3_600),
        Window::Day => fixed(SECONDS_PER_DAY),
        Window::Week => {
            let day = now.div_euclid(SECONDS_PER_DAY);
            // 1970-01-01 was a Thursday: day 0 is 3 days after a Monday.
            let monday = day - (day + 3).rem_euclid(7);
            let start = monday * SECONDS_PER_DAY;
            WindowSpan { start, end: start + 7 * SECONDS_PER_DAY }
        }
        Window::Month => month(now, anchor),
    }
}

/// The instant of the billing anchor in a given month.
fn anchor_in(year: i64, month: u32, anchor: u8) -> i64 {
    let day = u32::from(anchor).clamp(1, days_in_month(year, month));
    days_from_civil(year, month, day) * SECONDS_PER_DAY
}

const fn next_month(year: i64, month: u32) -> (i64, u32) {
    if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    }
}

const fn previous_month(year: i64, month: u32) -> (i64, u32) {
    if month == 1 {
        (year - 1, 12)
    } else {
        (year, month - 1)
    }
}

fn month(now: i64, anchor: u8) -> WindowSpan {
    let (year, month, _) = civil_from_days(now.div_euclid(SECONDS_PER_DAY));
    let this = anchor_in(year, month, anchor);
    if now >= this {
        let (y, m) = next_month(year, month);
        WindowSpan { start: this, end: anchor_in(y, m, anchor) }
    } else {
        let (y, m) = previous_month(year, month);
        WindowSpan { start: anchor_in(y, m, anchor), end: this }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{format_instant, parse_instant};

    #[test]
    fn extreme_instants_never_overflow() {
        for now in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX] {
            for window in Window::ALL {
                for anchor in [1, 29, 31] {
                    let w = current(window, now, anchor);
                    assert!(w.start < w.end, "{window:?} at {now}");
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

    #[test]
    fn windows_contain_now_and_align_to_the_calendar() {
        for &(window, now, anchor, start, end) in CASES {
            let instant = parse_instant(now).expect("valid instant");
            let w = current(window, instant, anchor);
            assert!(w.start <= instant && instant < w.end, "{window:?} at {now} does not contain it");
            let got = (format_instant(w.start), format_instant(w.end));
            assert_eq!(got, (start.to_string(), end.to_string()), "{window:?} at {now}, anchor {anchor}");
        }
    }
}
