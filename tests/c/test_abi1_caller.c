/*
 * A caller built against the ABI-1 header, run against the current library.
 *
 * `#include "entitle.h"` resolves to tests/c/abi1/entitle.h: include/entitle.h as it was at
 * ABI version 1 (commit 21de067), kept byte for byte and never regenerated, so that this
 * program sees only what a program compiled before ABI 2 saw. ABI 2 keeps every ABI-1
 * function's signature and every struct's layout; this program holds the library to that by
 * calling the ABI-1 surface and checking its answers for policies/rtc-sdk.policy. It sets a
 * request's tier the way ABI 1 read it (by id for the id-based queries, by name for the by-name
 * ones, or the same tier both ways), the use whose answers ABI 2 kept.
 *
 * Built with -Wall -Wextra -Werror -pedantic and run under AddressSanitizer and
 * UndefinedBehaviorSanitizer, then again under valgrind (ffi/tests/c.rs drives both).
 * Usage: test_abi1_caller PATH_TO_RTC_SDK_POLICY
 */

#include <stdio.h>
#include <string.h>

#include "entitle.h"
#include "check.h"

/* 2026-11-21T10:00:00Z, inside launch_promo's validity (November 2026). */
static const int64_t NOW = 1795255200;
/* 2026-11-21T00:00:00Z and 2026-11-22T00:00:00Z: the day window around NOW. */
static const int64_t DAY_START = 1795219200;
static const int64_t DAY_END = 1795305600;
/* 2026-11-01, 2026-11-15, 2026-12-01 and 2026-12-15 at 00:00 UTC: month windows. */
static const int64_t NOV_1 = 1793491200;
static const int64_t NOV_15 = 1794700800;
static const int64_t DEC_1 = 1796083200;
static const int64_t DEC_15 = 1797292800;
/* 2026-12-02T00:00:00Z, after launch_promo's validity ends. */
static const int64_t DEC_2 = 1796169600;

static uint32_t id(entitle_status (*lookup)(const entitle_engine *, const uint8_t *, size_t, uint32_t *),
                   const entitle_engine *engine, const char *name) {
    uint32_t out = 0;
    entitle_status status = lookup(engine, S(name), &out);
    CHECK(status == ENTITLE_STATUS_OK);
    return out;
}

static int same_amount(entitle_amount amount, uint64_t value, bool unlimited) {
    return unlimited ? amount.unlimited : !amount.unlimited && amount.value == value;
}

/* Checks every field of a quota the ABI-1 header declares. The soft cap and the window are
 * read only when their flags say they are set, as the header promises nothing else. */
struct expected_quota {
    bool allowed;
    entitle_reason reason;
    entitle_limit_status status;
    uint64_t limit;
    bool limit_unlimited;
    bool has_soft_cap;
    uint64_t soft_cap;
    uint64_t remaining;
    bool remaining_unlimited;
    bool has_window;
    int64_t window_start;
    int64_t window_end;
};

static void check_quota(const entitle_quota *quota, struct expected_quota want, int line) {
    int before = failed;
    CHECK(quota->allowed == want.allowed);
    CHECK(quota->reason == want.reason);
    CHECK(quota->status == want.status);
    CHECK(same_amount(quota->limit, want.limit, want.limit_unlimited));
    CHECK(quota->has_soft_cap == want.has_soft_cap);
    if (want.has_soft_cap && quota->has_soft_cap) {
        CHECK(same_amount(quota->soft_cap, want.soft_cap, false));
    }
    CHECK(same_amount(quota->remaining, want.remaining, want.remaining_unlimited));
    CHECK(quota->has_window == want.has_window);
    if (want.has_window && quota->has_window) {
        CHECK(quota->window_start == want.window_start);
        CHECK(quota->window_end == want.window_end);
    }
    if (failed != before) {
        fprintf(stderr, "  (the quota checked at line %d)\n", line);
    }
}

static int text_is(const entitle_setting *value, const char *text) {
    return value->kind == ENTITLE_SETTING_KIND_TEXT && value->text != NULL && value->text_len == strlen(text) &&
           memcmp(value->text, text, value->text_len) == 0;
}

