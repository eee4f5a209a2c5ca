//! Limits that draw on a pool, answered in both terms (ABI 7).
//!
//! Every question about such a limit (`entitle_check_limit` and the others) is answered by its
//! pool already; these calls add what the pool's terms do not say: which pool, what the
//! request costs it, and how many of the limit's own units what is left still pays for.

use entitle::{LimitId, Usage};

use crate::queries::{by_id, by_name};
use crate::types::{c_amount, c_quota, entitle_amount, entitle_quota};
use crate::{entitle_engine, entitle_request, entitle_status};

/// A limit that may draw on a pool, answered in both terms (ABI 7).
///
/// Size-prefixed, as `entitle_quota2` is: the caller sets `size` to `sizeof(entitle_draw)`
/// before the call, and the library writes only the fields that fit (a `size` smaller than
/// this struct as ABI 7 declares it is `ENTITLE_STATUS_INVALID_ARGUMENT`, writing nothing), so
/// the answer can gain fields at the end without breaking a caller built against this header.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct entitle_draw {
    /// Set by the caller: `sizeof(entitle_draw)` as it was compiled. The library leaves it as
    /// it was.
    pub size: usize,
    /// The pool's answer, in the pool's units: what `entitle_check_limit` answers for the
    /// limit.
    pub quota: entitle_quota,
    /// The pool's id (`entitle_engine_limit_name` names it): the limit's own for a limit that
    /// draws on nothing.
    pub pool: u32,
    /// What the requested units cost the pool, rounded up (`UINT64_MAX` past 64 bits).
    pub cost: u64,
    /// How many of the limit's own units what is left of the pool pays for, rounded down.
    pub remaining_units: entitle_amount,
}

/// The C answer of a Rust one.
fn c_draw(draw: entitle::Draw) -> entitle_draw {
    entitle_draw {
        size: std::mem::size_of::<entitle_draw>(),
        quota: c_quota(draw.quota),
        pool: draw.pool.as_u32(),
        cost: draw.cost,
        remaining_units: c_amount(draw.remaining_units),
    }
}

/// `entitle_check_limit` for a limit that may draw on a pool (ABI 7): `used` is what is used
/// of the pool and `requested` is in the limit's own units. Writes `*draw_out`: the pool's
/// answer, the pool's id, the request's cost and what is left in the limit's units. A limit
/// that draws on nothing is its own pool at 1 per 1. Statuses as for `entitle_check_limit`.
///
/// # Safety
/// `engine` and `request` are NULL or live handles; `draw_out` is NULL or points to a
/// writable `entitle_draw` whose `size` is set, with at least `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn entitle_check_draw(
    engine: *const entitle_engine,
    request: *const entitle_request,
    limit: u32,
    used: u64,
    requested: u64,
    draw_out: *mut entitle_draw,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_id(engine, request, draw_out, |engine, request| {
            let draw = engine.check_draw(request, LimitId::from_u32(limit), Usage { used, requested });
            (c_draw(draw), draw.quota.reason)
        })
    }
}

/// `entitle_check_draw` with names (ABI 7), as `entitle_decide_by_name`. An unknown limit is
/// answered `unknown_limit`, its own pool with id `UINT32_MAX`.
///
/// # Safety
/// As `entitle_decide_by_name`, for `limit`; `draw_out` as for `entitle_check_draw`.
#[no_mangle]
pub unsafe extern "C" fn entitle_check_draw_by_name(
    engine: *const entitle_engine,
    request: *const entitle_request,
    limit: *const u8,
    limit_len: usize,
    used: u64,
    requested: u64,
    draw_out: *mut entitle_draw,
) -> entitle_status {
    // SAFETY: the contract, passed on.
    unsafe {
        by_name(engine, request, limit, limit_len, draw_out, |engine, request, limit| {
            let usage = Usage { used, requested };
            let quota = engine.check_limit_by_name(request, limit, usage);
            let id = engine.limit(limit).unwrap_or(LimitId::from_u32(u32::MAX));
            let draw = engine.draw_of(id, usage, quota);
            (c_draw(draw), quota.reason)
        })
    }
}
