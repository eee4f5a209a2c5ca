//! Every fuzz seed and every minimised crash input (`fuzz/seeds/`, `fuzz/regressions/`) is
//! replayed here, on stable, with the property its target checks: so the ordinary test command
//! guards every bug the fuzzers ever found.

use std::path::{Path, PathBuf};

use entitle::{render, Engine, Source};

use crate::golden::root;

fn inputs(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["fuzz/seeds", "fuzz/regressions"] {
        let Ok(entries) = std::fs::read_dir(root().join(dir).join(target)) else { continue };
        files.extend(entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()));
    }
    files.sort();
    files
}

fn text(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).expect("readable input")).into_owned()
}

/// `parse_check` and `render`: no panic, both parsers agree, spans in range, bounded
/// rendering with no raw control character.
#[test]
fn parse_check_and_render_inputs_replay_clean() {
    let mut count = 0;
    for path in inputs("parse_check").into_iter().chain(inputs("render")) {
        let text = text(&path);
        if let Err(difference) = entitle::fuzzing::compare_parsers(&text) {
            panic!("{}: {difference}", path.display());
        }
        let source = Source::new("fuzz.policy", text.as_str());
        let diagnostics = match entitle::check(&source) {
            Ok(checked) => {
                let _ = entitle::compile(&checked);
                checked.warnings().to_vec()
            }
            Err(diagnostics) => diagnostics.into_vec(),
        };
        for diagnostic in &diagnostics {
            assert!(diagnostic.span().end <= text.len(), "{}: span past the end", path.display());
            let shown = render::human(&source, diagnostic);
            assert!(shown.len() <= render::MAX_RENDERED_BYTES, "{}", path.display());
            assert!(!shown.chars().any(|c| c.is_control() && c != '\n' && c != '\t'), "{}", path.display());
        }
        count += 1;
    }
    assert!(count >= 40, "only {count} parse_check and render inputs");
}

/// `eval_lines`: every line gets one JSON object.
#[test]
fn eval_lines_inputs_replay_clean() {
    let engine = Engine::from_path(root().join("policies/rtc-sdk.policy")).expect("checks");
    let mut count = 0;
    for path in inputs("eval_lines") {
        for line in text(&path).lines() {
            let answer = entitle::wire::answer_line(&engine, line);
            assert!(answer.starts_with('{') && answer.ends_with('}'), "{}: {answer}", path.display());
            count += 1;
        }
    }
    assert!(count >= 40, "only {count} eval_lines inputs");
}

/// `differential` regressions are kept readable: a policy file, and beside it the questions
/// as JSON Lines (`tier`, `key`, `addons` as a bit mask, `now`, `item`, `used`, `requested`, and `holding`:
/// 0, or the seats, quantities and acquisitions as `fuzzing::Question` reads them).
#[test]
fn differential_regressions_replay_clean() {
    for path in inputs("differential").into_iter().filter(|p| p.extension().is_some_and(|e| e == "policy")) {
        let policy = text(&path);
        let questions_text = std::fs::read_to_string(path.with_extension("jsonl")).unwrap_or_default();
        let parsed: Vec<serde_json::Value> =
            questions_text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
        let keys: Vec<String> = parsed.iter().map(|q| q["key"].as_str().unwrap_or("").to_string()).collect();
        let questions: Vec<entitle::fuzzing::Question<'_>> = parsed
            .iter()
            .zip(&keys)
            .map(|(q, key)| entitle::fuzzing::Question {
                tier: q["tier"].as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
                key,
                addons: q["addons"].as_u64().unwrap_or(0),
                now: q["now"].as_i64().unwrap_or(0),
                item: q["item"].as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
                used: q["used"].as_u64().unwrap_or(0),
                requested: q["requested"].as_u64().unwrap_or(0),
                holding: q["holding"].as_u64().unwrap_or(0),
            })
            .collect();
        if let Err(disagreement) = entitle::fuzzing::compare_with_reference(&policy, &questions) {
            panic!("{}: {disagreement}", path.display());
        }
    }
}

/// `roundtrip`: formatting is idempotent, keeps comments, and keeps the meaning.
#[test]
fn roundtrip_inputs_replay_clean() {
    let mut count = 0;
    for path in inputs("roundtrip").into_iter().chain(inputs("parse_check")) {
        if let Err(problem) = entitle::fuzzing::check_format_roundtrip(&text(&path)) {
            panic!("{}: {problem}", path.display());
        }
        count += 1;
    }
    assert!(count >= 40, "only {count} roundtrip inputs");
}

/// `bundle`: every seed loads as given (they are bundles built from the bundled and conformance
/// policies), and no seed or kept input panics, as given or resealed.
#[test]
fn bundle_inputs_replay_clean() {
    let mut loaded = 0;
    for path in inputs("bundle") {
        let bytes = std::fs::read(&path).expect("readable input");
        if let Err(problem) = entitle::fuzzing::check_bundle(&bytes) {
            panic!("{}: {problem}", path.display());
        }
        loaded += usize::from(Engine::from_bundle(&bytes).is_ok());
    }
    assert!(loaded >= 5, "only {loaded} bundle seeds load");
}
