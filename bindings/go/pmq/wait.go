package pmq

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// How waiting works (no OS thread per waiting goroutine):
//
// The libpmq handle is always non-blocking and every C call tries once
// (queue.go). Only when a try would block does a goroutine come here and
// wait for readiness in Go's runtime poller.
//
// The poller never sees the queue descriptor itself. Registered there, it
// would make every send and receive of anyone (the queue wakes its pollers
// on each of them) wake the runtime's idle thread blocked in epoll_wait,
// waiters or not: that cost a fifth of the CPU of a send+receive loop. So
// each direction has a private epoll instance (waitTurn.ep), registered with
// the runtime poller at open and quiet while it watches nothing: the queue
// descriptor is added to it (EPOLLIN to wait for a message, EPOLLOUT for
// room, level-triggered) when a goroutine starts waiting and removed when it
// stops. While it is there, the private instance is readable whenever the
// queue is ready, and the runtime poller wakes the goroutine waiting for
// that (RawConn.Read with a callback that makes the next try). Parked
// goroutines hold no thread.
//
// The poller allows one reader per descriptor at a time, and a deadline on
// the instance applies to whoever waits there. So the waiters of a
// direction take turns: a goroutine first takes the direction's turn token
// (a channel of capacity 1, so waiting for it is a select that also watches
// the context, the timeout and Close), then waits in the poller with its own
// deadline set on the instance. Cancellation by a context sets a past
// deadline, but only during the turn that belongs to that context (term
// check), so a late cancellation never cuts the next goroutine's wait short.

type waitTurn struct {
	token  chan struct{}
	mu     sync.Mutex
	term   uint64 // incremented when a turn starts and when it ends
	events uint32 // EPOLLIN (receive) or EPOLLOUT (send)
	ep     *os.File
	conn   syscall.RawConn
}

// init makes the direction's epoll instance and registers it with the
// runtime poller.
func (w *waitTurn) init(queue string, events uint32) error {
	w.token = make(chan struct{}, 1)
	w.events = events
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return &Error{Op: "open", Queue: queue, Status: StatusOSError, Errno: err.(syscall.Errno),
			Detail: "could not create the epoll instance that waiting goroutines park on: " + err.Error()}
	}
	// os.NewFile registers only O_NONBLOCK descriptors with the poller.
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return goError("open", queue, StatusOSError, "could not make the epoll descriptor non-blocking: "+err.Error())
	}
	w.ep = os.NewFile(uintptr(fd), "pmq-wait:"+queue)
	// Deadlines work only on descriptors the poller accepted.
	if err := w.ep.SetDeadline(time.Time{}); err != nil {
		return goError("open", queue, StatusOSError,
			"the runtime poller does not accept the epoll descriptor: "+err.Error())
	}
	if w.conn, err = w.ep.SyscallConn(); err != nil {
		return goError("open", queue, StatusOSError, "SyscallConn: "+err.Error())
	}
	return nil
}

// close wakes the goroutine waiting in the poller (its Read fails) and
// closes the instance once nobody uses it any more.
func (w *waitTurn) close() {
	if w.ep != nil {
		w.ep.Close()
	}
}

// attempt is a send or receive (or a batch of them) on the slow path: its
// latest try.
type attempt struct {
	q     *Queue
	write bool
	msg   []byte
	prio  uint
	buf   []byte
	batch bool         // SendBatch (write) or ReceiveBatch
	sb    *sendScratch // SendBatch: the batch, copied
	out   []Received   // ReceiveBatch
	res   result       // the latest try's
	// Lease and LeaseBatch (lease.go): a read-side attempt.
	lease     bool
	vis       float64  // the visibility timeout in seconds, as C takes it
	leased    Lease    // Lease: the latest successful try's lease
	leasedOut []Leased // LeaseBatch
}

// try makes the next try. Only calls that wait get here, so a would-block
// is retried unless the Queue was made non-blocking meanwhile.
func (a *attempt) try() {
	retry := a.q.blocking.Load()
	switch {
	case a.lease && a.batch:
		a.res = a.q.leaseBatchOnce(a.buf, a.leasedOut, a.vis, retry)
	case a.lease:
		a.res = a.q.leaseOnce(a.buf, a.vis, retry, &a.leased)
	case a.batch && a.write:
		a.res = a.q.sendBatchOnce(a.sb, retry)
	case a.batch:
		a.res = a.q.receiveBatchOnce(a.buf, a.out, retry)
	case a.write:
		a.res = a.q.sendOnce(a.msg, a.prio, retry)
	default:
		a.res = a.q.receiveOnce(a.buf, retry)
	}
}

