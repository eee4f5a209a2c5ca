//! Hostile inputs within the documented limits: each ends in bounded time and memory with a
//! diagnostic or an answer, never a hang, an abort, quadratic work or raw control bytes on a
//! terminal. Memory is measured with the counting allocator (the peak of live bytes); time is
//! compared as counts (allocations, bytes, steps), never by a clock.

use entitle::{render, Code, Engine, Limits, Reason, Request, Source};

use crate::allocations::peak_bytes_in;

const MIB: usize = 1024 * 1024;

fn codes(text: &str) -> Vec<Code> {
    match entitle::check(&Source::new("hostile.policy", text)) {
        Ok(checked) => checked.warnings().iter().map(|d| d.code()).collect(),
        Err(diagnostics) => diagnostics.iter().map(|d| d.code()).collect(),
    }
}

/// 2,500 tiers × 2,500 features would flatten to 6.25 million cells: refused before any table
/// is built, with an E019 that says why.
#[test]
fn a_tier_by_feature_table_past_the_budget_is_refused_up_front() {
    let features: String = (0..2_500).map(|i| format!("feature f{i}\n")).collect();
    let tiers: String = (0..2_500).map(|i| format!("tier t{i} {{ grant f{i} }}\n")).collect();
    let text = format!("policy \"p\"\n{features}{tiers}");
    let (bytes, result) = peak_bytes_in(|| entitle::check(&Source::new("p", text.as_str())));
    let diagnostics = result.expect_err("past the table budget");
    let first = diagnostics.errors().next().expect("an error");
    assert_eq!(first.code(), Code::InputLimit);
    assert!(first.message().contains("2500 tiers × 2500"), "{}", first.message());
    assert!(bytes < 64 * MIB, "checking peaked at {} MiB", bytes / MIB);
}

/// A long text setting on a root tier inherited by 800 tiers is stored once, not 800 times.
#[test]
fn a_long_text_setting_inherited_by_many_tiers_is_shared() {
    let long = "x".repeat(MIB);
    let children: String = (0..800).map(|i| format!("tier t{i} extends root {{ }}\n")).collect();
    let text = format!("policy \"p\"\nsetting notes : string\ntier root {{ set notes = \"{long}\" }}\n{children}");
    let (bytes, engine) = peak_bytes_in(|| Engine::from_source("p", &text).expect("checks"));
    assert!(bytes < 32 * MIB, "loading peaked at {} MiB for a 1 MiB text", bytes / MIB);
    let last = Request::new("t799", 0);
    let value = engine.setting_value_by_name(&last, "notes").expect("known").expect("inherited");
    assert_eq!(value.to_string().len(), MIB + 2);
}

/// A name of megabytes is reported with a short message and no edit-distance table.
#[test]
fn a_huge_unknown_name_costs_linear_memory_and_a_short_message() {
    let huge = "n".repeat(4 * MIB);
    let declared: String = (0..100).map(|i| format!("feature {}{i}\n", "f".repeat(120))).collect();
    let text = format!("policy \"p\"\n{declared}tier t {{ grant {huge} }}\n");
    let source = Source::new("p", text.as_str());
    let (bytes, result) = peak_bytes_in(|| entitle::check(&source));
    let diagnostics = result.expect_err("unknown feature");
    assert!(bytes < 64 * MIB, "checking peaked at {} MiB", bytes / MIB);
    for diagnostic in &diagnostics {
        assert!(diagnostic.message().len() < 1_000, "a {}-byte message", diagnostic.message().len());
        assert!(render::human(&source, diagnostic).len() <= render::MAX_RENDERED_BYTES);
    }
}

/// One 4 MB line with a thousand errors renders each as a window of the line, not the line.
#[test]
fn many_errors_on_one_long_line_render_in_bounded_size() {
    let grants: String = (0..1_200).map(|i| format!("u{i}, ")).collect::<String>() + &"y".repeat(4 * MIB);
    let text = format!("policy \"p\"\nfeature f\ntier t {{ grant {grants} }}\n");
    let source = Source::new("p", text.as_str());
    let diagnostics = entitle::check(&source).expect_err("unknown features");
    let total: usize = diagnostics.iter().map(|d| render::human(&source, d).len()).sum();
    assert!(diagnostics.len() > 1_000);
    assert!(total < 2 * MIB, "the report is {} MiB", total / MIB);
}

/// Control bytes in a policy never reach the terminal raw, and long lines are cut.
#[test]
fn rendering_makes_control_characters_visible() {
    let text = "policy \"p\"\ntier t { grant \u{1b}[2J\u{0} }\n";
    let source = Source::new("p\u{1b}.policy", text);
    let diagnostics = entitle::check(&source).expect_err("a syntax error");
    for diagnostic in &diagnostics {
        let shown = render::human(&source, diagnostic);
        assert!(!shown.chars().any(|c| c.is_control() && c != '\n' && c != '\t'), "{shown:?}");
        assert!(shown.contains('\u{241b}'), "ESC shows as its control picture: {shown}");
    }
}

