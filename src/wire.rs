//! The one JSON shape of queries, answers and diagnostics (feature `json`).
//!
//! Everything that speaks JSON goes through this module: the `entitle` command (`eval`'s JSON
//! Lines protocol, `check`, `matrix`, `diff` and `build` with `--format json`), the conformance
//! corpus, and the bindings for other languages. The core types carry no serde derives, so there is no second shape to drift.
//!
//! The query protocol is one query object in, one answer object out, each line of JSON
//! Lines answered in order ([`answer_line`]):
//!
//! ```json
//! {"tier":"pro","key":"app-42","addons":["ai_pack"],"now":"2026-11-21T10:00:00Z","feature":"hd_video"}
//! {"tier":"pro","now":"2026-11-21T10:00:00Z","limit":"api_calls_per_day","used":990000,"requested":20000}
//! ```
//!
//! `docs/cli.md` (the section on `entitle eval`, "the query protocol") is its reference, field by field: every query field,
//! every answer field, and the error answers with their codes from [`error_code`].

mod addons;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::diagnostic::{Diagnostic, Severity};
use crate::engine::{Decision, Engine, Held, NamedRequest, Quota, Request, Usage};
use crate::eval::{Explanation, Step, Upgrade};
use crate::ids::LimitId;
use crate::model::{Amount, SettingValue};
use crate::overrides::{OverrideChange, OverrideInfo, Overrides};
use crate::source::{Source, Span};
use crate::time::{format_instant, parse_instant};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    tier: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    addons: Vec<addons::AddonItem>,
    #[serde(default, deserialize_with = "seats")]
    seats: Option<u64>,
    now: Instant,
    #[serde(default = "first_day")]
    billing_anchor: u8,
    feature: Option<String>,
    limit: Option<String>,
    setting: Option<String>,
    #[serde(default, deserialize_with = "used")]
    used: u64,
    #[serde(default, deserialize_with = "requested")]
    requested: u64,
    #[serde(default)]
    explain: bool,
    /// Echoed in the answer, so that answers can be matched to queries without counting lines.
    id: Option<Value>,
    /// Asks for the subject's whole entitlement instead of one feature, limit or setting.
    #[serde(default)]
    entitlements: bool,
    /// For an entitlements query: the usage of each limit, by name (0 where absent).
    #[serde(default)]
    usage: std::collections::BTreeMap<String, UsageAmount>,
    /// One request against several limits: each limit with its own usage.
    limits: Option<Vec<LimitQuestion>>,
}

/// One limit of a query's `limits` list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitQuestion {
    limit: String,
    #[serde(default, deserialize_with = "used")]
    used: u64,
    #[serde(default, deserialize_with = "requested")]
    requested: u64,
}

/// The `id` of a line that failed as a query, if it is a JSON object with one.
#[derive(Deserialize)]
struct IdOnly {
    id: Option<Value>,
}

/// Whether `id` may be echoed: a string or a number, never a structure that could make answers
/// arbitrarily large.
fn is_usable_id(id: &Value) -> bool {
    matches!(id, Value::String(_) | Value::Number(_))
}

const fn first_day() -> u8 {
    1
}

/// `now` as written. A number that is not an instant is kept with what is wrong with it, so
/// that it is answered `invalid_instant` like text that is not one, rather than as a query of
/// the wrong shape.
enum Instant {
    Seconds(i64),
    Text(String),
    Invalid(String),
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(InstantVisitor { what: "`now`" })
    }
}

/// Reads an instant, naming the field in what it says about a number that is not one.
struct InstantVisitor {
    what: &'static str,
}

/// What `now` must be, for the messages about a number that is not an instant.
const SECONDS_RANGE: &str =
    "Unix seconds are an integer from -9223372036854775808 to 9223372036854775807, or give an RFC 3339 instant";

impl serde::de::Visitor<'_> for InstantVisitor {
    type Value = Instant;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an RFC 3339 instant in UTC or Unix seconds")
    }

    fn visit_i64<E>(self, seconds: i64) -> Result<Instant, E> {
        Ok(Instant::Seconds(seconds))
    }

    fn visit_u64<E>(self, seconds: u64) -> Result<Instant, E> {
        Ok(i64::try_from(seconds).map_or_else(
            |_| Instant::Invalid(format!("{} is {seconds}, outside the range of instants: {SECONDS_RANGE}", self.what)),
            Instant::Seconds,
        ))
    }

    /// JSON numbers with a fraction or an exponent, and integers past the 64-bit range, arrive
    /// here; none is taken as an instant, since a float cannot be trusted to the second.
    fn visit_f64<E>(self, number: f64) -> Result<Instant, E> {
        let what = self.what;
        let message = if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&number) {
            format!("{what} is outside the range of instants: {SECONDS_RANGE}")
        } else if number.fract() != 0.0 {
            format!("{what} is {number}, not a whole number of seconds: {SECONDS_RANGE}")
        } else {
            format!("{what} is written with a fraction or an exponent: {SECONDS_RANGE}")
        };
        Ok(Instant::Invalid(message))
    }

    fn visit_str<E>(self, text: &str) -> Result<Instant, E> {
        Ok(Instant::Text(text.to_string()))
    }
}

/// Reads an amount of a query (`used`, `requested`, a `usage` value) as a `u64`, saying what is
/// wrong with a number that is not one: negative, too large, or not a whole number.
struct Count {
    /// The amount as the message names it: "`used`", "a `usage` amount".
    what: &'static str,
}

impl serde::de::Visitor<'_> for Count {
    type Value = u64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a whole number from 0 to {}", u64::MAX)
    }

    fn visit_u64<E>(self, amount: u64) -> Result<u64, E> {
        Ok(amount)
    }

    fn visit_i64<E: serde::de::Error>(self, amount: i64) -> Result<u64, E> {
        u64::try_from(amount).map_err(|_| E::custom(format!("{} is {amount}; it must not be negative", self.what)))
    }

    /// JSON numbers with a fraction or an exponent, and integers past `u64::MAX`, arrive here.
    fn visit_f64<E: serde::de::Error>(self, amount: f64) -> Result<u64, E> {
        let what = self.what;
        let message = if amount < 0.0 {
            format!("{what} is {amount}; it must not be negative")
        } else if amount >= 18_446_744_073_709_551_616.0 {
            format!("{what} is larger than the maximum ({})", u64::MAX)
        } else if amount.fract() != 0.0 {
            format!("{what} is {amount}; it must be a whole number")
        } else {
            format!("{what} must be a whole number written as an integer, without a fraction or an exponent")
        };
        Err(E::custom(message))
    }
}

fn used<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(Count { what: "`used`" })
}

fn requested<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(Count { what: "`requested`" })
}

fn seats<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    deserializer.deserialize_any(Count { what: "`seats`" }).map(Some)
}

/// One value of a query's `usage` object.
struct UsageAmount(u64);

impl<'de> Deserialize<'de> for UsageAmount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Count { what: "a `usage` amount" }).map(UsageAmount)
    }
}

