//! Diagnostics rendering of arbitrary sources (long lines, odd Unicode, tabs, control
//! characters): no panic, no control byte reaches the terminal, and each rendered diagnostic is
//! bounded in size whatever the line it points into.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let source = entitle::Source::new("fuzz.policy", text.as_ref());
    let diagnostics = match entitle::check(&source) {
        Ok(checked) => checked.warnings().to_vec(),
        Err(diagnostics) => diagnostics.into_vec(),
    };
    for diagnostic in &diagnostics {
        let rendered = entitle::render::human(&source, diagnostic);
        assert!(rendered.len() <= entitle::render::MAX_RENDERED_BYTES, "{} bytes", rendered.len());
        assert!(
            !rendered.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
            "a control character reached the output: {rendered:?}"
        );
        let _ = entitle::wire::diagnostics(&source, [diagnostic]);
    }
});
