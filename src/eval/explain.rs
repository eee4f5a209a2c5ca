//! Explanations: the rules behind an answer, with their source spans, and what would change it.
//!
//! This is the slow path, for people: it walks the model (the inheritance chain included, to
//! find the rules and their spans), allocates, and formats text. Its answer always comes from
//! the fast path, so an explanation never disagrees with the decision it explains.

use crate::engine::*;
use crate::held::NOT_ACQUIRED;
use crate::model::{AddonOp, Amount, Model};
use crate::overrides::{OverrideChange, Subject};
use crate::rollout;
use crate::source::Span;
use crate::tables::amount as amount_of;
use crate::time::format_instant;
use crate::units::{format_amount, format_count, format_rate};

/// One rule that took part in an answer. `#[non_exhaustive]`, like every answer type.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Step {
    /// What the rule says or does, in words: "tier `pro` grants `hd_video`".
    pub rule: String,
    /// Where the rule is in the policy source, if it is a rule written there.
    pub span: Option<Span>,
}

/// What would allow something that was denied. `#[non_exhaustive]`, like every answer type.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Upgrade {
    /// The cheapest tier above the subject's in its ladder that would allow it, if any.
    pub tier: Option<String>,
    /// The first add-on (in declaration order) that the subject does not hold, or holds below
    /// its maximum quantity, and that would allow it on its current tier at `now`, if any.
    pub addon: Option<String>,
    /// The least total quantity of that add-on that would allow it, when that is more than 1
    /// or the subject already holds some.
    pub quantity: Option<u64>,
    /// When that add-on, a trial, would stop applying if acquired now: its trial's end, or its
    /// `until` if that comes first. `None` for an add-on that is not a trial.
    pub ends: Option<i64>,
}

/// An answer with the chain of rules that produced it and, when denied, an upgrade hint.
#[derive(Clone, Debug, PartialEq)]
#[must_use]
#[non_exhaustive]
pub struct Explanation<A> {
    /// The answer, exactly as the fast path gives it.
    pub answer: A,
    /// The rules that produced it, from the root of the tier's inheritance chain down, then
    /// the add-ons, then the arithmetic.
    pub steps: Vec<Step>,
    /// What would allow it, when it was denied and something would; `None` otherwise.
    pub upgrade: Option<Upgrade>,
}

fn step(rule: String, span: Span) -> Step {
    Step { rule, span: Some(span) }
}

fn note(rule: String) -> Step {
    Step { rule, span: None }
}

/// The tier and its ancestors, root first.
fn chain(model: &Model, tier: usize) -> Vec<usize> {
    // The checker proved inheritance acyclic and bounded in depth, so this ends.
    let mut tiers = vec![tier];
    let mut current = tier;
    while let Some(parent) = model.tiers.get(current).and_then(|t| t.parent) {
        tiers.push(parent);
        current = parent;
    }
    tiers.reverse();
    tiers
}

impl Engine {
    /// The tiers above `tier` in its ladder, cheapest first.
    fn tiers_above(&self, tier: usize) -> Vec<usize> {
        self.model()
            .ladders
            .iter()
            .find_map(|ladder| {
                let at = ladder.iter().position(|&t| t == tier)?;
                Some(ladder.get(at + 1..).unwrap_or_default().to_vec())
            })
            .unwrap_or_default()
    }

