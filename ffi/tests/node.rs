//! The Node package's tests (`bindings/node/test`), run by `node --test` against an addon
//! built here from the package's source, so that the README's `cargo test` covers Node too.
//!
//! It needs `node` (20 or later) and `npm` on the `PATH` (`.ci/run` installs them); `npm ci`
//! runs only when `bindings/node/node_modules` is missing. The addon is a workspace of its own
//! and builds into `node/` beside this build's target directory, so that the nested cargo
//! never waits on this one's lock and never mixes the two lockfiles' builds.

#![allow(clippy::expect_used, clippy::panic, reason = "a test fails loudly, with the value that broke it")]

use std::path::Path;
use std::process::{Command, Output};

#[path = "support/mod.rs"]
mod support;

use support::{nested_target, repository, TestBundle};

const INSTALL: &str = "the Node package's tests need Node.js 20 or later and npm on the PATH: \
     install them (Debian: `apt-get install nodejs npm`), as `.ci/run` does";

/// Runs `program` in `dir`, failing with its output when it does not succeed.
fn run(program: &str, args: &[&str], dir: &Path, envs: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(program);
    command.args(args).current_dir(dir);
    for (key, value) in envs {
        command.env(key, value);
    }
    support::run(&mut command, |_, e| format!("cannot run `{program}`: {e}; {INSTALL}"))
}

#[test]
fn node_package_tests_pass() {
    let root = repository();
    let package = root.join("bindings/node");
    let version = run("node", &["--version"], &package, &[]);
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let major: u32 = version.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    assert!(major >= 20, "node {version} is too old; {INSTALL}");
    if !package.join("node_modules").is_dir() {
        run("npm", &["ci", "--no-audit", "--no-fund"], &package, &[]);
    }
    run("npm", &["run", "--silent", "build:debug"], &package, &[("CARGO_TARGET_DIR", &nested_target("node"))]);

    let bundle = TestBundle::new("node");
    let output = Command::new("node")
        .args(["--test", "test/"])
        .current_dir(&package)
        .env("ENTITLE_TEST_BUNDLE", &bundle.0)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node: {e}; {INSTALL}"));
    drop(bundle);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node --test failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    let count = |label: &str| -> u32 {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(&format!("# {label} ")))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("node --test printed no `# {label}` line:\n{stdout}"))
    };
    assert!(count("pass") > 100, "too few Node tests passed:\n{stdout}");
    assert_eq!(count("fail"), 0, "{stdout}");
}
