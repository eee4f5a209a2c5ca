//! Query benchmarks: feature and limit answers by id and by name, explanations, and
//! concurrent readers, each beside the baseline its budget is stated against.
//!
//! `cargo bench --bench queries`; `docs/performance.md` records the figures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a bench with a broken setup should stop at once"
)]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use entitle::{Engine, Request, Usage};

fn engine() -> Engine {
    Engine::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/rtc-sdk.policy")).expect("the bundled policy")
}

/// November 21st 2026, 10:00 UTC: inside the launch promotion.
const NOW: i64 = 1_795_255_200;

/// A subject key inside the 5% rollout of `conversational_ai`.
fn key_inside_rollout() -> String {
    (0..)
        .map(|i| format!("app-{i}"))
        .find(|k| entitle::rollout_bucket("conversational_ai", k) < 50_000)
        .unwrap_or_default()
}

/// The floor: a hand-written bitset of (tier, feature) with pre-resolved indices.
struct Bitset {
    words_per_tier: usize,
    words: Vec<u64>,
}

impl Bitset {
    fn from_engine(engine: &Engine, tiers: &[&str], features: &[&str]) -> Bitset {
        let words_per_tier = features.len().div_ceil(64);
        let mut words = vec![0u64; tiers.len() * words_per_tier];
        for (t, tier) in tiers.iter().enumerate() {
            let ctx = Request::new(engine.tier(tier).expect("tier"), NOW);
            for (f, feature) in features.iter().enumerate() {
                if engine.is_allowed(&ctx, engine.feature(feature).expect("feature")) {
                    words[t * words_per_tier + f / 64] |= 1 << (f % 64);
                }
            }
        }
        Bitset { words_per_tier, words }
    }

    #[inline]
    fn get(&self, tier: usize, feature: usize) -> bool {
        self.words[tier * self.words_per_tier + feature / 64] & (1 << (feature % 64)) != 0
    }
}

fn is_allowed(c: &mut Criterion) {
    let engine = engine();
    let features = ["hd_video", "conversational_ai", "dedicated_csm"];
    let tiers = ["free", "pro", "enterprise"];
    let floor = Bitset::from_engine(&engine, &tiers, &features);
    let (free, pro) = (engine.tier("free").expect("free"), engine.tier("pro").expect("pro"));
    let hd_video = engine.feature("hd_video").expect("feature");
    let ai = engine.feature("conversational_ai").expect("feature");
    let promo = [engine.addon("launch_promo").expect("addon")];
    let key = key_inside_rollout();

    let granted = Request::new(pro, NOW).with_key("app-42");
    let denied = Request::new(free, NOW).with_key("app-42");
    let via_addon = Request::new(free, NOW).with_key("app-42").with_addons(&promo);
    let via_rollout = Request::new(pro, NOW).with_key(&key);
    assert!(engine.is_allowed(&granted, hd_video) && !engine.is_allowed(&denied, hd_video));
    assert!(engine.is_allowed(&via_addon, hd_video) && engine.is_allowed(&via_rollout, ai));

    let mut group = c.benchmark_group("is_allowed");
    group.bench_function("bitset_floor", |b| b.iter(|| floor.get(black_box(1), black_box(0))));
    group.bench_function("ids/granted", |b| b.iter(|| engine.is_allowed(black_box(&granted), black_box(hd_video))));
    group.bench_function("ids/denied", |b| b.iter(|| engine.is_allowed(black_box(&denied), black_box(hd_video))));
    group.bench_function("ids/via_addon", |b| b.iter(|| engine.is_allowed(black_box(&via_addon), black_box(hd_video))));
    group.bench_function("ids/via_rollout", |b| b.iter(|| engine.is_allowed(black_box(&via_rollout), black_box(ai))));
    group.finish();
}

