//! The C consumers: `tests/c/*.c` compiled against the committed header and the static
//! library with `-Wall -Wextra -Werror`, run under AddressSanitizer and
//! UndefinedBehaviorSanitizer, then again under valgrind; the conformance corpus answered
//! through the C structs, compared with the Rust answers; a subject's whole entitlement through
//! the typed call, compared with the JSON protocol's; and callers built against the frozen
//! ABI-1 to ABI-7 headers (`tests/c/abi1/` to `tests/c/abi7/`), run the same two
//! ways against this build.
//!
//! Needs `gcc` and `valgrind` on the PATH (`.ci/run` installs them); a test that finds one
//! missing says what to install.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "a test fails loudly, with the value that broke it"
)]

#[path = "conformance.rs"]
mod conformance;
#[path = "support/mod.rs"]
mod support;

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::repository;

/// The directory cargo built this test in, `target/<profile>/deps`, where the crate's
/// `staticlib` and `cdylib` outputs of this same build sit (cargo copies them up a level only
/// for `cargo build`, so a copy there may be stale).
fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent().expect("target/<profile>/deps").to_path_buf()
}

/// The static library, built by cargo with this test.
fn static_library() -> PathBuf {
    let path = deps_dir().join("libentitle_ffi.a");
    assert!(path.is_file(), "{} is missing: cargo builds it with the crate", path.display());
    path
}

/// Why `command` could not start: for a program looked up on the PATH and not found there, what
/// to install (the tools these tests run are packages of the same name).
fn cannot_run(command: &Command, error: &std::io::Error) -> String {
    let program = command.get_program().to_string_lossy();
    if error.kind() == ErrorKind::NotFound && !program.contains('/') {
        format!("cannot run `{program}`: it is not on the PATH; install it: `apt-get install {program}` (.ci/run installs it)")
    } else {
        format!("cannot run {command:?}: {error}")
    }
}

fn run(command: &mut Command) -> Output {
    support::run(command, cannot_run)
}

/// Compiles a C program from `tests/c/` against the committed header and the static library.
pub fn compile(source: &str, output: &str, sanitize: bool) -> PathBuf {
    compile_against("include", source, output, sanitize)
}

