//! The meter shared through Redis: one round trip per `try_consume`, decided on the server.
//!
//! The engine answers locally (tier, add-ons, the window, the ceiling); one Lua script then
//! compares and increments the window's key on the server, so any number of service
//! instances sharing the Redis never together pass a ceiling. Counts are exact up to 2⁵³
//! (Lua's numbers); larger amounts and ceilings are refused with [`StoreError::TooLarge`].
//! The configured timeout bounds a whole call: waiting for a free connection, connecting, the
//! script, and its one retry on a new connection all share it.
//!
//! When Redis cannot answer within it, each limit fails as declared: the limit's own
//! [`FailureMode`] ([`RedisConfig::on_failure`]), else [`RedisConfig::failure_mode`]. Failing
//! closed is an error; failing open, the engine's answer with no usage; a local share, the
//! answer of an in-process [`Meter`] the meter keeps, against the ceiling divided by the
//! declared number of processes. Every answer says which ([`Consumed::source`]).
//!
//! Redis is one server ([`RedisConfig::new`]) or a Redis Cluster ([`RedisConfig::cluster`]),
//! with the same keys and scripts. Every key begins with the prefix and the subject's hash
//! tag in braces, `<prefix>{<tag>}`, where the tag is a number of at most six digits that
//! Redis Cluster places in the slot of the subject's own bytes (see `keys`); so every key one
//! call touches is in one slot, and subjects spread over a cluster's nodes as their keys
//! would. After the tag:
//!
//! - `<subject length>:<subject>:<limit>:<window start>` (`-` for no window): the counter;
//!   the length makes any subject unambiguous. It expires a minute after its window ends.
//! - `<subject length>:<subject>:<limit>:latest`: the subject's latest window of the limit,
//!   which is how a refund tells a window the subject has moved on from.
//! - `session:<meter>:<connection>`: every script call is numbered on its connection slot,
//!   and Redis keeps the slot's latest call for the tag's hash slot with its result, so one
//!   call is applied once however many times it reaches the server. That costs one small
//!   hash (152 bytes by `MEMORY USAGE`) per connection slot and hash slot in use: at most
//!   16384 per connection, however many subjects, each expiring
//!   [`RedisConfig::session_ttl`] after its last call.

mod batch;
mod grants;
mod holds;
mod keys;
mod lease;
mod link;
mod rolling;
mod scripts;

pub use lease::{LeaseConfig, LeasedMeter};

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use entitle::{Amount, Engine, LimitId, Quota, Reason, Request, Usage};

use self::keys::Keys;
use self::link::{Channel, Lua, Runner, Target};
use super::{FailureMode, Source, StoreError, UsageMeter};
use crate::meter::{Consumed, Meter, MeterConfig};

/// The largest amount or ceiling Lua's numbers hold exactly.
const EXACT: u64 = 1 << 53;
/// How long after its window a counter's key lives, for instances whose clocks lag.
const GRACE_SECONDS: i64 = 60;

