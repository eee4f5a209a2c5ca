//! Many questions about one request in one call (ABI 3): the batch calls over the Rust crate's
//! `*_many`, and a subject's whole entitlement.
//!
//! Each answers into arrays the caller owns and allocates nothing (a setting's display text is
//! made once per value, the first time it is asked for). The ids go through fixed arrays on the
//! stack, a chunk at a time, since the Rust calls take typed ids and the caller's memory holds
//! numbers.

use std::mem::{align_of, size_of, MaybeUninit};

use entitle::{Decision, Engine, FeatureId, LimitId, Quota, Reason, Request, Usage};

use crate::queries::{id_request, setting_answer_by_id, status_of};
use crate::status::guard;
use crate::types::{c_decision, c_quota};
use crate::{
    entitle_decision, entitle_engine, entitle_entitlements, entitle_quota, entitle_request, entitle_setting_answer,
    entitle_status,
};

/// How many questions go through the stack arrays at once: enough that the request is checked
/// rarely, few enough that the arrays (of quotas, the largest answer) stay a few KiB.
const CHUNK: usize = 32;

/// An id no engine hands out: a feature asked about with it answers with the request's own
/// reason when the request holds an unknown id, and `unknown_feature` otherwise.
const NO_ID: u32 = u32::MAX;

/// An array of `count` elements the caller passes, checked but never borrowed: its elements
/// are copied out one at a time, so that no shared slice covers the caller's memory while the
/// library writes to an output array, which a careless caller may have made overlap it.
#[derive(Clone, Copy)]
struct Input<T> {
    data: *const T,
    count: usize,
}

/// Checks an array of `count` elements the caller passes: NULL is allowed with count 0.
fn input<T>(data: *const T, count: usize) -> Result<Input<T>, entitle_status> {
    if count > 0 && data.is_null() {
        return Err(entitle_status::NullArgument);
    }
    fits(count, size_of::<T>())?;
    Ok(Input { data, count })
}

impl<T: Copy> Input<T> {
    /// Element `i`, read now.
    ///
    /// # Safety
    /// `i < self.count`, and the array is as the contract of the call that took it says:
    /// `count` aligned, readable elements.
    unsafe fn get(&self, i: usize) -> T {
        // SAFETY: within the caller's array, per the contract; a copy, not a borrow.
        unsafe { self.data.add(i).read() }
    }

    /// The elements from `start` on, as many as `slots` holds, copied into it; the prefix they
    /// fill.
    ///
    /// # Safety
    /// As `get`.
    unsafe fn copy<'s, const N: usize>(&self, start: usize, slots: &'s mut [MaybeUninit<T>; N]) -> &'s mut [T] {
        // SAFETY: every index is below `count`, per the range.
        gather(slots, (start..self.count).map(|i| unsafe { self.get(i) }))
    }
}

/// Whether `count` elements of `size` bytes are an array Rust may address: at most
/// `isize::MAX` bytes.
fn fits(count: usize, size: usize) -> Result<(), entitle_status> {
    match count.checked_mul(size).map(isize::try_from) {
        Some(Ok(_)) => Ok(()),
        _ => Err(entitle_status::InvalidArgument),
    }
}

/// Whether the caller's output array of `capacity` elements at `out` holds `count` answers: a
/// smaller capacity is `BUFFER_TOO_SMALL`, NULL with room for answers `NULL_ARGUMENT`.
fn room<T>(out: *mut T, capacity: usize, count: usize) -> Result<(), entitle_status> {
    if capacity < count {
        return Err(entitle_status::BufferTooSmall);
    }
    if count > 0 && out.is_null() {
        return Err(entitle_status::NullArgument);
    }
    fits(count, size_of::<T>())
}

/// `room`, with a capacity smaller than `count` reported as `Ok(false)` rather than as an
/// error, so that a call with several arrays checks every pointer before it answers
/// `BUFFER_TOO_SMALL`.
fn has_room<T>(out: *mut T, capacity: usize, count: usize) -> Result<bool, entitle_status> {
    if capacity < count {
        return Ok(false);
    }
    room(out, capacity, count).map(|()| true)
}

/// The first reason among `reasons` that is not a plain answer (an unknown id, too many
/// add-ons), or `granted_by_tier`, which stands for "every answer is plain".
fn first_unknown(reasons: impl IntoIterator<Item = Reason>) -> Reason {
    reasons
        .into_iter()
        .find(|reason| status_of(*reason, false, false) != entitle_status::Ok)
        .unwrap_or(Reason::GrantedByTier)
}

