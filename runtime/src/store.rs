//! The contract every meter keeps, in-process or shared, and the shared one on Redis.
//!
//! A [`UsageMeter`] decides a request against the engine and records it in one atomic step
//! per counter, where a counter is one subject's usage of one limit in one window:
//!
//! - **Atomicity**: for one counter, the check of `used + amount` against the ceiling (the
//!   soft cap, or the limit for a hard one) and the recording happen as one step; concurrent
//!   requests, from threads or machines, can never together pass the ceiling, and the
//!   recorded total is exactly the sum of what was allowed.
//! - **Windows**: a counter belongs to the window the engine reports for the request
//!   ([`entitle::Quota::window`]); a new window is a new counter starting at 0. Gauges and
//!   caps have one counter with no window.
//! - **Expiry**: a window's counter is dropped after the window ends (in-process by
//!   [`crate::meter::Meter::sweep`], on Redis by the key's expiry, a minute after the end).
//! - **Denials record nothing**; unknown tiers and limits and limits a tier does not set are
//!   the engine's denials and never reach the store.
//! - **An unreachable store** is never a panic: with [`FailureMode::Closed`] the call is an
//!   error (deny); with [`FailureMode::Open`] it is the engine's answer as if nothing had been
//!   used, recording nothing, and counted in the meter's fail-open count. Every answer says
//!   where it came from ([`Consumed::source`]). A shared meter that gave up on a call makes
//!   sure it never counts, even if the store runs it late.

use entitle::{Engine, LimitId, Request};

use crate::meter::{Consumed, Meter, MeterError};

/// What a meter does when its store cannot answer (unreachable, or not within the timeout).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum FailureMode {
    /// Deny: the call returns [`StoreError::Unreachable`]. The default.
    #[default]
    Closed,
    /// Allow what the engine would allow with no usage, record nothing, and count it; the
    /// answer says [`Source::FailedOpen`].
    Open,
}

/// Where a meter's answer came from: a service tells a degraded answer from a normal one by
/// it ([`Source::is_degraded`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// The meter's own counters: the in-process meter's table (always, for [`Meter`]), or the
    /// shared store (Redis) for a shared meter; or the engine alone, when it denies before any
    /// usage counts. The normal answer.
    Store,
    /// The store could not answer, and the limit fails open ([`FailureMode::Open`]): the
    /// engine's answer as if nothing had been used; nothing was recorded.
    FailedOpen,
}

impl Source {
    /// Whether the answer was made without the store (anything but [`Source::Store`]).
    pub const fn is_degraded(self) -> bool {
        !matches!(self, Source::Store)
    }

    /// A stable `snake_case` name, for logs and response headers: `store`, `failed_open`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Store => "store",
            Source::FailedOpen => "failed_open",
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a meter could not decide.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The meter is at its capacity of counters.
    #[error(transparent)]
    Meter(#[from] MeterError),
    /// The store could not be reached, did not answer within the timeout, or answered with an
    /// error (with [`FailureMode::Closed`], and for refunds).
    #[error("the usage store is unreachable: {0}")]
    Unreachable(String),
    /// The amount or the ceiling is more than the store counts exactly (2⁵³ on Redis). It
    /// says nothing about the store's health, so it is an error in every failure mode.
    #[error("the usage store cannot count this exactly: {0}")]
    TooLarge(String),
}

/// A meter: in-process ([`Meter`]) or shared (`store::redis::RedisMeter`, with the feature
/// `redis`).
pub trait UsageMeter: Send + Sync {
    /// Decides `amount` more of `limit` for the request's subject and records it if allowed.
    fn try_consume(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        amount: u64,
    ) -> Result<Consumed, StoreError>;

    /// Gives back up to `amount` of the request's window; returns what was given back.
    fn refund(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, amount: u64) -> Result<u64, StoreError>;
}

impl UsageMeter for Meter {
    fn try_consume(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        amount: u64,
    ) -> Result<Consumed, StoreError> {
        Ok(Meter::try_consume(self, engine, request, limit, amount)?)
    }

    fn refund(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, amount: u64) -> Result<u64, StoreError> {
        Ok(Meter::refund(self, engine, request, limit, amount))
    }
}

#[cfg(feature = "redis")]
pub mod redis;
