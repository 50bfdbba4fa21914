/* Lifetime rules under races, through the C ABI: what close / free / cancel
 * guarantee to callbacks that re-arm, to registrations racing them, to
 * threads waiting in send or receive, and across fork.
 *
 * - free while a callback re-arms from inside and another thread keeps the
 *   queue moving: after free returns the callback never runs again, and its
 *   re-registration fails with PMQ_STATUS_CLOSED;
 * - pmq_queue_notify_callback racing pmq_queue_close: no callback after
 *   close returned;
 * - close wakes every thread of the handle waiting in send or receive
 *   (forever or timed): they return PMQ_STATUS_CLOSED at once with nothing
 *   moved, and waiters on another handle of the queue keep waiting;
 * - a pmq receiver waiting without a timeout sleeps in the kernel's own
 *   receive, so (as for any receiver asleep there) it gets the message and
 *   no notification is sent; a bounded wait (ppoll) does not suppress it;
 * - fork while a callback runs: the child's close / cancel / free return;
 *   a child's own registrations do not take the parent's deliveries;
 * - a busy registration names the other process once ours was delivered.
 *
 * Races are run many rounds (PMQ_STRESS_ROUNDS overrides; fewer under
 * valgrind, which serialises threads). */
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "util.h"

static int rounds(int normal) {
    const char *e = getenv("PMQ_STRESS_ROUNDS");
    if (e && atoi(e) > 0) return atoi(e);
    const char *pre = getenv("LD_PRELOAD");
    if (pre && strstr(pre, "vgpreload")) return normal / 20 > 2 ? normal / 20 : 2;
    return normal;
}

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A new queue under `name` (which the test unlinks again each round). */
static pmq_queue *open_round(const char *name) {
    pmq_options o = test_options(PMQ_O_CREX, 2, 8);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    return q;
}

static void drain(const pmq_queue *q) {
    uint8_t buf[64];
    size_t n;
    while (pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 0) == PMQ_STATUS_OK) {
    }
}

/* A thread that keeps a queue going from empty to non-empty. */
struct churn {
    const pmq_queue *q;
    atomic_int stop;
    pthread_t thread;
};

static void *churn_thread(void *arg) {
    struct churn *c = arg;
    while (!atomic_load(&c->stop)) {
        (void)pmq_queue_send_timeout(c->q, (const uint8_t *)"x", 1, 0, 0);
        sleep_us(100);
        drain(c->q);
    }
    return NULL;
}

static void churn_start(struct churn *c, const pmq_queue *q) {
    c->q = q;
    atomic_store(&c->stop, 0);
    CHECK(pthread_create(&c->thread, NULL, churn_thread, c) == 0);
}

static void churn_stop(struct churn *c) {
    atomic_store(&c->stop, 1);
    pthread_join(c->thread, NULL);
}

/* ---- free while a callback re-arms ------------------------------------- */

struct rearm {
    pmq_queue *q;
    atomic_int calls;
    atomic_int freed;      /* set once pmq_queue_free returned */
    atomic_int after_free; /* callbacks that started after that: must stay 0 */
    atomic_int refused;    /* re-registrations refused with CLOSED */
    atomic_int other;      /* re-registrations that failed otherwise */
};

static void rearm_cb(void *param) {
    struct rearm *s = param;
    if (atomic_load(&s->freed)) {
        atomic_fetch_add(&s->after_free, 1); /* and do not touch s->q */
        return;
    }
    atomic_fetch_add(&s->calls, 1);
    drain(s->q);
    sleep_us(300); /* leave free time to begin before we re-arm */
    int st = pmq_queue_notify_callback(s->q, rearm_cb, s, NULL);
    if (st == PMQ_STATUS_CLOSED)
        atomic_fetch_add(&s->refused, 1);
    else if (st != PMQ_STATUS_OK)
        atomic_fetch_add(&s->other, 1);
}

