//! `entitle check PATH…` and `entitle check --overrides FILE POLICY`

use std::io::Write;
use std::path::{Path, PathBuf};

use entitle::{render, Diagnostic, Limits, Source};

use crate::{colour_on_stderr, exit_status, CheckFormat, USAGE_OR_IO};

pub(crate) fn run(paths: &[PathBuf], format: CheckFormat, deny_warnings: bool, overrides: Option<&Path>) -> u8 {
    if let Some(file) = overrides {
        return match paths {
            [policy] if !policy.is_dir() => with_overrides(policy, file, format, deny_warnings),
            _ => {
                eprintln!("entitle: `--overrides` checks one override set against one policy file; name one policy");
                USAGE_OR_IO
            }
        };
    }
    // Paths that could not be read, with why: findings in every format, never silently skipped.
    let mut unreadable: Vec<(String, String)> = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files, &mut unreadable);
    }
    let limits = Limits::default();
    let mut checked: Vec<(Source, Vec<Diagnostic>)> = Vec::new();
    for path in &files {
        // A bundle is checked as the source it carries, once it has loaded.
        match entitle::read_policy_file(path, &limits) {
            Ok((source, _)) => {
                let diagnostics = match entitle::check_with(&source, &limits) {
                    Ok(policy) => policy.warnings().to_vec(),
                    Err(diagnostics) => diagnostics.into_vec(),
                };
                checked.push((source, diagnostics));
            }
            Err(error) => unreadable.push((path.display().to_string(), error.to_string())),
        }
    }
    for (_, message) in &unreadable {
        eprintln!("entitle: {message}");
    }
    report(&checked, &unreadable, format, deny_warnings, None)
}

/// What `check --overrides` adds to the report: the set's entry in the JSON document, and,
/// once the set is built, its counts, which close the human summary.
struct OverridesStatus {
    json: serde_json::Value,
    counts: Option<String>,
}

/// Checks the policy at `policy`, then, if it checks, the override set at `file` against it:
/// both files' diagnostics in one report. A policy with errors leaves the set unchecked, and
/// the report says so.
fn with_overrides(policy: &Path, file: &Path, format: CheckFormat, deny_warnings: bool) -> u8 {
    let limits = Limits::default();
    let mut unreadable: Vec<(String, String)> = Vec::new();
    let mut checked: Vec<(Source, Vec<Diagnostic>)> = Vec::new();
    let engine = match entitle::read_policy_file(policy, &limits) {
        Ok((source, bundled)) => {
            let engine = match entitle::check_with(&source, &limits) {
                Ok(checked) => {
                    let engine = bundled.unwrap_or_else(|| entitle::compile(&checked));
                    Ok((engine, checked.warnings().to_vec()))
                }
                Err(diagnostics) => Err(diagnostics.into_vec()),
            };
            let (engine, diagnostics) = match engine {
                Ok((engine, warnings)) => (Some(engine), warnings),
                Err(errors) => (None, errors),
            };
            checked.push((source, diagnostics));
            engine
        }
        Err(error) => {
            unreadable.push((policy.display().to_string(), error.to_string()));
            None
        }
    };
    let path = file.display().to_string();
    let mut not_checked = None;
    let status = match engine {
        None => {
            let why = match checked.first() {
                Some((source, _)) => format!("its policy `{}` does not check", source.name()),
                None => format!("its policy `{}` could not be read", policy.display()),
            };
            // Said on standard error in every format, as an unreadable path is; the JSON
            // document carries it too, and the policy's errors already fail the run.
            not_checked = Some(format!("the override set `{path}` was not checked: {why}"));
            OverridesStatus { json: entitle::wire::overrides_checked(&path, None, Some(&why)), counts: None }
        }
        Some(engine) => match crate::overrides::read(&engine, file) {
            Err(message) => {
                unreadable.push((path.clone(), message));
                let why = "it could not be read";
                OverridesStatus { json: entitle::wire::overrides_checked(&path, None, Some(why)), counts: None }
            }
            Ok(source) => {
                let (built, diagnostics) = match crate::overrides::check(&engine, &source) {
                    Ok(set) => (Some(set), Vec::new()),
                    Err(diagnostics) => (None, diagnostics.into_vec()),
                };
                checked.push((source, diagnostics));
                let counts =
                    built.as_ref().map(|set| format!("override set `{path}`: {}", crate::overrides::counts(set)));
                OverridesStatus { json: entitle::wire::overrides_checked(&path, built.as_ref(), None), counts }
            }
        },
    };
    for (_, message) in &unreadable {
        eprintln!("entitle: {message}");
    }
    let exit = report(&checked, &unreadable, format, deny_warnings, Some(status));
    // After the policy's diagnostics, which say why.
    if let Some(line) = &not_checked {
        eprintln!("entitle: {line}");
    }
    exit
}

