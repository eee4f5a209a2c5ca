//! The override set in service beside the live engine: swapped on its own, checked against the
//! engine it serves with, checked again on every policy reload, and watched as a file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails loudly, with the value that broke it"
)]

use std::sync::Arc;
use std::time::Duration;

use entitle::{Amount, Engine, FeatureId, LimitId, Reason, Request, TierId, Usage};
use entitle_runtime::reload::{Live, ReloadError};

const V1: &str = "policy \"p\"\nfeature sso\nlimit calls : count per day\ntier free { limit calls = 100 }\n";
/// V1 with a feature declared before `sso`, so every id moves.
const V2: &str =
    "policy \"p\"\nfeature audit\nfeature sso\nlimit seats : count\nlimit calls : count per day\ntier free { limit calls = 200 }\n";
/// A policy that drops `sso`.
const V3: &str = "policy \"p\"\nlimit calls : count per day\ntier free { limit calls = 100 }\n";

const SET: &str = r#"{"subject":"acme","feature":"sso","op":"grant","reason":"trial"}
{"subject":"acme","limit":"calls","op":"+=","value":50}
"#;

struct Ids {
    free: TierId,
    calls: LimitId,
    sso: Option<FeatureId>,
}

fn live() -> Live<Ids> {
    let resolve = |e: &Engine| -> Result<Ids, String> {
        Ok(Ids {
            free: e.tier("free").ok_or("no free")?,
            calls: e.limit("calls").ok_or("no calls")?,
            sso: e.feature("sso"),
        })
    };
    Live::new(Engine::from_source("v1", V1).unwrap(), resolve).unwrap()
}

/// What acme gets from the live engine: `sso`'s decision (if the policy has it) and its limit.
fn acme(live: &Live<Ids>) -> (Option<Reason>, Amount) {
    let current = live.load();
    let mut request = Request::new(current.ids.free, 0).with_key("acme");
    if let Some(overrides) = &current.overrides {
        request = request.with_overrides(overrides);
    }
    let sso = current.ids.sso.map(|f| current.engine.decide(&request, f).reason);
    (sso, current.engine.check_limit(&request, current.ids.calls, Usage::used(0)).limit)
}

#[test]
fn an_override_set_swaps_in_beside_the_engine_and_a_bad_one_is_refused() {
    let live = live();
    assert_eq!(acme(&live), (Some(Reason::NotGranted), Amount::Finite(100)));
    assert_eq!(live.reload_overrides_source("o.jsonl", SET).unwrap().generation, 1);
    assert_eq!(acme(&live), (Some(Reason::GrantedByOverride), Amount::Finite(150)));
    // A set with an error is refused with its diagnostics, and the one in service stays.
    let bad = r#"{"subject":"acme","feature":"sso","op":"grant"}
{"subject":"acme","limit":"cals","op":"=","value":5}"#;
    match live.reload_overrides_source("bad.jsonl", bad) {
        Err(ReloadError::Overrides(diagnostics)) => {
            assert_eq!(diagnostics.to_string(), "bad.jsonl:2:27: error[E005]: unknown limit `cals`");
        }
        other => panic!("expected the set refused, got {other:?}"),
    }
    assert_eq!(live.load().generation, 1);
    assert_eq!(acme(&live), (Some(Reason::GrantedByOverride), Amount::Finite(150)));
    live.clear_overrides().unwrap();
    assert_eq!(acme(&live), (Some(Reason::NotGranted), Amount::Finite(100)));
    assert!(live.load().overrides.is_none());
}

#[test]
fn a_policy_reload_checks_the_set_again_and_refuses_a_pair_that_no_longer_agrees() {
    let live = live();
    live.reload_overrides_source("o.jsonl", SET).unwrap();
    // The new policy moves every id; the set is checked again against it, so its records
    // name the new ids, and the engine, its ids and the set come from one load.
    assert_eq!(live.reload_source("v2", V2).unwrap().generation, 2);
    assert_eq!(acme(&live), (Some(Reason::GrantedByOverride), Amount::Finite(250)));
    let current = live.load();
    assert_eq!(current.overrides.as_ref().unwrap().policy_hash(), current.engine.policy_hash());
    drop(current);
    // A policy that drops `sso`, which a record names, is refused with the set's diagnostic.
    match live.reload_source("v3", V3) {
        Err(ReloadError::Overrides(diagnostics)) => assert!(diagnostics.to_string().contains("unknown feature `sso`")),
        other => panic!("expected the pair refused, got {other:?}"),
    }
    assert_eq!(live.load().generation, 2, "the old pair keeps serving");
    // A policy and the set that goes with it, swapped together: `sso` renamed in both.
    let renamed = V1.replace("feature sso", "feature single_sign_on");
    let records = SET.replace("\"sso\"", "\"single_sign_on\"");
    assert!(
        live.reload_overrides_source("o2.jsonl", &records).is_err(),
        "the policy in service has no `single_sign_on`"
    );
    assert!(live.reload_source("v4", &renamed).is_err(), "the set in service names `sso`");
    let engine = Engine::from_source("v4", &renamed).unwrap();
    assert_eq!(live.replace_with_overrides(engine, "o2.jsonl", &records).unwrap().generation, 3);
    assert_eq!(acme(&live), (None, Amount::Finite(150)));
    let current = live.load();
    let request =
        Request::new(current.ids.free, 0).with_key("acme").with_overrides(current.overrides.as_ref().unwrap());
    let renamed_sso = current.engine.feature("single_sign_on").unwrap();
    assert_eq!(current.engine.decide(&request, renamed_sso).reason, Reason::GrantedByOverride);
    drop(current);
    // Without the set, the same policy is accepted.
    live.clear_overrides().unwrap();
    assert!(live.reload_source("v3", V3).is_ok());
}

#[test]
fn a_watched_override_file_is_loaded_at_once_and_on_every_change() {
    let dir = std::env::temp_dir().join(format!("entitle-watch-overrides-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("o.jsonl");
    std::fs::write(&path, SET).unwrap();
    let live = Arc::new(live());
    let (sender, receiver) = std::sync::mpsc::channel();
    let watcher = live.watch_overrides(&path, Duration::from_millis(20), move |outcome| {
        let _ = sender.send(outcome.map(|r| r.generation).map_err(|e| e.to_string()));
    });
    // A deadline that only guards against a hang.
    let wait = || receiver.recv_timeout(Duration::from_secs(10)).expect("the watcher reports");
    assert_eq!(wait(), Ok(1));
    assert_eq!(acme(&live).1, Amount::Finite(150));
    let bump = |text: &str, seconds: u64| {
        entitle::write_file_atomically(&path, text.as_bytes()).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(std::time::SystemTime::now() + Duration::from_secs(seconds)).unwrap();
    };
    bump(r#"{"subject":"acme","limit":"calls","op":"=","value":7}"#, 10);
    assert_eq!(wait(), Ok(2));
    assert_eq!(acme(&live), (Some(Reason::NotGranted), Amount::Finite(7)));
    bump("{not json", 20);
    assert!(wait().unwrap_err().contains("E023"));
    assert_eq!(acme(&live).1, Amount::Finite(7), "the set in service keeps serving");
    drop(watcher);
    let _ = std::fs::remove_dir_all(&dir);
}