/// How to reach Redis.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RedisConfig {
    /// A `redis://host:port/db` address, for one server. Unused when `cluster_nodes` has any.
    pub url: String,
    /// Seed nodes of a Redis Cluster (`redis://host:port` each, a password in any of them the
    /// same as in all): the meter reads the cluster's slot map from the first that answers and
    /// runs each call on the node of its keys. Empty for one server. See [`RedisConfig::cluster`].
    pub cluster_nodes: Vec<String>,
    /// Prepended to every key. Default `entitle:`. On a cluster it may not hold `{` or `}`, which
    /// would take the place of the keys' hash tag.
    pub prefix: String,
    /// The most one call may take: waiting for a free connection, connecting, and every
    /// try and retry share it. Default 200 ms.
    pub timeout: Duration,
    /// Connections kept open; a call takes a free one, or waits for one within its timeout.
    /// Default 4.
    pub connections: usize,
    /// What to do when Redis cannot answer within the timeout, for every limit without a
    /// mode of its own in `failure_modes`. Default [`FailureMode::Closed`].
    pub failure_mode: FailureMode,
    /// What to do when Redis cannot answer, per limit name (the policy's `limit` names); see
    /// [`RedisConfig::on_failure`]. A name the engine has no limit of is never asked for, so it
    /// changes nothing. Default empty.
    pub failure_modes: HashMap<String, FailureMode>,
    /// The most counters the local share ([`FailureMode::LocalShare`]) holds at once, all
    /// limits together; at that many live ones a new subject's local answer is refused with
    /// [`MeterError::AtCapacity`](crate::meter::MeterError::AtCapacity) (deny). Default 100,000
    /// (about 25 MB with 12-byte keys: see the in-process meter's figures).
    pub local_counters: usize,
    /// How long Redis remembers each connection's latest call (for each hash slot) after it
    /// ran, so that a second copy of it (a retry after a lost reply, or a copy the network
    /// delayed) is recognised and not applied again. Default 10 minutes.
    pub session_ttl: Duration,
    /// The longest subject key the meter counts for, in bytes: a longer one is refused with
    /// [`MeterError::KeyTooLong`](crate::meter::MeterError::KeyTooLong) before Redis is asked, and
    /// nothing is recorded, so a caller cannot make Redis keys (and their memory) of any size.
    /// Default 256, as the in-process meter's.
    pub max_key_bytes: usize,
    /// The longest lifetime of a reservation's hold, in seconds. Default 604,800 (a week), as
    /// the in-process meter's.
    pub max_hold_seconds: u64,
    /// How long a settled reservation, or a grant spent in full, is remembered, in seconds.
    /// Default 3,600.
    pub remember_seconds: u64,
    /// The most grants ([`RedisMeter::grant`]) one subject holds on one limit; one more is
    /// refused with [`GrantError::AtCapacity`](crate::meter::GrantError::AtCapacity).
    /// Default 64.
    pub max_grants: usize,
    /// The most holds (live or remembered) one counter keeps on Redis; one more is refused
    /// with [`ReservationError::AtCapacity`](crate::meter::ReservationError::AtCapacity).
    /// Default 100,000.
    pub max_holds_per_counter: usize,
}

impl RedisConfig {
    /// The defaults, for the Redis server at `url`.
    pub fn new(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            url: url.into(),
            cluster_nodes: Vec::new(),
            prefix: "entitle:".into(),
            timeout: Duration::from_millis(200),
            connections: 4,
            failure_mode: FailureMode::Closed,
            failure_modes: HashMap::new(),
            local_counters: 100_000,
            session_ttl: Duration::from_secs(600),
            max_key_bytes: 256,
            max_hold_seconds: 604_800,
            remember_seconds: 3_600,
            max_grants: 64,
            max_holds_per_counter: 100_000,
        }
    }

    /// The defaults, for the Redis Cluster that `nodes` (`redis://host:port` each) belong to.
    /// One reachable seed is enough; more let the meter connect while some are down.
    pub fn cluster<S: Into<String>>(nodes: impl IntoIterator<Item = S>) -> RedisConfig {
        RedisConfig { cluster_nodes: nodes.into_iter().map(Into::into).collect(), ..RedisConfig::new("") }
    }

    /// Declares what the limit named `limit` does when Redis cannot answer, in place of
    /// [`RedisConfig::failure_mode`]; a later declaration for the same name replaces it.
    ///
    /// ```
    /// use entitle_runtime::store::FailureMode;
    /// use entitle_runtime::store::redis::RedisConfig;
    ///
    /// let config = RedisConfig::new("redis://127.0.0.1:6379/")
    ///     .on_failure("api_calls", FailureMode::LocalShare { processes: 4 })
    ///     .on_failure("page_views", FailureMode::Open);
    /// assert_eq!(config.failure_mode_for("page_views"), FailureMode::Open);
    /// assert_eq!(config.failure_mode_for("ai_credits"), FailureMode::Closed); // the default
    /// ```
    #[must_use]
    pub fn on_failure(mut self, limit: impl Into<String>, mode: FailureMode) -> RedisConfig {
        self.failure_modes.insert(limit.into(), mode);
        self
    }

    /// What the limit named `limit` does when Redis cannot answer: its own mode, else
    /// [`RedisConfig::failure_mode`].
    pub fn failure_mode_for(&self, limit: &str) -> FailureMode {
        self.failure_modes.get(limit).copied().unwrap_or(self.failure_mode)
    }
}

