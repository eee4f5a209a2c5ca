//! Answering questions from the compiled tables.
//!
//! The id-based methods ([`Engine::is_allowed`], [`Engine::decide`], [`Engine::check_limit`],
//! [`Engine::setting_value`]) are the hot path: they read the [`crate::tables::Tables`] with
//! pre-resolved ids, never allocate, never hash a string (the rollout bucket hashes the
//! subject key, which is the point of a rollout), and never lock. The `*_by_name` methods
//! resolve names first, for callers that do not cache ids; they do not allocate either.

mod batch;
mod draws;
mod explain;
mod held_checks;
mod limit_math;
mod overridden;
mod prepared;
mod several;
mod trial;
mod window;

pub use batch::BufferTooSmall;
pub use draws::Draw;
pub use explain::{Explanation, Step, Upgrade};
pub use prepared::Prepared;
pub use several::{binding, LimitBatch};

use crate::engine::*;
use crate::held::{with_holding, Holds, NOT_ACQUIRED};
use crate::limits::Limits;
use crate::model::{Period, SettingValue};
use crate::overrides::Subject;
use crate::rollout;
use crate::tables::{
    add, scale, AddonMeta, DeltaRecord, LimitRecord, ADD, ADD_PER_SEAT, ANY_PER_SEAT, AT_LEAST, AT_LEAST_PER_SEAT,
    DRAWS, PER_SEAT, SOFT,
};
use held_checks::HeldChecks;
pub(crate) use limit_math::{InForce, Lazy};

impl Quota {
    /// For a counter, the window that contains the request's instant, computed when asked for;
    /// `None` for gauges, caps and refused requests. For a rolling limit
    /// ([`Quota::rolling`]) it is the window that ends at the request's instant,
    /// `[now − length, now)`, whose usage the caller supplies: it never resets, so `end` is
    /// the request's instant rather than a reset.
    ///
    /// ```
    /// use entitle::{Engine, Request, Usage};
    /// let engine = Engine::from_source("p", "policy \"p\"\nlimit calls : count per month\ntier pro { limit calls = 10 }\n")?;
    /// let request = Request::new(engine.tier("pro").unwrap(), 1_795_255_200).with_billing_anchor(15);
    /// let window = engine.check_limit(&request, engine.limit("calls").unwrap(), Usage::used(0)).window().unwrap();
    /// assert_eq!(entitle::format_instant(window.start), "2026-11-15T00:00:00Z");
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    #[must_use]
    pub fn window(&self) -> Option<WindowSpan> {
        let period = self.period()?;
        if self.rolling() {
            return Some(window::trailing(period, self.at));
        }
        Some(window::current(period, self.at, self.anchor))
    }

    /// Whether the limit counts over a rolling window (`rolling 7 days`) rather than one that
    /// resets: its usage is what was used within [`Quota::window`], which ends at the
    /// request's instant.
    ///
    /// ```
    /// use entitle::{Engine, Request, Usage};
    /// let engine = Engine::from_source("p", "policy \"p\"\nlimit calls : count rolling 7 days\ntier pro { limit calls = 10 }\n")?;
    /// let quota = engine.check_limit(&Request::new(engine.tier("pro").unwrap(), 1_000_000), engine.limit("calls").unwrap(), Usage::used(4));
    /// assert!(quota.rolling());
    /// let window = quota.window().unwrap();
    /// assert_eq!((window.start, window.end), (1_000_000 - 7 * 86_400, 1_000_000));
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    #[must_use]
    pub const fn rolling(&self) -> bool {
        self.counter & crate::tables::ROLLING != 0
    }

    /// For a counter, how long its window is (`per 5 hours` is 5 of [`Window::Hour`]); `None`
    /// for gauges, caps and refused requests.
    ///
    /// ```
    /// use entitle::{Engine, Request, Usage, Window};
    /// let engine = Engine::from_source("p", "policy \"p\"\nlimit calls : count per 5 hours\ntier pro { limit calls = 10 }\n")?;
    /// let quota = engine.check_limit(&Request::new(engine.tier("pro").unwrap(), 0), engine.limit("calls").unwrap(), Usage::used(0));
    /// let period = quota.period().unwrap();
    /// assert_eq!((period.every, period.unit, period.to_string()), (5, Window::Hour, "5 hours".to_string()));
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    #[must_use]
    pub fn period(&self) -> Option<Period> {
        crate::tables::period_of(self.counter)
    }
}

