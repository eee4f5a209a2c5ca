//! Plan views: what a tier offers in the policy's own terms, after inheritance and add-ons, and
//! what changed between two such offers.
//!
//! Queries answer for one subject at one instant; an [`Offer`] describes the terms themselves,
//! as a pricing page or a reviewer reads them: `100 GiB`, `unlimited`, `granted to 5% of
//! subjects`, soft caps and warn thresholds. `entitle matrix` prints offers and `entitle diff`
//! prints [`changes`] between them. Add-ons apply to the tiers they attach to whatever their
//! validity window, since an offer describes terms, not a moment.

use crate::engine::{AddonId, Engine, Reason, Request, TierId};
pub use crate::model::Access;
use crate::model::{Amount, LimitKind, Percentage, Preference, SettingValue};
use crate::units::{format_amount, QuantityType};

/// One tier's entitlements, with some add-ons held, in the policy's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Offer {
    /// The tier.
    pub tier: String,
    /// The add-ons held that attach to the tier, and so apply.
    pub addons: Vec<String>,
    /// The add-ons held that do not attach to the tier, and so change nothing.
    pub addons_not_attached: Vec<String>,
    /// Every feature of the policy, in declaration order.
    pub features: Vec<FeatureTerms>,
    /// Every limit of the policy, in declaration order.
    pub limits: Vec<LimitTerms>,
    /// Every setting of the policy, in declaration order.
    pub settings: Vec<SettingTerms>,
}

/// Whether and to whom an offer gives a feature.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeatureTerms {
    /// The feature.
    pub name: String,
    /// Its access after inheritance; a held add-on that grants it makes it [`Access::Granted`].
    pub access: Access,
}

/// How much of a limit an offer includes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimitTerms {
    /// The limit.
    pub name: String,
    /// What it measures, as declared: `count per day`, `bytes`, `count gauge`.
    pub measure: String,
    /// The included amount; `None` when neither the tier nor a held add-on sets it (every
    /// request is then denied with `limit_not_set`).
    pub value: Option<Amount>,
    /// The soft cap: overage is allowed up to it (`Unlimited`: without bound). `None` for a
    /// hard limit.
    pub soft_cap: Option<Amount>,
    /// The share of the limit at which usage is a warning.
    pub warn: Option<Percentage>,
    ty: QuantityType,
}

impl LimitTerms {
    /// An amount of this limit as the language writes it: `100 GiB`, `1_000_000`, `unlimited`.
    pub fn format(&self, amount: Amount) -> String {
        format_amount(self.ty, amount)
    }

    /// The included amount as written, or `not set`.
    pub fn value_text(&self) -> String {
        self.value.map_or_else(|| "not set".to_string(), |v| self.format(v))
    }

    /// The soft cap as a phrase: `hard`, `soft to 1_200_000`, or `soft without a cap`.
    pub fn soft_text(&self) -> String {
        match self.soft_cap {
            None => "hard".to_string(),
            Some(Amount::Unlimited) => "soft without a cap".to_string(),
            Some(cap) => format!("soft to {}", self.format(cap)),
        }
    }

    /// The most usage let through: the soft cap, or the limit; nothing when it is not set.
    pub fn ceiling(&self) -> Amount {
        crate::model::ceiling(self.value, self.soft_cap)
    }
}

/// A setting's value in an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SettingTerms {
    /// The setting.
    pub name: String,
    /// Its value, or `None` when neither the tier nor a held add-on sets it.
    pub value: Option<SettingValue>,
    /// Which direction is better; `None` for text.
    prefer: Option<Preference>,
}

impl SettingTerms {
    /// Whether `self`'s value is worse for the customer than `before`'s: lower where higher is
    /// better and the reverse, or gone. Text is not ordered, so changing it never counts.
    fn worse_than(&self, before: &SettingTerms) -> bool {
        match (&before.value, &self.value, self.prefer) {
            (Some(_), None, _) => true,
            (Some(old), Some(new), Some(prefer)) => old.better_than(new, prefer),
            _ => false,
        }
    }
}

