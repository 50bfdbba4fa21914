/* Sending and receiving through the C ABI: exact
 * bytes (NULs, empty messages), priorities and their bounds, message and
 * buffer sizes, the three timeout meanings, and that a refused call sends
 * or takes nothing. */
#include <math.h>

#include "util.h"

static void exact_bytes(void) {
    pmq_queue *q = new_queue("bytes", 8, 64);
    if (!q) return;
    const uint8_t nuls[] = {'a', 0, 'b', 0, 0, 'c', 0};
    uint8_t all[64];
    for (int i = 0; i < 64; i++) all[i] = (uint8_t)(255 - i * 3);
    CHECK_OK(pmq_queue_send(q, nuls, sizeof nuls, 0));
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"", 0, 0));
    CHECK_OK(pmq_queue_send(q, NULL, 0, 0));
    CHECK_OK(pmq_queue_send_timeout(q, NULL, 0, 0, 0));
    CHECK_OK(pmq_queue_send(q, all, sizeof all, 0)); /* exactly max_message_size */
    CHECK(current_messages(q) == 5);

    uint8_t buf[64];
    size_t n = 99;
    uint32_t prio = 99;
    memset(buf, 0xee, sizeof buf);
    CHECK_OK(pmq_queue_receive(q, buf, sizeof buf, &n, &prio));
    CHECK(n == sizeof nuls && memcmp(buf, nuls, n) == 0 && prio == 0);
    for (int i = 0; i < 3; i++) {
        n = 99;
        CHECK_OK(pmq_queue_receive(q, buf, sizeof buf, &n, &prio));
        CHECK(n == 0);
    }
    CHECK_OK(pmq_queue_receive(q, buf, sizeof buf, &n, NULL));
    CHECK(n == sizeof all && memcmp(buf, all, n) == 0);
    CHECK(current_messages(q) == 0);
    drop_queue(q);
}

