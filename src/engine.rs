//! The compiled engine, built only from [`Parts`]; the request a query is about, and the
//! answers.
//!
//! [`Engine::from_source`] (or [`crate::check`] then [`crate::compile`]) builds an [`Engine`];
//! the query methods live in [`crate::eval`]. An engine is immutable: it is `Send + Sync`, its
//! tables sit behind an `Arc` so that cloning it is cheap, and reloading a policy builds a new
//! engine to swap in.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::check::Checked;
use crate::diagnostic::Diagnostics;
use crate::digest::PolicyHash;
pub(crate) use crate::held::Holding;
pub use crate::held::{Held, HeldIter};
pub use crate::ids::{AddonId, FeatureId, LimitId, SettingId, TierId};
use crate::ids::{Id, Tag};
use crate::limits::Limits;
use crate::model::{Amount, Model};
use crate::overrides::{Overrides, Subject};
use crate::parts::Parts;
use crate::source::Source;
use crate::tables::Tables;

/// Who is asking and when: everything a query needs besides the feature, limit or setting.
///
/// One type serves both kinds of query: with ids (`Request`, the default parameters, for the
/// hot path) and with names ([`NamedRequest`], for callers that do not cache ids). The engine
/// never reads the clock; `now` is given here, so answers are reproducible.
///
/// ```
/// use entitle::{Engine, NamedRequest, Request};
///
/// let engine = Engine::from_source("p", "policy \"p\"\nfeature f\ntier free { grant f }\naddon a for free { }\n")?;
/// let held = [engine.addon("a").unwrap()];
/// let by_id = Request::new(engine.tier("free").unwrap(), 1_795_255_200)
///     .with_key("app-42")
///     .with_addons(&held)
///     .with_billing_anchor(15);
/// assert_eq!(by_id.billing_anchor(), 15);
///
/// let by_name: NamedRequest = Request::new("free", 1_795_255_200).with_key("app-42").with_addons(&["a"]);
/// assert_eq!(engine.decide_by_name(&by_name, "f"), engine.decide(&by_id, engine.feature("f").unwrap()));
/// # Ok::<(), entitle::Diagnostics>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct Request<'a, Tier = TierId, Addon = AddonId> {
    pub(crate) tier: Tier,
    pub(crate) key: &'a str,
    pub(crate) holding: Holding<'a, Addon>,
    /// The subject's seat count, if given.
    pub(crate) seats: Option<u64>,
    pub(crate) billing_anchor: u8,
    pub(crate) now: i64,
    /// The subject's overrides, looked up once by [`Request::with_overrides`].
    pub(crate) overrides: Option<Subject<'a>>,
}

/// A [`Request`] that names its tier and add-ons, for the `*_by_name` queries.
pub type NamedRequest<'a> = Request<'a, &'a str, &'a str>;

