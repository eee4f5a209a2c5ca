//! The public surface is listed: docs/api.md names every public item of the crate (its
//! re-exports, its public modules and what they hold), and this test reads both the list and
//! the source, so that neither can drift from the other.
//!
//! An item is public when it is reachable by a user and not `#[doc(hidden)]`: a `pub use` or
//! `pub mod` of `src/lib.rs`, and a top-level `pub` item or `pub use` of a public module. What
//! is `#[doc(hidden)]` serves the bundled command and may change in any release.

use std::collections::BTreeSet;

use crate::golden::root;
use crate::source_scan::{statements, used_names};

/// The name a `pub fn/struct/enum/const/type/trait/mod/static NAME` declares.
fn declared_name(statement: &str) -> Option<String> {
    let mut words = statement.split_whitespace().skip(1);
    let kind = words.next()?;
    let kind = if kind == "const" && statement.starts_with("pub const fn") { words.next()? } else { kind };
    if !["fn", "struct", "enum", "const", "type", "trait", "mod", "static"].contains(&kind) {
        return None;
    }
    let name: String = words.next()?.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    (!name.is_empty()).then_some(name)
}

/// Every public item of the crate, as `entitle::path`.
fn public_items() -> BTreeSet<String> {
    let src = root().join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let mut items = BTreeSet::new();
    for (hidden, statement) in statements(&lib) {
        if hidden {
            continue;
        }
        if statement.starts_with("pub use ") {
            items.extend(used_names(&statement).into_iter().map(|n| format!("entitle::{n}")));
        } else if let Some(module) = declared_name(&statement) {
            items.insert(format!("entitle::{module}"));
            let file = src.join(format!("{module}.rs"));
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            for (hidden, inner) in statements(&text) {
                if hidden {
                    continue;
                }
                let names = if inner.starts_with("pub use ") {
                    used_names(&inner)
                } else {
                    declared_name(&inner).into_iter().collect()
                };
                items.extend(names.into_iter().map(|n| format!("entitle::{module}::{n}")));
            }
        }
    }
    items
}

/// The items docs/api.md lists under "Every public item": one `` `entitle::…` `` per bullet.
fn listed_items() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(root().join("docs/api.md")).expect("docs/api.md");
    let section = doc.split("## Every public item").nth(1).expect("docs/api.md has an \"Every public item\" section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|line| line.strip_prefix("- `"))
        .filter_map(|rest| rest.split('`').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn docs_list_every_public_item_and_nothing_else() {
    let (public, listed) = (public_items(), listed_items());
    assert!(public.contains("entitle::Engine") && public.contains("entitle::bundle::build"), "{public:?}");
    let unlisted: Vec<_> = public.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&public).collect();
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "public but not listed in docs/api.md: {unlisted:?}\nlisted in docs/api.md but not public: {stale:?}"
    );
}

#[test]
fn hidden_items_and_multi_line_uses_are_read_as_written() {
    let text = "pub use a::{B,\n    c as d};\n/// Docs.\n#[doc(hidden)]\npub fn tool() {}\npub const fn e() {}\npub(crate) fn f() {}\n";
    let found: Vec<(bool, Vec<String>)> = statements(text)
        .into_iter()
        .map(|(hidden, s)| {
            (hidden, if s.starts_with("pub use") { used_names(&s) } else { declared_name(&s).into_iter().collect() })
        })
        .collect();
    assert_eq!(
        found,
        [
            (false, vec!["B".to_string(), "d".to_string()]),
            (true, vec!["tool".to_string()]),
            (false, vec!["e".to_string()])
        ]
    );
}
