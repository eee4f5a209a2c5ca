//! Reservations on Redis: the in-process meter's rules (`crate::meter::Meter::reserve`), kept
//! by one script per step, so that holds made by any number of meters on any number of
//! machines count against one ceiling.
//!
//! A counter's holds live beside it, under the subject's hash tag: a hash of every hold by id
//! with the live sum, a sorted set of the live ones by expiry and one of the settled ones by
//! when they are forgotten (see `RESERVE`). Every script first ends the holds that expired by
//! the caller's clock, so a crashed caller's hold frees itself at its expiry whoever asks next.
//!
//! A reservation's id is chosen by the meter that grants it (from a random start, so that two
//! meters' ids never meet) and is the idempotency key of every step: a reserve, commit or
//! release that reaches Redis twice (a retry after a lost reply) is applied once. A reserve
//! the meter gave up on (no reply within the timeout) may reach Redis late, for nobody: the
//! connection's next call cancels it first (see `CANCEL`), as the next call settles a
//! consumption given up on.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use entitle::{Engine, LimitId, Reason, Request, Usage};

use super::link::Lua;
use super::{ceiling_argument, RedisMeter, EXACT, GRACE_SECONDS};
use crate::meter::{sweep_clock, Committed, Released, Reservation, ReservationError, Reserved};
use crate::store::StoreError;

/// A random start for a meter's reservation ids, below 2⁶² so that ids never reach 2⁶³ (the
/// scripts' arguments are signed).
pub(super) fn first_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0x686f_6c64);
    hasher.finish() >> 2
}

