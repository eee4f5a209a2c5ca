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
#[cfg(feature = "json")]
pub(crate) use jsonl::LineReader;
mod values;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use crate::diagnostic::{closest, Diagnostic, Diagnostics};
use crate::engine::Engine;
use crate::limits::Limits;
use crate::model::{LimitKind, SettingValue};
use crate::overrides::{Change, Keyed, LimitOp, Note, Overrides, Record, Set, Stored, SubjectTable};
use crate::source::{Source, Span};
use crate::tables::UNLIMITED;
use crate::time::format_instant;
use crate::units::QuantityType;

use errors::OverrideError;
pub(crate) use values::Written;

/// What a record changes, by name, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Feature = 0,
    Limit = 1,
    Setting = 2,
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

/// A record as written, before it is checked: names and text, borrowed from the record's
/// line where they can be. Spans are found in the line when a diagnostic needs one, so a set
/// that checks pays for none.
#[derive(Clone, Debug, Default)]
pub(crate) struct Entry<'t> {
    /// The record's line, from 1.
    pub line: u32,
    /// The record's text (one JSON object), and where it starts in the set's source.
    pub text: &'t str,
    pub start: usize,
    pub subject: Cow<'t, str>,
    /// Every one of `feature`, `limit` and `setting` the record names (one, when it is
    /// well-formed), in that order.
    pub targets: [Option<(Kind, Cow<'t, str>)>; 3],
    pub op: Option<Cow<'t, str>>,
    pub value: Option<Written<'t>>,
    pub per_seat: Option<bool>,
    pub from: Option<i64>,
    pub until: Option<i64>,
    pub reason: Cow<'t, str>,
    pub author: Cow<'t, str>,
}

impl Entry<'_> {
    /// The whole record.
    fn span(&self) -> Span {
        Span::new(self.start, self.start + self.text.len())
    }

    /// The value of `field` in the record, or the whole record when it has none.
    fn at(&self, field: &str) -> Span {
        field_span(self.text, self.start, field).unwrap_or_else(|| self.span())
    }
}

