//! Statuses, the panic guard every export runs under, and reading the caller's arguments into
//! Rust values or the status that says why they could not be read.

use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What a call did. The numbers are fixed and never reused.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum entitle_status {
    /// Success: the out-parameters hold the answer.
    Ok = 0,
    /// A required pointer was NULL, or a string or array pointer was NULL with a non-zero
    /// length or count.
    NullArgument = 1,
    /// A string was not UTF-8.
    InvalidUtf8 = 2,
    /// An argument was out of its range: a length (or an array's size in bytes) past
    /// `PTRDIFF_MAX`, a billing anchor outside 1–31, a size-prefixed struct whose `size` is
    /// smaller than the struct's first declared form, an acquisition instant of `INT64_MIN`.
    InvalidArgument = 3,
    /// The policy does not check; the error handle carries every diagnostic.
    PolicyError = 4,
    /// The policy file could not be read.
    IoError = 5,
    /// A by-name query or lookup named something the policy does not declare. Queries still
    /// write their answer: a deny whose reason says which kind of name was unknown.
    UnknownName = 6,
    /// An id-based query used an id this engine does not have (another engine's, or never
    /// set). The answer is still written: a deny whose reason says which kind of id.
    UnknownId = 7,
    /// The caller's buffer is too small, and nothing was written to it: the needed size is
    /// reported, or, for an array of answers to a list of questions, is the list's count.
    BufferTooSmall = 8,
    /// The library panicked (a bug); nothing was written. Please report it.
    Panic = 9,
    /// A query (by name or by id) held more add-ons than the limit allows. The answer is still written:
    /// a deny with reason `too_many_addons`.
    InputLimit = 10,
    /// A compiled bundle could not be loaded: it is corrupt, truncated, inconsistent, past the
    /// input limits, or of a newer format than this library reads. The error's message says
    /// which.
    BundleError = 11,
    /// The request holds an add-on more than once (by id or by name). The answer is still
    /// written: a deny with reason `duplicate_addon`.
    DuplicateAddon = 12,
    /// The request holds an add-on in a quantity above the maximum its policy declares (ABI 4;
    /// 1 unless the policy says more). The answer is still written: a deny with reason
    /// `quantity_above_max`.
    QuantityAboveMax = 13,
    /// The question needs an input the request does not give (ABI 4): a seat count, for a limit
    /// with a per-seat value in force (reason `seats_not_given`), or the instant a held trial
    /// add-on was acquired (reason `acquisition_not_given`). The answer is still written: a
    /// deny with that reason.
    MissingInput = 14,
    /// The override set does not check against the engine (ABI 5): a record is malformed,
    /// names something the policy does not declare, or overlaps another. The error handle
    /// carries every diagnostic, each with the record's `file:line:col`.
    OverridesError = 15,
    /// The request carries an override set checked against another policy than the engine's
    /// (ABI 5), and the set has records for the request's key. The answer is still written: a
    /// deny with reason `overrides_not_for_engine`.
    OverridesNotForEngine = 16,
}

/// Runs `body`, turning a panic into [`entitle_status::Panic`]. Every export that returns a
/// status runs its whole body in here (or in [`guard_or`]); a test below reads the source to
/// hold every export to that.
pub(crate) fn guard(body: impl FnOnce() -> entitle_status) -> entitle_status {
    guard_or(entitle_status::Panic, body)
}

/// Runs `body`, turning a panic into `fallback`: for the exports that return a plain value (a
/// name, a version) or nothing (the `_free` functions), which have no status to say it with.
pub(crate) fn guard_or<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Frees a handle the library gave out with `Box::into_raw`, under the guard; NULL does
/// nothing. The body of each handle's `_free`.
///
/// # Safety
/// `handle` is NULL or came from `Box::into_raw` of a `Box<T>`, and is not freed before.
pub(crate) unsafe fn free_box<T>(handle: *mut T) {
    guard_or((), || {
        if !handle.is_null() {
            // SAFETY: from `Box::into_raw`, freed once, per the contract.
            drop(unsafe { Box::from_raw(handle) });
        }
    });
}

/// Reads `len` bytes at `data` as a string.
///
/// # Safety
/// `data` must be NULL with `len` 0, or point to `len` readable bytes that stay unchanged for
/// the returned lifetime.
pub(crate) unsafe fn read_str<'a>(data: *const u8, len: usize) -> Result<&'a str, entitle_status> {
    // SAFETY: the caller's contract, which `read_bytes` shares.
    let bytes = unsafe { read_bytes(data, len) }?;
    // Names are almost always ASCII, which a word-at-a-time check proves valid UTF-8 in a few
    // instructions; the general validator costs more than the name lookup it precedes.
    if bytes.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).map_err(|_| entitle_status::InvalidUtf8)
}