impl<'a, Tier: Copy, Addon> Request<'a, Tier, Addon> {
    /// A request for a subject of `tier` at `now` (Unix seconds, UTC), with an empty key, no
    /// add-ons, and billing anchor day 1.
    pub const fn new(tier: Tier, now: i64) -> Request<'a, Tier, Addon> {
        Request { tier, key: "", holding: Holding::Ids(&[]), seats: None, billing_anchor: 1, now, overrides: None }
    }

    /// Sets the stable subject key (customer or app id) that rollouts hash and overrides are
    /// looked up by. It drops overrides taken for the previous key: call
    /// [`Request::with_overrides`] after it.
    pub const fn with_key(mut self, key: &'a str) -> Request<'a, Tier, Addon> {
        self.key = key;
        self.overrides = None;
        self
    }

    /// Takes the subject's records from a checked override set, looked up by the request's
    /// key once, here: every query on the request then applies them, and a key with no
    /// records costs the queries nothing. Replaces any overrides taken before.
    ///
    /// ```
    /// use entitle::{Amount, Engine, LimitOp, Overrides, Request, Usage};
    /// let engine = Engine::from_source("p", "policy \"p\"\nlimit calls : count per day\ntier free { limit calls = 10 }\n")?;
    /// let mut builder = Overrides::builder(&engine);
    /// builder.limit("acme", "calls", LimitOp::Set, "2_000_000").until(1_800_000_000);
    /// let overrides = builder.build()?;
    /// let request = Request::new(engine.tier("free").unwrap(), 1_795_000_000).with_key("acme").with_overrides(&overrides);
    /// let quota = engine.check_limit(&request, engine.limit("calls").unwrap(), Usage::used(0));
    /// assert_eq!((quota.limit, quota.overridden()), (Amount::Finite(2_000_000), true));
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn with_overrides(mut self, overrides: &'a Overrides) -> Request<'a, Tier, Addon> {
        self.overrides = overrides.subject(self.key);
        self
    }

    /// Drops the subject's overrides: queries answer from the plan alone.
    pub const fn without_overrides(mut self) -> Request<'a, Tier, Addon> {
        self.overrides = None;
        self
    }

    /// Whether the request carries override records for its subject.
    pub const fn has_overrides(&self) -> bool {
        self.overrides.is_some()
    }

    /// Sets the add-ons the subject holds, each once, acquired at no particular instant.
    /// Replaces any [`Request::with_held`] list.
    pub const fn with_addons(mut self, addons: &'a [Addon]) -> Request<'a, Tier, Addon> {
        self.holding = Holding::Ids(addons);
        self
    }

    /// Sets the add-ons the subject holds, each with its quantity and acquisition instant.
    /// Replaces any [`Request::with_addons`] list.
    pub const fn with_held(mut self, held: &'a [Held<Addon>]) -> Request<'a, Tier, Addon> {
        self.holding = Holding::Held(held);
        self
    }

    /// Sets the subject's seat count, by which per-seat values are multiplied. A query about a
    /// limit with a per-seat value in force and no seat count is refused (`seats_not_given`).
    pub const fn with_seats(mut self, seats: u64) -> Request<'a, Tier, Addon> {
        self.seats = Some(seats);
        self
    }

    /// Removes the seat count.
    pub const fn without_seats(mut self) -> Request<'a, Tier, Addon> {
        self.seats = None;
        self
    }

    /// Sets the day of the month (1–31) on which monthly counters reset; values outside 1–31
    /// are clamped into it, and days past a month's end mean its last day.
    pub const fn with_billing_anchor(mut self, day: u8) -> Request<'a, Tier, Addon> {
        self.billing_anchor = if day < 1 {
            1
        } else if day > 31 {
            31
        } else {
            day
        };
        self
    }

    /// Sets the instant of the query, in Unix seconds (UTC). Counter windows are computed for
    /// years 1–9999; an instant outside them gets the window at the nearest end of that range.
    pub const fn at(mut self, now: i64) -> Request<'a, Tier, Addon> {
        self.now = now;
        self
    }

    /// Sets the instant of the query from a [`SystemTime`], such as `SystemTime::now()`.
    /// Times before 1970 count back from it; times past the range of `i64` seconds clamp.
    pub fn at_time(self, time: SystemTime) -> Request<'a, Tier, Addon> {
        self.at(crate::time::unix_seconds(time))
    }

    /// Replaces the tier, keeping everything else.
    pub const fn with_tier(mut self, tier: Tier) -> Request<'a, Tier, Addon> {
        self.tier = tier;
        self
    }

    /// The subject's tier.
    pub const fn tier(&self) -> Tier {
        self.tier
    }

    /// The stable subject key.
    pub const fn key(&self) -> &'a str {
        self.key
    }

    /// The add-ons the subject holds, in order, whichever form the request gave them in.
    pub fn addons(&self) -> impl ExactSizeIterator<Item = Addon> + Clone + 'a
    where
        Addon: Copy + 'a,
    {
        self.holding.iter().map(|held| held.addon())
    }

    /// The add-ons the subject holds, each with its quantity and acquisition instant (a
    /// quantity of 1 and none for a [`Request::with_addons`] list).
    pub fn held(&self) -> HeldIter<'a, Addon>
    where
        Addon: Copy,
    {
        self.holding.iter()
    }

    /// The seat count, if the request gives one.
    pub const fn seats(&self) -> Option<u64> {
        self.seats
    }

    /// The billing anchor day, 1–31.
    pub const fn billing_anchor(&self) -> u8 {
        self.billing_anchor
    }

    /// The instant of the query, in Unix seconds (UTC).
    pub const fn now(&self) -> i64 {
        self.now
    }
}

/// Usage of a limit: how much is used so far, and how much more this request would use.
///
/// ```
/// use entitle::Usage;
/// let usage = Usage::used(990_000).requesting(20_000);
/// assert_eq!((usage.used, usage.requested), (990_000, 20_000));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[must_use]
pub struct Usage {
    /// For a gauge, the current level; for a counter, the usage in the current window; for a
    /// cap, the total.
    pub used: u64,
    /// What this request would add; 0 asks only how much is left.
    pub requested: u64,
}

impl Usage {
    /// `used` so far, requesting nothing more.
    pub const fn used(used: u64) -> Usage {
        Usage { used, requested: 0 }
    }

    /// The same usage, requesting `amount` more.
    pub const fn requesting(self, amount: u64) -> Usage {
        Usage { requested: amount, ..self }
    }
}

