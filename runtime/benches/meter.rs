//! The usage meter's speed: `try_consume` alone, with two threads on one key and on two keys,
//! beside `governor`'s keyed rate limiter doing the same in the same run; then the Redis
//! meter's latency and throughput beside the in-process one.
//!
//! `cargo bench -p entitle-runtime --bench meter`; `docs/performance.md` records the figures.
//! The Redis group starts a `redis-server` on a free loopback port, as the tests do, and the
//! Redis Cluster group a three-node cluster of them (no replicas, nothing on disk).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "a bench with a broken setup should stop at once"
)]

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Barrier;
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use entitle::{Engine, LimitId, Request, TierId, Usage};
use entitle_runtime::meter::{Grant, Meter};
use entitle_runtime::store::redis::{LeaseConfig, LeasedMeter, RedisConfig, RedisMeter};
use entitle_runtime::store::UsageMeter;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[path = "../tests/support/redis_server.rs"]
mod redis_server;

/// A per-minute limit no bench reaches, so every call is allowed and recorded, as every
/// governor check is allowed: both do their full work on every call.
const POLICY: &str =
    "policy \"bench\"\nlimit calls : count per minute\ntier pro { limit calls = 1_000_000_000_000_000 }\n";

/// A pool of one credit a minute, which the first call of each minute spends: the bench's
/// calls are paid by the grants.
const POOLS: &str = "policy \"bench\"\nlimit credits : count per minute\n\
                     limit images : count draws credits at 40\ntier pro { limit credits = 1 }\n";

/// The per-minute limit's rolling twin: a window of 24 hours in buckets of 22.5 minutes, which
/// the calls of one instant all record into, as the calls of one bucket's span do.
const ROLLING: &str =
    "policy \"bench\"\nlimit calls : count rolling 24 hours\ntier pro { limit calls = 1_000_000_000_000_000 }\n";

/// A year ahead of the real clock, so the Redis keys' expiry (a minute after the window, by
/// Redis's clock) never falls inside the run.
fn now() -> i64 {
    let real = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    i64::try_from(real).unwrap() + 365 * 86_400
}

struct Setup {
    engine: Engine,
    pro: TierId,
    calls: LimitId,
    now: i64,
}

fn setup() -> Setup {
    let engine = Engine::from_source("bench", POLICY).unwrap();
    let (pro, calls) = (engine.tier("pro").unwrap(), engine.limit("calls").unwrap());
    Setup { engine, pro, calls, now: now() }
}

fn governor() -> DefaultKeyedRateLimiter<String> {
    RateLimiter::dashmap(Quota::per_second(NonZeroU32::MAX))
}

/// Runs `op(thread, i)` for `i` in `0..iters` on each of `threads` threads, started together;
/// returns the wall time from the start to the last thread's end.
fn on_threads(threads: usize, iters: u64, op: impl Fn(usize, u64) + Sync) -> Duration {
    let start = Barrier::new(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (start, op) = (&start, &op);
                scope.spawn(move || {
                    start.wait();
                    let began = Instant::now();
                    for i in 0..iters {
                        op(t, i);
                    }
                    began.elapsed()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).max().unwrap_or_default()
    })
}

fn in_process(c: &mut Criterion) {
    let s = setup();
    let request = Request::new(s.pro, s.now).with_key("customer-00042");
    let mut group = c.benchmark_group("meter");

    // The floor under the meter: the engine's answer alone, with the usage given.
    group.bench_function("check_limit (engine alone)", |b| {
        b.iter(|| s.engine.check_limit(black_box(&request), s.calls, Usage::used(black_box(41)).requesting(1)))
    });
    let meter = Meter::new();
    group.bench_function("try_consume/uncontended", |b| {
        b.iter(|| meter.try_consume(&s.engine, black_box(&request), s.calls, 1).unwrap())
    });
    group.bench_function("try_consume/uncontended, reading the clock", |b| {
        b.iter(|| {
            let request = Request::new(s.pro, 0).with_key("customer-00042").at_time(SystemTime::now());
            meter.try_consume(&s.engine, black_box(&request), s.calls, 1).unwrap()
        })
    });
    // A limit that draws on a pool whose plan is spent, so that every call is paid by the
    // first of the subject's two grants: the pool's terms, the plan's answer, the grants'.
    let pools = Engine::from_source("bench", POOLS).unwrap();
    let (pools_pro, images) = (pools.tier("pro").unwrap(), pools.limit("images").unwrap());
    let credits = pools.limit("credits").unwrap();
    let granted = Request::new(pools_pro, s.now).with_key("customer-00042");
    let meter = Meter::new();
    for grant in [Grant::new("promo", 1 << 60).with_priority(1), Grant::new("prepaid", 1 << 60)] {
        meter.grant(&pools, &granted, credits, grant).unwrap();
    }
    assert_eq!(meter.try_consume(&pools, &granted, images, 1).unwrap().from_grants, 40 - 1);
    group.bench_function("try_consume/pool, from two grants", |b| {
        b.iter(|| meter.try_consume(&pools, black_box(&granted), images, 1).unwrap())
    });
    let limiter = governor();
    let key = String::from("customer-00042");
    let rolling = Engine::from_source("bench", ROLLING).unwrap();
    let rolling_calls = rolling.limit("calls").unwrap();
    let request = Request::new(rolling.tier("pro").unwrap(), s.now).with_key("customer-00042");
    group.bench_function("try_consume/rolling", |b| {
        b.iter(|| meter.try_consume(&rolling, black_box(&request), rolling_calls, 1).unwrap())
    });
    group.bench_function("governor check_key/uncontended", |b| b.iter(|| limiter.check_key(black_box(&key))));

    // Two threads at once; one iteration is one call on each thread.
    group.throughput(Throughput::Elements(2));
    let keys = ["customer-00042", "customer-00043"];
    for (name, shared) in [("2 threads, one key", true), ("2 threads, two keys", false)] {
        let key_of = |t: usize| if shared { keys[0] } else { keys[t] };
        let meter = Meter::new();
        group.bench_function(format!("try_consume/{name}"), |b| {
            b.iter_custom(|iters| {
                on_threads(2, iters, |t, _| {
                    let request = Request::new(s.pro, s.now).with_key(key_of(t));
                    black_box(meter.try_consume(&s.engine, &request, s.calls, 1).unwrap());
                })
            })
        });
        let limiter = governor();
        let owned = [String::from(key_of(0)), String::from(key_of(1))];
        group.bench_function(format!("governor check_key/{name}"), |b| {
            b.iter_custom(|iters| {
                on_threads(2, iters, |t, _| {
                    let _ = black_box(limiter.check_key(&owned[t]));
                })
            })
        });
    }
    group.finish();
}

