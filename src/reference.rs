//! A naive evaluator that answers straight from the checked model, walking inheritance
//! chains on every query. It exists only as an oracle for tests: it shares no table, no flattening and no bit trick with the engine, so when
//! the two agree, the compiled tables mean what `docs/language.md` says.

// The oracle runs only in tests and fuzzing, never in a service: an index out of range here is
// a bug in the checker it relies on, which a panic reports best.
#![allow(clippy::indexing_slicing, reason = "the oracle of tests and fuzzing; a bad index is a bug to report loudly")]

use crate::engine::{Decision, Quota, Reason, Status, Usage};

use crate::model::{Access, AddonLimit, AddonOp, Amount, Model, Percentage, Period, SettingValue, TrialLength, Window};

/// One held add-on: its index, the quantity held, and the instant it was acquired.
pub type HeldAddon = (usize, u64, Option<i64>);

/// The largest finite amount: the oracle computes in `u128` and clamps here, where the engine
/// saturates in `u64`.
const MAX_FINITE: u128 = u64::MAX as u128 - 1;

/// A clamped wide amount back in `u64`.
fn narrow(wide: u128) -> u64 {
    u64::try_from(wide).unwrap_or(u64::MAX)
}

const DAY: i64 = 86_400;
/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the instants calendar answers are bound to.
const FIRST: i64 = -62_135_596_800;
const LAST: i64 = 253_402_300_799;

fn leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn month_days(year: i64, month: usize) -> i64 {
    [31, if leap(year) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
}

/// The civil date (year, month, day) and second of the day of an instant of years 1–9999, by
/// walking years and months from 0001-01-01 with a table of month lengths, unlike the engine.
fn civil(instant: i64) -> (i64, usize, i64, i64) {
    let (mut days, second) = ((instant - FIRST).div_euclid(DAY), (instant - FIRST).rem_euclid(DAY));
    let mut year = 1i64;
    while days >= if leap(year) { 366 } else { 365 } {
        days -= if leap(year) { 366 } else { 365 };
        year += 1;
    }
    let mut month = 1usize;
    while days >= month_days(year, month) {
        days -= month_days(year, month);
        month += 1;
    }
    (year, month, days + 1, second)
}

/// Midnight UTC of a civil date of the proleptic Gregorian calendar, walking again (back
/// from year 1 for a window that starts before it).
fn midnight(year: i64, month: usize, day: i64) -> i64 {
    let mut total = 0i64;
    for y in 1..year {
        total += if leap(y) { 366 } else { 365 };
    }
    for y in year..1 {
        total -= if leap(y) { 366 } else { 365 };
    }
    for m in 1..month {
        total += month_days(year, m);
    }
    (total + day - 1) * DAY + FIRST
}

/// The instant `months` calendar months after `start`: the same time of day on the same day
/// of the month, or the month's last day when it is shorter; `None` for a start outside years
/// 1–9999.
fn months_later(start: i64, months: u32) -> Option<i64> {
    if !(FIRST..=LAST).contains(&start) {
        return None;
    }
    let (mut year, mut month, day, second) = civil(start);
    for _ in 0..months {
        month += 1;
        if month == 13 {
            month = 1;
            year += 1;
        }
    }
    Some(midnight(year, month, day.min(month_days(year, month))) + second)
}

/// The window `[start, end)` of `period` that holds `now` (clamped to years 1–9999) for a
/// subject whose months start on `anchor`, as `docs/language.md` describes it: fixed lengths
/// counted from the epoch, weeks from Monday 1969-12-29, months counted from January 1970 on
/// the anchor day clamped to each month. Months are found by stepping month by month from a
/// window boundary, never by the engine's arithmetic.
pub fn window(period: Period, now: i64, anchor: u8) -> (i64, i64) {
    let now = now.clamp(FIRST, LAST);
    let every = i64::from(period.every);
    let unit = match period.unit {
        Window::Second => 1,
        Window::Minute => 60,
        Window::Hour => 3_600,
        Window::Day => DAY,
        Window::Week => 7 * DAY,
        Window::Month => 0,
    };
    if unit > 0 {
        let origin = if period.unit == Window::Week { -3 * DAY } else { 0 };
        let length = unit * every;
        let start = origin + (now - origin).div_euclid(length) * length;
        return (start, start + length);
    }
    // The month of `now`, counted from January 1970, and the anchor instant in month `index`.
    let anchor = i64::from(anchor.max(1));
    let on_anchor = |index: i64| {
        let (year, month) = (1970 + index.div_euclid(12), usize::try_from(index.rem_euclid(12)).unwrap_or(0) + 1);
        midnight(year, month, anchor.min(month_days(year, month)))
    };
    let (year, month, _, _) = civil(now);
    let mut index = (year - 1970) * 12 + i64::try_from(month).unwrap_or(1) - 1;
    // Step back until the window's first anchor is at or before `now`, then forward while
    // the next one is.
    index -= index.rem_euclid(every);
    while on_anchor(index) > now {
        index -= every;
    }
    while on_anchor(index + every) <= now {
        index += every;
    }
    (on_anchor(index), on_anchor(index + every))
}

/// The rolling window `[now − length, now)` of `period` at `now` (clamped to years
/// 1–9999): the span whose usage counts for a `rolling` limit, as `docs/language.md`
/// describes it. Its length is counted here from the unit's seconds, apart from the engine's.
pub fn trailing(period: Period, now: i64) -> (i64, i64) {
    let now = now.clamp(FIRST, LAST);
    let seconds = match period.unit {
        Window::Second => 1,
        Window::Minute => 60,
        Window::Hour => 60 * 60,
        Window::Day => DAY,
        Window::Week => 7 * DAY,
        // Refused by the checker; the engine answers it as 31 days a month.
        Window::Month => 31 * DAY,
    };
    (now - seconds * i64::from(period.every), now)
}

/// The oracle over one checked model. Indices are positions in the model's vectors.
#[derive(Clone, Copy, Debug)]
pub struct Reference<'m> {
    model: &'m Model,
}

