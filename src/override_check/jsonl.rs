//! Override records as JSON Lines: one JSON object a line, read into [`Entry`]s with the span
//! of every field, for the checker. Blank lines and lines whose first non-blank character is
//! `#` are skipped, so a file can say why its records are there.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::errors::OverrideError;
use super::{check, Entry, Kind, Written};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::engine::Engine;
use crate::limits::Limits;
use crate::overrides::Overrides;
use crate::source::{Source, Span};
use crate::time::parse_instant;

/// One record's fields as JSON gives them; strings borrow from the line when they can.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(borrow, default)]
    subject: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    feature: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    limit: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    setting: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    op: Option<Cow<'a, str>>,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    per_seat: Option<bool>,
    #[serde(default)]
    from: Option<Value>,
    #[serde(default)]
    until: Option<Value>,
    #[serde(borrow, default)]
    reason: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    author: Option<Cow<'a, str>>,
}

impl Overrides {
    /// Reads and checks a set of override records from JSON Lines text against `engine`,
    /// under the engine's [`Limits`]. `name` is how diagnostics cite the text, usually its
    /// path. `docs/language.md` ("Overrides") describes the records.
    ///
    /// ```
    /// use entitle::{Amount, Engine, Overrides, Request, Usage};
    /// let engine = Engine::from_source("p", "policy \"p\"\nlimit calls : count per day\ntier free { limit calls = 10_000 }\n")?;
    /// let text = r#"{"subject":"acme","limit":"calls","op":"=","value":"2_000_000","until":"2027-03-01T00:00:00Z","reason":"launch deal"}"#;
    /// let overrides = Overrides::from_jsonl(&engine, "acme.jsonl", text)?;
    /// let request = Request::new(engine.tier("free").unwrap(), 1_795_000_000).with_key("acme").with_overrides(&overrides);
    /// assert_eq!(engine.check_limit(&request, engine.limit("calls").unwrap(), Usage::used(0)).limit, Amount::Finite(2_000_000));
    ///
    /// let error = Overrides::from_jsonl(&engine, "bad.jsonl", r#"{"subject":"acme","limit":"cals","op":"=","value":5}"#).unwrap_err();
    /// assert_eq!(error.to_string(), "bad.jsonl:1:28: error[E005]: unknown limit `cals`");
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn from_jsonl(engine: &Engine, name: &str, text: &str) -> Result<Overrides, Diagnostics> {
        Overrides::from_jsonl_with(engine, name, text, engine.input_limits())
    }

    /// [`Overrides::from_jsonl`] under other limits than the engine's.
    pub fn from_jsonl_with(engine: &Engine, name: &str, text: &str, limits: &Limits) -> Result<Overrides, Diagnostics> {
        let source = Source::new(name, text);
        if text.len() > limits.override_bytes {
            let message =
                format!("the override set is {} bytes, more than the {} allowed", text.len(), limits.override_bytes);
            return Err(Diagnostics::new(
                &source,
                vec![Diagnostic::new(crate::Code::InputLimit, Span::default(), message)],
            ));
        }
        let mut entries = Vec::new();
        let mut malformed = Vec::new();
        let mut offset = 0;
        for (number, raw) in text.split_inclusive('\n').enumerate() {
            let start = offset;
            offset += raw.len();
            let line = raw.trim_end_matches(['\n', '\r']);
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let number = u32::try_from(number + 1).unwrap_or(u32::MAX);
            let span = Span::new(start, start + line.len());
            if line.len() > limits.query_line_bytes {
                let message = format!("line {number} is longer than {} bytes", limits.query_line_bytes);
                malformed.push(Diagnostic::new(crate::Code::InputLimit, span, message));
                continue;
            }
            if entries.len() > limits.override_records {
                // The checker reports the count; reading further would only cost memory.
                break;
            }
            match read(line, start, number, span) {
                Ok(entry) => entries.push(entry),
                Err(diagnostic) => malformed.push(diagnostic),
            }
            if malformed.len() > limits.diagnostics {
                break;
            }
        }
        let checked = check(engine, &source, entries, limits);
        if malformed.is_empty() {
            return checked;
        }
        let mut list = checked.err().map(Diagnostics::into_vec).unwrap_or_default();
        list.extend(malformed);
        list.sort_by_key(|d| d.span().start);
        list.truncate(limits.diagnostics.max(1));
        Err(Diagnostics::new(&source, list))
    }
}

