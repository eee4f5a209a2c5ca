//! Names: ids from names, names from ids, and the stable names of reasons and limit statuses.

use std::ffi::{c_char, CString};
use std::ptr;
use std::sync::OnceLock;

use entitle::{AddonId, Engine, FeatureId, LimitId, Reason, SettingId, Status, TierId};

use crate::status::{c_string, guard, guard_or, read_str};
use crate::{entitle_engine, entitle_status};

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

/// The stable `snake_case` name of a reason, such as `"granted_by_tier"`, as a static
/// NUL-terminated string; NULL for a number that is no reason.
#[no_mangle]
pub extern "C" fn entitle_reason_name(reason: u32) -> *const c_char {
    guard_or(ptr::null(), || {
        // The names are the crate's own (`Reason::as_str`), made NUL-terminated once.
        static NAMES: OnceLock<Vec<(u32, CString)>> = OnceLock::new();
        let names = NAMES.get_or_init(|| Reason::ALL.iter().map(|r| (*r as u32, c_string(r.as_str()))).collect());
        name_by_number(names, reason)
    })
}

/// The stable name of a limit status (`"within"`, `"warning"`, `"overage"`, `"exceeded"`), as a
/// static NUL-terminated string; NULL for a number that is no status.
#[no_mangle]
pub extern "C" fn entitle_limit_status_name(status: u32) -> *const c_char {
    guard_or(ptr::null(), || {
        // The names are the crate's own (`Status::as_str`), made NUL-terminated once.
        static NAMES: OnceLock<Vec<(u32, CString)>> = OnceLock::new();
        let names = NAMES.get_or_init(|| Status::ALL.iter().map(|s| (*s as u32, c_string(s.as_str()))).collect());
        name_by_number(names, status)
    })
}

/// The name numbered `number` in `names`, or NULL.
fn name_by_number(names: &'static [(u32, CString)], number: u32) -> *const c_char {
    names.iter().find(|(n, _)| *n == number).map_or(ptr::null(), |(_, name)| name.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
