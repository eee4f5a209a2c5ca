//! Checking per-customer override records against the engine they apply to, into an
//! [`Overrides`] set.
//!
//! Records come from code ([`OverridesBuilder`]) or from JSON Lines (`jsonl.rs`, feature
//! `json`); both become [`Entry`]s with the spans of what they wrote, and one checker turns
//! them into the set: every name resolved to the engine's index, every value read in the
//! type the policy declares, validity windows non-empty, no two records of a subject for the
//! same thing applying at once, and the set within its [`Limits`]. Every problem is reported,
//! as the policy checker reports them, with the same [`Diagnostic`] type; a set with any
//! error is not built.

mod errors;
#[cfg(feature = "json")]
mod jsonl;
mod values;

use std::collections::HashMap;
use std::sync::Arc;

use crate::diagnostic::{closest, Diagnostic, Diagnostics};
use crate::engine::Engine;
use crate::limits::Limits;
use crate::model::LimitKind;
use crate::overrides::{Change, LimitOp, Note, Overrides, Record, Set, Subject};
use crate::source::{Source, Span};
use crate::tables::UNLIMITED;
use crate::time::format_instant;
use crate::units::QuantityType;

use errors::OverrideError;
pub(crate) use values::Written;

/// What a record changes, by name, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Feature,
    Limit,
    Setting,
}

impl Kind {
    const fn as_str(self) -> &'static str {
        match self {
            Kind::Feature => "feature",
            Kind::Limit => "limit",
            Kind::Setting => "setting",
        }
    }
}

/// A record as written, before it is checked: names and text, each with its span in the
/// set's source.
#[derive(Clone, Debug, Default)]
pub(crate) struct Entry {
    /// The record's line, from 1.
    pub line: u32,
    /// The whole record.
    pub span: Span,
    pub subject: (String, Span),
    /// Every one of `feature`, `limit` and `setting` the record names (one, when it is
    /// well-formed).
    pub targets: Vec<(Kind, String, Span)>,
    pub op: Option<(String, Span)>,
    pub value: Option<(Written, Span)>,
    pub per_seat: Option<(bool, Span)>,
    pub from: Option<(i64, Span)>,
    pub until: Option<(i64, Span)>,
    pub reason: String,
    pub author: String,
}

/// Records for an [`Overrides`] set, written in code and checked by [`OverridesBuilder::build`]
/// against the engine the builder was made for.
///
/// Each method that adds a record returns the builder, whose [`from`](Self::from),
/// [`until`](Self::until), [`reason`](Self::reason) and [`author`](Self::author) then apply to
/// the record added last. Names and values are checked when the set is built, all at once:
/// the error lists every problem, each pointing at its record (record `n` is line `n` of the
/// set's text, one JSON Lines record per line, as [`Overrides::from_jsonl`] reads them).
///
/// ```
/// use entitle::{Engine, LimitOp, Overrides};
/// let engine = Engine::from_source("p", "policy \"p\"\nfeature sso\nlimit storage : bytes\ntier free { limit storage = 5 GiB }\n")?;
/// let mut builder = Overrides::builder(&engine);
/// builder.grant("acme", "sso").until(1_800_000_000).reason("trial").author("sales@example.com");
/// builder.limit("acme", "storage", LimitOp::AtLeast, "50 GiB");
/// assert_eq!(builder.build()?.len(), 2);
///
/// let mut wrong = Overrides::builder(&engine);
/// wrong.limit("acme", "storage", LimitOp::Set, "3 hours");
/// let error = wrong.build().unwrap_err();
/// assert_eq!(error.to_string(), "<overrides>:1:1: error[E009]: `3 hours` is not a bytes amount value for `storage`");
/// # Ok::<(), entitle::Diagnostics>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct OverridesBuilder<'e> {
    engine: &'e Engine,
    entries: Vec<Entry>,
    /// The records as JSON Lines, so that diagnostics can show each record's line.
    text: String,
}

impl Overrides {
    /// A builder of a set for `engine`.
    pub fn builder(engine: &Engine) -> OverridesBuilder<'_> {
        OverridesBuilder { engine, entries: Vec::new(), text: String::new() }
    }
}

