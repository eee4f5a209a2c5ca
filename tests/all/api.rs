//! The public API's promises: one-call loading, errors that say where, cheap clones, and ids
//! that never trust their origin.

use entitle::{Engine, FeatureId, LimitId, Reason, Request, SettingId, TierId, Usage};

const SMALL: &str =
    "policy \"small\"\nfeature f\nlimit calls : count per day\ntier free { grant f\n limit calls = 10 }\n";

#[test]
fn a_bad_policy_behind_question_mark_prints_every_error_with_its_location() {
    fn load() -> Result<Engine, Box<dyn std::error::Error>> {
        Ok(Engine::from_source(
            "plans.policy",
            "policy \"p\"\nfeature f\ntier free { grant g }\ntier pro extends gold { }\n",
        )?)
    }
    let error = load().expect_err("two errors");
    assert_eq!(error.to_string(), "plans.policy:3:19: error[E004]: unknown feature `g` (and 1 more error)");
    // `fn main() -> Result<_, Box<dyn Error>>` prints the error with `Debug`.
    let printed = format!("{error:?}");
    assert_eq!(
        printed,
        "plans.policy:3:19: error[E004]: unknown feature `g`\nplans.policy:4:18: error[E007]: unknown tier `gold`"
    );
}

#[test]
fn loading_from_a_path_reports_io_and_policy_errors_apart() {
    let missing = Engine::from_path("no/such/file.policy").expect_err("missing");
    assert!(matches!(missing, entitle::LoadError::Read { .. }), "{missing}");
    assert!(missing.to_string().starts_with("cannot read `no/such/file.policy`: "), "{missing}");
    let bad = Engine::from_path(crate::golden::root().join("tests/diagnostics/E004-unknown-feature.policy"))
        .expect_err("does not check");
    assert!(matches!(&bad, entitle::LoadError::Policy(d) if d.error_count() == 1), "{bad}");
    assert!(bad.to_string().contains("E004-unknown-feature.policy:3:19: error[E004]"), "{bad}");
    // A directory (or a FIFO) is not a policy file and is refused rather than read.
    let directory = Engine::from_path(crate::golden::root().join("policies")).expect_err("a directory");
    assert!(matches!(directory, entitle::LoadError::Read { .. }), "{directory}");
}

/// Ids are plain numbers: ones taken from a larger engine, or made up, are out of range here
/// and deny with the matching `unknown_*` reason, never panic or read another row.
#[test]
fn ids_from_a_larger_engine_deny_with_unknown_reasons() {
    let small = Engine::from_source("small", SMALL).expect("checks");
    let large = Engine::from_path(crate::golden::root().join("policies/rtc-sdk.policy")).expect("checks");
    let tier = large.tiers().last().map(|(id, _)| id).expect("tiers");
    let feature = large.features().last().map(|(id, _)| id).expect("features");
    let limit = large.limits().last().map(|(id, _)| id).expect("limits");
    let addon = large.addons().last().map(|(id, _)| id).expect("add-ons");
    let setting = large.settings().last().map(|(id, _)| id).expect("settings");
    let free = small.tier("free").expect("free");
    let known = Request::new(free, 0);

    assert_eq!(small.decide(&Request::new(tier, 0), small.feature("f").expect("f")).reason, Reason::UnknownTier);
    assert_eq!(small.decide(&known, feature).reason, Reason::UnknownFeature);
    assert!(!small.is_allowed(&known, feature));
    let quota = small.check_limit(&known, limit, Usage::used(0));
    assert_eq!((quota.allowed, quota.reason), (false, Reason::UnknownLimit));
    let held = [addon];
    assert_eq!(small.decide(&known.with_addons(&held), small.feature("f").expect("f")).reason, Reason::UnknownAddon);
    assert_eq!(small.setting_value(&known, setting), Err(Reason::UnknownSetting));
    let explained = small.explain_feature(&known, feature);
    assert_eq!(explained.answer.reason, Reason::UnknownFeature);

    let far = |n: u32| (TierId::from_u32(n), FeatureId::from_u32(n), LimitId::from_u32(n), SettingId::from_u32(n));
    for n in [u32::MAX, u32::MAX / 2, 64, 1] {
        let (tier, feature, limit, setting) = far(n);
        assert!(!small.decide(&Request::new(tier, i64::MIN), feature).allowed);
        assert!(!small.check_limit(&Request::new(free, i64::MAX), limit, Usage::used(u64::MAX)).allowed);
        assert!(small.setting_value(&Request::new(tier, 0), setting).is_err());
    }
}