impl Quota {
    /// Whether an override record for the subject changed the limit: `limit` is then the
    /// override's, and [`Engine::explain_limit`] shows the plan's beside it.
    #[must_use]
    pub const fn overridden(&self) -> bool {
        self.counter & OVERRIDDEN != 0
    }
}

impl Engine {
    /// Checks the ids in a request, in the order `docs/language.md` gives: the tier is known,
    /// the add-ons are within the `held_addons` limit, each is known, none is listed twice,
    /// none is held past its maximum quantity, and every trial held has an acquisition instant.
    pub(crate) fn validate(&self, request: &Request<'_>) -> Result<usize, Reason> {
        let tier = self.index(request.tier);
        if tier >= self.tables().counts().tiers {
            return Err(Reason::UnknownTier);
        }
        if request.holding.is_empty() {
            return Ok(tier);
        }
        with_holding!(request.holding, |held| self.validate_held(held)).map(|()| tier)
    }

    /// [`Engine::validate`]'s checks of the add-ons, for either form of the list.
    #[inline(always)]
    fn validate_held<H: Holds>(&self, held: &[H]) -> Result<(), Reason> {
        let tables = self.tables();
        // The limit bounds the duplicate check below (quadratic in the add-ons held), and
        // answers a request by id as the same request by name is answered.
        if held.len() > self.input_limits().held_addons() {
            return Err(Reason::TooManyAddons);
        }
        let mut checks = HeldChecks::default();
        for &h in held {
            let a = self.index(h.addon());
            checks.note(h, a, tables.counts().addons, tables.addon_meta(a));
        }
        checks.verdict(held)
    }

    /// Whether add-on `addon`, acquired at `acquired` ([`NOT_ACQUIRED`] when not given), is
    /// valid at `now`: inside its half-open `[from, until)` and, for a trial, inside the
    /// trial's half-open window from its acquisition.
    ///
    /// An add-on with no end is stored with `until = i64::MAX` and is valid at every instant
    /// from its start, `i64::MAX` included; a trial that ends past `i64::MAX` likewise.
    #[inline(always)]
    pub(crate) fn valid_at(&self, addon: usize, acquired: i64, now: i64) -> bool {
        valid(self.tables().addon_meta(addon), acquired, now)
    }

