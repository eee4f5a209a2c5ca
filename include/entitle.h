/*
 * entitle.h: the C ABI of entitle, an embeddable entitlement engine.
 *
 * Generated from ffi/src/ by cbindgen; do not edit. See docs/bindings.md.
 *
 * Conventions, for every function below:
 * - Fallible functions return an `entitle_status`; results go through out-parameters, which
 *   are written only when the status says an answer was given.
 * - Strings passed in are (pointer, length) pairs of UTF-8 bytes, not NUL-terminated; a NULL
 *   pointer is allowed only with length 0. Arrays come with their count (or, for output, their
 *   capacity) in elements, under the same rule.
 * - A struct whose first field is `size_t size` (ABI 3 on) is one the caller sets `size` in,
 *   to `sizeof` the struct as it was compiled; the library writes only the fields that fit.
 * - Handles (`entitle_engine`, `entitle_overrides`, `entitle_request`, `entitle_error`) are
 *   created by the library and freed by their own `_free` function; `_free(NULL)` does nothing.
 * - No function panics across the boundary, reads the clock or does I/O except loading a file.
 */

#ifndef ENTITLE_H
#define ENTITLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
/* The version of the library this header was generated from. */
#define ENTITLE_VERSION "0.1.0"
#define ENTITLE_VERSION_MAJOR 0
#define ENTITLE_VERSION_MINOR 1
#define ENTITLE_VERSION_PATCH 0
/* The ABI version: raised when what a call declares or does changes for callers built against
 * an older header (docs/bindings.md lists each version's changes). */
#define ENTITLE_ABI_VERSION 8


// What a call did. The numbers are fixed and never reused.
enum entitle_status
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  // Success: the out-parameters hold the answer.
  ENTITLE_STATUS_OK = 0,
  // A required pointer was NULL, or a string or array pointer was NULL with a non-zero
  // length or count.
  ENTITLE_STATUS_NULL_ARGUMENT = 1,
  // A string was not UTF-8.
  ENTITLE_STATUS_INVALID_UTF8 = 2,
  // An argument was out of its range: a length (or an array's size in bytes) past
  // `PTRDIFF_MAX`, a billing anchor outside 1–31, a size-prefixed struct whose `size` is
  // smaller than the struct's first declared form, an acquisition instant of `INT64_MIN`.
  ENTITLE_STATUS_INVALID_ARGUMENT = 3,
  // The policy does not check; the error handle carries every diagnostic.
  ENTITLE_STATUS_POLICY_ERROR = 4,
  // The policy file could not be read.
  ENTITLE_STATUS_IO_ERROR = 5,
  // A by-name query or lookup named something the policy does not declare. Queries still
  // write their answer: a deny whose reason says which kind of name was unknown.
  ENTITLE_STATUS_UNKNOWN_NAME = 6,
  // An id-based query used an id this engine does not have (another engine's, or never
  // set). The answer is still written: a deny whose reason says which kind of id.
  ENTITLE_STATUS_UNKNOWN_ID = 7,
  // The caller's buffer is too small, and nothing was written to it: the needed size is
  // reported, or, for an array of answers to a list of questions, is the list's count.
  ENTITLE_STATUS_BUFFER_TOO_SMALL = 8,
  // The library panicked (a bug); nothing was written. Please report it.
  ENTITLE_STATUS_PANIC = 9,
  // A query (by name or by id) held more add-ons than the limit allows. The answer is still written:
  // a deny with reason `too_many_addons`.
  ENTITLE_STATUS_INPUT_LIMIT = 10,
  // A compiled bundle could not be loaded: it is corrupt, truncated, inconsistent, past the
  // input limits, or of a newer format than this library reads. The error's message says
  // which.
  ENTITLE_STATUS_BUNDLE_ERROR = 11,
  // The request holds an add-on more than once (by id or by name). The answer is still
  // written: a deny with reason `duplicate_addon`.
  ENTITLE_STATUS_DUPLICATE_ADDON = 12,
  // The request holds an add-on in a quantity above the maximum its policy declares (ABI 4;
  // 1 unless the policy says more). The answer is still written: a deny with reason
  // `quantity_above_max`.
  ENTITLE_STATUS_QUANTITY_ABOVE_MAX = 13,
  // The question needs an input the request does not give (ABI 4): a seat count, for a limit
  // with a per-seat value in force (reason `seats_not_given`), or the instant a held trial
  // add-on was acquired (reason `acquisition_not_given`). The answer is still written: a
  // deny with that reason.
  ENTITLE_STATUS_MISSING_INPUT = 14,
  // The override set does not check against the engine (ABI 5): a record is malformed,
  // names something the policy does not declare, or overlaps another. The error handle
  // carries every diagnostic, each with the record's `file:line:col`.
  ENTITLE_STATUS_OVERRIDES_ERROR = 15,
  // The request carries an override set checked against another policy than the engine's
  // (ABI 5), and the set has records for the request's key. The answer is still written: a
  // deny with reason `overrides_not_for_engine`.
  ENTITLE_STATUS_OVERRIDES_NOT_FOR_ENGINE = 16,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum entitle_status entitle_status;
#else
typedef uint32_t entitle_status;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

// Where usage stands against a limit; the same numbers as the Rust crate's `Status`.
enum entitle_limit_status
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  // Within the limit, below any warn threshold.
  ENTITLE_LIMIT_STATUS_WITHIN = 0,
  // Within the limit, at or past the warn threshold.
  ENTITLE_LIMIT_STATUS_WARNING = 1,
  // Past the limit, within the soft cap: allowed as overage.
  ENTITLE_LIMIT_STATUS_OVERAGE = 2,
  // Past the soft cap or a hard limit: denied.
  ENTITLE_LIMIT_STATUS_EXCEEDED = 3,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum entitle_limit_status entitle_limit_status;
#else
typedef uint32_t entitle_limit_status;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

// What kind of value a setting holds.
enum entitle_setting_kind
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  // Neither the tier nor an applying add-on sets it.
  ENTITLE_SETTING_KIND_NONE = 0,
  // A whole number, in `number`.
  ENTITLE_SETTING_KIND_NUMBER = 1,
  // A percentage, in millionths of the whole, in `number` (`99.9%` is 999000).
  ENTITLE_SETTING_KIND_PERCENT = 2,
  // A duration, in seconds, in `number`.
  ENTITLE_SETTING_KIND_DURATION = 3,
  // A size, in bytes, in `number`.
  ENTITLE_SETTING_KIND_BYTES = 4,
  // Text, in `text` and `text_len`.
  ENTITLE_SETTING_KIND_TEXT = 5,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum entitle_setting_kind entitle_setting_kind;
#else
typedef uint32_t entitle_setting_kind;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