/// Runs a batch call: checks the handles, builds the Rust request, and returns the status that
/// goes with the first answer `answer` reports as not plain.
///
/// # Safety
/// `engine` and `request` are NULL or live handles.
unsafe fn batch(
    engine: *const entitle_engine,
    request: *const entitle_request,
    answer: impl FnOnce(&entitle_engine, &entitle_request, &Request<'_>) -> Result<Reason, entitle_status>,
) -> entitle_status {
    guard(|| {
        // SAFETY: NULL or live handles, per the contract.
        let (Some(engine), Some(request)) = (unsafe { engine.as_ref() }, unsafe { request.as_ref() }) else {
            return entitle_status::NullArgument;
        };
        match answer(engine, request, &id_request(&engine.engine, request)) {
            Ok(reason) => status_of(reason, false, request.tier.named(false)),
            Err(status) => status,
        }
    })
}

/// The stack arrays hold a whole chunk, so a Rust batch call over one always has room: a
/// `BufferTooSmall` from it would be a bug of this crate, reported as one.
fn bug(_: entitle::BufferTooSmall) -> entitle_status {
    entitle_status::Panic
}

/// The first `len` (at most `N`) slots of a stack array, each set to `fill`, for a Rust batch
/// call to overwrite.
///
/// Only the prefix a chunk uses is initialised: setting every slot of the array on each call
/// cost more than the questions of a small batch.
fn prefix<T: Copy, const N: usize>(slots: &mut [MaybeUninit<T>; N], len: usize, fill: T) -> &mut [T] {
    let len = len.min(N);
    for slot in slots.iter_mut().take(len) {
        slot.write(fill);
    }
    // SAFETY: the first `len` slots were just initialised, and `MaybeUninit<T>` has the layout
    // of `T`.
    unsafe { std::slice::from_raw_parts_mut(slots.as_mut_ptr().cast::<T>(), len) }
}

/// A stack array of `N` slots, none initialised, for `prefix`.
const fn slots<T, const N: usize>() -> [MaybeUninit<T>; N] {
    [const { MaybeUninit::uninit() }; N]
}

/// The next items of `items`, as many as `slots` holds, moved into it; the prefix they fill.
fn gather<T, const N: usize>(slots: &mut [MaybeUninit<T>; N], items: impl Iterator<Item = T>) -> &mut [T] {
    let mut len = 0;
    // `zip` asks `slots` first, so no item is taken from `items` once the array is full.
    for (slot, item) in slots.iter_mut().zip(items) {
        slot.write(item);
        len += 1;
    }
    // SAFETY: the first `len` slots were just initialised, and `MaybeUninit<T>` has the layout
    // of `T`.
    unsafe { std::slice::from_raw_parts_mut(slots.as_mut_ptr().cast::<T>(), len) }
}

/// `ids` as typed feature ids, in the stack array `out`.
fn typed<'o>(ids: &[u32], out: &'o mut [MaybeUninit<FeatureId>; CHUNK]) -> &'o [FeatureId] {
    let typed = prefix(out, ids.len(), FeatureId::from_u32(NO_ID));
    for (slot, id) in typed.iter_mut().zip(ids) {
        *slot = FeatureId::from_u32(*id);
    }
    typed
}

/// Writes `answers` to the caller's array at `out`, from element `start` on.
///
/// # Safety
/// `out` points to at least `start + answers.len()` writable elements.
unsafe fn put_all<T: Copy, C>(out: *mut C, start: usize, answers: &[T], convert: impl Fn(T) -> C) {
    for (i, answer) in answers.iter().enumerate() {
        // SAFETY: within the caller's array, per the contract; `write` reads nothing there, so
        // the array may start uninitialised.
        unsafe { out.add(start + i).write(convert(*answer)) };
    }
}

/// Whether the subject may use each of `features` (`count` ids): writes `allowed_out[i]` for
/// the `i`-th, as `entitle_is_allowed` would, in one call (ABI 3). `capacity` is how many
/// answers `allowed_out` holds: less than `count` is `ENTITLE_STATUS_BUFFER_TOO_SMALL`, writing
/// nothing. `features` and `allowed_out` may be NULL when `count` is 0.
///
/// Every answer is written; the status is `ENTITLE_STATUS_OK` when every id (of the request
/// and of `features`) is the engine's, and otherwise the status the first unknown one gives:
/// `ENTITLE_STATUS_UNKNOWN_ID` (an unknown id answers `false`), or
/// `ENTITLE_STATUS_UNKNOWN_NAME` for a tier set by name that the engine does not have. A
/// request that holds one add-on more than once is `ENTITLE_STATUS_DUPLICATE_ADDON`, and one
/// that holds more add-ons than the engine's limit (32 by default) `ENTITLE_STATUS_INPUT_LIMIT`,
/// every answer a deny (reason `duplicate_addon` or `too_many_addons` in the decisions of
/// `entitle_decide_many`). From ABI 4, a request that holds an add-on past its maximum
/// quantity is `ENTITLE_STATUS_QUANTITY_ABOVE_MAX`, and one without an input a question needs
/// (a trial's acquisition, or for a limit a seat count) `ENTITLE_STATUS_MISSING_INPUT`, with
/// the reason in every answer it refuses. From ABI 5, a request whose override set was checked
/// against another policy, and has records for its key, is
/// `ENTITLE_STATUS_OVERRIDES_NOT_FOR_ENGINE`, every answer a deny with that reason.
///
/// The input and output arrays must not overlap: a call given overlapping arrays may answer
/// wrongly (it reads each group of inputs before it writes their answers, which keeps it
/// memory-safe, not right).
///
/// # Safety
/// `engine` and `request` are NULL or live handles; `features` is NULL with count 0 or points
/// to `count` readable ids; `allowed_out` is NULL or points to `capacity` writable `bool`s,
/// not overlapping `features`.
#[no_mangle]
pub unsafe extern "C" fn entitle_is_allowed_many(
    engine: *const entitle_engine,
    request: *const entitle_request,
    features: *const u32,
    count: usize,
    allowed_out: *mut bool,
    capacity: usize,
) -> entitle_status {
    // SAFETY: the contract, passed on; the comments inside say why each use of the caller's
    // arrays is sound.
    unsafe {
        batch(engine, request, |handle, _, rust| {
            let engine = &handle.engine;
            let features = input(features, count)?;
            room(allowed_out, capacity, count)?;
            // The request's own reason, asked once: `unknown_feature` for a request whose ids
            // are all the engine's.
            let of_request = engine.decide(rust, FeatureId::from_u32(NO_ID)).reason;
            let mut reason = (of_request != Reason::UnknownFeature).then_some(of_request);
            for start in (0..count).step_by(CHUNK) {
                // The chunk's ids are copied before any of its answers is written.
                let mut raw = slots::<u32, CHUNK>();
                // SAFETY: the caller's contract for `features`.
                let chunk = features.copy(start, &mut raw);
                let mut typed_ids = slots();
                let ids = typed(chunk, &mut typed_ids);
                let mut answers = slots::<bool, CHUNK>();
                let answers = engine.is_allowed_many(rust, ids, prefix(&mut answers, ids.len(), false)).map_err(bug)?;
                // SAFETY: `room` checked that `allowed_out` holds `count` answers.
                put_all(allowed_out, start, answers, |allowed| allowed);
                if reason.is_none() {
                    // Only a denial can be for an unknown id.
                    let unknown =
                        answers.iter().zip(ids).any(|(allowed, id)| !allowed && engine.feature_name(*id).is_none());
                    reason = unknown.then_some(Reason::UnknownFeature);
                }
            }
            Ok(reason.unwrap_or(Reason::GrantedByTier))
        })
    }
}

