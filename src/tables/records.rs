//! The records a limit query reads: what a tier sets for a limit, what an add-on does to it,
//! and when and how much of an add-on may be held.
//!
//! Amounts are plain `u64`s with [`UNLIMITED`] as the sentinel for "unlimited", so a query
//! compares and adds integers instead of matching enums; finite amounts end at
//! [`MAX_FINITE`], so no sum of finite amounts ever becomes "unlimited" by overflow. Each record
//! holds what the query needs precomputed (the ceiling usage may reach, the usage that warns),
//! and a bundle stores only what cannot be derived: [`LimitRecord::stored`] gives it and
//! [`LimitRecord::from_stored`] checks it and derives the rest.

use crate::model::{Amount, LimitKind, Percentage, Period, TrialLength, Window};

/// "Unlimited" in a record.
pub(crate) const UNLIMITED: u64 = u64::MAX;
/// The largest finite amount: sums and products of amounts saturate here.
pub(crate) const MAX_FINITE: u64 = u64::MAX - 1;
/// The warn share of a record with no `warn at`.
pub(crate) const NO_WARN: u32 = u32::MAX;

/// A record's value and soft cap are per seat.
pub(crate) const PER_SEAT: u32 = 1;
/// A record has a soft cap (its ceiling is the cap, or [`UNLIMITED`] for unbounded overage).
pub(crate) const SOFT: u32 = 2;
/// A record stands for a limit that draws on a pool: it holds no amounts, and a question
/// about its limit is asked of the pool ([`DrawRecord`]). Every tier's cell of such a limit
/// points at one, so the plain path finds it with the flag test it makes for per-seat values.
pub(crate) const DRAWS: u32 = 4;
/// Bits 8–31 of a record's flags: its limit's counter code ([`counter_code`]), so that one
/// read gives a plain answer all it needs. Records are shared only by limits of the same
/// window.
pub(crate) const COUNTER_SHIFT: u32 = 8;
/// The largest window unit in a counter code (`Window::Month as u32 + 1`).
const MAX_UNIT: u32 = 6;
/// The bits of a counter code that name the window's unit.
const UNIT_MASK: u32 = 0x7f;
/// Where a counter code keeps the window's length in units.
const EVERY_SHIFT: u32 = 8;
/// The bits of a counter code's length, after [`EVERY_SHIFT`]: enough for
/// [`Period::MAX_EVERY`].
const EVERY_MASK: u32 = 0x3fff;
/// The bit of a counter code that marks a rolling window (`rolling 7 days`).
pub(crate) const ROLLING: u32 = 1 << 22;

/// A limit's counter window as an answer keeps it: the unit as `Window as u32 + 1` in bits
/// 0–6, the number of units in bits 8–21 and [`ROLLING`] for a rolling window, or 0 for a
/// gauge or a cap. Bit 7 is left free for an answer's override flag.
pub(crate) const fn counter_code(kind: LimitKind) -> u32 {
    match kind {
        LimitKind::Counter(period) | LimitKind::Rolling(period) => {
            let rolling = if matches!(kind, LimitKind::Rolling(_)) { ROLLING } else { 0 };
            (period.unit as u32 + 1) | ((period.every as u32) << EVERY_SHIFT) | rolling
        }
        LimitKind::Gauge | LimitKind::Cap => 0,
    }
}

/// The window a counter code names, `None` for a gauge's or a cap's (the override bit and
/// anything past the length are ignored).
#[inline]
pub(crate) fn period_of(code: u32) -> Option<Period> {
    let unit = *Window::ALL.get(((code & UNIT_MASK) as usize).checked_sub(1)?)?;
    let every = u16::try_from(code >> EVERY_SHIFT & EVERY_MASK).ok()?;
    (every >= 1).then_some(Period { every, unit })
}

/// Whether `code` is one [`counter_code`] makes.
const fn valid_code(code: u32) -> bool {
    let (unit, every, rolling) = (code & 0xff, code >> EVERY_SHIFT & EVERY_MASK, code & ROLLING != 0);
    let rest = code & !(0xff | EVERY_MASK << EVERY_SHIFT | ROLLING);
    let counter = unit >= 1 && unit <= MAX_UNIT && every >= 1 && every <= Period::MAX_EVERY as u32;
    rest == 0 && ((unit == 0 && every == 0 && !rolling) || (counter && !(rolling && unit == MAX_UNIT)))
}