// Why a question was answered as it was: the Rust crate's `Reason`, number for number and name
// for name (`ENTITLE_REASON_GRANTED_BY_TIER` is the reason `entitle_reason_name` calls
// `"granted_by_tier"`). Numbers are never reused; a newer library may answer with a reason
// this list does not hold yet, which `entitle_reason_name` still names.
enum entitle_reason
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  // The tier (or an ancestor) grants the feature.
  ENTITLE_REASON_GRANTED_BY_TIER = 0,
  // A held, applying add-on grants the feature.
  ENTITLE_REASON_GRANTED_BY_ADDON = 1,
  // The subject is inside the tier's rollout of the feature.
  ENTITLE_REASON_GRANTED_BY_ROLLOUT = 2,
  // Nothing grants the feature.
  ENTITLE_REASON_NOT_GRANTED = 3,
  // The tier revokes a feature an ancestor granted.
  ENTITLE_REASON_REVOKED = 4,
  // The subject is outside the tier's rollout of the feature.
  ENTITLE_REASON_OUTSIDE_ROLLOUT = 5,
  // A held add-on would grant the feature but is not valid now.
  ENTITLE_REASON_ADDON_NOT_VALID = 6,
  // A held add-on would grant the feature but does not attach to the tier.
  ENTITLE_REASON_ADDON_NOT_FOR_TIER = 7,
  // Usage with the request is within the limit.
  ENTITLE_REASON_WITHIN_LIMIT = 8,
  // Usage with the request is past the limit, within the soft cap.
  ENTITLE_REASON_OVERAGE = 9,
  // Usage with the request is past the soft cap, or past a hard limit.
  ENTITLE_REASON_LIMIT_EXCEEDED = 10,
  // The tier is not in the policy.
  ENTITLE_REASON_UNKNOWN_TIER = 11,
  // The feature is not in the policy.
  ENTITLE_REASON_UNKNOWN_FEATURE = 12,
  // The limit is not in the policy.
  ENTITLE_REASON_UNKNOWN_LIMIT = 13,
  // An add-on is not in the policy.
  ENTITLE_REASON_UNKNOWN_ADDON = 14,
  // The setting is not in the policy.
  ENTITLE_REASON_UNKNOWN_SETTING = 15,
  // More add-ons were named than the limit allows.
  ENTITLE_REASON_TOO_MANY_ADDONS = 16,
  // Neither the tier nor an applying add-on sets the limit: a deny of 0.
  ENTITLE_REASON_LIMIT_NOT_SET = 17,
  // The request holds an add-on more than once: refused, never stacked.
  ENTITLE_REASON_DUPLICATE_ADDON = 18,
  // A held add-on's quantity is above the maximum its policy declares: refused, never
  // clamped (ABI 4).
  ENTITLE_REASON_QUANTITY_ABOVE_MAX = 19,
  // The limit has a per-seat value in force and the request gives no seat count (ABI 4).
  ENTITLE_REASON_SEATS_NOT_GIVEN = 20,
  // A held add-on is a trial and the request does not say when it was acquired (ABI 4).
  ENTITLE_REASON_ACQUISITION_NOT_GIVEN = 21,
  // An override record for the subject grants the feature, whatever the plan says, or sets
  // the setting's value (ABI 5).
  ENTITLE_REASON_GRANTED_BY_OVERRIDE = 22,
  // An override record for the subject revokes the feature, whatever the plan says (ABI 5).
  ENTITLE_REASON_REVOKED_BY_OVERRIDE = 23,
  // The request carries an override set checked against another policy than the engine's
  // (ABI 5).
  ENTITLE_REASON_OVERRIDES_NOT_FOR_ENGINE = 24,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum entitle_reason entitle_reason;
#else
typedef uint32_t entitle_reason;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

// A compiled policy. Create with `entitle_engine_from_source`, `entitle_engine_from_path` or
// `entitle_engine_from_bundle`, or share one with `entitle_engine_clone`; free each handle
// with `entitle_engine_free`. Immutable: any number of threads may query one engine at
// once, and freeing it while none does is safe.
typedef struct entitle_engine entitle_engine;

// Why a load failed: a status, a message, and for a policy or an override set that does not
// check every diagnostic as JSON.
// Free with `entitle_error_free`.
typedef struct entitle_error entitle_error;

// A checked set of per-customer override records (ABI 5), for the policy of the engine it was
// checked against. Create with `entitle_overrides_from_jsonl` or `entitle_overrides_from_path`,
// or share one with `entitle_overrides_clone`; free each handle with `entitle_overrides_free`.
// A request takes it with `entitle_request_set_overrides`; `entitle_query_json_with_overrides`
// answers JSON queries with it.
//
// Immutable: any number of threads may use one set at once. A request that holds a set keeps
// it alive, so the set's handle may be freed while requests still hold it.
typedef struct entitle_overrides entitle_overrides;

// Who is asking and when, reusable across queries. Create with `entitle_request_new`, set
// fields with the `entitle_request_set_*` functions, free with `entitle_request_free`.
//
// A request holds one tier, by id or by name: the last of `entitle_request_set_tier` and
// `entitle_request_set_tier_name` wins and clears the other. Every query uses that tier: an
// id-based query looks a tier set by name up in its engine, and a by-name query takes the
// name of a tier set by id from its engine. A tier the engine does not have answers as
// `ENTITLE_REASON_UNKNOWN_TIER`, with status `ENTITLE_STATUS_UNKNOWN_NAME` when it was set by
// name and `ENTITLE_STATUS_UNKNOWN_ID` when by id (a tier never set: the query's own kind).
//
// Add-ons are held both ways at once: those added by id for the id-based queries, those added
// by name for the by-name ones, each read only by its own kind of query. Each is held in a
// quantity (1 for `entitle_request_add_addon` and `entitle_request_add_addon_name`) and, for
// a trial, with the instant it was acquired (ABI 4).
//
// A request may hold an override set (ABI 5, `entitle_request_set_overrides`): every query then
// applies the records the set has for the request's key, as it is when the query runs.
//
// Setters copy what they are given, so a request never points into the caller's memory.
// Queries only read a request, so threads may share one that no thread is changing.
typedef struct entitle_request entitle_request;

// The answer to "may this subject use this feature?".
typedef struct {
  // Whether the feature may be used.
  bool allowed;
  // Why: an `entitle_reason`.
  entitle_reason reason;
} entitle_decision;

// An amount of a limit: a number in base units, or no bound.
typedef struct {
  // The amount, when `unlimited` is false.
  uint64_t value;
  // Whether there is no bound.
  bool unlimited;
} entitle_amount;

// The answer to "how much of this limit is left, and may this request proceed?".
typedef struct {
  // Whether the requested amount may be used.
  bool allowed;
  // Why: an `entitle_reason`.
  entitle_reason reason;
  // Where usage stands after the request.
  entitle_limit_status status;
  // The limit in force, after add-ons.
  entitle_amount limit;
  // Whether the limit has a soft cap (overage allowed up to `soft_cap`).
  bool has_soft_cap;
  // The soft cap, when `has_soft_cap`.
  entitle_amount soft_cap;
  // What is left of the limit before the request.
  entitle_amount remaining;
  // Whether the limit is a counter with a window.
  bool has_window;
  // The window's first instant, in Unix seconds, when `has_window`.
  int64_t window_start;
  // The first instant after the window (when the counter resets), when `has_window`; for a
  // rolling limit, whose window is `[now − length, now)`, the request's instant.
  int64_t window_end;
} entitle_quota;

// The answer to "how much of this limit is left, and may this request proceed?" with the
// seat count it was computed for (ABI 4), whether an override changed it (ABI 5) and whether
// its window is rolling (ABI 8), written by `entitle_check_limit2` and
// `entitle_check_limit_by_name2`. It holds no window:
// `entitle_limit_window` computes one when asked, so that the question most callers ask does
// not pay for calendar arithmetic.
//
// Size-prefixed, as `entitle_setting_answer` is: the caller sets `size` to
// `sizeof(entitle_quota2)` before the call, and the library writes only the fields that fit
// (a `size` smaller than this struct as ABI 4 declared it, ending at `seats`, is
// `ENTITLE_STATUS_INVALID_ARGUMENT`, writing nothing; a caller built against ABI 4 gets every
// field but `overridden` and `rolling`).
typedef struct {
  // Set by the caller: `sizeof(entitle_quota2)` as it was compiled. The library leaves it
  // as it was.
  size_t size;
  // Whether the requested amount may be used.
  bool allowed;
  // Why: an `entitle_reason`.
  entitle_reason reason;
  // Where usage stands after the request.
  entitle_limit_status status;
  // The limit in force, after seats and add-ons.
  entitle_amount limit;
  // Whether the limit has a soft cap (overage allowed up to `soft_cap`).
  bool has_soft_cap;
  // The soft cap, when `has_soft_cap`.
  entitle_amount soft_cap;
  // What is left of the limit before the request.
  entitle_amount remaining;
  // Whether a per-seat value was in force, so that the limit was multiplied by `seats`.
  bool has_seats;
  // The seat count the limit was multiplied by, when `has_seats`; 0 otherwise.
  uint64_t seats;
  // Whether an override record for the subject changed the limit (ABI 5): `limit` is then
  // the override's. Written only for a caller whose `size` holds it: one built against an
  // ABI-4 header gets every field before it.
  bool overridden;
  // Whether the limit counts over a rolling window (`rolling 7 days`, ABI 8) rather than
  // one that resets: its window (`entitle_limit_window`) is `[now − length, now)`, and the
  // usage to give is what was used within it. Written only for a caller whose `size` holds
  // it. The field takes a byte that was padding at the end of the ABI-5 struct, so
  // `sizeof(entitle_quota2)` is what it was: a caller built against ABI 5 to 7 is written it
  // there, where its header declares nothing, and one built against ABI 4 gets every field
  // before `overridden`. A library older than ABI 8 copies that byte unset, so a caller that
  // may run against one reads `rolling` only when `entitle_abi_version()` is 8 or more.
  bool rolling;
} entitle_quota2;

