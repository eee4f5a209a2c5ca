//! The conformance corpus (`tests/conformance/`) answered through the C ABI's structs must
//! equal the Rust answers, field for field.
//!
//! Each corpus line's query is turned into the tab-separated form `tests/c/conformance.c`
//! reads; its JSON answers are compared with `entitle::wire::answer_line_with` on the same query
//! (with the override set `NAME.overrides` beside `NAME.policy`, when there is one, which the C
//! runner loads with `entitle_overrides_from_path` and gives every request of the file),
//! after one normalisation that the C side cannot do without a calendar: a counter's window is
//! compared as Unix seconds. Settings go through `entitle_answer_setting_by_name`, whose
//! display text is compared with the protocol's `display`.
//! Queries that the JSON protocol itself rejects (malformed lines) and explanations belong to
//! the JSON protocol and are not asked through the structs.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use super::{compile, repository};

/// One corpus query the structs can answer: the tab-separated line, and the Rust answer.
pub struct Case {
    pub origin: String,
    pub line: String,
    pub query: Value,
    pub expected: Value,
}

/// Every corpus query, with the Rust answer normalised for comparison.
pub fn cases() -> Vec<Case> {
    let dir = repository().join("tests/conformance");
    let mut policies: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/conformance")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "policy"))
        .collect();
    policies.sort();
    assert!(!policies.is_empty(), "no policies in {}", dir.display());
    let mut cases = Vec::new();
    for policy in policies {
        let engine = entitle::Engine::from_path(&policy).expect("corpus policies check");
        let overrides_path = policy.with_extension("overrides");
        let overrides = overrides_path
            .exists()
            .then(|| entitle::Overrides::from_path(&engine, &overrides_path).expect("corpus override sets check"));
        let lines = std::fs::read_to_string(policy.with_extension("jsonl")).expect("a .jsonl beside the policy");
        for (number, text) in lines.lines().enumerate() {
            if text.trim().is_empty() || text.starts_with('#') {
                continue;
            }
            let case: Value = serde_json::from_str(text).expect("corpus lines are JSON");
            let query = case["query"].clone();
            let answer: Value =
                serde_json::from_str(&entitle::wire::answer_line_with(&engine, overrides.as_ref(), &query.to_string()))
                    .expect("JSON answers");
            let set = overrides.as_ref().map(|_| overrides_path.as_path());
            let Some(line) = tab_separated(&policy, set, &query) else { continue };
            if answer.get("error").is_some() {
                continue;
            }
            let origin = format!("{}:{}", policy.with_extension("jsonl").display(), number + 1);
            cases.push(Case { origin, line, query, expected: normalise(answer) });
        }
    }
    cases
}

/// The query as `conformance.c` reads it, or `None` for a query the structs do not take;
/// `overrides` is the path of the policy's override set, if it has one.
fn tab_separated(policy: &Path, overrides: Option<&Path>, query: &Value) -> Option<String> {
    let object = query.as_object()?;
    let known = [
        "tier",
        "key",
        "addons",
        "now",
        "billing_anchor",
        "feature",
        "limit",
        "setting",
        "used",
        "requested",
        "seats",
        "limits",
        "explain",
    ];
    if object.keys().any(|k| !known.contains(&k.as_str())) {
        return None;
    }
    let now = match &query["now"] {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => entitle::parse_instant(s)?,
        _ => return None,
    };
    let (kind, name) = match &query["limits"] {
        Value::Null => {
            ["feature", "limit", "setting"].iter().find_map(|k| Some((*k, query[*k].as_str()?.to_string())))?
        }
        Value::Array(items) => ("limits", items.iter().map(limit_item).collect::<Option<Vec<_>>>()?.join(",")),
        _ => return None,
    };
    let addons: Vec<String> = match &query["addons"] {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().map(addon_item).collect::<Option<_>>()?,
        _ => return None,
    };
    let seats = match &query["seats"] {
        Value::Null => "-".to_string(),
        seats => seats.as_u64()?.to_string(),
    };
    let fields = [
        kind.to_string(),
        policy.display().to_string(),
        query["tier"].as_str()?.to_string(),
        query["key"].as_str().unwrap_or("").to_string(),
        query["billing_anchor"].as_u64().unwrap_or(1).to_string(),
        now.to_string(),
        addons.join(","),
        name,
        query["used"].as_u64().unwrap_or(0).to_string(),
        query["requested"].as_u64().unwrap_or(0).to_string(),
        seats,
        overrides.map_or_else(|| "-".to_string(), |path| path.display().to_string()),
    ];
    // A field holding a tab, a newline or a comma (in an add-on name) cannot be written in
    // this form; the corpus has none, and this says so if one is added.
    assert!(fields.iter().all(|f| !f.contains(['\t', '\n'])), "{query}");
    Some(fields.join("\t"))
}

