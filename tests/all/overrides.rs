//! Override sets: checked against one engine, applied last on every question, refused by
//! engines of another policy, explained with the plan's value beside the override's, and held
//! to their limits whatever the input.

use entitle::{Amount, Engine, LimitOp, OverrideChange, Overrides, Reason, Request, Usage};

const POLICY: &str = r#"policy "p"
feature sso
feature hd_video
limit calls : count per day
limit storage : bytes
setting sla : percent
tier free { limit calls = 100 soft 150 warn at 80% }
tier pro extends free { grant hd_video
  limit calls = 1_000
  set sla = 99.9% }
addon pack for free { limit storage += 50 GiB
  max 4 }
"#;

const SET: &str = r#"# acme: a deal and a trial.
{"subject":"acme","limit":"calls","op":"=","value":"2_000","until":"2027-03-01T00:00:00Z","reason":"launch deal","author":"jo"}
{"subject":"acme","feature":"sso","op":"grant","from":"2026-12-01T00:00:00Z","reason":"trial"}
{"subject":"globex","feature":"hd_video","op":"revoke"}
{"subject":"globex","setting":"sla","op":"=","value":"99.99%"}
{"subject":"initech","limit":"storage","op":"at_most","value":"10 GiB"}
"#;

/// 2026-12-15T00:00:00Z.
const NOW: i64 = 1_797_292_800;

fn engine() -> Engine {
    Engine::from_source("p.policy", POLICY).expect("checks")
}

#[test]
fn records_apply_after_the_plan_and_say_so() {
    let engine = engine();
    let overrides = Overrides::from_jsonl(&engine, "o.jsonl", SET).expect("checks");
    assert_eq!((overrides.len(), overrides.subject_count()), (5, 3));
    let (free, pro) = (engine.tier("free").unwrap(), engine.tier("pro").unwrap());
    let acme = Request::new(free, NOW).with_key("acme").with_overrides(&overrides);
    assert!(acme.has_overrides());
    let calls = engine.limit("calls").unwrap();
    let quota = engine.check_limit(&acme, calls, Usage::used(1_700));
    // The limit replaced; the soft cap keeps its headroom of 50; the warning at 80% of 2_000.
    assert_eq!(
        (quota.limit, quota.soft_cap, quota.overridden()),
        (Amount::Finite(2_000), Some(Amount::Finite(2_050)), true)
    );
    assert_eq!(quota.status, entitle::Status::Warning);
    assert!(engine.is_allowed(&acme, engine.feature("sso").unwrap()));
    // `with_key` drops overrides taken for another key.
    let other = acme.with_key("globex");
    assert!(!other.has_overrides());
    assert!(!engine.check_limit(&other, calls, Usage::used(0)).overridden());
    let globex = Request::new(pro, NOW).with_key("globex").with_overrides(&overrides);
    assert_eq!(engine.decide(&globex, engine.feature("hd_video").unwrap()).reason, Reason::RevokedByOverride);
    let sla = engine.setting_value(&globex, engine.setting("sla").unwrap()).unwrap().unwrap().to_string();
    assert_eq!(sla, "99.99%");
    // `at_most` under what add-ons give: 5 × 50 GiB would be 200 GiB.
    let packs = [entitle::Held::new(engine.addon("pack").unwrap()).with_quantity(4)];
    let initech = Request::new(free, NOW).with_key("initech").with_held(&packs).with_overrides(&overrides);
    assert_eq!(
        engine.check_limit(&initech, engine.limit("storage").unwrap(), Usage::used(0)).limit,
        Amount::Finite(10 << 30)
    );
}