/// Reads `len` bytes at `data`: NULL with length 0 is empty.
///
/// # Safety
/// `data` is NULL with `len` 0, or points to `len` readable bytes that outlive `'a`.
pub(crate) unsafe fn read_bytes<'a>(data: *const u8, len: usize) -> Result<&'a [u8], entitle_status> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(entitle_status::NullArgument);
    }
    if isize::try_from(len).is_err() {
        return Err(entitle_status::InvalidArgument);
    }
    // SAFETY: non-NULL, `len` fits `isize`, and the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// Turns text into a C string, replacing any NUL (which a message never holds) so that the
/// conversion cannot fail.
pub(crate) fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "\u{fffd}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::path::Path;

    #[test]
    fn a_panic_becomes_a_status() {
        assert_eq!(guard(|| panic!("a bug")), entitle_status::Panic);
    }

    #[test]
    fn a_panic_in_a_plain_getter_becomes_its_fallback() {
        assert_eq!(guard_or(7_u32, || panic!("a bug")), 7);
        assert_eq!(guard_or(7_u32, || 8), 8);
    }

    /// A function of the crate's source: its name, whether it is an export, and its body from
    /// the opening brace on.
    struct Function {
        name: String,
        exported: bool,
        body: String,
    }

    /// Every `fn` in `ffi/src/`, read as text: an item whose line holds only qualifiers before
    /// `fn`.
    fn functions() -> Vec<Function> {
        let qualifiers = ["pub", "pub(crate)", "unsafe", "extern", "\"C\"", "const"];
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())) {
            let path = entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())).path();
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            for (at, _) in text.match_indices("fn ") {
                let line = text.get(..at).map_or("", |before| before.rsplit('\n').next().unwrap_or(""));
                if !line.split_whitespace().all(|word| qualifiers.contains(&word)) {
                    continue;
                }
                let rest = text.get(at + 3..).unwrap_or("");
                let name = rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("");
                let body = rest.find('{').and_then(|open| rest.get(open..)).unwrap_or("");
                found.push(Function {
                    name: name.to_string(),
                    exported: line.contains("extern"),
                    body: body.to_string(),
                });
            }
        }
        found
    }

    /// Whether `body` does nothing before it calls one of `guarded`: its first statement, past
    /// comments and an `unsafe` block's brace, is that call.
    fn enters(body: &str, guarded: &[String]) -> bool {
        let mut rest = body.strip_prefix('{').unwrap_or(body);
        loop {
            rest = rest.trim_start();
            if let Some(comment) = rest.strip_prefix("//") {
                rest = comment.split_once('\n').map_or("", |(_, after)| after);
            } else if let Some(block) = rest.strip_prefix("unsafe {") {
                rest = block;
            } else {
                break;
            }
        }
        guarded.iter().any(|name| rest.starts_with(&format!("{name}(")))
    }

    /// No export does any work outside the panic guard: each one's body starts by calling
    /// `guard` or `guard_or`, or a helper whose body does.
    #[test]
    fn every_export_runs_under_the_guard() {
        let functions = functions();
        let mut guarded = vec!["guard".to_string(), "guard_or".to_string()];
        loop {
            let more: Vec<String> = functions
                .iter()
                .filter(|f| !f.exported && !guarded.contains(&f.name) && enters(&f.body, &guarded))
                .map(|f| f.name.clone())
                .collect();
            if more.is_empty() {
                break;
            }
            guarded.extend(more);
        }
        let exports: Vec<&Function> = functions.iter().filter(|f| f.exported).collect();
        let outside: Vec<&str> =
            exports.iter().filter(|f| !enters(&f.body, &guarded)).map(|f| f.name.as_str()).collect();
        assert!(outside.is_empty(), "exports that do not start under the panic guard: {outside:?}");
        // The reading above found every export: one for each `#[no_mangle]` line.
        let marked: usize = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
            .map(|text| text.lines().filter(|line| line.trim() == "#[no_mangle]").count())
            .sum();
        assert_eq!(exports.len(), marked);
        assert!(exports.len() > 40, "{} exports", exports.len());
    }
}
