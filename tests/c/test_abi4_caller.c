/*
 * A caller built against the ABI-4 header, run against the current library.
 *
 * `#include "entitle.h"` resolves to tests/c/abi4/entitle.h: include/entitle.h as it was at
 * ABI version 4 (commit c4f267c), kept byte for byte and never regenerated, so that this
 * program sees only what a program compiled before ABI 5 saw. ABI 5 adds functions, statuses
 * and reasons, and a field at the end of the size-prefixed `entitle_quota2`; this program holds
 * the library to that by calling what ABI 4 added (add-ons held in a quantity and since an
 * instant, seat counts, the quota without its window and the window on its own) and checking
 * that an `entitle_quota2` of the ABI-4 size is answered in full and nothing is written past
 * it, for policies/rtc-sdk.policy. (tests/c/test_abi1_caller.c to test_abi3_caller.c cover the
 * older surfaces.)
 *
 * Built with -Wall -Wextra -Werror -pedantic and run under AddressSanitizer and
 * UndefinedBehaviorSanitizer, then again under valgrind (ffi/tests/c.rs drives both).
 * Usage: test_abi4_caller PATH_TO_RTC_SDK_POLICY
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entitle.h"
#include "check.h"
#include "caller.h"

/* 2026-11-21T10:00:00Z; the day window around it is 2026-11-21T00:00:00Z to the next day. */
static const int64_t NOW = 1795255200;
static const int64_t DAY_START = 1795219200;
static const int64_t DAY_END = 1795305600;

static uint32_t id(entitle_status (*lookup)(const entitle_engine *, const uint8_t *, size_t, uint32_t *),
                   const entitle_engine *engine, const char *name) {
    uint32_t out = 0;
    CHECK(lookup(engine, S(name), &out) == ENTITLE_STATUS_OK);
    return out;
}

/* The ABI-4 quota with the bytes after it, which the library must leave as they were. */
struct guarded_quota {
    entitle_quota2 quota;
    unsigned char after[16];
};

