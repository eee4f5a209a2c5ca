//! Answering questions from the compiled tables.
//!
//! The id-based methods ([`Engine::is_allowed`], [`Engine::decide`], [`Engine::check_limit`],
//! [`Engine::setting_value`]) are the hot path: they index the tables with pre-resolved ids,
//! never allocate, never hash a string (the rollout bucket hashes the subject key, which is
//! the point of a rollout), and never lock. The `*_by_name` methods resolve names first, for
//! callers that do not cache ids; they do not allocate either.

mod explain;
mod window;

pub use explain::{Explanation, Step, Upgrade};

use serde::Serialize;

use crate::engine::*;
use crate::model::{Amount, LimitKind, SettingValue};
use crate::rollout;

/// The most add-ons one by-name query may name. Queries that name more are denied with
/// [`Reason::TooManyAddons`]; the id-based calls take any number.
pub const MAX_HELD_ADDONS: usize = 32;

/// A subject described by names, for the `*_by_name` conveniences.
///
/// ```
/// # let checked = entitle::check(&entitle::Source::new("p", "policy \"p\"\nfeature f\ntier free { grant f }\n")).unwrap();
/// # let engine = entitle::compile(&checked);
/// let subject = entitle::Subject { tier: "free", key: "app-42", addons: &[], billing_anchor: 1, now: 0 };
/// assert!(engine.decide_by_name(&subject, "f").allowed);
/// assert_eq!(engine.decide_by_name(&subject, "g").reason, entitle::Reason::UnknownFeature);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Subject<'a> {
    /// The tier's name.
    pub tier: &'a str,
    /// The stable subject key.
    pub key: &'a str,
    /// The names of the add-ons held.
    pub addons: &'a [&'a str],
    /// The billing anchor day (1–31).
    pub billing_anchor: u8,
    /// The instant of the query, in Unix seconds (UTC).
    pub now: i64,
}

impl Engine {
    fn tier_count(&self) -> usize {
        self.model.tiers.len()
    }

    /// Checks the ids in a context; the reason is the first unknown one.
    pub(super) fn validate(&self, ctx: &Context<'_>) -> Result<usize, Reason> {
        let tier = ctx.tier.index();
        if tier >= self.tier_count() {
            return Err(Reason::UnknownTier);
        }
        if ctx.addons.iter().any(|a| a.index() >= self.addon_valid.len()) {
            return Err(Reason::UnknownAddon);
        }
        Ok(tier)
    }

    /// Whether add-on `addon` attaches to `tier`.
    pub(super) fn attaches(&self, addon: usize, tier: usize) -> bool {
        self.addon_tiers[addon * self.tier_words + tier / 64] & (1 << (tier % 64)) != 0
    }

    /// Whether add-on `addon` is valid at `now`: inside its half-open `[from, until)`.
    pub(super) fn valid_at(&self, addon: usize, now: i64) -> bool {
        let (from, until) = self.addon_valid[addon];
        from <= now && now < until
    }

    fn rollout_threshold(&self, tier: usize, feature: usize) -> u32 {
        let key = (tier as u32, feature as u32);
        match self.rollout_thresholds.binary_search_by_key(&key, |&(t, f, _)| (t, f)) {
            Ok(found) => self.rollout_thresholds[found].2,
            Err(_) => 0,
        }
    }

