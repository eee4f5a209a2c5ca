//! The arithmetic of a limit answer, on the records' `u64` amounts: the limit in force after
//! seats and add-ons, its ceiling and warn threshold, and the status of the usage against them.

use crate::engine::{Quota, Reason, Status, Usage};
use crate::tables::{add, amount, scale, warn_at, LimitRecord, SOFT, UNLIMITED};

/// What the applying add-ons make of a tier's record, before the soft cap and the status.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InForce {
    /// The tier's value, multiplied by the seats if it is per seat.
    pub base: u64,
    /// The largest of `base` and every applying `=` amount.
    pub raised: u64,
    /// The sum of every applying `+=` amount, each times its quantity.
    pub added: u64,
    /// Whether an applying add-on has an item for the limit.
    pub changed: bool,
    /// Whether a per-seat amount is in force (the tier's or an applying add-on's).
    pub per_seat: bool,
}

impl InForce {
    /// The limit in force: `max(base, every "=") + every "+="`, saturating; unlimited if any
    /// operand is.
    #[inline(always)]
    pub(crate) const fn value(&self) -> u64 {
        add(self.raised, self.added)
    }
}

/// What an answer keeps to compute its counter's window when asked ([`Quota::window`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lazy {
    pub counter: u32,
    pub anchor: u8,
    pub at: i64,
}

impl Lazy {
    /// `quota`, keeping this window.
    #[inline(always)]
    pub(crate) const fn on(self, quota: Quota) -> Quota {
        Quota { counter: self.counter, anchor: self.anchor, at: self.at, ..quota }
    }
}

/// The answer once the held add-ons' sums `force` are known for a tier's `record` (`set`
/// when the tier sets the limit), asked with `seats`: not set when neither the tier nor an
/// applying add-on sets it; refused when a per-seat amount is in force and no seat count is
/// given (checked after the sums, which a missing count made with 0 seats: the sums cost less
/// than a second pass to find whether any per-seat amount is in force); the record's own
/// answer when the held add-ons leave the limit alone; otherwise [`settle`]'s.
#[inline(always)]
pub(crate) fn conclude(
    record: &LimitRecord,
    set: bool,
    force: &InForce,
    seats: Option<u64>,
    usage: Usage,
    window: Lazy,
) -> Quota {
    if !set && !force.changed {
        return window.on(Quota::denied(Reason::LimitNotSet));
    }
    if force.per_seat && seats.is_none() {
        return window.on(Quota::denied(Reason::SeatsNotGiven));
    }
    if !force.per_seat && !force.changed {
        let soft = record.flags & SOFT != 0;
        return answer(record.value, record.ceiling, record.warn_at, soft, usage, None, window);
    }
    settle(record, force, seats.unwrap_or(0), usage, window)
}

/// The answer for a tier's `record` once `force` is known: the soft cap moves up by as much as
/// the limit did (a finite cap per seat is multiplied by the seats first), and the warn
/// threshold is the record's share of the new limit.
#[inline(always)]
pub(crate) fn settle(record: &LimitRecord, force: &InForce, seats: u64, usage: Usage, window: Lazy) -> Quota {
    let value = force.value();
    let soft = record.flags & SOFT != 0;
    let ceiling = if !soft || value == UNLIMITED {
        value
    } else if record.ceiling == UNLIMITED {
        UNLIMITED
    } else {
        let cap = if record.per_seat() { scale(record.ceiling, seats) } else { record.ceiling };
        // `value >= base`: seats and add-ons only raise a limit.
        add(cap, value - force.base)
    };
    let ceiling = if soft && value == UNLIMITED { UNLIMITED } else { ceiling };
    // The record's threshold holds while the limit is the record's own value.
    let warns_at = if value == record.value { record.warn_at } else { warn_at(value, record.warn) };
    let seats = force.per_seat.then_some(seats);
    answer(value, ceiling, warns_at, soft, usage, seats, window)
}

/// The answer for a limit of `value` (after seats and add-ons), usage allowed up to `ceiling`,
/// warning from `warn_at`: the status is computed on `used + requested` (saturating), and
/// `remaining` is `limit − used`.
#[inline(always)]
pub(crate) fn answer(
    value: u64,
    ceiling: u64,
    warn_at: u64,
    soft: bool,
    usage: Usage,
    seats: Option<u64>,
    window: Lazy,
) -> Quota {
    let total = usage.used.saturating_add(usage.requested);
    let status = if value == UNLIMITED {
        Status::Within
    } else if total > ceiling {
        Status::Exceeded
    } else if total > value {
        Status::Overage
    } else if total >= warn_at {
        Status::Warning
    } else {
        Status::Within
    };
    let remaining = if value == UNLIMITED { UNLIMITED } else { value.saturating_sub(usage.used) };
    let (allowed, reason) = match status {
        Status::Within | Status::Warning => (true, Reason::WithinLimit),
        Status::Overage => (true, Reason::Overage),
        Status::Exceeded => (false, Reason::LimitExceeded),
    };
    Quota {
        allowed,
        reason,
        status,
        limit: amount(value),
        soft_cap: if soft { Some(amount(ceiling)) } else { None },
        remaining: amount(remaining),
        seats,
        counter: window.counter,
        anchor: window.anchor,
        at: window.at,
    }
}
