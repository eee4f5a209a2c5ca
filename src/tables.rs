//! The compiled layout of a policy: every table a query reads, and the only code that knows
//! how those tables are indexed.
//!
//! [`crate::compile`] sizes a [`Tables`] from the checked model and fills it through the
//! setters below; [`crate::eval`] reads it through the getters; a bundle carries it as
//! [`RawTables`], which [`Tables::from_raw`] checks. Nothing else sees the layout, so the index
//! arithmetic lives in one place and each invariant is stated once, beside the field it
//! governs.
//!
//! Every getter takes indices that the caller has already checked against the matching count
//! (`Engine::validate` does this for every query). Under that precondition each index below is
//! in range and no product overflows, since every table was allocated at that product's size.
//! The getters still read with `get` and fall back to "nothing granted, nothing set": a broken
//! precondition gives a deny, never a panic.

mod records;

use crate::model::{LimitKind, Percentage, Preference, SettingValue};
pub(crate) use records::*;

/// The two bits a tier holds per feature: granted to every subject, and granted by rollout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct GrantBits {
    pub granted: bool,
    pub rollout: bool,
}

/// The grant bits of `tier` for `feature`; no bits for a position out of range.
#[inline]
fn read_grant(grants: &[(u64, u64)], feature_words: usize, tier: usize, feature: usize) -> GrantBits {
    let (word, mask) = bit(tier, feature_words, feature);
    let (granted, rollout) = grants.get(word).copied().unwrap_or((0, 0));
    GrantBits { granted: granted & mask != 0, rollout: rollout & mask != 0 }
}

/// What a query needs of one rollout grant: the feature's hash seed (see `rollout::seed`) and
/// the tier's threshold in millionths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RolloutGrant {
    pub seed: u64,
    pub threshold: u32,
}

/// The rollout grant of `tier` for `feature`, found by the rank of its rollout bit; `None`
/// when the tier grants the feature by no rollout.
#[inline]
fn rollout_grant(
    grants: &[(u64, u64)],
    ranks: &[u32],
    rollouts: &[RolloutGrant],
    feature_words: usize,
    tier: usize,
    feature: usize,
) -> Option<RolloutGrant> {
    let (word, mask) = bit(tier, feature_words, feature);
    let rollout = grants.get(word).map_or(0, |&(_, rollout)| rollout);
    if rollout & mask == 0 {
        return None;
    }
    let rank = ranks.get(word)?.wrapping_add((rollout & (mask - 1)).count_ones());
    rollouts.get(rank as usize).copied()
}

/// A second handle on the grant bits and the rollout grants, shared with the tables:
/// [`Tables::hot_grants`].
#[derive(Clone, Debug)]
pub(crate) struct HotGrants {
    grants: std::sync::Arc<[(u64, u64)]>,
    ranks: std::sync::Arc<[u32]>,
    rollouts: std::sync::Arc<[RolloutGrant]>,
    features: usize,
    feature_words: usize,
}

impl HotGrants {
    /// The number of features; ids at or past it are unknown.
    #[inline]
    pub(crate) fn features(&self) -> usize {
        self.features
    }

    /// The tier's grant bits for a feature, as [`Tables::grant`] reads them.
    #[inline]
    pub(crate) fn get(&self, tier: usize, feature: usize) -> GrantBits {
        read_grant(&self.grants, self.feature_words, tier, feature)
    }

    /// The tier's rollout grant of a feature, as [`Tables::rollout_threshold`] finds it.
    #[inline]
    pub(crate) fn rollout(&self, tier: usize, feature: usize) -> Option<RolloutGrant> {
        rollout_grant(&self.grants, &self.ranks, &self.rollouts, self.feature_words, tier, feature)
    }
}

/// The settings one add-on sets: `(setting index, value)`.
type AddonSettings = Box<[(usize, SettingValue)]>;

/// How many items of each kind the policy declares; every table's size derives from these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Counts {
    pub tiers: usize,
    pub features: usize,
    pub limits: usize,
    pub addons: usize,
    pub settings: usize,
}

impl Counts {
    /// The counts of a model's declarations.
    pub(crate) fn of(model: &crate::model::Model) -> Counts {
        Counts {
            tiers: model.tiers.len(),
            features: model.features.len(),
            limits: model.limits.len(),
            addons: model.addons.len(),
            settings: model.settings.len(),
        }
    }
}