#[test]
fn a_set_for_another_policy_is_refused_on_every_question() {
    let engine = engine();
    let overrides = Overrides::from_jsonl(&engine, "o.jsonl", SET).expect("checks");
    // The same names in another policy: ids resolve, but the set's records are not its own.
    let other =
        Engine::from_source("q.policy", &POLICY.replace("limit calls = 1_000", "limit calls = 2_000")).expect("checks");
    assert_ne!(other.policy_hash(), engine.policy_hash());
    let request = Request::new(other.tier("pro").unwrap(), NOW).with_key("acme").with_overrides(&overrides);
    let denied = Reason::OverridesNotForEngine;
    let calls = other.limit("calls").unwrap();
    assert_eq!(other.decide(&request, other.feature("sso").unwrap()).reason, denied);
    assert!(!other.is_allowed(&request, other.feature("sso").unwrap()));
    let quota = other.check_limit(&request, calls, Usage::used(0));
    assert_eq!((quota.allowed, quota.reason), (false, denied));
    assert_eq!(other.setting_value(&request, other.setting("sla").unwrap()), Err(denied));
    let prepared = other.prepare(&request).expect("the request itself is well-formed");
    assert_eq!(other.check_limit_prepared(&prepared, calls, Usage::used(0)).reason, denied);
    let why = other.explain_limit(&request, calls, Usage::used(0));
    assert_eq!(why.answer.reason, denied);
    assert_eq!(
        why.steps.last().map(|s| s.rule.as_str()),
        Some("the query's overrides were checked against another policy, so they are refused")
    );
    let mut out = [entitle::Quota::default(); 1];
    assert_eq!(other.check_limit_many(&request, &[(calls, Usage::used(0))], &mut out).unwrap()[0].reason, denied);
}

#[test]
fn explanations_show_the_plan_beside_the_override() {
    let engine = engine();
    let overrides = Overrides::from_jsonl(&engine, "o.jsonl", SET).expect("checks");
    let acme = Request::new(engine.tier("free").unwrap(), NOW).with_key("acme").with_overrides(&overrides);
    let why = engine.explain_limit(&acme, engine.limit("calls").unwrap(), Usage::used(10));
    let rules: Vec<&str> = why.steps.iter().map(|s| s.rule.as_str()).collect();
    assert!(
        rules.contains(&"override for subject `acme` changes `calls` by `=` 2_000 (plan value 100, override value 2_000; line 2, until 2027-03-01T00:00:00Z, reason \"launch deal\", by \"jo\")"),
        "{rules:#?}"
    );
    let why = engine.explain_feature(&acme, engine.feature("sso").unwrap());
    assert_eq!(why.answer.reason, Reason::GrantedByOverride);
    let rule = "override for subject `acme` grants `sso` (the plan's answer is not_granted; line 3, from 2026-12-01T00:00:00Z, reason \"trial\")";
    assert!(why.steps.iter().any(|s| s.rule == rule), "{:#?}", why.steps);
}

#[test]
fn records_read_back_with_their_notes() {
    let engine = engine();
    let overrides = Overrides::from_jsonl(&engine, "o.jsonl", SET).expect("checks");
    let records = overrides.records("acme");
    assert_eq!(records.len(), 2);
    let deal = records.iter().find(|r| matches!(r.change, OverrideChange::Limit { .. })).unwrap();
    assert_eq!((deal.reason, deal.author, deal.line, deal.from), ("launch deal", "jo", 2, None));
    assert!(matches!(
        deal.change,
        OverrideChange::Limit { op: LimitOp::Set, value: Amount::Finite(2_000), per_seat: false, .. }
    ));
    assert!(overrides.records("nobody").is_empty());
    let mut subjects: Vec<&str> = overrides.subjects().collect();
    subjects.sort_unstable();
    assert_eq!(subjects, ["acme", "globex", "initech"]);
}