int main(int argc, char **argv) {
    entitle_engine *engine = caller_engine(argc, argv, 4);
    uint32_t pro = id(entitle_engine_tier, engine, "pro");
    uint32_t calls = id(entitle_engine_limit, engine, "api_calls_per_day");
    uint32_t storage = id(entitle_engine_limit, engine, "storage");
    uint32_t pack = id(entitle_engine_addon, engine, "storage_pack");

    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier(request, pro) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_key(request, S("app-42")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);

    /* The quota at the ABI-4 size: every field written, nothing past the struct. */
    struct guarded_quota guarded;
    memset(&guarded, GUARD_BYTE, sizeof guarded);
    guarded.quota.size = sizeof guarded.quota;
    CHECK(entitle_check_limit2(engine, request, calls, 990000, 20000, &guarded.quota) == ENTITLE_STATUS_OK);
    CHECK(guarded.quota.size == sizeof(entitle_quota2) && untouched(guarded.after, sizeof guarded.after));
    CHECK(guarded.quota.allowed && guarded.quota.reason == ENTITLE_REASON_OVERAGE);
    CHECK(guarded.quota.status == ENTITLE_LIMIT_STATUS_OVERAGE && guarded.quota.remaining.value == 10000);
    CHECK(guarded.quota.limit.value == 1000000 && !guarded.quota.limit.unlimited);
    CHECK(guarded.quota.has_soft_cap && guarded.quota.soft_cap.value == 1200000 && !guarded.quota.has_seats);
    printf("api_calls_per_day for pro: %s, %llu left\n", entitle_limit_status_name(guarded.quota.status),
           (unsigned long long)guarded.quota.remaining.value);
    memset(&guarded, GUARD_BYTE, sizeof guarded);
    guarded.quota.size = sizeof guarded.quota;
    CHECK(entitle_check_limit_by_name2(engine, request, S("api_calls_per_day"), 990000, 20000, &guarded.quota) ==
          ENTITLE_STATUS_OK);
    CHECK(untouched(guarded.after, sizeof guarded.after) && guarded.quota.remaining.value == 10000);
    entitle_window window;
    CHECK(entitle_limit_window(engine, request, calls, &window) == ENTITLE_STATUS_OK);
    CHECK(window.has_window && window.start == DAY_START && window.end == DAY_END);

    /* Add-ons in a quantity: three packs add 150 GiB to pro's storage; past the maximum is refused. */
    CHECK(entitle_request_add_held(request, pack, 3, false, 0) == ENTITLE_STATUS_OK);
    memset(&guarded, GUARD_BYTE, sizeof guarded);
    guarded.quota.size = sizeof guarded.quota;
    CHECK(entitle_check_limit2(engine, request, storage, 0, 0, &guarded.quota) == ENTITLE_STATUS_OK);
    CHECK(untouched(guarded.after, sizeof guarded.after) && guarded.quota.allowed && !guarded.quota.has_seats);
    entitle_quota2 plain = {.size = sizeof plain};
    CHECK(entitle_request_clear_addons(request) == ENTITLE_STATUS_OK);
    CHECK(entitle_check_limit2(engine, request, storage, 0, 0, &plain) == ENTITLE_STATUS_OK);
    CHECK(guarded.quota.limit.value - plain.limit.value == 150ULL * 1024 * 1024 * 1024);
    printf("storage with three packs: %llu GiB more\n",
           (unsigned long long)((guarded.quota.limit.value - plain.limit.value) >> 30));
    CHECK(entitle_request_add_held_name(request, S("storage_pack"), 21, false, 0) == ENTITLE_STATUS_OK);
    CHECK(entitle_check_limit_by_name2(engine, request, S("storage"), 0, 0, &plain) ==
          ENTITLE_STATUS_QUANTITY_ABOVE_MAX);
    CHECK(!plain.allowed && plain.reason == ENTITLE_REASON_QUANTITY_ABOVE_MAX);
    CHECK(entitle_request_add_held(request, pack, 1, true, INT64_MIN) == ENTITLE_STATUS_INVALID_ARGUMENT);
    CHECK(entitle_request_clear_addons(request) == ENTITLE_STATUS_OK);

    /* Seats: team's per-seat minutes need a seat count, and are multiplied by it. */
    CHECK(entitle_request_set_tier_name(request, S("team")) == ENTITLE_STATUS_OK);
    CHECK(entitle_check_limit_by_name2(engine, request, S("ai_minutes"), 0, 0, &plain) ==
          ENTITLE_STATUS_MISSING_INPUT);
    CHECK(!plain.allowed && plain.reason == ENTITLE_REASON_SEATS_NOT_GIVEN);
    CHECK(entitle_request_set_seats(request, 10) == ENTITLE_STATUS_OK);
    memset(&guarded, GUARD_BYTE, sizeof guarded);
    guarded.quota.size = sizeof guarded.quota;
    CHECK(entitle_check_limit_by_name2(engine, request, S("ai_minutes"), 0, 0, &guarded.quota) == ENTITLE_STATUS_OK);
    CHECK(untouched(guarded.after, sizeof guarded.after) && guarded.quota.has_seats && guarded.quota.seats == 10);
    CHECK(guarded.quota.limit.value == 10000);
    printf("ai_minutes for team with 10 seats: %llu\n", (unsigned long long)guarded.quota.limit.value);
    CHECK(entitle_request_clear_seats(request) == ENTITLE_STATUS_OK);
    CHECK(entitle_check_limit_by_name2(engine, request, S("ai_minutes"), 0, 0, &plain) ==
          ENTITLE_STATUS_MISSING_INPUT);

    /* A size below the ABI-4 struct is still refused, with nothing written. */
    entitle_quota2 small = {.size = sizeof small - 1, .remaining = {7, false}};
    CHECK(entitle_check_limit2(engine, request, calls, 0, 0, &small) == ENTITLE_STATUS_INVALID_ARGUMENT);
    CHECK(small.remaining.value == 7);

    entitle_request_free(request);
    entitle_engine_free(engine);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
