//! Pipeline benchmarks: parse + check, and compile, of the bundled policies and of generated
//! policies of 10, 100 and 1,000 tiers × 1,000 features × 100 limits; throughput in bytes/s.
//!
//! `cargo bench --bench pipeline`; `docs/performance.md` records the figures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "a bench with a broken setup should stop at once"
)]

#[path = "support/generate.rs"]
mod generate;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use entitle::Source;

fn inputs() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    let mut bundled: Vec<_> = std::fs::read_dir(dir)
        .expect("policies/")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "policy"))
        .collect();
    bundled.sort();
    let mut inputs: Vec<(String, String)> = bundled
        .iter()
        .map(|path| {
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("policy").to_string();
            (name, std::fs::read_to_string(path).expect("readable policy"))
        })
        .collect();
    for tiers in [10, 100, 1_000] {
        inputs.push((format!("generated_{tiers}x1000x100"), generate::policy(tiers, 1_000, 100)));
    }
    inputs
}

fn pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    for (name, text) in inputs() {
        let source = Source::new(name.as_str(), text.as_str());
        let checked = entitle::check(&source).expect("bench inputs check");
        let engine = entitle::compile(&checked);
        // Criterion records times only; the table size goes to standard error for the record.
        eprintln!("{name}: {} bytes of source, {} bytes of tables", text.len(), engine.table_bytes());
        group.throughput(Throughput::Bytes(u64::try_from(text.len()).unwrap_or(u64::MAX)));
        group.bench_function(format!("parse_check/{name}"), |b| b.iter(|| entitle::check(black_box(&source))));
        group.bench_function(format!("compile/{name}"), |b| b.iter(|| entitle::compile(black_box(&checked))));
        // What a service does at start-up with a policy checked in CI: from bytes to engine,
        // against `from_source` (parse, check, compile) on the same text.
        let bundle = entitle::bundle::build(&source).expect("bench inputs check");
        eprintln!("{name}: {} bytes of bundle", bundle.len());
        group.bench_function(format!("from_source/{name}"), |b| {
            b.iter(|| entitle::Engine::from_source(&name, black_box(&text)))
        });
        group.bench_function(format!("from_bundle/{name}"), |b| {
            b.iter(|| entitle::Engine::from_bundle(black_box(&bundle)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    targets = pipeline
}
criterion_main!(benches);
