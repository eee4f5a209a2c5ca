//! Parsing: policy text in, [`ast::File`] and syntax diagnostics out.
//!
//! This is the only module that knows pest. It parses one declaration at a time so that a
//! syntax error costs only the declaration it sits in: the error is reported, the parser skips
//! to the next line that starts a declaration, and goes on. Each declaration is first offered
//! to a hand-written reader of the same grammar ([`descent`]), which is several times faster;
//! what it declines goes to pest, which reads it or reports the error. Comments are collected
//! by a small lexical scan of their own, since the grammar treats them as trivia.

pub mod ast;
pub(crate) mod descent;

use pest::iterators::Pair;
use pest::Parser as _;
use thiserror::Error;

use crate::diagnostic::{Code, Diagnostic};
use crate::limits::Limits;
use crate::source::{Source, Span};
use ast::*;

/// The generated parser lives in a private module so that no pest type, `Rule` included, is
/// reachable from outside `syntax`.
mod grammar {
    #![allow(missing_docs, reason = "pest_derive generates the undocumented `Rule` enum")]
    #[derive(pest_derive::Parser)]
    #[grammar = "../grammar/entitle.pest"]
    pub(super) struct Grammar;
}
use grammar::{Grammar, Rule};

/// What can go wrong while parsing.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyntaxError {
    /// The grammar expected something else here.
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What would have been accepted, as an English list.
        expected: String,
        /// What was there, in backticks, or "end of file".
        found: String,
    },
    /// The source is larger than `Limits::source_bytes`.
    #[error("policy text exceeds the limit of {max} bytes")]
    TooLarge {
        /// The size of the input.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The file holds more than `Limits::declarations` declarations.
    #[error("more than {max} declarations; the rest of the file is not read")]
    TooManyDeclarations {
        /// The limit.
        max: usize,
    },
    /// A carriage return that is not part of a CRLF line break (a file with classic Mac line
    /// endings): lines could not be told apart, so nothing is read.
    #[error("a carriage return that is not part of a CRLF line break; the file is not read")]
    LoneCarriageReturn,
}

impl SyntaxError {
    /// The stable code this error is reported under.
    pub fn code(&self) -> Code {
        match self {
            SyntaxError::Unexpected { .. } | SyntaxError::LoneCarriageReturn => Code::Syntax,
            SyntaxError::TooLarge { .. } | SyntaxError::TooManyDeclarations { .. } => Code::InputLimit,
        }
    }

    fn at(self, span: Span) -> Diagnostic {
        Diagnostic::new(self.code(), span, self.to_string())
    }
}

/// Parses `source` into a syntax tree.
///
/// Never fails and never panics: declarations with syntax errors are left out of the tree and
/// described in the returned diagnostics (all `E001` or `E019`).
///
/// The third value says whether the whole text was read; when it was not (input past a
/// limit, or lines that cannot be told apart), checking what was read would only report
/// consequences of the missing rest.
pub(crate) fn parse(source: &Source, limits: &Limits) -> (File, Vec<Diagnostic>, bool) {
    parse_with(source, limits, Readers::DescentThenPest)
}

/// Which readers the parser uses for each declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Readers {
    /// The hand-written reader first, and pest for what it declines: what `parse` does.
    DescentThenPest,
    /// pest alone: the reference that tests and the fuzz hook compare the other against.
    #[cfg_attr(not(any(test, feature = "fuzzing")), expect(dead_code, reason = "only tests and fuzzing compare"))]
    PestOnly,
}