/// Why a question was answered the way it was.
///
/// The `snake_case` names ([`Reason::as_str`]) and the numbers (`reason as u32`) are stable:
/// the JSON protocol, the C ABI and the conformance corpus carry them. Numbers are never
/// reused; new reasons take new numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u32)]
pub enum Reason {
    /// The tier (or an ancestor) grants the feature.
    GrantedByTier = 0,
    /// A held, applying add-on grants the feature.
    GrantedByAddon = 1,
    /// The tier grants the feature by rollout, and the subject is inside it.
    GrantedByRollout = 2,
    /// Nothing grants the feature.
    NotGranted = 3,
    /// An ancestor granted the feature and the tier (or a closer ancestor) revoked it.
    Revoked = 4,
    /// The tier grants the feature by rollout, and the subject is outside it.
    OutsideRollout = 5,
    /// A held add-on would grant the feature but is not valid at `now`.
    AddonNotValid = 6,
    /// A held add-on would grant the feature but does not attach to the subject's tier.
    AddonNotForTier = 7,
    /// Usage, with the request, is within the limit.
    WithinLimit = 8,
    /// Usage, with the request, is past the limit but within the soft cap.
    Overage = 9,
    /// Usage, with the request, is past the soft cap (or the limit, for a hard limit).
    LimitExceeded = 10,
    /// The tier named or given is not in the policy.
    UnknownTier = 11,
    /// The feature named or given is not in the policy.
    UnknownFeature = 12,
    /// The limit named or given is not in the policy.
    UnknownLimit = 13,
    /// An add-on named or given is not in the policy.
    UnknownAddon = 14,
    /// The setting named or given is not in the policy.
    UnknownSetting = 15,
    /// The request holds more add-ons (named or by id) than the `held_addons` field of
    /// [`Limits`] allows.
    TooManyAddons = 16,
    /// Neither the subject's tier nor any ancestor sets the limit: the answer is a deny of 0,
    /// told apart from a limit explicitly set to 0.
    LimitNotSet = 17,
    /// The request holds one add-on more than once. Add-ons do not stack by repetition: a
    /// query that lists one twice is refused rather than answered with it counted twice (a
    /// quantity says how many are held).
    DuplicateAddon = 18,
    /// A held add-on's quantity is above the maximum its policy declares (1 unless a `max`
    /// item says more). It is refused rather than clamped.
    QuantityAboveMax = 19,
    /// The limit has a per-seat value in force and the request gives no seat count.
    SeatsNotGiven = 20,
    /// A held add-on is a trial (`valid for`) and the request does not say when the subject
    /// acquired it.
    AcquisitionNotGiven = 21,
    /// An override record for the subject grants the feature, whatever the plan says.
    GrantedByOverride = 22,
    /// An override record for the subject revokes the feature, whatever the plan says.
    RevokedByOverride = 23,
    /// The request carries overrides checked against another policy than this engine's.
    OverridesNotForEngine = 24,
}

impl Reason {
    /// Every reason, in numeric order.
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
        Reason::LimitNotSet,
        Reason::DuplicateAddon,
        Reason::QuantityAboveMax,
        Reason::SeatsNotGiven,
        Reason::AcquisitionNotGiven,
        Reason::GrantedByOverride,
        Reason::RevokedByOverride,
        Reason::OverridesNotForEngine,
    ];

    /// The stable `snake_case` name.
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
            Reason::LimitNotSet => "limit_not_set",
            Reason::DuplicateAddon => "duplicate_addon",
            Reason::QuantityAboveMax => "quantity_above_max",
            Reason::SeatsNotGiven => "seats_not_given",
            Reason::AcquisitionNotGiven => "acquisition_not_given",
            Reason::GrantedByOverride => "granted_by_override",
            Reason::RevokedByOverride => "revoked_by_override",
            Reason::OverridesNotForEngine => "overrides_not_for_engine",
        }
    }

    /// The reason with this stable name, if there is one.
    pub fn from_name(name: &str) -> Option<Reason> {
        Reason::ALL.iter().copied().find(|reason| reason.as_str() == name)
    }

    /// A lowercase sentence saying what the reason means, for error messages.
    pub const fn describe(self) -> &'static str {
        match self {
            Reason::GrantedByTier => "the tier grants it",
            Reason::GrantedByAddon => "a held add-on grants it",
            Reason::GrantedByRollout => "the subject is inside the rollout",
            Reason::NotGranted => "nothing grants it",
            Reason::Revoked => "the tier revokes it",
            Reason::OutsideRollout => "the subject is outside the rollout",
            Reason::AddonNotValid => "the add-on that grants it is not valid now",
            Reason::AddonNotForTier => "the add-on that grants it does not attach to the tier",
            Reason::WithinLimit => "usage is within the limit",
            Reason::Overage => "usage is past the limit, within the soft cap",
            Reason::LimitExceeded => "usage is past the limit",
            Reason::UnknownTier => "the policy declares no such tier",
            Reason::UnknownFeature => "the policy declares no such feature",
            Reason::UnknownLimit => "the policy declares no such limit",
            Reason::UnknownAddon => "the policy declares no such add-on",
            Reason::UnknownSetting => "the policy declares no such setting",
            Reason::TooManyAddons => "the query names more add-ons than allowed",
            Reason::LimitNotSet => "the tier does not set this limit",
            Reason::DuplicateAddon => "the query holds an add-on more than once",
            Reason::QuantityAboveMax => "a held add-on's quantity is above its maximum",
            Reason::SeatsNotGiven => "the limit is per seat and the query gives no seat count",
            Reason::AcquisitionNotGiven => "a held trial add-on has no acquisition instant",
            Reason::GrantedByOverride => "an override for the subject grants it",
            Reason::RevokedByOverride => "an override for the subject revokes it",
            Reason::OverridesNotForEngine => "the overrides were checked against another policy",
        }
    }
}

