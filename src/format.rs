//! The canonical layout of a policy: what `entitle fmt` writes.
//!
//! The formatter reads the syntax tree, never the checker's model, so it formats any policy
//! that parses, and it keeps every comment: a comment on its own line stays before the
//! declaration or item that follows it, and a comment after code stays on that code's line.
//! Only a comment written inside a declaration's head or an item (between two names of a
//! list, say) moves, to its own line before it. Numbers, units and names stay as written.
//!
//! The layout: one declaration or item per line; items indented four spaces inside
//! `{ … }` (an empty block is `{ }`); a blank line around every tier and add-on block; other
//! blank lines kept, at most one in a row, none just inside braces; the names of consecutive
//! `feature`, `limit` and `setting` declarations padded so their descriptions and `:` line up;
//! comments after code in consecutive lines lined up two spaces past the longest such line.

use crate::diagnostic::Diagnostics;
use crate::limits::Limits;
use crate::source::{Source, Span};
use crate::syntax::{self, ast};

/// Formats a policy in the canonical layout.
///
/// Fails with the syntax errors if the text does not parse (a file with other errors, such
/// as unknown names, formats). Formatting is idempotent and keeps the meaning: the result
/// compiles to the same tables, which the tests check on every policy in the repository.
///
/// ```
/// let source = entitle::Source::new("p.policy", "policy \"p\"\n// Single sign-on.\nfeature sso\nfeature audit_log \"Audit log\"\ntier free { grant sso  // the basics\n}\n");
/// assert_eq!(entitle::format(&source).unwrap(), "\
/// policy \"p\"
/// // Single sign-on.
/// feature sso
/// feature audit_log \"Audit log\"
///
/// tier free {
///     grant sso  // the basics
/// }
/// ");
/// ```
pub fn format(source: &Source) -> Result<String, Diagnostics> {
    format_with(source, &Limits::default())
}

/// [`format()`] under the given limits.
pub fn format_with(source: &Source, limits: &Limits) -> Result<String, Diagnostics> {
    let (file, diagnostics, read_whole) = syntax::parse(source, limits);
    if !diagnostics.is_empty() || !read_whole {
        return Err(Diagnostics::new(source, diagnostics));
    }
    let units = units(source, &file);
    let lines = lay_out(source, &units, &file.comments);
    Ok(render(lines))
}

/// What a line of output holds, for alignment and blank-line rules.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Feature,
    Limit,
    Setting,
    /// A declaration that is not aligned with others: header, ladder.
    Plain,
    /// `tier … {` or `addon … {`, with items to follow.
    Open,
    /// An item inside a block.
    Item,
    /// The `}` of a block.
    Close,
    /// A whole block on one line: `tier free { }`.
    EmptyBlock,
}

/// One line of code to write, with the source range it came from.
struct Unit {
    /// Where its source starts and ends; comments are placed relative to these.
    span: Span,
    kind: Kind,
    /// The text; for aligned kinds, the part to pad (`feature sso`) and the rest (`"SSO"`).
    head: String,
    tail: Option<String>,
}

impl Unit {
    fn indent(&self) -> usize {
        usize::from(self.kind == Kind::Item)
    }
}

fn unit(span: Span, kind: Kind, text: String) -> Unit {
    Unit { span, kind, head: text, tail: None }
}

