//! The checked policy model: what a policy means, with every name resolved to an index and
//! every value typed and in base units (bytes, seconds, millionths).
//!
//! The checker builds a [`Model`] inside a [`crate::Checked`]; a bundle decodes one, which
//! `Parts::validate` holds to the same: indices in range, names unique per kind, acyclic
//! inheritance within the depth limit. So the code that walks a model can trust it.

use std::fmt;

use crate::source::Span;
pub use crate::units::{Amount, Percentage, QuantityType};

/// The reset window of a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum Window {
    /// Resets every second.
    Second = 0,
    /// Resets at the start of every minute.
    Minute = 1,
    /// Resets at the start of every hour.
    Hour = 2,
    /// Resets at 00:00 UTC.
    Day = 3,
    /// Resets at 00:00 UTC on Monday.
    Week = 4,
    /// Resets at 00:00 UTC on the subject's billing anchor day (the 1st by default), clamped to
    /// the month's length.
    Month = 5,
}

impl Window {
    /// Every window, shortest first.
    pub const ALL: [Window; 6] =
        [Window::Second, Window::Minute, Window::Hour, Window::Day, Window::Week, Window::Month];

    /// The word used after `per`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Window::Second => "second",
            Window::Minute => "minute",
            Window::Hour => "hour",
            Window::Day => "day",
            Window::Week => "week",
            Window::Month => "month",
        }
    }

    /// The word used after `per N` when N is more than 1.
    pub const fn plural(self) -> &'static str {
        match self {
            Window::Second => "seconds",
            Window::Minute => "minutes",
            Window::Hour => "hours",
            Window::Day => "days",
            Window::Week => "weeks",
            Window::Month => "months",
        }
    }

    /// The window a word after `per` names, singular or plural.
    pub fn from_word(word: &str) -> Option<Window> {
        Window::ALL.into_iter().find(|w| w.as_str() == word || w.plural() == word)
    }
}

/// How long a counter's window is: `every` windows of one `unit` (`per 5 hours` is 5 hours).
///
/// Windows of fixed length (seconds to days) are aligned to the Unix epoch: a `per 5 hours`
/// counter resets at every instant a multiple of 5 hours after 1970-01-01T00:00:00Z. Weeks
/// start on Monday, and `per N weeks` windows start on the Mondays a multiple of N weeks after
/// 1969-12-29. Months start on the subject's billing anchor day, and `per N months` windows
/// start in the months a multiple of N months after January 1970 (so `per 3 months` is the
/// calendar quarter and `per 12 months` the calendar year, each from the anchor day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    /// How many units one window lasts, 1 to [`Period::MAX_EVERY`].
    pub every: u16,
    /// The unit.
    pub unit: Window,
}

impl Period {
    /// The most units one window may last.
    pub const MAX_EVERY: u16 = 10_000;

    /// One window of `unit`: `per hour`.
    pub const fn one(unit: Window) -> Period {
        Period { every: 1, unit }
    }

    /// How many seconds the window lasts, for every unit but months, whose length varies.
    ///
    /// ```
    /// use entitle::{Period, Window};
    /// assert_eq!(Period { every: 7, unit: Window::Day }.seconds(), Some(604_800));
    /// assert_eq!(Period::one(Window::Month).seconds(), None);
    /// ```
    pub const fn seconds(self) -> Option<i64> {
        let unit = match self.unit {
            Window::Second => 1,
            Window::Minute => 60,
            Window::Hour => 3_600,
            Window::Day => 86_400,
            Window::Week => 604_800,
            Window::Month => return None,
        };
        Some(unit * self.every as i64)
    }
}

/// `hour` for one unit, `5 hours` for five: the words after `per`.
impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.every == 1 {
            f.write_str(self.unit.as_str())
        } else {
            write!(f, "{} {}", self.every, self.unit.plural())
        }
    }
}

