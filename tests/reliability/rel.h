/* Shared helpers of the reliability programs in tests/reliability:
 * checks with a closing "N passed, N failed" line, unique queue names that
 * are unlinked at exit, a monotonic clock, a checksum, shared memory for
 * results of child processes, and child supervision with a deadline (a test
 * never hangs: everything has a timeout, and a child past the deadline is
 * killed and counted as a failure). */
#ifndef PMQ_REL_H
#define PMQ_REL_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "pmq.h"
#include "../common/test_prefix.h"

static int rel_passed, rel_failed;

#define REL_CHECK(cond, ...)                                                    \
    do {                                                                        \
        if (cond) {                                                             \
            rel_passed++;                                                       \
        } else {                                                                \
            rel_failed++;                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__,    \
                    #cond);                                                     \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
        }                                                                       \
    } while (0)

#define REL_STATUS(expr, expected)                                              \
    do {                                                                        \
        int rel_st_ = (int)(expr);                                              \
        REL_CHECK(rel_st_ == (int)(expected), "%s returned %s, expected %s (%s)", \
                  #expr, pmq_status_name(rel_st_), pmq_status_name(expected),   \
                  rel_st_ ? pmq_last_error() : "");                             \
    } while (0)

static inline int rel_done(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, rel_passed, rel_failed);
    fflush(stdout);
    return rel_failed == 0 ? 0 : 1;
}

/* Names unlinked at exit (by the process that made them). */
#define REL_MAX_NAMES 64
static char rel_names[REL_MAX_NAMES][112];
static int rel_name_count;
static pid_t rel_owner;

static inline void rel_unlink_all(void) {
    if (getpid() != rel_owner) return;
    for (int i = 0; i < rel_name_count; i++) (void)pmq_unlink(rel_names[i]);
}

static inline const char *rel_name(const char *tag) {
    if (rel_name_count == 0) {
        rel_owner = getpid();
        atexit(rel_unlink_all);
    }
    if (rel_name_count >= REL_MAX_NAMES) {
        fprintf(stderr, "too many names\n");
        exit(2);
    }
    char *n = rel_names[rel_name_count++];
    snprintf(n, sizeof rel_names[0], "/%s-rel-%.20s-%ld-%d", test_prefix(), tag, (long)getpid(),
             rel_name_count);
    return n;
}

static inline pmq_options rel_options(int flags, int64_t max_messages, int64_t max_size) {
    pmq_options o;
    pmq_options_init(&o);
    o.flags = flags;
    o.max_messages = max_messages;
    o.max_message_size = max_size;
    return o;
}

static inline double rel_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void rel_sleep(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* FNV-1a 64 */
static inline uint64_t rel_hash(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* splitmix64: deterministic pseudo-random numbers from a seed. */
static inline uint64_t rel_mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline void *rel_shared(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    return p;
}

static inline int rel_open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* Waits for `pid` until `deadline` (monotonic); kills it (SIGKILL) past the
 * deadline. Returns the wait status, or -1 if it had to be killed. */
static inline int rel_wait(pid_t pid, double deadline) {
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return st;
        if (r < 0 && errno != EINTR) return -2;
        if (rel_now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        rel_sleep(0.002);
    }
}

static inline int rel_exited_ok(int st) { return st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0; }

static inline long rel_arg(int argc, char **argv, const char *key, long dflt) {
    size_t k = strlen(key);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], key, k) == 0 && argv[i][k] == '=') return strtol(argv[i] + k + 1, NULL, 10);
    return dflt;
}

#endif
