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
use crate::model::{
    AddonLimit, AddonOp, Amount, LimitKind, Percentage, Preference, SettingValue, TierLimit, TrialLength,
};
use crate::units::{format_amount, format_rate, QuantityType};

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
    /// The included amount (per seat when [`LimitTerms::per_seat`]); `None` when neither the
    /// tier nor a held add-on sets it (every request is then denied with `limit_not_set`).
    /// When flat and per-seat terms mix ([`LimitTerms::formula`]), the amount at one seat.
    pub value: Option<Amount>,
    /// The soft cap: overage is allowed up to it (`Unlimited`: without bound). `None` for a
    /// hard limit. Per seat when the value is.
    pub soft_cap: Option<Amount>,
    /// The share of the limit at which usage is a warning.
    pub warn: Option<Percentage>,
    /// Whether the value and the soft cap are per seat: multiplied by the subject's seats.
    pub per_seat: bool,
    /// When held add-ons mix flat and per-seat terms, the limit as a function of the seat
    /// count, which no one amount states.
    pub formula: Option<SeatFormula>,
    /// For a limit that draws on a pool, the pool and the rate; such a limit has no value of
    /// its own (the pool's terms say how much there is).
    pub draws: Option<DrawTerms>,
    ty: QuantityType,
}

/// What a limit that draws on a pool costs it: `credits` of the pool for every `per` of the
/// limit's own base units.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrawTerms {
    /// The pool's name.
    pub pool: String,
    /// How much of the pool each `per` costs.
    pub credits: u64,
    /// How many base units of the drawing limit the rate is for.
    pub per: u64,
}

impl DrawTerms {
    /// Whether `self` costs more than `other` for the same use: `credits / per` is larger,
    /// compared exactly.
    fn dearer_than(&self, other: &DrawTerms) -> bool {
        u128::from(self.credits) * u128::from(other.per) > u128::from(other.credits) * u128::from(self.per)
    }
}

/// A limit that mixes flat and per-seat terms: `max(flat_floor, per_seat_floor × seats) +
/// flat_added + per_seat_added × seats`, each floor present or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SeatFormula {
    /// The largest flat value among the tier's and the add-ons' `=`.
    pub flat_floor: Option<Amount>,
    /// The largest per-seat value among the tier's and the add-ons' `=`.
    pub per_seat_floor: Option<Amount>,
    /// The sum of the flat `+=`.
    pub flat_added: Amount,
    /// The sum of the per-seat `+=`.
    pub per_seat_added: Amount,
    /// How far the soft cap stands above the limit (per seat when `headroom_per_seat`), kept
    /// as add-ons raise the limit; `None` for a hard limit or a soft one without a cap.
    pub headroom: Option<Amount>,
    /// Whether the headroom is per seat (the tier's value is).
    pub headroom_per_seat: bool,
}

impl LimitTerms {
    /// An amount of this limit as the language writes it: `100 GiB`, `1_000_000`, `unlimited`.
    pub fn format(&self, amount: Amount) -> String {
        format_amount(self.ty, amount)
    }

    /// An amount of this limit, and ` per seat` after it when `per_seat`.
    fn format_seats(&self, amount: Amount, per_seat: bool) -> String {
        let seats = if per_seat { " per seat" } else { "" };
        format!("{}{seats}", self.format(amount))
    }

    /// The included amount as written (`100 GiB`, `1_000 per seat`, or a formula such as
    /// `max(500, 2_000 per seat)` or `1_000 per seat + 10_000`), or `not set`.
    pub fn value_text(&self) -> String {
        if let Some(draws) = &self.draws {
            return format_rate(self.ty, draws.credits, draws.per);
        }
        if let Some(f) = &self.formula {
            let floor = match (f.flat_floor, f.per_seat_floor) {
                (Some(flat), Some(seats)) => {
                    Some(format!("max({}, {})", self.format(flat), self.format_seats(seats, true)))
                }
                (Some(flat), None) => Some(self.format(flat)),
                (None, Some(seats)) => Some(self.format_seats(seats, true)),
                (None, None) => None,
            };
            let added = [(f.flat_added, false), (f.per_seat_added, true)]
                .into_iter()
                .filter(|&(amount, _)| amount != Amount::Finite(0))
                .map(|(amount, per_seat)| self.format_seats(amount, per_seat));
            return floor.into_iter().chain(added).collect::<Vec<_>>().join(" + ");
        }
        self.value.map_or_else(|| "not set".to_string(), |v| self.format_seats(v, self.per_seat))
    }

