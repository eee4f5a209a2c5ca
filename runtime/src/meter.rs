//! The usage meter: counts what the engine allowed, per subject, limit and window.
//!
//! [`Meter::try_consume`] decides against the engine and records in one step under the
//! subject's lock: an allowed amount is recorded, a denied one is not, so with any number of
//! threads on one subject the recorded total is exactly the sum of what was allowed and never
//! passes the hard cap (or the soft cap, with overage). Windows are the engine's own
//! ([`entitle::Quota::window`]), so a counter resets at exactly the instant the engine says
//! it does, monthly billing anchors included.
//!
//! ```
//! use entitle::{Engine, Reason, Request};
//! use entitle_runtime::meter::Meter;
//!
//! let engine = Engine::from_source("p", "policy \"p\"\nlimit calls : count per day\ntier free { limit calls = 3 }\n")?;
//! let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
//! let meter = Meter::new();
//! let request = Request::new(free, 1_795_255_200).with_key("app-42");
//!
//! assert!(meter.try_consume(&engine, &request, calls, 2)?.quota.allowed);
//! let denied = meter.try_consume(&engine, &request, calls, 2)?;
//! assert_eq!((denied.quota.allowed, denied.quota.reason, denied.recorded), (false, Reason::LimitExceeded, 0));
//! assert_eq!(meter.used(&engine, &request, calls), 2);
//!
//! // The next day is a new window.
//! let tomorrow = request.at(1_795_255_200 + 86_400);
//! assert_eq!(meter.used(&engine, &tomorrow, calls), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Memory is bounded: a counter lives as long as its window, or as long as it remembers a
//! reservation ([`Meter::reserve`]) after that (it starts over in the next
//! window when its subject next uses the limit, and [`Meter::sweep`] drops the ones whose
//! window ended), and the number of counters is capped ([`MeterConfig::max_counters`]). At
//! the cap, the meter first sweeps the subject's shard at the request's `now`, or at the
//! system clock if that is earlier (a request stamped in the future ends no live window),
//! and only when something in the shard can have ended by then;
//! if that frees nothing, a new counter is refused with [`MeterError::AtCapacity`] and nothing
//! is recorded (fail closed). Subject keys are bounded too ([`MeterConfig::max_key_bytes`]),
//! so a counter's memory is. Counted usage of a live window is never forgotten to make room.

use std::hash::{BuildHasher, RandomState};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use entitle::{Engine, LimitId, Quota, Request, Usage, WindowSpan};
use hashbrown::HashTable;

use crate::store::Source;

mod batch;
mod grants;
mod reservation;
pub(crate) mod rolling;

// The Redis meter shares these; an in-process build without it has no other reader.
#[cfg(feature = "redis")]
pub(crate) use batch::given_before;
pub use batch::ConsumedAll;
#[cfg(feature = "redis")]
pub(crate) use grants::paid_in_part;
pub use grants::{Grant, GrantBalance, GrantError, Granted};
pub(crate) use grants::{GrantEntry, Grants};
#[cfg(feature = "redis")]
pub(crate) use reservation::{hold_seconds, holdable};
pub use reservation::{Committed, Released, Reservation, ReservationError, Reserved};
pub(crate) use reservation::{Entry, Holds, State};
pub(crate) use rolling::Buckets;

/// How a meter is bounded and laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MeterConfig {
    /// The most counters (subject × limit, for the current window) held at once. Default
    /// 1,000,000: 240–270 MB with 12-byte keys, about 520 MB with keys of the longest length
    /// allowed by default (docs/runtime.md gives the measure).
    pub max_counters: usize,
    /// The longest subject key, in bytes, that may hold a counter; a longer one is refused
    /// with [`MeterError::KeyTooLong`]. Default 256.
    pub max_key_bytes: usize,
    /// Independent locks; subjects are spread over them by a hash of their key. Rounded up to
    /// a power of two (at most 2¹⁶), so the shard is a mask of the hash, not a division.
    /// Default 64.
    pub shards: usize,
    /// The most reservations ([`Meter::reserve`]) held or remembered at once; one more is
    /// refused with [`ReservationError::AtCapacity`]. Default 1,000,000.
    pub max_holds: usize,
    /// The longest lifetime of a hold, in seconds. Default 604,800 (a week).
    pub max_hold_seconds: u64,
    /// How long after its expiry a settled or expired reservation is remembered, in seconds,
    /// so that a commit or release sent again is recognised. Default 3,600.
    pub remember_seconds: u64,
    /// The most grants ([`Meter::grant`]) one subject holds on one limit; one more is refused
    /// with [`GrantError::AtCapacity`]. Default 64.
    pub max_grants: usize,
}

impl Default for MeterConfig {
    fn default() -> MeterConfig {
        MeterConfig {
            max_counters: 1_000_000,
            max_key_bytes: 256,
            shards: 64,
            max_holds: 1_000_000,
            max_grants: 64,
            max_hold_seconds: 604_800,
            remember_seconds: 3_600,
        }
    }
}

/// Why the meter could not record.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum MeterError {
    /// A new counter was needed and the meter holds [`MeterConfig::max_counters`] live ones.
    #[error("the meter holds its limit of {max} live counters; nothing was recorded")]
    AtCapacity {
        /// The configured limit.
        max: usize,
    },
    /// A new counter was needed for a subject key longer than [`MeterConfig::max_key_bytes`].
    #[error("the subject key is {len} bytes, longer than the meter's limit of {max}; nothing was recorded")]
    KeyTooLong {
        /// The key's length in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// [`Meter::try_consume_all`] was given a buffer shorter than its list of limits.
    #[error("the buffer holds {capacity} answers but {needed} limits were given; nothing was recorded")]
    BufferTooSmall {
        /// How many answers the call needed room for: the number of limits.
        needed: usize,
        /// How many the buffer holds.
        capacity: usize,
    },
}

