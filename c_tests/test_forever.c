/* Waiting forever through the `_timeout` calls: PMQ_FOREVER (= INFINITY)
 * waits until another thread sends (or receives), on both backends and for
 * the single and batch calls; NaN and negative timeouts (-INFINITY
 * included) stay PMQ_STATUS_INVALID_ARGUMENT with a detail that names
 * PMQ_FOREVER. */
#include "util.h"

#include <math.h>

static pmq_options backend_options(uint32_t backend, int64_t max_messages) {
    pmq_options o = test_options(PMQ_O_CREX, max_messages, 16);
    o.backend = backend;
    return o;
}

enum call { RECEIVE, RECEIVE_BATCH, SEND, SEND_BATCH };

struct waiter {
    pmq_queue *q;
    enum call call;
    double timeout;
    pid_t tid;
    int status;
    size_t len;
    uint8_t buf[16];
};

static void *wait_thread(void *arg) {
    struct waiter *w = arg;
    __atomic_store_n(&w->tid, thread_id(), __ATOMIC_SEQ_CST);
    size_t n = 0;
    pmq_received got[2];
    pmq_message m = {(const uint8_t *)"late", 4, 1};
    switch (w->call) {
    case RECEIVE:
        w->status = pmq_queue_receive_timeout(w->q, w->buf, sizeof w->buf, &w->len, NULL,
                                              w->timeout);
        break;
    case RECEIVE_BATCH:
        w->status = pmq_queue_receive_batch_timeout(w->q, w->buf, sizeof w->buf, got, 2, &n,
                                                    w->timeout);
        w->len = n == 1 ? got[0].len : 0;
        break;
    case SEND:
        w->status = pmq_queue_send_timeout(w->q, (const uint8_t *)"late", 4, 1, w->timeout);
        break;
    case SEND_BATCH:
        w->status = pmq_queue_send_batch_timeout(w->q, &m, 1, &n, w->timeout);
        w->len = n;
        break;
    }
    return NULL;
}

/* `call` with timeout `forever` on an empty (receive) or full (send) queue
 * of `backend` waits until this thread sends (receives). */
static void waits_until_woken(uint32_t backend, enum call call, double forever) {
    pmq_options o = backend_options(backend, 1);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(test_queue_name("forever"), &o, &q));
    if (!q) return;
    bool sending = call == SEND || call == SEND_BATCH;
    if (sending) CHECK_OK(pmq_queue_send_timeout(q, (const uint8_t *)"full", 4, 0, 0));
    struct waiter w = {.q = q, .call = call, .timeout = forever, .status = -1};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, wait_thread, &w) == 0);
    while (__atomic_load_n(&w.tid, __ATOMIC_SEQ_CST) == 0) sleep_ms(1);
    /* Really waiting (not refused, not returned): without a timeout the
     * kernel backend sleeps in the kernel's own mq_timedreceive /
     * mq_timedsend, the shared-memory one on a futex. */
    long nr = backend == PMQ_BACKEND_SHM ? SYS_futex
              : sending                  ? SYS_mq_timedsend
                                         : SYS_mq_timedreceive;
    CHECK(wait_blocked_in(w.tid, nr));
    uint8_t buf[16];
    size_t n = 0;
    if (sending) {
        CHECK_OK(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 0));
        CHECK(n == 4 && memcmp(buf, "full", 4) == 0);
    } else {
        CHECK_OK(pmq_queue_send_timeout(q, (const uint8_t *)"late", 4, 1, 0));
    }
    pthread_join(t, NULL);
    CHECK_OK(w.status);
    if (sending) {
        CHECK(call == SEND || w.len == 1); /* *out_sent */
        CHECK_OK(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 0));
        CHECK(n == 4 && memcmp(buf, "late", 4) == 0);
    } else {
        CHECK(w.len == 4 && memcmp(w.buf, "late", 4) == 0);
    }
    drop_queue(q);
}

/* NaN and negative timeouts are refused by every `_timeout` call, with a
 * detail naming the spelling of forever; nothing is sent or taken. */
static void bad_timeouts_refused(uint32_t backend) {
    pmq_options o = backend_options(backend, 2);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(test_queue_name("forever-bad"), &o, &q));
    if (!q) return;
    const double bad[] = {NAN, -NAN, -1.0, -1e-9, -INFINITY, -PMQ_FOREVER};
    uint8_t buf[16];
    size_t n = 0;
    pmq_received got[2];
    pmq_message m = {(const uint8_t *)"x", 1, 0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double t = bad[i];
        CHECK_STATUS(pmq_queue_send_timeout(q, (const uint8_t *)"x", 1, 0, t),
                     PMQ_STATUS_INVALID_ARGUMENT);
        CHECK_DETAIL("PMQ_FOREVER");
        CHECK_STATUS(pmq_queue_send_batch_timeout(q, &m, 1, &n, t), PMQ_STATUS_INVALID_ARGUMENT);
        CHECK_DETAIL("PMQ_FOREVER");
        CHECK_STATUS(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, t),
                     PMQ_STATUS_INVALID_ARGUMENT);
        CHECK_DETAIL("PMQ_FOREVER");
        CHECK_STATUS(pmq_queue_receive_batch_timeout(q, buf, sizeof buf, got, 2, &n, t),
                     PMQ_STATUS_INVALID_ARGUMENT);
        CHECK_DETAIL(isnan(t) ? "NaN" : "negative");
    }
    CHECK(current_messages(q) == 0);
    /* Forever on a queue with room / a message returns at once. */
    CHECK_OK(pmq_queue_send_timeout(q, (const uint8_t *)"now", 3, 0, PMQ_FOREVER));
    CHECK_OK(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, PMQ_FOREVER));
    CHECK(n == 3);
    /* On a closed handle forever is refused at once. */
    CHECK_OK(pmq_queue_close(q));
    CHECK_STATUS(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, PMQ_FOREVER),
                 PMQ_STATUS_CLOSED);
    drop_queue(q);
}

int main(void) {
    CHECK(isinf(PMQ_FOREVER) && PMQ_FOREVER > 0);
    CHECK(PMQ_FOREVER == INFINITY && PMQ_FOREVER == HUGE_VAL);
    const uint32_t backends[] = {PMQ_BACKEND_KERNEL, PMQ_BACKEND_SHM};
    for (size_t b = 0; b < 2; b++) {
        waits_until_woken(backends[b], RECEIVE, PMQ_FOREVER);
        waits_until_woken(backends[b], RECEIVE, INFINITY);
        waits_until_woken(backends[b], RECEIVE_BATCH, PMQ_FOREVER);
        waits_until_woken(backends[b], SEND, INFINITY);
        waits_until_woken(backends[b], SEND_BATCH, PMQ_FOREVER);
        bad_timeouts_refused(backends[b]);
    }
    return check_done("test_forever");
}
