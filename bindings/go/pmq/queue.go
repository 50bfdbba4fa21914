package pmq

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Flags for opening a queue (pmq_options.flags).
type Flags int

const (
	// OCreate creates the queue if it does not exist (O_CREAT).
	OCreate Flags = C.PMQ_O_CREAT
	// OExclusive, with OCreate, fails with ErrExist if the queue exists (O_EXCL).
	OExclusive Flags = C.PMQ_O_EXCL
	// OCrex is OCreate|OExclusive: create a new queue (the reference's O_CREX).
	OCrex = OCreate | OExclusive
)

// DefaultMode is the permission bits of a new queue unless WithMode says otherwise.
const DefaultMode os.FileMode = C.PMQ_DEFAULT_MODE

// Option configures Open and Create.
type Option func(*C.pmq_options)

// WithFlags sets the open flags (0, OCreate, OCrex); Create adds OCreate.
func WithFlags(f Flags) Option { return func(o *C.pmq_options) { o.flags = C.int(f) } }

// Exclusive adds OExclusive: Create fails with ErrExist if the queue exists.
func Exclusive() Option { return func(o *C.pmq_options) { o.flags |= C.int(OExclusive) } }

// WithMode sets the permission bits of a created queue (default 0600; the
// process umask applies).
func WithMode(m os.FileMode) Option {
	return func(o *C.pmq_options) { o.mode = C.uint32_t(m.Perm()) }
}

// WithCapacity sets how many messages a created queue holds (default: the
// system's msg_max). Ignored when opening an existing queue.
func WithCapacity(n int) Option {
	return func(o *C.pmq_options) { o.max_messages = C.int64_t(n) }
}

// WithMessageSize sets the largest message of a created queue in bytes
// (default: the system's msgsize_max). Ignored when opening an existing queue.
func WithMessageSize(n int) Option {
	return func(o *C.pmq_options) { o.max_message_size = C.int64_t(n) }
}

// WithAccess says whether this handle may receive (read) and send (write).
// Both default to true; both false is invalid.
func WithAccess(read, write bool) Option {
	return func(o *C.pmq_options) { o.read = C.bool(read); o.write = C.bool(write) }
}

// ReadOnly opens a handle that may only receive.
func ReadOnly() Option { return WithAccess(true, false) }

// WriteOnly opens a handle that may only send.
func WriteOnly() Option { return WithAccess(false, true) }

// WithBlocking sets whether Send and Receive wait (default true). A
// non-blocking queue returns ErrWouldBlock at once instead; see SetBlocking.
func WithBlocking(block bool) Option {
	return func(o *C.pmq_options) { o.block = C.bool(block) }
}

// Backend says where a queue lives.
type Backend uint32

const (
	// BackendKernel is the Linux kernel's POSIX message queues (the default),
	// shared with every program that opens the same name.
	BackendKernel Backend = C.PMQ_BACKEND_KERNEL
	// BackendShm is pmq's own shared-memory queue under /dev/shm: faster,
	// bounded only by memory, robust against a killed process; shared with
	// pmq programs only. Its names are at most ShmNameMax (251) bytes after
	// the slash. A process stopped (SIGSTOP, a debugger) inside a call never
	// makes another call outlast its timeout: a try-once call gives up after
	// about 10 ms (up to 250 ms while the holder runs but was descheduled;
	// a would-block error naming the queue's lock), a timed one
	// at its deadline.
	BackendShm Backend = C.PMQ_BACKEND_SHM
)

// WithBackend chooses the backend the queue lives in (default BackendKernel).
func WithBackend(b Backend) Option {
	return func(o *C.pmq_options) { o.backend = C.uint32_t(b) }
}

