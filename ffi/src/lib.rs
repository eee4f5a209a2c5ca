//! The C ABI of `entitle`: the one contract every language other than Rust binds to.
//!
//! `include/entitle.h` is generated from this file by cbindgen; `docs/ffi.md` shows how to
//! build and link it. Every exported function:
//!
//! - returns an [`entitle_status`] (or a plain value that cannot fail), and writes its
//!   out-parameters only when the status says an answer was given;
//! - checks every pointer for NULL, every string for UTF-8, and every length against
//!   `isize::MAX`, before touching memory;
//! - runs inside [`std::panic::catch_unwind`]: a panic becomes [`entitle_status::Panic`] and
//!   never unwinds into C;
//! - takes handles made by this library. An engine handle may be queried from any number of
//!   threads at once; a request or error handle belongs to one thread at a time unless only
//!   read.
//!
//! This crate is the only one in the project that holds `unsafe`. Each `unsafe` block says
//! which part of the caller's contract makes it sound.

#![allow(unsafe_code, reason = "the C ABI reads caller memory through raw pointers; every use says why it is sound")]
#![allow(non_camel_case_types, reason = "C type names are lowercase with the `entitle_` prefix")]
#![cfg_attr(test, allow(clippy::panic, reason = "a test panics on purpose to see the guard catch it"))]

use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use entitle::{
    AddonId, Amount, Decision, Engine, FeatureId, LimitId, Limits, LoadError, Quota, Reason, Request, SettingId,
    SettingValue, Source, Status, TierId, Usage,
};

/// What a call did. The numbers are fixed and never reused.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum entitle_status {
    /// Success: the out-parameters hold the answer.
    Ok = 0,
    /// A required pointer was NULL, or a string pointer was NULL with a non-zero length.
    NullArgument = 1,
    /// A string was not UTF-8.
    InvalidUtf8 = 2,
    /// An argument was out of its range: a length past `PTRDIFF_MAX`, a billing anchor outside
    /// 1–31.
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
    /// The caller's buffer is too small; the needed size is reported.
    BufferTooSmall = 8,
    /// The library panicked (a bug); nothing was written. Please report it.
    Panic = 9,
    /// A by-name query held more add-ons than the limit allows. The answer is still written:
    /// a deny with reason `too_many_addons`.
    InputLimit = 10,
    /// A compiled bundle could not be loaded: it is corrupt, truncated, inconsistent, or of a
    /// newer format than this library reads. The error's message says which.
    BundleError = 11,
}

/// Why a question was answered as it was; the same numbers as the Rust crate's `Reason`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum entitle_reason {
    /// The tier (or an ancestor) grants the feature.
    GrantedByTier = 0,
    /// A held, applying add-on grants the feature.
    GrantedByAddon = 1,
    /// The subject is inside the tier's rollout of the feature.
    GrantedByRollout = 2,
    /// Nothing grants the feature.
    NotGranted = 3,
    /// The tier revokes a feature an ancestor granted.
    Revoked = 4,
    /// The subject is outside the tier's rollout of the feature.
    OutsideRollout = 5,
    /// A held add-on would grant the feature but is not valid now.
    AddonNotValid = 6,
    /// A held add-on would grant the feature but does not attach to the tier.
    AddonNotForTier = 7,
    /// Usage with the request is within the limit.
    WithinLimit = 8,
    /// Usage with the request is past the limit, within the soft cap.
    Overage = 9,
    /// Usage with the request is past the soft cap, or past a hard limit.
    LimitExceeded = 10,
    /// The tier is not in the policy.
    UnknownTier = 11,
    /// The feature is not in the policy.
    UnknownFeature = 12,
    /// The limit is not in the policy.
    UnknownLimit = 13,
    /// An add-on is not in the policy.
    UnknownAddon = 14,
    /// The setting is not in the policy.
    UnknownSetting = 15,
    /// More add-ons were named than the limit allows.
    TooManyAddons = 16,
    /// Neither the tier nor an applying add-on sets the limit: a deny of 0.
    LimitNotSet = 17,
}

impl From<Reason> for entitle_reason {
    fn from(reason: Reason) -> entitle_reason {
        match reason {
            Reason::GrantedByTier => entitle_reason::GrantedByTier,
            Reason::GrantedByAddon => entitle_reason::GrantedByAddon,
            Reason::GrantedByRollout => entitle_reason::GrantedByRollout,
            Reason::NotGranted => entitle_reason::NotGranted,
            Reason::Revoked => entitle_reason::Revoked,
            Reason::OutsideRollout => entitle_reason::OutsideRollout,
            Reason::AddonNotValid => entitle_reason::AddonNotValid,
            Reason::AddonNotForTier => entitle_reason::AddonNotForTier,
            Reason::WithinLimit => entitle_reason::WithinLimit,
            Reason::Overage => entitle_reason::Overage,
            Reason::LimitExceeded => entitle_reason::LimitExceeded,
            Reason::UnknownTier => entitle_reason::UnknownTier,
            Reason::UnknownFeature => entitle_reason::UnknownFeature,
            Reason::UnknownLimit => entitle_reason::UnknownLimit,
            Reason::UnknownAddon => entitle_reason::UnknownAddon,
            Reason::UnknownSetting => entitle_reason::UnknownSetting,
            Reason::TooManyAddons => entitle_reason::TooManyAddons,
            // A reason added to the crate but not yet here reads as a plain denial; the test
            // `reasons_match_the_crate` fails first.
            Reason::LimitNotSet | _ => entitle_reason::LimitNotSet,
        }
    }
}

/// Where usage stands against a limit; the same numbers as the Rust crate's `Status`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum entitle_limit_status {
    /// Within the limit, below any warn threshold.
    Within = 0,
    /// Within the limit, at or past the warn threshold.
    Warning = 1,
    /// Past the limit, within the soft cap: allowed as overage.
    Overage = 2,
    /// Past the soft cap or a hard limit: denied.
    Exceeded = 3,
}

