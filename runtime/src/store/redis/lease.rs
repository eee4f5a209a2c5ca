//! Leases: the shared meter at in-process speed, with a stated bound.
//!
//! A [`LeasedMeter`] takes a share of a counter's room from Redis as a hold (a reservation the
//! meter itself keeps, see `holds`), answers `try_consume` from it in process, and when the
//! share runs out (or its lease time, or its window, ends) settles what it spent and takes the
//! next share in one script call. While it holds a share, every other meter sees that share as
//! used, so all meters together never admit more than the ceiling — as long as they agree on
//! the time. The bound, which `docs/runtime.md` states for users:
//!
//! - A lease stops answering [`LeaseConfig::margin`] before its expiry by the meter's clock
//!   (the earlier of the request's `now` and the system clock, which a thread of the meter
//!   reads every half margin), and the holds are ended by the clock of whoever calls next.
//!   With every meter's clock within `margin` − 1.5 s of the others', no meter admits past
//!   the ceiling.
//! - A meter whose clock lags the others by more than that may go on spending a share the
//!   others already count as free, and a share that expires on Redis before its meter settles
//!   it (a crash, a partition) frees its room while what was spent from it is recorded only
//!   later, if at all: each such share over-admits at most its size.
//! - A share whose settling got no answer answers nothing more and is settled again; the
//!   script records only what was not recorded yet, so its spending counts once.
//!
//! So with `N` meters on a key, the total admitted in a window is at most
//! `ceiling + s × (k + c)`, where `s` is the share, `k` the meters whose clocks lag and `c`
//! those that did not settle a share in time. Leases also strand room: up to `N × s` may be
//! held by meters that do not use it, so a subject near its ceiling can be refused while
//! another process still holds some of it; [`LeasedMeter::close`] returns every share, and a
//! share a process never returns frees itself at its lease's expiry.
//!
//! Gauges and caps (no window) are metered exactly, through the underlying meter, as are
//! refunds of what was already settled on Redis.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use entitle::{Engine, LimitId, Request, Status, Usage};

use super::{ceiling_argument, RedisMeter, EXACT, GRACE_SECONDS};
use crate::meter::{sweep_clock, Consumed, Reservation};
use crate::store::{Source, StoreError, UsageMeter};

/// How a [`LeasedMeter`] takes its shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseConfig {
    /// How much of a counter one lease takes (or the amount asked for, if that is more).
    /// Default 100.
    pub share: u64,
    /// How long a lease is held on Redis. Default 10 seconds.
    pub lease_time: Duration,
    /// How long before its expiry a lease stops answering: the clock difference between
    /// machines the bound tolerates, plus the second and a half the meter's own clock may lag
    /// on the common call. Default 2 seconds; less than `lease_time`.
    pub margin: Duration,
}

impl Default for LeaseConfig {
    fn default() -> LeaseConfig {
        LeaseConfig { share: 100, lease_time: Duration::from_secs(10), margin: Duration::from_secs(2) }
    }
}

/// One share a meter holds of a subject's counter.
#[derive(Debug)]
struct Lease {
    limit: Arc<str>,
    reservation: Reservation,
    /// Spent so far from the share (never more than the share).
    spent: u64,
    /// What the counter held, recorded and held by others, when the share was granted: the
    /// usage answers report, with `spent` on top.
    base: u64,
    /// The instant from which the lease no longer answers: its expiry less the margin.
    stop: i64,
    /// The end of the counter's window the share is of.
    window_end: i64,
}

/// One shard's leases: each subject's, one per limit it leases.
type Leases = HashMap<Box<str>, Vec<Lease>>;

impl Lease {
    /// What is left of the share.
    fn room(&self) -> u64 {
        self.reservation.amount() - self.spent
    }
}

/// What a renewal asks for: a share of at least `need`, under `ceiling` (-1 for none), at the
/// caller's `clock`, in a counter whose keys may go at `keep`.
#[derive(Clone, Copy, Debug)]
struct Ask {
    share: u64,
    need: u64,
    ceiling: i64,
    clock: i64,
    keep: i64,
}

