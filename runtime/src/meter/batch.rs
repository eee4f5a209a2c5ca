//! One request counted against several limits at once, all or nothing
//! ([`Meter::try_consume_all`]).
//!
//! A call that counts against a per-second burst, a daily cap and a monthly allowance must be
//! recorded against all three or none: recording the burst and then finding the daily cap
//! spent would count a request that was refused. Every counter of one subject lives in the
//! subject's one shard, so one lock covers the whole decision: each limit is answered, and
//! only when every answer allows the request is each amount recorded.

use entitle::{binding, Engine, LimitId, Quota, Request, Usage};

use super::{find, span_of, sweep_clock, Counter, Meter, MeterError, Table};
use crate::store::Source;

/// The outcome of [`Meter::try_consume_all`].
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumedAll<'o> {
    /// The engine's answer for each limit, in the order given, with the usage recorded before
    /// this request and the amounts of the same limit earlier in the list: the filled prefix
    /// of the caller's buffer.
    pub answers: &'o mut [Quota],
    /// The index of the answer that binds ([`entitle::binding`]): `None` only for no limits.
    pub binding: Option<usize>,
    /// Whether every amount was recorded; when it is `false`, nothing was. It is `true` exactly
    /// when every answer allows the request, except for a shared meter that answered without
    /// its store ([`Source::FailedOpen`]): that allows the request and records nothing.
    pub recorded: bool,
    /// Where the answers came from: [`Source::Store`] for this meter (its own counters); a
    /// shared meter says when it answered without its store.
    pub source: Source,
}

impl ConsumedAll<'_> {
    /// Whether every limit allows the request (`true` for no limits).
    pub fn allowed(&self) -> bool {
        self.answers.iter().all(|quota| quota.allowed)
    }

    /// The answer that binds, if any limit was given.
    pub fn binding_answer(&self) -> Option<&Quota> {
        self.answers.get(self.binding?)
    }
}