/// Answers one query line with one JSON object (without a trailing newline). Never panics:
/// malformed input yields `{"code": "...", "error": "..."}`. Lines longer than the engine's
/// [`crate::Limits::query_line_bytes`] are refused unread.
///
/// ```
/// let engine = entitle::Engine::from_source("p", "policy \"p\"\nfeature hd\ntier pro { grant hd }\n")?;
/// let answer = entitle::wire::answer_line(&engine, r#"{"tier":"pro","now":0,"feature":"hd"}"#);
/// assert_eq!(answer, r#"{"allowed":true,"reason":"granted_by_tier"}"#);
/// let answer = entitle::wire::answer_line(&engine, r#"{"tier":"pro","feature":"hd"}"#);
/// assert_eq!(answer, r#"{"code":"invalid_query","error":"missing field `now` at line 1 column 29"}"#);
/// # Ok::<(), entitle::Diagnostics>(())
/// ```
pub fn answer_line(engine: &Engine, line: &str) -> String {
    answer_line_with(engine, None, line)
}

/// [`answer_line`] with an override set: each query's subject (its `key`) takes its records
/// from `overrides`, and a limit answer an override changed says `"overridden": true`.
///
/// ```
/// let engine = entitle::Engine::from_source("p", "policy \"p\"\nfeature sso\ntier free { }\n")?;
/// let overrides = entitle::Overrides::from_jsonl(&engine, "o.jsonl", r#"{"subject":"acme","feature":"sso","op":"grant"}"#)?;
/// let answer = entitle::wire::answer_line_with(&engine, Some(&overrides), r#"{"tier":"free","key":"acme","now":0,"feature":"sso"}"#);
/// assert_eq!(answer, r#"{"allowed":true,"reason":"granted_by_override"}"#);
/// # Ok::<(), entitle::Diagnostics>(())
/// ```
pub fn answer_line_with(engine: &Engine, overrides: Option<&Overrides>, line: &str) -> String {
    answer(engine, overrides, line)
        .unwrap_or_else(|(code, message)| {
            let mut out = error_answer(code, &message);
            // A line can fail as a query and still carry an id worth echoing; lines past the
            // length limit are not read again.
            let id = (code != error_code::LINE_TOO_LONG)
                .then(|| serde_json::from_str::<IdOnly>(line).ok().and_then(|q| q.id))
                .flatten()
                .filter(is_usable_id);
            if let (Some(id), Value::Object(map)) = (id, &mut out) {
                map.insert("id".into(), id);
            }
            out
        })
        .to_string()
}

/// Why a query line was not answered, as a stable code; the message beside it is for people
/// and may change.
pub mod error_code {
    /// The line is longer than `Limits::query_line_bytes`.
    pub const LINE_TOO_LONG: &str = "line_too_long";
    /// The line is not UTF-8.
    pub const NOT_UTF8: &str = "not_utf8";
    /// The line is not a JSON object.
    pub const NOT_JSON: &str = "not_json";
    /// A field is missing, unknown, or of the wrong type.
    pub const INVALID_QUERY: &str = "invalid_query";
    /// `now` is not an instant.
    pub const INVALID_INSTANT: &str = "invalid_instant";
    /// `billing_anchor` is not a day from 1 to 31.
    pub const INVALID_BILLING_ANCHOR: &str = "invalid_billing_anchor";
    /// Not exactly one of `feature`, `limit`, `limits`, `setting` and `entitlements` is given, or
    /// a field is given that the question does not read (`usage` without `entitlements`,
    /// `explain` with it or with `limits`).
    pub const AMBIGUOUS_QUESTION: &str = "ambiguous_question";
    /// The line is empty or only whitespace.
    pub const EMPTY_LINE: &str = "empty_line";
    /// `usage` names a limit the policy does not declare.
    pub const UNKNOWN_USAGE: &str = "unknown_usage";
}

/// The answer to a line that is not a valid query: `{"code": code, "error": message}`, where
/// `code` is one of [`error_code`] and `message` says what is wrong, for people.
#[doc(hidden)]
pub fn error_answer(code: &str, message: &str) -> Value {
    json!({ "code": code, "error": message })
}

fn answer(engine: &Engine, overrides: Option<&Overrides>, line: &str) -> Result<Value, (&'static str, String)> {
    let max = engine.input_limits().query_line_bytes;
    if line.len() > max {
        return Err((error_code::LINE_TOO_LONG, format!("query is longer than {max} bytes")));
    }
    if line.trim().is_empty() {
        return Err((error_code::EMPTY_LINE, "empty line; every line holds one query".to_string()));
    }
    let query: Query = serde_json::from_str(line).map_err(|e| match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            (error_code::NOT_JSON, format!("not a JSON object: {e}"))
        }
        _ => (error_code::INVALID_QUERY, e.to_string()),
    })?;
    if query.id.as_ref().is_some_and(|id| !is_usable_id(id)) {
        return Err((error_code::INVALID_QUERY, "`id` must be a string or a number".to_string()));
    }
    let now = instant(&query.now, "`now`")?;
    if !(1..=31).contains(&query.billing_anchor) {
        let message = format!("`billing_anchor` is {}, not a day from 1 to 31", query.billing_anchor);
        return Err((error_code::INVALID_BILLING_ANCHOR, message));
    }
    let names: Vec<&str> = query.addons.iter().map(|item| item.addon.as_str()).collect();
    let mut held = Vec::new();
    if query.addons.iter().any(|item| !item.plain) {
        for (at, item) in query.addons.iter().enumerate() {
            let mut one = Held::new(item.addon.as_str()).with_quantity(item.quantity);
            if let Some(acquired) = &item.acquired {
                let instant = instant(acquired, &format!("`addons[{at}].acquired`"))?;
                if instant == i64::MIN {
                    let message =
                        format!("`addons[{at}].acquired` is {instant}, which no acquisition can be: {SECONDS_RANGE}");
                    return Err((error_code::INVALID_INSTANT, message));
                }
                one = one.acquired_at(instant);
            }
            held.push(one);
        }
    }
    let mut request: NamedRequest<'_> = Request::new(query.tier.as_str(), now)
        .with_key(&query.key)
        .with_addons(&names)
        .with_billing_anchor(query.billing_anchor);
    if !held.is_empty() {
        request = request.with_held(&held);
    }
    if let Some(seats) = query.seats {
        request = request.with_seats(seats);
    }
    if let Some(overrides) = overrides {
        request = request.with_overrides(overrides);
    }
    let usage = Usage { used: query.used, requested: query.requested };

    let ambiguous = || {
        let message = "give exactly one of `feature`, `limit`, `limits`, `setting` or `entitlements: true`; `usage` goes with `entitlements`; `explain` goes with neither `entitlements` nor `limits`";
        Err((error_code::AMBIGUOUS_QUESTION, message.to_string()))
    };
    if !query.usage.is_empty() && !query.entitlements {
        return ambiguous();
    }
    if let Some(limits) = &query.limits {
        if query.feature.is_some()
            || query.limit.is_some()
            || query.setting.is_some()
            || query.entitlements
            || query.explain
        {
            return ambiguous();
        }
        let mut out = several(engine, &request, limits);
        if let Some(id) = query.id {
            out.insert("id".into(), id);
        }
        return Ok(Value::Object(out));
    }
    let mut out = match (&query.feature, &query.limit, &query.setting, query.entitlements) {
        (None, None, None, true) if !query.explain => entitlements(engine, &request, &query.usage)?,
        (Some(feature), None, None, false) => {
            let mut out = decision(&engine.decide_by_name(&request, feature));
            if let (true, Some(id)) = (query.explain, engine.feature(feature)) {
                if let Ok(why) = engine.resolve(&request, |ids| engine.explain_feature(ids, id)) {
                    out.insert("explain".into(), explanation(&why));
                }
            }
            out
        }
        (None, Some(limit), None, false) => {
            let (answer, mut out) = limit_answer(engine, &request, limit, usage);
            // A query that gives quantities is told which held add-ons the limit used, and how
            // many of each; one that lists names only gets the edition-1 answer.
            if let (false, true, Some(id)) =
                (held.is_empty(), answer.allowed || answer.reason == crate::Reason::LimitExceeded, engine.limit(limit))
            {
                let used = engine.resolve(&request, |ids| engine.quantities_used(ids, id)).unwrap_or_default();
                if !used.is_empty() {
                    let list: Vec<Value> =
                        used.iter().map(|(addon, quantity)| json!({ "addon": addon, "quantity": quantity })).collect();
                    out.insert("addons".into(), Value::Array(list));
                }
            }
            if let (true, Some(id)) = (query.explain, engine.limit(limit)) {
                if let Ok(why) = engine.resolve(&request, |ids| engine.explain_limit(ids, id, usage)) {
                    out.insert("explain".into(), explanation(&why));
                }
            }
            out
        }
        (None, None, Some(setting), false) => setting_answer(engine, &request, setting),
        _ => return ambiguous(),
    };
    if let Some(id) = query.id {
        out.insert("id".into(), id);
    }
    Ok(Value::Object(out))
}

