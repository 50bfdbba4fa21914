package pmq

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// 500 goroutines wait in ReceiveContext at once on 5 small queues (10 x 64
// bytes each, well within RLIMIT_MSGQUEUE); the process must not use an OS
// thread per waiter. Then every one of them gets exactly one message.
func TestManyWaitersFewThreads(t *testing.T) {
	const queues, perQueue = 5, 100
	qs := make([]*Queue, queues)
	for i := range qs {
		qs[i] = newQueue(t, WithCapacity(10), WithMessageSize(64))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := osThreads(t)

	got := make(chan string, queues*perQueue)
	var wg sync.WaitGroup
	for _, q := range qs {
		for j := 0; j < perQueue; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 64)
				n, _, err := q.ReceiveContext(ctx, buf)
				if err != nil {
					t.Errorf("ReceiveContext: %v", err)
					return
				}
				got <- q.Name() + " " + string(buf[:n])
			}()
		}
	}
	waitFor(t, "500 goroutines waiting", func() bool {
		var sum int64
		for _, q := range qs {
			sum += q.waiting.Load()
		}
		return sum == queues*perQueue
	})
	waiting := osThreads(t)
	t.Logf("OS threads: %d before, %d with %d goroutines waiting in ReceiveContext (GOMAXPROCS %d)",
		before, waiting, queues*perQueue, runtime.GOMAXPROCS(0))
	if waiting >= 100 {
		t.Fatalf("%d OS threads with %d waiting goroutines; want well under 100", waiting, queues*perQueue)
	}

	// Deliver, sampling the thread count meanwhile.
	var peak atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if n := int64(osThreads(t)); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	var senders sync.WaitGroup
	for i, q := range qs {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for j := 0; j < perQueue; j++ {
				if err := q.SendContext(ctx, []byte(fmt.Sprintf("m%d-%d", i, j)), uint(j%3)); err != nil {
					t.Errorf("SendContext: %v", err)
					return
				}
			}
		}()
	}
	senders.Wait()
	wg.Wait()
	close(stopSampling)
	<-sampled
	close(got)
	seen := map[string]bool{}
	for s := range got {
		if seen[s] {
			t.Errorf("message delivered twice: %s", s)
		}
		seen[s] = true
	}
	for i, q := range qs {
		for j := 0; j < perQueue; j++ {
			if k := fmt.Sprintf("%s m%d-%d", q.Name(), i, j); !seen[k] {
				t.Errorf("message not delivered: %s", k)
			}
		}
	}
	t.Logf("OS threads: peak %d while delivering %d messages", peak.Load(), queues*perQueue)
	if peak.Load() >= 100 {
		t.Fatalf("peak of %d OS threads while delivering", peak.Load())
	}
}