/// Whether the subject may use each of `features`, and why: writes `decisions_out[i]` for the
/// `i`-th, as `entitle_decide` would, in one call (ABI 3). Buffers, NULL and statuses as for
/// `entitle_is_allowed_many` (`ENTITLE_STATUS_OK`, `_UNKNOWN_ID`, `_UNKNOWN_NAME`,
/// `_DUPLICATE_ADDON`, `_INPUT_LIMIT`, `_BUFFER_TOO_SMALL`, `_NULL_ARGUMENT`,
/// `_INVALID_ARGUMENT`); an
/// unknown id's decision says which kind was unknown. `features` and `decisions_out` must not
/// overlap.
///
/// # Safety
/// `engine` and `request` are NULL or live handles; `features` is NULL with count 0 or points
/// to `count` readable ids; `decisions_out` is NULL or points to `capacity` writable decisions,
/// not overlapping `features`.
#[no_mangle]
pub unsafe extern "C" fn entitle_decide_many(
    engine: *const entitle_engine,
    request: *const entitle_request,
    features: *const u32,
    count: usize,
    decisions_out: *mut entitle_decision,
    capacity: usize,
) -> entitle_status {
    // SAFETY: the contract, passed on; the comments inside say why each use of the caller's
    // arrays is sound.
    unsafe {
        batch(engine, request, |handle, _, rust| {
            let features = input(features, count)?;
            room(decisions_out, capacity, count)?;
            // SAFETY: the caller's contract for `features`; `room` checked that
            // `decisions_out` holds `count` answers.
            decide_ids_into(&handle.engine, rust, (0..count).map(|i| features.get(i)), decisions_out)
        })
    }
}

/// Decides each feature of `ids`, already copied out of the caller's memory, into the
/// caller's array at `out`, in order; the first reason that is not a plain answer.
///
/// # Safety
/// `out` points to as many writable decisions as `ids` holds, at most `CHUNK`.
unsafe fn decide_chunk(
    engine: &Engine,
    request: &Request<'_>,
    ids: &[u32],
    out: *mut entitle_decision,
) -> Result<Reason, entitle_status> {
    let mut typed_ids = slots();
    let ids = typed(ids, &mut typed_ids);
    let mut answers = slots::<Decision, CHUNK>();
    let answers =
        engine.decide_many(request, ids, prefix(&mut answers, ids.len(), Decision::default())).map_err(bug)?;
    // SAFETY: the caller's contract.
    unsafe { put_all(out, 0, answers, c_decision) };
    Ok(first_unknown(answers.iter().map(|d| d.reason)))
}

/// How much of each limit is left and whether the request may proceed: writes
/// `quotas_out[i]` for `limits[i]` given `used[i]` and `requested[i]`, as
/// `entitle_check_limit` would, in one call (ABI 3). The three input arrays hold `count`
/// elements each. Buffers, NULL and statuses as for `entitle_is_allowed_many`
/// (`ENTITLE_STATUS_OK`, `_UNKNOWN_ID`, `_UNKNOWN_NAME`, `_DUPLICATE_ADDON`, `_INPUT_LIMIT`,
/// `_BUFFER_TOO_SMALL`, `_NULL_ARGUMENT`, `_INVALID_ARGUMENT`). `quotas_out` must not overlap
/// any of the three input arrays.
///
/// # Safety
/// `engine` and `request` are NULL or live handles; `limits`, `used` and `requested` are NULL
/// with count 0 or each point to `count` readable elements; `quotas_out` is NULL or points to
/// `capacity` writable quotas, overlapping none of them.
#[no_mangle]
pub unsafe extern "C" fn entitle_check_limit_many(
    engine: *const entitle_engine,
    request: *const entitle_request,
    limits: *const u32,
    used: *const u64,
    requested: *const u64,
    count: usize,
    quotas_out: *mut entitle_quota,
    capacity: usize,
) -> entitle_status {
    // SAFETY: the contract, passed on; the comments inside say why each use of the caller's
    // arrays is sound.
    unsafe {
        batch(engine, request, |handle, _, rust| {
            let (limits, used, requested) = (input(limits, count)?, input(used, count)?, input(requested, count)?);
            room(quotas_out, capacity, count)?;
            // Read lazily, a chunk at a time: `check_into` gathers a chunk's questions before
            // it writes any of their answers.
            // SAFETY: `i < count`, and the caller's contract for the three arrays.
            let questions = (0..count)
                .map(|i| (LimitId::from_u32(limits.get(i)), Usage { used: used.get(i), requested: requested.get(i) }));
            // SAFETY: `room` checked that `quotas_out` holds `count` answers.
            check_into(&handle.engine, rust, questions, quotas_out)
        })
    }
}

