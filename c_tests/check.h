/* Minimal test helpers for pmq's C tests: checks that report the status
 * name and pmq's detail on failure, unique queue names that are unlinked at
 * exit (even after a failed check), and the closing "N passed, N failed". */
#ifndef PMQ_CHECK_H
#define PMQ_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pmq.h"
#include "../tests/support/test_prefix.h"

static int check_passed;
static int check_skipped;
static int check_failed;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (cond) {                                                            \
            check_passed++;                                                    \
        } else {                                                               \
            check_failed++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
        }                                                                      \
    } while (0)

/* Evaluates `expr` (a pmq call) once and checks its status. */
#define CHECK_STATUS(expr, expected)                                           \
    do {                                                                       \
        int check_st_ = (int)(expr);                                           \
        int check_ex_ = (int)(expected);                                       \
        if (check_st_ == check_ex_) {                                          \
            check_passed++;                                                    \
        } else {                                                               \
            check_failed++;                                                    \
            fprintf(stderr, "%s:%d: %s\n  returned %s, expected %s\n  detail: %s\n", \
                    __FILE__, __LINE__, #expr, pmq_status_name(check_st_),     \
                    pmq_status_name(check_ex_),                                \
                    check_st_ ? pmq_last_error() : "(none)");                  \
        }                                                                      \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, PMQ_STATUS_OK)

/* Checks that the last error's detail contains `needle`. */
#define CHECK_DETAIL(needle)                                                   \
    do {                                                                       \
        const char *check_d_ = pmq_last_error();                               \
        if (strstr(check_d_, (needle)) != NULL) {                              \
            check_passed++;                                                    \
        } else {                                                               \
            check_failed++;                                                    \
            fprintf(stderr, "%s:%d: detail %s\n  does not contain \"%s\"\n",   \
                    __FILE__, __LINE__, check_d_, (needle));                   \
        }                                                                      \
    } while (0)

/* Names handed out by test_queue_name(), unlinked at exit. */
#define CHECK_MAX_NAMES 256
static char check_names[CHECK_MAX_NAMES][96];
static int check_name_count;

static void check_unlink_all(void) {
    for (int i = 0; i < check_name_count; i++) {
        (void)pmq_unlink(check_names[i]);
        (void)pmq_unlink_backend(check_names[i], PMQ_BACKEND_SHM);
    }
}

/* A unique queue name for this process ("/<prefix>-t-<tag>-<pid>-<n>"; the
 * prefix: tests/support/test_prefix.h). */
static const char *test_queue_name(const char *tag) {
    if (check_name_count == 0) {
        atexit(check_unlink_all);
    }
    if (check_name_count >= CHECK_MAX_NAMES) {
        fprintf(stderr, "too many test queue names\n");
        exit(2);
    }
    char *n = check_names[check_name_count];
    snprintf(n, sizeof check_names[0], "/%s-t-%.16s-%ld-%d", test_prefix(), tag, (long)getpid(),
             check_name_count);
    check_name_count++;
    return n;
}

/* Options for a small test queue (the kernel's per-user allowance is shared
 * by every test running in parallel). */
static pmq_options test_options(int flags, int64_t max_messages, int64_t max_size) {
    pmq_options o;
    pmq_options_init(&o);
    o.flags = flags;
    o.max_messages = max_messages;
    o.max_message_size = max_size;
    return o;
}

/* Prints the closing line and returns the exit status. */
static int check_done(const char *suite) {
    printf("%s: %d passed, %d failed, %d skipped\n", suite, check_passed, check_failed,
           check_skipped);
    return check_failed == 0 ? 0 : 1;
}

#endif /* PMQ_CHECK_H */