/// [`parse`], with the choice of readers.
pub(crate) fn parse_with(source: &Source, limits: &Limits, readers: Readers) -> (File, Vec<Diagnostic>, bool) {
    let text = source.text();
    let mut diagnostics = Vec::new();
    let empty = || File { decls: Vec::new(), comments: Vec::new(), cut_short: Vec::new() };
    if text.len() > limits.source_bytes {
        let error = SyntaxError::TooLarge { size: text.len(), max: limits.source_bytes };
        diagnostics.push(error.at(Span::at(0)));
        return (empty(), diagnostics, false);
    }
    // Comments end at a line break, and a file whose lines end in a bare CR would read as one
    // line: say so, instead of reporting whatever the first comment swallowed.
    let bytes = text.as_bytes();
    let lone_cr = (0..bytes.len()).find(|&at| bytes.get(at) == Some(&b'\r') && bytes.get(at + 1) != Some(&b'\n'));
    if let Some(at) = lone_cr {
        let diagnostic = SyntaxError::LoneCarriageReturn
            .at(Span::new(at, at + 1))
            .with_help("save the file with LF or CRLF line endings");
        diagnostics.push(diagnostic);
        return (empty(), diagnostics, false);
    }

    let lexical = LexicalScan::of(text);
    let mut decls = Vec::new();
    let mut cut_short = Vec::new();
    // Editors on some systems start UTF-8 files with a byte-order mark; it is invisible, so it
    // is skipped rather than reported. Spans stay offsets into the text as given.
    let mut offset = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    while offset < text.len() {
        let decl_start = descent::trivia_end(text, offset, text.len());
        // Only another declaration counts against the limit, not the blank lines and comments
        // after the last one.
        if decl_start >= text.len() {
            break;
        }
        if decls.len() >= limits.declarations() {
            let error = SyntaxError::TooManyDeclarations { max: limits.declarations() };
            diagnostics.push(error.at(Span::at(decl_start)));
            return (File { decls, comments: lexical.comments, cut_short }, diagnostics, false);
        }
        // Each reader is given only this declaration's text, up to the next line that starts
        // another declaration: building a pest error costs time in proportion to the input
        // after the error, so handing it the whole rest of the file would make many errors
        // quadratic.
        let decl_end = lexical.resync_point(source, decl_start, decl_start);
        if readers == Readers::DescentThenPest {
            if let Some((decl, end)) = descent::declaration(text, decl_start, decl_end) {
                decls.push(decl);
                // Every declaration consumes at least its keyword, so this always advances.
                offset = end.max(offset + 1);
                continue;
            }
        }
        // pest starts where the declaration does, not where the last one ended, so that its
        // message for a declaration that starts wrong does not depend on how much trivia the
        // last one's optional parts swallowed.
        offset = decl_start;
        // Declaration boundaries come from the lexical scan, which stops only at ASCII bytes.
        let rest = text.get(offset..decl_end).unwrap_or("");
        match Grammar::parse(Rule::step, rest) {
            Ok(mut pairs) => {
                let Some(decl) = pairs.next().and_then(|step| step.into_inner().next()) else {
                    break;
                };
                if decl.as_rule() == Rule::EOI {
                    break;
                }
                let end = offset + decl.as_span().end();
                let builder = Builder { offset, text, comments: &lexical.comments };
                let span = builder.span(&decl);
                match build_decl(decl, &builder) {
                    Some(built) => decls.push(built),
                    // The grammar guarantees every shape the builder reads; reaching this would be
                    // a bug in this module, reported rather than panicked on.
                    None => diagnostics.push(Diagnostic::new(
                        Code::Syntax,
                        span,
                        "could not read this declaration (an internal error; please report it)",
                    )),
                }
                // Every declaration consumes at least its keyword, so this always advances.
                offset = end.max(offset + 1);
            }
            Err(error) => {
                let (position, expected) = describe_pest_error(&error);
                let position = (offset + position).min(text.len());
                let found = found_at(text, position);
                let span = Span::new(position, position + found.len());
                let found = if found.is_empty() { "end of file".to_string() } else { format!("`{found}`") };
                diagnostics.push(SyntaxError::Unexpected { expected, found }.at(span));
                if let Some(head) = read_head(text, decl_start, position) {
                    cut_short.push(head);
                }
                offset = lexical.resync_point(source, decl_start, position);
            }
        }
    }
    (File { decls, comments: lexical.comments, cut_short }, diagnostics, true)
}

/// The kind and name of the declaration at `decl_start` whose syntax error is at `error`, if
/// its head (keyword and name) parsed and ends before the error.
fn read_head(text: &str, decl_start: usize, error: usize) -> Option<(DeclKind, Name)> {
    let head_text = text.get(decl_start..error)?;
    let head = Grammar::parse(Rule::decl_head, head_text).ok()?.next()?;
    let mut parts = head.into_inner();
    let kind = match parts.next()?.as_rule() {
        Rule::kw_feature => DeclKind::Feature,
        Rule::kw_limit => DeclKind::Limit,
        Rule::kw_setting => DeclKind::Setting,
        Rule::kw_tier => DeclKind::Tier,
        _ => return None,
    };
    let name = parts.next()?;
    let span = name.as_span();
    let name =
        Name { text: name.as_str().to_string(), span: Span::new(decl_start + span.start(), decl_start + span.end()) };
    Some((kind, name))
}

/// The offending token at `position`: a whole word, or one character, or "" at the end.
fn found_at(text: &str, position: usize) -> &str {
    let rest = text.get(position..).unwrap_or("");
    let word_len = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
    if word_len > 0 {
        // Long garbage is cut to keep the message one readable line.
        let mut end = word_len.min(40);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        rest.get(..end).unwrap_or("")
    } else {
        rest.chars().next().map_or("", |c| rest.get(..c.len_utf8()).unwrap_or(""))
    }
}

