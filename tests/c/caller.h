/*
 * What the callers built against a frozen header (tests/c/test_abiN_caller.c) share: the
 * policy named on their command line, loaded, and the line that says which ABI they were
 * built against.
 *
 * It calls only functions of ABI 1, which every header declares alike, and reads
 * ENTITLE_ABI_VERSION from the header the caller includes: include it after that entitle.h and
 * check.h.
 */

#ifndef ENTITLE_TEST_CALLER_H
#define ENTITLE_TEST_CALLER_H

#include <stdio.h>
#include <stdlib.h>

/* The engine of the policy the program's one argument names. First it checks that the header
 * the program was built with is ABI `abi`'s and that the library implements at least that ABI,
 * and prints so. A missing argument exits with status 2, a policy that does not load with 1,
 * each saying why on stderr. */
static inline entitle_engine *caller_engine(int argc, char **argv, int abi) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH_TO_RTC_SDK_POLICY\n", argv[0]);
        exit(2);
    }
    CHECK(ENTITLE_ABI_VERSION == abi && entitle_abi_version() >= ENTITLE_ABI_VERSION);
    printf("built against ABI %d; the library implements at least that\n", ENTITLE_ABI_VERSION);
    entitle_engine *engine = NULL;
    entitle_error *error = NULL;
    if (entitle_engine_from_path(S(argv[1]), &engine, &error) != ENTITLE_STATUS_OK) {
        fprintf(stderr, "cannot load `%s`: %s\n", argv[1], entitle_error_message(error));
        entitle_error_free(error);
        exit(1);
    }
    return engine;
}

#endif