    /// Why a held add-on does or does not apply to the subject now, as a phrase.
    fn addon_status(&self, request: &Request<'_>, held: Held, addon: usize) -> Option<String> {
        let tier = self.index(request.tier);
        if held.quantity() == 0 {
            return Some("but it is held with quantity 0, so it does not apply".into());
        }
        if !self.tables().attaches(addon, tier) {
            return Some(format!(
                "but it does not attach to tier `{}`",
                self.tier_name(request.tier).unwrap_or_default()
            ));
        }
        let meta = *self.tables().addon_meta(addon);
        let acquired = held.acquired().unwrap_or(NOT_ACQUIRED);
        let trial = meta.trial().zip(held.acquired()).map(|(length, at)| (at, super::trial::end(at, length)));
        if !self.valid_at(addon, acquired, request.now) {
            let inside = meta.from <= request.now && (request.now < meta.until || meta.until == i64::MAX);
            if let (true, Some((at, end))) = (inside, trial) {
                return Some(match end {
                    _ if request.now < at => format!("but its trial starts at {}", format_instant(at)),
                    Some(end) => format!("but its trial ended at {}", format_instant(end)),
                    None => format!("but its trial, acquired at {}, is outside years 1–9999", format_instant(at)),
                });
            }
            let bound = |t: i64| if t == i64::MIN || t == i64::MAX { "-".to_string() } else { format_instant(t) };
            return Some(format!(
                "but it is not valid at {} (valid [{}, {}))",
                format_instant(request.now),
                bound(meta.from),
                bound(meta.until)
            ));
        }
        match trial {
            // A trial whose end is past the last instant never ends.
            Some((at, Some(i64::MAX))) => Some(format!("as a trial acquired at {}, with no end", format_instant(at))),
            Some((at, Some(end))) => {
                Some(format!("as a trial acquired at {}, ending at {}", format_instant(at), format_instant(end)))
            }
            _ => None,
        }
    }

    /// A request refused whatever it asks (an unknown id, too many add-ons, one listed twice, a
    /// quantity above its maximum, a trial without its acquisition), explained; `None` when
    /// the request passes its checks.
    fn explain_unknown(&self, request: &Request<'_>) -> Option<Step> {
        let reason = self.validate(request).err()?;
        Some(note(match reason {
            Reason::UnknownTier | Reason::UnknownAddon => {
                format!("the query names something the policy does not declare ({})", reason.as_str())
            }
            _ => format!("the query is refused: {} ({})", reason.describe(), reason.as_str()),
        }))
    }

    /// [`Engine::decide`], with the rules behind the decision and an upgrade hint.
    ///
    /// ```
    /// let engine = entitle::Engine::from_source("p", "policy \"p\"\nfeature hd\nladder free < pro\ntier free { }\ntier pro extends free { grant hd }\n")?;
    /// let request = entitle::Request::new(engine.tier("free").unwrap(), 0);
    /// let why = engine.explain_feature(&request, engine.feature("hd").unwrap());
    /// assert!(!why.answer.allowed);
    /// assert_eq!(why.upgrade.unwrap().tier.as_deref(), Some("pro"));
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn explain_feature(&self, request: &Request<'_>, feature: FeatureId) -> Explanation<Decision> {
        let answer = self.decide(request, feature);
        let model = self.model();
        let f = self.index(feature);
        let Some(declared) = model.features.get(f) else {
            let unknown = self.explain_unknown(request);
            let step = unknown.unwrap_or_else(|| note("the query names a feature the policy does not declare".into()));
            return Explanation { answer, steps: vec![step], upgrade: None };
        };
        if let Some(unknown) = self.explain_unknown(request) {
            return Explanation { answer, steps: vec![unknown], upgrade: None };
        }
        let tier = self.index(request.tier);
        let name = &declared.name;
        let mut steps = Vec::new();
        for def in chain(model, tier).into_iter().filter_map(|t| model.tiers.get(t)) {
            if let Some(span) = def.grant_all {
                steps.push(step(format!("tier `{}` grants every feature (`grant all`)", def.name), span));
            }
            for grant in def.grants.iter().filter(|g| g.feature == f) {
                let rule = match grant.rollout {
                    Some(share) => format!("tier `{}` grants `{name}` to {share} of subjects", def.name),
                    None => format!("tier `{}` grants `{name}`", def.name),
                };
                steps.push(step(rule, grant.span));
            }
            for &(_, span) in def.revokes.iter().filter(|(feature, _)| *feature == f) {
                steps.push(step(format!("tier `{}` revokes `{name}`", def.name), span));
            }
        }
        if self.tables().grant(tier, f).rollout {
            let threshold = self.tables().rollout_threshold(tier, f);
            let bucket = rollout::bucket(name, request.key);
            let side = if bucket < threshold { "inside" } else { "outside" };
            steps.push(note(format!(
                "subject `{}` has bucket {bucket} for `{name}`, {side} the rollout (buckets below {threshold})",
                request.key
            )));
        }
        for held in request.held() {
            let a = self.index(held.addon());
            let Some(def) = model.addons.get(a) else { continue };
            let grants = def.grant_all.or_else(|| def.grants.iter().find(|(g, _)| *g == f).map(|(_, span)| *span));
            if let Some(span) = grants {
                let status = self.addon_status(request, held, a).map_or(String::new(), |why| format!(", {why}"));
                steps.push(step(format!("held add-on `{}` grants `{name}`{status}", def.name), span));
            }
        }
        if steps.is_empty() {
            let tier_name = self.tier_name(request.tier).unwrap_or_default();
            steps.push(note(format!("no rule in tier `{tier_name}` or its ancestors grants `{name}`")));
        }
        if let Some(subject) = request.overrides {
            let found = subject.feature(f, request.now).map(|(at, _)| at);
            let plan = self.decide(&request.without_overrides(), feature);
            let outcome = format!("the plan's answer is {}", plan.reason.as_str());
            steps.extend(self.override_step(request, subject, found, &outcome));
        }
        let upgrade = (!answer.allowed)
            .then(|| self.upgrade(request, |engine, request| engine.decide(request, feature).allowed))
            .flatten();
        Explanation { answer, steps, upgrade }
    }

