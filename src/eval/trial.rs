//! Trials: an add-on valid for a length of time from the instant the subject acquired it.

use crate::held::NOT_ACQUIRED;
use crate::model::TrialLength;
use crate::tables::AddonMeta;
use crate::time::{civil_from_days, days_from_civil, days_in_month, SECONDS_PER_DAY};

/// The first instant trials are counted from: 0001-01-01T00:00:00Z.
const FIRST_INSTANT: i64 = -62_135_596_800;
/// The last instant trials are counted from: 9999-12-31T23:59:59Z.
const LAST_INSTANT: i64 = 253_402_300_799;

/// Whether a trial acquired at `acquired` covers `now`: `acquired <= now < end`, or up to
/// every instant when the end is past `i64::MAX`. A trial with no acquisition instant covers
/// nothing (requests that hold one are refused before this is asked).
// Out of line and cold: most add-ons are not trials.
#[cold]
#[inline(never)]
pub(crate) fn covers(meta: &AddonMeta, acquired: i64, now: i64) -> bool {
    if acquired == NOT_ACQUIRED || now < acquired {
        return false;
    }
    match meta.trial().and_then(|length| end(acquired, length)) {
        Some(end) => now < end || end == i64::MAX,
        None => false,
    }
}

/// The first instant after a trial of `length` acquired at `acquired`; `None` when a trial of
/// months is acquired outside years 1–9999, where it does not apply.
///
/// A trial of months ends on the same day of the month and time of day that many months
/// later, or on that month's last day when it is shorter: one month from 2026-01-31T12:00:00Z
/// ends 2026-02-28T12:00:00Z.
pub(crate) fn end(acquired: i64, length: TrialLength) -> Option<i64> {
    match length {
        TrialLength::Seconds(seconds) => Some(acquired.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX))),
        TrialLength::Months(months) => {
            if !(FIRST_INSTANT..=LAST_INSTANT).contains(&acquired) {
                return None;
            }
            let (days, second) = (acquired.div_euclid(SECONDS_PER_DAY), acquired.rem_euclid(SECONDS_PER_DAY));
            let (year, month, day) = civil_from_days(days);
            let k = i64::from(month - 1) + i64::from(months);
            let (year, month) = (year + k.div_euclid(12), u32::try_from(k.rem_euclid(12)).unwrap_or(0) + 1);
            let day = day.min(days_in_month(year, month));
            Some(days_from_civil(year, month, day) * SECONDS_PER_DAY + second)
        }
    }
}
