//! Compiling: a [`Checked`] policy in, its compiled [`Parts`] out.
//!
//! The checker has already flattened inheritance; this stage fills the [`Tables`] from each tier's flattened entitlements, so that no query walks an
//! inheritance chain: each tier gets a feature bitset, a row of limit entries and a row of
//! settings; each add-on gets the set of tiers it attaches to (descendants included), a feature
//! bitset and a row of limit deltas.

use crate::check::Checked;
use crate::ids::dense;
use crate::model::{Access, AddonOp};
use crate::parts::Parts;
use crate::tables::{raw, AddonMeta, ADD, ADD_PER_SEAT, AT_LEAST, AT_LEAST_PER_SEAT};
use crate::tables::{Counts, DrawRecord, GrantBits, LimitRecord, Tables};

/// Lays out the decision tables for a checked policy.
///
/// Compilation cannot fail: the checker has already proved everything it relies on. The
/// engine module turns the parts into an `Engine` (`entitle::compile`); a test holds every
/// compiled policy to the same validation a bundle's parts pass.
pub(crate) fn parts(checked: &Checked) -> Parts {
    let model = checked.model();
    let counts = Counts::of(model);
    let mut tables = Tables::new(
        counts,
        model.limits.iter().map(|l| l.kind).collect(),
        model.settings.iter().map(|s| s.prefer).collect(),
    );

    let mut thresholds = Vec::new();
    let mut limit_rows = Vec::new();
    for (tier, effective) in checked.flattened().iter().enumerate() {
        for (feature, access) in effective.features.iter().enumerate() {
            let bits = GrantBits { granted: *access == Access::Granted, rollout: matches!(access, Access::Rollout(_)) };
            tables.set_grant(tier, feature, bits, *access == Access::Revoked);
            if let Access::Rollout(share) = access {
                thresholds.push((dense(tier), dense(feature), share.millionths()));
            }
        }
        for (limit, set) in effective.limits.iter().enumerate() {
            if let Some(set) = set {
                let counter = tables.limit_counter(limit);
                limit_rows.push((tier, limit, LimitRecord::new(set.value, set.soft, set.warn, set.per_seat, counter)));
            }
        }
        for (setting, value) in effective.settings.iter().enumerate() {
            if let Some(value) = value {
                tables.set_setting(tier, setting, value.clone());
            }
        }
    }
    tables.set_limits(limit_rows);
    tables.set_draws(model.limits.iter().enumerate().filter_map(|(limit, def)| {
        let rate = def.draws?;
        Some((limit, DrawRecord { pool: dense(rate.pool), credits: rate.credits, per: rate.per }))
    }));
    tables.set_rollouts(model.features.iter().map(|f| crate::rollout::seed(&f.name)).collect(), thresholds);

    let parents_first = model.tiers_parents_first();
    for (index, addon) in model.addons.iter().enumerate() {
        for (tier, attached) in model.attached(addon, &parents_first).into_iter().enumerate() {
            if attached {
                tables.attach_addon(index, tier);
            }
        }
        if addon.grant_all.is_some() {
            (0..counts.features).for_each(|feature| tables.addon_grants_feature(index, feature));
        }
        for &(feature, _) in &addon.grants {
            tables.addon_grants_feature(index, feature);
        }
        for change in &addon.limits {
            if let Some(delta) = tables.addon_delta_mut(index, change.limit) {
                let seat = |flag| if change.per_seat { flag } else { 0 };
                match change.op {
                    AddonOp::Add => {
                        delta.add = raw(change.value);
                        delta.flags |= ADD | seat(ADD_PER_SEAT);
                    }
                    AddonOp::AtLeast => {
                        delta.at_least = raw(change.value);
                        delta.flags |= AT_LEAST | seat(AT_LEAST_PER_SEAT);
                    }
                }
            }
        }
        tables.set_addon_meta(
            index,
            AddonMeta {
                from: addon.valid_from.unwrap_or(i64::MIN),
                until: addon.valid_until.unwrap_or(i64::MAX),
                max_quantity: raw(addon.max_quantity),
                trial: AddonMeta::trial_code(addon.trial),
            },
        );
        tables.set_addon_settings(index, addon.sets.iter().map(|s| (s.setting, s.value.clone())).collect());
    }

    Parts::compiled(model.clone(), tables, checked.policy_hash())
}