impl<'e> OverridesBuilder<'e> {
    /// Adds a record that grants `feature` to subject `subject`.
    pub fn grant(&mut self, subject: &str, feature: &str) -> &mut OverridesBuilder<'e> {
        self.push(subject, Kind::Feature, feature, "grant", None)
    }

    /// Adds a record that revokes `feature` from subject `subject`.
    pub fn revoke(&mut self, subject: &str, feature: &str) -> &mut OverridesBuilder<'e> {
        self.push(subject, Kind::Feature, feature, "revoke", None)
    }

    /// Adds a record that changes `limit` for subject `subject` by `op` with `value`, written
    /// as in a policy (`2_000_000`, `50 GiB`, `unlimited`).
    pub fn limit(&mut self, subject: &str, limit: &str, op: LimitOp, value: &str) -> &mut OverridesBuilder<'e> {
        self.push(subject, Kind::Limit, limit, op.as_str(), Some(value))
    }

    /// Adds a record that sets `setting` for subject `subject` to `value`, written as in a
    /// policy (`99.99%`, `2 h`) or, for a text setting, the text itself.
    pub fn setting(&mut self, subject: &str, setting: &str, value: &str) -> &mut OverridesBuilder<'e> {
        self.push(subject, Kind::Setting, setting, "=", Some(value))
    }

    /// Makes the last limit record's value per seat.
    pub fn per_seat(&mut self) -> &mut OverridesBuilder<'e> {
        self.last(|entry| entry.per_seat = Some((true, entry.span)))
    }

    /// The last record applies from `instant` (Unix seconds, UTC), inclusive.
    pub fn from(&mut self, instant: i64) -> &mut OverridesBuilder<'e> {
        self.last(|entry| entry.from = Some((instant, entry.span)))
    }

    /// The last record stops applying at `instant` (Unix seconds, UTC), exclusive.
    pub fn until(&mut self, instant: i64) -> &mut OverridesBuilder<'e> {
        self.last(|entry| entry.until = Some((instant, entry.span)))
    }

    /// Why the last record was granted, for explanations and audits.
    pub fn reason(&mut self, reason: &str) -> &mut OverridesBuilder<'e> {
        self.last(|entry| entry.reason = reason.to_string())
    }

    /// Who granted the last record.
    pub fn author(&mut self, author: &str) -> &mut OverridesBuilder<'e> {
        self.last(|entry| entry.author = author.to_string())
    }

    /// Checks every record against the engine and builds the set, or lists every problem.
    pub fn build(&self) -> Result<Overrides, Diagnostics> {
        let source = Source::new("<overrides>", self.text.clone());
        check(self.engine, &source, self.entries.clone(), self.engine.input_limits())
    }

    fn push(
        &mut self,
        subject: &str,
        kind: Kind,
        name: &str,
        op: &str,
        value: Option<&str>,
    ) -> &mut OverridesBuilder<'e> {
        let start = self.text.len();
        let mut line =
            format!("{{\"subject\":{},\"{}\":{},\"op\":{}", quoted(subject), kind.as_str(), quoted(name), quoted(op));
        if let Some(value) = value {
            line.push_str(&format!(",\"value\":{}", quoted(value)));
        }
        line.push('}');
        self.text.push_str(&line);
        self.text.push('\n');
        let span = Span::new(start, start + line.len());
        self.entries.push(Entry {
            line: u32::try_from(self.entries.len() + 1).unwrap_or(u32::MAX),
            span,
            subject: (subject.to_string(), span),
            targets: vec![(kind, name.to_string(), span)],
            op: Some((op.to_string(), span)),
            value: value.map(|v| (Written::Text(v.to_string()), span)),
            ..Entry::default()
        });
        self
    }

    fn last(&mut self, change: impl FnOnce(&mut Entry)) -> &mut OverridesBuilder<'e> {
        if let Some(entry) = self.entries.last_mut() {
            change(entry);
        }
        self
    }
}

/// `text` as a JSON string.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A checked record before it is placed with its subject: the record, its entry's index (for
/// the overlap check's messages) and its target's name.
struct Placed {
    record: Record,
    entry: usize,
}