/// One pooled connection and the numbering of the calls made through it. A call holds its
/// slot from start to end (retries included), so a call's number is the one identity both of
/// its copies share, and every later call on the slot has a larger one.
struct Slot {
    channel: Channel,
    /// The number of the latest call; Redis keeps it, with its result, in the session of the
    /// call's hash slot.
    seq: u64,
    /// `session:<meter>:<slot>`, after a subject's `<prefix>{<tag>}`: unique to this meter's
    /// slot (the meter's part is random), so no two meters, here or on other machines, share
    /// one.
    session: String,
    /// The call the meter last gave up on without an answer: Redis may have run it, or may
    /// still run it when a stalled server or network lets it through. It is settled before
    /// the slot applies anything else, so at most one is ever pending.
    abandoned: Option<Abandoned>,
    /// A hold the slot asked for and gave up on without an answer (a reserve, or a lease's
    /// next share): Redis may have made it, or may make it late, for nobody. It is cancelled
    /// before the slot's next call, so it takes no room past that.
    abandoned_hold: Option<AbandonedHold>,
}

/// A hold given up on: its id, and its holds, live and done keys.
pub(super) struct AbandonedHold {
    pub(super) id: u64,
    pub(super) keys: [String; 3],
}

/// A call given up on, with the keys its settling needs: its counter and its session (in its
/// subject's hash slot, so the settling runs where the call did).
struct Abandoned {
    seq: u64,
    counters: Vec<String>,
    session: String,
}

/// The slots no call holds, and a signal for callers waiting for one.
struct Pool {
    idle: Mutex<Vec<Slot>>,
    freed: Condvar,
    size: usize,
}

impl Pool {
    /// A free slot, waiting for one until `deadline` at the latest.
    fn take(&self, deadline: Instant, timeout: Duration) -> Result<Lease<'_>, String> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(slot) = idle.pop() {
                return Ok(Lease { pool: self, slot: Some(slot) });
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|left| !left.is_zero()) else {
                return Err(format!(
                    "no connection to redis was free within {} ms ({} connections, all busy)",
                    timeout.as_millis(),
                    self.size
                ));
            };
            idle = self.freed.wait_timeout(idle, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

/// A slot taken from the pool, given back when dropped.
struct Lease<'p> {
    pool: &'p Pool,
    slot: Option<Slot>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.pool.idle.lock().unwrap_or_else(PoisonError::into_inner).push(slot);
            self.pool.freed.notify_one();
        }
    }
}

/// A [`UsageMeter`] on Redis.
pub struct RedisMeter {
    runner: Runner,
    config: RedisConfig,
    pool: Pool,
    consume: Lua,
    consume_all: Lua,
    refund: Lua,
    rolling_refund: Lua,
    settle: Lua,
    reserve: Lua,
    commit: Lua,
    release: Lua,
    renew: Lua,
    cancel: Lua,
    grant: Lua,
    grants: Lua,
    /// The next reservation's id: from a random start, so that two meters' ids never meet.
    next_hold: AtomicU64,
    fail_open: AtomicU64,
    /// The local shares' counters, for limits that fail to [`FailureMode::LocalShare`]: each
    /// amount is recorded multiplied by the limit's `processes` (see `local_share`).
    local: Meter,
    local_answers: AtomicU64,
}

impl std::fmt::Debug for RedisMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisMeter").field("config", &self.config).finish_non_exhaustive()
    }
}