/// Where the error is and what the grammar would have accepted there, in words.
fn describe_pest_error(error: &pest::error::Error<Rule>) -> (usize, String) {
    let position = match error.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((start, _)) => start,
    };
    let mut wanted: Vec<&str> = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            positives.iter().map(|rule| describe_rule(*rule)).collect()
        }
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    wanted.sort_unstable();
    wanted.dedup();
    let expected = match wanted.as_slice() {
        [] => "a declaration".to_string(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    };
    (position, expected)
}

fn describe_rule(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of file",
        Rule::kw_policy | Rule::header => "`policy`",
        Rule::kw_version => "`version`",
        Rule::kw_feature | Rule::feature_decl => "`feature`",
        Rule::kw_limit | Rule::limit_decl | Rule::limit_item => "`limit`",
        Rule::kw_setting | Rule::setting_decl => "`setting`",
        Rule::kw_ladder | Rule::ladder_decl => "`ladder`",
        Rule::kw_tier | Rule::tier_decl => "`tier`",
        Rule::kw_extends => "`extends`",
        Rule::kw_addon | Rule::addon_decl => "`addon`",
        Rule::kw_for | Rule::valid_for => "`for`",
        Rule::kw_grant | Rule::grant | Rule::grant_all => "`grant`",
        Rule::kw_revoke | Rule::revoke => "`revoke`",
        Rule::kw_all => "`all`",
        Rule::kw_rollout | Rule::rollout => "`rollout`",
        Rule::kw_set | Rule::set_item => "`set`",
        Rule::kw_soft | Rule::soft => "`soft`",
        Rule::kw_warn | Rule::warn => "`warn`",
        Rule::kw_at => "`at`",
        Rule::kw_unlimited | Rule::unlimited => "`unlimited`",
        Rule::kw_valid | Rule::valid => "`valid`",
        Rule::kw_from | Rule::valid_from => "`from`",
        Rule::kw_until | Rule::valid_until => "`until`",
        Rule::kw_gauge | Rule::gauge => "`gauge`",
        Rule::kw_per | Rule::per => "`per`",
        Rule::kw_prefer | Rule::prefer => "`prefer`",
        // `per_seat` is reported where it would start, at its `per`; `seat` only after it.
        Rule::per_seat => "`per`",
        Rule::kw_seat => "`seat`",
        Rule::kw_draws | Rule::draws => "`draws`",
        Rule::kw_rolling | Rule::rolling => "`rolling`",
        Rule::kw_max | Rule::max_item => "`max`",
        Rule::name | Rule::name_list | Rule::keyword => "a name",
        Rule::word => "a type",
        Rule::string | Rule::string_body => "a string",
        Rule::date => "a date such as `2026-11-01`",
        Rule::value => "a value",
        Rule::quantity | Rule::decimal => "a number",
        Rule::percent | Rule::percent_sign => "a percentage such as `5%`",
        Rule::unit => "a unit",
        Rule::assign_op => "`=` or `+=`",
        Rule::eq => "`=`",
        Rule::colon => "`:`",
        Rule::comma => "`,`",
        Rule::lt => "`<`",
        Rule::lbrace => "`{`",
        Rule::rbrace => "`}`",
        // Silent rules never appear in pest's reports; `step` and `item` stand for any start.
        _ => "a declaration",
    }
}

/// Facts from one pass over the raw text that the grammar does not keep: the comments, and
/// where the braces outside strings and comments are (for recovering after an error).
struct LexicalScan {
    comments: Vec<Comment>,
    /// Byte offsets of every `{` and `}` outside strings and comments, in order.
    brace_offsets: Vec<usize>,
    /// `depth_before[i]` is the nesting depth just before `brace_offsets[i]` (opening braces
    /// minus closing ones so far); one extra entry holds the depth after the last brace.
    /// Prefix sums make the depth between two offsets a pair of binary searches, which keeps
    /// recovery linear even in a file full of unclosed blocks.
    depth_before: Vec<i64>,
    /// The start of every line whose first word starts a declaration, and whether that word is
    /// `limit` (which also starts an item inside a block), in order.
    declaration_lines: Vec<(usize, bool)>,
}