/// One line as an entry, `start` its offset in the text.
fn read(line: &str, start: usize, number: u32, span: Span) -> Result<Entry, Diagnostic> {
    let parsed: Line<'_> = serde_json::from_str(line).map_err(|e| {
        let column = e.column().saturating_sub(1).min(line.len());
        let why = e.to_string();
        // serde_json ends its messages with the position, which the diagnostic gives.
        let why = why.split(" at line ").next().unwrap_or(&why).to_string();
        OverrideError::Malformed { line: number, why }.at(Span::at(start + column))
    })?;
    let at = |field: &str| field_span(line, start, field).unwrap_or(span);
    let mut targets = Vec::new();
    for (kind, name, field) in [
        (Kind::Feature, &parsed.feature, "feature"),
        (Kind::Limit, &parsed.limit, "limit"),
        (Kind::Setting, &parsed.setting, "setting"),
    ] {
        if let Some(name) = name {
            targets.push((kind, name.to_string(), at(field)));
        }
    }
    let malformed = |why: String, field: &str| OverrideError::Malformed { line: number, why }.at(at(field));
    let value = match parsed.value {
        None => None,
        Some(Value::Number(n)) => Some(match n.as_u64() {
            Some(n) => Written::Number(n),
            None => Written::Text(n.to_string()),
        }),
        Some(Value::String(text)) => Some(Written::Text(text)),
        Some(_) => return Err(malformed("`value` must be a number or a string".into(), "value")),
    };
    let instant = |value: Option<Value>, field: &str| -> Result<Option<(i64, Span)>, Diagnostic> {
        let Some(value) = value else { return Ok(None) };
        let seconds = match &value {
            Value::Number(n) => n.as_i64(),
            Value::String(text) => parse_instant(text),
            _ => None,
        };
        match seconds {
            Some(seconds) => Ok(Some((seconds, at(field)))),
            None => {
                let text = value.as_str().map_or_else(|| value.to_string(), str::to_string);
                let help = "write an RFC 3339 instant in UTC, like `2027-01-01T00:00:00Z`, or Unix seconds";
                Err(OverrideError::Instant { text }.at(at(field)).with_help(help))
            }
        }
    };
    Ok(Entry {
        line: number,
        span,
        subject: (parsed.subject.map(Cow::into_owned).unwrap_or_default(), at("subject")),
        targets,
        op: parsed.op.map(|op| (op.into_owned(), at("op"))),
        value: value.map(|v| (v, at("value"))),
        per_seat: parsed.per_seat.map(|on| (on, at("per_seat"))),
        from: instant(parsed.from, "from")?,
        until: instant(parsed.until, "until")?,
        reason: parsed.reason.map(Cow::into_owned).unwrap_or_default(),
        author: parsed.author.map(Cow::into_owned).unwrap_or_default(),
    })
}

/// The span of field `field`'s value in a record's `line` (at offset `start`): from its
/// first character to the end of the string or of the bare word. Found by looking for the
/// quoted key followed by a colon, which a record that parsed holds once.
fn field_span(line: &str, start: usize, field: &str) -> Option<Span> {
    let key = format!("\"{field}\"");
    let mut from = 0;
    while let Some(found) = line.get(from..)?.find(&key) {
        let after = from + found + key.len();
        let rest = line.get(after..)?;
        let gap = rest.len() - rest.trim_start().len();
        if let Some(value) = rest.trim_start().strip_prefix(':') {
            let lead = value.len() - value.trim_start().len();
            let begin = after + gap + 1 + lead;
            let value = value.trim_start();
            let length = if value.starts_with('"') {
                let mut escaped = false;
                let close = value.char_indices().skip(1).find(|&(_, c)| {
                    let end = c == '"' && !escaped;
                    escaped = c == '\\' && !escaped;
                    end
                });
                close.map_or(value.len(), |(at, _)| at + 1)
            } else {
                value.find([',', '}', ' ', '\t']).unwrap_or(value.len())
            };
            return Some(Span::new(start + begin, start + begin + length));
        }
        from = after;
    }
    None
}
