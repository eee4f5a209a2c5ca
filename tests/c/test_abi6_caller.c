/*
 * A caller built against the ABI-6 header, run against the current library.
 *
 * `#include "entitle.h"` resolves to tests/c/abi6/entitle.h: include/entitle.h as it was at
 * ABI version 6 (commit 6446dd9), kept byte for byte and never regenerated, so that this
 * program sees only what a program compiled before ABI 7 saw. ABI 7 adds functions; this
 * program holds the library to what ABI 6 added (one request against several limits, with the
 * index of the answer that binds) for policies/rtc-sdk.policy. (tests/c/test_abi1_caller.c to
 * test_abi5_caller.c cover the older surfaces.)
 *
 * Built with -Wall -Wextra -Werror -pedantic and run under AddressSanitizer and
 * UndefinedBehaviorSanitizer, then again under valgrind (ffi/tests/c.rs drives both).
 * Usage: test_abi6_caller PATH_TO_RTC_SDK_POLICY
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entitle.h"
#include "check.h"
#include "caller.h"

/* 2026-11-21T10:00:00Z. */
static const int64_t NOW = 1795255200;

int main(int argc, char **argv) {
    entitle_engine *engine = caller_engine(argc, argv, 6);
    entitle_request *request = NULL;
    CHECK(entitle_request_new(&request) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_tier_name(request, S("pro")) == ENTITLE_STATUS_OK);
    CHECK(entitle_request_set_now(request, NOW) == ENTITLE_STATUS_OK);

    /* A burst, a daily cap and a monthly allowance: the daily cap and its overage are spent, so
     * it binds. */
    const char *names[3] = {"api_calls_per_second", "api_calls_per_day", "ai_minutes"};
    uint32_t limits[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        CHECK(entitle_engine_limit(engine, S(names[i]), &limits[i]) == ENTITLE_STATUS_OK);
    }
    uint64_t used[3] = {1, 1200000, 10}, requested[3] = {1, 1, 1};
    entitle_quota answers[3];
    size_t binding = 99;
    CHECK(entitle_check_limits(engine, request, limits, used, requested, 3, answers, 3, &binding) ==
          ENTITLE_STATUS_OK);
    CHECK(binding == 1 && !answers[1].allowed && answers[1].reason == ENTITLE_REASON_LIMIT_EXCEEDED);
    CHECK(answers[0].allowed && answers[2].allowed);
    printf("binding: %s (%zu of 3)\n", names[binding < 3 ? binding : 0], binding);

    /* Each answer is the single call's. */
    int same = 1;
    for (int i = 0; i < 3; i++) {
        entitle_quota one;
        CHECK(entitle_check_limit(engine, request, limits[i], used[i], requested[i], &one) == ENTITLE_STATUS_OK);
        same &= one.allowed == answers[i].allowed && one.reason == answers[i].reason;
        same &= one.remaining.value == answers[i].remaining.value && one.window_end == answers[i].window_end;
    }
    CHECK(same);

    /* Nothing binds an empty batch; a NULL binding is refused and writes nothing. */
    CHECK(entitle_check_limits(engine, request, NULL, NULL, NULL, 0, NULL, 0, &binding) == ENTITLE_STATUS_OK);
    CHECK(binding == 0);
    answers[0].remaining.value = 7;
    CHECK(entitle_check_limits(engine, request, limits, used, requested, 3, answers, 3, NULL) ==
          ENTITLE_STATUS_NULL_ARGUMENT);
    CHECK(answers[0].remaining.value == 7);

    entitle_request_free(request);
    entitle_engine_free(engine);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
