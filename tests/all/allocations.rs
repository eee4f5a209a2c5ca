//! The hot path allocates nothing: proved with a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use entitle::{Context, Source, Subject};

use crate::golden::root;

/// Counts allocations per thread, so tests running in parallel do not see each other's.
pub struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// const-initialised thread local, which itself never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: forwarded with the caller's layout, per the trait's contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: forwarded unchanged, per the trait's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// How many allocations `f` makes on this thread.
fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn the_counter_sees_allocations() {
    assert!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 16]))) >= 1);
}

#[test]
fn queries_with_ids_and_by_name_allocate_nothing() {
    let text = std::fs::read_to_string(root().join("policies/rtc-sdk.policy")).expect("policy");
    let engine = entitle::compile(&entitle::check(&Source::new("rtc-sdk.policy", text)).expect("checks"));
    let id = |name: &str| engine.tier(name).expect("tier");
    let (pro, free) = (id("pro"), id("free"));
    let held = [engine.addon("ai_pack").expect("addon"), engine.addon("launch_promo").expect("addon")];
    let features =
        ["hd_video", "conversational_ai", "live_effects", "dedicated_csm"].map(|f| engine.feature(f).expect("feature"));
    let limits = ["api_calls_per_day", "ai_minutes", "concurrent_connections", "storage"]
        .map(|l| engine.limit(l).expect("limit"));
    let sla = engine.setting("sla_availability").expect("setting");
    let now = entitle::time::parse_instant("2026-11-21T10:00:00Z").expect("instant");
    let names = ["ai_pack", "launch_promo"];

    let count = allocations_in(|| {
        for tier in [pro, free] {
            let ctx = Context::new(tier, now).with_key("app-42").with_addons(&held).with_billing_anchor(31);
            for feature in features {
                std::hint::black_box(engine.is_allowed(&ctx, feature));
                std::hint::black_box(engine.decide(&ctx, feature));
            }
            for limit in limits {
                std::hint::black_box(engine.check_limit(&ctx, limit, 990_000, 20_000));
            }
            std::hint::black_box(engine.setting_value(&ctx, sla).ok());
        }
        let subject = Subject { tier: "pro", key: "app-42", addons: &names, billing_anchor: 15, now };
        std::hint::black_box(engine.decide_by_name(&subject, "conversational_ai"));
        std::hint::black_box(engine.decide_by_name(&subject, "no_such_feature"));
        std::hint::black_box(engine.check_limit_by_name(&subject, "ai_minutes", 5, 1));
        std::hint::black_box(engine.setting_by_name(&subject, "sla_availability").ok());
        std::hint::black_box(engine.tier("enterprise"));
    });
    assert_eq!(count, 0, "the query path allocated");
}
