//! Running `entitle` inside a service: what the engine itself leaves out on purpose (it keeps
//! no state, reads no clock and does no I/O).
//!
//! - [`meter`]: a usage meter that decides against the engine and records only what it
//!   allows, atomically per subject, with windows that reset when the engine says; gauges
//!   with guards; snapshots to a file ([`snapshot`]).
//! - [`store`]: the contract every meter keeps, and (feature `redis`) a meter shared by many
//!   machines through Redis.
//! - [`reload`]: the live engine, replaced without a restart; readers never lock.
//!
//! Compiled bundles live in the engine crate itself (`entitle::bundle`), since every
//! language binding loads them too. `docs/runtime.md` shows all of it together.

#![forbid(unsafe_code)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::string_slice,
        reason = "a test fails loudly, with the value that broke it"
    )
)]

pub mod meter;
pub mod reload;
pub mod snapshot;
pub mod store;

// docs/runtime.md's examples run as doctests, so what a service author copies keeps working.
#[cfg(doctest)]
#[doc = include_str!("../../docs/runtime.md")]
struct RuntimeDoctests;
