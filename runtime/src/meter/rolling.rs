//! Rolling windows in the meter: a counter of `rolling 7 days` keeps its usage in buckets, so
//! that usage ages out of the window without the meter keeping every request.
//!
//! A window of `length` seconds is cut into [`BUCKETS`] buckets of `width = ⌈length / 64⌉`
//! seconds, aligned to the epoch: bucket `k` holds what was recorded in `[k·width, (k+1)·width)`.
//! At `now`, the counter's usage is the sum of every bucket that overlaps
//! `[now − length, now]`. That counts everything recorded within the window, and may count
//! what was recorded up to one bucket's width before it: the meter's window is at least
//! `length` and less than `length + width` long, so it only ever denies early, never late
//! (`docs/runtime.md` states the bound). 64 buckets hold at most 65 live ones; they are kept
//! in a ring of two windows' buckets, 129 slots (1,064 bytes with the ring's bookkeeping), so
//! that a request stamped up to a window behind the newest is answered from every bucket
//! that counts at its instant, as on Redis while the buckets' keys live there. The ring is
//! boxed beside the counter only for rolling limits.

use entitle::WindowSpan;

/// How many buckets a window is cut into.
pub(crate) const BUCKETS: i64 = 64;
/// How far back from the newest bucket the ring reaches: a window of 64 buckets overlaps at
/// most 65 of them, and one that ends a window before the newest bucket reaches 64 buckets
/// further back.
const REACH: i64 = 2 * BUCKETS;
/// The ring's size: the newest bucket and the `REACH` before it, 129.
#[expect(clippy::cast_possible_truncation, reason = "a constant of 129")]
const SLOTS: usize = REACH as usize + 1;

/// The width of one bucket of a window of `length` seconds (at least 1): `⌈length / 64⌉`.
pub(crate) const fn width_of(length: i64) -> i64 {
    if length <= 1 {
        1
    } else {
        (length - 1) / BUCKETS + 1
    }
}

/// The first instant buckets are kept for, 0001-01-01T00:00:00Z, and the last,
/// 9999-12-31T23:59:59Z: the engine answers every instant outside them as the nearest of
/// them, and so do the buckets, whose arithmetic then never overflows.
const FIRST_INSTANT: i64 = -62_135_596_800;
const LAST_INSTANT: i64 = 253_402_300_799;
/// The longest window, in seconds: 10_000 weeks, the most a window may last.
const MAX_LENGTH: i64 = 10_000 * 604_800;

/// `now` as the buckets keep it: within years 1 to 9999.
pub(crate) const fn instant(now: i64) -> i64 {
    if now < FIRST_INSTANT {
        FIRST_INSTANT
    } else if now > LAST_INSTANT {
        LAST_INSTANT
    } else {
        now
    }
}

/// `length` as the buckets keep it: from 1 second to the longest window.
const fn clamped_length(length: i64) -> i64 {
    if length < 1 {
        1
    } else if length > MAX_LENGTH {
        MAX_LENGTH
    } else {
        length
    }
}

/// The buckets that count at `now` for a window of `length` seconds cut into buckets of
/// `width`: from the one that holds `now − length` to `now`'s own, at most 65. Both meters read
/// this range, so a request is answered at its own instant, whatever another process whose
/// clock is ahead recorded after it.
pub(crate) fn counted(length: i64, width: i64, now: i64) -> std::ops::RangeInclusive<i64> {
    let now = instant(now);
    now.saturating_sub(length).div_euclid(width)..=now.div_euclid(width)
}

/// A rolling counter's buckets: usage per bucket, the newest bucket `newest` (written to or
/// cleared up to it) and the instant the counter was last brought up to, `at`, at which
/// [`Buckets::total`] is what counts.
///
/// Invariant: slot `k mod 129` holds bucket `k`'s usage for every `k` in
/// `newest − 128 ..= newest`; every slot of a later bucket was cleared when `newest` moved
/// past it. So a bucket older than that range is never read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Buckets {
    length: i64,
    width: i64,
    newest: i64,
    at: i64,
    slots: [u64; SLOTS],
}

