package pmq

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"
	"unsafe"
)

// At-least-once receive (BackendShm only): Lease hands a message out but
// keeps it in the queue, invisible to other receivers, until Ack removes it
// or Nack gives it back. If the Queue is closed, or its process dies
// (SIGKILL included), first, the message goes back at its place (ahead of
// the later messages of its priority). On BackendKernel every lease call
// returns an error matching ErrNotSupported.

// Lease is a lease on one message, from Lease, LeaseTimeout, LeaseContext or
// LeaseBatch: pass it to Ack or Nack. Treat it as a value (copy it, never
// make one up).
type Lease struct {
	// Seq is the message's sequence number: unique among the messages ever
	// sent to this queue, the same on every delivery of the message (with
	// InstanceID it names the message: a de-duplication id).
	Seq uint64
	// Slot is where the message lies in the queue (checked by Ack and Nack).
	Slot uint32
	// Delivery is which delivery of the message this is: 1 the first time it
	// is handed out, 2 after it came back once (Nack, expiry, holder's end).
	Delivery uint32
}

// Leased says where LeaseBatch put one message: buf[Offset:Offset+Len],
// with its priority and its lease.
type Leased struct {
	Offset, Len int
	Priority    uint
	Lease       Lease
}

// LeaseStats are a queue's leases at one moment (LeaseStats).
type LeaseStats struct {
	// Leased is how many messages are handed out and not yet acked or given
	// back (they count against the capacity).
	Leased uint64
	// OldestAge is how long ago the oldest of them was handed out (0: none).
	OldestAge time.Duration
}

// Lease is libpmq's pmq_lease and Leased the shim's gopmq_leased: the same
// layouts (a mismatch does not compile: a constant uintptr cannot be
// negative). AckBatch passes a []Lease to C in place.
const (
	_ = unsafe.Sizeof(Lease{}) - unsafe.Sizeof(C.pmq_lease{})
	_ = unsafe.Sizeof(C.pmq_lease{}) - unsafe.Sizeof(Lease{})
	_ = unsafe.Offsetof(Lease{}.Slot) - unsafe.Offsetof(C.pmq_lease{}.slot)
	_ = unsafe.Offsetof(C.pmq_lease{}.slot) - unsafe.Offsetof(Lease{}.Slot)
	_ = unsafe.Offsetof(Lease{}.Delivery) - unsafe.Offsetof(C.pmq_lease{}.delivery)
	_ = unsafe.Offsetof(C.pmq_lease{}.delivery) - unsafe.Offsetof(Lease{}.Delivery)
	_ = unsafe.Sizeof(Leased{}) - unsafe.Sizeof(C.gopmq_leased{})
	_ = unsafe.Sizeof(C.gopmq_leased{}) - unsafe.Sizeof(Leased{})
	_ = unsafe.Offsetof(Leased{}.Len) - unsafe.Offsetof(C.gopmq_leased{}.len)
	_ = unsafe.Offsetof(C.gopmq_leased{}.len) - unsafe.Offsetof(Leased{}.Len)
	_ = unsafe.Offsetof(Leased{}.Priority) - unsafe.Offsetof(C.gopmq_leased{}.priority)
	_ = unsafe.Offsetof(C.gopmq_leased{}.priority) - unsafe.Offsetof(Leased{}.Priority)
	_ = unsafe.Offsetof(Leased{}.Lease) - unsafe.Offsetof(C.gopmq_leased{}.lease)
	_ = unsafe.Offsetof(C.gopmq_leased{}.lease) - unsafe.Offsetof(Leased{}.Lease)
)

// WithMaxDeliveries (leases) hands a message out at most n times from this
// Queue (0, the default: no limit). A lease that would deliver it once more
// moves it to the WithDeadLetter queue instead (or drops it when none is
// named) and leases the next one, so a message that makes its consumer fail
// cannot come back forever.
func WithMaxDeliveries(n uint32) Option {
	return func(o *C.pmq_options) { o.max_deliveries = C.uint32_t(n) }
}

// nulDeadLetter marks a WithDeadLetter name with a NUL byte (an Option
// cannot return an error): open refuses it with ErrInvalid.
var nulDeadLetter = C.CString("")

// WithDeadLetter names the queue ("/name", same backend, created with this
// queue's shape if missing) that receives the messages WithMaxDeliveries
// stops handing out. Without it they are dropped.
func WithDeadLetter(name string) Option {
	return func(o *C.pmq_options) {
		freeDeadLetter(o)
		if strings.IndexByte(name, 0) >= 0 {
			o.dead_letter = nulDeadLetter
			return
		}
		o.dead_letter = C.CString(name)
	}
}

// freeDeadLetter frees the C copy of a WithDeadLetter name (open calls it
// once the options were used).
func freeDeadLetter(o *C.pmq_options) {
	if o.dead_letter != nil && o.dead_letter != nulDeadLetter {
		C.free(unsafe.Pointer(o.dead_letter))
	}
	o.dead_letter = nil
}