/// What kind of value a setting holds.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum entitle_setting_kind {
    /// Neither the tier nor an applying add-on sets it.
    None = 0,
    /// A whole number, in `number`.
    Number = 1,
    /// A percentage, in millionths of the whole, in `number` (`99.9%` is 999000).
    Percent = 2,
    /// A duration, in seconds, in `number`.
    Duration = 3,
    /// A size, in bytes, in `number`.
    Bytes = 4,
    /// Text, in `text` and `text_len`.
    Text = 5,
}

/// An amount of a limit: a number in base units, or no bound.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct entitle_amount {
    /// The amount, when `unlimited` is false.
    pub value: u64,
    /// Whether there is no bound.
    pub unlimited: bool,
}

/// The answer to "may this subject use this feature?".
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct entitle_decision {
    /// Whether the feature may be used.
    pub allowed: bool,
    /// Why: an `entitle_reason`.
    pub reason: entitle_reason,
}

/// The answer to "how much of this limit is left, and may this request proceed?".
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct entitle_quota {
    /// Whether the requested amount may be used.
    pub allowed: bool,
    /// Why: an `entitle_reason`.
    pub reason: entitle_reason,
    /// Where usage stands after the request.
    pub status: entitle_limit_status,
    /// The limit in force, after add-ons.
    pub limit: entitle_amount,
    /// Whether the limit has a soft cap (overage allowed up to `soft_cap`).
    pub has_soft_cap: bool,
    /// The soft cap, when `has_soft_cap`.
    pub soft_cap: entitle_amount,
    /// What is left of the limit before the request.
    pub remaining: entitle_amount,
    /// Whether the limit is a counter with a window.
    pub has_window: bool,
    /// The window's first instant, in Unix seconds, when `has_window`.
    pub window_start: i64,
    /// The first instant after the window (when the counter resets), when `has_window`.
    pub window_end: i64,
}

/// A setting's value for a subject.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct entitle_setting {
    /// What kind of value it is; `ENTITLE_SETTING_KIND_NONE` when nothing sets it.
    pub kind: entitle_setting_kind,
    /// The value, for every kind but text, in base units.
    pub number: u64,
    /// For text: UTF-8 bytes, not NUL-terminated, owned by the engine and valid while it
    /// lives. NULL for other kinds.
    pub text: *const u8,
    /// For text: the length of `text` in bytes.
    pub text_len: usize,
}

/// A compiled policy. Create with `entitle_engine_from_source` or `entitle_engine_from_path`,
/// free with `entitle_engine_free`. Immutable: any number of threads may query one engine at
/// once, and freeing it while none does is safe.
pub struct entitle_engine {
    engine: Engine,
}

/// Who is asking and when, reusable across queries. Create with `entitle_request_new`, set
/// fields with the `entitle_request_set_*` functions, free with `entitle_request_free`.
///
/// A request holds both ids (for the id-based queries) and names (for the by-name ones); each
/// query reads the half it needs. Setters copy what they are given, so a request never points
/// into the caller's memory. Queries only read a request, so threads may share one that no
/// thread is changing.
pub struct entitle_request {
    tier: u32,
    tier_name: String,
    key: String,
    addons: Vec<AddonId>,
    addon_names: Vec<String>,
    billing_anchor: u8,
    now: i64,
}

/// Why a load failed: a status, a message, and for policy errors every diagnostic as JSON.
/// Free with `entitle_error_free`.
pub struct entitle_error {
    status: entitle_status,
    message: CString,
    diagnostics_json: Option<CString>,
}

impl entitle_error {
    /// An error with a status and a message, and no diagnostics.
    fn plain(status: entitle_status, message: &str) -> entitle_error {
        entitle_error { status, message: c_string(message), diagnostics_json: None }
    }
}

/// Runs `body`, turning a panic into [`entitle_status::Panic`].
fn guard(body: impl FnOnce() -> entitle_status) -> entitle_status {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(entitle_status::Panic)
}

/// Reads `len` bytes at `data` as a string.
///
/// # Safety
/// `data` must be NULL with `len` 0, or point to `len` readable bytes that stay unchanged for
/// the returned lifetime.
unsafe fn read_str<'a>(data: *const u8, len: usize) -> Result<&'a str, entitle_status> {
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
unsafe fn read_bytes<'a>(data: *const u8, len: usize) -> Result<&'a [u8], entitle_status> {
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
fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "\u{fffd}")).unwrap_or_default()
}

/// Writes `error` through `error_out` when the caller asked for it.
///
/// # Safety
/// `error_out` must be NULL or valid for a pointer write.
unsafe fn report(error_out: *mut *mut entitle_error, error: entitle_error) -> entitle_status {
    let status = error.status;
    if !error_out.is_null() {
        // SAFETY: the caller passes NULL or a writable pointer.
        unsafe { *error_out = Box::into_raw(Box::new(error)) };
    }
    status
}

fn load_error(error: &LoadError, source: Option<&Source>) -> entitle_error {
    let (status, diagnostics_json) = match (error, source) {
        (LoadError::Policy(diagnostics), Some(source)) => {
            (entitle_status::PolicyError, Some(c_string(&entitle::wire::diagnostics(source, diagnostics.iter()))))
        }
        (LoadError::Policy(_), None) => (entitle_status::PolicyError, None),
        (LoadError::NotUtf8 { .. }, _) => (entitle_status::InvalidUtf8, None),
        (LoadError::Bundle { .. }, _) => (entitle_status::BundleError, None),
        // `Read`, `TooLarge`, and any kind a later release adds: the file could not be used.
        (_, _) => (entitle_status::IoError, None),
    };
    entitle_error { status, message: c_string(&error.to_string()), diagnostics_json }
}

