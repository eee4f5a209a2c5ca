//! Arbitrary bytes into the parser and checker, then (when the policy checks) into the
//! compiler: no panic, and time and memory bounded (`-timeout`, `-rss_limit_mb`). The
//! hand-written reader and pest alone must also read the text to the same tree and messages.
#![no_main]
#![expect(clippy::panic, reason = "a fuzz target reports a finding by panicking with what went wrong")]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(difference) = entitle::fuzzing::compare_parsers(&text) {
        panic!("{difference}");
    }
    let source = entitle::Source::new("fuzz.policy", text.as_ref());
    match entitle::check(&source) {
        Ok(checked) => {
            let engine = entitle::compile(&checked);
            // Every name the engine lists resolves back to the same id.
            for (id, name) in engine.tiers() {
                assert_eq!(engine.tier(name), Some(id));
            }
        }
        Err(diagnostics) => {
            assert!(diagnostics.error_count() > 0, "a failed check reports an error");
            for diagnostic in &diagnostics {
                assert!(diagnostic.span().start <= diagnostic.span().end && diagnostic.span().end <= text.len());
            }
        }
    }
});
