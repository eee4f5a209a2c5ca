//! The Python package's tests (`bindings/python/tests`), run by pytest against this build of
//! the C ABI: the package's source from the repository, the shared library cargo just built,
//! and the committed header.
//!
//! The interpreter is `$ENTITLE_PYTHON`, else `.venv/bin/python` at the repository root when it
//! exists, else `python3`; it needs `cffi` and `pytest` (`.ci/run` sets up `.venv` with both).

#![allow(clippy::expect_used, clippy::panic, reason = "a test fails loudly, with the value that broke it")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("the repository root")
}

fn interpreter(root: &Path) -> PathBuf {
    if let Some(explicit) = std::env::var_os("ENTITLE_PYTHON") {
        return PathBuf::from(explicit);
    }
    let venv = root.join(".venv/bin/python");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

#[test]
fn python_package_tests_pass() {
    let root = repository();
    // The shared library of this same build sits beside the test binary, in `deps/`.
    let exe = std::env::current_exe().expect("the test binary's path");
    let library = exe.parent().expect("target/<profile>/deps").join("libentitle_ffi.so");
    assert!(library.is_file(), "{} is missing: cargo builds it with the crate", library.display());
    let python = interpreter(&root);
    // A bundle of the bundled policy, built by this same build, for the loading tests.
    let bundle = std::env::temp_dir().join(format!("entitle-python-{}.bundle", std::process::id()));
    let source = entitle::Source::read(&root.join("policies/rtc-sdk.policy"), &entitle::Limits::default())
        .expect("the bundled policy reads");
    std::fs::write(&bundle, entitle::bundle::build(&source).expect("the bundled policy checks")).expect("writable");
    let output = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "bindings/python/tests"])
        .current_dir(&root)
        .env("PYTHONPATH", root.join("bindings/python/src"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("ENTITLE_LIBRARY", &library)
        .env("ENTITLE_HEADER", root.join("include/entitle.h"))
        .env("ENTITLE_TEST_BUNDLE", &bundle)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let _ = std::fs::remove_file(&bundle);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "pytest failed ({}) with {}; it needs cffi and pytest: \
         `python3 -m venv .venv && .venv/bin/pip install cffi pytest`\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        python.display(),
        output.status
    );
    assert!(stdout.contains(" passed"), "pytest ran no test:\n{stdout}");
    assert!(!stdout.contains(" failed") && !stdout.contains(" error"), "{stdout}");
}
