//! Credit grants: prepaid and promotional credits on top of a pool's plan allowance. The
//! rules are [`Grant`]'s.

use std::sync::Arc;

use entitle::{Amount, Engine, LimitId, Quota, Reason, Request, Status, Usage};

use super::{find, span_of, sweep_clock, Counter, Meter, MeterError};

/// A grant to add with [`Meter::grant`]: `amount` credits from its start (default: at once)
/// until its expiry (default: never), with a `priority` (default 0).
///
/// A grant belongs to one subject and one limit (a pool, most often: a grant asked for a
/// limit that draws on a pool goes to the pool). The meter spends it only once the plan's
/// allowance of the current window is spent:
///
/// 1. the plan's allowance (the limit in force, seats, add-ons and overrides included), which
///    ends with its window and so goes first;
/// 2. the grants live at the request's `now` (started, not expired, with credit left), in
///    **draw order**: the highest `priority` first, then the soonest expiry (a grant that
///    never expires last), then the earliest start, then the one granted first;
/// 3. what neither covers is asked of the plan's soft cap: overage if the limit has one and
///    it is not reached, else the request is denied and nothing is spent, of the plan or of
///    a grant.
///
/// Every step happens under the subject's shard lock with the rest of the consumption, so a
/// grant is never spent twice however many threads consume. A refund gives back in the
/// reverse order: overage first, then what the grants paid in the refund's window (the last
/// in draw order first, only those still live), then the plan. A grant spent in full is
/// remembered for [`super::MeterConfig::remember_seconds`] after it was last spent (adding
/// it again in that time is a repeat), then forgotten; an expired one is forgotten at once. A
/// gauge takes no grants. Reservations and batches ([`Meter::reserve`],
/// [`Meter::try_consume_all`]) are decided on the plan's allowance alone: they never spend a
/// grant. A tier that does not set the limit is refused as the engine refuses it
/// (`limit_not_set`), grants or not: a plan that runs on grants alone sets the limit to 0.
/// The Redis meter keeps the same rules ([`crate::store::redis::RedisMeter::grant`], with the
/// feature `redis`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    id: Box<str>,
    amount: u64,
    starts: i64,
    expires: Option<i64>,
    priority: u32,
}

impl Grant {
    /// A grant of `amount` with the caller's `id`, which names it in answers and snapshots and
    /// makes adding it idempotent: the same grant added again is answered as a repeat.
    pub fn new(id: &str, amount: u64) -> Grant {
        Grant { id: id.into(), amount, starts: i64::MIN, expires: None, priority: 0 }
    }

    /// The first instant (Unix seconds) it may be spent.
    #[must_use]
    pub fn starting(mut self, at: i64) -> Grant {
        self.starts = at;
        self
    }

    /// The first instant it may no longer be spent: a request stamped exactly then spends
    /// nothing of it.
    #[must_use]
    pub fn expiring(mut self, at: i64) -> Grant {
        self.expires = Some(at);
        self
    }

    /// Its priority: grants of a higher priority are spent before those of a lower one.
    #[must_use]
    pub fn with_priority(mut self, priority: u32) -> Grant {
        self.priority = priority;
        self
    }
}

/// Where a grant comes in the draw order: highest priority, soonest expiry, earliest start,
/// first granted.
pub(crate) type DrawOrder = (std::cmp::Reverse<u32>, i64, i64, u64);

/// A grant's terms, checked: what both meters store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Terms {
    pub(crate) id: Arc<str>,
    pub(crate) amount: u64,
    pub(crate) starts: i64,
    /// `i64::MAX` for a grant that never expires.
    pub(crate) expires: i64,
    pub(crate) priority: u32,
}

impl Grant {
    /// The grant's terms, or why it is refused for limit `limit` (named `name`) of `engine`,
    /// with ids of at most `max_id` bytes.
    pub(crate) fn checked(
        &self,
        engine: &Engine,
        limit: LimitId,
        name: &str,
        max_id: usize,
    ) -> Result<Terms, GrantError> {
        if engine.is_gauge(limit) {
            return Err(GrantError::Gauge { limit: name.into() });
        }
        if engine.is_rolling(limit) {
            return Err(GrantError::Rolling { limit: name.into() });
        }
        if self.id.is_empty() || self.id.len() > max_id {
            return Err(GrantError::BadId { len: self.id.len(), max: max_id });
        }
        if self.amount == 0 {
            return Err(GrantError::Empty { id: self.id.to_string() });
        }
        let expires = self.expires.unwrap_or(i64::MAX);
        if expires <= self.starts {
            return Err(GrantError::Backwards { id: self.id.to_string(), starts: self.starts, expires });
        }
        Ok(Terms {
            id: Arc::from(&*self.id),
            amount: self.amount,
            starts: self.starts,
            expires,
            priority: self.priority,
        })
    }
}

