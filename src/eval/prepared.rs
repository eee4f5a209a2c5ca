//! Prepared requests: a request checked once, for the many questions a service asks of one
//! subject at one instant.
//!
//! [`Engine::check_limit`] checks its whole request on every call (the tier, each add-on's
//! id, duplicates, quantities, trials' acquisitions, which add-ons attach to the tier and are
//! valid now) before it sums the add-ons that apply. Those checks depend on the request, not
//! on the limit asked about, so [`Engine::prepare`] does them once and keeps the answer: the
//! tier's index and which held add-ons apply. A prepared question then reads the limit's
//! record and sums only the add-ons that apply, and answers exactly as the single call does.

use crate::engine::{Engine, LimitId, Quota, Reason, Request, Usage};
use crate::held::{with_holding, Holds};
use crate::ids::Tag;

use super::{accumulate, limit_math, InForce, Lazy};
use crate::tables::{scale, LimitRecord};

/// A [`Request`] that [`Engine::prepare`] checked: ask it questions with
/// [`Engine::check_limit_prepared`]. It borrows what the request borrows, holds no
/// allocation, and answers only for engines of the policy that prepared it (others deny with
/// `unknown_tier`, as they deny a foreign id).
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct Prepared<'a> {
    request: Request<'a>,
    /// The preparing engine's tag: an engine of another policy refuses the prepared request.
    tag: Tag,
    /// The tier's index in the preparing engine.
    tier: u32,
    /// Bit `i` is set when the `i`-th held add-on applies: held in a quantity above 0,
    /// attached to the tier, valid at the request's instant. A request holds at most
    /// [`crate::Limits::MAX_HELD_ADDONS`] (32), so the bits fit.
    applying: u32,
}

impl<'a> Prepared<'a> {
    /// The request it was prepared from.
    pub const fn request(&self) -> &Request<'a> {
        &self.request
    }
}

impl Engine {
    /// Checks `request` once for the questions that follow, or says why it is refused (the
    /// reason [`Engine::check_limit`] would deny every limit with).
    ///
    /// ```
    /// use entitle::{Engine, Request, Usage};
    /// let engine = Engine::from_source("p", "policy \"p\"\nlimit calls : count per day\nlimit minutes : count per month\naddon pack for pro { limit minutes += 500 }\ntier pro { limit calls = 10\n limit minutes = 100 }\n")?;
    /// let pack = [engine.addon("pack").unwrap()];
    /// let request = Request::new(engine.tier("pro").unwrap(), 1_795_255_200).with_addons(&pack);
    /// let prepared = engine.prepare(&request)?;
    /// for name in ["calls", "minutes"] {
    ///     let (limit, usage) = (engine.limit(name).unwrap(), Usage::used(90).requesting(20));
    ///     assert_eq!(engine.check_limit_prepared(&prepared, limit, usage), engine.check_limit(&request, limit, usage));
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prepare<'a>(&self, request: &Request<'a>) -> Result<Prepared<'a>, Reason> {
        let tier = self.validate(request)?;
        let now = request.now;
        let applying = with_holding!(request.holding, |held| {
            held.iter().enumerate().fold(0u32, |bits, (at, &h)| {
                let applies = self.applies(h, self.index(h.addon()), tier, now);
                bits | u32::from(applies) << (at & 31)
            })
        });
        let tier = u32::try_from(tier).map_err(|_| Reason::UnknownTier)?;
        Ok(Prepared { request: *request, tag: self.tag(), tier, applying })
    }

    /// [`Engine::check_limit`] for a prepared request: the same answer, without checking the
    /// request again or looking at the add-ons that do not apply.
    pub fn check_limit_prepared(&self, prepared: &Prepared<'_>, limit: LimitId, usage: Usage) -> Quota {
        if let Some(answer) = self.drawn(limit, usage, |pool, usage| self.check_limit_prepared(prepared, pool, usage)) {
            return answer;
        }
        let plan = self.prepared_plan(prepared, limit, usage);
        match prepared.request.overrides {
            None => plan,
            Some(subject) => {
                let (tier, l) = (prepared.tier as usize, self.index(limit));
                // A refused answer (a foreign prepared request, an unknown limit) stays refused.
                if plan.reason == Reason::UnknownTier || plan.reason == Reason::UnknownLimit {
                    return plan;
                }
                self.overridden_limit(subject, tier, l, prepared.request.seats, usage, plan)
            }
        }
    }

    /// [`Engine::check_limit_prepared`]'s answer from the plan alone.
    #[inline(always)]
    fn prepared_plan(&self, prepared: &Prepared<'_>, limit: LimitId, usage: Usage) -> Quota {
        let tables = self.tables();
        let tier = prepared.tier as usize;
        // An engine of another policy (or one whose tables are smaller, for a tag shared by
        // chance) never reads the prepared tier.
        if prepared.tag != self.tag() || tier >= tables.counts().tiers {
            return Quota::denied(Reason::UnknownTier);
        }
        let request = &prepared.request;
        if prepared.applying == 0 {
            // No add-on applies: the answer is the tier's, as for a request that holds none.
            return self.check_limit_without_addons(request, limit, usage);
        }
        let l = self.index(limit);
        if l >= tables.counts().limits {
            return Quota::denied(Reason::UnknownLimit);
        }
        let (set, record) = tables.limit_record(tier, l);
        let seats = request.seats.unwrap_or(0);
        let force = with_holding!(request.holding, |held| self.sum_applying(held, prepared.applying, l, record, seats));
        let counter = if set { record.counter() } else { tables.limit_counter(l) };
        let window = Lazy { counter, anchor: request.billing_anchor, at: request.now };
        limit_math::conclude(record, set, &force, request.seats, usage, window)
    }
}

impl Engine {
    /// The limit in force for limit `l` of a tier's `record`, from the held add-ons whose bits
    /// are set in `applying`: [`Engine::in_force`]'s sums, over the add-ons known to apply.
    #[inline(always)]
    fn sum_applying<H: Holds>(&self, held: &[H], applying: u32, l: usize, record: &LimitRecord, seats: u64) -> InForce {
        let tables = self.tables();
        let base = if record.per_seat() { scale(record.value, seats) } else { record.value };
        let mut force = InForce { base, raised: base, added: 0, changed: false, per_seat: record.per_seat() };
        let mut bits = applying;
        while bits != 0 {
            let at = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let Some(&h) = held.get(at) else { break };
            let delta = tables.addon_delta(self.index(h.addon()), l);
            if delta.flags != 0 {
                accumulate::<H>(&mut force, delta, h.quantity(), seats);
            }
        }
        force
    }
}
