//! Answering questions from the compiled tables.
//!
//! The id-based methods ([`Engine::is_allowed`], [`Engine::decide`], [`Engine::check_limit`],
//! [`Engine::setting_value`]) are the hot path: they read the [`crate::tables::Tables`] with
//! pre-resolved ids, never allocate, never hash a string (the rollout bucket hashes the
//! subject key, which is the point of a rollout), and never lock. The `*_by_name` methods
//! resolve names first, for callers that do not cache ids; they do not allocate either.

mod batch;
mod explain;
mod window;

pub use batch::BufferTooSmall;
pub use explain::{Explanation, Step, Upgrade};

use crate::engine::*;
use crate::limits::Limits;
use crate::model::{Amount, LimitKind, SettingValue};
use crate::rollout;
use crate::tables::LimitEntry;

impl Engine {
    /// Checks the ids in a request, in the order `docs/language.md` gives: the tier is known,
    /// the add-ons are within the `held_addons` limit, each is known, none is held twice.
    pub(crate) fn validate(&self, request: &Request<'_>) -> Result<usize, Reason> {
        let counts = self.tables().counts();
        let tier = self.index(request.tier);
        if tier >= counts.tiers {
            return Err(Reason::UnknownTier);
        }
        let addons = request.addons;
        if addons.is_empty() {
            return Ok(tier);
        }
        // The limit bounds the duplicate check below (quadratic in the add-ons held), and
        // answers a request by id as the same request by name is answered.
        if addons.len() > self.input_limits().held_addons() {
            return Err(Reason::TooManyAddons);
        }
        // One pass finds unknown add-ons and marks each known one's position modulo 64: two
        // add-ons on one mark may be the same, which the exact (cold) check then decides.
        let (mut seen, mut clash) = (0u64, false);
        for addon in addons {
            let a = self.index(*addon);
            if a >= counts.addons {
                return Err(Reason::UnknownAddon);
            }
            let mark = 1u64 << (a % 64);
            clash |= seen & mark != 0;
            seen |= mark;
        }
        if clash && held_twice(addons) {
            return Err(Reason::DuplicateAddon);
        }
        Ok(tier)
    }

    /// Whether add-on `addon` is valid at `now`: inside its half-open `[from, until)`.
    ///
    /// An add-on with no end is stored with `until = i64::MAX` and is valid at every instant
    /// from its start, `i64::MAX` included.
    pub(crate) fn valid_at(&self, addon: usize, now: i64) -> bool {
        let (from, until) = self.tables().addon_validity(addon);
        from <= now && (now < until || until == i64::MAX)
    }

    /// Whether a held add-on applies to the subject: it attaches to the tier and is valid now.
    pub(crate) fn applies(&self, addon: usize, tier: usize, now: i64) -> bool {
        self.tables().attaches(addon, tier) && self.valid_at(addon, now)
    }

    /// Whether the subject may use `feature`.
    ///
    /// The same as `decide(request, feature).allowed`; unknown ids are `false`, and
    /// [`Engine::decide`] says why.
    ///
    /// ```
    /// let engine = entitle::Engine::from_source("p", "policy \"p\"\nfeature f\nfeature g\ntier free { grant f }\n")?;
    /// let request = entitle::Request::new(engine.tier("free").unwrap(), 0);
    /// assert!(engine.is_allowed(&request, engine.feature("f").unwrap()));
    /// assert!(!engine.is_allowed(&request, engine.feature("g").unwrap()));
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    #[inline]
    #[must_use]
    pub fn is_allowed(&self, request: &Request<'_>, feature: FeatureId) -> bool {
        // The common case first: with no add-ons held, the tier's grant bits answer, and a
        // rollout bit sends the key through the bucket hash. The tier is not checked: an
        // out-of-range tier reads past the grant table, whose getter answers "no bits", which is
        // `false`, as `decide` (unknown tier) would say. The feature is checked, since a feature
        // past the row's end would read another tier's bits. Anything else takes the full
        // decision, so the answer is always the same as `decide`'s.
        let f = self.index(feature);
        if request.addons.is_empty() && f < self.hot_grants().features() {
            return self.granted_to_tier(self.index(request.tier), f, request.key);
        }
        self.allowed_with_addons(request, feature)
    }