/// Gives `engine` to the C caller through `engine_out`, to be freed with `entitle_engine_free`.
///
/// # Safety
/// `engine_out` is non-NULL and valid for a pointer write.
unsafe fn hand_out(engine: Engine, engine_out: *mut *mut entitle_engine) -> entitle_status {
    // SAFETY: the caller's contract.
    unsafe { *engine_out = Box::into_raw(Box::new(entitle_engine { engine })) };
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
/// `bytes`. A bundle loads without parsing; one that is corrupt, truncated, inconsistent or of
/// a newer format is `ENTITLE_STATUS_BUNDLE_ERROR`, with a message saying which.
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

/// Frees an engine. NULL does nothing. No query may be running on it, or start, afterwards.
///
/// # Safety
/// `engine` is NULL or a pointer from `entitle_engine_from_*` not freed before.
#[no_mangle]
pub unsafe extern "C" fn entitle_engine_free(engine: *mut entitle_engine) {
    if !engine.is_null() {
        // SAFETY: the pointer came from `Box::into_raw` in a loader and is freed once.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(engine) })));
    }
}

/// Looks a name up in one of the engine's name indices.
///
/// # Safety
/// `engine` NULL or valid; `name` per `read_str`; `id_out` NULL or writable.
unsafe fn lookup(
    engine: *const entitle_engine,
    name: *const u8,
    name_len: usize,
    id_out: *mut u32,
    find: fn(&Engine, &str) -> Option<u32>,
) -> entitle_status {
    guard(|| {
        // SAFETY: NULL or a live engine, per the contract.
        let Some(engine) = (unsafe { engine.as_ref() }) else { return entitle_status::NullArgument };
        if id_out.is_null() {
            return entitle_status::NullArgument;
        }
        // SAFETY: the caller's contract for `name`.
        let name = match unsafe { read_str(name, name_len) } {
            Ok(name) => name,
            Err(status) => return status,
        };
        match find(&engine.engine, name) {
            Some(id) => {
                // SAFETY: checked non-NULL; writable per the contract.
                unsafe { *id_out = id };
                entitle_status::Ok
            }
            None => entitle_status::UnknownName,
        }
    })
}

// The five lookups below (and the five id-to-name functions after them) are written out
// rather than made by a macro: cbindgen reads the source without expanding macros, so a
// generated function would be exported but missing from the header.

/// The id of the tier named `name` (UTF-8 bytes with their length).
///
/// Writes the id to `*id_out` and returns `ENTITLE_STATUS_OK`, or returns
/// `ENTITLE_STATUS_UNKNOWN_NAME` (writing nothing) when the policy declares no such tier.
///
/// # Safety
/// `engine` is NULL or a live engine; `name` is NULL with length 0 or points to `name_len`
/// readable bytes; `id_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_engine_tier(
    engine: *const entitle_engine,
    name: *const u8,
    name_len: usize,
    id_out: *mut u32,
) -> entitle_status {
    // SAFETY: the same contract, passed on.
    unsafe { lookup(engine, name, name_len, id_out, |e, n| e.tier(n).map(u32::from)) }
}

/// The id of the feature named `name` (UTF-8 bytes with their length).
///
/// Writes the id to `*id_out` and returns `ENTITLE_STATUS_OK`, or returns
/// `ENTITLE_STATUS_UNKNOWN_NAME` (writing nothing) when the policy declares no such feature.
///
/// # Safety
/// `engine` is NULL or a live engine; `name` is NULL with length 0 or points to `name_len`
/// readable bytes; `id_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_engine_feature(
    engine: *const entitle_engine,
    name: *const u8,
    name_len: usize,
    id_out: *mut u32,
) -> entitle_status {
    // SAFETY: the same contract, passed on.
    unsafe { lookup(engine, name, name_len, id_out, |e, n| e.feature(n).map(u32::from)) }
}

/// The id of the limit named `name` (UTF-8 bytes with their length).
///
/// Writes the id to `*id_out` and returns `ENTITLE_STATUS_OK`, or returns
/// `ENTITLE_STATUS_UNKNOWN_NAME` (writing nothing) when the policy declares no such limit.
///
/// # Safety
/// `engine` is NULL or a live engine; `name` is NULL with length 0 or points to `name_len`
/// readable bytes; `id_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_engine_limit(
    engine: *const entitle_engine,
    name: *const u8,
    name_len: usize,
    id_out: *mut u32,
) -> entitle_status {
    // SAFETY: the same contract, passed on.
    unsafe { lookup(engine, name, name_len, id_out, |e, n| e.limit(n).map(u32::from)) }
}

/// The id of the add-on named `name` (UTF-8 bytes with their length).
///
/// Writes the id to `*id_out` and returns `ENTITLE_STATUS_OK`, or returns
/// `ENTITLE_STATUS_UNKNOWN_NAME` (writing nothing) when the policy declares no such add-on.
///
/// # Safety
/// `engine` is NULL or a live engine; `name` is NULL with length 0 or points to `name_len`
/// readable bytes; `id_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_engine_addon(
    engine: *const entitle_engine,
    name: *const u8,
    name_len: usize,
    id_out: *mut u32,
) -> entitle_status {
    // SAFETY: the same contract, passed on.
    unsafe { lookup(engine, name, name_len, id_out, |e, n| e.addon(n).map(u32::from)) }
}

/// The id of the setting named `name` (UTF-8 bytes with their length).
///
/// Writes the id to `*id_out` and returns `ENTITLE_STATUS_OK`, or returns
/// `ENTITLE_STATUS_UNKNOWN_NAME` (writing nothing) when the policy declares no such setting.
///
/// # Safety
/// `engine` is NULL or a live engine; `name` is NULL with length 0 or points to `name_len`
/// readable bytes; `id_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_engine_setting(
    engine: *const entitle_engine,
    name: *const u8,
    name_len: usize,
    id_out: *mut u32,
) -> entitle_status {
    // SAFETY: the same contract, passed on.
    unsafe { lookup(engine, name, name_len, id_out, |e, n| e.setting(n).map(u32::from)) }
}

/// Finds the name of an id in one of the engine's tables.
///
/// # Safety
/// `engine` NULL or valid; `name_out` and `len_out` NULL or writable.
unsafe fn name_of(
    engine: *const entitle_engine,
    id: u32,
    name_out: *mut *const u8,
    len_out: *mut usize,
    find: fn(&Engine, u32) -> Option<&str>,
) -> entitle_status {
    guard(|| {
        // SAFETY: NULL or a live engine, per the contract.
        let Some(engine) = (unsafe { engine.as_ref() }) else { return entitle_status::NullArgument };
        if name_out.is_null() || len_out.is_null() {
            return entitle_status::NullArgument;
        }
        match find(&engine.engine, id) {
            Some(name) => {
                // SAFETY: both checked non-NULL and writable per the contract; the name lives in
                // the engine, which the caller keeps alive while using it.
                unsafe {
                    *name_out = name.as_ptr();
                    *len_out = name.len();
                }
                entitle_status::Ok
            }
            None => entitle_status::UnknownId,
        }
    })
}