static void priority_bounds(void) {
    pmq_queue *q = new_queue("prio", 8, 32);
    if (!q) return;
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"zero", 4, 0));
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"max", 3, PMQ_PRIORITY_MAX));
    CHECK(current_messages(q) == 2);
    CHECK_STATUS(pmq_queue_send(q, (const uint8_t *)"over", 4, PMQ_PRIORITY_MAX + 1),
                 PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("priority 32768");
    CHECK_DETAIL("0..=32767");
    CHECK_STATUS(pmq_queue_send_timeout(q, (const uint8_t *)"over", 4, UINT32_MAX, 0),
                 PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("priority");
    CHECK(current_messages(q) == 2);
    uint8_t buf[32];
    size_t n;
    uint32_t prio = 0;
    CHECK_OK(pmq_queue_receive(q, buf, sizeof buf, &n, &prio));
    CHECK(prio == PMQ_PRIORITY_MAX && n == 3 && memcmp(buf, "max", 3) == 0);
    CHECK_OK(pmq_queue_receive(q, buf, sizeof buf, &n, &prio));
    CHECK(prio == 0 && n == 4 && memcmp(buf, "zero", 4) == 0);
    drop_queue(q);
}

static void too_large(void) {
    pmq_queue *q = new_queue("large", 4, 16);
    if (!q) return;
    uint8_t big[17];
    memset(big, 'x', sizeof big);
    CHECK_STATUS(pmq_queue_send(q, big, sizeof big, 0), PMQ_STATUS_MESSAGE_TOO_LARGE);
    CHECK_DETAIL("17 bytes");
    CHECK_DETAIL("max_message_size of 16");
    CHECK_STATUS(pmq_queue_send_timeout(q, big, sizeof big, 0, 0.5), PMQ_STATUS_MESSAGE_TOO_LARGE);
    CHECK(current_messages(q) == 0);
    CHECK_OK(pmq_queue_send(q, big, 16, 0));
    CHECK(current_messages(q) == 1);
    drop_queue(q);
}

static void bad_timeouts_and_pointers(void) {
    pmq_queue *q = new_queue("badto", 4, 16);
    if (!q) return;
    const uint8_t m[] = "m";
    struct {
        double t;
        const char *detail;
    } bad[] = {
        {NAN, "NaN"},
        {-1.0, "negative"},
        {-0.001, "negative"},
        {-INFINITY, "negative"}, /* INFINITY is PMQ_FOREVER: test_forever.c */
    };
    uint8_t buf[16];
    size_t n = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(pmq_queue_send_timeout(q, m, 1, 0, bad[i].t), PMQ_STATUS_INVALID_ARGUMENT);
        CHECK_DETAIL(bad[i].detail);
        CHECK(current_messages(q) == 0);
    }
    /* A bad timeout on receive takes nothing. */
    CHECK_OK(pmq_queue_send(q, m, 1, 0));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, bad[i].t),
                     PMQ_STATUS_INVALID_ARGUMENT);
        CHECK_DETAIL(bad[i].detail);
        CHECK(current_messages(q) == 1);
    }
    /* NULL message with a length, NULL buffer with a length, NULL out_len. */
    CHECK_STATUS(pmq_queue_send(q, NULL, 1, 0), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("NULL");
    CHECK_STATUS(pmq_queue_send_timeout(q, NULL, 5, 0, 0), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_receive(q, NULL, 16, &n, NULL), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("NULL");
    CHECK_STATUS(pmq_queue_receive(q, buf, sizeof buf, NULL, NULL), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("out_len");
    CHECK_STATUS(pmq_queue_send(NULL, m, 1, 0), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("handle is NULL");
    CHECK_STATUS(pmq_queue_receive(NULL, buf, sizeof buf, &n, NULL), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK(current_messages(q) == 1);
    drop_queue(q);
}

/* Many messages with mixed priorities: highest first, FIFO within one. */
struct sent {
    uint32_t prio;
    unsigned seq;
};

static void ordering(void) {
    pmq_queue *q = new_queue("order", 10, 32);
    if (!q) return;
    int64_t cap = 0;
    CHECK_OK(pmq_queue_max_messages(q, &cap));
    unsigned seed = 12345;
    unsigned seq = 0;
    const uint32_t prios[] = {0, 1, 1, 7, 7, 7, 300, PMQ_PRIORITY_MAX, 2, 0};
    for (int round = 0; round < 30; round++) {
        struct sent s[10];
        int count = (int)cap;
        for (int i = 0; i < count; i++) {
            seed = seed * 1103515245u + 12345u;
            s[i].prio = prios[(seed >> 16) % 10];
            s[i].seq = seq++;
            char msg[32];
            int len = snprintf(msg, sizeof msg, "p%u-s%u", s[i].prio, s[i].seq);
            CHECK_OK(pmq_queue_send_timeout(q, (const uint8_t *)msg, (size_t)len, s[i].prio, 0));
        }
        /* Expected order: stable sort by descending priority. */
        for (int i = 1; i < count; i++) {
            struct sent k = s[i];
            int j = i - 1;
            while (j >= 0 && s[j].prio < k.prio) {
                s[j + 1] = s[j];
                j--;
            }
            s[j + 1] = k;
        }
        for (int i = 0; i < count; i++) {
            uint8_t buf[33];
            size_t n = 0;
            uint32_t p = 0;
            CHECK_OK(pmq_queue_receive_timeout(q, buf, 32, &n, &p, 0));
            buf[n < 32 ? n : 32] = 0;
            char want[32];
            snprintf(want, sizeof want, "p%u-s%u", s[i].prio, s[i].seq);
            if (strcmp((char *)buf, want) != 0 || p != s[i].prio) {
                fprintf(stderr, "round %d #%d: got %s (prio %u), want %s\n", round, i,
                        (char *)buf, p, want);
                CHECK(!"priority order");
            } else {
                CHECK(1);
            }
        }
    }
    CHECK(current_messages(q) == 0);
    drop_queue(q);
}

static void try_once_and_bounded(void) {
    pmq_queue *q = new_queue("timeouts", 1, 16);
    if (!q) return;
    uint8_t buf[16];
    size_t n;
    double t0 = mono_now();
    CHECK_STATUS(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 0), PMQ_STATUS_WOULD_BLOCK);
    CHECK_DETAIL("empty");
    CHECK(pmq_last_error_errno() == 0);
    t0 = mono_now();
    CHECK_STATUS(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 0.15), PMQ_STATUS_TIMED_OUT);
    CHECK(mono_now() - t0 >= 0.15); /* never early */
    CHECK_DETAIL("stayed empty");
    /* A very small positive timeout is still a (short) bounded wait. */
    CHECK_STATUS(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 1e-9), PMQ_STATUS_TIMED_OUT);

    CHECK_OK(pmq_queue_send_timeout(q, (const uint8_t *)"a", 1, 0, 0));
    CHECK_STATUS(pmq_queue_send_timeout(q, (const uint8_t *)"b", 1, 0, 0), PMQ_STATUS_WOULD_BLOCK);
    CHECK_DETAIL("full");
    t0 = mono_now();
    CHECK_STATUS(pmq_queue_send_timeout(q, (const uint8_t *)"b", 1, 0, 0.1), PMQ_STATUS_TIMED_OUT);
    CHECK(mono_now() - t0 >= 0.1);
    CHECK_DETAIL("stayed full");
    CHECK(current_messages(q) == 1);
    CHECK(pmq_status_is_busy(PMQ_STATUS_WOULD_BLOCK) && pmq_status_is_busy(PMQ_STATUS_TIMED_OUT));
    drop_queue(q);
}

struct helper {
    pmq_queue *q;
    pid_t waiter; /* thread to wait for before acting */
    long syscall_nr;
    int status;
    uint8_t buf[16];
    size_t n;
};

static void *send_when_waiting(void *arg) {
    struct helper *h = arg;
    wait_blocked_in(h->waiter, h->syscall_nr);
    h->status = pmq_queue_send(h->q, (const uint8_t *)"late", 4, 9);
    return NULL;
}

static void *receive_when_waiting(void *arg) {
    struct helper *h = arg;
    wait_blocked_in(h->waiter, h->syscall_nr);
    h->status = pmq_queue_receive(h->q, h->buf, sizeof h->buf, &h->n, NULL);
    return NULL;
}

/* A bounded wait that succeeds because another thread acts during it. */
static void bounded_wait_succeeds(void) {
    pmq_queue *q = new_queue("wait-ok", 1, 16);
    if (!q) return;
    struct helper h = {q, thread_id(), wait_syscall(0, 1.0), -1, {0}, 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, send_when_waiting, &h) == 0);
    uint8_t buf[16];
    size_t n = 0;
    uint32_t p = 0;
    CHECK_OK(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, &p, 10.0));
    CHECK(n == 4 && memcmp(buf, "late", 4) == 0 && p == 9);
    pthread_join(t, NULL);
    CHECK_OK(h.status);

    /* And the other way: a send waiting on a full queue. */
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"first", 5, 0));
    h.status = -1;
    h.n = 0;
    CHECK(pthread_create(&t, NULL, receive_when_waiting, &h) == 0);
    CHECK_OK(pmq_queue_send_timeout(q, (const uint8_t *)"second", 6, 0, 10.0));
    pthread_join(t, NULL);
    CHECK_OK(h.status);
    CHECK(h.n == 5 && memcmp(h.buf, "first", 5) == 0);
    CHECK_OK(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 0));
    CHECK(n == 6 && memcmp(buf, "second", 6) == 0);

    /* A blocking (forever) receive woken by a send. */
    h.syscall_nr = wait_syscall(0, -1);
    h.status = -1;
    CHECK(pthread_create(&t, NULL, send_when_waiting, &h) == 0);
    CHECK_OK(pmq_queue_receive(q, buf, sizeof buf, &n, &p));
    CHECK(n == 4 && memcmp(buf, "late", 4) == 0 && p == 9);
    pthread_join(t, NULL);
    CHECK_OK(h.status);
    drop_queue(q);
}