impl LexicalScan {
    fn of(text: &str) -> LexicalScan {
        let mut comments = Vec::new();
        let mut braces = Vec::new();
        let bytes = text.as_bytes();
        let mut declaration_lines: Vec<(usize, bool)> =
            declaration_keyword_at(text, 0).map(|is_limit| (0, is_limit)).into_iter().collect();
        let mut i = 0;
        // Strings cannot span lines, so a stray quote is forgotten at the end of its line, the
        // same way the grammar rejects it there.
        let mut in_string = false;
        while let Some(&byte) = bytes.get(i) {
            match byte {
                b'\n' => {
                    in_string = false;
                    if let Some(is_limit) = declaration_keyword_at(text, i + 1) {
                        declaration_lines.push((i + 1, is_limit));
                    }
                }
                b'\\' if in_string => i += 1,
                b'"' => in_string = !in_string,
                b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => {
                    // `i` is at an ASCII `/`, and the end at a line break or the text's end, so
                    // every slice here is on character boundaries; `get` keeps that unproven
                    // assumption from ever panicking.
                    let end = text.get(i..).and_then(|rest| rest.find('\n')).map_or(text.len(), |n| i + n);
                    let end = if text.get(..end).is_some_and(|t| t.ends_with('\r')) { end - 1 } else { end };
                    let body = text.get(i + 2..end).unwrap_or("");
                    comments.push(Comment { text: body.to_string(), span: Span::new(i, end) });
                    i = end;
                    continue;
                }
                b'{' if !in_string => braces.push((i, 1)),
                b'}' if !in_string => braces.push((i, -1)),
                _ => {}
            }
            i += 1;
        }
        let brace_offsets = braces.iter().map(|&(at, _)| at).collect();
        let depth_before = std::iter::once(0)
            .chain(braces.iter().scan(0i64, |depth, &(_, delta)| {
                *depth += i64::from(delta);
                Some(*depth)
            }))
            .collect();
        LexicalScan { comments, brace_offsets, depth_before, declaration_lines }
    }

    /// The change in nesting depth from offset `from` up to (not including) offset `to`.
    fn depth_change(&self, from: usize, to: usize) -> i64 {
        let first = self.brace_offsets.partition_point(|&at| at < from);
        let last = self.brace_offsets.partition_point(|&at| at < to);
        // `depth_before` has one entry more than `brace_offsets`, and a partition point is at
        // most its length, so both reads are in range.
        let depth = |at: usize| self.depth_before.get(at).copied().unwrap_or(0);
        depth(last) - depth(first)
    }

    /// Where to resume after a syntax error at `error` in the declaration starting at
    /// `decl_start`: the first line, at or after the error's line and after `decl_start`, that
    /// begins with a declaration keyword. `limit` only counts outside any open block, since it
    /// also starts an item inside tiers. Returns the end of the text if there is no such line.
    fn resync_point(&self, source: &Source, decl_start: usize, error: usize) -> usize {
        let text = source.text();
        // From the source's line index, not by searching back for a line break: many
        // declarations on one long line would make that search quadratic.
        let error_line_start = source.line_start(error);
        let first = self.declaration_lines.partition_point(|&(at, _)| at < error_line_start);
        let candidates = self.declaration_lines.get(first..).unwrap_or_default();
        candidates
            .iter()
            .find(|&&(line_start, is_limit)| {
                line_start > decl_start && (!is_limit || self.depth_change(decl_start, line_start) <= 0)
            })
            .map_or(text.len(), |&(line_start, _)| line_start)
    }
}

/// Whether the line starting at `line_start` begins (after spaces and tabs) with a word that
/// starts a declaration: `Some(true)` for `limit`, `Some(false)` for the others.
fn declaration_keyword_at(text: &str, line_start: usize) -> Option<bool> {
    let line = text.get(line_start..)?.trim_start_matches([' ', '\t']);
    let word_end = line.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(line.len());
    match line.get(..word_end)? {
        "policy" | "feature" | "setting" | "ladder" | "tier" | "addon" => Some(false),
        "limit" => Some(true),
        _ => None,
    }
}

// --- Building the AST from pest pairs. -------------------------------------------------------
//
// Each builder reads the children it needs by rule, skipping keywords and punctuation. The
// grammar guarantees the shapes read here; a missing child yields `None`, which the driver
// reports as an internal error rather than panicking.

/// What the builders need besides the pair: where the parsed slice starts in the whole text,
/// and the text and comments, to trim spans.
struct Builder<'t> {
    offset: usize,
    text: &'t str,
    comments: &'t [Comment],
}

