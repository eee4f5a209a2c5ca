//! The C ABI of `entitle`: the one contract every language other than Rust binds to.
//!
//! `include/entitle.h` is generated from this crate by cbindgen; `docs/bindings.md` shows how to
//! build and link it. Every exported function:
//!
//! - returns an [`entitle_status`] (or a plain value that cannot fail), and writes its
//!   out-parameters only when the status says an answer was given;
//! - checks every pointer for NULL, every string for UTF-8, and every length against
//!   `isize::MAX`, before touching memory;
//! - runs its whole body inside [`std::panic::catch_unwind`]: a panic becomes
//!   [`entitle_status::Panic`], or for a function that returns no status its fallback (NULL, 0
//!   or nothing), and never unwinds into C (a test in `status.rs` reads the source to hold
//!   every export to it);
//! - takes handles made by this library. An engine or override-set handle may be used from
//!   any number of threads at once; a request or error handle belongs to one thread at a time
//!   unless only read.
//!
//! This crate is the only one in the project that holds `unsafe`. Each `unsafe` block says
//! which part of the caller's contract makes it sound.

#![allow(unsafe_code, reason = "the C ABI reads caller memory through raw pointers; every use says why it is sound")]
#![allow(non_camel_case_types, reason = "C type names are lowercase with the `entitle_` prefix")]
#![cfg_attr(test, allow(clippy::panic, reason = "a test panics on purpose to see the guard catch it"))]

// cbindgen writes the header's declarations in the order it reads them: these modules are
// declared in the order of the header's sections, each apart so that rustfmt keeps it.
mod status;

mod types;

mod handles;

mod overrides;

mod names;

mod request;

mod queries;

mod batch;

mod draws;

mod errors;

use std::ffi::c_char;

use crate::status::guard_or;

pub use crate::batch::*;
pub use crate::draws::*;
pub use crate::errors::*;
pub use crate::handles::*;
pub use crate::names::*;
pub use crate::overrides::*;
pub use crate::queries::*;
pub use crate::request::*;
pub use crate::status::entitle_status;
pub use crate::types::*;

/// The library's version, as a static NUL-terminated string such as `"0.1.0"`; equal to the
/// header's `ENTITLE_VERSION` when the two match.
#[no_mangle]
pub extern "C" fn entitle_version() -> *const c_char {
    guard_or(std::ptr::null(), || concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
}

/// The ABI version the library implements; equal to the header's `ENTITLE_ABI_VERSION` when
/// the two match.
#[no_mangle]
pub extern "C" fn entitle_abi_version() -> u32 {
    // 0 is no ABI: what a panic, which returning a constant cannot raise, would report.
    guard_or(0, || ABI_VERSION)
}

/// Raised when what a call declares or does changes for callers built against an older
/// header; `docs/bindings.md` lists each version's changes.
pub const ABI_VERSION: u32 = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_the_crates() {
        // SAFETY: `entitle_version` returns a static NUL-terminated string.
        let version = unsafe { std::ffi::CStr::from_ptr(entitle_version()) };
        assert_eq!(version.to_str(), Ok(env!("CARGO_PKG_VERSION")));
        assert_eq!(entitle_abi_version(), ABI_VERSION);
    }
}