static int reason_is(uint32_t reason, const char *name) {
    const char *got = entitle_reason_name(reason);
    return got != NULL && strcmp(got, name) == 0;
}

static void test_versions(void) {
    /* The library is at least as new as the header this program was built with. */
    CHECK(entitle_abi_version() >= ENTITLE_ABI_VERSION);
    const char *version = entitle_version();
    CHECK(version != NULL && version[0] != '\0');
    printf("built against ABI %d; the library implements at least that\n", ENTITLE_ABI_VERSION);
}

/* Every reason and status the ABI-1 header lists keeps its number and its name. */
static void test_names(void) {
    static const char *const REASONS[] = {
        "granted_by_tier",   "granted_by_addon", "granted_by_rollout", "not_granted",     "revoked",
        "outside_rollout",   "addon_not_valid",  "addon_not_for_tier", "within_limit",    "overage",
        "limit_exceeded",    "unknown_tier",     "unknown_feature",    "unknown_limit",   "unknown_addon",
        "unknown_setting",   "too_many_addons",  "limit_not_set",
    };
    CHECK(sizeof REASONS / sizeof REASONS[0] == ENTITLE_REASON_LIMIT_NOT_SET + 1);
    for (uint32_t reason = 0; reason < sizeof REASONS / sizeof REASONS[0]; reason++) {
        CHECK(reason_is(reason, REASONS[reason]));
    }
    CHECK(reason_is(ENTITLE_REASON_GRANTED_BY_TIER, "granted_by_tier"));
    CHECK(reason_is(ENTITLE_REASON_OVERAGE, "overage"));
    CHECK(entitle_reason_name(1000) == NULL);
    CHECK(strcmp(entitle_limit_status_name(ENTITLE_LIMIT_STATUS_WITHIN), "within") == 0);
    CHECK(strcmp(entitle_limit_status_name(ENTITLE_LIMIT_STATUS_WARNING), "warning") == 0);
    CHECK(strcmp(entitle_limit_status_name(ENTITLE_LIMIT_STATUS_OVERAGE), "overage") == 0);
    CHECK(strcmp(entitle_limit_status_name(ENTITLE_LIMIT_STATUS_EXCEEDED), "exceeded") == 0);
    CHECK(entitle_limit_status_name(4) == NULL);
}

/* A policy that does not check, a file that does not exist and bytes that are no bundle all
 * come back as an error handle with a status and a message. */