impl RedisMeter {
    /// A meter on the Redis of `config`. Connections open on first use, so this fails only
    /// for an address that cannot be parsed, or a cluster's prefix that holds a brace.
    pub fn new(config: RedisConfig) -> Result<RedisMeter, StoreError> {
        let unusable = |e: ::redis::RedisError| StoreError::Unreachable(e.to_string());
        let target = if config.cluster_nodes.is_empty() {
            Target::Server(::redis::Client::open(config.url.as_str()).map_err(unusable)?)
        } else {
            if config.prefix.contains(['{', '}']) {
                return Err(StoreError::Unreachable(format!(
                    "the prefix `{}` holds a brace, which would take the place of the keys' hash tag on a cluster",
                    config.prefix
                )));
            }
            // No retries of the client's own: each would wait a full timeout (see `link`).
            let client = ::redis::cluster::ClusterClient::builder(config.cluster_nodes.iter().map(String::as_str))
                .retries(0)
                .build()
                .map_err(unusable)?;
            Target::Cluster(client)
        };
        let address = target.address(&config.cluster_nodes);
        let id = meter_id();
        let size = config.connections.max(1);
        let idle = (0..size)
            .map(|slot| Slot {
                channel: Channel::default(),
                seq: 0,
                session: format!("session:{id}:{slot}"),
                abandoned: None,
                abandoned_hold: None,
            })
            .collect();
        Ok(RedisMeter {
            runner: Runner { target, address, timeout: config.timeout },
            pool: Pool { idle: Mutex::new(idle), freed: Condvar::new(), size },
            consume: Lua::new(scripts::CONSUME),
            consume_all: Lua::new(scripts::CONSUME_ALL),
            refund: Lua::new(scripts::REFUND),
            rolling_refund: Lua::new(scripts::ROLLING_REFUND),
            settle: Lua::new(scripts::SETTLE),
            reserve: Lua::new(scripts::RESERVE),
            commit: Lua::new(scripts::COMMIT),
            release: Lua::new(scripts::RELEASE),
            renew: Lua::new(scripts::RENEW),
            cancel: Lua::new(scripts::CANCEL),
            grant: Lua::new(scripts::GRANT),
            grants: Lua::new(scripts::GRANTS),
            next_hold: AtomicU64::new(holds::first_id()),
            fail_open: AtomicU64::new(0),
            local: Meter::with_config(MeterConfig {
                max_counters: config.local_counters,
                max_key_bytes: config.max_key_bytes,
                ..MeterConfig::default()
            }),
            local_answers: AtomicU64::new(0),
            config,
        })
    }

    /// How many answers failed open ([`Source::FailedOpen`]): made without Redis, recording
    /// nothing, for limits that fail [`FailureMode::Open`].
    pub fn fail_open_count(&self) -> u64 {
        self.fail_open.load(Ordering::Relaxed)
    }

    /// How many answers came from the local share ([`Source::LocalShare`]), for limits that
    /// fail to [`FailureMode::LocalShare`].
    pub fn local_share_count(&self) -> u64 {
        self.local_answers.load(Ordering::Relaxed)
    }

    /// Runs `script` on a pooled connection as the slot's next call, with the counter, the
    /// slot's session for the subject's hash slot and the subject's latest window key, and the
    /// call's number first, then `args` and the session's lifetime.
    /// Reconnects once if the connection broke; both tries are the same call (one number), so
    /// a first try that ran but lost its reply makes the second return the first one's
    /// result instead of applying again.
    ///
    /// A call that fails after it may have been sent is abandoned: the caller is told it
    /// recorded nothing, so the slot's next call first settles it (see `SETTLE`) and applies
    /// nothing until that succeeded.
    ///
    /// The whole call, the wait for a free slot included, ends by the configured timeout.
    ///
    /// The keys after the session are the subject's latest window, the counter's holds (three
    /// keys), the subject's grants on the limit and what they paid in the window; a call it
    /// gives up on is settled on the counter and on the grants.
    ///
    /// `extra` keys follow them: a rolling window's other buckets, which `CONSUME` reads.
    fn call(&self, script: &Lua, keys: &Keys, extra: &[&str], args: &[i64]) -> Result<Vec<i64>, String> {
        let after = [
            keys.latest.as_str(),
            keys.holds.as_str(),
            keys.live.as_str(),
            keys.done.as_str(),
            keys.grants.as_str(),
            keys.paid.as_str(),
        ];
        let counters = [keys.counter.as_str(), keys.grants.as_str(), keys.paid.as_str()];
        self.call_keys(script, keys, &counters, &[keys.counter.as_str()], &[&after, extra], args)
    }

