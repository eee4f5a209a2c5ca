//! The meter shared through Redis: one round trip per `try_consume`, decided on the server.
//!
//! The engine answers locally (tier, add-ons, the window, the ceiling); one Lua script then
//! compares and increments the window's key on the server, so any number of service
//! instances sharing the Redis never together pass a ceiling. Keys are
//! `{prefix}{subject length}:{subject}:{limit}:{window start}` (the length makes any subject
//! unambiguous), and expire a minute after their window ends. Counts are exact up to 2⁵³
//! (Lua's numbers); larger amounts and ceilings are refused with [`StoreError::TooLarge`].
//! The configured timeout bounds a whole call: waiting for a free connection, connecting, the
//! script, and its one retry on a new connection all share it.
//!
//! Every script call is numbered on its connection slot, and Redis keeps each slot's latest
//! call with its result (`{prefix}session:{meter}:{slot}`), so one call is applied once
//! however many times it reaches the server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use entitle::{Amount, Engine, LimitId, Request, Usage};

use super::{FailureMode, StoreError, UsageMeter};
use crate::meter::Consumed;

/// Decides and records one call. KEYS: the counter, the connection slot's session, the
/// subject's latest window of the limit. ARGV: the call's sequence number on its slot, the
/// amount, the ceiling (-1 for none), the counter's expiry (0 for none, and then no window),
/// its window's start, the session's lifetime in milliseconds.
///
/// A counter that starts raises the latest window to its own, so that `REFUND` can tell a
/// window the subject has moved on from.
///
/// The session remembers the slot's latest call and its result: the same call sent again (a
/// retry after a lost reply, or the first copy arriving after its retry) returns that result
/// and applies nothing, and a call older than the latest is never applied (`{-1, 0}`).
const CONSUME: &str = r"
local seq = tonumber(ARGV[1])
local latest = redis.call('HMGET', KEYS[2], 'seq', 'result')
local seen = tonumber(latest[1] or '0')
if seq == seen then
  local allowed, used = string.match(latest[2], '^(%d+):(%d+)$')
  return {tonumber(allowed), tonumber(used)}
end
if seq < seen then
  return {-1, 0}
end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[2])
local ceiling = tonumber(ARGV[3])
local allowed = 1
if ceiling >= 0 and used + amount > ceiling then
  allowed = 0
elseif amount > 0 then
  redis.call('INCRBY', KEYS[1], amount)
  if ARGV[4] ~= '0' then
    redis.call('EXPIREAT', KEYS[1], ARGV[4])
    local latest = used == 0 and redis.call('GET', KEYS[3])
    if used == 0 and (not latest or tonumber(ARGV[5]) > tonumber(latest)) then
      redis.call('SET', KEYS[3], ARGV[5])
      redis.call('EXPIREAT', KEYS[3], ARGV[4])
    end
  end
end
local recorded = 0
if allowed == 1 then
  recorded = amount
end
redis.call('HSET', KEYS[2], 'seq', ARGV[1], 'result', allowed .. ':' .. string.format('%d', used),
  'undo', string.format('%d', recorded))
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return {allowed, used}
";

/// Gives back up to an amount, once per call like `CONSUME`. KEYS: the counter, the session,
/// the subject's latest window of the limit. ARGV: the call's number, the amount, 1 if the
/// counter has a window (else 0), its start, the session's lifetime in milliseconds.
///
/// Only the request's own window gives back, and nothing once the subject has used the limit
/// in a later window: the in-process meter's rule, which holds only the latest window.
const REFUND: &str = r"
local seq = tonumber(ARGV[1])
local latest = redis.call('HMGET', KEYS[2], 'seq', 'result')
local seen = tonumber(latest[1] or '0')
if seq == seen then
  local done, back = string.match(latest[2], '^(%d+):(%d+)$')
  return {tonumber(done), tonumber(back)}
end
if seq < seen then
  return {-1, 0}
end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local back = math.min(used, tonumber(ARGV[2]))
if ARGV[3] == '1' then
  local latest = redis.call('GET', KEYS[3])
  if latest and tonumber(latest) > tonumber(ARGV[4]) then
    back = 0
  end
end
if back > 0 then
  redis.call('DECRBY', KEYS[1], back)
end
redis.call('HSET', KEYS[2], 'seq', ARGV[1], 'result', '1:' .. string.format('%d', back),
  'undo', string.format('%d', -back))
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {1, back}
";

