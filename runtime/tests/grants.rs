//! Credit grants in the in-process meter: spent after the plan's allowance, in draw order,
//! never twice, given back in the reverse order, kept across windows and snapshots.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails loudly, with the value that broke it"
)]

use std::sync::Arc;

use entitle::{Engine, LimitId, Reason, Request, Status, TierId};
use entitle_runtime::meter::{Grant, GrantError, Meter, MeterConfig};

#[path = "support/grant_cases.rs"]
mod grant_cases;
use grant_cases::POLICY;

/// 2026-11-21T10:00:00Z: the November window runs to 2026-12-01T00:00:00Z.
const NOW: i64 = 1_795_255_200;
const DECEMBER: i64 = 1_796_083_200;

struct Policy {
    engine: Engine,
    pro: TierId,
    free: TierId,
    credits: LimitId,
    soft: LimitId,
    images: LimitId,
}

fn policy() -> Policy {
    let engine = Engine::from_source("grants.policy", POLICY).unwrap();
    let id = |name| engine.limit(name).unwrap();
    let (credits, soft, images) = (id("credits"), id("overage"), id("images"));
    let (pro, free) = (engine.tier("pro").unwrap(), engine.tier("free").unwrap());
    Policy { engine, pro, free, credits, soft, images }
}

/// What is left of each grant, in draw order.
fn left(meter: &Meter, p: &Policy, request: &Request<'_>, limit: LimitId) -> Vec<(String, u64)> {
    meter.grants(&p.engine, request, limit).into_iter().map(|g| (g.id.clone(), g.left())).collect()
}

#[test]
fn the_plan_is_spent_first_then_the_grants_in_draw_order() {
    let p = policy();
    let meter = Meter::new();
    let request = Request::new(p.pro, NOW).with_key("acme");
    let grant = |g: Grant| assert!(!meter.grant(&p.engine, &request, p.credits, g).unwrap().repeated);
    // Drawn: `high` (priority), then of the two of priority 0 the one expiring first
    // (`soon`), then of two expiring together the one starting first (`early`, then `late`),
    // then the one that never expires (`never`).
    grant(Grant::new("never", 10));
    grant(Grant::new("late", 10).starting(NOW - 10).expiring(DECEMBER + 100));
    grant(Grant::new("early", 10).starting(NOW - 20).expiring(DECEMBER + 100));
    grant(Grant::new("soon", 10).expiring(DECEMBER));
    grant(Grant::new("high", 10).with_priority(5));
    let order: Vec<String> = meter.grants(&p.engine, &request, p.credits).into_iter().map(|g| g.id).collect();
    assert_eq!(order, ["high", "soon", "early", "late", "never"]);

    // Within the plan: no grant is touched.
    let within = meter.try_consume(&p.engine, &request, p.credits, 95).unwrap();
    assert_eq!((within.quota.allowed, within.from_grants, within.grants_left), (true, 0, 50));
    // 5 from the plan and 20 from grants: `high` and `soon`, in full.
    let past = meter.try_consume(&p.engine, &request, p.credits, 25).unwrap();
    assert!(past.quota.allowed);
    assert_eq!((past.recorded, past.from_grants, past.grants_left, past.used), (25, 20, 30, 100));
    assert_eq!(past.quota.status, Status::Within, "the plan's part ends at its limit, which it may reach");
    let expected = [("high", 0), ("soon", 0), ("early", 10), ("late", 10), ("never", 10)];
    assert_eq!(left(&meter, &p, &request, p.credits), expected.map(|(id, n)| (id.to_string(), n)));
    // 15 more: `early`, then half of `late`.
    assert_eq!(meter.try_consume(&p.engine, &request, p.credits, 15).unwrap().grants_left, 15);
    // More than every grant holds, on a hard limit: denied, and nothing is spent.
    let denied = meter.try_consume(&p.engine, &request, p.credits, 16).unwrap();
    assert_eq!((denied.quota.allowed, denied.quota.reason, denied.recorded), (false, Reason::LimitExceeded, 0));
    assert_eq!((denied.from_grants, denied.grants_left), (0, 15));
    assert_eq!(meter.try_consume(&p.engine, &request, p.credits, 15).unwrap().grants_left, 0);
    assert!(!meter.try_consume(&p.engine, &request, p.credits, 1).unwrap().quota.allowed);
}

