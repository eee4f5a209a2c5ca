/*
 * Tests of the C ABI: every exported function, every status a caller can provoke, and one
 * engine queried from several threads while another thread loads a new one.
 *
 * Built with -Wall -Wextra -Werror and run under AddressSanitizer and UndefinedBehaviorSanitizer,
 * then again under valgrind (ffi/tests/c.rs drives both). Usage: test_entitle REPOSITORY_ROOT
 */

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entitle.h"
#include "check.h"

static const char *POLICY =
    "policy \"c-test\" version \"1\"\n"
    "feature hd_video\n"
    "feature ai\n"
    "limit api_calls : count per day\n"
    "limit ai_minutes : count per month\n"
    "limit retention : duration\n"
    "setting sla : percent\n"
    "setting channel : string\n"
    "ladder free < pro\n"
    "tier free {\n"
    "    limit api_calls = 10_000\n"
    "    limit ai_minutes = 0\n"
    "    set channel = \"forum\"\n"
    "}\n"
    "tier pro extends free {\n"
    "    grant hd_video\n"
    "    grant ai rollout 50%\n"
    "    limit api_calls = 1_000_000 soft 1_200_000 warn at 80%\n"
    "    set sla = 99.9%\n"
    "}\n"
    "addon ai_pack for pro { grant ai\n limit ai_minutes += 500 }\n"
    "addon promo for free { grant hd_video\n valid from 2026-11-01 until 2026-12-01 }\n";

/* 2026-11-21T10:00:00Z */
static const int64_t NOW = 1795255200;

static entitle_engine *load(const char *text) {
    entitle_engine *engine = NULL;
    entitle_error *error = NULL;
    entitle_status status = entitle_engine_from_source(S("c-test.policy"), S(text), &engine, &error);
    if (status != ENTITLE_STATUS_OK) {
        fprintf(stderr, "load failed: %s\n", entitle_error_message(error));
        entitle_error_free(error);
        return NULL;
    }
    return engine;
}

static uint32_t id(entitle_status (*lookup)(const entitle_engine *, const uint8_t *, size_t, uint32_t *),
                   const entitle_engine *engine, const char *name) {
    uint32_t out = 0;
    entitle_status status = lookup(engine, S(name), &out);
    CHECK(status == ENTITLE_STATUS_OK);
    return out;
}

/* A new request for the tier named `tier` at `now`, freed with entitle_request_free. */
static entitle_request *request_at(const char *tier, int64_t now) {
    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, S(tier)) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, now) == ENTITLE_STATUS_OK);
    return request;
}

static void test_versions(void) {
    CHECK(strcmp(entitle_version(), ENTITLE_VERSION) == 0);
    CHECK(entitle_abi_version() == ENTITLE_ABI_VERSION);
    CHECK(strcmp(entitle_reason_name(ENTITLE_REASON_LIMIT_NOT_SET), "limit_not_set") == 0);
    CHECK(strcmp(entitle_reason_name(ENTITLE_REASON_GRANTED_BY_OVERRIDE), "granted_by_override") == 0);
    CHECK(strcmp(entitle_reason_name(ENTITLE_REASON_REVOKED_BY_OVERRIDE), "revoked_by_override") == 0);
    CHECK(strcmp(entitle_reason_name(ENTITLE_REASON_OVERRIDES_NOT_FOR_ENGINE), "overrides_not_for_engine") == 0);
    CHECK(entitle_reason_name(ENTITLE_REASON_OVERRIDES_NOT_FOR_ENGINE + 1) == NULL);
    CHECK(entitle_reason_name(1000) == NULL);
    CHECK(strcmp(entitle_limit_status_name(ENTITLE_LIMIT_STATUS_OVERAGE), "overage") == 0);
    CHECK(entitle_limit_status_name(4) == NULL);
}