/// Compiles a C program from `tests/c/` against the static library, with `#include "entitle.h"`
/// found in `include`, a directory of the repository.
fn compile_against(include: &str, source: &str, output: &str, sanitize: bool) -> PathBuf {
    let root = repository();
    let out_dir = deps_dir().join("c");
    std::fs::create_dir_all(&out_dir).expect("a directory for the C builds");
    let binary = out_dir.join(output);
    let mut gcc = Command::new("gcc");
    gcc.args(["-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg("-I")
        .arg(root.join(include))
        .arg(root.join("tests/c").join(source));
    if sanitize {
        gcc.args(["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]);
    }
    gcc.arg(static_library()).args(["-lpthread", "-ldl", "-lm", "-o"]).arg(&binary);
    run(&mut gcc);
    binary
}

/// Runs a program built with `sanitize`, with leak detection on; it must exit 0.
fn run_sanitized(binary: &Path, argument: &Path) -> Output {
    run(Command::new(binary).arg(argument).env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0"))
}

/// Runs a program built without `sanitize` under valgrind; it must exit 0, with no memory error
/// and no definite or indirect leak.
fn run_under_valgrind(binary: &Path, argument: &Path) -> Output {
    let output = run(Command::new("valgrind")
        .args(["--quiet", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99"])
        .arg(binary)
        .arg(argument));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("ERROR SUMMARY") || stderr.contains("ERROR SUMMARY: 0 errors"), "{stderr}");
    output
}

/// The count line the C test prints last: `N passed, 0 failed`.
fn summary(output: &Output) -> (u32, u32) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or("");
    let mut numbers = line.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty());
    let mut next = || numbers.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    (next(), next())
}

#[test]
fn c_tests_pass_under_address_and_undefined_behaviour_sanitizers() {
    let binary = compile("test_entitle.c", "test_entitle_sanitized", true);
    let output = run_sanitized(&binary, &repository());
    let (passed, failed) = summary(&output);
    assert!(passed > 100 && failed == 0, "{}", String::from_utf8_lossy(&output.stdout));
}

#[test]
fn c_tests_pass_under_valgrind_with_no_leak() {
    let binary = compile("test_entitle.c", "test_entitle_plain", false);
    let output = run_under_valgrind(&binary, &repository());
    let (passed, failed) = summary(&output);
    assert!(passed > 100 && failed == 0, "{}", String::from_utf8_lossy(&output.stdout));
}

/// Everything `tests/c/test_abi1_caller.c` prints when the library answers it as ABI 1 did. The
/// count is exact, so a check that stops running is noticed too (as for every caller below).
const ABI1_CALLER_OUTPUT: &str = "\
built against ABI 1; the library implements at least that
hd_video for pro: allowed (granted_by_tier)
api_calls_per_day for pro: overage, 10000 left, resets at 1795305600
support_channel for pro: email
287 passed, 0 failed
";

/// Everything `tests/c/test_abi2_caller.c` prints when the library answers it as ABI 2 did.
const ABI2_CALLER_OUTPUT: &str = "\
built against ABI 2; the library implements at least that
hd_video for the tier set last (pro): allowed (granted_by_tier)
hd_video by name for the tier set last (free): denied (not_granted)
api_calls_per_day for pro: overage, 10000 left
another engine's hd_video: denied (unknown_feature)
30 passed, 0 failed
";

/// Everything `tests/c/test_abi3_caller.c` prints when the library answers it as ABI 3 did.
const ABI3_CALLER_OUTPUT: &str = "\
built against ABI 3; the library implements at least that
api_calls_per_day for pro: overage, window 1795219200 to 1795305600
ai_minutes with ai_pack: 11000
ai_pack held twice: duplicate_addon
39 passed, 0 failed
";

/// Everything `tests/c/test_abi4_caller.c` prints when the library answers it as ABI 4 did.
const ABI4_CALLER_OUTPUT: &str = "\
built against ABI 4; the library implements at least that
api_calls_per_day for pro: overage, 10000 left
storage with three packs: 150 GiB more
ai_minutes for team with 10 seats: 10000
41 passed, 0 failed
";

/// Everything `tests/c/test_abi5_caller.c` prints when the library answers it as ABI 5 did.
const ABI5_CALLER_OUTPUT: &str = "\
built against ABI 5; the library implements at least that
api_calls_per_day for acme: 2000000, overridden
api_calls_per_day for app-42: 1000000, from the plan
23 passed, 0 failed
";

/// Everything `tests/c/test_abi6_caller.c` prints when the library answers it as ABI 6 did.
const ABI6_CALLER_OUTPUT: &str = "\
built against ABI 6; the library implements at least that
binding: api_calls_per_day (1 of 3)
18 passed, 0 failed
";

/// Everything `tests/c/test_abi7_caller.c` prints when the library answers it as ABI 7 did.
const ABI7_CALLER_OUTPUT: &str = "\
built against ABI 7; the library implements at least that
conversation_minutes for pro: 600 s cost 50 ai_credits, 12000 s left (warning)
transcription_minutes for pro: 90 s cost 3 ai_credits, 30000 s left (warning)
92 passed, 0 failed
";

/// Builds `tests/c/test_abi{abi}_caller.c` with `#include "entitle.h"` found in `header_dir`,
/// runs it on `policies/rtc-sdk.policy` under the sanitizers (`sanitize`) or under valgrind,
/// and checks that it prints exactly `expected`; its stderr names any check that failed.
/// First the header must still be the ABI-`abi` one, defining that version and not declaring
/// `next`, a name ABI `abi + 1` added: a header refreshed from `include/` would make the test
/// prove nothing.
fn frozen_caller(abi: u32, header_dir: &str, next: &str, expected: &str, sanitize: bool) {
    let header = std::fs::read_to_string(repository().join(header_dir).join("entitle.h"))
        .unwrap_or_else(|e| panic!("{header_dir}/entitle.h: {e}"));
    assert!(
        header.contains(&format!("\n#define ENTITLE_ABI_VERSION {abi}\n")),
        "{header_dir}/entitle.h is not the ABI-{abi} header"
    );
    assert!(!header.contains(next), "{header_dir}/entitle.h declares ABI {}'s `{next}`", abi + 1);
    let build = if sanitize { "sanitized" } else { "plain" };
    let source = format!("test_abi{abi}_caller.c");
    let binary = compile_against(header_dir, &source, &format!("test_abi{abi}_caller_{build}"), sanitize);
    let output = if sanitize {
        run_sanitized(&binary, &rtc_sdk_policy())
    } else {
        run_under_valgrind(&binary, &rtc_sdk_policy())
    };
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        expected,
        "--- stderr\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// For each frozen header `tests/c/abiN/`, a module of two tests, `answers_alike_under_sanitizers`
/// and `answers_alike_under_valgrind`, each running `frozen_caller` for ABI N, the name ABI
/// N + 1 added and the caller's output.
macro_rules! frozen_callers {
    ($($module:ident: $abi:literal, $next:literal, $output:ident;)*) => {$(
        mod $module {
            #[test]
            fn answers_alike_under_sanitizers() {
                super::frozen_caller($abi, concat!("tests/c/abi", $abi), $next, super::$output, true);
            }

            #[test]
            fn answers_alike_under_valgrind() {
                super::frozen_caller($abi, concat!("tests/c/abi", $abi), $next, super::$output, false);
            }
        }
    )*};
}

frozen_callers! {
    a_caller_built_against_abi_1: 1, "entitle_engine_clone", ABI1_CALLER_OUTPUT;
    a_caller_built_against_abi_2: 2, "entitle_setting_answer", ABI2_CALLER_OUTPUT;
    a_caller_built_against_abi_3: 3, "entitle_quota2", ABI3_CALLER_OUTPUT;
    a_caller_built_against_abi_4: 4, "entitle_overrides", ABI4_CALLER_OUTPUT;
    a_caller_built_against_abi_5: 5, "entitle_check_limits", ABI5_CALLER_OUTPUT;
    a_caller_built_against_abi_6: 6, "entitle_check_draw", ABI6_CALLER_OUTPUT;
    a_caller_built_against_abi_7: 7, "bool rolling;", ABI7_CALLER_OUTPUT;
}

fn rtc_sdk_policy() -> PathBuf {
    repository().join("policies/rtc-sdk.policy")
}

#[test]
fn a_missing_tool_says_what_to_install() {
    let mut missing = Command::new("entitle-test-no-such-tool");
    let error = missing.output().expect_err("no such program is on the PATH");
    let message = cannot_run(&missing, &error);
    assert!(message.contains("`apt-get install entitle-test-no-such-tool`"), "{message}");
    assert!(cannot_run(&Command::new("valgrind"), &error).contains("`apt-get install valgrind`"));
}

/// The whole entitlement of a subject through `entitle_query_entitlements` equals the JSON
/// protocol's `"entitlements": true` answer, for every tier of `policies/rtc-sdk.policy` (and
/// one it lacks), with and without add-ons and usage: `tests/c/entitlements.c` prints the two
/// side by side, built under the sanitizers.
#[test]
fn the_typed_entitlements_equal_the_json_protocols() {
    let binary = compile("entitlements.c", "entitlements_sanitized", true);
    let output = run_sanitized(&binary, &rtc_sdk_policy());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<serde_json::Value> =
        stdout.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))).collect();
    // 5 tiers, 4 sets of add-ons, with and without usage: 40 pairs.
    assert_eq!(lines.len(), 80, "{stdout}");
    for pair in lines.chunks(2) {
        assert_eq!(pair[1], pair[0], "the typed answer (left) differs from the JSON protocol's (right)");
    }
    // The pairs cover what the typed call has to get right: usage, display text, unknown tiers.
    assert!(lines.iter().any(|answer| answer["limits"]["api_calls_per_day"]["reason"] == "overage"));
    assert!(lines.iter().any(|answer| answer["settings"]["sla_availability"]["display"] == "99.9%"));
    assert!(lines.iter().any(|answer| answer["features"]["hd_video"]["reason"] == "unknown_tier"));
}

/// The C program of `docs/bindings.md` and the output the page shows for it: the first ```c
/// block, and the `# ` lines after the `./app` line of the first ```sh block.
fn documented_example() -> (String, String) {
    let page = std::fs::read_to_string(repository().join("docs/bindings.md")).expect("docs/bindings.md");
    let block = |fence: &str| {
        let start = page.find(fence).unwrap_or_else(|| panic!("docs/bindings.md has no {fence} block")) + fence.len();
        let rest = &page[start..];
        rest[..rest.find("\n```").expect("the block ends")].trim_start_matches('\n').to_string()
    };
    let shell = block("```sh\n");
    let expected: String = shell
        .lines()
        .skip_while(|line| !line.starts_with("./app "))
        .skip(1)
        .map_while(|line| line.strip_prefix("# "))
        .map(|line| format!("{line}\n"))
        .collect();
    (block("```c\n") + "\n", expected)
}

/// The C example of `docs/bindings.md` builds against the header and the static library, runs
/// from a directory of its own, and prints what the page says it prints.
#[test]
fn the_c_example_of_the_docs_prints_what_they_show() {
    let (program, expected) = documented_example();
    assert!(expected.lines().count() >= 2, "the page shows the example's output: {expected:?}");
    let dir = std::env::temp_dir().join(format!("entitle-doc-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let source = dir.join("app.c");
    std::fs::write(&source, program).expect("app.c is writable");
    let binary = compile(source.to_str().expect("a UTF-8 path"), "doc_example_sanitized", true);
    let output = run(Command::new(&binary)
        .arg(rtc_sdk_policy())
        .current_dir(&dir)
        .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0"));
    std::fs::remove_dir_all(&dir).expect("the temporary directory is removable");
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
}
