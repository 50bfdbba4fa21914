package pmq

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Leases (at-least-once receive, issue 30) through the Go API: Lease / Ack /
// Nack / LeaseBatch / AckBatch / LeaseStats / InstanceID on BackendShm, the
// argument checks, waits through the poller, a killed holder's lease coming
// back, dead letters, and ErrNotSupported on BackendKernel.

// newShm creates a new shm queue (8 x 64 bytes unless opts say otherwise),
// closed and unlinked when the test ends.
func newShm(t *testing.T, opts ...Option) *Queue {
	t.Helper()
	name := testName(t)
	all := append([]Option{Exclusive(), WithBackend(BackendShm), WithCapacity(8), WithMessageSize(64)}, opts...)
	q, err := Create(name, all...)
	if err != nil {
		t.Fatalf("Create(%s): %v", name, err)
	}
	t.Cleanup(func() {
		_ = q.Close()
		_ = UnlinkBackend(name, BackendShm)
	})
	return q
}

// leaseNow leases one message (try once) and checks its text and delivery.
func leaseNow(t *testing.T, q *Queue, want string, delivery uint32) Lease {
	t.Helper()
	buf := make([]byte, q.MaxMessageSize())
	n, _, l, err := q.LeaseTimeout(buf, 0, 0)
	if err != nil {
		t.Fatalf("lease (want %q): %v", want, err)
	}
	if string(buf[:n]) != want || l.Delivery != delivery {
		t.Fatalf("leased %q delivery %d, want %q delivery %d", buf[:n], l.Delivery, want, delivery)
	}
	return l
}

func TestLeaseAckNackKeepFIFO(t *testing.T) {
	q := newShm(t)
	for _, m := range []string{"a", "b", "c"} {
		if err := q.Send([]byte(m), 0); err != nil {
			t.Fatal(err)
		}
	}
	a := leaseNow(t, q, "a", 1)
	b := leaseNow(t, q, "b", 1)
	if err := q.Nack(b); err != nil {
		t.Fatal(err)
	}
	if err := q.Nack(a); err != nil {
		t.Fatal(err)
	}
	a2 := leaseNow(t, q, "a", 2)
	b2 := leaseNow(t, q, "b", 2)
	c := leaseNow(t, q, "c", 1)
	if a2.Seq != a.Seq || b2.Seq != b.Seq {
		t.Fatalf("seq changed: %+v %+v / %+v %+v", a, a2, b, b2)
	}
	for _, l := range []Lease{a2, b2, c} {
		if err := q.Ack(l); err != nil {
			t.Fatal(err)
		}
	}
	err := q.Ack(c)
	if !errors.Is(err, ErrLeaseLost) || !strings.Contains(err.Error(), "lease") {
		t.Fatalf("second ack: %v", err)
	}
	if err := q.Nack(c); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("nack after ack: %v", err)
	}
	if n, _ := q.CurrentMessages(); n != 0 {
		t.Fatalf("%d messages left", n)
	}
}

func TestLeaseBatchAndAckBatch(t *testing.T) {
	q := newShm(t)
	msgs := []Message{{Data: []byte("m0")}, {Data: []byte("m1")}, {Data: []byte("m2")}}
	if _, err := q.SendBatch(msgs); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4*q.MaxMessageSize())
	out := make([]Leased, 8)
	n, err := q.LeaseBatchTimeout(buf, out, time.Minute, 0)
	if err != nil || n != 3 {
		t.Fatalf("lease batch: %d %v", n, err)
	}
	leases := make([]Lease, n)
	for i := range n {
		if got := string(buf[out[i].Offset:][:out[i].Len]); got != string(msgs[i].Data) || out[i].Lease.Delivery != 1 {
			t.Fatalf("message %d: %q %+v", i, got, out[i])
		}
		leases[i] = out[i].Lease
	}
	if err := q.Ack(leases[0]); err != nil {
		t.Fatal(err)
	}
	acked, err := q.AckBatch(leases)
	if acked != 2 || !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("ack batch with one lost: %d %v", acked, err)
	}
	if acked, err := q.AckBatch(nil); acked != 0 || err != nil {
		t.Fatalf("empty ack batch: %d %v", acked, err)
	}
}

