//! The override-set handle (ABI 5): per-customer override records, loaded from JSON Lines text
//! or a file and checked against an engine, shared by clones, freed.

use std::sync::Arc;

use entitle::{LoadError, Overrides, Source};

use crate::errors::{load_error, report};
use crate::status::{free_box, guard, read_str};
use crate::types::Displays;
use crate::{entitle_engine, entitle_error, entitle_status};

/// A checked set of per-customer override records (ABI 5), for the policy of the engine it was
/// checked against. Create with `entitle_overrides_from_jsonl` or `entitle_overrides_from_path`,
/// or share one with `entitle_overrides_clone`; free each handle with `entitle_overrides_free`.
/// A request takes it with `entitle_request_set_overrides`; `entitle_query_json_with_overrides`
/// answers JSON queries with it.
///
/// Immutable: any number of threads may use one set at once. A request that holds a set keeps
/// it alive, so the set's handle may be freed while requests still hold it.
pub struct entitle_overrides {
    pub(crate) overrides: Overrides,
    /// The display text of the setting values the set's records gave, shared with every clone
    /// and every request that holds the set: an answer points into it, so it lives as long as
    /// the set, and an engine's own texts never grow with the sets it is asked with.
    pub(crate) displays: Arc<Displays>,
}

/// Gives a new set to the C caller through `overrides_out`.
///
/// # Safety
/// `overrides_out` is non-NULL and valid for a pointer write.
unsafe fn hand_out(
    overrides: Overrides,
    displays: Arc<Displays>,
    overrides_out: *mut *mut entitle_overrides,
) -> entitle_status {
    // SAFETY: the caller's contract.
    unsafe { *overrides_out = Box::into_raw(Box::new(entitle_overrides { overrides, displays })) };
    entitle_status::Ok
}

/// Checks `source` as JSON Lines override records against `engine`, giving the set out or the
/// diagnostics through the error handle.
///
/// # Safety
/// `overrides_out` is non-NULL and writable; `error_out` is NULL or writable.
unsafe fn check(
    engine: &entitle_engine,
    source: &Source,
    overrides_out: *mut *mut entitle_overrides,
    error_out: *mut *mut entitle_error,
) -> entitle_status {
    match Overrides::from_jsonl(&engine.engine, source.name(), source.text()) {
        // SAFETY: the caller's contract for `overrides_out`.
        Ok(overrides) => unsafe { hand_out(overrides, Arc::default(), overrides_out) },
        Err(diagnostics) => {
            let error = load_error(&LoadError::Overrides(diagnostics), Some(source));
            // SAFETY: the caller's contract for `error_out`.
            unsafe { report(error_out, error) }
        }
    }
}

/// Reads and checks a set of override records from JSON Lines text against `engine` (ABI 5):
/// one record a line (`{"subject", "feature" | "limit" | "setting", "op", "value", "from",
/// "until", "reason", "author"}`, as `docs/language.md` describes), blank lines and lines
/// starting with `#` skipped.
///
/// `name` (how diagnostics refer to the text, usually its path) and `text` are UTF-8 byte
/// strings with their lengths. On success writes a new set to `*overrides_out` and returns
/// `ENTITLE_STATUS_OK`; the caller frees it with `entitle_overrides_free`. On failure writes
/// nothing to `*overrides_out`, and, when `error_out` is not NULL, writes an error (freed with
/// `entitle_error_free`) to `*error_out`: `ENTITLE_STATUS_OVERRIDES_ERROR` when a record does not
/// check, whose message names the first error's `file:line:col` and whose
/// `entitle_error_diagnostics_json` holds every diagnostic, as for a policy that does not
/// check.
///
/// # Safety
/// `engine` is NULL or a live engine. `name` and `text` are NULL with length 0, or point to that
/// many readable bytes. `overrides_out` is NULL or a valid pointer to write to; `error_out` is
/// NULL or one.
#[no_mangle]
pub unsafe extern "C" fn entitle_overrides_from_jsonl(
    engine: *const entitle_engine,
    name: *const u8,
    name_len: usize,
    text: *const u8,
    text_len: usize,
    overrides_out: *mut *mut entitle_overrides,
    error_out: *mut *mut entitle_error,
) -> entitle_status {
    guard(|| {
        // SAFETY: NULL or a live engine, per the contract.
        let Some(engine) = (unsafe { engine.as_ref() }) else { return entitle_status::NullArgument };
        if overrides_out.is_null() {
            return entitle_status::NullArgument;
        }
        // SAFETY: the caller's contract for `name` and `text`.
        let strings = unsafe { read_str(name, name_len).and_then(|n| Ok((n, read_str(text, text_len)?))) };
        let (name, text) = match strings {
            Ok(pair) => pair,
            Err(status) => {
                let message = match status {
                    entitle_status::InvalidUtf8 => "the override set's name or text is not UTF-8",
                    entitle_status::InvalidArgument => "a length is larger than PTRDIFF_MAX",
                    _ => "a string pointer is NULL with a non-zero length",
                };
                // SAFETY: `error_out` is NULL or writable, per the contract.
                return unsafe { report(error_out, entitle_error::plain(status, message)) };
            }
        };
        // SAFETY: checked non-NULL; the contract makes both out-parameters writable or NULL.
        unsafe { check(engine, &Source::new(name, text), overrides_out, error_out) }
    })
}