impl Buckets {
    /// Buckets for a window of `length` seconds, brought up to `now`, holding `used` recorded
    /// at `now`.
    pub(crate) fn holding(length: i64, now: i64, used: u64) -> Buckets {
        let mut buckets = Buckets::new(length, now);
        buckets.record(now, used);
        buckets
    }

    /// Empty buckets for a window of `length` seconds, brought up to `now`.
    pub(crate) fn new(length: i64, now: i64) -> Buckets {
        let (length, now) = (clamped_length(length), instant(now));
        let width = width_of(length);
        Buckets { length, width, newest: now.div_euclid(width), at: now, slots: [0; SLOTS] }
    }

    /// The window's length in seconds.
    pub(crate) fn length(&self) -> i64 {
        self.length
    }

    /// The slot of bucket `k`.
    #[expect(clippy::cast_possible_truncation, reason = "rem_euclid(SLOTS) is below SLOTS, 129")]
    fn slot(k: i64) -> usize {
        k.rem_euclid(REACH + 1) as usize
    }

    /// The buckets that count at `at` and that the ring holds, oldest first (`at`'s own
    /// bucket is never past the newest).
    fn live(&self) -> std::ops::RangeInclusive<i64> {
        let range = counted(self.length, self.width, self.at);
        (*range.start()).max(self.newest - REACH)..=*range.end()
    }

    /// The bucket that holds `now − length`: the oldest that counts at `now`.
    fn oldest(&self, now: i64) -> i64 {
        now.saturating_sub(self.length).div_euclid(self.width)
    }

    /// Brings the buckets up to `now`: a later bucket clears the slots it reuses. A `now`
    /// behind the newest bucket (a request whose clock is behind) clears nothing, and is
    /// answered from the buckets that count at it.
    ///
    /// Returns whether what counts may have changed: `false` when `now` counts the same
    /// buckets as the last instant did, which is most calls (a bucket lasts 1/64 of the
    /// window), so that the caller need not sum them again.
    pub(crate) fn advance(&mut self, now: i64) -> bool {
        let now = instant(now);
        let index = now.div_euclid(self.width);
        // The same bucket as the last instant's, and the same oldest: the same range counts.
        let same = index == self.at.div_euclid(self.width) && self.oldest(now) == self.oldest(self.at);
        self.at = now;
        if same {
            return false;
        }
        if index > self.newest {
            let cleared = (index - self.newest).min(REACH + 1);
            for k in index - cleared + 1..=index {
                if let Some(slot) = self.slots.get_mut(Self::slot(k)) {
                    *slot = 0;
                }
            }
            self.newest = index;
        }
        true
    }

    /// The usage that counts at the instant the buckets were last brought up to.
    pub(crate) fn total(&self) -> u64 {
        self.live().filter_map(|k| self.slots.get(Self::slot(k))).fold(0u64, |sum, &used| sum.saturating_add(used))
    }

    /// Records `amount` at `now`, in `now`'s bucket; returns what was kept, and whether the
    /// buckets had to be brought up to `now` first. A bucket older
    /// than the ring holds (a clock behind the newest usage by more than a window) has aged
    /// out for every instant from the newest bucket on, so nothing is kept of it (0 is
    /// returned, and the counter's usage stays the buckets' sum): the Redis meter's key for it
    /// expires as soon.
    ///
    /// The buckets are brought up to `now` first unless they already are (the meter records
    /// right after bringing a counter up to the request).
    pub(crate) fn record(&mut self, now: i64, amount: u64) -> (u64, bool) {
        let now = instant(now);
        let moved = now != self.at;
        if moved {
            self.advance(now);
        }
        let index = now.div_euclid(self.width);
        let kept = match self.slots.get_mut(Self::slot(index)).filter(|_| index >= self.newest - REACH) {
            Some(slot) => {
                let kept = amount.min(u64::MAX - *slot);
                *slot += kept;
                kept
            }
            None => 0,
        };
        (kept, moved)
    }

