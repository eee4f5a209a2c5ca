//! Reading the library's source for the structure tests (`layers.rs`, `surface.rs`): its
//! files, the code outside unit tests, and its top-level `pub` statements.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
pub fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file before its unit tests, without comment lines.
pub fn code(text: &str) -> String {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..end].lines().filter(|line| !line.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The top-level statements of a file's code before its unit tests, each with whether an
/// attribute right before it hides it from the docs.
pub fn statements(text: &str) -> Vec<(bool, String)> {
    let code = code(text);
    let mut out = Vec::new();
    let mut hidden = false;
    let mut lines = code.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("#[doc(hidden)]") {
            hidden = true;
            continue;
        }
        if line.starts_with("pub ") {
            // A `pub use` may run over several lines, up to its `;`.
            let mut statement = line.to_string();
            while statement.starts_with("pub use") && !statement.contains(';') {
                match lines.next() {
                    Some(more) => statement.push_str(more.trim()),
                    None => break,
                }
            }
            out.push((hidden, statement));
        }
        if !line.starts_with("#[") && !line.starts_with("///") && !line.starts_with("//") {
            hidden = false;
        }
    }
    out
}

/// The names a `pub use path::{a, b as c};` or `pub use path::a;` makes public.
pub fn used_names(statement: &str) -> Vec<String> {
    let body = statement.trim_start_matches("pub use ").trim_end_matches(';');
    let items = match body.split_once("::{") {
        Some((_, items)) => items.trim_end_matches('}').to_string(),
        None => body.rsplit("::").next().unwrap_or(body).to_string(),
    };
    items
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(|i| i.rsplit(" as ").next().unwrap_or(i).to_string())
        .collect()
}