/// An amount as a record holds it.
pub(crate) const fn raw(amount: Amount) -> u64 {
    match amount {
        Amount::Finite(n) if n > MAX_FINITE => MAX_FINITE,
        Amount::Finite(n) => n,
        Amount::Unlimited => UNLIMITED,
    }
}

/// A record's amount as an answer shows it.
#[inline(always)]
pub(crate) const fn amount(raw: u64) -> Amount {
    if raw == UNLIMITED {
        Amount::Unlimited
    } else {
        Amount::Finite(raw)
    }
}

/// `a + b`, saturating at [`MAX_FINITE`]; unlimited if either is.
#[inline(always)]
pub(crate) const fn add(a: u64, b: u64) -> u64 {
    if a == UNLIMITED || b == UNLIMITED {
        UNLIMITED
    } else {
        let sum = a.saturating_add(b);
        if sum > MAX_FINITE {
            MAX_FINITE
        } else {
            sum
        }
    }
}

/// `amount × factor` (a quantity or a seat count), saturating at [`MAX_FINITE`]; unlimited
/// stays unlimited.
#[inline(always)]
pub(crate) const fn scale(amount: u64, factor: u64) -> u64 {
    if amount == UNLIMITED {
        UNLIMITED
    } else {
        let product = amount.saturating_mul(factor);
        if product > MAX_FINITE {
            MAX_FINITE
        } else {
            product
        }
    }
}

/// The least total usage that warns, for a limit of `value` and a warn share: with no share,
/// one past the limit (where overage or a deny answers first), so it never warns.
#[inline(always)]
pub(crate) fn warn_at(value: u64, warn: u32) -> u64 {
    if value == UNLIMITED {
        UNLIMITED
    } else if warn == NO_WARN {
        value + 1
    } else {
        Percentage::from_millionths(warn).of(value)
    }
}

/// What a tier sets for a limit, after inheritance. 32 bytes, aligned so that one never
/// straddles two cache lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(C, align(32))]
pub(crate) struct LimitRecord {
    /// The included amount (per seat under [`PER_SEAT`]).
    pub value: u64,
    /// The most usage may reach: the value for a hard limit, the soft cap (per seat under
    /// [`PER_SEAT`]) or [`UNLIMITED`] for unbounded overage.
    pub ceiling: u64,
    /// The least total usage that warns, for the value as stored ([`warn_at`]).
    pub warn_at: u64,
    /// The warn share in millionths, or [`NO_WARN`]; kept to recompute `warn_at` once seats
    /// or add-ons change the value.
    pub warn: u32,
    /// [`PER_SEAT`] and [`SOFT`].
    pub flags: u32,
}

impl LimitRecord {
    /// The placeholder for "not set": a hard limit of 0, which add-ons may still raise.
    pub(crate) const NOT_SET: LimitRecord = LimitRecord { value: 0, ceiling: 0, warn_at: 1, warn: NO_WARN, flags: 0 };

    /// The record of a tier's limit item: its value, soft cap, warn share, whether the value
    /// and cap are per seat, and its limit's counter code.
    pub(crate) fn new(
        value: Amount,
        soft: Option<Amount>,
        warn: Option<Percentage>,
        per_seat: bool,
        counter: u32,
    ) -> LimitRecord {
        let value = raw(value);
        let warn = warn.map_or(NO_WARN, Percentage::millionths);
        let flags = (u32::from(per_seat) * PER_SEAT) | (u32::from(soft.is_some()) * SOFT) | (counter << COUNTER_SHIFT);
        LimitRecord { value, ceiling: soft.map_or(value, raw), warn_at: warn_at(value, warn), warn, flags }
    }

    /// What a bundle stores of the record: value, ceiling, warn share and flags.
    pub(crate) const fn stored(&self) -> (u64, u64, u32, u32) {
        (self.value, self.ceiling, self.warn, self.flags)
    }