    /// Whether the tier's grant bits, or its rollout for the subject `key`, allow feature `f`
    /// (a known feature; an unknown tier reads no bits): `is_allowed` with no add-on held.
    #[inline(always)]
    pub(super) fn granted_to_tier(&self, tier: usize, f: usize, key: &str) -> bool {
        let bits = self.hot_grants().get(tier, f);
        if bits.granted {
            return true;
        }
        bits.rollout && self.inside_rollout(tier, f, key)
    }

    /// [`Engine::is_allowed`] for a request that holds add-ons (or names an unknown feature):
    /// [`Engine::decide`]'s rules in its order, without the reasons it keeps for a deny.
    // Out of line, so that the no-add-on path above keeps its small frame.
    #[inline(never)]
    fn allowed_with_addons(&self, request: &Request<'_>, feature: FeatureId) -> bool {
        self.validate(request).is_ok_and(|tier| self.allowed_for_tier(request, tier, feature))
    }

    /// [`Engine::is_allowed`] for a request whose ids [`Engine::validate`] accepted as tier
    /// `tier`.
    // Always inlined: the batch calls use it too, and left to LLVM, two callers made it a call
    // on `is_allowed`'s add-on path.
    #[inline(always)]
    pub(crate) fn allowed_for_tier(&self, request: &Request<'_>, tier: usize, feature: FeatureId) -> bool {
        let tables = self.tables();
        let f = self.index(feature);
        if f >= tables.counts().features {
            return false;
        }
        let bits = tables.grant(tier, f);
        if bits.granted || (bits.rollout && self.inside_rollout(tier, f, request.key)) {
            return true;
        }
        let now = request.now;
        request
            .addons
            .iter()
            .any(|addon| tables.addon_grants(self.index(*addon), f) && self.applies(self.index(*addon), tier, now))
    }

    /// Whether `key` is inside the tier's rollout of feature `f` (both known).
    // Out of line: inlined, the hash's registers made every `is_allowed` save and restore
    // three of them, granted or not (7 more instructions on the granted path, measured).
    #[inline(never)]
    fn inside_rollout(&self, tier: usize, f: usize, key: &str) -> bool {
        self.hot_grants()
            .rollout(tier, f)
            .is_some_and(|grant| rollout::bucket_from_seed(grant.seed, key) < grant.threshold)
    }

    /// Whether the subject may use `feature`, and why.
    ///
    /// In order: an unknown tier, feature or add-on denies; the tier's grant allows; a rollout
    /// the subject is inside allows; a held add-on that attaches to the tier, is valid at
    /// `now` and grants the feature allows. Otherwise the reason is, in order of precedence:
    /// a held add-on that would grant it but does not attach to the tier
    /// (`addon_not_for_tier`) or is not valid now (`addon_not_valid`); then `revoked`,
    /// `outside_rollout`, or `not_granted`.
    ///
    /// ```
    /// use entitle::{Engine, Reason, Request};
    /// let engine = Engine::from_source("p", "policy \"p\"\nfeature f\ntier free { }\ntier pro extends free { grant f }\naddon boost for free { grant f valid until 2026-01-01 }\n")?;
    /// let f = engine.feature("f").unwrap();
    /// let boost = [engine.addon("boost").unwrap()];
    /// let free = Request::new(engine.tier("free").unwrap(), 1_700_000_000);
    /// assert_eq!(engine.decide(&free, f).reason, Reason::NotGranted);
    /// assert_eq!(engine.decide(&free.with_addons(&boost), f).reason, Reason::GrantedByAddon);
    /// let later = free.with_addons(&boost).at(1_800_000_000);
    /// assert_eq!(engine.decide(&later, f).reason, Reason::AddonNotValid);
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn decide(&self, request: &Request<'_>, feature: FeatureId) -> Decision {
        match self.validate(request) {
            Ok(tier) => self.decide_for_tier(request, tier, feature),
            Err(reason) => Decision::deny(reason),
        }
    }

