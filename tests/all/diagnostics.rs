//! Golden diagnostics: each `tests/diagnostics/*.policy` beside the `.out` it must render to.

use std::collections::BTreeSet;

use entitle::{render, Code, Source};

use crate::golden::{assert_no_failures, compare, files_with_extension, root};

/// Renders every diagnostic of one file exactly as `entitle check` does.
fn rendered(name: &str, text: &str) -> String {
    let source = Source::new(name, text);
    let diagnostics = match entitle::check(&source) {
        Ok(checked) => checked.warnings().to_vec(),
        Err(diagnostics) => diagnostics.into_vec(),
    };
    diagnostics.iter().map(|d| render::human(&source, d) + "\n").collect()
}

#[test]
fn every_bad_policy_renders_as_its_golden_file() {
    let dir = root().join("tests/diagnostics");
    let mut failures = Vec::new();
    for policy in files_with_extension(&dir, "policy") {
        let name = policy.file_name().and_then(|n| n.to_str()).expect("utf-8 file name");
        let text = std::fs::read_to_string(&policy).expect("readable policy");
        if let Some(failure) = compare(&policy.with_extension("out"), &rendered(name, &text)) {
            failures.push(failure);
        }
    }
    assert_no_failures(failures);
}

/// Renders every diagnostic of an override set checked against `engine`, as `entitle check
/// --overrides` does.
fn rendered_overrides(engine: &entitle::Engine, name: &str, text: &str) -> String {
    let source = Source::new(name, text);
    match entitle::Overrides::from_jsonl(engine, name, text) {
        Ok(_) => String::new(),
        Err(diagnostics) => diagnostics.iter().map(|d| render::human(&source, d) + "\n").collect(),
    }
}

/// The engine of `tests/diagnostics/overrides/plans.policy`, which every override file there is
/// checked against.
fn override_plans() -> entitle::Engine {
    let path = root().join("tests/diagnostics/overrides/plans.policy");
    entitle::Engine::from_source("plans.policy", &std::fs::read_to_string(path).expect("readable policy"))
        .expect("plans check")
}

#[test]
fn every_bad_override_set_renders_as_its_golden_file() {
    let dir = root().join("tests/diagnostics/overrides");
    let engine = override_plans();
    let mut failures = Vec::new();
    let files = files_with_extension(&dir, "overrides");
    assert!(files.len() >= 4, "the override goldens are missing");
    for file in files {
        let name = file.file_name().and_then(|n| n.to_str()).expect("utf-8 file name");
        let text = std::fs::read_to_string(&file).expect("readable override set");
        let out = rendered_overrides(&engine, name, &text);
        assert!(!out.is_empty(), "{name} has no errors");
        if let Some(failure) = compare(&file.with_extension("out"), &out) {
            failures.push(failure);
        }
    }
    assert_no_failures(failures);
}

/// The golden files are the catalogue of codes: each code must be shown at least once, and
/// each file named after a code must show that code.
#[test]
fn golden_files_cover_every_code() {
    let dir = root().join("tests/diagnostics");
    let mut shown = BTreeSet::new();
    let mut outs = files_with_extension(&dir, "out");
    outs.extend(files_with_extension(&dir.join("overrides"), "out"));
    for out in outs {
        let text = std::fs::read_to_string(&out).expect("readable golden file");
        for code in Code::ALL {
            let marker = format!("[{code}]");
            if text.contains(&marker) {
                shown.insert(*code);
            }
        }
        let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if let Some(code) = Code::ALL.iter().find(|c| stem.starts_with(c.as_str())) {
            assert!(text.contains(&format!("[{code}]")), "{} does not show {code}", out.display());
        }
    }
    let missing: Vec<_> = Code::ALL.iter().filter(|c| !shown.contains(c)).map(|c| c.as_str()).collect();
    assert!(missing.is_empty(), "codes with no golden diagnostic: {missing:?}");
}