/// One request against several limits (ABI 6): `entitle_check_limit_many`'s answers, and in
/// `*binding_out` the index of the answer that binds the request: the first answer, in order,
/// of the worst outcome (the first deny; with none, the first in overage, then the first at a
/// warning, then the first answer), as the Rust crate's `entitle::binding` chooses it. A
/// request is allowed only when every answer is. With no limits (`count` 0), `*binding_out` is
/// 0, which is `count`: an index equal to `count` means that nothing binds.
///
/// Arrays, buffers and statuses as for `entitle_check_limit_many`; `binding_out` NULL is
/// `ENTITLE_STATUS_NULL_ARGUMENT`, writing nothing. `*binding_out` is written whenever the
/// answers are (every status but `_BUFFER_TOO_SMALL`, `_NULL_ARGUMENT`, `_INVALID_ARGUMENT`).
///
/// # Safety
/// As `entitle_check_limit_many`, and `binding_out` is NULL or points to a writable `size_t`
/// that overlaps none of the arrays.
#[no_mangle]
pub unsafe extern "C" fn entitle_check_limits(
    engine: *const entitle_engine,
    request: *const entitle_request,
    limits: *const u32,
    used: *const u64,
    requested: *const u64,
    count: usize,
    quotas_out: *mut entitle_quota,
    capacity: usize,
    binding_out: *mut usize,
) -> entitle_status {
    // SAFETY: the contract, passed on; the comments inside say why each use of the caller's
    // arrays is sound.
    unsafe {
        batch(engine, request, |handle, _, rust| {
            if binding_out.is_null() {
                return Err(entitle_status::NullArgument);
            }
            let (limits, used, requested) = (input(limits, count)?, input(used, count)?, input(requested, count)?);
            room(quotas_out, capacity, count)?;
            // SAFETY: `i < count`, and the caller's contract for the three arrays.
            let questions = (0..count)
                .map(|i| (LimitId::from_u32(limits.get(i)), Usage { used: used.get(i), requested: requested.get(i) }));
            let mut binding = Binding { at: count, worst: None };
            // SAFETY: `room` checked that `quotas_out` holds `count` answers.
            let reason = check_chunks(&handle.engine, rust, questions, quotas_out, |start, answers| {
                binding.take(start, answers);
            })?;
            // SAFETY: not NULL, checked above; writable per the contract.
            binding_out.write(binding.at);
            Ok(reason)
        })
    }
}

/// The binding answer so far of a batch answered a chunk at a time.
struct Binding {
    /// Its index, or the batch's length while nothing binds.
    at: usize,
    /// The answer at `at`.
    worst: Option<Quota>,
}

impl Binding {
    /// Takes in a chunk's answers, the first at index `start`: its own binding answer binds
    /// the batch if it is worse than the one so far (an earlier one wins a tie).
    fn take(&mut self, start: usize, answers: &[Quota]) {
        let Some(at) = entitle::binding(answers) else { return };
        let Some(candidate) = answers.get(at) else { return };
        let beats = match &self.worst {
            None => true,
            Some(worst) => entitle::binding(&[*worst, *candidate]) == Some(1),
        };
        if beats {
            (self.at, self.worst) = (start + at, Some(*candidate));
        }
    }
}

/// Answers each `(limit, usage)` question into the caller's array at `out`, in order, a chunk
/// at a time; the first reason that is not a plain answer.
///
/// # Safety
/// `out` points to as many writable quotas as `questions` yields.
unsafe fn check_into(
    engine: &Engine,
    request: &Request<'_>,
    questions: impl Iterator<Item = (LimitId, Usage)>,
    out: *mut entitle_quota,
) -> Result<Reason, entitle_status> {
    // SAFETY: the caller's contract, passed on.
    unsafe { check_chunks(engine, request, questions, out, |_, _| {}) }
}

/// `check_into`, showing each chunk's answers to `each` with the index of its first.
///
/// # Safety
/// As `check_into`.
unsafe fn check_chunks(
    engine: &Engine,
    request: &Request<'_>,
    mut questions: impl Iterator<Item = (LimitId, Usage)>,
    out: *mut entitle_quota,
    mut each: impl FnMut(usize, &[Quota]),
) -> Result<Reason, entitle_status> {
    let mut reason = Reason::GrantedByTier;
    let mut start = 0;
    loop {
        let mut chunk = slots::<(LimitId, Usage), CHUNK>();
        let chunk = gather(&mut chunk, questions.by_ref());
        if chunk.is_empty() {
            return Ok(reason);
        }
        let len = chunk.len();
        let mut answers = slots::<Quota, CHUNK>();
        let answers =
            engine.check_limit_many(request, chunk, prefix(&mut answers, len, Quota::default())).map_err(bug)?;
        // SAFETY: the caller's contract.
        unsafe { put_all(out, start, answers, c_quota) };
        each(start, answers);
        if reason == Reason::GrantedByTier {
            reason = first_unknown(answers.iter().map(|q| q.reason));
        }
        start += len;
    }
}

/// Writes `ids` to the caller's optional array at `out`, in order.
///
/// # Safety
/// `out` is NULL or points to as many writable ids as `ids` yields.
unsafe fn put_ids(out: *mut u32, ids: impl Iterator<Item = u32>) {
    if out.is_null() {
        return;
    }
    for (i, id) in ids.enumerate() {
        // SAFETY: within the caller's array, per the contract.
        unsafe { out.add(i).write(id) };
    }
}

