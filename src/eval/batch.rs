//! Many questions about one request in one call, into a buffer the caller owns.
//!
//! A pricing page, a settings screen or an account page asks about every feature or limit of
//! one subject at once. These calls check the request once (its tier and add-ons), answer
//! each question into the caller's buffer, and allocate nothing, so a binding pays one
//! crossing into the engine for the whole page. Each answer equals the single call's.

use crate::engine::*;

/// A batch call's buffer is shorter than its list of questions; nothing was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the buffer holds {capacity} answers but {needed} questions were asked")]
#[non_exhaustive]
pub struct BufferTooSmall {
    /// How many answers the call needed room for: the number of questions.
    pub needed: usize,
    /// How many the buffer holds.
    pub capacity: usize,
}

/// The prefix of `out` that answers `needed` questions, or why there is none.
fn room<T>(out: &mut [T], needed: usize) -> Result<&mut [T], BufferTooSmall> {
    let capacity = out.len();
    out.get_mut(..needed).ok_or(BufferTooSmall { needed, capacity })
}

impl Engine {
    /// [`Engine::is_allowed`] for each of `features`, written to the start of `out` in order;
    /// returns that prefix. The request is checked once; an unknown tier or add-on makes every
    /// answer `false`, as each single call would.
    ///
    /// ```
    /// let engine = entitle::Engine::from_source("p", "policy \"p\"\nfeature f\nfeature g\ntier free { grant f }\n")?;
    /// let request = entitle::Request::new(engine.tier("free").unwrap(), 0);
    /// let features: Vec<_> = engine.features().map(|(id, _)| id).collect();
    /// let mut out = [false; 8];
    /// assert_eq!(engine.is_allowed_many(&request, &features, &mut out), Ok(&mut [true, false][..]));
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn is_allowed_many<'o>(
        &self,
        request: &Request<'_>,
        features: &[FeatureId],
        out: &'o mut [bool],
    ) -> Result<&'o mut [bool], BufferTooSmall> {
        let out = room(out, features.len())?;
        match self.validate(request) {
            // With no add-on held and no override, the tier's grant bits answer, as in
            // `is_allowed`'s fast path; the tier was checked once above, and each feature is
            // checked here.
            Ok(tier) if request.holding.is_empty() && request.overrides.is_none() => {
                let known = self.hot_grants().features();
                for (slot, feature) in out.iter_mut().zip(features) {
                    let f = self.index(*feature);
                    *slot = f < known && self.granted_to_tier(tier, f, request.key);
                }
            }
            Ok(tier) => {
                for (slot, feature) in out.iter_mut().zip(features) {
                    *slot = self.allowed_for_tier(request, tier, *feature);
                }
            }
            Err(_) => out.fill(false),
        }
        Ok(out)
    }

    /// [`Engine::decide`] for each of `features`, written to the start of `out` in order;
    /// returns that prefix. [`Decision::default`] fills a buffer before the call.
    ///
    /// ```
    /// use entitle::{Decision, Engine, Reason, Request};
    /// let engine = Engine::from_source("p", "policy \"p\"\nfeature f\nfeature g\ntier free { grant f }\n")?;
    /// let request = Request::new(engine.tier("free").unwrap(), 0);
    /// let features = [engine.feature("g").unwrap(), engine.feature("f").unwrap()];
    /// let mut out = [Decision::default(); 2];
    /// let answers = engine.decide_many(&request, &features, &mut out).unwrap();
    /// assert_eq!(answers.iter().map(|d| d.reason).collect::<Vec<_>>(), [Reason::NotGranted, Reason::GrantedByTier]);
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn decide_many<'o>(
        &self,
        request: &Request<'_>,
        features: &[FeatureId],
        out: &'o mut [Decision],
    ) -> Result<&'o mut [Decision], BufferTooSmall> {
        let out = room(out, features.len())?;
        match self.validate(request) {
            Ok(tier) => {
                for (slot, feature) in out.iter_mut().zip(features) {
                    *slot = self.decide_for_tier(request, tier, *feature);
                }
            }
            Err(reason) => out.fill(Decision::deny(reason)),
        }
        Ok(out)
    }

    /// [`Engine::check_limit`] for each `(limit, usage)` pair, written to the start of `out` in
    /// order; returns that prefix. [`Quota::default`] fills a buffer before the call.
    ///
    /// ```
    /// use entitle::{Engine, Quota, Request, Usage};
    /// let engine = Engine::from_source("p", "policy \"p\"\nlimit calls : count per day\nlimit seats : count\ntier pro { limit calls = 100\nlimit seats = 5 }\n")?;
    /// let request = Request::new(engine.tier("pro").unwrap(), 0);
    /// let questions = [(engine.limit("calls").unwrap(), Usage::used(40)), (engine.limit("seats").unwrap(), Usage::used(5).requesting(1))];
    /// let mut out = [Quota::default(); 2];
    /// let answers = engine.check_limit_many(&request, &questions, &mut out).unwrap();
    /// assert_eq!(answers.iter().map(|q| q.allowed).collect::<Vec<_>>(), [true, false]);
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn check_limit_many<'o>(
        &self,
        request: &Request<'_>,
        limits: &[(LimitId, Usage)],
        out: &'o mut [Quota],
    ) -> Result<&'o mut [Quota], BufferTooSmall> {
        self.check_limits_into(request, limits, out, |_, _| {})
    }

    /// [`Engine::check_limit_many`], handing each answer to `each` with its index as it is
    /// written, so that a caller that reads every answer (the binding one of
    /// [`Engine::check_limits`]) does so while it is at hand rather than in a second pass.
    #[inline(always)]
    pub(crate) fn check_limits_into<'o>(
        &self,
        request: &Request<'_>,
        limits: &[(LimitId, Usage)],
        out: &'o mut [Quota],
        mut each: impl FnMut(usize, &Quota),
    ) -> Result<&'o mut [Quota], BufferTooSmall> {
        let out = room(out, limits.len())?;
        let questions = out.iter_mut().zip(limits).enumerate();
        // With no add-on held, the single call, unchecked first: it checks the tier itself with
        // one comparison, which is all a request without add-ons has to check, and it skips the
        // add-on arithmetic.
        if request.holding.is_empty() && request.overrides.is_none() {
            for (at, (slot, (limit, usage))) in questions {
                *slot = self.check_limit_without_addons(request, *limit, *usage);
                each(at, slot);
            }
            return Ok(out);
        }
        match self.validate(request) {
            Ok(tier) => {
                for (at, (slot, (limit, usage))) in questions {
                    *slot = self.check_limit_for_tier(request, tier, *limit, *usage);
                    each(at, slot);
                }
            }
            Err(reason) => {
                for (at, (slot, _)) in questions {
                    *slot = Quota::denied(reason);
                    each(at, slot);
                }
            }
        }
        Ok(out)
    }
}