impl Builder<'_> {
    /// The span of a pair in the whole text, without trailing whitespace or comments. pest
    /// keeps the trivia it skipped before trying an optional element that then did not match
    /// (`grant x` followed by a line break, trying `rollout`), which would make a span run
    /// into the next line or swallow a trailing comment.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let span = pair.as_span();
        let start = self.offset + span.start();
        let mut end = self.offset + span.end();
        loop {
            end = start + self.text.get(start..end).map_or(0, |t| t.trim_end().len());
            // The comment the trimmed span ends in, if any: a comment keeps its own trailing
            // spaces, which trimming has already cut, so look for the last comment that starts
            // before the end rather than one that ends exactly there.
            let last_before = self.comments.partition_point(|c| c.span.start < end).checked_sub(1);
            match last_before.and_then(|i| self.comments.get(i)) {
                Some(comment) if comment.span.start >= start && end <= comment.span.end => end = comment.span.start,
                _ => return Span::new(start, end),
            }
        }
    }
}

fn children<'a>(pair: Pair<'a, Rule>) -> impl Iterator<Item = Pair<'a, Rule>> {
    pair.into_inner().filter(|p| {
        !matches!(
            p.as_rule(),
            Rule::kw_policy
                | Rule::kw_version
                | Rule::kw_feature
                | Rule::kw_limit
                | Rule::kw_setting
                | Rule::kw_ladder
                | Rule::kw_tier
                | Rule::kw_extends
                | Rule::kw_addon
                | Rule::kw_for
                | Rule::kw_grant
                | Rule::kw_revoke
                | Rule::kw_all
                | Rule::kw_rollout
                | Rule::kw_set
                | Rule::kw_soft
                | Rule::kw_warn
                | Rule::kw_at
                | Rule::kw_valid
                | Rule::kw_from
                | Rule::kw_until
                | Rule::kw_per
                | Rule::kw_prefer
                | Rule::kw_max
                | Rule::kw_seat
                | Rule::kw_draws
                | Rule::kw_rolling
                | Rule::eq
                | Rule::colon
                | Rule::comma
                | Rule::lt
                | Rule::lbrace
                | Rule::rbrace
        )
    })
}

fn build_decl(pair: Pair<'_, Rule>, b: &Builder<'_>) -> Option<Decl> {
    let span = b.span(&pair);
    let rule = pair.as_rule();
    let mut parts = children(pair);
    Some(match rule {
        Rule::header => {
            let name = build_str(parts.next()?, b);
            let version = parts.next().map(|p| build_str(p, b));
            Decl::Header(Header { name, version, span })
        }
        Rule::feature_decl => {
            let name = build_name(parts.next()?, b);
            let description = parts.next().map(|p| build_str(p, b));
            Decl::Feature(FeatureDecl { name, description, span })
        }
        Rule::limit_decl => {
            let name = build_name(parts.next()?, b);
            let ty = build_name(parts.next()?, b);
            let kind = match parts.next() {
                None => LimitKind::Cap,
                Some(p) if p.as_rule() == Rule::gauge => LimitKind::Gauge(b.span(&p)),
                Some(p) if p.as_rule() == Rule::draws => {
                    let span = b.span(&p);
                    let mut inner = children(p);
                    let pool = build_name(inner.next()?, b);
                    let rate = inner.next()?;
                    let rate_span = b.span(&rate);
                    let rate = Value { kind: build_quantity(rate, rate_span, b)?, span: rate_span };
                    let per = match inner.next() {
                        None => None,
                        Some(p) => Some(match build_per(p, b)? {
                            Ok(quantity) => DrawPer::Quantity(quantity),
                            Err(unit) => DrawPer::Unit(unit),
                        }),
                    };
                    LimitKind::Draws(Draws { pool, rate, per, span })
                }
                Some(p) if p.as_rule() == Rule::rolling => {
                    let keyword = b.span(&p.clone().into_inner().next()?);
                    match build_per(p, b)? {
                        Ok(quantity) => LimitKind::RollingEvery(keyword, quantity),
                        Err(word) => LimitKind::RollingPer(keyword, word),
                    }
                }
                Some(p) => match build_per(p, b)? {
                    Ok(quantity) => LimitKind::Every(quantity),
                    Err(word) => LimitKind::Per(word),
                },
            };
            Decl::Limit(LimitDecl { name, ty, kind, span })
        }
        Rule::setting_decl => {
            let name = build_name(parts.next()?, b);
            let ty = build_name(parts.next()?, b);
            let prefer = match parts.next() {
                Some(p) => Some(build_name(children(p).next()?, b)),
                None => None,
            };
            Decl::Setting(SettingDecl { name, ty, prefer, span })
        }
        Rule::ladder_decl => Decl::Ladder(LadderDecl { tiers: parts.map(|p| build_name(p, b)).collect(), span }),
        Rule::tier_decl => {
            let name = build_name(parts.next()?, b);
            let mut extends = None;
            let mut items = Vec::new();
            for part in parts {
                if part.as_rule() == Rule::name {
                    extends = Some(build_name(part, b));
                } else {
                    items.push(build_item(part, b)?);
                }
            }
            Decl::Tier(TierDecl { name, extends, items, span })
        }
        Rule::addon_decl => {
            let name = build_name(parts.next()?, b);
            let for_tiers = build_names(parts.next()?, b);
            let items = parts.map(|p| build_item(p, b)).collect::<Option<Vec<_>>>()?;
            Decl::Addon(AddonDecl { name, for_tiers, items, span })
        }
        _ => return None,
    })
}

