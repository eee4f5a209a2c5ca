//! One request counted against several limits on Redis, all or nothing, in one script call
//! (`CONSUME_ALL`).
//!
//! Every key of one subject carries the subject's hash tag, so a batch's counters, their holds
//! and the connection's session are in one slot of a cluster, and one script decides and
//! records them together.

use entitle::{binding, Engine, LimitId, Quota, Reason, Request, Usage};

use super::{ceiling_argument, Keys, RedisMeter, EXACT, GRACE_SECONDS};
use crate::meter::{given_before, ConsumedAll, MeterError};
use crate::store::{FailureMode, Source, StoreError};

impl RedisMeter {
    /// [`crate::store::UsageMeter::try_consume_all`] on Redis.
    ///
    /// When Redis cannot answer, a batch whose every limit fails open is answered from the
    /// engine with no usage ([`Source::FailedOpen`], nothing recorded); a batch with any limit
    /// that fails closed or to a local share is [`StoreError::Unreachable`]: a local share is
    /// one limit's, and cannot record a batch all or nothing with the limits beside it.
    pub(super) fn consume_all<'o>(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limits: &[(LimitId, u64)],
        out: &'o mut [Quota],
    ) -> Result<ConsumedAll<'o>, StoreError> {
        let (needed, capacity) = (limits.len(), out.len());
        let out = out.get_mut(..needed).ok_or(MeterError::BufferTooSmall { needed, capacity })?;
        // Each limit as its counter counts it: a limit that draws on a pool, as the pool.
        let counted = |at: usize| {
            let (limit, amount) = limits.get(at).copied().unwrap_or((LimitId::from_u32(u32::MAX), 0));
            engine.pool_terms(limit, amount)
        };
        let check = |at: usize, used: u64| {
            let (limit, amount) = counted(at);
            let used = used.saturating_add(given_before(engine, limits, at));
            engine.check_limit(request, limit, Usage::used(used).requesting(amount))
        };
        for (at, slot) in out.iter_mut().enumerate() {
            *slot = check(at, 0);
        }
        if limits.is_empty() {
            return Ok(ConsumedAll { answers: out, binding: None, recorded: true, source: Source::Store });
        }
        // A limit the engine refuses outright (an unknown limit, one not set) is refused
        // whatever is used, and so is the batch; its neighbours' answers still say what is
        // used, as in-process, so Redis is asked unless every limit is refused so (an unknown
        // tier). An amount past the ceiling by itself is asked too.
        let answerable = |q: &Quota| q.allowed || q.reason == Reason::LimitExceeded;
        if !out.iter().any(answerable) {
            return Ok(done(out, Source::Store));
        }
        let key = request.key();
        self.key_fits(key)?;
        let mut keys = Vec::with_capacity(limits.len());
        // A rolling counter's other buckets, which follow every counter's five keys.
        let mut others = Vec::new();
        let mut args = Vec::with_capacity(limits.len() * 5 + 3);
        args.push(i64::try_from(limits.len()).unwrap_or(i64::MAX));
        for (at, fresh) in out.iter().enumerate() {
            let (limit, amount) = counted(at);
            let name = engine.limit_name(limit).unwrap_or_default();
            if !answerable(fresh) {
                args.extend([0, REFUSED, 0, 0, 0]);
                keys.push(self.keys(key, name, None));
                continue;
            }
            if amount >= EXACT {
                return Err(StoreError::TooLarge(format!(
                    "an amount of {amount} is 2^53 or more, past what redis counts exactly"
                )));
            }
            let ceiling = ceiling_argument(fresh.limit, fresh.soft_cap)?;
            if let Some(buckets) = self.buckets(key, name, fresh) {
                let count = i64::try_from(buckets.others.len()).unwrap_or(i64::MAX);
                args.extend([amount.cast_signed(), ceiling, buckets.expire_at, buckets.start, count]);
                others.extend(buckets.others);
                keys.push(buckets.keys);
                continue;
            }
            let start = fresh.window().map(|w| w.start);
            let expire_at = fresh.window().map_or(0, |w| w.end.saturating_add(GRACE_SECONDS));
            args.extend([amount.cast_signed(), ceiling, expire_at, start.unwrap_or(0), 0]);
            keys.push(self.keys(key, name, start));
        }
        args.push(crate::meter::sweep_clock(request.now()));
        args.push(i64::try_from(self.config.remember_seconds).unwrap_or(i64::MAX));
        let counters: Vec<&str> = keys.iter().map(|k| k.counter.as_str()).collect();
        let after: Vec<&str> = keys.iter().flat_map(each_key).collect();
        let others: Vec<&str> = others.iter().map(String::as_str).collect();
        let Some(first) = keys.first() else { return Ok(done(out, Source::Store)) };
        match self.call_keys(&self.consume_all, first, &counters, &[], &[&after, &others], &args) {
            Ok(answer) if answer.len() == 1 + 2 * limits.len() => {
                let number = |at: usize| answer.get(at).and_then(|&n| u64::try_from(n).ok()).unwrap_or(0);
                for (at, slot) in out.iter_mut().enumerate() {
                    // The script's usage counts the amounts given earlier for the same limit;
                    // live holds count as used, as in-process.
                    let used = number(1 + 2 * at).saturating_add(number(2 + 2 * at));
                    let (limit, amount) = counted(at);
                    *slot = engine.check_limit(request, limit, Usage::used(used).requesting(amount));
                }
                let recorded = answer.first() == Some(&1);
                let binding = binding(out);
                Ok(ConsumedAll { answers: out, binding, recorded, source: Source::Store })
            }
            Ok(answer) => Err(StoreError::Unreachable(format!("redis answered {answer:?} to a batch consume"))),
            // Denied whatever is used: the failure modes have nothing to decide.
            Err(_) if !out.iter().all(|q| q.allowed) => Ok(done(out, Source::Store)),
            Err(why) => {
                let open = (0..limits.len()).all(|at| {
                    let name = engine.limit_name(counted(at).0).unwrap_or_default();
                    self.config.failure_mode_for(name) == FailureMode::Open
                });
                if !open {
                    return Err(StoreError::Unreachable(format!(
                        "{why} (a batch answers without its store only when every one of its limits fails open)"
                    )));
                }
                self.fail_open.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(done(out, Source::FailedOpen))
            }
        }
    }
}

/// The ceiling `CONSUME_ALL` takes for a limit the engine refuses whatever is used.
const REFUSED: i64 = -2;

/// A batch answered without recording anything: the answers as they stand.
fn done(answers: &mut [Quota], source: Source) -> ConsumedAll<'_> {
    let binding = binding(answers);
    ConsumedAll { answers, binding, recorded: false, source }
}

/// A counter's five keys as `CONSUME_ALL` takes them.
fn each_key(keys: &Keys) -> [&str; 5] {
    [keys.counter.as_str(), keys.latest.as_str(), keys.holds.as_str(), keys.live.as_str(), keys.done.as_str()]
}
