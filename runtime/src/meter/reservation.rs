//! Reservations: part of a limit held before the work that uses it, then committed with what
//! the work actually used, or released.
//!
//! A hold counts against the limit for every other caller from the moment
//! [`Meter::reserve`] grants it, so a long job (an AI generation, an export) can take its
//! estimate up front and settle afterwards without two jobs together passing the ceiling.
//! Each hold has a lifetime: past it the hold frees itself, so a caller that crashed never
//! holds quota for ever. The rules, which `docs/runtime.md` states for users:
//!
//! - [`Meter::commit`] records the actual amount. Up to the hold it is recorded as held; more
//!   than the hold is recorded as far as the ceiling allows (the soft cap, or the limit), and
//!   what did not fit is returned as [`Committed::unrecorded`], so a hold never lets usage pass
//!   the ceiling it was granted under (a reload that lowers the limit meanwhile does not take
//!   back what was held). A commit after the hold expired holds nothing, so all of it is such
//!   an excess.
//! - [`Meter::release`] frees the hold and records nothing.
//! - Both are idempotent: the reservation's id is its idempotency key. The same commit or
//!   release sent again answers as the first did (`repeated`) and applies nothing; a release
//!   after a commit, or a commit after a release, is refused.
//! - A settled or expired reservation is remembered for [`MeterConfig::remember_seconds`]
//!   after it was settled or expired; after that a commit or release of it is refused with
//!   [`ReservationError::Unknown`] and records nothing.
//! - A hold belongs to its counter's window: when the window ends, the hold ends with it.
//!
//! The holds live in their counter, under the subject's shard lock, so reserving and
//! consuming against one subject are one atomic step each, as consuming alone is.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use entitle::{Amount, Engine, LimitId, Quota, Reason, Request, Usage};

use super::{advance, find, span_of, sweep_clock, Counter, Meter, MeterConfig, MeterError, Span};

/// A hold on part of a limit, granted by [`Meter::reserve`]; settle it with [`Meter::commit`]
/// or [`Meter::release`]. Holding the value holds nothing by itself: dropping it leaves the
/// hold to expire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    id: u64,
    key: Box<str>,
    limit: Arc<str>,
    amount: u64,
    expires: i64,
    /// The start of the counter's window the hold is in (`None` for gauges and caps): where a
    /// shared meter finds it.
    window_start: Option<i64>,
    /// The limit the hold was asked for, when it draws on the pool `limit` names: its commit's
    /// actual amount is in that limit's units.
    drawn_by: Option<Arc<str>>,
}

impl Reservation {
    /// A reservation as a meter grants it.
    pub(crate) fn new(
        id: u64,
        key: &str,
        limit: Arc<str>,
        amount: u64,
        expires: i64,
        window_start: Option<i64>,
    ) -> Reservation {
        Reservation { id, key: key.into(), limit, amount, expires, window_start, drawn_by: None }
    }

    /// The reservation, asked for `limit` of `engine`: marked as drawn by it when `limit`
    /// draws on a pool.
    pub(crate) fn asked_for(mut self, engine: &Engine, limit: LimitId) -> Reservation {
        if engine.pool(limit).is_some() {
            self.drawn_by = engine.limit_name(limit).map(Arc::from);
        }
        self
    }

    /// What `actual` units of the limit the hold was asked for count on its counter: their
    /// cost at the rate `engine` declares, for a limit that draws on a pool.
    pub(crate) fn counted(&self, engine: &Engine, actual: u64) -> Result<u64, ReservationError> {
        let Some(drawer) = &self.drawn_by else { return Ok(actual) };
        let limit = engine.limit(drawer).ok_or_else(|| ReservationError::Foreign {
            id: self.id,
            key: self.key.to_string(),
            limit: drawer.to_string(),
        })?;
        Ok(engine.pool_terms(limit, actual).1)
    }

    /// The start of the counter's window the hold is in (the Redis meter's keys carry it).
    #[cfg(feature = "redis")]
    pub(crate) fn window_start(&self) -> Option<i64> {
        self.window_start
    }

    /// The reservation's id: unique in its meter (and in meters restored from its snapshots),
    /// and the idempotency key of its commit or release.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The amount held: in the pool's units, for a hold asked for a limit that draws on one.
    pub fn amount(&self) -> u64 {
        self.amount
    }

    /// The instant (Unix seconds) from which the hold no longer counts.
    pub fn expires_at(&self) -> i64 {
        self.expires
    }

