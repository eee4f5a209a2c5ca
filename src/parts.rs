//! The one door into an engine: compiled parts as plain data, and the validation they pass.
//!
//! [`crate::compile`] lays out [`Parts`] from a checked policy; a bundle decodes them from
//! bytes. Either way an `Engine` is built from parts that meet what the query path relies on:
//! every index in range, inheritance acyclic and no deeper than the caller's
//! [`Limits::inheritance_depth`], every table the length its counts give, and the sizes
//! within the caller's other limits. [`Parts::validate`] proves that in time linear in the
//! parts' size, so bytes from a file cost no more to admit than to read.

use crate::digest::PolicyHash;
use crate::limits::Limits;
use crate::model::{depths, Model};
use crate::tables::{Counts, RawTables, Tables};

/// A compiled policy before it is an engine: the checked model (names, spans, the rules
/// explanations cite) and the decision tables.
///
/// The fields are private: parts are made only by [`Parts::compiled`] (from a checked policy)
/// and by [`Parts::validate`] (from decoded ones), so holding `Parts` means holding what the
/// query path may rely on.
#[derive(Debug)]
pub(crate) struct Parts {
    model: Model,
    tables: Tables,
    /// The seed of each name table, in the order the engine builds them (tiers, features,
    /// limits, add-ons, settings), when the parts record them (a bundle); `None` finds new
    /// seeds.
    seeds: Option<Seeds>,
    hash: PolicyHash,
}

/// The seed of each of an engine's five name tables.
pub(crate) type Seeds = [(u64, bool); 5];

/// Why decoded parts cannot become an engine.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidParts {
    /// A count, length or depth is past the caller's [`Limits`].
    #[error("the policy has {found} {what}, past the limit of {max}")]
    OverLimit {
        /// What was counted, in the plural (`declarations`, `levels of inheritance`).
        what: &'static str,
        /// What the parts hold.
        found: usize,
        /// The limit.
        max: usize,
    },
    /// The parts contradict themselves: an index out of range, a cycle, a table of the wrong
    /// length.
    #[error("{0}")]
    Inconsistent(&'static str),
}

impl Parts {
    /// The parts `compile` laid out from a checked policy, which the checker has already held
    /// to everything [`Parts::validate`] checks.
    pub(crate) fn compiled(model: Model, tables: Tables, hash: PolicyHash) -> Parts {
        Parts { model, tables, seeds: None, hash }
    }

    /// What the engine is made of: the model, the tables, the name seeds and the hash.
    pub(crate) fn into_inner(self) -> (Model, Tables, Option<Seeds>, PolicyHash) {
        (self.model, self.tables, self.seeds, self.hash)
    }

    /// Decoded parts from a model and raw tables, checked in linear time under `limits`.
    pub(crate) fn validate(
        model: Model,
        tables: RawTables,
        seeds: Seeds,
        hash: PolicyHash,
        limits: &Limits,
    ) -> Result<Parts, InvalidParts> {
        validate_model(&model, limits)?;
        let tables = Tables::from_raw(tables, Counts::of(&model)).map_err(InvalidParts::Inconsistent)?;
        agree(&model, &tables)?;
        Ok(Parts { model, tables, seeds: Some(seeds), hash })
    }
}