// Queue is an open handle to a POSIX message queue. All methods are safe for
// concurrent use by several goroutines.
//
// Waiting (a full queue on send, an empty one on receive) happens in Go's
// runtime poller, not in a blocking system call: a waiting goroutine holds no
// OS thread. Concurrent waiters on one Queue take turns: one of them waits in
// the poller, the others wait for their turn (all of them stop at once when
// their context ends or their timeout passes). A send or receive that can
// complete at once makes one cgo call and touches neither the poller nor the
// heap.
//
// Call Close when done; the garbage collector does not close queues.
type Queue struct {
	name           string
	mode           os.FileMode
	maxMessages    int
	maxMessageSize int
	canRead        bool
	canWrite       bool
	blocking       atomic.Bool

	// h is set by open and never changes; Close frees it. Instead of a
	// lock, state counts the C calls on h in progress (enter/leave, one
	// atomic add each) plus stateClosed once Close began: Close sets the
	// bit, waits until the count drops to zero (drained), and only then
	// closes and frees h, so pmq_queue_free never races with another call.
	h       *C.pmq_queue
	state   atomic.Int64
	drained chan struct{} // capacity 1: "the count reached zero after Close"
	closing chan struct{} // closed by Close: wakes goroutines waiting for their turn

	// fd is the handle's descriptor (pmq_queue_fileno). It is added to rd's
	// or wr's private epoll instance only while a goroutine waits (see
	// wait.go), always between enter and leave, so it is still open then.
	fd      int
	backend Backend
	rd, wr  waitTurn
	waiting atomic.Int64 // goroutines waiting right now (tests read it)
	polling atomic.Int64 // of those, how many wait in the poller (at most 2)

	// scratch: the buffers of the last SendBatch, for the next (batch.go).
	scratch atomic.Pointer[sendScratch]
}

// Open opens the queue `name` ("/name"). Without options it opens an
// existing queue read-write and blocking; WithFlags(OCreate) creates it if
// missing. See also Create and CreateRandom.
func Open(name string, opts ...Option) (*Queue, error) {
	return open(&name, 0, opts)
}

// Create opens the queue `name`, creating it if it does not exist (OCreate
// is added to the flags; add Exclusive() to fail if it exists).
func Create(name string, opts ...Option) (*Queue, error) {
	return open(&name, OCreate, opts)
}

// CreateRandom creates a new queue with a fresh random name (read it with
// Name). Always exclusive.
func CreateRandom(opts ...Option) (*Queue, error) {
	return open(nil, OCrex, opts)
}

func open(name *string, flags Flags, opts []Option) (*Queue, error) {
	display := ""
	if name != nil {
		display = *name
	}
	var o C.pmq_options
	if err := call("open", display, func() C.pmq_status { return C.pmq_options_init(&o) }); err != nil {
		return nil, err
	}
	for _, opt := range opts {
		opt(&o)
	}
	defer freeDeadLetter(&o)
	if o.dead_letter == nulDeadLetter {
		return nil, goError("open", display, StatusInvalidArgument,
			"the dead-letter queue name given to WithDeadLetter contains a NUL byte; names cannot contain NUL")
	}
	o.flags |= C.int(flags)
	// The Go side keeps the `block` switch; the handle itself is always
	// non-blocking, so every C call tries once and the runtime poller waits.
	blocking := bool(o.block)
	o.block = false

	var cname *C.char
	if name != nil {
		var err error
		if cname, err = cName("open", *name); err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(cname))
	}
	var h *C.pmq_queue
	if err := call("open", display, func() C.pmq_status { return C.pmq_queue_open(cname, &o, &h) }); err != nil {
		return nil, err
	}
	q := &Queue{h: h, drained: make(chan struct{}, 1), closing: make(chan struct{})}
	q.name = C.GoString(C.pmq_queue_name(h))
	q.blocking.Store(blocking)
	q.canRead, q.canWrite = bool(o.read), bool(o.write)
	if err := q.setup(); err != nil {
		q.rd.close()
		q.wr.close()
		C.pmq_queue_free(h)
		return nil, err
	}
	return q, nil
}

