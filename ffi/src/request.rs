//! The request handle: who is asking and when, set field by field.

use std::sync::Arc;

use entitle::{AddonId, Engine, Held, Overrides, Request, TierId};

use crate::status::{free_box, guard, read_str};
use crate::types::Displays;
use crate::{entitle_overrides, entitle_status};

/// Who is asking and when, reusable across queries. Create with `entitle_request_new`, set
/// fields with the `entitle_request_set_*` functions, free with `entitle_request_free`.
///
/// A request holds one tier, by id or by name: the last of `entitle_request_set_tier` and
/// `entitle_request_set_tier_name` wins and clears the other. Every query uses that tier: an
/// id-based query looks a tier set by name up in its engine, and a by-name query takes the
/// name of a tier set by id from its engine. A tier the engine does not have answers as
/// `ENTITLE_REASON_UNKNOWN_TIER`, with status `ENTITLE_STATUS_UNKNOWN_NAME` when it was set by
/// name and `ENTITLE_STATUS_UNKNOWN_ID` when by id (a tier never set: the query's own kind).
///
/// Add-ons are held both ways at once: those added by id for the id-based queries, those added
/// by name for the by-name ones, each read only by its own kind of query. Each is held in a
/// quantity (1 for `entitle_request_add_addon` and `entitle_request_add_addon_name`) and, for
/// a trial, with the instant it was acquired (ABI 4).
///
/// A request may hold an override set (ABI 5, `entitle_request_set_overrides`): every query then
/// applies the records the set has for the request's key, as it is when the query runs.
///
/// Setters copy what they are given, so a request never points into the caller's memory.
/// Queries only read a request, so threads may share one that no thread is changing.
pub struct entitle_request {
    pub(crate) tier: Tier,
    pub(crate) key: String,
    pub(crate) addons: Vec<Held<AddonId>>,
    pub(crate) addon_names: Vec<HeldName>,
    /// The seat count, when one was set (ABI 4).
    pub(crate) seats: Option<u64>,
    pub(crate) billing_anchor: u8,
    pub(crate) now: i64,
    /// The override set, when one is held (ABI 5).
    pub(crate) overrides: Option<Attached>,
}

/// An override set a request holds: its own share of the set, so that the request never
/// borrows from a handle the caller may free, and whether the set has records for the
/// request's key.
///
/// The Rust request a query builds borrows the key and the set from here for the query's
/// length, and `Request::with_overrides` looks the key up then, so no answer can come from
/// another key's records. The lookup is skipped for a key the set has no records for, which
/// is worked out again whenever the key or the set changes (the set itself never changes), so
/// a subject without overrides pays no lookup per query.
pub(crate) struct Attached {
    pub(crate) overrides: Overrides,
    /// The display texts of the set's setting values, shared with the set's handles.
    pub(crate) displays: Arc<Displays>,
    /// Whether `overrides` has records for the request's key.
    pub(crate) has_records: bool,
}

impl entitle_request {
    /// Works out again whether the held set has records for the key, after either changed.
    fn resolve(&mut self) {
        if let Some(attached) = &mut self.overrides {
            attached.has_records = attached.overrides.subject(&self.key).is_some();
        }
    }

    /// `rust` (built with this handle's key) with the subject's override records, when the
    /// handle holds a set that has records for its key.
    pub(crate) fn overridden<'r, T: Copy, A>(&'r self, rust: Request<'r, T, A>) -> Request<'r, T, A> {
        match &self.overrides {
            Some(attached) if attached.has_records => rust.with_overrides(&attached.overrides),
            _ => rust,
        }
    }

    /// The display texts of the held set, when the request holds one.
    pub(crate) fn override_displays(&self) -> Option<&Displays> {
        self.overrides.as_ref().map(|attached| &*attached.displays)
    }
}

/// An add-on held by name, with its quantity and acquisition instant (`i64::MIN` when none was
/// given, as for `entitle::Held`).
pub(crate) struct HeldName {
    pub(crate) name: String,
    pub(crate) quantity: u64,
    pub(crate) acquired: i64,
}

impl HeldName {
    /// The add-on as the by-name queries hold it, borrowing its name.
    pub(crate) fn held(&self) -> Held<&str> {
        Held::new(self.name.as_str()).with_quantity(self.quantity).acquired_at(self.acquired)
    }
}

/// The instant `entitle::Held` reads as "not given".
const NOT_ACQUIRED: i64 = i64::MIN;