fn on_redis(c: &mut Criterion) {
    let server = redis_server::Server::start_everysec(&redis_server::scratch("bench"));
    let s = setup();
    let mut group = c.benchmark_group("meter on redis");
    group.sample_size(20).measurement_time(Duration::from_secs(4));

    let meter = RedisMeter::new(RedisConfig::new(server.url())).unwrap();
    let request = Request::new(s.pro, s.now).with_key("customer-00042");
    group.bench_function("try_consume/one caller", |b| {
        b.iter(|| meter.try_consume(&s.engine, black_box(&request), s.calls, 1).unwrap())
    });

    // The rolling twin: one script call that reads the 65 buckets that count and records on one.
    let rolling = Engine::from_source("bench", ROLLING).unwrap();
    let rolling_calls = rolling.limit("calls").unwrap();
    let rolling_request = Request::new(rolling.tier("pro").unwrap(), s.now).with_key("customer-00043");
    group.bench_function("try_consume/rolling, one caller", |b| {
        b.iter(|| meter.try_consume(&rolling, black_box(&rolling_request), rolling_calls, 1).unwrap())
    });

    // The same calls answered from a lease: a share of a million per renewal, so nearly every
    // call is answered in process and one in a million reaches Redis.
    let mut lease = LeaseConfig::default();
    lease.share = 1_000_000;
    let leased = LeasedMeter::new(RedisMeter::new(RedisConfig::new(server.url())).unwrap(), lease);
    group.bench_function("try_consume/leased, one caller", |b| {
        b.iter(|| leased.try_consume(&s.engine, black_box(&request), s.calls, 1).unwrap())
    });

    // Four callers on one meter (its four connections), on their own keys; one iteration is
    // one call from each.
    group.throughput(Throughput::Elements(4));
    group.bench_function("try_consume/4 callers", |b| {
        b.iter_custom(|iters| {
            on_threads(4, iters, |t, _| {
                let key = ["customer-1", "customer-2", "customer-3", "customer-4"][t];
                let request = Request::new(s.pro, s.now).with_key(key);
                black_box(meter.try_consume(&s.engine, &request, s.calls, 1).unwrap());
            })
        })
    });
    group.bench_function("try_consume/leased, 4 callers", |b| {
        b.iter_custom(|iters| {
            on_threads(4, iters, |t, _| {
                let key = ["customer-1", "customer-2", "customer-3", "customer-4"][t];
                let request = Request::new(s.pro, s.now).with_key(key);
                black_box(leased.try_consume(&s.engine, &request, s.calls, 1).unwrap());
            })
        })
    });
    group.finish();
    leased.close().unwrap();
}

/// The same calls on a three-node Redis Cluster: one caller on one key (so on one node), and
/// four callers on keys whose slots are on all three nodes.
fn on_redis_cluster(c: &mut Criterion) {
    let cluster = redis_server::Cluster::start(&redis_server::scratch("bench-cluster"));
    let s = setup();
    let mut group = c.benchmark_group("meter on redis cluster");
    group.sample_size(20).measurement_time(Duration::from_secs(4));

    let meter = RedisMeter::new(RedisConfig::cluster(cluster.urls())).unwrap();
    let request = Request::new(s.pro, s.now).with_key("customer-00042");
    group.bench_function("try_consume/one caller", |b| {
        b.iter(|| meter.try_consume(&s.engine, black_box(&request), s.calls, 1).unwrap())
    });
    group.throughput(Throughput::Elements(4));
    group.bench_function("try_consume/4 callers", |b| {
        b.iter_custom(|iters| {
            on_threads(4, iters, |t, _| {
                let key = ["customer-1", "customer-2", "customer-3", "customer-4"][t];
                let request = Request::new(s.pro, s.now).with_key(key);
                black_box(meter.try_consume(&s.engine, &request, s.calls, 1).unwrap());
            })
        })
    });
    group.finish();
}

criterion_group!(benches, in_process, on_redis, on_redis_cluster);
criterion_main!(benches);