// visibilityIn converts a visibility timeout for C: 0 or Forever is none;
// negative is ErrInvalid.
func (q *Queue) visibilityIn(op string, v time.Duration) (float64, error) {
	switch {
	case v < 0:
		return 0, goError(op, q.name, StatusInvalidArgument, fmt.Sprintf(
			"visibility %v is negative; use 0 (or pmq.Forever) for a lease without a visibility "+
				"timeout, or a positive duration after which an unacked message goes back", v))
	case v == 0 || v == Forever:
		return 0, nil
	}
	return v.Seconds(), nil
}

// leaseOnce makes one non-blocking lease attempt (see sendOnce), writing the
// lease to *out on success.
func (q *Queue) leaseOnce(buf []byte, vis float64, retry bool, out *Lease) result {
	if !q.enter() {
		return result{}
	}
	p := (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(buf)))
	if len(buf) == 0 {
		p = nil
	}
	runtime.LockOSThread()
	r := C.gopmq_lease(q.h, p, C.size_t(len(buf)), C.double(vis))
	res := q.settle("lease", r.io, retry)
	runtime.UnlockOSThread()
	q.leave()
	if res.ok() {
		*out = Lease{Seq: uint64(r.lease.seq), Slot: uint32(r.lease.slot), Delivery: uint32(r.lease.delivery)}
	}
	return res
}

// leaseBatchOnce makes one non-blocking batch lease attempt.
func (q *Queue) leaseBatchOnce(buf []byte, out []Leased, vis float64, retry bool) result {
	if !q.enter() {
		return result{}
	}
	var p *C.uint8_t
	var o *C.gopmq_leased
	if len(buf) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(buf)))
	}
	if len(out) > 0 {
		o = (*C.gopmq_leased)(unsafe.Pointer(unsafe.SliceData(out)))
	}
	runtime.LockOSThread()
	res := q.settle("lease batch", C.gopmq_lease_batch(q.h, p, C.size_t(len(buf)), o, C.size_t(len(out)), C.double(vis)), retry)
	runtime.UnlockOSThread()
	q.leave()
	return res
}

func (q *Queue) lease(ctx context.Context, d time.Duration, tryOnce bool, buf []byte,
	visibility time.Duration) (int, uint, Lease, error) {
	var l Lease
	vis, err := q.visibilityIn("lease", visibility)
	if err != nil {
		return 0, 0, l, err
	}
	a := &attempt{q: q, lease: true, vis: vis, buf: buf}
	a.res = q.leaseOnce(buf, vis, !tryOnce && q.blocking.Load(), &a.leased)
	n, prio, err := q.wait(ctx, d, a)
	if err != nil {
		return 0, 0, l, err
	}
	return n, prio, a.leased, nil
}

// Lease receives the oldest message of the highest priority into buf under
// a lease and returns its length, priority and lease, waiting as Receive
// does. The message stays in the queue, invisible to other receivers, until
// Ack removes it or Nack gives it back; if the Queue is closed or its
// process dies first, it goes back at its place.
//
// visibility: 0 (or Forever) for a lease that lasts until then; a positive
// duration makes the message go back also when that much time passed
// without an Ack (a hung holder), and a later Ack returns ErrLeaseLost.
// Leased messages count against the capacity. buf must hold at least
// MaxMessageSize bytes (ErrBufferTooSmall otherwise, nothing leased).
// ErrNotSupported on BackendKernel.
func (q *Queue) Lease(buf []byte, visibility time.Duration) (n int, prio uint, l Lease, err error) {
	return q.lease(nil, 0, false, buf, visibility)
}

// LeaseTimeout is Lease waiting at most d: 0 tries once (ErrWouldBlock if
// nothing is there), a positive d returns ErrTimeout after it, Forever waits
// like Lease, a negative d is ErrInvalid.
func (q *Queue) LeaseTimeout(buf []byte, visibility, d time.Duration) (n int, prio uint, l Lease, err error) {
	if d < 0 {
		return 0, 0, Lease{}, q.negativeTimeout("lease", d)
	}
	return q.lease(nil, d, d == 0, buf, visibility)
}

// LeaseContext is Lease that stops waiting when ctx ends, returning
// ctx.Err(). Nothing is leased then.
func (q *Queue) LeaseContext(ctx context.Context, buf []byte, visibility time.Duration) (n int, prio uint, l Lease, err error) {
	return q.lease(ctx, 0, false, buf, visibility)
}

