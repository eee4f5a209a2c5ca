//! Compiling: a [`Checked`] policy in, an [`Engine`] out.
//!
//! Inheritance is flattened here, once, so that no query ever walks a chain: each tier gets a
//! feature bitset, a row of limit entries and a row of settings; each add-on gets the set of
//! tiers it attaches to (descendants included), a feature bitset and a row of limit deltas.

use std::collections::HashMap;

use crate::check::Checked;
use crate::engine::{AddonDelta, Engine, LimitEntry, NameIndex, GRANTED, ROLLOUT};
use crate::model::{Access, AddonOp, Amount, Model};

/// Builds the decision tables for a checked policy.
///
/// Compilation cannot fail: the checker has already proved everything it relies on.
///
/// ```
/// let source = entitle::Source::new("p", "policy \"p\"\nfeature sso\ntier free { grant sso }\n");
/// let engine = entitle::compile(&entitle::check(&source)?);
/// assert!(engine.tier("free").is_some());
/// assert!(engine.tier("gold").is_none());
/// # Ok::<(), entitle::Diagnostics>(())
/// ```
pub fn compile(checked: &Checked) -> Engine {
    let model = checked.model();
    let flat = checked.flattened();
    let tiers = model.tiers.len();
    let features = model.features.len();
    let limits = model.limits.len();
    let settings = model.settings.len();
    let addons = model.addons.len();
    let feature_words = features.div_ceil(64).max(1);
    let tier_words = tiers.div_ceil(64).max(1);

    let mut grants = vec![[0u64; 2]; tiers * feature_words];
    let mut revoked = vec![0u64; tiers * feature_words];
    let mut rollout_thresholds = Vec::new();
    // Entry 0 is "not set": a hard limit of 0, so a tier without a limit denies (fails closed).
    let not_set = LimitEntry { value: Amount::Finite(0), soft: None, warn: None };
    let mut limit_entries = vec![not_set];
    let mut entry_ids: HashMap<LimitEntry, u32> = HashMap::from([(not_set, 0)]);
    let mut limit_rows = vec![0u32; tiers * limits];
    let mut tier_settings = vec![None; tiers * settings];

    for (tier, effective) in flat.iter().enumerate() {
        for (feature, access) in effective.features.iter().enumerate() {
            let (word, bit) = (tier * feature_words + feature / 64, 1u64 << (feature % 64));
            match access {
                Access::Granted => grants[word][GRANTED] |= bit,
                Access::Rollout(share) => {
                    grants[word][ROLLOUT] |= bit;
                    rollout_thresholds.push((tier as u32, feature as u32, share.0));
                }
                Access::Revoked => revoked[word] |= bit,
                Access::NotGranted => {}
            }
        }
        for (limit, entry) in effective.limits.iter().enumerate() {
            let Some(set) = entry else { continue };
            let entry = LimitEntry { value: set.value, soft: set.soft, warn: set.warn.map(|w| w.0) };
            let next = limit_entries.len() as u32;
            let id = *entry_ids.entry(entry).or_insert_with(|| {
                limit_entries.push(entry);
                next
            });
            limit_rows[tier * limits + limit] = id;
        }
        for (setting, value) in effective.settings.iter().enumerate() {
            tier_settings[tier * settings + setting] = value.clone();
        }
    }
    rollout_thresholds.sort_unstable();

    let mut addon_tiers = vec![0u64; addons * tier_words];
    let mut addon_features = vec![0u64; addons * feature_words];
    let mut addon_deltas = vec![AddonDelta::default(); addons * limits];
    let mut addon_valid = Vec::with_capacity(addons);
    let mut addon_settings = Vec::with_capacity(addons);
    for (index, addon) in model.addons.iter().enumerate() {
        for tier in 0..tiers {
            if attaches(model, &addon.for_tiers, tier) {
                addon_tiers[index * tier_words + tier / 64] |= 1 << (tier % 64);
            }
        }
        let row = &mut addon_features[index * feature_words..(index + 1) * feature_words];
        if addon.grant_all.is_some() {
            for feature in 0..features {
                row[feature / 64] |= 1 << (feature % 64);
            }
        }
        for &(feature, _) in &addon.grants {
            row[feature / 64] |= 1 << (feature % 64);
        }
        for change in &addon.limits {
            let delta = &mut addon_deltas[index * limits + change.limit];
            match change.op {
                AddonOp::Add => delta.add = Some(change.value),
                AddonOp::AtLeast => delta.at_least = Some(change.value),
            }
        }
        addon_valid.push((addon.valid_from.unwrap_or(i64::MIN), addon.valid_until.unwrap_or(i64::MAX)));
        addon_settings.push(addon.sets.iter().map(|s| (s.setting as u32, s.value.clone())).collect());
    }

    let index = |names: Vec<&str>| -> NameIndex {
        names.into_iter().enumerate().map(|(i, name)| (Box::from(name), i as u32)).collect()
    };
    Engine {
        tier_index: index(model.tiers.iter().map(|t| t.name.as_str()).collect()),
        feature_index: index(model.features.iter().map(|f| f.name.as_str()).collect()),
        limit_index: index(model.limits.iter().map(|l| l.name.as_str()).collect()),
        addon_index: index(model.addons.iter().map(|a| a.name.as_str()).collect()),
        setting_index: index(model.settings.iter().map(|s| s.name.as_str()).collect()),
        feature_words,
        grants,
        revoked,
        rollout_thresholds,
        rollout_seeds: model.features.iter().map(|f| crate::rollout::seed(&f.name)).collect(),
        limit_count: limits,
        limit_kinds: model.limits.iter().map(|l| l.kind).collect(),
        limit_rows,
        limit_entries,
        tier_words,
        addon_tiers,
        addon_features,
        addon_deltas,
        addon_valid,
        addon_settings,
        setting_count: settings,
        settings: tier_settings,
        setting_prefs: model.settings.iter().map(|s| s.prefer).collect(),
        model: model.clone(),
    }
}

/// Whether an add-on listed `for` some tiers attaches to `tier`: it is one of them or
/// descends from one of them.
fn attaches(model: &Model, for_tiers: &[usize], tier: usize) -> bool {
    let mut current = Some(tier);
    while let Some(t) = current {
        if for_tiers.contains(&t) {
            return true;
        }
        current = model.tiers[t].parent;
    }
    false
}