impl Meter {
    /// Decides one request against several limits, each `(limit, amount)`, and records every
    /// amount only if every limit allows it; nothing otherwise. The answers are written to the
    /// start of `out`, in order, each as [`Meter::try_consume`] would give it, except that a
    /// limit given twice sees the amount given for it before (the second `burst` of 1 after a
    /// first is asked with 1 more used), as recording one after the other would.
    ///
    /// Refused with [`MeterError::BufferTooSmall`] when `out` is shorter than `limits`, and,
    /// as `try_consume`, with [`MeterError::AtCapacity`] or [`MeterError::KeyTooLong`] when a
    /// new counter is needed and cannot be made; every refusal records nothing.
    ///
    /// ```
    /// use entitle::{Engine, Quota, Request};
    /// use entitle_runtime::meter::Meter;
    /// let engine = Engine::from_source("p", "policy \"p\"\nlimit burst : count per second\nlimit daily : count per day\ntier pro { limit burst = 10\nlimit daily = 2 }\n")?;
    /// let (burst, daily) = (engine.limit("burst").unwrap(), engine.limit("daily").unwrap());
    /// let meter = Meter::new();
    /// let mut out = [Quota::default(); 2];
    /// for second in 0..3 {
    ///     let request = Request::new(engine.tier("pro").unwrap(), 1_795_255_200 + second).with_key("app-42");
    ///     let consumed = meter.try_consume_all(&engine, &request, &[(burst, 1), (daily, 1)], &mut out).unwrap();
    ///     // The third call is refused by the daily cap, and its burst is not counted either.
    ///     assert_eq!(consumed.recorded, second < 2);
    ///     assert_eq!(consumed.binding, Some(if second < 2 { 0 } else { 1 }));
    /// }
    /// let last = Request::new(engine.tier("pro").unwrap(), 1_795_255_202).with_key("app-42");
    /// assert_eq!(meter.used(&engine, &last, burst), 0);
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn try_consume_all<'o>(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limits: &[(LimitId, u64)],
        out: &'o mut [Quota],
    ) -> Result<ConsumedAll<'o>, MeterError> {
        let (needed, capacity) = (limits.len(), out.len());
        let out = out.get_mut(..needed).ok_or(MeterError::BufferTooSmall { needed, capacity })?;
        let key = request.key();
        let hash = self.hash(key);
        let clock = sweep_clock(request.now());
        let mut guard = self.shard(hash);
        let table = &mut *guard;
        for (at, (slot, (limit, amount))) in out.iter_mut().zip(limits).enumerate() {
            let (limit, amount) = engine.pool_terms(*limit, *amount);
            let earlier = given_before(engine, limits, at);
            let check = |used: u64| {
                engine.check_limit(request, limit, Usage::used(used.saturating_add(earlier)).requesting(amount))
            };
            let counter = engine.limit_name(limit).and_then(|name| find(&mut table.subjects, hash, key, name));
            *slot = match counter {
                Some(counter) => {
                    if counter.holds.is_some() {
                        self.forget(counter.expire_holds(clock));
                    }
                    // Live holds count as used for everyone but their own commit.
                    let quota = check(counter.taken());
                    if counter.advance_to(span_of(&quota)) {
                        table.due.note(counter);
                        check(counter.taken())
                    } else {
                        quota
                    }
                }
                None => check(0),
            };
        }
        let binding = binding(out);
        let recorded = out.iter().all(|quota| quota.allowed);
        if recorded {
            self.record_all(engine, request, hash, clock, table, limits, out)?;
        }
        Ok(ConsumedAll { answers: out, binding, recorded, source: Source::Store })
    }

    /// Records every amount of an allowed batch under the shard's lock: first makes room for
    /// every counter the batch needs (so that a full meter refuses the whole batch, not its
    /// last limit), then adds each amount to its counter.
    #[expect(clippy::too_many_arguments, reason = "the batch's decision, passed on whole under its lock")]
    fn record_all(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        hash: u64,
        clock: i64,
        table: &mut Table,
        limits: &[(LimitId, u64)],
        answers: &[Quota],
    ) -> Result<(), MeterError> {
        let key = request.key();
        // A sweep to make room may drop a counter the answers read (a gauge at 0), which then
        // needs making too: room is reserved until it covers every counter missing.
        let mut reserved = 0;
        loop {
            let missing = self.missing(engine, hash, key, table, limits);
            if missing <= reserved {
                break;
            }
            if key.len() > self.config.max_key_bytes {
                self.give_back(reserved);
                return Err(MeterError::KeyTooLong { len: key.len(), max: self.config.max_key_bytes });
            }
            while reserved < missing {
                if let Err(full) = self.make_room(clock, table) {
                    self.give_back(reserved);
                    return Err(full);
                }
                reserved += 1;
            }
        }
        for ((limit, amount), quota) in limits.iter().zip(answers) {
            let (limit, amount) = engine.pool_terms(*limit, *amount);
            let Some(name) = engine.limit_name(limit).filter(|_| amount > 0) else { continue };
            if let Some(counter) = find(&mut table.subjects, hash, key, name) {
                counter.record(request.now(), amount);
                table.due.note(counter);
            } else {
                let counter = Counter::new(name.into(), span_of(quota), amount);
                table.insert(hash, key, counter);
                reserved -= 1;
            }
        }
        // Only sweeps remove counters, so every reserved place was taken.
        self.give_back(reserved);
        Ok(())
    }

    /// How many counters an allowed batch must make: one for each limit it records an amount
    /// of that the subject has no counter for, counted once however often it is given.
    fn missing(&self, engine: &Engine, hash: u64, key: &str, table: &mut Table, limits: &[(LimitId, u64)]) -> usize {
        let mut missing = 0;
        for (at, &(limit, amount)) in limits.iter().enumerate() {
            let (limit, amount) = engine.pool_terms(limit, amount);
            let first = !limits.iter().take(at).any(|&(earlier, given)| {
                let (earlier, given) = engine.pool_terms(earlier, given);
                earlier == limit && given > 0
            });
            let needs = amount > 0
                && first
                && engine.limit_name(limit).is_some_and(|name| find(&mut table.subjects, hash, key, name).is_none());
            missing += usize::from(needs);
        }
        missing
    }
}

impl Meter {
    /// Gives back `n` places counted by `make_room` and not taken.
    fn give_back(&self, n: usize) {
        self.counters.fetch_sub(n, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What the amounts given earlier in the list than `at` count on the counter `at` counts on:
/// the amounts given for the same limit, and the costs of every limit drawing on the same pool.
pub(crate) fn given_before(engine: &Engine, limits: &[(LimitId, u64)], at: usize) -> u64 {
    let Some(&(limit, _)) = limits.get(at) else { return 0 };
    let (counted, _) = engine.pool_terms(limit, 0);
    limits
        .iter()
        .take(at)
        .map(|&(earlier, amount)| engine.pool_terms(earlier, amount))
        .filter(|(earlier, _)| *earlier == counted)
        .fold(0, |sum, (_, amount)| sum.saturating_add(amount))
}
