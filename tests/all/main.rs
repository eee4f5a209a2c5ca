//! The one integration test binary: every data-driven suite runs from here.
//!
//! Golden files are compared byte for byte; run with `ENTITLE_BLESS=1` to rewrite them from
//! the current output after checking that the change is intended.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "a test fails loudly, with the value that broke it"
)]
// The counting allocator must implement `GlobalAlloc`, an unsafe trait.
#![allow(unsafe_code, reason = "the counting allocator forwards to the system allocator")]

mod allocations;
mod api;
mod bundles;
mod cases;
mod diagnostics;
mod format;
mod fuzz_replay;
mod golden;
mod hostile;
mod layers;
mod overrides;
mod parser;
mod plan;
mod policies;
mod robustness;
mod scale;
mod source_scan;
mod surface;

#[global_allocator]
static ALLOCATOR: allocations::CountingAllocator = allocations::CountingAllocator;