    /// Whether the subject may use `feature`.
    ///
    /// The same as `decide(ctx, feature).allowed`; unknown ids are `false`, and
    /// [`Engine::decide`] says why.
    ///
    /// ```
    /// # let checked = entitle::check(&entitle::Source::new("p", "policy \"p\"\nfeature f\nfeature g\ntier free { grant f }\n")).unwrap();
    /// # let engine = entitle::compile(&checked);
    /// let ctx = entitle::Context::new(engine.tier("free").unwrap(), 0);
    /// assert!(engine.is_allowed(&ctx, engine.feature("f").unwrap()));
    /// assert!(!engine.is_allowed(&ctx, engine.feature("g").unwrap()));
    /// ```
    #[inline]
    pub fn is_allowed(&self, ctx: &Context<'_>, feature: FeatureId) -> bool {
        // The common case first: with no add-ons held, the tier's grant bit answers, unless the
        // feature is a rollout (which needs the key's bucket). Anything else takes the full
        // decision, so the answer is always the same as `decide`'s.
        let (tier, f) = (ctx.tier.index(), feature.index());
        if ctx.addons.is_empty() && tier < self.tier_count() && f < self.model.features.len() {
            let bit = 1u64 << (f % 64);
            if let Some(words) = self.grants.get(tier * self.feature_words + f / 64) {
                if words[GRANTED] & bit != 0 {
                    return true;
                }
                if words[ROLLOUT] & bit == 0 {
                    return false;
                }
            }
        }
        self.decide(ctx, feature).allowed
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
    /// use entitle::{Context, Reason};
    /// # let checked = entitle::check(&entitle::Source::new("p", "policy \"p\"\nfeature f\ntier free { }\ntier pro extends free { grant f }\naddon boost for free { grant f valid until 2026-01-01 }\n")).unwrap();
    /// # let engine = entitle::compile(&checked);
    /// let f = engine.feature("f").unwrap();
    /// let boost = [engine.addon("boost").unwrap()];
    /// let free = Context::new(engine.tier("free").unwrap(), 1_700_000_000);
    /// assert_eq!(engine.decide(&free, f).reason, Reason::NotGranted);
    /// assert_eq!(engine.decide(&free.with_addons(&boost), f).reason, Reason::GrantedByAddon);
    /// let later = free.with_addons(&boost);
    /// let later = Context { now: 1_800_000_000, ..later };
    /// assert_eq!(engine.decide(&later, f).reason, Reason::AddonNotValid);
    /// ```
    pub fn decide(&self, ctx: &Context<'_>, feature: FeatureId) -> Decision {
        let tier = match self.validate(ctx) {
            Ok(tier) => tier,
            Err(reason) => return Decision::deny(reason),
        };
        let f = feature.index();
        if f >= self.model.features.len() {
            return Decision::deny(Reason::UnknownFeature);
        }
        let word = tier * self.feature_words + f / 64;
        let bit = 1u64 << (f % 64);
        let words = self.grants[word];
        if words[GRANTED] & bit != 0 {
            return Decision::allow(Reason::GrantedByTier);
        }
        let by_rollout = words[ROLLOUT] & bit != 0;
        if by_rollout {
            let bucket = rollout::bucket_from_seed(self.rollout_seeds[f], ctx.key);
            if bucket < self.rollout_threshold(tier, f) {
                return Decision::allow(Reason::GrantedByRollout);
            }
        }
        let mut blocked = None;
        for addon in ctx.addons {
            let a = addon.index();
            if self.addon_features[a * self.feature_words + f / 64] & bit == 0 {
                continue;
            }
            if !self.attaches(a, tier) {
                blocked = Some(Reason::AddonNotForTier);
            } else if !self.valid_at(a, ctx.now) {
                blocked = blocked.or(Some(Reason::AddonNotValid));
            } else {
                return Decision::allow(Reason::GrantedByAddon);
            }
        }
        Decision::deny(match blocked {
            Some(reason) => reason,
            None if self.revoked[word] & bit != 0 => Reason::Revoked,
            None if by_rollout => Reason::OutsideRollout,
            None => Reason::NotGranted,
        })
    }

    /// The limit and soft cap in force for a tier's entry once the applying add-ons are in:
    /// `max(limit, every "=") + sum of every "+="`, saturating; a finite soft cap moves up by
    /// as much as the limit did.
    pub(crate) fn with_addons(
        &self,
        ctx: &Context<'_>,
        tier: usize,
        limit: usize,
        entry: LimitEntry,
    ) -> (Amount, Option<Amount>) {
        let Amount::Finite(base) = entry.value else { return (Amount::Unlimited, entry.soft) };
        let mut raised = Amount::Finite(base);
        let mut added = Amount::Finite(0);
        for addon in ctx.addons {
            let a = addon.index();
            let delta = self.addon_deltas[a * self.limit_count + limit];
            if delta == AddonDelta::default() || !self.attaches(a, tier) || !self.valid_at(a, ctx.now) {
                continue;
            }
            if let Some(at_least) = delta.at_least {
                raised = raised.max(at_least);
            }
            if let Some(add) = delta.add {
                added = added.saturating_add(add);
            }
        }
        let value = raised.saturating_add(added);
        let soft = match (entry.soft, value) {
            (Some(Amount::Finite(cap)), Amount::Finite(new)) => Some(Amount::Finite(cap.saturating_add(new - base))),
            (Some(_), Amount::Unlimited) => Some(Amount::Unlimited),
            (soft, _) => soft,
        };
        (value, soft)
    }

    /// How much of `limit` is left and whether `requested` more may be used, given `used` so
    /// far (for a gauge, the current level; for a counter, the usage in the current window).
    ///
    /// The status is computed on `used + requested` (saturating), as `docs/language.md`
    /// describes; `remaining` is `limit − used`. Unknown ids deny with an `unknown_*` reason.
    ///
    /// ```
    /// use entitle::{Amount, Context, Reason, Status};
    /// # let checked = entitle::check(&entitle::Source::new("p", "policy \"p\"\nlimit calls : count per day\ntier pro { limit calls = 1_000 soft 1_200 warn at 80% }\n")).unwrap();
    /// # let engine = entitle::compile(&checked);
    /// let calls = engine.limit("calls").unwrap();
    /// let ctx = Context::new(engine.tier("pro").unwrap(), 1_795_000_000);
    /// let q = engine.check_limit(&ctx, calls, 700, 100);
    /// assert_eq!((q.status, q.remaining), (Status::Warning, Amount::Finite(300)));
    /// let q = engine.check_limit(&ctx, calls, 1_150, 100);
    /// assert_eq!((q.allowed, q.reason, q.status), (false, Reason::LimitExceeded, Status::Exceeded));
    /// let window = q.window.unwrap();
    /// assert_eq!(window.end - window.start, 86_400);
    /// ```
    pub fn check_limit(&self, ctx: &Context<'_>, limit: LimitId, used: u64, requested: u64) -> Quota {
        let tier = match self.validate(ctx) {
            Ok(tier) => tier,
            Err(reason) => return Quota::unknown(reason),
        };
        let l = limit.index();
        if l >= self.limit_count {
            return Quota::unknown(Reason::UnknownLimit);
        }
        let entry = self.limit_entries[self.limit_rows[tier * self.limit_count + l] as usize];
        let (value, soft_cap) = self.with_addons(ctx, tier, l, entry);
        let window = match self.limit_kinds[l] {
            LimitKind::Counter(w) => Some(window::current(w, ctx.now, ctx.billing_anchor)),
            LimitKind::Gauge | LimitKind::Cap => None,
        };
        let total = used.saturating_add(requested);
        let (status, remaining) = match value {
            Amount::Unlimited => (Status::Within, Amount::Unlimited),
            Amount::Finite(cap) => {
                let remaining = Amount::Finite(cap.saturating_sub(used));
                let ceiling = soft_cap.unwrap_or(value);
                let status = if Amount::Finite(total) > ceiling {
                    Status::Exceeded
                } else if total > cap {
                    Status::Overage
                } else if entry.warn.is_some_and(|w| total >= crate::model::Percentage(w).of(cap)) {
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

    /// The value of `setting` for the subject: the tier's (after inheritance), improved by
    /// applying add-ons (the better value for ordered settings; for text, the add-on declared
    /// last). `Ok(None)` when neither sets it.
    ///
    /// ```
    /// use entitle::model::{Percentage, SettingValue};
    /// # let checked = entitle::check(&entitle::Source::new("p", "policy \"p\"\nsetting sla : percent\ntier pro { set sla = 99.9% }\n")).unwrap();
    /// # let engine = entitle::compile(&checked);
    /// let ctx = entitle::Context::new(engine.tier("pro").unwrap(), 0);
    /// let sla = engine.setting("sla").unwrap();
    /// assert_eq!(engine.setting_value(&ctx, sla), Ok(Some(&SettingValue::Percent(Percentage(999_000)))));
    /// ```
    pub fn setting_value(&self, ctx: &Context<'_>, setting: SettingId) -> Result<Option<&SettingValue>, Reason> {
        let tier = self.validate(ctx)?;
        let s = setting.index();
        if s >= self.setting_count {
            return Err(Reason::UnknownSetting);
        }
        let mut best = self.settings[tier * self.setting_count + s].as_ref();
        let mut best_addon = None;
        for addon in ctx.addons {
            let a = addon.index();
            if !self.attaches(a, tier) || !self.valid_at(a, ctx.now) {
                continue;
            }
            let Some((_, value)) = self.addon_settings[a].iter().find(|(id, _)| *id as usize == s) else { continue };
            let better = match (best, self.setting_prefs[s]) {
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
        Ok(best)
    }

    /// The context of a subject that holds no add-ons: the common case of every by-name query,
    /// which the `*_by_name` methods answer directly. Measured, routing it through
    /// [`Engine::with_subject`]'s closure instead cost about 12 ns a call.
    #[inline]
    fn plain_context<'a>(&self, subject: &Subject<'a>) -> Result<Context<'a>, Reason> {
        let tier = self.tier(subject.tier).ok_or(Reason::UnknownTier)?;
        Ok(Context::new(tier, subject.now).with_key(subject.key).with_billing_anchor(subject.billing_anchor))
    }

    /// Resolves a subject's names, add-ons included, and answers with the context they name.
    pub(crate) fn with_subject<R>(
        &self,
        subject: &Subject<'_>,
        answer: impl FnOnce(&Context<'_>) -> R,
    ) -> Result<R, Reason> {
        let ctx = self.plain_context(subject)?;
        if subject.addons.is_empty() {
            return Ok(answer(&ctx));
        }
        if subject.addons.len() > MAX_HELD_ADDONS {
            return Err(Reason::TooManyAddons);
        }
        let mut held = [AddonId(0); MAX_HELD_ADDONS];
        for (slot, name) in held.iter_mut().zip(subject.addons) {
            *slot = self.addon(name).ok_or(Reason::UnknownAddon)?;
        }
        Ok(answer(&ctx.with_addons(&held[..subject.addons.len()])))
    }

    /// [`Engine::decide`] with names; an unknown name denies with its `unknown_*` reason.
    ///
    /// ```
    /// use entitle::{Reason, Subject};
    /// # let checked = entitle::check(&entitle::Source::new("p", "policy \"p\"\nfeature hd\ntier free { }\naddon promo for free { grant hd }\n")).unwrap();
    /// # let engine = entitle::compile(&checked);
    /// let subject = Subject { tier: "free", key: "app-42", addons: &["promo"], billing_anchor: 1, now: 0 };
    /// assert_eq!(engine.decide_by_name(&subject, "hd").reason, Reason::GrantedByAddon);
    /// let stranger = Subject { addons: &["promo", "vip"], ..subject };
    /// assert_eq!(engine.decide_by_name(&stranger, "hd").reason, Reason::UnknownAddon);
    /// ```
    pub fn decide_by_name(&self, subject: &Subject<'_>, feature: &str) -> Decision {
        if subject.addons.is_empty() {
            return match (self.plain_context(subject), self.feature(feature)) {
                (Err(reason), _) => Decision::deny(reason),
                (Ok(_), None) => Decision::deny(Reason::UnknownFeature),
                (Ok(ctx), Some(id)) => self.decide(&ctx, id),
            };
        }
        let answer = self.with_subject(subject, |ctx| match self.feature(feature) {
            Some(id) => self.decide(ctx, id),
            None => Decision::deny(Reason::UnknownFeature),
        });
        answer.unwrap_or_else(Decision::deny)
    }

    /// [`Engine::check_limit`] with names; an unknown name denies with its `unknown_*` reason.
    ///
    /// ```
    /// # let checked = entitle::check(&entitle::Source::new("p", "policy \"p\"\nlimit seats : count\ntier team { limit seats = 10 }\n")).unwrap();
    /// # let engine = entitle::compile(&checked);
    /// let team = entitle::Subject { tier: "team", key: "", addons: &[], billing_anchor: 1, now: 0 };
    /// assert!(engine.check_limit_by_name(&team, "seats", 9, 1).allowed);
    /// assert!(!engine.check_limit_by_name(&team, "seats", 10, 1).allowed);
    /// ```
    pub fn check_limit_by_name(&self, subject: &Subject<'_>, limit: &str, used: u64, requested: u64) -> Quota {
        if subject.addons.is_empty() {
            return match (self.plain_context(subject), self.limit(limit)) {
                (Err(reason), _) => Quota::unknown(reason),
                (Ok(_), None) => Quota::unknown(Reason::UnknownLimit),
                (Ok(ctx), Some(id)) => self.check_limit(&ctx, id, used, requested),
            };
        }
        let answer = self.with_subject(subject, |ctx| match self.limit(limit) {
            Some(id) => self.check_limit(ctx, id, used, requested),
            None => Quota::unknown(Reason::UnknownLimit),
        });
        answer.unwrap_or_else(Quota::unknown)
    }

    /// [`Engine::setting_value`] with names.
    ///
    /// ```
    /// use entitle::{model::SettingValue, Reason, Subject};
    /// # let checked = entitle::check(&entitle::Source::new("p", "policy \"p\"\nsetting support : duration prefer lower\ntier pro { set support = 2 h }\n")).unwrap();
    /// # let engine = entitle::compile(&checked);
    /// let subject = Subject { tier: "pro", key: "", addons: &[], billing_anchor: 1, now: 0 };
    /// assert_eq!(engine.setting_by_name(&subject, "support"), Ok(Some(&SettingValue::Duration(7_200))));
    /// assert_eq!(engine.setting_by_name(&subject, "sla"), Err(Reason::UnknownSetting));
    /// ```
    pub fn setting_by_name(&self, subject: &Subject<'_>, setting: &str) -> Result<Option<&SettingValue>, Reason> {
        let id = self.setting(setting);
        if subject.addons.is_empty() {
            let ctx = self.plain_context(subject)?;
            return self.setting_value(&ctx, id.ok_or(Reason::UnknownSetting)?);
        }
        self.with_subject(subject, |ctx| self.setting_value(ctx, id.ok_or(Reason::UnknownSetting)?))?
    }
}