/// An id in range of this engine but handed out by another is refused, not read as this
/// engine's item of the same position: `api-gateway`'s feature 0 is not `rtc-sdk`'s
/// `message_recall`.
#[test]
fn ids_from_another_engine_in_range_deny_with_unknown_reasons() {
    let load = |name: &str| Engine::from_path(crate::golden::root().join("policies").join(name)).expect("checks");
    let (rtc, gateway) = (load("rtc-sdk.policy"), load("api-gateway.policy"));
    let first = |ids: &mut dyn Iterator<Item = u32>| ids.next().expect("one");
    let their_tier = gateway.tiers().next().map(|(id, _)| id).expect("tier");
    let their_feature = gateway.features().next().map(|(id, _)| id).expect("feature");
    let their_limit = gateway.limits().next().map(|(id, _)| id).expect("limit");
    let our_tier = rtc.tier("enterprise").expect("enterprise");
    let our_feature = rtc.features().next().map(|(id, _)| id).expect("feature");
    // The same positions, from two engines.
    assert_eq!(first(&mut rtc.features().map(|(id, _)| id.as_u32() & 0xf_ffff)), their_feature.as_u32() & 0xf_ffff);
    assert_ne!(our_feature, their_feature);

    let ours = Request::new(our_tier, 0);
    assert!(rtc.is_allowed(&ours, our_feature));
    assert!(!rtc.is_allowed(&ours, their_feature));
    assert_eq!(rtc.decide(&ours, their_feature).reason, Reason::UnknownFeature);
    assert_eq!(rtc.decide(&Request::new(their_tier, 0), our_feature).reason, Reason::UnknownTier);
    assert!(!rtc.is_allowed(&Request::new(their_tier, 0), our_feature));
    assert_eq!(rtc.check_limit(&ours, their_limit, Usage::used(0)).reason, Reason::UnknownLimit);
    assert_eq!(rtc.feature_name(their_feature), None);
    assert_eq!(rtc.explain_feature(&ours, their_feature).answer.reason, Reason::UnknownFeature);

    // Ids stay valid across engines of the same policy (a reload of the same text, a bundle).
    let again = load("rtc-sdk.policy");
    assert!(again.is_allowed(&ours, our_feature));
    // A number that no engine handed out, such as a bare position, is unknown too.
    assert_eq!(rtc.decide(&ours, FeatureId::from_u32(0)).reason, Reason::UnknownFeature);
    assert_eq!(rtc.decide(&Request::new(TierId::from_u32(0), 0), our_feature).reason, Reason::UnknownTier);
}

#[test]
fn clones_answer_alike_and_reasons_are_errors() {
    let engine = Engine::from_source("small", SMALL).expect("checks");
    let copy = engine.clone();
    let request = Request::new("free", 0);
    assert_eq!(engine.decide_by_name(&request, "f"), copy.decide_by_name(&request, "f"));
    let error: Box<dyn std::error::Error> = Box::new(Reason::UnknownTier);
    assert_eq!(error.to_string(), "the policy declares no such tier (unknown_tier)");
}

/// `is_allowed_by_name` answers from the grant bits without building a `Decision`; it must say
/// what `decide_by_name` says, for every tier and feature of a policy with rollouts and
/// add-ons, for unknown names, for keys inside and outside rollouts, and with add-ons held.
#[test]
fn is_allowed_by_name_agrees_with_decide_by_name() {
    let engine = Engine::from_path(crate::golden::root().join("policies/rtc-sdk.policy")).expect("checks");
    let mut tiers: Vec<String> = engine.tiers().map(|(_, name)| name.to_string()).collect();
    let mut features: Vec<String> = engine.features().map(|(_, name)| name.to_string()).collect();
    let addons: Vec<String> = engine.addons().map(|(_, name)| name.to_string()).collect();
    tiers.push("no_such_tier".to_string());
    features.push("no_such_feature".to_string());
    let held: Vec<Vec<&str>> = vec![vec![], addons.iter().map(String::as_str).collect(), vec!["no_such_addon"]];
    let (mut allowed, mut denied) = (0, 0);
    for tier in &tiers {
        for key in (0..40).map(|i| format!("app-{i}")) {
            for addons in &held {
                let request = Request::new(tier.as_str(), 1_795_255_200).with_key(&key).with_addons(addons);
                for feature in &features {
                    let fast = engine.is_allowed_by_name(&request, feature);
                    let decision = engine.decide_by_name(&request, feature);
                    assert_eq!(fast, decision.allowed, "{tier} {key} {addons:?} {feature}: {decision:?}");
                    if fast {
                        allowed += 1;
                    } else {
                        denied += 1;
                    }
                }
            }
        }
    }
    assert!(allowed > 100 && denied > 100, "{allowed} allowed, {denied} denied");
}