    /// The soft cap as a phrase: `hard`, `soft to 1_200_000`, `soft to 1_200 per seat`, or
    /// `soft without a cap`; with a formula, how far above the limit it stands.
    pub fn soft_text(&self) -> String {
        match (self.soft_cap, &self.formula) {
            (None, _) => "hard".to_string(),
            (Some(Amount::Unlimited), _) => "soft without a cap".to_string(),
            (Some(_), Some(SeatFormula { headroom: Some(room), headroom_per_seat, .. })) => {
                format!("soft to {} above the limit", self.format_seats(*room, *headroom_per_seat))
            }
            (Some(cap), _) => format!("soft to {}", self.format_seats(cap, self.per_seat)),
        }
    }

    /// The most usage let through: the soft cap, or the limit; nothing when it is not set.
    /// Per seat when the value is.
    pub fn ceiling(&self) -> Amount {
        crate::model::ceiling(self.value, self.soft_cap)
    }

    /// The included amount as a function of the seat count.
    fn by_seats(&self) -> BySeats {
        let finite = |a: Option<Amount>| match a {
            None => Some(0),
            Some(Amount::Finite(n)) => Some(n),
            Some(Amount::Unlimited) => None,
        };
        let linear = match &self.formula {
            Some(f) => (|| {
                Some(BySeats::Linear {
                    floor: finite(f.flat_floor)?,
                    per_seat_floor: finite(f.per_seat_floor)?,
                    added: finite(Some(f.flat_added))?,
                    per_seat_added: finite(Some(f.per_seat_added))?,
                })
            })(),
            None => finite(self.value).map(|v| match self.per_seat {
                true => BySeats::Linear { floor: 0, per_seat_floor: v, added: 0, per_seat_added: 0 },
                false => BySeats::Linear { floor: v, per_seat_floor: 0, added: 0, per_seat_added: 0 },
            }),
        };
        linear.unwrap_or(BySeats::Unlimited)
    }

    /// The most usage let through, as a function of the seat count: the value plus the soft
    /// cap's headroom above it, or unlimited for `soft` without a cap.
    fn ceiling_by_seats(&self) -> BySeats {
        let value = self.by_seats();
        let room = match (self.soft_cap, self.value, &self.formula) {
            (None, ..) => return value,
            (Some(Amount::Unlimited), ..) => return BySeats::Unlimited,
            (Some(_), _, Some(f)) => f.headroom.map(|room| (room, f.headroom_per_seat)),
            (Some(Amount::Finite(cap)), Some(Amount::Finite(v)), None) => {
                Some((Amount::Finite(cap.saturating_sub(v)), self.per_seat))
            }
            _ => None,
        };
        match (value, room) {
            (BySeats::Linear { floor, per_seat_floor, added, per_seat_added }, Some((Amount::Finite(room), seats))) => {
                let (added, per_seat_added) = if seats {
                    (added, per_seat_added.saturating_add(room))
                } else {
                    (added.saturating_add(room), per_seat_added)
                };
                BySeats::Linear { floor, per_seat_floor, added, per_seat_added }
            }
            (value, _) => value,
        }
    }
}

/// A limit as a function of the seat count `n ≥ 1`: `max(floor, per_seat_floor × n) + added +
/// per_seat_added × n`, or unlimited. Every limit of an offer is one, which is how changes
/// between flat and per-seat terms are told apart as taking away or giving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BySeats {
    Unlimited,
    Linear { floor: u64, per_seat_floor: u64, added: u64, per_seat_added: u64 },
}

impl BySeats {
    /// The limit at `n` seats, saturating at the largest finite amount as the engine does
    /// (unlimited is past every finite one).
    fn at(self, n: u64) -> u128 {
        const MAX_FINITE: u128 = u64::MAX as u128 - 1;
        match self {
            BySeats::Unlimited => u128::MAX,
            BySeats::Linear { floor, per_seat_floor, added, per_seat_added } => {
                let (n, floor, added) = (u128::from(n), u128::from(floor), u128::from(added));
                let times = |amount: u64| (u128::from(amount) * n).min(MAX_FINITE);
                floor
                    .max(times(per_seat_floor))
                    .saturating_add(added)
                    .saturating_add(times(per_seat_added))
                    .min(MAX_FINITE)
            }
        }
    }

