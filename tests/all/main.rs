//! The one integration test binary: every data-driven suite runs from here.
//!
//! Golden files are compared byte for byte; run with `ENTITLE_BLESS=1` to rewrite them from
//! the current output after checking that the change is intended.

mod allocations;
mod cases;
mod cli;
mod diagnostics;
mod golden;
mod policies;
mod robustness;
mod scale;

#[global_allocator]
static ALLOCATOR: allocations::CountingAllocator = allocations::CountingAllocator;
