//! A fixed number of calls of one query, for counting instructions with callgrind: the
//! machine's wall-clock noise cannot settle differences of a few percent, instruction counts
//! can.
//!
//! ```sh
//! cargo bench --bench instructions --no-run        # prints the binary's path
//! valgrind --tool=callgrind target/release/deps/instructions-HASH check_limit_two_addons
//! valgrind --tool=callgrind target/release/deps/instructions-HASH none
//! ```
//!
//! Subtract the `none` run's total (setup, no calls) from a query's and divide by 10⁶: the
//! result includes a few instructions of loop. `docs/performance.md` records the figures.
//! Under `cargo test`, every mode runs ten calls, so the modes keep compiling and working.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "a probe with a broken setup should stop at once"
)]

use std::hint::black_box;

use entitle::{Engine, Request, Usage};

/// The modes, each one query on the bundled `rtc-sdk` policy's `pro` tier.
const MODES: [&str; 26] = [
    "none",
    "bitset_floor",
    "quota_floor",
    "is_allowed_granted",
    "is_allowed_rollout",
    "is_allowed_addon",
    "check_limit_plain",
    "check_limit_two_addons",
    "check_limit_monthly_two_addons",
    "check_limit_prepared_two_addons",
    "check_limit_prepared_monthly_two_addons",
    "check_limit_by_name",
    "feature_by_name",
    "is_allowed_by_name",
    "is_allowed_many_100",
    "is_allowed_loop_100",
    "decide_many_100",
    "decide_loop_100",
    "check_limit_overridden",
    "check_limit_with_overrides_none_apply",
    "is_allowed_overridden",
    "lookup_subject",
    "check_limits_three",
    "check_limit_loop_three",
    "check_limit_pool",
    "check_limit_pool_itself",
];