/// The acquisition instant of a held add-on from the caller's pair: `acquired` when
/// `has_acquired`, "not given" otherwise. `INT64_MIN` given as an instant is
/// `INVALID_ARGUMENT`: the engine reads it as "not given", so it would be silently dropped.
fn acquisition(has_acquired: bool, acquired: i64) -> Result<i64, entitle_status> {
    match (has_acquired, acquired) {
        (false, _) => Ok(NOT_ACQUIRED),
        (true, NOT_ACQUIRED) => Err(entitle_status::InvalidArgument),
        (true, instant) => Ok(instant),
    }
}

/// The tier of a request: an id or a name, whichever was set last, so that a request never
/// holds two tiers that disagree.
pub(crate) enum Tier {
    /// Neither setter was called: every query answers as for an unknown tier.
    Unset,
    /// Set by `entitle_request_set_tier`.
    Id(u32),
    /// Set by `entitle_request_set_tier_name`.
    Name(String),
}

/// An id no engine has, which answers as an unknown tier.
const NO_TIER: TierId = TierId::from_u32(u32::MAX);

impl Tier {
    /// The tier as an id of `engine`, for the id-based queries: a tier set by name is looked up.
    pub(crate) fn id(&self, engine: &Engine) -> TierId {
        match self {
            Tier::Id(id) => TierId::from_u32(*id),
            Tier::Name(name) => engine.tier(name).unwrap_or(NO_TIER),
            Tier::Unset => NO_TIER,
        }
    }

    /// The tier as a name in `engine`, for the by-name queries: a tier set by id is named by
    /// the engine. The empty name, which no tier has, stands for an unknown or unset one.
    pub(crate) fn name<'a>(&'a self, engine: &'a Engine) -> &'a str {
        match self {
            Tier::Name(name) => name,
            Tier::Id(id) => engine.tier_name(TierId::from_u32(*id)).unwrap_or(""),
            Tier::Unset => "",
        }
    }

    /// Whether an unknown tier was an unknown name rather than an unknown id, for a query that
    /// reads names when `by_name`.
    pub(crate) fn named(&self, by_name: bool) -> bool {
        match self {
            Tier::Id(_) => false,
            Tier::Name(_) => true,
            Tier::Unset => by_name,
        }
    }
}

/// A new request: no tier, empty key, no add-ons, no seat count, billing anchor day 1, `now` 0,
/// no override set. Writes it to `*request_out`; free it with `entitle_request_free`.
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
            tier: Tier::Unset,
            key: String::new(),
            addons: Vec::new(),
            addon_names: Vec::new(),
            seats: None,
            billing_anchor: 1,
            now: 0,
            overrides: None,
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
    // SAFETY: NULL or a pointer from `Box::into_raw` in `entitle_request_new`, freed once.
    unsafe { free_box(request) }
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

/// Sets the tier by id, clearing a tier set by name. Every query uses it: by-name queries
/// through its name in their engine.
///
/// # Safety
/// `request` is NULL or a live request that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_set_tier(request: *mut entitle_request, tier: u32) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        change_request(request, |r| {
            r.tier = Tier::Id(tier);
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

/// Sets the tier by name, clearing a tier set by id. Every query uses it: id-based queries
/// look it up in their engine.
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
    unsafe { set_text(request, name, name_len, |r, name| r.tier = Tier::Name(name)) }
}

/// Sets the stable subject key that rollouts hash (a customer or app id), and that the
/// records of a held override set are looked up by.
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
    unsafe {
        set_text(request, key, key_len, |r, key| {
            r.key = key;
            r.resolve();
        })
    }
}

/// Makes the request hold `overrides` (ABI 5), replacing any set it held: every query on it
/// then applies the records the set has for the request's key (set before or after this
/// call), after the tier, seats and add-ons. A feature record grants (reason
/// `granted_by_override`) or revokes (`revoked_by_override`); a limit record changes the limit
/// in force, which `entitle_quota2` marks `overridden`; a setting record gives the value
/// (reason `granted_by_override` in an `entitle_setting_answer`). A key without records
/// answers from the plan alone.
///
/// The request keeps its own share of the set: `overrides` may be freed afterwards. A set
/// checked against another policy than the engine a query asks is refused for a key it has
/// records for: status `ENTITLE_STATUS_OVERRIDES_NOT_FOR_ENGINE` and a deny with reason
/// `overrides_not_for_engine`. A NULL `overrides` is `ENTITLE_STATUS_NULL_ARGUMENT` and leaves the
/// request unchanged (`entitle_request_clear_overrides` removes a set).
///
/// # Safety
/// `request` is NULL or a live request that no other thread is using; `overrides` is NULL or a
/// live set.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_set_overrides(
    request: *mut entitle_request,
    overrides: *const entitle_overrides,
) -> entitle_status {
    // SAFETY: the contract, passed on, for `request` and `overrides`.
    unsafe {
        change_request(request, |r| {
            // NULL or a live set, per the contract.
            let Some(set) = overrides.as_ref() else { return entitle_status::NullArgument };
            r.overrides = Some(Attached {
                overrides: set.overrides.clone(),
                displays: Arc::clone(&set.displays),
                has_records: false,
            });
            r.resolve();
            entitle_status::Ok
        })
    }
}