#[test]
fn a_grant_counts_from_its_start_and_not_from_its_expiry() {
    let p = policy();
    let meter = Meter::new();
    let at = |now: i64| Request::new(p.pro, now).with_key("acme");
    meter.grant(&p.engine, &at(NOW), p.credits, Grant::new("day", 50).starting(NOW).expiring(NOW + 86_400)).unwrap();
    assert!(meter.try_consume(&p.engine, &at(NOW), p.credits, 100).unwrap().quota.allowed);
    // Before its start, and at the instant of its expiry, it pays nothing.
    assert!(!meter.try_consume(&p.engine, &at(NOW - 1), p.credits, 1).unwrap().quota.allowed);
    let expired = meter.try_consume(&p.engine, &at(NOW + 86_400), p.credits, 1).unwrap();
    assert_eq!((expired.quota.allowed, expired.grants_left), (false, 0));
    // One second before it expires, it pays.
    let last = meter.try_consume(&p.engine, &at(NOW + 86_399), p.credits, 50).unwrap();
    assert_eq!((last.quota.allowed, last.from_grants, last.grants_left), (true, 50, 0));
}

#[test]
fn past_every_grant_the_soft_cap_decides() {
    let p = policy();
    let meter = Meter::new();
    let request = Request::new(p.pro, NOW).with_key("acme");
    meter.grant(&p.engine, &request, p.soft, Grant::new("promo", 20)).unwrap();
    // 100 of the plan, 20 of the grant, then overage up to the soft cap of 150.
    let consumed = meter.try_consume(&p.engine, &request, p.soft, 130).unwrap();
    assert_eq!((consumed.quota.allowed, consumed.quota.status), (true, Status::Overage));
    assert_eq!((consumed.from_grants, consumed.used), (20, 110));
    assert!(meter.try_consume(&p.engine, &request, p.soft, 40).unwrap().quota.allowed);
    let denied = meter.try_consume(&p.engine, &request, p.soft, 1).unwrap();
    assert_eq!((denied.quota.allowed, denied.quota.reason), (false, Reason::LimitExceeded));
    // A refund gives back the overage first, then the grant, then the plan.
    assert_eq!(meter.refund(&p.engine, &request, p.soft, 60), 60);
    assert_eq!(left(&meter, &p, &request, p.soft), [("promo".to_string(), 10)]);
    assert_eq!(meter.used(&p.engine, &request, p.soft), 100);
    assert_eq!(meter.refund(&p.engine, &request, p.soft, 15), 15);
    assert_eq!(left(&meter, &p, &request, p.soft), [("promo".to_string(), 20)]);
    assert_eq!(meter.used(&p.engine, &request, p.soft), 95);
}

#[test]
fn a_tier_on_grants_alone_sets_the_pool_to_zero_and_one_without_it_is_refused() {
    let p = policy();
    let meter = Meter::new();
    let free = Request::new(p.free, NOW).with_key("trial");
    meter.grant(&p.engine, &free, p.soft, Grant::new("trial", 30)).unwrap();
    let spent = meter.try_consume(&p.engine, &free, p.soft, 30).unwrap();
    assert_eq!((spent.quota.allowed, spent.from_grants), (true, 30));
    // `free` does not set `credits`: a grant cannot make it allowed.
    meter.grant(&p.engine, &free, p.credits, Grant::new("trial", 30)).unwrap();
    let refused = meter.try_consume(&p.engine, &free, p.credits, 1).unwrap();
    assert_eq!((refused.quota.allowed, refused.quota.reason, refused.from_grants), (false, Reason::LimitNotSet, 0));
    assert_eq!(left(&meter, &p, &free, p.credits), [("trial".to_string(), 30)]);
}

