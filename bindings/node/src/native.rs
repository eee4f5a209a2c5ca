//! The functions `index.js` wraps, and the answers they return.

use entitle::{
    AddonId, Decision, Engine, FeatureId, Held, LimitId, OverrideChange, Overrides, Quota, Reason, Request, SettingId,
    SettingValue, TierId, Usage,
};
use napi::bindgen_prelude::{Buffer, Either, External, Uint32Array};
use napi::{Error, Result, Status};
use napi_derive::napi;
use serde_json::{json, Value};

/// A name or an id, as the wrapper passes it.
type Named = Either<u32, String>;

/// A failed load, as the message of the error thrown: a JSON object that `index.js` turns into
/// a `PolicyError` (with `diagnostics`) or a plain `Error`.
fn load_failure(kind: &str, message: &str, diagnostics: Option<&str>) -> Error {
    let diagnostics: Value = diagnostics.and_then(|d| serde_json::from_str(d).ok()).unwrap_or(Value::Null);
    let body = json!({ "kind": kind, "message": message, "diagnostics": diagnostics });
    Error::new(Status::GenericFailure, body.to_string())
}

/// Checks and compiles `source`, or says why it does not check, with every diagnostic.
fn compile(source: &entitle::Source) -> Result<Engine> {
    match entitle::check(source) {
        Ok(checked) => Ok(entitle::compile(&checked)),
        Err(diagnostics) => {
            let list = entitle::wire::diagnostics(source, diagnostics.iter());
            Err(load_failure("policy", &diagnostics.to_string(), Some(&list)))
        }
    }
}

fn amount(amount: entitle::Amount) -> String {
    match amount {
        entitle::Amount::Finite(n) => n.to_string(),
        entitle::Amount::Unlimited => "unlimited".to_string(),
    }
}

fn count(text: &str, what: &str) -> Result<u64> {
    text.parse().map_err(|_| Error::new(Status::InvalidArg, format!("`{what}` is `{text}`, not a whole number")))
}

/// A compiled policy, held by JavaScript as an external value: a call that takes one reads a
/// pointer and checks its type, where a method of a napi class spent more than the whole
/// answer unwrapping `this` and each class argument (docs/performance.md has the figures).
type Handle = External<Engine>;

/// Who is asking and when, resolved against the engine that made it once, up front: each
/// question then costs only the answer. JavaScript holds it as an external value too.
pub struct NativeRequest {
    /// The tier, or why it is unknown.
    tier: std::result::Result<TierId, Reason>,
    key: String,
    /// The add-ons, each with its quantity and acquisition, or why one of them is unknown (or
    /// why there are too many).
    addons: std::result::Result<Vec<Held<AddonId>>, Reason>,
    /// The seat count, when given.
    seats: Option<u64>,
    billing_anchor: u8,
    now: i64,
    /// The override set given, kept (an `Arc` clone) only when it holds records for `key`:
    /// for any other key `Request::with_overrides` finds no subject and the questions answer
    /// from the plan alone, so they skip the key's lookup.
    overrides: Option<Overrides>,
}

/// A checked override set with the engine it was checked against (for the names of its
/// records), held by JavaScript as an external value.
pub struct NativeOverrides {
    overrides: Overrides,
    engine: Engine,
}

/// An override set's handle.
type OverridesHandle = External<NativeOverrides>;

/// The answer to "may this subject use this feature?".
#[napi(object)]
pub struct NativeDecision {
    /// Whether the subject may use it.
    pub allowed: bool,
    /// Why, as the stable snake_case name.
    pub reason: String,
}

/// The answer to "how much of this limit is left?", with amounts as decimal text.
#[napi(object)]
pub struct NativeQuota {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Why.
    pub reason: String,
    /// `within`, `warning`, `overage` or `exceeded`.
    pub status: String,
    /// The limit, or `unlimited`.
    pub limit: String,
    /// The soft cap, when there is one.
    pub soft_cap: Option<String>,
    /// What is left.
    pub remaining: String,
    /// The seat count the limit was multiplied by, as decimal text; absent when no per-seat
    /// value was in force.
    pub seats: Option<String>,
    /// The start of a counter's window, in Unix seconds.
    pub window_start: Option<i64>,
    /// Its end (exclusive).
    pub window_end: Option<i64>,
    /// Whether the window rolls (`rolling 7 days`): it is `[now − length, now)`, so its end is
    /// the request's instant rather than a reset. False when there is no window.
    pub window_rolling: bool,
    /// Whether a record of the request's override set changed the limit.
    pub overridden: bool,
}