/// The outcome of [`Meter::try_consume`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Consumed {
    /// The engine's answer for this request, given the usage recorded before it.
    pub quota: Quota,
    /// What was recorded: the amount when allowed, else 0.
    pub recorded: u64,
    /// The usage recorded in the window after this request.
    pub used: u64,
    /// Where the answer came from: always [`Source::Store`] for this meter (its own
    /// counters); a shared meter says when it answered without its store.
    pub source: Source,
    /// What of `recorded` the subject's grants paid ([`Meter::grant`]); `quota` and `used`
    /// are the plan's, without it.
    pub from_grants: u64,
    /// What the subject's grants live at the request's `now` hold after this request.
    pub grants_left: u64,
}

impl Consumed {
    /// An answer that spent no grant.
    pub(crate) const fn of(quota: Quota, recorded: u64, used: u64, source: Source) -> Consumed {
        Consumed { quota, recorded, used, source, from_grants: 0, grants_left: 0 }
    }
}

/// One counter: a subject's usage of one limit in one window (`None` for gauges and caps),
/// the holds on it ([`Meter::reserve`]) and its grants ([`Meter::grant`]), which outlive the
/// window; each boxed, as most counters have none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Counter {
    pub(crate) limit: Arc<str>,
    /// The window's start and end, or `(0, i64::MIN)` for none (gauges and caps): a window
    /// ends after it starts, so that pair is no window's. Unwrapped, the counter takes 8 bytes
    /// less than with an `Option`, which pays for `grants`.
    span: (i64, i64),
    pub(crate) used: u64,
    pub(crate) holds: Option<Box<Holds>>,
    pub(crate) grants: Option<Box<Grants>>,
    /// For a rolling limit, the buckets `used` is the sum of ([`rolling`]); its span is then
    /// theirs ([`Buckets::span`]).
    pub(crate) rolling: Option<Box<Buckets>>,
}

/// Where an answer puts a counter: a window that resets, or a rolling window of `length`
/// seconds at `now` ([`entitle::Quota::rolling`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Span {
    Reset(WindowSpan),
    Rolling { now: i64, length: i64 },
}

/// The span of a counter the answer `quota` reads; `None` for gauges and caps.
pub(crate) fn span_of(quota: &Quota) -> Option<Span> {
    let window = quota.window()?;
    Some(if quota.rolling() {
        Span::Rolling { now: window.end, length: window.end - window.start }
    } else {
        Span::Reset(window)
    })
}

impl Counter {
    /// A counter in `span` with `used` recorded (at the span's `now`, for a rolling one), and
    /// no holds or grants.
    pub(crate) fn new(limit: Arc<str>, span: Option<Span>, used: u64) -> Counter {
        let mut counter = Counter { limit, span: NO_WINDOW, used: 0, holds: None, grants: None, rolling: None };
        match span {
            Some(Span::Rolling { now, length }) => {
                counter.rolling = Some(Box::new(Buckets::holding(length, now, used)));
                counter.sync_rolling();
                return counter;
            }
            Some(Span::Reset(window)) => counter.set_window(Some(window)),
            None => {}
        }
        counter.used = used;
        counter
    }

    /// The counter's window; `None` for gauges and caps. A rolling counter's is its buckets'
    /// span: it ends when nothing it recorded counts any more.
    pub(crate) fn window(&self) -> Option<WindowSpan> {
        (self.span != NO_WINDOW).then(|| WindowSpan::new(self.span.0, self.span.1))
    }

    /// Moves the counter to `window`.
    pub(crate) fn set_window(&mut self, window: Option<WindowSpan>) {
        self.span = window.map_or(NO_WINDOW, |w| (w.start, w.end));
    }

    /// Records `amount` more at `now`. A rolling counter keeps what its buckets keep (all of
    /// it, unless `now` is more than a window behind its newest usage), so that its usage is
    /// always their sum.
    pub(crate) fn record(&mut self, now: i64, amount: u64) {
        let Some(buckets) = self.rolling.as_deref_mut() else {
            self.used = self.used.saturating_add(amount);
            return;
        };
        let (kept, moved) = buckets.record(now, amount);
        if moved {
            self.sync_rolling();
        } else {
            // Brought up to `now` already (the common call): the sum grows by what was kept.
            self.used = self.used.saturating_add(kept);
            let span = buckets.span();
            self.set_window(Some(span));
        }
    }

    /// Makes a rolling counter's usage and span its buckets' (the sum that counts at their
    /// instant, and when nothing in them counts any more); nothing for any other counter.
    pub(crate) fn sync_rolling(&mut self) {
        if let Some(buckets) = self.rolling.as_deref() {
            self.used = buckets.total();
            self.set_window(Some(buckets.span()));
        }
    }

    /// Takes back up to `amount` of what is recorded (the newest first, for a rolling
    /// counter); returns what was taken back.
    pub(crate) fn take_back(&mut self, amount: u64) -> u64 {
        let Some(buckets) = self.rolling.as_deref_mut() else {
            let back = amount.min(self.used);
            self.used -= back;
            return back;
        };
        let back = buckets.take_back(amount.min(self.used));
        // The newest bucket holding usage may be emptied, which ends the span sooner.
        self.sync_rolling();
        back
    }
}

