/* Signals: a POSIX timer (timer_create, CLOCK_MONOTONIC) sends
 * SIGUSR1 every 100 microseconds to each process while it sends and
 * receives (handler installed WITHOUT SA_RESTART, so blocked calls really
 * are interrupted).
 *
 * Part 1: a producer and a consumer move messages through a 2-slot queue,
 * for each of retry_on_interrupt = false / true and each of "wait forever"
 * (pmq_queue_send/receive) / "with a timeout" (the _timeout calls). Expected
 * statuses: OK, and with retry_on_interrupt = false also
 * PMQ_STATUS_INTERRUPTED (nothing transferred: the app loop calls again);
 * with true, never INTERRUPTED. The consumer checks the exact sequence: no
 * loss, no duplicate, no reordering.
 *
 * Part 2: timeouts still end on time under the same signal storm: a receive
 * on an empty queue and a send on a full one, timeout 0.25 s, measured on
 * CLOCK_MONOTONIC. Asserted: never early, and no later than +2 s (a
 * generous bound; the real overshoot is reported, not asserted).
 *
 *   signals [messages=3000] [timeouts=4] [strict=1]
 */
#include "rel.h"

#define SIZE 32
static volatile sig_atomic_t signals_seen;
static void on_signal(int s) {
    (void)s;
    signals_seen++;
}

static timer_t start_storm(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART */
    sigaction(SIGUSR1, &sa, NULL);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    timer_t t;
    if (timer_create(CLOCK_MONOTONIC, &sev, &t) != 0) {
        perror("timer_create");
        _exit(20);
    }
    struct itimerspec its = {{0, 100000}, {0, 100000}};
    timer_settime(t, 0, &its, NULL);
    return t;
}

struct result {
    uint64_t ok, interrupted, other, signals, received, order_errors, bug_eintr;
    double elapsed[2][16], overshoot_max;
    uint64_t early, late, timeout_interrupts;
};

static pmq_queue *open_q(const char *name, int rd, int wr, int retry) {
    pmq_options o = rel_options(0, 0, 0);
    o.read = rd;
    o.write = wr;
    o.retry_on_interrupt = retry;
    pmq_queue *q = NULL;
    return pmq_queue_open(name, &o, &q) == PMQ_STATUS_OK ? q : NULL;
}

/* Regression check (a bug found by this suite, fixed in src/queue.rs): with
 * retry_on_interrupt = true, the _timeout calls returned
 * PMQ_STATUS_INTERRUPTED when the signal landed in their non-waiting attempt.
 * strict=1 (the default) fails on any such status; strict=0 only counts it. */
static int strict;
static int retry_mode;

static void count(struct result *r, int st) {
    if (st == PMQ_STATUS_INTERRUPTED && retry_mode) r->bug_eintr++;
    else if (st == PMQ_STATUS_OK) r->ok++;
    else if (st == PMQ_STATUS_INTERRUPTED) r->interrupted++;
    else {
        r->other++;
        fprintf(stderr, "unexpected %s: %s\n", pmq_status_name(st), pmq_last_error());
    }
}

static int producer(const char *name, int retry, int timed, uint32_t m, struct result *r) {
    alarm(120);
    pmq_queue *q = open_q(name, 0, 1, retry);
    if (!q) return 10;
    retry_mode = retry;
    start_storm();
    for (uint32_t s = 0; s < m; s++) {
        for (;;) {
            int st = timed ? pmq_queue_send_timeout(q, (uint8_t *)&s, 4, 0, 10.0)
                           : pmq_queue_send(q, (uint8_t *)&s, 4, 0);
            count(r, st);
            if (st != PMQ_STATUS_INTERRUPTED) break; /* the app loop retries */
        }
        if (s % 64 == 0) rel_sleep(0.0003); /* let the consumer block on empty */
    }
    r->signals = (uint64_t)signals_seen;
    return 0;
}

static int consumer(const char *name, int retry, int timed, uint32_t m, struct result *r) {
    alarm(120);
    pmq_queue *q = open_q(name, 1, 0, retry);
    if (!q) return 10;
    retry_mode = retry;
    start_storm();
    uint32_t expect = 0;
    while (expect < m) {
        uint8_t buf[SIZE];
        size_t n = 0;
        int st = timed ? pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 10.0)
                       : pmq_queue_receive(q, buf, sizeof buf, &n, NULL);
        count(r, st);
        if (st == PMQ_STATUS_INTERRUPTED) continue;
        if (st != PMQ_STATUS_OK) return 11;
        uint32_t v;
        memcpy(&v, buf, 4);
        if (n != 4 || v != expect) r->order_errors++;
        r->received++;
        expect = v + 1;
        if (expect % 50 == 0) rel_sleep(0.0003); /* let the producer block on full */
    }
    r->signals = (uint64_t)signals_seen;
    return 0;
}

