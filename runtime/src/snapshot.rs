//! Meter snapshots: every counter in a file, so that a restart loses no counted usage.
//!
//! The file is JSON Lines. The first line says what the file is and vouches for the rest:
//! `{"format":"entitle-meter-snapshot","version":4,"counters":N,"sha256":"…"}`, where `sha256`
//! is the hash of every byte after that line. Each of the `N` lines after it is one counter:
//! `{"subject":"app-42","limit":"api_calls","window":[start,end],"used":990}` (`window` is
//! `null` for gauges and caps; instants are Unix seconds). A counter with reservations
//! ([`Meter::reserve`]) has `"holds"` too, one object per hold, live or remembered:
//! `{"id":7,"amount":80,"expires":1795255800,"state":"live"}`, where `state` is `live`,
//! `expired`, `committed` (with `recorded` and `unrecorded`) or `released` (with `freed`), so
//! holds survive a restart and a commit sent again after it is still applied once. A counter
//! with grants ([`Meter::grant`]) has `"grants"`, one object per grant in draw order:
//! `{"id":"promo","amount":500,"spent":120,"starts":1795255200,"expires":1797847200,
//! "priority":0,"seq":0,"spent_at":1795258800}` (`expires` is `null` for a grant that never
//! expires, `seq` the order it was granted in, `spent_at` when it was last spent, `null` for
//! never), and `"grants_paid"`, what the grants paid in the counter's window. A counter of a
//! rolling limit has `"rolling"`: `{"length":604800,"at":1795255200,"first":189975,
//! "used":[…]}`, the window's length, the instant its buckets were last brought up to, the
//! index of the oldest bucket its ring holds and the usage of each of the ring's 129 buckets
//! from it (what counts of them at `at` is `used`, and `window` is their span). Version 1 files, which have no holds, version 2
//! files, which have no grants, and version 3 files, which have no rolling counters, are read
//! too. Files are written atomically
//! (temporary file, fsync, rename; the temporary file's name is unique to each write, so
//! threads snapshotting to one path never share one), and a file that is not a regular file,
//! is not a snapshot, is of another version, or is truncated or altered is refused whole: the
//! meter is replaced only by a snapshot that read completely.

use std::path::Path;
use std::sync::Arc;

use entitle::{PolicyHash, WindowSpan};
use serde_json::{json, Value};

use crate::meter::{Buckets, Counter, Entry, GrantEntry, Grants, Meter, MeterError, Span, State};

const FORMAT: &str = "entitle-meter-snapshot";
/// The version written: 2 added holds, 3 grants, 4 rolling counters.
const VERSION: u64 = 4;