static void test_load_errors(const char *root) {
    entitle_engine *engine = NULL;
    entitle_error *error = NULL;

    /* A policy with an error: the status, a located message, the diagnostics as JSON. */
    const char *bad = "policy \"p\"\ntier free { grant sso }\n";
    CHECK(entitle_engine_from_source(S("bad.policy"), S(bad), &engine, &error) == ENTITLE_STATUS_POLICY_ERROR);
    CHECK(engine == NULL);
    CHECK(entitle_error_status(error) == ENTITLE_STATUS_POLICY_ERROR);
    CHECK(strcmp(entitle_error_message(error), "bad.policy:2:19: error[E004]: unknown feature `sso`") == 0);
    const char *json = entitle_error_diagnostics_json(error);
    CHECK(json != NULL && strstr(json, "\"code\":\"E004\"") != NULL && strstr(json, "\"line\":2") != NULL);

    /* Copying the message: the needed size is reported, a short buffer is refused. */
    size_t needed = 0;
    char small[8];
    CHECK(entitle_error_copy_message(error, small, sizeof small, &needed) == ENTITLE_STATUS_BUFFER_TOO_SMALL);
    CHECK(needed == strlen(entitle_error_message(error)) + 1);
    char *big = malloc(needed);
    CHECK(entitle_error_copy_message(error, big, needed, NULL) == ENTITLE_STATUS_OK);
    CHECK(strcmp(big, entitle_error_message(error)) == 0);
    free(big);
    CHECK(entitle_error_copy_message(NULL, small, sizeof small, &needed) == ENTITLE_STATUS_NULL_ARGUMENT);
    entitle_error_free(error);
    error = NULL;

    /* A failed load leaves the engine NULL, and a NULL engine is a status, not a crash. */
    uint32_t out = 0;
    CHECK(entitle_engine_tier(engine, S("free"), &out) == ENTITLE_STATUS_NULL_ARGUMENT);

    /* Errors are optional to receive. */
    CHECK(entitle_engine_from_source(S("bad.policy"), S(bad), &engine, NULL) == ENTITLE_STATUS_POLICY_ERROR);

    /* Invalid UTF-8, NULL pointers, and a length that cannot be true. */
    const uint8_t latin1[] = {'p', 0xe9, 'x'};
    CHECK(entitle_engine_from_source(S("x"), latin1, sizeof latin1, &engine, &error) == ENTITLE_STATUS_INVALID_UTF8);
    CHECK(entitle_error_status(error) == ENTITLE_STATUS_INVALID_UTF8);
    entitle_error_free(error);
    error = NULL;
    CHECK(entitle_engine_from_source(S("x"), NULL, 10, &engine, NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_engine_from_source(S("x"), (const uint8_t *)"p", SIZE_MAX, &engine, NULL) ==
          ENTITLE_STATUS_INVALID_ARGUMENT);
    CHECK(entitle_engine_from_source(S("x"), S(POLICY), NULL, NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_error_status(NULL) == ENTITLE_STATUS_NULL_ARGUMENT);

    /* Bundles: policy text, a truncated signature and NULL are refused with a message. */
    CHECK(entitle_engine_from_bundle(S(POLICY), &engine, &error) == ENTITLE_STATUS_BUNDLE_ERROR);
    CHECK(engine == NULL && strstr(entitle_error_message(error), "not an entitle bundle") != NULL);
    entitle_error_free(error);
    error = NULL;
    const uint8_t truncated[] = {0x89, 'E', 'N', 'T', 'I', 'T', 'L', 'E', '\r', '\n', 0x1a, '\n', 1, 0};
    CHECK(entitle_engine_from_bundle(truncated, sizeof truncated, &engine, &error) == ENTITLE_STATUS_BUNDLE_ERROR);
    CHECK(strstr(entitle_error_message(error), "truncated") != NULL);
    entitle_error_free(error);
    error = NULL;
    CHECK(entitle_engine_from_bundle(NULL, 4, &engine, NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_engine_from_bundle(truncated, sizeof truncated, NULL, NULL) == ENTITLE_STATUS_NULL_ARGUMENT);

    /* The policy hash: 32 bytes, the same for the same text, NULL refused. */
    entitle_engine *first = load(POLICY);
    entitle_engine *second = load(POLICY);
    uint8_t hash_a[32] = {0}, hash_b[32] = {0}, zero[32] = {0};
    CHECK(entitle_engine_policy_hash(first, hash_a) == ENTITLE_STATUS_OK);
    CHECK(entitle_engine_policy_hash(second, hash_b) == ENTITLE_STATUS_OK);
    CHECK(memcmp(hash_a, hash_b, 32) == 0 && memcmp(hash_a, zero, 32) != 0);
    CHECK(entitle_engine_policy_hash(first, NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_engine_policy_hash(NULL, hash_a) == ENTITLE_STATUS_NULL_ARGUMENT);
    entitle_engine_free(first);
    entitle_engine_free(second);
    CHECK(entitle_error_message(NULL) == NULL);
    CHECK(entitle_error_diagnostics_json(NULL) == NULL);

    /* Files: a missing one is an I/O error; the bundled one loads. */
    CHECK(entitle_engine_from_path(S("no/such/file.policy"), &engine, &error) == ENTITLE_STATUS_IO_ERROR);
    CHECK(strstr(entitle_error_message(error), "cannot read `no/such/file.policy`") != NULL);
    CHECK(entitle_error_diagnostics_json(error) == NULL);
    entitle_error_free(error);
    error = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/policies/rtc-sdk.policy", root);
    CHECK(entitle_engine_from_path(S(path), &engine, &error) == ENTITLE_STATUS_OK);
    CHECK(engine != NULL && error == NULL);
    CHECK(entitle_engine_tier(engine, S("enterprise"), &out) == ENTITLE_STATUS_OK);
    entitle_engine_free(engine);

    /* Freeing NULL does nothing. */
    entitle_engine_free(NULL);
    entitle_request_free(NULL);
    entitle_error_free(NULL);
    entitle_string_free(NULL);
}

static void test_requests(void) {
    entitle_request *request = NULL;
    CHECK(entitle_request_new(NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_billing_anchor(request, 0) == ENTITLE_STATUS_INVALID_ARGUMENT);
    CHECK(entitle_request_set_billing_anchor(request, 32) == ENTITLE_STATUS_INVALID_ARGUMENT);
    CHECK(entitle_request_set_billing_anchor(request, 31) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_billing_anchor(NULL, 1) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_request_set_tier(NULL, 0) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_request_set_now(NULL, 0) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_request_set_key(request, NULL, 3) == ENTITLE_STATUS_NULL_ARGUMENT);
    const uint8_t bad_key[] = {0xff};
    CHECK(entitle_request_set_key(request, bad_key, 1) == ENTITLE_STATUS_INVALID_UTF8);
    CHECK(entitle_request_set_key(request, NULL, 0) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, bad_key, 1) == ENTITLE_STATUS_INVALID_UTF8);
    CHECK(entitle_request_add_addon_name(request, bad_key, 1) == ENTITLE_STATUS_INVALID_UTF8);
    CHECK(entitle_request_add_addon(NULL, 0) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_request_clear_addons(request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_clear_addons(NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    entitle_request_free(request);
}

/* A request holds one tier, whichever setter ran last, and every kind of query uses it. */
/* A clone shares its engine: it answers alike, and outlives the handle it was made from. */
static void test_clone(void) {
    entitle_engine *engine = load(POLICY);
    CHECK(engine != NULL);
    entitle_engine *clone = NULL;
    CHECK(entitle_engine_clone(NULL, &clone) == ENTITLE_STATUS_NULL_ARGUMENT && clone == NULL);
    CHECK(entitle_engine_clone(engine, NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_engine_clone(engine, &clone) == ENTITLE_STATUS_OK);
    CHECK(clone != NULL && clone != engine);
    uint8_t hash_a[32] = {0}, hash_b[32] = {0};
    CHECK(entitle_engine_policy_hash(engine, hash_a) == ENTITLE_STATUS_OK);
    CHECK(entitle_engine_policy_hash(clone, hash_b) == ENTITLE_STATUS_OK);
    CHECK(memcmp(hash_a, hash_b, 32) == 0);
    uint32_t pro = id(entitle_engine_tier, engine, "pro");
    uint32_t hd = id(entitle_engine_feature, engine, "hd_video");
    entitle_engine_free(engine);

    /* The original is gone; the clone still answers, with the same ids. */
    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier(request, pro) == ENTITLE_STATUS_OK);
    entitle_decision decision;
    CHECK(entitle_decide(clone, request, hd, &decision) == ENTITLE_STATUS_OK && decision.allowed);
    CHECK(id(entitle_engine_tier, clone, "pro") == pro);
    entitle_request_free(request);
    entitle_engine_free(clone);
}

static void test_request_tier(void) {
    entitle_engine *engine = load(POLICY);
    CHECK(engine != NULL);
    uint32_t pro = id(entitle_engine_tier, engine, "pro");
    uint32_t hd = id(entitle_engine_feature, engine, "hd_video");
    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    entitle_decision decision;

    /* The id, then a name: the name wins, for the id-based query too. */
    CHECK(entitle_request_set_tier(request, pro) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, S("free")) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, request, hd, &decision) == ENTITLE_STATUS_OK);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_NOT_GRANTED);
    CHECK(entitle_decide_by_name(engine, request, S("hd_video"), &decision) == ENTITLE_STATUS_OK);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_NOT_GRANTED);

    /* The name, then an id: the id wins, for the by-name query too. */
    CHECK(entitle_request_set_tier(request, pro) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, request, hd, &decision) == ENTITLE_STATUS_OK && decision.allowed);
    CHECK(entitle_decide_by_name(engine, request, S("hd_video"), &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_TIER);

    /* A tier the engine lacks is an unknown name or id as it was set, whoever asks. */
    CHECK(entitle_request_set_tier_name(request, S("gold")) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, request, hd, &decision) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_UNKNOWN_TIER);
    CHECK(entitle_request_set_tier(request, 99) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide_by_name(engine, request, S("hd_video"), &decision) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_UNKNOWN_TIER);

    entitle_request_free(request);
    entitle_engine_free(engine);
}

static void test_queries(void) {
    entitle_engine *engine = load(POLICY);
    CHECK(engine != NULL);
    uint32_t pro = id(entitle_engine_tier, engine, "pro");
    uint32_t free_tier = id(entitle_engine_tier, engine, "free");
    uint32_t hd = id(entitle_engine_feature, engine, "hd_video");
    uint32_t ai = id(entitle_engine_feature, engine, "ai");
    uint32_t calls = id(entitle_engine_limit, engine, "api_calls");
    uint32_t minutes = id(entitle_engine_limit, engine, "ai_minutes");
    uint32_t retention = id(entitle_engine_limit, engine, "retention");
    uint32_t ai_pack = id(entitle_engine_addon, engine, "ai_pack");
    uint32_t promo = id(entitle_engine_addon, engine, "promo");
    uint32_t sla = id(entitle_engine_setting, engine, "sla");
    uint32_t channel = id(entitle_engine_setting, engine, "channel");
    /* Ids back to names: the engine owns the bytes. */
    const uint8_t *name = NULL;
    size_t name_len = 0;
    CHECK(entitle_engine_tier_name(engine, pro, &name, &name_len) == ENTITLE_STATUS_OK);
    CHECK(name_len == 3 && memcmp(name, "pro", 3) == 0);
    CHECK(entitle_engine_feature_name(engine, ai, &name, &name_len) == ENTITLE_STATUS_OK && name_len == 2);
    CHECK(entitle_engine_limit_name(engine, retention, &name, &name_len) == ENTITLE_STATUS_OK);
    CHECK(name_len == 9 && memcmp(name, "retention", 9) == 0);
    CHECK(entitle_engine_addon_name(engine, promo, &name, &name_len) == ENTITLE_STATUS_OK && name_len == 5);
    CHECK(entitle_engine_setting_name(engine, channel, &name, &name_len) == ENTITLE_STATUS_OK && name_len == 7);
    name = NULL;
    CHECK(entitle_engine_tier_name(engine, 99, &name, &name_len) == ENTITLE_STATUS_UNKNOWN_ID && name == NULL);
    CHECK(entitle_engine_setting_name(engine, sla, NULL, &name_len) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_engine_addon_name(NULL, ai_pack, &name, &name_len) == ENTITLE_STATUS_NULL_ARGUMENT);

    uint32_t out = 12345;
    CHECK(entitle_engine_feature(engine, S("hd_vidoe"), &out) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(out == 12345);
    CHECK(entitle_engine_limit(engine, S("x"), NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_engine_setting(engine, NULL, 1, &out) == ENTITLE_STATUS_NULL_ARGUMENT);

    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier(request, pro) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_key(request, S("app-42")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);

    /* Features by id. */
    bool allowed = false;
    CHECK(entitle_is_allowed(engine, request, hd, &allowed) == ENTITLE_STATUS_OK && allowed);
    entitle_decision decision;
    CHECK(entitle_decide(engine, request, hd, &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_TIER);
    CHECK(entitle_decide(engine, request, ai, &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.reason == ENTITLE_REASON_GRANTED_BY_ROLLOUT || decision.reason == ENTITLE_REASON_OUTSIDE_ROLLOUT);
    CHECK(entitle_request_add_addon(request, ai_pack) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, request, ai, &decision) == ENTITLE_STATUS_OK && decision.allowed);

    /* An add-on held twice is refused by every query, never stacked, with the deny written. */
    entitle_request *twice = NULL;
    CHECK(entitle_request_new(&twice) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier(twice, pro) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(twice, NOW) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_add_addon(twice, ai_pack) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_add_addon(twice, ai_pack) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, twice, ai, &decision) == ENTITLE_STATUS_DUPLICATE_ADDON);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_DUPLICATE_ADDON);
    allowed = true;
    CHECK(entitle_is_allowed(engine, twice, ai, &allowed) == ENTITLE_STATUS_DUPLICATE_ADDON && !allowed);
    entitle_quota doubled;
    CHECK(entitle_check_limit(engine, twice, minutes, 0, 0, &doubled) == ENTITLE_STATUS_DUPLICATE_ADDON);
    CHECK(!doubled.allowed && doubled.reason == ENTITLE_REASON_DUPLICATE_ADDON && doubled.limit.value == 0);
    /* The batch calls and the whole entitlement say so too, as their headers list. */
    uint32_t both[2] = {hd, ai};
    bool both_allowed[2] = {true, true};
    CHECK(entitle_is_allowed_many(engine, twice, both, 2, both_allowed, 2) == ENTITLE_STATUS_DUPLICATE_ADDON);
    CHECK(!both_allowed[0] && !both_allowed[1]);
    entitle_decision both_decisions[2];
    CHECK(entitle_decide_many(engine, twice, both, 2, both_decisions, 2) == ENTITLE_STATUS_DUPLICATE_ADDON);
    CHECK(both_decisions[0].reason == ENTITLE_REASON_DUPLICATE_ADDON && !both_decisions[1].allowed);
    uint64_t zero = 0;
    CHECK(entitle_check_limit_many(engine, twice, &minutes, &zero, &zero, 1, &doubled, 1) ==
          ENTITLE_STATUS_DUPLICATE_ADDON);
    CHECK(!doubled.allowed && doubled.reason == ENTITLE_REASON_DUPLICATE_ADDON);
    entitle_setting_answer twice_settings[2];
    entitle_entitlements twice_page = {.size = sizeof twice_page,
                                       .features = both_decisions,
                                       .features_capacity = 2,
                                       .settings = twice_settings,
                                       .settings_capacity = 2,
                                       .setting_size = sizeof(entitle_setting_answer)};
    entitle_quota twice_limits[3];
    twice_page.limits = twice_limits;
    twice_page.limits_capacity = 3;
    CHECK(entitle_query_entitlements(engine, twice, NULL, NULL, 0, &twice_page) == ENTITLE_STATUS_DUPLICATE_ADDON);
    CHECK(twice_settings[0].reason == ENTITLE_REASON_DUPLICATE_ADDON && twice_settings[0].kind == ENTITLE_SETTING_KIND_NONE);
    entitle_request_free(twice);

    /* Unknown and foreign ids are a status of their own, with the deny still written. */
    CHECK(entitle_decide(engine, request, 999, &decision) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_UNKNOWN_FEATURE);
    allowed = true;
    CHECK(entitle_is_allowed(engine, request, 999, &allowed) == ENTITLE_STATUS_UNKNOWN_ID && !allowed);
    CHECK(entitle_decide(engine, request, hd, NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_decide(NULL, request, hd, &decision) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_decide(engine, NULL, hd, &decision) == ENTITLE_STATUS_NULL_ARGUMENT);

    /* Limits by id: an overage within the soft cap, the window of a counter. */
    entitle_quota quota;
    CHECK(entitle_check_limit(engine, request, calls, 990000, 20000, &quota) == ENTITLE_STATUS_OK);
    CHECK(quota.allowed && quota.reason == ENTITLE_REASON_OVERAGE && quota.status == ENTITLE_LIMIT_STATUS_OVERAGE);
    CHECK(quota.limit.value == 1000000 && !quota.limit.unlimited);
    CHECK(quota.has_soft_cap && quota.soft_cap.value == 1200000);
    CHECK(quota.remaining.value == 10000);
    CHECK(quota.has_window && quota.window_start == 1795219200 && quota.window_end == 1795305600);
    CHECK(entitle_check_limit(engine, request, calls, 900000, 0, &quota) == ENTITLE_STATUS_OK);
    CHECK(quota.status == ENTITLE_LIMIT_STATUS_WARNING);
    CHECK(entitle_check_limit(engine, request, minutes, 400, 100, &quota) == ENTITLE_STATUS_OK);
    CHECK(quota.allowed && quota.limit.value == 500);
    CHECK(entitle_check_limit(engine, request, retention, 0, 0, &quota) == ENTITLE_STATUS_OK);
    CHECK(!quota.allowed && quota.reason == ENTITLE_REASON_LIMIT_NOT_SET && !quota.has_window);
    CHECK(entitle_check_limit(engine, request, 77, 0, 0, &quota) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(quota.reason == ENTITLE_REASON_UNKNOWN_LIMIT);

    /* Settings by id: a percentage, text owned by the engine, and nothing set. */
    entitle_setting value;
    CHECK(entitle_setting_value(engine, request, sla, &value) == ENTITLE_STATUS_OK);
    CHECK(value.kind == ENTITLE_SETTING_KIND_PERCENT && value.number == 999000);
    CHECK(entitle_setting_value(engine, request, channel, &value) == ENTITLE_STATUS_OK);
    CHECK(value.kind == ENTITLE_SETTING_KIND_TEXT && value.text_len == 5 && memcmp(value.text, "forum", 5) == 0);
    CHECK(entitle_setting_value(engine, request, 50, &value) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(value.kind == ENTITLE_SETTING_KIND_NONE);

    /* A request whose tier was never set answers as an unknown tier. */
    entitle_request *blank = NULL;
    CHECK(entitle_request_new(&blank) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, blank, hd, &decision) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(decision.reason == ENTITLE_REASON_UNKNOWN_TIER);
    CHECK(entitle_setting_value(engine, blank, sla, &value) == ENTITLE_STATUS_UNKNOWN_ID);

    /* By name: the same answers, and unknown names as their own status. */
    CHECK(entitle_request_set_tier_name(blank, S("free")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(blank, NOW) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide_by_name(engine, blank, S("hd_video"), &decision) == ENTITLE_STATUS_OK);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_NOT_GRANTED);
    CHECK(entitle_request_add_addon_name(blank, S("promo")) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide_by_name(engine, blank, S("hd_video"), &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_ADDON);
    CHECK(entitle_decide_by_name(engine, blank, S("4k_video"), &decision) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_UNKNOWN_FEATURE);
    CHECK(entitle_check_limit_by_name(engine, blank, S("api_calls"), 10000, 1, &quota) == ENTITLE_STATUS_OK);
    CHECK(!quota.allowed && quota.reason == ENTITLE_REASON_LIMIT_EXCEEDED);
    CHECK(entitle_check_limit_by_name(engine, blank, S("storage"), 0, 0, &quota) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(quota.reason == ENTITLE_REASON_UNKNOWN_LIMIT);
    CHECK(entitle_setting_value_by_name(engine, blank, S("channel"), &value) == ENTITLE_STATUS_OK);
    CHECK(value.kind == ENTITLE_SETTING_KIND_TEXT);
    CHECK(entitle_setting_value_by_name(engine, blank, S("sla"), &value) == ENTITLE_STATUS_OK);
    CHECK(value.kind == ENTITLE_SETTING_KIND_NONE);
    CHECK(entitle_setting_value_by_name(engine, blank, S("uptime"), &value) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(entitle_request_add_addon_name(blank, S("vip")) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide_by_name(engine, blank, S("hd_video"), &decision) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(decision.reason == ENTITLE_REASON_UNKNOWN_ADDON);
    CHECK(entitle_decide_by_name(engine, blank, (const uint8_t *)"x", SIZE_MAX, &decision) ==
          ENTITLE_STATUS_INVALID_ARGUMENT);

    /* More add-ons than a by-name query may hold. */
    CHECK(entitle_request_clear_addons(blank) == ENTITLE_STATUS_OK);
    for (int i = 0; i < 33; i++) {
        CHECK(entitle_request_add_addon_name(blank, S("promo")) == ENTITLE_STATUS_OK);
    }
    CHECK(entitle_decide_by_name(engine, blank, S("hd_video"), &decision) == ENTITLE_STATUS_INPUT_LIMIT);

    /* Explanations and JSON queries come back as JSON in the Rust crate's shape. */
    char *json = NULL;
    CHECK(entitle_request_set_tier(blank, free_tier) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_clear_addons(blank) == ENTITLE_STATUS_OK);
    CHECK(entitle_explain_feature(engine, blank, hd, &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strstr(json, "\"upgrade\":{\"addon\":\"promo\",\"tier\":\"pro\"}") != NULL);
    entitle_string_free(json);
    json = NULL;
    CHECK(entitle_explain_limit(engine, blank, calls, 10000, 1, &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strstr(json, "\"reason\":\"limit_exceeded\"") != NULL);
    entitle_string_free(json);
    json = NULL;
    const char *query = "{\"tier\":\"pro\",\"now\":\"2026-11-21T10:00:00Z\",\"feature\":\"hd_video\"}";
    CHECK(entitle_query_json(engine, S(query), &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strcmp(json, "{\"allowed\":true,\"reason\":\"granted_by_tier\"}") == 0);
    entitle_string_free(json);
    json = NULL;
    CHECK(entitle_query_json(engine, S("{not json"), &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strstr(json, "\"error\"") != NULL);
    entitle_string_free(json);
    /* Bytes that are not UTF-8 are a status, as for every string argument, and no JSON. */
    const uint8_t not_utf8[] = {'{', '"', 't', 'i', 'e', 'r', '"', ':', '"', 0xff, '"', '}'};
    json = NULL;
    CHECK(entitle_query_json(engine, not_utf8, sizeof not_utf8, &json) == ENTITLE_STATUS_INVALID_UTF8);
    CHECK(json == NULL);
    CHECK(entitle_query_json(engine, S(query), NULL) == ENTITLE_STATUS_NULL_ARGUMENT);

    entitle_request_free(blank);
    entitle_request_free(request);
    entitle_engine_free(engine);
}

/* True when (bytes, len) is exactly the NUL-terminated `text`. */
static int bytes_are(const uint8_t *bytes, size_t len, const char *text) {
    return bytes != NULL && len == strlen(text) && memcmp(bytes, text, len) == 0;
}

/* A caller compiled against a later header, whose struct has grown past ABI 3's. */
struct grown_setting_answer {
    entitle_setting_answer known;
    uint64_t later_field;
};

/* ABI 3: a setting answered in full, with its reason, kind, value and display text. */
static void test_setting_answers(void) {
    entitle_engine *engine = load(POLICY);
    CHECK(engine != NULL);
    uint32_t sla = id(entitle_engine_setting, engine, "sla");
    uint32_t channel = id(entitle_engine_setting, engine, "channel");
    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, S("pro")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);

    entitle_setting_answer answer = {.size = sizeof answer};
    CHECK(entitle_answer_setting(engine, request, sla, &answer) == ENTITLE_STATUS_OK);
    CHECK(answer.size == sizeof answer && answer.reason == ENTITLE_REASON_GRANTED_BY_TIER);
    CHECK(answer.kind == ENTITLE_SETTING_KIND_PERCENT && answer.number == 999000 && answer.text == NULL);
    CHECK(bytes_are(answer.display, answer.display_len, "99.9%"));
    /* The display text belongs to the engine: the same bytes every time, on every handle. */
    const uint8_t *first = answer.display;
    CHECK(entitle_answer_setting(engine, request, sla, &answer) == ENTITLE_STATUS_OK && answer.display == first);
    entitle_engine *clone = NULL;
    CHECK(entitle_engine_clone(engine, &clone) == ENTITLE_STATUS_OK);
    CHECK(entitle_answer_setting(clone, request, sla, &answer) == ENTITLE_STATUS_OK && answer.display == first);
    entitle_engine_free(clone);
    CHECK(entitle_answer_setting(engine, request, channel, &answer) == ENTITLE_STATUS_OK);
    CHECK(answer.kind == ENTITLE_SETTING_KIND_TEXT && answer.number == 0);
    CHECK(bytes_are(answer.text, answer.text_len, "forum"));
    CHECK(bytes_are(answer.display, answer.display_len, "\"forum\""));
    CHECK(entitle_answer_setting_by_name(engine, request, S("sla"), &answer) == ENTITLE_STATUS_OK);
    CHECK(answer.kind == ENTITLE_SETTING_KIND_PERCENT && bytes_are(answer.display, answer.display_len, "99.9%"));

    /* Nothing sets it: kind NONE, reason not_granted, no display. */
    CHECK(entitle_request_set_tier_name(request, S("free")) == ENTITLE_STATUS_OK);
    CHECK(entitle_answer_setting(engine, request, sla, &answer) == ENTITLE_STATUS_OK);
    CHECK(answer.kind == ENTITLE_SETTING_KIND_NONE && answer.reason == ENTITLE_REASON_NOT_GRANTED);
    CHECK(answer.display == NULL && answer.display_len == 0);

    /* The reason says which id or name was unknown. */
    CHECK(entitle_answer_setting(engine, request, 50, &answer) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(answer.kind == ENTITLE_SETTING_KIND_NONE && answer.reason == ENTITLE_REASON_UNKNOWN_SETTING);
    CHECK(entitle_answer_setting_by_name(engine, request, S("uptime"), &answer) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(answer.reason == ENTITLE_REASON_UNKNOWN_SETTING);
    CHECK(entitle_request_add_addon_name(request, S("vip")) == ENTITLE_STATUS_OK);
    CHECK(entitle_answer_setting_by_name(engine, request, S("sla"), &answer) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(answer.reason == ENTITLE_REASON_UNKNOWN_ADDON && answer.kind == ENTITLE_SETTING_KIND_NONE);
    CHECK(entitle_request_clear_addons(request) == ENTITLE_STATUS_OK);
    for (int i = 0; i < 33; i++) {
        CHECK(entitle_request_add_addon_name(request, S("promo")) == ENTITLE_STATUS_OK);
    }
    CHECK(entitle_answer_setting_by_name(engine, request, S("sla"), &answer) == ENTITLE_STATUS_INPUT_LIMIT);
    CHECK(answer.reason == ENTITLE_REASON_TOO_MANY_ADDONS);
    CHECK(entitle_request_clear_addons(request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, S("gold")) == ENTITLE_STATUS_OK);
    CHECK(entitle_answer_setting(engine, request, sla, &answer) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(answer.reason == ENTITLE_REASON_UNKNOWN_TIER);
    CHECK(entitle_request_set_tier(request, 12345) == ENTITLE_STATUS_OK);
    CHECK(entitle_answer_setting(engine, request, sla, &answer) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(answer.reason == ENTITLE_REASON_UNKNOWN_TIER);
    CHECK(entitle_request_set_tier_name(request, S("pro")) == ENTITLE_STATUS_OK);

    /* A struct smaller than ABI 3's is refused with nothing written; a larger one, from a
     * later header, gets every field this library knows and keeps the rest. */
    entitle_setting_answer small = {.size = sizeof small - 1, .kind = ENTITLE_SETTING_KIND_BYTES, .number = 7};
    CHECK(entitle_answer_setting(engine, request, sla, &small) == ENTITLE_STATUS_INVALID_ARGUMENT);
    CHECK(small.size == sizeof small - 1 && small.kind == ENTITLE_SETTING_KIND_BYTES && small.number == 7);
    small.size = 0;
    CHECK(entitle_answer_setting_by_name(engine, request, S("sla"), &small) == ENTITLE_STATUS_INVALID_ARGUMENT);
    CHECK(small.number == 7);
    struct grown_setting_answer grown = {.known = {.size = sizeof grown}, .later_field = 42};
    CHECK(entitle_answer_setting(engine, request, sla, &grown.known) == ENTITLE_STATUS_OK);
    CHECK(grown.known.size == sizeof grown && grown.known.number == 999000 && grown.later_field == 42);

    /* Arguments. */
    CHECK(entitle_answer_setting(NULL, request, sla, &answer) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_answer_setting(engine, NULL, sla, &answer) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_answer_setting(engine, request, sla, NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_answer_setting_by_name(engine, request, NULL, 3, &answer) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_answer_setting_by_name(engine, request, S("sla"), NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    const uint8_t not_utf8[] = {'s', 0xff};
    CHECK(entitle_answer_setting_by_name(engine, request, not_utf8, 2, &answer) == ENTITLE_STATUS_INVALID_UTF8);
    CHECK(entitle_answer_setting_by_name(engine, request, (const uint8_t *)"x", SIZE_MAX, &answer) ==
          ENTITLE_STATUS_INVALID_ARGUMENT);
    entitle_request_free(request);
    entitle_engine_free(engine);

    /* An add-on that sets a value is the reason, when its value is the one in force. */
    entitle_engine *plans = load("policy \"p\"\nsetting seats : number\nsetting retention : duration\n"
                                 "tier team { set seats = 5\n set retention = 2 h }\n"
                                 "addon more for team { set seats = 50 }\n");
    CHECK(plans != NULL);
    uint32_t seats = id(entitle_engine_setting, plans, "seats");
    uint32_t retention = id(entitle_engine_setting, plans, "retention");
    entitle_request *team = NULL;
    CHECK(entitle_request_new(&team) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(team, S("team")) == ENTITLE_STATUS_OK);
    CHECK(entitle_answer_setting(plans, team, seats, &answer) == ENTITLE_STATUS_OK);
    CHECK(answer.reason == ENTITLE_REASON_GRANTED_BY_TIER && answer.kind == ENTITLE_SETTING_KIND_NUMBER);
    CHECK(answer.number == 5 && bytes_are(answer.display, answer.display_len, "5"));
    CHECK(entitle_answer_setting(plans, team, retention, &answer) == ENTITLE_STATUS_OK);
    CHECK(answer.kind == ENTITLE_SETTING_KIND_DURATION && answer.number == 7200);
    CHECK(bytes_are(answer.display, answer.display_len, "2 h"));
    CHECK(entitle_request_add_addon(team, id(entitle_engine_addon, plans, "more")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_add_addon_name(team, S("more")) == ENTITLE_STATUS_OK);
    CHECK(entitle_answer_setting(plans, team, seats, &answer) == ENTITLE_STATUS_OK);
    CHECK(answer.reason == ENTITLE_REASON_GRANTED_BY_ADDON && answer.number == 50);
    CHECK(entitle_answer_setting_by_name(plans, team, S("seats"), &answer) == ENTITLE_STATUS_OK);
    CHECK(answer.reason == ENTITLE_REASON_GRANTED_BY_ADDON && bytes_are(answer.display, answer.display_len, "50"));
    CHECK(entitle_answer_setting_by_name(plans, team, S("retention"), &answer) == ENTITLE_STATUS_OK);
    CHECK(answer.reason == ENTITLE_REASON_GRANTED_BY_TIER);
    entitle_request_free(team);
    entitle_engine_free(plans);
}

/* ABI 3: many questions about one request in one call, each answer the single call's. */
/* The answer that binds a request against several limits, as the library documents it: the
 * first deny, or with none the first answer of the worst status; `count` for no answers. */
static size_t expected_binding(const entitle_quota *quotas, size_t count) {
    size_t best = count;
    int worst = -1;
    for (size_t i = 0; i < count; i++) {
        int rank = (quotas[i].allowed ? 0 : 4) + (int)quotas[i].status;
        if (rank > worst) {
            best = i;
            worst = rank;
        }
    }
    return best;
}

static void test_batches(void) {
    entitle_engine *engine = load(POLICY);
    CHECK(engine != NULL);
    uint32_t hd = id(entitle_engine_feature, engine, "hd_video");
    uint32_t ai = id(entitle_engine_feature, engine, "ai");
    uint32_t calls = id(entitle_engine_limit, engine, "api_calls");
    uint32_t minutes = id(entitle_engine_limit, engine, "ai_minutes");
    uint32_t retention = id(entitle_engine_limit, engine, "retention");
    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier(request, id(entitle_engine_tier, engine, "pro")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_key(request, S("app-7")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);

    /* More features than one pass of the library's stack arrays takes (32). */
    enum { MANY = 70 };
    uint32_t features[MANY];
    for (int i = 0; i < MANY; i++) {
        features[i] = i % 2 == 0 ? hd : ai;
    }
    bool allowed[MANY];
    entitle_decision decisions[MANY];
    CHECK(entitle_is_allowed_many(engine, request, features, MANY, allowed, MANY) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide_many(engine, request, features, MANY, decisions, MANY) == ENTITLE_STATUS_OK);
    int same = 1;
    for (int i = 0; i < MANY; i++) {
        entitle_decision one;
        same &= entitle_decide(engine, request, features[i], &one) == ENTITLE_STATUS_OK;
        same &= one.allowed == decisions[i].allowed && one.reason == decisions[i].reason;
        same &= one.allowed == allowed[i];
    }
    CHECK(same);
    CHECK(allowed[0] && decisions[0].reason == ENTITLE_REASON_GRANTED_BY_TIER);

    /* An unknown id is answered as the single call answers it, and is the status. */
    uint32_t mixed[3] = {hd, 999, ai};
    allowed[1] = true;
    CHECK(entitle_is_allowed_many(engine, request, mixed, 3, allowed, MANY) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(allowed[0] && !allowed[1]);
    CHECK(entitle_decide_many(engine, request, mixed, 3, decisions, 3) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(decisions[0].allowed && decisions[1].reason == ENTITLE_REASON_UNKNOWN_FEATURE);

    /* Too small a buffer is a status of its own, and nothing is written. */
    allowed[0] = false;
    decisions[0].reason = ENTITLE_REASON_REVOKED;
    CHECK(entitle_is_allowed_many(engine, request, features, 3, allowed, 2) == ENTITLE_STATUS_BUFFER_TOO_SMALL);
    CHECK(!allowed[0]);
    CHECK(entitle_decide_many(engine, request, features, 3, decisions, 2) == ENTITLE_STATUS_BUFFER_TOO_SMALL);
    CHECK(decisions[0].reason == ENTITLE_REASON_REVOKED);
    CHECK(entitle_decide_many(engine, request, features, 1, NULL, 0) == ENTITLE_STATUS_BUFFER_TOO_SMALL);

    /* NULL arrays are allowed for no questions only. */
    CHECK(entitle_is_allowed_many(engine, request, NULL, 0, NULL, 0) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide_many(engine, request, NULL, 0, NULL, 0) == ENTITLE_STATUS_OK);
    CHECK(entitle_check_limit_many(engine, request, NULL, NULL, NULL, 0, NULL, 0) == ENTITLE_STATUS_OK);
    CHECK(entitle_is_allowed_many(engine, request, NULL, 2, allowed, 2) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_decide_many(engine, request, features, 2, NULL, 2) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_is_allowed_many(NULL, request, features, 2, allowed, 2) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_decide_many(engine, NULL, features, 2, decisions, 2) == ENTITLE_STATUS_NULL_ARGUMENT);
    /* A count whose bytes no array can hold. */
    CHECK(entitle_decide_many(engine, request, features, SIZE_MAX / 2, decisions, SIZE_MAX) ==
          ENTITLE_STATUS_INVALID_ARGUMENT);

    /* Limits, with usage, each equal to the single call. */
    uint32_t limits[4] = {calls, minutes, retention, 77};
    uint64_t used[4] = {990000, 400, 0, 0};
    uint64_t requested[4] = {20000, 100, 1, 0};
    entitle_quota quotas[4];
    CHECK(entitle_check_limit_many(engine, request, limits, used, requested, 4, quotas, 4) ==
          ENTITLE_STATUS_UNKNOWN_ID);
    same = 1;
    for (int i = 0; i < 4; i++) {
        entitle_quota one;
        entitle_check_limit(engine, request, limits[i], used[i], requested[i], &one);
        same &= one.allowed == quotas[i].allowed && one.reason == quotas[i].reason;
        same &= one.status == quotas[i].status && one.remaining.value == quotas[i].remaining.value;
        same &= one.limit.value == quotas[i].limit.value && one.limit.unlimited == quotas[i].limit.unlimited;
        same &= one.has_soft_cap == quotas[i].has_soft_cap && one.soft_cap.value == quotas[i].soft_cap.value;
        same &= one.has_window == quotas[i].has_window && one.window_end == quotas[i].window_end;
        same &= one.window_start == quotas[i].window_start;
    }
    CHECK(same);
    CHECK(quotas[0].reason == ENTITLE_REASON_OVERAGE && quotas[0].remaining.value == 10000);
    CHECK(quotas[3].reason == ENTITLE_REASON_UNKNOWN_LIMIT);
    CHECK(entitle_check_limit_many(engine, request, limits, used, requested, 3, quotas, 3) == ENTITLE_STATUS_OK);
    CHECK(entitle_check_limit_many(engine, request, limits, NULL, requested, 3, quotas, 3) ==
          ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_check_limit_many(engine, request, limits, used, NULL, 3, quotas, 3) ==
          ENTITLE_STATUS_NULL_ARGUMENT);
    quotas[0].remaining.value = 5;
    CHECK(entitle_check_limit_many(engine, request, limits, used, requested, 3, quotas, 1) ==
          ENTITLE_STATUS_BUFFER_TOO_SMALL);
    CHECK(quotas[0].remaining.value == 5);

    /* One request against several limits (ABI 6): the answers of the batch call, and the one
     * that binds, the first of the worst outcome, found across chunks of the library's own. */
    size_t binding = 99;
    entitle_quota again[4];
    CHECK(entitle_check_limits(engine, request, limits, used, requested, 4, again, 4, &binding) ==
          ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(binding == expected_binding(again, 4) && !again[3].allowed);
    CHECK(again[0].reason == ENTITLE_REASON_OVERAGE && again[3].reason == ENTITLE_REASON_UNKNOWN_LIMIT);
    CHECK(entitle_check_limits(engine, request, NULL, NULL, NULL, 0, NULL, 0, &binding) == ENTITLE_STATUS_OK);
    CHECK(binding == 0);
    CHECK(entitle_check_limits(engine, request, limits, used, requested, 1, again, 1, NULL) ==
          ENTITLE_STATUS_NULL_ARGUMENT);
    binding = 99;
    CHECK(entitle_check_limits(engine, request, limits, used, requested, 2, again, 1, &binding) ==
          ENTITLE_STATUS_BUFFER_TOO_SMALL);
    CHECK(binding == 99);
    {
        enum { MANY = 40 };
        uint32_t many_limits[MANY];
        uint64_t many_used[MANY], many_requested[MANY];
        entitle_quota many[MANY];
        for (int i = 0; i < MANY; i++) {
            many_limits[i] = calls;
            many_used[i] = 0;
            many_requested[i] = 1;
        }
        /* Overage in the second chunk binds over within. */
        many_used[35] = 1100000;
        CHECK(entitle_check_limits(engine, request, many_limits, many_used, many_requested, MANY, many, MANY,
                                   &binding) == ENTITLE_STATUS_OK);
        CHECK(binding == 35 && many[35].reason == ENTITLE_REASON_OVERAGE);
        /* An earlier overage wins the tie, in another chunk. */
        many_used[3] = 1100000;
        CHECK(entitle_check_limits(engine, request, many_limits, many_used, many_requested, MANY, many, MANY,
                                   &binding) == ENTITLE_STATUS_OK);
        CHECK(binding == 3);
        /* A deny binds over any allow, wherever it is. */
        many_used[37] = 1200000;
        CHECK(entitle_check_limits(engine, request, many_limits, many_used, many_requested, MANY, many, MANY,
                                   &binding) == ENTITLE_STATUS_OK);
        CHECK(binding == 37 && !many[37].allowed && binding == expected_binding(many, MANY));
    }

    /* A request with an unknown tier: every answer a deny that says so. */
    CHECK(entitle_request_set_tier_name(request, S("gold")) == ENTITLE_STATUS_OK);
    allowed[0] = true;
    CHECK(entitle_is_allowed_many(engine, request, features, 2, allowed, 2) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(!allowed[0] && !allowed[1]);
    CHECK(entitle_decide_many(engine, request, features, 2, decisions, 2) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(decisions[1].reason == ENTITLE_REASON_UNKNOWN_TIER);
    CHECK(entitle_check_limit_many(engine, request, limits, used, requested, 2, quotas, 2) ==
          ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(!quotas[0].allowed && quotas[0].reason == ENTITLE_REASON_UNKNOWN_TIER);
    CHECK(entitle_request_set_tier(request, 12345) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide_many(engine, request, features, 2, decisions, 2) == ENTITLE_STATUS_UNKNOWN_ID);

    entitle_request_free(request);
    entitle_engine_free(engine);
}

/* ABI 3: the subject's whole entitlement in one call, each answer the single call's. */
static void test_entitlements(void) {
    entitle_engine *engine = load(POLICY);
    CHECK(engine != NULL);
    uint32_t calls = id(entitle_engine_limit, engine, "api_calls");
    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, S("pro")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_add_addon(request, id(entitle_engine_addon, engine, "ai_pack")) == ENTITLE_STATUS_OK);

    /* A first call with no room reports the counts. */
    entitle_entitlements page = {.size = sizeof page, .setting_size = sizeof(entitle_setting_answer)};
    CHECK(entitle_query_entitlements(engine, request, NULL, NULL, 0, &page) == ENTITLE_STATUS_BUFFER_TOO_SMALL);
    CHECK(page.feature_count == 2 && page.limit_count == 3 && page.setting_count == 2);

    entitle_decision features[2];
    uint32_t feature_ids[2];
    entitle_quota limits[3];
    uint32_t limit_ids[3];
    entitle_setting_answer settings[2];
    uint32_t setting_ids[2];
    page.features = features;
    page.feature_ids = feature_ids;
    page.features_capacity = 2;
    page.limits = limits;
    page.limit_ids = limit_ids;
    page.limits_capacity = 3;
    page.settings = settings;
    page.setting_ids = setting_ids;
    page.settings_capacity = 2;
    uint32_t usage_limits[2] = {calls, calls};
    uint64_t usage_used[2] = {5, 990000};
    CHECK(entitle_query_entitlements(engine, request, usage_limits, usage_used, 2, &page) == ENTITLE_STATUS_OK);
    /* Declaration order, with the ids of what was answered. */
    const uint8_t *name = NULL;
    size_t len = 0;
    CHECK(entitle_engine_feature_name(engine, feature_ids[0], &name, &len) == ENTITLE_STATUS_OK);
    CHECK(bytes_are(name, len, "hd_video"));
    CHECK(entitle_engine_limit_name(engine, limit_ids[2], &name, &len) == ENTITLE_STATUS_OK);
    CHECK(bytes_are(name, len, "retention"));
    CHECK(entitle_engine_setting_name(engine, setting_ids[1], &name, &len) == ENTITLE_STATUS_OK);
    CHECK(bytes_are(name, len, "channel"));
    int same = 1;
    for (int i = 0; i < 2; i++) {
        entitle_decision one;
        same &= entitle_decide(engine, request, feature_ids[i], &one) == ENTITLE_STATUS_OK;
        same &= one.allowed == features[i].allowed && one.reason == features[i].reason;
    }
    for (int i = 0; i < 3; i++) {
        entitle_quota one;
        /* The last usage given for a limit is its usage; an unlisted limit has used 0. */
        uint64_t u = limit_ids[i] == calls ? 990000 : 0;
        same &= entitle_check_limit(engine, request, limit_ids[i], u, 0, &one) == ENTITLE_STATUS_OK;
        same &= one.allowed == limits[i].allowed && one.reason == limits[i].reason;
        same &= one.remaining.value == limits[i].remaining.value && one.status == limits[i].status;
    }
    for (int i = 0; i < 2; i++) {
        entitle_setting_answer one = {.size = sizeof one};
        same &= entitle_answer_setting(engine, request, setting_ids[i], &one) == ENTITLE_STATUS_OK;
        same &= settings[i].size == sizeof one && one.kind == settings[i].kind && one.number == settings[i].number;
        same &= one.reason == settings[i].reason && one.display == settings[i].display;
        same &= one.text == settings[i].text && one.text_len == settings[i].text_len;
    }
    CHECK(same);
    CHECK(features[1].allowed && limits[0].remaining.value == 10000);
    CHECK(bytes_are(settings[0].display, settings[0].display_len, "99.9%"));

    /* The ids written over the usage they were read from: every limit's usage is read first. */
    uint32_t shared[3] = {id(entitle_engine_limit, engine, "ai_minutes"), calls, calls};
    uint64_t shared_used[3] = {600, 5, 5};
    page.limit_ids = shared;
    CHECK(entitle_query_entitlements(engine, request, shared, shared_used, 3, &page) == ENTITLE_STATUS_OK);
    CHECK(shared[0] == calls && shared[1] == limit_ids[1] && shared[2] == limit_ids[2]);
    entitle_quota calls_quota;
    CHECK(entitle_check_limit(engine, request, calls, 5, 0, &calls_quota) == ENTITLE_STATUS_OK);
    CHECK(limits[0].allowed && limits[0].remaining.value == calls_quota.remaining.value);
    /* 600 of the 500 minutes the add-on gives. */
    CHECK(!limits[1].allowed && limits[1].reason == ENTITLE_REASON_LIMIT_EXCEEDED);
    page.limit_ids = limit_ids;

    /* Ids are optional; the struct and its settings' size are checked. */
    page.feature_ids = NULL;
    page.limit_ids = NULL;
    page.setting_ids = NULL;
    CHECK(entitle_query_entitlements(engine, request, NULL, NULL, 0, &page) == ENTITLE_STATUS_OK);
    CHECK(limits[0].remaining.value == 1000000);
    page.setting_size = sizeof(entitle_setting_answer) - 8;
    CHECK(entitle_query_entitlements(engine, request, NULL, NULL, 0, &page) == ENTITLE_STATUS_INVALID_ARGUMENT);
    page.setting_size = sizeof(entitle_setting_answer);
    page.size = sizeof page - 1;
    CHECK(entitle_query_entitlements(engine, request, NULL, NULL, 0, &page) == ENTITLE_STATUS_INVALID_ARGUMENT);
    page.size = sizeof page;
    page.limits_capacity = 2;
    CHECK(entitle_query_entitlements(engine, request, NULL, NULL, 0, &page) == ENTITLE_STATUS_BUFFER_TOO_SMALL);
    page.limits_capacity = 3;
    page.settings = NULL;
    page.feature_count = 99;
    CHECK(entitle_query_entitlements(engine, request, NULL, NULL, 0, &page) == ENTITLE_STATUS_NULL_ARGUMENT);
    /* A status that answers nothing writes nothing, not even the counts. */
    CHECK(page.feature_count == 99);
    page.settings = settings;

    /* Usage of a limit the engine does not have is refused, with nothing written. */
    uint32_t unknown[1] = {77};
    limits[0].remaining.value = 3;
    CHECK(entitle_query_entitlements(engine, request, unknown, usage_used, 1, &page) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(limits[0].remaining.value == 3);
    CHECK(entitle_query_entitlements(engine, request, usage_limits, NULL, 1, &page) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_query_entitlements(engine, request, NULL, NULL, 0, NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_query_entitlements(NULL, request, NULL, NULL, 0, &page) == ENTITLE_STATUS_NULL_ARGUMENT);

    /* An unknown tier: every answer says so, and so does the status. */
    CHECK(entitle_request_set_tier_name(request, S("gold")) == ENTITLE_STATUS_OK);
    CHECK(entitle_query_entitlements(engine, request, NULL, NULL, 0, &page) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(features[0].reason == ENTITLE_REASON_UNKNOWN_TIER && limits[2].reason == ENTITLE_REASON_UNKNOWN_TIER);
    CHECK(settings[1].reason == ENTITLE_REASON_UNKNOWN_TIER && settings[1].kind == ENTITLE_SETTING_KIND_NONE);

    entitle_request_free(request);
    entitle_engine_free(engine);
}

/* ABI 3: explanations asked by name, as the by-name questions read a request. */
static void test_explain_by_name(void) {
    entitle_engine *engine = load(POLICY);
    CHECK(engine != NULL);
    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier(request, id(entitle_engine_tier, engine, "free")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);
    char *by_id = NULL;
    char *by_name = NULL;
    CHECK(entitle_explain_feature(engine, request, id(entitle_engine_feature, engine, "hd_video"), &by_id) ==
          ENTITLE_STATUS_OK);
    CHECK(entitle_explain_feature_by_name(engine, request, S("hd_video"), &by_name) == ENTITLE_STATUS_OK);
    CHECK(by_id != NULL && by_name != NULL && strcmp(by_id, by_name) == 0);
    CHECK(by_name != NULL && strstr(by_name, "\"upgrade\":{\"addon\":\"promo\",\"tier\":\"pro\"}") != NULL);
    entitle_string_free(by_id);
    entitle_string_free(by_name);
    by_id = NULL;
    by_name = NULL;
    uint32_t calls = id(entitle_engine_limit, engine, "api_calls");
    CHECK(entitle_explain_limit(engine, request, calls, 10000, 1, &by_id) == ENTITLE_STATUS_OK);
    CHECK(entitle_explain_limit_by_name(engine, request, S("api_calls"), 10000, 1, &by_name) == ENTITLE_STATUS_OK);
    CHECK(by_id != NULL && by_name != NULL && strcmp(by_id, by_name) == 0);
    CHECK(by_name != NULL && strstr(by_name, "\"reason\":\"limit_exceeded\"") != NULL);
    entitle_string_free(by_id);
    entitle_string_free(by_name);

    /* Unknown names: the deny says which, and the explanation that the policy lacks it. */
    by_name = NULL;
    CHECK(entitle_explain_feature_by_name(engine, request, S("4k"), &by_name) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(by_name != NULL && strstr(by_name, "\"reason\":\"unknown_feature\"") != NULL);
    CHECK(by_name != NULL && strstr(by_name, "does not declare") != NULL);
    entitle_string_free(by_name);
    by_name = NULL;
    CHECK(entitle_explain_limit_by_name(engine, request, S("storage"), 0, 0, &by_name) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(by_name != NULL && strstr(by_name, "\"reason\":\"unknown_limit\"") != NULL);
    entitle_string_free(by_name);
    CHECK(entitle_request_add_addon_name(request, S("vip")) == ENTITLE_STATUS_OK);
    by_name = NULL;
    CHECK(entitle_explain_feature_by_name(engine, request, S("hd_video"), &by_name) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(by_name != NULL && strstr(by_name, "(unknown_addon)") != NULL);
    entitle_string_free(by_name);
    CHECK(entitle_request_clear_addons(request) == ENTITLE_STATUS_OK);
    for (int i = 0; i < 33; i++) {
        CHECK(entitle_request_add_addon_name(request, S("promo")) == ENTITLE_STATUS_OK);
    }
    by_name = NULL;
    CHECK(entitle_explain_limit_by_name(engine, request, S("api_calls"), 0, 0, &by_name) == ENTITLE_STATUS_INPUT_LIMIT);
    CHECK(by_name != NULL && strstr(by_name, "\"reason\":\"too_many_addons\"") != NULL);
    CHECK(by_name != NULL && strstr(by_name, "(too_many_addons)") != NULL);
    entitle_string_free(by_name);
    by_name = NULL;
    CHECK(entitle_explain_feature_by_name(engine, request, S("hd_video"), &by_name) == ENTITLE_STATUS_INPUT_LIMIT);
    entitle_string_free(by_name);

    CHECK(entitle_explain_feature_by_name(engine, request, S("hd_video"), NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_explain_limit_by_name(NULL, request, S("api_calls"), 0, 0, &by_name) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_explain_feature_by_name(engine, request, NULL, 2, &by_name) == ENTITLE_STATUS_NULL_ARGUMENT);
    const uint8_t not_utf8[] = {0xc3};
    CHECK(entitle_explain_limit_by_name(engine, request, not_utf8, 1, 0, 0, &by_name) == ENTITLE_STATUS_INVALID_UTF8);
    entitle_request_free(request);
    entitle_engine_free(engine);
}

/* Several threads query one engine, each through a clone of the handle and with its own
 * request, while the main thread frees the original handle and loads and frees other engines.
 * Every thread must get the single-threaded answers. */
struct worker {
    entitle_engine *engine; /* a clone of its own, which the thread frees */
    uint32_t tier;
    uint32_t feature;
    uint32_t limit;
    uint32_t setting;
    entitle_overrides *overrides; /* NULL, or a clone of the shared set, which the thread frees */
    int mismatches;
};

static void *work(void *arg) {
    struct worker *w = arg;
    entitle_request *request = NULL;
    if (entitle_request_new(&request) != ENTITLE_STATUS_OK) {
        w->mismatches++;
        return NULL;
    }
    entitle_request_set_tier(request, w->tier);
    entitle_request_set_now(request, NOW);
    /* A thread with the override set answers acme's records: 2_000_000 calls, a 99.99% SLA. */
    uint64_t calls = 1000000;
    const char *sla = "99.9%";
    if (w->overrides != NULL) {
        entitle_request_set_key(request, S("acme"));
        if (entitle_request_set_overrides(request, w->overrides) != ENTITLE_STATUS_OK) {
            w->mismatches++;
        }
        /* The request keeps its share; the other threads' requests keep theirs. */
        entitle_overrides_free(w->overrides);
        calls = 2000000;
        sla = "99.99%";
    }
    for (int i = 0; i < 20000; i++) {
        entitle_decision decision;
        entitle_quota quota;
        if (entitle_decide(w->engine, request, w->feature, &decision) != ENTITLE_STATUS_OK || !decision.allowed) {
            w->mismatches++;
        }
        uint64_t used = (uint64_t)(i % 1000);
        if (entitle_check_limit(w->engine, request, w->limit, used, 1, &quota) != ENTITLE_STATUS_OK ||
            quota.remaining.value != calls - used) {
            w->mismatches++;
        }
        /* The display texts are made on first use, by whichever thread asks first. */
        entitle_setting_answer setting = {.size = sizeof setting};
        if (i % 100 == 0 && (entitle_answer_setting(w->engine, request, w->setting, &setting) != ENTITLE_STATUS_OK ||
                             !bytes_are(setting.display, setting.display_len, sla))) {
            w->mismatches++;
        }
    }
    entitle_request_free(request);
    entitle_engine_free(w->engine);
    return NULL;
}

/* An id handed out by another engine is refused, even where its position exists here: the
   other policy's first feature is not this one's first feature. */
/* The size of `entitle_quota2` as ABI 4 declared it, ending at `seats`: what a caller built
 * against the ABI-4 header sets, and the least size the library takes. */
#define ABI4_QUOTA2_SIZE (offsetof(entitle_quota2, seats) + sizeof(uint64_t))

/* Both ABI-4 quotas of a limit agree on every field they share. */
static int quotas_agree(const entitle_quota *one, const entitle_quota2 *two) {
    return one->allowed == two->allowed && one->reason == two->reason && one->status == two->status &&
           one->limit.value == two->limit.value && one->limit.unlimited == two->limit.unlimited &&
           one->has_soft_cap == two->has_soft_cap && one->soft_cap.value == two->soft_cap.value &&
           one->remaining.value == two->remaining.value && one->remaining.unlimited == two->remaining.unlimited;
}

/* Two ABI-4 quotas are equal field by field (never byte by byte: their padding is not theirs). */
static int quotas2_equal(const entitle_quota2 *a, const entitle_quota2 *b) {
    return a->size == b->size && a->allowed == b->allowed && a->reason == b->reason && a->status == b->status &&
           a->limit.value == b->limit.value && a->limit.unlimited == b->limit.unlimited &&
           a->has_soft_cap == b->has_soft_cap && a->soft_cap.value == b->soft_cap.value &&
           a->soft_cap.unlimited == b->soft_cap.unlimited && a->remaining.value == b->remaining.value &&
           a->remaining.unlimited == b->remaining.unlimited && a->has_seats == b->has_seats && a->seats == b->seats &&
           a->overridden == b->overridden && a->rolling == b->rolling;
}

/* ABI 4: add-ons held in a quantity and since an instant, seat counts, the quota without a
 * window, and the window on its own. */
static void test_held_and_seats(void) {
    entitle_engine *engine = load(POLICY);
    CHECK(engine != NULL);
    uint32_t pro = id(entitle_engine_tier, engine, "pro");
    uint32_t ai = id(entitle_engine_feature, engine, "ai");
    uint32_t calls = id(entitle_engine_limit, engine, "api_calls");
    uint32_t minutes = id(entitle_engine_limit, engine, "ai_minutes");
    uint32_t retention = id(entitle_engine_limit, engine, "retention");
    uint32_t pack = id(entitle_engine_addon, engine, "ai_pack");
    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier(request, pro) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, S("pro")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);

    /* The new reasons are named, and their statuses have numbers of their own. */
    CHECK(strcmp(entitle_reason_name(ENTITLE_REASON_QUANTITY_ABOVE_MAX), "quantity_above_max") == 0);
    CHECK(strcmp(entitle_reason_name(ENTITLE_REASON_SEATS_NOT_GIVEN), "seats_not_given") == 0);
    CHECK(strcmp(entitle_reason_name(ENTITLE_REASON_ACQUISITION_NOT_GIVEN), "acquisition_not_given") == 0);
    CHECK(ENTITLE_STATUS_QUANTITY_ABOVE_MAX == 13 && ENTITLE_STATUS_MISSING_INPUT == 14);

    /* One pack held, by id and by name, with and without an acquisition: it applies. */
    entitle_quota2 quota = {.size = sizeof quota};
    CHECK(entitle_request_add_held(request, pack, 1, false, 0) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_add_held_name(request, S("ai_pack"), 1, true, NOW - 86400) == ENTITLE_STATUS_OK);
    CHECK(entitle_check_limit2(engine, request, minutes, 100, 0, &quota) == ENTITLE_STATUS_OK);
    CHECK(quota.size == sizeof quota && quota.allowed && quota.reason == ENTITLE_REASON_WITHIN_LIMIT);
    CHECK(quota.limit.value == 500 && quota.remaining.value == 400 && !quota.has_seats && quota.seats == 0);
    entitle_quota2 named = {.size = sizeof named};
    CHECK(entitle_check_limit_by_name2(engine, request, S("ai_minutes"), 100, 0, &named) == ENTITLE_STATUS_OK);
    CHECK(named.limit.value == quota.limit.value && !named.limit.unlimited && named.remaining.value == 400);
    /* (`ai` is also in pro's rollout, which grants it first for this key.) */
    entitle_decision decision;
    CHECK(entitle_decide(engine, request, ai, &decision) == ENTITLE_STATUS_OK && decision.allowed);

    /* entitle_request_add_addon holds a quantity of 1: the same answers. */
    CHECK(entitle_request_clear_addons(request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_add_addon(request, pack) == ENTITLE_STATUS_OK);
    entitle_quota2 plain = {.size = sizeof plain};
    CHECK(entitle_check_limit2(engine, request, minutes, 100, 0, &plain) == ENTITLE_STATUS_OK);
    CHECK(quotas2_equal(&plain, &quota));

    /* A quantity of 0 holds nothing: the tier's own limit, as without the pack. */
    CHECK(entitle_request_clear_addons(request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_add_held(request, pack, 0, false, 0) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_add_held_name(request, S("ai_pack"), 0, false, 0) == ENTITLE_STATUS_OK);
    CHECK(entitle_check_limit2(engine, request, minutes, 0, 1, &quota) == ENTITLE_STATUS_OK);
    CHECK(!quota.allowed && quota.limit.value == 0 && quota.reason == ENTITLE_REASON_LIMIT_EXCEEDED);
    CHECK(entitle_check_limit_by_name2(engine, request, S("ai_minutes"), 0, 1, &named) == ENTITLE_STATUS_OK);
    CHECK(named.limit.value == 0 && named.reason == ENTITLE_REASON_LIMIT_EXCEEDED);

    /* A quantity past the maximum (1, as the pack declares none) is refused by every query, the
     * ABI-1 ones too, by id and by name. */
    CHECK(entitle_request_clear_addons(request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_add_held(request, pack, 2, false, 0) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_add_held_name(request, S("ai_pack"), UINT64_MAX, false, 0) == ENTITLE_STATUS_OK);
    CHECK(entitle_check_limit2(engine, request, minutes, 0, 0, &quota) == ENTITLE_STATUS_QUANTITY_ABOVE_MAX);
    CHECK(!quota.allowed && quota.reason == ENTITLE_REASON_QUANTITY_ABOVE_MAX);
    entitle_quota old;
    CHECK(entitle_check_limit(engine, request, minutes, 0, 0, &old) == ENTITLE_STATUS_QUANTITY_ABOVE_MAX);
    CHECK(quotas_agree(&old, &quota) && !old.has_window);
    CHECK(entitle_decide(engine, request, ai, &decision) == ENTITLE_STATUS_QUANTITY_ABOVE_MAX);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_QUANTITY_ABOVE_MAX);
    CHECK(entitle_decide_by_name(engine, request, S("ai"), &decision) == ENTITLE_STATUS_QUANTITY_ABOVE_MAX);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_QUANTITY_ABOVE_MAX);
    CHECK(entitle_check_limit_by_name2(engine, request, S("ai_minutes"), 0, 0, &named) ==
          ENTITLE_STATUS_QUANTITY_ABOVE_MAX);
    CHECK(named.reason == ENTITLE_REASON_QUANTITY_ABOVE_MAX);
    uint32_t both[2] = {ai, ai};
    entitle_decision decisions[2];
    CHECK(entitle_decide_many(engine, request, both, 2, decisions, 2) == ENTITLE_STATUS_QUANTITY_ABOVE_MAX);
    CHECK(decisions[1].reason == ENTITLE_REASON_QUANTITY_ABOVE_MAX);
    char *json = NULL;
    CHECK(entitle_explain_limit_by_name(engine, request, S("ai_minutes"), 0, 0, &json) ==
          ENTITLE_STATUS_QUANTITY_ABOVE_MAX);
    CHECK(json != NULL && strstr(json, "quantity_above_max") != NULL);
    entitle_string_free(json);
    entitle_window window = {true, 1, 1};
    CHECK(entitle_limit_window(engine, request, calls, &window) == ENTITLE_STATUS_QUANTITY_ABOVE_MAX);
    CHECK(!window.has_window && window.start == 0 && window.end == 0);
    CHECK(entitle_request_clear_addons(request) == ENTITLE_STATUS_OK);

    /* Bad arguments: a clear status, and the request unchanged. */
    CHECK(entitle_request_add_held(NULL, pack, 1, false, 0) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_request_add_held(request, pack, 1, true, INT64_MIN) == ENTITLE_STATUS_INVALID_ARGUMENT);
    CHECK(entitle_request_add_held_name(NULL, S("ai_pack"), 1, false, 0) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_request_add_held_name(request, NULL, 3, 1, false, 0) == ENTITLE_STATUS_NULL_ARGUMENT);
    const uint8_t not_utf8[] = {'a', 0xff};
    CHECK(entitle_request_add_held_name(request, not_utf8, sizeof not_utf8, 1, false, 0) ==
          ENTITLE_STATUS_INVALID_UTF8);
    CHECK(entitle_request_add_held_name(request, S("ai_pack"), 1, true, INT64_MIN) ==
          ENTITLE_STATUS_INVALID_ARGUMENT);
    CHECK(entitle_request_add_held_name(request, S("ai_pack"), 1, true, INT64_MAX) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_add_held(request, pack, 1, true, INT64_MAX) == ENTITLE_STATUS_OK);
    /* Only the two last were held, each once: no add-on twice, and the pack applies. */
    CHECK(entitle_check_limit_by_name2(engine, request, S("ai_minutes"), 0, 0, &named) == ENTITLE_STATUS_OK);
    CHECK(named.limit.value == 500);
    CHECK(entitle_check_limit2(engine, request, minutes, 0, 0, &quota) == ENTITLE_STATUS_OK);
    CHECK(quota.limit.value == 500);
    CHECK(entitle_request_set_seats(NULL, 3) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_request_clear_seats(NULL) == ENTITLE_STATUS_NULL_ARGUMENT);

    /* Another engine's add-on id, or a name the policy lacks, is unknown. */
    entitle_engine *other = load("policy \"o\"\nfeature ai\ntier pro { }\naddon ai_pack for pro { grant ai }\n");
    CHECK(other != NULL);
    uint32_t their_pack = id(entitle_engine_addon, other, "ai_pack");
    CHECK(entitle_request_clear_addons(request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_add_held(request, their_pack, 1, false, 0) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_add_held_name(request, S("gold_pack"), 1, false, 0) == ENTITLE_STATUS_OK);
    CHECK(entitle_check_limit2(engine, request, minutes, 0, 0, &quota) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(!quota.allowed && quota.reason == ENTITLE_REASON_UNKNOWN_ADDON);
    CHECK(entitle_check_limit_by_name2(engine, request, S("ai_minutes"), 0, 0, &named) ==
          ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(named.reason == ENTITLE_REASON_UNKNOWN_ADDON);
    entitle_engine_free(other);
    CHECK(entitle_request_clear_addons(request) == ENTITLE_STATUS_OK);

    /* A seat count changes nothing for a limit without a per-seat value: no seats are reported. */
    entitle_quota2 seated = {.size = sizeof seated};
    CHECK(entitle_request_set_seats(request, 25) == ENTITLE_STATUS_OK);
    CHECK(entitle_check_limit2(engine, request, calls, 990000, 20000, &seated) == ENTITLE_STATUS_OK);
    CHECK(seated.reason == ENTITLE_REASON_OVERAGE && seated.remaining.value == 10000 && !seated.has_seats);
    CHECK(entitle_request_clear_seats(request) == ENTITLE_STATUS_OK);
    CHECK(entitle_check_limit2(engine, request, calls, 990000, 20000, &quota) == ENTITLE_STATUS_OK);
    CHECK(quotas2_equal(&quota, &seated));
    CHECK(entitle_check_limit(engine, request, calls, 990000, 20000, &old) == ENTITLE_STATUS_OK);
    CHECK(quotas_agree(&old, &quota));

    /* The window on its own is the ABI-1 quota's. */
    CHECK(entitle_limit_window(engine, request, calls, &window) == ENTITLE_STATUS_OK);
    CHECK(window.has_window && window.start == old.window_start && window.end == old.window_end);
    CHECK(window.end - window.start == 86400 && window.start <= NOW && NOW < window.end);
    entitle_window by_name = {false, 0, 0};
    CHECK(entitle_limit_window_by_name(engine, request, S("api_calls"), &by_name) == ENTITLE_STATUS_OK);
    CHECK(by_name.has_window && by_name.start == window.start && by_name.end == window.end);
    CHECK(entitle_limit_window(engine, request, retention, &window) == ENTITLE_STATUS_OK && !window.has_window);
    CHECK(entitle_limit_window(engine, request, 999, &window) == ENTITLE_STATUS_UNKNOWN_ID && !window.has_window);
    CHECK(entitle_limit_window_by_name(engine, request, S("nope"), &window) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(entitle_limit_window_by_name(engine, request, not_utf8, sizeof not_utf8, &window) ==
          ENTITLE_STATUS_INVALID_UTF8);
    CHECK(entitle_limit_window(engine, request, calls, NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_limit_window(NULL, request, calls, &window) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_limit_window_by_name(engine, NULL, S("api_calls"), &window) == ENTITLE_STATUS_NULL_ARGUMENT);

    /* The size-prefixed quota: too small a size writes nothing; a larger one (a caller built
     * against a later header) is served, and its size kept. */
    entitle_quota2 small = {.size = ABI4_QUOTA2_SIZE - 1, .remaining = {7, false}};
    CHECK(entitle_check_limit2(engine, request, calls, 0, 0, &small) == ENTITLE_STATUS_INVALID_ARGUMENT);
    CHECK(small.size == ABI4_QUOTA2_SIZE - 1 && small.remaining.value == 7);
    CHECK(entitle_check_limit_by_name2(engine, request, S("api_calls"), 0, 0, &small) ==
          ENTITLE_STATUS_INVALID_ARGUMENT);
    CHECK(small.remaining.value == 7);
    struct {
        entitle_quota2 quota;
        uint64_t later_field;
    } larger = {.quota = {.size = sizeof larger}, .later_field = 42};
    CHECK(entitle_check_limit2(engine, request, calls, 0, 0, &larger.quota) == ENTITLE_STATUS_OK);
    CHECK(larger.quota.size == sizeof larger && larger.later_field == 42 && larger.quota.remaining.value == 1000000);
    CHECK(entitle_check_limit2(engine, request, calls, 0, 0, NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_check_limit2(engine, NULL, calls, 0, 0, &quota) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_check_limit_by_name2(engine, request, NULL, 4, 0, 0, &quota) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_check_limit_by_name2(engine, request, not_utf8, sizeof not_utf8, 0, 0, &quota) ==
          ENTITLE_STATUS_INVALID_UTF8);
    CHECK(entitle_check_limit2(engine, request, 999, 0, 0, &quota) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(!quota.allowed && quota.reason == ENTITLE_REASON_UNKNOWN_LIMIT);

    entitle_request_free(request);
    entitle_engine_free(engine);
}

/* A limit that draws on a pool (ABI 7): answered by the pool, with the pool, the cost and what
 * is left in the limit's own units. */
static void test_draws(void) {
    entitle_engine *engine = load("policy \"pools\"\nlimit credits : count per month\n"
                                  "limit minutes : duration draws credits at 5 per minute\n"
                                  "tier pro { limit credits = 1_000 }\n");
    CHECK(engine != NULL);
    uint32_t credits = id(entitle_engine_limit, engine, "credits");
    uint32_t minutes = id(entitle_engine_limit, engine, "minutes");
    entitle_request *request = request_at("pro", NOW);

    /* Thirty minutes with 900 credits used cost 150 credits, and 100 are left: 20 minutes. */
    entitle_draw draw = {.size = sizeof draw};
    CHECK(entitle_check_draw(engine, request, minutes, 900, 1800, &draw) == ENTITLE_STATUS_OK);
    CHECK(!draw.quota.allowed && draw.quota.reason == ENTITLE_REASON_LIMIT_EXCEEDED);
    CHECK(draw.pool == credits && draw.cost == 150 && draw.remaining_units.value == 1200);
    CHECK(!draw.remaining_units.unlimited && draw.quota.limit.value == 1000 && draw.quota.has_window);
    entitle_quota plain;
    CHECK(entitle_check_limit(engine, request, minutes, 900, 1800, &plain) == ENTITLE_STATUS_OK);
    CHECK(plain.reason == draw.quota.reason && plain.remaining.value == draw.quota.remaining.value);
    entitle_draw named = {.size = sizeof named};
    CHECK(entitle_check_draw_by_name(engine, request, S("minutes"), 900, 1800, &named) == ENTITLE_STATUS_OK);
    CHECK(named.pool == draw.pool && named.cost == draw.cost && named.quota.reason == draw.quota.reason);

    /* A limit that draws on nothing is its own pool; unknown names and ids are refused. */
    CHECK(entitle_check_draw(engine, request, credits, 10, 3, &draw) == ENTITLE_STATUS_OK);
    CHECK(draw.pool == credits && draw.cost == 3 && draw.remaining_units.value == 990);
    CHECK(entitle_check_draw_by_name(engine, request, S("minute"), 0, 0, &named) == ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(named.quota.reason == ENTITLE_REASON_UNKNOWN_LIMIT && named.pool == UINT32_MAX);
    CHECK(entitle_check_draw(engine, request, 12345, 0, 0, &draw) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(entitle_check_draw(engine, request, minutes, 0, 0, NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_check_draw(NULL, request, minutes, 0, 0, &draw) == ENTITLE_STATUS_NULL_ARGUMENT);
    /* A size below the struct's is refused, and nothing is written. */
    entitle_draw small = {.size = sizeof small - 1, .cost = 77};
    CHECK(entitle_check_draw(engine, request, minutes, 0, 60, &small) == ENTITLE_STATUS_INVALID_ARGUMENT);
    CHECK(small.cost == 77 && small.size == sizeof small - 1);

    entitle_request_free(request);
    entitle_engine_free(engine);
}

/* A rolling limit (ABI 8): `entitle_quota2.rolling` says so, and its window is the span that
 * ends at the request's instant, `[now − length, now)`, which moves with the instant; a
 * calendar window resets at a boundary, and a cap has no window. A limit that draws on a
 * rolling pool is answered with the pool's window. */
static void test_rolling(void) {
    entitle_engine *engine = load("policy \"rolling\"\nlimit calls : count rolling 7 days\n"
                                  "limit daily : count per day\nlimit credits : count rolling 24 hours\n"
                                  "limit chat : duration draws credits at 5 per minute\nlimit seats : count\n"
                                  "tier pro {\n limit calls = 100\n limit daily = 100\n limit credits = 1_000\n"
                                  " limit seats = 5\n}\n");
    CHECK(engine != NULL);
    uint32_t calls = id(entitle_engine_limit, engine, "calls");
    uint32_t daily = id(entitle_engine_limit, engine, "daily");
    uint32_t chat = id(entitle_engine_limit, engine, "chat");
    uint32_t seats = id(entitle_engine_limit, engine, "seats");
    entitle_request *request = request_at("pro", NOW);
    const int64_t week = 7 * 86400;

    entitle_quota2 quota = {.size = sizeof quota};
    CHECK(entitle_check_limit2(engine, request, calls, 40, 1, &quota) == ENTITLE_STATUS_OK);
    CHECK(quota.allowed && quota.remaining.value == 60 && quota.rolling && !quota.overridden);
    entitle_window window = {false, 0, 0};
    CHECK(entitle_limit_window(engine, request, calls, &window) == ENTITLE_STATUS_OK);
    CHECK(window.has_window && window.start == NOW - week && window.end == NOW);
    /* The ABI-1 quota carries the same window, and the by-name calls answer alike. */
    entitle_quota old;
    CHECK(entitle_check_limit(engine, request, calls, 40, 1, &old) == ENTITLE_STATUS_OK);
    CHECK(old.has_window && old.window_start == window.start && old.window_end == window.end);
    entitle_quota2 named = {.size = sizeof named};
    CHECK(entitle_check_limit_by_name2(engine, request, S("calls"), 40, 1, &named) == ENTITLE_STATUS_OK);
    CHECK(quotas2_equal(&named, &quota));
    entitle_window named_window = {false, 0, 0};
    CHECK(entitle_limit_window_by_name(engine, request, S("calls"), &named_window) == ENTITLE_STATUS_OK);
    CHECK(named_window.start == window.start && named_window.end == window.end);

    /* The window is never aligned: a second later, it ends a second later. */
    CHECK(entitle_request_set_now(request, NOW + 1) == ENTITLE_STATUS_OK);
    CHECK(entitle_limit_window(engine, request, calls, &window) == ENTITLE_STATUS_OK);
    CHECK(window.start == NOW + 1 - week && window.end == NOW + 1);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);

    /* A calendar window resets after the instant, and a cap has no window: neither rolls. */
    CHECK(entitle_check_limit2(engine, request, daily, 40, 1, &quota) == ENTITLE_STATUS_OK);
    CHECK(quota.allowed && !quota.rolling);
    CHECK(entitle_limit_window(engine, request, daily, &window) == ENTITLE_STATUS_OK);
    CHECK(window.has_window && window.start <= NOW && window.end > NOW && window.end - window.start == 86400);
    CHECK(entitle_check_limit2(engine, request, seats, 4, 1, &quota) == ENTITLE_STATUS_OK);
    CHECK(quota.allowed && !quota.rolling);
    CHECK(entitle_limit_window(engine, request, seats, &window) == ENTITLE_STATUS_OK && !window.has_window);

    /* A limit that draws on a rolling pool rolls with it, a denied request too: 130 seconds at
     * 5 credits a minute cost 11 credits, and 10 are left. */
    CHECK(entitle_check_limit2(engine, request, chat, 990, 130, &quota) == ENTITLE_STATUS_OK);
    CHECK(!quota.allowed && quota.reason == ENTITLE_REASON_LIMIT_EXCEEDED && quota.rolling);
    CHECK(entitle_limit_window(engine, request, chat, &window) == ENTITLE_STATUS_OK);
    CHECK(window.has_window && window.start == NOW - 86400 && window.end == NOW);

    /* A refused question has no window to roll. */
    CHECK(entitle_check_limit2(engine, request, 12345, 0, 0, &quota) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(quota.reason == ENTITLE_REASON_UNKNOWN_LIMIT && !quota.rolling);

    /* A caller whose struct ends at `overridden` is written every field but `rolling`. */
    entitle_quota2 short_quota = {.size = offsetof(entitle_quota2, rolling), .rolling = false};
    CHECK(entitle_check_limit2(engine, request, calls, 40, 1, &short_quota) == ENTITLE_STATUS_OK);
    CHECK(short_quota.remaining.value == 60 && short_quota.size == offsetof(entitle_quota2, rolling));
    CHECK(!short_quota.rolling);

    /* The JSON protocol marks the window rolling, and only that one. */
    char *json = NULL;
    const char *query = "{\"tier\":\"pro\",\"now\":1795255200,\"limit\":\"calls\",\"used\":40}";
    CHECK(entitle_query_json(engine, S(query), &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strstr(json, "\"rolling\":true") != NULL);
    entitle_string_free(json);
    json = NULL;
    query = "{\"tier\":\"pro\",\"now\":1795255200,\"limit\":\"daily\",\"used\":40}";
    CHECK(entitle_query_json(engine, S(query), &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strstr(json, "\"window\"") != NULL && strstr(json, "rolling") == NULL);
    entitle_string_free(json);

    entitle_request_free(request);
    entitle_engine_free(engine);
}

static void test_foreign_ids(void) {
    entitle_engine *ours = load(POLICY);
    entitle_engine *theirs = load("policy \"other\"\nfeature hd_video\nfeature ai\nlimit api_calls : count\n"
                                  "tier free { grant hd_video, ai\n limit api_calls = 5 }\n");
    CHECK(ours != NULL && theirs != NULL);
    uint32_t our_pro = id(entitle_engine_tier, ours, "pro");
    uint32_t our_hd = id(entitle_engine_feature, ours, "hd_video");
    uint32_t their_free = id(entitle_engine_tier, theirs, "free");
    uint32_t their_hd = id(entitle_engine_feature, theirs, "hd_video");
    uint32_t their_calls = id(entitle_engine_limit, theirs, "api_calls");
    CHECK(their_hd != our_hd);

    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier(request, our_pro) == ENTITLE_STATUS_OK);
    bool allowed = true;
    CHECK(entitle_is_allowed(ours, request, our_hd, &allowed) == ENTITLE_STATUS_OK && allowed);
    CHECK(entitle_is_allowed(ours, request, their_hd, &allowed) == ENTITLE_STATUS_UNKNOWN_ID && !allowed);
    entitle_decision decision;
    CHECK(entitle_decide(ours, request, their_hd, &decision) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_UNKNOWN_FEATURE);
    entitle_quota quota;
    CHECK(entitle_check_limit(ours, request, their_calls, 0, 0, &quota) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(!quota.allowed && quota.reason == ENTITLE_REASON_UNKNOWN_LIMIT);
    CHECK(entitle_request_set_tier(request, their_free) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(ours, request, our_hd, &decision) == ENTITLE_STATUS_UNKNOWN_ID);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_UNKNOWN_TIER);
    const uint8_t *name = NULL;
    size_t len = 0;
    CHECK(entitle_engine_feature_name(ours, their_hd, &name, &len) == ENTITLE_STATUS_UNKNOWN_ID);

    entitle_request_free(request);
    entitle_engine_free(theirs);
    entitle_engine_free(ours);
}

/* The override records of test_overrides, for POLICY. */
static const char *OVERRIDES =
    "# acme: HD video on the free tier, more calls, its own SLA and channel.\n"
    "{\"subject\":\"acme\",\"feature\":\"hd_video\",\"op\":\"grant\",\"reason\":\"trial\"}\n"
    "{\"subject\":\"acme\",\"limit\":\"api_calls\",\"op\":\"=\",\"value\":\"2_000_000\"}\n"
    "\n"
    "{\"subject\":\"acme\",\"setting\":\"sla\",\"op\":\"=\",\"value\":\"99.99%\"}\n"
    "{\"subject\":\"acme\",\"setting\":\"channel\",\"op\":\"=\",\"value\":\"slack\"}\n"
    "# globex loses HD video until December.\n"
    "{\"subject\":\"globex\",\"feature\":\"hd_video\",\"op\":\"revoke\",\"until\":\"2026-12-01T00:00:00Z\"}\n";

/* 2026-12-01T00:00:00Z, when globex's record ends. */
static const int64_t DECEMBER = 1796083200;

static entitle_overrides *load_overrides(const entitle_engine *engine, const char *text) {
    entitle_overrides *overrides = NULL;
    entitle_error *error = NULL;
    if (entitle_overrides_from_jsonl(engine, S("c-test.overrides"), S(text), &overrides, &error) != ENTITLE_STATUS_OK) {
        fprintf(stderr, "override set failed: %s\n", entitle_error_message(error));
        entitle_error_free(error);
        return NULL;
    }
    return overrides;
}

/* Loading override sets: arguments, diagnostics through the error handle, files, clones. */
static void test_override_loading(const char *root) {
    entitle_engine *engine = load(POLICY);
    CHECK(engine != NULL);
    entitle_overrides *overrides = NULL;
    entitle_error *error = NULL;
    static const uint8_t not_utf8[] = {'{', 0xff};

    CHECK(entitle_overrides_from_jsonl(NULL, S("o"), S(OVERRIDES), &overrides, &error) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_overrides_from_jsonl(engine, S("o"), S(OVERRIDES), NULL, &error) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(overrides == NULL && error == NULL);
    CHECK(entitle_overrides_from_jsonl(engine, S("o"), NULL, 3, &overrides, &error) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(overrides == NULL && entitle_error_status(error) == ENTITLE_STATUS_NULL_ARGUMENT);
    entitle_error_free(error);
    error = NULL;
    CHECK(entitle_overrides_from_jsonl(engine, S("o"), not_utf8, sizeof not_utf8, &overrides, &error) ==
          ENTITLE_STATUS_INVALID_UTF8);
    CHECK(overrides == NULL && entitle_error_status(error) == ENTITLE_STATUS_INVALID_UTF8);
    entitle_error_free(error);
    error = NULL;

    /* A record that does not check: the status, the record's file:line:col, every diagnostic. */
    const char *bad = "# a comment, then a limit the policy lacks, then a line that is no record\n"
                      "{\"subject\":\"acme\",\"limit\":\"cals\",\"op\":\"=\",\"value\":5}\n"
                      "not json\n";
    CHECK(entitle_overrides_from_jsonl(engine, S("bad.overrides"), S(bad), &overrides, &error) ==
          ENTITLE_STATUS_OVERRIDES_ERROR);
    CHECK(overrides == NULL && entitle_error_status(error) == ENTITLE_STATUS_OVERRIDES_ERROR);
    CHECK(strncmp(entitle_error_message(error), "bad.overrides:2:", strlen("bad.overrides:2:")) == 0);
    CHECK(strstr(entitle_error_message(error), "unknown limit `cals`") != NULL);
    const char *json = entitle_error_diagnostics_json(error);
    CHECK(json != NULL && strstr(json, "\"file\":\"bad.overrides\"") != NULL);
    CHECK(json != NULL && strstr(json, "\"code\":\"E005\"") != NULL && strstr(json, "\"line\":2") != NULL);
    CHECK(json != NULL && strstr(json, "\"line\":3") != NULL);
    entitle_error_free(error);
    error = NULL;
    /* No error handle asked for: the status alone. */
    CHECK(entitle_overrides_from_jsonl(engine, S("bad.overrides"), S(bad), &overrides, NULL) ==
          ENTITLE_STATUS_OVERRIDES_ERROR);
    CHECK(overrides == NULL);

    /* From a file: the corpus's set against its policy, a bad set against its own, a missing file. */
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/conformance/overrides.policy", root);
    entitle_engine *corpus = NULL;
    CHECK(entitle_engine_from_path(S(path), &corpus, NULL) == ENTITLE_STATUS_OK);
    snprintf(path, sizeof path, "%s/tests/conformance/overrides.overrides", root);
    CHECK(entitle_overrides_from_path(corpus, S(path), &overrides, &error) == ENTITLE_STATUS_OK);
    CHECK(overrides != NULL && error == NULL);
    entitle_overrides_free(overrides);
    overrides = NULL;
    /* The corpus's set against another policy does not check: it names what this one lacks. */
    CHECK(entitle_overrides_from_path(engine, S(path), &overrides, &error) == ENTITLE_STATUS_OVERRIDES_ERROR);
    CHECK(overrides == NULL && strstr(entitle_error_message(error), "overrides.overrides:") != NULL);
    json = entitle_error_diagnostics_json(error);
    CHECK(json != NULL && strstr(json, "overrides.overrides") != NULL && strstr(json, "\"line\":") != NULL);
    entitle_error_free(error);
    error = NULL;
    snprintf(path, sizeof path, "%s/tests/conformance/no-such.overrides", root);
    CHECK(entitle_overrides_from_path(corpus, S(path), &overrides, &error) == ENTITLE_STATUS_IO_ERROR);
    CHECK(overrides == NULL && strstr(entitle_error_message(error), "no-such.overrides") != NULL);
    CHECK(entitle_error_diagnostics_json(error) == NULL);
    entitle_error_free(error);
    error = NULL;
    CHECK(entitle_overrides_from_path(NULL, S(path), &overrides, &error) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_overrides_from_path(corpus, S(path), NULL, &error) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_overrides_from_path(corpus, NULL, 5, &overrides, &error) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(overrides == NULL && entitle_error_status(error) == ENTITLE_STATUS_NULL_ARGUMENT);
    entitle_error_free(error);
    error = NULL;
    entitle_engine_free(corpus);

    /* Clones share the set; each handle is freed on its own, in any order. */
    overrides = load_overrides(engine, OVERRIDES);
    CHECK(overrides != NULL);
    entitle_overrides *clone = NULL;
    CHECK(entitle_overrides_clone(NULL, &clone) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_overrides_clone(overrides, NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_overrides_clone(overrides, &clone) == ENTITLE_STATUS_OK && clone != NULL && clone != overrides);
    entitle_overrides_free(overrides);
    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, S("free")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_key(request, S("acme")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_overrides(request, clone) == ENTITLE_STATUS_OK);
    entitle_decision decision;
    CHECK(entitle_decide_by_name(engine, request, S("hd_video"), &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_OVERRIDE);
    entitle_overrides_free(clone);
    entitle_overrides_free(NULL);
    entitle_request_free(request);
    entitle_engine_free(engine);
}

/* Queries on a request that holds an override set. */
static void test_override_queries(void) {
    entitle_engine *engine = load(POLICY);
    CHECK(engine != NULL);
    entitle_overrides *overrides = load_overrides(engine, OVERRIDES);
    CHECK(overrides != NULL);
    uint32_t free_tier = id(entitle_engine_tier, engine, "free");
    uint32_t hd = id(entitle_engine_feature, engine, "hd_video");
    uint32_t ai = id(entitle_engine_feature, engine, "ai");
    uint32_t calls = id(entitle_engine_limit, engine, "api_calls");
    uint32_t sla = id(entitle_engine_setting, engine, "sla");
    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier(request, free_tier) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);

    CHECK(entitle_request_set_overrides(NULL, overrides) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_request_set_overrides(request, NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_request_clear_overrides(NULL) == ENTITLE_STATUS_NULL_ARGUMENT);

    /* The set is held before the key is set: the key is looked up when it changes. */
    CHECK(entitle_request_set_overrides(request, overrides) == ENTITLE_STATUS_OK);
    entitle_decision decision;
    CHECK(entitle_decide(engine, request, hd, &decision) == ENTITLE_STATUS_OK);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_NOT_GRANTED);
    CHECK(entitle_request_set_key(request, S("acme")) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, request, hd, &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_OVERRIDE);
    bool allowed = false;
    CHECK(entitle_is_allowed(engine, request, hd, &allowed) == ENTITLE_STATUS_OK && allowed);
    CHECK(entitle_decide_by_name(engine, request, S("hd_video"), &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_OVERRIDE);

    /* Another set replaces the first, and its records for the same key apply at once. */
    entitle_overrides *revoking = load_overrides(engine, "{\"subject\":\"acme\",\"feature\":\"hd_video\",\"op\":\"revoke\"}");
    CHECK(revoking != NULL);
    CHECK(entitle_request_set_overrides(request, revoking) == ENTITLE_STATUS_OK);
    entitle_overrides_free(revoking);
    CHECK(entitle_decide(engine, request, hd, &decision) == ENTITLE_STATUS_OK);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_REVOKED_BY_OVERRIDE);
    CHECK(entitle_request_set_overrides(request, overrides) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, request, hd, &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_OVERRIDE);

    /* The limit: the ABI-5 quota says the override changed it; the ABI-1 quota has its value. */
    entitle_quota2 quota = {.size = sizeof quota};
    CHECK(entitle_check_limit2(engine, request, calls, 1500000, 1, &quota) == ENTITLE_STATUS_OK);
    CHECK(quota.allowed && quota.reason == ENTITLE_REASON_WITHIN_LIMIT && quota.overridden);
    CHECK(quota.limit.value == 2000000 && quota.remaining.value == 500000 && !quota.has_soft_cap);
    entitle_quota2 named = {.size = sizeof named};
    CHECK(entitle_check_limit_by_name2(engine, request, S("api_calls"), 1500000, 1, &named) == ENTITLE_STATUS_OK);
    CHECK(quotas2_equal(&quota, &named));
    entitle_quota old;
    CHECK(entitle_check_limit(engine, request, calls, 1500000, 1, &old) == ENTITLE_STATUS_OK);
    CHECK(quotas_agree(&old, &quota) && old.has_window);
    /* A caller built against ABI 4 sets the ABI-4 size: every field it knows is written, and
     * nothing past them. */
    entitle_quota2 abi4 = {.size = ABI4_QUOTA2_SIZE, .overridden = false};
    CHECK(entitle_check_limit2(engine, request, calls, 1500000, 1, &abi4) == ENTITLE_STATUS_OK);
    CHECK(abi4.size == ABI4_QUOTA2_SIZE && abi4.limit.value == 2000000 && abi4.remaining.value == 500000);
    CHECK(!abi4.overridden);
    uint64_t several_used[2] = {0, 0};
    uint64_t several_requested[2] = {0, 0};
    uint32_t several_limits[2] = {calls, calls};
    entitle_quota several[2];
    CHECK(entitle_check_limit_many(engine, request, several_limits, several_used, several_requested, 2, several, 2) ==
          ENTITLE_STATUS_OK);
    CHECK(several[0].limit.value == 2000000 && several[1].limit.value == 2000000);

    /* Settings: the record's value, said to be the override's, with its display text. */
    entitle_setting_answer answer = {.size = sizeof answer};
    CHECK(entitle_answer_setting(engine, request, sla, &answer) == ENTITLE_STATUS_OK);
    CHECK(answer.reason == ENTITLE_REASON_GRANTED_BY_OVERRIDE && answer.kind == ENTITLE_SETTING_KIND_PERCENT);
    CHECK(answer.number == 999900 && bytes_are(answer.display, answer.display_len, "99.99%"));
    CHECK(entitle_answer_setting_by_name(engine, request, S("channel"), &answer) == ENTITLE_STATUS_OK);
    CHECK(answer.reason == ENTITLE_REASON_GRANTED_BY_OVERRIDE && answer.kind == ENTITLE_SETTING_KIND_TEXT);
    CHECK(bytes_are(answer.text, answer.text_len, "slack") && bytes_are(answer.display, answer.display_len, "\"slack\""));
    entitle_setting value;
    CHECK(entitle_setting_value(engine, request, sla, &value) == ENTITLE_STATUS_OK);
    CHECK(value.kind == ENTITLE_SETTING_KIND_PERCENT && value.number == 999900);

    /* The whole entitlement applies the records too. */
    entitle_decision features[2];
    entitle_quota limits[3];
    entitle_setting_answer settings[2];
    entitle_entitlements page = {.size = sizeof page,
                                 .features = features,
                                 .features_capacity = 2,
                                 .limits = limits,
                                 .limits_capacity = 3,
                                 .settings = settings,
                                 .settings_capacity = 2,
                                 .setting_size = sizeof(entitle_setting_answer)};
    CHECK(entitle_query_entitlements(engine, request, NULL, NULL, 0, &page) == ENTITLE_STATUS_OK);
    CHECK(features[0].allowed && features[0].reason == ENTITLE_REASON_GRANTED_BY_OVERRIDE);
    CHECK(limits[0].limit.value == 2000000);
    CHECK(settings[0].reason == ENTITLE_REASON_GRANTED_BY_OVERRIDE && settings[0].number == 999900);
    entitle_decision decided[2];
    uint32_t both[2] = {hd, ai};
    CHECK(entitle_decide_many(engine, request, both, 2, decided, 2) == ENTITLE_STATUS_OK);
    CHECK(decided[0].reason == ENTITLE_REASON_GRANTED_BY_OVERRIDE && decided[1].reason == ENTITLE_REASON_NOT_GRANTED);

    /* The explanation cites the record. */
    char *json = NULL;
    CHECK(entitle_explain_feature(engine, request, hd, &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strstr(json, "override for subject `acme` grants `hd_video`") != NULL);
    entitle_string_free(json);
    json = NULL;
    CHECK(entitle_explain_feature_by_name(engine, request, S("hd_video"), &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strstr(json, "granted_by_override") != NULL && strstr(json, "reason \\\"trial\\\"") != NULL);
    entitle_string_free(json);
    json = NULL;

    /* Another key answers from the plan, and its own records apply until they end. */
    CHECK(entitle_request_set_key(request, S("other")) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, request, hd, &decision) == ENTITLE_STATUS_OK);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_NOT_GRANTED);
    CHECK(entitle_check_limit2(engine, request, calls, 0, 0, &quota) == ENTITLE_STATUS_OK);
    CHECK(quota.limit.value == 10000 && !quota.overridden);
    CHECK(entitle_answer_setting(engine, request, sla, &answer) == ENTITLE_STATUS_OK);
    CHECK(answer.reason == ENTITLE_REASON_NOT_GRANTED && answer.kind == ENTITLE_SETTING_KIND_NONE);
    CHECK(entitle_request_set_key(request, S("globex")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, S("pro")) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, request, hd, &decision) == ENTITLE_STATUS_OK);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_REVOKED_BY_OVERRIDE);
    CHECK(entitle_is_allowed(engine, request, hd, &allowed) == ENTITLE_STATUS_OK && !allowed);
    CHECK(entitle_answer_setting(engine, request, sla, &answer) == ENTITLE_STATUS_OK);
    CHECK(answer.reason == ENTITLE_REASON_GRANTED_BY_TIER && answer.number == 999000);
    CHECK(entitle_request_set_now(request, DECEMBER) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, request, hd, &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_TIER);
    CHECK(entitle_request_set_now(request, DECEMBER - 1) == ENTITLE_STATUS_OK);

    /* The request keeps its share of the set when the caller frees its handle. */
    entitle_overrides_free(overrides);
    overrides = NULL;
    CHECK(entitle_decide_by_name(engine, request, S("hd_video"), &decision) == ENTITLE_STATUS_OK);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_REVOKED_BY_OVERRIDE);
    /* Removed, the set no longer applies; removing it twice is harmless. */
    CHECK(entitle_request_clear_overrides(request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_clear_overrides(request) == ENTITLE_STATUS_OK);
    CHECK(entitle_decide(engine, request, hd, &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.allowed && decision.reason == ENTITLE_REASON_GRANTED_BY_TIER);
    CHECK(entitle_check_limit2(engine, request, calls, 0, 0, &quota) == ENTITLE_STATUS_OK);
    CHECK(!quota.overridden);

    entitle_request_free(request);
    entitle_engine_free(engine);
}

/* A set checked against another policy is refused for the keys it has records for. */
static void test_foreign_overrides(void) {
    entitle_engine *ours = load(POLICY);
    entitle_engine *theirs = load("policy \"other\"\nfeature hd_video\nlimit api_calls : count per day\n"
                                  "setting sla : percent\ntier free { limit api_calls = 5 }\n");
    CHECK(ours != NULL && theirs != NULL);
    entitle_overrides *overrides = load_overrides(ours, OVERRIDES);
    CHECK(overrides != NULL);
    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, S("free")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_key(request, S("acme")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_overrides(request, overrides) == ENTITLE_STATUS_OK);

    entitle_decision decision;
    CHECK(entitle_decide_by_name(theirs, request, S("hd_video"), &decision) == ENTITLE_STATUS_OVERRIDES_NOT_FOR_ENGINE);
    CHECK(!decision.allowed && decision.reason == ENTITLE_REASON_OVERRIDES_NOT_FOR_ENGINE);
    CHECK(strcmp(entitle_reason_name(decision.reason), "overrides_not_for_engine") == 0);
    uint32_t their_hd = id(entitle_engine_feature, theirs, "hd_video");
    CHECK(entitle_decide(theirs, request, their_hd, &decision) == ENTITLE_STATUS_OVERRIDES_NOT_FOR_ENGINE);
    CHECK(decision.reason == ENTITLE_REASON_OVERRIDES_NOT_FOR_ENGINE);
    bool allowed = true;
    CHECK(entitle_is_allowed(theirs, request, their_hd, &allowed) == ENTITLE_STATUS_OVERRIDES_NOT_FOR_ENGINE);
    CHECK(!allowed);
    entitle_quota2 quota = {.size = sizeof quota};
    CHECK(entitle_check_limit_by_name2(theirs, request, S("api_calls"), 0, 0, &quota) ==
          ENTITLE_STATUS_OVERRIDES_NOT_FOR_ENGINE);
    CHECK(!quota.allowed && quota.reason == ENTITLE_REASON_OVERRIDES_NOT_FOR_ENGINE && !quota.overridden);
    entitle_setting_answer answer = {.size = sizeof answer};
    CHECK(entitle_answer_setting_by_name(theirs, request, S("sla"), &answer) == ENTITLE_STATUS_OVERRIDES_NOT_FOR_ENGINE);
    CHECK(answer.reason == ENTITLE_REASON_OVERRIDES_NOT_FOR_ENGINE && answer.kind == ENTITLE_SETTING_KIND_NONE);
    entitle_decision decided[1];
    CHECK(entitle_decide_many(theirs, request, &their_hd, 1, decided, 1) == ENTITLE_STATUS_OVERRIDES_NOT_FOR_ENGINE);
    CHECK(decided[0].reason == ENTITLE_REASON_OVERRIDES_NOT_FOR_ENGINE);
    /* The engine it was checked against answers with it. */
    CHECK(entitle_decide_by_name(ours, request, S("hd_video"), &decision) == ENTITLE_STATUS_OK);
    CHECK(decision.reason == ENTITLE_REASON_GRANTED_BY_OVERRIDE);
    /* A key without records is answered from the plan, by either engine. */
    CHECK(entitle_request_set_key(request, S("nobody")) == ENTITLE_STATUS_OK);
    CHECK(entitle_check_limit_by_name2(theirs, request, S("api_calls"), 0, 0, &quota) == ENTITLE_STATUS_OK);
    CHECK(quota.allowed && quota.limit.value == 5 && !quota.overridden);

    /* The JSON protocol says so in the answer. */
    char *json = NULL;
    const char *query = "{\"tier\":\"free\",\"key\":\"acme\",\"now\":0,\"feature\":\"hd_video\"}";
    CHECK(entitle_query_json_with_overrides(theirs, overrides, S(query), &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strcmp(json, "{\"allowed\":false,\"reason\":\"overrides_not_for_engine\"}") == 0);
    entitle_string_free(json);

    entitle_request_free(request);
    entitle_overrides_free(overrides);
    entitle_engine_free(theirs);
    entitle_engine_free(ours);
}

/* The JSON protocol with an override set. */
static void test_override_json(void) {
    entitle_engine *engine = load(POLICY);
    CHECK(engine != NULL);
    entitle_overrides *overrides = load_overrides(engine, OVERRIDES);
    CHECK(overrides != NULL);
    const char *limit = "{\"tier\":\"free\",\"key\":\"acme\",\"now\":\"2026-11-21T10:00:00Z\",\"limit\":\"api_calls\"}";
    char *json = NULL;
    CHECK(entitle_query_json_with_overrides(engine, overrides, S(limit), &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strstr(json, "\"overridden\":true") != NULL && strstr(json, "\"limit\":2000000") != NULL);
    entitle_string_free(json);
    json = NULL;
    /* Without the set, the plan's answer. */
    CHECK(entitle_query_json(engine, S(limit), &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strstr(json, "overridden") == NULL && strstr(json, "\"limit\":10000") != NULL);
    entitle_string_free(json);
    json = NULL;
    const char *feature = "{\"tier\":\"free\",\"key\":\"acme\",\"now\":0,\"feature\":\"hd_video\"}";
    CHECK(entitle_query_json_with_overrides(engine, overrides, S(feature), &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strcmp(json, "{\"allowed\":true,\"reason\":\"granted_by_override\"}") == 0);
    entitle_string_free(json);
    json = NULL;
    /* A malformed query is answered in JSON, as without a set. */
    CHECK(entitle_query_json_with_overrides(engine, overrides, S("[1]"), &json) == ENTITLE_STATUS_OK);
    CHECK(json != NULL && strstr(json, "\"error\"") != NULL);
    entitle_string_free(json);
    json = NULL;

    static const uint8_t not_utf8[] = {'{', 0xff, '}'};
    CHECK(entitle_query_json_with_overrides(engine, overrides, not_utf8, sizeof not_utf8, &json) ==
          ENTITLE_STATUS_INVALID_UTF8);
    CHECK(json == NULL);
    CHECK(entitle_query_json_with_overrides(NULL, overrides, S(feature), &json) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_query_json_with_overrides(engine, NULL, S(feature), &json) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_query_json_with_overrides(engine, overrides, S(feature), NULL) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(entitle_query_json_with_overrides(engine, overrides, NULL, 3, &json) == ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(json == NULL);

    entitle_overrides_free(overrides);
    entitle_engine_free(engine);
}

static void test_threads(void) {
    entitle_engine *engine = load(POLICY);
    CHECK(engine != NULL);
    entitle_overrides *overrides = load_overrides(engine, OVERRIDES);
    CHECK(overrides != NULL);
    struct worker workers[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        entitle_engine *clone = NULL;
        CHECK(entitle_engine_clone(engine, &clone) == ENTITLE_STATUS_OK);
        workers[i] = (struct worker){clone, id(entitle_engine_tier, engine, "pro"),
                                     id(entitle_engine_feature, engine, "hd_video"),
                                     id(entitle_engine_limit, engine, "api_calls"),
                                     id(entitle_engine_setting, engine, "sla"), NULL, 0};
        /* Half the threads share one override set, each through a clone of its own. */
        if (i % 2 == 1) {
            CHECK(entitle_overrides_clone(overrides, &workers[i].overrides) == ENTITLE_STATUS_OK);
        }
        CHECK(pthread_create(&threads[i], NULL, work, &workers[i]) == 0);
    }
    /* The threads query their clones, which keep the engine and the set alive without these
     * handles. */
    entitle_engine_free(engine);
    entitle_overrides_free(overrides);
    /* Meanwhile, load new engines as a reload would, and drop them. */
    for (int i = 0; i < 20; i++) {
        entitle_engine *next = load(POLICY);
        CHECK(next != NULL);
        entitle_engine_free(next);
    }
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(workers[i].mismatches == 0);
    }
}

int main(int argc, char **argv) {
    const char *root = argc > 1 ? argv[1] : ".";
    test_versions();
    test_load_errors(root);
    test_requests();
    test_request_tier();
    test_clone();
    test_queries();
    test_setting_answers();
    test_batches();
    test_entitlements();
    test_explain_by_name();
    test_foreign_ids();
    test_draws();
    test_rolling();
    test_held_and_seats();
    test_override_loading(root);
    test_override_queries();
    test_foreign_overrides();
    test_override_json();
    test_threads();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