#[test]
fn hostile_sets_get_bounded_errors() {
    let engine = engine();
    // Past the byte limit: refused before a line is read.
    let mut limits = engine.input_limits().clone();
    limits.override_bytes = 1_000;
    let big = SET.repeat(20);
    let error = Overrides::from_jsonl_with(&engine, "big.jsonl", &big, &limits).unwrap_err();
    assert_eq!(error.iter().next().map(|d| d.code().as_str()), Some("E019"));
    // Ten thousand bad lines: at most `diagnostics` reported, and a count of the rest.
    limits = engine.input_limits().clone();
    limits.diagnostics = 20;
    let junk = "{\"subject\":\"a\",\"feature\":\"nope\",\"op\":\"grant\"}\n".repeat(10_000);
    let error = Overrides::from_jsonl_with(&engine, "junk.jsonl", &junk, &limits).unwrap_err();
    assert!(error.len() <= 21, "{}", error.len());
    // Too many records for one subject, and too many in all.
    limits = engine.input_limits().clone();
    limits.override_records_per_subject = 3;
    let many: String = (0..5)
        .map(|i| {
            format!(
                "{{\"subject\":\"a\",\"limit\":\"calls\",\"op\":\"=\",\"value\":1,\"from\":{},\"until\":{}}}\n",
                i * 10,
                i * 10 + 10
            )
        })
        .collect();
    let error = Overrides::from_jsonl_with(&engine, "many.jsonl", &many, &limits).unwrap_err();
    assert!(error.to_string().contains("more than 3 records"), "{error}");
    limits.override_records_per_subject = 256;
    limits.override_records = 4;
    let error = Overrides::from_jsonl_with(&engine, "many.jsonl", &many, &limits).unwrap_err();
    assert!(error.to_string().contains("more than 4 records"), "{error}");
    // A line past the query line limit, binary junk, and a record nested deep: errors, not panics.
    let long = format!("{{\"subject\":\"{}\",\"feature\":\"sso\",\"op\":\"grant\"}}", "a".repeat(70_000));
    assert_eq!(
        Overrides::from_jsonl(&engine, "long.jsonl", &long).unwrap_err().iter().next().unwrap().code().as_str(),
        "E019"
    );
    let deep = format!("{{\"subject\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(
        Overrides::from_jsonl(&engine, "deep.jsonl", &deep).unwrap_err().iter().next().unwrap().code().as_str(),
        "E023"
    );
    assert!(Overrides::from_jsonl(&engine, "bin.jsonl", "\u{0}\u{1}\u{7f}").is_err());
    // An empty set, and one of comments only, are sets with no records.
    assert!(Overrides::from_jsonl(&engine, "empty.jsonl", "").unwrap().is_empty());
    assert!(Overrides::from_jsonl(&engine, "notes.jsonl", "# nothing yet\n\n").unwrap().is_empty());
}

#[test]
fn loading_grows_linearly_with_the_records() {
    // Allocations per record stay the same as the set doubles: no quadratic pass hides in the
    // reader or the checker.
    let engine = engine();
    let set = |n: usize| -> String {
        (0..n).map(|i| format!("{{\"subject\":\"customer-{i}\",\"limit\":\"calls\",\"op\":\"+=\",\"value\":{i},\"reason\":\"r\"}}\n")).collect()
    };
    let (small, large) = (set(2_000), set(4_000));
    let (a, _) = crate::allocations::allocations_and_bytes_in(|| Overrides::from_jsonl(&engine, "s", &small));
    let (b, _) = crate::allocations::allocations_and_bytes_in(|| Overrides::from_jsonl(&engine, "l", &large));
    assert!(b <= a * 2 + a / 4, "allocations {a} for 2,000 records, {b} for 4,000");
}