/// How a limit is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// A plain cap on a total, with no window.
    Cap,
    /// A level, checked against the current value (concurrent connections).
    Gauge,
    /// A counter that resets at the start of every window.
    Counter(Period),
    /// A counter of the usage within the window of this length that ends at the request's
    /// instant (`rolling 7 days`): it never resets, usage ages out of it. Never of months,
    /// whose length varies.
    Rolling(Period),
}

/// The type of a setting's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SettingType {
    /// A whole number.
    Number,
    /// A percentage.
    Percent,
    /// A duration, in seconds.
    Duration,
    /// A size, in bytes.
    Bytes,
    /// Free text.
    String,
}

impl SettingType {
    /// The word used for the type in the language.
    pub const fn as_str(self) -> &'static str {
        match self {
            SettingType::Number => "number",
            SettingType::Percent => "percent",
            SettingType::Duration => "duration",
            SettingType::Bytes => "bytes",
            SettingType::String => "string",
        }
    }
}

/// Which direction of a setting is better for the customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Preference {
    /// More is better (availability).
    Higher,
    /// Less is better (response time).
    Lower,
}

/// A typed setting value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SettingValue {
    /// A whole number.
    Number(u64),
    /// A percentage.
    Percent(Percentage),
    /// Seconds.
    Duration(u64),
    /// Bytes.
    Bytes(u64),
    /// Free text. Shared, so that a long text inherited by many tiers is stored once.
    Text(std::sync::Arc<str>),
}

impl SettingValue {
    /// The number behind an ordered value, for comparisons; `None` for text.
    pub fn magnitude(&self) -> Option<u64> {
        match self {
            SettingValue::Number(n) | SettingValue::Duration(n) | SettingValue::Bytes(n) => Some(*n),
            SettingValue::Percent(p) => Some(u64::from(p.0)),
            SettingValue::Text(_) => None,
        }
    }

    /// Whether `self` is strictly better than `other` under `preference`; text is never better.
    pub fn better_than(&self, other: &SettingValue, preference: Preference) -> bool {
        match (self.magnitude(), other.magnitude()) {
            (Some(a), Some(b)) => match preference {
                Preference::Higher => a > b,
                Preference::Lower => a < b,
            },
            _ => false,
        }
    }
}

impl fmt::Display for SettingValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingValue::Number(n) => f.write_str(&crate::units::format_count(*n)),
            SettingValue::Percent(p) => p.fmt(f),
            SettingValue::Duration(s) => f.write_str(&crate::units::format_quantity(QuantityType::Duration, *s)),
            SettingValue::Bytes(b) => f.write_str(&crate::units::format_quantity(QuantityType::Bytes, *b)),
            SettingValue::Text(t) => write!(f, "{t:?}"),
        }
    }
}

/// The checked meaning of a whole policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Model {
    /// The name from the `policy` header.
    pub name: String,
    /// The version from the `policy` header, if given.
    pub version: Option<String>,
    /// Features, in declaration order; a feature's index is its position here.
    pub features: Vec<FeatureDef>,
    /// Limits, in declaration order.
    pub limits: Vec<LimitDef>,
    /// Settings, in declaration order.
    pub settings: Vec<SettingDef>,
    /// Tiers, in declaration order.
    pub tiers: Vec<TierDef>,
    /// Add-ons, in declaration order.
    pub addons: Vec<AddonDef>,
    /// Ladders, each a list of tier indices from cheapest to dearest. No tier is in two.
    pub ladders: Vec<Vec<usize>>,
}

/// A declared feature.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeatureDef {
    /// Its name.
    pub name: String,
    /// Its description, if given.
    pub description: Option<String>,
    /// Where it is declared.
    pub span: Span,
}

/// A declared limit.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimitDef {
    /// Its name.
    pub name: String,
    /// What it counts.
    pub ty: QuantityType,
    /// How it is measured: for a limit that draws on a pool, its pool's kind.
    pub kind: LimitKind,
    /// The pool it draws on and at what rate, if it draws on one.
    pub draws: Option<DrawRate>,
    /// Where it is declared.
    pub span: Span,
}

