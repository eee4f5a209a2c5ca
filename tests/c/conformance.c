/*
 * The conformance corpus, answered through the C ABI's structs.
 *
 * Reads queries from standard input, one per line, as tab-separated fields:
 *   kind  policy-path  tier  key  billing-anchor  now  add-ons  name  used  requested  seats  overrides
 * where kind is `feature`, `limit`, `setting` or `limits` (one request against several limits,
 * whose name field is comma-separated `limit:used:requested` items and whose used and requested
 * fields are unused; a name the engine does not know is asked by a foreign id), add-ons are comma-separated items, each a name
 * (held once, through entitle_request_add_addon_name) or `name:quantity:acquired` (through
 * entitle_request_add_held_name, with `-` for no acquisition instant), and seats is a count or
 * `-` for none, and overrides is the path of the policy's override set (NAME.overrides beside
 * NAME.policy), loaded with entitle_overrides_from_path and held by every request of that
 * policy, or `-` for none. Add-ons are held both by name and by id, for the by-name queries and
 * for the batch of `limits`, which asks by id. Writes one JSON answer per line in the shape of `entitle eval`, with a
 * counter's window as Unix seconds, marked `"rolling": true` when the size-prefixed quota says it
 * rolls (ABI 8). A limit is answered through the ABI-4 quota and window, checked against the
 * ABI-1 quota. ffi/tests/conformance.rs writes the input and compares the
 * output with Rust's.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entitle.h"

#define S(text) (const uint8_t *)(text), strlen(text)

static void print_json_string(const char *text, size_t len) {
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
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

static void print_reason(const char *field, entitle_reason reason) {
    printf("\"%s\":\"%s\"", field, entitle_reason_name(reason));
}

static void print_soft_cap(bool has_soft_cap, entitle_amount soft_cap) {
    printf(",\"soft_cap\":");
    if (has_soft_cap) {
        print_amount(soft_cap);
    } else {
        printf("null");
    }
}

/* One answer of a batch, an ABI-1 quota, which carries its window, without its closing brace. */
static void print_quota_fields(const entitle_quota *q) {
    printf("{\"allowed\":%s,\"limit\":", q->allowed ? "true" : "false");
    print_amount(q->limit);
    printf(",");
    print_reason("reason", q->reason);
    printf(",\"remaining\":");
    print_amount(q->remaining);
    print_soft_cap(q->has_soft_cap, q->soft_cap);
    printf(",\"status\":\"%s\"", entitle_limit_status_name(q->status));
    if (q->has_window) {
        printf(",\"window\":{\"end\":%" PRId64 ",\"start\":%" PRId64 "}", q->window_end, q->window_start);
    }
}

/* For a limit that draws on a pool (ABI 7), the fields the JSON answer adds: the pool's name,
 * the request's cost and what is left in the limit's own units; nothing for any other limit.
 * `limit` is the limit's id, UINT32_MAX for an unknown name. */
static int print_draw(const entitle_engine *engine, const entitle_request *request, uint32_t limit, uint64_t used,
                      uint64_t requested, const entitle_quota *quota) {
    entitle_draw draw = {.size = sizeof draw};
    entitle_check_draw(engine, request, limit, used, requested, &draw);
    if (draw.quota.reason != quota->reason || draw.quota.remaining.value != quota->remaining.value) {
        fprintf(stderr, "entitle_check_draw answers otherwise than entitle_check_limit\n");
        return 3;
    }
    const uint8_t *pool = NULL;
    size_t pool_len = 0;
    if (limit == UINT32_MAX || draw.pool == limit ||
        entitle_engine_limit_name(engine, draw.pool, &pool, &pool_len) != ENTITLE_STATUS_OK) {
        return 0;
    }
    printf(",\"cost\":%" PRIu64 ",\"pool\":\"%.*s\",\"remaining_units\":", draw.cost, (int)pool_len,
           (const char *)pool);
    print_amount(draw.remaining_units);
    return 0;
}

/* Holds the add-on named `name` for the id-based queries too (the batch of `limits` is one),
 * as the by-name queries hold it; a name the engine does not know is held by an id no engine
 * gives, which every id-based answer then denies as unknown, as the by-name answers do. */
static void hold_by_id(const entitle_engine *engine, entitle_request *request, const char *name, uint64_t quantity,
                       bool has_acquired, int64_t acquired) {
    uint32_t addon = UINT32_MAX;
    if (entitle_engine_addon(engine, S(name), &addon) != ENTITLE_STATUS_OK) {
        addon = UINT32_MAX;
    }
    entitle_request_add_held(request, addon, quantity, has_acquired, acquired);
}

enum { MAX_LIMITS = 64 };

