//! Rolling windows on a real `redis-server` (the Debian package), started on a free loopback
//! port and stopped by each test: the cases the in-process meter answers, answered alike;
//! meters sharing the buckets; calls whose replies are lost, settled exactly; and keys that
//! expire once nothing in them counts.
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
use entitle_runtime::meter::ReservationError;
use entitle_runtime::store::redis::{RedisConfig, RedisMeter};
use entitle_runtime::store::{StoreError, UsageMeter};

#[path = "support/redis_server.rs"]
mod redis_server;
use redis_server::{scratch, Server};

#[path = "support/rolling_cases.rs"]
mod rolling_cases;
use rolling_cases::{BASE, CENTURIES, POLICY};

#[path = "support/fault_proxy.rs"]
mod fault_proxy;
use fault_proxy::Proxy;

fn meter(url: &str) -> RedisMeter {
    let mut config = RedisConfig::new(url);
    config.timeout = Duration::from_secs(2);
    RedisMeter::new(config).unwrap()
}

#[test]
fn every_rolling_case_answers_on_redis_as_in_process() {
    let server = Server::start(&scratch("rolling-cases"), None);
    assert!(rolling_cases::run(&meter(&server.url()), "redis", CENTURIES) >= 9);
}

#[test]
fn meters_sharing_redis_count_one_rolling_window() {
    let server = Server::start(&scratch("rolling-shared"), None);
    let engine = Arc::new(Engine::from_source("rolling.policy", POLICY).unwrap());
    let (pro, daily) = (engine.tier("pro").unwrap(), engine.limit("daily").unwrap());
    let start = BASE + CENTURIES;
    // Four threads, each with a meter of its own, spend one window's 100 in steps of 1, at
    // instants within one bucket (so that their order in time is the order they run in):
    // exactly 100 are allowed.
    let allowed: u64 = (0..4)
        .map(|t| {
            let (engine, url) = (Arc::clone(&engine), server.url());
            std::thread::spawn(move || {
                let meter = meter(&url);
                (0..60)
                    .filter(|i| {
                        let request = Request::new(pro, start + i * 20 + t).with_key("acme");
                        meter.try_consume(&engine, &request, daily, 1).unwrap().quota.allowed
                    })
                    .count() as u64
            })
        })
        .map(|thread| thread.join().unwrap())
        .sum();
    assert_eq!(allowed, 100);
    // A day and one bucket after the first of them, the whole window has aged out.
    let later = Request::new(pro, start + 86_400 + 1_350).with_key("acme");
    let consumed = meter(&server.url()).try_consume(&engine, &later, daily, 100).unwrap();
    assert!(consumed.quota.allowed && consumed.used == 100, "{consumed:?}");
}

#[test]
fn a_lost_reply_or_a_late_call_is_counted_once_on_a_rolling_window() {
    let server = Server::start(&scratch("rolling-faults"), None);
    let proxy = Proxy::start(server.port());
    let engine = Engine::from_source("rolling.policy", POLICY).unwrap();
    let (pro, daily) = (engine.tier("pro").unwrap(), engine.limit("daily").unwrap());
    let at = |offset: i64| Request::new(pro, BASE + CENTURIES + offset).with_key("acme");
    let mut config = RedisConfig::new(proxy.url());
    (config.connections, config.timeout) = (1, Duration::from_millis(300));
    let meter = RedisMeter::new(config).unwrap();
    assert!(meter.try_consume(&engine, &at(0), daily, 40).unwrap().quota.allowed);

    // The script runs, its reply is lost: the retry finds the first try's result.
    proxy.drop_next_reply();
    assert_eq!(meter.try_consume(&engine, &at(2_000), daily, 10).unwrap().used, 50);

    // A call that reaches Redis after the meter gave up on it is taken back by the next one,
    // off the bucket it recorded on.
    proxy.hold();
    assert!(meter.try_consume(&engine, &at(3_000), daily, 15).is_err());
    proxy.stop_holding();
    proxy.release();
    assert_eq!(meter.try_consume(&engine, &at(3_000), daily, 0).unwrap().used, 50);

    // A refund that runs late is counted again, bucket by bucket.
    proxy.hold();
    assert!(meter.refund(&engine, &at(3_001), daily, 45).is_err());
    proxy.stop_holding();
    proxy.release();
    assert_eq!(meter.try_consume(&engine, &at(3_001), daily, 0).unwrap().used, 50);
    // And one that is answered takes the newest first: what is left is the oldest bucket's.
    assert_eq!(meter.refund(&engine, &at(3_002), daily, 15).unwrap(), 15);
    assert_eq!(meter.try_consume(&engine, &at(86_400 + 1_349), daily, 0).unwrap().used, 35);
    assert_eq!(meter.try_consume(&engine, &at(86_400 + 1_350), daily, 0).unwrap().used, 0);
}

