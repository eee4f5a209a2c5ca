//! The hot path allocates nothing: proved with a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use entitle::{Decision, Engine, Held, Quota, Request, Usage};

use crate::golden::root;

/// Counts allocations per thread, so tests running in parallel do not see each other's.
pub struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static REQUESTED: Cell<u64> = const { Cell::new(0) };
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

/// Records `size` more live bytes on this thread, raising the peak if it passes it.
fn grow(size: usize) {
    REQUESTED.with(|requested| requested.set(requested.get().saturating_add(size as u64)));
    let live = LIVE.with(|live| {
        live.set(live.get().saturating_add(size));
        live.get()
    });
    PEAK.with(|peak| peak.set(peak.get().max(live)));
}

/// Records `size` fewer live bytes (memory freed on another thread than it was allocated on
/// is not tracked back, which only ever lowers this thread's figure).
fn shrink(size: usize) {
    LIVE.with(|live| live.set(live.get().saturating_sub(size)));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// const-initialised thread local, which itself never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        grow(layout.size());
        // SAFETY: forwarded with the caller's layout, per the trait's contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrink(layout.size());
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        shrink(layout.size());
        grow(new_size);
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

/// How many allocations `f` makes on this thread, and how many bytes they ask for in all
/// (a reallocation counts its new size): a deterministic measure of the work `f` does.
pub fn allocations_and_bytes_in<R>(f: impl FnOnce() -> R) -> (u64, u64) {
    let (count, bytes) = (ALLOCATIONS.with(Cell::get), REQUESTED.with(Cell::get));
    drop(std::hint::black_box(f()));
    ((ALLOCATIONS.with(Cell::get) - count) as u64, REQUESTED.with(Cell::get) - bytes)
}

/// The most memory `f` held at once on this thread, above what was live before it: its peak.
pub fn peak_bytes_in<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(before));
    let result = f();
    (PEAK.with(Cell::get).saturating_sub(before), result)
}

#[test]
fn the_counter_sees_allocations() {
    assert!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 16]))) >= 1);
}

#[test]
fn queries_with_ids_and_by_name_allocate_nothing() {
    let engine = Engine::from_path(root().join("policies/rtc-sdk.policy")).expect("checks");
    let id = |name: &str| engine.tier(name).expect("tier");
    let (pro, free) = (id("pro"), id("free"));
    let held = [engine.addon("ai_pack").expect("addon"), engine.addon("launch_promo").expect("addon")];
    let features =
        ["hd_video", "conversational_ai", "live_effects", "dedicated_csm"].map(|f| engine.feature(f).expect("feature"));
    let limits = ["api_calls_per_day", "ai_minutes", "concurrent_connections", "storage"]
        .map(|l| engine.limit(l).expect("limit"));
    let sla = engine.setting("sla_availability").expect("setting");
    let now = entitle::parse_instant("2026-11-21T10:00:00Z").expect("instant");
    let names = ["ai_pack", "launch_promo"];
    let usage = Usage::used(990_000).requesting(20_000);

    // The same add-ons held in quantity, a trial acquired a day before, and a seat count: the
    // second form of a request, and the per-seat and trial paths.
    let in_quantity = [
        Held::new(engine.addon("storage_pack").expect("addon")).with_quantity(3),
        Held::new(engine.addon("pro_trial").expect("addon")).acquired_at(now - 86_400),
        Held::new(held[0]).with_quantity(1),
    ];
    let team = id("team");
    let count = allocations_in(|| {
        let plain = [pro, free].map(|tier| Request::new(tier, now).with_key("app-42").with_addons(&held));
        let seated = [pro, free, team].map(|tier| Request::new(tier, now).with_held(&in_quantity).with_seats(25));
        for request in plain.iter().chain(&seated) {
            let request = request.with_billing_anchor(31);
            for feature in features {
                std::hint::black_box(engine.is_allowed(&request, feature));
                let _ = std::hint::black_box(engine.decide(&request, feature));
            }
            for limit in limits {
                let _ = std::hint::black_box(engine.check_limit(&request, limit, usage));
            }
            std::hint::black_box(engine.setting_value(&request, sla).ok());
            let mut allowed = [false; 4];
            std::hint::black_box(engine.is_allowed_many(&request, &features, &mut allowed).is_ok());
            let mut decisions = [Decision::default(); 4];
            std::hint::black_box(engine.decide_many(&request, &features, &mut decisions).is_ok());
            let mut quotas = [Quota::default(); 4];
            let questions = limits.map(|limit| (limit, usage));
            std::hint::black_box(engine.check_limit_many(&request, &questions, &mut quotas).is_ok());
            if let Ok(prepared) = engine.prepare(&request) {
                for limit in limits {
                    let _ = std::hint::black_box(engine.check_limit_prepared(&prepared, limit, usage));
                }
            }
        }
        let named_held = [Held::new("storage_pack").with_quantity(2), Held::new("ai_pack")];
        let named = Request::new("team", now).with_held(&named_held).with_seats(3);
        let _ = std::hint::black_box(engine.check_limit_by_name(&named, "storage", Usage::used(5).requesting(1)));
        let named = Request::new("pro", now).with_key("app-42").with_addons(&names).with_billing_anchor(15);
        let _ = std::hint::black_box(engine.decide_by_name(&named, "conversational_ai"));
        let _ = std::hint::black_box(engine.decide_by_name(&named, "no_such_feature"));
        let _ = std::hint::black_box(engine.check_limit_by_name(&named, "ai_minutes", Usage::used(5).requesting(1)));
        std::hint::black_box(engine.setting_value_by_name(&named, "sla_availability").ok());
        std::hint::black_box(engine.tier("enterprise"));
        // Cloning an engine shares its tables.
        std::hint::black_box(engine.clone());
    });
    assert_eq!(count, 0, "the query path allocated");
}