func (q *Queue) leaseBatch(ctx context.Context, d time.Duration, tryOnce bool, buf []byte,
	out []Leased, visibility time.Duration) (int, error) {
	vis, err := q.visibilityIn("lease batch", visibility)
	if err != nil {
		return 0, err
	}
	a := &attempt{q: q, lease: true, batch: true, vis: vis, buf: buf, leasedOut: out}
	a.res = q.leaseBatchOnce(buf, out, vis, !tryOnce && q.blocking.Load())
	n, _, err := q.wait(ctx, d, a)
	return n, err
}

// LeaseBatch leases several messages in one cgo call, as ReceiveBatch
// receives them (waits for the first, then takes as many more as are there
// now, up to len(out) and while the next fits in buf); message i is
// buf[out[i].Offset:][:out[i].Len] under out[i].Lease, each lease as Lease
// describes. Ack them together with AckBatch.
func (q *Queue) LeaseBatch(buf []byte, out []Leased, visibility time.Duration) (int, error) {
	return q.leaseBatch(nil, 0, false, buf, out, visibility)
}

// LeaseBatchTimeout is LeaseBatch waiting at most d for the first message
// (0 tries once, Forever waits, negative is ErrInvalid).
func (q *Queue) LeaseBatchTimeout(buf []byte, out []Leased, visibility, d time.Duration) (int, error) {
	if d < 0 {
		return 0, q.negativeTimeout("lease batch", d)
	}
	return q.leaseBatch(nil, d, d == 0, buf, out, visibility)
}

// LeaseBatchContext is LeaseBatch that stops waiting when ctx ends.
func (q *Queue) LeaseBatchContext(ctx context.Context, buf []byte, out []Leased, visibility time.Duration) (int, error) {
	return q.leaseBatch(ctx, 0, false, buf, out, visibility)
}

func (q *Queue) leaseCall(op string, l Lease, f func(*C.pmq_queue, C.uint64_t, C.uint32_t, C.uint32_t) C.int) error {
	if !q.enter() {
		return q.closedError(op)
	}
	defer q.leave()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if st := f(q.h, C.uint64_t(l.Seq), C.uint32_t(l.Slot), C.uint32_t(l.Delivery)); st != C.PMQ_STATUS_OK {
		return lastFailure(op, q.name, st)
	}
	return nil
}

// Ack removes a leased message for good. An error matching ErrLeaseLost
// (nothing changed) when the lease is no longer this Queue's: acked or
// nacked already, its visibility timeout passed, or never this Queue's; the
// detail says which.
func (q *Queue) Ack(l Lease) error {
	return q.leaseCall("ack", l, func(h *C.pmq_queue, s C.uint64_t, sl, d C.uint32_t) C.int {
		return C.gopmq_ack(h, s, sl, d)
	})
}

// Nack gives a leased message back at its place (ahead of the messages of
// its priority sent after it); its delivery count goes on. Errors as Ack's.
func (q *Queue) Nack(l Lease) error {
	return q.leaseCall("nack", l, func(h *C.pmq_queue, s C.uint64_t, sl, d C.uint32_t) C.int {
		return C.gopmq_nack(h, s, sl, d)
	})
}

// AckBatch acks several leases under one lock and returns how many were
// acked: len(leases), or fewer with an error matching ErrLeaseLost when some
// were no longer this Queue's (the others are acked all the same).
func (q *Queue) AckBatch(leases []Lease) (int, error) {
	if !q.enter() {
		return 0, q.closedError("ack batch")
	}
	defer q.leave()
	var p *C.pmq_lease
	if len(leases) > 0 {
		p = (*C.pmq_lease)(unsafe.Pointer(unsafe.SliceData(leases)))
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := C.gopmq_ack_batch(q.h, p, C.size_t(len(leases)))
	if r.status != C.PMQ_STATUS_OK {
		return int(r.len), lastFailure("ack batch", q.name, C.int(r.status))
	}
	return int(r.len), nil
}

// LeaseStats reads the queue's leases now (all handles'). ErrNotSupported on
// BackendKernel.
func (q *Queue) LeaseStats() (LeaseStats, error) {
	if !q.enter() {
		return LeaseStats{}, q.closedError("lease stats")
	}
	var n C.uint64_t
	var age C.double
	err := call("lease stats", q.name, func() C.pmq_status { return C.pmq_queue_lease_stats(q.h, &n, &age) })
	q.leave()
	if err != nil {
		return LeaseStats{}, err
	}
	return LeaseStats{Leased: uint64(n), OldestAge: time.Duration(float64(age) * float64(time.Second))}, nil
}

// InstanceID returns an identity of the queue, not of its name (a queue
// made later under the same name has another): with a Lease's Seq it names
// a message uniquely (a de-duplication id). ErrNotSupported on
// BackendKernel.
func (q *Queue) InstanceID() (uint64, error) {
	if !q.enter() {
		return 0, q.closedError("instance id")
	}
	var id C.uint64_t
	err := call("instance id", q.name, func() C.pmq_status { return C.pmq_queue_instance_id(q.h, &id) })
	q.leave()
	return uint64(id), err
}