/// Every declaration as units in source order: one for a simple declaration; for a block, its
/// head (up to `{`), each item, and `}`.
fn units(source: &Source, file: &ast::File) -> Vec<Unit> {
    let mut out = Vec::new();
    for decl in &file.decls {
        match decl {
            ast::Decl::Header(h) => {
                let version = h.version.as_ref().map(|v| format!(" version {}", string(&v.value))).unwrap_or_default();
                out.push(unit(h.span, Kind::Plain, format!("policy {}{version}", string(&h.name.value))));
            }
            ast::Decl::Feature(f) => out.push(Unit {
                span: f.span,
                kind: Kind::Feature,
                head: format!("feature {}", f.name.text),
                tail: f.description.as_ref().map(|d| string(&d.value)),
            }),
            ast::Decl::Limit(l) => {
                let kind = match &l.kind {
                    ast::LimitKind::Cap => String::new(),
                    ast::LimitKind::Gauge(_) => " gauge".to_string(),
                    ast::LimitKind::Per(window) => format!(" per {}", window.text),
                    ast::LimitKind::Every(length) => format!(" per {}", value(length)),
                    ast::LimitKind::RollingPer(_, window) => format!(" rolling {}", window.text),
                    ast::LimitKind::RollingEvery(_, length) => format!(" rolling {}", value(length)),
                    ast::LimitKind::Draws(d) => {
                        let per = match &d.per {
                            None => String::new(),
                            Some(ast::DrawPer::Unit(unit)) => format!(" per {}", unit.text),
                            Some(ast::DrawPer::Quantity(quantity)) => format!(" per {}", value(quantity)),
                        };
                        format!(" draws {} at {}{per}", d.pool.text, value(&d.rate))
                    }
                };
                out.push(Unit {
                    span: l.span,
                    kind: Kind::Limit,
                    head: format!("limit {}", l.name.text),
                    tail: Some(format!(": {}{kind}", l.ty.text)),
                });
            }
            ast::Decl::Setting(s) => {
                let prefer = s.prefer.as_ref().map(|p| format!(" prefer {}", p.text)).unwrap_or_default();
                out.push(Unit {
                    span: s.span,
                    kind: Kind::Setting,
                    head: format!("setting {}", s.name.text),
                    tail: Some(format!(": {}{prefer}", s.ty.text)),
                });
            }
            ast::Decl::Ladder(l) => {
                let tiers: Vec<&str> = l.tiers.iter().map(|t| t.text.as_str()).collect();
                out.push(unit(l.span, Kind::Plain, format!("ladder {}", tiers.join(" < "))));
            }
            ast::Decl::Tier(t) => {
                let extends = t.extends.as_ref().map(|p| format!(" extends {}", p.text)).unwrap_or_default();
                let after = t.extends.as_ref().map_or(t.name.span.end, |p| p.span.end);
                block(source, &mut out, format!("tier {}{extends}", t.name.text), t.span, after, &t.items);
            }
            ast::Decl::Addon(a) => {
                let tiers: Vec<&str> = a.for_tiers.iter().map(|t| t.text.as_str()).collect();
                let after = a.for_tiers.last().map_or(a.name.span.end, |t| t.span.end);
                let head = format!("addon {} for {}", a.name.text, tiers.join(", "));
                block(source, &mut out, head, a.span, after, &a.items);
            }
        }
    }
    out
}

/// The units of a block whose head ends (before `{`) at `head_end`.
fn block(source: &Source, out: &mut Vec<Unit>, head: String, span: Span, head_end: usize, items: &[ast::Item]) {
    if items.is_empty() {
        out.push(unit(span, Kind::EmptyBlock, format!("{head} {{ }}")));
        return;
    }
    let brace = open_brace(source.text(), head_end).unwrap_or(head_end);
    out.push(unit(Span::new(span.start, brace + 1), Kind::Open, format!("{head} {{")));
    for item in items {
        out.push(unit(item.span(), Kind::Item, item_text(item)));
    }
    let close = span.end.saturating_sub(1);
    out.push(unit(Span::new(close, span.end), Kind::Close, "}".to_string()));
}

/// The offset of the `{` after `from`, past whitespace and comments (the grammar allows only
/// those between a block's head and its brace).
fn open_brace(text: &str, from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let rest = text.get(at..)?;
        let trimmed = rest.trim_start();
        at += rest.len() - trimmed.len();
        if trimmed.starts_with("//") {
            at += trimmed.find('\n')?;
        } else {
            return trimmed.starts_with('{').then_some(at);
        }
    }
}