    /// Whether a held add-on applies to the subject: it is held (a quantity above 0), it
    /// attaches to the tier, and it is valid now.
    #[inline(always)]
    pub(crate) fn applies<H: Holds>(&self, held: H, addon: usize, tier: usize, now: i64) -> bool {
        held.quantity() != 0 && self.tables().attaches(addon, tier) && self.valid_at(addon, held.acquired(), now)
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
        if request.holding.is_empty() && request.overrides.is_none() && f < self.hot_grants().features() {
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
        if request.overrides.is_some() {
            return self.decide(request, feature).allowed;
        }
        let tables = self.tables();
        let (tier, f) = (self.index(request.tier), self.index(feature));
        if tier >= tables.counts().tiers || f >= tables.counts().features {
            return false;
        }
        if request.holding.len() > self.input_limits().held_addons() {
            return false;
        }
        let by_addon = with_holding!(request.holding, |held| self.fused_allowed(held, tier, f, request.now));
        match by_addon {
            None => false,
            Some(true) => true,
            Some(false) => self.granted_to_tier(tier, f, request.key),
        }
    }

    /// The add-on checks of [`Engine::validate`] and whether an applying add-on grants feature
    /// `f` (both known), in one pass: `None` when the request is refused. Every table read is
    /// safe for an unknown add-on, and its answer is dropped.
    #[inline(always)]
    fn fused_allowed<H: Holds>(&self, held: &[H], tier: usize, f: usize, now: i64) -> Option<bool> {
        let tables = self.tables();
        let (mut checks, mut granted) = (HeldChecks::default(), false);
        for &h in held {
            let a = self.index(h.addon());
            let meta = tables.addon_meta(a);
            checks.note(h, a, tables.counts().addons, meta);
            granted = granted
                || ((H::PLAIN || h.quantity() != 0)
                    && tables.addon_grants(a, f)
                    && tables.attaches(a, tier)
                    && valid(meta, h.acquired(), now));
        }
        checks.verdict(held).ok().map(|()| granted)
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
        if let Some(decision) = request.overrides.and_then(|s| self.overridden_feature(s, f, request.now)) {
            return decision.allowed;
        }
        let bits = tables.grant(tier, f);
        if bits.granted || (bits.rollout && self.inside_rollout(tier, f, request.key)) {
            return true;
        }
        let now = request.now;
        with_holding!(request.holding, |held| held.iter().any(|&h| {
            let a = self.index(h.addon());
            tables.addon_grants(a, f) && self.applies(h, a, tier, now)
        }))
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
        if let Some(decision) = request.overrides.and_then(|s| self.overridden_feature(s, f, request.now)) {
            return decision;
        }
        let bits = tables.grant(tier, f);
        if bits.granted {
            return Decision::allow(Reason::GrantedByTier);
        }
        if bits.rollout && self.inside_rollout(tier, f, request.key) {
            return Decision::allow(Reason::GrantedByRollout);
        }
        let blocked = with_holding!(request.holding, |held| {
            let mut blocked = None;
            for &h in held {
                let a = self.index(h.addon());
                // A quantity of 0 holds nothing, so it blocks nothing either.
                if h.quantity() == 0 || !tables.addon_grants(a, f) {
                    continue;
                }
                if !tables.attaches(a, tier) {
                    blocked = Some(Reason::AddonNotForTier);
                } else if !self.valid_at(a, h.acquired(), request.now) {
                    blocked = blocked.or(Some(Reason::AddonNotValid));
                } else {
                    return Decision::allow(Reason::GrantedByAddon);
                }
            }
            blocked
        });
        Decision::deny(match blocked {
            Some(reason) => reason,
            None if tables.revoked(tier, f) => Reason::Revoked,
            None if bits.rollout => Reason::OutsideRollout,
            None => Reason::NotGranted,
        })
    }

    /// The limit in force for a tier's record once seats and the applying add-ons are in:
    /// `max(limit, every "=") + the sum of every "+=" × its quantity`, each per-seat amount
    /// multiplied by `seats` first, saturating (see [`limit_math`]). `applies` says whether a
    /// held add-on applies; queries ask [`Engine::applies`], and plan views, which describe
    /// terms rather than an instant, ignore validity windows.
    // Always inlined: left as a call, the add-on path of `check_limit` took 20% more
    // instructions (measured when it was first split out).
    #[inline(always)]
    pub(crate) fn in_force<H: Holds>(
        &self,
        held: &[H],
        limit: usize,
        record: &LimitRecord,
        seats: u64,
        applies: impl Fn(H, usize) -> bool,
    ) -> InForce {
        let base = if record.per_seat() { scale(record.value, seats) } else { record.value };
        let mut force = InForce { base, raised: base, added: 0, changed: false, per_seat: record.per_seat() };
        for &h in held {
            let a = self.index(h.addon());
            let delta = self.tables().addon_delta(a, limit);
            if delta.flags == 0 || !applies(h, a) {
                continue;
            }
            force.changed = true;
            force.per_seat |= delta.flags & ANY_PER_SEAT != 0;
            if delta.flags & AT_LEAST != 0 {
                let floor =
                    if delta.flags & AT_LEAST_PER_SEAT != 0 { scale(delta.at_least, seats) } else { delta.at_least };
                force.raised = force.raised.max(floor);
            }
            if delta.flags & ADD != 0 {
                let each = if delta.flags & ADD_PER_SEAT != 0 { scale(delta.add, seats) } else { delta.add };
                force.added = add(force.added, scale(each, h.quantity()));
            }
        }
        force
    }

    /// How much of `limit` is left and whether the requested amount may be used.
    ///
    /// The status is computed on `used + requested` (saturating), as `docs/language.md`
    /// describes; `remaining` is `limit − used`. Unknown ids deny with an `unknown_*` reason.
    /// A limit that neither the tier (nor an ancestor) nor an applying add-on sets denies
    /// with `limit_not_set` and a limit of 0, told apart from a limit set to 0. A limit with a
    /// per-seat value in force, asked without a seat count, denies with `seats_not_given`.
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
    /// let window = q.window().unwrap();
    /// assert_eq!(window.end - window.start, 86_400);
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    #[inline]
    pub fn check_limit(&self, request: &Request<'_>, limit: LimitId, usage: Usage) -> Quota {
        // Most requests hold no add-on. Their path is kept apart from the add-on arithmetic,
        // so it needs fewer registers and a smaller frame (11% fewer instructions, measured).
        if request.holding.is_empty() && request.overrides.is_none() {
            self.check_limit_without_addons(request, limit, usage)
        } else {
            self.check_limit_with_addons(request, limit, usage)
        }
    }

    /// [`Engine::check_limit`] for a request that holds no add-on.
    // Always inlined into `check_limit`, itself inlined into its caller (across crates, as
    // `is_allowed` is): the common question then costs no call, and no register is saved
    // for the add-on arithmetic, which stays out of line.
    #[inline(always)]
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
        self.answer_from_record(request, tier, l, usage)
    }

