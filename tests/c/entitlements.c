/*
 * A subject's whole entitlement through the typed call, beside the JSON protocol's answer.
 *
 * For each request of a list (every tier of the policy, with and without add-ons and usage,
 * and a tier the policy lacks), prints two lines: the answer `entitle_query_json` gives to an
 * `"entitlements": true` query, then the answer of `entitle_query_entitlements` written out in
 * the same JSON shape (windows in RFC 3339, as the protocol writes them). ffi/tests/c.rs
 * compares each pair as JSON values. Usage: entitlements PATH_TO_RTC_SDK_POLICY
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "entitle.h"

#define S(text) (const uint8_t *)(text), strlen(text)

/* 2026-11-21T10:00:00Z, inside launch_promo's validity. */
static const int64_t NOW = 1795255200;

static void print_string(const uint8_t *text, size_t len) {
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = text[i];
        if (c == '"' || c == '\\') {
            printf("\\%c", c);
        } else if (c < 0x20) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
    }
    putchar('"');
}

static void print_amount(entitle_amount amount) {
    if (amount.unlimited) {
        printf("\"unlimited\"");
    } else {
        printf("%" PRIu64, amount.value);
    }
}

static void print_instant(int64_t seconds) {
    time_t t = (time_t)seconds;
    char text[32];
    strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    printf("\"%s\"", text);
}

typedef entitle_status (*name_of)(const entitle_engine *, uint32_t, const uint8_t **, size_t *);

static void print_name(const entitle_engine *engine, name_of lookup, uint32_t id) {
    const uint8_t *name = NULL;
    size_t len = 0;
    lookup(engine, id, &name, &len);
    print_string(name, len);
    putchar(':');
}

/* For a limit that draws on a pool, what the JSON answer adds: its pool, the cost of nothing
 * and what is left in its own units, asked with the pool's usage from the page's list. */
static void print_draw(const entitle_engine *engine, const entitle_request *request, uint32_t limit,
                       const uint32_t *usage_limits, const uint64_t *usage_used, size_t usage_count) {
    entitle_draw draw = {.size = sizeof draw};
    entitle_check_draw(engine, request, limit, 0, 0, &draw);
    if (draw.pool == limit) {
        return;
    }
    uint64_t used = 0;
    for (size_t u = 0; u < usage_count; u++) {
        if (usage_limits[u] == draw.pool) {
            used = usage_used[u];
        }
    }
    entitle_check_draw(engine, request, limit, used, 0, &draw);
    const uint8_t *pool = NULL;
    size_t pool_len = 0;
    entitle_engine_limit_name(engine, draw.pool, &pool, &pool_len);
    printf(",\"pool\":");
    print_string(pool, pool_len);
    printf(",\"cost\":%" PRIu64 ",\"remaining_units\":", draw.cost);
    print_amount(draw.remaining_units);
}