func TestLeaseWaitsStatsAndCapacity(t *testing.T) {
	q := newShm(t, WithCapacity(2))
	st, err := q.LeaseStats()
	if err != nil || st != (LeaseStats{}) {
		t.Fatalf("stats: %+v %v", st, err)
	}
	// A waiting lease wakes when a message comes (through the poller).
	got := make(chan error, 1)
	go func() {
		buf := make([]byte, q.MaxMessageSize())
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		n, _, l, err := q.LeaseContext(ctx, buf, 0)
		if err == nil && (string(buf[:n]) != "w" || l.Delivery != 1) {
			err = errors.New("wrong message " + string(buf[:n]))
		}
		got <- err
	}()
	waitFor(t, "the lease to wait", func() bool { return q.waiting.Load() == 1 })
	if err := q.Send([]byte("w"), 0); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if err := q.Send([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	// Leased messages count against the capacity.
	if err := q.SendTimeout([]byte("y"), 0, 0); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("send with a leased message: %v", err)
	}
	st, err = q.LeaseStats()
	if err != nil || st.Leased != 1 || st.OldestAge < 0 || st.OldestAge > time.Hour {
		t.Fatalf("stats: %+v %v", st, err)
	}
	buf := make([]byte, q.MaxMessageSize())
	if _, _, _, err := q.LeaseTimeout(buf, 0, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := q.LeaseTimeout(buf, 0, 10*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("empty: %v", err)
	}
}

func TestLeaseVisibilityExpiry(t *testing.T) {
	q := newShm(t)
	o := openAgain(t, q, WithBackend(BackendShm))
	if err := q.Send([]byte("late"), 2); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, q.MaxMessageSize())
	_, _, l, err := q.LeaseTimeout(buf, 50*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var again Lease
	waitFor(t, "the expired lease to come back", func() bool {
		_, _, again, err = o.LeaseTimeout(buf, 0, 0)
		return err == nil
	})
	if time.Since(start) < 40*time.Millisecond || again.Seq != l.Seq || again.Delivery != 2 {
		t.Fatalf("came back after %v as %+v (was %+v)", time.Since(start), again, l)
	}
	if err := q.Ack(l); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("late ack: %v", err)
	}
	if err := o.Ack(again); err != nil {
		t.Fatal(err)
	}
}

func TestLeaseKilledHolderGivesBack(t *testing.T) {
	q := newShm(t)
	if err := q.Send([]byte("killed"), 0); err != nil {
		t.Fatal(err)
	}
	cmd, out := startHelper(t, "lease-and-die", q.Name(), "")
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper: %v %s", err, out)
	}
	buf := make([]byte, q.MaxMessageSize())
	n, _, l, err := q.LeaseTimeout(buf, 0, time.Minute)
	if err != nil || string(buf[:n]) != "killed" || l.Delivery != 2 {
		t.Fatalf("after the holder died: %q %+v %v", buf[:n], l, err)
	}
	if err := q.Ack(l); err != nil {
		t.Fatal(err)
	}
}