/// A grant as the meter holds it: what it was given and what of it is spent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GrantBalance {
    /// The caller's id.
    pub id: String,
    /// The amount granted.
    pub amount: u64,
    /// What consumption has spent of it.
    pub spent: u64,
    /// The first instant it may be spent (`i64::MIN` for at once).
    pub starts: i64,
    /// The first instant it may no longer be spent, if it expires.
    pub expires: Option<i64>,
    /// Its priority: higher is spent first.
    pub priority: u32,
}

impl GrantBalance {
    /// What is left of it.
    pub fn left(&self) -> u64 {
        self.amount - self.spent
    }

    /// The balance of a grant of `terms` with `spent` of it spent.
    #[cfg(feature = "redis")]
    pub(crate) fn of(terms: &Terms, spent: u64) -> GrantBalance {
        GrantBalance {
            id: terms.id.to_string(),
            amount: terms.amount,
            spent: spent.min(terms.amount),
            starts: terms.starts,
            expires: (terms.expires != i64::MAX).then_some(terms.expires),
            priority: terms.priority,
        }
    }

    /// A grant as the Redis meter stores it (`amount:spent:starts:expires:priority:seq:spent_at`),
    /// with its place in the draw order.
    #[cfg(feature = "redis")]
    pub(crate) fn parse(id: &str, record: &str) -> Option<(GrantBalance, DrawOrder)> {
        let mut fields = record.split(':');
        let mut next = || fields.next();
        let (amount, spent) = (next()?.parse::<u64>().ok()?, next()?.parse::<u64>().ok()?);
        let (starts, expires) = (next()?.parse::<i64>().ok()?, next()?.parse::<i64>().ok()?);
        let (priority, seq) = (next()?.parse::<u32>().ok()?, next()?.parse::<u64>().ok()?);
        let terms = Terms { id: Arc::from(id), amount, starts, expires, priority };
        Some((GrantBalance::of(&terms, spent), (std::cmp::Reverse(priority), expires, starts, seq)))
    }
}

impl Granted {
    /// An outcome of adding a grant.
    #[cfg(feature = "redis")]
    pub(crate) fn new(balance: GrantBalance, repeated: bool) -> Granted {
        Granted { balance, repeated }
    }
}

/// The outcome of [`Meter::grant`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Granted {
    /// The grant as the meter holds it.
    pub balance: GrantBalance,
    /// Whether the meter held this grant already (the same id, amount, start, expiry and
    /// priority): nothing was added.
    pub repeated: bool,
}

/// Why a grant was refused; nothing was added.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GrantError {
    /// The engine declares no limit with this id.
    #[error("the engine declares no limit with this id; nothing was granted")]
    UnknownLimit,
    /// A grant of 0 grants nothing.
    #[error("grant `{id}` has an amount of 0; nothing was granted")]
    Empty {
        /// The grant's id.
        id: String,
    },
    /// The grant expires at or before it starts.
    #[error("grant `{id}` expires at {expires}, not after it starts at {starts}; nothing was granted")]
    Backwards {
        /// The grant's id.
        id: String,
        /// Its start.
        starts: i64,
        /// Its expiry.
        expires: i64,
    },
    /// A rolling limit has no window for a grant to pay in: what grants paid is accounted
    /// per window, and a rolling window never ends.
    #[error("`{limit}` counts over a rolling window, which takes no grants; nothing was granted")]
    Rolling {
        /// The limit's name.
        limit: String,
    },
    /// A gauge is a level a service raises and lowers, not a balance to top up.
    #[error("`{limit}` is a gauge, which takes no grants; nothing was granted")]
    Gauge {
        /// The limit's name.
        limit: String,
    },
    /// The id is empty or longer than [`super::MeterConfig::max_key_bytes`].
    #[error("a grant id must be 1 to {max} bytes, not {len}; nothing was granted")]
    BadId {
        /// The id's length in bytes.
        len: usize,
        /// The longest allowed.
        max: usize,
    },
    /// The subject's limit holds a different grant with this id.
    #[error("grant `{id}` is held already with other terms; nothing was granted")]
    Conflict {
        /// The grant's id.
        id: String,
    },
    /// The subject's limit holds [`super::MeterConfig::max_grants`] grants already.
    #[error("the subject holds {max} grants on this limit already, the most a meter keeps; nothing was granted")]
    AtCapacity {
        /// The most grants one subject's limit holds.
        max: usize,
    },
    /// The meter could not make the counter the grant lives in.
    #[error(transparent)]
    Meter(#[from] MeterError),
}