/// The name of the tier with id `id`: writes its UTF-8 bytes (not NUL-terminated, owned by
/// the engine and valid while it lives) to `*name_out` and their length to `*len_out`, or
/// returns `ENTITLE_STATUS_UNKNOWN_ID` (writing nothing) for an id this engine does not have.
///
/// # Safety
/// `engine` is NULL or a live engine; `name_out` and `len_out` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_engine_tier_name(
    engine: *const entitle_engine,
    id: u32,
    name_out: *mut *const u8,
    len_out: *mut usize,
) -> entitle_status {
    // SAFETY: the same contract, passed on.
    unsafe { name_of(engine, id, name_out, len_out, |e, id| e.tier_name(TierId::from_u32(id))) }
}

/// The name of the feature with id `id`: writes its UTF-8 bytes (not NUL-terminated, owned by
/// the engine and valid while it lives) to `*name_out` and their length to `*len_out`, or
/// returns `ENTITLE_STATUS_UNKNOWN_ID` (writing nothing) for an id this engine does not have.
///
/// # Safety
/// `engine` is NULL or a live engine; `name_out` and `len_out` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_engine_feature_name(
    engine: *const entitle_engine,
    id: u32,
    name_out: *mut *const u8,
    len_out: *mut usize,
) -> entitle_status {
    // SAFETY: the same contract, passed on.
    unsafe { name_of(engine, id, name_out, len_out, |e, id| e.feature_name(FeatureId::from_u32(id))) }
}

/// The name of the limit with id `id`: writes its UTF-8 bytes (not NUL-terminated, owned by
/// the engine and valid while it lives) to `*name_out` and their length to `*len_out`, or
/// returns `ENTITLE_STATUS_UNKNOWN_ID` (writing nothing) for an id this engine does not have.
///
/// # Safety
/// `engine` is NULL or a live engine; `name_out` and `len_out` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_engine_limit_name(
    engine: *const entitle_engine,
    id: u32,
    name_out: *mut *const u8,
    len_out: *mut usize,
) -> entitle_status {
    // SAFETY: the same contract, passed on.
    unsafe { name_of(engine, id, name_out, len_out, |e, id| e.limit_name(LimitId::from_u32(id))) }
}

/// The name of the add-on with id `id`: writes its UTF-8 bytes (not NUL-terminated, owned by
/// the engine and valid while it lives) to `*name_out` and their length to `*len_out`, or
/// returns `ENTITLE_STATUS_UNKNOWN_ID` (writing nothing) for an id this engine does not have.
///
/// # Safety
/// `engine` is NULL or a live engine; `name_out` and `len_out` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_engine_addon_name(
    engine: *const entitle_engine,
    id: u32,
    name_out: *mut *const u8,
    len_out: *mut usize,
) -> entitle_status {
    // SAFETY: the same contract, passed on.
    unsafe { name_of(engine, id, name_out, len_out, |e, id| e.addon_name(AddonId::from_u32(id))) }
}

/// The name of the setting with id `id`: writes its UTF-8 bytes (not NUL-terminated, owned by
/// the engine and valid while it lives) to `*name_out` and their length to `*len_out`, or
/// returns `ENTITLE_STATUS_UNKNOWN_ID` (writing nothing) for an id this engine does not have.
///
/// # Safety
/// `engine` is NULL or a live engine; `name_out` and `len_out` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_engine_setting_name(
    engine: *const entitle_engine,
    id: u32,
    name_out: *mut *const u8,
    len_out: *mut usize,
) -> entitle_status {
    // SAFETY: the same contract, passed on.
    unsafe { name_of(engine, id, name_out, len_out, |e, id| e.setting_name(SettingId::from_u32(id))) }
}

/// A new request: no tier, empty key, no add-ons, billing anchor day 1, `now` 0. Writes it to
/// `*request_out`; free it with `entitle_request_free`.
///
/// # Safety
/// `request_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_new(request_out: *mut *mut entitle_request) -> entitle_status {
    guard(|| {
        if request_out.is_null() {
            return entitle_status::NullArgument;
        }
        let request = Box::new(entitle_request {
            tier: u32::MAX,
            tier_name: String::new(),
            key: String::new(),
            addons: Vec::new(),
            addon_names: Vec::new(),
            billing_anchor: 1,
            now: 0,
        });
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { *request_out = Box::into_raw(request) };
        entitle_status::Ok
    })
}

/// Frees a request. NULL does nothing.
///
/// # Safety
/// `request` is NULL or a pointer from `entitle_request_new` not freed before, and no query
/// is reading it.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_free(request: *mut entitle_request) {
    if !request.is_null() {
        // SAFETY: the pointer came from `Box::into_raw` in `entitle_request_new`, freed once.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(request) })));
    }
}

/// Applies `change` to a request after checking it for NULL.
///
/// # Safety
/// `request` is NULL or a live request that no other thread is using.
unsafe fn change_request(
    request: *mut entitle_request,
    change: impl FnOnce(&mut entitle_request) -> entitle_status,
) -> entitle_status {
    guard(|| {
        // SAFETY: NULL or a live request used by this thread alone, per the contract.
        match unsafe { request.as_mut() } {
            Some(request) => change(request),
            None => entitle_status::NullArgument,
        }
    })
}

/// Sets the tier, by id, for the id-based queries.
///
/// # Safety
/// `request` is NULL or a live request that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_set_tier(request: *mut entitle_request, tier: u32) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        change_request(request, |r| {
            r.tier = tier;
            entitle_status::Ok
        })
    }
}