    /// The subject key the hold is for.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The name of the limit the hold is on: the pool, for a hold asked for a limit that
    /// draws on one.
    pub fn limit(&self) -> &str {
        &self.limit
    }

    /// The name of the limit the hold was asked for, when it draws on the pool
    /// [`Reservation::limit`] names; `None` otherwise.
    pub fn drawn_by(&self) -> Option<&str> {
        self.drawn_by.as_deref()
    }
}

/// The outcome of [`Meter::reserve`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reserved {
    /// The engine's answer for the estimate, given what is recorded and held before it.
    pub quota: Quota,
    /// The hold, when the engine allowed the estimate; `None` when it denied it (nothing is
    /// held).
    pub reservation: Option<Reservation>,
}

/// The outcome of [`Meter::commit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Committed {
    /// What was recorded: the actual amount, less what did not fit under the ceiling.
    pub recorded: u64,
    /// What the actual amount passed the ceiling by, beyond the hold: not recorded. 0 unless
    /// the work used more than it held (or its hold had expired) and the limit had no room.
    pub unrecorded: u64,
    /// Whether this commit had been applied already: nothing was applied now, and `recorded`
    /// and `unrecorded` are the first commit's.
    pub repeated: bool,
}

/// The outcome of [`Meter::release`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Released {
    /// What the release freed: the hold, or 0 if it had expired.
    pub freed: u64,
    /// Whether this release had been applied already (and nothing was applied now).
    pub repeated: bool,
}

/// Why a reservation call did nothing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReservationError {
    /// A new counter or hold was needed and the meter is full, or the key is too long.
    #[error(transparent)]
    Meter(#[from] MeterError),
    /// The meter holds more holds (live or remembered) than [`MeterConfig::max_holds`].
    #[error("the meter holds its limit of {max} reservations; nothing was held")]
    AtCapacity {
        /// The configured limit.
        max: usize,
    },
    /// A hold of 0: it would hold nothing, and only take room.
    #[error("a hold must be of more than 0")]
    Empty,
    /// A hold reserves part of a window's allowance until it is settled, and a rolling
    /// window's allowance moves on under it: holds take limits whose windows reset.
    #[error("`{limit}` counts over a rolling window, which takes no holds; nothing was held")]
    Rolling {
        /// The limit's name (its pool's, for a limit that draws on one).
        limit: String,
    },
    /// The lifetime asked for is 0 or longer than [`MeterConfig::max_hold_seconds`].
    #[error("a hold must last from 1 to {max} seconds, not {seconds}")]
    Lifetime {
        /// The lifetime asked for, in whole seconds (rounded up).
        seconds: u64,
        /// The configured limit.
        max: u64,
    },
    /// The meter knows no reservation with this id and amount for this subject and limit: it
    /// was made by another meter (or by this one before a restart, and lost with it), or
    /// forgotten [`MeterConfig::remember_seconds`] after it was settled or expired. Nothing
    /// was recorded.
    #[error("no reservation {id} is known for this subject and limit; nothing was recorded")]
    Unknown {
        /// The reservation's id.
        id: u64,
    },
    /// The request is for another subject than the reservation, or its engine has no limit
    /// of the reservation's name (a reload dropped it).
    #[error("reservation {id} is for subject `{key}` and limit `{limit}`, not this request's; nothing was recorded")]
    Foreign {
        /// The reservation's id.
        id: u64,
        /// The reservation's subject key.
        key: String,
        /// The reservation's limit.
        limit: String,
    },
    /// A commit of a released reservation, or a release of a committed one.
    #[error("reservation {id} was {how} already; nothing was applied")]
    Settled {
        /// The reservation's id.
        id: u64,
        /// `committed` or `released`.
        how: &'static str,
    },
}

/// Where one hold stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Counted against the limit until `expires`.
    Live,
    /// Its lifetime (or its window) ended before it was settled: it holds nothing.
    Expired,
    /// Committed: what was recorded, and what did not fit.
    Committed { recorded: u64, unrecorded: u64 },
    /// Released: what it freed.
    Released { freed: u64 },
}

/// One hold of a counter, live or remembered after it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) id: u64,
    pub(crate) amount: u64,
    pub(crate) expires: i64,
    pub(crate) state: State,
}

