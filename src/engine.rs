//! The compiled engine: dense ids, the query context, the answers, and the decision tables.
//!
//! [`crate::compile`] builds an [`Engine`] from a [`crate::Checked`] policy; the query methods
//! live in [`crate::eval`]. Everything here is immutable after compilation, so an `Engine` is
//! `Send + Sync` and is shared behind an `Arc`; reloading builds a new one and swaps it in.

use std::fmt;

use serde::Serialize;

use crate::model::{Amount, LimitKind, Model, Preference, SettingValue};

macro_rules! ids {
    ($($(#[doc = $doc:literal])* $name:ident;)*) => {$(
        $(#[doc = $doc])*
        ///
        /// Ids are dense indices into one engine's tables. An id from another engine is never
        /// undefined behaviour: if it is out of range the answer is a deny with an `unknown_*`
        /// reason.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) u32);

        impl $name {
            /// The position of this id in declaration order.
            pub const fn index(self) -> usize {
                self.0 as usize
            }
        }
    )*};
}

ids! {
    /// A tier, resolved once with [`Engine::tier`].
    TierId;
    /// A feature, resolved once with [`Engine::feature`].
    FeatureId;
    /// A limit, resolved once with [`Engine::limit`].
    LimitId;
    /// An add-on, resolved once with [`Engine::addon`].
    AddonId;
    /// A setting, resolved once with [`Engine::setting`].
    SettingId;
}

/// Who is asking and when: everything a query needs besides the feature or limit.
///
/// The engine never reads the clock; `now` is supplied here, so answers are reproducible.
///
/// ```
/// # let checked = entitle::check(&entitle::Source::new("p", "policy \"p\"\nfeature f\ntier free { grant f }\naddon a for free { }\n")).unwrap();
/// # let engine = entitle::compile(&checked);
/// let free = engine.tier("free").unwrap();
/// let held = [engine.addon("a").unwrap()];
/// let ctx = entitle::Context::new(free, 1_795_000_000).with_key("app-42").with_addons(&held).with_billing_anchor(15);
/// assert_eq!(ctx.billing_anchor, 15);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context<'a> {
    /// The subject's tier.
    pub tier: TierId,
    /// The stable subject key (customer or app id); rollouts hash it.
    pub key: &'a str,
    /// The add-ons the subject holds.
    pub addons: &'a [AddonId],
    /// The day of the month (1–31) monthly counters reset on; days past a month's end clamp to
    /// its last day.
    pub billing_anchor: u8,
    /// The instant of the query, in Unix seconds (UTC). Counter windows are computed for years
    /// 1–9999; an instant outside them gets the window at the nearest end of that range.
    pub now: i64,
}

impl<'a> Context<'a> {
    /// A context for `tier` at `now`, with an empty key, no add-ons and billing anchor day 1.
    pub const fn new(tier: TierId, now: i64) -> Context<'a> {
        Context { tier, key: "", addons: &[], billing_anchor: 1, now }
    }

    /// Sets the subject key.
    pub const fn with_key(mut self, key: &'a str) -> Context<'a> {
        self.key = key;
        self
    }

    /// Sets the add-ons held.
    pub const fn with_addons(mut self, addons: &'a [AddonId]) -> Context<'a> {
        self.addons = addons;
        self
    }

    /// Sets the billing anchor day; values outside 1–31 are clamped into it.
    pub const fn with_billing_anchor(mut self, day: u8) -> Context<'a> {
        self.billing_anchor = if day < 1 {
            1
        } else if day > 31 {
            31
        } else {
            day
        };
        self
    }
}

/// Why a question was answered the way it was. Serialised in `snake_case`, these are part of
/// the stable interface (the `eval` protocol, the C ABI, the conformance corpus).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// The tier (or an ancestor) grants the feature.
    GrantedByTier,
    /// A held, applying add-on grants the feature.
    GrantedByAddon,
    /// The tier grants the feature by rollout, and the subject is inside it.
    GrantedByRollout,
    /// Nothing grants the feature.
    NotGranted,
    /// An ancestor granted the feature and the tier (or a closer ancestor) revoked it.
    Revoked,
    /// The tier grants the feature by rollout, and the subject is outside it.
    OutsideRollout,
    /// A held add-on would grant the feature but is not valid at `now`.
    AddonNotValid,
    /// A held add-on would grant the feature but does not attach to the subject's tier.
    AddonNotForTier,
    /// Usage, with the request, is within the limit.
    WithinLimit,
    /// Usage, with the request, is past the limit but within the soft cap.
    Overage,
    /// Usage, with the request, is past the soft cap (or the limit, for a hard limit).
    LimitExceeded,
    /// The tier named or given is not in the policy.
    UnknownTier,
    /// The feature named or given is not in the policy.
    UnknownFeature,
    /// The limit named or given is not in the policy.
    UnknownLimit,
    /// An add-on named or given is not in the policy.
    UnknownAddon,
    /// The setting named or given is not in the policy.
    UnknownSetting,
    /// More add-ons were named than [`crate::eval::MAX_HELD_ADDONS`].
    TooManyAddons,
}