    /// `call`, for a script whose keys are `before`, then the slot's session for the hash
    /// slot of `subject` (any of the subject's keys), then the lists of `after` in order; `counters` are the counters the script
    /// may record on, in the order of the `undo` list it leaves in the session (see `SETTLE`).
    fn call_keys(
        &self,
        script: &Lua,
        subject: &Keys,
        counters: &[&str],
        before: &[&str],
        after: &[&[&str]],
        args: &[i64],
    ) -> Result<Vec<i64>, String> {
        let deadline = Instant::now() + self.config.timeout;
        let mut lease = self.pool.take(deadline, self.config.timeout)?;
        let Some(slot) = lease.slot.as_mut() else { return Err("no connection slot".into()) };
        let ttl = i64::try_from(self.config.session_ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        self.settle_abandoned(slot, deadline)?;
        slot.seq += 1;
        let session = subject.session(&slot.session);
        let mut all_keys = Vec::with_capacity(before.len() + 1 + after.iter().map(|keys| keys.len()).sum::<usize>());
        all_keys.extend_from_slice(before);
        all_keys.push(session.as_str());
        all_keys.extend(after.iter().flat_map(|keys| keys.iter().copied()));
        let mut all_args = Vec::with_capacity(args.len() + 2);
        all_args.push(seq_argument(slot.seq));
        all_args.extend_from_slice(args);
        all_args.push(ttl);
        let answer = match self.runner.run::<Vec<i64>, i64>(&mut slot.channel, script, &all_keys, &all_args, deadline) {
            Ok(answer) => answer,
            Err((why, sent)) => {
                if sent {
                    let counters = counters.iter().map(|c| (*c).to_string()).collect();
                    slot.abandoned = Some(Abandoned { seq: slot.seq, counters, session });
                }
                return Err(why);
            }
        };
        if answer.first().is_some_and(|&done| done < 0) {
            return Err("redis holds a later call of this connection than the one sent".into());
        }
        Ok(answer)
    }

    /// Settles the call the slot last gave up on, if any (see `SETTLE`), before the slot
    /// applies anything else.
    fn settle_abandoned(&self, slot: &mut Slot, deadline: Instant) -> Result<(), String> {
        let ttl = i64::try_from(self.config.session_ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        if let Some(abandoned) = &slot.abandoned {
            slot.seq += 1;
            let mut keys = vec![abandoned.session.as_str()];
            keys.extend(abandoned.counters.iter().map(String::as_str));
            let args = [seq_argument(slot.seq), seq_argument(abandoned.seq), ttl];
            // A settle that fails applied nothing, so it needs no settling of its own; the
            // abandoned call stays pending for the next one.
            let (done, _) = self
                .runner
                .run::<(i64, i64), i64>(&mut slot.channel, &self.settle, &keys, &args, deadline)
                .map_err(|(why, _)| why)?;
            if done < 0 {
                return Err("redis holds a later call of this connection than the one sent".into());
            }
            slot.abandoned = None;
        }
        if let Some(hold) = &slot.abandoned_hold {
            let keys = [hold.keys[0].as_str(), hold.keys[1].as_str(), hold.keys[2].as_str()];
            let clock = crate::meter::sweep_clock(i64::MAX);
            let remember = i64::try_from(self.config.remember_seconds).unwrap_or(i64::MAX);
            let args = [seq_argument(hold.id), clock, remember];
            self.runner
                .run::<Vec<i64>, i64>(&mut slot.channel, &self.cancel, &keys, &args, deadline)
                .map_err(|(why, _)| why)?;
            slot.abandoned_hold = None;
        }
        Ok(())
    }

    /// The keys of `subject`'s usage of `limit` in the window starting at `window_start`.
    fn keys(&self, subject: &str, limit: &str, window_start: Option<i64>) -> Keys {
        Keys::new(&self.config.prefix, subject, limit, window_start)
    }
}

/// An amount as a script argument: past `i64::MAX`, `i64::MAX` (Redis counts exactly only
/// below 2⁵³, which the ceiling's check refuses first).
fn signed_amount(amount: u64) -> i64 {
    i64::try_from(amount).unwrap_or(i64::MAX)
}

/// A call's number as a script argument (a slot makes fewer than 2⁶³ calls).
fn seq_argument(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// 128 random bits in hex, from the standard library's per-process random hash keys (seeded
/// by the operating system), which is all the randomness a meter's name needs.
fn meter_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let half = |salt: u64| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(salt);
        hasher.finish()
    };
    format!("{:016x}{:016x}", half(1), half(2))
}

fn ceiling_argument(limit: Amount, soft_cap: Option<Amount>) -> Result<i64, StoreError> {
    match soft_cap.unwrap_or(limit) {
        Amount::Unlimited => Ok(-1),
        Amount::Finite(n) if n < EXACT => Ok(n.cast_signed()),
        Amount::Finite(n) => {
            Err(StoreError::TooLarge(format!("a ceiling of {n} is 2^53 or more, past what redis counts exactly")))
        }
    }
}

impl RedisMeter {
    /// Refuses a subject key past [`RedisConfig::max_key_bytes`].
    fn key_fits(&self, key: &str) -> Result<(), StoreError> {
        let max = self.config.max_key_bytes;
        if key.len() > max {
            return Err(StoreError::Meter(crate::meter::MeterError::KeyTooLong { len: key.len(), max }));
        }
        Ok(())
    }
}

impl UsageMeter for RedisMeter {
    fn try_consume(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        amount: u64,
    ) -> Result<Consumed, StoreError> {
        // Counted on the pool's counter, in its units, for a limit that draws on one; its
        // failure mode is the pool's.
        let (limit, amount) = engine.pool_terms(limit, amount);
        let limit_id = limit;
        let check = |used: u64| engine.check_limit(request, limit, Usage::used(used).requesting(amount));
        let fresh = check(0);
        // An amount past the ceiling by itself is still asked of Redis (the script denies it
        // and says what is used), so that the answer's usage is the in-process meter's; a
        // request the engine refuses outright (an unknown tier, a limit not set) is not.
        let Some(name) = engine.limit_name(limit).filter(|_| fresh.allowed || fresh.reason == Reason::LimitExceeded)
        else {
            return Ok(Consumed::of(fresh, 0, 0, Source::Store));
        };
        self.key_fits(request.key())?;
        if amount >= EXACT {
            return Err(StoreError::TooLarge(format!(
                "an amount of {amount} is 2^53 or more, past what redis counts exactly"
            )));
        }
        let ceiling = ceiling_argument(fresh.limit, fresh.soft_cap)?;
        // A rolling window records on the bucket of the request's instant and reads the rest.
        let (keys, others, start, expire_at) = match self.buckets(request.key(), name, &fresh) {
            Some(buckets) => (buckets.keys, buckets.others, Some(buckets.start), buckets.expire_at),
            None => {
                let start = fresh.window().map(|w| w.start);
                let expire_at = fresh.window().map_or(0, |w| w.end.saturating_add(GRACE_SECONDS));
                (self.keys(request.key(), name, start), Vec::new(), start, expire_at)
            }
        };
        let others: Vec<&str> = others.iter().map(String::as_str).collect();
        let clock = crate::meter::sweep_clock(request.now());
        let remember = i64::try_from(self.config.remember_seconds).unwrap_or(i64::MAX);
        // The plan's limit, past which the subject's grants pay (-1: they never do).
        let plan = match fresh.limit {
            Amount::Finite(limit) if fresh.allowed || fresh.reason == Reason::LimitExceeded => signed_amount(limit),
            _ => -1,
        };
        let args = [amount.cast_signed(), ceiling, expire_at, start.unwrap_or(0), clock, remember, plan, request.now()];
        match self.call(&self.consume, &keys, &others, &args) {
            Ok(answer) => {
                let number = |n: i64| u64::try_from(n).unwrap_or(0);
                let (allowed, before, held, from_grants, grants_left) = match answer[..] {
                    [allowed, before, held, from, left] => {
                        (allowed, number(before), number(held), number(from), number(left))
                    }
                    _ => return Err(StoreError::Unreachable(format!("redis answered {answer:?} to a consume"))),
                };
                // Live holds count as used for the engine's answer, as in-process; what the
                // grants paid is taken off the plan's request, as in-process.
                let taken = before.saturating_add(held);
                let quota = if from_grants > 0 {
                    let ask = |used: u64, amount: u64| {
                        engine.check_limit(request, limit_id, Usage::used(used).requesting(amount))
                    };
                    crate::meter::paid_in_part(taken, u64::try_from(plan).unwrap_or(0), amount, from_grants, ask)
                } else {
                    check(taken)
                };
                let recorded = if allowed == 1 { amount } else { 0 };
                let used = before.saturating_add(recorded - from_grants.min(recorded));
                let consumed = Consumed::of(quota, recorded, used, Source::Store);
                Ok(Consumed { from_grants, grants_left, ..consumed })
            }
            // Denied whatever is used and whatever grants hold (a request the limit refuses
            // by itself, which grants could still pay, is not): the failure mode has nothing
            // to decide.
            Err(_) if !fresh.allowed && fresh.reason != Reason::LimitExceeded => {
                Ok(Consumed::of(fresh, 0, 0, Source::Store))
            }
            Err(why) => self.failed(why, name, engine, request, limit, amount, fresh),
        }
    }

