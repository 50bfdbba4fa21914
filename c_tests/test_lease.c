/* Leases through the C ABI (at-least-once receive, issue 30): lease, ack,
 * nack and their batch forms on the shared-memory backend (FIFO kept after a
 * nack, PMQ_STATUS_LEASE_LOST with a detail on a second ack, ack_batch's
 * out_acked, visibility expiry, a freed or killed holder's leases coming
 * back, dead letters, capacity, statistics, the instance id), every NULL /
 * bad argument / closed handle, and the kernel backend's
 * PMQ_STATUS_NOT_SUPPORTED naming the shm backend. */
#include <math.h>
#include <signal.h>
#include <sys/wait.h>

#include "util.h"

#define SIZE 32

static pmq_options shm_options(int flags, int64_t max_messages) {
    pmq_options o = test_options(flags, max_messages, SIZE);
    o.backend = PMQ_BACKEND_SHM;
    return o;
}

/* A new shared-memory queue named `*name_out`. */
static pmq_queue *new_shm(const char *tag, int64_t max_messages, const char **name_out) {
    const char *name = test_queue_name(tag);
    pmq_options o = shm_options(PMQ_O_CREX, max_messages);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (name_out) *name_out = name;
    return q;
}

static pmq_queue *open_shm(const char *name) {
    pmq_options o = shm_options(0, 1);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    return q;
}

static void send_text(pmq_queue *q, const char *text, uint32_t prio) {
    CHECK_OK(pmq_queue_send_timeout(q, (const uint8_t *)text, strlen(text), prio, 0));
}

/* Leases one message (try once) and checks its text, priority and delivery. */
static pmq_lease lease_expect(pmq_queue *q, const char *text, uint32_t prio, uint32_t delivery) {
    uint8_t buf[SIZE];
    size_t n = 0;
    uint32_t p = 99;
    pmq_lease l = {0, 0, 0};
    CHECK_OK(pmq_queue_lease_timeout(q, buf, sizeof buf, &n, &p, &l, 0, 0));
    CHECK(n == strlen(text) && memcmp(buf, text, n) == 0);
    CHECK(p == prio);
    CHECK(l.delivery == delivery);
    if (l.delivery != delivery || n != strlen(text) || memcmp(buf, text, n) != 0) {
        fprintf(stderr, "  expected %s (delivery %u), got %.*s (delivery %u)\n", text,
                delivery, (int)n, (const char *)buf, l.delivery);
    }
    return l;
}

static void expect_empty(pmq_queue *q) {
    uint8_t buf[SIZE];
    size_t n = 0;
    pmq_lease l;
    CHECK_STATUS(pmq_queue_lease_timeout(q, buf, sizeof buf, &n, NULL, &l, 0, 0),
                 PMQ_STATUS_WOULD_BLOCK);
}

static void lease_ack_nack_fifo(void) {
    pmq_queue *q = new_shm("ls-fifo", 8, NULL);
    if (!q) return;
    send_text(q, "a", 0);
    send_text(q, "b", 0);
    send_text(q, "c", 0);
    send_text(q, "hi", 3);
    pmq_lease hi = lease_expect(q, "hi", 3, 1);
    pmq_lease a = lease_expect(q, "a", 0, 1);
    pmq_lease b = lease_expect(q, "b", 0, 1);
    CHECK(a.seq != b.seq && hi.seq != a.seq);
    /* Given back: ahead of c (sent after them), in their own order. */
    CHECK_OK(pmq_queue_nack(q, &b));
    CHECK_OK(pmq_queue_nack(q, &a));
    pmq_lease a2 = lease_expect(q, "a", 0, 2);
    CHECK(a2.seq == a.seq);
    pmq_lease b2 = lease_expect(q, "b", 0, 2);
    CHECK(b2.seq == b.seq);
    pmq_lease c = lease_expect(q, "c", 0, 1);
    CHECK_OK(pmq_queue_ack(q, &hi));
    CHECK_OK(pmq_queue_ack(q, &a2));
    CHECK_OK(pmq_queue_ack(q, &b2));
    CHECK_OK(pmq_queue_ack(q, &c));
    expect_empty(q);
    /* A plain receive gets a nacked message too. */
    send_text(q, "d", 1);
    pmq_lease d = lease_expect(q, "d", 1, 1);
    CHECK_OK(pmq_queue_nack(q, &d));
    uint8_t buf[SIZE];
    size_t n = 0;
    CHECK_OK(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 0));
    CHECK(n == 1 && buf[0] == 'd');
    drop_queue(q);
}

