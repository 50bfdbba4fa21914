/* Shared helpers for pmq's C tests (on top of check.h): the monotonic
 * clock, /proc/sys/fs/mqueue values, small queues that are always unlinked,
 * waiting until a thread really sleeps in a given system call, and running
 * checks in a forked child whose pass/fail counts are added to the parent's.
 *
 * Everything here is `static inline` so a test file that does not use a
 * helper gets no unused-function warning. */
#ifndef PMQ_TEST_UTIL_H
#define PMQ_TEST_UTIL_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"

/* Unlinks `name` from the backend under test. */
static inline pmq_status test_unlink(const char *name) {
    return pmq_unlink_backend(name, test_backend());
}

/* Seconds on CLOCK_MONOTONIC. */
static inline double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A value from /proc/sys/fs/mqueue/<file>, or -1 if it cannot be read. */
static inline long long mqueue_sysctl(const char *file) {
    char path[128];
    snprintf(path, sizeof path, "/proc/sys/fs/mqueue/%s", file);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long long v = -1;
    if (fscanf(f, "%lld", &v) != 1) v = -1;
    fclose(f);
    return v;
}

/* Creates a new queue (O_CREX) with a unique test name; NULL (and a failed
 * check) on error. The name is unlinked at exit whatever happens. */
static inline pmq_queue *new_queue(const char *tag, int64_t max_messages, int64_t max_size) {
    pmq_options o = test_options(PMQ_O_CREX, max_messages, max_size);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(test_queue_name(tag), &o, &q));
    return q;
}

/* Opens another handle on an existing queue. */
static inline pmq_queue *open_existing(const char *name, bool read, bool write) {
    pmq_options o;
    pmq_options_init(&o);
    o.backend = test_backend();
    o.read = read;
    o.write = write;
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    return q;
}

/* Unlinks (if still named) and frees a queue handle; NULL is fine. */
static inline void drop_queue(pmq_queue *q) {
    if (!q) return;
    (void)pmq_queue_unlink(q);
    pmq_queue_free(q);
}

static inline int64_t current_messages(const pmq_queue *q) {
    int64_t n = -1;
    CHECK_OK(pmq_queue_current_messages(q, &n));
    return n;
}

static inline pid_t thread_id(void) { return (pid_t)syscall(SYS_gettid); }

/* The system call thread `tid` of this process is in now (-1 if running or
 * unknown), from /proc/self/task/<tid>/syscall. */
static inline long thread_syscall(pid_t tid) {
    char path[96];
    snprintf(path, sizeof path, "/proc/self/task/%ld/syscall", (long)tid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long nr = -1;
    if (fscanf(f, "%ld", &nr) != 1) nr = -1;
    fclose(f);
    return nr;
}

/* The system call a pmq wait sleeps in on the backend under test. Kernel
 * queues: a wait without a timeout (timeout < 0) sleeps inside the kernel's
 * own mq_timedreceive / mq_timedsend (glibc's mq_receive / mq_send), a
 * bounded one in ppoll (its timeout is monotonic). Shm queues: a futex wait
 * on the queue file, either way. op: 0 receive, 1 send. */
static inline long wait_syscall(int op, double timeout) {
    if (testing_shm()) return SYS_futex;
    if (timeout >= 0) return SYS_ppoll;
    return op == 0 ? SYS_mq_timedreceive : SYS_mq_timedsend;
}

/* Waits (at most 5 s) until thread `tid` sleeps in system call `nr`, so a
 * test acts while the thread is really waiting. Returns whether it was seen;
 * when /proc cannot tell, it falls back to a short sleep and returns true. */
static inline bool wait_blocked_in(pid_t tid, long nr) {
    char path[96];
    snprintf(path, sizeof path, "/proc/self/task/%ld/syscall", (long)tid);
    if (access(path, R_OK) != 0) {
        sleep_ms(200);
        return true;
    }
    double end = mono_now() + 5.0;
    while (mono_now() < end) {
        if (thread_syscall(tid) == nr) {
            sleep_ms(20); /* well inside the wait, not just entering it */
            return true;
        }
        sleep_ms(2);
    }
    return false;
}

/* Runs `fn(arg)` in a forked child. The child's checks are counted in the
 * parent (through a pipe); a child that dies or reports nothing is one
 * failure. The child leaves with _exit so it never runs the parent's atexit
 * handlers (which unlink the parent's queues). */
static inline void in_child(void (*fn)(void *), void *arg) {
    int fds[2];
    if (pipe(fds) != 0) {
        CHECK(!"pipe failed");
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        CHECK(!"fork failed");
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        check_passed = 0;
        check_failed = 0;
        fn(arg);
        int counts[2] = {check_passed, check_failed};
        ssize_t w = write(fds[1], counts, sizeof counts);
        fflush(stdout);
        fflush(stderr);
        _exit(w == (ssize_t)sizeof counts ? 0 : 3);
    }
    close(fds[1]);
    int counts[2] = {0, 0};
    ssize_t r;
    do {
        r = read(fds[0], counts, sizeof counts);
    } while (r < 0 && errno == EINTR);
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (r == (ssize_t)sizeof counts) {
        check_passed += counts[0];
        check_failed += counts[1];
    }
    CHECK(r == (ssize_t)sizeof counts && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}



#endif /* PMQ_TEST_UTIL_H */
