//! The runner of `tests/cases/rolling.jsonl`, on any meter: each case on a subject of its own,
//! its steps consumptions, refunds and batches at instants counted from a base, and what
//! each answers, as written there.
#![allow(dead_code, reason = "each test binary uses what it runs")]

use entitle::{Engine, Quota, Request};
use entitle_runtime::store::UsageMeter;

#[path = "cases.rs"]
mod cases;
#[allow(unused_imports, reason = "each test binary uses what it runs")]
pub use cases::CENTURIES;

/// The plans the cases run on: windows of 64 seconds and 10 seconds (buckets of one second,
/// so exact to the second), a day (buckets of 1_350 seconds), a rolling pool of 64 minutes
/// (buckets of a minute) and a monthly limit beside them.
pub const POLICY: &str = "policy \"rolling\"\n\
    limit calls   : count rolling 64 seconds\n\
    limit burst   : count rolling 10 seconds\n\
    limit daily   : count rolling day\n\
    limit credits : count rolling 64 minutes\n\
    limit images  : count draws credits at 10\n\
    limit month   : count per month\n\
    tier pro { limit calls = 10\nlimit burst = 5 soft 7\nlimit daily = 100\nlimit credits = 100\nlimit month = 1000 }\n";

/// The instant the cases' `at` counts from: 2026-11-21T00:00:00Z, on a bucket boundary of
/// every window of the policy.
pub const BASE: i64 = 1_795_219_200;

/// Runs every case on `meter`, each with a subject of its own (`key_prefix` and the case's
/// line), every instant moved by `shift` seconds. Returns how many ran.
pub fn run(meter: &dyn UsageMeter, key_prefix: &str, shift: i64) -> usize {
    let engine = Engine::from_source("rolling.policy", POLICY).unwrap();
    let pro = engine.tier("pro").unwrap();
    let pair = |value: &serde_json::Value| {
        let name = value[0].as_str().unwrap();
        (engine.limit(name).unwrap_or_else(|| panic!("no limit `{name}`")), value[1].as_u64().unwrap())
    };
    let mut cases = 0;
    for cases::Case { line, name, steps } in cases::read("rolling") {
        let key = format!("{key_prefix}-{line}");
        for (at, step) in steps.iter().enumerate() {
            let whence = format!("line {line}, `{name}`, step {}", at + 1);
            let now = BASE + shift + step["at"].as_i64().unwrap();
            let request = Request::new(pro, now).with_key(&key);
            if let Some(consume) = step.get("consume") {
                let (limit, amount) = pair(consume);
                let consumed = meter.try_consume(&engine, &request, limit, amount).unwrap();
                let expect = step.get("expect").cloned().unwrap_or_default();
                let got = serde_json::json!({
                    "allowed": consumed.quota.allowed,
                    "reason": consumed.quota.reason.as_str(),
                    "status": consumed.quota.status.as_str(),
                    "used": consumed.used,
                });
                for (field, want) in expect.as_object().into_iter().flatten() {
                    assert_eq!(&got[field], want, "{whence}: `{field}` of {got}");
                }
                // What is recorded is in the counter's units (a pool's, for a drawing limit).
                assert_eq!(consumed.recorded == 0, !consumed.quota.allowed || amount == 0, "{whence}: recorded");
            } else if let Some(refund) = step.get("refund") {
                let (limit, amount) = pair(refund);
                let back = meter.refund(&engine, &request, limit, amount).unwrap();
                assert_eq!(back, step["back"].as_u64().unwrap(), "{whence}: given back");
            } else if let Some(batch) = step.get("batch") {
                let limits: Vec<_> = batch.as_array().unwrap().iter().map(pair).collect();
                let mut out = vec![Quota::default(); limits.len()];
                let all = meter.try_consume_all(&engine, &request, &limits, &mut out).unwrap();
                assert_eq!(all.recorded, step["recorded"].as_bool().unwrap(), "{whence}: {:?}", all.answers);
            } else {
                panic!("{whence}: a step consumes, refunds or batches");
            }
        }
        cases += 1;
    }
    cases
}