static void lease_lost(void) {
    const char *name = NULL;
    pmq_queue *q = new_shm("ls-lost", 4, &name);
    if (!q) return;
    send_text(q, "x", 0);
    pmq_lease l = lease_expect(q, "x", 0, 1);
    CHECK_OK(pmq_queue_ack(q, &l));
    CHECK_STATUS(pmq_queue_ack(q, &l), PMQ_STATUS_LEASE_LOST);
    CHECK_DETAIL("lease");
    printf("  second ack: %s\n", pmq_last_error());
    CHECK_STATUS(pmq_queue_nack(q, &l), PMQ_STATUS_LEASE_LOST);
    /* After a nack the old lease is no longer the handle's either. */
    send_text(q, "y", 0);
    pmq_lease y = lease_expect(q, "y", 0, 1);
    CHECK_OK(pmq_queue_nack(q, &y));
    CHECK_STATUS(pmq_queue_nack(q, &y), PMQ_STATUS_LEASE_LOST);
    CHECK_STATUS(pmq_queue_ack(q, &y), PMQ_STATUS_LEASE_LOST);
    /* A lease made up (never handed out) is refused the same way. */
    pmq_lease fake = {y.seq + 1000, y.slot, 1};
    CHECK_STATUS(pmq_queue_ack(q, &fake), PMQ_STATUS_LEASE_LOST);
    /* Another handle's lease is not this one's. */
    pmq_lease y2 = lease_expect(q, "y", 0, 2);
    pmq_queue *other = NULL;
    pmq_options o = shm_options(0, 1);
    CHECK_OK(pmq_queue_open(name, &o, &other));
    if (other) {
        CHECK_STATUS(pmq_queue_ack(other, &y2), PMQ_STATUS_LEASE_LOST);
        /* ...and invisible to its receives while leased. */
        expect_empty(other);
        pmq_queue_free(other);
    }
    CHECK_OK(pmq_queue_ack(q, &y2));
    CHECK(current_messages(q) == 0);
    drop_queue(q);
}

static void batches(void) {
    pmq_queue *q = new_shm("ls-batch", 8, NULL);
    if (!q) return;
    const char *texts[5] = {"m0", "m1", "m2", "m3", "m4"};
    for (int i = 0; i < 5; i++) send_text(q, texts[i], 0);
    uint8_t buf[4 * SIZE];
    pmq_leased out[3];
    size_t count = 0;
    CHECK_OK(pmq_queue_lease_batch(q, buf, sizeof buf, out, 3, &count, 0));
    CHECK(count == 3);
    for (size_t i = 0; i < count && i < 3; i++) {
        CHECK(out[i].len == 2 && memcmp(buf + out[i].offset, texts[i], 2) == 0);
        CHECK(out[i].lease.delivery == 1 && out[i].priority == 0);
    }
    pmq_lease leases[3] = {out[0].lease, out[1].lease, out[2].lease};
    /* One already acked: the other two are acked all the same. */
    CHECK_OK(pmq_queue_ack(q, &leases[1]));
    size_t acked = 99;
    CHECK_STATUS(pmq_queue_ack_batch(q, leases, 3, &acked), PMQ_STATUS_LEASE_LOST);
    CHECK(acked == 2);
    printf("  ack_batch with one lost: %s\n", pmq_last_error());
    CHECK_STATUS(pmq_queue_ack_batch(q, leases, 3, &acked), PMQ_STATUS_LEASE_LOST);
    CHECK(acked == 0);
    CHECK_OK(pmq_queue_ack_batch(q, NULL, 0, &acked));
    CHECK(acked == 0);
    /* max 0 leases nothing; the timed form with the rest. */
    CHECK_OK(pmq_queue_lease_batch_timeout(q, buf, sizeof buf, NULL, 0, &count, 0, 0));
    CHECK(count == 0);
    CHECK_OK(pmq_queue_lease_batch_timeout(q, buf, sizeof buf, out, 3, &count, 0, 1.0));
    CHECK(count == 2);
    if (count == 2) {
        CHECK(memcmp(buf + out[0].offset, "m3", 2) == 0);
        CHECK(memcmp(buf + out[1].offset, "m4", 2) == 0);
        pmq_lease rest[2] = {out[0].lease, out[1].lease};
        CHECK_OK(pmq_queue_ack_batch(q, rest, 2, &acked));
        CHECK(acked == 2);
    }
    CHECK_STATUS(pmq_queue_lease_batch_timeout(q, buf, sizeof buf, out, 3, &count, 0, 0),
                 PMQ_STATUS_WOULD_BLOCK);
    drop_queue(q);
}