impl Reason {
    /// Every reason.
    pub const ALL: &'static [Reason] = &[
        Reason::GrantedByTier,
        Reason::GrantedByAddon,
        Reason::GrantedByRollout,
        Reason::NotGranted,
        Reason::Revoked,
        Reason::OutsideRollout,
        Reason::AddonNotValid,
        Reason::AddonNotForTier,
        Reason::WithinLimit,
        Reason::Overage,
        Reason::LimitExceeded,
        Reason::UnknownTier,
        Reason::UnknownFeature,
        Reason::UnknownLimit,
        Reason::UnknownAddon,
        Reason::UnknownSetting,
        Reason::TooManyAddons,
    ];

    /// The stable `snake_case` name, as serialised.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::GrantedByTier => "granted_by_tier",
            Reason::GrantedByAddon => "granted_by_addon",
            Reason::GrantedByRollout => "granted_by_rollout",
            Reason::NotGranted => "not_granted",
            Reason::Revoked => "revoked",
            Reason::OutsideRollout => "outside_rollout",
            Reason::AddonNotValid => "addon_not_valid",
            Reason::AddonNotForTier => "addon_not_for_tier",
            Reason::WithinLimit => "within_limit",
            Reason::Overage => "overage",
            Reason::LimitExceeded => "limit_exceeded",
            Reason::UnknownTier => "unknown_tier",
            Reason::UnknownFeature => "unknown_feature",
            Reason::UnknownLimit => "unknown_limit",
            Reason::UnknownAddon => "unknown_addon",
            Reason::UnknownSetting => "unknown_setting",
            Reason::TooManyAddons => "too_many_addons",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer to "may this subject use this feature?".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Whether the feature may be used.
    pub allowed: bool,
    /// Why.
    pub reason: Reason,
}

impl Decision {
    pub(crate) const fn allow(reason: Reason) -> Decision {
        Decision { allowed: true, reason }
    }

    pub(crate) const fn deny(reason: Reason) -> Decision {
        Decision { allowed: false, reason }
    }
}

/// Where usage stands against a limit, after the requested amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Below the warn threshold (or there is none), within the limit.
    Within,
    /// At or past the warn threshold, within the limit.
    Warning,
    /// Past the limit, within the soft cap: allowed as overage.
    Overage,
    /// Past the soft cap, or past a hard limit: denied.
    Exceeded,
}

impl Status {
    /// The stable `snake_case` name, as serialised.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Within => "within",
            Status::Warning => "warning",
            Status::Overage => "overage",
            Status::Exceeded => "exceeded",
        }
    }
}

/// The current window of a counter: `[start, end)` in Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WindowSpan {
    /// The first instant of the window.
    pub start: i64,
    /// The first instant after it, when the counter resets.
    pub end: i64,
}