    /// [`Engine::decide`] for a request whose ids [`Engine::validate`] accepted as tier `tier`.
    pub(crate) fn decide_for_tier(&self, request: &Request<'_>, tier: usize, feature: FeatureId) -> Decision {
        let tables = self.tables();
        let f = self.index(feature);
        if f >= tables.counts().features {
            return Decision::deny(Reason::UnknownFeature);
        }
        let bits = tables.grant(tier, f);
        if bits.granted {
            return Decision::allow(Reason::GrantedByTier);
        }
        if bits.rollout && self.inside_rollout(tier, f, request.key) {
            return Decision::allow(Reason::GrantedByRollout);
        }
        let mut blocked = None;
        for addon in request.addons {
            let a = self.index(*addon);
            if !tables.addon_grants(a, f) {
                continue;
            }
            if !tables.attaches(a, tier) {
                blocked = Some(Reason::AddonNotForTier);
            } else if !self.valid_at(a, request.now) {
                blocked = blocked.or(Some(Reason::AddonNotValid));
            } else {
                return Decision::allow(Reason::GrantedByAddon);
            }
        }
        Decision::deny(match blocked {
            Some(reason) => reason,
            None if tables.revoked(tier, f) => Reason::Revoked,
            None if bits.rollout => Reason::OutsideRollout,
            None => Reason::NotGranted,
        })
    }

    /// The limit and soft cap in force for a tier's entry once the applying add-ons are in:
    /// `max(limit, every "=") + sum of every "+="`, saturating; a finite soft cap moves up by
    /// as much as the limit did. The flag says whether any applying add-on changes the limit.
    /// `applies` says whether a held add-on applies; queries ask [`Engine::applies`], and
    /// plan views, which describe terms rather than an instant, ignore validity windows.
    // Always inlined: left as a call (LLVM's choice once `check_limit` split its paths), the
    // add-on path of `check_limit` took 20% more instructions.
    #[inline(always)]
    pub(crate) fn with_addons(
        &self,
        addons: &[AddonId],
        limit: usize,
        entry: LimitEntry,
        applies: impl Fn(usize) -> bool,
    ) -> (Amount, Option<Amount>, bool) {
        let mut changed = false;
        let Amount::Finite(base) = entry.value else { return (Amount::Unlimited, entry.soft, changed) };
        let mut raised = Amount::Finite(base);
        let mut added = Amount::Finite(0);
        for addon in addons {
            let a = self.index(*addon);
            let Some(delta) = self.tables().addon_delta(a, limit).filter(|_| applies(a)) else { continue };
            changed = true;
            if let Some(at_least) = delta.at_least {
                raised = raised.max(at_least);
            }
            if let Some(add) = delta.add {
                added = added.saturating_add(add);
            }
        }
        let value = raised.saturating_add(added);
        let soft = match (entry.soft, value) {
            // `new >= base`: add-ons only raise a limit.
            (Some(Amount::Finite(cap)), Amount::Finite(new)) => {
                Some(Amount::Finite(cap.saturating_add(new.saturating_sub(base))))
            }
            (Some(_), Amount::Unlimited) => Some(Amount::Unlimited),
            (soft, _) => soft,
        };
        (value, soft, changed)
    }

    /// How much of `limit` is left and whether the requested amount may be used.
    ///
    /// The status is computed on `used + requested` (saturating), as `docs/language.md`
    /// describes; `remaining` is `limit − used`. Unknown ids deny with an `unknown_*` reason.
    /// A limit that neither the tier (nor an ancestor) nor an applying add-on sets denies
    /// with `limit_not_set` and a limit of 0, told apart from a limit set to 0.
    ///
    /// ```
    /// use entitle::{Amount, Engine, Reason, Request, Status, Usage};
    /// let engine = Engine::from_source("p", "policy \"p\"\nlimit calls : count per day\ntier pro { limit calls = 1_000 soft 1_200 warn at 80% }\n")?;
    /// let calls = engine.limit("calls").unwrap();
    /// let request = Request::new(engine.tier("pro").unwrap(), 1_795_000_000);
    /// let q = engine.check_limit(&request, calls, Usage::used(700).requesting(100));
    /// assert_eq!((q.status, q.remaining), (Status::Warning, Amount::Finite(300)));
    /// let q = engine.check_limit(&request, calls, Usage::used(1_150).requesting(100));
    /// assert_eq!((q.allowed, q.reason, q.status), (false, Reason::LimitExceeded, Status::Exceeded));
    /// let window = q.window.unwrap();
    /// assert_eq!(window.end - window.start, 86_400);
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn check_limit(&self, request: &Request<'_>, limit: LimitId, usage: Usage) -> Quota {
        // Most requests hold no add-on. Their path is kept apart from the add-on arithmetic,
        // so it needs fewer registers and a smaller frame (11% fewer instructions, measured).
        if request.addons.is_empty() {
            self.check_limit_without_addons(request, limit, usage)
        } else {
            self.check_limit_with_addons(request, limit, usage)
        }
    }