/// The decision tables of one compiled policy. Immutable once compiled.
#[derive(Debug)]
pub(crate) struct Tables {
    counts: Counts,
    /// `u64` words per feature bitset: `max(1, ceil(features / 64))`.
    feature_words: usize,
    /// `u64` words per tier bitset: `max(1, ceil(tiers / 64))`.
    tier_words: usize,
    /// `tiers × feature_words` pairs, tier-major: per tier, the features it grants to every
    /// subject (`.0`) and by rollout (`.1`). Both words of one position sit side by side, so a
    /// feature check reads one cache line behind one bounds check.
    grants: std::sync::Arc<[(u64, u64)]>,
    /// `tiers × feature_words` words: the features each tier revokes (for reasons only).
    revoked: Box<[u64]>,
    /// One per feature: the rollout hash state after its name (see `rollout::seed`); written to
    /// bundles, and copied into `rollout_grants` for queries.
    rollout_seeds: Box<[u64]>,
    /// `(tier, feature, threshold in millionths)`, sorted by `(tier, feature)`; one per
    /// rollout grant after inheritance, that is one per rollout bit in `grants`, in the bits'
    /// order (tier-major, then feature). Written to bundles; queries read the two below.
    rollout_thresholds: Box<[(u32, u32, u32)]>,
    /// What a query needs of each rollout grant, in the same order, so that the `k`-th rollout
    /// bit's is `rollout_grants[k]`.
    rollout_grants: std::sync::Arc<[RolloutGrant]>,
    /// One per word of `grants`: how many rollout bits the words before it hold. A rollout
    /// bit's rank (its `k`) is its word's count plus the set bits below it in the word, so a
    /// rollout grant is found in constant time, with no search.
    rollout_ranks: std::sync::Arc<[u32]>,
    /// One per limit.
    limit_kinds: Box<[LimitKind]>,
    /// One per limit, derived from `limit_kinds`: the counter's window as
    /// [`records::counter_code`] writes it, which is what an answer keeps to compute its
    /// window later.
    limit_counters: Box<[u32]>,
    /// `tiers × limits` indices into `limit_records`, each below its length; 0 means the tier
    /// does not set the limit.
    limit_rows: Box<[u32]>,
    /// Distinct limit records, shared by every tier that inherits the same one. Record 0 is
    /// [`LimitRecord::NOT_SET`].
    limit_records: Box<[LimitRecord]>,
    /// One per limit: the pool it draws on and its rate, [`DrawRecord::NONE`] for most. A
    /// pool draws on nothing, so a question is passed on once at most.
    limit_draws: Box<[DrawRecord]>,
    /// Whether any limit draws on a pool: the paths with add-ons look for a draw only then.
    has_draws: bool,
    /// `addons × tier_words` words: the tiers each add-on attaches to (those it lists and
    /// their descendants).
    addon_tiers: Box<[u64]>,
    /// `addons × feature_words` words: the features each add-on grants.
    addon_features: Box<[u64]>,
    /// `addons × limits`: what each add-on does to each limit.
    addon_deltas: Box<[DeltaRecord]>,
    /// One per add-on: its validity, maximum quantity and trial.
    addon_meta: Box<[AddonMeta]>,
    /// One per add-on: the settings it sets, by setting index.
    addon_settings: Box<[AddonSettings]>,
    /// `tiers × settings`: each tier's value after inheritance.
    settings: Box<[Option<SettingValue>]>,
    /// One per setting: which direction is better (`None` for text).
    setting_prefs: Box<[Option<Preference>]>,
}

/// Every table of [`Tables`] a bundle records, as plain data: what [`Tables::to_raw`] gives
/// and [`Tables::from_raw`] checks. The fields mean what the fields of the same names in
/// [`Tables`] do.
#[derive(Debug)]
pub(crate) struct RawTables {
    pub grants: Box<[(u64, u64)]>,
    pub revoked: Box<[u64]>,
    pub rollout_seeds: Box<[u64]>,
    pub rollout_thresholds: Box<[(u32, u32, u32)]>,
    pub limit_kinds: Box<[LimitKind]>,
    pub limit_rows: Box<[u32]>,
    pub limit_records: Box<[LimitRecord]>,
    pub limit_draws: Box<[DrawRecord]>,
    pub addon_tiers: Box<[u64]>,
    pub addon_features: Box<[u64]>,
    pub addon_deltas: Box<[DeltaRecord]>,
    pub addon_meta: Box<[AddonMeta]>,
    pub addon_settings: Box<[AddonSettings]>,
    pub settings: Box<[Option<SettingValue>]>,
    pub setting_prefs: Box<[Option<Preference>]>,
}

