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
//! - **An unreachable store** is never a panic: with [`FailureMode::Closed`] the call is an
//!   error (deny); with [`FailureMode::Open`] it is the engine's answer as if nothing had been
//!   used, recording nothing, and counted in the meter's fail-open count. A shared meter
//!   that gave up on a call makes sure it never counts, even if the store runs it late.

use entitle::{Engine, LimitId, Request};

use std::time::Duration;

use crate::meter::{Committed, Consumed, Meter, MeterError, Released, Reservation, ReservationError, Reserved};

/// What a meter does when its store cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FailureMode {
    /// Deny: the call returns [`StoreError::Unreachable`]. The default.
    #[default]
    Closed,
    /// Allow what the engine would allow with no usage, record nothing, and count it.
    Open,
}

/// Why a meter could not decide.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The meter is at its capacity of counters.
    #[error(transparent)]
    Meter(#[from] MeterError),
    /// The store could not be reached or answered with an error (with [`FailureMode::Closed`]).
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