impl Engine {
    /// What `tier` offers with `addons` held, in the policy's terms.
    ///
    /// Errors with `unknown_tier` or `unknown_addon` for ids this engine did not give out.
    ///
    /// ```
    /// use entitle::Engine;
    /// let engine = Engine::from_source("p", "policy \"p\"\nfeature sso\nlimit storage : bytes\n\
    ///     tier pro { grant sso rollout 5%  limit storage = 100 GiB soft }\n\
    ///     addon more for pro { limit storage += 50 GiB }\n")?;
    /// let pro = engine.tier("pro").unwrap();
    /// let offer = engine.offer(pro, &[]).unwrap();
    /// assert_eq!(offer.features[0].access.to_string(), "5% rollout");
    /// assert_eq!(offer.limits[0].value_text(), "100 GiB");
    /// assert_eq!(offer.limits[0].soft_text(), "soft without a cap");
    /// let with_more = engine.offer(pro, &[engine.addon("more").unwrap()]).unwrap();
    /// assert_eq!(with_more.limits[0].value_text(), "150 GiB");
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn offer(&self, tier: TierId, addons: &[AddonId]) -> Result<Offer, Reason> {
        let request = Request::new(tier, 0).with_addons(addons);
        let t = self.validate(&request)?;
        let tables = self.tables();
        let model = self.model();
        let attached = |a: usize| tables.attaches(a, t);
        let name_of = |a: &AddonId| self.addon_name(*a).unwrap_or_default().to_string();
        let (on, off): (Vec<&AddonId>, Vec<&AddonId>) = addons.iter().partition(|a| attached(self.index(**a)));

        let features = model
            .features
            .iter()
            .enumerate()
            .map(|(f, def)| {
                let bits = tables.grant(t, f);
                let by_addon =
                    addons.iter().any(|a| attached(self.index(*a)) && tables.addon_grants(self.index(*a), f));
                let access = if bits.granted || by_addon {
                    Access::Granted
                } else if bits.rollout {
                    Access::Rollout(Percentage::from_millionths(tables.rollout_threshold(t, f)))
                } else if tables.revoked(t, f) {
                    Access::Revoked
                } else {
                    Access::NotGranted
                };
                FeatureTerms { name: def.name.clone(), access }
            })
            .collect();

        let limits = model
            .limits
            .iter()
            .enumerate()
            .map(|(l, def)| {
                // A plan view describes one seat's terms: per-seat values are shown per seat.
                let (set, record) = tables.limit_record(t, l);
                let force = self.in_force(addons, l, record, 1, |_, a| attached(a));
                let quota = crate::eval::settle(record, &force, 1, crate::Usage::default(), crate::eval::Lazy::NONE);
                let (value, soft_cap, changed) = (quota.limit, quota.soft_cap, force.changed);
                let measure = match def.kind {
                    LimitKind::Cap => def.ty.as_str().to_string(),
                    LimitKind::Gauge => format!("{} gauge", def.ty.as_str()),
                    LimitKind::Counter(window) => format!("{} per {}", def.ty.as_str(), window.as_str()),
                };
                let value = (set || changed).then_some(value);
                LimitTerms {
                    name: def.name.clone(),
                    measure,
                    soft_cap: value.and(soft_cap),
                    warn: value.and(record.warn()),
                    value,
                    ty: def.ty,
                }
            })
            .collect();

        let settings = model
            .settings
            .iter()
            .enumerate()
            .map(|(s, def)| SettingTerms {
                name: def.name.clone(),
                value: self.setting_with_addons(t, s, addons, |_, a| attached(a)).cloned(),
                prefer: def.prefer,
            })
            .collect();

        Ok(Offer {
            tier: self.tier_name(tier).unwrap_or_default().to_string(),
            addons: on.into_iter().map(name_of).collect(),
            addons_not_attached: off.into_iter().map(name_of).collect(),
            features,
            limits,
            settings,
        })
    }
}

/// How a feature's access reads in a table: `granted`, `5% rollout`, `not granted`, `revoked`.
impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Access::Granted => f.write_str("granted"),
            Access::Rollout(p) => write!(f, "{p} rollout"),
            Access::NotGranted => f.write_str("not granted"),
            Access::Revoked => f.write_str("revoked"),
        }
    }
}

/// What a change is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ChangeKind {
    /// A feature gained, lost, or its rollout share changed.
    Feature,
    /// A limit's included amount changed.
    Limit,
    /// A limit's soft cap changed, or it became hard or soft.
    SoftCap,
    /// A limit's warn threshold changed.
    Warn,
    /// What a limit measures changed (its type, window, or gauge).
    Measure,
    /// A setting's value changed.
    Setting,
}

impl ChangeKind {
    /// The kind in lowercase words, as the JSON form of a diff names it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Feature => "feature",
            ChangeKind::Limit => "limit",
            ChangeKind::SoftCap => "soft_cap",
            ChangeKind::Warn => "warn",
            ChangeKind::Measure => "measure",
            ChangeKind::Setting => "setting",
        }
    }
}

/// One difference between two offers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Change {
    /// What changed.
    pub kind: ChangeKind,
    /// The feature, limit or setting.
    pub name: String,
    /// The value before, as a table shows it (`not declared` when the policy lacked it).
    pub before: String,
    /// The value after, likewise.
    pub after: String,
    /// Whether a customer on the old terms loses something: a feature lost or offered to fewer
    /// subjects, a limit lowered or made stricter, a setting worsened or dropped. A changed
    /// measure counts too, since a limit per day read per month is a different promise.
    pub takes_away: bool,
    /// Whether a customer on the old terms clearly gets more: a feature offered to more
    /// subjects, a limit raised, a setting improved or newly set. A change that neither takes
    /// away nor gives (a warn threshold, changed text) is neutral.
    pub gives: bool,
}