/// One record of an override set, in the fields of its JSON Lines record.
#[napi(object)]
pub struct NativeOverrideRecord {
    /// The subject key it is for.
    pub subject: String,
    /// `grant`, `revoke`, `=`, `+=`, `at_least` or `at_most`.
    pub op: String,
    /// The feature it grants or revokes.
    pub feature: Option<String>,
    /// The limit it changes.
    pub limit: Option<String>,
    /// The setting it sets.
    pub setting: Option<String>,
    /// A limit record's value as decimal text, or `unlimited`.
    pub amount: Option<String>,
    /// A setting record's value.
    pub value: Option<NativeSetting>,
    /// Whether a limit record's value is per seat.
    pub per_seat: bool,
    /// The first instant it applies, in Unix seconds, if it has a start.
    pub from: Option<i64>,
    /// The first instant it no longer applies, if it ends.
    pub until: Option<i64>,
    /// Why it was granted (empty if not given).
    pub reason: String,
    /// Who granted it (empty if not given).
    pub author: String,
    /// Its line in the set's text.
    pub line: u32,
}

/// The subject's whole entitlement: names beside answers, in declaration order.
#[napi(object)]
pub struct NativeEntitlements {
    /// Every feature's name.
    pub feature_names: Vec<String>,
    /// Its decision.
    pub features: Vec<NativeDecision>,
    /// Every limit's name.
    pub limit_names: Vec<String>,
    /// Its quota.
    pub limits: Vec<NativeQuota>,
    /// Every setting's name.
    pub setting_names: Vec<String>,
    /// Its value.
    pub settings: Vec<NativeSetting>,
}

/// A setting's answer: its kind and value, or why there is none.
#[napi(object)]
pub struct NativeSetting {
    /// The reason when the tier, an add-on or the setting is unknown.
    pub reason: Option<String>,
    /// `number`, `percent`, `duration`, `bytes` or `string`, as the policy language names them; absent when nothing sets it.
    pub kind: Option<String>,
    /// The value in base units as decimal text (a percentage in millionths), or the text.
    pub value: Option<String>,
    /// The value as the policy language writes it.
    pub display: Option<String>,
}

/// Parses, checks and compiles policy text.
#[napi]
pub fn engine_from_source(text: String, name: String) -> Result<Handle> {
    compile(&entitle::Source::new(name, text)).map(External::new)
}

/// Reads a policy file or a compiled bundle.
#[napi]
pub fn engine_from_path(path: String) -> Result<Handle> {
    match entitle::read_policy_file(std::path::Path::new(&path), &entitle::Limits::default()) {
        Ok((_, Some(engine))) => Ok(External::new(engine)),
        Ok((source, None)) => compile(&source).map(External::new),
        Err(entitle::LoadError::Bundle { .. } | entitle::LoadError::BundleTooLarge { .. }) => {
            let message = format!("cannot load the bundle `{path}`");
            Err(load_failure("bundle", &message, None))
        }
        Err(error) => Err(load_failure("io", &error.to_string(), None)),
    }
}

/// Loads a compiled bundle (`entitle build`).
#[napi]
pub fn engine_from_bundle(bytes: Buffer) -> Result<Handle> {
    Engine::from_bundle(&bytes).map(External::new).map_err(|error| load_failure("bundle", &error.to_string(), None))
}

/// The id of a tier, or null.
#[napi]
pub fn engine_tier(engine: Handle, name: String) -> Option<u32> {
    engine.tier(&name).map(TierId::as_u32)
}

/// The id of a feature, or null.
#[napi]
pub fn engine_feature(engine: Handle, name: String) -> Option<u32> {
    engine.feature(&name).map(FeatureId::as_u32)
}

/// The id of a limit, or null.
#[napi]
pub fn engine_limit(engine: Handle, name: String) -> Option<u32> {
    engine.limit(&name).map(LimitId::as_u32)
}

/// The id of an add-on, or null.
#[napi]
pub fn engine_addon(engine: Handle, name: String) -> Option<u32> {
    engine.addon(&name).map(AddonId::as_u32)
}

/// The id of a setting, or null.
#[napi]
pub fn engine_setting(engine: Handle, name: String) -> Option<u32> {
    engine.setting(&name).map(SettingId::as_u32)
}

/// The SHA-256 of the policy's source, as hex.
#[napi]
pub fn engine_policy_hash(engine: Handle) -> String {
    engine.policy_hash().to_string()
}

/// The instant `Held` reads as "not given"; `index.js` passes only safe integers, so no
/// acquisition it gives is this one.
const NOT_ACQUIRED: i64 = i64::MIN;

