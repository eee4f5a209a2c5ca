//! Turning diagnostics into text for people.
//!
//! Diagnostics are plain data ([`Diagnostic`]); this module decides how they look on a
//! terminal: `file:line:col`, the code, the message, the source line and a caret under the
//! span, in colour if asked; and as GitHub Actions annotations. Their machine form is in
//! `wire` (feature `json`).

use std::fmt::Write as _;

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{Source, Span};

/// The most bytes [`human`] renders for one diagnostic, whatever the source: long lines are
/// shown as a window around the span, and messages, help and file names are cut to a bounded
/// length.
pub const MAX_RENDERED_BYTES: usize = 32 * 1024;

/// Characters of a source line shown around the span; longer lines are cut with `…`.
const LINE_WINDOW: usize = 120;
/// Characters of the line shown before the span's start, when the line is cut.
const LEAD: usize = 40;
/// Characters of a message, help text or file name shown.
const TEXT_CHARS: usize = 512;
/// Secondary labels shown per diagnostic.
const LABELS: usize = 8;

/// Renders one diagnostic for a terminal, ending with a newline, without colour.
///
/// User input never reaches the terminal raw: control characters are shown as their Unicode
/// control pictures (`␛` for ESC), so a policy cannot clear a screen or hide text. A line
/// longer than 120 characters is shown as a window around the span. The result is at most
/// [`MAX_RENDERED_BYTES`] (plus the colour codes of [`human_with`]).
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
    human_with(source, diagnostic, false)
}

/// [`human`], with ANSI colours when `colour` is set: the severity and carets in red (errors)
/// or yellow (warnings), the location gutter in blue. Callers decide: the `entitle` command
/// colours only a terminal, and never when `NO_COLOR` is set.
pub fn human_with(source: &Source, diagnostic: &Diagnostic, colour: bool) -> String {
    let paint = Paint { on: colour };
    let accent = match diagnostic.severity() {
        Severity::Error => RED,
        Severity::Warning => YELLOW,
    };
    let mut out = String::new();
    let message = printable(&diagnostic.message, TEXT_CHARS);
    let head = format!("{}[{}]", diagnostic.severity(), diagnostic.code);
    let _ = writeln!(out, "{}{}", paint.bold(accent, &head), paint.bold("", &format!(": {message}")));
    let (excerpt, pad) = excerpt_with(source, diagnostic.span, paint, accent);
    out.push_str(&excerpt);
    if let Some(help) = &diagnostic.help {
        let _ = writeln!(out, "{pad} {} help: {}", paint.bold(BLUE, "="), printable(help, TEXT_CHARS));
    }
    let file = printable(source.name(), TEXT_CHARS);
    for label in diagnostic.labels.iter().take(LABELS) {
        let where_ = source.location(label.span);
        let note = printable(&label.message, TEXT_CHARS);
        let _ = writeln!(out, "{pad} {} note: {note}: {file}:{}:{}", paint.bold(BLUE, "="), where_.line, where_.column);
    }
    out
}

/// The location and source line of `span` with a caret under it, each line ending with a
/// newline, as [`human`] shows them below a message:
///
/// ```text
///  --> p.policy:3:19
///   |
/// 3 | tier free { grant ssso }
///   |                   ^^^^
/// ```
pub fn excerpt(source: &Source, span: Span) -> String {
    excerpt_with(source, span, Paint { on: false }, "").0
}

/// [`excerpt`] and the gutter's padding, painted.
fn excerpt_with(source: &Source, span: Span, paint: Paint, accent: &str) -> (String, String) {
    let at = source.location(span);
    let gutter = at.line.to_string().len();
    let pad = " ".repeat(gutter);
    let (shown, carets) = snippet(source, span, at.line);
    let file = printable(source.name(), TEXT_CHARS);
    let bar = paint.bold(BLUE, "|");
    let mut out = String::new();
    let _ = writeln!(out, "{pad}{} {file}:{}:{}", paint.bold(BLUE, "-->"), at.line, at.column);
    let _ = writeln!(out, "{pad} {bar}");
    let _ = writeln!(out, "{} {bar} {shown}", paint.bold(BLUE, &at.line.to_string()));
    let _ = writeln!(out, "{pad} {bar} {}", paint.bold(accent, &carets));
    (out, pad)
}

