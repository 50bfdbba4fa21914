/* C shims between the Go package and libpmq (declarations only: this header
 * is included by a Go file that uses //export).
 *
 * Every shim makes ONE pmq call and, if it failed, copies that call's status,
 * errno and detail in the same C call (pmq_last_error_take). The detail is
 * thread-local in libpmq and a goroutine may move to another OS thread
 * between two cgo calls, so reading it in a second cgo call could return
 * another goroutine's detail. */
#ifndef GOPMQ_SHIM_H
#define GOPMQ_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include "pmq.h"

/* What a failed call left behind. `detail` is malloc'd (free() it) or NULL. */
typedef struct gopmq_err {
    int status;
    int err_no;
    size_t needed;
    size_t detail_len;
    char *detail;
} gopmq_err;

int gopmq_options_init(pmq_options *o, gopmq_err *e);
int gopmq_open(const char *name, const pmq_options *o, pmq_queue **out, gopmq_err *e);
int gopmq_close(const pmq_queue *q, gopmq_err *e);
void gopmq_free(pmq_queue *q);
/* The outcome of one send or receive attempt, returned BY VALUE: cgo moves
 * every Go variable whose address is passed to C to the heap, so the
 * out-parameters (length, priority, error) live on the C stack inside the
 * shim and come back in this struct. `err` is filled only when
 * status != PMQ_STATUS_OK. */
typedef struct gopmq_io {
    int status;
    uint32_t prio;
    size_t len;
    gopmq_err err;
} gopmq_io;

/* Try once (timeout 0): PMQ_STATUS_WOULD_BLOCK when the queue is full. */
gopmq_io gopmq_send(const pmq_queue *q, const uint8_t *msg, size_t len, uint32_t prio);
/* Try once (timeout 0): PMQ_STATUS_WOULD_BLOCK when the queue is empty;
 * on success .len and .prio are the message's length and priority. */
gopmq_io gopmq_receive(const pmq_queue *q, uint8_t *buf, size_t len);
/* A batch send, try once (timeout 0): message i is lens[i] bytes with
 * priority prios[i], at ptrs[i] (Go memory the Go side pinned) or, where
 * ptrs[i] is NULL, the next lens[i] bytes of `data` (those messages one after
 * another). The pmq_message array is built here, on the C stack (malloc'd
 * for large batches). On success .len is how many were sent. */
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
 * writes pmq_received entries (the same size) and they are widened in place.
 * On success .len is how many were taken. */
gopmq_io gopmq_receive_batch(const pmq_queue *q, uint8_t *buf, size_t len, gopmq_received *out,
                             size_t max);
int gopmq_attributes(const pmq_queue *q, pmq_attributes *out, gopmq_err *e);
int gopmq_fileno(const pmq_queue *q, int *out, gopmq_err *e);
int gopmq_dead_receipts(const pmq_queue *q, pmq_receipt *out, size_t cap, size_t *count, gopmq_err *e);
int gopmq_mode(const pmq_queue *q, uint32_t *out, gopmq_err *e);
int gopmq_describe(const pmq_queue *q, int style, char *buf, size_t len, size_t *needed, gopmq_err *e);
int gopmq_unlink(const pmq_queue *q, gopmq_err *e);
int gopmq_unlink_name(const char *name, gopmq_err *e);
int gopmq_unlink_backend(const char *name, uint32_t backend, gopmq_err *e);
int gopmq_backend(const pmq_queue *q, uint32_t *out, gopmq_err *e);
int gopmq_limits(pmq_limits *out, gopmq_err *e);
int gopmq_notify_signal(const pmq_queue *q, int signo, gopmq_err *e);
/* Registers the Go trampoline with `handle` (a runtime/cgo.Handle) as its param. */
int gopmq_notify_callback(const pmq_queue *q, uintptr_t handle, gopmq_err *e);
int gopmq_notify_cancel(const pmq_queue *q, gopmq_err *e);

/* Exported from Go (notify.go); called on libpmq's notification thread. */
extern void gopmqNotify(uintptr_t handle);

#endif