    /// The answer of tier `tier`'s record of limit `l` (both in range) to a request that
    /// holds no add-on; for a record that draws on a pool, the pool's.
    #[inline(always)]
    fn answer_from_record(&self, request: &Request<'_>, tier: usize, l: usize, usage: Usage) -> Quota {
        let tables = self.tables();
        let (set, record) = tables.limit_record(tier, l);
        if !set {
            let window = Lazy { counter: tables.limit_counter(l), anchor: request.billing_anchor, at: request.now };
            return window.on(Quota::denied(Reason::LimitNotSet));
        }
        let window = Lazy { counter: record.counter(), anchor: request.billing_anchor, at: request.now };
        // One test for both unusual records: per seat, or a limit that draws on a pool.
        if record.flags & (PER_SEAT | DRAWS) != 0 {
            if record.flags & DRAWS != 0 {
                return self.without_addons_via_pool(request, tier, l, usage);
            }
            return self.per_seat_without_addons(record, request.seats, usage, window);
        }
        let soft = record.flags & SOFT != 0;
        limit_math::answer(record.value, record.ceiling, record.warn_at, soft, usage, None, window)
    }

    /// [`Engine::check_limit`] without add-ons for a limit that draws on a pool: the answer of
    /// the same tier's record of the pool to the request's cost. The tier and the limit are
    /// checked already. A pool draws on nothing (the compiler and the bundle loader see to
    /// it), so this asks once; a drawing record without a draw cannot be built or loaded, and
    /// would be answered as an unknown limit.
    #[inline(never)]
    fn without_addons_via_pool(&self, request: &Request<'_>, tier: usize, l: usize, usage: Usage) -> Quota {
        let Some(draw) = self.tables().draw(l) else { return Quota::denied(Reason::UnknownLimit) };
        let usage = Usage { used: usage.used, requested: draw.cost(usage.requested) };
        self.answer_from_record(request, tier, draw.pool as usize, usage)
    }

    /// [`Engine::check_limit`] without add-ons for a tier whose value is per seat.
    // Out of line: the flat path above is the common one and keeps its small frame.
    #[inline(never)]
    fn per_seat_without_addons(&self, record: &LimitRecord, seats: Option<u64>, usage: Usage, window: Lazy) -> Quota {
        let Some(n) = seats else { return window.on(Quota::denied(Reason::SeatsNotGiven)) };
        let force = InForce {
            base: scale(record.value, n),
            raised: scale(record.value, n),
            added: 0,
            changed: false,
            per_seat: true,
        };
        limit_math::settle(record, &force, n, usage, window)
    }