static void buffer_too_small(void) {
    pmq_queue *q = new_queue("smallbuf", 4, 64);
    if (!q) return;
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"tiny", 4, 5));
    uint8_t buf[64];
    size_t n = 0;
    uint32_t p = 77;
    /* Even though the message (4 bytes) would fit, the buffer must hold max_message_size. */
    CHECK_STATUS(pmq_queue_receive(q, buf, 63, &n, &p), PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK(n == 64);
    CHECK(pmq_last_error_needed() == 64);
    CHECK(pmq_last_error_status() == PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK_DETAIL("at least 64 bytes");
    CHECK(p == 77);
    n = 0;
    CHECK_STATUS(pmq_queue_receive_timeout(q, buf, 0, &n, NULL, 0), PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK(n == 64);
    n = 0;
    CHECK_STATUS(pmq_queue_receive_timeout(q, NULL, 0, &n, NULL, 1.0), PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK(n == 64 && pmq_last_error_needed() == 64);
    CHECK(current_messages(q) == 1); /* nothing taken */
    /* Another failure resets the needed size to 0. */
    CHECK_STATUS(pmq_queue_send(q, NULL, 1, 0), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK(pmq_last_error_needed() == 0);
    CHECK_OK(pmq_queue_receive(q, buf, sizeof buf, &n, NULL)); /* out_priority may be NULL */
    CHECK(n == 4 && memcmp(buf, "tiny", 4) == 0);
    drop_queue(q);
}

int main(void) {
    exact_bytes();
    priority_bounds();
    too_large();
    bad_timeouts_and_pointers();
    ordering();
    try_once_and_bounded();
    bounded_wait_succeeds();
    buffer_too_small();
    return check_done("test_send_receive");
}