impl fmt::Display for Reason {
    /// The sentence and the stable name: `the policy declares no such tier (unknown_tier)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.describe(), self.as_str())
    }
}

/// A reason is the error of queries that return a value or nothing ([`Engine::setting_value`]).
impl std::error::Error for Reason {}

/// The answer to "may this subject use this feature?".
///
/// `#[non_exhaustive]`: later releases may add fields, so code outside the crate reads the
/// fields and never builds one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub struct Decision {
    /// Whether the feature may be used.
    pub allowed: bool,
    /// Why.
    pub reason: Reason,
}

/// A deny of `not_granted`: the placeholder that fills a buffer before
/// [`Engine::decide_many`] writes its answers, and a safe answer if one is ever read unwritten.
impl Default for Decision {
    fn default() -> Decision {
        Decision::deny(Reason::NotGranted)
    }
}

impl Decision {
    pub(crate) const fn allow(reason: Reason) -> Decision {
        Decision { allowed: true, reason }
    }

    pub(crate) const fn deny(reason: Reason) -> Decision {
        Decision { allowed: false, reason }
    }
}

/// Where usage stands against a limit, after the requested amount. Names and numbers are
/// stable, as for [`Reason`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Status {
    /// Below the warn threshold (or there is none), within the limit.
    Within = 0,
    /// At or past the warn threshold, within the limit.
    Warning = 1,
    /// Past the limit, within the soft cap: allowed as overage.
    Overage = 2,
    /// Past the soft cap, or past a hard limit: denied.
    Exceeded = 3,
}

impl Status {
    /// Every status, in numeric order.
    pub const ALL: &'static [Status] = &[Status::Within, Status::Warning, Status::Overage, Status::Exceeded];

