//! Turning diagnostics into text for people.
//!
//! Diagnostics are plain data ([`Diagnostic`]); this module decides how they look on a
//! terminal: `file:line:col`, the code, the message, the source line and a caret under the
//! span. Their machine form is in `wire` (feature `json`).

use std::fmt::Write as _;

use crate::diagnostic::Diagnostic;
use crate::source::{Source, Span};

/// Renders one diagnostic for a terminal, ending with a newline.
///
/// ```
/// use entitle::{render, Source};
/// let src = Source::new("p.policy", "policy \"p\"\nfeature sso\ntier free { grant ssso }\n");
/// let diagnostics = entitle::check(&src).unwrap_err();
/// let text = render::human(&src, diagnostics.iter().next().unwrap());
/// assert_eq!(text, "\
/// error[E004]: unknown feature `ssso`
///  --> p.policy:3:19
///   |
/// 3 | tier free { grant ssso }
///   |                   ^^^^
///   = help: did you mean `sso`?
/// ");
/// ```
pub fn human(source: &Source, diagnostic: &Diagnostic) -> String {
    let at = source.location(diagnostic.span);
    let line_text = source.line_text(at.line);
    let gutter = at.line.to_string().len();
    let pad = " ".repeat(gutter);
    let mut out = String::new();
    let _ = writeln!(out, "{}[{}]: {}", diagnostic.severity, diagnostic.code, diagnostic.message);
    let _ = writeln!(out, "{pad}--> {}:{}:{}", source.name(), at.line, at.column);
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{} | {line_text}", at.line);
    let _ = writeln!(out, "{pad} | {}", caret_line(source, diagnostic.span, line_text, at.column));
    if let Some(help) = &diagnostic.help {
        let _ = writeln!(out, "{pad} = help: {help}");
    }
    for label in &diagnostic.labels {
        let where_ = source.location(label.span);
        let _ = writeln!(out, "{pad} = note: {}: {}:{}:{}", label.message, source.name(), where_.line, where_.column);
    }
    out
}

/// The marker line under a source line: spaces (tabs kept, so columns line up) then one `^`
/// per character of the span on this line, at least one.
fn caret_line(source: &Source, span: Span, line_text: &str, column: usize) -> String {
    let lead: String = line_text.chars().take(column - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
    let covered = source.slice(span).split('\n').next().unwrap_or("").chars().count();
    let available = line_text.chars().count().saturating_sub(column - 1);
    let width = covered.min(available).max(1);
    format!("{lead}{}", "^".repeat(width))
}

/// The one-line summary after a run: `2 files checked: 1 error, 3 warnings`.
pub fn summary(files: usize, errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let findings = match (errors, warnings) {
        (0, 0) => "no problems".to_string(),
        (e, 0) => plural(e, "error"),
        (0, w) => plural(w, "warning"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    };
    format!("{} checked: {findings}", plural(files, "file"))
}
