//! Warnings: legal policies that probably do not say what their authors meant.
//!
//! These run on the model of a policy with no errors, after inheritance is flattened, so every
//! comparison sees what a tier really gives.

// Lints run only on a policy without errors, so every index below is a tier, feature, limit
// or setting index that the checker resolved, and each flattened row has one entry per item.
#![expect(clippy::indexing_slicing, reason = "indices of a checked model are in range")]

use super::errors::Lint;
use crate::diagnostic::Diagnostic;
use crate::model::*;
use crate::source::Span;
use crate::units::{format_amount, format_count, QuantityType};

/// Where the checker found what the model does not keep a span for.
pub(super) struct Spans<'a> {
    /// For each ladder, the span of each tier name in it.
    pub(super) ladders: &'a [Vec<Span>],
    /// For each add-on, its `max` item, if it has one.
    pub(super) maximums: &'a [Option<Span>],
}

pub(super) fn run(model: &Model, flat: &[Effective], spans: &Spans<'_>, out: &mut Vec<Diagnostic>) {
    redundancy(model, flat, out);
    unused(model, out);
    thresholds(model, out);
    let parents_first = model.tiers_parents_first();
    let attached: Vec<Vec<bool>> = model.addons.iter().map(|a| model.attached(a, &parents_first)).collect();
    ladders(model, flat, &attached, spans.ladders, out);
    addons_without_effect(model, flat, &attached, spans.maximums, out);
    quantities(model, spans.maximums, out);
}

/// An amount of a limit as a function of the seat count `n ≥ 1`: `amount`, or `amount × n`.
/// The ladder warnings compare tiers by these, since a per-seat value is neither above nor
/// below a flat one but crosses it at some seat count.
#[derive(Clone, Copy)]
struct BySeats {
    amount: Amount,
    per_seat: bool,
}

impl BySeats {
    /// A tier's value for a limit; an unset limit is a flat 0.
    fn value(entry: Option<&TierLimit>) -> BySeats {
        entry.map_or(BySeats { amount: Amount::Finite(0), per_seat: false }, |e| BySeats {
            amount: e.value,
            per_seat: e.per_seat,
        })
    }

    /// The most usage a tier's entry lets through. A soft cap is per seat when its limit is
    /// (E021); `soft` alone lets everything through, at any seat count.
    fn ceiling(entry: Option<&TierLimit>) -> BySeats {
        let amount = ceiling(entry);
        BySeats { amount, per_seat: entry.is_some_and(|e| e.per_seat) && amount != Amount::Unlimited }
    }

    /// How the amount reads in a message: `` `1_000 per seat` ``.
    fn show(self, ty: QuantityType) -> String {
        format!("`{}{}`", format_amount(ty, self.amount), if self.per_seat { " per seat" } else { "" })
    }
}

/// Whether `above` is below `below` at some seat count `n ≥ 1`, and if so, at which seat
/// counts, as a phrase to end a message with: empty when it is at every count and both are
/// alike (flat, or both per seat), so that the message reads as it does without seats.
/// Per-seat amounts are finite (E020), so each case is decided without a search.
fn lowered(below: BySeats, above: BySeats) -> Option<String> {
    const EVERY: &str = " at every seat count";
    match (below, above) {
        (b, a) if b.per_seat == a.per_seat => (a.amount < b.amount).then(String::new),
        // Flat `a` against `b` per seat: `b·n < a` exactly for `n < ⌈a / b⌉`.
        (BySeats { amount: Amount::Unlimited, .. }, _) => Some(EVERY.to_string()),
        (BySeats { amount: Amount::Finite(a), .. }, BySeats { amount: Amount::Finite(b), per_seat: true }) => {
            if b >= a {
                None
            } else if b == 0 {
                Some(EVERY.to_string())
            } else {
                Some(format!(" below {} seats", format_count(a.div_ceil(b))))
            }
        }
        // `a` per seat against flat `b`: `a·n > b` exactly for `n > ⌊b / a⌋`.
        (BySeats { amount: Amount::Finite(a), .. }, BySeats { amount: Amount::Finite(b), .. }) if a > 0 => {
            match (b / a).checked_add(1) {
                Some(1) => Some(EVERY.to_string()),
                Some(n) => Some(format!(" from {} seats", format_count(n))),
                None => None,
            }
        }
        _ => None,
    }
}