    /// [`Engine::check_limit`], with the rules behind the quota and an upgrade hint.
    ///
    /// ```
    /// use entitle::Usage;
    /// let engine = entitle::Engine::from_source("p", "policy \"p\"\nlimit calls : count per day\ntier free { limit calls = 100 }\naddon more for free { limit calls += 100 }\n")?;
    /// let request = entitle::Request::new(engine.tier("free").unwrap(), 0);
    /// let why = engine.explain_limit(&request, engine.limit("calls").unwrap(), Usage::used(100).requesting(50));
    /// assert!(!why.answer.allowed);
    /// assert_eq!(why.upgrade.unwrap().addon.as_deref(), Some("more"));
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn explain_limit(&self, request: &Request<'_>, limit: LimitId, usage: Usage) -> Explanation<Quota> {
        let answer = self.check_limit(request, limit, usage);
        let model = self.model();
        let l = self.index(limit);
        let Some(def) = model.limits.get(l) else {
            let unknown = self.explain_unknown(request);
            let step = unknown.unwrap_or_else(|| note("the query names a limit the policy does not declare".into()));
            return Explanation { answer, steps: vec![step], upgrade: None };
        };
        if let Some(unknown) = self.explain_unknown(request) {
            return Explanation { answer, steps: vec![unknown], upgrade: None };
        }
        if let (Some(rate), Some(pool)) = (def.draws, self.pool(limit)) {
            return self.explain_draw(request, (limit, def), rate, pool, usage);
        }
        let show = |amount: Amount| format_amount(def.ty, amount);
        let mut steps = Vec::new();
        for tier in chain(model, self.index(request.tier)).into_iter().filter_map(|t| model.tiers.get(t)) {
            for set in tier.limits.iter().filter(|s| s.limit == l) {
                let each = if set.per_seat { " per seat" } else { "" };
                let mut rule = format!("tier `{}` sets `{}` = {}{each}", tier.name, def.name, show(set.value));
                match set.soft {
                    Some(Amount::Unlimited) => rule.push_str(" soft (unbounded overage)"),
                    Some(cap) => rule.push_str(&format!(" soft {}{each}", show(cap))),
                    None => {}
                }
                if let Some(warn) = set.warn {
                    rule.push_str(&format!(" warn at {warn}"));
                }
                steps.push(step(rule, set.span));
            }
        }
        if steps.is_empty() {
            steps.push(note(format!(
                "no rule in tier `{}` or its ancestors sets `{}`, so it is 0",
                self.tier_name(request.tier).unwrap_or_default(),
                def.name
            )));
        }
        for held in request.held() {
            let a = self.index(held.addon());
            let Some(def) = model.addons.get(a) else { continue };
            for change in def.limits.iter().filter(|c| c.limit == l) {
                let each = if change.per_seat { " per seat" } else { "" };
                let verb = match change.op {
                    AddonOp::Add if held.quantity() > 1 => {
                        format!("×{} adds {}{each} each", held.quantity(), show(change.value))
                    }
                    AddonOp::Add => format!("adds {}{each}", show(change.value)),
                    AddonOp::AtLeast => format!("raises it to at least {}{each}", show(change.value)),
                };
                let status = self.addon_status(request, held, a).map_or(String::new(), |why| format!(", {why}"));
                steps.push(step(format!("held add-on `{}` {verb}{status}", def.name), change.span));
            }
        }
        if answer.reason == Reason::SeatsNotGiven {
            // Nothing to add up, and nothing to upgrade to: the query is missing an input.
            steps
                .push(note(format!("`{}` has a per-seat value in force, and the query gives no seat count", def.name)));
            return Explanation { answer, steps, upgrade: None };
        }
        // With an override in force, the arithmetic is the plan's, and the override step says
        // what it made of it.
        let plan =
            if answer.overridden() { self.check_limit(&request.without_overrides(), limit, usage) } else { answer };
        if matches!(plan.reason, Reason::WithinLimit | Reason::Overage | Reason::LimitExceeded) {
            if let Some(arithmetic) = self.limit_arithmetic(request, l, &show) {
                steps.push(note(format!("limit in force: {arithmetic} = {}", show(plan.limit))));
            }
        }
        if answer.reason == Reason::OverridesNotForEngine {
            // Nothing was added up: the request's overrides belong to another policy.
            steps.extend(request.overrides.and_then(|subject| self.override_step(request, subject, None, "")));
            return Explanation { answer, steps, upgrade: None };
        }
        if let (true, Some(subject)) = (answer.overridden(), request.overrides) {
            let found = subject.limit(l, request.now).map(|(at, ..)| at);
            let planned = if plan.reason == Reason::LimitNotSet { "not set".to_string() } else { show(plan.limit) };
            let values = format!("plan value {planned}, override value {}", show(answer.limit));
            steps.extend(self.override_step(request, subject, found, &values));
        }
        let total = usage.used.saturating_add(usage.requested);
        steps.push(note(format!(
            "usage {} + request {} = {} against limit {}: {}",
            show(Amount::Finite(usage.used)),
            show(Amount::Finite(usage.requested)),
            show(Amount::Finite(total)),
            show(answer.limit),
            answer.status.as_str()
        )));
        if let Some(window) = answer.window() {
            let (start, end) = (format_instant(window.start), format_instant(window.end));
            steps.push(note(if answer.rolling() {
                format!("the counter's rolling window is [{start}, {end}): usage older than it no longer counts")
            } else {
                format!("the counter's window is [{start}, {end})")
            }));
        }
        let upgrade = (!answer.allowed)
            .then(|| self.upgrade(request, |engine, request| engine.check_limit(request, limit, usage).allowed))
            .flatten();
        Explanation { answer, steps, upgrade }
    }

