/*
 * A caller built against the ABI-2 header, run against the current library.
 *
 * `#include "entitle.h"` resolves to tests/c/abi2/entitle.h: include/entitle.h as it was at
 * ABI version 2 (commit 5d00968), kept byte for byte and never regenerated, so that this
 * program sees only what a program compiled before ABI 3 saw. ABI 3 only adds functions and
 * structs; this program holds the library to that by calling what ABI 2 added or changed
 * (engine clones, one tier per request read by every query, ids that carry their engine) and
 * the queries through the structs of ABI 2, and checking their answers for
 * policies/rtc-sdk.policy. (tests/c/test_abi1_caller.c covers the ABI-1 surface.)
 *
 * Built with -Wall -Wextra -Werror -pedantic and run under AddressSanitizer and
 * UndefinedBehaviorSanitizer, then again under valgrind (ffi/tests/c.rs drives both).
 * Usage: test_abi2_caller PATH_TO_RTC_SDK_POLICY
 */

#include <stdio.h>
#include <string.h>

#include "entitle.h"
#include "check.h"
#include "caller.h"

/* 2026-11-21T10:00:00Z; the day window around it ends 2026-11-22T00:00:00Z. */
static const int64_t NOW = 1795255200;
static const int64_t DAY_END = 1795305600;

static uint32_t id(entitle_status (*lookup)(const entitle_engine *, const uint8_t *, size_t, uint32_t *),
                   const entitle_engine *engine, const char *name) {
    uint32_t out = 0;
    CHECK(lookup(engine, S(name), &out) == ENTITLE_STATUS_OK);
    return out;
}

static const char *yes(bool allowed) {
    return allowed ? "allowed" : "denied";
}

int main(int argc, char **argv) {
    entitle_engine *engine = caller_engine(argc, argv, 2);
    /* A clone answers alike and outlives the handle it came from. */
    entitle_engine *clone = NULL;
    CHECK(entitle_engine_clone(engine, &clone) == ENTITLE_STATUS_OK && clone != NULL);
    CHECK(entitle_engine_clone(NULL, &clone) == ENTITLE_STATUS_NULL_ARGUMENT);
    uint32_t pro = id(entitle_engine_tier, engine, "pro");
    uint32_t free_tier = id(entitle_engine_tier, engine, "free");
    uint32_t hd = id(entitle_engine_feature, engine, "hd_video");
    uint32_t calls = id(entitle_engine_limit, engine, "api_calls_per_day");
    uint32_t channel = id(entitle_engine_setting, engine, "support_channel");
    entitle_engine_free(engine);

    /* One tier per request: the last set wins, and every query reads it. */
    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier(request, free_tier) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, S("pro")) == ENTITLE_STATUS_OK);
    entitle_decision decision;
    CHECK(entitle_decide(clone, request, hd, &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_TIER);
    printf("hd_video for the tier set last (pro): %s (%s)\n", yes(decision.allowed),
           entitle_reason_name(decision.reason));
    CHECK(entitle_request_set_tier(request, free_tier) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide_by_name(clone, request, S("hd_video"), &decision) == ENTITLE_STATUS_OK);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_NOT_GRANTED);
    printf("hd_video by name for the tier set last (free): %s (%s)\n", yes(decision.allowed),
           entitle_reason_name(decision.reason));

    /* The structs of ABI 2 keep their layout. */
    CHECK(entitle_request_set_tier(request, pro) == ENTITLE_STATUS_OK);
    entitle_quota quota;
    CHECK(entitle_check_limit(clone, request, calls, 990000, 20000, &quota) == ENTITLE_STATUS_OK);
    CHECK(quota.allowed && quota.status == ENTITLE_LIMIT_STATUS_OVERAGE && quota.remaining.value == 10000);
    CHECK(quota.has_soft_cap && quota.soft_cap.value == 1200000 && quota.has_window && quota.window_end == DAY_END);
    printf("api_calls_per_day for pro: %s, %llu left\n", entitle_limit_status_name(quota.status),
           (unsigned long long)quota.remaining.value);
    entitle_setting value;
    CHECK(entitle_setting_value(clone, request, channel, &value) == ENTITLE_STATUS_OK);
    CHECK(value.kind == ENTITLE_SETTING_KIND_TEXT && value.text_len == 5 && memcmp(value.text, "email", 5) == 0);

    /* Ids carry their engine: another engine's id, or a bare position, is unknown. */
    entitle_engine *other = NULL;
    const char *text = "policy \"other\"\nfeature hd_video\ntier pro { grant hd_video }\n";
    CHECK(entitle_engine_from_source(S("other.policy"), S(text), &other, NULL) == ENTITLE_STATUS_OK);
    uint32_t their_hd = id(entitle_engine_feature, other, "hd_video");
    CHECK(their_hd != hd);
    CHECK(entitle_decide(clone, request, their_hd, &decision) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_UNKNOWN_FEATURE);
    CHECK(entitle_decide(clone, request, 0, &decision) == ENTITLE_STATUS_UNKNOWN_ID);
    printf("another engine's hd_video: %s (%s)\n", yes(decision.allowed), entitle_reason_name(decision.reason));
    entitle_engine_free(other);

    /* A query that is not UTF-8 writes no JSON. */
    char *json = NULL;
    const uint8_t not_utf8[] = {'{', 0xff, '}'};
    CHECK(entitle_query_json(clone, not_utf8, sizeof not_utf8, &json) == ENTITLE_STATUS_INVALID_UTF8 && json == NULL);

    entitle_request_free(request);
    entitle_engine_free(clone);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
