/* Constants and the limits query against the
 * system's own numbers, the queue cost against the kernel's real charge,
 * status codes and their texts, and the thread-local error detail. */
#include <limits.h>
#include <sys/resource.h>

#include "util.h"

static void constants_and_limits(void) {
    CHECK(pmq_message_queues_supported());
    CHECK(PMQ_MESSAGE_QUEUES_SUPPORTED == 1);
    long prio_max = sysconf(_SC_MQ_PRIO_MAX);
    CHECK(prio_max > 0);
    CHECK((long)pmq_priority_max() == prio_max - 1);
    CHECK(pmq_priority_max() == PMQ_PRIORITY_MAX);
    CHECK(PMQ_QUEUE_PRIORITY_MAX == PMQ_PRIORITY_MAX);
    CHECK(PMQ_RLIMIT_INFINITY == UINT64_MAX);

    pmq_limits l;
    memset(&l, 0, sizeof l);
    CHECK_OK(pmq_limits_get(&l));
    CHECK(l.msg_max == mqueue_sysctl("msg_max"));
    CHECK(l.msgsize_max == mqueue_sysctl("msgsize_max"));
    CHECK(l.queues_max == mqueue_sysctl("queues_max"));
    CHECK(l.msg_default == mqueue_sysctl("msg_default"));
    CHECK(l.msgsize_default == mqueue_sysctl("msgsize_default"));
    CHECK(l.msg_max == pmq_queue_messages_max_default());
    CHECK(l.msgsize_max == pmq_queue_message_size_max_default());
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_MSGQUEUE, &rl) == 0);
    CHECK(l.rlimit_soft == (rl.rlim_cur == RLIM_INFINITY ? PMQ_RLIMIT_INFINITY : (uint64_t)rl.rlim_cur));
    CHECK(l.rlimit_hard == (rl.rlim_max == RLIM_INFINITY ? PMQ_RLIMIT_INFINITY : (uint64_t)rl.rlim_max));
    CHECK((long)l.priority_max == prio_max - 1);
    CHECK_STATUS(pmq_limits_get(NULL), PMQ_STATUS_INVALID_ARGUMENT);

    CHECK(pmq_queue_cost(0, 100) == 0);
    CHECK(pmq_queue_cost(10, 0) == 0);
    CHECK(pmq_queue_cost(-1, 100) == 0);
    CHECK(pmq_queue_cost(1, 1) > 1); /* payload plus the kernel's overhead */
    CHECK(pmq_queue_cost(10, 8192) > 10 * 8192);
    CHECK(pmq_queue_cost(10, 200) - pmq_queue_cost(10, 100) == 10 * 100);
}

/* The kernel charges a queue's cost against the user's RLIMIT_MSGQUEUE.
 * In a child running as an otherwise unused uid (so no other queue counts),
 * a limit of exactly pmq_queue_cost() admits the queue and one byte less
 * refuses it with SYSTEM_LIMIT naming RLIMIT_MSGQUEUE and `ulimit -q`. */
static void cost_child(void *arg) {
    (void)arg;
    uid_t uid = (uid_t)(64000 + getpid() % 1000);
    if (setgid(uid) != 0 || setuid(uid) != 0) {
        CHECK(!"setuid failed");
        return;
    }
    const int64_t shapes[][2] = {{4, 100}, {1, 1}, {7, 333}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        uint64_t cost = pmq_queue_cost(shapes[i][0], shapes[i][1]);
        /* The hard limit stays put (an unprivileged user cannot raise it). */
        struct rlimit rl = {(rlim_t)cost, 100000};
        CHECK(setrlimit(RLIMIT_MSGQUEUE, &rl) == 0);
        pmq_limits l;
        CHECK_OK(pmq_limits_get(&l));
        CHECK(l.rlimit_soft == cost && l.rlimit_hard == 100000);
        pmq_options o = test_options(PMQ_O_CREX, shapes[i][0], shapes[i][1]);
        pmq_queue *q = NULL;
        CHECK_OK(pmq_queue_open(NULL, &o, &q));
        drop_queue(q); /* the charge is returned when the queue is destroyed */
        rl.rlim_cur = (rlim_t)cost - 1;
        CHECK(setrlimit(RLIMIT_MSGQUEUE, &rl) == 0);
        q = NULL;
        CHECK_STATUS(pmq_queue_open(NULL, &o, &q), PMQ_STATUS_SYSTEM_LIMIT);
        CHECK_DETAIL("RLIMIT_MSGQUEUE");
        CHECK_DETAIL("ulimit -q");
        CHECK(pmq_last_error_errno() == EMFILE);
        drop_queue(q);
    }
}

static void cost_matches_kernel(void) {
    if (getuid() != 0) {
        skip("cost_matches_kernel", "needs root to run as an unused uid");
        return;
    }
    in_child(cost_child, NULL);
}