    /// The explanation for a limit that draws on a pool: what the request costs, then the
    /// pool's own explanation for that cost, which is the answer's.
    fn explain_draw(
        &self,
        request: &Request<'_>,
        (limit, def): (LimitId, &crate::model::LimitDef),
        rate: crate::model::DrawRate,
        pool: LimitId,
        usage: Usage,
    ) -> Explanation<Quota> {
        let (_, cost) = self.pool_terms(limit, usage.requested);
        let mut why = self.explain_limit(request, pool, Usage { used: usage.used, requested: cost });
        let pool_name = self.limit_name(pool).unwrap_or_default();
        let rule = format!(
            "`{}` draws on `{pool_name}` {}: a request of {} costs {}",
            def.name,
            format_rate(def.ty, rate.credits, rate.per),
            format_amount(def.ty, Amount::Finite(usage.requested)),
            format_count(cost),
        );
        why.steps.insert(0, step(rule, def.span));
        why
    }

    /// `value` written in `limit`'s units, as a policy writes it (`50 GiB`, `2_000_000`,
    /// `unlimited`); the number alone for a limit this engine does not declare.
    pub(crate) fn limit_amount_text(&self, limit: LimitId, value: Amount) -> String {
        let def = self.model().limits.get(self.index(limit));
        def.map_or_else(|| value.to_string(), |d| format_amount(d.ty, value))
    }