#[test]
fn a_limit_that_draws_on_a_pool_spends_the_pools_grants() {
    let p = policy();
    let meter = Meter::new();
    let request = Request::new(p.pro, NOW).with_key("acme");
    // A grant asked for the drawing limit goes to its pool.
    meter.grant(&p.engine, &request, p.images, Grant::new("promo", 25)).unwrap();
    assert_eq!(left(&meter, &p, &request, p.credits), [("promo".to_string(), 25)]);
    for image in 0..12 {
        assert!(meter.try_consume(&p.engine, &request, p.images, 1).unwrap().quota.allowed, "image {image}");
    }
    // 100 of the plan and 20 of the grant: 5 credits are left, half an image.
    assert!(!meter.try_consume(&p.engine, &request, p.images, 1).unwrap().quota.allowed);
    assert!(meter.peek(&p.engine, &request, p.credits, 5).allowed);
    assert!(!meter.peek(&p.engine, &request, p.credits, 6).allowed);
}

#[test]
fn grants_outlive_the_window_and_the_sweep_keeps_them_until_they_expire() {
    let p = policy();
    let meter = Meter::new();
    let november = Request::new(p.pro, NOW).with_key("acme");
    meter.grant(&p.engine, &november, p.credits, Grant::new("year", 40).expiring(DECEMBER + 86_400)).unwrap();
    assert_eq!(meter.try_consume(&p.engine, &november, p.credits, 110).unwrap().from_grants, 10);
    // The window ends; the counter stays for its grant, and December starts over.
    assert_eq!(meter.sweep(DECEMBER), 0);
    let december = Request::new(p.pro, DECEMBER).with_key("acme");
    let consumed = meter.try_consume(&p.engine, &december, p.credits, 120).unwrap();
    assert_eq!((consumed.used, consumed.from_grants, consumed.grants_left), (100, 20, 10));
    // Once the grant expires, a sweep drops the counter with it.
    assert_eq!(meter.sweep(DECEMBER + 86_400 + 3_000_000), 1);
    assert_eq!(meter.counters(), 0);
}

#[test]
fn adding_a_grant_is_idempotent_and_bad_grants_are_refused() {
    let p = policy();
    let mut config = MeterConfig::default();
    config.max_grants = 2;
    let meter = Meter::with_config(config);
    let request = Request::new(p.pro, NOW).with_key("acme");
    let grant = |g: Grant| meter.grant(&p.engine, &request, p.credits, g);
    assert!(!grant(Grant::new("a", 10)).unwrap().repeated);
    assert!(grant(Grant::new("a", 10)).unwrap().repeated);
    assert_eq!(grant(Grant::new("a", 11)), Err(GrantError::Conflict { id: "a".into() }));
    assert_eq!(grant(Grant::new("b", 0)), Err(GrantError::Empty { id: "b".into() }));
    let backwards = grant(Grant::new("b", 5).starting(NOW).expiring(NOW));
    assert_eq!(backwards, Err(GrantError::Backwards { id: "b".into(), starts: NOW, expires: NOW }));
    assert_eq!(grant(Grant::new("", 5)), Err(GrantError::BadId { len: 0, max: 256 }));
    assert_eq!(grant(Grant::new(&"x".repeat(257), 5)), Err(GrantError::BadId { len: 257, max: 256 }));
    assert!(grant(Grant::new("b", 5)).is_ok());
    assert_eq!(grant(Grant::new("c", 5)), Err(GrantError::AtCapacity { max: 2 }));
    let unknown = meter.grant(&p.engine, &request, LimitId::from_u32(u32::MAX), Grant::new("d", 5));
    assert_eq!(unknown, Err(GrantError::UnknownLimit));
    // A gauge is a level raised and lowered, not a balance: a grant on it is refused.
    let conns = p.engine.limit("conns").unwrap();
    assert_eq!(
        meter.grant(&p.engine, &request, conns, Grant::new("d", 5)),
        Err(GrantError::Gauge { limit: "conns".into() })
    );
    for error in [GrantError::Empty { id: "b".into() }, GrantError::AtCapacity { max: 2 }] {
        assert!(error.to_string().contains("nothing was granted"), "{error}");
    }
}