    /// Takes back up to `amount` of the usage that counts, newest bucket first (a refund
    /// gives back what was recorded last); returns what was taken back.
    pub(crate) fn take_back(&mut self, amount: u64) -> u64 {
        let mut left = amount;
        for k in self.live().rev() {
            if left == 0 {
                break;
            }
            if let Some(slot) = self.slots.get_mut(Self::slot(k)) {
                let back = left.min(*slot);
                *slot -= back;
                left -= back;
            }
        }
        amount - left
    }

    /// The span a counter of these buckets keeps: from the oldest bucket the ring holds to
    /// the first instant at which nothing recorded counts any more (the end of the newest
    /// bucket that holds usage, plus the window's length), which is when a sweep may drop the
    /// counter; just past the start when no bucket holds any.
    pub(crate) fn span(&self) -> WindowSpan {
        let start = (self.newest - REACH).saturating_mul(self.width);
        // The newest bucket is the one recorded on last, as a rule: the scan stops at once.
        let used = (self.newest - REACH..=self.newest)
            .rev()
            .find(|&k| self.slots.get(Self::slot(k)).is_some_and(|&used| used > 0));
        let end =
            used.map_or(start.saturating_add(1), |k| (k + 1).saturating_mul(self.width).saturating_add(self.length));
        WindowSpan::new(start, end.max(start.saturating_add(1)))
    }

    /// The buckets as a snapshot line keeps them: the instant they were last brought up to,
    /// the index of the ring's oldest bucket, and the usage of each of its 129 buckets from it.
    pub(crate) fn saved(&self) -> (i64, i64, Vec<u64>) {
        let first = self.newest - REACH;
        let used = (first..=self.newest).filter_map(|k| self.slots.get(Self::slot(k)).copied()).collect();
        (self.at, first, used)
    }