/// What the checker proves of seats, quantities and trials, held against the model and the
/// tables alike, and the two against each other: the views read the model while queries read
/// the tables, so a bundle whose two disagree (showing `max 20` and enforcing 1) is refused.
/// One pass over the add-ons and one over the limit rows.
fn agree(model: &Model, tables: &Tables) -> Result<(), InvalidParts> {
    use crate::model::{Amount, LimitKind, QuantityType, TrialLength};
    use crate::tables::{raw, AddonMeta, MAX_TRIAL_MONTHS};
    let bad = |what| Err(InvalidParts::Inconsistent(what));
    for (a, addon) in model.addons.iter().enumerate() {
        let trial_ok = match addon.trial {
            None => true,
            Some(TrialLength::Seconds(s)) => s > 0 && i64::try_from(s).is_ok(),
            Some(TrialLength::Months(m)) => m > 0 && m <= MAX_TRIAL_MONTHS,
        };
        if addon.max_quantity == Amount::Finite(0) || !trial_ok {
            return bad("an add-on has a maximum quantity of 0 or a trial the language does not allow");
        }
        let expected = AddonMeta {
            from: addon.valid_from.unwrap_or(i64::MIN),
            until: addon.valid_until.unwrap_or(i64::MAX),
            max_quantity: raw(addon.max_quantity),
            trial: AddonMeta::trial_code(addon.trial),
        };
        if *tables.addon_meta(a) != expected {
            return bad("an add-on's validity, maximum or trial differs between the model and the tables");
        }
    }
    // A duration cap or gauge is a length, never per seat (E020): one pass over the model's
    // items and one over the table cells.
    let length: Vec<bool> = model
        .limits
        .iter()
        .map(|l| l.ty == QuantityType::Duration && !matches!(l.kind, LimitKind::Counter(_) | LimitKind::Rolling(_)))
        .collect();
    let is_length = |l: usize| length.get(l).copied().unwrap_or(false);
    let items_per_seat = model.tiers.iter().flat_map(|t| &t.limits).any(|t| t.per_seat && is_length(t.limit))
        || model.addons.iter().flat_map(|a| &a.limits).any(|c| c.per_seat && is_length(c.limit));
    let lengths = || (0..model.limits.len()).filter(|&l| is_length(l));
    let records_per_seat = (0..model.tiers.len()).any(|t| lengths().any(|l| tables.limit_record(t, l).1.per_seat()));
    let deltas_per_seat = (0..model.addons.len())
        .any(|a| lengths().any(|l| tables.addon_delta(a, l).flags & crate::tables::ANY_PER_SEAT != 0));
    if items_per_seat || records_per_seat || deltas_per_seat {
        return bad("a duration cap or gauge is per seat");
    }
    // Pools: the tables hold the draws a query follows (and check their shape), the model
    // what views show; they must be the same draws, on `count` pools, set by no item. What
    // each limit measures must agree too: a drawing limit's window is its pool's, which the
    // tables check of their own kinds.
    for (l, def) in model.limits.iter().enumerate() {
        if tables.limit_kind(l) != Some(def.kind) {
            return bad("a limit's window, cap or gauge differs between the model and the tables");
        }
        let in_tables = tables.draw(l).map(|d| (d.pool as usize, d.credits, d.per));
        let in_model = def.draws.map(|d| (d.pool, d.credits, d.per));
        let pool_counts =
            def.draws.is_none_or(|d| model.limits.get(d.pool).is_some_and(|p| p.ty == QuantityType::Count));
        if in_tables != in_model || !pool_counts {
            return bad(
                "a limit's pool or rate differs between the model and the tables, or its pool counts no credits",
            );
        }
    }
    let drawing = |l: usize| model.limits.get(l).is_some_and(|def| def.draws.is_some());
    if model.tiers.iter().flat_map(|t| &t.limits).any(|t| drawing(t.limit))
        || model.addons.iter().flat_map(|a| &a.limits).any(|c| drawing(c.limit))
    {
        return bad("a tier or add-on sets a limit that draws on a pool");
    }
    Ok(())
}

/// What the checker proves of a model it builds, which the code that walks a model relies on,
/// and the caller's limits on its size: one pass over each list, and one over the tiers for
/// inheritance.
pub(crate) fn validate_model(model: &Model, limits: &Limits) -> Result<(), InvalidParts> {
    let over = |what, found: usize, max: usize| {
        if found > max {
            Err(InvalidParts::OverLimit { what, found, max })
        } else {
            Ok(())
        }
    };
    let declarations = [
        model.features.len(),
        model.limits.len(),
        model.settings.len(),
        model.tiers.len(),
        model.addons.len(),
        model.ladders.len(),
    ]
    .iter()
    .fold(0usize, |sum, n| sum.saturating_add(*n));
    over("declarations", declarations, limits.declarations())?;
    over("table cells", model.table_cells(), limits.table_cells)?;
    let longest = model
        .features
        .iter()
        .map(|f| f.name.len())
        .chain(model.limits.iter().map(|l| l.name.len()))
        .chain(model.settings.iter().map(|s| s.name.len()))
        .chain(model.tiers.iter().map(|t| t.name.len()))
        .chain(model.addons.iter().map(|a| a.name.len()))
        .max()
        .unwrap_or(0);
    over("bytes in its longest name", longest, limits.name_bytes)?;
    // Names are unique within their kind (the name tables would otherwise probe without end).
    fn unique<'a>(mut names: impl Iterator<Item = &'a str>) -> bool {
        let mut seen = std::collections::HashSet::new();
        names.all(|name| seen.insert(name))
    }
    if !unique(model.features.iter().map(|f| f.name.as_str()))
        || !unique(model.limits.iter().map(|l| l.name.as_str()))
        || !unique(model.settings.iter().map(|s| s.name.as_str()))
        || !unique(model.tiers.iter().map(|t| t.name.as_str()))
        || !unique(model.addons.iter().map(|a| a.name.as_str()))
    {
        return Err(InvalidParts::Inconsistent("two items of one kind have the same name"));
    }

    let (tiers, features, limit_count, settings) =
        (model.tiers.len(), model.features.len(), model.limits.len(), model.settings.len());
    let bad = |what| Err(InvalidParts::Inconsistent(what));
    for tier in &model.tiers {
        if tier.parent.is_some_and(|p| p >= tiers)
            || tier.grants.iter().any(|g| g.feature >= features)
            || tier.revokes.iter().any(|&(f, _)| f >= features)
            || tier.limits.iter().any(|l| l.limit >= limit_count)
            || tier.sets.iter().any(|s| s.setting >= settings)
        {
            return bad("a tier names an item the policy does not declare");
        }
    }
    over("levels of inheritance", inheritance_depth(model)?, limits.inheritance_depth)?;
    for addon in &model.addons {
        if addon.for_tiers.iter().any(|&t| t >= tiers)
            || addon.grants.iter().any(|&(f, _)| f >= features)
            || addon.limits.iter().any(|l| l.limit >= limit_count)
            || addon.sets.iter().any(|s| s.setting >= settings)
        {
            return bad("an add-on names an item the policy does not declare");
        }
    }
    if model.ladders.iter().flatten().any(|&t| t >= tiers) {
        return bad("a ladder names a tier the policy does not declare");
    }
    let mut laddered = vec![false; tiers];
    for &tier in model.ladders.iter().flatten() {
        if let Some(seen) = laddered.get_mut(tier) {
            if std::mem::replace(seen, true) {
                return bad("a tier is on a ladder twice");
            }
        }
    }
    Ok(())
}