/// Takes back a call the meter gave up on (it answered the caller as if nothing had been
/// recorded), whether Redis ran it or not. KEYS: that call's counter, the session. ARGV: this
/// call's number, the abandoned call's number, the session's lifetime in milliseconds.
///
/// If the abandoned call is the session's latest, it ran: what it recorded is taken back (at
/// most what the counter holds), or what it refunded is counted again. Either way this call
/// becomes the latest, so a copy of the abandoned one that arrives later is never applied.
const SETTLE: &str = r"
local seq = tonumber(ARGV[1])
local latest = redis.call('HMGET', KEYS[2], 'seq', 'result', 'undo')
local seen = tonumber(latest[1] or '0')
if seq == seen then
  return {1, 0}
end
if seq < seen then
  return {-1, 0}
end
if seen == tonumber(ARGV[2]) then
  local undo = tonumber(latest[3] or '0')
  if undo > 0 then
    local back = math.min(undo, tonumber(redis.call('GET', KEYS[1]) or '0'))
    if back > 0 then
      redis.call('DECRBY', KEYS[1], back)
    end
  elseif undo < 0 and redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('INCRBY', KEYS[1], string.format('%d', -undo))
  end
end
redis.call('HSET', KEYS[2], 'seq', ARGV[1], 'result', '1:0', 'undo', '0')
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {1, 0}
";

/// The largest amount or ceiling Lua's numbers hold exactly.
const EXACT: u64 = 1 << 53;
/// How long after its window a counter's key lives, for instances whose clocks lag.
const GRACE_SECONDS: i64 = 60;

/// How to reach Redis.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RedisConfig {
    /// A `redis://host:port/db` address.
    pub url: String,
    /// Prepended to every key. Default `entitle:`.
    pub prefix: String,
    /// The most one call may take: waiting for a free connection, connecting, and every
    /// try and retry share it. Default 200 ms.
    pub timeout: Duration,
    /// Connections kept open; a call takes a free one, or waits for one within its timeout.
    /// Default 4.
    pub connections: usize,
    /// What to do when Redis cannot be reached. Default [`FailureMode::Closed`].
    pub failure_mode: FailureMode,
    /// How long Redis remembers each connection's latest call after it ran, so that a second
    /// copy of it (a retry after a lost reply, or a copy the network delayed) is recognised
    /// and not applied again. Default 10 minutes.
    pub session_ttl: Duration,
    /// The longest subject key the meter counts for, in bytes: a longer one is refused with
    /// [`MeterError::KeyTooLong`](crate::meter::MeterError::KeyTooLong) before Redis is asked, and
    /// nothing is recorded, so a caller cannot make Redis keys (and their memory) of any size.
    /// Default 256, as the in-process meter's.
    pub max_key_bytes: usize,
}

impl RedisConfig {
    /// The defaults, for Redis at `url`.
    pub fn new(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            url: url.into(),
            prefix: "entitle:".into(),
            timeout: Duration::from_millis(200),
            connections: 4,
            failure_mode: FailureMode::Closed,
            session_ttl: Duration::from_secs(600),
            max_key_bytes: 256,
        }
    }
}

/// One pooled connection and the numbering of the calls made through it. A call holds its
/// slot from start to end (retries included), so a call's number is the one identity both of
/// its copies share, and every later call on the slot has a larger one.
struct Slot {
    connection: Option<::redis::Connection>,
    /// The number of the latest call; Redis keeps it, with its result, under `session`.
    seq: u64,
    /// `{prefix}session:{meter}:{slot}`: unique to this meter's slot (the meter's part is
    /// random), so no two meters, here or on other machines, share one.
    session: String,
    /// The call the meter last gave up on without an answer, with its counter's key: Redis
    /// may have run it, or may still run it when a stalled server or network lets it through.
    /// It is settled before the slot applies anything else, so at most one is ever pending.
    abandoned: Option<(u64, String)>,
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
    client: ::redis::Client,
    config: RedisConfig,
    /// Where Redis is, for messages (the address, never the URL, which may hold a password).
    address: String,
    pool: Pool,
    consume: ::redis::Script,
    refund: ::redis::Script,
    settle: ::redis::Script,
    fail_open: AtomicU64,
}

impl std::fmt::Debug for RedisMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisMeter").field("config", &self.config).finish_non_exhaustive()
    }
}

