//! The cost of the C ABI over the Rust call it wraps: the same questions asked of the same
//! engine through `entitle_*` (as a C caller links them) and through the Rust API, in one run.
//!
//! `cargo bench -p entitle-ffi --bench abi`; `docs/bindings.md` records the figures.

#![allow(unsafe_code, reason = "the bench calls the C ABI as a C caller would")]
#![allow(clippy::expect_used, reason = "a bench with a broken setup should stop at once")]

use std::hint::black_box;
use std::ptr;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use entitle::{Engine, Request, Usage};
use entitle_ffi::*;

const NOW: i64 = 1_795_255_200;
const POLICY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/rtc-sdk.policy");

fn abi(c: &mut Criterion) {
    let engine = Engine::from_path(POLICY).expect("the bundled policy");
    let pro = engine.tier("pro").expect("pro");
    let hd_video = engine.feature("hd_video").expect("hd_video");
    let api_calls = engine.limit("api_calls_per_day").expect("api_calls_per_day");
    let request = Request::new(pro, NOW).with_key("app-42");
    let named = Request::new("pro", NOW).with_key("app-42");

    let mut handle: *mut entitle_engine = ptr::null_mut();
    let mut c_request: *mut entitle_request = ptr::null_mut();
    let mut c_named: *mut entitle_request = ptr::null_mut();
    // SAFETY: valid pointers and lengths, as the header's contract asks; handles freed below.
    unsafe {
        let status = entitle_engine_from_path(POLICY.as_ptr(), POLICY.len(), &mut handle, ptr::null_mut());
        assert_eq!(status, entitle_status::Ok);
        assert_eq!(entitle_request_new(&mut c_request), entitle_status::Ok);
        assert_eq!(entitle_request_set_tier(c_request, pro.as_u32()), entitle_status::Ok);
        // A request holds one tier: the by-name questions get one that names it, as `named`.
        assert_eq!(entitle_request_new(&mut c_named), entitle_status::Ok);
        assert_eq!(entitle_request_set_tier_name(c_named, b"pro".as_ptr(), 3), entitle_status::Ok);
        for r in [c_request, c_named] {
            assert_eq!(entitle_request_set_key(r, b"app-42".as_ptr(), 6), entitle_status::Ok);
            assert_eq!(entitle_request_set_now(r, NOW), entitle_status::Ok);
        }
    }
    let (handle, c_request, c_named) = (handle.cast_const(), c_request.cast_const(), c_named.cast_const());

    let mut group = c.benchmark_group("abi");
    group.bench_function("decide/rust_ids", |b| b.iter(|| engine.decide(black_box(&request), black_box(hd_video))));
    group.bench_function("decide/c_ids", |b| {
        let mut out = entitle_decision { allowed: false, reason: entitle_reason::NotGranted as u32 };
        // SAFETY: live handles and a writable answer.
        b.iter(|| unsafe {
            entitle_decide(black_box(handle), black_box(c_request), black_box(hd_video.as_u32()), &mut out)
        })
    });
    group.bench_function("decide/rust_names", |b| {
        b.iter(|| engine.decide_by_name(black_box(&named), black_box("hd_video")))
    });
    group.bench_function("decide/c_names", |b| {
        let mut out = entitle_decision { allowed: false, reason: entitle_reason::NotGranted as u32 };
        let name = black_box("hd_video");
        // SAFETY: live handles, a valid name and a writable answer.
        b.iter(|| unsafe {
            entitle_decide_by_name(black_box(handle), black_box(c_named), name.as_ptr(), name.len(), &mut out)
        })
    });
    let usage = Usage::used(990_000).requesting(20_000);
    group.bench_function("check_limit/rust_ids", |b| {
        b.iter(|| engine.check_limit(black_box(&request), black_box(api_calls), black_box(usage)))
    });
    group.bench_function("check_limit/c_ids", |b| {
        // SAFETY: an all-zero quota is a valid value of the plain C struct.
        let mut out: entitle_quota = unsafe { std::mem::zeroed() };
        // SAFETY: live handles and a writable answer.
        b.iter(|| unsafe {
            entitle_check_limit(
                black_box(handle),
                black_box(c_request),
                black_box(api_calls.as_u32()),
                990_000,
                20_000,
                &mut out,
            )
        })
    });
    // ABI 4's quota, which leaves the window out: the calendar arithmetic ABI 1's pays for.
    group.bench_function("check_limit2/c_ids", |b| {
        // SAFETY: an all-zero quota is a valid value of the plain C struct; its size is set.
        let mut out: entitle_quota2 = unsafe { std::mem::zeroed() };
        out.size = std::mem::size_of::<entitle_quota2>();
        // SAFETY: live handles and a writable answer whose size is set.
        b.iter(|| unsafe {
            entitle_check_limit2(
                black_box(handle),
                black_box(c_request),
                black_box(api_calls.as_u32()),
                990_000,
                20_000,
                &mut out,
            )
        })
    });
    // Every feature of the policy in one call (a pricing page), against as many single calls.
    let features: Vec<entitle::FeatureId> = engine.features().map(|(id, _)| id).collect();
    let ids: Vec<u32> = features.iter().map(|id| id.as_u32()).collect();
    group.bench_function("decide_many/rust_ids", |b| {
        let mut out = vec![entitle::Decision::default(); features.len()];
        b.iter(|| engine.decide_many(black_box(&request), black_box(&features), &mut out).map(|answers| answers.len()))
    });
    group.bench_function("decide_many/c_ids", |b| {
        let mut out = vec![entitle_decision { allowed: false, reason: 0 }; ids.len()];
        // SAFETY: live handles, `ids.len()` readable ids and as many writable answers.
        b.iter(|| unsafe {
            entitle_decide_many(
                black_box(handle),
                black_box(c_request),
                ids.as_ptr(),
                ids.len(),
                out.as_mut_ptr(),
                out.len(),
            )
        })
    });
    group.bench_function("decide_many/c_single_calls", |b| {
        let mut out = entitle_decision { allowed: false, reason: 0 };
        b.iter(|| {
            for id in &ids {
                // SAFETY: live handles and a writable answer.
                unsafe { entitle_decide(black_box(handle), black_box(c_request), *id, &mut out) };
            }
        })
    });
    group.finish();

    // SAFETY: the handles came from the library and are freed once.
    unsafe {
        entitle_request_free(c_request.cast_mut());
        entitle_request_free(c_named.cast_mut());
        entitle_engine_free(handle.cast_mut());
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = abi
}
criterion_main!(benches);