func TestLeaseDeadLetter(t *testing.T) {
	dl := testName(t)
	t.Cleanup(func() { _ = UnlinkBackend(dl, BackendShm) })
	q := newShm(t, WithMaxDeliveries(2), WithDeadLetter(dl))
	if err := q.Send([]byte("poison"), 4); err != nil {
		t.Fatal(err)
	}
	if err := q.Send([]byte("fine"), 0); err != nil {
		t.Fatal(err)
	}
	for d := uint32(1); d <= 2; d++ {
		if err := q.Nack(leaseNow(t, q, "poison", d)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Ack(leaseNow(t, q, "fine", 1)); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dl, WithBackend(BackendShm))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	buf := make([]byte, d.MaxMessageSize())
	n, prio, err := d.ReceiveTimeout(buf, 0)
	if err != nil || string(buf[:n]) != "poison" || prio != 4 {
		t.Fatalf("dead letter: %q %d %v", buf[:n], prio, err)
	}
	// Dropped without a dead-letter queue.
	drop := newShm(t, WithMaxDeliveries(1))
	if err := drop.Send([]byte("once"), 0); err != nil {
		t.Fatal(err)
	}
	if err := drop.Nack(leaseNow(t, drop, "once", 1)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := drop.LeaseTimeout(buf, 0, 0); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("dropped: %v", err)
	}
}

func TestLeaseBadArguments(t *testing.T) {
	q := newShm(t)
	if err := q.Send([]byte("z"), 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, q.MaxMessageSize())
	if _, _, _, err := q.LeaseTimeout(buf, -time.Second, 0); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "visibility") {
		t.Fatalf("negative visibility: %v", err)
	}
	if _, err := q.LeaseBatch(buf, make([]Leased, 2), -1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative visibility (batch): %v", err)
	}
	if _, _, _, err := q.LeaseTimeout(buf, 0, -1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative timeout: %v", err)
	}
	var e *Error
	if _, _, _, err := q.LeaseTimeout(buf[:3], 0, 0); !errors.As(err, &e) || e.Status != StatusBufferTooSmall || e.Needed != 64 {
		t.Fatalf("small buffer: %v", err)
	}
	if _, err := Create(testName(t), Exclusive(), WithBackend(BackendShm), WithMaxDeliveries(1), WithDeadLetter("/a\x00b")); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "NUL") {
		t.Fatalf("NUL in the dead-letter name: %v", err)
	}
	if _, err := Create(testName(t), Exclusive(), WithBackend(BackendShm), WithMaxDeliveries(1), WithDeadLetter("no-slash")); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "dead-letter") {
		t.Fatalf("bad dead-letter name: %v", err)
	}
	st, err := q.LeaseStats()
	if err != nil || st.Leased != 0 {
		t.Fatalf("something was leased: %+v %v", st, err)
	}
	id, err := q.InstanceID()
	if err != nil || id == 0 {
		t.Fatalf("instance id: %d %v", id, err)
	}
	_, _, l, err := q.LeaseTimeout(buf, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = q.Close()
	for what, err := range map[string]error{
		"lease":       func() error { _, _, _, err := q.LeaseTimeout(buf, 0, 0); return err }(),
		"lease batch": func() error { _, err := q.LeaseBatch(buf, make([]Leased, 1), 0); return err }(),
		"ack":         q.Ack(l),
		"nack":        q.Nack(l),
		"ack batch":   func() error { _, err := q.AckBatch([]Lease{l}); return err }(),
		"stats":       func() error { _, err := q.LeaseStats(); return err }(),
		"instance id": func() error { _, err := q.InstanceID(); return err }(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v", what, err)
		}
	}
}

func TestLeaseKernelNotSupported(t *testing.T) {
	q := newQueue(t)
	if err := q.Send([]byte("k"), 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, q.MaxMessageSize())
	l := Lease{Seq: 1, Delivery: 1}
	for what, err := range map[string]error{
		"lease":       func() error { _, _, _, err := q.LeaseTimeout(buf, 0, 0); return err }(),
		"lease batch": func() error { _, err := q.LeaseBatchTimeout(buf, make([]Leased, 2), time.Second, 0); return err }(),
		"ack":         q.Ack(l),
		"nack":        q.Nack(l),
		"ack batch":   func() error { _, err := q.AckBatch([]Lease{l}); return err }(),
		"stats":       func() error { _, err := q.LeaseStats(); return err }(),
		"instance id": func() error { _, err := q.InstanceID(); return err }(),
	} {
		if !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "PMQ_BACKEND_SHM") {
			t.Errorf("%s on the kernel backend: %v", what, err)
		}
	}
	if n, _ := q.CurrentMessages(); n != 1 {
		t.Fatalf("%d messages", n)
	}
}