/// An instant of a query (`now`, an add-on's `acquired`), named `what` in the error.
fn instant(written: &Instant, what: &str) -> Result<i64, (&'static str, String)> {
    match written {
        Instant::Seconds(seconds) => Ok(*seconds),
        Instant::Invalid(message) => Err((error_code::INVALID_INSTANT, message.clone())),
        Instant::Text(text) => parse_instant(text).ok_or_else(|| {
            let message = format!(
                "{what} is `{text}`, not an RFC 3339 instant in UTC like `2026-11-21T10:00:00Z` (other offsets and leap seconds are refused)"
            );
            (error_code::INVALID_INSTANT, message)
        }),
    }
}

/// A setting answer: `value` in base units and `display` as the language writes it (both
/// `null` when the tier sets none), or a denial when the tier or setting is unknown.
fn setting_answer(engine: &Engine, request: &NamedRequest<'_>, setting: &str) -> Map<String, Value> {
    match engine.setting_value_by_name(request, setting) {
        Ok(value) => object(json!({
            "value": value.map_or(Value::Null, setting_base_value),
            "display": value.map_or(Value::Null, |v| json!(v.to_string())),
        })),
        Err(reason) => object(json!({ "allowed": false, "reason": reason.as_str() })),
    }
}

/// One request against several limits: `allowed` (every limit allows it), `binding` (the
/// index of the answer that binds, [`crate::binding`]; `null` for an empty list) and `limits`,
/// each limit's answer in the order asked, as a single `limit` query answers it.
fn several(engine: &Engine, request: &NamedRequest<'_>, limits: &[LimitQuestion]) -> Map<String, Value> {
    let (answers, shown): (Vec<Quota>, Vec<Value>) = limits
        .iter()
        .map(|q| {
            let (answer, out) = limit_answer(engine, request, &q.limit, Usage::used(q.used).requesting(q.requested));
            (answer, Value::Object(out))
        })
        .unzip();
    let binding = crate::binding(&answers);
    object(json!({ "allowed": answers.iter().all(|a| a.allowed), "binding": binding, "limits": shown }))
}

/// Everything the subject is entitled to, as an account page shows it: `features`, `limits`
/// (given `usage`, by limit name) and `settings`, each an object keyed by name whose values
/// are the answers a single question would get.
fn entitlements(
    engine: &Engine,
    request: &NamedRequest<'_>,
    usage: &std::collections::BTreeMap<String, UsageAmount>,
) -> Result<Map<String, Value>, (&'static str, String)> {
    if let Some(unknown) = usage.keys().find(|name| engine.limit(name).is_none()) {
        let message = format!("`usage` names `{unknown}`, which is not a limit of this policy");
        return Err((error_code::UNKNOWN_USAGE, message));
    }
    let features: Map<String, Value> = engine
        .features()
        .map(|(_, name)| (name.to_string(), Value::Object(decision(&engine.decide_by_name(request, name)))))
        .collect();
    let limits: Map<String, Value> = engine
        .limits()
        .map(|(_, name)| {
            let given = |id| engine.limit_name(id).and_then(|name| usage.get(name)).map(|amount| amount.0);
            let used = engine.limit(name).map_or(0, |id| engine.used_for(id, given));
            (name.to_string(), Value::Object(limit_answer(engine, request, name, Usage::used(used)).1))
        })
        .collect();
    let settings: Map<String, Value> = engine
        .settings()
        .map(|(_, name)| (name.to_string(), Value::Object(setting_answer(engine, request, name))))
        .collect();
    Ok(object(json!({ "features": features, "limits": limits, "settings": settings })))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// An amount: a number in base units, or `"unlimited"`.
fn amount(amount: Amount) -> Value {
    match amount {
        Amount::Finite(n) => json!(n),
        Amount::Unlimited => json!("unlimited"),
    }
}

/// A feature answer: `{"allowed": bool, "reason": "granted_by_tier"}`.
pub fn decision(decision: &Decision) -> Map<String, Value> {
    object(json!({ "allowed": decision.allowed, "reason": decision.reason.as_str() }))
}

/// The answer about the limit named `name`, and its JSON ([`limit_quota`]).
fn limit_answer(engine: &Engine, request: &NamedRequest<'_>, name: &str, usage: Usage) -> (Quota, Map<String, Value>) {
    let answer = engine.check_limit_by_name(request, name, usage);
    let out = match engine.limit(name) {
        Some(id) => limit_quota(engine, id, usage, &answer),
        None => quota(&answer),
    };
    (answer, out)
}

/// `answer`, the answer to `usage` of `limit`, as JSON: [`quota`]'s fields and, for a limit
/// that draws on a pool, `pool` (its name), `cost` (what the requested units cost the pool)
/// and `remaining_units` (what is left of the pool, in the limit's own units).
pub fn limit_quota(engine: &Engine, limit: LimitId, usage: Usage, answer: &Quota) -> Map<String, Value> {
    let mut out = quota(answer);
    if let Some(pool) = engine.pool(limit) {
        let draw = engine.draw_of(limit, usage, *answer);
        out.insert("pool".into(), json!(engine.limit_name(pool)));
        out.insert("cost".into(), json!(draw.cost));
        out.insert("remaining_units".into(), amount(draw.remaining_units));
    }
    out
}

/// A limit answer: `allowed`, `reason`, `status`, `limit`, `soft_cap` (`null` for a hard
/// limit), `remaining` and, for counters, `window` with RFC 3339 `start` and `end` (and
/// `"rolling": true` for a rolling window, which ends at the request's instant).
pub fn quota(quota: &Quota) -> Map<String, Value> {
    let mut out = object(json!({
        "allowed": quota.allowed,
        "reason": quota.reason.as_str(),
        "status": quota.status.as_str(),
        "limit": amount(quota.limit),
        "soft_cap": quota.soft_cap.map_or(Value::Null, amount),
        "remaining": amount(quota.remaining),
    }));
    if let Some(seats) = quota.seats {
        out.insert("seats".into(), json!(seats));
    }
    if quota.overridden() {
        out.insert("overridden".into(), json!(true));
    }
    if let Some(window) = quota.window() {
        let mut span = object(json!({ "start": format_instant(window.start), "end": format_instant(window.end) }));
        if quota.rolling() {
            span.insert("rolling".into(), json!(true));
        }
        out.insert("window".into(), Value::Object(span));
    }
    out
}

fn span(span: Span) -> Value {
    json!({ "start": span.start, "end": span.end })
}

fn step(step: &Step) -> Value {
    let mut out = object(json!({ "rule": step.rule }));
    if let Some(at) = step.span {
        out.insert("span".into(), span(at));
    }
    Value::Object(out)
}

fn upgrade(upgrade: &Upgrade) -> Value {
    let mut out = Map::new();
    if let Some(tier) = &upgrade.tier {
        out.insert("tier".into(), json!(tier));
    }
    if let Some(addon) = &upgrade.addon {
        out.insert("addon".into(), json!(addon));
    }
    if let Some(quantity) = upgrade.quantity {
        out.insert("quantity".into(), json!(quantity));
    }
    if let Some(ends) = upgrade.ends {
        out.insert("ends".into(), json!(format_instant(ends)));
    }
    Value::Object(out)
}

/// An explanation's rules and upgrade hint: `{"steps": [{"rule", "span"?}], "upgrade": {"tier"?,
/// "addon"?, "quantity"?, "ends"?} | null}`. Spans are byte offsets into the policy text.
pub fn explanation<A>(explanation: &Explanation<A>) -> Value {
    json!({
        "steps": explanation.steps.iter().map(step).collect::<Vec<_>>(),
        "upgrade": explanation.upgrade.as_ref().map_or(Value::Null, upgrade),
    })
}

/// An answer and its explanation as one JSON object: `{"answer": {...}, "explain": {"steps":
/// [...], "upgrade": ...}}`, for callers that ask for the explanation alone (the C ABI).
#[doc(hidden)]
pub fn explained<A>(answer: &Map<String, Value>, why: &Explanation<A>) -> String {
    json!({ "answer": answer, "explain": explanation(why) }).to_string()
}

/// A setting's value in base units: a count, bytes, seconds, millionths of a percent, or text.
fn setting_base_value(value: &SettingValue) -> Value {
    match value {
        SettingValue::Number(n) | SettingValue::Duration(n) | SettingValue::Bytes(n) => json!(n),
        SettingValue::Percent(p) => json!(p.millionths()),
        SettingValue::Text(text) => json!(text.as_ref()),
    }
}

/// A diagnostic in its JSON shape; fields serialise in this order.
#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    file: &'a str,
    code: &'static str,
    severity: &'static str,
    message: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    span: JsonSpan,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    labels: Vec<JsonLabel<'a>>,
}