#define S(x) {x, #x}
static const struct {
    int value;
    const char *name;
} statuses[] = {
    S(PMQ_STATUS_OK),
    S(PMQ_STATUS_WOULD_BLOCK),
    S(PMQ_STATUS_TIMED_OUT),
    S(PMQ_STATUS_BUSY),
    S(PMQ_STATUS_EXISTS),
    S(PMQ_STATUS_NOT_FOUND),
    S(PMQ_STATUS_PERMISSION),
    S(PMQ_STATUS_INTERRUPTED),
    S(PMQ_STATUS_INVALID_ARGUMENT),
    S(PMQ_STATUS_MESSAGE_TOO_LARGE),
    S(PMQ_STATUS_BUFFER_TOO_SMALL),
    S(PMQ_STATUS_SYSTEM_LIMIT),
    S(PMQ_STATUS_CLOSED),
    S(PMQ_STATUS_OUT_OF_MEMORY),
    S(PMQ_STATUS_OS_ERROR),
    S(PMQ_STATUS_PANIC),
    S(PMQ_STATUS_NOT_SUPPORTED),
    S(PMQ_STATUS_CORRUPTED),
    S(PMQ_STATUS_LEASE_LOST),
};
#undef S

/* The entry of `statuses` for `value`, or NULL. */
static const char *status_constant(int value) {
    for (size_t k = 0; k < sizeof statuses / sizeof statuses[0]; k++) {
        if (statuses[k].value == value) return statuses[k].name;
    }
    return NULL;
}

/* Every status the library defines, 0..pmq_status_last() asked at run time,
 * has a constant in pmq.h (listed in `statuses`: C cannot enumerate an enum)
 * of that value and exactly the library's name, and a text of its own; the
 * table has nothing the library lacks. A status appended to the library
 * fails here until the table lists its constant. */
static void status_texts(void) {
    int last = pmq_status_last();
    int count = (int)(sizeof statuses / sizeof statuses[0]);
    CHECK(last >= PMQ_STATUS_NOT_SUPPORTED); /* values are only ever appended */
    for (int i = 0; i <= last; i++) {
        const char *s = pmq_status_str(i);
        const char *n = pmq_status_name(i);
        CHECK(s != NULL && n != NULL && s[0] != 0 && n[0] != 0);
        if (!s || !n) continue;
        CHECK(strcmp(n, "PMQ_STATUS_UNKNOWN") != 0);
        CHECK(strcmp(s, "unknown status") != 0);
        const char *constant = status_constant(i);
        if (constant == NULL) {
            fprintf(stderr, "status %d (%s) is not in this test's table of pmq.h constants: "
                            "add it\n", i, n);
        } else if (strcmp(n, constant) != 0) {
            fprintf(stderr, "status %d: name %s, constant %s\n", i, n, constant);
        }
        CHECK(constant != NULL && strcmp(n, constant) == 0);
        for (int j = 0; j < i; j++) {
            CHECK(strcmp(s, pmq_status_str(j)) != 0);
            CHECK(strcmp(n, pmq_status_name(j)) != 0);
        }
    }
    for (int k = 0; k < count; k++) {
        /* Dense, never renumbered, and none the library does not define. */
        if (statuses[k].value != k || statuses[k].value > last)
            fprintf(stderr, "table entry %d: %s = %d, library's last %d\n", k, statuses[k].name,
                    statuses[k].value, last);
        CHECK(statuses[k].value == k);
        CHECK(statuses[k].value <= last);
    }
    CHECK(count == last + 1);
    CHECK(strcmp(pmq_status_str(PMQ_STATUS_OK), "success") == 0);
    CHECK(strstr(pmq_status_str(PMQ_STATUS_TIMED_OUT), "timed out") != NULL);
    const int out_of_range[] = {-1, last + 1, last + 2, 1000, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        CHECK(strcmp(pmq_status_name(out_of_range[i]), "PMQ_STATUS_UNKNOWN") == 0);
        CHECK(strcmp(pmq_status_str(out_of_range[i]), "unknown status") == 0);
        CHECK(!pmq_status_is_busy(out_of_range[i]));
    }
    for (int i = 0; i <= last; i++) {
        bool busy = i == PMQ_STATUS_WOULD_BLOCK || i == PMQ_STATUS_TIMED_OUT || i == PMQ_STATUS_BUSY;
        CHECK(pmq_status_is_busy(i) == busy);
    }
}

static void *fresh_thread_error(void *arg) {
    int *ok = arg;
    /* Nothing failed on this thread yet, whatever other threads did. */
    *ok = strcmp(pmq_last_error(), "") == 0 && pmq_last_error_status() == PMQ_STATUS_OK &&
          pmq_last_error_errno() == 0 && pmq_last_error_needed() == 0 &&
          pmq_last_error_copy(NULL, 0) == 0;
    return NULL;
}