/// The subject's whole entitlement (ABI 3): every feature's decision, every limit's quota and
/// every setting's answer, in declaration order, as `entitle_query_json` answers a query with
/// `"entitlements": true` (whose `features`, `limits` and `settings` are keyed by name; here
/// index `i` is the `i`-th declared item, and the `*_ids` arrays, when given, receive its id).
///
/// `usage_limits` and `usage_used` (`usage_count` elements each, NULL with 0) give the usage
/// of limits by id, as the query's `usage` does by name: a limit not listed has used 0, a
/// limit listed twice takes the last, and every question requests 0. A listed id that is not
/// one of the engine's limits is `ENTITLE_STATUS_UNKNOWN_ID`, writing nothing (the query's
/// `unknown_usage` error).
///
/// The caller fills `*out` (its `size`, the arrays, their capacities, `setting_size`). The
/// library checks every pointer and size first: a NULL array with room for its count is
/// `ENTITLE_STATUS_NULL_ARGUMENT`, a `size` smaller than ABI 3's struct, or a `setting_size`
/// smaller than ABI 3's `entitle_setting_answer` when the settings have room, is
/// `ENTITLE_STATUS_INVALID_ARGUMENT`, and either writes nothing, not even the counts. Then a
/// capacity smaller than its count is `ENTITLE_STATUS_BUFFER_TOO_SMALL` with only the three
/// counts written, so a caller can size its arrays from a first call with capacities 0.
/// Otherwise the library writes every answer and the counts, and the status is that of the
/// first unknown id, as for the batch calls (`ENTITLE_STATUS_OK`, `_UNKNOWN_ID`,
/// `_UNKNOWN_NAME`, `_DUPLICATE_ADDON`, `_INPUT_LIMIT`).
///
/// The usage arrays must not overlap any array the library writes, nor `*out`. (Every limit's
/// usage is read before the id arrays are written, so one of them passed back as
/// `usage_limits` is still read as it was given; a caller must not rely on that.)
///
/// # Safety
/// `engine` and `request` are NULL or live handles; the usage arrays are NULL with count 0 or
/// point to `usage_count` readable elements; `out` is NULL or points to a writable
/// `entitle_entitlements` whose array pointers are NULL or point to their capacity of
/// writable elements (`setting_size` bytes apart for `settings`), none of them overlapping the
/// usage arrays. Setting texts stay valid while the engine lives, or for a value an override
/// record gives, while the request's override set does.
#[no_mangle]
pub unsafe extern "C" fn entitle_query_entitlements(
    engine: *const entitle_engine,
    request: *const entitle_request,
    usage_limits: *const u32,
    usage_used: *const u64,
    usage_count: usize,
    out: *mut entitle_entitlements,
) -> entitle_status {
    // SAFETY: the contract, passed on; the comments inside say why each use of the caller's
    // arrays is sound.
    unsafe {
        batch(engine, request, |handle, held, rust| {
            let engine = &handle.engine;
            let (usage_limits, usage_used) = (input(usage_limits, usage_count)?, input(usage_used, usage_count)?);
            if out.is_null() {
                return Err(entitle_status::NullArgument);
            }
            // SAFETY: non-NULL; the first field of a readable `entitle_entitlements`.
            if crate::queries::caller_size(out) < size_of::<entitle_entitlements>() {
                return Err(entitle_status::InvalidArgument);
            }
            // SAFETY: `i < usage_count`, and the caller's contract for the usage arrays.
            if (0..usage_count).any(|i| engine.limit_name(LimitId::from_u32(usage_limits.get(i))).is_none()) {
                return Err(entitle_status::UnknownId);
            }
            let counts = (engine.features().len(), engine.limits().len(), engine.settings().len());
            // The caller's struct is read field by field through the pointer: the fields the
            // library writes may hold anything before the call.
            // SAFETY: checked non-NULL and at least as large as this library's struct; readable
            // per the contract.
            let page = Page {
                features: std::ptr::addr_of!((*out).features).read(),
                feature_ids: std::ptr::addr_of!((*out).feature_ids).read(),
                features_capacity: std::ptr::addr_of!((*out).features_capacity).read(),
                limits: std::ptr::addr_of!((*out).limits).read(),
                limit_ids: std::ptr::addr_of!((*out).limit_ids).read(),
                limits_capacity: std::ptr::addr_of!((*out).limits_capacity).read(),
                settings: std::ptr::addr_of!((*out).settings).read(),
                setting_ids: std::ptr::addr_of!((*out).setting_ids).read(),
                settings_capacity: std::ptr::addr_of!((*out).settings_capacity).read(),
                setting_size: std::ptr::addr_of!((*out).setting_size).read(),
            };
            // Every pointer and size is checked before anything is written: a status that gives
            // no answer leaves the caller's struct as it was, counts included.
            let rooms = [
                has_room(page.features, page.features_capacity, counts.0)?,
                has_room(page.limits, page.limits_capacity, counts.1)?,
                has_room(page.settings, page.settings_capacity, counts.2)?,
            ];
            let stride = page.setting_size;
            // The settings' stride matters only when they are written.
            if rooms[2] && counts.2 > 0 {
                if stride < size_of::<entitle_setting_answer>()
                    || !stride.is_multiple_of(align_of::<entitle_setting_answer>())
                {
                    return Err(entitle_status::InvalidArgument);
                }
                fits(counts.2, stride)?;
            }
            // SAFETY: checked non-NULL and as large as this library's struct; writable per the
            // contract.
            let put_counts = || {
                std::ptr::addr_of_mut!((*out).feature_count).write(counts.0);
                std::ptr::addr_of_mut!((*out).limit_count).write(counts.1);
                std::ptr::addr_of_mut!((*out).setting_count).write(counts.2);
            };
            if rooms.contains(&false) {
                // The counts, so that the caller can size its arrays, and nothing else.
                put_counts();
                return Err(entitle_status::BufferTooSmall);
            }

            let mut reason = Reason::GrantedByTier;
            let mut note = |found: Reason| {
                if reason == Reason::GrantedByTier {
                    reason = found;
                }
            };
            let feature_ids = engine.features().map(|(id, _)| id.as_u32());
            // SAFETY: `has_room` checked that `features` holds every feature.
            note(decide_ids_into(engine, rust, feature_ids, page.features)?);
            // Every limit's usage is read into its question (a chunk's before any of its quotas
            // is written, and all of it before the ids, written last): a caller that passes one
            // of the id arrays as `usage_limits` still has its usage read as it gave it.
            let questions = engine.limits().map(|(id, _)| {
                // SAFETY: `i < usage_count`, and the caller's contract for the usage arrays.
                let given = |id: LimitId| {
                    (0..usage_count).rev().find(|i| usage_limits.get(*i) == id.as_u32()).map(|i| usage_used.get(i))
                };
                (id, Usage::used(engine.used_for(id, given)))
            });
            // SAFETY: `has_room` checked that `limits` holds every limit.
            note(check_into(engine, rust, questions, page.limits)?);
            for (i, (id, _)) in engine.settings().enumerate() {
                let (mut answer, found) = setting_answer_by_id(handle, held, rust, id);
                note(first_unknown([found]));
                answer.size = stride;
                // SAFETY: element `i` is `i * stride` bytes into the caller's array, which
                // `has_room` and `fits` checked holds every setting; `stride` is a multiple of
                // the struct's alignment and at least its size.
                page.settings.cast::<u8>().add(i * stride).cast::<entitle_setting_answer>().write(answer);
            }
            put_counts();
            // SAFETY: the id arrays are NULL or share their answers' capacities, which
            // `has_room` checked against the counts, per the contract.
            put_ids(page.feature_ids, engine.features().map(|(id, _)| id.as_u32()));
            put_ids(page.limit_ids, engine.limits().map(|(id, _)| id.as_u32()));
            put_ids(page.setting_ids, engine.settings().map(|(id, _)| id.as_u32()));
            Ok(reason)
        })
    }
}

