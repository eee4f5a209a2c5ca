//! One request against several limits on a real `redis-server` (the Debian package), started
//! on a free loopback port and stopped by each test: all or nothing, once, whatever the
//! network does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "a test fails loudly, with the value that broke it"
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use entitle::{Engine, LimitId, Quota, Reason, Request};
use entitle_runtime::meter::Meter;
use entitle_runtime::store::redis::{RedisConfig, RedisMeter};
use entitle_runtime::store::{FailureMode, Source, StoreError, UsageMeter};

#[path = "support/redis_server.rs"]
mod redis_server;
use redis_server::{scratch, Server};

#[path = "support/fault_proxy.rs"]
mod fault_proxy;
use fault_proxy::Proxy;

const POLICY: &str = "policy \"b\"\nlimit calls : count per day\nlimit monthly : count per month\n\
                      tier free { limit calls = 20_000\nlimit monthly = 300 }\n";

/// A year ahead of the real clock, as in `redis.rs`: keys expire by Redis's own clock.
fn now() -> i64 {
    let real = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    i64::try_from(real).unwrap() + 400 * 86_400
}

fn meter(url: &str, mode: FailureMode) -> RedisMeter {
    let mut config = RedisConfig::new(url);
    (config.failure_mode, config.timeout) = (mode, Duration::from_millis(300));
    RedisMeter::new(config).unwrap()
}

fn limits(engine: &Engine) -> (LimitId, LimitId) {
    (engine.limit("calls").unwrap(), engine.limit("monthly").unwrap())
}

/// What Redis holds for the subject of `request`, through a meter of its own.
fn used(url: &str, engine: &Engine, request: &Request<'_>, limit: LimitId) -> u64 {
    meter(url, FailureMode::Closed).try_consume(engine, request, limit, 0).unwrap().used
}

#[test]
fn instances_sharing_redis_record_a_batch_against_every_limit_or_none() {
    let server = Server::start(&scratch("batch-cap"), None);
    let engine = Arc::new(Engine::from_source("b", POLICY).unwrap());
    let free = engine.tier("free").unwrap();
    let (calls, monthly) = limits(&engine);
    let now = now();
    let recorded = Arc::new(AtomicU64::new(0));
    let instances: Vec<_> = (0..4)
        .map(|_| {
            let (engine, recorded, url) = (Arc::clone(&engine), Arc::clone(&recorded), server.url());
            std::thread::spawn(move || {
                let meter = meter(&url, FailureMode::Closed);
                let mut out = [Quota::default(); 2];
                for _ in 0..150 {
                    let request = Request::new(free, now).with_key("shared");
                    let batch =
                        meter.try_consume_all(&engine, &request, &[(calls, 1), (monthly, 1)], &mut out).unwrap();
                    assert_eq!((batch.recorded, batch.source), (batch.allowed(), Source::Store));
                    if batch.recorded {
                        recorded.fetch_add(1, Ordering::Relaxed);
                    } else {
                        assert_eq!(batch.binding, Some(1), "the monthly cap denies, and binds");
                        assert_eq!(batch.binding_answer().unwrap().reason, Reason::LimitExceeded);
                    }
                }
            })
        })
        .collect();
    instances.into_iter().for_each(|t| t.join().unwrap());
    let request = Request::new(free, now).with_key("shared");
    assert_eq!(recorded.load(Ordering::Relaxed), 300);
    assert_eq!(used(&server.url(), &engine, &request, monthly), 300);
    assert_eq!(used(&server.url(), &engine, &request, calls), 300, "no daily count without its monthly one");
}

#[test]
fn the_shared_meter_answers_batches_as_the_in_process_one_does() {
    let server = Server::start(&scratch("batch-agree"), None);
    let engine = Engine::from_source("b", POLICY).unwrap();
    let free = engine.tier("free").unwrap();
    let (calls, monthly) = limits(&engine);
    let foreign = LimitId::from_u32(77);
    let shared = meter(&server.url(), FailureMode::Closed);
    let local = Meter::new();
    let request = Request::new(free, now()).with_key("k");
    let batches: [&[(LimitId, u64)]; 8] = [
        &[(calls, 5), (monthly, 200), (monthly, 200)],
        &[(monthly, 150), (calls, 5), (monthly, 150)],
        &[(calls, 1), (monthly, 1)],
        &[(calls, 1), (foreign, 1)],
        &[(calls, 0), (monthly, 0)],
        &[],
        &[(calls, 19_995), (calls, 1)],
        &[(calls, 19_994), (calls, 1)],
    ];
    for batch in batches {
        let (mut a, mut b) = ([Quota::default(); 3], [Quota::default(); 3]);
        let on_redis = shared.try_consume_all(&engine, &request, batch, &mut a).unwrap();
        let in_process = local.try_consume_all(&engine, &request, batch, &mut b).unwrap();
        assert_eq!(on_redis, in_process, "{batch:?}");
    }
    for limit in [calls, monthly] {
        assert_eq!(used(&server.url(), &engine, &request, limit), local.used(&engine, &request, limit));
    }
    assert_eq!(used(&server.url(), &engine, &request, monthly), 300);
    // The daily cap was drawn to exactly 0 by the last batch, the one before it refused.
    assert_eq!(used(&server.url(), &engine, &request, calls), 20_000);
    // Too short a buffer is refused before Redis is asked.
    assert!(shared.try_consume_all(&engine, &request, &[(calls, 1), (calls, 1)], &mut [Quota::default()]).is_err());
    assert_eq!(used(&server.url(), &engine, &request, calls), 20_000);
}