/// One grant in a counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GrantEntry {
    pub(crate) id: Arc<str>,
    pub(crate) amount: u64,
    pub(crate) spent: u64,
    pub(crate) starts: i64,
    /// `i64::MAX` for a grant that never expires: it sorts last among expiries.
    pub(crate) expires: i64,
    pub(crate) priority: u32,
    /// The order it was granted in, among the counter's grants: the last tie-break.
    pub(crate) seq: u64,
    /// When it was last spent (`i64::MIN` for never): a grant spent in full is remembered
    /// [`super::MeterConfig::remember_seconds`] after that, so that adding it again is a
    /// repeat and a refund can still give back to it.
    pub(crate) spent_at: i64,
}

impl GrantEntry {
    /// Whether it may be spent at `now`.
    fn live(&self, now: i64) -> bool {
        self.starts <= now && now < self.expires
    }

    /// Whether a sweep at `now` keeps it: it may still be spent, or it is spent in full and
    /// still remembered, until it expires either way.
    fn kept(&self, now: i64, remember: i64) -> bool {
        self.expires > now && (self.spent < self.amount || self.spent_at.saturating_add(remember) > now)
    }

    /// The first instant a sweep drops it.
    fn due(&self, remember: i64) -> i64 {
        if self.spent < self.amount {
            self.expires
        } else {
            self.expires.min(self.spent_at.saturating_add(remember))
        }
    }

    /// The key of the draw order: highest priority, soonest expiry, earliest start, first
    /// granted.
    fn order(&self) -> DrawOrder {
        (std::cmp::Reverse(self.priority), self.expires, self.starts, self.seq)
    }

    fn balance(&self) -> GrantBalance {
        GrantBalance {
            id: self.id.to_string(),
            amount: self.amount,
            spent: self.spent,
            starts: self.starts,
            expires: (self.expires != i64::MAX).then_some(self.expires),
            priority: self.priority,
        }
    }
}

/// A counter's grants, in draw order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Grants {
    entries: Vec<GrantEntry>,
    next_seq: u64,
    /// What the grants paid in the counter's current window: a refund gives back to grants
    /// only what they paid in it, never what an earlier window spent.
    pub(crate) paid: u64,
    /// How long a grant spent in full is remembered, in seconds.
    remember: i64,
}

impl Grants {
    /// No grants yet, remembering spent ones for `remember` seconds.
    fn new(remember: i64) -> Grants {
        Grants { entries: Vec::new(), next_seq: 0, paid: 0, remember }
    }

    /// The grants restored from a snapshot, which the caller has validated (no `seq` twice,
    /// none at `u64::MAX`).
    pub(crate) fn from_entries(mut entries: Vec<GrantEntry>, paid: u64, config: &super::MeterConfig) -> Grants {
        entries.sort_by_key(GrantEntry::order);
        let next_seq = entries.iter().map(|e| e.seq.saturating_add(1)).max().unwrap_or(0);
        Grants { entries, next_seq, paid, remember: config.remember() }
    }

    /// The counter moved to a new window: nothing of it was paid by grants yet.
    pub(crate) fn new_window(&mut self) {
        self.paid = 0;
    }

    /// Every grant, in draw order.
    pub(crate) fn entries(&self) -> &[GrantEntry] {
        &self.entries
    }

    /// What the grants live at `now` hold.
    pub(crate) fn available(&self, now: i64) -> u64 {
        self.entries.iter().filter(|e| e.live(now)).fold(0, |sum, e| sum.saturating_add(e.amount - e.spent))
    }

    /// Spends `amount` of the grants live at `now`, in draw order; the caller has checked
    /// that they hold it.
    fn spend(&mut self, now: i64, amount: u64) {
        self.paid = self.paid.saturating_add(amount);
        let mut left = amount;
        for entry in self.entries.iter_mut().filter(|e| e.live(now)) {
            let take = left.min(entry.amount - entry.spent);
            if take > 0 {
                entry.spent += take;
                entry.spent_at = now;
            }
            left -= take;
            if left == 0 {
                break;
            }
        }
    }

