//! The questions: by id, by name, as a JSON line, and explained.

use std::ffi::{c_char, CString};

use entitle::{AddonId, Engine, FeatureId, Held, LimitId, Limits, Reason, Request, SettingId, SettingValue, Usage};

use crate::status::{c_string, guard, guard_or, read_str};
use crate::types::{c_decision, c_quota, c_quota2, c_setting, c_setting_answer, c_window};
use crate::{
    entitle_decision, entitle_engine, entitle_overrides, entitle_quota, entitle_quota2, entitle_request,
    entitle_setting, entitle_setting_answer, entitle_status, entitle_window,
};

/// The status that goes with an answer's reason: unknown ids and names, too many add-ons, an
/// add-on held twice or past its maximum, and a missing input are statuses of their own as
/// well as reasons. `by_name` says whether the query read names, `tier_named` whether the
/// request's tier was one.
pub(crate) fn status_of(reason: Reason, by_name: bool, tier_named: bool) -> entitle_status {
    let unknown = |named| if named { entitle_status::UnknownName } else { entitle_status::UnknownId };
    match reason {
        Reason::UnknownTier => unknown(tier_named),
        Reason::UnknownFeature | Reason::UnknownLimit | Reason::UnknownAddon | Reason::UnknownSetting => {
            unknown(by_name)
        }
        Reason::TooManyAddons => entitle_status::InputLimit,
        Reason::DuplicateAddon => entitle_status::DuplicateAddon,
        Reason::QuantityAboveMax => entitle_status::QuantityAboveMax,
        Reason::SeatsNotGiven | Reason::AcquisitionNotGiven => entitle_status::MissingInput,
        Reason::OverridesNotForEngine => entitle_status::OverridesNotForEngine,
        Reason::GrantedByTier
        | Reason::GrantedByAddon
        | Reason::GrantedByRollout
        | Reason::NotGranted
        | Reason::Revoked
        | Reason::OutsideRollout
        | Reason::AddonNotValid
        | Reason::AddonNotForTier
        | Reason::WithinLimit
        | Reason::Overage
        | Reason::LimitExceeded
        | Reason::LimitNotSet
        | Reason::GrantedByOverride
        | Reason::RevokedByOverride => entitle_status::Ok,
        // `Reason` can grow (it is `#[non_exhaustive]`): a reason this table does not sort is
        // not reported as a plain answer, and a test fails until it is sorted.
        _ => entitle_status::InvalidArgument,
    }
}

/// Where a query writes its answer: a plain struct, written whole, or a size-prefixed one
/// (ABI 3 on), whose caller says how much room it has.
pub(crate) trait Answer: Sized {
    /// Whether the caller's memory at `out` takes this answer; the status why not.
    ///
    /// # Safety
    /// `out` is non-NULL, aligned and readable as `Self`.
    unsafe fn room(_out: *const Self) -> Result<(), entitle_status> {
        Ok(())
    }

    /// Writes `value` to `out`.
    ///
    /// # Safety
    /// `out` is non-NULL, aligned and writable as `Self`, and `room` accepted it.
    unsafe fn put(out: *mut Self, value: Self) {
        // SAFETY: the caller's contract.
        unsafe { out.write(value) }
    }
}

impl Answer for bool {}
impl Answer for entitle_decision {}
impl Answer for entitle_quota {}
impl Answer for entitle_setting {}
impl Answer for *mut c_char {}

/// The `size` a caller wrote in the first field of a size-prefixed struct at `out`.
///
/// # Safety
/// `out` is non-NULL, aligned and readable as `T`, whose first field is a `usize`.
pub(crate) unsafe fn caller_size<T>(out: *const T) -> usize {
    // SAFETY: the first field of a `#[repr(C)]` struct is at its address.
    unsafe { out.cast::<usize>().read() }
}