/// A request, with its tier and add-ons resolved once. An unknown name or id, or more
/// add-ons than the engine takes, is kept as the reason every question will answer with,
/// in the order the by-name queries report them: the tier first, then the add-ons.
/// `quantities` (decimal text) and `acquired` (Unix seconds, or null), when given, hold one
/// item for each add-on; without them each is held once, acquired at no particular instant.
/// `seats` is decimal text, or absent.
#[napi]
#[allow(
    clippy::too_many_arguments,
    reason = "the fields of a request, each checked by index.js; `#[expect]` is not fulfilled in the code napi generates"
)]
pub fn request(
    engine: Handle,
    tier: Named,
    key: String,
    addons: Vec<Named>,
    quantities: Option<Vec<String>>,
    acquired: Option<Vec<Option<i64>>>,
    seats: Option<String>,
    billing_anchor: u32,
    now: i64,
    overrides: Option<OverridesHandle>,
) -> Result<External<NativeRequest>> {
    let mut held_in = Vec::with_capacity(addons.len());
    for (i, _) in addons.iter().enumerate() {
        let quantity = match quantities.as_ref().and_then(|q| q.get(i)) {
            Some(text) => count(text, &format!("addons[{i}].quantity"))?,
            None => 1,
        };
        let instant = acquired.as_ref().and_then(|a| a.get(i).copied().flatten()).unwrap_or(NOT_ACQUIRED);
        held_in.push((quantity, instant));
    }
    let seats = seats.map(|text| count(&text, "seats")).transpose()?;
    let tier = match tier {
        Either::A(id) => Some(TierId::from_u32(id)).filter(|&t| engine.tier_name(t).is_some()),
        Either::B(name) => engine.tier(&name),
    }
    .ok_or(Reason::UnknownTier);
    let addons = if addons.len() > engine.input_limits().held_addons.min(entitle::Limits::MAX_HELD_ADDONS) {
        Err(Reason::TooManyAddons)
    } else {
        addons
            .iter()
            .zip(held_in)
            .map(|(addon, (quantity, instant))| {
                let id = match addon {
                    Either::A(id) => Some(AddonId::from_u32(*id)).filter(|&a| engine.addon_name(a).is_some()),
                    Either::B(name) => engine.addon(name),
                };
                id.map(|id| Held::new(id).with_quantity(quantity).acquired_at(instant))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or(Reason::UnknownAddon)
    };
    let billing_anchor = u8::try_from(billing_anchor).unwrap_or(u8::MAX);
    let overrides = overrides.map(|set| set.overrides.clone()).filter(|set| set.subject(&key).is_some());
    Ok(External::new(NativeRequest { tier, key, addons, seats, billing_anchor, now, overrides }))
}

/// Whether the subject may use a feature, by id: the hot path.
#[napi]
pub fn is_allowed_id(engine: Handle, request: External<NativeRequest>, feature: u32) -> bool {
    request.ask(|r| engine.is_allowed(r, FeatureId::from_u32(feature))).unwrap_or(false)
}

/// Whether the subject may use a feature, by name.
#[napi]
pub fn is_allowed_name(engine: Handle, request: External<NativeRequest>, feature: String) -> bool {
    request.ask(|r| engine.feature(&feature).is_some_and(|id| engine.is_allowed(r, id))).unwrap_or(false)
}

/// Whether the subject may use each feature, in one call, through the engine's
/// `is_allowed_many`: the list as [`feature_list`] reads it, each answer into `out` (1
/// allowed, 0 not).
///
/// The lists cross as typed arrays `index.js` makes once and reuses, the names alone as
/// strings: napi converting a JavaScript array of names and ids item by item, trying each as
/// a number first, cost more than the single calls, and a new typed array each call more
/// than a page of answers.
#[napi]
pub fn is_allowed_many(
    engine: Handle,
    request: External<NativeRequest>,
    ids: &[u32],
    count: u32,
    names: String,
    name_at: &[u32],
    mut out: Uint32Array,
) -> Result<()> {
    let features = feature_list(&engine, ids, count, &names, name_at)?;
    let mut answers = vec![false; features.len()];
    // A request that does not resolve denies every feature.
    if let Ok(answered) = request.ask(|r| engine.is_allowed_many(r, &features, &mut answers).map(|_| ())) {
        answered.map_err(buffer_error)?;
    }
    fill(&mut out, answers.iter().map(|&allowed| u32::from(allowed)))
}

/// `decide` for each feature, in one call, through the engine's `decide_many`: the list as
/// [`is_allowed_many`] takes it, each answer's [`decision_code`] into `out`.
#[napi]
pub fn decide_many(
    engine: Handle,
    request: External<NativeRequest>,
    ids: &[u32],
    count: u32,
    names: String,
    name_at: &[u32],
    mut out: Uint32Array,
) -> Result<()> {
    let features = feature_list(&engine, ids, count, &names, name_at)?;
    let mut answers = vec![Decision::default(); features.len()];
    match request.ask(|r| engine.decide_many(r, &features, &mut answers).map(|_| ())) {
        Ok(answered) => {
            answered.map_err(buffer_error)?;
            fill(&mut out, answers.iter().map(|d| decision_code(d.allowed, d.reason)))
        }
        // A request that does not resolve denies every feature with why, as `decide` does.
        Err(reason) => fill(&mut out, features.iter().map(|_| decision_code(false, reason))),
    }
}

/// A list of `count` features: the first `count` numbers of `ids`, except that the `i`th name
/// of `names` (each ended by a NUL) stands at place `name_at[i]`, resolved to its id, or to
/// [`UNKNOWN`] when the policy declares no such feature.
fn feature_list(engine: &Engine, ids: &[u32], count: u32, names: &str, name_at: &[u32]) -> Result<Vec<FeatureId>> {
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let Some(ids) = ids.get(..count) else {
        let message = format!("the id buffer holds {} ids, not {count}", ids.len());
        return Err(Error::new(Status::InvalidArg, message));
    };
    let mut list: Vec<FeatureId> = ids.iter().map(|&id| FeatureId::from_u32(id)).collect();
    let names = names.strip_suffix('\0').map(|all| all.split('\0'));
    let names = names.into_iter().flatten();
    let mut places = name_at.iter();
    for name in names {
        let Some(&at) = places.next() else {
            return Err(Error::new(
                Status::InvalidArg,
                format!("more names than the {} places for them", name_at.len()),
            ));
        };
        let slot = usize::try_from(at).ok().and_then(|at| list.get_mut(at));
        let Some(slot) = slot else {
            return Err(Error::new(Status::InvalidArg, format!("a name's place {at} is past the {count} features")));
        };
        *slot = engine.feature(name).unwrap_or(FeatureId::from_u32(UNKNOWN));
    }
    Ok(list)
}

/// Writes `answers` to the start of `out`, which must hold them all.
fn fill<T>(out: &mut [T], answers: impl ExactSizeIterator<Item = T>) -> Result<()> {
    if out.len() < answers.len() {
        let message = format!("the answer buffer holds {} answers for {} questions", out.len(), answers.len());
        return Err(Error::new(Status::InvalidArg, message));
    }
    for (slot, answer) in out.iter_mut().zip(answers) {
        *slot = answer;
    }
    Ok(())
}

/// Whether the subject may use a feature, and why.
#[napi]
pub fn decide(engine: Handle, request: External<NativeRequest>, feature: Named) -> u32 {
    let decision = decision_of(&engine, &request, feature_id(&engine, &feature));
    decision_code(decision.0, decision.1)
}

/// A decision as one number, `reason << 1 | allowed`, for `decide` and `decide_many`:
/// `index.js` turns each into a frozen answer it makes once per number, where an object
/// built here cost more than the whole question (each property a string napi interns).
fn decision_code(allowed: bool, reason: Reason) -> u32 {
    ((reason as u32) << 1) | u32::from(allowed)
}

/// Every reason's name at its number, for reading [`decision_code`]s.
#[napi]
pub fn reason_names() -> Vec<String> {
    let mut names = Vec::new();
    for reason in Reason::ALL {
        let at = reason_index(*reason);
        if names.len() <= at {
            names.resize(at + 1, String::new());
        }
        if let Some(slot) = names.get_mut(at) {
            *slot = reason.as_str().to_string();
        }
    }
    names
}

fn reason_index(reason: Reason) -> usize {
    usize::try_from(reason as u32).unwrap_or(usize::MAX)
}

/// How much of a limit is left given `used`, and whether `requested` more may be used.
#[napi]
pub fn check_limit(
    engine: Handle,
    request: External<NativeRequest>,
    limit: Named,
    used: String,
    requested: String,
) -> Result<NativeQuota> {
    let usage = Usage { used: count(&used, "used")?, requested: count(&requested, "requested")? };
    Ok(quota_of(&engine, &request, limit_id(&engine, &limit), usage))
}

/// A limit that may draw on a pool, answered in both terms.
#[napi(object)]
pub struct NativeDraw {
    /// The pool's answer, in the pool's units.
    pub quota: NativeQuota,
    /// The pool's name: the limit's own for a limit that draws on nothing; absent for an
    /// unknown limit, as in the Python package.
    pub pool: Option<String>,
    /// What the requested units cost the pool, as decimal text.
    pub cost: String,
    /// How many of the limit's units what is left of the pool pays for, or `unlimited`.
    pub remaining_units: String,
}

/// `check_limit` for a limit that may draw on a pool, with the pool, the request's cost and
/// what is left in the limit's own units; `used` is the pool's use.
#[napi]
pub fn check_draw(
    engine: Handle,
    request: External<NativeRequest>,
    limit: Named,
    used: String,
    requested: String,
) -> Result<NativeDraw> {
    let usage = Usage { used: count(&used, "used")?, requested: count(&requested, "requested")? };
    let id = limit_id(&engine, &limit).unwrap_or(LimitId::from_u32(UNKNOWN));
    let (draw, quota) = match request.ask(|r| engine.check_draw(r, id, usage)) {
        Ok(draw) => (draw, native_quota(&draw.quota)),
        Err(reason) => (engine.draw_of(id, usage, Quota::default()), denied_quota(reason)),
    };
    Ok(NativeDraw {
        quota,
        // An unknown limit is its own pool, with no name.
        pool: engine.limit_name(draw.pool).map(str::to_string),
        cost: draw.cost.to_string(),
        remaining_units: amount(draw.remaining_units),
    })
}

/// The name of the pool `limit` draws on; absent for a limit that draws on nothing.
#[napi]
pub fn pool_of(engine: Handle, limit: Named) -> Option<String> {
    let pool = engine.pool(limit_id(&engine, &limit)?)?;
    engine.limit_name(pool).map(str::to_string)
}

/// `check_limit` for many limits in one call, each with its own `used` (nothing requested),
/// through the engine's `check_limit_many`. `used` holds one amount per limit: a list of
/// another length is refused rather than cut to the shorter.
#[napi]
pub fn check_limit_many(
    engine: Handle,
    request: External<NativeRequest>,
    limits: Vec<Named>,
    used: Vec<String>,
) -> Result<Vec<NativeQuota>> {
    let questions = limit_questions(&engine, &limits, &used, None)?;
    Ok(quotas(&engine, &request, &questions)?.iter().map(native_quota).collect())
}

/// One request against several limits: each limit's answer, and the index of the one that
/// binds.
#[napi(object)]
pub struct NativeLimitBatch {
    /// One answer per limit, in the order asked.
    pub answers: Vec<NativeQuota>,
    /// The index of the answer that binds (`entitle::binding`); absent for no limits.
    pub binding: Option<u32>,
}

/// One request against several limits, each with its own `used` and `requested` (lists as
/// long as `limits`), through the engine's `check_limits`.
#[napi]
pub fn check_limits(
    engine: Handle,
    request: External<NativeRequest>,
    limits: Vec<Named>,
    used: Vec<String>,
    requested: Vec<String>,
) -> Result<NativeLimitBatch> {
    let questions = limit_questions(&engine, &limits, &used, Some(&requested))?;
    let answers = quotas(&engine, &request, &questions)?;
    // At most `u32::MAX` limits fit in a JavaScript array.
    let binding = entitle::binding(&answers).and_then(|at| u32::try_from(at).ok());
    Ok(NativeLimitBatch { answers: answers.iter().map(native_quota).collect(), binding })
}

/// The questions of a call about several limits: each limit with its `used` and, when given,
/// `requested` amount, each list as long as `limits`; an unknown name is an id no engine has,
/// answered `unknown_limit`.
fn limit_questions(
    engine: &Handle,
    limits: &[Named],
    used: &[String],
    requested: Option<&[String]>,
) -> Result<Vec<(LimitId, Usage)>> {
    for (name, given) in [("used", Some(used)), ("requested", requested)] {
        if let Some(given) = given.filter(|given| given.len() != limits.len()) {
            let message = format!("`{name}` has {} amounts for {} limits", given.len(), limits.len());
            return Err(Error::new(Status::InvalidArg, message));
        }
    }
    let mut questions = Vec::with_capacity(limits.len());
    for (at, (limit, used)) in limits.iter().zip(used).enumerate() {
        let id = limit_id(engine, limit).unwrap_or(LimitId::from_u32(UNKNOWN));
        let requested = match requested.and_then(|r| r.get(at)) {
            Some(amount) => count(amount, "requested")?,
            None => 0,
        };
        questions.push((id, Usage::used(count(used, "used")?).requesting(requested)));
    }
    Ok(questions)
}

/// The engine's answers to `questions` about the request, in order.
fn quotas(engine: &Handle, request: &NativeRequest, questions: &[(LimitId, Usage)]) -> Result<Vec<Quota>> {
    let mut out = vec![Quota::default(); questions.len()];
    match request.ask(|r| engine.check_limit_many(r, questions, &mut out).map(|_| ())) {
        Ok(answered) => answered.map_err(buffer_error)?,
        Err(reason) => {
            // A deny of nothing for the request's own reason, as each single call answers.
            let mut denied = Quota::default();
            denied.reason = reason;
            out.fill(denied);
        }
    }
    Ok(out)
}

/// A setting's value for the subject.
#[napi]
pub fn setting_value(engine: Handle, request: External<NativeRequest>, setting: Named) -> NativeSetting {
    let id = match &setting {
        Either::A(id) => Some(SettingId::from_u32(*id)),
        Either::B(name) => engine.setting(name),
    };
    setting_of(&engine, &request, id)
}

/// Everything the subject is entitled to, as an account page shows it: every feature's
/// decision, every limit's quota (given `used`, by limit id; 0 where absent) and every
/// setting, each beside its name, in declaration order.
#[napi]
pub fn entitlements(
    engine: Handle,
    request: External<NativeRequest>,
    used_ids: Vec<u32>,
    used: Vec<String>,
) -> Result<NativeEntitlements> {
    let mut usage = Vec::with_capacity(used.len());
    for (id, amount) in used_ids.iter().zip(&used) {
        usage.push((LimitId::from_u32(*id), count(amount, "usage")?));
    }
    let features = engine.features().map(|(id, name)| {
        let (allowed, reason) = decision_of(&engine, &request, Some(id));
        (name.to_string(), NativeDecision { allowed, reason: reason.as_str().to_string() })
    });
    let limits = engine.limits().map(|(id, name)| {
        let given = |id: LimitId| usage.iter().rev().find(|(limit, _)| *limit == id).map(|(_, amount)| *amount);
        let used = engine.used_for(id, given);
        (name.to_string(), quota_of(&engine, &request, Some(id), Usage::used(used)))
    });
    let settings = engine.settings().map(|(id, name)| (name.to_string(), setting_of(&engine, &request, Some(id))));
    let (feature_names, features) = features.unzip();
    let (limit_names, limits) = limits.unzip();
    let (setting_names, settings) = settings.unzip();
    Ok(NativeEntitlements { feature_names, features, limit_names, limits, setting_names, settings })
}

/// Whether the subject may use a feature, and why.
/// A name that resolves to nothing is asked as an id no engine hands out, so that the engine
/// checks the request first (an add-on listed twice, a quantity above its maximum) and only
/// then answers `unknown_*`, in the order every language answers in.
fn decision_of(engine: &Engine, request: &NativeRequest, feature: Option<FeatureId>) -> (bool, Reason) {
    let id = feature.unwrap_or(FeatureId::from_u32(UNKNOWN));
    match request.ask(|r| engine.decide(r, id)) {
        Ok(decision) => (decision.allowed, decision.reason),
        Err(reason) => (false, reason),
    }
}

fn quota_of(engine: &Engine, request: &NativeRequest, limit: Option<LimitId>, usage: Usage) -> NativeQuota {
    let id = limit.unwrap_or(LimitId::from_u32(UNKNOWN));
    match request.ask(|r| engine.check_limit(r, id, usage)) {
        Ok(quota) => native_quota(&quota),
        Err(reason) => denied_quota(reason),
    }
}

/// A quota as JavaScript receives it, amounts as decimal text.
fn native_quota(answer: &Quota) -> NativeQuota {
    // Computed once: the engine works a window out each time it is asked for.
    let window = answer.window();
    NativeQuota {
        allowed: answer.allowed,
        reason: answer.reason.as_str().to_string(),
        status: answer.status.as_str().to_string(),
        limit: amount(answer.limit),
        soft_cap: answer.soft_cap.map(amount),
        remaining: amount(answer.remaining),
        seats: answer.seats.map(|seats| seats.to_string()),
        window_start: window.map(|w| w.start),
        window_end: window.map(|w| w.end),
        window_rolling: window.is_some() && answer.rolling(),
        overridden: answer.overridden(),
    }
}

fn setting_of(engine: &Engine, request: &NativeRequest, setting: Option<SettingId>) -> NativeSetting {
    let id = setting.unwrap_or(SettingId::from_u32(UNKNOWN));
    // The value is converted inside the question: it may be an override record's, which lives
    // only as long as the request that carries the set's subject.
    let found = request.ask(|r| engine.setting_value(r, id).map(|v| v.map(native_setting))).and_then(|v| v);
    match found {
        Err(reason) => {
            NativeSetting { reason: Some(reason.as_str().to_string()), kind: None, value: None, display: None }
        }
        Ok(None) => NativeSetting { reason: None, kind: None, value: None, display: None },
        Ok(Some(value)) => value,
    }
}

/// A setting's value as JavaScript receives it.
fn native_setting(value: &SettingValue) -> NativeSetting {
    let (kind, text) = match value {
        SettingValue::Number(n) => ("number", n.to_string()),
        SettingValue::Percent(p) => ("percent", p.millionths().to_string()),
        SettingValue::Duration(n) => ("duration", n.to_string()),
        SettingValue::Bytes(n) => ("bytes", n.to_string()),
        SettingValue::Text(text) => ("string", text.to_string()),
    };
    NativeSetting { reason: None, kind: Some(kind.to_string()), value: Some(text), display: Some(value.to_string()) }
}

/// A decision with the rules behind it, as `{"answer": ..., "explain": ...}` JSON.
#[napi]
pub fn explain_feature(engine: Handle, request: External<NativeRequest>, feature: Named) -> String {
    match request.ask(|r| feature_id(&engine, &feature).map(|id| engine.explain_feature(r, id))) {
        Ok(Some(why)) => entitle::wire::explained(&entitle::wire::decision(&why.answer), &why),
        Ok(None) => unexplained(decision_of(&engine, &request, None).1, false),
        Err(reason) => unexplained(reason, false),
    }
}

/// A quota with the rules behind it, as `{"answer": ..., "explain": ...}` JSON.
#[napi]
pub fn explain_limit(
    engine: Handle,
    request: External<NativeRequest>,
    limit: Named,
    used: String,
    requested: String,
) -> Result<String> {
    let usage = Usage { used: count(&used, "used")?, requested: count(&requested, "requested")? };
    Ok(match request.ask(|r| limit_id(&engine, &limit).map(|id| engine.explain_limit(r, id, usage))) {
        Ok(Some(why)) => entitle::wire::explained(&entitle::wire::quota(&why.answer), &why),
        Ok(None) => {
            let unknown = request.ask(|r| engine.check_limit(r, LimitId::from_u32(UNKNOWN), usage).reason);
            unexplained(unknown.unwrap_or_else(|reason| reason), true)
        }
        Err(reason) => unexplained(reason, true),
    })
}

/// One query line of the `entitle eval` protocol in, one answer line out, with the records of
/// `overrides` for the query's key applied.
#[napi]
pub fn query_json(engine: Handle, line: String, overrides: Option<OverridesHandle>) -> String {
    entitle::wire::answer_line_with(&engine, overrides.as_ref().map(|set| &set.overrides), &line)
}

/// Checks `source` against `engine` under the engine's limits, as
/// `entitle::Overrides::from_jsonl` does, or says why it does not check, with every
/// diagnostic at its record's line (a `PolicyError` in `index.js`, as a policy's).
fn checked_overrides(engine: &Engine, source: &entitle::Source) -> Result<OverridesHandle> {
    match Overrides::from_jsonl_with(engine, source.name(), source.text(), engine.input_limits()) {
        Ok(overrides) => Ok(External::new(NativeOverrides { overrides, engine: engine.clone() })),
        Err(diagnostics) => {
            let list = entitle::wire::diagnostics(source, diagnostics.iter());
            Err(load_failure("policy", &diagnostics.to_string(), Some(&list)))
        }
    }
}

/// Reads and checks JSON Lines override records against an engine.
#[napi]
pub fn overrides_from_jsonl(engine: Handle, text: String, name: String) -> Result<OverridesHandle> {
    checked_overrides(&engine, &entitle::Source::new(name, text))
}

/// Reads the JSON Lines override set at `path` and checks it against an engine.
#[napi]
pub fn overrides_from_path(engine: Handle, path: String) -> Result<OverridesHandle> {
    // Read here, as `Overrides::from_path` reads it (no further than one byte past the
    // engine's `override_bytes`), rather than through it: its error holds the diagnostics'
    // lines but not the text, and a diagnostic's end line and column need the text.
    let limit = engine.input_limits().override_bytes;
    match entitle::read_text_file(std::path::Path::new(&path), limit) {
        Ok(source) => checked_overrides(&engine, &source),
        Err(error) => Err(load_failure("io", &error.to_string(), None)),
    }
}

/// How many records a set holds.
#[napi]
pub fn overrides_len(overrides: OverridesHandle) -> u32 {
    u32::try_from(overrides.overrides.len()).unwrap_or(u32::MAX)
}

/// How many subjects have records.
#[napi]
pub fn overrides_subject_count(overrides: OverridesHandle) -> u32 {
    u32::try_from(overrides.overrides.subject_count()).unwrap_or(u32::MAX)
}

/// The hash of the policy a set was checked against, as hex.
#[napi]
pub fn overrides_policy_hash(overrides: OverridesHandle) -> String {
    overrides.overrides.policy_hash().to_string()
}

/// The name a set was read under.
#[napi]
pub fn overrides_name(overrides: OverridesHandle) -> String {
    overrides.overrides.name().to_string()
}

/// The subject keys that have records, sorted.
#[napi]
pub fn overrides_subjects(overrides: OverridesHandle) -> Vec<String> {
    let mut keys: Vec<String> = overrides.overrides.subjects().map(str::to_string).collect();
    keys.sort_unstable();
    keys
}

/// Every record of subject `key`, in the order the set keeps them.
#[napi]
pub fn overrides_records(overrides: OverridesHandle, key: String) -> Result<Vec<NativeOverrideRecord>> {
    let engine = &overrides.engine;
    let name = |found: Option<&str>| Some(found.unwrap_or("").to_string());
    let mut records = Vec::new();
    for info in overrides.overrides.records(&key) {
        let mut record = NativeOverrideRecord {
            subject: info.subject.to_string(),
            op: String::new(),
            feature: None,
            limit: None,
            setting: None,
            amount: None,
            value: None,
            per_seat: false,
            from: info.from,
            until: info.until,
            reason: info.reason.to_string(),
            author: info.author.to_string(),
            line: info.line,
        };
        match &info.change {
            OverrideChange::Grant(f) | OverrideChange::Revoke(f) => {
                let grant = matches!(info.change, OverrideChange::Grant(_));
                record.op = if grant { "grant" } else { "revoke" }.to_string();
                record.feature = name(engine.feature_name(*f));
            }
            OverrideChange::Limit { limit, op, value, per_seat } => {
                record.op = op.as_str().to_string();
                record.limit = name(engine.limit_name(*limit));
                record.amount = Some(amount(*value));
                record.per_seat = *per_seat;
            }
            OverrideChange::Setting { setting, value } => {
                record.op = "=".to_string();
                record.setting = name(engine.setting_name(*setting));
                record.value = Some(native_setting(value));
            }
            // A kind of record a later release adds: said, rather than shown as another.
            _ => {
                let message = "an override record of a kind this package does not know";
                return Err(Error::new(Status::GenericFailure, message.to_string()));
            }
        }
        records.push(record);
    }
    Ok(records)
}

/// The number of an id no engine hands out: every engine's tag is non-zero, so an untagged
/// number is never one of its ids, and the answer to it is the `unknown_*` deny that an
/// unknown name gets. The batch calls ask with it where a name resolves to nothing, so that
/// every question of the list keeps its place.
const UNKNOWN: u32 = 0;

/// A batch call's buffer that is too small: never, since each is sized to its list here.
fn buffer_error(error: entitle::BufferTooSmall) -> Error {
    Error::new(Status::GenericFailure, error.to_string())
}

fn feature_id(engine: &Engine, feature: &Named) -> Option<FeatureId> {
    match feature {
        Either::A(id) => Some(FeatureId::from_u32(*id)),
        Either::B(name) => engine.feature(name),
    }
}

fn limit_id(engine: &Engine, limit: &Named) -> Option<LimitId> {
    match limit {
        Either::A(id) => Some(LimitId::from_u32(*id)),
        Either::B(name) => engine.limit(name),
    }
}

impl NativeRequest {
    /// Answers with the id request this one resolved to, or with why it did not resolve.
    #[inline]
    fn ask<R>(&self, answer: impl FnOnce(&Request<'_>) -> R) -> std::result::Result<R, Reason> {
        let tier = self.tier?;
        let addons = self.addons.as_deref().map_err(|reason| *reason)?;
        let request =
            Request::new(tier, self.now).with_key(&self.key).with_held(addons).with_billing_anchor(self.billing_anchor);
        // After the key: `with_key` drops the overrides taken for the key before it.
        let request = match &self.overrides {
            Some(overrides) => request.with_overrides(overrides),
            None => request,
        };
        let request = match self.seats {
            Some(seats) => request.with_seats(seats),
            None => request,
        };
        Ok(answer(&request))
    }
}

/// The quota of a question that could not be asked: a deny of nothing, as the by-name
/// queries answer an unknown name.
fn denied_quota(reason: Reason) -> NativeQuota {
    NativeQuota {
        allowed: false,
        reason: reason.as_str().to_string(),
        status: "exceeded".to_string(),
        limit: "0".to_string(),
        soft_cap: None,
        remaining: "0".to_string(),
        seats: None,
        window_start: None,
        window_end: None,
        window_rolling: false,
        overridden: false,
    }
}

/// The explanation of a question that could not be asked: the deny, and no rules behind it.
fn unexplained(reason: Reason, limit: bool) -> String {
    let answer = if limit {
        json!({ "allowed": false, "reason": reason.as_str(), "status": "exceeded", "limit": 0, "soft_cap": null, "remaining": 0 })
    } else {
        json!({ "allowed": false, "reason": reason.as_str() })
    };
    json!({ "answer": answer, "explain": { "steps": [], "upgrade": null } }).to_string()
}