/// Writes the diagnostics of `checked` and the summary in `format`, and returns the exit
/// status.
fn report(
    checked: &[(Source, Vec<Diagnostic>)],
    unreadable: &[(String, String)],
    format: CheckFormat,
    deny_warnings: bool,
    overrides: Option<OverridesStatus>,
) -> u8 {
    let all = || checked.iter().flat_map(|(source, ds)| ds.iter().map(move |d| (source, d)));
    let errors = all().filter(|(_, d)| d.is_error()).count();
    let warnings = all().count() - errors;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = match format {
        // Each diagnostic is written as it is rendered, so the report is never held whole.
        CheckFormat::Human => {
            let summary = render::summary(checked.len(), unreadable.len(), errors, warnings);
            let colour = colour_on_stderr();
            let mut err = std::io::BufWriter::new(std::io::stderr().lock());
            let counts = overrides.as_ref().and_then(|o| o.counts.as_ref());
            all()
                .try_for_each(|(source, d)| writeln!(err, "{}", render::human_with(source, d, colour)))
                .and_then(|()| err.flush())
                .and_then(|()| writeln!(out, "{summary}"))
                .and_then(|()| counts.map_or(Ok(()), |line| writeln!(out, "{line}")))
        }
        // Workflow commands only: a summary line would be log text among them, and the exit
        // status already says whether the run passed.
        CheckFormat::Github => unreadable
            .iter()
            .try_for_each(|(_, message)| writeln!(out, "{}", render::github_error(message)))
            .and_then(|()| all().try_for_each(|(source, d)| writeln!(out, "{}", render::github(source, d)))),
        CheckFormat::Json => match overrides {
            Some(status) => {
                writeln!(out, "{}", entitle::wire::check_report_with_overrides(checked, unreadable, status.json))
            }
            None => writeln!(out, "{}", entitle::wire::check_report(checked, unreadable)),
        },
    };
    if written.and_then(|()| out.flush()).is_err() {
        return USAGE_OR_IO;
    }
    exit_status(!unreadable.is_empty(), errors > 0 || (deny_warnings && warnings > 0))
}

/// Adds `path` if it is a file, or every `*.policy` file under it (sorted) if it is a
/// directory. A path, directory or entry that cannot be read is recorded in `unreadable` and
/// the walk goes on, so one unreadable directory never hides the files after it. Symbolic links
/// to directories are not followed, so a link cycle cannot make the walk endless.
pub(crate) fn collect(path: &Path, files: &mut Vec<PathBuf>, unreadable: &mut Vec<(String, String)>) {
    let mut problem = |at: &Path, message: String| unreadable.push((at.display().to_string(), message));
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) => return problem(path, format!("cannot read `{}`: {e}", path.display())),
    };
    if !metadata.is_dir() {
        files.push(path.to_path_buf());
        return;
    }
    let before = files.len();
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                problem(&dir, format!("cannot read directory `{}`: {e}", dir.display()));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    problem(&dir, format!("cannot read directory `{}`: {e}", dir.display()));
                    continue;
                }
            };
            let path = entry.path();
            match entry.file_type() {
                Ok(file_type) if file_type.is_dir() => pending.push(path),
                Ok(_) if path.extension().is_some_and(|ext| ext == "policy") => files.push(path),
                Ok(_) => {}
                Err(e) => problem(&path, format!("cannot read `{}`: {e}", path.display())),
            }
        }
    }
    if let Some(found) = files.get_mut(before..) {
        found.sort();
    }
    if files.len() == before {
        problem(path, format!("no `*.policy` files under `{}`", path.display()));
    }
}
