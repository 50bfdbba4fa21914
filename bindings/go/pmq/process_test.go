package pmq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Helper modes of the test binary (TestMain runs them when
// PMQ_GO_TEST_HELPER is set; the queue names come in PMQ_GO_TEST_A/B).
func runHelper(mode string) int {
	a, b := os.Getenv("PMQ_GO_TEST_A"), os.Getenv("PMQ_GO_TEST_B")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", mode, err)
		return 1
	}
	switch mode {
	case "echo":
		// Receives requests on A and answers each on B as "<msg>:<prio>",
		// with the same priority, until "STOP".
		req, err := Open(a, ReadOnly())
		if err != nil {
			return fail(err)
		}
		defer req.Close()
		rep, err := Open(b, WriteOnly())
		if err != nil {
			return fail(err)
		}
		defer rep.Close()
		buf := make([]byte, req.MaxMessageSize())
		for {
			n, prio, err := req.ReceiveContext(ctx, buf)
			if err != nil {
				return fail(err)
			}
			if string(buf[:n]) == "STOP" {
				return 0
			}
			if err := rep.SendContext(ctx, []byte(fmt.Sprintf("%s:%d", buf[:n], prio)), prio); err != nil {
				return fail(err)
			}
		}
	case "notify-holder":
		// Holds the notification registration on A, says "armed" on B,
		// then "notified" on B when the notification comes; exits on "STOP"
		// received on A after that.
		q, err := Open(a)
		if err != nil {
			return fail(err)
		}
		defer q.Close()
		rep, err := Open(b, WriteOnly())
		if err != nil {
			return fail(err)
		}
		defer rep.Close()
		ch := make(chan *Queue, 1)
		if err := q.Notify(ch); err != nil {
			return fail(err)
		}
		if err := rep.SendContext(ctx, []byte("armed"), 0); err != nil {
			return fail(err)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fail(errors.New("no notification"))
		}
		if err := rep.SendContext(ctx, []byte("notified"), 0); err != nil {
			return fail(err)
		}
		buf := make([]byte, q.MaxMessageSize())
		for {
			n, _, err := q.ReceiveContext(ctx, buf)
			if err != nil {
				return fail(err)
			}
			if string(buf[:n]) == "STOP" {
				return 0
			}
		}
	case "receive-and-die":
		// Takes one message from shm queue A and is SIGKILLed before it
		// closes its handle (it leaves a receipt).
		q, err := Open(a, WithBackend(BackendShm))
		if err != nil {
			return fail(err)
		}
		buf := make([]byte, q.MaxMessageSize())
		if _, _, err := q.ReceiveTimeout(buf, 0); err != nil {
			return fail(err)
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		return fail(errors.New("still alive after SIGKILL"))
	case "lease-and-die":
		// Leases one message of shm queue A and is SIGKILLed holding the
		// lease (lease_test.go: the message comes back).
		q, err := Open(a, WithBackend(BackendShm))
		if err != nil {
			return fail(err)
		}
		buf := make([]byte, q.MaxMessageSize())
		if _, _, _, err := q.LeaseTimeout(buf, 0, 0); err != nil {
			return fail(err)
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		return fail(errors.New("still alive after SIGKILL"))
	}
	return fail(errors.New("unknown helper mode"))
}

// startHelper re-executes the test binary in a helper mode.
func startHelper(t *testing.T, mode, a, b string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PMQ_GO_TEST_HELPER="+mode, "PMQ_GO_TEST_A="+a, "PMQ_GO_TEST_B="+b)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, &out
}

func TestTwoProcessesEcho(t *testing.T) {
	req := newQueue(t, WithCapacity(5), WithMessageSize(64))
	rep := newQueue(t, WithCapacity(5), WithMessageSize(64))
	cmd, out := startHelper(t, "echo", req.Name(), rep.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const n = 40
	sent := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if err := req.SendContext(ctx, []byte(fmt.Sprintf("msg-%d", i)), uint(i%5)); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	buf := make([]byte, 64)
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		m, prio, err := rep.ReceiveContext(ctx, buf)
		if err != nil {
			t.Fatalf("reply %d: %v (helper output: %s)", i, err, out)
		}
		s := string(buf[:m])
		var id int
		var p uint
		if _, err := fmt.Sscanf(s, "msg-%d:%d", &id, &p); err != nil || p != uint(id%5) || prio != p {
			t.Fatalf("reply %q with priority %d: bad", s, prio)
		}
		if seen[s] {
			t.Fatalf("reply %q twice", s)
		}
		seen[s] = true
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if err := req.SendContext(ctx, []byte("STOP"), 0); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
}

func TestTwoProcessesNotifyBusy(t *testing.T) {
	q := newQueue(t, WithCapacity(5), WithMessageSize(64))
	rep := newQueue(t, WithCapacity(5), WithMessageSize(64))
	cmd, out := startHelper(t, "notify-holder", q.Name(), rep.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	buf := make([]byte, 64)
	expect := func(want string) {
		t.Helper()
		n, _, err := rep.ReceiveContext(ctx, buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("from helper: %q, %v; want %q (helper output: %s)", buf[:n], err, want, out)
		}
	}
	expect("armed")
	err := q.Notify(make(chan *Queue, 1))
	var e *Error
	if !errors.Is(err, ErrBusy) || !errors.As(err, &e) || e.Detail == "" {
		t.Fatalf("registration held by another process: %v", err)
	}
	t.Logf("busy detail: %s", e.Detail)
	if err := q.SendContext(ctx, []byte("wake"), 0); err != nil {
		t.Fatal(err)
	}
	expect("notified")
	if err := q.SendContext(ctx, []byte("STOP"), 0); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
}

// buildCExamples compiles examples/c/{producer,consumer}.c against libpmq
// with the same pkg-config setup cgo uses, with the project's strict flags.
func buildCExamples(t *testing.T) (dir, libdir string) {
	t.Helper()
	dir = t.TempDir()
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "pmq").Output()
	if err != nil {
		t.Fatalf("pkg-config pmq: %v (set PKG_CONFIG_PATH)", err)
	}
	ld, err := exec.Command("pkg-config", "--variable=libdir", "pmq").Output()
	if err != nil {
		t.Fatal(err)
	}
	libdir = strings.TrimSpace(string(ld))
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	for _, prog := range []string{"producer", "consumer"} {
		args := []string{"-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-D_GNU_SOURCE",
			filepath.Join("..", "..", "..", "examples", "c", prog+".c"), "-o", filepath.Join(dir, prog)}
		args = append(args, strings.Fields(string(flags))...)
		args = append(args, "-Wl,-rpath,"+libdir)
		if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", cc, args, err, out)
		}
	}
	return dir, libdir
}

type record struct {
	ID        int     `json:"id"`
	Timestamp float64 `json:"timestamp"`
	Value     int     `json:"value"`
}

// Go producer, C consumer (examples/c/consumer.c) over one queue.
func TestInteropGoProducerCConsumer(t *testing.T) {
	dir, _ := buildCExamples(t)
	name := testName(t)
	t.Cleanup(func() { _ = UnlinkName(name) })
	q, err := Create(name, WithCapacity(4), WithMessageSize(256), WriteOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var out bytes.Buffer
	consumer := exec.Command(filepath.Join(dir, "consumer"), name)
	consumer.Stdout, consumer.Stderr = &out, &out
	if err := consumer.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; i < 10; i++ {
		msg, _ := json.Marshal(record{ID: i, Timestamp: float64(time.Now().UnixMilli()) / 1000, Value: i * 10})
		if err := q.SendContext(ctx, msg, uint(i%3)); err != nil {
			t.Fatal(err)
		}
	}
	// STOP has the highest priority: send it only once the consumer took
	// every record, or it would overtake the ones still queued.
	waitFor(t, "the consumer to drain the queue", func() bool {
		n, err := q.CurrentMessages()
		return err == nil && n == 0
	})
	if err := q.SendContext(ctx, []byte("STOP"), 99); err != nil {
		t.Fatal(err)
	}
	if err := consumer.Wait(); err != nil {
		t.Fatalf("C consumer: %v\n%s", err, out.String())
	}
	text := out.String()
	if !strings.Contains(text, "Consumer stopping after 10 messages") {
		t.Fatalf("C consumer output:\n%s", text)
	}
	for i := 0; i < 10; i++ {
		if !strings.Contains(text, fmt.Sprintf("Consumed (priority %d): {\"id\":%d,", i%3, i)) {
			t.Errorf("C consumer did not report record %d with priority %d:\n%s", i, i%3, text)
		}
	}
}

// C producer (examples/c/producer.c), Go consumer.
func TestInteropCProducerGoConsumer(t *testing.T) {
	dir, _ := buildCExamples(t)
	name := testName(t)
	q, err := Create(name, WithCapacity(4), WithMessageSize(256), ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupQueue(t, q) })
	var out bytes.Buffer
	producer := exec.Command(filepath.Join(dir, "producer"), name)
	producer.Stdout, producer.Stderr = &out, &out
	if err := producer.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	seen := map[int]bool{}
	record1 := func(msg []byte, prio uint) {
		var r record
		if err := json.Unmarshal(msg, &r); err != nil {
			t.Fatalf("record %q: %v", msg, err)
		}
		if prio != uint(r.ID%3) || r.Value != r.ID*10 || seen[r.ID] {
			t.Errorf("record %q with priority %d", msg, prio)
		}
		seen[r.ID] = true
	}
	for {
		msg, prio, err := q.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("receive: %v\nproducer output:\n%s", err, out.String())
		}
		if string(msg) == "STOP" {
			if prio != 99 {
				t.Errorf("STOP with priority %d", prio)
			}
			break
		}
		record1(msg, prio)
	}
	if err := producer.Wait(); err != nil {
		t.Fatalf("C producer: %v\n%s", err, out.String())
	}
	// STOP has the highest priority, so it overtakes records still queued
	// when this consumer lags: take those too.
	buf := make([]byte, q.MaxMessageSize())
	for {
		n, prio, err := q.ReceiveTimeout(buf, 0)
		if errors.Is(err, ErrWouldBlock) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		record1(buf[:n], prio)
	}
	if len(seen) != 10 {
		t.Fatalf("got %d records, want 10", len(seen))
	}
}
