//! Loading a compiled bundle never panics, whatever its bytes: as given (mostly refused by the
//! checksum) and with its length and checksum rewritten to fit, so that mutations reach every
//! field's validation. An engine that loads answers every question and resolves its names.
#![no_main]
#![expect(clippy::panic, reason = "a fuzz target reports a finding by panicking with what went wrong")]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(problem) = entitle::fuzzing::check_bundle(data) {
        panic!("{problem}");
    }
});