fn build_item(pair: Pair<'_, Rule>, b: &Builder<'_>) -> Option<Item> {
    let span = b.span(&pair);
    let rule = pair.as_rule();
    let mut parts = children(pair);
    Some(match rule {
        Rule::grant_all => Item::GrantAll(span),
        Rule::grant => {
            let features = build_names(parts.next()?, b);
            let rollout = match parts.next() {
                Some(p) => Some(build_percent(children(p).next()?, b)),
                None => None,
            };
            Item::Grant(Grant { features, rollout, span })
        }
        Rule::revoke => Item::Revoke(Revoke { features: build_names(parts.next()?, b), span }),
        Rule::limit_item => {
            let limit = build_name(parts.next()?, b);
            let op_pair = parts.next()?;
            let op = if op_pair.as_str() == "+=" { AssignOp::Add } else { AssignOp::Set };
            let op_span = b.span(&op_pair);
            let value = build_value(parts.next()?, b)?;
            let mut per_seat = None;
            let mut soft = None;
            let mut warn = None;
            for part in parts {
                match part.as_rule() {
                    Rule::per_seat => per_seat = Some(b.span(&part)),
                    Rule::soft => {
                        let soft_span = b.span(&part);
                        let mut inner = children(part);
                        let cap = match inner.next() {
                            Some(p) => Some(build_value(p, b)?),
                            None => None,
                        };
                        let cap_per_seat = inner.next().map(|p| b.span(&p));
                        soft = Some(Soft { cap, cap_per_seat, span: soft_span });
                    }
                    Rule::warn => warn = Some(build_percent(children(part).next()?, b)),
                    _ => return None,
                }
            }
            Item::Limit(LimitItem { limit, op, op_span, value, per_seat, soft, warn, span })
        }
        Rule::set_item => {
            let setting = build_name(parts.next()?, b);
            let value = build_value(parts.next()?, b)?;
            Item::Set(SetItem { setting, value, span })
        }
        Rule::valid => {
            let mut length = None;
            let mut from = None;
            let mut until = None;
            for part in parts {
                let rule = part.as_rule();
                if rule == Rule::valid_for {
                    let quantity = children(part).next()?;
                    let span = b.span(&quantity);
                    length = Some(Value { kind: build_quantity(quantity, span, b)?, span });
                    continue;
                }
                let date = children(part).next()?;
                let date = Date { text: date.as_str().to_string(), span: b.span(&date) };
                if rule == Rule::valid_from {
                    from = Some(date);
                } else {
                    until = Some(date);
                }
            }
            Item::Valid(Valid { length, from, until, span })
        }
        Rule::max_item => Item::Max(MaxItem { value: build_value(parts.next()?, b)?, span }),
        _ => return None,
    })
}

fn build_value(pair: Pair<'_, Rule>, b: &Builder<'_>) -> Option<Value> {
    let span = b.span(&pair);
    let inner = pair.into_inner().next()?;
    let kind = match inner.as_rule() {
        Rule::unlimited => ValueKind::Unlimited,
        Rule::quantity => build_quantity(inner, span, b)?,
        Rule::string => ValueKind::Str(build_str(inner, b).value),
        _ => return None,
    };
    Some(Value { kind, span })
}

/// A `per` pair: `Ok` for a number (with its unit, if any), `Err` for a word alone.
fn build_per(pair: Pair<'_, Rule>, b: &Builder<'_>) -> Option<Result<Value, Name>> {
    let inner = children(pair).next()?;
    if inner.as_rule() == Rule::quantity {
        let span = b.span(&inner);
        Some(Ok(Value { kind: build_quantity(inner, span, b)?, span }))
    } else {
        Some(Err(build_name(inner, b)))
    }
}

/// A `quantity` pair (a number with a `%` or a unit) as a value kind; `span` is its span.
fn build_quantity(pair: Pair<'_, Rule>, span: Span, b: &Builder<'_>) -> Option<ValueKind> {
    let mut parts = pair.into_inner();
    let number = parts.next()?.as_str().to_string();
    Some(match parts.next() {
        Some(sign) if sign.as_rule() == Rule::percent_sign => ValueKind::Percent(Percent { number, span }),
        unit => ValueKind::Quantity { number, unit: unit.map(|p| build_name(p, b)) },
    })
}

