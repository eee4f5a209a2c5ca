//! The engine handle: loading one from text, a file or a bundle, its policy hash, and freeing it.

use std::sync::Arc;

use entitle::{Engine, Limits, LoadError, Source};

use crate::errors::{load_error, report};
use crate::status::{free_box, guard, read_bytes, read_str};
use crate::types::Displays;
use crate::{entitle_error, entitle_status};

/// A compiled policy. Create with `entitle_engine_from_source`, `entitle_engine_from_path` or
/// `entitle_engine_from_bundle`, or share one with `entitle_engine_clone`; free each handle
/// with `entitle_engine_free`. Immutable: any number of threads may query one engine at
/// once, and freeing it while none does is safe.
pub struct entitle_engine {
    pub(crate) engine: Engine,
    /// The display text of the setting values answered so far, shared with every clone.
    pub(crate) displays: Arc<Displays>,
}

/// Gives a new engine to the C caller through `engine_out`, to be freed with
/// `entitle_engine_free`.
///
/// # Safety
/// `engine_out` is non-NULL and valid for a pointer write.
unsafe fn hand_out(engine: Engine, engine_out: *mut *mut entitle_engine) -> entitle_status {
    // SAFETY: the caller's contract, passed on.
    unsafe { hand_out_shared(engine, Arc::default(), engine_out) }
}

/// Gives `engine` to the C caller through `engine_out` with the display texts it shares.
///
/// # Safety
/// `engine_out` is non-NULL and valid for a pointer write.
unsafe fn hand_out_shared(
    engine: Engine,
    displays: Arc<Displays>,
    engine_out: *mut *mut entitle_engine,
) -> entitle_status {
    // SAFETY: the caller's contract.
    unsafe { *engine_out = Box::into_raw(Box::new(entitle_engine { engine, displays })) };
    entitle_status::Ok
}

fn load(source: &Source, engine_out: *mut *mut entitle_engine, error_out: *mut *mut entitle_error) -> entitle_status {
    let limits = Limits::default();
    match entitle::check_with(source, &limits) {
        // SAFETY: the callers checked `engine_out` for NULL; the C contract makes it writable.
        Ok(checked) => unsafe { hand_out(entitle::compile(&checked), engine_out) },
        Err(diagnostics) => {
            let error = load_error(&LoadError::Policy(diagnostics), Some(source));
            // SAFETY: `error_out` is NULL or writable, per the C contract.
            unsafe { report(error_out, error) }
        }
    }
}

/// Parses, checks and compiles a policy from text.
///
/// `name` (how diagnostics refer to the text, usually its path) and `text` are UTF-8 byte
/// strings with their lengths. On success writes a new engine to `*engine_out` and returns
/// `ENTITLE_STATUS_OK`; the caller frees it with `entitle_engine_free`. On failure writes
/// nothing to `*engine_out`, and, when `error_out` is not NULL, writes an error (freed with
/// `entitle_error_free`) to `*error_out`: `ENTITLE_STATUS_POLICY_ERROR` carries every
/// diagnostic.
///
/// # Safety
/// `name` and `text` are NULL with length 0, or point to that many readable bytes.
/// `engine_out` is a valid pointer to write to; `error_out` is NULL or one.
#[no_mangle]
pub unsafe extern "C" fn entitle_engine_from_source(
    name: *const u8,
    name_len: usize,
    text: *const u8,
    text_len: usize,
    engine_out: *mut *mut entitle_engine,
    error_out: *mut *mut entitle_error,
) -> entitle_status {
    guard(|| {
        if engine_out.is_null() {
            return entitle_status::NullArgument;
        }
        // SAFETY: the caller's contract for `name` and `text`.
        let strings = unsafe { read_str(name, name_len).and_then(|n| Ok((n, read_str(text, text_len)?))) };
        let (name, text) = match strings {
            Ok(pair) => pair,
            Err(status) => {
                let message = match status {
                    entitle_status::InvalidUtf8 => "the policy name or text is not UTF-8",
                    entitle_status::InvalidArgument => "a length is larger than PTRDIFF_MAX",
                    _ => "a string pointer is NULL with a non-zero length",
                };
                // SAFETY: `error_out` is NULL or writable, per the contract.
                return unsafe { report(error_out, entitle_error::plain(status, message)) };
            }
        };
        load(&Source::new(name, text), engine_out, error_out)
    })
}