// The current window of a limit's counter (ABI 4), written by `entitle_limit_window`.
typedef struct {
  // Whether the limit is a counter with a window (false for a gauge, a cap, or a refused
  // request).
  bool has_window;
  // The window's first instant, in Unix seconds, when `has_window`; 0 otherwise.
  int64_t start;
  // The first instant after the window (when the counter resets), when `has_window`; 0
  // otherwise. For a rolling limit (`entitle_quota2.rolling`) the window is
  // `[now − length, now)`: `end` is the request's instant, not a reset.
  int64_t end;
} entitle_window;

// A setting's value for a subject.
typedef struct {
  // What kind of value it is; `ENTITLE_SETTING_KIND_NONE` when nothing sets it.
  entitle_setting_kind kind;
  // The value, for every kind but text, in base units.
  uint64_t number;
  // For text: UTF-8 bytes, not NUL-terminated, owned by the engine and valid while it
  // lives (for a value an override record gives, by the override set, and valid while it
  // lives). NULL for other kinds.
  const uint8_t *text;
  // For text: the length of `text` in bytes.
  size_t text_len;
} entitle_setting;

// A setting's answer in full (ABI 3): why, what kind of value, the value, and its display
// text. Written by `entitle_answer_setting` and its by-name twin, and for every setting by
// `entitle_query_entitlements`.
//
// Size-prefixed: the caller sets `size` to `sizeof(entitle_setting_answer)` before the call,
// and the library writes only the fields that fit in that many bytes (a `size` smaller than
// this struct as ABI 3 declares it is `ENTITLE_STATUS_INVALID_ARGUMENT`, writing nothing), so
// the struct can gain fields at the end without breaking a caller built against this header.
typedef struct {
  // Set by the caller: `sizeof(entitle_setting_answer)` as it was compiled. The library
  // leaves it as it was.
  size_t size;
  // Why: `ENTITLE_REASON_GRANTED_BY_TIER` when the tier (or an ancestor) sets the value,
  // `ENTITLE_REASON_GRANTED_BY_ADDON` when a held, applying add-on does,
  // `ENTITLE_REASON_GRANTED_BY_OVERRIDE` when an override record for the subject does (ABI
  // 5), `ENTITLE_REASON_NOT_GRANTED` when nothing sets it (kind NONE); or what could not be
  // answered: `ENTITLE_REASON_UNKNOWN_TIER`, `_UNKNOWN_ADDON`, `_UNKNOWN_SETTING`,
  // `_TOO_MANY_ADDONS`, `_DUPLICATE_ADDON` or `_OVERRIDES_NOT_FOR_ENGINE` (kind NONE).
  entitle_reason reason;
  // What kind of value it is; `ENTITLE_SETTING_KIND_NONE` when there is none.
  entitle_setting_kind kind;
  // The value in base units for every kind but text (a count, millionths of the whole,
  // seconds, bytes); 0 for text and NONE.
  uint64_t number;
  // For text: the UTF-8 bytes, not NUL-terminated, owned by the engine and valid while it
  // lives (for a value an override record gives, by the override set, and valid while it
  // lives). NULL for other kinds.
  const uint8_t *text;
  // For text: the length of `text` in bytes; 0 otherwise.
  size_t text_len;
  // The value as the policy language writes it (`99.9%`, `2 h`, `1 GiB`, `"email"` with its
  // quotes), the `display` of the JSON protocol: UTF-8 bytes, not NUL-terminated, owned by
  // the engine and valid while it lives (any handle on it), or for a value an override
  // record gives by the override set, valid while it lives (any handle on it, or a request
  // holding it). NULL for kind NONE.
  const uint8_t *display;
  // The length of `display` in bytes; 0 for kind NONE.
  size_t display_len;
} entitle_setting_answer;

// Where `entitle_query_entitlements` writes a subject's whole entitlement: every feature's
// decision, every limit's quota and every setting's answer, each array in declaration order
// (index `i` answers the `i`-th declared feature, limit or setting), with the ids of those
// items when asked.
//
// The caller sets `size` to `sizeof(entitle_entitlements)`, the array pointers and their
// capacities (in elements), and `setting_size`; the library writes the three counts and the
// arrays. Size-prefixed as `entitle_setting_answer` is: a `size` smaller than this struct as
// ABI 3 declares it is `ENTITLE_STATUS_INVALID_ARGUMENT`.
typedef struct {
  // Set by the caller: `sizeof(entitle_entitlements)` as it was compiled.
  size_t size;
  // Room for `features_capacity` decisions, or NULL with capacity 0.
  entitle_decision *features;
  // NULL, or room for `features_capacity` ids: the id of each feature answered.
  uint32_t *feature_ids;
  // How many elements `features` (and `feature_ids`, when given) hold.
  size_t features_capacity;
  // Written by the library: how many features the policy declares.
  size_t feature_count;
  // Room for `limits_capacity` quotas, or NULL with capacity 0.
  entitle_quota *limits;
  // NULL, or room for `limits_capacity` ids: the id of each limit answered.
  uint32_t *limit_ids;
  // How many elements `limits` (and `limit_ids`, when given) hold.
  size_t limits_capacity;
  // Written by the library: how many limits the policy declares.
  size_t limit_count;
  // Room for `settings_capacity` setting answers, `setting_size` bytes apart, or NULL with
  // capacity 0.
  entitle_setting_answer *settings;
  // NULL, or room for `settings_capacity` ids: the id of each setting answered.
  uint32_t *setting_ids;
  // How many elements `settings` (and `setting_ids`, when given) hold.
  size_t settings_capacity;
  // Set by the caller: `sizeof(entitle_setting_answer)` as it was compiled, the distance
  // between two elements of `settings`; the library sets each element's `size` to it.
  size_t setting_size;
  // Written by the library: how many settings the policy declares.
  size_t setting_count;
} entitle_entitlements;

// A limit that may draw on a pool, answered in both terms (ABI 7).
//
// Size-prefixed, as `entitle_quota2` is: the caller sets `size` to `sizeof(entitle_draw)`
// before the call, and the library writes only the fields that fit (a `size` smaller than
// this struct as ABI 7 declares it is `ENTITLE_STATUS_INVALID_ARGUMENT`, writing nothing), so
// the answer can gain fields at the end without breaking a caller built against this header.
typedef struct {
  // Set by the caller: `sizeof(entitle_draw)` as it was compiled. The library leaves it as
  // it was.
  size_t size;
  // The pool's answer, in the pool's units: what `entitle_check_limit` answers for the
  // limit.
  entitle_quota quota;
  // The pool's id (`entitle_engine_limit_name` names it): the limit's own for a limit that
  // draws on nothing.
  uint32_t pool;
  // What the requested units cost the pool, rounded up (`UINT64_MAX` past 64 bits).
  uint64_t cost;
  // How many of the limit's own units what is left of the pool pays for, rounded down.
  entitle_amount remaining_units;
} entitle_draw;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

// The library's version, as a static NUL-terminated string such as `"0.1.0"`; equal to the
// header's `ENTITLE_VERSION` when the two match.
const char *entitle_version(void);

// The ABI version the library implements; equal to the header's `ENTITLE_ABI_VERSION` when
// the two match.
uint32_t entitle_abi_version(void);

// Parses, checks and compiles a policy from text.
//
// `name` (how diagnostics refer to the text, usually its path) and `text` are UTF-8 byte
// strings with their lengths. On success writes a new engine to `*engine_out` and returns
// `ENTITLE_STATUS_OK`; the caller frees it with `entitle_engine_free`. On failure writes
// nothing to `*engine_out`, and, when `error_out` is not NULL, writes an error (freed with
// `entitle_error_free`) to `*error_out`: `ENTITLE_STATUS_POLICY_ERROR` carries every
// diagnostic.
//
// # Safety
// `name` and `text` are NULL with length 0, or point to that many readable bytes.
// `engine_out` is a valid pointer to write to; `error_out` is NULL or one.
entitle_status entitle_engine_from_source(const uint8_t *name,
                                          size_t name_len,
                                          const uint8_t *text,
                                          size_t text_len,
                                          entitle_engine **engine_out,
                                          entitle_error **error_out);

