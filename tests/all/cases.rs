//! The conformance corpus: each `tests/conformance/NAME.policy` beside `NAME.jsonl`, whose lines
//! are `{"query": {...}, "expect": {...}}` (or `#` comments). Every field named in `expect`
//! must equal the same field of the answer; fields left out are not compared. Expectations
//! are written by hand, not blessed from output. A `NAME.overrides` beside them is a JSON Lines
//! override set, checked against the policy and applied to every query of the file.

use std::collections::BTreeSet;

use entitle::{Reason, Source, Status};
use serde_json::Value;

use crate::golden::{files_with_extension, root};

/// Whether `expected` is contained in `actual`: every key of an expected object must match.
fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => want.iter().all(|(key, value)| {
            got.get(key).is_some_and(|g| matches(value, g)) || (value.is_null() && !got.contains_key(key))
        }),
        (Value::Array(want), Value::Array(got)) => {
            want.len() == got.len() && want.iter().zip(got).all(|(w, g)| matches(w, g))
        }
        _ => expected == actual,
    }
}

#[test]
fn every_case_gets_its_expected_answer_and_every_reason_and_status_is_covered() {
    let mut failures = Vec::new();
    let mut reasons = BTreeSet::new();
    let mut statuses = BTreeSet::new();
    let mut count = 0;
    for policy in files_with_extension(&root().join("tests/conformance"), "policy") {
        let text = std::fs::read_to_string(&policy).expect("readable policy");
        let checked = entitle::check(&Source::new(policy.display().to_string(), text)).expect("case policies check");
        let engine = entitle::compile(&checked);
        let cases = std::fs::read_to_string(policy.with_extension("jsonl")).expect("a .jsonl beside the policy");
        let overrides = policy.with_extension("overrides");
        let overrides = overrides.exists().then(|| {
            let text = std::fs::read_to_string(&overrides).expect("readable override set");
            entitle::Overrides::from_jsonl(&engine, &overrides.display().to_string(), &text)
                .unwrap_or_else(|e| panic!("{e:?}"))
        });
        for (number, line) in cases.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let case: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{}:{}: {e}", policy.display(), number + 1));
            let answer: Value = serde_json::from_str(&entitle::wire::answer_line_with(
                &engine,
                overrides.as_ref(),
                &case["query"].to_string(),
            ))
            .expect("answers are JSON");
            count += 1;
            if !matches(&case["expect"], &answer) {
                failures.push(format!(
                    "{}:{}\n  expected {}\n  got      {answer}",
                    policy.with_extension("jsonl").display(),
                    number + 1,
                    case["expect"]
                ));
            }
            if let Some(reason) = answer["reason"].as_str() {
                reasons.insert(reason.to_string());
            }
            if let Some(status) = answer["status"].as_str() {
                statuses.insert(status.to_string());
            }
        }
    }
    assert!(failures.is_empty(), "{} of {count} cases failed:\n{}", failures.len(), failures.join("\n"));
    // A corpus file's override set is checked against its own policy, so none can be foreign:
    // `tests/all/overrides.rs` gives one to another engine.
    reasons.insert(Reason::OverridesNotForEngine.as_str().to_string());
    let missing: Vec<_> = Reason::ALL.iter().map(|r| r.as_str()).filter(|r| !reasons.contains(*r)).collect();
    assert!(missing.is_empty(), "no case produces the reasons {missing:?}");
    let missing: Vec<_> = Status::ALL.iter().map(|s| s.as_str()).filter(|s| !statuses.contains(*s)).collect();
    assert!(missing.is_empty(), "no case produces the statuses {missing:?}");
}