/// Why a snapshot was refused. The meter is unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The file could not be read.
    #[error("cannot read the snapshot `{path}`: {source}")]
    Read {
        /// The path given.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a snapshot of this version, or its content does not match its header.
    #[error("`{path}` is not a usable meter snapshot: {what}")]
    Invalid {
        /// The path given.
        path: String,
        /// What is wrong, with the line where it was found.
        what: String,
    },
    /// The snapshot holds more counters than the meter may.
    #[error(transparent)]
    Meter(#[from] MeterError),
}

pub(crate) fn write(meter: &Meter, path: &Path) -> std::io::Result<usize> {
    let counters = meter.export();
    let mut body = String::new();
    for (subject, counter) in &counters {
        let window = counter.window().map(|w| json!([w.start, w.end]));
        let mut line = json!({"subject": &**subject, "limit": &*counter.limit, "window": window, "used": counter.used});
        if let (Some(holds), Some(fields)) = (&counter.holds, line.as_object_mut()) {
            fields.insert("holds".into(), holds.entries().iter().map(hold_json).collect());
        }
        if let (Some(grants), Some(fields)) = (&counter.grants, line.as_object_mut()) {
            fields.insert("grants".into(), grants.entries().iter().map(grant_json).collect());
            fields.insert("grants_paid".into(), grants.paid.into());
        }
        if let (Some(buckets), Some(fields)) = (&counter.rolling, line.as_object_mut()) {
            let (at, first, used) = buckets.saved();
            fields
                .insert("rolling".into(), json!({"length": buckets.length(), "at": at, "first": first, "used": used}));
        }
        body.push_str(&line.to_string());
        body.push('\n');
    }
    let header = json!({
        "format": FORMAT,
        "version": VERSION,
        "counters": counters.len(),
        "sha256": PolicyHash::of(body.as_bytes()).to_string(),
    });
    let text = format!("{header}\n{body}");
    entitle::write_file_atomically(path, text.as_bytes())?;
    Ok(counters.len())
}

pub(crate) fn restore(meter: &Meter, path: &Path) -> Result<usize, SnapshotError> {
    let name = path.display().to_string();
    let read_error = |source| SnapshotError::Read { path: name.clone(), source };
    // A FIFO or a device would block on open or never end: only a regular file is a
    // snapshot, and that is checked before opening, as the engine's loader does.
    if !std::fs::metadata(path).map_err(read_error)?.is_file() {
        let source = std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file");
        return Err(SnapshotError::Read { path: name, source });
    }
    let text = std::fs::read_to_string(path).map_err(read_error)?;
    let invalid = |what: String| SnapshotError::Invalid { path: name.clone(), what };
    let (header, body) = text.split_once('\n').ok_or_else(|| invalid("it has no header line".into()))?;
    let header: Value = serde_json::from_str(header).map_err(|e| invalid(format!("line 1: {e}")))?;
    if header.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(invalid("line 1 does not name the format `entitle-meter-snapshot`".into()));
    }
    if !matches!(header.get("version").and_then(Value::as_u64), Some(1..=VERSION)) {
        return Err(invalid(format!("line 1: only versions 1 to {VERSION} are read")));
    }
    let expected =
        header.get("counters").and_then(Value::as_u64).ok_or_else(|| invalid("line 1 lacks `counters`".into()))?;
    if header.get("sha256").and_then(Value::as_str) != Some(&PolicyHash::of(body.as_bytes()).to_string()) {
        return Err(invalid("the counters do not match the header's hash (truncated or altered)".into()));
    }
    let mut entries = Vec::new();
    let mut ids = std::collections::HashSet::new();
    let mut counters = std::collections::HashSet::new();
    let config = meter.config();
    // No live hold may end later than the longest lifetime from now: one that does was not
    // made by a meter.
    let latest =
        crate::meter::system_clock().saturating_add(i64::try_from(config.max_hold_seconds).unwrap_or(i64::MAX));
    for (index, line) in body.lines().enumerate() {
        let at = index + 2;
        let entry = parse_counter(line, &config).ok_or_else(|| invalid(format!("line {at} is not a counter")))?;
        if !counters.insert((entry.0.clone(), entry.1.limit.clone())) {
            return Err(invalid(format!("line {at} repeats the counter of `{}` for `{}`", entry.0, entry.1.limit)));
        }
        for hold in &entry.2 {
            if hold.id >= 1 << 63 {
                return Err(invalid(format!("line {at}: reservation id {} is past the ids a meter gives", hold.id)));
            }
            if hold.state == State::Live && hold.expires > latest {
                return Err(invalid(format!("line {at}: reservation {} is held past the longest lifetime", hold.id)));
            }
            if !ids.insert(hold.id) {
                return Err(invalid(format!("line {at} holds reservation {} a second time", hold.id)));
            }
        }
        if let Some(grants) = &entry.1.grants {
            let entries = grants.entries();
            if entries.len() > config.max_grants {
                let max = config.max_grants;
                return Err(invalid(format!("line {at}: more than the meter's limit of {max} grants on one counter")));
            }
            let mut names = std::collections::HashSet::new();
            let mut seqs = std::collections::HashSet::new();
            for grant in entries {
                if grant.seq == u64::MAX || !seqs.insert(grant.seq) {
                    return Err(invalid(format!(
                        "line {at}: grant `{}` has a `seq` of another grant's, or the last",
                        grant.id
                    )));
                }
                if grant.id.is_empty() || grant.id.len() > config.max_key_bytes {
                    return Err(invalid(format!("line {at}: a grant id of {} bytes", grant.id.len())));
                }
                if grant.amount == 0 || grant.spent > grant.amount || grant.expires <= grant.starts {
                    return Err(invalid(format!("line {at}: grant `{}` is empty, overspent or ends first", grant.id)));
                }
                if !names.insert(grant.id.clone()) {
                    return Err(invalid(format!("line {at} holds grant `{}` a second time", grant.id)));
                }
            }
        }
        if ids.len() > config.max_holds {
            let max = config.max_holds;
            return Err(invalid(format!("line {at}: more than the meter's limit of {max} reservations")));
        }
        entries.push(entry);
    }
    if entries.len() as u64 != expected {
        return Err(invalid(format!("the header promises {expected} counters, the file holds {}", entries.len())));
    }
    let count = entries.len();
    meter.import(entries)?;
    Ok(count)
}