#[test]
fn a_batch_given_up_on_is_never_counted_even_when_redis_runs_it_late() {
    let server = Server::start(&scratch("batch-late"), None);
    let proxy = Proxy::start(server.port());
    let engine = Engine::from_source("b", POLICY).unwrap();
    let free = engine.tier("free").unwrap();
    let (calls, monthly) = limits(&engine);
    let request = Request::new(free, now()).with_key("k");
    let mut config = RedisConfig::new(proxy.url());
    (config.connections, config.timeout) = (1, Duration::from_millis(300));
    let meter = RedisMeter::new(config).unwrap();
    let mut out = [Quota::default(); 2];
    assert!(meter.try_consume_all(&engine, &request, &[(calls, 1), (monthly, 1)], &mut out).unwrap().recorded);

    // The batch reaches Redis after the meter gave up on it, before its next call: that call
    // takes back what the batch recorded on both counters.
    proxy.hold();
    let late = meter.try_consume_all(&engine, &request, &[(calls, 4), (monthly, 4)], &mut out);
    assert!(matches!(late, Err(StoreError::Unreachable(_))), "{late:?}");
    proxy.stop_holding();
    assert_eq!(proxy.held(), 1);
    proxy.release();
    assert!(meter.try_consume_all(&engine, &request, &[(calls, 2), (monthly, 2)], &mut out).unwrap().recorded);
    assert_eq!(used(&server.url(), &engine, &request, calls), 3, "a late batch is undone");
    assert_eq!(used(&server.url(), &engine, &request, monthly), 3, "on every counter");

    // A lost reply: the retry finds the first try's result and records nothing more.
    proxy.drop_next_reply();
    let retried = meter.try_consume_all(&engine, &request, &[(calls, 5), (monthly, 5)], &mut out).unwrap();
    assert!(retried.recorded);
    assert_eq!(
        (used(&server.url(), &engine, &request, calls), used(&server.url(), &engine, &request, monthly)),
        (8, 8)
    );
}

#[test]
fn a_batch_fails_open_only_when_every_limit_does() {
    let server = Server::start(&scratch("batch-modes"), None);
    let engine = Engine::from_source("b", POLICY).unwrap();
    let free = engine.tier("free").unwrap();
    let (calls, monthly) = limits(&engine);
    let request = Request::new(free, now()).with_key("k");
    let open = meter(&server.url(), FailureMode::Open);
    let mixed = RedisMeter::new({
        let mut config = RedisConfig::new(server.url()).on_failure("monthly", FailureMode::Closed);
        (config.failure_mode, config.timeout) = (FailureMode::Open, Duration::from_millis(300));
        config
    })
    .unwrap();
    let shared_share = RedisMeter::new({
        let mut config = RedisConfig::new(server.url()).on_failure("monthly", FailureMode::LocalShare { processes: 2 });
        (config.failure_mode, config.timeout) = (FailureMode::Open, Duration::from_millis(300));
        config
    })
    .unwrap();
    let mut out = [Quota::default(); 2];
    let both = [(calls, 1), (monthly, 1)];
    assert!(open.try_consume_all(&engine, &request, &both, &mut out).unwrap().recorded);
    let _gone = server.kill();
    let degraded = open.try_consume_all(&engine, &request, &both, &mut out).unwrap();
    assert!(degraded.allowed() && !degraded.recorded);
    assert_eq!(degraded.source, Source::FailedOpen);
    assert_eq!(open.fail_open_count(), 1);
    for refusing in [&mixed, &shared_share] {
        let refused = refusing.try_consume_all(&engine, &request, &both, &mut out);
        assert!(
            matches!(refused, Err(StoreError::Unreachable(ref why)) if why.contains("every one of its limits fails open")),
            "{refused:?}"
        );
    }
    // A batch the engine denies whatever is used is denied without the store.
    let denied = mixed.try_consume_all(&engine, &request, &[(calls, 1), (monthly, 301)], &mut out).unwrap();
    assert!(!denied.allowed() && !denied.recorded);
    assert_eq!((denied.binding, denied.source), (Some(1), Source::Store));
}