#[test]
fn every_bucket_expires_once_nothing_in_it_counts() {
    let server = Server::start(&scratch("rolling-keys"), None);
    let engine = Engine::from_source(
        "p",
        "policy \"p\"\nlimit calls : count rolling 64 seconds\ntier pro { limit calls = 1_000_000 }\n",
    )
    .unwrap();
    let (pro, calls) = (engine.tier("pro").unwrap(), engine.limit("calls").unwrap());
    let meter = meter(&server.url());
    // A call a second for five minutes: a bucket a second, of which 65 count at a time.
    let start = BASE + CENTURIES;
    for second in 0..300 {
        let request = Request::new(pro, start + second).with_key("acme");
        assert!(meter.try_consume(&engine, &request, calls, 1).unwrap().quota.allowed);
    }
    let request = Request::new(pro, start + 299).with_key("acme");
    assert_eq!(meter.try_consume(&engine, &request, calls, 0).unwrap().used, 65);
    let mut redis = redis::Client::open(server.url()).unwrap().get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*:calls:r64:*").query(&mut redis).unwrap();
    let buckets: Vec<&String> = keys.iter().filter(|k| !k.ends_with(":latest")).collect();
    assert_eq!(buckets.len(), 300, "one key per bucket recorded on");
    for key in buckets {
        let expires: i64 = redis::cmd("EXPIRETIME").arg(key).query(&mut redis).unwrap();
        let index: i64 = key.rsplit(':').next().unwrap().parse().unwrap();
        // Its end, the window's length and the grace period every counter keeps.
        assert_eq!(expires, index + 1 + 64 + 60, "{key}");
    }
}

#[test]
fn a_rolling_limit_takes_no_hold_on_redis_either() {
    let server = Server::start(&scratch("rolling-holds"), None);
    let engine = Engine::from_source("rolling.policy", POLICY).unwrap();
    let request = Request::new(engine.tier("pro").unwrap(), BASE + CENTURIES).with_key("acme");
    let held =
        meter(&server.url()).reserve(&engine, &request, engine.limit("calls").unwrap(), 1, Duration::from_secs(9));
    assert!(matches!(held, Err(StoreError::Reservation(ReservationError::Rolling { .. }))), "{held:?}");
}

/// A small deterministic generator (xorshift64*), so that a failing sequence is the same on
/// every run.
struct Steps(u64);

impl Steps {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % below
    }
}

/// The same sequences of consumptions, refunds and batches, at instants that mostly move on
/// by less than a bucket, now and then by a window or more, and now and then step back a
/// little, answered by the in-process meter and by Redis: every answer, every usage and
/// every refund alike.
#[test]
fn random_sequences_answer_alike_in_process_and_on_redis() {
    let server = Server::start(&scratch("rolling-differential"), None);
    let engine = Engine::from_source("rolling.policy", POLICY).unwrap();
    let pro = engine.tier("pro").unwrap();
    let limits = ["calls", "burst", "daily", "images", "month"].map(|name| engine.limit(name).unwrap());
    let redis = meter(&server.url());
    let mut steps = Steps(0x9e37_79b9_7f4a_7c15);
    for sequence in 0..100 {
        let local = entitle_runtime::meter::Meter::new();
        let key = format!("subject-{sequence}");
        let mut now = 0;
        for step in 0..60 {
            let moved = match steps.next(20) {
                0 => 3_000 + steps.next(90_000),
                1..=3 => steps.next(300),
                _ => steps.next(20),
            };
            now += i64::try_from(moved).unwrap();
            // Now and then a request stamped up to 50 seconds behind the last (within every
            // window of the policy), on a rolling limit: both meters answer it at its instant.
            let behind = if steps.next(8) == 0 { i64::try_from(steps.next(50)).unwrap() } else { 0 };
            let limit = limits[usize::try_from(steps.next(if behind > 0 { 4 } else { 5 })).unwrap()];
            let amount = steps.next(8);
            let (at_local, at_redis) = (BASE + now - behind, BASE + CENTURIES + now - behind);
            let whence = format!("sequence {sequence}, step {step}, +{now}");
            match steps.next(6) {
                0 => {
                    let a =
                        UsageMeter::refund(&local, &engine, &Request::new(pro, at_local).with_key(&key), limit, amount);
                    let b = redis.refund(&engine, &Request::new(pro, at_redis).with_key(&key), limit, amount);
                    let (a, b) = (a.unwrap(), b.unwrap());
                    assert_eq!(a, b, "{whence}: refund");
                }
                1 if behind == 0 => {
                    let batch = [(limit, amount), (limits[0], 1), (limits[4], 1)];
                    let mut out = [entitle::Quota::default(); 3];
                    let a =
                        local.try_consume_all(&engine, &Request::new(pro, at_local).with_key(&key), &batch, &mut out);
                    let (a_recorded, a_used): (bool, Vec<_>) =
                        a.map(|all| (all.recorded, all.answers.iter().map(|q| q.remaining).collect())).unwrap();
                    let mut out = [entitle::Quota::default(); 3];
                    let b =
                        redis.try_consume_all(&engine, &Request::new(pro, at_redis).with_key(&key), &batch, &mut out);
                    let (b_recorded, b_used): (bool, Vec<_>) =
                        b.map(|all| (all.recorded, all.answers.iter().map(|q| q.remaining).collect())).unwrap();
                    assert_eq!((a_recorded, a_used), (b_recorded, b_used), "{whence}: batch");
                }
                _ => {
                    let a =
                        local.try_consume(&engine, &Request::new(pro, at_local).with_key(&key), limit, amount).unwrap();
                    let b =
                        redis.try_consume(&engine, &Request::new(pro, at_redis).with_key(&key), limit, amount).unwrap();
                    let view =
                        |c: &entitle_runtime::meter::Consumed| (c.quota.allowed, c.quota.remaining, c.used, c.recorded);
                    assert_eq!(view(&a), view(&b), "{whence}: consume");
                }
            }
        }
    }
}