/// The span of field `field`'s value in a record's `line` (at offset `start`): from its
/// first character to the end of the string or of the bare word. Found by looking for the
/// quoted key followed by a colon, which a record that parsed holds once.
pub(crate) fn field_span(line: &str, start: usize, field: &str) -> Option<Span> {
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

/// One record written in code, kept until the set is built.
#[derive(Clone, Debug)]
struct Built {
    start: usize,
    end: usize,
    subject: String,
    kind: Kind,
    name: String,
    op: &'static str,
    value: Option<String>,
    per_seat: Option<bool>,
    from: Option<i64>,
    until: Option<i64>,
    reason: String,
    author: String,
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
/// assert_eq!(error.to_string(), "<overrides>:1:54: error[E009]: `3 hours` is not a bytes amount for `storage`");
/// # Ok::<(), entitle::Diagnostics>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct OverridesBuilder<'e> {
    engine: &'e Engine,
    entries: Vec<Built>,
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
        self.last(|entry| entry.per_seat = Some(true))
    }

    /// The last record applies from `instant` (Unix seconds, UTC), inclusive.
    pub fn from(&mut self, instant: i64) -> &mut OverridesBuilder<'e> {
        self.last(|entry| entry.from = Some(instant))
    }

    /// The last record stops applying at `instant` (Unix seconds, UTC), exclusive.
    pub fn until(&mut self, instant: i64) -> &mut OverridesBuilder<'e> {
        self.last(|entry| entry.until = Some(instant))
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
        let mut checker = Checker::new(self.engine, self.engine.input_limits(), self.entries.len());
        for (at, built) in self.entries.iter().enumerate() {
            let mut targets: [Option<(Kind, Cow<'_, str>)>; 3] = [None, None, None];
            if let Some(slot) = targets.get_mut(built.kind as usize) {
                *slot = Some((built.kind, Cow::Borrowed(built.name.as_str())));
            }
            checker.add(&Entry {
                line: u32::try_from(at + 1).unwrap_or(u32::MAX),
                text: self.text.get(built.start..built.end).unwrap_or_default(),
                start: built.start,
                subject: Cow::Borrowed(&built.subject),
                targets,
                op: Some(Cow::Borrowed(built.op)),
                value: built.value.as_deref().map(|v| Written::Text(Cow::Borrowed(v))),
                per_seat: built.per_seat,
                from: built.from,
                until: built.until,
                reason: Cow::Borrowed(&built.reason),
                author: Cow::Borrowed(&built.author),
            });
        }
        checker.finish("<overrides>", || self.text.clone())
    }

    fn push(
        &mut self,
        subject: &str,
        kind: Kind,
        name: &str,
        op: &'static str,
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
        self.entries.push(Built {
            start,
            end: start + line.len(),
            subject: subject.to_string(),
            kind,
            name: name.to_string(),
            op,
            value: value.map(str::to_string),
            per_seat: None,
            from: None,
            until: None,
            reason: String::new(),
            author: String::new(),
        });
        self
    }

    fn last(&mut self, change: impl FnOnce(&mut Built)) -> &mut OverridesBuilder<'e> {
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

/// The checker of one set: records are added one at a time (a reader need not hold them all),
/// and [`Checker::finish`] places them with their subjects.
pub(crate) struct Checker<'e> {
    engine: &'e Engine,
    limits: &'e Limits,
    problems: Problems,
    /// Each subject key with its number; `finish` makes the pair where its records start in
    /// the set, and how many there are.
    subjects: SubjectTable,
    /// Every record checked so far, with its subject's number (its order of first
    /// appearance); sorted by subject in `finish`, they become the set's records in place.
    pending: Vec<Stored>,
    /// The last few reasons and authors written to `text`, so that one repeated from record to
    /// record (an author, a campaign's reason) is kept once.
    recent: [(u64, u32, u32); 8],
    values: Vec<SettingValue>,
    text: String,
    /// Records seen, checked or not, for the `override_records` limit.
    seen: usize,
    /// The last record's subject and its number: files list a subject's records together, so
    /// most records find their subject without hashing its key.
    last: Option<(String, u32)>,
}

