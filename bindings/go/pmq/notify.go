package pmq

// #include "shim.h"
import "C"

import (
	"runtime/cgo"
	"sync"
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

// notifyTarget is what the C callback's cgo.Handle points to.
type notifyTarget struct {
	mu sync.Mutex
	q  *Queue
	ch chan<- *Queue
}

// liveHandles counts this package's notification handles (tests check it
// returns to zero: no leak).
var liveHandles atomic.Int64

//export gopmqNotify
func gopmqNotify(handle C.uintptr_t) {
	t := cgo.Handle(handle).Value().(*notifyTarget)
	t.mu.Lock()
	q, ch := t.q, t.ch
	t.mu.Unlock()
	if ch == nil {
		return
	}
	// Never block libpmq's delivery thread: Close and NotifyCancel wait
	// for a running callback, and nobody may be reading ch.
	select {
	case ch <- q:
	default:
	}
}

// Notify asks for one notification: when the queue goes from empty to
// non-empty, the Queue is sent on ch. The send never blocks (like
// os/signal.Notify): give ch a buffer, or a notification may be dropped.
// Call Notify again to re-arm (it replaces this Queue's registration, and
// may be given another channel). Do not close ch before NotifyCancel or
// Close returned. The kernel rules are in the package documentation.
func (q *Queue) Notify(ch chan<- *Queue) error {
	if ch == nil {
		return goError("notify", q.name, StatusInvalidArgument,
			"the channel is nil; pass a buffered channel, or call NotifyCancel to cancel")
	}
	q.nmu.Lock()
	defer q.nmu.Unlock()
	if !q.enter() {
		return q.closedError("notify")
	}
	defer q.leave()
	created := false
	if q.nchannel == nil {
		q.nchannel = &notifyTarget{q: q}
		q.nhandle = cgo.NewHandle(q.nchannel)
		liveHandles.Add(1)
		created = true
	}
	t := q.nchannel
	t.mu.Lock()
	old := t.ch
	t.ch = ch
	t.mu.Unlock()
	err := call("notify", q.name, func() C.pmq_status {
		return C.pmq_status(C.gopmq_notify_callback(q.h, C.uintptr_t(q.nhandle)))
	})
	if err != nil {
		if created {
			// Never registered with libpmq: no callback can hold it.
			q.dropHandle()
		} else {
			t.mu.Lock()
			t.ch = old
			t.mu.Unlock()
		}
		return err
	}
	return nil
}

// NotifySignal asks the kernel to send sig to this process when the queue
// goes from empty to non-empty (one-shot, like Notify). Catch it with
// os/signal.Notify before arming. It replaces a registration made with
// Notify.
func (q *Queue) NotifySignal(sig syscall.Signal) error {
	q.nmu.Lock()
	defer q.nmu.Unlock()
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
	q.nmu.Lock()
	defer q.nmu.Unlock()
	if !q.enter() {
		return q.closedError("notify cancel")
	}
	defer q.leave()
	if err := call("notify cancel", q.name, func() C.pmq_status { return C.pmq_queue_notify_cancel(q.h) }); err != nil {
		return err
	}
	// libpmq guarantees no callback runs after cancel returned.
	q.dropHandle()
	return nil
}

// dropHandle deletes the notification handle; q.nmu must be held and no
// callback may be able to use it any more.
func (q *Queue) dropHandle() {
	if q.nchannel == nil {
		return
	}
	q.nhandle.Delete()
	q.nchannel = nil
	q.nhandle = 0
	liveHandles.Add(-1)
}
