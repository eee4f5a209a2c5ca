//! Credit grants on Redis: the in-process meter's rules ([`crate::meter::Grant`]), kept in one
//! hash per subject and limit beside its counters (the subject's hash tag puts them in one
//! slot of a cluster), spent and given back by `CONSUME` and `REFUND` in the same script call
//! as the plan's usage, and settled with it when the meter gives up on a call.

use std::time::Instant;

use entitle::{Engine, LimitId, Request};

use super::{RedisMeter, EXACT, GRACE_SECONDS};
use crate::meter::{Grant, GrantBalance, GrantError, Granted};
use crate::store::StoreError;

impl RedisMeter {
    /// [`Meter::grant`](crate::meter::Meter::grant) on Redis: adds `grant` to the request's
    /// subject's `limit` (its pool's, for a limit that draws on one), once, for every meter
    /// sharing the Redis. A store that cannot answer is an error: no grant is taken as made.
    pub fn grant(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        grant: Grant,
    ) -> Result<Granted, StoreError> {
        let (limit, _) = engine.pool_terms(limit, 0);
        let name = engine.limit_name(limit).ok_or(GrantError::UnknownLimit).map_err(grant_error)?;
        let terms = grant.checked(engine, limit, name, self.config.max_key_bytes).map_err(grant_error)?;
        // Lua counts in doubles: a subject's 64 grants together, and every instant the draw
        // order compares, must stay below 2^53 to be exact (an instant that far is 285
        // million years away, and Redis keeps no key that long).
        if terms.amount >= EXACT >> 6 {
            return Err(StoreError::TooLarge(format!(
                "a grant of {} is 2^47 or more, past what redis counts exactly for 64 grants",
                terms.amount
            )));
        }
        let exact_instant = |at: i64| at.unsigned_abs() < EXACT;
        let starts_ok = terms.starts == i64::MIN || exact_instant(terms.starts);
        if !starts_ok || !(terms.expires == i64::MAX || exact_instant(terms.expires)) {
            return Err(StoreError::TooLarge(format!(
                "grant `{}` starts or expires 2^53 seconds or more from 1970, past what redis compares exactly",
                terms.id
            )));
        }
        self.key_fits(request.key())?;
        let keys = self.keys(request.key(), name, None);
        let clock = crate::meter::sweep_clock(request.now());
        let args = [
            terms.id.to_string(),
            terms.amount.to_string(),
            terms.starts.to_string(),
            terms.expires.to_string(),
            terms.priority.to_string(),
            self.config.max_grants.to_string(),
            clock.to_string(),
            self.config.remember_seconds.to_string(),
            GRACE_SECONDS.to_string(),
        ];
        let answer: Vec<i64> = self.run_plain(&self.grant, &keys.grants, &args)?;
        let balance = |spent: u64| GrantBalance::of(&terms, spent);
        match answer[..] {
            [0, _] => Ok(Granted::new(balance(0), false)),
            [1, spent] => Ok(Granted::new(balance(u64::try_from(spent).unwrap_or(0)), true)),
            [2, _] => Err(grant_error(GrantError::Conflict { id: terms.id.to_string() })),
            [3, _] => Err(grant_error(GrantError::AtCapacity { max: self.config.max_grants })),
            _ => Err(StoreError::Unreachable(format!("redis answered {answer:?} to a grant"))),
        }
    }

    /// [`Meter::grants`](crate::meter::Meter::grants) on Redis: the grants the request's
    /// subject holds on `limit` (its pool's), in draw order.
    pub fn grants(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
    ) -> Result<Vec<GrantBalance>, StoreError> {
        let (limit, _) = engine.pool_terms(limit, 0);
        let Some(name) = engine.limit_name(limit) else { return Ok(Vec::new()) };
        self.key_fits(request.key())?;
        let keys = self.keys(request.key(), name, None);
        let fields: Vec<String> = self.run_plain(&self.grants, &keys.grants, &[] as &[String])?;
        let mut grants = Vec::with_capacity(fields.len() / 2);
        for pair in fields.chunks(2) {
            let [id, record] = pair else { break };
            let grant = GrantBalance::parse(id, record)
                .ok_or_else(|| StoreError::Unreachable(format!("redis holds an unreadable grant `{record}`")))?;
            grants.push(grant);
        }
        grants.sort_by_key(|(_, order)| *order);
        Ok(grants.into_iter().map(|(grant, _)| grant).collect())
    }

    /// Runs a script that needs no session (it is idempotent, or reads) on the grants key.
    fn run_plain<T: ::redis::FromRedisValue>(
        &self,
        script: &super::Lua,
        key: &str,
        args: &[String],
    ) -> Result<T, StoreError> {
        let deadline = Instant::now() + self.config.timeout;
        let mut lease = self.pool.take(deadline, self.config.timeout).map_err(StoreError::Unreachable)?;
        let Some(slot) = lease.slot.as_mut() else { return Err(StoreError::Unreachable("no connection slot".into())) };
        self.runner
            .run::<T, String>(&mut slot.channel, script, &[key], args, deadline)
            .map_err(|(why, _)| StoreError::Unreachable(why))
    }
}

/// A refused grant as the store's error.
fn grant_error(error: GrantError) -> StoreError {
    StoreError::Grant(error)
}