static void part1(uint32_t m, struct result *res) {
    for (int retry = 0; retry <= 1; retry++)
        for (int timed = 0; timed <= 1; timed++) {
            const char *name = rel_name("sig");
            pmq_options o = rel_options(PMQ_O_CREX, 2, SIZE);
            pmq_queue *q = NULL;
            REL_STATUS(pmq_queue_open(name, &o, &q), PMQ_STATUS_OK);
            if (!q) return;
            struct result *pr = &res[0], *cr = &res[1];
            memset(res, 0, 2 * sizeof *res);
            pid_t c = fork();
            if (c == 0) _exit(consumer(name, retry, timed, m, cr));
            pid_t p = fork();
            if (p == 0) _exit(producer(name, retry, timed, m, pr));
            double deadline = rel_now() + 100;
            int okp = rel_exited_ok(rel_wait(p, deadline)), okc = rel_exited_ok(rel_wait(c, deadline));
            REL_CHECK(okp && okc, "retry=%d timed=%d: producer ok %d consumer ok %d", retry, timed, okp, okc);
            REL_CHECK(cr->received == m, "received %llu of %u", (unsigned long long)cr->received, m);
            REL_CHECK(cr->order_errors == 0, "%llu lost/duplicated/reordered", (unsigned long long)cr->order_errors);
            REL_CHECK(pr->other + cr->other == 0, "unexpected statuses");
            uint64_t intr = pr->interrupted + cr->interrupted, bug = pr->bug_eintr + cr->bug_eintr;
            if (bug)
                printf("signals: KNOWN LIBRARY BUG: retry_on_interrupt=true, %s calls returned "
                       "PMQ_STATUS_INTERRUPTED %llu times (retried by the app loop; strict=1 fails)\n",
                       timed ? "timeout" : "forever", (unsigned long long)bug);
            if (strict) REL_CHECK(bug == 0, "retry_on_interrupt=true returned INTERRUPTED %llu times", (unsigned long long)bug);
            if (retry)
                REL_CHECK(intr == 0, "retry_on_interrupt=true returned INTERRUPTED %llu times", (unsigned long long)intr);
            else
                REL_CHECK(intr > 0, "no call was interrupted: the test did not exercise EINTR");
            REL_CHECK(pr->signals > 100 && cr->signals > 100, "too few signals delivered");
            int64_t cur = -1;
            REL_STATUS(pmq_queue_current_messages(q, &cur), PMQ_STATUS_OK);
            REL_CHECK(cur == 0, "%lld left", (long long)cur);
            printf("signals: retry_on_interrupt=%s %-8s %u messages, %llu + %llu signals delivered, "
                   "%llu INTERRUPTED returns (retried by the app), lost/dup 0 checked\n",
                   retry ? "true " : "false", timed ? "timeout" : "forever", m,
                   (unsigned long long)pr->signals, (unsigned long long)cr->signals,
                   (unsigned long long)intr);
            REL_STATUS(pmq_queue_unlink(q), PMQ_STATUS_OK);
            pmq_queue_free(q);
        }
}

/* Receive (dir 0) on an empty queue or send (dir 1) to a full one with a
 * 0.25 s deadline, under the storm; with retry=false the app loop retries on
 * INTERRUPTED with the time that remains. */
static int timing_child(const char *name, int retry, int dir, int reps, struct result *r) {
    alarm(60);
    pmq_queue *q = open_q(name, 1, 1, retry);
    if (!q) return 10;
    start_storm();
    const double T = 0.25;
    for (int i = 0; i < reps; i++) {
        double t0 = rel_now(), deadline = t0 + T;
        int st;
        for (;;) {
            double left = deadline - rel_now();
            if (left <= 0) {
                st = PMQ_STATUS_TIMED_OUT;
                break;
            }
            uint8_t buf[SIZE];
            size_t n;
            st = dir == 0 ? pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, left)
                          : pmq_queue_send_timeout(q, (const uint8_t *)"x", 1, 0, left);
            if (st == PMQ_STATUS_INTERRUPTED && !retry) {
                r->timeout_interrupts++;
                continue;
            }
            if (st == PMQ_STATUS_INTERRUPTED && retry) { /* the known bug, see count() */
                r->bug_eintr++;
                continue;
            }
            break;
        }
        double el = rel_now() - t0;
        r->elapsed[dir][i] = el;
        if (st != PMQ_STATUS_TIMED_OUT) {
            r->other++;
            fprintf(stderr, "timing: %s, expected TIMED_OUT\n", pmq_status_name(st));
        }
        if (el < T) r->early++;
        if (el > T + 2.0) r->late++;
        if (el - T > r->overshoot_max) r->overshoot_max = el - T;
    }
    r->signals = (uint64_t)signals_seen;
    return 0;
}

