package pmq

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// expectNotification waits (with a generous liveness bound) for q on ch.
func expectNotification(t *testing.T, ch <-chan *Queue, q *Queue) {
	t.Helper()
	select {
	case got := <-ch:
		if got != q {
			t.Fatalf("notification for %s, want %s", got.Name(), q.Name())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no notification arrived")
	}
}

func TestNotifyChannelRearm(t *testing.T) {
	q := newQueue(t)
	sender := openAgain(t, q, WriteOnly())
	base := liveHandles.Load()
	ch := make(chan *Queue, 1)
	buf := make([]byte, 64)
	for i := 0; i < 10; i++ {
		if err := q.Notify(ch); err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if err := sender.Send([]byte("ping"), 0); err != nil {
			t.Fatal(err)
		}
		expectNotification(t, ch, q)
		if _, _, err := q.Receive(buf); err != nil {
			t.Fatal(err)
		}
	}
	// Each delivered registration's handle was dropped after its delivery.
	waitFor(t, "the last delivered registration's drop", func() bool { return liveHandles.Load() == base })
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if liveHandles.Load() != base {
		t.Fatalf("handle leaked after Close: %d live, want %d", liveHandles.Load(), base)
	}
}

func TestNotifyReplacedByAnotherHandleAndCancel(t *testing.T) {
	q1 := newQueue(t)
	q2 := openAgain(t, q1)
	ch1 := make(chan *Queue, 1)
	ch2 := make(chan *Queue, 1)
	if err := q1.Notify(ch1); err != nil {
		t.Fatal(err)
	}
	// The kernel keeps one registration per queue and process: a second
	// handle of this process replaces it (as posix_ipc does), it is not busy.
	if err := q2.Notify(ch2); err != nil {
		t.Fatalf("second registration from this process: %v", err)
	}
	if err := q1.Send([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	expectNotification(t, ch2, q2)
	select {
	case <-ch1:
		t.Fatal("the replaced registration was delivered")
	case <-time.After(50 * time.Millisecond):
	}
	if _, _, err := q1.Receive(make([]byte, q1.MaxMessageSize())); err != nil {
		t.Fatal(err)
	}
	// Cancel through either handle ends it; a second cancel is harmless.
	if err := q2.Notify(ch2); err != nil {
		t.Fatal(err)
	}
	if err := q1.NotifyCancel(); err != nil {
		t.Fatal(err)
	}
	if err := q1.NotifyCancel(); err != nil {
		t.Fatal(err)
	}
	if err := q1.Send([]byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch2:
		t.Fatal("a cancelled registration was delivered")
	case <-time.After(50 * time.Millisecond):
	}
}

func TestNotifyLeakFree(t *testing.T) {
	base := liveHandles.Load()
	q := newQueue(t)
	ch := make(chan *Queue, 1)
	for i := 0; i < 1000; i++ {
		if err := q.Notify(ch); err != nil {
			t.Fatal(err)
		}
		if err := q.NotifyCancel(); err != nil {
			t.Fatal(err)
		}
	}
	if n := liveHandles.Load(); n != base {
		t.Fatalf("%d handles live after 1000 arm/cancel, want %d", n, base)
	}
	// Re-arming replaces; one handle per Queue.
	for i := 0; i < 100; i++ {
		if err := q.Notify(ch); err != nil {
			t.Fatal(err)
		}
	}
	if n := liveHandles.Load(); n != base+1 {
		t.Fatalf("%d handles live after re-arming, want %d", n, base+1)
	}
	// A delivered notification, then cancel: the handle goes.
	if err := q.Send([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	expectNotification(t, ch, q)
	if err := q.NotifyCancel(); err != nil {
		t.Fatal(err)
	}
	if n := liveHandles.Load(); n != base {
		t.Fatalf("%d handles live after delivery and cancel, want %d", n, base)
	}
	// Armed, then closed.
	if err := q.Notify(ch); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if n := liveHandles.Load(); n != base {
		t.Fatalf("%d handles live after Close, want %d", n, base)
	}
	// A failed registration creates nothing.
	if err := q.Notify(ch); !errors.Is(err, ErrClosed) {
		t.Fatalf("Notify after Close: %v", err)
	}
	if err := q.Notify(nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Notify(nil): %v", err)
	}
	if n := liveHandles.Load(); n != base {
		t.Fatalf("%d handles live after failed registrations, want %d", n, base)
	}
}

// This package's receivers wait in the poller, not in the kernel's
// mq_receive, so a waiting ReceiveContext does not suppress notifications.
func TestNotifyWhileReceiverWaits(t *testing.T) {
	q := newQueue(t)
	ch := make(chan *Queue, 1)
	if err := q.Notify(ch); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 64)
		n, _, err := q.Receive(buf)
		if err != nil {
			t.Error(err)
		}
		got <- string(buf[:n])
	}()
	waitFor(t, "the receiver to wait", func() bool { return q.waiting.Load() == 1 })
	if err := openAgain(t, q, WriteOnly()).Send([]byte("both"), 0); err != nil {
		t.Fatal(err)
	}
	expectNotification(t, ch, q)
	if s := <-got; s != "both" {
		t.Fatalf("receiver got %q", s)
	}
}

func TestNotifySignal(t *testing.T) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	q := newQueue(t)
	buf := make([]byte, 64)
	for i := 0; i < 3; i++ { // one-shot: re-armed each time
		if err := q.NotifySignal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		if err := q.Send([]byte("sig"), 0); err != nil {
			t.Fatal(err)
		}
		select {
		case s := <-sigs:
			if s != syscall.SIGUSR1 {
				t.Fatalf("got %v", s)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no signal arrived")
		}
		if _, _, err := q.Receive(buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.NotifySignal(syscall.Signal(1000)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad signal number: %v", err)
	}
	if err := q.NotifyCancel(); err != nil {
		t.Fatal(err)
	}
}

// libpmq drops a registration's cgo.Handle (pmq_queue_notify_callback's drop
// callback) exactly once when it can no longer fire: after its delivery,
// when replaced (by a Notify or NotifySignal of this process on the queue,
// through any Queue), cancelled, or closed, and when Linux dropped it
// because the process closed another descriptor of the queue. Exactly once:
// a second drop of a handle would panic (cgo.Handle.Delete) and leave
// liveHandles below base.
func TestNotifyDropRunsOncePerRegistration(t *testing.T) {
	base := liveHandles.Load()
	live := func(t *testing.T, want int64, after string) {
		t.Helper()
		if n := liveHandles.Load(); n != base+want {
			t.Fatalf("after %s: %d handles live, want %d", after, n-base, want)
		}
	}
	ch := make(chan *Queue, 1)
	buf := make([]byte, 64)

	t.Run("delivered", func(t *testing.T) {
		q := newQueue(t)
		if err := q.Notify(ch); err != nil {
			t.Fatal(err)
		}
		live(t, 1, "Notify")
		if err := q.Send([]byte("x"), 0); err != nil {
			t.Fatal(err)
		}
		expectNotification(t, ch, q)
		// Dropped on the delivery thread right after the callback returned.
		waitFor(t, "the delivered registration's drop", func() bool { return liveHandles.Load() == base })
		if _, _, err := q.Receive(buf); err != nil {
			t.Fatal(err)
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		live(t, 0, "Close of a Queue whose registration was delivered")
	})
	t.Run("replaced", func(t *testing.T) {
		q := newQueue(t)
		other := openAgain(t, q)
		if err := q.Notify(ch); err != nil {
			t.Fatal(err)
		}
		if err := q.Notify(ch); err != nil { // by this Queue
			t.Fatal(err)
		}
		live(t, 1, "Notify replaced by Notify")
		if err := other.Notify(ch); err != nil { // by another Queue of the queue
			t.Fatal(err)
		}
		live(t, 1, "Notify replaced through another Queue")
		if err := q.NotifySignal(syscall.SIGUSR2); err != nil { // by a signal registration
			t.Fatal(err)
		}
		live(t, 0, "Notify replaced by NotifySignal")
		if err := q.NotifyCancel(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		q := newQueue(t)
		if err := q.Notify(ch); err != nil {
			t.Fatal(err)
		}
		if err := q.NotifyCancel(); err != nil {
			t.Fatal(err)
		}
		live(t, 0, "NotifyCancel")
		if err := q.NotifyCancel(); err != nil {
			t.Fatal(err)
		}
		live(t, 0, "a second NotifyCancel")
	})
	t.Run("closed", func(t *testing.T) {
		q := newQueue(t)
		if err := q.Notify(ch); err != nil {
			t.Fatal(err)
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		live(t, 0, "Close")
	})
	t.Run("dropped by Linux", func(t *testing.T) {
		q := newQueue(t)
		other, err := Open(q.Name())
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Notify(ch); err != nil {
			t.Fatal(err)
		}
		// Closing any descriptor of the queue ends this process's
		// registration; libpmq drops it at the latest in the next
		// notification call.
		if err := other.Close(); err != nil {
			t.Fatal(err)
		}
		if err := q.NotifyCancel(); err != nil {
			t.Fatal(err)
		}
		live(t, 0, "another Queue's Close, then NotifyCancel")
	})
	t.Run("failed registration", func(t *testing.T) {
		q := newQueue(t)
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		if err := q.Notify(ch); !errors.Is(err, ErrClosed) {
			t.Fatalf("Notify after Close: %v", err)
		}
		live(t, 0, "a failed Notify")
	})
	if len(ch) > 0 {
		t.Fatalf("a registration that was replaced, cancelled or closed was delivered")
	}
}
