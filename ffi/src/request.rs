//! The request handle: who is asking and when, set field by field.

use entitle::AddonId;

use crate::entitle_status;
use crate::status::{guard, guard_or, read_str};

/// Who is asking and when, reusable across queries. Create with `entitle_request_new`, set
/// fields with the `entitle_request_set_*` functions, free with `entitle_request_free`.
///
/// A request holds both ids (for the id-based queries) and names (for the by-name ones); each
/// query reads the half it needs. Setters copy what they are given, so a request never points
/// into the caller's memory. Queries only read a request, so threads may share one that no
/// thread is changing.
pub struct entitle_request {
    pub(crate) tier: u32,
    pub(crate) tier_name: String,
    pub(crate) key: String,
    pub(crate) addons: Vec<AddonId>,
    pub(crate) addon_names: Vec<String>,
    pub(crate) billing_anchor: u8,
    pub(crate) now: i64,
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
    guard_or((), || {
        if !request.is_null() {
            // SAFETY: the pointer came from `Box::into_raw` in `entitle_request_new`, freed once.
            drop(unsafe { Box::from_raw(request) });
        }
    });
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

/// Gives a request a string read from (pointer, length) with `apply`; a string that cannot be
/// read leaves the request unchanged.
///
/// # Safety
/// `request` as for `change_request`; `text` per `read_str`.
unsafe fn set_text(
    request: *mut entitle_request,
    text: *const u8,
    len: usize,
    apply: fn(&mut entitle_request, String),
) -> entitle_status {
    // SAFETY: the contract, passed on, for `request` and `text`; `text` is read before the
    // request changes.
    unsafe {
        change_request(request, |r| match read_str(text, len) {
            Ok(text) => {
                apply(r, text.to_string());
                entitle_status::Ok
            }
            Err(status) => status,
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
    unsafe { set_text(request, name, name_len, |r, name| r.tier_name = name) }
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
    unsafe { set_text(request, key, key_len, |r, key| r.key = key) }
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
    // SAFETY: the contract, passed on.
    unsafe { set_text(request, name, name_len, |r, name| r.addon_names.push(name)) }
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