static void last_error_api(void) {
    char missing[96];
    snprintf(missing, sizeof missing, "/%s-t-missing-%ld", test_prefix(), (long)getpid());
    CHECK_STATUS(pmq_unlink(missing), PMQ_STATUS_NOT_FOUND);
    const char *d = pmq_last_error();
    CHECK(strstr(d, missing) != NULL);
    size_t full = strlen(d);
    CHECK(pmq_last_error_status() == PMQ_STATUS_NOT_FOUND);
    CHECK(pmq_last_error_errno() == ENOENT);
    CHECK(pmq_last_error_needed() == 0);

    /* copy: NULL/0 asks the length; truncation keeps a NUL; exact fits. */
    CHECK(pmq_last_error_copy(NULL, 0) == full);
    char small[8];
    memset(small, '#', sizeof small);
    CHECK(pmq_last_error_copy(small, sizeof small) == full);
    CHECK(small[7] == 0 && strlen(small) == 7 && strncmp(small, d, 7) == 0);
    char one[1] = {'#'};
    CHECK(pmq_last_error_copy(one, 1) == full && one[0] == 0);
    char *exact = malloc(full + 1);
    if (exact) {
        CHECK(pmq_last_error_copy(exact, full + 1) == full);
        CHECK(strcmp(exact, d) == 0);
        free(exact);
    }
    /* take: status and detail in one call. */
    size_t len = 0;
    char big[512];
    CHECK(pmq_last_error_take(big, sizeof big, &len) == PMQ_STATUS_NOT_FOUND);
    CHECK(len == full && strcmp(big, d) == 0);
    CHECK(pmq_last_error_take(NULL, 0, &len) == PMQ_STATUS_NOT_FOUND && len == full);
    CHECK(pmq_last_error_take(small, sizeof small, NULL) == PMQ_STATUS_NOT_FOUND);
    CHECK(strncmp(small, d, 7) == 0);

    /* Successful calls leave the detail alone (like errno). */
    pmq_limits l;
    CHECK_OK(pmq_limits_get(&l));
    CHECK(pmq_last_error_status() == PMQ_STATUS_NOT_FOUND);
    CHECK(strstr(pmq_last_error(), missing) != NULL);

    /* A failure pmq detects itself: errno 0, new detail. */
    CHECK_STATUS(pmq_unlink("bad"), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK(pmq_last_error_status() == PMQ_STATUS_INVALID_ARGUMENT);
    CHECK(pmq_last_error_errno() == 0);
    CHECK(strstr(pmq_last_error(), missing) == NULL);

    int ok = 0;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, fresh_thread_error, &ok) == 0);
    pthread_join(t, NULL);
    CHECK(ok);
}

/* Two threads fail differently at the same time; each sees its own detail. */
static pthread_barrier_t barrier;

struct failer {
    int which;
    int status;
    int last_status;
    char detail[512];
};

static void *fail_differently(void *arg) {
    struct failer *f = arg;
    char name[96];
    pmq_queue *q = NULL;
    for (int round = 0; round < 200; round++) {
        if (f->which == 0) {
            snprintf(name, sizeof name, "/%s-t-absent-%ld", test_prefix(), (long)getpid());
            f->status = pmq_unlink(name);
        } else {
            f->status = pmq_queue_open("/has/slash", NULL, &q);
        }
        pthread_barrier_wait(&barrier); /* both have failed */
        pthread_barrier_wait(&barrier); /* ...before either reads */
        f->last_status = pmq_last_error_status();
        pmq_last_error_copy(f->detail, sizeof f->detail);
        bool mine = f->which == 0 ? f->last_status == PMQ_STATUS_NOT_FOUND &&
                                        strstr(f->detail, "does not exist") != NULL
                                  : f->last_status == PMQ_STATUS_INVALID_ARGUMENT &&
                                        strstr(f->detail, "second '/'") != NULL;
        if (!mine) return NULL;
    }
    return NULL;
}

static void detail_is_per_thread(void) {
    pthread_barrier_init(&barrier, NULL, 2);
    struct failer a = {0, -1, -1, {0}}, b = {1, -1, -1, {0}};
    pthread_t ta, tb;
    CHECK(pthread_create(&ta, NULL, fail_differently, &a) == 0);
    CHECK(pthread_create(&tb, NULL, fail_differently, &b) == 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&barrier);
    CHECK(a.status == PMQ_STATUS_NOT_FOUND && a.last_status == PMQ_STATUS_NOT_FOUND);
    CHECK(strstr(a.detail, "does not exist") != NULL);
    CHECK(b.status == PMQ_STATUS_INVALID_ARGUMENT && b.last_status == PMQ_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(b.detail, "second '/'") != NULL);
}

int main(void) {
    (void)test_queue_name;
    constants_and_limits();
    cost_matches_kernel();
    status_texts();
    last_error_api();
    detail_is_per_thread();
    return check_done("test_limits_status");
}