    /// [`Engine::check_limit`] for a request that holds add-ons.
    // Out of line, so that the no-add-on path keeps a small frame: inlined, its registers
    // and stack made the plain question pay for the add-on arithmetic it never runs.
    #[inline(never)]
    fn check_limit_with_addons(&self, request: &Request<'_>, limit: LimitId, usage: Usage) -> Quota {
        if request.overrides.is_some() {
            // The two-pass path, which applies the overrides last (and asks a pool for a
            // limit that draws on one).
            return match self.validate(request) {
                Ok(tier) => self.check_limit_for_tier(request, tier, limit, usage),
                Err(reason) => Quota::denied(reason),
            };
        }
        let tables = self.tables();
        let tier = self.index(request.tier);
        let l = self.index(limit);
        // The validation and the sums are one pass over the add-ons (the batch calls, which
        // validate once, take `check_limit_for_tier`); an unknown tier or limit is answered
        // by the two-pass path, which reports them in their order.
        if tier >= tables.counts().tiers || l >= tables.counts().limits {
            return match self.validate(request) {
                Ok(tier) => self.check_limit_for_tier(request, tier, limit, usage),
                Err(reason) => Quota::denied(reason),
            };
        }
        // A limit that draws on a pool has a drawing record in every tier: its flag, read
        // where the answer reads the record anyway, costs other limits one test.
        if tables.limit_record(tier, l).1.flags & DRAWS != 0 {
            return self.via_pool(l, usage, |pool, usage| self.check_limit(request, pool, usage));
        }
        if request.holding.len() > self.input_limits().held_addons() {
            return Quota::denied(Reason::TooManyAddons);
        }
        with_holding!(request.holding, |held| self.fused_check_limit(held, request, tier, l, usage))
    }

    /// [`Engine::check_limit`] for a known tier and limit: [`Engine::validate`]'s checks of the
    /// add-ons and [`Engine::in_force`]'s sums in one pass ([`Engine::scan`]), then the answer.
    #[inline(always)]
    fn fused_check_limit<H: Holds>(
        &self,
        held: &[H],
        request: &Request<'_>,
        tier: usize,
        l: usize,
        usage: Usage,
    ) -> Quota {
        let tables = self.tables();
        let (set, record) = tables.limit_record(tier, l);
        let seats = request.seats.unwrap_or(0);
        let force = match self.scan(held, tier, l, record, seats, request.now) {
            Ok(force) => force,
            Err(reason) => return Quota::denied(reason),
        };
        let counter = if set { record.counter() } else { tables.limit_counter(l) };
        let window = Lazy { counter, anchor: request.billing_anchor, at: request.now };
        limit_math::conclude(record, set, &force, request.seats, usage, window)
    }

    /// The add-ons' checks and sums for limit `l` of a known tier, in one pass. Every table
    /// read is safe for an unknown add-on (it reads as nothing), and the sums are dropped when
    /// a check fails.
    // Always inlined: out of line, passing the sums back through memory cost 34 more
    // instructions with two add-ons (by callgrind).
    #[inline(always)]
    fn scan<H: Holds>(
        &self,
        held: &[H],
        tier: usize,
        l: usize,
        record: &LimitRecord,
        seats: u64,
        now: i64,
    ) -> Result<InForce, Reason> {
        let tables = self.tables();
        let base = if record.per_seat() { scale(record.value, seats) } else { record.value };
        let mut force = InForce { base, raised: base, added: 0, changed: false, per_seat: record.per_seat() };
        let mut checks = HeldChecks::default();
        for &h in held {
            let a = self.index(h.addon());
            let meta = tables.addon_meta(a);
            checks.note(h, a, tables.counts().addons, meta);
            let delta = tables.addon_delta(a, l);
            let held_any = H::PLAIN || h.quantity() != 0;
            if delta.flags == 0 || !held_any || !tables.attaches(a, tier) || !valid(meta, h.acquired(), now) {
                continue;
            }
            accumulate::<H>(&mut force, delta, h.quantity(), seats);
        }
        checks.verdict(held).map(|()| force)
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
        let window = Lazy { counter: tables.limit_counter(l), anchor: request.billing_anchor, at: request.now };
        // A limit the tier does not set is a hard limit of 0, which add-ons may still raise;
        // with none that does, the answer says it was never set rather than set to 0.
        let (set, record) = tables.limit_record(tier, l);
        // A limit that draws on a pool has a drawing record in every tier.
        if record.flags & DRAWS != 0 {
            return self.via_pool(l, usage, |pool, usage| self.check_limit_for_tier(request, tier, pool, usage));
        }
        let seats = request.seats.unwrap_or(0);
        let force = with_holding!(request.holding, |held| {
            self.in_force(held, l, record, seats, |h, a| self.applies(h, a, tier, request.now))
        });
        let plan = limit_math::conclude(record, set, &force, request.seats, usage, window);
        match request.overrides {
            None => plan,
            Some(subject) => self.overridden_limit(subject, tier, l, request.seats, usage, plan),
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
    pub fn setting_value<'s>(
        &'s self,
        request: &Request<'s>,
        setting: SettingId,
    ) -> Result<Option<&'s SettingValue>, Reason> {
        self.setting_value_in(request, request.overrides, setting)
    }

