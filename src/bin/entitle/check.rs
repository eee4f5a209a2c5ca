//! `entitle check PATH…`

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use entitle::syntax::MAX_SOURCE_BYTES;
use entitle::{render, Diagnostic, Source};
use serde::Serialize;

use crate::{Format, CLEAN, FINDINGS, USAGE_OR_IO};

/// The document printed by `--format json`. `version` changes only if a field changes meaning.
#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    files: Vec<&'a str>,
    diagnostics: Vec<render::JsonDiagnostic<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct Summary {
    files: usize,
    errors: usize,
    warnings: usize,
}

pub(crate) fn run(paths: &[PathBuf], format: Format, deny_warnings: bool) -> u8 {
    let mut io_failed = false;
    let mut files = Vec::new();
    for path in paths {
        if let Err(message) = collect(path, &mut files) {
            eprintln!("entitle: {message}");
            io_failed = true;
        }
    }
    let mut checked: Vec<(Source, Vec<Diagnostic>)> = Vec::new();
    for path in &files {
        match read_policy(path) {
            Ok(source) => {
                let diagnostics = match entitle::check(&source) {
                    Ok(policy) => policy.warnings().to_vec(),
                    Err(diagnostics) => diagnostics.0,
                };
                checked.push((source, diagnostics));
            }
            Err(message) => {
                eprintln!("entitle: {message}");
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
        Format::Json => {
            let report = Report {
                version: 1,
                files: checked.iter().map(|(s, _)| s.name()).collect(),
                diagnostics: all().map(|(source, d)| render::json(source, d)).collect(),
                summary: Summary { files: checked.len(), errors, warnings },
            };
            serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::other).and_then(|()| writeln!(out))
        }
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
    files[before..].sort();
    if files.len() == before {
        return Err(format!("no `*.policy` files under `{}`", path.display()));
    }
    Ok(())
}

/// Reads a policy file, refusing non-UTF-8 text. Oversized files are read only up to one byte
/// past the limit, which is enough for the parser to report them.
pub(crate) fn read_policy(path: &Path) -> Result<Source, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_SOURCE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!("`{}` is not UTF-8 text (invalid byte at offset {})", path.display(), e.utf8_error().valid_up_to())
    })?;
    Ok(Source::new(path.display().to_string(), text))
}
