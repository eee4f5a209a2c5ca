//! One request checked against several limits at once, and the answer that binds it.
//!
//! A call to a metered API usually counts against more than one limit: a per-second burst, a
//! daily cap and a monthly allowance. [`Engine::check_limits`] answers each of them as
//! [`Engine::check_limit`] would and names the one that decides the request ([`binding`]):
//! the first, in the order asked, of the worst outcome. A request is allowed only when every
//! limit allows it, so a denied request names the first limit that denies it; an allowed one
//! names the limit nearest to denying it (in overage before at a warning, at a warning
//! before within), which is the one a caller shows ("2 of 10 calls left this second").
//!
//! The binding answer is chosen by outcome, not by reset instant: "the soonest to reset" would
//! name a per-second burst with plenty left over a monthly allowance that is nearly spent.

use crate::engine::*;
use crate::eval::BufferTooSmall;

/// The answers of one request against several limits ([`Engine::check_limits`]).
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimitBatch<'o> {
    /// One answer per limit asked, in the order asked: the filled prefix of the caller's
    /// buffer.
    pub answers: &'o mut [Quota],
    /// The index of the answer that binds ([`binding`]): `None` only when no limit was asked.
    pub binding: Option<usize>,
}

impl LimitBatch<'_> {
    /// Whether every limit allows the request: `true` for an empty batch.
    pub fn allowed(&self) -> bool {
        self.answers.iter().all(|quota| quota.allowed)
    }

    /// The answer that binds, if any limit was asked.
    pub fn binding_answer(&self) -> Option<&Quota> {
        self.answers.get(self.binding?)
    }
}

/// How near an answer is to denying, worst highest: a deny above every allow, then by status
/// (exceeded, overage, warning, within).
fn severity(quota: &Quota) -> u32 {
    (u32::from(!quota.allowed) << 2) | quota.status as u32
}

/// The index of the answer that binds a request checked against several limits: the first
/// answer, in order, of the worst outcome (the first deny; with none, the first in overage,
/// then the first at a warning, then the first answer). `None` for no answers.
///
/// ```
/// use entitle::{binding, Engine, Quota, Request, Usage};
/// let engine = Engine::from_source("p", "policy \"p\"\nlimit burst : count per second\nlimit daily : count per day\ntier pro { limit burst = 10\nlimit daily = 1_000 }\n")?;
/// let request = Request::new(engine.tier("pro").unwrap(), 0);
/// let answers = [
///     engine.check_limit(&request, engine.limit("burst").unwrap(), Usage::used(2).requesting(1)),
///     engine.check_limit(&request, engine.limit("daily").unwrap(), Usage::used(1_000).requesting(1)),
/// ];
/// assert_eq!(binding(&answers), Some(1));
/// # Ok::<(), entitle::Diagnostics>(())
/// ```
pub fn binding(answers: &[Quota]) -> Option<usize> {
    let mut worst = Worst::default();
    for (at, quota) in answers.iter().enumerate() {
        worst.take(at, quota);
    }
    worst.at
}

/// The binding answer of the answers seen so far, taken in order.
#[derive(Default)]
struct Worst {
    /// Its index, `None` before the first answer.
    at: Option<usize>,
    /// Its severity.
    rank: u32,
}

impl Worst {
    /// Takes in the answer at `at`: it binds if it is worse than every one before it (an
    /// earlier one wins a tie).
    #[inline(always)]
    fn take(&mut self, at: usize, quota: &Quota) {
        let rank = severity(quota);
        if self.at.is_none() || rank > self.rank {
            (self.at, self.rank) = (Some(at), rank);
        }
    }
}