#[derive(Serialize)]
struct JsonSpan {
    start: usize,
    end: usize,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    message: &'a str,
    line: usize,
    column: usize,
    span: JsonSpan,
}

fn json_diagnostic<'a>(source: &'a Source, diagnostic: &'a Diagnostic) -> JsonDiagnostic<'a> {
    let start = source.location(diagnostic.span);
    let end = source.line_col(diagnostic.span.end);
    let span = |s: Span| JsonSpan { start: s.start, end: s.end };
    JsonDiagnostic {
        file: source.name(),
        code: diagnostic.code.as_str(),
        severity: match diagnostic.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        message: &diagnostic.message,
        line: start.line,
        column: start.column,
        end_line: end.line,
        end_column: end.column,
        span: span(diagnostic.span),
        help: diagnostic.help.as_deref(),
        labels: diagnostic
            .labels
            .iter()
            .map(|label| {
                let at = source.location(label.span);
                JsonLabel { message: &label.message, line: at.line, column: at.column, span: span(label.span) }
            })
            .collect(),
    }
}

/// The diagnostics about `source` as a JSON array, one object each: `file`, `code`,
/// `severity`, `message`, 1-based `line`, `column`, `end_line` and `end_column` (columns in
/// characters), `span` (byte offsets `start`, `end`), and `help` and `labels` when present.
/// Field names and meanings are stable; fields may be added.
///
/// ```
/// let source = entitle::Source::new("p.policy", "policy \"p\"\ntier free { grant sso }\n");
/// let diagnostics = entitle::check(&source).unwrap_err();
/// let json = entitle::wire::diagnostics(&source, diagnostics.iter());
/// assert!(json.starts_with(r#"[{"file":"p.policy","code":"E004","severity":"error","message":"unknown feature `sso`","line":2,"column":19,"#));
/// ```
pub fn diagnostics<'a>(source: &'a Source, list: impl IntoIterator<Item = &'a Diagnostic>) -> String {
    let shaped: Vec<JsonDiagnostic<'a>> = list.into_iter().map(|d| json_diagnostic(source, d)).collect();
    serde_json::to_string(&shaped).unwrap_or_else(|e| json!({ "error": e.to_string() }).to_string())
}

/// The report `entitle check --format json` prints: `{"version": 1, "files": [...],
/// "unreadable": [{"path", "message"}], "diagnostics": [...], "summary": {"files",
/// "unreadable", "errors", "warnings"}}`, pretty-printed, with each diagnostic as in
/// [`diagnostics`]. A path that could not be read is listed in `unreadable` and counted among
/// the `errors` too, so that a CI step that reads `summary.errors` fails on it. `version`
/// changes only if a field changes meaning.
///
/// ```
/// let source = entitle::Source::new("ok.policy", "policy \"p\"\nfeature f\ntier t { grant f }\n");
/// let report = entitle::wire::check_report(&[(source, vec![])], &[("gone.policy".into(), "not found".into())]);
/// let report: serde_json::Value = serde_json::from_str(&report).unwrap();
/// assert_eq!(report["summary"]["errors"], 1);
/// assert_eq!(report["unreadable"][0]["path"], "gone.policy");
/// ```
#[doc(hidden)]
pub fn check_report(checked: &[(Source, Vec<Diagnostic>)], unreadable: &[(String, String)]) -> String {
    check_report_of(checked, unreadable, None)
}

/// [`check_report`] for `entitle check --overrides FILE POLICY`, with `"overrides"` (from
/// [`overrides_checked`]) before `"summary"`; the override file's diagnostics are among
/// `diagnostics`, and the file among `files` when it was read and checked.
#[doc(hidden)]
pub fn check_report_with_overrides(
    checked: &[(Source, Vec<Diagnostic>)],
    unreadable: &[(String, String)],
    overrides: Value,
) -> String {
    check_report_of(checked, unreadable, Some(overrides))
}