/* Asks one request against the `limit:used:requested` items of `items`, in place. */
static int answer_limits(const entitle_engine *engine, const entitle_request *request, char *items) {
    uint32_t limits[MAX_LIMITS];
    uint64_t used[MAX_LIMITS], requested[MAX_LIMITS];
    entitle_quota quotas[MAX_LIMITS];
    size_t count = 0;
    for (char *item = strtok(items, ","); item != NULL; item = strtok(NULL, ",")) {
        char *used_text = strchr(item, ':');
        char *requested_text = used_text == NULL ? NULL : strchr(used_text + 1, ':');
        if (requested_text == NULL || count == MAX_LIMITS) {
            fprintf(stderr, "a limits item `%s` needs `limit:used:requested`, at most %d of them\n", item,
                    MAX_LIMITS);
            return 2;
        }
        *used_text++ = '\0';
        *requested_text++ = '\0';
        /* A name the engine does not know is asked by an id no engine gives, as a caller holding
         * a stale id would: the answer is a deny that says the limit is unknown. */
        if (entitle_engine_limit(engine, S(item), &limits[count]) != ENTITLE_STATUS_OK) {
            limits[count] = UINT32_MAX;
        }
        used[count] = strtoull(used_text, NULL, 10);
        requested[count] = strtoull(requested_text, NULL, 10);
        count++;
    }
    size_t binding = MAX_LIMITS + 1;
    entitle_check_limits(engine, request, limits, used, requested, count, quotas, MAX_LIMITS, &binding);
    if (binding > count) {
        fprintf(stderr, "entitle_check_limits wrote no binding index\n");
        return 3;
    }
    bool allowed = true;
    for (size_t i = 0; i < count; i++) {
        allowed &= quotas[i].allowed;
    }
    printf("{\"allowed\":%s,\"binding\":", allowed ? "true" : "false");
    if (binding == count) {
        printf("null");
    } else {
        printf("%zu", binding);
    }
    printf(",\"limits\":[");
    for (size_t i = 0; i < count; i++) {
        printf(i == 0 ? "" : ",");
        print_quota_fields(&quotas[i]);
        int failure = print_draw(engine, request, limits[i], used[i], requested[i], &quotas[i]);
        if (failure != 0) {
            return failure;
        }
        printf("}");
    }
    printf("]}\n");
    return 0;
}

/* Splits `line` at tabs into at most `max` fields, in place. */
static int split(char *line, char **fields, int max) {
    int count = 0;
    char *start = line;
    for (char *p = line;; p++) {
        if (*p == '\t' || *p == '\n' || *p == '\0') {
            int end = *p != '\t';
            *p = '\0';
            if (count < max) {
                fields[count++] = start;
            }
            if (end) {
                return count;
            }
            start = p + 1;
        }
    }
}

