//! The `#[repr(C)]` answers and their enums, and their conversions from the Rust crate's.

use std::collections::HashMap;
use std::ptr;
use std::sync::{PoisonError, RwLock};

use entitle::{Amount, Decision, Quota, SettingValue, Status, WindowSpan};

/// Why a question was answered as it was: the Rust crate's `Reason`, number for number and name
/// for name (`ENTITLE_REASON_GRANTED_BY_TIER` is the reason `entitle_reason_name` calls
/// `"granted_by_tier"`). Numbers are never reused; a newer library may answer with a reason
/// this list does not hold yet, which `entitle_reason_name` still names.
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
    /// The request holds an add-on more than once: refused, never stacked.
    DuplicateAddon = 18,
    /// A held add-on's quantity is above the maximum its policy declares: refused, never
    /// clamped (ABI 4).
    QuantityAboveMax = 19,
    /// The limit has a per-seat value in force and the request gives no seat count (ABI 4).
    SeatsNotGiven = 20,
    /// A held add-on is a trial and the request does not say when it was acquired (ABI 4).
    AcquisitionNotGiven = 21,
    /// An override record for the subject grants the feature, whatever the plan says, or sets
    /// the setting's value (ABI 5).
    GrantedByOverride = 22,
    /// An override record for the subject revokes the feature, whatever the plan says (ABI 5).
    RevokedByOverride = 23,
    /// The request carries an override set checked against another policy than the engine's
    /// (ABI 5).
    OverridesNotForEngine = 24,
}

/// A reason as the answers carry it: its number in the Rust crate, `reason as u32`, which the
/// header's type `entitle_reason` names.
///
/// The answers hold the number rather than the enum above so that the conversion cannot miss a
/// reason: the crate's `Reason` may grow, and a match on it here would need an arm for reasons
/// it does not list. The header calls this type `entitle_reason` (`ffi/cbindgen.toml` renames
/// it), so C sees the enum's type and its names; `ffi/tests/header.rs` holds the enum to
/// the crate's numbers and names.
pub type entitle_reason_number = u32;

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
    pub reason: entitle_reason_number,
}

/// The answer to "how much of this limit is left, and may this request proceed?".
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct entitle_quota {
    /// Whether the requested amount may be used.
    pub allowed: bool,
    /// Why: an `entitle_reason`.
    pub reason: entitle_reason_number,
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
    /// The first instant after the window (when the counter resets), when `has_window`; for a
    /// rolling limit, whose window is `[now − length, now)`, the request's instant.
    pub window_end: i64,
}

/// The answer to "how much of this limit is left, and may this request proceed?" with the
/// seat count it was computed for (ABI 4), whether an override changed it (ABI 5) and whether
/// its window is rolling (ABI 8), written by `entitle_check_limit2` and
/// `entitle_check_limit_by_name2`. It holds no window:
/// `entitle_limit_window` computes one when asked, so that the question most callers ask does
/// not pay for calendar arithmetic.
///
/// Size-prefixed, as `entitle_setting_answer` is: the caller sets `size` to
/// `sizeof(entitle_quota2)` before the call, and the library writes only the fields that fit
/// (a `size` smaller than this struct as ABI 4 declared it, ending at `seats`, is
/// `ENTITLE_STATUS_INVALID_ARGUMENT`, writing nothing; a caller built against ABI 4 gets every
/// field but `overridden` and `rolling`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct entitle_quota2 {
    /// Set by the caller: `sizeof(entitle_quota2)` as it was compiled. The library leaves it
    /// as it was.
    pub size: usize,
    /// Whether the requested amount may be used.
    pub allowed: bool,
    /// Why: an `entitle_reason`.
    pub reason: entitle_reason_number,
    /// Where usage stands after the request.
    pub status: entitle_limit_status,
    /// The limit in force, after seats and add-ons.
    pub limit: entitle_amount,
    /// Whether the limit has a soft cap (overage allowed up to `soft_cap`).
    pub has_soft_cap: bool,
    /// The soft cap, when `has_soft_cap`.
    pub soft_cap: entitle_amount,
    /// What is left of the limit before the request.
    pub remaining: entitle_amount,
    /// Whether a per-seat value was in force, so that the limit was multiplied by `seats`.
    pub has_seats: bool,
    /// The seat count the limit was multiplied by, when `has_seats`; 0 otherwise.
    pub seats: u64,
    /// Whether an override record for the subject changed the limit (ABI 5): `limit` is then
    /// the override's. Written only for a caller whose `size` holds it: one built against an
    /// ABI-4 header gets every field before it.
    pub overridden: bool,
    /// Whether the limit counts over a rolling window (`rolling 7 days`, ABI 8) rather than
    /// one that resets: its window (`entitle_limit_window`) is `[now − length, now)`, and the
    /// usage to give is what was used within it. Written only for a caller whose `size` holds
    /// it. The field takes a byte that was padding at the end of the ABI-5 struct, so
    /// `sizeof(entitle_quota2)` is what it was: a caller built against ABI 5 to 7 is written it
    /// there, where its header declares nothing, and one built against ABI 4 gets every field
    /// before `overridden`. A library older than ABI 8 copies that byte unset, so a caller that
    /// may run against one reads `rolling` only when `entitle_abi_version()` is 8 or more.
    pub rolling: bool,
}

