/* The `drop` of pmq_queue_notify_callback(q, fn, param, drop): called with
 * `param` exactly once when the registration can no longer fire (delivered,
 * replaced, cancelled, closed, freed, dropped by Linux), never when the
 * registration call fails, and never while libpmq holds a lock: a drop that
 * calls back into pmq's notification functions does not deadlock (a watchdog
 * alarm turns a deadlock into a failure). Both backends. */
#include "util.h"

#include <stdatomic.h>

struct rec {
    atomic_int calls;
    atomic_int drops;
    /* the callback had returned when drop ran */
    atomic_int drop_after_call;
    /* set by drop: the status of a notification call made from inside it */
    pmq_queue *reenter;
    atomic_int reenter_status;
    /* delivery_then_free: the callback waits for `release`; drop is slow */
    atomic_int hold, entered, release, slow_drop;
};

static void rec_init(struct rec *r) {
    memset(r, 0, sizeof *r);
    atomic_store(&r->reenter_status, -1);
}

static void on_note(void *param) {
    struct rec *r = param;
    atomic_fetch_add(&r->calls, 1);
    if (atomic_load(&r->hold)) {
        atomic_store(&r->entered, 1);
        while (!atomic_load(&r->release)) sleep_ms(1);
    }
}

static void on_drop(void *param) {
    struct rec *r = param;
    if (atomic_load(&r->calls) > 0) atomic_store(&r->drop_after_call, 1);
    if (atomic_load(&r->slow_drop)) sleep_ms(100); /* widens a drop-after-free window */
    if (r->reenter) {
        /* Takes the registry's lock: deadlocks if drop ran under it. */
        atomic_store(&r->reenter_status, pmq_queue_notify_cancel(r->reenter));
    }
    atomic_fetch_add(&r->drops, 1);
}

static bool wait_drops(struct rec *r, int want) {
    for (int i = 0; i < 2500 && atomic_load(&r->drops) < want; i++) sleep_ms(2);
    return atomic_load(&r->drops) >= want;
}

static pmq_queue *open_on(uint32_t backend, const char *tag, const char **name_out) {
    pmq_options o = test_options(PMQ_O_CREX, 2, 16);
    o.backend = backend;
    const char *name = test_queue_name(tag);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (name_out) *name_out = name;
    return q;
}

static pmq_queue *open_again(uint32_t backend, const char *name) {
    pmq_options o = test_options(0, 2, 16);
    o.backend = backend;
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    return q;
}

static void send_one(pmq_queue *q) {
    CHECK_OK(pmq_queue_send_timeout(q, (const uint8_t *)"n", 1, 0, 0));
}

static void delivered(uint32_t backend) {
    pmq_queue *q = open_on(backend, "drop-deliv", NULL);
    if (!q) return;
    struct rec r;
    rec_init(&r);
    CHECK_OK(pmq_queue_notify_callback(q, on_note, &r, on_drop));
    CHECK(atomic_load(&r.drops) == 0); /* armed: not dropped */
    send_one(q);
    CHECK(wait_drops(&r, 1));
    CHECK(atomic_load(&r.calls) == 1);
    CHECK(atomic_load(&r.drop_after_call) == 1); /* after the callback */
    /* Nothing of it is left for cancel, close or free to drop again. */
    CHECK_OK(pmq_queue_notify_cancel(q));
    CHECK_OK(pmq_queue_close(q));
    drop_queue(q);
    CHECK(atomic_load(&r.drops) == 1);
}

