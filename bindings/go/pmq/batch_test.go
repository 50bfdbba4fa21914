package pmq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

var backends = []struct {
	name string
	b    Backend
}{{"kernel", BackendKernel}, {"shm", BackendShm}}

// newBackendQueue creates a new queue of backend b (capacity x size bytes),
// closed and unlinked when the test ends.
func newBackendQueue(t *testing.T, b Backend, capacity, size int, opts ...Option) *Queue {
	t.Helper()
	name := testName(t)
	all := append([]Option{Exclusive(), WithBackend(b), WithCapacity(capacity), WithMessageSize(size)}, opts...)
	q, err := Create(name, all...)
	if err != nil {
		t.Fatalf("Create(%s): %v", name, err)
	}
	t.Cleanup(func() {
		_ = q.Close()
		if err := UnlinkBackend(name, b); err != nil && !isNotExist(err) {
			t.Errorf("unlink %s: %v", name, err)
		}
	})
	return q
}

func eachBackend(t *testing.T, f func(t *testing.T, b Backend)) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { f(t, be.b) })
	}
}

type got struct {
	msg  string
	prio uint
}

// received copies out what a ReceiveBatch returned, checking that every
// message lies inside buf and that none overlaps another.
func received(t *testing.T, buf []byte, out []Received, n int) []got {
	t.Helper()
	var res []got
	end := 0
	for i := 0; i < n; i++ {
		r := out[i]
		if r.Offset < end || r.Len < 0 || r.Offset+r.Len > len(buf) {
			t.Fatalf("message %d at [%d, %d+%d): outside buf (%d) or overlapping (previous end %d)",
				i, r.Offset, r.Offset, r.Len, len(buf), end)
		}
		end = r.Offset + r.Len
		res = append(res, got{string(buf[r.Offset : r.Offset+r.Len]), r.Priority})
	}
	return res
}

func TestBatchOrderAndBytes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b Backend) {
		q := newBackendQueue(t, b, 8, 64)
		big := bytes.Repeat([]byte{0xA5}, 64)
		msgs := []Message{{[]byte("a1"), 1}, {nil, 5}, {[]byte("b1\x00x"), 1}, {big, 5}, {[]byte("c0"), 0}}
		n, err := q.SendBatch(msgs)
		if err != nil || n != 5 {
			t.Fatalf("SendBatch: %d %v", n, err)
		}
		buf := make([]byte, 64*8)
		out := make([]Received, 16)
		n, err = q.ReceiveBatchTimeout(buf, out, 0)
		if err != nil || n != 5 {
			t.Fatalf("ReceiveBatch: %d %v", n, err)
		}
		want := []got{{"", 5}, {string(big), 5}, {"a1", 1}, {"b1\x00x", 1}, {"c0", 0}}
		if g := received(t, buf, out, n); fmt.Sprint(g) != fmt.Sprint(want) {
			t.Fatalf("got %q, want %q", g, want)
		}
		if c, _ := q.CurrentMessages(); c != 0 {
			t.Fatalf("%d messages left", c)
		}
	})
}

func TestBatchPartialAtCapacity(t *testing.T) {
	eachBackend(t, func(t *testing.T, b Backend) {
		q := newBackendQueue(t, b, 4, 16)
		var msgs []Message
		for i := 0; i < 6; i++ {
			msgs = append(msgs, Message{[]byte{byte('0' + i)}, 2})
		}
		n, err := q.SendBatchTimeout(msgs, 0)
		if err != nil || n != 4 {
			t.Fatalf("first batch: %d %v, want 4 of 6", n, err)
		}
		if n, err := q.SendBatchTimeout(msgs[4:], 0); !errors.Is(err, ErrWouldBlock) || n != 0 {
			t.Fatalf("full queue: %d %v", n, err)
		}
		buf := make([]byte, 16*4)
		out := make([]Received, 4)
		if n, err := q.ReceiveBatch(buf, out[:2]); err != nil || n != 2 {
			t.Fatalf("receive 2: %d %v", n, err)
		}
		if g := received(t, buf, out, 2); fmt.Sprint(g) != fmt.Sprint([]got{{"0", 2}, {"1", 2}}) {
			t.Fatalf("got %q", g)
		}
		if n, err := q.SendBatch(msgs[4:]); err != nil || n != 2 {
			t.Fatalf("the rest: %d %v", n, err)
		}
		n, err = q.ReceiveBatch(buf, out)
		if err != nil || n != 4 {
			t.Fatalf("receive all: %d %v", n, err)
		}
		if g := received(t, buf, out, n); fmt.Sprint(g) != fmt.Sprint([]got{{"2", 2}, {"3", 2}, {"4", 2}, {"5", 2}}) {
			t.Fatalf("got %q", g)
		}
	})
}

func TestBatchInvalidMessageSendsNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, b Backend) {
		q := newBackendQueue(t, b, 4, 16)
		ok := []byte("ok")
		cases := []struct {
			msgs     []Message
			sentinel error
			index    string
		}{
			{[]Message{{ok, 0}, {ok, 0}, {make([]byte, 17), 0}}, ErrMessageTooLarge, "message 2 "},
			{[]Message{{ok, 0}, {ok, PriorityMax + 1}}, ErrInvalid, "message 1 "},
			{[]Message{{ok, math.MaxUint32 + 1}}, ErrInvalid, "message 0 "},
		}
		for _, c := range cases {
			n, err := q.SendBatchTimeout(c.msgs, 0)
			var e *Error
			if !errors.Is(err, c.sentinel) || n != 0 || !errors.As(err, &e) || !strings.Contains(e.Detail, c.index) {
				t.Fatalf("%d messages: %d %v, want %v naming %q", len(c.msgs), n, err, c.sentinel, c.index)
			}
			if e.Op != "send batch" || e.Queue != q.Name() {
				t.Fatalf("error op %q queue %q", e.Op, e.Queue)
			}
			if c, _ := q.CurrentMessages(); c != 0 {
				t.Fatalf("%d messages sent", c)
			}
		}
		if n, err := q.SendBatch([]Message{{ok, PriorityMax}}); err != nil || n != 1 {
			t.Fatalf("PriorityMax: %d %v", n, err)
		}
	})
}

func TestBatchEmptyAndBufferTooSmall(t *testing.T) {
	eachBackend(t, func(t *testing.T, b Backend) {
		q := newBackendQueue(t, b, 4, 64)
		if n, err := q.SendBatch(nil); n != 0 || err != nil {
			t.Fatalf("empty send: %d %v", n, err)
		}
		if _, err := q.SendBatch([]Message{{[]byte("x"), 0}}); err != nil {
			t.Fatal(err)
		}
		if n, err := q.ReceiveBatch(make([]byte, 64), nil); n != 0 || err != nil {
			t.Fatalf("empty receive: %d %v", n, err)
		}
		n, err := q.ReceiveBatch(make([]byte, 63), make([]Received, 4))
		var e *Error
		if !errors.Is(err, ErrBufferTooSmall) || n != 0 || !errors.As(err, &e) || e.Needed != 64 {
			t.Fatalf("small buffer: %d %v", n, err)
		}
		if _, err := q.ReceiveBatch(nil, make([]Received, 4)); !errors.Is(err, ErrBufferTooSmall) {
			t.Fatalf("nil buffer: %v", err)
		}
		if c, _ := q.CurrentMessages(); c != 1 {
			t.Fatalf("%d messages left, want 1 (nothing taken)", c)
		}
	})
}

// The kernel receives a message only where max_message_size bytes are left;
// shm packs by length. With one max_message_size (64) of buffer and 10-byte
// messages: 1 and 6. A buffer of len(out) x max_message_size never limits.
func TestBatchBufferBoundsTheBatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, b Backend) {
		q := newBackendQueue(t, b, 8, 64)
		msgs := make([]Message, 8)
		for i := range msgs {
			msgs[i] = Message{Data: bytes.Repeat([]byte{byte(i)}, 10)}
		}
		if n, err := q.SendBatch(msgs); err != nil || n != 8 {
			t.Fatal(n, err)
		}
		buf := make([]byte, 64)
		out := make([]Received, 8)
		n, err := q.ReceiveBatch(buf, out)
		want := 1
		if b == BackendShm {
			want = 6
		}
		if err != nil || n != want {
			t.Fatalf("took %d (%v), want %d", n, err, want)
		}
		buf = make([]byte, 8*64)
		m, err := q.ReceiveBatch(buf, out)
		if err != nil || n+m != 8 {
			t.Fatalf("then %d (%v), want the other %d", m, err, 8-n)
		}
		for i, g := range received(t, buf, out, m) {
			if g.msg != strings.Repeat(string(rune(n+i)), 10) {
				t.Fatalf("message %d: %q", n+i, g.msg)
			}
		}
	})
}