    /// [`Engine::check_limit`] for a request that holds no add-on.
    #[inline]
    fn check_limit_without_addons(&self, request: &Request<'_>, limit: LimitId, usage: Usage) -> Quota {
        let tables = self.tables();
        let tier = self.index(request.tier);
        if tier >= tables.counts().tiers {
            return Quota::denied(Reason::UnknownTier);
        }
        let l = self.index(limit);
        if l >= tables.counts().limits {
            return Quota::denied(Reason::UnknownLimit);
        }
        let window = self.limit_window(l, request);
        match tables.limit_entry(tier, l) {
            Some(entry) => quota(entry.value, entry.soft, entry, usage, window),
            None => Quota { window, ..Quota::denied(Reason::LimitNotSet) },
        }
    }

    /// [`Engine::check_limit`] for a request that holds add-ons.
    #[inline]
    fn check_limit_with_addons(&self, request: &Request<'_>, limit: LimitId, usage: Usage) -> Quota {
        match self.validate(request) {
            Ok(tier) => self.check_limit_for_tier(request, tier, limit, usage),
            Err(reason) => Quota::denied(reason),
        }
    }

    /// [`Engine::check_limit`] for a request whose ids [`Engine::validate`] accepted as tier
    /// `tier`, add-ons held or not.
    // Always inlined, as `allowed_for_tier` is, for the same reason.
    #[inline(always)]
    pub(crate) fn check_limit_for_tier(
        &self,
        request: &Request<'_>,
        tier: usize,
        limit: LimitId,
        usage: Usage,
    ) -> Quota {
        let tables = self.tables();
        let l = self.index(limit);
        if l >= tables.counts().limits {
            return Quota::denied(Reason::UnknownLimit);
        }
        let window = self.limit_window(l, request);
        // A limit the tier does not set is a hard limit of 0, which add-ons may still raise;
        // with none that does, the answer says it was never set rather than set to 0.
        let set = tables.limit_entry(tier, l);
        let entry = set.unwrap_or(LimitEntry { value: Amount::Finite(0), soft: None, warn: None });
        let (value, soft_cap, changed) =
            self.with_addons(request.addons, l, entry, |a| self.applies(a, tier, request.now));
        if set.is_none() && !changed {
            return Quota { window, ..Quota::denied(Reason::LimitNotSet) };
        }
        quota(value, soft_cap, entry, usage, window)
    }

    /// The window of limit `l` (known to exist) that contains the request's instant; `None`
    /// for gauges and caps.
    #[inline]
    fn limit_window(&self, l: usize, request: &Request<'_>) -> Option<WindowSpan> {
        match self.tables().limit_kind(l) {
            LimitKind::Counter(w) => Some(window::current(w, request.now, request.billing_anchor)),
            LimitKind::Gauge | LimitKind::Cap => None,
        }
    }

    /// The value of `setting` for the subject: the tier's (after inheritance), improved by
    /// applying add-ons (the better value for ordered settings; for text, the add-on declared
    /// last). `Ok(None)` when neither sets it.
    ///
    /// ```
    /// use entitle::{Engine, Percentage, Request, SettingValue};
    /// let engine = Engine::from_source("p", "policy \"p\"\nsetting sla : percent\ntier pro { set sla = 99.9% }\n")?;
    /// let request = Request::new(engine.tier("pro").unwrap(), 0);
    /// let sla = engine.setting("sla").unwrap();
    /// let expected = SettingValue::Percent(Percentage::from_millionths(999_000));
    /// assert_eq!(engine.setting_value(&request, sla), Ok(Some(&expected)));
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn setting_value(&self, request: &Request<'_>, setting: SettingId) -> Result<Option<&SettingValue>, Reason> {
        let tier = self.validate(request)?;
        let tables = self.tables();
        let s = self.index(setting);
        if s >= tables.counts().settings {
            return Err(Reason::UnknownSetting);
        }
        Ok(self.setting_with_addons(tier, s, request.addons, |a| self.applies(a, tier, request.now)))
    }