/// W014: a maximum quantity above 1 on an add-on whose every item stays the same however
/// many are held: grants, `=` and `set` do not scale with the quantity, only `+=` does.
fn quantities(model: &Model, maximums: &[Option<Span>], out: &mut Vec<Diagnostic>) {
    for (addon, span) in model.addons.iter().zip(maximums) {
        let times = match addon.max_quantity {
            Amount::Finite(0 | 1) => continue,
            Amount::Finite(n) => format!("up to {} times", format_count(n)),
            Amount::Unlimited => "any number of times".to_string(),
        };
        if addon.limits.iter().any(|l| l.op == AddonOp::Add) {
            continue;
        }
        let lint = Lint::QuantityScalesNothing { addon: addon.name.clone(), times };
        out.push(lint.at(span.unwrap_or(addon.span)));
    }
}

/// The most usage a limit entry lets through: the soft cap if there is one, else the limit;
/// an unset limit lets nothing through.
fn ceiling(entry: Option<&TierLimit>) -> Amount {
    crate::model::ceiling(entry.map(|e| e.value), entry.and_then(|e| e.soft))
}

/// How a limit entry reads in a message: `` `100`, hard ``, `` `100`, soft to `150` ``,
/// `` `1_000 per seat`, soft to `1_200 per seat` ``, or "not set".
fn describe_entry(ty: crate::units::QuantityType, entry: Option<&TierLimit>) -> String {
    match entry {
        None => "not set".to_string(),
        Some(e) => {
            let seats = if e.per_seat { " per seat" } else { "" };
            let value = format_amount(ty, e.value);
            match e.soft {
                None => format!("`{value}{seats}`, hard"),
                Some(Amount::Unlimited) => format!("`{value}{seats}`, soft without a cap"),
                Some(cap) => format!("`{value}{seats}`, soft to `{}{seats}`", format_amount(ty, cap)),
            }
        }
    }
}

/// W013: add-on items that change nothing for any tier the add-on attaches to. An add-on
/// that attaches to no tier is left alone: the attachment, not the item, is what is wrong.
fn addons_without_effect(
    model: &Model,
    flat: &[Effective],
    attached: &[Vec<bool>],
    maximums: &[Option<Span>],
    out: &mut Vec<Diagnostic>,
) {
    for ((addon, tiers), max) in model.addons.iter().zip(attached).zip(maximums) {
        let rows: Vec<&Effective> = flat.iter().zip(tiers).filter(|(_, &on)| on).map(|(row, _)| row).collect();
        if rows.is_empty() {
            continue;
        }
        let mut report = |what: String, why: String, span: Span| {
            out.push(Lint::AddonNoEffect { what, addon: addon.name.clone(), why }.at(span));
        };
        for &(feature, span) in &addon.grants {
            if rows.iter().all(|row| row.features[feature] == Access::Granted) {
                let what = format!("grant of `{}`", model.features[feature].name);
                report(what, "every tier it attaches to already grants it".into(), span);
            }
        }
        if let (Some(span), Amount::Finite(1)) = (max, addon.max_quantity) {
            report("`max 1`".into(), "1 is the default maximum".into(), *span);
        }
        for change in &addon.limits {
            let def = &model.limits[change.limit];
            let what = format!(
                "`limit {} {} {}{}`",
                def.name,
                if change.op == AddonOp::Add { "+=" } else { "=" },
                format_amount(def.ty, change.value),
                if change.per_seat { " per seat" } else { "" }
            );
            // The add-on's floor, as a function of the seat count like a tier's value.
            let floor = BySeats { amount: change.value, per_seat: change.per_seat };
            let covers = |e: &TierLimit| lowered(floor, BySeats::value(Some(e))).is_none();
            match change.op {
                AddonOp::Add if change.value == Amount::Finite(0) => {
                    report(what, "adding zero leaves the limit as it is".into(), change.span);
                }
                AddonOp::AtLeast if rows.iter().all(|row| row.limits[change.limit].as_ref().is_some_and(covers)) => {
                    let why = "every tier it attaches to already has at least that much".into();
                    report(what, why, change.span);
                }
                _ => {}
            }
        }
        for set in &addon.sets {
            let def = &model.settings[set.setting];
            let no_effect = |current: &Option<SettingValue>| match (current, def.prefer) {
                (Some(current), Some(prefer)) => !set.value.better_than(current, prefer),
                (Some(current), None) => *current == set.value,
                (None, _) => false,
            };
            if rows.iter().all(|row| no_effect(&row.settings[set.setting])) {
                let what = format!("`set {} = {}`", def.name, set.value);
                let why = "every tier it attaches to already has that value or a better one".into();
                report(what, why, set.span);
            }
        }
    }
}

/// The note that ends a list of warnings cut at `max`.
pub(super) fn too_many(hidden: usize, max: usize, span: Span) -> Diagnostic {
    Lint::TooManyWarnings { hidden, max }.at(span)
}