func TestBatchManyMessages(t *testing.T) {
	// More than the shim's stack array (64): its malloc path.
	q := newBackendQueue(t, BackendShm, 200, 8)
	msgs := make([]Message, 200)
	for i := range msgs {
		msgs[i] = Message{[]byte(fmt.Sprint(i)), uint(i % 3)}
	}
	if n, err := q.SendBatch(msgs); err != nil || n != 200 {
		t.Fatal(n, err)
	}
	buf := make([]byte, 200*8)
	out := make([]Received, 300)
	n, err := q.ReceiveBatch(buf, out)
	if err != nil || n != 200 {
		t.Fatal(n, err)
	}
	g := received(t, buf, out, n)
	i := 0
	for prio := 2; prio >= 0; prio-- {
		for k := prio; k < 200; k += 3 {
			if g[i] != (got{fmt.Sprint(k), uint(prio)}) {
				t.Fatalf("message %d: %v, want %d prio %d", i, g[i], k, prio)
			}
			i++
		}
	}
}

// Messages of pinFrom bytes or more are pinned and passed in place, the
// others copied: mixed in one batch, each must arrive whole and in order,
// also when the batch waited for room first (the pins held over the wait).
func TestBatchMixedLongAndShortMessages(t *testing.T) {
	eachBackend(t, func(t *testing.T, b Backend) {
		q := newBackendQueue(t, b, 6, 4096)
		long := func(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }
		msgs := []Message{{[]byte("s0"), 0}, {long('A', pinFrom), 0}, {nil, 0}, {long('B', 4096), 0},
			{[]byte("s4"), 0}, {long('C', pinFrom-1), 0}}
		var want []got
		for _, m := range msgs {
			want = append(want, got{string(m.Data), 0})
		}
		buf := make([]byte, 6*4096)
		out := make([]Received, 6)
		if n, err := q.SendBatch(msgs); err != nil || n != 6 {
			t.Fatal(n, err)
		}
		n, err := q.ReceiveBatch(buf, out)
		if g := received(t, buf, out, n); err != nil || fmt.Sprint(g) != fmt.Sprint(want) {
			t.Fatalf("%v: got %.60q", err, g)
		}

		fill := make([]Message, 6)
		for i := range fill {
			fill[i] = Message{Data: []byte("fill")}
		}
		if n, err := q.SendBatch(fill); err != nil || n != 6 {
			t.Fatal(n, err)
		}
		go func() {
			time.Sleep(30 * time.Millisecond)
			b2, o2 := make([]byte, 3*4096), make([]Received, 3)
			if m, err := q.ReceiveBatch(b2, o2); err != nil || m != 3 {
				t.Errorf("making room: %d %v", m, err)
			}
		}()
		sent, err := q.SendBatchTimeout(msgs[1:4], 30*time.Second) // waits for room
		if err != nil || sent < 1 {
			t.Fatal(sent, err)
		}
		waitFor(t, "the room-making receive", func() bool { c, _ := q.CurrentMessages(); return c == 3+sent })
		n, err = q.ReceiveBatch(buf, out)
		if err != nil || n != 3+sent {
			t.Fatal(n, err)
		}
		if g := received(t, buf, out, n)[3:]; fmt.Sprint(g) != fmt.Sprint(want[1:1+sent]) {
			t.Fatalf("sent after the wait: %.60q", g)
		}
	})
}

func TestBatchCopiesAtTheCall(t *testing.T) {
	q := newQueue(t)
	data := []byte("before")
	if _, err := q.SendBatch([]Message{{data, 0}}); err != nil {
		t.Fatal(err)
	}
	copy(data, "AFTER!")
	buf := make([]byte, 64)
	n, _, err := q.Receive(buf)
	if err != nil || string(buf[:n]) != "before" {
		t.Fatalf("%q %v", buf[:n], err)
	}
}

