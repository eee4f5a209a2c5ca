//! Override records as JSON Lines: one JSON object a line, read into [`Entry`]s that borrow
//! from the line and handed to the checker one at a time, so that a large file costs its
//! checked records and not a copy of every field. Blank lines and lines whose first non-blank
//! character is `#` are skipped, so a file can say why its records are there.

use std::borrow::Cow;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::errors::OverrideError;
use super::{Checker, Entry, Kind, Written};
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
    subject: Option<Text<'a>>,
    #[serde(borrow, default)]
    feature: Option<Text<'a>>,
    #[serde(borrow, default)]
    limit: Option<Text<'a>>,
    #[serde(borrow, default)]
    setting: Option<Text<'a>>,
    #[serde(borrow, default)]
    op: Option<Text<'a>>,
    #[serde(borrow, default)]
    value: Option<Raw<'a>>,
    #[serde(default)]
    per_seat: Option<bool>,
    #[serde(borrow, default)]
    from: Option<Raw<'a>>,
    #[serde(borrow, default)]
    until: Option<Raw<'a>>,
    #[serde(borrow, default)]
    reason: Option<Text<'a>>,
    #[serde(borrow, default)]
    author: Option<Text<'a>>,
}

/// A string field, borrowed from the line unless it holds escapes. (serde's own `Cow<str>`
/// is always owned inside an `Option`: a copy of every field of every record.)
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text<'a>, D::Error> {
        struct Read<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Read<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(text.to_string())))
            }
        }
        deserializer.deserialize_str(Read(std::marker::PhantomData))
    }
}

/// The text of an optional string field, empty when it is absent.
fn text(field: Option<Text<'_>>) -> Cow<'_, str> {
    field.map_or(Cow::Borrowed(""), |t| t.0)
}

/// A field that may be a number or a string (`value`, `from`, `until`), read without building
/// a JSON tree; anything else is named for the error.
enum Raw<'a> {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Text(Cow<'a, str>),
    Other(&'static str),
}

impl<'de: 'a, 'a> Deserialize<'de> for Raw<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Raw<'a>, D::Error> {
        struct Read<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Read<'a> {
            type Value = Raw<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_u64<E>(self, n: u64) -> Result<Raw<'a>, E> {
                Ok(Raw::Unsigned(n))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Raw<'a>, E> {
                Ok(Raw::Signed(n))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Raw<'a>, E> {
                Ok(Raw::Float(n))
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Raw<'a>, E> {
                Ok(Raw::Text(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Raw<'a>, E> {
                Ok(Raw::Text(Cow::Owned(text.to_string())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Raw<'a>, E> {
                Ok(Raw::Other("a boolean"))
            }
            fn visit_unit<E>(self) -> Result<Raw<'a>, E> {
                Ok(Raw::Other("null"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw<'a>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Raw::Other("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw<'a>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Raw::Other("an object"))
            }
        }
        deserializer.deserialize_any(Read(std::marker::PhantomData))
    }
}

impl Raw<'_> {
    /// The value as a message shows it.
    fn shown(&self) -> String {
        match self {
            Raw::Unsigned(n) => n.to_string(),
            Raw::Signed(n) => n.to_string(),
            Raw::Float(n) => n.to_string(),
            Raw::Text(text) => text.to_string(),
            Raw::Other(what) => (*what).to_string(),
        }
    }
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
    /// assert_eq!(error.to_string(), "bad.jsonl:1:27: error[E005]: unknown limit `cals`");
    /// # Ok::<(), entitle::Diagnostics>(())
    /// ```
    pub fn from_jsonl(engine: &Engine, name: &str, text: &str) -> Result<Overrides, Diagnostics> {
        Overrides::from_jsonl_with(engine, name, text, engine.input_limits())
    }

    /// [`Overrides::from_jsonl`] under other limits than the engine's.
    pub fn from_jsonl_with(engine: &Engine, name: &str, text: &str, limits: &Limits) -> Result<Overrides, Diagnostics> {
        // Offsets into the text are kept in 32 bits.
        if text.len() > limits.override_bytes.min(u32::MAX as usize) {
            let source = Source::new(name, "");
            let message =
                format!("the override set is {} bytes, more than the {} allowed", text.len(), limits.override_bytes);
            return Err(Diagnostics::new(
                &source,
                vec![Diagnostic::new(crate::Code::InputLimit, Span::default(), message)],
            ));
        }
        // One record a line, about: the list of records is sized once.
        let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
        let mut reader = LineReader::new(engine, limits, lines);
        for raw in text.split_inclusive('\n') {
            if !reader.line(raw) {
                break;
            }
        }
        reader.finish(name, || text.to_string())
    }
}

/// Reads a set line by line into its checker, from text in memory or a file read a line at a
/// time (`Overrides::from_path`, which so never holds the whole file).
pub(crate) struct LineReader<'e> {
    checker: Checker<'e>,
    limits: &'e Limits,
    /// The next line's number, from 1, and its offset in the text.
    number: u32,
    offset: usize,
}

