//! A subject's override records applied to the plan's answers: the last step of every
//! question on a request that carries them ([`crate::Request::with_overrides`]).
//!
//! The plan's answer is computed first, exactly as without overrides (tier, seats, add-ons),
//! and a record that applies at the request's instant then decides: a feature record grants
//! or revokes outright; a limit record changes the limit in force by its operator, and the
//! answer's status is worked out again on the new limit. A request the plan refuses (an
//! unknown id, a duplicate add-on, a missing seat count) stays refused: an override changes a
//! subject's terms, never what a well-formed request is.
//!
//! Everything here is out of line: a request without overrides never enters this module, and
//! its questions keep the frame they have without it.

use crate::engine::{Decision, Engine, Quota, Reason, Usage, OVERRIDDEN};
use crate::model::SettingValue;
use crate::overrides::Subject;
use crate::tables::{add, raw, scale, warn_at, UNLIMITED};

use super::limit_math::{answer, Lazy};

impl Engine {
    /// The decision a record of `subject` makes for feature `f` (a known feature) at `now`, if
    /// one applies; a set checked against another policy denies.
    #[inline(never)]
    pub(crate) fn overridden_feature(&self, subject: Subject<'_>, f: usize, now: i64) -> Option<Decision> {
        if subject.set.policy != self.policy_hash() {
            return Some(Decision::deny(Reason::OverridesNotForEngine));
        }
        let (_, grant) = subject.feature(f, now)?;
        Some(if grant { Decision::allow(Reason::GrantedByOverride) } else { Decision::deny(Reason::RevokedByOverride) })
    }

    /// The answer for limit `l` of tier `tier` once the record of `subject` that applies at
    /// `now` (if any) changes the plan's answer `plan`.
    ///
    /// The record's operator takes the plan's limit in force (0 when the plan does not set
    /// the limit) to the new limit; a per-seat value is multiplied by the seats first. A soft
    /// cap keeps its headroom over the limit (an unlimited one stays unlimited), the warn
    /// threshold is the tier's share of the new limit, and a limit the plan did not set
    /// becomes a hard limit with no warning.
    #[inline(never)]
    pub(crate) fn overridden_limit(
        &self,
        subject: Subject<'_>,
        tier: usize,
        l: usize,
        seats: Option<u64>,
        usage: Usage,
        plan: Quota,
    ) -> Quota {
        let window = Lazy { counter: plan.counter, anchor: plan.anchor, at: plan.at };
        if subject.set.policy != self.policy_hash() {
            return window.on(Quota::denied(Reason::OverridesNotForEngine));
        }
        let Some((_, op, value, per_seat)) = subject.limit(l, plan.at) else { return plan };
        let not_set = plan.reason == Reason::LimitNotSet;
        if !plan.allowed && !not_set && plan.reason != Reason::LimitExceeded {
            return plan;
        }
        let (value, seats) = if per_seat {
            let Some(n) = seats else { return window.on(Quota::denied(Reason::SeatsNotGiven)) };
            (scale(value, n), Some(n))
        } else {
            (value, plan.seats)
        };
        let (planned, cap) = if not_set { (0, None) } else { (raw(plan.limit), plan.soft_cap.map(raw)) };
        let limit = op.apply(planned, value);
        let ceiling = match cap {
            None => limit,
            Some(cap) if cap == UNLIMITED || limit == UNLIMITED => UNLIMITED,
            Some(cap) => add(limit, cap.saturating_sub(planned)),
        };
        let (_, record) = self.tables().limit_record(tier, l);
        let warns_at = if not_set { limit.saturating_add(1) } else { warn_at(limit, record.warn) };
        let mut quota = answer(limit, ceiling, warns_at, cap.is_some(), usage, seats, window);
        quota.counter |= OVERRIDDEN;
        quota
    }

    /// The value a record of `subject` gives setting `s` at `now`, if one applies; a set
    /// checked against another policy is refused.
    #[inline(never)]
    pub(crate) fn overridden_setting<'s>(
        &self,
        subject: Subject<'s>,
        s: usize,
        now: i64,
    ) -> Result<Option<&'s SettingValue>, Reason> {
        if subject.set.policy != self.policy_hash() {
            return Err(Reason::OverridesNotForEngine);
        }
        Ok(subject.setting(s, now).map(|(_, value)| value))
    }
}