func TestBatchTimeoutsAndNonBlocking(t *testing.T) {
	eachBackend(t, func(t *testing.T, b Backend) {
		q := newBackendQueue(t, b, 2, 16)
		buf := make([]byte, 32)
		out := make([]Received, 2)
		if _, err := q.ReceiveBatchTimeout(buf, out, 0); !errors.Is(err, ErrWouldBlock) {
			t.Fatalf("try once, empty: %v", err)
		}
		t0 := time.Now()
		if _, err := q.ReceiveBatchTimeout(buf, out, 30*time.Millisecond); !errors.Is(err, ErrTimeout) {
			t.Fatalf("timed, empty: %v", err)
		}
		if time.Since(t0) < 30*time.Millisecond {
			t.Fatal("the timeout ran out early")
		}
		if _, err := q.ReceiveBatchTimeout(buf, out, -time.Second); !errors.Is(err, ErrInvalid) {
			t.Fatalf("negative: %v", err)
		}
		two := []Message{{[]byte("1"), 0}, {[]byte("2"), 0}}
		if n, err := q.SendBatch(two); err != nil || n != 2 {
			t.Fatal(n, err)
		}
		if _, err := q.SendBatchTimeout(two, 30*time.Millisecond); !errors.Is(err, ErrTimeout) {
			t.Fatalf("timed, full: %v", err)
		}
		if _, err := q.SendBatchTimeout(two, -1); !errors.Is(err, ErrInvalid) {
			t.Fatalf("negative: %v", err)
		}
		q.SetBlocking(false)
		if _, err := q.SendBatch(two); !errors.Is(err, ErrWouldBlock) {
			t.Fatalf("non-blocking, full: %v", err)
		}
		if _, err := q.SendBatchTimeout(two, 5*time.Second); !errors.Is(err, ErrWouldBlock) {
			t.Fatalf("non-blocking with a timeout, full: %v", err)
		}
		if n, err := q.ReceiveBatch(buf, out); err != nil || n != 2 {
			t.Fatal(n, err)
		}
		if _, err := q.ReceiveBatch(buf, out); !errors.Is(err, ErrWouldBlock) {
			t.Fatalf("non-blocking, empty: %v", err)
		}
		t0 = time.Now()
		if _, err := q.ReceiveBatchTimeout(buf, out, 5*time.Second); !errors.Is(err, ErrWouldBlock) || time.Since(t0) > 2*time.Second {
			t.Fatalf("non-blocking with a timeout, empty: %v after %v", err, time.Since(t0))
		}
	})
}