fn build_percent(pair: Pair<'_, Rule>, b: &Builder<'_>) -> Percent {
    let span = b.span(&pair);
    Percent { number: pair.as_str().trim_end_matches('%').to_string(), span }
}

fn build_name(pair: Pair<'_, Rule>, b: &Builder<'_>) -> Name {
    Name { text: pair.as_str().to_string(), span: b.span(&pair) }
}

fn build_names(pair: Pair<'_, Rule>, b: &Builder<'_>) -> Vec<Name> {
    children(pair).map(|p| build_name(p, b)).collect()
}

fn build_str(pair: Pair<'_, Rule>, b: &Builder<'_>) -> Str {
    let span = b.span(&pair);
    let raw = pair.as_str();
    let body = raw.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(raw);
    Str { value: unescape(body), span }
}

/// The value of a string literal's body (between the quotes), with its escapes processed.
fn unescape(body: &str) -> String {
    let mut value = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => value.push('\n'),
                Some('t') => value.push('\t'),
                Some(other) => value.push(other),
                None => {}
            }
        } else {
            value.push(c);
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> (File, Vec<Diagnostic>) {
        let (file, diagnostics, _) = parse(&Source::new("t.policy", text), &Limits::default());
        (file, diagnostics)
    }

    #[test]
    fn parses_every_construct_of_the_sketch() {
        let (file, diagnostics) = parse_text(
            r#"policy "p" version "1"
feature a "A \"quoted\""
feature b
limit c : count gauge
limit d : count per day
limit s : bytes
setting sla : percent prefer higher
ladder free < pro
tier free { grant a limit c = 10 warn at 80% limit s = 1 GiB }
tier pro extends free {
  grant b rollout 5.5%
  revoke a
  limit d = 1_000 soft 1_200 warn at 90%
  limit c = unlimited
  set sla = 99.9%
}
addon x for free, pro { grant all limit d += 5 valid from 2026-11-01 until 2026-12-01T00:00:00Z }
"#,
        );
        assert_eq!(diagnostics, vec![]);
        assert_eq!(file.decls.len(), 11);
        let Decl::Feature(a) = &file.decls[1] else { panic!("not a feature") };
        assert_eq!(a.description.as_ref().map(|d| d.value.as_str()), Some("A \"quoted\""));
        let Decl::Tier(pro) = &file.decls[9] else { panic!("not a tier") };
        assert_eq!(pro.extends.as_ref().map(|n| n.text.as_str()), Some("free"));
        assert_eq!(pro.items.len(), 5);
        let Item::Limit(d) = &pro.items[2] else { panic!("not a limit") };
        assert!(matches!(&d.value.kind, ValueKind::Quantity { number, unit: None } if number == "1_000"));
        assert_eq!(d.warn.as_ref().map(|w| w.number.as_str()), Some("90"));
        let Decl::Addon(x) = &file.decls[10] else { panic!("not an addon") };
        assert_eq!(x.for_tiers.len(), 2);
        assert!(matches!(&x.items[1], Item::Limit(l) if l.op == AssignOp::Add));
    }

    #[test]
    fn recovers_after_an_error_and_keeps_later_declarations() {
        let (file, diagnostics) = parse_text("policy \"p\"\ntier a {\n  grant\n  limit x = 1\n}\nfeature ok\n");
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        assert_eq!(diagnostics[0].message, "expected `all` or a name, found `limit`");
        assert!(matches!(file.decls.last(), Some(Decl::Feature(f)) if f.name.text == "ok"));
    }

    #[test]
    fn spans_end_at_the_last_token_not_at_trailing_trivia() {
        let text = "policy \"p\"\ntier t {\n  grant a // why\n  revoke b\n}\nfeature c  // note\n";
        let (file, _) = parse_text(text);
        let Decl::Tier(tier) = &file.decls[1] else { panic!("not a tier") };
        let slice = |span: Span| &text[span.start..span.end];
        assert_eq!(slice(tier.items[0].span()), "grant a");
        assert_eq!(slice(tier.items[1].span()), "revoke b");
        assert_eq!(slice(file.decls[2].span()), "feature c");
    }

    #[test]
    fn a_trailing_comment_with_trailing_spaces_stays_out_of_the_span() {
        for text in ["policy \"p\"\nfeature c // note  \nfeature d\n", "policy \"p\"\nfeature c// note \t"] {
            for readers in [Readers::DescentThenPest, Readers::PestOnly] {
                let (file, _, _) = parse_with(&Source::new("t.policy", text), &Limits::default(), readers);
                let span = file.decls[1].span();
                assert_eq!(&text[span.start..span.end], "feature c", "{readers:?} in {text:?}");
            }
        }
    }

    #[test]
    fn whitespace_the_grammar_does_not_name_is_a_syntax_error_between_declarations() {
        // A no-break space is whitespace to Unicode but not to the grammar, before a
        // declaration as much as after the last one.
        for text in ["policy \"p\"\n\u{a0}feature x\n", "policy \"p\"\nfeature x\n\u{a0}\n"] {
            let (_, diagnostics) = parse_text(text);
            assert_eq!(diagnostics.len(), 1, "{text:?}: {diagnostics:?}");
            assert_eq!(diagnostics[0].message, "expected a declaration, found `\u{a0}`", "{text:?}");
        }
    }

    #[test]
    fn keeps_comments_but_not_comment_markers_inside_strings() {
        let (file, _) = parse_text("policy \"a // b\" // real\r\nfeature x // two\n");
        let texts: Vec<_> = file.comments.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, [" real", " two"]);
    }

    #[test]
    fn a_keyword_is_not_a_name_and_a_unit_stays_on_its_line() {
        let (_, diagnostics) = parse_text("policy \"p\"\nfeature all\n");
        assert_eq!(diagnostics[0].message, "expected a name, found `all`");
        let (file, diagnostics) = parse_text("policy \"p\"\ntier t {\n  limit x = 5\n  grnat y\n}\n");
        assert_eq!(diagnostics.len(), 1);
        assert!(diagnostics[0].message.ends_with("found `grnat`"), "{}", diagnostics[0].message);
        assert_eq!(file.decls.len(), 1);
    }

    #[test]
    fn reads_per_seat_values_maximums_and_trials_alike_in_both_readers() {
        let text = "policy \"p\"\ntier t { limit a = 1_000 per seat soft 1_200 per seat warn at 90%\n  limit b = 10 GiB per seat }\n\
                    addon x for t { limit a += 5 max 3 }\naddon y for t { max unlimited valid for 14 days until 2027-01-01 }\n\
                    addon z for t { valid for 1 month from 2026-01-01 }\n";
        let source = Source::new("t.policy", text);
        let (file, diagnostics, _) = parse_with(&source, &Limits::default(), Readers::DescentThenPest);
        let (pest, _, _) = parse_with(&source, &Limits::default(), Readers::PestOnly);
        assert_eq!(diagnostics, vec![]);
        assert_eq!(file, pest);
        let slice = |span: Span| &text[span.start..span.end];
        let Decl::Tier(t) = &file.decls[1] else { panic!("not a tier") };
        let Item::Limit(a) = &t.items[0] else { panic!("not a limit") };
        assert_eq!(a.per_seat.map(slice), Some("per seat"));
        let soft = a.soft.as_ref().expect("a soft cap");
        assert_eq!((slice(soft.span), soft.cap_per_seat.map(slice)), ("soft 1_200 per seat", Some("per seat")));
        let Decl::Addon(x) = &file.decls[2] else { panic!("not an addon") };
        assert!(matches!(&x.items[1], Item::Max(m) if slice(m.span) == "max 3"), "{:?}", x.items);
        let Decl::Addon(y) = &file.decls[3] else { panic!("not an addon") };
        let Item::Valid(valid) = &y.items[1] else { panic!("not valid") };
        assert_eq!(valid.length.as_ref().map(|l| slice(l.span)), Some("14 days"));
        assert_eq!(valid.until.as_ref().map(|d| d.text.as_str()), Some("2027-01-01"));
    }

    #[test]
    fn per_takes_seat_and_soft_alone_takes_no_per_seat() {
        for (text, message) in [
            ("tier t { limit a = 5 per seats }", "expected `seat`, found `seats`"),
            ("tier t { limit a = 5 soft per seat }", "found `per`"),
            ("addon x for t { valid for unlimited }", "expected a number, found `unlimited`"),
        ] {
            let (_, diagnostics) = parse_text(&format!("policy \"p\"\n{text}\n"));
            assert_eq!(diagnostics.len(), 1, "{text}: {diagnostics:?}");
            assert!(diagnostics[0].message.ends_with(message), "{text}: {}", diagnostics[0].message);
        }
    }

    #[test]
    fn garbage_never_panics_and_always_terminates() {
        for text in ["", "}", "{{{{", "\"", "policy", "tier t { limit", "\u{1F600}", "tier\n\n\nlimit x"] {
            let _ = parse_text(text);
        }
    }
}