static void replaced(uint32_t backend) {
    const char *name = NULL;
    pmq_queue *q = open_on(backend, "drop-repl", &name);
    if (!q) return;
    pmq_queue *q2 = open_again(backend, name);
    struct rec a, b, c, d;
    rec_init(&a);
    rec_init(&b);
    rec_init(&c);
    rec_init(&d);
    CHECK_OK(pmq_queue_notify_callback(q, on_note, &a, on_drop));
    /* Replaced by a registration of the same handle: dropped inside that call. */
    CHECK_OK(pmq_queue_notify_callback(q, on_note, &b, on_drop));
    CHECK(atomic_load(&a.drops) == 1 && atomic_load(&b.drops) == 0);
    /* ... by a signal registration of the same handle. */
    CHECK_OK(pmq_queue_notify_signal(q, SIGUSR1));
    CHECK(atomic_load(&b.drops) == 1);
    CHECK_OK(pmq_queue_notify_callback(q, on_note, &c, on_drop));
    /* ... by one through another handle of the same queue: inside that call
     * on the kernel backend; on the shared-memory one once the replaced
     * registration's watcher saw it, by the old handle's free at the latest. */
    if (q2) {
        CHECK_OK(pmq_queue_notify_callback(q2, on_note, &d, on_drop));
        CHECK(atomic_load(&d.drops) == 0);
        if (backend == PMQ_BACKEND_KERNEL) CHECK(atomic_load(&c.drops) == 1);
        CHECK_OK(pmq_queue_notify_cancel(q2));
        CHECK(atomic_load(&d.drops) == 1);
    }
    CHECK_OK(pmq_queue_notify_cancel(q));
    /* None ran, each dropped exactly once, and stays so. */
    drop_queue(q2);
    drop_queue(q);
    CHECK(atomic_load(&a.drops) == 1 && atomic_load(&b.drops) == 1);
    CHECK(atomic_load(&c.drops) == 1);
    CHECK(q2 == NULL || atomic_load(&d.drops) == 1);
    CHECK(atomic_load(&a.calls) + atomic_load(&b.calls) + atomic_load(&c.calls) +
              atomic_load(&d.calls) ==
          0);
}

static void cancelled_closed_freed(uint32_t backend) {
    pmq_queue *other = open_on(backend, "drop-other", NULL);
    pmq_queue *q = open_on(backend, "drop-ccf", NULL);
    if (!q || !other) {
        drop_queue(q);
        drop_queue(other);
        return;
    }
    struct rec r;
    rec_init(&r);
    r.reenter = other; /* drop calls pmq_queue_notify_cancel(other) */
    CHECK_OK(pmq_queue_notify_callback(q, on_note, &r, on_drop));
    CHECK_OK(pmq_queue_notify_cancel(q));
    CHECK(atomic_load(&r.drops) == 1); /* inside cancel */
    CHECK(atomic_load(&r.reenter_status) == PMQ_STATUS_OK);
    CHECK_OK(pmq_queue_notify_cancel(q));
    CHECK(atomic_load(&r.drops) == 1);

    rec_init(&r);
    r.reenter = other;
    CHECK_OK(pmq_queue_notify_callback(q, on_note, &r, on_drop));
    CHECK_OK(pmq_queue_close(q));
    CHECK(atomic_load(&r.drops) == 1); /* inside close */
    CHECK(atomic_load(&r.reenter_status) == PMQ_STATUS_OK);
    /* A failed registration (closed handle) leaves param to the caller. */
    struct rec failed;
    rec_init(&failed);
    CHECK_STATUS(pmq_queue_notify_callback(q, on_note, &failed, on_drop), PMQ_STATUS_CLOSED);
    drop_queue(q);
    CHECK(atomic_load(&r.drops) == 1);
    CHECK(atomic_load(&failed.drops) == 0);

    q = open_on(backend, "drop-free", NULL);
    if (q) {
        rec_init(&r);
        r.reenter = other;
        CHECK_OK(pmq_queue_notify_callback(q, on_note, &r, on_drop));
        (void)pmq_queue_unlink(q);
        pmq_queue_free(q);
        CHECK(atomic_load(&r.drops) == 1); /* inside free */
        CHECK(atomic_load(&r.reenter_status) == PMQ_STATUS_OK);
        CHECK(atomic_load(&r.calls) == 0);
    }
    /* Other failures: NULL handle, NULL callback. */
    rec_init(&failed);
    CHECK_STATUS(pmq_queue_notify_callback(NULL, on_note, &failed, on_drop),
                 PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_notify_callback(other, NULL, &failed, on_drop),
                 PMQ_STATUS_INVALID_ARGUMENT);
    CHECK(atomic_load(&failed.drops) == 0);
    drop_queue(other);
}

/* pmq_queue_notify_cancel through ANOTHER handle of the same queue cancels
 * the process's registration (one per queue and process), so the drop of
 * the first handle's callback runs inside that cancel, not at the first
 * handle's close; the callback is not called afterwards. */
