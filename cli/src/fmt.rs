//! `entitle fmt [--check | --write] PATH…`

use std::io::Write;
use std::path::PathBuf;

use entitle::{render, Limits, Source};

use crate::check::collect;
use crate::{colour_on_stderr, exit_status, Format, USAGE_OR_IO};

pub(crate) fn run(paths: &[PathBuf], check: bool, write: bool, format: Format) -> u8 {
    let mut unreadable = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files, &mut unreadable);
    }
    if !check && !write && (files.len() != 1 || !unreadable.is_empty()) {
        eprintln!("entitle: without `--check` or `--write`, `fmt` prints one file; name one file, or add a flag");
        return USAGE_OR_IO;
    }
    if format == Format::Json && !check && !write {
        eprintln!("entitle: `--format json` reports on `--check` or `--write`; add one of them");
        return USAGE_OR_IO;
    }
    let limits = Limits::default();
    let (mut unparsed, mut changed) = (0, 0);
    // For `--format json`: each file read, and whether it was already in the canonical layout.
    let mut report: Vec<serde_json::Value> = Vec::new();
    let mut out = std::io::stdout().lock();
    for path in &files {
        let source = match Source::read(path, &limits) {
            Ok(source) => source,
            Err(error) => {
                unreadable.push((path.display().to_string(), error.to_string()));
                continue;
            }
        };
        let formatted = match entitle::format_with(&source, &limits) {
            Ok(formatted) => formatted,
            Err(diagnostics) => {
                let colour = colour_on_stderr();
                for d in &diagnostics {
                    eprintln!("{}", render::human_with(&source, d, colour));
                }
                unparsed += 1;
                if format == Format::Json {
                    report.push(entitle::wire::fmt_file(&source, Err(&diagnostics)));
                }
                continue;
            }
        };
        let already = formatted == source.text();
        if format == Format::Json {
            report.push(entitle::wire::fmt_file(&source, Ok(already)));
        }
        let result = if check {
            if already {
                Ok(())
            } else {
                changed += 1;
                match format {
                    Format::Text => write!(out, "{}", unified_diff(source.name(), source.text(), &formatted)),
                    Format::Json => Ok(()),
                }
            }
        } else if write {
            if already {
                continue;
            }
            changed += 1;
            // Written beside the file and renamed over it, so an interrupted write never leaves
            // half a policy. A symbolic link is resolved first, so the file it names is the one
            // rewritten and the link stays a link.
            let written = std::fs::canonicalize(path)
                .and_then(|target| entitle::write_file_atomically(&target, formatted.as_bytes()));
            if let Err(error) = written {
                unreadable.push((path.display().to_string(), format!("cannot write `{}`: {error}", path.display())));
            }
            Ok(())
        } else {
            write!(out, "{formatted}")
        };
        if result.is_err() {
            return USAGE_OR_IO;
        }
    }
    for (_, message) in &unreadable {
        eprintln!("entitle: {message}");
    }
    if format == Format::Json {
        let text = entitle::wire::fmt_report(check, report, &unreadable, files.len(), changed, unparsed);
        if writeln!(out, "{text}").is_err() {
            return USAGE_OR_IO;
        }
    }
    if write && changed > 0 {
        eprintln!("entitle: formatted {changed} of {} files", files.len());
    }
    if check && changed > 0 {
        eprintln!("entitle: {changed} of {} files would be reformatted", files.len());
    }
    exit_status(!unreadable.is_empty(), unparsed > 0 || (check && changed > 0))
}

/// Lines of context around each change.
const CONTEXT: usize = 3;
/// The most cells the line-matching table may have; past it, the differing middle of two
/// texts is shown as removed and added whole, so a huge file cannot take quadratic time.
const MAX_TABLE_CELLS: usize = 4_000_000;