static void free_while_rearming(void) {
    int n = rounds(150);
    int after_free = 0, other = 0, refused = 0;
    const char *name = test_queue_name("free-rearm");
    for (int r = 0; r < n; r++) {
        pmq_queue *q = open_round(name);
        if (!q) return;
        pmq_queue *sender = open_existing(pmq_queue_name(q), true, true);
        (void)pmq_queue_unlink(q);
        struct rearm *s = calloc(1, sizeof *s);
        s->q = q;
        CHECK_OK(pmq_queue_notify_callback(q, rearm_cb, s, NULL));
        struct churn c;
        churn_start(&c, sender);
        double end = mono_now() + 2.0;
        while (atomic_load(&s->calls) < 2 + r % 3 && mono_now() < end) sleep_us(50);
        sleep_us((r % 7) * 60);
        pmq_queue_free(q);
        atomic_store(&s->freed, 1);
        sleep_us(3000); /* the queue keeps moving: any surviving registration fires */
        churn_stop(&c);
        after_free += atomic_load(&s->after_free);
        other += atomic_load(&s->other);
        refused += atomic_load(&s->refused);
        pmq_queue_free(sender);
        free(s);
    }
    CHECK(after_free == 0);
    CHECK(other == 0);
    printf("free while re-arming: %d rounds, %d re-registrations refused with CLOSED, %d "
           "callbacks after free\n",
           n, refused, after_free);
}

/* ---- registration racing close --------------------------------------- */

struct racer {
    pmq_queue *q;
    atomic_int closed; /* set once pmq_queue_close returned */
    atomic_int after_close;
    atomic_int registered;
    atomic_int bad_status; /* registrations that ended other than CLOSED */
};

static void racer_cb(void *param) {
    struct racer *s = param;
    if (atomic_load(&s->closed)) atomic_fetch_add(&s->after_close, 1);
}

static void *register_until_closed(void *arg) {
    struct racer *s = arg;
    for (;;) {
        int st = pmq_queue_notify_callback(s->q, racer_cb, s, NULL);
        if (st == PMQ_STATUS_OK) {
            atomic_fetch_add(&s->registered, 1);
            continue;
        }
        /* BUSY: another registering thread holds it right now. */
        if (st == PMQ_STATUS_BUSY) continue;
        if (st != PMQ_STATUS_CLOSED) atomic_fetch_add(&s->bad_status, 1);
        return NULL;
    }
}

static void register_racing_close(void) {
    int n = rounds(150);
    int after = 0, bad_status = 0;
    const char *name = test_queue_name("reg-close");
    for (int r = 0; r < n; r++) {
        pmq_queue *q = open_round(name);
        if (!q) return;
        pmq_queue *sender = open_existing(pmq_queue_name(q), true, true);
        (void)pmq_queue_unlink(q);
        struct racer *s = calloc(1, sizeof *s);
        s->q = q;
        /* The queue keeps going from empty to non-empty all along, so a
         * registration that survives close is delivered soon after. */
        struct churn c;
        churn_start(&c, sender);
        /* Several registering threads: one passes the handle's closed check
         * and then waits for the registration lock that close takes. */
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
            CHECK(pthread_create(&t[i], NULL, register_until_closed, s) == 0);
        sleep_us(50 + (r % 10) * 30);
        CHECK_OK(pmq_queue_close(q));
        atomic_store(&s->closed, 1);
        for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
        sleep_us(3000);
        churn_stop(&c);
        bad_status += atomic_load(&s->bad_status);
        after += atomic_load(&s->after_close);
        pmq_queue_free(q);
        pmq_queue_free(sender);
        free(s);
    }
    CHECK(after == 0);
    CHECK(bad_status == 0);
    printf("registration racing close: %d rounds, %d callbacks after close\n", n, after);
}

/* ---- close wakes the handle's waiters ------------------------------------ */

struct waiter {
    const pmq_queue *q;
    int op;         /* 0 receive, 1 send */
    double timeout; /* < 0: forever */
    pid_t tid;
    int status;
    size_t n;
    atomic_int done;
};

static void *wait_thread(void *arg) {
    struct waiter *w = arg;
    uint8_t buf[16];
    w->n = 0;
    __atomic_store_n(&w->tid, thread_id(), __ATOMIC_SEQ_CST);
    if (w->op == 0)
        w->status = w->timeout < 0
                        ? pmq_queue_receive(w->q, buf, sizeof buf, &w->n, NULL)
                        : pmq_queue_receive_timeout(w->q, buf, sizeof buf, &w->n, NULL, w->timeout);
    else
        w->status = w->timeout < 0
                        ? pmq_queue_send(w->q, (const uint8_t *)"late", 4, 1)
                        : pmq_queue_send_timeout(w->q, (const uint8_t *)"late", 4, 1, w->timeout);
    atomic_store(&w->done, 1);
    return NULL;
}