/// The position of `column` in row `row` of a row-major table `width` wide.
///
/// Computed in `u64`, whatever the pointer width: every operand is a count or an id below
/// 2³², so the product cannot wrap, and a position past `usize` (on a 32-bit target) becomes
/// `usize::MAX`, which `get` refuses. In `usize` arithmetic a 32-bit target could wrap an
/// out-of-range id (`TierId(2³¹)` in a two-word table) onto tier 0's row. On a 64-bit target
/// the conversions compile to nothing, and no branch is added to a query.
#[inline]
#[expect(clippy::cast_possible_truncation, reason = "the position is compared with `usize::MAX` first")]
const fn at(row: usize, width: usize, column: usize) -> usize {
    let position = (row as u64).wrapping_mul(width as u64).wrapping_add(column as u64);
    if position > usize::MAX as u64 {
        usize::MAX
    } else {
        position as usize
    }
}

/// The word holding bit `index` of a bitset that starts at word `row × words`, and the mask of
/// that bit within it.
#[inline]
const fn bit(row: usize, words: usize, index: usize) -> (usize, u64) {
    (at(row, words, index / 64), 1u64 << (index % 64))
}

/// Each limit's counter window as an answer keeps it ([`records::counter_code`]).
fn counters(kinds: &[LimitKind]) -> Box<[u32]> {
    kinds.iter().map(|&kind| records::counter_code(kind)).collect()
}

fn words_for(bits: usize) -> usize {
    bits.div_ceil(64).max(1)
}

impl Tables {
    /// Empty tables for a policy of these sizes: nothing granted, nothing set, no add-on
    /// attaching anywhere, every add-on valid at all times.
    pub(crate) fn new(counts: Counts, limit_kinds: Vec<LimitKind>, setting_prefs: Vec<Option<Preference>>) -> Tables {
        let Counts { tiers, features, limits, addons, settings } = counts;
        let (feature_words, tier_words) = (words_for(features), words_for(tiers));
        Tables {
            counts,
            feature_words,
            tier_words,
            grants: vec![(0, 0); tiers * feature_words].into(),
            revoked: vec![0; tiers * feature_words].into(),
            rollout_seeds: vec![0; features].into(),
            rollout_thresholds: Box::default(),
            rollout_grants: std::sync::Arc::default(),
            rollout_ranks: vec![0; tiers * feature_words].into(),
            limit_counters: counters(&limit_kinds),
            limit_kinds: limit_kinds.into(),
            limit_rows: vec![0; tiers * limits].into(),
            limit_records: vec![LimitRecord::NOT_SET].into(),
            limit_draws: vec![DrawRecord::NONE; limits].into(),
            has_draws: false,
            addon_tiers: vec![0; addons * tier_words].into(),
            addon_features: vec![0; addons * feature_words].into(),
            addon_deltas: vec![DeltaRecord::default(); addons * limits].into(),
            addon_meta: vec![AddonMeta::OPEN; addons].into(),
            addon_settings: vec![Box::default(); addons].into(),
            settings: vec![None; tiers * settings].into(),
            setting_prefs: setting_prefs.into(),
        }
    }

    // Filling, used by `compile` only.

    pub(crate) fn set_grant(&mut self, tier: usize, feature: usize, bits: GrantBits, revoked: bool) {
        let (word, mask) = bit(tier, self.feature_words, feature);
        // Compile holds the only reference until the engine is built.
        if let Some(pair) = std::sync::Arc::get_mut(&mut self.grants).and_then(|grants| grants.get_mut(word)) {
            if bits.granted {
                pair.0 |= mask;
            }
            if bits.rollout {
                pair.1 |= mask;
            }
        }
        if let (true, Some(w)) = (revoked, self.revoked.get_mut(word)) {
            *w |= mask;
        }
    }