impl RedisMeter {
    /// [`Meter::reserve`](crate::meter::Meter::reserve) on Redis: holds `estimate` of `limit`
    /// for the request's subject for `lifetime`, counted by every meter sharing the Redis.
    /// A store that cannot answer is an error in every failure mode: a hold is never granted
    /// without it.
    pub fn reserve(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        estimate: u64,
        lifetime: Duration,
    ) -> Result<Reserved, StoreError> {
        let asked = limit;
        let (limit, estimate) = engine.pool_terms(limit, estimate);
        crate::meter::holdable(engine, limit)?;
        let seconds = crate::meter::hold_seconds(lifetime, self.config.max_hold_seconds, estimate)?;
        let check = |taken: u64| engine.check_limit(request, limit, Usage::used(taken).requesting(estimate));
        let fresh = check(0);
        // As for a consumption: an estimate past the ceiling by itself is still asked of Redis,
        // for the usage the answer reports.
        let Some(name) = engine.limit_name(limit).filter(|_| fresh.allowed || fresh.reason == Reason::LimitExceeded)
        else {
            return Ok(Reserved { quota: fresh, reservation: None });
        };
        self.key_fits(request.key())?;
        exact(estimate, "an estimate")?;
        let ceiling = ceiling_argument(fresh.limit, fresh.soft_cap)?;
        let window = fresh.window();
        let start = window.map(|w| w.start);
        let keys = self.keys(request.key(), name, start);
        let clock = sweep_clock(request.now());
        let expires = clock.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX));
        let keep = window.map_or(0, |w| w.end.saturating_add(GRACE_SECONDS));
        // A hold ends with its window, as in-process: it is live until the earlier of the two.
        let live_until = window.map_or(expires, |w| expires.min(w.end));
        let id = self.next_hold.fetch_add(1, Ordering::Relaxed);
        let args = [
            signed(id),
            signed(estimate),
            ceiling,
            clock,
            live_until,
            signed(self.config.remember_seconds),
            keep,
            signed(u64::try_from(self.config.max_holds_per_counter).unwrap_or(u64::MAX)),
        ];
        let keys_of_hold = [&keys.counter, &keys.holds, &keys.live, &keys.done];
        let answer = match self.call_holds(&self.reserve, &keys_of_hold, &args, Some((id, &keys))) {
            Ok(answer) => answer,
            // Denied whatever is used: no store is needed to say so.
            Err(StoreError::Unreachable(_)) if !fresh.allowed => {
                return Ok(Reserved { quota: fresh, reservation: None })
            }
            Err(error) => return Err(error),
        };
        match answer[..] {
            [1, taken] => {
                let quota = check(unsigned(taken));
                let reservation = Reservation::new(id, request.key(), Arc::from(name), estimate, expires, start)
                    .asked_for(engine, asked);
                Ok(Reserved { quota, reservation: Some(reservation) })
            }
            [0, taken] => Ok(Reserved { quota: check(unsigned(taken)), reservation: None }),
            [-2, _] => Err(ReservationError::AtCapacity { max: self.config.max_holds_per_counter }.into()),
            _ => Err(unreadable(&answer)),
        }
    }

    /// [`Meter::commit`](crate::meter::Meter::commit) on Redis: settles `reservation` with
    /// what the work used, in the request's window, once however often it is sent.
    pub fn commit(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        reservation: &Reservation,
        actual: u64,
    ) -> Result<Committed, StoreError> {
        let limit = owned_by(engine, request, reservation)?;
        let actual = reservation.counted(engine, actual)?;
        exact(actual, "an actual amount")?;
        let fresh = engine.check_limit(request, limit, Usage::default());
        // A request the engine refuses, or a limit its tier does not set, has no room for
        // more than the hold: its ceiling reads as 0.
        let ceiling = ceiling_argument(fresh.limit, fresh.soft_cap)?;
        let start = fresh.window().map(|w| w.start);
        let expire_at = fresh.window().map_or(0, |w| w.end.saturating_add(GRACE_SECONDS));
        let held = self.keys(reservation.key(), reservation.limit(), reservation.window_start());
        let now = self.keys(reservation.key(), reservation.limit(), start);
        let keys = [&held.holds, &held.live, &held.done, &now.counter, &now.holds, &now.live, &now.latest, &now.done];
        let args = [
            signed(reservation.id()),
            signed(reservation.amount()),
            signed(actual),
            ceiling,
            sweep_clock(request.now()),
            signed(self.config.remember_seconds),
            i64::from(start == reservation.window_start()),
            expire_at,
            start.unwrap_or(0),
            signed(self.next_hold.fetch_add(1, Ordering::Relaxed)),
        ];
        let answer = self.call_holds(&self.commit, &keys, &args, None)?;
        match answer[..] {
            [done @ (1 | 2), recorded, unrecorded] => {
                Ok(Committed { recorded: unsigned(recorded), unrecorded: unsigned(unrecorded), repeated: done == 2 })
            }
            [-1, ..] => Err(ReservationError::Unknown { id: reservation.id() }.into()),
            [-3, ..] => Err(ReservationError::Settled { id: reservation.id(), how: "released" }.into()),
            _ => Err(unreadable(&answer)),
        }
    }

    /// [`Meter::release`](crate::meter::Meter::release) on Redis: frees `reservation`'s hold
    /// and records nothing, once however often it is sent.
    pub fn release(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        reservation: &Reservation,
    ) -> Result<Released, StoreError> {
        owned_by(engine, request, reservation)?;
        let held = self.keys(reservation.key(), reservation.limit(), reservation.window_start());
        let args = [
            signed(reservation.id()),
            signed(reservation.amount()),
            sweep_clock(request.now()),
            signed(self.config.remember_seconds),
            signed(self.next_hold.fetch_add(1, Ordering::Relaxed)),
        ];
        let answer = self.call_holds(&self.release, &[&held.holds, &held.live, &held.done], &args, None)?;
        match answer[..] {
            [done @ (1 | 2), freed] => Ok(Released { freed: unsigned(freed), repeated: done == 2 }),
            [-1, ..] => Err(ReservationError::Unknown { id: reservation.id() }.into()),
            [-3, ..] => Err(ReservationError::Settled { id: reservation.id(), how: "committed" }.into()),
            _ => Err(unreadable(&answer)),
        }
    }

    /// Runs a reservation script on a pooled connection within the configured timeout, after
    /// settling any call the connection gave up on. No session: the reservation's id makes the
    /// script apply once, so a retry after a lost reply is safe.
    ///
    /// `new_hold` names the hold the call may make (its id, and its holds, live and done
    /// keys): if the call is given up on after it may have reached Redis, that hold is
    /// cancelled before the connection's next call (see `CANCEL`).
    pub(super) fn call_holds(
        &self,
        script: &Lua,
        keys: &[&String],
        args: &[i64],
        new_hold: Option<(u64, &super::keys::Keys)>,
    ) -> Result<Vec<i64>, StoreError> {
        let deadline = Instant::now() + self.config.timeout;
        let mut lease = self.pool.take(deadline, self.config.timeout).map_err(StoreError::Unreachable)?;
        let Some(slot) = lease.slot.as_mut() else { return Err(StoreError::Unreachable("no connection slot".into())) };
        self.settle_abandoned(slot, deadline).map_err(StoreError::Unreachable)?;
        let keys: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
        self.runner.run::<Vec<i64>, i64>(&mut slot.channel, script, &keys, args, deadline).map_err(|(why, sent)| {
            if let (true, Some((id, hold))) = (sent, new_hold) {
                let keys = [hold.holds.clone(), hold.live.clone(), hold.done.clone()];
                slot.abandoned_hold = Some(super::AbandonedHold { id, keys });
            }
            StoreError::Unreachable(why)
        })
    }
}

/// The id of the limit the reservation is on, if the request is for its subject.
fn owned_by(engine: &Engine, request: &Request<'_>, reservation: &Reservation) -> Result<LimitId, StoreError> {
    let limit = engine.limit(reservation.limit()).filter(|_| request.key() == reservation.key());
    limit.ok_or_else(|| {
        ReservationError::Foreign {
            id: reservation.id(),
            key: reservation.key().to_string(),
            limit: reservation.limit().to_string(),
        }
        .into()
    })
}

/// Refuses an amount Redis cannot count exactly.
fn exact(amount: u64, what: &str) -> Result<(), StoreError> {
    if amount >= EXACT {
        return Err(StoreError::TooLarge(format!(
            "{what} of {amount} is 2^53 or more, past what redis counts exactly"
        )));
    }
    Ok(())
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn unreadable(answer: &[i64]) -> StoreError {
    StoreError::Unreachable(format!("redis answered {answer:?} to a reservation step"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_start_below_two_to_the_sixty_two() {
        assert!((0..100).map(|_| super::first_id()).all(|id| id < 1 << 62));
    }

    #[test]
    fn keys_of_a_hold_share_the_subjects_tag() {
        let keys = super::super::keys::Keys::new("entitle:", "acme", "credits", Some(5));
        for key in [&keys.holds, &keys.live, &keys.done] {
            assert!(key.starts_with(&keys.stem), "{key}");
        }
    }
}