fn item_text(item: &ast::Item) -> String {
    let names = |names: &[ast::Name]| names.iter().map(|n| n.text.as_str()).collect::<Vec<_>>().join(", ");
    match item {
        ast::Item::GrantAll(_) => "grant all".to_string(),
        ast::Item::Grant(g) => {
            let rollout = g.rollout.as_ref().map(|p| format!(" rollout {}%", p.number)).unwrap_or_default();
            format!("grant {}{rollout}", names(&g.features))
        }
        ast::Item::Revoke(r) => format!("revoke {}", names(&r.features)),
        ast::Item::Limit(l) => {
            let op = match l.op {
                ast::AssignOp::Set => "=",
                ast::AssignOp::Add => "+=",
            };
            let mut text = format!("limit {} {op} {}", l.limit.text, value(&l.value));
            if l.per_seat.is_some() {
                text.push_str(" per seat");
            }
            if let Some(soft) = &l.soft {
                text.push_str(" soft");
                if let Some(cap) = &soft.cap {
                    text.push(' ');
                    text.push_str(&value(cap));
                    if soft.cap_per_seat.is_some() {
                        text.push_str(" per seat");
                    }
                }
            }
            if let Some(warn) = &l.warn {
                text.push_str(&format!(" warn at {}%", warn.number));
            }
            text
        }
        ast::Item::Set(s) => format!("set {} = {}", s.setting.text, value(&s.value)),
        ast::Item::Valid(v) => {
            let length = v.length.as_ref().map(|l| format!(" for {}", value(l))).unwrap_or_default();
            let from = v.from.as_ref().map(|d| format!(" from {}", d.text)).unwrap_or_default();
            let until = v.until.as_ref().map(|d| format!(" until {}", d.text)).unwrap_or_default();
            format!("valid{length}{from}{until}")
        }
        ast::Item::Max(m) => format!("max {}", value(&m.value)),
    }
}

fn value(value: &ast::Value) -> String {
    match &value.kind {
        ast::ValueKind::Unlimited => "unlimited".to_string(),
        ast::ValueKind::Percent(p) => format!("{}%", p.number),
        ast::ValueKind::Quantity { number, unit: None } => number.clone(),
        ast::ValueKind::Quantity { number, unit: Some(unit) } => format!("{number} {}", unit.text),
        ast::ValueKind::Str(text) => string(text),
    }
}

/// A string literal with the language's escapes.
fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A line of output before alignment.
enum Line {
    Blank,
    Comment { indent: usize, text: String },
    Code(Code),
}

/// A line of code: a unit's text, in parts for alignment, and its trailing comment.
struct Code {
    indent: usize,
    kind: Kind,
    head: String,
    tail: Option<String>,
    comment: Option<String>,
}

/// Places the units and comments on lines, with the blank-line rules.
fn lay_out(source: &Source, units: &[Unit], comments: &[ast::Comment]) -> Vec<Line> {
    let text = source.text();
    // Whether a line with nothing on it lies between two offsets: the text between them,
    // less the rest of the first line and the start of the last, holds an empty line.
    let has_blank_line = |from: usize, to: usize| {
        let between = text.get(from.min(to)..to).unwrap_or("");
        let lines: Vec<&str> = between.split('\n').collect();
        lines.get(1..lines.len().saturating_sub(1)).unwrap_or_default().iter().any(|l| l.trim().is_empty())
    };
    let mut lines: Vec<Line> = Vec::new();
    let push_blank = |lines: &mut Vec<Line>| {
        let after_open = matches!(lines.last(), Some(Line::Code(Code { kind: Kind::Open, .. })));
        if !lines.is_empty() && !after_open && !matches!(lines.last(), Some(Line::Blank)) {
            lines.push(Line::Blank);
        }
    };
    let comment_text = |c: &ast::Comment| format!("//{}", c.text.trim_end());
    let mut next_comment = 0;
    let mut previous_end = 0;
    let mut after_block = false;
    for (index, unit) in units.iter().enumerate() {
        let starts_block = matches!(unit.kind, Kind::Open | Kind::EmptyBlock);
        // A blank line separates blocks from what is around them, at the top level.
        let mut force_blank = (starts_block || after_block) && unit.indent() == 0;
        // Comments before the unit, or written inside it, go on their own lines before it.
        while let Some(comment) = comments.get(next_comment).filter(|c| c.span.start < unit.span.end) {
            if force_blank || has_blank_line(previous_end, comment.span.start) {
                push_blank(&mut lines);
            }
            force_blank = false;
            // Comments before a block's `}` are inside the block.
            let indent = if unit.kind == Kind::Close { 1 } else { unit.indent() };
            lines.push(Line::Comment { indent, text: comment_text(comment) });
            previous_end = comment.span.end;
            next_comment += 1;
        }
        let blank_in_source = has_blank_line(previous_end, unit.span.start);
        if unit.kind != Kind::Close && (force_blank || blank_in_source) {
            push_blank(&mut lines);
        }
        if unit.kind == Kind::Close && matches!(lines.last(), Some(Line::Blank)) {
            lines.pop();
        }
        // A comment that starts on the line where the unit ends, after it, stays on its line.
        let end_line = source.line_index(unit.span.end);
        let trailing = comments
            .get(next_comment)
            .filter(|c| source.line_index(c.span.start) == end_line)
            .filter(|c| units.get(index + 1).is_none_or(|next| next.span.start > c.span.start));
        let comment = trailing.map(|c| {
            next_comment += 1;
            previous_end = c.span.end;
            comment_text(c)
        });
        if comment.is_none() {
            previous_end = unit.span.end;
        }
        lines.push(Line::Code(Code {
            indent: unit.indent(),
            kind: unit.kind,
            head: unit.head.clone(),
            tail: unit.tail.clone(),
            comment,
        }));
        after_block = matches!(unit.kind, Kind::Close | Kind::EmptyBlock);
    }
    for comment in comments.get(next_comment..).unwrap_or_default() {
        if after_block || has_blank_line(previous_end, comment.span.start) {
            push_blank(&mut lines);
        }
        after_block = false;
        lines.push(Line::Comment { indent: 0, text: comment_text(comment) });
        previous_end = comment.span.end;
    }
    lines
}