/// Sets a string field of a request from (pointer, length).
///
/// # Safety
/// `request` as for `change_request`; `text` per `read_str`.
unsafe fn set_text(
    request: *mut entitle_request,
    text: *const u8,
    len: usize,
    field: fn(&mut entitle_request) -> &mut String,
) -> entitle_status {
    // SAFETY: the caller's contract for `text`, checked before the request changes.
    let text = match unsafe { read_str(text, len) } {
        Ok(text) => text.to_string(),
        Err(status) => return status,
    };
    // SAFETY: the contract, passed on.
    unsafe {
        change_request(request, |r| {
            *field(r) = text;
            entitle_status::Ok
        })
    }
}

/// Sets the tier, by name, for the by-name queries.
///
/// # Safety
/// `request` is NULL or a live request that no other thread is using; `name` is NULL with
/// length 0 or points to `name_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_set_tier_name(
    request: *mut entitle_request,
    name: *const u8,
    name_len: usize,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe { set_text(request, name, name_len, |r| &mut r.tier_name) }
}

/// Sets the stable subject key that rollouts hash (a customer or app id).
///
/// # Safety
/// As `entitle_request_set_tier_name`, for `key`.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_set_key(
    request: *mut entitle_request,
    key: *const u8,
    key_len: usize,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe { set_text(request, key, key_len, |r| &mut r.key) }
}

/// Sets the instant of the query, in Unix seconds (UTC). The engine never reads the clock.
///
/// # Safety
/// `request` is NULL or a live request that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_set_now(request: *mut entitle_request, now: i64) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        change_request(request, |r| {
            r.now = now;
            entitle_status::Ok
        })
    }
}

/// Sets the day of the month (1–31) monthly counters reset on. Other values are
/// `ENTITLE_STATUS_INVALID_ARGUMENT` and leave the request unchanged.
///
/// # Safety
/// `request` is NULL or a live request that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_set_billing_anchor(request: *mut entitle_request, day: u8) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        change_request(request, |r| {
            if !(1..=31).contains(&day) {
                return entitle_status::InvalidArgument;
            }
            r.billing_anchor = day;
            entitle_status::Ok
        })
    }
}

/// Adds a held add-on, by id, for the id-based queries.
///
/// # Safety
/// `request` is NULL or a live request that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_add_addon(request: *mut entitle_request, addon: u32) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        change_request(request, |r| {
            r.addons.push(AddonId::from_u32(addon));
            entitle_status::Ok
        })
    }
}

/// Adds a held add-on, by name, for the by-name queries.
///
/// # Safety
/// As `entitle_request_set_tier_name`, for `name`.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_add_addon_name(
    request: *mut entitle_request,
    name: *const u8,
    name_len: usize,
) -> entitle_status {
    // SAFETY: the caller's contract for `name`, checked before the request changes.
    let name = match unsafe { read_str(name, name_len) } {
        Ok(name) => name.to_string(),
        Err(status) => return status,
    };
    // SAFETY: the contract, passed on.
    unsafe {
        change_request(request, |r| {
            r.addon_names.push(name);
            entitle_status::Ok
        })
    }
}

/// Removes every held add-on, by id and by name.
///
/// # Safety
/// `request` is NULL or a live request that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_clear_addons(request: *mut entitle_request) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        change_request(request, |r| {
            r.addons.clear();
            r.addon_names.clear();
            entitle_status::Ok
        })
    }
}

/// The status that goes with an answer's reason: unknown ids and names, and too many add-ons,
/// are statuses of their own as well as reasons.
fn status_of(reason: Reason, by_name: bool) -> entitle_status {
    match reason {
        Reason::UnknownTier
        | Reason::UnknownFeature
        | Reason::UnknownLimit
        | Reason::UnknownAddon
        | Reason::UnknownSetting => {
            if by_name {
                entitle_status::UnknownName
            } else {
                entitle_status::UnknownId
            }
        }
        Reason::TooManyAddons => entitle_status::InputLimit,
        _ => entitle_status::Ok,
    }
}

fn c_decision(decision: Decision) -> entitle_decision {
    entitle_decision { allowed: decision.allowed, reason: decision.reason.into() }
}

fn c_amount(amount: Amount) -> entitle_amount {
    match amount {
        Amount::Finite(value) => entitle_amount { value, unlimited: false },
        Amount::Unlimited => entitle_amount { value: u64::MAX, unlimited: true },
    }
}

fn c_quota(quota: Quota) -> entitle_quota {
    let none = entitle_amount { value: 0, unlimited: false };
    entitle_quota {
        allowed: quota.allowed,
        reason: quota.reason.into(),
        status: match quota.status {
            Status::Within => entitle_limit_status::Within,
            Status::Warning => entitle_limit_status::Warning,
            Status::Overage => entitle_limit_status::Overage,
            Status::Exceeded => entitle_limit_status::Exceeded,
        },
        limit: c_amount(quota.limit),
        has_soft_cap: quota.soft_cap.is_some(),
        soft_cap: quota.soft_cap.map_or(none, c_amount),
        remaining: c_amount(quota.remaining),
        has_window: quota.window.is_some(),
        window_start: quota.window.map_or(0, |w| w.start),
        window_end: quota.window.map_or(0, |w| w.end),
    }
}

fn c_setting(value: Option<&SettingValue>) -> entitle_setting {
    let number = |kind, number| entitle_setting { kind, number, text: ptr::null(), text_len: 0 };
    match value {
        None => number(entitle_setting_kind::None, 0),
        Some(SettingValue::Number(n)) => number(entitle_setting_kind::Number, *n),
        Some(SettingValue::Percent(p)) => number(entitle_setting_kind::Percent, u64::from(p.millionths())),
        Some(SettingValue::Duration(s)) => number(entitle_setting_kind::Duration, *s),
        Some(SettingValue::Bytes(b)) => number(entitle_setting_kind::Bytes, *b),
        Some(SettingValue::Text(text)) => {
            entitle_setting { kind: entitle_setting_kind::Text, number: 0, text: text.as_ptr(), text_len: text.len() }
        }
    }
}