/// What a limit that draws on a pool costs it: `credits` of the pool for every `per` of the
/// limit's own base units, rounded up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DrawRate {
    /// The pool's index among the limits. A pool draws on nothing and is a `count` counter
    /// or cap.
    pub pool: usize,
    /// How much of the pool each `per` costs: at least 1.
    pub credits: u64,
    /// How many base units of the drawing limit the rate is for: at least 1.
    pub per: u64,
}

/// A declared setting.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SettingDef {
    /// Its name.
    pub name: String,
    /// The type of its values.
    pub ty: SettingType,
    /// Which direction is better; `None` for text, which is not ordered.
    pub prefer: Option<Preference>,
    /// Where it is declared.
    pub span: Span,
}

/// A declared tier, with only the items written in its own block (not inherited ones).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TierDef {
    /// Its name.
    pub name: String,
    /// Where it is declared (the whole block).
    pub span: Span,
    /// Where its name is.
    pub name_span: Span,
    /// The tier it extends.
    pub parent: Option<usize>,
    /// The span of `grant all`, if the block has one.
    pub grant_all: Option<Span>,
    /// Its `grant` items, one entry per feature.
    pub grants: Vec<GrantDef>,
    /// Its `revoke` items, one entry per feature.
    pub revokes: Vec<(usize, Span)>,
    /// Its `limit` items.
    pub limits: Vec<TierLimit>,
    /// Its `set` items.
    pub sets: Vec<SetDef>,
}

/// One feature granted by a tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GrantDef {
    /// The feature.
    pub feature: usize,
    /// The share of subjects that get it, if it is a staged rollout.
    pub rollout: Option<Percentage>,
    /// The `grant` item.
    pub span: Span,
}

/// A limit as a tier sets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TierLimit {
    /// The limit.
    pub limit: usize,
    /// The included amount.
    pub value: Amount,
    /// `None` for a hard limit; `Some(cap)` allows overage up to `cap` (unbounded when
    /// `Unlimited`).
    pub soft: Option<Amount>,
    /// The share of the limit at which usage is marked as a warning.
    pub warn: Option<Percentage>,
    /// Whether the value and soft cap are per seat: multiplied by the subject's seat count.
    pub per_seat: bool,
    /// The `limit` item.
    pub span: Span,
}

/// A setting as a tier or add-on sets it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetDef {
    /// The setting.
    pub setting: usize,
    /// The value.
    pub value: SettingValue,
    /// The `set` item.
    pub span: Span,
}

/// How an add-on changes a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddonOp {
    /// `+=`: adds to the limit.
    Add,
    /// `=`: raises the limit to at least the value.
    AtLeast,
}

/// A limit change made by an add-on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddonLimit {
    /// The limit.
    pub limit: usize,
    /// `+=` or `=`.
    pub op: AddonOp,
    /// The amount.
    pub value: Amount,
    /// Whether the amount is per seat: multiplied by the subject's seat count.
    pub per_seat: bool,
    /// The `limit` item.
    pub span: Span,
}

/// A declared add-on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddonDef {
    /// Its name.
    pub name: String,
    /// Where it is declared.
    pub span: Span,
    /// The tiers it attaches to; it also attaches to every tier that extends one of them.
    pub for_tiers: Vec<usize>,
    /// The span of `grant all`, if any.
    pub grant_all: Option<Span>,
    /// Features it grants, with the span of each `grant` item.
    pub grants: Vec<(usize, Span)>,
    /// Its limit changes.
    pub limits: Vec<AddonLimit>,
    /// Its settings.
    pub sets: Vec<SetDef>,
    /// The first instant (Unix seconds, UTC) at which it applies.
    pub valid_from: Option<i64>,
    /// The first instant at which it no longer applies.
    pub valid_until: Option<i64>,
    /// The most of it a subject may hold at once: 1 unless a `max` item says otherwise.
    pub max_quantity: Amount,
    /// For a trial, how long it applies from the instant the subject acquired it.
    pub trial: Option<TrialLength>,
}