#[test]
fn reading_keeps_to_what_the_records_say() {
    let engine = engine();
    // A fraction is not a whole number, whatever it rounds to.
    for value in ["2.0", "1e3", "9007199254740993.0"] {
        let line = format!("{{\"subject\":\"a\",\"limit\":\"calls\",\"op\":\"=\",\"value\":{value}}}");
        let error = Overrides::from_jsonl(&engine, "f.jsonl", &line).unwrap_err();
        assert!(error.to_string().contains("not a whole number"), "{value}: {error}");
    }
    // A byte-order mark before the first record is skipped.
    let bom = "\u{feff}{\"subject\":\"a\",\"feature\":\"sso\",\"op\":\"grant\"}\n";
    assert_eq!(Overrides::from_jsonl(&engine, "bom.jsonl", bom).unwrap().len(), 1);
    // Past the diagnostics shown, the rest are counted.
    let mut limits = engine.input_limits().clone();
    limits.diagnostics = 10;
    let junk = "{\"subject\":\"a\",\"feature\":\"nope\",\"op\":\"grant\"}\n".repeat(50);
    let error = Overrides::from_jsonl_with(&engine, "junk.jsonl", &junk, &limits).unwrap_err();
    assert_eq!(
        error.iter().last().map(|d| d.message()),
        Some("40 more errors are not shown (at most 10 are reported)")
    );
    // Too many records for a subject: the first past the limit in the file's order is cited.
    limits = engine.input_limits().clone();
    limits.override_records_per_subject = 2;
    let lines = [
        r#"{"subject":"a","limit":"calls","op":"=","value":1,"from":100,"until":200}"#,
        r#"{"subject":"a","feature":"sso","op":"grant"}"#,
        r#"{"subject":"a","limit":"calls","op":"=","value":1,"from":0,"until":100}"#,
    ];
    let error = Overrides::from_jsonl_with(&engine, "many.jsonl", &lines.join("\n"), &limits).unwrap_err();
    assert_eq!(error.located().next().map(|(_, at)| at.line), Some(3), "{error}");
    // An `until` of i64::MAX is no end, as for add-ons.
    let forever = format!("{{\"subject\":\"a\",\"feature\":\"sso\",\"op\":\"grant\",\"until\":{}}}", i64::MAX);
    let set = Overrides::from_jsonl(&engine, "forever.jsonl", &forever).unwrap();
    let request = Request::new(engine.tier("free").unwrap(), i64::MAX).with_key("a").with_overrides(&set);
    assert_eq!(engine.decide(&request, engine.feature("sso").unwrap()).reason, Reason::GrantedByOverride);
}

#[test]
fn a_file_is_read_a_line_at_a_time_and_a_long_line_is_skipped_unread() {
    let engine = engine();
    let dir = std::env::temp_dir().join(format!("entitle-overrides-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("long.jsonl");
    let long = format!("{{\"subject\":\"{}\",\"feature\":\"sso\",\"op\":\"grant\"}}", "a".repeat(200_000));
    let text = format!("{long}\n{{\"subject\":\"b\",\"feature\":\"nope\",\"op\":\"grant\"}}\n");
    std::fs::write(&path, &text).unwrap();
    // The long line is refused without holding it (a peak far below its 200 KB), and the next
    // line is still read and reported at its own line.
    let (peak, result) = crate::allocations::peak_bytes_in(|| Overrides::from_path(&engine, &path));
    let Err(entitle::LoadError::Overrides(error)) = result else { panic!("expected diagnostics") };
    let lines: Vec<usize> = error.located().map(|(_, at)| at.line).collect();
    assert_eq!(lines, [1, 2], "{error}");
    assert_eq!(error.iter().next().unwrap().code().as_str(), "E019");
    // The whole text is read again only for the diagnostics, once.
    assert!(peak < 3 * text.len(), "peak {peak} bytes for a {}-byte file", text.len());
    let good = dir.join("good.jsonl");
    std::fs::write(&good, "{\"subject\":\"b\",\"feature\":\"sso\",\"op\":\"grant\"}\n").unwrap();
    let (peak, set) = crate::allocations::peak_bytes_in(|| Overrides::from_path(&engine, &good));
    assert_eq!(set.unwrap().len(), 1);
    assert!(peak < 200_000, "{peak}");
    let _ = std::fs::remove_dir_all(&dir);
}