/// A counter's holds, ordered by id (ids only grow, and a snapshot is read back sorted), and
/// the sum of the live ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Holds {
    entries: Vec<Entry>,
    /// Wider than an amount: holds of unlimited limits may sum past `u64::MAX`, and releasing
    /// one must not leave the others uncounted.
    held: u128,
    /// How long an ended hold is remembered after its expiry, in seconds (the meter's
    /// [`MeterConfig::remember_seconds`]).
    remember: i64,
    /// No hold expires or is forgotten before this instant: until then, a call's expiry pass
    /// returns at once instead of looking at every hold (a key with thousands of them would
    /// otherwise pay for all of them on every call).
    due: i64,
}

impl Holds {
    fn new(config: &MeterConfig) -> Holds {
        Holds { entries: Vec::new(), held: 0, remember: config.remember(), due: i64::MAX }
    }

    /// The holds of `entries` (from a snapshot): sorted by id, their live sum computed.
    pub(crate) fn from_entries(mut entries: Vec<Entry>, config: &MeterConfig) -> Holds {
        entries.sort_unstable_by_key(|e| e.id);
        let held = entries.iter().filter(|e| e.state == State::Live).map(|e| u128::from(e.amount)).sum();
        let mut holds = Holds { entries, held, remember: config.remember(), due: i64::MAX };
        holds.due = holds.next_due();
        holds
    }

    /// Adds a live hold (its id above every other).
    fn push(&mut self, entry: Entry) {
        self.held += u128::from(entry.amount);
        self.due = self.due.min(entry.expires);
        self.entries.push(entry);
    }

    /// Every hold, live or remembered.
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The sum of the live holds.
    pub(crate) fn held(&self) -> u64 {
        u64::try_from(self.held).unwrap_or(u64::MAX)
    }

    /// No hold expires or is forgotten before this instant (a bound, exact after an expiry
    /// pass): a sweep before it changes nothing here.
    pub(crate) fn due(&self) -> i64 {
        self.due
    }

    /// The earliest instant at which some hold expires or is forgotten.
    fn next_due(&self) -> i64 {
        let remember = self.remember;
        let due = |e: &Entry| if e.state == State::Live { e.expires } else { e.expires.saturating_add(remember) };
        self.entries.iter().map(due).min().unwrap_or(i64::MAX)
    }

    /// Ends the live holds that expired by `now` and forgets the ended ones whose memory ran
    /// out; returns how many were forgotten.
    fn expire(&mut self, now: i64) -> usize {
        if now < self.due {
            return 0;
        }
        let remember = self.remember;
        for entry in self.entries.iter_mut().filter(|e| e.state == State::Live && e.expires <= now) {
            entry.state = State::Expired;
            self.held = self.held.saturating_sub(u128::from(entry.amount));
        }
        let before = self.entries.len();
        self.entries.retain(|e| e.state == State::Live || e.expires.saturating_add(remember) > now);
        self.due = self.next_due();
        before - self.entries.len()
    }

    /// Ends every live hold: their window is over.
    fn end_all(&mut self) {
        for entry in self.entries.iter_mut().filter(|e| e.state == State::Live) {
            entry.state = State::Expired;
        }
        self.held = 0;
    }

    fn find(&mut self, id: u64) -> Option<&mut Entry> {
        let at = self.entries.binary_search_by_key(&id, |e| e.id).ok()?;
        self.entries.get_mut(at)
    }
}

impl Counter {
    /// What the counter's live holds take of the limit.
    pub(crate) fn held(&self) -> u64 {
        self.holds.as_ref().map_or(0, |h| h.held())
    }

    /// Recorded usage and live holds: what other callers see as used.
    pub(crate) fn taken(&self) -> u64 {
        self.used.saturating_add(self.held())
    }

    /// Expires the counter's holds at `now`; returns how many were forgotten.
    pub(crate) fn expire_holds(&mut self, now: i64) -> usize {
        let Some(holds) = self.holds.as_mut() else { return 0 };
        let forgotten = holds.expire(now);
        if holds.entries.is_empty() {
            self.holds = None;
        }
        forgotten
    }

    /// Ends the holds of a counter whose window ended by `now`: they belonged to it.
    pub(crate) fn end_holds_of_ended_window(&mut self, now: i64) {
        // A rolling window never ends: its holds end when they expire.
        if let (Some(window), Some(holds), None) = (self.window(), self.holds.as_mut(), &self.rolling) {
            if window.end <= now {
                holds.end_all();
            }
        }
    }