// The Go runtime preempts goroutines with SIGURG. Receives and sends run
// while spinning goroutines occupy every P, so the test can only finish if
// the runtime preempts them again and again; no call may report an
// interruption (or any error but the expected timeouts).
func TestRuntimeSignalsNeverInterrupt(t *testing.T) {
	urg := make(chan os.Signal, 4096)
	signal.Notify(urg, syscall.SIGURG)
	defer signal.Stop(urg)

	var stop atomic.Bool
	var started atomic.Int64
	var spinners sync.WaitGroup
	procs := runtime.GOMAXPROCS(0)
	for i := 0; i < procs; i++ {
		spinners.Add(1)
		go func() {
			defer spinners.Done()
			started.Add(1)
			x := 0
			for !stop.Load() {
				x++ // no call, no preemption point: only SIGURG stops this loop
			}
			_ = x
		}()
	}
	defer func() { stop.Store(true); spinners.Wait() }()
	// Once every spinner runs, every P is taken: from here on this
	// goroutine (and the sender) only run when the runtime preempts one.
	waitFor(t, "the spinners to run", func() bool { return started.Load() == int64(procs) })

	q := newQueue(t, WithCapacity(10), WithMessageSize(64))
	const n = 150
	sendErr := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if err := q.SendContext(context.Background(), []byte(fmt.Sprint(i)), 0); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- nil
	}()
	buf := make([]byte, 64)
	timeouts := 0
	for i := 0; i < n; {
		var err error
		var got int
		if i%2 == 0 {
			got, _, err = q.ReceiveContext(context.Background(), buf)
		} else {
			got, _, err = q.ReceiveTimeout(buf, 2*time.Millisecond)
			if errors.Is(err, ErrTimeout) {
				timeouts++
				continue
			}
		}
		if err != nil {
			t.Fatalf("receive %d: %v (interrupted: %v)", i, err, errors.Is(err, ErrInterrupted))
		}
		if string(buf[:got]) != fmt.Sprint(i) {
			t.Fatalf("receive %d: got %q", i, buf[:got])
		}
		i++
	}
	if err := <-sendErr; err != nil {
		t.Fatalf("send: %v (interrupted: %v)", err, errors.Is(err, ErrInterrupted))
	}
	stop.Store(true)
	spinners.Wait()
	t.Logf("%d messages, %d receive timeouts, %d SIGURG seen by os/signal so far", n, timeouts, len(urg))
	// This goroutine only ran again after waitFor because the runtime
	// preempted a spinner (SIGURG). os/signal relays signals through a
	// goroutine of its own, which may not have run yet when the loop above
	// finishes without ever parking (every send and receive completing at
	// once), so wait for the relay: a liveness bound, not a timing check.
	select {
	case <-urg:
	case <-time.After(60 * time.Second):
		t.Fatal("no SIGURG arrived: the test did not exercise preemption")
	}
}

// The detail of a failure belongs to the call that failed, even with many
// goroutines failing differently at once and moving between OS threads.
func TestErrorDetailBelongsToTheCall(t *testing.T) {
	const goroutines, calls = 16, 200
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				var name string
				var want error
				if (g+i)%2 == 0 {
					name = fmt.Sprintf("bad-name-%d-%d", g, i) // no leading slash
					want = ErrInvalid
				} else {
					name = fmt.Sprintf("/%smissing-%d-%d", namePrefix, g, i)
					want = ErrNotExist
				}
				_, err := Open(name)
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, want) {
					t.Errorf("Open(%q) = %v, want %v", name, err, want)
					return
				}
				if !strings.Contains(e.Detail, name) {
					t.Errorf("Open(%q): detail from another call: %q", name, e.Detail)
					return
				}
				if i%10 == 0 {
					runtime.Gosched()
				}
				if _, err := Limits(); err != nil { // a succeeding call in between
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// The same for the fast path's failures (a send or receive's detail, errno
// and needed size are read after the cgo call, on the same OS thread):
// goroutines receive with a buffer too small for their own queue, whose
// message size differs per goroutine, and each must get its own queue's
// needed size and detail, with other failures and successes in between.
func TestFastPathFailureBelongsToTheCall(t *testing.T) {
	const goroutines, calls = 8, 3000
	queues := make([]*Queue, goroutines)
	for g := range queues {
		queues[g] = newQueue(t, WithCapacity(1), WithMessageSize(16+g))
	}
	var wg sync.WaitGroup
	for g := range queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := queues[g]
			small := make([]byte, 1)
			big := make([]byte, 64)
			for i := 0; i < calls; i++ {
				_, _, err := q.ReceiveTimeout(small, 0)
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, ErrBufferTooSmall) {
					t.Errorf("queue %d: ReceiveTimeout(1 byte) = %v, want ErrBufferTooSmall", g, err)
					return
				}
				if e.Needed != 16+g || !strings.Contains(e.Detail, strconv.Itoa(16+g)) {
					t.Errorf("queue %d (size %d): Needed %d, detail %q: from another call", g, 16+g, e.Needed, e.Detail)
					return
				}
				// Another failure (a would-block, tried once) and a success in between.
				if _, _, err := q.ReceiveTimeout(big, 0); !errors.Is(err, ErrWouldBlock) {
					t.Errorf("queue %d: empty ReceiveTimeout = %v, want ErrWouldBlock", g, err)
					return
				}
				if err := q.Send([]byte("x"), 0); err != nil {
					t.Error(err)
					return
				}
				if _, _, err := q.Receive(big); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	wg.Wait()
}
