//! Formatting any text that parses is idempotent, keeps every comment, and keeps the meaning:
//! the formatted policy checks with the same codes and compiles to the same tables.
#![no_main]
#![expect(clippy::panic, reason = "a fuzz target reports a finding by panicking with what went wrong")]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(problem) = entitle::fuzzing::check_format_roundtrip(text) {
            panic!("{problem}");
        }
    }
});