fn parse_counter(line: &str, config: &crate::meter::MeterConfig) -> Option<(Box<str>, Counter, Vec<Entry>)> {
    let value: Value = serde_json::from_str(line).ok()?;
    let subject = value.get("subject")?.as_str()?;
    let limit = value.get("limit")?.as_str()?;
    let used = value.get("used")?.as_u64()?;
    let window = match value.get("window")? {
        Value::Null => None,
        Value::Array(pair) => match pair.as_slice() {
            [start, end] => {
                let (start, end) = (start.as_i64()?, end.as_i64()?);
                (start < end).then_some(WindowSpan::new(start, end))?.into()
            }
            _ => return None,
        },
        _ => return None,
    };
    let holds = match value.get("holds") {
        None => Vec::new(),
        Some(holds) => holds.as_array()?.iter().map(parse_hold).collect::<Option<Vec<_>>>()?,
    };
    let grants = match value.get("grants") {
        None => None,
        Some(grants) => {
            let entries = grants.as_array()?.iter().map(parse_grant).collect::<Option<Vec<_>>>()?;
            let paid = value.get("grants_paid")?.as_u64()?;
            Some(Box::new(Grants::from_entries(entries, paid, config)))
        }
    };
    let mut counter = Counter::new(Arc::from(limit), window.map(Span::Reset), used);
    counter.grants = grants;
    if let Some(rolling) = value.get("rolling") {
        let number = |name: &str| rolling.get(name).and_then(Value::as_i64);
        let buckets: Vec<u64> = rolling.get("used")?.as_array()?.iter().map(Value::as_u64).collect::<Option<_>>()?;
        let buckets = Buckets::restored(number("length")?, number("at")?, number("first")?, &buckets)?;
        // The buckets are the usage and the window: a line whose fields disagree is refused.
        if buckets.total() != used || Some(buckets.span()) != window {
            return None;
        }
        counter.rolling = Some(Box::new(buckets));
    }
    Some((subject.into(), counter, holds))
}

fn grant_json(grant: &GrantEntry) -> Value {
    let expires = (grant.expires != i64::MAX).then_some(grant.expires);
    let spent_at = (grant.spent_at != i64::MIN).then_some(grant.spent_at);
    json!({
        "id": &*grant.id, "amount": grant.amount, "spent": grant.spent, "starts": grant.starts,
        "expires": expires, "priority": grant.priority, "seq": grant.seq, "spent_at": spent_at,
    })
}

fn parse_grant(value: &Value) -> Option<GrantEntry> {
    let number = |name: &str| value.get(name).and_then(Value::as_u64);
    let expires = match value.get("expires")? {
        Value::Null => i64::MAX,
        expires => expires.as_i64().filter(|&at| at != i64::MAX)?,
    };
    Some(GrantEntry {
        id: Arc::from(value.get("id")?.as_str()?),
        amount: number("amount")?,
        spent: number("spent")?,
        starts: value.get("starts")?.as_i64()?,
        expires,
        priority: u32::try_from(number("priority")?).ok()?,
        seq: number("seq")?,
        spent_at: match value.get("spent_at")? {
            Value::Null => i64::MIN,
            at => at.as_i64().filter(|&at| at != i64::MIN)?,
        },
    })
}

fn hold_json(entry: &Entry) -> Value {
    let mut hold = json!({"id": entry.id, "amount": entry.amount, "expires": entry.expires});
    let (state, extra) = match entry.state {
        State::Live => ("live", json!({})),
        State::Expired => ("expired", json!({})),
        State::Committed { recorded, unrecorded } => {
            ("committed", json!({"recorded": recorded, "unrecorded": unrecorded}))
        }
        State::Released { freed } => ("released", json!({"freed": freed})),
    };
    if let (Some(fields), Value::Object(extra)) = (hold.as_object_mut(), extra) {
        fields.insert("state".into(), state.into());
        fields.extend(extra);
    }
    hold
}

fn parse_hold(value: &Value) -> Option<Entry> {
    let number = |name: &str| value.get(name).and_then(Value::as_u64);
    let state = match value.get("state")?.as_str()? {
        "live" => State::Live,
        "expired" => State::Expired,
        "committed" => State::Committed { recorded: number("recorded")?, unrecorded: number("unrecorded")? },
        "released" => State::Released { freed: number("freed")? },
        _ => return None,
    };
    Some(Entry { id: number("id")?, amount: number("amount")?, expires: value.get("expires")?.as_i64()?, state })
}
