//! Golden CLI runs: each `tests/cli/NAME.args` (the arguments, on one line) beside the
//! `NAME.out` it must produce: exit status, standard output and standard error.
#![cfg(feature = "cli")]

use std::process::Command;

use crate::golden::{assert_no_failures, compare, files_with_extension, root};

fn run(args: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_entitle"))
        .args(args.split_whitespace())
        .current_dir(root())
        .output()
        .expect("the entitle binary runs");
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
    for args_file in files_with_extension(&root().join("tests/cli"), "args") {
        let args = std::fs::read_to_string(&args_file).expect("readable args");
        if let Some(failure) = compare(&args_file.with_extension("out"), &run(args.trim())) {
            failures.push(failure);
        }
    }
    assert_no_failures(failures);
}

/// The exit statuses are an interface (DESIGN.md): pin them apart from the golden text.
#[test]
fn exit_statuses_follow_the_documented_contract() {
    let status = |args: &str| run(args).lines().next().unwrap_or("").to_string();
    assert_eq!(status("check policies/"), "exit: 0");
    assert_eq!(status("check tests/diagnostics/E004-unknown-feature.policy"), "exit: 1");
    assert_eq!(status("check tests/diagnostics/W006-unused-feature.policy"), "exit: 0");
    assert_eq!(status("check --deny-warnings tests/diagnostics/W006-unused-feature.policy"), "exit: 1");
    assert_eq!(status("check no/such/file.policy"), "exit: 2");
    assert_eq!(status("check"), "exit: 2");
}