/// The answer to "how much of this limit is left, and may this request proceed?".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Quota {
    /// Whether the requested amount may be used.
    pub allowed: bool,
    /// Why: `within_limit`, `overage`, `limit_exceeded`, or an `unknown_*` reason.
    pub reason: Reason,
    /// Where usage stands after the request.
    pub status: Status,
    /// The limit in force, after add-ons.
    pub limit: Amount,
    /// The soft cap: `None` for a hard limit, `Some(Unlimited)` for unbounded overage.
    pub soft_cap: Option<Amount>,
    /// What is left of the limit before the request: `limit − used`, at least 0.
    pub remaining: Amount,
    /// For counters, the current window; `None` for gauges and caps.
    pub window: Option<WindowSpan>,
}

impl Quota {
    pub(crate) const fn unknown(reason: Reason) -> Quota {
        Quota {
            allowed: false,
            reason,
            status: Status::Exceeded,
            limit: Amount::Finite(0),
            soft_cap: None,
            remaining: Amount::Finite(0),
            window: None,
        }
    }
}

/// One limit entry in the tables: what a tier sets, with its warn threshold kept as a share so
/// that it can follow the limit when add-ons raise it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct LimitEntry {
    pub value: Amount,
    pub soft: Option<Amount>,
    /// Millionths of the limit, or `None`.
    pub warn: Option<u32>,
}

/// What one add-on does to one limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct AddonDelta {
    /// `=`: the limit is raised to at least this.
    pub at_least: Option<Amount>,
    /// `+=`: this is added.
    pub add: Option<Amount>,
}

/// Index of the "granted to every subject" word in [`Engine::grants`].
pub(crate) const GRANTED: usize = 0;
/// Index of the "granted by rollout" word in [`Engine::grants`].
pub(crate) const ROLLOUT: usize = 1;

/// A name → id index, hashed with FxHash. Lookups never insert and the keys are the policy's
/// own names, so a fast, non-DoS-resistant hash is safe here.
pub(crate) type NameIndex = rustc_hash::FxHashMap<Box<str>, u32>;