static void start_waiter(struct waiter *w, pthread_t *t) {
    CHECK(pthread_create(t, NULL, wait_thread, w) == 0);
    while (__atomic_load_n(&w->tid, __ATOMIC_SEQ_CST) == 0) sleep_ms(1);
    CHECK(wait_blocked_in(w->tid, wait_syscall(w->op, w->timeout)));
}

static void close_wakes_waiters(void) {
    pmq_queue *empty = new_queue("wake-empty", 1, 16);
    pmq_queue *full = new_queue("wake-full", 1, 16);
    if (!empty || !full) return;
    CHECK_OK(pmq_queue_send(full, (const uint8_t *)"held", 4, 0));
    /* A waiter on another handle of the empty queue must not be woken. */
    pmq_queue *bystander_q = open_existing(pmq_queue_name(empty), true, true);
    struct waiter w[5] = {
        {empty, 0, -1, 0, -1, 0, 0},  {empty, 0, 30.0, 0, -1, 0, 0}, {full, 1, -1, 0, -1, 0, 0},
        {full, 1, 30.0, 0, -1, 0, 0}, {bystander_q, 0, 30.0, 0, -1, 0, 0},
    };
    pthread_t t[5];
    for (int i = 0; i < 5; i++) start_waiter(&w[i], &t[i]);
    double t0 = mono_now();
    CHECK_OK(pmq_queue_close(empty));
    CHECK_OK(pmq_queue_close(full));
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_STATUS(w[i].status, PMQ_STATUS_CLOSED);
        CHECK(w[i].n == 0);
    }
    double took = mono_now() - t0;
    CHECK(took < 2.0);
    /* Nothing moved: the full queue still holds its one message, and the
     * bystander still waits until a message arrives for it. */
    CHECK(!atomic_load(&w[4].done));
    pmq_queue *check = open_existing(pmq_queue_name(full), true, true);
    if (check) CHECK(current_messages(check) == 1);
    pmq_queue_free(check);
    pmq_queue *feeder = open_existing(pmq_queue_name(empty), false, true);
    if (feeder) CHECK_OK(pmq_queue_send(feeder, (const uint8_t *)"hi", 2, 0));
    pthread_join(t[4], NULL);
    CHECK_OK(w[4].status);
    CHECK(w[4].n == 2);
    pmq_queue_free(feeder);
    pmq_queue_free(bystander_q);
    printf("close woke 4 waiters (receive, receive_timeout, send, send_timeout) in %.1f ms\n",
           took * 1e3);
    drop_queue(empty);
    drop_queue(full);
}

/* ---- waiting receivers and notifications ---------------------------------- */

static atomic_int note_calls;
static void count_note(void *param) {
    (void)param;
    atomic_fetch_add(&note_calls, 1);
}

static bool wait_count(atomic_int *v, int want, double seconds) {
    double end = mono_now() + seconds;
    while (atomic_load(v) < want && mono_now() < end) sleep_ms(1);
    return atomic_load(v) >= want;
}

/* A waiting receiver and a notification, as the kernel has it: a receiver
 * asleep inside the kernel's mq_receive gets the message directly and no
 * notification is sent. pmq's receive without a timeout is such a receiver
 * (it sleeps in the kernel's own call: one system call, like raw mq_receive);
 * a bounded receive waits in ppoll (a monotonic timeout), so the
 * notification is sent and the receiver wakes too. On the shared-memory
 * backend every waiting receiver sleeps on a futex: none suppresses the
 * notification, with or without a timeout. */
static void waiting_receiver_and_notification(double timeout) {
    pmq_queue *q = new_queue("suppress", 2, 16);
    if (!q) return;
    pmq_queue *other = open_existing(pmq_queue_name(q), true, true);
    atomic_store(&note_calls, 0);
    struct waiter w = {other, 0, timeout, 0, -1, 0, 0};
    pthread_t t;
    start_waiter(&w, &t);
    CHECK_OK(pmq_queue_notify_callback(q, count_note, NULL, NULL));
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"m", 1, 0));
    if (timeout < 0 && !testing_shm()) {
        /* Handed to the sleeping receiver: nothing is queued, no notification. */
        pthread_join(t, NULL);
        CHECK_OK(w.status);
        CHECK(w.n == 1);
        CHECK(!wait_count(&note_calls, 1, 0.3));
        CHECK(current_messages(q) == 0);
    } else {
        CHECK(wait_count(&note_calls, 1, 5.0));
        pthread_join(t, NULL);
        /* The message went to the waiting receiver (or was still there). */
        if (w.status != PMQ_STATUS_OK) CHECK(current_messages(q) == 1);
    }
    CHECK_OK(pmq_queue_notify_cancel(q));
    pmq_queue_free(other);
    drop_queue(q);
}