/// Reads, checks and compiles the policy file at `path` (UTF-8 bytes with their length).
/// Otherwise as `entitle_engine_from_source`; an unreadable file is `ENTITLE_STATUS_IO_ERROR`.
///
/// # Safety
/// As `entitle_engine_from_source`, for `path`.
#[no_mangle]
pub unsafe extern "C" fn entitle_engine_from_path(
    path: *const u8,
    path_len: usize,
    engine_out: *mut *mut entitle_engine,
    error_out: *mut *mut entitle_error,
) -> entitle_status {
    guard(|| {
        if engine_out.is_null() {
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
        match entitle::read_policy_file(std::path::Path::new(path), &Limits::default()) {
            // SAFETY: checked for NULL above; the C contract makes it writable.
            Ok((_, Some(engine))) => unsafe { hand_out(engine, engine_out) },
            Ok((source, None)) => load(&source, engine_out, error_out),
            // SAFETY: `error_out` is NULL or writable.
            Err(error) => unsafe { report(error_out, load_error(&error, None)) },
        }
    })
}

/// Loads an engine from a compiled bundle (`entitle build`) held in memory: `len` bytes at
/// `bytes`. A bundle loads without parsing; one that is corrupt, truncated, inconsistent, past
/// the default input limits or of a newer format is `ENTITLE_STATUS_BUNDLE_ERROR`, with a
/// message saying which.
/// `entitle_engine_from_path` also takes bundles, told apart by their signature.
///
/// # Safety
/// `bytes` is NULL with length 0, or points to `len` readable bytes. `engine_out` is a valid
/// pointer to write to; `error_out` is NULL or one.
#[no_mangle]
pub unsafe extern "C" fn entitle_engine_from_bundle(
    bytes: *const u8,
    len: usize,
    engine_out: *mut *mut entitle_engine,
    error_out: *mut *mut entitle_error,
) -> entitle_status {
    guard(|| {
        if engine_out.is_null() {
            return entitle_status::NullArgument;
        }
        // SAFETY: the caller's contract for `bytes`.
        let bytes = match unsafe { read_bytes(bytes, len) } {
            Ok(bytes) => bytes,
            Err(status) => {
                let error = entitle_error::plain(status, "the bundle pointer or length is invalid");
                // SAFETY: `error_out` is NULL or writable.
                return unsafe { report(error_out, error) };
            }
        };
        match Engine::from_bundle(bytes) {
            // SAFETY: checked for NULL above; the C contract makes it writable.
            Ok(engine) => unsafe { hand_out(engine, engine_out) },
            Err(error) => {
                let error = entitle_error::plain(entitle_status::BundleError, &error.to_string());
                // SAFETY: `error_out` is NULL or writable.
                unsafe { report(error_out, error) }
            }
        }
    })
}

/// Writes the SHA-256 of the engine's policy source (the policy every answer comes from, for
/// audit logs) to the 32 bytes at `hash_out`.
///
/// # Safety
/// `engine` is NULL or a live engine; `hash_out` is NULL or points to 32 writable bytes.
#[no_mangle]
pub unsafe extern "C" fn entitle_engine_policy_hash(
    engine: *const entitle_engine,
    hash_out: *mut u8,
) -> entitle_status {
    guard(|| {
        if engine.is_null() || hash_out.is_null() {
            return entitle_status::NullArgument;
        }
        // SAFETY: a live engine, per the contract.
        let hash = unsafe { &*engine }.engine.policy_hash();
        // SAFETY: `hash_out` points to 32 writable bytes, per the contract.
        unsafe { std::ptr::copy_nonoverlapping(hash.as_bytes().as_ptr(), hash_out, 32) };
        entitle_status::Ok
    })
}

/// Writes a new handle on the same engine as `engine` to `*engine_out`. The two share the
/// compiled tables (nothing is copied or compiled again) and answer alike; each is freed with
/// its own `entitle_engine_free`, in any order and from any thread, and the tables live until
/// the last is. For giving one engine to code that frees what it is given.
///
/// # Safety
/// `engine` is NULL or a live engine; `engine_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_engine_clone(
    engine: *const entitle_engine,
    engine_out: *mut *mut entitle_engine,
) -> entitle_status {
    guard(|| {
        // SAFETY: NULL or a live engine, per the contract.
        let Some(engine) = (unsafe { engine.as_ref() }) else { return entitle_status::NullArgument };
        if engine_out.is_null() {
            return entitle_status::NullArgument;
        }
        // `Engine` is an `Arc` inside: the clone shares it, and the display texts with it, so
        // that a text one handle pointed to lives while any handle does. SAFETY: checked
        // non-NULL, and writable per the contract.
        unsafe { hand_out_shared(engine.engine.clone(), Arc::clone(&engine.displays), engine_out) }
    })
}

/// Frees an engine. NULL does nothing. No query may be running on it, or start, afterwards.
///
/// # Safety
/// `engine` is NULL or a pointer from `entitle_engine_from_*` or `entitle_engine_clone` not
/// freed before.
#[no_mangle]
pub unsafe extern "C" fn entitle_engine_free(engine: *mut entitle_engine) {
    // SAFETY: NULL or a pointer from `Box::into_raw` in `hand_out`, freed once.
    unsafe { free_box(engine) }
}