    /// The stable `snake_case` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Within => "within",
            Status::Warning => "warning",
            Status::Overage => "overage",
            Status::Exceeded => "exceeded",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The current window of a counter: `[start, end)` in Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WindowSpan {
    /// The first instant of the window.
    pub start: i64,
    /// The first instant after it, when the counter resets; for a rolling window, the
    /// request's instant.
    pub end: i64,
}

impl WindowSpan {
    /// The window `[start, end)`, for callers that keep windows of their own (a meter's
    /// snapshot, say).
    pub const fn new(start: i64, end: i64) -> WindowSpan {
        WindowSpan { start, end }
    }
}

/// The answer to "how much of this limit is left, and may this request proceed?".
///
/// `#[non_exhaustive]`, as [`Decision`] is. The counter's window is not a field: it is
/// computed when asked for ([`Quota::window`]), so the question most callers ask ("how much is
/// left?") does not pay for calendar arithmetic it does not read.
#[derive(Clone, Copy, Debug)]
#[must_use]
#[non_exhaustive]
pub struct Quota {
    /// Whether the requested amount may be used.
    pub allowed: bool,
    /// Why: `within_limit`, `overage`, `limit_exceeded`, `limit_not_set`, or a reason the
    /// request was refused for (`unknown_*`, `seats_not_given`, …).
    pub reason: Reason,
    /// Where usage stands after the request.
    pub status: Status,
    /// The limit in force, after seats and add-ons.
    pub limit: Amount,
    /// The soft cap: `None` for a hard limit, `Some(Unlimited)` for unbounded overage.
    pub soft_cap: Option<Amount>,
    /// What is left of the limit before the request: `limit − used`, at least 0.
    pub remaining: Amount,
    /// The seat count the limit was multiplied by: `None` when no per-seat value was in force.
    pub seats: Option<u64>,
    /// Which window the counter has, as the tables' counter code (its unit and length; 0 for
    /// a gauge, a cap, or a refused request), and [`OVERRIDDEN`] when an override changed the
    /// limit: one word the answer writes anyway, so the flag costs the common answer nothing.
    pub(crate) counter: u32,
    /// The request's billing anchor, for monthly windows.
    pub(crate) anchor: u8,
    /// The request's instant.
    pub(crate) at: i64,
}

/// Two answers are equal when every field and the window are: two answers in the same window
/// at different instants are equal, as they were when the window was a field.
impl PartialEq for Quota {
    fn eq(&self, other: &Quota) -> bool {
        let Quota { allowed, reason, status, limit, soft_cap, remaining, seats, counter: _, anchor: _, at: _ } = *self;
        (allowed, reason, status, limit, soft_cap, remaining, seats)
            == (other.allowed, other.reason, other.status, other.limit, other.soft_cap, other.remaining, other.seats)
            && self.window() == other.window()
            && self.overridden() == other.overridden()
    }
}

impl Eq for Quota {}

/// The bit of [`Quota`]'s `counter` that says an override changed the limit.
pub(crate) const OVERRIDDEN: u32 = 0x80;

/// A deny of 0 for `limit_not_set`: the placeholder that fills a buffer before
/// [`Engine::check_limit_many`] writes its answers.
impl Default for Quota {
    fn default() -> Quota {
        Quota::denied(Reason::LimitNotSet)
    }
}

impl Quota {
    /// A deny of 0 for `reason`, with no window.
    pub(crate) const fn denied(reason: Reason) -> Quota {
        Quota {
            allowed: false,
            reason,
            status: Status::Exceeded,
            limit: Amount::Finite(0),
            soft_cap: None,
            remaining: Amount::Finite(0),
            seats: None,
            counter: 0,
            anchor: 1,
            at: 0,
        }
    }
}

/// What an engine holds: the tables queries read, the name indices, the checked model (for
/// names and explanations), and the limits it was built under.
#[derive(Debug)]
struct Inner {
    tables: Tables,
    names: Names,
    model: Model,
    limits: Limits,
    hash: PolicyHash,
}

/// A name → id index built once per engine (see `names.rs`).
type NameIndex = crate::names::NameTable;

#[derive(Debug)]
struct Names {
    tiers: NameIndex,
    features: NameIndex,
    limits: NameIndex,
    addons: NameIndex,
    settings: NameIndex,
}

impl Names {
    /// One table per kind of name, each made by `table` from the model's names in order.
    fn build(model: &Model, mut table: impl FnMut(&mut dyn Iterator<Item = &str>) -> NameIndex) -> Names {
        Names {
            tiers: table(&mut model.tiers.iter().map(|t| t.name.as_str())),
            features: table(&mut model.features.iter().map(|f| f.name.as_str())),
            limits: table(&mut model.limits.iter().map(|l| l.name.as_str())),
            addons: table(&mut model.addons.iter().map(|a| a.name.as_str())),
            settings: table(&mut model.settings.iter().map(|s| s.name.as_str())),
        }
    }