    /// The override record at `found` among `subject`'s, described with `outcome` (what it
    /// made of the plan), its line, validity, reason and author.
    fn override_step(
        &self,
        request: &Request<'_>,
        subject: Subject<'_>,
        found: Option<usize>,
        outcome: &str,
    ) -> Option<Step> {
        if subject.set.policy != self.policy_hash() {
            return Some(note("the query's overrides were checked against another policy, so they are refused".into()));
        }
        let info = crate::overrides::info(subject, request.key, found?);
        let what = match &info.change {
            OverrideChange::Grant(f) => format!("grants `{}`", self.feature_name(*f).unwrap_or_default()),
            OverrideChange::Revoke(f) => format!("revokes `{}`", self.feature_name(*f).unwrap_or_default()),
            OverrideChange::Limit { limit, op, value, per_seat } => {
                let shown = self.limit_amount_text(*limit, *value);
                let each = if *per_seat { " per seat" } else { "" };
                let name = self.limit_name(*limit).unwrap_or_default();
                format!("changes `{name}` by `{}` {shown}{each}", op.as_str())
            }
            OverrideChange::Setting { setting, value } => {
                format!("sets `{}` to {value}", self.setting_name(*setting).unwrap_or_default())
            }
        };
        let mut rule = format!("override for subject `{}` {what} ({outcome}; line {}", request.key, info.line);
        if let Some(from) = info.from {
            rule.push_str(&format!(", from {}", format_instant(from)));
        }
        if let Some(until) = info.until {
            rule.push_str(&format!(", until {}", format_instant(until)));
        }
        if !info.reason.is_empty() {
            rule.push_str(&format!(", reason {:?}", info.reason));
        }
        if !info.author.is_empty() {
            rule.push_str(&format!(", by {:?}", info.author));
        }
        rule.push(')');
        Some(note(rule))
    }

    /// The held add-ons that apply and have an item for `limit` (for its pool, when it draws
    /// on one: the pool's top-ups are what it spends), each with the quantity held, in the
    /// request's order: what a limit answer says it used. Empty for an unknown limit.
    #[cfg(feature = "json")]
    pub(crate) fn quantities_used(&self, request: &Request<'_>, limit: LimitId) -> Vec<(String, u64)> {
        let (tier, l) = (self.index(request.tier), self.index(self.pool_terms(limit, 0).0));
        request
            .held()
            .filter(|held| {
                let a = self.index(held.addon());
                self.tables().addon_delta(a, l).flags != 0 && self.applies(*held, a, tier, request.now)
            })
            .filter_map(|held| Some((self.addon_name(held.addon())?.to_string(), held.quantity())))
            .collect()
    }

    /// How the limit in force is made, when seats or applying add-ons make it other than the
    /// tier's value: `1_000 per seat × 25 seats + 2 × 5_000 from `ai_pack``. `None` when it is
    /// the tier's value as written.
    fn limit_arithmetic(&self, request: &Request<'_>, l: usize, show: &dyn Fn(Amount) -> String) -> Option<String> {
        let tables = self.tables();
        let tier = self.index(request.tier);
        let (set, record) = tables.limit_record(tier, l);
        let seats = request.seats.unwrap_or(0);
        let seat_count = |n: u64| if n == 1 { "1 seat".to_string() } else { format!("{n} seats") };
        let per_seat = |amount: u64, flag: bool| {
            if flag {
                format!("{} per seat × {}", show(amount_of(amount)), seat_count(seats))
            } else {
                show(amount_of(amount))
            }
        };
        let base = if set { per_seat(record.value, record.per_seat()) } else { "0".to_string() };
        let (mut floors, mut sums) = (Vec::new(), Vec::new());
        for held in request.held() {
            let a = self.index(held.addon());
            let delta = tables.addon_delta(a, l);
            if delta.flags == 0 || !self.applies(held, a, tier, request.now) {
                continue;
            }
            let name = self.model().addons.get(a).map_or("", |def| def.name.as_str());
            if delta.flags & crate::tables::AT_LEAST != 0 {
                let floor = per_seat(delta.at_least, delta.flags & crate::tables::AT_LEAST_PER_SEAT != 0);
                floors.push(format!("{floor} from `{name}`"));
            }
            if delta.flags & crate::tables::ADD != 0 {
                let each = per_seat(delta.add, delta.flags & crate::tables::ADD_PER_SEAT != 0);
                let times = if held.quantity() == 1 { String::new() } else { format!("{} × ", held.quantity()) };
                sums.push(format!("{times}{each} from `{name}`"));
            }
        }
        if floors.is_empty() && sums.is_empty() && !record.per_seat() {
            return None;
        }
        let mut text = if floors.is_empty() { base } else { format!("max({base}, {})", floors.join(", ")) };
        for sum in sums {
            text.push_str(" + ");
            text.push_str(&sum);
        }
        Some(text)
    }