#[test]
fn threads_never_spend_a_grant_twice() {
    let p = Arc::new(policy());
    let meter = Arc::new(Meter::new());
    let request = Request::new(p.pro, NOW).with_key("acme");
    meter.grant(&p.engine, &request, p.credits, Grant::new("a", 60)).unwrap();
    meter.grant(&p.engine, &request, p.credits, Grant::new("b", 40).with_priority(1)).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (p, meter) = (Arc::clone(&p), Arc::clone(&meter));
            std::thread::spawn(move || {
                let request = Request::new(p.pro, NOW).with_key("acme");
                let mut allowed = (0, 0);
                for _ in 0..100 {
                    let consumed = meter.try_consume(&p.engine, &request, p.credits, 1).unwrap();
                    if consumed.quota.allowed {
                        allowed = (allowed.0 + 1, allowed.1 + consumed.from_grants);
                    }
                }
                allowed
            })
        })
        .collect();
    let (allowed, from_grants) =
        threads.into_iter().map(|t| t.join().unwrap()).fold((0, 0), |(a, g), (x, y)| (a + x, g + y));
    // 100 of the plan and 100 of the grants, exactly.
    assert_eq!((allowed, from_grants), (200, 100));
    assert_eq!(left(&meter, &p, &request, p.credits), [("b".to_string(), 0), ("a".to_string(), 0)]);
}

