/* See shim.h. Also compiled on its own with -Wall -Wextra -Werror -pedantic
 * by `make test-go`. */
#include "shim.h"

#include <stdlib.h>
#include <string.h>

/* Called right after a pmq call returned `st`, on the same thread. */
static int capture(int st, gopmq_err *e) {
    if (st == PMQ_STATUS_OK) {
        return st;
    }
    char small[256];
    size_t n = 0;
    int last = pmq_last_error_take(small, sizeof small, &n);
    e->status = st;
    e->err_no = last == st ? pmq_last_error_errno() : 0;
    e->needed = last == st ? pmq_last_error_needed() : 0;
    e->detail_len = 0;
    e->detail = NULL;
    if (last != st) {
        return st; /* no detail recorded for this failure */
    }
    e->detail = malloc(n + 1);
    if (e->detail == NULL) {
        return st;
    }
    if (n < sizeof small) {
        memcpy(e->detail, small, n + 1);
    } else {
        pmq_last_error_copy(e->detail, n + 1);
    }
    e->detail_len = n;
    return st;
}

int gopmq_options_init(pmq_options *o, gopmq_err *e) { return capture(pmq_options_init(o), e); }

int gopmq_open(const char *name, const pmq_options *o, pmq_queue **out, gopmq_err *e) {
    return capture(pmq_queue_open(name, o, out), e);
}

int gopmq_close(const pmq_queue *q, gopmq_err *e) { return capture(pmq_queue_close(q), e); }

void gopmq_free(pmq_queue *q) { pmq_queue_free(q); }

gopmq_io gopmq_send(const pmq_queue *q, const uint8_t *msg, size_t len, uint32_t prio) {
    gopmq_io r;
    memset(&r, 0, sizeof r);
    r.status = pmq_queue_send_timeout(q, msg, len, prio, 0.0);
    if (r.status != PMQ_STATUS_OK) {
        capture(r.status, &r.err);
    }
    return r;
}

gopmq_io gopmq_receive(const pmq_queue *q, uint8_t *buf, size_t len) {
    gopmq_io r;
    memset(&r, 0, sizeof r);
    size_t n = 0;
    uint32_t prio = 0;
    r.status = pmq_queue_receive_timeout(q, buf, len, &n, &prio, 0.0);
    r.len = n;
    r.prio = prio;
    if (r.status != PMQ_STATUS_OK) {
        capture(r.status, &r.err);
    }
    return r;
}

/* Batches of up to this many messages build their pmq_message array on the stack. */
#define GOPMQ_STACK_BATCH 64

gopmq_io gopmq_send_batch(const pmq_queue *q, const uint8_t *data, const size_t *lens,
                          const uint32_t *prios, void *const *ptrs, size_t count) {
    gopmq_io r;
    memset(&r, 0, sizeof r);
    pmq_message stack[GOPMQ_STACK_BATCH];
    pmq_message *m = stack;
    if (count > GOPMQ_STACK_BATCH) {
        m = count > SIZE_MAX / sizeof *m ? NULL : malloc(count * sizeof *m);
        if (m == NULL) {
            r.status = PMQ_STATUS_OUT_OF_MEMORY;
            r.err.status = r.status;
            return r;
        }
    }
    size_t off = 0;
    for (size_t i = 0; i < count; i++) {
        if (ptrs[i] != NULL) {
            m[i].data = ptrs[i];
        } else {
            m[i].data = lens[i] != 0 ? data + off : NULL;
            off += lens[i];
        }
        m[i].len = lens[i];
        m[i].priority = prios[i];
    }
    size_t sent = 0;
    r.status = pmq_queue_send_batch_timeout(q, m, count, &sent, 0.0);
    if (r.status != PMQ_STATUS_OK) {
        capture(r.status, &r.err);
    }
    r.len = sent;
    if (m != stack) {
        free(m);
    }
    return r;
}

_Static_assert(sizeof(pmq_received) == sizeof(gopmq_received),
               "gopmq_receive_batch widens pmq_received in place");

gopmq_io gopmq_receive_batch(const pmq_queue *q, uint8_t *buf, size_t len, gopmq_received *out,
                             size_t max) {
    gopmq_io r;
    memset(&r, 0, sizeof r);
    size_t n = 0;
    r.status = pmq_queue_receive_batch_timeout(q, buf, len, (pmq_received *)(void *)out, max, &n, 0.0);
    if (r.status != PMQ_STATUS_OK) {
        capture(r.status, &r.err);
        return r;
    }
    /* Entry i of both types starts at the same byte: read it whole as a
     * pmq_received, then write it back as a gopmq_received. */
    for (size_t i = 0; i < n; i++) {
        pmq_received p;
        memcpy(&p, (const unsigned char *)out + i * sizeof p, sizeof p);
        gopmq_received g = {p.offset, p.len, p.priority};
        memcpy(&out[i], &g, sizeof g);
    }
    r.len = n;
    return r;
}

int gopmq_attributes(const pmq_queue *q, pmq_attributes *out, gopmq_err *e) {
    return capture(pmq_queue_get_attributes(q, out), e);
}

int gopmq_fileno(const pmq_queue *q, int *out, gopmq_err *e) { return capture(pmq_queue_fileno(q, out), e); }

int gopmq_dead_receipts(const pmq_queue *q, pmq_receipt *out, size_t cap, size_t *count, gopmq_err *e) {
    return capture(pmq_queue_dead_receipts(q, out, cap, count), e);
}

int gopmq_mode(const pmq_queue *q, uint32_t *out, gopmq_err *e) { return capture(pmq_queue_mode(q, out), e); }

int gopmq_describe(const pmq_queue *q, int style, char *buf, size_t len, size_t *needed, gopmq_err *e) {
    return capture(pmq_queue_describe(q, style, buf, len, needed), e);
}

int gopmq_unlink(const pmq_queue *q, gopmq_err *e) { return capture(pmq_queue_unlink(q), e); }

int gopmq_unlink_name(const char *name, gopmq_err *e) { return capture(pmq_unlink(name), e); }
int gopmq_unlink_backend(const char *name, uint32_t backend, gopmq_err *e) { return capture(pmq_unlink_backend(name, backend), e); }
int gopmq_backend(const pmq_queue *q, uint32_t *out, gopmq_err *e) { return capture(pmq_queue_backend(q, out), e); }

int gopmq_limits(pmq_limits *out, gopmq_err *e) { return capture(pmq_limits_get(out), e); }

int gopmq_notify_signal(const pmq_queue *q, int signo, gopmq_err *e) {
    return capture(pmq_queue_notify_signal(q, signo), e);
}

static void trampoline(void *param) { gopmqNotify((uintptr_t)param); }

int gopmq_notify_callback(const pmq_queue *q, uintptr_t handle, gopmq_err *e) {
    return capture(pmq_queue_notify_callback(q, trampoline, (void *)handle, NULL), e);
}

int gopmq_notify_cancel(const pmq_queue *q, gopmq_err *e) { return capture(pmq_queue_notify_cancel(q), e); }