static void capacity_and_stats(void) {
    pmq_queue *q = new_shm("ls-cap", 2, NULL);
    if (!q) return;
    uint64_t leased = 99;
    double age = -1;
    CHECK_OK(pmq_queue_lease_stats(q, &leased, &age));
    CHECK(leased == 0 && age == 0.0);
    send_text(q, "1", 0);
    send_text(q, "2", 0);
    pmq_lease l1 = lease_expect(q, "1", 0, 1);
    /* Leased messages count against the capacity. */
    CHECK_STATUS(pmq_queue_send_timeout(q, (const uint8_t *)"3", 1, 0, 0), PMQ_STATUS_WOULD_BLOCK);
    CHECK_OK(pmq_queue_lease_stats(q, &leased, &age));
    CHECK(leased == 1 && age >= 0.0 && age < 3600.0);
    pmq_lease l2 = lease_expect(q, "2", 0, 1);
    CHECK_OK(pmq_queue_lease_stats(q, &leased, &age));
    CHECK(leased == 2);
    CHECK_OK(pmq_queue_ack(q, &l1));
    send_text(q, "3", 0);
    CHECK_OK(pmq_queue_nack(q, &l2));
    CHECK_OK(pmq_queue_lease_stats(q, &leased, &age));
    CHECK(leased == 0 && age == 0.0);
    drop_queue(q);
}

static void visibility_expiry(void) {
    const char *name = NULL;
    pmq_queue *q = new_shm("ls-vis", 4, &name);
    if (!q) return;
    pmq_queue *other = open_shm(name);
    if (!other) {
        drop_queue(q);
        return;
    }
    send_text(q, "late", 2);
    uint8_t buf[SIZE];
    size_t n = 0;
    uint32_t p = 0;
    pmq_lease l;
    CHECK_OK(pmq_queue_lease_timeout(q, buf, sizeof buf, &n, &p, &l, 0.05, 0));
    CHECK(l.delivery == 1);
    /* Not acked in time: it comes back to the other handle (polled until it
     * does: the expiry is awaited, never assumed after a sleep). */
    pmq_lease again = {0, 0, 0};
    pmq_status st = PMQ_STATUS_WOULD_BLOCK;
    double start = mono_now();
    while (st == PMQ_STATUS_WOULD_BLOCK && mono_now() - start < 30.0) {
        st = pmq_queue_lease_timeout(other, buf, sizeof buf, &n, &p, &again, 0, 0);
        if (st == PMQ_STATUS_WOULD_BLOCK) sleep_ms(5);
    }
    CHECK_OK(st);
    CHECK(mono_now() - start >= 0.04);
    CHECK(again.seq == l.seq && again.delivery == 2 && n == 4 && p == 2);
    /* The late ack says the lease is lost; the new holder's ack works. */
    CHECK_STATUS(pmq_queue_ack(q, &l), PMQ_STATUS_LEASE_LOST);
    printf("  late ack: %s\n", pmq_last_error());
    CHECK_OK(pmq_queue_ack(other, &again));
    /* A lease with a long visibility timeout stays leased. */
    send_text(q, "kept", 0);
    CHECK_OK(pmq_queue_lease_timeout(q, buf, sizeof buf, &n, NULL, &l, 3600.0, 0));
    expect_empty(other);
    CHECK_OK(pmq_queue_ack(q, &l));
    pmq_queue_free(other);
    drop_queue(q);
}