    /// The tier's value of setting `s`, improved by the held add-ons for which `applies` holds;
    /// see [`Engine::with_addons`] for why the test is a parameter.
    pub(crate) fn setting_with_addons(
        &self,
        tier: usize,
        s: usize,
        addons: &[AddonId],
        applies: impl Fn(usize) -> bool,
    ) -> Option<&SettingValue> {
        let tables = self.tables();
        let mut best = tables.setting(tier, s);
        let mut best_addon = None;
        for addon in addons {
            let a = self.index(*addon);
            if !applies(a) {
                continue;
            }
            let Some(value) = tables.addon_setting(a, s) else { continue };
            let better = match (best, tables.setting_preference(s)) {
                (None, _) => true,
                (Some(current), Some(prefer)) => value.better_than(current, prefer),
                // Text is not ordered: the add-on declared last in the file wins.
                (Some(_), None) => best_addon.is_none_or(|b| a > b),
            };
            if better {
                best = Some(value);
                best_addon = Some(a);
            }
        }
        best
    }

    /// The id request of a named request that holds no add-ons: the common case of every
    /// by-name query, which the `*_by_name` methods answer directly. Measured, routing it
    /// through [`Engine::resolve`]'s closure instead cost about 12 ns a call.
    #[inline]
    fn plain_request<'a>(&self, named: &NamedRequest<'a>) -> Result<Request<'a>, Reason> {
        let tier = self.tier(named.tier).ok_or(Reason::UnknownTier)?;
        Ok(Request { tier, key: named.key, addons: &[], billing_anchor: named.billing_anchor, now: named.now })
    }

    /// Resolves a named request's tier and add-ons and answers with the id request they name.
    pub(crate) fn resolve<R>(
        &self,
        named: &NamedRequest<'_>,
        answer: impl FnOnce(&Request<'_>) -> R,
    ) -> Result<R, Reason> {
        let request = self.plain_request(named)?;
        if named.addons.is_empty() {
            return Ok(answer(&request));
        }
        if named.addons.len() > self.input_limits().held_addons() {
            return Err(Reason::TooManyAddons);
        }
        let mut held = [AddonId(0); Limits::MAX_HELD_ADDONS];
        for (slot, name) in held.iter_mut().zip(named.addons) {
            *slot = self.addon(name).ok_or(Reason::UnknownAddon)?;
        }
        let held = held.get(..named.addons.len()).unwrap_or_default();
        Ok(answer(&request.with_addons(held)))
    }

    /// [`Engine::is_allowed`] with names; an unknown name is `false`, and
    /// [`Engine::decide_by_name`] says why.
    #[must_use]
    pub fn is_allowed_by_name(&self, request: &NamedRequest<'_>, feature: &str) -> bool {
        // The common case takes `is_allowed`'s fast path: two lookups and the grant bits,
        // with no id request built in between.
        if request.addons.is_empty() {
            let Some(tier) = self.tier(request.tier) else { return false };
            return self
                .feature(feature)
                .is_some_and(|f| self.granted_to_tier(self.index(tier), self.index(f), request.key));
        }
        self.decide_by_name(request, feature).allowed
    }

    /// [`Engine::decide`] with names; an unknown name denies with its `unknown_*` reason.
    ///
    /// ```
    /// use entitle::{Engine, Reason, Request};
    /// let engine = Engine::from_source("p", "policy \"p\"\nfeature hd\ntier free { }\naddon promo for free { grant hd }\n")?;
    /// let request = Request::new("free", 0).with_key("app-42").with_addons(&["promo"]);
    /// assert_eq!(engine.decide_by_name(&request, "hd").reason, Reason::GrantedByAddon);
    /// let stranger = request.with_addons(&["promo", "vip"]);
    /// assert_eq!(engine.decide_by_name(&stranger, "hd").reason, Reason::UnknownAddon);
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn decide_by_name(&self, request: &NamedRequest<'_>, feature: &str) -> Decision {
        if request.addons.is_empty() {
            return match (self.plain_request(request), self.feature(feature)) {
                (Err(reason), _) => Decision::deny(reason),
                (Ok(_), None) => Decision::deny(Reason::UnknownFeature),
                (Ok(ids), Some(id)) => self.decide(&ids, id),
            };
        }
        let answer = self.resolve(request, |ids| match self.feature(feature) {
            Some(id) => self.decide(ids, id),
            None => Decision::deny(Reason::UnknownFeature),
        });
        answer.unwrap_or_else(Decision::deny)
    }

    /// [`Engine::check_limit`] with names; an unknown name denies with its `unknown_*` reason.
    ///
    /// ```
    /// use entitle::{Engine, Request, Usage};
    /// let engine = Engine::from_source("p", "policy \"p\"\nlimit seats : count\ntier team { limit seats = 10 }\n")?;
    /// let team = Request::new("team", 0);
    /// assert!(engine.check_limit_by_name(&team, "seats", Usage::used(9).requesting(1)).allowed);
    /// assert!(!engine.check_limit_by_name(&team, "seats", Usage::used(10).requesting(1)).allowed);
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn check_limit_by_name(&self, request: &NamedRequest<'_>, limit: &str, usage: Usage) -> Quota {
        if request.addons.is_empty() {
            return match (self.plain_request(request), self.limit(limit)) {
                (Err(reason), _) => Quota::denied(reason),
                (Ok(_), None) => Quota::denied(Reason::UnknownLimit),
                (Ok(ids), Some(id)) => self.check_limit(&ids, id, usage),
            };
        }
        let answer = self.resolve(request, |ids| match self.limit(limit) {
            Some(id) => self.check_limit(ids, id, usage),
            None => Quota::denied(Reason::UnknownLimit),
        });
        answer.unwrap_or_else(Quota::denied)
    }

    /// [`Engine::setting_value`] with names.
    ///
    /// ```
    /// use entitle::{Engine, Reason, Request, SettingValue};
    /// let engine = Engine::from_source("p", "policy \"p\"\nsetting support : duration prefer lower\ntier pro { set support = 2 h }\n")?;
    /// let request = Request::new("pro", 0);
    /// assert_eq!(engine.setting_value_by_name(&request, "support"), Ok(Some(&SettingValue::Duration(7_200))));
    /// assert_eq!(engine.setting_value_by_name(&request, "sla"), Err(Reason::UnknownSetting));
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn setting_value_by_name(
        &self,
        request: &NamedRequest<'_>,
        setting: &str,
    ) -> Result<Option<&SettingValue>, Reason> {
        let id = self.setting(setting);
        if request.addons.is_empty() {
            let ids = self.plain_request(request)?;
            return self.setting_value(&ids, id.ok_or(Reason::UnknownSetting)?);
        }
        self.resolve(request, |ids| self.setting_value(ids, id.ok_or(Reason::UnknownSetting)?))?
    }
}

