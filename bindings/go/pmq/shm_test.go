package pmq

import (
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"syscall"
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

// Receivers SIGKILLed after a receive leave receipts any handle reads (five:
// more than DeadReceipts first asks room for), each naming the message and
// the dead pid, taken. Each dead record is kept in use by a live handle so
// the next receiver does not reuse it. The kernel backend keeps none.
func TestDeadReceiptsOfKilledReceivers(t *testing.T) {
	name := testName(t)
	q, err := Create(name, Exclusive(), WithBackend(BackendShm), WithCapacity(8), WithMessageSize(32))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = q.Close()
		_ = UnlinkBackend(name, BackendShm)
	})
	if got, err := q.DeadReceipts(); err != nil || len(got) != 0 {
		t.Fatalf("fresh queue: %v %v", got, err)
	}
	texts := []string{"m0", "m1 is a long message", "m2", "m3", "m4"}
	for _, m := range texts {
		if err := q.Send([]byte(m), 4); err != nil {
			t.Fatal(err)
		}
	}
	var pids []int
	var heir *Queue
	for range texts {
		cmd, out := startHelper(t, "receive-and-die", name, "")
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("helper: %v %s", err, out)
		}
		pids = append(pids, cmd.Process.Pid)
		heir, err = Open(name, WithBackend(BackendShm))
		if err != nil {
			t.Fatal(err)
		}
		defer heir.Close()
	}
	got, err := heir.DeadReceipts()
	if err != nil || len(got) != len(texts) {
		t.Fatalf("%v %v", got, err)
	}
	for i, r := range got {
		want := Receipt{Seq: uint64(i + 1), Len: len(texts[i]), Priority: 4, Pid: pids[i], Taken: true,
			Head: []byte(texts[i][:min(len(texts[i]), 16)])}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("receipt %d: %+v, want %+v", i, r, want)
		}
	}
	_ = q.Close()
	if _, err := q.DeadReceipts(); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	k := newQueue(t)
	if _, err := k.DeadReceipts(); !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "shared-memory backend") {
		t.Fatalf("kernel backend: %v", err)
	}
}