/// The size of `entitle_quota2` as ABI 4 declared it, ending at `seats`: the least `size` a
/// caller may set, and what a caller built against ABI 4 sets.
pub(crate) const QUOTA2_ABI4_SIZE: usize = std::mem::offset_of!(entitle_quota2, seats) + std::mem::size_of::<u64>();

/// The current window of a limit's counter (ABI 4), written by `entitle_limit_window`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct entitle_window {
    /// Whether the limit is a counter with a window (false for a gauge, a cap, or a refused
    /// request).
    pub has_window: bool,
    /// The window's first instant, in Unix seconds, when `has_window`; 0 otherwise.
    pub start: i64,
    /// The first instant after the window (when the counter resets), when `has_window`; 0
    /// otherwise. For a rolling limit (`entitle_quota2.rolling`) the window is
    /// `[now − length, now)`: `end` is the request's instant, not a reset.
    pub end: i64,
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
    /// lives (for a value an override record gives, by the override set, and valid while it
    /// lives). NULL for other kinds.
    pub text: *const u8,
    /// For text: the length of `text` in bytes.
    pub text_len: usize,
}

/// A setting's answer in full (ABI 3): why, what kind of value, the value, and its display
/// text. Written by `entitle_answer_setting` and its by-name twin, and for every setting by
/// `entitle_query_entitlements`.
///
/// Size-prefixed: the caller sets `size` to `sizeof(entitle_setting_answer)` before the call,
/// and the library writes only the fields that fit in that many bytes (a `size` smaller than
/// this struct as ABI 3 declares it is `ENTITLE_STATUS_INVALID_ARGUMENT`, writing nothing), so
/// the struct can gain fields at the end without breaking a caller built against this header.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct entitle_setting_answer {
    /// Set by the caller: `sizeof(entitle_setting_answer)` as it was compiled. The library
    /// leaves it as it was.
    pub size: usize,
    /// Why: `ENTITLE_REASON_GRANTED_BY_TIER` when the tier (or an ancestor) sets the value,
    /// `ENTITLE_REASON_GRANTED_BY_ADDON` when a held, applying add-on does,
    /// `ENTITLE_REASON_GRANTED_BY_OVERRIDE` when an override record for the subject does (ABI
    /// 5), `ENTITLE_REASON_NOT_GRANTED` when nothing sets it (kind NONE); or what could not be
    /// answered: `ENTITLE_REASON_UNKNOWN_TIER`, `_UNKNOWN_ADDON`, `_UNKNOWN_SETTING`,
    /// `_TOO_MANY_ADDONS`, `_DUPLICATE_ADDON` or `_OVERRIDES_NOT_FOR_ENGINE` (kind NONE).
    pub reason: entitle_reason_number,
    /// What kind of value it is; `ENTITLE_SETTING_KIND_NONE` when there is none.
    pub kind: entitle_setting_kind,
    /// The value in base units for every kind but text (a count, millionths of the whole,
    /// seconds, bytes); 0 for text and NONE.
    pub number: u64,
    /// For text: the UTF-8 bytes, not NUL-terminated, owned by the engine and valid while it
    /// lives (for a value an override record gives, by the override set, and valid while it
    /// lives). NULL for other kinds.
    pub text: *const u8,
    /// For text: the length of `text` in bytes; 0 otherwise.
    pub text_len: usize,
    /// The value as the policy language writes it (`99.9%`, `2 h`, `1 GiB`, `"email"` with its
    /// quotes), the `display` of the JSON protocol: UTF-8 bytes, not NUL-terminated, owned by
    /// the engine and valid while it lives (any handle on it), or for a value an override
    /// record gives by the override set, valid while it lives (any handle on it, or a request
    /// holding it). NULL for kind NONE.
    pub display: *const u8,
    /// The length of `display` in bytes; 0 for kind NONE.
    pub display_len: usize,
}

