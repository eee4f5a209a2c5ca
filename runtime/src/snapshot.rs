//! Meter snapshots: every counter in a file, so that a restart loses no counted usage.
//!
//! The file is JSON Lines. The first line says what the file is and vouches for the rest:
//! `{"format":"entitle-meter-snapshot","version":1,"counters":N,"sha256":"…"}`, where `sha256`
//! is the hash of every byte after that line. Each of the `N` lines after it is one counter:
//! `{"subject":"app-42","limit":"api_calls","window":[start,end],"used":990}` (`window` is
//! `null` for gauges and caps; instants are Unix seconds). Files are written atomically
//! (temporary file, fsync, rename; the temporary file's name is unique to each write, so
//! threads snapshotting to one path never share one), and a file that is not a regular file,
//! is not a snapshot, is of another version, or is truncated or altered is refused whole: the
//! meter is replaced only by a snapshot that read completely.

use std::path::Path;
use std::sync::Arc;

use entitle::{PolicyHash, WindowSpan};
use serde_json::{json, Value};

use crate::meter::{Counter, Meter, MeterError};

const FORMAT: &str = "entitle-meter-snapshot";
const VERSION: u64 = 1;

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
        let window = counter.window.map(|w| json!([w.start, w.end]));
        let line = json!({"subject": &**subject, "limit": &*counter.limit, "window": window, "used": counter.used});
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
    if header.get("version").and_then(Value::as_u64) != Some(VERSION) {
        return Err(invalid(format!("line 1: only version {VERSION} is read")));
    }
    let expected =
        header.get("counters").and_then(Value::as_u64).ok_or_else(|| invalid("line 1 lacks `counters`".into()))?;
    if header.get("sha256").and_then(Value::as_str) != Some(&PolicyHash::of(body.as_bytes()).to_string()) {
        return Err(invalid("the counters do not match the header's hash (truncated or altered)".into()));
    }
    let mut entries = Vec::new();
    for (index, line) in body.lines().enumerate() {
        let at = index + 2;
        let entry = parse_counter(line).ok_or_else(|| invalid(format!("line {at} is not a counter")))?;
        entries.push(entry);
    }
    if entries.len() as u64 != expected {
        return Err(invalid(format!("the header promises {expected} counters, the file holds {}", entries.len())));
    }
    let count = entries.len();
    meter.import(entries)?;
    Ok(count)
}

fn parse_counter(line: &str) -> Option<(Box<str>, Counter)> {
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
    Some((subject.into(), Counter { limit: Arc::from(limit), window, used }))
}
