/* EINTR: a signal whose handler returns (installed
 * without SA_RESTART) arrives while a thread waits in receive or send.
 * Default: the call returns PMQ_STATUS_INTERRUPTED and nothing is lost or
 * sent. With retry_on_interrupt: the same wait goes on and completes. */
#include "util.h"

static volatile sig_atomic_t handled;

static void on_usr1(int sig) {
    (void)sig;
    handled++;
}

struct waiter {
    pmq_queue *q;
    pid_t tid;
    int op;         /* 0 receive, 1 send */
    double timeout; /* < 0: forever */
    int done;
    int status;
    uint8_t buf[32];
    size_t n;
    uint32_t prio;
};

static void *wait_thread(void *arg) {
    struct waiter *w = arg;
    w->tid = thread_id();
    if (w->op == 0) {
        w->status = w->timeout < 0
                        ? pmq_queue_receive(w->q, w->buf, sizeof w->buf, &w->n, &w->prio)
                        : pmq_queue_receive_timeout(w->q, w->buf, sizeof w->buf, &w->n, &w->prio,
                                                    w->timeout);
    } else {
        w->status = w->timeout < 0
                        ? pmq_queue_send(w->q, (const uint8_t *)"blocked", 7, 4)
                        : pmq_queue_send_timeout(w->q, (const uint8_t *)"blocked", 7, 4,
                                                 w->timeout);
    }
    __atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static bool is_done(struct waiter *w) { return __atomic_load_n(&w->done, __ATOMIC_SEQ_CST); }

/* A wait without a timeout sleeps in the kernel's own call, a bounded one in
 * ppoll; a signal ends either the same way. */
static long syscall_of(const struct waiter *w) { return wait_syscall(w->op, w->timeout); }

static void start(struct waiter *w, pthread_t *t) {
    w->tid = 0;
    w->done = 0;
    w->status = -1;
    CHECK(pthread_create(t, NULL, wait_thread, w) == 0);
    while (__atomic_load_n(&w->tid, __ATOMIC_SEQ_CST) == 0) sleep_ms(1);
    CHECK(wait_blocked_in(w->tid, syscall_of(w)));
}

/* Sends SIGUSR1 to the waiting thread until the call returns (at most ~5 s;
 * repeated in case a signal lands just before the wait starts). */
static void interrupt_until_done(struct waiter *w, pthread_t t) {
    for (int i = 0; i < 100 && !is_done(w); i++) {
        pthread_kill(t, SIGUSR1);
        for (int j = 0; j < 10 && !is_done(w); j++) sleep_ms(5);
    }
}

static void interrupted_without_retry(int op, double timeout) {
    pmq_queue *q = new_queue("eintr", 1, 32);
    if (!q) return;
    if (op == 1) CHECK_OK(pmq_queue_send(q, (const uint8_t *)"full", 4, 1));
    struct waiter w = {q, 0, op, timeout, 0, -1, {0}, 0, 0};
    pthread_t t;
    start(&w, &t);
    sig_atomic_t before = handled;
    interrupt_until_done(&w, t);
    pthread_join(t, NULL);
    CHECK(handled > before);
    CHECK_STATUS(w.status, PMQ_STATUS_INTERRUPTED);
    /* Nothing was transferred (the detail, on the waiting thread, is
     * checked by interrupted_detail). */
    CHECK(current_messages(q) == (op == 1 ? 1 : 0));

    uint8_t buf[32];
    size_t n = 0;
    uint32_t p = 0;
    if (op == 0) {
        /* No message lost: one sent now is received, by the same handle. */
        CHECK_OK(pmq_queue_send(q, (const uint8_t *)"after", 5, 2));
        CHECK_OK(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, &p, 0));
        CHECK(n == 5 && memcmp(buf, "after", 5) == 0 && p == 2);
    } else {
        /* Nothing was sent: the queue holds only the first message. */
        CHECK_OK(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, &p, 0));
        CHECK(n == 4 && memcmp(buf, "full", 4) == 0 && p == 1);
        CHECK_STATUS(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, &p, 0),
                     PMQ_STATUS_WOULD_BLOCK);
    }
    CHECK(current_messages(q) == 0);
    drop_queue(q);
}

