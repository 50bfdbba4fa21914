package pmq

// #include "shim.h"
import "C"

import (
	"runtime/cgo"
	"sync/atomic"
	"syscall"
)

// Notifications (the reference's request_notification).
//
// Kernel rules, in plain words:
//   - One-shot: after one notification the registration is gone; call Notify
//     (or NotifySignal) again to be told again, typically after draining.
//   - Only when the queue goes from EMPTY to non-empty.
//   - One registration per queue in the whole system: ErrBusy if another
//     process (or another Queue of this process) holds it.
//   - No notification while a receiver is blocked in the kernel's receive on
//     the queue. This package never blocks there (it waits in the poller), so
//     its own Receive calls do not suppress notifications; other programs'
//     blocking receivers do.
//   - Linux drops this process's registration when the process closes ANY
//     descriptor of the queue, including another Queue opened on the same
//     name. This package closes none of the queue's descriptors before Close.

// notifyTarget is what one registration's cgo.Handle points to. libpmq owns
// the handle from a successful registration until it calls gopmqNotifyDrop,
// exactly once, when the registration can no longer fire (delivered,
// replaced by any registration of this process on the queue, cancelled,
// closed): the drop deletes it. So the package keeps no registry of its own.
type notifyTarget struct {
	q  *Queue
	ch chan<- *Queue
}

// liveHandles counts this package's notification handles (tests check that
// each registration's handle goes exactly when libpmq drops it).
var liveHandles atomic.Int64

//export gopmqNotify
func gopmqNotify(handle C.uintptr_t) {
	t := cgo.Handle(handle).Value().(*notifyTarget)
	// Never block libpmq's delivery thread: Close and NotifyCancel wait
	// for a running callback, and nobody may be reading ch.
	select {
	case t.ch <- t.q:
	default:
	}
}

//export gopmqNotifyDrop
func gopmqNotifyDrop(handle C.uintptr_t) {
	cgo.Handle(handle).Delete() // a second drop of one handle would panic here
	liveHandles.Add(-1)
}

// Notify asks for one notification: when the queue goes from empty to
// non-empty, the Queue is sent on ch. The send never blocks (like
// os/signal.Notify): give ch a buffer, or a notification may be dropped.
// Call Notify again to re-arm (it replaces this process's registration on
// the queue, and may be given another channel). Do not close ch before
// the notification arrived, or NotifyCancel or Close returned. The kernel
// rules are in the package documentation.
func (q *Queue) Notify(ch chan<- *Queue) error {
	if ch == nil {
		return goError("notify", q.name, StatusInvalidArgument,
			"the channel is nil; pass a buffered channel, or call NotifyCancel to cancel")
	}
	if !q.enter() {
		return q.closedError("notify")
	}
	defer q.leave()
	h := cgo.NewHandle(&notifyTarget{q: q, ch: ch})
	liveHandles.Add(1)
	err := call("notify", q.name, func() C.pmq_status {
		return C.pmq_status(C.gopmq_notify_callback(q.h, C.uintptr_t(h)))
	})
	if err != nil {
		// Not registered: libpmq never drops it, the handle is still ours.
		h.Delete()
		liveHandles.Add(-1)
		return err
	}
	return nil
}

// NotifySignal asks the kernel to send sig to this process when the queue
// goes from empty to non-empty (one-shot, like Notify). Catch it with
// os/signal.Notify before arming. It replaces a registration made with
// Notify.
func (q *Queue) NotifySignal(sig syscall.Signal) error {
	if !q.enter() {
		return q.closedError("notify")
	}
	defer q.leave()
	return call("notify", q.name, func() C.pmq_status { return C.pmq_queue_notify_signal(q.h, C.int(sig)) })
}

// NotifyCancel cancels this process's registration on the queue. Harmless
// when there is none, or when another process holds it. When it returns, no
// notification of this Queue is being delivered or will be.
func (q *Queue) NotifyCancel() error {
	if !q.enter() {
		return q.closedError("notify cancel")
	}
	defer q.leave()
	return call("notify cancel", q.name, func() C.pmq_status { return C.pmq_queue_notify_cancel(q.h) })
}
