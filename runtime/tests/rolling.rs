//! Rolling windows in the in-process meter: the cases of `tests/cases/rolling.jsonl`, what a
//! rolling limit refuses (holds and grants), a snapshot of its buckets, and a reload that
//! turns a counter that resets into a rolling one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails loudly, with the value that broke it"
)]

use std::time::Duration;

use entitle::{Engine, Request};
use entitle_runtime::meter::{Grant, GrantError, Meter, ReservationError};

#[path = "support/rolling_cases.rs"]
mod rolling_cases;
use rolling_cases::{BASE, POLICY};

/// A fresh directory for one test's snapshot, and the snapshot's path in it.
fn snapshot_path(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("entitle-rolling-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("meter.snapshot");
    (dir, path)
}

#[test]
fn every_rolling_case_answers_in_process() {
    assert!(rolling_cases::run(&Meter::new(), "local", 0) >= 9);
}

#[test]
fn a_rolling_limit_takes_neither_holds_nor_grants() {
    let engine = Engine::from_source("rolling.policy", POLICY).unwrap();
    let request = Request::new(engine.tier("pro").unwrap(), BASE).with_key("acme");
    let meter = Meter::new();
    for name in ["calls", "images"] {
        let limit = engine.limit(name).unwrap();
        let held = meter.reserve(&engine, &request, limit, 1, Duration::from_secs(60));
        assert!(matches!(&held, Err(ReservationError::Rolling { .. })), "{name}: {held:?}");
        let granted = meter.grant(&engine, &request, limit, Grant::new("promo", 10));
        assert!(matches!(&granted, Err(GrantError::Rolling { .. })), "{name}: {granted:?}");
    }
    let message = meter.grant(&engine, &request, engine.limit("images").unwrap(), Grant::new("promo", 10));
    assert_eq!(
        message.unwrap_err().to_string(),
        "`credits` counts over a rolling window, which takes no grants; nothing was granted"
    );
    assert_eq!(meter.counters(), 0, "nothing was made");
}

#[test]
fn a_snapshot_keeps_every_bucket_and_a_restored_meter_ages_them_out_alike() {
    let engine = Engine::from_source("rolling.policy", POLICY).unwrap();
    let (pro, daily) = (engine.tier("pro").unwrap(), engine.limit("daily").unwrap());
    let meter = Meter::new();
    // Ten amounts, 10 minutes apart: several buckets of 22.5 minutes each.
    for i in 0..10 {
        let request = Request::new(pro, BASE + i * 600).with_key("acme");
        assert!(meter.try_consume(&engine, &request, daily, i.cast_unsigned() + 1).unwrap().quota.allowed);
    }
    let (dir, path) = snapshot_path("plain");
    meter.snapshot_to(&path).unwrap();
    let restored = Meter::new();
    restored.restore_from(&path).unwrap();
    // At each later instant, both meters count the same, as the oldest buckets age out.
    for later in (86_400..86_400 + 6_000).step_by(450) {
        let request = Request::new(pro, BASE + later).with_key("acme");
        assert_eq!(restored.used(&engine, &request, daily), meter.used(&engine, &request, daily), "at +{later}");
    }
    let request = Request::new(pro, BASE + 86_400 + 1_350).with_key("acme");
    assert!(meter.used(&engine, &request, daily) < 55, "the oldest buckets aged out");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_snapshot_whose_buckets_disagree_with_its_usage_is_refused() {
    let engine = Engine::from_source("rolling.policy", POLICY).unwrap();
    let (pro, calls) = (engine.tier("pro").unwrap(), engine.limit("calls").unwrap());
    let meter = Meter::new();
    meter.try_consume(&engine, &Request::new(pro, BASE).with_key("acme"), calls, 3).unwrap();
    let (dir, path) = snapshot_path("bad");
    meter.snapshot_to(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    assert!(body.contains("\"rolling\""), "{body}");
    // The usage says 4 where the buckets hold 3; the header is resealed to fit, so only the
    // disagreement is left to find.
    let altered = body.replace("\"used\":3", "\"used\":4");
    assert_ne!(altered, body);
    let digest = entitle::PolicyHash::of(altered.as_bytes()).to_string();
    let header: serde_json::Value = serde_json::from_str(header).unwrap();
    let mut header = header.as_object().unwrap().clone();
    header.insert("sha256".into(), digest.into());
    std::fs::write(&path, format!("{}\n{altered}", serde_json::Value::Object(header))).unwrap();
    let refused = Meter::new().restore_from(&path).unwrap_err().to_string();
    assert!(refused.contains("line 2"), "{refused}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_reload_from_a_window_that_resets_to_a_rolling_one_keeps_what_was_counted() {
    let daily =
        Engine::from_source("p", "policy \"p\"\nlimit calls : count per day\ntier pro { limit calls = 10 }\n").unwrap();
    let rolling =
        Engine::from_source("p", "policy \"p\"\nlimit calls : count rolling 24 hours\ntier pro { limit calls = 10 }\n")
            .unwrap();
    let meter = Meter::new();
    let at = |engine: &Engine, now: i64| Request::new(engine.tier("pro").unwrap(), now).with_key("acme");
    let calls = daily.limit("calls").unwrap();
    assert!(meter.try_consume(&daily, &at(&daily, BASE + 3_600), calls, 8).unwrap().quota.allowed);
    // The reloaded policy counts the 8 for the next 24 hours: a rolling window may not start
    // empty just because the policy changed.
    let calls = rolling.limit("calls").unwrap();
    let denied = meter.try_consume(&rolling, &at(&rolling, BASE + 7_200), calls, 3).unwrap();
    assert!(!denied.quota.allowed && denied.used == 8, "{denied:?}");
    assert!(meter.try_consume(&rolling, &at(&rolling, BASE + 7_200), calls, 2).unwrap().quota.allowed);
    assert_eq!(meter.used(&rolling, &at(&rolling, BASE + 7_200 + 86_400 + 1_350), calls), 0);
}

#[test]
fn a_sweep_drops_a_rolling_counter_only_once_nothing_it_recorded_counts() {
    let engine = Engine::from_source("rolling.policy", POLICY).unwrap();
    let (pro, calls) = (engine.tier("pro").unwrap(), engine.limit("calls").unwrap());
    let meter = Meter::new();
    meter.try_consume(&engine, &Request::new(pro, BASE).with_key("acme"), calls, 3).unwrap();
    meter.try_consume(&engine, &Request::new(pro, BASE + 40).with_key("acme"), calls, 2).unwrap();
    // The first amount ages out at +65, the second at +105: the counter lives until then.
    assert_eq!(meter.sweep(BASE + 104), 0);
    assert_eq!(meter.used(&engine, &Request::new(pro, BASE + 104).with_key("acme"), calls), 2);
    assert_eq!(meter.sweep(BASE + 105), 1);
    assert_eq!(meter.counters(), 0);
}

#[test]
fn a_snapshot_after_a_refund_restores_whole() {
    let engine = Engine::from_source("rolling.policy", POLICY).unwrap();
    let (pro, calls) = (engine.tier("pro").unwrap(), engine.limit("calls").unwrap());
    let meter = Meter::new();
    meter.try_consume(&engine, &Request::new(pro, BASE).with_key("acme"), calls, 3).unwrap();
    meter.try_consume(&engine, &Request::new(pro, BASE + 40).with_key("acme"), calls, 2).unwrap();
    // The refund empties the newest bucket: the counter now ends when the first amount ages out.
    assert_eq!(meter.refund(&engine, &Request::new(pro, BASE + 41).with_key("acme"), calls, 2), 2);
    let (dir, path) = snapshot_path("refund");
    meter.snapshot_to(&path).unwrap();
    let restored = Meter::new();
    assert_eq!(restored.restore_from(&path).unwrap(), 1);
    assert_eq!(restored.used(&engine, &Request::new(pro, BASE + 64).with_key("acme"), calls), 3);
    assert_eq!(restored.sweep(BASE + 65), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Instants at either end of `i64` are answered as the engine answers them, at years 1 and
/// 9999, and nothing overflows; an amount stamped more than a window behind the newest usage
/// is not kept, and the counter's usage stays its buckets' sum, so its snapshot restores.
#[test]
fn extreme_and_late_instants_never_overflow_and_keep_the_sum() {
    let engine = Engine::from_source("rolling.policy", POLICY).unwrap();
    let (pro, calls) = (engine.tier("pro").unwrap(), engine.limit("calls").unwrap());
    let meter = Meter::new();
    for now in [1_000, i64::MAX, i64::MAX, i64::MIN, 0, i64::MAX - 1] {
        let consumed = meter.try_consume(&engine, &Request::new(pro, now).with_key("acme"), calls, 1).unwrap();
        assert!(consumed.used <= 10, "{now}: {consumed:?}");
    }
    let late = Meter::new();
    let at = |now: i64| Request::new(pro, now).with_key("acme");
    late.try_consume(&engine, &at(BASE + 1_000), calls, 1).unwrap();
    // 1_000 seconds behind a window of 64: counted at its own instant, kept nowhere.
    let behind = late.try_consume(&engine, &at(BASE), calls, 1).unwrap();
    assert!(behind.quota.allowed);
    assert_eq!(late.used(&engine, &at(BASE + 1_000), calls), 1);
    let (dir, path) = snapshot_path("late");
    late.snapshot_to(&path).unwrap();
    assert_eq!(Meter::new().restore_from(&path).unwrap(), 1, "the snapshot it wrote restores");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A reload that shortens a rolling window carries over what still counts at the reload's
/// instant, not what counted when the counter was last used.
#[test]
fn a_reload_to_another_rolling_length_carries_what_still_counts() {
    let week =
        Engine::from_source("p", "policy \"p\"\nlimit calls : count rolling 7 days\ntier pro { limit calls = 100 }\n")
            .unwrap();
    let day =
        Engine::from_source("p", "policy \"p\"\nlimit calls : count rolling 1 day\ntier pro { limit calls = 100 }\n")
            .unwrap();
    let at = |engine: &Engine, now: i64| Request::new(engine.tier("pro").unwrap(), now).with_key("acme");
    let meter = Meter::new();
    let calls = week.limit("calls").unwrap();
    meter.try_consume(&week, &at(&week, BASE), calls, 50).unwrap();
    meter.try_consume(&week, &at(&week, BASE + 3 * 86_400), calls, 30).unwrap();
    // On day 8 the first 50 have aged out of the week; the 30 of day 3 still count.
    let consumed = meter.try_consume(&day, &at(&day, BASE + 8 * 86_400), day.limit("calls").unwrap(), 0).unwrap();
    assert_eq!(consumed.used, 30);
}
