/* Minimal test helpers for pmq's C tests: checks that report the status
 * name and pmq's detail on failure, unique queue names that are unlinked at
 * exit (even after a failed check), and the closing "N passed, N failed". */
#ifndef PMQ_CHECK_H
#define PMQ_CHECK_H

#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pmq.h"
#include "../tests/common/test_prefix.h"

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
 * prefix: tests/common/test_prefix.h). */
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

/* The backend the helpers open queues on: PMQ_TEST_BACKEND=shm runs the
 * same programs on the shared-memory backend (make test-c runs both);
 * unset or "kernel" is the kernel's. Anything else stops the program: a
 * typo must not quietly test the default. */
static uint32_t test_backend(void) {
    const char *b = getenv("PMQ_TEST_BACKEND");
    if (b == NULL || *b == '\0' || strcmp(b, "kernel") == 0) return PMQ_BACKEND_KERNEL;
    if (strcmp(b, "shm") == 0) return PMQ_BACKEND_SHM;
    fprintf(stderr, "PMQ_TEST_BACKEND=%s: use kernel or shm\n", b);
    exit(2);
}

/* True when the helpers test the shared-memory backend. */
static inline int testing_shm(void) { return test_backend() == PMQ_BACKEND_SHM; }

/* pmq_options_init() for the backend under test (opening an existing
 * queue by name must look in the backend that holds it). */
static inline void test_options_init(pmq_options *o) {
    pmq_options_init(o);
    o->backend = test_backend();
}

/* Options for a small test queue (the kernel's per-user allowance is shared
 * by every test running in parallel) on the backend under test. */
static pmq_options test_options(int flags, int64_t max_messages, int64_t max_size) {
    pmq_options o;
    pmq_options_init(&o);
    o.backend = test_backend();
    o.flags = flags;
    o.max_messages = max_messages;
    o.max_message_size = max_size;
    return o;
}

/* Prints why a test was skipped ("SKIPPED <what>: <why>", which run.sh
 * shows and checks against c_tests/expected-skips) and counts it; a skipped
 * test counts as neither passed nor failed. */
static inline void skip(const char *what, const char *why) {
    printf("SKIPPED %s: %s\n", what, why);
    check_skipped++;
}

/* Polls `fd` for `events` until exactly `expect` of them are ready; true
 * when they are. The kernel's descriptor is exact at once; the shm
 * backend's readiness descriptor is brought up to date by a helper thread,
 * so this waits (up to 5 s) for it to catch up: the state is awaited,
 * never assumed after a sleep. */
static inline bool poll_state(int fd, short events, short expect) {
    for (int i = 0; i < 5000; i++) {
        struct pollfd p = {fd, events, 0};
        if (poll(&p, 1, 0) >= 0 && (p.revents & events) == expect) return true;
        usleep(1000);
    }
    return false;
}

/* Prints the closing line and returns the exit status. */
static int check_done(const char *suite) {
    printf("%s: %d passed, %d failed, %d skipped\n", suite, check_passed, check_failed,
           check_skipped);
    return check_failed == 0 ? 0 : 1;
}

#endif /* PMQ_CHECK_H */