/// The `Answer` of a size-prefixed struct whose first declared form is `$first` bytes: a
/// caller's `size` below it is `INVALID_ARGUMENT`; otherwise every field this library knows that
/// fits in the caller's `size` is written (all of them for a caller built against this header
/// or a later one), and the caller's `size` stays.
macro_rules! size_prefixed {
    ($($answer:ty => $first:expr),*) => {$(
        impl Answer for $answer {
            unsafe fn room(out: *const Self) -> Result<(), entitle_status> {
                // SAFETY: the caller's contract.
                if unsafe { caller_size(out) } < $first {
                    return Err(entitle_status::InvalidArgument);
                }
                Ok(())
            }

            unsafe fn put(out: *mut Self, mut value: Self) {
                // SAFETY: the caller's contract: `out` is readable and holds `size` bytes,
                // at least the first declared form (`room` checked).
                unsafe {
                    let size = caller_size(out);
                    value.size = size;
                    // A caller built against an older header has room for the fields its
                    // header declared, which come first: only those bytes are written. The
                    // copy is untyped, so the value's padding may be copied uninitialised.
                    let len = size.min(std::mem::size_of::<Self>());
                    std::ptr::copy_nonoverlapping(std::ptr::addr_of!(value).cast::<u8>(), out.cast::<u8>(), len);
                }
            }
        }
    )*};
}

size_prefixed!(
    entitle_setting_answer => std::mem::size_of::<entitle_setting_answer>(),
    entitle_quota2 => crate::types::QUOTA2_ABI4_SIZE,
    crate::draws::entitle_draw => std::mem::size_of::<crate::draws::entitle_draw>()
);
impl Answer for entitle_window {}

/// The Rust request an id-based query asks with: the handle's tier as an id of `engine`, the
/// add-ons it holds by id, its seat count and its subject's override records.
pub(crate) fn id_request<'r>(engine: &Engine, request: &'r entitle_request) -> Request<'r> {
    request.overridden(seated(
        Request::new(request.tier.id(engine), request.now)
            .with_key(&request.key)
            .with_held(&request.addons)
            .with_billing_anchor(request.billing_anchor),
        request.seats,
    ))
}