impl<'e> Checker<'e> {
    /// A checker for about `records` records (a guess, to size its list once).
    pub(crate) fn new(engine: &'e Engine, limits: &'e Limits, records: usize) -> Checker<'e> {
        Checker {
            recent: [(0, 0, 0); 8],
            engine,
            limits,
            problems: Problems { list: Vec::new(), max: limits.diagnostics.max(1), hidden: 0 },
            // Sized once for two records a subject, so that a large set is rarely rehashed.
            subjects: HashMap::with_capacity_and_hasher(records.min(limits.override_records) / 2, Keyed::random()),
            pending: Vec::with_capacity(records.min(limits.override_records)),
            values: Vec::new(),
            text: String::new(),
            seen: 0,
            last: None,
        }
    }

    /// Whether more records would be refused (the set is past its limit): a reader may stop.
    /// Past the diagnostics shown it goes on, to count the rest.
    pub(crate) fn full(&self) -> bool {
        self.seen > self.limits.override_records
    }

    /// Reports a problem found while reading, before a record could be made.
    pub(crate) fn report(&mut self, diagnostic: Diagnostic) {
        self.problems.push(diagnostic);
    }

    /// Checks one record and keeps it, or reports why not.
    pub(crate) fn add(&mut self, entry: &Entry<'_>) {
        self.seen += 1;
        if self.seen == self.limits.override_records + 1 {
            self.problems.push(OverrideError::TooMany { max: self.limits.override_records }.at(entry.span()));
        }
        if self.seen > self.limits.override_records {
            return;
        }
        let Some(change) = self.resolve(entry) else { return };
        let from = entry.from.unwrap_or(i64::MIN);
        let until = entry.until.unwrap_or(i64::MAX);
        if let (Some(f), Some(u)) = (entry.from, entry.until) {
            if f >= u {
                let error = OverrideError::EmptyValidity { from: format_instant(f), until: format_instant(u) };
                self.problems.push(error.at(entry.at("from")));
                return;
            }
        }
        let key = entry.subject.as_ref();
        let subject = match &mut self.last {
            Some((last, number)) if last.as_str() == key => *number,
            last => {
                // One hash for a new subject (its key is kept anyway); a subject met again
                // after others pays for a key it drops.
                let next = u32::try_from(self.subjects.len()).unwrap_or(u32::MAX);
                let number = self.subjects.entry(key.into()).or_insert((next, 0)).0;
                // The buffer is kept, so remembering costs no allocation once it is long enough.
                match last {
                    Some((text, at)) => {
                        text.clear();
                        text.push_str(key);
                        *at = number;
                    }
                    None => *last = Some((key.to_string(), number)),
                }
                number
            }
        };
        let note = Note { line: entry.line, reason: self.append(&entry.reason), author: self.append(&entry.author) };
        self.pending.push(Stored { record: Record { change, from, until }, note, subject });
    }

    /// Appends `piece` to the notes' text, returning its range; a piece among the last few
    /// written is not written again.
    fn append(&mut self, piece: &str) -> (u32, u32) {
        if piece.is_empty() {
            return (0, 0);
        }
        let len = narrow(piece.len());
        let hash =
            piece.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        let text = &self.text;
        let seen = self.recent.iter().find(|&&(h, start, l)| {
            h == hash && l == len && text.get(start as usize..(start + l) as usize) == Some(piece)
        });
        if let Some(&(_, start, _)) = seen {
            return (start, len);
        }
        let start = narrow(self.text.len());
        self.text.push_str(piece);
        self.recent.rotate_right(1);
        if let Some(first) = self.recent.first_mut() {
            *first = (hash, start, len);
        }
        (start, len)
    }

    /// Places every record with its subject, or reports every problem found.
    ///
    /// `name` and `text` are the set's source, which diagnostics cite; it is indexed by line
    /// only when there is one to report.
    pub(crate) fn finish(mut self, name: &str, text: impl FnOnce() -> String) -> Result<Overrides, Diagnostics> {
        let mut text = Some(text);
        let mut whole = move || text.take().map_or_else(String::new, |read| read());
        let mut pending = std::mem::take(&mut self.pending);
        let mut source: Option<Source> = None;
        // Files list a subject's records together, and subjects are numbered in order of
        // first appearance: then only each subject's few records need sorting.
        let key = |p: &Stored| (target(&p.record.change), p.record.from);
        if pending.windows(2).all(|pair| matches!(pair, [a, b] if a.subject <= b.subject)) {
            for group in pending.chunk_by_mut(|a, b| a.subject == b.subject) {
                group.sort_unstable_by_key(key);
            }
        } else {
            pending.sort_unstable_by_key(|p| (p.subject, key(p)));
        }
        // The keys by number, for messages; built only when a subject's records are wrong.
        let mut names: Option<Vec<String>> = None;
        let mut starts = vec![(0u32, 0u32); self.subjects.len()];
        let too_many = self.limits.override_records_per_subject;
        let mut group = 0;
        while group < pending.len() {
            let subject = pending.get(group).map_or(0, |p| p.subject);
            let end = pending
                .get(group..)
                .map_or(group, |rest| group + rest.iter().take_while(|p| p.subject == subject).count());
            let records = pending.get(group..end).unwrap_or_default();
            if let Some(slot) = starts.get_mut(subject as usize) {
                *slot = (narrow(group), narrow(end - group));
            }
            let subjects = &self.subjects;
            let subject_name = |names: &mut Option<Vec<String>>| -> String {
                let names = names.get_or_insert_with(|| {
                    let mut by_number = vec![String::new(); subjects.len()];
                    for (key, (number, _)) in subjects {
                        if let Some(slot) = by_number.get_mut(*number as usize) {
                            *slot = shown(key);
                        }
                    }
                    by_number
                });
                names.get(subject as usize).cloned().unwrap_or_default()
            };
            let mut line_span = |line: u32| {
                let source = source.get_or_insert_with(|| Source::new(name, whole()));
                let (start, end) = source.line_range(line as usize);
                Span::new(start, end)
            };
            if records.len() > too_many {
                // The first record past the limit in the file's order, whatever their sort.
                let mut lines: Vec<u32> = records.iter().map(|p| p.note.line).collect();
                let (_, &mut line, _) = lines.select_nth_unstable(too_many);
                let span = line_span(line);
                self.problems.push(
                    OverrideError::TooManyForSubject { subject: subject_name(&mut names), max: too_many }.at(span),
                );
            } else {
                for pair in records.windows(2) {
                    let [first, second] = pair else { continue };
                    let same = target(&first.record.change) == target(&second.record.change);
                    if same && (first.record.until == i64::MAX || second.record.from < first.record.until) {
                        let at = if second.record.from == i64::MIN {
                            "the start".to_string()
                        } else {
                            format_instant(second.record.from)
                        };
                        let error = OverrideError::Overlap {
                            subject: subject_name(&mut names),
                            name: self.target_name(&second.record.change),
                            at,
                        };
                        let label = format!("the other record, line {}", first.note.line);
                        let (here, there) = (line_span(second.note.line), line_span(first.note.line));
                        self.problems.push(error.at(here).with_label(there, label));
                    }
                }
            }
            group = end;
        }
        if !self.problems.list.is_empty() {
            let source = source.unwrap_or_else(|| Source::new(name, whole()));
            return Err(Diagnostics::new(&source, self.problems.finish()));
        }
        for (number, count) in self.subjects.values_mut() {
            let (start, len) = starts.get(*number as usize).copied().unwrap_or_default();
            (*number, *count) = (start, len);
        }
        pending.shrink_to_fit();
        let set = Set {
            name: name.to_string(),
            policy: self.engine.policy_hash(),
            subjects: self.subjects,
            records: pending,
            values: self.values,
            text: self.text,
        };
        Ok(Overrides { set: Arc::new(set) })
    }

    /// The name of what `change` changes, for messages.
    fn target_name(&self, change: &Change) -> String {
        let model = self.engine.model();
        let name = match *change {
            Change::Feature(f, _) => model.features.get(f as usize).map(|d| d.name.as_str()),
            Change::Limit(l, ..) => model.limits.get(l as usize).map(|d| d.name.as_str()),
            Change::Setting(s, _) => model.settings.get(s as usize).map(|d| d.name.as_str()),
        };
        shown(name.unwrap_or_default())
    }

    /// The record's change with its names resolved and its value read, or `None` after
    /// reporting why it has none.
    fn resolve(&mut self, entry: &Entry<'_>) -> Option<Change> {
        let engine = self.engine;
        let problems = &mut self.problems;
        if entry.subject.is_empty() {
            problems.push(OverrideError::NoSubject.at(entry.at("subject")));
            return None;
        }
        let mut named = entry.targets.iter().flatten();
        let (Some((kind, name)), None) = (named.next(), named.next()) else {
            let count = entry.targets.iter().flatten().count();
            problems.push(OverrideError::Targets { count }.at(entry.span()));
            return None;
        };
        let name_span = || entry.at(kind.as_str());
        let op = entry.op.as_deref().unwrap_or("");
        let op_span = || entry.at("op");
        let model = engine.model();
        let unknown = |error: OverrideError, candidates: &mut dyn Iterator<Item = &str>| {
            let help = closest(name, candidates).map(|c| format!("did you mean `{c}`?"));
            error.at(name_span()).with_optional_help(help)
        };
        let index = |position: usize| u32::try_from(position).unwrap_or(u32::MAX);
        match kind {
            Kind::Feature => {
                let Some(f) = engine.feature(name).map(|id| engine.index(id)) else {
                    let names = &mut model.features.iter().map(|f| f.name.as_str());
                    problems.push(unknown(OverrideError::UnknownFeature { name: shown(name) }, names));
                    return None;
                };
                let grant = match op {
                    "grant" => true,
                    "revoke" => false,
                    _ => {
                        let error =
                            OverrideError::BadOp { op: shown(op), kind: "feature", allowed: "`grant` or `revoke`" };
                        problems.push(error.at(op_span()));
                        return None;
                    }
                };
                for (field, given) in [("value", entry.value.is_some()), ("per_seat", entry.per_seat.is_some())] {
                    if given {
                        problems.push(OverrideError::Unwanted { field, kind: "feature" }.at(entry.at(field)));
                        return None;
                    }
                }
                Some(Change::Feature(index(f), grant))
            }
            Kind::Limit => {
                let Some(l) = engine.limit(name).map(|id| engine.index(id)) else {
                    let names = &mut model.limits.iter().map(|l| l.name.as_str());
                    problems.push(unknown(OverrideError::UnknownLimit { name: shown(name) }, names));
                    return None;
                };
                let def = model.limits.get(l)?;
                if let Some(rate) = def.draws {
                    let pool = model.limits.get(rate.pool).map_or("", |pool| pool.name.as_str());
                    let error = OverrideError::DrawerRecord { name: shown(name), pool: shown(pool) };
                    let help =
                        format!("a record for `{}`, the pool it draws on, changes what it may draw", shown(pool));
                    problems.push(error.at(entry.at("limit")).with_help(help));
                    return None;
                }
                let Some(op) = LimitOp::from_name(op) else {
                    let allowed = "`=`, `+=`, `at_least` or `at_most`";
                    problems.push(OverrideError::BadOp { op: shown(op), kind: "limit", allowed }.at(op_span()));
                    return None;
                };
                let Some(written) = &entry.value else {
                    problems.push(OverrideError::MissingValue { name: shown(name) }.at(entry.span()));
                    return None;
                };
                let value = match values::limit_amount(written, def.ty, name) {
                    Ok(value) => value,
                    Err(error) => {
                        problems.push(error.at(entry.at("value")));
                        return None;
                    }
                };
                let per_seat = entry.per_seat == Some(true);
                if per_seat {
                    let why = match (def.ty, def.kind) {
                        (QuantityType::Duration, LimitKind::Cap | LimitKind::Gauge) => {
                            Some("a duration that is not a counter does not grow with seats")
                        }
                        _ if value == UNLIMITED => Some("`unlimited` per seat is unlimited"),
                        _ => None,
                    };
                    if let Some(why) = why {
                        problems.push(OverrideError::PerSeat { name: shown(name), why }.at(entry.at("per_seat")));
                        return None;
                    }
                }
                Some(Change::Limit(index(l), op, value, per_seat))
            }
            Kind::Setting => {
                let Some(s) = engine.setting(name).map(|id| engine.index(id)) else {
                    let names = &mut model.settings.iter().map(|s| s.name.as_str());
                    problems.push(unknown(OverrideError::UnknownSetting { name: shown(name) }, names));
                    return None;
                };
                let def = model.settings.get(s)?;
                if op != "=" {
                    problems
                        .push(OverrideError::BadOp { op: shown(op), kind: "setting", allowed: "`=`" }.at(op_span()));
                    return None;
                }
                if entry.per_seat.is_some() {
                    problems
                        .push(OverrideError::Unwanted { field: "per_seat", kind: "setting" }.at(entry.at("per_seat")));
                    return None;
                }
                let Some(written) = &entry.value else {
                    problems.push(OverrideError::MissingValue { name: shown(name) }.at(entry.span()));
                    return None;
                };
                match values::setting_value(written, def.ty, name) {
                    Ok(value) => {
                        let at = index(self.values.len());
                        self.values.push(value);
                        Some(Change::Setting(index(s), at))
                    }
                    Err(error) => {
                        problems.push(error.at(entry.at("value")));
                        None
                    }
                }
            }
        }
    }
}

/// An offset or count of the set's text as the set keeps it; texts are held to
/// `Limits::override_bytes`, far below `u32::MAX` by default.
fn narrow(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
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
fn target(change: &Change) -> (u8, u32) {
    match *change {
        Change::Feature(f, _) => (0, f),
        Change::Limit(l, ..) => (1, l),
        Change::Setting(s, _) => (2, s),
    }
}

/// A name from a record, cut for a message, as the policy checker cuts names.
fn shown(name: &str) -> String {
    const MAX: usize = 128;
    match name.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", name.get(..cut).unwrap_or_default()),
        None => name.to_string(),
    }
}
