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
//! - **Reservations** ([`UsageMeter::reserve`]) hold part of a limit for every caller until
//!   committed, released or expired, and each step is applied once (see
//!   [`crate::meter::Meter::reserve`]).
//! - **Denials record nothing**; unknown tiers and limits and limits a tier does not set are
//!   the engine's denials and never reach the store.
//! - **An unreachable store** is never a panic, and never a wait past the shared meter's
//!   timeout: each limit fails as its [`FailureMode`] says (with [`FailureMode::Closed`] the
//!   call is an error (deny); with [`FailureMode::Open`] it is the engine's answer as if
//!   nothing had been used, recording nothing; with [`FailureMode::LocalShare`] it is decided
//!   and recorded in the process, against its share of the ceiling), and every answer says
//!   where it came from ([`Consumed::source`]). A shared meter that gave up on a call makes
//!   sure it never counts, even if the store runs it late.

use entitle::{Engine, LimitId, Quota, Request};

use std::time::Duration;

use crate::meter::{
    Committed, Consumed, ConsumedAll, Meter, MeterError, Released, Reservation, ReservationError, Reserved,
};

/// What a meter does when its store cannot answer (unreachable, or not within the timeout).
///
/// A shared meter takes one for all limits and, optionally, one per limit name
/// (`RedisConfig::on_failure`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum FailureMode {
    /// Deny: the call returns [`StoreError::Unreachable`]. The default.
    #[default]
    Closed,
    /// Allow what the engine would allow with no usage, record nothing, and count it; the
    /// answer says [`Source::FailedOpen`].
    Open,
    /// Decide in the process, on an in-process [`Meter`] the shared meter keeps, against this
    /// process's share of the ceiling: the limit and the soft cap each divided by `processes`,
    /// rounded down (0 counts as 1), and the answer says [`Source::LocalShare`]. What the share
    /// admits is recorded there and never written to the store, even once it is back; its
    /// counters last as long as their windows, so every outage within one window draws on the
    /// same share. Declare at least as many processes as share the store: `processes` of them
    /// together admit at most the ceiling in a window without the store, on top of what the
    /// store counts (docs/runtime.md gives the bound). A refund the store cannot take gives back
    /// from the share what the share recorded in the request's window; when that is nothing,
    /// it is [`StoreError::Unreachable`], as in the other modes.
    LocalShare {
        /// How many processes share the store's counters.
        processes: u32,
    },
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
    /// The store could not answer, and the limit falls back on the process's share
    /// ([`FailureMode::LocalShare`]): decided and recorded in the process. The answer's
    /// [`Quota`] is the engine's against the share: its `limit`, `soft_cap`
    /// and `remaining` are the share's, and `used` is what the share has recorded.
    LocalShare,
    /// Answered in process from a share of the store's room this meter holds (a
    /// [`LeasedMeter`](crate::store::redis::LeasedMeter)'s lease): a normal answer within the
    /// lease mode's stated bound, not a degraded one.
    Lease,
}

impl Source {
    /// Whether the answer was made without the store's say: a failure mode's answer
    /// ([`Source::FailedOpen`], [`Source::LocalShare`]).
    pub const fn is_degraded(self) -> bool {
        matches!(self, Source::FailedOpen | Source::LocalShare)
    }

    /// A stable `snake_case` name, for logs and response headers: `store`, `failed_open`,
    /// `local_share`, `lease`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Store => "store",
            Source::FailedOpen => "failed_open",
            Source::LocalShare => "local_share",
            Source::Lease => "lease",
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
    /// error, and the limit fails closed ([`FailureMode::Closed`]); or a refund it could not
    /// take and, with [`FailureMode::LocalShare`], the share could not either.
    #[error("the usage store is unreachable: {0}")]
    Unreachable(String),
    /// The amount or the ceiling is more than the store counts exactly (2⁵³ on Redis). It
    /// says nothing about the store's health, so it is an error in every failure mode.
    #[error("the usage store cannot count this exactly: {0}")]
    TooLarge(String),
    /// A reservation step was refused (an unknown or settled reservation, a bad lifetime, a
    /// full store of holds); nothing was applied.
    #[error(transparent)]
    Reservation(#[from] ReservationError),
    /// A grant was refused (a bad grant, another one with its id, too many); nothing was
    /// granted.
    #[error(transparent)]
    Grant(#[from] crate::meter::GrantError),
}

/// A meter: in-process ([`Meter`]) or shared (`store::redis::RedisMeter`, with the feature
/// `redis`).
///
/// Every meter counts a limit that draws on a pool on the pool's counter: an amount of the
/// limit is taken, given back and held as its cost in the pool's units
/// ([`Engine::pool_terms`]), and what a call reports as recorded or used is in those units.
pub trait UsageMeter: Send + Sync {
    /// Decides `amount` more of `limit` for the request's subject and records it if allowed.
    fn try_consume(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        amount: u64,
    ) -> Result<Consumed, StoreError>;

    /// Decides one request against several limits, each `(limit, amount)`, and records every
    /// amount only if every limit allows it, nothing otherwise; the answers go to the start of
    /// `out` (see [`Meter::try_consume_all`] for the rules, which every meter keeps).
    fn try_consume_all<'o>(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limits: &[(LimitId, u64)],
        out: &'o mut [Quota],
    ) -> Result<ConsumedAll<'o>, StoreError>;

    /// Gives back up to `amount` of the request's window; returns what was given back.
    fn refund(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, amount: u64) -> Result<u64, StoreError>;

    /// Holds `estimate` of `limit` for `lifetime`, counted as used by every other call until
    /// it is committed, released or expires (see [`Meter::reserve`] for the rules).
    fn reserve(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        estimate: u64,
        lifetime: Duration,
    ) -> Result<Reserved, StoreError>;

    /// Records what the held work used; applied once however often it is sent.
    fn commit(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        reservation: &Reservation,
        actual: u64,
    ) -> Result<Committed, StoreError>;

    /// Frees a hold, recording nothing; applied once however often it is sent.
    fn release(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        reservation: &Reservation,
    ) -> Result<Released, StoreError>;
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

    fn try_consume_all<'o>(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limits: &[(LimitId, u64)],
        out: &'o mut [Quota],
    ) -> Result<ConsumedAll<'o>, StoreError> {
        Ok(Meter::try_consume_all(self, engine, request, limits, out)?)
    }

    fn refund(&self, engine: &Engine, request: &Request<'_>, limit: LimitId, amount: u64) -> Result<u64, StoreError> {
        Ok(Meter::refund(self, engine, request, limit, amount))
    }

    fn reserve(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        limit: LimitId,
        estimate: u64,
        lifetime: Duration,
    ) -> Result<Reserved, StoreError> {
        Ok(Meter::reserve(self, engine, request, limit, estimate, lifetime)?)
    }

    fn commit(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        reservation: &Reservation,
        actual: u64,
    ) -> Result<Committed, StoreError> {
        Ok(Meter::commit(self, engine, request, reservation, actual)?)
    }

    fn release(
        &self,
        engine: &Engine,
        request: &Request<'_>,
        reservation: &Reservation,
    ) -> Result<Released, StoreError> {
        Ok(Meter::release(self, engine, request, reservation)?)
    }
}

#[cfg(feature = "redis")]
pub mod redis;