/// Whether an add-on appears twice in `addons`. Ids of one engine are equal exactly when they
/// name the same add-on (known ids; unknown ones are refused first). Requests hold a few
/// add-ons and at most [`Limits::MAX_HELD_ADDONS`] by name, so comparing each with those before
/// it costs less than any set would; a request built by id with thousands pays for its size.
// Out of line and cold: `validate` calls it only when two add-ons share a mark, so the common
// request pays for the marks alone (inline, the check cost 30–44 instructions on a request of
// two add-ons, by callgrind).
#[cold]
#[inline(never)]
fn held_twice(addons: &[AddonId]) -> bool {
    let mut rest = addons;
    while let Some((first, tail)) = rest.split_first() {
        if tail.iter().any(|a| a == first) {
            return true;
        }
        rest = tail;
    }
    false
}

/// The answer for a limit of `value` with soft cap `soft_cap` (after add-ons) and the tier
/// entry's warning threshold: the status is computed on `used + requested` (saturating), and
/// `remaining` is `limit − used`.
#[inline]
fn quota(
    value: Amount,
    soft_cap: Option<Amount>,
    entry: LimitEntry,
    usage: Usage,
    window: Option<WindowSpan>,
) -> Quota {
    let total = usage.used.saturating_add(usage.requested);
    let (status, remaining) = match value {
        Amount::Unlimited => (Status::Within, Amount::Unlimited),
        Amount::Finite(cap) => {
            let remaining = Amount::Finite(cap.saturating_sub(usage.used));
            let ceiling = soft_cap.unwrap_or(value);
            let status = if Amount::Finite(total) > ceiling {
                Status::Exceeded
            } else if total > cap {
                Status::Overage
            } else if entry.warn.is_some_and(|w| total >= w.of(cap)) {
                Status::Warning
            } else {
                Status::Within
            };
            (status, remaining)
        }
    };
    let (allowed, reason) = match status {
        Status::Within | Status::Warning => (true, Reason::WithinLimit),
        Status::Overage => (true, Reason::Overage),
        Status::Exceeded => (false, Reason::LimitExceeded),
    };
    Quota { allowed, reason, status, limit: value, soft_cap, remaining, window }
}
