//! The Python package's tests (`bindings/python/tests`): builds the PyO3 extension with
//! maturin into the repository's `.venv` (editable, so the package's Python source is the
//! checkout's), then runs pytest there.
//!
//! The package is a cargo workspace of its own, so the root's `cargo build` never compiles
//! pyo3; this test builds it into `python/` under this build's target directory, where the
//! next run reuses it. `.venv` needs `maturin` and `pytest` (`.ci/run` sets it up with both).

#![allow(clippy::expect_used, clippy::panic, reason = "a test fails loudly, with the value that broke it")]

use std::process::Command;

const SETUP: &str = "python3 -m venv .venv && .venv/bin/pip install maturin pytest";

#[path = "support/mod.rs"]
mod support;

use support::{nested_target, repository, TestBundle};

#[test]
fn python_package_tests_pass() {
    let root = repository();
    let venv = root.join(".venv");
    let python = venv.join("bin/python");
    assert!(python.is_file(), "{} is missing; from the repository root: `{SETUP}`", python.display());
    let tools = Command::new(&python)
        .args(["-c", "import maturin, pytest"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        tools.status.success(),
        "{} lacks maturin or pytest ({}); from the repository root: `.venv/bin/pip install maturin pytest`",
        python.display(),
        String::from_utf8_lossy(&tools.stderr).trim()
    );

    // The extension builds beside this build's profiles, where a rebuild reuses it.
    support::run(
        Command::new(&python)
            .args(["-m", "maturin", "develop", "--quiet", "--locked", "-m"])
            .arg(root.join("bindings/python/Cargo.toml"))
            .current_dir(&root)
            .env("VIRTUAL_ENV", &venv)
            .env("CARGO_TARGET_DIR", nested_target("python")),
        |_, e| format!("cannot run maturin develop (building the extension into .venv): {e}; `{SETUP}`"),
    );

    let bundle = TestBundle::new("python");
    let output = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "bindings/python/tests"])
        .current_dir(&root)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("ENTITLE_TEST_BUNDLE", &bundle.0)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    drop(bundle);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "pytest failed ({}) with {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        python.display(),
        output.status
    );
    assert!(stdout.contains(" passed"), "pytest ran no test:\n{stdout}");
    assert!(!stdout.contains(" failed") && !stdout.contains(" error"), "{stdout}");
}
