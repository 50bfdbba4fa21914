// Command bench measures the Go binding's send+receive pair against the raw
// kernel calls made from C in the same process (target: a pair costs at
// most 1.25x the raw C pair). It is run by bench/driver.py through
// bindings/go/pmq/bench/run.sh and prints one sample per line:
//
//	S <tab> go_pair <tab> size <tab> impl <tab> CPU ns per pair
//
// with impl "pmq" = Queue.Send + Queue.Receive of the Go binding; "base" =
// raw mq_send + mq_receive in a C loop (one cgo call for all n pairs), what
// the same work costs in C, the target's baseline; "raw_cgo" = raw mq_send +
// mq_receive with one cgo call each, the part of the binding's cost that
// any cgo binding pays; "pmq_cgo" = the C calls the binding makes
// (pmq_queue_send_timeout / receive_timeout with timeout 0), one cgo call
// each, without the binding's Go code (these two are context rows),
// plus "I <tab> key <tab> text" lines (allocations per pair). Then the batch
// rows, CPU ns per message through a depth-10 queue:
//
//	S <tab> go_batch (kernel) / go_batch_shm (shm) <tab> size <tab> impl <tab> ns
//
// with impl "pmq" = one SendBatch of 10 + one ReceiveBatch of 10, "base" =
// the binding's 10 x Send + 10 x Receive on the same queue. Rounds are
// interleaved: every repetition runs the four loops back to back, in an
// order rotated per repetition. Times are the process's CPU time
// (CLOCK_PROCESS_CPUTIME_ID), as in bench/bench_c.c.
//
//	bench [-r REPS] [-q] [-only pair|batch]   (-q: tiny smoke run; PMQ_BENCH_QUICK=1 too)
//	bench -cpuprofile FILE   profile the binding's pairs (go tool pprof FILE)
//
// Every queue is unlinked right after it is opened, so nothing is left
// behind even if the program is killed. Exit status 2: could not run.
package main

/*
#cgo LDFLAGS: -lrt
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pmq.h"

static unsigned bench_counter;

// A raw queue of depth x size, unlinked at once; retries while the per-user
// allowance (RLIMIT_MSGQUEUE, shared with other users) is used up.
// Returns the descriptor or -errno.
static int bench_raw_open(long depth, long size) {
	char name[64];
	snprintf(name, sizeof name, "/pmq_bench_go_%ld_%u", (long)getpid(), bench_counter++);
	struct mq_attr a;
	memset(&a, 0, sizeof a);
	a.mq_maxmsg = depth;
	a.mq_msgsize = size;
	for (int attempt = 0;; attempt++) {
		mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &a);
		if (q != (mqd_t)-1) {
			mq_unlink(name);
			return (int)q;
		}
		if (errno != EMFILE || attempt >= 50) return -errno;
		usleep(100000);
	}
}

static void bench_raw_close(int q) { mq_close((mqd_t)q); }

// n raw pairs in C; returns the number of calls that failed.
static long bench_raw_pairs(int q, const char *msg, size_t len, char *buf, size_t cap, long n) {
	long bad = 0;
	for (long i = 0; i < n; i++) {
		unsigned prio;
		bad += mq_send((mqd_t)q, msg, len, 0) != 0;
		bad += mq_receive((mqd_t)q, buf, cap, &prio) < 0;
	}
	return bad;
}

static int bench_raw_send(int q, const char *msg, size_t len) { return mq_send((mqd_t)q, msg, len, 0); }

static long bench_raw_receive(int q, char *buf, size_t cap) {
	unsigned prio;
	return (long)mq_receive((mqd_t)q, buf, cap, &prio);
}

// A pmq queue of the same shape through the C ABI, unlinked at once.
static pmq_queue *bench_pmq_open(long depth, long size, int *status) {
	pmq_options o;
	pmq_options_init(&o);
	o.flags = PMQ_O_CREX;
	o.max_messages = depth;
	o.max_message_size = size;
	for (int attempt = 0;; attempt++) {
		pmq_queue *q = NULL;
		*status = pmq_queue_open(NULL, &o, &q);
		if (*status == PMQ_STATUS_OK) {
			pmq_queue_unlink(q);
			return q;
		}
		if (*status != PMQ_STATUS_SYSTEM_LIMIT || attempt >= 50) return NULL;
		usleep(100000);
	}
}

// The C calls the Go binding makes (try once, timeout 0), without the shim.
static int bench_pmq_send(const pmq_queue *q, const char *msg, size_t len) {
	return pmq_queue_send_timeout(q, (const uint8_t *)msg, len, 0, 0.0);
}

static int bench_pmq_receive(const pmq_queue *q, char *buf, size_t cap, size_t *len) {
	uint32_t prio;
	return pmq_queue_receive_timeout(q, (uint8_t *)buf, cap, len, &prio, 0.0);
}

static int64_t bench_cpu_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
*/
import "C"

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"
	"unsafe"

	"github.com/pmq-project/pmq/bindings/go/pmq"
)

