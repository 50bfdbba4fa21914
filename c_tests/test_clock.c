/* Monotonic timeouts: a step of the wall clock
 * (CLOCK_REALTIME) during a bounded wait neither cuts nor stretches it.
 *
 * Needs CAP_SYS_TIME (root); skipped with a printed reason otherwise. The
 * clock is stepped for a fraction of a second and always stepped back by the
 * same amount: right after the check, at exit, and from a handler on fatal
 * signals, so even a crash leaves the clock as it was. */
#include "util.h"

#define HOUR 3600

/* Seconds the realtime clock is currently stepped by (0 = as it was). */
static volatile sig_atomic_t clock_offset;

static int step_realtime(long seconds) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return -1;
    ts.tv_sec += seconds;
    if (clock_settime(CLOCK_REALTIME, &ts) != 0) return -1;
    clock_offset += (sig_atomic_t)seconds;
    return 0;
}

static void restore_clock(void) {
    if (clock_offset != 0) (void)step_realtime(-(long)clock_offset);
}

static void on_fatal(int sig) {
    restore_clock(); /* clock_gettime/clock_settime are async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

struct waiter {
    pmq_queue *q;
    int op; /* 0 receive, 1 send */
    double timeout;
    pid_t tid;
    int done;
    int status;
    double elapsed;
};

static void *wait_thread(void *arg) {
    struct waiter *w = arg;
    __atomic_store_n(&w->tid, thread_id(), __ATOMIC_SEQ_CST);
    uint8_t buf[16];
    size_t n;
    double t0 = mono_now();
    if (w->op == 0)
        w->status = pmq_queue_receive_timeout(w->q, buf, sizeof buf, &n, NULL, w->timeout);
    else
        w->status = pmq_queue_send_timeout(w->q, (const uint8_t *)"x", 1, 0, w->timeout);
    w->elapsed = mono_now() - t0;
    __atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static bool is_done(struct waiter *w) { return __atomic_load_n(&w->done, __ATOMIC_SEQ_CST); }

static void start(struct waiter *w, pthread_t *t) {
    CHECK(pthread_create(t, NULL, wait_thread, w) == 0);
    while (__atomic_load_n(&w->tid, __ATOMIC_SEQ_CST) == 0) sleep_ms(1);
    CHECK(wait_blocked_in(w->tid, SYS_ppoll));
}

/* Wall clock one hour ahead during a 1 s wait: the wait is not cut short. */
static void forward_step_does_not_cut(int op) {
    pmq_queue *q = new_queue("clock-fwd", 1, 16);
    if (!q) return;
    if (op == 1) CHECK_OK(pmq_queue_send(q, (const uint8_t *)"f", 1, 0));
    struct waiter w = {q, op, 1.0, 0, 0, -1, 0};
    pthread_t t;
    start(&w, &t);
    CHECK(step_realtime(HOUR) == 0);
    sleep_ms(100); /* an early wake-up caused by the step happens now */
    bool cut = is_done(&w);
    restore_clock();
    CHECK(clock_offset == 0);
    pthread_join(t, NULL);
    CHECK(!cut);
    CHECK_STATUS(w.status, PMQ_STATUS_TIMED_OUT);
    if (w.elapsed < 1.0) fprintf(stderr, "wait ended after %.3f s of a 1.0 s timeout\n", w.elapsed);
    CHECK(w.elapsed >= 1.0);
    drop_queue(q);
}

/* Wall clock one hour back during a 0.3 s wait: it still ends in seconds. */
static void backward_step_does_not_stretch(int op) {
    pmq_queue *q = new_queue("clock-back", 1, 16);
    if (!q) return;
    if (op == 1) CHECK_OK(pmq_queue_send(q, (const uint8_t *)"f", 1, 0));
    struct waiter w = {q, op, 0.3, 0, 0, -1, 0};
    pthread_t t;
    start(&w, &t);
    CHECK(step_realtime(-HOUR) == 0);
    double end = mono_now() + 5.0;
    while (!is_done(&w) && mono_now() < end) sleep_ms(5);
    bool finished_while_stepped = is_done(&w);
    restore_clock();
    CHECK(clock_offset == 0);
    pthread_join(t, NULL);
    CHECK(finished_while_stepped);
    CHECK_STATUS(w.status, PMQ_STATUS_TIMED_OUT);
    CHECK(w.elapsed >= 0.3);
    drop_queue(q);
}

int main(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (clock_settime(CLOCK_REALTIME, &now) != 0) {
        skip("test_clock", errno == EPERM ? "clock_settime: EPERM (needs root / CAP_SYS_TIME)"
                                          : "clock_settime failed");
        (void)test_options;
        return check_done("test_clock");
    }
    atexit(restore_clock);
    const int fatal[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGTERM, SIGINT, SIGHUP};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) signal(fatal[i], on_fatal);

    forward_step_does_not_cut(0);
    backward_step_does_not_stretch(0);
    backward_step_does_not_stretch(1);
    return check_done("test_clock");
}