    /// Sets the rollout seeds and thresholds; called once every grant is set, since the
    /// thresholds are ranked by the rollout bits.
    pub(crate) fn set_rollouts(&mut self, seeds: Vec<u64>, mut thresholds: Vec<(u32, u32, u32)>) {
        thresholds.sort_unstable();
        self.rollout_seeds = seeds.into();
        self.rollout_thresholds = thresholds.into();
        // The compiler sets one threshold per rollout bit, so the ranking always matches here;
        // only a bundle's tables can fail it, and `Tables::from_raw` refuses those.
        self.rank_rollouts();
    }

    /// Fills `rollout_ranks` and `rollout_grants` from the grants, seeds and thresholds; `false`
    /// when the thresholds are not exactly one per rollout bit, in order.
    fn rank_rollouts(&mut self) -> bool {
        let mut rank = 0u32;
        let mut ranks = Vec::with_capacity(self.grants.len());
        let mut matched = true;
        let mut thresholds = self.rollout_thresholds.iter();
        for (word, &(_, rollout)) in self.grants.iter().enumerate() {
            ranks.push(rank);
            rank = rank.saturating_add(rollout.count_ones());
            let (tier, first) = (word / self.feature_words, word % self.feature_words * 64);
            for feature in (0..64).filter(|b| rollout & (1u64 << b) != 0).map(|b| first + b) {
                let expected = (u32::try_from(tier).ok(), u32::try_from(feature).ok());
                matched &= thresholds.next().is_some_and(|&(t, f, _)| (Some(t), Some(f)) == expected);
            }
        }
        self.rollout_ranks = ranks.into();
        let seed = |feature: u32| self.rollout_seeds.get(feature as usize).copied().unwrap_or(0);
        self.rollout_grants = (self.rollout_thresholds.iter())
            .map(|&(_, feature, threshold)| RolloutGrant { seed: seed(feature), threshold })
            .collect();
        matched && thresholds.next().is_none()
    }

    /// Sets every tier's limit rows at once, deduplicating equal records.
    pub(crate) fn set_limits(&mut self, rows: impl IntoIterator<Item = (usize, usize, LimitRecord)>) {
        let mut entries: Vec<LimitRecord> = self.limit_records.to_vec();
        let mut ids: std::collections::HashMap<LimitRecord, u32> = std::collections::HashMap::new();
        for (tier, limit, entry) in rows {
            let next = u32::try_from(entries.len()).unwrap_or(u32::MAX);
            let id = *ids.entry(entry).or_insert_with(|| {
                entries.push(entry);
                next
            });
            if let Some(slot) = self.limit_rows.get_mut(at(tier, self.counts.limits, limit)) {
                *slot = id;
            }
        }
        self.limit_records = entries.into();
    }

    pub(crate) fn set_setting(&mut self, tier: usize, setting: usize, value: SettingValue) {
        if let Some(slot) = self.settings.get_mut(at(tier, self.counts.settings, setting)) {
            *slot = Some(value);
        }
    }

    pub(crate) fn attach_addon(&mut self, addon: usize, tier: usize) {
        let (word, mask) = bit(addon, self.tier_words, tier);
        if let Some(w) = self.addon_tiers.get_mut(word) {
            *w |= mask;
        }
    }

    pub(crate) fn addon_grants_feature(&mut self, addon: usize, feature: usize) {
        let (word, mask) = bit(addon, self.feature_words, feature);
        if let Some(w) = self.addon_features.get_mut(word) {
            *w |= mask;
        }
    }

    pub(crate) fn addon_delta_mut(&mut self, addon: usize, limit: usize) -> Option<&mut DeltaRecord> {
        self.addon_deltas.get_mut(at(addon, self.counts.limits, limit))
    }

    pub(crate) fn set_addon_meta(&mut self, addon: usize, meta: AddonMeta) {
        if let Some(slot) = self.addon_meta.get_mut(addon) {
            *slot = meta;
        }
    }

    pub(crate) fn set_addon_settings(&mut self, addon: usize, sets: Vec<(usize, SettingValue)>) {
        if let Some(slot) = self.addon_settings.get_mut(addon) {
            *slot = sets.into();
        }
    }

    // Reading, on the query path.

    /// How many of each kind the policy declares.
    #[inline]
    pub(crate) fn counts(&self) -> &Counts {
        &self.counts
    }

    /// The tier's grant bits for a feature.
    #[inline]
    pub(crate) fn grant(&self, tier: usize, feature: usize) -> GrantBits {
        read_grant(&self.grants, self.feature_words, tier, feature)
    }