/// The span of a counter with no window.
const NO_WINDOW: (i64, i64) = (0, i64::MIN);

/// Whether two keys (or limit names) are the same text. Keys and names are mostly 4 to 16
/// bytes; those compare as two overlapping words each, after the length, instead of through a
/// call to `memcmp`, which costs as much as the rest of the lookup.
#[inline]
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let u64_at = |s: &[u8], at: usize| s.get(at..at + 8).and_then(|w| w.try_into().ok()).map_or(0, u64::from_le_bytes);
    let u32_at = |s: &[u8], at: usize| s.get(at..at + 4).and_then(|w| w.try_into().ok()).map_or(0, u32::from_le_bytes);
    match n {
        8..=16 => u64_at(a, 0) == u64_at(b, 0) && u64_at(a, n - 8) == u64_at(b, n - 8),
        4..=7 => u32_at(a, 0) == u32_at(b, 0) && u32_at(a, n - 4) == u32_at(b, n - 4),
        _ => a == b,
    }
}

/// One subject's counters: one per limit it used, in that limit's current window.
#[derive(Debug)]
struct Subject {
    hash: u64,
    key: Box<str>,
    counters: Vec<Counter>,
}

/// One shard's subjects, found by the key's precomputed hash.
type Subjects = HashTable<Subject>;

/// When a shard's sweep could next drop something: a sweep before then looks at every
/// counter of the shard and frees none, so a full meter refusing new subjects does not sweep
/// for each of them, only once something can have ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Due {
    /// No window of the shard's counters ends before this (a bound: a counter that moved to
    /// a later window leaves it early, and the next sweep makes it exact).
    next_end: i64,
    /// Some gauge or cap may be back at 0.
    idle: bool,
}

impl Default for Due {
    fn default() -> Due {
        Due { next_end: i64::MAX, idle: false }
    }
}

impl Due {
    /// Takes in a counter that was made or changed.
    fn note(&mut self, counter: &Counter) {
        match counter.window() {
            Some(window) => self.next_end = self.next_end.min(window.end),
            None => self.idle |= counter.used == 0,
        }
        self.note_holds(counter);
    }

    /// Takes in a counter kept only for the holds it remembers or the grants it holds.
    fn note_holds(&mut self, counter: &Counter) {
        if let Some(holds) = &counter.holds {
            self.next_end = self.next_end.min(holds.due());
        }
        if let Some(grants) = &counter.grants {
            self.next_end = self.next_end.min(grants.due());
        }
    }

    /// Whether a sweep at `now` could drop anything.
    fn by(self, now: i64) -> bool {
        self.idle || self.next_end <= now
    }
}

/// One shard's subjects, and when sweeping them could next free a counter.
#[derive(Debug, Default)]
struct Table {
    subjects: Subjects,
    due: Due,
}

impl Table {
    /// Adds `counter` to the subject's counters, making the subject if it has none.
    fn insert(&mut self, hash: u64, key: &str, counter: Counter) {
        self.due.note(&counter);
        insert(&mut self.subjects, hash, key, counter);
    }
}

/// A shard's lock and table, alone on its cache lines: two threads on keys of neighbouring
/// shards would otherwise take turns owning one line (128 bytes: x86-64 fetches lines in
/// adjacent pairs).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard(Mutex<Table>);