/// What a check report says of an override set at `path`: `{"path", "checked", "records",
/// "subjects"}`, the counts `null` unless the set was built, and `"not_checked"` saying why
/// when it was not checked at all (its policy does not check, or it or its policy could not be
/// read).
#[doc(hidden)]
pub fn overrides_checked(path: &str, built: Option<&Overrides>, not_checked: Option<&str>) -> Value {
    let mut out = object(json!({
        "path": path,
        "checked": not_checked.is_none(),
        "records": built.map(Overrides::len),
        "subjects": built.map(Overrides::subject_count),
    }));
    if let Some(why) = not_checked {
        out.insert("not_checked".into(), json!(why));
    }
    Value::Object(out)
}

fn check_report_of(
    checked: &[(Source, Vec<Diagnostic>)],
    unreadable: &[(String, String)],
    overrides: Option<Value>,
) -> String {
    #[derive(Serialize)]
    struct Report<'a> {
        version: u32,
        files: Vec<&'a str>,
        unreadable: Vec<Unreadable<'a>>,
        diagnostics: Vec<JsonDiagnostic<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        overrides: Option<Value>,
        summary: Summary,
    }
    #[derive(Serialize)]
    struct Unreadable<'a> {
        path: &'a str,
        message: &'a str,
    }
    #[derive(Serialize)]
    struct Summary {
        files: usize,
        unreadable: usize,
        errors: usize,
        warnings: usize,
    }
    let all = || checked.iter().flat_map(|(source, list)| list.iter().map(move |d| (source, d)));
    let errors = all().filter(|(_, d)| d.is_error()).count();
    let report = Report {
        version: 1,
        files: checked.iter().map(|(source, _)| source.name()).collect(),
        unreadable: unreadable.iter().map(|(path, message)| Unreadable { path, message }).collect(),
        diagnostics: all().map(|(source, d)| json_diagnostic(source, d)).collect(),
        overrides,
        summary: Summary {
            files: checked.len(),
            unreadable: unreadable.len(),
            errors: errors + unreadable.len(),
            warnings: all().count() - errors,
        },
    };
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| json!({ "error": e.to_string() }).to_string())
}

/// A feature's access as a word: `granted`, `rollout`, `not_granted`, `revoked`.
fn access_word(access: crate::model::Access) -> &'static str {
    match access {
        crate::model::Access::Granted => "granted",
        crate::model::Access::Rollout(_) => "rollout",
        crate::model::Access::NotGranted => "not_granted",
        crate::model::Access::Revoked => "revoked",
    }
}

/// One tier's [`crate::plan::Offer`]: `tier`, `addons` (applied), `addons_not_attached`, and
/// `features`, `limits` and `settings` as arrays in declaration order. A feature is `name`,
/// `access` (`granted`, `rollout`, `not_granted`, `revoked`) and, for a rollout, `rollout` (`"5%"`).
/// A limit is `name`, `measure`, `value` and `soft_cap` (base units, `"unlimited"` or `null`),
/// `display` and `soft_cap_display` (as the policy writes them), `warn` (`"90%"` or `null`) and,
/// for a limit that draws on a pool, `draws`: `pool`, `credits` and `per` (its rate, `per` in
/// the limit's base units; its `value` is `null` and its `display` the rate). A setting is `name`, `value` (base units or text, `null` when unset) and `display`.
pub fn offer(offer: &crate::plan::Offer) -> Value {
    let features: Vec<Value> = offer
        .features
        .iter()
        .map(|f| {
            let mut out = object(json!({ "name": f.name, "access": access_word(f.access) }));
            if let crate::model::Access::Rollout(share) = f.access {
                out.insert("rollout".into(), json!(share.to_string()));
            }
            Value::Object(out)
        })
        .collect();
    let limits: Vec<Value> = offer
        .limits
        .iter()
        .map(|l| {
            let mut out = object(json!({
                "name": l.name,
                "measure": l.measure,
                "value": l.value.map_or(Value::Null, amount),
                "display": l.value_text(),
                "soft_cap": l.soft_cap.map_or(Value::Null, amount),
                "soft_cap_display": l.soft_cap.map_or(Value::Null, |cap| json!(l.format(cap))),
                "warn": l.warn.map_or(Value::Null, |w| json!(w.to_string())),
            }));
            if let Some(draws) = &l.draws {
                out.insert("draws".into(), json!({ "pool": draws.pool, "credits": draws.credits, "per": draws.per }));
            }
            Value::Object(out)
        })
        .collect();
    let settings: Vec<Value> = offer
        .settings
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "value": s.value.as_ref().map_or(Value::Null, setting_base_value),
                "display": s.value.as_ref().map_or(Value::Null, |v| json!(v.to_string())),
            })
        })
        .collect();
    json!({
        "tier": offer.tier,
        "addons": offer.addons,
        "addons_not_attached": offer.addons_not_attached,
        "features": features,
        "limits": limits,
        "settings": settings,
    })
}

/// Writes what `entitle matrix --format json` prints to `out`: `{"version": 1, "policy",
/// "policy_version", "addons": [...], "tiers": [offer, ...]}` with each tier as in [`offer`],
/// pretty-printed. `version` changes only if a field changes meaning; fields may be added. It
/// goes one tier at a time, as `offers` yields them, so that a matrix of any size is written
/// in the memory of one tier: `offers` may compute each offer as it is asked for. No trailing
/// newline.
#[doc(hidden)]
pub fn write_matrix<I>(
    out: &mut impl std::io::Write,
    engine: &Engine,
    addons: &[String],
    offers: I,
) -> std::io::Result<()>
where
    I: IntoIterator,
    I::Item: std::borrow::Borrow<crate::plan::Offer>,
{
    write_matrix_with_overrides(out, engine, addons, offers, None)
}

/// [`write_matrix`] for `entitle matrix --overrides FILE`: with an override set, the document
/// also has `"overrides": {"name", "records", "subjects": [{"records": [...], "subject"}]}`,
/// subjects sorted by key and each record as in [`override_record`], written one subject at a
/// time. No trailing newline.
#[doc(hidden)]
pub fn write_matrix_with_overrides<I>(
    out: &mut impl std::io::Write,
    engine: &Engine,
    addons: &[String],
    offers: I,
    overrides: Option<&Overrides>,
) -> std::io::Result<()>
where
    I: IntoIterator,
    I::Item: std::borrow::Borrow<crate::plan::Offer>,
{
    use std::borrow::Borrow;
    // The document's fields in the order `serde_json` prints an object's keys (sorted), each
    // value pretty-printed and indented to its depth, so the bytes are those of printing the
    // whole document at once.
    let indented = |value: &Value, indent: &str| pretty(value).replace('\n', &format!("\n{indent}"));
    writeln!(out, "{{")?;
    writeln!(out, "  \"addons\": {},", indented(&json!(addons), "  "))?;
    if let Some(set) = overrides {
        writeln!(out, "  \"overrides\": {{")?;
        writeln!(out, "    \"name\": {},", json!(set.name()))?;
        writeln!(out, "    \"records\": {},", set.len())?;
        write!(out, "    \"subjects\": [")?;
        let mut separator = "";
        for subject in sorted_subjects(set) {
            let records: Vec<Value> = set.records(subject).iter().map(|r| override_record(engine, r)).collect();
            let entry = json!({ "subject": subject, "records": records });
            write!(out, "{separator}\n      {}", indented(&entry, "      "))?;
            separator = ",";
        }
        if !separator.is_empty() {
            write!(out, "\n    ")?;
        }
        writeln!(out, "]\n  }},")?;
    }
    writeln!(out, "  \"policy\": {},", json!(engine.policy_name()))?;
    writeln!(out, "  \"policy_version\": {},", json!(engine.policy_version()))?;
    write!(out, "  \"tiers\": [")?;
    let mut separator = "";
    for tier in offers {
        write!(out, "{separator}\n    {}", indented(&offer(tier.borrow()), "    "))?;
        separator = ",";
    }
    if !separator.is_empty() {
        write!(out, "\n  ")?;
    }
    write!(out, "],\n  \"version\": 1\n}}")
}

