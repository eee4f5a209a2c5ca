//! The checks of a request's held add-ons that do not depend on the question: each is known,
//! none is listed twice, none is held past its maximum, every trial held has an acquisition
//! instant. They are noted while a query walks the list for its own purpose, so each query
//! walks it once, and reported in the documented order at the end.

use crate::engine::Reason;
use crate::held::{Holds, NOT_ACQUIRED};
use crate::tables::AddonMeta;

/// What one pass over the held add-ons found.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct HeldChecks {
    /// Each known add-on's position modulo 64: two on one mark may be the same one, which the
    /// exact (cold) check then decides.
    seen: u64,
    clash: bool,
    unknown: bool,
    over: bool,
    unacquired: bool,
}

impl HeldChecks {
    /// Notes held add-on `held`, at index `addon` of a policy of `addons` add-ons, whose meta
    /// (a never-held one for an unknown add-on) is `meta`.
    #[inline(always)]
    pub(super) fn note<H: Holds>(&mut self, held: H, addon: usize, addons: usize, meta: &AddonMeta) {
        self.unknown |= addon >= addons;
        let mark = 1u64 << (addon % 64);
        self.clash |= self.seen & mark != 0;
        self.seen |= mark;
        // A list of ids holds each once, which every maximum allows.
        if !H::PLAIN {
            self.over |= held.quantity() > meta.max_quantity;
        }
        let held_any = H::PLAIN || held.quantity() != 0;
        self.unacquired |= meta.trial != 0 && held_any && held.acquired() == NOT_ACQUIRED;
    }

    /// The first check that failed, in the order `docs/language.md` gives, for the list the
    /// notes were taken over.
    #[inline(always)]
    pub(super) fn verdict<H: Holds>(self, held: &[H]) -> Result<(), Reason> {
        if self.unknown {
            Err(Reason::UnknownAddon)
        } else if self.clash && held_twice(held) {
            Err(Reason::DuplicateAddon)
        } else if self.over {
            Err(Reason::QuantityAboveMax)
        } else if self.unacquired {
            Err(Reason::AcquisitionNotGiven)
        } else {
            Ok(())
        }
    }
}

/// Whether an add-on appears twice in `held`. Ids of one engine are equal exactly when they
/// name the same add-on (known ids; unknown ones are refused first). Requests hold a few
/// add-ons and at most `Limits::MAX_HELD_ADDONS` by name, so comparing each with those before
/// it costs less than any set would; a request built by id with thousands pays for its size.
// Out of line and cold: it is asked only when two add-ons share a mark, so the common request
// pays for the marks alone (inline, the check cost 30–44 instructions on a request of two
// add-ons, by callgrind).
#[cold]
#[inline(never)]
fn held_twice<H: Holds>(held: &[H]) -> bool {
    let mut rest = held;
    while let Some((first, tail)) = rest.split_first() {
        if tail.iter().any(|a| a.addon() == first.addon()) {
            return true;
        }
        rest = tail;
    }
    false
}