impl RedisMeter {
    /// A meter on the Redis of `config`. Connections open on first use, so this fails only
    /// for an address that cannot be parsed.
    pub fn new(config: RedisConfig) -> Result<RedisMeter, StoreError> {
        let client = ::redis::Client::open(config.url.as_str()).map_err(|e| StoreError::Unreachable(e.to_string()))?;
        let address = client.get_connection_info().addr.to_string();
        let id = meter_id();
        let size = config.connections.max(1);
        let idle = (0..size)
            .map(|slot| {
                let session = format!("{}session:{id}:{slot}", config.prefix);
                Slot { connection: None, seq: 0, session, abandoned: None }
            })
            .collect();
        Ok(RedisMeter {
            client,
            config,
            address,
            pool: Pool { idle: Mutex::new(idle), freed: Condvar::new(), size },
            consume: ::redis::Script::new(CONSUME),
            refund: ::redis::Script::new(REFUND),
            settle: ::redis::Script::new(SETTLE),
            fail_open: AtomicU64::new(0),
        })
    }

    /// How many decisions were made without Redis under [`FailureMode::Open`].
    pub fn fail_open_count(&self) -> u64 {
        self.fail_open.load(Ordering::Relaxed)
    }

    /// The counter's key, and the key of the subject's latest window of the limit (`latest`
    /// is no window start, so the two never meet).
    fn keys(&self, subject: &str, limit: &str, window_start: Option<i64>) -> (String, String) {
        let window = window_start.map_or_else(|| "-".to_string(), |s| s.to_string());
        let stem = format!("{}{}:{subject}:{limit}:", self.config.prefix, subject.len());
        (format!("{stem}{window}"), format!("{stem}latest"))
    }

    /// Runs `script` on a pooled connection as the slot's next call, with the counter `key`,
    /// the slot's session and the subject's `latest` window key, and the call's number
    /// first, then `args` and the session's lifetime.
    /// Reconnects once if the connection broke; both tries are the same call (one number), so
    /// a first try that ran but lost its reply makes the second return the first one's
    /// result instead of applying again.
    ///
    /// A call that fails after it may have been sent is abandoned: the caller is told it
    /// recorded nothing, so the slot's next call first settles it (see `SETTLE`) and applies
    /// nothing until that succeeded.
    ///
    /// The whole call, the wait for a free slot included, ends by the configured timeout.
    fn call(&self, script: &::redis::Script, key: &str, latest: &str, args: &[i64]) -> Result<(i64, i64), String> {
        let deadline = Instant::now() + self.config.timeout;
        let mut lease = self.pool.take(deadline, self.config.timeout)?;
        let Some(slot) = lease.slot.as_mut() else { return Err("no connection slot".into()) };
        let ttl = u64::try_from(self.config.session_ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        if let Some((abandoned, abandoned_key)) = &slot.abandoned {
            slot.seq += 1;
            let mut invocation = self.settle.prepare_invoke();
            invocation.key(abandoned_key).key(&slot.session).arg(slot.seq).arg(*abandoned).arg(ttl);
            // A settle that fails applied nothing, so it needs no settling of its own; the
            // abandoned call stays pending for the next one.
            let (done, _) =
                self.run::<(i64, i64)>(&mut slot.connection, &invocation, deadline).map_err(|(why, _)| why)?;
            if done < 0 {
                return Err("redis holds a later call of this connection than the one sent".into());
            }
            slot.abandoned = None;
        }
        slot.seq += 1;
        let mut invocation = script.prepare_invoke();
        invocation.key(key).key(&slot.session).key(latest).arg(slot.seq);
        args.iter().for_each(|arg| {
            invocation.arg(arg);
        });
        invocation.arg(ttl);
        let (done, value) = match self.run::<(i64, i64)>(&mut slot.connection, &invocation, deadline) {
            Ok(answer) => answer,
            Err((why, sent)) => {
                if sent {
                    slot.abandoned = Some((slot.seq, key.to_owned()));
                }
                return Err(why);
            }
        };
        if done < 0 {
            return Err("redis holds a later call of this connection than the one sent".into());
        }
        Ok((done, value))
    }

    /// Runs `invocation` on `connection` (opening it if needed), reconnecting once if the
    /// connection broke, all by `deadline`. An error says why, and whether the invocation may
    /// have reached Redis (it was written, or partly written, to a connection).
    fn run<T: ::redis::FromRedisValue>(
        &self,
        connection: &mut Option<::redis::Connection>,
        invocation: &::redis::ScriptInvocation<'_>,
        deadline: Instant,
    ) -> Result<T, (String, bool)> {
        let mut sent = false;
        for _attempt in 0..2 {
            // What is left of the call's time; an attempt never starts without any.
            let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|left| !left.is_zero()) else {
                return Err((self.no_answer(), sent));
            };
            if connection.is_none() {
                match self.client.get_connection_with_timeout(left) {
                    Ok(c) => *connection = Some(c),
                    Err(error) => return Err((self.describe(&error), sent)),
                }
            }
            let Some(open) = connection.as_mut() else { continue };
            let left = deadline.checked_duration_since(Instant::now()).filter(|left| !left.is_zero());
            let timed = left.ok_or_else(|| self.no_answer()).and_then(|left| {
                open.set_read_timeout(Some(left))
                    .and_then(|()| open.set_write_timeout(Some(left)))
                    .map_err(|e| self.describe(&e))
            });
            if let Err(why) = timed {
                *connection = None;
                return Err((why, sent));
            }
            sent = true;
            match invocation.invoke::<T>(open) {
                Ok(value) => return Ok(value),
                // A broken connection is dropped and opened again once, time allowing; a
                // script error is final.
                Err(error) if error.is_io_error() || error.is_connection_dropped() || error.is_timeout() => {
                    *connection = None;
                    if error.is_timeout() {
                        return Err((self.describe(&error), sent));
                    }
                }
                Err(error) => return Err((self.describe(&error), sent)),
            }
        }
        Err((format!("the connection to redis at `{}` broke twice", self.address), sent))
    }