// setup reads the attributes back and makes the two epoll instances that
// waiting goroutines park on (wait.go).
func (q *Queue) setup() error {
	var a C.pmq_attributes
	var mode, backend C.uint32_t
	var fd C.int
	err := call("open", q.name, func() C.pmq_status {
		st := C.pmq_queue_get_attributes(q.h, &a)
		if st == C.PMQ_STATUS_OK {
			st = C.pmq_queue_mode(q.h, &mode)
		}
		if st == C.PMQ_STATUS_OK {
			st = C.pmq_queue_backend(q.h, &backend)
		}
		if st == C.PMQ_STATUS_OK {
			st = C.pmq_queue_fileno(q.h, &fd)
		}
		return st
	})
	if err != nil {
		return err
	}
	q.maxMessages, q.maxMessageSize = int(a.max_messages), int(a.max_message_size)
	q.mode = os.FileMode(mode)
	q.backend = Backend(backend)
	q.fd = int(fd)
	if err := q.rd.init(q.name, syscall.EPOLLIN); err != nil {
		return err
	}
	return q.wr.init(q.name, syscall.EPOLLOUT)
}

// Name returns the queue's name ("/name"; the generated one for CreateRandom).
func (q *Queue) Name() string { return q.name }

// Mode returns the permission bits given when the queue was opened.
func (q *Queue) Mode() os.FileMode { return q.mode }

// MaxMessages returns the queue's capacity (the real value, read back at open).
func (q *Queue) MaxMessages() int { return q.maxMessages }

// MaxMessageSize returns the largest message in bytes (the real value): the
// smallest receive buffer that works.
func (q *Queue) MaxMessageSize() int { return q.maxMessageSize }

// CanRead and CanWrite report the handle's access.
func (q *Queue) CanRead() bool  { return q.canRead }
func (q *Queue) CanWrite() bool { return q.canWrite }

// Blocking reports whether Send and Receive wait (the reference's `block`).
func (q *Queue) Blocking() bool { return q.blocking.Load() }

// SetBlocking sets whether Send and Receive wait. With false, every send or
// receive that would wait returns ErrWouldBlock at once, whatever its
// timeout or context. It affects this Queue only.
func (q *Queue) SetBlocking(block bool) { q.blocking.Store(block) }

// Attributes are a queue's attributes at one moment.
type Attributes struct {
	MaxMessages     int
	MaxMessageSize  int
	CurrentMessages int
	Blocking        bool // this Queue's blocking switch
}

// Attributes reads all attributes at once (one system call).
func (q *Queue) Attributes() (Attributes, error) {
	if !q.enter() {
		return Attributes{}, q.closedError("attributes")
	}
	var a C.pmq_attributes
	err := call("attributes", q.name, func() C.pmq_status { return C.pmq_queue_get_attributes(q.h, &a) })
	q.leave()
	if err != nil {
		return Attributes{}, err
	}
	return Attributes{
		MaxMessages:     int(a.max_messages),
		MaxMessageSize:  int(a.max_message_size),
		CurrentMessages: int(a.current_messages),
		Blocking:        q.blocking.Load(),
	}, nil
}

// CurrentMessages returns how many messages wait in the queue now.
func (q *Queue) CurrentMessages() (int, error) {
	a, err := q.Attributes()
	return a.CurrentMessages, err
}

// Fd returns the message-queue descriptor (the reference's fileno()/mqd).
// It is in non-blocking mode whatever Blocking says (this package waits in
// the runtime poller); it works with poll/select/epoll.
// Do not close it: besides breaking the Queue, closing any descriptor of the
// queue drops this process's notification registration.
// On BackendShm the descriptor belongs to the process that asked for it:
// after fork, a child calls Fd again for a descriptor of its own.
func (q *Queue) Fd() (int, error) {
	if !q.enter() {
		return -1, q.closedError("fd")
	}
	var fd C.int
	err := call("fd", q.name, func() C.pmq_status { return C.pmq_queue_fileno(q.h, &fd) })
	q.leave()
	if err != nil {
		return -1, err
	}
	return int(fd), nil
}