/// The differences from `before` to `after`, features first, then limits, then settings, each
/// in `after`'s order followed by what only `before` had. Items declared in only one of the two
/// compare with an absent one: a feature not granted, a limit not set, a setting not set.
pub fn changes(before: &Offer, after: &Offer) -> Vec<Change> {
    let mut out = Vec::new();
    let absent = "not declared";
    for (old, new) in paired(&before.features, &after.features, |f| &f.name) {
        let share = |f: Option<&FeatureTerms>| f.map_or(Percentage::from_millionths(0), |f| f.access.share());
        if share(old) != share(new) {
            let show = |f: Option<&FeatureTerms>| f.map_or(absent.to_string(), |f| f.access.to_string());
            let name = new.or(old).map(|f| f.name.clone()).unwrap_or_default();
            out.push(Change {
                kind: ChangeKind::Feature,
                name,
                before: show(old),
                after: show(new),
                takes_away: share(new) < share(old),
                gives: share(new) > share(old),
            });
        }
    }
    for (old, new) in paired(&before.limits, &after.limits, |l| &l.name) {
        let name = new.or(old).map(|l| l.name.clone()).unwrap_or_default();
        let show = |l: Option<&LimitTerms>, f: &dyn Fn(&LimitTerms) -> String| l.map_or(absent.to_string(), f);
        let mut push = |kind, before: String, after: String, (takes_away, gives)| {
            out.push(Change { kind, name: name.clone(), before, after, takes_away, gives });
        };
        let (Some(o), Some(n)) = (old, new) else {
            // Declared in one policy only: compare its value with nothing.
            let value = |l: Option<&LimitTerms>| l.and_then(|l| l.value).unwrap_or(Amount::Finite(0));
            if value(old) != value(new) {
                let direction = (value(new) < value(old), value(new) > value(old));
                push(ChangeKind::Limit, show(old, &|l| l.value_text()), show(new, &|l| l.value_text()), direction);
            }
            continue;
        };
        if o.measure != n.measure {
            push(ChangeKind::Measure, o.measure.clone(), n.measure.clone(), (true, false));
        }
        let (old_value, new_value) = (o.value.unwrap_or(Amount::Finite(0)), n.value.unwrap_or(Amount::Finite(0)));
        if o.value != n.value {
            push(ChangeKind::Limit, o.value_text(), n.value_text(), (new_value < old_value, new_value > old_value));
        }
        if o.soft_cap != n.soft_cap && (o.value.is_some() || n.value.is_some()) {
            // A soft cap that only moved with the limit (an add-on raising both) is not news.
            let moved_with_limit = match (o.soft_cap, n.soft_cap, o.value, n.value) {
                (
                    Some(Amount::Finite(a)),
                    Some(Amount::Finite(b)),
                    Some(Amount::Finite(x)),
                    Some(Amount::Finite(y)),
                ) => a.checked_sub(x) == b.checked_sub(y),
                _ => false,
            };
            if !moved_with_limit {
                let direction = (n.ceiling() < o.ceiling(), n.ceiling() > o.ceiling());
                push(ChangeKind::SoftCap, o.soft_text(), n.soft_text(), direction);
            }
        }
        if o.warn != n.warn {
            let show = |w: Option<Percentage>| w.map_or("none".to_string(), |w| format!("warn at {w}"));
            push(ChangeKind::Warn, show(o.warn), show(n.warn), (false, false));
        }
    }
    for (old, new) in paired(&before.settings, &after.settings, |s| &s.name) {
        let value = |s: Option<&SettingTerms>| s.and_then(|s| s.value.clone());
        if value(old) == value(new) {
            continue;
        }
        let show = |s: Option<&SettingTerms>| match s {
            None => absent.to_string(),
            Some(s) => s.value.as_ref().map_or("not set".to_string(), ToString::to_string),
        };
        let takes_away = match (old, new) {
            (Some(o), Some(n)) => n.worse_than(o),
            (Some(o), None) => o.value.is_some(),
            (None, _) => false,
        };
        let gives = match (old, new) {
            (Some(o), Some(n)) => o.worse_than(n),
            (None, Some(n)) => n.value.is_some(),
            (_, None) => false,
        };
        let name = new.or(old).map(|s| s.name.clone()).unwrap_or_default();
        let (before, after) = (show(old), show(new));
        out.push(Change { kind: ChangeKind::Setting, name, before, after, takes_away, gives });
    }
    out
}

/// Items of two lists paired by name: every item of `after` with its namesake in `before` (if
/// any), then the items only `before` has.
fn paired<'a, T>(before: &'a [T], after: &'a [T], name: impl Fn(&T) -> &String) -> Vec<(Option<&'a T>, Option<&'a T>)> {
    let by_name: std::collections::HashMap<&String, &T> = before.iter().map(|item| (name(item), item)).collect();
    let in_after: std::collections::HashSet<&String> = after.iter().map(&name).collect();
    let mut out: Vec<(Option<&T>, Option<&T>)> =
        after.iter().map(|item| (by_name.get(name(item)).copied(), Some(item))).collect();
    out.extend(before.iter().filter(|item| !in_after.contains(name(item))).map(|item| (Some(item), None)));
    out
}