/* A holder's end gives its leases back: a freed handle and a killed process. */
static void holder_end(void) {
    const char *name = NULL;
    pmq_queue *q = new_shm("ls-end", 4, &name);
    if (!q) return;
    send_text(q, "freed", 0);
    pmq_queue *h = open_shm(name);
    if (h) {
        uint8_t buf[SIZE];
        size_t n = 0;
        pmq_lease l;
        CHECK_OK(pmq_queue_lease_timeout(h, buf, sizeof buf, &n, NULL, &l, 0, 0));
        expect_empty(q);
        pmq_queue_free(h);
    }
    pmq_lease again = lease_expect(q, "freed", 0, 2);
    CHECK_OK(pmq_queue_ack(q, &again));

    send_text(q, "killed", 0);
    pid_t pid = fork();
    if (pid == 0) {
        pmq_queue *c = open_shm(name);
        uint8_t buf[SIZE];
        size_t n = 0;
        pmq_lease l;
        if (!c || pmq_queue_lease_timeout(c, buf, sizeof buf, &n, NULL, &l, 0, 0) != PMQ_STATUS_OK)
            _exit(3);
        raise(SIGKILL);
        _exit(4);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    uint8_t buf[SIZE];
    size_t n = 0;
    pmq_lease l = {0, 0, 0};
    CHECK_OK(pmq_queue_lease_timeout(q, buf, sizeof buf, &n, NULL, &l, 0, 5.0));
    CHECK(n == 6 && memcmp(buf, "killed", 6) == 0 && l.delivery == 2);
    CHECK_OK(pmq_queue_ack(q, &l));
    drop_queue(q);
}

static void dead_letters(void) {
    const char *name = test_queue_name("ls-dl");
    const char *dl_name = test_queue_name("ls-dlq");
    pmq_options o = shm_options(PMQ_O_CREX, 4);
    o.max_deliveries = 2;
    o.dead_letter = dl_name;
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    send_text(q, "poison", 4);
    send_text(q, "fine", 0);
    pmq_lease l = lease_expect(q, "poison", 4, 1);
    CHECK_OK(pmq_queue_nack(q, &l));
    l = lease_expect(q, "poison", 4, 2);
    CHECK_OK(pmq_queue_nack(q, &l));
    /* A third delivery would pass max_deliveries: it goes to the dead-letter
     * queue (created) and the next message is leased instead. */
    l = lease_expect(q, "fine", 0, 1);
    CHECK_OK(pmq_queue_ack(q, &l));
    CHECK(current_messages(q) == 0);
    pmq_queue *dl = open_shm(dl_name);
    if (dl) {
        uint8_t buf[SIZE];
        size_t n = 0;
        uint32_t p = 0;
        CHECK_OK(pmq_queue_receive_timeout(dl, buf, sizeof buf, &n, &p, 0));
        CHECK(n == 6 && memcmp(buf, "poison", 6) == 0 && p == 4);
        drop_queue(dl);
    }
    drop_queue(q);

    /* No dead-letter queue named: dropped. */
    o = shm_options(PMQ_O_CREX, 4);
    o.max_deliveries = 1;
    q = NULL;
    CHECK_OK(pmq_queue_open(test_queue_name("ls-drop"), &o, &q));
    if (!q) return;
    send_text(q, "once", 0);
    l = lease_expect(q, "once", 0, 1);
    CHECK_OK(pmq_queue_nack(q, &l));
    expect_empty(q);
    CHECK(current_messages(q) == 0);
    drop_queue(q);

    /* Bad dead-letter names are refused at open, with a detail. */
    o = shm_options(PMQ_O_CREX, 4);
    o.max_deliveries = 1;
    o.dead_letter = "/dl\xff";
    q = NULL;
    CHECK_STATUS(pmq_queue_open(test_queue_name("ls-bad"), &o, &q), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("dead_letter");
    CHECK(q == NULL);
    o.dead_letter = "no-slash";
    CHECK_STATUS(pmq_queue_open(test_queue_name("ls-bad"), &o, &q), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("dead-letter");
    CHECK(q == NULL);
}

static void instance_ids(void) {
    const char *name = NULL;
    pmq_queue *a = new_shm("ls-id", 2, &name);
    pmq_queue *b = new_shm("ls-id2", 2, NULL);
    if (!a || !b) {
        drop_queue(a);
        drop_queue(b);
        return;
    }
    uint64_t ia = 0, ia2 = 1, ib = 0;
    CHECK_OK(pmq_queue_instance_id(a, &ia));
    CHECK_OK(pmq_queue_instance_id(b, &ib));
    CHECK(ia != ib);
    pmq_queue *a2 = open_shm(name);
    if (a2) {
        CHECK_OK(pmq_queue_instance_id(a2, &ia2));
        CHECK(ia2 == ia);
        pmq_queue_free(a2);
    }
    /* The same name made again is another queue. */
    drop_queue(a);
    pmq_options o = shm_options(PMQ_O_CREX, 2);
    a = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &a));
    if (a) {
        CHECK_OK(pmq_queue_instance_id(a, &ia2));
        CHECK(ia2 != ia);
    }
    drop_queue(a);
    drop_queue(b);
}

static void bad_arguments(void) {
    const char *name = NULL;
    pmq_queue *q = new_shm("ls-args", 4, &name);
    if (!q) return;
    uint8_t buf[SIZE];
    size_t n = 0;
    uint32_t p = 0;
    pmq_lease l = {0, 0, 0};
    pmq_leased out[2];
    uint64_t u = 0;
    double age = 0;
    send_text(q, "z", 0);
    /* NULL handle, out-pointers, buffers. */
    CHECK_STATUS(pmq_queue_lease(NULL, buf, sizeof buf, &n, &p, &l, 0), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("handle is NULL");
    CHECK_STATUS(pmq_queue_lease_timeout(q, buf, sizeof buf, NULL, &p, &l, 0, 0),
                 PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("out_len");
    CHECK_STATUS(pmq_queue_lease_timeout(q, buf, sizeof buf, &n, &p, NULL, 0, 0),
                 PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("out_lease");
    CHECK_STATUS(pmq_queue_lease_timeout(q, NULL, sizeof buf, &n, &p, &l, 0, 0),
                 PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_lease_timeout(q, buf, SIZE_MAX, &n, &p, &l, 0, 0),
                 PMQ_STATUS_INVALID_ARGUMENT);
    n = 0;
    CHECK_STATUS(pmq_queue_lease_timeout(q, buf, 4, &n, &p, &l, 0, 0), PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK(n == SIZE);
    /* Bad visibility and timeouts. */
    double bad[4] = {NAN, -1.0, -INFINITY, 1e300};
    const char *why[4] = {"NaN", "negative", "negative", "too large"};
    for (int i = 0; i < 4; i++) {
        CHECK_STATUS(pmq_queue_lease_timeout(q, buf, sizeof buf, &n, &p, &l, bad[i], 0),
                     PMQ_STATUS_INVALID_ARGUMENT);
        CHECK_DETAIL(why[i]);
        CHECK_DETAIL("PMQ_FOREVER");
        /* Try-once: a wrongly accepted value must not make the test wait. */
        CHECK_STATUS(pmq_queue_lease_batch_timeout(q, buf, sizeof buf, out, 2, &n, bad[i], 0),
                     PMQ_STATUS_INVALID_ARGUMENT);
        CHECK_DETAIL("visibility_seconds");
    }
    CHECK_STATUS(pmq_queue_lease_timeout(q, buf, sizeof buf, &n, &p, &l, 0, NAN),
                 PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_lease_batch_timeout(q, buf, sizeof buf, out, 2, &n, 0, -1),
                 PMQ_STATUS_INVALID_ARGUMENT);
    /* Batch arguments. */
    CHECK_STATUS(pmq_queue_lease_batch(NULL, buf, sizeof buf, out, 2, &n, 0),
                 PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_lease_batch(q, buf, sizeof buf, out, 2, NULL, 0),
                 PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_lease_batch(q, buf, sizeof buf, NULL, 2, &n, 0),
                 PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("`out` is NULL");
    CHECK_STATUS(pmq_queue_lease_batch(q, buf, sizeof buf, out, SIZE_MAX, &n, 0),
                 PMQ_STATUS_INVALID_ARGUMENT);
    n = 0;
    CHECK_STATUS(pmq_queue_lease_batch(q, buf, 3, out, 2, &n, 0), PMQ_STATUS_BUFFER_TOO_SMALL);
    CHECK(n == SIZE);
    /* ack / nack / ack_batch / stats / instance id. */
    CHECK_STATUS(pmq_queue_ack(NULL, &l), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_ack(q, NULL), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("`lease` is NULL");
    CHECK_STATUS(pmq_queue_nack(NULL, &l), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_nack(q, NULL), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_ack_batch(NULL, &l, 1, &n), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_ack_batch(q, NULL, 1, &n), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("`leases` is NULL");
    CHECK_STATUS(pmq_queue_ack_batch(q, &l, SIZE_MAX, &n), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_ack_batch(q, &l, 1, NULL), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("out_acked");
    CHECK_STATUS(pmq_queue_lease_stats(NULL, &u, &age), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_lease_stats(q, NULL, &age), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_lease_stats(q, &u, NULL), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_instance_id(NULL, &u), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_instance_id(q, NULL), PMQ_STATUS_INVALID_ARGUMENT);
    /* None of the refusals leased anything. */
    CHECK_OK(pmq_queue_lease_stats(q, &u, &age));
    CHECK(u == 0);
    /* A handle opened without read cannot lease. */
    pmq_options wo = shm_options(0, 1);
    wo.read = false;
    pmq_queue *w = NULL;
    CHECK_OK(pmq_queue_open(name, &wo, &w));
    if (w) {
        CHECK_STATUS(pmq_queue_lease_timeout(w, buf, sizeof buf, &n, &p, &l, 0, 0),
                     PMQ_STATUS_PERMISSION);
        pmq_queue_free(w);
    }
    /* Closed handle: every call says so. */
    CHECK_OK(pmq_queue_lease_timeout(q, buf, sizeof buf, &n, &p, &l, 0, 0));
    CHECK_OK(pmq_queue_close(q));
    CHECK_STATUS(pmq_queue_lease_timeout(q, buf, sizeof buf, &n, &p, &l, 0, 0), PMQ_STATUS_CLOSED);
    CHECK_STATUS(pmq_queue_lease(q, buf, sizeof buf, &n, &p, &l, 0), PMQ_STATUS_CLOSED);
    CHECK_STATUS(pmq_queue_lease_batch(q, buf, sizeof buf, out, 2, &n, 0), PMQ_STATUS_CLOSED);
    CHECK_STATUS(pmq_queue_ack(q, &l), PMQ_STATUS_CLOSED);
    CHECK_STATUS(pmq_queue_nack(q, &l), PMQ_STATUS_CLOSED);
    n = 99;
    CHECK_STATUS(pmq_queue_ack_batch(q, &l, 1, &n), PMQ_STATUS_CLOSED);
    CHECK(n == 0);
    CHECK_STATUS(pmq_queue_lease_stats(q, &u, &age), PMQ_STATUS_CLOSED);
    CHECK_STATUS(pmq_queue_instance_id(q, &u), PMQ_STATUS_CLOSED);
    /* Closing the handle (not yet freed) gave its lease back. */
    pmq_queue *again = open_shm(name);
    if (again) {
        lease_expect(again, "z", 0, 2);
        drop_queue(again);
    }
    pmq_queue_free(q);
}

static void kernel_not_supported(void) {
    pmq_options o = test_options(PMQ_O_CREX, 2, SIZE);
    o.backend = PMQ_BACKEND_KERNEL;
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(test_queue_name("ls-kern"), &o, &q));
    if (!q) return;
    send_text(q, "k", 0);
    uint8_t buf[SIZE];
    size_t n = 0;
    pmq_lease l = {1, 0, 1};
    pmq_leased out[2];
    uint64_t u = 0;
    double age = 0;
    CHECK_STATUS(pmq_queue_lease_timeout(q, buf, sizeof buf, &n, NULL, &l, 0, 0),
                 PMQ_STATUS_NOT_SUPPORTED);
    CHECK_DETAIL("PMQ_BACKEND_SHM");
    CHECK_STATUS(pmq_queue_lease(q, buf, sizeof buf, &n, NULL, &l, 5.0), PMQ_STATUS_NOT_SUPPORTED);
    CHECK_STATUS(pmq_queue_lease_batch_timeout(q, buf, sizeof buf, out, 2, &n, 0, 0),
                 PMQ_STATUS_NOT_SUPPORTED);
    CHECK_STATUS(pmq_queue_ack(q, &l), PMQ_STATUS_NOT_SUPPORTED);
    CHECK_DETAIL("PMQ_BACKEND_SHM");
    CHECK_STATUS(pmq_queue_nack(q, &l), PMQ_STATUS_NOT_SUPPORTED);
    CHECK_STATUS(pmq_queue_ack_batch(q, &l, 1, &n), PMQ_STATUS_NOT_SUPPORTED);
    CHECK_STATUS(pmq_queue_lease_stats(q, &u, &age), PMQ_STATUS_NOT_SUPPORTED);
    CHECK_STATUS(pmq_queue_instance_id(q, &u), PMQ_STATUS_NOT_SUPPORTED);
    CHECK_DETAIL("PMQ_BACKEND_SHM");
    /* Nothing was taken. */
    CHECK(current_messages(q) == 1);
    drop_queue(q);
}

int main(void) {
    kernel_not_supported();
    lease_ack_nack_fifo();
    lease_lost();
    batches();
    capacity_and_stats();
    visibility_expiry();
    holder_end();
    dead_letters();
    instance_ids();
    bad_arguments();
    return check_done("test_lease");
}