/* The detail of an interrupted call, read on the interrupted thread. */
struct detail_probe {
    pmq_queue *q;
    pid_t tid;
    int status;
    int errno_value;
    char detail[512];
    int done;
};

static void *probe_thread(void *arg) {
    struct detail_probe *d = arg;
    d->tid = thread_id();
    uint8_t buf[32];
    size_t n;
    d->status = pmq_queue_receive(d->q, buf, sizeof buf, &n, NULL);
    d->errno_value = pmq_last_error_errno();
    pmq_last_error_copy(d->detail, sizeof d->detail);
    __atomic_store_n(&d->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void interrupted_detail(void) {
    pmq_queue *q = new_queue("eintr-detail", 1, 32);
    if (!q) return;
    struct detail_probe d = {q, 0, -1, 0, {0}, 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, probe_thread, &d) == 0);
    while (__atomic_load_n(&d.tid, __ATOMIC_SEQ_CST) == 0) sleep_ms(1);
    CHECK(wait_blocked_in(d.tid, wait_syscall(0, -1)));
    for (int i = 0; i < 100 && !__atomic_load_n(&d.done, __ATOMIC_SEQ_CST); i++) {
        pthread_kill(t, SIGUSR1);
        sleep_ms(50);
    }
    pthread_join(t, NULL);
    CHECK_STATUS(d.status, PMQ_STATUS_INTERRUPTED);
    CHECK(d.errno_value == EINTR);
    CHECK(strstr(d.detail, "signal") != NULL);
    CHECK(strstr(d.detail, "retry_on_interrupt") != NULL);
    drop_queue(q);
}

static void retried(int op, double timeout) {
    const char *name = test_queue_name("eintr-retry");
    pmq_options o = test_options(PMQ_O_CREX, 1, 32);
    o.retry_on_interrupt = true;
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    pmq_queue *other = open_existing(name, true, true);
    if (!other) {
        drop_queue(q);
        return;
    }
    if (op == 1) CHECK_OK(pmq_queue_send(other, (const uint8_t *)"full", 4, 1));
    struct waiter w = {q, 0, op, timeout, 0, -1, {0}, 0, 0};
    pthread_t t;
    start(&w, &t);
    /* Several signals; after each, the thread is back in the same wait. */
    for (int i = 0; i < 3; i++) {
        sig_atomic_t before = handled;
        pthread_kill(t, SIGUSR1);
        for (int j = 0; j < 200 && handled == before; j++) sleep_ms(5);
        CHECK(handled > before);
        CHECK(wait_blocked_in(w.tid, syscall_of(&w)));
        CHECK(!is_done(&w));
    }
    uint8_t buf[32];
    size_t n = 0;
    uint32_t p = 0;
    if (op == 0) {
        CHECK_OK(pmq_queue_send(other, (const uint8_t *)"later", 5, 3));
    } else {
        CHECK_OK(pmq_queue_receive(other, buf, sizeof buf, &n, &p));
        CHECK(n == 4 && memcmp(buf, "full", 4) == 0);
    }
    pthread_join(t, NULL);
    CHECK_OK(w.status);
    if (op == 0) {
        CHECK(w.n == 5 && memcmp(w.buf, "later", 5) == 0 && w.prio == 3);
        CHECK(current_messages(other) == 0);
    } else {
        CHECK_OK(pmq_queue_receive_timeout(other, buf, sizeof buf, &n, &p, 0));
        CHECK(n == 7 && memcmp(buf, "blocked", 7) == 0 && p == 4);
    }
    pmq_queue_free(other);
    drop_queue(q);
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: the handler returns and the call sees EINTR */
    if (sigaction(SIGUSR1, &sa, NULL) != 0) {
        perror("sigaction");
        return 2;
    }
    interrupted_without_retry(0, -1);  /* receive, forever */
    interrupted_without_retry(0, 5.0); /* receive, bounded */
    interrupted_without_retry(1, -1);  /* send on a full queue, forever */
    interrupted_without_retry(1, 5.0); /* send, bounded */
    interrupted_detail();
    retried(0, -1);
    retried(0, 5.0);
    retried(1, -1);
    retried(1, 5.0);
    return check_done("test_eintr");
}