    /// The tables in the order [`Names::build`] makes them.
    fn all(&self) -> [&NameIndex; 5] {
        [&self.tiers, &self.features, &self.limits, &self.addons, &self.settings]
    }
}

/// Builds the decision tables for a checked policy.
///
/// Compilation cannot fail: the checker has already proved everything it relies on.
/// [`Engine::from_source`] runs [`crate::check`] and this in one call.
///
/// ```
/// let source = entitle::Source::new("p", "policy \"p\"\nfeature sso\ntier free { grant sso }\n");
/// let engine = entitle::compile(&entitle::check(&source)?);
/// assert!(engine.tier("free").is_some());
/// assert!(engine.tier("gold").is_none());
/// # Ok::<(), entitle::Diagnostics>(())
/// ```
pub fn compile(checked: &Checked) -> Engine {
    Engine::from_parts(crate::compile::parts(checked), checked.limits().clone())
}

/// A compiled policy: immutable decision tables that answer feature, limit and setting
/// questions without allocating, hashing strings or locking.
///
/// Cloning is cheap (the tables are shared behind an `Arc`), and an engine is `Send + Sync`.
///
/// ```
/// use entitle::{Amount, Engine, Request, Status, Usage};
///
/// let engine = Engine::from_source("p.policy", r#"
/// policy "p"
/// feature hd_video
/// limit api_calls : count per day
/// tier free { limit api_calls = 10_000 }
/// tier pro extends free {
///     grant hd_video
///     limit api_calls = 1_000_000 soft 1_200_000
/// }
/// "#)?;
///
/// // Resolve names once, up front.
/// let pro = engine.tier("pro").unwrap();
/// let hd_video = engine.feature("hd_video").unwrap();
/// let api_calls = engine.limit("api_calls").unwrap();
///
/// // Then answer on the hot path.
/// let request = Request::new(pro, 1_795_255_200).with_key("app-42");
/// assert!(engine.is_allowed(&request, hd_video));
///
/// let quota = engine.check_limit(&request, api_calls, Usage::used(990_000).requesting(20_000));
/// assert!(quota.allowed);
/// assert_eq!(quota.status, Status::Overage);
/// assert_eq!(quota.remaining, Amount::Finite(10_000));
/// # Ok::<(), entitle::Diagnostics>(())
/// ```
#[derive(Clone, Debug)]
pub struct Engine {
    inner: Arc<Inner>,
    /// The grant bits again (shared, not copied), beside the handle: `is_allowed` reads them
    /// without first loading `inner`, one dependent load fewer on the commonest question.
    grants: crate::tables::HotGrants,
    /// The tag in every id this engine hands out, beside the grant bits for the same reason:
    /// reading an id costs no load through `inner`.
    tag: Tag,
}

impl Engine {
    /// The one door into an engine: parts that [`Parts::validate`] admitted, or that
    /// [`compile`] laid out from a checked policy, with the limits queries keep to.
    pub(crate) fn from_parts(parts: Parts, limits: Limits) -> Engine {
        let (model, tables, seeds, hash) = parts.into_inner();
        let mut seeds = seeds.map(<[_; 5]>::into_iter);
        let names = Names::build(&model, |names| match seeds.as_mut().and_then(Iterator::next) {
            Some(seed) => NameIndex::with_seed(names, seed),
            None => NameIndex::new(names),
        });
        let tag = Tag::of(&hash);
        let inner = Inner { tables, names, model, limits, hash };
        let grants = inner.tables.hot_grants();
        Engine { inner: Arc::new(inner), grants, tag }
    }

    /// The seed of each name table, in the order [`Parts::seeds`] holds them, for a bundle.
    pub(crate) fn name_seeds(&self) -> [(u64, bool); 5] {
        self.inner.names.all().map(NameIndex::seed)
    }

    /// The SHA-256 of the policy's source text: the policy every answer of this engine comes
    /// from, for audit logs. Engines compiled from the same text, or loaded from a bundle of
    /// it, have the same hash.
    pub fn policy_hash(&self) -> PolicyHash {
        self.inner.hash
    }

    /// Parses, checks and compiles a policy in one call, under the default [`Limits`].
    ///
    /// `name` is how diagnostics refer to the text, usually its path. The error lists every
    /// problem; its `Display` names the first error's `file:line:col`. Warnings do not fail
    /// a load; [`crate::check`] returns them.
    ///
    /// ```
    /// let error = entitle::Engine::from_source("plans.policy", "policy \"p\"\ntier free { grant sso }\n").unwrap_err();
    /// assert_eq!(error.to_string(), "plans.policy:2:19: error[E004]: unknown feature `sso`");
    /// ```
    pub fn from_source(name: &str, text: &str) -> Result<Engine, Diagnostics> {
        Engine::from_source_with(name, text, &Limits::default())
    }

    /// [`Engine::from_source`] under the given limits.
    pub fn from_source_with(name: &str, text: &str, limits: &Limits) -> Result<Engine, Diagnostics> {
        let checked = crate::check::check_with(&Source::new(name, text), limits)?;
        Ok(compile(&checked))
    }

    /// The tier named `name`, if the policy declares it.
    #[inline]
    pub fn tier(&self, name: &str) -> Option<TierId> {
        self.inner.names.tiers.get(name).map(|index| TierId(self.tag.tagged(index)))
    }

    /// The feature named `name`, if the policy declares it.
    #[inline]
    pub fn feature(&self, name: &str) -> Option<FeatureId> {
        self.inner.names.features.get(name).map(|index| FeatureId(self.tag.tagged(index)))
    }

    /// The limit named `name`, if the policy declares it.
    #[inline]
    pub fn limit(&self, name: &str) -> Option<LimitId> {
        self.inner.names.limits.get(name).map(|index| LimitId(self.tag.tagged(index)))
    }

    /// The add-on named `name`, if the policy declares it.
    #[inline]
    pub fn addon(&self, name: &str) -> Option<AddonId> {
        self.inner.names.addons.get(name).map(|index| AddonId(self.tag.tagged(index)))
    }

    /// The setting named `name`, if the policy declares it.
    #[inline]
    pub fn setting(&self, name: &str) -> Option<SettingId> {
        self.inner.names.settings.get(name).map(|index| SettingId(self.tag.tagged(index)))
    }

