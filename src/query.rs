//! The JSON Lines query protocol of `entitle eval`: one query object in, one answer object out.
//!
//! Queries name things by name:
//!
//! ```json
//! {"tier":"pro","key":"app-42","addons":["ai_pack"],"now":"2026-11-21T10:00:00Z","feature":"hd_video"}
//! {"tier":"pro","now":"2026-11-21T10:00:00Z","limit":"api_calls_per_day","used":990000,"requested":20000}
//! {"tier":"pro","now":"2026-11-21T10:00:00Z","setting":"sla_availability"}
//! ```
//!
//! Fields: `tier` and `now` (RFC 3339 in UTC, or Unix seconds) are required, and exactly one
//! of `feature`, `limit`, `setting`; `key` (default `""`), `addons` (default `[]`),
//! `billing_anchor` (1–31, default 1), `used` and `requested` (default 0) and `explain`
//! (default `false`) are optional. Unknown fields are errors, so a typo is never silently
//! ignored.
//!
//! Feature and limit answers carry `allowed` and `reason`; limit answers add `status`, `limit`,
//! `soft_cap`, `remaining` and, for counters, `window` (`start`, `end`). Setting answers are
//! `value` (in base units: a count, bytes, seconds, millionths, or text; `null` when the tier
//! sets none) and `display` (as the language writes it). A line that is not a
//! valid query gets `{"error": "..."}` saying what is wrong; names the policy does not know
//! are not errors but denials with an `unknown_*` reason.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::engine::{Engine, Quota};
use crate::eval::Subject;
use crate::model::{Amount, SettingValue};
use crate::time::{format_instant, parse_instant};

/// The longest query line accepted, in bytes; `entitle eval` answers longer lines with an
/// error without reading them whole.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    tier: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    addons: Vec<String>,
    now: Instant,
    #[serde(default = "first_day")]
    billing_anchor: u8,
    feature: Option<String>,
    limit: Option<String>,
    setting: Option<String>,
    #[serde(default)]
    used: u64,
    #[serde(default)]
    requested: u64,
    #[serde(default)]
    explain: bool,
}

const fn first_day() -> u8 {
    1
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Instant {
    Seconds(i64),
    Text(String),
}

/// Answers one query line with one JSON object (without a trailing newline). Never panics:
/// malformed input yields `{"error": "..."}`.
///
/// ```
/// let source = entitle::Source::new("p", "policy \"p\"\nfeature hd\ntier pro { grant hd }\n");
/// let engine = entitle::compile(&entitle::check(&source)?);
/// let answer = entitle::query::answer_line(&engine, r#"{"tier":"pro","now":0,"feature":"hd"}"#);
/// assert_eq!(answer, r#"{"allowed":true,"reason":"granted_by_tier"}"#);
/// let answer = entitle::query::answer_line(&engine, r#"{"tier":"pro","feature":"hd"}"#);
/// assert_eq!(answer, r#"{"error":"missing field `now` at line 1 column 29"}"#);
/// # Ok::<(), entitle::Diagnostics>(())
/// ```
pub fn answer_line(engine: &Engine, line: &str) -> String {
    answer(engine, line).unwrap_or_else(|error| json!({ "error": error })).to_string()
}

fn answer(engine: &Engine, line: &str) -> Result<Value, String> {
    if line.len() > MAX_LINE_BYTES {
        return Err(format!("query is longer than {MAX_LINE_BYTES} bytes"));
    }
    let query: Query = serde_json::from_str(line).map_err(|e| match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => format!("not a JSON object: {e}"),
        _ => e.to_string(),
    })?;
    let now = match &query.now {
        Instant::Seconds(seconds) => *seconds,
        Instant::Text(text) => parse_instant(text)
            .ok_or_else(|| format!("`now` is `{text}`, not an instant like `2026-11-21T10:00:00Z`"))?,
    };
    if !(1..=31).contains(&query.billing_anchor) {
        return Err(format!("`billing_anchor` is {}, not a day from 1 to 31", query.billing_anchor));
    }
    let addons: Vec<&str> = query.addons.iter().map(String::as_str).collect();
    let subject =
        Subject { tier: &query.tier, key: &query.key, addons: &addons, billing_anchor: query.billing_anchor, now };

    let out = match (&query.feature, &query.limit, &query.setting) {
        (Some(feature), None, None) => {
            let decision = engine.decide_by_name(&subject, feature);
            let mut out = object(json!({ "allowed": decision.allowed, "reason": decision.reason }));
            if let (true, Some(id)) = (query.explain, engine.feature(feature)) {
                if let Ok(why) = engine.with_subject(&subject, |ctx| engine.explain_feature(ctx, id)) {
                    out.insert("explain".into(), json!({ "steps": why.steps, "upgrade": why.upgrade }));
                }
            }
            out
        }
        (None, Some(limit), None) => {
            let quota = engine.check_limit_by_name(&subject, limit, query.used, query.requested);
            let mut out = quota_json(&quota);
            if let (true, Some(id)) = (query.explain, engine.limit(limit)) {
                if let Ok(why) =
                    engine.with_subject(&subject, |ctx| engine.explain_limit(ctx, id, query.used, query.requested))
                {
                    out.insert("explain".into(), json!({ "steps": why.steps, "upgrade": why.upgrade }));
                }
            }
            out
        }
        (None, None, Some(setting)) => match engine.setting_by_name(&subject, setting) {
            Ok(value) => object(json!({
                "value": value.map_or(Value::Null, base_value),
                "display": value.map_or(Value::Null, |v| json!(v.to_string())),
            })),
            Err(reason) => object(json!({ "allowed": false, "reason": reason })),
        },
        _ => return Err("give exactly one of `feature`, `limit` or `setting`".into()),
    };
    Ok(Value::Object(out))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn amount(amount: Amount) -> Value {
    match amount {
        Amount::Finite(n) => json!(n),
        Amount::Unlimited => json!("unlimited"),
    }
}

fn quota_json(quota: &Quota) -> Map<String, Value> {
    let mut out = object(json!({
        "allowed": quota.allowed,
        "reason": quota.reason,
        "status": quota.status,
        "limit": amount(quota.limit),
        "soft_cap": quota.soft_cap.map_or(Value::Null, amount),
        "remaining": amount(quota.remaining),
    }));
    if let Some(window) = quota.window {
        out.insert(
            "window".into(),
            json!({ "start": format_instant(window.start), "end": format_instant(window.end) }),
        );
    }
    out
}

fn base_value(value: &SettingValue) -> Value {
    match value {
        SettingValue::Number(n) | SettingValue::Duration(n) | SettingValue::Bytes(n) => json!(n),
        SettingValue::Percent(p) => json!(p.0),
        SettingValue::Text(text) => json!(text),
    }
}