/// One change between offers: `{"kind", "name", "before", "after", "takes_away", "gives"}`.
pub fn change(change: &crate::plan::Change) -> Value {
    json!({
        "kind": change.kind.as_str(),
        "name": change.name,
        "before": change.before,
        "after": change.after,
        "takes_away": change.takes_away,
        "gives": change.gives,
    })
}

/// A tier's or an add-on's standing in a diff between two versions of a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[doc(hidden)]
pub enum DiffStatus {
    /// Only the new version has it.
    Added,
    /// Only the old version has it.
    Removed,
    /// Both have it, and something about it changed.
    Changed,
}

impl DiffStatus {
    /// `added`, `removed` or `changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            DiffStatus::Added => "added",
            DiffStatus::Removed => "removed",
            DiffStatus::Changed => "changed",
        }
    }
}

/// The counts closing a diff: `{"changes", "taking_away"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[doc(hidden)]
pub struct DiffSummary {
    /// Every change counted.
    pub changes: usize,
    /// The changes that take something away from existing customers.
    pub taking_away: usize,
}

impl DiffSummary {
    fn to_json(self) -> Value {
        json!({ "changes": self.changes, "taking_away": self.taking_away })
    }
}

/// `document` pretty-printed, or an `error` object in the impossible case that it does not
/// serialise.
fn pretty(document: &Value) -> String {
    serde_json::to_string_pretty(document).unwrap_or_else(|e| json!({ "error": e.to_string() }).to_string())
}

/// A tier of a diff between two versions of a policy: `{"tier", "status", "takes_away",
/// "changes": [...]}` with each change as in [`change`]. A removed tier takes away.
#[doc(hidden)]
pub fn tier_diff(tier: &str, status: DiffStatus, changes: &[crate::plan::Change]) -> Value {
    let takes_away = status == DiffStatus::Removed || changes.iter().any(|c| c.takes_away);
    json!({
        "tier": tier,
        "status": status.as_str(),
        "takes_away": takes_away,
        "changes": changes.iter().map(change).collect::<Vec<_>>(),
    })
}

/// What an add-on gives one tier that changed between versions: a [`change`] with `tier`.
#[doc(hidden)]
pub fn addon_change(tier: &str, found: &crate::plan::Change) -> Value {
    let mut out = change(found);
    if let Value::Object(map) = &mut out {
        map.insert("tier".into(), json!(tier));
    }
    out
}

/// An add-on attached to a tier it was not attached to (`attached`), or detached from one:
/// `{"tier", "kind": "attachment", "before", "after", "takes_away"}`; detaching takes away.
#[doc(hidden)]
pub fn attachment_change(tier: &str, attached: bool) -> Value {
    let (before, after) = if attached { ("not attached", "attached") } else { ("attached", "not attached") };
    json!({ "tier": tier, "kind": "attachment", "before": before, "after": after, "takes_away": !attached })
}

/// An add-on of a diff between two versions of a policy: `{"addon", "status", "takes_away",
/// "changes": [...]}`, each change from [`addon_change`] or [`attachment_change`].
#[doc(hidden)]
pub fn addon_diff(addon: &str, status: DiffStatus, takes_away: bool, changes: Vec<Value>) -> Value {
    json!({ "addon": addon, "status": status.as_str(), "takes_away": takes_away, "changes": changes })
}

/// What `entitle diff OLD NEW --format json` prints: `{"version": 1, "before", "after",
/// "tiers": [...], "addons": [...], "summary": {"changes", "taking_away"}}` with tiers from
/// [`tier_diff`] and add-ons from [`addon_diff`], pretty-printed, and
/// `"addon_effects_compared": false` when the add-ons were compared by their attachments
/// alone.
#[doc(hidden)]
pub fn policy_diff(
    before: &str,
    after: &str,
    tiers: Vec<Value>,
    addons: Vec<Value>,
    addon_effects_compared: bool,
    summary: DiffSummary,
) -> String {
    let mut document = object(json!({
        "version": 1,
        "before": before,
        "after": after,
        "tiers": tiers,
        "addons": addons,
        "summary": summary.to_json(),
    }));
    if !addon_effects_compared {
        document.insert("addon_effects_compared".into(), json!(false));
    }
    pretty(&Value::Object(document))
}

/// What `entitle diff POLICY --tiers FROM TO --format json` prints: `{"version": 1, "policy",
/// "from", "to", "changes": [...], "summary": {"changes", "taking_away"}}`, pretty-printed, with
/// each change as in [`change`].
#[doc(hidden)]
pub fn tier_move(policy: &str, from: &str, to: &str, changes: &[crate::plan::Change], summary: DiffSummary) -> String {
    pretty(&json!({
        "version": 1,
        "policy": policy,
        "from": from,
        "to": to,
        "changes": changes.iter().map(change).collect::<Vec<_>>(),
        "summary": summary.to_json(),
    }))
}

/// What `entitle build --format json` prints, on one line: `{"output", "bytes", "source",
/// "policy", "version", "format_version", "engine_version", "policy_hash"}` for a bundle of
/// `bytes` bytes written to `output`, as its header `info` describes it.
#[doc(hidden)]
pub fn build_report(output: &str, bytes: usize, info: &crate::bundle::Info) -> String {
    json!({
        "output": output,
        "bytes": bytes,
        "source": info.source_name,
        "policy": info.policy_name,
        "version": info.policy_version,
        "format_version": info.format_version,
        "engine_version": info.engine_version,
        "policy_hash": info.policy_hash.to_string(),
    })
    .to_string()
}

/// One file of an `entitle fmt --format json` report: whether it was already in the canonical
/// layout, or, when it does not parse, `formatted: null` and its diagnostics.
#[doc(hidden)]
pub fn fmt_file(source: &Source, outcome: Result<bool, &crate::Diagnostics>) -> Value {
    match outcome {
        Ok(already) => json!({ "path": source.name(), "formatted": already }),
        Err(diagnostics) => {
            let list: Vec<JsonDiagnostic<'_>> = diagnostics.iter().map(|d| json_diagnostic(source, d)).collect();
            json!({ "path": source.name(), "formatted": null, "diagnostics": list })
        }
    }
}

/// The whole `entitle fmt --format json` report: `{"version", "mode", "files", "unreadable",
/// "summary"}`, pretty-printed.
#[doc(hidden)]
pub fn fmt_report(
    check: bool,
    files: Vec<Value>,
    unreadable: &[(String, String)],
    read: usize,
    changed: usize,
    unparsed: usize,
) -> String {
    let unreadable: Vec<Value> =
        unreadable.iter().map(|(path, message)| json!({ "path": path, "message": message })).collect();
    let document = json!({
        "version": 1,
        "mode": if check { "check" } else { "write" },
        "files": files,
        "unreadable": unreadable,
        "summary": { "files": read, "changed": changed, "unparsed": unparsed, "unreadable": unreadable.len() },
    });
    serde_json::to_string_pretty(&document).unwrap_or_default()
}