impl<'e> LineReader<'e> {
    /// A reader for about `lines` lines.
    pub(crate) fn new(engine: &'e Engine, limits: &'e Limits, lines: usize) -> LineReader<'e> {
        LineReader { checker: Checker::new(engine, limits, lines), limits, number: 1, offset: 0 }
    }

    /// Reads the next line, its line break included; `false` when reading further would only
    /// cost time (the set is past its limit).
    pub(crate) fn line(&mut self, raw: &str) -> bool {
        let (start, number) = (self.offset, self.number);
        self.offset += raw.len();
        self.number = self.number.saturating_add(1);
        // A byte-order mark before the first record is not part of it, as in a policy.
        let (raw, start) = match raw.strip_prefix('\u{feff}') {
            Some(rest) if number == 1 => (rest, start + '\u{feff}'.len_utf8()),
            _ => (raw, start),
        };
        let line = raw.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return true;
        }
        if self.checker.full() {
            return false;
        }
        if line.len() > self.limits.query_line_bytes {
            self.too_long(start, number, line.len());
            return true;
        }
        match read(line, start, number) {
            Ok(entry) => self.checker.add(&entry),
            Err(diagnostic) => self.checker.report(diagnostic),
        }
        true
    }

    /// Skips a line of `length` bytes (its break included) that a file reader did not read,
    /// as longer than a line may be.
    pub(crate) fn long_line(&mut self, length: usize) {
        let (start, number) = (self.offset, self.number);
        self.offset += length;
        self.number = self.number.saturating_add(1);
        self.too_long(start, number, length.saturating_sub(1));
    }

    fn too_long(&mut self, start: usize, number: u32, length: usize) {
        let message = format!("line {number} is longer than {} bytes", self.limits.query_line_bytes);
        self.checker.report(Diagnostic::new(crate::Code::InputLimit, Span::new(start, start + length), message));
    }

    /// The set, or every problem; `text` gives the whole text, which only diagnostics need.
    pub(crate) fn finish(self, name: &str, text: impl FnOnce() -> String) -> Result<Overrides, Diagnostics> {
        self.checker.finish(name, text)
    }
}

/// One line as an entry, `start` its offset in the text.
fn read(line: &str, start: usize, number: u32) -> Result<Entry<'_>, Diagnostic> {
    let parsed: Line<'_> = serde_json::from_str(line).map_err(|e| {
        let column = e.column().saturating_sub(1).min(line.len());
        let why = e.to_string();
        // serde_json ends its messages with the position, which the diagnostic gives.
        let why = why.split(" at line ").next().unwrap_or(&why).to_string();
        OverrideError::Malformed { line: number, why }.at(Span::at(start + column))
    })?;
    let mut entry = Entry { line: number, text: line, start, ..Entry::default() };
    entry.targets = [
        parsed.feature.map(|name| (Kind::Feature, name.0)),
        parsed.limit.map(|name| (Kind::Limit, name.0)),
        parsed.setting.map(|name| (Kind::Setting, name.0)),
    ];
    let malformed = |why: String, field: &str| OverrideError::Malformed { line: number, why }.at(entry.at(field));
    entry.value = match parsed.value {
        None => None,
        Some(Raw::Unsigned(n)) => Some(Written::Number(n)),
        Some(raw @ Raw::Signed(_)) => Some(Written::Text(Cow::Owned(raw.shown()))),
        // A JSON fraction or exponent is not a whole number, and one past 2^53 is already
        // rounded: refused, not read as the integer it prints as.
        Some(Raw::Float(n)) => {
            let why = format!("`value` is `{n}`, not a whole number; write it without a fraction or exponent");
            return Err(malformed(why, "value"));
        }
        Some(Raw::Text(text)) => Some(Written::Text(text)),
        Some(Raw::Other(what)) => {
            return Err(malformed(format!("`value` is {what}, not a number or a string"), "value"))
        }
    };
    let instant = |raw: Option<Raw<'_>>, field: &str| -> Result<Option<i64>, Diagnostic> {
        let Some(raw) = raw else { return Ok(None) };
        let seconds = match &raw {
            Raw::Unsigned(n) => i64::try_from(*n).ok(),
            Raw::Signed(n) => Some(*n),
            Raw::Text(text) => parse_instant(text),
            Raw::Float(_) | Raw::Other(_) => None,
        };
        match seconds {
            Some(seconds) => Ok(Some(seconds)),
            None => {
                let help = "write an RFC 3339 instant in UTC, like `2027-01-01T00:00:00Z`, or Unix seconds";
                let span = super::field_span(line, start, field).unwrap_or(Span::new(start, start + line.len()));
                Err(OverrideError::Instant { text: raw.shown() }.at(span).with_help(help))
            }
        }
    };
    entry.from = instant(parsed.from, "from")?;
    entry.until = instant(parsed.until, "until")?;
    entry.subject = text(parsed.subject);
    entry.op = parsed.op.map(|op| op.0);
    entry.per_seat = parsed.per_seat;
    entry.reason = text(parsed.reason);
    entry.author = text(parsed.author);
    Ok(entry)
}
