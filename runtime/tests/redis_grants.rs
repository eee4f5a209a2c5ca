//! Credit grants on a real `redis-server` (the Debian package), started on a free loopback
//! port and stopped by each test: the same cases as in-process, exact across meters sharing
//! the Redis, and settled when a call's reply is lost.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails loudly, with the value that broke it"
)]

use std::sync::Arc;
use std::time::Duration;

use entitle::{Engine, Request};
use entitle_runtime::meter::Grant;
use entitle_runtime::store::redis::{RedisConfig, RedisMeter};
use entitle_runtime::store::{StoreError, UsageMeter};

#[path = "support/redis_server.rs"]
mod redis_server;
use redis_server::{scratch, Server};

#[path = "support/grant_cases.rs"]
mod grant_cases;
use grant_cases::POLICY;

#[path = "support/fault_proxy.rs"]
mod fault_proxy;
use fault_proxy::Proxy;

fn meter(url: &str) -> RedisMeter {
    let mut config = RedisConfig::new(url);
    config.timeout = Duration::from_secs(2);
    RedisMeter::new(config).unwrap()
}

#[test]
fn every_grant_case_answers_on_redis_as_in_process() {
    let server = Server::start(&scratch("grants-cases"), None);
    // Keys expire by Redis's clock a minute after their windows end: the cases run four
    // centuries ahead, where their windows are still to come.
    assert!(grant_cases::run(POLICY, &meter(&server.url()), "redis", grant_cases::CENTURIES) >= 13);
}

/// Now, a year ahead of the real clock, as the other Redis tests: keys expire by Redis's clock.
fn now() -> i64 {
    let real = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    i64::try_from(real).unwrap() + 400 * 86_400
}

/// What is left of each of the subject's grants, read through a meter of its own.
fn left(url: &str, engine: &Engine, request: &Request<'_>) -> Vec<(String, u64)> {
    let credits = engine.limit("credits").unwrap();
    meter(url).grants(engine, request, credits).unwrap().into_iter().map(|g| (g.id.clone(), g.left())).collect()
}

#[test]
fn meters_sharing_redis_spend_a_grant_exactly_once() {
    let server = Server::start(&scratch("grants-shared"), None);
    let engine = Arc::new(Engine::from_source("grants.policy", POLICY).unwrap());
    let (pro, credits) = (engine.tier("pro").unwrap(), engine.limit("credits").unwrap());
    let now = now();
    let request = Request::new(pro, now).with_key("acme");
    let first = meter(&server.url());
    assert!(!first.grant(&engine, &request, credits, Grant::new("promo", 60)).unwrap().repeated);
    assert!(first.grant(&engine, &request, credits, Grant::new("promo", 60)).unwrap().repeated);
    let second = meter(&server.url());
    assert!(second.grant(&engine, &request, credits, Grant::new("promo", 60)).unwrap().repeated);
    let other = second.grant(&engine, &request, credits, Grant::new("promo", 61));
    assert!(matches!(other, Err(StoreError::Grant(_))), "{other:?}");
    let (allowed, paid) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let (engine, meter) = (Arc::clone(&engine), if t % 2 == 0 { &first } else { &second });
                scope.spawn(move || {
                    let request = Request::new(pro, now).with_key("acme");
                    let mut done = (0u64, 0u64);
                    for _ in 0..60 {
                        let consumed = meter.try_consume(&engine, &request, credits, 1).unwrap();
                        if consumed.quota.allowed {
                            done = (done.0 + 1, done.1 + consumed.from_grants);
                        }
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).fold((0, 0), |(a, p), (x, y)| (a + x, p + y))
    });
    // 100 of the plan and 60 of the grant, exactly, whichever meter answered.
    assert_eq!((allowed, paid), (160, 60));
    assert_eq!(left(&server.url(), &engine, &request), [("promo".to_string(), 0)]);
}

#[test]
fn a_lost_reply_or_a_late_call_never_spends_a_grant_twice() {
    let server = Server::start(&scratch("grants-faults"), None);
    let proxy = Proxy::start(server.port());
    let engine = Engine::from_source("grants.policy", POLICY).unwrap();
    let (pro, credits) = (engine.tier("pro").unwrap(), engine.limit("credits").unwrap());
    let request = Request::new(pro, now()).with_key("acme");
    let mut config = RedisConfig::new(proxy.url());
    (config.connections, config.timeout) = (1, Duration::from_millis(300));
    let meter = RedisMeter::new(config).unwrap();
    meter.grant(&engine, &request, credits, Grant::new("promo", 50)).unwrap();
    assert!(meter.try_consume(&engine, &request, credits, 100).unwrap().quota.allowed);

    // The script runs, its reply is lost: the retry finds the first try's result.
    proxy.drop_next_reply();
    let retried = meter.try_consume(&engine, &request, credits, 10).unwrap();
    assert_eq!((retried.from_grants, retried.grants_left), (10, 40));
    assert_eq!(left(&server.url(), &engine, &request), [("promo".to_string(), 40)]);

    // A call that reaches Redis after the meter gave up on it is taken back by the next one,
    // the grant's part included.
    proxy.hold();
    let late = meter.try_consume(&engine, &request, credits, 15);
    assert!(late.is_err(), "{late:?}");
    proxy.stop_holding();
    proxy.release();
    let next = meter.try_consume(&engine, &request, credits, 5).unwrap();
    assert_eq!((next.from_grants, next.grants_left), (5, 35));
    assert_eq!(left(&server.url(), &engine, &request), [("promo".to_string(), 35)]);

    // A refund that runs late is taken back too: the grant is spent again.
    proxy.hold();
    assert!(meter.refund(&engine, &request, credits, 10).is_err());
    proxy.stop_holding();
    proxy.release();
    assert_eq!(meter.try_consume(&engine, &request, credits, 0).unwrap().grants_left, 35);
    assert_eq!(left(&server.url(), &engine, &request), [("promo".to_string(), 35)]);
}

#[test]
fn a_leased_meter_spends_grants_through_the_shared_meter() {
    use entitle_runtime::store::redis::{LeaseConfig, LeasedMeter};
    let server = Server::start(&scratch("grants-leased"), None);
    let engine = Engine::from_source("grants.policy", POLICY).unwrap();
    let (pro, credits) = (engine.tier("pro").unwrap(), engine.limit("credits").unwrap());
    let mut config = LeaseConfig::default();
    config.share = 10;
    let leased = LeasedMeter::new(meter(&server.url()), config);
    let request = Request::new(pro, now()).with_key("acme");
    leased.grant(&engine, &request, credits, Grant::new("promo", 50)).unwrap();
    let (mut allowed, mut paid) = (0, 0);
    for _ in 0..200 {
        let consumed = leased.try_consume(&engine, &request, credits, 1).unwrap();
        if consumed.quota.allowed {
            (allowed, paid) = (allowed + 1, paid + consumed.from_grants);
        }
    }
    leased.close().unwrap();
    // The plan's 100 (from leases or not) and the grant's 50, exactly.
    assert_eq!((allowed, paid), (150, 50));
    assert_eq!(leased.grants(&engine, &request, credits).unwrap()[0].left(), 0);
}
