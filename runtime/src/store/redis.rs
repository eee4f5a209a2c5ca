//! The meter shared through Redis: one round trip per `try_consume`, decided on the server.
//!
//! The engine answers locally (tier, add-ons, the window, the ceiling); one Lua script then
//! compares and increments the window's key on the server, so any number of service
//! instances sharing the Redis never together pass a ceiling. Keys are
//! `{prefix}{subject length}:{subject}:{limit}:{window start}` (the length makes any subject
//! unambiguous), and expire a minute after their window ends. Counts are exact up to 2⁵³
//! (Lua's numbers); larger amounts are refused as an error.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use entitle::{Amount, Engine, LimitId, Request, Usage};

use super::{FailureMode, StoreError, UsageMeter};
use crate::meter::Consumed;

const CONSUME: &str = r"
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
local ceiling = tonumber(ARGV[2])
if ceiling >= 0 and used + amount > ceiling then
  return {0, used}
end
if amount > 0 then
  redis.call('INCRBY', KEYS[1], amount)
  if ARGV[3] ~= '0' then
    redis.call('EXPIREAT', KEYS[1], ARGV[3])
  end
end
return {1, used}
";

const REFUND: &str = r"
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local back = math.min(used, tonumber(ARGV[1]))
if back > 0 then
  redis.call('DECRBY', KEYS[1], back)
end
return back
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
    /// Connect, read and write timeout. Default 200 ms.
    pub timeout: Duration,
    /// Connections kept open, used in turn. Default 4.
    pub connections: usize,
    /// What to do when Redis cannot be reached. Default [`FailureMode::Closed`].
    pub failure_mode: FailureMode,
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
        }
    }
}

/// A [`UsageMeter`] on Redis.
pub struct RedisMeter {
    client: ::redis::Client,
    config: RedisConfig,
    connections: Box<[Mutex<Option<::redis::Connection>>]>,
    next: AtomicUsize,
    consume: ::redis::Script,
    refund: ::redis::Script,
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
        let connections = (0..config.connections.max(1)).map(|_| Mutex::new(None)).collect();
        Ok(RedisMeter {
            client,
            config,
            connections,
            next: AtomicUsize::new(0),
            consume: ::redis::Script::new(CONSUME),
            refund: ::redis::Script::new(REFUND),
            fail_open: AtomicU64::new(0),
        })
    }

    /// How many decisions were made without Redis under [`FailureMode::Open`].
    pub fn fail_open_count(&self) -> u64 {
        self.fail_open.load(Ordering::Relaxed)
    }

    fn key(&self, subject: &str, limit: &str, window_start: Option<i64>) -> String {
        let window = window_start.map_or_else(|| "-".to_string(), |s| s.to_string());
        format!("{}{}:{subject}:{limit}:{window}", self.config.prefix, subject.len())
    }

    /// Runs `invocation` on a pooled connection, reconnecting once if the connection broke.
    fn run<T: ::redis::FromRedisValue>(&self, invocation: &::redis::ScriptInvocation<'_>) -> Result<T, String> {
        let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        let Some(pool) = self.connections.get(slot) else { return Err("no connection slot".into()) };
        let mut connection = pool.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for _attempt in 0..2 {
            if connection.is_none() {
                let opened = self.client.get_connection_with_timeout(self.config.timeout).and_then(|c| {
                    c.set_read_timeout(Some(self.config.timeout))?;
                    c.set_write_timeout(Some(self.config.timeout))?;
                    Ok(c)
                });
                match opened {
                    Ok(c) => *connection = Some(c),
                    Err(error) => return Err(error.to_string()),
                }
            }
            let Some(open) = connection.as_mut() else { continue };
            match invocation.invoke::<T>(open) {
                Ok(value) => return Ok(value),
                // A broken connection is dropped and opened again once; a script error is final.
                Err(error) if error.is_io_error() || error.is_connection_dropped() || error.is_timeout() => {
                    *connection = None;
                    if error.is_timeout() {
                        return Err(error.to_string());
                    }
                }
                Err(error) => return Err(error.to_string()),
            }
        }
        Err("the connection to Redis broke twice".into())
    }
}

fn ceiling_argument(limit: Amount, soft_cap: Option<Amount>) -> Result<i64, StoreError> {
    match soft_cap.unwrap_or(limit) {
        Amount::Unlimited => Ok(-1),
        Amount::Finite(n) if n < EXACT => Ok(n.cast_signed()),
        Amount::Finite(_) => {
            Err(StoreError::Unreachable("a ceiling of 2^53 or more cannot be counted exactly on Redis".into()))
        }
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
        if amount >= EXACT {
            return Err(StoreError::Unreachable("an amount of 2^53 or more cannot be counted exactly on Redis".into()));
        }
        let ceiling = ceiling_argument(fresh.limit, fresh.soft_cap)?;
        let key = self.key(request.key(), name, fresh.window.map(|w| w.start));
        let expire_at = fresh.window.map_or(0, |w| w.end.saturating_add(GRACE_SECONDS));
        let mut invocation = self.consume.prepare_invoke();
        invocation.key(&key).arg(amount).arg(ceiling).arg(expire_at);
        match self.run::<(i64, i64)>(&invocation) {
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
        let window = engine.check_limit(request, limit, Usage::default()).window;
        let key = self.key(request.key(), name, window.map(|w| w.start));
        let mut invocation = self.refund.prepare_invoke();
        invocation.key(&key).arg(amount.min(EXACT));
        let back: i64 = self.run(&invocation).map_err(StoreError::Unreachable)?;
        Ok(u64::try_from(back).unwrap_or(0))
    }
}
