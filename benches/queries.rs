//! Query benchmarks: feature and limit answers by id and by name, explanations, and
//! concurrent readers, each beside the baseline its budget is stated against.
//!
//! `cargo bench --bench queries`; `docs/performance.md` records the figures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
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
    // Ten minutes of conversation, which draw 50 credits on the monthly AI credit pool.
    let conversation = engine.limit("conversation_minutes").expect("limit");
    group.bench_function("ids/pool", |b| {
        b.iter(|| {
            engine.check_limit(
                black_box(&plain),
                black_box(conversation),
                black_box(Usage::used(4_000).requesting(600)),
            )
        })
    });
    // One request against a per-second burst, a daily cap and a monthly allowance: as one
    // batch, and as the three calls a caller would otherwise make.
    let burst = engine.limit("api_calls_per_second").expect("limit");
    let three = [
        (burst, Usage::used(40).requesting(1)),
        (api_calls, Usage::used(990_000).requesting(20_000)),
        (ai_minutes, Usage::used(9_000).requesting(10)),
    ];
    let mut out = [entitle::Quota::default(); 3];
    group.bench_function("ids/three_limits_batch", |b| {
        b.iter(|| engine.check_limits(black_box(&plain), black_box(&three), &mut out).map(|batch| batch.binding))
    });
    group.bench_function("ids/three_limits_loop", |b| {
        b.iter(|| {
            let request = black_box(&plain);
            black_box(&three).map(|(limit, usage)| engine.check_limit(request, limit, usage))
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

/// A fixed pseudo-random sequence (xorshift64*), so every run asks the same questions.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        usize::try_from(self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33).unwrap_or(0) % below
    }
}

/// Questions per batch: enough that branch predictors cannot learn the sequence, few enough
/// to stay in cache like a service's hot names do.
const MIX: usize = 4_096;

/// One feature question of the mix, by name and by index (an index one past the end is a name
/// the policy does not declare).
struct FeatureQuestion {
    tier: &'static str,
    feature: &'static str,
    key: String,
    indices: (usize, usize),
}

/// One limit question of the mix.
struct LimitQuestion {
    tier: &'static str,
    limit: &'static str,
    addons: &'static [&'static str],
    indices: (usize, usize),
    usage: Usage,
}

const TIERS: [&str; 5] = ["free", "pro", "enterprise", "acme_contract", "platinum"];
const FEATURES: [&str; 13] = [
    "message_recall",
    "read_receipts",
    "group_mute",
    "e2e_encryption",
    "hd_video",
    "adaptive_bitrate",
    "live_effects",
    "conversational_ai",
    "usage_analytics",
    "priority_support",
    "phone_support_24x7",
    "dedicated_csm",
    "hd_vidoe",
];
const LIMITS: [&str; 8] = [
    "concurrent_connections",
    "api_calls_per_day",
    "api_calls_per_second",
    "storage",
    "message_retention",
    "group_size",
    "ai_minutes",
    "api_calls_per_dya",
];
const ADDON_SETS: [&[&str]; 4] = [&[], &[], &["ai_pack"], &["ai_pack", "launch_promo"]];

/// The sweeps: the same pseudo-random mix of 4,096 questions (every tier, granted, denied, by
/// rollout, names the policy does not declare, every limit kind, with and without add-ons)
/// asked of each engine and baseline in one run, so ratios compare like with like and no
/// single repeated question flatters a branch predictor or a cache.
fn mix(c: &mut Criterion) {
    let engine = engine();
    let mut sequence = Sequence(0x5eed_1234_abcd_9876);
    let features: Vec<FeatureQuestion> = (0..MIX)
        .map(|i| {
            // One question in 32 names an unknown tier, one in 16 an unknown feature.
            let t = if sequence.next(32) == 0 { 4 } else { sequence.next(4) };
            let f = if sequence.next(16) == 0 { 12 } else { sequence.next(12) };
            FeatureQuestion { tier: TIERS[t], feature: FEATURES[f], key: format!("app-{i}"), indices: (t, f) }
        })
        .collect();
    let limits: Vec<LimitQuestion> = (0..MIX)
        .map(|_| {
            let t = if sequence.next(32) == 0 { 4 } else { sequence.next(4) };
            let l = if sequence.next(16) == 0 { 7 } else { sequence.next(7) };
            let used = u64::try_from(sequence.next(2_000_000)).unwrap_or(0);
            let usage = Usage::used(used).requesting(u64::try_from(sequence.next(100)).unwrap_or(0));
            LimitQuestion {
                tier: TIERS[t],
                limit: LIMITS[l],
                addons: ADDON_SETS[sequence.next(4)],
                indices: (t, l),
                usage,
            }
        })
        .collect();

    // Ids as a service resolves them once at start-up: unknown names have no id, so the id
    // sweeps use ids past the end for them, which the engine answers as unknown.
    let tier_ids: Vec<_> =
        TIERS.iter().map(|t| engine.tier(t).unwrap_or(entitle::TierId::from_u32(u32::MAX))).collect();
    let feature_ids: Vec<_> =
        FEATURES.iter().map(|f| engine.feature(f).unwrap_or(entitle::FeatureId::from_u32(u32::MAX))).collect();
    let limit_ids: Vec<_> =
        LIMITS.iter().map(|l| engine.limit(l).unwrap_or(entitle::LimitId::from_u32(u32::MAX))).collect();
    let addon_ids: Vec<Vec<_>> =
        ADDON_SETS.iter().map(|set| set.iter().map(|a| engine.addon(a).expect("declared")).collect()).collect();
    let addon_set_of = |addons: &[&str]| ADDON_SETS.iter().position(|s| *s == addons).unwrap_or(0);

    // The floors: every answer precomputed into flat tables indexed by position, with a row
    // and a column of "no" for unknown names (rollouts answered for a key outside them).
    let columns = FEATURES.len();
    let mut bits = vec![false; TIERS.len() * columns];
    for (t, tier) in TIERS.iter().enumerate() {
        for (f, feature) in FEATURES.iter().enumerate() {
            bits[t * columns + f] = engine.is_allowed_by_name(&Request::new(*tier, NOW), feature);
        }
    }
    let floor = Bitset {
        words_per_tier: 1,
        words: (0..TIERS.len())
            .map(|t| (0..columns).filter(|&f| bits[t * columns + f]).fold(0u64, |w, f| w | 1 << f))
            .collect(),
    };
    let mut caps = vec![0u64; TIERS.len() * LIMITS.len()];
    for (t, tier) in TIERS.iter().enumerate() {
        for (l, limit) in LIMITS.iter().enumerate() {
            let quota = engine.check_limit_by_name(&Request::new(*tier, NOW), limit, Usage::used(0));
            caps[t * LIMITS.len() + l] = match quota.soft_cap.unwrap_or(quota.limit) {
                entitle::Amount::Finite(n) => n,
                entitle::Amount::Unlimited => u64::MAX,
            };
        }
    }
    // The by-name baselines: the same tables behind a general-purpose hash map per kind of
    // name, the structure an application would otherwise write.
    let tier_index: HashMap<String, usize> =
        TIERS.iter().take(4).enumerate().map(|(i, t)| (t.to_string(), i)).collect();
    let feature_index: HashMap<String, usize> =
        FEATURES.iter().take(12).enumerate().map(|(i, f)| (f.to_string(), i)).collect();
    let limit_index: HashMap<String, usize> =
        LIMITS.iter().take(7).enumerate().map(|(i, l)| (l.to_string(), i)).collect();
    let addon_index: HashMap<String, usize> =
        ["ai_pack", "launch_promo"].iter().enumerate().map(|(i, a)| (a.to_string(), i)).collect();

    let mut group = c.benchmark_group("mix");
    group.throughput(Throughput::Elements(u64::try_from(MIX).unwrap_or(1)));
    group.bench_function("features/bitset_floor", |b| {
        b.iter(|| features.iter().filter(|q| floor.get(black_box(q.indices.0), black_box(q.indices.1))).count())
    });
    group.bench_function("features/ids", |b| {
        b.iter(|| {
            features
                .iter()
                .filter(|q| {
                    let request = Request::new(tier_ids[q.indices.0], NOW).with_key(&q.key);
                    engine.is_allowed(black_box(&request), black_box(feature_ids[q.indices.1]))
                })
                .count()
        })
    });
    group.bench_function("features/hashed_bitset", |b| {
        b.iter(|| {
            features
                .iter()
                .filter(|q| match (tier_index.get(black_box(q.tier)), feature_index.get(black_box(q.feature))) {
                    (Some(&t), Some(&f)) => floor.get(t, f),
                    _ => false,
                })
                .count()
        })
    });
    group.bench_function("features/by_name", |b| {
        b.iter(|| {
            features
                .iter()
                .filter(|q| {
                    let request = Request::new(black_box(q.tier), NOW).with_key(&q.key);
                    engine.is_allowed_by_name(&request, black_box(q.feature))
                })
                .count()
        })
    });
    group.bench_function("limits/table_floor", |b| {
        b.iter(|| {
            limits
                .iter()
                .filter(|q| {
                    let cap = caps[black_box(q.indices.0) * LIMITS.len() + black_box(q.indices.1)];
                    q.usage.used.saturating_add(q.usage.requested) <= cap
                })
                .count()
        })
    });
    group.bench_function("limits/ids", |b| {
        b.iter(|| {
            limits
                .iter()
                .filter(|q| {
                    let addons = &addon_ids[addon_set_of(q.addons)];
                    let request = Request::new(tier_ids[q.indices.0], NOW).with_addons(addons);
                    engine.check_limit(black_box(&request), black_box(limit_ids[q.indices.1]), q.usage).allowed
                })
                .count()
        })
    });
    group.bench_function("limits/hashed_table", |b| {
        b.iter(|| {
            limits
                .iter()
                .filter(|q| match (tier_index.get(black_box(q.tier)), limit_index.get(black_box(q.limit))) {
                    (Some(&t), Some(&l)) => {
                        // Held add-ons are names too: the baseline looks each up, as the engine does.
                        let held = q.addons.iter().filter_map(|a| addon_index.get(black_box(*a))).count();
                        q.usage.used.saturating_add(q.usage.requested)
                            <= caps[t * LIMITS.len() + l].saturating_add(held as u64)
                    }
                    _ => false,
                })
                .count()
        })
    });
    group.bench_function("limits/by_name", |b| {
        b.iter(|| {
            limits
                .iter()
                .filter(|q| {
                    let request = Request::new(black_box(q.tier), NOW).with_addons(q.addons);
                    engine.check_limit_by_name(&request, black_box(q.limit), q.usage).allowed
                })
                .count()
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
    targets = mix, is_allowed, remaining, by_name, explain, concurrent
}
criterion_main!(queries);