/// A file whose lines end in a bare CR gets one clear error, not "missing header".
#[test]
fn classic_mac_line_endings_get_one_clear_error() {
    let text = "policy \"p\"\r// plans\rfeature f\rtier t { grant f }\r";
    let diagnostics = entitle::check(&Source::new("p", text)).expect_err("lone CRs");
    assert_eq!(diagnostics.len(), 1);
    let only = diagnostics.iter().next().expect("one");
    assert_eq!(only.code(), Code::Syntax);
    assert!(only.message().contains("carriage return"), "{}", only.message());
    assert!(
        entitle::check(&Source::new("p", "policy \"p\"\r\n// plans\r\nfeature f\r\ntier t { grant f }\r\n")).is_ok()
    );
}

/// An add-on with no end stays valid at the last representable instant.
#[test]
fn an_addon_without_an_end_is_valid_at_the_end_of_time() {
    let text = "policy \"p\"\nfeature f\ntier t { }\naddon forever for t { grant f\n valid from 2026-01-01 }\n";
    let engine = Engine::from_source("p", text).expect("checks");
    for now in [i64::MAX, i64::MAX - 1, 1_795_255_200] {
        let request = Request::new("t", now).with_addons(&["forever"]);
        assert_eq!(engine.decide_by_name(&request, "f").reason, Reason::GrantedByAddon, "at {now}");
    }
    let before = Request::new("t", 0).with_addons(&["forever"]);
    assert_eq!(engine.decide_by_name(&before, "f").reason, Reason::AddonNotValid);
}

/// A tightened table budget is honoured too.
#[test]
fn the_table_budget_is_a_limit_like_the_others() {
    let mut limits = Limits::default();
    limits.table_cells = 10;
    let text = "policy \"p\"\nfeature a\nfeature b\nfeature c\ntier t1 { }\ntier t2 { }\ntier t3 { }\ntier t4 { }\n";
    let diagnostics = entitle::check_with(&Source::new("p", text), &limits).expect_err("12 cells");
    assert!(diagnostics.iter().any(|d| d.code() == Code::InputLimit));
    assert!(codes(text).iter().all(|&c| c != Code::InputLimit));
}

/// Doubling an input within the limits must not much more than double the work of checking
/// and compiling it. Each shape was quadratic once (a 100,000-item list took seconds). The
/// work is counted, never timed, so a busy machine cannot fail the test: the allocations made,
/// the bytes they asked for, and the steps of the passes that count them (`src/work.rs`).
#[test]
fn checking_work_grows_linearly_with_each_hostile_shape() {
    type Shape = fn(usize) -> String;
    let shapes: [(&str, Shape, usize); 7] = [
        (
            "many declarations on one line",
            |n| {
                let features: Vec<String> = (0..n).map(|i| format!("feature f{i}")).collect();
                format!("policy \"p\" {} tier t {{ grant all }}\n", features.join(" "))
            },
            40_000,
        ),
        (
            "a long grant list",
            |n| {
                let features: String = (0..n).map(|i| format!("feature f{i}\n")).collect();
                let grants: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
                format!("policy \"p\"\n{features}tier t {{ grant {} }}\n", grants.join(", "))
            },
            4_000,
        ),
        (
            "a long ladder",
            |n| {
                let tiers: String = (0..n).map(|i| format!("tier t{i} {{ }}\n")).collect();
                let ladder: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
                format!("policy \"p\"\n{tiers}ladder {}\n", ladder.join(" < "))
            },
            2_000,
        ),
        (
            "an add-on for many tiers",
            |n| {
                let tiers: String = (0..n).map(|i| format!("tier t{i} {{ }}\n")).collect();
                let listed: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
                format!("policy \"p\"\nfeature f\n{tiers}addon a for {} {{ grant f }}\n", listed.join(", "))
            },
            2_000,
        ),
        (
            "many unknown names beside many features",
            |n| {
                let features: String = (0..n).map(|i| format!("feature feat{i}\n")).collect();
                let grants: Vec<String> = (0..n).map(|i| format!("faet{i}")).collect();
                format!("policy \"p\"\n{features}tier t {{ grant {} }}\n", grants.join(", "))
            },
            1_000,
        ),
        (
            "many features unused",
            |n| {
                let features: String = (0..n).map(|i| format!("feature f{i}\n")).collect();
                let tiers: String = (0..n / 10).map(|i| format!("tier t{i} {{ grant f{i} }}\n")).collect();
                format!("policy \"p\"\n{features}{tiers}")
            },
            4_000,
        ),
        (
            "a deep inheritance forest",
            |n| {
                let tiers: String = (0..n)
                    .map(|i| {
                        if i % 50 == 0 {
                            format!("tier t{i} {{ }}\n")
                        } else {
                            format!("tier t{i} extends t{} {{ }}\n", i - 1)
                        }
                    })
                    .collect();
                format!("policy \"p\"\nfeature f\naddon a for t0 {{ grant f }}\n{tiers}")
            },
            2_000,
        ),
    ];
    for (name, shape, n) in shapes {
        let (small, large) = (shape(n), shape(2 * n));
        let work = |text: &str| {
            let check = || {
                let checked = entitle::check(&Source::new("p", text));
                drop(std::hint::black_box(checked.map(|c| entitle::compile(&c))));
            };
            let mut steps = 0;
            let (allocations, bytes) =
                crate::allocations::allocations_and_bytes_in(|| steps = entitle::fuzzing::steps_in(check).0);
            (allocations, bytes, steps)
        };
        let ((a1, b1, s1), (a2, b2, s2)) = (work(&small), work(&large));
        let grew = |small: u64, large: u64| large as f64 / (small.max(1) as f64);
        assert!(grew(a1, a2) < 2.5, "{name}: doubling the input took {a1} → {a2} allocations");
        assert!(grew(b1, b2) < 2.5, "{name}: doubling the input asked for {b1} → {b2} bytes");
        assert!(grew(s1, s2) < 2.5, "{name}: doubling the input took {s1} → {s2} steps");
    }
}