    fn no_answer(&self) -> String {
        format!("redis at `{}` did not answer within {} ms", self.address, self.config.timeout.as_millis())
    }

    /// A one-line account of a client error: a timeout says how long was waited, not the
    /// operating system's `EAGAIN`.
    fn describe(&self, error: &::redis::RedisError) -> String {
        if error.is_timeout() {
            self.no_answer()
        } else if error.is_connection_refusal() {
            format!("cannot connect to redis at `{}`: {error}", self.address)
        } else {
            format!("redis at `{}`: {error}", self.address)
        }
    }
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
        let check = |used: u64| engine.check_limit(request, limit, Usage::used(used).requesting(amount));
        let fresh = check(0);
        let Some(name) = engine.limit_name(limit).filter(|_| fresh.allowed) else {
            // The engine denies before any usage counts: nothing to ask the store.
            return Ok(Consumed { quota: fresh, recorded: 0, used: 0 });
        };
        self.key_fits(request.key())?;
        if amount >= EXACT {
            return Err(StoreError::TooLarge(format!(
                "an amount of {amount} is 2^53 or more, past what redis counts exactly"
            )));
        }
        let ceiling = ceiling_argument(fresh.limit, fresh.soft_cap)?;
        let start = fresh.window().map(|w| w.start);
        let (key, latest) = self.keys(request.key(), name, start);
        let expire_at = fresh.window().map_or(0, |w| w.end.saturating_add(GRACE_SECONDS));
        let args = [amount.cast_signed(), ceiling, expire_at, start.unwrap_or(0)];
        match self.call(&self.consume, &key, &latest, &args) {
            Ok((allowed, before)) => {
                let before = u64::try_from(before).unwrap_or(0);
                let quota = check(before);
                let recorded = if allowed == 1 { amount } else { 0 };
                Ok(Consumed { quota, recorded, used: before.saturating_add(recorded) })
            }
            Err(why) => match self.config.failure_mode {
                FailureMode::Closed => Err(StoreError::Unreachable(why)),
                FailureMode::Open => {
                    self.fail_open.fetch_add(1, Ordering::Relaxed);
                    Ok(Consumed { quota: fresh, recorded: 0, used: 0 })
                }
            },
        }
    }

    fn refund(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, amount: u64) -> Result<u64, StoreError> {
        let Some(name) = engine.limit_name(limit) else { return Ok(0) };
        self.key_fits(request.key())?;
        let window = engine.check_limit(request, limit, Usage::default()).window();
        let start = window.map(|w| w.start);
        let (key, latest) = self.keys(request.key(), name, start);
        let amount = amount.min(EXACT).cast_signed();
        let args = [amount, i64::from(start.is_some()), start.unwrap_or(0)];
        let (_, back) = self.call(&self.refund, &key, &latest, &args).map_err(StoreError::Unreachable)?;
        Ok(u64::try_from(back).unwrap_or(0))
    }
}