#[test]
fn batch_calls_refuse_a_short_buffer_and_fill_the_prefix_of_a_long_one() {
    let engine =
        Engine::from_source("p", "policy \"p\"\nfeature f\nfeature g\ntier free { grant f }\n").expect("checks");
    let request = Request::new(engine.tier("free").expect("tier"), 0);
    let features: Vec<_> = engine.features().map(|(id, _)| id).collect();
    let mut short = [entitle::Decision::default(); 1];
    let error = engine.decide_many(&request, &features, &mut short).expect_err("too short");
    assert_eq!((error.needed, error.capacity), (2, 1));
    assert_eq!(error.to_string(), "the buffer holds 1 answers but 2 questions were asked");
    assert_eq!(short[0], entitle::Decision::default(), "nothing is written on error");
    let mut long = [true; 5];
    let answers = engine.is_allowed_many(&request, &features, &mut long).expect("room");
    assert_eq!(answers, [true, false]);
    assert_eq!(long, [true, false, true, true, true], "past the prefix is left as it was");
    // An unknown tier denies every answer with its reason, as the single calls do.
    let stranger = Request::new(TierId::from_u32(u32::MAX), 0);
    let mut out = [entitle::Decision::default(); 2];
    let answers = engine.decide_many(&stranger, &features, &mut out).expect("room");
    assert!(answers.iter().all(|d| !d.allowed && d.reason == Reason::UnknownTier));
}

#[test]
fn an_addon_held_twice_is_refused_by_id_and_by_name_never_stacked() {
    let text = "policy \"p\"\nfeature f\nlimit calls : count per day\nsetting sla : percent\ntier free { limit calls = 10 }\naddon boost for free { grant f\n limit calls += 5\n set sla = 99% }\naddon other for free { }\n";
    let engine = Engine::from_source("p", text).expect("checks");
    let (boost, other) = (engine.addon("boost").expect("addon"), engine.addon("other").expect("addon"));
    let (f, calls, sla) =
        (engine.feature("f").expect("f"), engine.limit("calls").expect("l"), engine.setting("sla").expect("s"));
    let free = engine.tier("free").expect("tier");
    for held in [[boost, boost, other], [boost, other, boost], [other, boost, boost]] {
        let request = Request::new(free, 0).with_addons(&held);
        assert_eq!(engine.decide(&request, f).reason, Reason::DuplicateAddon);
        assert!(!engine.is_allowed(&request, f));
        let quota = engine.check_limit(&request, calls, Usage::used(0));
        assert_eq!(
            (quota.allowed, quota.reason, quota.limit),
            (false, Reason::DuplicateAddon, entitle::Amount::Finite(0))
        );
        assert_eq!(engine.setting_value(&request, sla), Err(Reason::DuplicateAddon));
        assert_eq!(engine.offer(free, &held).err(), Some(Reason::DuplicateAddon));
    }
    let named = Request::new("free", 0).with_addons(&["boost", "boost"]);
    assert_eq!(engine.decide_by_name(&named, "f").reason, Reason::DuplicateAddon);
    assert_eq!(engine.check_limit_by_name(&named, "calls", Usage::used(0)).reason, Reason::DuplicateAddon);
    // Held once, it applies once.
    let held_once = [boost];
    let once = Request::new(free, 0).with_addons(&held_once);
    assert_eq!(engine.check_limit(&once, calls, Usage::used(0)).limit, entitle::Amount::Finite(15));
}

