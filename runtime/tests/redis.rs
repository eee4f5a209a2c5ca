//! The shared meter against a real `redis-server` (the Debian package), started on a free
//! loopback port and stopped by each test.
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
use std::time::{Duration, Instant};

use entitle::{Engine, Request};
use entitle_runtime::store::redis::{RedisConfig, RedisMeter};
use entitle_runtime::store::{FailureMode, StoreError, UsageMeter};

#[path = "support/redis_server.rs"]
mod redis_server;
use redis_server::{scratch, Server};

#[path = "support/fault_proxy.rs"]
mod fault_proxy;
use fault_proxy::Proxy;

const POLICY: &str = "policy \"r\"\nlimit calls : count per day\ntier free { limit calls = 20_000 }\n";

/// An instant a year ahead of the real clock: keys expire by Redis's own clock a minute after
/// their window ends, so windows in the test must not have ended yet in real time.
fn now() -> i64 {
    let real = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    i64::try_from(real).unwrap() + 400 * 86_400
}

fn meter(server_url: &str, mode: FailureMode) -> RedisMeter {
    let mut config = RedisConfig::new(server_url);
    config.failure_mode = mode;
    config.timeout = Duration::from_millis(300);
    RedisMeter::new(config).unwrap()
}

#[test]
fn instances_sharing_redis_never_together_pass_the_cap() {
    let server = Server::start(&scratch("cap"), None);
    let engine = Arc::new(Engine::from_source("r", POLICY).unwrap());
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let now = now();
    let allowed = Arc::new(AtomicU64::new(0));
    // Four service instances, each with its own meter and connections.
    let instances: Vec<_> = (0..4u64)
        .map(|instance| {
            let (engine, allowed, url) = (Arc::clone(&engine), Arc::clone(&allowed), server.url());
            std::thread::spawn(move || {
                let meter = meter(&url, FailureMode::Closed);
                for i in 0..2_000u64 {
                    let amount = (i + instance) % 5 + 1;
                    let request = Request::new(free, now).with_key("shared");
                    let consumed = meter.try_consume(&engine, &request, calls, amount).unwrap();
                    assert_eq!(consumed.quota.allowed, consumed.recorded == amount);
                    allowed.fetch_add(consumed.recorded, Ordering::Relaxed);
                }
            })
        })
        .collect();
    instances.into_iter().for_each(|t| t.join().unwrap());
    let check = meter(&server.url(), FailureMode::Closed);
    let request = Request::new(free, now).with_key("shared");
    let used = check.try_consume(&engine, &request, calls, 0).unwrap().used;
    assert_eq!(used, allowed.load(Ordering::Relaxed), "recorded equals the sum of what was allowed");
    assert!(used <= 20_000 && used > 20_000 - 5, "the cap was reached, never passed: {used}");
    // A refund gives back, once.
    assert_eq!(check.refund(&engine, &request, calls, 3).unwrap(), 3);
    assert_eq!(check.try_consume(&engine, &request, calls, 0).unwrap().used, used - 3);
}