/* Prints the typed answer; returns 0 when the call did not answer. */
static int print_typed(const entitle_engine *engine, const entitle_request *request, const uint32_t *usage_limits,
                       const uint64_t *usage_used, size_t usage_count) {
    entitle_entitlements page = {.size = sizeof page, .setting_size = sizeof(entitle_setting_answer)};
    entitle_status status = entitle_query_entitlements(engine, request, usage_limits, usage_used, usage_count, &page);
    if (status != ENTITLE_STATUS_BUFFER_TOO_SMALL) {
        fprintf(stderr, "sizing call: status %d\n", (int)status);
        return 0;
    }
    /* One more element than needed, so that an empty list still has an array. */
    page.features = calloc(page.feature_count + 1, sizeof *page.features);
    page.feature_ids = calloc(page.feature_count + 1, sizeof *page.feature_ids);
    page.features_capacity = page.feature_count;
    page.limits = calloc(page.limit_count + 1, sizeof *page.limits);
    page.limit_ids = calloc(page.limit_count + 1, sizeof *page.limit_ids);
    page.limits_capacity = page.limit_count;
    page.settings = calloc(page.setting_count + 1, sizeof *page.settings);
    page.setting_ids = calloc(page.setting_count + 1, sizeof *page.setting_ids);
    page.settings_capacity = page.setting_count;
    status = entitle_query_entitlements(engine, request, usage_limits, usage_used, usage_count, &page);
    int answered = status == ENTITLE_STATUS_OK || status == ENTITLE_STATUS_UNKNOWN_NAME ||
                   status == ENTITLE_STATUS_UNKNOWN_ID;
    if (!answered) {
        fprintf(stderr, "entitlements: status %d\n", (int)status);
    } else {
        printf("{\"features\":{");
        for (size_t i = 0; i < page.feature_count; i++) {
            entitle_decision d = page.features[i];
            printf("%s", i > 0 ? "," : "");
            print_name(engine, entitle_engine_feature_name, page.feature_ids[i]);
            printf("{\"allowed\":%s,\"reason\":\"%s\"}", d.allowed ? "true" : "false", entitle_reason_name(d.reason));
        }
        printf("},\"limits\":{");
        for (size_t i = 0; i < page.limit_count; i++) {
            entitle_quota q = page.limits[i];
            printf("%s", i > 0 ? "," : "");
            print_name(engine, entitle_engine_limit_name, page.limit_ids[i]);
            printf("{\"allowed\":%s,\"reason\":\"%s\",\"status\":\"%s\",\"limit\":", q.allowed ? "true" : "false",
                   entitle_reason_name(q.reason), entitle_limit_status_name(q.status));
            print_amount(q.limit);
            printf(",\"soft_cap\":");
            if (q.has_soft_cap) {
                print_amount(q.soft_cap);
            } else {
                printf("null");
            }
            printf(",\"remaining\":");
            print_amount(q.remaining);
            if (q.has_window) {
                printf(",\"window\":{\"start\":");
                print_instant(q.window_start);
                printf(",\"end\":");
                print_instant(q.window_end);
                printf("}");
            }
            print_draw(engine, request, page.limit_ids[i], usage_limits, usage_used, usage_count);
            printf("}");
        }
        printf("},\"settings\":{");
        for (size_t i = 0; i < page.setting_count; i++) {
            entitle_setting_answer a = page.settings[i];
            printf("%s", i > 0 ? "," : "");
            print_name(engine, entitle_engine_setting_name, page.setting_ids[i]);
            if (a.reason != ENTITLE_REASON_GRANTED_BY_TIER && a.reason != ENTITLE_REASON_GRANTED_BY_ADDON &&
                a.reason != ENTITLE_REASON_NOT_GRANTED) {
                printf("{\"allowed\":false,\"reason\":\"%s\"}", entitle_reason_name(a.reason));
            } else if (a.kind == ENTITLE_SETTING_KIND_NONE) {
                printf("{\"value\":null,\"display\":null}");
            } else {
                printf("{\"value\":");
                if (a.kind == ENTITLE_SETTING_KIND_TEXT) {
                    print_string(a.text, a.text_len);
                } else {
                    printf("%" PRIu64, a.number);
                }
                printf(",\"display\":");
                print_string(a.display, a.display_len);
                printf("}");
            }
        }
        printf("}}\n");
    }
    free(page.features);
    free(page.feature_ids);
    free(page.limits);
    free(page.limit_ids);
    free(page.settings);
    free(page.setting_ids);
    return answered;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s POLICY\n", argv[0]);
        return 2;
    }
    entitle_engine *engine = NULL;
    entitle_error *error = NULL;
    if (entitle_engine_from_path(S(argv[1]), &engine, &error) != ENTITLE_STATUS_OK) {
        fprintf(stderr, "%s\n", entitle_error_message(error));
        entitle_error_free(error);
        return 2;
    }
    const char *tiers[] = {"free", "pro", "enterprise", "acme_contract", "gold"};
    const char *addon_lists[][2] = {{NULL, NULL}, {"ai_pack", NULL}, {"launch_promo", NULL}, {"ai_pack", "launch_promo"}};
    const char *addon_json[] = {"[]", "[\"ai_pack\"]", "[\"launch_promo\"]", "[\"ai_pack\",\"launch_promo\"]"};
    uint32_t usage_limits[4] = {0, 0, 0, 0};
    entitle_engine_limit(engine, S("api_calls_per_day"), &usage_limits[0]);
    entitle_engine_limit(engine, S("ai_minutes"), &usage_limits[1]);
    entitle_engine_limit(engine, S("concurrent_connections"), &usage_limits[2]);
    entitle_engine_limit(engine, S("ai_credits"), &usage_limits[3]);
    const uint64_t usage_used[4] = {1100000, 10500, 9000, 5500};
    const char *usage_json =
        "{\"api_calls_per_day\":1100000,\"ai_minutes\":10500,\"concurrent_connections\":9000,\"ai_credits\":5500}";
    int failures = 0;
    for (size_t t = 0; t < sizeof tiers / sizeof *tiers; t++) {
        for (size_t a = 0; a < sizeof addon_json / sizeof *addon_json; a++) {
            for (int with_usage = 0; with_usage < 2; with_usage++) {
                char query[512];
                snprintf(query, sizeof query,
                         "{\"tier\":\"%s\",\"key\":\"app-42\",\"addons\":%s,\"now\":%" PRId64
                         ",\"entitlements\":true%s%s}",
                         tiers[t], addon_json[a], NOW, with_usage ? ",\"usage\":" : "", with_usage ? usage_json : "");
                char *json = NULL;
                if (entitle_query_json(engine, S(query), &json) != ENTITLE_STATUS_OK) {
                    failures++;
                    continue;
                }
                printf("%s\n", json);
                entitle_string_free(json);

                entitle_request *request = NULL;
                entitle_request_new(&request);
                entitle_request_set_tier_name(request, S(tiers[t]));
                entitle_request_set_key(request, S("app-42"));
                entitle_request_set_now(request, NOW);
                for (int i = 0; i < 2 && addon_lists[a][i] != NULL; i++) {
                    uint32_t addon = 0;
                    entitle_engine_addon(engine, S(addon_lists[a][i]), &addon);
                    entitle_request_add_addon(request, addon);
                }
                if (!print_typed(engine, request, usage_limits, usage_used, with_usage ? 4 : 0)) {
                    failures++;
                }
                entitle_request_free(request);
            }
        }
    }
    entitle_engine_free(engine);
    return failures == 0 ? 0 : 1;
}
