//! `entitle check PATH…`

use std::io::Write;
use std::path::{Path, PathBuf};

use entitle::{render, Diagnostic, Limits, Source};

use crate::{Format, CLEAN, FINDINGS, USAGE_OR_IO};

pub(crate) fn run(paths: &[PathBuf], format: Format, deny_warnings: bool) -> u8 {
    let mut io_failed = false;
    let mut files = Vec::new();
    for path in paths {
        if let Err(problems) = collect(path, &mut files) {
            for message in problems {
                eprintln!("entitle: {message}");
            }
            io_failed = true;
        }
    }
    let limits = Limits::default();
    let mut checked: Vec<(Source, Vec<Diagnostic>)> = Vec::new();
    for path in &files {
        match Source::read(path, &limits) {
            Ok(source) => {
                let diagnostics = match entitle::check_with(&source, &limits) {
                    Ok(policy) => policy.warnings().to_vec(),
                    Err(diagnostics) => diagnostics.into_vec(),
                };
                checked.push((source, diagnostics));
            }
            Err(error) => {
                eprintln!("entitle: {error}");
                io_failed = true;
            }
        }
    }

    let all = || checked.iter().flat_map(|(source, ds)| ds.iter().map(move |d| (source, d)));
    let errors = all().filter(|(_, d)| d.is_error()).count();
    let warnings = all().count() - errors;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = match format {
        // Each diagnostic is written as it is rendered, so the report is never held whole.
        Format::Human => all()
            .try_for_each(|(source, diagnostic)| writeln!(out, "{}", render::human(source, diagnostic)))
            .and_then(|()| writeln!(out, "{}", render::summary(checked.len(), errors, warnings)))
            .and_then(|()| out.flush()),
        Format::Json => writeln!(out, "{}", entitle::wire::check_report(&checked)).and_then(|()| out.flush()),
    };
    if written.is_err() {
        return USAGE_OR_IO;
    }
    if io_failed {
        USAGE_OR_IO
    } else if errors > 0 || (deny_warnings && warnings > 0) {
        FINDINGS
    } else {
        CLEAN
    }
}

/// Adds `path` if it is a file, or every `*.policy` file under it (sorted) if it is a
/// directory. A directory or entry that cannot be read is reported and skipped, and the walk
/// goes on, so one unreadable directory never hides the files after it. Symbolic links to
/// directories are not followed, so a link cycle cannot make the walk endless.
fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), Vec<String>> {
    let metadata = std::fs::metadata(path).map_err(|e| vec![format!("cannot read `{}`: {e}", path.display())])?;
    if !metadata.is_dir() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    let before = files.len();
    let mut problems = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                problems.push(format!("cannot read directory `{}`: {e}", dir.display()));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    problems.push(format!("cannot read directory `{}`: {e}", dir.display()));
                    continue;
                }
            };
            let path = entry.path();
            match entry.file_type() {
                Ok(file_type) if file_type.is_dir() => pending.push(path),
                Ok(_) if path.extension().is_some_and(|ext| ext == "policy") => files.push(path),
                Ok(_) => {}
                Err(e) => problems.push(format!("cannot read `{}`: {e}", path.display())),
            }
        }
    }
    if let Some(found) = files.get_mut(before..) {
        found.sort();
    }
    if files.len() == before && problems.is_empty() {
        problems.push(format!("no `*.policy` files under `{}`", path.display()));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