fn describe_access(access: Access) -> String {
    match access {
        Access::Granted => "granted".into(),
        Access::Rollout(p) => format!("granted to {p} of subjects"),
        Access::NotGranted => "not granted".into(),
        Access::Revoked => "revoked".into(),
    }
}

/// W004 and W005: items that repeat or undo nothing.
fn redundancy(model: &Model, flat: &[Effective], out: &mut Vec<Diagnostic>) {
    for tier in &model.tiers {
        let parent = tier.parent.map(|p| (&model.tiers[p].name, &flat[p]));
        for &(feature, span) in &tier.revokes {
            let inherited = parent.map_or(Access::NotGranted, |(_, e)| e.features[feature]);
            let given = matches!(inherited, Access::Granted | Access::Rollout(_));
            if !given && tier.grant_all.is_none() {
                let giver = match parent {
                    Some((name, _)) => format!("`{name}`"),
                    None => "any parent (it extends no tier)".to_string(),
                };
                let lint = Lint::RevokeNotGranted {
                    feature: model.features[feature].name.clone(),
                    tier: tier.name.clone(),
                    giver,
                };
                out.push(lint.at(span));
            }
        }
        let Some((parent_name, inherited)) = parent else {
            continue;
        };
        for grant in &tier.grants {
            let access = grant.rollout.map_or(Access::Granted, Access::Rollout);
            if inherited.features[grant.feature] == access {
                let what = format!("grant of `{}`", model.features[grant.feature].name);
                out.push(Lint::Redundant { what, parent: parent_name.clone() }.at(grant.span));
            }
        }
        for limit in &tier.limits {
            let same = inherited.limits[limit.limit].is_some_and(|entry| {
                (entry.value, entry.soft, entry.warn, entry.per_seat)
                    == (limit.value, limit.soft, limit.warn, limit.per_seat)
            });
            if same {
                let def = &model.limits[limit.limit];
                let seats = if limit.per_seat { " per seat" } else { "" };
                let what = format!("limit `{} = {}{seats}`", def.name, format_amount(def.ty, limit.value));
                out.push(Lint::Redundant { what, parent: parent_name.clone() }.at(limit.span));
            }
        }
        for set in &tier.sets {
            if inherited.settings[set.setting].as_ref().is_some_and(|value| *value == set.value) {
                let what = format!("setting `{} = {}`", model.settings[set.setting].name, set.value);
                out.push(Lint::Redundant { what, parent: parent_name.clone() }.at(set.span));
            }
        }
    }
}

/// W006 and W007: declarations nothing uses (a pool's drawing limits aside). One pass over every grant and limit item marks
/// what is used, so the cost is linear in the policy.
fn unused(model: &Model, out: &mut Vec<Diagnostic>) {
    let grant_all =
        model.tiers.iter().any(|t| t.grant_all.is_some()) || model.addons.iter().any(|a| a.grant_all.is_some());
    let mut granted = vec![grant_all; model.features.len()];
    let tier_grants = model.tiers.iter().flat_map(|t| t.grants.iter().map(|g| g.feature));
    for feature in tier_grants.chain(model.addons.iter().flat_map(|a| a.grants.iter().map(|&(f, _)| f))) {
        granted[feature] = true;
    }
    let mut set = vec![false; model.limits.len()];
    let tier_limits = model.tiers.iter().flat_map(|t| t.limits.iter().map(|l| l.limit));
    for limit in tier_limits.chain(model.addons.iter().flat_map(|a| a.limits.iter().map(|l| l.limit))) {
        set[limit] = true;
    }
    for (feature, used) in model.features.iter().zip(granted) {
        if !used {
            out.push(Lint::UnusedFeature { name: feature.name.clone() }.at(feature.span));
        }
    }
    // A limit that draws on a pool is never set itself: it is as used as its pool is.
    for (limit, used) in model.limits.iter().zip(set) {
        if !used && limit.draws.is_none() {
            out.push(Lint::UnusedLimit { name: limit.name.clone() }.at(limit.span));
        }
    }
}