// op names the attempt's operation in errors.
func (a *attempt) op() string {
	switch {
	case a.lease && a.batch:
		return "lease batch"
	case a.lease:
		return "lease"
	case a.batch && a.write:
		return "send batch"
	case a.batch:
		return "receive batch"
	case a.write:
		return "send"
	}
	return "receive"
}

// done: the latest try is the answer (anything but a would-block that is
// to be retried).
func (a *attempt) done() bool { return !a.res.busy }

// wait is the slow path of every send and receive: a.res is the outcome of
// the first try. It returns that outcome unless it is a would-block to be
// retried; then it waits for readiness and tries again until done. ctx may
// be nil (no cancellation); d > 0 is a timeout (counted from now, so never
// shorter than asked), 0 and Forever none.
func (q *Queue) wait(ctx context.Context, d time.Duration, a *attempt) (int, uint, error) {
	op := a.op()
	write := a.write
	if a.done() {
		return q.outcome(op, &a.res)
	}
	var deadline time.Time
	if d > 0 && d != Forever {
		deadline = time.Now().Add(d)
	}
	var done <-chan struct{}
	if ctx != nil {
		if cerr := ctx.Err(); cerr != nil {
			return 0, 0, cerr
		}
		done = ctx.Done()
	}
	q.waiting.Add(1)
	defer q.waiting.Add(-1)

	var timeout <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeout = t.C
	}
	turn := &q.rd
	if write {
		turn = &q.wr
	}
	select {
	case turn.token <- struct{}{}:
	case <-done:
		return 0, 0, ctx.Err()
	case <-timeout:
		return 0, 0, q.timeoutError(op)
	case <-q.closing:
		return 0, 0, q.closedError(op)
	}
	defer func() { <-turn.token }()

	turn.mu.Lock()
	turn.term++
	mine := turn.term
	turn.mu.Unlock()
	if !deadline.IsZero() {
		_ = turn.ep.SetReadDeadline(deadline)
	}
	if done != nil {
		stop := context.AfterFunc(ctx, func() {
			turn.mu.Lock()
			if turn.term == mine {
				_ = turn.ep.SetReadDeadline(time.Unix(1, 0)) // in the past: wakes the waiter now
			}
			turn.mu.Unlock()
		})
		defer stop()
	}
	defer func() {
		turn.mu.Lock()
		turn.term++ // a late AfterFunc no longer touches the deadline
		turn.mu.Unlock()
		_ = turn.ep.SetReadDeadline(time.Time{})
	}()

	// The queue descriptor joins the instance in the first callback (which
	// holds the instance's descriptor open) and leaves it when the wait
	// ends; both between enter and leave, so q.fd is open.
	registered := false
	var ctlErr error
	try := func(epfd uintptr) bool {
		if !registered {
			if !q.enter() {
				a.res = result{} // not entered: closed
				return true
			}
			ev := syscall.EpollEvent{Events: turn.events, Fd: int32(q.fd)}
			ctlErr = syscall.EpollCtl(int(epfd), syscall.EPOLL_CTL_ADD, q.fd, &ev)
			q.leave()
			if ctlErr != nil {
				return true
			}
			registered = true
		}
		a.try()
		return a.done()
	}
	q.polling.Add(1)
	perr := turn.conn.Read(try)
	q.polling.Add(-1)
	if registered {
		_ = turn.conn.Control(func(epfd uintptr) {
			if q.enter() {
				_ = syscall.EpollCtl(int(epfd), syscall.EPOLL_CTL_DEL, q.fd, nil)
				q.leave()
			}
			// else Close is closing the instance, which drops it anyway.
		})
	}
	if perr == nil && ctlErr == nil {
		return q.outcome(op, &a.res)
	}
	switch {
	case q.isClosed():
		return 0, 0, q.closedError(op)
	case ctx != nil && ctx.Err() != nil:
		return 0, 0, ctx.Err()
	case perr != nil && errors.Is(perr, os.ErrDeadlineExceeded):
		return 0, 0, q.timeoutError(op)
	case ctlErr != nil:
		return 0, 0, goError(op, q.name, StatusOSError, "could not watch the queue with epoll: "+ctlErr.Error())
	}
	return 0, 0, goError(op, q.name, StatusOSError, "waiting in the runtime poller failed: "+perr.Error())
}

func (q *Queue) timeoutError(op string) *Error {
	if a, _, _ := strings.Cut(op, " "); a == "send" {
		return goError(op, q.name, StatusTimedOut, "the queue stayed full until the timeout; nothing was sent")
	}
	return goError(op, q.name, StatusTimedOut, "no message arrived before the timeout")
}
