//! Hooks for the fuzz targets in `fuzz/` (feature `fuzzing`; not part of the stable API).
//!
//! The differential target needs the naive reference evaluator, which the crate otherwise
//! compiles only for its own tests; this module lends it out behind one function, which the
//! crate's property test also uses, so both compare answers the same way. The bundle target
//! needs to get past a bundle's checksum, which no mutation keeps; [`check_bundle`] reseals
//! what it is given. The parser target compares the hand-written reader with pest alone
//! through [`compare_parsers`], which `tests/all/parser.rs` also runs.

use crate::engine::{AddonId, Decision, FeatureId, Held, LimitId, Quota, Reason, Request, SettingId, TierId, Usage};
use crate::reference::{OverrideEffect, OverrideRule, Reference};
use crate::Source;

/// One question for [`compare_with_reference`]: indices are taken modulo the policy's sizes
/// (plus one, so that unknown ids are asked too).
#[derive(Clone, Copy, Debug)]
pub struct Question<'a> {
    /// The tier, by index.
    pub tier: u32,
    /// The subject key.
    pub key: &'a str,
    /// Which add-ons are held: bit `i` holds add-on `i`.
    pub addons: u64,
    /// The instant.
    pub now: i64,
    /// The feature, limit or setting, by index.
    pub item: u32,
    /// Usage for limit questions.
    pub used: u64,
    /// The request for limit questions.
    pub requested: u64,
    /// How the add-ons are held: 0 lists them by id (each once, no acquisition); otherwise
    /// bits 0–2 pick the seat count and each add-on's six bits its quantity and acquisition
    /// ([`held_of`]).
    pub holding: u64,
}

/// The seat counts a question may give; `None` gives none.
const SEATS: [Option<u64>; 8] = [None, Some(0), Some(1), Some(7), Some(25), Some(u64::MAX), None, Some(3)];
/// The quantities a held add-on may have.
const QUANTITIES: [u64; 8] = [1, 0, 2, 3, 1, 255, u64::MAX, 1];
/// Acquisition instants, as offsets from the question's instant; `None` gives none. Around
/// 100 seconds, a day and a month, the trial lengths the generated policies use, so that
/// trials are asked at their first and last second.
const ACQUIRED: [Option<i64>; 8] =
    [None, Some(0), Some(-100), Some(1), Some(-99), Some(-86_400), Some(-86_399), Some(-2_678_400)];

/// The held add-ons (index, quantity, acquisition) and seat count of a question holding `held`.
fn held_of(q: &Question<'_>, held: &[usize]) -> (Vec<crate::reference::HeldAddon>, Option<u64>) {
    // Three bits pick one of eight choices.
    let choice = |bits: u64| usize::try_from(bits & 7).unwrap_or(0);
    let pick = |choices: &[u64; 8], bits: u64| choices.get(choice(bits)).copied().unwrap_or(1);
    if q.holding == 0 {
        return (held.iter().map(|&a| (a, 1, None)).collect(), None);
    }
    let seats = SEATS.get(choice(q.holding)).copied().flatten();
    let list = held
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let bits = q.holding.rotate_right(3 + 6 * (u32::try_from(i).unwrap_or(0) % 10));
            // `i64::MIN` is `Held::acquired_at`'s documented "not given": an acquisition that
            // saturates to it (an offset of 0 or less from the earliest instant) is asked of
            // the reference as none, which is what the engine is asked.
            let acquired = ACQUIRED
                .get(choice(bits >> 3))
                .copied()
                .flatten()
                .map(|offset| q.now.saturating_add(offset))
                .filter(|&at| at != i64::MIN);
            (a, pick(&QUANTITIES, bits), acquired)
        })
        .collect();
    (list, seats)
}

