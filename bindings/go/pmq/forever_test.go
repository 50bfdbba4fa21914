package pmq

import (
	"errors"
	"math"
	"testing"
)

// Forever, the one spelling of "no timeout", given to every timed call on
// both backends: each waits until another goroutine (started once the call
// waits) makes it possible, and Close ends a Forever wait with ErrClosed.
func TestForeverWaitsOnEveryTimedCall(t *testing.T) {
	if Forever != math.MaxInt64 {
		t.Fatalf("Forever = %d, want the longest time.Duration", Forever)
	}
	eachBackend(t, func(t *testing.T, b Backend) {
		q := newBackendQueue(t, b, 1, 16)
		other := openAgain(t, q, WithBackend(b))
		buf := make([]byte, 16)
		out := make([]Received, 1)
		// waitsThen runs call in a goroutine, lets `unblock` run once the
		// call waits, and returns the call's error.
		waitsThen := func(what string, call func() error, unblock func() error) {
			t.Helper()
			done := make(chan error, 1)
			go func() { done <- call() }()
			waitFor(t, what+" to wait", func() bool { return q.waiting.Load() == 1 })
			if err := unblock(); err != nil {
				t.Fatalf("%s: unblocking: %v", what, err)
			}
			if err := <-done; err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		recvOther := func() error { _, _, err := other.Receive(buf); return err }
		sendOther := func() error { return other.Send([]byte("m"), 0) }

		waitsThen("ReceiveTimeout(Forever)", func() error {
			_, _, err := q.ReceiveTimeout(buf, Forever)
			return err
		}, sendOther)
		waitsThen("ReceiveBatchTimeout(Forever)", func() error {
			n, err := q.ReceiveBatchTimeout(buf, out, Forever)
			if err == nil && n != 1 {
				t.Errorf("ReceiveBatchTimeout(Forever) took %d, want 1", n)
			}
			return err
		}, sendOther)
		if err := q.Send([]byte("full"), 0); err != nil {
			t.Fatal(err)
		}
		waitsThen("SendTimeout(Forever)", func() error {
			return q.SendTimeout([]byte("s"), 0, Forever)
		}, recvOther)
		waitsThen("SendBatchTimeout(Forever)", func() error {
			n, err := q.SendBatchTimeout([]Message{{Data: []byte("b")}}, Forever)
			if err == nil && n != 1 {
				t.Errorf("SendBatchTimeout(Forever) sent %d, want 1", n)
			}
			return err
		}, recvOther)
		// The queue is full: Close ends a Forever send.
		done := make(chan error, 1)
		go func() { done <- q.SendTimeout([]byte("c"), 0, Forever) }()
		waitFor(t, "SendTimeout(Forever) to wait before Close", func() bool { return q.waiting.Load() == 1 })
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Fatalf("SendTimeout(Forever) across Close: %v, want ErrClosed", err)
		}
	})
}
