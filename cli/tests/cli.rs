//! Golden runs of the `entitle` command: each `cli/tests/golden/NAME.args` (the arguments, on
//! one line, run from the repository root) beside the `NAME.out` it must produce: exit status,
//! standard output and standard error. A `NAME.stdin` beside them, if present, is fed to
//! standard input. `ENTITLE_BLESS=1` rewrites the `.out` files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "a test fails loudly, with the value that broke it"
)]

#[path = "../../tests/all/golden.rs"]
mod golden;

use std::io::Write;
use std::process::{Command, Stdio};

use crate::golden::{assert_no_failures, compare, files_with_extension, root};

fn run(args: &str) -> String {
    run_with_input(args, b"")
}

fn run_with_input(args: &str, input: &[u8]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_entitle"))
        .args(args.split_whitespace())
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the entitle binary runs");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    // Feed input from another thread so a child that answers as it reads cannot deadlock us.
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().expect("the entitle binary finishes");
    feeder.join().expect("the feeder thread finishes");
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().map_or("signal".to_string(), |c| c.to_string()),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    )
}

#[test]
fn every_cli_run_matches_its_golden_file() {
    let mut failures = Vec::new();
    for args_file in files_with_extension(&root().join("cli/tests/golden"), "args") {
        let args = std::fs::read_to_string(&args_file).expect("readable args");
        let stdin = std::fs::read(args_file.with_extension("stdin")).unwrap_or_default();
        if let Some(failure) = compare(&args_file.with_extension("out"), &run_with_input(args.trim(), &stdin)) {
            failures.push(failure);
        }
    }
    assert_no_failures(failures);
}

/// The exit statuses are an interface: pin them apart from the golden text.
#[test]
fn exit_statuses_follow_the_documented_contract() {
    let status = |args: &str| run(args).lines().next().unwrap_or("").to_string();
    assert_eq!(status("check policies/"), "exit: 0");
    assert_eq!(status("check tests/diagnostics/E004-unknown-feature.policy"), "exit: 1");
    assert_eq!(status("check tests/diagnostics/W006-unused-feature.policy"), "exit: 0");
    assert_eq!(status("check --deny-warnings tests/diagnostics/W006-unused-feature.policy"), "exit: 1");
    assert_eq!(status("check no/such/file.policy"), "exit: 2");
    assert_eq!(status("check"), "exit: 2");
    assert_eq!(status("eval tests/diagnostics/E004-unknown-feature.policy"), "exit: 1");
    assert_eq!(status("eval no/such/file.policy"), "exit: 2");
}

/// The exit statuses with an override set: 1 when the set (or its policy) has errors, 2 when a
/// file cannot be read or the arguments do not fit.
#[test]
fn override_exit_statuses_follow_the_contract() {
    let status = |args: &str| run(args).lines().next().unwrap_or("").to_string();
    let (policy, set) = ("tests/conformance/overrides.policy", "tests/conformance/overrides.overrides");
    let next = "cli/tests/inputs/overrides-next.overrides";
    let (plans, overlap) =
        ("tests/diagnostics/overrides/plans.policy", "tests/diagnostics/overrides/E024-override-overlap.overrides");
    assert_eq!(status(&format!("check --overrides {set} {policy}")), "exit: 0");
    assert_eq!(status(&format!("check --deny-warnings --overrides {set} {policy}")), "exit: 1", "the policy warns");
    assert_eq!(status(&format!("check --overrides {overlap} {plans}")), "exit: 1");
    assert_eq!(status(&format!("check --overrides {set} tests/diagnostics/E004-unknown-feature.policy")), "exit: 1");
    assert_eq!(status(&format!("check --overrides no/such.jsonl {policy}")), "exit: 2");
    assert_eq!(status(&format!("check --overrides {set} {policy} {policy}")), "exit: 2");
    assert_eq!(status(&format!("eval --overrides {set} {policy}")), "exit: 0");
    assert_eq!(status(&format!("eval --overrides {overlap} {plans}")), "exit: 1");
    assert_eq!(status(&format!("eval --overrides no/such.jsonl {policy}")), "exit: 2");
    assert_eq!(
        status(&format!("explain {policy} --overrides {set} --tier pro --key acme --feature sso --now 0")),
        "exit: 0"
    );
    assert_eq!(status(&format!("explain {plans} --overrides {overlap} --tier pro --feature sso")), "exit: 1");
    assert_eq!(status(&format!("matrix {policy} --overrides {set} --format json")), "exit: 0");
    assert_eq!(status(&format!("matrix {policy} --overrides {set} --format csv")), "exit: 2");
    assert_eq!(status(&format!("diff {policy} --overrides {set} {next}")), "exit: 0");
    assert_eq!(status(&format!("diff --exit-code {policy} --overrides {set} {next}")), "exit: 1");
    assert_eq!(status(&format!("diff --exit-code {policy} --overrides {next} {set}")), "exit: 1");
    assert_eq!(status(&format!("diff --exit-code {policy} --overrides {set} {set}")), "exit: 0");
    assert_eq!(status(&format!("diff {policy} --overrides {set} {next} --tiers free pro")), "exit: 2");
}

