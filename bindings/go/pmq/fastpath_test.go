package pmq

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A send and a receive that complete at once allocate nothing on the heap
// the C shim returns the outcome by value, no closure is made,
// an *Error is built only on failure. Counts allocations; times nothing.
func TestNoAllocationsPerSendReceive(t *testing.T) {
	q := newQueue(t, WithCapacity(1))
	msg := []byte("sixteen bytes!!!")
	buf := make([]byte, 64)
	ctx := context.Background()
	check := func(n int, prio uint, err error) error {
		if err != nil {
			return err
		}
		if n != len(msg) || prio != 7 || string(buf[:n]) != string(msg) {
			return fmt.Errorf("received %q prio %d", buf[:n], prio)
		}
		return nil
	}
	cases := []struct {
		name string
		pair func() error
	}{
		{"Send+Receive", func() error {
			if err := q.Send(msg, 7); err != nil {
				return err
			}
			return check(q.Receive(buf))
		}},
		{"SendTimeout+ReceiveTimeout, 1s", func() error {
			if err := q.SendTimeout(msg, 7, time.Second); err != nil {
				return err
			}
			return check(q.ReceiveTimeout(buf, time.Second))
		}},
		{"SendTimeout+ReceiveTimeout, 0", func() error {
			if err := q.SendTimeout(msg, 7, 0); err != nil {
				return err
			}
			return check(q.ReceiveTimeout(buf, 0))
		}},
		{"SendContext+ReceiveContext", func() error {
			if err := q.SendContext(ctx, msg, 7); err != nil {
				return err
			}
			return check(q.ReceiveContext(ctx, buf))
		}},
	}
	for _, c := range cases {
		var failed error
		allocs := testing.AllocsPerRun(500, func() {
			if err := c.pair(); err != nil && failed == nil {
				failed = err
			}
		})
		if failed != nil {
			t.Fatalf("%s: %v", c.name, failed)
		}
		if allocs != 0 {
			t.Errorf("%s: %v heap allocations per pair, want 0", c.name, allocs)
		}
	}
}

// epollTargets returns, for every epoll instance of this process, the
// inode numbers of the files it watches (the "tfd:" lines of
// /proc/self/fdinfo; by inode, so a dup of a descriptor counts too).
func epollTargets(t *testing.T) map[int][]uint64 {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]uint64{}
	for _, e := range entries {
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || link != "anon_inode:[eventpoll]" {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue // closed meanwhile
		}
		epfd, _ := strconv.Atoi(e.Name())
		out[epfd] = []uint64{}
		for _, line := range strings.Split(string(info), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || f[0] != "tfd:" {
				continue
			}
			for _, field := range f {
				if v, ok := strings.CutPrefix(field, "ino:"); ok {
					if ino, err := strconv.ParseUint(v, 16, 64); err == nil {
						out[epfd] = append(out[epfd], ino)
					}
				}
			}
		}
	}
	return out
}

// watchers lists the epoll instances that watch the file open on fd.
func watchers(t *testing.T, fd int) []int {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	var w []int
	for epfd, targets := range epollTargets(t) {
		for _, ino := range targets {
			if ino == st.Ino {
				w = append(w, epfd)
			}
		}
	}
	return w
}

// The queue descriptor is in no epoll instance (neither the runtime
// poller's nor the Queue's own) unless a goroutine waits on it: sends and
// receives that complete at once cause no epoll wake-ups. While a receiver
// waits it is watched (which also shows the check above can fail).
func TestQueueDescriptorWatchedOnlyWhileWaiting(t *testing.T) {
	q := newQueue(t, WithCapacity(1))
	fd, err := q.Fd()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if err := q.Send([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := q.Receive(buf); err != nil {
		t.Fatal(err)
	}
	if w := watchers(t, fd); len(w) != 0 {
		t.Fatalf("after a send and a receive that did not wait, epoll instances %v watch the queue descriptor %d", w, fd)
	}

	got := make(chan error, 1)
	go func() {
		_, _, err := q.Receive(buf)
		got <- err
	}()
	waitFor(t, "the receiver to wait in the poller", func() bool { return q.polling.Load() == 1 })
	waitFor(t, "the queue descriptor to be watched", func() bool { return len(watchers(t, fd)) == 1 })
	// (os.File.Fd would switch the instance to blocking mode: Control.)
	rdfd := -1
	if err := q.rd.conn.Control(func(f uintptr) { rdfd = int(f) }); err != nil {
		t.Fatal(err)
	}
	if w := watchers(t, fd); len(w) != 1 || w[0] != rdfd {
		t.Fatalf("while a receiver waits: watched by %v, want only the receive instance %d", w, rdfd)
	}
	if err := q.Send([]byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if w := watchers(t, fd); len(w) != 0 {
		t.Fatalf("after the wait ended, epoll instances %v still watch the queue descriptor %d", w, fd)
	}
}

// Close while other goroutines send, receive (trying once and waiting) and
// read attributes: every call returns normally or with ErrClosed, none
// fails otherwise or hangs, and Close frees the handle only after the C
// calls in progress returned (a use after free would crash or corrupt).
func TestCloseRacesWithCalls(t *testing.T) {
	for round := 0; round < 30; round++ {
		name := testName(t)
		q, err := Create(name, Exclusive(), WithCapacity(2), WithMessageSize(64))
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Unlink(); err != nil { // nothing left behind, whatever happens
			t.Fatal(err)
		}
		errs := make(chan error, 8)
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 64)
				for i := g; ; i++ {
					var err error
					switch i % 4 {
					case 0:
						err = q.SendTimeout([]byte("x"), 0, 0)
					case 1:
						_, _, err = q.ReceiveTimeout(buf, 0)
					case 2:
						_, err = q.Attributes()
					case 3:
						_, _, err = q.ReceiveTimeout(buf, time.Millisecond)
					}
					if errors.Is(err, ErrClosed) {
						return
					}
					if err != nil && !errors.Is(err, ErrWouldBlock) && !errors.Is(err, ErrTimeout) {
						errs <- err
						return
					}
					if i%64 == 0 {
						runtime.Gosched()
					}
				}
			}()
		}
		for i := 0; i < round%5; i++ {
			runtime.Gosched()
		}
		if err := q.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("a call racing with Close failed: %v", err)
		}
		if err := q.Close(); !errors.Is(err, ErrClosed) {
			t.Fatalf("second Close: %v", err)
		}
	}
}