/// One element of a query's `limits` as `conformance.c` reads it: `name:used:requested`.
fn limit_item(item: &Value) -> Option<String> {
    let object = item.as_object()?;
    if object.keys().any(|k| !["limit", "used", "requested"].contains(&k.as_str())) {
        return None;
    }
    let amount = |field: &str| item.get(field).map_or(Some(0), Value::as_u64);
    Some(format!("{}:{}:{}", item["limit"].as_str()?, amount("used")?, amount("requested")?))
}

/// One element of a query's `addons` as `conformance.c` reads it: a name, or an object as
/// `name:quantity:acquired` (`-` for no acquisition), its instant in Unix seconds.
fn addon_item(item: &Value) -> Option<String> {
    if let Some(name) = item.as_str() {
        return Some(name.to_string());
    }
    let object = item.as_object()?;
    if object.keys().any(|k| !["addon", "quantity", "acquired"].contains(&k.as_str())) {
        return None;
    }
    let acquired = match &item["acquired"] {
        Value::Null => "-".to_string(),
        Value::Number(n) => n.as_i64()?.to_string(),
        Value::String(s) => entitle::parse_instant(s)?.to_string(),
        _ => return None,
    };
    let quantity = match &item["quantity"] {
        Value::Null => 1,
        quantity => quantity.as_u64()?,
    };
    Some(format!("{}:{quantity}:{acquired}", item["addon"].as_str()?))
}

/// The Rust answer in the form the C runner prints: windows in Unix seconds (a rolling one
/// still marked `"rolling": true`), no explanation. The answers of a batch are
/// `entitle_quota`s, which carry neither the seat count, nor whether an override changed the
/// limit, nor whether its window rolls (the size-prefixed quota of a single limit does).
fn normalise(mut answer: Value) -> Value {
    if let Some(Value::Array(limits)) = answer.get_mut("limits") {
        for limit in limits.iter_mut() {
            let mut one = normalise(limit.take());
            if let Some(object) = one.as_object_mut() {
                object.remove("seats");
                object.remove("overridden");
                if let Some(Value::Object(window)) = object.get_mut("window") {
                    window.remove("rolling");
                }
            }
            *limit = one;
        }
    }
    if let Some(object) = answer.as_object_mut() {
        object.remove("explain");
        // Which held add-ons a limit used, and how many of each, is told by the JSON answer
        // and the explanation; the typed answers carry the seat count.
        object.remove("addons");
        if let Some(Value::Object(window)) = object.get_mut("window") {
            let seconds = |v: &Value| v.as_str().and_then(entitle::parse_instant).map_or(Value::Null, |s| json!(s));
            for bound in ["start", "end"] {
                let instant = window.get(bound).map_or(Value::Null, seconds);
                window.insert(bound.to_string(), instant);
            }
        }
    }
    answer
}

#[test]
fn the_corpus_answers_alike_through_the_c_structs() {
    let cases = cases();
    assert!(cases.len() > 50, "the corpus should exercise the structs broadly, found {}", cases.len());
    let binary = compile("conformance.c", "conformance", true);
    let mut child = Command::new(&binary)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the conformance runner starts");
    let input: String = cases.iter().map(|c| format!("{}\n", c.line)).collect();
    let mut stdin = child.stdin.take().expect("piped stdin");
    let feeder = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("the conformance runner finishes");
    feeder.join().expect("the feeder finishes").expect("input written");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let answers: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("C printed `{line}`: {e}")))
        .collect();
    assert_eq!(answers.len(), cases.len(), "one answer per query");
    let mut reasons = BTreeMap::new();
    let mut failures = Vec::new();
    for (case, got) in cases.iter().zip(&answers) {
        if let Some(reason) = got["reason"].as_str() {
            *reasons.entry(reason.to_string()).or_insert(0) += 1;
        }
        if *got != case.expected {
            failures.push(format!("{}\n  query {}\n  Rust  {}\n  C     {got}", case.origin, case.query, case.expected));
        }
    }
    assert!(failures.is_empty(), "{} of {} answers differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
    // A corpus file's override set is checked against its own policy, so none is foreign:
    // `tests/c/test_entitle.c` gives a set to another engine (`test_foreign_overrides`).
    reasons.insert(entitle::Reason::OverridesNotForEngine.as_str().to_string(), 0);
    for reason in entitle::Reason::ALL {
        assert!(reasons.contains_key(reason.as_str()), "no conformance case gives `{}` through C", reason.as_str());
    }
    assert!(
        answers.iter().any(|answer| answer["overridden"] == true),
        "no conformance case says through C that an override changed a limit"
    );
    assert!(
        answers.iter().any(|answer| answer["window"]["rolling"] == true),
        "no conformance case says through C that a limit's window rolls"
    );
}
