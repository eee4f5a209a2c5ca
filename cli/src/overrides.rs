//! Override sets on the command line: reading one and checking it against the policy's engine
//! (`--overrides FILE` of `check`, `eval`, `explain` and `matrix`), and a record as a line of
//! text, which `matrix` and `diff` both print.

use std::io::Write;
use std::path::Path;

use entitle::render::printable_text;
use entitle::{Diagnostics, Engine, LoadError, OverrideInfo, Overrides, Source};

use crate::{does_not_check, USAGE_OR_IO};

/// Reads the override file at `path` as text, held to the engine's `override_bytes` rather
/// than the policy text's limit; a message saying why on failure.
pub(crate) fn read(engine: &Engine, path: &Path) -> Result<Source, String> {
    let mut limits = entitle::Limits::default();
    limits.source_bytes = engine.input_limits().override_bytes;
    Source::read(path, &limits).map_err(|error| match error {
        LoadError::IsBundle { path } => format!("`{path}` is a compiled bundle, not an override set"),
        other => other.to_string(),
    })
}

/// Checks the override set in `source` against `engine`; its diagnostics are about `source`,
/// so they render as a policy's do.
pub(crate) fn check(engine: &Engine, source: &Source) -> Result<Overrides, Diagnostics> {
    Overrides::from_jsonl(engine, source.name(), source.text())
}

/// Reads and checks the override set at `path`. On failure, says why on standard error and
/// returns the exit status: 2 when it cannot be read, 1 when it does not check.
pub(crate) fn load(engine: &Engine, path: &Path) -> Result<Overrides, u8> {
    let source = read(engine, path).map_err(|message| {
        eprintln!("entitle: {message}");
        USAGE_OR_IO
    })?;
    check(engine, &source).map_err(|diagnostics| does_not_check(&source, &diagnostics))
}

/// `from 2026-12-01T00:00:00Z until 2027-01-01T00:00:00Z`, either half alone, or `always`.
pub(crate) fn validity(from: Option<i64>, until: Option<i64>) -> String {
    match (from, until) {
        (None, None) => "always".to_string(),
        (Some(from), None) => format!("from {}", entitle::format_instant(from)),
        (None, Some(until)) => format!("until {}", entitle::format_instant(until)),
        (Some(from), Some(until)) => {
            format!("from {} until {}", entitle::format_instant(from), entitle::format_instant(until))
        }
    }
}

/// What a record changes and how: ``limit `api_calls` = 2_000_000``.
pub(crate) fn change_text(engine: &Engine, record: &OverrideInfo<'_>) -> String {
    let (kind, name) = entitle::wire::override_target(engine, &record.change);
    format!("{kind} `{name}` {}", entitle::wire::override_effect(engine, &record.change))
}

/// The record as one line: what it changes, when, and, in parentheses, its line, reason and
/// author. The reason and author are quoted with their control characters escaped, so a
/// record cannot write terminal escapes.
pub(crate) fn record_line(engine: &Engine, record: &OverrideInfo<'_>) -> String {
    let mut line = change_text(engine, record);
    if record.from.is_some() || record.until.is_some() {
        line.push(' ');
        line.push_str(&validity(record.from, record.until));
    }
    line.push_str(&format!(" (line {}", record.line));
    if !record.reason.is_empty() {
        line.push_str(&format!(", reason {:?}", record.reason));
    }
    if !record.author.is_empty() {
        line.push_str(&format!(", by {:?}", record.author));
    }
    line.push(')');
    line
}

/// `subject `acme``, the key shown as diagnostics show user text.
pub(crate) fn subject_heading(key: &str) -> String {
    format!("subject `{}`", printable_text(key))
}

/// `12 records for 8 subjects`.
pub(crate) fn counts(overrides: &Overrides) -> String {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let (records, subjects) = (overrides.len(), overrides.subject_count());
    format!("{records} record{} for {subjects} subject{}", plural(records), plural(subjects))
}

/// The override set after a matrix as text: a blank line, a heading with its counts, then each
/// subject (sorted by key) with one record a line.
pub(crate) fn list_text(out: &mut impl Write, engine: &Engine, overrides: &Overrides) -> std::io::Result<()> {
    writeln!(out, "\noverrides in `{}`: {}", printable_text(overrides.name()), counts(overrides))?;
    for key in entitle::wire::sorted_subjects(overrides) {
        writeln!(out, "{}:", subject_heading(key))?;
        for record in overrides.records(key) {
            writeln!(out, "  {}", record_line(engine, &record))?;
        }
    }
    Ok(())
}

/// The override set after a matrix as a Markdown table: one row a record, subjects sorted by
/// key.
pub(crate) fn list_markdown(out: &mut impl Write, engine: &Engine, overrides: &Overrides) -> std::io::Result<()> {
    let escape = |cell: &str| printable_text(cell).replace('|', "\\|");
    writeln!(out, "\nOverrides in `{}`: {}.\n", escape(overrides.name()), counts(overrides))?;
    writeln!(out, "| subject | override | validity | reason | author | line |")?;
    writeln!(out, "| --- | --- | --- | --- | --- | --- |")?;
    for key in entitle::wire::sorted_subjects(overrides) {
        for record in overrides.records(key) {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                escape(key),
                escape(&change_text(engine, &record)),
                validity(record.from, record.until),
                escape(record.reason),
                escape(record.author),
                record.line
            )?;
        }
    }
    Ok(())
}