/// Runs an id-based query: checks the handles, builds the Rust request, and writes the answer.
///
/// # Safety
/// `engine` and `request` are NULL or live; `out` is NULL or writable.
unsafe fn by_id<T>(
    engine: *const entitle_engine,
    request: *const entitle_request,
    out: *mut T,
    answer: impl FnOnce(&Engine, &Request<'_>) -> (T, Reason),
) -> entitle_status {
    guard(|| {
        // SAFETY: NULL or live handles, per the contract.
        let (Some(engine), Some(request)) = (unsafe { engine.as_ref() }, unsafe { request.as_ref() }) else {
            return entitle_status::NullArgument;
        };
        if out.is_null() {
            return entitle_status::NullArgument;
        }
        let rust = Request::new(TierId::from_u32(request.tier), request.now)
            .with_key(&request.key)
            .with_addons(&request.addons)
            .with_billing_anchor(request.billing_anchor);
        let (value, reason) = answer(&engine.engine, &rust);
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(value) };
        status_of(reason, false)
    })
}

/// Runs a by-name query: as `by_id`, with the request's names and `name` decoded.
///
/// # Safety
/// As `by_id`; `name` per `read_str`.
unsafe fn by_name<T>(
    engine: *const entitle_engine,
    request: *const entitle_request,
    name: *const u8,
    name_len: usize,
    out: *mut T,
    answer: impl FnOnce(&Engine, &Request<'_, &str, &str>, &str) -> (T, Reason),
) -> entitle_status {
    guard(|| {
        // SAFETY: NULL or live handles, per the contract.
        let (Some(engine), Some(request)) = (unsafe { engine.as_ref() }, unsafe { request.as_ref() }) else {
            return entitle_status::NullArgument;
        };
        if out.is_null() {
            return entitle_status::NullArgument;
        }
        // SAFETY: the caller's contract for `name`.
        let name = match unsafe { read_str(name, name_len) } {
            Ok(name) => name,
            Err(status) => return status,
        };
        // The add-on names go into a fixed array on the stack, so a query allocates nothing.
        // Past its size the engine denies with `too_many_addons`; only that rare answer
        // gathers the names on the heap, so that the engine gives it by its own rule.
        // Most requests hold no add-on and skip this.
        let count = request.addon_names.len();
        let held: [&str; Limits::MAX_HELD_ADDONS];
        let overflow: Vec<&str>;
        let names: &[&str] = if count == 0 {
            &[]
        } else if count <= Limits::MAX_HELD_ADDONS {
            let mut array = [""; Limits::MAX_HELD_ADDONS];
            for (slot, addon) in array.iter_mut().zip(&request.addon_names) {
                *slot = addon.as_str();
            }
            held = array;
            held.get(..count).unwrap_or_default()
        } else {
            overflow = request.addon_names.iter().map(String::as_str).collect();
            &overflow
        };
        let rust = Request::new(request.tier_name.as_str(), request.now)
            .with_key(&request.key)
            .with_addons(names)
            .with_billing_anchor(request.billing_anchor);
        let (value, reason) = answer(&engine.engine, &rust, name);
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { out.write(value) };
        status_of(reason, true)
    })
}

/// Whether the subject may use `feature`: writes `true` or `false` to `*allowed_out`.
/// `ENTITLE_STATUS_UNKNOWN_ID` (with `false` written) when an id is not this engine's;
/// `entitle_decide` says why.
///
/// # Safety
/// `engine` and `request` are NULL or live handles; `allowed_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_is_allowed(
    engine: *const entitle_engine,
    request: *const entitle_request,
    feature: u32,
    allowed_out: *mut bool,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_id(engine, request, allowed_out, |engine, request| {
            let feature = FeatureId::from_u32(feature);
            if engine.is_allowed(request, feature) {
                (true, Reason::GrantedByTier)
            } else {
                // Only a denial can be for an unknown id; the reason says which.
                let decision = engine.decide(request, feature);
                (decision.allowed, decision.reason)
            }
        })
    }
}

/// Whether the subject may use `feature`, and why: writes `*decision_out`.
///
/// # Safety
/// `engine` and `request` are NULL or live handles; `decision_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_decide(
    engine: *const entitle_engine,
    request: *const entitle_request,
    feature: u32,
    decision_out: *mut entitle_decision,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_id(engine, request, decision_out, |engine, request| {
            let decision = engine.decide(request, FeatureId::from_u32(feature));
            (c_decision(decision), decision.reason)
        })
    }
}

/// How much of `limit` is left, given `used` so far, and whether `requested` more may be
/// used: writes `*quota_out`.
///
/// # Safety
/// `engine` and `request` are NULL or live handles; `quota_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_check_limit(
    engine: *const entitle_engine,
    request: *const entitle_request,
    limit: u32,
    used: u64,
    requested: u64,
    quota_out: *mut entitle_quota,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_id(engine, request, quota_out, |engine, request| {
            let quota = engine.check_limit(request, LimitId::from_u32(limit), Usage { used, requested });
            (c_quota(quota), quota.reason)
        })
    }
}

/// The value of `setting` for the subject: writes `*value_out` (kind NONE when nothing sets
/// it). An unknown id writes kind NONE and returns `ENTITLE_STATUS_UNKNOWN_ID`.
///
/// # Safety
/// `engine` and `request` are NULL or live handles; `value_out` is NULL or writable. Text in
/// the value stays valid while the engine lives.
#[no_mangle]
pub unsafe extern "C" fn entitle_setting_value(
    engine: *const entitle_engine,
    request: *const entitle_request,
    setting: u32,
    value_out: *mut entitle_setting,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_id(engine, request, value_out, |engine, request| {
            match engine.setting_value(request, SettingId::from_u32(setting)) {
                Ok(value) => (c_setting(value), Reason::GrantedByTier),
                Err(reason) => (c_setting(None), reason),
            }
        })
    }
}

/// `entitle_decide` with names: the request's tier and add-on names, and `feature` (UTF-8
/// bytes with their length). An unknown name writes a deny whose reason says which kind and
/// returns `ENTITLE_STATUS_UNKNOWN_NAME`.
///
/// # Safety
/// `engine` and `request` are NULL or live handles; `feature` is NULL with length 0 or points
/// to `feature_len` readable bytes; `decision_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_decide_by_name(
    engine: *const entitle_engine,
    request: *const entitle_request,
    feature: *const u8,
    feature_len: usize,
    decision_out: *mut entitle_decision,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_name(engine, request, feature, feature_len, decision_out, |engine, request, feature| {
            let decision = engine.decide_by_name(request, feature);
            (c_decision(decision), decision.reason)
        })
    }
}

