package pmq_test

// Examples that `go test` runs and checks against their Output comments
// (and that pkg.go.dev shows next to the API). Each creates its own queue
// with a fresh random name and removes it.

import (
	"errors"
	"fmt"
	"time"

	"github.com/pmq-project/pmq/bindings/go/pmq"
)

// Send three messages and receive them: the highest priority first, FIFO
// within one priority.
func Example() {
	q, err := pmq.CreateRandom(pmq.WithCapacity(4), pmq.WithMessageSize(64))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()
	defer q.Unlink()

	q.Send([]byte("low"), 1)
	q.Send([]byte("high"), 9)
	q.Send([]byte("low again"), 1)

	buf := make([]byte, q.MaxMessageSize())
	for i := 0; i < 3; i++ {
		n, prio, err := q.Receive(buf)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%d %s\n", prio, buf[:n])
	}
	// Output:
	// 9 high
	// 1 low
	// 1 low again
}

// A receive that waits at most 10 ms on an empty queue returns ErrTimeout.
func ExampleQueue_ReceiveTimeout() {
	q, err := pmq.CreateRandom(pmq.WithCapacity(2), pmq.WithMessageSize(64))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()
	defer q.Unlink()

	buf := make([]byte, q.MaxMessageSize())
	_, _, err = q.ReceiveTimeout(buf, 10*time.Millisecond)
	fmt.Println(errors.Is(err, pmq.ErrTimeout), pmq.IsBusy(err))
	// Output:
	// true true
}

// pmq's shared-memory queue: no kernel limits (1000 messages here, where
// the kernel allows msg_max), and a batch takes the lock once. Size the
// messages along with the capacity: the file is allocated up front.
func ExampleWithBackend() {
	q, err := pmq.CreateRandom(pmq.WithBackend(pmq.BackendShm),
		pmq.WithCapacity(1000), pmq.WithMessageSize(64))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()
	defer q.Unlink()

	batch := []pmq.Message{{Data: []byte("a"), Priority: 0}, {Data: []byte("b"), Priority: 5}}
	sent, err := q.SendBatch(batch)
	fmt.Println("sent", sent, err)

	buf := make([]byte, 2*q.MaxMessageSize())
	out := make([]pmq.Received, 2)
	got, err := q.ReceiveBatch(buf, out)
	fmt.Println("received", got, err)
	for _, r := range out[:got] {
		fmt.Printf("%d %s\n", r.Priority, buf[r.Offset:r.Offset+r.Len])
	}
	fmt.Println(q.Backend() == pmq.BackendShm, q.MaxMessages())
	// Output:
	// sent 2 <nil>
	// received 2 <nil>
	// 5 b
	// 0 a
	// true 1000
}