    /// [`Engine::setting_value`] with the subject's overrides apart from the request, so that a
    /// request resolved from names (which borrows a local list) answers with a value of the
    /// overrides' lifetime.
    fn setting_value_in<'s>(
        &'s self,
        request: &Request<'_>,
        overrides: Option<Subject<'s>>,
        setting: SettingId,
    ) -> Result<Option<&'s SettingValue>, Reason> {
        let tier = self.validate(request)?;
        let tables = self.tables();
        let s = self.index(setting);
        if s >= tables.counts().settings {
            return Err(Reason::UnknownSetting);
        }
        let now = request.now;
        if let Some(subject) = overrides {
            if let Some(value) = self.overridden_setting(subject, s, now)? {
                return Ok(Some(value));
            }
        }
        let value = with_holding!(request.holding, |held| {
            self.setting_with_addons(tier, s, held, |h, a| self.applies(h, a, tier, now))
        });
        Ok(value)
    }

    /// The tier's value of setting `s`, improved by the held add-ons for which `applies` holds;
    /// see [`Engine::in_force`] for why the test is a parameter.
    pub(crate) fn setting_with_addons<H: Holds>(
        &self,
        tier: usize,
        s: usize,
        held: &[H],
        applies: impl Fn(H, usize) -> bool,
    ) -> Option<&SettingValue> {
        let tables = self.tables();
        let mut best = tables.setting(tier, s);
        let mut best_addon = None;
        for &h in held {
            let a = self.index(h.addon());
            if !applies(h, a) {
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
        Ok(Request {
            tier,
            key: named.key,
            holding: Holding::Ids(&[]),
            seats: named.seats,
            billing_anchor: named.billing_anchor,
            now: named.now,
            overrides: named.overrides,
        })
    }

    /// Resolves a named request's tier and add-ons and answers with the id request they name.
    pub(crate) fn resolve<R>(
        &self,
        named: &NamedRequest<'_>,
        answer: impl FnOnce(&Request<'_>) -> R,
    ) -> Result<R, Reason> {
        let request = self.plain_request(named)?;
        let count = named.holding.len();
        if count == 0 {
            return Ok(answer(&request));
        }
        if count > self.input_limits().held_addons() {
            return Err(Reason::TooManyAddons);
        }
        match named.holding {
            Holding::Ids(names) => {
                let mut held = [AddonId(0); Limits::MAX_HELD_ADDONS];
                for (slot, name) in held.iter_mut().zip(names) {
                    *slot = self.addon(name).ok_or(Reason::UnknownAddon)?;
                }
                Ok(answer(&request.with_addons(held.get(..count).unwrap_or_default())))
            }
            Holding::Held(names) => {
                let mut held = [Held::new(AddonId(0)); Limits::MAX_HELD_ADDONS];
                for (slot, named) in held.iter_mut().zip(names) {
                    let id = self.addon(named.addon()).ok_or(Reason::UnknownAddon)?;
                    *slot = Held::new(id)
                        .with_quantity(named.quantity())
                        .acquired_at(named.acquired().unwrap_or(NOT_ACQUIRED));
                }
                Ok(answer(&request.with_held(held.get(..count).unwrap_or_default())))
            }
        }
    }

    /// [`Engine::is_allowed`] with names; an unknown name is `false`, and
    /// [`Engine::decide_by_name`] says why.
    #[must_use]
    pub fn is_allowed_by_name(&self, request: &NamedRequest<'_>, feature: &str) -> bool {
        // The common case takes `is_allowed`'s fast path: two lookups and the grant bits,
        // with no id request built in between.
        if request.holding.is_empty() && request.overrides.is_none() {
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
        if request.holding.is_empty() {
            return match (self.plain_request(request), self.feature(feature)) {
                (Err(reason), _) => Decision::deny(reason),
                (Ok(_), None) => Decision::deny(Reason::UnknownFeature),
                (Ok(ids), Some(id)) => self.decide(&ids, id),
            };
        }
        // The request's own checks come before the question's name, as by id.
        let answer = self.resolve(request, |ids| match self.feature(feature) {
            Some(id) => self.decide(ids, id),
            None => Decision::deny(self.validate(ids).err().unwrap_or(Reason::UnknownFeature)),
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
        if request.holding.is_empty() {
            return match (self.plain_request(request), self.limit(limit)) {
                (Err(reason), _) => Quota::denied(reason),
                (Ok(_), None) => Quota::denied(Reason::UnknownLimit),
                // Without overrides, the plain question's own path, inlined here as it was
                // before requests carried overrides (a call less: 38 instructions, by callgrind).
                (Ok(ids), Some(id)) if ids.overrides.is_none() => self.check_limit_without_addons(&ids, id, usage),
                (Ok(ids), Some(id)) => self.check_limit(&ids, id, usage),
            };
        }
        let answer = self.resolve(request, |ids| match self.limit(limit) {
            Some(id) => self.check_limit(ids, id, usage),
            None => Quota::denied(self.validate(ids).err().unwrap_or(Reason::UnknownLimit)),
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
    pub fn setting_value_by_name<'s>(
        &'s self,
        request: &NamedRequest<'s>,
        setting: &str,
    ) -> Result<Option<&'s SettingValue>, Reason> {
        let id = self.setting(setting);
        if request.holding.is_empty() {
            let ids = self.plain_request(request)?;
            return self.setting_value_in(&ids, request.overrides, id.ok_or(Reason::UnknownSetting)?);
        }
        self.resolve(request, |ids| match id {
            Some(id) => self.setting_value_in(ids, request.overrides, id),
            None => Err(self.validate(ids).err().unwrap_or(Reason::UnknownSetting)),
        })?
    }
}

/// [`Engine::valid_at`] for an add-on whose meta is at hand.
#[inline(always)]
fn valid(meta: &AddonMeta, acquired: i64, now: i64) -> bool {
    let window = meta.from <= now && (now < meta.until || meta.until == i64::MAX);
    window && (meta.trial == 0 || trial::covers(meta, acquired, now))
}

/// Adds one applying held add-on's item for a limit (`delta`, held `quantity` times) to the
/// limit in force: the arithmetic [`Engine::in_force`] describes.
#[inline(always)]
fn accumulate<H: Holds>(force: &mut InForce, delta: &DeltaRecord, quantity: u64, seats: u64) {
    force.changed = true;
    force.per_seat |= delta.flags & ANY_PER_SEAT != 0;
    if delta.flags & AT_LEAST != 0 {
        let floor = if delta.flags & AT_LEAST_PER_SEAT != 0 { scale(delta.at_least, seats) } else { delta.at_least };
        force.raised = force.raised.max(floor);
    }
    if delta.flags & ADD != 0 {
        let each = if delta.flags & ADD_PER_SEAT != 0 { scale(delta.add, seats) } else { delta.add };
        // A list of ids holds each once: no product to take.
        let amount = if H::PLAIN { each } else { scale(each, quantity) };
        force.added = add(force.added, amount);
    }
}