/// The shared meter, answering from shares of each counter held in process.
///
/// ```no_run
/// use entitle::{Engine, Request};
/// use entitle_runtime::store::redis::{LeaseConfig, LeasedMeter, RedisConfig, RedisMeter};
/// use entitle_runtime::store::UsageMeter;
///
/// let engine = Engine::from_source("p", "policy \"p\"\nlimit calls : count per day\ntier free { limit calls = 100_000 }\n")?;
/// let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
/// let meter = LeasedMeter::new(RedisMeter::new(RedisConfig::new("redis://127.0.0.1:6379"))?, LeaseConfig::default());
/// let request = Request::new(free, 1_795_255_200).with_key("app-42");
/// assert!(meter.try_consume(&engine, &request, calls, 1)?.quota.allowed); // takes a share of 100
/// assert!(meter.try_consume(&engine, &request, calls, 1)?.quota.allowed); // answered in process
/// meter.close()?;                                                            // returns what is left
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LeasedMeter {
    inner: Arc<Inner>,
}

/// What the meter and its settling thread share.
struct Inner {
    redis: RedisMeter,
    config: LeaseConfig,
    /// Leases by subject key, spread over locks by the key's hash.
    shards: Box<[Mutex<Leases>]>,
    hasher: std::collections::hash_map::RandomState,
    /// Calls answered from a lease, and script calls that settled or took one.
    local: AtomicU64,
    renewals: AtomicU64,
    /// Set when the meter is dropped: the settling thread stops.
    closed: AtomicBool,
    /// The system clock in seconds, as the settling thread last read it (every half margin):
    /// the leases' clock on the common call, which reading the system clock would double.
    coarse: AtomicI64,
}

impl std::fmt::Debug for LeasedMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &self.inner;
        f.debug_struct("LeasedMeter")
            .field("redis", &inner.redis)
            .field("config", &inner.config)
            .finish_non_exhaustive()
    }
}

impl LeasedMeter {
    /// Leases over `redis`, with `config`. A margin of at least the lease time is cut to half
    /// the lease time, so a lease always answers for a while.
    ///
    /// A thread of the meter's settles each lease as its time runs out (at its expiry less
    /// the margin, by the system clock), so what was spent from it is recorded before Redis
    /// frees the share, even when no call comes to renew it.
    pub fn new(redis: RedisMeter, mut config: LeaseConfig) -> LeasedMeter {
        if config.margin >= config.lease_time {
            config.margin = config.lease_time / 2;
        }
        let shards = (0..16).map(|_| Mutex::new(HashMap::new())).collect();
        let inner = Arc::new(Inner {
            redis,
            config,
            shards,
            hasher: std::collections::hash_map::RandomState::new(),
            local: AtomicU64::new(0),
            renewals: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            coarse: AtomicI64::new(crate::meter::system_clock()),
        });
        let tick = (config.margin / 2).max(Duration::from_millis(10));
        // Two threads, each holding the meter only while it works, so dropping the meter ends
        // them: one keeps the leases' clock, and never waits on Redis, so a settling pass
        // that waits cannot stop the clock the leases are judged by; the other settles.
        let clock = Arc::downgrade(&inner);
        let ticking = std::thread::Builder::new().name("entitle-lease-clock".into()).spawn(move || loop {
            std::thread::sleep(tick);
            let Some(inner) = clock.upgrade().filter(|inner| !inner.closed.load(Ordering::Relaxed)) else { break };
            inner.coarse.store(crate::meter::system_clock(), Ordering::Relaxed);
        });
        if ticking.is_err() {
            // Without the clock thread, the common call reads the system clock itself.
            inner.coarse.store(i64::MIN, Ordering::Relaxed);
        }
        let settler = Arc::downgrade(&inner);
        let settling = std::thread::Builder::new().name("entitle-leases".into()).spawn(move || loop {
            std::thread::sleep(tick);
            let Some(inner) = settler.upgrade().filter(|inner| !inner.closed.load(Ordering::Relaxed)) else { break };
            let ahead = i64::try_from(tick.as_secs()).unwrap_or(0).saturating_add(1);
            // A lease that cannot be settled now stays for the next tick.
            let _unsettled = inner.settle_due(crate::meter::system_clock().saturating_add(ahead));
        });
        // Without the settling thread (the system refused one) leases are still settled when
        // a call renews them or at `close`; a share no call comes back for then expires
        // unsettled, which the bound counts as a meter that did not settle.
        drop(settling);
        LeasedMeter { inner }
    }

    /// [`RedisMeter::grant`], through the shared meter: a lease never spends a grant, and a
    /// call its share cannot cover goes to the shared meter, which spends the grants.
    pub fn grant(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        grant: crate::meter::Grant,
    ) -> Result<crate::meter::Granted, StoreError> {
        self.inner.redis.grant(engine, request, limit, grant)
    }

    /// [`RedisMeter::grants`], through the shared meter.
    pub fn grants(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
    ) -> Result<Vec<crate::meter::GrantBalance>, StoreError> {
        self.inner.redis.grants(engine, request, limit)
    }

