//! A count of the steps that the passes over untrusted sizes take, so that tests can check
//! their growth without a clock: a doubled input must about double the count.
//!
//! The count is per thread (tests run side by side) and exists only in test builds and under
//! the hidden `fuzzing` feature; elsewhere [`step`] compiles to nothing.

#[cfg(any(test, feature = "fuzzing"))]
thread_local! {
    static STEPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Records `n` steps of work on this thread.
#[inline]
pub(crate) fn step(n: usize) {
    #[cfg(any(test, feature = "fuzzing"))]
    STEPS.with(|steps| steps.set(steps.get().saturating_add(u64::try_from(n).unwrap_or(u64::MAX))));
    #[cfg(not(any(test, feature = "fuzzing")))]
    let _ = n;
}

/// The steps recorded on this thread so far.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn steps() -> u64 {
    STEPS.with(std::cell::Cell::get)
}