/* ---- fork ------------------------------------------------------------------ */

struct blocker {
    atomic_int entered;
    atomic_int release;
};

static void blocking_cb(void *param) {
    struct blocker *b = param;
    atomic_store(&b->entered, 1);
    while (!atomic_load(&b->release)) sleep_ms(1);
}

struct fork_arg {
    pmq_queue *q;
    int which; /* 0 cancel, 1 close, 2 free */
};

static void child_after_fork(void *arg) {
    struct fork_arg *a = arg;
    alarm(10); /* a hang is a failure, not a stuck test */
    if (a->which == 0) CHECK_OK(pmq_queue_notify_cancel(a->q));
    if (a->which == 1) CHECK_OK(pmq_queue_close(a->q));
    pmq_queue_free(a->q);
    CHECK(1);
}

static void fork_while_callback_runs(void) {
    for (int which = 0; which < 3; which++) {
        pmq_queue *q = new_queue("fork-run", 2, 8);
        if (!q) return;
        struct blocker b;
        atomic_store(&b.entered, 0);
        atomic_store(&b.release, 0);
        CHECK_OK(pmq_queue_notify_callback(q, blocking_cb, &b, NULL));
        CHECK_OK(pmq_queue_send(q, (const uint8_t *)"go", 2, 0));
        double end = mono_now() + 5.0;
        while (!atomic_load(&b.entered) && mono_now() < end) sleep_ms(1);
        CHECK(atomic_load(&b.entered));
        struct fork_arg a = {q, which};
        in_child(child_after_fork, &a);
        atomic_store(&b.release, 1);
        drop_queue(q);
    }
}

/* The parent's callbacks keep arriving while a child has registrations of
 * its own (and the child gets its own). */
struct cycle_state {
    pmq_queue *q;
    atomic_int calls;
};

static void cycle_cb(void *param) {
    struct cycle_state *s = param;
    atomic_fetch_add(&s->calls, 1);
}

struct child_pipes {
    int ready[2]; /* child -> parent */
    int done[2];  /* parent -> child */
};

static void child_registers_own(struct child_pipes *p) {
    alarm(20);
    pmq_queue *mine = new_queue("fork-own", 2, 8);
    struct cycle_state s = {mine, 0};
    int ok = 0;
    if (mine) {
        /* Its own notification works in the child... */
        CHECK_OK(pmq_queue_notify_callback(mine, cycle_cb, &s, NULL));
        CHECK_OK(pmq_queue_send(mine, (const uint8_t *)"c", 1, 0));
        CHECK(wait_count(&s.calls, 1, 5.0));
        drain(mine);
        /* ...and it stays registered (its helper keeps reading) while the
         * parent runs its cycles. */
        CHECK_OK(pmq_queue_notify_callback(mine, cycle_cb, &s, NULL));
        ok = 1;
    }
    char c = ok ? 'r' : 'x';
    CHECK(write(p->ready[1], &c, 1) == 1);
    CHECK(read(p->done[0], &c, 1) == 1);
    drop_queue(mine);
}

static void child_does_not_steal(void) {
    pmq_queue *q = new_queue("fork-steal", 2, 8);
    if (!q) return;
    struct cycle_state s = {q, 0};
    /* The parent's delivery machinery exists before the fork. */
    CHECK_OK(pmq_queue_notify_callback(q, cycle_cb, &s, NULL));
    CHECK_OK(pmq_queue_notify_cancel(q));
    struct child_pipes p;
    CHECK(pipe(p.ready) == 0 && pipe(p.done) == 0);
    int counts[2] = {0, 0};
    int res[2];
    CHECK(pipe(res) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        check_passed = 0;
        check_failed = 0;
        child_registers_own(&p);
        int c2[2] = {check_passed, check_failed};
        _exit(write(res[1], c2, sizeof c2) == (ssize_t)sizeof c2 ? 0 : 3);
    }
    char c = 0;
    CHECK(read(p.ready[0], &c, 1) == 1 && c == 'r');
    const int cycles = 20;
    int got = 0;
    for (int i = 0; i < cycles; i++) {
        int before = atomic_load(&s.calls);
        CHECK_OK(pmq_queue_notify_callback(q, cycle_cb, &s, NULL));
        CHECK_OK(pmq_queue_send(q, (const uint8_t *)"p", 1, 0));
        if (wait_count(&s.calls, before + 1, 2.0)) got++;
        drain(q);
    }
    CHECK(got == cycles);
    printf("parent got %d of %d notifications while a child had registrations of its own\n", got,
           cycles);
    c = 'd';
    CHECK(write(p.done[1], &c, 1) == 1);
    CHECK(read(res[0], counts, sizeof counts) == (ssize_t)sizeof counts);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    check_passed += counts[0];
    check_failed += counts[1];
    for (int i = 0; i < 2; i++) {
        close(p.ready[i]);
        close(p.done[i]);
        close(res[i]);
    }
    drop_queue(q);
}