// Receipt is a receipt a receiver that died left in a shared-memory queue
// (see DeadReceipts): the message it names, who left it, and whether its
// take committed. A receiver writes its receipt before its take commits, so:
//   - Taken: the take committed; the message left the queue with the dead
//     receiver, which may not have acted on it (the case to recover);
//   - Queued: the take did not commit and the message is still in the
//     queue (a receiver will get it; nothing to recover);
//   - neither: the take did not commit and another receiver has taken the
//     message since (nothing to recover).
type Receipt struct {
	Seq      uint64 // the queue's sequence number of the message: unique in the queue's life
	Len      int    // its length in bytes
	Priority uint   // its priority
	Pid      int    // the process id of the receiver that died
	Taken    bool   // the dead receiver's take committed
	Queued   bool   // the message is still in the queue
	Head     []byte // its first bytes (up to 16; fewer if it is shorter)
}

// DeadReceipts returns every receipt a receiver that died left in this
// shared-memory queue, whichever handle it used (not only one this handle
// inherited), so a message a killed receiver took is named, never silently
// gone. A receiver counts as dead once no process holds its handle (killed,
// or exited without Close). Reading changes nothing: every caller sees the
// same receipts until a new handle reuses the dead one's record and
// receives; act on each once by its Seq. For a batch receive the receipt
// names the last message of the batch. See Receipt for Taken and Queued.
//
// On the kernel backend (which keeps no receipts) the error matches
// ErrNotSupported; after Close, ErrClosed.
func (q *Queue) DeadReceipts() ([]Receipt, error) {
	raw := make([]C.pmq_receipt, 4)
	for {
		if !q.enter() {
			return nil, q.closedError("dead receipts")
		}
		var count C.size_t
		err := call("dead receipts", q.name, func() C.pmq_status {
			return C.pmq_queue_dead_receipts(q.h, &raw[0], C.size_t(len(raw)), &count)
		})
		q.leave()
		if isStatus(err, StatusBufferTooSmall) {
			raw = make([]C.pmq_receipt, int(count)+4) // more may die meanwhile
			continue
		}
		if err != nil {
			return nil, err
		}
		out := make([]Receipt, int(count))
		for i := range out {
			r := &raw[i]
			n := int(r.len)
			if n > len(r.head) {
				n = len(r.head)
			}
			head := make([]byte, n)
			for j := range head {
				head[j] = byte(r.head[j])
			}
			out[i] = Receipt{
				Seq:      uint64(r.seq),
				Len:      int(r.len),
				Priority: uint(r.priority),
				Pid:      int(r.pid),
				Taken:    bool(r.taken),
				Queued:   bool(r.queued),
				Head:     head,
			}
		}
		return out, nil
	}
}

// String is the reference's str(): the name and the message count.
func (q *Queue) String() string { return q.describe(C.PMQ_DESCRIBE_SHORT) }

// GoString is the reference's repr(): every attribute.
func (q *Queue) GoString() string { return q.describe(C.PMQ_DESCRIBE_DEBUG) }

func (q *Queue) describe(style C.int) string {
	if !q.enter() {
		return q.name + " (closed)"
	}
	defer q.leave()
	var needed C.size_t
	buf := make([]byte, 256)
	for range 2 {
		err := call("describe", q.name, func() C.pmq_status {
			return C.pmq_queue_describe(q.h, style, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &needed)
		})
		if err == nil {
			return C.GoString((*C.char)(unsafe.Pointer(&buf[0])))
		}
		if !isStatus(err, StatusBufferTooSmall) {
			return q.name + " (" + err.Error() + ")"
		}
		buf = make([]byte, int(needed))
	}
	return q.name
}

