package pmq

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if helper := os.Getenv("PMQ_GO_TEST_HELPER"); helper != "" {
		os.Exit(runHelper(helper))
	}
	code := m.Run()
	if left := leftoverQueues(); len(left) > 0 {
		for _, n := range left {
			_ = UnlinkName(n)
		}
		os.Stderr.WriteString("FAIL: tests left queues behind: " + strings.Join(left, " ") + "\n")
		code = 1
	}
	os.Exit(code)
}

func TestVersion(t *testing.T) {
	toml, err := os.ReadFile("../../../Cargo.toml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^version = "([^"]+)"`).FindSubmatch(toml)
	if m == nil {
		t.Fatal("no version in Cargo.toml")
	}
	if got := Version(); got != string(m[1]) {
		t.Errorf("Version() = %q, Cargo.toml says %q", got, m[1])
	}
	if VersionNumber() != HeaderVersionNumber {
		t.Errorf("VersionNumber() = %d, header says %d", VersionNumber(), HeaderVersionNumber)
	}
	if !Supported() {
		t.Error("Supported() = false on Linux")
	}
}

func TestLimits(t *testing.T) {
	l, err := Limits()
	if err != nil {
		t.Fatal(err)
	}
	if l.MsgMax < 1 || l.MsgSizeMax < 1 || l.QueuesMax < 1 {
		t.Errorf("implausible limits %+v", l)
	}
	if l.PriorityMax != PriorityMax || PriorityLimit() != PriorityMax {
		t.Errorf("priority max: limits %d, func %d, const %d", l.PriorityMax, PriorityLimit(), PriorityMax)
	}
	if int64(DefaultMaxMessages()) != l.MsgMax || int64(DefaultMessageSize()) != l.MsgSizeMax {
		t.Errorf("defaults %d/%d, limits %d/%d", DefaultMaxMessages(), DefaultMessageSize(), l.MsgMax, l.MsgSizeMax)
	}
	if c := QueueCost(10, 64); c < 640 {
		t.Errorf("QueueCost(10, 64) = %d, less than the payload", c)
	}
	if QueueCost(0, 64) != 0 {
		t.Error("QueueCost(0, 64) != 0")
	}
}

func TestSendReceivePriorityOrder(t *testing.T) {
	q := newQueue(t)
	msgs := []struct {
		data string
		prio uint
	}{{"low", 1}, {"high", 10}, {"medium", 5}, {"high-2", 10}}
	for _, m := range msgs {
		if err := q.Send([]byte(m.data), m.prio); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, q.MaxMessageSize())
	for _, want := range []struct {
		data string
		prio uint
	}{{"high", 10}, {"high-2", 10}, {"medium", 5}, {"low", 1}} {
		n, prio, err := q.Receive(buf)
		if err != nil {
			t.Fatal(err)
		}
		if string(buf[:n]) != want.data || prio != want.prio {
			t.Errorf("got %q prio %d, want %q prio %d", buf[:n], prio, want.data, want.prio)
		}
	}
}

func TestEmptyAndBinaryMessages(t *testing.T) {
	q := newQueue(t)
	bin := []byte{0, 1, 0, 255, 0}
	if err := q.Send(nil, 0); err != nil {
		t.Fatal(err)
	}
	if err := q.Send(bin, PriorityMax); err != nil {
		t.Fatal(err)
	}
	got, prio, err := q.ReceiveMessage(context.Background())
	if err != nil || !bytes.Equal(got, bin) || prio != PriorityMax {
		t.Fatalf("got %v prio %d err %v, want %v prio %d", got, prio, err, bin, PriorityMax)
	}
	got, prio, err = q.ReceiveMessage(nil) //nolint:staticcheck // nil means Background
	if err != nil || len(got) != 0 || prio != 0 {
		t.Fatalf("empty message: got %v prio %d err %v", got, prio, err)
	}
}

func TestAttributesAndAccessors(t *testing.T) {
	q := newQueue(t, WithCapacity(3), WithMessageSize(48), WithMode(0o640))
	if !strings.HasPrefix(q.Name(), "/"+namePrefix) {
		t.Errorf("Name() = %q", q.Name())
	}
	if q.Mode() != 0o640 {
		t.Errorf("Mode() = %o", q.Mode())
	}
	st, err := os.Stat("/dev/mqueue" + q.Name())
	if err != nil {
		t.Logf("mode on the mqueue filesystem not checked: %v", err)
	} else if st.Mode().Perm() != 0o640&^umask() {
		t.Errorf("queue file mode %o, want %o", st.Mode().Perm(), 0o640&^umask())
	}
	if q.MaxMessages() != 3 || q.MaxMessageSize() != 48 {
		t.Errorf("capacity %d size %d, want 3 and 48", q.MaxMessages(), q.MaxMessageSize())
	}
	if !q.CanRead() || !q.CanWrite() || !q.Blocking() {
		t.Error("default handle should be read-write and blocking")
	}
	for i := 0; i < 2; i++ {
		if err := q.Send([]byte("x"), 0); err != nil {
			t.Fatal(err)
		}
	}
	a, err := q.Attributes()
	if err != nil {
		t.Fatal(err)
	}
	if a != (Attributes{MaxMessages: 3, MaxMessageSize: 48, CurrentMessages: 2, Blocking: true}) {
		t.Errorf("Attributes() = %+v", a)
	}
	q.SetBlocking(false)
	if n, _ := q.CurrentMessages(); n != 2 {
		t.Errorf("CurrentMessages() = %d", n)
	}
	if a, _ := q.Attributes(); a.Blocking || q.Blocking() {
		t.Error("SetBlocking(false) not reflected")
	}
	if s := q.String(); !strings.Contains(s, q.Name()) || !strings.Contains(s, "2") {
		t.Errorf("String() = %q", s)
	}
	if s := q.GoString(); !strings.Contains(s, q.Name()) || !strings.Contains(s, "48") {
		t.Errorf("GoString() = %q", s)
	}
	fd, err := q.Fd()
	if err != nil || fd < 0 {
		t.Errorf("Fd() = %d, %v", fd, err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if s := q.String(); !strings.Contains(s, "closed") {
		t.Errorf("String() after close = %q", s)
	}
}

// umask reads the process umask (setting it back at once).
func umask() os.FileMode {
	old := syscall.Umask(0)
	syscall.Umask(old)
	return os.FileMode(old)
}

func TestRandomName(t *testing.T) {
	q, err := CreateRandom(WithCapacity(2), WithMessageSize(32))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupQueue(t, q) })
	if !regexp.MustCompile(`^/[^/]+$`).MatchString(q.Name()) {
		t.Fatalf("random name %q", q.Name())
	}
	q2, err := Open(q.Name())
	if err != nil {
		t.Fatalf("reopen random queue: %v", err)
	}
	defer q2.Close()
	if err := q2.Send([]byte("hi"), 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	if n, _, err := q.Receive(buf); err != nil || string(buf[:n]) != "hi" {
		t.Fatalf("got %q, %v", buf[:n], err)
	}
	if q.MaxMessages() != 2 {
		t.Errorf("capacity %d", q.MaxMessages())
	}
}

func TestOpenCreateUnlink(t *testing.T) {
	name := testName(t)
	_, err := Open(name)
	if !errors.Is(err, ErrNotExist) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a missing queue: %v", err)
	}
	q, err := Create(name, WithCapacity(2), WithMessageSize(16), Exclusive())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupQueue(t, q) })
	_, err = Create(name, WithFlags(OCrex))
	if !errors.Is(err, ErrExist) || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("exclusive create of an existing queue: %v", err)
	}
	// Create without Exclusive opens the existing queue; its attributes win.
	q2, err := Create(name, WithCapacity(3), WithMessageSize(32))
	if err != nil {
		t.Fatal(err)
	}
	if q2.MaxMessages() != 2 || q2.MaxMessageSize() != 16 {
		t.Errorf("existing queue's attributes: %d x %d", q2.MaxMessages(), q2.MaxMessageSize())
	}
	q2.Close()
	if err := q.Unlink(); err != nil {
		t.Fatal(err)
	}
	// Still usable after unlink.
	if err := q.Send([]byte("a"), 0); err != nil {
		t.Fatalf("send after unlink: %v", err)
	}
	if err := UnlinkName(name); !errors.Is(err, ErrNotExist) {
		t.Fatalf("second unlink: %v", err)
	}
	// Unlink after Close works (by name); a fresh queue of the same name.
	q3, err := Create(name, WithCapacity(2), WithMessageSize(16), Exclusive())
	if err != nil {
		t.Fatalf("re-create after unlink: %v", err)
	}
	if n, _ := q3.CurrentMessages(); n != 0 {
		t.Errorf("re-created queue has %d messages", n)
	}
	q3.Close()
	if err := q3.Unlink(); err != nil {
		t.Fatalf("Unlink after Close: %v", err)
	}
}

func TestErrors(t *testing.T) {
	q := newQueue(t, WithCapacity(2), WithMessageSize(16))
	check := func(what string, err error, sentinel error, detailHas string) *Error {
		t.Helper()
		if !errors.Is(err, sentinel) {
			t.Fatalf("%s: got %v, want %v", what, err, sentinel)
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: %T is not *Error", what, err)
		}
		if e.Detail == "" || !strings.Contains(err.Error(), detailHas) {
			t.Errorf("%s: error %q lacks detail %q", what, err, detailHas)
		}
		return e
	}

	_, err := Open("no-slash")
	check("bad name", err, ErrInvalid, "no-slash")
	_, err = Create(testName(t), WithAccess(false, false))
	check("neither read nor write", err, ErrInvalid, "")

	ro := openAgain(t, q, ReadOnly())
	check("send on read-only", ro.Send([]byte("x"), 0), ErrPermission, "")
	if !errors.Is(ro.Send([]byte("x"), 0), fs.ErrPermission) {
		t.Error("ErrPermission does not match fs.ErrPermission")
	}
	wo := openAgain(t, q, WriteOnly())
	_, _, err = wo.Receive(make([]byte, 16))
	check("receive on write-only", err, ErrPermission, "")

	check("too large", q.Send(make([]byte, 17), 0), ErrMessageTooLarge, "16")
	check("priority", q.Send([]byte("x"), PriorityMax+1), ErrInvalid, "")
	check("priority beyond uint32", q.Send([]byte("x"), 1<<40), ErrInvalid, "")

	if err := q.Send([]byte("keep"), 0); err != nil {
		t.Fatal(err)
	}
	_, _, err = q.Receive(make([]byte, 8))
	e := check("small buffer", err, ErrBufferTooSmall, "")
	if e.Needed != 16 {
		t.Errorf("Needed = %d, want 16", e.Needed)
	}
	if n, _ := q.CurrentMessages(); n != 1 {
		t.Errorf("a failed receive took the message: %d left", n)
	}

	_, _, err = q.ReceiveTimeout(make([]byte, 16), -time.Second)
	check("negative timeout", err, ErrInvalid, "negative")
	check("negative send timeout", q.SendTimeout(nil, 0, -1), ErrInvalid, "negative")

	_, err = Create(testName(t), WithCapacity(100000), WithMessageSize(16), Exclusive())
	if !errors.Is(err, ErrLimit) && !errors.Is(err, ErrInvalid) {
		t.Errorf("capacity above msg_max: %v", err)
	} else if !strings.Contains(err.Error(), "msg_max") {
		t.Errorf("capacity above msg_max: detail does not name the limit: %v", err)
	}

	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	check("double close", q.Close(), ErrClosed, "")
	check("send after close", q.Send([]byte("x"), 0), ErrClosed, "")
	_, _, err = q.Receive(make([]byte, 16))
	check("receive after close", err, ErrClosed, "")
	_, err = q.Attributes()
	check("attributes after close", err, ErrClosed, "")
	if !errors.Is(q.Send(nil, 0), fs.ErrClosed) {
		t.Error("ErrClosed does not match fs.ErrClosed")
	}
	check("notify after close", q.Notify(make(chan *Queue, 1)), ErrClosed, "")

	if StatusTimedOut.String() != "PMQ_STATUS_TIMED_OUT" || Status(9999).Sentinel() != ErrUnknown {
		t.Errorf("status names: %s, %v", StatusTimedOut, Status(9999).Sentinel())
	}
	if !IsBusy(goError("x", "", StatusTimedOut, "")) || IsBusy(goError("x", "", StatusClosed, "")) {
		t.Error("IsBusy grouping wrong")
	}
}

func TestNonBlocking(t *testing.T) {
	q := newQueue(t, WithBlocking(false), WithCapacity(1))
	if q.Blocking() {
		t.Fatal("WithBlocking(false) ignored")
	}
	buf := make([]byte, 64)
	// These would wait forever on a blocking queue.
	if _, _, err := q.Receive(buf); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("Receive on empty non-blocking queue: %v", err)
	}
	if _, _, err := q.ReceiveContext(context.Background(), buf); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("ReceiveContext on empty non-blocking queue: %v", err)
	}
	if _, _, err := q.ReceiveTimeout(buf, time.Hour); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("ReceiveTimeout on empty non-blocking queue: %v", err)
	}
	if err := q.Send([]byte("a"), 0); err != nil {
		t.Fatal(err)
	}
	if err := q.SendTimeout([]byte("b"), 0, time.Hour); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("Send on full non-blocking queue: %v", err)
	}
	if err := q.SendContext(context.Background(), []byte("b"), 0); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("SendContext on full non-blocking queue: %v", err)
	}
	// Switching to blocking makes a receive wait for a sender.
	q.SetBlocking(true)
	if n, _, err := q.Receive(buf); err != nil || string(buf[:n]) != "a" {
		t.Fatalf("got %q, %v", buf[:n], err)
	}
	go func() { _ = openAgain(t, q).Send([]byte("later"), 0) }()
	if n, _, err := q.Receive(buf); err != nil || string(buf[:n]) != "later" {
		t.Fatalf("blocking receive: %q, %v", buf[:n], err)
	}
}

func TestTimeouts(t *testing.T) {
	q := newQueue(t, WithCapacity(1))
	buf := make([]byte, 64)
	_, _, err := q.ReceiveTimeout(buf, 0)
	if !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("ReceiveTimeout(0) on empty queue: %v", err)
	}
	_, _, err = q.ReceiveTimeout(buf, 20*time.Millisecond)
	var e *Error
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &e) || !e.Timeout() {
		t.Fatalf("ReceiveTimeout on empty queue: %v", err)
	}
	if err := q.Send([]byte("fill"), 3); err != nil {
		t.Fatal(err)
	}
	if err := q.SendTimeout([]byte("x"), 0, 0); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("SendTimeout(0) on full queue: %v", err)
	}
	if err := q.SendTimeout([]byte("x"), 0, 20*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("SendTimeout on full queue: %v", err)
	}
	if n, _ := q.CurrentMessages(); n != 1 {
		t.Fatalf("a timed-out send changed the queue: %d messages", n)
	}
	n, prio, err := q.ReceiveTimeout(buf, time.Minute)
	if err != nil || string(buf[:n]) != "fill" || prio != 3 {
		t.Fatalf("got %q prio %d err %v", buf[:n], prio, err)
	}
}

func TestSendWaitsForRoom(t *testing.T) {
	q := newQueue(t, WithCapacity(1))
	if err := q.Send([]byte("first"), 0); err != nil {
		t.Fatal(err)
	}
	sent := make(chan error, 1)
	go func() { sent <- q.SendContext(context.Background(), []byte("second"), 0) }()
	waitFor(t, "the sender to wait", func() bool { return q.waiting.Load() == 1 })
	buf := make([]byte, 64)
	for _, want := range []string{"first", "second"} {
		n, _, err := q.Receive(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("got %q, %v; want %q", buf[:n], err, want)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

func TestContextCancellation(t *testing.T) {
	q := newQueue(t)
	buf := make([]byte, 64)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := q.ReceiveContext(ctx, buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := q.ReceiveContext(ctx, buf); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("context deadline: %v", err)
	}

	// Three receivers wait; cancelling any one of them (whether it waits in
	// the poller or for its turn) ends only that one, and no message is lost.
	type result struct {
		id  int
		msg string
		err error
	}
	results := make(chan result, 3)
	ctxs := make([]context.CancelFunc, 3)
	for i := 0; i < 3; i++ {
		c, cf := context.WithCancel(context.Background())
		ctxs[i] = cf
		go func(id int) {
			b := make([]byte, 64)
			n, _, err := q.ReceiveContext(c, b)
			results <- result{id, string(b[:n]), err}
		}(i)
		waitFor(t, "receiver to wait", func() bool { return q.waiting.Load() == int64(i+1) })
		if i == 0 {
			waitFor(t, "receiver 0 to wait in the poller", func() bool { return q.polling.Load() == 1 })
		}
	}
	ctxs[0]() // the one waiting in the poller
	r := <-results
	if r.id != 0 || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("after cancelling receiver 0: %+v", r)
	}
	ctxs[2]() // one waiting for its turn
	r = <-results
	if r.id != 2 || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("after cancelling receiver 2: %+v", r)
	}
	if err := q.Send([]byte("for-1"), 0); err != nil {
		t.Fatal(err)
	}
	r = <-results
	if r.id != 1 || r.err != nil || r.msg != "for-1" {
		t.Fatalf("remaining receiver: %+v", r)
	}
	ctxs[1]()
	if n, _ := q.CurrentMessages(); n != 0 {
		t.Fatalf("%d messages left", n)
	}
}

func TestCloseWakesWaiters(t *testing.T) {
	q := newQueue(t)
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() {
			_, _, err := q.Receive(make([]byte, 64))
			errs <- err
		}()
	}
	waitFor(t, "three receivers to wait", func() bool { return q.waiting.Load() == 3 })
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Fatalf("waiter after Close: %v", err)
		}
	}
}