// Reads, checks and compiles the policy file at `path` (UTF-8 bytes with their length).
// Otherwise as `entitle_engine_from_source`; an unreadable file is `ENTITLE_STATUS_IO_ERROR`.
//
// # Safety
// As `entitle_engine_from_source`, for `path`.
entitle_status entitle_engine_from_path(const uint8_t *path,
                                        size_t path_len,
                                        entitle_engine **engine_out,
                                        entitle_error **error_out);

// Loads an engine from a compiled bundle (`entitle build`) held in memory: `len` bytes at
// `bytes`. A bundle loads without parsing; one that is corrupt, truncated, inconsistent, past
// the default input limits or of a newer format is `ENTITLE_STATUS_BUNDLE_ERROR`, with a
// message saying which.
// `entitle_engine_from_path` also takes bundles, told apart by their signature.
//
// # Safety
// `bytes` is NULL with length 0, or points to `len` readable bytes. `engine_out` is a valid
// pointer to write to; `error_out` is NULL or one.
entitle_status entitle_engine_from_bundle(const uint8_t *bytes,
                                          size_t len,
                                          entitle_engine **engine_out,
                                          entitle_error **error_out);

// Writes the SHA-256 of the engine's policy source (the policy every answer comes from, for
// audit logs) to the 32 bytes at `hash_out`.
//
// # Safety
// `engine` is NULL or a live engine; `hash_out` is NULL or points to 32 writable bytes.
entitle_status entitle_engine_policy_hash(const entitle_engine *engine, uint8_t *hash_out);

// Writes a new handle on the same engine as `engine` to `*engine_out`. The two share the
// compiled tables (nothing is copied or compiled again) and answer alike; each is freed with
// its own `entitle_engine_free`, in any order and from any thread, and the tables live until
// the last is. For giving one engine to code that frees what it is given.
//
// # Safety
// `engine` is NULL or a live engine; `engine_out` is NULL or writable.
entitle_status entitle_engine_clone(const entitle_engine *engine, entitle_engine **engine_out);

// Frees an engine. NULL does nothing. No query may be running on it, or start, afterwards.
//
// # Safety
// `engine` is NULL or a pointer from `entitle_engine_from_*` or `entitle_engine_clone` not
// freed before.
void entitle_engine_free(entitle_engine *engine);

// Reads and checks a set of override records from JSON Lines text against `engine` (ABI 5):
// one record a line (`{"subject", "feature" | "limit" | "setting", "op", "value", "from",
// "until", "reason", "author"}`, as `docs/language.md` describes), blank lines and lines
// starting with `#` skipped.
//
// `name` (how diagnostics refer to the text, usually its path) and `text` are UTF-8 byte
// strings with their lengths. On success writes a new set to `*overrides_out` and returns
// `ENTITLE_STATUS_OK`; the caller frees it with `entitle_overrides_free`. On failure writes
// nothing to `*overrides_out`, and, when `error_out` is not NULL, writes an error (freed with
// `entitle_error_free`) to `*error_out`: `ENTITLE_STATUS_OVERRIDES_ERROR` when a record does not
// check, whose message names the first error's `file:line:col` and whose
// `entitle_error_diagnostics_json` holds every diagnostic, as for a policy that does not
// check.
//
// # Safety
// `engine` is NULL or a live engine. `name` and `text` are NULL with length 0, or point to that
// many readable bytes. `overrides_out` is NULL or a valid pointer to write to; `error_out` is
// NULL or one.
entitle_status entitle_overrides_from_jsonl(const entitle_engine *engine,
                                            const uint8_t *name,
                                            size_t name_len,
                                            const uint8_t *text,
                                            size_t text_len,
                                            entitle_overrides **overrides_out,
                                            entitle_error **error_out);

// Reads the JSON Lines override file at `path` (UTF-8 bytes with their length) and checks it
// against `engine` (ABI 5), as `entitle_overrides_from_jsonl` checks text named by the path. A
// file that cannot be read, is not a regular file or is larger than the engine's limit for
// override files (512 MiB by default) is `ENTITLE_STATUS_IO_ERROR`, and one that is not UTF-8
// `ENTITLE_STATUS_INVALID_UTF8`, each with a message naming the path.
//
// # Safety
// As `entitle_overrides_from_jsonl`, for `path`.
entitle_status entitle_overrides_from_path(const entitle_engine *engine,
                                           const uint8_t *path,
                                           size_t path_len,
                                           entitle_overrides **overrides_out,
                                           entitle_error **error_out);

// Writes a new handle on the same set as `overrides` to `*overrides_out` (ABI 5). The two
// share the records (nothing is copied or checked again); each is freed with its own
// `entitle_overrides_free`, in any order and from any thread.
//
// # Safety
// `overrides` is NULL or a live set; `overrides_out` is NULL or writable.
entitle_status entitle_overrides_clone(const entitle_overrides *overrides,
                                       entitle_overrides **overrides_out);

// Frees a set's handle (ABI 5). NULL does nothing. Requests that hold the set keep it: it is
// freed with the last of them.
//
// # Safety
// `overrides` is NULL or a pointer from `entitle_overrides_from_*` or `entitle_overrides_clone`
// not freed before, and no call is using it.
void entitle_overrides_free(entitle_overrides *overrides);

// The id of the tier named `name` (UTF-8 bytes with their length).
//
// Writes the id to `*id_out` and returns `ENTITLE_STATUS_OK`, or returns
// `ENTITLE_STATUS_UNKNOWN_NAME` (writing nothing) when the policy declares no such tier.
//
// # Safety
// `engine` is NULL or a live engine; `name` is NULL with length 0 or points to `name_len`
// readable bytes; `id_out` is NULL or writable.
entitle_status entitle_engine_tier(const entitle_engine *engine,
                                   const uint8_t *name,
                                   size_t name_len,
                                   uint32_t *id_out);

// The id of the feature named `name` (UTF-8 bytes with their length).
//
// Writes the id to `*id_out` and returns `ENTITLE_STATUS_OK`, or returns
// `ENTITLE_STATUS_UNKNOWN_NAME` (writing nothing) when the policy declares no such feature.
//
// # Safety
// `engine` is NULL or a live engine; `name` is NULL with length 0 or points to `name_len`
// readable bytes; `id_out` is NULL or writable.
entitle_status entitle_engine_feature(const entitle_engine *engine,
                                      const uint8_t *name,
                                      size_t name_len,
                                      uint32_t *id_out);

// The id of the limit named `name` (UTF-8 bytes with their length).
//
// Writes the id to `*id_out` and returns `ENTITLE_STATUS_OK`, or returns
// `ENTITLE_STATUS_UNKNOWN_NAME` (writing nothing) when the policy declares no such limit.
//
// # Safety
// `engine` is NULL or a live engine; `name` is NULL with length 0 or points to `name_len`
// readable bytes; `id_out` is NULL or writable.
entitle_status entitle_engine_limit(const entitle_engine *engine,
                                    const uint8_t *name,
                                    size_t name_len,
                                    uint32_t *id_out);

// The id of the add-on named `name` (UTF-8 bytes with their length).
//
// Writes the id to `*id_out` and returns `ENTITLE_STATUS_OK`, or returns
// `ENTITLE_STATUS_UNKNOWN_NAME` (writing nothing) when the policy declares no such add-on.
//
// # Safety
// `engine` is NULL or a live engine; `name` is NULL with length 0 or points to `name_len`
// readable bytes; `id_out` is NULL or writable.
entitle_status entitle_engine_addon(const entitle_engine *engine,
                                    const uint8_t *name,
                                    size_t name_len,
                                    uint32_t *id_out);