/// Where `entitle_query_entitlements` writes a subject's whole entitlement: every feature's
/// decision, every limit's quota and every setting's answer, each array in declaration order
/// (index `i` answers the `i`-th declared feature, limit or setting), with the ids of those
/// items when asked.
///
/// The caller sets `size` to `sizeof(entitle_entitlements)`, the array pointers and their
/// capacities (in elements), and `setting_size`; the library writes the three counts and the
/// arrays. Size-prefixed as `entitle_setting_answer` is: a `size` smaller than this struct as
/// ABI 3 declares it is `ENTITLE_STATUS_INVALID_ARGUMENT`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct entitle_entitlements {
    /// Set by the caller: `sizeof(entitle_entitlements)` as it was compiled.
    pub size: usize,
    /// Room for `features_capacity` decisions, or NULL with capacity 0.
    pub features: *mut entitle_decision,
    /// NULL, or room for `features_capacity` ids: the id of each feature answered.
    pub feature_ids: *mut u32,
    /// How many elements `features` (and `feature_ids`, when given) hold.
    pub features_capacity: usize,
    /// Written by the library: how many features the policy declares.
    pub feature_count: usize,
    /// Room for `limits_capacity` quotas, or NULL with capacity 0.
    pub limits: *mut entitle_quota,
    /// NULL, or room for `limits_capacity` ids: the id of each limit answered.
    pub limit_ids: *mut u32,
    /// How many elements `limits` (and `limit_ids`, when given) hold.
    pub limits_capacity: usize,
    /// Written by the library: how many limits the policy declares.
    pub limit_count: usize,
    /// Room for `settings_capacity` setting answers, `setting_size` bytes apart, or NULL with
    /// capacity 0.
    pub settings: *mut entitle_setting_answer,
    /// NULL, or room for `settings_capacity` ids: the id of each setting answered.
    pub setting_ids: *mut u32,
    /// How many elements `settings` (and `setting_ids`, when given) hold.
    pub settings_capacity: usize,
    /// Set by the caller: `sizeof(entitle_setting_answer)` as it was compiled, the distance
    /// between two elements of `settings`; the library sets each element's `size` to it.
    pub setting_size: usize,
    /// Written by the library: how many settings the policy declares.
    pub setting_count: usize,
}

/// The display text of every setting value an engine (or an override set) has answered with,
/// made the first time a value is asked for and kept for the engine's (or the set's) life, so
/// that a setting answer can point to its text as it points to a text value, and a later
/// answer allocates nothing.
///
/// Shared by every handle on one engine, or on one set and the requests that hold it. The set
/// of values is the policy's (each tier's and add-on's `set`) or the set's records', so the map
/// stops growing.
#[derive(Default)]
pub(crate) struct Displays {
    texts: RwLock<HashMap<SettingValue, Box<str>>>,
}

impl Displays {
    /// `value` as the policy language writes it, as bytes that stay put while `self` lives.
    pub(crate) fn of(&self, value: &SettingValue) -> (*const u8, usize) {
        // A panic while the lock is held cannot leave the map half-changed (an insert is
        // whole or absent), so a poisoned lock is used as it is.
        if let Some(text) = self.texts.read().unwrap_or_else(PoisonError::into_inner).get(value) {
            return (text.as_ptr(), text.len());
        }
        let mut texts = self.texts.write().unwrap_or_else(PoisonError::into_inner);
        // The text's bytes are a heap allocation of their own: growing the map moves the
        // `Box`, never what it points to, and no entry is ever removed.
        let text = texts.entry(value.clone()).or_insert_with(|| value.to_string().into_boxed_str());
        (text.as_ptr(), text.len())
    }
}

pub(crate) fn c_decision(decision: Decision) -> entitle_decision {
    entitle_decision { allowed: decision.allowed, reason: decision.reason as u32 }
}

pub(crate) fn c_amount(amount: Amount) -> entitle_amount {
    match amount {
        Amount::Finite(value) => entitle_amount { value, unlimited: false },
        Amount::Unlimited => entitle_amount { value: u64::MAX, unlimited: true },
    }
}

/// The ABI-1 quota, whose window is a field: computed here, once, for every answer.
pub(crate) fn c_quota(quota: Quota) -> entitle_quota {
    let none = entitle_amount { value: 0, unlimited: false };
    let window = c_window(quota.window());
    entitle_quota {
        allowed: quota.allowed,
        reason: quota.reason as u32,
        status: c_limit_status(quota.status),
        limit: c_amount(quota.limit),
        has_soft_cap: quota.soft_cap.is_some(),
        soft_cap: quota.soft_cap.map_or(none, c_amount),
        remaining: c_amount(quota.remaining),
        has_window: window.has_window,
        window_start: window.start,
        window_end: window.end,
    }
}