    fn try_consume_all<'o>(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limits: &[(LimitId, u64)],
        out: &'o mut [Quota],
    ) -> Result<crate::meter::ConsumedAll<'o>, StoreError> {
        self.consume_all(engine, request, limits, out)
    }

    fn refund(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, amount: u64) -> Result<u64, StoreError> {
        let (limit, amount) = engine.pool_refund_terms(limit, amount);
        let Some(name) = engine.limit_name(limit) else { return Ok(0) };
        self.key_fits(request.key())?;
        let fresh = engine.check_limit(request, limit, Usage::default());
        let capped = amount.min(EXACT).cast_signed();
        let answer = match self.buckets(request.key(), name, &fresh) {
            // A rolling window gives back from its buckets that count, newest first.
            Some(buckets) => {
                let newest_first = buckets.newest_first();
                self.call_keys(&self.rolling_refund, &buckets.keys, &newest_first, &[], &[&newest_first], &[capped])
            }
            None => self.refund_window(request, name, &fresh, capped),
        };
        match answer {
            Ok(answer) => Ok(answer.get(1).and_then(|&back| u64::try_from(back).ok()).unwrap_or(0)),
            Err(why) => self.refund_failed(why, engine, request, limit, name, amount),
        }
    }

    fn reserve(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        estimate: u64,
        lifetime: Duration,
    ) -> Result<crate::meter::Reserved, StoreError> {
        RedisMeter::reserve(self, engine, request, limit, estimate, lifetime)
    }

    fn commit(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        reservation: &crate::meter::Reservation,
        actual: u64,
    ) -> Result<crate::meter::Committed, StoreError> {
        RedisMeter::commit(self, engine, request, reservation, actual)
    }

    fn release(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        reservation: &crate::meter::Reservation,
    ) -> Result<crate::meter::Released, StoreError> {
        RedisMeter::release(self, engine, request, reservation)
    }
}

