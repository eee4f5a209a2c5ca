//! What a subject holds on top of its tier: add-ons, each with a quantity and, for a trial,
//! the instant it was acquired.
//!
//! A request gives its add-ons in one of two forms: a plain list ([`crate::Request::with_addons`],
//! each held once and acquired at no particular instant) or a list of [`Held`]
//! ([`crate::Request::with_held`]). [`Holding`] keeps either without copying it, and [`Holds`]
//! lets every evaluation loop be written once and compiled for both, so the plain list pays
//! nothing for quantities it does not have.

use std::time::SystemTime;

use crate::ids::AddonId;

/// The instant a held add-on records when none was given. No query instant is this (JSON and
/// the bindings refuse it), so it cannot be mistaken for a real acquisition.
pub(crate) const NOT_ACQUIRED: i64 = i64::MIN;

/// One add-on a subject holds: which, how many, and since when.
///
/// ```
/// use entitle::{Engine, Held, Reason, Request, Usage};
/// let engine = Engine::from_source("p", "policy \"p\"\nlimit storage : bytes\ntier pro { limit storage = 10 GiB }\naddon pack for pro { limit storage += 50 GiB }\n")?;
/// let (pack, storage) = (engine.addon("pack").unwrap(), engine.limit("storage").unwrap());
/// let pro = Request::new(engine.tier("pro").unwrap(), 0);
/// // `pack` declares no maximum, so it may be held once: a quantity of 3 is refused, not clamped.
/// let three = [Held::new(pack).with_quantity(3)];
/// assert_eq!(engine.check_limit(&pro.with_held(&three), storage, Usage::used(0)).reason, Reason::QuantityAboveMax);
/// // A quantity of 0 holds nothing.
/// let none = [Held::new(pack).with_quantity(0)];
/// assert_eq!(engine.check_limit(&pro.with_held(&none), storage, Usage::used(0)).limit, entitle::Amount::Finite(10 << 30));
/// # Ok::<(), entitle::Diagnostics>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use]
pub struct Held<Addon = AddonId> {
    addon: Addon,
    quantity: u64,
    acquired: i64,
}

impl<Addon: Copy> Held<Addon> {
    /// One of `addon`, acquired at no particular instant.
    pub const fn new(addon: Addon) -> Held<Addon> {
        Held { addon, quantity: 1, acquired: NOT_ACQUIRED }
    }

    /// The same add-on, held `quantity` times. A quantity of 0 holds nothing: the add-on is
    /// still checked (known, listed once) but applies nowhere.
    pub const fn with_quantity(mut self, quantity: u64) -> Held<Addon> {
        self.quantity = quantity;
        self
    }

    /// The same add-on, acquired at `instant` (Unix seconds, UTC): where a trial's length is
    /// counted from. `i64::MIN` means "not given", as if this were never called.
    pub const fn acquired_at(mut self, instant: i64) -> Held<Addon> {
        self.acquired = instant;
        self
    }

    /// [`Held::acquired_at`] from a [`SystemTime`], rounded as [`crate::Request::at_time`]
    /// rounds.
    pub fn acquired_at_time(self, time: SystemTime) -> Held<Addon> {
        self.acquired_at(crate::time::unix_seconds(time))
    }

    /// The add-on.
    pub const fn addon(&self) -> Addon {
        self.addon
    }

    /// How many are held.
    pub const fn quantity(&self) -> u64 {
        self.quantity
    }

    /// When it was acquired, if the request says.
    pub const fn acquired(&self) -> Option<i64> {
        if self.acquired == NOT_ACQUIRED {
            None
        } else {
            Some(self.acquired)
        }
    }
}

/// A request's add-ons in the form the caller gave them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Holding<'a, Addon> {
    /// Each held once, acquired at no particular instant.
    Ids(&'a [Addon]),
    /// Each with its quantity and acquisition.
    Held(&'a [Held<Addon>]),
}

impl<'a, Addon: Copy> Holding<'a, Addon> {
    /// How many add-ons are listed (a quantity of 0 included).
    #[inline(always)]
    pub(crate) const fn len(&self) -> usize {
        match self {
            Holding::Ids(ids) => ids.len(),
            Holding::Held(held) => held.len(),
        }
    }

    /// Whether none is listed.
    #[inline(always)]
    pub(crate) const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every listed add-on as a [`Held`], in order.
    pub(crate) fn iter(&self) -> HeldIter<'a, Addon> {
        HeldIter { holding: *self, at: 0 }
    }
}

/// The add-ons of a request, each as a [`Held`]: what [`crate::Request::held`] gives.
#[derive(Clone, Debug)]
pub struct HeldIter<'a, Addon = AddonId> {
    holding: Holding<'a, Addon>,
    at: usize,
}

impl<Addon: Copy> Iterator for HeldIter<'_, Addon> {
    type Item = Held<Addon>;

    fn next(&mut self) -> Option<Held<Addon>> {
        let item = match self.holding {
            Holding::Ids(ids) => ids.get(self.at).map(|&addon| Held::new(addon)),
            Holding::Held(held) => held.get(self.at).copied(),
        }?;
        self.at = self.at.saturating_add(1);
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.holding.len().saturating_sub(self.at);
        (left, Some(left))
    }
}

impl<Addon: Copy> ExactSizeIterator for HeldIter<'_, Addon> {}

/// One element of either form of [`Holding`], read the same way, so that each evaluation loop
/// is written once over `&[H]` and compiled for both forms.
pub(crate) trait Holds: Copy {
    /// Whether every element is held once and acquired at no instant (a list of ids), so
    /// that quantities need no check and no arithmetic.
    const PLAIN: bool;
    /// The add-on.
    fn addon(self) -> AddonId;
    /// How many are held.
    fn quantity(self) -> u64;
    /// When it was acquired; [`NOT_ACQUIRED`] when not given.
    fn acquired(self) -> i64;
}

impl Holds for AddonId {
    const PLAIN: bool = true;
    #[inline(always)]
    fn addon(self) -> AddonId {
        self
    }
    #[inline(always)]
    fn quantity(self) -> u64 {
        1
    }
    #[inline(always)]
    fn acquired(self) -> i64 {
        NOT_ACQUIRED
    }
}

impl Holds for Held<AddonId> {
    const PLAIN: bool = false;
    #[inline(always)]
    fn addon(self) -> AddonId {
        self.addon
    }
    #[inline(always)]
    fn quantity(self) -> u64 {
        self.quantity
    }
    #[inline(always)]
    fn acquired(self) -> i64 {
        self.acquired
    }
}

/// Runs `$body` with `$list` bound to the request's add-ons as a slice of whichever form it
/// holds: the body is compiled once per form, so each loop is specialized, with one match.
macro_rules! with_holding {
    ($holding:expr, |$list:ident| $body:expr) => {
        match $holding {
            $crate::held::Holding::Ids($list) => $body,
            $crate::held::Holding::Held($list) => $body,
        }
    };
}
pub(crate) use with_holding;