    /// The grant bits and what reading them needs, for the engine to keep beside its handle:
    /// `is_allowed`, the commonest question, then reads them one pointer hop sooner.
    pub(crate) fn hot_grants(&self) -> HotGrants {
        HotGrants {
            grants: std::sync::Arc::clone(&self.grants),
            ranks: std::sync::Arc::clone(&self.rollout_ranks),
            rollouts: std::sync::Arc::clone(&self.rollout_grants),
            features: self.counts.features,
            feature_words: self.feature_words,
        }
    }

    /// Whether the tier revokes a feature an ancestor granted.
    pub(crate) fn revoked(&self, tier: usize, feature: usize) -> bool {
        let (word, mask) = bit(tier, self.feature_words, feature);
        self.revoked.get(word).is_some_and(|w| w & mask != 0)
    }

    /// The rollout threshold (buckets below it are inside) of a tier's rollout grant; 0 when
    /// the tier grants the feature by no rollout.
    pub(crate) fn rollout_threshold(&self, tier: usize, feature: usize) -> u32 {
        rollout_grant(&self.grants, &self.rollout_ranks, &self.rollout_grants, self.feature_words, tier, feature)
            .map_or(0, |grant| grant.threshold)
    }

    /// The counter window of a limit as an answer keeps it ([`records::counter_code`]), 0 for
    /// a gauge or a cap.
    #[inline(always)]
    pub(crate) fn limit_counter(&self, limit: usize) -> u32 {
        self.limit_counters.get(limit).copied().unwrap_or(0)
    }

    /// What the tier sets for a limit after inheritance, and whether it sets it at all: an
    /// unset limit reads as [`LimitRecord::NOT_SET`].
    #[inline(always)]
    pub(crate) fn limit_record(&self, tier: usize, limit: usize) -> (bool, &LimitRecord) {
        let row = self.limit_rows.get(at(tier, self.counts.limits, limit)).copied().unwrap_or(0);
        // Every row is below the records' length: compile writes only ids it pushed, and
        // `from_raw` refuses a bundle's row past the end. Record 0 is `NOT_SET`, which both
        // check too, so an unset limit needs no branch of its own here.
        #[expect(clippy::indexing_slicing, reason = "every row is below the records' length, checked at load")]
        (row != 0, &self.limit_records[row as usize])
    }

    /// What limit `l` measures in time (a counter's window, a cap, a gauge); `None` past the
    /// last limit.
    pub(crate) fn limit_kind(&self, l: usize) -> Option<LimitKind> {
        self.limit_kinds.get(l).copied()
    }

    /// The pool and rate of limit `limit`, if it draws on a pool.
    #[inline]
    pub(crate) fn draw(&self, limit: usize) -> Option<&DrawRecord> {
        self.limit_draws.get(limit).filter(|draw| draw.pool != u32::MAX)
    }

    /// Whether any limit draws on a pool.
    #[inline(always)]
    pub(crate) const fn has_draws(&self) -> bool {
        self.has_draws
    }

    /// Whether an add-on attaches to a tier.
    #[inline]
    pub(crate) fn attaches(&self, addon: usize, tier: usize) -> bool {
        let (word, mask) = bit(addon, self.tier_words, tier);
        self.addon_tiers.get(word).is_some_and(|w| w & mask != 0)
    }

    /// Whether an add-on grants a feature (wherever and whenever it applies).
    #[inline]
    pub(crate) fn addon_grants(&self, addon: usize, feature: usize) -> bool {
        let (word, mask) = bit(addon, self.feature_words, feature);
        self.addon_features.get(word).is_some_and(|w| w & mask != 0)
    }

    /// What an add-on does to a limit: a record whose flags are 0 when it does nothing.
    #[inline(always)]
    pub(crate) fn addon_delta(&self, addon: usize, limit: usize) -> &DeltaRecord {
        const NOTHING: DeltaRecord = DeltaRecord { at_least: 0, add: 0, flags: 0 };
        self.addon_deltas.get(at(addon, self.counts.limits, limit)).unwrap_or(&NOTHING)
    }

    /// An add-on's validity `[from, until)` in Unix seconds (an unbounded side is `i64::MIN`
    /// or `i64::MAX`; dates in a policy end in year 9999, so neither is ever a written bound),
    /// maximum quantity and trial.
    #[inline(always)]
    pub(crate) fn addon_meta(&self, addon: usize) -> &AddonMeta {
        // An add-on the tables do not hold is never valid and never held.
        self.addon_meta.get(addon).unwrap_or(&AddonMeta::NONE)
    }