/* ---- busy detail after our own delivery --------------------------------------- */

static void busy_names_holder_after_delivery(int use_signal) {
    pmq_queue *q = new_queue("busy-after", 2, 8);
    if (!q) return;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct cycle_state s = {q, 0};
    if (use_signal) {
        CHECK_OK(pmq_queue_notify_signal(q, SIGUSR2));
        CHECK_OK(pmq_queue_send(q, (const uint8_t *)"s", 1, 0));
        struct timespec ts = {5, 0};
        CHECK(sigtimedwait(&set, NULL, &ts) == SIGUSR2);
    } else {
        CHECK_OK(pmq_queue_notify_callback(q, cycle_cb, &s, NULL));
        CHECK_OK(pmq_queue_send(q, (const uint8_t *)"s", 1, 0));
        CHECK(wait_count(&s.calls, 1, 5.0));
    }
    drain(q);
    /* Another process takes the registration now. */
    int ready[2], done[2];
    CHECK(pipe(ready) == 0 && pipe(done) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20);
        pmq_options o;
        test_options_init(&o);
        pmq_queue *c = NULL;
        char ch = 'x';
        if (pmq_queue_open(pmq_queue_name(q), &o, &c) == PMQ_STATUS_OK &&
            pmq_queue_notify_signal(c, SIGUSR2) == PMQ_STATUS_OK)
            ch = 'r';
        if (write(ready[1], &ch, 1) != 1) _exit(3);
        if (read(done[0], &ch, 1) != 1) _exit(3);
        _exit(0);
    }
    char ch = 0;
    CHECK(read(ready[0], &ch, 1) == 1 && ch == 'r');
    char want[64];
    /* The kernel backend names the holder (from /dev/mqueue); the shm
     * backend says only that another process holds it. */
    if (testing_shm())
        snprintf(want, sizeof want, "another process holds it");
    else
        snprintf(want, sizeof want, "process %ld holds it", (long)pid);
    CHECK_STATUS(pmq_queue_notify_callback(q, cycle_cb, &s, NULL), PMQ_STATUS_BUSY);
    CHECK_DETAIL(want);
    CHECK_STATUS(pmq_queue_notify_signal(q, SIGUSR2), PMQ_STATUS_BUSY);
    CHECK_DETAIL(want);
    ch = 'd';
    CHECK(write(done[1], &ch, 1) == 1);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    for (int i = 0; i < 2; i++) {
        close(ready[i]);
        close(done[i]);
    }
    /* The child is gone (and its registration with it): ours works again. */
    CHECK_OK(pmq_queue_notify_callback(q, cycle_cb, &s, NULL));
    CHECK_OK(pmq_queue_notify_cancel(q));
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    drop_queue(q);
}

/* PMQ_ONLY=<name> runs one part (to try a part alone, e.g. on an old build). */
static bool part(const char *name) {
    const char *only = getenv("PMQ_ONLY");
    return !only || strcmp(only, name) == 0;
}

int main(void) {
    if (part("free")) free_while_rearming();
    if (part("close-race")) register_racing_close();
    if (part("wake")) close_wakes_waiters();
    if (part("suppress")) {
        waiting_receiver_and_notification(-1);
        waiting_receiver_and_notification(30.0);
    }
    if (part("fork-run")) fork_while_callback_runs();
    if (part("fork-steal")) child_does_not_steal();
    if (part("busy")) {
        busy_names_holder_after_delivery(0);
        busy_names_holder_after_delivery(1);
    }
    return check_done("test_lifetime");
}