impl Shard {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while a shard was locked cannot leave a counter half-updated (every update
        // is one assignment), so a poisoned lock is still sound to use.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The in-process meter. `Send + Sync`: share one behind an `Arc` (or a `static`).
#[derive(Debug)]
pub struct Meter {
    shards: Box<[Shard]>,
    counters: AtomicUsize,
    config: MeterConfig,
    /// Counters looked at by sweeps, in all: the measure of what sweeping costs.
    examined: AtomicUsize,
    /// The key hash's secret: SipHash-1-3 keyed from the operating system's randomness, a
    /// new key for every meter. Subject keys can be text a client picks (an API key, an
    /// e-mail address); with an unkeyed hash anyone can compute keys that all land in one
    /// shard and one probe chain, and make every call on them walk all of them.
    hasher: RandomState,
    /// Holds counted against [`MeterConfig::max_holds`], live or remembered.
    holds: AtomicUsize,
    /// The next reservation's id. It starts at a random number, so two meters' ids differ,
    /// and a restored snapshot moves it past every id the snapshot holds.
    next_id: AtomicU64,
}

impl Default for Meter {
    fn default() -> Meter {
        Meter::new()
    }
}

impl Meter {
    /// A meter with the default [`MeterConfig`].
    pub fn new() -> Meter {
        Meter::with_config(MeterConfig::default())
    }

    /// A meter with `config`.
    pub fn with_config(config: MeterConfig) -> Meter {
        let count = config.shards.clamp(1, 1 << 16).next_power_of_two();
        let shards = (0..count).map(|_| Shard::default()).collect();
        let hasher = RandomState::new();
        // Half the id space is left above the start, so ids never wrap.
        let next_id = AtomicU64::new(hasher.hash_one("reservations") >> 1);
        Meter {
            shards,
            counters: AtomicUsize::new(0),
            config,
            examined: AtomicUsize::new(0),
            hasher,
            holds: AtomicUsize::new(0),
            next_id,
        }
    }

    /// A subject key's hash, computed once per call and used twice: its high half picks the
    /// shard, and the shard's table probes with the whole of it.
    fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The shard of a key with this hash: from the hash's high half, which the table's own
    /// bucket choice (low bits) and tag (top seven bits) use least.
    fn shard_index(&self, hash: u64) -> usize {
        // The shard count is a power of two of at most 2¹⁶: the mask keeps 16 bits at most.
        usize::try_from(hash >> 32).unwrap_or(0) & (self.shards.len() - 1)
    }

    #[expect(clippy::indexing_slicing, reason = "`shard_index` is masked below the shard count, a power of two")]
    fn shard(&self, hash: u64) -> MutexGuard<'_, Table> {
        self.shards[self.shard_index(hash)].lock()
    }

    /// Decides `amount` more of `limit` for the request's subject (its key) against the
    /// engine, and records it only if allowed. Unknown tiers or limits, and limits the tier
    /// does not set, are the engine's denials and record nothing.
    ///
    /// For a limit that draws on a pool, `amount` is in the limit's own units and what is
    /// recorded is its cost, on the pool's counter ([`Engine::pool_terms`]): every limit that
    /// draws on a pool spends the one balance, and [`Consumed::recorded`] and
    /// [`Consumed::used`] are in the pool's units.
    pub fn try_consume(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        amount: u64,
    ) -> Result<Consumed, MeterError> {
        let (limit, amount) = engine.pool_terms(limit, amount);
        let ask = |used: u64, amount: u64| engine.check_limit(request, limit, Usage::used(used).requesting(amount));
        let check = |used: u64| ask(used, amount);
        let Some(name) = engine.limit_name(limit) else {
            return Ok(Consumed::of(check(0), 0, 0, Source::Store));
        };
        let key = request.key();
        let hash = self.hash(key);
        let mut guard = self.shard(hash);
        let table = &mut *guard;
        if let Some(counter) = find(&mut table.subjects, hash, key, name) {
            if counter.holds.is_some() {
                self.forget(counter.expire_holds(sweep_clock(request.now())));
            }
            // Live holds count as used for everyone but their own commit.
            let mut quota = check(counter.taken());
            if counter.advance_to(span_of(&quota)) {
                quota = check(counter.taken());
            }
            let mut from_grants = 0;
            if counter.grants.is_some() {
                let taken = counter.taken();
                (quota, from_grants) =
                    grants::decide(counter.grants.as_deref(), taken, quota, request.now(), amount, ask);
                counter.spend_grants(request.now(), from_grants);
            }
            let recorded = if quota.allowed { amount } else { 0 };
            counter.record(request.now(), recorded - from_grants);
            table.due.note(counter);
            let grants_left = counter.grants_left(request.now());
            return Ok(Consumed {
                from_grants,
                grants_left,
                ..Consumed::of(quota, recorded, counter.used, Source::Store)
            });
        }
        // No counter yet: one is made only when there is something to record.
        let quota = check(0);
        if !quota.allowed || amount == 0 {
            return Ok(Consumed::of(quota, 0, 0, Source::Store));
        }
        if key.len() > self.config.max_key_bytes {
            return Err(MeterError::KeyTooLong { len: key.len(), max: self.config.max_key_bytes });
        }
        self.make_room(sweep_clock(request.now()), table)?;
        let counter = Counter::new(Arc::from(name), span_of(&quota), amount);
        table.insert(hash, key, counter);
        Ok(Consumed::of(quota, amount, amount, Source::Store))
    }

    /// The answer `try_consume` would give, recording nothing.
    pub fn peek(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, amount: u64) -> Quota {
        let (limit, amount) = engine.pool_terms(limit, amount);
        let clock = sweep_clock(request.now());
        let ask = |used: u64, amount: u64| engine.check_limit(request, limit, Usage::used(used).requesting(amount));
        let Some(name) = engine.limit_name(limit) else { return ask(0, amount) };
        let window = span_of(&ask(0, amount));
        let key = request.key();
        let hash = self.hash(key);
        let mut guard = self.shard(hash);
        let Some(counter) = find(&mut guard.subjects, hash, key, name) else { return ask(0, amount) };
        // A counter of an ended window holds nothing that still counts, but its grants do.
        let taken = if behind(counter, window) {
            0
        } else {
            self.forget(counter.expire_holds(clock));
            // A rolling counter is brought up to the request: what aged out no longer counts.
            if matches!(window, Some(Span::Rolling { .. })) {
                counter.advance_to(window);
            }
            counter.taken()
        };
        let plan = ask(taken, amount);
        grants::decide(counter.grants.as_deref(), taken, plan, request.now(), amount, ask).0
    }

    /// The usage recorded for the request's subject in the request's window: the pool's, in
    /// its units, for a limit that draws on one.
    pub fn used(&self, engine: &Engine, request: &Request<'_>, limit: LimitId) -> u64 {
        self.in_window(engine, request, limit, |counter, _| counter.used).unwrap_or(0)
    }

    /// Gives back up to `amount` of the recorded usage in the request's window (a request
    /// that was counted and then failed). Returns what was given back.
    ///
    /// Only the request's own window gives back: once the subject has used the limit in a
    /// later window, a refund stamped in an earlier one gives back nothing (that window is
    /// over, and the later window's usage is not the refund's). The Redis meter keeps the
    /// same rule. For a limit that draws on a pool, `amount` is in the limit's own units, and
    /// what is given back (and returned) is its cost in the pool's, rounded down
    /// ([`Engine::pool_refund_terms`]); to give back a whole consumption exactly, refund its
    /// `recorded` cost on the pool. With grants, a refund gives back in the reverse of the
    /// order consumption spends: overage, then what the grants live at the request's `now`
    /// paid in this window, then the plan. A rolling limit gives back from the buckets that
    /// count at the request's `now`, newest first (`docs/runtime.md`, "Rolling windows").
    pub fn refund(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, amount: u64) -> u64 {
        let (limit, amount) = engine.pool_refund_terms(limit, amount);
        let plan = engine.check_limit(request, limit, Usage::default()).limit;
        self.in_window(engine, request, limit, |counter, window| {
            if earlier(window, counter) {
                return 0;
            }
            counter.give_back(plan, request.now(), amount)
        })
        .unwrap_or(0)
    }

    /// Runs `f` under the shard's lock on the subject's counter for `limit` (its pool's, for a
    /// limit that draws on one), with the request's window, if the counter's window has not
    /// ended before it (a counter of an older window holds nothing that still counts).
    fn in_window<R>(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        f: impl FnOnce(&mut Counter, Option<Span>) -> R,
    ) -> Option<R> {
        let (limit, _) = engine.pool_terms(limit, 0);
        let name = engine.limit_name(limit)?;
        let window = span_of(&engine.check_limit(request, limit, Usage::default()));
        let key = request.key();
        let hash = self.hash(key);
        let mut guard = self.shard(hash);
        let table = &mut *guard;
        let counter = find(&mut table.subjects, hash, key, name).filter(|counter| !behind(counter, window))?;
        counter.advance_to(window);
        let result = f(counter, window);
        table.due.note(counter);
        Some(result)
    }

    /// For a gauge (concurrent connections): raises the level by `amount` if the engine allows
    /// it, returning a guard that lowers it again when dropped; `Ok(Err(quota))` when the
    /// engine denies it.
    pub fn acquire<'m>(
        &'m self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        amount: u64,
    ) -> Result<Result<Held<'m>, Quota>, MeterError> {
        let (limit, amount) = engine.pool_terms(limit, amount);
        let consumed = self.try_consume(engine, request, limit, amount)?;
        if !consumed.quota.allowed {
            return Ok(Err(consumed.quota));
        }
        let name: Arc<str> = Arc::from(engine.limit_name(limit).unwrap_or_default());
        Ok(Ok(Held { meter: self, key: request.key().into(), limit: name, amount, quota: consumed.quota }))
    }

    /// Drops every counter whose window ended at or before `now`, and gauges and caps at 0.
    /// Returns how many were dropped. Call it now and then (once a minute, say); a meter at
    /// its capacity also sweeps the subject's shard before refusing a new counter.
    pub fn sweep(&self, now: i64) -> usize {
        self.shards.iter().map(|shard| self.sweep_shard(&mut shard.lock(), now)).sum()
    }

    fn sweep_shard(&self, table: &mut Table, now: i64) -> usize {
        let mut dropped = 0;
        let mut examined = 0;
        let mut forgotten = 0;
        let mut due = Due::default();
        table.subjects.retain(|subject| {
            let before = subject.counters.len();
            examined += before;
            subject.counters.iter_mut().for_each(|c| {
                c.end_holds_of_ended_window(now);
                forgotten += c.expire_holds(now);
                if let Some(grants) = c.grants.as_deref_mut() {
                    grants.expire(now);
                }
                if c.grants.as_ref().is_some_and(|g| g.entries().is_empty()) {
                    c.grants = None;
                }
            });
            subject.counters.retain(|c| {
                let keep = live(c, now);
                if !keep {
                    forgotten += c.holds.as_ref().map_or(0, |h| h.entries().len());
                }
                keep
            });
            // A counter kept only to remember holds (its window ended, or a gauge back at 0)
            // is due when they are, not at its window's end: noting that would make every
            // refusal at capacity sweep the shard again.
            subject.counters.iter().for_each(|c| if live_window(c, now) { due.note(c) } else { due.note_holds(c) });
            dropped += before - subject.counters.len();
            !subject.counters.is_empty()
        });
        table.due = due;
        self.forget(forgotten);
        self.counters.fetch_sub(dropped, Ordering::Relaxed);
        self.examined.fetch_add(examined, Ordering::Relaxed);
        dropped
    }

    /// How many counters the meter holds.
    pub fn counters(&self) -> usize {
        self.counters.load(Ordering::Relaxed)
    }

    /// Counts one more counter, or refuses. At capacity the shard is swept first, but only
    /// if something in it can have ended by `now`: refusing costs nothing more than that
    /// check, and a sweep is paid for by what it frees or by the counters that moved on.
    fn make_room(&self, now: i64, table: &mut Table) -> Result<(), MeterError> {
        let max = self.config.max_counters;
        if self.counters.fetch_add(1, Ordering::Relaxed) < max {
            return Ok(());
        }
        self.counters.fetch_sub(1, Ordering::Relaxed);
        if !table.due.by(now) {
            return Err(MeterError::AtCapacity { max });
        }
        self.sweep_shard(table, now);
        if self.counters.fetch_add(1, Ordering::Relaxed) < max {
            return Ok(());
        }
        self.counters.fetch_sub(1, Ordering::Relaxed);
        Err(MeterError::AtCapacity { max })
    }

    fn lower(&self, key: &str, limit: &str, amount: u64) {
        let hash = self.hash(key);
        let mut guard = self.shard(hash);
        let table = &mut *guard;
        if let Some(counter) = find(&mut table.subjects, hash, key, limit) {
            counter.take_back(amount);
            table.due.note(counter);
        }
    }

    /// Every counter, shard by shard (each shard consistent in itself).
    pub(crate) fn export(&self) -> Vec<(Box<str>, Counter)> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let table = shard.lock();
            for subject in table.subjects.iter() {
                out.extend(subject.counters.iter().map(|c| (subject.key.clone(), c.clone())));
            }
        }
        out
    }

    /// Replaces every counter with `entries`, which the caller has validated whole.
    /// `holds` are the counters' holds, each counter's sorted by id with no id twice, and
    /// [`MeterConfig::max_holds`] at most in all.
    pub(crate) fn import(&self, entries: Vec<(Box<str>, Counter, Vec<Entry>)>) -> Result<(), MeterError> {
        if entries.len() > self.config.max_counters {
            return Err(MeterError::AtCapacity { max: self.config.max_counters });
        }
        let max = self.config.max_key_bytes;
        if let Some((key, _, _)) = entries.iter().find(|(key, _, _)| key.len() > max) {
            return Err(MeterError::KeyTooLong { len: key.len(), max });
        }
        let holds: usize = entries.iter().map(|(_, _, holds)| holds.len()).sum();
        let next_id = entries.iter().flat_map(|(_, _, holds)| holds.iter().map(|e| e.id.saturating_add(1))).max();
        let mut fresh: Vec<Table> = (0..self.shards.len()).map(|_| Table::default()).collect();
        for (key, mut counter, entries) in entries {
            if !entries.is_empty() {
                counter.holds = Some(Box::new(Holds::from_entries(entries, &self.config)));
            }
            let hash = self.hash(&key);
            if let Some(shard) = fresh.get_mut(self.shard_index(hash)) {
                shard.insert(hash, &key, counter);
            }
        }
        let mut total = 0;
        let mut guards: Vec<_> = self.shards.iter().map(Shard::lock).collect();
        for (guard, shard) in guards.iter_mut().zip(fresh) {
            total += shard.subjects.iter().map(|s| s.counters.len()).sum::<usize>();
            **guard = shard;
        }
        self.counters.store(total, Ordering::Relaxed);
        self.holds.store(holds, Ordering::Relaxed);
        // Past every id of the snapshot, and far past: holds made after the snapshot was
        // taken were lost with the meter that made them, and their callers may still commit
        // them; a new hold must never be given one of their ids.
        if let Some(next_id) = next_id {
            self.next_id.fetch_max(next_id.saturating_add(1 << 32), Ordering::Relaxed);
        }
        Ok(())
    }

    /// The meter's configuration.
    pub fn config(&self) -> MeterConfig {
        self.config
    }

    /// Writes every counter to `path` atomically; see [`crate::snapshot`].
    pub fn snapshot_to(&self, path: impl AsRef<Path>) -> std::io::Result<usize> {
        crate::snapshot::write(self, path.as_ref())
    }

    /// Replaces every counter with those of the snapshot at `path`. A snapshot that is
    /// missing, corrupt, truncated or not a meter snapshot is refused and the meter is left
    /// as it was.
    pub fn restore_from(&self, path: impl AsRef<Path>) -> Result<usize, crate::snapshot::SnapshotError> {
        crate::snapshot::restore(self, path.as_ref())
    }
}