/// `rust` with the handle's seat count, if it has one.
fn seated<T: Copy, A>(rust: Request<'_, T, A>, seats: Option<u64>) -> Request<'_, T, A> {
    match seats {
        Some(seats) => rust.with_seats(seats),
        None => rust,
    }
}

/// Runs an id-based query: checks the handles, builds the Rust request, and writes the answer.
///
/// # Safety
/// `engine` and `request` are NULL or live; `out` is NULL or writable.
pub(crate) unsafe fn by_id<T: Answer>(
    engine: *const entitle_engine,
    request: *const entitle_request,
    out: *mut T,
    answer: impl FnOnce(&Engine, &Request<'_>) -> (T, Reason),
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe { by_id_in(engine, request, out, |handle, _, rust| answer(&handle.engine, rust)) }
}

/// `by_id`, with the engine's handle given to `answer` (for what it keeps beside the engine).
///
/// # Safety
/// As `by_id`.
unsafe fn by_id_in<T: Answer>(
    engine: *const entitle_engine,
    request: *const entitle_request,
    out: *mut T,
    answer: impl FnOnce(&entitle_engine, &entitle_request, &Request<'_>) -> (T, Reason),
) -> entitle_status {
    guard(|| {
        // SAFETY: NULL or live handles, per the contract.
        let (Some(engine), Some(request)) = (unsafe { engine.as_ref() }, unsafe { request.as_ref() }) else {
            return entitle_status::NullArgument;
        };
        if out.is_null() {
            return entitle_status::NullArgument;
        }
        // SAFETY: checked non-NULL; readable per the contract.
        if let Err(status) = unsafe { T::room(out) } {
            return status;
        }
        let (value, reason) = answer(engine, request, &id_request(&engine.engine, request));
        // SAFETY: checked non-NULL and roomy; writable per the contract.
        unsafe { T::put(out, value) };
        status_of(reason, false, request.tier.named(false))
    })
}

/// Runs a by-name query: as `by_id`, with the request's names and `name` decoded.
///
/// # Safety
/// As `by_id`; `name` per `read_str`.
pub(crate) unsafe fn by_name<T: Answer>(
    engine: *const entitle_engine,
    request: *const entitle_request,
    name: *const u8,
    name_len: usize,
    out: *mut T,
    answer: impl FnOnce(&Engine, &Request<'_, &str, &str>, &str) -> (T, Reason),
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_name_in(engine, request, name, name_len, out, |handle, _, rust, name| answer(&handle.engine, rust, name))
    }
}

/// `by_name`, with the engine's handle and the request's handle given to `answer` too.
///
/// # Safety
/// As `by_name`.
unsafe fn by_name_in<T: Answer>(
    engine: *const entitle_engine,
    request: *const entitle_request,
    name: *const u8,
    name_len: usize,
    out: *mut T,
    answer: impl FnOnce(&entitle_engine, &entitle_request, &Request<'_, &str, &str>, &str) -> (T, Reason),
) -> entitle_status {
    guard(|| {
        // SAFETY: NULL or live handles, per the contract.
        let (Some(engine), Some(request)) = (unsafe { engine.as_ref() }, unsafe { request.as_ref() }) else {
            return entitle_status::NullArgument;
        };
        if out.is_null() {
            return entitle_status::NullArgument;
        }
        // SAFETY: checked non-NULL; readable per the contract.
        if let Err(status) = unsafe { T::room(out) } {
            return status;
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
        let held: [Held<&str>; Limits::MAX_HELD_ADDONS];
        let overflow: Vec<Held<&str>>;
        let names: &[Held<&str>] = if count == 0 {
            &[]
        } else if count <= Limits::MAX_HELD_ADDONS {
            let mut array = [Held::new(""); Limits::MAX_HELD_ADDONS];
            for (slot, addon) in array.iter_mut().zip(&request.addon_names) {
                *slot = addon.held();
            }
            held = array;
            held.get(..count).unwrap_or_default()
        } else {
            overflow = request.addon_names.iter().map(|addon| addon.held()).collect();
            &overflow
        };
        let rust = request.overridden(seated(
            Request::new(request.tier.name(&engine.engine), request.now)
                .with_key(&request.key)
                .with_held(names)
                .with_billing_anchor(request.billing_anchor),
            request.seats,
        ));
        let (value, reason) = answer(engine, request, &rust, name);
        // SAFETY: checked non-NULL and roomy; writable per the contract.
        unsafe { T::put(out, value) };
        status_of(reason, true, request.tier.named(true))
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

/// `entitle_check_limit` with the ABI-4 answer (ABI 4): writes `*quota_out`, an
/// `entitle_quota2` whose `size` the caller sets first, with the seat count the limit was
/// multiplied by and no window (`entitle_limit_window` gives it). The statuses are
/// `entitle_check_limit`'s, and a `size` smaller than the struct is
/// `ENTITLE_STATUS_INVALID_ARGUMENT`, writing nothing.
///
/// # Safety
/// `engine` and `request` are NULL or live handles; `quota_out` is NULL or points to a
/// writable `entitle_quota2` whose `size` is set, with at least `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn entitle_check_limit2(
    engine: *const entitle_engine,
    request: *const entitle_request,
    limit: u32,
    used: u64,
    requested: u64,
    quota_out: *mut entitle_quota2,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_id(engine, request, quota_out, |engine, request| {
            let quota = engine.check_limit(request, LimitId::from_u32(limit), Usage { used, requested });
            (c_quota2(quota), quota.reason)
        })
    }
}

/// The current window of `limit`'s counter for the subject at the request's instant and
/// billing anchor (ABI 4): writes `*window_out`, with `has_window` false for a gauge or a cap.
/// The window is that of `entitle_check_limit2`'s answer with nothing used, with its status: a
/// request that question refuses outright (an unknown id, an add-on held twice or past its
/// maximum) has no window, one refused for its limit (a missing seat count) keeps the limit's
/// window, and the status says why. For a rolling limit
/// (`entitle_quota2.rolling`, ABI 8) the window is `[now − length, now)`, the span whose usage
/// the caller gives: `end` is the request's instant, not a reset.
///
/// # Safety
/// `engine` and `request` are NULL or live handles; `window_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_limit_window(
    engine: *const entitle_engine,
    request: *const entitle_request,
    limit: u32,
    window_out: *mut entitle_window,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_id(engine, request, window_out, |engine, request| {
            let quota = engine.check_limit(request, LimitId::from_u32(limit), Usage::used(0));
            (c_window(quota.window()), quota.reason)
        })
    }
}

/// The value of `setting` for the subject: writes `*value_out` (kind NONE when nothing sets
/// it). An unknown id writes kind NONE and returns `ENTITLE_STATUS_UNKNOWN_ID`.
///
/// # Safety
/// `engine` and `request` are NULL or live handles; `value_out` is NULL or writable. Text in
/// the value stays valid while the engine lives, or for a value an override record gives,
/// while the request's override set does.
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

/// `entitle_check_limit2` with names (ABI 4), as `entitle_decide_by_name`.
///
/// # Safety
/// As `entitle_decide_by_name`, for `limit`; `quota_out` as for `entitle_check_limit2`.
#[no_mangle]
pub unsafe extern "C" fn entitle_check_limit_by_name2(
    engine: *const entitle_engine,
    request: *const entitle_request,
    limit: *const u8,
    limit_len: usize,
    used: u64,
    requested: u64,
    quota_out: *mut entitle_quota2,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_name(engine, request, limit, limit_len, quota_out, |engine, request, limit| {
            let quota = engine.check_limit_by_name(request, limit, Usage { used, requested });
            (c_quota2(quota), quota.reason)
        })
    }
}

/// `entitle_limit_window` with names (ABI 4), as `entitle_decide_by_name`.
///
/// # Safety
/// As `entitle_decide_by_name`, for `limit`; `window_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_limit_window_by_name(
    engine: *const entitle_engine,
    request: *const entitle_request,
    limit: *const u8,
    limit_len: usize,
    window_out: *mut entitle_window,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_name(engine, request, limit, limit_len, window_out, |engine, request, limit| {
            let quota = engine.check_limit_by_name(request, limit, Usage::used(0));
            (c_window(quota.window()), quota.reason)
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

/// Who sets a setting's `value`: the tier, or (when the request holds add-ons and the value
/// is not the tier's own) an add-on; nothing, for no value. `tier_alone` is the value the
/// tier gives without add-ons. Values live in the engine's tables, one per tier or add-on
/// that sets them, so the same address is the same setter.
pub(crate) fn setter<'e>(
    value: Option<&'e SettingValue>,
    holds_addons: bool,
    tier_alone: impl FnOnce() -> Option<&'e SettingValue>,
) -> Reason {
    match value {
        None => Reason::NotGranted,
        Some(value) if holds_addons && !tier_alone().is_some_and(|own| std::ptr::eq(own, value)) => {
            Reason::GrantedByAddon
        }
        Some(_) => Reason::GrantedByTier,
    }
}

/// The full answer about a setting: `answer` is the engine's, `plan` (given when the request
/// carries override records) the value without them, and `tier_alone` the value without
/// overrides or add-ons. A value that is not the plan's comes from an override record, and its
/// display text is kept by the request's set rather than by the engine, so that an engine's
/// texts never grow with the sets it is asked with.
pub(crate) fn setting_answer<'v>(
    handle: &entitle_engine,
    held: &entitle_request,
    holds_addons: bool,
    answer: Result<Option<&'v SettingValue>, Reason>,
    plan: Option<Option<&'v SettingValue>>,
    tier_alone: impl FnOnce() -> Option<&'v SettingValue>,
) -> (entitle_setting_answer, Reason) {
    let (value, reason, displays) = match answer {
        Err(reason) => (None, reason, &*handle.displays),
        Ok(value) => match (value, plan) {
            (Some(own), Some(plan)) if !plan.is_some_and(|planned| std::ptr::eq(planned, own)) => {
                (value, Reason::GrantedByOverride, held.override_displays().unwrap_or(&handle.displays))
            }
            _ => (value, setter(value, holds_addons, tier_alone), &*handle.displays),
        },
    };
    (c_setting_answer(value, reason, displays), reason)
}

/// The full answer about `setting` for an id-based request: its value, who sets it and its
/// display text.
pub(crate) fn setting_answer_by_id(
    handle: &entitle_engine,
    held: &entitle_request,
    request: &Request<'_>,
    setting: SettingId,
) -> (entitle_setting_answer, Reason) {
    let engine = &handle.engine;
    let plain = request.without_overrides();
    let plan = request.has_overrides().then(|| engine.setting_value(&plain, setting).ok().flatten());
    let tier_alone = || engine.setting_value(&plain.with_addons(&[]), setting).ok().flatten();
    setting_answer(handle, held, !held.addons.is_empty(), engine.setting_value(request, setting), plan, tier_alone)
}

/// The value of `setting` for the subject in full (ABI 3): writes `*answer_out`, whose `size`
/// the caller sets to `sizeof(entitle_setting_answer)` first. Unlike `entitle_setting_value`
/// it says why (who sets the value, or which id was unknown) and gives the display text.
/// An unknown id writes kind NONE with the reason and returns `ENTITLE_STATUS_UNKNOWN_ID`; a
/// `size` smaller than the struct is `ENTITLE_STATUS_INVALID_ARGUMENT`, writing nothing.
///
/// # Safety
/// `engine` and `request` are NULL or live handles; `answer_out` is NULL or points to a
/// writable `entitle_setting_answer` whose `size` is set. Text and display text in the answer
/// stay valid while the engine lives, or for a value an override record gives, while the
/// request's override set does.
#[no_mangle]
pub unsafe extern "C" fn entitle_answer_setting(
    engine: *const entitle_engine,
    request: *const entitle_request,
    setting: u32,
    answer_out: *mut entitle_setting_answer,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_id_in(engine, request, answer_out, |handle, held, request| {
            setting_answer_by_id(handle, held, request, SettingId::from_u32(setting))
        })
    }
}

/// `entitle_answer_setting` with names, as `entitle_decide_by_name`: an unknown tier, add-on
/// or setting name writes kind NONE with the reason that says which, and returns
/// `ENTITLE_STATUS_UNKNOWN_NAME`; more add-ons than the limit returns
/// `ENTITLE_STATUS_INPUT_LIMIT` with reason `too_many_addons`.
///
/// # Safety
/// As `entitle_answer_setting`; `setting` is NULL with length 0 or points to `setting_len`
/// readable bytes.
#[no_mangle]
pub unsafe extern "C" fn entitle_answer_setting_by_name(
    engine: *const entitle_engine,
    request: *const entitle_request,
    setting: *const u8,
    setting_len: usize,
    answer_out: *mut entitle_setting_answer,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_name_in(engine, request, setting, setting_len, answer_out, |handle, held, request, setting| {
            let engine = &handle.engine;
            let plain = request.without_overrides();
            let plan = request.has_overrides().then(|| engine.setting_value_by_name(&plain, setting).ok().flatten());
            let tier_alone = || engine.setting_value_by_name(&plain.with_addons(&[]), setting).ok().flatten();
            let answer = engine.setting_value_by_name(request, setting);
            setting_answer(handle, held, !held.addon_names.is_empty(), answer, plan, tier_alone)
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
/// written to `*json_out` and freed with `entitle_string_free`; explanations are asked for with
/// `"explain": true`. A query that is UTF-8 but not one the protocol reads (not a JSON object,
/// too long, a field missing or mistyped) is answered with `{"error": "..."}` and status OK.
/// Bytes that are not UTF-8 are `ENTITLE_STATUS_INVALID_UTF8`, as for every string argument,
/// and write no JSON.
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

/// `entitle_query_json` with an override set (ABI 5): each query's subject (its `"key"`) takes
/// its records from `overrides`, as a request holding the set would, and a limit answer an
/// override changed says `"overridden": true`. A set checked against another policy answers a
/// query whose key has records with reason `overrides_not_for_engine`, in the JSON and with status
/// OK, as every answer of the protocol is given. A NULL `overrides` is
/// `ENTITLE_STATUS_NULL_ARGUMENT` (`entitle_query_json` answers without a set).
///
/// # Safety
/// As `entitle_query_json`; `overrides` is NULL or a live set.
#[no_mangle]
pub unsafe extern "C" fn entitle_query_json_with_overrides(
    engine: *const entitle_engine,
    overrides: *const entitle_overrides,
    query: *const u8,
    query_len: usize,
    json_out: *mut *mut c_char,
) -> entitle_status {
    guard(|| {
        // SAFETY: NULL or live handles.
        let (Some(engine), Some(overrides)) = (unsafe { engine.as_ref() }, unsafe { overrides.as_ref() }) else {
            return entitle_status::NullArgument;
        };
        if json_out.is_null() {
            return entitle_status::NullArgument;
        }
        // SAFETY: the caller's contract for `query`.
        let answer = match unsafe { read_str(query, query_len) } {
            Ok(query) => entitle::wire::answer_line_with(&engine.engine, Some(&overrides.overrides), query),
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

/// An id no engine hands out, for a name the engine does not have: an id-based question asked
/// with it answers as the by-name one does for the unknown name.
const NO_ID: u32 = u32::MAX;

/// Asks `explain` of the request's by-name reading resolved to ids (the tier as the by-name
/// queries read it, each add-on name looked up), or `None` when the request holds more
/// add-ons than the engine takes, which has no id-based form.
fn explain_named<R>(engine: &Engine, request: &entitle_request, explain: impl FnOnce(&Request<'_>) -> R) -> Option<R> {
    let count = request.addon_names.len();
    if count > held_addons(engine) {
        return None;
    }
    let mut held = [Held::new(AddonId::from_u32(NO_ID)); Limits::MAX_HELD_ADDONS];
    for (slot, named) in held.iter_mut().zip(&request.addon_names) {
        let id = engine.addon(&named.name).unwrap_or(AddonId::from_u32(NO_ID));
        *slot = Held::new(id).with_quantity(named.quantity).acquired_at(named.acquired);
    }
    let rust = request.overridden(seated(
        Request::new(request.tier.id(engine), request.now)
            .with_key(&request.key)
            .with_held(held.get(..count).unwrap_or_default())
            .with_billing_anchor(request.billing_anchor),
        request.seats,
    ));
    Some(explain(&rust))
}

/// How many add-ons a by-name question may name: the engine's input limit, within the
/// stack array the names resolve into.
fn held_addons(engine: &Engine) -> usize {
    engine.input_limits().held_addons.min(Limits::MAX_HELD_ADDONS)
}

/// An answer with the one step that says why it has no rules to show: the query held more
/// add-ons than the engine takes.
fn too_many_addons(answer: serde_json::Map<String, serde_json::Value>, engine: &Engine) -> String {
    let rule = format!(
        "the query holds more add-ons than the limit of {} ({})",
        held_addons(engine),
        Reason::TooManyAddons.as_str()
    );
    serde_json::json!({ "answer": answer, "explain": { "steps": [{ "rule": rule }], "upgrade": null } }).to_string()
}

/// `entitle_explain_feature` with names (ABI 3), as `entitle_decide_by_name`: the request's
/// tier and add-on names, and `feature` (UTF-8 bytes with their length). The answer is the one
/// `entitle_decide_by_name` gives; an unknown name returns `ENTITLE_STATUS_UNKNOWN_NAME` with
/// an explanation saying so, and more add-ons than the limit `ENTITLE_STATUS_INPUT_LIMIT`.
///
/// # Safety
/// `engine` and `request` are NULL or live handles; `feature` is NULL with length 0 or points
/// to `feature_len` readable bytes; `json_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn entitle_explain_feature_by_name(
    engine: *const entitle_engine,
    request: *const entitle_request,
    feature: *const u8,
    feature_len: usize,
    json_out: *mut *mut c_char,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_name_in(engine, request, feature, feature_len, json_out, |handle, held, named, feature| {
            let engine = &handle.engine;
            let answer = engine.decide_by_name(named, feature);
            let id = engine.feature(feature).unwrap_or(FeatureId::from_u32(NO_ID));
            let json = match explain_named(engine, held, |ids| engine.explain_feature(ids, id)) {
                Some(why) => entitle::wire::explained(&entitle::wire::decision(&answer), &why),
                None => too_many_addons(entitle::wire::decision(&answer), engine),
            };
            (c_string(&json).into_raw(), answer.reason)
        })
    }
}

/// `entitle_explain_limit` with names (ABI 3), as `entitle_explain_feature_by_name`.
///
/// # Safety
/// As `entitle_explain_feature_by_name`, for `limit`.
#[no_mangle]
pub unsafe extern "C" fn entitle_explain_limit_by_name(
    engine: *const entitle_engine,
    request: *const entitle_request,
    limit: *const u8,
    limit_len: usize,
    used: u64,
    requested: u64,
    json_out: *mut *mut c_char,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_name_in(engine, request, limit, limit_len, json_out, |handle, held, named, limit| {
            let engine = &handle.engine;
            let usage = Usage { used, requested };
            let answer = engine.check_limit_by_name(named, limit, usage);
            let id = engine.limit(limit).unwrap_or(LimitId::from_u32(NO_ID));
            let json = match explain_named(engine, held, |ids| engine.explain_limit(ids, id, usage)) {
                Some(why) => entitle::wire::explained(&entitle::wire::quota(&answer), &why),
                None => too_many_addons(entitle::wire::quota(&answer), engine),
            };
            (c_string(&json).into_raw(), answer.reason)
        })
    }
}

/// Frees a string this library returned. NULL does nothing.
///
/// # Safety
/// `string` is NULL or a pointer this library returned as a string to free, not freed before.
#[no_mangle]
pub unsafe extern "C" fn entitle_string_free(string: *mut c_char) {
    guard_or((), || {
        if !string.is_null() {
            // SAFETY: the pointer came from `CString::into_raw` in `give_string`, freed once.
            drop(unsafe { CString::from_raw(string) });
        }
    });
}

#[cfg(test)]
mod tests {
    use std::ptr;

    use super::*;
    use crate::{
        entitle_engine_feature, entitle_engine_free, entitle_engine_from_source, entitle_engine_tier, entitle_reason,
        entitle_request_free, entitle_request_new, entitle_request_set_tier, entitle_request_set_tier_name,
    };

    const POLICY: &str = "policy \"p\"\nfeature hd\ntier free { }\ntier pro { grant hd }\n";

    /// Asks for `hd` by id and by name: the two statuses and reasons.
    fn ask(engine: *const entitle_engine, request: *const entitle_request) -> [(entitle_status, u32); 2] {
        let mut by_id = entitle_decision { allowed: false, reason: 0 };
        let mut by_name = by_id;
        let mut hd = u32::MAX;
        // SAFETY: live handles, a valid name and writable answers.
        let (id_status, name_status) = unsafe {
            assert_eq!(entitle_engine_feature(engine, b"hd".as_ptr(), 2, &mut hd), entitle_status::Ok);
            (
                entitle_decide(engine, request, hd, &mut by_id),
                entitle_decide_by_name(engine, request, b"hd".as_ptr(), 2, &mut by_name),
            )
        };
        [(id_status, by_id.reason), (name_status, by_name.reason)]
    }

    /// Every reason the crate has is sorted into a status on purpose, none by the fallback.
    #[test]
    fn every_reason_has_its_status() {
        for &reason in Reason::ALL {
            assert_ne!(status_of(reason, false, false), entitle_status::InvalidArgument, "{reason:?}");
        }
    }

    /// A request holds one tier: the last setter wins, whichever kind of query asks.
    #[test]
    fn the_last_tier_set_is_the_one_every_query_uses() {
        let mut engine = ptr::null_mut();
        let mut request = ptr::null_mut();
        let mut pro = u32::MAX;
        // SAFETY: valid strings, writable out-parameters; both handles are freed below.
        unsafe {
            let status = entitle_engine_from_source(
                b"p".as_ptr(),
                1,
                POLICY.as_ptr(),
                POLICY.len(),
                &mut engine,
                ptr::null_mut(),
            );
            assert_eq!(status, entitle_status::Ok);
            assert_eq!(entitle_engine_tier(engine, b"pro".as_ptr(), 3, &mut pro), entitle_status::Ok);
            assert_eq!(entitle_request_new(&mut request), entitle_status::Ok);
        }
        let granted = (entitle_status::Ok, entitle_reason::GrantedByTier as u32);
        let not_granted = (entitle_status::Ok, entitle_reason::NotGranted as u32);
        let unknown_tier = entitle_reason::UnknownTier as u32;
        // SAFETY: live handles; the names are valid.
        unsafe {
            assert_eq!(
                ask(engine, request),
                [(entitle_status::UnknownId, unknown_tier), (entitle_status::UnknownName, unknown_tier)]
            );
            assert_eq!(entitle_request_set_tier(request, pro), entitle_status::Ok);
            assert_eq!(entitle_request_set_tier_name(request, b"free".as_ptr(), 4), entitle_status::Ok);
            assert_eq!(ask(engine, request), [not_granted; 2]);
            assert_eq!(entitle_request_set_tier(request, pro), entitle_status::Ok);
            assert_eq!(ask(engine, request), [granted; 2]);
            // An unknown tier is an unknown name or an unknown id, as it was set.
            assert_eq!(entitle_request_set_tier_name(request, b"gold".as_ptr(), 4), entitle_status::Ok);
            assert_eq!(ask(engine, request), [(entitle_status::UnknownName, unknown_tier); 2]);
            assert_eq!(entitle_request_set_tier(request, 7), entitle_status::Ok);
            assert_eq!(ask(engine, request), [(entitle_status::UnknownId, unknown_tier); 2]);
            entitle_request_free(request);
            entitle_engine_free(engine);
        }
    }
}
