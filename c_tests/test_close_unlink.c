/* Close (every later call says CLOSED, never crashes;
 * free is a separate step), close while another thread waits on the
 * handle, unlink through a handle and by name. */
#include <fcntl.h>

#include "util.h"

static void every_call_after_close(void) {
    const char *name = test_queue_name("closed");
    pmq_options o = test_options(PMQ_O_CREX, 2, 16);
    o.mode = 0640;
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"kept", 4, 0));
    bool closed = true;
    CHECK_OK(pmq_queue_is_closed(q, &closed));
    CHECK(!closed);
    CHECK_OK(pmq_queue_close(q));
    CHECK_OK(pmq_queue_is_closed(q, &closed));
    CHECK(closed);

    uint8_t buf[16];
    size_t n = 0;
    uint32_t p = 0;
    bool b = false;
    int64_t v = 0;
    int fd = -1;
    pmq_attributes a;
#define CLOSED_CALL(expr)                                                      \
    do {                                                                       \
        CHECK_STATUS(expr, PMQ_STATUS_CLOSED);                                 \
        CHECK_DETAIL("closed");                                                \
    } while (0)
    CLOSED_CALL(pmq_queue_send(q, (const uint8_t *)"x", 1, 0));
    CLOSED_CALL(pmq_queue_send(q, NULL, 0, 0));
    CLOSED_CALL(pmq_queue_send_timeout(q, (const uint8_t *)"x", 1, 0, 0));
    CLOSED_CALL(pmq_queue_send_timeout(q, (const uint8_t *)"x", 1, 0, 1.0));
    CLOSED_CALL(pmq_queue_receive(q, buf, sizeof buf, &n, &p));
    CLOSED_CALL(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, &p, 0));
    CLOSED_CALL(pmq_queue_receive_timeout(q, buf, sizeof buf, &n, NULL, 1.0));
    CLOSED_CALL(pmq_queue_get_block(q, &b));
    CLOSED_CALL(pmq_queue_set_block(q, false));
    CLOSED_CALL(pmq_queue_set_block(q, true));
    CLOSED_CALL(pmq_queue_get_attributes(q, &a));
    CLOSED_CALL(pmq_queue_current_messages(q, &v));
    CLOSED_CALL(pmq_queue_fileno(q, &fd));
    CLOSED_CALL(pmq_queue_close(q));
    CLOSED_CALL(pmq_queue_close(q));
#undef CLOSED_CALL
    CHECK(fd == -1 && n == 0);

    /* These keep working on a closed handle. */
    CHECK(strcmp(pmq_queue_name(q), name) == 0);
    uint32_t m = 0;
    CHECK_OK(pmq_queue_mode(q, &m));
    CHECK(m == 0640);
    bool r = false, w = false;
    CHECK_OK(pmq_queue_access(q, &r, &w));
    CHECK(r && w);
    /* What was fixed at open, as in the Rust, Go and Python APIs. */
    CHECK_OK(pmq_queue_max_messages(q, &v));
    CHECK(v > 0);
    int64_t size = 0;
    CHECK_OK(pmq_queue_max_message_size(q, &size));
    CHECK(size > 0);
    char text[256];
    CHECK_OK(pmq_queue_describe(q, PMQ_DESCRIBE_SHORT, text, sizeof text, NULL));
    CHECK(strstr(text, "closed") != NULL);
    /* The queue itself is untouched by closing one handle. */
    pmq_queue *other = open_existing(name, true, true);
    if (other) {
        CHECK(current_messages(other) == 1);
        CHECK_OK(pmq_queue_receive(other, buf, sizeof buf, &n, NULL));
        CHECK(n == 4 && memcmp(buf, "kept", 4) == 0);
        pmq_queue_free(other);
    }
    CHECK_OK(pmq_queue_unlink(q));
    CHECK_STATUS(pmq_queue_unlink(q), PMQ_STATUS_NOT_FOUND);
    pmq_queue_free(q);

    /* Free without close closes; free(NULL) does nothing. */
    pmq_queue *q2 = new_queue("free", 1, 16);
    if (q2) {
        int fd2 = -1;
        CHECK_OK(pmq_queue_fileno(q2, &fd2));
        CHECK_OK(pmq_queue_unlink(q2));
        pmq_queue_free(q2);
        CHECK(fd2 >= 0 && fcntl(fd2, F_GETFD) == -1 && errno == EBADF);
    }
    pmq_queue_free(NULL);
    CHECK_STATUS(pmq_queue_close(NULL), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_is_closed(NULL, &closed), PMQ_STATUS_INVALID_ARGUMENT);
}

struct waiter {
    pmq_queue *q;
    pid_t tid;
    volatile int started;
    int status;
    uint8_t buf[16];
    size_t n;
    uint32_t prio;
    double timeout; /* < 0: wait forever */
};

static void *wait_receive(void *arg) {
    struct waiter *w = arg;
    w->tid = thread_id();
    __atomic_store_n(&w->started, 1, __ATOMIC_SEQ_CST);
    if (w->timeout < 0)
        w->status = pmq_queue_receive(w->q, w->buf, sizeof w->buf, &w->n, &w->prio);
    else
        w->status = pmq_queue_receive_timeout(w->q, w->buf, sizeof w->buf, &w->n, &w->prio,
                                              w->timeout);
    return NULL;
}