/// The inputs past each documented limit: each gets its diagnostic, within memory a small
/// multiple of the input.
#[test]
fn inputs_past_each_limit_get_their_diagnostic_in_bounded_memory() {
    let chain: String =
        (1..10_000).map(|i| format!("tier t{i} extends t{} {{ }}\n", i - 1)).collect::<String>() + "tier t0 { }\n";
    let cases: Vec<(&str, String, Code)> = vec![
        ("a 50 MB policy", "feature x\n".repeat(5 * MIB), Code::InputLimit),
        ("a million declarations", format!("policy \"p\"\n{}", "feature x\n".repeat(1_000_000)), Code::InputLimit),
        ("a megabyte name", format!("policy \"p\"\nfeature {}\n", "n".repeat(MIB)), Code::InputLimit),
        (
            "a number past u64",
            "policy \"p\"\nlimit l : count\ntier t { limit l = 99999999999999999999999 }\n".into(),
            Code::QuantityOverflow,
        ),
        ("a chain of 10,000 extends", format!("policy \"p\"\n{chain}"), Code::InputLimit),
        (
            "3,000 add-ons over 2,000 tiers",
            format!(
                "policy \"p\"\n{}{}",
                (0..2_000).map(|t| format!("tier t{t} {{ }}\n")).collect::<String>(),
                (0..3_000).map(|a| format!("addon a{a} for t{} {{ }}\n", a % 2_000)).collect::<String>()
            ),
            Code::InputLimit,
        ),
    ];
    for (name, text, code) in cases {
        let (bytes, result) = peak_bytes_in(|| entitle::check(&Source::new("p", text.as_str())));
        let diagnostics = result.expect_err(name);
        assert!(diagnostics.iter().any(|d| d.code() == code), "{name}: {:?}", diagnostics.iter().next());
        assert!(
            bytes <= 20 * text.len() + 64 * MIB,
            "{name}: peaked at {} MiB for {} MiB",
            bytes / MIB,
            text.len() / MIB
        );
    }
}

/// Carets stay under the span after tabs and wide characters.
#[test]
fn carets_line_up_after_tabs_and_wide_characters() {
    let text = "policy \"p\"\n// 料金プラン\nfeature f \"高速\"\ntier t {\tgrant g }\n";
    let source = Source::new("p", text);
    let diagnostics = entitle::check(&source).expect_err("unknown feature");
    let shown = render::human(&source, diagnostics.iter().next().expect("one"));
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines[3], "4 | tier t {\tgrant g }");
    assert_eq!(lines[4], "  |         \t      ^");
    // `feature f "高速" ` is 17 columns wide: each of the two ideographs takes two.
    let wide = Source::new("p", "policy \"p\"\nfeature f \"\u{9ad8}\u{901f}\" oops\n");
    let diagnostics = entitle::check(&wide).expect_err("a syntax error");
    let shown = render::human(&wide, diagnostics.iter().next().expect("one"));
    let carets = shown.lines().nth(4).expect("a caret line");
    assert_eq!(carets.find('^'), Some("  | ".len() + 17), "{shown}");
}
