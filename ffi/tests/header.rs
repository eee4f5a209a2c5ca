//! The committed header is what cbindgen generates from the code today, and its version macros
//! match the crate's version. `ENTITLE_BLESS=1` rewrites the header.

#![allow(clippy::expect_used, clippy::panic, reason = "a test fails loudly, with the value that broke it")]

#[path = "support/mod.rs"]
mod support;

use std::path::PathBuf;

use support::repository;

fn generated() -> String {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("ffi/cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("the header is UTF-8")
}

#[test]
fn header_is_current() {
    let path = repository().join("include/entitle.h");
    let fresh = generated();
    if std::env::var_os("ENTITLE_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).expect("include/entitle.h is writable");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "include/entitle.h differs from what ffi/src/ generates; run `ENTITLE_BLESS=1 cargo test -p entitle-ffi` and commit it"
    );
}

#[test]
fn header_version_macros_match_the_crate() {
    let header = std::fs::read_to_string(repository().join("include/entitle.h")).expect("include/entitle.h");
    let define = |name: &str| {
        let prefix = format!("#define {name} ");
        header
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("the header defines no {name}"))
            .trim()
            .to_string()
    };
    assert_eq!(define("ENTITLE_VERSION"), format!("\"{}\"", env!("CARGO_PKG_VERSION")));
    assert_eq!(define("ENTITLE_VERSION_MAJOR"), env!("CARGO_PKG_VERSION_MAJOR"));
    assert_eq!(define("ENTITLE_VERSION_MINOR"), env!("CARGO_PKG_VERSION_MINOR"));
    assert_eq!(define("ENTITLE_VERSION_PATCH"), env!("CARGO_PKG_VERSION_PATCH"));
    assert_eq!(define("ENTITLE_ABI_VERSION"), entitle_ffi::ABI_VERSION.to_string());
}

/// Every reason of the Rust crate is in the header's `entitle_reason` with its number and its
/// name, in order, and the enum holds nothing else: a reason the crate adds fails here until the
/// header has it.
#[test]
fn header_reasons_are_the_crates() {
    let header = std::fs::read_to_string(repository().join("include/entitle.h")).expect("include/entitle.h");
    let start = header.find("enum entitle_reason\n").expect("the header declares enum entitle_reason");
    let body = header.get(start..).and_then(|rest| rest.split("};").next()).unwrap_or_default();
    let in_c: Vec<(String, String)> = body
        .lines()
        .filter_map(|line| line.trim().strip_prefix("ENTITLE_REASON_"))
        .filter_map(|item| item.trim_end_matches(',').split_once(" = "))
        .map(|(name, number)| (name.to_string(), number.to_string()))
        .collect();
    let in_rust: Vec<(String, String)> = entitle::Reason::ALL
        .iter()
        .map(|reason| (reason.as_str().to_uppercase(), (*reason as u32).to_string()))
        .collect();
    assert_eq!(in_c, in_rust);
}