    /// The record a bundle stored, checked as the compiler would have built it: known flags,
    /// a warn share of at most 100%, a ceiling at or above the value (equal to it for a hard
    /// limit), and no per-seat unlimited value.
    pub(crate) fn from_stored(
        (value, ceiling, warn, flags): (u64, u64, u32, u32),
    ) -> Result<LimitRecord, &'static str> {
        if flags & 0xff & !(PER_SEAT | SOFT | DRAWS) != 0 || !valid_code(flags >> COUNTER_SHIFT) {
            return Err("a limit record has unknown flags");
        }
        if flags & DRAWS != 0 && (flags & 0xff != DRAWS || value != 0 || ceiling != 0 || warn != NO_WARN) {
            return Err("a drawing limit's record holds amounts");
        }
        if warn != NO_WARN && warn > Percentage::FULL.millionths() {
            return Err("a limit record warns past 100%");
        }
        if ceiling < value || (flags & SOFT == 0 && ceiling != value) {
            return Err("a limit record's ceiling is below its value, or differs from a hard limit's");
        }
        if flags & PER_SEAT != 0 && value == UNLIMITED {
            return Err("a limit record is unlimited per seat");
        }
        Ok(LimitRecord { value, ceiling, warn_at: warn_at(value, warn), warn, flags })
    }

    /// Its limit's counter code ([`counter_code`]).
    #[inline(always)]
    pub(crate) const fn counter(&self) -> u32 {
        self.flags >> COUNTER_SHIFT
    }

    /// Whether the value and soft cap are per seat.
    #[inline(always)]
    pub(crate) const fn per_seat(&self) -> bool {
        self.flags & PER_SEAT != 0
    }

    /// The record of a limit that draws on a pool, for a limit of this counter code. Its
    /// `warn_at` is `warn_at(0, NO_WARN)`, as a bundle's stored record reads back, so a
    /// compiled engine and its bundle hold the same record.
    pub(crate) const fn drawing(counter: u32) -> LimitRecord {
        LimitRecord { value: 0, ceiling: 0, warn_at: 1, warn: NO_WARN, flags: DRAWS | (counter << COUNTER_SHIFT) }
    }
}

/// What a limit that draws on a pool costs it, one per limit: [`DrawRecord::NONE`] for a limit
/// that draws on nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DrawRecord {
    /// The pool's index among the limits; `u32::MAX` for none.
    pub pool: u32,
    /// How much of the pool each `per` costs: at least 1 for a drawing limit.
    pub credits: u64,
    /// How many base units of the drawing limit the rate is for: at least 1.
    pub per: u64,
}

impl DrawRecord {
    /// The record of a limit that draws on nothing.
    pub(crate) const NONE: DrawRecord = DrawRecord { pool: u32::MAX, credits: 0, per: 0 };

    /// What `units` of the drawing limit cost the pool: `units × credits / per`, rounded up
    /// (a part of a `per` costs a whole rate, so the pool never gives away more than it holds),
    /// saturating at `u64::MAX`, which no limit but an unlimited one allows.
    #[inline]
    pub(crate) fn cost(&self, units: u64) -> u64 {
        // A product that fits in 64 bits (every realistic request) divides in one machine
        // instruction; only a larger one pays for the 128-bit division's call.
        match units.checked_mul(self.credits) {
            Some(exact) => exact.div_ceil(self.per.max(1)),
            None => {
                let exact = u128::from(units) * u128::from(self.credits);
                u64::try_from(exact.div_ceil(u128::from(self.per.max(1)))).unwrap_or(u64::MAX)
            }
        }
    }

    /// What `units` of the drawing limit give back to the pool: `units × credits / per`,
    /// rounded down, so that refunds of parts of a `per` never give back more than what was
    /// consumed cost.
    #[inline]
    pub(crate) fn cost_down(&self, units: u64) -> u64 {
        let exact = u128::from(units) * u128::from(self.credits);
        u64::try_from(exact / u128::from(self.per.max(1))).unwrap_or(u64::MAX)
    }

    /// How many units of the drawing limit `left` of the pool pays for: `left × per /
    /// credits`, rounded down; unlimited stays unlimited.
    #[inline]
    pub(crate) fn units(&self, left: Amount) -> Amount {
        match left {
            Amount::Unlimited => Amount::Unlimited,
            Amount::Finite(left) => {
                let units = u128::from(left) * u128::from(self.per) / u128::from(self.credits.max(1));
                Amount::Finite(u64::try_from(units).map_or(MAX_FINITE, |units| units.min(MAX_FINITE)))
            }
        }
    }
}

/// `=`: the limit is raised to at least [`DeltaRecord::at_least`].
pub(crate) const AT_LEAST: u64 = 1;
/// `+=`: [`DeltaRecord::add`] is added, once per quantity held.
pub(crate) const ADD: u64 = 2;
/// The `=` amount is per seat.
pub(crate) const AT_LEAST_PER_SEAT: u64 = 4;
/// The `+=` amount is per seat.
pub(crate) const ADD_PER_SEAT: u64 = 8;
/// Either amount is per seat.
pub(crate) const ANY_PER_SEAT: u64 = AT_LEAST_PER_SEAT | ADD_PER_SEAT;

