/* See shim.h. Also compiled on its own with -Wall -Wextra -Werror -pedantic
 * by `make test-go`. */
#include "shim.h"

#include <stdlib.h>
#include <string.h>

gopmq_io gopmq_send(const pmq_queue *q, const uint8_t *msg, size_t len, uint32_t prio) {
    gopmq_io r;
    memset(&r, 0, sizeof r);
    r.status = pmq_queue_send_timeout(q, msg, len, prio, 0.0);
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
            r.own = 1;
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

gopmq_lease_io gopmq_lease(const pmq_queue *q, uint8_t *buf, size_t len, double visibility) {
    gopmq_lease_io r;
    memset(&r, 0, sizeof r);
    size_t n = 0;
    uint32_t prio = 0;
    r.io.status = pmq_queue_lease_timeout(q, buf, len, &n, &prio, &r.lease, visibility, 0.0);
    r.io.len = n;
    r.io.prio = prio;
    return r;
}

_Static_assert(sizeof(pmq_leased) == sizeof(gopmq_leased),
               "gopmq_lease_batch widens pmq_leased in place");

gopmq_io gopmq_lease_batch(const pmq_queue *q, uint8_t *buf, size_t len, gopmq_leased *out,
                           size_t max, double visibility) {
    gopmq_io r;
    memset(&r, 0, sizeof r);
    size_t n = 0;
    r.status = pmq_queue_lease_batch_timeout(q, buf, len, (pmq_leased *)(void *)out, max, &n,
                                             visibility, 0.0);
    if (r.status != PMQ_STATUS_OK) {
        return r;
    }
    /* As gopmq_receive_batch: each entry read whole, then written back wide. */
    for (size_t i = 0; i < n; i++) {
        pmq_leased p;
        memcpy(&p, (const unsigned char *)out + i * sizeof p, sizeof p);
        gopmq_leased g = {p.offset, p.len, p.priority, p.lease};
        memcpy(&out[i], &g, sizeof g);
    }
    r.len = n;
    return r;
}

int gopmq_ack(const pmq_queue *q, uint64_t seq, uint32_t slot, uint32_t delivery) {
    pmq_lease l = {seq, slot, delivery};
    return pmq_queue_ack(q, &l);
}

int gopmq_nack(const pmq_queue *q, uint64_t seq, uint32_t slot, uint32_t delivery) {
    pmq_lease l = {seq, slot, delivery};
    return pmq_queue_nack(q, &l);
}

gopmq_io gopmq_ack_batch(const pmq_queue *q, const pmq_lease *leases, size_t count) {
    gopmq_io r;
    memset(&r, 0, sizeof r);
    size_t acked = 0;
    r.status = pmq_queue_ack_batch(q, leases, count, &acked);
    r.len = acked;
    return r;
}

gopmq_failure gopmq_last_failure(int status, char *buf, size_t len) {
    gopmq_failure f;
    memset(&f, 0, sizeof f);
    if (len > 0) {
        buf[0] = '\0';
    }
    /* A failure libpmq recorded is the thread's last one; anything else
     * (none recorded) must not pick up an older failure's detail. */
    if (pmq_last_error_status() != status) {
        return f;
    }
    f.has_detail = 1;
    f.err_no = pmq_last_error_errno();
    f.needed = pmq_last_error_needed();
    size_t n = 0;
    /* PMQ_STATUS_BUFFER_TOO_SMALL: cut to fit (n is the full length). */
    if (pmq_error_message(buf, len, &n) == PMQ_STATUS_INVALID_ARGUMENT) {
        f.has_detail = 0;
    }
    f.detail_len = n;
    return f;
}

static void trampoline(void *param) { gopmqNotify((uintptr_t)param); }
static void drop(void *param) { gopmqNotifyDrop((uintptr_t)param); }

int gopmq_notify_callback(const pmq_queue *q, uintptr_t handle) {
    return pmq_queue_notify_callback(q, trampoline, (void *)handle, drop);
}
