/*
 * A caller built against the ABI-7 header, run against the current library.
 *
 * `#include "entitle.h"` resolves to tests/c/abi7/entitle.h: include/entitle.h as it was at
 * ABI version 7 (commit 9055830), kept byte for byte and never regenerated, so that this
 * program sees only what a program compiled before ABI 8 saw. ABI 8 adds a field at the end of
 * `entitle_quota2`; this program holds the library to what ABI 7 added (a limit that draws on
 * a pool, answered in both terms through the size-prefixed `entitle_draw`) for the AI credit
 * pool of policies/rtc-sdk.policy, which conversation minutes draw on at 5 credits a minute
 * and transcription minutes at 2, and checks that an `entitle_draw` of the ABI-7 size is
 * answered in full and nothing is written past it. (tests/c/test_abi1_caller.c to
 * test_abi6_caller.c cover the older surfaces.)
 *
 * Built with -Wall -Wextra -Werror -pedantic and run under AddressSanitizer and
 * UndefinedBehaviorSanitizer, then again under valgrind (ffi/tests/c.rs drives both).
 * Usage: test_abi7_caller PATH_TO_RTC_SDK_POLICY
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entitle.h"
#include "check.h"
#include "caller.h"

/* 2026-11-21T10:00:00Z. */
static const int64_t NOW = 1795255200;

/* The ABI-7 draw with the bytes after it, which the library must leave as they were. */
struct guarded_draw {
    entitle_draw draw;
    unsigned char after[16];
};

/* Whether `id` is the limit the engine names `name`. */
static int names(const entitle_engine *engine, uint32_t id, const char *name) {
    const uint8_t *text = NULL;
    size_t len = 0;
    return entitle_engine_limit_name(engine, id, &text, &len) == ENTITLE_STATUS_OK && len == strlen(name) &&
           memcmp(text, name, len) == 0;
}

/* The draw of `seconds` of `limit` with `used` credits of the pool used, by id and by name:
 * both calls must answer alike, and the pool's answer must be `entitle_check_limit`'s. */
static entitle_draw ask(const entitle_engine *engine, const entitle_request *request, const char *limit,
                        uint64_t used, uint64_t seconds) {
    uint32_t id = 0;
    CHECK(entitle_engine_limit(engine, S(limit), &id) == ENTITLE_STATUS_OK);
    struct guarded_draw guarded;
    memset(&guarded, GUARD_BYTE, sizeof guarded);
    guarded.draw.size = sizeof guarded.draw;
    CHECK(entitle_check_draw(engine, request, id, used, seconds, &guarded.draw) == ENTITLE_STATUS_OK);
    CHECK(guarded.draw.size == sizeof(entitle_draw) && untouched(guarded.after, sizeof guarded.after));
    entitle_draw named = {.size = sizeof named};
    CHECK(entitle_check_draw_by_name(engine, request, S(limit), used, seconds, &named) == ENTITLE_STATUS_OK);
    CHECK(named.pool == guarded.draw.pool && named.cost == guarded.draw.cost);
    CHECK(named.remaining_units.value == guarded.draw.remaining_units.value);
    CHECK(named.quota.reason == guarded.draw.quota.reason && named.quota.status == guarded.draw.quota.status);
    entitle_quota plain;
    CHECK(entitle_check_limit(engine, request, id, used, seconds, &plain) == ENTITLE_STATUS_OK);
    CHECK(plain.allowed == guarded.draw.quota.allowed && plain.reason == guarded.draw.quota.reason);
    CHECK(plain.limit.value == guarded.draw.quota.limit.value &&
          plain.remaining.value == guarded.draw.quota.remaining.value);
    CHECK(plain.window_end == guarded.draw.quota.window_end);
    return guarded.draw;
}

