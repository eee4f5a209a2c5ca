//! Rolling windows on Redis: a counter of `rolling 7 days` is kept as the buckets the
//! in-process meter keeps (`meter/rolling.rs`), each bucket its own key under the subject's
//! hash tag, so that a call records on one key (its instant's bucket) and reads the others.
//!
//! Each bucket expires once nothing in it counts (its end, plus the window's length, plus the
//! grace period every counter keeps), so a rolling counter takes at most 65 small keys per
//! subject and limit, and none once it is idle for a window. A call that the meter gives up on
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
    /// The other buckets' keys, as a script's key list takes them.
    pub(super) fn others(&self) -> Vec<&str> {
        self.others.iter().map(String::as_str).collect()
    }

    /// Every bucket that counts, newest first: the order a refund takes back in.
    pub(super) fn newest_first(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self.others();
        all.push(self.keys.counter.as_str());
        // Buckets are named by index; the others come oldest first, with the counter's place
        // among them left out, so sorting by index gives the order.
        all.sort_by_key(|key| std::cmp::Reverse(key.rsplit(':').next().and_then(|i| i.parse::<i64>().ok())));
        all
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
        let others = counted(length, width, now).filter(|&k| k != index).map(|k| keys.bucket(length, k)).collect();
        let end = index.saturating_add(1).saturating_mul(width);
        Some(Buckets {
            others,
            expire_at: end.saturating_add(length).saturating_add(GRACE_SECONDS),
            start: index.saturating_mul(width),
            keys,
        })
    }
}
