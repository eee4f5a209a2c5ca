//! The error handle a failed load writes: its status, message and diagnostics.

use std::ffi::{c_char, CString};
use std::ptr;

use entitle::{LoadError, Source};

use crate::entitle_status;
use crate::status::{c_string, free_box, guard, guard_or};

/// Why a load failed: a status, a message, and for a policy or an override set that does not
/// check every diagnostic as JSON.
/// Free with `entitle_error_free`.
pub struct entitle_error {
    pub(crate) status: entitle_status,
    pub(crate) message: CString,
    pub(crate) diagnostics_json: Option<CString>,
}

impl entitle_error {
    /// An error with a status and a message, and no diagnostics.
    pub(crate) fn plain(status: entitle_status, message: &str) -> entitle_error {
        entitle_error { status, message: c_string(message), diagnostics_json: None }
    }
}

/// Writes `error` through `error_out` when the caller asked for it.
///
/// # Safety
/// `error_out` must be NULL or valid for a pointer write.
pub(crate) unsafe fn report(error_out: *mut *mut entitle_error, error: entitle_error) -> entitle_status {
    let status = error.status;
    if !error_out.is_null() {
        // SAFETY: the caller passes NULL or a writable pointer.
        unsafe { *error_out = Box::into_raw(Box::new(error)) };
    }
    status
}

pub(crate) fn load_error(error: &LoadError, source: Option<&Source>) -> entitle_error {
    let (status, diagnostics_json) = match (error, source) {
        (LoadError::Policy(diagnostics), Some(source)) => {
            (entitle_status::PolicyError, Some(c_string(&entitle::wire::diagnostics(source, diagnostics.iter()))))
        }
        (LoadError::Policy(_), None) => (entitle_status::PolicyError, None),
        (LoadError::Overrides(diagnostics), Some(source)) => {
            (entitle_status::OverridesError, Some(c_string(&entitle::wire::diagnostics(source, diagnostics.iter()))))
        }
        (LoadError::Overrides(_), None) => (entitle_status::OverridesError, None),
        (LoadError::NotUtf8 { .. }, _) => (entitle_status::InvalidUtf8, None),
        (LoadError::Bundle { .. } | LoadError::BundleTooLarge { .. }, _) => (entitle_status::BundleError, None),
        // `Read`, `TooLarge`, and any kind a later release adds: the file could not be used.
        (_, _) => (entitle_status::IoError, None),
    };
    entitle_error { status, message: c_string(&error.to_string()), diagnostics_json }
}

/// The status of a failed load.
///
/// # Safety
/// `error` is NULL or a live error; NULL gives `ENTITLE_STATUS_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn entitle_error_status(error: *const entitle_error) -> entitle_status {
    guard(|| {
        // SAFETY: NULL or a live error.
        unsafe { error.as_ref() }.map_or(entitle_status::NullArgument, |e| e.status)
    })
}

/// The error's message as a NUL-terminated UTF-8 string owned by the error (valid until
/// `entitle_error_free`). For a policy error, or an override set's, it names the first error's
/// `file:line:col`.
/// NULL for a NULL error.
///
/// # Safety
/// `error` is NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn entitle_error_message(error: *const entitle_error) -> *const c_char {
    guard_or(ptr::null(), || {
        // SAFETY: NULL or a live error.
        unsafe { error.as_ref() }.map_or(ptr::null(), |e| e.message.as_ptr())
    })
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

/// Every diagnostic of a policy error, or of an override set's (ABI 5), as a JSON array (the
/// one shape of the Rust crate's `wire::diagnostics`: code, severity, message, file, line,
/// column, …), NUL-terminated and owned by the error. NULL for other errors and for a NULL
/// error.
///
/// # Safety
/// `error` is NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn entitle_error_diagnostics_json(error: *const entitle_error) -> *const c_char {
    guard_or(ptr::null(), || {
        // SAFETY: NULL or a live error.
        unsafe { error.as_ref() }.and_then(|e| e.diagnostics_json.as_ref()).map_or(ptr::null(), |json| json.as_ptr())
    })
}

/// Frees an error. NULL does nothing.
///
/// # Safety
/// `error` is NULL or an error this library wrote, not freed before.
#[no_mangle]
pub unsafe extern "C" fn entitle_error_free(error: *mut entitle_error) {
    // SAFETY: NULL or a pointer from `Box::into_raw` in `report`, freed once.
    unsafe { free_box(error) }
}