#[test]
fn a_killed_server_fails_as_configured_and_loses_nothing_recorded() {
    let server = Server::start(&scratch("kill"), None);
    let engine = Engine::from_source("r", POLICY).unwrap();
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let request = Request::new(free, now()).with_key("k");
    let closed = meter(&server.url(), FailureMode::Closed);
    let open = meter(&server.url(), FailureMode::Open);
    let mut recorded = 0;
    for _ in 0..100 {
        recorded += closed.try_consume(&engine, &request, calls, 7).unwrap().recorded;
    }
    assert_eq!(recorded, 700);

    let (port, dir) = server.kill();
    assert!(matches!(closed.try_consume(&engine, &request, calls, 1), Err(StoreError::Unreachable(_))));
    let degraded = open.try_consume(&engine, &request, calls, 1).unwrap();
    assert!(degraded.quota.allowed && degraded.recorded == 0);
    assert_eq!(open.fail_open_count(), 1);

    // Back on the same port with the same append-only file: every recorded unit is there.
    let _server = Server::start(&dir, Some(port));
    let deadline = Instant::now() + Duration::from_secs(10);
    let used = loop {
        match closed.try_consume(&engine, &request, calls, 0) {
            Ok(consumed) => break consumed.used,
            Err(error) => assert!(Instant::now() < deadline, "redis did not come back: {error}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(used, 700);
}

#[test]
fn a_reply_lost_after_the_script_ran_is_not_counted_twice_by_the_retry() {
    let server = Server::start(&scratch("lost-reply"), None);
    let proxy = Proxy::start(server.port());
    let engine = Engine::from_source("r", POLICY).unwrap();
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let request = Request::new(free, now()).with_key("k");
    let mut config = RedisConfig::new(proxy.url());
    config.connections = 1;
    let meter = RedisMeter::new(config).unwrap();
    let mut recorded = meter.try_consume(&engine, &request, calls, 1).unwrap().recorded;
    // The script runs on the server, its reply is lost with the connection: the meter tries
    // again on a new one, and that second try must find the first one's result.
    proxy.drop_next_reply();
    let retried = meter.try_consume(&engine, &request, calls, 5).unwrap();
    assert_eq!((retried.recorded, retried.used), (5, 6));
    recorded += retried.recorded;
    let direct = self::meter(&server.url(), FailureMode::Closed);
    assert_eq!(direct.try_consume(&engine, &request, calls, 0).unwrap().used, recorded);
    // A refund whose reply is lost gives back once, too.
    proxy.drop_next_reply();
    assert_eq!(meter.refund(&engine, &request, calls, 2).unwrap(), 2);
    assert_eq!(direct.try_consume(&engine, &request, calls, 0).unwrap().used, recorded - 2);
    assert_eq!(proxy.accepted(), 3, "each retry went over a new connection");
}

#[test]
fn a_call_answered_unreachable_is_never_counted_even_when_redis_runs_it_late() {
    let server = Server::start(&scratch("late"), None);
    let proxy = Proxy::start(server.port());
    let engine = Engine::from_source("r", POLICY).unwrap();
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let request = Request::new(free, now()).with_key("k");
    let direct = meter(&server.url(), FailureMode::Closed);
    let on_redis = || direct.try_consume(&engine, &request, calls, 0).unwrap().used;
    for mode in [FailureMode::Closed, FailureMode::Open] {
        let mut config = RedisConfig::new(proxy.url());
        (config.connections, config.failure_mode, config.timeout) = (1, mode, Duration::from_millis(300));
        let meter = RedisMeter::new(config).unwrap();
        let mut recorded = on_redis() + meter.try_consume(&engine, &request, calls, 1).unwrap().recorded;

        // The request reaches Redis only after the meter gave up on it, and before the
        // meter's next call: that call takes it back.
        proxy.hold();
        let late = meter.try_consume(&engine, &request, calls, 4);
        assert!(late.is_err() || late.unwrap().recorded == 0, "{mode:?}");
        proxy.stop_holding();
        assert_eq!(proxy.held(), 1);
        proxy.release();
        recorded += meter.try_consume(&engine, &request, calls, 2).unwrap().recorded;
        assert_eq!(on_redis(), recorded, "{mode:?}: a late call is undone");

        // The request reaches Redis after the meter's next call: it is not applied.
        proxy.hold();
        let late = meter.try_consume(&engine, &request, calls, 4);
        assert!(late.is_err() || late.unwrap().recorded == 0, "{mode:?}");
        proxy.stop_holding();
        recorded += meter.try_consume(&engine, &request, calls, 2).unwrap().recorded;
        proxy.release();
        assert_eq!(on_redis(), recorded, "{mode:?}: a call that arrives after a later one is refused");

        // A refund that times out and runs late is taken back too.
        proxy.hold();
        assert!(meter.refund(&engine, &request, calls, 3).is_err());
        proxy.stop_holding();
        proxy.release();
        recorded += meter.try_consume(&engine, &request, calls, 1).unwrap().recorded;
        assert_eq!(on_redis(), recorded, "{mode:?}: a late refund is undone");
    }
}

#[test]
fn both_meters_refund_from_the_requests_own_window_and_agree() {
    let server = Server::start(&scratch("refund"), None);
    let engine = Engine::from_source("r", POLICY).unwrap();
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let in_process = entitle_runtime::meter::Meter::new();
    let shared = meter(&server.url(), FailureMode::Closed);
    let mut outcomes = Vec::new();
    for meter in [&in_process as &dyn UsageMeter, &shared] {
        let day = Request::new(free, now()).with_key("k");
        let next_day = day.at(now() + 86_400);
        meter.try_consume(&engine, &day, calls, 5).unwrap();
        // Within its own window, a refund gives back.
        let same_window = meter.refund(&engine, &day, calls, 1).unwrap();
        meter.try_consume(&engine, &next_day, calls, 3).unwrap();
        // Stamped on the first day, after usage on the next: the first day's window is over
        // for this subject, and the next day's usage is not the refund's to give back.
        let late = meter.refund(&engine, &day, calls, 2).unwrap();
        let next_used = meter.try_consume(&engine, &next_day, calls, 0).unwrap().used;
        let own = meter.refund(&engine, &next_day, calls, 2).unwrap();
        outcomes.push((same_window, late, next_used, own));
    }
    assert_eq!(outcomes[0], (1, 0, 3, 2), "in-process");
    assert_eq!(outcomes[1], outcomes[0], "on Redis");
}

/// A server that accepts connections and never answers.
fn silent_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://127.0.0.1:{}/", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().map_while(Result::ok).collect();
        drop(held);
    });
    url
}