var sizes = []int{16, 1024, 8192}

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "go bench: cannot run: "+format+"\n", args...)
	os.Exit(2)
}

// queues holds a Go binding queue, a raw queue and a pmq C ABI queue of the
// same shape (depth 1).
type queues struct {
	size int
	q    *pmq.Queue
	raw  C.int
	cq   *C.pmq_queue
	msg  []byte
	buf  []byte
}

// createUnlinked makes a queue with a fresh name (retrying while the
// kernel's RLIMIT_MSGQUEUE is used up by other processes) and unlinks it at
// once, so nothing is left behind even if the bench is killed.
func createUnlinked(opts ...pmq.Option) *pmq.Queue {
	var q *pmq.Queue
	var err error
	for attempt := 0; ; attempt++ {
		q, err = pmq.CreateRandom(opts...)
		if err == nil {
			break
		}
		if !isLimit(err) || attempt >= 50 {
			die("pmq.CreateRandom: %v", err)
		}
		sleep100ms()
	}
	if err := q.Unlink(); err != nil {
		q.Close()
		die("unlink: %v", err)
	}
	return q
}

func openQueues(size int) *queues {
	q := createUnlinked(pmq.WithCapacity(1), pmq.WithMessageSize(size))
	raw := C.bench_raw_open(1, C.long(size))
	if raw < 0 {
		q.Close()
		die("mq_open: %v", syscall.Errno(-raw))
	}
	var st C.int
	cq := C.bench_pmq_open(1, C.long(size), &st)
	if cq == nil {
		q.Close()
		C.bench_raw_close(raw)
		die("pmq_queue_open: %v", pmq.Status(st))
	}
	qs := &queues{size: size, q: q, raw: raw, cq: cq, msg: make([]byte, size), buf: make([]byte, size)}
	for i := range qs.msg {
		qs.msg[i] = byte('a' + i%26)
	}
	return qs
}

func (qs *queues) close() {
	qs.q.Close()
	C.bench_raw_close(qs.raw)
	C.pmq_queue_free(qs.cq)
}

func isLimit(err error) bool {
	e, ok := err.(*pmq.Error)
	return ok && e.Status == pmq.StatusSystemLimit
}

func sleep100ms() {
	ts := syscall.Timespec{Nsec: 100_000_000}
	_ = syscall.Nanosleep(&ts, nil)
}

// The three loops; each returns the number of calls with an unexpected outcome.

func loopPmq(qs *queues, n int) int {
	bad := 0
	for i := 0; i < n; i++ {
		if err := qs.q.Send(qs.msg, 0); err != nil {
			bad++
		}
		if m, _, err := qs.q.Receive(qs.buf); err != nil || m != len(qs.msg) {
			bad++
		}
	}
	return bad
}

func loopRawC(qs *queues, n int) int {
	return int(C.bench_raw_pairs(qs.raw, (*C.char)(unsafe.Pointer(&qs.msg[0])), C.size_t(len(qs.msg)),
		(*C.char)(unsafe.Pointer(&qs.buf[0])), C.size_t(len(qs.buf)), C.long(n)))
}

func loopRawCgo(qs *queues, n int) int {
	bad := 0
	msg := (*C.char)(unsafe.Pointer(&qs.msg[0]))
	buf := (*C.char)(unsafe.Pointer(&qs.buf[0]))
	for i := 0; i < n; i++ {
		if C.bench_raw_send(qs.raw, msg, C.size_t(len(qs.msg))) != 0 {
			bad++
		}
		if C.bench_raw_receive(qs.raw, buf, C.size_t(len(qs.buf))) != C.long(len(qs.msg)) {
			bad++
		}
	}
	return bad
}

func loopPmqCgo(qs *queues, n int) int {
	bad := 0
	msg := (*C.char)(unsafe.Pointer(&qs.msg[0]))
	buf := (*C.char)(unsafe.Pointer(&qs.buf[0]))
	var m C.size_t
	for i := 0; i < n; i++ {
		if C.bench_pmq_send(qs.cq, msg, C.size_t(len(qs.msg))) != 0 {
			bad++
		}
		if C.bench_pmq_receive(qs.cq, buf, C.size_t(len(qs.buf)), &m) != 0 || int(m) != len(qs.msg) {
			bad++
		}
	}
	return bad
}

type impl struct {
	name string
	loop func(*queues, int) int
}

var impls = []impl{{"pmq", loopPmq}, {"base", loopRawC}, {"raw_cgo", loopRawCgo}, {"pmq_cgo", loopPmqCgo}}

// round times n pairs of one implementation: CPU ns per pair.
func round(im impl, qs *queues, n int) float64 {
	t0 := C.bench_cpu_ns()
	bad := im.loop(qs, n)
	t1 := C.bench_cpu_ns()
	if bad != 0 {
		die("%s, %d B: %d of %d calls had an unexpected outcome", im.name, qs.size, bad, 2*n)
	}
	return float64(t1-t0) / float64(n)
}