/// The length of a trial (`valid for`), counted from the instant the subject acquired the add-on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrialLength {
    /// A fixed number of seconds (`valid for 14 days`).
    Seconds(u64),
    /// A number of calendar months (`valid for 1 month`): the same day and time of day that
    /// many months later, on the month's last day when it is shorter.
    Months(u32),
}

/// The most usage a limit lets through: its soft cap if it has one, else its value; a limit that
/// is not set lets nothing through. The ladder lint (W011) and the plan view compare these.
pub fn ceiling(value: Option<Amount>, soft: Option<Amount>) -> Amount {
    match (value, soft) {
        (None, _) => Amount::Finite(0),
        (Some(value), None) => value,
        (Some(value), Some(cap)) => value.max(cap),
    }
}

/// Whether and how a tier gives a feature, after inheritance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// Neither the tier nor any ancestor grants it.
    NotGranted,
    /// Granted to every subject.
    Granted,
    /// Granted to the given share of subjects.
    Rollout(Percentage),
    /// Granted by an ancestor and revoked by this tier or a closer ancestor.
    Revoked,
}

impl Access {
    /// The share of subjects that get the feature: 100% when granted, 0% when not.
    pub fn share(self) -> Percentage {
        match self {
            Access::Granted => Percentage::FULL,
            Access::Rollout(p) => p,
            Access::NotGranted | Access::Revoked => Percentage(0),
        }
    }
}

/// A tier's entitlements after inheritance: what the tier and all its ancestors give.
///
/// Each tier's view starts as a copy of its parent's, so it holds only what the checker and
/// the compiler read; explanations find the rules behind an entry by walking the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    /// Per feature index: the access.
    pub features: Vec<Access>,
    /// Per limit index: the entry in force, if any.
    pub limits: Vec<Option<TierLimit>>,
    /// Per setting index: the value in force, if any.
    pub settings: Vec<Option<SettingValue>>,
}

impl Model {
    /// The cells of the flattened tables: one per tier and feature, limit, setting or add-on
    /// (the checker and the compiler keep, per add-on, whether it attaches to each tier).
    /// `Limits::table_cells` bounds it, for compiled policies and loaded bundles alike.
    pub fn table_cells(&self) -> usize {
        let items = self.features.len() + self.limits.len() + self.settings.len() + self.addons.len();
        self.tiers.len().saturating_mul(items)
    }

    /// Tier indices ordered so that every parent comes before its children: by depth, then
    /// by index, in linear time (see [`depths`]).
    pub fn tiers_parents_first(&self) -> Vec<usize> {
        let depth = depths(self.tiers.len(), |t| self.tiers.get(t).and_then(|t| t.parent)).unwrap_or_default();
        let mut order: Vec<usize> = (0..self.tiers.len()).collect();
        order.sort_by_key(|&t| (depth.get(t).copied().unwrap_or(0), t));
        order
    }

    /// Per tier: whether `addon` attaches to it, which it does when the tier or one of its
    /// ancestors is listed after `for`. `parents_first` is [`Model::tiers_parents_first`],
    /// computed once by callers that ask for every add-on.
    pub fn attached(&self, addon: &AddonDef, parents_first: &[usize]) -> Vec<bool> {
        let mut attached = vec![false; self.tiers.len()];
        for &tier in &addon.for_tiers {
            if let Some(slot) = attached.get_mut(tier) {
                *slot = true;
            }
        }
        // One pass, parents first, so that a parent's answer is final before its children read it.
        for &tier in parents_first {
            let parent = self.tiers.get(tier).and_then(|t| t.parent);
            let inherited = parent.and_then(|p| attached.get(p).copied()).unwrap_or(false);
            if let Some(slot) = attached.get_mut(tier) {
                *slot |= inherited;
            }
        }
        attached
    }

