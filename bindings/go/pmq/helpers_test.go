package pmq

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Queue names used by this test process start with this prefix; TestMain
// fails the run if any is left in /dev/mqueue.
var namePrefix = fmt.Sprintf("%s-go-%d-", testPrefix(), os.Getpid())

// testPrefix is the per-run prefix of test queue names: PMQ_TEST_PREFIX
// (make test exports pmqt-<random> and, at the end, looks for leftovers of
// exactly those names), else "pmq".
func testPrefix() string {
	p := os.Getenv("PMQ_TEST_PREFIX")
	if p == "" {
		return "pmq"
	}
	ok := len(p) <= 32
	for _, c := range p {
		ok = ok && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_')
	}
	if !ok {
		fmt.Fprintf(os.Stderr, "PMQ_TEST_PREFIX=%q is not a queue name prefix: use at most 32 letters, digits, - and _ (e.g. pmqt-1a2b3c4d), or unset it\n", p)
		os.Exit(2)
	}
	return p
}

var nameSeq atomic.Int64

// testName returns a fresh queue name for t.
func testName(t *testing.T) string {
	t.Helper()
	n := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	if len(n) > 100 {
		n = n[:100]
	}
	return fmt.Sprintf("/%s%s-%d", namePrefix, n, nameSeq.Add(1))
}

// newQueue creates a new small queue (4 x 64 bytes unless opts say otherwise)
// that is closed and unlinked when the test ends.
func newQueue(t *testing.T, opts ...Option) *Queue {
	t.Helper()
	name := testName(t)
	all := append([]Option{Exclusive(), WithCapacity(4), WithMessageSize(64)}, opts...)
	q, err := Create(name, all...)
	if err != nil {
		t.Fatalf("Create(%s): %v", name, err)
	}
	t.Cleanup(func() { cleanupQueue(t, q) })
	return q
}

func cleanupQueue(t *testing.T, q *Queue) {
	_ = q.Close()
	if err := UnlinkName(q.Name()); err != nil && !isNotExist(err) {
		t.Errorf("unlink %s: %v", q.Name(), err)
	}
}

func isNotExist(err error) bool {
	e, ok := err.(*Error)
	return ok && e.Status == StatusNotFound
}

// openAgain opens another handle of q's queue, closed when the test ends.
func openAgain(t *testing.T, q *Queue, opts ...Option) *Queue {
	t.Helper()
	q2, err := Open(q.Name(), opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", q.Name(), err)
	}
	t.Cleanup(func() { _ = q2.Close() })
	return q2
}

// waitFor polls cond until it holds; a liveness bound, not a timing check.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// osThreads reads this process's thread count from /proc/self/status.
func osThreads(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads: line in /proc/self/status")
	return 0
}

// leftoverQueues lists queues in /dev/mqueue whose name has our prefix.
func leftoverQueues() []string {
	entries, err := os.ReadDir("/dev/mqueue")
	if err != nil {
		return nil
	}
	var left []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), namePrefix) {
			left = append(left, "/"+e.Name())
		}
	}
	return left
}