// Close closes the handle: goroutines waiting in Send or Receive on it
// return ErrClosed, and later calls return ErrClosed (Name, Mode and Unlink
// keep working). Closing also ends this process's notification
// registration on the queue (Linux drops it when any descriptor of the queue
// closes). Closing twice returns ErrClosed.
func (q *Queue) Close() error {
	// From here on enter fails: no new C call starts on h.
	for {
		old := q.state.Load()
		if old&stateClosed != 0 {
			return q.closedError("close")
		}
		if q.state.CompareAndSwap(old, old|stateClosed) {
			break
		}
	}
	close(q.closing)
	// Wakes the goroutines waiting in the poller (they return ErrClosed).
	q.rd.close()
	q.wr.close()
	// Waits until the C calls in progress returned. A goroutine that
	// brought the count to zero after the bit was set left a token in
	// drained, so this never misses the moment.
	if q.state.Load() != stateClosed {
		<-q.drained
	}
	err := call("close", q.name, func() C.pmq_status { return C.pmq_queue_close(q.h) })
	// After close returns no notification callback runs or will run, and
	// libpmq has dropped this handle's registration (gopmqNotifyDrop).
	C.pmq_queue_free(q.h)
	return err
}

// Unlink removes the queue's name (also after Close). Handles already open
// keep working; the queue is destroyed when the last one closes. It acts on
// the queue's own backend (Backend), open or closed: after Close on a shm
// queue it removes that shm queue, never a kernel queue of the same name.
func (q *Queue) Unlink() error {
	if !q.enter() {
		// Close freed the C handle; its name and backend remain.
		return UnlinkBackend(q.name, q.backend)
	}
	err := call("unlink", q.name, func() C.pmq_status { return C.pmq_queue_unlink(q.h) })
	q.leave()
	return err
}

// UnlinkName removes the kernel queue called name (the reference's
// unlink_message_queue). ErrNotExist if there is none; a name with a NUL
// byte is ErrInvalid (it is never cut at the NUL). For a shared-memory
// queue use UnlinkBackend or Queue.Unlink.
func UnlinkName(name string) error {
	cname, err := cName("unlink", name)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cname))
	return call("unlink", name, func() C.pmq_status { return C.pmq_unlink(cname) })
}

// UnlinkBackend removes the queue called name of backend b. A name with a
// NUL byte is ErrInvalid.
func UnlinkBackend(name string, b Backend) error {
	cname, err := cName("unlink", name)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cname))
	return call("unlink", name, func() C.pmq_status { return C.pmq_unlink_backend(cname, C.uint32_t(b)) })
}

// cName copies name into C memory (free it with C.free). A Go string may
// hold a NUL byte, which C would take for the end of the name: "/a\x00b"
// would name "/a", another queue. Such a name is refused with ErrInvalid.
func cName(op, name string) (*C.char, error) {
	if i := strings.IndexByte(name, 0); i >= 0 {
		return nil, goError(op, name, StatusInvalidArgument, fmt.Sprintf(
			"queue name %q contains a NUL byte at offset %d; names cannot contain NUL", name, i))
	}
	return C.CString(name), nil
}

// Backend returns the backend the queue lives in.
func (q *Queue) Backend() Backend { return q.backend }

// stateClosed is the bit of Queue.state that Close sets; the bits below it
// count the C calls in progress on q.h.
const stateClosed = 1 << 62

// enter marks the start of a C call on q.h; false once Close began (then
// q.h must not be used). Every successful enter is followed by one leave.
func (q *Queue) enter() bool {
	if q.state.Add(1)&stateClosed != 0 {
		q.leave()
		return false
	}
	return true
}

// leave marks the end of a C call on q.h. The call that brings the count to
// zero after Close set its bit tells Close (which may be waiting).
func (q *Queue) leave() {
	if q.state.Add(-1) == stateClosed {
		select {
		case q.drained <- struct{}{}:
		default:
		}
	}
}

func (q *Queue) isClosed() bool { return q.state.Load()&stateClosed != 0 }

func (q *Queue) closedError(op string) *Error {
	return goError(op, q.name, StatusClosed, "the queue was closed with Close; open it again to use it")
}

// ---- sending and receiving ----

func cPriority(prio uint) C.uint32_t {
	if prio > math.MaxUint32 {
		return C.uint32_t(math.MaxUint32) // rejected by libpmq with a detail
	}
	return C.uint32_t(prio)
}