/// The depth of the deepest inheritance chain (a root is depth 0), or an error for a cycle.
fn inheritance_depth(model: &Model) -> Result<usize, InvalidParts> {
    let depths = depths(model.tiers.len(), |t| model.tiers.get(t).and_then(|t| t.parent))
        .ok_or(InvalidParts::Inconsistent("tiers inherit from each other in a cycle"))?;
    Ok(depths.into_iter().max().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Amount, TierDef, TrialLength};

    /// Decoded parts whose model and tables disagree on seats, quantities or trials are
    /// refused: the views would show one thing and the queries enforce another.
    #[test]
    fn a_model_that_disagrees_with_its_tables_is_refused() {
        let text = "policy \"p\"\nlimit storage : bytes\nlimit keep : duration\ntier pro { limit storage = 1 GiB per seat  limit keep = 7 days }\naddon pack for pro { limit storage += 5 GiB  max 20  valid for 14 days }\n";
        let engine = crate::Engine::from_source("p", text).expect("checks");
        let parts = |model: Model| {
            let seeds = [(0u64, false); 5];
            Parts::validate(model, engine.tables().to_raw(), seeds, engine.policy_hash(), &Limits::default())
        };
        assert!(parts(engine.model().clone()).is_ok());
        let wrong = |change: &dyn Fn(&mut Model)| {
            let mut model = engine.model().clone();
            change(&mut model);
            parts(model).map(|_| ())
        };
        let refused = |result: Result<(), InvalidParts>| matches!(result, Err(InvalidParts::Inconsistent(_)));
        assert!(refused(wrong(&|m| m.addons[0].max_quantity = Amount::Finite(5))), "another maximum");
        assert!(refused(wrong(&|m| m.addons[0].max_quantity = Amount::Finite(0))), "a maximum of 0");
        assert!(refused(wrong(&|m| m.addons[0].trial = Some(TrialLength::Months(0)))), "an empty trial");
        assert!(refused(wrong(&|m| m.addons[0].trial = None)), "no trial");
        assert!(refused(wrong(&|m| m.tiers[0].limits[1].per_seat = true)), "a duration cap per seat");
    }

    #[test]
    fn pools_that_disagree_or_break_the_rules_are_refused() {
        use crate::tables::{DrawRecord, LimitRecord};
        let text = "policy \"p\"\nlimit credits : count per month\nlimit conns : count gauge\nlimit minutes : duration draws credits at 5 per minute\ntier pro { limit credits = 100\nlimit conns = 3 }\n";
        let engine = crate::Engine::from_source("p", text).expect("checks");
        let parts = |model: Model, raw: crate::tables::RawTables| {
            Parts::validate(model, raw, [(0u64, false); 5], engine.policy_hash(), &Limits::default()).map(|_| ())
        };
        assert!(parts(engine.model().clone(), engine.tables().to_raw()).is_ok());
        let tables = |change: &dyn Fn(&mut crate::tables::RawTables)| {
            let mut raw = engine.tables().to_raw();
            change(&mut raw);
            parts(engine.model().clone(), raw)
        };
        let draw = DrawRecord { pool: 0, credits: 5, per: 60 };
        assert!(tables(&|raw| raw.limit_draws[2].credits = 6).is_err(), "another rate than the model's");
        assert!(tables(&|raw| raw.limit_draws[2] = DrawRecord { credits: 0, ..draw }).is_err(), "a rate of 0");
        assert!(tables(&|raw| raw.limit_draws[2] = DrawRecord { pool: 2, ..draw }).is_err(), "drawing on itself");
        assert!(tables(&|raw| raw.limit_draws[2] = DrawRecord { pool: 1, ..draw }).is_err(), "a gauge pool");
        assert!(tables(&|raw| raw.limit_draws[2] = DrawRecord { pool: 9, ..draw }).is_err(), "a pool past the limits");
        assert!(tables(&|raw| raw.limit_draws[2] = DrawRecord::NONE).is_err(), "a drawing record without a draw");
        assert!(tables(&|raw| raw.limit_rows[2] = 0).is_err(), "a drawing limit's tier cell unset");
        let own = |raw: &mut crate::tables::RawTables| {
            let mut records = raw.limit_records.to_vec();
            records.push(LimitRecord::drawing(0));
            raw.limit_records = records.into();
            raw.limit_rows[1] = u32::try_from(raw.limit_records.len() - 1).unwrap();
        };
        assert!(tables(&own).is_err(), "a drawing record on a limit that draws on nothing");
        let mut model = engine.model().clone();
        model.limits[2].draws = None;
        assert!(parts(model, engine.tables().to_raw()).is_err(), "a model without the tables' draw");
        // The views read the model's window and the queries the tables': they must agree.
        let mut model = engine.model().clone();
        model.limits[2].kind = crate::model::LimitKind::Cap;
        assert!(parts(model, engine.tables().to_raw()).is_err(), "a drawing limit without its pool's window");
        let mut model = engine.model().clone();
        model.limits[1].kind = crate::model::LimitKind::Cap;
        assert!(parts(model, engine.tables().to_raw()).is_err(), "a gauge shown as a cap");
    }

    fn chain(parents: &[Option<usize>]) -> Model {
        let tiers = parents
            .iter()
            .enumerate()
            .map(|(i, &parent)| TierDef { name: format!("t{i}"), parent, ..TierDef::default() })
            .collect();
        Model { tiers, ..Model::default() }
    }

    #[test]
    fn depth_counts_edges_to_the_root_in_any_declaration_order() {
        assert_eq!(inheritance_depth(&chain(&[])), Ok(0));
        assert_eq!(inheritance_depth(&chain(&[None, Some(0), Some(1)])), Ok(2));
        // Children declared before their parents, and two chains sharing a root.
        assert_eq!(inheritance_depth(&chain(&[Some(1), Some(2), None, Some(2), Some(3)])), Ok(2));
    }

    #[test]
    fn cycles_are_found_wherever_the_walk_starts() {
        let cycle = Err(InvalidParts::Inconsistent("tiers inherit from each other in a cycle"));
        assert_eq!(inheritance_depth(&chain(&[Some(0)])), cycle);
        assert_eq!(inheritance_depth(&chain(&[None, Some(2), Some(1)])), cycle);
        assert_eq!(inheritance_depth(&chain(&[Some(1), Some(2), Some(3), Some(1)])), cycle);
    }

    #[test]
    fn repeated_names_and_a_tier_on_two_ladders_are_refused() {
        let mut model = chain(&[None, Some(0), None]);
        assert_eq!(validate_model(&model, &Limits::default()), Ok(()));
        model.ladders = vec![vec![0, 1], vec![2, 0]];
        assert_eq!(
            validate_model(&model, &Limits::default()),
            Err(InvalidParts::Inconsistent("a tier is on a ladder twice"))
        );
        model.ladders.clear();
        if let Some(tier) = model.tiers.get_mut(2) {
            tier.name = "t0".to_string();
        }
        assert_eq!(
            validate_model(&model, &Limits::default()),
            Err(InvalidParts::Inconsistent("two items of one kind have the same name"))
        );
    }

    #[test]
    fn the_callers_limits_bound_the_model() {
        let deep = chain(&(0..100usize).map(|i| i.checked_sub(1)).collect::<Vec<_>>());
        let limits = Limits { inheritance_depth: 64, ..Limits::default() };
        assert_eq!(
            validate_model(&deep, &limits),
            Err(InvalidParts::OverLimit { what: "levels of inheritance", found: 99, max: 64 })
        );
        let few = Limits { declarations: 10, ..Limits::default() };
        assert!(matches!(validate_model(&deep, &few), Err(InvalidParts::OverLimit { what: "declarations", .. })));
        assert_eq!(validate_model(&deep, &Limits { inheritance_depth: 99, ..Limits::default() }), Ok(()));
    }
}