#[test]
fn the_timeout_bounds_a_whole_call_and_says_so() {
    let engine = Arc::new(Engine::from_source("r", POLICY).unwrap());
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let mut config = RedisConfig::new(silent_server());
    (config.timeout, config.connections) = (Duration::from_millis(200), 1);
    let meter = Arc::new(RedisMeter::new(config).unwrap());
    let request = Request::new(free, now()).with_key("k");
    let Err(StoreError::Unreachable(alone)) = meter.try_consume(&engine, &request, calls, 1) else { panic!() };
    assert!(alone.contains("did not answer within 200 ms") && !alone.contains("os error"), "{alone}");

    // Sixteen callers on one connection: a caller that cannot have it before its deadline
    // gives up then, instead of queueing behind the others' timeouts.
    let start = Arc::new(std::sync::Barrier::new(16));
    let callers: Vec<_> = (0..16)
        .map(|_| {
            let (engine, meter, start) = (Arc::clone(&engine), Arc::clone(&meter), Arc::clone(&start));
            std::thread::spawn(move || {
                let request = Request::new(free, now()).with_key("k");
                start.wait();
                match meter.try_consume(&engine, &request, calls, 1) {
                    Err(StoreError::Unreachable(why)) => why,
                    other => panic!("{other:?}"),
                }
            })
        })
        .collect();
    let errors: Vec<String> = callers.into_iter().map(|c| c.join().unwrap()).collect();
    assert!(errors.iter().all(|e| e.contains("within 200 ms") && !e.contains("os error")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("no connection to redis was free")), "{errors:?}");

    // A ceiling Lua cannot count exactly is not an unreachable store.
    let huge = Engine::from_source(
        "h",
        "policy \"h\"\nlimit calls : count per day\ntier free { limit calls = 9_007_199_254_740_993 }\n",
    )
    .unwrap();
    let request = Request::new(huge.tier("free").unwrap(), now()).with_key("k");
    let error = meter.try_consume(&huge, &request, huge.limit("calls").unwrap(), 1).unwrap_err();
    assert!(matches!(error, StoreError::TooLarge(_)), "{error:?}");
    assert!(error.to_string().contains("2^53"), "{error}");
}

#[test]
fn a_subject_key_past_the_limit_is_refused_before_redis_is_asked() {
    let server = Server::start(&scratch("keys"), None);
    let engine = Engine::from_source("r", POLICY).unwrap();
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
    let meter = meter(&server.url(), FailureMode::Open);
    let (longest, longer) = ("k".repeat(256), "k".repeat(257));
    let request = Request::new(free, now()).with_key(&longest);
    assert_eq!(meter.try_consume(&engine, &request, calls, 5).unwrap().recorded, 5);
    // Refused in every failure mode, since it says nothing of the store's health, and nothing
    // reaches Redis: no key of that subject exists afterwards.
    let request = Request::new(free, now()).with_key(&longer);
    for refused in
        [meter.try_consume(&engine, &request, calls, 5).map(|c| c.recorded), meter.refund(&engine, &request, calls, 5)]
    {
        match refused {
            Err(StoreError::Meter(entitle_runtime::meter::MeterError::KeyTooLong { len: 257, max: 256 })) => {}
            other => panic!("a 257-byte key gave {other:?}"),
        }
    }
    let mut redis = redis::Client::open(server.url()).unwrap().get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("*{longer}*")).query(&mut redis).unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}