impl Engine {
    /// One request against several limits: [`Engine::check_limit_many`] for each `(limit,
    /// usage)` pair, written to the start of `out` in order, with the answer that binds
    /// ([`binding`]). The request is checked once; nothing is allocated.
    ///
    /// Each pair is answered on the usage it gives, as by a single call: two pairs on one
    /// limit, or on limits that draw on one pool, do not add their requests together. A caller
    /// that records a batch at once gives each pair the usage the pairs before it add (their
    /// requests, or their costs for a pool, [`Engine::pool_terms`]), as the runtime meter's
    /// `try_consume_all` does.
    ///
    /// ```
    /// use entitle::{Engine, Quota, Request, Usage};
    /// let engine = Engine::from_source("p", "policy \"p\"\nlimit burst : count per second\nlimit daily : count per day\ntier pro { limit burst = 10\nlimit daily = 1_000 }\n")?;
    /// let request = Request::new(engine.tier("pro").unwrap(), 0);
    /// let (burst, daily) = (engine.limit("burst").unwrap(), engine.limit("daily").unwrap());
    /// let mut out = [Quota::default(); 4];
    /// let batch = engine.check_limits(&request, &[(burst, Usage::used(9).requesting(1)), (daily, Usage::used(10).requesting(1))], &mut out).unwrap();
    /// assert!(batch.allowed());
    /// assert_eq!(batch.binding, Some(0));
    /// assert_eq!(batch.binding_answer().map(|q| q.remaining), Some(entitle::Amount::Finite(1)));
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn check_limits<'o>(
        &self,
        request: &Request<'_>,
        limits: &[(LimitId, Usage)],
        out: &'o mut [Quota],
    ) -> Result<LimitBatch<'o>, BufferTooSmall> {
        let mut worst = Worst::default();
        let answers = self.check_limits_into(request, limits, out, |at, quota| worst.take(at, quota))?;
        Ok(LimitBatch { answers, binding: worst.at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str =
        "policy \"p\"\nlimit a : count per second\nlimit b : count per day\nlimit c : count per month\n\
        tier t {\n  limit a = 10\n  limit b = 100 warn at 80%\n  limit c = 1_000 soft 1_200\n}\n";

    fn answers(used: [u64; 3]) -> Option<usize> {
        let engine = Engine::from_source("p", POLICY).unwrap();
        let request = Request::new(engine.tier("t").unwrap(), 0);
        let ids = ["a", "b", "c"].map(|name| engine.limit(name).unwrap());
        let asked: Vec<_> = ids.iter().zip(used).map(|(id, used)| (*id, Usage::used(used).requesting(1))).collect();
        let mut out = [Quota::default(); 3];
        let batch = engine.check_limits(&request, &asked, &mut out).unwrap();
        assert_eq!(batch.allowed(), batch.answers.iter().all(|q| q.allowed));
        batch.binding
    }

    #[test]
    fn the_first_deny_binds() {
        assert_eq!(answers([10, 100, 0]), Some(0));
        assert_eq!(answers([0, 100, 2_000]), Some(1));
    }

    #[test]
    fn with_no_deny_the_nearest_to_denying_binds() {
        assert_eq!(answers([0, 0, 0]), Some(0), "all within: the first");
        assert_eq!(answers([0, 90, 0]), Some(1), "a warning over within");
        assert_eq!(answers([0, 90, 1_100]), Some(2), "overage over a warning");
    }

    /// Every path of the batch (no add-on, add-ons held, an override record, a request that
    /// does not resolve) answers each limit as the single call does, and binds as `binding`
    /// over those answers does.
    #[test]
    fn a_batch_answers_as_the_single_calls_on_every_path() {
        let source = format!("{POLICY}addon more for t {{\n  limit b += 50\n}}\n");
        let engine = Engine::from_source("p", &source).unwrap();
        let records = crate::Overrides::builder(&engine).limit("acme", "a", crate::LimitOp::Set, "1").build().unwrap();
        let (t, more) = (engine.tier("t").unwrap(), [engine.addon("more").unwrap()]);
        let twice = [more[0], more[0]];
        let requests = [
            Request::new(t, 0),
            Request::new(t, 0).with_addons(&more),
            Request::new(t, 0).with_addons(&twice),
            Request::new(t, 0).with_key("acme").with_overrides(&records),
            Request::new(t, 0).with_key("acme").with_overrides(&records).with_addons(&more),
            Request::new(TierId::from_u32(u32::MAX), 0),
        ];
        let ids = ["a", "b", "c"].map(|name| engine.limit(name).unwrap());
        let asked: Vec<_> =
            ids.iter().zip([1, 120, 1_100]).map(|(id, used)| (*id, Usage::used(used).requesting(1))).collect();
        for request in &requests {
            let singles: Vec<Quota> =
                asked.iter().map(|(id, usage)| engine.check_limit(request, *id, *usage)).collect();
            let mut out = [Quota::default(); 3];
            let batch = engine.check_limits(request, &asked, &mut out).unwrap();
            assert_eq!(batch.answers.to_vec(), singles, "{request:?}");
            assert_eq!(batch.binding, binding(&singles), "{request:?}");
        }
    }

    #[test]
    fn an_empty_batch_has_no_binding_and_is_allowed() {
        let engine = Engine::from_source("p", POLICY).unwrap();
        let request = Request::new(engine.tier("t").unwrap(), 0);
        let batch = engine.check_limits(&request, &[], &mut []).unwrap();
        assert!(batch.allowed());
        assert_eq!((batch.binding, batch.binding_answer()), (None, None));
    }
}