    /// The buckets a snapshot line keeps, for a window of `length` seconds: `None` unless
    /// they are a whole ring of a length a window may have, brought up to an instant of years
    /// 1 to 9999, whose newest bucket holds that instant or one after it in that range.
    pub(crate) fn restored(length: i64, at: i64, first: i64, used: &[u64]) -> Option<Buckets> {
        if !(1..=MAX_LENGTH).contains(&length) || !(FIRST_INSTANT..=LAST_INSTANT).contains(&at) || used.len() != SLOTS {
            return None;
        }
        let mut buckets = Buckets::new(length, at);
        let newest = first.checked_add(REACH)?;
        let (least, most) = (at.div_euclid(buckets.width), LAST_INSTANT.div_euclid(buckets.width));
        if !(least..=most).contains(&newest) {
            return None;
        }
        buckets.newest = newest;
        for (k, &amount) in (first..).zip(used) {
            *buckets.slots.get_mut(Self::slot(k))? = amount;
        }
        Some(buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    /// What the buckets count at `now`, after recording `events` (instant, amount) in order.
    fn counted(length: i64, events: &[(i64, u64)], now: i64) -> u64 {
        let mut buckets = Buckets::new(length, events.first().map_or(now, |e| e.0));
        for &(at, amount) in events {
            buckets.record(at, amount);
        }
        buckets.advance(now);
        buckets.total()
    }

    #[test]
    fn usage_counts_for_the_window_and_at_most_one_bucket_more() {
        // 7 days in buckets of 9_450 seconds (2 h 37 min 30 s).
        let length = 7 * DAY;
        let width = width_of(length);
        assert_eq!(width, 9_450);
        let t = 1_000 * width; // a bucket's first instant
                               // Recorded at the first instant of a bucket: counted until `length` after the end of
                               // that bucket, exclusive — the window's length, plus at most one width.
        assert_eq!(counted(length, &[(t, 5)], t + length - 1), 5);
        assert_eq!(counted(length, &[(t, 5)], t + length), 5);
        assert_eq!(counted(length, &[(t, 5)], t + length + width - 1), 5);
        assert_eq!(counted(length, &[(t, 5)], t + length + width), 0);
        // Recorded at a bucket's last instant: counted exactly `length` after it and gone at
        // the next bucket's end.
        let last = t + width - 1;
        assert_eq!(counted(length, &[(last, 3)], last + length), 3);
        assert_eq!(counted(length, &[(last, 3)], last + length + 1), 0);
    }

    /// Against every event kept with its instant: what the buckets count at `now` is at least
    /// what was recorded within `[now − length, now]`, and at most what was recorded within
    /// `(now − length − width, now]`.
    #[test]
    fn the_error_is_bounded_by_one_bucket_at_every_instant() {
        for length in [1, 30, 60, 3_600, 86_400, 7 * DAY, 65, 129] {
            let width = width_of(length);
            let mut buckets = Buckets::new(length, 0);
            let mut events: Vec<(i64, u64)> = Vec::new();
            let step = (length / 37).max(1);
            let mut now = 0;
            for i in 0..400u64 {
                now += step + i64::try_from(i % 5).unwrap();
                if i % 3 != 0 {
                    buckets.record(now, i % 7 + 1);
                    events.push((now, i % 7 + 1));
                }
                buckets.advance(now);
                let within = |from: i64| events.iter().filter(|e| e.0 >= from && e.0 <= now).map(|e| e.1).sum::<u64>();
                let (least, most) = (within(now - length), within(now - length - width + 1));
                let got = buckets.total();
                assert!(least <= got && got <= most, "length {length} at {now}: {least} ≤ {got} ≤ {most}");
            }
        }
    }

    #[test]
    fn a_long_gap_clears_every_bucket_and_a_late_clock_still_sees_later_usage() {
        let mut buckets = Buckets::new(3_600, 0);
        buckets.record(10, 4);
        buckets.record(100_000, 1);
        assert_eq!(buckets.total(), 1, "a gap longer than the ring clears it");
        // A request stamped half an hour behind is answered at its own instant: what was
        // recorded after it does not count for it, what it records counts from then on.
        buckets.record(100_000 - 1_800, 2);
        assert_eq!(buckets.total(), 2);
        // One stamped a window and a half behind is answered from its own window, which the
        // ring still holds, and kept.
        assert_eq!(buckets.record(100_000 - 5_400, 4).0, 4);
        assert_eq!(buckets.total(), 4);
        // One stamped more than two windows behind sees only its own window, where nothing
        // was recorded, and what it records has aged out for every later instant: it is not
        // kept.
        assert_eq!(buckets.record(100_000 - 10_000, 5).0, 0);
        assert_eq!(buckets.total(), 0);
        buckets.advance(100_000);
        assert_eq!(buckets.total(), 3);
    }

    #[test]
    fn the_ring_is_the_size_the_docs_give() {
        assert_eq!(std::mem::size_of::<Buckets>(), 1_064, "docs/runtime.md gives it");
    }

    #[test]
    fn refunds_take_back_the_newest_usage_first() {
        let mut buckets = Buckets::new(640, 0);
        buckets.record(0, 5);
        buckets.record(300, 7);
        assert_eq!(buckets.take_back(9), 9);
        assert_eq!(buckets.total(), 3);
        // What is left is the oldest usage, which ages out first.
        buckets.advance(650);
        assert_eq!(buckets.total(), 0);
        assert_eq!(buckets.take_back(1), 0);
    }

    #[test]
    fn saved_buckets_restore_alike_and_bad_ones_are_refused() {
        let mut buckets = Buckets::new(DAY, 0);
        for at in (0..2 * DAY).step_by(5_000) {
            buckets.record(at, 2);
        }
        let (at, first, used) = buckets.saved();
        assert_eq!(Buckets::restored(DAY, at, first, &used), Some(buckets.clone()));
        assert_eq!(Buckets::restored(DAY, at, first - 1, &used), None, "a ring behind its instant");
        assert_eq!(Buckets::restored(DAY, at, first, &[0; SLOTS + 1]), None);
        assert_eq!(Buckets::restored(DAY, at, first, &used[1..]), None);
        assert_eq!(Buckets::restored(0, at, first, &used), None);
        // Hostile lines: the longest length past the most, instants past either end, a ring
        // past year 9999.
        assert_eq!(Buckets::restored(i64::MAX, 0, -REACH, &used), None);
        assert_eq!(Buckets::restored(1, i64::MIN, i64::MIN, &used), None);
        assert_eq!(Buckets::restored(1, 0, i64::MAX - 10, &used), None);
        assert_eq!(Buckets::restored(1, 0, i64::MAX, &used), None);
    }
}