#[test]
fn a_request_by_id_holds_no_more_addons_than_one_by_name() {
    // The limit bounds the duplicate check (each add-on against those before it), and answers a
    // request by id as the same request by name: 33 add-ons are too many either way.
    let mut text = String::from("policy \"p\"\nfeature f\ntier free { }\n");
    for a in 0..40 {
        text += &format!("addon a{a} for free {{ grant f }}\n");
    }
    let engine = Engine::from_source("p", &text).expect("checks");
    let free = engine.tier("free").expect("tier");
    let f = engine.feature("f").expect("feature");
    let every: Vec<_> = engine.addons().map(|(id, _)| id).collect();
    let names: Vec<&str> = engine.addons().map(|(_, name)| name).collect();
    for held in [32, 33, 40] {
        let by_id = Request::new(free, 0).with_addons(&every[..held]);
        let by_name = Request::new("free", 0).with_addons(&names[..held]);
        let want = if held > 32 { Reason::TooManyAddons } else { Reason::GrantedByAddon };
        assert_eq!(engine.decide(&by_id, f).reason, want, "{held} by id");
        assert_eq!(engine.decide_by_name(&by_name, "f").reason, want, "{held} by name");
        assert_eq!(engine.is_allowed(&by_id, f), held <= 32);
    }
    // The engine's own limit, when a loader lowers it, applies to ids too.
    let mut limits = entitle::Limits::default();
    limits.held_addons = 2;
    let strict = Engine::from_source_with("p", &text, &limits).expect("checks");
    let ids: Vec<_> = strict.addons().map(|(id, _)| id).take(3).collect();
    let request = Request::new(strict.tier("free").expect("tier"), 0).with_addons(&ids);
    assert_eq!(strict.decide(&request, strict.feature("f").expect("f")).reason, Reason::TooManyAddons);
}

#[test]
fn distinct_addons_sixty_four_apart_are_not_taken_for_one_held_twice() {
    // Validation marks each add-on's position modulo 64 and checks exactly only on a clash:
    // add-ons 0 and 64 clash without being the same.
    let mut text = String::from("policy \"p\"\nfeature f\nlimit calls : count\ntier free { limit calls = 1 }\n");
    for a in 0..130 {
        text += &format!("addon a{a} for free {{ limit calls += 1 }}\n");
    }
    let engine = Engine::from_source("p", &text).expect("checks");
    let id = |name: &str| engine.addon(name).expect("addon");
    let calls = engine.limit("calls").expect("limit");
    let free = engine.tier("free").expect("tier");
    let apart = [id("a0"), id("a64"), id("a128")];
    let quota = engine.check_limit(&Request::new(free, 0).with_addons(&apart), calls, Usage::used(0));
    assert_eq!((quota.reason, quota.limit), (Reason::WithinLimit, entitle::Amount::Finite(4)));
    let twice = [id("a0"), id("a64"), id("a0")];
    let quota = engine.check_limit(&Request::new(free, 0).with_addons(&twice), calls, Usage::used(0));
    assert_eq!(quota.reason, Reason::DuplicateAddon);
}

/// A trial whose end is past the last instant never ends: the hint gives no end, and the
/// explanation says so, rather than printing a date in the year 292277026596.
#[test]
fn a_trial_that_never_ends_is_hinted_and_explained_without_an_end() {
    let text = "policy \"p\"\nfeature hd\ntier free { }\naddon forever for free { grant hd  valid for 9_223_372_036_854_775_807 s }\n";
    let engine = entitle::Engine::from_source("p", text).expect("checks");
    let (free, hd, forever) = (
        engine.tier("free").expect("tier"),
        engine.feature("hd").expect("feature"),
        engine.addon("forever").expect("addon"),
    );
    let hint = engine.explain_feature(&entitle::Request::new(free, 0), hd).upgrade.expect("a hint");
    assert_eq!((hint.addon.as_deref(), hint.ends), (Some("forever"), None));
    let held = [entitle::Held::new(forever).acquired_at(0)];
    let why = engine.explain_feature(&entitle::Request::new(free, 10).with_held(&held), hd);
    assert!(why.answer.allowed);
    let rules: Vec<&str> = why.steps.iter().map(|s| s.rule.as_str()).collect();
    assert!(rules.iter().any(|r| r.ends_with("with no end")), "{rules:?}");
}