fn main() {
    let engine = Engine::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/rtc-sdk.policy")).unwrap();
    let pro = engine.tier("pro").unwrap();
    let hd_video = engine.feature("hd_video").unwrap();
    let (api_calls, ai_minutes) = (engine.limit("api_calls_per_day").unwrap(), engine.limit("ai_minutes").unwrap());
    let (conversation, credits) = (engine.limit("conversation_minutes").unwrap(), engine.limit("ai_credits").unwrap());
    let two = [engine.addon("ai_pack").unwrap(), engine.addon("launch_promo").unwrap()];
    let now = 1_795_255_200;
    let plain = Request::new(pro, now);
    // `pro` grants `conversational_ai` to 5% of subjects: the key goes through the bucket hash.
    let conversational_ai = engine.feature("conversational_ai").unwrap();
    let keyed = Request::new(pro, now).with_key("customer-4711");
    // `free` does not grant `hd_video`; the launch promotion, valid at `now`, does.
    let promo = [engine.addon("launch_promo").unwrap()];
    let promoted = Request::new(engine.tier("free").unwrap(), now).with_addons(&promo);
    let with_addons = Request::new(pro, now).with_addons(&two);
    let anchored = Request::new(pro, now).with_addons(&two).with_billing_anchor(31);
    let (prepared, prepared_anchored) = (engine.prepare(&with_addons).unwrap(), engine.prepare(&anchored).unwrap());
    let named = entitle::NamedRequest::new("pro", now);
    let usage = Usage::used(990_000).requesting(20_000);
    let (floor, floor_words) = (vec![u64::MAX; 3], 1usize);
    let answer = engine.check_limit(&plain, api_calls, usage);
    // A page of 100 questions: the policy's features over and over, as a batch asks them.
    let every: Vec<_> = engine.features().map(|(id, _)| id).collect();
    let page: Vec<_> = every.iter().copied().cycle().take(100).collect();
    // An override set with a record for `acme` on `api_calls_per_day` and `dedicated_csm`: a
    // request for `acme` carries them; one for a key without records carries none.
    let overrides = entitle::Overrides::from_jsonl(
        &engine,
        "o.jsonl",
        "{\"subject\":\"acme\",\"limit\":\"api_calls_per_day\",\"op\":\"=\",\"value\":2000000}\n{\"subject\":\"acme\",\"feature\":\"hd_video\",\"op\":\"revoke\"}\n",
    )
    .unwrap();
    let acme = Request::new(pro, now).with_key("acme").with_overrides(&overrides);
    let nobody = Request::new(pro, now).with_key("nobody").with_overrides(&overrides);
    assert!(acme.has_overrides() && !nobody.has_overrides());
    // One request against a per-second burst, a daily cap and a monthly allowance.
    let three = [
        (engine.limit("api_calls_per_second").unwrap(), Usage::used(40).requesting(1)),
        (api_calls, usage),
        (ai_minutes, Usage::used(9_000).requesting(10)),
    ];
    let quotas = std::cell::RefCell::new([entitle::Quota::default(); 3]);
    let (allowed, decisions) =
        (std::cell::RefCell::new([false; 100]), std::cell::RefCell::new([entitle::Decision::default(); 100]));

    // `cargo bench` and `cargo test` pass their own flags: without a mode, run every mode a
    // little (the test); with one, run it a million times (the measurement).
    let asked: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let (modes, calls): (Vec<&str>, u32) = match asked.first() {
        Some(mode) => {
            let mode = MODES.iter().copied().find(|m| m == mode).unwrap_or_else(|| panic!("modes: {MODES:?}"));
            (vec![mode], 1_000_000)
        }
        None => (MODES.to_vec(), 10),
    };
    // The mode is matched once, outside the loop, so every mode pays the same few
    // instructions of loop per call and `none` measures them.
    let repeat = |query: &dyn Fn()| (0..calls).for_each(|_| query());
    for mode in modes {
        match mode {
            "none" => repeat(&|| {}),
            // The floor of the `is_allowed` budget, as `benches/queries.rs` spells it: one
            // word of a tier-major bitset, indexed with the bounds and overflow checks Rust adds.
            "bitset_floor" => repeat(&|| {
                let (tier, feature) = (black_box(1usize), black_box(0usize));
                let _ = black_box(floor[tier * floor_words + feature / 64] & (1 << (feature % 64)) != 0);
            }),
            // What a `check_limit` mode pays around the call: its arguments and its answer (a
            // `Quota` copied out) through `black_box`. Subtracted, it leaves the call's own.
            "quota_floor" => repeat(&|| {
                let _ = black_box((black_box(&plain), black_box(api_calls), black_box(usage)));
                let _ = black_box(*black_box(&answer));
            }),
            "is_allowed_granted" => repeat(&|| {
                let _ = black_box(engine.is_allowed(black_box(&plain), black_box(hd_video)));
            }),
            "is_allowed_rollout" => repeat(&|| {
                let _ = black_box(engine.is_allowed(black_box(&keyed), black_box(conversational_ai)));
            }),
            "is_allowed_addon" => repeat(&|| {
                let _ = black_box(engine.is_allowed(black_box(&promoted), black_box(hd_video)));
            }),
            "check_limit_plain" => repeat(&|| {
                let _ = black_box(engine.check_limit(black_box(&plain), black_box(api_calls), black_box(usage)));
            }),
            // The pool asked directly, with the usage and the cost the mode below asks it
            // for: the pool question's floor, on the same monthly window.
            "check_limit_pool_itself" => repeat(&|| {
                let usage = Usage::used(4_000).requesting(50);
                let _ = black_box(engine.check_limit(black_box(&plain), black_box(credits), black_box(usage)));
            }),
            // A limit that draws on a pool: the cost of the request, then the pool's answer.
            "check_limit_pool" => repeat(&|| {
                let usage = Usage::used(4_000).requesting(600);
                let _ = black_box(engine.check_limit(black_box(&plain), black_box(conversation), black_box(usage)));
            }),
            "check_limit_two_addons" => repeat(&|| {
                let _ = black_box(engine.check_limit(black_box(&with_addons), black_box(api_calls), black_box(usage)));
            }),
            "check_limit_monthly_two_addons" => repeat(&|| {
                let usage = Usage::used(9_000).requesting(10);
                let _ = black_box(engine.check_limit(black_box(&anchored), black_box(ai_minutes), black_box(usage)));
            }),
            // The same two questions on the same requests, prepared once outside the loop.
            "check_limit_prepared_two_addons" => repeat(&|| {
                let _ = black_box(engine.check_limit_prepared(
                    black_box(&prepared),
                    black_box(api_calls),
                    black_box(usage),
                ));
            }),
            "check_limit_prepared_monthly_two_addons" => repeat(&|| {
                let usage = Usage::used(9_000).requesting(10);
                let _ = black_box(engine.check_limit_prepared(
                    black_box(&prepared_anchored),
                    black_box(ai_minutes),
                    black_box(usage),
                ));
            }),
            "is_allowed_by_name" => repeat(&|| {
                let _ = black_box(engine.is_allowed_by_name(black_box(&named), black_box("hd_video")));
            }),
            "is_allowed_many_100" => repeat(&|| {
                let _ =
                    black_box(engine.is_allowed_many(black_box(&plain), black_box(&page), &mut *allowed.borrow_mut()));
            }),
            // The same page asked one call at a time, to compare with the batch.
            "is_allowed_loop_100" => repeat(&|| {
                let request = black_box(&plain);
                for (slot, feature) in allowed.borrow_mut().iter_mut().zip(black_box(&page)) {
                    *slot = engine.is_allowed(request, *feature);
                }
            }),
            "decide_loop_100" => repeat(&|| {
                let request = black_box(&plain);
                for (slot, feature) in decisions.borrow_mut().iter_mut().zip(black_box(&page)) {
                    *slot = engine.decide(request, *feature);
                }
            }),
            "decide_many_100" => repeat(&|| {
                let _ =
                    black_box(engine.decide_many(black_box(&plain), black_box(&page), &mut *decisions.borrow_mut()));
            }),
            // A subject with a record for the limit: the plan's answer, then the record's.
            "check_limit_overridden" => repeat(&|| {
                let _ = black_box(engine.check_limit(black_box(&acme), black_box(api_calls), black_box(usage)));
            }),
            // A request given the set whose key has no records: the plain question's path.
            "check_limit_with_overrides_none_apply" => repeat(&|| {
                let _ = black_box(engine.check_limit(black_box(&nobody), black_box(api_calls), black_box(usage)));
            }),
            "is_allowed_overridden" => repeat(&|| {
                let _ = black_box(engine.is_allowed(black_box(&acme), black_box(hd_video)));
            }),
            // The one lookup a request with overrides pays, once, when it is made.
            "lookup_subject" => repeat(&|| {
                let request: Request<'_> =
                    Request::new(pro, now).with_key(black_box("acme")).with_overrides(&overrides);
                let _ = black_box(request);
            }),
            "check_limits_three" => repeat(&|| {
                let mut out = quotas.borrow_mut();
                let _ =
                    black_box(engine.check_limits(black_box(&plain), black_box(&three), &mut *out).map(|b| b.binding));
            }),
            // The same three questions asked one call at a time.
            "check_limit_loop_three" => repeat(&|| {
                let request = black_box(&plain);
                for (slot, (limit, usage)) in quotas.borrow_mut().iter_mut().zip(black_box(&three)) {
                    *slot = engine.check_limit(request, *limit, *usage);
                }
            }),
            "feature_by_name" => repeat(&|| {
                let _ = black_box(engine.feature(black_box("hd_video")));
            }),
            _ => repeat(&|| {
                let _ = black_box(engine.check_limit_by_name(black_box(&named), black_box("api_calls_per_day"), usage));
            }),
        }
    }
}