    /// Where the floor's maximum switches from the flat term to the per-seat one.
    fn kink(self) -> Option<u64> {
        match self {
            BySeats::Linear { floor, per_seat_floor, .. } if per_seat_floor > 0 => Some(floor / per_seat_floor),
            _ => None,
        }
    }

    /// The growth per seat once every seat count past the kink is reached.
    fn slope(self) -> u128 {
        match self {
            BySeats::Unlimited => u128::MAX,
            BySeats::Linear { per_seat_floor, per_seat_added, .. } => {
                u128::from(per_seat_floor) + u128::from(per_seat_added)
            }
        }
    }

    /// Whether `self` is below `other` at some seat count `n ≥ 1`. Both are piecewise linear
    /// with at most one kink each, so their difference is smallest at `n = 1`, beside a kink,
    /// or (if it falls for ever) past every kink; these few points decide it.
    fn below_somewhere(self, other: BySeats) -> bool {
        if self == BySeats::Unlimited {
            return false;
        }
        if other == BySeats::Unlimited {
            return true;
        }
        let kinks = [self.kink(), other.kink()];
        let mut points = kinks.into_iter().flatten().flat_map(|k| [k, k.saturating_add(1)]).chain([1]);
        points.any(|n| n >= 1 && self.at(n) < other.at(n)) || self.slope() < other.slope()
    }
}

/// The largest finite amount: a finite result saturates here, never reaching the number the
/// engine answers with for `unlimited`.
const MAX_FINITE: u64 = u64::MAX - 1;

fn add(a: Amount, b: Amount) -> Amount {
    match (a, b) {
        (Amount::Finite(a), Amount::Finite(b)) => Amount::Finite(a.saturating_add(b).min(MAX_FINITE)),
        _ => Amount::Unlimited,
    }
}