static void test_errors(void) {
    entitle_engine *engine = NULL;
    entitle_error *error = NULL;
    const char *bad = "policy \"p\"\ntier free { grant sso }\n";
    CHECK(entitle_engine_from_source(S("bad.policy"), S(bad), &engine, &error) == ENTITLE_STATUS_POLICY_ERROR);
    CHECK(engine == NULL && error != NULL);
    CHECK(entitle_error_status(error) == ENTITLE_STATUS_POLICY_ERROR);
    const char *message = entitle_error_message(error);
    CHECK(message != NULL && strcmp(message, "bad.policy:2:19: error[E004]: unknown feature `sso`") == 0);
    const char *json = entitle_error_diagnostics_json(error);
    CHECK(json != NULL && strstr(json, "\"code\":\"E004\"") != NULL);
    char small[8];
    size_t needed = 0;
    CHECK(entitle_error_copy_message(error, small, sizeof small, &needed) == ENTITLE_STATUS_BUFFER_TOO_SMALL);
    CHECK(message != NULL && needed == strlen(message) + 1);
    char big[128];
    CHECK(entitle_error_copy_message(error, big, sizeof big, NULL) == ENTITLE_STATUS_OK);
    CHECK(message != NULL && strcmp(big, message) == 0);
    entitle_error_free(error);
    error = NULL;

    CHECK(entitle_engine_from_path(S("no/such/file.policy"), &engine, &error) == ENTITLE_STATUS_IO_ERROR);
    CHECK(engine == NULL && entitle_error_status(error) == ENTITLE_STATUS_IO_ERROR);
    CHECK(entitle_error_diagnostics_json(error) == NULL);
    entitle_error_free(error);
    error = NULL;

    CHECK(entitle_engine_from_bundle(S(bad), &engine, &error) == ENTITLE_STATUS_BUNDLE_ERROR);
    CHECK(engine == NULL && entitle_error_status(error) == ENTITLE_STATUS_BUNDLE_ERROR);
    entitle_error_free(error);

    CHECK(entitle_engine_from_source(S("x"), S(bad), NULL, NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    entitle_engine_free(NULL);
    entitle_request_free(NULL);
    entitle_error_free(NULL);
    entitle_string_free(NULL);
}

struct ids {
    uint32_t free_tier, pro, enterprise, acme;
    uint32_t hd_video, conversational_ai, dedicated_csm, message_recall;
    uint32_t api_calls_per_day, ai_minutes, storage, concurrent_connections, message_retention, group_size;
    uint32_t ai_pack, launch_promo;
    uint32_t sla, response_p0, channel;
};

static struct ids resolve(const entitle_engine *engine) {
    struct ids ids;
    ids.free_tier = id(entitle_engine_tier, engine, "free");
    ids.pro = id(entitle_engine_tier, engine, "pro");
    ids.enterprise = id(entitle_engine_tier, engine, "enterprise");
    ids.acme = id(entitle_engine_tier, engine, "acme_contract");
    ids.hd_video = id(entitle_engine_feature, engine, "hd_video");
    ids.conversational_ai = id(entitle_engine_feature, engine, "conversational_ai");
    ids.dedicated_csm = id(entitle_engine_feature, engine, "dedicated_csm");
    ids.message_recall = id(entitle_engine_feature, engine, "message_recall");
    ids.api_calls_per_day = id(entitle_engine_limit, engine, "api_calls_per_day");
    ids.ai_minutes = id(entitle_engine_limit, engine, "ai_minutes");
    ids.storage = id(entitle_engine_limit, engine, "storage");
    ids.concurrent_connections = id(entitle_engine_limit, engine, "concurrent_connections");
    ids.message_retention = id(entitle_engine_limit, engine, "message_retention");
    ids.group_size = id(entitle_engine_limit, engine, "group_size");
    ids.ai_pack = id(entitle_engine_addon, engine, "ai_pack");
    ids.launch_promo = id(entitle_engine_addon, engine, "launch_promo");
    ids.sla = id(entitle_engine_setting, engine, "sla_availability");
    ids.response_p0 = id(entitle_engine_setting, engine, "support_response_p0");
    ids.channel = id(entitle_engine_setting, engine, "support_channel");

    /* Ids lead back to their names, and unknown names and ids are their own statuses. */
    const uint8_t *name = NULL;
    size_t len = 0;
    CHECK(entitle_engine_tier_name(engine, ids.acme, &name, &len) == ENTITLE_STATUS_OK);
    CHECK(len == 13 && memcmp(name, "acme_contract", 13) == 0);
    CHECK(entitle_engine_feature_name(engine, ids.hd_video, &name, &len) == ENTITLE_STATUS_OK);
    CHECK(len == 8 && memcmp(name, "hd_video", 8) == 0);
    CHECK(entitle_engine_limit_name(engine, ids.storage, &name, &len) == ENTITLE_STATUS_OK);
    CHECK(len == 7 && memcmp(name, "storage", 7) == 0);
    CHECK(entitle_engine_addon_name(engine, ids.launch_promo, &name, &len) == ENTITLE_STATUS_OK);
    CHECK(len == 12 && memcmp(name, "launch_promo", 12) == 0);
    CHECK(entitle_engine_setting_name(engine, ids.channel, &name, &len) == ENTITLE_STATUS_OK);
    CHECK(len == 15 && memcmp(name, "support_channel", 15) == 0);
    uint32_t out = 4242;
    CHECK(entitle_engine_tier(engine, S("gold"), &out) == ENTITLE_STATUS_UNKNOWN_NAME && out == 4242);
    CHECK(entitle_engine_feature_name(engine, 999, &name, &len) == ENTITLE_STATUS_UNKNOWN_ID);

    uint8_t hash[32] = {0}, zero[32] = {0};
    CHECK(entitle_engine_policy_hash(engine, hash) == ENTITLE_STATUS_OK && memcmp(hash, zero, 32) != 0);
    return ids;
}

static void test_by_id(const entitle_engine *engine, const struct ids *ids) {
    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK && request != NULL);
    CHECK(entitle_request_set_tier(request, ids->pro) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_key(request, S("app-42")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);

    /* Features: granted by the tier, inherited, not granted, and a rollout either way. */
    bool allowed = false;
    CHECK(entitle_is_allowed(engine, request, ids->hd_video, &allowed) == ENTITLE_STATUS_OK && allowed);
    entitle_decision decision;
    CHECK(entitle_decide(engine, request, ids->hd_video, &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_TIER);
    printf("hd_video for pro: %s (%s)\n", decision.allowed ? "allowed" : "denied", entitle_reason_name(decision.reason));
    CHECK(entitle_decide(engine, request, ids->message_recall, &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_TIER);
    allowed = true;
    CHECK(entitle_is_allowed(engine, request, ids->dedicated_csm, &allowed) == ENTITLE_STATUS_OK && !allowed);
    CHECK(entitle_decide(engine, request, ids->dedicated_csm, &decision) == ENTITLE_STATUS_OK);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_NOT_GRANTED);
    CHECK(entitle_decide(engine, request, ids->conversational_ai, &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed ? decision.reason == ENTITLE_REASON_GRANTED_BY_ROLLOUT
                           : decision.reason == ENTITLE_REASON_OUTSIDE_ROLLOUT);
    CHECK(entitle_decide(engine, request, 999, &decision) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_UNKNOWN_FEATURE);

    /* A counter with a soft cap: overage, a warning, and past the soft cap. */
    entitle_quota quota;
    CHECK(entitle_check_limit(engine, request, ids->api_calls_per_day, 990000, 20000, &quota) == ENTITLE_STATUS_OK);
    check_quota(&quota,
                (struct expected_quota){.allowed = true, .reason = ENTITLE_REASON_OVERAGE,
                                        .status = ENTITLE_LIMIT_STATUS_OVERAGE, .limit = 1000000,
                                        .has_soft_cap = true, .soft_cap = 1200000, .remaining = 10000,
                                        .has_window = true, .window_start = DAY_START, .window_end = DAY_END},
                __LINE__);
    printf("api_calls_per_day for pro: %s, %llu left, resets at %lld\n", entitle_limit_status_name(quota.status),
           (unsigned long long)quota.remaining.value, (long long)quota.window_end);
    CHECK(entitle_check_limit(engine, request, ids->api_calls_per_day, 900000, 0, &quota) == ENTITLE_STATUS_OK);
    check_quota(&quota,
                (struct expected_quota){.allowed = true, .reason = ENTITLE_REASON_WITHIN_LIMIT,
                                        .status = ENTITLE_LIMIT_STATUS_WARNING, .limit = 1000000,
                                        .has_soft_cap = true, .soft_cap = 1200000, .remaining = 100000,
                                        .has_window = true, .window_start = DAY_START, .window_end = DAY_END},
                __LINE__);
    CHECK(entitle_check_limit(engine, request, ids->api_calls_per_day, 1200000, 1, &quota) == ENTITLE_STATUS_OK);
    check_quota(&quota,
                (struct expected_quota){.allowed = false, .reason = ENTITLE_REASON_LIMIT_EXCEEDED,
                                        .status = ENTITLE_LIMIT_STATUS_EXCEEDED, .limit = 1000000,
                                        .has_soft_cap = true, .soft_cap = 1200000, .remaining = 0,
                                        .has_window = true, .window_start = DAY_START, .window_end = DAY_END},
                __LINE__);

    /* A cap in bytes and a duration: hard limits without a window. */
    CHECK(entitle_check_limit(engine, request, ids->storage, 7ULL << 30, 1ULL << 30, &quota) == ENTITLE_STATUS_OK);
    check_quota(&quota,
                (struct expected_quota){.allowed = true, .reason = ENTITLE_REASON_WITHIN_LIMIT,
                                        .status = ENTITLE_LIMIT_STATUS_WITHIN, .limit = 100ULL << 30,
                                        .remaining = 93ULL << 30},
                __LINE__);
    CHECK(entitle_check_limit(engine, request, ids->message_retention, 0, 0, &quota) == ENTITLE_STATUS_OK);
    check_quota(&quota,
                (struct expected_quota){.allowed = true, .reason = ENTITLE_REASON_WITHIN_LIMIT,
                                        .status = ENTITLE_LIMIT_STATUS_WITHIN, .limit = 180 * 86400,
                                        .remaining = 180 * 86400},
                __LINE__);
    CHECK(entitle_check_limit(engine, request, 999, 0, 0, &quota) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(!quota.allowed && quota.reason == ENTITLE_REASON_UNKNOWN_LIMIT);

    /* An add-on by id adds to a monthly counter, whose window follows the billing anchor. */
    CHECK(entitle_request_add_addon(request, ids->ai_pack) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, request, ids->conversational_ai, &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && (decision.reason == ENTITLE_REASON_GRANTED_BY_ROLLOUT ||
                               decision.reason == ENTITLE_REASON_GRANTED_BY_ADDON));
    CHECK(entitle_check_limit(engine, request, ids->ai_minutes, 10500, 600, &quota) == ENTITLE_STATUS_OK);
    check_quota(&quota,
                (struct expected_quota){.allowed = false, .reason = ENTITLE_REASON_LIMIT_EXCEEDED,
                                        .status = ENTITLE_LIMIT_STATUS_EXCEEDED, .limit = 11000, .remaining = 500,
                                        .has_window = true, .window_start = NOV_1, .window_end = DEC_1},
                __LINE__);
    CHECK(entitle_request_set_billing_anchor(request, 15) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_billing_anchor(request, 0) == ENTITLE_STATUS_INVALID_ARGUMENT);
    CHECK(entitle_check_limit(engine, request, ids->ai_minutes, 100, 0, &quota) == ENTITLE_STATUS_OK);
    check_quota(&quota,
                (struct expected_quota){.allowed = true, .reason = ENTITLE_REASON_WITHIN_LIMIT,
                                        .status = ENTITLE_LIMIT_STATUS_WITHIN, .limit = 11000, .remaining = 10900,
                                        .has_window = true, .window_start = NOV_15, .window_end = DEC_15},
                __LINE__);

    /* Settings: a percentage in millionths, a duration in seconds, text owned by the engine. */
    entitle_setting value;
    CHECK(entitle_setting_value(engine, request, ids->sla, &value) == ENTITLE_STATUS_OK);
    CHECK(value.kind == ENTITLE_SETTING_KIND_PERCENT && value.number == 999000);
    CHECK(entitle_setting_value(engine, request, ids->response_p0, &value) == ENTITLE_STATUS_OK);
    CHECK(value.kind == ENTITLE_SETTING_KIND_DURATION && value.number == 7200);
    CHECK(entitle_setting_value(engine, request, ids->channel, &value) == ENTITLE_STATUS_OK);
    CHECK(text_is(&value, "email"));
    CHECK(entitle_setting_value(engine, request, 999, &value) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(value.kind == ENTITLE_SETTING_KIND_NONE);

    /* The same request moved to other tiers: unlimited amounts, a contract's own setting. */
    CHECK(entitle_request_clear_addons(request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier(request, ids->enterprise) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, request, ids->dedicated_csm, &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_TIER);
    CHECK(entitle_check_limit(engine, request, ids->concurrent_connections, 50000, 1, &quota) == ENTITLE_STATUS_OK);
    check_quota(&quota,
                (struct expected_quota){.allowed = true, .reason = ENTITLE_REASON_WITHIN_LIMIT,
                                        .status = ENTITLE_LIMIT_STATUS_WITHIN, .limit_unlimited = true,
                                        .remaining_unlimited = true},
                __LINE__);
    CHECK(entitle_setting_value(engine, request, ids->channel, &value) == ENTITLE_STATUS_OK);
    CHECK(text_is(&value, "phone"));
    CHECK(entitle_request_set_tier(request, ids->acme) == ENTITLE_STATUS_OK);
    CHECK(entitle_setting_value(engine, request, ids->sla, &value) == ENTITLE_STATUS_OK);
    CHECK(value.kind == ENTITLE_SETTING_KIND_PERCENT && value.number == 999950);

    /* The free tier: an add-on valid in November, not after, and one for other tiers. */
    CHECK(entitle_request_set_tier(request, ids->free_tier) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, request, ids->hd_video, &decision) == ENTITLE_STATUS_OK);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_NOT_GRANTED);
    CHECK(entitle_setting_value(engine, request, ids->sla, &value) == ENTITLE_STATUS_OK);
    CHECK(value.kind == ENTITLE_SETTING_KIND_NONE);
    CHECK(entitle_request_add_addon(request, ids->launch_promo) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, request, ids->hd_video, &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_ADDON);
    CHECK(entitle_check_limit(engine, request, ids->group_size, 150, 10, &quota) == ENTITLE_STATUS_OK);
    check_quota(&quota,
                (struct expected_quota){.allowed = true, .reason = ENTITLE_REASON_WITHIN_LIMIT,
                                        .status = ENTITLE_LIMIT_STATUS_WITHIN, .limit = 200, .remaining = 50},
                __LINE__);
    CHECK(entitle_request_set_now(request, DEC_2) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, request, ids->hd_video, &decision) == ENTITLE_STATUS_OK);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_ADDON_NOT_VALID);
    CHECK(entitle_request_add_addon(request, ids->ai_pack) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, request, ids->conversational_ai, &decision) == ENTITLE_STATUS_OK);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_ADDON_NOT_FOR_TIER);

    /* A request whose tier was never set answers as an unknown tier. */
    entitle_request *blank = NULL;
    CHECK(entitle_request_new(&blank) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, blank, ids->hd_video, &decision) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_UNKNOWN_TIER);
    entitle_request_free(blank);
    entitle_request_free(request);
}