/// W008 and W009: warn thresholds that show only at the limit, and soft caps and thresholds
/// on unlimited limits.
fn thresholds(model: &Model, out: &mut Vec<Diagnostic>) {
    for tier in &model.tiers {
        for limit in &tier.limits {
            let def = &model.limits[limit.limit];
            match limit.value {
                Amount::Unlimited => {
                    for (present, what) in [(limit.soft.is_some(), "soft"), (limit.warn.is_some(), "warn at")] {
                        if present {
                            let lint =
                                Lint::NoEffectOnUnlimited { what, limit: def.name.clone(), tier: tier.name.clone() };
                            out.push(lint.at(limit.span));
                        }
                    }
                }
                Amount::Finite(value) => {
                    // Usage past the limit is overage or exceeded, never a warning, so a
                    // threshold at the limit warns only at that one point. A limit of 0 has
                    // no usage to warn about before it either way.
                    if let Some(warn) = limit.warn.filter(|w| value > 0 && w.of(value) >= value) {
                        let lint = Lint::WarnAtLimit {
                            limit: def.name.clone(),
                            tier: tier.name.clone(),
                            warn: warn.to_string(),
                        };
                        out.push(lint.at(limit.span));
                    }
                }
            }
        }
    }
}

/// W001–W003: each step up a ladder keeps every feature, limit and setting at least as good.
/// W011 and W012: nor does it deny usage the step below allows, or lose one of its add-ons.
fn ladders(
    model: &Model,
    flat: &[Effective],
    attached: &[Vec<bool>],
    ladder_spans: &[Vec<Span>],
    out: &mut Vec<Diagnostic>,
) {
    for (ladder, spans) in model.ladders.iter().zip(ladder_spans) {
        for (step, pair) in ladder.windows(2).enumerate() {
            let (lower, higher) = (pair[0], pair[1]);
            let span = spans[step + 1];
            let (lower_name, higher_name) = (&model.tiers[lower].name, &model.tiers[higher].name);
            let label = |d: Diagnostic| {
                d.with_label(model.tiers[higher].name_span, format!("`{higher_name}` is declared here"))
            };
            for (index, feature) in model.features.iter().enumerate() {
                let (below, above) = (flat[lower].features[index], flat[higher].features[index]);
                if above.share() < below.share() {
                    let lint = Lint::LadderLosesFeature {
                        lower: lower_name.clone(),
                        higher: higher_name.clone(),
                        feature: feature.name.clone(),
                        lower_access: describe_access(below),
                        higher_access: describe_access(above),
                    };
                    out.push(label(lint.at(span)));
                }
            }
            for (index, limit) in model.limits.iter().enumerate() {
                let (below, above) = (flat[lower].limits[index].as_ref(), flat[higher].limits[index].as_ref());
                // An unset limit is 0 for the tier that lacks it; see docs/language.md.
                if let Some(seats) = lowered(BySeats::value(below), BySeats::value(above)) {
                    let show = |entry: Option<&TierLimit>| {
                        entry.map_or("not set".to_string(), |e| BySeats::value(Some(e)).show(limit.ty))
                    };
                    let lint = Lint::LadderLowersLimit {
                        lower: lower_name.clone(),
                        higher: higher_name.clone(),
                        limit: limit.name.clone(),
                        lower_value: show(below),
                        higher_value: show(above),
                        seats,
                    };
                    out.push(label(lint.at(span)));
                } else if let Some(seats) = lowered(BySeats::ceiling(below), BySeats::ceiling(above)) {
                    // The included amount did not drop, but the most usage let through did.
                    let lint = Lint::LadderHardensLimit {
                        lower: lower_name.clone(),
                        higher: higher_name.clone(),
                        limit: limit.name.clone(),
                        lower_ceiling: describe_entry(limit.ty, below),
                        higher_ceiling: describe_entry(limit.ty, above),
                        seats,
                    };
                    out.push(label(lint.at(span)));
                }
            }
            // A trial is an introduction to the tier below, not something the tier above loses.
            for (addon, tiers) in model.addons.iter().zip(attached) {
                if tiers[lower] && !tiers[higher] && addon.trial.is_none() {
                    let lint = Lint::LadderLosesAddon {
                        lower: lower_name.clone(),
                        higher: higher_name.clone(),
                        addon: addon.name.clone(),
                    };
                    out.push(label(lint.at(span)));
                }
            }
            for (index, setting) in model.settings.iter().enumerate() {
                let value = |tier: usize| flat[tier].settings[index].as_ref();
                let weaker = match (value(lower), value(higher), setting.prefer) {
                    (Some(below), Some(above), Some(prefer)) => below.better_than(above, prefer),
                    (Some(_), None, _) => true,
                    _ => false,
                };
                if weaker {
                    let show = |v: Option<&SettingValue>| v.map_or("not set".to_string(), |v| format!("`{v}`"));
                    let lint = Lint::LadderWeakensSetting {
                        lower: lower_name.clone(),
                        higher: higher_name.clone(),
                        setting: setting.name.clone(),
                        lower_value: show(value(lower)),
                        higher_value: show(value(higher)),
                    };
                    out.push(label(lint.at(span)));
                }
            }
        }
    }
}