/// A compiled policy: immutable decision tables answering feature, limit and setting
/// questions without allocating, hashing strings or locking.
///
/// ```
/// use entitle::{Amount, Context, Source, Status};
///
/// let policy = Source::new("p", r#"
/// policy "p"
/// feature hd_video
/// limit api_calls : count per day
/// tier free { limit api_calls = 10_000 }
/// tier pro extends free {
///     grant hd_video
///     limit api_calls = 1_000_000 soft 1_200_000
/// }
/// "#);
/// let engine = entitle::compile(&entitle::check(&policy)?);
///
/// // Resolve names once, up front.
/// let pro = engine.tier("pro").unwrap();
/// let hd_video = engine.feature("hd_video").unwrap();
/// let api_calls = engine.limit("api_calls").unwrap();
///
/// // Then answer on the hot path.
/// let now = entitle::time::parse_instant("2026-11-21T10:00:00Z").unwrap();
/// let ctx = Context::new(pro, now).with_key("app-42");
/// assert!(engine.is_allowed(&ctx, hd_video));
///
/// let quota = engine.check_limit(&ctx, api_calls, 990_000, 20_000);
/// assert!(quota.allowed);
/// assert_eq!(quota.status, Status::Overage);
/// assert_eq!(quota.remaining, Amount::Finite(10_000));
/// # Ok::<(), entitle::Diagnostics>(())
/// ```
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) model: Model,

    pub(crate) tier_index: NameIndex,
    pub(crate) feature_index: NameIndex,
    pub(crate) limit_index: NameIndex,
    pub(crate) addon_index: NameIndex,
    pub(crate) setting_index: NameIndex,

    /// u64 words per feature bitset.
    pub(crate) feature_words: usize,
    /// Per tier, bitsets of the features it grants to every subject (`[GRANTED]`) and by rollout
    /// (`[ROLLOUT]`), tier-major. The two words of one position sit side by side, so a feature
    /// check reads one cache line behind one bounds check.
    pub(crate) grants: Vec<[u64; 2]>,
    /// Per tier, the features it revokes (for reasons only).
    pub(crate) revoked: Vec<u64>,
    /// Per feature, the rollout hash state after its name (see `rollout::seed`).
    pub(crate) rollout_seeds: Vec<u64>,
    /// Rollout thresholds in millionths, sorted by (tier, feature) for binary search.
    pub(crate) rollout_thresholds: Vec<(u32, u32, u32)>,

    pub(crate) limit_count: usize,
    pub(crate) limit_kinds: Vec<LimitKind>,
    /// Per tier × limit, an index into `limit_entries` (0 is "not set": a hard limit of 0).
    pub(crate) limit_rows: Vec<u32>,
    /// Distinct limit entries, shared by every tier that inherits the same one.
    pub(crate) limit_entries: Vec<LimitEntry>,

    /// u64 words per tier bitset.
    pub(crate) tier_words: usize,
    /// Per add-on, the tiers it attaches to (those listed and their descendants).
    pub(crate) addon_tiers: Vec<u64>,
    /// Per add-on, the features it grants.
    pub(crate) addon_features: Vec<u64>,
    /// Per add-on × limit, what it does to the limit.
    pub(crate) addon_deltas: Vec<AddonDelta>,
    /// Per add-on, `[from, until)` in Unix seconds.
    pub(crate) addon_valid: Vec<(i64, i64)>,
    /// Per add-on, the settings it sets.
    pub(crate) addon_settings: Vec<Vec<(u32, SettingValue)>>,

    pub(crate) setting_count: usize,
    /// Per tier × setting, the value after inheritance.
    pub(crate) settings: Vec<Option<SettingValue>>,
    pub(crate) setting_prefs: Vec<Option<Preference>>,
}

impl Engine {
    /// The tier named `name`, if the policy declares it.
    pub fn tier(&self, name: &str) -> Option<TierId> {
        self.tier_index.get(name).copied().map(TierId)
    }

    /// The feature named `name`, if the policy declares it.
    pub fn feature(&self, name: &str) -> Option<FeatureId> {
        self.feature_index.get(name).copied().map(FeatureId)
    }

    /// The limit named `name`, if the policy declares it.
    pub fn limit(&self, name: &str) -> Option<LimitId> {
        self.limit_index.get(name).copied().map(LimitId)
    }

    /// The add-on named `name`, if the policy declares it.
    pub fn addon(&self, name: &str) -> Option<AddonId> {
        self.addon_index.get(name).copied().map(AddonId)
    }

    /// The setting named `name`, if the policy declares it.
    pub fn setting(&self, name: &str) -> Option<SettingId> {
        self.setting_index.get(name).copied().map(SettingId)
    }

    /// The checked model the engine was compiled from (names, spans, declarations).
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The size in bytes of the decision tables a query reads (bitsets, limit rows and
    /// entries, add-on tables, settings), not counting the name indices and the model kept
    /// for explanations.
    pub fn table_bytes(&self) -> usize {
        use std::mem::size_of;
        let words = self.grants.len() * 2 + self.revoked.len();
        let addon_words = self.addon_tiers.len() + self.addon_features.len();
        let addon_settings: usize =
            self.addon_settings.iter().map(|s| s.len() * size_of::<(u32, SettingValue)>()).sum();
        (words + addon_words) * size_of::<u64>()
            + self.rollout_thresholds.len() * size_of::<(u32, u32, u32)>()
            + self.limit_rows.len() * size_of::<u32>()
            + self.limit_entries.len() * size_of::<LimitEntry>()
            + self.addon_deltas.len() * size_of::<AddonDelta>()
            + self.addon_valid.len() * size_of::<(i64, i64)>()
            + addon_settings
            + self.settings.len() * size_of::<Option<SettingValue>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Engine>();
    }
}