// allocsPerPair counts heap allocations of the binding's Send+Receive.
func allocsPerPair(qs *queues, n int) float64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	loopPmq(qs, n)
	runtime.ReadMemStats(&b)
	return float64(b.Mallocs-a.Mallocs) / float64(n)
}

// profilePairs writes a CPU profile of the binding's Send+Receive (16 B):
// where the time goes beyond the C calls.
func profilePairs(path string) {
	f, err := os.Create(path)
	if err != nil {
		die("%v", err)
	}
	defer f.Close()
	qs := openQueues(16)
	defer qs.close()
	if err := pprof.StartCPUProfile(f); err != nil {
		die("%v", err)
	}
	for t0 := time.Now(); time.Since(t0) < 3*time.Second; {
		loopPmq(qs, 10000)
	}
	pprof.StopCPUProfile()
}

// ---- batches ----

const batchLen = 10

type batchQueue struct {
	size int
	q    *pmq.Queue
	msgs []pmq.Message
	buf  []byte
	out  []pmq.Received
}

func openBatch(b pmq.Backend, size int) *batchQueue {
	q := createUnlinked(pmq.WithBackend(b), pmq.WithCapacity(batchLen), pmq.WithMessageSize(size))
	bq := &batchQueue{size: size, q: q, buf: make([]byte, batchLen*size), out: make([]pmq.Received, batchLen)}
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte('a' + i%26)
	}
	for i := 0; i < batchLen; i++ {
		bq.msgs = append(bq.msgs, pmq.Message{Data: msg})
	}
	return bq
}

// loopBatch: n rounds of one SendBatch and one ReceiveBatch of batchLen.
func loopBatch(bq *batchQueue, n int) int {
	bad := 0
	for i := 0; i < n; i++ {
		if k, err := bq.q.SendBatch(bq.msgs); err != nil || k != batchLen {
			bad++
		}
		if k, err := bq.q.ReceiveBatch(bq.buf, bq.out); err != nil || k != batchLen || bq.out[k-1].Len != bq.size {
			bad++
		}
	}
	return bad
}

// loopSingle: n rounds of batchLen Sends then batchLen Receives.
func loopSingle(bq *batchQueue, n int) int {
	bad := 0
	for i := 0; i < n; i++ {
		for _, m := range bq.msgs {
			if err := bq.q.Send(m.Data, 0); err != nil {
				bad++
			}
		}
		for range bq.msgs {
			if k, _, err := bq.q.Receive(bq.buf); err != nil || k != bq.size {
				bad++
			}
		}
	}
	return bad
}

// batchRows prints the go_batch / go_batch_shm samples of one size.
func batchRows(size, reps, n int) {
	loops := []struct {
		name string
		loop func(*batchQueue, int) int
	}{{"pmq", loopBatch}, {"base", loopSingle}}
	for _, be := range []struct {
		bench string
		b     pmq.Backend
	}{{"go_batch", pmq.BackendKernel}, {"go_batch_shm", pmq.BackendShm}} {
		bq := openBatch(be.b, size)
		for _, l := range loops { // warm up
			l.loop(bq, n/10+1)
		}
		for r := 0; r < reps; r++ {
			for k := range loops {
				l := loops[(k+r)%len(loops)]
				t0 := C.bench_cpu_ns()
				bad := l.loop(bq, n)
				t1 := C.bench_cpu_ns()
				if bad != 0 {
					die("%s %s, %d B: %d calls had an unexpected outcome", be.bench, l.name, size, bad)
				}
				fmt.Printf("S\t%s\t%d\t%s\t%.6g\n", be.bench, size, l.name, float64(t1-t0)/float64(n*batchLen))
			}
		}
		bq.q.Close()
	}
}

func main() {
	reps := flag.Int("r", 7, "repetitions (interleaved rounds per implementation)")
	only := flag.String("only", "", "run only the pair or the batch rows")
	quick := flag.Bool("q", os.Getenv("PMQ_BENCH_QUICK") == "1", "tiny smoke run")
	profile := flag.String("cpuprofile", "", "only profile the binding's 16 B pairs for 3 s into this file (go tool pprof)")
	flag.Parse()
	if *profile != "" {
		profilePairs(*profile)
		return
	}
	if *reps < 1 {
		die("-r must be at least 1")
	}
	n := 20000
	if *quick {
		n = 200
	}
	fmt.Printf("I\tgo_version\t%s %s/%s GOMAXPROCS=%d\n", runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.GOMAXPROCS(0))
	for _, size := range sizes {
		if *only != "pair" {
			batchRows(size, *reps, n/batchLen)
		}
		if *only == "batch" {
			continue
		}
		qs := openQueues(size)
		for _, im := range impls { // warm up
			round(im, qs, n/10+1)
		}
		fmt.Printf("I\tgo_allocs_per_pair_%d\t%.2f\n", size, allocsPerPair(qs, n/10+1))
		for r := 0; r < *reps; r++ {
			for k := range impls {
				im := impls[(k+r)%len(impls)]
				fmt.Printf("S\tgo_pair\t%d\t%s\t%.6g\n", size, im.name, round(im, qs, n))
			}
		}
		qs.close()
	}
}