int main(int argc, char **argv) {
    entitle_engine *engine = caller_engine(argc, argv, 7);
    uint32_t credits = 0;
    CHECK(entitle_engine_limit(engine, S("ai_credits"), &credits) == ENTITLE_STATUS_OK);
    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, S("pro")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);

    /* 4,000 of pro's 5,000 credits used: ten minutes of conversation cost 50, and the 1,000
     * left pay for 200 minutes; 90 seconds of transcription cost 3 (rounded up), and the same
     * credits pay for 500 minutes of it. Past 80% used, both answer at a warning. */
    const char *drawers[2] = {"conversation_minutes", "transcription_minutes"};
    const uint64_t seconds[2] = {600, 90}, costs[2] = {50, 3}, left[2] = {200 * 60, 500 * 60};
    for (int i = 0; i < 2; i++) {
        entitle_draw draw = ask(engine, request, drawers[i], 4000, seconds[i]);
        CHECK(draw.pool == credits && names(engine, draw.pool, "ai_credits"));
        CHECK(draw.quota.allowed && draw.quota.reason == ENTITLE_REASON_WITHIN_LIMIT);
        CHECK(draw.quota.status == ENTITLE_LIMIT_STATUS_WARNING && draw.quota.limit.value == 5000);
        CHECK(draw.quota.remaining.value == 1000 && draw.quota.has_window);
        CHECK(draw.cost == costs[i] && draw.remaining_units.value == left[i] && !draw.remaining_units.unlimited);
        printf("%s for pro: %llu s cost %llu ai_credits, %llu s left (%s)\n", drawers[i],
               (unsigned long long)seconds[i], (unsigned long long)draw.cost,
               (unsigned long long)draw.remaining_units.value, entitle_limit_status_name(draw.quota.status));
    }

    /* One second still costs a whole credit, and 5,000 credits pay for 1,000 minutes; past the
     * allowance the soft cap lets a minute through as overage, with nothing left in the limit's
     * units. */
    entitle_draw second = ask(engine, request, "conversation_minutes", 0, 1);
    CHECK(second.cost == 1 && second.quota.allowed && second.remaining_units.value == 1000 * 60);
    entitle_draw over = ask(engine, request, "conversation_minutes", 5990, 60);
    CHECK(over.cost == 5 && over.quota.allowed && over.quota.reason == ENTITLE_REASON_OVERAGE);
    CHECK(over.quota.has_soft_cap && over.quota.soft_cap.value == 6000 && over.remaining_units.value == 0);

    /* The pool itself draws on nothing: it is its own pool, each credit costing one. */
    entitle_draw own = ask(engine, request, "ai_credits", 4000, 7);
    CHECK(own.pool == credits && own.cost == 7 && own.remaining_units.value == 1000);

    /* Free has no credits: a minute of conversation is denied, at the same cost. */
    CHECK(entitle_request_set_tier_name(request, S("free")) == ENTITLE_STATUS_OK);
    entitle_draw free_draw = ask(engine, request, "conversation_minutes", 0, 60);
    CHECK(!free_draw.quota.allowed && free_draw.quota.reason == ENTITLE_REASON_LIMIT_EXCEEDED);
    CHECK(free_draw.cost == 5 && free_draw.pool == credits && free_draw.remaining_units.value == 0);

    /* An unknown name names no pool; a size below the ABI-7 struct is refused, writing nothing. */
    entitle_draw unknown = {.size = sizeof unknown};
    CHECK(entitle_check_draw_by_name(engine, request, S("chat_minutes"), 0, 60, &unknown) ==
          ENTITLE_STATUS_UNKNOWN_NAME);
    CHECK(unknown.quota.reason == ENTITLE_REASON_UNKNOWN_LIMIT && unknown.pool == UINT32_MAX);
    entitle_draw small = {.size = sizeof small - 1, .cost = 77};
    CHECK(entitle_check_draw(engine, request, credits, 0, 1, &small) == ENTITLE_STATUS_INVALID_ARGUMENT);
    CHECK(small.cost == 77 && small.size == sizeof small - 1);

    entitle_request_free(request);
    entitle_engine_free(engine);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