    /// The cheapest ladder tier above the subject's, and the first add-on not held (or held
    /// below its maximum) whose holding would make `allows` true; `None` if neither exists.
    fn upgrade(&self, request: &Request<'_>, allows: impl Fn(&Engine, &Request<'_>) -> bool) -> Option<Upgrade> {
        let tier = self.tiers_above(self.index(request.tier)).into_iter().find(|&t| {
            let higher = request.with_tier(self.id_at(t));
            allows(self, &higher)
        });
        let held: Vec<Held> = request.held().collect();
        let addon = self.addons().map(|(id, _)| id).find_map(|candidate| {
            let max = self.tables().addon_meta(self.index(candidate)).max_quantity;
            let at = held.iter().position(|h| h.addon() == candidate);
            let had = at.and_then(|i| held.get(i)).map_or(0, |h| h.quantity());
            if had >= max {
                return None;
            }
            // The same request holding `quantity` of the candidate. A trial is acquired now, at
            // the instant of the question, unless it is held (a quantity above 0) with an
            // instant already; the hint's end is counted from the same instant.
            let acquired = at
                .and_then(|i| held.get(i))
                .filter(|h| h.quantity() > 0)
                .and_then(|h| h.acquired())
                .unwrap_or(request.now);
            let holding = |quantity: u64| {
                let mut list = held.clone();
                let one = Held::new(candidate).with_quantity(quantity).acquired_at(acquired);
                match at.and_then(|i| list.get_mut(i)) {
                    Some(slot) => *slot = one,
                    None => list.push(one),
                }
                allows(self, &request.with_held(&list))
            };
            if !holding(max) {
                return None;
            }
            // Allowed-ness only grows with the quantity (a limit and its ceiling never fall
            // as more is held), so the least quantity that allows is found by bisection.
            let (mut low, mut high) = (had, max);
            while high - low > 1 {
                let middle = low + (high - low) / 2;
                if holding(middle) {
                    high = middle;
                } else {
                    low = middle;
                }
            }
            Some((candidate, high, had > 0, acquired))
        });
        if tier.is_none() && addon.is_none() {
            return None;
        }
        let model = self.model();
        // A trial says when it would end; an add-on that is not a trial says nothing new (its
        // `valid until` is in the policy, and answers of policies without trials stay as they were).
        let ends = addon.and_then(|(a, _, _, acquired)| {
            let meta = self.tables().addon_meta(self.index(a));
            let trial_end = super::trial::end(acquired, meta.trial()?)?;
            let end = if meta.until == i64::MAX { trial_end } else { trial_end.min(meta.until) };
            // A trial that ends past the last instant never ends.
            (end != i64::MAX).then_some(end)
        });
        Some(Upgrade {
            tier: tier.and_then(|t| model.tiers.get(t)).map(|t| t.name.clone()),
            addon: addon.and_then(|(a, _, _, _)| model.addons.get(self.index(a))).map(|a| a.name.clone()),
            quantity: addon.and_then(|(_, quantity, held, _)| (quantity > 1 || held).then_some(quantity)),
            ends,
        })
    }
}