static void test_by_name(const entitle_engine *engine) {
    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, S("pro")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_key(request, S("app-42")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);

    entitle_decision decision;
    CHECK(entitle_decide_by_name(engine, request, S("hd_video"), &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_TIER);
    CHECK(entitle_decide_by_name(engine, request, S("dedicated_csm"), &decision) == ENTITLE_STATUS_OK);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_NOT_GRANTED);
    CHECK(entitle_decide_by_name(engine, request, S("4k_video"), &decision) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_UNKNOWN_FEATURE);

    entitle_quota quota;
    CHECK(entitle_check_limit_by_name(engine, request, S("api_calls_per_day"), 990000, 20000, &quota) ==
          ENTITLE_STATUS_OK);
    check_quota(&quota,
                (struct expected_quota){.allowed = true, .reason = ENTITLE_REASON_OVERAGE,
                                        .status = ENTITLE_LIMIT_STATUS_OVERAGE, .limit = 1000000,
                                        .has_soft_cap = true, .soft_cap = 1200000, .remaining = 10000,
                                        .has_window = true, .window_start = DAY_START, .window_end = DAY_END},
                __LINE__);
    CHECK(entitle_check_limit_by_name(engine, request, S("seats"), 0, 0, &quota) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(!quota.allowed && quota.reason == ENTITLE_REASON_UNKNOWN_LIMIT);

    entitle_setting value;
    CHECK(entitle_setting_value_by_name(engine, request, S("support_channel"), &value) == ENTITLE_STATUS_OK);
    CHECK(text_is(&value, "email"));
    printf("support_channel for pro: %.*s\n", (int)value.text_len, (const char *)value.text);
    CHECK(entitle_setting_value_by_name(engine, request, S("uptime"), &value) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(value.kind == ENTITLE_SETTING_KIND_NONE);

    /* Add-ons by name: the promotion on the free tier, and one the policy lacks. */
    CHECK(entitle_request_set_tier_name(request, S("free")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_add_addon_name(request, S("launch_promo")) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide_by_name(engine, request, S("hd_video"), &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_ADDON);
    CHECK(entitle_check_limit_by_name(engine, request, S("group_size"), 199, 1, &quota) == ENTITLE_STATUS_OK);
    check_quota(&quota,
                (struct expected_quota){.allowed = true, .reason = ENTITLE_REASON_WITHIN_LIMIT,
                                        .status = ENTITLE_LIMIT_STATUS_WITHIN, .limit = 200, .remaining = 1},
                __LINE__);
    CHECK(entitle_request_add_addon_name(request, S("vip")) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide_by_name(engine, request, S("hd_video"), &decision) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_UNKNOWN_ADDON);
    CHECK(entitle_request_clear_addons(request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, S("gold")) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide_by_name(engine, request, S("hd_video"), &decision) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_UNKNOWN_TIER);
    entitle_request_free(request);
}

/* A request given the same tier by id and by name answers both kinds of query for it, as in
 * ABI 1. */
static void test_both_ways(const entitle_engine *engine, const struct ids *ids) {
    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier(request, ids->enterprise) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, S("enterprise")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);
    entitle_decision decision;
    CHECK(entitle_decide(engine, request, ids->dedicated_csm, &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_TIER);
    CHECK(entitle_decide_by_name(engine, request, S("dedicated_csm"), &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_TIER);
    entitle_request_free(request);
}

/* The JSON protocol and the explanations, which answer in the JSON shape of `entitle eval`. */
static void test_json(const entitle_engine *engine, const struct ids *ids) {
    char *json = NULL;
    const char *feature = "{\"tier\":\"pro\",\"key\":\"app-42\",\"now\":\"2026-11-21T10:00:00Z\",\"feature\":\"hd_video\"}";
    CHECK(entitle_query_json(engine, S(feature), &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strcmp(json, "{\"allowed\":true,\"reason\":\"granted_by_tier\"}") == 0);
    entitle_string_free(json);
    json = NULL;
    const char *limit = "{\"tier\":\"pro\",\"now\":\"2026-11-21T10:00:00Z\",\"limit\":\"api_calls_per_day\","
                        "\"used\":990000,\"requested\":20000}";
    CHECK(entitle_query_json(engine, S(limit), &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL &&
          strcmp(json, "{\"allowed\":true,\"limit\":1000000,\"reason\":\"overage\",\"remaining\":10000,"
                       "\"soft_cap\":1200000,\"status\":\"overage\",\"window\":{\"end\":\"2026-11-22T00:00:00Z\","
                       "\"start\":\"2026-11-21T00:00:00Z\"}}") == 0);
    entitle_string_free(json);
    json = NULL;
    CHECK(entitle_query_json(engine, S("{not json"), &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strstr(json, "\"error\"") != NULL);
    entitle_string_free(json);
    json = NULL;
    CHECK(entitle_query_json(engine, S(feature), NULL) == ENTITLE_STATUS_NULL_ARGUMENT);

    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier(request, ids->free_tier) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);
    CHECK(entitle_explain_feature(engine, request, ids->hd_video, &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strstr(json, "\"upgrade\":{\"addon\":\"launch_promo\",\"tier\":\"pro\"}") != NULL);
    entitle_string_free(json);
    json = NULL;
    CHECK(entitle_explain_limit(engine, request, ids->api_calls_per_day, 10000, 1, &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strstr(json, "\"reason\":\"limit_exceeded\"") != NULL);
    entitle_string_free(json);
    entitle_request_free(request);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH_TO_RTC_SDK_POLICY\n", argv[0]);
        return 2;
    }
    test_versions();
    test_names();
    test_errors();

    entitle_engine *engine = NULL;
    entitle_error *error = NULL;
    if (entitle_engine_from_path(S(argv[1]), &engine, &error) != ENTITLE_STATUS_OK) {
        fprintf(stderr, "cannot load `%s`: %s\n", argv[1], entitle_error_message(error));
        entitle_error_free(error);
        return 1;
    }
    CHECK(error == NULL);
    struct ids ids = resolve(engine);
    test_by_id(engine, &ids);
    test_by_name(engine);
    test_both_ways(engine, &ids);
    test_json(engine, &ids);
    entitle_engine_free(engine);

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