/// Checks `entries`, read from `source`, against `engine` under `limits`.
pub(crate) fn check(
    engine: &Engine,
    source: &Source,
    entries: Vec<Entry>,
    limits: &Limits,
) -> Result<Overrides, Diagnostics> {
    let mut problems = Problems { list: Vec::new(), max: limits.diagnostics.max(1), hidden: 0 };
    if entries.len() > limits.override_records {
        let span = entries.get(limits.override_records).map_or(Span::default(), |e| e.span);
        problems.push(OverrideError::TooMany { max: limits.override_records }.at(span));
        return Err(Diagnostics::new(source, problems.finish()));
    }
    let mut text = String::new();
    let mut notes = Vec::with_capacity(entries.len());
    let mut by_subject: HashMap<Box<str>, Vec<Placed>> = HashMap::new();
    for (at, entry) in entries.iter().enumerate() {
        let Some(change) = resolve(engine, entry, &mut problems) else { continue };
        let from = entry.from.map_or(i64::MIN, |(t, _)| t);
        let until = entry.until.map_or(i64::MAX, |(t, _)| t);
        if let (Some((f, span)), Some((u, _))) = (entry.from, entry.until) {
            if f >= u {
                problems
                    .push(OverrideError::EmptyValidity { from: format_instant(f), until: format_instant(u) }.at(span));
                continue;
            }
        }
        let note = u32::try_from(notes.len()).unwrap_or(u32::MAX);
        notes.push(Note {
            line: entry.line,
            reason: append(&mut text, &entry.reason),
            author: append(&mut text, &entry.author),
        });
        let record = Record { change, from, until, note };
        let placed = Placed { record, entry: at };
        match by_subject.get_mut(entry.subject.0.as_str()) {
            Some(list) => list.push(placed),
            None => {
                by_subject.insert(entry.subject.0.as_str().into(), vec![placed]);
            }
        }
    }
    let mut subjects = HashMap::with_capacity(by_subject.len());
    for (key, mut placed) in by_subject {
        if placed.len() > limits.override_records_per_subject {
            let span = placed
                .get(limits.override_records_per_subject)
                .and_then(|p| entries.get(p.entry))
                .map_or(Span::default(), |e| e.span);
            problems.push(
                OverrideError::TooManyForSubject { subject: shown(&key), max: limits.override_records_per_subject }
                    .at(span),
            );
            continue;
        }
        placed.sort_by_key(|p| (target(&p.record.change), p.record.from));
        for pair in placed.windows(2) {
            let [first, second] = pair else { continue };
            let same = target(&first.record.change) == target(&second.record.change);
            if same && (first.record.until == i64::MAX || second.record.from < first.record.until) {
                let (Some(one), Some(two)) = (entries.get(first.entry), entries.get(second.entry)) else { continue };
                let name = two.targets.first().map_or("", |t| t.1.as_str());
                let at = if second.record.from == i64::MIN {
                    "the start".to_string()
                } else {
                    format_instant(second.record.from)
                };
                let error = OverrideError::Overlap { subject: shown(&key), name: shown(name), at };
                problems.push(error.at(two.span).with_label(one.span, format!("the other record, line {}", one.line)));
            }
        }
        let records: Box<[Record]> = placed.into_iter().map(|p| p.record).collect();
        subjects.insert(key, records);
    }
    if !problems.list.is_empty() {
        return Err(Diagnostics::new(source, problems.finish()));
    }
    let count = subjects.values().map(|r| r.len()).sum();
    let policy = engine.policy_hash();
    let set = Arc::new_cyclic(|weak| Set {
        name: source.name().to_string(),
        policy,
        subjects: subjects
            .into_iter()
            .map(|(key, records)| (key, Subject { policy, records, set: weak.clone() }))
            .collect(),
        notes,
        text,
        records: count,
    });
    Ok(Overrides { set })
}

/// The diagnostics found so far, at most `max` of them and a count of the rest.
struct Problems {
    list: Vec<Diagnostic>,
    max: usize,
    hidden: usize,
}

impl Problems {
    fn push(&mut self, diagnostic: Diagnostic) {
        if self.list.len() < self.max {
            self.list.push(diagnostic);
        } else {
            self.hidden += 1;
        }
    }

    fn finish(mut self) -> Vec<Diagnostic> {
        self.list.sort_by_key(|d| d.span().start);
        if self.hidden > 0 {
            let span = self.list.last().map_or(Span::default(), Diagnostic::span);
            self.list.push(OverrideError::TooManyDiagnostics { hidden: self.hidden, max: self.max }.at(span));
        }
        self.list
    }
}

/// What a record is about, for sorting and the overlap check: its kind and index.
fn target(change: &Change) -> (u8, usize) {
    match change {
        Change::Feature(f, _) => (0, *f),
        Change::Limit(l, ..) => (1, *l),
        Change::Setting(s, _) => (2, *s),
    }
}

/// Appends `piece` to the notes' text, returning its range.
fn append(text: &mut String, piece: &str) -> (u32, u32) {
    let start = u32::try_from(text.len()).unwrap_or(u32::MAX);
    text.push_str(piece);
    (start, u32::try_from(piece.len()).unwrap_or(0))
}

/// A name from a record, cut for a message, as the policy checker cuts names.
fn shown(name: &str) -> String {
    const MAX: usize = 128;
    match name.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", name.get(..cut).unwrap_or_default()),
        None => name.to_string(),
    }
}