    /// Gives back up to `amount`, and no more than the grants paid in this window, to the
    /// grants live at `now`, the last in draw order first; returns what was given back.
    fn give_back(&mut self, now: i64, amount: u64) -> u64 {
        let mut left = amount.min(self.paid);
        let asked = left;
        for entry in self.entries.iter_mut().rev().filter(|e| e.live(now)) {
            let back = left.min(entry.spent);
            entry.spent -= back;
            left -= back;
        }
        let back = asked - left;
        self.paid -= back;
        back
    }

    /// Drops the grants a sweep at `now` no longer keeps: expired, or spent in full and no
    /// longer remembered.
    pub(crate) fn expire(&mut self, now: i64) {
        let remember = self.remember;
        self.entries.retain(|e| e.kept(now, remember));
    }

    /// Whether a sweep at `now` keeps some grant, and so the counter.
    pub(crate) fn keeps(&self, now: i64) -> bool {
        self.entries.iter().any(|e| e.kept(now, self.remember))
    }

    /// The first instant a sweep drops one of the grants: one before it drops none.
    pub(crate) fn due(&self) -> i64 {
        self.entries.iter().map(|e| e.due(self.remember)).min().unwrap_or(i64::MAX)
    }
}

/// The answer to `amount` with `taken` used of the plan, which answered `plan`: when the plan
/// alone does not cover it and `grants` live at `now` do, in part or whole, what they cover is
/// taken off the plan's request and the engine asked again. Returns the answer and what the
/// grants would pay; nothing is spent here.
pub(crate) fn decide(
    grants: Option<&Grants>,
    taken: u64,
    plan: Quota,
    now: i64,
    amount: u64,
    ask: impl Fn(u64, u64) -> Quota,
) -> (Quota, u64) {
    let Some(grants) = grants else { return (plan, 0) };
    let short = plan.status == Status::Overage || plan.reason == Reason::LimitExceeded;
    let Amount::Finite(limit) = plan.limit else { return (plan, 0) };
    if !short {
        return (plan, 0);
    }
    let need = amount.saturating_sub(limit.saturating_sub(taken));
    let from_grants = need.min(grants.available(now));
    if from_grants == 0 {
        return (plan, 0);
    }
    let quota = paid_in_part(taken, limit, amount, from_grants, ask);
    (quota, if quota.allowed { from_grants } else { 0 })
}

/// The plan's answer to `amount` with `taken` used of `limit`, when grants pay `from_grants`
/// of it: the rest is asked of the plan. Grants that cover all past the limit leave the plan
/// its room, even when usage is past the limit already (a limit lowered mid-window): the
/// plan's part is then asked at its limit, where nothing of it is left and nothing more is
/// asked. Both meters answer with it.
pub(crate) fn paid_in_part(
    taken: u64,
    limit: u64,
    amount: u64,
    from_grants: u64,
    ask: impl Fn(u64, u64) -> Quota,
) -> Quota {
    let need = amount.saturating_sub(limit.saturating_sub(taken));
    let used = if from_grants == need { taken.min(limit) } else { taken };
    ask(used, amount.saturating_sub(from_grants))
}

impl Counter {
    /// Spends `amount` of the counter's grants live at `now`.
    pub(crate) fn spend_grants(&mut self, now: i64, amount: u64) {
        if let Some(grants) = self.grants.as_deref_mut().filter(|_| amount > 0) {
            grants.spend(now, amount);
        }
    }

    /// What the counter's grants live at `now` hold.
    pub(crate) fn grants_left(&self, now: i64) -> u64 {
        self.grants.as_ref().map_or(0, |g| g.available(now))
    }

    /// Gives back `amount` in the reverse of the consumption order: what is recorded past
    /// `limit` (overage), then the grants live at `now`, then the plan's usage. Returns what
    /// was given back.
    pub(crate) fn give_back(&mut self, limit: Amount, now: i64, amount: u64) -> u64 {
        let overage = match limit {
            Amount::Finite(limit) => self.used.saturating_sub(limit),
            Amount::Unlimited => 0,
        };
        let from_overage = self.take_back(amount.min(overage));
        let to_grants = self.grants.as_deref_mut().map_or(0, |g| g.give_back(now, amount - from_overage));
        let from_plan = self.take_back(amount - from_overage - to_grants);
        from_overage + to_grants + from_plan
    }
}

