//! The library's modules depend one way: each uses only the modules below it in [`ORDER`],
//! the order declared here, which ARCHITECTURE.md's diagram and codemap follow. A `crate::` path that goes back up fails this test, so a
//! cycle cannot come back unnoticed.

use std::collections::HashMap;
use std::path::Path;

use crate::golden::root;
use crate::source_scan::{code, rust_files, statements, used_names};

/// The library's top-level modules, lowest first. A module may use the ones before it (and
/// itself); test code (`#[cfg(test)] mod tests`) may use anything.
const ORDER: &[&str] = &[
    // Foundations: no stage of their own.
    "limits",
    "digest",
    "ids",
    "names",
    "rollout",
    "time",
    "held",
    "units",
    "work",
    "source",
    "diagnostic",
    "render",
    // parse → check → compile → validate → evaluate.
    "syntax",
    "format",
    "model",
    "check",
    "tables",
    "parts",
    "compile",
    "overrides",
    "engine",
    "eval",
    "plan",
    "override_check",
    // Around the engine: the bundle format, the JSON shape, files.
    "bundle",
    "wire",
    "load",
    // Test support.
    "reference",
    "fuzzing",
];

/// The top-level module a source file belongs to: `src/check/lints.rs` is `check`.
fn module_of(path: &Path, src: &Path) -> String {
    let relative = path.strip_prefix(src).expect("under src/");
    let first = relative.components().next().expect("a file").as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

/// The names the crate root re-exports (`pub use engine::{Engine, …}`), with the module each
/// comes from, so that `crate::Engine` counts as a use of `engine`.
fn reexports(lib: &str) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for (_, statement) in statements(lib).into_iter().filter(|(_, s)| s.starts_with("pub use ")) {
        let module = statement.trim_start_matches("pub use ").split("::").next().unwrap_or("").trim().to_string();
        names.extend(used_names(&statement).into_iter().map(|name| (name, module.clone())));
    }
    names
}

/// Every module a file's code names through `crate::…` paths (grouped `crate::{a, b}` too).
fn used_modules(code: &str, reexported: &HashMap<String, String>) -> Vec<String> {
    let mut used = Vec::new();
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let names: Vec<String> = match rest.strip_prefix('{') {
            Some(group) => group.split('}').next().unwrap_or("").split(',').map(|n| ident(n.trim())).collect(),
            None => vec![ident(rest)],
        };
        for name in names.into_iter().filter(|n| !n.is_empty()) {
            let module = reexported.get(&name).cloned().unwrap_or(name);
            used.push(module);
        }
    }
    used
}

#[test]
fn modules_use_only_the_modules_below_them() {
    let src = root().join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let reexported = reexports(&lib);
    assert!(reexported.get("Engine").is_some_and(|m| m == "engine"), "{reexported:?}");
    let rank = |module: &str| ORDER.iter().position(|m| *m == module);
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    for path in files {
        let module = module_of(&path, &src);
        if module == "lib" {
            continue;
        }
        let Some(own) = rank(&module) else {
            problems.push(format!("{}: module `{module}` is not in the declared order", path.display()));
            continue;
        };
        let text = std::fs::read_to_string(&path).expect("readable");
        for used in used_modules(&code(&text), &reexported) {
            match rank(&used) {
                Some(theirs) if theirs <= own => {}
                Some(_) => problems.push(format!("{}: `{module}` uses `{used}`, which is above it", path.display())),
                None => {
                    problems.push(format!("{}: `{module}` uses `crate::{used}`, not a known module", path.display()))
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The checker above must see a path that goes up, or it proves nothing.
#[test]
fn an_upward_use_is_seen() {
    let reexported = reexports("pub use engine::{Engine, compile};\npub use rollout::{bucket as rollout_bucket};\n");
    let used = used_modules(
        "use crate::Engine;\nlet _ = crate::rollout_bucket(k);\nuse crate::{tables, model::Model};",
        &reexported,
    );
    assert_eq!(used, ["engine", "rollout", "tables", "model"]);
}

/// Reading and writing files belongs to the outer layer: no module of the library but
/// `load.rs` names `std::fs` or opens a `File` (test code aside).
#[test]
fn only_the_load_module_touches_files() {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|path| path.file_name().is_some_and(|name| name != "load.rs"))
        .filter(|path| {
            let text = std::fs::read_to_string(path).expect("readable");
            let code = code(&text);
            code.contains("std::fs") || code.contains("File::open") || code.contains("File::create")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "file I/O outside src/load.rs: {offenders:?}");
}
