package pmq

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"
)

// How waiting works (no OS thread per waiting goroutine):
//
// The libpmq handle is always non-blocking and every C call tries once.
// When a try would block, the goroutine waits for readiness in Go's runtime
// poller on q.file, a dup of the queue descriptor (readable = a message
// waits, writable = there is room), through RawConn.Read/Write with a
// callback that makes the next try. Parked goroutines hold no thread.
//
// The poller allows one reader and one writer per descriptor at a time, and
// a deadline on q.file applies to whoever waits there. So the waiters of a
// direction take turns: a goroutine first takes the direction's turn token
// (a channel of capacity 1, so waiting for it is a select that also watches
// the context, the timeout and Close), then waits in the poller with its own
// deadline set on q.file. Cancellation by a context sets a past deadline,
// but only during the turn that belongs to that context (term check), so a
// late cancellation never cuts the next goroutine's wait short.

type waitTurn struct {
	token chan struct{}
	mu    sync.Mutex
	term  uint64 // incremented when a turn starts and when it ends
}

func (w *waitTurn) init() { w.token = make(chan struct{}, 1) }

// await runs attempt until it reports anything but ErrWouldBlock, waiting for
// readiness in between. ctx may be nil (no cancellation); a zero deadline
// means no timeout.
func (q *Queue) await(ctx context.Context, deadline time.Time, write bool, attempt func() error) error {
	op := "receive"
	if write {
		op = "send"
	}
	err := attempt()
	if !isWouldBlock(err) || !q.blocking.Load() {
		return err
	}
	var done <-chan struct{}
	if ctx != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
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
		return ctx.Err()
	case <-timeout:
		return q.timeoutError(op)
	case <-q.closing:
		return q.closedError(op)
	}
	defer func() { <-turn.token }()

	setDeadline := q.file.SetReadDeadline
	if write {
		setDeadline = q.file.SetWriteDeadline
	}
	turn.mu.Lock()
	turn.term++
	mine := turn.term
	turn.mu.Unlock()
	if !deadline.IsZero() {
		_ = setDeadline(deadline)
	}
	if done != nil {
		stop := context.AfterFunc(ctx, func() {
			turn.mu.Lock()
			if turn.term == mine {
				_ = setDeadline(time.Unix(1, 0)) // in the past: wakes the waiter now
			}
			turn.mu.Unlock()
		})
		defer stop()
	}
	defer func() {
		turn.mu.Lock()
		turn.term++ // a late AfterFunc no longer touches the deadline
		turn.mu.Unlock()
		_ = setDeadline(time.Time{})
	}()

	var result error
	try := func(uintptr) bool {
		result = attempt()
		// Done unless it would block; a switch to non-blocking meanwhile
		// ends the wait with ErrWouldBlock.
		return !isWouldBlock(result) || !q.blocking.Load()
	}
	var perr error
	q.polling.Add(1)
	defer q.polling.Add(-1)
	if write {
		perr = q.rawConn.Write(try)
	} else {
		perr = q.rawConn.Read(try)
	}
	if perr == nil {
		return result
	}
	switch {
	case q.closed.Load():
		return q.closedError(op)
	case ctx != nil && ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(perr, os.ErrDeadlineExceeded):
		return q.timeoutError(op)
	}
	return goError(op, q.name, StatusOSError, "waiting in the runtime poller failed: "+perr.Error())
}

func (q *Queue) timeoutError(op string) *Error {
	if op == "send" {
		return goError(op, q.name, StatusTimedOut, "the queue stayed full until the timeout; nothing was sent")
	}
	return goError(op, q.name, StatusTimedOut, "no message arrived before the timeout")
}