    /// Whether the counter remembers a hold at `now` (and so must outlive its window).
    pub(crate) fn remembers(&self) -> bool {
        self.holds.is_some()
    }

    /// Moves the counter to `window` as [`advance`] does; a counter that starts over ends
    /// its holds, which belonged to the window that ended.
    ///
    /// Returns whether what counts changed (a new window, or usage that aged out of a rolling
    /// one), so that the caller asks the engine again with [`Counter::taken`].
    pub(crate) fn advance_to(&mut self, span: Option<Span>) -> bool {
        let before = self.used;
        let fresh = advance(self, span);
        if fresh {
            if let Some(holds) = self.holds.as_mut() {
                holds.end_all();
            }
            if let Some(grants) = self.grants.as_mut() {
                grants.new_window();
            }
        }
        fresh || self.used != before
    }
}

/// Refuses a hold on a rolling limit ([`ReservationError::Rolling`]): what both meters check
/// before a hold.
pub(crate) fn holdable(engine: &Engine, limit: LimitId) -> Result<(), ReservationError> {
    match engine.limit_name(limit) {
        Some(name) if engine.is_rolling(limit) => Err(ReservationError::Rolling { limit: name.into() }),
        _ => Ok(()),
    }
}

/// A hold's lifetime in whole seconds (a part of a second rounds up), if it is from 1 second
/// to `max` and the estimate holds something: what both meters check before a hold.
pub(crate) fn hold_seconds(lifetime: Duration, max: u64, estimate: u64) -> Result<u64, ReservationError> {
    let seconds = lifetime.as_secs().saturating_add(u64::from(lifetime.subsec_nanos() > 0));
    if seconds == 0 || seconds > max {
        return Err(ReservationError::Lifetime { seconds, max });
    }
    if estimate == 0 {
        return Err(ReservationError::Empty);
    }
    Ok(seconds)
}

impl MeterConfig {
    pub(crate) fn remember(&self) -> i64 {
        i64::try_from(self.remember_seconds).unwrap_or(i64::MAX)
    }
}