#[test]
fn queries_with_overrides_allocate_nothing() {
    let engine = Engine::from_path(root().join("policies/rtc-sdk.policy")).expect("checks");
    let text = r#"{"subject":"acme","feature":"dedicated_csm","op":"grant","reason":"pilot"}
{"subject":"acme","feature":"hd_video","op":"revoke"}
{"subject":"acme","limit":"api_calls_per_day","op":"=","value":"2_000_000","until":"2027-03-01T00:00:00Z"}
{"subject":"acme","limit":"ai_minutes","op":"+=","value":500}
{"subject":"acme","setting":"sla_availability","op":"=","value":"99.99%"}"#;
    let overrides = entitle::Overrides::from_jsonl(&engine, "o.jsonl", text).expect("checks");
    let pro = engine.tier("pro").expect("tier");
    let features = ["hd_video", "dedicated_csm", "live_effects"].map(|f| engine.feature(f).expect("feature"));
    let limits = ["api_calls_per_day", "ai_minutes", "storage"].map(|l| engine.limit(l).expect("limit"));
    let sla = engine.setting("sla_availability").expect("setting");
    let held = [engine.addon("ai_pack").expect("addon")];
    let now = entitle::parse_instant("2026-11-21T10:00:00Z").expect("instant");
    let usage = Usage::used(990_000).requesting(20_000);
    let count = allocations_in(|| {
        // The lookup by key happens here, in the count, as it does on a service's hot path.
        for key in ["acme", "nobody"] {
            let plain = Request::new(pro, now).with_key(key).with_overrides(&overrides);
            for request in [plain, plain.with_addons(&held)] {
                for feature in features {
                    std::hint::black_box(engine.is_allowed(&request, feature));
                    let _ = std::hint::black_box(engine.decide(&request, feature));
                }
                for limit in limits {
                    let _ = std::hint::black_box(engine.check_limit(&request, limit, usage));
                }
                std::hint::black_box(engine.setting_value(&request, sla).ok());
                let mut quotas = [Quota::default(); 3];
                let questions = limits.map(|limit| (limit, usage));
                std::hint::black_box(engine.check_limit_many(&request, &questions, &mut quotas).is_ok());
                if let Ok(prepared) = engine.prepare(&request) {
                    let _ = std::hint::black_box(engine.check_limit_prepared(&prepared, limits[0], usage));
                }
            }
            let named = entitle::NamedRequest::new("pro", now).with_key(key).with_overrides(&overrides);
            let _ = std::hint::black_box(engine.check_limit_by_name(&named, "api_calls_per_day", usage));
            let _ = std::hint::black_box(engine.decide_by_name(&named, "hd_video"));
        }
    });
    assert_eq!(count, 0);
}