impl<'m> Reference<'m> {
    /// An oracle for `model`.
    pub fn new(model: &'m Model) -> Reference<'m> {
        Reference { model }
    }

    /// What `tier` gives for `feature`, by walking up its chain.
    pub fn access(&self, tier: usize, feature: usize) -> Access {
        let def = &self.model.tiers[tier];
        let inherited = || def.parent.map_or(Access::NotGranted, |p| self.access(p, feature));
        if def.revokes.iter().any(|&(f, _)| f == feature) {
            let given = def.grant_all.is_some() || inherited() != Access::NotGranted;
            return if given { Access::Revoked } else { Access::NotGranted };
        }
        if let Some(grant) = def.grants.iter().find(|g| g.feature == feature) {
            return grant.rollout.map_or(Access::Granted, Access::Rollout);
        }
        if def.grant_all.is_some() {
            return Access::Granted;
        }
        inherited()
    }

    fn attaches(&self, addon: usize, tier: usize) -> bool {
        let for_tiers = &self.model.addons[addon].for_tiers;
        let mut current = Some(tier);
        while let Some(t) = current {
            if for_tiers.contains(&t) {
                return true;
            }
            current = self.model.tiers[t].parent;
        }
        false
    }

    fn valid_at(&self, addon: usize, now: i64) -> bool {
        let def = &self.model.addons[addon];
        def.valid_from.is_none_or(|from| from <= now) && def.valid_until.is_none_or(|until| now < until)
    }

    /// Whether a held add-on (with its quantity and acquisition) applies to `tier` at `now`.
    fn applies(&self, held: HeldAddon, tier: usize, now: i64) -> bool {
        let (addon, quantity, acquired) = held;
        quantity > 0 && self.attaches(addon, tier) && self.valid_at(addon, now) && self.in_trial(addon, acquired, now)
    }

    /// Whether a trial add-on acquired at `acquired` is inside its trial at `now`; true for an
    /// add-on that is not a trial.
    fn in_trial(&self, addon: usize, acquired: Option<i64>, now: i64) -> bool {
        let Some(length) = self.model.addons[addon].trial else { return true };
        let Some(start) = acquired else { return false };
        let end = match length {
            TrialLength::Seconds(s) => i128::from(start) + i128::from(s),
            TrialLength::Months(m) => match months_later(start, m) {
                Some(end) => i128::from(end),
                None => return false,
            },
        };
        i128::from(start) <= i128::from(now) && (i128::from(now) < end || end >= i128::from(i64::MAX))
    }

    /// Why a request holding `held` (known add-ons, each with its quantity and acquisition) is
    /// refused whatever it asks, in the order `docs/language.md` gives: more than the default
    /// limit of held add-ons, an add-on listed twice, a quantity past its maximum, a trial
    /// without an acquisition instant.
    pub fn refusal(&self, held: &[HeldAddon]) -> Option<Reason> {
        if held.len() > crate::limits::Limits::default().held_addons {
            return Some(Reason::TooManyAddons);
        }
        let mut sorted: Vec<usize> = held.iter().map(|h| h.0).collect();
        sorted.sort_unstable();
        if sorted.windows(2).any(|pair| pair[0] == pair[1]) {
            return Some(Reason::DuplicateAddon);
        }
        let max = |a: usize| match self.model.addons[a].max_quantity {
            Amount::Unlimited => u128::MAX,
            Amount::Finite(n) => u128::from(n),
        };
        if held.iter().any(|&(a, q, _)| u128::from(q) > max(a)) {
            return Some(Reason::QuantityAboveMax);
        }
        if held.iter().any(|&(a, q, acquired)| q > 0 && acquired.is_none() && self.model.addons[a].trial.is_some()) {
            return Some(Reason::AcquisitionNotGiven);
        }
        None
    }

    /// The feature decision, as `docs/language.md` and `Engine::decide` describe it.
    pub fn decide(&self, tier: usize, key: &str, held: &[HeldAddon], now: i64, feature: usize) -> Decision {
        if let Some(reason) = self.refusal(held) {
            return Decision { allowed: false, reason };
        }
        let access = self.access(tier, feature);
        if access == Access::Granted {
            return Decision { allowed: true, reason: Reason::GrantedByTier };
        }
        if let Access::Rollout(share) = access {
            if crate::rollout::bucket(&self.model.features[feature].name, key) < share.0 {
                return Decision { allowed: true, reason: Reason::GrantedByRollout };
            }
        }
        let grants = |a: usize| {
            let def = &self.model.addons[a];
            def.grant_all.is_some() || def.grants.iter().any(|&(f, _)| f == feature)
        };
        // A quantity of 0 holds nothing: it neither grants nor blocks.
        let holding: Vec<HeldAddon> = held.iter().copied().filter(|&(a, q, _)| q > 0 && grants(a)).collect();
        if holding.iter().any(|&h| self.applies(h, tier, now)) {
            return Decision { allowed: true, reason: Reason::GrantedByAddon };
        }
        let reason = if holding.iter().any(|&(a, _, _)| !self.attaches(a, tier)) {
            Reason::AddonNotForTier
        } else if !holding.is_empty() {
            Reason::AddonNotValid
        } else {
            match access {
                Access::Revoked => Reason::Revoked,
                Access::Rollout(_) => Reason::OutsideRollout,
                _ => Reason::NotGranted,
            }
        };
        Decision { allowed: false, reason }
    }

    /// The quota, as `docs/language.md` and `Engine::check_limit` describe it. The window is
    /// left to the engine's own tests; this compares everything else.
    pub fn check_limit(
        &self,
        tier: usize,
        held: &[HeldAddon],
        seats: Option<u64>,
        now: i64,
        limit: usize,
        usage: Usage,
    ) -> Quota {
        let denied = |reason| Quota {
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
        };
        if let Some((pool, usage)) = self.drawn(limit, usage) {
            return self.check_limit(tier, held, seats, now, pool, usage);
        }
        if let Some(reason) = self.refusal(held) {
            return denied(reason);
        }
        let entry = self.tier_limit(tier, limit);
        let applying: Vec<HeldAddon> = held.iter().copied().filter(|&h| self.applies(h, tier, now)).collect();
        let changes: Vec<(AddonLimit, u64)> = applying
            .iter()
            .flat_map(|&(a, q, _)| {
                self.model.addons[a].limits.iter().filter(|c| c.limit == limit).map(move |c| (*c, q))
            })
            .collect();
        if entry.is_none() && changes.is_empty() {
            return denied(Reason::LimitNotSet);
        }
        let per_seat = entry.is_some_and(|e| e.per_seat) || changes.iter().any(|(c, _)| c.per_seat);
        if per_seat && seats.is_none() {
            return denied(Reason::SeatsNotGiven);
        }
        let n = u128::from(seats.unwrap_or(0));
        // Amounts in u128, `None` for unlimited; clamped to the largest finite amount at the end.
        let wide = |amount: Amount| match amount {
            Amount::Finite(v) => Some(u128::from(v)),
            Amount::Unlimited => None,
        };
        let times = |v: Option<u128>, k: u128| v.map(|v| v.saturating_mul(k).min(MAX_FINITE));
        let (tier_value, soft, warn, tier_per_seat) =
            entry.map_or((Some(0), None, None, false), |e| (wide(e.value), e.soft, e.warn, e.per_seat));
        let base = if tier_per_seat { times(tier_value, n) } else { tier_value };
        let mut raised = base;
        let mut added = Some(0u128);
        for (change, q) in &changes {
            let mut v = wide(change.value);
            match change.op {
                AddonOp::AtLeast => {
                    if change.per_seat {
                        v = times(v, n);
                    }
                    raised = match (raised, v) {
                        (Some(r), Some(v)) => Some(r.max(v)),
                        _ => None,
                    };
                }
                AddonOp::Add => {
                    v = times(v, u128::from(*q));
                    if change.per_seat {
                        v = times(v, n);
                    }
                    added = match (added, v) {
                        (Some(a), Some(v)) => Some((a + v).min(MAX_FINITE)),
                        _ => None,
                    };
                }
            }
        }
        let value = match (raised, added) {
            (Some(r), Some(a)) => Some((r + a).min(MAX_FINITE)),
            _ => None,
        };
        let soft_cap = match (soft, value, base) {
            (None, _, _) => None,
            (Some(_), None, _) => Some(Amount::Unlimited),
            (Some(Amount::Unlimited), _, _) => Some(Amount::Unlimited),
            (Some(Amount::Finite(cap)), Some(v), Some(b)) => {
                let cap =
                    if tier_per_seat { u128::from(cap).saturating_mul(n).min(MAX_FINITE) } else { u128::from(cap) };
                Some(Amount::Finite(narrow((cap + (v - b)).min(MAX_FINITE))))
            }
            (Some(_), Some(_), None) => Some(Amount::Unlimited),
        };
        let answer = oracle_answer(value, soft_cap, warn, usage);
        Quota { seats: per_seat.then_some(seats).flatten(), ..answer }
    }

    /// The setting's value for the subject.
    pub fn setting(&self, tier: usize, held: &[HeldAddon], now: i64, setting: usize) -> Option<SettingValue> {
        let mut current = Some(tier);
        let mut value = None;
        while let Some(t) = current {
            if let Some(set) = self.model.tiers[t].sets.iter().find(|s| s.setting == setting) {
                value = Some(set.value.clone());
                break;
            }
            current = self.model.tiers[t].parent;
        }
        let prefer = self.model.settings[setting].prefer;
        let mut applying: Vec<usize> =
            held.iter().copied().filter(|&h| self.applies(h, tier, now)).map(|(a, _, _)| a).collect();
        applying.sort_unstable();
        applying.dedup();
        for a in applying {
            let Some(set) = self.model.addons[a].sets.iter().find(|s| s.setting == setting) else { continue };
            value = match (value, prefer) {
                (Some(current), Some(p)) if !set.value.better_than(&current, p) => Some(current),
                _ => Some(set.value.clone()),
            };
        }
        value
    }
}

/// The answer for a limit of `value` (`None` for unlimited), usage allowed up to `soft_cap`
/// (`None` for a hard limit), warning from `warn`'s share of it, as docs/language.md states the
/// status: computed on `used + requested`, with `remaining` = `limit − used`. No seats, no
/// window.
fn oracle_answer(value: Option<u128>, soft_cap: Option<Amount>, warn: Option<Percentage>, usage: Usage) -> Quota {
    let Usage { used, requested } = usage;
    let total = (u128::from(used) + u128::from(requested)).min(u128::from(u64::MAX));
    let (status, limit, remaining) = match value {
        None => (Status::Within, Amount::Unlimited, Amount::Unlimited),
        Some(l) => {
            let past_soft = match soft_cap {
                None => total > l,
                Some(Amount::Unlimited) => false,
                Some(Amount::Finite(cap)) => total > u128::from(cap),
            };
            let status = if past_soft {
                Status::Exceeded
            } else if total > l {
                Status::Overage
            } else if warn.is_some_and(|w: Percentage| total >= l * u128::from(w.millionths()) / 1_000_000) {
                Status::Warning
            } else {
                Status::Within
            };
            (status, Amount::Finite(narrow(l)), Amount::Finite(narrow(l.saturating_sub(u128::from(used)))))
        }
    };
    let (allowed, reason) = match status {
        Status::Exceeded => (false, Reason::LimitExceeded),
        Status::Overage => (true, Reason::Overage),
        _ => (true, Reason::WithinLimit),
    };
    Quota { allowed, reason, status, limit, soft_cap, remaining, seats: None, counter: 0, anchor: 1, at: 0 }
}

/// What an override record changes, as the oracle holds it: model indices and amounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OverrideEffect {
    /// The feature at this index is granted (`true`) or revoked.
    Feature(usize, bool),
    /// The limit at this index: `=`, `+=`, `at_least` or `at_most` (as written), the amount,
    /// and whether it is per seat.
    Limit(usize, &'static str, Amount, bool),
    /// The setting at this index takes this value.
    Setting(usize, SettingValue),
}

/// An override record for the oracle: the subject, the effect and the half-open validity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverrideRule {
    /// The subject key it is for.
    pub subject: String,
    /// What it changes.
    pub effect: OverrideEffect,
    /// The first instant it applies, if it has a start.
    pub from: Option<i64>,
    /// The first instant it no longer applies, if it ends.
    pub until: Option<i64>,
}