/// A limit's value, soft cap and warn share as the tier's entry (after inheritance) and the
/// held add-ons' changes to it give them, by the rules of docs/language.md, each add-on held
/// once. Flat and per-seat terms of one kind combine into one amount (`max(a, b) × seats`,
/// `(a + b) × seats`); when both kinds are present, the result is a [`SeatFormula`].
fn combine(
    entry: Option<&TierLimit>,
    changes: &[&AddonLimit],
) -> (Option<Amount>, Option<Amount>, bool, Option<SeatFormula>) {
    let (soft, per_seat) = (entry.and_then(|e| e.soft), entry.is_some_and(|e| e.per_seat));
    if entry.is_none() && changes.is_empty() {
        return (None, None, false, None);
    }
    let base = entry.map(|e| e.value);
    let unlimited = base == Some(Amount::Unlimited) || changes.iter().any(|c| c.value == Amount::Unlimited);
    if unlimited {
        // An unlimited tier value stays as it is; an add-on making it unlimited lifts the cap.
        let soft = if base == Some(Amount::Unlimited) { soft } else { soft.map(|_| Amount::Unlimited) };
        return (Some(Amount::Unlimited), soft, false, None);
    }
    let mut floors = [base.filter(|_| !per_seat), base.filter(|_| per_seat)];
    let mut added = [Amount::Finite(0); 2];
    let mut has_added = [false; 2];
    for change in changes {
        let side = usize::from(change.per_seat);
        match change.op {
            AddonOp::AtLeast => {
                if let Some(floor) = floors.get_mut(side) {
                    *floor = Some(floor.map_or(change.value, |f| f.max(change.value)));
                }
            }
            AddonOp::Add => {
                if let (Some(sum), Some(seen)) = (added.get_mut(side), has_added.get_mut(side)) {
                    *sum = add(*sum, change.value);
                    *seen = true;
                }
            }
        }
    }
    let [flat_floor, seat_floor] = floors;
    let [flat_added, seat_added] = added;
    let flat_terms = flat_floor.is_some() || has_added[0];
    let seat_terms = seat_floor.is_some() || has_added[1];
    let headroom = match (base, soft) {
        (Some(Amount::Finite(value)), Some(Amount::Finite(cap))) => Some(Amount::Finite(cap.saturating_sub(value))),
        _ => None,
    };
    if flat_terms && seat_terms {
        let formula = SeatFormula {
            flat_floor,
            per_seat_floor: seat_floor,
            flat_added,
            per_seat_added: seat_added,
            headroom,
            headroom_per_seat: per_seat,
        };
        // At one seat the two kinds are alike: the amount a single-seat subject has.
        let one = add(flat_floor.max(seat_floor).unwrap_or(Amount::Finite(0)), add(flat_added, seat_added));
        let soft = soft.map(|cap| match headroom {
            Some(room) => add(one, room),
            None => cap,
        });
        return (Some(one), soft, false, Some(formula));
    }
    let (floor, sum) = if seat_terms { (seat_floor, seat_added) } else { (flat_floor, flat_added) };
    let value = add(floor.unwrap_or(Amount::Finite(0)), sum);
    let soft = soft.map(|cap| match headroom {
        Some(room) => add(value, room),
        None => cap,
    });
    (Some(value), soft, seat_terms, None)
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
        // A view describes terms, not an instant: each add-on is held once, and a trial is
        // taken as started, so only unknown ids and repeats are refused.
        let held: Vec<crate::Held> = addons.iter().map(|&a| crate::Held::new(a).acquired_at(0)).collect();
        let t = self.validate(&Request::new(tier, 0).with_held(&held))?;
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

        // The tier's entries after inheritance (the nearest ancestor's entry for each limit),
        // and the changes of the held add-ons that attach, by limit.
        let mut entries: Vec<Option<&TierLimit>> = vec![None; model.limits.len()];
        let mut ancestor = Some(t);
        while let Some(def) = ancestor.and_then(|at| model.tiers.get(at)) {
            for entry in &def.limits {
                if let Some(slot @ None) = entries.get_mut(entry.limit) {
                    *slot = Some(entry);
                }
            }
            ancestor = def.parent;
        }
        let mut changes: Vec<Vec<&AddonLimit>> = vec![Vec::new(); model.limits.len()];
        for addon in addons.iter().map(|a| self.index(*a)).filter(|&a| attached(a)) {
            for change in model.addons.get(addon).map_or(&[][..], |a| a.limits.as_slice()) {
                if let Some(list) = changes.get_mut(change.limit) {
                    list.push(change);
                }
            }
        }
        let limits = model
            .limits
            .iter()
            .zip(entries.iter().zip(&changes))
            .map(|(def, (entry, changes))| {
                let (value, soft_cap, per_seat, formula) = combine(*entry, changes);
                let draws = def.draws.map(|rate| DrawTerms {
                    pool: model.limits.get(rate.pool).map(|pool| pool.name.clone()).unwrap_or_default(),
                    credits: rate.credits,
                    per: rate.per,
                });
                let measure = match (&draws, def.kind) {
                    (Some(draws), _) => format!("{} draws {}", def.ty.as_str(), draws.pool),
                    (None, LimitKind::Cap) => def.ty.as_str().to_string(),
                    (None, LimitKind::Gauge) => format!("{} gauge", def.ty.as_str()),
                    (None, LimitKind::Counter(window)) => format!("{} per {}", def.ty.as_str(), window),
                    (None, LimitKind::Rolling(window)) => format!("{} rolling {}", def.ty.as_str(), window),
                };
                LimitTerms {
                    name: def.name.clone(),
                    measure,
                    soft_cap: value.and(soft_cap),
                    warn: value.and(entry.and_then(|e| e.warn)),
                    value,
                    per_seat,
                    formula,
                    draws,
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

/// An add-on's own terms, which no tier changes: how many of it a subject may hold, and for a
/// trial, how long it lasts from its acquisition.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddonTerms {
    /// The add-on.
    pub name: String,
    /// The most of it a subject may hold at once (1 unless its `max` says otherwise).
    pub max_quantity: Amount,
    /// For a trial, its length as written: `14 days`, `1 month`.
    pub trial: Option<String>,
    /// The first instant at which it applies, if bounded (Unix seconds).
    pub valid_from: Option<i64>,
    /// The first instant at which it no longer applies, if bounded.
    pub valid_until: Option<i64>,
    trial_length: Option<TrialLength>,
}

impl AddonTerms {
    /// The add-on's name with what sets it apart, as headers show it: `storage_pack (max 20)`,
    /// `pro_trial (trial 14 days, until 2027-01-01)`; the name alone for an add-on held once
    /// and not a trial.
    pub fn header(&self) -> String {
        let notes = self.notes();
        if notes.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({notes})", self.name)
        }
    }

    /// What sets the add-on apart, as a phrase (`max 20`, `trial 14 days, until 2027-01-01`),
    /// or nothing.
    pub fn notes(&self) -> String {
        let mut notes = Vec::new();
        if self.max_quantity != Amount::Finite(1) {
            notes.push(format!("max {}", self.max_text()));
        }
        if let Some(trial) = &self.trial {
            notes.push(format!("trial {trial}"));
            notes.extend(self.valid_from.map(|at| format!("from {}", date_text(at))));
            notes.extend(self.valid_until.map(|at| format!("until {}", date_text(at))));
        }
        notes.join(", ")
    }

    fn max_text(&self) -> String {
        format_amount(QuantityType::Count, self.max_quantity)
    }
}

/// An instant as a policy writes it: the date alone at midnight UTC.
fn date_text(at: i64) -> String {
    let text = crate::time::format_instant(at);
    match text.strip_suffix("T00:00:00Z") {
        Some(date) => date.to_string(),
        None => text,
    }
}

impl Engine {
    /// The add-on's own terms; `None` for an id this engine did not give out.
    ///
    /// ```
    /// use entitle::Engine;
    /// let engine = Engine::from_source("p", "policy \"p\"\nfeature hd\nlimit storage : bytes\n\
    ///     tier free { limit storage = 1 GiB }\naddon pack for free { limit storage += 5 GiB  max 20 }\n\
    ///     addon trial for free { grant hd  valid for 14 days until 2027-01-01 }\n")?;
    /// let pack = engine.addon_terms(engine.addon("pack").unwrap()).unwrap();
    /// assert_eq!(pack.header(), "pack (max 20)");
    /// let trial = engine.addon_terms(engine.addon("trial").unwrap()).unwrap();
    /// assert_eq!(trial.header(), "trial (trial 14 days, until 2027-01-01)");
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn addon_terms(&self, addon: AddonId) -> Option<AddonTerms> {
        self.addon_name(addon)?;
        let def = self.model().addons.get(self.index(addon))?;
        let trial = def.trial.map(|length| match length {
            TrialLength::Seconds(seconds) => crate::units::format_quantity(QuantityType::Duration, seconds),
            TrialLength::Months(1) => "1 month".to_string(),
            TrialLength::Months(months) => format!("{} months", crate::units::format_count(u64::from(months))),
        });
        Some(AddonTerms {
            name: def.name.clone(),
            max_quantity: def.max_quantity,
            trial,
            valid_from: def.valid_from,
            valid_until: def.valid_until,
            trial_length: def.trial,
        })
    }
}

/// The differences between two versions of an add-on's own terms: its maximum quantity, and
/// whether and how long it is a trial. A lower maximum, or a trial where there was none or a
/// shorter one, takes away.
pub fn addon_changes(before: &AddonTerms, after: &AddonTerms) -> Vec<Change> {
    let mut out = Vec::new();
    let name = after.name.clone();
    if before.max_quantity != after.max_quantity {
        out.push(Change {
            kind: ChangeKind::AddonMaximum,
            name: name.clone(),
            before: before.max_text(),
            after: after.max_text(),
            takes_away: after.max_quantity < before.max_quantity,
            gives: after.max_quantity > before.max_quantity,
        });
    }
    if before.trial_length != after.trial_length {
        let show = |t: &AddonTerms| t.trial.clone().unwrap_or_else(|| "none".to_string());
        // Lengths of one kind compare; a month against days depends on the month, so either.
        let (takes_away, gives) = match (before.trial_length, after.trial_length) {
            (None, Some(_)) => (true, false),
            (Some(_), None) => (false, true),
            (Some(TrialLength::Seconds(a)), Some(TrialLength::Seconds(b))) => (b < a, b > a),
            (Some(TrialLength::Months(a)), Some(TrialLength::Months(b))) => (b < a, b > a),
            _ => (true, true),
        };
        out.push(Change {
            kind: ChangeKind::AddonTrial,
            name,
            before: show(before),
            after: show(after),
            takes_away,
            gives,
        });
    }
    out
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
    /// A limit became per seat, or stopped being per seat.
    LimitPerSeat,
    /// An add-on's maximum quantity changed.
    AddonMaximum,
    /// An add-on's trial changed: its length, or whether it is a trial.
    AddonTrial,
    /// What a limit that draws on a pool costs it changed.
    Rate,
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
            ChangeKind::LimitPerSeat => "per_seat",
            ChangeKind::AddonMaximum => "addon_maximum",
            ChangeKind::AddonTrial => "addon_trial",
            ChangeKind::Rate => "rate",
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
        } else if let (Some(a), Some(b)) = (&o.draws, &n.draws) {
            // The same pool at another rate: dearer takes away, cheaper gives.
            if a.credits != b.credits || a.per != b.per {
                push(ChangeKind::Rate, o.value_text(), n.value_text(), (b.dearer_than(a), a.dearer_than(b)));
            }
        }
        let (old_value, new_value) = (o.value.unwrap_or(Amount::Finite(0)), n.value.unwrap_or(Amount::Finite(0)));
        let by_seats = o.per_seat || n.per_seat || o.formula.is_some() || n.formula.is_some();
        if by_seats {
            // Flat and per-seat terms are compared at every seat count: `20_000` against
            // `1_000 per seat` takes away below 20 seats and gives from 21.
            if o.value_text() != n.value_text() {
                let both_set = o.value.is_some() && n.value.is_some();
                let kind =
                    if both_set && o.per_seat != n.per_seat { ChangeKind::LimitPerSeat } else { ChangeKind::Limit };
                let (before, after) = (o.by_seats(), n.by_seats());
                let direction = (after.below_somewhere(before), before.below_somewhere(after));
                push(kind, o.value_text(), n.value_text(), direction);
            }
        } else if o.value != n.value {
            push(ChangeKind::Limit, o.value_text(), n.value_text(), (new_value < old_value, new_value > old_value));
        }
        if by_seats && o.soft_text() != n.soft_text() && (o.value.is_some() || n.value.is_some()) {
            let moved_with_limit = o.formula.is_none()
                && n.formula.is_none()
                && o.per_seat == n.per_seat
                && match (o.soft_cap, n.soft_cap, o.value, n.value) {
                    (
                        Some(Amount::Finite(a)),
                        Some(Amount::Finite(b)),
                        Some(Amount::Finite(x)),
                        Some(Amount::Finite(y)),
                    ) => a.checked_sub(x) == b.checked_sub(y),
                    _ => false,
                };
            if !moved_with_limit {
                let (before, after) = (o.ceiling_by_seats(), n.ceiling_by_seats());
                let direction = (after.below_somewhere(before), before.below_somewhere(after));
                push(ChangeKind::SoftCap, o.soft_text(), n.soft_text(), direction);
            }
        } else if !by_seats && o.soft_cap != n.soft_cap && (o.value.is_some() || n.value.is_some()) {
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

#[cfg(test)]
mod tests {
    use super::BySeats;

    fn linear(floor: u64, per_seat_floor: u64, added: u64, per_seat_added: u64) -> BySeats {
        BySeats::Linear { floor, per_seat_floor, added, per_seat_added }
    }

    /// The largest amounts at the largest seat count saturate as the engine does, and never
    /// overflow: both sides here reach past 2^128 unsaturated.
    #[test]
    fn limits_by_seats_saturate_at_the_largest_finite_amount() {
        const MAX_FINITE: u64 = u64::MAX - 1;
        let huge = linear(5, MAX_FINITE, 0, MAX_FINITE);
        assert_eq!(huge.at(u64::MAX), u128::from(MAX_FINITE));
        // Comparing them evaluates both at the far seat counts, which used to overflow.
        let flat = linear(MAX_FINITE, 1, 0, 0);
        assert!(!huge.below_somewhere(flat), "equal at every seat count once saturated");
        let _ = flat.below_somewhere(huge);
    }

    /// A limit is below another at some seat count exactly when it is at one of the few
    /// points that decide it: one seat, beside a kink, or for ever past them.
    #[test]
    fn limits_by_seats_compare_at_every_seat_count() {
        let (floored, boosted) = (linear(500, 2_000, 0, 0), linear(0, 0, 600, 1_000));
        assert!(boosted.below_somewhere(floored) && !floored.below_somewhere(boosted));
        // max(20_000, 1_000 × n) against a flat 21_000: below up to 20 seats, above from 22.
        let (mixed, flat) = (linear(20_000, 1_000, 0, 0), linear(21_000, 0, 0, 0));
        assert!(mixed.below_somewhere(flat) && flat.below_somewhere(mixed));
        // Above at one seat, but from its kink at 5 seats max(5_000, 1_000 × n) is 1 below
        // 1_000 × n + 1.
        let (kinked, steady) = (linear(5_000, 1_000, 0, 0), linear(0, 1_000, 1, 0));
        assert!(kinked.at(1) > steady.at(1) && kinked.below_somewhere(steady));
        assert!(!BySeats::Unlimited.below_somewhere(flat) && flat.below_somewhere(BySeats::Unlimited));
        let same = linear(0, 1_000, 0, 0);
        assert!(!same.below_somewhere(same));
    }
}
