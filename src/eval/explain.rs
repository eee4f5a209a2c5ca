//! Explanations: the rules behind an answer, with their source spans, and what would change it.
//!
//! This is the slow path, for people: it walks the model, allocates, and formats text.

use serde::Serialize;

use crate::check::format_amount;
use crate::engine::*;
use crate::model::{AddonOp, Amount, Model};
use crate::rollout;
use crate::source::Span;
use crate::time::format_instant;

/// One rule that took part in an answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// What the rule says or does, in words: "tier `pro` grants `hd_video`".
    pub rule: String,
    /// Where the rule is in the policy source, if it is a rule written there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
}

/// What would allow something that was denied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Upgrade {
    /// The cheapest tier above the subject's in its ladder that would allow it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// The first add-on (in declaration order) that the subject does not hold and that would
    /// allow it on its current tier, at `now`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addon: Option<String>,
}

/// An answer with the chain of rules that produced it and, when denied, an upgrade hint.
#[derive(Clone, Debug, PartialEq, Serialize)]
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
    let mut tiers = vec![tier];
    while let Some(parent) = model.tiers[tiers[tiers.len() - 1]].parent {
        tiers.push(parent);
    }
    tiers.reverse();
    tiers
}

impl Engine {
    /// The tiers above `tier` in its ladder, cheapest first.
    fn tiers_above(&self, tier: usize) -> Vec<usize> {
        self.model
            .ladders
            .iter()
            .find_map(|ladder| ladder.iter().position(|&t| t == tier).map(|at| ladder[at + 1..].to_vec()))
            .unwrap_or_default()
    }

    /// Why add-on `addon` does or does not apply to the subject now, as a phrase.
    fn addon_status(&self, ctx: &Context<'_>, addon: usize) -> Option<String> {
        let tier = ctx.tier.index();
        if !self.attaches(addon, tier) {
            return Some(format!("but it does not attach to tier `{}`", self.model.tiers[tier].name));
        }
        if !self.valid_at(addon, ctx.now) {
            let (from, until) = self.addon_valid[addon];
            let bound = |t: i64| if t == i64::MIN || t == i64::MAX { "-".to_string() } else { format_instant(t) };
            return Some(format!(
                "but it is not valid at {} (valid [{}, {}))",
                format_instant(ctx.now),
                bound(from),
                bound(until)
            ));
        }
        None
    }

    /// Unknown ids, explained; `None` when every id is known.
    fn explain_unknown(&self, ctx: &Context<'_>) -> Option<Step> {
        let reason = self.validate(ctx).err()?;
        Some(note(format!("the query names something the policy does not declare ({reason})")))
    }

