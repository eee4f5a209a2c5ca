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

/// Runs `body`, turning a panic into [`entitle_status::Panic`].
pub(crate) fn guard(body: impl FnOnce() -> entitle_status) -> entitle_status {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(entitle_status::Panic)
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

    #[test]
    fn a_panic_becomes_a_status() {
        assert_eq!(guard(|| panic!("a bug")), entitle_status::Panic);
    }
}