/// `entitle_check_limit` with names, as `entitle_decide_by_name`.
///
/// # Safety
/// As `entitle_decide_by_name`, for `limit` and `quota_out`.
#[no_mangle]
pub unsafe extern "C" fn entitle_check_limit_by_name(
    engine: *const entitle_engine,
    request: *const entitle_request,
    limit: *const u8,
    limit_len: usize,
    used: u64,
    requested: u64,
    quota_out: *mut entitle_quota,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_name(engine, request, limit, limit_len, quota_out, |engine, request, limit| {
            let quota = engine.check_limit_by_name(request, limit, Usage { used, requested });
            (c_quota(quota), quota.reason)
        })
    }
}

/// `entitle_setting_value` with names, as `entitle_decide_by_name`.
///
/// # Safety
/// As `entitle_decide_by_name`, for `setting` and `value_out`.
#[no_mangle]
pub unsafe extern "C" fn entitle_setting_value_by_name(
    engine: *const entitle_engine,
    request: *const entitle_request,
    setting: *const u8,
    setting_len: usize,
    value_out: *mut entitle_setting,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_name(engine, request, setting, setting_len, value_out, |engine, request, setting| {
            match engine.setting_value_by_name(request, setting) {
                Ok(value) => (c_setting(value), Reason::GrantedByTier),
                Err(reason) => (c_setting(None), reason),
            }
        })
    }
}

/// Writes a new NUL-terminated string to `*out`.
///
/// # Safety
/// `out` is non-NULL and writable.
unsafe fn give_string(text: &str, out: *mut *mut c_char) {
    // SAFETY: the caller checked `out`.
    unsafe { *out = c_string(text).into_raw() };
}

/// The answer to a JSON query line, in the JSON shape of `entitle eval` (the same for every
/// language): one query object in, one answer object out, as a new NUL-terminated string
/// written to `*json_out` and freed with `entitle_string_free`. A malformed query is answered
/// with `{"error": "..."}` and status OK; explanations are asked for with `"explain": true`.
///
/// # Safety
/// `engine` is NULL or live; `query` is NULL with length 0 or points to `query_len` readable
/// bytes; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_query_json(
    engine: *const entitle_engine,
    query: *const u8,
    query_len: usize,
    json_out: *mut *mut c_char,
) -> entitle_status {
    guard(|| {
        // SAFETY: NULL or a live engine.
        let Some(engine) = (unsafe { engine.as_ref() }) else { return entitle_status::NullArgument };
        if json_out.is_null() {
            return entitle_status::NullArgument;
        }
        // SAFETY: the caller's contract for `query`.
        let answer = match unsafe { read_str(query, query_len) } {
            Ok(query) => entitle::wire::answer_line(&engine.engine, query),
            Err(status) => return status,
        };
        // SAFETY: checked non-NULL.
        unsafe { give_string(&answer, json_out) };
        entitle_status::Ok
    })
}

/// Explains `entitle_decide`: the rules behind the decision, with their source spans, and an
/// upgrade hint, as a JSON object (`{"answer": {...}, "explain": {"steps": [...], "upgrade":
/// ...}}`, the shape of the Rust crate's `wire`) written to `*json_out` as a new NUL-terminated
/// string freed with `entitle_string_free`. Slow path: it allocates.
///
/// # Safety
/// `engine` and `request` are NULL or live handles; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_explain_feature(
    engine: *const entitle_engine,
    request: *const entitle_request,
    feature: u32,
    json_out: *mut *mut c_char,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_id(engine, request, json_out, |engine, request| {
            let why = engine.explain_feature(request, FeatureId::from_u32(feature));
            let json = entitle::wire::explained(&entitle::wire::decision(&why.answer), &why);
            (c_string(&json).into_raw(), why.answer.reason)
        })
    }
}

/// Explains `entitle_check_limit`, as `entitle_explain_feature` explains a decision.
///
/// # Safety
/// `engine` and `request` are NULL or live handles; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_explain_limit(
    engine: *const entitle_engine,
    request: *const entitle_request,
    limit: u32,
    used: u64,
    requested: u64,
    json_out: *mut *mut c_char,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_id(engine, request, json_out, |engine, request| {
            let why = engine.explain_limit(request, LimitId::from_u32(limit), Usage { used, requested });
            let json = entitle::wire::explained(&entitle::wire::quota(&why.answer), &why);
            (c_string(&json).into_raw(), why.answer.reason)
        })
    }
}

/// The stable `snake_case` name of a reason, such as `"granted_by_tier"`, as a static
/// NUL-terminated string; NULL for a number that is no reason.
#[no_mangle]
pub extern "C" fn entitle_reason_name(reason: u32) -> *const c_char {
    static NAMES: [&str; 18] = [
        "granted_by_tier\0",
        "granted_by_addon\0",
        "granted_by_rollout\0",
        "not_granted\0",
        "revoked\0",
        "outside_rollout\0",
        "addon_not_valid\0",
        "addon_not_for_tier\0",
        "within_limit\0",
        "overage\0",
        "limit_exceeded\0",
        "unknown_tier\0",
        "unknown_feature\0",
        "unknown_limit\0",
        "unknown_addon\0",
        "unknown_setting\0",
        "too_many_addons\0",
        "limit_not_set\0",
    ];
    usize::try_from(reason).ok().and_then(|i| NAMES.get(i)).map_or(ptr::null(), |name| name.as_ptr().cast())
}

/// The stable name of a limit status (`"within"`, `"warning"`, `"overage"`, `"exceeded"`), as a
/// static NUL-terminated string; NULL for a number that is no status.
#[no_mangle]
pub extern "C" fn entitle_limit_status_name(status: u32) -> *const c_char {
    static NAMES: [&str; 4] = ["within\0", "warning\0", "overage\0", "exceeded\0"];
    usize::try_from(status).ok().and_then(|i| NAMES.get(i)).map_or(ptr::null(), |name| name.as_ptr().cast())
}

