//! What the ffi crate's test binaries share: the repository root, running a program with its
//! output shown when it fails, where a nested build goes, and a bundle of the bundled policy.
//! Included by path (`#[path = "support/mod.rs"] mod support;`) by each of them.

#![allow(dead_code, reason = "each test binary uses part of the support")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's root directory.
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("the repository root")
}

/// Runs `command` and returns its output, failing with that output when it does not succeed;
/// `cannot_start` says what to do when it cannot start at all (usually what to install).
pub fn run(command: &mut Command, cannot_start: impl FnOnce(&Command, &std::io::Error) -> String) -> Output {
    let output = match command.output() {
        Ok(output) => output,
        Err(error) => panic!("{}", cannot_start(command, &error)),
    };
    assert!(
        output.status.success(),
        "{command:?} failed with {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A directory beside this build's profiles (`<target>/name`), for a package that is a cargo
/// workspace of its own: its nested cargo never waits on this build's lock, and the next run
/// reuses what it built.
pub fn nested_target(name: &str) -> PathBuf {
    // The test binary is `<target>/<profile>/deps/<test>-…`.
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors().nth(3).expect("the target directory above <profile>/deps").join(name)
}

/// A bundle of `policies/rtc-sdk.policy` built by this same build, in the temporary
/// directory, for a binding's loading tests; removed when dropped.
pub struct TestBundle(pub PathBuf);

impl TestBundle {
    pub fn new(binding: &str) -> TestBundle {
        let path = std::env::temp_dir().join(format!("entitle-{binding}-{}.bundle", std::process::id()));
        let source = entitle::Source::read(&repository().join("policies/rtc-sdk.policy"), &entitle::Limits::default())
            .expect("the bundled policy reads");
        std::fs::write(&path, entitle::bundle::build(&source).expect("the bundled policy checks")).expect("writable");
        TestBundle(path)
    }
}

impl Drop for TestBundle {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