// The fast path: every send and receive first makes ONE cgo call that tries
// once (timeout 0) and returns its outcome by value (gopmq_io). If that
// succeeds, nothing else happens: no lock (two atomic adds, enter/leave), no
// heap allocation (no Go pointer but the message buffer is passed to C, no
// closure, an *Error only on failure) and no poller. Only a would-block
// outcome on a blocking Queue goes to wait (wait.go), the slow path.

// result is the outcome of one send or receive attempt (or a batch of them).
type result struct {
	n       int    // bytes received, or messages sent or taken
	prio    uint   // a received message's priority
	entered bool   // false: the Queue was closed before the call
	busy    bool   // it would block, and the caller waits and tries again
	err     *Error // the failure (read on the call's thread); nil if ok or busy
}

func (r *result) ok() bool { return r.entered && !r.busy && r.err == nil }

// settle turns a shim's outcome into a result. It runs on the OS thread of
// the call, still locked (errors.go), so a failure's detail is the call's.
// retry: a would-block will be retried, so its detail is not read.
func (q *Queue) settle(op string, r C.gopmq_io, retry bool) result {
	res := result{n: int(r.len), prio: uint(r.prio), entered: true}
	switch {
	case r.status == C.PMQ_STATUS_OK:
	case r.status == C.PMQ_STATUS_WOULD_BLOCK && retry:
		res.busy = true
	case r.own != 0:
		res.err = goError(op, q.name, Status(r.status),
			"could not allocate the array of the batch's messages; send fewer at once")
	default:
		res.err = lastFailure(op, q.name, C.int(r.status))
	}
	return res
}

// sendOnce makes one non-blocking send attempt (entered false, nothing else
// set, if the queue is closed). retry: see settle.
func (q *Queue) sendOnce(msg []byte, prio uint, retry bool) result {
	if !q.enter() {
		return result{}
	}
	p := (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(msg)))
	if len(msg) == 0 {
		p = nil
	}
	runtime.LockOSThread()
	res := q.settle("send", C.gopmq_send(q.h, p, C.size_t(len(msg)), cPriority(prio)), retry)
	runtime.UnlockOSThread()
	q.leave()
	return res
}

// receiveOnce makes one non-blocking receive attempt (see sendOnce).
func (q *Queue) receiveOnce(buf []byte, retry bool) result {
	if !q.enter() {
		return result{}
	}
	p := (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(buf)))
	if len(buf) == 0 {
		p = nil
	}
	runtime.LockOSThread()
	res := q.settle("receive", C.gopmq_receive(q.h, p, C.size_t(len(buf))), retry)
	runtime.UnlockOSThread()
	q.leave()
	return res
}

// Send sends msg with priority prio (0..PriorityMax; higher is received
// first), waiting while the queue is full unless the queue is non-blocking
// (then ErrWouldBlock). Empty messages and zero bytes are fine.
func (q *Queue) Send(msg []byte, prio uint) error {
	res := q.sendOnce(msg, prio, q.blocking.Load())
	if res.ok() {
		return nil
	}
	_, _, err := q.wait(nil, 0, &attempt{q: q, write: true, msg: msg, prio: prio, res: res})
	return err
}

// SendTimeout is Send waiting at most d: 0 tries once (ErrWouldBlock if the
// queue is full), a positive d returns ErrTimeout after it, Forever waits
// like Send, a negative d is ErrInvalid.
func (q *Queue) SendTimeout(msg []byte, prio uint, d time.Duration) error {
	if d < 0 {
		return q.negativeTimeout("send", d)
	}
	res := q.sendOnce(msg, prio, d != 0 && q.blocking.Load())
	if res.ok() {
		return nil
	}
	if d == 0 {
		_, _, err := q.outcome("send", &res)
		return err
	}
	_, _, err := q.wait(nil, d, &attempt{q: q, write: true, msg: msg, prio: prio, res: res})
	return err
}

