/*
 * A caller built against the ABI-3 header, run against the current library.
 *
 * `#include "entitle.h"` resolves to tests/c/abi3/entitle.h: include/entitle.h as it was at
 * ABI version 3 (commit 631877e), kept byte for byte and never regenerated, so that this
 * program sees only what a program compiled before ABI 4 saw. ABI 4 only adds functions,
 * structs, statuses and reasons; this program holds the library to that by calling what ABI 3
 * added (size-prefixed setting answers, the batch calls, the whole entitlement, explanations by
 * name, the refusal of an add-on held twice) and the ABI-1 quota, whose window ABI 4 still
 * fills, and checking their answers for policies/rtc-sdk.policy. (tests/c/test_abi1_caller.c
 * and tests/c/test_abi2_caller.c cover the older surfaces.)
 *
 * Built with -Wall -Wextra -Werror -pedantic and run under AddressSanitizer and
 * UndefinedBehaviorSanitizer, then again under valgrind (ffi/tests/c.rs drives both).
 * Usage: test_abi3_caller PATH_TO_RTC_SDK_POLICY
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

int main(int argc, char **argv) {
    entitle_engine *engine = caller_engine(argc, argv, 3);
    uint32_t pro = id(entitle_engine_tier, engine, "pro");
    uint32_t hd = id(entitle_engine_feature, engine, "hd_video");
    uint32_t ai = id(entitle_engine_feature, engine, "conversational_ai");
    uint32_t calls = id(entitle_engine_limit, engine, "api_calls_per_day");
    uint32_t minutes = id(entitle_engine_limit, engine, "ai_minutes");
    uint32_t sla = id(entitle_engine_setting, engine, "sla_availability");
    uint32_t pack = id(entitle_engine_addon, engine, "ai_pack");

    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier(request, pro) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_key(request, S("app-42")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);

    /* The ABI-1 quota keeps its window, filled with every answer. */
    entitle_quota quota;
    CHECK(entitle_check_limit(engine, request, calls, 990000, 20000, &quota) == ENTITLE_STATUS_OK);
    CHECK(quota.allowed && quota.reason == ENTITLE_REASON_OVERAGE && quota.remaining.value == 10000);
    CHECK(quota.has_window && quota.window_start == DAY_START && quota.window_end == DAY_END);
    printf("api_calls_per_day for pro: %s, window %lld to %lld\n", entitle_limit_status_name(quota.status),
           (long long)quota.window_start, (long long)quota.window_end);

    /* An add-on added by id is held once and applies. */
    CHECK(entitle_request_add_addon(request, pack) == ENTITLE_STATUS_OK);
    CHECK(entitle_check_limit(engine, request, minutes, 500, 0, &quota) == ENTITLE_STATUS_OK);
    CHECK(quota.allowed && quota.limit.value == 11000 && quota.remaining.value == 10500 && quota.has_window);
    entitle_decision decision;
    CHECK(entitle_decide(engine, request, ai, &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_ADDON);
    printf("ai_minutes with ai_pack: %llu\n", (unsigned long long)quota.limit.value);

    /* A setting answered in full, through the ABI-3 struct. */
    entitle_setting_answer setting = {.size = sizeof setting};
    CHECK(entitle_answer_setting(engine, request, sla, &setting) == ENTITLE_STATUS_OK);
    CHECK(setting.reason == ENTITLE_REASON_GRANTED_BY_TIER && setting.kind == ENTITLE_SETTING_KIND_PERCENT);
    CHECK(setting.number == 999000 && setting.display_len == 5 && memcmp(setting.display, "99.9%", 5) == 0);
    entitle_setting_answer small = {.size = sizeof small - 1};
    CHECK(entitle_answer_setting(engine, request, sla, &small) == ENTITLE_STATUS_INVALID_ARGUMENT);

    /* The batch calls, each answer the single call's. */
    uint32_t features[2] = {hd, ai};
    entitle_decision decisions[2];
    CHECK(entitle_decide_many(engine, request, features, 2, decisions, 2) == ENTITLE_STATUS_OK);
    CHECK(decisions[0].reason == ENTITLE_REASON_GRANTED_BY_TIER && decisions[1].reason == ENTITLE_REASON_GRANTED_BY_ADDON);
    uint32_t limits[2] = {calls, minutes};
    uint64_t used[2] = {990000, 500};
    uint64_t requested[2] = {20000, 0};
    entitle_quota quotas[2];
    CHECK(entitle_check_limit_many(engine, request, limits, used, requested, 2, quotas, 2) == ENTITLE_STATUS_OK);
    CHECK(quotas[0].window_end == DAY_END && quotas[1].remaining.value == 10500 && quotas[1].has_window);

    /* The whole entitlement: sized by a first call, then answered. The policy's limits are
       counted as it declares them today (11, since the credit pool `ai_credits` and the two limits
       that draw on it), which is the policy's
       and not the ABI's to change. */
    entitle_entitlements all = {.size = sizeof all, .setting_size = sizeof(entitle_setting_answer)};
    CHECK(entitle_query_entitlements(engine, request, NULL, NULL, 0, &all) == ENTITLE_STATUS_BUFFER_TOO_SMALL);
    CHECK(all.feature_count == 12 && all.limit_count == 11 && all.setting_count == 4);
    entitle_decision feature_answers[12];
    entitle_quota limit_answers[11];
    entitle_setting_answer setting_answers[4];
    all.features = feature_answers;
    all.features_capacity = 12;
    all.limits = limit_answers;
    all.limits_capacity = 11;
    all.settings = setting_answers;
    all.settings_capacity = 4;
    CHECK(entitle_query_entitlements(engine, request, limits, used, 2, &all) == ENTITLE_STATUS_OK);
    int windows = 0;
    for (int i = 0; i < 11; i++) {
        windows += limit_answers[i].has_window;
    }
    CHECK(windows == 7);

    /* Explanations by name. */
    CHECK(entitle_request_add_addon_name(request, S("ai_pack")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, S("pro")) == ENTITLE_STATUS_OK);
    char *json = NULL;
    CHECK(entitle_explain_feature_by_name(engine, request, S("conversational_ai"), &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strstr(json, "\"granted_by_addon\"") != NULL);
    entitle_string_free(json);

    /* An add-on held twice is refused, with the ABI-3 status. */
    CHECK(entitle_request_add_addon(request, pack) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, request, hd, &decision) == ENTITLE_STATUS_DUPLICATE_ADDON);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_DUPLICATE_ADDON);
    printf("ai_pack held twice: %s\n", entitle_reason_name(decision.reason));

    entitle_request_free(request);
    entitle_engine_free(engine);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