/// What the caller put in its `entitle_entitlements`, read once.
struct Page {
    features: *mut entitle_decision,
    feature_ids: *mut u32,
    features_capacity: usize,
    limits: *mut entitle_quota,
    limit_ids: *mut u32,
    limits_capacity: usize,
    settings: *mut entitle_setting_answer,
    setting_ids: *mut u32,
    settings_capacity: usize,
    setting_size: usize,
}

/// Decides each feature of `ids` into the caller's array at `out`, in order, a chunk at a
/// time; the first reason that is not a plain answer.
///
/// A chunk's ids are all taken from `ids` before any of its answers is written, so an
/// iterator that reads the caller's memory reads it before the library writes there.
///
/// # Safety
/// `out` points to as many writable decisions as `ids` yields.
unsafe fn decide_ids_into(
    engine: &Engine,
    request: &Request<'_>,
    mut ids: impl Iterator<Item = u32>,
    out: *mut entitle_decision,
) -> Result<Reason, entitle_status> {
    let mut reason = Reason::GrantedByTier;
    let mut start = 0;
    loop {
        let mut chunk = slots::<u32, CHUNK>();
        let chunk = gather(&mut chunk, ids.by_ref());
        if chunk.is_empty() {
            return Ok(reason);
        }
        let len = chunk.len();
        // SAFETY: the caller's contract, from element `start` on.
        let found = unsafe { decide_chunk(engine, request, chunk, out.add(start)) }?;
        if reason == Reason::GrantedByTier {
            reason = found;
        }
        start += len;
    }
}

#[cfg(test)]
mod tests {
    use std::ptr;

    use super::*;
    use crate::{
        entitle_decide, entitle_engine_free, entitle_engine_from_source, entitle_request_add_addon,
        entitle_request_free, entitle_request_new, entitle_request_set_tier_name,
    };

    /// A policy of more features and limits than one chunk holds, so that every call crosses
    /// chunk boundaries.
    fn policy() -> String {
        let mut text = String::from("policy \"wide\"\nsetting seats : number\n");
        let mut grants = String::new();
        for i in 0..CHUNK * 2 + 5 {
            text.push_str(&format!("feature f{i}\nlimit l{i} : count\n"));
            if i % 3 == 0 {
                grants.push_str(&format!(" grant f{i}\n"));
            }
            grants.push_str(&format!(" limit l{i} = {}\n", i * 10));
        }
        text.push_str(&format!("tier t {{\n{grants} set seats = 4 }}\naddon a for t {{ set seats = 9 }}\n"));
        text
    }