/// `entitle explain --setting --format json`: `{"setting", "display"}`, the value as the
/// policy writes it or `null`, pretty-printed.
#[doc(hidden)]
pub fn setting_display(setting: &str, value: Option<&crate::SettingValue>) -> String {
    let display = value.map_or(Value::Null, |v| Value::String(v.to_string()));
    serde_json::to_string_pretty(&json!({ "setting": setting, "display": display })).unwrap_or_default()
}

/// The subject keys of `overrides`, sorted, so that every listing of a set is in one order.
#[doc(hidden)]
pub fn sorted_subjects(overrides: &Overrides) -> Vec<&str> {
    let mut keys: Vec<&str> = overrides.subjects().collect();
    keys.sort_unstable();
    keys
}

/// What an override record is about: `feature`, `limit` or `setting`, and the name the
/// engine gives it (empty for an id of another engine).
#[doc(hidden)]
pub fn override_target<'e>(engine: &'e Engine, change: &OverrideChange<'_>) -> (&'static str, &'e str) {
    match change {
        OverrideChange::Grant(f) | OverrideChange::Revoke(f) => {
            ("feature", engine.feature_name(*f).unwrap_or_default())
        }
        OverrideChange::Limit { limit, .. } => ("limit", engine.limit_name(*limit).unwrap_or_default()),
        OverrideChange::Setting { setting, .. } => ("setting", engine.setting_name(*setting).unwrap_or_default()),
    }
}

/// What an override record does, as the records and the policy write it: `granted`,
/// `revoked`, `= 2_000_000`, `+= 10 GiB per seat`, `at_least 100 GiB`, `= 99.99%`.
#[doc(hidden)]
pub fn override_effect(engine: &Engine, change: &OverrideChange<'_>) -> String {
    match change {
        OverrideChange::Grant(_) => "granted".to_string(),
        OverrideChange::Revoke(_) => "revoked".to_string(),
        OverrideChange::Limit { op, value, per_seat, .. } => {
            let each = if *per_seat { " per seat" } else { "" };
            format!("{} {}{each}", op.as_str(), limit_display(engine, change, *value))
        }
        OverrideChange::Setting { value, .. } => format!("= {value}"),
    }
}

/// A limit record's amount in the limit's units (`50 GiB`, `2_000_000`, `unlimited`).
fn limit_display(engine: &Engine, change: &OverrideChange<'_>, value: Amount) -> String {
    let OverrideChange::Limit { limit, .. } = change else { return value.to_string() };
    engine.limit_amount_text(*limit, value)
}

/// One override record: `{"kind", "name", "op", "from", "until", "reason", "author", "line"}`
/// and, for a limit, `value` (base units or `"unlimited"`), `display` and `per_seat`; for a
/// setting, `value` (base units or text) and `display`. `op` is `grant` or `revoke` for a
/// feature, the record's operator otherwise; `from` and `until` are RFC 3339 or `null`.
#[doc(hidden)]
pub fn override_record(engine: &Engine, record: &OverrideInfo<'_>) -> Value {
    let (kind, name) = override_target(engine, &record.change);
    let mut out = object(json!({
        "kind": kind,
        "name": name,
        "from": record.from.map(format_instant),
        "until": record.until.map(format_instant),
        "reason": record.reason,
        "author": record.author,
        "line": record.line,
    }));
    let (op, value, display, per_seat) = match &record.change {
        OverrideChange::Grant(_) => ("grant", None, None, None),
        OverrideChange::Revoke(_) => ("revoke", None, None, None),
        OverrideChange::Limit { op, value, per_seat, .. } => {
            (op.as_str(), Some(amount(*value)), Some(limit_display(engine, &record.change, *value)), Some(*per_seat))
        }
        OverrideChange::Setting { value, .. } => ("=", Some(setting_base_value(value)), Some(value.to_string()), None),
    };
    out.insert("op".into(), json!(op));
    if let Some(value) = value {
        out.insert("value".into(), value);
    }
    if let Some(display) = display {
        out.insert("display".into(), json!(display));
    }
    if let Some(per_seat) = per_seat {
        out.insert("per_seat".into(), json!(per_seat));
    }
    Value::Object(out)
}

/// Whether `after` is worse for the customer than `before` as values of `setting`, by the
/// setting's `prefer` direction; never for text or a setting without one.
#[doc(hidden)]
pub fn setting_worse(engine: &Engine, setting: crate::SettingId, before: &SettingValue, after: &SettingValue) -> bool {
    let prefer = engine.model().settings.get(engine.index(setting)).and_then(|d| d.prefer);
    prefer.is_some_and(|prefer| before.better_than(after, prefer))
}

/// One line of a diff between two override sets: a record `added` or `removed` (with the
/// record, as in [`override_record`]), or one aspect of a record `changed`.
#[doc(hidden)]
pub struct OverrideDiffLine<'a> {
    /// Added, removed or changed.
    pub status: DiffStatus,
    /// For a change: `effect` (grant or revoke, operator, value, per seat), `validity`,
    /// `reason` or `author`.
    pub aspect: Option<&'static str>,
    /// `feature`, `limit` or `setting`.
    pub kind: &'static str,
    /// The feature, limit or setting.
    pub name: &'a str,
    /// The aspect, or the record, before, as the text shows it (empty when added).
    pub before: String,
    /// After (empty when removed).
    pub after: String,
    /// The record added or removed.
    pub record: Option<Value>,
    /// Whether it takes something away from the subject.
    pub takes_away: bool,
    /// Whether it gives the subject something.
    pub gives: bool,
}

/// An [`OverrideDiffLine`] as JSON: `{"status", "kind", "name", "before", "after",
/// "takes_away", "gives"}`, with `aspect` for a change and `record` for a record added or
/// removed; `before` or `after` is `null` where there is none.
#[doc(hidden)]
pub fn override_diff_line(line: OverrideDiffLine<'_>) -> Value {
    let text = |t: String| if t.is_empty() { Value::Null } else { json!(t) };
    let mut out = object(json!({
        "status": line.status.as_str(),
        "kind": line.kind,
        "name": line.name,
        "before": text(line.before),
        "after": text(line.after),
        "takes_away": line.takes_away,
        "gives": line.gives,
    }));
    if let Some(aspect) = line.aspect {
        out.insert("aspect".into(), json!(aspect));
    }
    if let Some(record) = line.record {
        out.insert("record".into(), record);
    }
    Value::Object(out)
}