    /// How many calls were answered from a lease, and how many script calls settled a lease
    /// or took one (one Redis call each).
    pub fn counts(&self) -> (u64, u64) {
        (self.inner.local.load(Ordering::Relaxed), self.inner.renewals.load(Ordering::Relaxed))
    }

    /// Settles every lease (what was spent is recorded, the rest returned), one call each.
    /// Call it before the process stops: a lease never settled frees its share at its expiry,
    /// and what was spent from it is then never recorded (the docs count it in the bound).
    pub fn close(&self) -> Result<usize, StoreError> {
        self.inner.settle_due(i64::MAX)
    }
}

impl Drop for LeasedMeter {
    fn drop(&mut self) {
        self.inner.closed.store(true, Ordering::Relaxed);
        // Best effort: a store that cannot answer now leaves the leases to expire.
        let _ = self.inner.settle_due(i64::MAX);
    }
}

impl Inner {
    /// Settles every lease whose time stops by `by`, taking each out of its shard first so
    /// that no call waits on Redis behind the lock; a lease that cannot be settled goes back
    /// for the next try.
    fn settle_due(&self, by: i64) -> Result<usize, StoreError> {
        let mut settled = 0;
        let mut failed = None;
        for shard in self.shards.iter() {
            let due: Vec<(Box<str>, Lease)> = {
                let mut leases = lock(shard);
                let mut due = Vec::new();
                leases.retain(|key, list| {
                    let mut at = 0;
                    while at < list.len() {
                        if list.get(at).is_some_and(|lease| lease.stop <= by) {
                            due.push((key.clone(), list.swap_remove(at)));
                        } else {
                            at += 1;
                        }
                    }
                    !list.is_empty()
                });
                due
            };
            for (key, lease) in due {
                let r = &lease.reservation;
                match self.renew(Some(&lease), None, &self.redis.keys(r.key(), r.limit(), r.window_start())) {
                    Ok(_) => settled += 1,
                    Err(error) => {
                        // Settled or not (the reply may be what was lost), it answers nothing
                        // more and is settled again at the next pass, exactly once.
                        let mut lease = lease;
                        lease.stop = i64::MIN;
                        lock(shard).entry(key).or_default().push(lease);
                        failed = Some(error);
                    }
                }
            }
        }
        failed.map_or(Ok(settled), Err)
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, Leases> {
        use std::hash::BuildHasher;
        let at = usize::try_from(self.hasher.hash_one(key) >> 60).unwrap_or(0);
        let shard = self.shards.get(at).or_else(|| self.shards.first());
        #[expect(clippy::expect_used, reason = "the meter is built with sixteen shards")]
        lock(shard.expect("a shard"))
    }

    /// One script call: settles `old` (what was spent from it is recorded) and, if `ask` is
    /// given, takes a new share in `keys`' counter. Answers the script's `{done, granted,
    /// taken}`, then the new lease's expiry and id. Every key is the subject's, so one cluster
    /// slot holds them all; a side that is not used gets the other side's keys.
    fn renew(&self, old: Option<&Lease>, ask: Option<Ask>, keys: &super::keys::Keys) -> Result<Vec<i64>, StoreError> {
        let old_keys = old.map(|lease| {
            let r = &lease.reservation;
            self.redis.keys(r.key(), r.limit(), r.window_start())
        });
        let old_args = old.map_or([0; 5], |lease| {
            let r = &lease.reservation;
            let expire_at = lease.window_end.saturating_add(GRACE_SECONDS);
            [signed(r.id()), signed(r.amount()), signed(lease.spent), expire_at, r.window_start().unwrap_or(0)]
        });
        let lease_seconds = i64::try_from(self.config.lease_time.as_secs().max(1)).unwrap_or(i64::MAX);
        let (new_id, expires) = match ask {
            Some(ask) => {
                (signed(self.redis.next_hold.fetch_add(1, Ordering::Relaxed)), ask.clock.saturating_add(lease_seconds))
            }
            None => (0, 0),
        };
        let ask = ask.unwrap_or(Ask { share: 0, need: 0, ceiling: -1, clock: sweep_clock(i64::MAX), keep: 0 });
        let args = [
            old_args[0],
            old_args[1],
            old_args[2],
            new_id,
            signed(ask.share),
            signed(ask.need),
            ask.ceiling,
            ask.clock,
            expires,
            signed(self.redis.config.remember_seconds),
            ask.keep,
            signed(u64::try_from(self.redis.config.max_holds_per_counter).unwrap_or(u64::MAX)),
            old_args[3],
            old_args[4],
        ];
        let from = old_keys.as_ref().unwrap_or(keys);
        let all = [
            &from.holds,
            &from.live,
            &from.done,
            &from.counter,
            &from.latest,
            &keys.counter,
            &keys.holds,
            &keys.live,
            &keys.done,
        ];
        let new_hold = (new_id > 0).then(|| (new_id.unsigned_abs(), keys));
        let mut answer = self.redis.call_holds(&self.redis.renew, &all, &args, new_hold)?;
        self.renewals.fetch_add(1, Ordering::Relaxed);
        answer.extend([expires, new_id]);
        Ok(answer)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic under the lock cannot leave a lease half-changed (each change is one
    // assignment), so a poisoned lock is still sound to use.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A duration in whole seconds, rounded up: a margin of 1.5 s keeps 2 s, not 1.
fn whole_seconds(duration: Duration) -> i64 {
    let seconds = duration.as_secs().saturating_add(u64::from(duration.subsec_nanos() > 0));
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Inner {
    fn try_consume(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        amount: u64,
    ) -> Result<Consumed, StoreError> {
        // A limit that draws on a pool spends the pool's lease, as the exact meters count it.
        let (limit, amount) = engine.pool_terms(limit, amount);
        let key = request.key();
        // The common call first: a lease of this process covers it. One engine answer, on the
        // lease's view of the usage, decides it and says which window it is in. The lease's
        // time is judged as on Redis, by the earlier of the request's clock and the system's,
        // the latter as the settling thread last read it: at most half a margin and a second
        // behind, so a lease stops at least that long before its expiry (the margin's
        // default of 2 seconds leaves room for it).
        if let Some(name) = engine.limit_name(limit) {
            let coarse = self.coarse.load(Ordering::Relaxed);
            let system = if coarse == i64::MIN { crate::meter::system_clock() } else { coarse.saturating_add(1) };
            let clock = request.now().min(system);
            let mut leases = self.shard(key);
            let lease = leases.get_mut(key).and_then(|list| list.iter_mut().find(|lease| &*lease.limit == name));
            if let Some(lease) = lease.filter(|lease| clock < lease.stop && lease.room() >= amount) {
                let before = lease.base.saturating_add(lease.spent);
                let quota = engine.check_limit(request, limit, Usage::used(before).requesting(amount));
                // A share covers the plan only: overage, and the grants that come before it,
                // are the exact meter's to decide.
                let within = quota.allowed && quota.status != Status::Overage;
                if within && quota.window().map(|w| w.start) == lease.reservation.window_start() {
                    lease.spent += amount;
                    self.local.fetch_add(1, Ordering::Relaxed);
                    return Ok(Consumed::of(quota, amount, before.saturating_add(amount), Source::Lease));
                }
            }
        }
        let fresh = engine.check_limit(request, limit, Usage::used(0).requesting(amount));
        let (Some(name), Some(window)) =
            (engine.limit_name(limit).filter(|_| fresh.allowed && amount > 0 && !fresh.rolling()), fresh.window())
        else {
            // Denied by the engine, a gauge or cap, nothing to spend (a question of what is
            // used, which a share would answer with a lease of nothing), or a rolling window,
            // which has no window a share could last for: exact, through the shared meter.
            return self.redis.try_consume(engine, request, limit, amount);
        };
        let clock = sweep_clock(request.now());
        // The share does not cover the call: settle it and take the next in one call.
        self.redis.key_fits(key)?;
        if amount >= EXACT {
            return Err(StoreError::TooLarge(format!(
                "an amount of {amount} is 2^53 or more, past what redis counts exactly"
            )));
        }
        // Shares are of the plan's limit, never of the soft cap past it: past the limit the
        // subject's grants pay before overage, which only the exact meter spends.
        let ceiling = ceiling_argument(fresh.limit, None)?;
        // Taken out under the lock, and the lock let go for the Redis call: the shard's other
        // keys answer from their leases meanwhile. Two calls renewing one key at once may each
        // take a share; the meter then holds both until they are settled.
        let old = self.shard(key).get_mut(key).and_then(|list| {
            let at = list.iter().position(|lease| &*lease.limit == name)?;
            Some(list.swap_remove(at))
        });
        let keys = self.redis.keys(key, name, Some(window.start));
        let ask = Ask {
            share: self.config.share.max(amount),
            need: amount,
            ceiling,
            clock,
            keep: window.end.saturating_add(GRACE_SECONDS),
        };
        let answer = match self.renew(old.as_ref(), Some(ask), &keys) {
            Ok(answer) => answer,
            Err(error) => {
                // A share that may or may not have been settled (the call may have run, its
                // reply lost) stays for the next settling, and answers nothing more: what it
                // spent is then recorded exactly once either way.
                if let Some(mut old) = old {
                    old.stop = i64::MIN;
                    self.shard(key).entry(key.into()).or_default().push(old);
                }
                // The limit's failure mode answers, as for the exact meter.
                return match error {
                    StoreError::Unreachable(why) => self.redis.failed(why, name, engine, request, limit, amount, fresh),
                    error => Err(error),
                };
            }
        };
        match answer[..] {
            [1, granted, taken, expires, id] if granted > 0 => {
                let (granted, taken) = (granted.unsigned_abs(), taken.unsigned_abs());
                let margin = whole_seconds(self.config.margin);
                let reservation =
                    Reservation::new(id.unsigned_abs(), key, Arc::from(name), granted, expires, Some(window.start));
                let lease = Lease {
                    limit: Arc::from(name),
                    reservation,
                    spent: amount,
                    base: taken,
                    stop: expires - margin,
                    window_end: window.end,
                };
                self.shard(key).entry(key.into()).or_default().push(lease);
                let quota = engine.check_limit(request, limit, Usage::used(taken).requesting(amount));
                Ok(Consumed::of(quota, amount, taken.saturating_add(amount), Source::Store))
            }
            // Not even the amount fits the plan: the subject's grants may pay it, which only
            // the exact meter spends, in one more call.
            [0, ..] => self.redis.try_consume(engine, request, limit, amount),
            [-2, ..] => {
                Err(crate::meter::ReservationError::AtCapacity { max: self.redis.config.max_holds_per_counter }.into())
            }
            _ => Err(StoreError::Unreachable(format!("redis answered {answer:?} to a lease"))),
        }
    }

    fn refund(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, amount: u64) -> Result<u64, StoreError> {
        let (limit, amount) = engine.pool_refund_terms(limit, amount);
        let window = engine.check_limit(request, limit, Usage::default()).window();
        let mut back = 0;
        if let (Some(name), Some(window)) = (engine.limit_name(limit), window) {
            let mut leases = self.shard(request.key());
            if let Some(lease) = leases.get_mut(request.key()).and_then(|list| {
                // A share whose settling is in doubt answers nothing, refunds included.
                list.iter_mut().find(|lease| {
                    &*lease.limit == name
                        && lease.stop > i64::MIN
                        && lease.reservation.window_start() == Some(window.start)
                })
            }) {
                back = amount.min(lease.spent);
                lease.spent -= back;
            }
        }
        if back == amount {
            return Ok(back);
        }
        Ok(back + self.redis.refund(engine, request, limit, amount - back)?)
    }
}

impl UsageMeter for LeasedMeter {
    /// Answered from this process's share of the counter when it covers the amount; else one
    /// script call settles the share and takes the next (see the module's docs for the bound).
    fn try_consume(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        amount: u64,
    ) -> Result<Consumed, StoreError> {
        self.inner.try_consume(engine, request, limit, amount)
    }

    /// Exact, through the shared meter, in one script call: the batch is recorded on Redis
    /// directly rather than spent from this process's shares, which Redis counts as used, so
    /// the leases' bound holds with the batch beside them.
    fn try_consume_all<'o>(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limits: &[(LimitId, u64)],
        out: &'o mut [entitle::Quota],
    ) -> Result<crate::meter::ConsumedAll<'o>, StoreError> {
        self.inner.redis.try_consume_all(engine, request, limits, out)
    }

    /// Gives back from this process's share first (what it has not settled yet), then from
    /// Redis.
    fn refund(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, amount: u64) -> Result<u64, StoreError> {
        self.inner.refund(engine, request, limit, amount)
    }

    fn reserve(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        estimate: u64,
        lifetime: Duration,
    ) -> Result<crate::meter::Reserved, StoreError> {
        self.inner.redis.reserve(engine, request, limit, estimate, lifetime)
    }

    fn commit(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        reservation: &Reservation,
        actual: u64,
    ) -> Result<crate::meter::Committed, StoreError> {
        self.inner.redis.commit(engine, request, reservation, actual)
    }

    fn release(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        reservation: &Reservation,
    ) -> Result<crate::meter::Released, StoreError> {
        self.inner.redis.release(engine, request, reservation)
    }
}