/// A unified diff from `before` to `after` under the name `name` (`--- a/name`, `+++ b/name`).
pub(crate) fn unified_diff(name: &str, before: &str, after: &str) -> String {
    let old: Vec<&str> = before.lines().collect();
    let new: Vec<&str> = after.lines().collect();
    let edits = line_edits(&old, &new);
    let mut out = format!("--- a/{name}\n+++ b/{name}\n");
    // Group edits into hunks: changes closer than twice the context share a hunk.
    let changes: Vec<usize> =
        edits.iter().enumerate().filter(|(_, e)| !matches!(e, Edit::Keep(..))).map(|(i, _)| i).collect();
    let mut i = 0;
    while let Some(&first) = changes.get(i) {
        let mut last = first;
        while let Some(&next) = changes.get(i + 1) {
            if next - last > 2 * CONTEXT {
                break;
            }
            last = next;
            i += 1;
        }
        let from = first.saturating_sub(CONTEXT);
        let to = (last + CONTEXT + 1).min(edits.len());
        let hunk = edits.get(from..to).unwrap_or_default();
        let (old_start, new_start) = edits.get(from).map_or((0, 0), Edit::positions);
        let old_len = hunk.iter().filter(|e| !matches!(e, Edit::Add(..))).count();
        let new_len = hunk.iter().filter(|e| !matches!(e, Edit::Remove(..))).count();
        out += &format!("@@ -{},{old_len} +{},{new_len} @@\n", old_start + 1, new_start + 1);
        for edit in hunk {
            let (mark, line) = match edit {
                Edit::Keep(o, _) => (' ', old.get(*o)),
                Edit::Remove(o, _) => ('-', old.get(*o)),
                Edit::Add(_, n) => ('+', new.get(*n)),
            };
            out += &format!("{mark}{}\n", line.copied().unwrap_or_default());
        }
        i += 1;
    }
    out
}

/// One step from the old lines to the new, with the old and new line indices where it is.
enum Edit {
    Keep(usize, usize),
    Remove(usize, usize),
    Add(usize, usize),
}

impl Edit {
    fn positions(&self) -> (usize, usize) {
        match *self {
            Edit::Keep(o, n) | Edit::Remove(o, n) | Edit::Add(o, n) => (o, n),
        }
    }
}

/// The edits that turn `old` into `new`: common lines at both ends kept, and the middle
/// matched by a longest common subsequence (or replaced whole when too large to match).
fn line_edits(old: &[&str], new: &[&str]) -> Vec<Edit> {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take_while(|(a, b)| a == b)
        .count()
        .min(old.len().min(new.len()) - prefix);
    let old_mid = old.get(prefix..old.len() - suffix).unwrap_or_default();
    let new_mid = new.get(prefix..new.len() - suffix).unwrap_or_default();
    let mut edits: Vec<Edit> = (0..prefix).map(|i| Edit::Keep(i, i)).collect();
    let (m, n) = (old_mid.len(), new_mid.len());
    if (m + 1).saturating_mul(n + 1) > MAX_TABLE_CELLS {
        edits.extend((0..m).map(|i| Edit::Remove(prefix + i, prefix)));
        edits.extend((0..n).map(|j| Edit::Add(prefix + m, prefix + j)));
    } else {
        // `longest[i][j]`: the longest common subsequence of old_mid[i..] and new_mid[j..].
        let width = n + 1;
        let mut longest = vec![0u32; (m + 1) * width];
        for i in (0..m).rev() {
            for j in (0..n).rev() {
                let value = if old_mid.get(i) == new_mid.get(j) {
                    longest.get((i + 1) * width + j + 1).copied().unwrap_or(0) + 1
                } else {
                    let down = longest.get((i + 1) * width + j).copied().unwrap_or(0);
                    let right = longest.get(i * width + j + 1).copied().unwrap_or(0);
                    down.max(right)
                };
                if let Some(cell) = longest.get_mut(i * width + j) {
                    *cell = value;
                }
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < m || j < n {
            let at = |i: usize, j: usize| longest.get(i * width + j).copied().unwrap_or(0);
            if i < m && j < n && old_mid.get(i) == new_mid.get(j) {
                edits.push(Edit::Keep(prefix + i, prefix + j));
                (i, j) = (i + 1, j + 1);
            } else if i < m && (j == n || at(i + 1, j) >= at(i, j + 1)) {
                // Removals before additions, as unified diffs show them.
                edits.push(Edit::Remove(prefix + i, prefix + j));
                i += 1;
            } else {
                edits.push(Edit::Add(prefix + i, prefix + j));
                j += 1;
            }
        }
    }
    let (old_end, new_end) = (old.len() - suffix, new.len() - suffix);
    edits.extend((0..suffix).map(|k| Edit::Keep(old_end + k, new_end + k)));
    edits
}