    /// The policy's name, from its `policy` header.
    pub fn policy_name(&self) -> &str {
        &self.inner.model.name
    }

    /// The policy's version, from its `policy` header, if it gives one.
    pub fn policy_version(&self) -> Option<&str> {
        self.inner.model.version.as_deref()
    }

    /// Every tier, in declaration order, with its name.
    ///
    /// ```
    /// let engine = entitle::Engine::from_source("p", "policy \"p\"\ntier free { }\ntier pro extends free { }\n")?;
    /// let names: Vec<&str> = engine.tiers().map(|(_, name)| name).collect();
    /// assert_eq!(names, ["free", "pro"]);
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn tiers(&self) -> impl ExactSizeIterator<Item = (TierId, &str)> + '_ {
        self.inner.model.tiers.iter().enumerate().map(|(i, t)| (TierId(self.tag.id(i)), t.name.as_str()))
    }

    /// Every feature, in declaration order, with its name.
    pub fn features(&self) -> impl ExactSizeIterator<Item = (FeatureId, &str)> + '_ {
        self.inner.model.features.iter().enumerate().map(|(i, f)| (FeatureId(self.tag.id(i)), f.name.as_str()))
    }

    /// Every limit, in declaration order, with its name.
    pub fn limits(&self) -> impl ExactSizeIterator<Item = (LimitId, &str)> + '_ {
        self.inner.model.limits.iter().enumerate().map(|(i, l)| (LimitId(self.tag.id(i)), l.name.as_str()))
    }

    /// Every add-on, in declaration order, with its name.
    pub fn addons(&self) -> impl ExactSizeIterator<Item = (AddonId, &str)> + '_ {
        self.inner.model.addons.iter().enumerate().map(|(i, a)| (AddonId(self.tag.id(i)), a.name.as_str()))
    }

    /// Every setting, in declaration order, with its name.
    pub fn settings(&self) -> impl ExactSizeIterator<Item = (SettingId, &str)> + '_ {
        self.inner.model.settings.iter().enumerate().map(|(i, s)| (SettingId(self.tag.id(i)), s.name.as_str()))
    }

    /// The name of a tier, or `None` for an id this engine does not have.
    pub fn tier_name(&self, id: TierId) -> Option<&str> {
        self.inner.model.tiers.get(self.index(id)).map(|t| t.name.as_str())
    }

    /// The name of a feature, or `None` for an id this engine does not have.
    pub fn feature_name(&self, id: FeatureId) -> Option<&str> {
        self.inner.model.features.get(self.index(id)).map(|f| f.name.as_str())
    }

    /// The name of a limit, or `None` for an id this engine does not have.
    pub fn limit_name(&self, id: LimitId) -> Option<&str> {
        self.inner.model.limits.get(self.index(id)).map(|l| l.name.as_str())
    }

    /// Whether a limit is a gauge (a level, checked against the current value, which a
    /// service raises and lowers); `false` for a counter, a cap, and an id this engine does
    /// not have.
    pub fn is_gauge(&self, id: LimitId) -> bool {
        self.inner.model.limits.get(self.index(id)).is_some_and(|l| l.kind == crate::model::LimitKind::Gauge)
    }

    /// Whether a limit counts over a rolling window (`rolling 7 days`), its own or, for a
    /// limit that draws on a pool, its pool's; `false` for any other limit and an id this
    /// engine does not have.
    ///
    /// ```
    /// let engine = entitle::Engine::from_source("p", "policy \"p\"\nlimit a : count rolling 7 days\nlimit b : count per day\n")?;
    /// assert!(engine.is_rolling(engine.limit("a").unwrap()));
    /// assert!(!engine.is_rolling(engine.limit("b").unwrap()));
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn is_rolling(&self, id: LimitId) -> bool {
        let (counted, _) = self.pool_terms(id, 0);
        let limit = self.inner.model.limits.get(self.index(counted));
        limit.is_some_and(|l| matches!(l.kind, crate::model::LimitKind::Rolling(_)))
    }

    /// The name of an add-on, or `None` for an id this engine does not have.
    pub fn addon_name(&self, id: AddonId) -> Option<&str> {
        self.inner.model.addons.get(self.index(id)).map(|a| a.name.as_str())
    }

    /// Whether add-on `addon` attaches to `tier`: the tier or one of its ancestors is listed
    /// after the add-on's `for`. `false` for ids this engine does not have.
    ///
    /// ```
    /// let engine = entitle::Engine::from_source("p", "policy \"p\"\ntier free { }\ntier pro extends free { }\ntier solo { }\naddon more for free { }\n")?;
    /// let more = engine.addon("more").unwrap();
    /// assert!(engine.attaches(more, engine.tier("pro").unwrap()));
    /// assert!(!engine.attaches(more, engine.tier("solo").unwrap()));
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn attaches(&self, addon: AddonId, tier: TierId) -> bool {
        let counts = self.inner.tables.counts();
        self.index(addon) < counts.addons
            && self.index(tier) < counts.tiers
            && self.inner.tables.attaches(self.index(addon), self.index(tier))
    }

    /// The name of a setting, or `None` for an id this engine does not have.
    pub fn setting_name(&self, id: SettingId) -> Option<&str> {
        self.inner.model.settings.get(self.index(id)).map(|s| s.name.as_str())
    }

    /// The limits the engine was built under; by-name queries and the JSON protocol keep to
    /// them.
    pub fn input_limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The size in bytes of the decision tables a query reads (bitsets, limit rows and
    /// entries, add-on tables, settings), not counting the name indices and the model kept
    /// for explanations.
    pub fn table_bytes(&self) -> usize {
        self.inner.tables.bytes()
    }

    /// The index an id of any kind names in this engine's tables: its own ids' index, and
    /// for any other number one past every table (see `ids.rs`).
    #[inline]
    pub(crate) fn index(&self, id: impl Id) -> usize {
        self.tag.index(id.number())
    }

    /// The tag in every id this engine hands out.
    pub(crate) const fn tag(&self) -> Tag {
        self.tag
    }

    /// The id of any kind this engine hands out for the item at `index`.
    pub(crate) fn id_at<I: Id>(&self, index: usize) -> I {
        I::from_number(self.tag.id(index))
    }

    /// The grant bits, one pointer hop closer than through [`Engine::tables`].
    #[inline]
    pub(crate) fn hot_grants(&self) -> &crate::tables::HotGrants {
        &self.grants
    }

    #[inline]
    pub(crate) fn tables(&self) -> &Tables {
        &self.inner.tables
    }

    pub(crate) fn model(&self) -> &Model {
        &self.inner.model
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_can_be_shared_across_threads_and_clones_share_tables() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Engine>();
        let engine = Engine::from_source("p", "policy \"p\"\ntier free { }\n").expect("checks");
        let copy = engine.clone();
        assert!(Arc::ptr_eq(&engine.inner, &copy.inner));
    }

    /// The numbers are part of the C ABI and never change; a new variant takes a new number.
    #[test]
    fn reason_and_status_numbers_are_pinned() {
        let reasons: Vec<(u32, &str)> = Reason::ALL.iter().map(|&r| (r as u32, r.as_str())).collect();
        assert_eq!(
            reasons,
            [
                (0, "granted_by_tier"),
                (1, "granted_by_addon"),
                (2, "granted_by_rollout"),
                (3, "not_granted"),
                (4, "revoked"),
                (5, "outside_rollout"),
                (6, "addon_not_valid"),
                (7, "addon_not_for_tier"),
                (8, "within_limit"),
                (9, "overage"),
                (10, "limit_exceeded"),
                (11, "unknown_tier"),
                (12, "unknown_feature"),
                (13, "unknown_limit"),
                (14, "unknown_addon"),
                (15, "unknown_setting"),
                (16, "too_many_addons"),
                (17, "limit_not_set"),
                (18, "duplicate_addon"),
                (19, "quantity_above_max"),
                (20, "seats_not_given"),
                (21, "acquisition_not_given"),
                (22, "granted_by_override"),
                (23, "revoked_by_override"),
                (24, "overrides_not_for_engine"),
            ]
        );
        let statuses: Vec<(u32, &str)> = Status::ALL.iter().map(|&s| (s as u32, s.as_str())).collect();
        assert_eq!(statuses, [(0, "within"), (1, "warning"), (2, "overage"), (3, "exceeded")]);
        for reason in Reason::ALL {
            assert_eq!(Reason::from_name(reason.as_str()), Some(*reason));
        }
    }

    #[test]
    fn ids_round_trip_through_u32() {
        assert_eq!(u32::from(TierId::from_u32(7)), 7);
        assert_eq!(FeatureId::from(3).as_u32(), 3);
    }

    #[test]
    fn system_times_become_unix_seconds() {
        use std::time::Duration;
        let at = |t: SystemTime| Request::<TierId, AddonId>::new(TierId(0), 0).at_time(t).now();
        assert_eq!(at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_255_200)), 1_795_255_200);
        assert_eq!(at(SystemTime::UNIX_EPOCH - Duration::from_millis(1)), -1);
        assert_eq!(at(SystemTime::UNIX_EPOCH - Duration::from_secs(5)), -5);
    }
}