/// The instant a sweep to make room for a request may use: the request's `now`, but never
/// later than the system clock. A request stamped in the future (a client's clock, or a
/// hostile timestamp) would otherwise end windows that are still live and drop their
/// usage; a request stamped in the past sweeps less, which only keeps more.
pub(crate) fn sweep_clock(now: i64) -> i64 {
    now.min(system_clock())
}

/// The system clock in Unix seconds (`i64::MAX` if it cannot be read, so that it bounds
/// nothing).
pub(crate) fn system_clock() -> i64 {
    let system = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok();
    system.and_then(|since| i64::try_from(since.as_secs()).ok()).unwrap_or(i64::MAX)
}

/// The subject's counter for the limit named `name`; `hash` is the key's.
fn find<'s>(subjects: &'s mut Subjects, hash: u64, key: &str, name: &str) -> Option<&'s mut Counter> {
    let subject = subjects.find_mut(hash, |s| s.hash == hash && same(&s.key, key))?;
    subject.counters.iter_mut().find(|c| same(&c.limit, name))
}

/// Adds `counter` to the subject's counters, making the subject if it has none.
fn insert(subjects: &mut Subjects, hash: u64, key: &str, counter: Counter) {
    match subjects.find_mut(hash, |s| s.hash == hash && same(&s.key, key)) {
        Some(subject) => subject.counters.push(counter),
        None => {
            subjects.insert_unique(hash, Subject { hash, key: key.into(), counters: vec![counter] }, |s| s.hash);
        }
    }
}

