/*
 * The conformance corpus, answered through the C ABI's structs.
 *
 * Reads queries from standard input, one per line, as tab-separated fields:
 *   kind  policy-path  tier  key  billing-anchor  now  add-ons  name  used  requested
 * where kind is `feature`, `limit` or `setting` and add-ons are comma-separated names. Writes
 * one JSON answer per line in the shape of `entitle eval`, with a counter's window as Unix
 * seconds. ffi/tests/conformance.rs writes the input and compares the output with Rust's.
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
    while (fgets(line, sizeof line, stdin) != NULL) {
        char *f[10];
        if (split(line, f, 10) != 10) {
            fprintf(stderr, "a query line needs 10 tab-separated fields\n");
            return 2;
        }
        if (strcmp(policy, f[1]) != 0) {
            entitle_engine_free(engine);
            engine = NULL;
            entitle_error *error = NULL;
            if (entitle_engine_from_path(S(f[1]), &engine, &error) != ENTITLE_STATUS_OK) {
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
            entitle_request_add_addon_name(request, S(addon));
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
            entitle_quota q;
            entitle_check_limit_by_name(engine, request, S(name), strtoull(f[8], NULL, 10), strtoull(f[9], NULL, 10),
                                        &q);
            printf("{\"allowed\":%s,\"limit\":", q.allowed ? "true" : "false");
            print_amount(q.limit);
            printf(",");
            print_reason("reason", q.reason);
            printf(",\"remaining\":");
            print_amount(q.remaining);
            printf(",\"soft_cap\":");
            if (q.has_soft_cap) {
                print_amount(q.soft_cap);
            } else {
                printf("null");
            }
            printf(",\"status\":\"%s\"", entitle_limit_status_name(q.status));
            if (q.has_window) {
                printf(",\"window\":{\"end\":%" PRId64 ",\"start\":%" PRId64 "}", q.window_end, q.window_start);
            }
            printf("}\n");
        } else {
            /* The full answer says which name was unknown, and gives the display text. */
            entitle_setting_answer a = {.size = sizeof a};
            entitle_answer_setting_by_name(engine, request, S(name), &a);
            if (a.reason != ENTITLE_REASON_GRANTED_BY_TIER && a.reason != ENTITLE_REASON_GRANTED_BY_ADDON &&
                a.reason != ENTITLE_REASON_NOT_GRANTED) {
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
    entitle_engine_free(engine);
    return 0;
}
