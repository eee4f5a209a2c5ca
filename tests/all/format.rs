//! The formatter on every policy in the repository and on generated ones: idempotent, every
//! comment kept in order, the same check result, the same compiled tables
//! (`entitle::fuzzing::check_format_roundtrip`, which the `roundtrip` fuzz target also runs).

use entitle::fuzzing::check_format_roundtrip;
use entitle::Source;

use crate::golden::{files_with_extension, root};

#[test]
fn formatting_every_repository_policy_keeps_its_meaning_and_comments() {
    let mut checked = 0;
    for dir in ["policies", "tests/conformance", "tests/diagnostics", "cli/tests/inputs"] {
        for path in files_with_extension(&root().join(dir), "policy") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if let Err(problem) = check_format_roundtrip(&text) {
                panic!("{}: {problem}", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} policies formatted");
}

#[test]
fn formatting_generated_policies_keeps_their_tables() {
    for tiers in [10, 40] {
        let text = crate::scale::generate::policy(tiers, 200, 20);
        check_format_roundtrip(&text).unwrap_or_else(|problem| panic!("{tiers} tiers: {problem}"));
    }
}

/// Every bundled policy is already in the canonical layout, so `entitle fmt --check` passes on
/// them and the examples in the docs look like what the formatter writes.
#[test]
fn bundled_policies_are_formatted() {
    for path in files_with_extension(&root().join("policies"), "policy") {
        let text = std::fs::read_to_string(&path).expect("readable");
        let formatted = entitle::format(&Source::new("p", text.as_str())).expect("bundled policies parse");
        assert!(formatted == text, "{} is not formatted; run `entitle fmt --write policies/`", path.display());
    }
}

/// Comments in awkward places: inside a name list, before a `}`, after `{`, at the end of the
/// file, on a one-line block; each is kept, and the layout is the canonical one.
#[test]
fn comments_in_awkward_places_are_kept() {
    let text = "\u{feff}// top\npolicy \"p\"   version \"1\" // header\nfeature a\nfeature long_name \"x\" // long\n\n\n\
                tier free { // opens\n  grant a, // between\n    long_name\n\n\n  limit l = 5 GiB soft warn at 50%\n  // before close\n}\n\
                tier pro extends free { grant a } // one line\nlimit l : bytes\n// the end\n";
    let source = Source::new("p", text);
    let formatted = entitle::format(&source).expect("parses");
    assert_eq!(
        formatted,
        "// top\npolicy \"p\" version \"1\"  // header\nfeature a\nfeature long_name \"x\"   // long\n\n\
         tier free {  // opens\n    // between\n    grant a, long_name\n\n    limit l = 5 GiB soft warn at 50%\n    // before close\n}\n\n\
         tier pro extends free {\n    grant a\n}  // one line\n\nlimit l : bytes\n// the end\n"
    );
    check_format_roundtrip(text).expect("the round trip holds");
}

/// A file with a syntax error is not formatted: the errors are returned instead.
#[test]
fn a_file_that_does_not_parse_is_refused() {
    let diagnostics = entitle::format(&Source::new("p", "policy \"p\"\ntier free { grant }\n")).expect_err("no name");
    assert_eq!(diagnostics.iter().next().map(|d| d.code().as_str()), Some("E001"));
}