/// The record's change with its names resolved and its value read, or `None` after reporting
/// why it has none.
fn resolve(engine: &Engine, entry: &Entry, problems: &mut Problems) -> Option<Change> {
    if entry.subject.0.is_empty() {
        problems.push(OverrideError::NoSubject.at(entry.subject.1));
        return None;
    }
    let [(kind, name, name_span)] = entry.targets.as_slice() else {
        problems.push(OverrideError::Targets { count: entry.targets.len() }.at(entry.span));
        return None;
    };
    let (op, op_span) = entry.op.clone().unwrap_or_else(|| (String::new(), entry.span));
    let model = engine.model();
    let unknown = |error: OverrideError, candidates: &mut dyn Iterator<Item = &str>| {
        let help = closest(name, candidates).map(|c| format!("did you mean `{c}`?"));
        error.at(*name_span).with_optional_help(help)
    };
    match kind {
        Kind::Feature => {
            let Some(f) = engine.feature(name).map(|id| engine.index(id)) else {
                let names = &mut model.features.iter().map(|f| f.name.as_str());
                problems.push(unknown(OverrideError::UnknownFeature { name: shown(name) }, names));
                return None;
            };
            let grant = match op.as_str() {
                "grant" => true,
                "revoke" => false,
                _ => {
                    problems.push(
                        OverrideError::BadOp { op: shown(&op), kind: "feature", allowed: "`grant` or `revoke`" }
                            .at(op_span),
                    );
                    return None;
                }
            };
            if let Some((_, span)) = &entry.value {
                problems.push(OverrideError::Unwanted { field: "value", kind: "feature" }.at(*span));
                return None;
            }
            if let Some((_, span)) = entry.per_seat {
                problems.push(OverrideError::Unwanted { field: "per_seat", kind: "feature" }.at(span));
                return None;
            }
            Some(Change::Feature(f, grant))
        }
        Kind::Limit => {
            let Some(l) = engine.limit(name).map(|id| engine.index(id)) else {
                let names = &mut model.limits.iter().map(|l| l.name.as_str());
                problems.push(unknown(OverrideError::UnknownLimit { name: shown(name) }, names));
                return None;
            };
            let def = model.limits.get(l)?;
            let Some(op) = LimitOp::from_name(&op) else {
                let allowed = "`=`, `+=`, `at_least` or `at_most`";
                problems.push(OverrideError::BadOp { op: shown(&op), kind: "limit", allowed }.at(op_span));
                return None;
            };
            let Some((written, span)) = &entry.value else {
                problems.push(OverrideError::MissingValue { name: shown(name) }.at(entry.span));
                return None;
            };
            let value = match values::limit_amount(written, def.ty, name) {
                Ok(value) => value,
                Err(error) => {
                    problems.push(error.at(*span));
                    return None;
                }
            };
            let per_seat = entry.per_seat.is_some_and(|(on, _)| on);
            if let (true, Some((_, span))) = (per_seat, entry.per_seat) {
                let why = match (def.ty, def.kind) {
                    (QuantityType::Duration, LimitKind::Cap | LimitKind::Gauge) => {
                        Some("a duration that is not a counter does not grow with seats")
                    }
                    _ if value == UNLIMITED => Some("`unlimited` per seat is unlimited"),
                    _ => None,
                };
                if let Some(why) = why {
                    problems.push(OverrideError::PerSeat { name: shown(name), why }.at(span));
                    return None;
                }
            }
            Some(Change::Limit(l, op, value, per_seat))
        }
        Kind::Setting => {
            let Some(s) = engine.setting(name).map(|id| engine.index(id)) else {
                let names = &mut model.settings.iter().map(|s| s.name.as_str());
                problems.push(unknown(OverrideError::UnknownSetting { name: shown(name) }, names));
                return None;
            };
            let def = model.settings.get(s)?;
            if op != "=" {
                problems.push(OverrideError::BadOp { op: shown(&op), kind: "setting", allowed: "`=`" }.at(op_span));
                return None;
            }
            if let Some((_, span)) = entry.per_seat {
                problems.push(OverrideError::Unwanted { field: "per_seat", kind: "setting" }.at(span));
                return None;
            }
            let Some((written, span)) = &entry.value else {
                problems.push(OverrideError::MissingValue { name: shown(name) }.at(entry.span));
                return None;
            };
            match values::setting_value(written, def.ty, name) {
                Ok(value) => Some(Change::Setting(s, value)),
                Err(error) => {
                    problems.push(error.at(*span));
                    None
                }
            }
        }
    }
}
