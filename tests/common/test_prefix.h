/* The per-run prefix of test queue names: `make test`
 * exports PMQ_TEST_PREFIX=pmqt-<random>, every suite's queue names start
 * with it, and the end of the run looks for leftovers of exactly those names
 * (in /dev/mqueue and /dev/shm), never for another program's queues.
 * Shared by the C and C++ tests (c_tests, tests/reliability, tests/cpp). */
#ifndef PMQ_TEST_PREFIX_H
#define PMQ_TEST_PREFIX_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PMQ_TEST_PREFIX when set (at most 32 letters, digits, '-' and '_'), else
 * "pmq". A prefix that could not start a queue name ends the test (exit 2). */
static inline const char *test_prefix(void) {
    const char *p = getenv("PMQ_TEST_PREFIX");
    if (!p || !*p) return "pmq";
    size_t n = strlen(p);
    int ok = n <= 32;
    for (size_t i = 0; ok && i < n; i++) {
        char c = p[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '_';
    }
    if (!ok) {
        fprintf(stderr,
                "PMQ_TEST_PREFIX=\"%s\" is not a queue name prefix: use at most 32 letters, "
                "digits, - and _ (e.g. pmqt-1a2b3c4d), or unset it\n",
                p);
        exit(2);
    }
    return p;
}

#endif