/// Aligns and joins the lines. Within a run of consecutive code lines (no blank or comment
/// line between), consecutive declarations of one aligned kind pad their names to one width,
/// and trailing comments start two spaces past the longest line that has one.
fn render(lines: Vec<Line>) -> String {
    let mut out = String::new();
    let mut at = 0;
    while let Some(line) = lines.get(at) {
        match line {
            Line::Blank => out.push('\n'),
            Line::Comment { indent, text } => {
                out.push_str(&INDENT.repeat(*indent));
                out.push_str(text);
                out.push('\n');
            }
            Line::Code(_) => {
                let run: Vec<&Code> = lines
                    .get(at..)
                    .unwrap_or_default()
                    .iter()
                    .map_while(|l| match l {
                        Line::Code(code) => Some(code),
                        _ => None,
                    })
                    .collect();
                at += run.len();
                out.push_str(&render_run(&run));
                continue;
            }
        }
        at += 1;
    }
    out
}

const INDENT: &str = "    ";

/// A run of consecutive code lines, aligned.
fn render_run(codes: &[&Code]) -> String {
    // The width of the names in each group of consecutive declarations of one aligned kind.
    let mut texts: Vec<String> = Vec::with_capacity(codes.len());
    let mut start = 0;
    while start < codes.len() {
        let kind = codes.get(start).map(|c| c.kind);
        let aligned = matches!(kind, Some(Kind::Feature | Kind::Limit | Kind::Setting));
        let len = if aligned {
            codes.get(start..).unwrap_or_default().iter().take_while(|c| Some(c.kind) == kind).count()
        } else {
            1
        };
        let group = codes.get(start..start + len).unwrap_or_default();
        let width = group.iter().filter(|c| c.tail.is_some()).map(|c| c.head.chars().count()).max().unwrap_or(0);
        for code in group {
            let text = match &code.tail {
                Some(tail) => format!("{:width$} {tail}", code.head),
                None => code.head.clone(),
            };
            texts.push(format!("{}{text}", INDENT.repeat(code.indent)));
        }
        start += len;
    }
    let column = codes
        .iter()
        .zip(&texts)
        .filter(|(code, _)| code.comment.is_some())
        .map(|(_, text)| text.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (code, text) in codes.iter().zip(texts) {
        let mut line = text;
        if let Some(comment) = &code.comment {
            let pad = column.saturating_sub(line.chars().count()) + 2;
            line.push_str(&" ".repeat(pad));
            line.push_str(comment);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