    /// [`Engine::decide`], with the rules behind the decision and an upgrade hint.
    ///
    /// ```
    /// # let checked = entitle::check(&entitle::Source::new("p", "policy \"p\"\nfeature hd\nladder free < pro\ntier free { }\ntier pro extends free { grant hd }\n")).unwrap();
    /// # let engine = entitle::compile(&checked);
    /// let ctx = entitle::Context::new(engine.tier("free").unwrap(), 0);
    /// let why = engine.explain_feature(&ctx, engine.feature("hd").unwrap());
    /// assert!(!why.answer.allowed);
    /// assert_eq!(why.upgrade.unwrap().tier.as_deref(), Some("pro"));
    /// ```
    pub fn explain_feature(&self, ctx: &Context<'_>, feature: FeatureId) -> Explanation<Decision> {
        let answer = self.decide(ctx, feature);
        let f = feature.index();
        let unknown = self.explain_unknown(ctx).or_else(|| {
            (f >= self.model.features.len())
                .then(|| note("the query names a feature the policy does not declare".into()))
        });
        if let Some(unknown) = unknown {
            return Explanation { answer, steps: vec![unknown], upgrade: None };
        }
        let model = &self.model;
        let tier = ctx.tier.index();
        let name = &model.features[f].name;
        let mut steps = Vec::new();
        for t in chain(model, tier) {
            let def = &model.tiers[t];
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
        let threshold = self.rollout_threshold(tier, f);
        if self.grants[tier * self.feature_words + f / 64][ROLLOUT] & (1 << (f % 64)) != 0 {
            let bucket = rollout::bucket(name, ctx.key);
            let side = if bucket < threshold { "inside" } else { "outside" };
            steps.push(note(format!(
                "subject `{}` has bucket {bucket} for `{name}`, {side} the rollout (buckets below {threshold})",
                ctx.key
            )));
        }
        for addon in ctx.addons {
            let a = addon.index();
            let def = &model.addons[a];
            let grants = def.grant_all.or_else(|| def.grants.iter().find(|(g, _)| *g == f).map(|(_, span)| *span));
            if let Some(span) = grants {
                let status = self.addon_status(ctx, a).map_or(String::new(), |why| format!(", {why}"));
                steps.push(step(format!("held add-on `{}` grants `{name}`{status}", def.name), span));
            }
        }
        if steps.is_empty() {
            steps.push(note(format!("no rule in tier `{}` or its ancestors grants `{name}`", model.tiers[tier].name)));
        }
        let upgrade =
            (!answer.allowed).then(|| self.upgrade(ctx, |engine, ctx| engine.decide(ctx, feature).allowed)).flatten();
        Explanation { answer, steps, upgrade }
    }

    /// [`Engine::check_limit`], with the rules behind the quota and an upgrade hint.
    ///
    /// ```
    /// # let checked = entitle::check(&entitle::Source::new("p", "policy \"p\"\nlimit calls : count per day\ntier free { limit calls = 100 }\naddon more for free { limit calls += 100 }\n")).unwrap();
    /// # let engine = entitle::compile(&checked);
    /// let ctx = entitle::Context::new(engine.tier("free").unwrap(), 0);
    /// let why = engine.explain_limit(&ctx, engine.limit("calls").unwrap(), 100, 50);
    /// assert!(!why.answer.allowed);
    /// assert_eq!(why.upgrade.unwrap().addon.as_deref(), Some("more"));
    /// ```
    pub fn explain_limit(&self, ctx: &Context<'_>, limit: LimitId, used: u64, requested: u64) -> Explanation<Quota> {
        let answer = self.check_limit(ctx, limit, used, requested);
        let l = limit.index();
        let unknown = self.explain_unknown(ctx).or_else(|| {
            (l >= self.limit_count).then(|| note("the query names a limit the policy does not declare".into()))
        });
        if let Some(unknown) = unknown {
            return Explanation { answer, steps: vec![unknown], upgrade: None };
        }
        let model = &self.model;
        let def = &model.limits[l];
        let show = |amount: Amount| format_amount(def.ty, amount);
        let mut steps = Vec::new();
        for t in chain(model, ctx.tier.index()) {
            for set in model.tiers[t].limits.iter().filter(|s| s.limit == l) {
                let mut rule = format!("tier `{}` sets `{}` = {}", model.tiers[t].name, def.name, show(set.value));
                match set.soft {
                    Some(Amount::Unlimited) => rule.push_str(" soft (unbounded overage)"),
                    Some(cap) => rule.push_str(&format!(" soft {}", show(cap))),
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
                model.tiers[ctx.tier.index()].name,
                def.name
            )));
        }
        for addon in ctx.addons {
            let a = addon.index();
            for change in model.addons[a].limits.iter().filter(|c| c.limit == l) {
                let verb = match change.op {
                    AddonOp::Add => format!("adds {}", show(change.value)),
                    AddonOp::AtLeast => format!("raises it to at least {}", show(change.value)),
                };
                let status = self.addon_status(ctx, a).map_or(String::new(), |why| format!(", {why}"));
                steps.push(step(format!("held add-on `{}` {verb}{status}", model.addons[a].name), change.span));
            }
        }
        let total = used.saturating_add(requested);
        steps.push(note(format!(
            "usage {} + request {} = {} against limit {}: {}",
            show(Amount::Finite(used)),
            show(Amount::Finite(requested)),
            show(Amount::Finite(total)),
            show(answer.limit),
            answer.status.as_str()
        )));
        if let Some(window) = answer.window {
            steps.push(note(format!(
                "the counter's window is [{}, {})",
                format_instant(window.start),
                format_instant(window.end)
            )));
        }
        let upgrade = (!answer.allowed)
            .then(|| self.upgrade(ctx, |engine, ctx| engine.check_limit(ctx, limit, used, requested).allowed))
            .flatten();
        Explanation { answer, steps, upgrade }
    }

    /// The cheapest ladder tier above the subject's, and the first add-on not held, that make
    /// `allows` true; `None` if neither exists.
    fn upgrade(&self, ctx: &Context<'_>, allows: impl Fn(&Engine, &Context<'_>) -> bool) -> Option<Upgrade> {
        let tier = self.tiers_above(ctx.tier.index()).into_iter().find(|&t| {
            let higher = Context { tier: TierId(t as u32), ..*ctx };
            allows(self, &higher)
        });
        let addon = (0..self.model.addons.len()).find(|&a| {
            if ctx.addons.iter().any(|held| held.index() == a) {
                return false;
            }
            let mut held = ctx.addons.to_vec();
            held.push(AddonId(a as u32));
            allows(self, &Context { addons: &held, ..*ctx })
        });
        if tier.is_none() && addon.is_none() {
            return None;
        }
        Some(Upgrade {
            tier: tier.map(|t| self.model.tiers[t].name.clone()),
            addon: addon.map(|a| self.model.addons[a].name.clone()),
        })
    }
}
