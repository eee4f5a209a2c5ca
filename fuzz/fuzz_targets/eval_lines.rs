//! Arbitrary bytes through the JSON Lines protocol of `entitle eval`: every line gets one
//! JSON object back, never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[expect(
    clippy::expect_used,
    reason = "the bundled policy checks (the test suite says so); were it to stop, every input would be a finding"
)]
fn engine() -> &'static entitle::Engine {
    static ENGINE: OnceLock<entitle::Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let text = include_str!("../../policies/rtc-sdk.policy");
        entitle::Engine::from_source("rtc-sdk.policy", text).expect("the bundled policy checks")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for line in text.lines() {
        let answer = entitle::wire::answer_line(engine(), line);
        assert!(answer.starts_with('{') && answer.ends_with('}'), "{answer}");
        assert!(!answer.contains('\n'));
    }
});
