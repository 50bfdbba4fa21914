/* C shims between the Go package and libpmq (declarations only: this header
 * is included by a Go file that uses //export).
 *
 * Only what cgo cannot do well by itself lives here: the send and receive
 * attempts return their outcome BY VALUE (cgo moves every Go variable whose
 * address is passed to C to the heap, so their out-parameters stay on the C
 * stack in here), the batch shims build and widen the C arrays, the
 * notification trampolines call back into Go, and gopmq_last_failure reads
 * a failure's detail (pmq_error_message). Every other libpmq function is called directly from
 * Go (cgo.go says how a failure's detail stays on the right thread). */
#ifndef GOPMQ_SHIM_H
#define GOPMQ_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include "pmq.h"

/* The outcome of one send or receive attempt. On PMQ_STATUS_OK, `len` is
 * the message's length (a receive), or how many messages were sent or
 * taken (a batch), and `prio` a received message's priority. `own` is 1
 * when the shim itself failed (out of memory for a batch's array): libpmq
 * recorded no detail then. */
typedef struct gopmq_io {
    int status;
    int own;
    uint32_t prio;
    size_t len;
} gopmq_io;

/* Try once (timeout 0): PMQ_STATUS_WOULD_BLOCK when the queue is full. */
gopmq_io gopmq_send(const pmq_queue *q, const uint8_t *msg, size_t len, uint32_t prio);
/* Try once (timeout 0): PMQ_STATUS_WOULD_BLOCK when the queue is empty. */
gopmq_io gopmq_receive(const pmq_queue *q, uint8_t *buf, size_t len);
/* A batch send, try once (timeout 0): message i is lens[i] bytes with
 * priority prios[i], at ptrs[i] (Go memory the Go side pinned) or, where
 * ptrs[i] is NULL, the next lens[i] bytes of `data` (those messages one after
 * another). The pmq_message array is built here, on the C stack (malloc'd
 * for large batches). */
gopmq_io gopmq_send_batch(const pmq_queue *q, const uint8_t *data, const size_t *lens,
                          const uint32_t *prios, void *const *ptrs, size_t count);
/* The Go package's Received{Offset, Len int; Priority uint}: size_t has the
 * width of Go's int and uint on every Linux target of cgo. */
typedef struct gopmq_received {
    size_t offset;
    size_t len;
    size_t priority;
} gopmq_received;
/* A batch receive, try once (timeout 0), into `out` (max entries): libpmq
 * writes pmq_received entries (the same size) and they are widened in place. */
gopmq_io gopmq_receive_batch(const pmq_queue *q, uint8_t *buf, size_t len, gopmq_received *out,
                             size_t max);

/* A lease attempt's outcome: `io` as for a receive, and the lease on OK. */
typedef struct gopmq_lease_io {
    gopmq_io io;
    pmq_lease lease;
} gopmq_lease_io;
/* Lease one message, try once (timeout 0); visibility as pmq_queue_lease's. */
gopmq_lease_io gopmq_lease(const pmq_queue *q, uint8_t *buf, size_t len, double visibility);
/* The Go package's Leased{Offset, Len int; Priority uint; Lease Lease}. */
typedef struct gopmq_leased {
    size_t offset;
    size_t len;
    size_t priority;
    pmq_lease lease;
} gopmq_leased;
/* A batch lease, try once, into `out` (max entries): libpmq writes
 * pmq_leased entries (the same size) and they are widened in place. */
gopmq_io gopmq_lease_batch(const pmq_queue *q, uint8_t *buf, size_t len, gopmq_leased *out,
                           size_t max, double visibility);
/* ack / nack of a lease passed by value (no Go pointer reaches C). */
int gopmq_ack(const pmq_queue *q, uint64_t seq, uint32_t slot, uint32_t delivery);
int gopmq_nack(const pmq_queue *q, uint64_t seq, uint32_t slot, uint32_t delivery);
/* ack_batch: `len` of the result is how many were acked (also on failure). */
gopmq_io gopmq_ack_batch(const pmq_queue *q, const pmq_lease *leases, size_t count);

/* What a failure left on the calling thread. */
typedef struct gopmq_failure {
    int err_no;        /* the errno behind it, or 0 */
    size_t needed;     /* for PMQ_STATUS_BUFFER_TOO_SMALL: the size needed */
    size_t detail_len; /* the detail's full length (without the NUL) */
    int has_detail;    /* 0: libpmq recorded no detail for this status */
} gopmq_failure;
/* Reads the detail of the failure `status` that the last pmq call on this
 * OS thread returned into buf (NUL-terminated, cut to len - 1 bytes: call
 * again with detail_len + 1 bytes for all of it), with its errno and needed
 * size. Call it on the thread that made the failing call. */
gopmq_failure gopmq_last_failure(int status, char *buf, size_t len);

/* Registers the Go trampoline with `handle` (a runtime/cgo.Handle) as its
 * param; libpmq hands it to gopmqNotifyDrop exactly once when the
 * registration can no longer fire (not when this call fails). */
int gopmq_notify_callback(const pmq_queue *q, uintptr_t handle);

/* Exported from Go (notify.go): a delivery, on libpmq's delivery thread; the
 * end of a registration (see pmq_queue_notify_callback in pmq.h for where). */
extern void gopmqNotify(uintptr_t handle);
extern void gopmqNotifyDrop(uintptr_t handle);

#endif