/// `docs/diagnostics.md` documents every code with a bad and a fixed example.
#[test]
fn the_diagnostics_reference_documents_every_code() {
    let doc = std::fs::read_to_string(root().join("docs/diagnostics.md")).expect("docs/diagnostics.md");
    for code in Code::ALL {
        let heading = format!("## {code}");
        let section = doc.split(&heading).nth(1).unwrap_or_else(|| panic!("no `{heading}` section"));
        let section = section.split("\n## ").next().unwrap_or("");
        assert!(section.matches("```").count() >= 4, "{code} needs a bad and a fixed example");
        assert!(section.contains("Fixed") || section.contains("fixed"), "{code} lacks a fixed example");
    }
}

/// The fixed example of every code in the reference checks without that code, so the docs
/// cannot drift into advice that does not work.
#[test]
fn fixed_examples_in_the_reference_do_not_show_their_code() {
    let doc = std::fs::read_to_string(root().join("docs/diagnostics.md")).expect("docs/diagnostics.md");
    // W010 needs over a thousand lines to show, so its section gives an outline and its
    // golden file holds the real case.
    for code in Code::ALL.iter().filter(|&&c| c != Code::TooManyWarnings) {
        let heading = format!("## {code}");
        let section = doc.split(&heading).nth(1).expect("section").split("\n## ").next().unwrap_or("");
        let blocks: Vec<&str> =
            section.split("```policy\n").skip(1).map(|b| b.split("```").next().unwrap_or("")).collect();
        let records: Vec<&str> =
            section.split("```jsonl\n").skip(1).map(|b| b.split("```").next().unwrap_or("")).collect();
        if !records.is_empty() {
            // A code of override sets: one policy, then a bad and a fixed set checked against it.
            assert_eq!(
                (blocks.len(), records.len()),
                (1, 2),
                "{code}: expected a ```policy block, a bad and a fixed ```jsonl block"
            );
            let engine = entitle::Engine::from_source("doc", blocks[0]).expect("the section's policy checks");
            let shows = |text: &str| {
                entitle::Overrides::from_jsonl(&engine, "doc", text)
                    .err()
                    .is_some_and(|d| d.iter().any(|d| d.code() == *code))
            };
            assert!(shows(records[0]), "{code}: the bad example does not produce {code}");
            assert!(
                entitle::Overrides::from_jsonl(&engine, "doc", records[1]).is_ok(),
                "{code}: the fixed example has errors"
            );
            continue;
        }
        assert_eq!(blocks.len(), 2, "{code}: expected exactly a bad and a fixed ```policy block");
        let shows = |text: &str| match entitle::check(&Source::new("doc", text)) {
            Ok(checked) => checked.warnings().iter().any(|d| d.code() == *code),
            Err(diagnostics) => diagnostics.iter().any(|d| d.code() == *code),
        };
        assert!(shows(blocks[0]), "{code}: the bad example does not produce {code}");
        assert!(!shows(blocks[1]), "{code}: the fixed example still produces {code}");
        assert!(entitle::check(&Source::new("doc", blocks[1])).is_ok(), "{code}: the fixed example has errors");
    }
}

/// A GitHub annotation is one line whatever the input: the reserved characters of file names
/// (`,` and `:` end a property) and of messages (`%`, line breaks) are escaped.
#[test]
fn github_annotations_escape_what_the_format_reserves() {
    let source = Source::new("dir:a,b%.policy", "policy \"p\"\ntier free { grant a }\n");
    let diagnostics = entitle::check(&source).expect_err("unknown feature");
    let first = diagnostics.iter().next().expect("one");
    let line = entitle::render::github(&source, first);
    assert!(line.starts_with("::error file=dir%3Aa%2Cb%25.policy,line=2,col=19,"), "{line}");
    assert!(!line.contains('\n'));
    let coloured = entitle::render::human_with(&source, first, true);
    assert!(coloured.starts_with("\u{1b}[1;31merror[E004]\u{1b}[0m"), "{coloured:?}");
    assert_eq!(strip_ansi(&coloured), entitle::render::human(&source, first));
}

/// The text with ANSI SGR sequences removed.
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