int main(void) {
    static char line[1 << 16];
    char policy[4096] = "";
    entitle_engine *engine = NULL;
    entitle_overrides *overrides = NULL;
    while (fgets(line, sizeof line, stdin) != NULL) {
        char *f[12];
        if (split(line, f, 12) != 12) {
            fprintf(stderr, "a query line needs 12 tab-separated fields\n");
            return 2;
        }
        if (strcmp(policy, f[1]) != 0) {
            entitle_overrides_free(overrides);
            overrides = NULL;
            entitle_engine_free(engine);
            engine = NULL;
            entitle_error *error = NULL;
            if (entitle_engine_from_path(S(f[1]), &engine, &error) != ENTITLE_STATUS_OK) {
                fprintf(stderr, "%s\n", entitle_error_message(error));
                entitle_error_free(error);
                return 2;
            }
            if (strcmp(f[11], "-") != 0 &&
                entitle_overrides_from_path(engine, S(f[11]), &overrides, &error) != ENTITLE_STATUS_OK) {
                fprintf(stderr, "%s\n", entitle_error_message(error));
                entitle_error_free(error);
                return 2;
            }
            snprintf(policy, sizeof policy, "%s", f[1]);
        }
        entitle_request *request = NULL;
        entitle_request_new(&request);
        entitle_request_set_tier_name(request, S(f[2]));
        entitle_request_set_key(request, S(f[3]));
        entitle_request_set_billing_anchor(request, (uint8_t)strtoul(f[4], NULL, 10));
        entitle_request_set_now(request, strtoll(f[5], NULL, 10));
        for (char *addon = strtok(f[6], ","); addon != NULL; addon = strtok(NULL, ",")) {
            char *quantity = strchr(addon, ':');
            if (quantity == NULL) {
                entitle_request_add_addon_name(request, S(addon));
                hold_by_id(engine, request, addon, 1, false, 0);
                continue;
            }
            *quantity++ = '\0';
            char *acquired = strchr(quantity, ':');
            if (acquired == NULL) {
                fprintf(stderr, "an add-on item `%s:%s` needs `name:quantity:acquired`\n", addon, quantity);
                return 2;
            }
            *acquired++ = '\0';
            bool has_acquired = strcmp(acquired, "-") != 0;
            uint64_t held = strtoull(quantity, NULL, 10);
            int64_t at = has_acquired ? strtoll(acquired, NULL, 10) : 0;
            hold_by_id(engine, request, addon, held, has_acquired, at);
            if (entitle_request_add_held_name(request, S(addon), held, has_acquired, at) != ENTITLE_STATUS_OK) {
                fprintf(stderr, "cannot hold `%s`\n", addon);
                return 2;
            }
        }
        if (strcmp(f[10], "-") != 0) {
            entitle_request_set_seats(request, strtoull(f[10], NULL, 10));
        }
        if (overrides != NULL && entitle_request_set_overrides(request, overrides) != ENTITLE_STATUS_OK) {
            fprintf(stderr, "cannot hold the override set\n");
            return 2;
        }
        const char *kind = f[0];
        const char *name = f[7];
        if (strcmp(kind, "feature") == 0) {
            entitle_decision d;
            entitle_decide_by_name(engine, request, S(name), &d);
            printf("{\"allowed\":%s,", d.allowed ? "true" : "false");
            print_reason("reason", d.reason);
            printf("}\n");
        } else if (strcmp(kind, "limit") == 0) {
            uint64_t used = strtoull(f[8], NULL, 10);
            uint64_t requested = strtoull(f[9], NULL, 10);
            entitle_quota2 q = {.size = sizeof q};
            entitle_status status = entitle_check_limit_by_name2(engine, request, S(name), used, requested, &q);
            entitle_window w;
            entitle_status window_status = entitle_limit_window_by_name(engine, request, S(name), &w);
            /* The ABI-1 quota answers alike, its window included. */
            entitle_quota old;
            entitle_status old_status = entitle_check_limit_by_name(engine, request, S(name), used, requested, &old);
            if (old_status != status || old.allowed != q.allowed || old.reason != q.reason ||
                old.remaining.value != q.remaining.value || old.limit.value != q.limit.value ||
                old.has_window != w.has_window || old.window_start != w.start || old.window_end != w.end ||
                (window_status != status && w.has_window)) {
                fprintf(stderr, "the ABI-1 quota of `%s` differs from the ABI-4 quota and window\n", name);
                return 3;
            }
            if (q.rolling && !w.has_window) {
                fprintf(stderr, "the quota of `%s` rolls but the limit has no window\n", name);
                return 3;
            }
            printf("{\"allowed\":%s,\"limit\":", q.allowed ? "true" : "false");
            print_amount(q.limit);
            printf(",");
            print_reason("reason", q.reason);
            printf(",\"remaining\":");
            print_amount(q.remaining);
            print_soft_cap(q.has_soft_cap, q.soft_cap);
            printf(",\"status\":\"%s\"", entitle_limit_status_name(q.status));
            if (q.has_seats) {
                printf(",\"seats\":%" PRIu64, q.seats);
            }
            if (q.overridden) {
                printf(",\"overridden\":true");
            }
            if (w.has_window) {
                printf(",\"window\":{\"end\":%" PRId64 ",\"start\":%" PRId64 "%s}", w.end, w.start,
                       q.rolling ? ",\"rolling\":true" : "");
            }
            uint32_t limit = UINT32_MAX;
            if (entitle_engine_limit(engine, S(name), &limit) != ENTITLE_STATUS_OK) {
                limit = UINT32_MAX;
            }
            int failure = print_draw(engine, request, limit, used, requested, &old);
            if (failure != 0) {
                return failure;
            }
            printf("}\n");
        } else if (strcmp(kind, "limits") == 0) {
            int failure = answer_limits(engine, request, f[7]);
            if (failure != 0) {
                return failure;
            }
        } else {
            /* The full answer says which name was unknown, and gives the display text. */
            entitle_setting_answer a = {.size = sizeof a};
            entitle_answer_setting_by_name(engine, request, S(name), &a);
            if (a.reason != ENTITLE_REASON_GRANTED_BY_TIER && a.reason != ENTITLE_REASON_GRANTED_BY_ADDON &&
                a.reason != ENTITLE_REASON_GRANTED_BY_OVERRIDE && a.reason != ENTITLE_REASON_NOT_GRANTED) {
                printf("{\"allowed\":false,");
                print_reason("reason", a.reason);
                printf("}\n");
            } else if (a.kind == ENTITLE_SETTING_KIND_NONE) {
                printf("{\"display\":null,\"value\":null}\n");
            } else {
                printf("{\"display\":");
                print_json_string((const char *)a.display, a.display_len);
                printf(",\"value\":");
                if (a.kind == ENTITLE_SETTING_KIND_TEXT) {
                    print_json_string((const char *)a.text, a.text_len);
                } else {
                    printf("%" PRIu64, a.number);
                }
                printf("}\n");
            }
        }
        entitle_request_free(request);
    }
    entitle_overrides_free(overrides);
    entitle_engine_free(engine);
    return 0;
}