/// Reads the JSON Lines override file at `path` (UTF-8 bytes with their length) and checks it
/// against `engine` (ABI 5), as `entitle_overrides_from_jsonl` checks text named by the path. A
/// file that cannot be read, is not a regular file or is larger than the engine's limit for
/// override files (512 MiB by default) is `ENTITLE_STATUS_IO_ERROR`, and one that is not UTF-8
/// `ENTITLE_STATUS_INVALID_UTF8`, each with a message naming the path.
///
/// # Safety
/// As `entitle_overrides_from_jsonl`, for `path`.
#[no_mangle]
pub unsafe extern "C" fn entitle_overrides_from_path(
    engine: *const entitle_engine,
    path: *const u8,
    path_len: usize,
    overrides_out: *mut *mut entitle_overrides,
    error_out: *mut *mut entitle_error,
) -> entitle_status {
    guard(|| {
        // SAFETY: NULL or a live engine, per the contract.
        let Some(engine) = (unsafe { engine.as_ref() }) else { return entitle_status::NullArgument };
        if overrides_out.is_null() {
            return entitle_status::NullArgument;
        }
        // SAFETY: the caller's contract for `path`.
        let path = match unsafe { read_str(path, path_len) } {
            Ok(path) => path,
            Err(status) => {
                let error = entitle_error::plain(status, "the path is not a valid string");
                // SAFETY: `error_out` is NULL or writable.
                return unsafe { report(error_out, error) };
            }
        };
        // The text is read with the reader of `Overrides::from_path`, under the same limit, and
        // checked here, so that the diagnostics of a set that does not check can be given as
        // JSON, which needs the text they point into (the engine loader reads a policy file so
        // too).
        let max = engine.engine.input_limits().override_bytes;
        match entitle::read_text_file(std::path::Path::new(path), max) {
            // SAFETY: checked non-NULL; the contract makes both out-parameters writable or NULL.
            Ok(source) => unsafe { check(engine, &source, overrides_out, error_out) },
            // SAFETY: `error_out` is NULL or writable.
            Err(error) => unsafe { report(error_out, load_error(&error, None)) },
        }
    })
}

/// Writes a new handle on the same set as `overrides` to `*overrides_out` (ABI 5). The two
/// share the records (nothing is copied or checked again); each is freed with its own
/// `entitle_overrides_free`, in any order and from any thread.
///
/// # Safety
/// `overrides` is NULL or a live set; `overrides_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_overrides_clone(
    overrides: *const entitle_overrides,
    overrides_out: *mut *mut entitle_overrides,
) -> entitle_status {
    guard(|| {
        // SAFETY: NULL or a live set, per the contract.
        let Some(overrides) = (unsafe { overrides.as_ref() }) else { return entitle_status::NullArgument };
        if overrides_out.is_null() {
            return entitle_status::NullArgument;
        }
        // `Overrides` is an `Arc` inside: the clone shares the records, and the display texts
        // with them. SAFETY: checked non-NULL, and writable per the contract.
        unsafe { hand_out(overrides.overrides.clone(), Arc::clone(&overrides.displays), overrides_out) }
    })
}

/// Frees a set's handle (ABI 5). NULL does nothing. Requests that hold the set keep it: it is
/// freed with the last of them.
///
/// # Safety
/// `overrides` is NULL or a pointer from `entitle_overrides_from_*` or `entitle_overrides_clone`
/// not freed before, and no call is using it.
#[no_mangle]
pub unsafe extern "C" fn entitle_overrides_free(overrides: *mut entitle_overrides) {
    // SAFETY: NULL or a pointer from `Box::into_raw` in `hand_out`, freed once.
    unsafe { free_box(overrides) }
}
