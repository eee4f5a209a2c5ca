//! Loading override sets: a million records (500,000 subjects with a limit and a feature
//! record each, every one with a reason) read from JSON Lines and checked against the bundled
//! `rtc-sdk` policy, from text in memory and from a file, timed by criterion; the peak heap
//! memory of one load is measured with a counting allocator and written to
//! `target/criterion/overrides/peak_bytes.json`.
//!
//! `cargo bench --bench overrides`, or `python3 benches/report.py --suite overrides`;
//! `docs/performance.md` records the figures. Under `cargo test` the set has 10,000 records.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a bench with a broken setup should stop at once"
)]
#![allow(unsafe_code, reason = "the counting allocator forwards to the system allocator")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use entitle::{Engine, Overrides};

/// Counts live and peak heap bytes, process-wide.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: forwarded with the caller's layout, per the trait's contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        grew(new_size);
        // SAFETY: forwarded unchanged, per the trait's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// `subjects` subjects with two records each.
fn records(subjects: usize) -> String {
    let mut text = String::with_capacity(subjects * 260);
    for i in 0..subjects {
        text += &format!(
            "{{\"subject\":\"customer-{i:07}\",\"limit\":\"api_calls_per_day\",\"op\":\"=\",\"value\":{},\"until\":\"2027-03-01T00:00:00Z\",\"reason\":\"contract {i}\",\"author\":\"sales@example.com\"}}\n",
            2_000_000 + i
        );
        text += &format!(
            "{{\"subject\":\"customer-{i:07}\",\"feature\":\"dedicated_csm\",\"op\":\"grant\",\"reason\":\"pilot\"}}\n"
        );
    }
    text
}

fn overrides(c: &mut Criterion) {
    let engine = Engine::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/rtc-sdk.policy")).unwrap();
    // Criterion's test mode (`cargo test`) passes `--test`: a small set keeps it quick.
    let testing = std::env::args().any(|a| a == "--test");
    let subjects = if testing { 5_000 } else { 500_000 };
    let text = records(subjects);
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let set = Overrides::from_jsonl(&engine, "million.jsonl", &text).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let kept = LIVE.load(Ordering::Relaxed) - before;
    assert_eq!(set.len(), subjects * 2);
    eprintln!(
        "{} records, {} bytes of text: peak {} bytes while loading (text not counted), {} bytes kept",
        set.len(),
        text.len(),
        peak,
        kept
    );
    drop(set);
    // From a file, which is read a line at a time: the peak is the whole cost of loading.
    let path = std::env::temp_dir().join(format!("entitle-bench-overrides-{}.jsonl", std::process::id()));
    std::fs::write(&path, &text).unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let set = Overrides::from_path(&engine, &path).unwrap();
    let file_peak = PEAK.load(Ordering::Relaxed) - before;
    assert_eq!(set.len(), subjects * 2);
    eprintln!("from a file: peak {file_peak} bytes while loading");
    drop(set);
    if !testing {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/criterion/overrides");
        std::fs::create_dir_all(dir).unwrap();
        let figures = format!(
            "{{\"records\":{},\"text_bytes\":{},\"peak_bytes\":{peak},\"kept_bytes\":{kept},\"file_peak_bytes\":{file_peak}}}\n",
            subjects * 2,
            text.len()
        );
        std::fs::write(format!("{dir}/peak_bytes.json"), figures).unwrap();
    }
    let mut group = c.benchmark_group("overrides");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    // The set is dropped outside the timing: loading is what is measured.
    group.bench_function("load_1m_records", |b| {
        b.iter_with_large_drop(|| Overrides::from_jsonl(&engine, "million.jsonl", black_box(&text)))
    });
    group.bench_function("load_1m_records_from_a_file", |b| {
        b.iter_with_large_drop(|| Overrides::from_path(&engine, black_box(&path)).unwrap())
    });
    group.finish();
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, overrides);
criterion_main!(benches);