// The id of the setting named `name` (UTF-8 bytes with their length).
//
// Writes the id to `*id_out` and returns `ENTITLE_STATUS_OK`, or returns
// `ENTITLE_STATUS_UNKNOWN_NAME` (writing nothing) when the policy declares no such setting.
//
// # Safety
// `engine` is NULL or a live engine; `name` is NULL with length 0 or points to `name_len`
// readable bytes; `id_out` is NULL or writable.
entitle_status entitle_engine_setting(const entitle_engine *engine,
                                      const uint8_t *name,
                                      size_t name_len,
                                      uint32_t *id_out);

// The name of the tier with id `id`: writes its UTF-8 bytes (not NUL-terminated, owned by
// the engine and valid while it lives) to `*name_out` and their length to `*len_out`, or
// returns `ENTITLE_STATUS_UNKNOWN_ID` (writing nothing) for an id this engine does not have.
//
// # Safety
// `engine` is NULL or a live engine; `name_out` and `len_out` are NULL or writable.
entitle_status entitle_engine_tier_name(const entitle_engine *engine,
                                        uint32_t id,
                                        const uint8_t **name_out,
                                        size_t *len_out);

// The name of the feature with id `id`: writes its UTF-8 bytes (not NUL-terminated, owned by
// the engine and valid while it lives) to `*name_out` and their length to `*len_out`, or
// returns `ENTITLE_STATUS_UNKNOWN_ID` (writing nothing) for an id this engine does not have.
//
// # Safety
// `engine` is NULL or a live engine; `name_out` and `len_out` are NULL or writable.
entitle_status entitle_engine_feature_name(const entitle_engine *engine,
                                           uint32_t id,
                                           const uint8_t **name_out,
                                           size_t *len_out);

// The name of the limit with id `id`: writes its UTF-8 bytes (not NUL-terminated, owned by
// the engine and valid while it lives) to `*name_out` and their length to `*len_out`, or
// returns `ENTITLE_STATUS_UNKNOWN_ID` (writing nothing) for an id this engine does not have.
//
// # Safety
// `engine` is NULL or a live engine; `name_out` and `len_out` are NULL or writable.
entitle_status entitle_engine_limit_name(const entitle_engine *engine,
                                         uint32_t id,
                                         const uint8_t **name_out,
                                         size_t *len_out);

// The name of the add-on with id `id`: writes its UTF-8 bytes (not NUL-terminated, owned by
// the engine and valid while it lives) to `*name_out` and their length to `*len_out`, or
// returns `ENTITLE_STATUS_UNKNOWN_ID` (writing nothing) for an id this engine does not have.
//
// # Safety
// `engine` is NULL or a live engine; `name_out` and `len_out` are NULL or writable.
entitle_status entitle_engine_addon_name(const entitle_engine *engine,
                                         uint32_t id,
                                         const uint8_t **name_out,
                                         size_t *len_out);

// The name of the setting with id `id`: writes its UTF-8 bytes (not NUL-terminated, owned by
// the engine and valid while it lives) to `*name_out` and their length to `*len_out`, or
// returns `ENTITLE_STATUS_UNKNOWN_ID` (writing nothing) for an id this engine does not have.
//
// # Safety
// `engine` is NULL or a live engine; `name_out` and `len_out` are NULL or writable.
entitle_status entitle_engine_setting_name(const entitle_engine *engine,
                                           uint32_t id,
                                           const uint8_t **name_out,
                                           size_t *len_out);

// The stable `snake_case` name of a reason, such as `"granted_by_tier"`, as a static
// NUL-terminated string; NULL for a number that is no reason.
const char *entitle_reason_name(uint32_t reason);

// The stable name of a limit status (`"within"`, `"warning"`, `"overage"`, `"exceeded"`), as a
// static NUL-terminated string; NULL for a number that is no status.
const char *entitle_limit_status_name(uint32_t status);

// A new request: no tier, empty key, no add-ons, no seat count, billing anchor day 1, `now` 0,
// no override set. Writes it to `*request_out`; free it with `entitle_request_free`.
//
// # Safety
// `request_out` is NULL or writable.
entitle_status entitle_request_new(entitle_request **request_out);

// Frees a request. NULL does nothing.
//
// # Safety
// `request` is NULL or a pointer from `entitle_request_new` not freed before, and no query
// is reading it.
void entitle_request_free(entitle_request *request);

// Sets the tier by id, clearing a tier set by name. Every query uses it: by-name queries
// through its name in their engine.
//
// # Safety
// `request` is NULL or a live request that no other thread is using.
entitle_status entitle_request_set_tier(entitle_request *request, uint32_t tier);

// Sets the tier by name, clearing a tier set by id. Every query uses it: id-based queries
// look it up in their engine.
//
// # Safety
// `request` is NULL or a live request that no other thread is using; `name` is NULL with
// length 0 or points to `name_len` readable bytes.
entitle_status entitle_request_set_tier_name(entitle_request *request,
                                             const uint8_t *name,
                                             size_t name_len);

// Sets the stable subject key that rollouts hash (a customer or app id), and that the
// records of a held override set are looked up by.
//
// # Safety
// As `entitle_request_set_tier_name`, for `key`.
entitle_status entitle_request_set_key(entitle_request *request,
                                       const uint8_t *key,
                                       size_t key_len);

// Makes the request hold `overrides` (ABI 5), replacing any set it held: every query on it
// then applies the records the set has for the request's key (set before or after this
// call), after the tier, seats and add-ons. A feature record grants (reason
// `granted_by_override`) or revokes (`revoked_by_override`); a limit record changes the limit
// in force, which `entitle_quota2` marks `overridden`; a setting record gives the value
// (reason `granted_by_override` in an `entitle_setting_answer`). A key without records
// answers from the plan alone.
//
// The request keeps its own share of the set: `overrides` may be freed afterwards. A set
// checked against another policy than the engine a query asks is refused for a key it has
// records for: status `ENTITLE_STATUS_OVERRIDES_NOT_FOR_ENGINE` and a deny with reason
// `overrides_not_for_engine`. A NULL `overrides` is `ENTITLE_STATUS_NULL_ARGUMENT` and leaves the
// request unchanged (`entitle_request_clear_overrides` removes a set).
//
// # Safety
// `request` is NULL or a live request that no other thread is using; `overrides` is NULL or a
// live set.
entitle_status entitle_request_set_overrides(entitle_request *request,
                                             const entitle_overrides *overrides);

// Removes the request's override set (ABI 5), as a new request holds none: queries answer from
// the plan alone. A request that holds none is left as it is.
//
// # Safety
// `request` is NULL or a live request that no other thread is using.
entitle_status entitle_request_clear_overrides(entitle_request *request);

// Sets the instant of the query, in Unix seconds (UTC). The engine never reads the clock.
//
// # Safety
// `request` is NULL or a live request that no other thread is using.
entitle_status entitle_request_set_now(entitle_request *request, int64_t now);

// Sets the day of the month (1–31) monthly counters reset on. Other values are
// `ENTITLE_STATUS_INVALID_ARGUMENT` and leave the request unchanged.
//
// # Safety
// `request` is NULL or a live request that no other thread is using.
entitle_status entitle_request_set_billing_anchor(entitle_request *request, uint8_t day);

// Adds a held add-on, by id, for the id-based queries: held once, acquired at no particular
// instant (`entitle_request_add_held` with quantity 1 and no acquisition).
//
// # Safety
// `request` is NULL or a live request that no other thread is using.
entitle_status entitle_request_add_addon(entitle_request *request, uint32_t addon);

// Adds a held add-on, by name, for the by-name queries: held once, acquired at no particular
// instant.
//
// # Safety
// As `entitle_request_set_tier_name`, for `name`.
entitle_status entitle_request_add_addon_name(entitle_request *request,
                                              const uint8_t *name,
                                              size_t name_len);

// Adds a held add-on, by id, for the id-based queries, in `quantity` (ABI 4) and, when
// `has_acquired`, acquired at `acquired` (Unix seconds, UTC: where a trial's length is counted
// from). A quantity of 0 holds nothing: the add-on is still checked (known, listed once) but
// applies nowhere; a quantity above the add-on's maximum (1 unless the policy declares more)
// is answered, by every query, with status `ENTITLE_STATUS_QUANTITY_ABOVE_MAX` and a deny whose
// reason is `quantity_above_max`. An `acquired` of `INT64_MIN` with `has_acquired` is
// `ENTITLE_STATUS_INVALID_ARGUMENT` and leaves the request unchanged.
//
// # Safety
// `request` is NULL or a live request that no other thread is using.
entitle_status entitle_request_add_held(entitle_request *request,
                                        uint32_t addon,
                                        uint64_t quantity,
                                        bool has_acquired,
                                        int64_t acquired);

