//! Bad input of every kind gets diagnostics, never a panic or a hang.

use entitle::{Code, Limits, Source};

use crate::golden::root;

/// Every single-character edit of a real policy (at a stride, to stay quick) still yields an
/// answer: a checked policy or diagnostics with in-range spans.
#[test]
fn edited_policies_never_panic_and_spans_stay_in_range() {
    let text = std::fs::read_to_string(root().join("policies/rtc-sdk.policy")).expect("policy");
    let edits = ["", "{", "}", "\"", "%", "=", "9", " x ", "\n", "//", "\u{e9}"];
    let mut variants = 0;
    for (position, _) in text.char_indices().step_by(13) {
        for (n, edit) in edits.iter().enumerate() {
            let next = text[position..].chars().next().map_or(0, char::len_utf8);
            // Alternate between replacing the character at `position` and inserting before it.
            let cut = if n % 2 == 0 { next } else { 0 };
            let mutated = format!("{}{edit}{}", &text[..position], &text[position + cut..]);
            variants += 1;
            if let Err(diagnostics) = entitle::check(&Source::new("m", mutated.as_str())) {
                for d in &diagnostics {
                    assert!(d.span().start <= d.span().end && d.span().end <= mutated.len(), "{d:?}");
                }
            }
        }
    }
    assert!(variants > 1_000);
}

#[test]
fn a_flood_of_errors_is_cut_off_with_a_note() {
    let text = format!("policy \"p\"\nladder {}a\n", "a < ".repeat(5_000));
    let diagnostics = entitle::check(&Source::new("p", text)).expect_err("unknown tiers");
    assert_eq!(diagnostics.len(), Limits::default().diagnostics + 1);
    let last = diagnostics.iter().last().expect("a last diagnostic");
    assert_eq!(last.code(), Code::InputLimit);
    assert_eq!(last.message(), "4001 more diagnostics after the first 1000 are not shown");
}

#[test]
fn oversized_input_is_refused_with_an_input_limit_diagnostic() {
    let text = "feature x\n".repeat(Limits::default().source_bytes / 10 + 1);
    let diagnostics = entitle::check(&Source::new("big", text)).expect_err("too large");
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics.iter().next().map(|d| d.code()), Some(Code::InputLimit));
}

/// The cap on reported diagnostics never turns a policy that checks into one that does not.
#[test]
fn a_flood_of_warnings_is_cut_off_without_failing_the_check() {
    let features: String = (0..1_200).map(|i| format!("feature unused_{i}\n")).collect();
    let text = format!("policy \"p\"\n{features}tier t {{ }}\n");
    let checked = entitle::check(&Source::new("p", text)).expect("warnings alone never fail a check");
    let warnings = checked.warnings();
    assert_eq!(warnings.len(), Limits::default().diagnostics + 1);
    let last = warnings.last().expect("a last warning");
    assert_eq!(last.code(), Code::TooManyWarnings);
    assert_eq!(last.message(), "200 more warnings after the first 1000 are not shown");
}

#[test]
fn pathological_but_small_inputs_terminate() {
    let cases = [
        "{".repeat(100_000),
        "tier t {\n".repeat(10_000),
        "\"".repeat(50_000),
        "limit x : count per day\n".repeat(5_000),
        "policy \"p\"\nladder ".to_string() + &"a < ".repeat(10_000),
        "policy \"p\"\nfeature x\ntier t { grant ".to_string() + &"x, ".repeat(10_000) + "}",
    ];
    for text in cases {
        let _ = entitle::check(&Source::new("p", text));
    }
}

/// An embedder's tighter limits hold at every stage: source size, declarations, names,
/// inheritance depth, the diagnostics cap, and add-ons per by-name query.
#[test]
fn tightened_limits_are_enforced() {
    let first_code = |text: &str, limits: &Limits| {
        let diagnostics = entitle::check_with(&Source::new("p", text), limits).expect_err("past a limit");
        let first = diagnostics.errors().next().map(|d| (d.code(), d.message().to_string()));
        first.expect("an error")
    };
    let mut tight = Limits::default();
    tight.source_bytes = 100;
    assert_eq!(first_code(&"feature x\n".repeat(20), &tight).0, Code::InputLimit);

    let mut tight = Limits::default();
    tight.declarations = 3;
    assert_eq!(first_code("policy \"p\"\nfeature a\nfeature b\nfeature c\n", &tight).0, Code::InputLimit);
    // Exactly at the limit, the blank lines and comment after the last declaration are not
    // another declaration.
    let at_limit = "policy \"p\"\nfeature a\ntier t { grant a }\n\n// the end\n\n";
    assert!(entitle::check_with(&Source::new("p", at_limit), &tight).is_ok());

    let mut tight = Limits::default();
    tight.name_bytes = 4;
    let (code, message) = first_code("policy \"p\"\nfeature hd_video\n", &tight);
    assert_eq!(code, Code::InputLimit, "{message}");

    let mut tight = Limits::default();
    tight.inheritance_depth = 1;
    let chain = "policy \"p\"\ntier a { }\ntier b extends a { }\ntier c extends b { }\n";
    assert_eq!(first_code(chain, &tight).0, Code::InputLimit);
    assert!(entitle::check(&Source::new("p", chain)).is_ok());

    let mut tight = Limits::default();
    tight.diagnostics = 2;
    let diagnostics = entitle::check_with(&Source::new("p", "policy \"p\"\ntier t { grant a, b, c, d }\n"), &tight)
        .expect_err("unknown features");
    assert_eq!(diagnostics.len(), 3);

    let mut tight = Limits::default();
    tight.held_addons = 1;
    let text = "policy \"p\"\nfeature f\ntier t { }\naddon a for t { grant f }\naddon b for t { }\n";
    let engine = entitle::Engine::from_source_with("p", text, &tight).expect("checks");
    let request = entitle::Request::new("t", 0);
    assert!(engine.decide_by_name(&request.with_addons(&["a"]), "f").allowed);
    let two = engine.decide_by_name(&request.with_addons(&["a", "b"]), "f");
    assert_eq!(two.reason, entitle::Reason::TooManyAddons);
}
