//! Comparing output with golden files, and re-blessing them.

use std::path::{Path, PathBuf};

/// The repository root, where `tests/`, `policies/` and `docs/` live. This module also serves
/// the command's tests (`cli/tests/`), whose manifest sits one level down.
pub fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.ancestors().find(|dir| dir.join("policies").is_dir());
    root.unwrap_or(manifest).to_path_buf()
}

/// Whether golden files should be rewritten instead of compared.
pub fn blessing() -> bool {
    std::env::var_os("ENTITLE_BLESS").is_some_and(|v| v == "1")
}

/// Files in `dir` with extension `ext`, sorted, so failures are reported in a stable order.
pub fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// Compares `actual` with the golden file at `path`, or rewrites it when blessing. Returns a
/// description of the mismatch, if any, so a suite can report every failing case at once.
pub fn compare(path: &Path, actual: &str) -> Option<String> {
    if blessing() {
        std::fs::write(path, actual).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return None;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected == actual {
        return None;
    }
    Some(format!(
        "{} differs (run with ENTITLE_BLESS=1 to accept the new output)\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    ))
}

/// Panics with every mismatch, if there were any.
pub fn assert_no_failures(failures: Vec<String>) {
    assert!(failures.is_empty(), "{} golden file(s) differ:\n\n{}", failures.len(), failures.join("\n\n"));
}
