//! `entitle check PATH…`

use std::io::Write;
use std::path::{Path, PathBuf};

use entitle::{render, Diagnostic, Limits, Source};

use crate::{Format, CLEAN, FINDINGS, USAGE_OR_IO};

pub(crate) fn run(paths: &[PathBuf], format: Format, deny_warnings: bool) -> u8 {
    let mut io_failed = false;
    let mut files = Vec::new();
    for path in paths {
        if let Err(message) = collect(path, &mut files) {
            eprintln!("entitle: {message}");
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
    let mut out = std::io::stdout().lock();
    let written = match format {
        Format::Human => {
            let mut text = String::new();
            for (source, diagnostic) in all() {
                text.push_str(&render::human(source, diagnostic));
                text.push('\n');
            }
            text.push_str(&render::summary(checked.len(), errors, warnings));
            writeln!(out, "{text}")
        }
        Format::Json => writeln!(out, "{}", entitle::wire::check_report(&checked)),
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

/// Adds `path` if it is a file, or every `*.policy` file under it (sorted) if it is a directory.
fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    if !metadata.is_dir() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    let before = files.len();
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot read directory `{}`: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read directory `{}`: {e}", dir.display()))?;
            let path = entry.path();
            let file_type = entry.file_type().map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            if file_type.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "policy") {
                files.push(path);
            }
        }
    }
    if let Some(found) = files.get_mut(before..) {
        found.sort();
    }
    if files.len() == before {
        return Err(format!("no `*.policy` files under `{}`", path.display()));
    }
    Ok(())
}
