/*
 * What the C tests share: the CHECK macro and its counts, a string literal as the (pointer,
 * length) pair the ABI takes, and the guard that tells whether a call wrote past the struct it
 * was given.
 *
 * Standard C only, and nothing from entitle.h: the callers built against a frozen header
 * (tests/c/abiN/entitle.h) include this one beside it and still see only what that header
 * declared.
 */

#ifndef ENTITLE_TEST_CHECK_H
#define ENTITLE_TEST_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* How many checks held and how many failed; a test prints both last, as `N passed, M failed`,
 * which ffi/tests/c.rs reads. */
static int passed = 0;
static int failed = 0;

/* Counts `condition`, and names it on stderr with its line when it fails. */
#define CHECK(condition)                                                                   \
    do {                                                                                   \
        if (condition) {                                                                   \
            passed++;                                                                      \
        } else {                                                                           \
            failed++;                                                                      \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
        }                                                                                  \
    } while (0)

#define S(text) (const uint8_t *)(text), strlen(text)

/* The byte a guard fills memory with before a call: memory the call must not write still holds
 * it after. */
#define GUARD_BYTE 0xA5

/* Whether each of the `len` bytes at `bytes` still holds GUARD_BYTE. */
static inline int untouched(const unsigned char *bytes, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (bytes[i] != GUARD_BYTE) {
            return 0;
        }
    }
    return 1;
}

#endif