// Adds a held add-on, by name, for the by-name queries, with its quantity and acquisition as
// for `entitle_request_add_held` (ABI 4). A name that cannot be read (NULL with a length,
// not UTF-8) or an `acquired` of `INT64_MIN` leaves the request unchanged.
//
// # Safety
// As `entitle_request_set_tier_name`, for `name`.
entitle_status entitle_request_add_held_name(entitle_request *request,
                                             const uint8_t *name,
                                             size_t name_len,
                                             uint64_t quantity,
                                             bool has_acquired,
                                             int64_t acquired);

// Sets the subject's seat count (ABI 4), by which a limit's per-seat values are multiplied,
// for every kind of query. A question about a limit with a per-seat value in force and no
// seat count is answered with status `ENTITLE_STATUS_MISSING_INPUT` and a deny whose reason is
// `seats_not_given`.
//
// # Safety
// `request` is NULL or a live request that no other thread is using.
entitle_status entitle_request_set_seats(entitle_request *request, uint64_t seats);

// Removes the seat count (ABI 4), as a new request has none.
//
// # Safety
// `request` is NULL or a live request that no other thread is using.
entitle_status entitle_request_clear_seats(entitle_request *request);

// Removes every held add-on, by id and by name.
//
// # Safety
// `request` is NULL or a live request that no other thread is using.
entitle_status entitle_request_clear_addons(entitle_request *request);

// Whether the subject may use `feature`: writes `true` or `false` to `*allowed_out`.
// `ENTITLE_STATUS_UNKNOWN_ID` (with `false` written) when an id is not this engine's;
// `entitle_decide` says why.
//
// # Safety
// `engine` and `request` are NULL or live handles; `allowed_out` is NULL or writable.
entitle_status entitle_is_allowed(const entitle_engine *engine,
                                  const entitle_request *request,
                                  uint32_t feature,
                                  bool *allowed_out);

// Whether the subject may use `feature`, and why: writes `*decision_out`.
//
// # Safety
// `engine` and `request` are NULL or live handles; `decision_out` is NULL or writable.
entitle_status entitle_decide(const entitle_engine *engine,
                              const entitle_request *request,
                              uint32_t feature,
                              entitle_decision *decision_out);

// How much of `limit` is left, given `used` so far, and whether `requested` more may be
// used: writes `*quota_out`.
//
// # Safety
// `engine` and `request` are NULL or live handles; `quota_out` is NULL or writable.
entitle_status entitle_check_limit(const entitle_engine *engine,
                                   const entitle_request *request,
                                   uint32_t limit,
                                   uint64_t used,
                                   uint64_t requested,
                                   entitle_quota *quota_out);

// `entitle_check_limit` with the ABI-4 answer (ABI 4): writes `*quota_out`, an
// `entitle_quota2` whose `size` the caller sets first, with the seat count the limit was
// multiplied by and no window (`entitle_limit_window` gives it). The statuses are
// `entitle_check_limit`'s, and a `size` smaller than the struct is
// `ENTITLE_STATUS_INVALID_ARGUMENT`, writing nothing.
//
// # Safety
// `engine` and `request` are NULL or live handles; `quota_out` is NULL or points to a
// writable `entitle_quota2` whose `size` is set, with at least `size` bytes.
entitle_status entitle_check_limit2(const entitle_engine *engine,
                                    const entitle_request *request,
                                    uint32_t limit,
                                    uint64_t used,
                                    uint64_t requested,
                                    entitle_quota2 *quota_out);

// The current window of `limit`'s counter for the subject at the request's instant and
// billing anchor (ABI 4): writes `*window_out`, with `has_window` false for a gauge or a cap.
// The window is that of `entitle_check_limit2`'s answer with nothing used, with its status: a
// request that question refuses outright (an unknown id, an add-on held twice or past its
// maximum) has no window, one refused for its limit (a missing seat count) keeps the limit's
// window, and the status says why. For a rolling limit
// (`entitle_quota2.rolling`, ABI 8) the window is `[now − length, now)`, the span whose usage
// the caller gives: `end` is the request's instant, not a reset.
//
// # Safety
// `engine` and `request` are NULL or live handles; `window_out` is NULL or writable.
entitle_status entitle_limit_window(const entitle_engine *engine,
                                    const entitle_request *request,
                                    uint32_t limit,
                                    entitle_window *window_out);

// The value of `setting` for the subject: writes `*value_out` (kind NONE when nothing sets
// it). An unknown id writes kind NONE and returns `ENTITLE_STATUS_UNKNOWN_ID`.
//
// # Safety
// `engine` and `request` are NULL or live handles; `value_out` is NULL or writable. Text in
// the value stays valid while the engine lives, or for a value an override record gives,
// while the request's override set does.
entitle_status entitle_setting_value(const entitle_engine *engine,
                                     const entitle_request *request,
                                     uint32_t setting,
                                     entitle_setting *value_out);

// `entitle_decide` with names: the request's tier and add-on names, and `feature` (UTF-8
// bytes with their length). An unknown name writes a deny whose reason says which kind and
// returns `ENTITLE_STATUS_UNKNOWN_NAME`.
//
// # Safety
// `engine` and `request` are NULL or live handles; `feature` is NULL with length 0 or points
// to `feature_len` readable bytes; `decision_out` is NULL or writable.
entitle_status entitle_decide_by_name(const entitle_engine *engine,
                                      const entitle_request *request,
                                      const uint8_t *feature,
                                      size_t feature_len,
                                      entitle_decision *decision_out);

// `entitle_check_limit` with names, as `entitle_decide_by_name`.
//
// # Safety
// As `entitle_decide_by_name`, for `limit` and `quota_out`.
entitle_status entitle_check_limit_by_name(const entitle_engine *engine,
                                           const entitle_request *request,
                                           const uint8_t *limit,
                                           size_t limit_len,
                                           uint64_t used,
                                           uint64_t requested,
                                           entitle_quota *quota_out);

// `entitle_check_limit2` with names (ABI 4), as `entitle_decide_by_name`.
//
// # Safety
// As `entitle_decide_by_name`, for `limit`; `quota_out` as for `entitle_check_limit2`.
entitle_status entitle_check_limit_by_name2(const entitle_engine *engine,
                                            const entitle_request *request,
                                            const uint8_t *limit,
                                            size_t limit_len,
                                            uint64_t used,
                                            uint64_t requested,
                                            entitle_quota2 *quota_out);

// `entitle_limit_window` with names (ABI 4), as `entitle_decide_by_name`.
//
// # Safety
// As `entitle_decide_by_name`, for `limit`; `window_out` is NULL or writable.
entitle_status entitle_limit_window_by_name(const entitle_engine *engine,
                                            const entitle_request *request,
                                            const uint8_t *limit,
                                            size_t limit_len,
                                            entitle_window *window_out);

// `entitle_setting_value` with names, as `entitle_decide_by_name`.
//
// # Safety
// As `entitle_decide_by_name`, for `setting` and `value_out`.
entitle_status entitle_setting_value_by_name(const entitle_engine *engine,
                                             const entitle_request *request,
                                             const uint8_t *setting,
                                             size_t setting_len,
                                             entitle_setting *value_out);

// The value of `setting` for the subject in full (ABI 3): writes `*answer_out`, whose `size`
// the caller sets to `sizeof(entitle_setting_answer)` first. Unlike `entitle_setting_value`
// it says why (who sets the value, or which id was unknown) and gives the display text.
// An unknown id writes kind NONE with the reason and returns `ENTITLE_STATUS_UNKNOWN_ID`; a
// `size` smaller than the struct is `ENTITLE_STATUS_INVALID_ARGUMENT`, writing nothing.
//
// # Safety
// `engine` and `request` are NULL or live handles; `answer_out` is NULL or points to a
// writable `entitle_setting_answer` whose `size` is set. Text and display text in the answer
// stay valid while the engine lives, or for a value an override record gives, while the
// request's override set does.
entitle_status entitle_answer_setting(const entitle_engine *engine,
                                      const entitle_request *request,
                                      uint32_t setting,
                                      entitle_setting_answer *answer_out);