impl RedisMeter {
    /// The answer when Redis could not decide a consumption (`why`) of limit `name`, by the
    /// limit's failure mode; `fresh` is the engine's answer with no usage.
    #[expect(clippy::too_many_arguments, reason = "a consumption's inputs, passed on whole from its two callers")]
    pub(super) fn failed(
        &self,
        why: String,
        name: &str,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        amount: u64,
        fresh: Quota,
    ) -> Result<Consumed, StoreError> {
        match self.config.failure_mode_for(name) {
            FailureMode::Closed => Err(StoreError::Unreachable(why)),
            FailureMode::Open => {
                self.fail_open.fetch_add(1, Ordering::Relaxed);
                Ok(Consumed::of(fresh, 0, 0, Source::FailedOpen))
            }
            FailureMode::LocalShare { processes } => {
                let consumed = self.local_share(engine, request, limit, amount, processes)?;
                self.local_answers.fetch_add(1, Ordering::Relaxed);
                Ok(consumed)
            }
        }
    }

    /// Decides `amount` on the process's share of the ceiling: the ceiling divided by `n =
    /// processes`, rounded down.
    ///
    /// The local meter records every amount multiplied by `n`, so it asks the engine with `n`
    /// times the share's usage and amount, and `n · (used + amount) ≤ ceiling` is exactly
    /// `used + amount ≤ ⌊ceiling / n⌋`, for the limit and the soft cap alike: the engine's own
    /// comparison, under the local meter's lock, decides against the share. The answer is put
    /// back in the share's units.
    fn local_share(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        amount: u64,
        processes: u32,
    ) -> Result<Consumed, StoreError> {
        let n = u64::from(processes.max(1));
        let scaled = self.local.try_consume(engine, request, limit, amount.saturating_mul(n))?;
        let recorded = if scaled.recorded > 0 { amount } else { 0 };
        let used = scaled.used / n;
        let before = used.saturating_sub(recorded);
        let mut quota: Quota = scaled.quota;
        quota.limit = share(quota.limit, n);
        quota.soft_cap = quota.soft_cap.map(|cap| share(cap, n));
        quota.remaining = match quota.limit {
            Amount::Finite(limit) => Amount::Finite(limit.saturating_sub(before)),
            Amount::Unlimited => Amount::Unlimited,
        };
        Ok(Consumed::of(quota, recorded, used, Source::LocalShare))
    }
}