    /// Every answer of the whole entitlement is the single call's, in declaration order, across
    /// chunks, and the setting the add-on sets says so.
    #[test]
    #[expect(clippy::indexing_slicing, reason = "the arrays are as long as the counts the call reports")]
    fn the_whole_entitlement_crosses_chunks_in_order() {
        let text = policy();
        let mut engine = ptr::null_mut();
        let mut request = ptr::null_mut();
        // SAFETY: valid strings and writable out-parameters; both handles are freed below.
        unsafe {
            let status =
                entitle_engine_from_source(b"w".as_ptr(), 1, text.as_ptr(), text.len(), &mut engine, ptr::null_mut());
            assert_eq!(status, entitle_status::Ok);
            assert_eq!(entitle_request_new(&mut request), entitle_status::Ok);
            assert_eq!(entitle_request_set_tier_name(request, b"t".as_ptr(), 1), entitle_status::Ok);
        }
        // SAFETY: a live engine.
        let rust = unsafe { &(*engine).engine };
        let addon = rust.addon("a").map_or(NO_ID, |id| id.as_u32());
        // SAFETY: a live request.
        assert_eq!(unsafe { entitle_request_add_addon(request, addon) }, entitle_status::Ok);
        let count = CHUNK * 2 + 5;
        let mut features = vec![entitle_decision { allowed: true, reason: 0 }; count];
        let mut feature_ids = vec![NO_ID; count];
        // SAFETY: an all-zero quota is a valid value of the plain C struct.
        let mut limits = vec![unsafe { std::mem::zeroed::<entitle_quota>() }; count];
        let mut limit_ids = vec![NO_ID; count];
        // SAFETY: as for the quota; the pointers are NULL.
        let mut settings = vec![unsafe { std::mem::zeroed::<entitle_setting_answer>() }; 1];
        let mut page = entitle_entitlements {
            size: size_of::<entitle_entitlements>(),
            features: features.as_mut_ptr(),
            feature_ids: feature_ids.as_mut_ptr(),
            features_capacity: count,
            feature_count: 0,
            limits: limits.as_mut_ptr(),
            limit_ids: limit_ids.as_mut_ptr(),
            limits_capacity: count,
            limit_count: 0,
            settings: settings.as_mut_ptr(),
            setting_ids: ptr::null_mut(),
            settings_capacity: 1,
            setting_size: size_of::<entitle_setting_answer>(),
            setting_count: 0,
        };
        let used: Vec<u64> = (0..count as u64).map(|i| i * 7).collect();
        let ids: Vec<u32> = rust.limits().map(|(id, _)| id.as_u32()).collect();
        // SAFETY: live handles, `count` readable usage elements, arrays as long as said.
        let status =
            unsafe { entitle_query_entitlements(engine, request, ids.as_ptr(), used.as_ptr(), count, &mut page) };
        assert_eq!(status, entitle_status::Ok);
        assert_eq!((page.feature_count, page.limit_count, page.setting_count), (count, count, 1));
        for (i, (id, name)) in rust.features().enumerate() {
            assert_eq!(feature_ids[i], id.as_u32(), "{name}");
            let mut one = entitle_decision { allowed: false, reason: 99 };
            // SAFETY: live handles and a writable answer.
            assert_eq!(unsafe { entitle_decide(engine, request, id.as_u32(), &mut one) }, entitle_status::Ok);
            assert_eq!(features[i], one, "{name}");
            assert_eq!(one.allowed, i % 3 == 0, "{name}");
        }
        // SAFETY: a live request, read only.
        let held = unsafe { &*request };
        for (i, (id, name)) in rust.limits().enumerate() {
            assert_eq!(limit_ids[i], id.as_u32(), "{name}");
            let quota = c_quota(rust.check_limit(&id_request(rust, held), id, Usage::used(used[i])));
            assert_eq!(limits[i], quota, "{name}");
        }
        assert_eq!(settings[0].number, 9);
        assert_eq!(settings[0].reason, Reason::GrantedByAddon as u32);

        // The batch calls over the same arrays, past a chunk too.
        let mut quotas = limits.clone();
        let requested = vec![1; count];
        // SAFETY: live handles and arrays of `count` elements.
        let status = unsafe {
            entitle_check_limit_many(
                engine,
                request,
                ids.as_ptr(),
                used.as_ptr(),
                requested.as_ptr(),
                count,
                quotas.as_mut_ptr(),
                count,
            )
        };
        assert_eq!(status, entitle_status::Ok);
        for (i, (id, _)) in rust.limits().enumerate() {
            let usage = Usage::used(used[i]).requesting(1);
            let one = rust.check_limit(&id_request(rust, held), id, usage);
            assert_eq!(quotas[i], c_quota(one));
        }
        // SAFETY: the handles came from the library and are freed once.
        unsafe {
            entitle_request_free(request);
            entitle_engine_free(engine);
        }
    }

    /// An engine of `policy()` and a request for its tier `t`; the caller frees both.
    fn wide() -> (*mut entitle_engine, *mut entitle_request) {
        let text = policy();
        let mut engine = ptr::null_mut();
        let mut request = ptr::null_mut();
        // SAFETY: valid strings and writable out-parameters.
        unsafe {
            let status =
                entitle_engine_from_source(b"w".as_ptr(), 1, text.as_ptr(), text.len(), &mut engine, ptr::null_mut());
            assert_eq!(status, entitle_status::Ok);
            assert_eq!(entitle_request_new(&mut request), entitle_status::Ok);
            assert_eq!(entitle_request_set_tier_name(request, b"t".as_ptr(), 1), entitle_status::Ok);
        }
        (engine, request)
    }

    /// A page over `limits` and `limit_ids` only, with no room for features or settings and
    /// counts the library has not written.
    fn limits_page(limits: &mut [entitle_quota], limit_ids: *mut u32) -> entitle_entitlements {
        entitle_entitlements {
            size: size_of::<entitle_entitlements>(),
            features: ptr::null_mut(),
            feature_ids: ptr::null_mut(),
            features_capacity: 0,
            feature_count: 7,
            limits: limits.as_mut_ptr(),
            limit_ids,
            limits_capacity: limits.len(),
            limit_count: 7,
            settings: ptr::null_mut(),
            setting_ids: ptr::null_mut(),
            settings_capacity: 0,
            setting_size: size_of::<entitle_setting_answer>(),
            setting_count: 7,
        }
    }