/// The corpus's override case through `entitle eval --overrides` gives, line for line, what
/// the library's protocol gives with the same set.
#[test]
fn eval_with_overrides_answers_as_the_library_does() {
    let policy = root().join("tests/conformance/overrides.policy");
    let engine = entitle::Engine::from_path(&policy).expect("the corpus policy checks");
    let overrides = entitle::Overrides::from_path(&engine, root().join("tests/conformance/overrides.overrides"))
        .expect("the corpus set checks");
    let queries: Vec<String> = std::fs::read_to_string(policy.with_extension("jsonl"))
        .expect("a .jsonl beside the policy")
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("JSON")["query"].to_string())
        .collect();
    let output = run_with_input(
        "eval --overrides tests/conformance/overrides.overrides tests/conformance/overrides.policy",
        (queries.join("\n") + "\n").as_bytes(),
    );
    let answers: Vec<&str> =
        output.split("--- stdout\n").nth(1).unwrap_or("").lines().take_while(|l| *l != "--- stderr").collect();
    assert_eq!(answers.len(), queries.len(), "{output}");
    let mut overridden = 0;
    for (query, answer) in queries.iter().zip(answers) {
        assert_eq!(answer, entitle::wire::answer_line_with(&engine, Some(&overrides), query), "{query}");
        overridden += usize::from(answer.contains("override") || answer.contains("\"overridden\":true"));
    }
    assert!(overridden > 5, "only {overridden} answers came from an override");
}

/// `matrix --overrides --format json` streams, byte for byte, the document printed whole, and
/// lists every subject once, sorted.
#[test]
fn matrix_with_overrides_streams_the_whole_document() {
    let output = run(
        "matrix tests/conformance/overrides.policy --overrides tests/conformance/overrides.overrides --format json",
    );
    let stdout = output.split("--- stdout\n").nth(1).and_then(|rest| rest.split("--- stderr\n").next()).unwrap_or("");
    let document: serde_json::Value = serde_json::from_str(stdout).expect("JSON");
    assert_eq!(serde_json::to_string_pretty(&document).expect("prints") + "\n", stdout);
    let subjects: Vec<&str> = document["overrides"]["subjects"]
        .as_array()
        .expect("subjects")
        .iter()
        .filter_map(|s| s["subject"].as_str())
        .collect();
    let mut sorted = subjects.clone();
    sorted.sort_unstable();
    assert_eq!(subjects, sorted);
    assert_eq!(subjects.len(), 8);
    assert_eq!(document["overrides"]["records"], 12);
}