impl OverrideRule {
    fn applies(&self, key: &str, now: i64) -> bool {
        // An `until` of `i64::MAX` is no end, as for add-ons: it covers `i64::MAX` itself.
        self.subject == key && self.from.is_none_or(|f| f <= now) && self.until.is_none_or(|u| now < u || u == i64::MAX)
    }
}

/// The oracle's answers with a list of override records applied after the plan's, as
/// `docs/language.md` ("Overrides") describes it: the first record of the list that is for the
/// subject, for the thing asked about, and valid at the instant decides (the checker refuses
/// lists where two could).
impl Reference<'_> {
    /// [`Reference::decide`] with overrides.
    pub fn decide_with(
        &self,
        rules: &[OverrideRule],
        tier: usize,
        key: &str,
        held: &[HeldAddon],
        now: i64,
        feature: usize,
    ) -> Decision {
        let plan = self.decide(tier, key, held, now, feature);
        if self.refusal(held).is_some() {
            return plan;
        }
        let found = rules.iter().find_map(|r| match r.effect {
            OverrideEffect::Feature(f, grant) if f == feature && r.applies(key, now) => Some(grant),
            _ => None,
        });
        match found {
            Some(true) => Decision { allowed: true, reason: Reason::GrantedByOverride },
            Some(false) => Decision { allowed: false, reason: Reason::RevokedByOverride },
            None => plan,
        }
    }

    /// For a limit that draws on a pool, the question as the pool is asked it: the pool, and
    /// the requested units' cost, `requested × credits / per` rounded up (`u64::MAX` past it).
    fn drawn(&self, limit: usize, usage: Usage) -> Option<(usize, Usage)> {
        let rate = self.model.limits.get(limit)?.draws?;
        let product = u128::from(usage.requested) * u128::from(rate.credits);
        let per = u128::from(rate.per);
        let whole = product / per + u128::from(product % per != 0);
        let cost = u64::try_from(whole).unwrap_or(u64::MAX);
        Some((rate.pool, Usage { used: usage.used, requested: cost }))
    }

    /// What `check_draw` adds for a limit that draws on a pool, given the pool's answer: the
    /// pool, the cost, and how many of the limit's units what is left pays for (rounded down).
    pub fn draw_terms(&self, limit: usize, usage: Usage, answer: &Quota) -> Option<(usize, u64, Amount)> {
        let rate = self.model.limits.get(limit)?.draws?;
        let (pool, asked) = self.drawn(limit, usage)?;
        let units = match answer.remaining {
            Amount::Unlimited => Amount::Unlimited,
            Amount::Finite(left) => {
                let units = u128::from(left) * u128::from(rate.per) / u128::from(rate.credits);
                Amount::Finite(u64::try_from(units).unwrap_or(u64::MAX).min(u64::MAX - 1))
            }
        };
        Some((pool, asked.requested, units))
    }

    /// [`Reference::check_limit`] with overrides.
    #[allow(clippy::too_many_arguments, reason = "the oracle takes the question's parts as they are")]
    pub fn check_limit_with(
        &self,
        rules: &[OverrideRule],
        key: &str,
        tier: usize,
        held: &[HeldAddon],
        seats: Option<u64>,
        now: i64,
        limit: usize,
        usage: Usage,
    ) -> Quota {
        if let Some((pool, usage)) = self.drawn(limit, usage) {
            return self.check_limit_with(rules, key, tier, held, seats, now, pool, usage);
        }
        let plan = self.check_limit(tier, held, seats, now, limit, usage);
        let not_set = plan.reason == Reason::LimitNotSet;
        if !matches!(plan.reason, Reason::WithinLimit | Reason::Overage | Reason::LimitExceeded) && !not_set {
            return plan;
        }
        let Some((op, value, per_seat)) = rules.iter().find_map(|r| match r.effect {
            OverrideEffect::Limit(l, op, value, per_seat) if l == limit && r.applies(key, now) => {
                Some((op, value, per_seat))
            }
            _ => None,
        }) else {
            return plan;
        };
        let wide = |amount: Amount| match amount {
            Amount::Finite(v) => Some(u128::from(v)),
            Amount::Unlimited => None,
        };
        let mut value = wide(value);
        if per_seat {
            let Some(n) = seats else {
                let denied = Quota {
                    allowed: false,
                    reason: Reason::SeatsNotGiven,
                    status: Status::Exceeded,
                    limit: Amount::Finite(0),
                    soft_cap: None,
                    remaining: Amount::Finite(0),
                    seats: None,
                    counter: 0,
                    anchor: 1,
                    at: 0,
                };
                return denied;
            };
            value = value.map(|v| (v * u128::from(n)).min(MAX_FINITE));
        }
        let planned = if not_set { Some(0) } else { wide(plan.limit) };
        let new = match op {
            "=" => value,
            "+=" => planned.zip(value).map(|(p, v)| (p + v).min(MAX_FINITE)),
            "at_least" => match (planned, value) {
                (Some(p), Some(v)) => Some(p.max(v)),
                _ => None,
            },
            _ => match (planned, value) {
                (Some(p), Some(v)) => Some(p.min(v)),
                (None, v) | (v, None) => v,
            },
        };
        // The soft cap keeps its headroom over the limit; a hard limit stays hard.
        let soft_cap = match (if not_set { None } else { plan.soft_cap }, new, planned) {
            (None, ..) => None,
            (Some(Amount::Unlimited), ..) | (Some(_), None, _) | (Some(_), _, None) => Some(Amount::Unlimited),
            (Some(Amount::Finite(cap)), Some(l), Some(p)) => {
                Some(Amount::Finite(narrow((l + u128::from(cap).saturating_sub(p)).min(MAX_FINITE))))
            }
        };
        let warn = if not_set { None } else { self.tier_limit(tier, limit).and_then(|e| e.warn) };
        let answer = oracle_answer(new, soft_cap, warn, usage);
        let seats = if per_seat { seats } else { plan.seats };
        Quota { seats, counter: crate::engine::OVERRIDDEN, ..answer }
    }

    /// [`Reference::setting`] with overrides; `Err` for a refused request.
    pub fn setting_with(
        &self,
        rules: &[OverrideRule],
        key: &str,
        tier: usize,
        held: &[HeldAddon],
        now: i64,
        setting: usize,
    ) -> Result<Option<SettingValue>, Reason> {
        if let Some(reason) = self.refusal(held) {
            return Err(reason);
        }
        let found = rules.iter().find_map(|r| match &r.effect {
            OverrideEffect::Setting(s, value) if *s == setting && r.applies(key, now) => Some(value.clone()),
            _ => None,
        });
        Ok(found.or_else(|| self.setting(tier, held, now, setting)))
    }

    /// The tier's own entry for `limit`, found up its chain.
    fn tier_limit(&self, tier: usize, limit: usize) -> Option<crate::model::TierLimit> {
        let mut current = Some(tier);
        while let Some(t) = current {
            if let Some(set) = self.model.tiers[t].limits.iter().find(|s| s.limit == limit) {
                return Some(*set);
            }
            current = self.model.tiers[t].parent;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::engine::{AddonId, FeatureId, Held, LimitId, Quota, Reason, Request, SettingId, Status, TierId};
    use crate::fuzzing::{compare_with_overrides, OverrideSpec, Question};
    use crate::model::Amount;
    use crate::Source;

    /// The shape of a generated policy; rendered to text so that the whole pipeline (parse,
    /// check, compile) is exercised, not just the tables.
    #[derive(Clone, Debug)]
    struct Plan {
        features: usize,
        limits: Vec<(u8, u8)>,
        /// Limits that draw on a pool: type, which pool (among the count limits that are no
        /// gauge), credits and what the rate is per.
        drawers: Vec<(u8, u8, u64, u8)>,
        settings: Vec<bool>,
        tiers: Vec<TierPlan>,
        addons: Vec<AddonPlan>,
    }

    #[derive(Clone, Debug)]
    struct TierPlan {
        parent: Option<usize>,
        grant_all: bool,
        /// Per feature: 0 nothing, 1 grant, 2 rollout, 3 revoke.
        features: Vec<(u8, u32)>,
        /// Per limit: value, soft kind and cap, warn.
        limits: Vec<Option<(u64, u8, u64, u8)>>,
        settings: Vec<Option<u32>>,
    }

    #[derive(Clone, Debug)]
    struct AddonPlan {
        for_tiers: Vec<usize>,
        grant_all: bool,
        grants: Vec<bool>,
        limits: Vec<Option<(bool, u64)>>,
        settings: Vec<Option<u32>>,
        valid: Option<(i64, i64)>,
    }

    const ROLLOUTS: [u32; 5] = [0, 1, 5, 50, 100];

    fn dense(index: usize) -> u32 {
        u32::try_from(index).expect("generated policies are small")
    }
    const WARNS: [u8; 4] = [0, 50, 80, 100];
    /// How a generated limit is measured: a cap and a gauge first (the two kinds a duration
    /// may not be per seat on), then counters of one unit and of several.
    const KINDS: [&str; 10] = [
        "",
        " gauge",
        " per day",
        " per month",
        " per 5 hours",
        " per 2 weeks",
        " per 3 months",
        " per 90 seconds",
        " rolling 7 days",
        " rolling hour",
    ];

    fn plan() -> impl Strategy<Value = Plan> {
        (
            prop_oneof![6 => 1usize..6, 1 => 60usize..140],
            prop::collection::vec((0u8..3, 0u8..10), 1..4),
            prop::collection::vec(any::<bool>(), 0..3),
            prop::collection::vec((0u8..3, any::<u8>(), 1u64..50, 0u8..2), 0..3),
        )
            .prop_flat_map(|(features, limits, settings, drawers)| {
                let (l, s) = (limits.len(), settings.len());
                let tier = move |index: usize| {
                    (
                        prop::option::of(0..index.max(1)),
                        prop::bool::weighted(0.15),
                        prop::collection::vec((0u8..4, 0usize..ROLLOUTS.len()), features),
                        prop::collection::vec(prop::option::of((0u64..50, 0u8..3, 0u64..30, 0usize..WARNS.len())), l),
                        prop::collection::vec(prop::option::of(0u32..3), s),
                    )
                        .prop_map(move |(parent, grant_all, fs, ls, ss)| TierPlan {
                            parent: parent.filter(|_| index > 0),
                            grant_all,
                            features: fs.into_iter().map(|(k, r)| (k, ROLLOUTS[r])).collect(),
                            limits: ls
                                .into_iter()
                                .map(|o| o.map(|(v, soft, extra, w)| (v, soft, v + extra, WARNS[w])))
                                .collect(),
                            settings: ss,
                        })
                };
                // Sometimes more than 64 tiers, so that add-ons' tier bitsets use a second word.
                let tiers = prop_oneof![6 => 1usize..6, 1 => 63usize..70]
                    .prop_flat_map(move |n| (0..n).map(tier).collect::<Vec<_>>());
                (Just(features), Just(limits), Just(settings), Just(drawers), tiers).prop_flat_map(
                    |(features, limits, settings, drawers, tiers)| {
                        let (t, l, s) = (tiers.len(), limits.len(), settings.len());
                        let addon = (
                            prop::collection::vec(0..t, 1..3),
                            prop::bool::weighted(0.1),
                            prop::collection::vec(prop::bool::weighted(0.3), features),
                            prop::collection::vec(prop::option::of((any::<bool>(), 0u64..40)), l),
                            prop::collection::vec(prop::option::of(0u32..3), s),
                            prop::option::of((0i64..3, 1i64..3)),
                        )
                            .prop_map(
                                |(mut for_tiers, grant_all, grants, limits, settings, valid)| {
                                    for_tiers.sort_unstable();
                                    for_tiers.dedup();
                                    let valid = valid.map(|(from, len)| (from * 100, from * 100 + len * 100));
                                    AddonPlan { for_tiers, grant_all, grants, limits, settings, valid }
                                },
                            );
                        let addons = prop::collection::vec(addon, 0..4);
                        (Just(features), Just(limits), Just(settings), Just(drawers), Just(tiers), addons).prop_map(
                            |(features, limits, settings, drawers, tiers, addons)| Plan {
                                features,
                                limits,
                                drawers,
                                settings,
                                tiers,
                                addons,
                            },
                        )
                    },
                )
            })
    }

    /// Whether a limit of this (type, kind) may be per seat: not a duration cap or gauge.
    fn seats_allowed((ty, kind): (u8, u8)) -> bool {
        !(ty == 2 && kind < 2)
    }

    fn render(plan: &Plan) -> String {
        let mut text = String::from("policy \"generated\"\n");
        for f in 0..plan.features {
            text += &format!("feature f{f}\n");
        }
        for (i, (ty, kind)) in plan.limits.iter().enumerate() {
            let ty = ["count", "bytes", "duration"][*ty as usize];
            let kind = KINDS[*kind as usize];
            text += &format!("limit l{i} : {ty}{kind}\n");
        }
        // Drawing limits come after the plain ones, so that no tier or add-on, which index
        // the plain ones, ever sets one.
        let pools: Vec<usize> =
            (0..plan.limits.len()).filter(|&i| plan.limits[i].0 == 0 && plan.limits[i].1 != 1).collect();
        for (j, (ty, pick, credits, per)) in plan.drawers.iter().enumerate() {
            let Some(pool) = pools.get(*pick as usize % pools.len().max(1)) else { break };
            let per = [["", " per 1_000"], [" per KiB", " per 3 B"], [" per minute", " per 30 seconds"]][*ty as usize]
                [*per as usize];
            let ty = ["count", "bytes", "duration"][*ty as usize];
            text += &format!("limit d{j} : {ty} draws l{pool} at {credits}{per}\n");
        }
        for (i, lower) in plan.settings.iter().enumerate() {
            text += &format!("setting s{i} : percent prefer {}\n", if *lower { "lower" } else { "higher" });
        }
        let unit = |ty: u8| ["", " B", " s"][ty as usize];
        for (i, tier) in plan.tiers.iter().enumerate() {
            let extends = tier.parent.map_or(String::new(), |p| format!(" extends t{p}"));
            text += &format!("tier t{i}{extends} {{\n");
            if tier.grant_all {
                text += "  grant all\n";
            }
            for (f, (kind, rollout)) in tier.features.iter().enumerate() {
                match kind {
                    1 => text += &format!("  grant f{f}\n"),
                    2 => text += &format!("  grant f{f} rollout {rollout}%\n"),
                    3 => text += &format!("  revoke f{f}\n"),
                    _ => {}
                }
            }
            for (l, entry) in tier.limits.iter().enumerate() {
                let Some((value, soft, cap, warn)) = entry else { continue };
                let u = unit(plan.limits[l].0);
                // Some values are per seat, where the language allows it (not on a duration cap
                // or gauge, nor on `unlimited`); a finite soft cap then is too.
                let seat =
                    if *value != 49 && seats_allowed(plan.limits[l]) && (value + *cap + l as u64).is_multiple_of(3) {
                        " per seat"
                    } else {
                        ""
                    };
                let value_text = if *value == 49 { "unlimited".to_string() } else { format!("{value}{u}{seat}") };
                let soft = match soft {
                    1 => format!(" soft {cap}{u}{seat}"),
                    2 => " soft".to_string(),
                    _ => String::new(),
                };
                let soft = if *value == 49 { String::new() } else { soft };
                let warn = if *warn > 0 && *value != 49 { format!(" warn at {warn}%") } else { String::new() };
                text += &format!("  limit l{l} = {value_text}{soft}{warn}\n");
            }
            for (s, value) in tier.settings.iter().enumerate() {
                if let Some(v) = value {
                    text += &format!("  set s{s} = {}%\n", 90 + v * 3);
                }
            }
            text += "}\n";
        }
        for (i, addon) in plan.addons.iter().enumerate() {
            let for_tiers: Vec<String> = addon.for_tiers.iter().map(|t| format!("t{t}")).collect();
            text += &format!("addon a{i} for {} {{\n", for_tiers.join(", "));
            if addon.grant_all {
                text += "  grant all\n";
            }
            for (f, granted) in addon.grants.iter().enumerate() {
                if *granted {
                    text += &format!("  grant f{f}\n");
                }
            }
            for (l, change) in addon.limits.iter().enumerate() {
                if let Some((add, value)) = change {
                    text +=
                        &format!("  limit l{l} {} {value}{}\n", if *add { "+=" } else { "=" }, unit(plan.limits[l].0));
                }
            }
            for (s, value) in addon.settings.iter().enumerate() {
                if let Some(v) = value {
                    text += &format!("  set s{s} = {}%\n", 91 + v * 3);
                }
            }
            // Every other add-on with a validity window is a trial instead: of 100 seconds (as
            // long as the questions' instants span), a day or a month, alone or within the window.
            let at = |t: i64| crate::time::format_instant(t);
            match (addon.valid, i % 6) {
                (Some((from, until)), 1 | 3) => {
                    let length = if i % 6 == 1 { "100 s" } else { "1 day" };
                    text += &format!("  valid for {length} from {} until {}\n", at(from), at(until));
                }
                (Some(_), 5) => text += "  valid for 1 month\n",
                (None, 4) => text += "  valid for 100 s\n",
                (Some((from, until)), _) => text += &format!("  valid from {} until {}\n", at(from), at(until)),
                (None, _) => {}
            }
            text += "}\n";
        }
        text
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// The compiled engine agrees with the oracle on every feature, limit and setting
        /// question, for every tier, several keys, add-on sets, instants and usages.
        #[test]
        fn the_engine_agrees_with_the_reference_evaluator(
            plan in plan(),
            keys in prop::collection::vec("[a-z0-9-]{0,12}", 1..4),
            addon_masks in prop::collection::vec(0u8..16, 1..4),
            usages in prop::collection::vec((0u64..80, 0u64..40), 1..4),
            nows in prop::collection::vec(-50i64..400, 1..3),
            holdings in prop::collection::vec(any::<u64>(), 1..3),
            overrides in prop::collection::vec(
                (
                    0usize..4,
                    (0u8..3, 0u32..8, 0u8..4),
                    prop_oneof![0u64..120, any::<u64>()],
                    any::<bool>(),
                    (prop::option::of(-50i64..400), prop::option::of(-50i64..400)),
                ),
                0..6,
            ),
        ) {
            let text = render(&plan);
            let checked = match crate::check(&Source::new("generated", text.as_str())) {
                Ok(checked) => checked,
                Err(d) => return Err(TestCaseError::fail(format!("generated policy does not check: {d}\n{text}"))),
            };
            let model = checked.model();
            // Holding every add-on at once is where add-ons interact, so it is always tried.
            let masks = addon_masks.iter().map(|&m| u64::from(m)).chain([u64::MAX]);
            // Keys matter to features and usages to limits: pairing them asks each of both.
            let pairs = keys.len().max(usages.len());
            let items = model.features.len().max(model.limits.len()).max(model.settings.len());
            let mut questions = Vec::new();
            for tier in 0..model.tiers.len() {
                for mask in masks.clone() {
                    for &now in &nows {
                        for pair in 0..pairs {
                            let (used, requested) = usages[pair % usages.len()];
                            let key = keys[pair % keys.len()].as_str();
                            for item in 0..items {
                                let (tier, item) = (dense(tier), dense(item));
                                // Every other question lists its add-ons by id.
                                let plain = (u64::try_from(pair).unwrap_or(0) ^ mask ^ u64::from(item)) & 1 == 0;
                                let holding = if plain { 0 } else { holdings[pair % holdings.len()] };
                                questions.push(Question { tier, key, addons: mask, now, item, used, requested, holding });
                            }
                        }
                    }
                }
            }
            // Override records for the questions' own keys, so that they apply.
            let specs: Vec<OverrideSpec<'_>> = overrides
                .iter()
                .map(|&(subject, (kind, item, op), value, per_seat, (from, until))| OverrideSpec {
                    subject: keys[subject % keys.len()].as_str(),
                    kind,
                    item,
                    op,
                    value,
                    per_seat,
                    from,
                    until,
                })
                .collect();
            if let Err(disagreement) = compare_with_overrides(&text, &specs, &questions) {
                return Err(TestCaseError::fail(format!("{disagreement}\n{text}")));
            }
            // The formatter keeps every generated policy's meaning (the same tables) and is
            // idempotent on it.
            if let Err(problem) = crate::fuzzing::check_format_roundtrip(&text) {
                return Err(TestCaseError::fail(format!("{problem}\n{text}")));
            }
        }
    }

    /// The chain from the last tier up to its root, root first, as a ladder line: each step
    /// is a child above its parent, which is a superset unless a revoke or a lower limit says
    /// otherwise (and then the checker warns).
    fn ladder_line(plan: &Plan) -> Option<String> {
        let mut chain = vec![plan.tiers.len() - 1];
        while let Some(parent) = plan.tiers[chain[chain.len() - 1]].parent {
            chain.push(parent);
        }
        chain.reverse();
        (chain.len() > 1).then(|| {
            let names: Vec<String> = chain.iter().map(|t| format!("t{t}")).collect();
            format!("ladder {}\n", names.join(" < "))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Invariants of every answer, whatever the policy: a ladder step up keeps features
        /// and limits unless the checker warned; within the limit, the request fits what
        /// remains; add-ons never lower a limit; a larger rollout never drops a subject; and
        /// the order of held add-ons never changes an answer.
        #[test]
        fn answers_keep_their_invariants(
            plan in plan(),
            keys in prop::collection::vec("[a-z0-9-]{0,12}", 1..4),
            usages in prop::collection::vec((0u64..80, 0u64..40), 1..4),
            now in -50i64..400,
        ) {
            let mut text = render(&plan);
            if let Some(ladder) = ladder_line(&plan) {
                text.push_str(&ladder);
            }
            let checked = match crate::check(&Source::new("generated", text.as_str())) {
                Ok(checked) => checked,
                Err(d) => return Err(TestCaseError::fail(format!("generated policy does not check: {d}\n{text}"))),
            };
            // A report cut at the warnings cap may have lost the warning looked for.
            let warned = |code: crate::Code| checked.warnings().iter().any(|w| w.code == code || w.code == crate::Code::TooManyWarnings);
            let engine = crate::compile(&checked);
            let model = checked.model();
            // Each add-on held once, acquired now (so that trials apply), by a subject of
            // three seats (so that per-seat values are answered).
            let all: Vec<Held> =
                (0..model.addons.len()).map(|a| Held::new(engine.id_at::<AddonId>(a)).acquired_at(now)).collect();
            let reversed: Vec<Held> = all.iter().rev().copied().collect();

            // Ladder steps.
            for pair in model.ladders.iter().flat_map(|ladder| ladder.windows(2)) {
                let (lower, higher) = (engine.id_at::<TierId>(pair[0]), engine.id_at::<TierId>(pair[1]));
                for key in &keys {
                    for f in 0..model.features.len() {
                        let feature = engine.id_at::<FeatureId>(f);
                        let below = engine.is_allowed(&Request::new(lower, now).with_key(key), feature);
                        let above = engine.is_allowed(&Request::new(higher, now).with_key(key), feature);
                        prop_assert!(!below || above || warned(crate::Code::LadderLosesFeature), "step loses f{} for {:?}\n{}", f, key, text);
                    }
                }
                for l in 0..model.limits.len() {
                    let limit = engine.id_at::<LimitId>(l);
                    let below = engine.check_limit(&Request::new(lower, now).with_seats(3), limit, Usage::used(0)).limit;
                    let above = engine.check_limit(&Request::new(higher, now).with_seats(3), limit, Usage::used(0)).limit;
                    prop_assert!(above >= below || warned(crate::Code::LadderLowersLimit), "step lowers l{}\n{}", l, text);
                }
            }

            for tier in 0..model.tiers.len() {
                let tier_id = engine.id_at::<TierId>(tier);
                let bare = Request::new(tier_id, now).with_seats(3);
                let held = bare.with_held(&all);
                let held_reversed = bare.with_held(&reversed);
                for l in 0..model.limits.len() {
                    let limit = engine.id_at::<LimitId>(l);
                    for &(used, requested) in &usages {
                        let usage = Usage { used, requested };
                        let quota = engine.check_limit(&held, limit, usage);
                        // Within the limit, the request fits what remains (for a limit that
                        // draws on a pool, what the request costs the pool does).
                        if matches!(quota.status, Status::Within | Status::Warning) {
                            if let (Amount::Finite(cap), Amount::Finite(left)) = (quota.limit, quota.remaining) {
                                let requested = engine.check_draw(&held, limit, usage).cost;
                                prop_assert!(used.saturating_add(requested) <= cap && requested <= left, "{:?}\n{}", quota, text);
                            }
                        }
                        // Add-ons never lower a limit.
                        let without = engine.check_limit(&bare, limit, usage);
                        prop_assert!(quota.limit >= without.limit, "add-ons lowered l{}: {:?} < {:?}\n{}", l, quota.limit, without.limit, text);
                        // The order of held add-ons does not matter.
                        prop_assert_eq!(quota, engine.check_limit(&held_reversed, limit, usage));
                        // Holding more of an add-on never lowers a limit or its ceiling, and
                        // holding none of it is holding nothing.
                        for (i, one) in all.iter().enumerate() {
                            let mut more = all.clone();
                            more[i] = one.with_quantity(2);
                            let mut none = all.clone();
                            none[i] = one.with_quantity(0);
                            let without_it: Vec<Held> = all.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, h)| *h).collect();
                            let twice = engine.check_limit(&bare.with_held(&more), limit, usage);
                            if twice.reason != Reason::QuantityAboveMax {
                                prop_assert!(twice.limit >= quota.limit, "a quantity of 2 lowered l{}\n{}", l, text);
                                let ceiling = |q: &Quota| q.soft_cap.unwrap_or(q.limit);
                                prop_assert!(ceiling(&twice) >= ceiling(&quota), "a quantity of 2 lowered the ceiling of l{}\n{}", l, text);
                            }
                            prop_assert_eq!(
                                engine.check_limit(&bare.with_held(&none), limit, usage),
                                engine.check_limit(&bare.with_held(&without_it), limit, usage)
                            );
                        }
                    }
                }
                for key in &keys {
                    for f in 0..model.features.len() {
                        let feature = engine.id_at::<FeatureId>(f);
                        prop_assert_eq!(
                            engine.decide(&held.with_key(key), feature),
                            engine.decide(&held_reversed.with_key(key), feature)
                        );
                    }
                }
                for s in 0..model.settings.len() {
                    let setting = engine.id_at::<SettingId>(s);
                    prop_assert_eq!(engine.setting_value(&held, setting), engine.setting_value(&held_reversed, setting));
                }
            }
        }

        /// A rollout at N% never drops a subject that a smaller share let in.
        #[test]
        fn a_larger_rollout_keeps_everyone_a_smaller_one_let_in(
            shares in (0u32..=100, 0u32..=100),
            keys in prop::collection::vec("[a-z0-9-]{0,16}", 1..40),
        ) {
            let (small, large) = if shares.0 <= shares.1 { shares } else { (shares.1, shares.0) };
            let at = |share: u32| {
                let text = format!("policy \"p\"\nfeature f\ntier t {{ grant f rollout {share}% }}\n");
                crate::compile(&crate::check(&Source::new("p", text)).expect("checks"))
            };
            let (narrow, wide) = (at(small), at(large));
            // Each engine answers its own ids.
            let ask = |engine: &crate::Engine, key: &str| {
                let request = Request::new(engine.tier("t").expect("t"), 0).with_key(key);
                engine.is_allowed(&request, engine.feature("f").expect("f"))
            };
            for key in &keys {
                prop_assert!(!ask(&narrow, key) || ask(&wide, key), "{} at {}% but not {}%", key, small, large);
            }
        }
    }
}