/* One thread waits in receive; another closes the handle: the wait ends at
 * once with PMQ_STATUS_CLOSED (the handle's descriptor stays open until that
 * call has returned, then it is closed), and a message sent afterwards
 * through another handle stays in the queue: the closed handle took nothing. */
static void close_while_waiting(double timeout) {
    pmq_queue *q = new_queue("close-wait", 2, 16);
    if (!q) return;
    int fd = -1;
    CHECK_OK(pmq_queue_fileno(q, &fd));
    struct waiter w = {q, 0, 0, -1, {0}, 0, 0, timeout};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, wait_receive, &w) == 0);
    while (!__atomic_load_n(&w.started, __ATOMIC_SEQ_CST)) sleep_ms(1);
    CHECK(wait_blocked_in(w.tid, wait_syscall(0, timeout)));
    double t0 = mono_now();
    CHECK_OK(pmq_queue_close(q));
    bool closed = false;
    CHECK_OK(pmq_queue_is_closed(q, &closed));
    CHECK(closed);
    int64_t v;
    CHECK_STATUS(pmq_queue_current_messages(q, &v), PMQ_STATUS_CLOSED);
    pthread_join(t, NULL);
    CHECK(mono_now() - t0 < 2.0);
    CHECK_STATUS(w.status, PMQ_STATUS_CLOSED);
    CHECK(w.n == 0);
    /* The waiting call has returned: now the descriptor is gone. */
    CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF);

    pmq_queue *sender = open_existing(pmq_queue_name(q), false, true);
    if (sender) {
        CHECK_OK(pmq_queue_send(sender, (const uint8_t *)"kept", 4, 6));
        CHECK(current_messages(sender) == 1);
    }
    pmq_queue_free(sender);
    drop_queue(q);
}

static void unlink_paths(void) {
    const char *name = test_queue_name("unlink");
    pmq_options o = test_options(PMQ_O_CREX, 3, 16);
    pmq_queue *q = NULL;
    CHECK_OK(pmq_queue_open(name, &o, &q));
    if (!q) return;
    pmq_queue *q2 = open_existing(name, true, true);
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"old", 3, 0));

    /* Unlink through the handle; the name is gone. */
    CHECK_OK(pmq_queue_unlink(q));
    CHECK_STATUS(test_unlink(name), PMQ_STATUS_NOT_FOUND);
    CHECK_DETAIL("does not exist");
    CHECK(pmq_last_error_errno() == ENOENT);
    pmq_queue *none = NULL;
    CHECK_STATUS(pmq_queue_open(name, NULL, &none), PMQ_STATUS_NOT_FOUND);

    /* Handles open before the unlink keep working, and share the old queue. */
    uint8_t buf[16];
    size_t n = 0;
    CHECK_OK(pmq_queue_send(q, (const uint8_t *)"old2", 4, 0));
    if (q2) {
        CHECK(current_messages(q2) == 2);
        CHECK_OK(pmq_queue_receive(q2, buf, sizeof buf, &n, NULL));
        CHECK(n == 3 && memcmp(buf, "old", 3) == 0);
    }

    /* A new open with the same name makes a new, empty queue. */
    pmq_options o2 = test_options(PMQ_O_CREAT, 5, 32);
    pmq_queue *fresh = NULL;
    CHECK_OK(pmq_queue_open(name, &o2, &fresh));
    if (fresh) {
        CHECK(current_messages(fresh) == 0);
        int64_t v = 0;
        CHECK_OK(pmq_queue_max_messages(fresh, &v));
        CHECK(v == 5);
        CHECK_OK(pmq_queue_send(fresh, (const uint8_t *)"new", 3, 0));
        CHECK(current_messages(q) == 1); /* the old queue still holds "old2" */
        CHECK(current_messages(fresh) == 1);
        CHECK_OK(pmq_queue_receive(q, buf, sizeof buf, &n, NULL));
        CHECK(n == 4 && memcmp(buf, "old2", 4) == 0);
        uint8_t big[32];
        CHECK_OK(pmq_queue_receive(fresh, big, sizeof big, &n, NULL));
        CHECK(n == 3 && memcmp(big, "new", 3) == 0);
        /* Unlink by name. */
        CHECK_OK(test_unlink(name));
        CHECK_STATUS(test_unlink(name), PMQ_STATUS_NOT_FOUND);
        pmq_queue_free(fresh);
    }
    pmq_queue_free(q2);
    pmq_queue_free(q);

    CHECK_STATUS(pmq_unlink(NULL), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_DETAIL("NULL");
    CHECK_STATUS(pmq_unlink("no-slash"), PMQ_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pmq_queue_unlink(NULL), PMQ_STATUS_INVALID_ARGUMENT);
}

int main(void) {
    every_call_after_close();
    close_while_waiting(-1);
    close_while_waiting(10.0);
    unlink_paths();
    return check_done("test_close_unlink");
}