/// What one add-on does to one limit: 24 bytes, all zero when it does nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct DeltaRecord {
    /// The `=` amount, under [`AT_LEAST`]; 0 otherwise.
    pub at_least: u64,
    /// The `+=` amount, under [`ADD`]; 0 otherwise.
    pub add: u64,
    /// [`AT_LEAST`], [`ADD`], [`AT_LEAST_PER_SEAT`], [`ADD_PER_SEAT`]; 0 for no effect.
    pub flags: u64,
}

impl DeltaRecord {
    /// The record a bundle stored, checked: known flags, a per-seat flag only beside its
    /// operator, no amount under a clear flag, and no per-seat unlimited amount.
    pub(crate) fn from_stored(at_least: u64, add: u64, flags: u64) -> Result<DeltaRecord, &'static str> {
        let known = AT_LEAST | ADD | ANY_PER_SEAT;
        let seat_without_op = (flags & AT_LEAST_PER_SEAT != 0 && flags & AT_LEAST == 0)
            || (flags & ADD_PER_SEAT != 0 && flags & ADD == 0);
        let stray = (flags & AT_LEAST == 0 && at_least != 0) || (flags & ADD == 0 && add != 0);
        let unlimited_per_seat = (flags & AT_LEAST_PER_SEAT != 0 && at_least == UNLIMITED)
            || (flags & ADD_PER_SEAT != 0 && add == UNLIMITED);
        if flags & !known != 0 || seat_without_op || stray || unlimited_per_seat {
            return Err("an add-on's limit record has inconsistent flags or amounts");
        }
        Ok(DeltaRecord { at_least, add, flags })
    }
}

/// A trial length as [`AddonMeta::trial`] holds it: 0 for none, seconds below bit 63, or
/// months in the low 32 bits with bit 63 set.
pub(crate) const TRIAL_MONTHS: u64 = 1 << 63;

/// When and how much of an add-on may be held: 32 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct AddonMeta {
    /// The first instant it applies; `i64::MIN` when open.
    pub from: i64,
    /// The first instant it no longer applies; `i64::MAX` when open (and then valid at
    /// `i64::MAX` itself).
    pub until: i64,
    /// The most a subject may hold; [`UNLIMITED`] for `max unlimited`.
    pub max_quantity: u64,
    /// The trial length ([`TRIAL_MONTHS`]); 0 when it is not a trial.
    pub trial: u64,
}

impl AddonMeta {
    /// An add-on valid at every instant, held at most once, not a trial.
    pub(crate) const OPEN: AddonMeta = AddonMeta { from: i64::MIN, until: i64::MAX, max_quantity: 1, trial: 0 };
    /// What an add-on the tables do not hold reads as: never valid, never held.
    pub(crate) const NONE: AddonMeta = AddonMeta { from: 0, until: 0, max_quantity: 0, trial: 0 };

    /// A trial length as stored.
    pub(crate) fn trial_code(trial: Option<TrialLength>) -> u64 {
        match trial {
            None => 0,
            Some(TrialLength::Seconds(s)) => s.min(i64::MAX.unsigned_abs()),
            Some(TrialLength::Months(m)) => TRIAL_MONTHS | u64::from(m),
        }
    }

    /// The trial length, if it is a trial.
    pub(crate) const fn trial(&self) -> Option<TrialLength> {
        if self.trial == 0 {
            None
        } else if self.trial & TRIAL_MONTHS != 0 {
            #[expect(clippy::cast_possible_truncation, reason = "months are stored in the low 32 bits")]
            Some(TrialLength::Months(self.trial as u32))
        } else {
            Some(TrialLength::Seconds(self.trial))
        }
    }

    /// The meta a bundle stored, checked: a window that is not empty, a maximum of at least 1,
    /// and a trial length the checker would accept.
    pub(crate) fn from_stored(from: i64, until: i64, max_quantity: u64, trial: u64) -> Result<AddonMeta, &'static str> {
        let months_ok = trial & TRIAL_MONTHS == 0
            || (trial & !TRIAL_MONTHS) <= u64::from(MAX_TRIAL_MONTHS) && trial != TRIAL_MONTHS;
        if from >= until || max_quantity == 0 || !months_ok {
            return Err("an add-on's validity, maximum quantity or trial length is out of range");
        }
        Ok(AddonMeta { from, until, max_quantity, trial })
    }
}

/// The longest trial in months the language accepts: 10,000 years.
pub(crate) const MAX_TRIAL_MONTHS: u32 = 120_000;