/// What `entitle diff POLICY --overrides OLD NEW --format json` prints: `{"version": 1,
/// "policy", "before", "after", "subjects": [{"subject", "takes_away", "changes": [...]}],
/// "summary": {"changes", "taking_away"}}`, pretty-printed, each change from
/// [`override_diff_line`]; `subjects` holds `(key, takes_away, changes)` in the order given.
#[doc(hidden)]
pub fn override_diff(
    policy: &str,
    before: &str,
    after: &str,
    subjects: Vec<(String, bool, Vec<Value>)>,
    summary: DiffSummary,
) -> String {
    let subjects: Vec<Value> = subjects
        .into_iter()
        .map(|(subject, takes_away, changes)| json!({ "subject": subject, "takes_away": takes_away, "changes": changes }))
        .collect();
    pretty(&json!({
        "version": 1,
        "policy": policy,
        "before": before,
        "after": after,
        "subjects": subjects,
        "summary": summary.to_json(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer_of(query: &str) -> Value {
        let engine =
            Engine::from_source("p", "policy \"p\"\nlimit calls: count per day\ntier t { limit calls = 10 }\n")
                .expect("checks");
        serde_json::from_str(&answer_line(&engine, query)).expect("an answer is JSON")
    }

    /// A number that is not an instant is answered `invalid_instant`, saying why, as text that
    /// is not one is.
    #[test]
    fn wire_numbers_that_are_not_instants_are_invalid_instants() {
        for (now, says) in [
            ("1e3", "written with a fraction or an exponent"),
            ("-0.5", "not a whole number"),
            ("9223372036854775808", "outside the range"),
            ("-1e19", "outside the range"),
        ] {
            let answer = answer_of(&format!(r#"{{"tier":"t","now":{now},"limit":"calls"}}"#));
            assert_eq!(answer["code"], error_code::INVALID_INSTANT, "{now}: {answer}");
            assert!(answer["error"].as_str().is_some_and(|e| e.contains(says)), "{now}: {answer}");
        }
        let answer = answer_of(r#"{"tier":"t","now":-9223372036854775808,"limit":"calls"}"#);
        assert_eq!(answer["allowed"], true, "the least i64 is an instant: {answer}");
    }

    /// An amount that is not a `u64` says which way it is wrong.
    #[test]
    fn wire_amounts_say_why_they_are_not_whole_numbers() {
        for (field, value, says) in [
            ("used", "18446744073709551616", "`used` is larger than the maximum (18446744073709551615)"),
            ("requested", "-1", "`requested` is -1; it must not be negative"),
            ("used", "-1.5", "must not be negative"),
            ("used", "0.5", "`used` is 0.5; it must be a whole number"),
            ("requested", "1e3", "must be a whole number"),
        ] {
            let answer = answer_of(&format!(r#"{{"tier":"t","now":0,"limit":"calls","{field}":{value}}}"#));
            assert_eq!(answer["code"], error_code::INVALID_QUERY, "{value}: {answer}");
            assert!(answer["error"].as_str().is_some_and(|e| e.contains(says)), "{value}: {answer}");
        }
        let answer = answer_of(r#"{"tier":"t","now":0,"limit":"calls","used":18446744073709551615}"#);
        assert_eq!(answer["reason"], "limit_exceeded", "u64::MAX is an amount: {answer}");
        let answer = answer_of(r#"{"tier":"t","now":0,"entitlements":true,"usage":{"calls":4}}"#);
        assert_eq!(answer["limits"]["calls"]["remaining"], 6, "{answer}");
        let answer = answer_of(r#"{"tier":"t","now":0,"entitlements":true,"usage":{"calls":0.5}}"#);
        assert!(answer["error"].as_str().is_some_and(|e| e.contains("a `usage` amount is 0.5")), "{answer}");
    }

    /// The diff pieces keep the shape `entitle diff --format json` has always printed.
    #[test]
    fn wire_diff_documents_keep_their_shape() {
        assert_eq!(
            attachment_change("free", false).to_string(),
            r#"{"after":"not attached","before":"attached","kind":"attachment","takes_away":true,"tier":"free"}"#
        );
        assert_eq!(
            tier_diff("old", DiffStatus::Removed, &[]).to_string(),
            r#"{"changes":[],"status":"removed","takes_away":true,"tier":"old"}"#
        );
        let summary = DiffSummary { changes: 1, taking_away: 1 };
        let document = policy_diff("a", "b", vec![tier_diff("old", DiffStatus::Removed, &[])], vec![], false, summary);
        let document: Value = serde_json::from_str(&document).expect("JSON");
        assert_eq!(document["addon_effects_compared"], false);
        assert_eq!(document["summary"], json!({ "changes": 1, "taking_away": 1 }));
        assert_eq!(document["version"], 1);
        let compared: Value =
            serde_json::from_str(&policy_diff("a", "b", vec![], vec![], true, summary)).expect("JSON");
        assert!(compared.get("addon_effects_compared").is_none(), "{compared}");
    }

    /// The document `write_matrix` streams is, byte for byte, the one printed whole, with and
    /// without tiers and add-ons.
    #[test]
    fn wire_matrix_streams_the_bytes_of_the_whole_document() {
        let text =
            "policy \"p\" version \"3\"\nfeature a\nfeature b\nlimit calls: count per day\nsetting region: string\n\
                    tier free {\n grant a rollout 5%\n limit calls = 10 soft 20 warn at 90%\n}\n\
                    tier pro extends free {\n grant b\n set region = \"eu\u{1b}\"\n}\naddon x for pro { grant a }\n";
        let engine = Engine::from_source("p", text).expect("checks");
        for addon_names in [vec![], vec!["x".to_string()]] {
            let ids: Vec<_> = addon_names.iter().filter_map(|n| engine.addon(n)).collect();
            let offers: Vec<_> = engine.tiers().filter_map(|(tier, _)| engine.offer(tier, &ids).ok()).collect();
            for offers in [&offers[..], &[]] {
                let whole = serde_json::to_string_pretty(&json!({
                    "version": 1,
                    "policy": engine.policy_name(),
                    "policy_version": engine.policy_version(),
                    "addons": addon_names,
                    "tiers": offers.iter().map(offer).collect::<Vec<_>>(),
                }))
                .expect("prints");
                let mut streamed = Vec::new();
                write_matrix(&mut streamed, &engine, &addon_names, offers).expect("writes to memory");
                assert_eq!(String::from_utf8(streamed).expect("UTF-8"), whole);
            }
        }
    }

    /// Each tier reaches the writer before the next is computed: the printer never holds the
    /// matrix, whatever its size.
    #[test]
    fn wire_matrix_writes_each_tier_before_computing_the_next() {
        let mut text = String::from("policy \"p\"\nfeature f\n");
        text += &(0..50).map(|t| format!("tier t{t} {{ grant f }}\n")).collect::<String>();
        let engine = Engine::from_source("p", &text).expect("checks");
        let written = std::cell::RefCell::new(Vec::new());
        struct Shared<'a>(&'a std::cell::RefCell<Vec<u8>>);
        impl std::io::Write for Shared<'_> {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.borrow_mut().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut produced = 0;
        let offers = engine.tiers().map(|(tier, name)| {
            if produced > 0 {
                let before = format!("\"tier\": \"t{}\"", produced - 1);
                let so_far = String::from_utf8_lossy(&written.borrow()).into_owned();
                assert!(so_far.contains(&before), "tier {name} computed before t{} was written", produced - 1);
            }
            produced += 1;
            engine.offer(tier, &[]).expect("an offer")
        });
        write_matrix(&mut Shared(&written), &engine, &[], offers).expect("written");
        assert_eq!(produced, 50);
    }
}