static void cancelled_through_another_handle(uint32_t backend) {
    const char *name = NULL;
    pmq_queue *q = open_on(backend, "drop-cx", &name);
    if (!q) return;
    pmq_queue *q2 = open_again(backend, name);
    if (!q2) {
        drop_queue(q);
        return;
    }
    struct rec r;
    rec_init(&r);
    CHECK_OK(pmq_queue_notify_callback(q, on_note, &r, on_drop));
    CHECK_OK(pmq_queue_notify_cancel(q2));
    CHECK(atomic_load(&r.drops) == 1); /* inside the cancel through q2 */
    /* The registration is gone: q2 may register again (no busy), and the
     * first callback is never called. */
    struct rec r2;
    rec_init(&r2);
    CHECK_OK(pmq_queue_notify_callback(q2, on_note, &r2, on_drop));
    send_one(q);
    CHECK(wait_drops(&r2, 1));
    CHECK(atomic_load(&r2.calls) == 1);
    CHECK_OK(pmq_queue_notify_cancel(q));
    drop_queue(q2);
    drop_queue(q);
    CHECK(atomic_load(&r.calls) == 0);
    CHECK(atomic_load(&r.drops) == 1);
    CHECK(atomic_load(&r2.drops) == 1);
}

/* Closing another descriptor of the queue makes Linux drop the
 * registration: drop then runs once, by the handle's free at the latest. */
static void dropped_by_the_system(uint32_t backend) {
    const char *name = NULL;
    pmq_queue *q = open_on(backend, "drop-sys", &name);
    if (!q) return;
    pmq_queue *q2 = open_again(backend, name);
    struct rec r;
    rec_init(&r);
    CHECK_OK(pmq_queue_notify_callback(q, on_note, &r, on_drop));
    pmq_queue_free(q2);
    drop_queue(q);
    CHECK(atomic_load(&r.drops) == 1);
}

/* A delivery racing free: when free returns, the drop of a registration
 * that was being delivered has run too (exactly once), many times over. */
static void delivery_racing_free(uint32_t backend) {
    enum { ROUNDS = 200 };
    int bad = 0;
    const char *name = test_queue_name("drop-race");
    for (int i = 0; i < ROUNDS; i++) {
        pmq_options o = test_options(PMQ_O_CREX, 2, 16);
        o.backend = backend;
        pmq_queue *q = NULL;
        CHECK_OK(pmq_queue_open(name, &o, &q));
        if (!q) return;
        struct rec r;
        rec_init(&r);
        CHECK_OK(pmq_queue_notify_callback(q, on_note, &r, on_drop));
        send_one(q);
        if (i % 2) sched_yield();
        (void)pmq_queue_unlink(q);
        pmq_queue_free(q);
        if (atomic_load(&r.drops) != 1) bad++;
    }
    CHECK(bad == 0);
}

struct freer {
    pmq_queue *q;
    struct rec *r;
    int drops_when_free_returned;
};

static void *free_thread(void *arg) {
    struct freer *f = arg;
    pmq_queue_free(f->q);
    f->drops_when_free_returned = atomic_load(&f->r->drops);
    return NULL;
}

/* free while the callback runs: free waits for the callback AND its drop
 * (before, the delivery thread dropped it after free had stopped waiting,
 * so free returned with drop still to come). */
static void free_waits_for_a_delivered_drop(uint32_t backend) {
    pmq_queue *q = open_on(backend, "drop-held", NULL);
    if (!q) return;
    (void)pmq_queue_unlink(q);
    struct rec r;
    rec_init(&r);
    atomic_store(&r.hold, 1);
    atomic_store(&r.slow_drop, 1);
    CHECK_OK(pmq_queue_notify_callback(q, on_note, &r, on_drop));
    send_one(q);
    for (int i = 0; i < 2500 && !atomic_load(&r.entered); i++) sleep_ms(2);
    CHECK(atomic_load(&r.entered));
    struct freer f = {q, &r, -1};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, free_thread, &f) == 0);
    sleep_ms(20); /* free is (most likely) waiting for the callback now */
    atomic_store(&r.release, 1);
    pthread_join(t, NULL);
    CHECK(f.drops_when_free_returned == 1);
    CHECK(atomic_load(&r.drops) == 1);
}

int main(void) {
    /* A deadlock in drop fails the run instead of hanging it. */
    alarm(120);
    /* SIGUSR1 registrations in `replaced` are cancelled before any send;
     * ignore the signal anyway. */
    signal(SIGUSR1, SIG_IGN);
    const uint32_t backends[] = {PMQ_BACKEND_KERNEL, PMQ_BACKEND_SHM};
    for (size_t b = 0; b < 2; b++) {
        delivered(backends[b]);
        replaced(backends[b]);
        cancelled_closed_freed(backends[b]);
        cancelled_through_another_handle(backends[b]);
        dropped_by_the_system(backends[b]);
        delivery_racing_free(backends[b]);
        free_waits_for_a_delivered_drop(backends[b]);
    }
    return check_done("test_notify_drop");
}
