//! Arbitrary byte strings, lengths (within the buffers given) and ids through the C entry
//! points, as a C caller would pass them: statuses, never a crash.
#![no_main]
#![expect(unsafe_code, reason = "the target calls the C ABI through raw pointers, as a C caller does")]

use std::ptr;

use arbitrary::Arbitrary;
use entitle_ffi::*;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Call {
    SetTier(u32),
    SetTierName(Vec<u8>),
    SetKey(Vec<u8>),
    SetNow(i64),
    SetAnchor(u8),
    AddAddon(u32),
    AddAddonName(Vec<u8>),
    ClearAddons,
    AddHeld(u32, u64, bool, i64),
    AddHeldName(Vec<u8>, u64, bool, i64),
    SetSeats(u64),
    ClearSeats,
    Decide(u32),
    DecideByName(Vec<u8>),
    CheckLimit(u32, u64, u64),
    CheckLimitByName(Vec<u8>, u64, u64),
    CheckLimit2(u32, u64, u64),
    CheckLimitByName2(Vec<u8>, u64, u64),
    Window(u32),
    WindowByName(Vec<u8>),
    Setting(u32),
    SettingByName(Vec<u8>),
    Lookup(u8, Vec<u8>),
    Name(u8, u32),
    Query(Vec<u8>),
    Explain(u32),
}

#[derive(Arbitrary, Debug)]
struct Input {
    policy: Option<Vec<u8>>,
    calls: Vec<Call>,
}

const POLICY: &str = include_str!("../../policies/rtc-sdk.policy");

fuzz_target!(|input: Input| unsafe {
    let text = input.policy.as_deref().unwrap_or(POLICY.as_bytes());
    let mut engine: *mut entitle_engine = ptr::null_mut();
    let mut error: *mut entitle_error = ptr::null_mut();
    let status = entitle_engine_from_source(b"fuzz".as_ptr(), 4, text.as_ptr(), text.len(), &mut engine, &mut error);
    assert_eq!(status == entitle_status::Ok, !engine.is_null());
    assert_eq!(status == entitle_status::Ok, error.is_null());
    if !error.is_null() {
        assert!(!entitle_error_message(error).is_null());
        entitle_error_free(error);
    }
    let mut request: *mut entitle_request = ptr::null_mut();
    assert_eq!(entitle_request_new(&mut request), entitle_status::Ok);
    let mut decision = entitle_decision { allowed: false, reason: entitle_reason::NotGranted as u32 };
    let mut quota: entitle_quota = std::mem::zeroed();
    let mut setting: entitle_setting = std::mem::zeroed();
    let mut quota2: entitle_quota2 = std::mem::zeroed();
    let mut window: entitle_window = std::mem::zeroed();
    for call in input.calls.iter().take(64) {
        let status = match call {
            Call::SetTier(id) => entitle_request_set_tier(request, *id),
            Call::SetTierName(b) => entitle_request_set_tier_name(request, b.as_ptr(), b.len()),
            Call::SetKey(b) => entitle_request_set_key(request, b.as_ptr(), b.len()),
            Call::SetNow(now) => entitle_request_set_now(request, *now),
            Call::SetAnchor(day) => entitle_request_set_billing_anchor(request, *day),
            Call::AddAddon(id) => entitle_request_add_addon(request, *id),
            Call::AddAddonName(b) => entitle_request_add_addon_name(request, b.as_ptr(), b.len()),
            Call::ClearAddons => entitle_request_clear_addons(request),
            Call::AddHeld(id, quantity, has, at) => entitle_request_add_held(request, *id, *quantity, *has, *at),
            Call::AddHeldName(b, quantity, has, at) => {
                entitle_request_add_held_name(request, b.as_ptr(), b.len(), *quantity, *has, *at)
            }
            Call::SetSeats(seats) => entitle_request_set_seats(request, *seats),
            Call::ClearSeats => entitle_request_clear_seats(request),
            Call::Decide(id) => entitle_decide(engine, request, *id, &mut decision),
            Call::DecideByName(b) => entitle_decide_by_name(engine, request, b.as_ptr(), b.len(), &mut decision),
            Call::CheckLimit(id, used, requested) => {
                entitle_check_limit(engine, request, *id, *used, *requested, &mut quota)
            }
            Call::CheckLimitByName(b, used, requested) => {
                entitle_check_limit_by_name(engine, request, b.as_ptr(), b.len(), *used, *requested, &mut quota)
            }
            Call::CheckLimit2(id, used, requested) => {
                // A caller sets `size` before each call, as the header asks.
                quota2.size = std::mem::size_of::<entitle_quota2>();
                entitle_check_limit2(engine, request, *id, *used, *requested, &mut quota2)
            }
            Call::CheckLimitByName2(b, used, requested) => {
                quota2.size = std::mem::size_of::<entitle_quota2>();
                entitle_check_limit_by_name2(engine, request, b.as_ptr(), b.len(), *used, *requested, &mut quota2)
            }
            Call::Window(id) => entitle_limit_window(engine, request, *id, &mut window),
            Call::WindowByName(b) => entitle_limit_window_by_name(engine, request, b.as_ptr(), b.len(), &mut window),
            Call::Setting(id) => entitle_setting_value(engine, request, *id, &mut setting),
            Call::SettingByName(b) => entitle_setting_value_by_name(engine, request, b.as_ptr(), b.len(), &mut setting),
            Call::Lookup(kind, b) => {
                let mut id = 0;
                let lookup = [
                    entitle_engine_tier,
                    entitle_engine_feature,
                    entitle_engine_limit,
                    entitle_engine_addon,
                    entitle_engine_setting,
                ];
                #[expect(clippy::indexing_slicing, reason = "the index is taken modulo the array's length")]
                let lookup = lookup[usize::from(*kind) % lookup.len()];
                lookup(engine, b.as_ptr(), b.len(), &mut id)
            }
            Call::Name(kind, id) => {
                let (mut name, mut len) = (ptr::null(), 0);
                let names = [
                    entitle_engine_tier_name,
                    entitle_engine_feature_name,
                    entitle_engine_limit_name,
                    entitle_engine_addon_name,
                    entitle_engine_setting_name,
                ];
                #[expect(clippy::indexing_slicing, reason = "the index is taken modulo the array's length")]
                let name_of = names[usize::from(*kind) % names.len()];
                name_of(engine, *id, &mut name, &mut len)
            }
            Call::Query(b) => {
                let mut json = ptr::null_mut();
                let status = entitle_query_json(engine, b.as_ptr(), b.len(), &mut json);
                entitle_string_free(json);
                status
            }
            Call::Explain(id) => {
                let mut json = ptr::null_mut();
                let status = entitle_explain_feature(engine, request, *id, &mut json);
                entitle_string_free(json);
                status
            }
        };
        assert_ne!(status, entitle_status::Panic, "{call:?}");
        if engine.is_null()
            && !matches!(
                call,
                Call::SetTier(_)
                    | Call::SetTierName(_)
                    | Call::SetKey(_)
                    | Call::SetNow(_)
                    | Call::SetAnchor(_)
                    | Call::AddAddon(_)
                    | Call::AddAddonName(_)
                    | Call::ClearAddons
                    | Call::AddHeld(..)
                    | Call::AddHeldName(..)
                    | Call::SetSeats(_)
                    | Call::ClearSeats
            )
        {
            assert_eq!(status, entitle_status::NullArgument, "{call:?}");
        }
    }
    entitle_request_free(request);
    entitle_engine_free(engine);
});