fn c_limit_status(status: Status) -> entitle_limit_status {
    match status {
        Status::Within => entitle_limit_status::Within,
        Status::Warning => entitle_limit_status::Warning,
        Status::Overage => entitle_limit_status::Overage,
        Status::Exceeded => entitle_limit_status::Exceeded,
    }
}

/// The size-prefixed quota: the ABI-1 fields but the window, the seat count (ABI 4), whether
/// an override changed the limit (ABI 5) and whether its window is rolling (ABI 8).
pub(crate) fn c_quota2(quota: Quota) -> entitle_quota2 {
    let none = entitle_amount { value: 0, unlimited: false };
    entitle_quota2 {
        size: std::mem::size_of::<entitle_quota2>(),
        allowed: quota.allowed,
        reason: quota.reason as u32,
        status: c_limit_status(quota.status),
        limit: c_amount(quota.limit),
        has_soft_cap: quota.soft_cap.is_some(),
        soft_cap: quota.soft_cap.map_or(none, c_amount),
        remaining: c_amount(quota.remaining),
        has_seats: quota.seats.is_some(),
        seats: quota.seats.unwrap_or(0),
        overridden: quota.overridden(),
        rolling: quota.rolling(),
    }
}

pub(crate) fn c_window(window: Option<WindowSpan>) -> entitle_window {
    match window {
        Some(window) => entitle_window { has_window: true, start: window.start, end: window.end },
        None => entitle_window { has_window: false, start: 0, end: 0 },
    }
}

pub(crate) fn c_setting(value: Option<&SettingValue>) -> entitle_setting {
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

/// A full setting answer for `value`, answered for `reason`; kind NONE, with no display, when
/// there is no value.
pub(crate) fn c_setting_answer(
    value: Option<&SettingValue>,
    reason: entitle::Reason,
    displays: &Displays,
) -> entitle_setting_answer {
    let plain = c_setting(value);
    let (display, display_len) = value.map_or((ptr::null(), 0), |value| displays.of(value));
    entitle_setting_answer {
        size: std::mem::size_of::<entitle_setting_answer>(),
        reason: reason as u32,
        kind: plain.kind,
        number: plain.number,
        text: plain.text,
        text_len: plain.text_len,
        display,
        display_len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The C answers carry the Rust answers' numbers, so every language reads the same
    /// reason and status (the header test holds the enums themselves to `Reason::ALL`).
    #[test]
    #[expect(clippy::expect_used, reason = "a test whose policy does not check stops at once")]
    fn reasons_and_statuses_match_the_crate() {
        let text = "policy \"p\"\nfeature f\nfeature g\nlimit calls : count\ntier t { grant f\n limit calls = 10 soft 20 warn at 50% }\n";
        let engine = entitle::Engine::from_source("p", text).expect("checks");
        let request = entitle::Request::new(engine.tier("t").expect("t"), 0);
        for feature in [engine.feature("f"), engine.feature("g"), Some(entitle::FeatureId::from_u32(9))] {
            let decision = engine.decide(&request, feature.expect("an id"));
            assert_eq!(c_decision(decision).reason, decision.reason as u32, "{decision:?}");
        }
        let calls = engine.limit("calls").expect("calls");
        let mut seen = Vec::new();
        for used in [0, 6, 15, 25] {
            let quota = engine.check_limit(&request, calls, entitle::Usage::used(used));
            assert_eq!(c_quota(quota).status as u32, quota.status as u32, "{quota:?}");
            assert_eq!(c_quota(quota).reason, quota.reason as u32, "{quota:?}");
            seen.push(quota.status);
        }
        assert_eq!(seen, Status::ALL, "every status was asked");
    }

    /// `rolling` (ABI 8) sits in what was the padding at the end of the ABI-5 `entitle_quota2`,
    /// so the struct's size, which every caller since ABI 5 sets, is what it was, as the header
    /// says.
    #[test]
    fn rolling_takes_the_padding_after_overridden() {
        use std::mem::{align_of, offset_of, size_of};
        let abi5_size = (offset_of!(entitle_quota2, overridden) + 1).next_multiple_of(align_of::<entitle_quota2>());
        assert_eq!(offset_of!(entitle_quota2, rolling), offset_of!(entitle_quota2, overridden) + 1);
        assert_eq!(size_of::<entitle_quota2>(), abi5_size);
    }
}