/// A subject key, reason or author may hold control characters; `matrix` and `diff` show
/// them escaped, so a record cannot write terminal escapes.
#[test]
fn override_text_shows_control_characters_escaped() {
    let dir = std::env::temp_dir().join(format!("entitle-override-escape-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let set = dir.join("set.jsonl");
    std::fs::write(&set, "{\"subject\":\"a\\u001b[2J\",\"feature\":\"sso\",\"op\":\"grant\",\"reason\":\"r\\u0007\",\"author\":\"x\\u001b\"}\n")
        .expect("a set");
    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, "# nothing yet\n").expect("an empty set");
    let entitle = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_entitle")).args(args).current_dir(root()).output().expect("runs")
    };
    let policy = std::ffi::OsStr::new("tests/conformance/overrides.policy");
    let flag = std::ffi::OsStr::new("--overrides");
    let matrix = entitle(&[std::ffi::OsStr::new("matrix"), policy, flag, set.as_os_str()]);
    let diff = entitle(&[std::ffi::OsStr::new("diff"), policy, flag, empty.as_os_str(), set.as_os_str()]);
    let _ = std::fs::remove_dir_all(&dir);
    for output in [matrix, diff] {
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(!stdout.contains(['\u{1b}', '\u{7}']), "{stdout:?}");
        assert!(stdout.contains("subject `a\u{241b}[2J`"), "{stdout:?}");
    }
}

/// Every example of an override set or of `entitle eval` in docs/cli.md runs (from the
/// repository root, as the reference says), and prints the lines the reference shows (`…`
/// stands for lines left out).
#[test]
fn the_documented_override_and_eval_examples_print_what_the_reference_shows() {
    let doc = std::fs::read_to_string(root().join("docs/cli.md")).expect("docs/cli.md");
    let mut lines = doc.lines();
    let mut ran = 0;
    while let Some(line) = lines.next() {
        let Some(command) =
            line.strip_prefix("$ ").filter(|c| c.contains("--overrides") || c.contains("| entitle eval"))
        else {
            continue;
        };
        let (input, args) = match command.split_once(" | entitle ") {
            Some((echo, args)) => {
                let text = echo.trim_start_matches("echo '").trim_end_matches('\'');
                (format!("{text}\n"), args)
            }
            None => (String::new(), command.strip_prefix("entitle ").expect("an entitle command")),
        };
        let output = run_with_input(args, input.as_bytes());
        assert!(output.starts_with("exit: 0") || output.starts_with("exit: 1"), "{command}\n{output}");
        for expected in lines.by_ref().take_while(|l| !l.starts_with("```")) {
            if !expected.contains('…') && !expected.trim().is_empty() {
                assert!(output.lines().any(|l| l == expected), "{command}\nprints no line {expected:?}:\n{output}");
            }
        }
        ran += 1;
    }
    assert!(ran >= 8, "only {ran} documented override and eval examples");
}