    /// A caller that hands its `limit_ids` array in as `usage_limits` has the usage read as it
    /// gave it: the ids are written only after every limit's usage is read.
    #[test]
    #[expect(clippy::indexing_slicing, reason = "the arrays are as long as the policy's limits")]
    fn usage_is_read_before_the_ids_are_written_over_it() {
        let (engine, request) = wide();
        // SAFETY: a live engine and request, read only.
        let (rust, held) = unsafe { (&(*engine).engine, &*request) };
        let declared: Vec<LimitId> = rust.limits().map(|(id, _)| id).collect();
        let count = declared.len();
        // The usage lists the limits backwards, each used one past its limit (`l{i}` is
        // `i * 10`): read against the wrong limit, the later half would be allowed.
        let mut ids: Vec<u32> = declared.iter().rev().map(|id| id.as_u32()).collect();
        let used: Vec<u64> = (0..count as u64).rev().map(|i| i * 10 + 1).collect();
        // SAFETY: an all-zero quota is a valid value of the plain C struct.
        let mut limits = vec![unsafe { std::mem::zeroed::<entitle_quota>() }; count];
        let shared = ids.as_mut_ptr();
        let mut page = limits_page(&mut limits, shared);
        let mut features = vec![entitle_decision { allowed: false, reason: 0 }; rust.features().len()];
        page.features = features.as_mut_ptr();
        page.features_capacity = features.len();
        // SAFETY: as for the quota; the pointers are NULL.
        let mut settings = vec![unsafe { std::mem::zeroed::<entitle_setting_answer>() }; 1];
        page.settings = settings.as_mut_ptr();
        page.settings_capacity = 1;
        // SAFETY: live handles; `shared` holds `count` ids, read as usage and written as the
        // ids of the answer; `used` holds `count` amounts.
        let status = unsafe { entitle_query_entitlements(engine, request, shared, used.as_ptr(), count, &mut page) };
        assert_eq!(status, entitle_status::Ok);
        assert_eq!(page.limit_count, count);
        for (i, id) in declared.iter().enumerate() {
            assert_eq!(ids[i], id.as_u32(), "the ids are written, in declaration order");
            let one = rust.check_limit(&id_request(rust, held), *id, Usage::used(i as u64 * 10 + 1));
            assert!(!one.allowed, "l{i} is exceeded");
            assert_eq!(limits[i], c_quota(one), "l{i}");
        }
        // SAFETY: the handles came from the library and are freed once.
        unsafe {
            entitle_request_free(request);
            entitle_engine_free(engine);
        }
    }

    /// A status that gives no answer writes nothing, counts included; `BUFFER_TOO_SMALL` writes
    /// the counts and nothing else.
    #[test]
    fn counts_are_written_only_with_an_answer_or_for_sizing() {
        let (engine, request) = wide();
        // SAFETY: a live engine, read only.
        let count = unsafe { (*engine).engine.limits().len() };
        let unwritten = |page: &entitle_entitlements| (page.feature_count, page.limit_count, page.setting_count);
        // SAFETY: an all-zero quota is a valid value of the plain C struct.
        let mut limits = vec![unsafe { std::mem::zeroed::<entitle_quota>() }; count];
        // A mark no answer has, set before the pages take the array's address.
        if let Some(first) = limits.first_mut() {
            first.remaining.value = 3;
        }
        let query = |page: &mut entitle_entitlements| {
            // SAFETY: live handles, no usage, and a page whose arrays are as long as it says.
            unsafe { entitle_query_entitlements(engine, request, ptr::null(), ptr::null(), 0, page) }
        };

        // Room for the settings at a NULL array.
        let mut page = limits_page(&mut limits, ptr::null_mut());
        page.features_capacity = 0;
        page.settings_capacity = 1;
        assert_eq!(query(&mut page), entitle_status::NullArgument);
        assert_eq!(unwritten(&page), (7, 7, 7));
        // SAFETY: as for the quota; the pointers are NULL.
        let mut settings = vec![unsafe { std::mem::zeroed::<entitle_setting_answer>() }; 1];
        page.settings = settings.as_mut_ptr();
        // A stride smaller than the struct, with the features too small as well: the stride is
        // wrong whatever the capacities, so the call is refused rather than sized.
        page.setting_size = size_of::<entitle_setting_answer>() - 8;
        assert_eq!(query(&mut page), entitle_status::InvalidArgument);
        assert_eq!(unwritten(&page), (7, 7, 7));
        page.size = size_of::<entitle_entitlements>() - 1;
        page.setting_size = size_of::<entitle_setting_answer>();
        assert_eq!(query(&mut page), entitle_status::InvalidArgument);
        assert_eq!(unwritten(&page), (7, 7, 7));
        page.size = size_of::<entitle_entitlements>();
        // NULL limits with room, beside features that are too small.
        let mut nowhere = limits_page(&mut limits, ptr::null_mut());
        nowhere.limits = ptr::null_mut();
        assert_eq!(query(&mut nowhere), entitle_status::NullArgument);
        assert_eq!(unwritten(&nowhere), (7, 7, 7));

        // Too small: the counts, and no answer.
        assert_eq!(query(&mut page), entitle_status::BufferTooSmall);
        assert_eq!(unwritten(&page), (CHUNK * 2 + 5, count, 1));
        assert_eq!(limits.first().map(|quota| quota.remaining.value), Some(3), "no quota is written");
        // SAFETY: the handles came from the library and are freed once.
        unsafe {
            entitle_request_free(request);
            entitle_engine_free(engine);
        }
    }
}