/// Removes the request's override set (ABI 5), as a new request holds none: queries answer from
/// the plan alone. A request that holds none is left as it is.
///
/// # Safety
/// `request` is NULL or a live request that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_clear_overrides(request: *mut entitle_request) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        change_request(request, |r| {
            r.overrides = None;
            entitle_status::Ok
        })
    }
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

/// Adds a held add-on, by id, for the id-based queries: held once, acquired at no particular
/// instant (`entitle_request_add_held` with quantity 1 and no acquisition).
///
/// # Safety
/// `request` is NULL or a live request that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_add_addon(request: *mut entitle_request, addon: u32) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        change_request(request, |r| {
            r.addons.push(Held::new(AddonId::from_u32(addon)));
            entitle_status::Ok
        })
    }
}

/// Adds a held add-on, by name, for the by-name queries: held once, acquired at no particular
/// instant.
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
    unsafe {
        set_text(request, name, name_len, |r, name| {
            r.addon_names.push(HeldName { name, quantity: 1, acquired: NOT_ACQUIRED });
        })
    }
}

/// Adds a held add-on, by id, for the id-based queries, in `quantity` (ABI 4) and, when
/// `has_acquired`, acquired at `acquired` (Unix seconds, UTC: where a trial's length is counted
/// from). A quantity of 0 holds nothing: the add-on is still checked (known, listed once) but
/// applies nowhere; a quantity above the add-on's maximum (1 unless the policy declares more)
/// is answered, by every query, with status `ENTITLE_STATUS_QUANTITY_ABOVE_MAX` and a deny whose
/// reason is `quantity_above_max`. An `acquired` of `INT64_MIN` with `has_acquired` is
/// `ENTITLE_STATUS_INVALID_ARGUMENT` and leaves the request unchanged.
///
/// # Safety
/// `request` is NULL or a live request that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_add_held(
    request: *mut entitle_request,
    addon: u32,
    quantity: u64,
    has_acquired: bool,
    acquired: i64,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        change_request(request, |r| match acquisition(has_acquired, acquired) {
            Ok(acquired) => {
                r.addons.push(Held::new(AddonId::from_u32(addon)).with_quantity(quantity).acquired_at(acquired));
                entitle_status::Ok
            }
            Err(status) => status,
        })
    }
}

/// Adds a held add-on, by name, for the by-name queries, with its quantity and acquisition as
/// for `entitle_request_add_held` (ABI 4). A name that cannot be read (NULL with a length,
/// not UTF-8) or an `acquired` of `INT64_MIN` leaves the request unchanged.
///
/// # Safety
/// As `entitle_request_set_tier_name`, for `name`.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_add_held_name(
    request: *mut entitle_request,
    name: *const u8,
    name_len: usize,
    quantity: u64,
    has_acquired: bool,
    acquired: i64,
) -> entitle_status {
    // SAFETY: the contract, passed on, for `request` and `name`; `name` is read before the
    // request changes.
    unsafe {
        change_request(request, |r| {
            let acquired = match acquisition(has_acquired, acquired) {
                Ok(acquired) => acquired,
                Err(status) => return status,
            };
            match read_str(name, name_len) {
                Ok(name) => {
                    r.addon_names.push(HeldName { name: name.to_string(), quantity, acquired });
                    entitle_status::Ok
                }
                Err(status) => status,
            }
        })
    }
}

/// Sets the subject's seat count (ABI 4), by which a limit's per-seat values are multiplied,
/// for every kind of query. A question about a limit with a per-seat value in force and no
/// seat count is answered with status `ENTITLE_STATUS_MISSING_INPUT` and a deny whose reason is
/// `seats_not_given`.
///
/// # Safety
/// `request` is NULL or a live request that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_set_seats(request: *mut entitle_request, seats: u64) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        change_request(request, |r| {
            r.seats = Some(seats);
            entitle_status::Ok
        })
    }
}

/// Removes the seat count (ABI 4), as a new request has none.
///
/// # Safety
/// `request` is NULL or a live request that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn entitle_request_clear_seats(request: *mut entitle_request) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        change_request(request, |r| {
            r.seats = None;
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