impl Meter {
    /// Adds `grant` to the request's subject's `limit` (to its pool, for a limit that draws on
    /// one): credit the meter spends once the plan's allowance of a window is spent (see
    /// [`Grant`] for the order). The same grant added again (its id,
    /// amount, start, expiry and priority) is a repeat and adds nothing; another grant with
    /// the same id is refused.
    ///
    /// ```
    /// use entitle::{Engine, Request};
    /// use entitle_runtime::meter::{Grant, Meter};
    ///
    /// let engine = Engine::from_source("p", "policy \"p\"\nlimit credits : count per month\ntier free { limit credits = 100 }\n")?;
    /// let (free, credits) = (engine.tier("free").unwrap(), engine.limit("credits").unwrap());
    /// let meter = Meter::new();
    /// let request = Request::new(free, 1_795_255_200).with_key("acme");
    /// meter.grant(&engine, &request, credits, Grant::new("welcome", 50).expiring(1_795_255_200 + 86_400))?;
    ///
    /// // 100 from the plan, then 50 from the grant, then nothing.
    /// let spent = meter.try_consume(&engine, &request, credits, 130)?;
    /// assert!(spent.quota.allowed);
    /// assert_eq!((spent.recorded, spent.from_grants, spent.grants_left), (130, 30, 20));
    /// assert!(!meter.try_consume(&engine, &request, credits, 21)?.quota.allowed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn grant(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        grant: Grant,
    ) -> Result<Granted, GrantError> {
        let (limit, _) = engine.pool_terms(limit, 0);
        let name = engine.limit_name(limit).ok_or(GrantError::UnknownLimit)?;
        let max = self.config.max_key_bytes;
        let terms = grant.checked(engine, limit, name, max)?;
        let key = request.key();
        if key.len() > max {
            return Err(MeterError::KeyTooLong { len: key.len(), max }.into());
        }
        let window = span_of(&engine.check_limit(request, limit, Usage::default()));
        let hash = self.hash(key);
        let mut guard = self.shard(hash);
        let table = &mut *guard;
        if find(&mut table.subjects, hash, key, name).is_none() {
            self.make_room(sweep_clock(request.now()), table)?;
            let counter = Counter::new(Arc::from(name), window, 0);
            table.insert(hash, key, counter);
        }
        let counter = find(&mut table.subjects, hash, key, name).ok_or(GrantError::UnknownLimit)?;
        let remember = self.config.remember();
        let grants = counter.grants.get_or_insert_with(|| Box::new(Grants::new(remember)));
        let entry = GrantEntry {
            id: terms.id,
            amount: terms.amount,
            spent: 0,
            starts: terms.starts,
            expires: terms.expires,
            priority: terms.priority,
            seq: grants.next_seq,
            spent_at: i64::MIN,
        };
        if let Some(held) = grants.entries.iter().find(|e| e.id == entry.id) {
            let same = (held.amount, held.starts, held.expires, held.priority)
                == (entry.amount, entry.starts, entry.expires, entry.priority);
            return if same {
                Ok(Granted { balance: held.balance(), repeated: true })
            } else {
                Err(GrantError::Conflict { id: entry.id.to_string() })
            };
        }
        let max = self.config.max_grants;
        if grants.entries.len() >= max {
            return Err(GrantError::AtCapacity { max });
        }
        let balance = entry.balance();
        let at = grants.entries.partition_point(|e| e.order() < entry.order());
        grants.entries.insert(at, entry);
        grants.next_seq = grants.next_seq.saturating_add(1);
        table.due.note(counter);
        Ok(Granted { balance, repeated: false })
    }

    /// The grants the request's subject holds on `limit` (its pool's, for a limit that draws
    /// on one), in draw order, spent ones included until a sweep drops them.
    pub fn grants(&self, engine: &Engine, request: &Request<'_>, limit: LimitId) -> Vec<GrantBalance> {
        let (limit, _) = engine.pool_terms(limit, 0);
        let Some(name) = engine.limit_name(limit) else { return Vec::new() };
        let key = request.key();
        let hash = self.hash(key);
        let mut guard = self.shard(hash);
        let counter = find(&mut guard.subjects, hash, key, name);
        counter
            .and_then(|c| c.grants.as_ref())
            .map_or_else(Vec::new, |g| g.entries.iter().map(GrantEntry::balance).collect())
    }
}