static void part2(int reps, struct result *res) {
    for (int retry = 0; retry <= 1; retry++) {
        const char *empty = rel_name("tm-empty"), *full = rel_name("tm-full");
        pmq_options o = rel_options(PMQ_O_CREX, 1, SIZE);
        pmq_queue *qe = NULL, *qf = NULL;
        REL_STATUS(pmq_queue_open(empty, &o, &qe), PMQ_STATUS_OK);
        REL_STATUS(pmq_queue_open(full, &o, &qf), PMQ_STATUS_OK);
        if (!qe || !qf) return;
        REL_STATUS(pmq_queue_send(qf, (const uint8_t *)"f", 1, 0), PMQ_STATUS_OK);
        memset(res, 0, 2 * sizeof *res);
        pid_t a = fork();
        if (a == 0) _exit(timing_child(empty, retry, 0, reps, &res[0]));
        pid_t b = fork();
        if (b == 0) _exit(timing_child(full, retry, 1, reps, &res[1]));
        double dl = rel_now() + 60;
        int ok = rel_exited_ok(rel_wait(a, dl)) + rel_exited_ok(rel_wait(b, dl));
        REL_CHECK(ok == 2, "timing children failed");
        uint64_t bug = res[0].bug_eintr + res[1].bug_eintr;
        if (bug)
            printf("signals: KNOWN LIBRARY BUG: retry_on_interrupt=true, timed waits returned "
                   "PMQ_STATUS_INTERRUPTED %llu times before their deadline (retried by the app loop)\n",
                   (unsigned long long)bug);
        if (strict) REL_CHECK(bug == 0, "INTERRUPTED with retry_on_interrupt=true");
        REL_CHECK(res[0].other + res[1].other == 0, "a timed wait ended with another status than TIMED_OUT");
        REL_CHECK(res[0].early + res[1].early == 0, "%llu timeouts ended EARLY",
                  (unsigned long long)(res[0].early + res[1].early));
        REL_CHECK(res[0].late + res[1].late == 0, "%llu timeouts ended more than 2 s late",
                  (unsigned long long)(res[0].late + res[1].late));
        double sum = 0;
        for (int d = 0; d < 2; d++)
            for (int i = 0; i < reps; i++) sum += res[d].elapsed[d][i] - 0.25;
        double mx = res[0].overshoot_max > res[1].overshoot_max ? res[0].overshoot_max : res[1].overshoot_max;
        printf("signals: timeouts 0.25 s under the storm, retry_on_interrupt=%s: %d receives + %d sends, "
               "all TIMED_OUT, none early; overshoot mean %.2f ms, max %.2f ms; %llu signals, "
               "%llu INTERRUPTED returns retried by the app\n",
               retry ? "true " : "false", reps, reps, sum / (2 * reps) * 1e3, mx * 1e3,
               (unsigned long long)(res[0].signals + res[1].signals),
               (unsigned long long)(res[0].timeout_interrupts + res[1].timeout_interrupts));
        REL_STATUS(pmq_queue_unlink(qe), PMQ_STATUS_OK);
        REL_STATUS(pmq_queue_unlink(qf), PMQ_STATUS_OK);
        pmq_queue_free(qe);
        pmq_queue_free(qf);
    }
}

int main(int argc, char **argv) {
    uint32_t m = (uint32_t)rel_arg(argc, argv, "messages", 3000);
    int reps = (int)rel_arg(argc, argv, "timeouts", 4);
    if (reps > 16) reps = 16;
    strict = (int)rel_arg(argc, argv, "strict", 1);
    struct result *res = rel_shared(2 * sizeof *res);
    part1(m, res);
    part2(reps, res);
    return rel_done("signals");
}
