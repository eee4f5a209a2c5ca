/*
 * A caller built against the ABI-5 header, run against the current library.
 *
 * `#include "entitle.h"` resolves to tests/c/abi5/entitle.h: include/entitle.h as it was at
 * ABI version 5 (commit a828d91), kept byte for byte and never regenerated, so that this
 * program sees only what a program compiled before ABI 6 saw. ABI 6 adds functions; this
 * program holds the library to what ABI 5 added (override sets, checked against an engine,
 * held by requests, marked in the quota's `overridden`, and answering JSON queries) and checks
 * that an `entitle_quota2` of the ABI-5 size is answered in full and nothing is written past
 * it, for policies/rtc-sdk.policy. (tests/c/test_abi1_caller.c to test_abi4_caller.c cover the
 * older surfaces.)
 *
 * Built with -Wall -Wextra -Werror -pedantic and run under AddressSanitizer and
 * UndefinedBehaviorSanitizer, then again under valgrind (ffi/tests/c.rs drives both).
 * Usage: test_abi5_caller PATH_TO_RTC_SDK_POLICY
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entitle.h"
#include "check.h"
#include "caller.h"

/* 2026-11-21T10:00:00Z. */
static const int64_t NOW = 1795255200;

/* The ABI-5 quota with the bytes after it, which the library must leave as they were. */
struct guarded_quota {
    entitle_quota2 quota;
    unsigned char after[16];
};

static void guard(struct guarded_quota *guarded) {
    memset(guarded, GUARD_BYTE, sizeof *guarded);
    guarded->quota.size = sizeof guarded->quota;
}

int main(int argc, char **argv) {
    entitle_engine *engine = caller_engine(argc, argv, 5);

    /* An override set checked against the engine: acme's daily calls are raised. */
    entitle_error *error = NULL;
    const char *records = "{\"subject\":\"acme\",\"limit\":\"api_calls_per_day\",\"op\":\"=\",\"value\":2000000}\n";
    entitle_overrides *overrides = NULL;
    CHECK(entitle_overrides_from_jsonl(engine, S("o.jsonl"), S(records), &overrides, &error) == ENTITLE_STATUS_OK);
    const char *bad = "{\"subject\":\"acme\",\"limit\":\"no_such_limit\",\"op\":\"=\",\"value\":1}\n";
    entitle_overrides *refused = NULL;
    CHECK(entitle_overrides_from_jsonl(engine, S("bad.jsonl"), S(bad), &refused, &error) ==
          ENTITLE_STATUS_OVERRIDES_ERROR);
    CHECK(refused == NULL && error != NULL && strstr(entitle_error_message(error), "bad.jsonl:1:") != NULL);
    entitle_error_free(error);

    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, S("pro")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_key(request, S("acme")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_overrides(request, overrides) == ENTITLE_STATUS_OK);
    /* The request holds the set: its handle may go first. */
    entitle_overrides_free(overrides);

    struct guarded_quota guarded;
    guard(&guarded);
    CHECK(entitle_check_limit_by_name2(engine, request, S("api_calls_per_day"), 1500000, 1, &guarded.quota) ==
          ENTITLE_STATUS_OK);
    CHECK(guarded.quota.size == sizeof(entitle_quota2) && untouched(guarded.after, sizeof guarded.after));
    CHECK(guarded.quota.allowed && guarded.quota.overridden && guarded.quota.limit.value == 2000000);
    printf("api_calls_per_day for acme: %llu, overridden\n", (unsigned long long)guarded.quota.limit.value);

    /* The batch call answers alike, and a subject without records answers from the plan. */
    uint32_t calls = 0;
    CHECK(entitle_engine_limit(engine, S("api_calls_per_day"), &calls) == ENTITLE_STATUS_OK);
    uint64_t used = 1500000, requested = 1;
    entitle_quota many[1];
    CHECK(entitle_check_limit_many(engine, request, &calls, &used, &requested, 1, many, 1) == ENTITLE_STATUS_OK);
    CHECK(many[0].allowed && many[0].limit.value == 2000000);
    CHECK(entitle_request_set_key(request, S("app-42")) == ENTITLE_STATUS_OK);
    guard(&guarded);
    CHECK(entitle_check_limit2(engine, request, calls, 1500000, 1, &guarded.quota) == ENTITLE_STATUS_OK);
    CHECK(untouched(guarded.after, sizeof guarded.after) && !guarded.quota.allowed && !guarded.quota.overridden);
    CHECK(guarded.quota.limit.value == 1000000);
    printf("api_calls_per_day for app-42: %llu, from the plan\n", (unsigned long long)guarded.quota.limit.value);

    /* Without the set, acme answers from the plan too. */
    CHECK(entitle_request_set_key(request, S("acme")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_clear_overrides(request) == ENTITLE_STATUS_OK);
    guard(&guarded);
    CHECK(entitle_check_limit2(engine, request, calls, 0, 0, &guarded.quota) == ENTITLE_STATUS_OK);
    CHECK(untouched(guarded.after, sizeof guarded.after) && !guarded.quota.overridden && guarded.quota.limit.value == 1000000);

    entitle_request_free(request);
    entitle_engine_free(engine);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