    /// The value an add-on sets for a setting, if it sets one.
    pub(crate) fn addon_setting(&self, addon: usize, setting: usize) -> Option<&SettingValue> {
        self.addon_settings.get(addon)?.iter().find(|(s, _)| *s == setting).map(|(_, value)| value)
    }

    /// A tier's value of a setting after inheritance.
    pub(crate) fn setting(&self, tier: usize, setting: usize) -> Option<&SettingValue> {
        self.settings.get(at(tier, self.counts.settings, setting))?.as_ref()
    }

    /// Which direction of a setting is better; `None` for text.
    pub(crate) fn setting_preference(&self, setting: usize) -> Option<Preference> {
        self.setting_prefs.get(setting).copied().flatten()
    }

    // The tables as plain data, for bundles.

    /// A copy of every table a bundle records; the counts and word widths are not in it,
    /// since the model the tables are read beside gives them.
    pub(crate) fn to_raw(&self) -> RawTables {
        RawTables {
            grants: self.grants.to_vec().into(),
            revoked: self.revoked.clone(),
            rollout_seeds: self.rollout_seeds.clone(),
            rollout_thresholds: self.rollout_thresholds.clone(),
            limit_kinds: self.limit_kinds.clone(),
            limit_rows: self.limit_rows.clone(),
            limit_records: self.limit_records.clone(),
            limit_draws: self.limit_draws.clone(),
            addon_tiers: self.addon_tiers.clone(),
            addon_features: self.addon_features.clone(),
            addon_deltas: self.addon_deltas.clone(),
            addon_meta: self.addon_meta.clone(),
            addon_settings: self.addon_settings.clone(),
            settings: self.settings.clone(),
            setting_prefs: self.setting_prefs.clone(),
        }
    }