    /// Every tier's entitlements after inheritance, indexed by tier.
    ///
    /// Within one tier block, `grant all` applies first, then `grant`s, then `revoke`s, and
    /// each item replaces what the parent gave for that name (see `docs/language.md`).
    #[expect(
        clippy::indexing_slicing,
        reason = "tier, feature, limit and setting indices in a checked model are in range, and `out` and each row have one entry per item"
    )]
    pub fn flatten(&self) -> Vec<Effective> {
        let empty = Effective {
            features: vec![Access::NotGranted; self.features.len()],
            limits: vec![None; self.limits.len()],
            settings: vec![None; self.settings.len()],
        };
        let mut out: Vec<Option<Effective>> = vec![None; self.tiers.len()];
        for tier_index in self.tiers_parents_first() {
            let tier = &self.tiers[tier_index];
            let mut effective = tier.parent.and_then(|p| out[p].clone()).unwrap_or_else(|| empty.clone());
            if tier.grant_all.is_some() {
                effective.features.fill(Access::Granted);
            }
            for grant in &tier.grants {
                effective.features[grant.feature] = grant.rollout.map_or(Access::Granted, Access::Rollout);
            }
            for &(feature, _) in &tier.revokes {
                let was_given = effective.features[feature] != Access::NotGranted;
                effective.features[feature] = if was_given { Access::Revoked } else { Access::NotGranted };
            }
            for limit in &tier.limits {
                effective.limits[limit.limit] = Some(*limit);
            }
            for set in &tier.sets {
                effective.settings[set.setting] = Some(set.value.clone());
            }
            out[tier_index] = Some(effective);
        }
        out.into_iter().map(|e| e.unwrap_or_else(|| empty.clone())).collect()
    }
}

/// The inheritance depth of each of `count` tiers (a root is 0), given each tier's parent;
/// `None` if the parents form a cycle or name a tier past `count`.
///
/// Each tier's depth is worked out once: a walk up from a tier stops at the first tier whose
/// depth is known, then fills in the tiers it passed, so a deep chain costs linear time where
/// walking every chain to its root would be quadratic. The checker, the validation of a
/// bundle's parts and [`Model::tiers_parents_first`] all count depth with this.
pub(crate) fn depths(count: usize, parent: impl Fn(usize) -> Option<usize>) -> Option<Vec<usize>> {
    /// A tier on the current walk: meeting it again closes a cycle.
    const ON_PATH: usize = usize::MAX;
    /// A tier not reached yet.
    const UNKNOWN: usize = usize::MAX - 1;
    let mut depth = vec![UNKNOWN; count];
    let mut path = Vec::new();
    for start in 0..count {
        let mut tier = start;
        let base = loop {
            crate::work::step(1);
            match *depth.get(tier)? {
                ON_PATH => return None,
                UNKNOWN => {}
                known => break known + 1,
            }
            *depth.get_mut(tier)? = ON_PATH;
            path.push(tier);
            match parent(tier) {
                Some(up) => tier = up,
                None => break 0,
            }
        };
        // The last tier pushed is the closest to the root: it gets `base`, its child one more.
        for (steps, &tier) in path.iter().rev().enumerate() {
            *depth.get_mut(tier)? = base + steps;
        }
        path.clear();
    }
    Some(depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_print_without_trailing_zeros() {
        assert_eq!(Percentage(999_900).to_string(), "99.99%");
        assert_eq!(Percentage(50_000).to_string(), "5%");
        assert_eq!(Percentage(5_000).to_string(), "0.5%");
        assert_eq!(Percentage(1).to_string(), "0.0001%");
        assert_eq!(Percentage(800_000).of(10_000), 8_000);
        assert_eq!(Percentage::FULL.of(u64::MAX), u64::MAX);
    }

    #[test]
    fn unlimited_is_the_largest_amount() {
        assert!(Amount::Unlimited > Amount::Finite(u64::MAX));
        assert_eq!(Amount::Finite(u64::MAX).saturating_add(Amount::Finite(1)), Amount::Finite(u64::MAX));
    }
}