/// Frees a string this library returned. NULL does nothing.
///
/// # Safety
/// `string` is NULL or a pointer this library returned as a string to free, not freed before.
#[no_mangle]
pub unsafe extern "C" fn entitle_string_free(string: *mut c_char) {
    if !string.is_null() {
        // SAFETY: the pointer came from `CString::into_raw` in `give_string`, freed once.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { CString::from_raw(string) })));
    }
}

/// The status of a failed load.
///
/// # Safety
/// `error` is NULL or a live error; NULL gives `ENTITLE_STATUS_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn entitle_error_status(error: *const entitle_error) -> entitle_status {
    // SAFETY: NULL or a live error.
    unsafe { error.as_ref() }.map_or(entitle_status::NullArgument, |e| e.status)
}

/// The error's message as a NUL-terminated UTF-8 string owned by the error (valid until
/// `entitle_error_free`). For a policy error it names the first error's `file:line:col`.
/// NULL for a NULL error.
///
/// # Safety
/// `error` is NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn entitle_error_message(error: *const entitle_error) -> *const c_char {
    // SAFETY: NULL or a live error.
    unsafe { error.as_ref() }.map_or(ptr::null(), |e| e.message.as_ptr())
}

/// Copies the error's message, NUL-terminated, into `buffer` of `capacity` bytes. Writes the
/// size needed (message and NUL) to `*needed_out` when it is not NULL. Returns
/// `ENTITLE_STATUS_BUFFER_TOO_SMALL`, writing nothing to `buffer`, when `capacity` is less.
///
/// # Safety
/// `error` is NULL or a live error; `buffer` is NULL with capacity 0 or points to `capacity`
/// writable bytes; `needed_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_error_copy_message(
    error: *const entitle_error,
    buffer: *mut c_char,
    capacity: usize,
    needed_out: *mut usize,
) -> entitle_status {
    guard(|| {
        // SAFETY: NULL or a live error.
        let Some(error) = (unsafe { error.as_ref() }) else { return entitle_status::NullArgument };
        let bytes = error.message.as_bytes_with_nul();
        if !needed_out.is_null() {
            // SAFETY: checked non-NULL; writable per the contract.
            unsafe { *needed_out = bytes.len() };
        }
        if capacity < bytes.len() {
            return entitle_status::BufferTooSmall;
        }
        if buffer.is_null() {
            return entitle_status::NullArgument;
        }
        // SAFETY: `buffer` has `capacity >= bytes.len()` writable bytes, and cannot overlap the
        // error's own allocation, which the caller never sees as writable.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr().cast::<c_char>(), buffer, bytes.len()) };
        entitle_status::Ok
    })
}

/// Every diagnostic of a policy error as a JSON array (the one shape of the Rust crate's
/// `wire::diagnostics`: code, severity, message, file, line, column, …), NUL-terminated and
/// owned by the error. NULL for other errors and for a NULL error.
///
/// # Safety
/// `error` is NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn entitle_error_diagnostics_json(error: *const entitle_error) -> *const c_char {
    // SAFETY: NULL or a live error.
    unsafe { error.as_ref() }.and_then(|e| e.diagnostics_json.as_ref()).map_or(ptr::null(), |json| json.as_ptr())
}

/// Frees an error. NULL does nothing.
///
/// # Safety
/// `error` is NULL or an error this library wrote, not freed before.
#[no_mangle]
pub unsafe extern "C" fn entitle_error_free(error: *mut entitle_error) {
    if !error.is_null() {
        // SAFETY: the pointer came from `Box::into_raw` in `report`, freed once.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(error) })));
    }
}

/// The library's version, as a static NUL-terminated string such as `"0.1.0"`; equal to the
/// header's `ENTITLE_VERSION` when the two match.
#[no_mangle]
pub extern "C" fn entitle_version() -> *const c_char {
    static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// The ABI version the library implements; equal to the header's `ENTITLE_ABI_VERSION` when
/// the two match.
#[no_mangle]
pub extern "C" fn entitle_abi_version() -> u32 {
    ABI_VERSION
}

/// Raised only when a change breaks callers built against an older header.
pub const ABI_VERSION: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    /// The C enums carry the Rust crate's numbers, so every language reads the same reason.
    #[test]
    fn reasons_and_statuses_match_the_crate() {
        for reason in Reason::ALL {
            assert_eq!(entitle_reason::from(*reason) as u32, *reason as u32, "{reason:?}");
        }
        for status in Status::ALL {
            let quota = Quota {
                allowed: true,
                reason: Reason::WithinLimit,
                status: *status,
                limit: Amount::Unlimited,
                soft_cap: None,
                remaining: Amount::Unlimited,
                window: None,
            };
            assert_eq!(c_quota(quota).status as u32, *status as u32, "{status:?}");
        }
    }

    #[test]
    fn names_match_the_crate() {
        let name = |pointer: *const c_char| {
            // SAFETY: non-NULL results are static NUL-terminated strings.
            (!pointer.is_null()).then(|| unsafe { std::ffi::CStr::from_ptr(pointer) }.to_str().ok()).flatten()
        };
        for reason in Reason::ALL {
            assert_eq!(name(entitle_reason_name(*reason as u32)), Some(reason.as_str()));
        }
        for status in Status::ALL {
            assert_eq!(name(entitle_limit_status_name(*status as u32)), Some(status.as_str()));
        }
        let past = u32::try_from(Reason::ALL.len()).unwrap_or(u32::MAX);
        assert_eq!(name(entitle_reason_name(past)), None);
        assert_eq!(name(entitle_limit_status_name(4)), None);
    }

    #[test]
    fn a_panic_becomes_a_status() {
        assert_eq!(guard(|| panic!("a bug")), entitle_status::Panic);
    }

    #[test]
    fn versions_are_the_crates() {
        // SAFETY: `entitle_version` returns a static NUL-terminated string.
        let version = unsafe { std::ffi::CStr::from_ptr(entitle_version()) };
        assert_eq!(version.to_str(), Ok(env!("CARGO_PKG_VERSION")));
        assert_eq!(entitle_abi_version(), ABI_VERSION);
    }
}