impl Meter {
    /// Holds `estimate` of `limit` for the request's subject for `lifetime` (counted from the
    /// request's `now`), if the engine allows `estimate` more on top of what is recorded and
    /// held. Every other call on the subject counts the hold as used until it is committed,
    /// released, or expires. A denied estimate holds nothing (`reservation` is `None`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use entitle::{Engine, Request};
    /// use entitle_runtime::meter::Meter;
    ///
    /// let engine = Engine::from_source("p", "policy \"p\"\nlimit credits : count per month\ntier pro { limit credits = 100 }\n")?;
    /// let (pro, credits) = (engine.tier("pro").unwrap(), engine.limit("credits").unwrap());
    /// let meter = Meter::new();
    /// let request = Request::new(pro, 1_795_255_200).with_key("acme");
    ///
    /// // Hold 80 credits for a long job: 20 are left for everyone else meanwhile.
    /// let hold = meter.reserve(&engine, &request, credits, 80, Duration::from_secs(600))?.reservation.unwrap();
    /// assert!(!meter.try_consume(&engine, &request, credits, 30)?.quota.allowed);
    ///
    /// // The job used 50: 50 are recorded, and the other 30 are free again.
    /// let done = meter.commit(&engine, &request, &hold, 50)?;
    /// assert_eq!((done.recorded, done.unrecorded), (50, 0));
    /// assert!(meter.try_consume(&engine, &request, credits, 30)?.quota.allowed);
    /// // The same commit again applies nothing.
    /// assert!(meter.commit(&engine, &request, &hold, 50)?.repeated);
    /// assert_eq!(meter.used(&engine, &request, credits), 80);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reserve(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        estimate: u64,
        lifetime: Duration,
    ) -> Result<Reserved, ReservationError> {
        let asked = limit;
        let (limit, estimate) = engine.pool_terms(limit, estimate);
        holdable(engine, limit)?;
        let seconds = hold_seconds(lifetime, self.config.max_hold_seconds, estimate)?;
        let check = |taken: u64| engine.check_limit(request, limit, Usage::used(taken).requesting(estimate));
        let Some(name) = engine.limit_name(limit) else {
            return Ok(Reserved { quota: check(0), reservation: None });
        };
        let key = request.key();
        // Counted from the clock expiry is judged by (the earlier of the request's and the
        // system's), so a request stamped ahead cannot make a hold outlive its lifetime.
        let clock = sweep_clock(request.now());
        let expires = clock.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX));
        let hash = self.hash(key);
        let mut guard = self.shard(hash);
        let table = &mut *guard;
        if let Some(counter) = find(&mut table.subjects, hash, key, name) {
            self.forget(counter.expire_holds(clock));
            let mut quota = check(counter.taken());
            if counter.advance_to(span_of(&quota)) {
                quota = check(counter.taken());
            }
            if !quota.allowed {
                return Ok(Reserved { quota, reservation: None });
            }
            let id = self.take_hold()?;
            let entry = Entry { id, amount: estimate, expires, state: State::Live };
            counter.holds.get_or_insert_with(|| Box::new(Holds::new(&self.config))).push(entry);
            table.due.note(counter);
            let reservation = self.reservation(entry, key, counter).asked_for(engine, asked);
            return Ok(Reserved { quota, reservation: Some(reservation) });
        }
        let quota = check(0);
        if !quota.allowed {
            return Ok(Reserved { quota, reservation: None });
        }
        if key.len() > self.config.max_key_bytes {
            return Err(MeterError::KeyTooLong { len: key.len(), max: self.config.max_key_bytes }.into());
        }
        self.make_room(clock, table)?;
        let id = match self.take_hold() {
            Ok(id) => id,
            Err(full) => {
                self.counters.fetch_sub(1, Ordering::Relaxed);
                return Err(full);
            }
        };
        let entry = Entry { id, amount: estimate, expires, state: State::Live };
        let mut holds = Holds::new(&self.config);
        holds.push(entry);
        let mut counter = Counter::new(Arc::from(name), span_of(&quota), 0);
        counter.holds = Some(Box::new(holds));
        let reservation = self.reservation(entry, key, &counter).asked_for(engine, asked);
        table.insert(hash, key, counter);
        Ok(Reserved { quota, reservation: Some(reservation) })
    }

    /// Settles `reservation` with what the work actually used, `actual`, in the request's
    /// window (stamp the request with the instant the work ended). See the module's rules:
    /// up to the hold is recorded; beyond it, as far as the ceiling allows.
    pub fn commit(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        reservation: &Reservation,
        actual: u64,
    ) -> Result<Committed, ReservationError> {
        let limit = self.owned_by(engine, request, reservation)?;
        let actual = reservation.counted(engine, actual)?;
        let window = span_of(&engine.check_limit(request, limit, Usage::default()));
        self.with_entry(reservation, sweep_clock(request.now()), window, |counter, entry| {
            let covered = match entry.state {
                State::Committed { recorded, unrecorded } => {
                    return Ok(Settle::Repeat(Committed { recorded, unrecorded, repeated: true }));
                }
                State::Released { .. } => return Err(ReservationError::Settled { id: entry.id, how: "released" }),
                State::Live => actual.min(entry.amount),
                State::Expired => 0,
            };
            let freed = if entry.state == State::Live { entry.amount } else { 0 };
            // What the excess is checked on top of: everything taken, with this hold's part
            // replaced by what of it was used.
            let taken = counter.taken().saturating_sub(freed).saturating_add(covered);
            let excess = actual - covered;
            let fits = room(engine.check_limit(request, limit, Usage::used(taken).requesting(excess)), taken, excess);
            let recorded = covered.saturating_add(fits);
            let state = State::Committed { recorded, unrecorded: excess - fits };
            Ok(Settle::Apply(state, recorded, Committed { recorded, unrecorded: excess - fits, repeated: false }))
        })
    }

    /// Frees `reservation`'s hold and records nothing.
    pub fn release(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        reservation: &Reservation,
    ) -> Result<Released, ReservationError> {
        let limit = self.owned_by(engine, request, reservation)?;
        let window = span_of(&engine.check_limit(request, limit, Usage::default()));
        self.with_entry(reservation, sweep_clock(request.now()), window, |_, entry| {
            let freed = match entry.state {
                State::Released { freed } => return Ok(Settle::Repeat(Released { freed, repeated: true })),
                State::Committed { .. } => return Err(ReservationError::Settled { id: entry.id, how: "committed" }),
                State::Live => entry.amount,
                State::Expired => 0,
            };
            Ok(Settle::Apply(State::Released { freed }, 0, Released { freed, repeated: false }))
        })
    }

    /// The live holds on the request's subject and limit in the request's window.
    pub fn held(&self, engine: &Engine, request: &Request<'_>, limit: LimitId) -> u64 {
        let clock = sweep_clock(request.now());
        self.in_window(engine, request, limit, |counter, _| {
            self.forget(counter.expire_holds(clock));
            counter.held()
        })
        .unwrap_or(0)
    }

    /// The id of the limit the reservation is on, if the request is for its subject.
    fn owned_by(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        reservation: &Reservation,
    ) -> Result<LimitId, ReservationError> {
        let limit = engine.limit(&reservation.limit).filter(|_| request.key() == &*reservation.key);
        limit.ok_or_else(|| ReservationError::Foreign {
            id: reservation.id,
            key: reservation.key.to_string(),
            limit: reservation.limit.to_string(),
        })
    }

    /// Runs `settle` on the reservation's entry under its shard's lock, after expiring the
    /// counter's holds at `clock` and moving it to `window`; applies the new state and the
    /// amount to record that `settle` returns, unless it answered a repeat or refused.
    fn with_entry<T>(
        &self,
        reservation: &Reservation,
        clock: i64,
        window: Option<Span>,
        settle: impl FnOnce(&Counter, Entry) -> Result<Settle<T>, ReservationError>,
    ) -> Result<T, ReservationError> {
        let unknown = || ReservationError::Unknown { id: reservation.id };
        let hash = self.hash(&reservation.key);
        let mut guard = self.shard(hash);
        let table = &mut *guard;
        let counter = find(&mut table.subjects, hash, &reservation.key, &reservation.limit).ok_or_else(unknown)?;
        self.forget(counter.expire_holds(clock));
        counter.advance_to(window);
        // The id and the amount must both match: an id alone could be one a restarted meter
        // handed out again after losing the hold it first named.
        let entry = *counter
            .holds
            .as_mut()
            .and_then(|h| h.find(reservation.id))
            .filter(|e| e.amount == reservation.amount)
            .ok_or_else(unknown)?;
        let outcome = match settle(counter, entry)? {
            Settle::Repeat(answer) => return Ok(answer),
            Settle::Apply(state, recorded, answer) => {
                let holds = counter.holds.as_mut().ok_or_else(unknown)?;
                if entry.state == State::Live {
                    holds.held = holds.held.saturating_sub(u128::from(entry.amount));
                }
                let remember = holds.remember;
                if let Some(slot) = holds.find(reservation.id) {
                    slot.state = state;
                    // Remembered from when it was settled, not from an expiry a week away.
                    slot.expires = slot.expires.min(clock);
                    let forget = slot.expires.saturating_add(remember);
                    holds.due = holds.due.min(forget);
                }
                counter.record(clock, recorded);
                answer
            }
        };
        table.due.note(counter);
        Ok(outcome)
    }

    /// The reservation a caller gets for `entry`.
    fn reservation(&self, entry: Entry, key: &str, counter: &Counter) -> Reservation {
        let start = counter.window().map(|w| w.start);
        Reservation::new(entry.id, key, Arc::clone(&counter.limit), entry.amount, entry.expires, start)
    }

    /// Counts one more hold and gives it an id, or refuses at [`MeterConfig::max_holds`].
    fn take_hold(&self) -> Result<u64, ReservationError> {
        let max = self.config.max_holds;
        if self.holds.fetch_add(1, Ordering::Relaxed) >= max {
            self.holds.fetch_sub(1, Ordering::Relaxed);
            return Err(ReservationError::AtCapacity { max });
        }
        Ok(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Uncounts holds the meter no longer remembers.
    pub(crate) fn forget(&self, forgotten: usize) {
        if forgotten > 0 {
            self.holds.fetch_sub(forgotten, Ordering::Relaxed);
        }
    }
}

/// What a settling step decided: a repeat answered as before, or a new state for the entry
/// with the amount to record and the answer.
enum Settle<T> {
    Repeat(T),
    Apply(State, u64, T),
}

/// How much of `excess`, on top of `taken`, fits under the ceiling of the engine's answer
/// `quota` for it: all if allowed; up to the ceiling if the limit is exceeded; nothing if the
/// engine refused the request or the limit is not set.
fn room(quota: Quota, taken: u64, excess: u64) -> u64 {
    if quota.allowed {
        return excess;
    }
    if quota.reason != Reason::LimitExceeded {
        return 0;
    }
    match quota.soft_cap.unwrap_or(quota.limit) {
        Amount::Finite(ceiling) => ceiling.saturating_sub(taken).min(excess),
        Amount::Unlimited => excess,
    }
}