/// Whether the counter's window ended before `span` starts: its usage no longer counts. A
/// rolling counter's has ended when nothing it recorded counts at the span's `now`.
fn behind(counter: &Counter, span: Option<Span>) -> bool {
    match (counter.window(), span) {
        (Some(held), Some(Span::Reset(asked))) => asked.start >= held.end,
        (Some(held), Some(Span::Rolling { now, .. })) => now >= held.end,
        _ => false,
    }
}

/// Whether `span` ended before the counter's window starts (a request whose clock is
/// behind the recorded window). A rolling window never has: a request behind the newest
/// usage is answered from the buckets that count at its own instant, as on Redis.
fn earlier(span: Option<Span>, counter: &Counter) -> bool {
    matches!((counter.window(), span), (Some(held), Some(Span::Reset(asked))) if asked.end <= held.start)
}

/// Moves the counter to `window`, the one the engine reports for a request; returns whether
/// its usage starts over at 0.
///
/// - A later window (the counter's ended): a new window, from 0.
/// - An earlier one (a request whose clock is behind): the counter stays in its live window
///   and the request counts there, the stricter choice, rather than refilling a past one.
/// - Another window over the same time (a reload changed the limit's period, or the
///   subject's billing anchor moved): the usage counted so far carries over into the new
///   window, which the sweep then keeps for as long as the new window lasts.
///
/// A rolling window never starts over: its buckets are brought up to the span's `now`, and
/// what aged out of them no longer counts. A counter that was not rolling, or rolled over
/// another length (a reload changed the limit), keeps what still counts at `now`, recorded at
/// `now` so that it counts for the whole new window (the stricter choice); one that was rolling
/// and is asked for a window that resets keeps its usage as any counter moving to another
/// window over the same time does.
fn advance(counter: &mut Counter, span: Option<Span>) -> bool {
    if let Some(Span::Rolling { now, length }) = span {
        match counter.rolling.as_deref_mut() {
            Some(buckets) if buckets.length() == length => {
                // Most calls count the buckets the last one did: `used` is still their sum.
                if !buckets.advance(now) {
                    return false;
                }
            }
            Some(old) => {
                // Another length: what the old buckets count at `now` carries over.
                old.advance(now);
                counter.rolling = Some(Box::new(Buckets::holding(length, now, old.total())));
            }
            None => {
                let live = if behind(counter, span) { 0 } else { counter.used };
                counter.rolling = Some(Box::new(Buckets::holding(length, now, live)));
            }
        }
        counter.sync_rolling();
        return false;
    }
    counter.rolling = None;
    let window = match span {
        Some(Span::Reset(window)) => Some(window),
        _ => None,
    };
    match (counter.window(), window) {
        _ if behind(counter, span) => {
            counter.set_window(window);
            counter.used = 0;
            true
        }
        _ if earlier(span, counter) => false,
        (held, asked) => {
            if held != asked {
                counter.set_window(asked);
            }
            false
        }
    }
}