/// A line past the limit is answered with an error without being held whole, and the stream
/// goes on; so does a line that is not UTF-8.
#[test]
fn eval_answers_every_line_even_after_bad_ones() {
    let mut input = vec![b'x'; entitle::Limits::default().query_line_bytes + 10];
    input.extend_from_slice(b"\n\xff\xfe\n \t\r\n\n{\"id\":1,\"tier\":\"pro\",\"now\":0,\"feature\":\"hd_video\"}\r\n");
    let output = run_with_input("eval policies/rtc-sdk.policy", &input);
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines[0], "exit: 0");
    assert_eq!(lines[2], r#"{"code":"line_too_long","error":"query is longer than 65536 bytes"}"#);
    assert_eq!(lines[3], r#"{"code":"not_utf8","error":"query is not UTF-8 (invalid byte at offset 0)"}"#);
    // Blank lines are answered too, so a client pairing answers with lines stays in step.
    let empty = r#"{"code":"empty_line","error":"empty line; every line holds one query"}"#;
    assert_eq!(lines[4], empty);
    assert_eq!(lines[5], empty);
    assert_eq!(lines[6], r#"{"allowed":true,"id":1,"reason":"granted_by_tier"}"#);
    assert_eq!(lines[7], "--- stderr");
}

/// The conformance corpus through the `entitle eval` binary gives, line for line, what the
/// library's JSON protocol gives: the command adds nothing and loses nothing.
#[test]
fn eval_answers_the_conformance_corpus_as_the_library_does() {
    let dir = root().join("tests/conformance");
    let mut compared = 0;
    for policy in files_with_extension(&dir, "policy") {
        let engine = entitle::Engine::from_path(&policy).expect("corpus policies check");
        let queries: Vec<String> = std::fs::read_to_string(policy.with_extension("jsonl"))
            .expect("a .jsonl beside the policy")
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .map(|line| {
                serde_json::from_str::<serde_json::Value>(line).expect("corpus lines are JSON")["query"].to_string()
            })
            .collect();
        let relative = policy.strip_prefix(root()).expect("inside the repository");
        let output = run_with_input(&format!("eval {}", relative.display()), (queries.join("\n") + "\n").as_bytes());
        let answers: Vec<&str> =
            output.split("--- stdout\n").nth(1).unwrap_or("").lines().take_while(|l| *l != "--- stderr").collect();
        assert_eq!(answers.len(), queries.len(), "{output}");
        for (query, answer) in queries.iter().zip(answers) {
            assert_eq!(answer, entitle::wire::answer_line(&engine, query), "{query}");
            compared += 1;
        }
    }
    assert!(compared > 50, "only {compared} corpus queries");
}

/// A FIFO named like a policy is refused at once instead of blocking the walk, and the files
/// beside it are still checked.
#[test]
fn a_fifo_named_like_a_policy_does_not_hang_the_walk() {
    let dir = std::env::temp_dir().join(format!("entitle-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let fifo = dir.join("x.policy");
    let _ = std::fs::remove_file(&fifo);
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    std::fs::write(dir.join("y.policy"), "policy \"p\"\nfeature f\ntier t { grant f }\n").expect("a policy");
    let mut child = Command::new(env!("CARGO_BIN_EXE_entitle"))
        .arg("check")
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the entitle binary runs");
    let started = std::time::Instant::now();
    while child.try_wait().expect("waitable").is_none() {
        if started.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("`entitle check` hung on a FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("finished");
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("x.policy") && stderr.contains("not a regular file"), "{stderr}");
    // The unreadable path is a finding: the summary never says "no problems" of the run.
    assert!(stdout.contains("1 file checked, 1 path could not be read: no problems in the files read"), "{stdout}");
}

/// Human diagnostics are coloured on a terminal, and plain when `NO_COLOR` is set or the
/// output is not a terminal (every other test here reads a pipe, and its goldens hold no
/// escape codes). `script` (util-linux) gives the command a terminal.
#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let on_terminal = |no_color: Option<&str>| {
        let command = format!("{} check tests/diagnostics/E004-unknown-feature.policy", env!("CARGO_BIN_EXE_entitle"));
        let mut script = Command::new("script");
        script.args(["-q", "-e", "-c", &command, "/dev/null"]).current_dir(root()).env_remove("NO_COLOR");
        if let Some(value) = no_color {
            script.env("NO_COLOR", value);
        }
        let output = script.output().expect("`script` runs (util-linux)");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let coloured = on_terminal(None);
    assert!(coloured.contains("\u{1b}[1;31merror[E004]"), "{coloured:?}");
    let plain = on_terminal(Some("1"));
    assert!(plain.contains("error[E004]") && !plain.contains('\u{1b}'), "{plain:?}");
    // An empty NO_COLOR does not count as set.
    assert!(on_terminal(Some("")).contains('\u{1b}'));
    let piped = run("check tests/diagnostics/E004-unknown-feature.policy");
    assert!(piped.contains("error[E004]") && !piped.contains('\u{1b}'), "{piped}");
}

/// `fmt --write` rewrites a file in place, after which `--check` passes; a formatted file is
/// left untouched.
#[test]
fn fmt_write_then_check_passes() {
    let dir = std::env::temp_dir().join(format!("entitle-fmt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let messy = dir.join("messy.policy");
    std::fs::copy(root().join("cli/tests/inputs/messy.policy"), &messy).expect("copied");
    let entitle = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_entitle")).args(args).output().expect("runs");
    let path = messy.to_str().expect("UTF-8 path");
    assert_eq!(entitle(&["fmt", "--check", path]).status.code(), Some(1));
    assert_eq!(entitle(&["fmt", "--write", path]).status.code(), Some(0));
    let check = entitle(&["fmt", "--check", path]);
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stdout));
    let formatted = std::fs::read_to_string(&messy).expect("readable");
    assert!(formatted.contains("// Calls are generous on pro.") && formatted.starts_with("// A policy written"));
    assert!(!dir.join("messy.policy.fmt-tmp").exists(), "the temporary file is gone");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `fmt --write` through a symbolic link rewrites the file it names and leaves the link a
/// link; the file keeps its permissions.
#[cfg(unix)]
#[test]
fn fmt_write_follows_a_symlink_and_keeps_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("entitle-fmt-link-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("real")).expect("a temporary directory");
    let target = dir.join("real/messy.policy");
    let link = dir.join("link.policy");
    std::fs::copy(root().join("cli/tests/inputs/messy.policy"), &target).expect("copied");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&target, &link).expect("a symbolic link");
    let entitle = |args: &[&std::path::Path]| {
        Command::new(env!("CARGO_BIN_EXE_entitle")).arg("fmt").args(args).output().expect("runs")
    };
    let written = entitle(&[std::path::Path::new("--write"), &link]);
    assert_eq!(written.status.code(), Some(0), "{}", String::from_utf8_lossy(&written.stderr));
    assert!(std::fs::symlink_metadata(&link).expect("the link").file_type().is_symlink(), "the link stays a link");
    let check = entitle(&[std::path::Path::new("--check"), &target]);
    assert_eq!(check.status.code(), Some(0), "the target is formatted: {}", String::from_utf8_lossy(&check.stdout));
    let mode = std::fs::metadata(&target).expect("the target").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the target keeps its permissions");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The exit statuses of the author's toolbox, apart from the golden text.
#[test]
fn toolbox_exit_statuses_follow_the_contract() {
    let status = |args: &str| run(args).lines().next().unwrap_or("").to_string();
    assert_eq!(status("fmt --check policies/"), "exit: 0");
    assert_eq!(status("fmt --check cli/tests/inputs/messy.policy"), "exit: 1");
    assert_eq!(status("fmt --check no/such/file.policy"), "exit: 2");
    assert_eq!(status("matrix policies/rtc-sdk.policy --format csv"), "exit: 0");
    assert_eq!(status("matrix policies/rtc-sdk.policy --addon nope"), "exit: 2");
    assert_eq!(status("diff policies/rtc-sdk.policy cli/tests/inputs/rtc-sdk-next.policy"), "exit: 0");
    assert_eq!(status("diff --exit-code policies/rtc-sdk.policy cli/tests/inputs/rtc-sdk-next.policy"), "exit: 1");
    assert_eq!(status("diff --exit-code cli/tests/inputs/rtc-sdk-next.policy policies/rtc-sdk.policy"), "exit: 1");
    assert_eq!(status("diff --exit-code policies/rtc-sdk.policy policies/rtc-sdk.policy"), "exit: 0");
    assert_eq!(status("diff --exit-code policies/rtc-sdk.policy --tiers free pro"), "exit: 0");
    assert_eq!(status("diff --exit-code policies/rtc-sdk.policy --tiers pro free"), "exit: 1");
    assert_eq!(status("explain policies/rtc-sdk.policy --tier nope --feature hd_video"), "exit: 2");
    assert_eq!(status("explain tests/diagnostics/E004-unknown-feature.policy --tier free --feature f"), "exit: 1");
    assert_eq!(status("check --format github tests/diagnostics/E004-unknown-feature.policy"), "exit: 1");
}

/// docs/cli.md documents every subcommand and every error code of the query protocol.
#[test]
fn the_cli_reference_documents_every_subcommand_and_error_code() {
    let doc = std::fs::read_to_string(root().join("docs/cli.md")).expect("docs/cli.md");
    for subcommand in ["check", "fmt", "matrix", "diff", "explain", "eval", "build"] {
        assert!(doc.contains(&format!("## `entitle {subcommand}")), "docs/cli.md lacks `entitle {subcommand}`");
        let help = run(&format!("{subcommand} --help"));
        assert!(help.starts_with("exit: 0") && help.contains("Example"), "{subcommand} --help lacks an example");
    }
    // Every subcommand that takes an override set says so in its help, with an example, and
    // the reference has an example of it.
    for subcommand in ["check", "matrix", "diff", "explain", "eval"] {
        let help = run(&format!("{subcommand} --help"));
        let examples = help.split("Example").nth(1).unwrap_or("");
        assert!(
            help.contains("--overrides") && examples.contains("--overrides"),
            "{subcommand} --help lacks `--overrides`"
        );
        assert!(
            doc.lines().any(|line| line.starts_with("$ ")
                && line.contains(&format!("entitle {subcommand} "))
                && line.contains("--overrides")),
            "docs/cli.md lacks `{subcommand} --overrides`"
        );
    }
    use entitle::wire::error_code::*;
    let codes = [
        EMPTY_LINE,
        LINE_TOO_LONG,
        NOT_UTF8,
        NOT_JSON,
        INVALID_QUERY,
        INVALID_INSTANT,
        INVALID_BILLING_ANCHOR,
        AMBIGUOUS_QUESTION,
        UNKNOWN_USAGE,
    ];
    for code in codes {
        assert!(doc.contains(&format!("| `{code}` |")), "docs/cli.md lacks the error code `{code}`");
    }
}

/// A policy whose add-ons attach to every one of many tiers would make comparing each add-on's
/// effect on each tier take minutes; past a budget, `diff` compares attachments only and says so.
#[test]
fn diff_of_many_widely_attached_addons_stays_bounded() {
    let dir = std::env::temp_dir().join(format!("entitle-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let policy = |extra: &str| {
        let mut text = String::from("policy \"big\"\n");
        text += &(0..200).map(|f| format!("feature f{f}\n")).collect::<String>();
        text += &(0..1_000).map(|t| format!("tier t{t} {{ grant f{} }}\n", t % 200)).collect::<String>();
        let all: Vec<String> = (0..1_000).map(|t| format!("t{t}")).collect();
        for a in 0..101 {
            text += &format!("addon a{a} for {} {{ grant f{} }}\n", all.join(", "), (a + 1) % 200);
        }
        text + extra
    };
    let (old, new) = (dir.join("old.policy"), dir.join("new.policy"));
    std::fs::write(&old, policy("")).expect("written");
    std::fs::write(&new, policy("addon extra for t0 { grant f7 }\n")).expect("written");
    let output = Command::new(env!("CARGO_BIN_EXE_entitle"))
        .args(["diff", "--format", "json"])
        .arg(&old)
        .arg(&new)
        .output()
        .expect("runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["addon_effects_compared"], false);
    assert_eq!(report["addons"][0]["addon"], "extra");
    assert_eq!(report["addons"][0]["status"], "added");
}

/// `entitle build` writes a bundle that `check`, `eval` and `matrix` take where they take the
/// policy, with the same answers; a damaged bundle is an I/O error that says what is wrong.
#[test]
fn a_built_bundle_serves_wherever_the_policy_does() {
    let dir = std::env::temp_dir().join(format!("entitle-build-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let bundle = dir.join("rtc-sdk.bundle");
    let bundle_path = bundle.to_str().expect("UTF-8 path");
    let built = run(&format!("build policies/rtc-sdk.policy -o {bundle_path}"));
    let hash = entitle::PolicyHash::of(&std::fs::read(root().join("policies/rtc-sdk.policy")).expect("readable"));
    assert!(built.starts_with("exit: 0") && built.contains(&format!("sha256 {hash}")), "{built}");
    // The JSON report is one line, its fields pinned here.
    let reported = run(&format!("build policies/rtc-sdk.policy -o {bundle_path} --format json"));
    let bytes = std::fs::metadata(&bundle).expect("written").len();
    let expected = format!(
        "exit: 0\n--- stdout\n{{\"bytes\":{bytes},\"engine_version\":\"{}\",\"format_version\":{},\"output\":\"{bundle_path}\",\
         \"policy\":\"rtc-sdk\",\"policy_hash\":\"{hash}\",\"source\":\"policies/rtc-sdk.policy\",\"version\":\"2026.11\"}}\n\
         --- stderr\n",
        env!("CARGO_PKG_VERSION"),
        entitle::bundle::FORMAT_VERSION
    );
    assert_eq!(reported, expected);

    let queries = std::fs::read(root().join("cli/tests/golden/eval-rtc-sdk.stdin")).unwrap_or_else(|_| {
        br#"{"tier":"pro","key":"app-42","now":"2026-11-21T10:00:00Z","feature":"hd_video"}
{"tier":"free","now":"2026-11-21T10:00:00Z","limit":"api_calls_per_day","used":9999,"requested":5}
"#
        .to_vec()
    });
    let from_policy = run_with_input("eval policies/rtc-sdk.policy", &queries);
    let from_bundle = run_with_input(&format!("eval {bundle_path}"), &queries);
    assert_eq!(from_policy, from_bundle);
    let stamped = run_with_input(&format!("eval --with-policy-hash {bundle_path}"), &queries);
    let stamp = format!(",\"policy_hash\":\"{hash}\"}}");
    assert!(stamped.lines().filter(|l| l.starts_with('{')).all(|l| l.ends_with(&stamp)), "{stamped}");

    let summary = |out: String| out.lines().find(|l| l.starts_with("checked")).map(str::to_owned);
    assert_eq!(summary(run(&format!("check {bundle_path}"))), summary(run("check policies/rtc-sdk.policy")));
    assert_eq!(
        run(&format!("matrix {bundle_path}")),
        run("matrix policies/rtc-sdk.policy"),
        "matrix reads the bundle's model"
    );

    let mut damaged = std::fs::read(&bundle).expect("readable");
    let middle = damaged.len() / 2;
    damaged[middle] ^= 1;
    std::fs::write(&bundle, &damaged).expect("writable");
    let refused = run(&format!("eval {bundle_path}"));
    assert!(refused.starts_with("exit: 2") && refused.contains("corrupt"), "{refused}");
    let refused = run(&format!("check {bundle_path}"));
    assert!(refused.starts_with("exit: 2") && refused.contains("corrupt"), "{refused}");

    let failed = run(&format!("build tests/diagnostics/E004-unknown-feature.policy -o {bundle_path}"));
    assert!(failed.starts_with("exit: 1") && failed.contains("E004"), "{failed}");
    assert_eq!(std::fs::read(&bundle).expect("readable"), damaged, "a failed build leaves the old file");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `entitle build POLICY -o OUTPUT` with paths that need not be UTF-8.
fn build(policy: &std::path::Path, output: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_entitle")).arg("build").arg(policy).arg("-o").arg(output).output().expect("runs")
}

/// `build -o` naming the policy itself, however spelt, is refused before anything is written:
/// the bundle would replace the only copy of the source.
#[test]
fn build_refuses_to_write_the_bundle_over_its_policy() {
    let dir = std::env::temp_dir().join(format!("entitle-build-self-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let policy = dir.join("p.policy");
    let text = "policy \"p\"\nfeature f\ntier t { grant f }\n";
    std::fs::write(&policy, text).expect("a policy");
    for output in [policy.clone(), dir.join(".").join("p.policy")] {
        let built = build(&policy, &output);
        let stderr = String::from_utf8_lossy(&built.stderr);
        assert_eq!(built.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("is the policy being built") && stderr.lines().count() == 1, "{stderr}");
        assert_eq!(std::fs::read_to_string(&policy).expect("readable"), text, "the policy is untouched");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A policy's name and version may hold control characters; `build` shows them as control
/// pictures, as the diagnostics do, so a policy cannot write terminal escapes.
#[test]
fn build_shows_control_characters_in_names_as_pictures() {
    let dir = std::env::temp_dir().join(format!("entitle-build-escape-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let policy = dir.join("p.policy");
    std::fs::write(&policy, "policy \"p\u{1b}[2J\" version \"1\u{7}\"\nfeature f\ntier t { grant f }\n")
        .expect("a policy");
    let built = build(&policy, &dir.join("p.bundle"));
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&built.stdout);
    assert_eq!(built.status.code(), Some(0), "{}", String::from_utf8_lossy(&built.stderr));
    assert!(!stdout.contains(['\u{1b}', '\u{7}']), "{stdout:?}");
    assert!(stdout.contains("policy `p\u{241b}[2J` version `1\u{2407}`"), "{stdout:?}");
}
