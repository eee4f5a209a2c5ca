//! What a counter costs in memory, counted by a global allocator that tallies the bytes each
//! thread holds: a deterministic measure, unlike the resident size of the process.
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

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use entitle::{Engine, Request};
use entitle_runtime::meter::{Grant, Meter};

/// Tallies the bytes and the allocations live on each thread.
struct Counting;

thread_local! {
    static BYTES: Cell<isize> = const { Cell::new(0) };
    static BLOCKS: Cell<isize> = const { Cell::new(0) };
    /// Every allocation made, freed or not.
    static MADE: Cell<usize> = const { Cell::new(0) };
}

fn tally(bytes: usize, blocks: isize, sign: isize) {
    let bytes = isize::try_from(bytes).unwrap_or(isize::MAX);
    BYTES.with(|b| b.set(b.get() + sign * bytes));
    BLOCKS.with(|b| b.set(b.get() + sign * blocks));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the tallies are
// const-initialised thread locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        tally(layout.size(), 1, 1);
        MADE.with(|m| m.set(m.get() + 1));
        // SAFETY: forwarded with the caller's layout, per the trait's contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        tally(layout.size(), 1, -1);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        tally(layout.size(), 0, -1);
        tally(new_size, 0, 1);
        // SAFETY: forwarded unchanged, per the trait's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes and allocations held per counter by a meter of `subjects` subjects with keys of
/// `key_bytes` bytes, one counter each.
fn per_counter(subjects: usize, key_bytes: usize) -> (f64, f64) {
    let engine =
        Engine::from_source("p", "policy \"p\"\nlimit api_calls : count per day\ntier free { limit api_calls = 10 }\n")
            .unwrap();
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("api_calls").unwrap());
    let keys: Vec<String> = (0..subjects).map(|i| format!("{i:0>key_bytes$}")).collect();
    let (bytes, blocks) = (BYTES.with(Cell::get), BLOCKS.with(Cell::get));
    let meter = Meter::new();
    for key in &keys {
        meter.try_consume(&engine, &Request::new(free, 1_795_255_200).with_key(key), calls, 1).unwrap();
    }
    let held = (BYTES.with(Cell::get) - bytes, BLOCKS.with(Cell::get) - blocks);
    assert_eq!(meter.counters(), subjects);
    drop(meter);
    #[expect(clippy::cast_precision_loss, reason = "a figure to compare, well inside f64's exact range")]
    let per = |n: isize| n as f64 / subjects as f64;
    (per(held.0), per(held.1))
}

/// The figures docs/runtime.md states, in bytes the meter asks the allocator for (the
/// allocator's own overhead comes on top: about 16 bytes for each of the 3 allocations).
#[test]
fn a_counter_costs_what_the_docs_say() {
    // Between two growths of the shards' tables, the table's share of each counter varies by
    // two: these counts land on both ends with the default 64 shards.
    for subjects in [20_000, 30_000, 60_000, 100_000, 120_000] {
        let (bytes, allocations) = per_counter(subjects, 12);
        assert!((150.0..=220.0).contains(&bytes), "{subjects} subjects, 12-byte keys: {bytes} bytes");
        // One for the key, one for the subject's counters, one for the limit's name; the
        // tables' own allocations are shared by thousands of counters.
        assert!((3.0..3.01).contains(&allocations), "{allocations}");
        let (bytes, _) = per_counter(subjects, 256);
        assert!((390.0..=470.0).contains(&bytes), "{subjects} subjects, 256-byte keys: {bytes} bytes");
    }
}

#[test]
fn a_key_longer_than_the_meters_bound_is_refused_and_records_nothing() {
    let engine =
        Engine::from_source("p", "policy \"p\"\nlimit api_calls : count per day\ntier free { limit api_calls = 10 }\n")
            .unwrap();
    let (free, calls) = (engine.tier("free").unwrap(), engine.limit("api_calls").unwrap());
    let meter = Meter::new();
    let longest = "k".repeat(256);
    assert!(meter.try_consume(&engine, &Request::new(free, 1_795_255_200).with_key(&longest), calls, 1).is_ok());
    let too_long = "k".repeat(257);
    let refused = meter.try_consume(&engine, &Request::new(free, 1_795_255_200).with_key(&too_long), calls, 1);
    assert!(refused.is_err(), "{refused:?}");
    assert!(refused.unwrap_err().to_string().contains("257 bytes"));
    assert_eq!(meter.counters(), 1, "nothing was recorded");
}

/// The hot path of a pool paid by grants (the pool's terms, the plan's answer, the draw)
/// allocates nothing: a consumption that records into an existing counter only writes it.
#[test]
fn consuming_from_grants_allocates_nothing() {
    let engine = Engine::from_source(
        "p",
        "policy \"p\"\nlimit credits : count per month\nlimit images : count draws credits at 40\n\
         tier pro { limit credits = 100 }\n",
    )
    .unwrap();
    let (pro, credits, images) =
        (engine.tier("pro").unwrap(), engine.limit("credits").unwrap(), engine.limit("images").unwrap());
    let meter = Meter::new();
    let request = Request::new(pro, 1_795_255_200).with_key("acme");
    meter.grant(&engine, &request, credits, Grant::new("promo", 1_000).with_priority(1)).unwrap();
    meter.grant(&engine, &request, credits, Grant::new("prepaid", 1_000_000)).unwrap();
    meter.try_consume(&engine, &request, images, 3).unwrap();
    let before = MADE.with(Cell::get);
    for _ in 0..1_000 {
        let consumed = meter.try_consume(&engine, &request, images, 1).unwrap();
        assert!(consumed.quota.allowed && consumed.from_grants == 40);
    }
    assert_eq!(MADE.with(Cell::get) - before, 0, "allocations on the grants' path");
}

/// A rolling counter keeps its buckets in one block beside the counter, made with it: every
/// consumption after that, across buckets and past the window, only writes them, and the
/// counter holds the same blocks whatever it has recorded.
#[test]
fn a_rolling_counter_allocates_once_and_never_grows() {
    let engine = Engine::from_source(
        "p",
        "policy \"p\"\nlimit calls : count rolling 7 days\ntier pro { limit calls = 1_000_000_000 }\n",
    )
    .unwrap();
    let (pro, calls) = (engine.tier("pro").unwrap(), engine.limit("calls").unwrap());
    let meter = Meter::new();
    let start = 1_795_255_200;
    let blocks = BLOCKS.with(Cell::get);
    meter.try_consume(&engine, &Request::new(pro, start).with_key("acme"), calls, 1).unwrap();
    let made = BLOCKS.with(Cell::get) - blocks;
    let before = MADE.with(Cell::get);
    // A consumption every 17 minutes for four weeks: every bucket is written, many cleared.
    for step in 1..2_400 {
        let request = Request::new(pro, start + step * 1_020).with_key("acme");
        assert!(meter.try_consume(&engine, &request, calls, 1).unwrap().quota.allowed);
    }
    assert_eq!(MADE.with(Cell::get) - before, 0, "allocations after the counter was made");
    assert_eq!(BLOCKS.with(Cell::get) - blocks, made, "blocks held");
}