/// Whether a sweep at `now` keeps the counter: its window is live (a gauge or cap: it holds
/// something), it still remembers a hold (expired at `now` already), or a grant of it holds
/// credit still to be spent.
fn live(counter: &Counter, now: i64) -> bool {
    counter.remembers() || live_window(counter, now) || counter.grants.as_ref().is_some_and(|g| g.keeps(now))
}

/// Whether the counter's window is live at `now` (a gauge or cap: it holds something).
fn live_window(counter: &Counter, now: i64) -> bool {
    match counter.window() {
        Some(window) => window.end > now,
        None => counter.used > 0,
    }
}

/// A gauge level held by [`Meter::acquire`]; dropping it releases the level.
#[derive(Debug)]
#[must_use = "the level is released when the guard is dropped"]
pub struct Held<'m> {
    meter: &'m Meter,
    key: Box<str>,
    limit: Arc<str>,
    amount: u64,
    /// The engine's answer when the level was acquired.
    pub quota: Quota,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.meter.lower(&self.key, &self.limit, self.amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_meter_refuses_new_subjects_without_sweeping_each_time() {
        let engine =
            Engine::from_source("p", "policy \"p\"\nlimit calls : count per day\ntier free { limit calls = 9 }\n")
                .unwrap();
        let (free, calls) = (engine.tier("free").unwrap(), engine.limit("calls").unwrap());
        let meter = Meter::with_config(MeterConfig { max_counters: 100, shards: 1, ..MeterConfig::default() });
        // Days behind the real clock, which bounds how far a sweep to make room may look.
        let now = sweep_clock(i64::MAX) - 3 * 86_400;
        for i in 0..100 {
            meter.try_consume(&engine, &Request::new(free, now).with_key(&format!("k{i}")), calls, 1).unwrap();
        }
        for i in 0..1_000 {
            let refused = meter.try_consume(&engine, &Request::new(free, now).with_key(&format!("new{i}")), calls, 1);
            assert_eq!(refused.unwrap_err(), MeterError::AtCapacity { max: 100 });
        }
        // Nothing had ended: no refusal needed to look at the 100 live counters.
        assert_eq!(meter.examined.load(Ordering::Relaxed), 0);

        // Once the day ends, one sweep frees the shard, and the shard is not swept again
        // until something more can end.
        let tomorrow = Request::new(free, now + 86_400);
        for i in 0..100 {
            meter.try_consume(&engine, &tomorrow.with_key(&format!("t{i}")), calls, 1).unwrap();
        }
        for i in 0..1_000 {
            assert!(meter.try_consume(&engine, &tomorrow.with_key(&format!("u{i}")), calls, 1).is_err());
        }
        assert_eq!(meter.examined.load(Ordering::Relaxed), 100, "{meter:?}");
    }

    #[test]
    fn a_counter_kept_for_its_holds_does_not_make_refusals_sweep() {
        let policy = "policy \"p\"\nlimit calls : count per day\nlimit sessions : count gauge\ntier free { limit calls = 9\n limit sessions = 2 }\n";
        let engine = Engine::from_source("p", policy).unwrap();
        let (free, calls, sessions) =
            (engine.tier("free").unwrap(), engine.limit("calls").unwrap(), engine.limit("sessions").unwrap());
        let meter = Meter::with_config(MeterConfig { max_counters: 2, shards: 1, ..MeterConfig::default() });
        let now = sweep_clock(i64::MAX) - 3 * 86_400;
        // A gauge hold released at once is remembered for an hour: its counter stays for it.
        let request = Request::new(free, now).with_key("kept");
        let job = meter.reserve(&engine, &request, sessions, 1, std::time::Duration::from_secs(60)).unwrap();
        meter.release(&engine, &request, &job.reservation.unwrap()).unwrap();
        meter.try_consume(&engine, &Request::new(free, now).with_key("other"), calls, 1).unwrap();
        assert_eq!(meter.sweep(now + 1), 0);
        let examined = meter.examined.load(Ordering::Relaxed);
        for i in 0..100 {
            let refused = meter.try_consume(&engine, &Request::new(free, now + 1).with_key(&format!("n{i}")), calls, 1);
            assert_eq!(refused.unwrap_err(), MeterError::AtCapacity { max: 2 });
        }
        // Before, each refusal swept the shard again while the counter was kept.
        assert_eq!(meter.examined.load(Ordering::Relaxed), examined);
    }

    /// The key hash the meter used before it was keyed: a fixed, invertible function.
    fn unkeyed(key: &str) -> u64 {
        let bytes = key.as_bytes();
        let mut h = 0xcbf2_9ce4_8422_2325 ^ bytes.len() as u64;
        let mut words = bytes.chunks_exact(8);
        for word in words.by_ref() {
            h = (h ^ u64::from_le_bytes(word.try_into().unwrap())).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(29);
        }
        let tail = words.remainder().iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        h = (h ^ tail).wrapping_mul(0x0000_0100_0000_01b3);
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }

    /// 16-byte ASCII keys that all share one unkeyed hash, found the way an attacker would:
    /// pick the first word, solve the second by running the function backwards, keep the
    /// solutions that are text.
    fn colliding_keys(count: usize) -> Vec<String> {
        const P: u64 = 0x0000_0100_0000_01b3;
        let inverse = (0..6).fold(P, |inv: u64, _| inv.wrapping_mul(2u64.wrapping_sub(P.wrapping_mul(inv))));
        let start = 0xcbf2_9ce4_8422_2325u64 ^ 16;
        // The state after both words that every key must reach (that of `collision-target`).
        let target = {
            let (a, b) = (u64::from_le_bytes(*b"collisio"), u64::from_le_bytes(*b"n-target"));
            ((start ^ a).wrapping_mul(P).rotate_left(29) ^ b).wrapping_mul(P).rotate_left(29)
        };
        let before_rotate = target.rotate_right(29).wrapping_mul(inverse);
        let mut keys = Vec::new();
        for n in 0u64.. {
            if keys.len() == count {
                break;
            }
            // Eight letters and digits from the counter's base-64 digits: every first word.
            let first = (0..8).fold(0u64, |word, at| word | (0x40 + (n >> (6 * at) & 0x3f)) << (8 * at));
            let second = before_rotate ^ (start ^ first).wrapping_mul(P).rotate_left(29);
            let text = [first.to_le_bytes(), second.to_le_bytes()].concat();
            if text.iter().all(|b| (0x20..0x7f).contains(b)) {
                keys.push(String::from_utf8(text).unwrap());
            }
        }
        keys
    }

    #[test]
    fn keys_built_to_collide_do_not_collide_in_the_meter() {
        let keys = colliding_keys(64);
        assert!(keys.iter().all(|k| unkeyed(k) == unkeyed("collision-target")), "the keys collide unkeyed");
        let meter = Meter::new();
        let mut hashes: Vec<u64> = keys.iter().map(|k| meter.hash(k)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), keys.len());
        // Seeded per meter: another meter hashes the same keys differently.
        let other = Meter::new();
        assert!(keys.iter().any(|k| other.hash(k) != meter.hash(k)));
    }

    #[test]
    fn same_text_compares_every_byte_at_every_length() {
        let text = "abcdefghijklmnopqrstuvwxyz0123456789";
        for n in 0..=text.len() {
            let a = &text[..n];
            let copy: String = a.chars().collect();
            assert!(same(a, &copy), "{a}");
            for at in 0..n {
                let mut other = a.as_bytes().to_vec();
                other[at] = b'_';
                assert!(!same(a, std::str::from_utf8(&other).unwrap()), "{a} differs at {at}");
            }
            assert!(!same(a, &text[..(n + 1).min(text.len())]) || n == text.len());
        }
    }

    #[test]
    fn key_hashes_spread_over_shards_and_differ_by_one_byte() {
        let meter = Meter::new();
        let hashes: Vec<u64> = (0..4_096).map(|i| meter.hash(&format!("customer-{i:05}"))).collect();
        let mut shards = [0u32; 64];
        hashes.iter().for_each(|h| shards[usize::try_from((h >> 32) % 64).unwrap()] += 1);
        // 64 per shard on average; a hash that ignored some input bytes would pile them up.
        assert!(shards.iter().all(|&n| (24..=110).contains(&n)), "{shards:?}");
        let mut sorted = hashes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), hashes.len());
    }
}
