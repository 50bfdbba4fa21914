package pmq

import (
	"errors"
	"testing"
	"time"
)

// The shared-memory backend through the Go API: WithBackend(BackendShm), the
// same calls, capacities above fs.mqueue.msg_max, and waits through the
// poller on its readiness descriptor.
func TestSharedMemoryBackend(t *testing.T) {
	name := testName(t)
	q, err := Create(name, Exclusive(), WithBackend(BackendShm), WithCapacity(300), WithMessageSize(32))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = q.Close()
		_ = UnlinkBackend(name, BackendShm)
	})
	if q.Backend() != BackendShm || q.MaxMessages() != 300 {
		t.Fatalf("backend %v capacity %d", q.Backend(), q.MaxMessages())
	}
	for i := 0; i < 300; i++ {
		if err := q.Send([]byte{byte(i)}, uint(i%3)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.SendTimeout([]byte("x"), 0, 0); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("full: %v", err)
	}
	buf := make([]byte, 32)
	_, prio, err := q.Receive(buf)
	if err != nil || prio != 2 || buf[0] != 2 {
		t.Fatalf("first: prio %d byte %d err %v", prio, buf[0], err)
	}
	for {
		if _, _, err := q.ReceiveTimeout(buf, 0); err != nil {
			break
		}
	}
	// A blocked receive (the poller waits on the readiness descriptor) wakes
	// on a send from another handle.
	other, err := Open(name, WithBackend(BackendShm))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go func() {
		time.Sleep(30 * time.Millisecond)
		_ = other.Send([]byte("late"), 1)
	}()
	n, prio, err := q.ReceiveTimeout(buf, 10*time.Second)
	if err != nil || string(buf[:n]) != "late" || prio != 1 {
		t.Fatalf("wait: %q %d %v", buf[:n], prio, err)
	}
	if err := UnlinkName(name); !isNotExist(err) {
		t.Fatalf("kernel unlink of a shm queue: %v", err)
	}
}