// SendContext is Send that stops waiting when ctx ends, returning ctx.Err().
// Nothing is sent then.
func (q *Queue) SendContext(ctx context.Context, msg []byte, prio uint) error {
	res := q.sendOnce(msg, prio, q.blocking.Load())
	if res.ok() {
		return nil
	}
	_, _, err := q.wait(ctx, 0, &attempt{q: q, write: true, msg: msg, prio: prio, res: res})
	return err
}

// Receive takes the oldest message of the highest priority into buf and
// returns its length and priority, waiting while the queue is empty unless
// the queue is non-blocking (then ErrWouldBlock). buf must hold at least
// MaxMessageSize bytes; otherwise ErrBufferTooSmall (with Error.Needed) is
// returned and no message is taken.
func (q *Queue) Receive(buf []byte) (n int, prio uint, err error) {
	res := q.receiveOnce(buf, q.blocking.Load())
	if res.ok() {
		return res.n, res.prio, nil
	}
	return q.wait(nil, 0, &attempt{q: q, buf: buf, res: res})
}

// ReceiveTimeout is Receive waiting at most d: 0 tries once (ErrWouldBlock
// if the queue is empty), a positive d returns ErrTimeout after it, Forever
// waits like Receive, a negative d is ErrInvalid.
func (q *Queue) ReceiveTimeout(buf []byte, d time.Duration) (n int, prio uint, err error) {
	if d < 0 {
		return 0, 0, q.negativeTimeout("receive", d)
	}
	res := q.receiveOnce(buf, d != 0 && q.blocking.Load())
	if res.ok() {
		return res.n, res.prio, nil
	}
	if d == 0 {
		return q.outcome("receive", &res)
	}
	return q.wait(nil, d, &attempt{q: q, buf: buf, res: res})
}

// ReceiveContext is Receive that stops waiting when ctx ends, returning
// ctx.Err(). No message is taken then.
func (q *Queue) ReceiveContext(ctx context.Context, buf []byte) (n int, prio uint, err error) {
	res := q.receiveOnce(buf, q.blocking.Load())
	if res.ok() {
		return res.n, res.prio, nil
	}
	return q.wait(ctx, 0, &attempt{q: q, buf: buf, res: res})
}

// outcome turns an attempt's result into the call's results.
func (q *Queue) outcome(op string, res *result) (int, uint, error) {
	switch {
	case !res.entered:
		return 0, 0, q.closedError(op)
	case res.err != nil:
		return 0, 0, res.err
	case res.busy: // not reached: a busy result is retried
		return 0, 0, goError(op, q.name, StatusWouldBlock, "the queue stayed full or empty")
	}
	return res.n, res.prio, nil
}

// ReceiveMessage is Receive into a new buffer of MaxMessageSize bytes,
// returning the message trimmed to its length.
func (q *Queue) ReceiveMessage(ctx context.Context) ([]byte, uint, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	buf := make([]byte, q.maxMessageSize)
	n, prio, err := q.ReceiveContext(ctx, buf)
	if err != nil {
		return nil, 0, err
	}
	return buf[:n], prio, nil
}

// Forever, given as the timeout of SendTimeout, ReceiveTimeout,
// SendBatchTimeout or ReceiveBatchTimeout, waits as long as it takes, like
// Send, Receive, SendBatch and ReceiveBatch (the reference's timeout=None).
// It is the one spelling of "no timeout" in this package: the longest
// time.Duration (about 292 years), so any computed timeout is at most
// Forever and a negative one stays ErrInvalid. (libpmq's own forever,
// PMQ_FOREVER, never reaches C from here: every cgo call tries once and
// waiting happens in Go's poller, see wait.go.)
const Forever time.Duration = math.MaxInt64

func (q *Queue) negativeTimeout(op string, d time.Duration) error {
	return goError(op, q.name, StatusInvalidArgument,
		fmt.Sprintf("timeout %v is negative; use 0 to try once, a positive duration, or pmq.Forever", d))
}
