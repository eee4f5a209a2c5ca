//! Questions about a limit that draws on a pool, asked of the pool.
//!
//! A limit declared `draws POOL at RATE per QUANTITY` has no allowance of its own: a request
//! for `n` of its units is a request for `cost(n)` of the pool, rounded up, and the answer is
//! the pool's, in the pool's units (its limit, what is left, its window). [`Engine::check_draw`]
//! adds what the drawing limit's caller wants besides: which pool, what the request costs,
//! and how many of the limit's own units what is left of the pool still pays for.

use crate::engine::*;
use crate::model::Amount;
use crate::tables::DrawRecord;

/// The answer about a limit that draws on a pool ([`Engine::check_draw`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Draw {
    /// The pool's answer to the request, in the pool's units: what [`Engine::check_limit`]
    /// answers for the drawing limit.
    pub quota: Quota,
    /// The pool drawn on: the limit itself for a limit that draws on nothing.
    pub pool: LimitId,
    /// What the requested units cost the pool (the requested amount itself for a limit that
    /// draws on nothing).
    pub cost: u64,
    /// How many units of the drawing limit what is left of the pool pays for, rounded down.
    pub remaining_units: Amount,
}

impl Engine {
    /// [`Engine::check_limit`] for a limit that may draw on a pool, with the pool, the
    /// request's cost and what is left in the limit's own units. `usage.used` is what is used
    /// of the pool (every limit that draws on it counts there), `usage.requested` is in the
    /// limit's own units. For a limit that draws on nothing, the pool is the limit and its
    /// rate is 1 per 1.
    ///
    /// ```
    /// use entitle::{Amount, Engine, Request, Usage};
    /// let engine = Engine::from_source("p", "policy \"p\"\nlimit credits : count per month\n\
    ///     limit minutes : duration draws credits at 5 per minute\ntier pro { limit credits = 1_000 }\n")?;
    /// let request = Request::new(engine.tier("pro").unwrap(), 0);
    /// // 30 more minutes, with 900 credits used: 150 credits, and only 100 are left.
    /// let draw = engine.check_draw(&request, engine.limit("minutes").unwrap(), Usage::used(900).requesting(30 * 60));
    /// assert!(!draw.quota.allowed);
    /// assert_eq!((draw.pool, draw.cost), (engine.limit("credits").unwrap(), 150));
    /// assert_eq!(draw.remaining_units, Amount::Finite(20 * 60));
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn check_draw(&self, request: &Request<'_>, limit: LimitId, usage: Usage) -> Draw {
        self.draw_of(limit, usage, self.check_limit(request, limit, usage))
    }

    /// The [`Draw`] of `quota`, the answer to `usage` of `limit` however it was asked: by a
    /// batch ([`Engine::check_limits`]), a prepared request, or by name.
    pub fn draw_of(&self, limit: LimitId, usage: Usage, quota: Quota) -> Draw {
        match self.tables().draw(self.index(limit)) {
            Some(draw) => Draw {
                quota,
                pool: self.pool_id(draw),
                cost: draw.cost(usage.requested),
                remaining_units: draw.units(quota.remaining),
            },
            None => Draw { quota, pool: limit, cost: usage.requested, remaining_units: quota.remaining },
        }
    }

    /// What a meter counts for `amount` of `limit`: the pool and what `amount` costs it for a
    /// limit that draws on one, else `limit` and `amount` unchanged. Asking
    /// [`Engine::check_limit`] about the pool with the cost answers exactly as asking about the
    /// drawing limit with its own units, so a meter that counts in these terms keeps one
    /// counter per pool, which every limit drawing on it spends.
    ///
    /// ```
    /// use entitle::Engine;
    /// let engine = Engine::from_source("p", "policy \"p\"\nlimit credits : count per month\n\
    ///     limit images : count draws credits at 4\ntier pro { limit credits = 1_000 }\n")?;
    /// let (credits, images) = (engine.limit("credits").unwrap(), engine.limit("images").unwrap());
    /// assert_eq!(engine.pool_terms(images, 3), (credits, 12));
    /// assert_eq!(engine.pool_terms(credits, 3), (credits, 3));
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    #[inline]
    pub fn pool_terms(&self, limit: LimitId, amount: u64) -> (LimitId, u64) {
        let tables = self.tables();
        if !tables.has_draws() {
            return (limit, amount);
        }
        match tables.draw(self.index(limit)) {
            Some(draw) => (self.pool_id(draw), draw.cost(amount)),
            None => (limit, amount),
        }
    }