func TestBatchWaitsForTheFirstMessage(t *testing.T) {
	eachBackend(t, func(t *testing.T, b Backend) {
		q := newBackendQueue(t, b, 4, 16)
		sender, err := Open(q.Name(), WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		defer sender.Close()
		go func() {
			time.Sleep(30 * time.Millisecond)
			_, _ = sender.SendBatch([]Message{{[]byte("late"), 3}, {[]byte("later"), 0}})
		}()
		buf := make([]byte, 16*4)
		out := make([]Received, 4)
		n, err := q.ReceiveBatchTimeout(buf, out, 30*time.Second)
		if err != nil || n < 1 {
			t.Fatal(n, err)
		}
		g := received(t, buf, out, n)
		if n == 1 {
			m, err := q.ReceiveBatch(buf, out)
			if err != nil {
				t.Fatal(err)
			}
			g = append(g, received(t, buf, out, m)...)
		}
		if fmt.Sprint(g) != fmt.Sprint([]got{{"late", 3}, {"later", 0}}) {
			t.Fatalf("got %q", g)
		}

		// A full queue: SendBatch waits for room, then sends what fits.
		fill := []Message{{[]byte("f"), 0}, {[]byte("f"), 0}, {[]byte("f"), 0}, {[]byte("f"), 0}}
		if n, err := q.SendBatch(fill); err != nil || n != 4 {
			t.Fatal(n, err)
		}
		go func() {
			time.Sleep(30 * time.Millisecond)
			_, _, _ = sender.ReceiveTimeout(buf[:16], 5*time.Second)
		}()
		if n, err := q.SendBatch([]Message{{[]byte("n1"), 0}, {[]byte("n2"), 0}}); err != nil || n != 1 {
			t.Fatalf("after room for one: %d %v", n, err)
		}
	})
}

func TestBatchContextAndClose(t *testing.T) {
	eachBackend(t, func(t *testing.T, b Backend) {
		q := newBackendQueue(t, b, 1, 16)
		buf := make([]byte, 16)
		out := make([]Received, 1)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(30*time.Millisecond, cancel)
		if _, err := q.ReceiveBatchContext(ctx, buf, out); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled receive: %v", err)
		}
		if _, err := q.SendBatchContext(context.Background(), []Message{{[]byte("x"), 0}}); err != nil {
			t.Fatal(err)
		}
		dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer dcancel()
		if _, err := q.SendBatchContext(dctx, []Message{{[]byte("y"), 0}}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("send past the deadline: %v", err)
		}
		if n, err := q.ReceiveBatchContext(context.Background(), buf, out); err != nil || n != 1 || string(buf[:out[0].Len]) != "x" {
			t.Fatalf("%d %v", n, err)
		}

		// Close wakes a waiting batch receive with ErrClosed.
		waiter, err := Open(q.Name(), WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(30*time.Millisecond, func() { _ = waiter.Close() })
		if _, err := waiter.ReceiveBatch(buf, out); !errors.Is(err, ErrClosed) {
			t.Fatalf("closed while waiting: %v", err)
		}
		if _, err := waiter.SendBatch([]Message{{[]byte("z"), 0}}); !errors.Is(err, ErrClosed) {
			t.Fatalf("after close: %v", err)
		}
		if _, err := waiter.ReceiveBatchTimeout(buf, out, 0); !errors.Is(err, ErrClosed) {
			t.Fatalf("after close: %v", err)
		}
	})
}

func TestBatchAccess(t *testing.T) {
	q := newQueue(t)
	ro := openAgain(t, q, ReadOnly())
	wo := openAgain(t, q, WriteOnly())
	if _, err := ro.SendBatch([]Message{{[]byte("x"), 0}}); !errors.Is(err, ErrPermission) {
		t.Fatalf("read-only send: %v", err)
	}
	if _, err := wo.ReceiveBatch(make([]byte, 64), make([]Received, 1)); !errors.Is(err, ErrPermission) {
		t.Fatalf("write-only receive: %v", err)
	}
}

// Batch senders and receivers in several goroutines: every message exactly
// once (and the Queue's kept buffers shared safely: run with -race).
func TestBatchConcurrentExactlyOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, b Backend) {
		q := newBackendQueue(t, b, 8, 16)
		const senders, perSender, receivers = 4, 300, 3
		total := senders * perSender
		var wg sync.WaitGroup
		for s := 0; s < senders; s++ {
			wg.Add(1)
			go func(s int) {
				defer wg.Done()
				var msgs []Message
				for i := 0; i < perSender; i++ {
					msgs = append(msgs, Message{[]byte(fmt.Sprintf("%d-%d", s, i)), 0})
				}
				for len(msgs) > 0 {
					k := min(len(msgs), 5)
					n, err := q.SendBatchTimeout(msgs[:k], 30*time.Second)
					if err != nil {
						t.Error(err)
						return
					}
					msgs = msgs[n:]
				}
			}(s)
		}
		var mu sync.Mutex
		seen := map[string]int{}
		count := 0
		var rg sync.WaitGroup
		giveUp := time.Now().Add(60 * time.Second) // a failed sender must not hang the test
		for r := 0; r < receivers; r++ {
			rg.Add(1)
			go func() {
				defer rg.Done()
				buf := make([]byte, 16*8)
				out := make([]Received, 8)
				for {
					n, err := q.ReceiveBatchTimeout(buf, out, 200*time.Millisecond)
					mu.Lock()
					done := count == total
					if err == nil {
						for _, g := range received(t, buf, out, n) {
							seen[g.msg]++
							count++
						}
					}
					mu.Unlock()
					if done {
						return
					}
					if time.Now().After(giveUp) {
						t.Error("gave up waiting for the messages")
						return
					}
					if err != nil && !errors.Is(err, ErrTimeout) {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		rg.Wait()
		if len(seen) != total || count != total {
			t.Fatalf("%d distinct of %d received, %d in all", len(seen), total, count)
		}
	})
}

// A batch that completes at once allocates nothing: the Queue keeps the
// copy buffers, the shim returns the outcome by value.
func TestNoAllocationsPerBatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, b Backend) {
		q := newBackendQueue(t, b, 8, 64)
		msgs := make([]Message, 8)
		for i := range msgs {
			msgs[i] = Message{[]byte("sixteen bytes!!!"), uint(i % 2)}
		}
		buf := make([]byte, 8*64)
		out := make([]Received, 8)
		var failed error
		allocs := testing.AllocsPerRun(300, func() {
			if n, err := q.SendBatch(msgs); (err != nil || n != 8) && failed == nil {
				failed = fmt.Errorf("send: %d %v", n, err)
			}
			if n, err := q.ReceiveBatch(buf, out); (err != nil || n != 8) && failed == nil {
				failed = fmt.Errorf("receive: %d %v", n, err)
			}
		})
		if failed != nil {
			t.Fatal(failed)
		}
		if allocs != 0 {
			t.Errorf("%v heap allocations per batch pair, want 0", allocs)
		}
	})
}