fn remaining(c: &mut Criterion) {
    let engine = engine();
    let pro = engine.tier("pro").expect("pro");
    let api_calls = engine.limit("api_calls_per_day").expect("limit");
    let ai_minutes = engine.limit("ai_minutes").expect("limit");
    let two = [engine.addon("ai_pack").expect("addon"), engine.addon("launch_promo").expect("addon")];
    let plain = Request::new(pro, NOW);
    let with_addons = Request::new(pro, NOW).with_addons(&two);
    let anchored = Request::new(pro, NOW).with_addons(&two).with_billing_anchor(31);

    let mut group = c.benchmark_group("check_limit");
    group.bench_function("ids/plain", |b| {
        b.iter(|| {
            engine.check_limit(
                black_box(&plain),
                black_box(api_calls),
                black_box(Usage::used(990_000).requesting(20_000)),
            )
        })
    });
    group.bench_function("ids/two_addons", |b| {
        b.iter(|| {
            engine.check_limit(
                black_box(&with_addons),
                black_box(api_calls),
                black_box(Usage::used(990_000).requesting(20_000)),
            )
        })
    });
    group.bench_function("ids/monthly_anchor_two_addons", |b| {
        b.iter(|| {
            engine.check_limit(
                black_box(&anchored),
                black_box(ai_minutes),
                black_box(Usage::used(9_000).requesting(10)),
            )
        })
    });
    group.finish();
}

fn by_name(c: &mut Criterion) {
    let engine = engine();
    // The naive baseline: answers precomputed into a map keyed by (tier, feature) names.
    let mut map: HashMap<String, HashMap<String, bool>> = HashMap::new();
    for tier in ["free", "pro", "enterprise"] {
        let ctx = Request::new(engine.tier(tier).expect("tier"), NOW);
        for (feature, name) in engine.features() {
            let allowed = engine.is_allowed(&ctx, feature);
            map.entry(tier.to_string()).or_default().insert(name.to_string(), allowed);
        }
    }
    let held = ["ai_pack"];
    let subject = Request::new("pro", NOW).with_key("app-42");
    let with_addon = subject.with_addons(&held);
    assert_eq!(engine.decide_by_name(&subject, "hd_video").allowed, map["pro"]["hd_video"]);

    let mut group = c.benchmark_group("by_name");
    group.bench_function("hashmap_baseline", |b| {
        b.iter(|| map.get(black_box("pro")).and_then(|m| m.get(black_box("hd_video"))).copied())
    });
    group.bench_function("decide", |b| b.iter(|| engine.decide_by_name(black_box(&subject), black_box("hd_video"))));
    group.bench_function("decide_one_addon", |b| {
        b.iter(|| engine.decide_by_name(black_box(&with_addon), black_box("conversational_ai")))
    });
    group.bench_function("check_limit", |b| {
        b.iter(|| {
            engine.check_limit_by_name(
                black_box(&subject),
                black_box("api_calls_per_day"),
                Usage::used(990_000).requesting(20_000),
            )
        })
    });
    group.finish();
}

fn explain(c: &mut Criterion) {
    let engine = engine();
    let free = Request::new(engine.tier("free").expect("free"), NOW).with_key("app-42");
    let hd_video = engine.feature("hd_video").expect("feature");
    let api_calls = engine.limit("api_calls_per_day").expect("limit");
    let mut group = c.benchmark_group("explain");
    group
        .bench_function("feature_denied", |b| b.iter(|| engine.explain_feature(black_box(&free), black_box(hd_video))));
    group.bench_function("limit_exceeded", |b| {
        b.iter(|| {
            engine.explain_limit(black_box(&free), black_box(api_calls), black_box(Usage::used(10_000).requesting(1)))
        })
    });
    group.finish();
}

/// The same mix of queries from one thread and from two threads sharing one engine. With no
/// contention, the time per iteration stays the same while the work doubles.
fn concurrent(c: &mut Criterion) {
    let engine = engine();
    let pro = engine.tier("pro").expect("pro");
    let features: Vec<_> = engine.features().map(|(id, _)| id).collect();
    let api_calls = engine.limit("api_calls_per_day").expect("limit");
    let work = |iters: u64| {
        let ctx = Request::new(pro, NOW).with_key("app-42");
        for i in 0..iters {
            let feature = features[usize::try_from(i).unwrap_or(0) % features.len()];
            black_box(engine.is_allowed(black_box(&ctx), feature));
            let _ = black_box(engine.check_limit(black_box(&ctx), api_calls, Usage::used(i).requesting(1)));
        }
    };
    let mut group = c.benchmark_group("concurrent");
    for threads in [1u64, 2] {
        group.throughput(Throughput::Elements(threads));
        group.bench_function(format!("{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|scope| {
                    for _ in 0..threads {
                        scope.spawn(|| work(iters));
                    }
                });
                start.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = queries;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = is_allowed, remaining, by_name, explain, concurrent
}
criterion_main!(queries);