#[test]
fn grants_survive_a_snapshot_and_a_snapshot_with_a_bad_grant_is_refused() {
    let p = policy();
    let meter = Meter::new();
    let request = Request::new(p.pro, NOW).with_key("acme");
    meter.grant(&p.engine, &request, p.credits, Grant::new("promo", 50).expiring(DECEMBER).with_priority(2)).unwrap();
    meter.grant(&p.engine, &request, p.credits, Grant::new("prepaid", 500)).unwrap();
    meter.try_consume(&p.engine, &request, p.credits, 160).unwrap();
    let dir = std::env::temp_dir().join(format!("entitle-grants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("meter.snapshot");
    meter.snapshot_to(&path).unwrap();
    let restored = Meter::new();
    restored.restore_from(&path).unwrap();
    assert_eq!(restored.grants(&p.engine, &request, p.credits), meter.grants(&p.engine, &request, p.credits));
    assert_eq!(left(&restored, &p, &request, p.credits), [("promo".into(), 0), ("prepaid".into(), 490)]);
    // Granted again after the restart: a repeat, not a second grant.
    assert!(restored.grant(&p.engine, &request, p.credits, Grant::new("prepaid", 500)).unwrap().repeated);

    // A grant spent past its amount (re-sealed, so the hash holds) is refused whole.
    let text = std::fs::read_to_string(&path).unwrap();
    let body: String = text.split_once('\n').unwrap().1.replace("\"spent\":10", "\"spent\":900");
    let header = format!(
        "{{\"counters\":1,\"format\":\"entitle-meter-snapshot\",\"sha256\":\"{}\",\"version\":3}}",
        entitle::PolicyHash::of(body.as_bytes())
    );
    std::fs::write(&path, format!("{header}\n{body}")).unwrap();
    let error = Meter::new().restore_from(&path).unwrap_err().to_string();
    assert!(error.contains("grant `prepaid` is empty, overspent or ends first"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The cases of `tests/cases/grants.jsonl`, on the in-process meter.
#[test]
fn every_grant_case_answers_as_written() {
    grant_cases::run(POLICY, &grant_cases::InProcess(Meter::new()), "local", 0);
}

#[test]
fn a_grant_spent_in_full_is_remembered_then_forgotten() {
    let p = policy();
    let mut config = MeterConfig::default();
    config.remember_seconds = 600;
    let meter = Meter::with_config(config);
    let request = Request::new(p.pro, NOW).with_key("acme");
    meter.grant(&p.engine, &request, p.credits, Grant::new("purchase-123", 50)).unwrap();
    assert_eq!(meter.try_consume(&p.engine, &request, p.credits, 150).unwrap().from_grants, 50);
    // Spent in full, it is still remembered: adding it again is a repeat, and a refund still
    // gives back to it.
    meter.sweep(NOW + 599);
    assert!(meter.grant(&p.engine, &request, p.credits, Grant::new("purchase-123", 50)).unwrap().repeated);
    assert_eq!(meter.refund(&p.engine, &request, p.credits, 150), 150);
    assert_eq!(left(&meter, &p, &request, p.credits), [("purchase-123".to_string(), 50)]);
    // Spent again and forgotten once `remember_seconds` have passed since.
    meter.try_consume(&p.engine, &request, p.credits, 150).unwrap();
    meter.sweep(NOW + 600);
    assert!(meter.grants(&p.engine, &request, p.credits).is_empty());
}

#[test]
fn a_refund_never_gives_back_to_grants_what_an_earlier_window_spent() {
    let p = policy();
    let meter = Meter::new();
    let november = Request::new(p.pro, NOW).with_key("acme");
    meter.grant(&p.engine, &november, p.credits, Grant::new("promo", 50)).unwrap();
    assert_eq!(meter.try_consume(&p.engine, &november, p.credits, 150).unwrap().from_grants, 50);
    let december = Request::new(p.pro, DECEMBER).with_key("acme");
    meter.try_consume(&p.engine, &december, p.credits, 100).unwrap();
    // December's refund gives back December's plan usage, and nothing to November's grant.
    assert_eq!(meter.refund(&p.engine, &december, p.credits, 150), 100);
    assert_eq!(left(&meter, &p, &december, p.credits), [("promo".to_string(), 0)]);
}

#[test]
fn a_peek_in_a_new_window_counts_the_grants() {
    let p = policy();
    let meter = Meter::new();
    let november = Request::new(p.pro, NOW).with_key("acme");
    meter.grant(&p.engine, &november, p.credits, Grant::new("promo", 50)).unwrap();
    meter.try_consume(&p.engine, &november, p.credits, 10).unwrap();
    let december = Request::new(p.pro, DECEMBER).with_key("acme");
    assert!(meter.peek(&p.engine, &december, p.credits, 150).allowed);
    assert!(!meter.peek(&p.engine, &december, p.credits, 151).allowed);
    assert_eq!(meter.try_consume(&p.engine, &december, p.credits, 150).unwrap().from_grants, 50);
}

#[test]
fn grants_pay_when_a_lowered_limit_leaves_usage_past_it() {
    // The same policy with the plan lowered mid-window from 1_000 to 100 (a reload).
    let high =
        Engine::from_source("p", "policy \"p\"\nlimit credits : count per month\ntier pro { limit credits = 1_000 }\n")
            .unwrap();
    let low =
        Engine::from_source("p", "policy \"p\"\nlimit credits : count per month\ntier pro { limit credits = 100 }\n")
            .unwrap();
    let meter = Meter::new();
    let ask = |engine: &Engine| Request::new(engine.tier("pro").unwrap(), NOW).with_key("acme");
    meter.try_consume(&high, &ask(&high), high.limit("credits").unwrap(), 500).unwrap();
    let credits = low.limit("credits").unwrap();
    meter.grant(&low, &ask(&low), credits, Grant::new("promo", 200)).unwrap();
    let consumed = meter.try_consume(&low, &ask(&low), credits, 10).unwrap();
    assert_eq!((consumed.quota.allowed, consumed.from_grants, consumed.used), (true, 10, 500));
}

#[test]
fn a_snapshot_whose_grants_share_a_seq_or_end_the_sequence_is_refused() {
    let p = policy();
    let meter = Meter::new();
    let request = Request::new(p.pro, NOW).with_key("acme");
    meter.grant(&p.engine, &request, p.credits, Grant::new("a", 5)).unwrap();
    meter.grant(&p.engine, &request, p.credits, Grant::new("b", 5)).unwrap();
    let dir = std::env::temp_dir().join(format!("entitle-grants-seq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("meter.snapshot");
    meter.snapshot_to(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let reseal = |body: String| {
        let header = format!(
            "{{\"counters\":1,\"format\":\"entitle-meter-snapshot\",\"sha256\":\"{}\",\"version\":3}}",
            entitle::PolicyHash::of(body.as_bytes())
        );
        std::fs::write(&path, format!("{header}\n{body}")).unwrap();
        Meter::new().restore_from(&path).map(|_| ()).map_err(|e| e.to_string())
    };
    let body = text.split_once('\n').unwrap().1.to_string();
    assert_eq!(reseal(body.clone()), Ok(()));
    for (from, to) in [("\"seq\":1", "\"seq\":0"), ("\"seq\":1", "\"seq\":18446744073709551615")] {
        let error = reseal(body.replace(from, to)).unwrap_err();
        assert!(error.contains("has a `seq` of another grant's, or the last"), "{error}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