/// One override record for [`compare_with_overrides`]: what it changes is picked by index,
/// modulo the policy's sizes, and records that the checker would refuse (overlapping an earlier
/// one, per seat where that means nothing, an empty window) are adjusted or left out first.
#[derive(Clone, Copy, Debug)]
pub struct OverrideSpec<'a> {
    /// The subject key.
    pub subject: &'a str,
    /// A feature (0), a limit (1) or a setting (2), modulo 3.
    pub kind: u8,
    /// The feature, limit or setting, by index.
    pub item: u32,
    /// For a feature, grant when even; for a limit, `=`, `+=`, `at_least`, `at_most`, modulo 4.
    pub op: u8,
    /// The value, in base units; a limit's is unlimited when a multiple of 16.
    pub value: u64,
    /// Whether a limit's value is per seat.
    pub per_seat: bool,
    /// The first instant it applies.
    pub from: Option<i64>,
    /// The first instant it no longer applies.
    pub until: Option<i64>,
}

/// Checks `text`; when it checks, compiles it and asks every question of the engine and of the
/// reference evaluator, returning a description of the first disagreement.
pub fn compare_with_reference(text: &str, questions: &[Question<'_>]) -> Result<(), String> {
    compare_with_overrides(text, &[], questions)
}

/// The override set of `specs` for `engine`, and the same records as the reference holds them.
fn override_set(
    engine: &crate::Engine,
    model: &crate::model::Model,
    specs: &[OverrideSpec<'_>],
) -> Result<(crate::Overrides, Vec<OverrideRule>), String> {
    use crate::model::{LimitKind, SettingType, SettingValue};
    use crate::units::QuantityType;
    let mut builder = crate::Overrides::builder(engine);
    let mut rules: Vec<OverrideRule> = Vec::new();
    let mut taken: Vec<(&str, u8, usize, i64, i64)> = Vec::new();
    for spec in specs {
        let kind = spec.kind % 3;
        // The checker refuses a record with no subject, as no request should take it.
        if spec.subject.is_empty() {
            continue;
        }
        let count = match kind {
            0 => model.features.len(),
            1 => model.limits.len(),
            _ => model.settings.len(),
        };
        if count == 0 {
            continue;
        }
        let item = usize::try_from(spec.item).unwrap_or(0) % count;
        let until = match (spec.from, spec.until) {
            (Some(from), Some(until)) if from >= until => None,
            (_, until) => until,
        };
        let window = (spec.from.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX));
        let overlaps = taken.iter().any(|&(subject, k, i, from, until)| {
            subject == spec.subject && k == kind && i == item && window.0 < until && from < window.1
        });
        if overlaps {
            continue;
        }
        taken.push((spec.subject, kind, item, window.0, window.1));
        let effect = match kind {
            0 => {
                let Some(name) = model.features.get(item).map(|f| f.name.as_str()) else { continue };
                let grant = spec.op % 2 == 0;
                if grant {
                    builder.grant(spec.subject, name);
                } else {
                    builder.revoke(spec.subject, name);
                }
                OverrideEffect::Feature(item, grant)
            }
            1 => {
                // A limit that draws on a pool takes no record: its pool's records apply.
                let Some(def) = model.limits.get(item).filter(|def| def.draws.is_none()) else { continue };
                let (op, written) = match spec.op % 4 {
                    0 => (crate::LimitOp::Set, "="),
                    1 => (crate::LimitOp::Add, "+="),
                    2 => (crate::LimitOp::AtLeast, "at_least"),
                    _ => (crate::LimitOp::AtMost, "at_most"),
                };
                let unlimited = spec.value % 16 == 0;
                let value = spec.value.min(u64::MAX - 1);
                let text = if unlimited { "unlimited".to_string() } else { value.to_string() };
                let no_seats =
                    matches!((def.ty, def.kind), (QuantityType::Duration, LimitKind::Cap | LimitKind::Gauge));
                let per_seat = spec.per_seat && !unlimited && !no_seats;
                builder.limit(spec.subject, &def.name, op, &text);
                if per_seat {
                    builder.per_seat();
                }
                let amount = if unlimited { crate::Amount::Unlimited } else { crate::Amount::Finite(value) };
                OverrideEffect::Limit(item, written, amount, per_seat)
            }
            _ => {
                let Some(def) = model.settings.get(item) else { continue };
                let v = spec.value;
                let (text, value) = match def.ty {
                    SettingType::Number => (v.to_string(), SettingValue::Number(v)),
                    SettingType::Percent => {
                        let whole = u32::try_from(v % 101).unwrap_or(0);
                        (format!("{whole}%"), SettingValue::Percent(crate::Percentage::from_millionths(whole * 10_000)))
                    }
                    SettingType::Duration => (format!("{v} s"), SettingValue::Duration(v)),
                    SettingType::Bytes => (format!("{v} B"), SettingValue::Bytes(v)),
                    SettingType::String => (format!("t{v}"), SettingValue::Text(format!("t{v}").into())),
                };
                builder.setting(spec.subject, &def.name, &text);
                OverrideEffect::Setting(item, value)
            }
        };
        if let Some(from) = spec.from {
            builder.from(from);
        }
        if let Some(until) = until {
            builder.until(until);
        }
        rules.push(OverrideRule { subject: spec.subject.to_string(), effect, from: spec.from, until });
    }
    let set = builder.build().map_err(|e| format!("a generated override set does not check: {e:?}"))?;
    Ok((set, rules))
}

/// [`compare_with_reference`] with an override set made of `specs`, which every question's
/// request carries.
pub fn compare_with_overrides(
    text: &str,
    specs: &[OverrideSpec<'_>],
    questions: &[Question<'_>],
) -> Result<(), String> {
    let Ok(checked) = crate::check(&Source::new("fuzz", text)) else { return Ok(()) };
    let engine = crate::compile(&checked);
    let model = checked.model();
    let oracle = Reference::new(model);
    let sizes = (model.tiers.len(), model.features.len(), model.limits.len(), model.settings.len());
    let (overrides, rules) = override_set(&engine, model, specs)?;
    for q in questions {
        let tier = usize::try_from(q.tier).unwrap_or(0) % (sizes.0 + 1);
        if tier >= sizes.0 {
            continue;
        }
        let indices: Vec<usize> = (0..model.addons.len().min(64)).filter(|a| q.addons & (1 << a) != 0).collect();
        let (held, seats) = held_of(q, &indices);
        let ids: Vec<AddonId> = indices.iter().map(|&a| engine.id_at(a)).collect();
        let list: Vec<Held> = held
            .iter()
            .map(|&(a, quantity, acquired)| {
                let one = Held::new(engine.id_at::<AddonId>(a)).with_quantity(quantity);
                acquired.map_or(one, |at| one.acquired_at(at))
            })
            .collect();
        // Billing anchors that clamp differently at month ends, picked by the instant.
        let anchors = [1, 29, 30, 31, 15, 28, 31, 2];
        let anchor = anchors.get(usize::try_from(q.now.rem_euclid(8)).unwrap_or(0)).copied().unwrap_or(1);
        let mut request = Request::new(engine.id_at::<TierId>(tier), q.now)
            .with_key(q.key)
            .with_addons(&ids)
            .with_billing_anchor(anchor);
        if q.holding != 0 {
            request = request.with_held(&list);
        }
        if let Some(seats) = seats {
            request = request.with_seats(seats);
        }
        if !specs.is_empty() {
            request = request.with_overrides(&overrides);
        }
        // A list of `Held` each held once and acquired at no instant asks what the list of ids
        // does: the two forms are compiled separately, so they are compared.
        if q.holding != 0 && held.iter().all(|&(_, quantity, acquired)| quantity == 1 && acquired.is_none()) {
            compare_forms(&engine, &request, &request.with_addons(&ids), sizes)?;
        }
        let pick = |count: usize| usize::try_from(q.item).unwrap_or(0) % count.max(1);
        if sizes.1 > 0 {
            let f = pick(sizes.1);
            let id: FeatureId = engine.id_at(f);
            let got = engine.decide(&request, id);
            let want = oracle.decide_with(&rules, tier, q.key, &held, q.now, f);
            if got != want {
                return Err(format!(
                    "decide t{tier} f{f} key {:?} now {}: engine {got:?}, reference {want:?}",
                    q.key, q.now
                ));
            }
            // The fast path must agree with the full decision, for this feature and for ids
            // past the end, and for a tier past the end; an id of another engine (a tag bit
            // flipped) or an untagged one is unknown, whatever its position.
            let past: FeatureId = engine.id_at(sizes.1 + f);
            let stranger = Request::new(engine.id_at::<TierId>(sizes.0 + tier), q.now).with_key(q.key);
            let foreign = FeatureId::from_u32(id.as_u32() ^ (1 << 31));
            let untagged = FeatureId::from_u32(crate::ids::dense(f));
            let foreign_tier = request.with_tier(TierId::from_u32(request.tier().as_u32() ^ (1 << 25)));
            for (request, id) in
                [(&request, id), (&request, past), (&stranger, id), (&request, foreign), (&foreign_tier, id)]
            {
                if engine.is_allowed(request, id) != engine.decide(request, id).allowed {
                    return Err(format!("is_allowed and decide disagree on t{tier} f{f} key {:?}", q.key));
                }
            }
            // A request refused for what it holds is refused before its feature is looked at.
            let unknown = oracle.refusal(&held).unwrap_or(Reason::UnknownFeature);
            for (request, id, reason) in
                [(&request, foreign, unknown), (&request, untagged, unknown), (&foreign_tier, id, Reason::UnknownTier)]
            {
                let got = engine.decide(request, id);
                if got.allowed || got.reason != reason {
                    return Err(format!("an id of another engine answered {got:?} on t{tier} f{f}"));
                }
            }
        }
        if sizes.2 > 0 {
            let l = pick(sizes.2);
            let usage = usage_of(q);
            let mut got = engine.check_limit(&request, engine.id_at::<LimitId>(l), usage);
            compare_window(&got, model.limits.get(l).map(|def| def.kind), q.now, anchor)?;
            // The window was compared above; the override flag is compared with the rest.
            got.counter &= crate::engine::OVERRIDDEN;
            let want = oracle.check_limit_with(&rules, q.key, tier, &held, seats, q.now, l, usage);
            if got != want {
                return Err(format!(
                    "check_limit t{tier} l{l} {usage:?} now {}: engine {got:?}, reference {want:?}",
                    q.now
                ));
            }
            // What a drawing limit's answer adds: its pool, the cost, what is left in its units.
            let draw = engine.check_draw(&request, engine.id_at::<LimitId>(l), usage);
            let terms = (engine.index(draw.pool), draw.cost, draw.remaining_units);
            let expected = oracle.draw_terms(l, usage, &want).unwrap_or((l, usage.requested, want.remaining));
            if terms != expected {
                return Err(format!("check_draw t{tier} l{l} {usage:?}: engine {terms:?}, reference {expected:?}"));
            }
        }
        // A batch asks about every item at once, so one question in as many as there are
        // items asks it: the batches' cost stays that of the single questions.
        if pick(sizes.1.max(sizes.2)) == 0 {
            compare_batches(&engine, &request, sizes.1, sizes.2, usage_of(q))?;
            let stranger = Request::new(engine.id_at::<TierId>(sizes.0 + tier), q.now).with_key(q.key);
            compare_batches(&engine, &stranger, sizes.1, sizes.2, usage_of(q))?;
        }
        if sizes.3 > 0 {
            let s = pick(sizes.3);
            let got = engine.setting_value(&request, engine.id_at::<SettingId>(s)).map(|v| v.cloned());
            let want = oracle.setting_with(&rules, q.key, tier, &held, q.now, s);
            if got != want {
                return Err(format!("setting t{tier} s{s} now {}: engine {got:?}, reference {want:?}", q.now));
            }
        }
        // The same request holding its first add-on a second time, at the end: the engine
        // and the reference refuse it alike, whatever is asked.
        if let Some(&first) = held.first() {
            let doubled: Vec<crate::reference::HeldAddon> = held.iter().copied().chain([(first.0, 1, None)]).collect();
            let ids: Vec<Held> = doubled
                .iter()
                .map(|&(a, quantity, acquired)| {
                    let one = Held::new(engine.id_at::<AddonId>(a)).with_quantity(quantity);
                    acquired.map_or(one, |at| one.acquired_at(at))
                })
                .collect();
            let first = first.0;
            let twice = request.with_held(&ids);
            let f = pick(sizes.1);
            let (got, want) = (engine.decide(&twice, engine.id_at(f)), oracle.decide(tier, q.key, &doubled, q.now, f));
            let l = pick(sizes.2);
            let mut quota = engine.check_limit(&twice, engine.id_at(l), usage_of(q));
            quota.counter = 0;
            let s = pick(sizes.3);
            let setting = engine.setting_value(&twice, engine.id_at(s)).map(|v| v.cloned());
            let want_setting =
                oracle.refusal(&doubled).map_or_else(|| Ok(oracle.setting(tier, &doubled, q.now, s)), Err);
            let limit_agrees =
                sizes.2 == 0 || quota == oracle.check_limit(tier, &doubled, seats, q.now, l, usage_of(q));
            if (sizes.1 > 0 && got != want) || !limit_agrees || (sizes.3 > 0 && setting != want_setting) {
                return Err(format!("a request holding add-on {first} twice: engine {got:?} {quota:?} {setting:?}, reference {want:?} {want_setting:?}"));
            }
        }
    }
    Ok(())
}

/// The two forms of one request answer every feature, limit and setting alike.
fn compare_forms(
    engine: &crate::Engine,
    held: &Request<'_>,
    ids: &Request<'_>,
    sizes: (usize, usize, usize, usize),
) -> Result<(), String> {
    let usage = Usage::used(3).requesting(1);
    for f in 0..=sizes.1 {
        let feature: FeatureId = engine.id_at(f);
        if engine.decide(held, feature) != engine.decide(ids, feature)
            || engine.is_allowed(held, feature) != engine.is_allowed(ids, feature)
        {
            return Err(format!("feature {f}: a list of `Held` and a list of ids answer differently"));
        }
    }
    for l in 0..=sizes.2 {
        let limit: LimitId = engine.id_at(l);
        if engine.check_limit(held, limit, usage) != engine.check_limit(ids, limit, usage) {
            return Err(format!("limit {l}: a list of `Held` and a list of ids answer differently"));
        }
    }
    for s in 0..=sizes.3 {
        let setting: SettingId = engine.id_at(s);
        if engine.setting_value(held, setting) != engine.setting_value(ids, setting) {
            return Err(format!("setting {s}: a list of `Held` and a list of ids answer differently"));
        }
    }
    Ok(())
}

fn usage_of(q: &Question<'_>) -> Usage {
    Usage { used: q.used, requested: q.requested }
}

/// The batch calls answer every feature and every limit (and one id past each end) as the
/// single calls do, for a request the engine knows or one whose tier it does not.
/// The engine's window for a limit of `kind` asked at `now` against the reference's, which
/// counts months by stepping through the calendar: a counter's answered request has the
/// reference's window, any other answer that has a window has that same one, and a gauge's
/// or a cap's answer has none.
fn compare_window(got: &Quota, kind: Option<crate::model::LimitKind>, now: i64, anchor: u8) -> Result<(), String> {
    let answered = matches!(got.reason, Reason::WithinLimit | Reason::Overage | Reason::LimitExceeded);
    let want = match kind {
        Some(crate::model::LimitKind::Counter(period)) => {
            let (start, end) = crate::reference::window(period, now, anchor);
            Some(crate::engine::WindowSpan::new(start, end))
        }
        Some(crate::model::LimitKind::Rolling(period)) => {
            let (start, end) = crate::reference::trailing(period, now);
            Some(crate::engine::WindowSpan::new(start, end))
        }
        _ => None,
    };
    let rolling = matches!(kind, Some(crate::model::LimitKind::Rolling(_)));
    if got.window().is_some() && got.rolling() != rolling {
        return Err(format!("rolling flag of {kind:?} at {now}: engine {}, reference {rolling}", got.rolling()));
    }
    let got = got.window();
    if (got.is_some() || answered) && got != want {
        return Err(format!("window of {kind:?} at {now}, anchor {anchor}: engine {got:?}, reference {want:?}"));
    }
    Ok(())
}

fn compare_batches(
    engine: &crate::Engine,
    request: &Request<'_>,
    features: usize,
    limits: usize,
    usage: Usage,
) -> Result<(), String> {
    let feature_ids: Vec<FeatureId> = (0..=features).map(|f| engine.id_at(f)).collect();
    let mut allowed = vec![true; feature_ids.len() + 1];
    let got = engine.is_allowed_many(request, &feature_ids, &mut allowed).map_err(|e| e.to_string())?;
    let want: Vec<bool> = feature_ids.iter().map(|f| engine.is_allowed(request, *f)).collect();
    if *got != *want {
        return Err(format!("is_allowed_many {got:?}, one at a time {want:?}"));
    }
    let mut decisions = vec![Decision::default(); feature_ids.len()];
    let got = engine.decide_many(request, &feature_ids, &mut decisions).map_err(|e| e.to_string())?;
    let want: Vec<Decision> = feature_ids.iter().map(|f| engine.decide(request, *f)).collect();
    if *got != *want {
        return Err(format!("decide_many {got:?}, one at a time {want:?}"));
    }
    let questions: Vec<(LimitId, Usage)> = (0..=limits).map(|l| (engine.id_at(l), usage)).collect();
    let mut quotas = vec![Quota::default(); questions.len()];
    let got = engine.check_limit_many(request, &questions, &mut quotas).map_err(|e| e.to_string())?;
    let want: Vec<Quota> = questions.iter().map(|(l, u)| engine.check_limit(request, *l, *u)).collect();
    if *got != *want {
        return Err(format!("check_limit_many {got:?}, one at a time {want:?}"));
    }
    // A prepared request answers every limit as the single call does, and a refused one is
    // refused for the reason the single call denies every limit with.
    match engine.prepare(request) {
        Ok(prepared) => {
            let got: Vec<Quota> =
                questions.iter().map(|(l, u)| engine.check_limit_prepared(&prepared, *l, *u)).collect();
            if got != want {
                return Err(format!("check_limit_prepared {got:?}, check_limit {want:?}"));
            }
        }
        Err(reason) => {
            if want.iter().any(|q| q.allowed || q.reason != reason) {
                return Err(format!("prepare refused with {reason:?}, check_limit answered {want:?}"));
            }
        }
    }
    if engine.decide_many(request, &feature_ids, decisions.get_mut(..features).unwrap_or_default()).is_ok() {
        return Err("decide_many wrote past a buffer shorter than its questions".to_string());
    }
    Ok(())
}

/// Parses `text` twice, with the hand-written reader in front of pest (as `check` does) and
/// with pest alone, and describes the first difference in the syntax tree or the diagnostics.
/// On agreement, says how many declarations parse and how many of them the hand-written reader
/// reads by itself to the same tree, so that a caller can tell that it was put to work and not
/// just declined.
pub fn compare_parsers(text: &str) -> Result<ParserAgreement, String> {
    use crate::syntax::{parse_with, Readers};
    let source = Source::new("fuzz.policy", text);
    let limits = crate::Limits::default();
    let (file, diagnostics, whole) = parse_with(&source, &limits, Readers::DescentThenPest);
    let (pest_file, pest_diagnostics, pest_whole) = parse_with(&source, &limits, Readers::PestOnly);
    if let Some((ours, theirs)) = file.decls.iter().zip(&pest_file.decls).find(|(ours, theirs)| ours != theirs) {
        return Err(format!("declarations differ:\n  both readers: {ours:?}\n  pest alone:   {theirs:?}"));
    }
    let counts = (file.decls.len(), pest_file.decls.len());
    if counts.0 != counts.1 {
        return Err(format!("{} declarations with both readers, {} with pest alone", counts.0, counts.1));
    }
    if (&file.comments, &file.cut_short, whole) != (&pest_file.comments, &pest_file.cut_short, pest_whole) {
        return Err("comments, cut-short heads or completeness differ".to_string());
    }
    if diagnostics != pest_diagnostics {
        return Err(format!(
            "diagnostics differ:\n  both readers: {diagnostics:?}\n  pest alone:   {pest_diagnostics:?}"
        ));
    }
    let read_alone = pest_file
        .decls
        .iter()
        .filter(|decl| {
            let span = decl.span();
            let read = crate::syntax::descent::declaration(text, span.start, text.len());
            read.is_some_and(|(ours, end)| &ours == *decl && end == span.end)
        })
        .count();
    Ok(ParserAgreement { declarations: pest_file.decls.len(), read_alone })
}

/// What [`compare_parsers`] found when the two parses agree.
#[derive(Clone, Copy, Debug)]
pub struct ParserAgreement {
    /// The declarations that parse.
    pub declarations: usize,
    /// Those of them that the hand-written reader reads without pest.
    pub read_alone: usize,
}

/// Checks that formatting `text` keeps what it must: `Ok` when the text does not parse (there
/// is nothing to format) or when the formatted text formats to itself, keeps every comment in
/// order, checks exactly as the original does (the same codes, in order), and, when it
/// checks, compiles to the same tables and names.
pub fn check_format_roundtrip(text: &str) -> Result<(), String> {
    let source = Source::new("original.policy", text);
    let Ok(formatted) = crate::format(&source) else { return Ok(()) };
    let again = Source::new("formatted.policy", formatted.as_str());
    let twice = crate::format(&again).map_err(|d| format!("the formatted text does not parse: {d:?}\n{formatted}"))?;
    if twice != formatted {
        return Err(format!("formatting is not idempotent:\n--- once\n{formatted}\n--- twice\n{twice}"));
    }
    let limits = crate::Limits::default();
    let comments = |s: &Source| -> Vec<String> {
        crate::syntax::parse(s, &limits).0.comments.iter().map(|c| c.text.trim_end().to_string()).collect()
    };
    if comments(&source) != comments(&again) {
        return Err(format!("comments changed:\n{formatted}"));
    }
    let codes = |s: &Source| match crate::check(s) {
        Ok(checked) => (true, checked.warnings().iter().map(|d| d.code).collect::<Vec<_>>()),
        Err(diagnostics) => (false, diagnostics.iter().map(|d| d.code).collect()),
    };
    if codes(&source) != codes(&again) {
        return Err(format!("checking changed: {:?} became {:?}\n{formatted}", codes(&source), codes(&again)));
    }
    if let (Ok(before), Ok(after)) = (crate::check(&source), crate::check(&again)) {
        let (before, after) = (crate::compile(&before), crate::compile(&after));
        let tables = |e: &crate::Engine| format!("{:?}", e.tables());
        let names = |e: &crate::Engine| {
            let tiers: Vec<String> = e.tiers().map(|(_, n)| n.to_string()).collect();
            let features: Vec<String> = e.features().map(|(_, n)| n.to_string()).collect();
            let limits: Vec<String> = e.limits().map(|(_, n)| n.to_string()).collect();
            let addons: Vec<String> = e.addons().map(|(_, n)| n.to_string()).collect();
            let settings: Vec<String> = e.settings().map(|(_, n)| n.to_string()).collect();
            (tiers, features, limits, addons, settings, e.policy_name().to_string())
        };
        if tables(&before) != tables(&after) || names(&before) != names(&after) {
            return Err(format!("the formatted policy compiles to different tables:\n{formatted}"));
        }
    }
    Ok(())
}

/// Loads `bytes` as a bundle as given, then again with its length and checksum rewritten to fit
/// (so that a fuzzer's mutations reach the decoder behind them). Neither may panic; an engine
/// that loads must answer every question it is asked without panicking, with `is_allowed`
/// agreeing with `decide`, and every name it lists must resolve to its own id.
pub fn check_bundle(bytes: &[u8]) -> Result<(), String> {
    let _ = crate::Engine::from_bundle(bytes);
    let mut resealed = bytes.to_vec();
    crate::bundle::reseal(&mut resealed);
    let Ok(engine) = crate::Engine::from_bundle(&resealed) else { return Ok(()) };
    // Bounded work per input: the first 64 of each kind, and one id past the end.
    let ids = |count: usize| 0..count.min(64) + 1;
    let held: Vec<AddonId> =
        ids(engine.addons().len()).take(crate::Limits::MAX_HELD_ADDONS).map(|a| engine.id_at(a)).collect();
    for tier in ids(engine.tiers().len()).map(|t| engine.id_at::<TierId>(t)) {
        for now in [i64::MIN, 0, 1_795_255_200, i64::MAX] {
            for addons in [&[][..], &held[..]] {
                let request = Request::new(tier, now).with_key("fuzz").with_addons(addons);
                for feature in ids(engine.features().len()).map(|f| engine.id_at::<FeatureId>(f)) {
                    if engine.is_allowed(&request, feature) != engine.decide(&request, feature).allowed {
                        return Err(format!("is_allowed and decide disagree on {tier:?} {feature:?} at {now}"));
                    }
                }
                for limit in ids(engine.limits().len()).map(|l| engine.id_at::<LimitId>(l)) {
                    let _ = engine.check_limit(&request, limit, Usage { used: u64::MAX / 2, requested: 7 });
                }
                for setting in ids(engine.settings().len()).map(|s| engine.id_at::<SettingId>(s)) {
                    let _ = engine.setting_value(&request, setting);
                }
            }
        }
    }
    resolves_each("tier", engine.tiers(), |n| engine.tier(n), |id| engine.tier_name(id))?;
    resolves_each("feature", engine.features(), |n| engine.feature(n), |id| engine.feature_name(id))?;
    resolves_each("limit", engine.limits(), |n| engine.limit(n), |id| engine.limit_name(id))
}

/// Whether every listed name finds an id whose name is that name again (a policy that lists a
/// name twice is still right to find either).
fn resolves_each<'e, Id: Copy>(
    kind: &str,
    listed: impl Iterator<Item = (Id, &'e str)>,
    find: impl Fn(&str) -> Option<Id>,
    name_of: impl Fn(Id) -> Option<&'e str>,
) -> Result<(), String> {
    for (_, name) in listed {
        if find(name).is_none_or(|id| name_of(id) != Some(name)) {
            return Err(format!("{kind} `{name}` does not resolve"));
        }
    }
    Ok(())
}

/// How many steps the passes over untrusted sizes took while `f` ran on this thread (see
/// `src/work.rs`): a deterministic measure of their growth, for tests that must not read a
/// clock.
pub fn steps_in<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let before = crate::work::steps();
    let result = f();
    (crate::work::steps().saturating_sub(before), result)
}
