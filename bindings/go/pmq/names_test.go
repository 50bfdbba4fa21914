package pmq

import (
	"errors"
	"testing"
)

func otherBackend(b Backend) Backend {
	if b == BackendKernel {
		return BackendShm
	}
	return BackendKernel
}

// createIn creates a small queue `name` in backend b, unlinked (in b) when
// the test ends.
func createIn(t *testing.T, name string, b Backend) *Queue {
	t.Helper()
	q, err := Create(name, Exclusive(), WithBackend(b), WithCapacity(4), WithMessageSize(64))
	if err != nil {
		t.Fatalf("Create(%s, %v): %v", name, b, err)
	}
	t.Cleanup(func() {
		_ = q.Close()
		if err := UnlinkBackend(name, b); err != nil && !isNotExist(err) {
			t.Errorf("unlink %s: %v", name, err)
		}
	})
	return q
}

// A Go string may hold a NUL; C would cut the name there and act on another
// queue ("/victim\x00junk" is "/victim"). Every call taking a name refuses
// it with ErrInvalid and leaves the queue before the NUL alone.
func TestNameWithNULIsRefused(t *testing.T) {
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			victim := testName(t)
			q := createIn(t, victim, bk.b)
			if err := q.Send([]byte("keep"), 0); err != nil {
				t.Fatal(err)
			}
			bad := victim + "\x00junk"
			calls := map[string]func() error{
				"Create": func() error {
					q2, err := Create(bad, WithBackend(bk.b), WithCapacity(4), WithMessageSize(64))
					if err == nil {
						_ = q2.Close()
					}
					return err
				},
				"Open": func() error {
					q2, err := Open(bad, WithBackend(bk.b))
					if err == nil {
						_ = q2.Close()
					}
					return err
				},
				"UnlinkBackend": func() error { return UnlinkBackend(bad, bk.b) },
			}
			if bk.b == BackendKernel {
				calls["UnlinkName"] = func() error { return UnlinkName(bad) }
			}
			for what, call := range calls {
				err := call()
				var pe *Error
				if !errors.Is(err, ErrInvalid) || !errors.As(err, &pe) || pe.Status != StatusInvalidArgument {
					t.Errorf("%s(%q) = %v, want ErrInvalid", what, bad, err)
				}
			}
			// The victim is still there with its message.
			if n, err := q.CurrentMessages(); err != nil || n != 1 {
				t.Fatalf("victim after the calls: %d messages, %v", n, err)
			}
			again, err := Open(victim, WithBackend(bk.b))
			if err != nil {
				t.Fatalf("victim was removed: %v", err)
			}
			_ = again.Close()
		})
	}
}

// Queue.Unlink acts on the handle's own backend, open or closed: unlinking
// a closed shm queue must not remove the kernel queue of the same name (nor
// the other way round), whose messages belong to someone else.
func TestUnlinkActsOnOwnBackendAfterClose(t *testing.T) {
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			name := testName(t)
			other := otherBackend(bk.b)
			unrelated := createIn(t, name, other)
			if err := unrelated.Send([]byte("unrelated"), 0); err != nil {
				t.Fatal(err)
			}
			for _, closeFirst := range []bool{true, false} {
				q := createIn(t, name, bk.b)
				if closeFirst {
					if err := q.Close(); err != nil {
						t.Fatal(err)
					}
				}
				if err := q.Unlink(); err != nil {
					t.Fatalf("Unlink (closed %v): %v", closeFirst, err)
				}
				if q2, err := Open(name, WithBackend(bk.b)); !isNotExist(err) {
					if err == nil {
						_ = q2.Close()
					}
					t.Fatalf("the %s queue is still there after Unlink (closed %v): %v", bk.name, closeFirst, err)
				}
				// The same-named queue of the other backend is untouched.
				again, err := Open(name, WithBackend(other))
				if err != nil {
					t.Fatalf("Unlink (closed %v) removed the other backend's queue: %v", closeFirst, err)
				}
				n, err := again.CurrentMessages()
				_ = again.Close()
				if err != nil || n != 1 {
					t.Fatalf("other backend's queue: %d messages, %v", n, err)
				}
				// A second Unlink finds nothing to remove.
				if err := q.Unlink(); !isNotExist(err) {
					t.Fatalf("second Unlink (closed %v): %v", closeFirst, err)
				}
				_ = q.Close()
			}
		})
	}
}