// `entitle_answer_setting` with names, as `entitle_decide_by_name`: an unknown tier, add-on
// or setting name writes kind NONE with the reason that says which, and returns
// `ENTITLE_STATUS_UNKNOWN_NAME`; more add-ons than the limit returns
// `ENTITLE_STATUS_INPUT_LIMIT` with reason `too_many_addons`.
//
// # Safety
// As `entitle_answer_setting`; `setting` is NULL with length 0 or points to `setting_len`
// readable bytes.
entitle_status entitle_answer_setting_by_name(const entitle_engine *engine,
                                              const entitle_request *request,
                                              const uint8_t *setting,
                                              size_t setting_len,
                                              entitle_setting_answer *answer_out);

// The answer to a JSON query line, in the JSON shape of `entitle eval` (the same for every
// language): one query object in, one answer object out, as a new NUL-terminated string
// written to `*json_out` and freed with `entitle_string_free`; explanations are asked for with
// `"explain": true`. A query that is UTF-8 but not one the protocol reads (not a JSON object,
// too long, a field missing or mistyped) is answered with `{"error": "..."}` and status OK.
// Bytes that are not UTF-8 are `ENTITLE_STATUS_INVALID_UTF8`, as for every string argument,
// and write no JSON.
//
// # Safety
// `engine` is NULL or live; `query` is NULL with length 0 or points to `query_len` readable
// bytes; `json_out` is NULL or writable.
entitle_status entitle_query_json(const entitle_engine *engine,
                                  const uint8_t *query,
                                  size_t query_len,
                                  char **json_out);

// `entitle_query_json` with an override set (ABI 5): each query's subject (its `"key"`) takes
// its records from `overrides`, as a request holding the set would, and a limit answer an
// override changed says `"overridden": true`. A set checked against another policy answers a
// query whose key has records with reason `overrides_not_for_engine`, in the JSON and with status
// OK, as every answer of the protocol is given. A NULL `overrides` is
// `ENTITLE_STATUS_NULL_ARGUMENT` (`entitle_query_json` answers without a set).
//
// # Safety
// As `entitle_query_json`; `overrides` is NULL or a live set.
entitle_status entitle_query_json_with_overrides(const entitle_engine *engine,
                                                 const entitle_overrides *overrides,
                                                 const uint8_t *query,
                                                 size_t query_len,
                                                 char **json_out);

// Explains `entitle_decide`: the rules behind the decision, with their source spans, and an
// upgrade hint, as a JSON object (`{"answer": {...}, "explain": {"steps": [...], "upgrade":
// ...}}`, the shape of the Rust crate's `wire`) written to `*json_out` as a new NUL-terminated
// string freed with `entitle_string_free`. Slow path: it allocates.
//
// # Safety
// `engine` and `request` are NULL or live handles; `json_out` is NULL or writable.
entitle_status entitle_explain_feature(const entitle_engine *engine,
                                       const entitle_request *request,
                                       uint32_t feature,
                                       char **json_out);

// Explains `entitle_check_limit`, as `entitle_explain_feature` explains a decision.
//
// # Safety
// `engine` and `request` are NULL or live handles; `json_out` is NULL or writable.
entitle_status entitle_explain_limit(const entitle_engine *engine,
                                     const entitle_request *request,
                                     uint32_t limit,
                                     uint64_t used,
                                     uint64_t requested,
                                     char **json_out);

// `entitle_explain_feature` with names (ABI 3), as `entitle_decide_by_name`: the request's
// tier and add-on names, and `feature` (UTF-8 bytes with their length). The answer is the one
// `entitle_decide_by_name` gives; an unknown name returns `ENTITLE_STATUS_UNKNOWN_NAME` with
// an explanation saying so, and more add-ons than the limit `ENTITLE_STATUS_INPUT_LIMIT`.
//
// # Safety
// `engine` and `request` are NULL or live handles; `feature` is NULL with length 0 or points
// to `feature_len` readable bytes; `json_out` is NULL or writable.
entitle_status entitle_explain_feature_by_name(const entitle_engine *engine,
                                               const entitle_request *request,
                                               const uint8_t *feature,
                                               size_t feature_len,
                                               char **json_out);

// `entitle_explain_limit` with names (ABI 3), as `entitle_explain_feature_by_name`.
//
// # Safety
// As `entitle_explain_feature_by_name`, for `limit`.
entitle_status entitle_explain_limit_by_name(const entitle_engine *engine,
                                             const entitle_request *request,
                                             const uint8_t *limit,
                                             size_t limit_len,
                                             uint64_t used,
                                             uint64_t requested,
                                             char **json_out);

// Frees a string this library returned. NULL does nothing.
//
// # Safety
// `string` is NULL or a pointer this library returned as a string to free, not freed before.
void entitle_string_free(char *string);

// Whether the subject may use each of `features` (`count` ids): writes `allowed_out[i]` for
// the `i`-th, as `entitle_is_allowed` would, in one call (ABI 3). `capacity` is how many
// answers `allowed_out` holds: less than `count` is `ENTITLE_STATUS_BUFFER_TOO_SMALL`, writing
// nothing. `features` and `allowed_out` may be NULL when `count` is 0.
//
// Every answer is written; the status is `ENTITLE_STATUS_OK` when every id (of the request
// and of `features`) is the engine's, and otherwise the status the first unknown one gives:
// `ENTITLE_STATUS_UNKNOWN_ID` (an unknown id answers `false`), or
// `ENTITLE_STATUS_UNKNOWN_NAME` for a tier set by name that the engine does not have. A
// request that holds one add-on more than once is `ENTITLE_STATUS_DUPLICATE_ADDON`, and one
// that holds more add-ons than the engine's limit (32 by default) `ENTITLE_STATUS_INPUT_LIMIT`,
// every answer a deny (reason `duplicate_addon` or `too_many_addons` in the decisions of
// `entitle_decide_many`). From ABI 4, a request that holds an add-on past its maximum
// quantity is `ENTITLE_STATUS_QUANTITY_ABOVE_MAX`, and one without an input a question needs
// (a trial's acquisition, or for a limit a seat count) `ENTITLE_STATUS_MISSING_INPUT`, with
// the reason in every answer it refuses. From ABI 5, a request whose override set was checked
// against another policy, and has records for its key, is
// `ENTITLE_STATUS_OVERRIDES_NOT_FOR_ENGINE`, every answer a deny with that reason.
//
// The input and output arrays must not overlap: a call given overlapping arrays may answer
// wrongly (it reads each group of inputs before it writes their answers, which keeps it
// memory-safe, not right).
//
// # Safety
// `engine` and `request` are NULL or live handles; `features` is NULL with count 0 or points
// to `count` readable ids; `allowed_out` is NULL or points to `capacity` writable `bool`s,
// not overlapping `features`.
entitle_status entitle_is_allowed_many(const entitle_engine *engine,
                                       const entitle_request *request,
                                       const uint32_t *features,
                                       size_t count,
                                       bool *allowed_out,
                                       size_t capacity);

// Whether the subject may use each of `features`, and why: writes `decisions_out[i]` for the
// `i`-th, as `entitle_decide` would, in one call (ABI 3). Buffers, NULL and statuses as for
// `entitle_is_allowed_many` (`ENTITLE_STATUS_OK`, `_UNKNOWN_ID`, `_UNKNOWN_NAME`,
// `_DUPLICATE_ADDON`, `_INPUT_LIMIT`, `_BUFFER_TOO_SMALL`, `_NULL_ARGUMENT`,
// `_INVALID_ARGUMENT`); an
// unknown id's decision says which kind was unknown. `features` and `decisions_out` must not
// overlap.
//
// # Safety
// `engine` and `request` are NULL or live handles; `features` is NULL with count 0 or points
// to `count` readable ids; `decisions_out` is NULL or points to `capacity` writable decisions,
// not overlapping `features`.
entitle_status entitle_decide_many(const entitle_engine *engine,
                                   const entitle_request *request,
                                   const uint32_t *features,
                                   size_t count,
                                   entitle_decision *decisions_out,
                                   size_t capacity);