    /// Tables from plain data for a model of `counts`, after checking every length against
    /// the counts and every index against what it indexes, in one pass over each table: the
    /// getters' precondition then holds as it does for compiled tables.
    pub(crate) fn from_raw(raw: RawTables, counts: Counts) -> Result<Tables, &'static str> {
        let Counts { tiers, features, limits, addons, settings } = counts;
        let (feature_words, tier_words) = (words_for(features), words_for(tiers));
        let size = |rows: usize, width: usize| rows.saturating_mul(width);
        let lengths = [
            (raw.grants.len(), size(tiers, feature_words)),
            (raw.revoked.len(), size(tiers, feature_words)),
            (raw.rollout_seeds.len(), features),
            (raw.limit_kinds.len(), limits),
            (raw.limit_rows.len(), size(tiers, limits)),
            (raw.limit_draws.len(), limits),
            (raw.addon_tiers.len(), size(addons, tier_words)),
            (raw.addon_features.len(), size(addons, feature_words)),
            (raw.addon_deltas.len(), size(addons, limits)),
            (raw.addon_meta.len(), addons),
            (raw.addon_settings.len(), addons),
            (raw.settings.len(), size(tiers, settings)),
            (raw.setting_prefs.len(), settings),
        ];
        if lengths.iter().any(|&(found, expected)| found != expected) {
            return Err("a table's length does not match the policy's counts");
        }
        let mut tables = Tables {
            counts,
            feature_words,
            tier_words,
            grants: raw.grants.into(),
            revoked: raw.revoked,
            rollout_seeds: raw.rollout_seeds,
            rollout_thresholds: raw.rollout_thresholds,
            rollout_grants: std::sync::Arc::default(),
            rollout_ranks: std::sync::Arc::default(),
            limit_counters: counters(&raw.limit_kinds),
            limit_kinds: raw.limit_kinds,
            limit_rows: raw.limit_rows,
            limit_records: raw.limit_records,
            has_draws: raw.limit_draws.iter().any(|d| *d != DrawRecord::NONE),
            limit_draws: raw.limit_draws,
            addon_tiers: raw.addon_tiers,
            addon_features: raw.addon_features,
            addon_deltas: raw.addon_deltas,
            addon_meta: raw.addon_meta,
            addon_settings: raw.addon_settings,
            settings: raw.settings,
            setting_prefs: raw.setting_prefs,
        };
        let in_range = |&(t, f, share): &(u32, u32, u32)| {
            usize::try_from(t).is_ok_and(|t| t < tiers)
                && usize::try_from(f).is_ok_and(|f| f < features)
                && share <= Percentage::FULL.0
        };
        if !tables.rollout_thresholds.iter().all(in_range) || !tables.rank_rollouts() {
            return Err("the rollout thresholds are out of range or not one per rollout grant");
        }
        let entries = tables.limit_records.len();
        if tables.limit_records.first() != Some(&LimitRecord::NOT_SET)
            || tables.limit_rows.iter().any(|&row| usize::try_from(row).map_or(true, |row| row >= entries))
        {
            return Err("a limit row points past the limit records, or the first record is not the unset one");
        }
        // A record carries its limit's counter window, so the window an answer reports is the
        // limit's, whatever a bundle's bytes say.
        let rows = tables.limit_rows.chunks(limits.max(1)).flat_map(|row| row.iter().enumerate());
        let mut counters_agree = true;
        for (limit, &row) in rows {
            let record = tables.limit_records.get(row as usize).copied().unwrap_or(LimitRecord::NOT_SET);
            counters_agree &= row == 0 || record.counter() == tables.limit_counter(limit);
        }
        if !counters_agree {
            return Err("a limit record's counter window is not its limit's");
        }
        tables.check_draws()?;
        if tables.addon_settings.iter().flatten().any(|&(setting, _)| setting >= settings) {
            return Err("an add-on sets a setting the policy does not declare");
        }
        // An add-on sets each setting at most once, so a lookup scans at most one entry per
        // declared setting, whatever the bytes said.
        if tables.addon_settings.iter().any(|set| set.len() > settings) {
            return Err("an add-on sets more settings than the policy declares");
        }
        Ok(tables)
    }

    /// Sets the limits that draw on pools, each `(limit, its draw)`; every tier's cell of such
    /// a limit becomes a [`LimitRecord::drawing`] record (`set_limits` must have run).
    pub(crate) fn set_draws(&mut self, draws: impl IntoIterator<Item = (usize, DrawRecord)>) {
        let mut cells = Vec::new();
        for (limit, draw) in draws {
            if let Some(slot) = self.limit_draws.get_mut(limit) {
                *slot = draw;
                self.has_draws = true;
                let record = LimitRecord::drawing(self.limit_counter(limit));
                cells.extend((0..self.counts.tiers).map(|tier| (tier, limit, record)));
            }
        }
        self.set_limits(cells);
    }

    /// A bundle's draws, checked as the compiler makes them: each a pool of another limit
    /// that draws on nothing and is no gauge, with the drawing limit's window, a rate of at
    /// least 1 per at least 1, a drawing record in every tier's cell of the limit and in no
    /// other, and no add-on changing the limit.
    fn check_draws(&self) -> Result<(), &'static str> {
        let limits = self.counts.limits;
        for (l, draw) in self.limit_draws.iter().enumerate() {
            let cells = (0..self.counts.tiers).map(|tier| self.limit_record(tier, l));
            if *draw == DrawRecord::NONE {
                if cells.into_iter().any(|(_, record)| record.flags & DRAWS != 0) {
                    return Err("a limit that draws on nothing has a drawing record");
                }
                continue;
            }
            let pool = draw.pool as usize;
            let pool_ok = pool < limits
                && pool != l
                && self.limit_draws.get(pool) == Some(&DrawRecord::NONE)
                && self.limit_kinds.get(pool).is_some_and(|kind| *kind != LimitKind::Gauge)
                && self.limit_kinds.get(pool) == self.limit_kinds.get(l);
            if !pool_ok || draw.credits == 0 || draw.per == 0 {
                return Err("a limit draws on a pool it cannot draw on, or at a rate of 0");
            }
            if !cells.into_iter().all(|(set, record)| set && record.flags & DRAWS != 0) {
                return Err("a drawing limit's tier has a record of its own");
            }
            let deltas = (0..self.counts.addons).filter_map(|a| self.addon_deltas.get(at(a, limits, l)));
            if deltas.into_iter().any(|delta| *delta != DeltaRecord::default()) {
                return Err("an add-on changes a drawing limit");
            }
        }
        Ok(())
    }

    /// The size in bytes of every table a query reads.
    pub(crate) fn bytes(&self) -> usize {
        use std::mem::size_of;
        let addon_settings: usize =
            self.addon_settings.iter().map(|s| s.len() * size_of::<(usize, SettingValue)>()).sum();
        self.grants.len() * size_of::<(u64, u64)>()
            + (self.revoked.len() + self.rollout_seeds.len() + self.addon_tiers.len() + self.addon_features.len())
                * size_of::<u64>()
            + self.rollout_thresholds.len() * size_of::<(u32, u32, u32)>()
            + self.rollout_grants.len() * size_of::<RolloutGrant>()
            + self.rollout_ranks.len() * size_of::<u32>()
            + self.limit_kinds.len() * size_of::<LimitKind>()
            + self.limit_counters.len() * size_of::<u32>()
            + self.limit_rows.len() * size_of::<u32>()
            + self.limit_records.len() * size_of::<LimitRecord>()
            + self.limit_draws.len() * size_of::<DrawRecord>()
            + self.addon_deltas.len() * size_of::<DeltaRecord>()
            + self.addon_meta.len() * size_of::<AddonMeta>()
            + addon_settings
            + self.settings.len() * size_of::<Option<SettingValue>>()
            + self.setting_prefs.len() * size_of::<Option<Preference>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Positions of ids far past the counts land past every table on any pointer width,
    /// never on another row: `TierId(2³¹)` in a two-word table is not tier 0.
    #[test]
    fn positions_past_the_counts_stay_past_the_tables() {
        for (row, width, column) in [(1usize << 31, 2, 0), (u32::MAX as usize, 3, 5), (1 << 31, 1 << 1, 1)] {
            let position = at(row, width, column);
            assert!(position >= 1 << 32 || position == usize::MAX, "{row} × {width} + {column} → {position}");
        }
        let counts = Counts { tiers: 2, features: 100, limits: 0, addons: 0, settings: 0 };
        let mut tables = Tables::new(counts, Vec::new(), Vec::new());
        tables.set_grant(0, 0, GrantBits { granted: true, rollout: false }, false);
        assert!(tables.grant(0, 0).granted);
        for tier in [1usize << 31, u32::MAX as usize, (1 << 31) + 1] {
            assert!(!tables.grant(tier, 0).granted, "tier {tier} read tier 0's grant");
        }
    }

    /// Three tiers of 150 features (three words per tier), with rollouts scattered over every
    /// word: each threshold is found by its bit's rank, and thresholds that are not one per
    /// rollout bit, in order, are refused (as a bundle holding them is).
    #[test]
    fn rollout_grants_are_found_by_the_rank_of_their_bit() {
        let counts = Counts { tiers: 3, features: 150, limits: 0, addons: 0, settings: 0 };
        let mut tables = Tables::new(counts, Vec::new(), Vec::new());
        let mut thresholds = Vec::new();
        for tier in 0..3u32 {
            for feature in (0..150u32).filter(|f| (f * 7 + tier) % 5 == 0) {
                let granted = feature % 3 == 0;
                tables.set_grant(tier as usize, feature as usize, GrantBits { granted, rollout: !granted }, false);
                if !granted {
                    thresholds.push((tier, feature, 1_000 * feature + tier));
                }
            }
        }
        let seeds: Vec<u64> = (0..150).map(|f| 1_000 + f).collect();
        tables.set_rollouts(seeds, thresholds.clone());
        assert!(tables.rank_rollouts());
        let hot = tables.hot_grants();
        for tier in 0..3usize {
            for feature in 0..150usize {
                let expected = thresholds.iter().find(|&&(t, f, _)| (t as usize, f as usize) == (tier, feature));
                assert_eq!(tables.rollout_threshold(tier, feature), expected.map_or(0, |&(_, _, share)| share));
                let grant = hot.rollout(tier, feature);
                assert_eq!(grant.map(|g| g.threshold), expected.map(|&(_, _, share)| share), "{tier}, {feature}");
                assert_eq!(grant.map(|g| g.seed), expected.map(|_| 1_000 + feature as u64));
            }
        }
        // A threshold too few, one too many, and one on a feature granted outright.
        for wrong in [&thresholds[1..], &[thresholds.as_slice(), &[(2, 149, 5)]].concat(), &[(0, 0, 5)]] {
            tables.rollout_thresholds = wrong.to_vec().into();
            assert!(!tables.rank_rollouts(), "{} thresholds were taken", wrong.len());
        }
    }
}
