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

#[test]
fn a_leased_meter_lets_grants_pay_before_overage() {
    use entitle_runtime::store::redis::{LeaseConfig, LeasedMeter};
    let server = Server::start(&scratch("grants-leased-soft"), None);
    let engine = Engine::from_source("grants.policy", POLICY).unwrap();
    let (pro, overage) = (engine.tier("pro").unwrap(), engine.limit("overage").unwrap());
    let mut config = LeaseConfig::default();
    config.share = 10;
    let leased = LeasedMeter::new(meter(&server.url()), config);
    let request = Request::new(pro, now()).with_key("acme");
    leased.grant(&engine, &request, overage, Grant::new("promo", 20)).unwrap();
    let mut answers = Vec::new();
    for _ in 0..200 {
        let consumed = leased.try_consume(&engine, &request, overage, 1).unwrap();
        answers.push((consumed.quota.allowed, consumed.from_grants, consumed.quota.status));
    }
    leased.close().unwrap();
    // 100 of the plan, then the grant's 20, then 50 of overage to the soft cap of 150.
    let paid: u64 = answers.iter().map(|(_, from, _)| from).sum();
    assert_eq!(answers.iter().filter(|(allowed, ..)| *allowed).count(), 170);
    assert_eq!(paid, 20);
    assert!(answers[100..120].iter().all(|(allowed, from, _)| *allowed && *from == 1), "{:?}", &answers[95..125]);
    assert!(answers[120..170].iter().all(|(allowed, _, status)| *allowed && *status == entitle::Status::Overage));
}

#[test]
fn a_window_paid_by_grants_alone_is_the_latest_for_refunds() {
    let server = Server::start(&scratch("grants-latest"), None);
    let engine = Engine::from_source("grants.policy", POLICY).unwrap();
    let (free, overage) = (engine.tier("free").unwrap(), engine.limit("overage").unwrap());
    let meter = meter(&server.url());
    let start = grant_cases::CENTURIES + entitle::parse_instant("2026-11-21T10:00:00Z").unwrap();
    let november = Request::new(free, start).with_key("trial");
    let december = Request::new(free, start + 20 * 86_400).with_key("trial");
    meter.grant(&engine, &november, overage, Grant::new("trial", 100)).unwrap();
    assert_eq!(meter.try_consume(&engine, &november, overage, 10).unwrap().from_grants, 10);
    assert_eq!(meter.try_consume(&engine, &december, overage, 5).unwrap().from_grants, 5);
    // The subject moved on to December: a refund stamped in November gives back nothing.
    assert_eq!(meter.refund(&engine, &november, overage, 10).unwrap(), 0);
    assert_eq!(meter.refund(&engine, &december, overage, 10).unwrap(), 5);
}

#[test]
fn grants_redis_cannot_count_exactly_are_refused_and_an_outage_is_not_a_denial() {
    let server = Server::start(&scratch("grants-bounds"), None);
    let engine = Engine::from_source("grants.policy", POLICY).unwrap();
    let (free, overage) = (engine.tier("free").unwrap(), engine.limit("overage").unwrap());
    let request = Request::new(free, now()).with_key("trial");
    let shared = meter(&server.url());
    for grant in [Grant::new("far", 5).expiring(1 << 60), Grant::new("huge", 1 << 50)] {
        let refused = shared.grant(&engine, &request, overage, grant);
        assert!(matches!(refused, Err(StoreError::TooLarge(_))), "{refused:?}");
    }
    shared.grant(&engine, &request, overage, Grant::new("trial", 100)).unwrap();
    // On a plan of 0 that runs on grants, a request is past the limit by itself; while Redis
    // cannot answer, that is the store's failure, not the plan's denial.
    let (port, dir) = server.kill();
    let mut config = RedisConfig::new(format!("redis://127.0.0.1:{port}/"));
    config.timeout = Duration::from_millis(300);
    let down = RedisMeter::new(config).unwrap().try_consume(&engine, &request, overage, 1);
    assert!(matches!(down, Err(StoreError::Unreachable(_))), "{down:?}");
    let back = Server::start(&dir, Some(port));
    assert_eq!(meter(&back.url()).try_consume(&engine, &request, overage, 1).unwrap().from_grants, 1);
}