// How much of each limit is left and whether the request may proceed: writes
// `quotas_out[i]` for `limits[i]` given `used[i]` and `requested[i]`, as
// `entitle_check_limit` would, in one call (ABI 3). The three input arrays hold `count`
// elements each. Buffers, NULL and statuses as for `entitle_is_allowed_many`
// (`ENTITLE_STATUS_OK`, `_UNKNOWN_ID`, `_UNKNOWN_NAME`, `_DUPLICATE_ADDON`, `_INPUT_LIMIT`,
// `_BUFFER_TOO_SMALL`, `_NULL_ARGUMENT`, `_INVALID_ARGUMENT`). `quotas_out` must not overlap
// any of the three input arrays.
//
// # Safety
// `engine` and `request` are NULL or live handles; `limits`, `used` and `requested` are NULL
// with count 0 or each point to `count` readable elements; `quotas_out` is NULL or points to
// `capacity` writable quotas, overlapping none of them.
entitle_status entitle_check_limit_many(const entitle_engine *engine,
                                        const entitle_request *request,
                                        const uint32_t *limits,
                                        const uint64_t *used,
                                        const uint64_t *requested,
                                        size_t count,
                                        entitle_quota *quotas_out,
                                        size_t capacity);

// One request against several limits (ABI 6): `entitle_check_limit_many`'s answers, and in
// `*binding_out` the index of the answer that binds the request: the first answer, in order,
// of the worst outcome (the first deny; with none, the first in overage, then the first at a
// warning, then the first answer), as the Rust crate's `entitle::binding` chooses it. A
// request is allowed only when every answer is. With no limits (`count` 0), `*binding_out` is
// 0, which is `count`: an index equal to `count` means that nothing binds.
//
// Arrays, buffers and statuses as for `entitle_check_limit_many`; `binding_out` NULL is
// `ENTITLE_STATUS_NULL_ARGUMENT`, writing nothing. `*binding_out` is written whenever the
// answers are (every status but `_BUFFER_TOO_SMALL`, `_NULL_ARGUMENT`, `_INVALID_ARGUMENT`).
//
// # Safety
// As `entitle_check_limit_many`, and `binding_out` is NULL or points to a writable `size_t`
// that overlaps none of the arrays.
entitle_status entitle_check_limits(const entitle_engine *engine,
                                    const entitle_request *request,
                                    const uint32_t *limits,
                                    const uint64_t *used,
                                    const uint64_t *requested,
                                    size_t count,
                                    entitle_quota *quotas_out,
                                    size_t capacity,
                                    size_t *binding_out);

// The subject's whole entitlement (ABI 3): every feature's decision, every limit's quota and
// every setting's answer, in declaration order, as `entitle_query_json` answers a query with
// `"entitlements": true` (whose `features`, `limits` and `settings` are keyed by name; here
// index `i` is the `i`-th declared item, and the `*_ids` arrays, when given, receive its id).
//
// `usage_limits` and `usage_used` (`usage_count` elements each, NULL with 0) give the usage
// of limits by id, as the query's `usage` does by name: a limit not listed has used 0, a
// limit listed twice takes the last, and every question requests 0. A listed id that is not
// one of the engine's limits is `ENTITLE_STATUS_UNKNOWN_ID`, writing nothing (the query's
// `unknown_usage` error).
//
// The caller fills `*out` (its `size`, the arrays, their capacities, `setting_size`). The
// library checks every pointer and size first: a NULL array with room for its count is
// `ENTITLE_STATUS_NULL_ARGUMENT`, a `size` smaller than ABI 3's struct, or a `setting_size`
// smaller than ABI 3's `entitle_setting_answer` when the settings have room, is
// `ENTITLE_STATUS_INVALID_ARGUMENT`, and either writes nothing, not even the counts. Then a
// capacity smaller than its count is `ENTITLE_STATUS_BUFFER_TOO_SMALL` with only the three
// counts written, so a caller can size its arrays from a first call with capacities 0.
// Otherwise the library writes every answer and the counts, and the status is that of the
// first unknown id, as for the batch calls (`ENTITLE_STATUS_OK`, `_UNKNOWN_ID`,
// `_UNKNOWN_NAME`, `_DUPLICATE_ADDON`, `_INPUT_LIMIT`).
//
// The usage arrays must not overlap any array the library writes, nor `*out`. (Every limit's
// usage is read before the id arrays are written, so one of them passed back as
// `usage_limits` is still read as it was given; a caller must not rely on that.)
//
// # Safety
// `engine` and `request` are NULL or live handles; the usage arrays are NULL with count 0 or
// point to `usage_count` readable elements; `out` is NULL or points to a writable
// `entitle_entitlements` whose array pointers are NULL or point to their capacity of
// writable elements (`setting_size` bytes apart for `settings`), none of them overlapping the
// usage arrays. Setting texts stay valid while the engine lives, or for a value an override
// record gives, while the request's override set does.
entitle_status entitle_query_entitlements(const entitle_engine *engine,
                                          const entitle_request *request,
                                          const uint32_t *usage_limits,
                                          const uint64_t *usage_used,
                                          size_t usage_count,
                                          entitle_entitlements *out);

// `entitle_check_limit` for a limit that may draw on a pool (ABI 7): `used` is what is used
// of the pool and `requested` is in the limit's own units. Writes `*draw_out`: the pool's
// answer, the pool's id, the request's cost and what is left in the limit's units. A limit
// that draws on nothing is its own pool at 1 per 1. Statuses as for `entitle_check_limit`.
//
// # Safety
// `engine` and `request` are NULL or live handles; `draw_out` is NULL or points to a
// writable `entitle_draw` whose `size` is set, with at least `size` bytes.
entitle_status entitle_check_draw(const entitle_engine *engine,
                                  const entitle_request *request,
                                  uint32_t limit,
                                  uint64_t used,
                                  uint64_t requested,
                                  entitle_draw *draw_out);

// `entitle_check_draw` with names (ABI 7), as `entitle_decide_by_name`. An unknown limit is
// answered `unknown_limit`, its own pool with id `UINT32_MAX`.
//
// # Safety
// As `entitle_decide_by_name`, for `limit`; `draw_out` as for `entitle_check_draw`.
entitle_status entitle_check_draw_by_name(const entitle_engine *engine,
                                          const entitle_request *request,
                                          const uint8_t *limit,
                                          size_t limit_len,
                                          uint64_t used,
                                          uint64_t requested,
                                          entitle_draw *draw_out);

// The status of a failed load.
//
// # Safety
// `error` is NULL or a live error; NULL gives `ENTITLE_STATUS_NULL_ARGUMENT`.
entitle_status entitle_error_status(const entitle_error *error);

// The error's message as a NUL-terminated UTF-8 string owned by the error (valid until
// `entitle_error_free`). For a policy error, or an override set's, it names the first error's
// `file:line:col`.
// NULL for a NULL error.
//
// # Safety
// `error` is NULL or a live error.
const char *entitle_error_message(const entitle_error *error);

// Copies the error's message, NUL-terminated, into `buffer` of `capacity` bytes. Writes the
// size needed (message and NUL) to `*needed_out` when it is not NULL. Returns
// `ENTITLE_STATUS_BUFFER_TOO_SMALL`, writing nothing to `buffer`, when `capacity` is less.
//
// # Safety
// `error` is NULL or a live error; `buffer` is NULL with capacity 0 or points to `capacity`
// writable bytes; `needed_out` is NULL or writable.
entitle_status entitle_error_copy_message(const entitle_error *error,
                                          char *buffer,
                                          size_t capacity,
                                          size_t *needed_out);

// Every diagnostic of a policy error, or of an override set's (ABI 5), as a JSON array (the
// one shape of the Rust crate's `wire::diagnostics`: code, severity, message, file, line,
// column, …), NUL-terminated and owned by the error. NULL for other errors and for a NULL
// error.
//
// # Safety
// `error` is NULL or a live error.
const char *entitle_error_diagnostics_json(const entitle_error *error);

// Frees an error. NULL does nothing.
//
// # Safety
// `error` is NULL or an error this library wrote, not freed before.
void entitle_error_free(entitle_error *error);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* ENTITLE_H */