    /// [`Engine::pool_terms`] for giving back: the pool and what `amount` of a limit that
    /// draws on it returns, rounded down, so that many refunds of a few units never give back
    /// more than their consumption cost (a unit costs a whole credit at `1 per 1_000`, and
    /// gives back none). A caller that refunds a whole consumption gives back its recorded
    /// cost, in the pool's units, on the pool. Else `limit` and `amount` unchanged.
    ///
    /// ```
    /// use entitle::Engine;
    /// let engine = Engine::from_source("p", "policy \"p\"\nlimit credits : count per month\n\
    ///     limit tokens : count draws credits at 1 per 1_000\ntier pro { limit credits = 1_000 }\n")?;
    /// let (credits, tokens) = (engine.limit("credits").unwrap(), engine.limit("tokens").unwrap());
    /// assert_eq!(engine.pool_terms(tokens, 1_500), (credits, 2));
    /// assert_eq!(engine.pool_refund_terms(tokens, 1_500), (credits, 1));
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn pool_refund_terms(&self, limit: LimitId, amount: u64) -> (LimitId, u64) {
        match self.tables().draw(self.index(limit)) {
            Some(draw) => (self.pool_id(draw), draw.cost_down(amount)),
            None => (limit, amount),
        }
    }

    /// What a page of every limit counts as used of `limit`, given the usage a caller has
    /// (`given`, by limit): the limit's own, or for a limit that draws on a pool, the pool's
    /// (what it is answered against); 0 when none is given. A value given for a drawing
    /// limit itself is not read: it has no usage of its own (a meter counts it on its pool),
    /// and a count of its own units read as the pool's would be a silent mistake.
    pub fn used_for(&self, limit: LimitId, given: impl Fn(LimitId) -> Option<u64>) -> u64 {
        given(self.pool_terms(limit, 0).0).unwrap_or(0)
    }

    /// The pool `limit` draws on, `None` for a limit that draws on nothing or an unknown id.
    pub fn pool(&self, limit: LimitId) -> Option<LimitId> {
        self.tables().draw(self.index(limit)).map(|draw| self.pool_id(draw))
    }

    /// The pool's id, with this engine's tag.
    fn pool_id(&self, draw: &DrawRecord) -> LimitId {
        LimitId::from_u32(self.tag().tagged(draw.pool))
    }

    /// The answer to `usage` of limit `l`, which draws on a pool: `ask`, the caller's own
    /// path, asked about the pool with the requested units' cost. A drawing record without a
    /// draw cannot be built or loaded; it would be answered as an unknown limit.
    // Out of line: only drawing limits come here, and the paths that test for them keep
    // their frames small.
    #[inline(never)]
    pub(crate) fn via_pool(&self, l: usize, usage: Usage, ask: impl FnOnce(LimitId, Usage) -> Quota) -> Quota {
        let Some(draw) = self.tables().draw(l) else { return Quota::denied(Reason::UnknownLimit) };
        ask(self.pool_id(draw), Usage { used: usage.used, requested: draw.cost(usage.requested) })
    }

    /// The pool's answer when `limit` draws on one and any limit of the policy does; `None`
    /// otherwise, which costs a policy without pools one test.
    #[inline(always)]
    pub(crate) fn drawn(
        &self,
        limit: LimitId,
        usage: Usage,
        ask: impl FnOnce(LimitId, Usage) -> Quota,
    ) -> Option<Quota> {
        let tables = self.tables();
        if !tables.has_draws() {
            return None;
        }
        let l = self.index(limit);
        tables.draw(l)?;
        Some(self.via_pool(l, usage, ask))
    }
}