const RED: &str = "31";
const YELLOW: &str = "33";
const BLUE: &str = "34";

/// ANSI styling that is a no-op when off.
#[derive(Clone, Copy)]
struct Paint {
    on: bool,
}

impl Paint {
    /// `text` in bold, in colour `code` (an SGR colour number, or "" for none).
    fn bold(self, code: &str, text: &str) -> String {
        match (self.on, code) {
            (false, _) => text.to_string(),
            (true, "") => format!("\x1b[1m{text}\x1b[0m"),
            (true, code) => format!("\x1b[1;{code}m{text}\x1b[0m"),
        }
    }
}

/// One diagnostic as a GitHub Actions workflow command, which the runner shows as an
/// annotation on the file and line: `::error file=…,line=…,col=…,endLine=…,endColumn=…,
/// title=E004::message`, one line, with the characters the format reserves escaped.
///
/// ```
/// use entitle::{render, Source};
/// let src = Source::new("p.policy", "policy \"p\"\ntier free { grant sso }\n");
/// let diagnostics = entitle::check(&src).unwrap_err();
/// assert_eq!(
///     render::github(&src, diagnostics.iter().next().unwrap()),
///     "::error file=p.policy,line=2,col=19,endLine=2,endColumn=22,title=E004::unknown feature `sso`"
/// );
/// ```
pub fn github(source: &Source, diagnostic: &Diagnostic) -> String {
    let start = source.location(diagnostic.span);
    let end = source.line_col(diagnostic.span.end);
    let level = match diagnostic.severity() {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut message = printable(&diagnostic.message, TEXT_CHARS);
    if let Some(help) = &diagnostic.help {
        message.push('\n');
        message.push_str(&printable(help, TEXT_CHARS));
    }
    format!(
        "::{level} file={},line={},col={},endLine={},endColumn={},title={}::{}",
        github_property(&printable(source.name(), TEXT_CHARS)),
        start.line,
        start.column,
        end.line,
        end.column,
        diagnostic.code,
        github_data(&message)
    )
}

/// A problem that is not about a place in a policy (a path that cannot be read) as a GitHub
/// Actions error annotation.
#[doc(hidden)]
pub fn github_error(message: &str) -> String {
    format!("::error title=entitle::{}", github_data(&printable(message, TEXT_CHARS)))
}

/// The message of a workflow command: `%`, CR and LF escaped.
fn github_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A property value of a workflow command: also `:` and `,`, which end a property.
fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The source line to show and the marker line under it: the line (or a window of it around
/// the span) with control characters made visible, then spaces (tabs kept, so columns line
/// up) and one `^` per character of the span on this line, at least one.
fn snippet(source: &Source, span: Span, line: usize) -> (String, String) {
    let (line_start, line_end) = source.line_range(line);
    let text = source.text();
    // Only a window of bytes around the span is read, so that many diagnostics on one long
    // line cost the window each, not the line: at most `LEAD` characters before the span and
    // `LINE_WINDOW` after, each at most four bytes.
    let boundary = |mut at: usize, forward: bool| {
        while !text.is_char_boundary(at) {
            at = if forward { at + 1 } else { at - 1 };
        }
        at
    };
    let start_byte = boundary(span.start.clamp(line_start, line_end), false);
    let from_byte = boundary(start_byte.saturating_sub(4 * LEAD).max(line_start), true);
    let to_byte = boundary(start_byte.saturating_add(4 * LINE_WINDOW).min(line_end), false);
    let before: Vec<char> = text.get(from_byte..start_byte).unwrap_or("").chars().collect();
    let after: Vec<char> = text.get(start_byte..to_byte).unwrap_or("").chars().collect();
    let line_chars_known = from_byte == line_start && to_byte == line_end;
    let fits = line_chars_known && before.len() + after.len() <= LINE_WINDOW;
    // Characters shown before the span: all of them when the line fits, else at most `LEAD`.
    let lead_chars = if fits { before.len() } else { before.len().min(LEAD) };
    let shown_before = before.get(before.len() - lead_chars..).unwrap_or_default();
    let shown_after = after.get(..after.len().min(LINE_WINDOW.saturating_sub(lead_chars))).unwrap_or_default();
    let mut shown: String = shown_before.iter().chain(shown_after).map(|&c| visible(c)).collect();
    // The lead keeps tabs (so the terminal expands them alike) and gives wide characters two
    // columns, so the caret lands under the span.
    let mut lead: String = shown_before
        .iter()
        .map(|&c| match c {
            '\t' => "\t",
            c if is_wide(c) => "  ",
            _ => " ",
        })
        .collect();
    if lead_chars < before.len() || from_byte > line_start {
        shown.insert(0, '…');
        lead.insert(0, ' ');
    }
    if shown_after.len() < after.len() || to_byte < line_end {
        shown.push('…');
    }
    // The span's characters on this line, counted no further than the window shows.
    let span_end = boundary(span.end.clamp(start_byte, to_byte), false);
    let covered = text.get(start_byte..span_end).unwrap_or("").split('\n').next().unwrap_or("").chars().count();
    let under = shown_after.iter().take(covered).map(|&c| if is_wide(c) { 2 } else { 1 }).sum::<usize>();
    (shown, format!("{lead}{}", "^".repeat(under.max(1))))
}

/// Whether a terminal gives `c` two columns: the East Asian wide and fullwidth ranges and
/// the emoji blocks (the common cases of Unicode's width tables, without a dependency).
fn is_wide(c: char) -> bool {
    matches!(u32::from(c),
        0x1100..=0x115f | 0x2e80..=0x303e | 0x3041..=0x33ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff
        | 0xa000..=0xa4cf | 0xac00..=0xd7a3 | 0xf900..=0xfaff | 0xfe30..=0xfe4f | 0xff00..=0xff60
        | 0xffe0..=0xffe6 | 0x1f300..=0x1f64f | 0x1f900..=0x1f9ff | 0x20000..=0x3fffd)
}

/// A character as it may be shown on a terminal: control characters (other than tab) become
/// their Unicode control pictures, so they show instead of acting.
fn visible(c: char) -> char {
    match u32::from(c) {
        code @ 0x00..=0x08 | code @ 0x0a..=0x1f => char::from_u32(0x2400 + code).unwrap_or('\u{fffd}'),
        0x7f => '\u{2421}',
        0x80..=0x9f => '\u{fffd}',
        _ => c,
    }
}

/// User text (a name, a version, a path) as it may be shown on a terminal, as [`human`] shows
/// every message: control characters as their Unicode control pictures, cut to 512 characters
/// with `…`.
///
/// ```
/// assert_eq!(entitle::render::printable_text("a\u{1b}[2Jb\u{7}"), "a\u{241b}[2Jb\u{2407}");
/// ```
#[doc(hidden)]
pub fn printable_text(text: &str) -> String {
    printable(text, TEXT_CHARS)
}

/// Text with control characters made visible (tabs too: in a message they are never layout),
/// cut to `max` characters with `…`.
fn printable(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).map(|c| if c == '\t' { '\u{2409}' } else { visible(c) }).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// The one-line summary after a run: `2 files checked: 1 error, 3 warnings`. Paths that
/// could not be read are counted apart, and then "no problems" is never said of the run:
/// `1 file checked, 1 path could not be read: no problems in the files read`, and when no file
/// was read, `no files checked: 1 path could not be read`.
///
/// ```
/// use entitle::render::summary;
/// assert_eq!(summary(2, 0, 0, 0), "2 files checked: no problems");
/// assert_eq!(summary(0, 1, 0, 0), "no files checked: 1 path could not be read");
/// ```
#[doc(hidden)]
pub fn summary(files: usize, unreadable: usize, errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if files == 0 && unreadable > 0 {
        return format!("no files checked: {} could not be read", plural(unreadable, "path"));
    }
    let findings = match (errors, warnings) {
        (0, 0) if unreadable > 0 => "no problems in the files read".to_string(),
        (0, 0) => "no problems".to_string(),
        (e, 0) => plural(e, "error"),
        (0, w) => plural(w, "warning"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    };
    if unreadable > 0 {
        format!("{} checked, {} could not be read: {findings}", plural(files, "file"), plural(unreadable, "path"))
    } else {
        format!("{} checked: {findings}", plural(files, "file"))
    }
}
