//! Rolling windows on Redis: a counter of `rolling 7 days` is kept as the buckets the
//! in-process meter keeps (`meter/rolling.rs`), each bucket its own key under the subject's
//! hash tag, so that a call records on one key (its instant's bucket) and reads the others.
//!
//! Each bucket expires once nothing in it counts (its end, plus the window's length, plus the
//! grace period every counter keeps), so a rolling counter takes at most 65 small keys per
//! subject and limit beside those whose grace has not run out (`⌈60 / width⌉` more at most),
//! and none once it is idle for a window and a minute. A call that the meter gives up on
//! is settled as any other: its session's `undo` names what it did to each bucket.

use entitle::Quota;

use super::keys::Keys;
use super::{RedisMeter, GRACE_SECONDS};
use crate::meter::rolling::{counted, width_of};
use crate::meter::{span_of, Span};

/// The keys of one call on a rolling counter: the bucket of the request's instant as the
/// counter, the other buckets that count, the counter's expiry and its bucket's start.
pub(super) struct Buckets {
    pub(super) keys: Keys,
    pub(super) others: Vec<String>,
    pub(super) expire_at: i64,
    pub(super) start: i64,
}

impl Buckets {
    /// Every bucket that counts, newest first: the order a refund takes back in. The counter
    /// is the newest (the range that counts ends at the request's own bucket), and the others
    /// come oldest first.
    pub(super) fn newest_first(&self) -> Vec<&str> {
        std::iter::once(self.keys.counter.as_str()).chain(self.others.iter().rev().map(String::as_str)).collect()
    }
}

impl RedisMeter {
    /// The buckets of `subject`'s `limit` that the answer `fresh` counts, when its limit is
    /// rolling; `None` for any other answer.
    pub(super) fn buckets(&self, subject: &str, limit: &str, fresh: &Quota) -> Option<Buckets> {
        let Some(Span::Rolling { now, length }) = span_of(fresh) else { return None };
        let width = width_of(length);
        let index = now.div_euclid(width);
        let keys = Keys::rolling(&self.config.prefix, subject, limit, length, index);
        // The range that counts ends at the request's own bucket, the counter: the others are
        // the ones before it.
        let others = (*counted(length, width, now).start()..index).map(|k| keys.bucket(length, k)).collect();
        let end = index.saturating_add(1).saturating_mul(width);
        Some(Buckets {
            others,
            expire_at: end.saturating_add(length).saturating_add(GRACE_SECONDS),
            start: index.saturating_mul(width),
            keys,
        })
    }
}