/// One process's share of `amount` among `n`, rounded down.
fn share(amount: Amount, n: u64) -> Amount {
    match amount {
        Amount::Finite(total) => Amount::Finite(total / n),
        Amount::Unlimited => Amount::Unlimited,
    }
}

impl RedisMeter {
    /// `REFUND` on the counter of a window that resets (or of a gauge or cap).
    fn refund_window(&self, request: &Request<'_>, name: &str, fresh: &Quota, capped: i64) -> Result<Vec<i64>, String> {
        let start = fresh.window().map(|w| w.start);
        let keys = self.keys(request.key(), name, start);
        // Past the plan's limit a refund gives back overage first (-1: no limit to be past).
        let plan = match fresh.limit {
            Amount::Finite(limit) => signed_amount(limit),
            Amount::Unlimited => -1,
        };
        let args = [capped, i64::from(start.is_some()), start.unwrap_or(0), plan, request.now()];
        self.call(&self.refund, &keys, &[], &args)
    }

    /// A refund Redis could not answer: a local share gives back what it recorded; usage on
    /// Redis waits for Redis.
    fn refund_failed(
        &self,
        why: String,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        name: &str,
        amount: u64,
    ) -> Result<u64, StoreError> {
        match self.config.failure_mode_for(name) {
            // The share gives back what it recorded; usage on Redis waits for Redis.
            FailureMode::LocalShare { processes } => {
                let n = u64::from(processes.max(1));
                let back = self.local.refund(engine, request, limit, amount.saturating_mul(n)) / n;
                if back > 0 {
                    Ok(back)
                } else {
                    Err(StoreError::Unreachable(why))
                }
            }
            _ => Err(StoreError::Unreachable(why)),
        }
    }
}
